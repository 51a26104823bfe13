/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for the job runner, with real parts: a SQLite store, the
 * local object store and a key ring in a scratch data folder, and the
 * real voice engine with build/voice/default.model on recordings of
 * build/corpus/eval (both made by `make`). Tests that need the model or
 * the recordings are skipped with a message when they are missing.
 *
 * Each test submits jobs, runs a one-worker runner and polls the store
 * (bounded) until the job is terminal, then checks the job record, the
 * output file and the stored speakers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ftw.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <sqlite3.h>

#include "jobs/manifest.h"
#include "jobs/runner.h"
#include "objects/objects.h"
#include "store/store.h"
#include "timbre/voice.h"
#include "tmpdir.h"
#include "util/err.h"
#include "util/keyring.h"
#include "util/sealedprint.h"

#define MODEL_PATH "build/voice/default.model"
#define CORPUS "build/corpus/eval"
#define ACCOUNT "111122223333"
#define DOMAIN "Dom0000000000000000001"
#define KMS_KEY "key-runner"
#define WAIT_S 60.0

/* Loaded once for the whole run; NULL when the model is missing. */
static struct voice_engine *engine;

struct fixture {
    char dir[128];
    struct store *store;
    struct objects *objects;
    struct keyring *keyring;
    struct runner *runner;
    struct runner_options opts;
    int job_counter;
};


static double
now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}


static void
sleep_s(double s)
{
    struct timespec ts;

    ts.tv_sec = (time_t)s;
    ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
    nanosleep(&ts, NULL);
}


static int
remove_entry(const char *path, const struct stat *st, int flag,
             struct FTW *ftw)
{
    return remove(path);
}


static void
write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");

    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}


/* Copies a corpus recording to <data>/objects/calls/<name>. */
static bool
copy_recording(struct fixture *f, const char *src_rel, const char *name)
{
    char src[512];
    char dst[512];
    FILE *in;
    char *buf;
    long len;

    snprintf(src, sizeof src, "%s/%s", CORPUS, src_rel);
    snprintf(dst, sizeof dst, "%s/objects/calls/%s", f->dir, name);
    in = fopen(src, "rb");
    if (in == NULL)
        return false;
    fseek(in, 0, SEEK_END);
    len = ftell(in);
    fseek(in, 0, SEEK_SET);
    buf = malloc((size_t)len);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)len, in), (size_t)len);
    fclose(in);
    write_file(dst, buf, (size_t)len);
    free(buf);
    return true;
}


/* Writes 'text' as the object s3://calls/<name>. */
static void
put_manifest(struct fixture *f, const char *name, const char *text)
{
    char uri[256];

    snprintf(uri, sizeof uri, "s3://calls/%s", name);
    assert_int_equal(objects_put(f->objects, uri, text, strlen(text),
                                 NULL, 0), 0);
}


static int
setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    struct store_domain d;
    struct store_domain out;
    char path[256];
    const char *wavs[] = {
        "ev0001/ev0001-enroll01.wav", "ev0001/ev0001-enroll02.wav",
        "ev0001/ev0001-enroll03.wav", "ev0001/ev0001-enroll04.wav",
        "ev0002/ev0002-enroll01.wav", "ev0002/ev0002-enroll02.wav",
        "ev0002/ev0002-enroll03.wav", "ev0002/ev0002-enroll04.wav",
    };
    const char *names[] = {
        "a1.wav", "a2.wav", "a3.wav", "a4.wav",
        "b1.wav", "b2.wav", "b3.wav", "b4.wav",
    };

    assert_non_null(f);
    assert_int_equal(tmpdir_make(f->dir, sizeof f->dir, "test_runner"), 0);
    assert_int_equal(objects_open(f->dir, &f->objects, NULL, 0), 0);
    snprintf(path, sizeof path, "%s/objects/calls", f->dir);
    assert_int_equal(mkdir(path, 0700), 0);
    snprintf(path, sizeof path, "%s/objects/out", f->dir);
    assert_int_equal(mkdir(path, 0700), 0);
    for (size_t i = 0; i < sizeof wavs / sizeof wavs[0]; i++)
        copy_recording(f, wavs[i], names[i]);

    snprintf(path, sizeof path, "sqlite:%s/timbre.db", f->dir);
    assert_int_equal(store_open(path, &f->store), 0);
    snprintf(path, sizeof path, "%s/keyring", f->dir);
    assert_int_equal(keyring_open(path, &f->keyring, NULL, 0), 0);

    memset(&d, 0, sizeof d);
    snprintf(d.account, sizeof d.account, ACCOUNT);
    snprintf(d.id, sizeof d.id, DOMAIN);
    snprintf(d.default_watchlist_id, sizeof d.default_watchlist_id,
             "Wat0000000000000000001");
    d.name = "support";
    d.status = "ACTIVE";
    d.kms_key_id = KMS_KEY;
    d.created_at = now_s();
    d.updated_at = d.created_at;
    assert_int_equal(store_domain_create(f->store, &d, NULL, 0, NULL, NULL,
                                         10, &out), 0);
    store_domain_clear(&out);

    f->opts.store = f->store;
    f->opts.objects = f->objects;
    f->opts.keyring = f->keyring;
    f->opts.voice = engine;
    f->opts.workers = 1;
    f->opts.lease_s = 30;
    f->opts.min_enroll_speech_s = 20;
    f->opts.max_speakers_per_domain = 100;
    f->opts.max_requests_per_job = 100;
    f->opts.max_manifest_bytes = 1 << 20;
    *state = f;
    return 0;
}


