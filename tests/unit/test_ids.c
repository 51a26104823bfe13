/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for resource ids and request ids. */
#include <setjmp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/ids.h"

#define N_IDS 10000

static const char alnum[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";


static int
compare_ids(const void *a, const void *b)
{
    return strcmp(a, b);
}


static void
test_ids_new_is_22_alphanumerics(void **state)
{
    char id[IDS_RESOURCE_LEN + 1];

    for (int i = 0; i < 1000; i++) {
        memset(id, '!', sizeof id);
        assert_int_equal(ids_new(id), 0);
        assert_int_equal(strlen(id), 22);
        for (size_t j = 0; j < 22; j++)
            assert_non_null(strchr(alnum, id[j]));
        assert_true(ids_is_resource_id(id));
    }
}


static void
test_ids_new_gives_10000_distinct_ids(void **state)
{
    char (*ids)[IDS_RESOURCE_LEN + 1] = calloc(N_IDS, sizeof *ids);

    assert_non_null(ids);
    for (int i = 0; i < N_IDS; i++)
        assert_int_equal(ids_new(ids[i]), 0);

    qsort(ids, N_IDS, sizeof *ids, compare_ids);
    for (int i = 1; i < N_IDS; i++)
        assert_string_not_equal(ids[i - 1], ids[i]);
    free(ids);
}


/* With 10000 ids * 22 characters, each of the 62 characters is expected
 * about 3548 times (sd ~ 59). Taking bytes modulo 62 would give the first
 * eight characters probability 5/256 (~4297 times), so bounds of +-500
 * (over 8 sd, never flaky) still catch that bias or a broken alphabet. */
static void
test_ids_new_uses_whole_alphabet_evenly(void **state)
{
    long counts[128] = { 0 };
    char id[IDS_RESOURCE_LEN + 1];
    const long expected = (long)N_IDS * 22 / 62;

    for (int i = 0; i < N_IDS; i++) {
        assert_int_equal(ids_new(id), 0);
        for (size_t j = 0; j < 22; j++)
            counts[(unsigned char)id[j]]++;
    }
    for (size_t c = 0; c < sizeof alnum - 1; c++) {
        long n = counts[(unsigned char)alnum[c]];

        assert_in_range(n, expected - 500, expected + 500);
    }
}


static int
is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}


static void
test_ids_request_id_is_uuid_v4(void **state)
{
    char id[IDS_REQUEST_LEN + 1];
    char prev[IDS_REQUEST_LEN + 1] = "";

    for (int i = 0; i < 1000; i++) {
        assert_int_equal(ids_request_id(id), 0);
        assert_int_equal(strlen(id), 36);
        for (size_t j = 0; j < 36; j++) {
            if (j == 8 || j == 13 || j == 18 || j == 23)
                assert_int_equal(id[j], '-');
            else
                assert_true(is_hex(id[j]));
        }
        assert_int_equal(id[14], '4');
        assert_non_null(strchr("89ab", id[19]));
        assert_string_not_equal(id, prev);
        memcpy(prev, id, sizeof id);
    }
}


/* Ids made by several threads at once never repeat. */
#define ID_THREADS 4
#define IDS_PER_THREAD 20000

static char made_ids[ID_THREADS * IDS_PER_THREAD][IDS_REQUEST_LEN + 1];

static void *
make_ids(void *arg)
{
    char (*ids)[IDS_REQUEST_LEN + 1] = arg;

    for (int i = 0; i < IDS_PER_THREAD; i++)
        if (ids_request_id(ids[i]) != 0)
            return arg;
    return NULL;
}


static void
test_ids_request_ids_of_many_threads_are_distinct(void **state)
{
    pthread_t threads[ID_THREADS];
    void *failed;

    for (int t = 0; t < ID_THREADS; t++)
        assert_int_equal(pthread_create(&threads[t], NULL, make_ids,
                                        made_ids[t * IDS_PER_THREAD]), 0);
    for (int t = 0; t < ID_THREADS; t++) {
        assert_int_equal(pthread_join(threads[t], &failed), 0);
        assert_null(failed);
    }

    qsort(made_ids, ID_THREADS * IDS_PER_THREAD, sizeof(made_ids[0]),
          compare_ids);
    for (int i = 1; i < ID_THREADS * IDS_PER_THREAD; i++)
        assert_string_not_equal(made_ids[i - 1], made_ids[i]);
}


static void
test_ids_is_resource_id_accepts_only_22_alnum(void **state)
{
    assert_true(ids_is_resource_id("AbCdEfGhIjKlMnOpQrSt01"));
    assert_true(ids_is_resource_id("0000000000000000000000"));

    assert_false(ids_is_resource_id(NULL));
    assert_false(ids_is_resource_id(""));
    assert_false(ids_is_resource_id("AbCdEfGhIjKlMnOpQrSt0"));
    assert_false(ids_is_resource_id("AbCdEfGhIjKlMnOpQrSt012"));
    assert_false(ids_is_resource_id("AbCdEfGhIjKlMnOpQrSt0-"));
    assert_false(ids_is_resource_id("AbCdEfGhIjKlMnOpQrSt0_"));
    assert_false(ids_is_resource_id("AbCdEfGhIjKl nOpQrSt01"));
    assert_false(ids_is_resource_id("id#AbCdEfGhIjKlMnOpQrS"));
    assert_false(ids_is_resource_id("AbCdEfGhIjKlMnOpQrSt0\xc3"));
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ids_new_is_22_alphanumerics),
        cmocka_unit_test(test_ids_new_gives_10000_distinct_ids),
        cmocka_unit_test(test_ids_new_uses_whole_alphabet_evenly),
        cmocka_unit_test(test_ids_request_id_is_uuid_v4),
        cmocka_unit_test(test_ids_request_ids_of_many_threads_are_distinct),
        cmocka_unit_test(test_ids_is_resource_id_accepts_only_22_alnum),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
