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

struct buf {
    char *p;
    size_t len;
    size_t cap;
    int err;
};


static void
reserve(struct buf *b, size_t more)
{
    size_t cap;
    char *grown;

    if (b->err != 0 || b->len + more + 1 <= b->cap)
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


static void
put(struct buf *b, const char *s, size_t n)
{
    reserve(b, n);
    if (b->err != 0)
        return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
}


static void
put_char(struct buf *b, char c)
{
    put(b, &c, 1);
}


/* True for the bytes RFC 8259 makes us escape: quotes, backslashes and
 * control characters. */
static bool
needs_escape(unsigned char c)
{
    return c < 0x20 || c == '"' || c == '\\';
}


/* Escapes what RFC 8259 requires and copies the rest in runs. The text is
 * valid UTF-8 already, since jansson checks every string. */
static void
put_string(struct buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t run = 0;

    reserve(b, n + 2);
    put_char(b, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if (!needs_escape(c))
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


static void
put_integer(struct buf *b, json_int_t v)
{
    char text[24];
    int n = snprintf(text, sizeof(text), "%" JSON_INTEGER_FORMAT, v);

    put(b, text, (size_t)n);
}


static void
put_real(struct buf *b, double v)
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
        long long frac = llabs(whole % 1000);

        n = snprintf(text, sizeof(text), "%s%lld", whole < 0 ? "-" : "",
                     llabs(whole / 1000));
        if (frac != 0) {
            n += snprintf(text + n, sizeof(text) - (size_t)n, ".%03lld",
                          frac);
            while (text[n - 1] == '0')
                n--;
        } else {
            n += snprintf(text + n, sizeof(text) - (size_t)n, ".0");
        }
    } else {
        n = snprintf(text, sizeof(text), "%.17g", v);
    }
    put(b, text, (size_t)n);
}


static void
put_value(struct buf *b, const json_t *v, int depth)
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
        put_integer(b, json_integer_value(v));
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
json_text_dump(const json_t *value, char **out, size_t *out_len)
{
    struct buf b = { 0 };

    if (value == NULL)
        return ERR_INVAL;
    put_value(&b, value, 0);
    reserve(&b, 0);
    if (b.err != 0) {
        free(b.p);
        return b.err;
    }
    b.p[b.len] = '\0';
    *out = b.p;
    *out_len = b.len;
    return 0;
}
