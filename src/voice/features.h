/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The voice engine's front end: turns 8 kHz mono samples into the
 * normalised 60-dimensional MFCC frames the models consume.
 *
 * Pipeline (fixed by the engine's design; every model depends on it):
 *
 *   samples -> pre-emphasis y[t] = x[t] - 0.97 x[t-1] (x[-1] = 0)
 *           -> frames of 200 samples every 80 (frame i covers
 *              [80 i, 80 i + 200); a tail shorter than a frame is dropped)
 *           -> Hamming window, zero-padded 256-point real FFT, power
 *           -> 24 triangular filters equally spaced on the mel scale
 *              (2595 log10(1 + f / 700)) from 200 to 3700 Hz
 *           -> ln(max(energy, 1e-10)) -> orthonormal DCT-II, c0..c19
 *   whole utterance: deltas and delta-deltas over +-2 frames (edge frames
 *   repeated) -> VAD (voice/vad.h) on the frame log energies -> keep the
 *   speech frames -> mean and variance normalisation of each dimension
 *   over the kept frames.
 *
 * Row layout: c0..c19, deltas of c0..c19, delta-deltas of c0..c19.
 * The VAD energy of a frame is ln(max(sum (x - mean)^2, 1e-10)) of its raw
 * samples: removing the frame's mean keeps a DC offset from looking like
 * speech.
 *
 * Streaming: a struct voice_frontend takes samples in any block sizes and
 * keeps only the per-frame cepstra and energies (84 bytes per 10 ms),
 * bounded by VOICE_FEATURES_MAX_FRAMES; the rest waits for the end of the
 * utterance. The window, filterbank and DCT tables are built once per
 * process (pthread_once) and only read afterwards; a frontend is used by
 * one thread at a time, distinct frontends run in parallel.
 */
#ifndef TIMBRE_VOICE_FEATURES_H
#define TIMBRE_VOICE_FEATURES_H

#include <stddef.h>

#include "voice/audio.h"

#define VOICE_FEATURES_FRAME_LEN 200
#define VOICE_FEATURES_FRAME_SHIFT 80
#define VOICE_FEATURES_FFT_LEN 256
#define VOICE_FEATURES_N_MEL 24
#define VOICE_FEATURES_N_CEPS 20
#define VOICE_FEATURES_DIM (3 * VOICE_FEATURES_N_CEPS)
#define VOICE_FEATURES_FRAME_S 0.01
/* Frames of the longest audio the decoder accepts, plus a margin. */
#define VOICE_FEATURES_MAX_FRAMES \
    ((size_t)VOICE_AUDIO_MAX_DURATION_S * 100 + 100)

struct voice_features {
    float *data;                /* n_frames x dim, row-major, owned */
    size_t n_frames;            /* kept (speech) frames */
    size_t dim;                 /* VOICE_FEATURES_DIM */
    double net_speech_s;        /* n_frames * 0.01 */
    double total_s;             /* input samples / 8000 */
    size_t n_all_frames;        /* frames before the VAD */
    float *log_energy;          /* n_all_frames VAD energies, owned */
    unsigned char *is_speech;   /* n_all_frames VAD decisions, owned */
};

struct voice_frontend;

/* Makes an empty streaming frontend; stores it in '*out' and returns 0, or
 * ERR_NOMEM ('*out' untouched). Free it with voice_frontend_free(). */
int voice_frontend_new(struct voice_frontend **out);

/* Appends 'n' samples (8 kHz, in [-1, 1]; borrowed) to the utterance.
 * Returns 0, ERR_TOOBIG past VOICE_FEATURES_MAX_FRAMES or ERR_NOMEM; after
 * an error the frontend refuses further samples until it is finished. */
int voice_frontend_push(struct voice_frontend *fe, const float *samples,
                        size_t n);

/* Ends the utterance: computes deltas, VAD, selection and normalisation
 * into '*out' (the caller releases it with voice_features_free()) and
 * resets the frontend for the next utterance. An utterance without speech
 * gives n_frames 0 and data NULL. Returns 0, ERR_NOMEM, or the error an
 * earlier push returned; '*out' is untouched on failure, and the frontend
 * is reset either way. */
int voice_frontend_finish(struct voice_frontend *fe,
                          struct voice_features *out);

/* Releases the frontend; NULL does nothing. */
void voice_frontend_free(struct voice_frontend *fe);

/* The features of the 'n' samples at 'samples' (borrowed) in '*out'.
 * Returns 0, ERR_TOOBIG or ERR_NOMEM ('*out' untouched). */
int voice_features_from_samples(const float *samples, size_t n,
                                struct voice_features *out);

/* Decodes channel 'channel' of the recording at 'path' (voice/audio.h)
 * and computes its features into '*out', streaming. Returns 0 or the
 * errors of voice_audio_open() and voice_audio_read(), with a message
 * naming the file in 'msg' (may be NULL); '*out' is untouched on
 * failure. */
int voice_features_from_file(const char *path, int channel,
                             struct voice_features *out, char *msg,
                             size_t msg_len);

/* Releases the arrays inside 'f' (not 'f' itself) and zeroes it; NULL
 * does nothing. */
void voice_features_free(struct voice_features *f);

/* Writes the 24 log mel energies of one frame of 200 samples, which must
 * already be pre-emphasised, into 'log_mel' (caller-owned). For tests and
 * diagnostics; returns 0 or ERR_NOMEM. */
int voice_features_frame_log_mel(const float *frame, float *log_mel);

/* The centre frequency in Hz of mel filter 'band' (0..23). */
double voice_features_mel_center_hz(size_t band);

#endif
