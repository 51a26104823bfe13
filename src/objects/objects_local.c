/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The local-folder object store: s3://bucket/key is the file
 * <data-dir>/objects/bucket/key.
 *
 * Nothing may escape the objects folder. objects.c already refuses keys
 * that are not plain relative paths; here every step of a path is opened
 * with openat(..., O_NOFOLLOW) relative to the folder opened before it,
 * starting from a descriptor of the objects folder kept for the handle's
 * life. A symbolic link anywhere below the objects folder (someone with
 * access to the folder could plant one pointing at /etc) makes the call
 * fail with ERR_DENIED, so no path is ever resolved by name from the root.
 * The objects folder itself may be a link the operator set up.
 *
 * Writes go to a temporary file with a random name in the target's folder
 * (created with O_EXCL), which is synced and renamed over the target; then
 * the folder is synced. rename() is atomic, so readers and concurrent
 * writers see one whole version. A crash can leave a temporary file named
 * ".timbre-tmp-<hex>" behind; it is never mistaken for an object by Timbre
 * itself because keys are only ever read by name.
 *
 * Files are created 0600 and folders 0700: recordings are personal data.
 * The handle holds only immutable state (a descriptor and a path), so
 * calls from several threads need no lock.
 */
#include "objects/objects.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/crypto.h"
#include "util/err.h"

#define TMP_PREFIX ".timbre-tmp-"
#define TMP_RANDOM_LEN 8    /* random bytes, written as hex */

struct objects_local {
    struct objects base;
    int root_fd;            /* the objects folder */
    char *root_path;        /* owned; for objects_local_path */
};


static struct objects_local *
local_of(struct objects *o)
{
    return (struct objects_local *)o;
}


/*
 * Explains why openat() of 'name' in folder 'dir' failed with 'e' and
 * returns the code. 'what' says what the name was ("bucket" or "key") for
 * ENOENT; 'creating' turns "a folder of the key is an object" into
 * ERR_EXISTS instead of ERR_NOTFOUND.
 */
static int
refuse(int dir, const char *name, int e, const char *uri, const char *what,
       bool creating, char *msg, size_t msg_len)
{
    struct stat st;

    if ((e == ELOOP || e == ENOTDIR || e == EMLINK) &&
        fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
        if (S_ISLNK(st.st_mode)) {
            err_message(msg, msg_len,
                        "%s: path goes through a symbolic link", uri);
            return ERR_DENIED;
        }
        if (creating) {
            err_message(msg, msg_len, "%s: '%s' is an object, not a folder",
                        uri, name);
            return ERR_EXISTS;
        }
        err_message(msg, msg_len, "%s: no such key", uri);
        return ERR_NOTFOUND;
    }
    if (e == ENOENT || e == ENOTDIR) {
        if (strcmp(what, "bucket") == 0)
            err_message(msg, msg_len, "%s: no such bucket '%s'", uri, name);
        else
            err_message(msg, msg_len, "%s: no such key", uri);
        return ERR_NOTFOUND;
    }
    if (e == ENAMETOOLONG) {
        err_message(msg, msg_len, "%s: a segment of the key is too long for "
                    "a file name", uri);
        return ERR_INVAL;
    }
    err_message(msg, msg_len, "%s: cannot open '%s': %s", uri, name,
                strerror(e));
    return ERR_IO;
}


/*
 * Opens folder 'name' inside 'parent' without following a link, creating
 * it first when 'create' is set and it is missing. Sets *fd (the caller
 * closes it).
 */
static int
open_dir(int parent, const char *name, bool create, const char *uri,
         const char *what, int *fd, char *msg, size_t msg_len)
{
    int flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
    int d;

    d = openat(parent, name, flags);
    if (d < 0 && errno == ENOENT && create) {
        /* EEXIST: another writer made it first, which is fine. */
        if (mkdirat(parent, name, 0700) != 0 && errno != EEXIST)
            return refuse(parent, name, errno, uri, what, true, msg,
                          msg_len);
        d = openat(parent, name, flags);
    }
    if (d < 0)
        return refuse(parent, name, errno, uri, what, create, msg, msg_len);
    *fd = d;
    return 0;
}


