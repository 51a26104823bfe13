/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Pagination tokens: a fixed 65-byte record, base64url without padding.
 *
 *   offset  size  field
 *        0     1  version (1)
 *        1    16  scope tag: HMAC(k_scope, H(op) H(account) H(parent)
 *                 H(filters)), truncated; H is SHA-256
 *       17     8  position, big-endian two's complement
 *       25     8  issued_at_s, big-endian two's complement
 *       33    32  HMAC(k_mac, bytes 0..32)
 *
 * k_mac and k_scope are derived from the server secret with distinct
 * labels, so neither use of the secret can be turned into the other and
 * the secret itself never touches a token. Hashing each scope member
 * separately makes the encoding unambiguous without length prefixes
 * ("ab" + "c" differs from "a" + "bc").
 *
 * The decoder accepts only the canonical text of a record: base64url
 * leaves unused bits in the last character, and a token that differs from
 * an issued one in those bits alone must still be refused as altered.
 *
 * The key file is created under a temporary name, synced, then linked to
 * its final name; link() fails with EEXIST instead of replacing, so the
 * first process to get there wins and the others read its key. A crash
 * leaves at worst an unused temporary file, never a short key.
 */
#include "api/pagetoken.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/crypto.h"
#include "util/err.h"

#define TOKEN_VERSION 1
#define TAG_LEN 16
#define OFF_TAG 1
#define OFF_POSITION (OFF_TAG + TAG_LEN)
#define OFF_ISSUED (OFF_POSITION + 8)
#define OFF_MAC (OFF_ISSUED + 8)
#define RAW_LEN (OFF_MAC + CRYPTO_SHA256_LEN)

#define KEY_FILE "page-token.key"

#define MSG_INVALID "NextToken is invalid or was tampered with"
#define MSG_MISMATCH "NextToken was issued for different arguments " \
                     "(operation, domain or filters)"
#define MSG_EXPIRED "NextToken has expired; start the listing again " \
                    "without NextToken"

static const char label_mac[] = "timbre page token v1 mac";
static const char label_scope[] = "timbre page token v1 scope";

_Static_assert(RAW_LEN == 65, "token layout changed");


static void
put_i64(unsigned char *p, int64_t v)
{
    uint64_t u = (uint64_t)v;

    for (int i = 7; i >= 0; i--) {
        p[i] = (unsigned char)(u & 0xff);
        u >>= 8;
    }
}


static int64_t
get_i64(const unsigned char *p)
{
    uint64_t u = 0;
    int64_t v;

    for (int i = 0; i < 8; i++)
        u = u << 8 | p[i];

    /* Going through memcpy keeps values above INT64_MAX well-defined as
     * their two's complement negatives. */
    memcpy(&v, &u, sizeof v);
    return v;
}


static void
set_msg(char *msg, size_t msg_len, const char *text)
{
    if (msg != NULL && msg_len > 0)
        snprintf(msg, msg_len, "%s", text);
}


/* Derives the MAC and scope keys from the server secret. */
static int
derive_keys(const unsigned char key[PAGETOKEN_KEY_LEN],
            unsigned char k_mac[CRYPTO_SHA256_LEN],
            unsigned char k_scope[CRYPTO_SHA256_LEN])
{
    int rc;

    rc = crypto_hmac_sha256(key, PAGETOKEN_KEY_LEN, label_mac,
                            sizeof label_mac - 1, k_mac);
    if (rc != 0)
        return rc;
    return crypto_hmac_sha256(key, PAGETOKEN_KEY_LEN, label_scope,
                              sizeof label_scope - 1, k_scope);
}


