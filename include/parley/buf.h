/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A growable byte buffer.
 *
 * pl_buf owns its bytes; a zero-initialised pl_buf is an empty buffer and
 * needs no constructor.  Appending either succeeds entirely or fails with
 * PL_ERR_NOMEM / PL_ERR_LIMIT and leaves the buffer as it was.
 */
#ifndef PARLEY_BUF_H
#define PARLEY_BUF_H

#include <stddef.h>
#include <stdint.h>

#include "parley/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pl_buf {
	uint8_t *data; /* owned; NULL when cap == 0 */
	size_t len;
	size_t cap;
} pl_buf;

/* Make room for extra more bytes; 0 or PL_ERR_NOMEM / PL_ERR_LIMIT. */
PL_EXPORT int pl_buf_reserve(pl_buf *b, size_t extra) PL_WUR;
/* Append n bytes copied from p. */
PL_EXPORT int pl_buf_append(pl_buf *b, const void *p, size_t n) PL_WUR;
/* Append a NUL-terminated string, without its NUL. */
PL_EXPORT int pl_buf_append_str(pl_buf *b, const char *s) PL_WUR;
/* Append printf-formatted text (no NUL counted in len, but one is kept after it). */
PL_EXPORT int pl_buf_printf(pl_buf *b, const char *fmt, ...) PL_PRINTF(2, 3) PL_WUR;
/* Empty the buffer, keeping its memory. */
PL_EXPORT void pl_buf_reset(pl_buf *b);
/* Release the memory (wiping it first) and zero the struct; NULL-safe. */
PL_EXPORT void pl_buf_clear(pl_buf *b);

#ifdef __cplusplus
}
#endif
#endif /* PARLEY_BUF_H */
