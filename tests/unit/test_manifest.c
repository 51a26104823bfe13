/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for the speaker enrollment job's manifest and output file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "jobs/manifest.h"
#include "util/err.h"

#define AUDIO "{\"S3Uri\": \"s3://calls/a.wav\", \"ChannelId\": 0}"
#define REQ(id, spk) \
    "{\"RequestId\": \"" id "\", \"SpeakerId\": \"" spk "\", " \
    "\"AudioSpecifications\": [" AUDIO "]}"
#define FILE_OF(reqs) \
    "{\"Version\": \"1.0\", \"SpeakerEnrollmentRequests\": [" reqs "]}"


/* Parses a NUL-terminated manifest with a limit of 10,000 requests. */
static int
parse(const char *text, struct job_manifest **m, char *msg, size_t cap)
{
    return job_manifest_parse(text, strlen(text), 10000, m, msg, cap);
}


/* Expects 'text' to fail as a whole with exactly 'want' as message. */
static void
expect_file_error(const char *text, const char *want)
{
    struct job_manifest *m = (struct job_manifest *)0x1;
    char msg[512] = "";

    assert_int_equal(parse(text, &m, msg, sizeof msg), ERR_INVAL);
    assert_ptr_equal(m, (struct job_manifest *)0x1);
    assert_string_equal(msg, want);
}


/* Parses a one-request file and expects that request to carry 'want'. */
static void
expect_problem(const char *request, const char *want)
{
    struct job_manifest *m = NULL;
    char text[4096];
    char msg[256] = "";

    snprintf(text, sizeof text, "{\"Version\": \"1.0\", "
             "\"SpeakerEnrollmentRequests\": [%s, " REQ("ok", "good")
             "]}", request);
    assert_int_equal(parse(text, &m, msg, sizeof msg), 0);
    assert_int_equal(m->n_requests, 2);
    assert_string_equal(m->requests[0].request_id, "r1");
    assert_non_null(m->requests[0].problem);
    assert_string_equal(m->requests[0].problem, want);
    assert_null(m->requests[1].problem);
    job_manifest_free(m);
}


static void
test_manifest_parses_several_requests_in_order(void **state)
{
    const char *text =
        "{\"Version\": \"1.0\", \"SpeakerEnrollmentRequests\": ["
        "{\"RequestId\": \"r1\", \"SpeakerId\": \"cust-001\","
        " \"AudioSpecifications\": ["
        "  {\"S3Uri\": \"s3://calls/2024/a.wav\", \"ChannelId\": 0},"
        "  {\"S3Uri\": \"s3://calls/2024/b.wav\", \"ChannelId\": 1}]},"
        "{\"RequestId\": \"r2\", \"SpeakerId\": \"Z_9\","
        " \"AudioSpecifications\": ["
        "  {\"S3Uri\": \"s3://my.bucket-1/x\", \"ChannelId\": 1}]},"
        REQ("r3", "c") "]}";
    struct job_manifest *m = NULL;
    char msg[256] = "";

    assert_int_equal(parse(text, &m, msg, sizeof msg), 0);
    assert_int_equal(m->n_requests, 3);
    assert_string_equal(m->requests[0].request_id, "r1");
    assert_string_equal(m->requests[0].speaker_id, "cust-001");
    assert_int_equal(m->requests[0].n_audio, 2);
    assert_string_equal(m->requests[0].audio[0].s3_uri,
                        "s3://calls/2024/a.wav");
    assert_int_equal(m->requests[0].audio[0].channel, 0);
    assert_string_equal(m->requests[0].audio[1].s3_uri,
                        "s3://calls/2024/b.wav");
    assert_int_equal(m->requests[0].audio[1].channel, 1);
    assert_null(m->requests[0].problem);
    assert_string_equal(m->requests[1].request_id, "r2");
    assert_string_equal(m->requests[1].speaker_id, "Z_9");
    assert_string_equal(m->requests[1].audio[0].s3_uri,
                        "s3://my.bucket-1/x");
    assert_int_equal(m->requests[1].audio[0].channel, 1);
    assert_null(m->requests[1].problem);
    assert_string_equal(m->requests[2].request_id, "r3");
    assert_null(m->requests[2].problem);
    job_manifest_free(m);
}