static int
scope_tag(const unsigned char k_scope[CRYPTO_SHA256_LEN],
          const struct pagetoken_scope *scope, unsigned char tag[TAG_LEN])
{
    const char *parts[4];
    unsigned char hashes[4 * CRYPTO_SHA256_LEN];
    unsigned char mac[CRYPTO_SHA256_LEN];
    int rc;

    parts[0] = scope->operation;
    parts[1] = scope->account;
    parts[2] = scope->parent_id;
    parts[3] = scope->filters;
    for (int i = 0; i < 4; i++) {
        const char *s = parts[i] != NULL ? parts[i] : "";

        rc = crypto_sha256(s, strlen(s), hashes + i * CRYPTO_SHA256_LEN);
        if (rc != 0)
            return rc;
    }

    rc = crypto_hmac_sha256(k_scope, CRYPTO_SHA256_LEN, hashes,
                            sizeof hashes, mac);
    if (rc != 0)
        return rc;
    memcpy(tag, mac, TAG_LEN);
    return 0;
}


int
pagetoken_encode(const unsigned char key[PAGETOKEN_KEY_LEN],
                 const struct pagetoken_scope *scope, int64_t position,
                 int64_t issued_at_s, char **token_out)
{
    unsigned char k_mac[CRYPTO_SHA256_LEN];
    unsigned char k_scope[CRYPTO_SHA256_LEN];
    unsigned char raw[RAW_LEN];
    char *text = NULL;
    int rc;

    if (key == NULL || scope == NULL || token_out == NULL)
        return ERR_INVAL;

    rc = derive_keys(key, k_mac, k_scope);
    if (rc != 0)
        goto out;

    raw[0] = TOKEN_VERSION;
    rc = scope_tag(k_scope, scope, raw + OFF_TAG);
    if (rc != 0)
        goto out;
    put_i64(raw + OFF_POSITION, position);
    put_i64(raw + OFF_ISSUED, issued_at_s);
    rc = crypto_hmac_sha256(k_mac, sizeof k_mac, raw, OFF_MAC,
                            raw + OFF_MAC);
    if (rc != 0)
        goto out;

    text = malloc(PAGETOKEN_TEXT_LEN + 1);
    if (text == NULL) {
        rc = ERR_NOMEM;
        goto out;
    }
    crypto_b64url_encode(raw, RAW_LEN, text);
    *token_out = text;

out:
    explicit_bzero(k_mac, sizeof k_mac);
    explicit_bzero(k_scope, sizeof k_scope);
    return rc;
}


/* Turns the text into the raw record, refusing anything but the exact
 * canonical encoding of RAW_LEN bytes. */
static bool
token_parse(const char *token, unsigned char raw[RAW_LEN])
{
    char again[PAGETOKEN_TEXT_LEN + 1];
    size_t n = 0;

    /* strnlen keeps an 8 KiB (or unterminated-looking) input cheap. */
    if (strnlen(token, PAGETOKEN_TEXT_LEN + 1) != PAGETOKEN_TEXT_LEN)
        return false;
    if (crypto_b64url_decode(token, raw, RAW_LEN, &n) != 0 || n != RAW_LEN)
        return false;

    crypto_b64url_encode(raw, RAW_LEN, again);
    return memcmp(again, token, PAGETOKEN_TEXT_LEN) == 0;
}


/* True when 'issued_at_s' lies more than the allowed skew after 'now_s'.
 * Differences go through uint64_t so extreme values cannot overflow. */
static bool
issued_in_future(int64_t issued_at_s, int64_t now_s)
{
    if (issued_at_s <= now_s)
        return false;
    return (uint64_t)issued_at_s - (uint64_t)now_s > PAGETOKEN_MAX_SKEW_S;
}


static bool
is_expired(int64_t issued_at_s, int64_t now_s, int64_t ttl_s)
{
    if (ttl_s < 0)
        ttl_s = 0;
    if (now_s <= issued_at_s)
        return false;
    return (uint64_t)now_s - (uint64_t)issued_at_s > (uint64_t)ttl_s;
}


