/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Signature Version 4 checking and signing (see sigv4.h for the rules).
 *
 * The canonical request is built into a 'struct text', a string that grows
 * up to SIGV4_MAX_CANONICAL_LEN; the first failed append is remembered and
 * later appends do nothing, so a builder checks for errors once at the end.
 *
 * sigv4_verify() runs its checks from the cheapest to the costliest and
 * stops at the first failure:
 *
 *   Authorization present and parsable     else MISSING / MALFORMED
 *   SignedHeaders has host (and the token)  else MALFORMED
 *   X-Amz-Date or Date parsable             else MALFORMED
 *   Credential has five parts               else MALFORMED
 *   scope: terminator, service, region, day else WRONG_SCOPE
 *   access key known                        else UNKNOWN_KEY
 *   date within max_skew_s of now           else EXPIRED
 *   x-amz-content-sha256 matches the body   else BAD_SIGNATURE
 *   signature matches (constant time)       else BAD_SIGNATURE
 *
 * Everything it needs lives on the stack or in buffers freed before it
 * returns; secrets and derived keys are wiped after use.
 */
#include "http/sigv4.h"

#include <assert.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "util/crypto.h"
#include "util/err.h"

#define ALGORITHM "AWS4-HMAC-SHA256"
#define TERMINATOR "aws4_request"
#define AMZ_DATE_LEN 16
#define SIG_HEX_LEN (2 * CRYPTO_SHA256_LEN)
#define MAX_REGION_LEN 63

#define MSG_MISSING "Missing Authentication Token"
#define MSG_UNKNOWN_KEY \
    "The security token included in the request is invalid."
#define MSG_BAD_SIGNATURE "The request signature we calculated does not " \
    "match the signature you provided. Check your AWS Secret Access Key " \
    "and signing method."

struct text {
    char *p;
    size_t len;
    size_t cap;
    int err;
};

/* The parts of an Authorization value, pointing into it (not terminated). */
struct auth {
    const char *credential;
    size_t credential_len;
    const char *signed_headers;
    size_t signed_headers_len;
    const char *signature;
    size_t signature_len;
};

/* The Credential value split at its last four slashes. */
struct scope {
    const char *key;
    size_t key_len;
    const char *date;
    size_t date_len;
    const char *region;
    size_t region_len;
    const char *service;
    size_t service_len;
    const char *term;
    size_t term_len;
};

struct query_pair {
    size_t name_off;    /* offsets into the encoded text until sorting */
    size_t value_off;
    const char *name;
    const char *value;
};


static void
text_add(struct text *t, const char *s, size_t n)
{
    if (t->err != 0)
        return;
    if (n > SIGV4_MAX_CANONICAL_LEN - t->len) {
        t->err = ERR_TOOBIG;
        return;
    }
    if (t->len + n + 1 > t->cap) {
        size_t cap = t->cap == 0 ? 1024 : t->cap;
        char *p;

        while (cap < t->len + n + 1)
            cap *= 2;
        p = realloc(t->p, cap);
        if (p == NULL) {
            t->err = ERR_NOMEM;
            return;
        }
        t->p = p;
        t->cap = cap;
    }
    memcpy(t->p + t->len, s, n);
    t->len += n;
    t->p[t->len] = '\0';
}


static void
text_str(struct text *t, const char *s)
{
    text_add(t, s, strlen(s));
}


static void
text_char(struct text *t, char ch)
{
    text_add(t, &ch, 1);
}


static bool
is_unreserved(unsigned char ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z')
           || (ch >= '0' && ch <= '9') || ch == '-' || ch == '_'
           || ch == '.' || ch == '~';
}


static bool
is_blank(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n'
           || ch == '\v' || ch == '\f';
}


/* A header name as RFC 9110 allows it: visible ASCII but separators. */
static bool
is_token_char(char ch)
{
    return ch > 0x20 && ch < 0x7f && strchr("\"(),/:;<=>?@[\\]{}", ch)
           == NULL;
}


static int
hex_value(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}


/* Appends 'n' bytes of 's' percent-encoding all but unreserved bytes. */
static void
text_encode(struct text *t, const char *s, size_t n)
{
    static const char digits[] = "0123456789ABCDEF";
    size_t i;

    for (i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        char esc[3];

        if (is_unreserved(ch)) {
            text_char(t, (char)ch);
            continue;
        }
        esc[0] = '%';
        esc[1] = digits[ch >> 4];
        esc[2] = digits[ch & 15];
        text_add(t, esc, 3);
    }
}


/* Decodes %XX escapes of 'n' bytes of 's' into 'out' (room for n bytes);
 * a '%' not followed by two hex digits stays as it is. Returns the length
 * written. '+' is kept: the SDKs encode a space as %20. */
static size_t
percent_decode(const char *s, size_t n, char *out)
{
    size_t i = 0;
    size_t len = 0;

    while (i < n) {
        int hi = -1;
        int lo = -1;

        if (s[i] == '%' && i + 2 < n) {
            hi = hex_value(s[i + 1]);
            lo = hex_value(s[i + 2]);
        }
        if (hi >= 0 && lo >= 0) {
            out[len++] = (char)(hi << 4 | lo);
            i += 3;
        } else {
            out[len++] = s[i++];
        }
    }
    return len;
}


/* Appends the canonical URI of 'path': dot segments applied, empty
 * segments dropped, each remaining segment encoded. Segments are written
 * as "seg/" so that ".." can cut back to the previous slash. */
