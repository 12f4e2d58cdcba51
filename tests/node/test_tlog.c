/* SPDX-License-Identifier: Apache-2.0 */
/*
 * node/tlog: the transcript on the node store gives the roots and proofs of
 * lib/transcript's in-memory tree at every size, survives a reopen and a
 * rollback, and reads O(log n) rows per root or proof (counted through the
 * store interface: at 10^5 real entries and at 10^6 on a synthetic store),
 * fewer when the handle remembers the hashes (test_memory).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "parley/err.h"
#include "parley/store.h"
#include "parley/transcript.h"
#include "tlog.h"
#include "counting_store.h"

#define H PL_HASH_BYTES

static char dir[512], path[600];

static int setup(void **state)
{
	(void)state;
	const char *base = getenv("PARLEY_TEST_TMP");
	if (base && *base) {
		char cmd[600];
		snprintf(cmd, sizeof(cmd), "mkdir -p '%s'", base);
		if (system(cmd) != 0)
			return -1;
	}
	snprintf(dir, sizeof(dir), "%s/tlog.XXXXXX", base && *base ? base : "/tmp");
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/node.db", dir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[700];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* ---------------------------------------------------------------- counting store */

static nstore *open_counting(void)
{
	return open_counting_at(path);
}

/* ceil(log2 n) for n >= 1 */
static unsigned clog2(uint64_t n)
{
	unsigned k = 0;
	while (((uint64_t)1 << k) < n)
		k++;
	return k;
}

/* ---------------------------------------------------------------- entries */

/* Entry i: a few bytes of varying length. */
static size_t make_obj(uint8_t *buf, uint64_t i)
{
	int n = snprintf((char *)buf, 64, "entry %llu", (unsigned long long)i);
	size_t len = (size_t)n + (size_t)(i % 7);
	memset(buf + n, 'x', i % 7);
	return len;
}

/* Append entry i to the log and (type byte first) to the reference tree. */
static void append_both(nstore *s, pl_merkle_mem *t, uint64_t i)
{
	uint8_t obj[80], e[81];
	size_t len = make_obj(obj, i);
	int type = (int)(i % 5) + 1;
	uint64_t index = 99;
	assert_int_equal(tlog_append(s, type, obj, len, &index), 0);
	assert_int_equal(index, i);
	e[0] = (uint8_t)type;
	memcpy(e + 1, obj, len);
	assert_int_equal(pl_merkle_mem_append(t, e, len + 1), 0);
}

static void test_roots_match_memory_tree(void **state)
{
	(void)state;
	nstore *s = NULL;
	assert_int_equal(nstore_open(path, &s), 0);
	pl_merkle_mem *t = pl_merkle_mem_new();
	assert_non_null(t);
	uint64_t size = 42;
	assert_int_equal(tlog_size(s, &size), 0);
	assert_int_equal(size, 0);
	uint8_t a[H], b[H];
	assert_int_equal(tlog_root(s, 0, a), 0);
	pl_merkle_empty_root(b);
	assert_memory_equal(a, b, H);
	assert_int_equal(tlog_root(s, 1, a), PL_ERR_NOT_FOUND);

	for (uint64_t i = 0; i < 300; i++) {
		if (i == 150) { /* half in one transaction, half one by one, a reopen between */
			assert_int_equal(nstore_commit(s), 0);
			nstore_close(s);
			assert_int_equal(nstore_open(path, &s), 0);
		}
		if (i == 0)
			assert_int_equal(nstore_begin(s), 0);
		append_both(s, t, i);
		assert_int_equal(tlog_root(s, i + 1, a), 0);
		assert_int_equal(pl_merkle_root(pl_merkle_mem_get, t, i + 1, b), 0);
		assert_memory_equal(a, b, H);
	}
	/* every size up to 300, after a reopen */
	nstore_close(s);
	assert_int_equal(nstore_open(path, &s), 0);
	assert_int_equal(tlog_size(s, &size), 0);
	assert_int_equal(size, 300);
	for (uint64_t n = 0; n <= 300; n++) {
		assert_int_equal(tlog_root(s, n, a), 0);
		assert_int_equal(pl_merkle_root(pl_merkle_mem_get, t, n, b), 0);
		assert_memory_equal(a, b, H);
	}
	/* the stored entries are the type byte and the object */
	uint8_t *e = NULL, obj[80];
	size_t len = 0;
	assert_int_equal(tlog_entry(s, 123, &e, &len), 0);
	size_t olen = make_obj(obj, 123);
	assert_int_equal(len, olen + 1);
	assert_int_equal(e[0], 123 % 5 + 1);
	assert_memory_equal(e + 1, obj, olen);
	free(e);
	assert_int_equal(tlog_entry(s, 300, &e, &len), PL_ERR_NOT_FOUND);
	/* bad entries are refused before anything is written */
	assert_int_equal(tlog_append(s, 0, obj, 1, NULL), PL_ERR_INVALID);
	assert_int_equal(tlog_append(s, 256, obj, 1, NULL), PL_ERR_INVALID);
	assert_int_equal(tlog_size(s, &size), 0);
	assert_int_equal(size, 300);
	pl_merkle_mem_free(t);
	nstore_close(s);
}

