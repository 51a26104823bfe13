/* SPDX-License-Identifier: Apache-2.0 */
/* Structured one-line logging to stderr; see log.h for the format. */
#include "util/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "util/err.h"

static enum log_level min_level = LOG_INFO;

static const char *const level_names[] = { "debug", "info", "warn", "error" };


void
log_set_level(enum log_level min)
{
    min_level = min;
}


int
log_level_parse(const char *name, enum log_level *out)
{
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(name, level_names[i]) == 0) {
            *out = (enum log_level)i;
            return 0;
        }
    }
    return ERR_INVAL;
}


void
log_msg(enum log_level level, const char *component, const char *id,
        const char *fmt, ...)
{
    char line[2048];
    struct timespec now;
    struct tm utc;
    va_list ap;
    int n;

    if (level < min_level)
        return;

    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &utc);
    n = snprintf(line, sizeof(line),
                 "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s [%ld] %s %s: ",
                 utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday,
                 utc.tm_hour, utc.tm_min, utc.tm_sec,
                 now.tv_nsec / 1000000L, level_names[level], (long)getpid(),
                 id ? id : "-", component);

    va_start(ap, fmt);
    n += vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    va_end(ap);

    /* A message longer than the buffer is cut; keep room for the newline. */
    if (n > (int)sizeof(line) - 2)
        n = (int)sizeof(line) - 2;
    line[n++] = '\n';
    if (write(STDERR_FILENO, line, (size_t)n) < 0) {
        /* Nowhere left to report a failed log write. */
    }
}