static void
add_canonical_uri(struct text *t, const char *path)
{
    size_t base;
    size_t n_segs = 0;
    const char *s = path;
    size_t path_len;

    if (path == NULL || path[0] == '\0') {
        text_char(t, '/');
        return;
    }
    path_len = strlen(path);
    if (path[0] == '/')
        text_char(t, '/');
    base = t->len;

    while (*s != '\0' && t->err == 0) {
        size_t n = strcspn(s, "/");

        if (n == 2 && s[0] == '.' && s[1] == '.') {
            if (n_segs > 0) {
                t->len--;   /* the slash that ends the last segment */
                while (t->len > base && t->p[t->len - 1] != '/')
                    t->len--;
                t->p[t->len] = '\0';
                n_segs--;
            }
        } else if (n > 0 && !(n == 1 && s[0] == '.')) {
            text_encode(t, s, n);
            text_char(t, '/');
            n_segs++;
        }
        s += n;
        if (*s == '/')
            s++;
    }

    /* Keep the final slash only where the path had one. */
    if (t->err == 0 && n_segs > 0 && path[path_len - 1] != '/') {
        t->len--;
        t->p[t->len] = '\0';
    }
}


static int
query_pair_cmp(const void *a, const void *b)
{
    const struct query_pair *x = a;
    const struct query_pair *y = b;
    int d = strcmp(x->name, y->name);

    return d != 0 ? d : strcmp(x->value, y->value);
}


/* Encodes one "name=value" piece of 'n' bytes into 'enc' (NUL after each
 * part) and records the offsets in 'pair'. 'tmp' has room for n bytes. */
static void
encode_query_piece(struct text *enc, const char *s, size_t n, char *tmp,
                   struct query_pair *pair)
{
    const char *eq = memchr(s, '=', n);
    size_t name_len = eq != NULL ? (size_t)(eq - s) : n;
    size_t len;

    len = percent_decode(s, name_len, tmp);
    pair->name_off = enc->len;
    text_encode(enc, tmp, len);
    text_add(enc, "", 1);

    len = eq != NULL ? percent_decode(eq + 1, n - name_len - 1, tmp) : 0;
    pair->value_off = enc->len;
    text_encode(enc, tmp, len);
    text_add(enc, "", 1);
}


/* Appends the canonical query string of 'query'. Empty pieces ("a&&b")
 * are skipped; a piece without '=' is a name with an empty value. */
static void
add_canonical_query(struct text *t, const char *query)
{
    struct text enc = {0};
    struct query_pair *pairs = NULL;
    char *tmp = NULL;
    size_t n_pairs = 0;
    size_t max_pairs = 1;
    size_t query_len;
    const char *s;
    size_t i;

    if (query == NULL || query[0] == '\0')
        return;
    query_len = strlen(query);
    for (s = query; *s != '\0'; s++)
        max_pairs += *s == '&';
    pairs = calloc(max_pairs, sizeof(*pairs));
    tmp = malloc(query_len + 1);
    if (pairs == NULL || tmp == NULL) {
        t->err = t->err != 0 ? t->err : ERR_NOMEM;
        goto out;
    }

    for (s = query; *s != '\0';) {
        size_t n = strcspn(s, "&");

        if (n > 0)
            encode_query_piece(&enc, s, n, tmp, &pairs[n_pairs++]);
        s += n;
        if (*s == '&')
            s++;
    }
    if (enc.err != 0) {
        t->err = t->err != 0 ? t->err : enc.err;
        goto out;
    }

    for (i = 0; i < n_pairs; i++) {
        pairs[i].name = enc.p + pairs[i].name_off;
        pairs[i].value = enc.p + pairs[i].value_off;
    }
    qsort(pairs, n_pairs, sizeof(*pairs), query_pair_cmp);
    for (i = 0; i < n_pairs; i++) {
        if (i > 0)
            text_char(t, '&');
        text_str(t, pairs[i].name);
        text_char(t, '=');
        text_str(t, pairs[i].value);
    }

out:
    free(enc.p);
    free(tmp);
    free(pairs);
}


/* Appends 'v' trimmed, with each inner run of blanks made one space. */
static void
add_trimmed(struct text *t, const char *v)
{
    bool started = false;
    bool space = false;

    for (; *v != '\0'; v++) {
        const char *run = v;

        if (is_blank(*v)) {
            space = started;
            continue;
        }
        if (space)
            text_char(t, ' ');
        space = false;
        started = true;
        while (v[1] != '\0' && !is_blank(v[1]))
            v++;
        text_add(t, run, (size_t)(v - run) + 1);
    }
}


/* Appends "name:v1,v2\n" joining every header of 'rq' named 'name'
 * ('n' bytes, any case). */
static void
add_header_line(struct text *t, const struct sigv4_request *rq,
                const char *name, size_t n)
{
    size_t i;
    size_t found = 0;

    text_add(t, name, n);
    text_char(t, ':');
    for (i = 0; i < rq->n_headers; i++) {
        const struct sigv4_header *h = &rq->headers[i];

        if (strlen(h->name) != n || strncasecmp(h->name, name, n) != 0)
            continue;
        if (found++ > 0)
            text_char(t, ',');
        add_trimmed(t, h->value != NULL ? h->value : "");
    }
    text_char(t, '\n');
}


/* Returns the value of the first header named 'name' (any case), or NULL;
 * *count (may be NULL) receives how many there are. */
static const char *
header_find(const struct sigv4_request *rq, const char *name, size_t *count)
{
    const char *first = NULL;
    size_t n = 0;
    size_t i;

    for (i = 0; i < rq->n_headers; i++) {
        if (strcasecmp(rq->headers[i].name, name) != 0)
            continue;
        if (first == NULL)
            first = rq->headers[i].value != NULL ? rq->headers[i].value : "";
        n++;
    }
    if (count != NULL)
        *count = n;
    return first;
}


