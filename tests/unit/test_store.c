/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests for the storage interface (lib/store) and its SQLite backend.
 *
 * Each test gets a fresh folder under $PARLEY_TEST_TMP (or /tmp).  Some
 * tests open the database with SQLite directly to look at it or to tamper
 * with it the way another program or a newer Parley would.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "parley/err.h"
#include "parley/store.h"
#include "store/sqlite/wsync.h"

#define KIND_A 7u
#define KIND_B 8u

struct fixture {
	char dir[512];
	char path[600];
	char loc[700]; /* "sqlite:" + path */
};

/* ---------------------------------------------------------------- helpers */

static int setup(void **state)
{
	const char *base = getenv("PARLEY_TEST_TMP");
	if (!base || !base[0])
		base = "/tmp";
	if (mkdir(base, 0700) != 0 && errno != EEXIST)
		return -1;
	struct fixture *f = calloc(1, sizeof(*f));
	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "%s/store-XXXXXX", base);
	if (!mkdtemp(f->dir)) {
		free(f);
		return -1;
	}
	snprintf(f->path, sizeof(f->path), "%s/node.db", f->dir);
	snprintf(f->loc, sizeof(f->loc), "sqlite:%s", f->path);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	DIR *d = opendir(f->dir);
	if (d) {
		for (;;) {
			struct dirent *e = readdir(d);
			if (!e)
				break;
			if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
				continue;
			char p[1024];
			snprintf(p, sizeof(p), "%s/%s", f->dir, e->d_name);
			unlink(p);
		}
		closedir(d);
	}
	rmdir(f->dir);
	free(f);
	return 0;
}

static pl_store *open_ok(const char *location, unsigned flags)
{
	pl_store *s = NULL;
	int rc = pl_store_open(location, flags, NULL, &s);
	if (rc)
		print_error("open %s: %s (%s)\n", location, pl_strerror(rc), pl_err_detail());
	assert_int_equal(rc, 0);
	assert_non_null(s);
	return s;
}

/* Open (creating) the fixture's store with location options opts ("wal_pages=100"). */
static pl_store *open_opts(const struct fixture *f, const char *opts)
{
	char loc[800];
	snprintf(loc, sizeof(loc), "%s?%s", f->loc, opts);
	return open_ok(loc, PL_STORE_CREATE);
}

static void put_str(pl_store *s, uint32_t kind, const char *key, const char *val)
{
	assert_int_equal(pl_store_put(s, kind, key, (const uint8_t *)val, strlen(val), 0), 0);
}

/* Assert that kind/key holds exactly the string want. */
static void expect_str(pl_store *s, uint32_t kind, const char *key, const char *want)
{
	uint8_t *v = NULL;
	size_t n = 0;
	int rc = pl_store_get(s, kind, key, &v, &n);
	assert_int_equal(rc, 0);
	assert_int_equal(n, strlen(want));
	assert_memory_equal(v, want, n);
	free(v);
}

static void expect_absent(pl_store *s, uint32_t kind, const char *key)
{
	uint8_t *v = (uint8_t *)"untouched";
	size_t n = 12345;
	assert_int_equal(pl_store_get(s, kind, key, &v, &n), PL_ERR_NOT_FOUND);
	/* Outputs are left alone on failure. */
	assert_string_equal((const char *)v, "untouched");
	assert_int_equal(n, 12345);
}

static void expect_open_fails(const char *location, unsigned flags, int want, const char *detail)
{
	pl_store *s = NULL;
	int rc = pl_store_open(location, flags, NULL, &s);
	if (rc != want)
		print_error("open %s: got %s (%s)\n", location, pl_err_name(rc), pl_err_detail());
	assert_int_equal(rc, want);
	assert_null(s);
	if (detail && !strstr(pl_err_detail(), detail)) {
		print_error("detail \"%s\" lacks \"%s\"\n", pl_err_detail(), detail);
		fail();
	}
}

/* Open the database with SQLite directly, as another program would. */
static sqlite3 *raw_open(const char *path)
{
	sqlite3 *db = NULL;
	assert_int_equal(
	    sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL),
	    SQLITE_OK);
	return db;
}

static void raw_exec(sqlite3 *db, const char *sql)
{
	char *msg = NULL;
	int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
	if (rc != SQLITE_OK)
		print_error("%s: %s\n", sql, msg ? msg : "?");
	sqlite3_free(msg);
	assert_int_equal(rc, SQLITE_OK);
}

static sqlite3_int64 raw_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = NULL;
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	sqlite3_int64 v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static void write_file(const char *path, const void *data, size_t n)
{
	FILE *fp = fopen(path, "wb");
	assert_non_null(fp);
	assert_int_equal(fwrite(data, 1, n, fp), n);
	assert_int_equal(fclose(fp), 0);
}

