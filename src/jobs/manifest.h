/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The speaker enrollment job's file formats: reading the input manifest,
 * building the output file, and naming the output object.
 *
 * A manifest fails in one of two ways. Faults that leave the file without
 * a usable shape (not JSON, wrong Version, no request list, a request that
 * is not an object or has no usable RequestId, a RequestId used twice, too
 * many requests) fail the whole job: the parser returns ERR_INVAL and a
 * message. Faults inside one request (SpeakerId, AudioSpecifications)
 * fail only that request: it is kept, in order, with 'problem' set, so the
 * runner can write a 400 line for it and carry on with the others.
 *
 * Messages are written for the person who made the file. Requests are
 * counted from 1 ("request 7"), and so are the audio specifications of a
 * request. A value quoted back in a message is cut to a few dozen
 * printable ASCII characters, so hostile input cannot make a message long
 * or make it invalid UTF-8.
 *
 * Members the format does not define are ignored, at the top level, in a
 * request and in an audio specification, so that files written for a
 * later minor revision of the format still run. A member named twice in
 * one object makes the file invalid JSON, because which value counts
 * would otherwise be a guess.
 *
 * Size: the caller reads the file with its own byte limit. Nesting deeper
 * than jansson's parser limit is refused as invalid JSON, and every string
 * kept is capped (JOB_*_MAX), so memory stays proportional to the file.
 *
 * The output file is rendered with two-space indentation, members in the
 * order Voice ID documented, entries in the order they were added (the
 * runner adds them in manifest order), and a final newline, so two runs
 * over the same results give the same bytes.
 */
#ifndef TIMBRE_JOBS_MANIFEST_H
#define TIMBRE_JOBS_MANIFEST_H

#include <stddef.h>

#define JOB_MANIFEST_MAX_AUDIO 10  /* audio specifications per request */
#define JOB_REQUEST_ID_MAX 256     /* characters in a RequestId */
#define JOB_SPEAKER_ID_MAX 256     /* characters in a CustomerSpeakerId */
#define JOB_S3_URI_MAX 1024        /* characters in an S3Uri */

struct job_audio {
    char *s3_uri;
    int channel;                   /* 0 or 1 */
};

/*
 * One enrollment request. 'request_id' is always set. When 'problem' is
 * NULL, 'speaker_id' is a valid CustomerSpeakerId and 'audio' holds
 * 1..JOB_MANIFEST_MAX_AUDIO valid entries. When 'problem' is set it says
 * what is wrong (for the output file's ErrorMessage) and the other
 * members hold whatever was valid before the fault: 'speaker_id' may be
 * NULL and 'n_audio' may be short.
 */
struct job_request {
    char *request_id;
    char *speaker_id;
    struct job_audio audio[JOB_MANIFEST_MAX_AUDIO];
    size_t n_audio;
    char *problem;
};

struct job_manifest {
    struct job_request *requests;  /* in file order */
    size_t n_requests;             /* at least 1 */
};

struct job_output;

/*
 * Parses the 'len' bytes at 'text' (no terminating NUL needed) as a
 * speaker enrollment manifest of at most 'max_requests' requests. On
 * success stores a new manifest in '*out' (free it with
 * job_manifest_free()) and returns 0. Returns ERR_INVAL when the whole
 * file is unusable, ERR_QUOTA when it holds more than 'max_requests'
 * requests, both with a message naming the place in 'msg' (cut to
 * 'msg_len' bytes; 'msg' may be NULL), or ERR_NOMEM. '*out' is untouched
 * on failure. 'max_requests' must be at least 1.
 */
int job_manifest_parse(const char *text, size_t len, size_t max_requests,
                       struct job_manifest **out, char *msg,
                       size_t msg_len);

/* Frees the manifest and every string in it; NULL is fine. */
void job_manifest_free(struct job_manifest *m);

/* Creates an empty output file builder in '*out'. Returns 0 or ERR_NOMEM;
 * '*out' is untouched on failure. Free it with job_output_free(). */
int job_output_new(struct job_output **out);

/*
 * Appends an entry to Errors. 'code' must be 400, 402, 409 or 500, and
 * every string non-NULL valid UTF-8 (they are copied). Returns 0,
 * ERR_INVAL for a bad argument (nothing is added), or ERR_NOMEM.
 */
int job_output_error(struct job_output *o, const char *request_id,
                     int code, const char *message);

/*
 * Appends an entry to SuccessfulEnrollments. 'status' must be
 * "NEW_ENROLLMENT", "ENROLLMENT_OVERWRITE" or "DUPLICATE_SKIPPED", and
 * every string non-NULL valid UTF-8 (they are copied). Returns 0,
 * ERR_INVAL for a bad argument (nothing is added), or ERR_NOMEM.
 */
int job_output_success(struct job_output *o, const char *request_id,
                       const char *generated_id, const char *customer_id,
                       const char *status);

/*
 * Renders the output file into a new NUL-terminated buffer in '*text'
 * (caller frees with free()) of '*len' bytes, not counting the NUL.
 * Returns 0, ERR_INVAL for a NULL argument, or ERR_NOMEM; '*text' and
 * '*len' are untouched on failure.
 */
int job_output_render(const struct job_output *o, char **text,
                      size_t *len);

/* Frees the builder; NULL is fine. */
void job_output_free(struct job_output *o);

/*
 * Writes into 'out' (capacity 'cap' bytes) the URI of a job's output
 * object, following the rule Voice ID documented for OutputDataConfig:
 * "<prefix>/<job_id>/<input file name>.out". 'prefix_uri' is
 * OutputDataConfig.S3Uri (trailing slashes are dropped, so "s3://b/out"
 * and "s3://b/out/" give the same name, and a bucket alone is fine);
 * 'input_uri' is InputDataConfig.S3Uri, of which only the part after the
 * last '/' is used. Returns 0; ERR_INVAL when 'prefix_uri' is not an
 * s3:// URI with a bucket, 'job_id' is empty or holds a '/', or
 * 'input_uri' has no file name; ERR_TOOBIG when 'cap' is too small.
 * 'out' is untouched on failure.
 */
int job_output_uri(const char *prefix_uri, const char *job_id,
                   const char *input_uri, char *out, size_t cap);

#endif
