/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Whole-file I/O: bounded reads and crash-safe writes (temporary file,
 * fsync, link or rename, fsync of the directory).
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "parley/err.h"
#include "parley/file.h"

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int fsync_dir_of(const char *path)
{
	char copy[4096];
	if (strlen(path) >= sizeof(copy))
		return -1;
	memcpy(copy, path, strlen(path) + 1);
	int dfd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -1;
	int rc = fsync(dfd);
	close(dfd);
	return rc;
}

int pl_file_write_atomic(const char *path, const void *data, size_t len, unsigned mode,
			 unsigned flags)
{
	/* mkstemp's template: the path, ".tmp.", then six 'X' it replaces */
	char tmp[4096];
	int n = snprintf(tmp, sizeof(tmp), "%s.tmp.", path);
	if (n < 0 || (size_t)n + 6 >= sizeof(tmp))
		return pl_err_fail(PL_ERR_INVALID, "path too long: %s", path);
	memset(tmp + n, 'X', 6);
	tmp[n + 6] = '\0';
	if (!(flags & PL_FILE_REPLACE) && access(path, F_OK) == 0)
		return pl_err_fail(PL_ERR_EXISTS, "%s already exists (use --force to replace it)",
				   path);
	/* mkstemp creates O_EXCL with mode 0600; the final mode is set below. */
	int fd = mkstemp(tmp);
	if (fd < 0)
		return pl_err_fail(PL_ERR_IO, "cannot create a file next to %s: %s", path,
				   strerror(errno));
	int saved = 0;
	if (fchmod(fd, (mode_t)mode) != 0 || write_all(fd, data, len) != 0 || fsync(fd) != 0)
		saved = errno;
	if (close(fd) != 0 && !saved)
		saved = errno;
	if (saved) {
		unlink(tmp);
		return pl_err_fail(PL_ERR_IO, "cannot write %s: %s", path, strerror(saved));
	}
	if (flags & PL_FILE_REPLACE) {
		if (rename(tmp, path) != 0) {
			saved = errno;
			unlink(tmp);
			return pl_err_fail(PL_ERR_IO, "cannot replace %s: %s", path,
					   strerror(saved));
		}
	} else {
		/* link() fails atomically if path exists: no window for a race. */
		if (link(tmp, path) != 0) {
			saved = errno;
			unlink(tmp);
			if (saved == EEXIST)
				return pl_err_fail(PL_ERR_EXISTS,
						   "%s already exists (use --force to replace it)",
						   path);
			return pl_err_fail(PL_ERR_IO, "cannot create %s: %s", path,
					   strerror(saved));
		}
		unlink(tmp);
	}
	if (fsync_dir_of(path) != 0)
		return pl_err_fail(PL_ERR_IO, "cannot sync the folder of %s: %s", path,
				   strerror(errno));
	return 0;
}

int pl_file_read(const char *path, size_t max, uint8_t **out, size_t *outlen)
{
	*out = NULL;
	*outlen = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return pl_err_fail(PL_ERR_NOT_FOUND, "%s: no such file", path);
		return pl_err_fail(PL_ERR_IO, "%s: %s", path, strerror(errno));
	}
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return pl_err_fail(PL_ERR_IO, "%s: not a regular file", path);
	}
	if ((uint64_t)st.st_size > max) {
		close(fd);
		return pl_err_fail(PL_ERR_LIMIT, "%s: larger than %zu bytes", path, max);
	}
	size_t cap = (size_t)st.st_size;
	uint8_t *buf = malloc(cap + 1);
	if (!buf) {
		close(fd);
		return PL_ERR_NOMEM;
	}
	size_t got = 0;
	for (;;) {
		if (got == cap) {
			/* The file may have grown since fstat: one byte more means too big. */
			uint8_t extra;
			ssize_t r = read(fd, &extra, 1);
			if (r == 0)
				break;
			if (r < 0 && errno == EINTR)
				continue;
			free(buf);
			close(fd);
			return r < 0 ? pl_err_fail(PL_ERR_IO, "%s: %s", path, strerror(errno))
				     : pl_err_fail(PL_ERR_LIMIT, "%s: changed while reading", path);
		}
		ssize_t r = read(fd, buf + got, cap - got);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			int e = errno;
			free(buf);
			close(fd);
			return pl_err_fail(PL_ERR_IO, "%s: %s", path, strerror(e));
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	buf[got] = '\0';
	*out = buf;
	*outlen = got;
	return 0;
}