struct keys {
	char key[16][32];
	size_t n;
};

static int keys_cb(void *ctx, const char *key, const uint8_t *v, size_t len)
{
	(void)v;
	(void)len;
	struct keys *k = ctx;
	if (k->n < 16)
		snprintf(k->key[k->n], sizeof(k->key[0]), "%s", key);
	k->n++;
	return 0;
}

/* Move every hash row to its key in the layout of transcripts begun before
 * the night of 2026-11-27, "%02 level/%020 index". */
static int to_old_cb(void *ctx, const char *key, const uint8_t *v, size_t len)
{
	nstore *s = ctx;
	unsigned long long end = 0;
	unsigned level = 0;
	assert_int_equal(sscanf(key, "%20llu/%2u", &end, &level), 2);
	char old[32];
	snprintf(old, sizeof(old), "%02u/%020llu", level, (end + 1) / (1ULL << level) - 1);
	assert_int_equal(nstore_obj_put(s, NSTORE_TLOG_HASH, old, v, len), 0);
	return nstore_obj_del(s, NSTORE_TLOG_HASH, key);
}

/*
 * The hashes one append writes are keyed by the subtree's last leaf, so
 * they sort together after everything before them (one append point); a
 * transcript begun before, with the hashes keyed by level, keeps its
 * layout: the same roots and proofs, and appends in its own layout.
 */
static void test_hash_layouts(void **state)
{
	(void)state;
	nstore *s = NULL;
	assert_int_equal(nstore_open(path, &s), 0);
	pl_merkle_mem *t = pl_merkle_mem_new();
	assert_non_null(t);
	for (uint64_t i = 0; i < 4; i++)
		append_both(s, t, i);
	struct keys k = {0};
	assert_int_equal(nstore_obj_list(s, NSTORE_TLOG_HASH, keys_cb, &k), 0);
	const char *want[] = {"00000000000000000000/00", "00000000000000000001/00",
			      "00000000000000000001/01", "00000000000000000002/00",
			      "00000000000000000003/00", "00000000000000000003/01",
			      "00000000000000000003/02"};
	assert_int_equal(k.n, 7);
	for (size_t i = 0; i < 7; i++)
		assert_string_equal(k.key[i], want[i]);
	/* rewrite it as an older store would have it, and reopen */
	struct keys cur = k;
	for (size_t i = 0; i < cur.n; i++) {
		uint8_t *v = NULL;
		size_t len = 0;
		assert_int_equal(nstore_obj_get(s, NSTORE_TLOG_HASH, cur.key[i], &v, &len), 0);
		assert_int_equal(to_old_cb(s, cur.key[i], v, len), 0);
		free(v);
	}
	nstore_close(s);
	assert_int_equal(nstore_open(path, &s), 0);
	uint8_t a[H], b[H], p[64 * H];
	size_t plen = 0;
	for (uint64_t i = 4; i < 9; i++)
		append_both(s, t, i);
	for (uint64_t n = 1; n <= 9; n++) {
		assert_int_equal(tlog_root(s, n, a), 0);
		assert_int_equal(pl_merkle_root(pl_merkle_mem_get, t, n, b), 0);
		assert_memory_equal(a, b, H);
	}
	assert_int_equal(tlog_prove_inclusion(s, 2, 9, p, &plen), 0);
	assert_true(plen > 0);
	struct keys old = {0};
	assert_int_equal(nstore_obj_list(s, NSTORE_TLOG_HASH, keys_cb, &old), 0);
	assert_int_equal(old.n, 16); /* 9 leaves, 4 + 2 + 1 parents */
	for (size_t i = 0; i < old.n; i++)
		assert_int_equal(old.key[i][2], '/'); /* "%02 level/..." only */
	pl_merkle_mem_free(t);
	nstore_close(s);
}

