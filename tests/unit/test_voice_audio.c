/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for decoding and resampling call recordings. The recordings
 * are written with libsndfile into a temporary folder by the tests. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tmpdir.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sndfile.h>

#include "util/err.h"
#include "voice/audio.h"

#define AMPLITUDE 0.5
#define MSG_LEN 512

static char dir[64];


static int
make_dir(void **state)
{
    return tmpdir_make(dir, sizeof dir, "test_voice_audio");
}


static int
remove_dir(void **state)
{
    return tmpdir_remove(dir);
}


static const char *
path_of(const char *name)
{
    static char path[512];

    snprintf(path, sizeof path, "%s/%s", dir, name);
    return path;
}


/* Writes 'seconds' of a sine per channel (frequency freqs_hz[c]) at
 * AMPLITUDE in the given libsndfile format; returns the path. */
static const char *
write_tones(const char *name, int format, int rate_hz, int channels,
            double seconds, const double *freqs_hz)
{
    SF_INFO si;
    SNDFILE *sf;
    sf_count_t n = (sf_count_t)(seconds * rate_hz);
    float *buf;
    const char *path = path_of(name);

    memset(&si, 0, sizeof si);
    si.samplerate = rate_hz;
    si.channels = channels;
    si.format = format;
    sf = sf_open(path, SFM_WRITE, &si);
    assert_non_null(sf);
    buf = malloc(sizeof *buf * ((size_t)n * (size_t)channels + 1));
    assert_non_null(buf);
    for (sf_count_t i = 0; i < n; i++) {
        for (int c = 0; c < channels; c++)
            buf[i * channels + c] = (float)(AMPLITUDE *
                sin(2 * M_PI * freqs_hz[c] * (double)i / rate_hz));
    }
    assert_int_equal(sf_writef_float(sf, buf, n), n);
    free(buf);
    assert_int_equal(sf_close(sf), 0);
    return path;
}


static const char *
write_tone(const char *name, int format, int rate_hz, double seconds)
{
    const double freq_hz = 440.0;

    return write_tones(name, format, rate_hz, 1, seconds, &freq_hz);
}


static void
write_bytes(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");

    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}


