/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Voiceprints at rest. A voiceprint's numbers are kept as little-endian
 * float32 values sealed with the key ring under the key of the domain the
 * speaker belongs to, and bound to that domain and the customer speaker
 * id: a blob copied onto another speaker, or into another domain, does
 * not open.
 *
 * The enrollment runner seals; UpdateDomain re-seals every voiceprint of
 * a domain whose key changes, so each blob is always under the domain's
 * current key. Both ends share this module so they agree on the layout
 * and the binding.
 */
#ifndef TIMBRE_UTIL_SEALEDPRINT_H
#define TIMBRE_UTIL_SEALEDPRINT_H

#include <stddef.h>

struct keyring;

/* Seals the 'dim' values of a voiceprint under 'key_id' (made if new)
 * for the speaker 'customer_id' of 'domain_id'. Sets *out to a malloc'd
 * blob of *out_len bytes that the caller frees. Returns 0, or an error of
 * keyring_seal(); *out is untouched on failure. */
int sealedprint_seal(struct keyring *k, const char *key_id,
                     const char *domain_id, const char *customer_id,
                     const float *values, size_t dim, unsigned char **out,
                     size_t *out_len);

/* Opens 'sealed' ('len' bytes, sealed under 'old_key' for the same
 * speaker) and seals the same values again under 'new_key'. Sets *out to
 * a malloc'd blob of *out_len bytes that the caller frees. Returns 0, or
 * an error of keyring_open_sealed() or keyring_seal(); nothing decrypted
 * is left in memory, and *out is untouched on failure. */
int sealedprint_reseal(struct keyring *k, const char *old_key,
                       const char *new_key, const char *domain_id,
                       const char *customer_id, const unsigned char *sealed,
                       size_t len, unsigned char **out, size_t *out_len);

#endif