int
pagetoken_decode(const unsigned char key[PAGETOKEN_KEY_LEN],
                 const struct pagetoken_scope *scope, const char *token,
                 int64_t now_s, int64_t ttl_s, int64_t *position_out,
                 char *msg, size_t msg_len)
{
    unsigned char k_mac[CRYPTO_SHA256_LEN];
    unsigned char k_scope[CRYPTO_SHA256_LEN];
    unsigned char raw[RAW_LEN];
    unsigned char mac[CRYPTO_SHA256_LEN];
    unsigned char tag[TAG_LEN];
    int64_t issued_at_s;
    int rc;

    if (key == NULL || scope == NULL || token == NULL
        || position_out == NULL || !token_parse(token, raw)) {
        rc = ERR_INVAL;
        goto out;
    }

    /* The version only selects a layout; nothing else is read before
     * the MAC has been checked. */
    if (raw[0] != TOKEN_VERSION) {
        rc = ERR_INVAL;
        goto out;
    }

    rc = derive_keys(key, k_mac, k_scope);
    if (rc != 0)
        goto out;
    rc = crypto_hmac_sha256(k_mac, sizeof k_mac, raw, OFF_MAC, mac);
    if (rc != 0)
        goto out;
    if (!crypto_equal(mac, raw + OFF_MAC, sizeof mac)) {
        rc = ERR_INVAL;
        goto out;
    }

    /* Authentic from here on: a different tag means other arguments. */
    rc = scope_tag(k_scope, scope, tag);
    if (rc != 0)
        goto out;
    if (!crypto_equal(tag, raw + OFF_TAG, TAG_LEN)) {
        rc = ERR_MISMATCH;
        goto out;
    }

    issued_at_s = get_i64(raw + OFF_ISSUED);
    if (issued_in_future(issued_at_s, now_s)) {
        rc = ERR_INVAL;
        goto out;
    }
    if (is_expired(issued_at_s, now_s, ttl_s)) {
        rc = ERR_EXPIRED;
        goto out;
    }

    *position_out = get_i64(raw + OFF_POSITION);

out:
    explicit_bzero(k_mac, sizeof k_mac);
    explicit_bzero(k_scope, sizeof k_scope);
    if (rc == ERR_MISMATCH)
        set_msg(msg, msg_len, MSG_MISMATCH);
    else if (rc == ERR_EXPIRED)
        set_msg(msg, msg_len, MSG_EXPIRED);
    else if (rc != 0)
        set_msg(msg, msg_len, MSG_INVALID);
    return rc;
}


/* Reads exactly PAGETOKEN_KEY_LEN bytes from 'path'. Returns 0,
 * ERR_NOTFOUND when there is no such file, ERR_INVAL for a file of
 * another kind or size, ERR_IO otherwise. */
static int
key_read(const char *path, unsigned char key[PAGETOKEN_KEY_LEN])
{
    unsigned char buf[PAGETOKEN_KEY_LEN + 1];
    struct stat st;
    size_t got = 0;
    int fd;
    int rc = 0;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? ERR_NOTFOUND : ERR_IO;

    if (fstat(fd, &st) != 0) {
        rc = ERR_IO;
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = ERR_INVAL;
        goto out;
    }

    /* Read one byte more than needed so a long file is noticed even if
     * it grew after fstat. */
    while (got < sizeof buf) {
        ssize_t n = read(fd, buf + got, sizeof buf - got);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = ERR_IO;
            goto out;
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    if (got != PAGETOKEN_KEY_LEN) {
        rc = ERR_INVAL;
        goto out;
    }
    memcpy(key, buf, PAGETOKEN_KEY_LEN);

out:
    explicit_bzero(buf, sizeof buf);
    close(fd);
    return rc;
}


static int
write_all(int fd, const unsigned char *data, size_t len)
{
    size_t done = 0;

    while (done < len) {
        ssize_t n = write(fd, data + done, len - done);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return ERR_IO;
        done += (size_t)n;
    }
    return 0;
}


/* Makes a directory entry change durable. Failure is reported because a
 * key whose name is lost in a crash would silently invalidate tokens. */
static int
dir_sync(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc = 0;

    if (fd < 0)
        return ERR_IO;
    if (fsync(fd) != 0 && errno != EINVAL)
        rc = ERR_IO;
    close(fd);
    return rc;
}


/* Publishes 'tmp' as 'path' unless 'path' exists. Returns 0, ERR_EXISTS
 * when another process got there first, or ERR_IO. 'tmp' is gone
 * afterwards in every case. */
static int
key_publish(const char *tmp, const char *path)
{
    int rc = 0;

    if (link(tmp, path) == 0)
        goto out;
    if (errno == EEXIST) {
        rc = ERR_EXISTS;
        goto out;
    }

    /* Some file systems have no hard links; renaming without replacing
     * gives the same first-one-wins guarantee there. */
    if (renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) == 0)
        return 0;
    rc = errno == EEXIST ? ERR_EXISTS : ERR_IO;

out:
    unlink(tmp);
    return rc;
}


