/* SPDX-License-Identifier: Apache-2.0 */
/*
 * xoshiro256** seeded through splitmix64. The state is never all zero:
 * splitmix64 output of four consecutive steps cannot be four zeros.
 */
#include "voice/rng.h"

#include <math.h>


static uint64_t
rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}


static uint64_t
splitmix64(uint64_t *x)
{
    uint64_t z;

    *x += 0x9e3779b97f4a7c15u;
    z = *x;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}


void
voice_rng_seed(struct voice_rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&seed);
}


uint64_t
voice_rng_next(struct voice_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;

    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}


double
voice_rng_uniform(struct voice_rng *r)
{
    return (double)(voice_rng_next(r) >> 11) * 0x1.0p-53;
}


double
voice_rng_normal(struct voice_rng *r)
{
    /* 1 - u lies in (0, 1], so the logarithm is finite. */
    double u1 = 1.0 - voice_rng_uniform(r);
    double u2 = voice_rng_uniform(r);

    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}


uint64_t
voice_rng_below(struct voice_rng *r, uint64_t n)
{
    /* Values at or above 'limit' would make the low residues likelier. */
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;

    do {
        x = voice_rng_next(r);
    } while (x >= limit);
    return x % n;
}