/*
 * Opens, link by link, the folder that holds the key's last segment. Sets
 * *dir_fd (the caller closes it) and *leaf to the last segment inside
 * u->key. With 'create', the key's folders are made as needed; the bucket
 * folder never is.
 */
static int
walk(struct objects_local *l, const struct objects_uri *u, const char *uri,
     bool create, int *dir_fd, const char **leaf, char *msg, size_t msg_len)
{
    char name[NAME_MAX + 1];
    const char *seg = u->key;
    const char *slash;
    int dir = -1;
    int next;
    int rc;

    rc = open_dir(l->root_fd, u->bucket, false, uri, "bucket", &dir, msg,
                  msg_len);
    if (rc != 0)
        return rc;

    while ((slash = strchr(seg, '/')) != NULL) {
        size_t n = (size_t)(slash - seg);

        if (n > NAME_MAX) {
            close(dir);
            return refuse(-1, seg, ENAMETOOLONG, uri, "key", create, msg,
                          msg_len);
        }
        memcpy(name, seg, n);
        name[n] = '\0';
        rc = open_dir(dir, name, create, uri, "key", &next, msg, msg_len);
        close(dir);
        if (rc != 0)
            return rc;
        dir = next;
        seg = slash + 1;
    }
    *dir_fd = dir;
    *leaf = seg;
    return 0;
}


/* Opens the object for reading and checks that it is a regular file.
 * Sets *fd (blocking, positioned at 0; the caller closes it) and *size. */
