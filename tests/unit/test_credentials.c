/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests of the credentials file: its syntax, every refusal with its file
 * and line, and the loopback default key. Each test writes its own file
 * under /tmp and removes it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "http/credentials.h"
#include "util/err.h"

#define SECRET_A "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"

struct loaded {
    char path[64];
    struct credentials *c;
    char msg[512];
    int rc;
};


/* Writes 'text' (len bytes) to a fresh file and loads it into 'l'. */
static void
load_bytes(struct loaded *l, const char *text, size_t len)
{
    int fd;

    memset(l, 0, sizeof(*l));
    snprintf(l->path, sizeof(l->path), "/tmp/timbre-creds-XXXXXX");
    fd = mkstemp(l->path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    close(fd);
    l->c = (struct credentials *)&l->rc;    /* must stay untouched */
    l->rc = credentials_load(l->path, &l->c, l->msg, sizeof(l->msg));
    if (l->rc != 0) {
        assert_ptr_equal(l->c, (struct credentials *)&l->rc);
        l->c = NULL;
    }
}


static void
load_text(struct loaded *l, const char *text)
{
    load_bytes(l, text, strlen(text));
}


static void
loaded_done(struct loaded *l)
{
    unlink(l->path);
    credentials_free(l->c);
}


/* Asserts that loading failed with ERR_INVAL and message "PATH:suffix". */
static void
assert_refused(struct loaded *l, const char *suffix)
{
    char want[600];

    assert_int_equal(l->rc, ERR_INVAL);
    snprintf(want, sizeof(want), "%s%s", l->path, suffix);
    assert_string_equal(l->msg, want);
}


static void
test_credentials_parse_comments_tabs_and_blank_lines(void **state)
{
    struct loaded l;
    const struct credential *k;

    (void)state;
    load_text(&l,
              "# Timbre keys\n"
              "\n"
              "AKIDEXAMPLE " SECRET_A " 123456789012\n"
              "   \t  \n"
              "\tops-key.2\t\ts3cr3t+/=\t000000000042   # the ops team\n"
              "key_3 abc 999999999999\r\n"
              "  # indented comment\n"
              "last x 111111111111");
    assert_int_equal(l.rc, 0);
    assert_string_equal(l.msg, "");
    assert_int_equal(credentials_count(l.c), 4);
    assert_non_null(credentials_find(l.c, "key_3"));

    k = credentials_find(l.c, "AKIDEXAMPLE");
    assert_non_null(k);
    assert_string_equal(k->access_key, "AKIDEXAMPLE");
    assert_string_equal(k->secret, SECRET_A);
    assert_string_equal(k->account, "123456789012");

    k = credentials_find(l.c, "ops-key.2");
    assert_non_null(k);
    assert_string_equal(k->secret, "s3cr3t+/=");
    assert_string_equal(k->account, "000000000042");

    k = credentials_find(l.c, "last");
    assert_non_null(k);
    assert_string_equal(k->account, "111111111111");
    loaded_done(&l);
}


static void
test_credentials_crlf_line_ends_are_accepted(void **state)
{
    struct loaded l;
    const struct credential *k;

    (void)state;
    load_text(&l, "a b 123456789012\r\nc d 210987654321\r\n");
    assert_int_equal(l.rc, 0);
    k = credentials_find(l.c, "c");
    assert_non_null(k);
    assert_string_equal(k->account, "210987654321");
    loaded_done(&l);
}


static void
test_credentials_find_is_exact_and_case_sensitive(void **state)
{
    struct loaded l;

    (void)state;
    load_text(&l, "Key1 s 123456789012\n");
    assert_int_equal(l.rc, 0);
    assert_non_null(credentials_find(l.c, "Key1"));
    assert_null(credentials_find(l.c, "key1"));
    assert_null(credentials_find(l.c, "Key"));
    assert_null(credentials_find(l.c, "Key10"));
    assert_null(credentials_find(l.c, ""));
    assert_null(credentials_find(l.c, NULL));
    assert_null(credentials_find(NULL, "Key1"));
    loaded_done(&l);
}


static void
test_credentials_two_fields_is_refused_with_line(void **state)
{
    struct loaded l;

    (void)state;
    load_text(&l, "# header\na b 123456789012\nonlykey secret\n");
    assert_refused(&l, ":3: expected 3 fields (ACCESS_KEY_ID "
                   "SECRET_ACCESS_KEY ACCOUNT_ID), found 2");
    loaded_done(&l);
}


/* '#' starts a comment even inside what looks like a secret. */
static void
test_credentials_hash_in_secret_starts_a_comment(void **state)
{
    struct loaded l;

    (void)state;
    load_text(&l, "key abc#def 123456789012\n");
    assert_refused(&l, ":1: expected 3 fields (ACCESS_KEY_ID "
                   "SECRET_ACCESS_KEY ACCOUNT_ID), found 2");
    loaded_done(&l);
}


static void
test_credentials_four_fields_is_refused_with_line(void **state)
{
    struct loaded l;

    (void)state;
    load_text(&l, "a b 123456789012 extra\n");
    assert_refused(&l, ":1: expected 3 fields (ACCESS_KEY_ID "
                   "SECRET_ACCESS_KEY ACCOUNT_ID), found more");
    loaded_done(&l);
}


static void
test_credentials_bad_account_is_refused_without_quoting_it(void **state)
{
    static const char *const files[] = {
        "a b 12345678901\n",
        "a b 1234567890123\n",
        "a b 12345678901x\n",
        /* Columns swapped: the secret must not reach the message. */
        "a 123456789012 " SECRET_A "\n",
    };
    struct loaded l;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        load_text(&l, files[i]);
        assert_refused(&l, ":1: account id must be exactly 12 digits");
        assert_null(strstr(l.msg, SECRET_A));
        loaded_done(&l);
    }
}


