/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of the store's domain cache, seen from outside: two store
 * handles opened on one database file stand for two server processes
 * sharing it (each has its own cache and its own mapping of the change
 * count). Whatever one writes, the other must answer at once, and what the
 * cache answers must be what the database holds.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/domain_cache.h"
#include "store/store.h"
#include "store/store_backend.h"
#include "util/err.h"
#include "util/log.h"

#define ACCOUNT_A "111111111111"
#define ACCOUNT_B "222222222222"
#define NO_QUOTA 100000

struct fixture {
    char dir[64];
    char path[128];
    struct store *a;                    /* one "process" */
    struct store *b;                    /* another, on the same file */
};


static int
setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    strcpy(f->dir, "/tmp/test_domain_cache.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/timbre.db", f->dir);
    assert_int_equal(store_open(f->path, &f->a), 0);
    assert_int_equal(store_open(f->path, &f->b), 0);
    *state = f;
    return 0;
}


static int
teardown(void **state)
{
    struct fixture *f = *state;
    const char *suffixes[] = { "", "-wal", "-shm", "-changes" };
    char file[160];

    store__fail_next(0, 0);
    store_close(f->a);
    store_close(f->b);
    for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
        snprintf(file, sizeof(file), "%s%s", f->path, suffixes[i]);
        unlink(file);
    }
    rmdir(f->dir);
    free(f);
    return 0;
}


static void
domain_id(char id[STORE_ID_LEN + 1], int n)
{
    snprintf(id, STORE_ID_LEN + 1, "D%021d", n);
}


/* Creates domain number n of 'account' through 's'. */
static void
create(struct store *s, const char *account, int n, const char *description)
{
    struct store_domain d;
    struct store_domain out;

    memset(&d, 0, sizeof(d));
    snprintf(d.account, sizeof(d.account), "%s", account);
    domain_id(d.id, n);
    snprintf(d.default_watchlist_id, sizeof(d.default_watchlist_id),
             "W%021d", n);
    d.name = "fraud-desk";
    d.description = (char *)description;
    d.status = "ACTIVE";
    d.kms_key_id = "key-one";
    d.created_at = 1700000000.5 + n;
    d.updated_at = d.created_at;
    assert_int_equal(store_domain_create(s, &d, NULL, 0, NULL, NULL,
                                         NO_QUOTA, &out), 0);
    store_domain_clear(&out);
}


struct seen {
    size_t n;
    char ids[400][STORE_ID_LEN + 1];
    int64_t seqs[400];
    int stop_at;                        /* visit returns 42 there; 0: never */
};


static int
seen_visit(void *arg, const struct store_domain *d)
{
    struct seen *s = arg;

    if (s->stop_at != 0 && (int)s->n + 1 == s->stop_at)
        return 42;
    assert_true(s->n < 400);
    memcpy(s->ids[s->n], d->id, STORE_ID_LEN + 1);
    s->seqs[s->n] = d->seq;
    s->n++;
    return 0;
}


/* How many live domains 's' lists for the account in one page. */
static size_t
count(struct store *s, const char *account)
{
    struct seen seen = { 0 };
    bool more = true;

    assert_int_equal(store_domain_list_each(s, account, 0, 1000, seen_visit,
                                            &seen, &more), 0);
    assert_false(more);
    return seen.n;
}


static void
test_a_write_through_another_handle_is_seen_at_once(void **state)
{
    struct fixture *f = *state;
    struct store_domain got;
    struct store_domain change;
    char id[STORE_ID_LEN + 1];

    domain_id(id, 1);
    assert_int_equal(count(f->a, ACCOUNT_A), 0);
    assert_int_equal(store_domain_get(f->a, ACCOUNT_A, id, &got),
                     ERR_NOTFOUND);

    /* Created elsewhere: listed and found here right away. */
    create(f->b, ACCOUNT_A, 1, "first words");
    assert_int_equal(count(f->a, ACCOUNT_A), 1);
    assert_int_equal(store_domain_get(f->a, ACCOUNT_A, id, &got), 0);
    assert_string_equal(got.description, "first words");

    /* Updated elsewhere: the new attributes, not the kept ones. */
    change = got;
    change.description = "second words";
    change.updated_at = got.updated_at + 60;
    assert_int_equal(store_domain_update(f->b, &change, NULL, NULL, NULL),
                     0);
    store_domain_clear(&got);
    assert_int_equal(store_domain_get(f->a, ACCOUNT_A, id, &got), 0);
    assert_string_equal(got.description, "second words");
    store_domain_clear(&got);

    /* Deleted elsewhere: gone here at once. */
    assert_int_equal(store_domain_delete(f->b, ACCOUNT_A, id, 1800000000.0),
                     0);
    assert_int_equal(store_domain_get(f->a, ACCOUNT_A, id, &got),
                     ERR_NOTFOUND);
    assert_int_equal(count(f->a, ACCOUNT_A), 0);
}


