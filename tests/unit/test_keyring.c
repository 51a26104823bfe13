/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for the key ring and its sealed envelopes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "util/err.h"
#include "util/keyring.h"

#define N_THREADS 8
#define N_PROCS 4
#define AAD "domain/d1/speaker/s1"

struct fixture {
    char dir[64];
    char path[96];
};

struct racer {
    struct keyring *shared;
    const char *path;
    unsigned char key[KEYRING_KEY_LEN];
    int rc;
};

static pthread_barrier_t start_line;


static int
setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    if (f == NULL)
        return -1;
    strcpy(f->dir, "/tmp/test_keyring.XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    snprintf(f->path, sizeof(f->path), "%s/keyring", f->dir);
    *state = f;
    return 0;
}


static int
teardown(void **state)
{
    struct fixture *f = *state;
    struct dirent *de;
    char name[512];
    DIR *d = opendir(f->dir);

    while (d != NULL && (de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        snprintf(name, sizeof(name), "%s/%s", f->dir, de->d_name);
        unlink(name);
    }
    if (d != NULL)
        closedir(d);
    rmdir(f->dir);
    free(f);
    return 0;
}


static struct keyring *
ring_open(const char *path)
{
    struct keyring *k = NULL;
    char msg[256];

    assert_int_equal(keyring_open(path, &k, msg, sizeof(msg)), 0);
    assert_non_null(k);
    return k;
}


static unsigned char *
file_read(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    unsigned char *buf;
    long size;

    assert_non_null(fp);
    fseek(fp, 0, SEEK_END);
    size = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    buf = malloc(size > 0 ? (size_t)size : 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)size, fp), (size_t)size);
    fclose(fp);
    *len = (size_t)size;
    return buf;
}


static void
file_write(const char *path, const unsigned char *buf, size_t len)
{
    FILE *fp = fopen(path, "wb");

    assert_non_null(fp);
    assert_int_equal(fwrite(buf, 1, len, fp), len);
    fclose(fp);
}


/* Entry count field of a ring file: after the 8-byte magic and version. */
static uint32_t
file_entry_count(const char *path)
{
    size_t len;
    unsigned char *buf = file_read(path, &len);
    uint32_t n;

    assert_true(len >= 16);
    n = (uint32_t)buf[12] << 24 | (uint32_t)buf[13] << 16
        | (uint32_t)buf[14] << 8 | buf[15];
    free(buf);
    return n;
}


static void
round_trip(struct keyring *k, size_t len)
{
    unsigned char *plain = malloc(len ? len : 1);
    unsigned char *sealed = NULL;
    unsigned char *opened = NULL;
    size_t sealed_len = 0;
    size_t opened_len = 99;

    assert_non_null(plain);
    for (size_t i = 0; i < len; i++)
        plain[i] = (unsigned char)(i * 31 + 7);

    assert_int_equal(keyring_seal(k, "alias/voice", AAD, strlen(AAD), plain,
                                  len, &sealed, &sealed_len), 0);
    assert_int_equal(sealed_len, len + KEYRING_OVERHEAD);
    assert_int_equal(sealed[0], KEYRING_SEALED_VERSION);
    if (len >= 64) {
        assert_true(memcmp(sealed + KEYRING_HEADER_LEN, plain, 64) != 0);
    }

    assert_int_equal(keyring_open_sealed(k, "alias/voice", AAD, strlen(AAD),
                                         sealed, sealed_len, &opened,
                                         &opened_len), 0);
    assert_non_null(opened);
    assert_int_equal(opened_len, len);
    assert_memory_equal(opened, plain, len);
    free(opened);
    free(sealed);
    free(plain);
}


static void
test_keyring_round_trips_empty_plaintext(void **state)
{
    struct fixture *f = *state;
    struct keyring *k = ring_open(f->path);

    round_trip(k, 0);
    keyring_close(k);
}


static void
test_keyring_round_trips_1mb_plaintext(void **state)
{
    struct fixture *f = *state;
    struct keyring *k = ring_open(f->path);

    round_trip(k, 1 << 20);
    round_trip(k, 1);
    round_trip(k, 17);
    keyring_close(k);
}


/* Flipping the version is malformed, flipping the key id hash names
 * another key, and every other byte breaks the tag. */
