/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for the statistical speaker model: PRNG, GMM-UBM, i-vectors,
 * back-end, calibration and the model file.
 *
 * The data are synthetic and drawn with the engine's own seeded PRNG. A
 * "world" is a mixture of well-separated Gaussians; a speaker shifts every
 * component's mean by V y (y ~ N(0, I), one per speaker) and every
 * utterance adds a smaller channel shift U x (x ~ N(0, I), one per
 * utterance), which is exactly the structure an i-vector system models.
 * One model trained on such a world in the group setup serves the tests
 * that only read it.
 */
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "util/err.h"
#include "voice/backend.h"
#include "voice/gmm.h"
#include "voice/ivector.h"
#include "voice/modelfile.h"
#include "voice/rng.h"

#define W_DIM 12         /* feature dimension of the synthetic world */
#define W_COMP 8         /* true Gaussians */
#define W_SPK_RANK 6     /* speaker subspace */
#define W_CHN_RANK 3     /* channel subspace */

struct world {
    double means[W_COMP][W_DIM];
    double sd[W_COMP][W_DIM];
    double v[W_COMP][W_DIM][W_SPK_RANK];
    double u[W_COMP][W_DIM][W_CHN_RANK];
};

struct corpus {
    struct voice_train_utt *utts;
    float **feats;
    size_t n;
};

struct fixture {
    struct world world;
    struct corpus train;
    struct corpus test;
    struct voice_model *model;
    struct voice_train_options opt;
};


static void
world_init(struct world *w, uint64_t seed)
{
    struct voice_rng r;

    voice_rng_seed(&r, seed);
    for (int c = 0; c < W_COMP; c++) {
        for (int d = 0; d < W_DIM; d++) {
            w->means[c][d] = 3.0 * voice_rng_normal(&r);
            w->sd[c][d] = 0.6 + 0.6 * voice_rng_uniform(&r);
            for (int k = 0; k < W_SPK_RANK; k++)
                w->v[c][d][k] = 0.25 * voice_rng_normal(&r);
            for (int k = 0; k < W_CHN_RANK; k++)
                w->u[c][d][k] = 0.08 * voice_rng_normal(&r);
        }
    }
}


/* Draws 'n_frames' frames of the speaker with latent seed 'spk_seed'
 * through one channel drawn from 'r'. */
static float *
draw_utt(const struct world *w, uint64_t spk_seed, size_t n_frames,
         struct voice_rng *r)
{
    struct voice_rng sr;
    double y[W_SPK_RANK], x[W_CHN_RANK];
    double shift[W_COMP][W_DIM];
    float *f = malloc(n_frames * W_DIM * sizeof(float));

    assert_non_null(f);
    voice_rng_seed(&sr, spk_seed);
    for (int k = 0; k < W_SPK_RANK; k++)
        y[k] = voice_rng_normal(&sr);
    for (int k = 0; k < W_CHN_RANK; k++)
        x[k] = voice_rng_normal(r);
    for (int c = 0; c < W_COMP; c++) {
        for (int d = 0; d < W_DIM; d++) {
            shift[c][d] = w->means[c][d];
            for (int k = 0; k < W_SPK_RANK; k++)
                shift[c][d] += w->v[c][d][k] * y[k];
            for (int k = 0; k < W_CHN_RANK; k++)
                shift[c][d] += w->u[c][d][k] * x[k];
        }
    }
    for (size_t t = 0; t < n_frames; t++) {
        int c = (int)voice_rng_below(r, W_COMP);

        for (int d = 0; d < W_DIM; d++) {
            f[t * W_DIM + d] = (float)(shift[c][d]
                                       + w->sd[c][d] * voice_rng_normal(r));
        }
    }
    return f;
}


/* Speakers first_spk .. first_spk + n_spk - 1, 'per_spk' utterances each
 * of 'n_frames' frames. */
static void
corpus_make(struct corpus *cp, const struct world *w, int first_spk,
            int n_spk, int per_spk, size_t n_frames, uint64_t seed)
{
    struct voice_rng r;
    size_t k = 0;

    voice_rng_seed(&r, seed);
    cp->n = (size_t)n_spk * (size_t)per_spk;
    cp->utts = calloc(cp->n, sizeof(*cp->utts));
    cp->feats = calloc(cp->n, sizeof(*cp->feats));
    assert_non_null(cp->utts);
    assert_non_null(cp->feats);
    for (int s = first_spk; s < first_spk + n_spk; s++) {
        for (int i = 0; i < per_spk; i++, k++) {
            cp->feats[k] = draw_utt(w, 1000u + (uint64_t)s, n_frames, &r);
            cp->utts[k].feats = cp->feats[k];
            cp->utts[k].n_frames = n_frames;
            cp->utts[k].speaker = s;
        }
    }
}


static void
corpus_free(struct corpus *cp)
{
    for (size_t i = 0; i < cp->n; i++)
        free(cp->feats[i]);
    free(cp->feats);
    free(cp->utts);
}


static void
small_options(struct voice_train_options *opt)
{
    voice_train_options_default(opt);
    opt->dim = W_DIM;
    opt->n_components = 16;
    opt->tv_rank = 16;
    opt->lda_dim = 8;
    opt->ubm_max_frames = 50000;
    opt->seed = 7;
}


static int
group_setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    char msg[256] = "";

    if (fx == NULL)
        return -1;
    world_init(&fx->world, 42);
    corpus_make(&fx->train, &fx->world, 0, 60, 5, 300, 1);
    corpus_make(&fx->test, &fx->world, 500, 30, 4, 300, 2);
    small_options(&fx->opt);
    if (voice_model_train(fx->train.utts, fx->train.n, &fx->opt,
                          &fx->model, msg, sizeof(msg)) != 0) {
        fprintf(stderr, "training failed: %s\n", msg);
        return -1;
    }
    *state = fx;
    return 0;
}


