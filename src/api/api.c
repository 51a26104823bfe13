/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The AWS JSON 1.0 envelope and the operation dispatcher.
 *
 * A call goes through these steps, and the first that fails answers:
 *
 *   target → operation in the model → JSON body → validation against the
 *   input shape → the operation's own code → serialised output
 *
 * Operations that the model has but this version does not implement yet
 * answer NotImplementedException (HTTP 501) after validation, so a client
 * learns both that its input is well-formed and that the feature is absent.
 */
#include "api/api.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "api/api_internal.h"
#include "api/model.h"
#include "api/pagetoken.h"
#include "api/validate.h"
#include "store/store.h"
#include "util/crypto.h"
#include "util/err.h"
#include "util/json_text.h"
#include "util/log.h"

#define TARGET_PREFIX "VoiceID."

struct operation_entry {
    const char *name;
    api_operation_fn run;
};

static const struct operation_entry implemented[] = {
    { "CreateDomain", domains_create },
    { "DeleteDomain", domains_delete },
    { "DeleteSpeaker", speakers_delete },
    { "DescribeDomain", domains_describe },
    { "DescribeSpeaker", speakers_describe },
    { "DescribeSpeakerEnrollmentJob", jobs_describe },
    { "ListDomains", domains_list },
    { "ListSpeakerEnrollmentJobs", jobs_list },
    { "ListSpeakers", speakers_list },
    { "ListTagsForResource", tags_list },
    { "StartSpeakerEnrollmentJob", jobs_start },
    { "OptOutSpeaker", speakers_opt_out },
    { "TagResource", tags_tag },
    { "UntagResource", tags_untag },
    { "UpdateDomain", domains_update },
};


static api_operation_fn
find_implementation(const char *name)
{
    size_t n = sizeof(implemented) / sizeof(implemented[0]);

    for (size_t i = 0; i < n; i++) {
        if (strcmp(implemented[i].name, name) == 0)
            return implemented[i].run;
    }
    return NULL;
}


static double
now_epoch_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)(ts.tv_nsec / 1000000) / 1000.0;
}


static void
reply_json(struct api_reply *reply, int http_status, json_t *body,
           const char *error_type)
{
    reply->http_status = http_status;
    reply->error_type = error_type;
    if (json_text_dump(body, &reply->body, &reply->body_len) == 0)
        return;

    /* Out of memory: a fixed body still tells the client. */
    reply->http_status = 500;
    reply->error_type = "InternalServerException";
    reply->body = strdup("{\"__type\":\"InternalServerException\","
                         "\"Message\":\"out of memory\"}");
    reply->body_len = reply->body ? strlen(reply->body) : 0;
}


void
api_reply_error(struct api_reply *reply, int http_status, const char *type,
                const char *message)
{
    json_t *body = json_pack("{s:s, s:s}", "__type", type,
                             "Message", message);

    reply_json(reply, http_status, body, type);
    json_decref(body);
}


void
api_reply_clear(struct api_reply *reply)
{
    free(reply->body);
    reply->body = NULL;
    reply->body_len = 0;
}


static void
reply_api_error(struct api_reply *reply, const struct api_error *err)
{
    int status = strcmp(err->type, "InternalServerException") == 0 ? 500
                                                                    : 400;
    json_t *body = json_pack("{s:s, s:s}", "__type", err->type,
                             "Message", err->message);

    if (body && err->resource_type)
        json_object_set_new(body, "ResourceType",
                            json_string(err->resource_type));
    if (body && err->conflict_type)
        json_object_set_new(body, "ConflictType",
                            json_string(err->conflict_type));
    reply_json(reply, status, body, err->type);
    json_decref(body);
}


/* Parses the body; fills 'reply' and returns NULL when it is not a JSON
 * object. An empty body counts as "{}", as some clients send for
 * operations without input members. */
static json_t *
parse_body(const struct api_call *call, struct api_reply *reply)
{
    json_error_t jerr;
    json_t *body;
    char msg[512];

    if (call->body_len == 0)
        return json_object();

    body = json_loadb(call->body, call->body_len,
                      JSON_REJECT_DUPLICATES,
                      &jerr);
    if (body == NULL) {
        snprintf(msg, sizeof(msg),
                 "request body is not valid JSON: %s at line %d, column %d",
                 jerr.text, jerr.line, jerr.column);
        api_reply_error(reply, 400, "SerializationException", msg);
        return NULL;
    }
    if (!json_is_object(body)) {
        api_reply_error(reply, 400, "SerializationException",
                        "request body must be a JSON object");
        json_decref(body);
        return NULL;
    }
    return body;
}