static int
teardown(void **state)
{
    struct fixture *f = *state;

    runner_stop(f->runner);
    keyring_close(f->keyring);
    objects_close(f->objects);
    store_close(f->store);
    nftw(f->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}


/* Skips the test unless the model and the recordings are there. */
static void
need_voice(struct fixture *f)
{
    char path[256];

    if (engine == NULL) {
        print_message("skipped: %s is missing; run `make` first\n",
                      MODEL_PATH);
        skip();
    }
    snprintf(path, sizeof path, "%s/objects/calls/b4.wav", f->dir);
    if (access(path, R_OK) != 0) {
        print_message("skipped: recordings of %s are missing; run `make` "
                      "first\n", CORPUS);
        skip();
    }
}


static void
runner_go(struct fixture *f)
{
    assert_int_equal(runner_start(&f->opts, &f->runner), 0);
}


/* Creates a SUBMITTED job over s3://calls/<manifest> with 'action';
 * writes its id into 'id'. */
static void
job_submit(struct fixture *f, const char *manifest, const char *action,
           char id[STORE_ID_LEN + 1])
{
    struct store_job j;
    struct store_job out;
    char json[1024];

    memset(&j, 0, sizeof j);
    f->job_counter++;
    snprintf(j.account, sizeof j.account, ACCOUNT);
    snprintf(j.id, sizeof j.id, "Job%019d", f->job_counter);
    snprintf(j.domain_id, sizeof j.domain_id, DOMAIN);
    j.created_at = now_s();
    snprintf(json, sizeof json,
             "{\"DataAccessRoleArn\":\"arn:aws:iam::" ACCOUNT
             ":role/r\",\"EnrollmentConfig\":{\"ExistingEnrollmentAction\":"
             "\"%s\",\"FraudDetectionConfig\":{\"FraudDetectionAction\":"
             "\"FAIL\",\"RiskThreshold\":50}},\"InputDataConfig\":{"
             "\"S3Uri\":\"s3://calls/%s\"},\"OutputDataConfig\":{"
             "\"S3Uri\":\"s3://out/results/\"}}", action, manifest);
    j.request_json = json;
    assert_int_equal(store_job_create(f->store, &j, NULL, NULL, 100, &out),
                     0);
    snprintf(id, STORE_ID_LEN + 1, "%s", out.id);
    store_job_clear(&out);
    runner_notify(f->runner);
}


/* Polls until the job is terminal (at most WAIT_S) into *out. */
static void
job_wait(struct fixture *f, const char *id, struct store_job *out)
{
    double until = now_s() + WAIT_S;

    for (;;) {
        memset(out, 0, sizeof *out);
        assert_int_equal(store_job_get(f->store, ACCOUNT, DOMAIN, id, out),
                         0);
        if (strcmp(out->status, "SUBMITTED") != 0
            && strcmp(out->status, "IN_PROGRESS") != 0)
            return;
        store_job_clear(out);
        if (now_s() > until)
            fail_msg("job %s did not end within %.0f s", id, WAIT_S);
        sleep_s(0.05);
    }
}


/* Expects the job to have FAILED with 'code' and exactly 'message'. */
static void
expect_failed(struct fixture *f, const char *id, int code,
              const char *message)
{
    struct store_job j;

    job_wait(f, id, &j);
    assert_string_equal(j.status, "FAILED");
    assert_int_equal(j.failure_code, code);
    assert_non_null(j.failure_message);
    assert_string_equal(j.failure_message, message);
    assert_true(j.ended_at > 0);
    store_job_clear(&j);
}


/* Reads and parses the job's output file (manifest 'name'). */
static json_t *
output_read(struct fixture *f, const char *id, const char *name)
{
    char uri[256];
    char in[256];
    unsigned char *data = NULL;
    size_t len = 0;
    json_t *root;

    snprintf(in, sizeof in, "s3://calls/%s", name);
    assert_int_equal(job_output_uri("s3://out/results/", id, in, uri,
                                    sizeof uri), 0);
    assert_int_equal(objects_get(f->objects, uri, 1 << 20, &data, &len,
                                 NULL, 0), 0);
    root = json_loadb((const char *)data, len, 0, NULL);
    free(data);
    assert_non_null(root);
    assert_string_equal(json_string_value(json_object_get(root,
                                                          "Version")),
                        "1.0");
    return root;
}


static const char *
member(json_t *list, size_t i, const char *key)
{
    json_t *v = json_object_get(json_array_get(list, i), key);

    assert_non_null(v);
    return json_is_string(v) ? json_string_value(v) : NULL;
}


static int
member_int(json_t *list, size_t i, const char *key)
{
    json_t *v = json_object_get(json_array_get(list, i), key);

    assert_true(json_is_integer(v));
    return (int)json_integer_value(v);
}


#define AUDIO(name) "{\"S3Uri\": \"s3://calls/" name "\", \"ChannelId\": 0}"
#define AUDIO4(p) AUDIO(p "1.wav") ", " AUDIO(p "2.wav") ", " \
    AUDIO(p "3.wav") ", " AUDIO(p "4.wav")
#define REQUEST(rid, spk, audio) \
    "{\"RequestId\": \"" rid "\", \"SpeakerId\": \"" spk "\", " \
    "\"AudioSpecifications\": [" audio "]}"
#define MANIFEST(reqs) \
    "{\"Version\": \"1.0\", \"SpeakerEnrollmentRequests\": [" reqs "]}"
#define TWO_SPEAKERS MANIFEST(REQUEST("r1", "alice", AUDIO4("a")) ", " \
                              REQUEST("r2", "bob", AUDIO4("b")))


