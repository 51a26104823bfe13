/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of the storage interface on its SQLite backend.
 *
 * Each test gets a fresh directory under /tmp (mkdtemp) holding one
 * database, and removes it afterwards. Where a test must see what is
 * really stored, or hold a lock as another process would, it opens the
 * file with its own SQLite connection ("raw" helpers below).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <pthread.h>
#include <sched.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store/store.h"
#include "store/store_backend.h"
#include "util/err.h"
#include "util/log.h"

#define ACCOUNT_A "111111111111"
#define ACCOUNT_B "222222222222"
#define NO_QUOTA 1000

struct fixture {
    char dir[64];
    char path[128];
    struct store *s;
};


static int
setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    strcpy(f->dir, "/tmp/test_store.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/timbre.db", f->dir);
    assert_int_equal(store_open(f->path, &f->s), 0);
    *state = f;
    return 0;
}


static int
teardown(void **state)
{
    struct fixture *f = *state;
    struct dirent *e;
    char file[512];
    DIR *dir;

    store__fail_next(0, 0);
    store__fail_alloc_next(0);
    store_close(f->s);

    dir = opendir(f->dir);
    if (dir != NULL) {
        while ((e = readdir(dir)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            snprintf(file, sizeof(file), "%s/%s", f->dir, e->d_name);
            unlink(file);
        }
        closedir(dir);
    }
    rmdir(f->dir);
    free(f);
    return 0;
}


/* Fills 'd' with domain number n of 'account'; strings are borrowed from
 * static storage, so 'd' must not be cleared. */
static void
domain_make(struct store_domain *d, const char *account, int n)
{
    memset(d, 0, sizeof(*d));
    snprintf(d->account, sizeof(d->account), "%s", account);
    snprintf(d->id, sizeof(d->id), "D%021d", n);
    snprintf(d->default_watchlist_id, sizeof(d->default_watchlist_id),
             "W%021d", n);
    d->name = "support-line";
    d->description = "callers of the support line";
    d->status = "ACTIVE";
    d->kms_key_id = "key-one";
    d->created_at = 1700000000.25 + n;
    d->updated_at = 1700000000.25 + n;
}


static int
create_n(struct store *s, const char *account, int n, int max_domains)
{
    struct store_domain d;
    struct store_domain out;
    int rc;

    domain_make(&d, account, n);
    rc = store_domain_create(s, &d, NULL, 0, NULL, NULL, max_domains, &out);
    if (rc == 0)
        store_domain_clear(&out);
    return rc;
}


static void
assert_str_or_null(const char *want, const char *got)
{
    if (want == NULL)
        assert_null(got);
    else
        assert_string_equal(want, got);
}


static void
assert_domain_equal(const struct store_domain *want,
                    const struct store_domain *got)
{
    assert_string_equal(want->account, got->account);
    assert_string_equal(want->id, got->id);
    assert_str_or_null(want->name, got->name);
    assert_str_or_null(want->description, got->description);
    assert_str_or_null(want->status, got->status);
    assert_str_or_null(want->kms_key_id, got->kms_key_id);
    assert_str_or_null(want->sse_old_kms_key_id, got->sse_old_kms_key_id);
    assert_str_or_null(want->sse_update_status, got->sse_update_status);
    assert_str_or_null(want->sse_update_message, got->sse_update_message);
    assert_string_equal(want->default_watchlist_id,
                        got->default_watchlist_id);
    assert_true(want->created_at == got->created_at);
    assert_true(want->updated_at == got->updated_at);
}


/* Runs one query that yields an integer on a connection of our own. */
static int64_t
raw_int(const char *path, const char *sql)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    int64_t v;

    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}


static void
raw_exec(const char *path, const char *sql)
{
    sqlite3 *db;

    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}


static void
assert_store_empty(const char *path)
{
    assert_int_equal(raw_int(path, "SELECT count(*) FROM domains"), 0);
    assert_int_equal(raw_int(path, "SELECT count(*) FROM watchlists"), 0);
    assert_int_equal(raw_int(path, "SELECT count(*) FROM domain_tags"), 0);
    assert_int_equal(raw_int(path, "SELECT count(*) FROM idempotency"), 0);
}


/* True if another connection can take the write lock at once, which it
 * cannot while the store has a transaction open. */
static bool
raw_can_write(const char *path)
{
    sqlite3 *db;
    int rc;

    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    rc = sqlite3_exec(db, "BEGIN IMMEDIATE; ROLLBACK;", NULL, NULL, NULL);
    sqlite3_close(db);
    return rc == SQLITE_OK;
}


static void
test_open_creates_schema_at_latest_version(void **state)
{
    struct fixture *f = *state;
    sqlite3 *db;
    sqlite3_stmt *st;

    assert_int_equal(store__sqlite_schema_latest(), 5);
    assert_int_equal(store_schema_version(f->s), 5);
    assert_int_equal(raw_int(f->path, "PRAGMA user_version"), 5);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM sqlite_master"
                             " WHERE type = 'table' AND name IN ('domains',"
                             " 'watchlists', 'domain_tags', 'idempotency',"
                             " 'settings', 'enrollment_jobs', 'speakers',"
                             " 'enrollment_requests')"), 8);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM sqlite_master"
                             " WHERE name = 'speakers_by_domain'"), 1);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM sqlite_master"
                             " WHERE name = 'domains_live_by_account'"), 1);

    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st,
                                        NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    sqlite3_close(db);
}


static void
test_reopen_is_idempotent_and_keeps_data(void **state)
{
    struct fixture *f = *state;
    struct store_domain d;
    struct store_domain got;
    char *value = NULL;

    domain_make(&d, ACCOUNT_A, 1);
    assert_int_equal(create_n(f->s, ACCOUNT_A, 1, NO_QUOTA), 0);
    assert_int_equal(store_setting_put(f->s, "instance", "abc"), 0);
    store_close(f->s);
    f->s = NULL;

    for (int i = 0; i < 2; i++) {
        assert_int_equal(store_open(f->path, &f->s), 0);
        assert_int_equal(store_schema_version(f->s),
                         store__sqlite_schema_latest());
        assert_int_equal(store_domain_get(f->s, ACCOUNT_A, d.id, &got), 0);
        assert_domain_equal(&d, &got);
        store_domain_clear(&got);
        assert_int_equal(store_setting_get(f->s, "instance", &value), 0);
        assert_string_equal(value, "abc");
        free(value);
        store_close(f->s);
        f->s = NULL;
    }
    assert_int_equal(raw_int(f->path, "PRAGMA user_version"),
                     store__sqlite_schema_latest());
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM domains"), 1);
    assert_int_equal(store_open(f->path, &f->s), 0);
}


static void
test_open_accepts_sqlite_url_and_plain_path(void **state)
{
    struct fixture *f = *state;
    struct store *s = NULL;
    struct store_domain got;
    char url[160];

    assert_int_equal(create_n(f->s, ACCOUNT_A, 1, NO_QUOTA), 0);

    snprintf(url, sizeof(url), "sqlite:%s", f->path);
    assert_int_equal(store_open(url, &s), 0);
    assert_int_equal(store_domain_get(s, ACCOUNT_A, "D000000000000000000001",
                                      &got), 0);
    store_domain_clear(&got);
    store_close(s);
}


/* Readers open the file after the writer, perhaps after a chdir. */
static void
test_relative_path_survives_chdir(void **state)
{
    struct fixture *f = *state;
    struct store *s = NULL;
    struct store_domain got;
    char cwd[512];

    assert_non_null(getcwd(cwd, sizeof(cwd)));
    assert_int_equal(chdir(f->dir), 0);
    assert_int_equal(store_open("sqlite:rel.db", &s), 0);
    assert_int_equal(chdir("/"), 0);

    assert_int_equal(create_n(s, ACCOUNT_A, 1, NO_QUOTA), 0);
    assert_int_equal(store_domain_get(s, ACCOUNT_A, "D000000000000000000001",
                                      &got), 0);
    store_domain_clear(&got);
    store_close(s);
    assert_int_equal(chdir(cwd), 0);
}


static void
test_open_refuses_unknown_schemes_and_empty_paths(void **state)
{
    struct store *sentinel = (struct store *)&sentinel;
    struct store *s = sentinel;

    assert_int_equal(store_open("postgres://timbre@127.0.0.1/timbre", &s),
                     ERR_INVAL);
    assert_int_equal(store_open("postgresql://localhost/x", &s), ERR_INVAL);
    assert_int_equal(store_open("mysql:/tmp/x.db", &s), ERR_INVAL);
    assert_int_equal(store_open("sqlite:", &s), ERR_INVAL);
    assert_int_equal(store_open("", &s), ERR_INVAL);
    assert_int_equal(store_open(NULL, &s), ERR_INVAL);
    assert_ptr_equal(s, sentinel);
}


static void
test_open_fails_in_missing_directory(void **state)
{
    struct fixture *f = *state;
    struct store *sentinel = (struct store *)&sentinel;
    struct store *s = sentinel;
    char path[200];

    snprintf(path, sizeof(path), "%s/missing/timbre.db", f->dir);
    assert_int_equal(store_open(path, &s), ERR_IO);
    assert_ptr_equal(s, sentinel);
}


static void
test_open_refuses_newer_schema(void **state)
{
    struct fixture *f = *state;
    struct store *s = NULL;

    store_close(f->s);
    f->s = NULL;
    raw_exec(f->path, "PRAGMA user_version = 99");
    assert_int_equal(store_open(f->path, &s), ERR_IO);
    assert_null(s);
}


static void
test_domain_round_trips_every_field(void **state)
{
    struct fixture *f = *state;
    struct store_domain d;
    struct store_domain out;
    struct store_domain got;

    domain_make(&d, ACCOUNT_A, 7);
    d.sse_old_kms_key_id = "key-zero";
    d.sse_update_status = "COMPLETED";
    d.sse_update_message = "rotated";

    assert_int_equal(store_domain_create(f->s, &d, NULL, 0, NULL, NULL,
                                         NO_QUOTA, &out), 0);
    assert_domain_equal(&d, &out);
    assert_true(out.seq > 0);

    assert_int_equal(store_domain_get(f->s, ACCOUNT_A, d.id, &got), 0);
    assert_domain_equal(&d, &got);
    assert_int_equal(got.seq, out.seq);
    store_domain_clear(&out);
    store_domain_clear(&got);
    assert_null(got.name);
}


static void
test_absent_description_stays_null(void **state)
{
    struct fixture *f = *state;
    struct store_domain d;
    struct store_domain got;

    domain_make(&d, ACCOUNT_A, 1);
    d.description = NULL;
    assert_int_equal(store_domain_create(f->s, &d, NULL, 0, NULL, NULL,
                                         NO_QUOTA, &got), 0);
    assert_null(got.description);
    assert_null(got.sse_update_status);
    store_domain_clear(&got);

    assert_int_equal(store_domain_get(f->s, ACCOUNT_A, d.id, &got), 0);
    assert_null(got.description);
    assert_null(got.sse_old_kms_key_id);
    store_domain_clear(&got);
}


static void
test_update_replaces_fields_and_null_removes_description(void **state)
{
    struct fixture *f = *state;
    struct store_domain d;
    struct store_domain got;

    domain_make(&d, ACCOUNT_A, 1);
    assert_int_equal(create_n(f->s, ACCOUNT_A, 1, NO_QUOTA), 0);

    d.name = "renamed";
    d.description = NULL;
    d.kms_key_id = "key-two";
    d.sse_old_kms_key_id = "key-one";
    d.sse_update_status = "IN_PROGRESS";
    d.sse_update_message = NULL;
    d.updated_at = 1800000000.5;
    assert_int_equal(store_domain_update(f->s, &d, NULL, NULL, NULL), 0);

    assert_int_equal(store_domain_get(f->s, ACCOUNT_A, d.id, &got), 0);
    assert_domain_equal(&d, &got);
    assert_true(got.created_at == 1700000001.25);
    store_domain_clear(&got);
}


static void
test_deleted_domain_is_not_found_everywhere(void **state)
{
    struct fixture *f = *state;
    struct store_tag tag = { "team", "blue" };
    const char *key = "team";
    struct store_domain d;
    struct store_domain got;
    struct store_domain *list = NULL;
    struct store_tag *tags = NULL;
    size_t n = 9;
    bool more = true;

    domain_make(&d, ACCOUNT_A, 1);
    assert_int_equal(create_n(f->s, ACCOUNT_A, 1, NO_QUOTA), 0);
    assert_int_equal(store_domain_delete(f->s, ACCOUNT_A, d.id, 1.0e9), 0);

    assert_int_equal(store_domain_get(f->s, ACCOUNT_A, d.id, &got),
                     ERR_NOTFOUND);
    assert_int_equal(store_domain_update(f->s, &d, NULL, NULL, NULL),
                     ERR_NOTFOUND);
    assert_int_equal(store_domain_delete(f->s, ACCOUNT_A, d.id, 1.0e9),
                     ERR_NOTFOUND);
    assert_int_equal(store_domain_tags_put(f->s, ACCOUNT_A, d.id, &tag, 1,
                                           50), ERR_NOTFOUND);
    assert_int_equal(store_domain_tags_remove(f->s, ACCOUNT_A, d.id, &key,
                                              1), ERR_NOTFOUND);
    assert_int_equal(store_domain_tags_list(f->s, ACCOUNT_A, d.id, &tags,
                                            &n), ERR_NOTFOUND);
    assert_null(tags);
    assert_int_equal(n, 9);

    assert_int_equal(store_domain_list(f->s, ACCOUNT_A, 0, 10, &list, &n,
                                       &more), 0);
    assert_int_equal(n, 0);
    assert_false(more);
    store_domains_free(list, n);

    /* The row stays for the retention sweep, marked deleted. */
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM domains"
                             " WHERE deleted_at = 1.0e9"), 1);
}


static void
test_purge_erases_only_domains_deleted_before_the_cutoff(void **state)
{
    struct fixture *f = *state;
    struct store_tag tag = { "team", "blue" };
    struct store_domain old_one;
    struct store_domain recent;
    struct store_domain live;
    size_t erased = 99;

    domain_make(&old_one, ACCOUNT_A, 1);
    domain_make(&recent, ACCOUNT_A, 2);
    domain_make(&live, ACCOUNT_A, 3);
    for (int i = 1; i <= 3; i++)
        assert_int_equal(create_n(f->s, ACCOUNT_A, i, NO_QUOTA), 0);
    assert_int_equal(store_domain_tags_put(f->s, ACCOUNT_A, old_one.id,
                                           &tag, 1, 50), 0);
    assert_int_equal(store_domain_delete(f->s, ACCOUNT_A, old_one.id, 100.0),
                     0);
    assert_int_equal(store_domain_delete(f->s, ACCOUNT_A, recent.id, 300.0),
                     0);

    assert_int_equal(store_domain_purge(f->s, 200.0, 10, &erased), 0);
    assert_int_equal(erased, 1);

    /* The old domain's rows are gone, watchlist and tags included. */
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM domains"), 2);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM watchlists"),
                     2);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM domain_tags"),
                     0);

    /* A batch limit is honoured, and a second sweep finds the rest. */
    assert_int_equal(store_domain_purge(f->s, 400.0, 1, &erased), 0);
    assert_int_equal(erased, 1);
    assert_int_equal(store_domain_purge(f->s, 400.0, 1, &erased), 0);
    assert_int_equal(erased, 0);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM domains"), 1);
}


