/* SPDX-License-Identifier: Apache-2.0 */
/*
 * I-vector extractor: EM training of the whitened T and posterior-mean
 * extraction.
 *
 * Symmetric rank x rank matrices are packed as the upper triangle, row
 * by row (entry (i, j), i <= j, at i*(2*rank - i + 1)/2 + j - i), so that
 * per-component caches and per-utterance second moments are rows of
 * plain matrices and every sum over components or utterances is one
 * dgemm. LAPACK sees full symmetric matrices in column-major order, which
 * for a symmetric matrix is the same memory as row-major.
 *
 * EM for T over utterances u (statistics already normalised):
 *   E-step   L_u = I + sum_c N_uc T_c'T_c,  w_u = L_u^-1 T' F_u,
 *            E[w_u w_u'] = L_u^-1 + w_u w_u'
 *   M-step   T_c = (sum_u F_uc w_u') (sum_u N_uc E[w_u w_u'])^-1
 *   min-div  K = mean_u E[w_u w_u'] = L L',  T <- T L
 */
#include "voice/ivector.h"

#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "voice/rng.h"

/* Utterances per E-step block: enough rows for dgemm to run at speed,
 * little enough memory (the block's packed moments are B x rank^2 / 2). */
#define BLOCK_UTTS 64

/* Initial T entries are N(0, INIT_SCALE^2 / rank): prior supervector
 * offsets of about INIT_SCALE standard deviations, the order of the real
 * between-utterance spread, so EM starts from a sensible scale. */
#define INIT_SCALE 0.5

struct voice_tv {
    size_t n_comp;
    size_t dim;
    size_t rank;
    size_t n_packed;    /* rank * (rank + 1) / 2 */
    double *means;      /* n_comp x dim, UBM means */
    double *inv_sd;     /* n_comp x dim, 1 / UBM standard deviations */
    double *t;          /* (n_comp * dim) x rank, whitened */
    double *tt;         /* n_comp x n_packed: T_c' T_c packed */
};

/* Accumulators and scratch of one training iteration. */
struct em_work {
    double *acc_a;      /* n_comp x n_packed: sum_u N_uc E[ww'] */
    double *acc_c;      /* (n_comp * dim) x rank: sum_u F_u w_u' */
    double *sum_ww;     /* n_packed: sum_u E[ww'] */
    double *f_blk;      /* BLOCK_UTTS x (n_comp * dim) */
    double *lp_blk;     /* BLOCK_UTTS x n_packed: packed precisions */
    double *lin_blk;    /* BLOCK_UTTS x rank: T' F_u, then w_u */
    double *ww_blk;     /* BLOCK_UTTS x n_packed: packed E[ww'] */
    double *full;       /* rank x rank, and rank spare */
    double ll;          /* sum of utterances' marginal log-likelihoods */
};


static size_t
packed_index(size_t rank, size_t i, size_t j)
{
    return i * (2 * rank - i + 1) / 2 + (j - i);
}


/* Expands packed 'p' into the full symmetric 'm', adding 'diag' to the
 * diagonal. */
static void
unpack(size_t rank, const double *p, double diag, double *m)
{
    size_t i, j, k = 0;

    for (i = 0; i < rank; i++) {
        m[i * rank + i] = p[k++] + diag;
        for (j = i + 1; j < rank; j++) {
            m[i * rank + j] = p[k];
            m[j * rank + i] = p[k];
            k++;
        }
    }
}


/* Packs the upper triangle of the column-major 'm' (LAPACK 'U' output)
 * plus v v' into 'p'. */
static void
pack_plus_outer(size_t rank, const double *m, const double *v, double *p)
{
    size_t i, j, k = 0;

    for (i = 0; i < rank; i++) {
        for (j = i; j < rank; j++)
            p[k++] = m[j * rank + i] + v[i] * v[j];
    }
}


/* Recomputes the cache T_c' T_c of every component. Returns 0 or
 * ERR_NOMEM (the cache is then stale and the caller must not use it). */
