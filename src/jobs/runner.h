/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The job runner: worker threads that take SUBMITTED speaker enrollment
 * jobs from the store and carry them out.
 *
 * A worker claims a job with a lease (store_job_claim), renews it as
 * requests finish (store_job_heartbeat, which also records the percentage
 * done), and ends the job (store_job_finish). A worker or process that
 * dies leaves its lease to run out, and any runner of any process sharing
 * the database then claims the job again; requests already applied are
 * recorded by store_enroll_apply, so nobody is enrolled twice and the
 * output file is complete.
 *
 * Per job: read the manifest named by InputDataConfig.S3Uri (objects),
 * parse it (jobs/manifest.h); a manifest that is missing, unreadable,
 * malformed, of the wrong Version or over the limits FAILS the whole job
 * with FailureDetails. Otherwise each request is enrolled: its audio is
 * turned into one voiceprint (voice engine, the enrollment speech minimum
 * applies), sealed under the domain's KMS key (util/sealedprint.h) and applied
 * with the job's ExistingEnrollmentAction. A request that fails becomes an
 * error line of the output file (400 bad input or too little speech, 402
 * quota, 409 opted out, 500 internal) and the job ends
 * COMPLETED_WITH_ERRORS; otherwise COMPLETED. The output file is written
 * atomically under OutputDataConfig.S3Uri (jobs/manifest.h names it).
 *
 * Without a borrowed engine the runner loads the voice model itself when
 * the first job needs it, so a server that runs no job does not hold the
 * model's memory. A model that cannot be loaded fails that job with 500
 * and is tried again for the next one.
 */
#ifndef TIMBRE_JOBS_RUNNER_H
#define TIMBRE_JOBS_RUNNER_H

#include <stddef.h>

struct store;
struct objects;
struct keyring;
struct voice_engine;
struct runner;

struct runner_options {
    struct store *store;                /* borrowed, all of them */
    struct objects *objects;
    struct keyring *keyring;
    const struct voice_engine *voice;   /* NULL: load voice_model_path */
    const char *voice_model_path;       /* NULL for the default model */
    int workers;                        /* threads; 0 starts none */
    double lease_s;                     /* a claim's lease, e.g. 60 */
    double min_enroll_speech_s;
    int max_speakers_per_domain;
    int max_requests_per_job;
    size_t max_manifest_bytes;
};

/* Starts the workers. The borrowed objects must outlive the runner.
 * Returns 0, ERR_NOMEM or ERR_INTERNAL (a thread could not start). */
int runner_start(const struct runner_options *opts, struct runner **out);

/* Wakes an idle worker because a job was just submitted. NULL is fine. */
void runner_notify(struct runner *r);

/* Stops the workers at their next request boundary and waits for them;
 * a job left unfinished is resumed by the next claim once its lease runs
 * out. NULL is fine. */
void runner_stop(struct runner *r);

#endif
