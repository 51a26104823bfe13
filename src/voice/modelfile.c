/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The whole speaker model: training pipeline, voiceprints, scores and the
 * model file.
 *
 * Training runs in stages, each finished before the next starts:
 *   UBM on an even subsample of all frames
 *   -> Baum-Welch statistics of every utterance (kept normalised, float)
 *   -> T by EM -> i-vectors of every utterance
 *   -> held-out calibration trials (one back-end per speaker fold)
 *   -> calibration and threshold -> back-end on all speakers
 *   -> serialisation, whose hash names the model.
 * The file is written and read through one flat little-endian layout
 * (see modelfile.h); the reader checks magic, version, sizes and checksum
 * before it believes any number, then lets each part's constructor check
 * its own parameters.
 */
#include "voice/modelfile.h"

#include <cblas.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/err.h"

#define MAGIC "TIMBREVM"
#define MAGIC_LEN 8
/* magic, format version, five u32 sizes, three f64 scalars */
#define HEADER_BYTES (MAGIC_LEN + 4 + 5 * 4 + 3 * 8)
#define HASH_START (MAGIC_LEN + 4)
#define CHECKSUM_BYTES 8

/* Held-out trials imitate service: an enrollment pools up to
 * ENROLL_UTTS utterances of a speaker and a test pools TEST_UTTS, so
 * that with utterances of a few seconds the trials see amounts of
 * speech like enrollments (30 s and more) and authentications (10 s and
 * more). */
#define ENROLL_UTTS 5
#define TEST_UTTS 2

/* Bounds on sizes read from a file, before anything is allocated. */
#define MAX_FILE_DIM 4096
#define MAX_FILE_COMPONENTS 65536

struct voice_model {
    struct voice_gmm *ubm;
    struct voice_tv *tv;
    struct voice_backend *backend;
    struct voice_calibration cal;
    int threshold;
    double prune_ll;
    char version[VOICE_MODEL_VERSION_MAX];
    struct voice_train_report report;
};

/* Everything training derives from the utterances, freed together. */
struct train_state {
    size_t *spk;            /* n: dense speaker number */
    size_t n_spk;
    size_t *by_spk;         /* n: utterances grouped by speaker, in order */
    size_t *spk_first;      /* n_spk + 1: start of each group in by_spk */
    double *n_stats;        /* n x C */
    float *f_norm;          /* n x C*dim */
    double *ivecs;          /* n x rank */
    double *scores;         /* held-out trials */
    int *is_target;
    size_t n_trials;
};

/* The held-out segments of one calibration fold: n_enroll enrollments,
 * then tests, each the pooled statistics of one speaker's utterances. */
struct fold {
    size_t n_seg;
    size_t n_enroll;
    size_t *spk;            /* speaker of each segment */
    double *n_stats;        /* n_seg x C */
    float *f_norm;          /* n_seg x C*dim */
};

static pthread_once_t blas_once = PTHREAD_ONCE_INIT;


/* OpenBLAS threads would make sums depend on scheduling and compete with
 * the server's own workers; one thread keeps results reproducible. */
static void
blas_one_thread(void)
{
    openblas_set_num_threads(1);
}


static double
now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
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


void
voice_train_options_default(struct voice_train_options *opt)
{
    memset(opt, 0, sizeof(*opt));
    opt->dim = 60;
    opt->n_components = 128;
    opt->tv_rank = 100;
    opt->lda_dim = 50;
    opt->ubm_split_iterations = 4;
    opt->ubm_final_iterations = 8;
    opt->ubm_max_frames = 300000;
    opt->var_floor_frac = 0.01;
    opt->tv_iterations = 6;
    opt->tv_min_divergence = 1;
    opt->prune_ll = 10.0;
    opt->calibration_folds = 4;
    opt->max_trials = 500000;
    opt->max_false_accept = 0.01;
    opt->seed = 1;
}


void
voice_model_free(struct voice_model *m)
{
    if (m == NULL)
        return;
    voice_gmm_free(m->ubm);
    voice_tv_free(m->tv);
    voice_backend_free(m->backend);
    free(m);
}


/* ---- serialisation ---------------------------------------------------- */

static uint8_t *
put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
    return p + 4;
}


static uint8_t *
put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
    return p + 8;
}


static uint8_t *
put_f64s(uint8_t *p, const double *v, size_t n)
{
    uint64_t u;

    for (size_t i = 0; i < n; i++) {
        memcpy(&u, &v[i], sizeof(u));
        p = put_u64(p, u);
    }
    return p;
}


static uint32_t
get_u32(const uint8_t *p)
{
    uint32_t v = 0;

    for (int i = 0; i < 4; i++)
        v |= (uint32_t)p[i] << (8 * i);
    return v;
}


static uint64_t
get_u64(const uint8_t *p)
{
    uint64_t v = 0;

    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}


static double
get_f64(const uint8_t *p)
{
    uint64_t u = get_u64(p);
    double v;

    memcpy(&v, &u, sizeof(v));
    return v;
}


/* Reads 'n' doubles at *p into 'out' and advances *p. */
static void
get_f64s(const uint8_t **p, double *out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = get_f64(*p + 8 * i);
    *p += 8 * n;
}


