/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The generic request validator: one recursive walk over a JSON value and
 * the model shape it should have, collecting every violation.
 *
 * Shared state is only the compiled patterns (one per entry of
 * model_patterns) and a match context holding the backtracking limit. They
 * are built once under 'init_lock' and published through the atomic
 * 'init_state'; after that nobody writes them until validate_fini(). A walk
 * owns its path, its message and its match data, so concurrent walks never
 * touch the same mutable memory.
 *
 * The recursion follows the shape tree, not the JSON: a value nested deeper
 * than its shape is a type violation and is not entered, so a hostile body
 * cannot drive the walk deeper than the model's own nesting. MAX_DEPTH
 * bounds it anyway in case a future model has recursive shapes.
 *
 * Every text that reaches the message (echoed values, unknown names, map
 * keys) passes through put_text(), which keeps whole UTF-8 sequences only,
 * replaces control characters and cuts at ECHO_MAX_CP code points; callers
 * may therefore hand the message to json_string() and to a log line.
 */
#define PCRE2_CODE_UNIT_WIDTH 8

#include <assert.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pcre2.h>

#include "api/validate.h"
#include "util/err.h"

/* Levels of structures, lists and maps a walk enters. */
#define MAX_DEPTH 32

/* Code points of a value, key or unknown name copied into a message. */
#define ECHO_MAX_CP 64

/* Backtracking steps one pattern match may take; the model's patterns need
 * a few per input byte, so only a pathological pattern reaches it. */
#define MATCH_LIMIT 1000000

/* '$' only at the very end: Java's matches() refuses a trailing newline. */
#define PATTERN_OPTIONS \
    (PCRE2_UTF | PCRE2_UCP | PCRE2_DOLLAR_ENDONLY | PCRE2_NEVER_BACKSLASH_C)

struct sbuf {
    char *data;     /* NUL-terminated once anything was appended */
    size_t len;
    size_t cap;
    bool failed;    /* an allocation failed; the content is incomplete */
};

struct walk {
    struct sbuf path;       /* "Tags.3.Key" of the value being checked */
    struct sbuf items;      /* the first VALIDATE_MAX_REPORTED violations */
    size_t n_errors;        /* every violation, reported or not */
    size_t depth;
    pcre2_match_data *md;   /* made on the first pattern match */
    int rc;                 /* ERR_NOMEM stops the walk */
};

/* A Java class PCRE2 lacks and the ranges it stands for (ASCII only, as
 * Java's POSIX classes are without UNICODE_CHARACTER_CLASS). */
struct java_class {
    const char *name;
    const char *ranges;
};

static const struct java_class java_classes[] = {
    { "ASCII", "\\x00-\\x7F" },
    { "Alnum", "a-zA-Z0-9" },
    { "Alpha", "a-zA-Z" },
    { "Blank", " \\t" },
    { "Cntrl", "\\x00-\\x1F\\x7F" },
    { "Digit", "0-9" },
    { "Graph", "!-~" },
    { "Lower", "a-z" },
    { "Print", " -~" },
    { "Punct", "!-\\/:-@\\[-`{-~" },
    { "Space", " \\t\\n\\x0B\\f\\r" },
    { "Upper", "A-Z" },
    { "XDigit", "0-9a-fA-F" },
};

static pthread_mutex_t init_lock = PTHREAD_MUTEX_INITIALIZER;

/* 0: not compiled yet; 1: ready; ERR_INTERNAL: a pattern is broken. */
static atomic_int init_state;

static pcre2_code **codes;  /* model_n_patterns entries */
static pcre2_match_context *match_ctx;

static void check_value(struct walk *w, const struct model_shape *s,
                        const json_t *v, bool sensitive);


