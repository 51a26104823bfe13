/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The key ring file and AES-256-GCM envelopes; see keyring.h for both
 * formats.
 *
 * The ring in memory only ever grows, and always equals a ring that was
 * on disk: a new key enters memory only after the file holding it has
 * been renamed into place. A lookup that misses re-reads the file (another
 * process may have added the id), under a shared flock() for a plain
 * lookup and an exclusive one when the id may be created. A mutex keeps
 * the threads of one process apart, since flock() does not separate
 * threads that share a descriptor.
 */
#include "util/keyring.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <pthread.h>

#include <openssl/evp.h>

#include "util/crypto.h"
#include "util/err.h"

#define RING_MAGIC "TMBRKEYS"
#define RING_MAGIC_LEN 8
#define RING_FORMAT 1
#define RING_HEAD_LEN (RING_MAGIC_LEN + 4 + 4)
/* A ring of a million ids of average length stays far below this; a
 * larger file is damage, not a ring. */
#define RING_FILE_MAX ((size_t)256 << 20)
/* EVP update calls take int lengths, so long buffers go in pieces. */
#define GCM_CHUNK ((size_t)1 << 30)

struct entry {
    unsigned char *id;
    size_t id_len;
    unsigned char key[KEYRING_KEY_LEN];
};

struct keyring {
    pthread_mutex_t mutex;
    char *path;
    char *tmp_path;
    char *dir_path;
    int lock_fd;
    struct entry *entries;
    size_t n_entries;
};

static pthread_once_t cipher_once = PTHREAD_ONCE_INIT;
static EVP_CIPHER *aes_gcm;


static void
fetch_cipher(void)
{
    aes_gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
}


static const EVP_CIPHER *
cipher(void)
{
    pthread_once(&cipher_once, fetch_cipher);
    return aes_gcm;
}


static void
entries_free(struct entry *entries, size_t n)
{
    if (entries == NULL)
        return;
    for (size_t i = 0; i < n; i++) {
        free(entries[i].id);
        explicit_bzero(entries[i].key, KEYRING_KEY_LEN);
    }
    free(entries);
}


static ssize_t
entries_find(const struct entry *entries, size_t n, const void *id,
             size_t id_len)
{
    for (size_t i = 0; i < n; i++) {
        if (entries[i].id_len == id_len
            && memcmp(entries[i].id, id, id_len) == 0)
            return (ssize_t)i;
    }
    return -1;
}


/* A new array holding 'entries' and one more entry (copies of 'id' and
 * 'key'). The old array stays valid and owned by the caller. Copying
 * rather than realloc() keeps stale key bytes out of freed memory. */
static int
entries_append(const struct entry *entries, size_t n, const void *id,
               size_t id_len, const unsigned char key[KEYRING_KEY_LEN],
               struct entry **out)
{
    struct entry *grown;

    grown = calloc(n + 1, sizeof(*grown));
    if (grown == NULL)
        return ERR_NOMEM;
    for (size_t i = 0; i <= n; i++) {
        const void *src_id = i < n ? entries[i].id : id;
        size_t len = i < n ? entries[i].id_len : id_len;

        grown[i].id = malloc(len);
        if (grown[i].id == NULL) {
            entries_free(grown, i);
            return ERR_NOMEM;
        }
        memcpy(grown[i].id, src_id, len);
        grown[i].id_len = len;
        memcpy(grown[i].key, i < n ? entries[i].key : key, KEYRING_KEY_LEN);
    }
    *out = grown;
    return 0;
}


static uint32_t
get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8
           | (uint32_t)p[3];
}


static void
put_u32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}


/* Parses a whole ring file image. The checksum is checked first, so a
 * truncated or damaged file is refused before any field is trusted. */