static void
test_missing_domain_is_not_found(void **state)
{
    struct fixture *f = *state;
    struct store_domain got;

    memset(&got, 0x5a, sizeof(got));
    assert_int_equal(store_domain_get(f->s, ACCOUNT_A,
                                      "D000000000000000000404", &got),
                     ERR_NOTFOUND);
    /* OUT parameters stay untouched on failure. */
    assert_int_equal(got.seq, 0x5a5a5a5a5a5a5a5aLL);
    assert_int_equal(store_domain_delete(f->s, ACCOUNT_A, "x", 1.0),
                     ERR_NOTFOUND);
}


static void
test_other_account_sees_nothing(void **state)
{
    struct fixture *f = *state;
    struct store_domain d;
    struct store_domain got;
    struct store_domain *list = NULL;
    struct store_tag *tags = NULL;
    size_t n = 0;
    bool more = true;

    domain_make(&d, ACCOUNT_A, 1);
    assert_int_equal(create_n(f->s, ACCOUNT_A, 1, NO_QUOTA), 0);
    assert_int_equal(create_n(f->s, ACCOUNT_B, 2, NO_QUOTA), 0);

    assert_int_equal(store_domain_get(f->s, ACCOUNT_B, d.id, &got),
                     ERR_NOTFOUND);
    assert_int_equal(store_domain_delete(f->s, ACCOUNT_B, d.id, 1.0),
                     ERR_NOTFOUND);
    assert_int_equal(store_domain_tags_list(f->s, ACCOUNT_B, d.id, &tags,
                                            &n), ERR_NOTFOUND);
    memcpy(d.account, ACCOUNT_B, sizeof(d.account));
    assert_int_equal(store_domain_update(f->s, &d, NULL, NULL, NULL),
                     ERR_NOTFOUND);

    assert_int_equal(store_domain_list(f->s, ACCOUNT_B, 0, 10, &list, &n,
                                       &more), 0);
    assert_int_equal(n, 1);
    assert_string_equal(list[0].id, "D000000000000000000002");
    assert_false(more);
    store_domains_free(list, n);

    /* Account A's domain is unchanged by B's attempts. */
    assert_int_equal(store_domain_get(f->s, ACCOUNT_A, d.id, &got), 0);
    assert_string_equal(got.account, ACCOUNT_A);
    store_domain_clear(&got);
}


static void
test_quota_counts_live_domains_of_the_account(void **state)
{
    struct fixture *f = *state;
    struct store_domain got;

    assert_int_equal(create_n(f->s, ACCOUNT_A, 1, 2), 0);
    assert_int_equal(create_n(f->s, ACCOUNT_A, 2, 2), 0);
    assert_int_equal(create_n(f->s, ACCOUNT_A, 3, 2), ERR_QUOTA);
    assert_int_equal(store_domain_get(f->s, ACCOUNT_A,
                                      "D000000000000000000003", &got),
                     ERR_NOTFOUND);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM watchlists"), 2);

    /* Another account has its own quota. */
    assert_int_equal(create_n(f->s, ACCOUNT_B, 4, 2), 0);

    assert_int_equal(store_domain_delete(f->s, ACCOUNT_A,
                                         "D000000000000000000001", 5.0), 0);
    assert_int_equal(create_n(f->s, ACCOUNT_A, 3, 2), 0);
    assert_int_equal(create_n(f->s, ACCOUNT_A, 5, 2), ERR_QUOTA);
}


static void
test_create_stores_default_watchlist_and_tags(void **state)
{
    struct fixture *f = *state;
    struct store_tag tags[] = { { "b", "2" }, { "a", "1" } };
    struct store_tag *got = NULL;
    struct store_domain d;
    struct store_domain out;
    size_t n = 0;

    domain_make(&d, ACCOUNT_A, 1);
    assert_int_equal(store_domain_create(f->s, &d, tags, 2, NULL, NULL,
                                         NO_QUOTA, &out), 0);
    store_domain_clear(&out);

    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM watchlists"
                             " WHERE id = 'W000000000000000000001'"
                             " AND domain_id = 'D000000000000000000001'"
                             " AND name = 'Default'"
                             " AND description = 'Default watchlist'"
                             " AND is_default = 1"), 1);

    assert_int_equal(store_domain_tags_list(f->s, ACCOUNT_A, d.id, &got,
                                            &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(got[0].key, "a");
    assert_string_equal(got[0].value, "1");
    assert_string_equal(got[1].key, "b");
    assert_string_equal(got[1].value, "2");
    store_tags_free(got, n);
}


static void
test_duplicate_domain_id_is_exists_and_adds_nothing(void **state)
{
    struct fixture *f = *state;
    struct store_tag tag = { "k", "v" };
    struct store_domain d;
    struct store_domain out;

    assert_int_equal(create_n(f->s, ACCOUNT_A, 1, NO_QUOTA), 0);
    domain_make(&d, ACCOUNT_A, 1);
    snprintf(d.default_watchlist_id, sizeof(d.default_watchlist_id),
             "W000000000000000000099");
    assert_int_equal(store_domain_create(f->s, &d, &tag, 1, "tok", "h",
                                         NO_QUOTA, &out), ERR_EXISTS);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM watchlists"), 1);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM domain_tags"), 0);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM idempotency"), 0);
}


static void
test_same_token_and_hash_returns_first_domain(void **state)
{
    struct fixture *f = *state;
    struct store_domain d;
    struct store_domain first;
    struct store_domain again;

    domain_make(&d, ACCOUNT_A, 1);
    assert_int_equal(store_domain_create(f->s, &d, NULL, 0, "token-1",
                                         "hash-1", NO_QUOTA, &first), 0);

    /* A retry generates fresh ids; the first domain must come back. */
    domain_make(&d, ACCOUNT_A, 2);
    assert_int_equal(store_domain_create(f->s, &d, NULL, 0, "token-1",
                                         "hash-1", NO_QUOTA, &again), 0);
    assert_string_equal(again.id, "D000000000000000000001");
    assert_int_equal(again.seq, first.seq);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM domains"), 1);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM watchlists"), 1);
    store_domain_clear(&first);
    store_domain_clear(&again);

    /* A replay does not count against the quota a second time. */
    assert_int_equal(store_domain_create(f->s, &d, NULL, 0, "token-1",
                                         "hash-1", 1, &again), 0);
    assert_string_equal(again.id, "D000000000000000000001");
    store_domain_clear(&again);
}


/* Tokens older than the cut-off are forgotten, a batch at a time; a
 * forgotten token is then free for a new request. */
static void
test_old_tokens_are_forgotten(void **state)
{
    struct fixture *f = *state;
    struct store_domain d;
    struct store_domain out;
    size_t erased = 9;

    for (int i = 1; i <= 3; i++) {
        char token[16];

        snprintf(token, sizeof(token), "token-%d", i);
        domain_make(&d, ACCOUNT_A, i);
        assert_int_equal(store_domain_create(f->s, &d, NULL, 0, token,
                                             "hash-1", NO_QUOTA, &out), 0);
        store_domain_clear(&out);
    }

    /* token-1 and token-2 were first used before 1700000002.5. */
    assert_int_equal(store_idempotency_purge(f->s, 1700000002.5, 1,
                                             &erased), 0);
    assert_int_equal(erased, 1);
    assert_int_equal(store_idempotency_purge(f->s, 1700000002.5, 10,
                                             &erased), 0);
    assert_int_equal(erased, 1);
    assert_int_equal(store_idempotency_purge(f->s, 1700000002.5, 10,
                                             &erased), 0);
    assert_int_equal(erased, 0);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM idempotency"),
                     1);

    /* Forgotten: another input under token-1 makes a new domain. */
    domain_make(&d, ACCOUNT_A, 4);
    assert_int_equal(store_domain_create(f->s, &d, NULL, 0, "token-1",
                                         "hash-2", NO_QUOTA, &out), 0);
    assert_string_equal(out.id, "D000000000000000000004");
    store_domain_clear(&out);

    /* Kept: token-3 still guards its first request. */
    domain_make(&d, ACCOUNT_A, 5);
    assert_int_equal(store_domain_create(f->s, &d, NULL, 0, "token-3",
                                         "hash-2", NO_QUOTA, &out),
                     ERR_MISMATCH);
}


static void
test_same_token_with_other_hash_is_mismatch(void **state)
{
    struct fixture *f = *state;
    struct store_domain d;
    struct store_domain out;

    domain_make(&d, ACCOUNT_A, 1);
    assert_int_equal(store_domain_create(f->s, &d, NULL, 0, "token-1",
                                         "hash-1", NO_QUOTA, &out), 0);
    store_domain_clear(&out);

    domain_make(&d, ACCOUNT_A, 2);
    memset(&out, 0, sizeof(out));
    assert_int_equal(store_domain_create(f->s, &d, NULL, 0, "token-1",
                                         "hash-2", NO_QUOTA, &out),
                     ERR_MISMATCH);
    assert_null(out.name);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM domains"), 1);
}


static void
test_client_token_is_scoped_to_the_account(void **state)
{
    struct fixture *f = *state;
    struct store_domain d;
    struct store_domain out;

    domain_make(&d, ACCOUNT_A, 1);
    assert_int_equal(store_domain_create(f->s, &d, NULL, 0, "token-1",
                                         "hash-1", NO_QUOTA, &out), 0);
    store_domain_clear(&out);

    domain_make(&d, ACCOUNT_B, 2);
    assert_int_equal(store_domain_create(f->s, &d, NULL, 0, "token-1",
                                         "hash-other", NO_QUOTA, &out), 0);
    assert_string_equal(out.id, "D000000000000000000002");
    assert_string_equal(out.account, ACCOUNT_B);
    store_domain_clear(&out);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM idempotency"), 2);
}


static void
test_replay_of_deleted_domain_is_not_found(void **state)
{
    struct fixture *f = *state;
    struct store_domain d;
    struct store_domain out;

    domain_make(&d, ACCOUNT_A, 1);
    assert_int_equal(store_domain_create(f->s, &d, NULL, 0, "token-1",
                                         "hash-1", NO_QUOTA, &out), 0);
    store_domain_clear(&out);
    assert_int_equal(store_domain_delete(f->s, ACCOUNT_A, d.id, 2.0), 0);

    domain_make(&d, ACCOUNT_A, 2);
    assert_int_equal(store_domain_create(f->s, &d, NULL, 0, "token-1",
                                         "hash-1", NO_QUOTA, &out),
                     ERR_NOTFOUND);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM domains"), 1);
}


static void
assert_tags(struct store *s, const char *id, const char *const *want,
            size_t n_want)
{
    struct store_tag *got = NULL;
    size_t n = 0;

    assert_int_equal(store_domain_tags_list(s, ACCOUNT_A, id, &got, &n), 0);
    assert_int_equal(n, n_want);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(got[i].key, want[2 * i]);
        assert_string_equal(got[i].value, want[2 * i + 1]);
    }
    store_tags_free(got, n);
}


static void
test_tags_put_replace_remove_and_list_sorted(void **state)
{
    struct fixture *f = *state;
    const char *id = "D000000000000000000001";
    struct store_tag put1[] = { { "zeta", "1" }, { "alpha", "2" } };
    struct store_tag put2[] = { { "alpha", "3" }, { "mid", "4" } };
    const char *remove[] = { "zeta", "absent" };
    const char *want1[] = { "alpha", "2", "zeta", "1" };
    const char *want2[] = { "alpha", "3", "mid", "4", "zeta", "1" };
    const char *want3[] = { "alpha", "3", "mid", "4" };

    assert_int_equal(create_n(f->s, ACCOUNT_A, 1, NO_QUOTA), 0);
    assert_tags(f->s, id, NULL, 0);

    assert_int_equal(store_domain_tags_put(f->s, ACCOUNT_A, id, put1, 2,
                                           50), 0);
    assert_tags(f->s, id, want1, 2);
    assert_int_equal(store_domain_tags_put(f->s, ACCOUNT_A, id, put2, 2,
                                           50), 0);
    assert_tags(f->s, id, want2, 3);
    assert_int_equal(store_domain_tags_remove(f->s, ACCOUNT_A, id, remove,
                                              2), 0);
    assert_tags(f->s, id, want3, 2);
}


static void
test_tags_over_quota_leave_tags_unchanged(void **state)
{
    struct fixture *f = *state;
    const char *id = "D000000000000000000001";
    struct store_tag put1[] = { { "a", "1" }, { "b", "2" } };
    struct store_tag put2[] = { { "a", "9" }, { "c", "3" } };
    struct store_tag put3[] = { { "a", "8" }, { "b", "7" } };
    const char *want[] = { "a", "1", "b", "2" };
    const char *want3[] = { "a", "8", "b", "7" };

    assert_int_equal(create_n(f->s, ACCOUNT_A, 1, NO_QUOTA), 0);
    assert_int_equal(store_domain_tags_put(f->s, ACCOUNT_A, id, put1, 2, 2),
                     0);

    /* 'a' is replaced, but 'c' would make three. */
    assert_int_equal(store_domain_tags_put(f->s, ACCOUNT_A, id, put2, 2, 2),
                     ERR_QUOTA);
    assert_tags(f->s, id, want, 2);

    /* Replacing existing keys stays within the limit. */
    assert_int_equal(store_domain_tags_put(f->s, ACCOUNT_A, id, put3, 2, 2),
                     0);
    assert_tags(f->s, id, want3, 2);
}


/* Reads every page of ACCOUNT_A's list of 'page' domains each, calling
 * between() after each page; returns how many ids were seen. */
static size_t
list_all(struct store *s, int page, char seen[][STORE_ID_LEN + 1],
         size_t max_seen, void (*between)(struct store *s, int i))
{
    struct store_domain *items;
    int64_t after = 0;
    size_t n_seen = 0;
    size_t n;
    bool more = true;

    for (int i = 0; more; i++) {
        items = NULL;
        assert_int_equal(store_domain_list(s, ACCOUNT_A, after, page, &items,
                                           &n, &more), 0);
        assert_true(n <= (size_t)page);
        assert_true(more ? n == (size_t)page : true);
        for (size_t j = 0; j < n; j++) {
            assert_true(items[j].seq > after);
            after = items[j].seq;
            assert_true(n_seen < max_seen);
            memcpy(seen[n_seen++], items[j].id, STORE_ID_LEN + 1);
        }
        store_domains_free(items, n);
        if (between != NULL)
            between(s, i);
    }
    return n_seen;
}