static bool
sb_reserve(struct sbuf *sb, size_t extra)
{
    size_t cap;
    char *data;

    if (sb->failed) {
        return false;
    }
    if (sb->len + extra + 1 <= sb->cap) {
        return true;
    }
    cap = sb->cap > 0 ? sb->cap : 128;
    while (cap < sb->len + extra + 1) {
        cap *= 2;
    }
    data = realloc(sb->data, cap);
    if (data == NULL) {
        sb->failed = true;
        return false;
    }
    sb->data = data;
    sb->cap = cap;
    return true;
}


static void
sb_append(struct sbuf *sb, const char *s, size_t n)
{
    if (!sb_reserve(sb, n)) {
        return;
    }
    memcpy(sb->data + sb->len, s, n);
    sb->len += n;
    sb->data[sb->len] = '\0';
}


static void
sb_puts(struct sbuf *sb, const char *s)
{
    sb_append(sb, s, strlen(s));
}


static void
sb_vprintf(struct sbuf *sb, const char *fmt, va_list ap)
{
    va_list ap2;
    int n;

    va_copy(ap2, ap);
    n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0) {
        sb->failed = true;
        return;
    }
    if (!sb_reserve(sb, (size_t)n)) {
        return;
    }
    vsnprintf(sb->data + sb->len, (size_t)n + 1, fmt, ap);
    sb->len += (size_t)n;
}


static void __attribute__((format(printf, 2, 3)))
sb_printf(struct sbuf *sb, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    sb_vprintf(sb, fmt, ap);
    va_end(ap);
}


static void
sb_truncate(struct sbuf *sb, size_t len)
{
    if (sb->data != NULL && len <= sb->len) {
        sb->len = len;
        sb->data[len] = '\0';
    }
}


static const char *
sb_str(const struct sbuf *sb)
{
    return sb->data != NULL ? sb->data : "";
}


/* Decodes the UTF-8 sequence at s[0..n) into '*cp'. Returns its length in
 * bytes, or 0 if it is not valid UTF-8 (overlong forms, surrogates and
 * values past U+10FFFF included). */
static size_t
utf8_decode(const char *s, size_t n, uint32_t *cp)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t len;
    size_t i;
    uint32_t c;

    if (u[0] < 0x80) {
        *cp = u[0];
        return 1;
    }
    if (u[0] < 0xC2) {
        return 0;
    } else if (u[0] < 0xE0) {
        len = 2;
        c = u[0] & 0x1Fu;
    } else if (u[0] < 0xF0) {
        len = 3;
        c = u[0] & 0x0Fu;
    } else if (u[0] < 0xF5) {
        len = 4;
        c = u[0] & 0x07u;
    } else {
        return 0;
    }
    if (len > n) {
        return 0;
    }
    for (i = 1; i < len; i++) {
        if ((u[i] & 0xC0) != 0x80) {
            return 0;
        }
        c = (c << 6) | (u[i] & 0x3Fu);
    }

    if ((len == 3 && (c < 0x800 || (c >= 0xD800 && c <= 0xDFFF))) ||
        (len == 4 && (c < 0x10000 || c > 0x10FFFF))) {
        return 0;
    }
    *cp = c;
    return len;
}


/* Counts the code points of s[0..n). Returns false if it is not UTF-8;
 * strings from json_loads() always are, but json_stringn_nocheck() exists. */
static bool
utf8_count(const char *s, size_t n, size_t *n_cp)
{
    size_t i = 0;
    size_t count = 0;
    size_t len;
    uint32_t cp;

    while (i < n) {
        len = utf8_decode(s + i, n - i, &cp);
        if (len == 0) {
            return false;
        }
        i += len;
        count++;
    }
    *n_cp = count;
    return true;
}


/* Appends untrusted text fit for a one-line message: whole code points
 * only, control characters (C0, DEL, C1, line and paragraph separators) as
 * '?', at most ECHO_MAX_CP code points and then "...". */
