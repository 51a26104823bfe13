/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The storage interface: everything Timbre keeps between requests.
 *
 * Callers see records and keyset cursors, never SQL. A backend (SQLite in
 * store_sqlite.c; PostgreSQL later) implements the functions below through
 * struct store_ops, and translates its own error codes into ERR_* values at
 * this boundary. Every change that touches more than one row runs in one
 * transaction, so a crash or a refused request leaves nothing half-done.
 *
 * Accounts are a 12-digit string on every call; a record of another account
 * is reported as ERR_NOTFOUND, exactly like a missing one. Deleted domains
 * keep their rows (with deleted_at set) until a retention sweep erases them,
 * but every call treats them as missing.
 *
 * Lists use keyset pagination: each record has a 'seq' that only grows, a
 * page starts strictly after the caller's cursor, and a page deep in the
 * history costs what the first one costs.
 *
 * Memory: records returned through OUT parameters are owned by the caller
 * and released with the matching *_clear() or *_free() function.
 * A store handle is safe to use from several threads at once.
 */
#ifndef TIMBRE_STORE_STORE_H
#define TIMBRE_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STORE_ID_LEN 22         /* resource ids: 22 alphanumerics */
#define STORE_ACCOUNT_LEN 12    /* account ids: 12 digits */

struct store;

struct store_domain {
    int64_t seq;                        /* creation order, for keysets */
    char account[STORE_ACCOUNT_LEN + 1];
    char id[STORE_ID_LEN + 1];
    char *name;                         /* owned */
    char *description;                  /* owned; NULL when absent */
    char *status;                       /* owned; "ACTIVE" */
    char *kms_key_id;                   /* owned */
    /* Server-side encryption update details; all NULL until the domain's
     * KMS key has been changed once. */
    char *sse_old_kms_key_id;           /* owned */
    char *sse_update_status;            /* owned: e.g. COMPLETED */
    char *sse_update_message;           /* owned */
    char default_watchlist_id[STORE_ID_LEN + 1];
    double created_at;                  /* epoch seconds */
    double updated_at;
};

/*
 * A speaker enrollment job. Its life:
 *
 *   SUBMITTED ──claim──► IN_PROGRESS ──finish──► COMPLETED
 *       ▲                     │                  COMPLETED_WITH_ERRORS
 *       └── lease expires ────┘                  FAILED
 *
 * A runner claims a job with a lease it must renew (heartbeat); a job
 * whose lease ran out may be claimed again by any runner of any process,
 * so a runner that died leaves no job stuck, and a job is never run by
 * two live runners at once.
 */
struct store_job {
    int64_t seq;                        /* creation order, for keysets */
    char account[STORE_ACCOUNT_LEN + 1];
    char id[STORE_ID_LEN + 1];
    char domain_id[STORE_ID_LEN + 1];
    char *name;                         /* owned; NULL when absent */
    char *status;                       /* owned: SUBMITTED, ... */
    double created_at;                  /* epoch seconds */
    double ended_at;                    /* 0 until the job has ended */
    int percent_complete;               /* 0..100 */
    int failure_code;                   /* HTTP-style; 0 when none */
    char *failure_message;              /* owned; NULL when none */
    char *request_json;                 /* owned: the job's settings;
                                           NULL in list results */
};

/* A speaker of a domain, known by the caller's CustomerSpeakerId and by
 * the GeneratedSpeakerId Timbre gave it. */
struct store_speaker {
    int64_t seq;                        /* creation order, for keysets */
    char account[STORE_ACCOUNT_LEN + 1];
    char domain_id[STORE_ID_LEN + 1];
    char id[STORE_ID_LEN + 4];          /* "id#" + 22 alphanumerics */
    char *customer_id;                  /* owned */
    char *status;                       /* owned: ENROLLED, OPTED_OUT, ... */
    double created_at;
    double updated_at;
    double last_accessed_at;
    unsigned char *voiceprint;          /* owned: sealed bytes; NULL if none */
    size_t voiceprint_len;
    char *voiceprint_version;           /* owned: model version; or NULL */
};

/* How an enrollment request of a job ended; what the output file says. */
enum store_enroll_outcome {
    STORE_ENROLL_NEW = 1,               /* NEW_ENROLLMENT */
    STORE_ENROLL_OVERWRITE,             /* ENROLLMENT_OVERWRITE */
    STORE_ENROLL_SKIPPED,               /* DUPLICATE_SKIPPED */
    STORE_ENROLL_OPTED_OUT,             /* refused: 409 */
    STORE_ENROLL_QUOTA,                 /* refused: 402 */
};