static long elapsed_ms(const struct timespec *t0)
{
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (long)(t1.tv_sec - t0->tv_sec) * 1000 + (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

/* Collects what list walks over, and can stop or write at a chosen entry. */
struct walk {
	pl_store *s;
	int calls;
	int stop_at; /* return stop_ret on this call (1-based); 0: never */
	int stop_ret;
	char keys[16][300];
	char vals[16][32];
	int put_rc, get_rc, list_rc, begin_rc;
};

static int walk_cb(void *ctx, const char *key, const uint8_t *val, size_t len)
{
	struct walk *w = ctx;
	if (w->calls < 16) {
		snprintf(w->keys[w->calls], sizeof(w->keys[0]), "%s", key);
		snprintf(w->vals[w->calls], sizeof(w->vals[0]), "%.*s", (int)len,
			 (const char *)val);
	}
	w->calls++;
	return w->calls == w->stop_at ? w->stop_ret : 0;
}

/* A callback that tries to write, read and list again from inside the walk. */
static int meddling_cb(void *ctx, const char *key, const uint8_t *val, size_t len)
{
	struct walk *w = ctx;
	uint8_t *v = NULL;
	size_t n = 0;
	w->calls++;
	w->put_rc = pl_store_put(w->s, KIND_A, "new", (const uint8_t *)"x", 1, 0);
	w->begin_rc = pl_store_begin(w->s);
	w->list_rc = pl_store_list(w->s, KIND_A, walk_cb, w);
	w->get_rc = pl_store_get(w->s, KIND_A, key, &v, &n);
	if (w->get_rc == 0)
		assert_memory_equal(v, val, len);
	free(v);
	return 0;
}

/* ------------------------------------------------------------ persistence */

static void test_create_reopen(void **state)
{
	struct fixture *f = *state;
	pl_store *s = open_ok(f->loc, PL_STORE_CREATE);
	assert_string_equal(pl_store_backend_name(s), "sqlite");
	int v = -1;
	assert_int_equal(pl_store_schema_version(s, &v), 0);
	assert_int_equal(v, 2); /* the number of migration steps in sqlite.c */
	put_str(s, KIND_A, "alpha", "one");
	pl_store_close(s);
	assert_null(s);

	/* A plain path means sqlite; no CREATE needed for an existing store. */
	s = open_ok(f->path, 0);
	assert_string_equal(pl_store_backend_name(s), "sqlite");
	expect_str(s, KIND_A, "alpha", "one");
	v = -1;
	assert_int_equal(pl_store_schema_version(s, &v), 0);
	assert_int_equal(v, 2);
	pl_store_close(s);
	pl_store_close(s); /* NULL-safe */
}

static void test_put_get_del(void **state)
{
	struct fixture *f = *state;
	pl_store *s = open_ok(f->loc, PL_STORE_CREATE);

	put_str(s, KIND_A, "k", "first");
	expect_str(s, KIND_A, "k", "first");
	put_str(s, KIND_A, "k", "second"); /* replaces */
	expect_str(s, KIND_A, "k", "second");

	/* Binary values with NUL bytes, an empty value, the largest kind. */
	const uint8_t bin[] = {0, 1, 0, 255, 0};
	assert_int_equal(pl_store_put(s, KIND_A, "bin", bin, sizeof(bin), 0), 0);
	uint8_t *v = NULL;
	size_t n = 0;
	assert_int_equal(pl_store_get(s, KIND_A, "bin", &v, &n), 0);
	assert_int_equal(n, sizeof(bin));
	assert_memory_equal(v, bin, n);
	free(v);
	assert_int_equal(pl_store_put(s, KIND_A, "empty", NULL, 0, 0), 0);
	v = NULL;
	n = 99;
	assert_int_equal(pl_store_get(s, KIND_A, "empty", &v, &n), 0);
	assert_non_null(v);
	assert_int_equal(n, 0);
	free(v);
	put_str(s, UINT32_MAX, "k", "max");
	expect_str(s, UINT32_MAX, "k", "max");
	expect_str(s, KIND_A, "k", "second");

	assert_int_equal(pl_store_del(s, KIND_A, "k"), 0);
	expect_absent(s, KIND_A, "k");
	assert_int_equal(pl_store_del(s, KIND_A, "k"), PL_ERR_NOT_FOUND);
	expect_absent(s, KIND_A, "never");
	expect_str(s, UINT32_MAX, "k", "max");
	pl_store_close(s);
}

static void test_kinds_are_separate(void **state)
{
	struct fixture *f = *state;
	pl_store *s = open_ok(f->loc, PL_STORE_CREATE);
	put_str(s, KIND_A, "same", "in a");
	put_str(s, KIND_B, "same", "in b");
	expect_str(s, KIND_A, "same", "in a");
	expect_str(s, KIND_B, "same", "in b");
	assert_int_equal(pl_store_del(s, KIND_A, "same"), 0);
	expect_absent(s, KIND_A, "same");
	expect_str(s, KIND_B, "same", "in b");
	/* NO_REPLACE looks at its own kind only. */
	assert_int_equal(
	    pl_store_put(s, KIND_A, "same", (const uint8_t *)"again", 5, PL_STORE_NO_REPLACE), 0);
	expect_str(s, KIND_B, "same", "in b");
	pl_store_close(s);
}

/* ------------------------------------------------------------------- list */

static void test_list_order(void **state)
{
	struct fixture *f = *state;
	pl_store *s = open_ok(f->loc, PL_STORE_CREATE);
	/* Inserted out of order; bytewise order puts upper case first and
	 * UTF-8 (0xC3...) after ASCII. */
	const char *in[] = {"b", "\xc3\xa9t\xc3\xa9", "aa", "B", "a", "A", "a0", "~"};
	const char *want[] = {"A", "B", "a", "a0", "aa", "b", "~", "\xc3\xa9t\xc3\xa9"};
	for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		char val[32];
		snprintf(val, sizeof(val), "v-%s", in[i]);
		put_str(s, KIND_A, in[i], val);
	}
	put_str(s, KIND_B, "other", "kind b");

	struct walk w = {0};
	assert_int_equal(pl_store_list(s, KIND_A, walk_cb, &w), 0);
	assert_int_equal(w.calls, 8);
	for (int i = 0; i < 8; i++) {
		char val[32];
		snprintf(val, sizeof(val), "v-%s", want[i]);
		assert_string_equal(w.keys[i], want[i]);
		assert_string_equal(w.vals[i], val);
	}

	memset(&w, 0, sizeof(w));
	assert_int_equal(pl_store_list(s, KIND_B, walk_cb, &w), 0);
	assert_int_equal(w.calls, 1);
	assert_string_equal(w.keys[0], "other");
	assert_string_equal(w.vals[0], "kind b");

	memset(&w, 0, sizeof(w));
	assert_int_equal(pl_store_list(s, 99, walk_cb, &w), 0);
	assert_int_equal(w.calls, 0);
	assert_int_equal(pl_store_list(s, KIND_A, NULL, NULL), PL_ERR_INVALID);
	pl_store_close(s);
}

static void test_list_stops_early(void **state)
{
	struct fixture *f = *state;
	pl_store *s = open_ok(f->loc, PL_STORE_CREATE);
	put_str(s, KIND_A, "1", "x");
	put_str(s, KIND_A, "2", "y");
	put_str(s, KIND_A, "3", "z");

	struct walk w = {.stop_at = 2, .stop_ret = 42};
	assert_int_equal(pl_store_list(s, KIND_A, walk_cb, &w), 42);
	assert_int_equal(w.calls, 2);
	assert_string_equal(w.keys[1], "2");

	memset(&w, 0, sizeof(w));
	w.stop_at = 1;
	w.stop_ret = PL_ERR_NOMEM;
	assert_int_equal(pl_store_list(s, KIND_A, walk_cb, &w), PL_ERR_NOMEM);
	assert_int_equal(w.calls, 1);

	/* The store is usable after an interrupted walk. */
	put_str(s, KIND_A, "4", "w");
	memset(&w, 0, sizeof(w));
	assert_int_equal(pl_store_list(s, KIND_A, walk_cb, &w), 0);
	assert_int_equal(w.calls, 4);
	pl_store_close(s);
}

static void test_list_callback_may_only_read(void **state)
{
	struct fixture *f = *state;
	pl_store *s = open_ok(f->loc, PL_STORE_CREATE);
	put_str(s, KIND_A, "only", "one");
	struct walk w = {.s = s};
	assert_int_equal(pl_store_list(s, KIND_A, meddling_cb, &w), 0);
	assert_int_equal(w.calls, 1);
	assert_int_equal(w.put_rc, PL_ERR_INVALID);
	assert_int_equal(w.begin_rc, PL_ERR_INVALID);
	assert_int_equal(w.list_rc, PL_ERR_INVALID);
	assert_int_equal(w.get_rc, 0);
	expect_absent(s, KIND_A, "new");
	/* After the walk writes work again. */
	put_str(s, KIND_A, "new", "x");
	pl_store_close(s);
}

/* ----------------------------------------------------------- transactions */

static void test_no_replace(void **state)
{
	struct fixture *f = *state;
	pl_store *s = open_ok(f->loc, PL_STORE_CREATE);
	assert_int_equal(
	    pl_store_put(s, KIND_A, "once", (const uint8_t *)"old", 3, PL_STORE_NO_REPLACE), 0);
	assert_int_equal(
	    pl_store_put(s, KIND_A, "once", (const uint8_t *)"new", 3, PL_STORE_NO_REPLACE),
	    PL_ERR_EXISTS);
	expect_str(s, KIND_A, "once", "old");

	/* Inside a transaction the refusal does not spoil the rest of it. */
	assert_int_equal(pl_store_begin(s), 0);
	put_str(s, KIND_A, "tx", "kept");
	assert_int_equal(
	    pl_store_put(s, KIND_A, "once", (const uint8_t *)"new", 3, PL_STORE_NO_REPLACE),
	    PL_ERR_EXISTS);
	assert_int_equal(pl_store_commit(s), 0);
	pl_store_close(s);

	s = open_ok(f->path, 0);
	expect_str(s, KIND_A, "once", "old");
	expect_str(s, KIND_A, "tx", "kept");
	assert_int_equal(pl_store_put(s, KIND_A, "x", (const uint8_t *)"1", 1, 0x80),
			 PL_ERR_INVALID);
	expect_absent(s, KIND_A, "x");
	pl_store_close(s);
}

static void test_commit_persists(void **state)
{
	struct fixture *f = *state;
	pl_store *s = open_ok(f->loc, PL_STORE_CREATE);
	put_str(s, KIND_A, "gone", "soon");
	assert_int_equal(pl_store_begin(s), 0);
	put_str(s, KIND_A, "a", "1");
	put_str(s, KIND_B, "b", "2");
	assert_int_equal(pl_store_del(s, KIND_A, "gone"), 0);
	assert_int_equal(pl_store_commit(s), 0);
	pl_store_close(s);

	s = open_ok(f->path, 0);
	expect_str(s, KIND_A, "a", "1");
	expect_str(s, KIND_B, "b", "2");
	expect_absent(s, KIND_A, "gone");
	pl_store_close(s);
}

static void test_rollback_discards(void **state)
{
	struct fixture *f = *state;
	pl_store *s = open_ok(f->loc, PL_STORE_CREATE);
	put_str(s, KIND_A, "old", "before");
	assert_int_equal(pl_store_begin(s), 0);
	put_str(s, KIND_A, "new", "during");
	put_str(s, KIND_A, "old", "changed");
	expect_str(s, KIND_A, "new", "during"); /* a transaction sees its own writes */
	assert_int_equal(pl_store_rollback(s), 0);
	expect_absent(s, KIND_A, "new");
	expect_str(s, KIND_A, "old", "before");
	pl_store_close(s);

	s = open_ok(f->path, 0);
	expect_absent(s, KIND_A, "new");
	expect_str(s, KIND_A, "old", "before");
	pl_store_close(s);
}

static void test_close_rolls_back(void **state)
{
	struct fixture *f = *state;
	pl_store *s = open_ok(f->loc, PL_STORE_CREATE);
	put_str(s, KIND_A, "kept", "yes");
	assert_int_equal(pl_store_begin(s), 0);
	put_str(s, KIND_A, "lost", "no");
	pl_store_close(s);

	s = open_ok(f->path, 0);
	expect_absent(s, KIND_A, "lost");
	expect_str(s, KIND_A, "kept", "yes");
	/* ... and the write lock went with it. */
	assert_int_equal(pl_store_begin(s), 0);
	assert_int_equal(pl_store_commit(s), 0);
	pl_store_close(s);
}

static void test_transaction_misuse(void **state)
{
	struct fixture *f = *state;
	pl_store *s = open_ok(f->loc, PL_STORE_CREATE);
	assert_int_equal(pl_store_commit(s), PL_ERR_INVALID);
	assert_int_equal(pl_store_rollback(s), PL_ERR_INVALID);
	assert_int_equal(pl_store_begin(s), 0);
	put_str(s, KIND_A, "in", "tx");
	assert_int_equal(pl_store_begin(s), PL_ERR_INVALID);
	assert_non_null(strstr(pl_err_detail(), "already"));
	/* The first transaction is still open and commits. */
	assert_int_equal(pl_store_commit(s), 0);
	assert_int_equal(pl_store_commit(s), PL_ERR_INVALID);
	pl_store_close(s);

	s = open_ok(f->path, 0);
	expect_str(s, KIND_A, "in", "tx");
	pl_store_close(s);
}

/* ----------------------------------------------------------------- limits */

static void test_limits(void **state)
{
	struct fixture *f = *state;
	pl_store *s = open_ok(f->loc, PL_STORE_CREATE);
	const uint8_t one = 1;
	uint8_t *v = NULL;
	size_t n = 0;

	assert_int_equal(pl_store_put(s, KIND_A, NULL, &one, 1, 0), PL_ERR_INVALID);
	assert_int_equal(pl_store_put(s, KIND_A, "", &one, 1, 0), PL_ERR_INVALID);
	assert_int_equal(pl_store_get(s, KIND_A, NULL, &v, &n), PL_ERR_INVALID);
	assert_int_equal(pl_store_get(s, KIND_A, "k", NULL, &n), PL_ERR_INVALID);
	assert_int_equal(pl_store_get(s, KIND_A, "k", &v, NULL), PL_ERR_INVALID);
	assert_int_equal(pl_store_del(s, KIND_A, ""), PL_ERR_INVALID);
	assert_int_equal(pl_store_put(s, KIND_A, "k", NULL, 5, 0), PL_ERR_INVALID);

	char key[PL_STORE_KEY_MAX + 2];
	memset(key, 'k', sizeof(key) - 1);
	key[PL_STORE_KEY_MAX] = '\0'; /* exactly the limit */
	assert_int_equal(pl_store_put(s, KIND_A, key, &one, 1, 0), 0);
	assert_int_equal(pl_store_get(s, KIND_A, key, &v, &n), 0);
	assert_int_equal(n, 1);
	free(v);
	struct walk w = {0};
	assert_int_equal(pl_store_list(s, KIND_A, walk_cb, &w), 0);
	assert_int_equal(w.calls, 1);
	assert_int_equal(strlen(w.keys[0]), PL_STORE_KEY_MAX);

	key[PL_STORE_KEY_MAX] = 'k'; /* one over */
	key[PL_STORE_KEY_MAX + 1] = '\0';
	assert_int_equal(pl_store_put(s, KIND_A, key, &one, 1, 0), PL_ERR_LIMIT);
	assert_non_null(strstr(pl_err_detail(), "256"));
	assert_int_equal(pl_store_get(s, KIND_A, key, &v, &n), PL_ERR_LIMIT);
	assert_int_equal(pl_store_del(s, KIND_A, key), PL_ERR_LIMIT);

	/* The largest value goes in and comes back; one byte more is refused. */
	uint8_t *big = malloc(PL_STORE_VALUE_MAX + 1);
	assert_non_null(big);
	for (size_t i = 0; i < PL_STORE_VALUE_MAX + 1; i++)
		big[i] = (uint8_t)(i * 31 + 7);
	assert_int_equal(pl_store_put(s, KIND_B, "big", big, PL_STORE_VALUE_MAX + 1, 0),
			 PL_ERR_LIMIT);
	assert_non_null(strstr(pl_err_detail(), "16777216"));
	expect_absent(s, KIND_B, "big");
	assert_int_equal(pl_store_put(s, KIND_B, "big", big, PL_STORE_VALUE_MAX, 0), 0);
	assert_int_equal(pl_store_get(s, KIND_B, "big", &v, &n), 0);
	assert_int_equal(n, PL_STORE_VALUE_MAX);
	assert_memory_equal(v, big, n);
	free(v);
	free(big);
	pl_store_close(s);
}

/* ---------------------------------------------------------------- opening */

static void test_open_missing(void **state)
{
	struct fixture *f = *state;
	expect_open_fails(f->path, 0, PL_ERR_NOT_FOUND, f->path);
	expect_open_fails(f->loc, PL_STORE_READONLY, PL_ERR_NOT_FOUND, f->path);
	assert_int_equal(access(f->path, F_OK), -1); /* nothing was created */

	char deep[700];
	snprintf(deep, sizeof(deep), "%s/no/such/dir/x.db", f->dir);
	expect_open_fails(deep, PL_STORE_CREATE, PL_ERR_NOT_FOUND, "folder");

	/* An empty file is not a store; with CREATE it becomes one. */
	write_file(f->path, "", 0);
	expect_open_fails(f->path, 0, PL_ERR_NOT_FOUND, "empty");
	pl_store *s = open_ok(f->path, PL_STORE_CREATE);
	int v = 0;
	assert_int_equal(pl_store_schema_version(s, &v), 0);
	assert_int_equal(v, 2);
	pl_store_close(s);
}

static void test_open_arguments(void **state)
{
	struct fixture *f = *state;
	pl_store *s = NULL;
	assert_int_equal(pl_store_open(f->loc, PL_STORE_CREATE, NULL, NULL), PL_ERR_INVALID);
	assert_int_equal(pl_store_open(NULL, PL_STORE_CREATE, NULL, &s), PL_ERR_INVALID);
	assert_int_equal(pl_store_open("", PL_STORE_CREATE, NULL, &s), PL_ERR_INVALID);
	assert_int_equal(pl_store_open("sqlite:", PL_STORE_CREATE, NULL, &s), PL_ERR_INVALID);
	assert_int_equal(pl_store_open(f->loc, 0x100, NULL, &s), PL_ERR_INVALID);
	assert_int_equal(pl_store_open(f->loc, PL_STORE_CREATE | PL_STORE_READONLY, NULL, &s),
			 PL_ERR_INVALID);
	assert_null(s);
	assert_string_equal(pl_store_backend_name(NULL), "");
	assert_int_equal(pl_store_begin(NULL), PL_ERR_INVALID);
	assert_int_equal(pl_store_put(NULL, 1, "k", NULL, 0, 0), PL_ERR_INVALID);
	assert_int_equal(access(f->path, F_OK), -1);
}

static void test_location_syntax(void **state)
{
	struct fixture *f = *state;
	expect_open_fails("postgres://db.example/parley", PL_STORE_CREATE, PL_ERR_INVALID,
			  "postgres");
	assert_non_null(strstr(pl_err_detail(), "known: sqlite"));
	expect_open_fails("node:1.db", PL_STORE_CREATE, PL_ERR_INVALID, "known: sqlite");

	/* A colon after a slash is part of a path. */
	char colon[700];
	snprintf(colon, sizeof(colon), "%s/a:b.db", f->dir);
	pl_store *s = open_ok(colon, PL_STORE_CREATE);
	pl_store_close(s);
	assert_int_equal(access(colon, F_OK), 0);

	/* busy_ms: a number of milliseconds, 1..60000, and nothing else. */
	char loc[800];
	const char *bad[] = {"?busy_ms=0",
			     "?busy_ms=60001",
			     "?busy_ms=abc",
			     "?busy_ms=",
			     "?busy_ms=-5",
			     "?busy_ms=100000",
			     "?busy_ms",
			     "?busy_ms=100&busy_ms=100",
			     "?foo=1",
			     "?busy_ms=10&",
			     "?",
			     "?busy_ms=+5",
			     "?wal_pages=99",
			     "?wal_pages=1000001",
			     "?wal_pages=",
			     "?wal_pages=1k",
			     "?wal_pages=100&wal_pages=100"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(loc, sizeof(loc), "%s%s", f->loc, bad[i]);
		expect_open_fails(loc, PL_STORE_CREATE, PL_ERR_INVALID, NULL);
	}
	assert_int_equal(access(f->path, F_OK), -1);
	snprintf(loc, sizeof(loc), "%s?busy_ms=60000&wal_pages=1000000", f->loc);
	s = open_ok(loc, PL_STORE_CREATE);
	pl_store_close(s);
	snprintf(loc, sizeof(loc), "%s?busy_ms=1", f->path); /* the option on a plain path */
	s = open_ok(loc, 0);
	pl_store_close(s);
	assert_int_equal(access(f->path, F_OK), 0);
	assert_int_equal(access(loc, F_OK), -1); /* the option is not part of the file name */
}

static void test_file_prefix_is_not_a_uri(void **state)
{
	struct fixture *f = *state;
	char cwd[1024];
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(f->dir), 0);
	/* SQLite may read "file:x.db" as a URI for x.db; Parley means the file "file:x.db". */
	pl_store *s = NULL;
	int rc = pl_store_open("sqlite:file:x.db", PL_STORE_CREATE, NULL, &s);
	pl_store_close(s);
	int have_literal = access("file:x.db", F_OK);
	int have_uri_target = access("x.db", F_OK);
	assert_int_equal(chdir(cwd), 0);
	assert_int_equal(rc, 0);
	assert_int_equal(have_literal, 0);
	assert_int_equal(have_uri_target, -1);
}

