/* SPDX-License-Identifier: Apache-2.0 */
/*
 * RFC 9162 Merkle trees: leaf and node hashing, roots, inclusion and
 * consistency proofs (generation and the RFC's iterative verification), and
 * an in-memory tree that keeps every perfect subtree hash.
 *
 * Provers read the tree only through a pl_merkle_get_fn, asking for perfect
 * subtrees, O(log n) of them per call: every node of the RFC tree is either
 * a perfect subtree or lies on the right edge of the tree, and a right-edge
 * node's hash is the right fold of the perfect subtrees that tile it.
 * Nothing here knows about storage; nothing here reads a clock.
 */
#include <stdlib.h>
#include <string.h>

#include "parley/crypto.h"
#include "parley/err.h"
#include "parley/transcript.h"

#define H PL_HASH_BYTES

/* ======================================== hashing */

void pl_merkle_leaf_hash(uint8_t out[H], const uint8_t *entry, size_t len)
{
	static const uint8_t prefix = 0x00;
	pl_sha256_ctx c;
	pl_sha256_init(&c);
	pl_sha256_update(&c, &prefix, 1);
	pl_sha256_update(&c, entry, len);
	pl_sha256_final(&c, out);
}

void pl_merkle_node_hash(uint8_t out[H], const uint8_t left[H], const uint8_t right[H])
{
	uint8_t buf[1 + 2 * H];
	buf[0] = 0x01;
	memcpy(buf + 1, left, H);
	memcpy(buf + 1 + H, right, H);
	pl_sha256(out, buf, sizeof(buf));
}

void pl_merkle_empty_root(uint8_t out[H])
{
	pl_sha256(out, NULL, 0);
}

/* ======================================== helpers */

/* Largest power of two strictly smaller than n (n >= 2). */
static uint64_t split_point(uint64_t n)
{
	uint64_t k = 1;
	while (k < n - k) /* k * 2 < n, without overflow */
		k <<= 1;
	return k;
}

/*
 * MTH(D[lo:hi]) for a node of the RFC tree: [lo, hi) is tiled by the
 * perfect subtrees of its size's binary digits, largest first, and the node
 * hash is their right fold (the RFC splits at the largest power of two
 * below the size, which is the leading digit).  popcount(hi - lo) gets.
 */
static int range_hash(pl_merkle_get_fn get, void *ctx, uint64_t lo, uint64_t hi, uint8_t out[H])
{
	uint8_t parts[64][H];
	int nparts = 0;
	uint64_t pos = lo;
	for (int level = 63; level >= 0; level--) {
		uint64_t w = (uint64_t)1 << level;
		if (!((hi - lo) & w))
			continue;
		if (pos & (w - 1))
			return pl_err_fail(PL_ERR_INTERNAL,
					   "merkle: range [%llu, %llu) is not a tree node",
					   (unsigned long long)lo, (unsigned long long)hi);
		int rc = get(ctx, (uint64_t)level, pos >> level, parts[nparts]);
		if (rc)
			return rc;
		nparts++;
		pos += w;
	}
	if (nparts == 0)
		return pl_err_fail(PL_ERR_INTERNAL, "merkle: empty range");
	for (int i = nparts - 2; i >= 0; i--)
		pl_merkle_node_hash(parts[nparts - 1], parts[i], parts[nparts - 1]);
	memcpy(out, parts[nparts - 1], H);
	return 0;
}

/* Copy cnt collected hashes to proof in reverse order (collected root end first). */
static void emit_reversed(uint8_t *proof, size_t *plen, uint8_t tmp[][H], size_t cnt)
{
	for (size_t i = 0; i < cnt; i++)
		memcpy(proof + i * H, tmp[cnt - 1 - i], H);
	*plen = cnt;
}

/* ======================================== proofs */

int pl_merkle_root(pl_merkle_get_fn get, void *ctx, uint64_t n, uint8_t out[H])
{
	if (n > PL_MERKLE_MAX_SIZE)
		return pl_err_fail(PL_ERR_LIMIT, "merkle: tree size %llu over the limit",
				   (unsigned long long)n);
	if (n == 0) {
		pl_merkle_empty_root(out);
		return 0;
	}
	uint8_t r[H];
	int rc = range_hash(get, ctx, 0, n, r);
	if (rc)
		return rc;
	memcpy(out, r, H);
	return 0;
}

