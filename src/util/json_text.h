/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Compact JSON text from a jansson tree, for responses.
 *
 * jansson's own json_dumps() checks every object and array for cycles
 * through a hash table keyed by printed pointers, and prints numbers
 * through printf; together that was a third of the CPU time of a
 * ListDomains call in the benchmark. Response trees are built fresh for
 * each reply and never contain cycles, so this writer walks them directly.
 * Objects keep jansson's insertion order. Reals that are whole
 * milliseconds (every timestamp) print exactly as such; others print with
 * 17 significant digits. Never logs.
 */
#ifndef TIMBRE_UTIL_JSON_TEXT_H
#define TIMBRE_UTIL_JSON_TEXT_H

#include <stddef.h>

#include <jansson.h>

/*
 * Writes 'value' as compact JSON into a new NUL-terminated buffer *out of
 * *out_len bytes (excluding the NUL); the caller frees it. Returns 0,
 * ERR_NOMEM, or ERR_INVAL for a value JSON cannot hold (NaN, infinity, or
 * nesting deeper than 64 levels). *out is untouched on failure.
 */
int json_text_dump(const json_t *value, char **out, size_t *out_len);

#endif