/* Checks a ';'-separated list of header names. 0 or ERR_INVAL. */
static int
signed_headers_check(const char *list)
{
    const char *s = list;
    size_t n_names = 0;

    if (strlen(list) > SIGV4_MAX_SIGNED_HEADERS_LEN)
        return ERR_INVAL;
    for (;;) {
        size_t n = strcspn(s, ";");
        size_t i;

        if (n == 0 || ++n_names > SIGV4_MAX_HEADERS)
            return ERR_INVAL;
        for (i = 0; i < n; i++) {
            if (!is_token_char(s[i]))
                return ERR_INVAL;
        }
        s += n;
        if (*s == '\0')
            return 0;
        s++;
    }
}


static bool
signed_headers_has(const char *list, const char *name)
{
    size_t name_len = strlen(name);

    for (;;) {
        size_t n = strcspn(list, ";");

        if (n == name_len && strncasecmp(list, name, n) == 0)
            return true;
        list += n;
        if (*list == '\0')
            return false;
        list++;
    }
}


/* Appends the payload hash line: x-amz-content-sha256 when present, else
 * the SHA-256 of the body. */
static void
add_payload_hash(struct text *t, const struct sigv4_request *rq)
{
    unsigned char digest[CRYPTO_SHA256_LEN];
    char hex[SIG_HEX_LEN + 1];
    const char *given = header_find(rq, "x-amz-content-sha256", NULL);

    if (given != NULL) {
        add_trimmed(t, given);
        return;
    }
    if (crypto_sha256(rq->body != NULL ? rq->body : "", rq->body_len,
                      digest) != 0) {
        t->err = t->err != 0 ? t->err : ERR_CRYPTO;
        return;
    }
    crypto_hex(digest, sizeof(digest), hex);
    text_str(t, hex);
}


/* Builds the canonical request for a checked, non-NULL 'signed_headers'. */
static int
build_canonical(const struct sigv4_request *rq, const char *signed_headers,
                char **out)
{
    struct text t = {0};
    const char *s = signed_headers;

    text_str(&t, rq->method);
    text_char(&t, '\n');
    add_canonical_uri(&t, rq->path);
    text_char(&t, '\n');
    add_canonical_query(&t, rq->query);
    text_char(&t, '\n');

    for (;;) {
        size_t n = strcspn(s, ";");

        add_header_line(&t, rq, s, n);
        s += n;
        if (*s == '\0')
            break;
        s++;
    }
    text_char(&t, '\n');
    text_str(&t, signed_headers);
    text_char(&t, '\n');
    add_payload_hash(&t, rq);

    if (t.err != 0) {
        free(t.p);
        return t.err;
    }
    *out = t.p;
    return 0;
}


static int
name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}


/* Makes the list of every header name of 'rq', lowercased, sorted and
 * without repeats, as a new string in *out. 0, ERR_INVAL, ERR_TOOBIG or
 * ERR_NOMEM. */
static int
all_header_names(const struct sigv4_request *rq, char **out)
{
    struct text t = {0};
    char **names = NULL;
    size_t i;
    int rc = 0;

    if (rq->n_headers == 0 || rq->n_headers > SIGV4_MAX_HEADERS)
        return rq->n_headers == 0 ? ERR_INVAL : ERR_TOOBIG;
    names = calloc(rq->n_headers, sizeof(*names));
    if (names == NULL)
        return ERR_NOMEM;

    for (i = 0; i < rq->n_headers; i++) {
        char *p;

        names[i] = strdup(rq->headers[i].name);
        if (names[i] == NULL) {
            rc = ERR_NOMEM;
            goto out;
        }
        for (p = names[i]; *p != '\0'; p++) {
            if (*p >= 'A' && *p <= 'Z')
                *p = (char)(*p - 'A' + 'a');
        }
    }
    qsort(names, rq->n_headers, sizeof(*names), name_cmp);
    for (i = 0; i < rq->n_headers; i++) {
        if (i > 0 && strcmp(names[i], names[i - 1]) == 0)
            continue;
        if (i > 0)
            text_char(&t, ';');
        text_str(&t, names[i]);
    }
    rc = t.err;
    if (rc == 0)
        rc = signed_headers_check(t.p);

out:
    for (i = 0; i < rq->n_headers; i++)
        free(names[i]);
    free(names);
    if (rc != 0) {
        free(t.p);
        return rc;
    }
    *out = t.p;
    return 0;
}


/*
 * The signer's list of signed headers: the caller's (checked), or every
 * header of the request when it gave none. A list made here is returned in
 * *made for the caller to free. 0, ERR_INVAL, ERR_TOOBIG or ERR_NOMEM.
 */
static int
signed_headers_resolve(const struct sigv4_request *rq, const char **list,
                       char **made)
{
    int rc;

    *made = NULL;
    if (rq->n_headers > SIGV4_MAX_HEADERS)
        return ERR_TOOBIG;
    if (*list != NULL)
        return signed_headers_check(*list) == 0 ? 0 : ERR_INVAL;
    rc = all_header_names(rq, made);
    if (rc == 0)
        *list = *made;
    return rc;
}


int
sigv4_canonical_request_build(const struct sigv4_request *rq,
                              const char *signed_headers, char **out)
{
    char *all = NULL;
    int rc;

    if (rq == NULL || rq->method == NULL || out == NULL)
        return ERR_INVAL;
    rc = signed_headers_resolve(rq, &signed_headers, &all);
    if (rc != 0)
        return rc;
    rc = build_canonical(rq, signed_headers, out);
    free(all);
    return rc;
}


static bool
digits_parse(const char *s, int n, int *out)
{
    int v = 0;
    int i;

    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}


/* Turns a broken-down UTC time into Unix seconds after range checks. */
static bool
utc_to_seconds(int year, int mon, int day, int hour, int min, int sec,
               int64_t *out)
{
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31,
                                  30, 31};
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    struct tm tm = {0};

    if (year < 1970 || mon < 1 || mon > 12 || day < 1 || hour > 23
        || min > 59 || sec > 59)
        return false;
    if (day > mdays[mon - 1] + (mon == 2 && leap))
        return false;
    tm.tm_year = year - 1900;
    tm.tm_mon = mon - 1;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = min;
    tm.tm_sec = sec;
    *out = (int64_t)timegm(&tm);
    return true;
}


