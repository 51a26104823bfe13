/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Random identifiers: resource ids (DomainId, JobId and the 22 characters
 * after "id#" in generated speaker and fraudster ids) and request ids.
 *
 * A resource id is 22 characters drawn uniformly from [A-Za-z0-9], about
 * 131 bits, so ids never need to be checked for collisions and reveal
 * nothing about order or count. A request id is a random (version 4)
 * UUID, the form AWS sends in x-amzn-RequestId.
 */
#ifndef TIMBRE_UTIL_IDS_H
#define TIMBRE_UTIL_IDS_H

#include <stdbool.h>

#define IDS_RESOURCE_LEN 22
#define IDS_REQUEST_LEN 36

/* Writes a new resource id and a NUL into 'out' (caller-owned, 23
 * bytes). Returns 0 or ERR_CRYPTO; 'out' is untouched on failure. */
int ids_new(char out[IDS_RESOURCE_LEN + 1]);

/* Writes a new lowercase UUID v4 ("xxxxxxxx-xxxx-4xxx-[89ab]xxx-
 * xxxxxxxxxxxx") and a NUL into 'out' (caller-owned, 37 bytes). Returns 0
 * or ERR_CRYPTO; 'out' is untouched on failure. */
int ids_request_id(char out[IDS_REQUEST_LEN + 1]);

/* True when 's' is exactly 22 ASCII letters and digits. NULL is false. */
bool ids_is_resource_id(const char *s);

#endif
