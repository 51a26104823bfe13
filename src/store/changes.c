/* SPDX-License-Identifier: Apache-2.0 */
/* The write-transaction count shared through a file beside the database. */
#include "store/changes.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/err.h"
#include "util/log.h"

#define CHANGES_SUFFIX "-changes"
#define CHANGES_FILE_SIZE 4096

/* The file's layout; a new file is all zeros, which is a valid state. */
struct changes_shared {
    _Atomic uint64_t started;
    _Atomic uint64_t ended;
};

struct changes {
    int fd;
    struct changes_shared *shared;      /* mapped from the file */
};


/* flock that waits through signals. */
static int
lock_file(int fd, int how)
{
    int rc;

    do {
        rc = flock(fd, how);
    } while (rc != 0 && errno == EINTR);
    return rc;
}


/*
 * Takes this process's shared lock on the file. Whoever finds nobody else
 * holding it first evens the counters, since a count left uneven can only
 * come from a process that died inside a write transaction.
 */
static int
join(struct changes *c, const char *path)
{
    struct changes_shared *sh = c->shared;
    uint64_t started;

    if (lock_file(c->fd, LOCK_EX | LOCK_NB) == 0) {
        started = atomic_load(&sh->started);
        if (atomic_load(&sh->ended) != started) {
            log_msg(LOG_WARN, "store", NULL, "%s: a process stopped inside "
                    "a write transaction earlier; counting afresh", path);
            atomic_store(&sh->ended, started);
        }
    } else if (errno != EWOULDBLOCK) {
        return -1;
    }
    /* Turning the exclusive lock into a shared one is not atomic, which
     * is harmless: nobody who gets in between can be writing yet. */
    return lock_file(c->fd, LOCK_SH);
}


int
changes_open(const char *db_path, struct changes **out)
{
    struct changes *c = NULL;
    struct stat st;
    char *path = NULL;
    void *map;
    int saved_errno = 0;
    int rc = ERR_NOMEM;

    c = calloc(1, sizeof(*c));
    path = malloc(strlen(db_path) + sizeof(CHANGES_SUFFIX));
    if (c == NULL || path == NULL)
        goto out;
    c->fd = -1;
    strcpy(path, db_path);
    strcat(path, CHANGES_SUFFIX);

    rc = ERR_IO;
    c->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (c->fd < 0 || fstat(c->fd, &st) != 0)
        goto fail_errno;
    if (st.st_size < CHANGES_FILE_SIZE &&
        ftruncate(c->fd, CHANGES_FILE_SIZE) != 0)
        goto fail_errno;
    map = mmap(NULL, CHANGES_FILE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
               c->fd, 0);
    if (map == MAP_FAILED)
        goto fail_errno;
    c->shared = map;

    /* Atomics shared between processes must not rest on a lock that lives
     * inside one process. */
    if (!atomic_is_lock_free(&c->shared->started)) {
        log_msg(LOG_ERROR, "store", NULL, "64-bit atomics need locks on "
                "this machine; cannot share the change count %s", path);
        goto out;
    }
    if (join(c, path) != 0)
        goto fail_errno;

    rc = 0;
    *out = c;
    c = NULL;
    goto out;

fail_errno:
    saved_errno = errno;
    log_msg(LOG_ERROR, "store", NULL, "cannot use the change count %s: %s",
            path, strerror(saved_errno));
out:
    changes_close(c);
    free(path);
    return rc;
}


void
changes_close(struct changes *c)
{
    if (c == NULL)
        return;
    if (c->shared != NULL)
        munmap(c->shared, CHANGES_FILE_SIZE);
    if (c->fd >= 0)
        close(c->fd);                   /* also drops the lock */
    free(c);
}


void
changes_begin(struct changes *c)
{
    atomic_fetch_add(&c->shared->started, 1);
}


void
changes_end(struct changes *c)
{
    atomic_fetch_add(&c->shared->ended, 1);
}


bool
changes_version(const struct changes *c, uint64_t *version)
{
    uint64_t started;

    /*
     * "started" first: if "ended" has caught up with it by the second
     * load, every transaction counted in it has ended, and one that began
     * in between makes the two differ.
     */
    started = atomic_load(&c->shared->started);
    if (atomic_load(&c->shared->ended) != started)
        return false;
    *version = started;
    return true;
}