/* Number of doubles after the header for the given sizes. */
static uint64_t
param_count(uint64_t dim, uint64_t nc, uint64_t rank, uint64_t lda)
{
    return nc + 2 * nc * dim + nc * dim * rank + rank + lda * rank;
}


static void
set_version(struct voice_model *m, const uint8_t *buf, size_t len)
{
    uint64_t h = fnv1a64(buf + HASH_START, len - HASH_START - CHECKSUM_BYTES);

    snprintf(m->version, sizeof(m->version), "%s%016" PRIx64,
             VOICE_MODEL_VERSION_PREFIX, h);
}


int
voice_model_to_bytes(const struct voice_model *m, uint8_t **buf,
                     size_t *len)
{
    size_t dim = voice_gmm_dim(m->ubm), nc = voice_gmm_n_components(m->ubm);
    size_t rank = voice_tv_rank(m->tv);
    size_t lda = voice_backend_out_dim(m->backend);
    size_t total, sv = nc * dim;
    uint8_t *b, *p;
    double scal[3] = { m->prune_ll, m->cal.a, m->cal.b };

    total = HEADER_BYTES + 8 * (size_t)param_count(dim, nc, rank, lda)
            + CHECKSUM_BYTES;
    b = malloc(total);
    if (b == NULL)
        return ERR_NOMEM;
    memcpy(b, MAGIC, MAGIC_LEN);
    p = put_u32(b + MAGIC_LEN, VOICE_MODEL_FORMAT_VERSION);
    p = put_u32(p, (uint32_t)dim);
    p = put_u32(p, (uint32_t)nc);
    p = put_u32(p, (uint32_t)rank);
    p = put_u32(p, (uint32_t)lda);
    p = put_u32(p, (uint32_t)m->threshold);
    p = put_f64s(p, scal, 3);
    p = put_f64s(p, voice_gmm_weights(m->ubm), nc);
    p = put_f64s(p, voice_gmm_means(m->ubm), sv);
    p = put_f64s(p, voice_gmm_vars(m->ubm), sv);
    p = put_f64s(p, voice_tv_matrix(m->tv), sv * rank);
    p = put_f64s(p, voice_backend_mean(m->backend), rank);
    p = put_f64s(p, voice_backend_projection(m->backend), lda * rank);
    put_u64(p, fnv1a64(b, total - CHECKSUM_BYTES));
    *buf = b;
    *len = total;
    return 0;
}


/* Checks the header and the length of a model image; on success sets the
 * sizes. Returns 0 or ERR_INVAL with the reason in 'msg'. */
static int
check_image(const uint8_t *buf, size_t len, uint32_t size[5], char *msg,
            size_t msg_len)
{
    uint64_t expected;
    uint32_t version;

    if (len < HEADER_BYTES + CHECKSUM_BYTES) {
        err_message(msg, msg_len, "truncated model file (%zu bytes, the "
                    "header alone needs %d)", len,
                    HEADER_BYTES + CHECKSUM_BYTES);
        return ERR_INVAL;
    }
    if (memcmp(buf, MAGIC, MAGIC_LEN) != 0) {
        err_message(msg, msg_len, "not a Timbre voice model (bad magic)");
        return ERR_INVAL;
    }
    version = get_u32(buf + MAGIC_LEN);
    if (version != VOICE_MODEL_FORMAT_VERSION) {
        err_message(msg, msg_len, "unsupported model format version %" PRIu32
                    " (this build reads %d)", version,
                    VOICE_MODEL_FORMAT_VERSION);
        return ERR_INVAL;
    }
    for (int i = 0; i < 5; i++)
        size[i] = get_u32(buf + MAGIC_LEN + 4 + 4 * i);
    if (size[0] == 0 || size[0] > MAX_FILE_DIM || size[1] == 0
        || size[1] > MAX_FILE_COMPONENTS || size[2] == 0
        || size[2] > VOICE_TV_MAX_RANK || size[3] == 0 || size[3] > size[2]
        || size[4] > 100) {
        err_message(msg, msg_len, "model sizes out of range (dim %" PRIu32
                    ", components %" PRIu32 ", rank %" PRIu32 ", lda %"
                    PRIu32 ", threshold %" PRIu32 ")", size[0], size[1],
                    size[2], size[3], size[4]);
        return ERR_INVAL;
    }
    expected = HEADER_BYTES + CHECKSUM_BYTES
               + 8 * param_count(size[0], size[1], size[2], size[3]);
    if (expected > VOICE_MODEL_MAX_FILE_BYTES) {
        err_message(msg, msg_len, "model sizes imply %" PRIu64 " bytes, "
                    "more than the limit", expected);
        return ERR_INVAL;
    }
    if (len < expected) {
        err_message(msg, msg_len, "truncated model file (%zu bytes, "
                    "expected %" PRIu64 ")", len, expected);
        return ERR_INVAL;
    }
    if (len > expected) {
        err_message(msg, msg_len, "model file has %" PRIu64 " unexpected "
                    "trailing bytes", (uint64_t)len - expected);
        return ERR_INVAL;
    }
    if (fnv1a64(buf, len - CHECKSUM_BYTES)
        != get_u64(buf + len - CHECKSUM_BYTES)) {
        err_message(msg, msg_len, "corrupt model file (checksum mismatch)");
        return ERR_INVAL;
    }
    return 0;
}