static void
insert_between_pages(struct store *s, int i)
{
    char id[STORE_ID_LEN + 1];

    /* New domains land after the cursor; one ahead of it is deleted. */
    if (i < 3) {
        assert_int_equal(create_n(s, ACCOUNT_A, 100 + i, NO_QUOTA), 0);
        assert_int_equal(create_n(s, ACCOUNT_B, 200 + i, NO_QUOTA), 0);
    }
    if (i == 0) {
        snprintf(id, sizeof(id), "D%021d", 9);
        assert_int_equal(store_domain_delete(s, ACCOUNT_A, id, 1.0), 0);
    }
}


static void
test_list_pages_without_skips_or_repeats_during_inserts(void **state)
{
    struct fixture *f = *state;
    char seen[64][STORE_ID_LEN + 1];
    char want[STORE_ID_LEN + 1];
    size_t n;
    size_t k = 0;

    for (int i = 1; i <= 10; i++)
        assert_int_equal(create_n(f->s, ACCOUNT_A, i, NO_QUOTA), 0);

    n = list_all(f->s, 3, seen, 64, insert_between_pages);

    /* 1..10 without the deleted 9, then the three added in order. */
    assert_int_equal(n, 12);
    for (int i = 1; i <= 10; i++) {
        if (i == 9)
            continue;
        snprintf(want, sizeof(want), "D%021d", i);
        assert_string_equal(seen[k++], want);
    }
    for (int i = 100; i < 103; i++) {
        snprintf(want, sizeof(want), "D%021d", i);
        assert_string_equal(seen[k++], want);
    }

    /* A page size equal to the count says no more. */
    n = list_all(f->s, 12, seen, 64, NULL);
    assert_int_equal(n, 12);
}


static void
test_list_rejects_a_limit_below_one(void **state)
{
    struct fixture *f = *state;
    struct store_domain *items = NULL;
    size_t n = 7;
    bool more = true;

    assert_int_equal(store_domain_list(f->s, ACCOUNT_A, 0, 0, &items, &n,
                                       &more), ERR_INVAL);
    assert_int_equal(n, 7);

    assert_int_equal(store_domain_list(f->s, ACCOUNT_A, 0, 1, &items, &n,
                                       &more), 0);
    assert_int_equal(n, 0);
    assert_false(more);
    store_domains_free(items, n);
}


static void
test_settings_put_get_and_replace(void **state)
{
    struct fixture *f = *state;
    char *value = NULL;

    assert_int_equal(store_setting_get(f->s, "page_key", &value),
                     ERR_NOTFOUND);
    assert_null(value);

    assert_int_equal(store_setting_put(f->s, "page_key", "v1"), 0);
    assert_int_equal(store_setting_get(f->s, "page_key", &value), 0);
    assert_string_equal(value, "v1");
    free(value);

    assert_int_equal(store_setting_put(f->s, "page_key", "v2"), 0);
    assert_int_equal(store_setting_get(f->s, "page_key", &value), 0);
    assert_string_equal(value, "v2");
    free(value);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM settings"), 1);
}


static void
test_invalid_arguments_are_refused(void **state)
{
    struct fixture *f = *state;
    struct store_tag bad_tag = { "k", NULL };
    struct store_domain d;
    struct store_domain out;

    domain_make(&d, "12345", 1);
    assert_int_equal(store_domain_create(f->s, &d, NULL, 0, NULL, NULL,
                                         NO_QUOTA, &out), ERR_INVAL);
    domain_make(&d, ACCOUNT_A, 1);
    d.name = NULL;
    assert_int_equal(store_domain_create(f->s, &d, NULL, 0, NULL, NULL,
                                         NO_QUOTA, &out), ERR_INVAL);
    domain_make(&d, ACCOUNT_A, 1);
    assert_int_equal(store_domain_create(f->s, &d, NULL, 0, "token", NULL,
                                         NO_QUOTA, &out), ERR_INVAL);
    assert_int_equal(store_domain_create(f->s, &d, &bad_tag, 1, NULL, NULL,
                                         NO_QUOTA, &out), ERR_INVAL);
    assert_int_equal(store_domain_get(f->s, "1111111111a1", d.id, &out),
                     ERR_INVAL);
    assert_int_equal(store_domain_get(f->s, "1111111111111", d.id, &out),
                     ERR_INVAL);
    assert_int_equal(store_setting_put(f->s, "k", NULL), ERR_INVAL);
    assert_store_empty(f->path);
}


/* Fails each step of a create in turn: every failure must leave nothing
 * behind and no transaction open, until the create runs out of steps. */
static void
test_failed_create_leaves_nothing_behind(void **state)
{
    struct fixture *f = *state;
    struct store_tag tags[] = { { "a", "1" }, { "b", "2" } };
    struct store_domain d;
    struct store_domain out;
    int rc = ERR_IO;
    int step;

    domain_make(&d, ACCOUNT_A, 1);
    for (step = 1; step < 50 && rc != 0; step++) {
        store__fail_next(step, ERR_IO);
        memset(&out, 0, sizeof(out));
        rc = store_domain_create(f->s, &d, tags, 2, "token", "hash",
                                 NO_QUOTA, &out);
        if (rc == 0)
            break;
        assert_int_equal(rc, ERR_IO);
        assert_null(out.name);
        store__fail_next(0, 0);
        assert_store_empty(f->path);
        assert_true(raw_can_write(f->path));
    }
    store__fail_next(0, 0);

    /* BEGIN, token lookup, count, 2 inserts, 2 tags, token, read-back,
     * COMMIT: ten steps, so the eleventh attempt is the first success. */
    assert_int_equal(rc, 0);
    assert_int_equal(step, 11);
    assert_string_equal(out.id, d.id);
    store_domain_clear(&out);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM domain_tags"), 2);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM idempotency"), 1);
}


static void
test_failed_tags_put_changes_nothing(void **state)
{
    struct fixture *f = *state;
    const char *id = "D000000000000000000001";
    struct store_tag put1[] = { { "a", "1" } };
    struct store_tag put2[] = { { "a", "2" }, { "b", "3" } };
    const char *want[] = { "a", "1" };

    assert_int_equal(create_n(f->s, ACCOUNT_A, 1, NO_QUOTA), 0);
    assert_int_equal(store_domain_tags_put(f->s, ACCOUNT_A, id, put1, 1, 50),
                     0);

    /* BEGIN, live check, first upsert, then the second upsert fails. */
    store__fail_next(4, ERR_IO);
    assert_int_equal(store_domain_tags_put(f->s, ACCOUNT_A, id, put2, 2, 50),
                     ERR_IO);
    assert_tags(f->s, id, want, 1);
    assert_true(raw_can_write(f->path));
}


static void
test_busy_step_is_retried(void **state)
{
    struct fixture *f = *state;
    struct store_domain d;
    struct store_domain out;

    domain_make(&d, ACCOUNT_A, 1);
    /* The insert of the domain reports busy once; the rerun succeeds. */
    store__fail_next(4, ERR_BUSY);
    assert_int_equal(store_domain_create(f->s, &d, NULL, 0, "token", "hash",
                                         NO_QUOTA, &out), 0);
    assert_string_equal(out.id, d.id);
    store_domain_clear(&out);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM domains"), 1);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM watchlists"), 1);
}


static void
test_allocation_failure_leaves_outputs_untouched(void **state)
{
    struct fixture *f = *state;
    const char *id = "D000000000000000000001";
    struct store_tag tags[] = { { "a", "1" }, { "b", "2" } };
    struct store_domain got;
    struct store_domain *items;
    struct store_tag *tag_items;
    size_t n;
    bool more;
    int rc;
    int i;

    assert_int_equal(create_n(f->s, ACCOUNT_A, 1, NO_QUOTA), 0);
    assert_int_equal(create_n(f->s, ACCOUNT_A, 2, NO_QUOTA), 0);
    assert_int_equal(store_domain_tags_put(f->s, ACCOUNT_A, id, tags, 2, 50),
                     0);

    for (i = 1, rc = ERR_NOMEM; rc == ERR_NOMEM; i++) {
        store__fail_alloc_next(i);
        memset(&got, 0, sizeof(got));
        rc = store_domain_get(f->s, ACCOUNT_A, id, &got);
        if (rc == ERR_NOMEM)
            assert_null(got.name);
    }
    store__fail_alloc_next(0);
    assert_int_equal(rc, 0);
    assert_true(i > 3);
    store_domain_clear(&got);

    for (i = 1, rc = ERR_NOMEM; rc == ERR_NOMEM; i++) {
        store__fail_alloc_next(i);
        items = NULL;
        n = 99;
        rc = store_domain_list(f->s, ACCOUNT_A, 0, 5, &items, &n, &more);
        if (rc == ERR_NOMEM) {
            assert_null(items);
            assert_int_equal(n, 99);
        }
    }
    store__fail_alloc_next(0);
    assert_int_equal(rc, 0);
    assert_int_equal(n, 2);
    store_domains_free(items, n);

    for (i = 1, rc = ERR_NOMEM; rc == ERR_NOMEM; i++) {
        store__fail_alloc_next(i);
        tag_items = NULL;
        rc = store_domain_tags_list(f->s, ACCOUNT_A, id, &tag_items, &n);
        if (rc == ERR_NOMEM)
            assert_null(tag_items);
    }
    store__fail_alloc_next(0);
    assert_int_equal(rc, 0);
    assert_int_equal(i, 7);             /* array, then two strings a tag */
    store_tags_free(tag_items, n);
}


struct racer {
    struct store *s;
    int first;
    atomic_int *created;
    atomic_int *refused;
};


static void *
racer_run(void *arg)
{
    struct racer *r = arg;
    int rc;

    for (int i = 0; i < 5; i++) {
        rc = create_n(r->s, ACCOUNT_A, r->first + i, 3);
        if (rc == 0)
            atomic_fetch_add(r->created, 1);
        else if (rc == ERR_QUOTA)
            atomic_fetch_add(r->refused, 1);
    }
    return NULL;
}


static void
test_concurrent_creates_respect_the_quota(void **state)
{
    struct fixture *f = *state;
    struct racer racers[4];
    pthread_t threads[4];
    atomic_int created = 0;
    atomic_int refused = 0;

    for (int i = 0; i < 4; i++) {
        racers[i] = (struct racer){ f->s, 100 * (i + 1), &created,
                                    &refused };
        assert_int_equal(pthread_create(&threads[i], NULL, racer_run,
                                        &racers[i]), 0);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(threads[i], NULL);

    assert_int_equal(atomic_load(&created), 3);
    assert_int_equal(atomic_load(&refused), 17);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM domains"), 3);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM watchlists"), 3);
}


struct reader {
    struct store *s;
    atomic_int *stop;
    int lists;
    int errors;
};


/* Lists while a writer adds domains: every page must be in seq order and
 * never shrink, since domains are only added. Each reader lists at least
 * once, however late the scheduler starts it. */
static void *
reader_run(void *arg)
{
    struct reader *r = arg;
    struct store_domain *items;
    size_t n;
    size_t last_n = 0;
    bool more;

    while (!atomic_load(r->stop) || r->lists == 0) {
        items = NULL;
        if (store_domain_list(r->s, ACCOUNT_A, 0, 1000, &items, &n,
                              &more) != 0) {
            r->errors++;
            continue;
        }
        if (n < last_n)
            r->errors++;
        for (size_t i = 1; i < n; i++) {
            if (items[i].seq <= items[i - 1].seq)
                r->errors++;
        }
        last_n = n;
        store_domains_free(items, n);
        r->lists++;
    }
    return NULL;
}


static void
test_readers_run_alongside_the_writer(void **state)
{
    struct fixture *f = *state;
    struct reader readers[12];
    pthread_t threads[12];
    struct store_domain got;
    atomic_int stop = 0;
    char id[STORE_ID_LEN + 1];

    /* More readers than the pool holds, so some wait for a connection. */
    for (int i = 0; i < 12; i++) {
        readers[i] = (struct reader){ f->s, &stop, 0, 0 };
        assert_int_equal(pthread_create(&threads[i], NULL, reader_run,
                                        &readers[i]), 0);
    }
    for (int i = 1; i <= 100; i++) {
        assert_int_equal(create_n(f->s, ACCOUNT_A, i, NO_QUOTA), 0);
        /* A committed domain is visible to the next read at once. */
        snprintf(id, sizeof(id), "D%021d", i);
        assert_int_equal(store_domain_get(f->s, ACCOUNT_A, id, &got), 0);
        store_domain_clear(&got);
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < 12; i++) {
        pthread_join(threads[i], NULL);
        assert_int_equal(readers[i].errors, 0);
        assert_true(readers[i].lists > 0);
    }
}


struct holder {
    const char *path;
    atomic_int locked;
};


