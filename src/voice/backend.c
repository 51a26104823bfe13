/* SPDX-License-Identifier: Apache-2.0 */
/*
 * LDA, WCCN, the voiceprint projection, cosine scoring and calibration.
 *
 * Labels are arbitrary ints; each fit first maps them to dense class
 * numbers in ascending label order, so the result does not depend on the
 * order in which classes first appear. Scatter matrices are sums of outer
 * products written as dsyrk of row matrices, computed in a fixed order.
 * Symmetric matrices go to LAPACK in column-major order with the upper
 * triangle filled (LAPACK reads only that triangle).
 */
#include "voice/backend.h"

#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"

/* Ridge added to scatter matrices, relative to their mean diagonal. */
#define RIDGE_FRAC 1e-3

/* Logistic regression: ridge on the slope and (tinier) on the offset,
 * and the Newton iteration cap. */
#define CAL_RIDGE_A 1e-4
#define CAL_RIDGE_B 1e-8
#define CAL_MAX_ITERS 100

struct voice_backend {
    size_t in_dim;
    size_t out_dim;
    double *mean;   /* in_dim */
    double *proj;   /* out_dim x in_dim */
};

struct keyed {
    double key;
    int label;
    size_t index;
};


static int
cmp_keyed(const void *pa, const void *pb)
{
    const struct keyed *a = pa, *b = pb;

    if (a->key != b->key)
        return a->key < b->key ? -1 : 1;
    if (a->label != b->label)
        return a->label < b->label ? -1 : 1;
    return a->index < b->index ? -1 : (a->index > b->index);
}


/* Maps 'labels' to dense classes 0..*n_classes-1 in ascending label
 * order, writing dense[i] for every sample. Returns 0 or ERR_NOMEM. */
static int
dense_labels(const int *labels, size_t n, size_t *dense, size_t *n_classes)
{
    struct keyed *k = malloc(n * sizeof(*k));
    size_t i, cls = 0;

    if (k == NULL)
        return ERR_NOMEM;
    for (i = 0; i < n; i++) {
        k[i].key = 0.0;
        k[i].label = labels[i];
        k[i].index = i;
    }
    qsort(k, n, sizeof(*k), cmp_keyed);
    for (i = 0; i < n; i++) {
        if (i > 0 && k[i].label != k[i - 1].label)
            cls++;
        dense[k[i].index] = cls;
    }
    *n_classes = n > 0 ? cls + 1 : 0;
    free(k);
    return 0;
}


/* Writes class means (n_classes x dim) and counts of the rows of 'x'. */
static void
class_means(const double *x, const size_t *cls, size_t n, size_t dim,
            size_t n_classes, double *means, size_t *counts)
{
    size_t i, d, k;

    memset(means, 0, n_classes * dim * sizeof(double));
    memset(counts, 0, n_classes * sizeof(size_t));
    for (i = 0; i < n; i++) {
        for (d = 0; d < dim; d++)
            means[cls[i] * dim + d] += x[i * dim + d];
        counts[cls[i]]++;
    }
    for (k = 0; k < n_classes; k++) {
        for (d = 0; d < dim; d++)
            means[k * dim + d] /= (double)counts[k];
    }
}


/* m = rows' Gram matrix (full symmetric), then m += ridge * I with the
 * ridge relative to the mean diagonal. */
static void
scatter(const double *rows, size_t n_rows, size_t dim, double *m)
{
    double tr = 0.0, ridge;
    size_t i, j;

    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, (int)dim,
                (int)n_rows, 1.0, rows, (int)dim, 0.0, m, (int)dim);
    for (i = 0; i < dim; i++) {
        tr += m[i * dim + i];
        for (j = i + 1; j < dim; j++)
            m[j * dim + i] = m[i * dim + j];
    }
    ridge = RIDGE_FRAC * tr / (double)dim;
    if (!(ridge > 0.0))
        ridge = 1e-12;
    for (i = 0; i < dim; i++)
        m[i * dim + i] += ridge;
}