/* Checks the output of a two-speaker job: both lines 'status', in order,
 * with the generated ids 'ids' (or any when ids[i][0] is NUL, then
 * filled in). */
static void
expect_two_lines(struct fixture *f, const char *id, const char *status,
                 char ids[2][STORE_ID_LEN + 4])
{
    struct store_job j;
    json_t *root;
    json_t *ok;

    job_wait(f, id, &j);
    assert_string_equal(j.status, "COMPLETED");
    assert_int_equal(j.percent_complete, 100);
    assert_int_equal(j.failure_code, 0);
    assert_null(j.failure_message);
    store_job_clear(&j);

    root = output_read(f, id, "two.json");
    assert_int_equal(json_array_size(json_object_get(root, "Errors")), 0);
    ok = json_object_get(root, "SuccessfulEnrollments");
    assert_int_equal(json_array_size(ok), 2);
    assert_string_equal(member(ok, 0, "RequestId"), "r1");
    assert_string_equal(member(ok, 0, "CustomerSpeakerId"), "alice");
    assert_string_equal(member(ok, 1, "RequestId"), "r2");
    assert_string_equal(member(ok, 1, "CustomerSpeakerId"), "bob");
    for (size_t i = 0; i < 2; i++) {
        const char *gen = member(ok, i, "GeneratedSpeakerId");

        assert_string_equal(member(ok, i, "EnrollmentStatus"), status);
        assert_int_equal(strlen(gen), 3 + STORE_ID_LEN);
        assert_memory_equal(gen, "id#", 3);
        if (ids[i][0] == '\0')
            snprintf(ids[i], STORE_ID_LEN + 4, "%s", gen);
        else
            assert_string_equal(gen, ids[i]);
    }
    json_decref(root);
}


/* The stored speaker has a voiceprint sealed under 'key' and bound to
 * its domain and customer id. */
static void
expect_voiceprint_under(struct fixture *f, const char *key,
                        const char *customer_id, const char *generated_id)
{
    struct store_speaker sp;
    unsigned char *plain = NULL;
    size_t plain_len = 0;
    char aad[128];
    int n;

    memset(&sp, 0, sizeof sp);
    assert_int_equal(store_speaker_get(f->store, ACCOUNT, DOMAIN,
                                       customer_id, &sp), 0);
    assert_string_equal(sp.id, generated_id);
    assert_string_equal(sp.status, "ENROLLED");
    assert_non_null(sp.voiceprint);
    assert_string_equal(sp.voiceprint_version,
                        voice_engine_version(engine));

    n = snprintf(aad, sizeof aad, "timbre/voiceprint/%s/%s", DOMAIN,
                 customer_id);
    assert_int_equal(keyring_open_sealed(f->keyring, key, aad,
                                         (size_t)n, sp.voiceprint,
                                         sp.voiceprint_len, &plain,
                                         &plain_len), 0);
    assert_true(plain_len > 0);
    assert_int_equal(plain_len % 4, 0);
    assert_int_equal(sp.voiceprint_len, plain_len + KEYRING_OVERHEAD);
    free(plain);

    /* Bound to the customer: another AAD does not open it. */
    assert_int_equal(keyring_open_sealed(f->keyring, key, "x", 1,
                                         sp.voiceprint, sp.voiceprint_len,
                                         &plain, &plain_len), ERR_CRYPTO);
    store_speaker_clear(&sp);
}