static int
ring_parse(const unsigned char *buf, size_t len, struct entry **out,
           size_t *n_out, char *msg, size_t msg_len)
{
    unsigned char digest[CRYPTO_SHA256_LEN];
    struct entry *entries = NULL;
    size_t n = 0;
    size_t pos;
    uint32_t count;
    int rc;

    if (len < RING_HEAD_LEN + CRYPTO_SHA256_LEN
        || memcmp(buf, RING_MAGIC, RING_MAGIC_LEN) != 0) {
        err_message(msg, msg_len, "not a key ring file (bad header)");
        return ERR_INVAL;
    }
    rc = crypto_sha256(buf, len - CRYPTO_SHA256_LEN, digest);
    if (rc != 0)
        return rc;
    if (!crypto_equal(digest, buf + len - CRYPTO_SHA256_LEN,
                      CRYPTO_SHA256_LEN)) {
        err_message(msg, msg_len,
                    "key ring file is corrupt or truncated (checksum)");
        return ERR_INVAL;
    }
    if (get_u32(buf + RING_MAGIC_LEN) != RING_FORMAT) {
        err_message(msg, msg_len, "key ring file has unknown format %u",
                    (unsigned)get_u32(buf + RING_MAGIC_LEN));
        return ERR_INVAL;
    }

    count = get_u32(buf + RING_MAGIC_LEN + 4);
    len -= CRYPTO_SHA256_LEN;
    pos = RING_HEAD_LEN;
    if (count > (len - pos) / (4 + 1 + KEYRING_KEY_LEN)) {
        err_message(msg, msg_len, "key ring file has a bad entry count");
        return ERR_INVAL;
    }
    entries = calloc(count ? count : 1, sizeof(*entries));
    if (entries == NULL)
        return ERR_NOMEM;

    for (n = 0; n < count; n++) {
        size_t id_len;

        if (len - pos < 4)
            goto malformed;
        id_len = get_u32(buf + pos);
        pos += 4;
        if (id_len == 0 || id_len > KEYRING_ID_MAX
            || len - pos < id_len + KEYRING_KEY_LEN)
            goto malformed;
        if (entries_find(entries, n, buf + pos, id_len) >= 0)
            goto malformed;
        entries[n].id = malloc(id_len);
        if (entries[n].id == NULL) {
            entries_free(entries, n);
            return ERR_NOMEM;
        }
        memcpy(entries[n].id, buf + pos, id_len);
        entries[n].id_len = id_len;
        memcpy(entries[n].key, buf + pos + id_len, KEYRING_KEY_LEN);
        pos += id_len + KEYRING_KEY_LEN;
    }
    if (pos != len)
        goto malformed;

    *out = entries;
    *n_out = n;
    return 0;

malformed:
    entries_free(entries, n);
    err_message(msg, msg_len, "key ring file has a malformed entry %zu", n);
    return ERR_INVAL;
}


static int
read_full(int fd, unsigned char *buf, size_t len)
{
    size_t done = 0;

    while (done < len) {
        ssize_t got = read(fd, buf + done, len - done);

        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            return ERR_IO;
        if (got == 0)
            return ERR_INVAL;
        done += (size_t)got;
    }
    return 0;
}


static int
write_full(int fd, const unsigned char *buf, size_t len)
{
    size_t done = 0;

    while (done < len) {
        ssize_t put = write(fd, buf + done, len - done);

        if (put < 0 && errno == EINTR)
            continue;
        if (put < 0)
            return ERR_IO;
        done += (size_t)put;
    }
    return 0;
}


/* Reads the ring file at 'path'; a missing file is an empty ring. */
static int
ring_load(const char *path, struct entry **out, size_t *n_out, char *msg,
          size_t msg_len)
{
    unsigned char *buf = NULL;
    char why[96] = "";
    struct stat st;
    size_t len = 0;
    int fd;
    int rc;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
        *out = NULL;
        *n_out = 0;
        return 0;
    }
    if (fd < 0) {
        err_message(msg, msg_len, "cannot open key ring file %s: %s", path,
                    strerror(errno));
        return ERR_IO;
    }

    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        err_message(msg, msg_len, "key ring %s is not a regular file", path);
        rc = ERR_IO;
        goto out;
    }
    if ((uint64_t)st.st_size > RING_FILE_MAX) {
        err_message(msg, msg_len, "key ring file %s is too large", path);
        rc = ERR_INVAL;
        goto out;
    }
    len = (size_t)st.st_size;
    buf = malloc(len ? len : 1);
    if (buf == NULL) {
        rc = ERR_NOMEM;
        goto out;
    }
    rc = read_full(fd, buf, len);
    if (rc != 0) {
        err_message(msg, msg_len, "cannot read key ring file %s", path);
        goto out;
    }
    rc = ring_parse(buf, len, out, n_out, why, sizeof(why));
    if (rc == ERR_INVAL)
        err_message(msg, msg_len, "%s: %s", path, why);

