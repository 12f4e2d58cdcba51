/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for lib/base: pl_buf, crash-safe file writes and bounded file
 * reads, and the error table and detail string.
 *
 * File tests use a fresh folder under $PARLEY_TEST_TMP (or /tmp), and check
 * after each write, good or failed, that no temporary file is left behind.
 */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "parley/buf.h"
#include "parley/err.h"
#include "parley/file.h"

static char tmpdir[4096];

static void path_in_tmp(char *out, size_t cap, const char *name)
{
	int n = snprintf(out, cap, "%s/%s", tmpdir, name);
	assert_true(n > 0 && (size_t)n < cap);
}

/* Remove every entry of dir (files, empty folders, links) but not dir. */
static void empty_dir(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		char p[4400];
		int n = snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		if (n > 0 && (size_t)n < sizeof(p) && unlink(p) != 0)
			rmdir(p);
	}
	closedir(d);
}

static int group_setup(void **state)
{
	const char *base = getenv("PARLEY_TEST_TMP");
	if (!base || !*base)
		base = "/tmp";
	if (mkdir(base, 0700) != 0 && errno != EEXIST)
		return -1;
	int n = snprintf(tmpdir, sizeof(tmpdir), "%s/test_base.XXXXXX", base);
	if (n < 0 || (size_t)n >= sizeof(tmpdir))
		return -1;
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int group_teardown(void **state)
{
	empty_dir(tmpdir);
	return rmdir(tmpdir);
}

/* Each file test starts from an empty folder. */
static int test_setup(void **state)
{
	empty_dir(tmpdir);
	return 0;
}

/* The names in tmpdir, sorted, joined by ','. */
static void list_dir(char *out, size_t cap)
{
	char names[16][256];
	size_t n = 0;
	DIR *d = opendir(tmpdir);
	assert_non_null(d);
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		assert_true(n < 16);
		snprintf(names[n++], sizeof(names[0]), "%s", e->d_name);
	}
	closedir(d);
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
			char t[256];
			memcpy(t, names[j], sizeof(t));
			memcpy(names[j], names[j - 1], sizeof(t));
			memcpy(names[j - 1], t, sizeof(t));
		}
	out[0] = '\0';
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		int w = snprintf(out + o, cap - o, "%s%s", i ? "," : "", names[i]);
		assert_true(w >= 0 && (size_t)w < cap - o);
		o += (size_t)w;
	}
}

static void assert_file(const char *path, const char *content, unsigned mode)
{
	uint8_t *data = NULL;
	size_t len = 0;
	assert_int_equal(pl_file_read(path, 1 << 20, &data, &len), 0);
	assert_int_equal(len, strlen(content));
	assert_memory_equal(data, content, len);
	free(data);
	struct stat st;
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, mode);
}

/* ------------------------------------------------------------ pl_buf */

static void test_buf_append_and_printf(void **state)
{
	pl_buf b = {0};
	assert_int_equal(pl_buf_append(&b, "abc", 3), 0);
	assert_int_equal(pl_buf_append(&b, NULL, 0), 0);
	assert_int_equal(pl_buf_append_str(&b, "def"), 0);
	assert_int_equal(b.len, 6);
	assert_true(b.cap >= 6);
	assert_memory_equal(b.data, "abcdef", 6);

	assert_int_equal(pl_buf_printf(&b, "-%d-%s-%zu", 42, "x", (size_t)7), 0);
	assert_int_equal(b.len, 13);
	assert_memory_equal(b.data, "abcdef-42-x-7", 13);
	assert_int_equal(b.data[b.len], '\0'); /* kept after the text, not counted */

	/* growth across several reallocations keeps the bytes */
	char big[1000];
	memset(big, 'z', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(pl_buf_printf(&b, "%s|", big), 0);
	assert_int_equal(b.len, 13 + 999 + 1);
	assert_memory_equal(b.data, "abcdef-42-x-7zzz", 16);
	assert_int_equal(b.data[b.len - 1], '|');
	assert_int_equal(b.data[b.len], '\0');
	for (size_t i = 0; i < 5000; i++)
		assert_int_equal(pl_buf_append(&b, &(uint8_t){(uint8_t)i}, 1), 0);
	assert_int_equal(b.len, 1013 + 5000);
	assert_int_equal(b.data[1013 + 4999], (uint8_t)4999);

	size_t cap = b.cap;
	pl_buf_reset(&b);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.cap, cap);
	assert_non_null(b.data);

	pl_buf_clear(&b);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.cap, 0);
	pl_buf_clear(&b);   /* twice is fine */
	pl_buf_clear(NULL); /* NULL-safe */
}

