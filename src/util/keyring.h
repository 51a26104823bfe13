/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Timbre's key ring: 256-bit keys named by KMS key id, and authenticated
 * encryption (AES-256-GCM) of data at rest under those keys.
 *
 * A KmsKeyId of the API names a key here; an id seen for the first time
 * creates its key from the system's secure generator. Ids are opaque
 * byte strings of 1 to KEYRING_ID_MAX bytes and never become file names.
 *
 * Storage: one file at the path given to keyring_open() holds every key,
 * mode 0600. It is only ever replaced whole (temporary file, fsync,
 * rename, fsync of the folder), so readers see the old or the new ring,
 * never half of one. Writers serialise on flock() of "<path>.lock", and
 * re-read the ring under that lock before adding an id, so two threads or
 * two processes asking for the same new id end up with the same key. A
 * ring file that is corrupt or truncated is refused with ERR_INVAL and is
 * never replaced, since replacing it would lose the keys of existing data.
 *
 * Ring file layout (integers big-endian):
 *
 *   "TMBRKEYS"  magic, 8 bytes
 *   u32         format version, 1
 *   u32         number of entries
 *   entries     u32 id length (1..KEYRING_ID_MAX), id bytes, 32 key bytes
 *   32 bytes    SHA-256 of everything above
 *
 * Sealed blob (envelope) layout:
 *
 *   offset  size  field
 *   0       1     version, KEYRING_SEALED_VERSION (1)
 *   1       8     first 8 bytes of SHA-256(key id)
 *   9       12    random GCM nonce
 *   21      n     ciphertext, as long as the plaintext
 *   21+n    16    GCM tag
 *
 * The GCM additional data is the 9-byte header (version and key id hash)
 * followed by the caller's AAD, which should name the record the blob
 * belongs to ("domain/<id>/speaker/<id>"), so a blob copied onto another
 * record fails to open. The key id hash lets a blob sealed under another
 * key be reported as ERR_MISMATCH rather than as tampering; it reveals
 * only which of a domain's ids was used, never key bytes.
 *
 * Every function is thread-safe and never logs. Key bytes never appear in
 * messages, and are wiped when freed.
 */
#ifndef TIMBRE_UTIL_KEYRING_H
#define TIMBRE_UTIL_KEYRING_H

#include <stdbool.h>
#include <stddef.h>

#define KEYRING_KEY_LEN 32
#define KEYRING_ID_MAX 2048
#define KEYRING_SEALED_VERSION 1
#define KEYRING_ID_HASH_LEN 8
#define KEYRING_NONCE_LEN 12
#define KEYRING_TAG_LEN 16
#define KEYRING_HEADER_LEN (1 + KEYRING_ID_HASH_LEN + KEYRING_NONCE_LEN)
/* Bytes a sealed blob adds to its plaintext. */
#define KEYRING_OVERHEAD (KEYRING_HEADER_LEN + KEYRING_TAG_LEN)

struct keyring;

/* Opens the key ring kept in the file 'path' (e.g. "<data-dir>/keyring"),
 * loading it when it exists; a missing file is an empty ring, written when
 * the first key is made. Creates "<path>.lock" (mode 0600) next to it,
 * whose folder must exist. Returns 0 and sets *out (free it with
 * keyring_close()), ERR_INVAL with a message for a corrupt, truncated or
 * unreadable-format ring file, ERR_IO for a file system failure, or
 * ERR_NOMEM; *out is untouched on failure. 'msg' (may be NULL) receives
 * the reason for a failure and never holds key bytes. */
int keyring_open(const char *path, struct keyring **out, char *msg,
                 size_t msg_len);

/* Wipes the keys held in memory and frees 'k'. NULL does nothing. No other
 * thread may be using 'k'. */
void keyring_close(struct keyring *k);

/* Copies the key named 'key_id' into 'key'. When the id is unknown and
 * 'create' is true, makes a random key and stores it in the ring file
 * before returning it. Returns 0, ERR_NOTFOUND when the id is unknown and
 * 'create' is false, ERR_INVAL for an id of 0 or more than KEYRING_ID_MAX
 * bytes or a ring file found corrupt (or missing keys this ring has
 * already handed out), ERR_IO, ERR_CRYPTO or ERR_NOMEM. 'key' is untouched
 * on failure; the caller should explicit_bzero() it after use. */
int keyring_key(struct keyring *k, const char *key_id, bool create,
                unsigned char key[KEYRING_KEY_LEN]);

/* Encrypts 'len' bytes of 'plain' under the key 'key_id' (made if new)
 * and binds the result to 'aad' ('aad_len' bytes; NULL when 0). Sets
 * *out to a malloc'd blob of *out_len = len + KEYRING_OVERHEAD bytes that
 * the caller frees. Returns 0, or an error of keyring_key(), ERR_TOOBIG
 * when the blob's size would overflow, ERR_CRYPTO or ERR_NOMEM; *out and
 * *out_len are untouched on failure. */
int keyring_seal(struct keyring *k, const char *key_id, const void *aad,
                 size_t aad_len, const void *plain, size_t len,
                 unsigned char **out, size_t *out_len);

/* Decrypts and authenticates a blob made by keyring_seal() with the same
 * 'key_id' and 'aad'. Sets *plain to a malloc'd buffer of *plain_len
 * bytes (at least one byte is allocated, even for an empty plaintext);
 * the caller should explicit_bzero() and free it. Returns 0; ERR_INVAL for
 * a blob too short or of an unknown version; ERR_MISMATCH for a blob
 * sealed under another key id (or whose key id hash was altered);
 * ERR_CRYPTO when the tag does not verify (tampered blob, wrong AAD);
 * ERR_NOTFOUND when the ring lacks 'key_id'; or an error of keyring_key().
 * Nothing decrypted is left in memory on failure, and *plain and
 * *plain_len are untouched. */
int keyring_open_sealed(struct keyring *k, const char *key_id,
                        const void *aad, size_t aad_len, const void *sealed,
                        size_t len, unsigned char **plain,
                        size_t *plain_len);

#endif
