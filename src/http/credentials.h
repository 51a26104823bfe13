/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The access keys the server accepts, and the account each one belongs to.
 *
 * A credentials file holds one key a line:
 *
 *   # access key id   secret access key                          account
 *   AKIDEXAMPLE01     wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY   123456789012
 *
 * Fields are separated by spaces or tabs; '#' starts a comment that runs
 * to the end of the line (so a secret cannot contain '#'); blank lines and
 * a trailing '\r' are ignored. An access key id is 1 to
 * CREDENTIALS_MAX_KEY_ID characters from [A-Za-z0-9_.-], a secret 1 to
 * CREDENTIALS_MAX_SECRET visible ASCII characters, an account id exactly
 * 12 digits. A malformed line, a duplicate access key id or a file without
 * any key makes the whole file invalid: a server must never start with half
 * of its keys.
 *
 * The set is immutable once built, so any number of threads may look keys
 * up at the same time. Secrets are wiped from memory when the set is freed.
 */
#ifndef TIMBRE_HTTP_CREDENTIALS_H
#define TIMBRE_HTTP_CREDENTIALS_H

#include <stddef.h>

#define CREDENTIALS_MAX_KEY_ID 128
#define CREDENTIALS_MAX_SECRET 256
#define CREDENTIALS_ACCOUNT_LEN 12

/* The key of the loopback default (PRODUCT.md §7). */
#define CREDENTIALS_DEFAULT_KEY_ID "test"
#define CREDENTIALS_DEFAULT_SECRET "test"
#define CREDENTIALS_DEFAULT_ACCOUNT "000000000000"

struct credential {
    const char *access_key;
    const char *secret;
    const char *account;    /* 12 digits */
};

struct credentials;

/* Reads the credentials file at 'path' into a new set stored in *out, which
 * the caller frees with credentials_free(). Returns 0; ERR_IO when the file
 * cannot be read ('msg' gets "PATH: strerror"); ERR_INVAL when a line is
 * malformed, an access key id repeats or no key is found ('msg' gets
 * "PATH:LINE: what is wrong", never a secret); ERR_NOMEM. *out is untouched
 * on failure. 'msg' (msg_len bytes, may be 0) is always NUL-terminated when
 * msg_len > 0. */
int credentials_load(const char *path, struct credentials **out, char *msg,
                     size_t msg_len);

/* Makes the set holding only the loopback key: access key "test", secret
 * "test", account "000000000000". Returns 0 or ERR_NOMEM; *out is untouched
 * on failure. */
int credentials_new_default(struct credentials **out);

/* Returns the credential with this access key id (exact, case-sensitive
 * match), or NULL when 'c' or 'access_key' is NULL or the key is unknown.
 * The result is borrowed from 'c' and lives as long as 'c'. */
const struct credential *credentials_find(const struct credentials *c,
                                          const char *access_key);

/* Number of keys in the set; 0 for NULL. */
size_t credentials_count(const struct credentials *c);

/* Wipes the secrets and frees the set. NULL does nothing. */
void credentials_free(struct credentials *c);

#endif
