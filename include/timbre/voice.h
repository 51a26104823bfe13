/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Timbre's voice biometrics engine: the public API.
 *
 * An engine is a loaded speaker model. It turns recordings into
 * voiceprints and compares two voiceprints into a score from 0 to 100.
 *
 *   audio file(s) ──decode, resample to 8 kHz──► samples
 *     ──MFCC + deltas, voice activity detection, CMVN──► speech features
 *     ──UBM statistics, i-vector, LDA/WCCN projection──► voiceprint
 *   voiceprint × voiceprint ──cosine, calibrated──► score 0..100
 *
 * Too little net speech (speech after silence is removed) is its own
 * error, ERR_NOSPEECH, never a low score. Voiceprints carry the version of
 * the model that made them; voiceprints of different versions cannot be
 * compared (ERR_MISMATCH). The engine knows nothing of HTTP, JSON or
 * storage, never logs, and is safe to share between threads once opened.
 *
 * Errors are the negative ERR_* codes of util/err.h; every failing call
 * that takes 'msg' explains itself there, naming the file concerned.
 */
#ifndef TIMBRE_VOICE_H
#define TIMBRE_VOICE_H

#include <stddef.h>

/* At most this many files make one enrollment. */
#define VOICE_MAX_ENROLL_FILES 10

/* Default net speech, in seconds, for enrollment and for one test. */
#define VOICE_DEFAULT_ENROLL_SPEECH_S 30.0
#define VOICE_DEFAULT_TEST_SPEECH_S 10.0

struct voice_engine;

/* One recording: a path and the channel to use (0 or 1). */
struct voice_source {
    const char *path;
    int channel;
};

struct voice_print {
    char version[48];           /* model version that made it */
    size_t dim;
    float *values;              /* owned; unit length */
    double net_speech_s;        /* speech it was made from */
    double audio_s;             /* audio decoded to find that speech */
};

/*
 * Loads the model at 'path' (NULL for the default model next to the
 * binary, <dir of the executable>/voice/default.model). Returns 0 and a
 * new engine in *out (voice_engine_free); ERR_IO or ERR_INVAL with the
 * reason in 'msg'; ERR_NOMEM.
 */
int voice_engine_open(const char *path, struct voice_engine **out,
                      char *msg, size_t msg_len);

/* Frees the engine; NULL is fine. */
void voice_engine_free(struct voice_engine *e);

/* The model version, e.g. "timbre-ivector-1/0123456789abcdef"; borrowed. */
const char *voice_engine_version(const struct voice_engine *e);

/* The default acceptance threshold: accept when score >= it. */
int voice_engine_threshold(const struct voice_engine *e);

/*
 * Makes one voiceprint from the pooled speech of 'n' recordings (1 to
 * VOICE_MAX_ENROLL_FILES). Fails with ERR_NOSPEECH when they hold less
 * than 'min_speech_s' seconds of net speech together (*out then still
 * gets net_speech_s, with values NULL, so a caller can report how much
 * there was); otherwise ERR_IO, ERR_INVAL, ERR_TOOBIG for a file that
 * cannot be used, naming it in 'msg'. On success *out owns a new vector;
 * release it with voice_print_clear().
 */
int voice_engine_embed(const struct voice_engine *e,
                       const struct voice_source *sources, size_t n,
                       double min_speech_s, struct voice_print *out,
                       char *msg, size_t msg_len);

/* Scores two voiceprints 0..100 into *score, and gives their raw cosine
 * in *cosine unless it is NULL. ERR_MISMATCH when they come from
 * different model versions or dimensions. */
int voice_engine_score(const struct voice_engine *e,
                       const struct voice_print *a,
                       const struct voice_print *b, int *score,
                       double *cosine);

/* Frees the vector inside 'p' and zeroes it; NULL is fine. */
void voice_print_clear(struct voice_print *p);

#endif