static unsigned char *
read_bytes(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    unsigned char *data;
    long size;

    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    size = ftell(f);
    assert_true(size > 0);
    rewind(f);
    data = malloc((size_t)size);
    assert_non_null(data);
    assert_int_equal(fread(data, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    *len = (size_t)size;
    return data;
}


/* Frequency from the rate of upward zero crossings over the middle of
 * the signal (the resampler's edges are left out). */
static double
measure_hz(const float *x, size_t n)
{
    size_t lo = n / 10;
    size_t hi = n - n / 10;
    size_t first = 0;
    size_t last = 0;
    size_t crossings = 0;

    for (size_t i = lo + 1; i < hi; i++) {
        if (x[i - 1] < 0.0f && x[i] >= 0.0f) {
            if (crossings == 0)
                first = i;
            last = i;
            crossings++;
        }
    }
    assert_true(crossings > 2);
    return (double)(crossings - 1) * 8000.0 / (double)(last - first);
}


static double
rms(const float *x, size_t n)
{
    double sum = 0.0;

    for (size_t i = n / 10; i < n - n / 10; i++)
        sum += (double)x[i] * x[i];
    return sqrt(sum / (double)(n - 2 * (n / 10)));
}


/* Loads 'path' and checks length, pitch and level of a 440 Hz tone. */
static void
check_tone(const char *path, int channel, double seconds, double freq_hz,
           struct voice_audio_info *info)
{
    float *x = NULL;
    size_t n = 0;
    char msg[MSG_LEN] = "";
    double expect_n = seconds * VOICE_AUDIO_RATE_HZ;

    assert_int_equal(voice_audio_load(path, channel, &x, &n, info, msg,
                                      sizeof msg), 0);
    assert_true(fabs((double)n - expect_n) <= 0.01 * expect_n);
    assert_true(fabs(measure_hz(x, n) - freq_hz) < 0.01 * freq_hz);
    assert_true(fabs(rms(x, n) - AMPLITUDE / sqrt(2.0)) < 0.03);
    for (size_t i = 0; i < n; i++)
        assert_true(x[i] >= -1.0f && x[i] <= 1.0f);
    free(x);
}


static void
test_audio_decodes_pcm16_at_every_rate(void **state)
{
    static const int rates_hz[] = {
        8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000,
    };
    struct voice_audio_info info;
    char name[64];
    const char *path;

    for (size_t i = 0; i < sizeof rates_hz / sizeof rates_hz[0]; i++) {
        snprintf(name, sizeof name, "rate%d.wav", rates_hz[i]);
        path = write_tone(name, SF_FORMAT_WAV | SF_FORMAT_PCM_16,
                          rates_hz[i], 2.0);
        memset(&info, 0, sizeof info);
        check_tone(path, 0, 2.0, 440.0, &info);
        assert_int_equal(info.source_rate_hz, rates_hz[i]);
        assert_int_equal(info.channels, 1);
        assert_int_equal(info.frames, 2 * rates_hz[i]);
        assert_string_equal(info.format, "wav pcm16");
        assert_true(fabs(info.duration_s - 2.0) < 1e-9);
    }
}


static void
test_audio_decodes_every_supported_encoding(void **state)
{
    static const struct {
        int format;
        const char *label;
        const char *ext;
    } cases[] = {
        {SF_FORMAT_WAV | SF_FORMAT_PCM_U8, "wav pcm8", "wav"},
        {SF_FORMAT_WAV | SF_FORMAT_PCM_24, "wav pcm24", "wav"},
        {SF_FORMAT_WAV | SF_FORMAT_PCM_32, "wav pcm32", "wav"},
        {SF_FORMAT_WAV | SF_FORMAT_FLOAT, "wav float", "wav"},
        {SF_FORMAT_WAV | SF_FORMAT_DOUBLE, "wav double", "wav"},
        {SF_FORMAT_WAV | SF_FORMAT_ULAW, "wav mu-law", "wav"},
        {SF_FORMAT_WAV | SF_FORMAT_ALAW, "wav a-law", "wav"},
        {SF_FORMAT_WAVEX | SF_FORMAT_PCM_16, "wav pcm16", "wav"},
        {SF_FORMAT_FLAC | SF_FORMAT_PCM_16, "flac", "flac"},
        {SF_FORMAT_FLAC | SF_FORMAT_PCM_24, "flac", "flac"},
    };
    static const int rates_hz[] = {8000, 16000, 44100};
    struct voice_audio_info info;
    char name[64];
    const char *path;

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        for (size_t r = 0; r < sizeof rates_hz / sizeof rates_hz[0]; r++) {
            snprintf(name, sizeof name, "enc%zu_%d.%s", i, rates_hz[r],
                     cases[i].ext);
            path = write_tone(name, cases[i].format, rates_hz[r], 1.0);
            memset(&info, 0, sizeof info);
            check_tone(path, 0, 1.0, 440.0, &info);
            assert_string_equal(info.format, cases[i].label);
            assert_int_equal(info.source_rate_hz, rates_hz[r]);
        }
    }
}


static void
test_audio_selects_the_requested_channel(void **state)
{
    static const double freqs_hz[2] = {440.0, 1000.0};
    static const int formats[] = {
        SF_FORMAT_WAV | SF_FORMAT_PCM_16,
        SF_FORMAT_WAV | SF_FORMAT_ULAW,
        SF_FORMAT_WAV | SF_FORMAT_FLOAT,
        SF_FORMAT_FLAC | SF_FORMAT_PCM_16,
    };
    static const int rates_hz[] = {8000, 16000, 48000};
    struct voice_audio_info info;
    char name[64];
    const char *path;

    for (size_t f = 0; f < sizeof formats / sizeof formats[0]; f++) {
        for (size_t r = 0; r < sizeof rates_hz / sizeof rates_hz[0]; r++) {
            snprintf(name, sizeof name, "stereo%zu_%d.%s", f, rates_hz[r],
                     f == 3 ? "flac" : "wav");
            path = write_tones(name, formats[f], rates_hz[r], 2, 1.5,
                               freqs_hz);
            check_tone(path, 0, 1.5, 440.0, &info);
            assert_int_equal(info.channels, 2);
            check_tone(path, 1, 1.5, 1000.0, &info);
        }
    }
}


/* Loads a 1 s tone of 'freq_hz' at 'rate_hz' (float samples) and returns
 * its level after conversion, in dB relative to the source's. */
static double
converted_level_db(int rate_hz, double freq_hz)
{
    const char *path = write_tones("level.wav",
                                   SF_FORMAT_WAV | SF_FORMAT_FLOAT, rate_hz,
                                   1, 1.0, &freq_hz);
    float *x = NULL;
    size_t n = 0;
    double level;

    assert_int_equal(voice_audio_load(path, 0, &x, &n, NULL, NULL, 0), 0);
    level = rms(x, n) / (AMPLITUDE / sqrt(2.0));
    free(x);
    return level > 0.0 ? 20 * log10(level) : -400.0;
}


/* The output band is flat: tones up to 3.7 kHz (the top of the mel
 * filters) keep their level within 0.1 dB, whatever the source rate. */
static void
test_audio_keeps_the_band_up_to_3_7_khz_flat(void **state)
{
    static const int rates_hz[] = {
        11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000,
    };
    static const double freqs_hz[] = {
        100.0, 300.0, 1000.0, 2000.0, 3000.0, 3400.0, 3700.0,
    };
    double db;

    for (size_t r = 0; r < sizeof rates_hz / sizeof rates_hz[0]; r++) {
        for (size_t f = 0; f < sizeof freqs_hz / sizeof freqs_hz[0]; f++) {
            db = converted_level_db(rates_hz[r], freqs_hz[f]);
            if (fabs(db) > 0.1)
                fail_msg("%d Hz source, %.0f Hz tone: %.3f dB", rates_hz[r],
                         freqs_hz[f], db);
        }
    }
}


/* Content above the 4 kHz output band must not fold back into it: tones
 * from 4.2 kHz up come out at least 50 dB down, and from 4.3 kHz up at
 * least 66 dB down (the promise of audio.h), whatever the source rate. */
static void
test_audio_removes_content_above_4_khz(void **state)
{
    static const struct {
        int rate_hz;
        double freq_hz;
        double min_loss_db;
    } cases[] = {
        {11025, 4300.0, 66.0}, {11025, 5000.0, 66.0},
        {12000, 4200.0, 50.0}, {12000, 5900.0, 66.0},
        {16000, 4200.0, 50.0}, {16000, 4300.0, 66.0},
        {16000, 4600.0, 66.0}, {16000, 7000.0, 66.0},
        {22050, 4200.0, 50.0}, {22050, 6000.0, 66.0},
        {24000, 4300.0, 66.0}, {24000, 11000.0, 66.0},
        {32000, 4200.0, 50.0}, {32000, 12000.0, 66.0},
        {32000, 15500.0, 66.0},
        {44100, 4200.0, 50.0}, {44100, 4300.0, 66.0},
        {44100, 5000.0, 66.0}, {44100, 18500.0, 66.0},
        {44100, 21000.0, 66.0},
        {48000, 4200.0, 50.0}, {48000, 4300.0, 66.0},
        {48000, 4600.0, 66.0}, {48000, 20000.0, 66.0},
        {48000, 23000.0, 66.0},
    };
    double db;

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        db = converted_level_db(cases[i].rate_hz, cases[i].freq_hz);
        if (db > -cases[i].min_loss_db)
            fail_msg("%d Hz source, %.0f Hz tone: %.1f dB", cases[i].rate_hz,
                     cases[i].freq_hz, db);
    }
}


