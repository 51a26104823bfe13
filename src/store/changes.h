/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A count of write transactions, shared by every process that has one
 * SQLite database open, so that a process can tell at the cost of two
 * memory loads whether anything may have been written since it last read.
 * The store's caches rest on it.
 *
 * The count lives in a small file beside the database ("<db>-changes"),
 * mapped into each process's memory. It holds two counters: how many write
 * transactions have started and how many have ended. A writer calls
 * changes_begin() before it asks for the database's write lock and
 * changes_end() after its transaction has committed or rolled back, so
 * while the two counters are equal no write is under way, and a result
 * read while they stood at V is still current as long as they stay at V.
 *
 * Every process holds a shared lock (flock) on the file while it has it
 * open. A process that dies inside a write transaction leaves "started"
 * ahead of "ended", which only makes the others stop trusting their
 * caches; the first process to open the file when nobody else has it open
 * evens the counters again.
 *
 * TODO: until then every server sharing the file reads the database for
 * every domain request, correct but slower, and nothing says why. A
 * server could notice that the count has stayed uneven for longer than
 * any transaction lasts and log it once, or each process could count its
 * own transactions in a slot of the file so that a dead one's could be
 * written off without a restart.
 *
 * Only writers that go through this module are counted: a program that
 * changes the database file by other means (the sqlite3 shell, say) while
 * Timbre servers have it open leaves their caches stale.
 */
#ifndef TIMBRE_STORE_CHANGES_H
#define TIMBRE_STORE_CHANGES_H

#include <stdbool.h>
#include <stdint.h>

struct changes;

/*
 * Opens (creating if needed) the counter file of the database at
 * 'db_path', which should be an absolute path so that every process finds
 * the same file. On success *out is owned by the caller until
 * changes_close(). ERR_IO (logged) when the file cannot be created, locked
 * or mapped; ERR_NOMEM.
 */
int changes_open(const char *db_path, struct changes **out);

/* Unmaps and closes; NULL is allowed. */
void changes_close(struct changes *c);

/* Around every write transaction: begin before asking for the write lock,
 * end after COMMIT or ROLLBACK, also when the transaction failed. */
void changes_begin(struct changes *c);
void changes_end(struct changes *c);

/*
 * Sets *version to the number of write transactions started so far and
 * returns true when none is under way; returns false (leaving *version
 * alone) while one is, since its changes may be visible already.
 */
bool changes_version(const struct changes *c, uint64_t *version);

#endif