static const struct model_operation *
find_operation(const struct api_call *call, struct api_reply *reply)
{
    const struct model_operation *op;
    char msg[256];

    if (call->target == NULL || call->target[0] == '\0') {
        api_reply_error(reply, 400, "UnknownOperationException",
                        "missing X-Amz-Target header; expected "
                        "VoiceID.<Operation>");
        return NULL;
    }

    op = NULL;
    if (strncmp(call->target, TARGET_PREFIX, strlen(TARGET_PREFIX)) == 0)
        op = model_operation_find(call->target + strlen(TARGET_PREFIX));
    if (op == NULL) {
        snprintf(msg, sizeof(msg), "unknown operation '%.100s'; expected "
                 "VoiceID.<Operation>", call->target);
        api_reply_error(reply, 400, "UnknownOperationException", msg);
    }
    return op;
}


static void
run_operation(const struct api_env *env, const struct api_call *call,
              const struct model_operation *op, api_operation_fn run,
              json_t *input, struct api_reply *reply)
{
    struct api_ctx ctx = {
        .env = env,
        .request_id = call->request_id,
        .account = call->account,
        .region = call->region,
        .operation = op->name,
        .now = now_epoch_s(),
    };
    struct api_error err = { 0 };
    json_t *out = NULL;
    char tag[64];

    if (run(&ctx, input, &out, &err) != 0) {
        free(ctx.reply_text);
        if (err.type == NULL)
            api__fail(&err, "InternalServerException", "operation failed");
        if (strcmp(err.type, "InternalServerException") == 0) {
            snprintf(tag, sizeof(tag), "req=%.8s", call->request_id);
            log_msg(LOG_ERROR, "api", tag, "%s failed: %s", op->name,
                    err.message);
        }
        reply_api_error(reply, &err);
        return;
    }

    if (out == NULL && ctx.reply_text != NULL) {
        reply->http_status = 200;
        reply->error_type = NULL;
        reply->body = ctx.reply_text;
        reply->body_len = ctx.reply_len;
        return;
    }
    reply_json(reply, 200, out, NULL);
    json_decref(out);
}


void
api_handle(const struct api_env *env, const struct api_call *call,
           struct api_reply *reply)
{
    const struct model_operation *op;
    api_operation_fn run;
    json_t *input = NULL;
    char *problem = NULL;
    char msg[256];
    int rc;

    memset(reply, 0, sizeof(*reply));

    op = find_operation(call, reply);
    if (op == NULL)
        return;
    input = parse_body(call, reply);
    if (input == NULL)
        return;

    rc = validate_request(op->input, input, &problem);
    if (rc == ERR_INVAL) {
        api_reply_error(reply, 400, "ValidationException", problem);
        goto out;
    }
    if (rc != 0) {
        api_reply_error(reply, 500, "InternalServerException",
                        err_str(rc));
        goto out;
    }

    run = find_implementation(op->name);
    if (run == NULL) {
        snprintf(msg, sizeof(msg),
                 "%s is not available in this version of Timbre", op->name);
        api_reply_error(reply, 501, "NotImplementedException", msg);
        goto out;
    }

    run_operation(env, call, op, run, input, reply);

out:
    free(problem);
    json_decref(input);
}


static int
fail_v(struct api_error *err, const char *type, const char *resource_type,
       const char *fmt, va_list ap)
{
    err->type = type;
    err->resource_type = resource_type;
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    return -1;
}


int
api__fail(struct api_error *err, const char *type, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fail_v(err, type, NULL, fmt, ap);
    va_end(ap);
    return -1;
}


int
api__not_found(struct api_error *err, const char *resource_type,
               const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fail_v(err, "ResourceNotFoundException", resource_type, fmt, ap);
    va_end(ap);
    return -1;
}


int
api__store_failed(struct api_error *err, int rc)
{
    if (rc == ERR_BUSY)
        return api__fail(err, "ThrottlingException",
                         "the store is busy; retry the request");
    return api__fail(err, "InternalServerException", "store error: %s",
                     err_str(rc));
}


const char *
api__str(json_t *in, const char *name)
{
    return json_string_value(json_object_get(in, name));
}


int64_t
api__int(json_t *in, const char *name, int64_t fallback)
{
    json_t *v = json_object_get(in, name);

    return json_is_integer(v) ? (int64_t)json_integer_value(v) : fallback;
}


