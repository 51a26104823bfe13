/* SPDX-License-Identifier: Apache-2.0 */
/* A compact, cycle-check-free JSON writer over jansson trees. */
#include "util/json_text.h"

#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"

#define MAX_DEPTH 64

/* Makes room for 'more' bytes and the final NUL; sets b->err when it
 * cannot. */
static void
grow(struct json_text *b, size_t more)
{
    size_t cap;
    char *grown;

    if (b->err != 0)
        return;
    cap = b->cap ? b->cap : 4096;
    while (cap < b->len + more + 1)
        cap *= 2;
    grown = realloc(b->p, cap);
    if (grown == NULL) {
        b->err = ERR_NOMEM;
        return;
    }
    b->p = grown;
    b->cap = cap;
}


/* True when 'more' bytes fit; inline, since every byte written asks,
 * and it rarely has to grow. */
static inline bool
reserve(struct json_text *b, size_t more)
{
    if (b->len + more + 1 > b->cap)
        grow(b, more);
    return b->err == 0;
}


static void
put(struct json_text *b, const char *s, size_t n)
{
    if (!reserve(b, n))
        return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
}


static void
put_char(struct json_text *b, char c)
{
    if (!reserve(b, 1))
        return;
    b->p[b->len++] = c;
}


/* The bytes RFC 8259 makes us escape: quotes, backslashes and control
 * characters; a table, since every byte of every string is looked up. */
static const bool escaped[256] = {
    [0x00] = true, [0x01] = true, [0x02] = true, [0x03] = true,
    [0x04] = true, [0x05] = true, [0x06] = true, [0x07] = true,
    [0x08] = true, [0x09] = true, [0x0a] = true, [0x0b] = true,
    [0x0c] = true, [0x0d] = true, [0x0e] = true, [0x0f] = true,
    [0x10] = true, [0x11] = true, [0x12] = true, [0x13] = true,
    [0x14] = true, [0x15] = true, [0x16] = true, [0x17] = true,
    [0x18] = true, [0x19] = true, [0x1a] = true, [0x1b] = true,
    [0x1c] = true, [0x1d] = true, [0x1e] = true, [0x1f] = true,
    ['"'] = true, ['\\'] = true,
};


/* Escapes what RFC 8259 requires and copies the rest in runs. The text is
 * valid UTF-8 already, since jansson checks every string. */
static void
put_string(struct json_text *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t run = 0;

    reserve(b, n + 2);
    put_char(b, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if (!escaped[c])
            continue;
        put(b, s + run, i - run);
        run = i + 1;
        switch (c) {
        case '"':  put(b, "\\\"", 2); break;
        case '\\': put(b, "\\\\", 2); break;
        case '\n': put(b, "\\n", 2); break;
        case '\r': put(b, "\\r", 2); break;
        case '\t': put(b, "\\t", 2); break;
        default: {
            char esc[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };

            put(b, esc, sizeof(esc));
            break;
        }
        }
    }
    put(b, s + run, n - run);
    put_char(b, '"');
}


/* Decimal digits without printf, which is slow for something this
 * common (every timestamp and count of a reply). */
