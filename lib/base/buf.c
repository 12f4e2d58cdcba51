/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Growable byte buffer.  All-or-nothing appends; memory is wiped on release
 * because buffers sometimes carry key material on its way to a file.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parley/buf.h"
#include "parley/err.h"

/* No single buffer grows past 1 GiB: larger means a bug or an attack. */
#define BUF_MAX ((size_t)1 << 30)

int pl_buf_reserve(pl_buf *b, size_t extra)
{
	if (extra > BUF_MAX || b->len > BUF_MAX - extra)
		return PL_ERR_LIMIT;
	size_t need = b->len + extra;
	if (need <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap *= 2;
	uint8_t *p = realloc(b->data, cap);
	if (!p)
		return PL_ERR_NOMEM;
	b->data = p;
	b->cap = cap;
	return 0;
}

int pl_buf_append(pl_buf *b, const void *p, size_t n)
{
	if (n == 0)
		return 0;
	int rc = pl_buf_reserve(b, n);
	if (rc)
		return rc;
	memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

int pl_buf_append_str(pl_buf *b, const char *s)
{
	return pl_buf_append(b, s, strlen(s));
}

int pl_buf_printf(pl_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return PL_ERR_INVALID;
	int rc = pl_buf_reserve(b, (size_t)n + 1);
	if (rc)
		return rc;
	va_start(ap, fmt);
	vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

void pl_buf_reset(pl_buf *b)
{
	b->len = 0;
}

void pl_buf_clear(pl_buf *b)
{
	if (!b)
		return;
	if (b->data)
		explicit_bzero(b->data, b->cap);
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}