static void
test_keyring_refuses_every_flipped_byte(void **state)
{
    struct fixture *f = *state;
    struct keyring *k = ring_open(f->path);
    const char text[] = "a voiceprint of forty-odd bytes, say";
    unsigned char *sealed = NULL;
    unsigned char *opened = (unsigned char *)"untouched";
    size_t sealed_len = 0;
    size_t opened_len = 12345;

    assert_int_equal(keyring_seal(k, "k1", AAD, strlen(AAD), text,
                                  sizeof(text), &sealed, &sealed_len), 0);
    for (size_t i = 0; i < sealed_len; i++) {
        for (int bit = 0; bit < 8; bit += 7) {
            int want = ERR_CRYPTO;

            if (i == 0)
                want = ERR_INVAL;
            else if (i <= KEYRING_ID_HASH_LEN)
                want = ERR_MISMATCH;
            sealed[i] ^= (unsigned char)(1u << bit);
            assert_int_equal(keyring_open_sealed(k, "k1", AAD, strlen(AAD),
                                                 sealed, sealed_len,
                                                 &opened, &opened_len),
                             want);
            sealed[i] ^= (unsigned char)(1u << bit);
        }
    }
    assert_string_equal((char *)opened, "untouched");
    assert_int_equal(opened_len, 12345);

    /* The unflipped blob still opens. */
    assert_int_equal(keyring_open_sealed(k, "k1", AAD, strlen(AAD), sealed,
                                         sealed_len, &opened, &opened_len),
                     0);
    assert_memory_equal(opened, text, sizeof(text));
    free(opened);
    free(sealed);
    keyring_close(k);
}


static void
test_keyring_refuses_wrong_aad(void **state)
{
    struct fixture *f = *state;
    struct keyring *k = ring_open(f->path);
    const char other[] = "domain/d1/speaker/s2";
    unsigned char *sealed = NULL;
    unsigned char *opened = NULL;
    size_t sealed_len = 0;
    size_t opened_len = 0;

    assert_int_equal(keyring_seal(k, "k1", AAD, strlen(AAD), "secret", 6,
                                  &sealed, &sealed_len), 0);
    assert_int_equal(keyring_open_sealed(k, "k1", other, strlen(other),
                                         sealed, sealed_len, &opened,
                                         &opened_len), ERR_CRYPTO);
    assert_int_equal(keyring_open_sealed(k, "k1", NULL, 0, sealed,
                                         sealed_len, &opened, &opened_len),
                     ERR_CRYPTO);
    assert_int_equal(keyring_open_sealed(k, "k1", AAD, strlen(AAD) - 1,
                                         sealed, sealed_len, &opened,
                                         &opened_len), ERR_CRYPTO);
    assert_null(opened);
    free(sealed);

    /* No AAD at all also round-trips. */
    assert_int_equal(keyring_seal(k, "k1", NULL, 0, "secret", 6, &sealed,
                                  &sealed_len), 0);
    assert_int_equal(keyring_open_sealed(k, "k1", NULL, 0, sealed,
                                         sealed_len, &opened, &opened_len),
                     0);
    assert_int_equal(opened_len, 6);
    assert_memory_equal(opened, "secret", 6);
    free(opened);
    free(sealed);
    keyring_close(k);
}


static void
test_keyring_reports_other_key_id_as_mismatch(void **state)
{
    struct fixture *f = *state;
    struct keyring *k = ring_open(f->path);
    unsigned char key[KEYRING_KEY_LEN];
    unsigned char *sealed = NULL;
    unsigned char *opened = NULL;
    size_t sealed_len = 0;
    size_t opened_len = 0;

    assert_int_equal(keyring_key(k, "k2", true, key), 0);
    assert_int_equal(keyring_seal(k, "k1", AAD, strlen(AAD), "secret", 6,
                                  &sealed, &sealed_len), 0);
    assert_int_equal(keyring_open_sealed(k, "k2", AAD, strlen(AAD), sealed,
                                         sealed_len, &opened, &opened_len),
                     ERR_MISMATCH);
    /* An id never seen is a mismatch too, and is not created by it. */
    assert_int_equal(keyring_open_sealed(k, "k3", AAD, strlen(AAD), sealed,
                                         sealed_len, &opened, &opened_len),
                     ERR_MISMATCH);
    assert_int_equal(keyring_key(k, "k3", false, key), ERR_NOTFOUND);
    assert_null(opened);
    free(sealed);
    keyring_close(k);
}