static void *
holder_run(void *arg)
{
    struct holder *h = arg;
    struct timespec pause = { 0, 200 * 1000000L };
    sqlite3 *db;

    assert_int_equal(sqlite3_open(h->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL),
                     SQLITE_OK);
    atomic_store(&h->locked, 1);
    nanosleep(&pause, NULL);
    assert_int_equal(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    return NULL;
}


/* Another process holding the write lock delays a create, not fails it;
 * reads go on meanwhile. */
static void
test_create_waits_for_another_writer(void **state)
{
    struct fixture *f = *state;
    struct holder h = { f->path, 0 };
    struct store_domain *items = NULL;
    pthread_t thread;
    size_t n;
    bool more;

    assert_int_equal(pthread_create(&thread, NULL, holder_run, &h), 0);
    while (!atomic_load(&h.locked))
        sched_yield();

    assert_int_equal(store_domain_list(f->s, ACCOUNT_A, 0, 5, &items, &n,
                                       &more), 0);
    store_domains_free(items, n);
    assert_int_equal(create_n(f->s, ACCOUNT_A, 1, NO_QUOTA), 0);
    pthread_join(thread, NULL);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM domains"), 1);
}


/* Fills 'j' with job n of domain 'dom' of 'account'; strings are borrowed
 * from static storage, so 'j' must not be cleared. */
static void
job_make(struct store_job *j, const char *account, int dom, int n)
{
    memset(j, 0, sizeof(*j));
    snprintf(j->account, sizeof(j->account), "%s", account);
    snprintf(j->id, sizeof(j->id), "J%021d", n);
    snprintf(j->domain_id, sizeof(j->domain_id), "D%021d", dom);
    j->name = "nightly-batch";
    j->created_at = 1700000100.5 + n;
    j->request_json = "{\"InputDataConfig\":{\"S3Uri\":\"s3://b/in\"}}";
}


static int
job_create_n(struct store *s, const char *account, int dom, int n,
             int max_active)
{
    struct store_job j;
    struct store_job out;
    int rc;

    job_make(&j, account, dom, n);
    rc = store_job_create(s, &j, NULL, NULL, max_active, &out);
    if (rc == 0)
        store_job_clear(&out);
    return rc;
}


static void
assert_job_id(const struct store_job *j, int n)
{
    char want[STORE_ID_LEN + 1];

    snprintf(want, sizeof(want), "J%021d", n);
    assert_string_equal(j->id, want);
}


/* Claims one job for 'owner' and checks it is job n. */
static void
claim_expect(struct store *s, const char *owner, double now, int n)
{
    struct store_job got;

    assert_int_equal(store_job_claim(s, owner, now, 30, &got), 0);
    assert_job_id(&got, n);
    assert_string_equal(got.status, "IN_PROGRESS");
    store_job_clear(&got);
}


static void
test_job_round_trips_every_field(void **state)
{
    struct fixture *f = *state;
    struct store_job j;
    struct store_job made;
    struct store_job got;

    assert_int_equal(create_n(f->s, ACCOUNT_A, 1, NO_QUOTA), 0);
    job_make(&j, ACCOUNT_A, 1, 1);
    assert_int_equal(store_job_create(f->s, &j, "tok", "hash", 5, &made),
                     0);
    assert_true(made.seq > 0);
    assert_string_equal(made.status, "SUBMITTED");

    assert_int_equal(store_job_get(f->s, ACCOUNT_A, j.domain_id, j.id, &got),
                     0);
    assert_int_equal(got.seq, made.seq);
    assert_string_equal(got.account, ACCOUNT_A);
    assert_string_equal(got.id, j.id);
    assert_string_equal(got.domain_id, j.domain_id);
    assert_string_equal(got.name, "nightly-batch");
    assert_string_equal(got.status, "SUBMITTED");
    assert_true(got.created_at == j.created_at);
    assert_true(got.ended_at == 0);
    assert_int_equal(got.percent_complete, 0);
    assert_int_equal(got.failure_code, 0);
    assert_null(got.failure_message);
    assert_string_equal(got.request_json, j.request_json);
    store_job_clear(&got);
    store_job_clear(&made);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM enrollment_jobs"
                             " WHERE ended_at IS NULL"
                             " AND failure_code IS NULL"), 1);

    /* An import keeps every field as given; an absent name stays NULL. */
    job_make(&j, ACCOUNT_A, 1, 2);
    j.name = NULL;
    j.status = "FAILED";
    j.ended_at = 1700000200.75;
    j.percent_complete = 42;
    j.failure_code = 400;
    j.failure_message = "bad audio";
    assert_int_equal(store_jobs_import(f->s, &j, 1), 0);
    assert_int_equal(store_job_get(f->s, ACCOUNT_A, j.domain_id, j.id, &got),
                     0);
    assert_null(got.name);
    assert_string_equal(got.status, "FAILED");
    assert_true(got.ended_at == j.ended_at);
    assert_int_equal(got.percent_complete, 42);
    assert_int_equal(got.failure_code, 400);
    assert_string_equal(got.failure_message, "bad audio");
    store_job_clear(&got);
    store_job_clear(NULL);
    store_jobs_free(NULL, 3);
}


static void
test_job_same_token_returns_first_job_and_other_hash_mismatches(void **state)
{
    struct fixture *f = *state;
    struct store_job j;
    struct store_job out;

    assert_int_equal(create_n(f->s, ACCOUNT_A, 1, NO_QUOTA), 0);
    job_make(&j, ACCOUNT_A, 1, 1);
    assert_int_equal(store_job_create(f->s, &j, "tok", "h1", 5, &out), 0);
    store_job_clear(&out);

    /* The retry carries a fresh id, which must not be used. */
    job_make(&j, ACCOUNT_A, 1, 2);
    assert_int_equal(store_job_create(f->s, &j, "tok", "h1", 5, &out), 0);
    assert_job_id(&out, 1);
    store_job_clear(&out);

    memset(&out, 0, sizeof(out));
    assert_int_equal(store_job_create(f->s, &j, "tok", "h2", 5, &out),
                     ERR_MISMATCH);
    assert_null(out.status);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM enrollment_jobs"),
                     1);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM idempotency"
                             " WHERE operation = 'StartSpeakerEnrollmentJob'"
                             " AND resource_id = 'J000000000000000000001'"),
                     1);
}


static void
test_job_quota_counts_active_jobs_of_the_domain(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(create_n(f->s, ACCOUNT_A, 1, NO_QUOTA), 0);
    assert_int_equal(create_n(f->s, ACCOUNT_A, 2, NO_QUOTA), 0);
    assert_int_equal(job_create_n(f->s, ACCOUNT_A, 1, 1, 1), 0);
    assert_int_equal(job_create_n(f->s, ACCOUNT_A, 1, 2, 1), ERR_QUOTA);
    /* Another domain has its own count. */
    assert_int_equal(job_create_n(f->s, ACCOUNT_A, 2, 3, 1), 0);

    /* IN_PROGRESS still counts; an ended job does not. */
    claim_expect(f->s, "r1", 100, 1);
    assert_int_equal(job_create_n(f->s, ACCOUNT_A, 1, 2, 1), ERR_QUOTA);
    assert_int_equal(store_job_finish(f->s, "J000000000000000000001", "r1",
                                      "COMPLETED", 101, 0, NULL), 0);
    assert_int_equal(job_create_n(f->s, ACCOUNT_A, 1, 2, 1), 0);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM enrollment_jobs"),
                     3);
}


static void
test_job_calls_on_missing_or_deleted_domain_are_not_found(void **state)
{
    struct fixture *f = *state;
    const char *dom = "D000000000000000000001";
    const char *job = "J000000000000000000001";
    struct store_job j;
    struct store_job got;
    struct store_job *items = NULL;
    size_t n = 7;
    bool more;

    assert_int_equal(job_create_n(f->s, ACCOUNT_A, 1, 1, 5), ERR_NOTFOUND);
    assert_int_equal(store_job_get(f->s, ACCOUNT_A, dom, job, &got),
                     ERR_NOTFOUND);
    assert_int_equal(store_job_list(f->s, ACCOUNT_A, dom, NULL, 0, 10,
                                    &items, &n, &more), ERR_NOTFOUND);
    assert_null(items);
    assert_int_equal(n, 7);

    assert_int_equal(create_n(f->s, ACCOUNT_A, 1, NO_QUOTA), 0);
    assert_int_equal(job_create_n(f->s, ACCOUNT_A, 1, 1, 5), 0);
    assert_int_equal(store_domain_delete(f->s, ACCOUNT_A, dom, 5.0), 0);

    assert_int_equal(job_create_n(f->s, ACCOUNT_A, 1, 2, 5), ERR_NOTFOUND);
    assert_int_equal(store_job_get(f->s, ACCOUNT_A, dom, job, &got),
                     ERR_NOTFOUND);
    assert_int_equal(store_job_list(f->s, ACCOUNT_A, dom, NULL, 0, 10,
                                    &items, &n, &more), ERR_NOTFOUND);
    assert_int_equal(store_job_list(f->s, ACCOUNT_A, dom, "SUBMITTED", 0,
                                    10, &items, &n, &more), ERR_NOTFOUND);
    job_make(&j, ACCOUNT_A, 1, 3);
    j.status = "SUBMITTED";
    assert_int_equal(store_jobs_import(f->s, &j, 1), ERR_NOTFOUND);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM enrollment_jobs"),
                     1);

    /* The retention sweep takes the jobs along with their domain. */
    assert_int_equal(store_domain_purge(f->s, 10.0, 10, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM enrollment_jobs"),
                     0);
}


static void
test_job_of_other_account_or_domain_is_not_found(void **state)
{
    struct fixture *f = *state;
    const char *dom = "D000000000000000000001";
    const char *job = "J000000000000000000001";
    struct store_job got;
    struct store_job *items = NULL;
    size_t n;
    bool more;

    assert_int_equal(create_n(f->s, ACCOUNT_A, 1, NO_QUOTA), 0);
    assert_int_equal(create_n(f->s, ACCOUNT_A, 2, NO_QUOTA), 0);
    assert_int_equal(job_create_n(f->s, ACCOUNT_A, 1, 1, 5), 0);

    assert_int_equal(store_job_get(f->s, ACCOUNT_B, dom, job, &got),
                     ERR_NOTFOUND);
    assert_int_equal(store_job_get(f->s, ACCOUNT_A, "D000000000000000000002",
                                   job, &got), ERR_NOTFOUND);
    assert_int_equal(store_job_list(f->s, ACCOUNT_B, dom, NULL, 0, 10,
                                    &items, &n, &more), ERR_NOTFOUND);
    assert_int_equal(job_create_n(f->s, ACCOUNT_B, 1, 2, 5), ERR_NOTFOUND);

    /* The other domain of the same account lists nothing. */
    assert_int_equal(store_job_list(f->s, ACCOUNT_A,
                                    "D000000000000000000002", NULL, 0, 10,
                                    &items, &n, &more), 0);
    assert_int_equal(n, 0);
    assert_false(more);
    store_jobs_free(items, n);
}


/* Lists every job of domain 1 of ACCOUNT_A newest first, 'limit' a page,
 * calling between(s, i) after page i; returns the job numbers seen. */
static size_t
job_list_all(struct store *s, const char *status, int limit, int *seen,
             size_t cap, void (*between)(struct store *s, int i))
{
    const char *dom = "D000000000000000000001";
    struct store_job *items;
    int64_t before = 0;
    size_t n_seen = 0;
    size_t n;
    bool more = true;

    for (int i = 0; more; i++) {
        items = NULL;
        assert_int_equal(store_job_list(s, ACCOUNT_A, dom, status, before,
                                        limit, &items, &n, &more), 0);
        assert_true(n <= (size_t)limit);
        assert_true(more ? n == (size_t)limit : true);
        for (size_t j = 0; j < n; j++) {
            assert_true(n_seen < cap);
            assert_true(before == 0 || items[j].seq < before);
            if (status != NULL)
                assert_string_equal(items[j].status, status);
            seen[n_seen++] = atoi(items[j].id + 1);
            before = items[j].seq;
        }
        store_jobs_free(items, n);
        if (between != NULL)
            between(s, i);
    }
    return n_seen;
}


static void
job_create_between_pages(struct store *s, int i)
{
    assert_int_equal(job_create_n(s, ACCOUNT_A, 1, 100 + i, NO_QUOTA), 0);
}


static void
test_job_list_pages_newest_first_without_skips_or_repeats(void **state)
{
    struct fixture *f = *state;
    int seen[64];
    size_t n;

    assert_int_equal(create_n(f->s, ACCOUNT_A, 1, NO_QUOTA), 0);
    assert_int_equal(create_n(f->s, ACCOUNT_A, 2, NO_QUOTA), 0);
    for (int i = 1; i <= 10; i++) {
        assert_int_equal(job_create_n(f->s, ACCOUNT_A, 1, i, NO_QUOTA), 0);
        /* Interleaved jobs of another domain must not show. */
        assert_int_equal(job_create_n(f->s, ACCOUNT_A, 2, 50 + i, NO_QUOTA),
                         0);
    }

    /* Jobs created between pages are newer than the cursor: unseen. */
    n = job_list_all(f->s, NULL, 3, seen, 64, job_create_between_pages);
    assert_int_equal(n, 10);
    for (int i = 0; i < 10; i++)
        assert_int_equal(seen[i], 10 - i);

    /* A fresh listing starts with them; a page of exactly the rest says
     * no more. */
    n = job_list_all(f->s, NULL, 14, seen, 64, NULL);
    assert_int_equal(n, 14);
    assert_int_equal(seen[0], 103);
    assert_int_equal(seen[3], 100);
    assert_int_equal(seen[4], 10);
}


static void
test_job_list_filters_by_status(void **state)
{
    struct fixture *f = *state;
    static char *const statuses[] = { "SUBMITTED", "COMPLETED",
                                      "FAILED" };
    struct store_job jobs[30];
    int seen[64];
    size_t n;

    assert_int_equal(create_n(f->s, ACCOUNT_A, 1, NO_QUOTA), 0);
    for (int i = 0; i < 30; i++) {
        job_make(&jobs[i], ACCOUNT_A, 1, i + 1);
        jobs[i].status = statuses[i % 3];
    }
    assert_int_equal(store_jobs_import(f->s, jobs, 30), 0);

    n = job_list_all(f->s, "COMPLETED", 4, seen, 64, NULL);
    assert_int_equal(n, 10);
    for (int i = 0; i < 10; i++)
        assert_int_equal(seen[i], 29 - 3 * i);

    n = job_list_all(f->s, "IN_PROGRESS", 4, seen, 64, NULL);
    assert_int_equal(n, 0);
    n = job_list_all(f->s, NULL, 7, seen, 64, NULL);
    assert_int_equal(n, 30);
}


static void
test_job_import_then_deep_page_returns_right_seqs(void **state)
{
    struct fixture *f = *state;
    const char *dom = "D000000000000000000001";
    enum { N = 10000 };
    struct store_job *jobs = calloc(N, sizeof(*jobs));
    struct store_job *items = NULL;
    int64_t first_seq;
    size_t n;
    bool more;

    assert_non_null(jobs);
    assert_int_equal(create_n(f->s, ACCOUNT_A, 1, NO_QUOTA), 0);
    for (int i = 0; i < N; i++) {
        job_make(&jobs[i], ACCOUNT_A, 1, i + 1);
        jobs[i].status = "COMPLETED";
    }
    assert_int_equal(store_jobs_import(f->s, jobs, N), 0);
    free(jobs);
    first_seq = raw_int(f->path, "SELECT min(seq) FROM enrollment_jobs");
    assert_int_equal(raw_int(f->path, "SELECT max(seq) FROM enrollment_jobs"),
                     first_seq + N - 1);

    /* Job k has seq first_seq + k - 1; the page before job 5000 holds
     * jobs 4999 down to 4990. */
    assert_int_equal(store_job_list(f->s, ACCOUNT_A, dom, NULL,
                                    first_seq + 4999, 10, &items, &n,
                                    &more), 0);
    assert_int_equal(n, 10);
    assert_true(more);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(items[i].seq, first_seq + 4998 - (int64_t)i);
        assert_job_id(&items[i], 4999 - (int)i);
    }
    store_jobs_free(items, n);

    /* The last page ends the listing. */
    assert_int_equal(store_job_list(f->s, ACCOUNT_A, dom, "COMPLETED",
                                    first_seq + 2, 10, &items, &n, &more),
                     0);
    assert_int_equal(n, 2);
    assert_false(more);
    store_jobs_free(items, n);
}