/* ... under the domain's key, as the fixture creates it. */
static void
expect_sealed_voiceprint(struct fixture *f, const char *customer_id,
                         const char *generated_id)
{
    expect_voiceprint_under(f, KMS_KEY, customer_id, generated_id);
}


/* UpdateDomain's re-sealing step, as the API layer gives it. */
static int
reseal_with_keyring(void *keyring, const struct store_speaker *sp,
                    const char *old_key, const char *new_key,
                    unsigned char **sealed, size_t *sealed_len)
{
    return sealedprint_reseal(keyring, old_key, new_key, sp->domain_id,
                              sp->customer_id, sp->voiceprint,
                              sp->voiceprint_len, sealed, sealed_len);
}


/* A new domain key re-seals the voiceprints the runner sealed, and the
 * next job seals under the new key. */
static void
test_voiceprints_follow_the_domain_key(void **state)
{
    struct fixture *f = *state;
    char ids[2][STORE_ID_LEN + 4] = { "", "" };
    char id[STORE_ID_LEN + 1];
    struct store_domain d;
    size_t n_resealed = 0;

    need_voice(f);
    put_manifest(f, "two.json", TWO_SPEAKERS);
    runner_go(f);
    job_submit(f, "two.json", "SKIP", id);
    expect_two_lines(f, id, "NEW_ENROLLMENT", ids);

    memset(&d, 0, sizeof d);
    assert_int_equal(store_domain_get(f->store, ACCOUNT, DOMAIN, &d), 0);
    free(d.kms_key_id);
    d.kms_key_id = strdup("key-rotated");
    assert_int_equal(store_domain_update(f->store, &d, reseal_with_keyring,
                                         f->keyring, &n_resealed), 0);
    store_domain_clear(&d);
    assert_int_equal(n_resealed, 2);
    expect_voiceprint_under(f, "key-rotated", "alice", ids[0]);
    expect_voiceprint_under(f, "key-rotated", "bob", ids[1]);

    job_submit(f, "two.json", "OVERWRITE", id);
    expect_two_lines(f, id, "ENROLLMENT_OVERWRITE", ids);
    expect_voiceprint_under(f, "key-rotated", "alice", ids[0]);
}


static void
test_job_enrolls_then_skips_then_overwrites(void **state)
{
    struct fixture *f = *state;
    char ids[2][STORE_ID_LEN + 4] = { "", "" };
    char id[STORE_ID_LEN + 1];

    need_voice(f);
    put_manifest(f, "two.json", TWO_SPEAKERS);
    runner_go(f);

    job_submit(f, "two.json", "SKIP", id);
    expect_two_lines(f, id, "NEW_ENROLLMENT", ids);
    assert_string_not_equal(ids[0], ids[1]);
    expect_sealed_voiceprint(f, "alice", ids[0]);
    expect_sealed_voiceprint(f, "bob", ids[1]);

    job_submit(f, "two.json", "SKIP", id);
    expect_two_lines(f, id, "DUPLICATE_SKIPPED", ids);

    job_submit(f, "two.json", "OVERWRITE", id);
    expect_two_lines(f, id, "ENROLLMENT_OVERWRITE", ids);
    expect_sealed_voiceprint(f, "alice", ids[0]);
}


/* Without a borrowed engine the runner loads the model for the first
 * job and keeps it for the next. */
static void
test_model_is_loaded_for_the_first_job(void **state)
{
    struct fixture *f = *state;
    char ids[2][STORE_ID_LEN + 4] = { "", "" };
    char id[STORE_ID_LEN + 1];

    need_voice(f);
    f->opts.voice = NULL;
    f->opts.voice_model_path = MODEL_PATH;
    put_manifest(f, "two.json", TWO_SPEAKERS);
    runner_go(f);

    job_submit(f, "two.json", "SKIP", id);
    expect_two_lines(f, id, "NEW_ENROLLMENT", ids);
    job_submit(f, "two.json", "SKIP", id);
    expect_two_lines(f, id, "DUPLICATE_SKIPPED", ids);
}


