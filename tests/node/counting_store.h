/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A node store whose reads and writes are counted: the SQLite backend with
 * its get, range and put methods wrapped, so that a test can say how many
 * reached the store (node/test_tlog.c: proofs read O(log n) rows; node/test_nstore.c:
 * what is kept in memory reads nothing).  One per test program.
 */
#ifndef PARLEY_TESTS_COUNTING_STORE_H
#define PARLEY_TESTS_COUNTING_STORE_H

#include "nstore.h"
#include "parley/store.h"

static unsigned long reads;  /* get and range calls that reached the backend */
static unsigned long writes; /* put calls that did */
static pl_store_methods counting;

static int counting_get(pl_store_backend *b, uint32_t kind, const char *key, uint8_t **val,
			size_t *len)
{
	reads++;
	return pl_store_sqlite_methods.get(b, kind, key, val, len);
}

static int counting_range(pl_store_backend *b, uint32_t kind, const char *from, const char *to,
			  size_t limit, pl_store_list_cb cb, void *ctx)
{
	reads++;
	return pl_store_sqlite_methods.range(b, kind, from, to, limit, cb, ctx);
}

static int counting_put(pl_store_backend *b, uint32_t kind, const char *key, const uint8_t *val,
			size_t len, unsigned flags)
{
	writes++;
	return pl_store_sqlite_methods.put(b, kind, key, val, len, flags);
}

/* The store at location, its reads counted in `reads`, its writes in `writes`. */
static nstore *open_counting_at(const char *location)
{
	counting = pl_store_sqlite_methods;
	counting.get = counting_get;
	counting.range = counting_range;
	counting.put = counting_put;
	nstore *s = NULL;
	assert_int_equal(nstore_open_with(location, &counting, &s), 0);
	return s;
}

#endif
