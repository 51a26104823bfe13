/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The SQLite backend of the storage interface.
 *
 * Connections. The database runs in WAL mode, where readers work on a
 * snapshot and never wait for the writer, while writers exclude each
 * other. The handle therefore keeps
 *
 *   - one writer connection, guarded by a mutex; every change runs on it
 *     inside BEGIN IMMEDIATE ... COMMIT, so the write lock is taken before
 *     the first read of the transaction and checks such as the domain quota
 *     see the same data the insert lands on;
 *   - a pool of up to READERS_MAX reader connections, opened on demand and
 *     marked query_only; a thread borrows one for a call and returns it.
 *     A thread that finds all of them busy waits for one.
 *
 * Each connection is used by one thread at a time, so SQLite's own mutexes
 * are switched off (SQLITE_OPEN_NOMUTEX). Prepared statements are cached
 * per connection in an array indexed by enum stmt_id; every statement is
 * reset before its connection goes back to the pool, so no reader keeps an
 * old snapshot (which would hide new rows and stall WAL checkpoints).
 *
 * Busy handling. Every connection has a busy timeout of BUSY_TIMEOUT_MS,
 * which covers other processes holding the write lock. If SQLite still
 * reports SQLITE_BUSY or SQLITE_LOCKED, the whole transaction is rolled
 * back and run again, up to BUSY_ATTEMPTS times, before ERR_BUSY is
 * returned. Transaction bodies are written so that running them again is
 * safe: they release what an earlier attempt left in their result first.
 *
 * Schema. 'migrations' is the ordered list of schema steps; PRAGMA
 * user_version holds how many have run. Each step runs in its own
 * BEGIN IMMEDIATE transaction that first rereads the version, so two
 * processes opening a new file at once apply each step once. Steps are
 * only ever appended: an applied step is never edited.
 *
 * Jobs. Claim, heartbeat and finish are write transactions, so the pick
 * of a job and its update see the same rows even when runners of several
 * processes share the file; a lease is (lease_owner, lease_expires), set
 * while a runner holds the job and cleared when it ends. An import runs
 * all its rows in one transaction through one prepared statement.
 *
 * Speakers. A speaker is found by its customer id or its generated id
 * ("id#..."), always together with its domain and account, and only while
 * the domain is live. Every enrollment request a job applies leaves a row
 * in enrollment_requests in the same transaction as its effect, so a
 * request applied again, after a crash or a retried step, returns the
 * recorded outcome and changes nothing. The speaker quota counts every
 * speaker row of the domain, opted-out ones included, as Voice ID does.
 *
 * Change count. Every write transaction, migrations included, is counted
 * in the file beside the database that store/changes.h describes, before
 * it asks for the write lock and after it ends; data_version reports the
 * count, which lets the front of the store (store.c) keep answers that no
 * write of any process sharing the file can have changed.
 *
 * Errors are translated to ERR_* where SQLite returns them (sqlite_error):
 * busy and locked become ERR_BUSY, constraint violations ERR_EXISTS, out of
 * memory ERR_NOMEM, anything else ERR_IO, which is also logged with
 * SQLite's message since the code alone would lose it.
 */
#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/changes.h"
#include "store/store.h"
#include "store/store_backend.h"
#include "util/err.h"
#include "util/log.h"

#define READERS_MAX 8
#define BUSY_TIMEOUT_MS 5000
#define BUSY_ATTEMPTS 4
#define BUSY_BACKOFF_MS 50

#define OP_CREATE_DOMAIN "CreateDomain"
#define OP_START_JOB "StartSpeakerEnrollmentJob"

struct migration {
    const char *name;
    const char *sql;
};

/* Append only. Version N is reached by applying migrations[N - 1]. */
static const struct migration migrations[] = {
    {
        "domains, watchlists and tags",
        /* seq is AUTOINCREMENT so that it never reuses the value of a row
         * the retention sweep erased: keyset cursors rely on it. */
        "CREATE TABLE domains ("
        " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
        " id TEXT NOT NULL UNIQUE,"
        " account TEXT NOT NULL,"
        " name TEXT NOT NULL,"
        " description TEXT,"
        " status TEXT NOT NULL,"
        " kms_key_id TEXT NOT NULL,"
        " sse_old_kms_key_id TEXT,"
        " sse_update_status TEXT,"
        " sse_update_message TEXT,"
        " default_watchlist_id TEXT NOT NULL,"
        " created_at REAL NOT NULL,"
        " updated_at REAL NOT NULL,"
        " deleted_at REAL);"
        /* Listing and counting an account's live domains. */
        "CREATE INDEX domains_live_by_account ON domains (account, seq)"
        " WHERE deleted_at IS NULL;"
        /* The retention sweep looks for domains deleted long enough ago. */
        "CREATE INDEX domains_deleted ON domains (deleted_at)"
        " WHERE deleted_at IS NOT NULL;"
        "CREATE TABLE watchlists ("
        " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
        " id TEXT NOT NULL UNIQUE,"
        " domain_id TEXT NOT NULL"
        "  REFERENCES domains (id) ON DELETE CASCADE,"
        " name TEXT NOT NULL,"
        " description TEXT,"
        " is_default INTEGER NOT NULL DEFAULT 0 CHECK (is_default IN (0, 1)),"
        " created_at REAL NOT NULL,"
        " updated_at REAL NOT NULL);"
        "CREATE INDEX watchlists_by_domain ON watchlists (domain_id, seq);"
        "CREATE UNIQUE INDEX watchlists_one_default ON watchlists (domain_id)"
        " WHERE is_default = 1;"
        "CREATE TABLE domain_tags ("
        " domain_id TEXT NOT NULL"
        "  REFERENCES domains (id) ON DELETE CASCADE,"
        " key TEXT NOT NULL,"
        " value TEXT NOT NULL,"
        " PRIMARY KEY (domain_id, key)) WITHOUT ROWID;"
    },
    {
        "idempotency tokens",
        /* resource_id names what the first request made; created_at lets
         * a sweep forget tokens after their retention period. */
        "CREATE TABLE idempotency ("
        " account TEXT NOT NULL,"
        " operation TEXT NOT NULL,"
        " client_token TEXT NOT NULL,"
        " request_hash TEXT NOT NULL,"
        " resource_id TEXT NOT NULL,"
        " created_at REAL NOT NULL,"
        " PRIMARY KEY (account, operation, client_token)) WITHOUT ROWID;"
        "CREATE INDEX idempotency_by_age ON idempotency (created_at);"
    },
    {
        "settings",
        "CREATE TABLE settings ("
        " key TEXT PRIMARY KEY,"
        " value TEXT NOT NULL) WITHOUT ROWID;"
    },
    {
        "speaker enrollment jobs",
        /* ended_at, failure_code and the lease are NULL while unset; the
         * lease is set exactly while a runner holds the job. */
        "CREATE TABLE enrollment_jobs ("
        " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
        " id TEXT UNIQUE NOT NULL,"
        " account TEXT NOT NULL,"
        " domain_id TEXT NOT NULL"
        "  REFERENCES domains (id) ON DELETE CASCADE,"
        " name TEXT,"
        " status TEXT NOT NULL,"
        " created_at REAL NOT NULL,"
        " ended_at REAL,"
        " percent INTEGER NOT NULL DEFAULT 0,"
        " failure_code INTEGER,"
        " failure_message TEXT,"
        " request_json TEXT NOT NULL,"
        " lease_owner TEXT,"
        " lease_expires REAL);"
        /* A domain's jobs newest first, read backwards; also the child
         * lookup of the ON DELETE CASCADE when a domain is purged. */
        "CREATE INDEX enrollment_jobs_by_domain"
        " ON enrollment_jobs (domain_id, seq);"
        /* The status filter of a list, and the count of active jobs for
         * the quota (a covering prefix). */
        "CREATE INDEX enrollment_jobs_by_domain_status"
        " ON enrollment_jobs (domain_id, status, seq);"
        /* Claiming: the oldest job of a status. */
        "CREATE INDEX enrollment_jobs_by_status"
        " ON enrollment_jobs (status, seq);"
    },
    {
        "speakers",
        /* The voiceprint is the sealed blob as the caller gave it; it and
         * its version are NULL while the speaker has none (opted out). */
        "CREATE TABLE speakers ("
        " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
        " id TEXT UNIQUE NOT NULL,"
        " account TEXT NOT NULL,"
        " domain_id TEXT NOT NULL"
        "  REFERENCES domains (id) ON DELETE CASCADE,"
        " customer_id TEXT NOT NULL,"
        " status TEXT NOT NULL,"
        " created_at REAL,"
        " updated_at REAL,"
        " last_accessed_at REAL,"
        " voiceprint BLOB,"
        " voiceprint_version TEXT,"
        /* Its index serves lookups by customer id. */
        " UNIQUE (domain_id, customer_id));"
        /* A domain's speakers in creation order, for keyset pages; also
         * the quota count and the child lookup of the cascade. */
        "CREATE INDEX speakers_by_domain ON speakers (domain_id, seq);"
        /* One row per applied request of a job; speaker_id is NULL when
         * no speaker was involved (quota). */
        "CREATE TABLE enrollment_requests ("
        " job_id TEXT NOT NULL"
        "  REFERENCES enrollment_jobs (id) ON DELETE CASCADE,"
        " request_id TEXT NOT NULL,"
        " outcome INTEGER NOT NULL,"
        " speaker_id TEXT,"
        " customer_id TEXT,"
        " PRIMARY KEY (job_id, request_id)) WITHOUT ROWID;"
    },
};

#define N_MIGRATIONS ((int)(sizeof(migrations) / sizeof(migrations[0])))

enum stmt_id {
    ST_BEGIN,
    ST_BEGIN_IMMEDIATE,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_DOMAIN_GET,
    ST_DOMAIN_LIVE,
    ST_DOMAIN_LIST,
    ST_DOMAIN_COUNT_LIVE,
    ST_DOMAIN_INSERT,
    ST_DOMAIN_UPDATE,
    ST_DOMAIN_DELETE,
    ST_WATCHLIST_INSERT,
    ST_TAG_PUT,
    ST_TAG_DELETE,
    ST_TAG_COUNT,
    ST_TAG_LIST,
    ST_IDEM_GET,
    ST_IDEM_PUT,
    ST_SETTING_GET,
    ST_SETTING_PUT,
    ST_DOMAIN_PURGE,
    ST_IDEMPOTENCY_PURGE,
    ST_JOB_GET,
    ST_JOB_GET_BY_ID,
    ST_JOB_COUNT_ACTIVE,
    ST_JOB_INSERT,
    ST_JOB_IMPORT,
    ST_JOB_LIST,
    ST_JOB_LIST_STATUS,
    ST_JOB_CLAIM_PICK,
    ST_JOB_CLAIM,
    ST_JOB_HEARTBEAT,
    ST_JOB_FINISH,
    ST_JOB_LIVE,
    ST_SPEAKER_GET_BY_ID,
    ST_SPEAKER_GET_BY_CUSTOMER,
    ST_SPEAKER_LIST,
    ST_SPEAKER_COUNT,
    ST_SPEAKER_INSERT,
    ST_SPEAKER_ENROLL,
    ST_SPEAKER_OPT_OUT,
    ST_SPEAKER_DELETE,
    ST_SPEAKER_DELETE_BY_CUSTOMER,
    ST_SPEAKER_SEALED,
    ST_SPEAKER_RESEAL,
    ST_DOMAIN_KEY,
    ST_ENROLL_REQ_GET,
    ST_ENROLL_REQ_PUT,
    N_STMT
};

struct stmt_def {
    const char *name;                   /* for log lines */
    const char *sql;
};

/* The columns domain_from_row reads, in its order. */
#define DOMAIN_COLS                                                         \
    "seq, account, id, name, description, status, kms_key_id,"              \
    " sse_old_kms_key_id, sse_update_status, sse_update_message,"           \
    " default_watchlist_id, created_at, updated_at"

/* The columns job_from_row reads, in its order. Lists read summaries,
 * which leave the job's settings out (NULL): copying them for every row
 * of a page was a third of a listing's store time. */
#define JOB_STATUS_COLS                                                     \
    "seq, account, id, domain_id, name, status, created_at, ended_at,"      \
    " percent, failure_code, failure_message"
#define JOB_COLS JOB_STATUS_COLS ", request_json"
#define JOB_SUMMARY_COLS JOB_STATUS_COLS ", NULL"

/* True for a row of table alias 't' whose domain is live. */
#define DOMAIN_LIVE_OF(t)                                                   \
    " EXISTS (SELECT 1 FROM domains d WHERE d.id = " t ".domain_id"         \
    " AND d.account = " t ".account AND d.deleted_at IS NULL)"

/* True for a job row 'j' whose domain is live. */
#define JOB_DOMAIN_LIVE DOMAIN_LIVE_OF("j")