int
voice_model_from_bytes(const uint8_t *buf, size_t len,
                       struct voice_model **out, char *msg,
                       size_t msg_len)
{
    struct voice_model *m = NULL;
    uint32_t size[5];
    size_t dim, nc, rank, lda, sv;
    double *w = NULL, *mu = NULL, *v = NULL, *t = NULL, *bm = NULL;
    double *proj = NULL;
    const uint8_t *p;
    int rc;

    pthread_once(&blas_once, blas_one_thread);
    if (buf == NULL) {
        err_message(msg, msg_len, "no model data");
        return ERR_INVAL;
    }
    rc = check_image(buf, len, size, msg, msg_len);
    if (rc != 0)
        return rc;
    dim = size[0];
    nc = size[1];
    rank = size[2];
    lda = size[3];
    sv = nc * dim;

    m = calloc(1, sizeof(*m));
    w = malloc(nc * sizeof(double));
    mu = malloc(sv * sizeof(double));
    v = malloc(sv * sizeof(double));
    t = malloc(sv * rank * sizeof(double));
    bm = malloc(rank * sizeof(double));
    proj = malloc(lda * rank * sizeof(double));
    if (m == NULL || w == NULL || mu == NULL || v == NULL || t == NULL
        || bm == NULL || proj == NULL) {
        rc = ERR_NOMEM;
        goto out;
    }
    m->threshold = (int)size[4];
    p = buf + MAGIC_LEN + 4 + 5 * 4;
    m->prune_ll = get_f64(p);
    m->cal.a = get_f64(p + 8);
    m->cal.b = get_f64(p + 16);
    p += 24;
    get_f64s(&p, w, nc);
    get_f64s(&p, mu, sv);
    get_f64s(&p, v, sv);
    get_f64s(&p, t, sv * rank);
    get_f64s(&p, bm, rank);
    get_f64s(&p, proj, lda * rank);

    if (!(m->prune_ll > 0.0) || !isfinite(m->prune_ll)
        || !isfinite(m->cal.a) || !isfinite(m->cal.b)) {
        err_message(msg, msg_len, "invalid scoring parameters in model");
        rc = ERR_INVAL;
        goto out;
    }
    rc = voice_gmm_new(nc, dim, w, mu, v, &m->ubm);
    if (rc == ERR_INVAL)
        err_message(msg, msg_len, "invalid UBM parameters in model");
    if (rc == 0) {
        rc = voice_tv_new(m->ubm, rank, t, &m->tv);
        if (rc == ERR_INVAL)
            err_message(msg, msg_len, "invalid T matrix in model");
    }
    if (rc == 0) {
        rc = voice_backend_new(rank, lda, bm, proj, &m->backend);
        if (rc == ERR_INVAL)
            err_message(msg, msg_len, "invalid projection in model");
    }
    if (rc != 0)
        goto out;
    set_version(m, buf, len);
    *out = m;
    m = NULL;

out:
    if (rc == ERR_NOMEM)
        err_message(msg, msg_len, "out of memory loading the model");
    voice_model_free(m);
    free(w);
    free(mu);
    free(v);
    free(t);
    free(bm);
    free(proj);
    return rc;
}


int
voice_model_save(const struct voice_model *m, const char *path, char *msg,
                 size_t msg_len)
{
    uint8_t *buf = NULL;
    size_t len = 0, tmp_len;
    char *tmp = NULL;
    FILE *f = NULL;
    int rc;

    rc = voice_model_to_bytes(m, &buf, &len);
    tmp_len = strlen(path) + sizeof(".tmp");
    tmp = rc == 0 ? malloc(tmp_len) : NULL;
    if (tmp == NULL) {
        err_message(msg, msg_len, "%s: out of memory", path);
        rc = ERR_NOMEM;
        goto out;
    }
    snprintf(tmp, tmp_len, "%s.tmp", path);

    f = fopen(tmp, "wb");
    if (f == NULL) {
        err_message(msg, msg_len, "%s: cannot create: %s", tmp,
                    strerror(errno));
        rc = ERR_IO;
        goto out;
    }
    if (fwrite(buf, 1, len, f) != len || fflush(f) != 0
        || fsync(fileno(f)) != 0) {
        err_message(msg, msg_len, "%s: cannot write: %s", tmp,
                    strerror(errno));
        rc = ERR_IO;
        goto out;
    }
    if (fclose(f) != 0) {
        f = NULL;
        err_message(msg, msg_len, "%s: cannot write: %s", tmp,
                    strerror(errno));
        rc = ERR_IO;
        goto out;
    }
    f = NULL;
    if (rename(tmp, path) != 0) {
        err_message(msg, msg_len, "%s: cannot rename into place: %s", path,
                    strerror(errno));
        rc = ERR_IO;
    }

out:
    if (f != NULL)
        fclose(f);
    if (rc != 0 && tmp != NULL)
        unlink(tmp);
    free(tmp);
    free(buf);
    return rc;
}


