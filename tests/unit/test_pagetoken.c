/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for NextToken encoding, validation and the key file. */
#include <dirent.h>
#include <inttypes.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "api/pagetoken.h"
#include "util/crypto.h"
#include "util/err.h"

#define RAW_LEN 65
#define NOW 1700000000
#define DAY 86400
#define SENTINEL INT64_C(-777)

#define MSG_INVALID "NextToken is invalid or was tampered with"
#define MSG_MISMATCH "NextToken was issued for different arguments " \
                     "(operation, domain or filters)"
#define MSG_EXPIRED "NextToken has expired; start the listing again " \
                    "without NextToken"

static const char b64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static unsigned char key[PAGETOKEN_KEY_LEN];
static unsigned char other_key[PAGETOKEN_KEY_LEN];

static const struct pagetoken_scope scope = {
    .operation = "ListSpeakerEnrollmentJobs",
    .account = "111122223333",
    .parent_id = "AbCdEfGhIjKlMnOpQrStUv",
    .filters = "JobStatus=COMPLETED",
};


static int
setup_keys(void **state)
{
    for (int i = 0; i < PAGETOKEN_KEY_LEN; i++) {
        key[i] = (unsigned char)i;
        other_key[i] = (unsigned char)(0xa5 ^ i);
    }
    return 0;
}


static char *
issue(const struct pagetoken_scope *sc, int64_t position, int64_t at_s)
{
    char *token = NULL;

    assert_int_equal(pagetoken_encode(key, sc, position, at_s, &token), 0);
    assert_non_null(token);
    return token;
}


/* Decodes with the default key at NOW and a one-day TTL. */
static int
check(const struct pagetoken_scope *sc, const char *token, int64_t *pos,
      char *msg, size_t msg_len)
{
    return pagetoken_decode(key, sc, token, NOW, DAY, pos, msg, msg_len);
}


static void
test_token_round_trips_positions(void **state)
{
    const int64_t positions[] = {
        0, 1, 2, 255, 256, INT64_C(1) << 40, INT64_MAX, -1, INT64_MIN,
    };

    for (size_t i = 0; i < sizeof positions / sizeof positions[0]; i++) {
        char *token = issue(&scope, positions[i], NOW);
        int64_t pos = SENTINEL;
        char msg[160] = "untouched";

        assert_int_equal(check(&scope, token, &pos, msg, sizeof msg), 0);
        assert_true(pos == positions[i]);
        assert_string_equal(msg, "untouched");
        free(token);
    }
}


static void
test_token_is_fixed_length_url_safe_ascii(void **state)
{
    char *token = issue(&scope, 42, NOW);

    assert_int_equal(strlen(token), PAGETOKEN_TEXT_LEN);
    assert_true(PAGETOKEN_TEXT_LEN < 8192);
    for (size_t i = 0; token[i] != '\0'; i++)
        assert_non_null(strchr(b64url, token[i]));
    free(token);
}


static void
test_token_differs_for_different_positions(void **state)
{
    char *a = issue(&scope, 1, NOW);
    char *b = issue(&scope, 2, NOW);

    assert_string_not_equal(a, b);
    free(a);
    free(b);
}


static void
test_token_rejects_every_altered_character(void **state)
{
    char *token = issue(&scope, 12345, NOW);
    char *copy = strdup(token);
    size_t n_tried = 0;

    for (size_t i = 0; i < PAGETOKEN_TEXT_LEN; i++) {
        for (size_t c = 0; c < sizeof b64url - 1; c++) {
            int64_t pos = SENTINEL;
            char msg[160] = "";

            if (b64url[c] == token[i])
                continue;
            copy[i] = b64url[c];
            assert_int_equal(check(&scope, copy, &pos, msg, sizeof msg),
                             ERR_INVAL);
            assert_true(pos == SENTINEL);
            assert_string_equal(msg, MSG_INVALID);
            n_tried++;
        }
        copy[i] = token[i];
    }
    assert_int_equal(n_tried, PAGETOKEN_TEXT_LEN * 63);

    /* The unchanged copy still works, so the loop tested real damage. */
    {
        int64_t pos = SENTINEL;

        assert_int_equal(check(&scope, copy, &pos, NULL, 0), 0);
        assert_true(pos == 12345);
    }
    free(copy);
    free(token);
}