/* The page the backend itself gives, bypassing the cache. */
static void
backend_page(struct store *s, int64_t after, int limit, struct seen *out,
             bool *more)
{
    struct store_domain *items = NULL;
    size_t n = 0;

    assert_int_equal(s->ops->domain_list(s, ACCOUNT_A, after, limit, &items,
                                         &n, more), 0);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(seen_visit(out, &items[i]), 0);
    store_domains_free(items, n);
}


static void
test_cached_pages_are_the_databases_pages(void **state)
{
    struct fixture *f = *state;
    struct store_domain got;
    char id[STORE_ID_LEN + 1];
    int64_t after = 0;
    bool more = true;
    bool want_more;
    int pages = 0;

    for (int i = 1; i <= 12; i++)
        create(f->a, ACCOUNT_A, i, NULL);
    create(f->a, ACCOUNT_B, 13, NULL);

    /* Twice: the first pass fills the cache, the second reads it. */
    for (int pass = 0; pass < 2; pass++) {
        for (after = 0, more = true, pages = 0; more; pages++) {
            struct seen cached = { 0 };
            struct seen direct = { 0 };

            assert_int_equal(store_domain_list_each(f->a, ACCOUNT_A, after, 5,
                                                    seen_visit, &cached,
                                                    &more), 0);
            backend_page(f->a, after, 5, &direct, &want_more);
            assert_int_equal(cached.n, direct.n);
            assert_int_equal(more, want_more);
            for (size_t i = 0; i < cached.n; i++) {
                assert_string_equal(cached.ids[i], direct.ids[i]);
                assert_int_equal(cached.seqs[i], direct.seqs[i]);
            }
            after = cached.seqs[cached.n - 1];
        }
        assert_int_equal(pages, 3);
    }

    /* Accounts stay apart, in the cache too. */
    domain_id(id, 13);
    assert_int_equal(store_domain_get(f->a, ACCOUNT_A, id, &got),
                     ERR_NOTFOUND);
    assert_int_equal(store_domain_get(f->a, ACCOUNT_B, id, &got), 0);
    assert_null(got.description);
    store_domain_clear(&got);
    assert_int_equal(count(f->a, ACCOUNT_B), 1);
}


static void
test_more_domains_than_the_cache_keeps(void **state)
{
    struct fixture *f = *state;
    int total = DOMAIN_CACHE_MAX_DOMAINS + 10;
    struct store_domain *items;
    struct store_domain got;
    char id[STORE_ID_LEN + 1];
    int64_t after = 0;
    int seen = 0;
    size_t n;
    bool more = true;

    for (int i = 1; i <= total; i++)
        create(f->b, ACCOUNT_A, i, NULL);

    /* Twice, so that the second pass meets the "too many" mark. */
    for (int pass = 0; pass < 2; pass++) {
        for (after = 0, seen = 0, more = true; more;) {
            items = NULL;
            assert_int_equal(store_domain_list(f->a, ACCOUNT_A, after, 100,
                                               &items, &n, &more), 0);
            for (size_t i = 0; i < n; i++) {
                domain_id(id, ++seen);
                assert_string_equal(items[i].id, id);
                after = items[i].seq;
            }
            store_domains_free(items, n);
        }
        assert_int_equal(seen, total);
        domain_id(id, total);
        assert_int_equal(store_domain_get(f->a, ACCOUNT_A, id, &got), 0);
        store_domain_clear(&got);
    }

    /* Below the limit again, the account is cached as usual. */
    for (int i = 1; i <= 20; i++) {
        domain_id(id, i);
        assert_int_equal(store_domain_delete(f->b, ACCOUNT_A, id, 1.0), 0);
    }
    assert_int_equal(count(f->a, ACCOUNT_A), (size_t)total - 20);
    domain_id(id, 1);
    assert_int_equal(store_domain_get(f->a, ACCOUNT_A, id, &got),
                     ERR_NOTFOUND);
}


static void
test_more_accounts_than_the_cache_keeps(void **state)
{
    struct fixture *f = *state;
    int accounts = DOMAIN_CACHE_ACCOUNTS + 4;
    struct store_domain got;
    char account[STORE_ACCOUNT_LEN + 1];
    char id[STORE_ID_LEN + 1];

    for (int i = 1; i <= accounts; i++) {
        snprintf(account, sizeof(account), "%012d", i);
        create(f->b, account, i, NULL);
    }
    for (int pass = 0; pass < 3; pass++) {
        for (int i = 1; i <= accounts; i++) {
            snprintf(account, sizeof(account), "%012d", i);
            domain_id(id, i);
            assert_int_equal(store_domain_get(f->a, account, id, &got), 0);
            assert_string_equal(got.account, account);
            store_domain_clear(&got);
            domain_id(id, i % accounts + 1);
            assert_int_equal(store_domain_get(f->a, account, id, &got),
                             ERR_NOTFOUND);
            assert_int_equal(count(f->a, account), 1);
        }
    }
}