/* Parses exactly "YYYYMMDDTHHMMSSZ". */
static bool
amz_date_parse(const char *s, int64_t *out)
{
    int y, mo, d, h, mi, se;

    if (s == NULL || strlen(s) != AMZ_DATE_LEN || s[8] != 'T'
        || s[15] != 'Z')
        return false;
    if (!digits_parse(s, 4, &y) || !digits_parse(s + 4, 2, &mo)
        || !digits_parse(s + 6, 2, &d) || !digits_parse(s + 9, 2, &h)
        || !digits_parse(s + 11, 2, &mi) || !digits_parse(s + 13, 2, &se))
        return false;
    return utc_to_seconds(y, mo, d, h, mi, se, out);
}


/* Parses an HTTP date in its one current form,
 * "Sun, 06 Nov 1994 08:49:37 GMT". */
static bool
http_date_parse(const char *s, int64_t *out)
{
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    const char *m;
    int y, d, h, mi, se;

    if (strlen(s) != 29 || s[3] != ',' || s[4] != ' ' || s[7] != ' '
        || s[11] != ' ' || s[16] != ' ' || s[19] != ':' || s[22] != ':'
        || strcmp(s + 25, " GMT") != 0)
        return false;
    m = strstr(months, (char[4]){s[8], s[9], s[10], '\0'});
    if (m == NULL || (m - months) % 3 != 0)
        return false;
    if (!digits_parse(s + 5, 2, &d) || !digits_parse(s + 12, 4, &y)
        || !digits_parse(s + 17, 2, &h) || !digits_parse(s + 20, 2, &mi)
        || !digits_parse(s + 23, 2, &se))
        return false;
    return utc_to_seconds(y, (int)(m - months) / 3 + 1, d, h, mi, se, out);
}


static void
amz_date_format(int64_t t_s, char out[AMZ_DATE_LEN + 1])
{
    time_t t = (time_t)t_s;
    struct tm tm;

    if (gmtime_r(&t, &tm) == NULL
        || strftime(out, AMZ_DATE_LEN + 1, "%Y%m%dT%H%M%SZ", &tm) == 0)
        snprintf(out, AMZ_DATE_LEN + 1, "?");
}


int
sigv4_string_to_sign_build(const char *canonical_request,
                           const char *amz_date, const char *region,
                           const char *service, char **out)
{
    unsigned char digest[CRYPTO_SHA256_LEN];
    char hex[SIG_HEX_LEN + 1];
    struct text t = {0};
    int64_t ignored;

    if (canonical_request == NULL || region == NULL || service == NULL
        || out == NULL || !amz_date_parse(amz_date, &ignored))
        return ERR_INVAL;
    if (crypto_sha256(canonical_request, strlen(canonical_request),
                      digest) != 0)
        return ERR_CRYPTO;
    crypto_hex(digest, sizeof(digest), hex);

    text_str(&t, ALGORITHM "\n");
    text_str(&t, amz_date);
    text_char(&t, '\n');
    text_add(&t, amz_date, 8);
    text_char(&t, '/');
    text_str(&t, region);
    text_char(&t, '/');
    text_str(&t, service);
    text_str(&t, "/" TERMINATOR "\n");
    text_str(&t, hex);
    if (t.err != 0) {
        free(t.p);
        return t.err;
    }
    *out = t.p;
    return 0;
}


/*
 * The signing key depends only on the secret, the day, the region and the
 * service, so it is the same for every request of a client all day long.
 * Deriving it costs four HMACs; a small cache keeps the recent ones. An
 * entry is found by comparing all four inputs, so a changed secret can
 * never meet a stale key.
 */
#define KEY_CACHE_SLOTS 16

struct signing_key {
    char secret[CREDENTIALS_MAX_SECRET + 1];
    char day[9];
    char region[MAX_REGION_LEN + 1];
    char service[32];
    unsigned char key[CRYPTO_SHA256_LEN];
    bool used;
};

static struct signing_key key_cache[KEY_CACHE_SLOTS];
static unsigned key_cache_next;
static pthread_mutex_t key_cache_lock = PTHREAD_MUTEX_INITIALIZER;


static bool
key_matches(const struct signing_key *k, const char *secret,
            const char *amz_date, const char *region, const char *service)
{
    return k->used && strncmp(k->day, amz_date, 8) == 0
           && strcmp(k->region, region) == 0
           && strcmp(k->service, service) == 0
           && strcmp(k->secret, secret) == 0;
}


static bool
key_cache_get(const char *secret, const char *amz_date, const char *region,
              const char *service, unsigned char key[CRYPTO_SHA256_LEN])
{
    bool found = false;

    pthread_mutex_lock(&key_cache_lock);
    for (int i = 0; i < KEY_CACHE_SLOTS && !found; i++) {
        if (key_matches(&key_cache[i], secret, amz_date, region, service)) {
            memcpy(key, key_cache[i].key, CRYPTO_SHA256_LEN);
            found = true;
        }
    }
    pthread_mutex_unlock(&key_cache_lock);
    return found;
}


static void
key_cache_put(const char *secret, const char *amz_date, const char *region,
              const char *service, const unsigned char key[CRYPTO_SHA256_LEN])
{
    struct signing_key *k;

    /* Inputs too long for a slot are simply not cached. */
    if (strlen(region) > MAX_REGION_LEN
        || strlen(service) >= sizeof(k->service))
        return;

    pthread_mutex_lock(&key_cache_lock);
    k = &key_cache[key_cache_next++ % KEY_CACHE_SLOTS];
    snprintf(k->secret, sizeof(k->secret), "%s", secret);
    memcpy(k->day, amz_date, 8);
    k->day[8] = '\0';
    snprintf(k->region, sizeof(k->region), "%s", region);
    snprintf(k->service, sizeof(k->service), "%s", service);
    memcpy(k->key, key, CRYPTO_SHA256_LEN);
    k->used = true;
    pthread_mutex_unlock(&key_cache_lock);
}


