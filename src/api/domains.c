/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Domain operations: CreateDomain, DescribeDomain, ListDomains,
 * UpdateDomain and DeleteDomain.
 *
 * A domain is the container of everything else (speakers, fraudsters,
 * watchlists, jobs), so it is created together with its default watchlist
 * and any tags in one store transaction. Deleting hides it at once; its rows
 * stay until the store's retention sweep erases them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_internal.h"
#include "store/store.h"
#include "util/err.h"
#include "util/ids.h"
#include "util/json_text.h"
#include "util/log.h"
#include "util/sealedprint.h"

#define LIST_DOMAINS_DEFAULT_MAX 10


/* Appends 's' at *at in 'buf' of 'cap' bytes, cutting it to fit. */
static void
append(char *buf, size_t cap, size_t *at, const char *s)
{
    size_t n = strlen(s);

    if (n > cap - 1 - *at)
        n = cap - 1 - *at;
    memcpy(buf + *at, s, n);
    *at += n;
    buf[*at] = '\0';
}


/* The domain's ARN, without printf: it is made for every domain of every
 * list page. */
static void
domain_arn(char *arn, size_t cap, const char *region,
           const struct store_domain *d)
{
    size_t at = 0;

    arn[0] = '\0';
    append(arn, cap, &at, "arn:aws:voiceid:");
    append(arn, cap, &at, region);
    append(arn, cap, &at, ":");
    append(arn, cap, &at, d->account);
    append(arn, cap, &at, ":domain/");
    append(arn, cap, &at, d->id);
}


/* Writes the Domain shape (and DomainSummary, which has the same members)
 * as the next value of 'w'. */
static void
domain_text(const struct api_ctx *ctx, struct json_text *w,
            const struct store_domain *d)
{
    char arn[256];

    domain_arn(arn, sizeof(arn), ctx->region, d);
    json_text_open(w, '{');
    json_text_member(w, "Arn", arn);
    json_text_key(w, "CreatedAt");
    json_text_time(w, d->created_at);
    json_text_member(w, "Description", d->description);
    json_text_member(w, "DomainId", d->id);
    json_text_member(w, "DomainStatus", d->status);
    json_text_member(w, "Name", d->name);
    json_text_key(w, "ServerSideEncryptionConfiguration");
    json_text_open(w, '{');
    json_text_member(w, "KmsKeyId", d->kms_key_id);
    json_text_close(w, '}');

    /* The update details exist only once the key has been changed. */
    if (d->sse_update_status) {
        json_text_key(w, "ServerSideEncryptionUpdateDetails");
        json_text_open(w, '{');
        json_text_member(w, "OldKmsKeyId", d->sse_old_kms_key_id);
        json_text_member(w, "UpdateStatus", d->sse_update_status);
        json_text_member(w, "Message", d->sse_update_message);
        json_text_close(w, '}');
    }

    json_text_key(w, "UpdatedAt");
    json_text_time(w, d->updated_at);
    json_text_key(w, "WatchlistDetails");
    json_text_open(w, '{');
    json_text_member(w, "DefaultWatchlistId", d->default_watchlist_id);
    json_text_close(w, '}');
    json_text_close(w, '}');
}


/* Answers {"Domain": {...}}. */
static int
reply_domain(struct api_ctx *ctx, const struct store_domain *d,
             json_t **out, struct api_error *err)
{
    struct json_text w = JSON_TEXT_INIT;

    *out = NULL;
    json_text_open(&w, '{');
    json_text_key(&w, "Domain");
    domain_text(ctx, &w, d);
    json_text_close(&w, '}');
    return api__reply_text(ctx, &w, err);
}


static const char *
kms_key_of(json_t *in)
{
    json_t *sse = json_object_get(in, "ServerSideEncryptionConfiguration");

    return api__str(sse, "KmsKeyId");
}


/* Copies the Tags list; refuses a key given twice, which would otherwise
 * depend on the order the store applies them in. */
static int
tags_from_json(json_t *list, struct store_tag **out, size_t *n_out,
               struct api_error *err)
{
    size_t n = json_array_size(list);
    struct store_tag *tags;

    *out = NULL;
    *n_out = 0;
    if (n == 0)
        return 0;

    tags = calloc(n, sizeof(*tags));
    if (tags == NULL)
        return api__fail(err, "InternalServerException", "out of memory");