/* However long the source, the 8 kHz stream lasts as long: its sample
 * count is the source's frame count scaled to 8 kHz, to within one. */
static void
test_audio_output_length_follows_source_length(void **state)
{
    static const int rates_hz[] = {
        8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000,
    };
    static const int frames[] = {1, 100, 4095, 4097, 12345};
    struct voice_audio_info info;
    const char *path;
    float *x = NULL;
    size_t n = 0;
    double expect_n;

    for (size_t r = 0; r < sizeof rates_hz / sizeof rates_hz[0]; r++) {
        for (size_t f = 0; f < sizeof frames / sizeof frames[0]; f++) {
            path = write_tone("length.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_16,
                              rates_hz[r], (frames[f] + 0.5) / rates_hz[r]);
            assert_int_equal(voice_audio_load(path, 0, &x, &n, &info, NULL,
                                              0), 0);
            assert_int_equal(info.frames, frames[f]);
            expect_n = (double)frames[f] * VOICE_AUDIO_RATE_HZ / rates_hz[r];
            if (fabs((double)n - expect_n) > 1.0)
                fail_msg("%d Hz source, %d frames: %zu samples, expected "
                         "%.2f", rates_hz[r], frames[f], n, expect_n);
            free(x);
        }
    }
}


static void
test_audio_streamed_blocks_equal_loaded_samples(void **state)
{
    const char *path = write_tone("stream.wav",
                                  SF_FORMAT_WAV | SF_FORMAT_PCM_16, 44100,
                                  3.0);
    struct voice_audio *a = NULL;
    float *whole = NULL;
    float *streamed;
    float block[97];
    size_t n_whole = 0;
    size_t n = 0;
    size_t got;

    assert_int_equal(voice_audio_load(path, 0, &whole, &n_whole, NULL, NULL,
                                      0), 0);
    streamed = calloc(n_whole + 1024, sizeof *streamed);
    assert_non_null(streamed);
    assert_int_equal(voice_audio_open(path, 0, &a, NULL, NULL, 0), 0);
    for (;;) {
        assert_int_equal(voice_audio_read(a, block, 97, &got), 0);
        if (got == 0)
            break;
        assert_true(n + got <= n_whole);
        memcpy(streamed + n, block, got * sizeof *block);
        n += got;
    }

    /* The end is sticky. */
    got = 5;
    assert_int_equal(voice_audio_read(a, block, 97, &got), 0);
    assert_int_equal(got, 0);
    assert_string_equal(voice_audio_error(a), "");
    assert_int_equal(n, n_whole);
    assert_memory_equal(streamed, whole, n * sizeof *whole);
    voice_audio_close(a);
    free(streamed);
    free(whole);
}


