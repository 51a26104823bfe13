/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Retention sweeper thread. Batches are small so that one sweep never
 * holds the store's write lock for long while requests wait behind it.
 */
#include "jobs/sweeper.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "store/store.h"
#include "util/clock.h"
#include "util/err.h"
#include "util/log.h"

#define PURGE_BATCH 50
#define TOKEN_BATCH 1000    /* a token is one small row */
#define MAX_BATCHES_PER_WAKE 100

struct sweeper {
    struct store *store;
    int64_t retention_s;
    int64_t token_ttl_s;
    int64_t interval_s;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stopping;
};


typedef int (*purge_fn)(struct store *s, double before, int limit,
                        size_t *n_erased);

/* Runs 'purge' batch after batch until nothing older than 'age_s' seconds
 * is left or this wake's share of batches is used; logs what went. */
static void
sweep_kind(struct sweeper *sw, purge_fn purge, int batch, int64_t age_s,
           const char *what)
{
    double before = clock_epoch_s() - (double)age_s;
    size_t total = 0;
    size_t erased = 0;
    int rc = 0;

    for (int i = 0; i < MAX_BATCHES_PER_WAKE; i++) {
        rc = purge(sw->store, before, batch, &erased);
        if (rc != 0)
            break;
        total += erased;
        if (erased < (size_t)batch)
            break;
    }

    if (rc != 0)
        log_msg(LOG_WARN, "sweeper", NULL, "erasing %s failed: %s, "
                "retrying at the next sweep", what, err_str(rc));
    if (total > 0)
        log_msg(LOG_INFO, "sweeper", NULL, "erased %zu %s older than "
                "%lld s", total, what, (long long)age_s);
}


static void
sweep_once(struct sweeper *sw)
{
    sweep_kind(sw, store_domain_purge, PURGE_BATCH, sw->retention_s,
               "deleted domains");
    sweep_kind(sw, store_idempotency_purge, TOKEN_BATCH, sw->token_ttl_s,
               "client tokens");
}


static void *
sweeper_main(void *arg)
{
    struct sweeper *sw = arg;
    struct timespec deadline;

    pthread_mutex_lock(&sw->lock);
    while (!sw->stopping) {
        pthread_mutex_unlock(&sw->lock);
        sweep_once(sw);
        pthread_mutex_lock(&sw->lock);

        clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_sec += sw->interval_s;
        while (!sw->stopping
               && pthread_cond_timedwait(&sw->wake, &sw->lock, &deadline)
                      != ETIMEDOUT) {
            /* Spurious wake-ups go back to waiting. */
        }
    }
    pthread_mutex_unlock(&sw->lock);
    return NULL;
}


int
sweeper_start(struct store *store, int64_t retention_s,
              int64_t token_ttl_s, int64_t interval_s, struct sweeper **out)
{
    struct sweeper *sw = calloc(1, sizeof(*sw));

    if (sw == NULL)
        return ERR_NOMEM;
    sw->store = store;
    sw->retention_s = retention_s;
    sw->token_ttl_s = token_ttl_s;
    sw->interval_s = interval_s > 0 ? interval_s : 1;
    pthread_mutex_init(&sw->lock, NULL);
    pthread_cond_init(&sw->wake, NULL);

    if (pthread_create(&sw->thread, NULL, sweeper_main, sw) != 0) {
        pthread_cond_destroy(&sw->wake);
        pthread_mutex_destroy(&sw->lock);
        free(sw);
        return ERR_INTERNAL;
    }
    *out = sw;
    return 0;
}


void
sweeper_stop(struct sweeper *sw)
{
    if (sw == NULL)
        return;
    pthread_mutex_lock(&sw->lock);
    sw->stopping = true;
    pthread_cond_signal(&sw->wake);
    pthread_mutex_unlock(&sw->lock);

    pthread_join(sw->thread, NULL);
    pthread_cond_destroy(&sw->wake);
    pthread_mutex_destroy(&sw->lock);
    free(sw);
}
