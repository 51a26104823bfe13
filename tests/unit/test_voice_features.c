/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for the voice activity detector and the MFCC front end. The
 * signals are synthesised here; files go to a temporary folder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tmpdir.h"

#include <dirent.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sndfile.h>

#include "util/err.h"
#include "voice/features.h"
#include "voice/vad.h"

#define RATE 8000
#define MSG_LEN 512

static char dir[64];
static uint32_t rng_state;


static int
make_dir(void **state)
{
    return tmpdir_make(dir, sizeof dir, "test_voice_features");
}


static int
remove_dir(void **state)
{
    return tmpdir_remove(dir);
}


/* Uniform in [-1, 1), reproducible. */
static float
noise(void)
{
    rng_state = rng_state * 1664525u + 1013904223u;
    return (float)((double)(rng_state >> 8) / (1 << 23) - 1.0);
}


static float *
alloc_samples(size_t n)
{
    float *x = calloc(n + 1, sizeof *x);

    assert_non_null(x);
    return x;
}


/* 'n_bursts' tone bursts of 'burst_s' seconds, each after 'gap_s' seconds
 * of quiet noise (about -70 dB); every burst has its own pitch and a
 * syllable-like amplitude envelope, so the frames differ from each other
 * the way speech frames do. */
static float *
make_bursts(int n_bursts, double burst_s, double gap_s, size_t *n)
{
    size_t burst = (size_t)(burst_s * RATE);
    size_t gap = (size_t)(gap_s * RATE);
    size_t len = (size_t)n_bursts * (burst + gap) + gap;
    float *x = alloc_samples(len);
    size_t pos = 0;
    double f0;
    double env;

    rng_state = 12345;
    for (int b = 0; b < n_bursts; b++) {
        for (size_t i = 0; i < gap; i++)
            x[pos++] = 3e-4f * noise();
        f0 = 150.0 + 40.0 * b;
        for (size_t i = 0; i < burst; i++) {
            env = 0.6 + 0.4 * sin(2 * M_PI * 4.0 * (double)i / RATE);
            x[pos++] = (float)(0.3 * env *
                (sin(2 * M_PI * f0 * (double)i / RATE) +
                 0.5 * sin(2 * M_PI * 3.1 * f0 * (double)i / RATE) +
                 0.2 * sin(2 * M_PI * 7.3 * f0 * (double)i / RATE)) / 1.7)
                + 0.01f * noise();
        }
    }
    for (size_t i = 0; i < gap; i++)
        x[pos++] = 3e-4f * noise();
    *n = len;
    return x;
}


static size_t
frames_of(size_t n_samples)
{
    if (n_samples < VOICE_FEATURES_FRAME_LEN)
        return 0;
    return 1 + (n_samples - VOICE_FEATURES_FRAME_LEN) /
               VOICE_FEATURES_FRAME_SHIFT;
}


static float
db_energy(double dbfs)
{
    return (float)(dbfs * log(10.0) / 10.0 + log(200.0));
}


static void
test_vad_gives_no_speech_for_digital_silence(void **state)
{
    float e[500];
    unsigned char v[500];
    size_t n = 99;

    for (int i = 0; i < 500; i++)
        e[i] = logf(1e-10f);
    assert_int_equal(voice_vad_decide(e, 500, v, &n), 0);
    assert_int_equal(n, 0);
    for (int i = 0; i < 500; i++)
        assert_int_equal(v[i], 0);
}


static void
test_vad_accepts_no_frames(void **state)
{
    size_t n = 99;

    assert_int_equal(voice_vad_decide(NULL, 0, NULL, &n), 0);
    assert_int_equal(n, 0);
}


static void
test_vad_gives_no_speech_for_steady_noise(void **state)
{
    float e[1000];
    unsigned char v[1000];
    size_t n = 99;

    rng_state = 1;
    for (int i = 0; i < 1000; i++)
        e[i] = db_energy(-30.0 + 1.5 * noise());
    assert_int_equal(voice_vad_decide(e, 1000, v, &n), 0);
    assert_int_equal(n, 0);
}