static int
open_object(struct objects_local *l, const struct objects_uri *u,
            const char *uri, int *fd, size_t *size, char *msg,
            size_t msg_len)
{
    struct stat st;
    const char *leaf;
    int dir = -1;
    int f;
    int rc;

    rc = walk(l, u, uri, false, &dir, &leaf, msg, msg_len);
    if (rc != 0)
        return rc;

    /* O_NONBLOCK so that a FIFO planted in the folder cannot hang us. */
    f = openat(dir, leaf, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (f < 0) {
        rc = refuse(dir, leaf, errno, uri, "key", false, msg, msg_len);
        goto out;
    }
    if (fstat(f, &st) != 0) {
        err_message(msg, msg_len, "%s: fstat failed: %s", uri,
                    strerror(errno));
        rc = ERR_IO;
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        err_message(msg, msg_len, "%s: no such key (it is a %s)", uri,
                    S_ISDIR(st.st_mode) ? "folder" : "special file");
        rc = ERR_NOTFOUND;
        goto out;
    }
    if (fcntl(f, F_SETFL, 0) != 0) {
        err_message(msg, msg_len, "%s: fcntl failed: %s", uri,
                    strerror(errno));
        rc = ERR_IO;
        goto out;
    }
    *fd = f;
    *size = (size_t)st.st_size;
    f = -1;

out:
    if (f >= 0)
        close(f);
    close(dir);
    return rc;
}


static void
local_close(struct objects *o)
{
    struct objects_local *l = local_of(o);

    close(l->root_fd);
    free(l->root_path);
    free(l);
}


static int
local_open_read(struct objects *o, const struct objects_uri *u,
                const char *uri, int *fd, size_t *size, char *msg,
                size_t msg_len)
{
    return open_object(local_of(o), u, uri, fd, size, msg, msg_len);
}


static int
local_stat(struct objects *o, const struct objects_uri *u, const char *uri,
           size_t *size, char *msg, size_t msg_len)
{
    int fd;
    int rc;

    rc = open_object(local_of(o), u, uri, &fd, size, msg, msg_len);
    if (rc == 0)
        close(fd);
    return rc;
}


static int
local_bucket_check(struct objects *o, const struct objects_uri *u,
                   const char *uri, char *msg, size_t msg_len)
{
    int dir = -1;
    int rc;

    rc = open_dir(local_of(o)->root_fd, u->bucket, false, uri, "bucket",
                  &dir, msg, msg_len);
    if (rc != 0)
        return rc;
    if (faccessat(dir, ".", W_OK | X_OK, AT_EACCESS) != 0) {
        err_message(msg, msg_len, "%s: bucket '%s' cannot be written: %s",
                    uri, u->bucket, strerror(errno));
        rc = errno == EACCES || errno == EROFS ? ERR_DENIED : ERR_IO;
    }
    close(dir);
    return rc;
}


static int
local_get(struct objects *o, const struct objects_uri *u, const char *uri,
          size_t max_bytes, unsigned char **data, size_t *len, char *msg,
          size_t msg_len)
{
    unsigned char *buf = NULL;
    size_t size;
    size_t got = 0;
    int fd = -1;
    int rc;

    rc = open_object(local_of(o), u, uri, &fd, &size, msg, msg_len);
    if (rc != 0)
        return rc;
    if (size > max_bytes) {
        err_message(msg, msg_len, "%s: object is %zu bytes, more than the "
                    "limit of %zu", uri, size, max_bytes);
        rc = ERR_TOOBIG;
        goto out;
    }
    buf = malloc(size + 1);
    if (buf == NULL) {
        err_message(msg, msg_len, "%s: out of memory", uri);
        rc = ERR_NOMEM;
        goto out;
    }

    /* Objects are replaced by rename, never changed in place, so the size
     * seen by fstat holds; a shorter read just ends the object. */
    while (got < size) {
        ssize_t n = read(fd, buf + got, size - got);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            err_message(msg, msg_len, "%s: read failed: %s", uri,
                        strerror(errno));
            rc = ERR_IO;
            goto out;
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    buf[got] = '\0';
    *data = buf;
    *len = got;
    buf = NULL;

out:
    free(buf);
    close(fd);
    return rc;
}


/* Writes all of 'data' to 'fd', retrying short writes and EINTR. Returns
 * 0 or an errno value. */
static int
write_all(int fd, const unsigned char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return errno;
        data += n;
        len -= (size_t)n;
    }
    return 0;
}


/* Creates a new temporary file in 'dir'; sets *fd and fills 'name'. */
static int
make_temp(int dir, const char *uri, char *name, size_t cap, int *fd,
          char *msg, size_t msg_len)
{
    unsigned char rnd[TMP_RANDOM_LEN];
    char hex[2 * TMP_RANDOM_LEN + 1];
    int f;

    /* O_EXCL makes a clash of random names an error, never a shared
     * file, so a few fresh draws are enough. */
    for (int attempt = 0; attempt < 4; attempt++) {
        if (crypto_random(rnd, sizeof(rnd)) != 0) {
            err_message(msg, msg_len, "%s: no random bytes for a temporary "
                        "name", uri);
            return ERR_CRYPTO;
        }
        crypto_hex(rnd, sizeof(rnd), hex);
        snprintf(name, cap, "%s%s", TMP_PREFIX, hex);
        f = openat(dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
                   O_CLOEXEC, 0600);
        if (f >= 0) {
            *fd = f;
            return 0;
        }
        if (errno != EEXIST)
            break;
    }
    err_message(msg, msg_len, "%s: cannot create a temporary file: %s", uri,
                strerror(errno));
    return ERR_IO;
}


/* Refuses a put whose target is a link or a folder. A link planted after
 * this check is harmless: rename() replaces the link, not its target. */
static int
check_target(int dir, const char *leaf, const char *uri, char *msg,
             size_t msg_len)
{
    struct stat st;

    if (fstatat(dir, leaf, &st, AT_SYMLINK_NOFOLLOW) != 0)
        return 0;
    if (S_ISLNK(st.st_mode)) {
        err_message(msg, msg_len, "%s: path goes through a symbolic link",
                    uri);
        return ERR_DENIED;
    }
    if (S_ISDIR(st.st_mode)) {
        err_message(msg, msg_len, "%s: the key is a folder of other keys",
                    uri);
        return ERR_EXISTS;
    }
    return 0;
}


static int
local_put(struct objects *o, const struct objects_uri *u, const char *uri,
          const void *data, size_t len, char *msg, size_t msg_len)
{
    char tmp[sizeof(TMP_PREFIX) + 2 * TMP_RANDOM_LEN];
    const char *leaf;
    const char *step = NULL;
    int dir = -1;
    int fd = -1;
    int e = 0;
    int rc;

    rc = walk(local_of(o), u, uri, true, &dir, &leaf, msg, msg_len);
    if (rc != 0)
        return rc;
    rc = check_target(dir, leaf, uri, msg, msg_len);
    if (rc != 0)
        goto out;
    rc = make_temp(dir, uri, tmp, sizeof(tmp), &fd, msg, msg_len);
    if (rc != 0)
        goto out;

    e = write_all(fd, data, len);
    if (e != 0)
        step = "write";
    if (step == NULL && fsync(fd) != 0) {
        e = errno;
        step = "fsync";
    }
    if (close(fd) != 0 && step == NULL) {
        e = errno;
        step = "close";
    }
    fd = -1;
    if (step == NULL && renameat(dir, tmp, dir, leaf) != 0) {
        e = errno;
        step = "rename";
    }
    if (step != NULL) {
        unlinkat(dir, tmp, 0);
        err_message(msg, msg_len, "%s: %s failed: %s", uri, step,
                    strerror(e));
        rc = ERR_IO;
        goto out;
    }

    /* The rename is durable only once the folder's entry is on disk. */
    if (fsync(dir) != 0) {
        err_message(msg, msg_len, "%s: fsync of the folder failed: %s", uri,
                    strerror(errno));
        rc = ERR_IO;
    }

out:
    if (fd >= 0)
        close(fd);
    close(dir);
    return rc;
}


static int
local_path(struct objects *o, const struct objects_uri *u, const char *uri,
           char *path, size_t cap, char *msg, size_t msg_len)
{
    struct objects_local *l = local_of(o);
    size_t size;
    int fd;
    int n;
    int rc;

    rc = open_object(l, u, uri, &fd, &size, msg, msg_len);
    if (rc != 0)
        return rc;
    close(fd);

    n = snprintf(NULL, 0, "%s/%s/%s", l->root_path, u->bucket, u->key);
    if (n < 0 || (size_t)n >= cap) {
        err_message(msg, msg_len, "%s: the path does not fit in %zu bytes",
                    uri, cap);
        return ERR_TOOBIG;
    }
    snprintf(path, cap, "%s/%s/%s", l->root_path, u->bucket, u->key);
    return 0;
}


static const struct objects_ops local_ops = {
    .close = local_close,
    .get = local_get,
    .open_read = local_open_read,
    .put = local_put,
    .bucket_check = local_bucket_check,
    .stat = local_stat,
    .local_path = local_path,
};


int
objects__local_open(const char *data_dir, struct objects **out, char *msg,
                    size_t msg_len)
{
    struct objects_local *l = NULL;
    char *root = NULL;
    int fd;

    if (asprintf(&root, "%s/objects", data_dir) < 0) {
        err_message(msg, msg_len, "objects: out of memory");
        return ERR_NOMEM;
    }
    if (mkdir(root, 0700) != 0 && errno != EEXIST) {
        err_message(msg, msg_len, "objects: cannot create %s: %s", root,
                    strerror(errno));
        free(root);
        return ERR_IO;
    }
    fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        err_message(msg, msg_len, "objects: cannot open %s: %s", root,
                    strerror(errno));
        free(root);
        return ERR_IO;
    }
    l = calloc(1, sizeof(*l));
    if (l == NULL) {
        err_message(msg, msg_len, "objects: out of memory");
        close(fd);
        free(root);
        return ERR_NOMEM;
    }

    l->base.ops = &local_ops;
    l->root_fd = fd;
    l->root_path = root;
    *out = &l->base;
    return 0;
}
