/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Diagonal GMM: blocked log-likelihoods through dgemm, pruned posteriors,
 * EM and split-based training.
 *
 * Besides its parameters a model keeps, per component, the coefficient
 * row [m/v, -0.5/v] (2 * dim values) and the constant g = log w - 0.5 *
 * sum_d (log(2 pi v_d) + m_d^2 / v_d). A block of frames is expanded to
 * rows [x, x^2] and one product with the coefficient rows gives every
 * log-likelihood of the block. The derived values are refreshed whenever
 * the parameters change, so readers never see them out of step.
 */
#include "voice/gmm.h"

#include <cblas.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"

/* Frames per block: the expanded block and its log-likelihoods stay in
 * cache-friendly sizes (under 1 MB for 256 components of 60 dims). */
#define BLOCK_FRAMES 256

/* Weights never reach 0, so log-weights stay finite. */
#define MIN_WEIGHT 1e-10

/* Below this occupancy a component's mean and variance are left as they
 * are: there is nothing to estimate them from. */
#define MIN_OCCUPANCY 1e-3

/* Half the split distance, in standard deviations. Smaller offsets
 * leave the halves so close that EM needs many iterations to pull them
 * apart. */
#define SPLIT_OFFSET_SD 0.5

struct voice_gmm {
    size_t n_comp;
    size_t dim;
    double *weights;    /* n_comp */
    double *means;      /* n_comp x dim */
    double *vars;       /* n_comp x dim */
    double *coef;       /* n_comp x 2 dim: [m / v, -0.5 / v] */
    double *gconst;     /* n_comp */
};

/* Scratch space of one pass over frames in blocks. */
struct work {
    double *y;          /* BLOCK_FRAMES x 2 dim: [x, x^2] */
    double *ll;         /* BLOCK_FRAMES x n_comp */
};


static void
refresh_derived(struct voice_gmm *g)
{
    size_t c, d, dim = g->dim;

    for (c = 0; c < g->n_comp; c++) {
        const double *m = g->means + c * dim;
        const double *v = g->vars + c * dim;
        double *row = g->coef + c * 2 * dim;
        double k = log(g->weights[c]);

        for (d = 0; d < dim; d++) {
            row[d] = m[d] / v[d];
            row[dim + d] = -0.5 / v[d];
            k -= 0.5 * (log(2.0 * M_PI * v[d]) + m[d] * m[d] / v[d]);
        }
        g->gconst[c] = k;
    }
}


static struct voice_gmm *
gmm_alloc(size_t n_comp, size_t dim)
{
    struct voice_gmm *g = calloc(1, sizeof(*g));

    if (g == NULL)
        return NULL;
    g->n_comp = n_comp;
    g->dim = dim;
    g->weights = calloc(n_comp, sizeof(double));
    g->means = calloc(n_comp * dim, sizeof(double));
    g->vars = calloc(n_comp * dim, sizeof(double));
    g->coef = calloc(n_comp * dim * 2, sizeof(double));
    g->gconst = calloc(n_comp, sizeof(double));
    if (g->weights == NULL || g->means == NULL || g->vars == NULL
        || g->coef == NULL || g->gconst == NULL) {
        voice_gmm_free(g);
        return NULL;
    }
    return g;
}


void
voice_gmm_free(struct voice_gmm *g)
{
    if (g == NULL)
        return;
    free(g->weights);
    free(g->means);
    free(g->vars);
    free(g->coef);
    free(g->gconst);
    free(g);
}


int
voice_gmm_new(size_t n_components, size_t dim, const double *weights,
              const double *means, const double *vars,
              struct voice_gmm **out)
{
    struct voice_gmm *g;
    double sum = 0.0;
    size_t i;

    if (n_components == 0 || dim == 0 || weights == NULL || means == NULL
        || vars == NULL)
        return ERR_INVAL;
    if (n_components > SIZE_MAX / sizeof(double) / 2 / dim)
        return ERR_INVAL;
    for (i = 0; i < n_components; i++) {
        if (!isfinite(weights[i]) || weights[i] <= 0.0)
            return ERR_INVAL;
        sum += weights[i];
    }
    if (fabs(sum - 1.0) > 1e-6)
        return ERR_INVAL;
    for (i = 0; i < n_components * dim; i++) {
        if (!isfinite(means[i]) || !isfinite(vars[i]) || vars[i] <= 0.0)
            return ERR_INVAL;
    }

