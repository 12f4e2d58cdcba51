/* SPDX-License-Identifier: Apache-2.0 */
/*
 * RFC 3339 UTC times and relative offsets, without reading the clock.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "parley/err.h"
#include "parley/time.h"

void pl_time_format(char out[PL_TIME_LEN], int64_t t)
{
	struct tm tm;
	time_t tt = (time_t)t;
	if ((int64_t)tt != t || !gmtime_r(&tt, &tm) || tm.tm_year + 1900 < 0 ||
	    tm.tm_year + 1900 > 9999) {
		snprintf(out, PL_TIME_LEN, "%lld", (long long)t);
		return;
	}
	strftime(out, PL_TIME_LEN, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar. */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int parse_digits(const char *s, size_t n, int *out)
{
	int v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

static int parse_offset(const char *s, int64_t now, int64_t *out)
{
	char *end;
	errno = 0;
	long long v = strtoll(s + 1, &end, 10);
	if (errno || end == s + 1 || v < 0 || v > 100LL * 366 * 86400)
		return pl_err_fail(PL_ERR_MALFORMED, "bad time offset '%s'", s);
	int64_t unit;
	if (strcmp(end, "s") == 0)
		unit = 1;
	else if (strcmp(end, "m") == 0)
		unit = 60;
	else if (strcmp(end, "h") == 0)
		unit = 3600;
	else if (strcmp(end, "d") == 0)
		unit = 86400;
	else
		return pl_err_fail(PL_ERR_MALFORMED,
				   "bad time offset '%s' (use a unit: s, m, h or d, e.g. +2h)", s);
	*out = s[0] == '+' ? now + v * unit : now - v * unit;
	return 0;
}

int pl_time_parse(const char *s, int64_t now, int64_t *out)
{
	if (!s || !*s)
		return pl_err_fail(PL_ERR_MALFORMED, "empty time");
	if (s[0] == '+' || s[0] == '-')
		return parse_offset(s, now, out);
	size_t n = strlen(s);
	int y, mo, d, h = 0, mi = 0, sec = 0;
	if ((n != 10 && n != 20) || parse_digits(s, 4, &y) || s[4] != '-' ||
	    parse_digits(s + 5, 2, &mo) || s[7] != '-' || parse_digits(s + 8, 2, &d))
		goto bad;
	if (n == 20 && (s[10] != 'T' || parse_digits(s + 11, 2, &h) || s[13] != ':' ||
			parse_digits(s + 14, 2, &mi) || s[16] != ':' ||
			parse_digits(s + 17, 2, &sec) || s[19] != 'Z'))
		goto bad;
	static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 || sec > 60)
		goto bad;
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	if (mo == 2 && d == 29 && !leap)
		goto bad;
	*out = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
	return 0;
bad:
	return pl_err_fail(PL_ERR_MALFORMED,
			   "bad time '%s' (expected 2026-11-27T09:30:00Z, 2026-11-27 or +2h)", s);
}