int
voice_lda_fit(const double *x, const int *labels, size_t n, size_t dim,
              size_t out_dim, double *proj)
{
    size_t *cls = NULL, *counts = NULL, n_classes = 0, i, d, k, j;
    double *means = NULL, *gmean = NULL, *rows = NULL, *sb = NULL;
    double *sw = NULL, *eig = NULL;
    int rc;

    if (x == NULL || labels == NULL || n == 0 || dim == 0 || out_dim == 0
        || out_dim > dim)
        return ERR_INVAL;
    cls = malloc(n * sizeof(size_t));
    rc = cls == NULL ? ERR_NOMEM : dense_labels(labels, n, cls, &n_classes);
    if (rc != 0)
        goto out;
    if (out_dim >= n_classes) {
        rc = ERR_INVAL;
        goto out;
    }

    counts = malloc(n_classes * sizeof(size_t));
    means = malloc(n_classes * dim * sizeof(double));
    gmean = calloc(dim, sizeof(double));
    rows = malloc((n > n_classes ? n : n_classes) * dim * sizeof(double));
    sb = malloc(dim * dim * sizeof(double));
    sw = malloc(dim * dim * sizeof(double));
    eig = malloc(dim * sizeof(double));
    if (counts == NULL || means == NULL || gmean == NULL || rows == NULL
        || sb == NULL || sw == NULL || eig == NULL) {
        rc = ERR_NOMEM;
        goto out;
    }
    class_means(x, cls, n, dim, n_classes, means, counts);
    for (i = 0; i < n; i++) {
        for (d = 0; d < dim; d++)
            gmean[d] += x[i * dim + d] / (double)n;
    }

    /* Between: rows sqrt(n_k / n) (m_k - m); within: (x_i - m_k) /
     * sqrt(n). Both are then Gram matrices. */
    for (k = 0; k < n_classes; k++) {
        double s = sqrt((double)counts[k] / (double)n);

        for (d = 0; d < dim; d++)
            rows[k * dim + d] = s * (means[k * dim + d] - gmean[d]);
    }
    scatter(rows, n_classes, dim, sb);
    for (i = 0; i < n; i++) {
        double s = 1.0 / sqrt((double)n);

        for (d = 0; d < dim; d++)
            rows[i * dim + d] = s * (x[i * dim + d] - means[cls[i] * dim + d]);
    }
    scatter(rows, n, dim, sw);

    if (LAPACKE_dsygv(LAPACK_COL_MAJOR, 1, 'V', 'U', (int)dim, sb, (int)dim,
                      sw, (int)dim, eig) != 0) {
        rc = ERR_INTERNAL;
        goto out;
    }

    /* Eigenvalues ascend; column k of 'sb' is eigenvector k. */
    for (j = 0; j < out_dim; j++) {
        const double *v = sb + (dim - 1 - j) * dim;
        size_t arg = 0;
        double sign;

        for (d = 1; d < dim; d++) {
            if (fabs(v[d]) > fabs(v[arg]))
                arg = d;
        }
        sign = v[arg] < 0.0 ? -1.0 : 1.0;
        for (d = 0; d < dim; d++)
            proj[j * dim + d] = sign * v[d];
    }

out:
    free(cls);
    free(counts);
    free(means);
    free(gmean);
    free(rows);
    free(sb);
    free(sw);
    free(eig);
    return rc;
}


int
voice_wccn_fit(const double *x, const int *labels, size_t n, size_t dim,
               double *b)
{
    size_t *cls = NULL, *counts = NULL, n_classes = 0, used = 0, i, d, j;
    double *means = NULL, *rows = NULL, *w = NULL;
    int rc;

    if (x == NULL || labels == NULL || n == 0 || dim == 0)
        return ERR_INVAL;
    cls = malloc(n * sizeof(size_t));
    rc = cls == NULL ? ERR_NOMEM : dense_labels(labels, n, cls, &n_classes);
    if (rc != 0)
        goto out;
    counts = malloc(n_classes * sizeof(size_t));
    means = malloc(n_classes * dim * sizeof(double));
    rows = malloc(n * dim * sizeof(double));
    w = malloc(dim * dim * sizeof(double));
    if (counts == NULL || means == NULL || rows == NULL || w == NULL) {
        rc = ERR_NOMEM;
        goto out;
    }
    class_means(x, cls, n, dim, n_classes, means, counts);

    /* A class of one sample says nothing about within-class spread and
     * is left out of the average. */
    for (i = 0; i < n_classes; i++)
        used += counts[i] > 1;
    if (used == 0) {
        rc = ERR_INVAL;
        goto out;
    }
    for (i = 0; i < n; i++) {
        size_t k = cls[i];
        double s = counts[k] > 1
                   ? 1.0 / sqrt((double)used * (double)counts[k]) : 0.0;

        for (d = 0; d < dim; d++)
            rows[i * dim + d] = s * (x[i * dim + d] - means[k * dim + d]);
    }
    scatter(rows, n, dim, w);

    /* W^-1 = U'U; B = U. */
    if (LAPACKE_dpotrf(LAPACK_COL_MAJOR, 'U', (int)dim, w, (int)dim) != 0
        || LAPACKE_dpotri(LAPACK_COL_MAJOR, 'U', (int)dim, w, (int)dim) != 0
        || LAPACKE_dpotrf(LAPACK_COL_MAJOR, 'U', (int)dim, w, (int)dim)
           != 0) {
        rc = ERR_INTERNAL;
        goto out;
    }
    for (i = 0; i < dim; i++) {
        for (j = 0; j < dim; j++)
            b[i * dim + j] = j >= i ? w[i + j * dim] : 0.0;
    }

out:
    free(cls);
    free(counts);
    free(means);
    free(rows);
    free(w);
    return rc;
}