    g = gmm_alloc(n_components, dim);
    if (g == NULL)
        return ERR_NOMEM;
    memcpy(g->weights, weights, n_components * sizeof(double));
    memcpy(g->means, means, n_components * dim * sizeof(double));
    memcpy(g->vars, vars, n_components * dim * sizeof(double));
    refresh_derived(g);
    *out = g;
    return 0;
}


int
voice_gmm_copy(const struct voice_gmm *g, struct voice_gmm **out)
{
    struct voice_gmm *c = gmm_alloc(g->n_comp, g->dim);

    if (c == NULL)
        return ERR_NOMEM;
    memcpy(c->weights, g->weights, g->n_comp * sizeof(double));
    memcpy(c->means, g->means, g->n_comp * g->dim * sizeof(double));
    memcpy(c->vars, g->vars, g->n_comp * g->dim * sizeof(double));
    refresh_derived(c);
    *out = c;
    return 0;
}


size_t
voice_gmm_n_components(const struct voice_gmm *g)
{
    return g->n_comp;
}


size_t
voice_gmm_dim(const struct voice_gmm *g)
{
    return g->dim;
}


const double *
voice_gmm_weights(const struct voice_gmm *g)
{
    return g->weights;
}


const double *
voice_gmm_means(const struct voice_gmm *g)
{
    return g->means;
}


const double *
voice_gmm_vars(const struct voice_gmm *g)
{
    return g->vars;
}


static int
all_finite(const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(x[i]))
            return 0;
    }
    return 1;
}


/* Checks the frames every reader takes: present and finite. */
static int
check_frames(const struct voice_gmm *g, const float *x, size_t n_frames)
{
    if (x == NULL || n_frames == 0)
        return ERR_INVAL;
    if (n_frames > SIZE_MAX / sizeof(float) / g->dim)
        return ERR_INVAL;
    return all_finite(x, n_frames * g->dim) ? 0 : ERR_INVAL;
}


static void
work_free(struct work *w)
{
    free(w->y);
    free(w->ll);
}


static int
work_init(struct work *w, const struct voice_gmm *g)
{
    w->y = malloc(BLOCK_FRAMES * 2 * g->dim * sizeof(double));
    w->ll = malloc(BLOCK_FRAMES * g->n_comp * sizeof(double));
    if (w->y == NULL || w->ll == NULL) {
        work_free(w);
        return ERR_NOMEM;
    }
    return 0;
}


/* Fills w->ll with the joint log-likelihoods log(w_c N(x_t; c)) of the
 * 'nb' frames starting at 'x', and w->y with their [x, x^2] rows. */
static void
block_loglik(const struct voice_gmm *g, const float *x, size_t nb,
             struct work *w)
{
    size_t t, c, d, dim = g->dim, nc = g->n_comp;

    for (t = 0; t < nb; t++) {
        const float *xt = x + t * dim;
        double *yt = w->y + t * 2 * dim;

        for (d = 0; d < dim; d++) {
            yt[d] = xt[d];
            yt[dim + d] = (double)xt[d] * xt[d];
        }
    }
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nb, (int)nc,
                (int)(2 * dim), 1.0, w->y, (int)(2 * dim), g->coef,
                (int)(2 * dim), 0.0, w->ll, (int)nc);
    for (t = 0; t < nb; t++) {
        double *lt = w->ll + t * nc;

        for (c = 0; c < nc; c++)
            lt[c] += g->gconst[c];
    }
}


/* Turns one frame's joint log-likelihoods 'row' into posteriors in place
 * (pruned ones become exactly 0) and returns the frame's log-likelihood. */
static double
row_posteriors(double *row, size_t nc, double prune_ll)
{
    double best = row[0], sum = 0.0, floor_ll, inv;
    size_t c;

    for (c = 1; c < nc; c++) {
        if (row[c] > best)
            best = row[c];
    }
    floor_ll = best - prune_ll;
    for (c = 0; c < nc; c++) {
        if (row[c] >= floor_ll) {
            row[c] = exp(row[c] - best);
            sum += row[c];
        } else {
            row[c] = 0.0;
        }
    }
    inv = 1.0 / sum;
    for (c = 0; c < nc; c++)
        row[c] *= inv;
    return best + log(sum);
}


