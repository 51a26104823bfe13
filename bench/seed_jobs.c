/* SPDX-License-Identifier: Apache-2.0 */
/*
 * seed-jobs: adds speaker enrollment jobs to a domain through Timbre's own
 * storage code (store_jobs_import), for benchmarks and tests that need a
 * deep job history. It is a tool of the benchmark, not of the product: the
 * jobs it writes have ended (or are given the status asked for) and are
 * never run.
 *
 *   seed-jobs --data-dir DIR --account ACCOUNT --domain ID --count N
 *             [--status STATUS] [--start-time EPOCH_S]
 *
 * Without --status the jobs cycle through COMPLETED (7 in 10),
 * COMPLETED_WITH_ERRORS (2 in 10) and FAILED (1 in 10), one second apart
 * in creation time from --start-time on. Prints one JSON line with the
 * count and the time taken.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/store.h"
#include "util/err.h"
#include "util/ids.h"

#define CHUNK 10000

static const char settings_json[] =
    "{\"DataAccessRoleArn\":\"arn:aws:iam::000000000000:role/voiceid\","
    "\"EnrollmentConfig\":{\"ExistingEnrollmentAction\":\"SKIP\","
    "\"FraudDetectionConfig\":{\"FraudDetectionAction\":\"FAIL\","
    "\"RiskThreshold\":50}},"
    "\"InputDataConfig\":{\"S3Uri\":\"s3://calls/manifest.json\"},"
    "\"OutputDataConfig\":{\"S3Uri\":\"s3://calls/output\"}}";


static const char *
cycled_status(long i)
{
    long k = i % 10;

    return k < 7 ? "COMPLETED" : k < 9 ? "COMPLETED_WITH_ERRORS" : "FAILED";
}


static void
fill(struct store_job *j, long i, const char *account, const char *domain,
     const char *status, double start_s, char *name, size_t name_cap)
{
    memset(j, 0, sizeof(*j));
    snprintf(j->account, sizeof(j->account), "%s", account);
    snprintf(j->domain_id, sizeof(j->domain_id), "%s", domain);
    ids_new(j->id);
    snprintf(name, name_cap, "seed-%ld", i);
    j->name = name;
    j->status = (char *)(status ? status : cycled_status(i));
    j->created_at = start_s + (double)i;
    j->request_json = (char *)settings_json;
    if (strcmp(j->status, "SUBMITTED") == 0)
        return;
    j->percent_complete = 100;
    j->ended_at = j->created_at + 60;
    if (strcmp(j->status, "FAILED") == 0) {
        j->percent_complete = 0;
        j->failure_code = 400;
        j->failure_message = (char *)"the manifest is not valid JSON";
    }
    if (strcmp(j->status, "IN_PROGRESS") == 0) {
        j->percent_complete = 50;
        j->ended_at = 0;
    }
}


int
main(int argc, char **argv)
{
    const char *data_dir = NULL, *account = "000000000000", *domain = NULL;
    const char *status = NULL;
    long count = 0;
    double start_s = 1.7e9;
    struct store_job *jobs;
    char (*names)[32];
    struct store *s = NULL;
    struct timespec t0, t1;
    char url[4200];
    int rc;

    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--data-dir") == 0)
            data_dir = argv[i + 1];
        else if (strcmp(argv[i], "--account") == 0)
            account = argv[i + 1];
        else if (strcmp(argv[i], "--domain") == 0)
            domain = argv[i + 1];
        else if (strcmp(argv[i], "--count") == 0)
            count = atol(argv[i + 1]);
        else if (strcmp(argv[i], "--status") == 0)
            status = argv[i + 1];
        else if (strcmp(argv[i], "--start-time") == 0)
            start_s = atof(argv[i + 1]);
    }
    if (data_dir == NULL || domain == NULL || count <= 0) {
        fprintf(stderr, "usage: seed-jobs --data-dir DIR --domain ID "
                "--count N [--account A] [--status S] [--start-time T]\n");
        return 2;
    }

    snprintf(url, sizeof(url), "sqlite:%s/timbre.db", data_dir);
    rc = store_open(url, &s);
    jobs = calloc(CHUNK, sizeof(*jobs));
    names = calloc(CHUNK, sizeof(*names));
    if (rc != 0 || jobs == NULL || names == NULL) {
        fprintf(stderr, "seed-jobs: cannot open %s: %s\n", url,
                err_str(rc ? rc : ERR_NOMEM));
        return 1;
    }

    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long done = 0; done < count && rc == 0;) {
        long n = count - done < CHUNK ? count - done : CHUNK;

        for (long i = 0; i < n; i++)
            fill(&jobs[i], done + i, account, domain, status, start_s,
                 names[i], sizeof(names[i]));
        rc = store_jobs_import(s, jobs, (size_t)n);
        done += n;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    store_close(s);
    free(jobs);
    free(names);

    if (rc != 0) {
        fprintf(stderr, "seed-jobs: store_jobs_import failed: %s\n",
                err_str(rc));
        return 1;
    }
    printf("{\"jobs\":%ld,\"seconds\":%.1f}\n", count,
           (double)(t1.tv_sec - t0.tv_sec)
               + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    return 0;
}
