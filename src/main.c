/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Timbre's entry point: parses the command and options, opens the store,
 * loads keys and credentials, starts the HTTP server and waits for SIGINT
 * or SIGTERM to stop it in order.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "api/api.h"
#include "api/pagetoken.h"
#include "api/validate.h"
#include "cli/cli.h"
#include "config.h"
#include "http/credentials.h"
#include "http/ratelimit.h"
#include "http/server.h"
#include "jobs/runner.h"
#include "jobs/sweeper.h"
#include "objects/objects.h"
#include "store/store.h"
#include "timbre/voice.h"
#include "util/err.h"
#include "util/keyring.h"
#include "util/log.h"

#define TIMBRE_VERSION "0.1.0"

/* The largest enrollment manifest read: 10,000 requests fit easily. */
#define MAX_MANIFEST_BYTES (32u << 20)

/* What a serving process holds besides the HTTP server; freed together. */
struct services {
    struct objects *objects;
    struct keyring *keyring;
    struct runner *runner;
};


static void
usage(FILE *out)
{
    fprintf(out, "timbre %s: a Voice ID compatible voice biometrics "
            "server\n\ncommands:\n"
            "  serve [options]   run the server in the foreground\n"
            "  compare --enroll A.wav ... --test T.wav ...\n"
            "                    score test recordings against an "
            "enrollment\n"
            "  embed FILE.wav    summarise one recording's voiceprint\n"
            "  train --corpus MANIFEST.tsv --out MODEL\n"
            "                    build a speaker model from labelled audio\n"
            "  eval --corpus MANIFEST.tsv [--model MODEL]\n"
            "                    measure a model's error rates\n"
            "  version           print the version\n\n", TIMBRE_VERSION);
    config_usage(out);
}


/* Creates 'path' and its missing parents, like mkdir -p. */
static int
make_dirs(const char *path)
{
    char buf[4096];
    size_t len = strlen(path);

    if (len == 0 || len >= sizeof(buf))
        return ERR_INVAL;
    memcpy(buf, path, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        buf[i] = '\0';
        if (mkdir(buf, 0700) != 0 && errno != EEXIST)
            return ERR_IO;
        buf[i] = path[i];
    }
    return 0;
}


static bool
is_loopback(const char *host)
{
    struct in_addr v4;
    struct in6_addr v6;

    if (strcmp(host, "localhost") == 0)
        return true;
    if (inet_pton(AF_INET, host, &v4) == 1)
        return (ntohl(v4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, host, &v6) == 1)
        return IN6_IS_ADDR_LOOPBACK(&v6);
    return false;
}


/* Loads the credentials file, or the test key on a loopback address. */
static int
load_credentials(const struct config *cfg, struct credentials **out)
{
    char msg[512];
    int rc;

    if (cfg->credentials_path) {
        rc = credentials_load(cfg->credentials_path, out, msg, sizeof(msg));
        if (rc != 0)
            log_msg(LOG_ERROR, "main", NULL, "cannot load credentials: %s",
                    msg);
        return rc;
    }
    if (!is_loopback(cfg->listen_host)) {
        log_msg(LOG_ERROR, "main", NULL, "--credentials is required when "
                "listening on %s, which is not a loopback address",
                cfg->listen_host);
        return ERR_INVAL;
    }
    log_msg(LOG_WARN, "main", NULL, "no --credentials given: accepting "
            "access key 'test' with secret 'test' as account 000000000000 "
            "on loopback only");
    return credentials_new_default(out);
}


/* Opens the object store and the key ring, checks the voice model, and
 * starts the job runner. The model is loaded here only to report at once
 * what is wrong with it, then let go: the runner loads it again for the
 * first job, so a server that runs no job does not hold its memory. A
 * missing model is not fatal: the server still serves, and jobs fail
 * until the model is in place. */
static int
start_services(const struct config *cfg, struct store *store,
               struct services *sv)
{
    struct runner_options ro;
    struct voice_engine *voice = NULL;
    char path[4200];
    char msg[512];
    int rc;

    rc = objects_open(cfg->data_dir, &sv->objects, msg, sizeof(msg));
    if (rc == 0) {
        snprintf(path, sizeof(path), "%s/keyring", cfg->data_dir);
        rc = keyring_open(path, &sv->keyring, msg, sizeof(msg));
    }
    if (rc != 0) {
        log_msg(LOG_ERROR, "main", NULL, "%s", msg);
        return rc;
    }
    if (voice_engine_open(cfg->voice_model_path, &voice, msg,
                          sizeof(msg)) == 0)
        log_msg(LOG_INFO, "main", NULL, "voice model %s found; it is "
                "loaded when the first job runs",
                voice_engine_version(voice));
    else
        log_msg(LOG_WARN, "main", NULL, "no voice model: %s; enrollment "
                "jobs will fail until one is given with --voice-model",
                msg);
    voice_engine_free(voice);
    /* The model's tens of megabytes were only borrowed for the check:
     * hand them back to the system so that an idle server stays small. */
    malloc_trim(0);

    if (cfg->workers == 0)
        return 0;
    ro = (struct runner_options){
        .store = store,
        .objects = sv->objects,
        .keyring = sv->keyring,
        .voice_model_path = cfg->voice_model_path,
        .workers = (int)cfg->workers,
        .lease_s = cfg->job_lease_s,
        .min_enroll_speech_s = cfg->min_enroll_speech_s,
        .max_speakers_per_domain = (int)cfg->max_speakers,
        .max_requests_per_job = (int)cfg->max_job_requests,
        .max_manifest_bytes = MAX_MANIFEST_BYTES,
    };
    rc = runner_start(&ro, &sv->runner);
    if (rc != 0)
        log_msg(LOG_ERROR, "main", NULL, "cannot start the job runner: %s",
                err_str(rc));
    return rc;
}