int pl_merkle_prove_inclusion(pl_merkle_get_fn get, void *ctx, uint64_t index, uint64_t n,
			      uint8_t *proof, size_t *plen)
{
	if (n > PL_MERKLE_MAX_SIZE)
		return pl_err_fail(PL_ERR_LIMIT, "merkle: tree size %llu over the limit",
				   (unsigned long long)n);
	if (index >= n)
		return pl_err_fail(PL_ERR_NOT_FOUND, "merkle: leaf %llu is not in a tree of %llu",
				   (unsigned long long)index, (unsigned long long)n);
	/* Walk down from the root, collecting the sibling of each node on the path. */
	uint8_t tmp[PL_MERKLE_MAX_PROOF][H];
	size_t cnt = 0;
	uint64_t lo = 0, hi = n;
	while (hi - lo > 1) {
		if (cnt == PL_MERKLE_MAX_PROOF)
			return pl_err_fail(PL_ERR_INTERNAL, "merkle: inclusion proof too long");
		uint64_t k = split_point(hi - lo);
		int rc;
		if (index < lo + k) {
			rc = range_hash(get, ctx, lo + k, hi, tmp[cnt]);
			hi = lo + k;
		} else {
			rc = range_hash(get, ctx, lo, lo + k, tmp[cnt]);
			lo += k;
		}
		if (rc)
			return rc;
		cnt++;
	}
	emit_reversed(proof, plen, tmp, cnt);
	return 0;
}

int pl_merkle_prove_consistency(pl_merkle_get_fn get, void *ctx, uint64_t m, uint64_t n,
				uint8_t *proof, size_t *plen)
{
	if (n > PL_MERKLE_MAX_SIZE)
		return pl_err_fail(PL_ERR_LIMIT, "merkle: tree size %llu over the limit",
				   (unsigned long long)n);
	if (m > n)
		return pl_err_fail(
		    PL_ERR_NOT_FOUND,
		    "merkle: no consistency proof from size %llu to smaller size %llu",
		    (unsigned long long)m, (unsigned long long)n);
	if (m == 0 || m == n) {
		*plen = 0;
		return 0;
	}
	/*
	 * SUBPROOF(m, D[lo:hi], b), unrolled: each step appends one hash after
	 * the proof of the deeper step, so the hashes are collected root end
	 * first and emitted reversed.
	 */
	uint8_t tmp[PL_MERKLE_MAX_PROOF][H];
	size_t cnt = 0;
	uint64_t lo = 0, hi = n;
	bool whole = true; /* b: D[lo:hi] is the whole old tree's subtree as given */
	for (;;) {
		if (cnt == PL_MERKLE_MAX_PROOF)
			return pl_err_fail(PL_ERR_INTERNAL, "merkle: consistency proof too long");
		int rc;
		if (m == hi - lo) {
			if (whole)
				break;
			rc = range_hash(get, ctx, lo, hi, tmp[cnt]);
			if (rc)
				return rc;
			cnt++;
			break;
		}
		uint64_t k = split_point(hi - lo);
		if (m <= k) {
			rc = range_hash(get, ctx, lo + k, hi, tmp[cnt]);
			hi = lo + k;
		} else {
			rc = range_hash(get, ctx, lo, lo + k, tmp[cnt]);
			lo += k;
			m -= k;
			whole = false;
		}
		if (rc)
			return rc;
		cnt++;
	}
	emit_reversed(proof, plen, tmp, cnt);
	return 0;
}

/* A path being walked (incl_walk): after each step, the node reached. */
typedef struct incl_path {
	uint8_t node[PL_MERKLE_MAX_PROOF][H];
	uint64_t fn[PL_MERKLE_MAX_PROOF];
	uint8_t lvl[PL_MERKLE_MAX_PROOF];
} incl_path;

/*
 * Where step i of a proof (its hashes proof[0..plen), the node reached
 * after it: fn at level lvl, hash r) joins the path of run's last proof:
 * the same node with the same hash, and the same hashes left to go.  From
 * there both walks are one walk, which ended at run's root.  The step of
 * run's proof joined, or -1.
 */
