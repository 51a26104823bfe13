/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Speaker enrollment manifests in, job output files out. See manifest.h
 * for the split between whole-file and per-request faults and for the
 * rules of the output object's name.
 *
 * The parser walks a jansson tree and copies what it keeps, so the tree
 * is freed before returning and the manifest owns plain C strings. It
 * stops at the first whole-file fault; inside a request it records only
 * the first fault, which is what the person fixing the file needs first.
 */
#include "jobs/manifest.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "util/err.h"

#define QUOTE_MAX 40        /* characters of a value quoted in a message */
#define PROBLEM_LEN 256     /* bytes of a per-request problem message */

struct job_output {
    json_t *errors;
    json_t *successes;
};

static const char *const statuses[] = {
    "NEW_ENROLLMENT", "ENROLLMENT_OVERWRITE", "DUPLICATE_SKIPPED",
};


/* Names the JSON type of 'v' the way a message reads ("a number"). */
static const char *
type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:  return "an object";
    case JSON_ARRAY:   return "a list";
    case JSON_STRING:  return "a string";
    case JSON_INTEGER: return "a number";
    case JSON_REAL:    return "a number";
    case JSON_TRUE:    return "true";
    case JSON_FALSE:   return "false";
    default:           return "null";
    }
}


/*
 * Copies 's' into 'buf' for quoting in a message: at most QUOTE_MAX
 * characters, anything but printable ASCII (and '"') turned into '?', and
 * "..." when cut. Keeps messages short and valid UTF-8 whatever the input.
 */
static void
quote(const char *s, char *buf, size_t cap)
{
    size_t i;

    for (i = 0; s[i] != '\0' && i < QUOTE_MAX && i + 4 < cap; i++) {
        unsigned char c = (unsigned char)s[i];

        buf[i] = (c < 0x20 || c > 0x7e || c == '"') ? '?' : (char)c;
    }
    if (s[i] != '\0' && i + 4 <= cap) {
        memcpy(buf + i, "...", 3);
        i += 3;
    }
    buf[i] = '\0';
}


/* Writes 'n' with thousands separators ("10,001") into 'buf'. */
static void
format_count(size_t n, char *buf, size_t cap)
{
    char digits[32];
    size_t n_digits;
    size_t j = 0;

    n_digits = (size_t)snprintf(digits, sizeof digits, "%zu", n);
    for (size_t i = 0; i < n_digits && j + 1 < cap; i++) {
        if (i > 0 && (n_digits - i) % 3 == 0 && j + 2 < cap)
            buf[j++] = ',';
        buf[j++] = digits[i];
    }
    buf[j] = '\0';
}


/* Counts the characters (code points) of valid UTF-8 's'. */
static size_t
utf8_length(const char *s)
{
    size_t n = 0;

    for (; *s != '\0'; s++) {
        if (((unsigned char)*s & 0xc0) != 0x80)
            n++;
    }
    return n;
}


/* Says whether 's' is well-formed UTF-8 (what jansson will accept). */
static int
utf8_valid(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;

    while (*p != '\0') {
        size_t extra;
        uint32_t cp;

        if (*p < 0x80) {
            p++;
            continue;
        }
        if ((*p & 0xe0) == 0xc0) {
            extra = 1;
            cp = *p & 0x1f;
        } else if ((*p & 0xf0) == 0xe0) {
            extra = 2;
            cp = *p & 0x0f;
        } else if ((*p & 0xf8) == 0xf0) {
            extra = 3;
            cp = *p & 0x07;
        } else {
            return 0;
        }
        for (size_t i = 1; i <= extra; i++) {
            if ((p[i] & 0xc0) != 0x80)
                return 0;
            cp = (cp << 6) | (p[i] & 0x3f);
        }

        /* Overlong forms, surrogates and values past Unicode. */
        if ((extra == 1 && cp < 0x80) || (extra == 2 && cp < 0x800) ||
            (extra == 3 && cp < 0x10000) || cp > 0x10ffff ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        p += extra + 1;
    }
    return 1;
}


/* Checks a CustomerSpeakerId: 1-256 of [a-zA-Z0-9_-], not starting with
 * '_' or '-' (the model's ^[a-zA-Z0-9][a-zA-Z0-9_-]*$). */
static int
speaker_id_valid(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > JOB_SPEAKER_ID_MAX)
        return 0;
    if (s[0] == '_' || s[0] == '-')
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}


