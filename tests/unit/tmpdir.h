/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A scratch folder for unit tests that write files: made under /tmp with
 * mkdtemp and removed with its (flat) contents afterwards.
 */
#ifndef TIMBRE_TESTS_TMPDIR_H
#define TIMBRE_TESTS_TMPDIR_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* Makes /tmp/<prefix>.XXXXXX in 'dir' (at least 64 bytes); 0 or -1. */
static inline int
tmpdir_make(char *dir, size_t cap, const char *prefix)
{
    snprintf(dir, cap, "/tmp/%s.XXXXXX", prefix);
    return mkdtemp(dir) == NULL ? -1 : 0;
}


/* Removes the files in 'dir', then 'dir' itself; 0 or -1. */
static inline int
tmpdir_remove(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[512];

    if (d == NULL)
        return -1;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
    }
    closedir(d);
    return rmdir(dir);
}

#endif