static void
test_manifest_rejects_non_json_with_line_and_column(void **state)
{
    struct job_manifest *m = NULL;
    char msg[256] = "";
    const char *text = "{\"Version\": \"1.0\",\n  \"SpeakerEnroll";

    assert_int_equal(parse(text, &m, msg, sizeof msg), ERR_INVAL);
    assert_null(m);
    assert_non_null(strstr(msg, "the manifest is not valid JSON: "));
    assert_non_null(strstr(msg, "(line 2, column "));

    assert_int_equal(parse("", &m, msg, sizeof msg), ERR_INVAL);
    assert_non_null(strstr(msg, "not valid JSON"));
}


static void
test_manifest_rejects_duplicate_member_names(void **state)
{
    struct job_manifest *m = NULL;
    char msg[256] = "";
    const char *text = "{\"Version\": \"1.0\", \"Version\": \"1.0\", "
                       "\"SpeakerEnrollmentRequests\": [" REQ("a", "b")
                       "]}";

    assert_int_equal(parse(text, &m, msg, sizeof msg), ERR_INVAL);
    assert_non_null(strstr(msg, "not valid JSON"));
    assert_non_null(strstr(msg, "duplicate"));
}


static void
test_manifest_rejects_non_object_root(void **state)
{
    expect_file_error("[1, 2]",
                      "the manifest must be a JSON object, found a list");
}


static void
test_manifest_rejects_missing_or_wrong_version(void **state)
{
    expect_file_error("{\"SpeakerEnrollmentRequests\": [" REQ("a", "b")
                      "]}",
                      "the manifest has no Version; it must be \"1.0\"");
    expect_file_error("{\"Version\": \"2.0\"}",
                      "Version must be \"1.0\", found \"2.0\"");
    expect_file_error("{\"Version\": 1.0}",
                      "Version must be \"1.0\", found a number");
    expect_file_error("{\"Version\": \"1.0\\n\\\"x\"}",
                      "Version must be \"1.0\", found \"1.0??x\"");
}


static void
test_manifest_rejects_bad_request_list(void **state)
{
    expect_file_error("{\"Version\": \"1.0\"}",
                      "the manifest has no SpeakerEnrollmentRequests "
                      "list");
    expect_file_error("{\"Version\": \"1.0\", "
                      "\"SpeakerEnrollmentRequests\": {}}",
                      "SpeakerEnrollmentRequests must be a list, found "
                      "an object");
    expect_file_error(FILE_OF(""),
                      "SpeakerEnrollmentRequests is empty; a job needs "
                      "at least one request");
}


static void
test_manifest_rejects_request_that_is_not_an_object(void **state)
{
    expect_file_error(FILE_OF(REQ("a", "b") ", \"x\""),
                      "request 2 must be an object, found a string");
}


static void
test_manifest_rejects_unusable_request_id(void **state)
{
    char text[1024];
    char id[JOB_REQUEST_ID_MAX + 2];

    expect_file_error(FILE_OF("{\"SpeakerId\": \"b\"}"),
                      "request 1 has no RequestId");
    expect_file_error(FILE_OF(REQ("a", "b") ", {\"RequestId\": 7}"),
                      "request 2: RequestId must be a string, found a "
                      "number");
    expect_file_error(FILE_OF(REQ("", "b")),
                      "request 1: RequestId is empty");

    memset(id, 'x', JOB_REQUEST_ID_MAX + 1);
    id[JOB_REQUEST_ID_MAX + 1] = '\0';
    snprintf(text, sizeof text, FILE_OF("{\"RequestId\": \"%s\"}"), id);
    expect_file_error(text, "request 1: RequestId is 257 characters "
                      "long; at most 256 are allowed");

    /* 256 characters of two bytes each are still 256 characters. */
    text[0] = '\0';
    strcat(text, "{\"Version\": \"1.0\", \"SpeakerEnrollmentRequests\": "
           "[{\"RequestId\": \"");
    for (int i = 0; i < JOB_REQUEST_ID_MAX; i++)
        strcat(text, "\xc3\xa9");
    strcat(text, "\", \"SpeakerId\": \"s\", \"AudioSpecifications\": ["
           AUDIO "]}]}");
    {
        struct job_manifest *m = NULL;
        char msg[256] = "";

        assert_int_equal(parse(text, &m, msg, sizeof msg), 0);
        assert_int_equal(strlen(m->requests[0].request_id),
                         2 * JOB_REQUEST_ID_MAX);
        job_manifest_free(m);
    }
}


