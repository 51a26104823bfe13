/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Thin wrappers over OpenSSL libcrypto for the primitives Timbre uses:
 * SHA-256, HMAC-SHA-256, random bytes, constant-time comparison, and the
 * hex and base64url text forms. Every function is thread-safe and never
 * logs. Buffers are caller-owned unless a comment says otherwise.
 */
#ifndef TIMBRE_UTIL_CRYPTO_H
#define TIMBRE_UTIL_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>

#define CRYPTO_SHA256_LEN 32

/* Writes SHA-256(data) into 'digest'. Returns 0 or ERR_CRYPTO. */
int crypto_sha256(const void *data, size_t len,
                  unsigned char digest[CRYPTO_SHA256_LEN]);

/* Writes HMAC-SHA-256(key, data) into 'mac'. Returns 0 or ERR_CRYPTO. */
int crypto_hmac_sha256(const void *key, size_t key_len,
                       const void *data, size_t len,
                       unsigned char mac[CRYPTO_SHA256_LEN]);

/* Fills 'buf' from the system's secure generator. 0 or ERR_CRYPTO. */
int crypto_random(void *buf, size_t len);

/* True when the two buffers are equal, in time independent of content. */
bool crypto_equal(const void *a, const void *b, size_t len);

/* Writes 2*len lowercase hex digits and a NUL into 'out'. */
void crypto_hex(const unsigned char *data, size_t len, char *out);

/* Length of the unpadded base64url text for 'len' bytes, without NUL. */
size_t crypto_b64url_len(size_t len);

/* Writes unpadded base64url text and a NUL into 'out', which must hold
 * crypto_b64url_len(len) + 1 bytes. */
void crypto_b64url_encode(const unsigned char *data, size_t len, char *out);

/* Decodes unpadded base64url 'text' into 'out' (room for 'out_cap'
 * bytes), setting *out_len. Returns 0, ERR_INVAL for a character outside
 * the alphabet or an impossible length, ERR_TOOBIG if 'out' is too small. */
int crypto_b64url_decode(const char *text, unsigned char *out,
                         size_t out_cap, size_t *out_len);

#endif