/* The columns speaker_from_row reads, in its order. */
#define SPEAKER_COLS                                                        \
    "seq, account, domain_id, id, customer_id, status, created_at,"         \
    " updated_at, last_accessed_at, voiceprint, voiceprint_version"

/* A speaker of a live domain; ?1 is the id (of the kind the statement
 * names), ?2 the account and ?3 the domain. */
#define SPEAKER_GET(col)                                                    \
    "SELECT " SPEAKER_COLS " FROM speakers p"                               \
    " WHERE " col " = ?1 AND account = ?2 AND domain_id = ?3 AND"           \
    DOMAIN_LIVE_OF("p")

/* The oldest claimable job whose domain is live, if any. */
#define JOB_CLAIM_ARM(cond)                                                 \
    "SELECT seq, id FROM (SELECT seq, id FROM enrollment_jobs j"            \
    " WHERE " cond " AND" JOB_DOMAIN_LIVE " ORDER BY seq LIMIT 1)"

static const struct stmt_def stmt_defs[N_STMT] = {
    [ST_BEGIN] = { "begin", "BEGIN" },
    [ST_BEGIN_IMMEDIATE] = { "begin_immediate", "BEGIN IMMEDIATE" },
    [ST_COMMIT] = { "commit", "COMMIT" },
    [ST_ROLLBACK] = { "rollback", "ROLLBACK" },
    [ST_DOMAIN_GET] = {
        "domain_get",
        "SELECT " DOMAIN_COLS " FROM domains"
        " WHERE id = ?1 AND account = ?2 AND deleted_at IS NULL"
    },
    [ST_DOMAIN_LIVE] = {
        "domain_live",
        "SELECT 1 FROM domains"
        " WHERE id = ?1 AND account = ?2 AND deleted_at IS NULL"
    },
    [ST_DOMAIN_LIST] = {
        "domain_list",
        "SELECT " DOMAIN_COLS " FROM domains"
        " WHERE account = ?1 AND deleted_at IS NULL AND seq > ?2"
        " ORDER BY seq LIMIT ?3"
    },
    [ST_DOMAIN_COUNT_LIVE] = {
        "domain_count_live",
        "SELECT count(*) FROM domains"
        " WHERE account = ?1 AND deleted_at IS NULL"
    },
    [ST_DOMAIN_INSERT] = {
        "domain_insert",
        "INSERT INTO domains (account, id, name, description, status,"
        " kms_key_id, sse_old_kms_key_id, sse_update_status,"
        " sse_update_message, default_watchlist_id, created_at, updated_at)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
    },
    [ST_DOMAIN_UPDATE] = {
        "domain_update",
        "UPDATE domains SET name = ?3, description = ?4, kms_key_id = ?5,"
        " sse_old_kms_key_id = ?6, sse_update_status = ?7,"
        " sse_update_message = ?8, updated_at = ?9"
        " WHERE account = ?1 AND id = ?2 AND deleted_at IS NULL"
    },
    [ST_DOMAIN_DELETE] = {
        "domain_delete",
        "UPDATE domains SET deleted_at = ?3"
        " WHERE account = ?1 AND id = ?2 AND deleted_at IS NULL"
    },
    [ST_WATCHLIST_INSERT] = {
        "watchlist_insert",
        "INSERT INTO watchlists (id, domain_id, name, description,"
        " is_default, created_at, updated_at)"
        " VALUES (?1, ?2, ?3, ?4, 1, ?5, ?5)"
    },
    [ST_TAG_PUT] = {
        "tag_put",
        "INSERT INTO domain_tags (domain_id, key, value) VALUES (?1, ?2, ?3)"
        " ON CONFLICT (domain_id, key) DO UPDATE SET value = excluded.value"
    },
    [ST_TAG_DELETE] = {
        "tag_delete",
        "DELETE FROM domain_tags WHERE domain_id = ?1 AND key = ?2"
    },
    [ST_TAG_COUNT] = {
        "tag_count",
        "SELECT count(*) FROM domain_tags WHERE domain_id = ?1"
    },
    [ST_TAG_LIST] = {
        "tag_list",
        "SELECT key, value FROM domain_tags WHERE domain_id = ?1"
        " ORDER BY key"
    },
    [ST_IDEM_GET] = {
        "idempotency_get",
        "SELECT request_hash, resource_id FROM idempotency"
        " WHERE account = ?1 AND operation = ?2 AND client_token = ?3"
    },
    [ST_IDEM_PUT] = {
        "idempotency_put",
        "INSERT INTO idempotency (account, operation, client_token,"
        " request_hash, resource_id, created_at)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
    },
    [ST_SETTING_GET] = {
        "setting_get",
        "SELECT value FROM settings WHERE key = ?1"
    },
    [ST_SETTING_PUT] = {
        "setting_put",
        "INSERT INTO settings (key, value) VALUES (?1, ?2)"
        " ON CONFLICT (key) DO UPDATE SET value = excluded.value"
    },
    /* Watchlists and tags go with their domain through ON DELETE CASCADE.
     * CreateDomain tokens stay, so a replay still learns the domain is
     * gone rather than creating it again. */
    [ST_DOMAIN_PURGE] = {
        "domain_purge",
        "DELETE FROM domains WHERE seq IN (SELECT seq FROM domains"
        " WHERE deleted_at IS NOT NULL AND deleted_at < ?1 LIMIT ?2)"
        " RETURNING id"
    },
    /* Tokens in order of age from their index, a batch at a time. */
    [ST_IDEMPOTENCY_PURGE] = {
        "idempotency_purge",
        "DELETE FROM idempotency WHERE (account, operation, client_token)"
        " IN (SELECT account, operation, client_token FROM idempotency"
        " WHERE created_at < ?1 LIMIT ?2)"
        " RETURNING 1"
    },
    [ST_JOB_GET] = {
        "job_get",
        "SELECT " JOB_COLS " FROM enrollment_jobs j"
        " WHERE id = ?1 AND account = ?2 AND domain_id = ?3 AND"
        JOB_DOMAIN_LIVE
    },
    [ST_JOB_GET_BY_ID] = {
        "job_get_by_id",
        "SELECT " JOB_COLS " FROM enrollment_jobs WHERE id = ?1"
    },
    [ST_JOB_COUNT_ACTIVE] = {
        "job_count_active",
        "SELECT count(*) FROM enrollment_jobs"
        " WHERE domain_id = ?1 AND status IN ('SUBMITTED', 'IN_PROGRESS')"
    },
    [ST_JOB_INSERT] = {
        "job_insert",
        "INSERT INTO enrollment_jobs (account, id, domain_id, name, status,"
        " created_at, request_json)"
        " VALUES (?1, ?2, ?3, ?4, 'SUBMITTED', ?5, ?6)"
    },
    /* An imported IN_PROGRESS job has no runner: its lease starts out
     * expired so that the next claim takes it up. */
    [ST_JOB_IMPORT] = {
        "job_import",
        "INSERT INTO enrollment_jobs (account, id, domain_id, name, status,"
        " created_at, ended_at, percent, failure_code, failure_message,"
        " request_json, lease_expires)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, nullif(?7, 0), ?8, nullif(?9, 0),"
        " ?10, ?11, CASE WHEN ?5 = 'IN_PROGRESS' THEN 0 END)"
    },
    /* Plan (SQLite 3.40): SEARCH USING INDEX enrollment_jobs_by_domain
     * (domain_id=? AND seq<?), read backwards, no sort; the status variant
     * uses enrollment_jobs_by_domain_status (domain_id=? AND status=? AND
     * seq<?) the same way. The active count is a COVERING INDEX search of
     * enrollment_jobs_by_domain_status (domain_id=? AND status=?). */
    [ST_JOB_LIST] = {
        "job_list",
        "SELECT " JOB_SUMMARY_COLS " FROM enrollment_jobs"
        " WHERE account = ?1 AND domain_id = ?2 AND seq < ?3"
        " ORDER BY seq DESC LIMIT ?4"
    },
    [ST_JOB_LIST_STATUS] = {
        "job_list_status",
        "SELECT " JOB_SUMMARY_COLS " FROM enrollment_jobs"
        " WHERE account = ?1 AND domain_id = ?2 AND status = ?3"
        " AND seq < ?4 ORDER BY seq DESC LIMIT ?5"
    },
    /* Two index-served arms rather than one OR, which would sort every
     * SUBMITTED job to find the oldest. Plan (SQLite 3.40): each arm is a
     * SEARCH USING INDEX enrollment_jobs_by_status (status=?) in seq order
     * with a domain lookup by its id index per row; the outer ORDER BY
     * merges at most one row from each. Jobs of deleted domains are
     * stepped over until the retention sweep erases them. */
    [ST_JOB_CLAIM_PICK] = {
        "job_claim_pick",
        JOB_CLAIM_ARM("status = 'SUBMITTED'")
        " UNION ALL "
        JOB_CLAIM_ARM("status = 'IN_PROGRESS' AND lease_expires < ?1")
        " ORDER BY seq LIMIT 1"
    },
    [ST_JOB_CLAIM] = {
        "job_claim",
        "UPDATE enrollment_jobs SET status = 'IN_PROGRESS',"
        " lease_owner = ?2, lease_expires = ?3"
        " WHERE id = ?1 AND (status = 'SUBMITTED'"
        " OR (status = 'IN_PROGRESS' AND lease_expires < ?4))"
    },
    [ST_JOB_HEARTBEAT] = {
        "job_heartbeat",
        "UPDATE enrollment_jobs SET lease_expires = ?3, percent = ?4"
        " WHERE id = ?1 AND lease_owner = ?2 AND status = 'IN_PROGRESS'"
    },
    [ST_JOB_FINISH] = {
        "job_finish",
        "UPDATE enrollment_jobs SET status = ?3, ended_at = ?4,"
        " percent = CASE WHEN ?3 = 'FAILED' THEN percent ELSE 100 END,"
        " failure_code = nullif(?5, 0), failure_message = ?6,"
        " lease_owner = NULL, lease_expires = NULL"
        " WHERE id = ?1 AND lease_owner = ?2 AND status = 'IN_PROGRESS'"
    },
    [ST_JOB_LIVE] = {
        "job_live",
        "SELECT 1 FROM enrollment_jobs j"
        " WHERE id = ?1 AND account = ?2 AND domain_id = ?3 AND"
        JOB_DOMAIN_LIVE
    },
    /* Plan (SQLite 3.40): by generated id, SEARCH USING the UNIQUE index
     * of id; by customer id, SEARCH USING the index of UNIQUE (domain_id,
     * customer_id); each with one domain lookup by its id index. The list
     * is SEARCH USING INDEX speakers_by_domain (domain_id=? AND seq>?)
     * with no sort, the count a COVERING INDEX search of it. */
    [ST_SPEAKER_GET_BY_ID] = {
        "speaker_get_by_id",
        SPEAKER_GET("id")
    },
    [ST_SPEAKER_GET_BY_CUSTOMER] = {
        "speaker_get_by_customer",
        SPEAKER_GET("customer_id")
    },
    [ST_SPEAKER_LIST] = {
        "speaker_list",
        "SELECT " SPEAKER_COLS " FROM speakers"
        " WHERE account = ?1 AND domain_id = ?2 AND seq > ?3"
        " ORDER BY seq LIMIT ?4"
    },
    [ST_SPEAKER_COUNT] = {
        "speaker_count",
        "SELECT count(*) FROM speakers WHERE domain_id = ?1"
    },
    /* last_accessed_at 0 stands for never. */
    [ST_SPEAKER_INSERT] = {
        "speaker_insert",
        "INSERT INTO speakers (id, account, domain_id, customer_id, status,"
        " created_at, updated_at, last_accessed_at, voiceprint,"
        " voiceprint_version)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, nullif(?8, 0), ?9, ?10)"
    },
    /* An enrollment is an access: last_accessed_at moves with it. */
    [ST_SPEAKER_ENROLL] = {
        "speaker_enroll",
        "UPDATE speakers SET status = 'ENROLLED', voiceprint = ?2,"
        " voiceprint_version = ?3, updated_at = ?4, last_accessed_at = ?4"
        " WHERE id = ?1"
    },
    [ST_SPEAKER_OPT_OUT] = {
        "speaker_opt_out",
        "UPDATE speakers SET status = 'OPTED_OUT', voiceprint = NULL,"
        " voiceprint_version = NULL, updated_at = ?2 WHERE id = ?1"
    },
    [ST_SPEAKER_DELETE] = {
        "speaker_delete",
        "DELETE FROM speakers WHERE id = ?1 AND domain_id = ?2"
    },
    [ST_SPEAKER_DELETE_BY_CUSTOMER] = {
        "speaker_delete_by_customer",
        "DELETE FROM speakers WHERE customer_id = ?1 AND domain_id = ?2"
    },
    /* The domain's voiceprints in creation order, a batch at a time:
     * re-sealing reads a batch, then rewrites it. */
    [ST_SPEAKER_SEALED] = {
        "speaker_sealed",
        "SELECT " SPEAKER_COLS " FROM speakers"
        " WHERE domain_id = ?1 AND seq > ?2 AND voiceprint IS NOT NULL"
        " ORDER BY seq LIMIT ?3"
    },
    [ST_SPEAKER_RESEAL] = {
        "speaker_reseal",
        "UPDATE speakers SET voiceprint = ?2 WHERE id = ?1"
    },
    [ST_DOMAIN_KEY] = {
        "domain_key",
        "SELECT kms_key_id = ?3 FROM domains"
        " WHERE id = ?1 AND account = ?2 AND deleted_at IS NULL"
    },
    [ST_ENROLL_REQ_GET] = {
        "enroll_request_get",
        "SELECT outcome, speaker_id, customer_id FROM enrollment_requests"
        " WHERE job_id = ?1 AND request_id = ?2"
    },
    [ST_ENROLL_REQ_PUT] = {
        "enroll_request_put",
        "INSERT INTO enrollment_requests (job_id, request_id, outcome,"
        " speaker_id, customer_id) VALUES (?1, ?2, ?3, ?4, ?5)"
    },
};