static void
test_audio_memory_source_equals_file(void **state)
{
    static const double freqs_hz[2] = {300.0, 700.0};
    const char *path = write_tones("mem.flac",
                                   SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 16000,
                                   2, 1.0, freqs_hz);
    struct voice_audio *a = NULL;
    struct voice_audio_info info;
    unsigned char *bytes;
    float *from_file = NULL;
    float *from_mem;
    size_t n_file = 0;
    size_t len;
    size_t got;

    assert_int_equal(voice_audio_load(path, 1, &from_file, &n_file, NULL,
                                      NULL, 0), 0);
    bytes = read_bytes(path, &len);
    assert_int_equal(voice_audio_open_memory(bytes, len, "mem.flac", 1, &a,
                                             &info, NULL, 0), 0);
    assert_string_equal(info.format, "flac");
    from_mem = malloc((n_file + 16) * sizeof *from_mem);
    assert_non_null(from_mem);
    assert_int_equal(voice_audio_read(a, from_mem, n_file + 16, &got), 0);
    assert_int_equal(got, n_file);
    assert_memory_equal(from_mem, from_file, n_file * sizeof *from_file);
    voice_audio_close(a);
    free(from_mem);
    free(from_file);
    free(bytes);
}


static void
test_audio_clips_float_samples_beyond_full_scale(void **state)
{
    const char *path = path_of("loud.wav");
    SF_INFO si = {.samplerate = 8000, .channels = 1,
                  .format = SF_FORMAT_WAV | SF_FORMAT_FLOAT};
    SNDFILE *sf;
    float in[1000];
    float *x = NULL;
    size_t n = 0;

    for (int i = 0; i < 1000; i++)
        in[i] = (i % 3 == 0) ? 4.0f : (i % 3 == 1) ? -7.5f : NAN;
    sf = sf_open(path, SFM_WRITE, &si);
    assert_non_null(sf);
    assert_int_equal(sf_writef_float(sf, in, 1000), 1000);
    sf_close(sf);

    assert_int_equal(voice_audio_load(path, 0, &x, &n, NULL, NULL, 0), 0);
    assert_int_equal(n, 1000);
    assert_true(x[0] == 1.0f && x[1] == -1.0f && x[2] == 0.0f);
    free(x);
}