static void
test_manifest_rejects_repeated_request_id_naming_both(void **state)
{
    expect_file_error(FILE_OF(REQ("r1", "a") "," REQ("r7", "a") ","
                              REQ("r3", "a") "," REQ("r7", "b") ","
                              REQ("r1", "c") "," REQ("r7", "c")),
                      "RequestId 'r7' appears twice (requests 2 and 4); "
                      "each request needs its own RequestId");
}


static void
test_manifest_enforces_max_requests_with_readable_counts(void **state)
{
    const size_t n = 10001;
    size_t cap = 100 + n * 120;
    char *text = malloc(cap);
    size_t used;
    struct job_manifest *m = NULL;
    char msg[256] = "";

    assert_non_null(text);
    used = (size_t)snprintf(text, cap, "{\"Version\": \"1.0\", "
                            "\"SpeakerEnrollmentRequests\": [");
    for (size_t i = 0; i < n; i++)
        used += (size_t)snprintf(text + used, cap - used,
                                 "%s{\"RequestId\": \"r%zu\", "
                                 "\"SpeakerId\": \"s%zu\", "
                                 "\"AudioSpecifications\": [" AUDIO "]}",
                                 i ? "," : "", i, i);
    used += (size_t)snprintf(text + used, cap - used, "]}");

    assert_int_equal(job_manifest_parse(text, used, 10000, &m, msg,
                                        sizeof msg), ERR_QUOTA);
    assert_string_equal(msg, "the manifest has 10,001 requests; a job "
                        "takes at most 10,000");

    assert_int_equal(job_manifest_parse(text, used, 10001, &m, msg,
                                        sizeof msg), 0);
    assert_int_equal(m->n_requests, n);
    assert_string_equal(m->requests[10000].request_id, "r10000");
    job_manifest_free(m);

    assert_int_equal(job_manifest_parse(text, used, 0, &m, msg,
                                        sizeof msg), ERR_INVAL);
    free(text);
}


static void
test_manifest_records_speaker_id_problems_in_the_request(void **state)
{
    char request[1024];
    char long_id[JOB_SPEAKER_ID_MAX + 2];

    expect_problem("{\"RequestId\": \"r1\", \"AudioSpecifications\": ["
                   AUDIO "]}", "SpeakerId is missing");
    expect_problem("{\"RequestId\": \"r1\", \"SpeakerId\": 5}",
                   "SpeakerId must be a string, found a number");
    expect_problem(REQ("r1", "-abc"),
                   "SpeakerId \"-abc\" is not a valid CustomerSpeakerId: "
                   "use 1-256 letters, digits, '_' or '-', starting with "
                   "a letter or digit");
    expect_problem(REQ("r1", ""),
                   "SpeakerId \"\" is not a valid CustomerSpeakerId: "
                   "use 1-256 letters, digits, '_' or '-', starting with "
                   "a letter or digit");
    expect_problem(REQ("r1", "a b"),
                   "SpeakerId \"a b\" is not a valid CustomerSpeakerId: "
                   "use 1-256 letters, digits, '_' or '-', starting with "
                   "a letter or digit");

    memset(long_id, 'a', JOB_SPEAKER_ID_MAX + 1);
    long_id[JOB_SPEAKER_ID_MAX + 1] = '\0';
    snprintf(request, sizeof request, REQ("r1", "%s"), long_id);
    expect_problem(request, "SpeakerId is 257 characters long; at most "
                   "256 are allowed");

    /* Exactly 256 is fine. */
    long_id[JOB_SPEAKER_ID_MAX] = '\0';
    {
        struct job_manifest *m = NULL;
        char text[2048];
        char msg[256];

        snprintf(text, sizeof text, FILE_OF(REQ("r1", "%s")), long_id);
        assert_int_equal(parse(text, &m, msg, sizeof msg), 0);
        assert_null(m->requests[0].problem);
        assert_string_equal(m->requests[0].speaker_id, long_id);
        job_manifest_free(m);
    }
}