/*
 * Checks "s3://bucket/key": a bucket of 3-63 characters of [a-z0-9.-]
 * beginning and ending with a letter or digit (the model's S3Uri
 * pattern), and a non-empty key, since a manifest names files.
 */
static int
s3_file_uri_valid(const char *s)
{
    const char *bucket;
    const char *slash;
    size_t n;

    if (strlen(s) > JOB_S3_URI_MAX || strncmp(s, "s3://", 5) != 0)
        return 0;
    bucket = s + 5;
    slash = strchr(bucket, '/');
    if (slash == NULL || slash[1] == '\0')
        return 0;
    n = (size_t)(slash - bucket);
    if (n < 3 || n > 63)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = bucket[i];
        int alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');

        if (!alnum && ((i == 0 || i == n - 1) || (c != '.' && c != '-')))
            return 0;
    }
    return 1;
}


/* Checks the root object and finds its request list; 0, ERR_INVAL, or
 * ERR_QUOTA for more requests than a job takes. */
static int
check_root(const json_t *root, size_t max_requests, json_t **requests,
           char *msg, size_t msg_len)
{
    const json_t *version;
    json_t *list;
    char q[QUOTE_MAX + 8];
    char have[32];
    char limit[32];

    if (!json_is_object(root)) {
        err_message(msg, msg_len, "the manifest must be a JSON object, "
                    "found %s", type_name(root));
        return ERR_INVAL;
    }

    version = json_object_get(root, "Version");
    if (version == NULL) {
        err_message(msg, msg_len, "the manifest has no Version; it must "
                    "be \"1.0\"");
        return ERR_INVAL;
    }
    if (!json_is_string(version)) {
        err_message(msg, msg_len, "Version must be \"1.0\", found %s",
                    type_name(version));
        return ERR_INVAL;
    }
    if (strcmp(json_string_value(version), "1.0") != 0) {
        quote(json_string_value(version), q, sizeof q);
        err_message(msg, msg_len, "Version must be \"1.0\", found \"%s\"",
                    q);
        return ERR_INVAL;
    }

    list = json_object_get(root, "SpeakerEnrollmentRequests");
    if (list == NULL) {
        err_message(msg, msg_len, "the manifest has no "
                    "SpeakerEnrollmentRequests list");
        return ERR_INVAL;
    }
    if (!json_is_array(list)) {
        err_message(msg, msg_len, "SpeakerEnrollmentRequests must be a "
                    "list, found %s", type_name(list));
        return ERR_INVAL;
    }
    if (json_array_size(list) == 0) {
        err_message(msg, msg_len, "SpeakerEnrollmentRequests is empty; "
                    "a job needs at least one request");
        return ERR_INVAL;
    }
    if (json_array_size(list) > max_requests) {
        format_count(json_array_size(list), have, sizeof have);
        format_count(max_requests, limit, sizeof limit);
        err_message(msg, msg_len, "the manifest has %s requests; a job "
                    "takes at most %s", have, limit);
        return ERR_QUOTA;
    }
    *requests = list;
    return 0;
}


/* Reads request 'no' (counted from 1)'s RequestId into 'r'. A missing or
 * unusable RequestId fails the whole file: no error line could name it. */
