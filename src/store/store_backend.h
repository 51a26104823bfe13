/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What a storage backend implements, and the helpers backends share.
 *
 * A backend allocates its own handle whose first member is a struct store,
 * fills 'ops' with its table of functions and hands the handle back as a
 * struct store pointer; store.c checks the arguments every backend would
 * check the same way (account format, NULL pointers) and then calls through
 * the table. Each function has the contract of the public function of the
 * same name in store.h.
 *
 * The store__fail_* hooks exist for tests: they make a chosen later step or
 * allocation fail so a test can show that a refused request leaves nothing
 * behind. They are always compiled in, cost one atomic load per step when
 * unused, and no production code calls them.
 */
#ifndef TIMBRE_STORE_STORE_BACKEND_H
#define TIMBRE_STORE_STORE_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

struct store_ops {
    void (*close)(struct store *s);
    int (*schema_version)(struct store *s);
    /*
     * May be NULL. Sets *version to a number that changes whenever any
     * process that shares the data may have changed it, and returns true;
     * returns false when it cannot tell at the moment (a write is under
     * way). Must be cheap: it is asked before every cached read.
     */
    bool (*data_version)(struct store *s, uint64_t *version);
    int (*domain_create)(struct store *s, const struct store_domain *d,
                         const struct store_tag *tags, size_t n_tags,
                         const char *client_token, const char *request_hash,
                         int max_domains, struct store_domain *out);
    int (*domain_get)(struct store *s, const char *account, const char *id,
                      struct store_domain *out);
    int (*domain_update)(struct store *s, const struct store_domain *d,
                         store_reseal_fn reseal, void *reseal_arg,
                         size_t *n_resealed);
    int (*domain_delete)(struct store *s, const char *account,
                         const char *id, double now);
    int (*domain_list)(struct store *s, const char *account,
                       int64_t after_seq, int limit,
                       struct store_domain **out, size_t *n_out, bool *more);
    int (*domain_tags_put)(struct store *s, const char *account,
                           const char *domain_id,
                           const struct store_tag *tags, size_t n_tags,
                           size_t max_tags);
    int (*domain_tags_remove)(struct store *s, const char *account,
                              const char *domain_id,
                              const char *const *keys, size_t n_keys);
    int (*domain_tags_list)(struct store *s, const char *account,
                            const char *domain_id,
                            struct store_tag **out, size_t *n_out);
    int (*domain_purge)(struct store *s, double deleted_before, int limit,
                        size_t *n_erased);
    int (*idempotency_purge)(struct store *s, double created_before,
                             int limit, size_t *n_erased);
    int (*job_create)(struct store *s, const struct store_job *j,
                      const char *client_token, const char *request_hash,
                      int max_active, struct store_job *out);
    int (*jobs_import)(struct store *s, const struct store_job *jobs,
                       size_t n);
    int (*job_get)(struct store *s, const char *account,
                   const char *domain_id, const char *job_id,
                   struct store_job *out);
    int (*job_list_each)(struct store *s, const char *account,
                         const char *domain_id, const char *status,
                         int64_t before_seq, int limit,
                         store_job_visit_fn visit, void *arg, bool *more);
    int (*job_claim)(struct store *s, const char *owner, double now,
                     double lease_s, struct store_job *out);
    int (*job_heartbeat)(struct store *s, const char *job_id,
                         const char *owner, double now, double lease_s,
                         int percent_complete);
    int (*job_finish)(struct store *s, const char *job_id, const char *owner,
                      const char *status, double ended_at, int failure_code,
                      const char *failure_message);
    int (*speaker_get)(struct store *s, const char *account,
                       const char *domain_id, const char *speaker_id,
                       struct store_speaker *out);
    int (*speaker_list)(struct store *s, const char *account,
                        const char *domain_id, int64_t after_seq, int limit,
                        struct store_speaker **out, size_t *n_out,
                        bool *more);
    int (*speaker_delete)(struct store *s, const char *account,
                          const char *domain_id, const char *speaker_id);
    int (*speaker_opt_out)(struct store *s, const char *account,
                           const char *domain_id, const char *speaker_id,
                           const char *new_id, int max_speakers, double now,
                           struct store_speaker *out);
    int (*enroll_apply)(struct store *s, const char *job_id,
                        const char *request_id,
                        const struct store_speaker *sp,
                        const char *sealed_with, bool overwrite,
                        int max_speakers,
                        enum store_enroll_outcome *outcome,
                        struct store_speaker *out);
    int (*setting_get)(struct store *s, const char *key, char **value);
    int (*setting_put)(struct store *s, const char *key, const char *value);
};

/* The common head of every backend's handle. */
struct store {
    const struct store_ops *ops;
    struct domain_cache *domains;   /* set by store_open; see store.c */
};

/*
 * Opens the SQLite database file at 'path' (not a URL), running pending
 * migrations. Returns 0 and a handle in *out, ERR_IO if the file cannot be
 * opened or migrated, ERR_NOMEM.
 */
int store__sqlite_open(const char *path, struct store **out);

/* The schema version the SQLite migrations of this build end at. */
int store__sqlite_schema_latest(void);

/*
 * Test hook: the n-th backend step from now (1 is the very next one) fails
 * with 'rc', a negative ERR_* value, as if the database had reported it;
 * n <= 0 disarms the hook. A step is one execution of a statement,
 * including BEGIN and COMMIT but not the ROLLBACK of the cleanup path. The
 * hook fires once and is shared by every handle and thread.
 */
void store__fail_next(int n, int rc);

/* Test hook: the n-th allocation the store code makes for records from now
 * returns NULL (1 is the very next one); n <= 0 disarms it. SQLite's own
 * allocations are not affected. */
void store__fail_alloc_next(int n);

/* Backends call this before each step: 0 normally, the armed ERR_* value
 * on the step chosen by store__fail_next. */
int store__fault_take(void);

/* malloc, realloc and strdup for record memory, honouring
 * store__fail_alloc_next. Release with free(). */
void *store__malloc(size_t size);
void *store__realloc(void *p, size_t size);
char *store__strdup(const char *str);

#endif