/* Ten bursts of 30 frames at -15 dB over noise at -45 dB: each burst is
 * speech, plus the hangover after it. */
static void
test_vad_marks_bursts_and_their_hangover(void **state)
{
    float e[800];
    unsigned char v[800];
    size_t n = 0;
    int in_burst;
    int hang;

    for (int i = 0; i < 800; i++) {
        in_burst = i % 80 >= 50;
        e[i] = db_energy(in_burst ? -15.0 : -45.0);
    }
    assert_int_equal(voice_vad_decide(e, 800, v, &n), 0);
    /* The last burst ends the recording: no room for its hangover. */
    assert_int_equal(n, 10 * 30 + 9 * VOICE_VAD_HANGOVER_FRAMES);
    for (int i = 0; i < 800; i++) {
        in_burst = i % 80 >= 50;
        hang = i % 80 < VOICE_VAD_HANGOVER_FRAMES && i >= 80;
        assert_int_equal(v[i], in_burst || hang);
    }
}


static void
test_vad_drops_clicks_shorter_than_the_minimum_run(void **state)
{
    float e[600];
    unsigned char v[600];
    size_t n = 0;

    /* Speech in frames 100-299; three-frame clicks at 400 and 500. */
    for (int i = 0; i < 600; i++)
        e[i] = db_energy(-70.0);
    for (int i = 100; i < 300; i++)
        e[i] = db_energy(-20.0);
    for (int i = 0; i < 3; i++) {
        e[400 + i] = db_energy(0.0);
        e[500 + i] = db_energy(0.0);
    }
    assert_int_equal(voice_vad_decide(e, 600, v, &n), 0);
    assert_int_equal(n, 200 + VOICE_VAD_HANGOVER_FRAMES);
    assert_int_equal(v[401], 0);
    assert_int_equal(v[501], 0);
}


static void
test_vad_bridges_short_gaps(void **state)
{
    float e[300];
    unsigned char v[300];
    size_t n = 0;

    for (int i = 0; i < 300; i++)
        e[i] = db_energy(-70.0);
    for (int i = 100; i < 142; i++)
        e[i] = db_energy(-20.0);
    e[120] = e[121] = db_energy(-70.0);
    assert_int_equal(voice_vad_decide(e, 300, v, &n), 0);
    assert_int_equal(n, 42 + VOICE_VAD_HANGOVER_FRAMES);
    assert_int_equal(v[120], 1);
}


static void
test_vad_never_marks_frames_under_the_absolute_floor(void **state)
{
    float e[400];
    unsigned char v[400];
    size_t n = 99;

    /* A wide dynamic range, but all of it under -60 dB. */
    for (int i = 0; i < 400; i++)
        e[i] = db_energy(i % 100 < 50 ? -100.0 : -65.0);
    assert_int_equal(voice_vad_decide(e, 400, v, &n), 0);
    assert_int_equal(n, 0);
}


static void
test_vad_treats_nan_as_silence(void **state)
{
    float e[300];
    unsigned char v[300];
    size_t n = 0;

    for (int i = 0; i < 300; i++)
        e[i] = i < 100 ? NAN : db_energy(i < 200 ? -20.0 : -70.0);
    assert_int_equal(voice_vad_decide(e, 300, v, &n), 0);
    assert_int_equal(n, 100 + VOICE_VAD_HANGOVER_FRAMES);
    assert_int_equal(v[50], 0);
}


static void
expect_no_speech(const float *x, size_t n)
{
    struct voice_features f;

    assert_int_equal(voice_features_from_samples(x, n, &f), 0);
    assert_int_equal(f.n_all_frames, frames_of(n));
    assert_int_equal(f.n_frames, 0);
    assert_null(f.data);
    assert_true(f.net_speech_s == 0.0);
    assert_true(fabs(f.total_s - (double)n / RATE) < 1e-9);
    voice_features_free(&f);
}


/* Silence, steady noise, a DC offset stuck at full scale ("clipped but
 * silent") and silence with isolated clicks hold no speech. */