static void
test_token_rejects_every_flipped_bit_of_record(void **state)
{
    char *token = issue(&scope, 99, NOW);
    unsigned char raw[RAW_LEN];
    char text[PAGETOKEN_TEXT_LEN + 1];
    size_t n = 0;

    assert_int_equal(crypto_b64url_decode(token, raw, sizeof raw, &n), 0);
    assert_int_equal(n, RAW_LEN);

    for (size_t i = 0; i < RAW_LEN; i++) {
        for (int bit = 0; bit < 8; bit++) {
            int64_t pos = SENTINEL;

            raw[i] ^= (unsigned char)(1u << bit);
            crypto_b64url_encode(raw, RAW_LEN, text);
            assert_int_equal(check(&scope, text, &pos, NULL, 0), ERR_INVAL);
            assert_true(pos == SENTINEL);
            raw[i] ^= (unsigned char)(1u << bit);
        }
    }
    free(token);
}


static void
test_token_rejects_truncated_and_extended(void **state)
{
    char *token = issue(&scope, 7, NOW);
    char longer[PAGETOKEN_TEXT_LEN + 2];

    for (size_t len = 0; len < PAGETOKEN_TEXT_LEN; len++) {
        char *cut = strndup(token, len);
        int64_t pos = SENTINEL;

        assert_int_equal(check(&scope, cut, &pos, NULL, 0), ERR_INVAL);
        assert_true(pos == SENTINEL);
        free(cut);
    }

    snprintf(longer, sizeof longer, "%sA", token);
    assert_int_equal(check(&scope, longer, &(int64_t){0}, NULL, 0),
                     ERR_INVAL);
    free(token);
}


static void
test_token_rejects_empty_and_non_base64(void **state)
{
    const char bad_chars[] = { '+', '/', '=', ' ', '.', '~', '\x7f',
                               '\xff', '\n' };
    char *token = issue(&scope, 7, NOW);
    char msg[160];

    assert_int_equal(check(&scope, "", &(int64_t){0}, msg, sizeof msg),
                     ERR_INVAL);
    assert_string_equal(msg, MSG_INVALID);

    for (size_t i = 0; i < sizeof bad_chars; i++) {
        char *copy = strdup(token);

        copy[PAGETOKEN_TEXT_LEN / 2] = bad_chars[i];
        assert_int_equal(check(&scope, copy, &(int64_t){0}, NULL, 0),
                         ERR_INVAL);
        free(copy);
    }

    /* Standard base64 with padding is not our alphabet either. */
    {
        char padded[PAGETOKEN_TEXT_LEN + 2];

        snprintf(padded, sizeof padded, "%.*s=", PAGETOKEN_TEXT_LEN - 1,
                 token);
        assert_int_equal(check(&scope, padded, &(int64_t){0}, NULL, 0),
                         ERR_INVAL);
    }
    free(token);
}


static void
test_token_rejects_huge_input(void **state)
{
    char *token = issue(&scope, 7, NOW);
    char *huge = malloc(8193);

    memset(huge, 'A', 8192);
    huge[8192] = '\0';
    assert_int_equal(check(&scope, huge, &(int64_t){0}, NULL, 0),
                     ERR_INVAL);

    /* A valid token followed by padding up to 8192 characters. */
    memcpy(huge, token, PAGETOKEN_TEXT_LEN);
    assert_int_equal(check(&scope, huge, &(int64_t){0}, NULL, 0),
                     ERR_INVAL);
    free(huge);
    free(token);
}


static void
test_token_rejects_foreign_key_as_invalid(void **state)
{
    char *token = NULL;
    int64_t pos = SENTINEL;
    char msg[160];

    assert_int_equal(pagetoken_encode(other_key, &scope, 5, NOW, &token), 0);
    assert_int_equal(check(&scope, token, &pos, msg, sizeof msg), ERR_INVAL);
    assert_true(pos == SENTINEL);
    assert_string_equal(msg, MSG_INVALID);
    free(token);
}


