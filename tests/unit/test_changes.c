/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of the write-transaction count shared through a file beside
 * the database (store/changes.h). Two handles opened on one path stand for
 * two processes: each maps the file and locks it on its own.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/changes.h"
#include "util/err.h"
#include "util/log.h"

struct fixture {
    char dir[64];
    char db[128];
    char file[160];                     /* what changes_open creates */
};


static int
setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    strcpy(f->dir, "/tmp/test_changes.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->db, sizeof(f->db), "%s/timbre.db", f->dir);
    snprintf(f->file, sizeof(f->file), "%s-changes", f->db);
    *state = f;
    return 0;
}


static int
teardown(void **state)
{
    struct fixture *f = *state;

    unlink(f->file);
    rmdir(f->dir);
    free(f);
    return 0;
}


static uint64_t
version_of(const struct changes *c)
{
    uint64_t v = 12345;

    assert_true(changes_version(c, &v));
    return v;
}


static void
test_new_file_starts_at_zero(void **state)
{
    struct fixture *f = *state;
    struct changes *c = NULL;
    struct stat st;

    assert_int_equal(changes_open(f->db, &c), 0);
    assert_int_equal(stat(f->file, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(version_of(c), 0);
    changes_close(c);
}


static void
test_a_write_under_way_has_no_version(void **state)
{
    struct fixture *f = *state;
    struct changes *c = NULL;
    uint64_t v = 77;

    assert_int_equal(changes_open(f->db, &c), 0);
    changes_begin(c);
    assert_false(changes_version(c, &v));
    assert_int_equal(v, 77);            /* left alone */
    changes_end(c);
    assert_int_equal(version_of(c), 1);

    changes_begin(c);
    changes_end(c);
    assert_int_equal(version_of(c), 2);
    changes_close(c);
}


static void
test_handles_on_one_file_share_the_count(void **state)
{
    struct fixture *f = *state;
    struct changes *a = NULL;
    struct changes *b = NULL;
    uint64_t v;

    assert_int_equal(changes_open(f->db, &a), 0);
    assert_int_equal(changes_open(f->db, &b), 0);

    changes_begin(a);
    assert_false(changes_version(b, &v));
    changes_end(a);
    assert_int_equal(version_of(b), 1);

    /* Reopening keeps the count: the file is not reset while in use. */
    changes_close(a);
    assert_int_equal(changes_open(f->db, &a), 0);
    assert_int_equal(version_of(a), 1);
    changes_begin(b);
    changes_end(b);
    assert_int_equal(version_of(a), 2);
    changes_close(a);
    changes_close(b);

    /* Nor when nobody has it open, since nothing is uneven. */
    assert_int_equal(changes_open(f->db, &a), 0);
    assert_int_equal(version_of(a), 2);
    changes_close(a);
}


static void
test_a_dead_writer_is_forgiven_once_nobody_shares_the_file(void **state)
{
    struct fixture *f = *state;
    struct changes *dead = NULL;
    struct changes *other = NULL;
    struct changes *late = NULL;
    uint64_t v;

    assert_int_equal(changes_open(f->db, &dead), 0);
    assert_int_equal(changes_open(f->db, &other), 0);

    /* A process that stops inside its transaction never calls end. */
    changes_begin(dead);
    changes_close(dead);

    /* While another process still has the file open, nobody can tell
     * whether that transaction is really over: no version. */
    assert_int_equal(changes_open(f->db, &late), 0);
    assert_false(changes_version(late, &v));
    assert_false(changes_version(other, &v));
    changes_close(late);
    changes_close(other);

    /* The first to open it alone evens the count. */
    assert_int_equal(changes_open(f->db, &late), 0);
    assert_int_equal(version_of(late), 1);
    changes_close(late);
}


static void
test_unusable_place_is_an_error(void **state)
{
    struct fixture *f = *state;
    struct changes *c = NULL;
    char db[192];

    snprintf(db, sizeof(db), "%s/missing/timbre.db", f->dir);
    assert_int_equal(changes_open(db, &c), ERR_IO);
    assert_null(c);
    changes_close(NULL);
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_new_file_starts_at_zero,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_write_under_way_has_no_version,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_handles_on_one_file_share_the_count, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_a_dead_writer_is_forgiven_once_nobody_shares_the_file,
            setup, teardown),
        cmocka_unit_test_setup_teardown(test_unusable_place_is_an_error,
                                        setup, teardown),
    };

    log_set_level(LOG_ERROR);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
