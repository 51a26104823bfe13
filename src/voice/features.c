/* SPDX-License-Identifier: Apache-2.0 */
/*
 * MFCC front end (the pipeline is described in features.h).
 *
 * Per frame the work is one 256-point real FFT, about 260 multiply-adds
 * for the filterbank (each filter only visits its own bins), 24 logs and
 * a 20 x 24 DCT; per utterance a sort for the VAD and three passes over
 * the kept frames. The tables are computed in double and stored in float.
 */
#include "voice/features.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <kissfft/kiss_fftr.h>

#include "util/err.h"
#include "voice/vad.h"

#define FRAME_LEN VOICE_FEATURES_FRAME_LEN
#define FRAME_SHIFT VOICE_FEATURES_FRAME_SHIFT
#define FFT_LEN VOICE_FEATURES_FFT_LEN
#define N_BINS (FFT_LEN / 2 + 1)
#define N_MEL VOICE_FEATURES_N_MEL
#define N_CEPS VOICE_FEATURES_N_CEPS
#define DIM VOICE_FEATURES_DIM
#define PREEMPHASIS 0.97f
#define MEL_LOW_HZ 200.0
#define MEL_HIGH_HZ 3700.0
#define LOG_FLOOR 1e-10f
#define DELTA_WINDOW 2
#define INITIAL_FRAMES 1024
#define READ_BLOCK 4096

struct mel_filter {
    int first_bin;
    int n_bins;
    float weight[N_BINS];
};

struct tables {
    float window[FRAME_LEN];
    struct mel_filter mel[N_MEL];
    float dct[N_CEPS][N_MEL];
};

struct voice_frontend {
    const struct tables *tables;
    kiss_fftr_cfg fft;
    float pending[FRAME_LEN];   /* raw samples of the next frame */
    size_t n_pending;
    float before;               /* raw sample preceding pending[0] */
    size_t n_samples;
    float *ceps;                /* n_frames x N_CEPS */
    float *energy;              /* n_frames */
    size_t n_frames;
    size_t cap_frames;
    int failed;                 /* sticky ERR_* of a push */
};

static struct tables tables;
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;


static double
hz_to_mel(double hz)
{
    return 2595.0 * log10(1.0 + hz / 700.0);
}


static double
mel_to_hz(double mel)
{
    return 700.0 * (pow(10.0, mel / 2595.0) - 1.0);
}


static double
mel_edge(size_t i)
{
    double low = hz_to_mel(MEL_LOW_HZ);
    double high = hz_to_mel(MEL_HIGH_HZ);

    return low + (double)i * (high - low) / (N_MEL + 1);
}


/* Triangles are built on the mel axis: filter m rises from edge m to edge
 * m + 1 and falls to edge m + 2, weighing each FFT bin by where its centre
 * frequency falls. */
static void
build_mel(void)
{
    double left;
    double centre;
    double right;
    double mel;
    double w;
    struct mel_filter *f;

    for (int m = 0; m < N_MEL; m++) {
        f = &tables.mel[m];
        left = mel_edge((size_t)m);
        centre = mel_edge((size_t)m + 1);
        right = mel_edge((size_t)m + 2);
        f->first_bin = -1;
        for (int k = 0; k < N_BINS; k++) {
            mel = hz_to_mel(k * (double)VOICE_AUDIO_RATE_HZ / FFT_LEN);
            if (mel <= left || mel >= right)
                continue;
            if (mel <= centre)
                w = (mel - left) / (centre - left);
            else
                w = (right - mel) / (right - centre);
            if (f->first_bin < 0)
                f->first_bin = k;
            f->weight[k - f->first_bin] = (float)w;
            f->n_bins = k - f->first_bin + 1;
        }
    }
}


static void
build_tables(void)
{
    double scale;

    for (int i = 0; i < FRAME_LEN; i++)
        tables.window[i] = (float)(0.54 - 0.46 * cos(2.0 * M_PI * i /
                                                     (FRAME_LEN - 1)));
    build_mel();
    for (int k = 0; k < N_CEPS; k++) {
        scale = sqrt((k == 0 ? 1.0 : 2.0) / N_MEL);
        for (int m = 0; m < N_MEL; m++)
            tables.dct[k][m] = (float)(scale * cos(M_PI * k * (m + 0.5) /
                                                   N_MEL));
    }
}


