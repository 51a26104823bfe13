/* SPDX-License-Identifier: Apache-2.0 */
/* Each recently asked account's live domains, tagged with a data version. */
#include "store/domain_cache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"

struct account_list {
    char account[STORE_ACCOUNT_LEN + 1];    /* "" while the slot is free */
    uint64_t version;
    bool too_many;
    struct store_domain *domains;           /* owned; by seq */
    size_t n;
};

struct domain_cache {
    pthread_rwlock_t lock;                  /* guards everything below */
    struct account_list lists[DOMAIN_CACHE_ACCOUNTS];
    size_t next_evicted;                    /* round robin when full */
};


int
domain_cache_new(struct domain_cache **out)
{
    struct domain_cache *c = calloc(1, sizeof(*c));
    pthread_rwlockattr_t attr;
    int rc = ERR_NOMEM;

    if (c == NULL || pthread_rwlockattr_init(&attr) != 0) {
        free(c);
        return ERR_NOMEM;
    }

    /* Readers come back-to-back under load; a list waiting to be put
     * must not wait behind them for ever. */
    pthread_rwlockattr_setkind_np(&attr,
        PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    if (pthread_rwlock_init(&c->lock, &attr) == 0) {
        *out = c;
        c = NULL;
        rc = 0;
    }
    pthread_rwlockattr_destroy(&attr);
    free(c);
    return rc;
}


static void
list_clear(struct account_list *l)
{
    store_domains_free(l->domains, l->n);
    memset(l, 0, sizeof(*l));
}


void
domain_cache_free(struct domain_cache *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < DOMAIN_CACHE_ACCOUNTS; i++)
        list_clear(&c->lists[i]);
    pthread_rwlock_destroy(&c->lock);
    free(c);
}


/* The account's list read at 'version', or NULL. Under the lock. */
static const struct account_list *
list_at(const struct domain_cache *c, uint64_t version, const char *account)
{
    for (size_t i = 0; i < DOMAIN_CACHE_ACCOUNTS; i++) {
        const struct account_list *l = &c->lists[i];

        if (l->version == version && strcmp(l->account, account) == 0)
            return l;
    }
    return NULL;
}


int
domain_cache_page(struct domain_cache *c, uint64_t version,
                  const char *account, int64_t after_seq, int limit,
                  store_domain_visit_fn visit, void *arg, bool *more)
{
    const struct account_list *l;
    size_t first = 0;
    size_t end;
    int rc = 0;

    pthread_rwlock_rdlock(&c->lock);
    l = list_at(c, version, account);
    if (l == NULL || l->too_many) {
        rc = l == NULL ? DOMAIN_CACHE_MISS : DOMAIN_CACHE_TOO_MANY;
        goto out;
    }

    while (first < l->n && l->domains[first].seq <= after_seq)
        first++;
    end = l->n - first > (size_t)limit ? first + (size_t)limit : l->n;
    for (size_t i = first; i < end && rc == 0; i++)
        rc = visit(arg, &l->domains[i]);
    if (rc == 0)
        *more = end < l->n;

out:
    pthread_rwlock_unlock(&c->lock);
    return rc;
}


int
domain_cache_get(struct domain_cache *c, uint64_t version,
                 const char *account, const char *id,
                 struct store_domain *out)
{
    const struct account_list *l;
    int rc = ERR_NOTFOUND;

    pthread_rwlock_rdlock(&c->lock);
    l = list_at(c, version, account);
    if (l == NULL || l->too_many) {
        rc = l == NULL ? DOMAIN_CACHE_MISS : DOMAIN_CACHE_TOO_MANY;
        goto out;
    }
    for (size_t i = 0; i < l->n; i++) {
        if (strcmp(l->domains[i].id, id) == 0) {
            rc = store_domain_copy(&l->domains[i], out);
            break;
        }
    }

out:
    pthread_rwlock_unlock(&c->lock);
    return rc;
}


/* The slot for the account: its own, a free one, or the next one in
 * turn. Under the write lock. */
static struct account_list *
slot_for(struct domain_cache *c, const char *account)
{
    struct account_list *free_slot = NULL;
    struct account_list *l;

    for (size_t i = 0; i < DOMAIN_CACHE_ACCOUNTS; i++) {
        l = &c->lists[i];
        if (strcmp(l->account, account) == 0)
            return l;
        if (free_slot == NULL && l->account[0] == '\0')
            free_slot = l;
    }
    if (free_slot != NULL)
        return free_slot;
    l = &c->lists[c->next_evicted];
    c->next_evicted = (c->next_evicted + 1) % DOMAIN_CACHE_ACCOUNTS;
    return l;
}


void
domain_cache_put(struct domain_cache *c, uint64_t version,
                 const char *account, struct store_domain *domains,
                 size_t n, bool too_many)
{
    struct account_list *l;

    pthread_rwlock_wrlock(&c->lock);
    l = slot_for(c, account);

    /* A reader that took longer must not put back an older list. */
    if (strcmp(l->account, account) == 0 && l->version > version) {
        pthread_rwlock_unlock(&c->lock);
        store_domains_free(domains, n);
        return;
    }
    list_clear(l);
    strcpy(l->account, account);
    l->version = version;
    l->too_many = too_many;
    l->domains = domains;
    l->n = n;
    pthread_rwlock_unlock(&c->lock);
}
