/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Formatting and parsing of Unix times as RFC 3339 UTC text
 * ("2026-11-27T09:30:00Z").  libparley reads no clock: callers pass time in.
 */
#ifndef PARLEY_TIME_H
#define PARLEY_TIME_H

#include <stdint.h>

#include "parley/export.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PL_TIME_LEN 32 /* buffer size for pl_time_format, NUL included */

/* Write t as "YYYY-MM-DDTHH:MM:SSZ"; out-of-range times as decimal seconds. */
PL_EXPORT void pl_time_format(char out[PL_TIME_LEN], int64_t t);
/*
 * Parse "YYYY-MM-DDTHH:MM:SSZ", "YYYY-MM-DD" (midnight UTC), or a signed
 * offset from now ("+90m", "-2h", "+7d", "+30s").  0 or PL_ERR_MALFORMED
 * with a detail.
 */
PL_EXPORT int pl_time_parse(const char *s, int64_t now, int64_t *out) PL_WUR;

#ifdef __cplusplus
}
#endif
#endif /* PARLEY_TIME_H */