static int
group_teardown(void **state)
{
    struct fixture *fx = *state;

    voice_model_free(fx->model);
    corpus_free(&fx->train);
    corpus_free(&fx->test);
    free(fx);
    return 0;
}


/* Cosine trials of every pair of 'vp' (n x dim) labelled by 'spk'. */
static size_t
all_pairs(const float *vp, const int *spk, size_t n, size_t dim,
          double *scores, int *is_target)
{
    size_t k = 0;

    for (size_t i = 0; i < n; i++) {
        for (size_t j = i + 1; j < n; j++) {
            scores[k] = voice_cosine(vp + i * dim, vp + j * dim, dim);
            is_target[k] = spk[i] == spk[j];
            k++;
        }
    }
    return k;
}


/* ---- PRNG ------------------------------------------------------------- */

static void
test_rng_same_seed_same_stream_and_sane_moments(void **state)
{
    struct voice_rng a, b;
    double sum = 0.0, sum2 = 0.0, usum = 0.0;
    int n = 200000, differ = 0;

    voice_rng_seed(&a, 99);
    voice_rng_seed(&b, 99);
    for (int i = 0; i < 1000; i++)
        assert_true(voice_rng_next(&a) == voice_rng_next(&b));
    voice_rng_seed(&b, 100);
    for (int i = 0; i < 10; i++)
        differ += voice_rng_next(&a) != voice_rng_next(&b);
    assert_int_equal(differ, 10);

    for (int i = 0; i < n; i++) {
        double z = voice_rng_normal(&a);
        double u = voice_rng_uniform(&a);

        assert_true(u >= 0.0 && u < 1.0);
        usum += u;
        sum += z;
        sum2 += z * z;
    }
    assert_true(fabs(usum / n - 0.5) < 0.01);
    assert_true(fabs(sum / n) < 0.01);
    assert_true(fabs(sum2 / n - 1.0) < 0.02);
    for (int i = 0; i < 1000; i++)
        assert_true(voice_rng_below(&a, 7) < 7);
}


/* ---- GMM -------------------------------------------------------------- */

/* Frames from four unit Gaussians centred at (+-8, +-8, 0, ...). */
static float *
four_blobs(size_t n, size_t dim, uint64_t seed)
{
    static const double cx[4] = { -8, 8, -8, 8 }, cy[4] = { -8, -8, 8, 8 };
    struct voice_rng r;
    float *x = malloc(n * dim * sizeof(float));

    assert_non_null(x);
    voice_rng_seed(&r, seed);
    for (size_t t = 0; t < n; t++) {
        int c = (int)(t % 4);

        for (size_t d = 0; d < dim; d++) {
            double m = d == 0 ? cx[c] : d == 1 ? cy[c] : 0.0;

            x[t * dim + d] = (float)(m + voice_rng_normal(&r));
        }
    }
    return x;
}


static void
test_gmm_em_loglik_never_decreases(void **state)
{
    enum { N = 4000, D = 3, C = 4, IT = 25 };
    double w[C] = { 0.25, 0.25, 0.25, 0.25 }, mu[C * D], var[C * D];
    double ll[IT];
    float *x = four_blobs(N, D, 5);
    struct voice_gmm *g = NULL;

    /* A poor start: all means near the origin. */
    for (int i = 0; i < C * D; i++) {
        mu[i] = 0.1 * (i % 5) - 0.2;
        var[i] = 1.0;
    }
    assert_int_equal(voice_gmm_new(C, D, w, mu, var, &g), 0);
    assert_int_equal(voice_gmm_em(g, x, N, IT, NULL, ll), 0);
    for (int i = 1; i < IT; i++)
        assert_true(ll[i] >= ll[i - 1] - 1e-9);
    assert_true(ll[IT - 1] > ll[0] + 1.0);
    voice_gmm_free(g);
    free(x);
}


static void
test_gmm_train_recovers_separated_means(void **state)
{
    enum { N = 8000, D = 3 };
    static const double cx[4] = { -8, 8, -8, 8 }, cy[4] = { -8, -8, 8, 8 };
    struct voice_gmm_train_options opt;
    struct voice_gmm *g = NULL;
    double *ll = NULL;
    size_t n_ll = 0;
    float *x = four_blobs(N, D, 6);
    char msg[128];

    voice_gmm_train_options_default(&opt, 4);
    opt.split_iterations = 5;
    opt.final_iterations = 10;
    assert_int_equal(voice_gmm_train(x, N, D, &opt, &g, &ll, &n_ll, msg,
                                     sizeof(msg)), 0);
    assert_int_equal(n_ll, 5 + 5 + 10);
    for (size_t i = 11; i < n_ll; i++)
        assert_true(ll[i] >= ll[i - 1] - 1e-9);

    /* Every true centre has a learnt component within 0.15, with weight
     * near 1/4 and variances near 1. */
    for (int c = 0; c < 4; c++) {
        int found = 0;

        for (int k = 0; k < 4; k++) {
            const double *m = voice_gmm_means(g) + k * D;
            const double *v = voice_gmm_vars(g) + k * D;

            if (fabs(m[0] - cx[c]) < 0.15 && fabs(m[1] - cy[c]) < 0.15
                && fabs(m[2]) < 0.15) {
                found++;
                assert_true(fabs(voice_gmm_weights(g)[k] - 0.25) < 0.01);
                for (int d = 0; d < D; d++)
                    assert_true(fabs(v[d] - 1.0) < 0.15);
            }
        }
        assert_int_equal(found, 1);
    }
    voice_gmm_free(g);
    free(ll);
    free(x);
}