void
voice_backend_free(struct voice_backend *b)
{
    if (b == NULL)
        return;
    free(b->mean);
    free(b->proj);
    free(b);
}


static struct voice_backend *
backend_alloc(size_t in_dim, size_t out_dim)
{
    struct voice_backend *b = calloc(1, sizeof(*b));

    if (b == NULL)
        return NULL;
    b->in_dim = in_dim;
    b->out_dim = out_dim;
    b->mean = calloc(in_dim, sizeof(double));
    b->proj = calloc(in_dim * out_dim, sizeof(double));
    if (b->mean == NULL || b->proj == NULL) {
        voice_backend_free(b);
        return NULL;
    }
    return b;
}


int
voice_backend_new(size_t in_dim, size_t out_dim, const double *mean,
                  const double *proj, struct voice_backend **out)
{
    struct voice_backend *b;
    size_t i;

    if (in_dim == 0 || out_dim == 0 || out_dim > in_dim
        || in_dim > VOICE_BACKEND_MAX_DIM || mean == NULL || proj == NULL)
        return ERR_INVAL;
    for (i = 0; i < in_dim; i++) {
        if (!isfinite(mean[i]))
            return ERR_INVAL;
    }
    for (i = 0; i < in_dim * out_dim; i++) {
        if (!isfinite(proj[i]))
            return ERR_INVAL;
    }
    b = backend_alloc(in_dim, out_dim);
    if (b == NULL)
        return ERR_NOMEM;
    memcpy(b->mean, mean, in_dim * sizeof(double));
    memcpy(b->proj, proj, in_dim * out_dim * sizeof(double));
    *out = b;
    return 0;
}


size_t
voice_backend_in_dim(const struct voice_backend *b)
{
    return b->in_dim;
}


size_t
voice_backend_out_dim(const struct voice_backend *b)
{
    return b->out_dim;
}


const double *
voice_backend_mean(const struct voice_backend *b)
{
    return b->mean;
}


const double *
voice_backend_projection(const struct voice_backend *b)
{
    return b->proj;
}


/* x = (w - mean) / |w - mean| into 'x' (dim); all zeros if w == mean. */
static void
centre_normalise(const double *w, const double *mean, size_t dim, double *x)
{
    double norm = 0.0;
    size_t d;

    for (d = 0; d < dim; d++) {
        x[d] = w[d] - mean[d];
        norm += x[d] * x[d];
    }
    norm = sqrt(norm);
    for (d = 0; d < dim; d++)
        x[d] = norm > 0.0 ? x[d] / norm : 0.0;
}


int
voice_backend_train(const double *ivecs, const int *labels, size_t n,
                    size_t in_dim, size_t out_dim,
                    struct voice_backend **out, char *msg, size_t msg_len)
{
    struct voice_backend *b = NULL;
    double *xn = NULL, *lda = NULL, *z = NULL, *wccn = NULL;
    size_t i, d, n_classes = 0, *cls = NULL;
    int rc;

    if (ivecs == NULL || labels == NULL || n == 0 || in_dim == 0
        || out_dim == 0 || out_dim > in_dim
        || in_dim > VOICE_BACKEND_MAX_DIM) {
        err_message(msg, msg_len, "backend: %zu i-vectors of dimension %zu "
                    "cannot give %zu-dimensional voiceprints", n, in_dim,
                    out_dim);
        return ERR_INVAL;
    }
    b = backend_alloc(in_dim, out_dim);
    cls = malloc(n * sizeof(size_t));
    xn = malloc(n * in_dim * sizeof(double));
    lda = malloc(out_dim * in_dim * sizeof(double));
    z = malloc(n * out_dim * sizeof(double));
    wccn = malloc(out_dim * out_dim * sizeof(double));
    if (b == NULL || cls == NULL || xn == NULL || lda == NULL || z == NULL
        || wccn == NULL) {
        rc = ERR_NOMEM;
        goto out;
    }
    rc = dense_labels(labels, n, cls, &n_classes);
    if (rc != 0)
        goto out;
    if (n_classes <= out_dim) {
        err_message(msg, msg_len, "backend: %zu speakers are too few for "
                    "%zu LDA dimensions (need at least %zu)", n_classes,
                    out_dim, out_dim + 1);
        rc = ERR_INVAL;
        goto out;
    }

