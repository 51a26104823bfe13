/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Parsing of the credentials file and look-up of access keys.
 *
 * The set is an array sorted by access key id and searched by bisection.
 * Each entry owns one block holding its three strings one after another,
 * so freeing an entry is one wipe and one free(). Messages name the file and
 * line but never quote a secret or an account id: when a line has its
 * columns in the wrong order, the "account" may well be a secret.
 */
#include "http/credentials.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"

/* Longer lines are refused rather than read without bound. */
#define MAX_LINE 4096

struct entry {
    struct credential pub;
    size_t line;        /* where it was read, for duplicate messages */
    size_t block_len;   /* bytes of the block behind pub.access_key */
};

struct credentials {
    struct entry *v;
    size_t n;
    size_t cap;
};


static bool
key_id_valid(const char *s, size_t len)
{
    size_t i;

    if (len == 0 || len > CREDENTIALS_MAX_KEY_ID)
        return false;
    for (i = 0; i < len; i++) {
        char ch = s[i];

        if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z')
              || (ch >= '0' && ch <= '9') || ch == '_' || ch == '.'
              || ch == '-'))
            return false;
    }
    return true;
}


static bool
secret_valid(const char *s, size_t len)
{
    size_t i;

    if (len == 0 || len > CREDENTIALS_MAX_SECRET)
        return false;
    for (i = 0; i < len; i++) {
        if (s[i] < 0x21 || s[i] > 0x7e)
            return false;
    }
    return true;
}


static bool
account_valid(const char *s, size_t len)
{
    size_t i;

    if (len != CREDENTIALS_ACCOUNT_LEN)
        return false;
    for (i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
    }
    return true;
}


static void
entry_wipe(struct entry *e)
{
    /* The cast drops the const that protects readers, not the owner. */
    if (e->pub.access_key != NULL) {
        explicit_bzero((char *)e->pub.access_key, e->block_len);
        free((char *)e->pub.access_key);
    }
}


/* Appends a key to 'c', copying the three strings. 0 or ERR_NOMEM. */
static int
add_entry(struct credentials *c, const char *key, size_t key_len,
          const char *secret, size_t secret_len, const char *account,
          size_t account_len, size_t line)
{
    struct entry *e;
    char *block;
    size_t len = key_len + secret_len + account_len + 3;

    if (c->n == c->cap) {
        size_t cap = c->cap == 0 ? 16 : c->cap * 2;
        struct entry *v = realloc(c->v, cap * sizeof(*v));

        if (v == NULL)
            return ERR_NOMEM;
        c->v = v;
        c->cap = cap;
    }

    block = malloc(len);
    if (block == NULL)
        return ERR_NOMEM;
    memcpy(block, key, key_len);
    block[key_len] = '\0';
    memcpy(block + key_len + 1, secret, secret_len);
    block[key_len + 1 + secret_len] = '\0';
    memcpy(block + key_len + secret_len + 2, account, account_len);
    block[len - 1] = '\0';

    e = &c->v[c->n++];
    e->pub.access_key = block;
    e->pub.secret = block + key_len + 1;
    e->pub.account = block + key_len + secret_len + 2;
    e->line = line;
    e->block_len = len;
    return 0;
}


/* Splits one line (comment and line end already cut) into at most four
 * blank-separated fields; returns how many were found, 4 meaning "more
 * than three". */
static int
split_fields(char *s, const char *field[4], size_t field_len[4])
{
    int n = 0;

    while (n < 4) {
        size_t len;

        s += strspn(s, " \t");
        if (*s == '\0')
            break;
        len = strcspn(s, " \t");
        field[n] = s;
        field_len[n] = len;
        n++;
        s += len;
    }
    return n;
}


/* Parses line number 'line_no' (modified in place) into 'c'. Returns 0,
 * ERR_INVAL with 'msg' set, or ERR_NOMEM. */
static int
parse_line(struct credentials *c, const char *path, size_t line_no,
           char *line, char *msg, size_t msg_len)
{
    const char *f[4];
    size_t len[4];
    int n;

    line[strcspn(line, "#\r\n")] = '\0';
    n = split_fields(line, f, len);
    if (n == 0)
        return 0;
    if (n != 3) {
        err_message(msg, msg_len, "%s:%zu: expected 3 fields (ACCESS_KEY_ID "
                    "SECRET_ACCESS_KEY ACCOUNT_ID), found %s", path, line_no,
                    n == 4 ? "more" : n == 1 ? "1" : "2");
        return ERR_INVAL;
    }

    if (!key_id_valid(f[0], len[0])) {
        err_message(msg, msg_len, "%s:%zu: access key id must be 1 to %d "
                    "characters from A-Z a-z 0-9 _ . -", path, line_no,
                    CREDENTIALS_MAX_KEY_ID);
        return ERR_INVAL;
    }
    if (!secret_valid(f[1], len[1])) {
        err_message(msg, msg_len, "%s:%zu: secret access key must be 1 to %d "
                    "visible ASCII characters", path, line_no,
                    CREDENTIALS_MAX_SECRET);
        return ERR_INVAL;
    }
    if (!account_valid(f[2], len[2])) {
        err_message(msg, msg_len,
                    "%s:%zu: account id must be exactly %d digits", path,
                    line_no, CREDENTIALS_ACCOUNT_LEN);
        return ERR_INVAL;
    }
    return add_entry(c, f[0], len[0], f[1], len[1], f[2], len[2], line_no);
}