int
voice_model_load(const char *path, struct voice_model **out, char *msg,
                 size_t msg_len)
{
    FILE *f;
    uint8_t *buf = NULL;
    long size;
    char why[256];
    int rc = 0;

    f = fopen(path, "rb");
    if (f == NULL) {
        err_message(msg, msg_len, "%s: cannot open: %s", path,
                    strerror(errno));
        return ERR_IO;
    }
    if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0
        || fseek(f, 0, SEEK_SET) != 0) {
        err_message(msg, msg_len, "%s: cannot read: %s", path,
                    strerror(errno));
        rc = ERR_IO;
        goto out;
    }
    if ((unsigned long)size > VOICE_MODEL_MAX_FILE_BYTES) {
        err_message(msg, msg_len, "%s: model file of %ld bytes is larger "
                    "than the limit", path, size);
        rc = ERR_INVAL;
        goto out;
    }
    buf = malloc(size > 0 ? (size_t)size : 1);
    if (buf == NULL) {
        err_message(msg, msg_len, "%s: out of memory", path);
        rc = ERR_NOMEM;
        goto out;
    }
    if (fread(buf, 1, (size_t)size, f) != (size_t)size) {
        err_message(msg, msg_len, "%s: cannot read: %s", path,
                    ferror(f) ? strerror(errno) : "file shrank");
        rc = ERR_IO;
        goto out;
    }
    why[0] = '\0';
    rc = voice_model_from_bytes(buf, (size_t)size, out, why, sizeof(why));
    if (rc != 0)
        err_message(msg, msg_len, "%s: %s", path, why);

out:
    fclose(f);
    free(buf);
    return rc;
}


/* ---- using a model ---------------------------------------------------- */

int
voice_model_embed_files(const struct voice_model *m,
                        const float *const *feats,
                        const size_t *n_frames, size_t n_files,
                        float *voiceprint)
{
    size_t nc = voice_gmm_n_components(m->ubm), dim = voice_gmm_dim(m->ubm);
    size_t total = 0, i;
    double *acc, *w;
    int rc = 0;

    if (feats == NULL || n_frames == NULL || voiceprint == NULL)
        return ERR_INVAL;
    for (i = 0; i < n_files; i++)
        total += n_frames[i];
    if (total == 0)
        return ERR_INVAL;
    acc = calloc(nc + nc * dim + voice_tv_rank(m->tv), sizeof(double));
    if (acc == NULL)
        return ERR_NOMEM;
    w = acc + nc + nc * dim;

    for (i = 0; i < n_files && rc == 0; i++) {
        if (n_frames[i] > 0)
            rc = voice_gmm_stats_add(m->ubm, feats[i], n_frames[i],
                                     m->prune_ll, acc, acc + nc);
    }
    if (rc == 0)
        rc = voice_tv_extract(m->tv, acc, acc + nc, w);
    if (rc == 0)
        voice_backend_apply(m->backend, w, voiceprint);
    free(acc);
    return rc;
}


int
voice_model_embed(const struct voice_model *m, const float *feats,
                  size_t n_frames, float *voiceprint)
{
    return voice_model_embed_files(m, &feats, &n_frames, 1, voiceprint);
}


int
voice_model_score(const struct voice_model *m, const float *a,
                  const float *b, double *cosine)
{
    double c = voice_cosine(a, b, voice_backend_out_dim(m->backend));

    if (cosine != NULL)
        *cosine = c;
    return voice_calibration_apply(&m->cal, c);
}


int
voice_model_threshold(const struct voice_model *m)
{
    return m->threshold;
}


const char *
voice_model_version(const struct voice_model *m)
{
    return m->version;
}


size_t
voice_model_feature_dim(const struct voice_model *m)
{
    return voice_gmm_dim(m->ubm);
}


size_t
voice_model_voiceprint_dim(const struct voice_model *m)
{
    return voice_backend_out_dim(m->backend);
}


struct voice_calibration
voice_model_calibration(const struct voice_model *m)
{
    return m->cal;
}


const struct voice_gmm *
voice_model_ubm(const struct voice_model *m)
{
    return m->ubm;
}


const struct voice_tv *
voice_model_tv(const struct voice_model *m)
{
    return m->tv;
}


const struct voice_backend *
voice_model_backend(const struct voice_model *m)
{
    return m->backend;
}


void
voice_model_train_report(const struct voice_model *m,
                         struct voice_train_report *out)
{
    *out = m->report;
}


/* ---- training --------------------------------------------------------- */

struct label_index {
    int label;
    size_t index;
};


static int
cmp_label_index(const void *pa, const void *pb)
{
    const struct label_index *a = pa, *b = pb;

    if (a->label != b->label)
        return a->label < b->label ? -1 : 1;
    return a->index < b->index ? -1 : (a->index > b->index);
}


static void
train_state_free(struct train_state *s)
{
    free(s->spk);
    free(s->by_spk);
    free(s->spk_first);
    free(s->n_stats);
    free(s->f_norm);
    free(s->ivecs);
    free(s->scores);
    free(s->is_target);
}