/* ------------------------------------------------------------------- ranges */

static void test_range_and_del_range(void **state)
{
	struct fixture *f = *state;
	pl_store *s = open_ok(f->loc, PL_STORE_CREATE);
	const char *keys[] = {"p/1/0003", "p/1/0001", "p/1/0002", "p/2/0001", "q/1/0001"};
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		put_str(s, KIND_A, keys[i], keys[i]);
	put_str(s, KIND_B, "p/1/0000", "other kind");

	struct walk w = {0};
	assert_int_equal(pl_store_range(s, KIND_A, "p/1/", "p/1/~", 0, walk_cb, &w), 0);
	assert_int_equal(w.calls, 3);
	assert_string_equal(w.keys[0], "p/1/0001");
	assert_string_equal(w.keys[2], "p/1/0003");
	/* limit, and an open upper bound */
	struct walk w2 = {0};
	assert_int_equal(pl_store_range(s, KIND_A, "p/1/0002", NULL, 2, walk_cb, &w2), 0);
	assert_int_equal(w2.calls, 2);
	assert_string_equal(w2.keys[0], "p/1/0002");
	assert_string_equal(w2.keys[1], "p/1/0003");
	/* the upper bound is exclusive */
	struct walk w3 = {0};
	assert_int_equal(pl_store_range(s, KIND_A, "p/1/0001", "p/1/0003", 0, walk_cb, &w3), 0);
	assert_int_equal(w3.calls, 2);

	uint64_t n = 99;
	assert_int_equal(pl_store_del_range(s, KIND_A, "p/1/", "p/1/0003", &n), 0);
	assert_int_equal(n, 2);
	struct walk w4 = {0};
	assert_int_equal(pl_store_list(s, KIND_A, walk_cb, &w4), 0);
	assert_int_equal(w4.calls, 3);
	assert_string_equal(w4.keys[0], "p/1/0003");
	expect_str(s, KIND_B, "p/1/0000", "other kind");
	/* rolled back with the transaction like any write */
	assert_int_equal(pl_store_begin(s), 0);
	assert_int_equal(pl_store_del_range(s, KIND_A, "a", "z", &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(pl_store_rollback(s), 0);
	struct walk w5 = {0};
	assert_int_equal(pl_store_list(s, KIND_A, walk_cb, &w5), 0);
	assert_int_equal(w5.calls, 3);
	pl_store_close(s);

	/* a version 1 backend is driven, but has no ranges */
	pl_store_methods m = pl_store_sqlite_methods;
	m.version = 1;
	m.range = NULL;
	m.del_range = NULL;
	assert_int_equal(pl_store_open(f->path, 0, &m, &s), 0);
	struct walk w6 = {0};
	assert_int_equal(pl_store_range(s, KIND_A, "a", NULL, 0, walk_cb, &w6), PL_ERR_INVALID);
	assert_int_equal(pl_store_del_range(s, KIND_A, "a", "z", NULL), PL_ERR_INVALID);
	pl_store_close(s);
	/* a version 2 table without them is refused */
	m.version = 2;
	assert_int_equal(pl_store_open(f->path, 0, &m, &s), PL_ERR_INVALID);
}

/* The work a range does depends on the rows inside it, not on how many rows
 * of the kind lie past its upper bound: a node walks an empty lane of a
 * queue while another lane holds a million items. */
static uint64_t range_steps(pl_store *s, const char *from, const char *to, size_t limit,
			    int *calls)
{
	pl_store_stats a, b;
	assert_int_equal(pl_store_get_stats(s, &a), 0);
	struct walk w = {0};
	assert_int_equal(pl_store_range(s, KIND_A, from, to, limit, walk_cb, &w), 0);
	assert_int_equal(pl_store_get_stats(s, &b), 0);
	*calls = w.calls;
	return b.walk_steps - a.walk_steps;
}

static void test_range_stops_at_its_bound(void **state)
{
	struct fixture *f = *state;
	pl_store *s = open_ok(f->loc, PL_STORE_CREATE);
	put_str(s, KIND_A, "q/0/0001", "one");
	int calls = 0;
	uint64_t few = range_steps(s, "q/0/", "q/0/~", 0, &calls);
	assert_int_equal(calls, 1);
	assert_true(few > 0);
	/* 5000 rows after the bound (another lane) */
	assert_int_equal(pl_store_begin(s), 0);
	for (int i = 0; i < 5000; i++) {
		char k[32];
		snprintf(k, sizeof(k), "q/4/%06d", i);
		put_str(s, KIND_A, k, "x");
	}
	assert_int_equal(pl_store_commit(s), 0);
	uint64_t many = range_steps(s, "q/0/", "q/0/~", 0, &calls);
	assert_int_equal(calls, 1);
	/* the same work give or take a B-tree level, not 5000 rows more */
	assert_true(many < few + 50);
	/* an open range with a limit stops at the limit */
	uint64_t lim = range_steps(s, "q/4/", NULL, 3, &calls);
	assert_int_equal(calls, 3);
	assert_true(lim < few + 100);
	/* and the count is the backend's: walking every row costs more */
	uint64_t all = range_steps(s, "q/", NULL, 0, &calls);
	assert_int_equal(calls, 5001);
	assert_true(all > 5000);
	pl_store_close(s);

	/* a version 3 backend has no stats */
	pl_store_methods m = pl_store_sqlite_methods;
	m.version = 3;
	m.stats = NULL;
	assert_int_equal(pl_store_open(f->path, 0, &m, &s), 0);
	pl_store_stats st;
	assert_int_equal(pl_store_get_stats(s, &st), PL_ERR_INVALID);
	pl_store_close(s);
	/* a version 4 table without it is refused */
	m.version = 4;
	assert_int_equal(pl_store_open(f->path, 0, &m, &s), PL_ERR_INVALID);
}

static void test_methods_table(void **state)
{
	struct fixture *f = *state;
	pl_store *s = NULL;
	pl_store_methods m = pl_store_sqlite_methods;

	m.version = 0;
	assert_int_equal(pl_store_open(f->path, PL_STORE_CREATE, &m, &s), PL_ERR_INVALID);
	m.version = PL_STORE_METHODS_VERSION + 1;
	assert_int_equal(pl_store_open(f->path, PL_STORE_CREATE, &m, &s), PL_ERR_INVALID);
	assert_non_null(strstr(pl_err_detail(), "version"));
	m.version = PL_STORE_METHODS_VERSION;
	m.list = NULL;
	assert_int_equal(pl_store_open(f->path, PL_STORE_CREATE, &m, &s), PL_ERR_INVALID);
	assert_null(s);
	assert_int_equal(access(f->path, F_OK), -1);

	/* A table passed in is used with the location as is. */
	m.list = pl_store_sqlite_methods.list;
	m.name = "copy";
	assert_int_equal(pl_store_open(f->path, PL_STORE_CREATE, &m, &s), 0);
	assert_string_equal(pl_store_backend_name(s), "copy");
	put_str(s, KIND_A, "via", "copy");
	pl_store_close(s);
	s = open_ok(f->path, 0);
	expect_str(s, KIND_A, "via", "copy");
	pl_store_close(s);
}

static void test_readonly(void **state)
{
	struct fixture *f = *state;
	pl_store *s = open_ok(f->loc, PL_STORE_CREATE);
	put_str(s, KIND_A, "k", "v");
	pl_store_close(s);

	s = open_ok(f->loc, PL_STORE_READONLY);
	expect_str(s, KIND_A, "k", "v");
	assert_int_equal(pl_store_put(s, KIND_A, "k", (const uint8_t *)"w", 1, 0), PL_ERR_INVALID);
	assert_int_equal(pl_store_del(s, KIND_A, "k"), PL_ERR_INVALID);
	/* A read transaction is allowed. */
	assert_int_equal(pl_store_begin(s), 0);
	expect_str(s, KIND_A, "k", "v");
	assert_int_equal(pl_store_commit(s), 0);
	pl_store_close(s);
}

/* --------------------------------------------------- schema and foreign files */

/* n rows of size bytes in one transaction: about n WAL pages for size 3000. */
static void put_many(pl_store *s, int first, int n, size_t size)
{
	char *val = malloc(size + 1);
	assert_non_null(val);
	memset(val, 'w', size);
	val[size] = 0;
	assert_int_equal(pl_store_begin(s), 0);
	for (int i = first; i < first + n; i++) {
		char k[32];
		snprintf(k, sizeof(k), "w/%06d", i);
		put_str(s, KIND_A, k, val);
	}
	assert_int_equal(pl_store_commit(s), 0);
	free(val);
}

/* The value put_many wrote under key, 3000 bytes of 'w'. */
static void expect_put_many(pl_store *s, const char *key)
{
	char want[3001];
	memset(want, 'w', 3000);
	want[3000] = 0;
	expect_str(s, KIND_A, key, want);
}

static off_t file_size(const char *path)
{
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	return st.st_size;
}

/* The store's statistics once its checkpointer thread has made n
 * checkpoints; fails after about 30 s of waiting (a wait, not a timing). */
static pl_store_stats wait_checkpoints(pl_store *s, uint64_t n)
{
	pl_store_stats st;
	for (int i = 0; i < 3000; i++) {
		assert_int_equal(pl_store_get_stats(s, &st), 0);
		if (st.checkpoints_thread >= n)
			return st;
		usleep(10 * 1000);
	}
	fail_msg("the checkpointer thread made %llu checkpoints, not %llu",
		 (unsigned long long)st.checkpoints_thread, (unsigned long long)n);
	return st;
}

/*
 * The WAL is copied into the database file by the store's checkpointer
 * thread once it holds a tenth of its threshold (10000 pages by default),
 * not by the commit that crosses SQLite's own threshold: below that tenth
 * nothing is copied, past it the thread copies without any commit doing so
 * (with SQLite's own automatic checkpoint the counts stay 0 and the wait
 * fails).
 */
static void test_checkpoint_thread(void **state)
{
	struct fixture *f = *state;
	pl_store *s = open_ok(f->loc, PL_STORE_CREATE);
	off_t empty = file_size(f->path);
	/* ~690 pages (600 rows of 3000 bytes, and the index): short of 1000 */
	put_many(s, 0, 600, 3000);
	assert_int_equal(file_size(f->path), empty); /* all of it still in the WAL */
	pl_store_stats st;
	assert_int_equal(pl_store_get_stats(s, &st), 0);
	assert_int_equal(st.checkpoints_thread + st.checkpoints_commit, 0);
	/* past 1000, far short of 10000: the thread copies it */
	put_many(s, 600, 600, 3000);
	st = wait_checkpoints(s, 1);
	assert_int_equal(st.checkpoints_commit, 0);
	assert_int_equal(st.checkpoints_failed, 0);
	for (int i = 0; i < 3000 && file_size(f->path) <= empty + (off_t)1200 * 3000; i++)
		usleep(10 * 1000); /* a run counted may have begun before the last commit */
	assert_true(file_size(f->path) > empty + (off_t)1200 * 3000);
	expect_put_many(s, "w/000000");
	expect_put_many(s, "w/001199");
	pl_store_close(s);
}

/*
 * Under a steady stream of commits the WAL starts over from its beginning
 * each time it reaches the threshold (wal_pages=1000 here): the commit that
 * finds it there checkpoints the little the thread has not copied yet, and
 * SQLite restarts the WAL at the next commit.  8 times the threshold in
 * commits of ~40 pages: the file stays near 1000 pages.  A checkpoint by
 * the thread alone never starts the WAL over under such a load (the writer
 * is always in a transaction begun before the copy ended): without the
 * commit's the file grows to the whole 8000.
 */
static void test_checkpoint_wal_bounded(void **state)
{
	struct fixture *f = *state;
	pl_store *s = open_opts(f, "wal_pages=1000");
	for (int i = 0; i < 200; i++)
		put_many(s, i * 40, 40, 3000);
	pl_store_stats st = wait_checkpoints(s, 1);
	assert_int_equal(st.checkpoints_failed, 0);
	assert_true(st.checkpoints_commit >= 4);
	char wal[700];
	snprintf(wal, sizeof(wal), "%s-wal", f->path);
	/* frames of 4096 + 24 bytes, a 32-byte header; a commit may find the
	 * thread copying (BUSY) and leave it to the next, and on a loaded disk
	 * (the thread's sync slow) many commits may: 1,400 pages was passed
	 * under a parallel test run.  Half of the 8,000 the WAL holds without
	 * the commits' checkpoints tells the two apart, whatever the timing. */
	assert_true(file_size(wal) <= (off_t)4000 * (4096 + 24) + 32);
	pl_store_close(s);
	/* closing checkpoints what is left and removes the WAL */
	assert_int_equal(access(wal, F_OK), -1);
	assert_true(file_size(f->path) > (off_t)8000 * 3000);
}

/*
 * A reader that holds an old snapshot keeps every checkpoint from copying
 * past it: the WAL grows past its threshold meanwhile (the commits'
 * checkpoints copy nothing, and fail nothing).  Once the reader is gone the
 * next commit gets the WAL copied whole and started over.
 */
static void test_checkpoint_reader(void **state)
{
	struct fixture *f = *state;
	pl_store *s = open_opts(f, "wal_pages=1000");
	put_many(s, 0, 10, 3000);
	sqlite3 *db = raw_open(f->path);
	raw_exec(db, "BEGIN");
	assert_int_equal(raw_int(db, "SELECT count(*) FROM objects"), 10);
	off_t held = file_size(f->path);
	for (int i = 0; i < 3; i++)
		put_many(s, 10 + i * 1000, 1000, 3000);
	assert_true(file_size(f->path) < held + (off_t)1000 * 3000); /* not copied */
	pl_store_stats st;
	assert_int_equal(pl_store_get_stats(s, &st), 0);
	assert_true(st.checkpoints_commit >= 1);
	assert_int_equal(st.checkpoints_failed, 0);
	raw_exec(db, "COMMIT");
	sqlite3_close(db);
	uint64_t commits = st.checkpoints_commit;
	for (int i = 0; i < 100 && st.checkpoints_commit == commits; i++) {
		put_many(s, 3010 + i, 1, 3000); /* BUSY while the thread copies */
		assert_int_equal(pl_store_get_stats(s, &st), 0);
	}
	assert_true(st.checkpoints_commit > commits);
	assert_true(file_size(f->path) > held + (off_t)3000 * 3000);
	char wal[700];
	snprintf(wal, sizeof(wal), "%s-wal", f->path);
	off_t wal_size = file_size(wal);
	put_many(s, 4000, 10, 3000); /* starts the WAL over: the file does not grow */
	assert_int_equal(file_size(wal), wal_size);
	expect_put_many(s, "w/003009");
	expect_put_many(s, "w/004009");
	pl_store_close(s);
}

/*
 * A thread that cannot checkpoint (here: the store's file moved away after
 * the open, so the thread's connection finds none) is counted as failed;
 * the commits' checkpoints, on the store's own connection, go on copying
 * the WAL and starting it over.
 */
static void test_checkpoint_thread_fails(void **state)
{
	struct fixture *f = *state;
	char moved[700];
	snprintf(moved, sizeof(moved), "%s/moved.db", f->dir);
	pl_store *s = open_opts(f, "wal_pages=1000");
	assert_int_equal(rename(f->path, moved), 0);
	pl_store_stats st = {0};
	for (int i = 0; i < 200 && (st.checkpoints_failed == 0 || st.checkpoints_commit < 2); i++) {
		put_many(s, i * 40, 40, 3000);
		assert_int_equal(pl_store_get_stats(s, &st), 0);
	}
	assert_true(st.checkpoints_failed >= 1);
	assert_true(st.checkpoints_commit >= 2);
	assert_int_equal(st.checkpoints_thread, 0);
	assert_true(file_size(moved) > (off_t)900 * 3000);
	assert_int_equal(rename(moved, f->path), 0);
	expect_put_many(s, "w/000000");
	pl_store_close(s);
}

/* Called from the store's syncer thread (pl_store_synced_fn). */
static void count_synced(void *arg)
{
	__atomic_add_fetch((int *)arg, 1, __ATOMIC_SEQ_CST);
}

/* Wait (bounded) until the syncer, on its own, has synced every commit. */
static pl_store_sync wait_synced(pl_store *s)
{
	pl_store_sync st;
	for (int i = 0; i < 3000; i++) {
		pl_store_sync_state(s, &st);
		if (st.synced == st.committed || st.error)
			break;
		usleep(10 * 1000);
	}
	return st;
}

/*
 * Deferred syncs: each commit that wrote something is counted, the syncer
 * thread syncs them without being asked (many with one sync at most one
 * per commit) and says so; what was committed is there after a reopen.
 * The store's own WAL restarts (wal_pages=100) do not disturb the count.
 */
static void test_defer_sync(void **state)
{
	struct fixture *f = *state;
	pl_store *s = open_opts(f, "wal_pages=100");
	put_str(s, KIND_A, "before", "v");
	pl_store_sync st;
	pl_store_sync_state(s, &st);
	assert_int_equal(st.committed + st.synced + st.syncs, 0); /* durable in each commit */
	assert_int_equal(pl_store_sync_wait(s), 0);

	int notified = 0;
	assert_int_equal(pl_store_defer_sync(s, count_synced, &notified), 0);
	assert_int_equal(pl_store_defer_sync(s, count_synced, &notified), PL_ERR_INVALID);
	for (int i = 0; i < 5; i++) {
		char k[16];
		snprintf(k, sizeof(k), "k%d", i);
		put_str(s, KIND_A, k, "v"); /* each its own transaction */
	}
	put_many(s, 0, 300, 3000);              /* one, past the WAL's threshold */
	assert_int_equal(pl_store_begin(s), 0); /* writes nothing: not a commit */
	assert_int_equal(pl_store_commit(s), 0);
	st = wait_synced(s);
	assert_int_equal(st.error, 0);
	assert_int_equal(st.committed, 6);
	assert_int_equal(st.synced, 6);
	assert_true(st.syncs >= 1 && st.syncs <= 6);
	for (int i = 0; i < 300 && __atomic_load_n(&notified, __ATOMIC_SEQ_CST) < (int)st.syncs;
	     i++)
		usleep(10 * 1000); /* told after the count is updated */
	assert_true(__atomic_load_n(&notified, __ATOMIC_SEQ_CST) >= (int)st.syncs);

	assert_int_equal(pl_store_begin(s), 0);
	assert_int_equal(pl_store_defer_sync(s, count_synced, &notified), PL_ERR_INVALID);
	assert_int_equal(pl_store_rollback(s), 0);
	for (int i = 0; i < 40; i++)
		put_many(s, 300 + i * 10, 10, 3000);
	assert_int_equal(pl_store_sync_wait(s), 0);
	pl_store_sync_state(s, &st);
	assert_int_equal(st.committed, 46);
	assert_int_equal(st.synced, 46);
	pl_store_stats ss;
	assert_int_equal(pl_store_get_stats(s, &ss), 0);
	assert_true(ss.checkpoints_commit >= 1); /* the WAL started over meanwhile */
	pl_store_close(s);

	s = open_ok(f->loc, 0);
	expect_put_many(s, "w/000000");
	expect_put_many(s, "w/000699");
	pl_store_sync_state(s, &st); /* a new opening: synchronous again */
	assert_int_equal(st.committed, 0);
	pl_store_close(s);

	s = open_ok(f->loc, PL_STORE_READONLY);
	assert_int_equal(pl_store_defer_sync(s, count_synced, &notified), PL_ERR_INVALID);
	pl_store_close(s);
}

/*
 * A sync that fails (fdatasync of a FIFO: EINVAL) is kept, not retried:
 * synced stays where it was, later commits are never counted as synced,
 * and a wait says why.  The node stops on it (faults/sync-failed).
 */
static void test_wsync_fails(void **state)
{
	struct fixture *f = *state;
	char fifo[700];
	snprintf(fifo, sizeof(fifo), "%s/not-a-wal", f->dir);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	int notified = 0;
	sq_wsync *w = NULL;
	assert_int_equal(sq_wsync_start(fifo, count_synced, &notified, &w), 0);
	sq_wsync_committed(w);
	assert_int_equal(sq_wsync_wait(w), PL_ERR_IO);
	assert_non_null(strstr(pl_err_detail(), "syncing the store's WAL failed"));
	pl_store_sync st;
	sq_wsync_get_state(w, &st);
	assert_int_equal(st.error, EINVAL);
	assert_int_equal(st.committed, 1);
	assert_int_equal(st.synced, 0);
	assert_int_equal(st.syncs, 0);
	for (int i = 0; i < 300 && __atomic_load_n(&notified, __ATOMIC_SEQ_CST) == 0; i++)
		usleep(10 * 1000); /* told after the waiters are woken */
	assert_true(__atomic_load_n(&notified, __ATOMIC_SEQ_CST) >= 1);
	sq_wsync_committed(w); /* never synced now */
	assert_int_equal(sq_wsync_wait(w), PL_ERR_IO);
	sq_wsync_get_state(w, &st);
	assert_int_equal(st.committed, 2);
	assert_int_equal(st.synced, 0);
	sq_wsync_stop(w);

	/* no WAL at the path: refused at start, with the path */
	assert_int_equal(sq_wsync_start(f->path, count_synced, &notified, &w), PL_ERR_STORE);
	assert_non_null(strstr(pl_err_detail(), f->path));
}

static void test_sqlite_settings(void **state)
{
	struct fixture *f = *state;
	time_t before = time(NULL);
	pl_store *s = open_ok(f->loc, PL_STORE_CREATE);
	put_str(s, KIND_A, "k", "v");

	sqlite3 *db = raw_open(f->path);
	sqlite3_stmt *st = NULL;
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
	sqlite3_finalize(st);
	assert_int_equal(raw_int(db, "PRAGMA application_id"), 0x504c5931);
	assert_int_equal(raw_int(db, "PRAGMA user_version"), 2);
	assert_int_equal(raw_int(db, "SELECT count(*) FROM objects WHERE kind = 7 AND key = 'k'"
				     " AND value = CAST('v' AS BLOB)"),
			 1);
	sqlite3_int64 updated = raw_int(db, "SELECT updated FROM objects WHERE key = 'k'");
	assert_true(updated >= (sqlite3_int64)before - 5 && updated <= (sqlite3_int64)before + 60);
	/* a rowid table (schema step 2), found through a unique index */
	assert_int_equal(raw_int(db, "SELECT count(*) FROM sqlite_master WHERE name = 'objects'"
				     " AND sql NOT LIKE '%WITHOUT ROWID%'"),
			 1);
	assert_int_equal(raw_int(db, "SELECT count(*) FROM pragma_index_list('objects')"
				     " WHERE name = 'objects_key' AND \"unique\" = 1"),
			 1);
	sqlite3_close(db);
	pl_store_close(s);
}

static void test_newer_schema_refused(void **state)
{
	struct fixture *f = *state;
	pl_store *s = open_ok(f->loc, PL_STORE_CREATE);
	pl_store_close(s);
	sqlite3 *db = raw_open(f->path);
	raw_exec(db, "PRAGMA user_version = 7");
	sqlite3_close(db);
	expect_open_fails(f->loc, 0, PL_ERR_SCHEMA,
			  "store schema version 7 is newer than this "
			  "program (knows 2): upgrade parley");
	expect_open_fails(f->loc, PL_STORE_CREATE, PL_ERR_SCHEMA, "version 7");
	expect_open_fails(f->loc, PL_STORE_READONLY, PL_ERR_SCHEMA, "version 7");
}

static void test_older_schema(void **state)
{
	struct fixture *f = *state;
	pl_store *s = open_ok(f->loc, PL_STORE_CREATE);
	pl_store_close(s);
	/* Pretend step 1 is missing although its table exists: read-only
	 * cannot upgrade, and re-running the step fails cleanly. */
	sqlite3 *db = raw_open(f->path);
	raw_exec(db, "PRAGMA user_version = 0");
	sqlite3_close(db);
	expect_open_fails(f->loc, PL_STORE_READONLY, PL_ERR_SCHEMA, "older");
	expect_open_fails(f->loc, 0, PL_ERR_SCHEMA, "step 1");
	db = raw_open(f->path);
	assert_int_equal(raw_int(db, "PRAGMA user_version"), 0); /* rolled back */
	/* Without the table the step runs and the store opens. */
	raw_exec(db, "DROP TABLE objects");
	sqlite3_close(db);
	s = open_ok(f->loc, 0);
	int v = 0;
	assert_int_equal(pl_store_schema_version(s, &v), 0);
	assert_int_equal(v, 2);
	put_str(s, KIND_A, "k", "v");
	pl_store_close(s);
}

/* A fresh store at f of 200 rows "k%04d" = val, committed; left open. */
static pl_store *fill_k200(const struct fixture *f, const char *val)
{
	unlink(f->path);
	pl_store *s = open_ok(f->loc, PL_STORE_CREATE);
	char key[32];
	assert_int_equal(pl_store_begin(s), 0);
	for (int i = 0; i < 200; i++) {
		snprintf(key, sizeof(key), "k%04d", i);
		put_str(s, KIND_A, key, val);
	}
	assert_int_equal(pl_store_commit(s), 0);
	return s;
}

/* The closed store's file, its WAL copied into it first, open for damage. */
static FILE *open_checkpointed(const char *path)
{
	sqlite3 *db = raw_open(path);
	raw_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)");
	sqlite3_close(db);
	FILE *fp = fopen(path, "r+b");
	assert_non_null(fp);
	return fp;
}

struct in_order {
	int n;
	bool unordered;
	char last[32];
};

/* Count the keys of a walk and note one not above the one before it. */
static int in_order_cb(void *ctx, const char *key, const uint8_t *val, size_t len)
{
	struct in_order *o = ctx;
	(void)val;
	(void)len;
	if (o->n > 0 && strcmp(o->last, key) >= 0)
		o->unordered = true;
	snprintf(o->last, sizeof(o->last), "%s", key);
	o->n++;
	return 0;
}

/* A store of schema version 1 (objects WITHOUT ROWID), as written before
 * step 2, made with SQLite directly: n rows of kind KIND_A "k%05d" with
 * 400-byte values, and one of 100 KB (it spills onto overflow pages). */
static void make_v1_store(const char *path, int n)
{
	sqlite3 *db = raw_open(path);
	raw_exec(db, "PRAGMA journal_mode = WAL; PRAGMA application_id = 1347180849;"
		     " PRAGMA user_version = 1;"
		     " CREATE TABLE objects (kind INTEGER NOT NULL, key TEXT NOT NULL,"
		     " value BLOB NOT NULL, updated INTEGER NOT NULL DEFAULT (unixepoch()),"
		     " PRIMARY KEY (kind, key)) WITHOUT ROWID;");
	char sql[256];
	snprintf(sql, sizeof(sql),
		 "WITH RECURSIVE i(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM i WHERE x < %d)"
		 " INSERT INTO objects (kind, key, value, updated) SELECT %d, printf('k%%05d', x),"
		 " zeroblob(400), 1000 + x FROM i",
		 n - 1, KIND_A);
	raw_exec(db, sql);
	snprintf(sql, sizeof(sql),
		 "INSERT INTO objects (kind, key, value) VALUES (%d, 'big', zeroblob(100000))",
		 KIND_B);
	raw_exec(db, sql);
	sqlite3_close(db);
}

/* What make_v1_store wrote, read through s: found by key, listed in key
 * order, and both checks pass. */
static void expect_v1_readable(pl_store *s)
{
	assert_int_equal(pl_store_check(s, 0), 0);
	assert_int_equal(pl_store_check(s, PL_STORE_CHECK_FULL), 0);
	uint8_t *val = NULL;
	size_t len = 0;
	assert_int_equal(pl_store_get(s, KIND_A, "k02718", &val, &len), 0);
	assert_int_equal(len, 400);
	free(val);
	assert_int_equal(pl_store_get(s, KIND_B, "big", &val, &len), 0);
	assert_int_equal(len, 100000);
	free(val);
	struct in_order o = {0};
	assert_int_equal(pl_store_list(s, KIND_A, in_order_cb, &o), 0);
	assert_int_equal(o.n, 3000);
	assert_false(o.unordered);
	assert_string_equal(o.last, "k02999");
}

/* Schema step 2 on a store of version 1: every row, its value and its
 * updated time kept, found by key, in key order; the table a rowid table
 * with its unique index; both checks pass; the store writes as before.  A
 * step that fails leaves version 1 and its rows as they were. */
static void test_migrate_rowid(void **state)
{
	struct fixture *f = *state;
	make_v1_store(f->path, 3000);
	/* read-only (a node reading the registry the CLI writes): as it is */
	pl_store *s = open_ok(f->loc, PL_STORE_READONLY);
	expect_v1_readable(s);
	pl_store_close(s);
	/* the step fails (its new table's name is taken): nothing changes */
	sqlite3 *db = raw_open(f->path);
	raw_exec(db, "CREATE TABLE objects_rows (x)");
	sqlite3_close(db);
	expect_open_fails(f->loc, 0, PL_ERR_SCHEMA, "step 2");
	db = raw_open(f->path);
	assert_int_equal(raw_int(db, "PRAGMA user_version"), 1);
	assert_int_equal(raw_int(db, "SELECT count(*) FROM objects"), 3001);
	assert_int_equal(raw_int(db, "SELECT count(*) FROM sqlite_master WHERE name = 'objects'"
				     " AND sql LIKE '%WITHOUT ROWID%'"),
			 1);
	raw_exec(db, "DROP TABLE objects_rows");
	sqlite3_close(db);

	s = open_ok(f->loc, 0);
	int v = 0;
	assert_int_equal(pl_store_schema_version(s, &v), 0);
	assert_int_equal(v, 2);
	expect_v1_readable(s);
	put_str(s, KIND_A, "k00007", "new"); /* an upsert through the index */
	put_str(s, KIND_A, "k99999", "added");
	expect_str(s, KIND_A, "k00007", "new");
	expect_str(s, KIND_A, "k99999", "added");
	pl_store_close(s);

	db = raw_open(f->path);
	assert_int_equal(raw_int(db, "SELECT count(*) FROM objects"), 3002);
	assert_int_equal(raw_int(db, "SELECT updated FROM objects WHERE key = 'k02718'"), 3718);
	assert_int_equal(raw_int(db, "SELECT count(*) FROM sqlite_master WHERE sql LIKE "
				     "'%WITHOUT ROWID%' OR name = 'objects_rows'"),
			 0);
	assert_int_equal(raw_int(db, "SELECT count(*) FROM pragma_index_list('objects')"
				     " WHERE name = 'objects_key' AND \"unique\" = 1"),
			 1);
	sqlite3_close(db);

	/* A version-1 store read as it is keeps its own check: one bit of the
	 * leaf's copy of key "k01000" flipped ("k00000") is out of key order. */
	unlink(f->path);
	make_v1_store(f->path, 3000);
	FILE *fp = open_checkpointed(f->path);
	static uint8_t file[4 << 20];
	size_t flen = fread(file, 1, sizeof(file), fp);
	assert_true(flen < sizeof(file));
	long last = -1;
	for (size_t i = 0; i + 6 <= flen; i++)
		if (memcmp(file + i, "k01000", 6) == 0)
			last = (long)i;
	assert_true(last >= 0);
	assert_int_equal(fseek(fp, last + 2, SEEK_SET), 0);
	assert_int_equal(fputc('0', fp), '0');
	assert_int_equal(fclose(fp), 0);
	s = open_ok(f->loc, PL_STORE_READONLY);
	assert_int_equal(pl_store_check(s, 0), PL_ERR_CORRUPT);
	assert_non_null(strstr(pl_err_detail(), "\"k00000\" of kind 7 is out of key order"));
	pl_store_close(s);
}

static void test_damaged_schema(void **state)
{
	struct fixture *f = *state;
	pl_store *s = open_ok(f->loc, PL_STORE_CREATE);
	pl_store_close(s);
	sqlite3 *db = raw_open(f->path);
	raw_exec(db, "DROP TABLE objects");
	sqlite3_close(db);
	expect_open_fails(f->loc, 0, PL_ERR_SCHEMA, "damaged");
}

static void test_not_sqlite(void **state)
{
	struct fixture *f = *state;
	uint8_t junk[4096];
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)(i * 131 + 17);
	write_file(f->path, junk, sizeof(junk));
	expect_open_fails(f->loc, 0, PL_ERR_SCHEMA, "not a Parley store");
	expect_open_fails(f->loc, PL_STORE_CREATE, PL_ERR_SCHEMA, "not a Parley store");
	expect_open_fails(f->loc, PL_STORE_READONLY, PL_ERR_SCHEMA, "not a Parley store");

	/* The file was not touched. */
	FILE *fp = fopen(f->path, "rb");
	assert_non_null(fp);
	uint8_t back[sizeof(junk) + 1];
	assert_int_equal(fread(back, 1, sizeof(back), fp), sizeof(junk));
	fclose(fp);
	assert_memory_equal(back, junk, sizeof(junk));

	/* A short text file too. */
	write_file(f->path, "hello\n", 6);
	expect_open_fails(f->loc, PL_STORE_CREATE, PL_ERR_SCHEMA, "not a Parley store");
}