/* Derives the signing key: an HMAC chain from "AWS4" + secret over the
 * day, region, service and terminator. 0, ERR_INVAL or ERR_CRYPTO. */
static int
signing_key_derive(const char *secret, const char *amz_date,
                   const char *region, const char *service,
                   unsigned char key[CRYPTO_SHA256_LEN])
{
    char key0[4 + CREDENTIALS_MAX_SECRET];
    unsigned char k1[CRYPTO_SHA256_LEN];
    size_t secret_len = strlen(secret);
    int rc;

    if (secret_len > CREDENTIALS_MAX_SECRET)
        return ERR_INVAL;
    if (key_cache_get(secret, amz_date, region, service, key))
        return 0;

    memcpy(key0, "AWS4", 4);
    memcpy(key0 + 4, secret, secret_len);
    rc = crypto_hmac_sha256(key0, 4 + secret_len, amz_date, 8, k1);
    if (rc == 0)
        rc = crypto_hmac_sha256(k1, sizeof(k1), region, strlen(region), key);
    if (rc == 0)
        rc = crypto_hmac_sha256(key, CRYPTO_SHA256_LEN, service,
                                strlen(service), k1);
    if (rc == 0)
        rc = crypto_hmac_sha256(k1, sizeof(k1), TERMINATOR,
                                strlen(TERMINATOR), key);
    if (rc == 0)
        key_cache_put(secret, amz_date, region, service, key);

    explicit_bzero(key0, sizeof(key0));
    explicit_bzero(k1, sizeof(k1));
    return rc;
}


/* Writes the hex signature of 'sts' into 'hex'. 0, ERR_INVAL (secret too
 * long) or ERR_CRYPTO. */
static int
signature_compute(const char *secret, const char *amz_date,
                  const char *region, const char *service, const char *sts,
                  char hex[SIG_HEX_LEN + 1])
{
    unsigned char key[CRYPTO_SHA256_LEN];
    unsigned char sig[CRYPTO_SHA256_LEN];
    int rc;

    rc = signing_key_derive(secret, amz_date, region, service, key);
    if (rc == 0)
        rc = crypto_hmac_sha256(key, sizeof(key), sts, strlen(sts), sig);
    if (rc == 0)
        crypto_hex(sig, sizeof(sig), hex);

    explicit_bzero(key, sizeof(key));
    return rc;
}


/* Canonical request, string to sign and signature in one go. */
static int
sign_request(const struct sigv4_request *rq, const char *signed_headers,
             const char *secret, const char *region, const char *service,
             const char *amz_date, char hex[SIG_HEX_LEN + 1])
{
    char *creq = NULL;
    char *sts = NULL;
    int rc;

    rc = build_canonical(rq, signed_headers, &creq);
    if (rc == 0)
        rc = sigv4_string_to_sign_build(creq, amz_date, region, service,
                                        &sts);
    if (rc == 0)
        rc = signature_compute(secret, amz_date, region, service, sts, hex);
    free(creq);
    free(sts);
    return rc;
}


int
sigv4_sign(const struct sigv4_request *rq, const char *signed_headers,
           const char *access_key, const char *secret, const char *region,
           const char *service, const char *amz_date,
           char *authorization_out, size_t cap)
{
    char hex[SIG_HEX_LEN + 1];
    char *all = NULL;
    int64_t ignored;
    int n;
    int rc;

    if (rq == NULL || rq->method == NULL || access_key == NULL
        || secret == NULL || region == NULL || service == NULL
        || authorization_out == NULL || !amz_date_parse(amz_date, &ignored))
        return ERR_INVAL;
    rc = signed_headers_resolve(rq, &signed_headers, &all);
    if (rc != 0)
        return rc;

    rc = sign_request(rq, signed_headers, secret, region, service, amz_date,
                      hex);
    if (rc != 0)
        goto out;
    n = snprintf(NULL, 0, ALGORITHM " Credential=%s/%.8s/%s/%s/" TERMINATOR
                 ", SignedHeaders=%s, Signature=%s", access_key, amz_date,
                 region, service, signed_headers, hex);
    if (n < 0 || (size_t)n >= cap) {
        rc = ERR_TOOBIG;
        goto out;
    }
    snprintf(authorization_out, cap, ALGORITHM " Credential=%s/%.8s/%s/%s/"
             TERMINATOR ", SignedHeaders=%s, Signature=%s", access_key,
             amz_date, region, service, signed_headers, hex);

out:
    free(all);
    return rc;
}


/* Stores one "Name=Value" component of an Authorization value. */
static enum sigv4_status
auth_component(struct auth *a, const char *name, size_t name_len,
               const char *value, size_t value_len, char *msg,
               size_t msg_len)
{
    static const char *const names[3] = {"Credential", "SignedHeaders",
                                         "Signature"};
    const char **slot[3] = {&a->credential, &a->signed_headers,
                            &a->signature};
    size_t *len[3] = {&a->credential_len, &a->signed_headers_len,
                      &a->signature_len};
    int i;

    for (i = 0; i < 3; i++) {
        if (strlen(names[i]) != name_len
            || memcmp(names[i], name, name_len) != 0)
            continue;
        if (*slot[i] != NULL) {
            err_message(msg, msg_len, "Authorization header has more than one "
                        "'%s' parameter.", names[i]);
            return SIGV4_MALFORMED;
        }
        *slot[i] = value;
        *len[i] = value_len;
    }
    return SIGV4_OK;    /* parameters of later versions are ignored */
}


