/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of corpus manifests (src/cli/manifest.c), the lists of
 * labelled recordings that `timbre train` and `timbre eval` read.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cli/manifest.h"
#include "tmpdir.h"
#include "util/err.h"

struct fixture {
    char dir[64];
    char path[128];
};


static int
setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    if (f == NULL || tmpdir_make(f->dir, sizeof(f->dir), "test_corpus") != 0)
        return -1;
    snprintf(f->path, sizeof(f->path), "%s/manifest.tsv", f->dir);
    *state = f;
    return 0;
}


static int
teardown(void **state)
{
    struct fixture *f = *state;

    tmpdir_remove(f->dir);
    free(f);
    return 0;
}


static void
write_manifest(const struct fixture *f, const char *text)
{
    FILE *out = fopen(f->path, "w");

    assert_non_null(out);
    assert_int_equal(fputs(text, out) >= 0, 1);
    assert_int_equal(fclose(out), 0);
}


static void
expect_row(const struct fixture *f, const struct manifest_row *row,
           const char *speaker, int index, const char *utt,
           const char *file)
{
    char path[192];

    snprintf(path, sizeof(path), "%s/%s", f->dir, file);
    assert_string_equal(row->speaker, speaker);
    assert_int_equal(row->speaker_index, index);
    assert_string_equal(row->utt, utt);
    assert_string_equal(row->path, file[0] == '/' ? file : path);
}


/* Speakers written interleaved come out one after another, each in the
 * order of its first appearance and its rows in file order. */
static void
test_interleaved_speakers_are_grouped(void **state)
{
    struct fixture *f = *state;
    struct manifest m = { 0 };
    char msg[256] = "";

    write_manifest(f, "speaker\tutt\tpath\n"
                      "bob\tb1\tcalls/b1.wav\n"
                      "alice\ta1\tcalls/a1.wav\n"
                      "bob\tb2\tcalls/b2.wav\n"
                      "\n"
                      "carol\tc1\t/abs/c1.wav\n"
                      "alice\ta2\tcalls/a2.wav\n"
                      "bob\tb3\tcalls/b3.wav\textra column\n");
    assert_int_equal(manifest_load(f->path, &m, msg, sizeof(msg)), 0);

    assert_int_equal(m.n_rows, 6);
    assert_int_equal(m.n_speakers, 3);
    expect_row(f, &m.rows[0], "bob", 0, "b1", "calls/b1.wav");
    expect_row(f, &m.rows[1], "bob", 0, "b2", "calls/b2.wav");
    expect_row(f, &m.rows[2], "bob", 0, "b3", "calls/b3.wav");
    expect_row(f, &m.rows[3], "alice", 1, "a1", "calls/a1.wav");
    expect_row(f, &m.rows[4], "alice", 1, "a2", "calls/a2.wav");
    expect_row(f, &m.rows[5], "carol", 2, "c1", "/abs/c1.wav");
    manifest_free(&m);
}


static void
test_short_line_is_refused_with_its_number(void **state)
{
    struct fixture *f = *state;
    struct manifest m = { 0 };
    char msg[256] = "";

    write_manifest(f, "speaker\tutt\tpath\n"
                      "bob\tb1\tcalls/b1.wav\n"
                      "bob b2 calls/b2.wav\n");
    assert_int_equal(manifest_load(f->path, &m, msg, sizeof(msg)),
                     ERR_INVAL);
    assert_non_null(strstr(msg, "manifest.tsv:3:"));
    assert_non_null(strstr(msg, "separated by tabs"));
    assert_null(m.rows);
}


static void
test_header_only_and_missing_files_are_refused(void **state)
{
    struct fixture *f = *state;
    struct manifest m = { 0 };
    char msg[256] = "";

    write_manifest(f, "speaker\tutt\tpath\n");
    assert_int_equal(manifest_load(f->path, &m, msg, sizeof(msg)),
                     ERR_INVAL);
    assert_non_null(strstr(msg, "no utterances"));

    assert_int_equal(manifest_load("/nonexistent/manifest.tsv", &m, msg,
                                   sizeof(msg)), ERR_IO);
    assert_non_null(strstr(msg, "/nonexistent/manifest.tsv"));
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_interleaved_speakers_are_grouped, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_short_line_is_refused_with_its_number, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_header_only_and_missing_files_are_refused, setup,
            teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