static void
put_text(struct sbuf *sb, const char *s, size_t n)
{
    size_t i = 0;
    size_t n_cp = 0;
    size_t len;
    uint32_t cp;

    while (i < n && n_cp < ECHO_MAX_CP) {
        len = utf8_decode(s + i, n - i, &cp);
        if (len == 0) {
            break;
        }
        if (cp < 0x20 || (cp >= 0x7F && cp < 0xA0) || cp == 0x2028 ||
            cp == 0x2029) {
            sb_append(sb, "?", 1);
        } else {
            sb_append(sb, s + i, len);
        }
        i += len;
        n_cp++;
    }
    if (i < n) {
        sb_puts(sb, "...");
    }
}


/* Appends "Value 'x'", "Value null" or, when the value must not or cannot
 * be shown, "Value". */
static void
put_value(struct sbuf *sb, const json_t *v, bool sensitive)
{
    size_t n_cp;

    if (v == NULL || json_is_null(v)) {
        sb_puts(sb, "Value null");
        return;
    }
    if (sensitive) {
        sb_puts(sb, "Value");
        return;
    }

    switch (json_typeof(v)) {
    case JSON_STRING:
        if (!utf8_count(json_string_value(v), json_string_length(v),
                        &n_cp)) {
            sb_puts(sb, "Value");
            break;
        }
        sb_puts(sb, "Value '");
        put_text(sb, json_string_value(v), json_string_length(v));
        sb_puts(sb, "'");
        break;
    case JSON_INTEGER:
        sb_printf(sb, "Value '%" JSON_INTEGER_FORMAT "'",
                  json_integer_value(v));
        break;
    case JSON_REAL:
        sb_printf(sb, "Value '%.15g'", json_real_value(v));
        break;
    case JSON_TRUE:
        sb_puts(sb, "Value 'true'");
        break;
    case JSON_FALSE:
        sb_puts(sb, "Value 'false'");
        break;
    default:
        sb_puts(sb, "Value");
        break;
    }
}


/* Counts a violation and says whether it is among those spelled out, in
 * which case the separator is already written. */
static bool
item_begin(struct walk *w)
{
    w->n_errors++;
    if (w->n_errors > VALIDATE_MAX_REPORTED) {
        return false;
    }
    if (w->n_errors > 1) {
        sb_puts(&w->items, "; ");
    }
    return true;
}


/* Records "Value 'v' at 'path' failed to satisfy constraint: Member <fmt>".
 * 'v' is NULL for a missing member. */
static void __attribute__((format(printf, 4, 5)))
report(struct walk *w, const json_t *v, bool sensitive, const char *fmt,
       ...)
{
    va_list ap;

    if (!item_begin(w)) {
        return;
    }
    put_value(&w->items, v, sensitive);
    sb_printf(&w->items, " at '%s' failed to satisfy constraint: Member ",
              sb_str(&w->path));
    va_start(ap, fmt);
    sb_vprintf(&w->items, fmt, ap);
    va_end(ap);
}


/* Adds ".name" (or "name" at the top) to the path; returns what to give
 * path_pop(). */
static size_t
path_push_name(struct walk *w, const char *name, size_t n)
{
    size_t saved = w->path.len;

    if (saved > 0) {
        sb_append(&w->path, ".", 1);
    }
    put_text(&w->path, name, n);
    return saved;
}


static size_t
path_push_index(struct walk *w, size_t i)
{
    size_t saved = w->path.len;

    sb_printf(&w->path, saved > 0 ? ".%zu" : "%zu", i);
    return saved;
}


static void
path_pop(struct walk *w, size_t saved)
{
    sb_truncate(&w->path, saved);
}


static bool
below_min(const struct model_shape *s, size_t n)
{
    return s->has_min && s->min > 0 && (uint64_t)n < (uint64_t)s->min;
}


static bool
above_max(const struct model_shape *s, size_t n)
{
    return s->has_max && (s->max < 0 || (uint64_t)n > (uint64_t)s->max);
}


/* The length constraints of strings, lists and maps, which AWS words the
 * same way for all three. */
