/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Energy voice activity detection with an adaptive threshold (the method
 * is described in vad.h). Everything is computed in natural-log energy
 * units; decibels convert with ln(10) / 10.
 */
#include "voice/vad.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"

#define FRAME_LEN 200
#define NOISE_PERCENTILE 0.10
#define SPEECH_PERCENTILE 0.95
#define THRESHOLD_SHARE 0.4f
/* Stands in for NaN energies so that sorting stays well defined. */
#define SILENT_ENERGY (-1e30f)


static float
db_to_ln(double db)
{
    return (float)(db * log(10.0) / 10.0);
}


static int
compare_floats(const void *a, const void *b)
{
    float x = *(const float *)a;
    float y = *(const float *)b;

    return (x > y) - (x < y);
}


/* Stores in '*threshold' the energy above which a frame is speech,
 * INFINITY when the recording has too little dynamic range to hold any.
 * Returns 0 or ERR_NOMEM. Precondition: n > 0. */
static int
find_threshold(const float *log_energy, size_t n, float *threshold)
{
    float *sorted;
    float noise;
    float speech;
    float t;
    float floor_ln;

    sorted = malloc(n * sizeof *sorted);
    if (sorted == NULL)
        return ERR_NOMEM;
    for (size_t i = 0; i < n; i++)
        sorted[i] = isnan(log_energy[i]) ? SILENT_ENERGY : log_energy[i];
    qsort(sorted, n, sizeof *sorted, compare_floats);
    noise = sorted[(size_t)(NOISE_PERCENTILE * (double)(n - 1))];
    speech = sorted[(size_t)(SPEECH_PERCENTILE * (double)(n - 1))];
    free(sorted);

    if (!(speech - noise >= db_to_ln(VOICE_VAD_MIN_RANGE_DB))) {
        *threshold = INFINITY;
        return 0;
    }

    t = noise + THRESHOLD_SHARE * (speech - noise);
    if (t < speech - db_to_ln(VOICE_VAD_MAX_BELOW_DB))
        t = speech - db_to_ln(VOICE_VAD_MAX_BELOW_DB);
    /* The floor is a mean square; the energies sum FRAME_LEN squares. */
    floor_ln = db_to_ln(VOICE_VAD_FLOOR_DBFS) + logf((float)FRAME_LEN);
    if (t < floor_ln)
        t = floor_ln;
    *threshold = t;
    return 0;
}


/* Clears runs of 1s shorter than 'min_run' in 'v'. */
static void
drop_short_runs(unsigned char *v, size_t n, size_t min_run)
{
    size_t i = 0;
    size_t start;

    while (i < n) {
        if (!v[i]) {
            i++;
            continue;
        }
        start = i;
        while (i < n && v[i])
            i++;
        if (i - start < min_run)
            memset(v + start, 0, i - start);
    }
}


/* Extends every run of 1s in 'v' by 'hang' frames. */
static void
extend_runs(unsigned char *v, size_t n, size_t hang)
{
    size_t left = 0;

    for (size_t i = 0; i < n; i++) {
        if (v[i] == 1) {
            left = hang;
        } else if (left > 0) {
            /* 2 marks an extension so that it does not extend itself. */
            v[i] = 2;
            left--;
        }
    }
    for (size_t i = 0; i < n; i++)
        v[i] = v[i] != 0;
}


int
voice_vad_decide(const float *log_energy, size_t n_frames,
                 unsigned char *is_speech, size_t *n_speech)
{
    float threshold = INFINITY;
    size_t count = 0;
    int rc;

    if (n_frames > 0) {
        rc = find_threshold(log_energy, n_frames, &threshold);
        if (rc != 0)
            return rc;
    }

    for (size_t i = 0; i < n_frames; i++)
        is_speech[i] = log_energy[i] > threshold;
    drop_short_runs(is_speech, n_frames, VOICE_VAD_MIN_RUN_FRAMES);
    extend_runs(is_speech, n_frames, VOICE_VAD_HANGOVER_FRAMES);

    for (size_t i = 0; i < n_frames; i++)
        count += is_speech[i];
    *n_speech = count;
    return 0;
}
