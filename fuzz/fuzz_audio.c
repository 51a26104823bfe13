/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the voice engine's audio input: each input is
 * treated as the bytes of an uploaded recording and goes through
 * voice_audio_open_memory(), which hands it to libsndfile through the same
 * virtual I/O callbacks a file on disk takes, then through the decoder,
 * the rate converters and the MFCC front end.
 *
 * The input's length picks the name (no extension, .wav or .flac, so the
 * extension check runs both ways) and the channel (0 or 1); the content
 * stays untouched. Besides the sanitizers' findings, the target aborts
 * when an output breaks the module's contract: a sample outside [-1, 1]
 * or not finite, an unterminated message, a non-finite feature.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "voice/audio.h"
#include "voice/features.h"

#define BLOCK 1024

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


static void
check_message(const char *msg, size_t len)
{
    if (memchr(msg, '\0', len) == NULL)
        abort();
}


static void
check_features(const struct voice_features *f)
{
    for (size_t i = 0; i < f->n_frames * f->dim; i++) {
        if (!isfinite(f->data[i]))
            abort();
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const names[] = {"fuzz", "fuzz.wav", "fuzz.flac"};
    struct voice_audio *a = NULL;
    struct voice_frontend *fe = NULL;
    struct voice_features f;
    float buf[BLOCK];
    char msg[256];
    size_t got;
    int channel = (int)((size / 3) % 2);

    memset(msg, 'x', sizeof msg);
    if (voice_audio_open_memory(data, size, names[size % 3], channel, &a,
                                NULL, msg, sizeof msg) != 0) {
        check_message(msg, sizeof msg);
        return 0;
    }
    if (voice_frontend_new(&fe) != 0)
        abort();

    for (;;) {
        if (voice_audio_read(a, buf, BLOCK, &got) != 0) {
            check_message(voice_audio_error(a), 320);
            break;
        }
        if (got == 0)
            break;
        for (size_t i = 0; i < got; i++) {
            if (!(buf[i] >= -1.0f && buf[i] <= 1.0f))
                abort();
        }
        if (voice_frontend_push(fe, buf, got) != 0)
            break;
    }

    if (voice_frontend_finish(fe, &f) == 0) {
        check_features(&f);
        voice_features_free(&f);
    }
    voice_frontend_free(fe);
    voice_audio_close(a);
    return 0;
}