static void
test_manifest_records_audio_problems_in_the_request(void **state)
{
    expect_problem("{\"RequestId\": \"r1\", \"SpeakerId\": \"s\"}",
                   "AudioSpecifications is missing");
    expect_problem("{\"RequestId\": \"r1\", \"SpeakerId\": \"s\", "
                   "\"AudioSpecifications\": \"x\"}",
                   "AudioSpecifications must be a list, found a string");
    expect_problem("{\"RequestId\": \"r1\", \"SpeakerId\": \"s\", "
                   "\"AudioSpecifications\": []}",
                   "AudioSpecifications is empty; give 1 to 10 audio "
                   "files");
    expect_problem("{\"RequestId\": \"r1\", \"SpeakerId\": \"s\", "
                   "\"AudioSpecifications\": [" AUDIO ", 3]}",
                   "audio specification 2 must be an object, found a "
                   "number");
    expect_problem("{\"RequestId\": \"r1\", \"SpeakerId\": \"s\", "
                   "\"AudioSpecifications\": [{\"ChannelId\": 0}]}",
                   "audio specification 1 has no S3Uri");
    expect_problem("{\"RequestId\": \"r1\", \"SpeakerId\": \"s\", "
                   "\"AudioSpecifications\": [{\"S3Uri\": null, "
                   "\"ChannelId\": 0}]}",
                   "audio specification 1: S3Uri must be a string, found "
                   "null");
    expect_problem("{\"RequestId\": \"r1\", \"SpeakerId\": \"s\", "
                   "\"AudioSpecifications\": [{\"S3Uri\": "
                   "\"https://calls/a.wav\", \"ChannelId\": 0}]}",
                   "audio specification 1: S3Uri must look like "
                   "s3://bucket/key, found \"https://calls/a.wav\"");
    expect_problem("{\"RequestId\": \"r1\", \"SpeakerId\": \"s\", "
                   "\"AudioSpecifications\": [{\"S3Uri\": "
                   "\"s3://calls/\", \"ChannelId\": 0}]}",
                   "audio specification 1: S3Uri must look like "
                   "s3://bucket/key, found \"s3://calls/\"");
    expect_problem("{\"RequestId\": \"r1\", \"SpeakerId\": \"s\", "
                   "\"AudioSpecifications\": [{\"S3Uri\": "
                   "\"s3://Calls/a\", \"ChannelId\": 0}]}",
                   "audio specification 1: S3Uri must look like "
                   "s3://bucket/key, found \"s3://Calls/a\"");
    expect_problem("{\"RequestId\": \"r1\", \"SpeakerId\": \"s\", "
                   "\"AudioSpecifications\": [{\"S3Uri\": "
                   "\"s3://calls/a\"}]}",
                   "audio specification 1 has no ChannelId");
    expect_problem("{\"RequestId\": \"r1\", \"SpeakerId\": \"s\", "
                   "\"AudioSpecifications\": [{\"S3Uri\": "
                   "\"s3://calls/a\", \"ChannelId\": 2}]}",
                   "audio specification 1: ChannelId must be 0 or 1, "
                   "found 2");
    expect_problem("{\"RequestId\": \"r1\", \"SpeakerId\": \"s\", "
                   "\"AudioSpecifications\": [{\"S3Uri\": "
                   "\"s3://calls/a\", \"ChannelId\": \"0\"}]}",
                   "audio specification 1: ChannelId must be 0 or 1, "
                   "found a string");
}


