/* SPDX-License-Identifier: Apache-2.0 */
/*
 * AWS Signature Version 4: checks the Authorization header of a request
 * against the known access keys, and signs requests for tests and tools.
 *
 * Signing and checking share one implementation of the three derived texts
 * (the canonical request, the string to sign, the signing key), so a
 * request this module signs is one it accepts. The rules are those of
 * non-S3 services, the ones the SDKs apply to Voice ID:
 *
 *   canonical request = METHOD \n URI \n QUERY \n HEADERS \n SIGNED \n HASH
 *
 *   - URI: the path as received on the wire (still percent-encoded), with
 *     empty and "." segments dropped and ".." applied, then every byte but
 *     A-Z a-z 0-9 - _ . ~ and '/' written as %XX (so "%20" becomes "%2520",
 *     which is what the SDKs sign);
 *   - QUERY: each name and value percent-decoded, encoded again by the same
 *     rule, pairs sorted by name then value;
 *   - HEADERS: for each name in SignedHeaders, every received value with
 *     that name (any case, in order), trimmed with inner runs of blanks
 *     collapsed to one space, joined with ',';
 *   - HASH: x-amz-content-sha256 when present, which must then equal the
 *     SHA-256 of the body, or else the body's SHA-256.
 *
 * A request must sign Host, carry X-Amz-Date (or, failing that, an HTTP
 * Date) within max_skew_s of now, and use the scope
 * DATE/REGION/SERVICE/aws4_request with DATE the request's day. Any
 * non-empty region of [A-Za-z0-9-] is accepted and returned, since ARNs
 * carry it. X-Amz-Security-Token is accepted only when signed (no session
 * tokens are issued; the key alone names the account).
 *
 * Not supported: query-string (pre-signed) authentication, which is
 * answered SIGV4_MISSING like an unsigned request; S3's unnormalised paths
 * and UNSIGNED-PAYLOAD; header values folded over several lines.
 *
 * Every input has a bound (SIGV4_MAX_*); past it the request is refused as
 * malformed. The module never logs and never puts a secret into a message;
 * it is thread-safe.
 */
#ifndef TIMBRE_HTTP_SIGV4_H
#define TIMBRE_HTTP_SIGV4_H

#include <stddef.h>
#include <stdint.h>

#include "http/credentials.h"

#define SIGV4_MAX_HEADERS 200
#define SIGV4_MAX_AUTHORIZATION_LEN 4096
#define SIGV4_MAX_SIGNED_HEADERS_LEN 2048
#define SIGV4_MAX_CANONICAL_LEN (1024 * 1024)

/* Room for any Authorization value sigv4_sign() can write. */
#define SIGV4_AUTHORIZATION_CAP \
    (SIGV4_MAX_SIGNED_HEADERS_LEN + CREDENTIALS_MAX_KEY_ID + 512)

/* Default allowed clock difference, as AWS: 15 minutes. */
#define SIGV4_DEFAULT_MAX_SKEW_S (15 * 60)

struct sigv4_header {
    const char *name;   /* as received, any case; may repeat; not NULL */
    const char *value;  /* as received, untrimmed; NULL reads as "" */
};

struct sigv4_request {
    const char *method;     /* "POST" */
    const char *path;       /* raw path as on the wire, no query */
    const char *query;      /* raw query without '?'; NULL or "" for none */
    const struct sigv4_header *headers;
    size_t n_headers;
    const void *body;       /* may be NULL when body_len is 0 */
    size_t body_len;
};

enum sigv4_status {
    SIGV4_OK = 0,
    SIGV4_MISSING,          /* no Authorization header */
    SIGV4_MALFORMED,        /* unparsable header, missing part, no date */
    SIGV4_UNKNOWN_KEY,      /* access key not in the credentials */
    SIGV4_BAD_SIGNATURE,    /* signature or payload hash does not match */
    SIGV4_EXPIRED,          /* date further than max_skew_s from now */
    SIGV4_WRONG_SCOPE,      /* scope has another service, day, terminator */
    SIGV4_INTERNAL,         /* out of memory or a crypto failure */
};

struct sigv4_identity {
    char access_key[CREDENTIALS_MAX_KEY_ID + 1];
    char account[CREDENTIALS_ACCOUNT_LEN + 1];
    char region[64];
};

/* Checks the signature of 'rq' for 'service' ("voiceid") against 'creds'
 * at time now_s (Unix seconds), allowing max_skew_s of clock difference
 * either way. Returns SIGV4_OK and fills *out (may be NULL), or another
 * status with *out untouched. 'msg' (msg_len bytes, may be 0) receives the
 * message to send to the client in AWS's wording, "" on success; it never
 * holds a secret. Borrows everything; keeps nothing. */
enum sigv4_status sigv4_verify(const struct sigv4_request *rq,
                               const struct credentials *creds,
                               const char *service, int64_t now_s,
                               int max_skew_s, struct sigv4_identity *out,
                               char *msg, size_t msg_len);

/* The AWS error code (the "__type") to answer a status with:
 * MissingAuthenticationTokenException, IncompleteSignatureException,
 * UnrecognizedClientException, InvalidSignatureException (bad signature,
 * expired, wrong scope) or InternalServerException; NULL for SIGV4_OK.
 * Static string. */
const char *sigv4_status_error_name(enum sigv4_status st);

/* The HTTP status AWS uses for it: 400 for MALFORMED, 500 for INTERNAL,
 * 403 for the other failures, 200 for SIGV4_OK. */
int sigv4_status_http(enum sigv4_status st);

/* Writes into 'authorization_out' (cap bytes) the Authorization header
 * value signing 'rq' with the given key for region/service at amz_date
 * ("YYYYMMDDTHHMMSSZ"). 'signed_headers' is the ';'-separated lowercase
 * list to sign, or NULL to sign every header of 'rq'. The signer adds no
 * header: 'rq' must already carry Host and an X-Amz-Date equal to
 * amz_date. Returns 0; ERR_INVAL for a malformed amz_date, header name or
 * NULL argument; ERR_TOOBIG when the result does not fit 'cap' (use
 * SIGV4_AUTHORIZATION_CAP) or a limit is passed; ERR_NOMEM; ERR_CRYPTO.
 * The output is untouched on failure. */
int sigv4_sign(const struct sigv4_request *rq, const char *signed_headers,
               const char *access_key, const char *secret,
               const char *region, const char *service,
               const char *amz_date, char *authorization_out, size_t cap);

/* Builds the canonical request of 'rq' for 'signed_headers' (as above, NULL
 * meaning every header) into a new NUL-terminated string in *out, which the
 * caller frees. Returns 0, ERR_INVAL, ERR_TOOBIG, ERR_NOMEM or ERR_CRYPTO;
 * *out is untouched on failure. Exposed for tests and for debugging
 * clients whose signatures do not match. */
int sigv4_canonical_request_build(const struct sigv4_request *rq,
                                  const char *signed_headers, char **out);

/* Builds the string to sign for a canonical request into a new string in
 * *out (caller frees). 'amz_date' must be "YYYYMMDDTHHMMSSZ". Returns 0,
 * ERR_INVAL, ERR_NOMEM or ERR_CRYPTO; *out is untouched on failure. */
int sigv4_string_to_sign_build(const char *canonical_request,
                               const char *amz_date, const char *region,
                               const char *service, char **out);

#endif