int
voice_gmm_loglik(const struct voice_gmm *g, const float *x,
                 size_t n_frames, double *avg_ll)
{
    struct work w;
    double total = 0.0;
    size_t t0, t;
    int rc;

    rc = check_frames(g, x, n_frames);
    if (rc != 0)
        return rc;
    rc = work_init(&w, g);
    if (rc != 0)
        return rc;

    for (t0 = 0; t0 < n_frames; t0 += BLOCK_FRAMES) {
        size_t nb = n_frames - t0 < BLOCK_FRAMES ? n_frames - t0
                                                 : BLOCK_FRAMES;

        block_loglik(g, x + t0 * g->dim, nb, &w);
        for (t = 0; t < nb; t++) {
            total += row_posteriors(w.ll + t * g->n_comp, g->n_comp,
                                    VOICE_GMM_TRAIN_PRUNE_LL);
        }
    }
    work_free(&w);
    *avg_ll = total / (double)n_frames;
    return 0;
}


int
voice_gmm_posteriors(const struct voice_gmm *g, const float *x,
                     size_t n_frames, double prune_ll, double *post)
{
    struct work w;
    size_t t0, t, nc = g->n_comp;
    int rc;

    if (post == NULL || !(prune_ll > 0.0))
        return ERR_INVAL;
    rc = check_frames(g, x, n_frames);
    if (rc != 0)
        return rc;
    rc = work_init(&w, g);
    if (rc != 0)
        return rc;

    for (t0 = 0; t0 < n_frames; t0 += BLOCK_FRAMES) {
        size_t nb = n_frames - t0 < BLOCK_FRAMES ? n_frames - t0
                                                 : BLOCK_FRAMES;

        block_loglik(g, x + t0 * g->dim, nb, &w);
        for (t = 0; t < nb; t++)
            row_posteriors(w.ll + t * nc, nc, prune_ll);
        memcpy(post + t0 * nc, w.ll, nb * nc * sizeof(double));
    }
    work_free(&w);
    return 0;
}


int
voice_gmm_stats_add(const struct voice_gmm *g, const float *x,
                    size_t n_frames, double prune_ll, double *n_acc,
                    double *f_acc)
{
    struct work w;
    size_t t0, t, c, d, nc = g->n_comp, dim = g->dim;
    int rc;

    if (n_acc == NULL || f_acc == NULL || !(prune_ll > 0.0))
        return ERR_INVAL;
    rc = check_frames(g, x, n_frames);
    if (rc != 0)
        return rc;
    rc = work_init(&w, g);
    if (rc != 0)
        return rc;

    /* Pruning leaves a handful of live components per frame, so sparse
     * accumulation beats a dense product of posteriors and frames. */
    for (t0 = 0; t0 < n_frames; t0 += BLOCK_FRAMES) {
        size_t nb = n_frames - t0 < BLOCK_FRAMES ? n_frames - t0
                                                 : BLOCK_FRAMES;

        block_loglik(g, x + t0 * dim, nb, &w);
        for (t = 0; t < nb; t++) {
            double *row = w.ll + t * nc;
            const float *xt = x + (t0 + t) * dim;

            row_posteriors(row, nc, prune_ll);
            for (c = 0; c < nc; c++) {
                double p = row[c];
                double *fc = f_acc + c * dim;

                if (p == 0.0)
                    continue;
                n_acc[c] += p;
                for (d = 0; d < dim; d++)
                    fc[d] += p * xt[d];
            }
        }
    }
    work_free(&w);
    return 0;
}


/* One EM iteration's statistics, then the M-step. Returns the average
 * log-likelihood of the model before the update through *ll. */
static void
em_step(struct voice_gmm *g, const float *x, size_t n_frames,
        const double *var_floor, struct work *w, double *acc, double *ll)
{
    size_t nc = g->n_comp, dim = g->dim, t0, t, c, d;
    double *occ = acc;                  /* nc */
    double *s12 = acc + nc;             /* nc x 2 dim: sums of [x, x^2] */
    double total = 0.0, wsum = 0.0;

    memset(acc, 0, nc * (1 + 2 * dim) * sizeof(double));
    for (t0 = 0; t0 < n_frames; t0 += BLOCK_FRAMES) {
        size_t nb = n_frames - t0 < BLOCK_FRAMES ? n_frames - t0
                                                 : BLOCK_FRAMES;

        block_loglik(g, x + t0 * dim, nb, w);
        for (t = 0; t < nb; t++) {
            double *row = w->ll + t * nc;

            total += row_posteriors(row, nc, VOICE_GMM_TRAIN_PRUNE_LL);
            for (c = 0; c < nc; c++)
                occ[c] += row[c];
        }
        /* Posteriors' transpose times [x, x^2]: both moments at once. */
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)nc,
                    (int)(2 * dim), (int)nb, 1.0, w->ll, (int)nc, w->y,
                    (int)(2 * dim), 1.0, s12, (int)(2 * dim));
    }
    *ll = total / (double)n_frames;

    for (c = 0; c < nc; c++) {
        double *m = g->means + c * dim;
        double *v = g->vars + c * dim;
        const double *s = s12 + c * 2 * dim;

        g->weights[c] = fmax(occ[c] / (double)n_frames, MIN_WEIGHT);
        wsum += g->weights[c];
        if (occ[c] < MIN_OCCUPANCY)
            continue;
        for (d = 0; d < dim; d++) {
            double mean = s[d] / occ[c];
            double var = s[dim + d] / occ[c] - mean * mean;
            double fl = var_floor != NULL ? var_floor[d] : 0.0;

            m[d] = mean;
            v[d] = fmax(var, fmax(fl, 1e-10));
        }
    }
    for (c = 0; c < nc; c++)
        g->weights[c] /= wsum;
    refresh_derived(g);
}