out:
    if (buf != NULL)
        explicit_bzero(buf, len);
    free(buf);
    close(fd);
    return rc;
}


/* The file image of a ring, in a malloc'd buffer the caller wipes. */
static int
ring_serialise(const struct entry *entries, size_t n, unsigned char **out,
               size_t *out_len)
{
    unsigned char *buf;
    size_t len = RING_HEAD_LEN + CRYPTO_SHA256_LEN;
    size_t pos;
    int rc;

    for (size_t i = 0; i < n; i++)
        len += 4 + entries[i].id_len + KEYRING_KEY_LEN;
    buf = malloc(len);
    if (buf == NULL)
        return ERR_NOMEM;

    memcpy(buf, RING_MAGIC, RING_MAGIC_LEN);
    put_u32(buf + RING_MAGIC_LEN, RING_FORMAT);
    put_u32(buf + RING_MAGIC_LEN + 4, (uint32_t)n);
    pos = RING_HEAD_LEN;
    for (size_t i = 0; i < n; i++) {
        put_u32(buf + pos, (uint32_t)entries[i].id_len);
        memcpy(buf + pos + 4, entries[i].id, entries[i].id_len);
        pos += 4 + entries[i].id_len;
        memcpy(buf + pos, entries[i].key, KEYRING_KEY_LEN);
        pos += KEYRING_KEY_LEN;
    }

    rc = crypto_sha256(buf, pos, buf + pos);
    if (rc != 0) {
        explicit_bzero(buf, len);
        free(buf);
        return rc;
    }
    *out = buf;
    *out_len = len;
    return 0;
}


/* Replaces the ring file with 'entries' so that a crash leaves either the
 * old or the new file. The caller holds the exclusive lock. */
static int
ring_store(struct keyring *k, const struct entry *entries, size_t n)
{
    unsigned char *buf = NULL;
    size_t len = 0;
    int fd = -1;
    int dir_fd;
    int rc;

    rc = ring_serialise(entries, n, &buf, &len);
    if (rc != 0)
        return rc;

    fd = open(k->tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC
              | O_NOFOLLOW, 0600);
    if (fd < 0) {
        rc = ERR_IO;
        goto out;
    }
    /* O_CREAT leaves the mode of a stale file from a crashed writer. */
    if (fchmod(fd, 0600) != 0 || write_full(fd, buf, len) != 0
        || fsync(fd) != 0) {
        rc = ERR_IO;
        goto out;
    }
    if (close(fd) != 0) {
        fd = -1;
        rc = ERR_IO;
        goto out;
    }
    fd = -1;
    if (rename(k->tmp_path, k->path) != 0) {
        rc = ERR_IO;
        goto out;
    }

    /* The rename is durable only once the folder is synced. */
    dir_fd = open(k->dir_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd < 0) {
        rc = ERR_IO;
        goto out;
    }
    if (fsync(dir_fd) != 0)
        rc = ERR_IO;
    close(dir_fd);

out:
    if (fd >= 0) {
        close(fd);
        unlink(k->tmp_path);
    } else if (rc != 0) {
        unlink(k->tmp_path);
    }
    explicit_bzero(buf, len);
    free(buf);
    return rc;
}


/* Re-reads the ring file into 'k'. The file must still hold every key 'k'
 * holds, unchanged: data may already be sealed under them, so a file that
 * lost one is refused rather than built upon. Caller holds the mutex and
 * a lock on the lock file. */
static int
ring_reload(struct keyring *k)
{
    struct entry *loaded = NULL;
    size_t n = 0;
    int rc;

    rc = ring_load(k->path, &loaded, &n, NULL, 0);
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < k->n_entries; i++) {
        const struct entry *e = &k->entries[i];
        ssize_t j = entries_find(loaded, n, e->id, e->id_len);

        if (j < 0 || !crypto_equal(loaded[j].key, e->key, KEYRING_KEY_LEN)) {
            entries_free(loaded, n);
            return ERR_INVAL;
        }
    }
    entries_free(k->entries, k->n_entries);
    k->entries = loaded;
    k->n_entries = n;
    return 0;
}


