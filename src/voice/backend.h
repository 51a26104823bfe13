/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Back-end of the speaker engine: from i-vectors to voiceprints, and from
 * cosine similarities to calibrated 0-100 scores.
 *
 * A voiceprint is made from an i-vector w in four steps, all learnt from
 * labelled training i-vectors:
 *   1. centre: x = w - mean
 *   2. length-normalise: x = x / |x|  (Garcia-Romero and Espy-Wilson 2011)
 *   3. project: y = P x, where P = B A combines linear discriminant
 *      analysis A (out_dim x in_dim; generalised eigenvectors of the
 *      between- and within-speaker scatter) and within-class covariance
 *      normalisation B (Hatch, Kajarekar and Stolcke 2006; B'B is the
 *      inverse within-speaker covariance after LDA)
 *   4. length-normalise y, so that the cosine of two voiceprints is their
 *      dot product.
 *
 * Calibration maps a cosine s to 100 / (1 + exp(-(a s + b))), with a and
 * b fitted by logistic regression on target (same speaker) and non-target
 * trials, each class weighted to half the total: the score is then the
 * posterior probability of "same speaker", in percent, for even prior
 * odds. Nothing here allocates after training and every reader is
 * thread-safe.
 */
#ifndef TIMBRE_VOICE_BACKEND_H
#define TIMBRE_VOICE_BACKEND_H

#include <stddef.h>

struct voice_backend;

/* Largest i-vector dimension a back-end takes (matches the largest
 * i-vector rank). */
#define VOICE_BACKEND_MAX_DIM 1024

/* Fits LDA: writes into 'proj' (caller-owned, out_dim x dim, row-major)
 * the out_dim leading generalised eigenvectors of (between, within)
 * scatter of the rows of 'x' (n x dim) grouped by 'labels' (n ints, any
 * values), leading first, each scaled so that its within-class variance
 * is 1 and signed so that its largest entry is positive. The within-class
 * scatter gets a small ridge (1e-3 of its mean diagonal) so that fewer
 * samples than dimensions still work. Returns 0; ERR_INVAL when out_dim
 * is 0, exceeds dim or is not below the number of distinct labels (the
 * between-class scatter has rank labels - 1); ERR_NOMEM; ERR_INTERNAL if
 * LAPACK fails. 'proj' is untouched on failure. */
int voice_lda_fit(const double *x, const int *labels, size_t n, size_t dim,
                  size_t out_dim, double *proj);

/* Fits WCCN: writes into 'b' (caller-owned, dim x dim, row-major) the
 * upper-triangular B with B'B = W^-1, where W is the average over
 * labels of each label's covariance of the rows of 'x' (n x dim), plus a
 * ridge of 1e-3 of its mean diagonal. Returns 0, ERR_INVAL (n == 0,
 * dim == 0), ERR_NOMEM, or ERR_INTERNAL if LAPACK fails; 'b' untouched on
 * failure. */
int voice_wccn_fit(const double *x, const int *labels, size_t n, size_t dim,
                   double *b);

/* Trains the whole back-end on 'ivecs' (n x in_dim, borrowed) with
 * speaker 'labels'. Returns 0 and sets *out (free with
 * voice_backend_free); ERR_INVAL (explained in 'msg') for sizes out of
 * range (in_dim up to VOICE_BACKEND_MAX_DIM, out_dim up to in_dim), too
 * few speakers for out_dim or no speaker with two i-vectors; ERR_NOMEM;
 * ERR_INTERNAL. *out untouched on failure. */
int voice_backend_train(const double *ivecs, const int *labels, size_t n,
                        size_t in_dim, size_t out_dim,
                        struct voice_backend **out, char *msg,
                        size_t msg_len);

/* Makes a back-end from explicit parameters (copied): 'mean' (in_dim)
 * and the combined projection 'proj' (out_dim x in_dim). Returns 0 and
 * sets *out, ERR_INVAL for zero, inconsistent or too large sizes or
 * non-finite values, or ERR_NOMEM; *out untouched on failure. */
int voice_backend_new(size_t in_dim, size_t out_dim, const double *mean,
                      const double *proj, struct voice_backend **out);

/* Frees 'b'. NULL does nothing. */
void voice_backend_free(struct voice_backend *b);

/* The i-vector dimension taken, and the voiceprint dimension made. */
size_t voice_backend_in_dim(const struct voice_backend *b);
size_t voice_backend_out_dim(const struct voice_backend *b);

/* Parameters, borrowed from 'b': the mean (in_dim) and the combined
 * projection P = B A (out_dim x in_dim). */
const double *voice_backend_mean(const struct voice_backend *b);
const double *voice_backend_projection(const struct voice_backend *b);

/* Writes the voiceprint of i-vector 'ivec' (in_dim) into 'out' (out_dim
 * floats, caller-owned): unit length, or all zeros in the degenerate case
 * of an i-vector equal to the mean. Cannot fail. */
void voice_backend_apply(const struct voice_backend *b, const double *ivec,
                         float *out);

/* Returns the cosine of 'a' and 'b' (dim floats each), 0 when either is
 * zero. */
double voice_cosine(const float *a, const float *b, size_t dim);

struct voice_calibration {
    double a;   /* slope on the cosine */
    double b;   /* offset */
};

/* Fits a calibration to 'n' trial 'scores' (cosines) labelled by
 * 'is_target' (nonzero: same speaker) with prior-weighted logistic
 * regression (Newton's method with backtracking, a fixed iteration cap
 * and a tiny ridge on the slope so that separable trials still give a
 * finite answer). Returns 0 and fills *out, or ERR_INVAL when either
 * class is empty or a score is not finite (*out untouched). */
int voice_calibration_fit(const double *scores, const int *is_target,
                          size_t n, struct voice_calibration *out);

/* Maps a cosine to the 0-100 scale (rounded to the nearest integer). */
int voice_calibration_apply(const struct voice_calibration *cal,
                            double cosine);

/* Chooses an acceptance threshold on the 0-100 scale: the smallest
 * integer t in [50, 99] such that at most 'max_far' (a fraction) of the
 * non-target trials score t or more after calibration; 99 when none is
 * low enough. 50 is the floor because below it the calibrated odds
 * favour "different speaker". Returns the threshold, or ERR_INVAL when
 * there are no non-target trials. */
int voice_calibration_threshold(const struct voice_calibration *cal,
                                const double *scores, const int *is_target,
                                size_t n, double max_far);

/* Sets *eer to the equal error rate (a fraction) of the trials: the point
 * where the miss rate of targets meets the false-alarm rate of
 * non-targets as the threshold sweeps the sorted scores. Returns 0,
 * ERR_INVAL (a class is empty) or ERR_NOMEM; *eer untouched on failure. */
int voice_eer(const double *scores, const int *is_target, size_t n,
              double *eer);

#endif