/* Writes a fresh key under a temporary name and publishes it. Returns 0
 * with the new key in 'key', ERR_EXISTS if another process published one
 * first, ERR_CRYPTO, or ERR_IO. */
static int
key_create(const char *dir, const char *path,
           unsigned char key[PAGETOKEN_KEY_LEN])
{
    unsigned char fresh[PAGETOKEN_KEY_LEN];
    unsigned char nonce[8];
    char nonce_hex[2 * sizeof nonce + 1];
    char tmp[PATH_MAX];
    int fd = -1;
    int rc;

    rc = crypto_random(fresh, sizeof fresh);
    if (rc != 0)
        goto out;
    rc = crypto_random(nonce, sizeof nonce);
    if (rc != 0)
        goto out;
    crypto_hex(nonce, sizeof nonce, nonce_hex);
    if (snprintf(tmp, sizeof tmp, "%s.tmp-%ld-%s", path, (long)getpid(),
                 nonce_hex) >= (int)sizeof tmp) {
        rc = ERR_IO;
        goto out;
    }

    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = ERR_IO;
        goto out;
    }

    /* The umask can only narrow the mode; fchmod states it outright. */
    if (fchmod(fd, 0600) != 0 || write_all(fd, fresh, sizeof fresh) != 0
        || fsync(fd) != 0) {
        rc = ERR_IO;
        unlink(tmp);
        goto out;
    }
    if (close(fd) != 0) {
        fd = -1;
        rc = ERR_IO;
        unlink(tmp);
        goto out;
    }
    fd = -1;

    rc = key_publish(tmp, path);
    if (rc != 0)
        goto out;
    rc = dir_sync(dir);
    if (rc != 0)
        goto out;
    memcpy(key, fresh, sizeof fresh);

out:
    if (fd >= 0)
        close(fd);
    explicit_bzero(fresh, sizeof fresh);
    return rc;
}


int
pagetoken_key_load(const char *data_dir,
                   unsigned char key_out[PAGETOKEN_KEY_LEN])
{
    unsigned char key[PAGETOKEN_KEY_LEN];
    char path[PATH_MAX];
    int rc;

    if (data_dir == NULL || key_out == NULL)
        return ERR_INVAL;
    if (snprintf(path, sizeof path, "%s/%s", data_dir, KEY_FILE)
        >= (int)sizeof path)
        return ERR_IO;

    rc = key_read(path, key);
    if (rc == ERR_NOTFOUND) {
        rc = key_create(data_dir, path, key);

        /* Another process won the race: its key is the key. */
        if (rc == ERR_EXISTS)
            rc = key_read(path, key);
        if (rc == ERR_NOTFOUND)
            rc = ERR_IO;
    }
    if (rc == 0)
        memcpy(key_out, key, sizeof key);

    explicit_bzero(key, sizeof key);
    return rc;
}