static void
test_gmm_stats_sum_to_frames_and_pool(void **state)
{
    struct fixture *fx = *state;
    const struct voice_gmm *ubm = voice_model_ubm(fx->model);
    size_t nc = voice_gmm_n_components(ubm), dim = voice_gmm_dim(ubm);
    const struct voice_train_utt *u0 = &fx->test.utts[0];
    const struct voice_train_utt *u1 = &fx->test.utts[1];
    double *n = calloc(nc, sizeof(double)), *f = calloc(nc * dim, 8);
    double *n2 = calloc(nc, sizeof(double)), *f2 = calloc(nc * dim, 8);
    float *cat = malloc((u0->n_frames + u1->n_frames) * dim * 4);
    double total = 0.0, fsum[W_DIM] = { 0 }, xsum[W_DIM] = { 0 };

    assert_int_equal(voice_gmm_stats_add(ubm, u0->feats, u0->n_frames, 10.0,
                                         n, f), 0);
    for (size_t c = 0; c < nc; c++) {
        total += n[c];
        for (size_t d = 0; d < dim; d++)
            fsum[d] += f[c * dim + d];
    }
    assert_true(fabs(total - (double)u0->n_frames) < 1e-9);

    /* Posteriors sum to one per frame, so first-order statistics sum to
     * the sum of the frames. */
    for (size_t t = 0; t < u0->n_frames; t++) {
        for (size_t d = 0; d < dim; d++)
            xsum[d] += u0->feats[t * dim + d];
    }
    for (size_t d = 0; d < dim; d++)
        assert_true(fabs(fsum[d] - xsum[d]) < 1e-6 * (1 + fabs(xsum[d])));

    /* Pooling two calls equals the statistics of the joined frames. */
    assert_int_equal(voice_gmm_stats_add(ubm, u1->feats, u1->n_frames, 10.0,
                                         n, f), 0);
    memcpy(cat, u0->feats, u0->n_frames * dim * 4);
    memcpy(cat + u0->n_frames * dim, u1->feats, u1->n_frames * dim * 4);
    assert_int_equal(voice_gmm_stats_add(ubm, cat,
                                         u0->n_frames + u1->n_frames, 10.0,
                                         n2, f2), 0);
    for (size_t c = 0; c < nc; c++) {
        assert_true(fabs(n[c] - n2[c]) < 1e-9);
        for (size_t d = 0; d < dim; d++)
            assert_true(fabs(f[c * dim + d] - f2[c * dim + d]) < 1e-7);
    }
    free(n);
    free(f);
    free(n2);
    free(f2);
    free(cat);
}


static void
test_gmm_posteriors_rows_sum_to_one_and_prune(void **state)
{
    struct fixture *fx = *state;
    const struct voice_gmm *ubm = voice_model_ubm(fx->model);
    size_t nc = voice_gmm_n_components(ubm), n = 200, zeros = 0;
    double *post = malloc(n * nc * sizeof(double));

    assert_int_equal(voice_gmm_posteriors(ubm, fx->test.feats[0], n, 5.0,
                                          post), 0);
    for (size_t t = 0; t < n; t++) {
        double s = 0.0;

        for (size_t c = 0; c < nc; c++) {
            assert_true(post[t * nc + c] >= 0.0);
            s += post[t * nc + c];
            zeros += post[t * nc + c] == 0.0;
        }
        assert_true(fabs(s - 1.0) < 1e-12);
    }
    /* With well-separated components most posteriors are pruned. */
    assert_true(zeros > n * nc / 2);
    free(post);
}


static void
test_gmm_rejects_bad_input_and_leaves_outputs(void **state)
{
    struct fixture *fx = *state;
    const struct voice_gmm *ubm = voice_model_ubm(fx->model);
    size_t nc = voice_gmm_n_components(ubm);
    double n[64] = { 0 }, f[64 * W_DIM] = { 0 }, ll = 123.0;
    double w[2] = { 0.5, 0.6 }, mu[2] = { 0, 1 }, var[2] = { 1, 1 };
    struct voice_gmm *g = NULL;
    float x[2 * W_DIM] = { 0 };

    assert_true(nc <= 64);
    x[W_DIM + 3] = NAN;
    assert_int_equal(voice_gmm_stats_add(ubm, x, 2, 10.0, n, f), ERR_INVAL);
    for (size_t c = 0; c < nc; c++)
        assert_true(n[c] == 0.0);
    assert_int_equal(voice_gmm_stats_add(ubm, x, 0, 10.0, n, f), ERR_INVAL);
    assert_int_equal(voice_gmm_loglik(ubm, x, 2, &ll), ERR_INVAL);
    assert_true(ll == 123.0);
    assert_int_equal(voice_gmm_loglik(ubm, x, 1, &ll), 0);
    assert_true(isfinite(ll));

    assert_int_equal(voice_gmm_new(2, 1, w, mu, var, &g), ERR_INVAL);
    w[1] = 0.5;
    var[1] = 0.0;
    assert_int_equal(voice_gmm_new(2, 1, w, mu, var, &g), ERR_INVAL);
    assert_null(g);
    var[1] = 2.0;
    assert_int_equal(voice_gmm_new(2, 1, w, mu, var, &g), 0);
    voice_gmm_free(g);
    voice_gmm_free(NULL);
}


/* ---- i-vectors -------------------------------------------------------- */