struct store_tag {
    char *key;                          /* owned */
    char *value;                        /* owned */
};

/* Releases the strings a record owns and zeroes it; NULL is fine. */
void store_domain_clear(struct store_domain *d);

/* Copies 'from' into *to, which then owns its own strings
 * (store_domain_clear). ERR_NOMEM leaves *to untouched. */
int store_domain_copy(const struct store_domain *from,
                      struct store_domain *to);

/* Releases what a job record owns and zeroes it; NULL is fine. */
void store_job_clear(struct store_job *j);
/* Clears and frees an array of n jobs; NULL is fine. */
void store_jobs_free(struct store_job *j, size_t n);
/* Clears and frees an array of n domains; NULL is fine. */
void store_domains_free(struct store_domain *d, size_t n);
/* Frees an array of n tags and their strings; NULL is fine. */
void store_tags_free(struct store_tag *tags, size_t n);

/*
 * Opens (creating if needed) the store named by 'url': "sqlite:PATH" or a
 * plain path for SQLite. Runs pending schema migrations in order, each in
 * its own transaction, and records the schema version. Returns 0 and a new
 * handle in *out (free with store_close), ERR_IO if the database cannot be
 * opened or migrated, ERR_INVAL for an unknown scheme.
 */
int store_open(const char *url, struct store **out);

/* Closes the handle; NULL is fine. */
void store_close(struct store *s);

/* The schema version the open store is at (for logs and tests). */
int store_schema_version(struct store *s);

/*
 * Creates a domain with its default watchlist and tags, idempotently.
 *
 * 'd' carries account, id, name, description, kms_key_id, status,
 * default_watchlist_id, created_at and updated_at, all filled by the
 * caller. When 'client_token' is not NULL and the account already used it
 * for CreateDomain: if 'request_hash' equals the stored one, nothing is
 * created and *out receives the domain made the first time (even if it was
 * deleted since: then ERR_NOTFOUND); otherwise ERR_MISMATCH.
 * Otherwise, ERR_QUOTA when the account already has 'max_domains' live
 * domains. On success *out receives the stored domain (caller clears it).
 */
int store_domain_create(struct store *s, const struct store_domain *d,
                        const struct store_tag *tags, size_t n_tags,
                        const char *client_token, const char *request_hash,
                        int max_domains, struct store_domain *out);

/* Fetches a live domain. ERR_NOTFOUND if missing, deleted or foreign. */
int store_domain_get(struct store *s, const char *account, const char *id,
                     struct store_domain *out);

/*
 * Re-seals one speaker's voiceprint 'sp->voiceprint', sealed under
 * 'old_key', under 'new_key': stores a new blob (free()) in *sealed and
 * its length in *sealed_len and returns 0, or returns an ERR_* that
 * undoes the whole update.
 */
typedef int (*store_reseal_fn)(void *arg, const struct store_speaker *sp,
                               const char *old_key, const char *new_key,
                               unsigned char **sealed, size_t *sealed_len);

/*
 * Replaces name, description (NULL removes it), kms_key_id, the three
 * sse_* fields and updated_at of the live domain named by d->account and
 * d->id. ERR_NOTFOUND if it is missing or deleted.
 *
 * Every voiceprint of a domain is sealed under the domain's current key.
 * So when kms_key_id changes, each of them goes through 'reseal' in the
 * same transaction as the change: the domain and its voiceprints change
 * key together or not at all. 'reseal' may be NULL only for a domain
 * with no voiceprint (ERR_INVAL otherwise). *n_resealed (may be NULL)
 * receives how many were re-sealed.
 */
int store_domain_update(struct store *s, const struct store_domain *d,
                        store_reseal_fn reseal, void *reseal_arg,
                        size_t *n_resealed);

/* Marks a live domain deleted at 'now'. ERR_NOTFOUND if missing. */
int store_domain_delete(struct store *s, const char *account, const char *id,
                        double now);

/*
 * Lists live domains of the account in creation order, starting strictly
 * after seq 'after_seq' (0 for the first page), at most 'limit' of them.
 * *out is a new array of *n_out domains (store_domains_free); *more says
 * whether further domains follow the last one returned.
 */
int store_domain_list(struct store *s, const char *account,
                      int64_t after_seq, int limit,
                      struct store_domain **out, size_t *n_out, bool *more);

/* Called with each domain of a page in turn; the domain is lent for the
 * call only. A non-zero return stops the listing and is passed on. */
typedef int (*store_domain_visit_fn)(void *arg, const struct store_domain *d);

