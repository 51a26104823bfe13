/* SPDX-License-Identifier: Apache-2.0 */
/* Reading corpus manifests (see manifest.h). */
#include "cli/manifest.h"

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "util/err.h"

#define MAX_LINE 4096


static int
add_row(struct manifest *m, size_t *cap, const char *folder, char *speaker,
        char *utt, char *path)
{
    struct manifest_row *row;
    int index = -1;

    if (m->n_rows == *cap) {
        size_t grown_cap = *cap ? *cap * 2 : 256;
        struct manifest_row *grown = realloc(m->rows,
                                             grown_cap * sizeof(*grown));

        if (grown == NULL)
            return ERR_NOMEM;
        m->rows = grown;
        *cap = grown_cap;
    }

    /* Speakers are numbered in order of first appearance; rows of one
     * speaker usually follow each other, so look back from the end. */
    for (size_t i = m->n_rows; i-- > 0;) {
        if (strcmp(m->rows[i].speaker, speaker) == 0) {
            index = m->rows[i].speaker_index;
            break;
        }
    }
    if (index < 0)
        index = (int)m->n_speakers++;

    row = &m->rows[m->n_rows];
    row->speaker = strdup(speaker);
    row->utt = strdup(utt);
    if (path[0] == '/' || folder[0] == '\0') {
        row->path = strdup(path);
    } else {
        size_t len = strlen(folder) + strlen(path) + 2;

        row->path = malloc(len);
        if (row->path)
            snprintf(row->path, len, "%s/%s", folder, path);
    }
    row->speaker_index = index;
    m->n_rows++;
    if (row->speaker == NULL || row->utt == NULL || row->path == NULL)
        return ERR_NOMEM;
    return 0;
}


static int
skip_hidden(const struct dirent *e)
{
    return e->d_name[0] != '.';
}


static bool
is_audio_name(const char *name)
{
    const char *dot = strrchr(name, '.');

    return dot && (strcasecmp(dot, ".wav") == 0
                   || strcasecmp(dot, ".flac") == 0);
}


/* Adds the recordings of one speaker's folder, in name order. */
static int
scan_speaker(struct manifest *m, size_t *cap, const char *root,
             const char *speaker, char *msg, size_t msg_len)
{
    struct dirent **files = NULL;
    char folder[MAX_LINE];
    char rel[MAX_LINE];
    int n;
    int rc = 0;

    snprintf(folder, sizeof(folder), "%s/%s", root, speaker);
    n = scandir(folder, &files, skip_hidden, alphasort);
    if (n < 0) {
        err_message(msg, msg_len, "%s: %s", folder, strerror(errno));
        return ERR_IO;
    }
    for (int i = 0; i < n; i++) {
        if (rc == 0 && is_audio_name(files[i]->d_name)) {
            snprintf(rel, sizeof(rel), "%s/%s", speaker, files[i]->d_name);
            rc = add_row(m, cap, root, (char *)speaker, files[i]->d_name,
                         rel);
        }
        free(files[i]);
    }
    free(files);
    return rc;
}


static int
scan_folder(const char *root, struct manifest *m, char *msg,
            size_t msg_len)
{
    struct dirent **speakers = NULL;
    char sub[MAX_LINE];
    struct stat st;
    size_t cap = 0;
    int n;
    int rc = 0;

    n = scandir(root, &speakers, skip_hidden, alphasort);
    if (n < 0) {
        err_message(msg, msg_len, "%s: %s", root, strerror(errno));
        return ERR_IO;
    }
    for (int i = 0; i < n; i++) {
        snprintf(sub, sizeof(sub), "%s/%s", root, speakers[i]->d_name);
        if (rc == 0 && stat(sub, &st) == 0 && S_ISDIR(st.st_mode))
            rc = scan_speaker(m, &cap, root, speakers[i]->d_name, msg,
                              msg_len);
        free(speakers[i]);
    }
    free(speakers);
    return rc;
}


