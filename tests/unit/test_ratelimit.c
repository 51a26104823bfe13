/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for the per-account token-bucket rate limiter. */
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "http/ratelimit.h"
#include "util/err.h"


static struct ratelimit *
limiter(double rate_per_s, int burst)
{
    struct ratelimit *rl = NULL;

    assert_int_equal(ratelimit_new(rate_per_s, burst, &rl), 0);
    assert_non_null(rl);
    return rl;
}


static int
count_allowed(struct ratelimit *rl, const char *account, int n, double t)
{
    int allowed = 0;

    for (int i = 0; i < n; i++)
        allowed += ratelimit_allow(rl, account, t);
    return allowed;
}


static void
test_ratelimit_allows_burst_then_refuses(void **state)
{
    struct ratelimit *rl = limiter(1.0, 5);

    for (int i = 0; i < 5; i++)
        assert_true(ratelimit_allow(rl, "111122223333", 0.0));
    assert_false(ratelimit_allow(rl, "111122223333", 0.0));

    /* Refused requests cost nothing: one second buys exactly one. */
    assert_int_equal(count_allowed(rl, "111122223333", 50, 0.5), 0);
    assert_int_equal(count_allowed(rl, "111122223333", 50, 1.0), 1);
    ratelimit_free(rl);
}


static void
test_ratelimit_refills_at_rate_up_to_burst(void **state)
{
    struct ratelimit *rl = limiter(2.0, 3);

    assert_int_equal(count_allowed(rl, "a", 10, 0.0), 3);
    assert_int_equal(count_allowed(rl, "a", 10, 0.5), 1);
    assert_int_equal(count_allowed(rl, "a", 10, 0.75), 0);
    assert_int_equal(count_allowed(rl, "a", 10, 1.0), 1);

    /* A long pause refills to the burst, never beyond it. */
    assert_int_equal(count_allowed(rl, "a", 10, 100.0), 3);
    ratelimit_free(rl);
}


static void
test_ratelimit_handles_fractional_rates(void **state)
{
    struct ratelimit *rl = limiter(0.1, 1);

    assert_true(ratelimit_allow(rl, "a", 1000.0));
    assert_false(ratelimit_allow(rl, "a", 1009.99));
    assert_true(ratelimit_allow(rl, "a", 1010.0));
    assert_false(ratelimit_allow(rl, "a", 1010.0));
    ratelimit_free(rl);
}


static void
test_ratelimit_accounts_are_independent(void **state)
{
    struct ratelimit *rl = limiter(1.0, 2);

    assert_int_equal(count_allowed(rl, "111111111111", 5, 0.0), 2);
    assert_int_equal(count_allowed(rl, "222222222222", 5, 0.0), 2);
    assert_int_equal(count_allowed(rl, "11111111111", 5, 0.0), 2);
    assert_int_equal(count_allowed(rl, "", 5, 0.0), 2);
    assert_int_equal(count_allowed(rl, NULL, 5, 0.0), 0);
    assert_int_equal(ratelimit_count(rl), 4);
    ratelimit_free(rl);
}


static void
test_ratelimit_clock_going_back_adds_nothing(void **state)
{
    struct ratelimit *rl = limiter(1.0, 1);

    assert_true(ratelimit_allow(rl, "a", 10.0));
    assert_false(ratelimit_allow(rl, "a", 5.0));
    assert_false(ratelimit_allow(rl, "a", 10.5));
    assert_true(ratelimit_allow(rl, "a", 11.0));
    ratelimit_free(rl);
}


static void
test_ratelimit_zero_rate_is_unlimited(void **state)
{
    struct ratelimit *rl = limiter(0.0, 0);

    assert_int_equal(count_allowed(rl, "a", 100000, 0.0), 100000);
    assert_int_equal(ratelimit_count(rl), 0);
    ratelimit_free(rl);

    /* No limiter at all lets everything through as well. */
    assert_true(ratelimit_allow(NULL, "a", 0.0));
    assert_int_equal(ratelimit_count(NULL), 0);
    ratelimit_free(NULL);
}


static void
test_ratelimit_new_rejects_bad_arguments(void **state)
{
    struct ratelimit *rl = (struct ratelimit *)&rl;
    struct ratelimit *before = rl;

    assert_int_equal(ratelimit_new(-1.0, 5, &rl), ERR_INVAL);
    assert_int_equal(ratelimit_new(NAN, 5, &rl), ERR_INVAL);
    assert_int_equal(ratelimit_new(INFINITY, 5, &rl), ERR_INVAL);
    assert_int_equal(ratelimit_new(1.0, 0, &rl), ERR_INVAL);
    assert_int_equal(ratelimit_new(1.0, -3, &rl), ERR_INVAL);
    assert_int_equal(ratelimit_new(1.0, 5, NULL), ERR_INVAL);
    assert_ptr_equal(rl, before);
}


