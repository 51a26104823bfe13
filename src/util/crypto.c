/* SPDX-License-Identifier: Apache-2.0 */
/* OpenSSL-backed hashing, MACs, randomness and text encodings. */
#include "util/crypto.h"

#include <string.h>

#include <pthread.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "util/err.h"

/*
 * OpenSSL 3 looks an algorithm up by name on every one-shot call, which
 * cost a fifth of a signed request's CPU time in the benchmark. So the
 * algorithms are fetched once, and each thread keeps its own digest and
 * MAC contexts, re-initialised per use and freed when the thread ends.
 */
struct thread_contexts {
    EVP_MD_CTX *digest;
    EVP_MAC_CTX *mac;
};

static pthread_once_t fetch_once = PTHREAD_ONCE_INIT;
static pthread_key_t contexts_key;
static EVP_MD *sha256_md;
static EVP_MAC *hmac_mac;

static const char b64url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";


static void
contexts_free(void *arg)
{
    struct thread_contexts *tc = arg;

    EVP_MD_CTX_free(tc->digest);
    EVP_MAC_CTX_free(tc->mac);
    OPENSSL_free(tc);
}


static void
fetch_algorithms(void)
{
    sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
    hmac_mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    pthread_key_create(&contexts_key, contexts_free);
}


/* The calling thread's contexts, made on first use; NULL on failure. */
static struct thread_contexts *
thread_contexts(void)
{
    struct thread_contexts *tc;
    OSSL_PARAM params[2];

    pthread_once(&fetch_once, fetch_algorithms);
    if (sha256_md == NULL || hmac_mac == NULL)
        return NULL;
    tc = pthread_getspecific(contexts_key);
    if (tc != NULL)
        return tc;

    tc = OPENSSL_zalloc(sizeof(*tc));
    if (tc == NULL)
        return NULL;
    tc->digest = EVP_MD_CTX_new();
    tc->mac = EVP_MAC_CTX_new(hmac_mac);
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
                                                 (char *)"SHA256", 0);
    params[1] = OSSL_PARAM_construct_end();
    if (tc->digest == NULL || tc->mac == NULL
        || EVP_MAC_CTX_set_params(tc->mac, params) != 1
        || pthread_setspecific(contexts_key, tc) != 0) {
        contexts_free(tc);
        return NULL;
    }
    return tc;
}


int
crypto_sha256(const void *data, size_t len,
              unsigned char digest[CRYPTO_SHA256_LEN])
{
    struct thread_contexts *tc = thread_contexts();
    unsigned int n = 0;

    if (tc == NULL
        || EVP_DigestInit_ex(tc->digest, sha256_md, NULL) != 1
        || EVP_DigestUpdate(tc->digest, data, len) != 1
        || EVP_DigestFinal_ex(tc->digest, digest, &n) != 1)
        return ERR_CRYPTO;
    return n == CRYPTO_SHA256_LEN ? 0 : ERR_CRYPTO;
}


int
crypto_hmac_sha256(const void *key, size_t key_len, const void *data,
                   size_t len, unsigned char mac[CRYPTO_SHA256_LEN])
{
    struct thread_contexts *tc = thread_contexts();
    size_t n = 0;

    if (tc == NULL
        || EVP_MAC_init(tc->mac, key, key_len, NULL) != 1
        || EVP_MAC_update(tc->mac, data, len) != 1
        || EVP_MAC_final(tc->mac, mac, &n, CRYPTO_SHA256_LEN) != 1)
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