struct conn {
    sqlite3 *db;
    sqlite3_stmt *stmts[N_STMT];        /* prepared on first use */
    struct conn *next;                  /* in the idle list */
};

struct sqlite_store {
    struct store base;                  /* first: the public handle */
    char *path;
    int schema_version;

    pthread_mutex_t write_mu;           /* owns 'writer' */
    struct conn *writer;
    struct changes *changes;            /* counts every write transaction */

    pthread_mutex_t pool_mu;            /* guards the three below */
    pthread_cond_t pool_cv;             /* a reader was returned */
    struct conn *idle;
    int n_readers;                      /* open, idle or borrowed */
};

enum txn_kind {
    TXN_NONE,                           /* one statement: autocommit */
    TXN_READ,                           /* BEGIN: one snapshot */
    TXN_WRITE,                          /* BEGIN IMMEDIATE */
};

static const struct store_ops sqlite_ops;


static struct sqlite_store *
store_of(struct store *s)
{
    return (struct sqlite_store *)s;
}


static int
err_of_sqlite(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return ERR_BUSY;
    case SQLITE_CONSTRAINT:
        return ERR_EXISTS;
    case SQLITE_NOMEM:
        return ERR_NOMEM;
    default:
        return ERR_IO;
    }
}


/* Translates a failed 'call' on statement 'id'; logs the unexpected. */
static int
sqlite_error(struct conn *c, const char *call, enum stmt_id id, int rc)
{
    int err = err_of_sqlite(rc);

    if (err == ERR_IO) {
        log_msg(LOG_ERROR, "store", NULL, "%s(%s) failed: %s", call,
                stmt_defs[id].name, sqlite3_errmsg(c->db));
    }
    return err;
}


/* Resets every statement of the connection, ending any implicit read
 * transaction a half-read statement would otherwise keep open. */
static void
conn_reset_all(struct conn *c)
{
    for (int i = 0; i < N_STMT; i++) {
        if (c->stmts[i] != NULL && sqlite3_stmt_busy(c->stmts[i]))
            sqlite3_reset(c->stmts[i]);
    }
}


static void
stmt_done(sqlite3_stmt *st)
{
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}


/*
 * Binds parameters 1, 2, ... from the arguments, one letter of 'types'
 * each: 's' const char * (NULL binds NULL), 'i' int64_t, 'd' double,
 * 'b' a blob as two arguments, const void * and size_t (NULL or length 0
 * binds NULL). Strings and blobs are bound without copying: they must
 * live until stmt_done.
 */
static int
bind_all(sqlite3_stmt *st, const char *types, va_list ap)
{
    const char *text;
    const void *blob;
    size_t len;
    int rc = SQLITE_OK;

    for (int i = 0; types[i] != '\0' && rc == SQLITE_OK; i++) {
        switch (types[i]) {
        case 's':
            text = va_arg(ap, const char *);
            if (text == NULL)
                rc = sqlite3_bind_null(st, i + 1);
            else
                rc = sqlite3_bind_text(st, i + 1, text, -1, SQLITE_STATIC);
            break;
        case 'i':
            rc = sqlite3_bind_int64(st, i + 1, va_arg(ap, int64_t));
            break;
        case 'd':
            rc = sqlite3_bind_double(st, i + 1, va_arg(ap, double));
            break;
        case 'b':
            blob = va_arg(ap, const void *);
            len = va_arg(ap, size_t);
            if (blob == NULL || len == 0)
                rc = sqlite3_bind_null(st, i + 1);
            else
                rc = sqlite3_bind_blob64(st, i + 1, blob, len,
                                         SQLITE_STATIC);
            break;
        default:
            assert(!"unknown bind type");
            rc = SQLITE_MISUSE;
        }
    }
    return rc;
}


/* Prepares statement 'id' once per connection and binds its parameters.
 * On success *out is ready to step; finish it with stmt_done. */
static int
stmt_vopen(struct conn *c, enum stmt_id id, sqlite3_stmt **out,
           const char *types, va_list ap)
{
    sqlite3_stmt *st = c->stmts[id];
    int rc;

    if (st == NULL) {
        rc = sqlite3_prepare_v3(c->db, stmt_defs[id].sql, -1,
                                SQLITE_PREPARE_PERSISTENT, &st, NULL);
        if (rc != SQLITE_OK)
            return sqlite_error(c, "sqlite3_prepare", id, rc);
        c->stmts[id] = st;
    }

    /* The variadic binder cannot count for the compiler; check here. */
    if ((int)strlen(types) != sqlite3_bind_parameter_count(st)) {
        assert(!"bind types do not match the statement");
        log_msg(LOG_ERROR, "store", NULL, "sqlite3_bind(%s) failed: %zu "
                "values for %d parameters", stmt_defs[id].name,
                strlen(types), sqlite3_bind_parameter_count(st));
        return ERR_INTERNAL;
    }
    rc = bind_all(st, types, ap);
    if (rc != SQLITE_OK) {
        stmt_done(st);
        return sqlite_error(c, "sqlite3_bind", id, rc);
    }
    *out = st;
    return 0;
}


static int
stmt_open(struct conn *c, enum stmt_id id, sqlite3_stmt **out,
          const char *types, ...)
{
    va_list ap;
    int rc;

    va_start(ap, types);
    rc = stmt_vopen(c, id, out, types, ap);
    va_end(ap);
    return rc;
}


/* Steps statement 'id' once: 1 for a row, 0 when done, or an ERR_*. */
static int
stmt_step(struct conn *c, enum stmt_id id)
{
    int rc = store__fault_take();

    if (rc != 0)
        return rc;

    rc = sqlite3_step(c->stmts[id]);
    if (rc == SQLITE_ROW)
        return 1;
    if (rc == SQLITE_DONE)
        return 0;
    return sqlite_error(c, "sqlite3_step", id, rc);
}


/* Runs a statement that returns no rows. */
static int
stmt_exec(struct conn *c, enum stmt_id id, const char *types, ...)
{
    sqlite3_stmt *st;
    va_list ap;
    int rc;

    va_start(ap, types);
    rc = stmt_vopen(c, id, &st, types, ap);
    va_end(ap);
    if (rc != 0)
        return rc;

    rc = stmt_step(c, id);
    stmt_done(st);
    return rc < 0 ? rc : 0;
}


/* Runs a statement whose one row holds one integer, such as count(*). */
static int
stmt_int64(struct conn *c, enum stmt_id id, int64_t *value,
           const char *types, ...)
{
    sqlite3_stmt *st;
    va_list ap;
    int rc;

    va_start(ap, types);
    rc = stmt_vopen(c, id, &st, types, ap);
    va_end(ap);
    if (rc != 0)
        return rc;

    rc = stmt_step(c, id);
    if (rc == 1) {
        *value = sqlite3_column_int64(st, 0);
        rc = 0;
    } else if (rc == 0) {
        rc = ERR_INTERNAL;
    }
    stmt_done(st);
    return rc;
}


/* Copies a text column into a new string; SQL NULL gives NULL. */
static int
col_text(sqlite3_stmt *st, int i, char **out)
{
    const unsigned char *text;

    if (sqlite3_column_type(st, i) == SQLITE_NULL) {
        *out = NULL;
        return 0;
    }
    text = sqlite3_column_text(st, i);
    if (text == NULL)
        return ERR_NOMEM;
    *out = store__strdup((const char *)text);
    return *out == NULL ? ERR_NOMEM : 0;
}


/* Copies a text column into a fixed field of 'size' bytes. A value that
 * does not fit means the file holds something this code never wrote. */
static int
col_fixed(sqlite3_stmt *st, int i, char *field, size_t size)
{
    const unsigned char *text = sqlite3_column_text(st, i);
    int n = sqlite3_column_bytes(st, i);

    if (text == NULL)
        return sqlite3_column_type(st, i) == SQLITE_NULL ? ERR_INTERNAL
                                                         : ERR_NOMEM;
    if ((size_t)n >= size)
        return ERR_INTERNAL;
    memcpy(field, text, (size_t)n);
    field[n] = '\0';
    return 0;
}


/* Reads a row of DOMAIN_COLS into *out (untouched on failure). */
static int
domain_from_row(sqlite3_stmt *st, struct store_domain *out)
{
    struct store_domain d;
    int rc;

    memset(&d, 0, sizeof(d));
    d.seq = sqlite3_column_int64(st, 0);
    rc = col_fixed(st, 1, d.account, sizeof(d.account));
    if (rc == 0)
        rc = col_fixed(st, 2, d.id, sizeof(d.id));
    if (rc == 0)
        rc = col_text(st, 3, &d.name);
    if (rc == 0)
        rc = col_text(st, 4, &d.description);
    if (rc == 0)
        rc = col_text(st, 5, &d.status);
    if (rc == 0)
        rc = col_text(st, 6, &d.kms_key_id);
    if (rc == 0)
        rc = col_text(st, 7, &d.sse_old_kms_key_id);
    if (rc == 0)
        rc = col_text(st, 8, &d.sse_update_status);
    if (rc == 0)
        rc = col_text(st, 9, &d.sse_update_message);
    if (rc == 0)
        rc = col_fixed(st, 10, d.default_watchlist_id,
                       sizeof(d.default_watchlist_id));
    d.created_at = sqlite3_column_double(st, 11);
    d.updated_at = sqlite3_column_double(st, 12);

    if (rc != 0) {
        store_domain_clear(&d);
        return rc;
    }
    *out = d;
    return 0;
}


/* Reads a row of JOB_COLS or JOB_SUMMARY_COLS into *out (untouched on
 * failure). */
static int
job_from_row(sqlite3_stmt *st, struct store_job *out)
{
    struct store_job j;
    int rc;

    memset(&j, 0, sizeof(j));
    j.seq = sqlite3_column_int64(st, 0);
    rc = col_fixed(st, 1, j.account, sizeof(j.account));
    if (rc == 0)
        rc = col_fixed(st, 2, j.id, sizeof(j.id));
    if (rc == 0)
        rc = col_fixed(st, 3, j.domain_id, sizeof(j.domain_id));
    if (rc == 0)
        rc = col_text(st, 4, &j.name);
    if (rc == 0)
        rc = col_text(st, 5, &j.status);
    j.created_at = sqlite3_column_double(st, 6);
    /* SQL NULL reads as 0, which is what the record uses for unset. */
    j.ended_at = sqlite3_column_double(st, 7);
    j.percent_complete = sqlite3_column_int(st, 8);
    j.failure_code = sqlite3_column_int(st, 9);
    if (rc == 0)
        rc = col_text(st, 10, &j.failure_message);
    if (rc == 0)
        rc = col_text(st, 11, &j.request_json);
    if (rc == 0 && j.status == NULL)
        rc = ERR_INTERNAL;

    if (rc != 0) {
        store_job_clear(&j);
        return rc;
    }
    *out = j;
    return 0;
}


/* Copies a blob column into new memory; SQL NULL and an empty blob give
 * NULL and 0. */
static int
col_blob(sqlite3_stmt *st, int i, unsigned char **out, size_t *len)
{
    const void *blob;
    int n;

    *out = NULL;
    *len = 0;
    if (sqlite3_column_type(st, i) == SQLITE_NULL)
        return 0;
    blob = sqlite3_column_blob(st, i);
    n = sqlite3_column_bytes(st, i);
    if (n == 0)
        return 0;
    if (blob == NULL)
        return ERR_NOMEM;
    *out = store__malloc((size_t)n);
    if (*out == NULL)
        return ERR_NOMEM;
    memcpy(*out, blob, (size_t)n);
    *len = (size_t)n;
    return 0;
}