static void test_proofs_verify(void **state)
{
	(void)state;
	nstore *s = NULL;
	assert_int_equal(nstore_open(path, &s), 0);
	pl_merkle_mem *t = pl_merkle_mem_new();
	assert_int_equal(nstore_begin(s), 0);
	for (uint64_t i = 0; i < 300; i++)
		append_both(s, t, i);
	assert_int_equal(nstore_commit(s), 0);
	uint8_t p[PL_MERKLE_MAX_PROOF * H], q[PL_MERKLE_MAX_PROOF * H], root[H], old[H];
	size_t plen = 0, qlen = 0;
	for (uint64_t n = 1; n <= 300; n += (n < 20 ? 1 : 37)) {
		assert_int_equal(tlog_root(s, n, root), 0);
		for (uint64_t i = 0; i < n; i++) {
			uint8_t *e = NULL;
			size_t len = 0;
			assert_int_equal(tlog_entry(s, i, &e, &len), 0);
			uint8_t leaf[H];
			pl_merkle_leaf_hash(leaf, e, len);
			free(e);
			assert_int_equal(tlog_prove_inclusion(s, i, n, p, &plen), 0);
			assert_int_equal(pl_merkle_verify_inclusion(leaf, i, n, p, plen, root), 0);
			assert_int_equal(
			    pl_merkle_prove_inclusion(pl_merkle_mem_get, t, i, n, q, &qlen), 0);
			assert_int_equal(plen, qlen);
			assert_memory_equal(p, q, plen * H);
			if (plen) { /* a changed proof leads elsewhere */
				p[3] ^= 1;
				assert_int_equal(
				    pl_merkle_verify_inclusion(leaf, i, n, p, plen, root),
				    PL_ERR_CONFLICT);
			}
		}
		for (uint64_t m = 0; m <= n; m += (n < 20 ? 1 : 11)) {
			assert_int_equal(tlog_root(s, m, old), 0);
			assert_int_equal(tlog_prove_consistency(s, m, n, p, &plen), 0);
			assert_int_equal(pl_merkle_verify_consistency(m, n, p, plen, old, root), 0);
			assert_int_equal(
			    pl_merkle_prove_consistency(pl_merkle_mem_get, t, m, n, q, &qlen), 0);
			assert_int_equal(plen, qlen);
			assert_memory_equal(p, q, plen * H);
		}
	}
	/* beyond the log */
	assert_int_equal(tlog_prove_inclusion(s, 0, 301, p, &plen), PL_ERR_NOT_FOUND);
	assert_int_equal(tlog_prove_inclusion(s, 300, 300, p, &plen), PL_ERR_NOT_FOUND);
	assert_int_equal(tlog_prove_consistency(s, 10, 301, p, &plen), PL_ERR_NOT_FOUND);
	assert_int_equal(tlog_prove_consistency(s, 11, 10, p, &plen), PL_ERR_NOT_FOUND);
	pl_merkle_mem_free(t);
	nstore_close(s);
}

/* An append rolled back leaves size, root and rows as they were. */
static void test_rollback(void **state)
{
	(void)state;
	nstore *s = NULL;
	assert_int_equal(nstore_open(path, &s), 0);
	pl_merkle_mem *t = pl_merkle_mem_new();
	for (uint64_t i = 0; i < 7; i++)
		append_both(s, t, i);
	uint8_t before[H], after[H];
	assert_int_equal(tlog_root(s, 7, before), 0);
	assert_int_equal(nstore_begin(s), 0);
	uint8_t obj[] = "rolled back";
	assert_int_equal(tlog_append(s, 1, obj, sizeof(obj), NULL), 0); /* completes 3 subtrees */
	nstore_rollback(s);
	uint64_t size = 0;
	assert_int_equal(tlog_size(s, &size), 0);
	assert_int_equal(size, 7);
	assert_int_equal(tlog_root(s, 7, after), 0);
	assert_memory_equal(before, after, H);
	append_both(s, t, 7);
	assert_int_equal(tlog_root(s, 8, after), 0);
	assert_int_equal(pl_merkle_root(pl_merkle_mem_get, t, 8, before), 0);
	assert_memory_equal(before, after, H);
	pl_merkle_mem_free(t);
	nstore_close(s);
}