static int
refresh_cache(struct voice_tv *tv)
{
    size_t c, i, r = tv->rank, dim = tv->dim;
    double *tmp = malloc(r * r * sizeof(double));

    if (tmp == NULL)
        return ERR_NOMEM;
    for (c = 0; c < tv->n_comp; c++) {
        const double *tc = tv->t + c * dim * r;
        double *row = tv->tt + c * tv->n_packed;

        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, (int)r, (int)dim,
                    1.0, tc, (int)r, 0.0, tmp, (int)r);
        for (i = 0; i < r; i++) {
            memcpy(row + packed_index(r, i, i), tmp + i * r + i,
                   (r - i) * sizeof(double));
        }
    }
    free(tmp);
    return 0;
}


void
voice_tv_free(struct voice_tv *tv)
{
    if (tv == NULL)
        return;
    free(tv->means);
    free(tv->inv_sd);
    free(tv->t);
    free(tv->tt);
    free(tv);
}


/* Allocates a model for 'ubm' and 'rank' with T zeroed and no cache yet. */
static int
tv_alloc(const struct voice_gmm *ubm, size_t rank, struct voice_tv **out)
{
    struct voice_tv *tv;
    size_t nc = voice_gmm_n_components(ubm), dim = voice_gmm_dim(ubm);
    size_t sv = nc * dim, i;
    const double *vars = voice_gmm_vars(ubm);

    if (rank == 0 || rank > VOICE_TV_MAX_RANK)
        return ERR_INVAL;
    if (sv > SIZE_MAX / sizeof(double) / rank
        || nc > SIZE_MAX / sizeof(double) / (rank * (rank + 1) / 2))
        return ERR_INVAL;
    tv = calloc(1, sizeof(*tv));
    if (tv == NULL)
        return ERR_NOMEM;
    tv->n_comp = nc;
    tv->dim = dim;
    tv->rank = rank;
    tv->n_packed = rank * (rank + 1) / 2;
    tv->means = malloc(sv * sizeof(double));
    tv->inv_sd = malloc(sv * sizeof(double));
    tv->t = calloc(sv * rank, sizeof(double));
    tv->tt = calloc(nc * tv->n_packed, sizeof(double));
    if (tv->means == NULL || tv->inv_sd == NULL || tv->t == NULL
        || tv->tt == NULL) {
        voice_tv_free(tv);
        return ERR_NOMEM;
    }
    memcpy(tv->means, voice_gmm_means(ubm), sv * sizeof(double));
    for (i = 0; i < sv; i++)
        tv->inv_sd[i] = 1.0 / sqrt(vars[i]);
    *out = tv;
    return 0;
}


int
voice_tv_new(const struct voice_gmm *ubm, size_t rank, const double *t,
             struct voice_tv **out)
{
    struct voice_tv *tv = NULL;
    size_t i, n;
    int rc;

    if (t == NULL)
        return ERR_INVAL;
    rc = tv_alloc(ubm, rank, &tv);
    if (rc != 0)
        return rc;
    n = tv->n_comp * tv->dim * rank;
    for (i = 0; i < n; i++) {
        if (!isfinite(t[i])) {
            voice_tv_free(tv);
            return ERR_INVAL;
        }
    }
    memcpy(tv->t, t, n * sizeof(double));
    rc = refresh_cache(tv);
    if (rc != 0) {
        voice_tv_free(tv);
        return rc;
    }
    *out = tv;
    return 0;
}


size_t
voice_tv_rank(const struct voice_tv *tv)
{
    return tv->rank;
}


const double *
voice_tv_matrix(const struct voice_tv *tv)
{
    return tv->t;
}


void
voice_tv_options_default(struct voice_tv_options *opt, size_t rank)
{
    memset(opt, 0, sizeof(*opt));
    opt->rank = rank;
    opt->iterations = 8;
    opt->min_divergence = 1;
    opt->seed = 1;
}


void
voice_tv_normalise_stats(const struct voice_gmm *ubm, const double *n,
                         const double *f, double *out)
{
    size_t nc = voice_gmm_n_components(ubm), dim = voice_gmm_dim(ubm);
    const double *m = voice_gmm_means(ubm), *v = voice_gmm_vars(ubm);
    size_t c, d;

    for (c = 0; c < nc; c++) {
        for (d = 0; d < dim; d++) {
            size_t k = c * dim + d;

            out[k] = (f[k] - n[c] * m[k]) / sqrt(v[k]);
        }
    }
}