static void
test_job_import_is_all_or_nothing(void **state)
{
    struct fixture *f = *state;
    struct store_job jobs[3];

    assert_int_equal(create_n(f->s, ACCOUNT_A, 1, NO_QUOTA), 0);
    for (int i = 0; i < 3; i++) {
        job_make(&jobs[i], ACCOUNT_A, 1, i + 1);
        jobs[i].status = "SUBMITTED";
    }
    memcpy(jobs[2].id, jobs[0].id, sizeof(jobs[2].id));
    assert_int_equal(store_jobs_import(f->s, jobs, 3), ERR_EXISTS);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM enrollment_jobs"),
                     0);
    assert_true(raw_can_write(f->path));
}


static void
test_job_claim_takes_the_oldest_submitted(void **state)
{
    struct fixture *f = *state;
    struct store_job jobs[2];
    struct store_job got;

    assert_int_equal(create_n(f->s, ACCOUNT_A, 1, NO_QUOTA), 0);
    assert_int_equal(store_job_claim(f->s, "r1", 100, 30, &got),
                     ERR_NOTFOUND);

    /* An ended job is never claimed. */
    job_make(&jobs[0], ACCOUNT_A, 1, 1);
    jobs[0].status = "COMPLETED";
    job_make(&jobs[1], ACCOUNT_A, 1, 2);
    jobs[1].status = "SUBMITTED";
    assert_int_equal(store_jobs_import(f->s, jobs, 2), 0);
    assert_int_equal(job_create_n(f->s, ACCOUNT_A, 1, 3, NO_QUOTA), 0);

    assert_int_equal(store_job_claim(f->s, "r1", 100, 30, &got), 0);
    assert_job_id(&got, 2);
    assert_string_equal(got.status, "IN_PROGRESS");
    store_job_clear(&got);
    assert_int_equal(store_job_get(f->s, ACCOUNT_A, "D000000000000000000001",
                                   "J000000000000000000002", &got), 0);
    assert_string_equal(got.status, "IN_PROGRESS");
    store_job_clear(&got);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM enrollment_jobs"
                             " WHERE lease_owner = 'r1'"
                             " AND lease_expires = 130"), 1);

    claim_expect(f->s, "r2", 100, 3);
    memset(&got, 0, sizeof(got));
    assert_int_equal(store_job_claim(f->s, "r3", 100, 30, &got),
                     ERR_NOTFOUND);
    assert_null(got.status);
}


static void
test_job_heartbeat_needs_the_owner(void **state)
{
    struct fixture *f = *state;
    const char *job = "J000000000000000000001";
    struct store_job got;

    assert_int_equal(create_n(f->s, ACCOUNT_A, 1, NO_QUOTA), 0);
    assert_int_equal(job_create_n(f->s, ACCOUNT_A, 1, 1, NO_QUOTA), 0);
    assert_int_equal(store_job_heartbeat(f->s, job, "r1", 100, 30, 10),
                     ERR_EXPIRED);
    claim_expect(f->s, "r1", 100, 1);

    assert_int_equal(store_job_heartbeat(f->s, job, "r1", 120, 30, 40), 0);
    assert_int_equal(store_job_heartbeat(f->s, job, "r2", 121, 30, 50),
                     ERR_EXPIRED);
    assert_int_equal(store_job_get(f->s, ACCOUNT_A, "D000000000000000000001",
                                   job, &got), 0);
    assert_int_equal(got.percent_complete, 40);
    store_job_clear(&got);
    assert_int_equal(raw_int(f->path, "SELECT lease_expires FROM"
                             " enrollment_jobs"), 150);

    /* The renewed lease keeps the job from a claim at the old expiry. */
    assert_int_equal(store_job_claim(f->s, "r2", 140, 30, &got),
                     ERR_NOTFOUND);
    assert_int_equal(store_job_heartbeat(f->s, "J000000000000000000009",
                                         "r1", 120, 30, 40), ERR_EXPIRED);
}


static void
test_job_expired_lease_is_reclaimed_and_first_owner_loses_it(void **state)
{
    struct fixture *f = *state;
    const char *job = "J000000000000000000001";
    struct store_job got;

    assert_int_equal(create_n(f->s, ACCOUNT_A, 1, NO_QUOTA), 0);
    assert_int_equal(job_create_n(f->s, ACCOUNT_A, 1, 1, NO_QUOTA), 0);
    claim_expect(f->s, "r1", 100, 1);

    /* Held until the lease ends, not at its very end. */
    assert_int_equal(store_job_claim(f->s, "r2", 110, 30, &got),
                     ERR_NOTFOUND);
    assert_int_equal(store_job_claim(f->s, "r2", 130, 30, &got),
                     ERR_NOTFOUND);
    claim_expect(f->s, "r2", 131, 1);

    assert_int_equal(store_job_heartbeat(f->s, job, "r1", 132, 30, 90),
                     ERR_EXPIRED);
    assert_int_equal(store_job_finish(f->s, job, "r1", "COMPLETED", 133, 0,
                                      NULL), ERR_EXPIRED);
    assert_int_equal(store_job_heartbeat(f->s, job, "r2", 134, 30, 20), 0);
    assert_int_equal(store_job_finish(f->s, job, "r2", "COMPLETED", 135, 0,
                                      NULL), 0);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM enrollment_jobs"
                             " WHERE status = 'COMPLETED'"), 1);
}


/* An imported IN_PROGRESS job has no runner, so its lease starts out
 * expired and the next claim takes it up. */
static void
test_job_imported_in_progress_job_is_claimable(void **state)
{
    struct fixture *f = *state;
    struct store_job j;

    assert_int_equal(create_n(f->s, ACCOUNT_A, 1, NO_QUOTA), 0);
    job_make(&j, ACCOUNT_A, 1, 1);
    j.status = "IN_PROGRESS";
    j.percent_complete = 60;
    assert_int_equal(store_jobs_import(f->s, &j, 1), 0);
    claim_expect(f->s, "r1", 100, 1);
}


static void
test_job_finish_records_the_outcome(void **state)
{
    struct fixture *f = *state;
    const char *dom = "D000000000000000000001";
    const char *job1 = "J000000000000000000001";
    const char *job2 = "J000000000000000000002";
    struct store_job got;

    assert_int_equal(create_n(f->s, ACCOUNT_A, 1, NO_QUOTA), 0);
    assert_int_equal(job_create_n(f->s, ACCOUNT_A, 1, 1, NO_QUOTA), 0);
    assert_int_equal(job_create_n(f->s, ACCOUNT_A, 1, 2, NO_QUOTA), 0);
    claim_expect(f->s, "r1", 100, 1);
    claim_expect(f->s, "r1", 100, 2);

    assert_int_equal(store_job_finish(f->s, job1, "r1", "COMPLETED", 150.5,
                                      0, NULL), 0);
    assert_int_equal(store_job_get(f->s, ACCOUNT_A, dom, job1, &got), 0);
    assert_string_equal(got.status, "COMPLETED");
    assert_true(got.ended_at == 150.5);
    assert_int_equal(got.percent_complete, 100);
    assert_int_equal(got.failure_code, 0);
    assert_null(got.failure_message);
    store_job_clear(&got);

    /* A failed job keeps the progress it had reached. */
    assert_int_equal(store_job_heartbeat(f->s, job2, "r1", 110, 30, 30), 0);
    assert_int_equal(store_job_finish(f->s, job2, "r1", "FAILED", 160, 400,
                                      "no speech in the audio"), 0);
    assert_int_equal(store_job_get(f->s, ACCOUNT_A, dom, job2, &got), 0);
    assert_string_equal(got.status, "FAILED");
    assert_true(got.ended_at == 160);
    assert_int_equal(got.percent_complete, 30);
    assert_int_equal(got.failure_code, 400);
    assert_string_equal(got.failure_message, "no speech in the audio");
    store_job_clear(&got);

    /* The lease is gone: neither owner nor claim touches the job again. */
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM enrollment_jobs"
                             " WHERE lease_owner IS NOT NULL"
                             " OR lease_expires IS NOT NULL"), 0);
    assert_int_equal(store_job_finish(f->s, job1, "r1", "FAILED", 170, 500,
                                      "late"), ERR_EXPIRED);
    assert_int_equal(store_job_heartbeat(f->s, job1, "r1", 170, 30, 5),
                     ERR_EXPIRED);
    assert_int_equal(store_job_claim(f->s, "r2", 1e12, 30, &got),
                     ERR_NOTFOUND);
}


static void
test_job_of_deleted_domain_is_not_claimed(void **state)
{
    struct fixture *f = *state;
    struct store_job got;

    assert_int_equal(create_n(f->s, ACCOUNT_A, 1, NO_QUOTA), 0);
    assert_int_equal(create_n(f->s, ACCOUNT_A, 2, NO_QUOTA), 0);
    assert_int_equal(job_create_n(f->s, ACCOUNT_A, 1, 1, NO_QUOTA), 0);
    assert_int_equal(job_create_n(f->s, ACCOUNT_A, 1, 2, NO_QUOTA), 0);
    assert_int_equal(job_create_n(f->s, ACCOUNT_A, 2, 3, NO_QUOTA), 0);
    claim_expect(f->s, "r1", 100, 1);
    assert_int_equal(store_domain_delete(f->s, ACCOUNT_A,
                                         "D000000000000000000001", 101), 0);

    /* Neither the waiting job nor the expired one of the dead domain. */
    claim_expect(f->s, "r2", 1000, 3);
    assert_int_equal(store_job_claim(f->s, "r2", 1000, 30, &got),
                     ERR_NOTFOUND);
}


struct claimer {
    struct store *s;
    char owner[8];
    int claimed[32];
    int n;
    int errors;
};


static void *
claimer_run(void *arg)
{
    struct claimer *c = arg;
    struct store_job got;
    int rc;

    for (;;) {
        rc = store_job_claim(c->s, c->owner, 100, 600, &got);
        if (rc == ERR_NOTFOUND)
            break;
        if (rc != 0 || c->n == 32) {
            c->errors++;
            break;
        }
        c->claimed[c->n++] = atoi(got.id + 1);
        store_job_clear(&got);
        sched_yield();
    }
    return NULL;
}


/* Two handles on one file stand for two processes: their writers take
 * the file's lock, not the handle's mutex, to exclude each other. */
static void
test_job_concurrent_claims_give_each_job_to_one_runner(void **state)
{
    struct fixture *f = *state;
    struct claimer claimers[4];
    pthread_t threads[4];
    struct store *other;
    int owners[21] = { 0 };
    int total = 0;

    assert_int_equal(create_n(f->s, ACCOUNT_A, 1, NO_QUOTA), 0);
    for (int i = 1; i <= 20; i++)
        assert_int_equal(job_create_n(f->s, ACCOUNT_A, 1, i, NO_QUOTA), 0);
    assert_int_equal(store_open(f->path, &other), 0);

    for (int i = 0; i < 4; i++) {
        memset(&claimers[i], 0, sizeof(claimers[i]));
        claimers[i].s = i % 2 == 0 ? f->s : other;
        snprintf(claimers[i].owner, sizeof(claimers[i].owner), "r%d", i);
        assert_int_equal(pthread_create(&threads[i], NULL, claimer_run,
                                        &claimers[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(threads[i], NULL);
        assert_int_equal(claimers[i].errors, 0);
        for (int k = 0; k < claimers[i].n; k++) {
            assert_in_range(claimers[i].claimed[k], 1, 20);
            owners[claimers[i].claimed[k]]++;
        }
        total += claimers[i].n;
    }
    store_close(other);

    assert_int_equal(total, 20);
    for (int i = 1; i <= 20; i++)
        assert_int_equal(owners[i], 1);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM enrollment_jobs"
                             " WHERE status = 'IN_PROGRESS'"
                             " AND lease_owner IS NOT NULL"), 20);
}


/* Fails each step of a job create in turn: nothing may stay behind. */
static void
test_job_failed_create_leaves_no_job_and_no_token(void **state)
{
    struct fixture *f = *state;
    struct store_job j;
    struct store_job out;
    int rc = ERR_IO;
    int step;

    assert_int_equal(create_n(f->s, ACCOUNT_A, 1, NO_QUOTA), 0);
    job_make(&j, ACCOUNT_A, 1, 1);
    for (step = 1; step < 50 && rc != 0; step++) {
        store__fail_next(step, ERR_IO);
        memset(&out, 0, sizeof(out));
        rc = store_job_create(f->s, &j, "tok", "hash", 5, &out);
        if (rc == 0)
            break;
        assert_int_equal(rc, ERR_IO);
        assert_null(out.status);
        store__fail_next(0, 0);
        assert_int_equal(raw_int(f->path, "SELECT count(*) FROM"
                                 " enrollment_jobs"), 0);
        assert_int_equal(raw_int(f->path, "SELECT count(*) FROM"
                                 " idempotency"), 0);
        assert_true(raw_can_write(f->path));
    }
    store__fail_next(0, 0);

    /* BEGIN, token lookup, domain check, count, insert, token, read-back,
     * COMMIT: eight steps, so the ninth attempt is the first success. */
    assert_int_equal(rc, 0);
    assert_int_equal(step, 9);
    assert_job_id(&out, 1);
    store_job_clear(&out);

    /* An allocation failure while reading back loses the output only. */
    store__fail_alloc_next(1);
    memset(&out, 0, sizeof(out));
    assert_int_equal(store_job_get(f->s, ACCOUNT_A, j.domain_id, j.id, &out),
                     ERR_NOMEM);
    assert_null(out.status);
    store__fail_alloc_next(0);
}


static void
test_job_invalid_arguments_are_refused(void **state)
{
    struct fixture *f = *state;
    const char *job = "J000000000000000000001";
    struct store_job jobs[2];
    struct store_job out;
    struct store_job *items;
    size_t n;
    bool more;

    assert_int_equal(create_n(f->s, ACCOUNT_A, 1, NO_QUOTA), 0);
    job_make(&jobs[0], ACCOUNT_A, 1, 1);
    jobs[0].request_json = NULL;
    assert_int_equal(store_job_create(f->s, &jobs[0], NULL, NULL, 5, &out),
                     ERR_INVAL);
    job_make(&jobs[0], ACCOUNT_A, 1, 1);
    assert_int_equal(store_job_create(f->s, &jobs[0], "tok", NULL, 5, &out),
                     ERR_INVAL);

    /* An import names one domain. */
    jobs[0].status = "SUBMITTED";
    job_make(&jobs[1], ACCOUNT_A, 2, 2);
    jobs[1].status = "SUBMITTED";
    assert_int_equal(store_jobs_import(f->s, jobs, 2), ERR_INVAL);
    assert_int_equal(store_jobs_import(f->s, NULL, 0), 0);

    assert_int_equal(store_job_list(f->s, ACCOUNT_A,
                                    "D000000000000000000001", NULL, 0, 0,
                                    &items, &n, &more), ERR_INVAL);
    assert_int_equal(store_job_claim(f->s, "r1", 100, 0, &out), ERR_INVAL);
    assert_int_equal(store_job_heartbeat(f->s, job, "r1", 100, 30, 101),
                     ERR_INVAL);
    assert_int_equal(store_job_finish(f->s, job, "r1", "SUBMITTED", 100, 0,
                                      NULL), ERR_INVAL);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM enrollment_jobs"),
                     0);
}


