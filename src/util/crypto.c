/* SPDX-License-Identifier: Apache-2.0 */
/* OpenSSL-backed hashing, MACs, randomness and text encodings. */
#include "util/crypto.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "util/err.h"

static const char b64url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";


int
crypto_sha256(const void *data, size_t len,
              unsigned char digest[CRYPTO_SHA256_LEN])
{
    unsigned int n = 0;

    if (EVP_Digest(data, len, digest, &n, EVP_sha256(), NULL) != 1)
        return ERR_CRYPTO;
    return n == CRYPTO_SHA256_LEN ? 0 : ERR_CRYPTO;
}


int
crypto_hmac_sha256(const void *key, size_t key_len, const void *data,
                   size_t len, unsigned char mac[CRYPTO_SHA256_LEN])
{
    unsigned int n = 0;

    if (HMAC(EVP_sha256(), key, (int)key_len, data, len, mac, &n) == NULL)
        return ERR_CRYPTO;
    return n == CRYPTO_SHA256_LEN ? 0 : ERR_CRYPTO;
}


int
crypto_random(void *buf, size_t len)
{
    return RAND_bytes(buf, (int)len) == 1 ? 0 : ERR_CRYPTO;
}


bool
crypto_equal(const void *a, const void *b, size_t len)
{
    return CRYPTO_memcmp(a, b, len) == 0;
}


void
crypto_hex(const unsigned char *data, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[data[i] >> 4];
        out[2 * i + 1] = digits[data[i] & 0x0f];
    }
    out[2 * len] = '\0';
}


size_t
crypto_b64url_len(size_t len)
{
    return len / 3 * 4 + (len % 3 ? len % 3 + 1 : 0);
}


void
crypto_b64url_encode(const unsigned char *data, size_t len, char *out)
{
    size_t o = 0;
    size_t i = 0;

    for (; i + 3 <= len; i += 3) {
        unsigned long v = (unsigned long)data[i] << 16
                        | (unsigned long)data[i + 1] << 8 | data[i + 2];
        out[o++] = b64url_alphabet[v >> 18 & 63];
        out[o++] = b64url_alphabet[v >> 12 & 63];
        out[o++] = b64url_alphabet[v >> 6 & 63];
        out[o++] = b64url_alphabet[v & 63];
    }

    if (len - i == 1) {
        unsigned long v = (unsigned long)data[i] << 16;
        out[o++] = b64url_alphabet[v >> 18 & 63];
        out[o++] = b64url_alphabet[v >> 12 & 63];
    } else if (len - i == 2) {
        unsigned long v = (unsigned long)data[i] << 16
                        | (unsigned long)data[i + 1] << 8;
        out[o++] = b64url_alphabet[v >> 18 & 63];
        out[o++] = b64url_alphabet[v >> 12 & 63];
        out[o++] = b64url_alphabet[v >> 6 & 63];
    }
    out[o] = '\0';
}


static int
b64url_value(char c)
{
    const char *p;

    if (c == '\0')
        return -1;
    p = strchr(b64url_alphabet, c);
    return p ? (int)(p - b64url_alphabet) : -1;
}


int
crypto_b64url_decode(const char *text, unsigned char *out, size_t out_cap,
                     size_t *out_len)
{
    size_t n_chars = strlen(text);
    size_t n_bytes = n_chars / 4 * 3;
    unsigned long acc = 0;
    int bits = 0;
    size_t o = 0;

    /* One leftover character can never encode a whole byte. */
    if (n_chars % 4 == 1)
        return ERR_INVAL;
    if (n_chars % 4)
        n_bytes += n_chars % 4 - 1;
    if (n_bytes > out_cap)
        return ERR_TOOBIG;

    for (size_t i = 0; i < n_chars; i++) {
        int v = b64url_value(text[i]);

        if (v < 0)
            return ERR_INVAL;
        acc = (acc << 6 | (unsigned long)v) & 0xffffff;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits & 0xff);
        }
    }
    *out_len = o;
    return 0;
}
