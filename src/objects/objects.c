/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The front of the object store: parses s3:// URIs, refuses the ones no
 * backend may see, and calls through the backend's struct objects_ops.
 *
 * The URI rules live here, once, so that a backend can treat a key as a
 * relative path made of ordinary names: no "..", no ".", no empty segment,
 * no leading '/', no backslash, no control character. The local backend
 * adds its own defence against symbolic links, which no lexical check can
 * see.
 *
 * Messages quote the URI as the caller gave it, but cut and with control
 * characters replaced, because job output files and logs carry them.
 */
#include "objects/objects.h"

#include <stdbool.h>
#include <string.h>

#include "util/err.h"

#define SHOW_MAX 120    /* bytes of a URI quoted in a message */


/* Writes a printable, shortened copy of the URI into 'out' (cap bytes). */
static void
uri_show(const char *uri, size_t uri_len, char *out, size_t cap)
{
    size_t n = 0;
    size_t limit = uri_len < SHOW_MAX ? uri_len : SHOW_MAX;

    for (size_t i = 0; i < limit && n + 4 < cap; i++) {
        unsigned char c = (unsigned char)uri[i];

        out[n++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
    }
    if (limit < uri_len && n + 4 <= cap) {
        memcpy(out + n, "...", 3);
        n += 3;
    }
    out[n] = '\0';
}


static bool
is_lower_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}


/* The rule the bucket name breaks, or NULL when it is valid. */
static const char *
bucket_problem(const char *b, size_t n)
{
    if (n < 3 || n > OBJECTS_BUCKET_MAX)
        return "bucket name must be 3 to 63 characters long";
    for (size_t i = 0; i < n; i++) {
        if (!is_lower_alnum(b[i]) && b[i] != '.' && b[i] != '-')
            return "bucket name may hold only a-z, 0-9, '.' and '-'";
    }
    if (!is_lower_alnum(b[0]) || !is_lower_alnum(b[n - 1]))
        return "bucket name must start and end with a letter or digit";
    return NULL;
}


/* The rule the key breaks, or NULL when it is valid. Control characters
 * and NUL bytes were refused before. */
static const char *
key_problem(const char *k, size_t n)
{
    size_t seg_start = 0;

    if (n > OBJECTS_KEY_MAX)
        return "key is longer than 1024 bytes";
    if (k[0] == '/')
        return "key starts with '/'";
    if (memchr(k, '\\', n) != NULL)
        return "key contains a backslash";
    for (size_t i = 0; i + 1 < n; i++) {
        if (k[i] == '.' && k[i + 1] == '.')
            return "key contains '..'";
    }

    for (size_t i = 0; i <= n; i++) {
        if (i < n && k[i] != '/')
            continue;
        if (i == seg_start)
            return "key has an empty segment";
        if (i - seg_start == 1 && k[seg_start] == '.')
            return "key has a '.' segment";
        seg_start = i + 1;
    }
    return NULL;
}


int
objects_uri_parse(const char *uri, size_t uri_len, struct objects_uri *out,
                  char *msg, size_t msg_len)
{
    char show[SHOW_MAX + 8];
    const char *problem = NULL;
    const char *b;
    const char *slash;
    size_t b_len;
    size_t k_len = 0;

    if (uri == NULL || out == NULL) {
        err_message(msg, msg_len, "object uri is missing");
        return ERR_INVAL;
    }
    uri_show(uri, uri_len, show, sizeof(show));

    if (memchr(uri, '\0', uri_len) != NULL)
        problem = "uri contains a NUL byte";
    for (size_t i = 0; problem == NULL && i < uri_len; i++) {
        if ((unsigned char)uri[i] < 0x20 || uri[i] == 0x7f)
            problem = "uri contains a control character";
    }
    if (problem == NULL && (uri_len < 5 || memcmp(uri, "s3://", 5) != 0))
        problem = "uri does not start with s3://";
    if (problem != NULL)
        goto refuse;

    b = uri + 5;
    slash = memchr(b, '/', uri_len - 5);
    b_len = slash != NULL ? (size_t)(slash - b) : uri_len - 5;
    problem = bucket_problem(b, b_len);
    if (problem == NULL && slash != NULL) {
        k_len = uri_len - 5 - b_len - 1;
        if (k_len > 0)
            problem = key_problem(slash + 1, k_len);
    }
    if (problem != NULL)
        goto refuse;

    memcpy(out->bucket, b, b_len);
    out->bucket[b_len] = '\0';
    if (k_len > 0)
        memcpy(out->key, slash + 1, k_len);
    out->key[k_len] = '\0';
    return 0;

refuse:
    err_message(msg, msg_len, "%s: %s", show, problem);
    return ERR_INVAL;
}


