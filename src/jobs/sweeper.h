/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The retention sweeper: a background thread that erases deleted domains
 * once they have been deleted for longer than the retention period, and
 * forgets ClientTokens older than theirs. DeleteDomain only hides a
 * domain; this is where its data really goes. Every SDK call that creates
 * something carries a fresh token, so without the sweep their table would
 * only grow.
 */
#ifndef TIMBRE_JOBS_SWEEPER_H
#define TIMBRE_JOBS_SWEEPER_H

#include <stdint.h>

struct store;
struct sweeper;

/*
 * Starts the thread. It wakes every 'interval_s' seconds and erases, in
 * small batches, the domains deleted more than 'retention_s' seconds ago
 * and the ClientTokens first used more than 'token_ttl_s' seconds ago.
 * 'store' is borrowed and must outlive the sweeper. Returns 0, ERR_NOMEM
 * or ERR_INTERNAL when the thread cannot start.
 */
int sweeper_start(struct store *store, int64_t retention_s,
                  int64_t token_ttl_s, int64_t interval_s,
                  struct sweeper **out);

/* Wakes the thread, waits for it to finish its batch and frees it;
 * NULL is fine. */
void sweeper_stop(struct sweeper *sw);

#endif