/* Splits an Authorization value into its three parameters. */
static enum sigv4_status
auth_parse(const char *v, struct auth *a, char *msg, size_t msg_len)
{
    const char *s = v + strspn(v, " \t");
    size_t alg_len = strlen(ALGORITHM);
    enum sigv4_status st;

    if (strncmp(s, ALGORITHM, alg_len) != 0
        || (s[alg_len] != ' ' && s[alg_len] != '\t')) {
        err_message(msg, msg_len, "Authorization header requires the '"
                    ALGORITHM "' algorithm.");
        return SIGV4_MALFORMED;
    }
    s += alg_len;

    while (*s != '\0') {
        size_t n;
        const char *eq;

        s += strspn(s, " \t,");
        n = strcspn(s, ",");
        if (n == 0)
            break;
        eq = memchr(s, '=', n);
        if (eq == NULL) {
            err_message(msg, msg_len, "Authorization header parameter "
                        "'%.*s' is not of the form Name=Value.",
                        (int)(n > 64 ? 64 : n), s);
            return SIGV4_MALFORMED;
        }
        st = auth_component(a, s, (size_t)(eq - s), eq + 1,
                            n - (size_t)(eq - s) - 1, msg, msg_len);
        if (st != SIGV4_OK)
            return st;
        s += n;
    }
    return SIGV4_OK;
}


/* Drops trailing blanks from a parameter value. */
static void
trim_end(const char *s, size_t *len)
{
    while (*len > 0 && is_blank(s[*len - 1]))
        (*len)--;
}


static void
sentence_append(char *buf, size_t cap, const char *sentence)
{
    size_t used = strlen(buf);

    snprintf(buf + used, cap - used, "%s%s", used > 0 ? " " : "", sentence);
}


/* Trims the three parameters and names every one that is missing. */
static enum sigv4_status
auth_complete(struct auth *a, char *msg, size_t msg_len)
{
    char buf[256];

    buf[0] = '\0';
    if (a->credential != NULL)
        trim_end(a->credential, &a->credential_len);
    if (a->signed_headers != NULL)
        trim_end(a->signed_headers, &a->signed_headers_len);
    if (a->signature != NULL)
        trim_end(a->signature, &a->signature_len);

    if (a->credential == NULL || a->credential_len == 0)
        sentence_append(buf, sizeof(buf), "Authorization header requires "
                        "'Credential' parameter.");
    if (a->signature == NULL || a->signature_len == 0)
        sentence_append(buf, sizeof(buf), "Authorization header requires "
                        "'Signature' parameter.");
    if (a->signed_headers == NULL || a->signed_headers_len == 0)
        sentence_append(buf, sizeof(buf), "Authorization header requires "
                        "'SignedHeaders' parameter.");
    if (buf[0] == '\0')
        return SIGV4_OK;
    err_message(msg, msg_len, "%s", buf);
    return SIGV4_MALFORMED;
}


/* Splits the Credential value at its last four slashes. */
static enum sigv4_status
scope_parse(const struct auth *a, struct scope *sc, char *msg,
            size_t msg_len)
{
    const char *cut[4];
    size_t end = a->credential_len;
    int found = 0;

    while (end > 0 && found < 4) {
        end--;
        if (a->credential[end] == '/')
            cut[found++] = a->credential + end;
    }
    if (found < 4 || cut[3] == a->credential) {
        err_message(msg, msg_len, "Credential must have exactly 5 "
                    "slash-delimited elements, e.g. keyid/date/region/service/"
                    "term, got '%.*s'",
                    (int)(a->credential_len > 200 ? 200 : a->credential_len),
                    a->credential);
        return SIGV4_MALFORMED;
    }
    sc->key = a->credential;
    sc->key_len = (size_t)(cut[3] - a->credential);
    sc->date = cut[3] + 1;
    sc->date_len = (size_t)(cut[2] - sc->date);
    sc->region = cut[2] + 1;
    sc->region_len = (size_t)(cut[1] - sc->region);
    sc->service = cut[1] + 1;
    sc->service_len = (size_t)(cut[0] - sc->service);
    sc->term = cut[0] + 1;
    sc->term_len = (size_t)(a->credential + a->credential_len - sc->term);
    return SIGV4_OK;
}


static bool
region_valid(const char *s, size_t n)
{
    size_t i;

    if (n == 0 || n > MAX_REGION_LEN)
        return false;
    for (i = 0; i < n; i++) {
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z')
              || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
            return false;
    }
    return true;
}


static enum sigv4_status
scope_check(const struct scope *sc, const char *service,
            const char *amz_date, char *msg, size_t msg_len)
{
    if (sc->term_len != strlen(TERMINATOR)
        || memcmp(sc->term, TERMINATOR, sc->term_len) != 0) {
        err_message(msg, msg_len, "Credential should be scoped with a valid "
                    "terminator: '" TERMINATOR "', not '%.*s'.",
                    (int)(sc->term_len > 64 ? 64 : sc->term_len), sc->term);
        return SIGV4_WRONG_SCOPE;
    }
    if (sc->service_len != strlen(service)
        || memcmp(sc->service, service, sc->service_len) != 0) {
        err_message(msg, msg_len, "Credential should be scoped to correct "
                    "service: '%s'.", service);
        return SIGV4_WRONG_SCOPE;
    }
    if (!region_valid(sc->region, sc->region_len)) {
        err_message(msg, msg_len, "Credential should be scoped to a valid "
                    "region.");
        return SIGV4_WRONG_SCOPE;
    }
    if (sc->date_len != 8 || memcmp(sc->date, amz_date, 8) != 0) {
        err_message(msg, msg_len, "Date in Credential scope does not match "
                    "YYYYMMDD from ISO-8601 version of date from HTTP: '%.*s' "
                    "!= '%.8s', from '%s'.",
                    (int)(sc->date_len > 32 ? 32 : sc->date_len), sc->date,
                    amz_date, amz_date);
        return SIGV4_WRONG_SCOPE;
    }
    return SIGV4_OK;
}


