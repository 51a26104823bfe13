/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the operation files (domains.c, tags.c, ...) share with the
 * dispatcher in api.c: the per-call context, the error record an operation
 * fills when it refuses a call, and small helpers for both.
 *
 * An operation receives input that has already passed the model's
 * validation, so it only checks what the model cannot say (existence,
 * ownership, quotas, idempotency). It returns 0 with a new JSON object in
 * *out, or -1 with 'err' filled; it never writes the HTTP reply itself.
 * An operation whose reply is a long list may instead write the reply's
 * text from the records it read (api__reply_text) and leave *out NULL.
 */
#ifndef TIMBRE_API_INTERNAL_H
#define TIMBRE_API_INTERNAL_H

#include <stdbool.h>

#include <jansson.h>

#include "api/api.h"

struct api_ctx {
    const struct api_env *env;  /* borrowed */
    const char *request_id;
    const char *account;
    const char *region;
    const char *operation;      /* "CreateDomain" */
    double now;                 /* epoch seconds when the call arrived */
    char *reply_text;           /* owned: set by api__reply_text() */
    size_t reply_len;
};

struct json_text;

struct api_error {
    const char *type;           /* modelled error shape name */
    const char *resource_type;  /* ResourceNotFoundException only */
    const char *conflict_type;  /* ConflictException, optional */
    char message[1024];
};

typedef int (*api_operation_fn)(struct api_ctx *ctx, json_t *in,
                                json_t **out, struct api_error *err);

/* Fills 'err' and returns -1, so operations can 'return api__fail(...)'. */
int api__fail(struct api_error *err, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ResourceNotFoundException for a resource of 'resource_type'. */
int api__not_found(struct api_error *err, const char *resource_type,
                   const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Maps a store error that has no better meaning in context to the matching
 * exception (ERR_BUSY → ThrottlingException, the rest → Internal). */
int api__store_failed(struct api_error *err, int rc);

/* Borrowed string member of 'in', or NULL when absent or null. */
const char *api__str(json_t *in, const char *name);

/* Integer member of 'in', or 'fallback' when absent. */
int64_t api__int(json_t *in, const char *name, int64_t fallback);

/* Adds 'value' under 'key' when not NULL; returns 0 or ERR_NOMEM. */
int api__set_str(json_t *obj, const char *key, const char *value);

/* Timestamps travel as epoch seconds with millisecond fractions. */
int api__set_time(json_t *obj, const char *key, double epoch_s);

/*
 * Page tokens: decodes the call's NextToken (if any) into *after_seq
 * (0 without a token), for the listing named by ctx->operation, the
 * account, 'parent_id' and 'filters'. Returns 0 or -1 with a
 * ValidationException in 'err'.
 */
int api__page_start(struct api_ctx *ctx, json_t *in, const char *parent_id,
                    const char *filters, int64_t *after_seq,
                    struct api_error *err);

/* Adds "NextToken" to 'out' for a page that ended at 'last_seq'. */
int api__page_next(struct api_ctx *ctx, json_t *out, const char *parent_id,
                   const char *filters, int64_t last_seq,
                   struct api_error *err);

/*
 * Ends a list reply written with json_text.h, which 'w' is inside the
 * array of: closes the array, adds the NextToken of a page that ended at
 * 'last_seq' when 'has_next', closes the reply's object and makes it the
 * call's reply (api__reply_text). Returns 0, or -1 with 'err' filled and
 * 'w' discarded.
 */
int api__list_reply_text(struct api_ctx *ctx, struct json_text *w,
                         bool has_next, const char *parent_id,
                         const char *filters, int64_t last_seq,
                         struct api_error *err);

/* Ends 'w' (json_text.h) as the call's reply. Returns 0, or -1 with an
 * InternalServerException in 'err'. */
int api__reply_text(struct api_ctx *ctx, struct json_text *w,
                    struct api_error *err);

/* The request hash for idempotency: SHA-256 hex of the input without
 * 'ClientToken', with keys sorted. 'hex' holds 65 bytes. */
int api__request_hash(json_t *in, char hex[65]);

struct store_domain;
struct store_tag;

/* Fetches the caller's live domain 'domain_id' into 'd' (caller clears
 * it), or answers ResourceNotFoundException with ResourceType DOMAIN. */
int domains__get(struct api_ctx *ctx, const char *domain_id,
                 struct store_domain *d, struct api_error *err);

/* Copies a validated TagList into a new array (store_tags_free). Refuses
 * a key that appears twice. */
int domains__tags_from_json(json_t *list, struct store_tag **out,
                            size_t *n_out, struct api_error *err);

/* The operations, one file per resource. */
int domains_create(struct api_ctx *, json_t *, json_t **, struct api_error *);
int domains_describe(struct api_ctx *, json_t *, json_t **,
                     struct api_error *);
int domains_list(struct api_ctx *, json_t *, json_t **, struct api_error *);
int domains_update(struct api_ctx *, json_t *, json_t **, struct api_error *);
int domains_delete(struct api_ctx *, json_t *, json_t **, struct api_error *);
int tags_tag(struct api_ctx *, json_t *, json_t **, struct api_error *);
int tags_untag(struct api_ctx *, json_t *, json_t **, struct api_error *);
int tags_list(struct api_ctx *, json_t *, json_t **, struct api_error *);
int jobs_describe(struct api_ctx *, json_t *, json_t **, struct api_error *);
int jobs_start(struct api_ctx *, json_t *, json_t **, struct api_error *);
int jobs_list(struct api_ctx *, json_t *, json_t **, struct api_error *);
int speakers_describe(struct api_ctx *, json_t *, json_t **,
                      struct api_error *);
int speakers_list(struct api_ctx *, json_t *, json_t **, struct api_error *);
int speakers_delete(struct api_ctx *, json_t *, json_t **,
                    struct api_error *);
int speakers_opt_out(struct api_ctx *, json_t *, json_t **,
                     struct api_error *);

#endif