static void test_foreign_database(void **state)
{
	struct fixture *f = *state;
	sqlite3 *db = raw_open(f->path);
	raw_exec(db, "PRAGMA application_id = 305419896; CREATE TABLE t (x)");
	sqlite3_close(db);
	expect_open_fails(f->loc, PL_STORE_CREATE, PL_ERR_SCHEMA, "not a Parley store");
	assert_non_null(strstr(pl_err_detail(), "0x12345678"));

	/* No application_id but tables of its own: another program's too. */
	db = raw_open(f->path);
	raw_exec(db, "PRAGMA application_id = 0");
	sqlite3_close(db);
	expect_open_fails(f->loc, PL_STORE_CREATE, PL_ERR_SCHEMA, "another program");

	/* Neither was changed: no objects table, not switched to WAL. */
	db = raw_open(f->path);
	assert_int_equal(raw_int(db, "SELECT count(*) FROM sqlite_master WHERE name = 'objects'"),
			 0);
	sqlite3_stmt *st = NULL;
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), "delete");
	sqlite3_finalize(st);
	sqlite3_close(db);
}

/* ------------------------------------------------------------------ locking */

static void test_busy(void **state)
{
	struct fixture *f = *state;
	pl_store *s = open_opts(f, "busy_ms=100");
	put_str(s, KIND_A, "k", "v");

	/* Another connection takes the write lock and keeps it. */
	sqlite3 *db = raw_open(f->path);
	raw_exec(db, "BEGIN IMMEDIATE; INSERT INTO objects (kind, key, value)"
		     " VALUES (7, 'raw', x'00')");

	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(pl_store_put(s, KIND_A, "k2", (const uint8_t *)"x", 1, 0), PL_ERR_BUSY);
	long ms = elapsed_ms(&t0);
	assert_true(ms >= 80);  /* it did wait for the lock */
	assert_true(ms < 2500); /* but busy_ms, not the 5 s default */
	assert_non_null(strstr(pl_err_detail(), "100 ms"));

	assert_int_equal(pl_store_begin(s), PL_ERR_BUSY);
	assert_int_equal(pl_store_commit(s), PL_ERR_INVALID); /* begin failed: no transaction */
	assert_int_equal(pl_store_del(s, KIND_A, "k"), PL_ERR_BUSY);
	/* Readers are not blocked in WAL mode, and see only committed data. */
	expect_str(s, KIND_A, "k", "v");
	expect_absent(s, KIND_A, "raw");

	raw_exec(db, "COMMIT");
	sqlite3_close(db);
	put_str(s, KIND_A, "k2", "x");
	expect_str(s, KIND_A, "k2", "x");
	uint8_t *v = NULL;
	size_t n = 0;
	assert_int_equal(pl_store_get(s, KIND_A, "raw", &v, &n), 0);
	assert_int_equal(n, 1);
	free(v);
	pl_store_close(s);
}