static int
check_options(const struct voice_train_options *o, size_t n, char *msg,
              size_t msg_len)
{
    const char *bad = NULL;

    if (o->dim == 0 || o->dim > MAX_FILE_DIM)
        bad = "dim";
    else if (o->n_components == 0 || o->n_components > MAX_FILE_COMPONENTS)
        bad = "n_components";
    else if (o->tv_rank == 0 || o->tv_rank > VOICE_TV_MAX_RANK)
        bad = "tv_rank";
    else if (o->lda_dim == 0 || o->lda_dim > o->tv_rank)
        bad = "lda_dim";
    else if (o->ubm_split_iterations < 0 || o->ubm_final_iterations < 0
             || o->tv_iterations < 0)
        bad = "iterations";
    else if (o->ubm_max_frames < o->n_components)
        bad = "ubm_max_frames";
    else if (!(o->var_floor_frac > 0.0 && o->var_floor_frac < 1.0))
        bad = "var_floor_frac";
    else if (!(o->prune_ll > 0.0) || !isfinite(o->prune_ll))
        bad = "prune_ll";
    else if (o->calibration_folds < 2)
        bad = "calibration_folds";
    else if (o->max_trials == 0)
        bad = "max_trials";
    else if (!(o->max_false_accept > 0.0 && o->max_false_accept < 1.0))
        bad = "max_false_accept";
    if (bad != NULL) {
        err_message(msg, msg_len, "training option %s is out of range",
                    bad);
        return ERR_INVAL;
    }
    if (n < 2) {
        err_message(msg, msg_len, "%zu utterances cannot train a model", n);
        return ERR_INVAL;
    }
    return 0;
}


static int
check_utts(const struct voice_train_utt *utts, size_t n, size_t dim,
           char *msg, size_t msg_len)
{
    size_t u, i;

    for (u = 0; u < n; u++) {
        if (utts[u].feats == NULL || utts[u].n_frames == 0) {
            err_message(msg, msg_len, "training utterance %zu has no "
                        "frames", u);
            return ERR_INVAL;
        }
        if (utts[u].n_frames > SIZE_MAX / sizeof(float) / dim) {
            err_message(msg, msg_len, "training utterance %zu is too long",
                        u);
            return ERR_INVAL;
        }
        for (i = 0; i < utts[u].n_frames * dim; i++) {
            if (!isfinite(utts[u].feats[i])) {
                err_message(msg, msg_len, "training utterance %zu: feature "
                            "value %zu is not finite", u, i);
                return ERR_INVAL;
            }
        }
    }
    return 0;
}


/* Numbers speakers densely in ascending label order and checks that the
 * calibration folds (speaker number modulo the fold count) each leave
 * enough speakers to train a back-end on. */
static int
number_speakers(const struct voice_train_utt *utts, size_t n,
                const struct voice_train_options *opt,
                struct train_state *st, char *msg, size_t msg_len)
{
    struct label_index *li;
    size_t i, k, folds = (size_t)opt->calibration_folds, smallest_rest;

    li = malloc(n * sizeof(*li));
    st->spk = malloc(n * sizeof(size_t));
    if (li == NULL || st->spk == NULL) {
        free(li);
        return ERR_NOMEM;
    }
    for (i = 0; i < n; i++) {
        li[i].label = utts[i].speaker;
        li[i].index = i;
    }
    qsort(li, n, sizeof(*li), cmp_label_index);
    st->n_spk = 0;
    for (i = 0; i < n; i++) {
        if (i > 0 && li[i].label != li[i - 1].label)
            st->n_spk++;
        st->spk[li[i].index] = st->n_spk;
    }
    st->n_spk++;
    free(li);

    /* Fold k holds speakers k, k + folds, ...; fold 0 is the largest
     * and leaves the fewest speakers behind. */
    smallest_rest = st->n_spk - (st->n_spk + folds - 1) / folds;
    if (st->n_spk < folds || smallest_rest <= opt->lda_dim) {
        for (k = opt->lda_dim + 1;
             k < folds || k - (k + folds - 1) / folds <= opt->lda_dim; k++)
            ;
        err_message(msg, msg_len, "%zu speakers are too few: with %zu "
                    "calibration folds and lda_dim %zu at least %zu are "
                    "needed", st->n_spk, folds, opt->lda_dim, k);
        return ERR_INVAL;
    }
    return 0;
}


/* Copies every step-th frame of all utterances (in order) into a new
 * matrix, at most max_frames of them. */
static int
ubm_frames(const struct voice_train_utt *utts, size_t n, size_t dim,
           size_t max_frames, float **out, size_t *n_out)
{
    size_t total = 0, step, count, g = 0, k = 0, u, t;
    float *x;

    for (u = 0; u < n; u++)
        total += utts[u].n_frames;
    step = (total + max_frames - 1) / max_frames;
    count = (total + step - 1) / step;
    x = malloc(count * dim * sizeof(float));
    if (x == NULL)
        return ERR_NOMEM;
    for (u = 0; u < n; u++) {
        for (t = 0; t < utts[u].n_frames; t++, g++) {
            if (g % step != 0)
                continue;
            memcpy(x + k * dim, utts[u].feats + t * dim,
                   dim * sizeof(float));
            k++;
        }
    }
    *out = x;
    *n_out = k;
    return 0;
}


/* Baum-Welch statistics of every utterance: zeroth order into
 * st->n_stats, first order normalised into st->f_norm. */
static int
collect_stats(const struct voice_gmm *ubm,
              const struct voice_train_utt *utts, size_t n, double prune_ll,
              struct train_state *st)
{
    size_t nc = voice_gmm_n_components(ubm), sv = nc * voice_gmm_dim(ubm);
    size_t u, i;
    double *f, *fn;
    int rc = 0;

