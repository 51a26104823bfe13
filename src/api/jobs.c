/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Speaker enrollment job operations: StartSpeakerEnrollmentJob,
 * ListSpeakerEnrollmentJobs and DescribeSpeakerEnrollmentJob.
 *
 * Starting a job only records it, SUBMITTED, and wakes the runner
 * (jobs/runner.h), which does the work; the job's settings are stored with
 * their defaults filled in, so what Describe shows is what runs.
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
#include "jobs/runner.h"
#include "store/store.h"
#include "util/err.h"
#include "util/ids.h"
#include "util/json_text.h"

#define LIST_JOBS_DEFAULT_MAX 100


/* Writes the members SpeakerEnrollmentJob shares with its summary into
 * the object 'w' is in, straight from the record. */
static void
job_status_text(struct json_text *w, const struct store_job *j)
{
    json_text_key(w, "CreatedAt");
    json_text_time(w, j->created_at);
    json_text_member(w, "DomainId", j->domain_id);
    if (j->ended_at > 0) {
        json_text_key(w, "EndedAt");
        json_text_time(w, j->ended_at);
    }
    if (j->failure_code != 0 || j->failure_message) {
        json_text_key(w, "FailureDetails");
        json_text_open(w, '{');
        json_text_key(w, "StatusCode");
        json_text_int(w, j->failure_code);
        json_text_member(w, "Message", j->failure_message);
        json_text_close(w, '}');
    }
    json_text_member(w, "JobId", j->id);
    json_text_member(w, "JobName", j->name);
    json_text_key(w, "JobProgress");
    json_text_open(w, '{');
    json_text_key(w, "PercentComplete");
    json_text_int(w, j->percent_complete);
    json_text_close(w, '}');
    json_text_member(w, "JobStatus", j->status);
}


/* Answers {"Job": {...}}: the status and the settings the job was stored
 * with. */
static int
reply_job(struct api_ctx *ctx, const struct store_job *j,
          struct api_error *err)
{
    struct json_text w = JSON_TEXT_INIT;
    json_t *settings = json_loads(j->request_json, 0, NULL);
    const char *key;
    json_t *value;

    if (!json_is_object(settings)) {
        json_decref(settings);
        return api__fail(err, "InternalServerException", "the stored "
                         "settings of job %s are unreadable", j->id);
    }

    json_text_open(&w, '{');
    json_text_key(&w, "Job");
    json_text_open(&w, '{');
    job_status_text(&w, j);
    json_object_foreach(settings, key, value) {
        json_text_key(&w, key);
        json_text_value(&w, value);
    }
    json_text_close(&w, '}');
    json_text_close(&w, '}');
    json_decref(settings);
    return api__reply_text(ctx, &w, err);
}


static int
job_store_failed(int rc, const char *domain_id, struct api_error *err)
{
    if (rc == ERR_NOTFOUND)
        return api__not_found(err, "DOMAIN", "domain %s does not exist",
                              domain_id);
    return api__store_failed(err, rc);
}


/*
 * The settings a job runs with: the request's configuration, with SKIP,
 * FAIL and the domain's default watchlist where the caller left them out.
 * A watchlist other than the domain's is not found: only the default
 * watchlist exists in this version.
 */
static json_t *
job_settings(json_t *in, const struct store_domain *d, struct api_error *err)
{
    json_t *enroll = json_deep_copy(json_object_get(in, "EnrollmentConfig"));
    json_t *fraud;
    json_t *lists;
    json_t *settings;
    size_t i;
    json_t *id;

    if (enroll == NULL)
        enroll = json_object();
    if (json_object_get(enroll, "ExistingEnrollmentAction") == NULL)
        json_object_set_new(enroll, "ExistingEnrollmentAction",
                            json_string("SKIP"));
    fraud = json_object_get(enroll, "FraudDetectionConfig");
    if (fraud == NULL) {
        fraud = json_object();
        json_object_set_new(enroll, "FraudDetectionConfig", fraud);
    }
    if (json_object_get(fraud, "FraudDetectionAction") == NULL)
        json_object_set_new(fraud, "FraudDetectionAction",
                            json_string("FAIL"));
    lists = json_object_get(fraud, "WatchlistIds");
    if (lists == NULL) {
        lists = json_pack("[s]", d->default_watchlist_id);
        json_object_set_new(fraud, "WatchlistIds", lists);
    }
    json_array_foreach(lists, i, id) {
        if (strcmp(json_string_value(id), d->default_watchlist_id) != 0) {
            json_decref(enroll);
            api__not_found(err, "WATCHLIST", "watchlist %s does not exist "
                           "in domain %s", json_string_value(id), d->id);
            return NULL;
        }
    }

    settings = json_pack("{s:O, s:o, s:O, s:O}", "DataAccessRoleArn",
                         json_object_get(in, "DataAccessRoleArn"),
                         "EnrollmentConfig", enroll, "InputDataConfig",
                         json_object_get(in, "InputDataConfig"),
                         "OutputDataConfig",
                         json_object_get(in, "OutputDataConfig"));
    if (settings == NULL)
        api__fail(err, "InternalServerException", "out of memory");
    return settings;
}