static void test_buf_limits(void **state)
{
	pl_buf b = {0};
	assert_int_equal(pl_buf_append_str(&b, "keep"), 0);
	uint8_t *data = b.data;
	size_t cap = b.cap;

	/* over the 1 GiB cap, or overflowing size_t: refused, buffer unchanged */
	assert_int_equal(pl_buf_reserve(&b, ((size_t)1 << 30) + 1), PL_ERR_LIMIT);
	assert_int_equal(pl_buf_reserve(&b, SIZE_MAX), PL_ERR_LIMIT);
	assert_int_equal(pl_buf_reserve(&b, ((size_t)1 << 30) - 2), PL_ERR_LIMIT); /* len 4 */
	assert_int_equal(pl_buf_append(&b, "x", SIZE_MAX), PL_ERR_LIMIT);
	assert_ptr_equal(b.data, data);
	assert_int_equal(b.cap, cap);
	assert_int_equal(b.len, 4);
	assert_memory_equal(b.data, "keep", 4);

	/* reserving what fits already does not reallocate */
	assert_int_equal(pl_buf_reserve(&b, cap - 4), 0);
	assert_ptr_equal(b.data, data);
	assert_int_equal(pl_buf_reserve(&b, 0), 0);
	pl_buf_clear(&b);
}

/* ------------------------------------------------------------ pl_file_write_atomic */

