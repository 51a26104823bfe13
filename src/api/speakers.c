/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Speaker operations: DescribeSpeaker, ListSpeakers, DeleteSpeaker and
 * OptOutSpeaker.
 *
 * A speaker is named by either of its ids: the CustomerSpeakerId the
 * caller chose or the GeneratedSpeakerId ("id#" + 22 alphanumerics) that
 * Timbre gave it; the store tells them apart by the "id#" prefix, which a
 * customer id cannot have.
 *
 * The store answers ERR_NOTFOUND alike for a missing speaker and for a
 * missing domain. Rather than look the domain up before every call, the
 * domain is looked up only after a miss, to say which of the two was
 * missing: the common path costs one store call, and a domain deleted
 * during the call is reported as the domain, which is then the truth.
 *
 * Voiceprints never leave this file: the Speaker shape has no member for
 * them. Customer speaker ids are treated as personal data (the model marks
 * SpeakerId sensitive), so no message repeats one.
 */
#include <stdio.h>
#include <string.h>

#include "api/api_internal.h"
#include "store/store.h"
#include "util/err.h"
#include "util/ids.h"

#define LIST_SPEAKERS_DEFAULT_MAX 100

#define GENERATED_PREFIX "id#"


/* Builds the Speaker (or SpeakerSummary, the same members) shape; NULL
 * when out of memory. LastAccessedAt is left out for a speaker never
 * accessed, which the record keeps as 0. */
static json_t *
speaker_to_json(const struct store_speaker *sp)
{
    json_t *obj = json_object();
    int rc = 0;

    if (obj == NULL)
        return NULL;

    rc |= api__set_time(obj, "CreatedAt", sp->created_at);
    rc |= api__set_str(obj, "CustomerSpeakerId", sp->customer_id);
    rc |= api__set_str(obj, "DomainId", sp->domain_id);
    rc |= api__set_str(obj, "GeneratedSpeakerId", sp->id);
    if (sp->last_accessed_at > 0)
        rc |= api__set_time(obj, "LastAccessedAt", sp->last_accessed_at);
    rc |= api__set_str(obj, "Status", sp->status);
    rc |= api__set_time(obj, "UpdatedAt", sp->updated_at);

    if (rc != 0) {
        json_decref(obj);
        return NULL;
    }
    return obj;
}


/* Answers {"Speaker": {...}}. */
static int
reply_speaker(const struct store_speaker *sp, json_t **out,
              struct api_error *err)
{
    json_t *speaker = speaker_to_json(sp);

    *out = speaker ? json_pack("{s:o}", "Speaker", speaker) : NULL;
    if (*out == NULL)
        return api__fail(err, "InternalServerException", "out of memory");
    return 0;
}


/* Turns a store error about a speaker into the answer: on ERR_NOTFOUND,
 * the domain is looked up again to tell a missing domain from a missing
 * speaker. */
static int
speaker_failed(struct api_ctx *ctx, const char *domain_id, int rc,
               struct api_error *err)
{
    struct store_domain d = { 0 };

    if (rc != ERR_NOTFOUND)
        return api__store_failed(err, rc);

    rc = domains__get(ctx, domain_id, &d, err);
    store_domain_clear(&d);
    if (rc != 0)
        return rc;
    return api__not_found(err, "SPEAKER",
                          "the speaker does not exist in domain %s",
                          domain_id);
}


int
speakers_describe(struct api_ctx *ctx, json_t *in, json_t **out,
                  struct api_error *err)
{
    const char *domain_id = api__str(in, "DomainId");
    struct store_speaker sp = { 0 };
    int rc;

    rc = store_speaker_get(ctx->env->store, ctx->account, domain_id,
                           api__str(in, "SpeakerId"), &sp);
    if (rc != 0)
        return speaker_failed(ctx, domain_id, rc, err);

    rc = reply_speaker(&sp, out, err);
    store_speaker_clear(&sp);
    return rc;
}