static void test_store_holds_lock_in_transaction(void **state)
{
	struct fixture *f = *state;
	pl_store *s = open_ok(f->loc, PL_STORE_CREATE);
	assert_int_equal(pl_store_begin(s), 0); /* IMMEDIATE: the write lock is ours now */
	sqlite3 *db = raw_open(f->path);
	char *msg = NULL;
	int rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, &msg);
	sqlite3_free(msg);
	assert_int_equal(rc & 0xff, SQLITE_BUSY);
	assert_int_equal(pl_store_rollback(s), 0);
	raw_exec(db, "BEGIN IMMEDIATE; ROLLBACK");
	sqlite3_close(db);
	pl_store_close(s);
}

/* A fresh store of 200 rows "k%04d" = "small"; then "k0100" becomes
 * "k0000" (one bit) in the table's row (in_table: followed by its value) or
 * else in the key index's entries (not followed by it), with SQLite closed;
 * both checks must find it, the quick one saying want. */
static void flip_key_and_check(const struct fixture *f, bool in_table, const char *want)
{
	pl_store *s = fill_k200(f, "small");
	pl_store_close(s);
	FILE *fp = open_checkpointed(f->path);
	static uint8_t file[1 << 20];
	size_t flen = fread(file, 1, sizeof(file), fp);
	int flipped = 0;
	for (size_t i = 0; i + 10 <= flen; i++) {
		if (memcmp(file + i, "k0100", 5) != 0 ||
		    (memcmp(file + i + 5, "small", 5) == 0) != in_table)
			continue;
		assert_int_equal(fseek(fp, (long)i + 2, SEEK_SET), 0);
		assert_int_equal(fputc('0', fp), '0'); /* '1' (0x31) -> '0' (0x30) */
		flipped++;
	}
	assert_true(flipped >= 1);
	assert_int_equal(fclose(fp), 0);
	s = open_ok(f->loc, 0);
	assert_int_equal(pl_store_check(s, 0), PL_ERR_CORRUPT);
	if (!strstr(pl_err_detail(), want))
		print_error("quick check: %s\n", pl_err_detail());
	assert_non_null(strstr(pl_err_detail(), want));
	assert_int_equal(pl_store_check(s, PL_STORE_CHECK_FULL), PL_ERR_CORRUPT);
	pl_store_close(s);
}