static void
check_length(struct walk *w, const struct model_shape *s, const json_t *v,
             size_t n, bool sensitive)
{
    if (below_min(s, n)) {
        report(w, v, sensitive,
               "must have length greater than or equal to %" PRId64,
               s->min);
    }
    if (above_max(s, n)) {
        report(w, v, sensitive,
               "must have length less than or equal to %" PRId64, s->max);
    }
}


static void
check_pattern(struct walk *w, const struct model_shape *s, const json_t *v,
              bool sensitive)
{
    int rc;

    assert(s->pattern_index < model_n_patterns);
    if (w->md == NULL) {
        w->md = pcre2_match_data_create(1, NULL);
        if (w->md == NULL) {
            w->rc = ERR_NOMEM;
            return;
        }
    }

    /* The text was checked as UTF-8 already, so PCRE2 need not again. */
    rc = pcre2_match(codes[s->pattern_index],
                     (PCRE2_SPTR)json_string_value(v), json_string_length(v),
                     0, PCRE2_NO_UTF_CHECK, w->md, match_ctx);
    if (rc >= 0) {
        return;
    }
    if (rc == PCRE2_ERROR_NOMEMORY) {
        w->rc = ERR_NOMEM;
        return;
    }

    /* A match that hits a limit is refused: only what provably matches
     * passes. */
    report(w, v, sensitive, "must satisfy regular expression pattern: %s",
           s->pattern);
}


static void
check_enum(struct walk *w, const struct model_shape *s, const json_t *v,
           bool sensitive)
{
    const char *str = json_string_value(v);
    size_t len = json_string_length(v);
    size_t i;

    for (i = 0; i < s->n_enum; i++) {
        if (strlen(s->enum_values[i]) == len &&
            memcmp(s->enum_values[i], str, len) == 0) {
            return;
        }
    }

    if (!item_begin(w)) {
        return;
    }
    put_value(&w->items, v, sensitive);
    sb_printf(&w->items, " at '%s' failed to satisfy constraint: Member "
              "must satisfy enum value set: [", sb_str(&w->path));
    for (i = 0; i < s->n_enum; i++) {
        sb_printf(&w->items, "%s%s", i > 0 ? ", " : "", s->enum_values[i]);
    }
    sb_puts(&w->items, "]");
}


static void
check_string(struct walk *w, const struct model_shape *s, const json_t *v,
             bool sensitive)
{
    size_t n_cp;

    if (!json_is_string(v)) {
        report(w, v, sensitive, "must be a string");
        return;
    }
    if (!utf8_count(json_string_value(v), json_string_length(v), &n_cp)) {
        report(w, v, sensitive, "must be valid UTF-8");
        return;
    }
    if (s->type == MODEL_BLOB) {
        return;
    }

    check_length(w, s, v, n_cp, sensitive);
    if (s->pattern != NULL) {
        check_pattern(w, s, v, sensitive);
    }
    if (s->n_enum > 0) {
        check_enum(w, s, v, sensitive);
    }
}


static void
check_integer(struct walk *w, const struct model_shape *s, const json_t *v,
              bool sensitive)
{
    json_int_t x;

    /* A real such as 1.0 is refused too: handlers read the member with
     * json_integer_value(), which would see 0. */
    if (!json_is_integer(v)) {
        report(w, v, sensitive, "must be an integer");
        return;
    }
    x = json_integer_value(v);

    if (s->has_min && x < s->min) {
        report(w, v, sensitive,
               "must have value greater than or equal to %" PRId64, s->min);
    } else if (s->has_max && x > s->max) {
        report(w, v, sensitive,
               "must have value less than or equal to %" PRId64, s->max);
    } else if (s->type == MODEL_INTEGER && x < INT32_MIN) {
        report(w, v, sensitive,
               "must have value greater than or equal to %" PRId32,
               INT32_MIN);
    } else if (s->type == MODEL_INTEGER && x > INT32_MAX) {
        report(w, v, sensitive,
               "must have value less than or equal to %" PRId32, INT32_MAX);
    }
}