int
speakers_list(struct api_ctx *ctx, json_t *in, json_t **out,
              struct api_error *err)
{
    const char *domain_id = api__str(in, "DomainId");
    int64_t limit = api__int(in, "MaxResults", LIST_SPEAKERS_DEFAULT_MAX);
    struct store_speaker *speakers = NULL;
    json_t *summaries = NULL;
    int64_t after = 0;
    size_t n = 0;
    bool more = false;
    int rc;

    if (api__page_start(ctx, in, domain_id, "", &after, err) != 0)
        return -1;

    /* Here the only thing that can be missing is the domain. */
    rc = store_speaker_list(ctx->env->store, ctx->account, domain_id, after,
                            (int)limit, &speakers, &n, &more);
    if (rc == ERR_NOTFOUND)
        return api__not_found(err, "DOMAIN", "domain %s does not exist",
                              domain_id);
    if (rc != 0)
        return api__store_failed(err, rc);

    rc = -1;
    summaries = json_array();
    *out = json_pack("{s:O}", "SpeakerSummaries", summaries);
    if (*out == NULL)
        goto nomem;
    for (size_t i = 0; i < n; i++) {
        if (json_array_append_new(summaries,
                                  speaker_to_json(&speakers[i])) != 0)
            goto nomem;
    }
    if (more && n > 0) {
        if (api__page_next(ctx, *out, domain_id, "", speakers[n - 1].seq,
                           err) != 0)
            goto fail;
    }
    rc = 0;
    goto out;

nomem:
    api__fail(err, "InternalServerException", "out of memory");
fail:
    json_decref(*out);
    *out = NULL;
out:
    json_decref(summaries);
    store_speakers_free(speakers, n);
    return rc;
}


int
speakers_delete(struct api_ctx *ctx, json_t *in, json_t **out,
                struct api_error *err)
{
    const char *domain_id = api__str(in, "DomainId");
    int rc;

    rc = store_speaker_delete(ctx->env->store, ctx->account, domain_id,
                              api__str(in, "SpeakerId"));
    if (rc != 0)
        return speaker_failed(ctx, domain_id, rc, err);

    *out = json_object();
    return *out ? 0 : api__fail(err, "InternalServerException",
                                "out of memory");
}


/*
 * Opting out an unknown CustomerSpeakerId creates the speaker, opted out,
 * so that a later enrollment of that caller is refused; the generated id
 * is drawn before the call because only the store knows whether it will
 * be used. An unknown GeneratedSpeakerId cannot be created (Timbre never
 * gave it out), so it is a missing speaker.
 */
int
speakers_opt_out(struct api_ctx *ctx, json_t *in, json_t **out,
                 struct api_error *err)
{
    const char *domain_id = api__str(in, "DomainId");
    struct store_speaker sp = { 0 };
    char new_id[sizeof(GENERATED_PREFIX) + IDS_RESOURCE_LEN];
    char suffix[IDS_RESOURCE_LEN + 1];
    int rc;

    rc = ids_new(suffix);
    if (rc != 0)
        return api__fail(err, "InternalServerException",
                         "cannot make a speaker id: %s", err_str(rc));
    snprintf(new_id, sizeof(new_id), "%s%s", GENERATED_PREFIX, suffix);

    rc = store_speaker_opt_out(ctx->env->store, ctx->account, domain_id,
                               api__str(in, "SpeakerId"), new_id,
                               (int)ctx->env->max_speakers, ctx->now, &sp);
    if (rc == ERR_QUOTA)
        return api__fail(err, "ServiceQuotaExceededException",
                         "domain %s already has the maximum number of "
                         "speakers (%lld); delete some or raise "
                         "--max-speakers", domain_id,
                         (long long)ctx->env->max_speakers);
    if (rc != 0)
        return speaker_failed(ctx, domain_id, rc, err);

    rc = reply_speaker(&sp, out, err);
    store_speaker_clear(&sp);
    return rc;
}
