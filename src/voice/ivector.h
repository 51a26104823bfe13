/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Total variability modelling: i-vector extractor training and extraction
 * (Dehak, Kenny, Dehak, Dumouchel and Ouellet 2011; EM after Kenny 2005).
 *
 * An utterance's GMM mean supervector is modelled as m + T w with w ~
 * N(0, I) of dimension 'rank'. Given the utterance's zeroth-order
 * statistics N_c and first-order statistics F_c over the UBM, the i-vector
 * is the posterior mean
 *   w = (I + sum_c N_c T_c' S_c^-1 T_c)^-1 T' S^-1 F~,
 * with F~_c = F_c - N_c m_c centred on the UBM means and S_c the UBM
 * variances. Everything here works in the space whitened by the UBM
 * standard deviations: the stored matrix is S^-1/2 T and the centred
 * statistics are divided by the standard deviations ("normalised
 * statistics"), so S drops out of every formula.
 *
 * The matrix T_c' T_c (rank x rank, upper triangle packed) of every
 * component is cached in the model: the precision of an utterance is then
 * one matrix-vector product of that cache with N, and extracting costs two
 * matrix-vector products plus one Cholesky factorisation.
 *
 * Training runs a fixed number of EM iterations from a seeded random T,
 * processing utterances in fixed-size blocks so that every sum is a dgemm
 * in a fixed order: the result is the same on every run. An optional
 * minimum-divergence step after each M-step rescales T so that the
 * i-vectors of the training set keep unit second moment.
 */
#ifndef TIMBRE_VOICE_IVECTOR_H
#define TIMBRE_VOICE_IVECTOR_H

#include <stddef.h>
#include <stdint.h>

#include "voice/gmm.h"

struct voice_tv;

/* Largest supported rank: the cache grows with rank^2 per component. */
#define VOICE_TV_MAX_RANK 1024

struct voice_tv_options {
    size_t rank;            /* i-vector dimension, 1..VOICE_TV_MAX_RANK */
    int iterations;         /* EM iterations, >= 0 */
    int min_divergence;     /* nonzero: rescale T after each M-step */
    uint64_t seed;          /* seeds the random initial T */
};

/* Fills 'opt' with defaults: 'rank', 8 iterations, minimum divergence on,
 * seed 1. */
void voice_tv_options_default(struct voice_tv_options *opt, size_t rank);

/* Turns raw Baum-Welch statistics 'n' (n_components) and 'f' (n_components
 * x dim), as made by voice_gmm_stats_add over 'ubm', into normalised
 * statistics: out[c][d] = (f[c][d] - n[c] mean[c][d]) / sd[c][d]. 'out' is
 * caller-owned (n_components x dim). Cannot fail. */
void voice_tv_normalise_stats(const struct voice_gmm *ubm, const double *n,
                              const double *f, double *out);

/* Trains T on the statistics of 'n_utts' utterances: 'n_stats' (n_utts x
 * n_components) and 'f_norm' (n_utts x n_components*dim, normalised as by
 * voice_tv_normalise_stats, stored as float to halve the memory), both
 * borrowed. The model keeps a copy of the UBM means and deviations it
 * needs. When 'll_out' is not NULL, ll_out[i] (opt->iterations values,
 * caller-owned) receives the average over utterances of the marginal
 * log-likelihood of the statistics, up to a constant that does not
 * depend on T, -0.5 log|L_u| + 0.5 w_u' L_u w_u, under T as it was at the
 * start of iteration i; EM never lets it fall. Returns 0 and sets *out
 * (free with voice_tv_free); ERR_INVAL for bad options or no utterances,
 * ERR_NOMEM, or ERR_INTERNAL if a matrix that must be positive definite
 * is not (degenerate statistics); the reason goes to 'msg'. *out is
 * untouched on failure. */
int voice_tv_train(const struct voice_gmm *ubm, const double *n_stats,
                   const float *f_norm, size_t n_utts,
                   const struct voice_tv_options *opt,
                   struct voice_tv **out, double *ll_out, char *msg,
                   size_t msg_len);

/* Makes a model from a whitened matrix 't' ((n_components*dim) x rank,
 * row-major, copied) for 'ubm'. Returns 0 and sets *out, ERR_INVAL for a
 * bad rank or a non-finite value, or ERR_NOMEM; *out untouched on
 * failure. */
int voice_tv_new(const struct voice_gmm *ubm, size_t rank, const double *t,
                 struct voice_tv **out);

/* Frees 'tv'. NULL does nothing. */
void voice_tv_free(struct voice_tv *tv);

/* The i-vector dimension. */
size_t voice_tv_rank(const struct voice_tv *tv);

/* The whitened matrix S^-1/2 T, (n_components*dim) x rank, row-major;
 * borrowed from 'tv'. */
const double *voice_tv_matrix(const struct voice_tv *tv);

/* Writes the i-vector (rank doubles, caller-owned) of the raw statistics
 * 'n' and 'f' (as accumulated by voice_gmm_stats_add with the UBM of
 * 'tv'; several files' statistics may be pooled). Returns 0, ERR_NOMEM,
 * or ERR_INTERNAL if the precision matrix is not positive definite (it
 * always is unless the model holds non-finite values); 'w' is untouched
 * on failure. Thread-safe for a shared 'tv'. */
int voice_tv_extract(const struct voice_tv *tv, const double *n,
                     const double *f, double *w);

/* Writes the i-vectors (n_utts x rank, caller-owned) of utterances given
 * by statistics laid out as for voice_tv_train ('f_norm' normalised).
 * Works in blocks with matrix products, so it is much faster than one
 * voice_tv_extract per utterance. Returns 0, ERR_NOMEM or ERR_INTERNAL;
 * 'ivecs' may be partly written on failure. */
int voice_tv_extract_batch(const struct voice_tv *tv, const double *n_stats,
                           const float *f_norm, size_t n_utts,
                           double *ivecs);

#endif