/* 10^5 real entries: appends read about two rows, roots and proofs O(log n). */
static void test_read_counts(void **state)
{
	(void)state;
	nstore *s = open_counting();
	const uint64_t n = 100000;
	reads = 0;
	assert_int_equal(nstore_begin(s), 0);
	for (uint64_t i = 0; i < n; i++) {
		uint8_t obj[80];
		size_t len = make_obj(obj, i);
		assert_int_equal(tlog_append(s, 1, obj, len, NULL), 0);
	}
	assert_int_equal(nstore_commit(s), 0);
	/* at most the size + the left siblings of the completed subtrees, 1 +
	 * (n - popcount(n)) / n, were the handle to remember nothing
	 * (test_memory counts what it does) */
	assert_true(reads <= 2 * n + 1);
	uint8_t root[H], p[PL_MERKLE_MAX_PROOF * H];
	size_t plen;
	unsigned bound = 2 * clog2(n) + 2; /* + 1 read of the size */
	/* Each count below starts from a handle that remembers nothing (a
	 * rollback, no transaction open, forgets it): the prover's own reads. */
	nstore_rollback(s);
	reads = 0;
	assert_int_equal(tlog_root(s, n, root), 0);
	assert_true(reads <= (unsigned long)__builtin_popcountll(n) + 1);
	const uint64_t idx[] = {0, 1, 4095, 65536, 77777, n - 1};
	for (size_t k = 0; k < sizeof(idx) / sizeof(idx[0]); k++) {
		nstore_rollback(s);
		reads = 0;
		assert_int_equal(tlog_prove_inclusion(s, idx[k], n, p, &plen), 0);
		assert_true(reads <= bound);
		nstore_rollback(s);
		reads = 0;
		assert_int_equal(tlog_prove_consistency(s, idx[k] + 1, n, p, &plen), 0);
		assert_true(reads <= bound + 1);
	}
	nstore_close(s);
}

/*
 * The handle remembers the hashes it wrote or read and the size: a run of
 * appends reads nothing after the first, writes the size once, at the
 * commit, and the proofs of the latest entries (what a checkpoint sends)
 * read a few rows, not a path each; a rollback forgets the size.
 */
static void test_memory(void **state)
{
	(void)state;
	nstore *s = open_counting();
	pl_merkle_mem *t = pl_merkle_mem_new();
	const uint64_t n = 1000;
	reads = writes = 0;
	assert_int_equal(nstore_begin(s), 0);
	for (uint64_t i = 0; i < n; i++)
		append_both(s, t, i);
	assert_int_equal(nstore_commit(s), 0);
	assert_int_equal(reads, 1); /* the size, not there yet */
	/* each entry, its leaf hash, the n - popcount(n) subtrees completed, the size */
	assert_int_equal(writes, 3 * n - (unsigned long)__builtin_popcountll(n) + 1);
	uint64_t size = 0;
	reads = 0;
	assert_int_equal(tlog_size(s, &size), 0); /* as committed, from memory */
	assert_int_equal(size, n);
	assert_int_equal(reads, 0);
	uint8_t root[H], want[H], p[PL_MERKLE_MAX_PROOF * H];
	size_t plen = 0;
	assert_int_equal(pl_merkle_root(pl_merkle_mem_get, t, n, want), 0);
	reads = 0;
	assert_int_equal(tlog_root(s, n, root), 0);
	assert_memory_equal(root, want, H);
	unsigned long root_reads = reads;
	/* proofs of the last 100 entries at size n: ~10 hashes each */
	reads = 0;
	for (uint64_t i = n - 100; i < n; i++)
		assert_int_equal(tlog_prove_inclusion(s, i, n, p, &plen), 0);
	unsigned long proof_reads = reads;
	print_message("memory: root %lu reads, 100 proofs %lu reads\n", root_reads, proof_reads);
	assert_true(root_reads <= 2);
	assert_true(proof_reads <= 100);
	/* a handle that remembers nothing reads a path (and the size) for the
	 * first, and keeps what it read for the others */
	nstore_close(s);
	s = open_counting();
	reads = 0;
	assert_int_equal(tlog_prove_inclusion(s, n - 100, n, p, &plen), 0);
	assert_true(reads >= clog2(n));
	reads = 0;
	for (uint64_t i = n - 99; i < n; i++)
		assert_int_equal(tlog_prove_inclusion(s, i, n, p, &plen), 0);
	print_message("memory: a new handle's 99 proofs after the first %lu reads\n", reads);
	assert_true(reads <= 3 * 99); /* each reads a leaf or two, not its path */
	/* a rollback forgets the size it set: read again, as committed */
	assert_int_equal(nstore_begin(s), 0);
	uint8_t obj[] = "rolled back";
	assert_int_equal(tlog_append(s, 1, obj, sizeof(obj), NULL), 0);
	assert_int_equal(tlog_size(s, &size), 0);
	assert_int_equal(size, n + 1);
	nstore_rollback(s);
	reads = 0;
	assert_int_equal(tlog_size(s, &size), 0);
	assert_int_equal(size, n);
	assert_int_equal(reads, 1);
	append_both(s, t, n);
	assert_int_equal(tlog_root(s, n + 1, root), 0);
	assert_int_equal(pl_merkle_root(pl_merkle_mem_get, t, n + 1, want), 0);
	assert_memory_equal(root, want, H);
	pl_merkle_mem_free(t);
	nstore_close(s);
}

