/* SPDX-License-Identifier: Apache-2.0 */
/*
 * NextToken values for every List operation: opaque, tamper-evident,
 * bound to the arguments of the listing, and expiring.
 *
 * A token carries a keyset position (the 'seq' of the last record
 * returned, never an offset, so a deep page costs what the first does and
 * records created between pages are neither skipped nor repeated) and the
 * time it was issued. It is bound to a scope: the operation, the account,
 * the parent id (a DomainId, or "" for ListDomains) and a canonical string
 * of the filters ("JobStatus=COMPLETED", or ""). The scope itself is not
 * in the token, only a keyed hash of it, so a token reveals nothing about
 * the listing beyond a position and a time.
 *
 * Every byte of the token is covered by HMAC-SHA-256 under a key derived
 * from the server's 32-byte secret. The MAC is checked, in constant time,
 * before any field is trusted; only then can a token be told apart as
 * issued for other arguments (ERR_MISMATCH) or too old (ERR_EXPIRED)
 * rather than forged or damaged (ERR_INVAL).
 *
 * The secret lives in <data_dir>/page-token.key so tokens survive a
 * restart; pagetoken_key_load() creates it on first use.
 */
#ifndef TIMBRE_API_PAGETOKEN_H
#define TIMBRE_API_PAGETOKEN_H

#include <stddef.h>
#include <stdint.h>

#define PAGETOKEN_KEY_LEN 32

/* A token issued up to this far in the future is still accepted, so
 * servers sharing a key with slightly different clocks agree. */
#define PAGETOKEN_MAX_SKEW_S 300

/* Length of every token this version issues, without the NUL. */
#define PAGETOKEN_TEXT_LEN 87

/* The arguments a token is bound to. Every member is borrowed; NULL is
 * the same as "". Callers build 'filters' canonically (a fixed member
 * order), since "A=1,B=2" and "B=2,A=1" are different scopes. */
struct pagetoken_scope {
    const char *operation;
    const char *account;
    const char *parent_id;
    const char *filters;
};

/* Issues a token for 'position' in the listing 'scope', issued at
 * 'issued_at_s' (epoch seconds). On success *token_out is a malloc'd,
 * NUL-terminated string of PAGETOKEN_TEXT_LEN base64url characters that
 * the caller frees. Returns 0, ERR_INVAL if an argument is NULL,
 * ERR_NOMEM, or ERR_CRYPTO; *token_out is untouched on failure. */
int pagetoken_encode(const unsigned char key[PAGETOKEN_KEY_LEN],
                     const struct pagetoken_scope *scope, int64_t position,
                     int64_t issued_at_s, char **token_out);

/* Checks 'token' against 'key' and 'scope' at time 'now_s' and sets
 * *position_out to the position it carries. A token older than 'ttl_s'
 * seconds (ttl_s >= 0; negative counts as 0) has expired; exactly ttl_s
 * old is still valid.
 *
 * Returns 0, or
 *   ERR_INVAL    malformed, tampered with, issued under another key,
 *                of an unknown version, or issued more than
 *                PAGETOKEN_MAX_SKEW_S in the future;
 *   ERR_MISMATCH authentic but issued for another scope;
 *   ERR_EXPIRED  authentic and for this scope, but too old;
 *   ERR_CRYPTO   the MAC could not be computed.
 * On failure *position_out is untouched and, when msg_len > 0, 'msg'
 * receives a sentence fit for a ValidationException. 'msg' never contains
 * key material. */
int pagetoken_decode(const unsigned char key[PAGETOKEN_KEY_LEN],
                     const struct pagetoken_scope *scope, const char *token,
                     int64_t now_s, int64_t ttl_s, int64_t *position_out,
                     char *msg, size_t msg_len);

/* Reads the secret from <data_dir>/page-token.key (exactly 32 raw bytes)
 * into 'key_out'. When the file is absent, creates it with fresh random
 * bytes, mode 0600, so that it appears whole or not at all and so that
 * processes starting at once all end up with the one key that won.
 * Returns 0, ERR_INVAL if the file exists but is not a regular file of 32
 * bytes (it is left alone), ERR_IO for file system errors, ERR_CRYPTO if
 * no random bytes were available. 'key_out' is untouched on failure. */
int pagetoken_key_load(const char *data_dir,
                       unsigned char key_out[PAGETOKEN_KEY_LEN]);

#endif
