/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Speaker enrollment job operations: ListSpeakerEnrollmentJobs and
 * DescribeSpeakerEnrollmentJob.
 *
 * Listing is newest first through a keyset on the job's creation sequence:
 * a page starts strictly below the last job of the previous page, so jobs
 * created between pages never shift later pages (no skips, no repeats),
 * and the store serves any page from an index at the cost of the first.
 * The NextToken is bound to the domain and the JobStatus filter.
 *
 * A job's settings (role, enrollment, input and output configuration) are
 * kept as the JSON they were accepted in, with defaults filled in, and
 * returned as they are.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_internal.h"
#include "store/store.h"
#include "util/err.h"

#define LIST_JOBS_DEFAULT_MAX 100


/* The members shared by SpeakerEnrollmentJob and its summary. */
static int
add_job_status(json_t *obj, const struct store_job *j)
{
    json_t *progress = json_object();
    int rc = 0;

    rc |= api__set_time(obj, "CreatedAt", j->created_at);
    rc |= api__set_str(obj, "DomainId", j->domain_id);
    if (j->ended_at > 0)
        rc |= api__set_time(obj, "EndedAt", j->ended_at);
    if (j->failure_code != 0 || j->failure_message) {
        json_t *failure = json_object();

        rc |= failure == NULL;
        rc |= json_object_set_new_nocheck(failure, "StatusCode",
                                          json_integer(j->failure_code));
        rc |= api__set_str(failure, "Message", j->failure_message);
        rc |= json_object_set_new_nocheck(obj, "FailureDetails", failure);
    }
    rc |= api__set_str(obj, "JobId", j->id);
    rc |= api__set_str(obj, "JobName", j->name);
    rc |= progress == NULL;
    rc |= json_object_set_new_nocheck(progress, "PercentComplete",
                                      json_integer(j->percent_complete));
    rc |= json_object_set_new_nocheck(obj, "JobProgress", progress);
    rc |= api__set_str(obj, "JobStatus", j->status);
    return rc ? ERR_NOMEM : 0;
}


static json_t *
job_summary(const struct store_job *j)
{
    json_t *obj = json_object();

    if (obj == NULL || add_job_status(obj, j) != 0) {
        json_decref(obj);
        return NULL;
    }
    return obj;
}


/* The full SpeakerEnrollmentJob: the status plus the stored settings. */
static json_t *
job_full(const struct store_job *j)
{
    json_t *settings = json_loads(j->request_json, 0, NULL);
    json_t *obj = job_summary(j);

    if (obj == NULL || !json_is_object(settings)
        || json_object_update(obj, settings) != 0) {
        json_decref(obj);
        obj = NULL;
    }
    json_decref(settings);
    return obj;
}


static int
job_store_failed(int rc, const char *domain_id, struct api_error *err)
{
    if (rc == ERR_NOTFOUND)
        return api__not_found(err, "DOMAIN", "domain %s does not exist",
                              domain_id);
    return api__store_failed(err, rc);
}


int
jobs_describe(struct api_ctx *ctx, json_t *in, json_t **out,
              struct api_error *err)
{
    const char *domain_id = api__str(in, "DomainId");
    const char *job_id = api__str(in, "JobId");
    struct store_domain d = { 0 };
    struct store_job j = { 0 };
    json_t *job;
    int rc;

    /* An unknown domain and an unknown job are told apart, as Voice ID
     * did, through the resource type. */
    rc = domains__get(ctx, domain_id, &d, err);
    store_domain_clear(&d);
    if (rc != 0)
        return rc;

    rc = store_job_get(ctx->env->store, ctx->account, domain_id, job_id, &j);
    if (rc == ERR_NOTFOUND)
        return api__not_found(err, "BATCH_JOB", "speaker enrollment job "
                              "%s does not exist in domain %s", job_id,
                              domain_id);
    if (rc != 0)
        return api__store_failed(err, rc);

    job = job_full(&j);
    *out = job ? json_pack("{s:o}", "Job", job) : NULL;
    store_job_clear(&j);
    if (*out == NULL)
        return api__fail(err, "InternalServerException",
                         "cannot serialise job %s", job_id);
    return 0;
}


int
jobs_list(struct api_ctx *ctx, json_t *in, json_t **out,
          struct api_error *err)
{
    const char *domain_id = api__str(in, "DomainId");
    const char *status = api__str(in, "JobStatus");
    int64_t limit = api__int(in, "MaxResults", LIST_JOBS_DEFAULT_MAX);
    struct store_job *jobs = NULL;
    json_t *summaries = NULL;
    char filters[64];
    int64_t before = 0;
    size_t n = 0;
    bool more = false;
    int rc;

    snprintf(filters, sizeof(filters), "JobStatus=%s", status ? status : "");
    if (api__page_start(ctx, in, domain_id, filters, &before, err) != 0)
        return -1;

    rc = store_job_list(ctx->env->store, ctx->account, domain_id, status,
                        before, (int)limit, &jobs, &n, &more);
    if (rc != 0)
        return job_store_failed(rc, domain_id, err);

    rc = -1;
    summaries = json_array();
    *out = json_pack("{s:O}", "JobSummaries", summaries);
    if (*out == NULL)
        goto nomem;
    for (size_t i = 0; i < n; i++) {
        if (json_array_append_new(summaries, job_summary(&jobs[i])) != 0)
            goto nomem;
    }
    if (more && n > 0) {
        if (api__page_next(ctx, *out, domain_id, filters, jobs[n - 1].seq,
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
    store_jobs_free(jobs, n);
    return rc;
}
