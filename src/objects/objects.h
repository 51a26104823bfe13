/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The object store of batch jobs: reads call recordings and manifests named
 * by s3://bucket/key URIs and writes job output files.
 *
 * Callers see URIs, never paths. A backend (the local folder in
 * objects_local.c; an S3-compatible endpoint later) implements the
 * functions below through struct objects_ops; objects.c parses and checks
 * every URI before a backend sees it, so backends only get well-formed
 * bucket names and keys.
 *
 * A URI is "s3://" and a bucket name (3 to 63 of a-z, 0-9, '.', '-',
 * starting and ending with a letter or digit), optionally followed by '/'
 * and a key. Keys are refused when they are longer than 1024 bytes, start
 * with '/', hold an empty segment ("a//b"), a "." segment, the text "..",
 * a backslash, or a NUL or control character. These rules make every key a
 * relative path that stays inside its bucket's folder.
 *
 * Semantics follow S3: a bucket must exist before anything is written to
 * it (ERR_NOTFOUND otherwise), while the folders inside a key are created
 * on demand. A put replaces the whole object atomically: a reader sees the
 * old version or the new one, never a mix.
 *
 * Errors: ERR_INVAL for a malformed URI or argument, ERR_NOTFOUND for a
 * missing bucket or key, ERR_DENIED when the local path goes through a
 * symbolic link, ERR_TOOBIG over a caller's size limit, ERR_EXISTS when a
 * key's folder is already an object, ERR_IO, ERR_NOMEM. Every function
 * that can fail takes a caller-owned 'msg' buffer of 'msg_len' bytes
 * (NULL/0 to ignore) and writes there a sentence naming the URI and the
 * problem; the module never logs.
 *
 * A handle is safe to use from several threads at once.
 */
#ifndef TIMBRE_OBJECTS_OBJECTS_H
#define TIMBRE_OBJECTS_OBJECTS_H

#include <stddef.h>

#define OBJECTS_BUCKET_MAX 63   /* bytes in a bucket name */
#define OBJECTS_KEY_MAX 1024    /* bytes in a key */

struct objects;

/* A parsed URI. 'key' is "" when the URI names only a bucket
 * ("s3://bucket" or "s3://bucket/"). */
struct objects_uri {
    char bucket[OBJECTS_BUCKET_MAX + 1];
    char key[OBJECTS_KEY_MAX + 1];
};

/*
 * Parses the 'uri_len' bytes at 'uri' (which need not be NUL-terminated,
 * so that an embedded NUL from JSON text is seen and refused) into *out.
 * Returns 0, or ERR_INVAL with a message naming the URI and the rule it
 * breaks; *out is untouched on failure.
 */
int objects_uri_parse(const char *uri, size_t uri_len,
                      struct objects_uri *out, char *msg, size_t msg_len);

/*
 * Opens the local-folder store of 'data_dir': objects live under
 * <data_dir>/objects, which is created (mode 0700) when missing; the data
 * folder itself must exist. Returns 0 and a handle in *out (objects_close),
 * ERR_IO if the folder cannot be made or opened, ERR_INVAL for a NULL
 * argument, ERR_NOMEM.
 */
int objects_open(const char *data_dir, struct objects **out,
                 char *msg, size_t msg_len);

/* Closes the handle; NULL is fine. */
void objects_close(struct objects *o);

/*
 * Reads the object 'uri' into a new buffer *data (caller frees with
 * free(); one extra NUL byte follows the data so text can be used as a
 * string) of *len bytes. ERR_TOOBIG when the object is larger than
 * 'max_bytes' (checked before anything is read), ERR_NOTFOUND, ERR_DENIED,
 * ERR_INVAL, ERR_IO, ERR_NOMEM.
 */
int objects_get(struct objects *o, const char *uri, size_t max_bytes,
                unsigned char **data, size_t *len, char *msg, size_t msg_len);

/*
 * Opens the object 'uri' for streaming: *fd receives a read-only file
 * descriptor positioned at the start (the caller closes it) and *size the
 * object's size in bytes. Errors as objects_get, without ERR_TOOBIG.
 */
int objects_open_read(struct objects *o, const char *uri, int *fd,
                      size_t *size, char *msg, size_t msg_len);

/*
 * Writes 'len' bytes at 'data' (borrowed) as the whole object 'uri',
 * replacing any previous version atomically and durably (the data and the
 * folder are synced before it returns). Creates the folders of the key
 * inside the bucket. ERR_NOTFOUND if the bucket does not exist, ERR_EXISTS
 * if the key or one of its folders is already taken by a folder or an
 * object, ERR_DENIED, ERR_INVAL, ERR_IO.
 */
int objects_put(struct objects *o, const char *uri, const void *data,
                size_t len, char *msg, size_t msg_len);

/*
 * Checks that the bucket of 'uri' exists and can be written into, so that
 * a job finds out before its work rather than when it writes its output.
 * The key is not looked at. ERR_NOTFOUND if the bucket does not exist,
 * ERR_DENIED, ERR_INVAL, ERR_IO.
 */
int objects_bucket_check(struct objects *o, const char *uri, char *msg,
                         size_t msg_len);

/* Sets *size to the size in bytes of the object 'uri'. Errors as
 * objects_open_read. */
int objects_stat(struct objects *o, const char *uri, size_t *size,
                 char *msg, size_t msg_len);

/*
 * Writes into 'path' (room for 'cap' bytes) the file path of the existing
 * object 'uri', after the same checks as objects_open_read, for code that
 * can only read by path (the voice engine today). Only the local backend
 * has paths: other backends answer ERR_INVAL. ERR_TOOBIG when 'path' is
 * too small; other errors as objects_open_read.
 *
 * The path is checked when this returns, not when it is used: someone who
 * can write into the objects folder could swap a folder for a symbolic
 * link in between. Prefer objects_open_read where possible.
 */
int objects_local_path(struct objects *o, const char *uri, char *path,
                       size_t cap, char *msg, size_t msg_len);


/*
 * For backends. A backend allocates its own handle whose first member is a
 * struct objects, fills 'ops' and hands it back as a struct objects
 * pointer. objects.c has checked the handle, every pointer and the URI, and
 * passes the parsed URI with its original text (for messages); each
 * function has the contract of the public function of the same name, and
 * 'local_path' may be NULL.
 */
struct objects_ops {
    void (*close)(struct objects *o);
    int (*get)(struct objects *o, const struct objects_uri *u,
               const char *uri, size_t max_bytes, unsigned char **data,
               size_t *len, char *msg, size_t msg_len);
    int (*open_read)(struct objects *o, const struct objects_uri *u,
                     const char *uri, int *fd, size_t *size,
                     char *msg, size_t msg_len);
    int (*put)(struct objects *o, const struct objects_uri *u,
               const char *uri, const void *data, size_t len,
               char *msg, size_t msg_len);
    int (*bucket_check)(struct objects *o, const struct objects_uri *u,
                        const char *uri, char *msg, size_t msg_len);
    int (*stat)(struct objects *o, const struct objects_uri *u,
                const char *uri, size_t *size, char *msg, size_t msg_len);
    int (*local_path)(struct objects *o, const struct objects_uri *u,
                      const char *uri, char *path, size_t cap,
                      char *msg, size_t msg_len);
};

/* The common head of every backend's handle. */
struct objects {
    const struct objects_ops *ops;
};

/* Opens the local-folder backend; the contract of objects_open. */
int objects__local_open(const char *data_dir, struct objects **out,
                        char *msg, size_t msg_len);

#endif
