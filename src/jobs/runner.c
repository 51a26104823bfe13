/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The job runner's workers: claim, enroll request by request, write the
 * output file, finish.
 *
 * Ideas and invariants:
 *
 * - The store is the only shared state between workers and processes. A
 *   worker holds a job only while its lease lasts; every write that
 *   matters (heartbeat, finish) names the owner, so a worker that lost
 *   its lease learns it (ERR_EXPIRED) and walks away without touching the
 *   output file or the job's status.
 *
 * - Nothing done per request needs undoing: store_enroll_apply records
 *   the outcome of each request of a job, so a job claimed again after a
 *   crash or a lost lease re-runs every request (embedding again) and gets
 *   the recorded outcomes back. The output file is therefore always
 *   rendered from the complete request list.
 *
 * - Whole-job faults (settings, manifest, output location, no voice
 *   model) are found before anyone is enrolled, and end the job FAILED
 *   with FailureDetails. A manifest over max_requests_per_job (the
 *   speakers-per-job quota) fails with StatusCode 402, the code the
 *   output file uses for a quota, and names the setting that raises it.
 *   A domain deleted while the job runs stops it at the next request,
 *   FAILED with 404.
 *
 * - Progress is done * 100 / n after each request but kept at 99 until
 *   the output file is written: 100 means the job's results exist.
 *
 * - Messages that reach the output file name S3 URIs, never local paths:
 *   the voice engine names the files it read, so those paths are mapped
 *   back to the URIs the caller gave. Messages are cut to valid UTF-8.
 *
 * - A voiceprint is sealed under the domain's key as the job last read
 *   it. UpdateDomain re-seals the domain's voiceprints under a new key,
 *   and the store refuses one sealed under the old key afterwards, so
 *   the request reads the new key and seals again.
 *
 * - Voiceprints and audio never reach the log; each event (claimed,
 *   finished, failed, lease lost) is one line tagged "job=<id>".
 */
#include "jobs/runner.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "jobs/manifest.h"
#include "objects/objects.h"
#include "store/store.h"
#include "timbre/voice.h"
#include "util/clock.h"
#include "util/err.h"
#include "util/ids.h"
#include "util/log.h"
#include "util/sealedprint.h"

#define OWNER_MAX 320           /* "<hostname>:<pid>:<index>" */
#define MESSAGE_MAX 1024        /* an output line's or failure's message */
#define LOCAL_PATH_MAX 4096
#define IDLE_WAIT_S 1

struct worker {
    struct runner *r;
    int index;
    char owner[OWNER_MAX];
    pthread_t thread;
    bool started;
};

struct runner {
    struct runner_options opts;
    struct worker *workers;
    int n_workers;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    uint64_t notifications;     /* bumped by runner_notify */
    bool stopping;

    /* The engine jobs use: opts.voice, or the one loaded on first use.
     * Loading takes a while, so it has a lock of its own. */
    pthread_mutex_t voice_lock;
    const struct voice_engine *voice;
    struct voice_engine *loaded_voice;  /* owned; NULL until loaded */
};

/* The job a worker is carrying out, and what it has learnt so far. */
struct job_run {
    struct runner *r;
    const char *owner;
    struct store_job job;
    char tag[8 + STORE_ID_LEN];         /* "job=<id>" */
    char *input_uri;                    /* from request_json */
    char *output_prefix;
    bool overwrite;
    char output_uri[OBJECTS_KEY_MAX + OBJECTS_BUCKET_MAX + 8];
    char *kms_key_id;                   /* the domain's */
    struct job_manifest *manifest;
    struct job_output *output;
    const struct voice_engine *voice;   /* the runner's */
    char (*paths)[LOCAL_PATH_MAX];      /* VOICE_MAX_ENROLL_FILES of them */
    size_t n_enrolled;
    size_t n_errors;
    bool lease_lost;
    bool domain_gone;                   /* deleted while the job ran */
};


static bool
is_stopping(struct runner *r)
{
    bool stop;

    pthread_mutex_lock(&r->lock);
    stop = r->stopping;
    pthread_mutex_unlock(&r->lock);
    return stop;
}


/* Length of the valid UTF-8 sequence at 's' (at most 'left' bytes), or
 * 0 when the bytes there are not one. */
