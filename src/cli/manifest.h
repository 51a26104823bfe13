/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Corpus manifests: the manifest.tsv that tools/synth-corpus.sh writes,
 * and that an operator writes for their own recordings, or a folder with
 * one subfolder of recordings per speaker. A manifest has one header line,
 * then one utterance a line: speaker_id, utt_id, path (relative to the
 * manifest's folder, or absolute) and optional further columns, separated
 * by tabs. Once loaded, each speaker's rows follow one another, speakers
 * in order of first appearance and rows of one speaker in their order.
 */
#ifndef TIMBRE_CLI_MANIFEST_H
#define TIMBRE_CLI_MANIFEST_H

#include <stddef.h>

struct manifest_row {
    char *speaker;      /* owned */
    char *utt;          /* owned */
    char *path;         /* owned; resolved against the manifest folder */
    int speaker_index;  /* 0.. in order of first appearance */
};

struct manifest {
    struct manifest_row *rows;
    size_t n_rows;
    size_t n_speakers;
};

/* Reads 'path' into *out (manifest_free). When 'path' is a folder, its
 * subfolders are the speakers and the .wav and .flac files in each are
 * their utterances, all in name order. ERR_IO or ERR_INVAL with the file
 * (and line) in 'msg'; ERR_NOMEM. */
int manifest_load(const char *path, struct manifest *out, char *msg,
                  size_t msg_len);

/* Frees what 'm' owns; NULL is fine. */
void manifest_free(struct manifest *m);

#endif
