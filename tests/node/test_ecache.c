/* SPDX-License-Identifier: Apache-2.0 */
/*
 * node/ecache: the envelopes indexed last, in memory.  What a rolled-back
 * transaction put is gone and what a committed one put stays; the bounds
 * (count, bytes) drop the oldest first, pending or not; ids that share a
 * bucket whatever the hash's key are all found, and dropping any of them
 * keeps the others; a copy handed out is the caller's.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ecache.h"

/* Id n: the first 8 bytes (what the bucket is drawn from) are shared by
 * every id of the same group. */
static void mkid(uint8_t id[PL_HASH_BYTES], unsigned group, unsigned n)
{
	memset(id, 0, PL_HASH_BYTES);
	id[0] = (uint8_t)group;
	id[30] = (uint8_t)(n >> 8);
	id[31] = (uint8_t)n;
}

static nstore_meta meta_at(uint64_t pos)
{
	nstore_meta m = {.pos = pos, .lane = 4, .seq = pos + 1};
	snprintf(m.ch, sizeof(m.ch), "fm");
	return m;
}

static void put(ecache *c, unsigned group, unsigned n, size_t len)
{
	uint8_t id[PL_HASH_BYTES], body[512];
	mkid(id, group, n);
	memset(body, (int)(n & 0xff), sizeof(body));
	nstore_meta m = meta_at(n);
	ecache_put(c, id, body, len, &m);
}

static bool held(ecache *c, unsigned group, unsigned n)
{
	uint8_t id[PL_HASH_BYTES];
	mkid(id, group, n);
	return ecache_get(c, id, NULL, NULL, NULL);
}

static void test_commit_and_rollback(void **state)
{
	(void)state;
	ecache *c = ecache_new(16, 1 << 20);
	assert_non_null(c);
	put(c, 0, 1, 10);
	put(c, 0, 2, 10);
	assert_true(held(c, 0, 1)); /* pending entries are answered... */
	ecache_rollback(c);
	assert_false(held(c, 0, 1)); /* ...and gone with their transaction */
	assert_false(held(c, 0, 2));

	put(c, 0, 3, 10);
	ecache_commit(c);
	put(c, 0, 4, 10);
	ecache_rollback(c);
	assert_true(held(c, 0, 3));
	assert_false(held(c, 0, 4));
	ecache_rollback(c); /* nothing pending: nothing dropped */
	assert_true(held(c, 0, 3));

	/* the copy and the metadata it was put with */
	uint8_t id[PL_HASH_BYTES], *buf = NULL;
	size_t len = 0;
	nstore_meta m;
	mkid(id, 0, 3);
	assert_true(ecache_get(c, id, &buf, &len, &m));
	assert_int_equal(len, 10);
	assert_int_equal(buf[9], 3);
	assert_int_equal(m.pos, 3);
	assert_string_equal(m.ch, "fm");
	buf[9] = 0x77; /* the caller's copy */
	free(buf);
	assert_true(ecache_get(c, id, &buf, &len, NULL));
	assert_int_equal(buf[9], 3);
	free(buf);

	/* an id held already is not put twice (and not taken back by a rollback) */
	put(c, 0, 3, 20);
	ecache_rollback(c);
	assert_true(ecache_get(c, id, NULL, &len, NULL));
	ecache_stats st;
	ecache_get_stats(c, &st);
	assert_int_equal(st.entries, 1);
	assert_int_equal(st.bytes, 10);
	assert_true(st.hits >= 5);
	assert_true(st.misses >= 3);
	ecache_free(c);
}

static void test_bounds(void **state)
{
	(void)state;
	/* by count: the oldest go */
	ecache *c = ecache_new(4, 1 << 20);
	assert_non_null(c);
	for (unsigned i = 1; i <= 6; i++)
		put(c, 0, i, 8);
	ecache_commit(c);
	assert_false(held(c, 0, 1));
	assert_false(held(c, 0, 2));
	for (unsigned i = 3; i <= 6; i++)
		assert_true(held(c, 0, i));

	/* pending entries pushed out by their own transaction: a rollback
	 * drops what is left of it and nothing older */
	for (unsigned i = 7; i <= 12; i++)
		put(c, 0, i, 8);
	ecache_rollback(c);
	ecache_stats st;
	ecache_get_stats(c, &st);
	assert_int_equal(st.entries, 0);
	assert_int_equal(st.bytes, 0);
	put(c, 0, 13, 8);
	ecache_commit(c);
	assert_true(held(c, 0, 13));
	ecache_free(c);

	/* by bytes: at most 1000, nothing above 250 kept */
	c = ecache_new(100, 1000);
	assert_non_null(c);
	put(c, 0, 1, 251);
	assert_false(held(c, 0, 1));
	for (unsigned i = 2; i <= 5; i++)
		put(c, 0, i, 250);
	ecache_get_stats(c, &st);
	assert_int_equal(st.bytes, 1000);
	put(c, 0, 6, 1);
	assert_false(held(c, 0, 2));
	assert_true(held(c, 0, 3));
	assert_true(held(c, 0, 6));
	ecache_get_stats(c, &st);
	assert_int_equal(st.bytes, 751);
	ecache_free(c); /* frees what it holds, pending or not (ASan) */

	assert_null(ecache_new(0, 100));
	assert_null(ecache_new(10, 0));
}

/* 300 ids in one bucket, whatever the key: each found, and dropping the
 * oldest ones (from the chain's far end) keeps the rest reachable. */
static void test_shared_bucket(void **state)
{
	(void)state;
	ecache *c = ecache_new(200, 1 << 20);
	assert_non_null(c);
	for (unsigned i = 0; i < 300; i++)
		put(c, 9, i, 4);
	ecache_commit(c);
	for (unsigned i = 0; i < 100; i++)
		assert_false(held(c, 9, i));
	for (unsigned i = 100; i < 300; i++)
		assert_true(held(c, 9, i));
	for (unsigned i = 300; i < 350; i++)
		put(c, 9, i, 4);
	ecache_rollback(c); /* dropped from the chain's near end */
	for (unsigned i = 150; i < 300; i++)
		assert_true(held(c, 9, i));
	assert_false(held(c, 9, 149)); /* pushed out before the rollback */
	assert_false(held(c, 9, 300));
	ecache_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_commit_and_rollback),
	    cmocka_unit_test(test_bounds),
	    cmocka_unit_test(test_shared_bucket),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