static void
stop_services(struct services *sv)
{
    runner_stop(sv->runner);
    keyring_close(sv->keyring);
    objects_close(sv->objects);
}


static int
wait_for_stop_signal(void)
{
    sigset_t set;
    int sig = 0;

    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigwait(&set, &sig);
    return sig;
}


static int
serve(int argc, char **argv)
{
    struct config cfg;
    struct credentials *creds = NULL;
    struct ratelimit *limiter = NULL;
    struct http_server *server = NULL;
    struct sweeper *sweeper = NULL;
    int64_t sweep_interval_s;
    struct services services = { 0 };
    struct api_env env = { 0 };
    struct http_server_options opts;
    enum log_level level;
    char db_url[4200];
    char msg[512];
    sigset_t stop_signals;
    int status = 1;
    int rc;

    /* Worker threads inherit this mask, so only sigwait sees the signals. */
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
    signal(SIGPIPE, SIG_IGN);

    rc = config_parse(argc, argv, &cfg, msg, sizeof(msg));
    if (rc != 0) {
        fprintf(stderr, "timbre: %s\n\n", msg);
        usage(stderr);
        goto out;
    }
    if (log_level_parse(cfg.log_level, &level) != 0) {
        fprintf(stderr, "timbre: unknown --log-level '%s'\n", cfg.log_level);
        goto out;
    }
    log_set_level(level);

    if (make_dirs(cfg.data_dir) != 0) {
        log_msg(LOG_ERROR, "main", NULL, "cannot create data folder %s: %s",
                cfg.data_dir, strerror(errno));
        goto out;
    }
    snprintf(db_url, sizeof(db_url), "sqlite:%s/timbre.db", cfg.data_dir);
    rc = store_open(db_url, &env.store);
    if (rc != 0) {
        log_msg(LOG_ERROR, "main", NULL, "cannot open store %s: %s", db_url,
                err_str(rc));
        goto out;
    }
    rc = pagetoken_key_load(cfg.data_dir, env.page_token_key);
    if (rc != 0) {
        log_msg(LOG_ERROR, "main", NULL, "cannot load the page token key "
                "in %s: %s", cfg.data_dir, err_str(rc));
        goto out;
    }
    env.page_token_ttl_s = cfg.page_token_ttl_s;
    env.max_domains = cfg.max_domains;
    env.max_active_jobs = cfg.max_active_jobs;
    env.max_speakers = cfg.max_speakers;
    if (start_services(&cfg, env.store, &services) != 0)
        goto out;
    env.runner = services.runner;
    env.keyring = services.keyring;

    if (load_credentials(&cfg, &creds) != 0)
        goto out;
    if (cfg.rate_limit_rps > 0) {
        int burst = cfg.rate_burst > 0 ? (int)cfg.rate_burst
                                       : (int)(2 * cfg.rate_limit_rps);

        rc = ratelimit_new(cfg.rate_limit_rps, burst > 0 ? burst : 1,
                           &limiter);
        if (rc != 0)
            goto out;
    }
    if (validate_init() != 0) {
        log_msg(LOG_ERROR, "main", NULL, "cannot compile the model's "
                "patterns");
        goto out;
    }

    /* Sweep ten times per retention period, at most once an hour. */
    sweep_interval_s = cfg.deleted_retention_s < cfg.client_token_ttl_s
                           ? cfg.deleted_retention_s : cfg.client_token_ttl_s;
    sweep_interval_s /= 10;
    if (sweep_interval_s > 3600)
        sweep_interval_s = 3600;
    rc = sweeper_start(env.store, cfg.deleted_retention_s,
                       cfg.client_token_ttl_s, sweep_interval_s, &sweeper);
    if (rc != 0) {
        log_msg(LOG_ERROR, "main", NULL, "cannot start the retention "
                "sweeper: %s", err_str(rc));
        goto out;
    }

    opts = (struct http_server_options){
        .host = cfg.listen_host,
        .port = cfg.listen_port,
        .threads = (int)cfg.threads,
        .max_body_bytes = cfg.max_body_bytes,
        .idle_timeout_s = cfg.idle_timeout_s,
        .creds = creds,
        .ratelimit = limiter,
        .env = &env,
    };
    rc = http_server_start(&opts, &server, msg, sizeof(msg));
    if (rc != 0) {
        log_msg(LOG_ERROR, "main", NULL, "%s", msg);
        goto out;
    }
    log_msg(LOG_INFO, "main", NULL, "timbre %s serving on %s:%d, data in "
            "%s, schema version %d", TIMBRE_VERSION, cfg.listen_host,
            http_server_port(server), cfg.data_dir,
            store_schema_version(env.store));

    rc = wait_for_stop_signal();
    log_msg(LOG_INFO, "main", NULL, "signal %d received, stopping", rc);
    status = 0;

out:
    http_server_stop(server);
    stop_services(&services);
    sweeper_stop(sweeper);
    ratelimit_free(limiter);
    credentials_free(creds);
    store_close(env.store);
    config_clear(&cfg);
    return status;
}


int
main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "serve") == 0)
        return serve(argc - 2, argv + 2);
    if (strcmp(argv[1], "compare") == 0)
        return cli_compare(argc - 2, argv + 2);
    if (strcmp(argv[1], "embed") == 0)
        return cli_embed(argc - 2, argv + 2);
    if (strcmp(argv[1], "train") == 0)
        return cli_train(argc - 2, argv + 2);
    if (strcmp(argv[1], "eval") == 0)
        return cli_eval(argc - 2, argv + 2);
    if (strcmp(argv[1], "version") == 0) {
        printf("timbre %s\n", TIMBRE_VERSION);
        return 0;
    }
    if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "timbre: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