static int
entry_cmp(const void *a, const void *b)
{
    const struct entry *x = a;
    const struct entry *y = b;
    int d = strcmp(x->pub.access_key, y->pub.access_key);

    if (d != 0)
        return d;
    return x->line < y->line ? -1 : x->line > y->line;
}


/* Sorts the set and refuses it when an access key id repeats, naming the
 * earliest line in the file that repeats an earlier one. 0 or ERR_INVAL. */
static int
sort_and_check(struct credentials *c, const char *path, char *msg,
               size_t msg_len)
{
    const struct entry *dup = NULL;
    const struct entry *first = NULL;
    size_t i;

    if (c->n > 1)
        qsort(c->v, c->n, sizeof(*c->v), entry_cmp);

    for (i = 1; i < c->n; i++) {
        const struct entry *prev = &c->v[i - 1];

        if (strcmp(prev->pub.access_key, c->v[i].pub.access_key) != 0)
            continue;
        if (dup == NULL || c->v[i].line < dup->line) {
            dup = &c->v[i];
            first = prev;
            /* Runs of three or more: the first of the run is the origin. */
            while (first > c->v
                   && strcmp(first[-1].pub.access_key,
                             dup->pub.access_key) == 0)
                first--;
        }
    }
    if (dup == NULL)
        return 0;
    err_message(msg, msg_len, "%s:%zu: duplicate access key id '%s' (first on "
                "line %zu)", path, dup->line, dup->pub.access_key, first->line);
    return ERR_INVAL;
}


/* Reads every line of 'f' into 'c'. 0, ERR_INVAL, ERR_IO or ERR_NOMEM. */
static int
read_lines(FILE *f, struct credentials *c, const char *path, char *msg,
           size_t msg_len)
{
    char *line = NULL;
    size_t line_cap = 0;
    size_t line_no = 0;
    ssize_t len;
    int rc = 0;

    for (;;) {
        errno = 0;
        len = getline(&line, &line_cap, f);
        if (len < 0)
            break;
        line_no++;
        if ((size_t)len > MAX_LINE) {
            err_message(msg, msg_len, "%s:%zu: line longer than %d characters",
                        path, line_no, MAX_LINE);
            rc = ERR_INVAL;
            goto out;
        }
        if (strlen(line) != (size_t)len) {
            err_message(msg, msg_len, "%s:%zu: line contains a NUL byte", path,
                        line_no);
            rc = ERR_INVAL;
            goto out;
        }
        rc = parse_line(c, path, line_no, line, msg, msg_len);
        if (rc != 0)
            goto out;
    }
    if (errno == ENOMEM) {
        rc = ERR_NOMEM;
    } else if (ferror(f)) {
        err_message(msg, msg_len, "%s: %s", path, strerror(errno));
        rc = ERR_IO;
    }

out:
    if (line != NULL)
        explicit_bzero(line, line_cap);
    free(line);
    return rc;
}


int
credentials_load(const char *path, struct credentials **out, char *msg,
                 size_t msg_len)
{
    struct credentials *c = NULL;
    FILE *f = NULL;
    int rc;

    err_message(msg, msg_len, "%s", "");
    f = fopen(path, "r");
    if (f == NULL) {
        err_message(msg, msg_len, "%s: %s", path, strerror(errno));
        return ERR_IO;
    }

    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        rc = ERR_NOMEM;
        goto out;
    }

    rc = read_lines(f, c, path, msg, msg_len);
    if (rc != 0)
        goto out;
    if (c->n == 0) {
        err_message(msg, msg_len, "%s: no access keys found", path);
        rc = ERR_INVAL;
        goto out;
    }
    rc = sort_and_check(c, path, msg, msg_len);
    if (rc != 0)
        goto out;

    *out = c;
    c = NULL;

out:
    if (rc == ERR_NOMEM)
        err_message(msg, msg_len, "%s: %s", path, err_str(rc));
    fclose(f);
    credentials_free(c);
    return rc;
}


int
credentials_new_default(struct credentials **out)
{
    struct credentials *c = calloc(1, sizeof(*c));
    int rc;

    if (c == NULL)
        return ERR_NOMEM;
    rc = add_entry(c, CREDENTIALS_DEFAULT_KEY_ID,
                   strlen(CREDENTIALS_DEFAULT_KEY_ID),
                   CREDENTIALS_DEFAULT_SECRET,
                   strlen(CREDENTIALS_DEFAULT_SECRET),
                   CREDENTIALS_DEFAULT_ACCOUNT,
                   strlen(CREDENTIALS_DEFAULT_ACCOUNT), 0);
    if (rc != 0) {
        credentials_free(c);
        return rc;
    }
    *out = c;
    return 0;
}


const struct credential *
credentials_find(const struct credentials *c, const char *access_key)
{
    size_t lo = 0;
    size_t hi;

    if (c == NULL || access_key == NULL)
        return NULL;

    hi = c->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int d = strcmp(access_key, c->v[mid].pub.access_key);

        if (d == 0)
            return &c->v[mid].pub;
        if (d < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}


size_t
credentials_count(const struct credentials *c)
{
    return c == NULL ? 0 : c->n;
}


void
credentials_free(struct credentials *c)
{
    size_t i;

    if (c == NULL)
        return;
    for (i = 0; i < c->n; i++)
        entry_wipe(&c->v[i]);
    free(c->v);
    free(c);
}