/* Posterior of one utterance: 'full' receives the precision I + 'lp'
 * (packed), 'lin' holds T'F on entry and the posterior mean on return,
 * and 'ww' (packed) receives E[ww'] unless NULL. When 'll' is not NULL it
 * receives the utterance's marginal log-likelihood up to a constant,
 * -0.5 log|L| + 0.5 b'L^-1 b with b = T'F. Returns 0 or ERR_INTERNAL when
 * the precision is not positive definite. */
static int
posterior(size_t rank, const double *lp, double *lin, double *full,
          double *ww, double *ll)
{
    int n = (int)rank;
    double *b = full + rank * rank;    /* caller leaves rank spare */
    double logdet = 0.0, bw = 0.0;
    size_t i;

    unpack(rank, lp, 1.0, full);
    if (ll != NULL)
        memcpy(b, lin, rank * sizeof(double));
    if (LAPACKE_dpotrf(LAPACK_COL_MAJOR, 'U', n, full, n) != 0)
        return ERR_INTERNAL;
    if (LAPACKE_dpotrs(LAPACK_COL_MAJOR, 'U', n, 1, full, n, lin, n) != 0)
        return ERR_INTERNAL;
    if (ll != NULL) {
        for (i = 0; i < rank; i++) {
            logdet += 2.0 * log(full[i * rank + i]);
            bw += b[i] * lin[i];
        }
        *ll = -0.5 * logdet + 0.5 * bw;
    }
    if (ww == NULL)
        return 0;
    if (LAPACKE_dpotri(LAPACK_COL_MAJOR, 'U', n, full, n) != 0)
        return ERR_INTERNAL;
    pack_plus_outer(rank, full, lin, ww);
    return 0;
}


int
voice_tv_extract(const struct voice_tv *tv, const double *n,
                 const double *f, double *w)
{
    size_t sv = tv->n_comp * tv->dim, r = tv->rank, i;
    double *buf, *fn, *lp, *lin, *full;
    int rc;

    buf = malloc((sv + tv->n_packed + 2 * r + r * r) * sizeof(double));
    if (buf == NULL)
        return ERR_NOMEM;
    fn = buf;
    lp = fn + sv;
    lin = lp + tv->n_packed;
    full = lin + r;

    for (i = 0; i < sv; i++)
        fn[i] = (f[i] - n[i / tv->dim] * tv->means[i]) * tv->inv_sd[i];
    cblas_dgemv(CblasRowMajor, CblasTrans, (int)tv->n_comp,
                (int)tv->n_packed, 1.0, tv->tt, (int)tv->n_packed, n, 1,
                0.0, lp, 1);
    cblas_dgemv(CblasRowMajor, CblasTrans, (int)sv, (int)r, 1.0, tv->t,
                (int)r, fn, 1, 0.0, lin, 1);
    rc = posterior(r, lp, lin, full, NULL, NULL);
    if (rc == 0)
        memcpy(w, lin, r * sizeof(double));
    free(buf);
    return rc;
}


static void
em_work_free(struct em_work *w)
{
    free(w->acc_a);
    free(w->acc_c);
    free(w->sum_ww);
    free(w->f_blk);
    free(w->lp_blk);
    free(w->lin_blk);
    free(w->ww_blk);
    free(w->full);
}


static int
em_work_init(struct em_work *w, const struct voice_tv *tv)
{
    size_t sv = tv->n_comp * tv->dim, np = tv->n_packed, r = tv->rank;

    memset(w, 0, sizeof(*w));
    w->acc_a = malloc(tv->n_comp * np * sizeof(double));
    w->acc_c = malloc(sv * r * sizeof(double));
    w->sum_ww = malloc(np * sizeof(double));
    w->f_blk = malloc(BLOCK_UTTS * sv * sizeof(double));
    w->lp_blk = malloc(BLOCK_UTTS * np * sizeof(double));
    w->lin_blk = malloc(BLOCK_UTTS * r * sizeof(double));
    w->ww_blk = malloc(BLOCK_UTTS * np * sizeof(double));
    w->full = malloc((r * r + r) * sizeof(double));
    if (w->acc_a == NULL || w->acc_c == NULL || w->sum_ww == NULL
        || w->f_blk == NULL || w->lp_blk == NULL || w->lin_blk == NULL
        || w->ww_blk == NULL || w->full == NULL) {
        em_work_free(w);
        return ERR_NOMEM;
    }
    return 0;
}