static void
test_bad_requests_become_error_lines(void **state)
{
    struct fixture *f = *state;
    char id[STORE_ID_LEN + 1];
    struct store_job j;
    json_t *root;
    json_t *errors;
    json_t *ok;

    need_voice(f);
    put_manifest(f, "mixed.json", MANIFEST(
        REQUEST("short", "carol", AUDIO("a1.wav")) ", "
        REQUEST("good", "alice", AUDIO4("a")) ", "
        REQUEST("gone", "dave", AUDIO("nothere.wav")) ", "
        "{\"RequestId\": \"chan\", \"SpeakerId\": \"erin\", "
        "\"AudioSpecifications\": [{\"S3Uri\": \"s3://calls/b1.wav\", "
        "\"ChannelId\": 3}]}, "
        REQUEST("junk", "frank", AUDIO("b1.wav") ", " AUDIO("junk.wav"))));
    put_manifest(f, "junk.wav", "this is not a recording");
    runner_go(f);
    job_submit(f, "mixed.json", "SKIP", id);

    job_wait(f, id, &j);
    assert_string_equal(j.status, "COMPLETED_WITH_ERRORS");
    assert_int_equal(j.percent_complete, 100);
    assert_null(j.failure_message);
    store_job_clear(&j);

    root = output_read(f, id, "mixed.json");
    ok = json_object_get(root, "SuccessfulEnrollments");
    assert_int_equal(json_array_size(ok), 1);
    assert_string_equal(member(ok, 0, "RequestId"), "good");
    assert_string_equal(member(ok, 0, "EnrollmentStatus"),
                        "NEW_ENROLLMENT");

    errors = json_object_get(root, "Errors");
    assert_int_equal(json_array_size(errors), 4);
    assert_string_equal(member(errors, 0, "RequestId"), "short");
    assert_int_equal(member_int(errors, 0, "ErrorCode"), 400);
    assert_non_null(strstr(member(errors, 0, "ErrorMessage"),
                           "not enough speech: "));
    assert_non_null(strstr(member(errors, 0, "ErrorMessage"),
                           "20.0 s needed"));
    assert_string_equal(member(errors, 1, "RequestId"), "gone");
    assert_int_equal(member_int(errors, 1, "ErrorCode"), 400);
    assert_string_equal(member(errors, 1, "ErrorMessage"),
                        "cannot read audio s3://calls/nothere.wav: "
                        "no such key");
    /* No local path leaks into the caller's file. */
    assert_null(strstr(member(errors, 1, "ErrorMessage"), f->dir));
    assert_string_equal(member(errors, 2, "RequestId"), "chan");
    assert_int_equal(member_int(errors, 2, "ErrorCode"), 400);
    assert_non_null(strstr(member(errors, 2, "ErrorMessage"),
                           "ChannelId"));
    /* The engine names the file it could not use by its URI. */
    assert_string_equal(member(errors, 3, "RequestId"), "junk");
    assert_int_equal(member_int(errors, 3, "ErrorCode"), 400);
    assert_string_equal(member(errors, 3, "ErrorMessage"),
                        "s3://calls/junk.wav: not a WAV file");
    json_decref(root);

    /* Nobody was stored for the failed requests. */
    {
        struct store_speaker sp;

        memset(&sp, 0, sizeof sp);
        assert_int_equal(store_speaker_get(f->store, ACCOUNT, DOMAIN,
                                           "carol", &sp), ERR_NOTFOUND);
    }
}


static void
test_opted_out_and_quota_become_409_and_402(void **state)
{
    struct fixture *f = *state;
    struct store_speaker sp;
    char id[STORE_ID_LEN + 1];
    struct store_job j;
    json_t *root;
    json_t *errors;

    need_voice(f);
    memset(&sp, 0, sizeof sp);
    /* alice opted out: she is the domain's one speaker, and the limit. */
    assert_int_equal(store_speaker_opt_out(f->store, ACCOUNT, DOMAIN,
                                           "alice",
                                           "id#Spk0000000000000000001",
                                           10, now_s(), &sp), 0);
    store_speaker_clear(&sp);
    f->opts.max_speakers_per_domain = 1;
    put_manifest(f, "two.json", TWO_SPEAKERS);
    runner_go(f);
    job_submit(f, "two.json", "OVERWRITE", id);

    job_wait(f, id, &j);
    assert_string_equal(j.status, "COMPLETED_WITH_ERRORS");
    store_job_clear(&j);
    root = output_read(f, id, "two.json");
    assert_int_equal(json_array_size(json_object_get(
                         root, "SuccessfulEnrollments")), 0);
    errors = json_object_get(root, "Errors");
    assert_int_equal(json_array_size(errors), 2);
    assert_int_equal(member_int(errors, 0, "ErrorCode"), 409);
    assert_string_equal(member(errors, 0, "ErrorMessage"),
                        "speaker alice has opted out");
    assert_int_equal(member_int(errors, 1, "ErrorCode"), 402);
    assert_string_equal(member(errors, 1, "ErrorMessage"),
                        "the domain has reached its limit of 1 speakers");
    json_decref(root);
}


static void
test_missing_manifest_fails_404(void **state)
{
    struct fixture *f = *state;
    char id[STORE_ID_LEN + 1];

    need_voice(f);
    runner_go(f);
    job_submit(f, "none.json", "SKIP", id);
    expect_failed(f, id, 404, "manifest s3://calls/none.json not found");
}


static void
test_malformed_manifest_fails_400(void **state)
{
    struct fixture *f = *state;
    char id[STORE_ID_LEN + 1];
    struct store_job j;

    need_voice(f);
    put_manifest(f, "bad.json", "{\"Version\": \"1.0\", ");
    runner_go(f);
    job_submit(f, "bad.json", "SKIP", id);
    job_wait(f, id, &j);
    assert_string_equal(j.status, "FAILED");
    assert_int_equal(j.failure_code, 400);
    assert_non_null(j.failure_message);
    assert_true(strlen(j.failure_message) > 0);
    store_job_clear(&j);
}