static void
test_features_find_no_speech_without_speech(void **state)
{
    size_t n = 5 * RATE;
    float *x = alloc_samples(n);

    expect_no_speech(x, n);

    rng_state = 99;
    for (size_t i = 0; i < n; i++)
        x[i] = 0.01f * noise();
    expect_no_speech(x, n);
    for (size_t i = 0; i < n; i++)
        x[i] = 0.3f * noise();
    expect_no_speech(x, n);

    for (size_t i = 0; i < n; i++)
        x[i] = 1.0f;
    expect_no_speech(x, n);
    for (size_t i = 0; i < n; i++)
        x[i] = -1.0f + (i % 7 == 0 ? 1.0f / 32768 : 0.0f);
    expect_no_speech(x, n);

    memset(x, 0, n * sizeof *x);
    for (size_t i = 1000; i < n; i += 4000)
        x[i] = 1.0f;
    expect_no_speech(x, n);
    free(x);
}


static void
test_features_count_speech_of_tone_bursts(void **state)
{
    struct voice_features f;
    size_t n;
    float *x = make_bursts(6, 0.5, 0.7, &n);
    size_t bursts = 6 * 50;
    size_t margin = 6 * (2 + VOICE_VAD_HANGOVER_FRAMES);
    size_t pos;

    assert_int_equal(voice_features_from_samples(x, n, &f), 0);
    assert_int_equal(f.dim, VOICE_FEATURES_DIM);
    assert_int_equal(f.n_all_frames, frames_of(n));
    if (f.n_frames < bursts - 6 || f.n_frames > bursts + margin)
        fail_msg("%zu speech frames, expected %zu-%zu", f.n_frames,
                 bursts - 6, bursts + margin);
    assert_true(fabs(f.net_speech_s - f.n_frames * 0.01) < 1e-9);

    /* The middle of each burst is speech, the middle of each gap not. */
    for (int b = 0; b < 6; b++) {
        pos = (size_t)b * 120 + 70 + 25;
        assert_int_equal(f.is_speech[pos], 1);
        assert_int_equal(f.is_speech[pos - 60], 0);
    }
    voice_features_free(&f);
    free(x);
}


static void
test_features_normalise_kept_frames(void **state)
{
    struct voice_features f;
    size_t n;
    float *x = make_bursts(8, 0.6, 0.4, &n);
    double mean;
    double var;

    assert_int_equal(voice_features_from_samples(x, n, &f), 0);
    assert_true(f.n_frames > 400);
    for (size_t j = 0; j < f.dim; j++) {
        mean = 0.0;
        var = 0.0;
        for (size_t i = 0; i < f.n_frames; i++)
            mean += f.data[i * f.dim + j];
        mean /= (double)f.n_frames;
        for (size_t i = 0; i < f.n_frames; i++)
            var += pow(f.data[i * f.dim + j] - mean, 2);
        var /= (double)f.n_frames;
        if (fabs(mean) > 1e-4 || fabs(var - 1.0) > 1e-3)
            fail_msg("dim %zu: mean %g var %g", j, mean, var);
    }
    voice_features_free(&f);
    free(x);
}


static void
test_features_are_deterministic(void **state)
{
    struct voice_features a;
    struct voice_features b;
    size_t n;
    float *x = make_bursts(4, 0.5, 0.5, &n);

    assert_int_equal(voice_features_from_samples(x, n, &a), 0);
    assert_int_equal(voice_features_from_samples(x, n, &b), 0);
    assert_int_equal(a.n_frames, b.n_frames);
    assert_memory_equal(a.data, b.data,
                        a.n_frames * a.dim * sizeof *a.data);
    assert_memory_equal(a.log_energy, b.log_energy,
                        a.n_all_frames * sizeof *a.log_energy);
    voice_features_free(&a);
    voice_features_free(&b);
    free(x);
}


/* Pushing in odd block sizes gives bit-identical results to one push, and
 * a finished frontend starts the next utterance from scratch. */