    st->n_stats = calloc(n * nc, sizeof(double));
    st->f_norm = malloc(n * sv * sizeof(float));
    f = malloc(2 * sv * sizeof(double));
    if (st->n_stats == NULL || st->f_norm == NULL || f == NULL) {
        free(f);
        return ERR_NOMEM;
    }
    fn = f + sv;
    for (u = 0; u < n && rc == 0; u++) {
        double *nu = st->n_stats + u * nc;

        memset(f, 0, sv * sizeof(double));
        rc = voice_gmm_stats_add(ubm, utts[u].feats, utts[u].n_frames,
                                 prune_ll, nu, f);
        voice_tv_normalise_stats(ubm, nu, f, fn);
        for (i = 0; i < sv; i++)
            st->f_norm[u * sv + i] = (float)fn[i];
    }
    free(f);
    return rc;
}


/* Splits a speaker's k utterances (in order): the first *n_enroll pool
 * into one enrollment (none for a speaker of one utterance), the rest
 * into *n_tests tests of TEST_UTTS utterances (the last may be
 * shorter). */
static void
speaker_split(size_t k, size_t *n_enroll, size_t *n_tests)
{
    size_t e = (k + 1) / 2;

    *n_enroll = k < 2 ? 0 : e < ENROLL_UTTS ? e : ENROLL_UTTS;
    *n_tests = (k - *n_enroll + TEST_UTTS - 1) / TEST_UTTS;
}


/* Adds segment 'seg' (utterances by_spk[first .. first + count)) of
 * speaker 's' to the fold's lists and pools its statistics. */
static void
add_segment(const struct train_state *st, size_t nc, size_t sv, size_t s,
            size_t first, size_t count, struct fold *f, double *acc)
{
    size_t seg = f->n_seg++, i, j;
    double *n_seg = f->n_stats + seg * nc;

    f->spk[seg] = s;
    memset(acc, 0, sv * sizeof(double));
    for (i = first; i < first + count; i++) {
        size_t u = st->by_spk[i];

        for (j = 0; j < nc; j++)
            n_seg[j] += st->n_stats[u * nc + j];
        for (j = 0; j < sv; j++)
            acc[j] += st->f_norm[u * sv + j];
    }
    for (j = 0; j < sv; j++)
        f->f_norm[seg * sv + j] = (float)acc[j];
}


/* Cuts fold k's speakers into enrollment and test segments: enrollments
 * first (f->n_enroll of them), then tests. */
static void
fold_segments(const struct train_state *st, size_t folds, size_t k,
              size_t nc, size_t sv, struct fold *f, double *acc)
{
    size_t s, e, t, j, first, count;

    f->n_seg = 0;
    for (s = k; s < st->n_spk; s += folds) {
        count = st->spk_first[s + 1] - st->spk_first[s];
        speaker_split(count, &e, &t);
        if (e > 0)
            add_segment(st, nc, sv, s, st->spk_first[s], e, f, acc);
    }
    f->n_enroll = f->n_seg;
    for (s = k; s < st->n_spk; s += folds) {
        count = st->spk_first[s + 1] - st->spk_first[s];
        speaker_split(count, &e, &t);
        first = st->spk_first[s] + e;
        for (j = 0; j < t; j++) {
            size_t len = count - e - j * TEST_UTTS;

            add_segment(st, nc, sv, s, first + j * TEST_UTTS,
                        len < TEST_UTTS ? len : TEST_UTTS, f, acc);
        }
    }
}


/* Scores fold k's enrollments against its tests with a back-end trained
 * on the other folds, appending to st->scores. seen[1] and seen[0] count
 * the target and non-target trials met over all folds; of each kind
 * every stride[kind]-th is kept. */
static int
fold_trials(const struct voice_train_options *opt,
            const struct voice_tv *tv, size_t n, size_t k,
            struct train_state *st, const size_t stride[2], size_t seen[2],
            char *msg, size_t msg_len)
{
    size_t rank = opt->tv_rank, lda = opt->lda_dim, folds;
    size_t nc = opt->n_components, sv = nc * opt->dim;
    size_t n_train = 0, n_fold = 0, u, i, j;
    struct fold f;
    double *tr = NULL, *acc = NULL, *iv = NULL;
    int *tr_lab = NULL;
    float *vp = NULL;
    struct voice_backend *b = NULL;
    int rc;

    memset(&f, 0, sizeof(f));
    folds = (size_t)opt->calibration_folds;

    /* A fold has at most as many segments as utterances. */
    for (i = k; i < st->n_spk; i += folds)
        n_fold += st->spk_first[i + 1] - st->spk_first[i];
    tr = malloc(n * rank * sizeof(double));
    tr_lab = malloc(n * sizeof(int));
    acc = malloc(sv * sizeof(double));
    f.spk = malloc(n_fold * sizeof(size_t));
    f.n_stats = calloc(n_fold * nc, sizeof(double));
    f.f_norm = malloc(n_fold * sv * sizeof(float));
    iv = malloc(n_fold * rank * sizeof(double));
    vp = malloc(n_fold * lda * sizeof(float));
    if (tr == NULL || tr_lab == NULL || acc == NULL || f.spk == NULL
        || f.n_stats == NULL || f.f_norm == NULL || iv == NULL
        || vp == NULL) {
        rc = ERR_NOMEM;
        goto out;
    }
    for (u = 0; u < n; u++) {
        if (st->spk[u] % folds == k)
            continue;
        memcpy(tr + n_train * rank, st->ivecs + u * rank,
               rank * sizeof(double));
        tr_lab[n_train++] = (int)st->spk[u];
    }
    rc = voice_backend_train(tr, tr_lab, n_train, rank, lda, &b, msg,
                             msg_len);
    if (rc != 0)
        goto out;

    fold_segments(st, folds, k, nc, sv, &f, acc);
    rc = voice_tv_extract_batch(tv, f.n_stats, f.f_norm, f.n_seg, iv);
    if (rc != 0) {
        err_message(msg, msg_len, "held-out i-vectors: %s", err_str(rc));
        goto out;
    }
    for (i = 0; i < f.n_seg; i++)
        voice_backend_apply(b, iv + i * rank, vp + i * lda);

    for (i = 0; i < f.n_enroll; i++) {
        for (j = f.n_enroll; j < f.n_seg; j++) {
            int same = f.spk[i] == f.spk[j];

            if (seen[same]++ % stride[same] != 0)
                continue;
            st->scores[st->n_trials] = voice_cosine(vp + i * lda,
                                                    vp + j * lda, lda);
            st->is_target[st->n_trials] = same;
            st->n_trials++;
        }
    }

out:
    voice_backend_free(b);
    free(tr);
    free(tr_lab);
    free(acc);
    free(f.spk);
    free(f.n_stats);
    free(f.f_norm);
    free(iv);
    free(vp);
    return rc;
}


