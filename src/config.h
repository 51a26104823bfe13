/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Server options: every option is a command-line flag and an environment
 * variable (--page-token-ttl is TIMBRE_PAGE_TOKEN_TTL). A flag beats the
 * variable, and the variable beats the built-in default. The table in
 * config.c is the single list of options; usage text is printed from it.
 */
#ifndef TIMBRE_CONFIG_H
#define TIMBRE_CONFIG_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

struct config {
    char listen_host[256];
    int listen_port;
    char *data_dir;            /* owned */
    char *credentials_path;    /* owned; NULL when none */
    char *log_level;           /* owned */
    char *voice_model_path;    /* owned; NULL for the default model */
    int64_t page_token_ttl_s;
    int64_t max_domains;
    int64_t deleted_retention_s;
    int64_t client_token_ttl_s;
    double rate_limit_rps;     /* 0 turns the limiter off */
    int64_t rate_burst;        /* 0 means 2 * rate, at least 1 */
    int64_t max_body_bytes;
    int64_t idle_timeout_s;
    int64_t threads;
    int64_t workers;
    double min_enroll_speech_s;
    double min_auth_speech_s;
    int64_t max_active_jobs;
    int64_t max_speakers;
    int64_t max_job_requests;
    double job_lease_s;
};

/*
 * Fills 'cfg' from defaults, the environment and argv (the options after
 * the "serve" command). Returns 0; ERR_INVAL with 'msg' naming the bad
 * option; ERR_NOMEM. On failure 'cfg' may hold partial values: release it
 * with config_clear() either way.
 */
int config_parse(int argc, char **argv, struct config *cfg, char *msg,
                 size_t msg_len);

/* Frees what 'cfg' owns. */
void config_clear(struct config *cfg);

/* Prints every option with its variable, default and meaning. */
void config_usage(FILE *out);

#endif
