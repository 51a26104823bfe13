/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The live domains of recently asked accounts, kept in memory so that
 * DescribeDomain, ListDomains and the runner's checks of a job's domain do
 * not read the database while nothing has been written.
 *
 * Each account's list is tagged with the data version it was read at (the
 * backend's data_version, see store_backend.h): a lookup names the current
 * version and is answered only by a list read at exactly that version. So
 * the cache never answers what the database would not; a write anywhere
 * makes every list a miss until it is read again.
 *
 * The cache keeps up to DOMAIN_CACHE_ACCOUNTS accounts and, of each, up to
 * DOMAIN_CACHE_MAX_DOMAINS domains. An account with more is remembered as
 * such, so its lookups are sent to the database without first reading
 * its whole list again.
 *
 * All functions are safe to call from several threads at once: lookups
 * share a read lock, which 'visit' runs under; putting a list takes the
 * write lock, and a waiting writer holds back new readers. So 'visit'
 * must not call into the store again.
 */
#ifndef TIMBRE_STORE_DOMAIN_CACHE_H
#define TIMBRE_STORE_DOMAIN_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

#define DOMAIN_CACHE_ACCOUNTS 16
#define DOMAIN_CACHE_MAX_DOMAINS 256

/* Lookup results besides 0 and the ERR_* codes. */
enum {
    DOMAIN_CACHE_MISS = 1,      /* no list of the account at that version */
    DOMAIN_CACHE_TOO_MANY = 2,  /* the account has too many domains to keep */
};

struct domain_cache;

/* A new, empty cache (ERR_NOMEM); owned by the caller until freed. */
int domain_cache_new(struct domain_cache **out);

/* Frees the cache and every list it holds; NULL is allowed. */
void domain_cache_free(struct domain_cache *c);

/*
 * Hands 'visit' the account's live domains after 'after_seq', at most
 * 'limit', in creation order, from the list read at 'version', and sets
 * *more. Returns 0, DOMAIN_CACHE_MISS or DOMAIN_CACHE_TOO_MANY (nothing
 * visited), or the first non-zero value 'visit' returned.
 */
int domain_cache_page(struct domain_cache *c, uint64_t version,
                      const char *account, int64_t after_seq, int limit,
                      store_domain_visit_fn visit, void *arg, bool *more);

/*
 * Copies domain 'id' of the account, from the list read at 'version', into
 * *out (the caller's, store_domain_clear). Returns 0, ERR_NOTFOUND when
 * that list has no such domain, ERR_NOMEM (*out untouched),
 * DOMAIN_CACHE_MISS or DOMAIN_CACHE_TOO_MANY.
 */
int domain_cache_get(struct domain_cache *c, uint64_t version,
                     const char *account, const char *id,
                     struct store_domain *out);

/*
 * Keeps 'domains', the account's complete list of live domains in
 * creation order as read at 'version', and frees them when they are
 * replaced. The cache takes them over in every case (an older list than
 * the one kept is freed at once). With 'too_many' instead, 'domains' is
 * NULL and the account is remembered as having more than the cache keeps.
 */
void domain_cache_put(struct domain_cache *c, uint64_t version,
                      const char *account, struct store_domain *domains,
                      size_t n, bool too_many);

#endif