    for (i = 0; i < n; i++) {
        for (d = 0; d < in_dim; d++)
            b->mean[d] += ivecs[i * in_dim + d] / (double)n;
    }
    for (i = 0; i < n; i++)
        centre_normalise(ivecs + i * in_dim, b->mean, in_dim,
                         xn + i * in_dim);
    rc = voice_lda_fit(xn, labels, n, in_dim, out_dim, lda);
    if (rc != 0)
        goto fit_failed;
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n,
                (int)out_dim, (int)in_dim, 1.0, xn, (int)in_dim, lda,
                (int)in_dim, 0.0, z, (int)out_dim);
    rc = voice_wccn_fit(z, labels, n, out_dim, wccn);
    if (rc != 0)
        goto fit_failed;

    /* P = B A: one product per voiceprint instead of two. */
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)out_dim,
                (int)in_dim, (int)out_dim, 1.0, wccn, (int)out_dim, lda,
                (int)in_dim, 0.0, b->proj, (int)in_dim);
    *out = b;
    b = NULL;
    goto out;

fit_failed:
    if (rc == ERR_INVAL)
        err_message(msg, msg_len, "backend: no speaker has two i-vectors, "
                    "so within-speaker variation cannot be estimated");
    else if (rc == ERR_INTERNAL)
        err_message(msg, msg_len, "backend: LAPACK failed on a scatter "
                    "matrix");
out:
    if (rc == ERR_NOMEM)
        err_message(msg, msg_len, "backend: out of memory");
    voice_backend_free(b);
    free(cls);
    free(xn);
    free(lda);
    free(z);
    free(wccn);
    return rc;
}


void
voice_backend_apply(const struct voice_backend *b, const double *ivec,
                    float *out)
{
    double x[VOICE_BACKEND_MAX_DIM], y[VOICE_BACKEND_MAX_DIM], norm = 0.0;
    size_t j;

    centre_normalise(ivec, b->mean, b->in_dim, x);
    cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)b->out_dim,
                (int)b->in_dim, 1.0, b->proj, (int)b->in_dim, x, 1, 0.0, y,
                1);
    for (j = 0; j < b->out_dim; j++)
        norm += y[j] * y[j];
    norm = sqrt(norm);
    for (j = 0; j < b->out_dim; j++)
        out[j] = norm > 0.0 ? (float)(y[j] / norm) : 0.0f;
}


double
voice_cosine(const float *a, const float *b, size_t dim)
{
    double ab = 0.0, aa = 0.0, bb = 0.0;
    size_t d;

    for (d = 0; d < dim; d++) {
        ab += (double)a[d] * b[d];
        aa += (double)a[d] * a[d];
        bb += (double)b[d] * b[d];
    }
    if (aa == 0.0 || bb == 0.0)
        return 0.0;
    return ab / sqrt(aa * bb);
}


/* log(1 + exp(-m)) without overflow. */
static double
softplus_neg(double m)
{
    return m > 0.0 ? log1p(exp(-m)) : -m + log1p(exp(m));
}


static double
sigmoid(double z)
{
    return z >= 0.0 ? 1.0 / (1.0 + exp(-z)) : exp(z) / (1.0 + exp(z));
}


/* The regularised, prior-weighted cross-entropy at (a, b). */
static double
cal_objective(const double *s, const int *tgt, size_t n, double wt,
              double wn, double a, double b)
{
    double f = 0.5 * (CAL_RIDGE_A * a * a + CAL_RIDGE_B * b * b);
    size_t i;

    for (i = 0; i < n; i++) {
        double z = a * s[i] + b;

        f += tgt[i] ? wt * softplus_neg(z) : wn * softplus_neg(-z);
    }
    return f;
}


