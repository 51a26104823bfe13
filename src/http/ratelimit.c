/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Token buckets in a fixed open-addressing table with linear probing.
 *
 * The table has twice as many slots as accounts it may hold, so probe
 * sequences stay short, and it is allocated once: tracking an account
 * costs one slot plus a copy of its name. Removal shifts later entries of
 * the probe run back instead of leaving tombstones, so lookups never slow
 * down after many evictions. One mutex guards the table; every operation
 * under it is a few arithmetic steps, except eviction, which scans the
 * table once and only happens when it is full.
 */
#include "http/ratelimit.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"

#define N_SLOTS (2 * RATELIMIT_MAX_ACCOUNTS)
#define SLOT_MASK (N_SLOTS - 1)

/* Absorbs rounding in tokens + elapsed * rate, so that exactly one
 * period's worth of refill is never judged a hair short of a token. */
#define TOKEN_EPSILON 1e-9

_Static_assert((N_SLOTS & SLOT_MASK) == 0, "slot count: power of two");

struct bucket {
    char *account;      /* owned; NULL marks a free slot */
    uint64_t hash;
    double tokens;
    double last_s;      /* when 'tokens' was last brought up to date */
};

struct ratelimit {
    pthread_mutex_t lock;
    double rate_per_s;
    double burst;
    size_t n_used;
    struct bucket slots[N_SLOTS];
};


/* FNV-1a: accounts are authenticated ids, so no one can choose names to
 * collide on purpose. */
static uint64_t
hash_str(const char *s)
{
    uint64_t h = 0xcbf29ce484222325u;

    for (; *s != '\0'; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3u;
    }
    return h;
}


/* Index of the slot holding 'account', or of the free slot that ends its
 * probe run. The table is never full, so the loop ends. */
static size_t
slot_find(const struct ratelimit *rl, const char *account, uint64_t hash)
{
    size_t i = (size_t)hash & SLOT_MASK;

    while (rl->slots[i].account != NULL) {
        if (rl->slots[i].hash == hash
            && strcmp(rl->slots[i].account, account) == 0)
            return i;
        i = (i + 1) & SLOT_MASK;
    }
    return i;
}


/* Empties slot 'i', moving later members of its probe run back so that
 * each stays reachable from its home slot. */
static void
slot_remove(struct ratelimit *rl, size_t i)
{
    size_t j = i;

    free(rl->slots[i].account);
    for (;;) {
        size_t home;
        bool stays;

        j = (j + 1) & SLOT_MASK;
        if (rl->slots[j].account == NULL)
            break;
        home = (size_t)rl->slots[j].hash & SLOT_MASK;

        /* An entry may stay when its home lies cyclically in (i, j]. */
        if (i <= j)
            stays = home > i && home <= j;
        else
            stays = home > i || home <= j;
        if (!stays) {
            rl->slots[i] = rl->slots[j];
            i = j;
        }
    }
    memset(&rl->slots[i], 0, sizeof rl->slots[i]);
    rl->n_used--;
}


/* Tokens the bucket would hold at 'now_s' after refilling. */
static double
tokens_at(const struct ratelimit *rl, const struct bucket *b, double now_s)
{
    double t = b->tokens;

    if (now_s > b->last_s)
        t += (now_s - b->last_s) * rl->rate_per_s;
    return t < rl->burst ? t : rl->burst;
}


/* Drops the bucket whose loss changes the least: the fullest one. */
static void
evict_one(struct ratelimit *rl, double now_s)
{
    size_t best = N_SLOTS;
    double best_tokens = -1.0;

    for (size_t i = 0; i < N_SLOTS; i++) {
        double t;

        if (rl->slots[i].account == NULL)
            continue;
        t = tokens_at(rl, &rl->slots[i], now_s);
        if (t > best_tokens) {
            best = i;
            best_tokens = t;
        }
    }
    if (best < N_SLOTS)
        slot_remove(rl, best);
}


int
ratelimit_new(double rate_per_s, int burst, struct ratelimit **out)
{
    struct ratelimit *rl;

    if (out == NULL || !isfinite(rate_per_s) || rate_per_s < 0.0)
        return ERR_INVAL;
    if (rate_per_s > 0.0 && burst < 1)
        return ERR_INVAL;

    rl = calloc(1, sizeof *rl);
    if (rl == NULL)
        return ERR_NOMEM;
    if (pthread_mutex_init(&rl->lock, NULL) != 0) {
        free(rl);
        return ERR_NOMEM;
    }
    rl->rate_per_s = rate_per_s;
    rl->burst = burst;

    *out = rl;
    return 0;
}


bool
ratelimit_allow(struct ratelimit *rl, const char *account, double now_s)
{
    struct bucket *b;
    uint64_t hash;
    size_t i;
    bool allowed = true;

    /* The rate never changes after creation, so it is read unlocked. */
    if (rl == NULL || rl->rate_per_s == 0.0)
        return true;
    if (account == NULL)
        account = "";
    hash = hash_str(account);

    pthread_mutex_lock(&rl->lock);
    i = slot_find(rl, account, hash);
    if (rl->slots[i].account == NULL) {
        char *copy;

        if (rl->n_used >= RATELIMIT_MAX_ACCOUNTS) {
            evict_one(rl, now_s);
            i = slot_find(rl, account, hash);
        }
        copy = strdup(account);
        if (copy == NULL)
            goto out;
        rl->slots[i].account = copy;
        rl->slots[i].hash = hash;
        rl->slots[i].tokens = rl->burst;
        rl->slots[i].last_s = now_s;
        rl->n_used++;
    }

    b = &rl->slots[i];
    b->tokens = tokens_at(rl, b, now_s);
    if (now_s > b->last_s)
        b->last_s = now_s;
    if (b->tokens >= 1.0 - TOKEN_EPSILON) {
        b->tokens = b->tokens >= 1.0 ? b->tokens - 1.0 : 0.0;
    } else {
        allowed = false;
    }

out:
    pthread_mutex_unlock(&rl->lock);
    return allowed;
}


size_t
ratelimit_count(struct ratelimit *rl)
{
    size_t n;

    if (rl == NULL)
        return 0;
    pthread_mutex_lock(&rl->lock);
    n = rl->n_used;
    pthread_mutex_unlock(&rl->lock);
    return n;
}


void
ratelimit_free(struct ratelimit *rl)
{
    if (rl == NULL)
        return;
    for (size_t i = 0; i < N_SLOTS; i++)
        free(rl->slots[i].account);
    pthread_mutex_destroy(&rl->lock);
    free(rl);
}