static int
start_failed(int rc, const char *domain_id, int64_t max_active,
             struct api_error *err)
{
    switch (rc) {
    case ERR_QUOTA:
        return api__fail(err, "ServiceQuotaExceededException",
                         "domain %s already has %lld active speaker "
                         "enrollment jobs; wait for one to end or raise "
                         "--max-active-jobs", domain_id,
                         (long long)max_active);
    case ERR_MISMATCH:
        return api__fail(err, "ConflictException",
                         "ClientToken was already used for "
                         "StartSpeakerEnrollmentJob with different "
                         "parameters");
    default:
        return job_store_failed(rc, domain_id, err);
    }
}


int
jobs_start(struct api_ctx *ctx, json_t *in, json_t **out,
           struct api_error *err)
{
    const char *domain_id = api__str(in, "DomainId");
    struct store_domain d = { 0 };
    struct store_job j = { 0 };
    struct store_job made = { 0 };
    json_t *settings = NULL;
    char hash[65];
    int rc;

    *out = NULL;
    rc = domains__get(ctx, domain_id, &d, err);
    if (rc != 0)
        goto out;
    settings = job_settings(in, &d, err);
    if (settings == NULL) {
        rc = -1;
        goto out;
    }

    snprintf(j.account, sizeof(j.account), "%s", ctx->account);
    snprintf(j.domain_id, sizeof(j.domain_id), "%s", domain_id);
    j.name = (char *)api__str(in, "JobName");
    j.created_at = ctx->now;
    j.request_json = json_dumps(settings, JSON_COMPACT);
    if (j.request_json == NULL || ids_new(j.id) != 0
        || api__request_hash(in, hash) != 0) {
        rc = api__fail(err, "InternalServerException", "out of memory");
        goto out;
    }

    rc = store_job_create(ctx->env->store, &j, api__str(in, "ClientToken"),
                          hash, (int)ctx->env->max_active_jobs, &made);
    if (rc != 0) {
        rc = start_failed(rc, domain_id, ctx->env->max_active_jobs, err);
        goto out;
    }
    runner_notify(ctx->env->runner);

    rc = reply_job(ctx, &made, err);

out:
    free(j.request_json);
    json_decref(settings);
    store_job_clear(&made);
    store_domain_clear(&d);
    return rc;
}


int
jobs_describe(struct api_ctx *ctx, json_t *in, json_t **out,
              struct api_error *err)
{
    const char *domain_id = api__str(in, "DomainId");
    const char *job_id = api__str(in, "JobId");
    struct store_domain d = { 0 };
    struct store_job j = { 0 };
    int rc;

    *out = NULL;
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

    rc = reply_job(ctx, &j, err);
    store_job_clear(&j);
    return rc;
}


/* Writes each job of a listing as a JobSummary, as the store reads it. */
struct summary_writer {
    struct json_text *w;        /* inside the JobSummaries array */
    struct json_text_place start;   /* the array's start */
    size_t n;
    int64_t last_seq;
};


static int
summary_visit(void *arg, const struct store_job *j)
{
    struct summary_writer *sw = arg;

    if (j == NULL) {
        /* The store starts (over): drop what an earlier try wrote. */
        json_text_rewind(sw->w, sw->start);
        sw->n = 0;
        return 0;
    }
    json_text_open(sw->w, '{');
    job_status_text(sw->w, j);
    json_text_close(sw->w, '}');
    sw->n++;
    sw->last_seq = j->seq;
    return sw->w->err;
}


int
jobs_list(struct api_ctx *ctx, json_t *in, json_t **out,
          struct api_error *err)
{
    const char *domain_id = api__str(in, "DomainId");
    const char *status = api__str(in, "JobStatus");
    int64_t limit = api__int(in, "MaxResults", LIST_JOBS_DEFAULT_MAX);
    struct json_text w = JSON_TEXT_INIT;
    struct summary_writer sw = { &w, { 0, 0, false }, 0, 0 };
    char filters[64];
    int64_t before = 0;
    bool more = false;
    int rc;

    *out = NULL;
    snprintf(filters, sizeof(filters), "JobStatus=%s", status ? status : "");
    if (api__page_start(ctx, in, domain_id, filters, &before, err) != 0)
        return -1;

    /* A page of 100 summaries is the reply Timbre sends most: written
     * straight from the rows as the store reads them. */
    json_text_open(&w, '{');
    json_text_key(&w, "JobSummaries");
    json_text_open(&w, '[');
    sw.start = json_text_here(&w);
    rc = store_job_list_each(ctx->env->store, ctx->account, domain_id,
                             status, before, (int)limit, summary_visit, &sw,
                             &more);
    if (rc != 0) {
        json_text_discard(&w);
        if (rc == ERR_NOMEM)
            return api__fail(err, "InternalServerException",
                             "out of memory");
        return job_store_failed(rc, domain_id, err);
    }
    return api__list_reply_text(ctx, &w, more && sw.n > 0, domain_id,
                                filters, sw.last_seq, err);
}