static void
test_ivectors_of_same_speaker_are_closer(void **state)
{
    struct fixture *fx = *state;
    const struct voice_gmm *ubm = voice_model_ubm(fx->model);
    const struct voice_tv *tv = voice_model_tv(fx->model);
    size_t nc = voice_gmm_n_components(ubm), dim = voice_gmm_dim(ubm);
    size_t r = voice_tv_rank(tv), n = fx->test.n, i, k, nt;
    double *iv = malloc(n * r * sizeof(double)), *mean = calloc(r, 8);
    float *fv = malloc(n * r * sizeof(float));
    int *spk = malloc(n * sizeof(int));
    double *scores = malloc(n * n * sizeof(double)), eer;
    int *tgt = malloc(n * n * sizeof(int));
    double same = 0, diff = 0;
    size_t n_same = 0, n_diff = 0;

    for (i = 0; i < n; i++) {
        double *nn = calloc(nc, 8), *ff = calloc(nc * dim, 8);

        assert_int_equal(voice_gmm_stats_add(ubm, fx->test.feats[i],
                                             fx->test.utts[i].n_frames,
                                             10.0, nn, ff), 0);
        assert_int_equal(voice_tv_extract(tv, nn, ff, iv + i * r), 0);
        spk[i] = fx->test.utts[i].speaker;
        for (k = 0; k < r; k++)
            mean[k] += iv[i * r + k] / (double)n;
        free(nn);
        free(ff);
    }
    for (i = 0; i < n * r; i++)
        fv[i] = (float)(iv[i] - mean[i % r]);

    /* Raw centred i-vectors of unseen speakers, no back-end at all. */
    nt = all_pairs(fv, spk, n, r, scores, tgt);
    for (i = 0; i < nt; i++) {
        if (tgt[i]) {
            same += scores[i];
            n_same++;
        } else {
            diff += scores[i];
            n_diff++;
        }
    }
    assert_true(same / n_same > diff / n_diff + 0.3);

    /* Raw i-vectors carry channel and sampling noise too; LDA and WCCN
     * remove most of it (test_model_separates_unseen_speakers asks for
     * 5% there). */
    assert_int_equal(voice_eer(scores, tgt, nt, &eer), 0);
    assert_true(eer <= 0.15);
    free(iv);
    free(mean);
    free(fv);
    free(spk);
    free(scores);
    free(tgt);
}


static void
test_tv_training_likelihood_never_decreases(void **state)
{
    struct fixture *fx = *state;
    const struct voice_gmm *ubm = voice_model_ubm(fx->model);
    size_t nc = voice_gmm_n_components(ubm), sv = nc * voice_gmm_dim(ubm);
    size_t n = fx->train.n;
    double *ns = calloc(n * nc, 8), *f = malloc(sv * 8), *fn = malloc(sv * 8);
    float *fs = malloc(n * sv * 4);
    struct voice_tv_options opt;
    struct voice_tv *tv = NULL;
    double ll[10];
    char msg[128];

    for (size_t u = 0; u < n; u++) {
        memset(f, 0, sv * 8);
        assert_int_equal(voice_gmm_stats_add(ubm, fx->train.feats[u], 300,
                                             10.0, ns + u * nc, f), 0);
        voice_tv_normalise_stats(ubm, ns + u * nc, f, fn);
        for (size_t i = 0; i < sv; i++)
            fs[u * sv + i] = (float)fn[i];
    }
    for (int md = 0; md < 2; md++) {
        voice_tv_options_default(&opt, 12);
        opt.iterations = 10;
        opt.min_divergence = md;
        assert_int_equal(voice_tv_train(ubm, ns, fs, n, &opt, &tv, ll, msg,
                                        sizeof(msg)), 0);
        for (int i = 1; i < 10; i++)
            assert_true(ll[i] >= ll[i - 1] - 1e-9 * fabs(ll[i - 1]));
        assert_true(ll[9] > ll[0] + 1.0);
        assert_int_equal(voice_tv_rank(tv), 12);
        voice_tv_free(tv);
        tv = NULL;
    }

    opt.rank = 0;
    assert_int_equal(voice_tv_train(ubm, ns, fs, n, &opt, &tv, NULL, msg,
                                    sizeof(msg)), ERR_INVAL);
    assert_null(tv);
    free(ns);
    free(f);
    free(fn);
    free(fs);
}


static void
test_ivector_batch_matches_single_extraction(void **state)
{
    struct fixture *fx = *state;
    const struct voice_gmm *ubm = voice_model_ubm(fx->model);
    const struct voice_tv *tv = voice_model_tv(fx->model);
    size_t nc = voice_gmm_n_components(ubm), sv = nc * voice_gmm_dim(ubm);
    size_t r = voice_tv_rank(tv);
    double *n = calloc(nc, 8), *f = calloc(sv, 8), *fn = malloc(sv * 8);
    double *w1 = malloc(r * 8), *w2 = malloc(r * 8);
    float *ff = malloc(sv * 4);

    assert_int_equal(voice_gmm_stats_add(ubm, fx->test.feats[3], 300, 10.0,
                                         n, f), 0);
    voice_tv_normalise_stats(ubm, n, f, fn);
    for (size_t i = 0; i < sv; i++)
        ff[i] = (float)fn[i];
    assert_int_equal(voice_tv_extract(tv, n, f, w1), 0);
    assert_int_equal(voice_tv_extract_batch(tv, n, ff, 1, w2), 0);
    for (size_t k = 0; k < r; k++)
        assert_true(fabs(w1[k] - w2[k]) < 1e-4 * (1 + fabs(w1[k])));
    free(n);
    free(f);
    free(fn);
    free(w1);
    free(w2);
    free(ff);
}


/* ---- back-end --------------------------------------------------------- */