/* ---------------------------------------------------------------- 10^6, synthetic */

/*
 * A store that holds a log of 10^6 entries without storing anything: the
 * size row says 1000000 and every hash row is SHA-256 of its key.  The
 * provers do not care whether the hashes form a tree; this counts how
 * many rows they read at that size.
 */
static unsigned long synth_reads;

static int synth_open(const char *location, unsigned flags, pl_store_backend **out)
{
	static int token;
	*out = (pl_store_backend *)&token;
	return 0;
}
static void synth_close(pl_store_backend *b)
{
}
static int synth_ok(pl_store_backend *b)
{
	return 0;
}
static int synth_schema(pl_store_backend *b, int *out)
{
	*out = 1;
	return 0;
}
static int synth_put(pl_store_backend *b, uint32_t kind, const char *key, const uint8_t *val,
		     size_t len, unsigned flags)
{
	return PL_ERR_STORE;
}
static int synth_get(pl_store_backend *b, uint32_t kind, const char *key, uint8_t **val,
		     size_t *len)
{
	synth_reads++;
	if (kind == NSTORE_TLOG_META && strcmp(key, "size") == 0) {
		*val = (uint8_t *)strdup("1000000");
		*len = 7;
		return *val ? 0 : PL_ERR_NOMEM;
	}
	if (kind != NSTORE_TLOG_HASH)
		return PL_ERR_NOT_FOUND;
	*val = malloc(H);
	if (!*val)
		return PL_ERR_NOMEM;
	pl_sha256(*val, (const uint8_t *)key, strlen(key));
	*len = H;
	return 0;
}
static int synth_del(pl_store_backend *b, uint32_t kind, const char *key)
{
	return PL_ERR_NOT_FOUND;
}
static int synth_list(pl_store_backend *b, uint32_t kind, pl_store_list_cb cb, void *ctx)
{
	synth_reads++;
	return 0;
}
static int synth_range(pl_store_backend *b, uint32_t kind, const char *from, const char *to,
		       size_t limit, pl_store_list_cb cb, void *ctx)
{
	synth_reads++;
	return 0;
}
static int synth_del_range(pl_store_backend *b, uint32_t kind, const char *from, const char *to,
			   uint64_t *deleted)
{
	return 0;
}

static const pl_store_methods synth = {
    .version = 2, /* no check: the node never asks this one */
    .name = "synthetic",
    .open = synth_open,
    .close = synth_close,
    .begin = synth_ok,
    .commit = synth_ok,
    .rollback = synth_ok,
    .schema_version = synth_schema,
    .put = synth_put,
    .get = synth_get,
    .del = synth_del,
    .list = synth_list,
    .range = synth_range,
    .del_range = synth_del_range,
};

