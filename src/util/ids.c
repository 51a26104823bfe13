/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Resource ids from the system's secure generator; request ids from a
 * per-thread generator that the secure one seeds.
 *
 * 256 is not a multiple of 62, so taking a random byte modulo 62 would
 * favour the first eight characters. Bytes of 248 or more (4 * 62) are
 * thrown away instead; each byte is kept with probability 31/32, so a
 * batch of 32 bytes almost always yields the 22 characters at once.
 */
#include "util/ids.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "util/crypto.h"
#include "util/err.h"

#define ALPHABET_LEN 62
#define BYTE_LIMIT (256 / ALPHABET_LEN * ALPHABET_LEN)

static const char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

_Static_assert(sizeof alphabet - 1 == ALPHABET_LEN, "alphabet size");


int
ids_new(char out[IDS_RESOURCE_LEN + 1])
{
    unsigned char batch[32];
    char id[IDS_RESOURCE_LEN + 1];
    size_t n = 0;
    int rc;

    while (n < IDS_RESOURCE_LEN) {
        rc = crypto_random(batch, sizeof batch);
        if (rc != 0)
            return rc;
        for (size_t i = 0; i < sizeof batch && n < IDS_RESOURCE_LEN; i++) {
            if (batch[i] < BYTE_LIMIT)
                id[n++] = alphabet[batch[i] % ALPHABET_LEN];
        }
    }
    id[n] = '\0';

    memcpy(out, id, sizeof id);
    return 0;
}


/*
 * 128 bits for a request id. Request ids must differ, not stay secret, and
 * asking OpenSSL for fresh random bytes on every request cost a twentieth
 * of a small call's time. So each thread seeds a SplitMix64 sequence from
 * the secure generator once and steps it: two threads only repeat an id
 * if their random starting points fall within the ids they make, about
 * one chance in 2^64 / (ids made).
 */
static int
request_bits(unsigned char b[16])
{
    static __thread uint64_t state;
    static __thread bool seeded;
    uint64_t z;
    int rc;

    if (!seeded) {
        rc = crypto_random(&state, sizeof state);
        if (rc != 0)
            return rc;
        seeded = true;
    }
    for (int half = 0; half < 2; half++) {
        state += 0x9e3779b97f4a7c15ULL;
        z = state;
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        z ^= z >> 31;
        for (int i = 0; i < 8; i++)
            b[8 * half + i] = (unsigned char)(z >> (8 * i));
    }
    return 0;
}


int
ids_request_id(char out[IDS_REQUEST_LEN + 1])
{
    static const char digits[] = "0123456789abcdef";
    unsigned char b[16];
    char id[IDS_REQUEST_LEN + 1];
    size_t o = 0;
    int rc;

    rc = request_bits(b);
    if (rc != 0)
        return rc;

    /* RFC 9562: version 4 in the high nibble of byte 6, variant 10xx in
     * the high bits of byte 8. */
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);

    for (size_t i = 0; i < sizeof b; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            id[o++] = '-';
        id[o++] = digits[b[i] >> 4];
        id[o++] = digits[b[i] & 0x0f];
    }
    id[o] = '\0';

    memcpy(out, id, sizeof id);
    return 0;
}


bool
ids_is_resource_id(const char *s)
{
    size_t n;

    if (s == NULL)
        return false;

    /* Explicit ranges rather than isalnum(), which depends on locale. */
    for (n = 0; s[n] != '\0'; n++) {
        char c = s[n];

        if (n >= IDS_RESOURCE_LEN)
            return false;
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
              || (c >= '0' && c <= '9')))
            return false;
    }
    return n == IDS_RESOURCE_LEN;
}
