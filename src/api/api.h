/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Voice ID operations behind the AWS JSON 1.0 envelope.
 *
 * The HTTP layer hands over an authenticated call (account, region, the
 * X-Amz-Target value and the raw body) and gets back a status, a JSON body
 * and, for errors, the error name for the x-amzn-ErrorType header. This
 * layer parses the body, finds the operation in the generated model tables,
 * validates the input against the model, runs the operation and serialises
 * its output. It never sees libmicrohttpd types.
 */
#ifndef TIMBRE_API_API_H
#define TIMBRE_API_API_H

#include <stddef.h>
#include <stdint.h>

#include "api/pagetoken.h"

struct store;
struct runner;

/* What every operation may use; borrowed for the server's lifetime. */
struct keyring;

struct api_env {
    struct store *store;
    struct runner *runner;      /* NULL when no workers run jobs */
    struct keyring *keyring;    /* voiceprints are sealed under its keys */
    unsigned char page_token_key[PAGETOKEN_KEY_LEN];
    int64_t page_token_ttl_s;
    int64_t max_domains;
    int64_t max_active_jobs;    /* per domain */
    int64_t max_speakers;       /* per domain */
};

struct api_call {
    const char *request_id;
    const char *account;        /* 12 digits, from the verified signature */
    const char *region;         /* from the credential scope */
    const char *target;         /* X-Amz-Target, or NULL when absent */
    const char *body;           /* not NUL-terminated */
    size_t body_len;
};

struct api_reply {
    int http_status;
    char *body;                 /* owned: JSON text */
    size_t body_len;
    const char *error_type;     /* static; NULL on success */
};

/* Runs one call. Always fills 'reply' (an error reply when the call
 * fails); release it with api_reply_clear(). */
void api_handle(const struct api_env *env, const struct api_call *call,
                struct api_reply *reply);

/* Fills 'reply' with an error envelope: {"__type": type, "Message": msg}. */
void api_reply_error(struct api_reply *reply, int http_status,
                     const char *type, const char *message);

/* Frees the body; NULL-safe and idempotent. */
void api_reply_clear(struct api_reply *reply);

#endif