/* Builds a one-request file with 'n' audio specifications. */
static char *
file_with_audio(size_t n)
{
    size_t cap = 200 + n * 64;
    char *text = malloc(cap);
    size_t used;

    assert_non_null(text);
    used = (size_t)snprintf(text, cap, "{\"Version\": \"1.0\", "
                            "\"SpeakerEnrollmentRequests\": [{\"RequestId"
                            "\": \"r1\", \"SpeakerId\": \"s\", "
                            "\"AudioSpecifications\": [");
    for (size_t i = 0; i < n; i++)
        used += (size_t)snprintf(text + used, cap - used,
                                 "%s{\"S3Uri\": \"s3://calls/%zu.wav\", "
                                 "\"ChannelId\": %zu}", i ? "," : "", i,
                                 i % 2);
    snprintf(text + used, cap - used, "]}]}");
    return text;
}


static void
test_manifest_takes_ten_audio_files_but_not_eleven(void **state)
{
    struct job_manifest *m = NULL;
    char msg[256] = "";
    char *text;

    text = file_with_audio(10);
    assert_int_equal(parse(text, &m, msg, sizeof msg), 0);
    assert_null(m->requests[0].problem);
    assert_int_equal(m->requests[0].n_audio, 10);
    assert_string_equal(m->requests[0].audio[9].s3_uri,
                        "s3://calls/9.wav");
    assert_int_equal(m->requests[0].audio[9].channel, 1);
    job_manifest_free(m);
    free(text);

    text = file_with_audio(11);
    assert_int_equal(parse(text, &m, msg, sizeof msg), 0);
    assert_string_equal(m->requests[0].problem,
                        "AudioSpecifications has 11 entries; at most 10 "
                        "are allowed");
    assert_int_equal(m->requests[0].n_audio, 0);
    job_manifest_free(m);
    free(text);
}


static void
test_manifest_ignores_unknown_members(void **state)
{
    const char *text =
        "{\"Version\": \"1.0\", \"Comment\": {\"x\": [1, 2]}, "
        "\"SpeakerEnrollmentRequests\": [{\"RequestId\": \"r1\", "
        "\"Priority\": 3, \"SpeakerId\": \"s\", \"AudioSpecifications\": "
        "[{\"S3Uri\": \"s3://calls/a\", \"ChannelId\": 1, "
        "\"Language\": \"en\"}]}]}";
    struct job_manifest *m = NULL;
    char msg[256] = "";

    assert_int_equal(parse(text, &m, msg, sizeof msg), 0);
    assert_int_equal(m->n_requests, 1);
    assert_null(m->requests[0].problem);
    assert_int_equal(m->requests[0].audio[0].channel, 1);
    job_manifest_free(m);
}


static void
test_manifest_rejects_deep_nesting(void **state)
{
    const size_t depth = 100000;
    char *text = malloc(2 * depth + 64);
    size_t used;
    struct job_manifest *m = NULL;
    char msg[256] = "";

    assert_non_null(text);
    used = (size_t)sprintf(text, "{\"Version\": \"1.0\", \"X\": ");
    memset(text + used, '[', depth);
    used += depth;
    memset(text + used, ']', depth);
    used += depth;
    text[used++] = '}';

    assert_int_equal(job_manifest_parse(text, used, 10, &m, msg,
                                        sizeof msg), ERR_INVAL);
    assert_null(m);
    assert_non_null(strstr(msg, "the manifest is not valid JSON: "));
    assert_non_null(strstr(msg, "depth"));
    free(text);
}