static void
test_wrong_version_fails_400(void **state)
{
    struct fixture *f = *state;
    char id[STORE_ID_LEN + 1];

    need_voice(f);
    put_manifest(f, "v2.json", "{\"Version\": \"2.0\", "
                 "\"SpeakerEnrollmentRequests\": ["
                 REQUEST("r1", "alice", AUDIO("a1.wav")) "]}");
    runner_go(f);
    job_submit(f, "v2.json", "SKIP", id);
    expect_failed(f, id, 400, "Version must be \"1.0\", found \"2.0\"");
}


static void
test_too_many_requests_fails_402(void **state)
{
    struct fixture *f = *state;
    char id[STORE_ID_LEN + 1];

    need_voice(f);
    f->opts.max_requests_per_job = 1;
    put_manifest(f, "two.json", TWO_SPEAKERS);
    runner_go(f);
    job_submit(f, "two.json", "SKIP", id);
    expect_failed(f, id, 402, "the manifest has 2 requests; a job takes "
                  "at most 1 (--max-job-requests)");
}


static void
test_manifest_over_byte_limit_fails_400(void **state)
{
    struct fixture *f = *state;
    char id[STORE_ID_LEN + 1];

    need_voice(f);
    f->opts.max_manifest_bytes = 16;
    put_manifest(f, "two.json", TWO_SPEAKERS);
    runner_go(f);
    job_submit(f, "two.json", "SKIP", id);
    expect_failed(f, id, 400, "manifest s3://calls/two.json is larger than "
                  "the limit of 16 bytes");
}


static void
test_no_voice_model_fails_500(void **state)
{
    struct fixture *f = *state;
    char id[STORE_ID_LEN + 1];

    f->opts.voice = NULL;
    f->opts.voice_model_path = "/nonexistent/timbre.model";
    put_manifest(f, "one.json", MANIFEST(REQUEST("r1", "alice",
                                                 AUDIO("a1.wav"))));
    runner_go(f);
    job_submit(f, "one.json", "SKIP", id);
    expect_failed(f, id, 500, "the server has no usable voice model; its "
                  "log says why");
}


/* A missing output bucket fails the job before any work, as the caller's
 * mistake (404), not after every speaker is enrolled. */
static void
test_missing_output_bucket_fails_404_before_any_work(void **state)
{
    struct fixture *f = *state;
    char id[STORE_ID_LEN + 1];
    char path[256];
    struct store_job j;
    struct store_speaker sp;

    need_voice(f);
    put_manifest(f, "one.json", MANIFEST(REQUEST("r1", "alice",
                                                 AUDIO4("a"))));
    snprintf(path, sizeof path, "%s/objects/out", f->dir);
    assert_int_equal(rmdir(path), 0);   /* the output bucket is gone */
    runner_go(f);
    job_submit(f, "one.json", "SKIP", id);
    job_wait(f, id, &j);
    assert_string_equal(j.status, "FAILED");
    assert_int_equal(j.failure_code, 404);
    assert_non_null(j.failure_message);
    assert_non_null(strstr(j.failure_message, "OutputDataConfig.S3Uri "
                           "s3://out/results/ cannot be used: no such "
                           "bucket 'out'"));
    assert_null(strstr(j.failure_message, f->dir));
    store_job_clear(&j);

    memset(&sp, 0, sizeof sp);
    assert_int_equal(store_speaker_get(f->store, ACCOUNT, DOMAIN, "alice",
                                       &sp), ERR_NOTFOUND);
}


/* Reads a job's status and failure straight from the database, for a job
 * whose domain is deleted and so hidden from the store's calls. Returns
 * whether the job was found; fills 'out' (store_job_clear). */
static bool
job_status_raw(struct fixture *f, const char *id, struct store_job *out)
{
    char path[256];
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    bool found = false;

    memset(out, 0, sizeof *out);
    snprintf(path, sizeof path, "%s/timbre.db", f->dir);
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY,
                                     NULL), SQLITE_OK);
    sqlite3_busy_timeout(db, 1000);
    if (sqlite3_prepare_v2(db, "SELECT status, failure_code,"
                           " failure_message FROM enrollment_jobs"
                           " WHERE id = ?1", -1, &st, NULL) == SQLITE_OK
        && sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC) == SQLITE_OK
        && sqlite3_step(st) == SQLITE_ROW) {
        const char *message = (const char *)sqlite3_column_text(st, 2);

        out->status = strdup((const char *)sqlite3_column_text(st, 0));
        out->failure_code = sqlite3_column_int(st, 1);
        out->failure_message = message ? strdup(message) : NULL;
        found = out->status != NULL;
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return found;
}