static void test_file_write_no_replace(void **state)
{
	char path[4200], names[1024];
	path_in_tmp(path, sizeof(path), "a.txt");
	assert_int_equal(pl_file_write_atomic(path, "first\n", 6, 0640, 0), 0);
	assert_file(path, "first\n", 0640);
	list_dir(names, sizeof(names));
	assert_string_equal(names, "a.txt");

	/* without PL_FILE_REPLACE an existing file stays as it was */
	pl_err_clear_detail();
	assert_int_equal(pl_file_write_atomic(path, "second\n", 7, 0600, 0), PL_ERR_EXISTS);
	assert_non_null(strstr(pl_err_detail(), "a.txt"));
	assert_file(path, "first\n", 0640);
	list_dir(names, sizeof(names));
	assert_string_equal(names, "a.txt");

	/* a dangling symlink also counts as existing (link() refuses it) */
	char link_path[4200];
	path_in_tmp(link_path, sizeof(link_path), "dangling");
	assert_int_equal(symlink("nowhere", link_path), 0);
	assert_int_equal(pl_file_write_atomic(link_path, "x", 1, 0600, 0), PL_ERR_EXISTS);
	list_dir(names, sizeof(names));
	assert_string_equal(names, "a.txt,dangling");
	struct stat st;
	assert_int_equal(lstat(link_path, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
}

static void test_file_write_replace(void **state)
{
	char path[4200], names[1024];
	path_in_tmp(path, sizeof(path), "b.txt");
	assert_int_equal(pl_file_write_atomic(path, "old", 3, 0644, 0), 0);
	assert_int_equal(pl_file_write_atomic(path, "new content", 11, 0600, PL_FILE_REPLACE), 0);
	assert_file(path, "new content", 0600);
	/* replace also creates */
	char path2[4200];
	path_in_tmp(path2, sizeof(path2), "c.txt");
	assert_int_equal(pl_file_write_atomic(path2, "", 0, 0600, PL_FILE_REPLACE), 0);
	assert_file(path2, "", 0600);
	list_dir(names, sizeof(names));
	assert_string_equal(names, "b.txt,c.txt");

	/* the mode is exactly what was asked, whatever the umask */
	mode_t old = umask(0077);
	assert_int_equal(pl_file_write_atomic(path, "m", 1, 0644, PL_FILE_REPLACE), 0);
	umask(old);
	assert_file(path, "m", 0644);
}

static void test_file_write_failures_leave_no_temp(void **state)
{
	char path[4200], names[1024];

	/* into a folder that does not exist */
	path_in_tmp(path, sizeof(path), "no-such-dir/x.key");
	assert_int_equal(pl_file_write_atomic(path, "x", 1, 0600, 0), PL_ERR_IO);
	assert_true(strlen(pl_err_detail()) > 0);
	assert_int_equal(pl_file_write_atomic(path, "x", 1, 0600, PL_FILE_REPLACE), PL_ERR_IO);
	list_dir(names, sizeof(names));
	assert_string_equal(names, "");

	/* replacing a folder: the temporary file is made, then rename fails */
	path_in_tmp(path, sizeof(path), "d");
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(pl_file_write_atomic(path, "x", 1, 0600, PL_FILE_REPLACE), PL_ERR_IO);
	list_dir(names, sizeof(names));
	assert_string_equal(names, "d");
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(rmdir(path), 0);

	/* a path too long for the temporary name */
	char longpath[5000];
	memset(longpath, 'a', sizeof(longpath) - 1);
	longpath[sizeof(longpath) - 1] = '\0';
	assert_int_equal(pl_file_write_atomic(longpath, "x", 1, 0600, 0), PL_ERR_INVALID);
}

/* ------------------------------------------------------------ pl_file_read */

static void test_file_read(void **state)
{
	char path[4200];
	uint8_t *data = (uint8_t *)"sentinel";
	size_t len = 99;

	path_in_tmp(path, sizeof(path), "missing");
	assert_int_equal(pl_file_read(path, 100, &data, &len), PL_ERR_NOT_FOUND);
	assert_null(data);
	assert_int_equal(len, 0);
	assert_non_null(strstr(pl_err_detail(), "missing"));

	path_in_tmp(path, sizeof(path), "ten");
	assert_int_equal(pl_file_write_atomic(path, "0123456789", 10, 0600, 0), 0);
	assert_int_equal(pl_file_read(path, 10, &data, &len), 0); /* exactly max */
	assert_int_equal(len, 10);
	assert_memory_equal(data, "0123456789", 10);
	assert_int_equal(data[10], '\0');
	free(data);
	assert_int_equal(pl_file_read(path, 9, &data, &len), PL_ERR_LIMIT);
	assert_null(data);
	assert_int_equal(len, 0);

	path_in_tmp(path, sizeof(path), "empty");
	assert_int_equal(pl_file_write_atomic(path, "", 0, 0600, 0), 0);
	assert_int_equal(pl_file_read(path, 0, &data, &len), 0);
	assert_int_equal(len, 0);
	assert_int_equal(data[0], '\0');
	free(data);

	assert_int_equal(pl_file_read(tmpdir, 1 << 20, &data, &len), PL_ERR_IO);
	assert_null(data);
	assert_int_equal(pl_file_read("/dev/null", 100, &data, &len), PL_ERR_IO);
}

/* ------------------------------------------------------------ errors */

static const int all_codes[] = {
    PL_OK,
    PL_ERR_NOMEM,
    PL_ERR_INVALID,
    PL_ERR_IO,
    PL_ERR_NOT_FOUND,
    PL_ERR_EXISTS,
    PL_ERR_LIMIT,
    PL_ERR_INTERNAL,
    PL_ERR_MALFORMED,
    PL_ERR_NONCANONICAL,
    PL_ERR_TYPE,
    PL_ERR_VERSION,
    PL_ERR_BAD_SIGNATURE,
    PL_ERR_PASSPHRASE,
    PL_ERR_CRYPTO,
    PL_ERR_FINGERPRINT,
    PL_ERR_UNKNOWN_ROOT,
    PL_ERR_NOT_YET_VALID,
    PL_ERR_EXPIRED,
    PL_ERR_SUSPENDED,
    PL_ERR_RECALLED,
    PL_ERR_REVOKED,
    PL_ERR_STALE,
    PL_ERR_CONFLICT,
    PL_ERR_TRANSITION,
    PL_ERR_WRONG_STATE,
    PL_ERR_STORE,
    PL_ERR_SCHEMA,
    PL_ERR_BUSY,
    PL_ERR_UNKNOWN_CHANNEL,
    PL_ERR_NOT_MEMBER,
    PL_ERR_KIND_NOT_ALLOWED,
    PL_ERR_LANE_NOT_ALLOWED,
    PL_ERR_REPLAY,
    PL_ERR_SEQUENCE,
    PL_ERR_CLOCK,
    PL_ERR_UNSIGNED,
    PL_ERR_PROTOCOL,
    PL_ERR_AUTH,
};

static void test_err_names_and_sentences(void **state)
{
	const size_t n = sizeof(all_codes) / sizeof(all_codes[0]);
	const char *unknown_name = pl_err_name(-12345);
	const char *unknown_text = pl_strerror(-12345);
	assert_non_null(unknown_name);
	assert_non_null(unknown_text);
	assert_true(*unknown_name && *unknown_text);
	assert_string_equal(pl_err_name(1), unknown_name);

	for (size_t i = 0; i < n; i++) {
		const char *name = pl_err_name(all_codes[i]);
		const char *text = pl_strerror(all_codes[i]);
		assert_non_null(name);
		assert_non_null(text);
		assert_true(strlen(name) > 0);
		assert_true(strlen(text) > 0);
		/* every code is in the table, not answered by the fallback */
		assert_string_not_equal(name, unknown_name);
		assert_string_not_equal(text, unknown_text);
		/* names are stable identifiers: lower case, digits and dashes */
		for (const char *c = name; *c; c++)
			assert_true((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') ||
				    *c == '-');
		for (size_t j = 0; j < i; j++) {
			assert_string_not_equal(name, pl_err_name(all_codes[j]));
			assert_string_not_equal(text, pl_strerror(all_codes[j]));
		}
	}
	assert_string_equal(pl_err_name(PL_ERR_BAD_SIGNATURE), "bad-signature");
}

static void test_err_detail(void **state)
{
	pl_err_clear_detail();
	assert_string_equal(pl_err_detail(), "");
	assert_int_equal(pl_err_fail(PL_ERR_LIMIT, "body over %zu bytes", (size_t)65536),
			 PL_ERR_LIMIT);
	assert_string_equal(pl_err_detail(), "body over 65536 bytes");
	pl_err_set_detail("field %s", "name");
	assert_string_equal(pl_err_detail(), "field name");
	/* a detail may wrap the previous one */
	pl_err_fail(PL_ERR_MALFORMED, "while opening: %s", pl_err_detail());
	assert_string_equal(pl_err_detail(), "while opening: field name");
	pl_err_set_detail("field %s", "name");
	pl_err_clear_detail();
	assert_string_equal(pl_err_detail(), "");

	/* a long detail is cut, never overflows, and stays a string */
	char big[1000];
	memset(big, 'q', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(pl_err_fail(PL_ERR_MALFORMED, "%s", big), PL_ERR_MALFORMED);
	size_t n = strlen(pl_err_detail());
	assert_true(n > 0 && n < sizeof(big) - 1);
	assert_int_equal(pl_err_detail()[0], 'q');
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_buf_append_and_printf),
	    cmocka_unit_test(test_buf_limits),
	    cmocka_unit_test_setup(test_file_write_no_replace, test_setup),
	    cmocka_unit_test_setup(test_file_write_replace, test_setup),
	    cmocka_unit_test_setup(test_file_write_failures_leave_no_temp, test_setup),
	    cmocka_unit_test_setup(test_file_read, test_setup),
	    cmocka_unit_test(test_err_names_and_sentences),
	    cmocka_unit_test(test_err_detail),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