int
voice_gmm_em(struct voice_gmm *g, const float *x, size_t n_frames,
             int iterations, const double *var_floor, double *ll_out)
{
    struct work w;
    struct voice_gmm *next = NULL;
    double *acc = NULL, ll;
    int rc, i;

    if (iterations < 0)
        return ERR_INVAL;
    rc = check_frames(g, x, n_frames);
    if (rc != 0)
        return rc;
    rc = work_init(&w, g);
    if (rc != 0)
        return rc;

    /* Iterate on a copy so that 'g' changes only when all went well. */
    acc = malloc(g->n_comp * (1 + 2 * g->dim) * sizeof(double));
    rc = acc == NULL ? ERR_NOMEM : voice_gmm_copy(g, &next);
    if (rc != 0)
        goto out;
    for (i = 0; i < iterations; i++) {
        em_step(next, x, n_frames, var_floor, &w, acc, &ll);
        if (ll_out != NULL)
            ll_out[i] = ll;
    }
    memcpy(g->weights, next->weights, g->n_comp * sizeof(double));
    memcpy(g->means, next->means, g->n_comp * g->dim * sizeof(double));
    memcpy(g->vars, next->vars, g->n_comp * g->dim * sizeof(double));
    refresh_derived(g);

out:
    voice_gmm_free(next);
    free(acc);
    work_free(&w);
    return rc;
}


void
voice_gmm_train_options_default(struct voice_gmm_train_options *opt,
                                size_t n_components)
{
    memset(opt, 0, sizeof(*opt));
    opt->n_components = n_components;
    opt->split_iterations = 4;
    opt->final_iterations = 8;
    opt->var_floor_frac = 0.01;
}


/* Fits one Gaussian to all frames and sets the variance floor. */
static void
fit_single(struct voice_gmm *g, const float *x, size_t n_frames,
           double floor_frac, double *var_floor)
{
    size_t t, d, dim = g->dim;

    for (t = 0; t < n_frames; t++) {
        for (d = 0; d < dim; d++)
            g->means[d] += x[t * dim + d];
    }
    for (d = 0; d < dim; d++)
        g->means[d] /= (double)n_frames;
    for (t = 0; t < n_frames; t++) {
        for (d = 0; d < dim; d++) {
            double e = x[t * dim + d] - g->means[d];

            g->vars[d] += e * e;
        }
    }
    for (d = 0; d < dim; d++) {
        g->vars[d] = fmax(g->vars[d] / (double)n_frames, 1e-10);
        var_floor[d] = fmax(floor_frac * g->vars[d], 1e-10);
    }
    g->weights[0] = 1.0;
}


/* Grows the first 'cur' components of 'g' to 'next' by splitting the
 * heaviest ones (ties: lower index first); the new halves go to the end.
 * Each split moves the two means apart along the component's dimension
 * of largest variance: a cluster that is really two lies mostly along
 * that axis, and a fixed diagonal direction can sit on a symmetry of the
 * data that EM takes very long to break. Returns 0 or ERR_NOMEM ('g'
 * untouched). */