static void
test_lda_and_wccn_have_expected_shapes_and_whiten(void **state)
{
    enum { N = 400, D = 6, L = 3, S = 20 };
    double x[N * D], proj[L * D], z[N * L], b[L * L];
    int lab[N];
    struct voice_rng r;

    voice_rng_seed(&r, 3);
    for (int i = 0; i < N; i++) {
        lab[i] = 100 + i % S;
        for (int d = 0; d < D; d++) {
            /* Speakers differ along dims 0-2 only. */
            double spk = d < 3 ? 3.0 * sin(lab[i] * (d + 1.3)) : 0.0;

            x[i * D + d] = spk + (d == 0 ? 0.2 : 1.0) * voice_rng_normal(&r);
        }
    }
    assert_int_equal(voice_lda_fit(x, lab, N, D, L, proj), 0);

    /* Discriminant directions avoid the dims that carry no speaker. */
    for (int j = 0; j < L; j++) {
        double in = 0, out = 0;

        for (int d = 0; d < D; d++) {
            if (d < 3)
                in += proj[j * D + d] * proj[j * D + d];
            else
                out += proj[j * D + d] * proj[j * D + d];
        }
        assert_true(out < 0.05 * in);
    }
    for (int i = 0; i < N; i++) {
        for (int j = 0; j < L; j++) {
            z[i * L + j] = 0;
            for (int d = 0; d < D; d++)
                z[i * L + j] += proj[j * D + d] * x[i * D + d];
        }
    }
    assert_int_equal(voice_wccn_fit(z, lab, N, L, b), 0);
    for (int i = 0; i < L; i++) {
        assert_true(b[i * L + i] > 0.0);
        for (int j = 0; j < i; j++)
            assert_true(b[i * L + j] == 0.0);
    }
    /* LDA vectors have unit within-class variance, so WCCN is close to
     * the identity here. */
    for (int i = 0; i < L; i++)
        assert_true(fabs(b[i * L + i] - 1.0) < 0.1);

    assert_int_equal(voice_lda_fit(x, lab, N, D, S, proj), ERR_INVAL);
    assert_int_equal(voice_lda_fit(x, lab, N, D, 0, proj), ERR_INVAL);
}


static void
test_backend_voiceprints_have_unit_length(void **state)
{
    struct fixture *fx = *state;
    const struct voice_backend *b = voice_model_backend(fx->model);
    float vp[64];
    double iv[64] = { 0 }, norm = 0;

    assert_int_equal(voice_backend_in_dim(b), fx->opt.tv_rank);
    assert_int_equal(voice_backend_out_dim(b), fx->opt.lda_dim);
    assert_int_equal(voice_model_voiceprint_dim(fx->model), fx->opt.lda_dim);
    iv[0] = 5.0;
    voice_backend_apply(b, iv, vp);
    for (size_t i = 0; i < fx->opt.lda_dim; i++)
        norm += vp[i] * vp[i];
    assert_true(fabs(norm - 1.0) < 1e-6);

    /* An i-vector equal to the mean has no direction. */
    voice_backend_apply(b, voice_backend_mean(b), vp);
    for (size_t i = 0; i < fx->opt.lda_dim; i++)
        assert_true(vp[i] == 0.0f);
}


static void
test_eer_of_known_trials(void **state)
{
    double s1[] = { 0.1, 0.2, 0.3, 0.4, 0.6, 0.7, 0.8, 0.9 };
    int t1[] = { 0, 0, 0, 0, 1, 1, 1, 1 };
    double s2[] = { 0.1, 0.2, 0.5, 0.3, 0.6, 0.7 };
    int t2[] = { 0, 0, 0, 1, 1, 1 };
    double eer = -1;

    assert_int_equal(voice_eer(s1, t1, 8, &eer), 0);
    assert_true(eer == 0.0);
    assert_int_equal(voice_eer(s2, t2, 6, &eer), 0);
    assert_true(fabs(eer - 1.0 / 3.0) < 1e-12);
    eer = -1;
    assert_int_equal(voice_eer(s1, t1, 4, &eer), ERR_INVAL);
    assert_true(eer == -1);
}


static void
test_calibration_is_increasing_and_centred(void **state)
{
    enum { N = 2000 };
    double s[N];
    int t[N];
    struct voice_calibration cal = { 0, 0 };
    struct voice_rng r;

    voice_rng_seed(&r, 11);
    for (int i = 0; i < N; i++) {
        t[i] = i % 4 == 0;
        s[i] = (t[i] ? 0.6 : 0.1) + 0.1 * voice_rng_normal(&r);
    }
    assert_int_equal(voice_calibration_fit(s, t, N, &cal), 0);
    assert_true(cal.a > 0);

    /* Equal-variance Gaussians: the log-likelihood ratio is zero halfway
     * between the means, whatever the class sizes. */
    assert_true(abs(voice_calibration_apply(&cal, 0.35) - 50) <= 3);
    assert_true(voice_calibration_apply(&cal, 0.9) == 100);
    assert_true(voice_calibration_apply(&cal, -0.2) == 0);
    assert_true(voice_calibration_threshold(&cal, s, t, N, 0.01) >= 50);

    /* Separable trials still give a finite fit. */
    for (int i = 0; i < N; i++)
        s[i] = t[i] ? 0.8 : 0.1;
    assert_int_equal(voice_calibration_fit(s, t, N, &cal), 0);
    assert_true(isfinite(cal.a) && isfinite(cal.b) && cal.a > 0);

    for (int i = 0; i < N; i++)
        t[i] = 1;
    assert_int_equal(voice_calibration_fit(s, t, N, &cal), ERR_INVAL);
}


/* ---- whole model ------------------------------------------------------ */

