/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The speaker model as one object: training, voiceprints, scores, and its
 * file format.
 *
 * A struct voice_model holds a UBM (voice/gmm.h), an i-vector extractor
 * (voice/ivector.h), a back-end projection and a score calibration
 * (voice/backend.h), an acceptance threshold and a version string. From
 * speech features (float, row-major n_frames x dim) it makes voiceprints:
 * Baum-Welch statistics over the UBM, the i-vector, then the back-end
 * projection, L2-normalised. Two voiceprints score
 * 100 / (1 + exp(-(a cos + b))), rounded: the probability in percent that
 * they come from the same speaker, for even prior odds (see backend.h).
 *
 * Enrollment from several files pools the files' Baum-Welch statistics
 * and extracts one i-vector. Pooling weighs each file by its amount of
 * speech and gives the i-vector posterior of all the speech at once;
 * averaging per-file i-vectors would give short files, whose i-vectors
 * the prior shrinks towards zero, as much say as long ones.
 *
 * Acceptance threshold. Training holds out speakers for calibration: the
 * speakers are dealt into 'calibration_folds' folds; for each fold a
 * back-end trained on the other folds scores the fold's trials, so the
 * calibration and the threshold see speakers the back-end has not
 * learnt, as in service. A trial imitates service too: an enrollment
 * pooling up to five utterances of one speaker (the first half of them)
 * against a test pooling two utterances of the rest, of the same or
 * another speaker of the fold. The threshold is the smallest
 * integer score in [50, 99] that at most 'max_false_accept' (default 1%)
 * of those held-out different-speaker pairs reach. Its meaning: a
 * caller is accepted when the calibrated odds favour "same speaker" and
 * impostors from the training population would get through at most 1% of
 * the time. The final back-end is then trained on all speakers.
 *
 * Determinism. Training takes no randomness but the seeded generator of
 * voice/rng.h and sums in a fixed order; OpenBLAS is switched to one
 * thread the first time a model is trained or loaded (equivalently, set
 * OPENBLAS_NUM_THREADS=1). The same data, options and seed then give a
 * bit-identical model on the same machine and library build. OpenBLAS
 * picks kernels by CPU, so another CPU family may round differently; set
 * OPENBLAS_CORETYPE to pin the kernel if that matters.
 *
 * File format, version 1, every number little-endian:
 *   magic "TIMBREVM", u32 format version (1),
 *   u32 dim, n_components, rank, lda_dim, threshold,
 *   f64 prune_ll, calibration a, calibration b,
 *   f64 weights[C], means[C][dim], vars[C][dim], T[C*dim][rank]
 *       (whitened), back-end mean[rank], projection[lda_dim][rank],
 *   u64 checksum: FNV-1a 64 of every byte before it.
 * The version string is "timbre-ivector-1/" and 16 hex digits of the
 * FNV-1a 64 hash of the bytes from the dims to the end of the
 * parameters, so it names exactly the numbers that make voiceprints and
 * scores; a voiceprint is only comparable with voiceprints of the same
 * version.
 * FNV-1a detects accidents (truncation, flipped bytes), not tampering:
 * model files are trusted input.
 */
#ifndef TIMBRE_VOICE_MODELFILE_H
#define TIMBRE_VOICE_MODELFILE_H

#include <stddef.h>
#include <stdint.h>

#include "voice/backend.h"
#include "voice/gmm.h"
#include "voice/ivector.h"

#define VOICE_MODEL_FORMAT_VERSION 1
#define VOICE_MODEL_VERSION_PREFIX "timbre-ivector-1/"
#define VOICE_MODEL_VERSION_MAX 48  /* bytes, with the terminating NUL */

/* Largest model file accepted, bytes. */
#define VOICE_MODEL_MAX_FILE_BYTES (1024UL * 1024 * 1024)

struct voice_model;

/* One training utterance: speech features (borrowed) and a speaker label
 * (any int; equal labels mean the same speaker). */
struct voice_train_utt {
    const float *feats;     /* n_frames x dim, row-major */
    size_t n_frames;
    int speaker;
};

struct voice_train_options {
    size_t dim;                 /* feature dimension (60 in service) */
    size_t n_components;        /* UBM Gaussians */
    size_t tv_rank;             /* i-vector dimension */
    size_t lda_dim;             /* voiceprint dimension */
    int ubm_split_iterations;   /* EM iterations after each UBM split */
    int ubm_final_iterations;   /* EM iterations at full UBM size */
    size_t ubm_max_frames;      /* UBM trained on at most this many frames,
                                   taken evenly from all utterances */
    double var_floor_frac;      /* UBM variance floor / global variance */
    int tv_iterations;          /* EM iterations for T */
    int tv_min_divergence;      /* nonzero: minimum-divergence steps */
    double prune_ll;            /* posterior pruning (see gmm.h) */
    int calibration_folds;      /* speaker folds for held-out trials, >= 2 */
    size_t max_trials;          /* cap on held-out trials of each kind,
                                   same and different speaker (taken
                                   evenly) */
    double max_false_accept;    /* threshold rule, a fraction */
    uint64_t seed;
};

/* What training saw; zeros for a loaded model. */
struct voice_train_report {
    size_t n_utts;
    size_t n_speakers;
    size_t n_ubm_frames;
    double ubm_avg_ll;          /* last EM iteration, per frame */
    size_t n_target_trials;     /* held-out calibration trials */
    size_t n_nontarget_trials;
    double heldout_eer;         /* equal error rate of held-out cosines */
    double seconds_ubm;         /* wall-clock time of each stage */
    double seconds_stats;
    double seconds_tv;
    double seconds_backend;
};

