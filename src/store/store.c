/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The front of the storage interface: picks a backend by URL scheme, checks
 * the arguments every backend would check alike, and calls through the
 * backend's struct store_ops (see store_backend.h).
 *
 * Checks done here, so that backends can rely on them: the handle and every
 * OUT pointer are not NULL, accounts are 12 digits, the strings a record
 * must carry are present, a client token comes with a request hash, a
 * list asks for at least one record, leases have a positive length, a
 * job ends only in a terminal status, a generated speaker id starts with
 * "id#" and fits its field, and an enrollment carries a voiceprint.
 * Anything else (existence, quotas, idempotency, who holds a lease) is the
 * backend's business because it needs the data.
 *
 * Domains are read through a cache (store/domain_cache.h) when the backend
 * can tell cheaply that nothing changed since (its data_version): a
 * DescribeDomain or ListDomains then costs no database read while nobody
 * writes. Writes always go to the backend.
 *
 * The record helpers and the test hooks (store__fail_next,
 * store__fail_alloc_next) live here too, since they belong to no backend.
 */
#include "store/store.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "store/domain_cache.h"
#include "store/store_backend.h"
#include "util/err.h"

static atomic_int fail_step_countdown;
static atomic_int fail_step_rc;
static atomic_int fail_alloc_countdown;


void
store_domain_clear(struct store_domain *d)
{
    if (d == NULL)
        return;
    free(d->name);
    free(d->description);
    free(d->status);
    free(d->kms_key_id);
    free(d->sse_old_kms_key_id);
    free(d->sse_update_status);
    free(d->sse_update_message);
    memset(d, 0, sizeof(*d));
}


/* With the allocation hooks, so that tests can fail each copy. */
int
store_domain_copy(const struct store_domain *from, struct store_domain *to)
{
    struct store_domain d = *from;
    const char *const src[] = {
        from->name, from->description, from->status, from->kms_key_id,
        from->sse_old_kms_key_id, from->sse_update_status,
        from->sse_update_message,
    };
    char **const dst[] = {
        &d.name, &d.description, &d.status, &d.kms_key_id,
        &d.sse_old_kms_key_id, &d.sse_update_status, &d.sse_update_message,
    };
    size_t i;

    for (i = 0; i < sizeof(src) / sizeof(src[0]); i++)
        *dst[i] = NULL;
    for (i = 0; i < sizeof(src) / sizeof(src[0]); i++) {
        if (src[i] != NULL && (*dst[i] = store__strdup(src[i])) == NULL) {
            store_domain_clear(&d);
            return ERR_NOMEM;
        }
    }
    *to = d;
    return 0;
}