static void
test_frontend_streaming_equals_one_call(void **state)
{
    static const size_t sizes[] = {1, 7, 80, 199, 200, 333, 4096};
    struct voice_frontend *fe = NULL;
    struct voice_features whole;
    struct voice_features parts;
    size_t n;
    float *x = make_bursts(5, 0.4, 0.3, &n);
    size_t pos = 0;
    size_t take;

    assert_int_equal(voice_features_from_samples(x, n, &whole), 0);
    assert_int_equal(voice_frontend_new(&fe), 0);
    for (int round = 0; round < 2; round++) {
        pos = 0;
        for (size_t k = 0; pos < n; k++) {
            take = sizes[k % 7] < n - pos ? sizes[k % 7] : n - pos;
            assert_int_equal(voice_frontend_push(fe, x + pos, take), 0);
            pos += take;
        }
        assert_int_equal(voice_frontend_finish(fe, &parts), 0);
        assert_int_equal(parts.n_all_frames, whole.n_all_frames);
        assert_int_equal(parts.n_frames, whole.n_frames);
        assert_true(parts.total_s == whole.total_s);
        assert_memory_equal(parts.data, whole.data,
                            whole.n_frames * whole.dim * sizeof *whole.data);
        assert_memory_equal(parts.is_speech, whole.is_speech,
                            whole.n_all_frames);
        voice_features_free(&parts);
    }
    voice_frontend_free(fe);
    voice_features_free(&whole);
    free(x);
}


static void
test_features_of_short_input_have_no_frames(void **state)
{
    float x[200] = {0};
    struct voice_features f;

    assert_int_equal(voice_features_from_samples(x, 0, &f), 0);
    assert_int_equal(f.n_all_frames, 0);
    assert_int_equal(f.dim, VOICE_FEATURES_DIM);
    voice_features_free(&f);
    assert_int_equal(voice_features_from_samples(x, 199, &f), 0);
    assert_int_equal(f.n_all_frames, 0);
    voice_features_free(&f);
    assert_int_equal(voice_features_from_samples(x, 200, &f), 0);
    assert_int_equal(f.n_all_frames, 1);
    assert_int_equal(f.n_frames, 0);
    voice_features_free(&f);
}


static double
hz_to_mel(double hz)
{
    return 2595.0 * log10(1.0 + hz / 700.0);
}


static void
test_features_mel_centres_are_equally_spaced_in_range(void **state)
{
    double step = (hz_to_mel(3700.0) - hz_to_mel(200.0)) / 25.0;
    double centre;

    for (size_t b = 0; b < VOICE_FEATURES_N_MEL; b++) {
        centre = voice_features_mel_center_hz(b);
        assert_true(fabs(hz_to_mel(centre) -
                         (hz_to_mel(200.0) + step * (double)(b + 1))) <
                    1e-6);
    }
    assert_true(voice_features_mel_center_hz(0) > 250.0);
    assert_true(voice_features_mel_center_hz(23) < 3500.0);
}


static size_t
loudest_band(double freq_hz, float *peak)
{
    float frame[VOICE_FEATURES_FRAME_LEN];
    float log_mel[VOICE_FEATURES_N_MEL];
    size_t best = 0;

    for (int i = 0; i < VOICE_FEATURES_FRAME_LEN; i++)
        frame[i] = (float)(0.5 * sin(2 * M_PI * freq_hz * i / RATE + 0.3));
    assert_int_equal(voice_features_frame_log_mel(frame, log_mel), 0);
    for (size_t b = 1; b < VOICE_FEATURES_N_MEL; b++) {
        if (log_mel[b] > log_mel[best])
            best = b;
    }
    *peak = log_mel[best];
    return best;
}


/* A sine at a filter's centre frequency is loudest in that filter; tones
 * outside 200-3700 Hz reach the filterbank only through leakage. */
static void
test_features_sine_peaks_in_its_mel_band(void **state)
{
    float peak;
    float in_band;
    size_t band;

    for (size_t b = 0; b < VOICE_FEATURES_N_MEL; b++) {
        band = loudest_band(voice_features_mel_center_hz(b), &peak);
        if (band != b)
            fail_msg("%.0f Hz peaks in band %zu, not %zu",
                     voice_features_mel_center_hz(b), band, b);
    }
    assert_int_equal(loudest_band(1000.0, &in_band), 9);
    loudest_band(80.0, &peak);
    assert_true(peak < in_band - logf(1000.0f));
    loudest_band(3990.0, &peak);
    assert_true(peak < in_band - logf(1000.0f));
}