static int
read_tsv(const char *path, struct manifest *out, char *msg, size_t msg_len);


/* Brings each speaker's rows together, in order of the speakers' first
 * appearance, keeping the order of rows within a speaker. Readers such as
 * eval take a speaker's rows as one run, and a hand-written manifest may
 * interleave speakers. */
static int
group_by_speaker(struct manifest *m)
{
    struct manifest_row *grouped;
    size_t *next;

    grouped = malloc(m->n_rows * sizeof(*grouped));
    next = calloc(m->n_speakers + 1, sizeof(*next));
    if (grouped == NULL || next == NULL) {
        free(grouped);
        free(next);
        return ERR_NOMEM;
    }

    /* next[s + 1] counts speaker s's rows; prefix sums then make next[s]
     * the slot of speaker s's next row. */
    for (size_t i = 0; i < m->n_rows; i++)
        next[m->rows[i].speaker_index + 1]++;
    for (size_t s = 1; s <= m->n_speakers; s++)
        next[s] += next[s - 1];
    for (size_t i = 0; i < m->n_rows; i++)
        grouped[next[m->rows[i].speaker_index]++] = m->rows[i];

    free(m->rows);
    free(next);
    m->rows = grouped;
    return 0;
}


int
manifest_load(const char *path, struct manifest *out, char *msg,
              size_t msg_len)
{
    struct manifest m = { 0 };
    struct stat st;
    int rc;

    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return read_tsv(path, out, msg, msg_len);

    rc = scan_folder(path, &m, msg, msg_len);
    if (rc == 0 && m.n_rows == 0) {
        err_message(msg, msg_len, "%s: no speaker folders with .wav or "
                    ".flac files", path);
        rc = ERR_INVAL;
    }
    if (rc != 0) {
        manifest_free(&m);
        return rc;
    }
    *out = m;
    return 0;
}


static int
read_tsv(const char *path, struct manifest *out, char *msg, size_t msg_len)
{
    struct manifest m = { 0 };
    char folder[MAX_LINE];
    char line[MAX_LINE];
    const char *slash = strrchr(path, '/');
    size_t cap = 0;
    size_t line_no = 0;
    FILE *f;
    int rc = 0;

    snprintf(folder, sizeof(folder), "%.*s",
             slash ? (int)(slash - path) : 0, path);
    f = fopen(path, "r");
    if (f == NULL) {
        err_message(msg, msg_len, "%s: %s", path, strerror(errno));
        return ERR_IO;
    }

    while (rc == 0 && fgets(line, sizeof(line), f) != NULL) {
        char *save = NULL;
        char *speaker;
        char *utt;
        char *file;

        line_no++;
        line[strcspn(line, "\r\n")] = '\0';
        if (line_no == 1 || line[0] == '\0')
            continue;
        speaker = strtok_r(line, "\t", &save);
        utt = strtok_r(NULL, "\t", &save);
        file = strtok_r(NULL, "\t", &save);
        if (speaker == NULL || utt == NULL || file == NULL) {
            err_message(msg, msg_len, "%s:%zu: expected speaker_id, utt_id "
                        "and path separated by tabs", path, line_no);
            rc = ERR_INVAL;
            break;
        }
        rc = add_row(&m, &cap, folder, speaker, utt, file);
    }
    fclose(f);

    if (rc == 0 && m.n_rows == 0) {
        err_message(msg, msg_len, "%s: no utterances", path);
        rc = ERR_INVAL;
    }
    if (rc == 0)
        rc = group_by_speaker(&m);
    if (rc != 0) {
        manifest_free(&m);
        return rc;
    }
    *out = m;
    return 0;
}


void
manifest_free(struct manifest *m)
{
    if (m == NULL)
        return;
    for (size_t i = 0; i < m->n_rows; i++) {
        free(m->rows[i].speaker);
        free(m->rows[i].utt);
        free(m->rows[i].path);
    }
    free(m->rows);
    memset(m, 0, sizeof(*m));
}