static int
lock_file(int fd, int op)
{
    while (flock(fd, op) != 0) {
        if (errno != EINTR)
            return ERR_IO;
    }
    return 0;
}


/* Adds a random key for 'id' to the file and then to memory. Caller holds
 * the mutex and the exclusive lock, and has just reloaded the ring. */
static int
ring_add(struct keyring *k, const char *id, size_t id_len,
         unsigned char key[KEYRING_KEY_LEN])
{
    struct entry *grown = NULL;
    unsigned char fresh[KEYRING_KEY_LEN];
    int rc;

    rc = crypto_random(fresh, sizeof(fresh));
    if (rc != 0)
        goto out;
    rc = entries_append(k->entries, k->n_entries, id, id_len, fresh, &grown);
    if (rc != 0)
        goto out;
    rc = ring_store(k, grown, k->n_entries + 1);
    if (rc != 0) {
        entries_free(grown, k->n_entries + 1);
        goto out;
    }

    entries_free(k->entries, k->n_entries);
    k->entries = grown;
    k->n_entries++;
    memcpy(key, fresh, KEYRING_KEY_LEN);

out:
    explicit_bzero(fresh, sizeof(fresh));
    return rc;
}


/* "<path><suffix>" in a malloc'd string, or NULL. */
static char *
path_with(const char *path, const char *suffix)
{
    size_t a = strlen(path);
    size_t b = strlen(suffix);
    char *s = malloc(a + b + 1);

    if (s == NULL)
        return NULL;
    memcpy(s, path, a);
    memcpy(s + a, suffix, b + 1);
    return s;
}


/* The folder holding 'path', in a malloc'd string, or NULL. */
static char *
path_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir;

    if (slash == NULL)
        return strdup(".");
    if (slash == path)
        return strdup("/");
    dir = malloc((size_t)(slash - path) + 1);
    if (dir == NULL)
        return NULL;
    memcpy(dir, path, (size_t)(slash - path));
    dir[slash - path] = '\0';
    return dir;
}


int
keyring_open(const char *path, struct keyring **out, char *msg,
             size_t msg_len)
{
    struct keyring *k;
    char *lock_path = NULL;
    int rc;

    if (path == NULL || path[0] == '\0') {
        err_message(msg, msg_len, "key ring path is empty");
        return ERR_INVAL;
    }
    k = calloc(1, sizeof(*k));
    if (k == NULL)
        return ERR_NOMEM;
    k->lock_fd = -1;
    if (pthread_mutex_init(&k->mutex, NULL) != 0) {
        free(k);
        return ERR_NOMEM;
    }
    k->path = strdup(path);
    k->tmp_path = path_with(path, ".tmp");
    k->dir_path = path_dir(path);
    lock_path = path_with(path, ".lock");
    if (k->path == NULL || k->tmp_path == NULL || k->dir_path == NULL
        || lock_path == NULL) {
        rc = ERR_NOMEM;
        goto out;
    }

    k->lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
                      0600);
    if (k->lock_fd < 0) {
        err_message(msg, msg_len, "cannot open key ring lock %s: %s",
                    lock_path, strerror(errno));
        rc = ERR_IO;
        goto out;
    }
    rc = lock_file(k->lock_fd, LOCK_SH);
    if (rc != 0) {
        err_message(msg, msg_len, "cannot lock %s: %s", lock_path,
                    strerror(errno));
        goto out;
    }
    rc = ring_load(path, &k->entries, &k->n_entries, msg, msg_len);
    flock(k->lock_fd, LOCK_UN);

out:
    free(lock_path);
    if (rc != 0) {
        keyring_close(k);
        return rc;
    }
    *out = k;
    return 0;
}


void
keyring_close(struct keyring *k)
{
    if (k == NULL)
        return;
    entries_free(k->entries, k->n_entries);
    if (k->lock_fd >= 0)
        close(k->lock_fd);
    pthread_mutex_destroy(&k->mutex);
    free(k->path);
    free(k->tmp_path);
    free(k->dir_path);
    free(k);
}