static void
test_model_separates_unseen_speakers(void **state)
{
    struct fixture *fx = *state;
    size_t n = fx->test.n, L = voice_model_voiceprint_dim(fx->model), i;
    float *vp = malloc(n * L * sizeof(float));
    int *spk = malloc(n * sizeof(int)), *tgt = malloc(n * n * sizeof(int));
    double *cos = malloc(n * n * sizeof(double)), eer;
    size_t nt, acc_t = 0, n_t = 0, rej_n = 0, n_n = 0;
    int th = voice_model_threshold(fx->model);
    struct voice_calibration cal = voice_model_calibration(fx->model);
    struct voice_train_report rep;

    for (i = 0; i < n; i++) {
        assert_int_equal(voice_model_embed(fx->model, fx->test.feats[i],
                                           fx->test.utts[i].n_frames,
                                           vp + i * L), 0);
        spk[i] = fx->test.utts[i].speaker;
    }
    nt = all_pairs(vp, spk, n, L, cos, tgt);
    assert_int_equal(voice_eer(cos, tgt, nt, &eer), 0);
    assert_true(eer <= 0.05);

    /* The calibrated threshold accepts most targets and rejects most
     * non-targets of speakers training never saw. */
    assert_true(th >= 50 && th <= 99);
    for (i = 0; i < nt; i++) {
        int s = voice_calibration_apply(&cal, cos[i]);

        if (tgt[i]) {
            n_t++;
            acc_t += s >= th;
        } else {
            n_n++;
            rej_n += s < th;
        }
    }
    assert_true(acc_t >= 0.9 * n_t);
    assert_true(rej_n >= 0.97 * n_n);

    voice_model_train_report(fx->model, &rep);
    assert_int_equal(rep.n_utts, fx->train.n);
    assert_int_equal(rep.n_speakers, 60);
    /* Five utterances: an enrollment of three against one test of two. */
    assert_int_equal(rep.n_target_trials, 60);
    assert_true(rep.heldout_eer <= 0.05);
    assert_true(strncmp(voice_model_version(fx->model),
                        VOICE_MODEL_VERSION_PREFIX,
                        strlen(VOICE_MODEL_VERSION_PREFIX)) == 0);
    assert_int_equal(strlen(voice_model_version(fx->model)),
                     strlen(VOICE_MODEL_VERSION_PREFIX) + 16);
    free(vp);
    free(spk);
    free(tgt);
    free(cos);
}


static void
test_model_score_is_cosine_mapped(void **state)
{
    struct fixture *fx = *state;
    size_t L = voice_model_voiceprint_dim(fx->model);
    float a[64], b[64];
    double c = 2.0;
    int s;

    assert_int_equal(voice_model_embed(fx->model, fx->test.feats[0], 300, a),
                     0);
    assert_int_equal(voice_model_embed(fx->model, fx->test.feats[1], 300, b),
                     0);
    s = voice_model_score(fx->model, a, b, &c);
    assert_true(fabs(c - voice_cosine(a, b, L)) < 1e-12);
    assert_true(s >= 0 && s <= 100);
    assert_int_equal(voice_model_score(fx->model, a, a, NULL),
                     voice_model_score(fx->model, b, b, NULL));
    assert_int_equal(voice_model_score(fx->model, a, b, NULL),
                     voice_model_score(fx->model, b, a, NULL));
}


static void
test_model_multi_file_enrollment_pools_statistics(void **state)
{
    struct fixture *fx = *state;
    size_t L = voice_model_voiceprint_dim(fx->model), dim = W_DIM;
    const float *files[3] = { fx->test.feats[0], fx->test.feats[1],
                              fx->test.feats[2] };
    size_t frames[3] = { 300, 0, 300 };
    float *cat = malloc(600 * dim * sizeof(float));
    float a[64], b[64], c[64];

    memcpy(cat, files[0], 300 * dim * sizeof(float));
    memcpy(cat + 300 * dim, files[2], 300 * dim * sizeof(float));
    assert_int_equal(voice_model_embed_files(fx->model, files, frames, 3, a),
                     0);
    assert_int_equal(voice_model_embed(fx->model, cat, 600, b), 0);
    for (size_t i = 0; i < L; i++)
        assert_true(fabs(a[i] - b[i]) < 1e-5);

    /* No frames at all is refused, and the output is left alone. */
    memset(c, 0x7f, sizeof(c));
    frames[0] = frames[2] = 0;
    assert_int_equal(voice_model_embed_files(fx->model, files, frames, 3, c),
                     ERR_INVAL);
    assert_int_equal(voice_model_embed(fx->model, cat, 0, c), ERR_INVAL);
    for (size_t i = 0; i < L; i++)
        assert_true(memcmp(&c[i], &(float){ 0 }, 4) != 0);
    free(cat);
}


static char *
tmp_path(const char *name)
{
    static char path[256];

    snprintf(path, sizeof(path), "/tmp/test_voice_model_%ld_%s",
             (long)getpid(), name);
    return path;
}


static void
test_model_save_load_round_trip_scores_identically(void **state)
{
    struct fixture *fx = *state;
    struct voice_model *m2 = NULL;
    size_t L = voice_model_voiceprint_dim(fx->model);
    float a1[64], b1[64], a2[64], b2[64];
    double c1, c2;
    char msg[256] = "";
    const char *path = tmp_path("rt.model");

    assert_int_equal(voice_model_save(fx->model, path, msg, sizeof(msg)), 0);
    assert_int_equal(voice_model_load(path, &m2, msg, sizeof(msg)), 0);
    assert_string_equal(voice_model_version(m2),
                        voice_model_version(fx->model));
    assert_int_equal(voice_model_threshold(m2),
                     voice_model_threshold(fx->model));
    assert_int_equal(voice_model_feature_dim(m2), W_DIM);

    assert_int_equal(voice_model_embed(fx->model, fx->test.feats[4], 300,
                                       a1), 0);
    assert_int_equal(voice_model_embed(fx->model, fx->test.feats[9], 300,
                                       b1), 0);
    assert_int_equal(voice_model_embed(m2, fx->test.feats[4], 300, a2), 0);
    assert_int_equal(voice_model_embed(m2, fx->test.feats[9], 300, b2), 0);
    assert_memory_equal(a1, a2, L * sizeof(float));
    assert_memory_equal(b1, b2, L * sizeof(float));
    assert_int_equal(voice_model_score(fx->model, a1, b1, &c1),
                     voice_model_score(m2, a2, b2, &c2));
    assert_true(c1 == c2);
    voice_model_free(m2);
    unlink(path);
}


