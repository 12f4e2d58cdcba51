/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests of the fault-injecting store backend (lib/store/fault.c) over the
 * real SQLite backend: with no plan it is a transparent wrapper; an I/O
 * error or a full disk at write operation N = 1, 2, 3, ... of a commit
 * leaves nothing of that transaction behind; a power failure at a chosen
 * commit drops, tears or scatters that commit's writes and kills the store,
 * and a "lying" disk acknowledges the lost commit — what the node's fault
 * tests use as their control.  What survives is always checked by
 * reopening the file with the plain SQLite backend.
 *
 * Each test gets a fresh folder under $PARLEY_TEST_TMP (or /tmp).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "parley/err.h"
#include "parley/store.h"
#include "store/fault.h"

#define KIND 7u

struct fixture {
	char dir[512];
	char path[600];
};

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
	snprintf(f->dir, sizeof(f->dir), "%s/store-fault-XXXXXX", base);
	if (!mkdtemp(f->dir)) {
		free(f);
		return -1;
	}
	snprintf(f->path, sizeof(f->path), "%s/node.db", f->dir);
	pl_store_fault_set_plan(NULL);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	DIR *d = opendir(f->dir);
	if (d) {
		struct dirent *e;
		while ((e = readdir(d)) != NULL) {
			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
				continue;
			char p[1024];
			snprintf(p, sizeof(p), "%s/%s", f->dir, e->d_name);
			unlink(p);
		}
		closedir(d);
	}
	rmdir(f->dir);
	free(f);
	pl_store_fault_set_plan(NULL);
	return 0;
}

static pl_store *open_fault(const struct fixture *f, const pl_store_fault_plan *plan)
{
	pl_store_fault_set_plan(plan);
	pl_store *s = NULL;
	assert_int_equal(pl_store_open(f->path, PL_STORE_CREATE, &pl_store_fault_methods, &s), 0);
	return s;
}

/* The file as the plain SQLite backend sees it. */
static pl_store *open_plain(const struct fixture *f)
{
	pl_store *s = NULL;
	assert_int_equal(pl_store_open(f->path, PL_STORE_CREATE, NULL, &s), 0);
	return s;
}

static void key_of(char out[32], int i)
{
	snprintf(out, 32, "k%03d", i);
}

static int put_i(pl_store *s, int i)
{
	char k[32];
	key_of(k, i);
	return pl_store_put(s, KIND, k, (const uint8_t *)k, strlen(k), 0);
}

static bool has(pl_store *s, int i)
{
	char k[32];
	key_of(k, i);
	uint8_t *v = NULL;
	size_t n = 0;
	int rc = pl_store_get(s, KIND, k, &v, &n);
	if (rc == 0) {
		assert_int_equal(n, strlen(k));
		assert_memory_equal(v, k, n);
	} else {
		assert_int_equal(rc, PL_ERR_NOT_FOUND);
	}
	free(v);
	return rc == 0;
}

static int count_cb(void *ctx, const char *key, const uint8_t *val, size_t len)
{
	(void)key;
	(void)val;
	(void)len;
	(*(int *)ctx)++;
	return 0;
}

static int count(pl_store *s)
{
	int n = 0;
	assert_int_equal(pl_store_list(s, KIND, count_cb, &n), 0);
	return n;
}

/* Commit keys [from, to) in one transaction; the result of the commit. */
static int commit_keys(pl_store *s, int from, int to)
{
	int rc = pl_store_begin(s);
	for (int i = from; !rc && i < to; i++)
		rc = put_i(s, i);
	if (rc) {
		(void)pl_store_rollback(s);
		return rc;
	}
	return pl_store_commit(s);
}

/* ---------------------------------------------------------------- tests */