static int
id_check(const char *key_id, size_t *len)
{
    if (key_id == NULL)
        return ERR_INVAL;
    *len = strnlen(key_id, KEYRING_ID_MAX + 1);
    if (*len == 0 || *len > KEYRING_ID_MAX)
        return ERR_INVAL;
    return 0;
}


int
keyring_key(struct keyring *k, const char *key_id, bool create,
            unsigned char key[KEYRING_KEY_LEN])
{
    size_t id_len;
    ssize_t i;
    int rc;

    rc = id_check(key_id, &id_len);
    if (rc != 0)
        return rc;

    pthread_mutex_lock(&k->mutex);
    i = entries_find(k->entries, k->n_entries, key_id, id_len);
    if (i >= 0) {
        memcpy(key, k->entries[i].key, KEYRING_KEY_LEN);
        goto unlock;
    }

    /* Another process may have made the key since the ring was read. */
    rc = lock_file(k->lock_fd, create ? LOCK_EX : LOCK_SH);
    if (rc != 0)
        goto unlock;
    rc = ring_reload(k);
    if (rc != 0)
        goto unlock_file;
    i = entries_find(k->entries, k->n_entries, key_id, id_len);
    if (i >= 0)
        memcpy(key, k->entries[i].key, KEYRING_KEY_LEN);
    else if (create)
        rc = ring_add(k, key_id, id_len, key);
    else
        rc = ERR_NOTFOUND;

unlock_file:
    flock(k->lock_fd, LOCK_UN);
unlock:
    pthread_mutex_unlock(&k->mutex);
    return rc;
}


/* Feeds 'len' bytes through a GCM context in pieces EVP accepts. 'out' is
 * NULL for additional data. */
static int
gcm_update(EVP_CIPHER_CTX *ctx, bool encrypt, unsigned char *out,
           const unsigned char *in, size_t len)
{
    while (len > 0) {
        size_t piece = len < GCM_CHUNK ? len : GCM_CHUNK;
        int out_len;
        int ok;

        if (encrypt)
            ok = EVP_EncryptUpdate(ctx, out, &out_len, in, (int)piece);
        else
            ok = EVP_DecryptUpdate(ctx, out, &out_len, in, (int)piece);
        if (ok != 1 || (size_t)out_len != piece)
            return ERR_CRYPTO;
        in += piece;
        if (out != NULL)
            out += piece;
        len -= piece;
    }
    return 0;
}


/* Writes the first bytes of SHA-256(key id) into 'out'. */
static int
id_hash(const char *key_id, size_t id_len,
        unsigned char out[KEYRING_ID_HASH_LEN])
{
    unsigned char digest[CRYPTO_SHA256_LEN];
    int rc;

    rc = crypto_sha256(key_id, id_len, digest);
    if (rc == 0)
        memcpy(out, digest, KEYRING_ID_HASH_LEN);
    return rc;
}


/* Runs AES-256-GCM over one blob. 'header' is the blob's first
 * KEYRING_HEADER_LEN bytes, whose version and id hash are authenticated
 * along with 'aad'. Encrypting writes 'tag'; decrypting checks it. */
static int
gcm_run(bool encrypt, const unsigned char key[KEYRING_KEY_LEN],
        const unsigned char *header, const void *aad, size_t aad_len,
        const unsigned char *in, size_t len, unsigned char *out,
        unsigned char tag[KEYRING_TAG_LEN])
{
    const unsigned char *nonce = header + 1 + KEYRING_ID_HASH_LEN;
    const EVP_CIPHER *c = cipher();
    EVP_CIPHER_CTX *ctx;
    int final_len;
    int rc = ERR_CRYPTO;

    if (c == NULL)
        return ERR_CRYPTO;
    ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL)
        return ERR_NOMEM;
    if (EVP_CipherInit_ex2(ctx, c, key, nonce, encrypt ? 1 : 0, NULL) != 1)
        goto out;
    if (gcm_update(ctx, encrypt, NULL, header, 1 + KEYRING_ID_HASH_LEN) != 0
        || gcm_update(ctx, encrypt, NULL, aad, aad_len) != 0
        || gcm_update(ctx, encrypt, out, in, len) != 0)
        goto out;

    if (encrypt) {
        if (EVP_EncryptFinal_ex(ctx, out + len, &final_len) != 1
            || EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG,
                                   KEYRING_TAG_LEN, tag) != 1)
            goto out;
    } else {
        if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, KEYRING_TAG_LEN,
                                tag) != 1
            || EVP_DecryptFinal_ex(ctx, out + len, &final_len) != 1)
            goto out;
    }
    rc = 0;