/*
 * The same listing as store_domain_list, handed domain by domain to
 * 'visit' instead of copied, for replies written straight from the
 * records. Unlike the jobs' listing it never starts over. *more says
 * whether further domains follow. 'visit' may run under a lock of the
 * store's and must not call the store.
 */
int store_domain_list_each(struct store *s, const char *account,
                           int64_t after_seq, int limit,
                           store_domain_visit_fn visit, void *arg,
                           bool *more);

/*
 * Adds or replaces tags on a live domain in one transaction. ERR_QUOTA if
 * the domain would end with more than 'max_tags' tags (nothing changes);
 * ERR_NOTFOUND if the domain is missing.
 */
int store_domain_tags_put(struct store *s, const char *account,
                          const char *domain_id,
                          const struct store_tag *tags, size_t n_tags,
                          size_t max_tags);

/* Removes the named keys (absent keys are ignored). ERR_NOTFOUND if the
 * domain is missing. */
int store_domain_tags_remove(struct store *s, const char *account,
                             const char *domain_id,
                             const char *const *keys, size_t n_keys);

/* Returns the domain's tags sorted by key in a new array *out of *n_out
 * (store_tags_free). ERR_NOTFOUND if the domain is missing. */
int store_domain_tags_list(struct store *s, const char *account,
                           const char *domain_id,
                           struct store_tag **out, size_t *n_out);

/*
 * Erases up to 'limit' domains deleted before 'deleted_before' (epoch
 * seconds), with everything they hold, in one transaction. *n_erased says
 * how many went; fewer than 'limit' means none are left to erase.
 */
int store_domain_purge(struct store *s, double deleted_before, int limit,
                       size_t *n_erased);

/*
 * Forgets up to 'limit' ClientTokens (of every operation) first used
 * before 'created_before', in one transaction; a retry with one of them
 * afterwards is a new request. *n_erased says how many went; fewer than
 * 'limit' means none are left to forget.
 */
int store_idempotency_purge(struct store *s, double created_before,
                            int limit, size_t *n_erased);

/*
 * Creates a SUBMITTED job idempotently, like store_domain_create: the same
 * 'client_token' and 'request_hash' give back the job made the first
 * time; another hash gives ERR_MISMATCH. 'j' carries account, id,
 * domain_id, name, created_at and request_json. ERR_NOTFOUND when the
 * domain is missing or deleted; ERR_QUOTA when the domain already has
 * 'max_active' jobs that are SUBMITTED or IN_PROGRESS. *out receives the
 * stored job.
 */
int store_job_create(struct store *s, const struct store_job *j,
                     const char *client_token, const char *request_hash,
                     int max_active, struct store_job *out);

/*
 * Adds 'n' jobs of one live domain in one transaction, exactly as given
 * (any status, times and progress), without quotas or tokens. For seeding
 * benchmarks and tests through the real storage code; not reachable from
 * the API. ERR_NOTFOUND when the domain is missing.
 */
int store_jobs_import(struct store *s, const struct store_job *jobs,
                      size_t n);

/* Fetches a job of a live domain. ERR_NOTFOUND if the job, its domain or
 * the account do not match. */
int store_job_get(struct store *s, const char *account, const char *domain_id,
                  const char *job_id, struct store_job *out);

/*
 * Lists a live domain's jobs newest first, only those in 'status' unless
 * it is NULL, starting strictly before seq 'before_seq' (0 for the first
 * page), at most 'limit'. The records are summaries: request_json is
 * NULL. Index-served: a page deep in the history costs what the first
 * costs. *out is a new array (store_jobs_free); *more says
 * whether further jobs follow. ERR_NOTFOUND when the domain is missing or
 * deleted.
 */
int store_job_list(struct store *s, const char *account,
                   const char *domain_id, const char *status,
                   int64_t before_seq, int limit, struct store_job **out,
                   size_t *n_out, bool *more);

/*
 * Called for each job of a listing, newest first. 'j' and its strings are
 * borrowed and valid only during the call; a non-zero return stops the
 * listing and is returned by it. It is first called with NULL, and called
 * with NULL again whenever the store starts over (after a busy database):
 * the caller then discards the rows of the earlier attempt.
 */
typedef int (*store_job_visit_fn)(void *arg, const struct store_job *j);

/*
 * The same listing as store_job_list, handed row by row to 'visit'
 * instead of copied: for replies written straight from the rows. *more
 * says whether further jobs follow.
 */
int store_job_list_each(struct store *s, const char *account,
                        const char *domain_id, const char *status,
                        int64_t before_seq, int limit,
                        store_job_visit_fn visit, void *arg, bool *more);