static void
test_keyring_refuses_truncated_blob(void **state)
{
    struct fixture *f = *state;
    struct keyring *k = ring_open(f->path);
    unsigned char *sealed = NULL;
    unsigned char *opened = NULL;
    size_t sealed_len = 0;
    size_t opened_len = 0;

    assert_int_equal(keyring_seal(k, "k1", AAD, strlen(AAD), "0123456789",
                                  10, &sealed, &sealed_len), 0);
    for (size_t len = 0; len < sealed_len; len++) {
        int want = len < KEYRING_OVERHEAD ? ERR_INVAL : ERR_CRYPTO;

        assert_int_equal(keyring_open_sealed(k, "k1", AAD, strlen(AAD),
                                             sealed, len, &opened,
                                             &opened_len), want);
    }
    assert_int_equal(keyring_open_sealed(k, "k1", AAD, strlen(AAD), NULL, 0,
                                         &opened, &opened_len), ERR_INVAL);
    assert_null(opened);
    free(sealed);
    keyring_close(k);
}


static void
test_keyring_key_persists_across_reopen(void **state)
{
    struct fixture *f = *state;
    struct keyring *k = ring_open(f->path);
    unsigned char first[KEYRING_KEY_LEN];
    unsigned char again[KEYRING_KEY_LEN];
    unsigned char *sealed = NULL;
    unsigned char *opened = NULL;
    size_t sealed_len = 0;
    size_t opened_len = 0;

    assert_int_equal(keyring_key(k, "arn:aws:kms:x:1:key/abc", true, first),
                     0);
    assert_int_equal(keyring_seal(k, "arn:aws:kms:x:1:key/abc", AAD,
                                  strlen(AAD), "kept", 4, &sealed,
                                  &sealed_len), 0);
    keyring_close(k);

    k = ring_open(f->path);
    assert_int_equal(keyring_key(k, "arn:aws:kms:x:1:key/abc", false, again),
                     0);
    assert_memory_equal(first, again, KEYRING_KEY_LEN);
    assert_int_equal(keyring_open_sealed(k, "arn:aws:kms:x:1:key/abc", AAD,
                                         strlen(AAD), sealed, sealed_len,
                                         &opened, &opened_len), 0);
    assert_memory_equal(opened, "kept", 4);
    free(opened);
    free(sealed);
    keyring_close(k);
}


static void
test_keyring_unknown_id_without_create_is_notfound(void **state)
{
    struct fixture *f = *state;
    struct keyring *k = ring_open(f->path);
    struct keyring *other;
    char other_path[128];
    unsigned char key[KEYRING_KEY_LEN];
    unsigned char *sealed = NULL;
    unsigned char *opened = NULL;
    size_t sealed_len = 0;
    size_t opened_len = 0;

    memset(key, 0xAB, sizeof(key));
    assert_int_equal(keyring_key(k, "nobody", false, key), ERR_NOTFOUND);
    for (size_t i = 0; i < sizeof(key); i++)
        assert_int_equal(key[i], 0xAB);
    /* A lookup does not create the ring file. */
    assert_int_equal(access(f->path, F_OK), -1);

    /* A blob whose key is absent from this ring. */
    snprintf(other_path, sizeof(other_path), "%s/other", f->dir);
    other = ring_open(other_path);
    assert_int_equal(keyring_seal(other, "k1", NULL, 0, "x", 1, &sealed,
                                  &sealed_len), 0);
    assert_int_equal(keyring_open_sealed(k, "k1", NULL, 0, sealed,
                                         sealed_len, &opened, &opened_len),
                     ERR_NOTFOUND);
    free(sealed);
    keyring_close(other);
    keyring_close(k);
}


/* A key made by another handle (as another process would) is found by a
 * lookup that misses in memory. */