static void
test_visitor_can_stop_the_listing(void **state)
{
    struct fixture *f = *state;
    struct seen seen = { 0 };
    bool more = false;

    for (int i = 1; i <= 3; i++)
        create(f->a, ACCOUNT_A, i, NULL);
    seen.stop_at = 2;
    assert_int_equal(store_domain_list_each(f->a, ACCOUNT_A, 0, 10,
                                            seen_visit, &seen, &more), 42);
    assert_int_equal(seen.n, 1);

    /* Also from the cache, which the listing above filled. */
    memset(&seen, 0, sizeof(seen));
    seen.stop_at = 3;
    assert_int_equal(store_domain_list_each(f->a, ACCOUNT_A, 0, 10,
                                            seen_visit, &seen, &more), 42);
    assert_int_equal(seen.n, 2);
}


static void
test_a_failed_read_is_not_kept(void **state)
{
    struct fixture *f = *state;
    struct store_domain got;
    char id[STORE_ID_LEN + 1];

    create(f->b, ACCOUNT_A, 1, NULL);
    domain_id(id, 1);

    /* The read that would fill the cache fails: so does the call. */
    store__fail_next(1, ERR_IO);
    assert_int_equal(store_domain_get(f->a, ACCOUNT_A, id, &got), ERR_IO);
    store__fail_next(0, 0);
    assert_int_equal(store_domain_get(f->a, ACCOUNT_A, id, &got), 0);
    store_domain_clear(&got);
    assert_int_equal(count(f->a, ACCOUNT_A), 1);
}


struct race {
    struct store *s;
    atomic_int *acknowledged;           /* creates that have returned */
    atomic_int *done;
    int total;
    int errors;
    int reads;
};


static void *
race_write(void *arg)
{
    struct race *r = arg;

    for (int i = 1; i <= r->total; i++) {
        create(r->s, ACCOUNT_A, i, NULL);
        atomic_store(r->acknowledged, i);
    }
    atomic_store(r->done, 1);
    return NULL;
}


/* Whatever the writer has acknowledged must be listed and found. */
static void *
race_read(void *arg)
{
    struct race *r = arg;
    struct store_domain got;
    char id[STORE_ID_LEN + 1];
    int acknowledged;

    while (!atomic_load(r->done) || r->reads == 0) {
        memset(&got, 0, sizeof(got));
        acknowledged = atomic_load(r->acknowledged);
        if (count(r->s, ACCOUNT_A) < (size_t)acknowledged)
            r->errors++;
        if (acknowledged > 0) {
            domain_id(id, acknowledged);
            if (store_domain_get(r->s, ACCOUNT_A, id, &got) != 0)
                r->errors++;
            store_domain_clear(&got);
        }
        r->reads++;
    }
    return NULL;
}


static void
test_readers_never_miss_an_acknowledged_write(void **state)
{
    struct fixture *f = *state;
    atomic_int acknowledged = 0;
    atomic_int done = 0;
    struct race writer = { f->b, &acknowledged, &done, 150, 0, 0 };
    struct race readers[2];
    pthread_t threads[3];

    assert_int_equal(pthread_create(&threads[0], NULL, race_write, &writer),
                     0);
    for (int i = 0; i < 2; i++) {
        readers[i] = writer;
        readers[i].s = f->a;
        assert_int_equal(pthread_create(&threads[i + 1], NULL, race_read,
                                        &readers[i]), 0);
    }
    for (int i = 0; i < 3; i++)
        pthread_join(threads[i], NULL);

    for (int i = 0; i < 2; i++) {
        assert_int_equal(readers[i].errors, 0);
        assert_true(readers[i].reads > 0);
    }
    assert_int_equal(count(f->a, ACCOUNT_A), 150);
}


int
main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_a_write_through_another_handle_is_seen_at_once),
        T(test_cached_pages_are_the_databases_pages),
        T(test_more_domains_than_the_cache_keeps),
        T(test_more_accounts_than_the_cache_keeps),
        T(test_visitor_can_stop_the_listing),
        T(test_a_failed_read_is_not_kept),
        T(test_readers_never_miss_an_acknowledged_write),
    };
#undef T

    log_set_level(LOG_ERROR);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
