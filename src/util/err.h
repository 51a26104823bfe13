/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The one set of error codes every module returns.
 *
 * Functions return 0 on success and one of these negative values on
 * failure; results travel through OUT parameters that stay untouched on
 * failure. Backends (SQLite, libpq, OpenSSL) translate their own codes into
 * these at their boundary so callers never see a library's numbering.
 */
#ifndef TIMBRE_UTIL_ERR_H
#define TIMBRE_UTIL_ERR_H

#include <stddef.h>

enum {
    ERR_OK = 0,
    ERR_NOMEM = -1,     /* an allocation failed */
    ERR_INVAL = -2,     /* input is malformed or out of range */
    ERR_NOTFOUND = -3,  /* the named thing does not exist (or is hidden) */
    ERR_EXISTS = -4,    /* it exists already, or the change conflicts */
    ERR_QUOTA = -5,     /* a configured limit would be exceeded */
    ERR_IO = -6,        /* a file, socket or database operation failed */
    ERR_CRYPTO = -7,    /* a cryptographic primitive failed */
    ERR_BUSY = -8,      /* the resource is locked; retrying may succeed */
    ERR_INTERNAL = -9,  /* a broken invariant or an unexpected library state */
    ERR_DENIED = -10,   /* authentication or authorisation refused */
    ERR_EXPIRED = -11,  /* a token, signature or lease is too old */
    ERR_MISMATCH = -12, /* valid in itself but bound to other arguments */
    ERR_TOOBIG = -13,   /* input larger than the configured maximum */
    ERR_NOSPEECH = -14, /* audio with too little net speech to use */
};

/* Returns a static, lowercase description of 'rc' ("not found"). */
const char *err_str(int rc);

/* Formats a message into the caller's buffer 'msg' of 'msg_len' bytes,
 * cutting it to fit; does nothing when 'msg' is NULL or 'msg_len' is 0.
 * For modules that report why they failed without logging. */
void err_message(char *msg, size_t msg_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
