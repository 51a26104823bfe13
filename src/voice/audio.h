/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Audio input of the voice engine: opens one call recording (WAV or FLAC),
 * checks it, and streams one of its channels as 8 kHz mono float samples.
 *
 * Ideas and invariants:
 * - Every check that can be made before decoding is made in
 *   voice_audio_open(): size (over VOICE_AUDIO_MAX_BYTES is ERR_TOOBIG),
 *   container magic (only RIFF/RIFX WAVE and FLAC reach libsndfile, so the
 *   file name's extension, when it is .wav, .wave or .flac, must agree with
 *   the content), encoding, sample rate, channel count, the requested
 *   channel, a zero-length stream, a decoded length over
 *   VOICE_AUDIO_MAX_DURATION_S (a small FLAC file can claim hours), and a
 *   WAV whose data chunk declares more bytes than the file holds.
 * - Decoding streams: the source is read VOICE_AUDIO_BLOCK_FRAMES frames at
 *   a time through libsndfile's virtual I/O and converted to 8 kHz by
 *   libsoxr's streaming resampler (SOXR_HQ), so memory does not grow with
 *   the length of the file. 8 kHz sources pass untouched; every other rate
 *   comes out flat to 3.7 kHz and at least 66 dB down above 4.3 kHz.
 * - Output samples are finite and within [-1, 1]: NaN becomes 0 and float
 *   sources that exceed full scale are clipped.
 * - A stream that ends before the number of frames its header declares is
 *   truncated: voice_audio_read() then fails with ERR_INVAL. A FLAC
 *   stream whose header leaves the length open (info frames -1) is read
 *   until the decoder stops, and fails with ERR_TOOBIG once it passes
 *   VOICE_AUDIO_MAX_DURATION_S.
 * - Messages name the file by its last path component (or the name given
 *   to voice_audio_open_memory()), never by the full path.
 *
 * Feature extraction (voice/features.h) and everything after it is left to
 * other modules.
 */
#ifndef TIMBRE_VOICE_AUDIO_H
#define TIMBRE_VOICE_AUDIO_H

#include <stddef.h>
#include <stdint.h>

#define VOICE_AUDIO_RATE_HZ 8000
#define VOICE_AUDIO_MAX_BYTES (20 * 1000 * 1000)
/* The longest a 20 MB WAV can last (8-bit samples at 8 kHz); applies to
 * every format so compressed sources cannot decode to more. */
#define VOICE_AUDIO_MAX_DURATION_S 2500
#define VOICE_AUDIO_MAX_CHANNELS 8
#define VOICE_AUDIO_BLOCK_FRAMES 4096

/* A sample at or above this magnitude that repeats the previous one is
 * stuck at full scale (mu-law and A-law peak near 0.98). A recording with
 * more than VOICE_AUDIO_MAX_CLIPPED_SHARE of such samples is refused as
 * clipped when its end is read. */
#define VOICE_AUDIO_RAIL_LEVEL 0.95f
#define VOICE_AUDIO_MAX_CLIPPED_SHARE 0.01

struct voice_audio;

struct voice_audio_info {
    int source_rate_hz;
    int channels;
    int64_t frames;         /* source frames the header declares, or -1 */
    const char *format;     /* static: "wav pcm16", "wav mu-law", "flac" */
    double duration_s;      /* frames / source rate, or -1 */
};

/* Opens the recording at 'path' for streaming channel 'channel' (0 or 1)
 * at 8 kHz. On success stores a stream the caller releases with
 * voice_audio_close() in '*out', fills 'info' (may be NULL) and returns 0.
 * Errors, each with a message naming the file in 'msg' (may be NULL):
 * ERR_IO (cannot open or read, not a regular file), ERR_TOOBIG (over
 * VOICE_AUDIO_MAX_BYTES or VOICE_AUDIO_MAX_DURATION_S), ERR_INVAL (empty,
 * not WAV or FLAC, mislabelled, unsupported encoding, rate or channel
 * count, bad channel, no audio, truncated), ERR_NOMEM. Outputs are
 * untouched on failure. */
int voice_audio_open(const char *path, int channel, struct voice_audio **out,
                     struct voice_audio_info *info, char *msg,
                     size_t msg_len);

/* As voice_audio_open() over 'len' bytes at 'data', which are borrowed and
 * must stay valid until voice_audio_close(). 'name' (may be NULL) names
 * the recording in messages and decides the extension check. Never
 * returns ERR_IO. */
int voice_audio_open_memory(const void *data, size_t len, const char *name,
                            int channel, struct voice_audio **out,
                            struct voice_audio_info *info, char *msg,
                            size_t msg_len);

/* Decodes the next at most 'cap' samples (8 kHz, mono, in [-1, 1]) into
 * 'out' and stores their number in '*n_out', which is 0 only once the
 * stream has ended (and cap > 0). Returns 0, ERR_INVAL when the data is
 * corrupt or ends before its declared length, ERR_TOOBIG when a stream of
 * open length passes VOICE_AUDIO_MAX_DURATION_S, ERR_IO when reading fails,
 * ERR_INTERNAL when the resampler fails; after an error every later call
 * returns the same error and voice_audio_error() says what happened.
 * '*n_out' is untouched on failure. */
int voice_audio_read(struct voice_audio *a, float *out, size_t cap,
                     size_t *n_out);

/* The message of the error voice_audio_read() last returned, naming the
 * file; "" when there was none. Borrowed: valid until the stream closes. */
const char *voice_audio_error(const struct voice_audio *a);

/* Closes the stream and its file; NULL does nothing. */
void voice_audio_close(struct voice_audio *a);

/* Decodes the whole recording at 'path' (as voice_audio_open()) into one
 * malloc'd buffer of 8 kHz samples the caller frees. On success stores it
 * in '*samples', its length in '*n', fills 'info' (may be NULL) and
 * returns 0. Errors as voice_audio_open() and voice_audio_read(); outputs
 * are untouched on failure. */
int voice_audio_load(const char *path, int channel, float **samples,
                     size_t *n, struct voice_audio_info *info, char *msg,
                     size_t msg_len);

#endif