static void
test_keyring_sees_key_made_by_another_handle(void **state)
{
    struct fixture *f = *state;
    struct keyring *a = ring_open(f->path);
    struct keyring *b = ring_open(f->path);
    unsigned char ka[KEYRING_KEY_LEN];
    unsigned char kb[KEYRING_KEY_LEN];

    assert_int_equal(keyring_key(b, "late", false, kb), ERR_NOTFOUND);
    assert_int_equal(keyring_key(a, "late", true, ka), 0);
    assert_int_equal(keyring_key(b, "late", false, kb), 0);
    assert_memory_equal(ka, kb, KEYRING_KEY_LEN);

    /* b adds one of its own without losing a's. */
    assert_int_equal(keyring_key(b, "later", true, kb), 0);
    assert_int_equal(keyring_key(a, "later", false, ka), 0);
    assert_memory_equal(ka, kb, KEYRING_KEY_LEN);
    assert_int_equal(file_entry_count(f->path), 2);
    keyring_close(a);
    keyring_close(b);
}


static void *
race(void *arg)
{
    struct racer *r = arg;
    struct keyring *k = r->shared;

    if (k == NULL && keyring_open(r->path, &k, NULL, 0) != 0) {
        r->rc = ERR_INTERNAL;
        return NULL;
    }
    pthread_barrier_wait(&start_line);
    r->rc = keyring_key(k, "brand-new", true, r->key);
    if (r->shared == NULL)
        keyring_close(k);
    return NULL;
}


static void
race_threads(const char *path, struct keyring *shared)
{
    struct racer racers[N_THREADS];
    pthread_t threads[N_THREADS];

    memset(racers, 0, sizeof(racers));
    pthread_barrier_init(&start_line, NULL, N_THREADS);
    for (int i = 0; i < N_THREADS; i++) {
        racers[i].shared = shared;
        racers[i].path = path;
        assert_int_equal(pthread_create(&threads[i], NULL, race,
                                        &racers[i]), 0);
    }
    for (int i = 0; i < N_THREADS; i++)
        pthread_join(threads[i], NULL);
    pthread_barrier_destroy(&start_line);

    for (int i = 0; i < N_THREADS; i++) {
        assert_int_equal(racers[i].rc, 0);
        assert_memory_equal(racers[i].key, racers[0].key, KEYRING_KEY_LEN);
    }
    assert_int_equal(file_entry_count(path), 1);
}


static void
test_keyring_threads_sharing_a_ring_agree_on_new_key(void **state)
{
    struct fixture *f = *state;
    struct keyring *k = ring_open(f->path);

    race_threads(f->path, k);
    keyring_close(k);
}


/* Separate handles take separate flock()s, as separate processes do. */
static void
test_keyring_threads_with_own_rings_agree_on_new_key(void **state)
{
    struct fixture *f = *state;

    race_threads(f->path, NULL);
}


static void
test_keyring_processes_agree_on_new_key(void **state)
{
    struct fixture *f = *state;
    unsigned char keys[N_PROCS][KEYRING_KEY_LEN];
    pid_t pids[N_PROCS];
    int fds[2];

    assert_int_equal(pipe(fds), 0);
    for (int i = 0; i < N_PROCS; i++) {
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0) {
            struct keyring *k = NULL;
            unsigned char key[KEYRING_KEY_LEN];

            close(fds[0]);
            if (keyring_open(f->path, &k, NULL, 0) != 0
                || keyring_key(k, "from-many-processes", true, key) != 0)
                _exit(1);
            if (write(fds[1], key, sizeof(key)) != (ssize_t)sizeof(key))
                _exit(2);
            _exit(0);
        }
    }
    close(fds[1]);
    for (int i = 0; i < N_PROCS; i++) {
        int status;

        assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
    for (int i = 0; i < N_PROCS; i++) {
        assert_int_equal(read(fds[0], keys[i], KEYRING_KEY_LEN),
                         KEYRING_KEY_LEN);
        assert_memory_equal(keys[i], keys[0], KEYRING_KEY_LEN);
    }
    close(fds[0]);
    assert_int_equal(file_entry_count(f->path), 1);
}


static void
test_keyring_distinct_ids_get_distinct_keys(void **state)
{
    struct fixture *f = *state;
    struct keyring *k = ring_open(f->path);
    unsigned char a[KEYRING_KEY_LEN];
    unsigned char b[KEYRING_KEY_LEN];
    unsigned char a2[KEYRING_KEY_LEN];

    assert_int_equal(keyring_key(k, "alpha", true, a), 0);
    assert_int_equal(keyring_key(k, "beta", true, b), 0);
    assert_int_equal(keyring_key(k, "alpha", true, a2), 0);
    assert_memory_not_equal(a, b, KEYRING_KEY_LEN);
    assert_memory_equal(a, a2, KEYRING_KEY_LEN);
    assert_int_equal(file_entry_count(f->path), 2);
    keyring_close(k);
}