static void
check_number(struct walk *w, const struct model_shape *s, const json_t *v,
             bool sensitive)
{
    double x;

    if (!json_is_number(v)) {
        report(w, v, sensitive, s->type == MODEL_TIMESTAMP ?
               "must be a timestamp in epoch seconds" : "must be a number");
        return;
    }
    x = json_number_value(v);

    if (s->has_min && x < (double)s->min) {
        report(w, v, sensitive,
               "must have value greater than or equal to %" PRId64, s->min);
    } else if (s->has_max && x > (double)s->max) {
        report(w, v, sensitive,
               "must have value less than or equal to %" PRId64, s->max);
    }
}


static void
check_list(struct walk *w, const struct model_shape *s, const json_t *v,
           bool sensitive)
{
    size_t n;
    size_t i;
    size_t saved;
    const json_t *elem;

    if (!json_is_array(v)) {
        report(w, v, sensitive, "must be a list");
        return;
    }
    n = json_array_size(v);
    check_length(w, s, v, n, sensitive);

    for (i = 0; i < n && w->rc == 0; i++) {
        elem = json_array_get(v, i);
        saved = path_push_index(w, i);
        if (json_is_null(elem)) {
            report(w, elem, sensitive, "must not be null");
        } else {
            check_value(w, s->member, elem, sensitive);
        }
        path_pop(w, saved);
    }
}


/* Returns the length of the key 'iter' points at; keys may hold NUL. */
static size_t
iter_key_len(void *iter)
{
#if JANSSON_VERSION_HEX >= 0x020e00
    return json_object_iter_key_len(iter);
#else
    return strlen(json_object_iter_key(iter));
#endif
}


static void
check_map_key(struct walk *w, const struct model_shape *key_shape,
              const char *key, size_t len, bool sensitive)
{
    json_t *k;

    /* The key shape's checks want a JSON string to echo; maps are rare, so
     * a short-lived copy is simpler than a second set of checks. */
    k = json_stringn_nocheck(key, len);
    if (k == NULL) {
        w->rc = ERR_NOMEM;
        return;
    }
    check_value(w, key_shape, k, sensitive);
    json_decref(k);
}


static void
check_map(struct walk *w, const struct model_shape *s, const json_t *v,
          bool sensitive)
{
    void *iter;
    const char *key;
    size_t len;
    size_t saved;
    const json_t *value;

    if (!json_is_object(v)) {
        report(w, v, sensitive, "must be a map");
        return;
    }
    check_length(w, s, v, json_object_size(v), sensitive);

    /* jansson's iterators take a non-const object; they do not change it. */
    iter = json_object_iter((json_t *)v);
    while (iter != NULL && w->rc == 0) {
        key = json_object_iter_key(iter);
        len = iter_key_len(iter);
        value = json_object_iter_value(iter);

        if (s->key != NULL) {
            check_map_key(w, s->key, key, len, sensitive);
        }
        saved = path_push_name(w, key, len);
        if (json_is_null(value)) {
            report(w, value, sensitive, "must not be null");
        } else if (w->rc == 0) {
            check_value(w, s->value, value, sensitive);
        }
        path_pop(w, saved);

        iter = json_object_iter_next((json_t *)v, iter);
    }
}