/* DeleteDomain while a job runs: the job stops at the next request and
 * fails 404, instead of running every remaining request into an error. */
static void
test_domain_deleted_mid_job_fails_404(void **state)
{
    struct fixture *f = *state;
    enum { N_REQUESTS = 400 };
    char id[STORE_ID_LEN + 1];
    struct store_job j;
    size_t cap = N_REQUESTS * 400 + 128;
    size_t len;
    char *text;
    double until = now_s() + WAIT_S;

    need_voice(f);
    text = malloc(cap);
    assert_non_null(text);
    len = (size_t)snprintf(text, cap, "{\"Version\": \"1.0\", "
                           "\"SpeakerEnrollmentRequests\": [");
    for (int i = 0; i < N_REQUESTS; i++)
        len += (size_t)snprintf(text + len, cap - len, "%s"
                                REQUEST("r%d", "caller-%d", AUDIO4("a")),
                                i > 0 ? ", " : "", i, i);
    snprintf(text + len, cap - len, "]}");
    put_manifest(f, "many.json", text);
    free(text);

    f->opts.max_requests_per_job = N_REQUESTS;
    runner_go(f);
    job_submit(f, "many.json", "SKIP", id);
    for (;;) {
        memset(&j, 0, sizeof j);
        assert_int_equal(store_job_get(f->store, ACCOUNT, DOMAIN, id, &j),
                         0);
        if (j.percent_complete > 0)
            break;
        assert_string_equal(j.status, j.status[0] == 'S' ? "SUBMITTED"
                                                         : "IN_PROGRESS");
        store_job_clear(&j);
        assert_true(now_s() < until);
        usleep(2000);
    }
    store_job_clear(&j);
    assert_int_equal(store_domain_delete(f->store, ACCOUNT, DOMAIN,
                                         now_s()), 0);

    /* The domain is hidden now, so the job is read straight from the
     * database, where it stays until the retention sweep. */
    for (;;) {
        assert_true(now_s() < until);
        usleep(10000);
        if (job_status_raw(f, id, &j) && strcmp(j.status, "FAILED") == 0)
            break;
        store_job_clear(&j);
    }
    assert_int_equal(j.failure_code, 404);
    assert_non_null(strstr(j.failure_message, "was deleted while the job "
                           "ran"));
    store_job_clear(&j);
}


static void
test_expired_lease_is_taken_over_and_replayed(void **state)
{
    struct fixture *f = *state;
    char id[STORE_ID_LEN + 1];
    char ids[2][STORE_ID_LEN + 4] = { "", "" };
    struct store_job j;
    struct store_speaker sp;
    struct store_speaker stored;
    enum store_enroll_outcome outcome = 0;

    need_voice(f);
    put_manifest(f, "two.json", TWO_SPEAKERS);
    job_submit(f, "two.json", "SKIP", id);

    /* Another runner took the job and died. */
    memset(&j, 0, sizeof j);
    assert_int_equal(store_job_claim(f->store, "elsewhere:1:0", now_s(),
                                     0.5, &j), 0);
    assert_string_equal(j.id, id);
    store_job_clear(&j);

    /* It had applied the first request before it died. */
    memset(&sp, 0, sizeof sp);
    memset(&stored, 0, sizeof stored);
    snprintf(sp.account, sizeof sp.account, ACCOUNT);
    snprintf(sp.domain_id, sizeof sp.domain_id, DOMAIN);
    snprintf(sp.id, sizeof sp.id, "id#Pre0000000000000000001");
    sp.customer_id = "alice";
    sp.voiceprint = (unsigned char *)"sealed";
    sp.voiceprint_len = 6;
    sp.voiceprint_version = "v";
    sp.created_at = now_s();
    sp.updated_at = sp.created_at;
    assert_int_equal(store_enroll_apply(f->store, id, "r1", &sp, NULL,
                                        false, 100, &outcome, &stored), 0);
    assert_int_equal(outcome, STORE_ENROLL_NEW);
    store_speaker_clear(&stored);

    /* The runner re-runs every request and gets the recorded outcome for
     * the first, so the output is complete and nobody is enrolled twice. */
    snprintf(ids[0], sizeof ids[0], "id#Pre0000000000000000001");
    runner_go(f);
    expect_two_lines(f, id, "NEW_ENROLLMENT", ids);
    expect_sealed_voiceprint(f, "bob", ids[1]);

    /* The dead runner's lease is gone for good. */
    assert_int_equal(store_job_heartbeat(f->store, id, "elsewhere:1:0",
                                         now_s(), 30, 50), ERR_EXPIRED);
}