static const char *
write_float_wav(const char *name, const float *x, size_t n)
{
    static char path[512];
    SF_INFO si = {.samplerate = RATE, .channels = 1,
                  .format = SF_FORMAT_WAV | SF_FORMAT_FLOAT};
    SNDFILE *sf;

    snprintf(path, sizeof path, "%s/%s", dir, name);
    sf = sf_open(path, SFM_WRITE, &si);
    assert_non_null(sf);
    assert_int_equal(sf_writef_float(sf, x, (sf_count_t)n), (sf_count_t)n);
    assert_int_equal(sf_close(sf), 0);
    return path;
}


static void
test_features_from_file_equal_features_from_samples(void **state)
{
    struct voice_features from_file;
    struct voice_features direct;
    size_t n;
    float *x = make_bursts(4, 0.5, 0.5, &n);
    const char *path = write_float_wav("bursts.wav", x, n);
    char msg[MSG_LEN] = "";

    assert_int_equal(voice_features_from_file(path, 0, &from_file, msg,
                                              sizeof msg), 0);
    assert_int_equal(voice_features_from_samples(x, n, &direct), 0);
    assert_int_equal(from_file.n_frames, direct.n_frames);
    assert_true(from_file.total_s == direct.total_s);
    assert_memory_equal(from_file.data, direct.data,
                        direct.n_frames * direct.dim * sizeof *direct.data);
    voice_features_free(&from_file);
    voice_features_free(&direct);
    free(x);
}


struct job {
    const char *path;
    struct voice_features f;
    int rc;
};


static void *
run_job(void *arg)
{
    struct job *j = arg;

    j->rc = voice_features_from_file(j->path, 0, &j->f, NULL, 0);
    return NULL;
}


/* Streams share only read-only tables (built once, here by whichever of
 * the threads comes first for the 24 kHz filters), so threads running at
 * once agree bit for bit. */