/* Groups utterance numbers by speaker, keeping their order within a
 * speaker: st->by_spk and st->spk_first. */
static int
group_by_speaker(size_t n, struct train_state *st)
{
    size_t i, s, *next;

    st->by_spk = malloc(n * sizeof(size_t));
    st->spk_first = calloc(st->n_spk + 1, sizeof(size_t));
    next = malloc(st->n_spk * sizeof(size_t));
    if (st->by_spk == NULL || st->spk_first == NULL || next == NULL) {
        free(next);
        return ERR_NOMEM;
    }
    for (i = 0; i < n; i++)
        st->spk_first[st->spk[i] + 1]++;
    for (s = 0; s < st->n_spk; s++)
        st->spk_first[s + 1] += st->spk_first[s];
    memcpy(next, st->spk_first, st->n_spk * sizeof(size_t));
    for (i = 0; i < n; i++)
        st->by_spk[next[st->spk[i]]++] = i;
    free(next);
    return 0;
}


/* Counts the target and non-target trials fold_trials will meet. */
static void
count_trials(const struct train_state *st, size_t folds, size_t *n_tgt,
             size_t *n_non)
{
    size_t k, s, e, t, n_e, n_t, tgt, pairs = 0;

    *n_tgt = 0;
    for (k = 0; k < folds; k++) {
        n_e = 0;
        n_t = 0;
        for (s = k; s < st->n_spk; s += folds) {
            speaker_split(st->spk_first[s + 1] - st->spk_first[s], &e, &t);
            tgt = e > 0 ? t : 0;
            n_e += e > 0;
            n_t += t;
            *n_tgt += tgt;
        }
        pairs += n_e * n_t;
    }
    *n_non = pairs - *n_tgt;
}


/* Builds the held-out trials of every fold and fits the calibration and
 * threshold of 'm' on them. */
static int
calibrate(const struct voice_train_options *opt, size_t n,
          struct train_state *st, struct voice_model *m, char *msg,
          size_t msg_len)
{
    size_t folds = (size_t)opt->calibration_folds, k, i, cap;
    size_t n_tgt, n_non, stride[2], seen[2] = { 0, 0 };
    int rc;

    rc = group_by_speaker(n, st);
    if (rc != 0)
        return rc;
    count_trials(st, folds, &n_tgt, &n_non);
    if (n_tgt == 0) {
        err_message(msg, msg_len, "no speaker has two utterances, so there "
                    "are no same-speaker trials to calibrate on");
        return ERR_INVAL;
    }
    if (n_non == 0) {
        err_message(msg, msg_len, "no calibration fold holds two "
                    "speakers, so there are no different-speaker trials");
        return ERR_INVAL;
    }

    /* Keep at most 'cap' trials of each kind, spread evenly. */
    cap = opt->max_trials;
    stride[0] = (n_non + cap - 1) / cap;
    stride[1] = (n_tgt + cap - 1) / cap;
    cap = n_tgt / stride[1] + n_non / stride[0] + 2;
    st->scores = malloc(cap * sizeof(double));
    st->is_target = malloc(cap * sizeof(int));
    if (st->scores == NULL || st->is_target == NULL)
        return ERR_NOMEM;

    for (k = 0; k < folds && rc == 0; k++)
        rc = fold_trials(opt, m->tv, n, k, st, stride, seen, msg, msg_len);
    if (rc != 0)
        return rc;

    rc = voice_calibration_fit(st->scores, st->is_target, st->n_trials,
                               &m->cal);
    if (rc == 0)
        rc = voice_eer(st->scores, st->is_target, st->n_trials,
                       &m->report.heldout_eer);
    if (rc != 0) {
        err_message(msg, msg_len, "held-out trials cannot be calibrated: "
                    "%s", err_str(rc));
        return rc;
    }
    m->threshold = voice_calibration_threshold(&m->cal, st->scores,
                                               st->is_target, st->n_trials,
                                               opt->max_false_accept);
    for (i = 0; i < st->n_trials; i++)
        m->report.n_target_trials += st->is_target[i] != 0;
    m->report.n_nontarget_trials = st->n_trials - m->report.n_target_trials;
    return 0;
}