/*
 * Claims the oldest job that is SUBMITTED, or IN_PROGRESS with a lease
 * that expired before 'now', for 'owner' until now + lease_s, marking it
 * IN_PROGRESS. ERR_NOTFOUND when there is none. Jobs of deleted domains
 * are never claimed.
 */
int store_job_claim(struct store *s, const char *owner, double now,
                    double lease_s, struct store_job *out);

/* Renews the lease and records progress. ERR_EXPIRED when 'owner' no
 * longer holds the job (its lease ran out and another runner took it). */
int store_job_heartbeat(struct store *s, const char *job_id,
                        const char *owner, double now, double lease_s,
                        int percent_complete);

/*
 * Ends a job held by 'owner' with a terminal 'status', 'ended_at',
 * percent 100 unless FAILED, and failure details (0 and NULL for none).
 * ERR_EXPIRED when 'owner' no longer holds it.
 */
int store_job_finish(struct store *s, const char *job_id, const char *owner,
                     const char *status, double ended_at, int failure_code,
                     const char *failure_message);

/* Releases what a speaker record owns and zeroes it; NULL is fine. */
void store_speaker_clear(struct store_speaker *sp);
/* Clears and frees an array of n speakers; NULL is fine. */
void store_speakers_free(struct store_speaker *sp, size_t n);

/* Fetches a speaker of a live domain by CustomerSpeakerId or, when
 * 'speaker_id' starts with "id#", by GeneratedSpeakerId. ERR_NOTFOUND. */
int store_speaker_get(struct store *s, const char *account,
                      const char *domain_id, const char *speaker_id,
                      struct store_speaker *out);

/* Lists a live domain's speakers in creation order after 'after_seq', at
 * most 'limit' (store_speakers_free); ERR_NOTFOUND for the domain. */
int store_speaker_list(struct store *s, const char *account,
                       const char *domain_id, int64_t after_seq, int limit,
                       struct store_speaker **out, size_t *n_out,
                       bool *more);

/* Deletes a speaker and its voiceprint. ERR_NOTFOUND. */
int store_speaker_delete(struct store *s, const char *account,
                         const char *domain_id, const char *speaker_id);

/*
 * Opts a speaker out: drops its voiceprint and marks it OPTED_OUT,
 * creating it (with 'new_id' as its generated id) when unknown, at 'now'.
 * ERR_QUOTA when creating it would pass 'max_speakers' in the domain.
 * *out receives the speaker.
 */
int store_speaker_opt_out(struct store *s, const char *account,
                          const char *domain_id, const char *speaker_id,
                          const char *new_id, int max_speakers, double now,
                          struct store_speaker *out);

/*
 * Applies one enrollment request of a job, once: in one transaction it
 * looks up request 'request_id' of job 'job_id', and if it was applied
 * already returns its recorded outcome and speaker (a runner that
 * crashed and restarted never enrolls anyone twice). Otherwise, for
 * CustomerSpeakerId sp->customer_id in sp->domain_id:
 *   opted out                     → STORE_ENROLL_OPTED_OUT, nothing stored
 *   enrolled and !overwrite       → STORE_ENROLL_SKIPPED
 *   enrolled and overwrite        → STORE_ENROLL_OVERWRITE, new voiceprint
 *   unknown, domain at max        → STORE_ENROLL_QUOTA
 *   unknown                       → STORE_ENROLL_NEW, created with sp->id
 * and records the outcome for the request. 'sp' carries account,
 * domain_id, id (used only when new), customer_id, the sealed voiceprint,
 * its version and updated_at (created_at too when new). *outcome and
 * *out (the speaker as stored, or as found) are filled on success.
 *
 * 'sealed_with' is the KMS key id the voiceprint was sealed under. When
 * it is not the domain's key any more (the key changed while the caller
 * was sealing) nothing is stored and ERR_MISMATCH tells the caller to
 * seal again under the new key. NULL skips that check, for callers whose
 * voiceprints are not really sealed (tests, imports).
 */
int store_enroll_apply(struct store *s, const char *job_id,
                       const char *request_id,
                       const struct store_speaker *sp,
                       const char *sealed_with, bool overwrite,
                       int max_speakers,
                       enum store_enroll_outcome *outcome,
                       struct store_speaker *out);

/* Reads the named key from the small key-value settings table; ERR_NOTFOUND
 * when absent. *value is a new string (free()). Used for server-wide
 * values that must survive restarts. */
int store_setting_get(struct store *s, const char *key, char **value);

/* Writes (inserts or replaces) a setting. */
int store_setting_put(struct store *s, const char *key, const char *value);

#endif
