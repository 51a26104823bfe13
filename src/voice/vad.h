/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Voice activity detection: marks which 10 ms frames of an utterance are
 * speech, from their energies alone.
 *
 * Input: one natural-log energy per frame, ln(sum of squares of the 200
 * DC-removed samples of the frame), samples in [-1, 1] at 8 kHz (what
 * voice/features.h computes). A full-scale square wave gives ln(200).
 *
 * Method (the threshold adapts to the recording):
 * 1. The noise floor N is the 10th percentile of the frame energies and
 *    the speech level S the 95th percentile.
 * 2. If S - N is under VOICE_VAD_MIN_RANGE_DB the recording is one steady
 *    sound (silence, hum, constant noise, a stuck sample): no frame is
 *    speech.
 * 3. Otherwise the threshold is N + 0.4 (S - N), but never more than
 *    VOICE_VAD_MAX_BELOW_DB under S (in clean recordings N is far down and
 *    the midpoint would still admit breaths and room noise), and never
 *    under the absolute floor VOICE_VAD_FLOOR_DBFS (a mean square of -60
 *    dB full scale), so near-digital silence is never speech.
 * 4. Runs of speech frames shorter than VOICE_VAD_MIN_RUN_FRAMES (clicks,
 *    pops) are dropped, then every remaining run is extended by
 *    VOICE_VAD_HANGOVER_FRAMES to keep the decaying end of words; the
 *    extension also bridges gaps that short.
 *
 * Percentiles rather than the minimum and maximum keep a few extreme
 * frames (a click, a dropout) from moving the threshold. A recording with
 * speech in fewer than about 5% of its frames (30 s with under 1.5 s of
 * speech) may come out with less speech than it has, which only matters
 * below any useful enrollment length.
 */
#ifndef TIMBRE_VOICE_VAD_H
#define TIMBRE_VOICE_VAD_H

#include <stddef.h>

#define VOICE_VAD_FLOOR_DBFS (-60.0)
#define VOICE_VAD_MIN_RANGE_DB 10.0
#define VOICE_VAD_MAX_BELOW_DB 30.0
#define VOICE_VAD_MIN_RUN_FRAMES 5
#define VOICE_VAD_HANGOVER_FRAMES 3

/* Decides for each of the 'n_frames' frames whether it is speech: writes
 * 1 or 0 to 'is_speech[i]' (caller-owned, n_frames bytes) and the number
 * of speech frames to '*n_speech'. Returns 0, or ERR_NOMEM (outputs
 * untouched). NaN energies count as silence. n_frames 0 gives 0 speech. */
int voice_vad_decide(const float *log_energy, size_t n_frames,
                     unsigned char *is_speech, size_t *n_speech);

#endif