#define DOM1 "D000000000000000000001"
#define DOM2 "D000000000000000000002"
#define JOB1 "J000000000000000000001"
#define VP_OLD "sealed-voiceprint-one"
#define VP_NEW "sealed-voiceprint-two"

/* Fills 'sp' with speaker n of domain 'dom' of 'account': customer id
 * "cust-n" written into 'customer' (32 bytes), generated id "id#S0..n",
 * voiceprint 'vp' at time 1700000200.5 + n. Strings are borrowed, so
 * 'sp' must not be cleared. */
static void
speaker_make(struct store_speaker *sp, char *customer, const char *account,
             int dom, int n, const char *vp)
{
    memset(sp, 0, sizeof(*sp));
    snprintf(sp->account, sizeof(sp->account), "%s", account);
    snprintf(sp->domain_id, sizeof(sp->domain_id), "D%021d", dom);
    snprintf(sp->id, sizeof(sp->id), "id#S%021d", n);
    snprintf(customer, 32, "cust-%d", n);
    sp->customer_id = customer;
    sp->voiceprint = (unsigned char *)vp;
    sp->voiceprint_len = strlen(vp);
    sp->voiceprint_version = "model-1";
    sp->created_at = 1700000200.5 + n;
    sp->updated_at = 1700000200.5 + n;
}


/* Applies request 'req' of JOB1 for 'sp' and checks the outcome; *out
 * receives the speaker (caller clears). */
static void
enroll_expect(struct store *s, const char *req,
              const struct store_speaker *sp, bool overwrite, int max,
              enum store_enroll_outcome want, struct store_speaker *out)
{
    enum store_enroll_outcome got = 0;

    assert_int_equal(store_enroll_apply(s, JOB1, req, sp, NULL, overwrite,
                                        max, &got, out), 0);
    assert_int_equal(got, want);
}


/* Enrolls speaker n of domain 1 of ACCOUNT_A as new, under request "r<n>"
 * of JOB1. */
static void
enroll_n(struct store *s, int n)
{
    struct store_speaker sp;
    struct store_speaker out;
    char customer[32];
    char req[16];

    speaker_make(&sp, customer, ACCOUNT_A, 1, n, VP_OLD);
    snprintf(req, sizeof(req), "r%d", n);
    enroll_expect(s, req, &sp, false, NO_QUOTA, STORE_ENROLL_NEW, &out);
    store_speaker_clear(&out);
}


static void
assert_voiceprint(const struct store_speaker *sp, const char *vp)
{
    if (vp == NULL) {
        assert_null(sp->voiceprint);
        assert_int_equal(sp->voiceprint_len, 0);
        return;
    }
    assert_int_equal(sp->voiceprint_len, strlen(vp));
    assert_memory_equal(sp->voiceprint, vp, strlen(vp));
}


/* A domain and a job in it, as every enrollment needs. */
static void
speaker_setup(struct fixture *f)
{
    assert_int_equal(create_n(f->s, ACCOUNT_A, 1, NO_QUOTA), 0);
    assert_int_equal(job_create_n(f->s, ACCOUNT_A, 1, 1, NO_QUOTA), 0);
}


static void
test_speaker_enroll_new_stores_every_field_and_the_request(void **state)
{
    struct fixture *f = *state;
    struct store_speaker sp;
    struct store_speaker out;
    char customer[32];

    speaker_setup(f);
    speaker_make(&sp, customer, ACCOUNT_A, 1, 1, VP_OLD);
    enroll_expect(f->s, "r1", &sp, false, NO_QUOTA, STORE_ENROLL_NEW, &out);

    assert_true(out.seq > 0);
    assert_string_equal(out.account, ACCOUNT_A);
    assert_string_equal(out.domain_id, DOM1);
    assert_string_equal(out.id, sp.id);
    assert_string_equal(out.customer_id, "cust-1");
    assert_string_equal(out.status, "ENROLLED");
    assert_true(out.created_at == sp.created_at);
    assert_true(out.updated_at == sp.updated_at);
    assert_true(out.last_accessed_at == sp.updated_at);
    assert_voiceprint(&out, VP_OLD);
    assert_string_equal(out.voiceprint_version, "model-1");
    store_speaker_clear(&out);

    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM"
                             " enrollment_requests WHERE job_id = '" JOB1
                             "' AND request_id = 'r1' AND outcome = 1"
                             " AND speaker_id = 'id#S000000000000000000001'"
                             " AND customer_id = 'cust-1'"), 1);
}


static void
test_speaker_enroll_existing_is_skipped_without_overwrite(void **state)
{
    struct fixture *f = *state;
    struct store_speaker sp;
    struct store_speaker out;
    char customer[32];

    speaker_setup(f);
    enroll_n(f->s, 1);

    /* Same customer, another voiceprint and generated id, later. */
    speaker_make(&sp, customer, ACCOUNT_A, 1, 1, VP_NEW);
    snprintf(sp.id, sizeof(sp.id), "id#S%021d", 99);
    sp.updated_at += 50;
    enroll_expect(f->s, "r2", &sp, false, NO_QUOTA, STORE_ENROLL_SKIPPED,
                  &out);
    assert_string_equal(out.id, "id#S000000000000000000001");
    assert_voiceprint(&out, VP_OLD);
    assert_true(out.updated_at == 1700000201.5);
    store_speaker_clear(&out);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM speakers"), 1);
    assert_int_equal(raw_int(f->path, "SELECT outcome FROM"
                             " enrollment_requests WHERE request_id = 'r2'"),
                     STORE_ENROLL_SKIPPED);
}


static void
test_speaker_enroll_overwrite_replaces_the_voiceprint(void **state)
{
    struct fixture *f = *state;
    struct store_speaker sp;
    struct store_speaker out;
    char customer[32];

    speaker_setup(f);
    enroll_n(f->s, 1);

    speaker_make(&sp, customer, ACCOUNT_A, 1, 1, VP_NEW);
    snprintf(sp.id, sizeof(sp.id), "id#S%021d", 99);
    sp.voiceprint_version = "model-2";
    sp.created_at += 50;
    sp.updated_at += 50;
    enroll_expect(f->s, "r2", &sp, true, NO_QUOTA, STORE_ENROLL_OVERWRITE,
                  &out);
    /* The speaker keeps its ids and creation time. */
    assert_string_equal(out.id, "id#S000000000000000000001");
    assert_string_equal(out.customer_id, "cust-1");
    assert_string_equal(out.status, "ENROLLED");
    assert_true(out.created_at == 1700000201.5);
    assert_true(out.updated_at == 1700000251.5);
    assert_true(out.last_accessed_at == 1700000251.5);
    assert_voiceprint(&out, VP_NEW);
    assert_string_equal(out.voiceprint_version, "model-2");
    store_speaker_clear(&out);

    assert_int_equal(store_speaker_get(f->s, ACCOUNT_A, DOM1, "cust-1",
                                       &out), 0);
    assert_voiceprint(&out, VP_NEW);
    store_speaker_clear(&out);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM speakers"), 1);
}


static void
test_speaker_enroll_of_opted_out_speaker_is_refused(void **state)
{
    struct fixture *f = *state;
    struct store_speaker sp;
    struct store_speaker out;
    char customer[32];

    speaker_setup(f);
    assert_int_equal(store_speaker_opt_out(f->s, ACCOUNT_A, DOM1, "cust-1",
                                           "id#S000000000000000000007",
                                           NO_QUOTA, 1700000300, &out), 0);
    store_speaker_clear(&out);

    speaker_make(&sp, customer, ACCOUNT_A, 1, 1, VP_NEW);
    enroll_expect(f->s, "r1", &sp, true, NO_QUOTA, STORE_ENROLL_OPTED_OUT,
                  &out);
    assert_string_equal(out.id, "id#S000000000000000000007");
    assert_string_equal(out.status, "OPTED_OUT");
    assert_voiceprint(&out, NULL);
    assert_true(out.updated_at == 1700000300);
    store_speaker_clear(&out);

    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM speakers"
                             " WHERE voiceprint IS NULL"
                             " AND status = 'OPTED_OUT'"), 1);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM speakers"), 1);
    assert_int_equal(raw_int(f->path, "SELECT outcome FROM"
                             " enrollment_requests WHERE request_id = 'r1'"),
                     STORE_ENROLL_OPTED_OUT);
}


/* Opted-out speakers count against the quota, as in Voice ID. */
static void
test_speaker_enroll_over_quota_stores_nothing(void **state)
{
    struct fixture *f = *state;
    struct store_speaker sp;
    struct store_speaker out;
    char customer[32];

    speaker_setup(f);
    enroll_n(f->s, 1);
    assert_int_equal(store_speaker_opt_out(f->s, ACCOUNT_A, DOM1, "cust-2",
                                           "id#S000000000000000000002", 2,
                                           1700000300, &out), 0);
    store_speaker_clear(&out);

    speaker_make(&sp, customer, ACCOUNT_A, 1, 3, VP_OLD);
    enroll_expect(f->s, "r3", &sp, true, 2, STORE_ENROLL_QUOTA, &out);
    assert_string_equal(out.id, "");
    assert_string_equal(out.customer_id, "cust-3");
    assert_string_equal(out.domain_id, DOM1);
    assert_null(out.status);
    assert_voiceprint(&out, NULL);
    store_speaker_clear(&out);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM speakers"), 2);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM"
                             " enrollment_requests WHERE request_id = 'r3'"
                             " AND outcome = 5 AND speaker_id IS NULL"), 1);

    /* An existing speaker is still overwritten at the limit. */
    speaker_make(&sp, customer, ACCOUNT_A, 1, 1, VP_NEW);
    enroll_expect(f->s, "r4", &sp, true, 2, STORE_ENROLL_OVERWRITE, &out);
    store_speaker_clear(&out);
}


static void
test_speaker_enroll_replay_returns_the_recorded_outcome(void **state)
{
    struct fixture *f = *state;
    struct store_speaker sp;
    struct store_speaker out;
    char customer[32];

    speaker_setup(f);
    enroll_n(f->s, 1);

    /* A replay of r1 with other data changes nothing. */
    speaker_make(&sp, customer, ACCOUNT_A, 1, 1, VP_NEW);
    snprintf(sp.id, sizeof(sp.id), "id#S%021d", 99);
    sp.updated_at += 50;
    enroll_expect(f->s, "r1", &sp, true, NO_QUOTA, STORE_ENROLL_NEW, &out);
    assert_string_equal(out.id, "id#S000000000000000000001");
    assert_voiceprint(&out, VP_OLD);
    assert_true(out.updated_at == 1700000201.5);
    store_speaker_clear(&out);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM speakers"), 1);

    /* An overwrite applied twice overwrites once. */
    enroll_expect(f->s, "r2", &sp, true, NO_QUOTA, STORE_ENROLL_OVERWRITE,
                  &out);
    store_speaker_clear(&out);
    sp.updated_at += 50;
    sp.voiceprint = (unsigned char *)"third";
    sp.voiceprint_len = 5;
    enroll_expect(f->s, "r2", &sp, true, NO_QUOTA, STORE_ENROLL_OVERWRITE,
                  &out);
    assert_voiceprint(&out, VP_NEW);
    assert_true(out.updated_at == 1700000251.5);
    store_speaker_clear(&out);

    /* A refusal for quota stays a refusal when the quota grows. */
    speaker_make(&sp, customer, ACCOUNT_A, 1, 2, VP_OLD);
    enroll_expect(f->s, "r3", &sp, false, 1, STORE_ENROLL_QUOTA, &out);
    store_speaker_clear(&out);
    enroll_expect(f->s, "r3", &sp, false, NO_QUOTA, STORE_ENROLL_QUOTA,
                  &out);
    assert_string_equal(out.id, "");
    assert_string_equal(out.customer_id, "cust-2");
    store_speaker_clear(&out);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM speakers"), 1);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM"
                             " enrollment_requests"), 3);

    /* The speaker of a recorded request may be gone since. */
    assert_int_equal(store_speaker_delete(f->s, ACCOUNT_A, DOM1, "cust-1"),
                     0);
    speaker_make(&sp, customer, ACCOUNT_A, 1, 1, VP_OLD);
    enroll_expect(f->s, "r1", &sp, false, NO_QUOTA, STORE_ENROLL_NEW, &out);
    assert_string_equal(out.id, "");
    assert_string_equal(out.customer_id, "cust-1");
    assert_null(out.status);
    store_speaker_clear(&out);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM speakers"), 0);
}


static void
test_speaker_enroll_needs_the_job_in_the_domain(void **state)
{
    struct fixture *f = *state;
    struct store_speaker sp;
    struct store_speaker out;
    enum store_enroll_outcome got = 0;
    char customer[32];

    speaker_setup(f);
    assert_int_equal(create_n(f->s, ACCOUNT_A, 2, NO_QUOTA), 0);
    speaker_make(&sp, customer, ACCOUNT_A, 1, 1, VP_OLD);
    memset(&out, 0, sizeof(out));
    assert_int_equal(store_enroll_apply(f->s, "J000000000000000000009", "r1",
                                        &sp, NULL, false, NO_QUOTA, &got,
                                        &out), ERR_NOTFOUND);
    /* JOB1 belongs to domain 1, not 2. */
    speaker_make(&sp, customer, ACCOUNT_A, 2, 1, VP_OLD);
    assert_int_equal(store_enroll_apply(f->s, JOB1, "r1", &sp, NULL, false,
                                        NO_QUOTA, &got, &out),
                     ERR_NOTFOUND);
    assert_int_equal(got, 0);
    assert_null(out.customer_id);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM speakers"), 0);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM"
                             " enrollment_requests"), 0);
}