/* pl_store_check: an intact store passes both levels; a page whose header
 * is destroyed fails with PL_ERR_CORRUPT and SQLite's reason; a version 2
 * backend has no check. */
static void test_check(void **state)
{
	struct fixture *f = *state;
	char val[900];
	memset(val, 'v', sizeof(val) - 1);
	val[sizeof(val) - 1] = '\0';
	pl_store *s = fill_k200(f, val);
	assert_int_equal(pl_store_check(s, 0), 0);
	assert_int_equal(pl_store_check(s, PL_STORE_CHECK_FULL), 0);
	assert_int_equal(pl_store_begin(s), 0);
	assert_int_equal(pl_store_check(s, 0), PL_ERR_INVALID); /* not inside a transaction */
	assert_int_equal(pl_store_rollback(s), 0);
	pl_store_close(s);

	/* Page 10 (a leaf of the objects table, past the schema pages): its
	 * page-type byte becomes one SQLite does not know. */
	FILE *fp = open_checkpointed(f->path);
	long page = 4096;
	assert_int_equal(fseek(fp, 9 * page, SEEK_SET), 0);
	assert_int_equal(fputc(0x7f, fp), 0x7f);
	assert_int_equal(fclose(fp), 0);
	s = open_ok(f->loc, 0);
	assert_int_equal(pl_store_check(s, 0), PL_ERR_CORRUPT);
	assert_non_null(strstr(pl_err_detail(), "damaged"));
	assert_int_equal(pl_store_check(s, PL_STORE_CHECK_FULL), PL_ERR_CORRUPT);
	pl_store_close(s);

	/* One bit of one key flipped ("k0100" filed as "k0000"), in the table's
	 * row and then in the key index's entry: quick_check passes both; the
	 * quick check finds the table and its index disagreeing, then the index
	 * out of key order.  integrity_check finds both. */
	flip_key_and_check(f, true, "is not the one its key index files it under");
	flip_key_and_check(f, false, "\"k0000\" of kind 7 is out of key order");

	pl_store_methods m = pl_store_sqlite_methods;
	m.version = 2;
	m.check = NULL;
	s = NULL;
	assert_int_equal(pl_store_open(f->path, 0, &m, &s), 0);
	assert_int_equal(pl_store_check(s, 0), PL_ERR_INVALID);
	pl_store_close(s);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_create_reopen),
	    T(test_put_get_del),
	    T(test_kinds_are_separate),
	    T(test_list_order),
	    T(test_list_stops_early),
	    T(test_range_and_del_range),
	    T(test_range_stops_at_its_bound),
	    T(test_list_callback_may_only_read),
	    T(test_no_replace),
	    T(test_commit_persists),
	    T(test_rollback_discards),
	    T(test_close_rolls_back),
	    T(test_transaction_misuse),
	    T(test_limits),
	    T(test_open_missing),
	    T(test_open_arguments),
	    T(test_location_syntax),
	    T(test_file_prefix_is_not_a_uri),
	    T(test_methods_table),
	    T(test_readonly),
	    T(test_checkpoint_thread),
	    T(test_checkpoint_wal_bounded),
	    T(test_checkpoint_reader),
	    T(test_checkpoint_thread_fails),
	    T(test_defer_sync),
	    T(test_wsync_fails),
	    T(test_sqlite_settings),
	    T(test_newer_schema_refused),
	    T(test_older_schema),
	    T(test_migrate_rowid),
	    T(test_damaged_schema),
	    T(test_not_sqlite),
	    T(test_foreign_database),
	    T(test_busy),
	    T(test_store_holds_lock_in_transaction),
	    T(test_check),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