static void
test_credentials_bad_key_id_is_refused(void **state)
{
    char line[CREDENTIALS_MAX_KEY_ID + 64];
    struct loaded l;

    (void)state;
    load_text(&l, "a b 123456789012\nkey/with/slash s 123456789012\n");
    assert_refused(&l, ":2: access key id must be 1 to 128 characters "
                   "from A-Z a-z 0-9 _ . -");
    loaded_done(&l);

    memset(line, 'k', CREDENTIALS_MAX_KEY_ID + 1);
    snprintf(line + CREDENTIALS_MAX_KEY_ID + 1, 40, " s 123456789012\n");
    load_text(&l, line);
    assert_int_equal(l.rc, ERR_INVAL);
    loaded_done(&l);

    /* Exactly the maximum is fine. */
    memset(line, 'k', CREDENTIALS_MAX_KEY_ID);
    snprintf(line + CREDENTIALS_MAX_KEY_ID, 40, " s 123456789012\n");
    load_text(&l, line);
    assert_int_equal(l.rc, 0);
    loaded_done(&l);
}


static void
test_credentials_non_ascii_secret_is_refused(void **state)
{
    struct loaded l;

    (void)state;
    load_text(&l, "a s\xc3\xa9\x63ret 123456789012\n");
    assert_refused(&l, ":1: secret access key must be 1 to 256 visible "
                   "ASCII characters");
    loaded_done(&l);
}


static void
test_credentials_duplicate_key_is_refused_naming_both_lines(void **state)
{
    struct loaded l;

    (void)state;
    load_text(&l,
              "zed s 123456789012\n"
              "AK1 s1 123456789012\n"
              "b s 123456789012\n"
              "# comment\n"
              "AK1 s2 210987654321\n"
              "AK1 s3 210987654321\n");
    assert_refused(&l, ":5: duplicate access key id 'AK1' (first on "
                   "line 2)");
    loaded_done(&l);
}


static void
test_credentials_earliest_duplicate_is_reported(void **state)
{
    struct loaded l;

    (void)state;
    load_text(&l,
              "aaa s 123456789012\n"
              "zzz s 123456789012\n"
              "zzz s 123456789012\n"
              "aaa s 123456789012\n");
    assert_refused(&l, ":3: duplicate access key id 'zzz' (first on "
                   "line 2)");
    loaded_done(&l);
}


static void
test_credentials_file_without_keys_is_refused(void **state)
{
    struct loaded l;

    (void)state;
    load_text(&l, "# nothing here\n\n   \n");
    assert_refused(&l, ": no access keys found");
    loaded_done(&l);

    load_text(&l, "");
    assert_refused(&l, ": no access keys found");
    loaded_done(&l);
}


static void
test_credentials_overlong_line_is_refused(void **state)
{
    char *text = malloc(5000);
    struct loaded l;

    (void)state;
    assert_non_null(text);
    memset(text, '#', 4999);
    text[4999] = '\0';
    load_text(&l, text);
    assert_refused(&l, ":1: line longer than 4096 characters");
    loaded_done(&l);
    free(text);
}


static void
test_credentials_nul_byte_is_refused(void **state)
{
    static const char text[] = "a b 123456789012\nc\0d e 123456789012\n";
    struct loaded l;

    (void)state;
    load_bytes(&l, text, sizeof(text) - 1);
    assert_refused(&l, ":2: line contains a NUL byte");
    loaded_done(&l);
}


