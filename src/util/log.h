/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One line per event on stderr:
 *
 *   2026-12-03T10:14:07.481Z warn [4242] req=7f3a store: message
 *
 * UTC time with milliseconds, level, pid, the request or job id (or "-"),
 * the component, then a lowercase message naming the call, the object and
 * the consequence. Lines are written with one write(2) so threads never
 * interleave within a line. Never pass secrets, audio or voiceprints.
 */
#ifndef TIMBRE_UTIL_LOG_H
#define TIMBRE_UTIL_LOG_H

enum log_level {
    LOG_DEBUG = 0,
    LOG_INFO = 1,
    LOG_WARN = 2,
    LOG_ERROR = 3,
};

/* Events below 'min' are dropped. The default is LOG_INFO. */
void log_set_level(enum log_level min);

/* Parses "debug", "info", "warn" or "error". Returns 0 or ERR_INVAL. */
int log_level_parse(const char *name, enum log_level *out);

/* 'id' is a tag such as "req=7f3a" or "job=AbC...", or NULL for none. */
void log_msg(enum log_level level, const char *component, const char *id,
             const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