/* Expects voice_audio_open() to fail with 'rc' and a message holding
 * 'part' and the file's name but not its folder. */
static void
expect_open_error(const char *path, int channel, int rc, const char *part)
{
    struct voice_audio *a = (struct voice_audio *)&a;
    struct voice_audio *before = a;
    struct voice_audio_info info = {.channels = -7};
    char msg[MSG_LEN] = "";
    const char *name = strrchr(path, '/') + 1;

    assert_int_equal(voice_audio_open(path, channel, &a, &info, msg,
                                      sizeof msg), rc);
    assert_ptr_equal(a, before);
    assert_int_equal(info.channels, -7);
    if (strstr(msg, part) == NULL || strncmp(msg, name, strlen(name)) != 0)
        fail_msg("message \"%s\" lacks \"%s\" or \"%s\"", msg, part, name);
    assert_null(strstr(msg, dir));
}


static void
test_audio_refuses_empty_file(void **state)
{
    const char *path = path_of("empty.wav");

    write_bytes(path, "", 0);
    expect_open_error(path, 0, ERR_INVAL, "empty");
}


static void
test_audio_refuses_wav_without_frames(void **state)
{
    const char *path = write_tone("noframes.wav",
                                  SF_FORMAT_WAV | SF_FORMAT_PCM_16, 8000,
                                  0.0);

    expect_open_error(path, 0, ERR_INVAL, "contains no audio");
}


/* A WAV cut in half still has a readable header, but its data chunk
 * declares twice what is there: refused as truncated before decoding. */
static void
test_audio_refuses_wav_cut_in_half(void **state)
{
    const char *path = write_tone("half.wav",
                                  SF_FORMAT_WAV | SF_FORMAT_PCM_16, 16000,
                                  1.0);
    struct stat st;

    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(truncate(path, st.st_size / 2), 0);
    expect_open_error(path, 0, ERR_INVAL, "truncated");
}


/* A FLAC header carries the total length; a cut file opens, then its
 * decoding fails before that length is reached. */
static void
test_audio_refuses_flac_cut_in_half(void **state)
{
    const char *path = write_tone("half.flac",
                                  SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 16000,
                                  2.0);
    struct voice_audio *a = NULL;
    struct stat st;
    float block[4096];
    size_t got;
    int rc;
    float *x = (float *)&x;
    size_t n = 77;
    char msg[MSG_LEN] = "";

    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(truncate(path, st.st_size / 2), 0);
    assert_int_equal(voice_audio_open(path, 0, &a, NULL, NULL, 0), 0);
    do {
        rc = voice_audio_read(a, block, 4096, &got);
    } while (rc == 0 && got > 0);
    assert_int_equal(rc, ERR_INVAL);
    assert_non_null(strstr(voice_audio_error(a), "half.flac: "));
    assert_int_equal(voice_audio_read(a, block, 4096, &got), ERR_INVAL);
    voice_audio_close(a);

    assert_int_equal(voice_audio_load(path, 0, &x, &n, NULL, msg,
                                      sizeof msg), ERR_INVAL);
    assert_ptr_equal(x, (float *)&x);
    assert_int_equal(n, 77);
    assert_non_null(strstr(msg, "frames"));
}