/* Reads a row of SPEAKER_COLS into *out (untouched on failure). */
static int
speaker_from_row(sqlite3_stmt *st, struct store_speaker *out)
{
    struct store_speaker sp;
    int rc;

    memset(&sp, 0, sizeof(sp));
    sp.seq = sqlite3_column_int64(st, 0);
    rc = col_fixed(st, 1, sp.account, sizeof(sp.account));
    if (rc == 0)
        rc = col_fixed(st, 2, sp.domain_id, sizeof(sp.domain_id));
    if (rc == 0)
        rc = col_fixed(st, 3, sp.id, sizeof(sp.id));
    if (rc == 0)
        rc = col_text(st, 4, &sp.customer_id);
    if (rc == 0)
        rc = col_text(st, 5, &sp.status);
    /* SQL NULL reads as 0, which is what the record uses for unset. */
    sp.created_at = sqlite3_column_double(st, 6);
    sp.updated_at = sqlite3_column_double(st, 7);
    sp.last_accessed_at = sqlite3_column_double(st, 8);
    if (rc == 0)
        rc = col_blob(st, 9, &sp.voiceprint, &sp.voiceprint_len);
    if (rc == 0)
        rc = col_text(st, 10, &sp.voiceprint_version);
    if (rc == 0 && (sp.customer_id == NULL || sp.status == NULL))
        rc = ERR_INTERNAL;

    if (rc != 0) {
        store_speaker_clear(&sp);
        return rc;
    }
    *out = sp;
    return 0;
}


/* Grows *array (of 'size'-byte elements) so that it holds n + 1. */
static int
array_reserve(void **array, size_t *cap, size_t n, size_t size)
{
    size_t new_cap;
    void *p;

    if (n < *cap)
        return 0;
    new_cap = *cap == 0 ? 16 : *cap * 2;
    if (new_cap > SIZE_MAX / size)
        return ERR_NOMEM;
    p = store__realloc(*array, new_cap * size);
    if (p == NULL)
        return ERR_NOMEM;
    *array = p;
    *cap = new_cap;
    return 0;
}


/* Fetches the live domain; ERR_NOTFOUND if missing, deleted or foreign. */
static int
domain_fetch(struct conn *c, const char *account, const char *id,
             struct store_domain *out)
{
    sqlite3_stmt *st;
    int rc;

    rc = stmt_open(c, ST_DOMAIN_GET, &st, "ss", id, account);
    if (rc != 0)
        return rc;

    rc = stmt_step(c, ST_DOMAIN_GET);
    if (rc == 1)
        rc = domain_from_row(st, out);
    else if (rc == 0)
        rc = ERR_NOTFOUND;
    stmt_done(st);
    return rc;
}


static int
domain_check_live(struct conn *c, const char *account, const char *id)
{
    sqlite3_stmt *st;
    int rc;

    rc = stmt_open(c, ST_DOMAIN_LIVE, &st, "ss", id, account);
    if (rc != 0)
        return rc;

    rc = stmt_step(c, ST_DOMAIN_LIVE);
    stmt_done(st);
    if (rc == 1)
        return 0;
    return rc == 0 ? ERR_NOTFOUND : rc;
}


static void
conn_close(struct conn *c)
{
    if (c == NULL)
        return;
    for (int i = 0; i < N_STMT; i++)
        sqlite3_finalize(c->stmts[i]);
    sqlite3_close(c->db);
    free(c);
}


/* Runs one or more PRAGMA or DDL statements outside the statement cache. */
static int
conn_exec_sql(struct conn *c, const char *sql, const char *what)
{
    char *msg = NULL;
    int rc;

    rc = sqlite3_exec(c->db, sql, NULL, NULL, &msg);
    if (rc == SQLITE_OK)
        return 0;
    log_msg(LOG_ERROR, "store", NULL, "sqlite3_exec(%s) failed: %s", what,
            msg != NULL ? msg : sqlite3_errstr(rc));
    sqlite3_free(msg);
    return err_of_sqlite(rc);
}


/* Switches the file to WAL; journal_mode answers with the mode in force,
 * which stays "delete" on file systems that cannot share memory maps. */
static int
conn_set_wal(struct conn *c)
{
    sqlite3_stmt *st = NULL;
    const unsigned char *mode;
    int rc;

    rc = sqlite3_prepare_v2(c->db, "PRAGMA journal_mode = WAL", -1, &st,
                            NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        log_msg(LOG_ERROR, "store", NULL, "sqlite3_step(journal_mode) "
                "failed: %s", sqlite3_errmsg(c->db));
        rc = err_of_sqlite(rc);
        goto out;
    }

    mode = sqlite3_column_text(st, 0);
    if (mode == NULL || strcmp((const char *)mode, "wal") != 0) {
        log_msg(LOG_ERROR, "store", NULL, "journal_mode = WAL refused, the "
                "database stays in mode %s",
                mode != NULL ? (const char *)mode : "unknown");
        rc = ERR_IO;
        goto out;
    }
    rc = 0;

out:
    sqlite3_finalize(st);
    return rc;
}


/* Opens a connection to 'path': the writer creates the file and sets WAL
 * mode (a property of the file); readers refuse to write. */
static int
conn_open(const char *path, bool reader, struct conn **out)
{
    struct conn *c;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
    int rc;

    c = calloc(1, sizeof(*c));
    if (c == NULL)
        return ERR_NOMEM;

    if (!reader)
        flags |= SQLITE_OPEN_CREATE;
    rc = sqlite3_open_v2(path, &c->db, flags, NULL);
    if (rc != SQLITE_OK) {
        log_msg(LOG_ERROR, "store", NULL, "sqlite3_open_v2(%s) failed: %s",
                path, c->db != NULL ? sqlite3_errmsg(c->db)
                                    : sqlite3_errstr(rc));
        rc = rc == SQLITE_NOMEM ? ERR_NOMEM : ERR_IO;
        goto out;
    }
    sqlite3_busy_timeout(c->db, BUSY_TIMEOUT_MS);

    if (!reader)
        rc = conn_set_wal(c);
    if (rc == 0) {
        rc = conn_exec_sql(c, "PRAGMA synchronous = NORMAL;"
                              "PRAGMA foreign_keys = ON;", "pragmas");
    }
    if (rc == 0 && reader)
        rc = conn_exec_sql(c, "PRAGMA query_only = ON;", "query_only");

out:
    if (rc != 0) {
        conn_close(c);
        return rc;
    }
    *out = c;
    return 0;
}


/* Ends the open transaction, if any, keeping nothing of it. */
static void
conn_rollback(struct conn *c)
{
    sqlite3_stmt *st;
    int rc;

    conn_reset_all(c);
    if (sqlite3_get_autocommit(c->db))
        return;

    /* Not stmt_step: the cleanup path is outside fault injection. */
    rc = stmt_open(c, ST_ROLLBACK, &st, "");
    if (rc == 0) {
        rc = sqlite3_step(st);
        stmt_done(st);
        if (rc != SQLITE_DONE)
            sqlite_error(c, "sqlite3_step", ST_ROLLBACK, rc);
    }
}


static void
sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

    while (nanosleep(&ts, &ts) != 0) {
        /* Interrupted by a signal: sleep what is left. */
    }
}


/*
 * Runs body(c, arg) on connection 'c' inside a transaction of 'kind',
 * committing if it returns 0 and rolling back otherwise. On ERR_BUSY the
 * whole transaction runs again after a pause, so the body must be safe to
 * repeat. Returns the body's result, or the error that ended it.
 */
static int
txn_run(struct conn *c, enum txn_kind kind,
        int (*body)(struct conn *c, void *arg), void *arg)
{
    int rc;

    for (int attempt = 1;; attempt++) {
        rc = 0;
        if (kind == TXN_READ)
            rc = stmt_exec(c, ST_BEGIN, "");
        else if (kind == TXN_WRITE)
            rc = stmt_exec(c, ST_BEGIN_IMMEDIATE, "");
        if (rc == 0)
            rc = body(c, arg);
        if (rc == 0 && kind != TXN_NONE) {
            conn_reset_all(c);
            rc = stmt_exec(c, ST_COMMIT, "");
        }
        if (rc != 0)
            conn_rollback(c);

        if (rc != ERR_BUSY || attempt == BUSY_ATTEMPTS)
            break;
        log_msg(LOG_WARN, "store", NULL, "sqlite database busy, retrying "
                "in %d ms (attempt %d of %d)", BUSY_BACKOFF_MS * attempt,
                attempt + 1, BUSY_ATTEMPTS);
        sleep_ms((long)BUSY_BACKOFF_MS * attempt);
    }
    conn_reset_all(c);
    return rc;
}


static int
write_run(struct sqlite_store *ss, int (*body)(struct conn *c, void *arg),
          void *arg)
{
    int rc;

    pthread_mutex_lock(&ss->write_mu);
    changes_begin(ss->changes);
    rc = txn_run(ss->writer, TXN_WRITE, body, arg);
    changes_end(ss->changes);
    pthread_mutex_unlock(&ss->write_mu);
    return rc;
}


/* Borrows an idle reader, opens a new one while fewer than READERS_MAX
 * exist, or waits for one to be returned. */
static int
pool_get(struct sqlite_store *ss, struct conn **out)
{
    struct conn *c;
    int rc;

    pthread_mutex_lock(&ss->pool_mu);
    while (ss->idle == NULL && ss->n_readers >= READERS_MAX)
        pthread_cond_wait(&ss->pool_cv, &ss->pool_mu);
    c = ss->idle;
    if (c != NULL)
        ss->idle = c->next;
    else
        ss->n_readers++;
    pthread_mutex_unlock(&ss->pool_mu);

    if (c == NULL) {
        /* Opened outside the lock: opening touches the file system. */
        rc = conn_open(ss->path, true, &c);
        if (rc != 0) {
            pthread_mutex_lock(&ss->pool_mu);
            ss->n_readers--;
            pthread_cond_signal(&ss->pool_cv);
            pthread_mutex_unlock(&ss->pool_mu);
            return rc;
        }
    }
    *out = c;
    return 0;
}


static void
pool_put(struct sqlite_store *ss, struct conn *c)
{
    pthread_mutex_lock(&ss->pool_mu);
    c->next = ss->idle;
    ss->idle = c;
    pthread_cond_signal(&ss->pool_cv);
    pthread_mutex_unlock(&ss->pool_mu);
}


static int
read_run(struct sqlite_store *ss, enum txn_kind kind,
         int (*body)(struct conn *c, void *arg), void *arg)
{
    struct conn *c;
    int rc;

    rc = pool_get(ss, &c);
    if (rc != 0)
        return rc;
    rc = txn_run(c, kind, body, arg);
    pool_put(ss, c);
    return rc;
}


static int
user_version_get(struct conn *c, int *version)
{
    sqlite3_stmt *st = NULL;
    int rc;

    rc = sqlite3_prepare_v2(c->db, "PRAGMA user_version", -1, &st, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *version = sqlite3_column_int(st, 0);
        rc = 0;
    } else {
        log_msg(LOG_ERROR, "store", NULL, "reading the schema version "
                "failed: %s", sqlite3_errmsg(c->db));
        rc = ERR_IO;
    }
    sqlite3_finalize(st);
    return rc;
}


/* Applies the next migration if one is pending, in its own transaction.
 * Sets *version to the version the file is at afterwards and *applied. */
static int
migrate_step(struct conn *c, int *version, bool *applied)
{
    char sql[64];
    int at;
    int rc;

    *applied = false;
    rc = conn_exec_sql(c, "BEGIN IMMEDIATE", "begin_immediate");
    if (rc == 0)
        rc = user_version_get(c, &at);
    if (rc != 0)
        goto out;

    if (at > N_MIGRATIONS) {
        log_msg(LOG_ERROR, "store", NULL, "database schema version %d is "
                "newer than this build knows (%d), refusing to open it",
                at, N_MIGRATIONS);
        rc = ERR_IO;
        goto out;
    }
    if (at < N_MIGRATIONS) {
        rc = conn_exec_sql(c, migrations[at].sql, migrations[at].name);
        /* PRAGMA takes no parameters; the number is ours, not input. */
        snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", at + 1);
        if (rc == 0)
            rc = conn_exec_sql(c, sql, "user_version");
        *applied = rc == 0;
        at++;
    }
    if (rc == 0)
        rc = conn_exec_sql(c, "COMMIT", "commit");

out:
    if (rc != 0) {
        *applied = false;
        conn_rollback(c);
        return rc == ERR_NOMEM ? ERR_NOMEM : ERR_IO;
    }
    *version = at;
    return 0;
}


