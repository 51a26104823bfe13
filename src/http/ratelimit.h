/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Per-account request-rate limiting: one token bucket per account.
 *
 * Each account may make 'burst' requests at once and then 'rate_per_s'
 * requests a second on average; a refused request costs nothing. The
 * caller passes the time in, so the limiter has no clock of its own and
 * tests are deterministic.
 *
 * At most RATELIMIT_MAX_ACCOUNTS buckets are kept. When a new account
 * arrives at a full table, the bucket holding the most tokens is dropped:
 * a dropped bucket comes back full, so dropping the fullest one changes
 * the least (a bucket that has refilled completely changes nothing).
 * Memory is therefore bounded whatever the traffic. Every function is
 * thread-safe.
 */
#ifndef TIMBRE_HTTP_RATELIMIT_H
#define TIMBRE_HTTP_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>

#define RATELIMIT_MAX_ACCOUNTS 1024

struct ratelimit;

/* Creates a limiter allowing 'rate_per_s' requests a second per account
 * with bursts of up to 'burst'. A rate of 0 means unlimited (burst is then
 * ignored). Returns 0 and sets *out (free with ratelimit_free), ERR_INVAL
 * for a negative or non-finite rate or, when limited, burst < 1, or
 * ERR_NOMEM; *out is untouched on failure. */
int ratelimit_new(double rate_per_s, int burst, struct ratelimit **out);

/* Takes one token from the bucket of 'account' (borrowed; NULL is "") at
 * time 'now_s' (seconds on any clock that does not jump backwards; if it
 * does, no tokens are added until it catches up). Returns true when the
 * request may proceed. Always true for an unlimited or NULL limiter, and
 * also when memory for a new account's name cannot be allocated: a
 * memory shortage should not refuse every new caller. */
bool ratelimit_allow(struct ratelimit *rl, const char *account,
                     double now_s);

/* Number of accounts tracked now; never above RATELIMIT_MAX_ACCOUNTS. */
size_t ratelimit_count(struct ratelimit *rl);

/* Frees 'rl' and everything it holds. NULL does nothing. */
void ratelimit_free(struct ratelimit *rl);

#endif