static void test_transparent(void **state)
{
	struct fixture *f = *state;
	pl_store *s = open_fault(f, NULL);
	assert_string_equal(pl_store_backend_name(s), "fault");
	assert_int_equal(commit_keys(s, 0, 10), 0);
	assert_int_equal(put_i(s, 10), 0); /* outside a transaction */
	assert_int_equal(pl_store_del(s, KIND, "k003"), 0);
	uint64_t gone = 0;
	assert_int_equal(pl_store_del_range(s, KIND, "k005", "k007", &gone), 0);
	assert_int_equal(gone, 2);
	int n = 0;
	assert_int_equal(pl_store_range(s, KIND, "k000", NULL, 3, count_cb, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(count(s), 8);
	/* a rolled-back transaction leaves nothing */
	assert_int_equal(pl_store_begin(s), 0);
	assert_int_equal(put_i(s, 20), 0);
	assert_true(has(s, 20)); /* read your writes */
	assert_int_equal(pl_store_rollback(s), 0);
	assert_false(has(s, 20));
	pl_store_fault_stats st;
	pl_store_fault_get_stats(&st);
	assert_int_equal(st.failed, 0);
	assert_int_equal(st.dropped, 0);
	assert_false(st.dead);
	/* 10 puts + commit, put + commit, del + commit, del_range + commit, put */
	assert_int_equal(st.writes, 18);
	pl_store_close(s);

	s = open_plain(f);
	assert_int_equal(count(s), 8);
	assert_true(has(s, 10));
	assert_false(has(s, 3));
	assert_false(has(s, 5));
	pl_store_close(s);
}

/* An I/O error at write operation N of a commit of 3 puts (N = 1..4, the
 * 4th is the commit): that transaction leaves nothing; the next works. */
static void test_io_error_at_each_operation(void **state)
{
	struct fixture *f = *state;
	for (uint64_t n = 1; n <= 4; n++) {
		char dir_db[700];
		snprintf(dir_db, sizeof(dir_db), "%s", f->path);
		unlink(dir_db);
		pl_store_fault_plan plan = {.fail_at = 3 + n}; /* after the first commit's 3 ops */
		pl_store *s = open_fault(f, &plan);
		assert_int_equal(commit_keys(s, 0, 2), 0); /* ops 1..3 */
		pl_err_clear_detail();
		int rc = commit_keys(s, 2, 5);
		assert_int_equal(rc, PL_ERR_IO);
		assert_non_null(strstr(pl_err_detail(), "injected I/O error at write operation"));
		assert_false(has(s, 2));
		assert_false(has(s, 3));
		assert_false(has(s, 4));
		/* one-shot: the next transaction commits */
		assert_int_equal(commit_keys(s, 5, 7), 0);
		pl_store_fault_stats st;
		pl_store_fault_get_stats(&st);
		assert_int_equal(st.failed, 1);
		pl_store_close(s);

		s = open_plain(f);
		assert_int_equal(count(s), 4);
		assert_true(has(s, 0) && has(s, 1) && has(s, 5) && has(s, 6));
		pl_store_close(s);
	}
}

/* A full disk: from operation N on every write fails, with the plan's
 * code; reads go on working and what was committed before stays. */
static void test_disk_full(void **state)
{
	struct fixture *f = *state;
	pl_store_fault_plan plan = {.fail_at = 5, .persistent = true, .error = PL_ERR_STORE};
	pl_store *s = open_fault(f, &plan);
	assert_int_equal(commit_keys(s, 0, 3), 0); /* ops 1..4 */
	for (int round = 0; round < 3; round++) {
		pl_err_clear_detail();
		assert_int_equal(commit_keys(s, 10, 12), PL_ERR_STORE);
		assert_non_null(strstr(pl_err_detail(), "disk full"));
	}
	assert_int_equal(put_i(s, 20), PL_ERR_STORE);
	assert_int_equal(pl_store_del(s, KIND, "k000"), PL_ERR_STORE);
	assert_int_equal(count(s), 3);
	assert_true(has(s, 2));
	pl_store_close(s);

	s = open_plain(f);
	assert_int_equal(count(s), 3);
	pl_store_close(s);
}

/* Power lost at commit 2 of an honest disk: commit 2 fails, the store is
 * dead, and after reopening commit 1 is there and commit 2 is not. */
static void test_power_loss_honest(void **state)
{
	struct fixture *f = *state;
	pl_store_fault_plan plan = {.power_at = 2, .power = PL_STORE_FAULT_LOSE_ALL};
	pl_store *s = open_fault(f, &plan);
	assert_int_equal(commit_keys(s, 0, 4), 0);
	assert_int_equal(commit_keys(s, 4, 8), PL_ERR_IO);
	assert_int_equal(pl_store_begin(s), PL_ERR_IO);
	uint8_t *v = NULL;
	size_t n = 0;
	assert_int_equal(pl_store_get(s, KIND, "k000", &v, &n), PL_ERR_IO);
	pl_store_fault_stats st;
	pl_store_fault_get_stats(&st);
	assert_true(st.dead);
	assert_int_equal(st.dropped, 4);
	pl_store_close(s);

	s = open_plain(f);
	assert_int_equal(count(s), 4);
	assert_true(has(s, 3));
	assert_false(has(s, 4));
	pl_store_close(s);
}

/* The control: a disk that acknowledges before it syncs.  Commit 2 returns
 * 0 — the caller would acknowledge — and yet none of it is on disk. */
static void test_power_loss_lying(void **state)
{
	struct fixture *f = *state;
	pl_store_fault_plan plan = {.power_at = 2, .power = PL_STORE_FAULT_LOSE_ALL, .lying = true};
	pl_store *s = open_fault(f, &plan);
	assert_int_equal(commit_keys(s, 0, 4), 0);
	assert_int_equal(commit_keys(s, 4, 8), 0); /* "durable" */
	pl_store_close(s);

	s = open_plain(f);
	assert_int_equal(count(s), 4);
	for (int i = 4; i < 8; i++)
		assert_false(has(s, i));
	pl_store_close(s);
}

/* A torn commit: exactly the first half of its writes survives. */
static void test_power_loss_torn(void **state)
{
	struct fixture *f = *state;
	pl_store_fault_plan plan = {.power_at = 1, .power = PL_STORE_FAULT_TORN};
	pl_store *s = open_fault(f, &plan);
	assert_int_equal(commit_keys(s, 0, 6), PL_ERR_IO);
	pl_store_fault_stats st;
	pl_store_fault_get_stats(&st);
	assert_int_equal(st.dropped, 3);
	pl_store_close(s);

	s = open_plain(f);
	assert_int_equal(count(s), 3);
	assert_true(has(s, 0) && has(s, 1) && has(s, 2));
	assert_false(has(s, 3) || has(s, 4) || has(s, 5));
	pl_store_close(s);
}

/* Scattered writes: a subset survives, the same one for the same seed,
 * and (for this seed) a later write without an earlier one. */
static void test_power_loss_scatter(void **state)
{
	struct fixture *f = *state;
	bool first[16] = {false};
	for (int run = 0; run < 2; run++) {
		unlink(f->path);
		pl_store_fault_plan plan = {
		    .power_at = 1, .power = PL_STORE_FAULT_SCATTER, .seed = 42};
		pl_store *s = open_fault(f, &plan);
		assert_int_equal(commit_keys(s, 0, 16), PL_ERR_IO);
		pl_store_close(s);
		s = open_plain(f);
		int kept = 0;
		bool gap_then_kept = false, seen_gap = false;
		for (int i = 0; i < 16; i++) {
			bool h = has(s, i);
			if (run == 0)
				first[i] = h;
			else
				assert_true(first[i] == h);
			kept += h;
			gap_then_kept |= seen_gap && h;
			seen_gap |= !h;
		}
		assert_int_equal(count(s), kept);
		assert_true(kept > 0 && kept < 16);
		assert_true(gap_then_kept);
		pl_store_close(s);
	}
}

/* A write outside a transaction is its own transaction: failing its
 * commit (operation 2) leaves nothing. */
static void test_autocommit_failure(void **state)
{
	struct fixture *f = *state;
	pl_store_fault_plan plan = {.fail_at = 2};
	pl_store *s = open_fault(f, &plan);
	assert_int_equal(put_i(s, 1), PL_ERR_IO);
	assert_false(has(s, 1));
	assert_int_equal(put_i(s, 2), 0);
	pl_store_close(s);
	s = open_plain(f);
	assert_false(has(s, 1));
	assert_true(has(s, 2));
	pl_store_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_transparent, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_io_error_at_each_operation, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_disk_full, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_power_loss_honest, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_power_loss_lying, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_power_loss_torn, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_power_loss_scatter, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_autocommit_failure, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