static void
test_manifest_keeps_messages_short_for_huge_strings(void **state)
{
    const size_t big = 1024 * 1024;
    size_t cap = big + 512;
    char *text = malloc(cap);
    size_t used;
    struct job_manifest *m = NULL;
    char msg[512] = "";

    /* A 1 MB SpeakerId fails only its request, with a short message. */
    assert_non_null(text);
    used = (size_t)snprintf(text, cap, "{\"Version\": \"1.0\", "
                            "\"SpeakerEnrollmentRequests\": [{\"RequestId"
                            "\": \"r1\", \"SpeakerId\": \"");
    memset(text + used, 'a', big);
    used += big;
    used += (size_t)snprintf(text + used, cap - used, "\", "
                             "\"AudioSpecifications\": [" AUDIO "]}]}");
    assert_int_equal(job_manifest_parse(text, used, 10, &m, msg,
                                        sizeof msg), 0);
    assert_string_equal(m->requests[0].problem, "SpeakerId is 1,048,576 "
                        "characters long; at most 256 are allowed");
    assert_null(m->requests[0].speaker_id);
    job_manifest_free(m);

    /* A 1 MB Version is quoted back cut to a few dozen characters. */
    used = (size_t)snprintf(text, cap, "{\"Version\": \"");
    memset(text + used, 'v', big);
    used += big;
    used += (size_t)snprintf(text + used, cap - used, "\"}");
    m = NULL;
    assert_int_equal(job_manifest_parse(text, used, 10, &m, msg,
                                        sizeof msg), ERR_INVAL);
    assert_null(m);
    assert_string_equal(msg, "Version must be \"1.0\", found "
                        "\"vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv...\"");
    free(text);
}


static void
test_manifest_problem_is_valid_utf8_for_output(void **state)
{
    struct job_manifest *m = NULL;
    struct job_output *o = NULL;
    char msg[256] = "";
    char *out = NULL;
    size_t len = 0;

    /* A non-ASCII SpeakerId is quoted as '?' so the output stays valid. */
    assert_int_equal(parse(FILE_OF(REQ("r1", "caf\xc3\xa9")), &m, msg,
                           sizeof msg), 0);
    assert_non_null(strstr(m->requests[0].problem, "\"caf??\""));
    assert_int_equal(job_output_new(&o), 0);
    assert_int_equal(job_output_error(o, m->requests[0].request_id, 400,
                                      m->requests[0].problem), 0);
    assert_int_equal(job_output_render(o, &out, &len), 0);
    free(out);
    job_output_free(o);
    job_manifest_free(m);
}


static void
test_output_renders_exact_text(void **state)
{
    const char *want =
        "{\n"
        "  \"Version\": \"1.0\",\n"
        "  \"Errors\": [\n"
        "    {\n"
        "      \"RequestId\": \"r2\",\n"
        "      \"ErrorCode\": 400,\n"
        "      \"ErrorMessage\": \"SpeakerId is missing\"\n"
        "    }\n"
        "  ],\n"
        "  \"SuccessfulEnrollments\": [\n"
        "    {\n"
        "      \"RequestId\": \"r1\",\n"
        "      \"GeneratedSpeakerId\": \"id#abcdefghijklmnopqrstuv\",\n"
        "      \"CustomerSpeakerId\": \"cust-1\",\n"
        "      \"EnrollmentStatus\": \"NEW_ENROLLMENT\"\n"
        "    },\n"
        "    {\n"
        "      \"RequestId\": \"r3\",\n"
        "      \"GeneratedSpeakerId\": \"id#0123456789012345678901\",\n"
        "      \"CustomerSpeakerId\": \"cust-3\",\n"
        "      \"EnrollmentStatus\": \"DUPLICATE_SKIPPED\"\n"
        "    }\n"
        "  ]\n"
        "}\n";
    struct job_output *o = NULL;
    char *text = NULL;
    size_t len = 0;
    json_t *back;
    json_t *expected;
    json_error_t jerr;

    assert_int_equal(job_output_new(&o), 0);
    assert_int_equal(job_output_success(o, "r1",
                                        "id#abcdefghijklmnopqrstuv",
                                        "cust-1", "NEW_ENROLLMENT"), 0);
    assert_int_equal(job_output_error(o, "r2", 400,
                                      "SpeakerId is missing"), 0);
    assert_int_equal(job_output_success(o, "r3",
                                        "id#0123456789012345678901",
                                        "cust-3", "DUPLICATE_SKIPPED"), 0);
    assert_int_equal(job_output_render(o, &text, &len), 0);
    assert_string_equal(text, want);
    assert_int_equal(len, strlen(want));

    back = json_loadb(text, len, 0, &jerr);
    assert_non_null(back);
    expected = json_pack("{s:s, s:[{s:s, s:i, s:s}], s:[{s:s, s:s, s:s, "
                         "s:s}, {s:s, s:s, s:s, s:s}]}",
                         "Version", "1.0",
                         "Errors", "RequestId", "r2", "ErrorCode", 400,
                         "ErrorMessage", "SpeakerId is missing",
                         "SuccessfulEnrollments",
                         "RequestId", "r1", "GeneratedSpeakerId",
                         "id#abcdefghijklmnopqrstuv", "CustomerSpeakerId",
                         "cust-1", "EnrollmentStatus", "NEW_ENROLLMENT",
                         "RequestId", "r3", "GeneratedSpeakerId",
                         "id#0123456789012345678901", "CustomerSpeakerId",
                         "cust-3", "EnrollmentStatus",
                         "DUPLICATE_SKIPPED");
    assert_non_null(expected);
    assert_true(json_equal(back, expected));
    json_decref(back);
    json_decref(expected);
    free(text);

    /* Rendering twice gives the same bytes and leaves the builder whole. */
    assert_int_equal(job_output_render(o, &text, &len), 0);
    assert_string_equal(text, want);
    free(text);
    job_output_free(o);
}


