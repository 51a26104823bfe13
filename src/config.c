/* SPDX-License-Identifier: Apache-2.0 */
/* Option table, parsing of flags and environment variables. */

#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"

enum option_kind {
    OPT_STRING,     /* char * (owned) */
    OPT_INT,        /* int64_t */
    OPT_DOUBLE,     /* double */
    OPT_LISTEN,     /* host:port into listen_host and listen_port */
};

struct option_def {
    const char *flag;           /* without the leading dashes */
    enum option_kind kind;
    size_t offset;
    const char *fallback;       /* default, parsed like a user value */
    double min, max;            /* allowed range for numbers */
    const char *help;
};

#define FIELD(f) offsetof(struct config, f)

static const struct option_def options[] = {
    { "listen", OPT_LISTEN, 0, "127.0.0.1:8000", 0, 0,
      "address and port to serve on (HOST:PORT)" },
    { "data-dir", OPT_STRING, FIELD(data_dir), "./data", 0, 0,
      "folder for the database, keys and objects" },
    { "credentials", OPT_STRING, FIELD(credentials_path), NULL, 0, 0,
      "file of 'ACCESS_KEY SECRET ACCOUNT_ID' lines" },
    { "log-level", OPT_STRING, FIELD(log_level), "info", 0, 0,
      "debug, info, warn or error" },
    { "page-token-ttl", OPT_INT, FIELD(page_token_ttl_s), "86400", 1, 1e9,
      "seconds a NextToken stays valid" },
    { "max-domains", OPT_INT, FIELD(max_domains), "10", 1, 1e6,
      "live domains per account" },
    { "deleted-retention", OPT_INT, FIELD(deleted_retention_s), "604800", 0,
      1e10, "seconds a deleted domain's data is kept before erasure" },
    { "client-token-ttl", OPT_INT, FIELD(client_token_ttl_s), "86400", 1,
      1e9, "seconds a ClientToken is remembered for retries" },
    { "rate-limit", OPT_DOUBLE, FIELD(rate_limit_rps), "0", 0, 1e9,
      "requests per second per account, 0 for no limit" },
    { "rate-burst", OPT_INT, FIELD(rate_burst), "0", 0, 1e9,
      "requests an account may send at once (0: twice the rate)" },
    { "max-body-bytes", OPT_INT, FIELD(max_body_bytes), "1048576", 1024,
      1 << 30, "largest request body accepted" },
    { "idle-timeout", OPT_INT, FIELD(idle_timeout_s), "60", 1, 86400,
      "seconds before an idle connection is closed" },
    { "threads", OPT_INT, FIELD(threads), "4", 1, 256,
      "HTTP worker threads" },
    { "workers", OPT_INT, FIELD(workers), "2", 0, 256,
      "job runner threads (0 accepts jobs but never runs them)" },
    { "min-enroll-speech", OPT_DOUBLE, FIELD(min_enroll_speech_s), "30", 0,
      3600, "seconds of net speech an enrollment needs" },
    { "min-auth-speech", OPT_DOUBLE, FIELD(min_auth_speech_s), "10", 0, 3600,
      "seconds of net speech an authentication needs" },
    { "max-active-jobs", OPT_INT, FIELD(max_active_jobs), "1", 1, 1e6,
      "active jobs per domain and job kind" },
    { "max-speakers", OPT_INT, FIELD(max_speakers), "100000", 1, 1e9,
      "speakers per domain" },
    { "max-job-requests", OPT_INT, FIELD(max_job_requests), "10000", 1,
      1e7, "requests in one enrollment job's manifest" },
    { "job-lease", OPT_DOUBLE, FIELD(job_lease_s), "60", 1, 86400,
      "seconds a job stays claimed without a heartbeat" },
    { "voice-model", OPT_STRING, FIELD(voice_model_path), NULL, 0, 0,
      "speaker model file (default: voice/default.model by the binary)" },
};

#define N_OPTIONS (sizeof(options) / sizeof(options[0]))


/* "page-token-ttl" becomes "TIMBRE_PAGE_TOKEN_TTL". */
static void
env_name(const char *flag, char *out, size_t cap)
{
    size_t n = (size_t)snprintf(out, cap, "TIMBRE_");

    for (; *flag && n + 1 < cap; flag++)
        out[n++] = *flag == '-' ? '_' : (char)toupper((unsigned char)*flag);
    out[n] = '\0';
}