static void test_read_counts_million(void **state)
{
	(void)state;
	nstore *s = NULL;
	assert_int_equal(nstore_open_with("synthetic", &synth, &s), 0);
	const uint64_t n = 1000000;
	uint64_t size = 0;
	assert_int_equal(tlog_size(s, &size), 0);
	assert_int_equal(size, n);
	uint8_t root[H], p[PL_MERKLE_MAX_PROOF * H];
	size_t plen = 0;
	/* the hashes' key layout is looked up once per store (the size and
	 * the first leaf's hash), not counted in what a root or proof reads */
	uint8_t h0[H];
	/* Each count starts from a handle that remembers nothing (a rollback,
	 * no transaction open, forgets it): the prover's own reads. */
	nstore_rollback(s);
	synth_reads = 0;
	assert_int_equal(tlog_get_hash(s, 0, 0, h0), 0);
	assert_int_equal(synth_reads, 3);
	nstore_rollback(s);
	synth_reads = 0;
	assert_int_equal(tlog_root(s, n, root), 0);
	assert_int_equal(synth_reads, 1 + __builtin_popcountll(n)); /* the size, one per subtree */
	unsigned long worst = 0;
	for (uint64_t i = 0; i < n; i += 9973) {
		nstore_rollback(s);
		synth_reads = 0;
		assert_int_equal(tlog_prove_inclusion(s, i, n, p, &plen), 0);
		assert_true(plen <= clog2(n));
		worst = synth_reads > worst ? synth_reads : worst;
		nstore_rollback(s);
		synth_reads = 0;
		assert_int_equal(tlog_prove_consistency(s, i + 1, n, p, &plen), 0);
		worst = synth_reads > worst ? synth_reads : worst;
	}
	/* 2 * 20 + 1 reads by the prover, + 1 of the size: not a rebuild (10^6) */
	assert_true(worst <= 2 * clog2(n) + 2);
	assert_true(worst >= clog2(n)); /* and it did read the tree */
	nstore_close(s);
}

/* ---------------------------------------------------------------- records */

static void test_records(void **state)
{
	(void)state;
	uint8_t *out = NULL;
	size_t len = 0;
	assert_int_equal(tlog_receipt_encode("islamabad", 4, 300, 1700000000, &out, &len), 0);
	/* {"at": 1700000000, "lane": 4, "peer": "islamabad", "upto": 300}, canonical */
	static const uint8_t want[] = {0xa4, 0x62, 'a', 't', 0x1a, 0x65, 0x53, 0xf1, 0x00, 0x64,
				       'l',  'a',  'n', 'e', 0x04, 0x64, 'p',  'e',  'e',  'r',
				       0x69, 'i',  's', 'l', 'a',  'm',  'a',  'b',  'a',  'd',
				       0x64, 'u',  'p', 't', 'o',  0x19, 0x01, 0x2c};
	assert_int_equal(len, sizeof(want));
	assert_memory_equal(out, want, len);
	free(out);

	uint8_t id[H];
	memset(id, 0xab, H);
	char reason[300];
	memset(reason, 'r', sizeof(reason) - 1);
	reason[sizeof(reason) - 1] = 0;
	assert_int_equal(tlog_refusal_encode("tehran", 2, 17, id, reason, 5, &out, &len), 0);
	tlog_refusal r;
	assert_int_equal(tlog_refusal_decode(out, len, &r), 0);
	assert_string_equal(r.peer, "tehran");
	assert_int_equal(r.lane, 2);
	assert_int_equal(r.lseq, 17);
	assert_memory_equal(r.id, id, H);
	assert_int_equal(strlen(r.reason), 200); /* cut */
	assert_int_equal(r.at, 5);
	/* truncated, and a receipt record, are not refusal records */
	assert_int_not_equal(tlog_refusal_decode(out, len - 1, &r), 0);
	free(out);
	assert_int_equal(tlog_receipt_encode("islamabad", 4, 300, 1, &out, &len), 0);
	assert_int_equal(tlog_refusal_decode(out, len, &r), PL_ERR_MALFORMED);
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_roots_match_memory_tree, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_proofs_verify, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_hash_layouts, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rollback, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_read_counts, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_memory, setup, teardown),
	    cmocka_unit_test(test_read_counts_million),
	    cmocka_unit_test(test_records),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