    for (size_t i = 0; i < n; i++) {
        json_t *tag = json_array_get(list, i);
        const char *key = api__str(tag, "Key");

        for (size_t j = 0; j < i; j++) {
            if (strcmp(tags[j].key, key) == 0) {
                store_tags_free(tags, n);
                return api__fail(err, "ValidationException",
                                 "tag key at 'Tags.%zu.Key' repeats an "
                                 "earlier key", i);
            }
        }
        tags[i].key = strdup(key);
        tags[i].value = strdup(api__str(tag, "Value"));
        if (tags[i].key == NULL || tags[i].value == NULL) {
            store_tags_free(tags, n);
            return api__fail(err, "InternalServerException",
                             "out of memory");
        }
    }
    *out = tags;
    *n_out = n;
    return 0;
}


int
domains__tags_from_json(json_t *list, struct store_tag **out, size_t *n_out,
                        struct api_error *err)
{
    return tags_from_json(list, out, n_out, err);
}


static int
create_failed(int rc, struct api_error *err)
{
    switch (rc) {
    case ERR_QUOTA:
        return api__fail(err, "ServiceQuotaExceededException",
                         "the account already has the maximum number of "
                         "domains; delete one or raise --max-domains");
    case ERR_MISMATCH:
        return api__fail(err, "ConflictException",
                         "ClientToken was already used for CreateDomain "
                         "with different parameters");
    case ERR_NOTFOUND:
        return api__fail(err, "ConflictException",
                         "ClientToken was already used for a domain that "
                         "has since been deleted");
    default:
        return api__store_failed(err, rc);
    }
}


int
domains_create(struct api_ctx *ctx, json_t *in, json_t **out,
               struct api_error *err)
{
    struct store_domain d = { 0 };
    struct store_domain made = { 0 };
    struct store_tag *tags = NULL;
    size_t n_tags = 0;
    char hash[65];
    int rc;

    if (tags_from_json(json_object_get(in, "Tags"), &tags, &n_tags, err))
        return -1;

    snprintf(d.account, sizeof(d.account), "%s", ctx->account);
    d.name = (char *)api__str(in, "Name");
    d.description = (char *)api__str(in, "Description");
    d.kms_key_id = (char *)kms_key_of(in);
    d.status = "ACTIVE";
    d.created_at = ctx->now;
    d.updated_at = ctx->now;
    rc = ids_new(d.id);
    if (rc == 0)
        rc = ids_new(d.default_watchlist_id);
    if (rc == 0)
        rc = api__request_hash(in, hash);
    if (rc != 0) {
        rc = api__fail(err, "InternalServerException", "%s", err_str(rc));
        goto out;
    }

    rc = store_domain_create(ctx->env->store, &d, tags, n_tags,
                             api__str(in, "ClientToken"), hash,
                             (int)ctx->env->max_domains, &made);
    if (rc != 0) {
        rc = create_failed(rc, err);
        goto out;
    }
    rc = reply_domain(ctx, &made, out, err);

out:
    store_domain_clear(&made);
    store_tags_free(tags, n_tags);
    return rc;
}


/* Fetches the live domain named by "DomainId" or answers not found. */
int
domains__get(struct api_ctx *ctx, const char *domain_id,
             struct store_domain *d, struct api_error *err)
{
    int rc = store_domain_get(ctx->env->store, ctx->account, domain_id, d);

    if (rc == ERR_NOTFOUND)
        return api__not_found(err, "DOMAIN", "domain %s does not exist",
                              domain_id);
    if (rc != 0)
        return api__store_failed(err, rc);
    return 0;
}


int
domains_describe(struct api_ctx *ctx, json_t *in, json_t **out,
                 struct api_error *err)
{
    struct store_domain d = { 0 };
    int rc;

    rc = domains__get(ctx, api__str(in, "DomainId"), &d, err);
    if (rc == 0)
        rc = reply_domain(ctx, &d, out, err);
    store_domain_clear(&d);
    return rc;
}


struct summaries {
    const struct api_ctx *ctx;
    struct json_text *w;
    size_t n;
    int64_t last_seq;                   /* of the last summary written */
};


static int
summary_visit(void *arg, const struct store_domain *d)
{
    struct summaries *sum = arg;

    domain_text(sum->ctx, sum->w, d);
    sum->n++;
    sum->last_seq = d->seq;
    return 0;
}


int
domains_list(struct api_ctx *ctx, json_t *in, json_t **out,
             struct api_error *err)
{
    int64_t limit = api__int(in, "MaxResults", LIST_DOMAINS_DEFAULT_MAX);
    struct json_text w = JSON_TEXT_INIT;
    struct summaries sum = { ctx, &w, 0, 0 };
    bool more = false;
    int64_t after = 0;
    int rc;