static void
test_ratelimit_memory_stays_bounded_under_many_accounts(void **state)
{
    struct ratelimit *rl = limiter(1.0, 3);
    char name[32];

    for (int i = 0; i < 20 * RATELIMIT_MAX_ACCOUNTS; i++) {
        snprintf(name, sizeof name, "acct-%d", i);
        assert_true(ratelimit_allow(rl, name, 0.0));
        assert_true(ratelimit_count(rl) <= RATELIMIT_MAX_ACCOUNTS);
    }
    assert_int_equal(ratelimit_count(rl), RATELIMIT_MAX_ACCOUNTS);
    ratelimit_free(rl);
}


/* When the table is full, the fullest buckets go first, so accounts that
 * are being throttled stay throttled; and every remaining bucket is still
 * found after many removals from the probe runs. */
static void
test_ratelimit_eviction_keeps_throttled_accounts(void **state)
{
    enum { HALF = RATELIMIT_MAX_ACCOUNTS / 2 };
    struct ratelimit *rl = limiter(1.0, 10);
    char name[32];

    for (int i = 0; i < HALF; i++) {
        snprintf(name, sizeof name, "idle-%d", i);
        assert_int_equal(count_allowed(rl, name, 1, 0.0), 1);
        snprintf(name, sizeof name, "busy-%d", i);
        assert_int_equal(count_allowed(rl, name, 20, 0.0), 10);
    }
    assert_int_equal(ratelimit_count(rl), RATELIMIT_MAX_ACCOUNTS);

    /* Each newcomer evicts one idle bucket and then drains its own. */
    for (int i = 0; i < HALF; i++) {
        snprintf(name, sizeof name, "new-%d", i);
        assert_int_equal(count_allowed(rl, name, 20, 0.0), 10);
    }
    assert_int_equal(ratelimit_count(rl), RATELIMIT_MAX_ACCOUNTS);

    /* Had a drained bucket been lost, it would come back full. */
    for (int i = 0; i < HALF; i++) {
        snprintf(name, sizeof name, "busy-%d", i);
        assert_false(ratelimit_allow(rl, name, 0.0));
        snprintf(name, sizeof name, "new-%d", i);
        assert_false(ratelimit_allow(rl, name, 0.0));
    }
    assert_int_equal(ratelimit_count(rl), RATELIMIT_MAX_ACCOUNTS);
    ratelimit_free(rl);
}


struct hammer {
    struct ratelimit *rl;
    int allowed;
};


static void *
hammer_run(void *arg)
{
    struct hammer *h = arg;

    h->allowed = count_allowed(h->rl, "shared", 5000, 0.0);
    return NULL;
}


static void
test_ratelimit_threads_never_exceed_burst(void **state)
{
    enum { N = 8 };
    struct ratelimit *rl = limiter(1.0, 100);
    struct hammer hs[N];
    pthread_t threads[N];
    int total = 0;

    for (int i = 0; i < N; i++) {
        hs[i].rl = rl;
        hs[i].allowed = 0;
        assert_int_equal(pthread_create(&threads[i], NULL, hammer_run,
                                        &hs[i]), 0);
    }
    for (int i = 0; i < N; i++) {
        assert_int_equal(pthread_join(threads[i], NULL), 0);
        total += hs[i].allowed;
    }
    assert_int_equal(total, 100);
    ratelimit_free(rl);
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ratelimit_allows_burst_then_refuses),
        cmocka_unit_test(test_ratelimit_refills_at_rate_up_to_burst),
        cmocka_unit_test(test_ratelimit_handles_fractional_rates),
        cmocka_unit_test(test_ratelimit_accounts_are_independent),
        cmocka_unit_test(test_ratelimit_clock_going_back_adds_nothing),
        cmocka_unit_test(test_ratelimit_zero_rate_is_unlimited),
        cmocka_unit_test(test_ratelimit_new_rejects_bad_arguments),
        cmocka_unit_test(
            test_ratelimit_memory_stays_bounded_under_many_accounts),
        cmocka_unit_test(test_ratelimit_eviction_keeps_throttled_accounts),
        cmocka_unit_test(test_ratelimit_threads_never_exceed_burst),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