int
voice_calibration_fit(const double *scores, const int *is_target,
                      size_t n, struct voice_calibration *out)
{
    double wt, wn, a = 0.0, b = 0.0, f;
    size_t i, n_tgt = 0;
    int it;

    if (scores == NULL || is_target == NULL)
        return ERR_INVAL;
    for (i = 0; i < n; i++) {
        if (!isfinite(scores[i]))
            return ERR_INVAL;
        n_tgt += is_target[i] != 0;
    }
    if (n_tgt == 0 || n_tgt == n)
        return ERR_INVAL;
    wt = 0.5 / (double)n_tgt;
    wn = 0.5 / (double)(n - n_tgt);
    f = cal_objective(scores, is_target, n, wt, wn, a, b);

    for (it = 0; it < CAL_MAX_ITERS; it++) {
        double ga = CAL_RIDGE_A * a, gb = CAL_RIDGE_B * b;
        double haa = CAL_RIDGE_A, hab = 0.0, hbb = CAL_RIDGE_B;
        double det, da, db, step = 1.0, fn = f;

        for (i = 0; i < n; i++) {
            double p = sigmoid(a * scores[i] + b);
            double w = is_target[i] ? wt : wn;
            double r = w * (p - (is_target[i] ? 1.0 : 0.0));
            double h = w * p * (1.0 - p);

            ga += r * scores[i];
            gb += r;
            haa += h * scores[i] * scores[i];
            hab += h * scores[i];
            hbb += h;
        }
        det = haa * hbb - hab * hab;
        if (!(det > 0.0))
            break;
        da = (hbb * ga - hab * gb) / det;
        db = (haa * gb - hab * ga) / det;

        /* Backtrack until the objective falls: Newton may overshoot
         * where the sigmoid saturates. */
        while (step > 1e-10) {
            fn = cal_objective(scores, is_target, n, wt, wn,
                               a - step * da, b - step * db);
            if (fn <= f)
                break;
            step *= 0.5;
        }
        if (!(step > 1e-10))
            break;
        a -= step * da;
        b -= step * db;
        if (f - fn < 1e-15 && fabs(step * da) + fabs(step * db) < 1e-10)
            break;
        f = fn;
    }
    out->a = a;
    out->b = b;
    return 0;
}


int
voice_calibration_apply(const struct voice_calibration *cal, double cosine)
{
    double p = 100.0 * sigmoid(cal->a * cosine + cal->b);
    long r = lround(p);

    return r < 0 ? 0 : r > 100 ? 100 : (int)r;
}


int
voice_calibration_threshold(const struct voice_calibration *cal,
                            const double *scores, const int *is_target,
                            size_t n, double max_far)
{
    size_t hist[101] = {0}, n_non = 0, above = 0, i;
    int t;

    for (i = 0; i < n; i++) {
        if (is_target[i])
            continue;
        hist[voice_calibration_apply(cal, scores[i])]++;
        n_non++;
    }
    if (n_non == 0)
        return ERR_INVAL;

    /* above = non-targets scoring t or more, counted from the top. */
    for (t = 100; t >= 50; t--)
        above += hist[t];
    for (t = 50; t < 99; t++) {
        if ((double)above <= max_far * (double)n_non)
            return t;
        above -= hist[t];
    }
    return 99;
}


int
voice_eer(const double *scores, const int *is_target, size_t n, double *eer)
{
    struct keyed *k;
    size_t i, n_tgt = 0, n_non, miss = 0, fa;
    double best = 2.0, result = 1.0;

    if (scores == NULL || is_target == NULL)
        return ERR_INVAL;
    for (i = 0; i < n; i++)
        n_tgt += is_target[i] != 0;
    n_non = n - n_tgt;
    if (n_tgt == 0 || n_non == 0)
        return ERR_INVAL;
    k = malloc(n * sizeof(*k));
    if (k == NULL)
        return ERR_NOMEM;
    for (i = 0; i < n; i++) {
        k[i].key = scores[i];
        k[i].label = is_target[i] != 0;
        k[i].index = i;
    }
    qsort(k, n, sizeof(*k), cmp_keyed);

    /* Threshold just above sorted position i: trials 0..i are rejected. */
    fa = n_non;
    for (i = 0; i <= n; i++) {
        double pm = (double)miss / (double)n_tgt;
        double pf = (double)fa / (double)n_non;

        if (fabs(pm - pf) < best) {
            best = fabs(pm - pf);
            result = 0.5 * (pm + pf);
        }
        if (i == n)
            break;
        if (k[i].label)
            miss++;
        else
            fa--;
    }
    free(k);
    *eer = result;
    return 0;
}