/* 'obj' is a JSON object, or NULL for an absent body. */
static void
check_structure(struct walk *w, const struct model_shape *s,
                const json_t *obj, bool sensitive)
{
    const struct model_member *m;
    const json_t *v;
    const char *key;
    void *iter;
    size_t len;
    size_t saved;
    size_t i;

    for (i = 0; i < s->n_members && w->rc == 0; i++) {
        m = &s->members[i];
        v = obj != NULL ? json_object_get(obj, m->name) : NULL;
        saved = path_push_name(w, m->name, strlen(m->name));
        if (v == NULL || json_is_null(v)) {
            if (m->required) {
                report(w, NULL, false, "must not be null");
            }
        } else {
            check_value(w, m->shape, v, sensitive);
        }
        path_pop(w, saved);
    }

    /* Unknown names come last, in the body's order (jansson keeps it). */
    iter = obj != NULL ? json_object_iter((json_t *)obj) : NULL;
    while (iter != NULL && w->rc == 0) {
        key = json_object_iter_key(iter);
        len = iter_key_len(iter);
        if (strlen(key) != len || model_member_find(s, key) == NULL) {
            saved = path_push_name(w, key, len);
            if (item_begin(w)) {
                sb_printf(&w->items, "'%s' is not a member of %s",
                          sb_str(&w->path), s->name);
            }
            path_pop(w, saved);
        }
        iter = json_object_iter_next((json_t *)obj, iter);
    }
}


static void
check_value(struct walk *w, const struct model_shape *s, const json_t *v,
            bool sensitive)
{
    sensitive = sensitive || s->sensitive;

    switch (s->type) {
    case MODEL_STRUCTURE:
    case MODEL_LIST:
    case MODEL_MAP:
        if (w->depth >= MAX_DEPTH) {
            report(w, v, sensitive, "must not be nested more than %d levels "
                   "deep", MAX_DEPTH);
            return;
        }
        w->depth++;
        if (s->type == MODEL_LIST) {
            check_list(w, s, v, sensitive);
        } else if (s->type == MODEL_MAP) {
            check_map(w, s, v, sensitive);
        } else if (!json_is_object(v)) {
            report(w, v, sensitive, "must be a structure");
        } else {
            check_structure(w, s, v, sensitive);
        }
        w->depth--;
        break;
    case MODEL_STRING:
    case MODEL_BLOB:
        check_string(w, s, v, sensitive);
        break;
    case MODEL_INTEGER:
    case MODEL_LONG:
        check_integer(w, s, v, sensitive);
        break;
    case MODEL_BOOLEAN:
        if (!json_is_boolean(v)) {
            report(w, v, sensitive, "must be a boolean");
        }
        break;
    case MODEL_TIMESTAMP:
    case MODEL_FLOAT:
    case MODEL_DOUBLE:
        check_number(w, s, v, sensitive);
        break;
    }
}


static const struct java_class *
java_class_find(const char *name, size_t len)
{
    size_t i;

    for (i = 0; i < sizeof java_classes / sizeof java_classes[0]; i++) {
        if (strlen(java_classes[i].name) == len &&
            memcmp(java_classes[i].name, name, len) == 0) {
            return &java_classes[i];
        }
    }
    return NULL;
}


/* Translates the "\p{Name}" or "\P{Name}" at 'src' if Name is a Java class
 * PCRE2 lacks. Returns the bytes consumed, or 0 to copy 'src' unchanged. */
static size_t
translate_property(struct sbuf *sb, const char *src, bool in_class)
{
    const struct java_class *jc;
    const char *close;
    bool negated = src[1] == 'P';

    if (src[2] != '{') {
        return 0;
    }
    close = strchr(src + 3, '}');
    if (close == NULL) {
        return 0;
    }
    jc = java_class_find(src + 3, (size_t)(close - (src + 3)));
    if (jc == NULL) {
        return 0;
    }

    /* Inside a class only the ranges fit; a negated class there can be
     * spelled only for ASCII, whose complement is one range. */
    if (!in_class) {
        sb_printf(sb, "[%s%s]", negated ? "^" : "", jc->ranges);
    } else if (!negated) {
        sb_puts(sb, jc->ranges);
    } else if (strcmp(jc->name, "ASCII") == 0) {
        sb_puts(sb, "\\x{80}-\\x{10FFFF}");
    } else {
        return 0;
    }
    return (size_t)(close - src) + 1;
}