static int incl_joins(const pl_merkle_incl_run *run, size_t i, unsigned lvl, uint64_t fn,
		      const uint8_t r[H], const uint8_t *proof, size_t plen)
{
	if (!run || !run->have || !run->step_at[lvl])
		return -1;
	size_t j = (size_t)run->step_at[lvl] - 1;
	if (run->fn[j] != fn || plen - i != run->plen - j || memcmp(run->node[j], r, H) != 0 ||
	    memcmp(proof + (i + 1) * H, run->proof + (j + 1) * H, (plen - i - 1) * H) != 0)
		return -1;
	return (int)j;
}

/*
 * RFC 9162 §2.1.3.2, steps 1 to 5 without the final comparison: the root
 * the proof leads to.  With a run (its tree's size is n), each step's node
 * goes to path, and a walk that joins the run's last proof stops there:
 * *joined is the step of the run's proof it joined, or -1.
 */
static int incl_walk(const uint8_t leaf_hash[H], uint64_t index, uint64_t n, const uint8_t *proof,
		     size_t plen, uint8_t root[H], pl_merkle_incl_run *run, incl_path *path,
		     int *joined)
{
	/* 1. */
	if (index >= n)
		return pl_err_fail(PL_ERR_MALFORMED,
				   "inclusion proof: leaf %llu not below size %llu",
				   (unsigned long long)index, (unsigned long long)n);
	if (plen > PL_MERKLE_MAX_PROOF)
		return pl_err_fail(PL_ERR_MALFORMED, "inclusion proof: %zu hashes is too long",
				   plen);
	/* 2. */
	uint64_t fn = index, sn = n - 1;
	unsigned lvl = 0;
	/* 3. */
	uint8_t r[H];
	memcpy(r, leaf_hash, H);
	/* 4. */
	for (size_t i = 0; i < plen; i++) {
		const uint8_t *p = proof + i * H;
		/* 4a. */
		if (sn == 0)
			return pl_err_fail(PL_ERR_MALFORMED,
					   "inclusion proof: %zu hashes is too long for the tree",
					   plen);
		/* 4b. */
		if ((fn & 1) || fn == sn) {
			pl_merkle_node_hash(r, p, r);
			if (!(fn & 1)) {
				while (!(fn & 1) && fn != 0) {
					fn >>= 1;
					sn >>= 1;
					lvl++;
				}
			}
		} else {
			pl_merkle_node_hash(r, r, p);
		}
		/* 4c. */
		fn >>= 1;
		sn >>= 1;
		lvl++;
		if (!run)
			continue;
		run->hashes++;
		memcpy(path->node[i], r, H);
		path->fn[i] = fn;
		path->lvl[i] = (uint8_t)lvl;
		*joined = incl_joins(run, i, lvl, fn, r, proof, plen);
		if (*joined >= 0) {
			memcpy(root, run->root, H);
			return 0;
		}
	}
	/* 5. */
	if (sn != 0)
		return pl_err_fail(PL_ERR_MALFORMED,
				   "inclusion proof: %zu hashes is too short for the tree", plen);
	memcpy(root, r, H);
	return 0;
}

int pl_merkle_root_from_inclusion(const uint8_t leaf_hash[H], uint64_t index, uint64_t n,
				  const uint8_t *proof, size_t plen, uint8_t root[H])
{
	return incl_walk(leaf_hash, index, n, proof, plen, root, NULL, NULL, NULL);
}

int pl_merkle_verify_inclusion(const uint8_t leaf_hash[H], uint64_t index, uint64_t n,
			       const uint8_t *proof, size_t plen, const uint8_t root[H])
{
	uint8_t r[H];
	int rc = pl_merkle_root_from_inclusion(leaf_hash, index, n, proof, plen, r);
	if (rc)
		return rc;
	if (!pl_ct_equal(r, root, H))
		return pl_err_fail(PL_ERR_CONFLICT, "inclusion proof does not lead to the root");
	return 0;
}