static int
read_request_id(const json_t *item, size_t no, struct job_request *r,
                char *msg, size_t msg_len)
{
    const json_t *id;
    size_t n;
    char count[32];

    id = json_object_get(item, "RequestId");
    if (id == NULL) {
        err_message(msg, msg_len, "request %zu has no RequestId", no);
        return ERR_INVAL;
    }
    if (!json_is_string(id)) {
        err_message(msg, msg_len, "request %zu: RequestId must be a "
                    "string, found %s", no, type_name(id));
        return ERR_INVAL;
    }
    n = utf8_length(json_string_value(id));
    if (n == 0) {
        err_message(msg, msg_len, "request %zu: RequestId is empty", no);
        return ERR_INVAL;
    }
    if (n > JOB_REQUEST_ID_MAX) {
        format_count(n, count, sizeof count);
        err_message(msg, msg_len, "request %zu: RequestId is %s "
                    "characters long; at most %d are allowed", no, count,
                    JOB_REQUEST_ID_MAX);
        return ERR_INVAL;
    }

    r->request_id = strdup(json_string_value(id));
    return r->request_id == NULL ? ERR_NOMEM : 0;
}


/* Reads the SpeakerId into 'r'. Returns 0, ERR_NOMEM, or ERR_INVAL with
 * the request's problem in 'prob'. */
static int
read_speaker_id(const json_t *item, struct job_request *r, char *prob,
                size_t cap)
{
    const json_t *id;
    const char *s;
    char q[QUOTE_MAX + 8];
    char count[32];

    id = json_object_get(item, "SpeakerId");
    if (id == NULL) {
        err_message(prob, cap, "SpeakerId is missing");
        return ERR_INVAL;
    }
    if (!json_is_string(id)) {
        err_message(prob, cap, "SpeakerId must be a string, found %s",
                    type_name(id));
        return ERR_INVAL;
    }
    s = json_string_value(id);
    if (strlen(s) > JOB_SPEAKER_ID_MAX) {
        format_count(utf8_length(s), count, sizeof count);
        err_message(prob, cap, "SpeakerId is %s characters long; at "
                    "most %d are allowed", count, JOB_SPEAKER_ID_MAX);
        return ERR_INVAL;
    }
    if (!speaker_id_valid(s)) {
        quote(s, q, sizeof q);
        err_message(prob, cap, "SpeakerId \"%s\" is not a valid "
                    "CustomerSpeakerId: use 1-%d letters, digits, '_' or "
                    "'-', starting with a letter or digit", q,
                    JOB_SPEAKER_ID_MAX);
        return ERR_INVAL;
    }

    r->speaker_id = strdup(s);
    return r->speaker_id == NULL ? ERR_NOMEM : 0;
}


/* Reads audio specification 'no' (counted from 1) into the next slot of
 * 'r'. Returns 0, ERR_NOMEM, or ERR_INVAL with the problem in 'prob'. */
static int
read_audio(const json_t *spec, size_t no, struct job_request *r,
           char *prob, size_t cap)
{
    const json_t *uri;
    const json_t *channel;
    char q[QUOTE_MAX + 8];
    char *copy;

    if (!json_is_object(spec)) {
        err_message(prob, cap, "audio specification %zu must be an "
                    "object, found %s", no, type_name(spec));
        return ERR_INVAL;
    }

    uri = json_object_get(spec, "S3Uri");
    if (uri == NULL) {
        err_message(prob, cap, "audio specification %zu has no S3Uri",
                    no);
        return ERR_INVAL;
    }
    if (!json_is_string(uri)) {
        err_message(prob, cap, "audio specification %zu: S3Uri must be "
                    "a string, found %s", no, type_name(uri));
        return ERR_INVAL;
    }
    if (!s3_file_uri_valid(json_string_value(uri))) {
        quote(json_string_value(uri), q, sizeof q);
        err_message(prob, cap, "audio specification %zu: S3Uri must look "
                    "like s3://bucket/key, found \"%s\"", no, q);
        return ERR_INVAL;
    }

    channel = json_object_get(spec, "ChannelId");
    if (channel == NULL) {
        err_message(prob, cap, "audio specification %zu has no "
                    "ChannelId", no);
        return ERR_INVAL;
    }
    if (!json_is_integer(channel) || json_integer_value(channel) < 0 ||
        json_integer_value(channel) > 1) {
        if (json_is_integer(channel))
            err_message(prob, cap, "audio specification %zu: ChannelId "
                        "must be 0 or 1, found %lld", no,
                        (long long)json_integer_value(channel));
        else
            err_message(prob, cap, "audio specification %zu: ChannelId "
                        "must be 0 or 1, found %s", no,
                        type_name(channel));
        return ERR_INVAL;
    }

    copy = strdup(json_string_value(uri));
    if (copy == NULL)
        return ERR_NOMEM;
    r->audio[r->n_audio].s3_uri = copy;
    r->audio[r->n_audio].channel = (int)json_integer_value(channel);
    r->n_audio++;
    return 0;
}