/* Finds the request's date in X-Amz-Date, else Date, as a basic ISO 8601
 * text and Unix seconds. */
static enum sigv4_status
request_date(const struct sigv4_request *rq, char amz_date[AMZ_DATE_LEN + 1],
             int64_t *date_s, char *msg, size_t msg_len)
{
    const char *x = header_find(rq, "x-amz-date", NULL);
    const char *d = header_find(rq, "date", NULL);

    if (x != NULL) {
        if (!amz_date_parse(x, date_s)) {
            err_message(msg, msg_len, "X-Amz-Date must be in the ISO8601 Long "
                        "Format \"yyyyMMdd'T'HHmmss'Z'\"");
            return SIGV4_MALFORMED;
        }
        memcpy(amz_date, x, AMZ_DATE_LEN + 1);
        return SIGV4_OK;
    }
    if (d != NULL) {
        if (!http_date_parse(d, date_s)) {
            err_message(msg, msg_len, "Date must be in the RFC 7231 format "
                        "\"EEE, dd MMM yyyy HH:mm:ss 'GMT'\"");
            return SIGV4_MALFORMED;
        }
        amz_date_format(*date_s, amz_date);
        return SIGV4_OK;
    }
    err_message(msg, msg_len, "Authorization header requires existence of "
                "either a 'X-Amz-Date' or a 'Date' header.");
    return SIGV4_MALFORMED;
}


static enum sigv4_status
skew_check(const char *amz_date, int64_t date_s, int64_t now_s,
           int max_skew_s, char *msg, size_t msg_len)
{
    char now[AMZ_DATE_LEN + 1];
    char edge[AMZ_DATE_LEN + 1];
    const char *unit = max_skew_s % 60 == 0 ? "min." : "sec.";
    int amount = max_skew_s % 60 == 0 ? max_skew_s / 60 : max_skew_s;

    if (date_s >= now_s - max_skew_s && date_s <= now_s + max_skew_s)
        return SIGV4_OK;

    amz_date_format(now_s, now);
    if (date_s < now_s) {
        amz_date_format(now_s - max_skew_s, edge);
        err_message(msg, msg_len, "Signature expired: %s is now earlier "
                    "than %s (%s - %d %s)", amz_date, edge, now, amount,
                    unit);
    } else {
        amz_date_format(now_s + max_skew_s, edge);
        err_message(msg, msg_len, "Signature not yet current: %s is still "
                    "later than %s (%s + %d %s)", amz_date, edge, now, amount,
                    unit);
    }
    return SIGV4_EXPIRED;
}


/* Refuses absurd requests and Authorization values before any parsing. */
static enum sigv4_status
find_authorization(const struct sigv4_request *rq, const char **value,
                   char *msg, size_t msg_len)
{
    size_t count;
    const char *v;

    if (rq->n_headers > SIGV4_MAX_HEADERS) {
        err_message(msg, msg_len, "Request has more than %d headers.",
                    SIGV4_MAX_HEADERS);
        return SIGV4_MALFORMED;
    }
    v = header_find(rq, "authorization", &count);
    if (v == NULL || v[strspn(v, " \t")] == '\0') {
        err_message(msg, msg_len, "%s", MSG_MISSING);
        if (rq->query != NULL && (strstr(rq->query, "X-Amz-Algorithm=")
                                  || strstr(rq->query, "X-Amz-Signature=")))
            err_message(msg, msg_len, "%s (query-string authentication is not "
                        "supported; sign the Authorization header)",
                        MSG_MISSING);
        return SIGV4_MISSING;
    }
    if (count > 1) {
        err_message(msg, msg_len, "Authorization header must appear only "
                    "once.");
        return SIGV4_MALFORMED;
    }
    if (strlen(v) > SIGV4_MAX_AUTHORIZATION_LEN) {
        err_message(msg, msg_len, "Authorization header is longer than %d "
                    "characters.", SIGV4_MAX_AUTHORIZATION_LEN);
        return SIGV4_MALFORMED;
    }
    *value = v;
    return SIGV4_OK;
}


/* Checks the SignedHeaders list and copies it, NUL-terminated, to 'out'. */
static enum sigv4_status
signed_headers_take(const struct sigv4_request *rq, const struct auth *a,
                    char out[SIGV4_MAX_SIGNED_HEADERS_LEN + 1], char *msg,
                    size_t msg_len)
{
    if (a->signed_headers_len > SIGV4_MAX_SIGNED_HEADERS_LEN) {
        err_message(msg, msg_len, "SignedHeaders is longer than %d characters.",
                    SIGV4_MAX_SIGNED_HEADERS_LEN);
        return SIGV4_MALFORMED;
    }
    memcpy(out, a->signed_headers, a->signed_headers_len);
    out[a->signed_headers_len] = '\0';
    if (signed_headers_check(out) != 0) {
        err_message(msg, msg_len, "SignedHeaders must be a ';'-separated list "
                    "of at most %d header names.", SIGV4_MAX_HEADERS);
        return SIGV4_MALFORMED;
    }
    if (!signed_headers_has(out, "host")) {
        err_message(msg, msg_len, "'Host' or ':authority' must be a "
                    "'SignedHeader' in the AWS Authorization.");
        return SIGV4_MALFORMED;
    }
    if (header_find(rq, "x-amz-security-token", NULL) != NULL
        && !signed_headers_has(out, "x-amz-security-token")) {
        err_message(msg, msg_len, "'X-Amz-Security-Token' must be a "
                    "'SignedHeader' in the AWS Authorization.");
        return SIGV4_MALFORMED;
    }
    return SIGV4_OK;
}