void pl_merkle_incl_run_init(pl_merkle_incl_run *run, uint64_t n, const uint8_t root[H])
{
	memset(run, 0, sizeof(*run));
	run->n = n;
	memcpy(run->root, root, H);
}

int pl_merkle_incl_run_verify(pl_merkle_incl_run *run, const uint8_t leaf_hash[H], uint64_t index,
			      const uint8_t *proof, size_t plen)
{
	incl_path path;
	uint8_t r[H];
	int joined = -1;
	int rc = incl_walk(leaf_hash, index, run->n, proof, plen, r, run, &path, &joined);
	if (rc)
		return rc;
	if (joined < 0 && !pl_ct_equal(r, run->root, H))
		return pl_err_fail(PL_ERR_CONFLICT, "inclusion proof does not lead to the root");
	/* This proof's path is the run's last: its own steps up to the join,
	 * the last proof's from there on (the same nodes). */
	if (joined >= 0) {
		size_t from = (size_t)joined + 1;
		for (size_t k = plen - (run->plen - from); k < plen; k++, from++) {
			memcpy(path.node[k], run->node[from], H);
			path.fn[k] = run->fn[from];
			path.lvl[k] = run->lvl[from];
		}
	}
	memset(run->step_at, 0, sizeof(run->step_at));
	for (size_t k = 0; k < plen; k++) {
		memcpy(run->node[k], path.node[k], H);
		run->fn[k] = path.fn[k];
		run->lvl[k] = path.lvl[k];
		run->step_at[path.lvl[k]] = (uint8_t)(k + 1);
	}
	if (plen)
		memcpy(run->proof, proof, plen * H);
	run->plen = plen;
	run->have = true;
	return 0;
}

int pl_merkle_verify_consistency(uint64_t m, uint64_t n, const uint8_t *proof, size_t plen,
				 const uint8_t root_m[H], const uint8_t root_n[H])
{
	if (m > n)
		return pl_err_fail(PL_ERR_MALFORMED,
				   "consistency proof: old size %llu > new size %llu",
				   (unsigned long long)m, (unsigned long long)n);
	if (plen > PL_MERKLE_MAX_PROOF)
		return pl_err_fail(PL_ERR_MALFORMED, "consistency proof: %zu hashes is too long",
				   plen);
	if (m == 0 || m == n) {
		if (plen != 0)
			return pl_err_fail(
			    PL_ERR_MALFORMED,
			    "consistency proof: must be empty from size %llu to %llu",
			    (unsigned long long)m, (unsigned long long)n);
		uint8_t empty[H];
		pl_merkle_empty_root(empty);
		if (m == 0 && !pl_ct_equal(root_m, empty, H))
			return pl_err_fail(PL_ERR_CONFLICT,
					   "consistency: old root is not the empty root");
		if (m == n && !pl_ct_equal(root_m, root_n, H))
			return pl_err_fail(PL_ERR_CONFLICT,
					   "consistency: same size, different roots");
		return 0;
	}

	/* RFC 9162 §2.1.4.2, step by step, for 0 < m < n. */
	/* 1. */
	if (plen == 0)
		return pl_err_fail(PL_ERR_MALFORMED, "consistency proof: empty");
	/* 2. first is an exact power of 2: the path starts with first_hash. */
	const uint8_t *path[PL_MERKLE_MAX_PROOF + 1];
	size_t len = 0;
	if ((m & (m - 1)) == 0)
		path[len++] = root_m;
	for (size_t i = 0; i < plen; i++)
		path[len++] = proof + i * H;
	/* 3. */
	uint64_t fn = m - 1, sn = n - 1;
	/* 4. */
	while (fn & 1) {
		fn >>= 1;
		sn >>= 1;
	}
	/* 5. */
	uint8_t fr[H], sr[H];
	memcpy(fr, path[0], H);
	memcpy(sr, path[0], H);
	/* 6. */
	for (size_t i = 1; i < len; i++) {
		const uint8_t *c = path[i];
		/* 6a. */
		if (sn == 0)
			return pl_err_fail(
			    PL_ERR_MALFORMED,
			    "consistency proof: %zu hashes is too long for the sizes", plen);
		/* 6b. */
		if ((fn & 1) || fn == sn) {
			pl_merkle_node_hash(fr, c, fr);
			pl_merkle_node_hash(sr, c, sr);
			if (!(fn & 1)) {
				while (!(fn & 1) && fn != 0) {
					fn >>= 1;
					sn >>= 1;
				}
			}
		} else {
			pl_merkle_node_hash(sr, sr, c);
		}
		/* 6c. */
		fn >>= 1;
		sn >>= 1;
	}
	/* 7. */
	if (sn != 0)
		return pl_err_fail(PL_ERR_MALFORMED,
				   "consistency proof: %zu hashes is too short for the sizes",
				   plen);
	if (!pl_ct_equal(fr, root_m, H))
		return pl_err_fail(PL_ERR_CONFLICT,
				   "consistency proof does not lead to the old root");
	if (!pl_ct_equal(sr, root_n, H))
		return pl_err_fail(PL_ERR_CONFLICT,
				   "consistency proof does not lead to the new root");
	return 0;
}