/* Reads the AudioSpecifications list into 'r'. Returns 0, ERR_NOMEM, or
 * ERR_INVAL with the problem in 'prob'. */
static int
read_audio_list(const json_t *item, struct job_request *r, char *prob,
                size_t cap)
{
    const json_t *list;
    size_t n;
    int rc;

    list = json_object_get(item, "AudioSpecifications");
    if (list == NULL) {
        err_message(prob, cap, "AudioSpecifications is missing");
        return ERR_INVAL;
    }
    if (!json_is_array(list)) {
        err_message(prob, cap, "AudioSpecifications must be a list, "
                    "found %s", type_name(list));
        return ERR_INVAL;
    }
    n = json_array_size(list);
    if (n == 0) {
        err_message(prob, cap, "AudioSpecifications is empty; give 1 to "
                    "%d audio files", JOB_MANIFEST_MAX_AUDIO);
        return ERR_INVAL;
    }
    if (n > JOB_MANIFEST_MAX_AUDIO) {
        err_message(prob, cap, "AudioSpecifications has %zu entries; at "
                    "most %d are allowed", n, JOB_MANIFEST_MAX_AUDIO);
        return ERR_INVAL;
    }

    for (size_t i = 0; i < n; i++) {
        rc = read_audio(json_array_get(list, i), i + 1, r, prob, cap);
        if (rc != 0)
            return rc;
    }
    return 0;
}


/* Reads request 'no' (counted from 1) into 'r'. Returns ERR_INVAL only
 * for whole-file faults; a per-request fault lands in r->problem. */
static int
read_request(const json_t *item, size_t no, struct job_request *r,
             char *msg, size_t msg_len)
{
    char prob[PROBLEM_LEN];
    int rc;

    if (!json_is_object(item)) {
        err_message(msg, msg_len, "request %zu must be an object, found "
                    "%s", no, type_name(item));
        return ERR_INVAL;
    }
    rc = read_request_id(item, no, r, msg, msg_len);
    if (rc != 0)
        return rc;

    rc = read_speaker_id(item, r, prob, sizeof prob);
    if (rc == 0)
        rc = read_audio_list(item, r, prob, sizeof prob);
    if (rc == ERR_NOMEM)
        return rc;
    if (rc == ERR_INVAL) {
        r->problem = strdup(prob);
        if (r->problem == NULL)
            return ERR_NOMEM;
    }
    return 0;
}


/* Orders request indexes by RequestId, then by position. */
static int
compare_ids(const void *a, const void *b, void *arg)
{
    const struct job_request *reqs = arg;
    size_t i = *(const size_t *)a;
    size_t j = *(const size_t *)b;
    int c = strcmp(reqs[i].request_id, reqs[j].request_id);

    if (c != 0)
        return c;
    return i < j ? -1 : (i > j);
}


/*
 * Fails when a RequestId repeats. Of all repeats it reports the one whose
 * second use comes first in the file, the one a reader meets first.
 * Sorting keeps this O(n log n) for large migration files.
 */