/* Accumulates the E-step statistics of utterances [u0, u0 + nb). */
static int
e_step_block(const struct voice_tv *tv, const double *n_stats,
             const float *f_norm, size_t u0, size_t nb, struct em_work *w)
{
    size_t sv = tv->n_comp * tv->dim, np = tv->n_packed, r = tv->rank;
    size_t nc = tv->n_comp, u, k;
    const double *n_blk = n_stats + u0 * nc;
    int rc;

    for (k = 0; k < nb * sv; k++)
        w->f_blk[k] = f_norm[u0 * sv + k];
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nb,
                (int)np, (int)nc, 1.0, n_blk, (int)nc, tv->tt, (int)np,
                0.0, w->lp_blk, (int)np);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nb, (int)r,
                (int)sv, 1.0, w->f_blk, (int)sv, tv->t, (int)r, 0.0,
                w->lin_blk, (int)r);

    for (u = 0; u < nb; u++) {
        double *ww = w->ww_blk + u * np;

        double ll;

        rc = posterior(r, w->lp_blk + u * np, w->lin_blk + u * r, w->full,
                       ww, &ll);
        if (rc != 0)
            return rc;
        w->ll += ll;
        for (k = 0; k < np; k++)
            w->sum_ww[k] += ww[k];
    }

    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)nc, (int)np,
                (int)nb, 1.0, n_blk, (int)nc, w->ww_blk, (int)np, 1.0,
                w->acc_a, (int)np);
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)sv, (int)r,
                (int)nb, 1.0, w->f_blk, (int)sv, w->lin_blk, (int)r, 1.0,
                w->acc_c, (int)r);
    return 0;
}


int
voice_tv_extract_batch(const struct voice_tv *tv, const double *n_stats,
                       const float *f_norm, size_t n_utts, double *ivecs)
{
    size_t sv = tv->n_comp * tv->dim, np = tv->n_packed, r = tv->rank;
    size_t nc = tv->n_comp, u0, u, k;
    double *f_blk, *lp_blk, *full;
    int rc = 0;

    f_blk = malloc(BLOCK_UTTS * sv * sizeof(double));
    lp_blk = malloc(BLOCK_UTTS * np * sizeof(double));
    full = malloc((r * r + r) * sizeof(double));
    if (f_blk == NULL || lp_blk == NULL || full == NULL) {
        rc = ERR_NOMEM;
        goto out;
    }
    for (u0 = 0; u0 < n_utts && rc == 0; u0 += BLOCK_UTTS) {
        size_t nb = n_utts - u0 < BLOCK_UTTS ? n_utts - u0 : BLOCK_UTTS;

        for (k = 0; k < nb * sv; k++)
            f_blk[k] = f_norm[u0 * sv + k];
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nb,
                    (int)np, (int)nc, 1.0, n_stats + u0 * nc, (int)nc,
                    tv->tt, (int)np, 0.0, lp_blk, (int)np);
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nb,
                    (int)r, (int)sv, 1.0, f_blk, (int)sv, tv->t, (int)r,
                    0.0, ivecs + u0 * r, (int)r);
        for (u = 0; u < nb && rc == 0; u++)
            rc = posterior(r, lp_blk + u * np, ivecs + (u0 + u) * r, full,
                           NULL, NULL);
    }

out:
    free(f_blk);
    free(lp_blk);
    free(full);
    return rc;
}


/* T_c = C_c A_c^-1 for every component. A component the training data
 * never reached has no positive definite A_c and keeps its old T_c. */