static void
test_output_renders_empty_lists(void **state)
{
    struct job_output *o = NULL;
    char *text = NULL;
    size_t len = 0;

    assert_int_equal(job_output_new(&o), 0);
    assert_int_equal(job_output_render(o, &text, &len), 0);
    assert_string_equal(text, "{\n  \"Version\": \"1.0\",\n  \"Errors\": "
                        "[],\n  \"SuccessfulEnrollments\": []\n}\n");
    free(text);
    job_output_free(o);
    job_output_free(NULL);
    job_manifest_free(NULL);
}


static void
test_output_rejects_bad_codes_statuses_and_text(void **state)
{
    struct job_output *o = NULL;
    char *text = NULL;
    size_t len = 0;

    assert_int_equal(job_output_new(&o), 0);
    assert_int_equal(job_output_error(o, "r", 404, "m"), ERR_INVAL);
    assert_int_equal(job_output_error(o, "r", 400, NULL), ERR_INVAL);
    assert_int_equal(job_output_error(o, NULL, 400, "m"), ERR_INVAL);
    assert_int_equal(job_output_error(o, "r", 400, "bad \xc3("),
                     ERR_INVAL);
    assert_int_equal(job_output_error(o, "r", 400, "\xed\xa0\x80"),
                     ERR_INVAL);
    assert_int_equal(job_output_success(o, "r", "g", "c", "ENROLLED"),
                     ERR_INVAL);
    assert_int_equal(job_output_success(o, "r", NULL, "c",
                                        "NEW_ENROLLMENT"), ERR_INVAL);
    assert_int_equal(job_output_error(o, "r", 402, "quota"), 0);
    assert_int_equal(job_output_error(o, "r", 409, "opted out"), 0);
    assert_int_equal(job_output_error(o, "r", 500, "caf\xc3\xa9"), 0);
    assert_int_equal(job_output_success(o, "r", "g", "c",
                                        "ENROLLMENT_OVERWRITE"), 0);

    /* Only the four good entries made it in. */
    assert_int_equal(job_output_render(o, &text, &len), 0);
    assert_non_null(strstr(text, "\"ErrorCode\": 402"));
    assert_non_null(strstr(text, "\"ErrorCode\": 500"));
    assert_null(strstr(text, "404"));
    assert_null(strstr(text, "ENROLLED\""));
    free(text);
    job_output_free(o);
}