/* A WAV whose data chunk says "length unknown" (0xFFFFFFFF, as written by
 * recorders streaming to a pipe) is read to the end of the file. */
static void
test_audio_accepts_wav_with_unknown_data_length(void **state)
{
    const char *path = write_tone("unknown.wav",
                                  SF_FORMAT_WAV | SF_FORMAT_PCM_16, 8000,
                                  1.0);
    struct voice_audio_info info;
    unsigned char *bytes;
    size_t len;
    float *x = NULL;
    size_t n = 0;

    bytes = read_bytes(path, &len);
    assert_memory_equal(bytes + 36, "data", 4);
    memset(bytes + 40, 0xff, 4);
    write_bytes(path, bytes, len);
    free(bytes);
    assert_int_equal(voice_audio_load(path, 0, &x, &n, &info, NULL, 0), 0);
    assert_int_equal(n, 8000);
    assert_int_equal(info.frames, 8000);
    free(x);
}


static void
test_audio_refuses_random_bytes_named_wav(void **state)
{
    const char *path = path_of("noise.wav");
    unsigned char junk[4000];

    srand(7);
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (unsigned char)rand();
    write_bytes(path, junk, sizeof junk);
    expect_open_error(path, 0, ERR_INVAL, "not a WAV file");
}


static void
test_audio_refuses_flac_named_wav(void **state)
{
    char flac[512];
    const char *path;

    /* path_of() answers in one static buffer. */
    snprintf(flac, sizeof flac, "%s",
             write_tone("real.flac", SF_FORMAT_FLAC | SF_FORMAT_PCM_16,
                        8000, 0.5));
    path = path_of("fake.wav");
    assert_int_equal(rename(flac, path), 0);
    expect_open_error(path, 0, ERR_INVAL, "mislabelled");
}


static void
test_audio_refuses_wav_header_without_data(void **state)
{
    static const unsigned char header[] = {
        'R', 'I', 'F', 'F', 36, 0, 0, 0, 'W', 'A', 'V', 'E',
        'f', 'm', 't', ' ', 16, 0, 0, 0, 1, 0, 1, 0,
        0x40, 0x1f, 0, 0, 0x80, 0x3e, 0, 0, 2, 0, 16, 0,
    };
    const char *path = path_of("nodata.wav");

    write_bytes(path, header, sizeof header);
    expect_open_error(path, 0, ERR_INVAL, "WAV");
}


/* The limit is decided by size before any byte is decoded: a file of
 * zeros just over it is too big, one exactly at it is judged as audio. */
static void
test_audio_refuses_file_over_20_mb(void **state)
{
    const char *path = path_of("big.wav");
    FILE *f = fopen(path, "wb");

    assert_non_null(f);
    assert_int_equal(ftruncate(fileno(f), 21 * 1000 * 1000), 0);
    fclose(f);
    expect_open_error(path, 0, ERR_TOOBIG, "20000000");

    assert_int_equal(truncate(path, VOICE_AUDIO_MAX_BYTES), 0);
    expect_open_error(path, 0, ERR_INVAL, "not a WAV file");
}


static void
test_audio_refuses_flac_claiming_hours(void **state)
{
    const char *path = write_tone("long.flac",
                                  SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 8000,
                                  0.5);
    uint64_t frames = 8000ull * 3000;
    unsigned char *bytes;
    size_t len;

    /* STREAMINFO follows "fLaC" and a 4-byte block header; its total
     * sample count is the low 36 bits of data bytes 10..17. */
    bytes = read_bytes(path, &len);
    assert_memory_equal(bytes, "fLaC", 4);
    bytes[21] = (unsigned char)((bytes[21] & 0xf0) | (frames >> 32));
    for (int i = 0; i < 4; i++)
        bytes[22 + i] = (unsigned char)(frames >> (24 - 8 * i));
    write_bytes(path, bytes, len);
    free(bytes);
    expect_open_error(path, 0, ERR_TOOBIG, "limit");
}