static int
load_mutated(const uint8_t *img, size_t len, char *msg, size_t msg_len)
{
    const char *path = tmp_path("bad.model");
    struct voice_model *m = NULL;
    FILE *f = fopen(path, "wb");
    int rc;

    assert_non_null(f);
    assert_int_equal(fwrite(img, 1, len, f), len);
    fclose(f);
    rc = voice_model_load(path, &m, msg, msg_len);
    assert_null(m);
    unlink(path);
    return rc;
}


static void
test_model_load_refuses_damaged_files(void **state)
{
    struct fixture *fx = *state;
    uint8_t *img = NULL, *copy;
    size_t len = 0;
    char msg[256];
    struct voice_model *m = NULL;

    assert_int_equal(voice_model_to_bytes(fx->model, &img, &len), 0);
    copy = malloc(len + 1);

    /* One flipped bit deep in T. */
    memcpy(copy, img, len);
    copy[len / 2] ^= 0x10;
    assert_int_equal(load_mutated(copy, len, msg, sizeof(msg)), ERR_INVAL);
    assert_non_null(strstr(msg, "checksum"));
    assert_non_null(strstr(msg, tmp_path("bad.model")));

    /* Truncated anywhere, including inside the header. */
    assert_int_equal(load_mutated(img, len - 1, msg, sizeof(msg)),
                     ERR_INVAL);
    assert_non_null(strstr(msg, "truncated"));
    assert_int_equal(load_mutated(img, 20, msg, sizeof(msg)), ERR_INVAL);
    assert_non_null(strstr(msg, "truncated"));
    assert_int_equal(load_mutated(img, 0, msg, sizeof(msg)), ERR_INVAL);

    /* Trailing garbage. */
    memcpy(copy, img, len);
    copy[len] = 0;
    assert_int_equal(load_mutated(copy, len + 1, msg, sizeof(msg)),
                     ERR_INVAL);
    assert_non_null(strstr(msg, "trailing"));

    /* Another format version, and not a model at all. */
    memcpy(copy, img, len);
    copy[8] = 2;
    assert_int_equal(load_mutated(copy, len, msg, sizeof(msg)), ERR_INVAL);
    assert_non_null(strstr(msg, "version 2"));
    memcpy(copy, "RIFF", 4);
    assert_int_equal(load_mutated(copy, len, msg, sizeof(msg)), ERR_INVAL);
    assert_non_null(strstr(msg, "magic"));

    /* Sizes that do not match the length. */
    memcpy(copy, img, len);
    copy[16] += 1;
    assert_int_equal(load_mutated(copy, len, msg, sizeof(msg)), ERR_INVAL);

    /* A missing file is an I/O error. */
    assert_int_equal(voice_model_load(tmp_path("absent.model"), &m, msg,
                                      sizeof(msg)), ERR_IO);
    assert_null(m);

    /* The undamaged image loads. */
    assert_int_equal(voice_model_from_bytes(img, len, &m, msg, sizeof(msg)),
                     0);
    voice_model_free(m);
    free(copy);
    free(img);
}


static uint64_t
fnv1a64(const uint8_t *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325u;

    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3u;
    }
    return h;
}


static void
test_model_load_checks_parameters_behind_a_valid_checksum(void **state)
{
    struct fixture *fx = *state;
    uint8_t *img = NULL;
    size_t len = 0, nc = fx->opt.n_components, var0;
    uint64_t h;
    double bad = -1.0;
    struct voice_model *m = NULL;
    char msg[256];

    assert_int_equal(voice_model_to_bytes(fx->model, &img, &len), 0);

    /* The first variance follows the 56-byte header, the weights and the
     * means; make it negative and seal the file again. */
    var0 = 56 + 8 * (nc + nc * W_DIM);
    memcpy(img + var0, &bad, 8);
    h = fnv1a64(img, len - 8);
    for (int i = 0; i < 8; i++)
        img[len - 8 + i] = (uint8_t)(h >> (8 * i));
    assert_int_equal(voice_model_from_bytes(img, len, &m, msg, sizeof(msg)),
                     ERR_INVAL);
    assert_null(m);
    assert_non_null(strstr(msg, "UBM"));
    assert_int_equal(voice_model_from_bytes(NULL, 0, &m, msg, sizeof(msg)),
                     ERR_INVAL);
    free(img);
}


static void
test_model_save_reports_unwritable_path(void **state)
{
    struct fixture *fx = *state;
    char msg[256] = "";

    assert_int_equal(voice_model_save(fx->model, "/nonexistent-dir/x.model",
                                      msg, sizeof(msg)), ERR_IO);
    assert_non_null(strstr(msg, "/nonexistent-dir/x.model"));
}


struct embed_job {
    const struct voice_model *model;
    const float *feats;
    float vp[20][64];
};


static void *
embed_many(void *arg)
{
    struct embed_job *job = arg;

    for (int i = 0; i < 20; i++) {
        if (voice_model_embed(job->model, job->feats, 300, job->vp[i]) != 0)
            job->vp[i][0] = NAN;
    }
    return NULL;
}