static int
parse_listen(const char *text, struct config *cfg)
{
    const char *colon = strrchr(text, ':');
    size_t host_len;
    char *end;
    long port;

    if (colon == NULL || colon == text)
        return ERR_INVAL;
    host_len = (size_t)(colon - text);
    if (host_len >= sizeof(cfg->listen_host))
        return ERR_INVAL;

    errno = 0;
    port = strtol(colon + 1, &end, 10);
    if (errno || *end || end == colon + 1 || port < 0 || port > 65535)
        return ERR_INVAL;

    /* Accept "[::1]:8000" as well as "127.0.0.1:8000". */
    if (text[0] == '[' && colon[-1] == ']') {
        memcpy(cfg->listen_host, text + 1, host_len - 2);
        cfg->listen_host[host_len - 2] = '\0';
    } else {
        memcpy(cfg->listen_host, text, host_len);
        cfg->listen_host[host_len] = '\0';
    }
    cfg->listen_port = (int)port;
    return 0;
}


static int
apply(const struct option_def *opt, const char *text, struct config *cfg)
{
    char *base = (char *)cfg;
    char *end;
    double number;

    switch (opt->kind) {
    case OPT_LISTEN:
        return parse_listen(text, cfg);

    case OPT_STRING: {
        char **slot = (char **)(base + opt->offset);
        char *copy = strdup(text);

        if (copy == NULL)
            return ERR_NOMEM;
        free(*slot);
        *slot = copy;
        return 0;
    }

    case OPT_INT:
    case OPT_DOUBLE:
        errno = 0;
        number = strtod(text, &end);
        if (errno || end == text || *end || number < opt->min
            || number > opt->max)
            return ERR_INVAL;
        if (opt->kind == OPT_DOUBLE) {
            *(double *)(base + opt->offset) = number;
            return 0;
        }
        if (number != (double)(int64_t)number)
            return ERR_INVAL;
        *(int64_t *)(base + opt->offset) = (int64_t)number;
        return 0;
    }
    return ERR_INTERNAL;
}


static const struct option_def *
find_option(const char *flag, size_t len)
{
    for (size_t i = 0; i < N_OPTIONS; i++) {
        if (strlen(options[i].flag) == len
            && strncmp(options[i].flag, flag, len) == 0)
            return &options[i];
    }
    return NULL;
}


static int
apply_defaults_and_env(struct config *cfg, char *msg, size_t msg_len)
{
    char var[64];

    for (size_t i = 0; i < N_OPTIONS; i++) {
        const struct option_def *opt = &options[i];
        const char *value;

        if (opt->fallback && apply(opt, opt->fallback, cfg) != 0) {
            snprintf(msg, msg_len, "bad built-in default for --%s",
                     opt->flag);
            return ERR_INTERNAL;
        }
        env_name(opt->flag, var, sizeof(var));
        value = getenv(var);
        if (value && apply(opt, value, cfg) != 0) {
            snprintf(msg, msg_len, "invalid value '%s' in %s", value, var);
            return ERR_INVAL;
        }
    }
    return 0;
}


int
config_parse(int argc, char **argv, struct config *cfg, char *msg,
             size_t msg_len)
{
    int rc;

    memset(cfg, 0, sizeof(*cfg));
    rc = apply_defaults_and_env(cfg, msg, msg_len);
    if (rc != 0)
        return rc;

    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        const char *eq;
        const char *value;
        const struct option_def *opt;

        if (strncmp(arg, "--", 2) != 0) {
            snprintf(msg, msg_len, "unexpected argument '%s'", arg);
            return ERR_INVAL;
        }
        arg += 2;

        /* Both "--flag value" and "--flag=value" are accepted. */
        eq = strchr(arg, '=');
        opt = find_option(arg, eq ? (size_t)(eq - arg) : strlen(arg));
        if (opt == NULL) {
            snprintf(msg, msg_len, "unknown option '%s'", argv[i]);
            return ERR_INVAL;
        }
        if (eq) {
            value = eq + 1;
        } else if (i + 1 < argc) {
            value = argv[++i];
        } else {
            snprintf(msg, msg_len, "option --%s needs a value", opt->flag);
            return ERR_INVAL;
        }

        rc = apply(opt, value, cfg);
        if (rc == ERR_NOMEM)
            return rc;
        if (rc != 0) {
            snprintf(msg, msg_len, "invalid value '%s' for --%s", value,
                     opt->flag);
            return ERR_INVAL;
        }
    }
    return 0;
}


void
config_clear(struct config *cfg)
{
    free(cfg->data_dir);
    free(cfg->credentials_path);
    free(cfg->log_level);
    free(cfg->voice_model_path);
    memset(cfg, 0, sizeof(*cfg));
}


void
config_usage(FILE *out)
{
    char var[64];

    fprintf(out, "usage: timbre serve [options]\n\noptions:\n");
    for (size_t i = 0; i < N_OPTIONS; i++) {
        env_name(options[i].flag, var, sizeof(var));
        fprintf(out, "  --%-20s %s\n  %-22s env %s, default %s\n",
                options[i].flag, options[i].help, "", var,
                options[i].fallback ? options[i].fallback : "none");
    }
}