static void
expect_mismatch(const struct pagetoken_scope *used, const char *token)
{
    int64_t pos = SENTINEL;
    char msg[160];

    assert_int_equal(check(used, token, &pos, msg, sizeof msg),
                     ERR_MISMATCH);
    assert_true(pos == SENTINEL);
    assert_string_equal(msg, MSG_MISMATCH);
}


static void
test_token_reports_mismatch_for_other_arguments(void **state)
{
    char *token = issue(&scope, 5, NOW);
    struct pagetoken_scope s;

    s = scope;
    s.operation = "ListSpeakers";
    expect_mismatch(&s, token);

    s = scope;
    s.account = "111122223334";
    expect_mismatch(&s, token);

    s = scope;
    s.parent_id = "AbCdEfGhIjKlMnOpQrStUw";
    expect_mismatch(&s, token);

    s = scope;
    s.filters = "JobStatus=FAILED";
    expect_mismatch(&s, token);

    s = scope;
    s.filters = "";
    expect_mismatch(&s, token);
    free(token);
}


static void
test_token_scope_members_do_not_run_together(void **state)
{
    const struct pagetoken_scope ab_c = { "ListX", "ab", "c", "" };
    const struct pagetoken_scope a_bc = { "ListX", "a", "bc", "" };
    char *token = issue(&ab_c, 1, NOW);

    expect_mismatch(&a_bc, token);
    free(token);
}


static void
test_token_null_scope_member_equals_empty(void **state)
{
    const struct pagetoken_scope with_null = {
        "ListDomains", "111122223333", NULL, NULL,
    };
    const struct pagetoken_scope with_empty = {
        "ListDomains", "111122223333", "", "",
    };
    char *token = issue(&with_null, 3, NOW);
    int64_t pos = SENTINEL;

    assert_int_equal(check(&with_empty, token, &pos, NULL, 0), 0);
    assert_true(pos == 3);
    free(token);
}


static void
test_token_expires_after_ttl_exactly(void **state)
{
    char *token = issue(&scope, 8, NOW);
    int64_t pos = SENTINEL;
    char msg[160];

    assert_int_equal(pagetoken_decode(key, &scope, token, NOW + DAY, DAY,
                                      &pos, msg, sizeof msg), 0);
    assert_true(pos == 8);

    pos = SENTINEL;
    assert_int_equal(pagetoken_decode(key, &scope, token, NOW + DAY + 1,
                                      DAY, &pos, msg, sizeof msg),
                     ERR_EXPIRED);
    assert_true(pos == SENTINEL);
    assert_string_equal(msg, MSG_EXPIRED);

    /* A short configured TTL is honoured the same way. */
    assert_int_equal(pagetoken_decode(key, &scope, token, NOW + 60, 60,
                                      &pos, NULL, 0), 0);
    assert_int_equal(pagetoken_decode(key, &scope, token, NOW + 61, 60,
                                      &pos, NULL, 0), ERR_EXPIRED);
    free(token);
}


static void
test_token_negative_ttl_counts_as_zero(void **state)
{
    char *token = issue(&scope, 8, NOW);
    int64_t pos = SENTINEL;

    assert_int_equal(pagetoken_decode(key, &scope, token, NOW, -5, &pos,
                                      NULL, 0), 0);
    assert_int_equal(pagetoken_decode(key, &scope, token, NOW + 1, -5, &pos,
                                      NULL, 0), ERR_EXPIRED);
    free(token);
}


static void
test_token_from_the_future_beyond_skew_is_invalid(void **state)
{
    char *token = issue(&scope, 8, NOW);
    int64_t pos = SENTINEL;
    char msg[160];

    assert_int_equal(pagetoken_decode(key, &scope, token,
                                      NOW - PAGETOKEN_MAX_SKEW_S, DAY, &pos,
                                      NULL, 0), 0);
    pos = SENTINEL;
    assert_int_equal(pagetoken_decode(key, &scope, token,
                                      NOW - PAGETOKEN_MAX_SKEW_S - 1, DAY,
                                      &pos, msg, sizeof msg), ERR_INVAL);
    assert_true(pos == SENTINEL);
    assert_string_equal(msg, MSG_INVALID);
    free(token);
}