static void
test_speaker_get_by_customer_id_and_by_generated_id(void **state)
{
    struct fixture *f = *state;
    struct store_speaker a;
    struct store_speaker b;

    speaker_setup(f);
    enroll_n(f->s, 1);
    enroll_n(f->s, 2);

    assert_int_equal(store_speaker_get(f->s, ACCOUNT_A, DOM1, "cust-2", &a),
                     0);
    assert_int_equal(store_speaker_get(f->s, ACCOUNT_A, DOM1,
                                       "id#S000000000000000000002", &b), 0);
    assert_string_equal(a.id, "id#S000000000000000000002");
    assert_string_equal(b.customer_id, "cust-2");
    assert_true(a.seq == b.seq);
    assert_voiceprint(&b, VP_OLD);
    store_speaker_clear(&a);
    store_speaker_clear(&b);

    memset(&a, 0, sizeof(a));
    assert_int_equal(store_speaker_get(f->s, ACCOUNT_A, DOM1, "cust-3", &a),
                     ERR_NOTFOUND);
    assert_int_equal(store_speaker_get(f->s, ACCOUNT_A, DOM1,
                                       "id#S000000000000000000003", &a),
                     ERR_NOTFOUND);
    /* A customer id is not a generated id, nor the other way round. */
    assert_int_equal(store_speaker_get(f->s, ACCOUNT_A, DOM1,
                                       "S000000000000000000002", &a),
                     ERR_NOTFOUND);
    assert_int_equal(store_speaker_get(f->s, ACCOUNT_A, DOM1, "id#cust-2",
                                       &a), ERR_NOTFOUND);
    assert_null(a.customer_id);
}


static void
test_speaker_list_pages_in_creation_order(void **state)
{
    struct fixture *f = *state;
    struct store_speaker sp;
    struct store_speaker out;
    struct store_speaker *items;
    char customer[32];
    char want[32];
    int64_t after = 0;
    size_t n;
    size_t n_seen = 0;
    bool more = true;
    int pages = 0;

    speaker_setup(f);
    assert_int_equal(create_n(f->s, ACCOUNT_A, 2, NO_QUOTA), 0);
    assert_int_equal(job_create_n(f->s, ACCOUNT_A, 2, 2, NO_QUOTA), 0);
    for (int i = 1; i <= 7; i++) {
        enroll_n(f->s, i);
        /* Interleaved speakers of another domain must not show. */
        speaker_make(&sp, customer, ACCOUNT_A, 2, 50 + i, VP_OLD);
        assert_int_equal(store_enroll_apply(f->s, "J000000000000000000002",
                                            customer, &sp, NULL, false,
                                            NO_QUOTA,
                                            &(enum store_enroll_outcome){0},
                                            &out), 0);
        store_speaker_clear(&out);
    }

    while (more) {
        assert_int_equal(store_speaker_list(f->s, ACCOUNT_A, DOM1, after, 3,
                                            &items, &n, &more), 0);
        pages++;
        assert_int_equal(n, pages < 3 ? 3 : 1);
        assert_int_equal(more, pages < 3);
        for (size_t i = 0; i < n; i++) {
            n_seen++;
            snprintf(want, sizeof(want), "cust-%zu", n_seen);
            assert_string_equal(items[i].customer_id, want);
            assert_string_equal(items[i].domain_id, DOM1);
            assert_true(items[i].seq > after);
            after = items[i].seq;
        }
        store_speakers_free(items, n);
    }
    assert_int_equal(n_seen, 7);

    /* A page of exactly the rest says no more; past the end is empty. */
    assert_int_equal(store_speaker_list(f->s, ACCOUNT_A, DOM1, 0, 7, &items,
                                        &n, &more), 0);
    assert_int_equal(n, 7);
    assert_false(more);
    store_speakers_free(items, n);
    assert_int_equal(store_speaker_list(f->s, ACCOUNT_A, DOM1, after, 3,
                                        &items, &n, &more), 0);
    assert_int_equal(n, 0);
    assert_false(more);
    store_speakers_free(items, n);
}


static void
test_speaker_delete_then_get_is_not_found(void **state)
{
    struct fixture *f = *state;
    struct store_speaker got;

    speaker_setup(f);
    enroll_n(f->s, 1);
    enroll_n(f->s, 2);

    assert_int_equal(store_speaker_delete(f->s, ACCOUNT_A, DOM1, "cust-1"),
                     0);
    assert_int_equal(store_speaker_delete(f->s, ACCOUNT_A, DOM1,
                                          "id#S000000000000000000002"), 0);
    memset(&got, 0, sizeof(got));
    assert_int_equal(store_speaker_get(f->s, ACCOUNT_A, DOM1, "cust-1",
                                       &got), ERR_NOTFOUND);
    assert_int_equal(store_speaker_get(f->s, ACCOUNT_A, DOM1, "cust-2",
                                       &got), ERR_NOTFOUND);
    assert_null(got.customer_id);
    assert_int_equal(store_speaker_delete(f->s, ACCOUNT_A, DOM1, "cust-1"),
                     ERR_NOTFOUND);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM speakers"), 0);
}


static void
test_speaker_opt_out_of_unknown_creates_it_opted_out(void **state)
{
    struct fixture *f = *state;
    struct store_speaker out;

    speaker_setup(f);
    assert_int_equal(store_speaker_opt_out(f->s, ACCOUNT_A, DOM1, "cust-1",
                                           "id#S000000000000000000001",
                                           NO_QUOTA, 1700000300.5, &out), 0);
    assert_string_equal(out.id, "id#S000000000000000000001");
    assert_string_equal(out.customer_id, "cust-1");
    assert_string_equal(out.account, ACCOUNT_A);
    assert_string_equal(out.domain_id, DOM1);
    assert_string_equal(out.status, "OPTED_OUT");
    assert_true(out.created_at == 1700000300.5);
    assert_true(out.updated_at == 1700000300.5);
    assert_true(out.last_accessed_at == 0);
    assert_voiceprint(&out, NULL);
    assert_null(out.voiceprint_version);
    store_speaker_clear(&out);

    /* Only a customer id can name a speaker not stored yet. */
    memset(&out, 0, sizeof(out));
    assert_int_equal(store_speaker_opt_out(f->s, ACCOUNT_A, DOM1,
                                           "id#S000000000000000000009",
                                           "id#S000000000000000000002",
                                           NO_QUOTA, 1700000301, &out),
                     ERR_NOTFOUND);
    /* A full domain takes no new speaker, opted out or not. */
    assert_int_equal(store_speaker_opt_out(f->s, ACCOUNT_A, DOM1, "cust-2",
                                           "id#S000000000000000000002", 1,
                                           1700000301, &out), ERR_QUOTA);
    assert_null(out.status);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM speakers"), 1);

    /* Opting out again is fine at the limit and keeps the speaker. */
    assert_int_equal(store_speaker_opt_out(f->s, ACCOUNT_A, DOM1, "cust-1",
                                           "id#S000000000000000000003", 1,
                                           1700000302, &out), 0);
    assert_string_equal(out.id, "id#S000000000000000000001");
    assert_true(out.created_at == 1700000300.5);
    assert_true(out.updated_at == 1700000302);
    store_speaker_clear(&out);
}


static void
test_speaker_opt_out_of_enrolled_drops_the_voiceprint(void **state)
{
    struct fixture *f = *state;
    struct store_speaker out;

    speaker_setup(f);
    enroll_n(f->s, 1);
    assert_int_equal(store_speaker_opt_out(f->s, ACCOUNT_A, DOM1,
                                           "id#S000000000000000000001",
                                           "id#S000000000000000000009",
                                           NO_QUOTA, 1700000400, &out), 0);
    assert_string_equal(out.id, "id#S000000000000000000001");
    assert_string_equal(out.customer_id, "cust-1");
    assert_string_equal(out.status, "OPTED_OUT");
    assert_voiceprint(&out, NULL);
    assert_null(out.voiceprint_version);
    assert_true(out.created_at == 1700000201.5);
    assert_true(out.updated_at == 1700000400);
    store_speaker_clear(&out);

    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM speakers"
                             " WHERE voiceprint IS NULL"
                             " AND voiceprint_version IS NULL"), 1);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM speakers"), 1);
}


/* Every speaker call, expecting 'want' for domain 'dom' as 'account'. */
static void
speaker_calls_expect(struct fixture *f, const char *account, int dom,
                     int want)
{
    struct store_speaker sp;
    struct store_speaker out;
    struct store_speaker *items = NULL;
    enum store_enroll_outcome got = 0;
    char domain_id[STORE_ID_LEN + 1];
    char customer[32];
    size_t n = 99;
    bool more;

    snprintf(domain_id, sizeof(domain_id), "D%021d", dom);
    memset(&out, 0, sizeof(out));
    assert_int_equal(store_speaker_get(f->s, account, domain_id, "cust-1",
                                       &out), want);
    assert_int_equal(store_speaker_get(f->s, account, domain_id,
                                       "id#S000000000000000000001", &out),
                     want);
    assert_int_equal(store_speaker_list(f->s, account, domain_id, 0, 10,
                                        &items, &n, &more), want);
    assert_int_equal(store_speaker_delete(f->s, account, domain_id,
                                          "cust-1"), want);
    assert_int_equal(store_speaker_opt_out(f->s, account, domain_id,
                                           "cust-1",
                                           "id#S000000000000000000008",
                                           NO_QUOTA, 1700000500, &out),
                     want);
    assert_int_equal(store_speaker_opt_out(f->s, account, domain_id,
                                           "cust-8",
                                           "id#S000000000000000000008",
                                           NO_QUOTA, 1700000500, &out),
                     want);
    speaker_make(&sp, customer, account, dom, 1, VP_NEW);
    assert_int_equal(store_enroll_apply(f->s, JOB1, "r1", &sp, NULL, true,
                                        NO_QUOTA, &got, &out), want);
    assert_int_equal(store_enroll_apply(f->s, JOB1, "r9", &sp, NULL, true,
                                        NO_QUOTA, &got, &out), want);
    assert_null(out.customer_id);
    assert_null(items);
    assert_int_equal(n, 99);
    assert_int_equal(got, 0);
}


static void
test_speaker_calls_on_missing_or_deleted_domain_are_not_found(void **state)
{
    struct fixture *f = *state;

    speaker_setup(f);
    enroll_n(f->s, 1);
    speaker_calls_expect(f, ACCOUNT_A, 5, ERR_NOTFOUND);
    assert_int_equal(store_domain_delete(f->s, ACCOUNT_A, DOM1, 1700000600),
                     0);
    speaker_calls_expect(f, ACCOUNT_A, 1, ERR_NOTFOUND);
    /* The rows stay until the retention sweep. */
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM speakers"
                             " WHERE voiceprint IS NOT NULL"), 1);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM"
                             " enrollment_requests"), 1);
}


static void
test_speaker_of_other_account_is_invisible(void **state)
{
    struct fixture *f = *state;
    struct store_speaker got;

    speaker_setup(f);
    enroll_n(f->s, 1);
    speaker_calls_expect(f, ACCOUNT_B, 1, ERR_NOTFOUND);

    assert_int_equal(store_speaker_get(f->s, ACCOUNT_A, DOM1, "cust-1",
                                       &got), 0);
    assert_string_equal(got.status, "ENROLLED");
    assert_voiceprint(&got, VP_OLD);
    store_speaker_clear(&got);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM speakers"), 1);
}


static void
test_speaker_purge_of_domain_erases_its_speakers(void **state)
{
    struct fixture *f = *state;
    size_t n_erased;

    speaker_setup(f);
    assert_int_equal(create_n(f->s, ACCOUNT_A, 2, NO_QUOTA), 0);
    enroll_n(f->s, 1);
    enroll_n(f->s, 2);
    assert_int_equal(store_domain_delete(f->s, ACCOUNT_A, DOM1, 1700000600),
                     0);
    assert_int_equal(store_domain_purge(f->s, 1700000700, 10, &n_erased), 0);
    assert_int_equal(n_erased, 1);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM speakers"), 0);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM"
                             " enrollment_requests"), 0);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM domains"), 1);
}


static void
assert_no_enrollment(const char *path)
{
    assert_int_equal(raw_int(path, "SELECT count(*) FROM speakers"), 0);
    assert_int_equal(raw_int(path, "SELECT count(*) FROM"
                             " enrollment_requests"), 0);
    assert_true(raw_can_write(path));
}


/* Fails each step, then each allocation, of a new enrollment in turn:
 * nothing may stay behind, and the outputs stay untouched. */
static void
test_speaker_failed_enroll_leaves_no_speaker_and_no_request(void **state)
{
    struct fixture *f = *state;
    struct store_speaker sp;
    struct store_speaker out;
    enum store_enroll_outcome got;
    char customer[32];
    int rc = ERR_IO;
    int step;

    speaker_setup(f);
    speaker_make(&sp, customer, ACCOUNT_A, 1, 1, VP_OLD);
    for (step = 1; step < 50 && rc != 0; step++) {
        store__fail_next(step, ERR_IO);
        memset(&out, 0, sizeof(out));
        got = 0;
        rc = store_enroll_apply(f->s, JOB1, "r1", &sp, NULL, false,
                                NO_QUOTA, &got, &out);
        if (rc == 0)
            break;
        assert_int_equal(rc, ERR_IO);
        assert_null(out.customer_id);
        assert_int_equal(got, 0);
        store__fail_next(0, 0);
        assert_no_enrollment(f->path);
    }
    store__fail_next(0, 0);

    /* BEGIN, job check, request lookup, speaker lookup, count, insert,
     * read-back, request record, COMMIT: nine steps. */
    assert_int_equal(rc, 0);
    assert_int_equal(step, 10);
    assert_int_equal(got, STORE_ENROLL_NEW);
    store_speaker_clear(&out);
    assert_int_equal(store_speaker_delete(f->s, ACCOUNT_A, DOM1, "cust-1"),
                     0);
    raw_exec(f->path, "DELETE FROM enrollment_requests");

    rc = ERR_NOMEM;
    for (step = 1; step < 50 && rc != 0; step++) {
        store__fail_alloc_next(step);
        memset(&out, 0, sizeof(out));
        rc = store_enroll_apply(f->s, JOB1, "r1", &sp, NULL, false,
                                NO_QUOTA, &got, &out);
        if (rc == 0)
            break;
        assert_int_equal(rc, ERR_NOMEM);
        assert_null(out.customer_id);
        store__fail_alloc_next(0);
        assert_no_enrollment(f->path);
    }
    store__fail_alloc_next(0);
    /* customer id, status, voiceprint, version of the read-back. */
    assert_int_equal(rc, 0);
    assert_int_equal(step, 5);
    store_speaker_clear(&out);
}