/* Parses a NUL-terminated URI that must name an object, not a bucket. */
static int
parse_object(const char *uri, struct objects_uri *u, char *msg,
             size_t msg_len)
{
    int rc;

    if (uri == NULL) {
        err_message(msg, msg_len, "object uri is missing");
        return ERR_INVAL;
    }
    rc = objects_uri_parse(uri, strlen(uri), u, msg, msg_len);
    if (rc != 0)
        return rc;
    if (u->key[0] == '\0') {
        err_message(msg, msg_len, "%.*s: names a bucket, not an object",
                    SHOW_MAX, uri);
        return ERR_INVAL;
    }
    return 0;
}


int
objects_open(const char *data_dir, struct objects **out, char *msg,
             size_t msg_len)
{
    if (data_dir == NULL || out == NULL) {
        err_message(msg, msg_len, "objects_open: missing argument");
        return ERR_INVAL;
    }
    return objects__local_open(data_dir, out, msg, msg_len);
}


void
objects_close(struct objects *o)
{
    if (o == NULL)
        return;
    o->ops->close(o);
}


int
objects_get(struct objects *o, const char *uri, size_t max_bytes,
            unsigned char **data, size_t *len, char *msg, size_t msg_len)
{
    struct objects_uri u;
    int rc;

    if (o == NULL || data == NULL || len == NULL) {
        err_message(msg, msg_len, "objects_get: missing argument");
        return ERR_INVAL;
    }
    rc = parse_object(uri, &u, msg, msg_len);
    if (rc != 0)
        return rc;
    return o->ops->get(o, &u, uri, max_bytes, data, len, msg, msg_len);
}


int
objects_open_read(struct objects *o, const char *uri, int *fd,
                  size_t *size, char *msg, size_t msg_len)
{
    struct objects_uri u;
    int rc;

    if (o == NULL || fd == NULL || size == NULL) {
        err_message(msg, msg_len, "objects_open_read: missing argument");
        return ERR_INVAL;
    }
    rc = parse_object(uri, &u, msg, msg_len);
    if (rc != 0)
        return rc;
    return o->ops->open_read(o, &u, uri, fd, size, msg, msg_len);
}


int
objects_put(struct objects *o, const char *uri, const void *data,
            size_t len, char *msg, size_t msg_len)
{
    struct objects_uri u;
    int rc;

    if (o == NULL || (data == NULL && len > 0)) {
        err_message(msg, msg_len, "objects_put: missing argument");
        return ERR_INVAL;
    }
    rc = parse_object(uri, &u, msg, msg_len);
    if (rc != 0)
        return rc;
    return o->ops->put(o, &u, uri, data, len, msg, msg_len);
}


int
objects_stat(struct objects *o, const char *uri, size_t *size, char *msg,
             size_t msg_len)
{
    struct objects_uri u;
    int rc;

    if (o == NULL || size == NULL) {
        err_message(msg, msg_len, "objects_stat: missing argument");
        return ERR_INVAL;
    }
    rc = parse_object(uri, &u, msg, msg_len);
    if (rc != 0)
        return rc;
    return o->ops->stat(o, &u, uri, size, msg, msg_len);
}


int
objects_bucket_check(struct objects *o, const char *uri, char *msg,
                     size_t msg_len)
{
    struct objects_uri u;
    int rc;

    if (o == NULL || uri == NULL) {
        err_message(msg, msg_len, "objects_bucket_check: missing argument");
        return ERR_INVAL;
    }
    rc = objects_uri_parse(uri, strlen(uri), &u, msg, msg_len);
    if (rc != 0)
        return rc;
    return o->ops->bucket_check(o, &u, uri, msg, msg_len);
}


int
objects_local_path(struct objects *o, const char *uri, char *path,
                   size_t cap, char *msg, size_t msg_len)
{
    struct objects_uri u;
    int rc;

    if (o == NULL || path == NULL || cap == 0) {
        err_message(msg, msg_len, "objects_local_path: missing argument");
        return ERR_INVAL;
    }
    rc = parse_object(uri, &u, msg, msg_len);
    if (rc != 0)
        return rc;
    if (o->ops->local_path == NULL) {
        err_message(msg, msg_len, "%.*s: this object store has no local "
                    "paths", SHOW_MAX, uri);
        return ERR_INVAL;
    }
    return o->ops->local_path(o, &u, uri, path, cap, msg, msg_len);
}