static void
test_token_extreme_times_do_not_overflow(void **state)
{
    char *old = issue(&scope, 1, INT64_MIN);
    char *late = issue(&scope, 1, INT64_MAX);
    int64_t pos = SENTINEL;

    assert_int_equal(pagetoken_decode(key, &scope, old, INT64_MAX, DAY,
                                      &pos, NULL, 0), ERR_EXPIRED);
    assert_int_equal(pagetoken_decode(key, &scope, late, INT64_MIN, DAY,
                                      &pos, NULL, 0), ERR_INVAL);
    assert_int_equal(pagetoken_decode(key, &scope, old, INT64_MIN, INT64_MAX,
                                      &pos, NULL, 0), 0);
    free(old);
    free(late);
}


/* A record with a correct MAC but an unknown version is still refused.
 * This rebuilds the MAC the way the module does, so it must follow the
 * module's key derivation label. */
static void
test_token_rejects_unknown_version_even_if_authentic(void **state)
{
    static const char label[] = "timbre page token v1 mac";
    char *token = issue(&scope, 4, NOW);
    unsigned char raw[RAW_LEN];
    unsigned char k_mac[CRYPTO_SHA256_LEN];
    char text[PAGETOKEN_TEXT_LEN + 1];
    int64_t pos = SENTINEL;
    size_t n = 0;

    assert_int_equal(crypto_b64url_decode(token, raw, sizeof raw, &n), 0);
    assert_int_equal(crypto_hmac_sha256(key, sizeof key, label,
                                        sizeof label - 1, k_mac), 0);

    /* Sanity: recomputing the MAC of the unchanged record matches. */
    {
        unsigned char mac[CRYPTO_SHA256_LEN];

        assert_int_equal(crypto_hmac_sha256(k_mac, sizeof k_mac, raw, 33,
                                            mac), 0);
        assert_memory_equal(mac, raw + 33, sizeof mac);
    }

    raw[0] = 2;
    assert_int_equal(crypto_hmac_sha256(k_mac, sizeof k_mac, raw, 33,
                                        raw + 33), 0);
    crypto_b64url_encode(raw, RAW_LEN, text);
    assert_int_equal(check(&scope, text, &pos, NULL, 0), ERR_INVAL);
    assert_true(pos == SENTINEL);
    free(token);
}


static void
test_token_rejects_null_arguments(void **state)
{
    char *token = issue(&scope, 4, NOW);
    char *out = (char *)"untouched";
    int64_t pos = SENTINEL;
    char msg[8];

    assert_int_equal(pagetoken_encode(NULL, &scope, 1, NOW, &out),
                     ERR_INVAL);
    assert_int_equal(pagetoken_encode(key, NULL, 1, NOW, &out), ERR_INVAL);
    assert_int_equal(pagetoken_encode(key, &scope, 1, NOW, NULL), ERR_INVAL);
    assert_string_equal(out, "untouched");

    assert_int_equal(pagetoken_decode(key, &scope, NULL, NOW, DAY, &pos,
                                      NULL, 0), ERR_INVAL);
    assert_int_equal(pagetoken_decode(key, NULL, token, NOW, DAY, &pos,
                                      NULL, 0), ERR_INVAL);
    assert_int_equal(pagetoken_decode(NULL, &scope, token, NOW, DAY, &pos,
                                      NULL, 0), ERR_INVAL);
    assert_int_equal(pagetoken_decode(key, &scope, token, NOW, DAY, NULL,
                                      NULL, 0), ERR_INVAL);
    assert_true(pos == SENTINEL);

    /* A short message buffer is truncated, never overrun. */
    assert_int_equal(pagetoken_decode(key, &scope, "x", NOW, DAY, &pos,
                                      msg, sizeof msg), ERR_INVAL);
    assert_int_equal(strlen(msg), sizeof msg - 1);
    free(token);
}


/* --- key file ---------------------------------------------------------- */

static void
remove_tree(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[4096];

    if (d == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (unlink(path) != 0)
            rmdir(path);
    }
    closedir(d);
    rmdir(dir);
}