static void
test_model_embeds_concurrently_with_identical_results(void **state)
{
    struct fixture *fx = *state;
    size_t L = voice_model_voiceprint_dim(fx->model);
    struct embed_job jobs[3];
    pthread_t th[3];
    float ref[64];

    assert_int_equal(voice_model_embed(fx->model, fx->test.feats[7], 300,
                                       ref), 0);
    for (int t = 0; t < 3; t++) {
        jobs[t].model = fx->model;
        jobs[t].feats = fx->test.feats[7];
        assert_int_equal(pthread_create(&th[t], NULL, embed_many, &jobs[t]),
                         0);
    }
    for (int t = 0; t < 3; t++) {
        pthread_join(th[t], NULL);
        for (int i = 0; i < 20; i++)
            assert_memory_equal(jobs[t].vp[i], ref, L * sizeof(float));
    }
}


static void
test_model_training_is_deterministic(void **state)
{
    struct fixture *fx = *state;
    struct voice_model *m1 = NULL, *m2 = NULL, *m3 = NULL;
    struct voice_train_options opt = fx->opt;
    uint8_t *b1 = NULL, *b2 = NULL, *b3 = NULL;
    size_t l1 = 0, l2 = 0, l3 = 0;
    char msg[256];

    assert_int_equal(voice_model_train(fx->train.utts, fx->train.n, &opt,
                                       &m1, msg, sizeof(msg)), 0);
    assert_int_equal(voice_model_train(fx->train.utts, fx->train.n, &opt,
                                       &m2, msg, sizeof(msg)), 0);
    opt.seed = 8;
    assert_int_equal(voice_model_train(fx->train.utts, fx->train.n, &opt,
                                       &m3, msg, sizeof(msg)), 0);
    assert_int_equal(voice_model_to_bytes(m1, &b1, &l1), 0);
    assert_int_equal(voice_model_to_bytes(m2, &b2, &l2), 0);
    assert_int_equal(voice_model_to_bytes(m3, &b3, &l3), 0);
    assert_int_equal(l1, l2);
    assert_memory_equal(b1, b2, l1);
    assert_string_equal(voice_model_version(m1), voice_model_version(m2));

    /* The fixture's model came from the same options. */
    assert_string_equal(voice_model_version(m1),
                        voice_model_version(fx->model));
    assert_string_not_equal(voice_model_version(m1),
                            voice_model_version(m3));
    voice_model_free(m1);
    voice_model_free(m2);
    voice_model_free(m3);
    free(b1);
    free(b2);
    free(b3);
}


static void
test_model_train_rejects_bad_data(void **state)
{
    struct fixture *fx = *state;
    struct voice_train_options opt = fx->opt;
    struct voice_model *m = NULL;
    struct voice_train_utt bad[4];
    float nan_feats[W_DIM * 2] = { 0 };
    char msg[256];

    /* Too few speakers for LDA once a fold is held out. */
    assert_int_equal(voice_model_train(fx->train.utts, 40, &opt, &m, msg,
                                       sizeof(msg)), ERR_INVAL);
    assert_non_null(strstr(msg, "speakers are too few"));
    assert_null(m);

    memcpy(bad, fx->train.utts, sizeof(bad));
    nan_feats[W_DIM + 1] = NAN;
    bad[2].feats = nan_feats;
    bad[2].n_frames = 2;
    assert_int_equal(voice_model_train(bad, 4, &opt, &m, msg, sizeof(msg)),
                     ERR_INVAL);
    assert_non_null(strstr(msg, "not finite"));
    bad[2].n_frames = 0;
    assert_int_equal(voice_model_train(bad, 4, &opt, &m, msg, sizeof(msg)),
                     ERR_INVAL);
    assert_non_null(strstr(msg, "no frames"));

    opt.lda_dim = opt.tv_rank + 1;
    assert_int_equal(voice_model_train(fx->train.utts, fx->train.n, &opt,
                                       &m, msg, sizeof(msg)), ERR_INVAL);
    assert_non_null(strstr(msg, "lda_dim"));
    assert_null(m);
    voice_model_free(NULL);
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rng_same_seed_same_stream_and_sane_moments),
        cmocka_unit_test(test_gmm_em_loglik_never_decreases),
        cmocka_unit_test(test_gmm_train_recovers_separated_means),
        cmocka_unit_test(test_gmm_stats_sum_to_frames_and_pool),
        cmocka_unit_test(test_gmm_posteriors_rows_sum_to_one_and_prune),
        cmocka_unit_test(test_gmm_rejects_bad_input_and_leaves_outputs),
        cmocka_unit_test(test_ivectors_of_same_speaker_are_closer),
        cmocka_unit_test(test_tv_training_likelihood_never_decreases),
        cmocka_unit_test(test_ivector_batch_matches_single_extraction),
        cmocka_unit_test(test_lda_and_wccn_have_expected_shapes_and_whiten),
        cmocka_unit_test(test_backend_voiceprints_have_unit_length),
        cmocka_unit_test(test_eer_of_known_trials),
        cmocka_unit_test(test_calibration_is_increasing_and_centred),
        cmocka_unit_test(test_model_separates_unseen_speakers),
        cmocka_unit_test(test_model_score_is_cosine_mapped),
        cmocka_unit_test(test_model_multi_file_enrollment_pools_statistics),
        cmocka_unit_test(test_model_save_load_round_trip_scores_identically),
        cmocka_unit_test(test_model_load_refuses_damaged_files),
        cmocka_unit_test(
            test_model_load_checks_parameters_behind_a_valid_checksum),
        cmocka_unit_test(test_model_save_reports_unwritable_path),
        cmocka_unit_test(
            test_model_embeds_concurrently_with_identical_results),
        cmocka_unit_test(test_model_training_is_deterministic),
        cmocka_unit_test(test_model_train_rejects_bad_data),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