static void
test_credentials_missing_file_is_io_error(void **state)
{
    struct credentials *c = (struct credentials *)&c;
    char msg[256];

    (void)state;
    assert_int_equal(credentials_load("/nonexistent/timbre/creds", &c, msg,
                                      sizeof(msg)), ERR_IO);
    assert_string_equal(msg, "/nonexistent/timbre/creds: No such file or "
                        "directory");
    assert_ptr_equal(c, (struct credentials *)&c);
}


static void
test_credentials_directory_is_io_error(void **state)
{
    struct credentials *c = NULL;
    char msg[256];

    (void)state;
    assert_int_equal(credentials_load("/tmp", &c, msg, sizeof(msg)), ERR_IO);
    assert_string_equal(msg, "/tmp: Is a directory");
    assert_null(c);
}


static void
test_credentials_message_buffer_may_be_absent(void **state)
{
    struct credentials *c = NULL;

    (void)state;
    assert_int_equal(credentials_load("/nonexistent/x", &c, NULL, 0),
                     ERR_IO);
    assert_null(c);
}


static void
test_credentials_many_keys_are_all_found(void **state)
{
    size_t n = 2000;
    size_t cap = n * 40;
    char *text = malloc(cap);
    size_t len = 0;
    struct loaded l;
    size_t i;

    (void)state;
    assert_non_null(text);
    /* Written in descending order so that loading has to sort. */
    for (i = n; i > 0; i--)
        len += (size_t)snprintf(text + len, cap - len,
                                "key%zu secret%zu %012zu\n", i, i, i);
    load_text(&l, text);
    assert_int_equal(l.rc, 0);
    assert_int_equal(credentials_count(l.c), n);
    for (i = 1; i <= n; i++) {
        char key[32];
        char secret[32];
        const struct credential *k;

        snprintf(key, sizeof(key), "key%zu", i);
        snprintf(secret, sizeof(secret), "secret%zu", i);
        k = credentials_find(l.c, key);
        assert_non_null(k);
        assert_string_equal(k->secret, secret);
    }
    assert_null(credentials_find(l.c, "key0"));
    loaded_done(&l);
    free(text);
}


static void
test_credentials_default_holds_the_loopback_test_key(void **state)
{
    struct credentials *c = NULL;
    const struct credential *k;

    (void)state;
    assert_int_equal(credentials_new_default(&c), 0);
    assert_int_equal(credentials_count(c), 1);
    k = credentials_find(c, "test");
    assert_non_null(k);
    assert_string_equal(k->access_key, "test");
    assert_string_equal(k->secret, "test");
    assert_string_equal(k->account, "000000000000");
    assert_null(credentials_find(c, "TEST"));
    credentials_free(c);
}


static void
test_credentials_free_and_count_accept_null(void **state)
{
    (void)state;
    credentials_free(NULL);
    assert_int_equal(credentials_count(NULL), 0);
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_credentials_parse_comments_tabs_and_blank_lines),
        cmocka_unit_test(test_credentials_crlf_line_ends_are_accepted),
        cmocka_unit_test(test_credentials_find_is_exact_and_case_sensitive),
        cmocka_unit_test(test_credentials_two_fields_is_refused_with_line),
        cmocka_unit_test(test_credentials_hash_in_secret_starts_a_comment),
        cmocka_unit_test(test_credentials_four_fields_is_refused_with_line),
        cmocka_unit_test(
            test_credentials_bad_account_is_refused_without_quoting_it),
        cmocka_unit_test(test_credentials_bad_key_id_is_refused),
        cmocka_unit_test(test_credentials_non_ascii_secret_is_refused),
        cmocka_unit_test(
            test_credentials_duplicate_key_is_refused_naming_both_lines),
        cmocka_unit_test(test_credentials_earliest_duplicate_is_reported),
        cmocka_unit_test(test_credentials_file_without_keys_is_refused),
        cmocka_unit_test(test_credentials_overlong_line_is_refused),
        cmocka_unit_test(test_credentials_nul_byte_is_refused),
        cmocka_unit_test(test_credentials_missing_file_is_io_error),
        cmocka_unit_test(test_credentials_directory_is_io_error),
        cmocka_unit_test(test_credentials_message_buffer_may_be_absent),
        cmocka_unit_test(test_credentials_many_keys_are_all_found),
        cmocka_unit_test(test_credentials_default_holds_the_loopback_test_key),
        cmocka_unit_test(test_credentials_free_and_count_accept_null),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
