/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Whole-file reads and crash-safe whole-file writes.
 *
 * Used for key files, exported records and published statements: anything
 * written either appears complete under its name or not at all.
 */
#ifndef PARLEY_FILE_H
#define PARLEY_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "parley/export.h"

#ifdef __cplusplus
extern "C" {
#endif

enum {
	PL_FILE_REPLACE = 1u << 0, /* replace an existing file (else PL_ERR_EXISTS) */
};

/*
 * Write len bytes to path: a temporary file in the same directory is
 * created O_EXCL|O_NOFOLLOW with mode, written, fsync'd, then renamed (with
 * PL_FILE_REPLACE) or hard-linked (without: fails with PL_ERR_EXISTS if path
 * exists, atomically), and the directory is fsync'd.  On any failure the
 * temporary file is removed and path is unchanged.
 */
PL_EXPORT int pl_file_write_atomic(const char *path, const void *data, size_t len,
				   unsigned mode, unsigned flags) PL_WUR;

/*
 * Read a whole regular file of at most max bytes into a malloc'd buffer
 * (NUL-terminated for convenience, the NUL not counted) that the caller
 * frees.  Errors: PL_ERR_NOT_FOUND, PL_ERR_LIMIT (larger than max),
 * PL_ERR_IO (not a regular file, read error); detail names the path.
 */
PL_EXPORT int pl_file_read(const char *path, size_t max, uint8_t **out, size_t *outlen) PL_WUR;

#ifdef __cplusplus
}
#endif
#endif /* PARLEY_FILE_H */