int
api__set_str(json_t *obj, const char *key, const char *value)
{
    /* Keys are literals and values were checked as UTF-8 when they came
     * in, so the checking variants would only repeat work. */
    if (value == NULL)
        return 0;
    return json_object_set_new_nocheck(obj, key, json_string_nocheck(value))
               == 0 ? 0 : ERR_NOMEM;
}


int
api__set_time(json_t *obj, const char *key, double epoch_s)
{
    double ms = floor(epoch_s * 1000.0 + 0.5) / 1000.0;

    return json_object_set_new_nocheck(obj, key, json_real(ms)) == 0
               ? 0 : ERR_NOMEM;
}


int
api__page_start(struct api_ctx *ctx, json_t *in, const char *parent_id,
                const char *filters, int64_t *after_seq,
                struct api_error *err)
{
    struct pagetoken_scope scope = {
        .operation = ctx->operation,
        .account = ctx->account,
        .parent_id = parent_id,
        .filters = filters,
    };
    const char *token = api__str(in, "NextToken");
    char msg[256];
    int rc;

    *after_seq = 0;
    if (token == NULL)
        return 0;

    rc = pagetoken_decode(ctx->env->page_token_key, &scope, token,
                          (int64_t)ctx->now, ctx->env->page_token_ttl_s,
                          after_seq, msg, sizeof(msg));
    if (rc == ERR_CRYPTO || rc == ERR_NOMEM)
        return api__fail(err, "InternalServerException",
                         "cannot check NextToken: %s", err_str(rc));
    if (rc != 0)
        return api__fail(err, "ValidationException", "%s", msg);
    return 0;
}


/* Issues the NextToken of a page that ended at 'last_seq' into *token
 * (free()); 0 or -1 with 'err' filled. */
static int
page_token(struct api_ctx *ctx, const char *parent_id, const char *filters,
           int64_t last_seq, char **token, struct api_error *err)
{
    struct pagetoken_scope scope = {
        .operation = ctx->operation,
        .account = ctx->account,
        .parent_id = parent_id,
        .filters = filters,
    };
    int rc;

    rc = pagetoken_encode(ctx->env->page_token_key, &scope, last_seq,
                          (int64_t)ctx->now, token);
    if (rc != 0)
        return api__fail(err, "InternalServerException",
                         "cannot issue NextToken: %s", err_str(rc));
    return 0;
}


int
api__page_next(struct api_ctx *ctx, json_t *out, const char *parent_id,
               const char *filters, int64_t last_seq, struct api_error *err)
{
    char *token = NULL;
    int rc;

    if (page_token(ctx, parent_id, filters, last_seq, &token, err) != 0)
        return -1;
    rc = json_object_set_new(out, "NextToken", json_string(token));
    free(token);
    return rc == 0 ? 0 : api__fail(err, "InternalServerException",
                                   "out of memory");
}


int
api__list_reply_text(struct api_ctx *ctx, struct json_text *w,
                     bool has_next, const char *parent_id,
                     const char *filters, int64_t last_seq,
                     struct api_error *err)
{
    char *token = NULL;

    json_text_close(w, ']');
    if (has_next) {
        if (page_token(ctx, parent_id, filters, last_seq, &token,
                       err) != 0) {
            json_text_discard(w);
            return -1;
        }
        json_text_member(w, "NextToken", token);
        free(token);
    }
    json_text_close(w, '}');
    return api__reply_text(ctx, w, err);
}


int
api__reply_text(struct api_ctx *ctx, struct json_text *w,
                struct api_error *err)
{
    int rc;

    free(ctx->reply_text);
    ctx->reply_text = NULL;
    rc = json_text_finish(w, &ctx->reply_text, &ctx->reply_len);
    if (rc != 0)
        return api__fail(err, "InternalServerException",
                         "cannot write the reply: %s", err_str(rc));
    return 0;
}


int
api__request_hash(json_t *in, char hex[65])
{
    unsigned char digest[CRYPTO_SHA256_LEN];
    json_t *copy = json_deep_copy(in);
    char *text = NULL;
    int rc = ERR_NOMEM;

    if (copy == NULL)
        goto out;
    json_object_del(copy, "ClientToken");
    text = json_dumps(copy, JSON_COMPACT | JSON_SORT_KEYS);
    if (text == NULL)
        goto out;
    rc = crypto_sha256(text, strlen(text), digest);
    if (rc == 0)
        crypto_hex(digest, sizeof(digest), hex);

out:
    free(text);
    json_decref(copy);
    return rc;
}