/* Handles the escape at 'src' (a backslash); returns the bytes consumed. */
static size_t
translate_escape(struct sbuf *sb, const char *src, bool in_class)
{
    const char *end;
    size_t n;

    if (src[1] == 'Q') {
        /* \Q...\E quotes literally, brackets included. */
        end = strstr(src + 2, "\\E");
        n = end != NULL ? (size_t)(end - src) + 2 : strlen(src);
        sb_append(sb, src, n);
        return n;
    }
    if (src[1] == 'p' || src[1] == 'P') {
        n = translate_property(sb, src, in_class);
        if (n > 0) {
            return n;
        }
    }
    if (src[1] == 'u' && strspn(src + 2, "0123456789abcdefABCDEF") >= 4) {
        sb_printf(sb, "\\x{%.4s}", src + 2);
        return 6;
    }
    n = src[1] != '\0' ? 2 : 1;
    sb_append(sb, src, n);
    return n;
}


/* Rewrites the Java syntax PCRE2 does not know: \p{ASCII} and the other
 * POSIX-style classes become ranges (bare in a class, bracketed outside
 * one), \uXXXX becomes \x{XXXX}. Everything else is copied; what PCRE2
 * then rejects shows up as a compile error. '*out' is newly allocated. */
static int
pattern_translate(const char *src, char **out)
{
    struct sbuf sb = { 0 };
    bool in_class = false;
    const char *close;
    size_t i = 0;
    size_t n;

    sb_reserve(&sb, strlen(src));
    while (src[i] != '\0') {
        n = 1;
        if (src[i] == '\\') {
            n = translate_escape(&sb, src + i, in_class);
            i += n;
            continue;
        }

        if (src[i] == '[' && !in_class) {
            /* A ']' right after '[' or '[^' is a literal, not the end. */
            in_class = true;
            n = src[i + 1] == '^' ? 2 : 1;
            if (src[i + n] == ']') {
                n++;
            }
        } else if (src[i] == '[' && src[i + 1] == ':') {
            /* A POSIX class such as [:alpha:] inside a class. */
            close = strstr(src + i + 2, ":]");
            if (close != NULL) {
                n = (size_t)(close - (src + i)) + 2;
            }
        } else if (src[i] == ']' && in_class) {
            in_class = false;
        }
        sb_append(&sb, src + i, n);
        i += n;
    }

    sb_append(&sb, "", 0);     /* terminates even an empty pattern */
    if (sb.failed) {
        free(sb.data);
        return ERR_NOMEM;
    }
    *out = sb.data;
    return 0;
}


/* Compiles one model pattern. On a compile error returns ERR_INVAL and,
 * if 'message' is not NULL, a newly allocated explanation in it. */
static int
pattern_compile(const char *pattern, pcre2_code **out, char **message)
{
    PCRE2_UCHAR text[256];
    PCRE2_SIZE offset;
    pcre2_code *code;
    char *translated = NULL;
    char *explained;
    int errcode;
    int rc;

    rc = pattern_translate(pattern, &translated);
    if (rc != 0) {
        return rc;
    }

    code = pcre2_compile((PCRE2_SPTR)translated, PCRE2_ZERO_TERMINATED,
                         PATTERN_OPTIONS, &errcode, &offset, NULL);
    if (code == NULL && errcode == PCRE2_ERROR_HEAP_FAILED) {
        rc = ERR_NOMEM;
        goto out;
    }
    if (code == NULL) {
        rc = ERR_INVAL;
        if (message != NULL) {
            pcre2_get_error_message(errcode, text, sizeof text);
            if (asprintf(&explained, "pattern %s (as %s): %s at offset %zu",
                         pattern, translated, (const char *)text,
                         (size_t)offset) < 0) {
                rc = ERR_NOMEM;
                goto out;
            }
            *message = explained;
        }
        goto out;
    }

    /* Without JIT (unsupported CPU, no executable memory) the interpreter
     * matches the same, only slower, so a failure here is not one. */
    (void)pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
    *out = code;

out:
    free(translated);
    return rc;
}