/* x-amz-content-sha256, when sent, must be the hash of this body. */
static enum sigv4_status
payload_check(const struct sigv4_request *rq, char *msg, size_t msg_len)
{
    unsigned char digest[CRYPTO_SHA256_LEN];
    char hex[SIG_HEX_LEN + 1];
    const char *given = header_find(rq, "x-amz-content-sha256", NULL);
    size_t len;

    if (given == NULL)
        return SIGV4_OK;
    if (crypto_sha256(rq->body != NULL ? rq->body : "", rq->body_len,
                      digest) != 0)
        return SIGV4_INTERNAL;
    crypto_hex(digest, sizeof(digest), hex);
    given += strspn(given, " \t");
    len = strlen(given);
    trim_end(given, &len);
    if (len == SIG_HEX_LEN && strncasecmp(given, hex, SIG_HEX_LEN) == 0)
        return SIGV4_OK;
    err_message(msg, msg_len, "The provided 'x-amz-content-sha256' header does "
                "not match what was computed.");
    return SIGV4_BAD_SIGNATURE;
}


/* Recomputes the signature and compares it in constant time. */
static enum sigv4_status
signature_check(const struct sigv4_request *rq, const struct auth *a,
                const char *signed_headers, const struct credential *cred,
                const char *region, const char *service,
                const char *amz_date, char *msg, size_t msg_len)
{
    char hex[SIG_HEX_LEN + 1];
    int rc;

    rc = sign_request(rq, signed_headers, cred->secret, region, service,
                      amz_date, hex);
    if (rc == ERR_TOOBIG || rc == ERR_INVAL) {
        err_message(msg, msg_len, "Request is too large to verify.");
        return SIGV4_MALFORMED;
    }
    if (rc != 0) {
        err_message(msg, msg_len, "Signature could not be verified: %s.",
                    err_str(rc));
        return SIGV4_INTERNAL;
    }
    if (a->signature_len != SIG_HEX_LEN
        || !crypto_equal(hex, a->signature, SIG_HEX_LEN)) {
        err_message(msg, msg_len, "%s", MSG_BAD_SIGNATURE);
        return SIGV4_BAD_SIGNATURE;
    }
    return SIGV4_OK;
}


enum sigv4_status
sigv4_verify(const struct sigv4_request *rq, const struct credentials *creds,
             const char *service, int64_t now_s, int max_skew_s,
             struct sigv4_identity *out, char *msg, size_t msg_len)
{
    struct auth a = {0};
    struct scope sc;
    char signed_headers[SIGV4_MAX_SIGNED_HEADERS_LEN + 1];
    char amz_date[AMZ_DATE_LEN + 1];
    char key[CREDENTIALS_MAX_KEY_ID + 1];
    char region[MAX_REGION_LEN + 1];
    const struct credential *cred;
    const char *auth_value = NULL;
    int64_t date_s;
    enum sigv4_status st;

    assert(rq != NULL && service != NULL);
    err_message(msg, msg_len, "%s", "");

    st = find_authorization(rq, &auth_value, msg, msg_len);
    if (st == SIGV4_OK)
        st = auth_parse(auth_value, &a, msg, msg_len);
    if (st == SIGV4_OK)
        st = auth_complete(&a, msg, msg_len);
    if (st == SIGV4_OK)
        st = signed_headers_take(rq, &a, signed_headers, msg, msg_len);
    if (st == SIGV4_OK)
        st = request_date(rq, amz_date, &date_s, msg, msg_len);
    if (st == SIGV4_OK)
        st = scope_parse(&a, &sc, msg, msg_len);
    if (st == SIGV4_OK)
        st = scope_check(&sc, service, amz_date, msg, msg_len);
    if (st != SIGV4_OK)
        return st;

    /* A key longer than any we store cannot be known. */
    cred = NULL;
    if (sc.key_len <= CREDENTIALS_MAX_KEY_ID) {
        memcpy(key, sc.key, sc.key_len);
        key[sc.key_len] = '\0';
        cred = credentials_find(creds, key);
    }
    if (cred == NULL) {
        err_message(msg, msg_len, "%s", MSG_UNKNOWN_KEY);
        return SIGV4_UNKNOWN_KEY;
    }
    memcpy(region, sc.region, sc.region_len);
    region[sc.region_len] = '\0';

    st = skew_check(amz_date, date_s, now_s, max_skew_s, msg, msg_len);
    if (st == SIGV4_OK)
        st = payload_check(rq, msg, msg_len);
    if (st == SIGV4_OK)
        st = signature_check(rq, &a, signed_headers, cred, region, service,
                             amz_date, msg, msg_len);
    if (st != SIGV4_OK)
        return st;

    if (out != NULL) {
        snprintf(out->access_key, sizeof(out->access_key), "%s", key);
        snprintf(out->account, sizeof(out->account), "%s", cred->account);
        snprintf(out->region, sizeof(out->region), "%s", region);
    }
    return SIGV4_OK;
}


const char *
sigv4_status_error_name(enum sigv4_status st)
{
    switch (st) {
    case SIGV4_OK:
        return NULL;
    case SIGV4_MISSING:
        return "MissingAuthenticationTokenException";
    case SIGV4_MALFORMED:
        return "IncompleteSignatureException";
    case SIGV4_UNKNOWN_KEY:
        return "UnrecognizedClientException";
    case SIGV4_BAD_SIGNATURE:
    case SIGV4_EXPIRED:
    case SIGV4_WRONG_SCOPE:
        return "InvalidSignatureException";
    case SIGV4_INTERNAL:
        break;
    }
    return "InternalServerException";
}


int
sigv4_status_http(enum sigv4_status st)
{
    switch (st) {
    case SIGV4_OK:
        return 200;
    case SIGV4_MALFORMED:
        return 400;
    case SIGV4_INTERNAL:
        return 500;
    default:
        return 403;
    }
}
