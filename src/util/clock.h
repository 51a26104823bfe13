/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Wall-clock time as epoch seconds with a fraction, the unit the store and
 * the API keep times in.
 */
#ifndef TIMBRE_UTIL_CLOCK_H
#define TIMBRE_UTIL_CLOCK_H

#include <time.h>

static inline double
clock_epoch_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#endif