static size_t
utf8_seq_len(const unsigned char *s, size_t left)
{
    size_t n;
    uint32_t cp;

    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xC2 && s[0] <= 0xDF)
        n = 2;
    else if (s[0] >= 0xE0 && s[0] <= 0xEF)
        n = 3;
    else if (s[0] >= 0xF0 && s[0] <= 0xF4)
        n = 4;
    else
        return 0;
    if (n > left)
        return 0;

    cp = s[0] & (0x3F >> (n - 1));
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF))
        || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}


/* Makes 'msg' valid UTF-8 in place: control characters and invalid bytes
 * become '?', so a message cut mid-character or quoting odd input can
 * still go into the output file. */
static void
utf8_clean(char *msg)
{
    unsigned char *s = (unsigned char *)msg;
    size_t left = strlen(msg);
    size_t n;

    while (left > 0) {
        n = utf8_seq_len(s, left);
        if (n == 0 || (n == 1 && (s[0] < 0x20 || s[0] == 0x7F))) {
            *s = '?';
            n = 1;
        }
        s += n;
        left -= n;
    }
}


/* Replaces in 'msg' (capacity 'cap') every occurrence of 'from' by 'to',
 * cutting the result to fit. */
static void
replace_all(char *msg, size_t cap, const char *from, const char *to)
{
    char *out;
    size_t from_len = strlen(from);
    size_t used = 0;
    const char *p = msg;
    const char *hit;

    if (from_len == 0 || strstr(msg, from) == NULL)
        return;
    out = malloc(cap);
    if (out == NULL)
        return;

    out[0] = '\0';
    while ((hit = strstr(p, from)) != NULL && used + 1 < cap) {
        used += (size_t)snprintf(out + used, cap - used, "%.*s%s",
                                 (int)(hit - p), p, to);
        if (used >= cap)
            used = cap - 1;
        p = hit + from_len;
    }
    if (used + 1 < cap)
        snprintf(out + used, cap - used, "%s", p);
    memcpy(msg, out, cap);
    free(out);
}


/* The part of an objects message after its leading "<uri>: ", so the
 * runner can name the URI once in its own words. */
static const char *
after_uri(const char *msg, const char *uri)
{
    size_t n = strlen(uri);

    if (strncmp(msg, uri, n) == 0 && strncmp(msg + n, ": ", 2) == 0)
        return msg + n + 2;
    return msg;
}


/* Reads a string member at 'a'.'b' of 'root' ('b' NULL for a top-level
 * member) into a new string; NULL when absent or not a string. */
static char *
json_path_dup(json_t *root, const char *a, const char *b)
{
    json_t *v = json_object_get(root, a);

    if (b != NULL)
        v = json_object_get(v, b);
    if (!json_is_string(v))
        return NULL;
    return strdup(json_string_value(v));
}


/* Fills the settings of 'jr' from the job's request_json. Returns 0,
 * ERR_INVAL when a required setting is missing, or ERR_NOMEM. */
static int
settings_read(struct job_run *jr)
{
    json_t *root;
    json_t *action;
    int rc = 0;

    if (jr->job.request_json == NULL)
        return ERR_INVAL;
    root = json_loads(jr->job.request_json, 0, NULL);
    if (root == NULL)
        return ERR_INVAL;

    jr->input_uri = json_path_dup(root, "InputDataConfig", "S3Uri");
    jr->output_prefix = json_path_dup(root, "OutputDataConfig", "S3Uri");
    if (jr->input_uri == NULL || jr->output_prefix == NULL) {
        rc = ERR_INVAL;
        goto out;
    }

    /* SKIP is the default, as in the API. */
    action = json_object_get(json_object_get(root, "EnrollmentConfig"),
                             "ExistingEnrollmentAction");
    jr->overwrite = json_is_string(action)
                    && strcmp(json_string_value(action), "OVERWRITE") == 0;

out:
    json_decref(root);
    return rc;
}


/* Records the job's end; true when it was recorded. A lost lease or a
 * store failure is logged: the job is then another runner's, or runs
 * again once its lease runs out. */
static bool
job_finish(struct job_run *jr, const char *status, int code,
           const char *message)
{
    int rc;

    rc = store_job_finish(jr->r->opts.store, jr->job.id, jr->owner, status,
                          clock_epoch_s(), code, message);
    if (rc == ERR_EXPIRED) {
        log_msg(LOG_WARN, "runner", jr->tag, "lease lost before the job "
                "could be marked %s; another runner holds it", status);
        return false;
    }
    if (rc != 0) {
        log_msg(LOG_ERROR, "runner", jr->tag, "store_job_finish failed: "
                "%s; the job runs again when its lease runs out",
                err_str(rc));
        return false;
    }
    return true;
}