static int
migrate(struct conn *c, struct changes *changes, int *version)
{
    bool applied;
    int rc;

    do {
        changes_begin(changes);
        rc = migrate_step(c, version, &applied);
        changes_end(changes);
        if (rc == 0 && applied) {
            log_msg(LOG_INFO, "store", NULL, "applied migration %d (%s)",
                    *version, migrations[*version - 1].name);
        }
    } while (rc == 0 && applied);
    return rc;
}


int
store__sqlite_schema_latest(void)
{
    return N_MIGRATIONS;
}


static void
sqlite_close(struct store *s)
{
    struct sqlite_store *ss = store_of(s);
    struct conn *c;

    while (ss->idle != NULL) {
        c = ss->idle;
        ss->idle = c->next;
        conn_close(c);
    }
    conn_close(ss->writer);
    changes_close(ss->changes);
    pthread_cond_destroy(&ss->pool_cv);
    pthread_mutex_destroy(&ss->pool_mu);
    pthread_mutex_destroy(&ss->write_mu);
    free(ss->path);
    free(ss);
}


int
store__sqlite_open(const char *path, struct store **out)
{
    struct sqlite_store *ss;
    int saved_errno;
    int rc;

    /* Connections move between threads, which needs SQLite built with
     * thread support even though each is used by one thread at a time. */
    if (!sqlite3_threadsafe()) {
        log_msg(LOG_ERROR, "store", NULL, "sqlite was built without "
                "thread support, refusing to open %s", path);
        return ERR_IO;
    }

    ss = calloc(1, sizeof(*ss));
    if (ss == NULL)
        return ERR_NOMEM;
    if (pthread_mutex_init(&ss->write_mu, NULL) != 0)
        goto fail_write_mu;
    if (pthread_mutex_init(&ss->pool_mu, NULL) != 0)
        goto fail_pool_mu;
    if (pthread_cond_init(&ss->pool_cv, NULL) != 0)
        goto fail_pool_cv;
    ss->base.ops = &sqlite_ops;

    rc = conn_open(path, false, &ss->writer);
    if (rc == 0) {
        /* Readers open the file later, perhaps after a chdir: keep the
         * absolute name of the file the writer created. */
        ss->path = realpath(path, NULL);
        if (ss->path == NULL) {
            saved_errno = errno;
            log_msg(LOG_ERROR, "store", NULL, "realpath(%s) failed: %s",
                    path, strerror(saved_errno));
            rc = saved_errno == ENOMEM ? ERR_NOMEM : ERR_IO;
        }
    }
    if (rc == 0)
        rc = changes_open(ss->path, &ss->changes);
    if (rc == 0)
        rc = migrate(ss->writer, ss->changes, &ss->schema_version);
    if (rc != 0) {
        sqlite_close(&ss->base);
        return rc;
    }
    *out = &ss->base;
    return 0;

fail_pool_cv:
    pthread_mutex_destroy(&ss->pool_mu);
fail_pool_mu:
    pthread_mutex_destroy(&ss->write_mu);
fail_write_mu:
    free(ss);
    return ERR_NOMEM;
}


static int
sqlite_schema_version(struct store *s)
{
    return store_of(s)->schema_version;
}


static bool
sqlite_data_version(struct store *s, uint64_t *version)
{
    return changes_version(store_of(s)->changes, version);
}


struct create_args {
    const struct store_domain *d;
    const struct store_tag *tags;
    size_t n_tags;
    const char *client_token;
    const char *request_hash;
    int max_domains;
    struct store_domain result;
};


/* Looks the client token up: 1 if unused, 0 with the first request's
 * domain in a->result if it is a replay, or an ERR_*. */
static int
create_replay(struct conn *c, struct create_args *a)
{
    sqlite3_stmt *st;
    char *stored_hash = NULL;
    char *domain_id = NULL;
    int rc;

    rc = stmt_open(c, ST_IDEM_GET, &st, "sss", a->d->account,
                   OP_CREATE_DOMAIN, a->client_token);
    if (rc != 0)
        return rc;
    rc = stmt_step(c, ST_IDEM_GET);
    if (rc == 1) {
        rc = col_text(st, 0, &stored_hash);
        if (rc == 0)
            rc = col_text(st, 1, &domain_id);
    } else if (rc == 0) {
        rc = 1;
    }
    stmt_done(st);
    if (rc != 0)
        goto out;

    if (stored_hash == NULL || domain_id == NULL) {
        rc = ERR_INTERNAL;
        goto out;
    }
    if (strcmp(stored_hash, a->request_hash) != 0) {
        rc = ERR_MISMATCH;
        goto out;
    }
    rc = domain_fetch(c, a->d->account, domain_id, &a->result);

out:
    free(stored_hash);
    free(domain_id);
    return rc;
}


static int
create_body(struct conn *c, void *arg)
{
    struct create_args *a = arg;
    const struct store_domain *d = a->d;
    int64_t n_live;
    int rc;

    store_domain_clear(&a->result);

    if (a->client_token != NULL) {
        rc = create_replay(c, a);
        if (rc <= 0)
            return rc;
    }

    /* Counted inside the write transaction: no other create can slip in
     * between the count and the insert. */
    rc = stmt_int64(c, ST_DOMAIN_COUNT_LIVE, &n_live, "s", d->account);
    if (rc != 0)
        return rc;
    if (n_live >= a->max_domains)
        return ERR_QUOTA;

    rc = stmt_exec(c, ST_DOMAIN_INSERT, "ssssssssssdd", d->account, d->id,
                   d->name, d->description, d->status, d->kms_key_id,
                   d->sse_old_kms_key_id, d->sse_update_status,
                   d->sse_update_message, d->default_watchlist_id,
                   d->created_at, d->updated_at);
    if (rc == 0) {
        rc = stmt_exec(c, ST_WATCHLIST_INSERT, "ssssd",
                       d->default_watchlist_id, d->id, "Default",
                       "Default watchlist", d->created_at);
    }
    for (size_t i = 0; rc == 0 && i < a->n_tags; i++) {
        rc = stmt_exec(c, ST_TAG_PUT, "sss", d->id, a->tags[i].key,
                       a->tags[i].value);
    }
    if (rc == 0 && a->client_token != NULL) {
        rc = stmt_exec(c, ST_IDEM_PUT, "sssssd", d->account,
                       OP_CREATE_DOMAIN, a->client_token, a->request_hash,
                       d->id, d->created_at);
    }
    if (rc != 0)
        return rc;

    /* Read back so the caller sees exactly what is stored, seq included. */
    return domain_fetch(c, d->account, d->id, &a->result);
}


static int
sqlite_domain_create(struct store *s, const struct store_domain *d,
                     const struct store_tag *tags, size_t n_tags,
                     const char *client_token, const char *request_hash,
                     int max_domains, struct store_domain *out)
{
    struct create_args a;
    int rc;

    memset(&a, 0, sizeof(a));
    a.d = d;
    a.tags = tags;
    a.n_tags = n_tags;
    a.client_token = client_token;
    a.request_hash = request_hash;
    a.max_domains = max_domains;

    rc = write_run(store_of(s), create_body, &a);
    if (rc != 0) {
        store_domain_clear(&a.result);
        return rc;
    }
    *out = a.result;
    return 0;
}


struct get_args {
    const char *account;
    const char *id;
    struct store_domain result;
};


static int
get_body(struct conn *c, void *arg)
{
    struct get_args *a = arg;

    store_domain_clear(&a->result);
    return domain_fetch(c, a->account, a->id, &a->result);
}


static int
sqlite_domain_get(struct store *s, const char *account, const char *id,
                  struct store_domain *out)
{
    struct get_args a;
    int rc;

    memset(&a, 0, sizeof(a));
    a.account = account;
    a.id = id;

    rc = read_run(store_of(s), TXN_NONE, get_body, &a);
    if (rc != 0) {
        store_domain_clear(&a.result);
        return rc;
    }
    *out = a.result;
    return 0;
}


#define RESEAL_BATCH 256

struct update_args {
    const struct store_domain *d;
    store_reseal_fn reseal;
    void *reseal_arg;
    size_t n_resealed;
};


/* Reads the next batch of at most RESEAL_BATCH sealed voiceprints of the
 * domain after seq 'after' into 'batch'; *n receives how many. */
static int
sealed_batch(struct conn *c, const char *domain_id, int64_t after,
             struct store_speaker *batch, size_t *n)
{
    sqlite3_stmt *st;
    int rc;

    *n = 0;
    rc = stmt_open(c, ST_SPEAKER_SEALED, &st, "sii", domain_id, after,
                   (int64_t)RESEAL_BATCH);
    if (rc != 0)
        return rc;
    while ((rc = stmt_step(c, ST_SPEAKER_SEALED)) == 1) {
        rc = speaker_from_row(st, &batch[*n]);
        if (rc != 0)
            break;
        (*n)++;
    }
    stmt_done(st);
    return rc < 0 ? rc : 0;
}


/* Re-seals every voiceprint of the domain from 'old_key' to the new key.
 * The batch is read whole before it is rewritten, so no statement reads
 * the table while it changes. */
static int
reseal_all(struct conn *c, struct update_args *a, const char *old_key)
{
    struct store_speaker *batch;
    unsigned char *sealed;
    size_t sealed_len;
    size_t n = 0;
    int64_t after = 0;
    int rc;

    batch = calloc(RESEAL_BATCH, sizeof(*batch));
    if (batch == NULL)
        return ERR_NOMEM;

    do {
        rc = sealed_batch(c, a->d->id, after, batch, &n);
        for (size_t i = 0; rc == 0 && i < n; i++) {
            if (a->reseal == NULL) {
                rc = ERR_INVAL;
                break;
            }
            sealed = NULL;
            rc = a->reseal(a->reseal_arg, &batch[i], old_key,
                           a->d->kms_key_id, &sealed, &sealed_len);
            if (rc == 0)
                rc = stmt_exec(c, ST_SPEAKER_RESEAL, "sb", batch[i].id,
                               (const void *)sealed, sealed_len);
            free(sealed);
            if (rc == 0)
                a->n_resealed++;
            after = batch[i].seq;
        }
        for (size_t i = 0; i < n; i++)
            store_speaker_clear(&batch[i]);
    } while (rc == 0 && n == RESEAL_BATCH);

    free(batch);
    return rc;
}


static int
update_body(struct conn *c, void *arg)
{
    struct update_args *a = arg;
    const struct store_domain *d = a->d;
    struct store_domain old;
    int rc;

    a->n_resealed = 0;
    memset(&old, 0, sizeof(old));
    rc = domain_fetch(c, d->account, d->id, &old);
    if (rc == 0 && strcmp(old.kms_key_id, d->kms_key_id) != 0)
        rc = reseal_all(c, a, old.kms_key_id);
    store_domain_clear(&old);
    if (rc != 0)
        return rc;

    rc = stmt_exec(c, ST_DOMAIN_UPDATE, "ssssssssd", d->account, d->id,
                   d->name, d->description, d->kms_key_id,
                   d->sse_old_kms_key_id, d->sse_update_status,
                   d->sse_update_message, d->updated_at);
    if (rc != 0)
        return rc;
    return sqlite3_changes(c->db) == 0 ? ERR_NOTFOUND : 0;
}


static int
sqlite_domain_update(struct store *s, const struct store_domain *d,
                     store_reseal_fn reseal, void *reseal_arg,
                     size_t *n_resealed)
{
    struct update_args a = { d, reseal, reseal_arg, 0 };
    int rc;

    rc = write_run(store_of(s), update_body, &a);
    *n_resealed = rc == 0 ? a.n_resealed : 0;
    return rc;
}


struct delete_args {
    const char *account;
    const char *id;
    double now;
};


static int
delete_body(struct conn *c, void *arg)
{
    struct delete_args *a = arg;
    int rc;

    rc = stmt_exec(c, ST_DOMAIN_DELETE, "ssd", a->account, a->id, a->now);
    if (rc != 0)
        return rc;
    return sqlite3_changes(c->db) == 0 ? ERR_NOTFOUND : 0;
}


static int
sqlite_domain_delete(struct store *s, const char *account, const char *id,
                     double now)
{
    struct delete_args a = { account, id, now };

    return write_run(store_of(s), delete_body, &a);
}


struct purge_args {
    enum stmt_id stmt;      /* a DELETE ... RETURNING of (time, limit) */
    double before;
    int limit;
    size_t n_erased;
};


static int
purge_body(struct conn *c, void *arg)
{
    struct purge_args *a = arg;
    sqlite3_stmt *st;
    int rc;

    a->n_erased = 0;
    rc = stmt_open(c, a->stmt, &st, "di", a->before, (int64_t)a->limit);
    if (rc != 0)
        return rc;
    while ((rc = stmt_step(c, a->stmt)) == 1)
        a->n_erased++;
    stmt_done(st);
    return rc;
}