static const struct tables *
get_tables(void)
{
    pthread_once(&tables_once, build_tables);
    return &tables;
}


/* Log mel energies of one pre-emphasised frame. */
static void
frame_log_mel(const struct tables *t, kiss_fftr_cfg fft, const float *emph,
              float *log_mel)
{
    float in[FFT_LEN];
    kiss_fft_cpx spec[N_BINS];
    float power[N_BINS];
    const struct mel_filter *f;
    float sum;

    for (int i = 0; i < FRAME_LEN; i++)
        in[i] = emph[i] * t->window[i];
    memset(in + FRAME_LEN, 0, sizeof(float) * (FFT_LEN - FRAME_LEN));
    kiss_fftr(fft, in, spec);
    for (int k = 0; k < N_BINS; k++)
        power[k] = spec[k].r * spec[k].r + spec[k].i * spec[k].i;

    for (int m = 0; m < N_MEL; m++) {
        f = &t->mel[m];
        sum = 0.0f;
        for (int j = 0; j < f->n_bins; j++)
            sum += f->weight[j] * power[f->first_bin + j];
        log_mel[m] = logf(sum > LOG_FLOOR ? sum : LOG_FLOOR);
    }
}


/* Cepstra and VAD energy of the frame in fe->pending. */
static void
analyse_frame(struct voice_frontend *fe, float *ceps, float *energy)
{
    const struct tables *t = fe->tables;
    const float *raw = fe->pending;
    float emph[FRAME_LEN];
    float log_mel[N_MEL];
    float mean = 0.0f;
    float e = 0.0f;
    float d;
    float c;

    for (int i = 0; i < FRAME_LEN; i++)
        mean += raw[i];
    mean /= FRAME_LEN;
    for (int i = 0; i < FRAME_LEN; i++) {
        d = raw[i] - mean;
        e += d * d;
    }
    *energy = logf(e > LOG_FLOOR ? e : LOG_FLOOR);

    emph[0] = raw[0] - PREEMPHASIS * fe->before;
    for (int i = 1; i < FRAME_LEN; i++)
        emph[i] = raw[i] - PREEMPHASIS * raw[i - 1];
    frame_log_mel(t, fe->fft, emph, log_mel);

    for (int k = 0; k < N_CEPS; k++) {
        c = 0.0f;
        for (int m = 0; m < N_MEL; m++)
            c += t->dct[k][m] * log_mel[m];
        ceps[k] = c;
    }
}


static int
grow(struct voice_frontend *fe)
{
    size_t cap = fe->cap_frames == 0 ? INITIAL_FRAMES : 2 * fe->cap_frames;
    float *ceps;
    float *energy;

    if (fe->n_frames >= VOICE_FEATURES_MAX_FRAMES)
        return ERR_TOOBIG;
    if (cap > VOICE_FEATURES_MAX_FRAMES)
        cap = VOICE_FEATURES_MAX_FRAMES;

    ceps = realloc(fe->ceps, cap * N_CEPS * sizeof *ceps);
    if (ceps == NULL)
        return ERR_NOMEM;
    fe->ceps = ceps;
    energy = realloc(fe->energy, cap * sizeof *energy);
    if (energy == NULL)
        return ERR_NOMEM;
    fe->energy = energy;
    fe->cap_frames = cap;
    return 0;
}


static void
reset(struct voice_frontend *fe)
{
    free(fe->ceps);
    free(fe->energy);
    fe->ceps = NULL;
    fe->energy = NULL;
    fe->n_frames = 0;
    fe->cap_frames = 0;
    fe->n_pending = 0;
    fe->before = 0.0f;
    fe->n_samples = 0;
    fe->failed = 0;
}


int
voice_frontend_new(struct voice_frontend **out)
{
    struct voice_frontend *fe;

    fe = calloc(1, sizeof *fe);
    if (fe == NULL)
        return ERR_NOMEM;
    fe->tables = get_tables();
    fe->fft = kiss_fftr_alloc(FFT_LEN, 0, NULL, NULL);
    if (fe->fft == NULL) {
        free(fe);
        return ERR_NOMEM;
    }
    *out = fe;
    return 0;
}