static int
setup_dir(void **state)
{
    char *dir = strdup("/tmp/test_pagetoken.XXXXXX");

    if (dir == NULL || mkdtemp(dir) == NULL)
        return -1;
    *state = dir;
    return 0;
}


static int
teardown_dir(void **state)
{
    remove_tree(*state);
    free(*state);
    return 0;
}


static void
key_path(const char *dir, char *out, size_t len)
{
    snprintf(out, len, "%s/page-token.key", dir);
}


static void
write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");

    assert_non_null(f);
    if (len > 0)
        assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}


static int
count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;

    assert_non_null(d);
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            n++;
    }
    closedir(d);
    return n;
}


static void
test_key_load_creates_private_file_once(void **state)
{
    const char *dir = *state;
    unsigned char k1[PAGETOKEN_KEY_LEN];
    unsigned char k2[PAGETOKEN_KEY_LEN];
    unsigned char zero[PAGETOKEN_KEY_LEN] = { 0 };
    char path[4096];
    struct stat st;
    mode_t old_mask;

    /* Even a permissive umask must not widen the key file's mode. */
    old_mask = umask(0);
    assert_int_equal(pagetoken_key_load(dir, k1), 0);
    umask(old_mask);

    key_path(dir, path, sizeof path);
    assert_int_equal(stat(path, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(st.st_size, PAGETOKEN_KEY_LEN);
    assert_memory_not_equal(k1, zero, sizeof zero);

    /* No temporary file is left behind. */
    assert_int_equal(count_entries(dir), 1);

    assert_int_equal(pagetoken_key_load(dir, k2), 0);
    assert_memory_equal(k1, k2, sizeof k1);
}


static void
test_key_load_reads_existing_key(void **state)
{
    const char *dir = *state;
    unsigned char stored[PAGETOKEN_KEY_LEN];
    unsigned char loaded[PAGETOKEN_KEY_LEN];
    char path[4096];

    for (int i = 0; i < PAGETOKEN_KEY_LEN; i++)
        stored[i] = (unsigned char)(200 - i);
    key_path(dir, path, sizeof path);
    write_file(path, stored, sizeof stored);

    assert_int_equal(pagetoken_key_load(dir, loaded), 0);
    assert_memory_equal(loaded, stored, sizeof stored);
}


static void
test_key_load_rejects_wrong_size_and_keeps_file(void **state)
{
    const char *dir = *state;
    const size_t sizes[] = { 0, 1, PAGETOKEN_KEY_LEN - 1,
                             PAGETOKEN_KEY_LEN + 1, 4096 };
    unsigned char data[4096];
    unsigned char out[PAGETOKEN_KEY_LEN];
    char path[4096];
    struct stat st;

    memset(data, 0x5a, sizeof data);
    memset(out, 0x11, sizeof out);
    key_path(dir, path, sizeof path);

    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        write_file(path, data, sizes[i]);
        assert_int_equal(pagetoken_key_load(dir, out), ERR_INVAL);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_size, (off_t)sizes[i]);
        for (size_t j = 0; j < sizeof out; j++)
            assert_int_equal(out[j], 0x11);
    }
}


static void
test_key_load_rejects_directory_in_place_of_file(void **state)
{
    const char *dir = *state;
    unsigned char out[PAGETOKEN_KEY_LEN];
    char path[4096];

    key_path(dir, path, sizeof path);
    assert_int_equal(mkdir(path, 0700), 0);
    assert_int_equal(pagetoken_key_load(dir, out), ERR_INVAL);
}


static void
test_key_load_fails_with_io_for_missing_dir(void **state)
{
    const char *dir = *state;
    unsigned char out[PAGETOKEN_KEY_LEN];
    char missing[4096];

    snprintf(missing, sizeof missing, "%s/no/such/dir", dir);
    assert_int_equal(pagetoken_key_load(missing, out), ERR_IO);
    assert_int_equal(pagetoken_key_load(NULL, out), ERR_INVAL);
}


struct race {
    const char *dir;
    unsigned char key[PAGETOKEN_KEY_LEN];
    int rc;
};


static void *
race_load(void *arg)
{
    struct race *r = arg;

    r->rc = pagetoken_key_load(r->dir, r->key);
    return NULL;
}