static int
sqlite_domain_purge(struct store *s, double deleted_before, int limit,
                    size_t *n_erased)
{
    struct purge_args a = { ST_DOMAIN_PURGE, deleted_before, limit, 0 };
    int rc;

    rc = write_run(store_of(s), purge_body, &a);
    if (rc == 0)
        *n_erased = a.n_erased;
    return rc;
}


static int
sqlite_idempotency_purge(struct store *s, double created_before, int limit,
                         size_t *n_erased)
{
    struct purge_args a = { ST_IDEMPOTENCY_PURGE, created_before, limit,
                            0 };
    int rc;

    rc = write_run(store_of(s), purge_body, &a);
    if (rc == 0)
        *n_erased = a.n_erased;
    return rc;
}


struct list_args {
    const char *account;
    int64_t after_seq;
    int limit;
    struct store_domain *items;
    size_t n;
    bool more;
};


static void
list_args_release(struct list_args *a)
{
    store_domains_free(a->items, a->n);
    a->items = NULL;
    a->n = 0;
    a->more = false;
}


static int
list_body(struct conn *c, void *arg)
{
    struct list_args *a = arg;
    sqlite3_stmt *st;
    size_t cap = 0;
    int rc;

    list_args_release(a);

    /* One row more than asked says whether another page follows. */
    rc = stmt_open(c, ST_DOMAIN_LIST, &st, "sii", a->account, a->after_seq,
                   (int64_t)a->limit + 1);
    if (rc != 0)
        return rc;

    while ((rc = stmt_step(c, ST_DOMAIN_LIST)) == 1) {
        if (a->n == (size_t)a->limit) {
            a->more = true;
            continue;
        }
        rc = array_reserve((void **)&a->items, &cap, a->n,
                           sizeof(*a->items));
        if (rc == 0)
            rc = domain_from_row(st, &a->items[a->n]);
        if (rc != 0)
            break;
        a->n++;
    }
    stmt_done(st);
    if (rc != 0)
        list_args_release(a);
    return rc;
}


static int
sqlite_domain_list(struct store *s, const char *account,
                   int64_t after_seq, int limit,
                   struct store_domain **out, size_t *n_out, bool *more)
{
    struct list_args a;
    int rc;

    memset(&a, 0, sizeof(a));
    a.account = account;
    a.after_seq = after_seq;
    a.limit = limit;

    rc = read_run(store_of(s), TXN_NONE, list_body, &a);
    if (rc != 0) {
        list_args_release(&a);
        return rc;
    }
    *out = a.items;
    *n_out = a.n;
    *more = a.more;
    return 0;
}


struct tags_args {
    const char *account;
    const char *domain_id;
    const struct store_tag *tags;       /* put */
    size_t n_tags;
    size_t max_tags;
    const char *const *keys;            /* remove */
    size_t n_keys;
    struct store_tag *items;            /* list */
    size_t n_items;
};


static int
tags_put_body(struct conn *c, void *arg)
{
    struct tags_args *a = arg;
    int64_t n;
    int rc;

    rc = domain_check_live(c, a->account, a->domain_id);
    for (size_t i = 0; rc == 0 && i < a->n_tags; i++) {
        rc = stmt_exec(c, ST_TAG_PUT, "sss", a->domain_id, a->tags[i].key,
                       a->tags[i].value);
    }
    if (rc == 0)
        rc = stmt_int64(c, ST_TAG_COUNT, &n, "s", a->domain_id);
    if (rc != 0)
        return rc;

    /* Checked after the upserts, which is where replaced keys stop
     * counting twice; the rollback undoes them. */
    return (uint64_t)n > a->max_tags ? ERR_QUOTA : 0;
}


static int
sqlite_domain_tags_put(struct store *s, const char *account,
                       const char *domain_id,
                       const struct store_tag *tags, size_t n_tags,
                       size_t max_tags)
{
    struct tags_args a;

    memset(&a, 0, sizeof(a));
    a.account = account;
    a.domain_id = domain_id;
    a.tags = tags;
    a.n_tags = n_tags;
    a.max_tags = max_tags;
    return write_run(store_of(s), tags_put_body, &a);
}


static int
tags_remove_body(struct conn *c, void *arg)
{
    struct tags_args *a = arg;
    int rc;

    rc = domain_check_live(c, a->account, a->domain_id);
    for (size_t i = 0; rc == 0 && i < a->n_keys; i++)
        rc = stmt_exec(c, ST_TAG_DELETE, "ss", a->domain_id, a->keys[i]);
    return rc;
}


static int
sqlite_domain_tags_remove(struct store *s, const char *account,
                          const char *domain_id,
                          const char *const *keys, size_t n_keys)
{
    struct tags_args a;

    memset(&a, 0, sizeof(a));
    a.account = account;
    a.domain_id = domain_id;
    a.keys = keys;
    a.n_keys = n_keys;
    return write_run(store_of(s), tags_remove_body, &a);
}


static void
tags_args_release(struct tags_args *a)
{
    store_tags_free(a->items, a->n_items);
    a->items = NULL;
    a->n_items = 0;
}


static int
tags_list_body(struct conn *c, void *arg)
{
    struct tags_args *a = arg;
    struct store_tag *tag;
    sqlite3_stmt *st;
    size_t cap = 0;
    int rc;

    tags_args_release(a);

    rc = domain_check_live(c, a->account, a->domain_id);
    if (rc == 0)
        rc = stmt_open(c, ST_TAG_LIST, &st, "s", a->domain_id);
    if (rc != 0)
        return rc;

    while ((rc = stmt_step(c, ST_TAG_LIST)) == 1) {
        rc = array_reserve((void **)&a->items, &cap, a->n_items,
                           sizeof(*a->items));
        if (rc != 0)
            break;
        tag = &a->items[a->n_items];
        memset(tag, 0, sizeof(*tag));
        /* Counted before the copies so that a half-copied tag is freed. */
        a->n_items++;
        rc = col_text(st, 0, &tag->key);
        if (rc == 0)
            rc = col_text(st, 1, &tag->value);
        if (rc == 0 && (tag->key == NULL || tag->value == NULL))
            rc = ERR_INTERNAL;
        if (rc != 0)
            break;
    }
    stmt_done(st);
    if (rc != 0)
        tags_args_release(a);
    return rc;
}


static int
sqlite_domain_tags_list(struct store *s, const char *account,
                        const char *domain_id,
                        struct store_tag **out, size_t *n_out)
{
    struct tags_args a;
    int rc;

    memset(&a, 0, sizeof(a));
    a.account = account;
    a.domain_id = domain_id;

    /* One snapshot for the existence check and the tags. */
    rc = read_run(store_of(s), TXN_READ, tags_list_body, &a);
    if (rc != 0) {
        tags_args_release(&a);
        return rc;
    }
    *out = a.items;
    *n_out = a.n_items;
    return 0;
}


struct setting_args {
    const char *key;
    const char *value;                  /* put */
    char *result;                       /* get */
};


static int
setting_get_body(struct conn *c, void *arg)
{
    struct setting_args *a = arg;
    sqlite3_stmt *st;
    int rc;

    free(a->result);
    a->result = NULL;

    rc = stmt_open(c, ST_SETTING_GET, &st, "s", a->key);
    if (rc != 0)
        return rc;
    rc = stmt_step(c, ST_SETTING_GET);
    if (rc == 1)
        rc = col_text(st, 0, &a->result);
    else if (rc == 0)
        rc = ERR_NOTFOUND;
    stmt_done(st);
    if (rc == 0 && a->result == NULL)
        rc = ERR_INTERNAL;
    return rc;
}


static int
sqlite_setting_get(struct store *s, const char *key, char **value)
{
    struct setting_args a = { key, NULL, NULL };
    int rc;

    rc = read_run(store_of(s), TXN_NONE, setting_get_body, &a);
    if (rc != 0) {
        free(a.result);
        return rc;
    }
    *value = a.result;
    return 0;
}


static int
setting_put_body(struct conn *c, void *arg)
{
    struct setting_args *a = arg;

    return stmt_exec(c, ST_SETTING_PUT, "ss", a->key, a->value);
}


static int
sqlite_setting_put(struct store *s, const char *key, const char *value)
{
    struct setting_args a = { key, value, NULL };

    return write_run(store_of(s), setting_put_body, &a);
}


/* Fetches a job through statement 'id' whose parameters follow 'types';
 * ERR_NOTFOUND when no row matches. */
static int
job_fetch(struct conn *c, enum stmt_id id, struct store_job *out,
          const char *types, ...)
{
    sqlite3_stmt *st;
    va_list ap;
    int rc;

    va_start(ap, types);
    rc = stmt_vopen(c, id, &st, types, ap);
    va_end(ap);
    if (rc != 0)
        return rc;

    rc = stmt_step(c, id);
    if (rc == 1)
        rc = job_from_row(st, out);
    else if (rc == 0)
        rc = ERR_NOTFOUND;
    stmt_done(st);
    return rc;
}


struct job_create_args {
    const struct store_job *j;
    const char *client_token;
    const char *request_hash;
    int max_active;
    struct store_job result;
};


/* Looks the client token up: 1 if unused, 0 with the first request's job
 * in a->result if it is a replay, or an ERR_*. */
static int
job_create_replay(struct conn *c, struct job_create_args *a)
{
    sqlite3_stmt *st;
    char *stored_hash = NULL;
    char *job_id = NULL;
    int rc;

    rc = stmt_open(c, ST_IDEM_GET, &st, "sss", a->j->account, OP_START_JOB,
                   a->client_token);
    if (rc != 0)
        return rc;
    rc = stmt_step(c, ST_IDEM_GET);
    if (rc == 1) {
        rc = col_text(st, 0, &stored_hash);
        if (rc == 0)
            rc = col_text(st, 1, &job_id);
    } else if (rc == 0) {
        rc = 1;
    }
    stmt_done(st);
    if (rc != 0)
        goto out;

    if (stored_hash == NULL || job_id == NULL) {
        rc = ERR_INTERNAL;
        goto out;
    }
    if (strcmp(stored_hash, a->request_hash) != 0) {
        rc = ERR_MISMATCH;
        goto out;
    }
    /* Looked up in the domain of this request: a token reused for
     * another domain finds nothing there rather than a foreign job. */
    rc = job_fetch(c, ST_JOB_GET, &a->result, "sss", job_id,
                   a->j->account, a->j->domain_id);

out:
    free(stored_hash);
    free(job_id);
    return rc;
}


static int
job_create_body(struct conn *c, void *arg)
{
    struct job_create_args *a = arg;
    const struct store_job *j = a->j;
    int64_t n_active;
    int rc;

    store_job_clear(&a->result);

    if (a->client_token != NULL) {
        rc = job_create_replay(c, a);
        if (rc <= 0)
            return rc;
    }

    /* Checked and counted inside the write transaction: no delete or
     * other create can slip in before the insert. */
    rc = domain_check_live(c, j->account, j->domain_id);
    if (rc == 0) {
        rc = stmt_int64(c, ST_JOB_COUNT_ACTIVE, &n_active, "s",
                        j->domain_id);
    }
    if (rc != 0)
        return rc;
    if (n_active >= a->max_active)
        return ERR_QUOTA;

    rc = stmt_exec(c, ST_JOB_INSERT, "ssssds", j->account, j->id,
                   j->domain_id, j->name, j->created_at, j->request_json);
    if (rc == 0 && a->client_token != NULL) {
        rc = stmt_exec(c, ST_IDEM_PUT, "sssssd", j->account, OP_START_JOB,
                       a->client_token, a->request_hash, j->id,
                       j->created_at);
    }
    if (rc != 0)
        return rc;

    return job_fetch(c, ST_JOB_GET_BY_ID, &a->result, "s", j->id);
}


static int
sqlite_job_create(struct store *s, const struct store_job *j,
                  const char *client_token, const char *request_hash,
                  int max_active, struct store_job *out)
{
    struct job_create_args a;
    int rc;

    memset(&a, 0, sizeof(a));
    a.j = j;
    a.client_token = client_token;
    a.request_hash = request_hash;
    a.max_active = max_active;

    rc = write_run(store_of(s), job_create_body, &a);
    if (rc != 0) {
        store_job_clear(&a.result);
        return rc;
    }
    *out = a.result;
    return 0;
}


struct import_args {
    const struct store_job *jobs;
    size_t n;
};


/* One prepared statement reset and rebound per row, in one transaction:
 * the per-row cost is the B-tree inserts, not parsing or syncing. */