static int
check_unique(const struct job_manifest *m, char *msg, size_t msg_len)
{
    size_t *order;
    size_t first = SIZE_MAX;
    size_t second = SIZE_MAX;
    char q[QUOTE_MAX + 8];

    order = malloc(m->n_requests * sizeof *order);
    if (order == NULL)
        return ERR_NOMEM;
    for (size_t i = 0; i < m->n_requests; i++)
        order[i] = i;
    qsort_r(order, m->n_requests, sizeof *order, compare_ids,
            m->requests);

    /* Within a run of equal ids the first two are adjacent and ordered. */
    for (size_t i = 1; i < m->n_requests; i++) {
        const struct job_request *a = &m->requests[order[i - 1]];
        const struct job_request *b = &m->requests[order[i]];
        int starts_run = i < 2 || strcmp(m->requests[order[i - 2]]
                                         .request_id, a->request_id) != 0;

        if (starts_run && strcmp(a->request_id, b->request_id) == 0 &&
            order[i] < second) {
            first = order[i - 1];
            second = order[i];
        }
    }
    free(order);

    if (second == SIZE_MAX)
        return 0;
    quote(m->requests[first].request_id, q, sizeof q);
    err_message(msg, msg_len, "RequestId '%s' appears twice (requests %zu "
                "and %zu); each request needs its own RequestId", q,
                first + 1, second + 1);
    return ERR_INVAL;
}


int
job_manifest_parse(const char *text, size_t len, size_t max_requests,
                   struct job_manifest **out, char *msg, size_t msg_len)
{
    json_t *root = NULL;
    json_t *list = NULL;
    json_error_t jerr;
    struct job_manifest *m = NULL;
    int rc;

    if (text == NULL || out == NULL || max_requests == 0) {
        err_message(msg, msg_len, "invalid arguments to the manifest "
                    "parser");
        return ERR_INVAL;
    }

    root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        err_message(msg, msg_len, "the manifest is not valid JSON: %s "
                    "(line %d, column %d)", jerr.text, jerr.line,
                    jerr.column);
        rc = ERR_INVAL;
        goto out;
    }
    rc = check_root(root, max_requests, &list, msg, msg_len);
    if (rc != 0)
        goto out;

    m = calloc(1, sizeof *m);
    if (m == NULL) {
        rc = ERR_NOMEM;
        goto out;
    }
    m->requests = calloc(json_array_size(list), sizeof *m->requests);
    if (m->requests == NULL) {
        rc = ERR_NOMEM;
        goto out;
    }

    /* n_requests grows with each request read, so a failure part way
     * frees exactly what was filled in. */
    for (size_t i = 0; i < json_array_size(list); i++) {
        m->n_requests++;
        rc = read_request(json_array_get(list, i), i + 1, &m->requests[i],
                          msg, msg_len);
        if (rc != 0)
            goto out;
    }
    rc = check_unique(m, msg, msg_len);
    if (rc != 0)
        goto out;

    *out = m;
    m = NULL;
out:
    if (rc == ERR_NOMEM)
        err_message(msg, msg_len, "out of memory reading the manifest");
    job_manifest_free(m);
    json_decref(root);
    return rc;
}


void
job_manifest_free(struct job_manifest *m)
{
    if (m == NULL)
        return;
    for (size_t i = 0; i < m->n_requests; i++) {
        struct job_request *r = &m->requests[i];

        free(r->request_id);
        free(r->speaker_id);
        for (size_t j = 0; j < r->n_audio; j++)
            free(r->audio[j].s3_uri);
        free(r->problem);
    }
    free(m->requests);
    free(m);
}


int
job_output_new(struct job_output **out)
{
    struct job_output *o;

    o = calloc(1, sizeof *o);
    if (o == NULL)
        return ERR_NOMEM;
    o->errors = json_array();
    o->successes = json_array();
    if (o->errors == NULL || o->successes == NULL) {
        job_output_free(o);
        return ERR_NOMEM;
    }
    *out = o;
    return 0;
}


/* Says whether every one of the 'n' strings is non-NULL valid UTF-8. */
static int
texts_valid(const char *const *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] == NULL || !utf8_valid(s[i]))
            return 0;
    }
    return 1;
}


/* Appends an object of 'n' string members (keys[i] = vals[i]) plus, when
 * 'code_key' is set, one integer member after the first, to 'list'. The
 * strings are already checked, so a NULL from jansson means no memory. */
static int
append_entry(json_t *list, const char *const *keys,
             const char *const *vals, size_t n, const char *code_key,
             int code)
{
    json_t *entry;
    int fail = 0;

    entry = json_object();
    if (entry == NULL)
        return ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        fail |= json_object_set_new(entry, keys[i],
                                    json_string(vals[i]));
        if (i == 0 && code_key != NULL)
            fail |= json_object_set_new(entry, code_key,
                                        json_integer(code));
    }
    if (fail || json_array_append_new(list, entry) != 0) {
        if (fail)
            json_decref(entry);
        return ERR_NOMEM;
    }
    return 0;
}


