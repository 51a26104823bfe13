/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A small seeded pseudo-random generator for the voice engine's training.
 *
 * Training must give the same model, bit for bit, from the same data and
 * seed on every run, so the engine never uses rand() or any other shared
 * global state: each consumer owns a struct voice_rng. The generator is
 * xoshiro256** (Blackman and Vigna), whose 256-bit state is filled from a
 * 64-bit seed with splitmix64, so nearby seeds give unrelated streams.
 * It is not for cryptography. The struct is public so that it can live on
 * the stack; treat its members as private.
 */
#ifndef TIMBRE_VOICE_RNG_H
#define TIMBRE_VOICE_RNG_H

#include <stdint.h>

struct voice_rng {
    uint64_t s[4];
};

/* Sets 'r' to the start of the stream named by 'seed' (any value). */
void voice_rng_seed(struct voice_rng *r, uint64_t seed);

/* Returns the next 64 uniformly distributed bits. */
uint64_t voice_rng_next(struct voice_rng *r);

/* Returns a uniform double in [0, 1) with 53 random bits. */
double voice_rng_uniform(struct voice_rng *r);

/* Returns a draw from the standard normal distribution (Box-Muller; two
 * uniforms per draw, nothing cached between calls). */
double voice_rng_normal(struct voice_rng *r);

/* Returns a uniform integer in [0, n); n must be at least 1. Uses
 * rejection, so there is no modulo bias. */
uint64_t voice_rng_below(struct voice_rng *r, uint64_t n);

#endif