/* Streaming FLAC encoders may leave the total length at 0 ("unknown"):
 * such a stream is decoded until it ends. */
static void
test_audio_reads_flac_of_open_length(void **state)
{
    const char *path = write_tone("open.flac",
                                  SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 16000,
                                  1.5);
    struct voice_audio_info info;
    unsigned char *bytes;
    size_t len;

    bytes = read_bytes(path, &len);
    bytes[21] &= 0xf0;
    memset(bytes + 22, 0, 4);
    write_bytes(path, bytes, len);
    free(bytes);
    check_tone(path, 0, 1.5, 440.0, &info);
    assert_int_equal(info.frames, -1);
    assert_true(info.duration_s < 0.0);
}


static void
test_audio_refuses_channel_1_of_mono(void **state)
{
    const char *path = write_tone("call1.wav",
                                  SF_FORMAT_WAV | SF_FORMAT_PCM_16, 8000,
                                  0.5);

    expect_open_error(path, 1, ERR_INVAL,
                      "call1.wav: channel 1 requested but the file has 1 "
                      "channel");
    expect_open_error(path, 2, ERR_INVAL, "channel 2");
    expect_open_error(path, -1, ERR_INVAL, "channel -1");
}


static void
test_audio_refuses_unsupported_rate(void **state)
{
    const char *path = write_tone("odd.wav",
                                  SF_FORMAT_WAV | SF_FORMAT_PCM_16, 12345,
                                  0.5);

    expect_open_error(path, 0, ERR_INVAL, "12345 Hz");
    path = write_tone("hifi.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_16, 96000,
                      0.5);
    expect_open_error(path, 0, ERR_INVAL, "96000 Hz");
}


static void
test_audio_refuses_unsupported_encoding(void **state)
{
    const char *path = write_tone("adpcm.wav",
                                  SF_FORMAT_WAV | SF_FORMAT_IMA_ADPCM, 8000,
                                  0.5);

    expect_open_error(path, 0, ERR_INVAL, "unsupported encoding");
    path = write_tone("gsm.wav", SF_FORMAT_WAV | SF_FORMAT_GSM610, 8000,
                      0.5);
    expect_open_error(path, 0, ERR_INVAL, "unsupported encoding");
}


static void
test_audio_refuses_other_containers(void **state)
{
    const char *path = write_tone("tone.aiff",
                                  SF_FORMAT_AIFF | SF_FORMAT_PCM_16, 8000,
                                  0.5);

    expect_open_error(path, 0, ERR_INVAL, "not a WAV or FLAC file");
}


static void
test_audio_missing_file_is_io_error(void **state)
{
    expect_open_error(path_of("missing.wav"), 0, ERR_IO, "cannot open");
}


static void
test_audio_directory_is_io_error(void **state)
{
    const char *path = path_of("folder.wav");

    assert_int_equal(mkdir(path, 0700), 0);
    expect_open_error(path, 0, ERR_IO, "not a regular file");
    assert_int_equal(rmdir(path), 0);
}


static void
test_audio_memory_source_checks_like_files(void **state)
{
    struct voice_audio *a = NULL;
    char msg[MSG_LEN] = "";
    static const char text[] = "this is not audio at all, just text";

    assert_int_equal(voice_audio_open_memory(text, sizeof text, "t.flac", 0,
                                             &a, NULL, msg, sizeof msg),
                     ERR_INVAL);
    assert_string_equal(msg, "t.flac: not a FLAC file");
    assert_null(a);
    assert_int_equal(voice_audio_open_memory(text, 0, NULL, 0, &a, NULL, msg,
                                             sizeof msg), ERR_INVAL);
    assert_string_equal(msg, "audio: the file is empty");
    assert_int_equal(voice_audio_open_memory(text, VOICE_AUDIO_MAX_BYTES + 1,
                                             "x", 0, &a, NULL, msg,
                                             sizeof msg), ERR_TOOBIG);
    assert_null(a);
}