/* The stages after the UBM: statistics, T, i-vectors, calibration and
 * the final back-end. */
static int
train_rest(const struct voice_train_utt *utts, size_t n,
           const struct voice_train_options *opt, struct train_state *st,
           struct voice_model *m, char *msg, size_t msg_len)
{
    struct voice_tv_options tvo;
    int *labels = NULL;
    double t0 = now_s();
    size_t i;
    int rc;

    rc = collect_stats(m->ubm, utts, n, opt->prune_ll, st);
    if (rc != 0) {
        err_message(msg, msg_len, "statistics: %s", err_str(rc));
        return rc;
    }
    m->report.seconds_stats = now_s() - t0;

    t0 = now_s();
    voice_tv_options_default(&tvo, opt->tv_rank);
    tvo.iterations = opt->tv_iterations;
    tvo.min_divergence = opt->tv_min_divergence;
    tvo.seed = opt->seed;
    rc = voice_tv_train(m->ubm, st->n_stats, st->f_norm, n, &tvo, &m->tv,
                        NULL, msg, msg_len);
    if (rc != 0)
        return rc;
    st->ivecs = malloc(n * opt->tv_rank * sizeof(double));
    rc = st->ivecs == NULL ? ERR_NOMEM
         : voice_tv_extract_batch(m->tv, st->n_stats, st->f_norm, n,
                                  st->ivecs);
    if (rc != 0) {
        err_message(msg, msg_len, "i-vectors: %s", err_str(rc));
        return rc;
    }
    m->report.seconds_tv = now_s() - t0;

    t0 = now_s();
    rc = calibrate(opt, n, st, m, msg, msg_len);
    if (rc != 0)
        return rc;
    labels = malloc(n * sizeof(int));
    if (labels == NULL) {
        err_message(msg, msg_len, "back-end: out of memory");
        return ERR_NOMEM;
    }
    for (i = 0; i < n; i++)
        labels[i] = (int)st->spk[i];
    rc = voice_backend_train(st->ivecs, labels, n, opt->tv_rank,
                             opt->lda_dim, &m->backend, msg, msg_len);
    free(labels);
    m->report.seconds_backend = now_s() - t0;
    return rc;
}


int
voice_model_train(const struct voice_train_utt *utts, size_t n,
                  const struct voice_train_options *opt,
                  struct voice_model **out, char *msg, size_t msg_len)
{
    struct train_state st;
    struct voice_model *m = NULL;
    struct voice_gmm_train_options go;
    float *frames = NULL;
    double *ll = NULL, t0;
    uint8_t *image = NULL;
    size_t n_frames = 0, n_ll = 0, image_len = 0;
    int rc;

    pthread_once(&blas_once, blas_one_thread);
    memset(&st, 0, sizeof(st));
    if (utts == NULL || opt == NULL) {
        err_message(msg, msg_len, "no training data");
        return ERR_INVAL;
    }
    rc = check_options(opt, n, msg, msg_len);
    if (rc == 0)
        rc = check_utts(utts, n, opt->dim, msg, msg_len);
    if (rc != 0)
        return rc;
    m = calloc(1, sizeof(*m));
    if (m == NULL) {
        rc = ERR_NOMEM;
        goto out;
    }
    rc = number_speakers(utts, n, opt, &st, msg, msg_len);
    if (rc != 0)
        goto out;
    m->prune_ll = opt->prune_ll;
    m->report.n_utts = n;
    m->report.n_speakers = st.n_spk;

    t0 = now_s();
    rc = ubm_frames(utts, n, opt->dim, opt->ubm_max_frames, &frames,
                    &n_frames);
    if (rc != 0)
        goto out;
    voice_gmm_train_options_default(&go, opt->n_components);
    go.split_iterations = opt->ubm_split_iterations;
    go.final_iterations = opt->ubm_final_iterations;
    go.var_floor_frac = opt->var_floor_frac;
    rc = voice_gmm_train(frames, n_frames, opt->dim, &go, &m->ubm, &ll,
                         &n_ll, msg, msg_len);
    if (rc != 0)
        goto out;
    m->report.n_ubm_frames = n_frames;
    m->report.ubm_avg_ll = n_ll > 0 ? ll[n_ll - 1] : 0.0;
    m->report.seconds_ubm = now_s() - t0;
    free(frames);
    frames = NULL;

    rc = train_rest(utts, n, opt, &st, m, msg, msg_len);
    if (rc != 0)
        goto out;

    /* The version names the serialised parameters. */
    rc = voice_model_to_bytes(m, &image, &image_len);
    if (rc != 0)
        goto out;
    set_version(m, image, image_len);
    *out = m;
    m = NULL;

out:
    if (rc == ERR_NOMEM)
        err_message(msg, msg_len, "training: out of memory");
    voice_model_free(m);
    train_state_free(&st);
    free(frames);
    free(ll);
    free(image);
    return rc;
}