out:
    EVP_CIPHER_CTX_free(ctx);
    return rc;
}


int
keyring_seal(struct keyring *k, const char *key_id, const void *aad,
             size_t aad_len, const void *plain, size_t len,
             unsigned char **out, size_t *out_len)
{
    unsigned char key[KEYRING_KEY_LEN];
    unsigned char *blob = NULL;
    size_t id_len;
    int rc;

    if (len > SIZE_MAX - KEYRING_OVERHEAD)
        return ERR_TOOBIG;
    rc = id_check(key_id, &id_len);
    if (rc != 0)
        return rc;
    rc = keyring_key(k, key_id, true, key);
    if (rc != 0)
        return rc;

    blob = malloc(len + KEYRING_OVERHEAD);
    if (blob == NULL) {
        rc = ERR_NOMEM;
        goto out;
    }
    blob[0] = KEYRING_SEALED_VERSION;
    rc = id_hash(key_id, id_len, blob + 1);
    if (rc != 0)
        goto out;
    rc = crypto_random(blob + 1 + KEYRING_ID_HASH_LEN, KEYRING_NONCE_LEN);
    if (rc != 0)
        goto out;
    rc = gcm_run(true, key, blob, aad, aad_len, plain, len,
                 blob + KEYRING_HEADER_LEN,
                 blob + KEYRING_HEADER_LEN + len);
    if (rc != 0)
        goto out;

    *out = blob;
    *out_len = len + KEYRING_OVERHEAD;
    blob = NULL;

out:
    if (blob != NULL)
        explicit_bzero(blob, len + KEYRING_OVERHEAD);
    free(blob);
    explicit_bzero(key, sizeof(key));
    return rc;
}


int
keyring_open_sealed(struct keyring *k, const char *key_id,
                    const void *aad, size_t aad_len, const void *sealed,
                    size_t len, unsigned char **plain, size_t *plain_len)
{
    const unsigned char *blob = sealed;
    unsigned char want[KEYRING_ID_HASH_LEN];
    unsigned char tag[KEYRING_TAG_LEN];
    unsigned char key[KEYRING_KEY_LEN];
    unsigned char *buf = NULL;
    size_t id_len;
    size_t n;
    int rc;

    if (sealed == NULL || len < KEYRING_OVERHEAD
        || blob[0] != KEYRING_SEALED_VERSION)
        return ERR_INVAL;
    rc = id_check(key_id, &id_len);
    if (rc != 0)
        return rc;
    rc = id_hash(key_id, id_len, want);
    if (rc != 0)
        return rc;
    if (!crypto_equal(want, blob + 1, KEYRING_ID_HASH_LEN))
        return ERR_MISMATCH;
    rc = keyring_key(k, key_id, false, key);
    if (rc != 0)
        return rc;

    n = len - KEYRING_OVERHEAD;
    buf = malloc(n ? n : 1);
    if (buf == NULL) {
        rc = ERR_NOMEM;
        goto out;
    }
    /* OpenSSL wants a writable tag buffer for SET_TAG. */
    memcpy(tag, blob + KEYRING_HEADER_LEN + n, KEYRING_TAG_LEN);
    rc = gcm_run(false, key, blob, aad, aad_len, blob + KEYRING_HEADER_LEN,
                 n, buf, tag);
    if (rc != 0)
        goto out;

    *plain = buf;
    *plain_len = n;
    buf = NULL;

out:
    if (buf != NULL)
        explicit_bzero(buf, n);
    free(buf);
    explicit_bzero(key, sizeof(key));
    return rc;
}