static void
test_features_agree_across_threads(void **state)
{
    struct job jobs[4];
    pthread_t threads[4];
    size_t n;
    float *x = make_bursts(3, 0.5, 0.5, &n);
    float *y = alloc_samples(3 * n);
    char path[512];
    SF_INFO si = {.samplerate = 24000, .channels = 1,
                  .format = SF_FORMAT_WAV | SF_FORMAT_PCM_16};
    SNDFILE *sf;

    for (size_t i = 0; i < 3 * n; i++)
        y[i] = x[i / 3];
    snprintf(path, sizeof path, "%s/threads.wav", dir);
    sf = sf_open(path, SFM_WRITE, &si);
    assert_non_null(sf);
    sf_writef_float(sf, y, (sf_count_t)(3 * n));
    sf_close(sf);

    for (int i = 0; i < 4; i++) {
        jobs[i].path = path;
        assert_int_equal(pthread_create(&threads[i], NULL, run_job,
                                        &jobs[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pthread_join(threads[i], NULL), 0);
        assert_int_equal(jobs[i].rc, 0);
    }
    assert_true(jobs[0].f.n_frames > 100);
    for (int i = 1; i < 4; i++) {
        assert_int_equal(jobs[i].f.n_frames, jobs[0].f.n_frames);
        assert_memory_equal(jobs[i].f.data, jobs[0].f.data,
                            jobs[0].f.n_frames * VOICE_FEATURES_DIM *
                            sizeof(float));
    }
    for (int i = 0; i < 4; i++)
        voice_features_free(&jobs[i].f);
    free(y);
    free(x);
}


static const char *
write_flac(const char *name)
{
    static char path[512];
    SF_INFO si = {.samplerate = RATE, .channels = 1,
                  .format = SF_FORMAT_FLAC | SF_FORMAT_PCM_16};
    SNDFILE *sf;
    size_t n;
    float *x = make_bursts(3, 0.5, 0.5, &n);

    snprintf(path, sizeof path, "%s/%s", dir, name);
    sf = sf_open(path, SFM_WRITE, &si);
    assert_non_null(sf);
    assert_int_equal(sf_writef_float(sf, x, (sf_count_t)n), (sf_count_t)n);
    assert_int_equal(sf_close(sf), 0);
    free(x);
    return path;
}


static void
test_features_from_file_report_decoder_errors(void **state)
{
    struct voice_features f = {.n_frames = 42};
    char msg[MSG_LEN] = "";
    char path[512];
    float x[4000] = {0};
    FILE *fp;

    snprintf(path, sizeof path, "%s/absent.wav", dir);
    assert_int_equal(voice_features_from_file(path, 0, &f, msg, sizeof msg),
                     ERR_IO);
    assert_string_equal(msg, "absent.wav: cannot open: No such file or "
                        "directory");
    assert_int_equal(f.n_frames, 42);

    snprintf(path, sizeof path, "%s", write_float_wav("mono.wav", x, 4000));
    assert_int_equal(voice_features_from_file(path, 1, &f, msg, sizeof msg),
                     ERR_INVAL);
    assert_string_equal(msg, "mono.wav: channel 1 requested but the file "
                        "has 1 channel");

    /* Half a FLAC file opens, then decoding stops short. */
    snprintf(path, sizeof path, "%s", write_flac("cut.flac"));
    fp = fopen(path, "r+");
    assert_non_null(fp);
    assert_int_equal(fseek(fp, 0, SEEK_END), 0);
    assert_int_equal(ftruncate(fileno(fp), ftell(fp) / 2), 0);
    fclose(fp);
    assert_int_equal(voice_features_from_file(path, 0, &f, msg, sizeof msg),
                     ERR_INVAL);
    assert_non_null(strstr(msg, "cut.flac: the audio data is truncated"));
    assert_int_equal(f.n_frames, 42);
}


static void
test_frontend_refuses_audio_past_the_limit(void **state)
{
    struct voice_frontend *fe = NULL;
    struct voice_features f = {.n_frames = 7};
    float *zeros = alloc_samples(80000);
    size_t pushed = 0;
    int rc = 0;

    assert_int_equal(voice_frontend_new(&fe), 0);
    while (rc == 0 && pushed < (size_t)RATE * 2600) {
        rc = voice_frontend_push(fe, zeros, 80000);
        pushed += 80000;
    }
    assert_int_equal(rc, ERR_TOOBIG);
    assert_true(pushed > (size_t)RATE * VOICE_AUDIO_MAX_DURATION_S);
    assert_int_equal(voice_frontend_push(fe, zeros, 10), ERR_TOOBIG);
    assert_int_equal(voice_frontend_finish(fe, &f), ERR_TOOBIG);
    assert_int_equal(f.n_frames, 7);

    /* Finishing reset the frontend. */
    assert_int_equal(voice_frontend_push(fe, zeros, 1000), 0);
    assert_int_equal(voice_frontend_finish(fe, &f), 0);
    assert_int_equal(f.n_all_frames, frames_of(1000));
    voice_features_free(&f);
    voice_frontend_free(fe);
    free(zeros);
}


static void
test_features_free_accepts_null_and_zeroes(void **state)
{
    struct voice_features f;
    size_t n;
    float *x = make_bursts(1, 0.5, 0.2, &n);

    voice_features_free(NULL);
    voice_frontend_free(NULL);
    assert_int_equal(voice_features_from_samples(x, n, &f), 0);
    voice_features_free(&f);
    assert_null(f.data);
    assert_null(f.log_energy);
    assert_int_equal(f.n_frames, 0);
    voice_features_free(&f);
    free(x);
}


static double
cpu_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}


static void
bench_file(const char *label, int format, int rate_hz, int channels)
{
    static char path[512];
    SF_INFO si = {.samplerate = rate_hz, .channels = channels,
                  .format = format};
    SNDFILE *sf;
    size_t n;
    float *x = make_bursts(60, 0.6, 0.4, &n);
    float *y = alloc_samples((size_t)(60 * rate_hz * channels));
    size_t m = (size_t)60 * (size_t)rate_hz;
    struct voice_features f;
    char msg[MSG_LEN] = "";
    double t;

    /* The 8 kHz signal, held at each sample to fill the source rate. */
    for (size_t i = 0; i < m; i++) {
        for (int c = 0; c < channels; c++)
            y[i * (size_t)channels + (size_t)c] =
                x[(i * RATE / (size_t)rate_hz) % n];
    }
    snprintf(path, sizeof path, "%s/bench.%s", dir,
             (format & SF_FORMAT_TYPEMASK) == SF_FORMAT_FLAC ? "flac" : "wav");
    sf = sf_open(path, SFM_WRITE, &si);
    assert_non_null(sf);
    sf_writef_float(sf, y, (sf_count_t)m);
    sf_close(sf);

    t = cpu_seconds();
    if (voice_features_from_file(path, 0, &f, msg, sizeof msg) != 0)
        fail_msg("%s", msg);
    t = cpu_seconds() - t;
    print_message("bench: 60 s %-22s %6.3f CPU s, %5.0fx real time\n",
                  label, t, 60.0 / t);
    voice_features_free(&f);
    free(y);
    free(x);
}


/* Prints speed; asserts nothing about it. */
static void
test_features_benchmark(void **state)
{
    struct voice_features f;
    size_t n;
    float *x = make_bursts(60, 0.6, 0.4, &n);
    double t;

    t = cpu_seconds();
    assert_int_equal(voice_features_from_samples(x, n, &f), 0);
    t = cpu_seconds() - t;
    print_message("bench: %.0f s of samples (features only) %6.3f CPU s, "
                  "%5.0fx real time\n", f.total_s, t, f.total_s / t);
    voice_features_free(&f);
    free(x);

    bench_file("8 kHz mu-law WAV", SF_FORMAT_WAV | SF_FORMAT_ULAW, 8000, 1);
    bench_file("16 kHz PCM16 WAV", SF_FORMAT_WAV | SF_FORMAT_PCM_16, 16000,
               1);
    bench_file("22.05 kHz PCM16 WAV", SF_FORMAT_WAV | SF_FORMAT_PCM_16,
               22050, 1);
    bench_file("44.1 kHz stereo PCM16", SF_FORMAT_WAV | SF_FORMAT_PCM_16,
               44100, 2);
    bench_file("48 kHz FLAC", SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 48000, 1);
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vad_gives_no_speech_for_digital_silence),
        cmocka_unit_test(test_vad_accepts_no_frames),
        cmocka_unit_test(test_vad_gives_no_speech_for_steady_noise),
        cmocka_unit_test(test_vad_marks_bursts_and_their_hangover),
        cmocka_unit_test(test_vad_drops_clicks_shorter_than_the_minimum_run),
        cmocka_unit_test(test_vad_bridges_short_gaps),
        cmocka_unit_test(test_vad_never_marks_frames_under_the_absolute_floor),
        cmocka_unit_test(test_vad_treats_nan_as_silence),
        cmocka_unit_test(test_features_find_no_speech_without_speech),
        cmocka_unit_test(test_features_count_speech_of_tone_bursts),
        cmocka_unit_test(test_features_normalise_kept_frames),
        cmocka_unit_test(test_features_are_deterministic),
        cmocka_unit_test(test_frontend_streaming_equals_one_call),
        cmocka_unit_test(test_features_of_short_input_have_no_frames),
        cmocka_unit_test(test_features_mel_centres_are_equally_spaced_in_range),
        cmocka_unit_test(test_features_sine_peaks_in_its_mel_band),
        cmocka_unit_test(test_features_from_file_equal_features_from_samples),
        cmocka_unit_test(test_features_from_file_report_decoder_errors),
        cmocka_unit_test(test_features_agree_across_threads),
        cmocka_unit_test(test_frontend_refuses_audio_past_the_limit),
        cmocka_unit_test(test_features_free_accepts_null_and_zeroes),
        cmocka_unit_test(test_features_benchmark),
    };

    return cmocka_run_group_tests(tests, make_dir, remove_dir);
}