static void
test_lost_lease_drops_job_without_output(void **state)
{
    struct fixture *f = *state;
    char id[STORE_ID_LEN + 1];
    char text[8192];
    char uri[256];
    size_t used;
    size_t size = 0;
    struct store_job j;
    double until;
    int rc;

    need_voice(f);
    used = (size_t)snprintf(text, sizeof text, "{\"Version\": \"1.0\", "
                            "\"SpeakerEnrollmentRequests\": [");
    for (int i = 0; i < 20; i++) {
        used += (size_t)snprintf(text + used, sizeof text - used,
                                 "%s{\"RequestId\": \"r%d\", "
                                 "\"SpeakerId\": \"s%d\", "
                                 "\"AudioSpecifications\": [" AUDIO4("a")
                                 "]}", i > 0 ? ", " : "", i, i);
    }
    snprintf(text + used, sizeof text - used, "]}");
    assert_true(used + 3 < sizeof text);
    put_manifest(f, "many.json", text);

    /* Every lease this runner takes runs out a millisecond after it is
     * taken, well before its first request is done, so another claimant
     * may take the job over at once. */
    f->opts.lease_s = 0.001;
    runner_go(f);
    job_submit(f, "many.json", "SKIP", id);

    until = now_s() + WAIT_S;
    memset(&j, 0, sizeof j);
    do {
        rc = store_job_get(f->store, ACCOUNT, DOMAIN, id, &j);
        assert_int_equal(rc, 0);
        rc = strcmp(j.status, "IN_PROGRESS") == 0 ? 0 : ERR_NOTFOUND;
        store_job_clear(&j);
        if (rc == 0)
            rc = store_job_claim(f->store, "thief:1:0", now_s(), 60, &j);
        assert_true(now_s() < until);
    } while (rc == ERR_NOTFOUND);
    assert_int_equal(rc, 0);
    assert_string_equal(j.id, id);
    store_job_clear(&j);

    /* The runner notices at its next heartbeat and walks away: it neither
     * writes the output file nor ends the job. */
    sleep_s(1.5);
    runner_stop(f->runner);
    f->runner = NULL;
    assert_int_equal(store_job_get(f->store, ACCOUNT, DOMAIN, id, &j), 0);
    assert_string_equal(j.status, "IN_PROGRESS");
    store_job_clear(&j);
    assert_int_equal(job_output_uri("s3://out/results/", id,
                                    "s3://calls/many.json", uri,
                                    sizeof uri), 0);
    assert_int_equal(objects_stat(f->objects, uri, &size, NULL, 0),
                     ERR_NOTFOUND);
    assert_int_equal(store_job_finish(f->store, id, "thief:1:0",
                                      "COMPLETED", now_s(), 0, NULL), 0);
}


static void
test_zero_workers_leave_jobs_submitted(void **state)
{
    struct fixture *f = *state;
    char id[STORE_ID_LEN + 1];
    struct store_job j;

    f->opts.workers = 0;
    put_manifest(f, "one.json", MANIFEST(REQUEST("r1", "alice",
                                                 AUDIO("a1.wav"))));
    runner_go(f);
    job_submit(f, "one.json", "SKIP", id);
    sleep_s(0.3);
    memset(&j, 0, sizeof j);
    assert_int_equal(store_job_get(f->store, ACCOUNT, DOMAIN, id, &j), 0);
    assert_string_equal(j.status, "SUBMITTED");
    store_job_clear(&j);

    runner_notify(NULL);
    runner_stop(NULL);
}


static void
test_stop_returns_promptly_when_idle(void **state)
{
    struct fixture *f = *state;
    double t0;

    f->opts.workers = 3;
    runner_go(f);
    sleep_s(0.1);
    t0 = now_s();
    runner_stop(f->runner);
    f->runner = NULL;
    assert_true(now_s() - t0 < 1.5);
}


static int
group_setup(void **state)
{
    char msg[256] = "";

    if (access(MODEL_PATH, R_OK) != 0) {
        print_message("note: %s is missing; tests that need the voice "
                      "model are skipped (run `make`)\n", MODEL_PATH);
        return 0;
    }
    if (voice_engine_open(MODEL_PATH, &engine, msg, sizeof msg) != 0) {
        print_message("cannot load %s: %s\n", MODEL_PATH, msg);
        return -1;
    }
    return 0;
}


static int
group_teardown(void **state)
{
    voice_engine_free(engine);
    engine = NULL;
    return 0;
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_job_enrolls_then_skips_then_overwrites, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_voiceprints_follow_the_domain_key, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_model_is_loaded_for_the_first_job, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_bad_requests_become_error_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_opted_out_and_quota_become_409_and_402, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_missing_manifest_fails_404, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_malformed_manifest_fails_400, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_wrong_version_fails_400, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_too_many_requests_fails_402, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_manifest_over_byte_limit_fails_400, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_no_voice_model_fails_500, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_missing_output_bucket_fails_404_before_any_work, setup,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_domain_deleted_mid_job_fails_404, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_expired_lease_is_taken_over_and_replayed, setup,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_lost_lease_drops_job_without_output, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_zero_workers_leave_jobs_submitted, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_stop_returns_promptly_when_idle, setup, teardown),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