static void
test_keyring_files_have_mode_0600(void **state)
{
    struct fixture *f = *state;
    struct keyring *k;
    unsigned char key[KEYRING_KEY_LEN];
    char lock_path[128];
    struct stat st;
    mode_t old = umask(0);

    k = ring_open(f->path);
    assert_int_equal(keyring_key(k, "k1", true, key), 0);
    umask(old);

    assert_int_equal(stat(f->path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    snprintf(lock_path, sizeof(lock_path), "%s.lock", f->path);
    assert_int_equal(stat(lock_path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    keyring_close(k);
}


static void
test_keyring_refuses_corrupt_ring_file(void **state)
{
    struct fixture *f = *state;
    struct keyring *k = ring_open(f->path);
    struct keyring *bad = NULL;
    unsigned char key[KEYRING_KEY_LEN];
    unsigned char *good;
    unsigned char *now;
    size_t good_len;
    size_t now_len;
    char msg[256];

    assert_int_equal(keyring_key(k, "k1", true, key), 0);
    assert_int_equal(keyring_key(k, "k2", true, key), 0);
    keyring_close(k);
    good = file_read(f->path, &good_len);

    /* One flipped byte anywhere. */
    for (size_t i = 0; i < good_len; i += 7) {
        good[i] ^= 0x10;
        file_write(f->path, good, good_len);
        good[i] ^= 0x10;
        msg[0] = '\0';
        assert_int_equal(keyring_open(f->path, &bad, msg, sizeof(msg)),
                         ERR_INVAL);
        assert_null(bad);
        assert_non_null(strstr(msg, f->path));
    }
    assert_non_null(strstr(msg, "corrupt"));

    /* Every truncation. */
    for (size_t len = 0; len < good_len; len++) {
        file_write(f->path, good, len);
        assert_int_equal(keyring_open(f->path, &bad, msg, sizeof(msg)),
                         ERR_INVAL);
        assert_null(bad);
    }

    /* A ring that goes bad under an open handle is refused, not
     * overwritten, when a new id is asked for. */
    file_write(f->path, good, good_len);
    k = ring_open(f->path);
    file_write(f->path, good, good_len - 1);
    assert_int_equal(keyring_key(k, "k3", true, key), ERR_INVAL);
    assert_int_equal(keyring_key(k, "k1", false, key), 0);
    now = file_read(f->path, &now_len);
    assert_int_equal(now_len, good_len - 1);
    assert_memory_equal(now, good, now_len);
    free(now);
    keyring_close(k);
    free(good);
}


/* A ring file replaced by one lacking keys already handed out is refused
 * rather than extended, which would drop those keys for good. */
static void
test_keyring_refuses_ring_file_that_lost_keys(void **state)
{
    struct fixture *f = *state;
    struct keyring *k = ring_open(f->path);
    struct keyring *other;
    char other_path[128];
    unsigned char key[KEYRING_KEY_LEN];
    unsigned char *buf;
    size_t len;

    snprintf(other_path, sizeof(other_path), "%s/other", f->dir);
    other = ring_open(other_path);
    assert_int_equal(keyring_key(other, "x", true, key), 0);
    keyring_close(other);

    assert_int_equal(keyring_key(k, "k1", true, key), 0);
    buf = file_read(other_path, &len);
    file_write(f->path, buf, len);
    free(buf);
    assert_int_equal(keyring_key(k, "k2", true, key), ERR_INVAL);
    assert_int_equal(file_entry_count(f->path), 1);
    keyring_close(k);
}


static void
test_keyring_nonces_differ_between_seals(void **state)
{
    struct fixture *f = *state;
    struct keyring *k = ring_open(f->path);
    unsigned char *a = NULL;
    unsigned char *b = NULL;
    size_t a_len = 0;
    size_t b_len = 0;

    assert_int_equal(keyring_seal(k, "k1", AAD, strlen(AAD), "same", 4, &a,
                                  &a_len), 0);
    assert_int_equal(keyring_seal(k, "k1", AAD, strlen(AAD), "same", 4, &b,
                                  &b_len), 0);
    assert_int_equal(a_len, b_len);
    assert_memory_equal(a, b, 1 + KEYRING_ID_HASH_LEN);
    assert_memory_not_equal(a + 1 + KEYRING_ID_HASH_LEN,
                            b + 1 + KEYRING_ID_HASH_LEN, KEYRING_NONCE_LEN);
    assert_memory_not_equal(a + KEYRING_HEADER_LEN, b + KEYRING_HEADER_LEN,
                            a_len - KEYRING_HEADER_LEN);
    free(a);
    free(b);
    keyring_close(k);
}


/* Ids are opaque: path-like ids make no files, and lengths are bounded. */
static void
test_keyring_treats_ids_as_opaque_and_bounded(void **state)
{
    struct fixture *f = *state;
    struct keyring *k = ring_open(f->path);
    unsigned char key[KEYRING_KEY_LEN];
    unsigned char key2[KEYRING_KEY_LEN];
    char *id = malloc(KEYRING_ID_MAX + 2);
    unsigned char *sealed = NULL;
    size_t sealed_len = 0;
    char probe[160];

    assert_non_null(id);
    memset(id, 'k', KEYRING_ID_MAX + 1);
    id[KEYRING_ID_MAX + 1] = '\0';
    assert_int_equal(keyring_key(k, id, true, key), ERR_INVAL);
    assert_int_equal(keyring_seal(k, id, NULL, 0, "x", 1, &sealed,
                                  &sealed_len), ERR_INVAL);
    assert_null(sealed);
    id[KEYRING_ID_MAX] = '\0';
    assert_int_equal(keyring_key(k, id, true, key), 0);
    assert_int_equal(keyring_key(k, "", true, key), ERR_INVAL);

    assert_int_equal(keyring_key(k, "../../escape", true, key), 0);
    assert_int_equal(keyring_key(k, "../../escape/", true, key2), 0);
    assert_memory_not_equal(key, key2, KEYRING_KEY_LEN);
    snprintf(probe, sizeof(probe), "%s/../../escape", f->dir);
    assert_int_equal(access(probe, F_OK), -1);
    assert_int_equal(keyring_key(k, "clé ünïcode \t x", true, key), 0);
    keyring_close(k);

    k = ring_open(f->path);
    assert_int_equal(keyring_key(k, id, false, key), 0);
    assert_int_equal(keyring_key(k, "clé ünïcode \t x", false, key2), 0);
    assert_int_equal(file_entry_count(f->path), 4);
    keyring_close(k);
    free(id);
}


static void
test_keyring_open_reports_missing_folder(void **state)
{
    struct keyring *k = NULL;
    char msg[256] = "";

    assert_int_equal(keyring_open("/nonexistent-timbre-dir/keyring", &k, msg,
                                  sizeof(msg)), ERR_IO);
    assert_null(k);
    assert_non_null(strstr(msg, "/nonexistent-timbre-dir/keyring.lock"));
    assert_int_equal(keyring_open("", &k, msg, sizeof(msg)), ERR_INVAL);
    keyring_close(NULL);
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
        T(test_keyring_round_trips_empty_plaintext),
        T(test_keyring_round_trips_1mb_plaintext),
        T(test_keyring_refuses_every_flipped_byte),
        T(test_keyring_refuses_wrong_aad),
        T(test_keyring_reports_other_key_id_as_mismatch),
        T(test_keyring_refuses_truncated_blob),
        T(test_keyring_key_persists_across_reopen),
        T(test_keyring_unknown_id_without_create_is_notfound),
        T(test_keyring_sees_key_made_by_another_handle),
        T(test_keyring_threads_sharing_a_ring_agree_on_new_key),
        T(test_keyring_threads_with_own_rings_agree_on_new_key),
        T(test_keyring_processes_agree_on_new_key),
        T(test_keyring_distinct_ids_get_distinct_keys),
        T(test_keyring_files_have_mode_0600),
        T(test_keyring_refuses_corrupt_ring_file),
        T(test_keyring_refuses_ring_file_that_lost_keys),
        T(test_keyring_nonces_differ_between_seals),
        T(test_keyring_treats_ids_as_opaque_and_bounded),
        T(test_keyring_open_reports_missing_folder),
#undef T
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