static void
test_audio_close_accepts_null(void **state)
{
    voice_audio_close(NULL);
}


/* Writes a 440 Hz sine of 'gain' times full scale, cut at full scale. */
static const char *
write_clipped_tone(const char *name, double gain)
{
    SF_INFO si = { .samplerate = 8000, .channels = 1,
                   .format = SF_FORMAT_WAV | SF_FORMAT_FLOAT };
    float buf[8000];
    SNDFILE *sf;
    const char *path = path_of(name);

    sf = sf_open(path, SFM_WRITE, &si);
    assert_non_null(sf);
    for (size_t i = 0; i < 8000; i++) {
        double v = gain * sin(2 * M_PI * 440.0 * (double)i / 8000.0);

        buf[i] = (float)(v > 1.0 ? 1.0 : v < -1.0 ? -1.0 : v);
    }
    assert_int_equal(sf_writef_float(sf, buf, 8000), 8000);
    assert_int_equal(sf_close(sf), 0);
    return path;
}


static void
test_audio_refuses_clipped_recordings(void **state)
{
    float *x = NULL;
    size_t n = 0;
    char msg[MSG_LEN] = "";

    /* Three times full scale: most samples sit on the rail. */
    assert_int_equal(voice_audio_load(write_clipped_tone("hot.wav", 3.0), 0,
                                      &x, &n, NULL, msg, sizeof msg),
                     ERR_INVAL);
    assert_null(x);
    assert_non_null(strstr(msg, "hot.wav: the recording is clipped"));

    /* Just under full scale is loud, not clipped. */
    assert_int_equal(voice_audio_load(write_clipped_tone("loud.wav", 0.99),
                                      0, &x, &n, NULL, msg, sizeof msg), 0);
    assert_int_equal(n, 8000);
    free(x);
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_audio_decodes_pcm16_at_every_rate),
        cmocka_unit_test(test_audio_decodes_every_supported_encoding),
        cmocka_unit_test(test_audio_selects_the_requested_channel),
        cmocka_unit_test(test_audio_keeps_the_band_up_to_3_7_khz_flat),
        cmocka_unit_test(test_audio_removes_content_above_4_khz),
        cmocka_unit_test(test_audio_output_length_follows_source_length),
        cmocka_unit_test(test_audio_streamed_blocks_equal_loaded_samples),
        cmocka_unit_test(test_audio_memory_source_equals_file),
        cmocka_unit_test(test_audio_clips_float_samples_beyond_full_scale),
        cmocka_unit_test(test_audio_refuses_empty_file),
        cmocka_unit_test(test_audio_refuses_wav_without_frames),
        cmocka_unit_test(test_audio_refuses_wav_cut_in_half),
        cmocka_unit_test(test_audio_refuses_flac_cut_in_half),
        cmocka_unit_test(test_audio_accepts_wav_with_unknown_data_length),
        cmocka_unit_test(test_audio_refuses_random_bytes_named_wav),
        cmocka_unit_test(test_audio_refuses_flac_named_wav),
        cmocka_unit_test(test_audio_refuses_wav_header_without_data),
        cmocka_unit_test(test_audio_refuses_file_over_20_mb),
        cmocka_unit_test(test_audio_refuses_flac_claiming_hours),
        cmocka_unit_test(test_audio_reads_flac_of_open_length),
        cmocka_unit_test(test_audio_refuses_channel_1_of_mono),
        cmocka_unit_test(test_audio_refuses_unsupported_rate),
        cmocka_unit_test(test_audio_refuses_unsupported_encoding),
        cmocka_unit_test(test_audio_refuses_other_containers),
        cmocka_unit_test(test_audio_missing_file_is_io_error),
        cmocka_unit_test(test_audio_directory_is_io_error),
        cmocka_unit_test(test_audio_memory_source_checks_like_files),
        cmocka_unit_test(test_audio_close_accepts_null),
        cmocka_unit_test(test_audio_refuses_clipped_recordings),
    };

    return cmocka_run_group_tests(tests, make_dir, remove_dir);
}