/* Fills 'opt' with the service defaults: dim 60, 128 components, rank
 * 100, LDA 50, UBM 4 + 8 iterations on at most 300000 frames, variance
 * floor 1%, 6 T iterations with minimum divergence, pruning 10 (posteriors
 * below e^-10 of the best dropped), 4 folds, at most 500000 trials of
 * each kind, 1% false accepts, seed 1. On one x86 core these train 2,000
 * utterances of 500 frames in about 15 s; 256 components with rank 200
 * take about 2.5 times as long. */
void voice_train_options_default(struct voice_train_options *opt);

/* Trains a model on 'n' utterances (borrowed) of at least lda_dim + 1
 * speakers, enough that every calibration fold leaves more than lda_dim
 * speakers to train on, with some speakers of two or more utterances
 * (three or more give the calibration its best trials). Returns 0 and
 * sets *out (free with voice_model_free); ERR_INVAL for bad options or
 * data (empty or non-finite features, too few frames or speakers);
 * ERR_NOMEM; ERR_INTERNAL when the data are degenerate (a matrix that
 * must be positive definite is not). Every failure is explained in 'msg'.
 * *out is untouched on failure. Single-threaded; memory is about
 * 4 * n * n_components * dim bytes for the statistics. */
int voice_model_train(const struct voice_train_utt *utts, size_t n,
                      const struct voice_train_options *opt,
                      struct voice_model **out, char *msg, size_t msg_len);

/* Frees 'm'. NULL does nothing. */
void voice_model_free(struct voice_model *m);

/* Writes the voiceprint of one utterance's features 'feats' (n_frames x
 * feature dim, borrowed) into 'voiceprint' (voice_model_voiceprint_dim
 * floats, caller-owned, unit length). Returns 0, ERR_INVAL (no frames, a
 * non-finite value), ERR_NOMEM or ERR_INTERNAL; 'voiceprint' is untouched
 * on failure. Thread-safe for a shared model. */
int voice_model_embed(const struct voice_model *m, const float *feats,
                      size_t n_frames, float *voiceprint);

/* Like voice_model_embed for the pooled speech of 'n_files' files
 * ('feats[i]' has 'n_frames[i]' frames; all borrowed). A file without
 * frames contributes nothing, but the files together need at least one
 * frame. */
int voice_model_embed_files(const struct voice_model *m,
                            const float *const *feats,
                            const size_t *n_frames, size_t n_files,
                            float *voiceprint);

/* Returns the 0-100 score of voiceprints 'a' and 'b' (voiceprint-dim
 * floats each, borrowed) and, when 'cosine' is not NULL, their cosine.
 * Cannot fail. */
int voice_model_score(const struct voice_model *m, const float *a,
                      const float *b, double *cosine);

/* The default acceptance threshold on the 0-100 scale (see above): accept
 * when score >= threshold. */
int voice_model_threshold(const struct voice_model *m);

/* The version string, e.g. "timbre-ivector-1/0123456789abcdef"; borrowed
 * from 'm'. */
const char *voice_model_version(const struct voice_model *m);

/* The feature dimension the model takes, and the voiceprint dimension it
 * makes. */
size_t voice_model_feature_dim(const struct voice_model *m);
size_t voice_model_voiceprint_dim(const struct voice_model *m);

/* The calibration, and the parts of the model, borrowed from 'm'. */
struct voice_calibration voice_model_calibration(const struct voice_model *m);
const struct voice_gmm *voice_model_ubm(const struct voice_model *m);
const struct voice_tv *voice_model_tv(const struct voice_model *m);
const struct voice_backend *voice_model_backend(const struct voice_model *m);

/* Copies what training saw into *out (zeros for a loaded model). */
void voice_model_train_report(const struct voice_model *m,
                              struct voice_train_report *out);

/* Serialises 'm' into a malloc'd buffer: *buf (caller frees with free())
 * and *len. Returns 0 or ERR_NOMEM (OUT parameters untouched). */
int voice_model_to_bytes(const struct voice_model *m, uint8_t **buf,
                         size_t *len);

/* Rebuilds a model from 'len' bytes at 'buf' (borrowed). Returns 0 and
 * sets *out; ERR_INVAL with the reason in 'msg' for a wrong magic, an
 * unsupported format version, sizes out of range, a length that does not
 * match the sizes (truncated or trailing bytes), a checksum mismatch or
 * invalid parameters; ERR_NOMEM. *out untouched on failure. */
int voice_model_from_bytes(const uint8_t *buf, size_t len,
                           struct voice_model **out, char *msg,
                           size_t msg_len);

/* Writes 'm' to 'path' through a temporary file "<path>.tmp" renamed into
 * place, so readers never see half a file. Returns 0, ERR_IO (message
 * names the path and the system error) or ERR_NOMEM. */
int voice_model_save(const struct voice_model *m, const char *path,
                     char *msg, size_t msg_len);

/* Loads a model from 'path'. Returns 0 and sets *out; ERR_IO when the file
 * cannot be opened or read; ERR_INVAL when it is not a valid model file
 * (as voice_model_from_bytes, or larger than VOICE_MODEL_MAX_FILE_BYTES);
 * ERR_NOMEM. 'msg' names the path and the problem. *out untouched on
 * failure. */
int voice_model_load(const char *path, struct voice_model **out, char *msg,
                     size_t msg_len);

#endif
