/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Voiceprints at rest: serialisation, sealing and re-sealing under a
 * domain's key. See sealedprint.h.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "util/keyring.h"
#include "util/sealedprint.h"

/* Names the record a blob belongs to; the GCM tag covers it. */
static char *
binding_of(const char *domain_id, const char *customer_id)
{
    char *aad;

    if (asprintf(&aad, "timbre/voiceprint/%s/%s", domain_id,
                 customer_id) < 0)
        return NULL;
    return aad;
}


int
sealedprint_seal(struct keyring *k, const char *key_id,
                 const char *domain_id, const char *customer_id,
                 const float *values, size_t dim, unsigned char **out,
                 size_t *out_len)
{
    unsigned char *plain;
    char *aad = NULL;
    uint32_t bits;
    int rc;

    plain = malloc(dim * 4 + 1);
    if (plain == NULL)
        return ERR_NOMEM;
    for (size_t i = 0; i < dim; i++) {
        memcpy(&bits, &values[i], sizeof bits);
        plain[4 * i] = (unsigned char)(bits & 0xFF);
        plain[4 * i + 1] = (unsigned char)((bits >> 8) & 0xFF);
        plain[4 * i + 2] = (unsigned char)((bits >> 16) & 0xFF);
        plain[4 * i + 3] = (unsigned char)((bits >> 24) & 0xFF);
    }

    aad = binding_of(domain_id, customer_id);
    if (aad == NULL) {
        rc = ERR_NOMEM;
        goto out;
    }
    rc = keyring_seal(k, key_id, aad, strlen(aad), plain, dim * 4, out,
                      out_len);

out:
    free(aad);
    explicit_bzero(plain, dim * 4 + 1);
    free(plain);
    return rc;
}


int
sealedprint_reseal(struct keyring *k, const char *old_key,
                   const char *new_key, const char *domain_id,
                   const char *customer_id, const unsigned char *sealed,
                   size_t len, unsigned char **out, size_t *out_len)
{
    unsigned char *plain = NULL;
    size_t plain_len = 0;
    char *aad;
    int rc;

    aad = binding_of(domain_id, customer_id);
    if (aad == NULL)
        return ERR_NOMEM;

    rc = keyring_open_sealed(k, old_key, aad, strlen(aad), sealed, len,
                             &plain, &plain_len);
    if (rc != 0)
        goto out;
    rc = keyring_seal(k, new_key, aad, strlen(aad), plain, plain_len, out,
                      out_len);

out:
    if (plain != NULL) {
        explicit_bzero(plain, plain_len);
        free(plain);
    }
    free(aad);
    return rc;
}
