/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Diagonal-covariance Gaussian mixture models: the universal background
 * model (UBM) of the speaker engine (Reynolds, Quatieri and Dunn 2000).
 *
 * A model has n_components Gaussians over dim-dimensional features with
 * weights, means and variances, all kept in double precision. Features
 * arrive as float matrices, row-major n_frames x dim.
 *
 * Training (voice_gmm_train) is deterministic and needs no randomness: it
 * starts from one Gaussian fitted to all frames and grows the mixture by
 * splitting the heaviest components, running a fixed number of EM
 * iterations after each split and at the end. A split moves the two
 * halves' means apart by +-0.5 standard deviations along the component's
 * dimension of largest variance. Variances never fall
 * below a floor, a fraction of the global variance of each dimension, so
 * that no Gaussian collapses onto a few frames.
 *
 * Frame log-likelihoods of all components are computed for blocks of
 * frames with one matrix product, using
 *   log N(x; m, v) = g + sum_d x_d m_d / v_d - 0.5 sum_d x_d^2 / v_d,
 * so the cost is a BLAS dgemm. Posteriors are pruned: a component whose
 * log-likelihood is more than 'prune_ll' below the best one of that frame
 * gets posterior 0 and costs no exp(). Every function that reads a model
 * is safe to call from several threads at once.
 */
#ifndef TIMBRE_VOICE_GMM_H
#define TIMBRE_VOICE_GMM_H

#include <stddef.h>

struct voice_gmm;

/* Pruning used by training: posteriors below e^-30 of the best component
 * are negligible for every statistic. */
#define VOICE_GMM_TRAIN_PRUNE_LL 30.0

struct voice_gmm_train_options {
    size_t n_components;        /* size of the final mixture, >= 1 */
    int split_iterations;       /* EM iterations after each split, >= 0 */
    int final_iterations;       /* EM iterations at full size, >= 0 */
    double var_floor_frac;      /* variance floor / global variance, > 0 */
};

/* Fills 'opt' with defaults for 'n_components' Gaussians: 4 iterations per
 * split, 8 at full size, variance floor 1% of the global variance. */
void voice_gmm_train_options_default(struct voice_gmm_train_options *opt,
                                     size_t n_components);

/* Trains a mixture on 'x' (borrowed, n_frames x dim floats). On success
 * returns 0, sets *out (free with voice_gmm_free) and, when 'll_out' is not
 * NULL, *ll_out to a malloc'd array (caller frees with free()) of the
 * average log-likelihood per frame measured in every EM iteration, in
 * order, and *n_ll to its length. Errors: ERR_INVAL (bad options, fewer
 * frames than components, a non-finite feature; the reason goes to
 * 'msg'), ERR_NOMEM. OUT parameters are untouched on failure. */
int voice_gmm_train(const float *x, size_t n_frames, size_t dim,
                    const struct voice_gmm_train_options *opt,
                    struct voice_gmm **out, double **ll_out, size_t *n_ll,
                    char *msg, size_t msg_len);

/* Makes a model from explicit parameters (copied): 'weights' (n_components,
 * positive, summing to 1 within 1e-6), 'means' and 'vars' (n_components x
 * dim, row-major, vars positive). Returns 0 and sets *out, ERR_INVAL for
 * a zero size or a non-finite, non-positive or unnormalised value, or
 * ERR_NOMEM; *out is untouched on failure. */
int voice_gmm_new(size_t n_components, size_t dim, const double *weights,
                  const double *means, const double *vars,
                  struct voice_gmm **out);

/* Returns a copy of 'g' in *out, or ERR_NOMEM (*out untouched). */
int voice_gmm_copy(const struct voice_gmm *g, struct voice_gmm **out);

/* Frees 'g'. NULL does nothing. */
void voice_gmm_free(struct voice_gmm *g);

/* The number of Gaussians, and the feature dimension. */
size_t voice_gmm_n_components(const struct voice_gmm *g);
size_t voice_gmm_dim(const struct voice_gmm *g);

/* Parameters, borrowed from 'g' and valid until it changes or is freed:
 * weights (n_components), means and vars (n_components x dim). */
const double *voice_gmm_weights(const struct voice_gmm *g);
const double *voice_gmm_means(const struct voice_gmm *g);
const double *voice_gmm_vars(const struct voice_gmm *g);

/* Runs 'iterations' EM iterations on 'x' (n_frames x dim), updating 'g' in
 * place. 'var_floor' (dim values, borrowed) bounds every variance from
 * below; NULL means no floor beyond 1e-10. When 'll_out' is not NULL,
 * ll_out[i] receives the average log-likelihood per frame of the model as
 * it was at the start of iteration i; the sequence never decreases beyond
 * rounding (EM with a floored variance is still a generalised EM step).
 * A component that collects (almost) no frames keeps its mean and
 * variance. Returns 0, ERR_INVAL (no frames, a non-finite feature; 'g' is
 * unchanged) or ERR_NOMEM (unchanged). */
int voice_gmm_em(struct voice_gmm *g, const float *x, size_t n_frames,
                 int iterations, const double *var_floor, double *ll_out);

/* Sets *avg_ll to the average log-likelihood per frame of 'x'. Returns 0,
 * ERR_INVAL (no frames, a non-finite feature) or ERR_NOMEM; *avg_ll is
 * untouched on failure. */
int voice_gmm_loglik(const struct voice_gmm *g, const float *x,
                     size_t n_frames, double *avg_ll);

/* Writes the posterior of every component for every frame into 'post'
 * (caller-owned, n_frames x n_components, rows sum to 1), pruning at
 * 'prune_ll' (> 0) as described above. Returns 0, ERR_INVAL or
 * ERR_NOMEM; 'post' may be partly written on failure. */
int voice_gmm_posteriors(const struct voice_gmm *g, const float *x,
                         size_t n_frames, double prune_ll, double *post);

/* Adds the zeroth- and first-order Baum-Welch statistics of 'x' to the
 * caller's accumulators: n_acc[c] += sum_t p(c|x_t) and f_acc[c][d] +=
 * sum_t p(c|x_t) x_t[d] ('n_acc': n_components, 'f_acc': n_components x
 * dim, both caller-owned and initialised by the caller, so the statistics
 * of several files can be pooled). Posteriors are pruned at 'prune_ll'
 * (> 0); the added n_acc values sum to n_frames. Returns 0, ERR_INVAL (no
 * frames, a non-finite feature) or ERR_NOMEM; the accumulators are
 * untouched on failure. */
int voice_gmm_stats_add(const struct voice_gmm *g, const float *x,
                        size_t n_frames, double prune_ll, double *n_acc,
                        double *f_acc);

#endif
