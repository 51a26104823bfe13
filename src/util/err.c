/* SPDX-License-Identifier: Apache-2.0 */
/* Human-readable names for the shared error codes. */
#include "util/err.h"

#include <stdarg.h>
#include <stdio.h>


const char *
err_str(int rc)
{
    switch (rc) {
    case ERR_OK:        return "ok";
    case ERR_NOMEM:     return "out of memory";
    case ERR_INVAL:     return "invalid input";
    case ERR_NOTFOUND:  return "not found";
    case ERR_EXISTS:    return "already exists or conflicts";
    case ERR_QUOTA:     return "quota exceeded";
    case ERR_IO:        return "i/o error";
    case ERR_CRYPTO:    return "cryptographic failure";
    case ERR_BUSY:      return "busy";
    case ERR_INTERNAL:  return "internal error";
    case ERR_DENIED:    return "access denied";
    case ERR_EXPIRED:   return "expired";
    case ERR_MISMATCH:  return "bound to other arguments";
    case ERR_TOOBIG:    return "too big";
    case ERR_NOSPEECH:  return "not enough speech";
    default:            return "unknown error";
    }
}


void
err_message(char *msg, size_t msg_len, const char *fmt, ...)
{
    va_list ap;

    if (msg == NULL || msg_len == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, msg_len, fmt, ap);
    va_end(ap);
}