static int
split(struct voice_gmm *g, size_t cur, size_t next)
{
    size_t dim = g->dim, k, c, d;
    char *taken = calloc(cur, 1);

    if (taken == NULL)
        return ERR_NOMEM;
    for (k = cur; k < next; k++) {
        size_t best = SIZE_MAX, widest = 0;
        double *mb, *vb, off;

        for (c = 0; c < cur; c++) {
            if (!taken[c]
                && (best == SIZE_MAX || g->weights[c] > g->weights[best]))
                best = c;
        }
        taken[best] = 1;
        mb = g->means + best * dim;
        vb = g->vars + best * dim;
        for (d = 1; d < dim; d++) {
            if (vb[d] > vb[widest])
                widest = d;
        }
        memcpy(g->means + k * dim, mb, dim * sizeof(double));
        memcpy(g->vars + k * dim, vb, dim * sizeof(double));
        off = SPLIT_OFFSET_SD * sqrt(vb[widest]);
        g->means[k * dim + widest] += off;
        mb[widest] -= off;
        g->weights[best] *= 0.5;
        g->weights[k] = g->weights[best];
    }
    free(taken);
    return 0;
}


/* Runs EM on the first 'nc' components of 'full' (a mixture still being
 * grown), through a temporary model of exactly those components. */
static int
em_prefix(struct voice_gmm *full, size_t nc, const float *x,
          size_t n_frames, int iterations, const double *var_floor,
          double *ll_out)
{
    struct voice_gmm *sub = NULL;
    size_t dim = full->dim;
    int rc;

    sub = gmm_alloc(nc, dim);
    if (sub == NULL)
        return ERR_NOMEM;
    memcpy(sub->weights, full->weights, nc * sizeof(double));
    memcpy(sub->means, full->means, nc * dim * sizeof(double));
    memcpy(sub->vars, full->vars, nc * dim * sizeof(double));
    refresh_derived(sub);
    rc = voice_gmm_em(sub, x, n_frames, iterations, var_floor, ll_out);
    if (rc == 0) {
        memcpy(full->weights, sub->weights, nc * sizeof(double));
        memcpy(full->means, sub->means, nc * dim * sizeof(double));
        memcpy(full->vars, sub->vars, nc * dim * sizeof(double));
    }
    voice_gmm_free(sub);
    return rc;
}


int
voice_gmm_train(const float *x, size_t n_frames, size_t dim,
                const struct voice_gmm_train_options *opt,
                struct voice_gmm **out, double **ll_out, size_t *n_ll,
                char *msg, size_t msg_len)
{
    struct voice_gmm *g = NULL;
    double *var_floor = NULL, *ll = NULL;
    size_t nc = opt->n_components, cur, total_iters = 0, done = 0;
    int rc;

    if (nc == 0 || dim == 0 || opt->split_iterations < 0
        || opt->final_iterations < 0 || !(opt->var_floor_frac > 0.0)) {
        err_message(msg, msg_len, "gmm: invalid training options");
        return ERR_INVAL;
    }
    if (x == NULL || n_frames < nc || n_frames > SIZE_MAX / 16 / dim) {
        err_message(msg, msg_len, "gmm: %zu frames cannot train %zu "
                    "components", n_frames, nc);
        return ERR_INVAL;
    }
    if (!all_finite(x, n_frames * dim)) {
        err_message(msg, msg_len, "gmm: a feature value is not finite");
        return ERR_INVAL;
    }

    for (cur = 1; cur < nc; cur = cur * 2 < nc ? cur * 2 : nc)
        total_iters += (size_t)opt->split_iterations;
    total_iters += (size_t)opt->final_iterations;
    g = gmm_alloc(nc, dim);
    var_floor = calloc(dim, sizeof(double));
    ll = malloc((total_iters + 1) * sizeof(double));
    if (g == NULL || var_floor == NULL || ll == NULL) {
        rc = ERR_NOMEM;
        goto out;
    }

    fit_single(g, x, n_frames, opt->var_floor_frac, var_floor);
    for (cur = 1; cur < nc;) {
        size_t next = cur * 2 < nc ? cur * 2 : nc;

        rc = split(g, cur, next);
        if (rc != 0)
            goto out;
        cur = next;
        rc = em_prefix(g, cur, x, n_frames, opt->split_iterations,
                       var_floor, ll + done);
        if (rc != 0)
            goto out;
        done += (size_t)opt->split_iterations;
    }
    rc = em_prefix(g, nc, x, n_frames, opt->final_iterations, var_floor,
                   ll + done);
    if (rc != 0)
        goto out;
    refresh_derived(g);

    *out = g;
    g = NULL;
    if (ll_out != NULL) {
        *ll_out = ll;
        ll = NULL;
    }
    if (n_ll != NULL)
        *n_ll = total_iters;

out:
    if (rc == ERR_NOMEM)
        err_message(msg, msg_len, "gmm: out of memory");
    voice_gmm_free(g);
    free(var_floor);
    free(ll);
    return rc;
}