static void
test_key_load_concurrent_starts_agree_on_one_key(void **state)
{
    enum { N = 16 };
    const char *dir = *state;
    struct race races[N];
    pthread_t threads[N];
    unsigned char again[PAGETOKEN_KEY_LEN];

    for (int round = 0; round < 20; round++) {
        char path[4096];

        key_path(dir, path, sizeof path);
        unlink(path);
        for (int i = 0; i < N; i++) {
            races[i].dir = dir;
            races[i].rc = -100;
            assert_int_equal(pthread_create(&threads[i], NULL, race_load,
                                            &races[i]), 0);
        }
        for (int i = 0; i < N; i++)
            assert_int_equal(pthread_join(threads[i], NULL), 0);

        for (int i = 0; i < N; i++) {
            assert_int_equal(races[i].rc, 0);
            assert_memory_equal(races[i].key, races[0].key,
                                PAGETOKEN_KEY_LEN);
        }
        assert_int_equal(pagetoken_key_load(dir, again), 0);
        assert_memory_equal(again, races[0].key, PAGETOKEN_KEY_LEN);
        assert_int_equal(count_entries(dir), 1);
    }
}


static void
test_key_from_file_round_trips_tokens(void **state)
{
    const char *dir = *state;
    unsigned char k[PAGETOKEN_KEY_LEN];
    unsigned char k_again[PAGETOKEN_KEY_LEN];
    char *token = NULL;
    int64_t pos = SENTINEL;

    assert_int_equal(pagetoken_key_load(dir, k), 0);
    assert_int_equal(pagetoken_encode(k, &scope, 31, NOW, &token), 0);

    /* As after a restart: the reloaded key accepts the old token. */
    assert_int_equal(pagetoken_key_load(dir, k_again), 0);
    assert_int_equal(pagetoken_decode(k_again, &scope, token, NOW, DAY, &pos,
                                      NULL, 0), 0);
    assert_true(pos == 31);
    free(token);
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_token_round_trips_positions),
        cmocka_unit_test(test_token_is_fixed_length_url_safe_ascii),
        cmocka_unit_test(test_token_differs_for_different_positions),
        cmocka_unit_test(test_token_rejects_every_altered_character),
        cmocka_unit_test(test_token_rejects_every_flipped_bit_of_record),
        cmocka_unit_test(test_token_rejects_truncated_and_extended),
        cmocka_unit_test(test_token_rejects_empty_and_non_base64),
        cmocka_unit_test(test_token_rejects_huge_input),
        cmocka_unit_test(test_token_rejects_foreign_key_as_invalid),
        cmocka_unit_test(test_token_reports_mismatch_for_other_arguments),
        cmocka_unit_test(test_token_scope_members_do_not_run_together),
        cmocka_unit_test(test_token_null_scope_member_equals_empty),
        cmocka_unit_test(test_token_expires_after_ttl_exactly),
        cmocka_unit_test(test_token_negative_ttl_counts_as_zero),
        cmocka_unit_test(test_token_from_the_future_beyond_skew_is_invalid),
        cmocka_unit_test(test_token_extreme_times_do_not_overflow),
        cmocka_unit_test(
            test_token_rejects_unknown_version_even_if_authentic),
        cmocka_unit_test(test_token_rejects_null_arguments),
        cmocka_unit_test_setup_teardown(
            test_key_load_creates_private_file_once, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(
            test_key_load_reads_existing_key, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(
            test_key_load_rejects_wrong_size_and_keeps_file, setup_dir,
            teardown_dir),
        cmocka_unit_test_setup_teardown(
            test_key_load_rejects_directory_in_place_of_file, setup_dir,
            teardown_dir),
        cmocka_unit_test_setup_teardown(
            test_key_load_fails_with_io_for_missing_dir, setup_dir,
            teardown_dir),
        cmocka_unit_test_setup_teardown(
            test_key_load_concurrent_starts_agree_on_one_key, setup_dir,
            teardown_dir),
        cmocka_unit_test_setup_teardown(
            test_key_from_file_round_trips_tokens, setup_dir, teardown_dir),
    };

    return cmocka_run_group_tests(tests, setup_keys, NULL);
}