/* Ends the job FAILED with 'code' and the formatted message. */
static void
job_fail(struct job_run *jr, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
job_fail(struct job_run *jr, int code, const char *fmt, ...)
{
    char msg[MESSAGE_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    utf8_clean(msg);

    if (job_finish(jr, "FAILED", code, msg))
        log_msg(LOG_WARN, "runner", jr->tag, "job failed: %d %s", code,
                msg);
}


/* Reads and parses the manifest. Returns 0, or ends the job FAILED and
 * returns the error. */
static int
manifest_load(struct job_run *jr)
{
    const struct runner_options *o = &jr->r->opts;
    unsigned char *data = NULL;
    size_t len = 0;
    char msg[MESSAGE_MAX] = "";
    int rc;

    rc = objects_get(o->objects, jr->input_uri, o->max_manifest_bytes,
                     &data, &len, msg, sizeof msg);
    switch (rc) {
    case 0:
        break;
    case ERR_NOTFOUND:
        job_fail(jr, 404, "manifest %s not found", jr->input_uri);
        return rc;
    case ERR_TOOBIG:
        job_fail(jr, 400, "manifest %s is larger than the limit of %zu "
                 "bytes", jr->input_uri, o->max_manifest_bytes);
        return rc;
    case ERR_INVAL:
    case ERR_DENIED:
        if (msg[0] == '\0')
            snprintf(msg, sizeof msg, "manifest %s cannot be read: %s",
                     jr->input_uri, err_str(rc));
        job_fail(jr, 400, "%s", msg);
        return rc;
    default:
        job_fail(jr, 500, "cannot read manifest %s: %s", jr->input_uri,
                 err_str(rc));
        return rc;
    }

    msg[0] = '\0';
    rc = job_manifest_parse((const char *)data, len,
                            (size_t)(o->max_requests_per_job > 0
                                         ? o->max_requests_per_job : 1),
                            &jr->manifest, msg, sizeof msg);
    free(data);
    if (rc == ERR_INVAL) {
        job_fail(jr, 400, "%s", msg[0] != '\0' ? msg
                                               : "the manifest is invalid");
    } else if (rc == ERR_QUOTA) {
        job_fail(jr, 402, "%s (--max-job-requests)", msg);
    } else if (rc != 0) {
        job_fail(jr, 500, "cannot parse manifest %s: %s", jr->input_uri,
                 err_str(rc));
    }
    return rc;
}


/* Adds an error line for a request; ERR_NOMEM is the only failure. */
static int
request_error(struct job_run *jr, const struct job_request *req, int code,
              char *msg)
{
    int rc;

    utf8_clean(msg);
    rc = job_output_error(jr->output, req->request_id, code, msg);
    if (rc == 0)
        jr->n_errors++;
    return rc;
}


/* Seals the voiceprint under the domain's key as last read. */
static int
voiceprint_seal(struct job_run *jr, const struct job_request *req,
                const struct voice_print *vp, unsigned char **sealed,
                size_t *sealed_len)
{
    return sealedprint_seal(jr->r->opts.keyring, jr->kms_key_id,
                            jr->job.domain_id, req->speaker_id, vp->values,
                            vp->dim, sealed, sealed_len);
}


/* Reads the domain's key again after UpdateDomain changed it under the
 * job, so that the next seal uses the new one. */
static int
domain_key_refresh(struct job_run *jr)
{
    struct store_domain d;
    int rc;

    memset(&d, 0, sizeof d);
    rc = store_domain_get(jr->r->opts.store, jr->job.account,
                          jr->job.domain_id, &d);
    if (rc == 0 && d.kms_key_id == NULL)
        rc = ERR_INTERNAL;
    if (rc == 0) {
        free(jr->kms_key_id);
        jr->kms_key_id = d.kms_key_id;
        d.kms_key_id = NULL;
    }
    store_domain_clear(&d);
    return rc;
}


static const char *
outcome_status(enum store_enroll_outcome outcome)
{
    switch (outcome) {
    case STORE_ENROLL_NEW:
        return "NEW_ENROLLMENT";
    case STORE_ENROLL_OVERWRITE:
        return "ENROLLMENT_OVERWRITE";
    case STORE_ENROLL_SKIPPED:
        return "DUPLICATE_SKIPPED";
    default:
        return NULL;
    }
}


static const char *
last_segment(const char *path)
{
    const char *slash = strrchr(path, '/');

    return slash != NULL ? slash + 1 : path;
}


/*
 * The caller knows its files by URI, not by our paths: rewrites the
 * engine's message 'msg' (capacity 'cap') to name them so. The engine
 * names a file by its last path segment ("a.wav: not a WAV file"); that
 * name is replaced only when one audio file of the request has it, since
 * otherwise it cannot be told which file was meant. Full paths, should a
 * message hold one, are always replaced.
 */
static void
name_by_uri(struct job_run *jr, const struct job_request *req, char *msg,
            size_t cap)
{
    const char *base = NULL;
    size_t base_len = 0;
    size_t which = 0;
    size_t same = 0;
    char *text;

    for (size_t i = 0; i < req->n_audio; i++)
        replace_all(msg, cap, jr->paths[i], req->audio[i].s3_uri);

    for (size_t i = 0; i < req->n_audio && base == NULL; i++) {
        base_len = strlen(last_segment(jr->paths[i]));
        if (strncmp(msg, last_segment(jr->paths[i]), base_len) == 0
            && strncmp(msg + base_len, ": ", 2) == 0) {
            base = last_segment(jr->paths[i]);
            which = i;
        }
    }
    if (base == NULL)
        return;
    for (size_t i = 0; i < req->n_audio; i++)
        same += strcmp(last_segment(jr->paths[i]), base) == 0;
    if (same != 1)
        return;

    if (asprintf(&text, "%s%s", req->audio[which].s3_uri,
                 msg + base_len) < 0)
        return;
    snprintf(msg, cap, "%s", text);
    free(text);
}


/* Turns the request's audio into a voiceprint. Returns 0, or adds the
 * request's error line and returns 1; a negative value only for a
 * failure to add that line. */
static int
request_embed(struct job_run *jr, const struct job_request *req,
              struct voice_print *vp)
{
    const struct runner_options *o = &jr->r->opts;
    struct voice_source sources[VOICE_MAX_ENROLL_FILES];
    char msg[MESSAGE_MAX] = "";
    char full[2 * MESSAGE_MAX + OBJECTS_KEY_MAX + 128];
    int code;
    int rc;

    for (size_t i = 0; i < req->n_audio; i++) {
        msg[0] = '\0';
        rc = objects_local_path(o->objects, req->audio[i].s3_uri,
                                jr->paths[i], LOCAL_PATH_MAX, msg,
                                sizeof msg);
        if (rc != 0) {
            snprintf(full, sizeof full, "cannot read audio %s: %s",
                     req->audio[i].s3_uri,
                     msg[0] != '\0' ? after_uri(msg, req->audio[i].s3_uri)
                                     : err_str(rc));
            return request_error(jr, req, 400, full) == 0 ? 1 : ERR_NOMEM;
        }
        sources[i].path = jr->paths[i];
        sources[i].channel = req->audio[i].channel;
    }

    msg[0] = '\0';
    rc = voice_engine_embed(jr->voice, sources, req->n_audio,
                            o->min_enroll_speech_s, vp, msg, sizeof msg);
    if (rc == 0)
        return 0;
    voice_print_clear(vp);

    name_by_uri(jr, req, msg, sizeof msg);
    if (msg[0] == '\0')
        snprintf(msg, sizeof msg, "%s", err_str(rc));

    code = 400;
    if (rc == ERR_NOSPEECH) {
        snprintf(full, sizeof full, "not enough speech: %s", msg);
    } else if (rc == ERR_NOMEM || rc == ERR_INTERNAL) {
        code = 500;
        snprintf(full, sizeof full, "internal error while making the "
                 "voiceprint: %s", msg);
    } else {
        snprintf(full, sizeof full, "%s", msg);
    }
    return request_error(jr, req, code, full) == 0 ? 1 : ERR_NOMEM;
}


/* How often a request seals again after the domain's key changed under
 * it; more than one change within one request is not worth waiting for. */
#define RESEAL_ATTEMPTS 3

/* Seals the voiceprint into sp->voiceprint (which the caller frees) and
 * records the enrollment. The store refuses a blob sealed under a key the
 * domain no longer has, since UpdateDomain re-seals every voiceprint when
 * the key changes; the new key is read and the voiceprint sealed again.
 * On failure *step names what failed, for the output file. */
static int
speaker_store(struct job_run *jr, const struct job_request *req,
              const struct voice_print *vp, struct store_speaker *sp,
              enum store_enroll_outcome *outcome,
              struct store_speaker *stored, const char **step)
{
    const struct runner_options *o = &jr->r->opts;
    int rc = ERR_MISMATCH;

    for (int i = 0; i < RESEAL_ATTEMPTS && rc == ERR_MISMATCH; i++) {
        if (i > 0) {
            *step = "reading the domain's new key";
            rc = domain_key_refresh(jr);
            if (rc != 0)
                return rc;
        }
        if (sp->voiceprint != NULL) {
            explicit_bzero(sp->voiceprint, sp->voiceprint_len);
            free(sp->voiceprint);
            sp->voiceprint = NULL;
        }

        *step = "sealing the voiceprint";
        rc = voiceprint_seal(jr, req, vp, &sp->voiceprint,
                             &sp->voiceprint_len);
        if (rc != 0)
            return rc;

        *step = "storing the speaker";
        rc = store_enroll_apply(o->store, jr->job.id, req->request_id, sp,
                                jr->kms_key_id, jr->overwrite,
                                o->max_speakers_per_domain, outcome,
                                stored);
    }
    return rc;
}


/* Carries out one request, adding its line to the output. Returns 0, or
 * a negative error when the line itself could not be added. */
static int
request_run(struct job_run *jr, const struct job_request *req)
{
    const struct runner_options *o = &jr->r->opts;
    struct voice_print vp;
    struct store_speaker sp;
    struct store_speaker stored;
    enum store_enroll_outcome outcome = 0;
    char rid[IDS_RESOURCE_LEN + 1];
    char msg[MESSAGE_MAX];
    const char *step;
    double now;
    int rc;

    memset(&vp, 0, sizeof vp);
    memset(&sp, 0, sizeof sp);
    memset(&stored, 0, sizeof stored);

    if (req->problem != NULL) {
        snprintf(msg, sizeof msg, "%s", req->problem);
        return request_error(jr, req, 400, msg);
    }

    rc = request_embed(jr, req, &vp);
    if (rc != 0)
        return rc > 0 ? 0 : rc;

    /* TODO: Check the voiceprint against the watchlists' fraudsters
     * (FraudDetectionConfig) before enrolling. Timbre cannot register
     * fraudsters yet, so every watchlist is empty and the check always
     * passes; it matters once fraudster registration jobs exist. */

    rc = ids_new(rid);
    if (rc != 0) {
        snprintf(msg, sizeof msg, "internal error while making a speaker "
                 "id: %s", err_str(rc));
        rc = request_error(jr, req, 500, msg);
        goto out;
    }

    now = clock_epoch_s();
    snprintf(sp.account, sizeof sp.account, "%s", jr->job.account);
    snprintf(sp.domain_id, sizeof sp.domain_id, "%s", jr->job.domain_id);
    snprintf(sp.id, sizeof sp.id, "id#%s", rid);
    sp.customer_id = req->speaker_id;
    sp.voiceprint_version = vp.version;
    sp.created_at = now;
    sp.updated_at = now;

    rc = speaker_store(jr, req, &vp, &sp, &outcome, &stored, &step);
    if (rc == ERR_NOTFOUND) {
        jr->domain_gone = true;
        rc = 0;
        goto out;
    }
    if (rc != 0) {
        snprintf(msg, sizeof msg, "internal error while %s: %s", step,
                 err_str(rc));
        rc = request_error(jr, req, 500, msg);
        goto out;
    }

    switch (outcome) {
    case STORE_ENROLL_NEW:
    case STORE_ENROLL_OVERWRITE:
    case STORE_ENROLL_SKIPPED:
        rc = job_output_success(jr->output, req->request_id, stored.id,
                                req->speaker_id, outcome_status(outcome));
        if (rc == 0)
            jr->n_enrolled++;
        break;
    case STORE_ENROLL_OPTED_OUT:
        snprintf(msg, sizeof msg, "speaker %s has opted out",
                 req->speaker_id);
        rc = request_error(jr, req, 409, msg);
        break;
    case STORE_ENROLL_QUOTA:
        snprintf(msg, sizeof msg, "the domain has reached its limit of %d "
                 "speakers", o->max_speakers_per_domain);
        rc = request_error(jr, req, 402, msg);
        break;
    default:
        snprintf(msg, sizeof msg, "internal error: unknown enrollment "
                 "outcome %d", (int)outcome);
        rc = request_error(jr, req, 500, msg);
        break;
    }

out:
    store_speaker_clear(&stored);
    if (sp.voiceprint != NULL) {
        explicit_bzero(sp.voiceprint, sp.voiceprint_len);
        free(sp.voiceprint);
    }
    voice_print_clear(&vp);
    return rc;
}


/* Renews the lease and records progress. Returns false when the lease
 * was lost (jr->lease_lost is then set). */
static bool
heartbeat(struct job_run *jr, int percent)
{
    const struct runner_options *o = &jr->r->opts;
    int rc;

    rc = store_job_heartbeat(o->store, jr->job.id, jr->owner,
                             clock_epoch_s(), o->lease_s, percent);
    if (rc == ERR_EXPIRED) {
        jr->lease_lost = true;
        log_msg(LOG_WARN, "runner", jr->tag, "lease lost: another runner "
                "holds the job now; dropping it without output");
        return false;
    }
    if (rc != 0)
        log_msg(LOG_WARN, "runner", jr->tag, "store_job_heartbeat failed: "
                "%s; carrying on", err_str(rc));
    return true;
}


/* The FailureDetails.StatusCode of an output location that cannot be
 * written: the caller's mistake where it is one. */
static int
output_status(int rc)
{
    switch (rc) {
    case ERR_NOTFOUND:
        return 404;
    case ERR_DENIED:
        return 403;
    case ERR_INVAL:
    case ERR_EXISTS:
        return 400;
    default:
        return 500;
    }
}


/* Writes the output file and ends the job COMPLETED or
 * COMPLETED_WITH_ERRORS (or FAILED when the file cannot be written). */
static void
job_complete(struct job_run *jr)
{
    const struct runner_options *o = &jr->r->opts;
    const char *status;
    char *text = NULL;
    size_t len = 0;
    char msg[MESSAGE_MAX] = "";
    int rc;

    rc = job_output_render(jr->output, &text, &len);
    if (rc != 0) {
        job_fail(jr, 500, "cannot render output %s: %s", jr->output_uri,
                 err_str(rc));
        return;
    }
    rc = objects_put(o->objects, jr->output_uri, text, len, msg,
                     sizeof msg);
    free(text);
    if (rc != 0) {
        job_fail(jr, output_status(rc), "cannot write output %s: %s",
                 jr->output_uri,
                 msg[0] != '\0' ? after_uri(msg, jr->output_uri)
                                 : err_str(rc));
        return;
    }

    status = jr->n_errors == 0 ? "COMPLETED" : "COMPLETED_WITH_ERRORS";
    if (!job_finish(jr, status, 0, NULL))
        return;
    log_msg(LOG_INFO, "runner", jr->tag, "job finished: %s, %zu "
            "requests, %zu enrolled or skipped, %zu errors", status,
            jr->manifest->n_requests, jr->n_enrolled, jr->n_errors);
}


/* The voice engine, loaded now if no job has needed it yet. Returns
 * NULL with the reason in 'msg' when the model cannot be loaded. */
static const struct voice_engine *
runner_voice(struct runner *r, const char *tag, char *msg, size_t cap)
{
    const struct voice_engine *voice;

    pthread_mutex_lock(&r->voice_lock);
    if (r->voice == NULL
        && voice_engine_open(r->opts.voice_model_path, &r->loaded_voice,
                             msg, cap) == 0) {
        r->voice = r->loaded_voice;
        log_msg(LOG_INFO, "runner", tag, "voice model %s loaded",
                voice_engine_version(r->voice));
    }
    voice = r->voice;
    pthread_mutex_unlock(&r->voice_lock);
    return voice;
}


/* Finds the domain's key and the output location; FAILS the job when
 * either is unusable. */
static int
job_prepare(struct job_run *jr)
{
    const struct runner_options *o = &jr->r->opts;
    struct store_domain d;
    char msg[MESSAGE_MAX / 2] = "";
    int rc;

    memset(&d, 0, sizeof d);
    rc = settings_read(jr);
    if (rc != 0) {
        job_fail(jr, 500, "the job's stored settings are unreadable");
        return rc;
    }

    rc = job_output_uri(jr->output_prefix, jr->job.id, jr->input_uri,
                        jr->output_uri, sizeof jr->output_uri);
    if (rc == ERR_TOOBIG) {
        job_fail(jr, 400, "the output file's URI under "
                 "OutputDataConfig.S3Uri %s would be too long",
                 jr->output_prefix);
        return rc;
    }
    if (rc != 0) {
        job_fail(jr, 400, "no output file can be named from "
                 "OutputDataConfig.S3Uri %s and InputDataConfig.S3Uri %s",
                 jr->output_prefix, jr->input_uri);
        return rc;
    }

    rc = store_domain_get(o->store, jr->job.account, jr->job.domain_id, &d);
    if (rc == ERR_NOTFOUND) {
        job_fail(jr, 404, "domain %s no longer exists", jr->job.domain_id);
        return rc;
    }
    if (rc != 0) {
        job_fail(jr, 500, "cannot read domain %s: %s", jr->job.domain_id,
                 err_str(rc));
        return rc;
    }
    jr->kms_key_id = d.kms_key_id;
    d.kms_key_id = NULL;
    store_domain_clear(&d);
    if (jr->kms_key_id == NULL) {
        job_fail(jr, 500, "domain %s has no encryption key",
                 jr->job.domain_id);
        return ERR_INTERNAL;
    }

    rc = manifest_load(jr);
    if (rc != 0)
        return rc;

    /* A job of thousands of requests should not find out at its end
     * that its output cannot be written. */
    rc = objects_bucket_check(o->objects, jr->output_uri, msg, sizeof msg);
    if (rc != 0) {
        job_fail(jr, output_status(rc), "OutputDataConfig.S3Uri %s cannot "
                 "be used: %s", jr->output_prefix,
                 msg[0] != '\0' ? after_uri(msg, jr->output_uri)
                                 : err_str(rc));
        return rc;
    }

    /* The reason names files of the server, which are the operator's
     * business, not the caller's: it goes to the log only. */
    jr->voice = runner_voice(jr->r, jr->tag, msg, sizeof msg);
    if (jr->voice == NULL) {
        log_msg(LOG_ERROR, "runner", jr->tag, "cannot load the voice "
                "model: %s", msg);
        job_fail(jr, 500, "the server has no usable voice model; its "
                 "log says why");
        return ERR_INVAL;
    }

    jr->paths = malloc(VOICE_MAX_ENROLL_FILES * sizeof(*jr->paths));
    rc = jr->paths == NULL ? ERR_NOMEM : job_output_new(&jr->output);
    if (rc != 0)
        job_fail(jr, 500, "out of memory");
    return rc;
}


/* Runs a claimed job to its end, or until the lease is lost or the
 * runner stops. */
static void
job_run(struct runner *r, const char *owner, struct store_job *job)
{
    struct job_run jr;
    size_t n;
    int percent;
    int rc;

    memset(&jr, 0, sizeof jr);
    jr.r = r;
    jr.owner = owner;
    jr.job = *job;
    memset(job, 0, sizeof *job);
    snprintf(jr.tag, sizeof jr.tag, "job=%s", jr.job.id);
    log_msg(LOG_INFO, "runner", jr.tag, "job claimed by %s for domain %s",
            owner, jr.job.domain_id);

    if (job_prepare(&jr) != 0)
        goto out;

    n = jr.manifest->n_requests;
    for (size_t i = 0; i < n; i++) {
        if (is_stopping(r)) {
            log_msg(LOG_INFO, "runner", jr.tag, "stopping after %zu of %zu "
                    "requests; the job resumes when its lease runs out",
                    i, n);
            goto out;
        }
        rc = request_run(&jr, &jr.manifest->requests[i]);
        if (rc != 0) {
            job_fail(&jr, 500, "internal error at request %zu: %s", i + 1,
                     err_str(rc));
            goto out;
        }
        if (jr.domain_gone) {
            job_fail(&jr, 404, "domain %s was deleted while the job ran, "
                     "after %zu of %zu requests", jr.job.domain_id, i, n);
            goto out;
        }
        percent = (int)((i + 1) * 100 / n);
        if (percent > 99)
            percent = 99;
        if (!heartbeat(&jr, percent))
            goto out;
    }

    job_complete(&jr);

out:
    free(jr.paths);
    job_output_free(jr.output);
    job_manifest_free(jr.manifest);
    free(jr.kms_key_id);
    free(jr.input_uri);
    free(jr.output_prefix);
    store_job_clear(&jr.job);
}


static void *
worker_main(void *arg)
{
    struct worker *w = arg;
    struct runner *r = w->r;
    struct store_job job;
    struct timespec deadline;
    uint64_t seen;
    int rc;

    memset(&job, 0, sizeof job);
    for (;;) {
        pthread_mutex_lock(&r->lock);
        if (r->stopping) {
            pthread_mutex_unlock(&r->lock);
            break;
        }
        seen = r->notifications;
        pthread_mutex_unlock(&r->lock);

        rc = store_job_claim(r->opts.store, w->owner, clock_epoch_s(),
                             r->opts.lease_s, &job);
        if (rc == 0) {
            job_run(r, w->owner, &job);
            continue;
        }
        if (rc != ERR_NOTFOUND)
            log_msg(LOG_WARN, "runner", NULL, "store_job_claim failed: %s; "
                    "retrying in %d s", err_str(rc), IDLE_WAIT_S);

        /* A notification that came after 'seen' was read means a job may
         * be waiting already, so the wait is skipped. */
        pthread_mutex_lock(&r->lock);
        clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_sec += IDLE_WAIT_S;
        while (!r->stopping && r->notifications == seen) {
            if (pthread_cond_timedwait(&r->wake, &r->lock, &deadline)
                == ETIMEDOUT)
                break;
        }
        pthread_mutex_unlock(&r->lock);
    }
    return NULL;
}


/* Joins the started workers and frees the runner. */
static void
runner_free(struct runner *r)
{
    for (int i = 0; i < r->n_workers; i++) {
        if (r->workers[i].started)
            pthread_join(r->workers[i].thread, NULL);
    }
    voice_engine_free(r->loaded_voice);
    pthread_mutex_destroy(&r->voice_lock);
    pthread_cond_destroy(&r->wake);
    pthread_mutex_destroy(&r->lock);
    free(r->workers);
    free(r);
}


int
runner_start(const struct runner_options *opts, struct runner **out)
{
    struct runner *r;
    char host[256];

    if (opts == NULL || out == NULL)
        return ERR_INVAL;
    r = calloc(1, sizeof(*r));
    if (r == NULL)
        return ERR_NOMEM;
    r->opts = *opts;
    r->n_workers = opts->workers > 0 ? opts->workers : 0;
    if (r->n_workers > 0) {
        r->workers = calloc((size_t)r->n_workers, sizeof(*r->workers));
        if (r->workers == NULL) {
            free(r);
            return ERR_NOMEM;
        }
    }
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->wake, NULL);
    pthread_mutex_init(&r->voice_lock, NULL);
    r->voice = opts->voice;

    if (gethostname(host, sizeof host) != 0)
        snprintf(host, sizeof host, "localhost");
    host[sizeof host - 1] = '\0';

    for (int i = 0; i < r->n_workers; i++) {
        struct worker *w = &r->workers[i];

        w->r = r;
        w->index = i;
        snprintf(w->owner, sizeof w->owner, "%s:%ld:%d", host,
                 (long)getpid(), i);
        if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
            pthread_mutex_lock(&r->lock);
            r->stopping = true;
            pthread_cond_broadcast(&r->wake);
            pthread_mutex_unlock(&r->lock);
            runner_free(r);
            return ERR_INTERNAL;
        }
        w->started = true;
    }
    *out = r;
    return 0;
}


void
runner_notify(struct runner *r)
{
    if (r == NULL)
        return;
    pthread_mutex_lock(&r->lock);
    r->notifications++;
    pthread_cond_signal(&r->wake);
    pthread_mutex_unlock(&r->lock);
}


void
runner_stop(struct runner *r)
{
    if (r == NULL)
        return;
    pthread_mutex_lock(&r->lock);
    r->stopping = true;
    pthread_cond_broadcast(&r->wake);
    pthread_mutex_unlock(&r->lock);
    runner_free(r);
}