/* ======================================== in-memory tree */

/* level[l] holds the hashes of the complete subtrees of 2^l leaves, in order. */
struct pl_merkle_mem {
	uint64_t size;
	int nlevels;
	struct mem_level {
		uint8_t (*h)[H];
		uint64_t len, cap;
	} level[64];
};

pl_merkle_mem *pl_merkle_mem_new(void)
{
	return calloc(1, sizeof(pl_merkle_mem));
}

void pl_merkle_mem_free_(pl_merkle_mem *t)
{
	if (!t)
		return;
	for (int l = 0; l < t->nlevels; l++)
		free(t->level[l].h);
	free(t);
}

uint64_t pl_merkle_mem_size(const pl_merkle_mem *t)
{
	return t->size;
}

/* Make room for one more hash at each level an append of leaf number size touches. */
static int mem_reserve(pl_merkle_mem *t, int levels)
{
	for (int l = 0; l < levels; l++) {
		struct mem_level *lv = &t->level[l];
		if (lv->len < lv->cap)
			continue;
		uint64_t cap = lv->cap ? lv->cap * 2 : 16;
		if (cap > SIZE_MAX / H)
			return pl_err_fail(PL_ERR_NOMEM, "merkle: in-memory tree too large");
		uint8_t(*h)[H] = realloc(lv->h, (size_t)cap * H);
		if (!h)
			return PL_ERR_NOMEM;
		lv->h = h;
		lv->cap = cap;
	}
	return 0;
}

int pl_merkle_mem_append_hash(pl_merkle_mem *t, const uint8_t leaf_hash[H])
{
	if (t->size >= PL_MERKLE_MAX_SIZE)
		return pl_err_fail(PL_ERR_LIMIT, "merkle: tree full");
	/* Leaf number size completes one subtree per trailing 1 bit of size. */
	uint64_t idx = t->size;
	int levels = 1;
	while (idx & ((uint64_t)1 << (levels - 1)))
		levels++;
	int rc = mem_reserve(t, levels);
	if (rc)
		return rc;
	memcpy(t->level[0].h[t->level[0].len++], leaf_hash, H);
	for (int l = 1; l < levels; l++) {
		struct mem_level *below = &t->level[l - 1];
		struct mem_level *lv = &t->level[l];
		pl_merkle_node_hash(lv->h[lv->len], below->h[below->len - 2],
				    below->h[below->len - 1]);
		lv->len++;
	}
	if (levels > t->nlevels)
		t->nlevels = levels;
	t->size++;
	return 0;
}

int pl_merkle_mem_append(pl_merkle_mem *t, const uint8_t *entry, size_t len)
{
	uint8_t h[H];
	pl_merkle_leaf_hash(h, entry, len);
	return pl_merkle_mem_append_hash(t, h);
}

int pl_merkle_mem_get(void *ctx, uint64_t level, uint64_t index, uint8_t out[H])
{
	const pl_merkle_mem *t = ctx;
	if (level >= (uint64_t)t->nlevels || index >= t->level[level].len)
		return pl_err_fail(PL_ERR_NOT_FOUND, "merkle: no subtree at level %llu index %llu",
				   (unsigned long long)level, (unsigned long long)index);
	memcpy(out, t->level[level].h[index], H);
	return 0;
}