void
store_domains_free(struct store_domain *d, size_t n)
{
    if (d == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        store_domain_clear(&d[i]);
    free(d);
}


void
store_job_clear(struct store_job *j)
{
    if (j == NULL)
        return;
    free(j->name);
    free(j->status);
    free(j->failure_message);
    free(j->request_json);
    memset(j, 0, sizeof(*j));
}


void
store_jobs_free(struct store_job *j, size_t n)
{
    if (j == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        store_job_clear(&j[i]);
    free(j);
}


void
store_speaker_clear(struct store_speaker *sp)
{
    if (sp == NULL)
        return;
    free(sp->customer_id);
    free(sp->status);
    free(sp->voiceprint);
    free(sp->voiceprint_version);
    memset(sp, 0, sizeof(*sp));
}


void
store_speakers_free(struct store_speaker *sp, size_t n)
{
    if (sp == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        store_speaker_clear(&sp[i]);
    free(sp);
}


void
store_tags_free(struct store_tag *tags, size_t n)
{
    if (tags == NULL)
        return;
    for (size_t i = 0; i < n; i++) {
        free(tags[i].key);
        free(tags[i].value);
    }
    free(tags);
}


/* Length of a URL scheme ("sqlite" in "sqlite:/x.db"), or 0 when 'url'
 * does not start with one and is therefore a plain path. */
static size_t
scheme_len(const char *url)
{
    size_t n;

    if (!((url[0] >= 'a' && url[0] <= 'z') || (url[0] >= 'A' &&
                                                url[0] <= 'Z')))
        return 0;
    n = strspn(url, "abcdefghijklmnopqrstuvwxyz"
                    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-");
    return url[n] == ':' ? n : 0;
}


static int
backend_open(const char *url, struct store **out)
{
    size_t n;

    n = scheme_len(url);
    if (n == 0)
        return url[0] == '\0' ? ERR_INVAL : store__sqlite_open(url, out);

    if (n == 6 && strncasecmp(url, "sqlite", n) == 0) {
        if (url[n + 1] == '\0')
            return ERR_INVAL;
        return store__sqlite_open(url + n + 1, out);
    }

    /* TODO: the PostgreSQL backend is not written yet, so "postgres://" and
     * "postgresql://" URLs are refused like any unknown scheme. It plugs in
     * here as store__pg_open(url, out) with its own struct store_ops. */
    return ERR_INVAL;
}


/*
 * A relative path that contains a colon before its first slash would read
 * as a scheme; such paths must be written "./name:x.db" or "sqlite:name:x".
 */
int
store_open(const char *url, struct store **out)
{
    struct store *s;
    int rc;

    if (url == NULL || out == NULL)
        return ERR_INVAL;

    rc = backend_open(url, &s);
    if (rc != 0)
        return rc;

    /* Domains are cached only where the backend can say cheaply that
     * nothing has changed. */
    s->domains = NULL;
    if (s->ops->data_version != NULL) {
        rc = domain_cache_new(&s->domains);
        if (rc != 0) {
            s->ops->close(s);
            return rc;
        }
    }
    *out = s;
    return 0;
}


void
store_close(struct store *s)
{
    if (s == NULL)
        return;
    domain_cache_free(s->domains);
    s->ops->close(s);
}


int
store_schema_version(struct store *s)
{
    if (s == NULL)
        return 0;
    return s->ops->schema_version(s);
}


static bool
account_ok(const char *account)
{
    if (account == NULL)
        return false;
    for (int i = 0; i < STORE_ACCOUNT_LEN; i++) {
        if (account[i] < '0' || account[i] > '9')
            return false;
    }
    return account[STORE_ACCOUNT_LEN] == '\0';
}


/* True if the fixed-size id field holds a non-empty, terminated string. */
static bool
id_field_ok(const char *field)
{
    return field[0] != '\0' && memchr(field, '\0', STORE_ID_LEN + 1) != NULL;
}


static bool
tags_ok(const struct store_tag *tags, size_t n_tags)
{
    if (n_tags > 0 && tags == NULL)
        return false;
    for (size_t i = 0; i < n_tags; i++) {
        if (tags[i].key == NULL || tags[i].value == NULL)
            return false;
    }
    return true;
}


int
store_domain_create(struct store *s, const struct store_domain *d,
                    const struct store_tag *tags, size_t n_tags,
                    const char *client_token, const char *request_hash,
                    int max_domains, struct store_domain *out)
{
    if (s == NULL || d == NULL || out == NULL || !account_ok(d->account))
        return ERR_INVAL;
    if (!id_field_ok(d->id) || !id_field_ok(d->default_watchlist_id))
        return ERR_INVAL;
    if (d->name == NULL || d->status == NULL || d->kms_key_id == NULL)
        return ERR_INVAL;
    if (!tags_ok(tags, n_tags))
        return ERR_INVAL;
    if (client_token != NULL && request_hash == NULL)
        return ERR_INVAL;

    return s->ops->domain_create(s, d, tags, n_tags, client_token,
                                 request_hash, max_domains, out);
}


/*
 * Reads the account's whole list of live domains into the domain cache,
 * tagged 'version', which the caller read just before. Returns 0 when the
 * cache now holds it (or knows the account has too many to keep), or the
 * read's error.
 *
 * The tag is safe even if a write starts during the read: 'version' said
 * that every earlier write had ended, so the read sees all of them, and
 * any later write moves the version on before it commits, so the list is
 * never asked for again at 'version' once it may be out of date.
 */
static int
domains_fill(struct store *s, const char *account, uint64_t version)
{
    struct store_domain *domains = NULL;
    size_t n = 0;
    bool more = false;
    int rc;

    rc = s->ops->domain_list(s, account, 0, DOMAIN_CACHE_MAX_DOMAINS,
                             &domains, &n, &more);
    if (rc != 0)
        return rc;

    if (more) {
        store_domains_free(domains, n);
        domains = NULL;
        n = 0;
    }
    domain_cache_put(s->domains, version, account, domains, n, more);
    return 0;
}


/* True, with the current data version, when the domain cache may answer
 * now: the backend has one and no write is under way. */
static bool
domains_cacheable(struct store *s, uint64_t *version)
{
    return s->domains != NULL && s->ops->data_version(s, version);
}


/* Whether a cache lookup's result is the answer, rather than a sign to
 * ask the backend. */
static bool
cache_answered(int rc)
{
    return rc != DOMAIN_CACHE_MISS && rc != DOMAIN_CACHE_TOO_MANY;
}


int
store_domain_get(struct store *s, const char *account, const char *id,
                 struct store_domain *out)
{
    uint64_t version;
    int rc;

    if (s == NULL || !account_ok(account) || id == NULL || out == NULL)
        return ERR_INVAL;

    if (domains_cacheable(s, &version)) {
        rc = domain_cache_get(s->domains, version, account, id, out);
        if (rc == DOMAIN_CACHE_MISS) {
            rc = domains_fill(s, account, version);
            if (rc == 0)
                rc = domain_cache_get(s->domains, version, account, id, out);
        }
        if (cache_answered(rc))
            return rc;
    }
    return s->ops->domain_get(s, account, id, out);
}


int
store_domain_update(struct store *s, const struct store_domain *d,
                    store_reseal_fn reseal, void *reseal_arg,
                    size_t *n_resealed)
{
    size_t ignored;

    if (s == NULL || d == NULL || !account_ok(d->account))
        return ERR_INVAL;
    if (!id_field_ok(d->id) || d->name == NULL || d->kms_key_id == NULL)
        return ERR_INVAL;
    return s->ops->domain_update(s, d, reseal, reseal_arg,
                                 n_resealed != NULL ? n_resealed
                                                    : &ignored);
}


int
store_domain_delete(struct store *s, const char *account, const char *id,
                    double now)
{
    if (s == NULL || !account_ok(account) || id == NULL)
        return ERR_INVAL;
    return s->ops->domain_delete(s, account, id, now);
}


/* store_domain_list_each from the domain cache, when it can answer. */
static int
domain_list_cached(struct store *s, const char *account, int64_t after_seq,
                   int limit, store_domain_visit_fn visit, void *arg,
                   bool *more)
{
    uint64_t version;
    int rc;

    if (!domains_cacheable(s, &version))
        return DOMAIN_CACHE_MISS;
    rc = domain_cache_page(s->domains, version, account, after_seq, limit,
                           visit, arg, more);
    if (rc == DOMAIN_CACHE_MISS) {
        rc = domains_fill(s, account, version);
        if (rc == 0) {
            rc = domain_cache_page(s->domains, version, account, after_seq,
                                   limit, visit, arg, more);
        }
    }
    return rc;
}


struct domain_copies {
    struct store_domain *items;         /* room for a whole page */
    size_t n;
};


static int
domain_copy_visit(void *arg, const struct store_domain *d)
{
    struct domain_copies *c = arg;
    int rc;

    rc = store_domain_copy(d, &c->items[c->n]);
    if (rc == 0)
        c->n++;
    return rc;
}


int
store_domain_list(struct store *s, const char *account,
                  int64_t after_seq, int limit,
                  struct store_domain **out, size_t *n_out, bool *more)
{
    struct domain_copies c = { NULL, 0 };
    size_t room;
    int rc;

    if (s == NULL || !account_ok(account) || limit < 1)
        return ERR_INVAL;
    if (out == NULL || n_out == NULL || more == NULL)
        return ERR_INVAL;

    /* A cached page is never longer than the list the cache keeps. */
    room = limit < DOMAIN_CACHE_MAX_DOMAINS ? (size_t)limit
                                            : DOMAIN_CACHE_MAX_DOMAINS;
    c.items = store__malloc(sizeof(*c.items) * room);
    if (c.items == NULL)
        return ERR_NOMEM;
    rc = domain_list_cached(s, account, after_seq, limit, domain_copy_visit,
                            &c, more);
    if (rc == 0) {
        *out = c.items;
        *n_out = c.n;
        return 0;
    }
    store_domains_free(c.items, c.n);
    if (cache_answered(rc))
        return rc;
    return s->ops->domain_list(s, account, after_seq, limit, out, n_out,
                               more);
}


int
store_domain_list_each(struct store *s, const char *account,
                       int64_t after_seq, int limit,
                       store_domain_visit_fn visit, void *arg, bool *more)
{
    struct store_domain *domains = NULL;
    size_t n = 0;
    int rc;

    if (s == NULL || !account_ok(account) || limit < 1 || visit == NULL)
        return ERR_INVAL;
    if (more == NULL)
        return ERR_INVAL;

    rc = domain_list_cached(s, account, after_seq, limit, visit, arg, more);
    if (cache_answered(rc))
        return rc;

    rc = s->ops->domain_list(s, account, after_seq, limit, &domains, &n,
                             more);
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = visit(arg, &domains[i]);
    store_domains_free(domains, n);
    return rc;
}


int
store_domain_tags_put(struct store *s, const char *account,
                      const char *domain_id,
                      const struct store_tag *tags, size_t n_tags,
                      size_t max_tags)
{
    if (s == NULL || !account_ok(account) || domain_id == NULL)
        return ERR_INVAL;
    if (!tags_ok(tags, n_tags))
        return ERR_INVAL;
    return s->ops->domain_tags_put(s, account, domain_id, tags, n_tags,
                                   max_tags);
}


int
store_domain_tags_remove(struct store *s, const char *account,
                         const char *domain_id,
                         const char *const *keys, size_t n_keys)
{
    if (s == NULL || !account_ok(account) || domain_id == NULL)
        return ERR_INVAL;
    if (n_keys > 0 && keys == NULL)
        return ERR_INVAL;
    for (size_t i = 0; i < n_keys; i++) {
        if (keys[i] == NULL)
            return ERR_INVAL;
    }
    return s->ops->domain_tags_remove(s, account, domain_id, keys, n_keys);
}


int
store_domain_tags_list(struct store *s, const char *account,
                       const char *domain_id,
                       struct store_tag **out, size_t *n_out)
{
    if (s == NULL || !account_ok(account) || domain_id == NULL)
        return ERR_INVAL;
    if (out == NULL || n_out == NULL)
        return ERR_INVAL;
    return s->ops->domain_tags_list(s, account, domain_id, out, n_out);
}


/* The fields every stored job carries, whoever fills the rest. */
static bool
job_ok(const struct store_job *j)
{
    if (!account_ok(j->account) || !id_field_ok(j->id))
        return false;
    return id_field_ok(j->domain_id) && j->request_json != NULL;
}


static bool
job_status_terminal(const char *status)
{
    return strcmp(status, "COMPLETED") == 0 ||
           strcmp(status, "COMPLETED_WITH_ERRORS") == 0 ||
           strcmp(status, "FAILED") == 0;
}


int
store_job_create(struct store *s, const struct store_job *j,
                 const char *client_token, const char *request_hash,
                 int max_active, struct store_job *out)
{
    if (s == NULL || j == NULL || out == NULL || !job_ok(j))
        return ERR_INVAL;
    if (client_token != NULL && request_hash == NULL)
        return ERR_INVAL;
    return s->ops->job_create(s, j, client_token, request_hash, max_active,
                              out);
}


/* Every job must name the account and domain of the first, which is the
 * one domain whose existence the backend checks. */
int
store_jobs_import(struct store *s, const struct store_job *jobs, size_t n)
{
    if (s == NULL || (n > 0 && jobs == NULL))
        return ERR_INVAL;
    for (size_t i = 0; i < n; i++) {
        if (!job_ok(&jobs[i]) || jobs[i].status == NULL)
            return ERR_INVAL;
        if (strcmp(jobs[i].account, jobs[0].account) != 0 ||
            strcmp(jobs[i].domain_id, jobs[0].domain_id) != 0)
            return ERR_INVAL;
    }
    if (n == 0)
        return 0;
    return s->ops->jobs_import(s, jobs, n);
}


int
store_job_get(struct store *s, const char *account, const char *domain_id,
              const char *job_id, struct store_job *out)
{
    if (s == NULL || !account_ok(account) || domain_id == NULL)
        return ERR_INVAL;
    if (job_id == NULL || out == NULL)
        return ERR_INVAL;
    return s->ops->job_get(s, account, domain_id, job_id, out);
}


/* The rows of a listing, copied as they come. */
struct job_copies {
    struct store_job *items;
    size_t n;
    size_t cap;
};


static void
job_copies_clear(struct job_copies *c)
{
    store_jobs_free(c->items, c->n);
    memset(c, 0, sizeof(*c));
}


static int
job_copy_visit(void *arg, const struct store_job *j)
{
    struct job_copies *c = arg;
    struct store_job *copy;

    if (j == NULL) {
        job_copies_clear(c);
        return 0;
    }
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 16;
        struct store_job *grown = realloc(c->items, cap * sizeof(*grown));

        if (grown == NULL)
            return ERR_NOMEM;
        c->items = grown;
        c->cap = cap;
    }

    /* Counted before the strings are copied, so that a failed copy is
     * freed with the rest. */
    copy = &c->items[c->n++];
    *copy = *j;
    copy->name = j->name ? store__strdup(j->name) : NULL;
    copy->status = store__strdup(j->status);
    copy->failure_message = j->failure_message
                                ? store__strdup(j->failure_message) : NULL;
    copy->request_json = NULL;
    if ((j->name && copy->name == NULL) || copy->status == NULL
        || (j->failure_message && copy->failure_message == NULL))
        return ERR_NOMEM;
    return 0;
}


/* store_job_list through the backend's row-by-row listing. */
static int
job_list_copied(struct store *s, const char *account, const char *domain_id,
                const char *status, int64_t before_seq, int limit,
                struct store_job **out, size_t *n_out, bool *more)
{
    struct job_copies c = { NULL, 0, 0 };
    int rc;

    rc = s->ops->job_list_each(s, account, domain_id, status, before_seq,
                               limit, job_copy_visit, &c, more);
    if (rc != 0) {
        job_copies_clear(&c);
        return rc;
    }
    *out = c.items;
    *n_out = c.n;
    return 0;
}


int
store_job_list(struct store *s, const char *account,
               const char *domain_id, const char *status,
               int64_t before_seq, int limit, struct store_job **out,
               size_t *n_out, bool *more)
{
    if (s == NULL || !account_ok(account) || domain_id == NULL)
        return ERR_INVAL;
    if (before_seq < 0 || limit < 1)
        return ERR_INVAL;
    if (out == NULL || n_out == NULL || more == NULL)
        return ERR_INVAL;
    return job_list_copied(s, account, domain_id, status, before_seq, limit,
                           out, n_out, more);
}


int
store_job_list_each(struct store *s, const char *account,
                    const char *domain_id, const char *status,
                    int64_t before_seq, int limit, store_job_visit_fn visit,
                    void *arg, bool *more)
{
    if (s == NULL || !account_ok(account) || domain_id == NULL)
        return ERR_INVAL;
    if (before_seq < 0 || limit < 1 || visit == NULL || more == NULL)
        return ERR_INVAL;
    return s->ops->job_list_each(s, account, domain_id, status, before_seq,
                                 limit, visit, arg, more);
}


int
store_job_claim(struct store *s, const char *owner, double now,
                double lease_s, struct store_job *out)
{
    if (s == NULL || owner == NULL || out == NULL || !(lease_s > 0))
        return ERR_INVAL;
    return s->ops->job_claim(s, owner, now, lease_s, out);
}


int
store_job_heartbeat(struct store *s, const char *job_id,
                    const char *owner, double now, double lease_s,
                    int percent_complete)
{
    if (s == NULL || job_id == NULL || owner == NULL || !(lease_s > 0))
        return ERR_INVAL;
    if (percent_complete < 0 || percent_complete > 100)
        return ERR_INVAL;
    return s->ops->job_heartbeat(s, job_id, owner, now, lease_s,
                                 percent_complete);
}


int
store_job_finish(struct store *s, const char *job_id, const char *owner,
                 const char *status, double ended_at, int failure_code,
                 const char *failure_message)
{
    if (s == NULL || job_id == NULL || owner == NULL || status == NULL)
        return ERR_INVAL;
    if (!job_status_terminal(status))
        return ERR_INVAL;
    return s->ops->job_finish(s, job_id, owner, status, ended_at,
                              failure_code, failure_message);
}


/* True if 'id' is a generated speaker id that fits struct store_speaker:
 * "id#" and at least one more character. */
static bool
speaker_new_id_ok(const char *id)
{
    size_t len;

    if (id == NULL || strncmp(id, "id#", 3) != 0)
        return false;
    len = strnlen(id, STORE_ID_LEN + 4);
    return len > 3 && len < STORE_ID_LEN + 4;
}


int
store_speaker_get(struct store *s, const char *account,
                  const char *domain_id, const char *speaker_id,
                  struct store_speaker *out)
{
    if (s == NULL || !account_ok(account) || domain_id == NULL)
        return ERR_INVAL;
    if (speaker_id == NULL || out == NULL)
        return ERR_INVAL;
    return s->ops->speaker_get(s, account, domain_id, speaker_id, out);
}


int
store_speaker_list(struct store *s, const char *account,
                   const char *domain_id, int64_t after_seq, int limit,
                   struct store_speaker **out, size_t *n_out, bool *more)
{
    if (s == NULL || !account_ok(account) || domain_id == NULL)
        return ERR_INVAL;
    if (after_seq < 0 || limit < 1)
        return ERR_INVAL;
    if (out == NULL || n_out == NULL || more == NULL)
        return ERR_INVAL;
    return s->ops->speaker_list(s, account, domain_id, after_seq, limit, out,
                                n_out, more);
}


int
store_speaker_delete(struct store *s, const char *account,
                     const char *domain_id, const char *speaker_id)
{
    if (s == NULL || !account_ok(account) || domain_id == NULL)
        return ERR_INVAL;
    if (speaker_id == NULL)
        return ERR_INVAL;
    return s->ops->speaker_delete(s, account, domain_id, speaker_id);
}


/* 'new_id' is required even when the speaker exists: the caller cannot
 * know beforehand whether it will be used. */
int
store_speaker_opt_out(struct store *s, const char *account,
                      const char *domain_id, const char *speaker_id,
                      const char *new_id, int max_speakers, double now,
                      struct store_speaker *out)
{
    if (s == NULL || !account_ok(account) || domain_id == NULL)
        return ERR_INVAL;
    if (speaker_id == NULL || speaker_id[0] == '\0' || out == NULL)
        return ERR_INVAL;
    if (!speaker_new_id_ok(new_id))
        return ERR_INVAL;
    return s->ops->speaker_opt_out(s, account, domain_id, speaker_id,
                                   new_id, max_speakers, now, out);
}


/* An enrollment always brings a voiceprint, even on the paths that end
 * up not storing it; a customer id cannot look like a generated one. */
int
store_enroll_apply(struct store *s, const char *job_id,
                   const char *request_id, const struct store_speaker *sp,
                   const char *sealed_with, bool overwrite, int max_speakers,
                   enum store_enroll_outcome *outcome,
                   struct store_speaker *out)
{
    if (s == NULL || job_id == NULL || request_id == NULL || sp == NULL)
        return ERR_INVAL;
    if (outcome == NULL || out == NULL)
        return ERR_INVAL;
    if (!account_ok(sp->account) || !id_field_ok(sp->domain_id))
        return ERR_INVAL;
    if (memchr(sp->id, '\0', sizeof(sp->id)) == NULL ||
        !speaker_new_id_ok(sp->id))
        return ERR_INVAL;
    if (sp->customer_id == NULL || sp->customer_id[0] == '\0' ||
        strncmp(sp->customer_id, "id#", 3) == 0)
        return ERR_INVAL;
    if (sp->voiceprint == NULL || sp->voiceprint_len == 0)
        return ERR_INVAL;
    return s->ops->enroll_apply(s, job_id, request_id, sp, sealed_with,
                                overwrite, max_speakers, outcome, out);
}


int
store_setting_get(struct store *s, const char *key, char **value)
{
    if (s == NULL || key == NULL || value == NULL)
        return ERR_INVAL;
    return s->ops->setting_get(s, key, value);
}


int
store_domain_purge(struct store *s, double deleted_before, int limit,
                   size_t *n_erased)
{
    if (s == NULL || limit < 1 || n_erased == NULL)
        return ERR_INVAL;
    return s->ops->domain_purge(s, deleted_before, limit, n_erased);
}


int
store_idempotency_purge(struct store *s, double created_before, int limit,
                        size_t *n_erased)
{
    if (s == NULL || limit < 1 || n_erased == NULL)
        return ERR_INVAL;
    return s->ops->idempotency_purge(s, created_before, limit, n_erased);
}


int
store_setting_put(struct store *s, const char *key, const char *value)
{
    if (s == NULL || key == NULL || value == NULL)
        return ERR_INVAL;
    return s->ops->setting_put(s, key, value);
}


/* Counts one event down; true exactly when this event is the armed one. */
static bool
countdown_take(atomic_int *countdown)
{
    int left = atomic_load(countdown);

    while (left > 0) {
        if (atomic_compare_exchange_weak(countdown, &left, left - 1))
            return left == 1;
    }
    return false;
}


void
store__fail_next(int n, int rc)
{
    atomic_store(&fail_step_rc, rc);
    atomic_store(&fail_step_countdown, n > 0 ? n : 0);
}


void
store__fail_alloc_next(int n)
{
    atomic_store(&fail_alloc_countdown, n > 0 ? n : 0);
}


int
store__fault_take(void)
{
    if (!countdown_take(&fail_step_countdown))
        return 0;
    return atomic_load(&fail_step_rc);
}


void *
store__malloc(size_t size)
{
    if (countdown_take(&fail_alloc_countdown))
        return NULL;
    return malloc(size);
}


void *
store__realloc(void *p, size_t size)
{
    if (countdown_take(&fail_alloc_countdown))
        return NULL;
    return realloc(p, size);
}


char *
store__strdup(const char *str)
{
    if (countdown_take(&fail_alloc_countdown))
        return NULL;
    return strdup(str);
}