static void
patterns_free(void)
{
    size_t i;

    if (codes != NULL) {
        for (i = 0; i < model_n_patterns; i++) {
            pcre2_code_free(codes[i]);
        }
    }
    free(codes);
    codes = NULL;
    pcre2_match_context_free(match_ctx);
    match_ctx = NULL;
}


/* Compiles every model pattern into 'codes'. Called with init_lock held. */
static int
patterns_compile(void)
{
    size_t i;
    int rc;

    codes = calloc(model_n_patterns > 0 ? model_n_patterns : 1,
                   sizeof codes[0]);
    match_ctx = pcre2_match_context_create(NULL);
    if (codes == NULL || match_ctx == NULL) {
        rc = ERR_NOMEM;
        goto fail;
    }
    pcre2_set_match_limit(match_ctx, MATCH_LIMIT);

    for (i = 0; i < model_n_patterns; i++) {
        rc = pattern_compile(model_patterns[i], &codes[i], NULL);
        if (rc == ERR_INVAL) {
            rc = ERR_INTERNAL;
        }
        if (rc != 0) {
            goto fail;
        }
    }
    return 0;

fail:
    patterns_free();
    return rc;
}


int
validate_init(void)
{
    int state;
    int rc;

    state = atomic_load_explicit(&init_state, memory_order_acquire);
    if (state != 0) {
        return state > 0 ? 0 : state;
    }

    pthread_mutex_lock(&init_lock);
    state = atomic_load_explicit(&init_state, memory_order_relaxed);
    if (state > 0) {
        rc = 0;
    } else if (state < 0) {
        rc = state;
    } else {
        rc = patterns_compile();
        /* Out of memory may pass; a broken pattern stays broken. */
        if (rc == 0) {
            atomic_store_explicit(&init_state, 1, memory_order_release);
        } else if (rc != ERR_NOMEM) {
            atomic_store_explicit(&init_state, rc, memory_order_release);
        }
    }
    pthread_mutex_unlock(&init_lock);
    return rc;
}


void
validate_fini(void)
{
    pthread_mutex_lock(&init_lock);
    patterns_free();
    atomic_store_explicit(&init_state, 0, memory_order_release);
    pthread_mutex_unlock(&init_lock);
}


/* Turns the walk's items into the final message. */
static int
message_build(const struct walk *w, char **message)
{
    struct sbuf out = { 0 };

    sb_printf(&out, "%zu validation error%s detected: ", w->n_errors,
              w->n_errors == 1 ? "" : "s");
    sb_append(&out, sb_str(&w->items), w->items.len);
    if (w->n_errors > VALIDATE_MAX_REPORTED) {
        sb_printf(&out, "; and %zu more",
                  w->n_errors - VALIDATE_MAX_REPORTED);
    }
    if (out.failed) {
        free(out.data);
        return ERR_NOMEM;
    }
    *message = out.data;
    return ERR_INVAL;
}


int
validate_request(const struct model_shape *input, const json_t *body,
                 char **message)
{
    struct walk w = { 0 };
    int rc;

    assert(input != NULL && input->type == MODEL_STRUCTURE);
    assert(message != NULL);

    rc = validate_init();
    if (rc != 0) {
        return rc;
    }

    if (body != NULL && !json_is_object(body)) {
        item_begin(&w);
        sb_puts(&w.items, "Request body must be a JSON object");
    } else {
        w.depth = 1;
        check_structure(&w, input, body, input->sensitive);
    }

    rc = w.rc;
    if (rc == 0 && (w.path.failed || w.items.failed)) {
        rc = ERR_NOMEM;
    }
    if (rc == 0 && w.n_errors > 0) {
        rc = message_build(&w, message);
    }

    pcre2_match_data_free(w.md);
    free(w.path.data);
    free(w.items.data);
    return rc;
}


int
validate_pattern_check(const char *pattern, char **message)
{
    pcre2_code *code = NULL;
    int rc;

    rc = pattern_compile(pattern, &code, message);
    pcre2_code_free(code);
    return rc;
}