void
voice_frontend_free(struct voice_frontend *fe)
{
    if (fe == NULL)
        return;
    reset(fe);
    kiss_fftr_free(fe->fft);
    free(fe);
}


static float
sanitise(float x)
{
    if (isnan(x))
        return 0.0f;
    return x > 1.0f ? 1.0f : x < -1.0f ? -1.0f : x;
}


int
voice_frontend_push(struct voice_frontend *fe, const float *samples,
                    size_t n)
{
    size_t i = 0;
    size_t take;
    int rc;

    if (fe->failed != 0)
        return fe->failed;

    while (i < n) {
        take = FRAME_LEN - fe->n_pending;
        if (take > n - i)
            take = n - i;
        for (size_t j = 0; j < take; j++)
            fe->pending[fe->n_pending + j] = sanitise(samples[i + j]);
        fe->n_pending += take;
        fe->n_samples += take;
        i += take;
        if (fe->n_pending < FRAME_LEN)
            break;

        if (fe->n_frames == fe->cap_frames) {
            rc = grow(fe);
            if (rc != 0) {
                fe->failed = rc;
                return rc;
            }
        }
        analyse_frame(fe, fe->ceps + fe->n_frames * N_CEPS,
                      fe->energy + fe->n_frames);
        fe->n_frames++;

        /* The next frame starts FRAME_SHIFT samples later. */
        fe->before = fe->pending[FRAME_SHIFT - 1];
        memmove(fe->pending, fe->pending + FRAME_SHIFT,
                sizeof(float) * (FRAME_LEN - FRAME_SHIFT));
        fe->n_pending = FRAME_LEN - FRAME_SHIFT;
    }
    return 0;
}


/* Regression over +-DELTA_WINDOW frames of the 'width'-wide rows of 'x'
 * at frame 't', with the edge frames repeated: sum k (x[t+k] - x[t-k]) /
 * (2 sum k^2). */
static void
delta_at(const float *x, size_t n, size_t width, size_t t, float *out)
{
    const float *ahead;
    const float *behind;
    float norm = 0.0f;
    size_t hi;
    size_t lo;

    for (size_t j = 0; j < width; j++)
        out[j] = 0.0f;
    for (size_t k = 1; k <= DELTA_WINDOW; k++) {
        hi = t + k < n ? t + k : n - 1;
        lo = t >= k ? t - k : 0;
        ahead = x + hi * width;
        behind = x + lo * width;
        for (size_t j = 0; j < width; j++)
            out[j] += (float)k * (ahead[j] - behind[j]);
        norm += (float)(k * k);
    }
    for (size_t j = 0; j < width; j++)
        out[j] /= 2.0f * norm;
}


/* Normalises each column of the n x DIM matrix to mean 0 and variance 1
 * (a constant column becomes 0). */
static void
normalise(float *data, size_t n)
{
    double mean[DIM] = {0};
    double var[DIM] = {0};
    float scale[DIM];
    double d;

    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < DIM; j++)
            mean[j] += data[i * DIM + j];
    }
    for (size_t j = 0; j < DIM; j++)
        mean[j] /= (double)n;
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < DIM; j++) {
            d = data[i * DIM + j] - mean[j];
            var[j] += d * d;
        }
    }
    for (size_t j = 0; j < DIM; j++) {
        var[j] /= (double)n;
        scale[j] = var[j] > 1e-20 ? (float)(1.0 / sqrt(var[j])) : 1.0f;
    }

    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < DIM; j++)
            data[i * DIM + j] = (float)(data[i * DIM + j] - mean[j]) *
                                scale[j];
    }
}


/* Builds the 60-dimensional rows of the speech frames into 'data'. */
static int
select_frames(const struct voice_frontend *fe, const unsigned char *speech,
              float *data)
{
    size_t n = fe->n_frames;
    float *deltas;
    float *row;

    deltas = malloc(n * N_CEPS * sizeof *deltas);
    if (deltas == NULL)
        return ERR_NOMEM;
    for (size_t t = 0; t < n; t++)
        delta_at(fe->ceps, n, N_CEPS, t, deltas + t * N_CEPS);

    row = data;
    for (size_t t = 0; t < n; t++) {
        if (!speech[t])
            continue;
        memcpy(row, fe->ceps + t * N_CEPS, N_CEPS * sizeof *row);
        memcpy(row + N_CEPS, deltas + t * N_CEPS, N_CEPS * sizeof *row);
        delta_at(deltas, n, N_CEPS, t, row + 2 * N_CEPS);
        row += DIM;
    }
    free(deltas);
    return 0;
}