static int
import_body(struct conn *c, void *arg)
{
    struct import_args *a = arg;
    const struct store_job *j;
    int rc;

    rc = domain_check_live(c, a->jobs[0].account, a->jobs[0].domain_id);
    for (size_t i = 0; rc == 0 && i < a->n; i++) {
        j = &a->jobs[i];
        rc = stmt_exec(c, ST_JOB_IMPORT, "sssssddiiss", j->account, j->id,
                       j->domain_id, j->name, j->status, j->created_at,
                       j->ended_at, (int64_t)j->percent_complete,
                       (int64_t)j->failure_code, j->failure_message,
                       j->request_json);
    }
    return rc;
}


static int
sqlite_jobs_import(struct store *s, const struct store_job *jobs, size_t n)
{
    struct import_args a = { jobs, n };

    return write_run(store_of(s), import_body, &a);
}


struct job_get_args {
    const char *account;
    const char *domain_id;
    const char *job_id;
    struct store_job result;
};


static int
job_get_body(struct conn *c, void *arg)
{
    struct job_get_args *a = arg;

    store_job_clear(&a->result);
    return job_fetch(c, ST_JOB_GET, &a->result, "sss", a->job_id,
                     a->account, a->domain_id);
}


static int
sqlite_job_get(struct store *s, const char *account, const char *domain_id,
               const char *job_id, struct store_job *out)
{
    struct job_get_args a;
    int rc;

    memset(&a, 0, sizeof(a));
    a.account = account;
    a.domain_id = domain_id;
    a.job_id = job_id;

    /* One statement checks the job and its domain: no snapshot needed. */
    rc = read_run(store_of(s), TXN_NONE, job_get_body, &a);
    if (rc != 0) {
        store_job_clear(&a.result);
        return rc;
    }
    *out = a.result;
    return 0;
}


struct job_list_args {
    const char *account;
    const char *domain_id;
    const char *status;
    int64_t before_seq;
    int limit;
    store_job_visit_fn visit;
    void *visit_arg;
    bool more;
};


/* Points the record's strings at the row's columns, without copying:
 * valid until the statement steps again. */
static int
job_view_of_row(sqlite3_stmt *st, struct store_job *j)
{
    int rc;

    memset(j, 0, sizeof(*j));
    j->seq = sqlite3_column_int64(st, 0);
    rc = col_fixed(st, 1, j->account, sizeof(j->account));
    if (rc == 0)
        rc = col_fixed(st, 2, j->id, sizeof(j->id));
    if (rc == 0)
        rc = col_fixed(st, 3, j->domain_id, sizeof(j->domain_id));
    j->name = (char *)sqlite3_column_text(st, 4);
    j->status = (char *)sqlite3_column_text(st, 5);
    j->created_at = sqlite3_column_double(st, 6);
    /* SQL NULL reads as 0, which is what the record uses for unset. */
    j->ended_at = sqlite3_column_double(st, 7);
    j->percent_complete = sqlite3_column_int(st, 8);
    j->failure_code = sqlite3_column_int(st, 9);
    j->failure_message = (char *)sqlite3_column_text(st, 10);
    if (rc == 0 && j->status == NULL)
        rc = ERR_INTERNAL;
    return rc;
}


static int
job_list_body(struct conn *c, void *arg)
{
    struct job_list_args *a = arg;
    enum stmt_id id = a->status != NULL ? ST_JOB_LIST_STATUS : ST_JOB_LIST;
    /* 0 starts at the newest: no seq reaches INT64_MAX. */
    int64_t before = a->before_seq > 0 ? a->before_seq : INT64_MAX;
    int64_t n_rows = (int64_t)a->limit + 1;
    struct store_job view;
    sqlite3_stmt *st;
    int n = 0;
    int rc;

    a->more = false;
    rc = a->visit(a->visit_arg, NULL);
    if (rc != 0)
        return rc;

    rc = domain_check_live(c, a->account, a->domain_id);
    if (rc != 0)
        return rc;

    /* One row more than asked says whether another page follows. */
    if (a->status != NULL) {
        rc = stmt_open(c, id, &st, "sssii", a->account, a->domain_id,
                       a->status, before, n_rows);
    } else {
        rc = stmt_open(c, id, &st, "ssii", a->account, a->domain_id, before,
                       n_rows);
    }
    if (rc != 0)
        return rc;

    while ((rc = stmt_step(c, id)) == 1) {
        if (n == a->limit) {
            a->more = true;
            continue;
        }
        rc = job_view_of_row(st, &view);
        if (rc == 0)
            rc = a->visit(a->visit_arg, &view);
        if (rc != 0)
            break;
        n++;
    }
    stmt_done(st);
    return rc;
}


static int
sqlite_job_list_each(struct store *s, const char *account,
                     const char *domain_id, const char *status,
                     int64_t before_seq, int limit, store_job_visit_fn visit,
                     void *arg, bool *more)
{
    struct job_list_args a;
    int rc;

    memset(&a, 0, sizeof(a));
    a.account = account;
    a.domain_id = domain_id;
    a.status = status;
    a.before_seq = before_seq;
    a.limit = limit;
    a.visit = visit;
    a.visit_arg = arg;

    /* One snapshot for the domain check and the page. */
    rc = read_run(store_of(s), TXN_READ, job_list_body, &a);
    if (rc == 0)
        *more = a.more;
    return rc;
}


struct claim_args {
    const char *owner;
    double now;
    double lease_s;
    struct store_job result;
};


/* Picks and takes the job under the write lock, so a runner of another
 * process cannot take the same job between the two statements. */
static int
claim_body(struct conn *c, void *arg)
{
    struct claim_args *a = arg;
    sqlite3_stmt *st;
    char *job_id = NULL;
    int rc;

    store_job_clear(&a->result);

    rc = stmt_open(c, ST_JOB_CLAIM_PICK, &st, "d", a->now);
    if (rc != 0)
        return rc;
    rc = stmt_step(c, ST_JOB_CLAIM_PICK);
    if (rc == 1)
        rc = col_text(st, 1, &job_id);
    else if (rc == 0)
        rc = ERR_NOTFOUND;
    stmt_done(st);
    if (rc == 0 && job_id == NULL)
        rc = ERR_INTERNAL;
    if (rc != 0)
        goto out;

    rc = stmt_exec(c, ST_JOB_CLAIM, "ssdd", job_id, a->owner,
                   a->now + a->lease_s, a->now);
    if (rc != 0)
        goto out;
    /* The pick and the update test the same condition in one write
     * transaction, so a miss means the two statements disagree. */
    if (sqlite3_changes(c->db) != 1) {
        rc = ERR_INTERNAL;
        goto out;
    }
    rc = job_fetch(c, ST_JOB_GET_BY_ID, &a->result, "s", job_id);

out:
    free(job_id);
    return rc;
}


static int
sqlite_job_claim(struct store *s, const char *owner, double now,
                 double lease_s, struct store_job *out)
{
    struct claim_args a;
    int rc;

    memset(&a, 0, sizeof(a));
    a.owner = owner;
    a.now = now;
    a.lease_s = lease_s;

    rc = write_run(store_of(s), claim_body, &a);
    if (rc != 0) {
        store_job_clear(&a.result);
        return rc;
    }
    *out = a.result;
    return 0;
}


struct lease_args {
    const char *job_id;
    const char *owner;
    double expires;                     /* heartbeat */
    int percent_complete;
    const char *status;                 /* finish */
    double ended_at;
    int failure_code;
    const char *failure_message;
};


static int
heartbeat_body(struct conn *c, void *arg)
{
    struct lease_args *a = arg;
    int rc;

    rc = stmt_exec(c, ST_JOB_HEARTBEAT, "ssdi", a->job_id, a->owner,
                   a->expires, (int64_t)a->percent_complete);
    if (rc != 0)
        return rc;
    return sqlite3_changes(c->db) == 0 ? ERR_EXPIRED : 0;
}


/* A lease past its end still counts as held until another runner claims
 * the job: a slow runner that renews late loses nothing. */
static int
sqlite_job_heartbeat(struct store *s, const char *job_id,
                     const char *owner, double now, double lease_s,
                     int percent_complete)
{
    struct lease_args a;

    memset(&a, 0, sizeof(a));
    a.job_id = job_id;
    a.owner = owner;
    a.expires = now + lease_s;
    a.percent_complete = percent_complete;
    return write_run(store_of(s), heartbeat_body, &a);
}


static int
finish_body(struct conn *c, void *arg)
{
    struct lease_args *a = arg;
    int rc;

    rc = stmt_exec(c, ST_JOB_FINISH, "sssdis", a->job_id, a->owner,
                   a->status, a->ended_at, (int64_t)a->failure_code,
                   a->failure_message);
    if (rc != 0)
        return rc;
    return sqlite3_changes(c->db) == 0 ? ERR_EXPIRED : 0;
}


static int
sqlite_job_finish(struct store *s, const char *job_id, const char *owner,
                  const char *status, double ended_at, int failure_code,
                  const char *failure_message)
{
    struct lease_args a;

    memset(&a, 0, sizeof(a));
    a.job_id = job_id;
    a.owner = owner;
    a.status = status;
    a.ended_at = ended_at;
    a.failure_code = failure_code;
    a.failure_message = failure_message;
    return write_run(store_of(s), finish_body, &a);
}


/* True if 'speaker_id' names a speaker by its generated id. */
static bool
speaker_id_generated(const char *speaker_id)
{
    return strncmp(speaker_id, "id#", 3) == 0;
}


/* Fetches a speaker of a live domain by either of its ids into *out;
 * ERR_NOTFOUND when no row matches. */
static int
speaker_fetch(struct conn *c, const char *account, const char *domain_id,
              const char *speaker_id, struct store_speaker *out)
{
    enum stmt_id id = speaker_id_generated(speaker_id)
                          ? ST_SPEAKER_GET_BY_ID
                          : ST_SPEAKER_GET_BY_CUSTOMER;
    sqlite3_stmt *st;
    int rc;

    rc = stmt_open(c, id, &st, "sss", speaker_id, account, domain_id);
    if (rc != 0)
        return rc;

    rc = stmt_step(c, id);
    if (rc == 1)
        rc = speaker_from_row(st, out);
    else if (rc == 0)
        rc = ERR_NOTFOUND;
    stmt_done(st);
    return rc;
}


/* Fills *out as a speaker that is not stored: its domain and customer id,
 * an empty generated id and no status. */
static int
speaker_stub(const char *account, const char *domain_id,
             const char *customer_id, struct store_speaker *out)
{
    memset(out, 0, sizeof(*out));
    snprintf(out->account, sizeof(out->account), "%s", account);
    snprintf(out->domain_id, sizeof(out->domain_id), "%s", domain_id);
    out->customer_id = store__strdup(customer_id);
    return out->customer_id == NULL ? ERR_NOMEM : 0;
}


struct speaker_args {
    const char *account;
    const char *domain_id;
    const char *speaker_id;
    const char *new_id;                 /* opt-out */
    int max_speakers;
    double now;
    struct store_speaker result;        /* get, opt-out */
};


static int
speaker_get_body(struct conn *c, void *arg)
{
    struct speaker_args *a = arg;

    store_speaker_clear(&a->result);
    return speaker_fetch(c, a->account, a->domain_id, a->speaker_id,
                         &a->result);
}


static int
sqlite_speaker_get(struct store *s, const char *account,
                   const char *domain_id, const char *speaker_id,
                   struct store_speaker *out)
{
    struct speaker_args a;
    int rc;

    memset(&a, 0, sizeof(a));
    a.account = account;
    a.domain_id = domain_id;
    a.speaker_id = speaker_id;

    /* One statement checks the speaker and its domain: no snapshot. */
    rc = read_run(store_of(s), TXN_NONE, speaker_get_body, &a);
    if (rc != 0) {
        store_speaker_clear(&a.result);
        return rc;
    }
    *out = a.result;
    return 0;
}


struct speaker_list_args {
    const char *account;
    const char *domain_id;
    int64_t after_seq;
    int limit;
    struct store_speaker *items;
    size_t n;
    bool more;
};


static void
speaker_list_args_release(struct speaker_list_args *a)
{
    store_speakers_free(a->items, a->n);
    a->items = NULL;
    a->n = 0;
    a->more = false;
}


static int
speaker_list_body(struct conn *c, void *arg)
{
    struct speaker_list_args *a = arg;
    sqlite3_stmt *st;
    size_t cap = 0;
    int rc;

    speaker_list_args_release(a);

    rc = domain_check_live(c, a->account, a->domain_id);
    if (rc != 0)
        return rc;

    /* One row more than asked says whether another page follows. */
    rc = stmt_open(c, ST_SPEAKER_LIST, &st, "ssii", a->account,
                   a->domain_id, a->after_seq, (int64_t)a->limit + 1);
    if (rc != 0)
        return rc;

    while ((rc = stmt_step(c, ST_SPEAKER_LIST)) == 1) {
        if (a->n == (size_t)a->limit) {
            a->more = true;
            continue;
        }
        rc = array_reserve((void **)&a->items, &cap, a->n,
                           sizeof(*a->items));
        if (rc == 0)
            rc = speaker_from_row(st, &a->items[a->n]);
        if (rc != 0)
            break;
        a->n++;
    }
    stmt_done(st);
    if (rc != 0)
        speaker_list_args_release(a);
    return rc;
}


