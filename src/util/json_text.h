/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Compact JSON text for responses: from a jansson tree, or written piece
 * by piece straight from records.
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

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#define JSON_TEXT_MAX_DEPTH 16

/*
 * A JSON text being written piece by piece, for replies made straight
 * from records, where building a jansson tree first would cost more than
 * the rest of the call. Commas come by themselves. The first failure
 * sticks: later calls do nothing and json_text_finish() reports it.
 *
 *   struct json_text w = JSON_TEXT_INIT;
 *   json_text_open(&w, '{');
 *   json_text_key(&w, "Name");
 *   json_text_string(&w, name);
 *   json_text_close(&w, '}');
 *   rc = json_text_finish(&w, &text, &len);
 *
 * Strings must be valid UTF-8 (what the store holds came in through
 * jansson, which checks it); they are escaped as RFC 8259 requires.
 */
struct json_text {
    char *p;                    /* owned until json_text_finish() */
    size_t len;
    size_t cap;
    int err;
    int depth;
    bool after_key;             /* the next value is a key's */
    bool has_item[JSON_TEXT_MAX_DEPTH + 1];  /* a comma is due, by depth */
};

#define JSON_TEXT_INIT { NULL, 0, 0, 0, 0, false, { false } }

/* Opens an object ('{') or an array ('['), as a value. */
void json_text_open(struct json_text *t, char bracket);

/* Closes what json_text_open() opened, with '}' or ']'. */
void json_text_close(struct json_text *t, char bracket);

/* Writes an object member's key; the next call writes its value. The key
 * is written as it is: it must need no escaping (a member name of the
 * service model does not). */
void json_text_key(struct json_text *t, const char *key);

void json_text_string(struct json_text *t, const char *s);

/* A key and its string value; nothing at all when 'value' is NULL, as the
 * service model leaves an absent member out. */
void json_text_member(struct json_text *t, const char *key,
                      const char *value);
void json_text_int(struct json_text *t, long long v);

/* Epoch seconds rounded to whole milliseconds, printed exactly. */
void json_text_time(struct json_text *t, double epoch_s);

/* A jansson value, written as json_text_dump() would. */
void json_text_value(struct json_text *t, const json_t *v);

/* A place in the text to come back to, from json_text_here(). */
struct json_text_place {
    size_t len;
    int depth;
    bool has_item;
};

/* Where the text is now: between values, not after a key. */
struct json_text_place json_text_here(const struct json_text *t);

/* Drops everything written after 'place', as if it never was. */
void json_text_rewind(struct json_text *t, struct json_text_place place);

/* Frees the text of a reply given up on, and resets 't'. */
void json_text_discard(struct json_text *t);

/*
 * Ends the text: sets *out to it (NUL-terminated, the caller frees it) and
 * *out_len to its length, and resets 't'. Returns 0; or the first failure
 * (ERR_NOMEM, or ERR_INVAL for a value JSON cannot hold or brackets left
 * open), having freed the text.
 */
int json_text_finish(struct json_text *t, char **out, size_t *out_len);

/*
 * Writes 'value' as compact JSON into a new NUL-terminated buffer *out of
 * *out_len bytes (excluding the NUL); the caller frees it. Returns 0,
 * ERR_NOMEM, or ERR_INVAL for a value JSON cannot hold (NaN, infinity, or
 * nesting deeper than 64 levels). *out is untouched on failure.
 */
int json_text_dump(const json_t *value, char **out, size_t *out_len);

#endif