int
voice_frontend_finish(struct voice_frontend *fe, struct voice_features *out)
{
    struct voice_features f;
    size_t n = fe->n_frames;
    int rc = fe->failed;

    memset(&f, 0, sizeof f);
    if (rc != 0)
        goto out;

    f.dim = DIM;
    f.total_s = (double)fe->n_samples / VOICE_AUDIO_RATE_HZ;
    f.n_all_frames = n;
    f.is_speech = malloc(n > 0 ? n : 1);
    if (f.is_speech == NULL)
        goto nomem;
    rc = voice_vad_decide(fe->energy, n, f.is_speech, &f.n_frames);
    if (rc != 0)
        goto out;
    f.net_speech_s = (double)f.n_frames * VOICE_FEATURES_FRAME_S;

    if (f.n_frames > 0) {
        f.data = malloc(f.n_frames * DIM * sizeof *f.data);
        if (f.data == NULL)
            goto nomem;
        rc = select_frames(fe, f.is_speech, f.data);
        if (rc != 0)
            goto out;
        normalise(f.data, f.n_frames);
    }

    /* The energies move to the result instead of being copied. */
    f.log_energy = fe->energy;
    fe->energy = NULL;
    *out = f;
    memset(&f, 0, sizeof f);
    goto out;

nomem:
    rc = ERR_NOMEM;
out:
    voice_features_free(&f);
    reset(fe);
    return rc;
}


int
voice_features_from_samples(const float *samples, size_t n,
                            struct voice_features *out)
{
    struct voice_frontend *fe = NULL;
    int rc;

    rc = voice_frontend_new(&fe);
    if (rc != 0)
        return rc;
    rc = voice_frontend_push(fe, samples, n);
    if (rc == 0)
        rc = voice_frontend_finish(fe, out);
    voice_frontend_free(fe);
    return rc;
}


int
voice_features_from_file(const char *path, int channel,
                         struct voice_features *out, char *msg,
                         size_t msg_len)
{
    struct voice_audio *a = NULL;
    struct voice_frontend *fe = NULL;
    float *buf = NULL;
    const char *name;
    size_t got;
    int rc;

    rc = voice_audio_open(path, channel, &a, NULL, msg, msg_len);
    if (rc != 0)
        return rc;
    buf = malloc(READ_BLOCK * sizeof *buf);
    rc = buf == NULL ? ERR_NOMEM : voice_frontend_new(&fe);
    if (rc != 0)
        goto fail;

    for (;;) {
        rc = voice_audio_read(a, buf, READ_BLOCK, &got);
        if (rc != 0) {
            err_message(msg, msg_len, "%s", voice_audio_error(a));
            goto out;
        }
        if (got == 0)
            break;
        rc = voice_frontend_push(fe, buf, got);
        if (rc != 0)
            goto fail;
    }
    rc = voice_frontend_finish(fe, out);
    if (rc != 0)
        goto fail;
    goto out;

fail:
    name = strrchr(path, '/');
    err_message(msg, msg_len, "%s: computing features: %s",
                name != NULL ? name + 1 : path, err_str(rc));
out:
    free(buf);
    voice_frontend_free(fe);
    voice_audio_close(a);
    return rc;
}


void
voice_features_free(struct voice_features *f)
{
    if (f == NULL)
        return;
    free(f->data);
    free(f->log_energy);
    free(f->is_speech);
    memset(f, 0, sizeof *f);
}


int
voice_features_frame_log_mel(const float *frame, float *log_mel)
{
    kiss_fftr_cfg fft;

    fft = kiss_fftr_alloc(FFT_LEN, 0, NULL, NULL);
    if (fft == NULL)
        return ERR_NOMEM;
    frame_log_mel(get_tables(), fft, frame, log_mel);
    kiss_fftr_free(fft);
    return 0;
}


double
voice_features_mel_center_hz(size_t band)
{
    return mel_to_hz(mel_edge(band + 1));
}