static int
sqlite_speaker_list(struct store *s, const char *account,
                    const char *domain_id, int64_t after_seq, int limit,
                    struct store_speaker **out, size_t *n_out, bool *more)
{
    struct speaker_list_args a;
    int rc;

    memset(&a, 0, sizeof(a));
    a.account = account;
    a.domain_id = domain_id;
    a.after_seq = after_seq;
    a.limit = limit;

    /* One snapshot for the domain check and the page. */
    rc = read_run(store_of(s), TXN_READ, speaker_list_body, &a);
    if (rc != 0) {
        speaker_list_args_release(&a);
        return rc;
    }
    *out = a.items;
    *n_out = a.n;
    *more = a.more;
    return 0;
}


static int
speaker_delete_body(struct conn *c, void *arg)
{
    struct speaker_args *a = arg;
    enum stmt_id id = speaker_id_generated(a->speaker_id)
                          ? ST_SPEAKER_DELETE
                          : ST_SPEAKER_DELETE_BY_CUSTOMER;
    int rc;

    /* The live check also proves the account: speakers carry the
     * account of their domain. */
    rc = domain_check_live(c, a->account, a->domain_id);
    if (rc == 0)
        rc = stmt_exec(c, id, "ss", a->speaker_id, a->domain_id);
    if (rc != 0)
        return rc;
    return sqlite3_changes(c->db) == 0 ? ERR_NOTFOUND : 0;
}


static int
sqlite_speaker_delete(struct store *s, const char *account,
                      const char *domain_id, const char *speaker_id)
{
    struct speaker_args a;

    memset(&a, 0, sizeof(a));
    a.account = account;
    a.domain_id = domain_id;
    a.speaker_id = speaker_id;
    return write_run(store_of(s), speaker_delete_body, &a);
}


/* Opts out the speaker found in a->result, or creates it opted out when
 * a->result is empty; 'id' receives the generated id either way. */
static int
opt_out_apply(struct conn *c, struct speaker_args *a, char *id,
              size_t id_size)
{
    int64_t n;
    int rc;

    if (a->result.id[0] != '\0') {
        snprintf(id, id_size, "%s", a->result.id);
        return stmt_exec(c, ST_SPEAKER_OPT_OUT, "sd", id, a->now);
    }

    /* Counted inside the write transaction, like every quota. */
    rc = stmt_int64(c, ST_SPEAKER_COUNT, &n, "s", a->domain_id);
    if (rc != 0)
        return rc;
    if (n >= a->max_speakers)
        return ERR_QUOTA;
    snprintf(id, id_size, "%s", a->new_id);
    return stmt_exec(c, ST_SPEAKER_INSERT, "sssssdddbs", id, a->account,
                     a->domain_id, a->speaker_id, "OPTED_OUT", a->now,
                     a->now, 0.0, (const void *)NULL, (size_t)0,
                     (const char *)NULL);
}


/* A generated id names a speaker that must exist already: only a
 * customer id can bring a new speaker into being. */
static int
opt_out_body(struct conn *c, void *arg)
{
    struct speaker_args *a = arg;
    char id[sizeof(a->result.id)];
    int rc;

    store_speaker_clear(&a->result);

    rc = domain_check_live(c, a->account, a->domain_id);
    if (rc != 0)
        return rc;

    /* The domain is live: a miss now is about the speaker alone. */
    rc = speaker_fetch(c, a->account, a->domain_id, a->speaker_id,
                       &a->result);
    if (rc == ERR_NOTFOUND && !speaker_id_generated(a->speaker_id))
        rc = 0;
    if (rc == 0)
        rc = opt_out_apply(c, a, id, sizeof(id));
    store_speaker_clear(&a->result);
    if (rc != 0)
        return rc;

    return speaker_fetch(c, a->account, a->domain_id, id, &a->result);
}


static int
sqlite_speaker_opt_out(struct store *s, const char *account,
                       const char *domain_id, const char *speaker_id,
                       const char *new_id, int max_speakers, double now,
                       struct store_speaker *out)
{
    struct speaker_args a;
    int rc;

    memset(&a, 0, sizeof(a));
    a.account = account;
    a.domain_id = domain_id;
    a.speaker_id = speaker_id;
    a.new_id = new_id;
    a.max_speakers = max_speakers;
    a.now = now;

    rc = write_run(store_of(s), opt_out_body, &a);
    if (rc != 0) {
        store_speaker_clear(&a.result);
        return rc;
    }
    *out = a.result;
    return 0;
}


struct enroll_args {
    const char *job_id;
    const char *request_id;
    const struct store_speaker *sp;
    const char *sealed_with;
    bool overwrite;
    int max_speakers;
    enum store_enroll_outcome outcome;
    struct store_speaker result;
};


static bool
outcome_valid(int64_t outcome)
{
    return outcome >= STORE_ENROLL_NEW && outcome <= STORE_ENROLL_QUOTA;
}


/* Looks the request up: 1 if not applied yet, 0 with its recorded outcome
 * and current speaker in a if it was, or an ERR_*. A speaker that is gone
 * since, or was never stored, comes back as a stub. */
static int
enroll_replay(struct conn *c, struct enroll_args *a)
{
    const struct store_speaker *sp = a->sp;
    sqlite3_stmt *st;
    char *speaker_id = NULL;
    char *customer_id = NULL;
    int64_t outcome = 0;
    int rc;

    rc = stmt_open(c, ST_ENROLL_REQ_GET, &st, "ss", a->job_id,
                   a->request_id);
    if (rc != 0)
        return rc;
    rc = stmt_step(c, ST_ENROLL_REQ_GET);
    if (rc == 1) {
        outcome = sqlite3_column_int64(st, 0);
        rc = col_text(st, 1, &speaker_id);
        if (rc == 0)
            rc = col_text(st, 2, &customer_id);
    } else if (rc == 0) {
        rc = 1;
    }
    stmt_done(st);
    if (rc != 0)
        goto out;

    if (!outcome_valid(outcome) || customer_id == NULL) {
        rc = ERR_INTERNAL;
        goto out;
    }
    a->outcome = (enum store_enroll_outcome)outcome;
    rc = ERR_NOTFOUND;
    if (speaker_id != NULL) {
        rc = speaker_fetch(c, sp->account, sp->domain_id, speaker_id,
                           &a->result);
    }
    if (rc == ERR_NOTFOUND) {
        rc = speaker_stub(sp->account, sp->domain_id, customer_id,
                          &a->result);
    }

out:
    free(speaker_id);
    free(customer_id);
    return rc;
}


/* The speaker in a->result exists: refuse, skip or overwrite it. */
static int
enroll_existing(struct conn *c, struct enroll_args *a)
{
    const struct store_speaker *sp = a->sp;
    char id[sizeof(a->result.id)];
    int rc;

    if (strcmp(a->result.status, "OPTED_OUT") == 0) {
        a->outcome = STORE_ENROLL_OPTED_OUT;
        return 0;
    }
    if (!a->overwrite) {
        a->outcome = STORE_ENROLL_SKIPPED;
        return 0;
    }

    snprintf(id, sizeof(id), "%s", a->result.id);
    store_speaker_clear(&a->result);
    rc = stmt_exec(c, ST_SPEAKER_ENROLL, "sbsd", id,
                   (const void *)sp->voiceprint, sp->voiceprint_len,
                   sp->voiceprint_version, sp->updated_at);
    if (rc == 0)
        rc = speaker_fetch(c, sp->account, sp->domain_id, id, &a->result);
    if (rc == 0)
        a->outcome = STORE_ENROLL_OVERWRITE;
    return rc;
}


/* No speaker has the customer id: create it, unless the domain is full. */
static int
enroll_new(struct conn *c, struct enroll_args *a)
{
    const struct store_speaker *sp = a->sp;
    int64_t n;
    int rc;

    rc = stmt_int64(c, ST_SPEAKER_COUNT, &n, "s", sp->domain_id);
    if (rc != 0)
        return rc;
    if (n >= a->max_speakers) {
        a->outcome = STORE_ENROLL_QUOTA;
        return speaker_stub(sp->account, sp->domain_id, sp->customer_id,
                            &a->result);
    }

    rc = stmt_exec(c, ST_SPEAKER_INSERT, "sssssdddbs", sp->id, sp->account,
                   sp->domain_id, sp->customer_id, "ENROLLED",
                   sp->created_at, sp->updated_at, sp->updated_at,
                   (const void *)sp->voiceprint, sp->voiceprint_len,
                   sp->voiceprint_version);
    if (rc == 0) {
        rc = speaker_fetch(c, sp->account, sp->domain_id, sp->id,
                           &a->result);
    }
    if (rc == 0)
        a->outcome = STORE_ENROLL_NEW;
    return rc;
}


static int
enroll_body(struct conn *c, void *arg)
{
    struct enroll_args *a = arg;
    const struct store_speaker *sp = a->sp;
    sqlite3_stmt *st;
    int rc;

    store_speaker_clear(&a->result);

    /* One statement proves the job, its domain and the account. */
    rc = stmt_open(c, ST_JOB_LIVE, &st, "sss", a->job_id, sp->account,
                   sp->domain_id);
    if (rc != 0)
        return rc;
    rc = stmt_step(c, ST_JOB_LIVE);
    stmt_done(st);
    if (rc == 0)
        return ERR_NOTFOUND;
    if (rc < 0)
        return rc;

    rc = enroll_replay(c, a);
    if (rc <= 0)
        return rc;

    /* A key change re-seals every voiceprint under the new key in one
     * transaction; one sealed under the old key must not slip in after. */
    if (a->sealed_with != NULL) {
        int64_t same = 0;

        rc = stmt_int64(c, ST_DOMAIN_KEY, &same, "sss", sp->domain_id,
                        sp->account, a->sealed_with);
        if (rc != 0)
            return rc;
        if (!same)
            return ERR_MISMATCH;
    }

    rc = speaker_fetch(c, sp->account, sp->domain_id, sp->customer_id,
                       &a->result);
    if (rc == 0)
        rc = enroll_existing(c, a);
    else if (rc == ERR_NOTFOUND)
        rc = enroll_new(c, a);
    if (rc != 0)
        return rc;

    return stmt_exec(c, ST_ENROLL_REQ_PUT, "ssiss", a->job_id,
                     a->request_id, (int64_t)a->outcome,
                     a->result.id[0] != '\0' ? a->result.id : NULL,
                     a->result.customer_id);
}


static int
sqlite_enroll_apply(struct store *s, const char *job_id,
                    const char *request_id, const struct store_speaker *sp,
                    const char *sealed_with, bool overwrite,
                    int max_speakers,
                    enum store_enroll_outcome *outcome,
                    struct store_speaker *out)
{
    struct enroll_args a;
    int rc;

    memset(&a, 0, sizeof(a));
    a.job_id = job_id;
    a.request_id = request_id;
    a.sp = sp;
    a.sealed_with = sealed_with;
    a.overwrite = overwrite;
    a.max_speakers = max_speakers;

    rc = write_run(store_of(s), enroll_body, &a);
    if (rc != 0) {
        store_speaker_clear(&a.result);
        return rc;
    }
    *outcome = a.outcome;
    *out = a.result;
    return 0;
}


static const struct store_ops sqlite_ops = {
    .close = sqlite_close,
    .schema_version = sqlite_schema_version,
    .data_version = sqlite_data_version,
    .domain_create = sqlite_domain_create,
    .domain_get = sqlite_domain_get,
    .domain_update = sqlite_domain_update,
    .domain_delete = sqlite_domain_delete,
    .domain_list = sqlite_domain_list,
    .domain_tags_put = sqlite_domain_tags_put,
    .domain_tags_remove = sqlite_domain_tags_remove,
    .domain_tags_list = sqlite_domain_tags_list,
    .setting_get = sqlite_setting_get,
    .setting_put = sqlite_setting_put,
    .domain_purge = sqlite_domain_purge,
    .idempotency_purge = sqlite_idempotency_purge,
    .job_create = sqlite_job_create,
    .jobs_import = sqlite_jobs_import,
    .job_get = sqlite_job_get,
    .job_list_each = sqlite_job_list_each,
    .job_claim = sqlite_job_claim,
    .job_heartbeat = sqlite_job_heartbeat,
    .job_finish = sqlite_job_finish,
    .speaker_get = sqlite_speaker_get,
    .speaker_list = sqlite_speaker_list,
    .speaker_delete = sqlite_speaker_delete,
    .speaker_opt_out = sqlite_speaker_opt_out,
    .enroll_apply = sqlite_enroll_apply,
};