int
job_output_error(struct job_output *o, const char *request_id, int code,
                 const char *message)
{
    static const char *const keys[] = { "RequestId", "ErrorMessage" };
    const char *vals[] = { request_id, message };

    if (o == NULL || !texts_valid(vals, 2))
        return ERR_INVAL;
    if (code != 400 && code != 402 && code != 409 && code != 500)
        return ERR_INVAL;
    return append_entry(o->errors, keys, vals, 2, "ErrorCode", code);
}


int
job_output_success(struct job_output *o, const char *request_id,
                   const char *generated_id, const char *customer_id,
                   const char *status)
{
    static const char *const keys[] = {
        "RequestId", "GeneratedSpeakerId", "CustomerSpeakerId",
        "EnrollmentStatus",
    };
    const char *vals[] = { request_id, generated_id, customer_id, status };
    int known = 0;

    if (o == NULL || !texts_valid(vals, 4))
        return ERR_INVAL;
    for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++)
        known |= strcmp(status, statuses[i]) == 0;
    if (!known)
        return ERR_INVAL;
    return append_entry(o->successes, keys, vals, 4, NULL, 0);
}


int
job_output_render(const struct job_output *o, char **text, size_t *len)
{
    json_t *root = NULL;
    char *dump = NULL;
    char *grown;
    size_t n;
    int rc = ERR_NOMEM;

    if (o == NULL || text == NULL || len == NULL)
        return ERR_INVAL;

    /* Building the root takes references, so the builder stays intact. */
    root = json_pack("{s:s, s:O, s:O}", "Version", "1.0",
                     "Errors", o->errors,
                     "SuccessfulEnrollments", o->successes);
    if (root == NULL)
        goto out;
    dump = json_dumps(root, JSON_INDENT(2));
    if (dump == NULL)
        goto out;

    /* A final newline makes the file friendly to line-based tools. */
    n = strlen(dump);
    grown = realloc(dump, n + 2);
    if (grown == NULL)
        goto out;
    dump = grown;
    dump[n] = '\n';
    dump[n + 1] = '\0';

    *text = dump;
    *len = n + 1;
    dump = NULL;
    rc = 0;
out:
    free(dump);
    json_decref(root);
    return rc;
}


void
job_output_free(struct job_output *o)
{
    if (o == NULL)
        return;
    json_decref(o->errors);
    json_decref(o->successes);
    free(o);
}


int
job_output_uri(const char *prefix_uri, const char *job_id,
               const char *input_uri, char *out, size_t cap)
{
    const char *name;
    size_t n_prefix;
    int n;

    if (prefix_uri == NULL || job_id == NULL || input_uri == NULL ||
        out == NULL)
        return ERR_INVAL;
    if (strncmp(prefix_uri, "s3://", 5) != 0 || prefix_uri[5] == '\0' ||
        prefix_uri[5] == '/')
        return ERR_INVAL;
    if (job_id[0] == '\0' || strchr(job_id, '/') != NULL)
        return ERR_INVAL;
    name = strrchr(input_uri, '/');
    name = name == NULL ? input_uri : name + 1;
    if (name[0] == '\0')
        return ERR_INVAL;

    /* The bucket is non-empty, so this never eats into "s3://". */
    n_prefix = strlen(prefix_uri);
    while (prefix_uri[n_prefix - 1] == '/')
        n_prefix--;

    n = snprintf(NULL, 0, "%.*s/%s/%s.out", (int)n_prefix, prefix_uri,
                 job_id, name);
    if (n < 0)
        return ERR_INVAL;
    if ((size_t)n >= cap)
        return ERR_TOOBIG;
    snprintf(out, cap, "%.*s/%s/%s.out", (int)n_prefix, prefix_uri,
             job_id, name);
    return 0;
}