    *out = NULL;
    if (api__page_start(ctx, in, "", "", &after, err) != 0)
        return -1;

    /* The summaries are written straight from the store's records. */
    json_text_open(&w, '{');
    json_text_key(&w, "DomainSummaries");
    json_text_open(&w, '[');
    rc = store_domain_list_each(ctx->env->store, ctx->account, after,
                                (int)limit, summary_visit, &sum, &more);
    if (rc != 0) {
        json_text_discard(&w);
        return api__store_failed(err, rc);
    }
    return api__list_reply_text(ctx, &w, more && sum.n > 0, "", "",
                                sum.last_seq, err);
}


/* The store's re-seal step of a key change: the speaker's voiceprint,
 * sealed under 'old_key', sealed again under 'new_key'. */
static int
reseal_voiceprint(void *keyring, const struct store_speaker *sp,
                  const char *old_key, const char *new_key,
                  unsigned char **sealed, size_t *sealed_len)
{
    if (keyring == NULL)
        return ERR_INTERNAL;
    return sealedprint_reseal(keyring, old_key, new_key, sp->domain_id,
                              sp->customer_id, sp->voiceprint,
                              sp->voiceprint_len, sealed, sealed_len);
}


int
domains_update(struct api_ctx *ctx, json_t *in, json_t **out,
               struct api_error *err)
{
    struct store_domain d = { 0 };
    const char *new_key = kms_key_of(in);
    char *old_key = NULL;
    size_t n_resealed = 0;
    int rc;

    rc = domains__get(ctx, api__str(in, "DomainId"), &d, err);
    if (rc != 0)
        goto out;

    /* Every attribute is replaced; a missing Description is removed. */
    free(d.name);
    free(d.description);
    d.name = strdup(api__str(in, "Name"));
    d.description = api__str(in, "Description")
                        ? strdup(api__str(in, "Description")) : NULL;
    d.updated_at = ctx->now;

    /* Voice ID re-encrypted in the background and reported IN_PROGRESS
     * meanwhile; here the voiceprints are re-sealed in the update's own
     * transaction, so the change is COMPLETED when the call returns.
     *
     * TODO: re-sealing runs inside the store's write transaction, so for
     * a domain with a hundred thousand speakers every other write (jobs
     * of all domains included) waits a second or more, and the call takes
     * as long. It matters for large domains: a background re-encryption
     * in batches, reporting IN_PROGRESS, with both keys readable until it
     * ends, would avoid it. */
    if (strcmp(new_key, d.kms_key_id) != 0) {
        old_key = d.kms_key_id;
        d.kms_key_id = strdup(new_key);
        free(d.sse_old_kms_key_id);
        free(d.sse_update_status);
        free(d.sse_update_message);
        d.sse_old_kms_key_id = old_key;
        d.sse_update_status = strdup("COMPLETED");
        d.sse_update_message = NULL;
    }
    if (d.name == NULL || d.kms_key_id == NULL
        || (d.sse_old_kms_key_id && d.sse_update_status == NULL)) {
        rc = api__fail(err, "InternalServerException", "out of memory");
        goto out;
    }

    rc = store_domain_update(ctx->env->store, &d, reseal_voiceprint,
                             ctx->env->keyring, &n_resealed);
    if (rc == ERR_NOTFOUND) {
        rc = api__not_found(err, "DOMAIN", "domain %s does not exist",
                            d.id);
        goto out;
    }
    if (rc != 0) {
        rc = api__store_failed(err, rc);
        goto out;
    }
    if (n_resealed > 0)
        log_msg(LOG_INFO, "api", ctx->request_id, "domain %s: %zu "
                "voiceprints re-sealed under its new key", d.id,
                n_resealed);
    rc = reply_domain(ctx, &d, out, err);

out:
    store_domain_clear(&d);
    return rc;
}


int
domains_delete(struct api_ctx *ctx, json_t *in, json_t **out,
               struct api_error *err)
{
    const char *id = api__str(in, "DomainId");
    int rc;

    rc = store_domain_delete(ctx->env->store, ctx->account, id, ctx->now);
    if (rc == ERR_NOTFOUND)
        return api__not_found(err, "DOMAIN", "domain %s does not exist", id);
    if (rc != 0)
        return api__store_failed(err, rc);

    *out = json_object();
    return *out ? 0 : api__fail(err, "InternalServerException",
                                "out of memory");
}