/* The step after the overwrite fails: the old voiceprint stays. */
static void
test_speaker_failed_overwrite_keeps_the_old_voiceprint(void **state)
{
    struct fixture *f = *state;
    struct store_speaker sp;
    struct store_speaker out;
    enum store_enroll_outcome got = 0;
    char customer[32];

    speaker_setup(f);
    enroll_n(f->s, 1);
    speaker_make(&sp, customer, ACCOUNT_A, 1, 1, VP_NEW);
    sp.updated_at += 50;

    /* BEGIN, job, request, speaker lookup, update, read-back, record. */
    store__fail_next(7, ERR_IO);
    memset(&out, 0, sizeof(out));
    assert_int_equal(store_enroll_apply(f->s, JOB1, "r2", &sp, NULL, true,
                                        NO_QUOTA, &got, &out), ERR_IO);
    assert_null(out.customer_id);
    assert_int_equal(store_speaker_get(f->s, ACCOUNT_A, DOM1, "cust-1",
                                       &out), 0);
    assert_voiceprint(&out, VP_OLD);
    assert_true(out.updated_at == 1700000201.5);
    store_speaker_clear(&out);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM"
                             " enrollment_requests"), 1);
}


/* A stand-in for re-sealing: the new blob is "<new key>:<old blob>", and
 * the call numbered 'fail_at' (from 1) fails instead. */
struct reseal_log {
    int calls;
    int fail_at;
    char old_key[32];
};


static int
reseal_mark(void *arg, const struct store_speaker *sp, const char *old_key,
            const char *new_key, unsigned char **sealed, size_t *sealed_len)
{
    struct reseal_log *log = arg;
    size_t key_len = strlen(new_key);

    log->calls++;
    snprintf(log->old_key, sizeof(log->old_key), "%s", old_key);
    if (log->calls == log->fail_at)
        return ERR_CRYPTO;
    *sealed = malloc(key_len + 1 + sp->voiceprint_len);
    assert_non_null(*sealed);
    memcpy(*sealed, new_key, key_len);
    (*sealed)[key_len] = ':';
    memcpy(*sealed + key_len + 1, sp->voiceprint, sp->voiceprint_len);
    *sealed_len = key_len + 1 + sp->voiceprint_len;
    return 0;
}


/* Enrolls 'n' speakers (more than one batch of the re-sealing) and opts
 * one more out, so that it has no voiceprint to re-seal. */
static void
reseal_setup(struct fixture *f, int n)
{
    struct store_speaker out;

    speaker_setup(f);
    for (int i = 1; i <= n; i++)
        enroll_n(f->s, i);
    memset(&out, 0, sizeof(out));
    assert_int_equal(store_speaker_opt_out(f->s, ACCOUNT_A, DOM1, "cust-x",
                                           "id#S000000000000000009999",
                                           NO_QUOTA, 1700000500, &out), 0);
    store_speaker_clear(&out);
}


static void
assert_speaker_voiceprint(struct fixture *f, int n, const char *vp)
{
    struct store_speaker out;
    char customer[32];

    memset(&out, 0, sizeof(out));
    snprintf(customer, sizeof(customer), "cust-%d", n);
    assert_int_equal(store_speaker_get(f->s, ACCOUNT_A, DOM1, customer,
                                       &out), 0);
    assert_voiceprint(&out, vp);
    store_speaker_clear(&out);
}


static void
test_key_change_reseals_every_voiceprint(void **state)
{
    struct fixture *f = *state;
    struct reseal_log log = { 0, 0, "" };
    struct store_domain d;
    struct store_domain got;
    size_t n_resealed = 0;
    const int n = 300;

    reseal_setup(f, n);
    domain_make(&d, ACCOUNT_A, 1);
    d.kms_key_id = "key-two";
    assert_int_equal(store_domain_update(f->s, &d, reseal_mark, &log,
                                         &n_resealed), 0);

    assert_int_equal(n_resealed, n);
    assert_int_equal(log.calls, n);
    assert_string_equal(log.old_key, "key-one");
    for (int i = 1; i <= n; i++)
        assert_speaker_voiceprint(f, i, "key-two:" VP_OLD);
    assert_int_equal(store_domain_get(f->s, ACCOUNT_A, d.id, &got), 0);
    assert_string_equal(got.kms_key_id, "key-two");
    store_domain_clear(&got);

    /* The same key again re-seals nothing. */
    d.name = "renamed";
    assert_int_equal(store_domain_update(f->s, &d, reseal_mark, &log,
                                         &n_resealed), 0);
    assert_int_equal(n_resealed, 0);
    assert_int_equal(log.calls, n);
}


static void
test_failed_reseal_changes_neither_key_nor_voiceprints(void **state)
{
    struct fixture *f = *state;
    struct reseal_log log = { 0, 260, "" };
    struct store_domain d;
    struct store_domain got;
    size_t n_resealed = 7;
    const int n = 300;

    reseal_setup(f, n);
    domain_make(&d, ACCOUNT_A, 1);
    d.name = "renamed";
    d.kms_key_id = "key-two";
    assert_int_equal(store_domain_update(f->s, &d, reseal_mark, &log,
                                         &n_resealed), ERR_CRYPTO);
    assert_int_equal(n_resealed, 0);

    assert_int_equal(store_domain_get(f->s, ACCOUNT_A, d.id, &got), 0);
    assert_string_equal(got.kms_key_id, "key-one");
    assert_string_equal(got.name, "support-line");
    store_domain_clear(&got);
    for (int i = 1; i <= n; i++)
        assert_speaker_voiceprint(f, i, VP_OLD);

    /* Voiceprints but no way to re-seal them: refused, nothing changed. */
    assert_int_equal(store_domain_update(f->s, &d, NULL, NULL, NULL),
                     ERR_INVAL);
    assert_speaker_voiceprint(f, 1, VP_OLD);
}


static void
test_enroll_sealed_under_a_replaced_key_is_refused(void **state)
{
    struct fixture *f = *state;
    struct reseal_log log = { 0, 0, "" };
    struct store_speaker sp;
    struct store_speaker out;
    struct store_domain d;
    enum store_enroll_outcome got = 0;
    char customer[32];

    reseal_setup(f, 1);
    speaker_make(&sp, customer, ACCOUNT_A, 1, 2, VP_NEW);
    memset(&out, 0, sizeof(out));
    assert_int_equal(store_enroll_apply(f->s, JOB1, "r2", &sp, "key-one",
                                        false, NO_QUOTA, &got, &out), 0);
    assert_int_equal(got, STORE_ENROLL_NEW);
    store_speaker_clear(&out);

    domain_make(&d, ACCOUNT_A, 1);
    d.kms_key_id = "key-two";
    assert_int_equal(store_domain_update(f->s, &d, reseal_mark, &log,
                                         NULL), 0);

    /* Sealed under the old key while the key changed: nothing stored,
     * and the request is not recorded, so the retry under the new key
     * goes through. */
    speaker_make(&sp, customer, ACCOUNT_A, 1, 3, VP_NEW);
    got = 0;
    assert_int_equal(store_enroll_apply(f->s, JOB1, "r3", &sp, "key-one",
                                        false, NO_QUOTA, &got, &out),
                     ERR_MISMATCH);
    assert_int_equal(got, 0);
    assert_null(out.customer_id);
    assert_int_equal(store_speaker_get(f->s, ACCOUNT_A, DOM1, "cust-3",
                                       &out), ERR_NOTFOUND);
    assert_int_equal(store_enroll_apply(f->s, JOB1, "r3", &sp, "key-two",
                                        false, NO_QUOTA, &got, &out), 0);
    assert_int_equal(got, STORE_ENROLL_NEW);
    store_speaker_clear(&out);
}


static void
test_speaker_invalid_arguments_are_refused(void **state)
{
    struct fixture *f = *state;
    struct store_speaker sp;
    struct store_speaker out;
    struct store_speaker *items;
    enum store_enroll_outcome got;
    char customer[32];
    size_t n;
    bool more;

    speaker_setup(f);
    assert_int_equal(store_speaker_get(f->s, "12345", DOM1, "cust-1", &out),
                     ERR_INVAL);
    assert_int_equal(store_speaker_get(f->s, ACCOUNT_A, DOM1, NULL, &out),
                     ERR_INVAL);
    assert_int_equal(store_speaker_list(f->s, ACCOUNT_A, DOM1, 0, 0, &items,
                                        &n, &more), ERR_INVAL);
    assert_int_equal(store_speaker_list(f->s, ACCOUNT_A, DOM1, -1, 5,
                                        &items, &n, &more), ERR_INVAL);
    assert_int_equal(store_speaker_delete(f->s, ACCOUNT_A, NULL, "cust-1"),
                     ERR_INVAL);
    assert_int_equal(store_speaker_opt_out(f->s, ACCOUNT_A, DOM1, "cust-1",
                                           "S000000000000000000001",
                                           NO_QUOTA, 1, &out), ERR_INVAL);
    assert_int_equal(store_speaker_opt_out(f->s, ACCOUNT_A, DOM1, "cust-1",
                                           "id#S0000000000000000000000001",
                                           NO_QUOTA, 1, &out), ERR_INVAL);

    speaker_make(&sp, customer, ACCOUNT_A, 1, 1, VP_OLD);
    sp.voiceprint = NULL;
    assert_int_equal(store_enroll_apply(f->s, JOB1, "r1", &sp, NULL, false,
                                        NO_QUOTA, &got, &out), ERR_INVAL);
    speaker_make(&sp, customer, ACCOUNT_A, 1, 1, VP_OLD);
    sp.customer_id = "id#cust";
    assert_int_equal(store_enroll_apply(f->s, JOB1, "r1", &sp, NULL, false,
                                        NO_QUOTA, &got, &out), ERR_INVAL);
    speaker_make(&sp, customer, ACCOUNT_A, 1, 1, VP_OLD);
    sp.id[0] = 'X';
    assert_int_equal(store_enroll_apply(f->s, JOB1, "r1", &sp, NULL, false,
                                        NO_QUOTA, &got, &out), ERR_INVAL);
    speaker_make(&sp, customer, ACCOUNT_A, 1, 1, VP_OLD);
    assert_int_equal(store_enroll_apply(f->s, JOB1, NULL, &sp, NULL, false,
                                        NO_QUOTA, &got, &out), ERR_INVAL);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM speakers"), 0);
}


#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int
main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_open_creates_schema_at_latest_version),
        T(test_reopen_is_idempotent_and_keeps_data),
        T(test_open_accepts_sqlite_url_and_plain_path),
        T(test_relative_path_survives_chdir),
        T(test_open_refuses_unknown_schemes_and_empty_paths),
        T(test_open_fails_in_missing_directory),
        T(test_open_refuses_newer_schema),
        T(test_domain_round_trips_every_field),
        T(test_absent_description_stays_null),
        T(test_update_replaces_fields_and_null_removes_description),
        T(test_deleted_domain_is_not_found_everywhere),
        T(test_purge_erases_only_domains_deleted_before_the_cutoff),
        T(test_missing_domain_is_not_found),
        T(test_other_account_sees_nothing),
        T(test_quota_counts_live_domains_of_the_account),
        T(test_create_stores_default_watchlist_and_tags),
        T(test_duplicate_domain_id_is_exists_and_adds_nothing),
        T(test_same_token_and_hash_returns_first_domain),
        T(test_same_token_with_other_hash_is_mismatch),
        T(test_old_tokens_are_forgotten),
        T(test_client_token_is_scoped_to_the_account),
        T(test_replay_of_deleted_domain_is_not_found),
        T(test_tags_put_replace_remove_and_list_sorted),
        T(test_tags_over_quota_leave_tags_unchanged),
        T(test_list_pages_without_skips_or_repeats_during_inserts),
        T(test_list_rejects_a_limit_below_one),
        T(test_settings_put_get_and_replace),
        T(test_invalid_arguments_are_refused),
        T(test_failed_create_leaves_nothing_behind),
        T(test_failed_tags_put_changes_nothing),
        T(test_busy_step_is_retried),
        T(test_allocation_failure_leaves_outputs_untouched),
        T(test_concurrent_creates_respect_the_quota),
        T(test_readers_run_alongside_the_writer),
        T(test_create_waits_for_another_writer),
        T(test_job_round_trips_every_field),
        T(test_job_same_token_returns_first_job_and_other_hash_mismatches),
        T(test_job_quota_counts_active_jobs_of_the_domain),
        T(test_job_calls_on_missing_or_deleted_domain_are_not_found),
        T(test_job_of_other_account_or_domain_is_not_found),
        T(test_job_list_pages_newest_first_without_skips_or_repeats),
        T(test_job_list_filters_by_status),
        T(test_job_import_then_deep_page_returns_right_seqs),
        T(test_job_import_is_all_or_nothing),
        T(test_job_claim_takes_the_oldest_submitted),
        T(test_job_heartbeat_needs_the_owner),
        T(test_job_expired_lease_is_reclaimed_and_first_owner_loses_it),
        T(test_job_imported_in_progress_job_is_claimable),
        T(test_job_finish_records_the_outcome),
        T(test_job_of_deleted_domain_is_not_claimed),
        T(test_job_concurrent_claims_give_each_job_to_one_runner),
        T(test_job_failed_create_leaves_no_job_and_no_token),
        T(test_job_invalid_arguments_are_refused),
        T(test_speaker_enroll_new_stores_every_field_and_the_request),
        T(test_speaker_enroll_existing_is_skipped_without_overwrite),
        T(test_speaker_enroll_overwrite_replaces_the_voiceprint),
        T(test_speaker_enroll_of_opted_out_speaker_is_refused),
        T(test_speaker_enroll_over_quota_stores_nothing),
        T(test_speaker_enroll_replay_returns_the_recorded_outcome),
        T(test_speaker_enroll_needs_the_job_in_the_domain),
        T(test_speaker_get_by_customer_id_and_by_generated_id),
        T(test_speaker_list_pages_in_creation_order),
        T(test_speaker_delete_then_get_is_not_found),
        T(test_speaker_opt_out_of_unknown_creates_it_opted_out),
        T(test_speaker_opt_out_of_enrolled_drops_the_voiceprint),
        T(test_speaker_calls_on_missing_or_deleted_domain_are_not_found),
        T(test_speaker_of_other_account_is_invisible),
        T(test_speaker_purge_of_domain_erases_its_speakers),
        T(test_speaker_failed_enroll_leaves_no_speaker_and_no_request),
        T(test_speaker_failed_overwrite_keeps_the_old_voiceprint),
        T(test_speaker_invalid_arguments_are_refused),
        T(test_key_change_reseals_every_voiceprint),
        T(test_failed_reseal_changes_neither_key_nor_voiceprints),
        T(test_enroll_sealed_under_a_replaced_key_is_refused),
    };

    /* Migrations and retries log at info and warn; keep the run quiet. */
    log_set_level(LOG_ERROR);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