static void
m_step(struct voice_tv *tv, struct em_work *w)
{
    size_t c, r = tv->rank, dim = tv->dim;
    int n = (int)r;

    for (c = 0; c < tv->n_comp; c++) {
        double *cc = w->acc_c + c * dim * r;

        unpack(r, w->acc_a + c * tv->n_packed, 0.0, w->full);
        if (LAPACKE_dpotrf(LAPACK_COL_MAJOR, 'U', n, w->full, n) != 0)
            continue;
        /* C_c is dim x rank row-major, i.e. rank x dim column-major: the
         * solve of A_c X = C_c' leaves T_c in its place. */
        if (LAPACKE_dpotrs(LAPACK_COL_MAJOR, 'U', n, (int)dim, w->full, n,
                           cc, n) != 0)
            continue;
        memcpy(tv->t + c * dim * r, cc, dim * r * sizeof(double));
    }
}


/* T <- T L with L L' the average second moment of the training
 * i-vectors, so that re-extracted i-vectors have unit second moment. */
static void
min_divergence(struct voice_tv *tv, struct em_work *w, size_t n_utts)
{
    size_t r = tv->rank, i, j;
    int n = (int)r;

    unpack(r, w->sum_ww, 0.0, w->full);
    for (i = 0; i < r * r; i++)
        w->full[i] /= (double)n_utts;
    if (LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'L', n, w->full, n) != 0)
        return;
    for (i = 0; i < r; i++) {
        for (j = i + 1; j < r; j++)
            w->full[i * r + j] = 0.0;
    }
    cblas_dtrmm(CblasRowMajor, CblasRight, CblasLower, CblasNoTrans,
                CblasNonUnit, (int)(tv->n_comp * tv->dim), n, 1.0, w->full,
                n, tv->t, n);
}


int
voice_tv_train(const struct voice_gmm *ubm, const double *n_stats,
               const float *f_norm, size_t n_utts,
               const struct voice_tv_options *opt,
               struct voice_tv **out, double *ll_out, char *msg,
               size_t msg_len)
{
    struct voice_tv *tv = NULL;
    struct em_work w;
    struct voice_rng rng;
    size_t sv, i, u0;
    double scale;
    int rc, it;

    memset(&w, 0, sizeof(w));
    if (n_stats == NULL || f_norm == NULL || n_utts == 0
        || opt->iterations < 0) {
        err_message(msg, msg_len, "ivector: no statistics to train on");
        return ERR_INVAL;
    }
    rc = tv_alloc(ubm, opt->rank, &tv);
    if (rc == ERR_INVAL) {
        err_message(msg, msg_len, "ivector: rank %zu is out of range",
                    opt->rank);
        return rc;
    }
    if (rc != 0)
        goto out;
    rc = em_work_init(&w, tv);
    if (rc != 0)
        goto out;

    sv = tv->n_comp * tv->dim;
    voice_rng_seed(&rng, opt->seed);
    scale = INIT_SCALE / sqrt((double)tv->rank);
    for (i = 0; i < sv * tv->rank; i++)
        tv->t[i] = scale * voice_rng_normal(&rng);
    rc = refresh_cache(tv);
    if (rc != 0)
        goto out;

    for (it = 0; it < opt->iterations; it++) {
        memset(w.acc_a, 0, tv->n_comp * tv->n_packed * sizeof(double));
        memset(w.acc_c, 0, sv * tv->rank * sizeof(double));
        memset(w.sum_ww, 0, tv->n_packed * sizeof(double));
        w.ll = 0.0;
        for (u0 = 0; u0 < n_utts; u0 += BLOCK_UTTS) {
            size_t nb = n_utts - u0 < BLOCK_UTTS ? n_utts - u0 : BLOCK_UTTS;

            rc = e_step_block(tv, n_stats, f_norm, u0, nb, &w);
            if (rc != 0) {
                err_message(msg, msg_len, "ivector: a posterior precision "
                            "is not positive definite in iteration %d",
                            it + 1);
                goto out;
            }
        }
        if (ll_out != NULL)
            ll_out[it] = w.ll / (double)n_utts;
        m_step(tv, &w);
        if (opt->min_divergence)
            min_divergence(tv, &w, n_utts);
        rc = refresh_cache(tv);
        if (rc != 0)
            goto out;
    }
    *out = tv;
    tv = NULL;

out:
    if (rc == ERR_NOMEM)
        err_message(msg, msg_len, "ivector: out of memory");
    em_work_free(&w);
    voice_tv_free(tv);
    return rc;
}