static void
put_unsigned(struct json_text *b, unsigned long long v)
{
    char digits[24];
    size_t i = sizeof(digits);

    do {
        digits[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    put(b, digits + i, sizeof(digits) - i);
}


static void
put_integer(struct json_text *b, long long v)
{
    if (v < 0) {
        put_char(b, '-');
        put_unsigned(b, 0ULL - (unsigned long long)v);
        return;
    }
    put_unsigned(b, (unsigned long long)v);
}


static void
put_real(struct json_text *b, double v)
{
    char text[40];
    double ms = v * 1000.0;
    int n;

    if (!isfinite(v)) {
        b->err = ERR_INVAL;
        return;
    }

    /* Whole milliseconds below 2^53 print exactly and without noise. */
    if (fabs(ms) < 9007199254740992.0 && ms == floor(ms)) {
        long long whole = (long long)ms;
        unsigned long long magnitude = (unsigned long long)whole;
        unsigned long long abs_ms = whole < 0 ? 0ULL - magnitude : magnitude;
        unsigned frac = (unsigned)(abs_ms % 1000);
        char frac_text[4] = { (char)('0' + frac / 100),
                              (char)('0' + frac / 10 % 10),
                              (char)('0' + frac % 10), '\0' };
        size_t frac_len = 3;

        if (whole < 0)
            put_char(b, '-');
        put_unsigned(b, abs_ms / 1000);
        if (frac == 0) {
            put(b, ".0", 2);
            return;
        }
        while (frac_text[frac_len - 1] == '0')
            frac_len--;
        put_char(b, '.');
        put(b, frac_text, frac_len);
        return;
    }
    n = snprintf(text, sizeof(text), "%.17g", v);
    put(b, text, (size_t)n);
}


static void
put_value(struct json_text *b, const json_t *v, int depth)
{
    const char *key;
    json_t *item;
    size_t i;
    bool first = true;

    if (depth > MAX_DEPTH) {
        b->err = ERR_INVAL;
        return;
    }

    switch (json_typeof(v)) {
    case JSON_OBJECT:
        put_char(b, '{');
        json_object_foreach((json_t *)v, key, item) {
            if (!first)
                put_char(b, ',');
            first = false;
            put_string(b, key, strlen(key));
            put_char(b, ':');
            put_value(b, item, depth + 1);
        }
        put_char(b, '}');
        break;
    case JSON_ARRAY:
        put_char(b, '[');
        json_array_foreach(v, i, item) {
            if (i > 0)
                put_char(b, ',');
            put_value(b, item, depth + 1);
        }
        put_char(b, ']');
        break;
    case JSON_STRING:
        put_string(b, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER:
        put_integer(b, (long long)json_integer_value(v));
        break;
    case JSON_REAL:
        put_real(b, json_real_value(v));
        break;
    case JSON_TRUE:
        put(b, "true", 4);
        break;
    case JSON_FALSE:
        put(b, "false", 5);
        break;
    case JSON_NULL:
        put(b, "null", 4);
        break;
    }
}


int
json_text_finish(struct json_text *t, char **out, size_t *out_len)
{
    int rc = t->err;

    if (rc == 0 && t->depth != 0)
        rc = ERR_INVAL;
    if (rc == 0 && !reserve(t, 0))
        rc = t->err;
    if (rc != 0) {
        json_text_discard(t);
        return rc;
    }
    t->p[t->len] = '\0';
    *out = t->p;
    *out_len = t->len;
    *t = (struct json_text)JSON_TEXT_INIT;
    return 0;
}


struct json_text_place
json_text_here(const struct json_text *t)
{
    struct json_text_place place = { t->len, t->depth,
                                     t->has_item[t->depth] };

    return place;
}


void
json_text_rewind(struct json_text *t, struct json_text_place place)
{
    if (t->err != 0 || place.len > t->len || place.depth > t->depth) {
        t->err = ERR_INVAL;
        return;
    }
    t->len = place.len;
    t->depth = place.depth;
    t->has_item[t->depth] = place.has_item;
    t->after_key = false;
}


void
json_text_discard(struct json_text *t)
{
    free(t->p);
    *t = (struct json_text)JSON_TEXT_INIT;
}


int
json_text_dump(const json_t *value, char **out, size_t *out_len)
{
    struct json_text b = JSON_TEXT_INIT;

    if (value == NULL)
        return ERR_INVAL;
    put_value(&b, value, 0);
    return json_text_finish(&b, out, out_len);
}


/* Starts a value: a comma when one came before it at this level, unless
 * it is the value of the key just written. */
static void
begin_value(struct json_text *t)
{
    if (t->after_key)
        t->after_key = false;
    else if (t->has_item[t->depth])
        put_char(t, ',');
    t->has_item[t->depth] = true;
}


void
json_text_open(struct json_text *t, char bracket)
{
    begin_value(t);
    if (t->depth == JSON_TEXT_MAX_DEPTH) {
        t->err = ERR_INVAL;
        return;
    }
    put_char(t, bracket);
    t->depth++;
    t->has_item[t->depth] = false;
}


void
json_text_close(struct json_text *t, char bracket)
{
    if (t->depth == 0) {
        t->err = ERR_INVAL;
        return;
    }
    put_char(t, bracket);
    t->depth--;
}


void
json_text_key(struct json_text *t, const char *key)
{
    size_t n = strlen(key);

    /* Keys are the model's member names: nothing in them needs escaping,
     * and a page of summaries writes a thousand of them. */
    begin_value(t);
    reserve(t, n + 3);
    put_char(t, '"');
    put(t, key, n);
    put(t, "\":", 2);
    t->after_key = true;
}


void
json_text_string(struct json_text *t, const char *s)
{
    begin_value(t);
    put_string(t, s, strlen(s));
}


void
json_text_member(struct json_text *t, const char *key, const char *value)
{
    if (value == NULL)
        return;
    json_text_key(t, key);
    json_text_string(t, value);
}


void
json_text_int(struct json_text *t, long long v)
{
    begin_value(t);
    put_integer(t, v);
}


void
json_text_time(struct json_text *t, double epoch_s)
{
    begin_value(t);
    put_real(t, floor(epoch_s * 1000.0 + 0.5) / 1000.0);
}


void
json_text_value(struct json_text *t, const json_t *v)
{
    begin_value(t);
    put_value(t, v, t->depth);
}