static void
test_output_uri_joins_prefix_job_and_input_name(void **state)
{
    char out[128];
    const char *in = "s3://input-bucket/batches/input-file.json";

    assert_int_equal(job_output_uri("s3://bucket/out", "JOB1", in, out,
                                    sizeof out), 0);
    assert_string_equal(out, "s3://bucket/out/JOB1/input-file.json.out");
    assert_int_equal(job_output_uri("s3://bucket/out/", "JOB1", in, out,
                                    sizeof out), 0);
    assert_string_equal(out, "s3://bucket/out/JOB1/input-file.json.out");
    assert_int_equal(job_output_uri("s3://bucket/out//", "JOB1", in, out,
                                    sizeof out), 0);
    assert_string_equal(out, "s3://bucket/out/JOB1/input-file.json.out");
    assert_int_equal(job_output_uri("s3://bucket", "JOB1", in, out,
                                    sizeof out), 0);
    assert_string_equal(out, "s3://bucket/JOB1/input-file.json.out");
    assert_int_equal(job_output_uri("s3://bucket/", "JOB1",
                                    "s3://b/m", out, sizeof out), 0);
    assert_string_equal(out, "s3://bucket/JOB1/m.out");
}


static void
test_output_uri_rejects_bad_arguments_and_small_buffers(void **state)
{
    char out[32];
    const char *in = "s3://in/m.json";

    strcpy(out, "untouched");
    assert_int_equal(job_output_uri("https://bucket/out", "J", in, out,
                                     sizeof out), ERR_INVAL);
    assert_int_equal(job_output_uri("s3://", "J", in, out, sizeof out),
                     ERR_INVAL);
    assert_int_equal(job_output_uri("s3:///x", "J", in, out, sizeof out),
                     ERR_INVAL);
    assert_int_equal(job_output_uri("s3://b", "", in, out, sizeof out),
                     ERR_INVAL);
    assert_int_equal(job_output_uri("s3://b", "a/b", in, out, sizeof out),
                     ERR_INVAL);
    assert_int_equal(job_output_uri("s3://b", "J", "s3://in/dir/", out,
                                    sizeof out), ERR_INVAL);
    assert_int_equal(job_output_uri("s3://b", "J", in, out, 16),
                     ERR_TOOBIG);
    assert_string_equal(out, "untouched");

    /* "s3://b/J/m.json.out" is 19 characters: 20 bytes fit, 19 do not. */
    assert_int_equal(job_output_uri("s3://b", "J", in, out, 19),
                     ERR_TOOBIG);
    assert_int_equal(job_output_uri("s3://b", "J", in, out, 20), 0);
    assert_string_equal(out, "s3://b/J/m.json.out");
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_manifest_parses_several_requests_in_order),
        cmocka_unit_test(test_manifest_rejects_non_json_with_line_and_column),
        cmocka_unit_test(test_manifest_rejects_duplicate_member_names),
        cmocka_unit_test(test_manifest_rejects_non_object_root),
        cmocka_unit_test(test_manifest_rejects_missing_or_wrong_version),
        cmocka_unit_test(test_manifest_rejects_bad_request_list),
        cmocka_unit_test(test_manifest_rejects_request_that_is_not_an_object),
        cmocka_unit_test(test_manifest_rejects_unusable_request_id),
        cmocka_unit_test(test_manifest_rejects_repeated_request_id_naming_both),
        cmocka_unit_test(
            test_manifest_enforces_max_requests_with_readable_counts),
        cmocka_unit_test(
            test_manifest_records_speaker_id_problems_in_the_request),
        cmocka_unit_test(test_manifest_records_audio_problems_in_the_request),
        cmocka_unit_test(test_manifest_takes_ten_audio_files_but_not_eleven),
        cmocka_unit_test(test_manifest_ignores_unknown_members),
        cmocka_unit_test(test_manifest_rejects_deep_nesting),
        cmocka_unit_test(test_manifest_keeps_messages_short_for_huge_strings),
        cmocka_unit_test(test_manifest_problem_is_valid_utf8_for_output),
        cmocka_unit_test(test_output_renders_exact_text),
        cmocka_unit_test(test_output_renders_empty_lists),
        cmocka_unit_test(test_output_rejects_bad_codes_statuses_and_text),
        cmocka_unit_test(test_output_uri_joins_prefix_job_and_input_name),
        cmocka_unit_test(
            test_output_uri_rejects_bad_arguments_and_small_buffers),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
