/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests of lib/transcript's storage-free core: RFC 9162 hashing and proofs
 * (published vectors, a brute-force comparison with the RFC's recursive
 * definitions, O(log n) hash reads), C2SP signed notes (Go sumdb/note and
 * C2SP vectors), checkpoints and cosignatures.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "parley/crypto.h"
#include "parley/err.h"
#include "parley/transcript.h"

#define H  PL_HASH_BYTES
#define EM "\xe2\x80\x94" /* U+2014 EM DASH */

/* ======================================== helpers */

static void unhex(uint8_t *out, size_t n, const char *hex)
{
	size_t got = 0;
	assert_int_equal(strlen(hex), 2 * n);
	assert_int_equal(pl_hex_decode(out, n, &got, hex, strlen(hex)), 0);
	assert_int_equal(got, n);
}

static const uint8_t *u8(const char *s)
{
	return (const uint8_t *)s;
}

static int ceil_log2(uint64_t n)
{
	int b = 0;
	while (((uint64_t)1 << b) < n)
		b++;
	return b;
}

/* Reference RFC 9162 definitions, recursive, written from §2.1.1, §2.1.3.1 and
 * §2.1.4.1 with their own node hashing, to hold the library to. */
static void ref_node(uint8_t out[H], const uint8_t l[H], const uint8_t r[H])
{
	uint8_t buf[1 + 2 * H];
	buf[0] = 1;
	memcpy(buf + 1, l, H);
	memcpy(buf + 1 + H, r, H);
	pl_sha256(out, buf, sizeof(buf));
}

static uint64_t ref_k(uint64_t n)
{
	uint64_t k = 1;
	while (2 * k < n)
		k *= 2;
	return k;
}

static void ref_mth(uint8_t (*leaf)[H], uint64_t lo, uint64_t hi, uint8_t out[H])
{
	if (hi - lo == 1) {
		memcpy(out, leaf[lo], H);
		return;
	}
	uint64_t k = ref_k(hi - lo);
	uint8_t l[H], r[H];
	ref_mth(leaf, lo, lo + k, l);
	ref_mth(leaf, lo + k, hi, r);
	ref_node(out, l, r);
}

static void ref_path(uint8_t (*leaf)[H], uint64_t m, uint64_t lo, uint64_t hi, uint8_t *out,
		     size_t *len)
{
	if (hi - lo == 1)
		return;
	uint64_t k = ref_k(hi - lo);
	if (m < k) {
		ref_path(leaf, m, lo, lo + k, out, len);
		ref_mth(leaf, lo + k, hi, out + (*len)++ * H);
	} else {
		ref_path(leaf, m - k, lo + k, hi, out, len);
		ref_mth(leaf, lo, lo + k, out + (*len)++ * H);
	}
}

static void ref_subproof(uint8_t (*leaf)[H], uint64_t m, uint64_t lo, uint64_t hi, int b,
			 uint8_t *out, size_t *len)
{
	if (m == hi - lo) {
		if (!b)
			ref_mth(leaf, lo, hi, out + (*len)++ * H);
		return;
	}
	uint64_t k = ref_k(hi - lo);
	if (m <= k) {
		ref_subproof(leaf, m, lo, lo + k, b, out, len);
		ref_mth(leaf, lo + k, hi, out + (*len)++ * H);
	} else {
		ref_subproof(leaf, m - k, lo + k, hi, 0, out, len);
		ref_mth(leaf, lo, lo + k, out + (*len)++ * H);
	}
}

/* A get provider that counts its calls and can fail at a chosen call. */
struct counter {
	pl_merkle_mem *t;
	unsigned long calls;
	unsigned long fail_at; /* 0: never */
};

static int counting_get(void *ctx, uint64_t level, uint64_t index, uint8_t out[H])
{
	struct counter *c = ctx;
	c->calls++;
	if (c->fail_at && c->calls == c->fail_at)
		return PL_ERR_STORE;
	return pl_merkle_mem_get(c->t, level, index, out);
}

/* ======================================== RFC 9162 vectors */

/*
 * Known answers from transparency-dev/merkle (Apache-2.0), proof/verify_test.go
 * (the Certificate Transparency vectors: leaves, roots of sizes 1..8,
 * inclusion and consistency proofs) and rfc6962/rfc6962_test.go (hashes).
 * In inclusion_kat, "leaf" is 1-based as in the source.
 */
static const char *const kat_leaves[8] = {
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
};
static const char *const kat_roots[8] = {
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
};
static const struct {
	uint64_t leaf, size;
	size_t n;
	const char *proof[3];
} inclusion_kat[] = {
    {1, 1, 0, {NULL}},
    {1,
     8,
     3,
     {"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
      "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}},
    {6,
     8,
     3,
     {"bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
      "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
      "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
    {3, 3, 1, {"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"}},
    {2,
     5,
     3,
     {"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
      "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"}},
};
static const struct {
	uint64_t size1, size2;
	size_t n;
	const char *proof[3];
} consistency_kat[] = {
    {1, 1, 0, {NULL}},
    {1,
     8,
     3,
     {"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
      "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}},
    {6,
     8,
     3,
     {"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
      "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
      "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
    {2,
     5,
     2,
     {"5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"}},
    {6,
     7,
     3,
     {"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
      "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
      "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
};

static pl_merkle_mem *kat_tree(uint8_t roots[8][H])
{
	pl_merkle_mem *t = pl_merkle_mem_new();
	assert_non_null(t);
	for (int i = 0; i < 8; i++) {
		uint8_t entry[16];
		size_t n = strlen(kat_leaves[i]) / 2;
		unhex(entry, n, kat_leaves[i]);
		assert_int_equal(pl_merkle_mem_append(t, entry, n), 0);
		unhex(roots[i], H, kat_roots[i]);
	}
	return t;
}

static void test_hash_known_answers(void **state)
{
	(void)state;
	uint8_t got[H], want[H];
	/* rfc6962_test.go: empty root, empty leaf, leaf "L123456" */
	pl_merkle_empty_root(got);
	unhex(want, H, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	assert_memory_equal(got, want, H);
	pl_merkle_leaf_hash(got, NULL, 0);
	unhex(want, H, "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d");
	assert_memory_equal(got, want, H);
	pl_merkle_leaf_hash(got, u8("L123456"), 7);
	unhex(want, H, "395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56");
	assert_memory_equal(got, want, H);
	/* SHA-256(0x01 || 32 x 0x00 || 32 x 0xff), computed with Python's hashlib */
	uint8_t l[H], r[H];
	memset(l, 0, H);
	memset(r, 0xff, H);
	pl_merkle_node_hash(got, l, r);
	unhex(want, H, "bc6b943b820c449acf880d293c216a24a8066b153f87f2361fae2beda3a72641");
	assert_memory_equal(got, want, H);
	/* in place */
	pl_merkle_node_hash(l, l, r);
	assert_memory_equal(l, want, H);
}

static void test_roots_known_answers(void **state)
{
	(void)state;
	uint8_t roots[8][H], got[H], empty[H];
	pl_merkle_mem *t = kat_tree(roots);
	for (uint64_t n = 1; n <= 8; n++) {
		assert_int_equal(pl_merkle_root(pl_merkle_mem_get, t, n, got), 0);
		assert_memory_equal(got, roots[n - 1], H);
	}
	pl_merkle_empty_root(empty);
	assert_int_equal(pl_merkle_root(pl_merkle_mem_get, t, 0, got), 0);
	assert_memory_equal(got, empty, H);
	/* a size the provider cannot serve */
	assert_int_equal(pl_merkle_root(pl_merkle_mem_get, t, 9, got), PL_ERR_NOT_FOUND);
	assert_int_equal(pl_merkle_root(pl_merkle_mem_get, t, PL_MERKLE_MAX_SIZE + 1, got),
			 PL_ERR_LIMIT);
	pl_merkle_mem_free(t);
	assert_null(t);
	pl_merkle_mem_free(t); /* NULL-safe */
}

/* Every corruption transparency-dev's corruptInclusionProof makes must fail. */
static void inclusion_probes(const uint8_t leaf[H], uint64_t idx, uint64_t n, const uint8_t *proof,
			     size_t plen, const uint8_t root[H])
{
	uint8_t buf[(PL_MERKLE_MAX_PROOF + 2) * H];
	uint8_t some[H], empty[H], wrong_leaf[H];
	unhex(some, H, "abacaba000000000000000000000000000000000000000000060061e00123456");
	pl_merkle_empty_root(empty);
	pl_merkle_leaf_hash(wrong_leaf, u8("WrongLeaf"), 9);

	assert_int_equal(pl_merkle_verify_inclusion(leaf, idx, n, proof, plen, root), 0);
	assert_int_not_equal(pl_merkle_verify_inclusion(leaf, idx - 1, n, proof, plen, root), 0);
	assert_int_not_equal(pl_merkle_verify_inclusion(leaf, idx + 1, n, proof, plen, root), 0);
	assert_int_not_equal(pl_merkle_verify_inclusion(leaf, idx ^ 2, n, proof, plen, root), 0);
	assert_int_not_equal(pl_merkle_verify_inclusion(leaf, idx, n * 2, proof, plen, root), 0);
	assert_int_not_equal(pl_merkle_verify_inclusion(leaf, idx, n / 2, proof, plen, root), 0);
	assert_int_not_equal(pl_merkle_verify_inclusion(wrong_leaf, idx, n, proof, plen, root), 0);
	assert_int_not_equal(pl_merkle_verify_inclusion(leaf, idx, n, proof, plen, empty), 0);
	assert_int_not_equal(pl_merkle_verify_inclusion(leaf, idx, n, proof, plen, some), 0);
	/* trailing / preceding garbage and root */
	memcpy(buf, proof, plen * H);
	memset(buf + plen * H, 0, H);
	assert_int_not_equal(pl_merkle_verify_inclusion(leaf, idx, n, buf, plen + 1, root), 0);
	memcpy(buf + plen * H, root, H);
	assert_int_equal(pl_merkle_verify_inclusion(leaf, idx, n, buf, plen + 1, root),
			 PL_ERR_MALFORMED); /* too long for the tree, told apart from a bad hash */
	memset(buf, 0, H);
	memcpy(buf + H, proof, plen * H);
	assert_int_not_equal(pl_merkle_verify_inclusion(leaf, idx, n, buf, plen + 1, root), 0);
	memcpy(buf, root, H);
	assert_int_not_equal(pl_merkle_verify_inclusion(leaf, idx, n, buf, plen + 1, root), 0);
	/* a flipped bit in each element; a removed and an inserted element */
	for (size_t i = 0; i < plen; i++) {
		memcpy(buf, proof, plen * H);
		buf[i * H] ^= 8;
		assert_int_equal(pl_merkle_verify_inclusion(leaf, idx, n, buf, plen, root),
				 PL_ERR_CONFLICT);
	}
	if (plen > 0)
		assert_int_equal(pl_merkle_verify_inclusion(leaf, idx, n, proof, plen - 1, root),
				 PL_ERR_MALFORMED);
	if (plen > 1) {
		memcpy(buf, proof, H);
		memcpy(buf + H, some, H);
		memcpy(buf + 2 * H, proof + H, (plen - 1) * H);
		assert_int_not_equal(pl_merkle_verify_inclusion(leaf, idx, n, buf, plen + 1, root),
				     0);
	}
}

static void test_inclusion_known_answers(void **state)
{
	(void)state;
	uint8_t roots[8][H];
	pl_merkle_mem *t = kat_tree(roots);
	for (size_t v = 0; v < sizeof(inclusion_kat) / sizeof(inclusion_kat[0]); v++) {
		uint64_t idx = inclusion_kat[v].leaf - 1, n = inclusion_kat[v].size;
		uint8_t want[3 * H], got[PL_MERKLE_MAX_PROOF * H], leaf[H];
		size_t plen = 99;
		for (size_t i = 0; i < inclusion_kat[v].n; i++)
			unhex(want + i * H, H, inclusion_kat[v].proof[i]);
		assert_int_equal(pl_merkle_mem_get(t, 0, idx, leaf), 0);
		assert_int_equal(
		    pl_merkle_prove_inclusion(pl_merkle_mem_get, t, idx, n, got, &plen), 0);
		assert_int_equal(plen, inclusion_kat[v].n);
		if (plen)
			assert_memory_equal(got, want, plen * H);
		inclusion_probes(leaf, idx, n, want, plen, roots[n - 1]);
	}
	pl_merkle_mem_free(t);
}

/* Every corruption transparency-dev's corruptConsistencyProof makes must fail. */
static void consistency_probes(uint64_t m, uint64_t n, const uint8_t *proof, size_t plen,
			       const uint8_t r1[H], const uint8_t r2[H])
{
	uint8_t buf[(PL_MERKLE_MAX_PROOF + 2) * H];
	uint8_t wrong[H];
	memset(wrong, 0x5a, H);
	assert_int_equal(pl_merkle_verify_consistency(m, n, proof, plen, r1, r2), 0);
	if (plen == 0)
		return;
	assert_int_not_equal(pl_merkle_verify_consistency(m - 1, n, proof, plen, r1, r2), 0);
	assert_int_not_equal(pl_merkle_verify_consistency(m + 1, n, proof, plen, r1, r2), 0);
	assert_int_not_equal(pl_merkle_verify_consistency(m ^ 2, n, proof, plen, r1, r2), 0);
	assert_int_not_equal(pl_merkle_verify_consistency(m, n * 2, proof, plen, r1, r2), 0);
	assert_int_not_equal(pl_merkle_verify_consistency(m, n / 2, proof, plen, r1, r2), 0);
	assert_int_not_equal(pl_merkle_verify_consistency(m, n, proof, plen, wrong, r2), 0);
	assert_int_not_equal(pl_merkle_verify_consistency(m, n, proof, plen, r1, wrong), 0);
	assert_int_not_equal(pl_merkle_verify_consistency(m, n, proof, plen, r2, r1), 0);
	assert_int_not_equal(pl_merkle_verify_consistency(m, n, proof, 0, r1, r2), 0);
	const uint8_t *extra[] = {wrong, r1, r2};
	for (size_t e = 0; e < 3; e++) {
		memcpy(buf, proof, plen * H);
		memcpy(buf + plen * H, extra[e], H);
		assert_int_equal(pl_merkle_verify_consistency(m, n, buf, plen + 1, r1, r2),
				 PL_ERR_MALFORMED);
		memcpy(buf, extra[e], H);
		memcpy(buf + H, proof, plen * H);
		assert_int_not_equal(pl_merkle_verify_consistency(m, n, buf, plen + 1, r1, r2), 0);
	}
	memcpy(buf, proof, H);
	memcpy(buf + H, proof, plen * H);
	assert_int_not_equal(pl_merkle_verify_consistency(m, n, buf, plen + 1, r1, r2), 0);
	assert_int_equal(pl_merkle_verify_consistency(m, n, proof, plen - 1, r1, r2),
			 PL_ERR_MALFORMED);
	for (size_t i = 0; i < plen; i++) {
		memcpy(buf, proof, plen * H);
		buf[i * H] ^= 16;
		assert_int_equal(pl_merkle_verify_consistency(m, n, buf, plen, r1, r2),
				 PL_ERR_CONFLICT);
	}
}

static void test_consistency_known_answers(void **state)
{
	(void)state;
	uint8_t roots[8][H];
	pl_merkle_mem *t = kat_tree(roots);
	for (size_t v = 0; v < sizeof(consistency_kat) / sizeof(consistency_kat[0]); v++) {
		uint64_t m = consistency_kat[v].size1, n = consistency_kat[v].size2;
		uint8_t want[3 * H], got[PL_MERKLE_MAX_PROOF * H];
		size_t plen = 99;
		for (size_t i = 0; i < consistency_kat[v].n; i++)
			unhex(want + i * H, H, consistency_kat[v].proof[i]);
		assert_int_equal(
		    pl_merkle_prove_consistency(pl_merkle_mem_get, t, m, n, got, &plen), 0);
		assert_int_equal(plen, consistency_kat[v].n);
		if (plen)
			assert_memory_equal(got, want, plen * H);
		consistency_probes(m, n, want, plen, roots[m - 1], roots[n - 1]);
	}
	pl_merkle_mem_free(t);
}

static void test_proof_edge_cases(void **state)
{
	(void)state;
	uint8_t roots[8][H], empty[H], some[H], proof[PL_MERKLE_MAX_PROOF * H];
	size_t plen = 7;
	pl_merkle_mem *t = kat_tree(roots);
	pl_merkle_empty_root(empty);
	memset(some, 0x42, H);

	/* transparency-dev TestVerifyInclusion probes: nothing verifies in the empty tree,
	 * an index past the end, or against a wrong root */
	assert_int_equal(pl_merkle_verify_inclusion(some, 0, 0, NULL, 0, empty), PL_ERR_MALFORMED);
	assert_int_equal(pl_merkle_verify_inclusion(some, 1, 0, NULL, 0, empty), PL_ERR_MALFORMED);
	assert_int_equal(pl_merkle_verify_inclusion(some, 2, 1, NULL, 0, some), PL_ERR_MALFORMED);
	assert_int_equal(pl_merkle_verify_inclusion(some, 0, 1, NULL, 0, empty), PL_ERR_CONFLICT);
	/* single entry: the leaf hash is the root */
	assert_int_equal(pl_merkle_verify_inclusion(roots[0], 0, 1, NULL, 0, roots[0]), 0);
	/* too long a proof is refused before any hashing */
	memset(proof, 0, sizeof(proof));
	assert_int_equal(
	    pl_merkle_verify_inclusion(some, 0, UINT64_MAX, proof, PL_MERKLE_MAX_PROOF + 1, some),
	    PL_ERR_MALFORMED);
	/* proof of the right length for a huge tree, wrong hashes */
	assert_int_equal(pl_merkle_verify_inclusion(some, 5, UINT64_MAX, proof, 64, some),
			 PL_ERR_CONFLICT);

	/* consistency: the cases the RFC leaves to the caller */
	assert_int_equal(pl_merkle_verify_consistency(0, 0, NULL, 0, empty, empty), 0);
	assert_int_equal(pl_merkle_verify_consistency(0, 5, NULL, 0, empty, roots[4]), 0);
	assert_int_equal(pl_merkle_verify_consistency(0, 5, NULL, 0, some, roots[4]),
			 PL_ERR_CONFLICT);
	assert_int_equal(pl_merkle_verify_consistency(0, 0, NULL, 0, empty, some), PL_ERR_CONFLICT);
	assert_int_equal(pl_merkle_verify_consistency(3, 3, NULL, 0, roots[2], roots[2]), 0);
	assert_int_equal(pl_merkle_verify_consistency(3, 3, NULL, 0, roots[2], roots[3]),
			 PL_ERR_CONFLICT);
	assert_int_equal(pl_merkle_verify_consistency(1, 0, NULL, 0, some, some), PL_ERR_MALFORMED);
	assert_int_equal(pl_merkle_verify_consistency(2, 1, NULL, 0, some, some), PL_ERR_MALFORMED);
	assert_int_equal(pl_merkle_verify_consistency(1, 2, NULL, 0, roots[0], roots[1]),
			 PL_ERR_MALFORMED);
	/* roots match but the proof is not empty */
	memcpy(proof, empty, H);
	assert_int_equal(pl_merkle_verify_consistency(0, 0, proof, 1, empty, empty),
			 PL_ERR_MALFORMED);
	assert_int_equal(pl_merkle_verify_consistency(0, 1, proof, 1, empty, empty),
			 PL_ERR_MALFORMED);
	assert_int_equal(pl_merkle_verify_consistency(1, 1, proof, 1, empty, empty),
			 PL_ERR_MALFORMED);
	assert_int_equal(
	    pl_merkle_verify_consistency(1, UINT64_MAX, proof, PL_MERKLE_MAX_PROOF + 1, some, some),
	    PL_ERR_MALFORMED);

	/* provers: out-of-range requests, output untouched */
	memset(proof, 0xee, H);
	assert_int_equal(pl_merkle_prove_inclusion(pl_merkle_mem_get, t, 8, 8, proof, &plen),
			 PL_ERR_NOT_FOUND);
	assert_int_equal(pl_merkle_prove_inclusion(pl_merkle_mem_get, t, 0, 0, proof, &plen),
			 PL_ERR_NOT_FOUND);
	assert_int_equal(pl_merkle_prove_consistency(pl_merkle_mem_get, t, 5, 4, proof, &plen),
			 PL_ERR_NOT_FOUND);
	assert_int_equal(pl_merkle_prove_inclusion(pl_merkle_mem_get, t, 0, 9, proof, &plen),
			 PL_ERR_NOT_FOUND); /* the tree holds only 8 */
	assert_int_equal(pl_merkle_prove_inclusion(pl_merkle_mem_get, t, 0, PL_MERKLE_MAX_SIZE + 1,
						   proof, &plen),
			 PL_ERR_LIMIT);
	assert_int_equal(plen, 7);
	assert_int_equal(proof[0], 0xee);
	/* empty consistency proofs */
	assert_int_equal(pl_merkle_prove_consistency(pl_merkle_mem_get, t, 0, 8, proof, &plen), 0);
	assert_int_equal(plen, 0);
	plen = 7;
	assert_int_equal(pl_merkle_prove_consistency(pl_merkle_mem_get, t, 8, 8, proof, &plen), 0);
	assert_int_equal(plen, 0);

	/* a failing provider: its error comes back unchanged, at every call */
	struct counter c = {.t = t};
	for (unsigned long f = 1;; f++) {
		c.calls = 0;
		c.fail_at = f;
		plen = 7;
		int rc = pl_merkle_prove_consistency(counting_get, &c, 3, 7, proof, &plen);
		if (c.calls < f) {
			assert_int_equal(rc, 0);
			break;
		}
		assert_int_equal(rc, PL_ERR_STORE);
		assert_int_equal(plen, 7);
		rc = pl_merkle_prove_inclusion(counting_get, &(struct counter){t, 0, 1}, 2, 7,
					       proof, &plen);
		assert_int_equal(rc, PL_ERR_STORE);
		assert_int_equal(pl_merkle_root(counting_get, &(struct counter){t, 0, 1}, 7, some),
				 PL_ERR_STORE);
	}
	/* the in-memory provider refuses incomplete subtrees */
	uint8_t h[H];
	assert_int_equal(pl_merkle_mem_get(t, 3, 0, h), 0);
	assert_memory_equal(h, roots[7], H);
	assert_int_equal(pl_merkle_mem_get(t, 3, 1, h), PL_ERR_NOT_FOUND);
	assert_int_equal(pl_merkle_mem_get(t, 4, 0, h), PL_ERR_NOT_FOUND);
	assert_int_equal(pl_merkle_mem_get(t, 0, 8, h), PL_ERR_NOT_FOUND);
	assert_int_equal(pl_merkle_mem_get(t, 63, 0, h), PL_ERR_NOT_FOUND);
	assert_int_equal(pl_merkle_mem_get(t, UINT64_MAX, 0, h), PL_ERR_NOT_FOUND);
	assert_int_equal(pl_merkle_mem_size(t), 8);
	pl_merkle_mem_free(t);
}

/*
 * A run of inclusion proofs (pl_merkle_incl_run) answers every proof as
 * pl_merkle_verify_inclusion does — in order, out of order, with gaps, and
 * for each corruption of a proof that joins the path of the one before —
 * and, for neighbours in order, hashes far less than the proofs are long.
 */
static int run_and_plain(pl_merkle_incl_run *run, const uint8_t leaf[H], uint64_t i,
			 const uint8_t *proof, size_t plen)
{
	int plain = pl_merkle_verify_inclusion(leaf, i, run->n, proof, plen, run->root);
	pl_merkle_incl_run before = *run;
	int got = pl_merkle_incl_run_verify(run, leaf, i, proof, plen);
	assert_int_equal(got, plain);
	if (got) { /* a failed proof leaves the run as it was, but for its count */
		before.hashes = run->hashes;
		assert_memory_equal(run, &before, sizeof(*run));
	}
	return got;
}

static void test_incl_run(void **state)
{
	(void)state;
	enum { N = 1000 };
	static uint8_t leaf[N][H];
	pl_merkle_mem *t = pl_merkle_mem_new();
	assert_non_null(t);
	for (int i = 0; i < N; i++) {
		uint8_t e[4] = {'r', (uint8_t)i, (uint8_t)(i >> 8), 1};
		assert_int_equal(pl_merkle_mem_append(t, e, sizeof(e)), 0);
		pl_merkle_leaf_hash(leaf[i], e, sizeof(e));
	}
	static const uint64_t sizes[] = {1, 2, 3, 5, 8, 13, 64, 100, 257, N};
	uint8_t proof[PL_MERKLE_MAX_PROOF * H], buf[(PL_MERKLE_MAX_PROOF + 1) * H], root[H];
	size_t plen;
	pl_merkle_incl_run run;
	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		uint64_t n = sizes[s];
		assert_int_equal(pl_merkle_root(pl_merkle_mem_get, t, n, root), 0);
		/* steps 1 (every leaf, in order), 3 (gaps) and the reverse order */
		for (int way = 0; way < 3; way++) {
			pl_merkle_incl_run_init(&run, n, root);
			uint64_t proved = 0;
			for (uint64_t k = 0; k < n; k += way == 1 ? 3 : 1) {
				uint64_t i = way == 2 ? n - 1 - k : k;
				assert_int_equal(pl_merkle_prove_inclusion(pl_merkle_mem_get, t, i,
									   n, proof, &plen),
						 0);
				proved += plen;
				assert_int_equal(run_and_plain(&run, leaf[i], i, proof, plen), 0);
				if (i == 0)
					continue;
				/* the neighbour before, with this leaf's proof: refused */
				assert_int_not_equal(
				    run_and_plain(&run, leaf[i - 1], i - 1, proof, plen), 0);
				/* each hash of the proof flipped (those above the join
				 * too: they are compared, not trusted), one hash too
				 * many, one too few, the wrong leaf, the wrong index */
				for (size_t k2 = 0; k2 < plen; k2++) {
					memcpy(buf, proof, plen * H);
					buf[k2 * H + (k2 * 5 + i) % H] ^= 0x10;
					assert_int_equal(run_and_plain(&run, leaf[i], i, buf, plen),
							 PL_ERR_CONFLICT);
				}
				memcpy(buf, proof, plen * H);
				memcpy(buf + plen * H, root, H);
				assert_int_equal(run_and_plain(&run, leaf[i], i, buf, plen + 1),
						 PL_ERR_MALFORMED);
				if (plen)
					assert_int_not_equal(
					    run_and_plain(&run, leaf[i], i, proof, plen - 1), 0);
				assert_int_not_equal(
				    run_and_plain(&run, leaf[i - 1], i, proof, plen), 0);
				assert_int_equal(run_and_plain(&run, leaf[i], n, proof, plen),
						 PL_ERR_MALFORMED);
				/* and the right proof again, after the failures */
				assert_int_equal(run_and_plain(&run, leaf[i], i, proof, plen), 0);
			}
			if (n == N && way == 0) {
				/* 1,000 neighbours: their proofs hold 9,000-odd hashes,
				 * the run hashes about two per leaf */
				assert_true(proved > 8 * N);
				pl_merkle_incl_run_init(&run, n, root);
				for (uint64_t i = 0; i < n; i++) {
					assert_int_equal(
					    pl_merkle_prove_inclusion(pl_merkle_mem_get, t, i, n,
								      proof, &plen),
					    0);
					assert_int_equal(pl_merkle_incl_run_verify(&run, leaf[i], i,
										   proof, plen),
							 0);
				}
				assert_true(run.hashes < 3 * N);
				assert_true(run.hashes >= N);
			}
		}
	}
	pl_merkle_mem_free(t);
}

/* All n <= 64, all indices and all m <= n: the provers give the RFC's proofs,
 * they verify, and any change to a hash, the index or a size makes them fail. */
#define BRUTE_N 64
static void test_brute_force(void **state)
{
	(void)state;
	uint8_t leaf[BRUTE_N][H], roots[BRUTE_N + 1][H];
	pl_merkle_mem *t = pl_merkle_mem_new();
	assert_non_null(t);
	for (int i = 0; i < BRUTE_N; i++) {
		uint8_t e[4] = {'e', (uint8_t)i, (uint8_t)(i * 7), 0};
		assert_int_equal(pl_merkle_mem_append(t, e, sizeof(e)), 0);
		pl_merkle_leaf_hash(leaf[i], e, sizeof(e));
	}
	pl_merkle_empty_root(roots[0]);
	for (uint64_t n = 1; n <= BRUTE_N; n++) {
		uint8_t got[H];
		ref_mth(leaf, 0, n, roots[n]);
		assert_int_equal(pl_merkle_root(pl_merkle_mem_get, t, n, got), 0);
		assert_memory_equal(got, roots[n], H);
	}

	uint8_t proof[PL_MERKLE_MAX_PROOF * H], want[PL_MERKLE_MAX_PROOF * H];
	uint8_t buf[PL_MERKLE_MAX_PROOF * H], bad[H];
	size_t plen, wlen;
	for (uint64_t n = 1; n <= BRUTE_N; n++) {
		for (uint64_t i = 0; i < n; i++) {
			wlen = 0;
			ref_path(leaf, i, 0, n, want, &wlen);
			assert_int_equal(
			    pl_merkle_prove_inclusion(pl_merkle_mem_get, t, i, n, proof, &plen), 0);
			assert_int_equal(plen, wlen);
			if (plen)
				assert_memory_equal(proof, want, plen * H);
			assert_int_equal(
			    pl_merkle_verify_inclusion(leaf[i], i, n, proof, plen, roots[n]), 0);
			/* each hash of the proof, one byte changed */
			for (size_t k = 0; k < plen; k++) {
				memcpy(buf, proof, plen * H);
				buf[k * H + (k * 7 + n) % H] ^= (uint8_t)(1u << (k % 8));
				assert_int_not_equal(
				    pl_merkle_verify_inclusion(leaf[i], i, n, buf, plen, roots[n]),
				    0);
			}
			/* the leaf and the root */
			memcpy(bad, leaf[i], H);
			bad[n % H] ^= 0x80;
			assert_int_not_equal(
			    pl_merkle_verify_inclusion(bad, i, n, proof, plen, roots[n]), 0);
			memcpy(bad, roots[n], H);
			bad[i % H] ^= 0x01;
			assert_int_not_equal(
			    pl_merkle_verify_inclusion(leaf[i], i, n, proof, plen, bad), 0);
			/* any other index */
			for (uint64_t j = 0; j < n + 2; j++)
				if (j != i)
					assert_int_not_equal(
					    pl_merkle_verify_inclusion(leaf[i], j, n, proof, plen,
								       roots[n]),
					    0);
			/* any other size, with that size's true root */
			for (uint64_t n2 = i + 1; n2 <= BRUTE_N; n2++)
				if (n2 != n)
					assert_int_not_equal(
					    pl_merkle_verify_inclusion(leaf[i], i, n2, proof, plen,
								       roots[n2]),
					    0);
		}
		for (uint64_t m = 0; m <= n; m++) {
			wlen = 0;
			if (m > 0 && m < n)
				ref_subproof(leaf, m, 0, n, 1, want, &wlen);
			assert_int_equal(
			    pl_merkle_prove_consistency(pl_merkle_mem_get, t, m, n, proof, &plen),
			    0);
			assert_int_equal(plen, wlen);
			if (plen)
				assert_memory_equal(proof, want, plen * H);
			assert_int_equal(
			    pl_merkle_verify_consistency(m, n, proof, plen, roots[m], roots[n]), 0);
			for (size_t k = 0; k < plen; k++) {
				memcpy(buf, proof, plen * H);
				buf[k * H + (k * 5 + m) % H] ^= (uint8_t)(1u << ((k + m) % 8));
				assert_int_not_equal(pl_merkle_verify_consistency(
							 m, n, buf, plen, roots[m], roots[n]),
						     0);
			}
			memcpy(bad, roots[m], H);
			bad[0] ^= 1;
			assert_int_not_equal(
			    pl_merkle_verify_consistency(m, n, proof, plen, bad, roots[n]), 0);
			if (m == 0)
				continue; /* the empty tree is a prefix of every tree */
			memcpy(bad, roots[n], H);
			bad[31] ^= 1;
			assert_int_not_equal(
			    pl_merkle_verify_consistency(m, n, proof, plen, roots[m], bad), 0);
			/* any other pair of sizes (but the empty tree), with their true roots */
			for (uint64_t m2 = 1; m2 <= n; m2++)
				if (m2 != m)
					assert_int_not_equal(
					    pl_merkle_verify_consistency(m2, n, proof, plen,
									 roots[m2], roots[n]),
					    0);
			for (uint64_t n2 = m; n2 <= BRUTE_N; n2++)
				if (n2 != n)
					assert_int_not_equal(
					    pl_merkle_verify_consistency(m, n2, proof, plen,
									 roots[m], roots[n2]),
					    0);
		}
	}
	pl_merkle_mem_free(t);
}

/* get() is called O(log n) times: popcount(n) for a root, <= 2 ceil(log2 n) (+1)
 * for proofs, for trees up to 100000 leaves; the proofs verify. */
static void test_get_calls_logarithmic(void **state)
{
	(void)state;
	enum { N = 100000 };
	pl_merkle_mem *t = pl_merkle_mem_new();
	assert_non_null(t);
	for (uint32_t i = 0; i < N; i++) {
		uint8_t e[4] = {(uint8_t)i, (uint8_t)(i >> 8), (uint8_t)(i >> 16), 0x77};
		assert_int_equal(pl_merkle_mem_append(t, e, sizeof(e)), 0);
	}
	assert_int_equal(pl_merkle_mem_size(t), N);
	struct counter c = {.t = t};
	uint8_t proof[PL_MERKLE_MAX_PROOF * H], root_n[H], root_m[H], leaf[H];
	size_t plen;
	unsigned long max_incl = 0, max_cons = 0;
	uint64_t sizes[] = {1,    2,    3,    5,    7,     8,     9,     63,    64, 65,
			    1023, 1024, 1025, 4097, 65535, 65536, 65537, 99999, N};
	uint32_t rnd = 12345;
	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]) + 300; s++) {
		uint64_t n;
		if (s < sizeof(sizes) / sizeof(sizes[0])) {
			n = sizes[s];
		} else {
			rnd = rnd * 1103515245u + 12345u;
			n = 1 + (rnd >> 8) % N;
		}
		unsigned long bound = 2 * (unsigned long)ceil_log2(n); /* as transcript.h says */
		c.calls = 0;
		assert_int_equal(pl_merkle_root(counting_get, &c, n, root_n), 0);
		assert_int_equal(c.calls, (unsigned long)__builtin_popcountll(n));
		for (int q = 0; q < 12; q++) {
			rnd = rnd * 1103515245u + 12345u;
			uint64_t i = q == 0 ? 0 : q == 1 ? n - 1 : (rnd >> 4) % n;
			c.calls = 0;
			assert_int_equal(
			    pl_merkle_prove_inclusion(counting_get, &c, i, n, proof, &plen), 0);
			assert_true(c.calls <= bound);
			if (c.calls > max_incl)
				max_incl = c.calls;
			assert_int_equal(pl_merkle_mem_get(t, 0, i, leaf), 0);
			assert_int_equal(
			    pl_merkle_verify_inclusion(leaf, i, n, proof, plen, root_n), 0);

			uint64_t m = q == 0 ? 1 : q == 1 ? n - 1 : 1 + (rnd >> 6) % n;
			c.calls = 0;
			assert_int_equal(
			    pl_merkle_prove_consistency(counting_get, &c, m, n, proof, &plen), 0);
			assert_true(c.calls <= bound + 1);
			if (c.calls > max_cons)
				max_cons = c.calls;
			assert_int_equal(pl_merkle_root(pl_merkle_mem_get, t, m, root_m), 0);
			assert_int_equal(
			    pl_merkle_verify_consistency(m, n, proof, plen, root_m, root_n), 0);
		}
	}
	/* the bound is not vacuous: log2(100000) is about 17 */
	assert_true(max_incl >= 17 && max_incl <= 36);
	assert_true(max_cons >= 17 && max_cons <= 36);
	pl_merkle_mem_free(t);
}

/* ======================================== signed notes */

/* Go's golang.org/x/mod/sumdb/note/note_test.go (BSD-3-Clause): keys, text, signatures. */
#define PETER_VKEY     "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
#define PETER_SKEY_B64 "AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz" /* 0x01 || seed */
#define ENOCH_VKEY     "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
#define GO_TEXT                                                                                    \
	"If you think cryptography is the answer to your problem,\n"                               \
	"then you don't know what your problem is.\n"
#define PETER_SIG                                                                                  \
	EM " PeterNeumann "                                                                        \
	   "x08go/ZJkuBS9UG/"                                                                      \
	   "SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJ"              \
	   "nAM=\n"
#define ENOCH_SIG                                                                                  \
	EM " EnochRoot "                                                                           \
	   "rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/"                                          \
	   "5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvM"                                           \
	   "c+QQ=\n"

/* C2SP signed-note.md, "Verifier keys / Example". */
#define FOO_VKEY "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
#define FOO_NOTE                                                                                   \
	"This is an example message.\n\n" EM " example.com/foo "                                   \
	"Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72Iney" \
	"aQ"                                                                                       \
	"M=\n"

/* C2SP tlog-checkpoint.md / tlog-cosignature.md examples (no public keys published). */
#define SOFA_TEXT                                                                                  \
	"example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
#define SOFA_LOG_SIG                                                                               \
	EM " example.com/behind-the-sofa "                                                         \
	   "Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/"                             \
	   "Zhcyv2q1gGzGku9nTo+zyWE+xeMcTO"                                                        \
	   "AYQ8=\n"
#define SOFA_WITNESS_SIG                                                                           \
	EM " witness.example.com/w1 "                                                              \
	   "jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/"                                                  \
	   "zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe"                                   \
	   "+mbIUBkBIfZ+qnA==\n"

static pl_note_verifier vkey(const char *s)
{
	pl_note_verifier v;
	assert_int_equal(pl_note_verifier_parse(&v, s, strlen(s)), 0);
	return v;
}

static int open_str(const char *note, const pl_note_verifier *vs, size_t nvs, pl_note_result *res,
		    size_t *tlen)
{
	size_t dummy;
	return pl_note_open(u8(note), strlen(note), vs, nvs, tlen ? tlen : &dummy, res);
}

static void key_from_seed_byte(pl_keypair *kp, uint8_t b)
{
	uint8_t seed[PL_SEED_BYTES];
	memset(seed, b, sizeof(seed));
	assert_int_equal(pl_key_from_seed(kp, seed), 0);
}

static void test_note_verifier_keys(void **state)
{
	(void)state;
	pl_note_verifier v = vkey(PETER_VKEY);
	assert_string_equal(v.name, "PeterNeumann");
	assert_int_equal(v.type, PL_NOTE_TYPE_ED25519);
	uint8_t id[4] = {0xc7, 0x4f, 0x20, 0xa3};
	assert_memory_equal(v.key_id, id, 4);
	/* key ID recomputed from name, type and key */
	uint8_t id2[4];
	pl_note_key_id(id2, "PeterNeumann", PL_NOTE_TYPE_ED25519, v.pk);
	assert_memory_equal(id2, id, 4);
	/* formatting gives back the same string */
	pl_buf b = {0};
	assert_int_equal(pl_note_verifier_format(&v, &b), 0);
	assert_int_equal(b.len, strlen(PETER_VKEY));
	assert_memory_equal(b.data, PETER_VKEY, b.len);
	pl_buf_clear(&b);

	/* Go's TestNewVerifier: every proper substring and every byte+1 is refused */
	const char *pk = PETER_VKEY;
	char k[sizeof(PETER_VKEY)];
	size_t n = strlen(pk);
	for (size_t i = 0; i <= n; i++)
		for (size_t j = i + 1; j <= n; j++)
			if (i != 0 || j != n)
				assert_int_not_equal(pl_note_verifier_parse(&v, pk + i, j - i), 0);
	for (size_t i = 0; i < n; i++) {
		memcpy(k, pk, n + 1);
		k[i]++;
		assert_int_not_equal(pl_note_verifier_parse(&v, k, n), 0);
	}
	const char *wrong_len =
	    "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==";
	const char *unknown_alg =
	    "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
	assert_int_equal(pl_note_verifier_parse(&v, wrong_len, strlen(wrong_len)),
			 PL_ERR_MALFORMED);
	assert_int_equal(pl_note_verifier_parse(&v, unknown_alg, strlen(unknown_alg)), PL_ERR_TYPE);
	/* non-ASCII bytes in the base64 part */
	const char *utf =
	    "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4\xc9\x97\xcd\x91";
	assert_int_equal(pl_note_verifier_parse(&v, utf, strlen(utf)), PL_ERR_MALFORMED);
	/* upper-case hex is not the canonical form */
	const char *upper = "PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
	assert_int_equal(pl_note_verifier_parse(&v, upper, strlen(upper)), PL_ERR_MALFORMED);
	/* v was left as the last successful parse */
	assert_string_equal(v.name, "PeterNeumann");

	/* init + format round trip, both types; invalid names refused */
	pl_keypair kp;
	key_from_seed_byte(&kp, 3);
	pl_note_verifier w, w2;
	assert_int_equal(
	    pl_note_verifier_init(&w, "witness.example/w", PL_NOTE_TYPE_COSIG_V1, kp.pk), 0);
	assert_int_equal(pl_note_verifier_format(&w, &b), 0);
	assert_int_equal(pl_note_verifier_parse(&w2, (const char *)b.data, b.len), 0);
	assert_memory_equal(&w, &w2, sizeof(w));
	pl_buf_clear(&b);
	const char *bad_names[] = {"",
				   "a+b",
				   "a b",
				   "a\tb",
				   "a\nb",
				   "a\xc2\xa0"
				   "b",
				   "a\xe3\x80\x80"
				   "b",
				   "\xff"};
	for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
		assert_false(pl_note_name_is_valid(bad_names[i]));
		assert_int_equal(pl_note_verifier_init(&w, bad_names[i], 1, kp.pk), PL_ERR_INVALID);
	}
	char longname[PL_NOTE_NAME_MAX + 2];
	memset(longname, 'a', sizeof(longname) - 1);
	longname[PL_NOTE_NAME_MAX + 1] = 0;
	assert_false(pl_note_name_is_valid(longname));
	longname[PL_NOTE_NAME_MAX] = 0;
	assert_true(pl_note_name_is_valid(longname));
	assert_true(pl_note_name_is_valid("quasimodo.example/salvatore"));
	assert_true(pl_note_name_is_valid("\xc3\xa8-\xe2\x80\x94")); /* UTF-8 letters, dash */
	assert_int_equal(pl_note_verifier_init(&w, "ok", 2, kp.pk), PL_ERR_INVALID);
	pl_key_wipe(&kp);
}

static void test_note_known_answers(void **state)
{
	(void)state;
	pl_note_verifier peter = vkey(PETER_VKEY), enoch = vkey(ENOCH_VKEY), foo = vkey(FOO_VKEY);
	pl_note_result res[2];
	size_t tlen = 0;

	/* Go TestOpen: one signature verified, one by an unknown key ignored */
	assert_int_equal(open_str(GO_TEXT "\n" PETER_SIG ENOCH_SIG, &peter, 1, res, &tlen), 0);
	assert_int_equal(tlen, strlen(GO_TEXT));
	assert_true(res[0].verified);
	assert_int_equal(res[0].time, 0);
	/* both verified */
	pl_note_verifier both[2] = {peter, enoch};
	assert_int_equal(open_str(GO_TEXT "\n" PETER_SIG ENOCH_SIG, both, 2, res, NULL), 0);
	assert_true(res[0].verified && res[1].verified);
	/* only Enoch signed: results say who */
	assert_int_equal(open_str(GO_TEXT "\n" ENOCH_SIG, both, 2, res, NULL), 0);
	assert_false(res[0].verified);
	assert_true(res[1].verified);
	/* no known key */
	assert_int_equal(open_str(GO_TEXT "\n" PETER_SIG ENOCH_SIG, NULL, 0, NULL, NULL),
			 PL_ERR_BAD_SIGNATURE);
	assert_int_equal(open_str(GO_TEXT "\n" ENOCH_SIG, &peter, 1, res, NULL),
			 PL_ERR_BAD_SIGNATURE);
	/* duplicated signatures and unverified ones are fine */
	assert_int_equal(
	    open_str(GO_TEXT "\n" PETER_SIG PETER_SIG ENOCH_SIG ENOCH_SIG, &peter, 1, res, NULL),
	    0);
	/* C2SP signed-note example */
	assert_int_equal(open_str(FOO_NOTE, &foo, 1, res, &tlen), 0);
	assert_int_equal(tlen, strlen("This is an example message.\n"));
	assert_int_equal(open_str(FOO_NOTE, &peter, 1, res, NULL), PL_ERR_BAD_SIGNATURE);

	/* one changed byte anywhere (text, blank line, signature line) and it fails */
	const char *notes[] = {GO_TEXT "\n" PETER_SIG, FOO_NOTE};
	const pl_note_verifier *keys[] = {&peter, &foo};
	for (int k = 0; k < 2; k++) {
		size_t n = strlen(notes[k]);
		uint8_t *m = malloc(n);
		assert_non_null(m);
		for (size_t i = 0; i < n; i++) {
			memcpy(m, notes[k], n);
			m[i] ^= 0x01;
			assert_int_not_equal(pl_note_open(m, n, keys[k], 1, &tlen, NULL), 0);
		}
		/* and the signature check is what catches a text change */
		memcpy(m, notes[k], n);
		m[3] ^= 0x01;
		assert_int_equal(pl_note_open(m, n, keys[k], 1, &tlen, NULL), PL_ERR_BAD_SIGNATURE);
		free(m);
	}

	/* Go TestSign: our signer on Peter's seed gives Go's bytes exactly */
	uint8_t sk[33];
	size_t got;
	assert_int_equal(
	    pl_b64_decode(sk, sizeof(sk), &got, PETER_SKEY_B64, strlen(PETER_SKEY_B64)), 0);
	assert_int_equal(got, 33);
	assert_int_equal(sk[0], 1);
	pl_keypair kp;
	assert_int_equal(pl_key_from_seed(&kp, sk + 1), 0);
	assert_memory_equal(kp.pk, peter.pk, PL_PK_BYTES);
	pl_buf b = {0};
	assert_int_equal(pl_buf_append_str(&b, "prefix kept:"), 0);
	assert_int_equal(pl_note_sign(&b, u8(GO_TEXT), strlen(GO_TEXT), "PeterNeumann", &kp), 0);
	const char *want = "prefix kept:" GO_TEXT "\n" PETER_SIG;
	assert_int_equal(b.len, strlen(want));
	assert_memory_equal(b.data, want, b.len);
	/* bad inputs leave the buffer alone */
	size_t before = b.len;
	assert_int_equal(pl_note_sign(&b, u8("abc"), 3, "PeterNeumann", &kp), PL_ERR_MALFORMED);
	assert_int_equal(pl_note_sign(&b, u8(GO_TEXT), strlen(GO_TEXT), "a+b", &kp),
			 PL_ERR_INVALID);
	assert_int_equal(pl_note_sign(&b, u8(GO_TEXT), strlen(GO_TEXT), "bad name", &kp),
			 PL_ERR_INVALID);
	assert_int_equal(pl_note_sign(&b, u8("a\tb\n"), 4, "PeterNeumann", &kp), PL_ERR_MALFORMED);
	assert_int_equal(pl_note_sign(&b, NULL, 0, "PeterNeumann", &kp), PL_ERR_MALFORMED);
	assert_int_equal(b.len, before);
	pl_buf_clear(&b);
	pl_key_wipe(&kp);
}

static void test_note_malformed(void **state)
{
	(void)state;
	pl_note_verifier peter = vkey(PETER_VKEY);
	/* Go TestOpen's bad messages */
	const char *bad[] = {
	    GO_TEXT,
	    GO_TEXT "\n",
	    "\x01" GO_TEXT "\n" PETER_SIG,
	    "\xff" GO_TEXT "\n" PETER_SIG,
	    GO_TEXT "\n" EM " Bad Name "
		    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpR"
		    "Zb6KE6RyyBwJnAM=",
	    GO_TEXT "\n" PETER_SIG "Unexpected line.\n",
	    /* ours: control characters, bad UTF-8, line shapes */
	    "a\tb\n\n" PETER_SIG,
	    "a\rb\n\n" PETER_SIG,
	    "a\xc0\xaf\n\n" PETER_SIG,         /* overlong */
	    "a\xe0\x80\xaf\n\n" PETER_SIG,     /* overlong, 3 bytes */
	    "a\xf0\x80\x80\xaf\n\n" PETER_SIG, /* overlong, 4 bytes */
	    "a\x80\n\n" PETER_SIG,             /* stray continuation byte */
	    "a\xed\xa0\x80\n\n" PETER_SIG,     /* surrogate */
	    "a\xf4\x90\x80\x80\n\n" PETER_SIG, /* above U+10FFFF */
	    "a\xe2\x80\n\n" PETER_SIG,         /* truncated sequence */
	    GO_TEXT "\n- PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2p"
		    "ZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n",
	    GO_TEXT "\n" EM " PeterNeumann\n",
	    GO_TEXT "\n" EM " PeterNeumann \n",
	    GO_TEXT "\n" EM "  x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvq"
		    "fqdngotpRZb6KE6RyyBwJnAM=\n",
	    GO_TEXT "\n" EM " PeterNeumann AAAAAA==\n",    /* 4 bytes: key ID only */
	    GO_TEXT "\n" EM " PeterNeumann x08go/ZJ!\n",   /* bad base64 */
	    GO_TEXT "\n" EM " PeterNeumann x08go/ZJkuB\n", /* unpadded */
	    GO_TEXT "\n" EM " PeterNeumann \xc9\x97\xcd\x91x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8"
		    "pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n",
	    GO_TEXT "\n" EM " Peter+Neumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN"
		    "1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n",
	    GO_TEXT "\n" PETER_SIG "\n",
	    "\n" EM " x\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = open_str(bad[i], &peter, 1, NULL, NULL);
		if (rc != PL_ERR_MALFORMED)
			fprintf(stderr, "bad[%zu]: %d (%s)\n", i, rc, pl_err_detail());
		assert_int_equal(rc, PL_ERR_MALFORMED);
	}
	/* no trailing newline after the signature */
	const char *cut = GO_TEXT "\n" PETER_SIG;
	size_t tlen;
	assert_int_equal(pl_note_open(u8(cut), strlen(cut) - 1, &peter, 1, &tlen, NULL),
			 PL_ERR_MALFORMED);
	/* a NUL byte is a control character */
	const char nul[] = "a\0b\n\n";
	assert_int_equal(pl_note_open(u8(nul), sizeof(nul) - 1, &peter, 1, &tlen, NULL),
			 PL_ERR_MALFORMED);
	/* Go: a known key's invalid signature rejects the whole note */
	char inv[512];
	const char *ps = PETER_SIG;
	int k = snprintf(inv, sizeof(inv), "%s\n%.60sABCD%s", GO_TEXT, ps, ps + 60);
	assert_true(k > 0 && (size_t)k < sizeof(inv));
	assert_int_equal(open_str(inv, &peter, 1, NULL, NULL), PL_ERR_BAD_SIGNATURE);
	/* and so does a bad duplicate next to a good one */
	k = snprintf(inv, sizeof(inv), "%s\n%s%.60sABCD%s", GO_TEXT, ps, ps, ps + 60);
	assert_true(k > 0 && (size_t)k < sizeof(inv));
	assert_int_equal(open_str(inv, &peter, 1, NULL, NULL), PL_ERR_BAD_SIGNATURE);
	/* a valid signature with bytes appended is not a valid signature */
	uint8_t raw[80];
	size_t rawlen;
	const char *pv = &PETER_SIG[strlen(EM " PeterNeumann ")];
	assert_int_equal(pl_b64_decode(raw, sizeof(raw), &rawlen, pv, strlen(pv) - 1), 0);
	assert_int_equal(rawlen, 68);
	raw[68] = 0;
	char b64[128];
	pl_b64_encode(b64, raw, 69);
	k = snprintf(inv, sizeof(inv), "%s\n" EM " PeterNeumann %s\n", GO_TEXT, b64);
	assert_true(k > 0 && (size_t)k < sizeof(inv));
	assert_int_equal(open_str(inv, &peter, 1, NULL, NULL), PL_ERR_BAD_SIGNATURE);
	/* uninitialised verifiers are a caller bug */
	pl_note_verifier zero;
	memset(&zero, 0, sizeof(zero));
	assert_int_equal(open_str(GO_TEXT "\n" PETER_SIG, &zero, 1, NULL, NULL), PL_ERR_INVALID);
}

/* Unknown keys (even sharing a name or a key ID with a known one) are ignored;
 * at least 16 signatures are accepted; more than 100 lines and more than 1 MiB
 * are refused. */
static void test_note_signers_and_limits(void **state)
{
	(void)state;
	enum { K = 16 };
	const char *text = "Parley test note\n\nwith an empty line in the text\n";
	size_t tlen = strlen(text);
	pl_keypair kp[K];
	pl_note_verifier v[K];
	pl_buf note = {0}, one = {0};
	for (int i = 0; i < K; i++) {
		char name[32];
		snprintf(name, sizeof(name), "signer%d.example/key", i);
		key_from_seed_byte(&kp[i], (uint8_t)(0x40 + i));
		assert_int_equal(pl_note_verifier_init(&v[i], name, PL_NOTE_TYPE_ED25519, kp[i].pk),
				 0);
		pl_buf_reset(&one);
		assert_int_equal(pl_note_sign(&one, u8(text), tlen, name, &kp[i]), 0);
		/* deterministic */
		pl_buf again = {0};
		assert_int_equal(pl_note_sign(&again, u8(text), tlen, name, &kp[i]), 0);
		assert_int_equal(again.len, one.len);
		assert_memory_equal(again.data, one.data, one.len);
		pl_buf_clear(&again);
		if (i == 0)
			assert_int_equal(pl_buf_append(&note, one.data, one.len), 0);
		else
			assert_int_equal(
			    pl_buf_append(&note, one.data + tlen + 1, one.len - tlen - 1), 0);
	}
	pl_note_result res[K];
	size_t got;
	assert_int_equal(pl_note_open(note.data, note.len, v, K, &got, res), 0);
	assert_int_equal(got, tlen);
	for (int i = 0; i < K; i++)
		assert_true(res[i].verified);
	/* a verifier list with only some of them */
	assert_int_equal(pl_note_open(note.data, note.len, v + 5, 3, &got, res), 0);
	assert_true(res[0].verified && res[1].verified && res[2].verified);

	/* same name, other key; same key, other name: both unknown, so ignored... */
	pl_note_verifier same_name, same_id;
	assert_int_equal(pl_note_verifier_init(&same_name, v[0].name, 1, kp[1].pk), 0);
	same_id = v[1];
	memcpy(same_id.name, "other.example/key", sizeof("other.example/key"));
	pl_note_verifier mix[2] = {same_name, v[2]};
	assert_int_equal(pl_note_open(note.data, note.len, mix, 2, &got, res), 0);
	assert_false(res[0].verified);
	assert_true(res[1].verified);
	/* ...and alone they leave no known signature */
	assert_int_equal(pl_note_open(note.data, note.len, &same_name, 1, &got, res),
			 PL_ERR_BAD_SIGNATURE);
	assert_int_equal(pl_note_open(note.data, note.len, &same_id, 1, &got, res),
			 PL_ERR_BAD_SIGNATURE);
	/* a known name and ID with the wrong key: the signature fails, the note is rejected */
	pl_note_verifier wrong_key = v[3];
	memcpy(wrong_key.pk, kp[4].pk, PL_PK_BYTES);
	assert_int_equal(pl_note_open(note.data, note.len, &wrong_key, 1, &got, res),
			 PL_ERR_BAD_SIGNATURE);

	/* 100 signature lines pass, 101 do not */
	const char *line = (const char *)one.data + tlen + 1; /* signer 15's line */
	size_t llen = one.len - tlen - 1;
	pl_buf many = {0};
	assert_int_equal(pl_buf_append(&many, text, tlen), 0);
	assert_int_equal(pl_buf_append(&many, "\n", 1), 0);
	for (int i = 0; i < PL_NOTE_MAX_SIGS; i++)
		assert_int_equal(pl_buf_append(&many, line, llen), 0);
	assert_int_equal(pl_note_open(many.data, many.len, &v[K - 1], 1, &got, res), 0);
	assert_int_equal(pl_buf_append(&many, line, llen), 0);
	assert_int_equal(pl_note_open(many.data, many.len, &v[K - 1], 1, &got, res), PL_ERR_LIMIT);
	/* 101 lines by unknown keys: still refused */
	assert_int_equal(pl_note_open(many.data, many.len, &v[0], 1, &got, res), PL_ERR_LIMIT);

	/* size: a note of exactly 1 MiB opens; one byte more does not; signing refuses too */
	pl_buf big = {0};
	size_t body = PL_NOTE_MAX_BYTES - 1 - llen;
	assert_int_equal(pl_buf_reserve(&big, PL_NOTE_MAX_BYTES + 2), 0);
	memset(big.data, 'x', body - 1);
	big.data[body - 1] = '\n';
	big.len = body;
	pl_buf signed_big = {0};
	int rc = pl_note_sign(&signed_big, big.data, big.len, v[K - 1].name, &kp[K - 1]);
	assert_int_equal(rc, 0);
	assert_int_equal(signed_big.len, PL_NOTE_MAX_BYTES);
	assert_int_equal(pl_note_open(signed_big.data, signed_big.len, &v[K - 1], 1, &got, res), 0);
	pl_buf_reset(&signed_big);
	big.data[body - 1] = 'x';
	big.data[body] = '\n';
	big.len = body + 1;
	assert_int_equal(pl_note_sign(&signed_big, big.data, big.len, v[K - 1].name, &kp[K - 1]),
			 PL_ERR_LIMIT);
	assert_int_equal(signed_big.len, 0);
	/* build the over-size note by hand */
	assert_int_equal(pl_buf_append(&big, "\n", 1), 0);
	assert_int_equal(pl_buf_append(&big, line, llen), 0);
	assert_int_equal(big.len, PL_NOTE_MAX_BYTES + 1);
	assert_int_equal(pl_note_open(big.data, big.len, &v[K - 1], 1, &got, res), PL_ERR_LIMIT);

	pl_buf_clear(&big);
	pl_buf_clear(&signed_big);
	pl_buf_clear(&many);
	pl_buf_clear(&note);
	pl_buf_clear(&one);
	for (int i = 0; i < K; i++)
		pl_key_wipe(&kp[i]);
}

/* ======================================== checkpoints */

static void test_checkpoint_round_trip(void **state)
{
	(void)state;
	pl_checkpoint cp;
	/* the C2SP tlog-checkpoint example */
	assert_int_equal(pl_checkpoint_parse(&cp, u8(SOFA_TEXT), strlen(SOFA_TEXT)), 0);
	assert_string_equal(cp.origin, "example.com/behind-the-sofa");
	assert_int_equal(cp.size, 20852163);
	uint8_t root[H];
	size_t got;
	assert_int_equal(
	    pl_b64_decode(root, H, &got, "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=", 44), 0);
	assert_memory_equal(cp.root, root, H);
	assert_null(cp.ext);
	assert_int_equal(cp.ext_len, 0);
	pl_buf b = {0};
	assert_int_equal(pl_checkpoint_format(&cp, &b), 0);
	assert_int_equal(b.len, strlen(SOFA_TEXT));
	assert_memory_equal(b.data, SOFA_TEXT, b.len);
	pl_buf_reset(&b);

	/* with extension lines; size 0 and 2^64-1 */
	const char *texts[] = {
	    "tehran.parley.example/transcript\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n",
	    "o\n18446744073709551615\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
	    ("log.example/x\n7\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\next one\n"
	     "\xe2\x80\x94 ext two\n"),
	};
	for (size_t i = 0; i < 3; i++) {
		size_t n = strlen(texts[i]);
		assert_int_equal(pl_checkpoint_parse(&cp, u8(texts[i]), n), 0);
		pl_buf_reset(&b);
		assert_int_equal(pl_checkpoint_format(&cp, &b), 0);
		assert_int_equal(b.len, n);
		assert_memory_equal(b.data, texts[i], n);
	}
	assert_int_equal(cp.size, 7);
	assert_int_equal(cp.ext_len, strlen("ext one\n\xe2\x80\x94 ext two\n"));
	assert_ptr_equal(cp.ext, u8(texts[2]) + strlen(texts[2]) - cp.ext_len);
	pl_buf_clear(&b);
}

static void test_checkpoint_rejects(void **state)
{
	(void)state;
	const struct {
		const char *text;
		int rc;
	} bad[] = {
	    {"example.com/x\n020852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
	     PL_ERR_MALFORMED}, /* leading zero */
	    {"example.com/x\n00\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n", PL_ERR_MALFORMED},
	    {"example.com/x\n-1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n", PL_ERR_MALFORMED},
	    {"example.com/x\n+1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n", PL_ERR_MALFORMED},
	    {"example.com/x\n 1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n", PL_ERR_MALFORMED},
	    {"example.com/x\n1 \nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n", PL_ERR_MALFORMED},
	    {"example.com/x\n0x10\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
	     PL_ERR_MALFORMED},
	    {"example.com/x\n\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n", PL_ERR_MALFORMED},
	    {"example.com/x\n18446744073709551616\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
	     PL_ERR_MALFORMED}, /* 2^64 */
	    {"example.com/x\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I\n",
	     PL_ERR_MALFORMED}, /* unpadded */
	    {"example.com/x\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2!=\n",
	     PL_ERR_MALFORMED}, /* bad character */
	    {"example.com/x\n1\nCsUYapGGPo4dkMgIAUqom/Xajj\xc9\x97\xcd\x91"
	     "B2MPA3j2jxq2I=\n",
	     PL_ERR_MALFORMED}, /* UTF-8 letters where base64 belongs (found by fuzzing) */
	    {"example.com/x\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2J=\n",
	     PL_ERR_MALFORMED}, /* non-zero trailing bits */
	    {"example.com/x\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jx\n",
	     PL_ERR_MALFORMED}, /* not a multiple of 4 */
	    {"example.com/x\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2j=\n",
	     PL_ERR_MALFORMED}, /* 29 bytes */
	    {"example.com/x\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I2\n",
	     PL_ERR_MALFORMED}, /* 33 bytes */
	    {"example.com/x\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2JAAAA=\n",
	     PL_ERR_MALFORMED}, /* 34 bytes */
	    {"example.com/x\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=",
	     PL_ERR_MALFORMED}, /* no final newline */
	    {"example.com/x\n1\n", PL_ERR_MALFORMED},
	    {"example.com/x\n1", PL_ERR_MALFORMED},
	    {"", PL_ERR_MALFORMED},
	    {"\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n", PL_ERR_MALFORMED},
	    {"example.com/x\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n",
	     PL_ERR_MALFORMED}, /* empty extension line */
	    {"example.com/x\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\next\n\nmore\n",
	     PL_ERR_MALFORMED},
	    {"example.com/x\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\next",
	     PL_ERR_MALFORMED},
	    {"exa\tmple\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n", PL_ERR_MALFORMED},
	    {"example\r\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n", PL_ERR_MALFORMED},
	    {"exa\xffmple\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n", PL_ERR_MALFORMED},
	};
	pl_checkpoint cp;
	memset(&cp, 0x77, sizeof(cp));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = pl_checkpoint_parse(&cp, u8(bad[i].text), strlen(bad[i].text));
		if (rc != bad[i].rc)
			fprintf(stderr, "bad[%zu]: %d (%s)\n", i, rc, pl_err_detail());
		assert_int_equal(rc, bad[i].rc);
		assert_int_equal(cp.size, 0x7777777777777777ull); /* untouched */
	}
	/* origin: any characters on parse (the spec forbids assuming more), up to 255 bytes */
	const char *spaced =
	    "my log+1 \xe2\x80\x94\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
	assert_int_equal(pl_checkpoint_parse(&cp, u8(spaced), strlen(spaced)), 0);
	assert_string_equal(cp.origin, "my log+1 \xe2\x80\x94");
	/* but Parley only writes key-name origins */
	pl_buf b = {0};
	assert_int_equal(pl_checkpoint_format(&cp, &b), PL_ERR_INVALID);
	assert_int_equal(b.len, 0);
	char longo[300 + 64];
	memset(longo, 'o', 256);
	memcpy(longo + 256, "\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n", 49);
	assert_int_equal(pl_checkpoint_parse(&cp, u8(longo), 256 + 48), PL_ERR_LIMIT);
	assert_int_equal(pl_checkpoint_parse(&cp, u8(longo + 1), 255 + 48), 0);
	/* format refuses bad extension lines */
	memcpy(cp.origin, "ok.example", 11);
	cp.ext = u8("no newline");
	cp.ext_len = 10;
	assert_int_equal(pl_checkpoint_format(&cp, &b), PL_ERR_INVALID);
	cp.ext = u8("a\n\nb\n");
	cp.ext_len = 5;
	assert_int_equal(pl_checkpoint_format(&cp, &b), PL_ERR_INVALID);
	cp.ext = u8("a\tb\n");
	cp.ext_len = 4;
	assert_int_equal(pl_checkpoint_format(&cp, &b), PL_ERR_INVALID);
	assert_int_equal(b.len, 0);
	pl_buf_clear(&b);
}

/* The C2SP examples' signature lines are well-formed notes; we hold no key for
 * them, so they open as "no known signature", not as malformed. */
static void test_checkpoint_c2sp_examples(void **state)
{
	(void)state;
	pl_note_verifier peter = vkey(PETER_VKEY);
	const char *note = SOFA_TEXT "\n" SOFA_LOG_SIG SOFA_WITNESS_SIG;
	assert_int_equal(open_str(note, &peter, 1, NULL, NULL), PL_ERR_BAD_SIGNATURE);
	/* a verifier with the example's name and key ID but some key: it is checked, and fails */
	pl_note_verifier w;
	memset(&w, 0, sizeof(w));
	memcpy(w.name, "witness.example.com/w1", sizeof("witness.example.com/w1"));
	w.type = PL_NOTE_TYPE_COSIG_V1;
	uint8_t id[4] = {0x8d, 0x66, 0xcf, 0x3f}; /* first bytes of the example's value */
	memcpy(w.key_id, id, 4);
	memcpy(w.pk, peter.pk, PL_PK_BYTES);
	assert_int_equal(open_str(note, &w, 1, NULL, NULL), PL_ERR_BAD_SIGNATURE);
	assert_string_equal(pl_err_detail(),
			    "note: signature by known key witness.example.com/w1+8d66cf3f does not "
			    "verify");
	/* the witness example's value: key ID, then time 1679315147 (the time in the spec's
	 * example message), then 64 signature bytes */
	const char *b64 =
	    "jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZ"
	    "qhf5nNo0xUe+mbIUBkBIfZ+qnA==";
	uint8_t raw[80];
	size_t n;
	assert_int_equal(pl_b64_decode(raw, sizeof(raw), &n, b64, strlen(b64)), 0);
	assert_int_equal(n, 4 + 8 + 64);
	uint64_t t = 0;
	for (int i = 0; i < 8; i++)
		t = t << 8 | raw[4 + i];
	assert_int_equal(t, 1679315147);
	pl_checkpoint cp;
	size_t tlen;
	assert_int_equal(pl_note_open(u8(note), strlen(note), &w, 1, &tlen, NULL),
			 PL_ERR_BAD_SIGNATURE);
	assert_int_equal(pl_checkpoint_parse(&cp, u8(note), strlen(SOFA_TEXT)), 0);
}

static void test_checkpoint_signed(void **state)
{
	(void)state;
	pl_keypair log;
	key_from_seed_byte(&log, 0x11);
	pl_note_verifier lv;
	const char *origin = "tehran.parley.example/transcript";
	assert_int_equal(pl_note_verifier_init(&lv, origin, PL_NOTE_TYPE_ED25519, log.pk), 0);
	pl_checkpoint cp = {.size = 3};
	memcpy(cp.origin, origin, strlen(origin) + 1);
	memset(cp.root, 0xab, H);
	pl_buf text = {0}, note = {0};
	assert_int_equal(pl_checkpoint_format(&cp, &text), 0);
	assert_int_equal(pl_note_sign(&note, text.data, text.len, origin, &log), 0);
	pl_checkpoint got;
	pl_note_result r;
	assert_int_equal(pl_checkpoint_open(&got, note.data, note.len, &lv, 1, &r), 0);
	assert_true(r.verified);
	assert_string_equal(got.origin, origin);
	assert_int_equal(got.size, 3);
	assert_memory_equal(got.root, cp.root, H);
	/* a signed note that is not a checkpoint */
	pl_buf other = {0};
	assert_int_equal(pl_note_sign(&other, u8("hello\n"), 6, origin, &log), 0);
	assert_int_equal(pl_checkpoint_open(&got, other.data, other.len, &lv, 1, &r),
			 PL_ERR_MALFORMED);
	pl_buf_clear(&other);
	pl_buf_clear(&text);
	pl_buf_clear(&note);
	pl_key_wipe(&log);
}

/* ======================================== cosignatures */

static void test_cosig_message_layout(void **state)
{
	(void)state;
	/* tlog-cosignature.md, "Ed25519 signed message" example */
	const char *want = "cosignature/v1\ntime 1679315147\n"
			   "example.com/behind-the-sofa\n20852163\n"
			   "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
	pl_buf b = {0};
	assert_int_equal(pl_cosig_message(&b, u8(SOFA_TEXT), strlen(SOFA_TEXT), 1679315147), 0);
	assert_int_equal(b.len, strlen(want));
	assert_memory_equal(b.data, want, b.len);
	pl_buf_reset(&b);
	assert_int_equal(pl_cosig_message(&b, u8(SOFA_TEXT), strlen(SOFA_TEXT), 0), 0);
	assert_memory_equal(b.data, "cosignature/v1\ntime 0\nexample.com/", 34);
	pl_buf_reset(&b);
	assert_int_equal(pl_cosig_message(&b, u8(SOFA_TEXT), strlen(SOFA_TEXT), INT64_MAX), 0);
	assert_memory_equal(b.data, "cosignature/v1\ntime 9223372036854775807\nexample", 47);
	pl_buf_reset(&b);
	assert_int_equal(pl_cosig_message(&b, u8(SOFA_TEXT), strlen(SOFA_TEXT), -1),
			 PL_ERR_INVALID);
	assert_int_equal(b.len, 0);
	pl_buf_clear(&b);
}

/* Known answer computed independently with Python's 'cryptography' package
 * from the spec's layout: seed 01 02 .. 20, name witness.example/w1, the
 * spec's example checkpoint, time 1679315147. */
#define KAT_WITNESS_VKEY "witness.example/w1+468d99bb+BHm1Vi6P5lT5QHixEuipi6eQH4U65pW+1+DjkQutBJZk"
#define KAT_WITNESS_LINE                                                                           \
	EM " witness.example/w1 "                                                                  \
	   "Ro2ZuwAAAABkGFDLQB2dbiQ7rPMIDjq/"                                                      \
	   "twq5Ixt42T+awjiYS4+fxrnLnI31x5abVjZlhDVvZAcRRLyAiG4oQlh"                               \
	   "Tgi4DsxiPwiDaDg==\n"

static void test_cosig_sign_verify(void **state)
{
	(void)state;
	uint8_t seed[32];
	for (int i = 0; i < 32; i++)
		seed[i] = (uint8_t)(i + 1);
	pl_keypair wk;
	assert_int_equal(pl_key_from_seed(&wk, seed), 0);
	pl_note_verifier wv;
	assert_int_equal(
	    pl_note_verifier_init(&wv, "witness.example/w1", PL_NOTE_TYPE_COSIG_V1, wk.pk), 0);
	pl_buf b = {0};
	assert_int_equal(pl_note_verifier_format(&wv, &b), 0);
	assert_int_equal(b.len, strlen(KAT_WITNESS_VKEY));
	assert_memory_equal(b.data, KAT_WITNESS_VKEY, b.len);
	pl_buf_reset(&b);

	/* the line, byte for byte */
	assert_int_equal(pl_cosig_sign(&b, u8(SOFA_TEXT), strlen(SOFA_TEXT), "witness.example/w1",
				       &wk, 1679315147),
			 0);
	assert_int_equal(b.len, strlen(KAT_WITNESS_LINE));
	assert_memory_equal(b.data, KAT_WITNESS_LINE, b.len);

	/* its value is key ID (type 4) || big-endian time || Ed25519 over the message */
	const char *val = strchr(KAT_WITNESS_LINE, ' ') + 1;
	val = strchr(val, ' ') + 1;
	uint8_t raw[80];
	size_t n;
	assert_int_equal(pl_b64_decode(raw, sizeof(raw), &n, val, strlen(val) - 1), 0);
	assert_int_equal(n, 76);
	assert_memory_equal(raw, wv.key_id, 4);
	const uint8_t be[8] = {0, 0, 0, 0, 0x64, 0x18, 0x50, 0xcb};
	assert_memory_equal(raw + 4, be, 8);
	pl_buf msg = {0};
	assert_int_equal(pl_cosig_message(&msg, u8(SOFA_TEXT), strlen(SOFA_TEXT), 1679315147), 0);
	assert_int_equal(pl_verify(raw + 12, msg.data, msg.len, wk.pk), 0);
	pl_buf_clear(&msg);

	/* a log-signed checkpoint with the witness line appended */
	pl_keypair lk;
	key_from_seed_byte(&lk, 0x22);
	pl_note_verifier lv;
	assert_int_equal(
	    pl_note_verifier_init(&lv, "example.com/behind-the-sofa", PL_NOTE_TYPE_ED25519, lk.pk),
	    0);
	pl_buf note = {0};
	assert_int_equal(pl_note_sign(&note, u8(SOFA_TEXT), strlen(SOFA_TEXT),
				      "example.com/behind-the-sofa", &lk),
			 0);
	assert_int_equal(pl_buf_append(&note, b.data, b.len), 0);
	int64_t t = -5;
	pl_checkpoint cp;
	assert_int_equal(pl_cosig_verify(note.data, note.len, &wv, &t, &cp), 0);
	assert_int_equal(t, 1679315147);
	assert_int_equal(cp.size, 20852163);
	/* both at once; the results tell them apart */
	pl_note_verifier both[2] = {lv, wv};
	pl_note_result res[2];
	size_t tlen;
	assert_int_equal(pl_note_open(note.data, note.len, both, 2, &tlen, res), 0);
	assert_true(res[0].verified && res[1].verified);
	assert_int_equal(res[0].time, 0);
	assert_int_equal(res[1].time, 1679315147);
	/* two cosignatures by the same witness: the later time is reported, in either order */
	pl_buf two = {0};
	assert_int_equal(pl_buf_append(&two, note.data, note.len), 0);
	assert_int_equal(pl_cosig_sign(&two, u8(SOFA_TEXT), strlen(SOFA_TEXT), "witness.example/w1",
				       &wk, 1700000000),
			 0);
	assert_int_equal(pl_cosig_verify(two.data, two.len, &wv, &t, NULL), 0);
	assert_int_equal(t, 1700000000);
	pl_buf_reset(&two);
	assert_int_equal(pl_buf_append(&two, note.data, note.len - b.len), 0);
	assert_int_equal(pl_cosig_sign(&two, u8(SOFA_TEXT), strlen(SOFA_TEXT), "witness.example/w1",
				       &wk, 1700000000),
			 0);
	assert_int_equal(pl_buf_append(&two, b.data, b.len), 0);
	assert_int_equal(pl_cosig_verify(two.data, two.len, &wv, &t, NULL), 0);
	assert_int_equal(t, 1700000000);
	pl_buf_clear(&two);
	/* the witness key as a plain Ed25519 verifier has another key ID: unknown */
	pl_note_verifier as_ed;
	assert_int_equal(
	    pl_note_verifier_init(&as_ed, "witness.example/w1", PL_NOTE_TYPE_ED25519, wk.pk), 0);
	assert_int_equal(pl_note_open(note.data, note.len, &as_ed, 1, &tlen, res),
			 PL_ERR_BAD_SIGNATURE);
	assert_int_equal(pl_cosig_verify(note.data, note.len, &as_ed, &t, NULL), PL_ERR_INVALID);

	/* another time in the line: the signature fails */
	uint8_t forged[76];
	memcpy(forged, raw, 76);
	forged[11] ^= 1;
	char fb64[128];
	pl_b64_encode(fb64, forged, 76);
	pl_buf fnote = {0};
	assert_int_equal(pl_note_sign(&fnote, u8(SOFA_TEXT), strlen(SOFA_TEXT),
				      "example.com/behind-the-sofa", &lk),
			 0);
	assert_int_equal(pl_buf_printf(&fnote, EM " witness.example/w1 %s\n", fb64), 0);
	t = -5;
	assert_int_equal(pl_cosig_verify(fnote.data, fnote.len, &wv, &t, NULL),
			 PL_ERR_BAD_SIGNATURE);
	assert_int_equal(t, -5);
	/* a time over 2^63-1 is refused */
	memcpy(forged, raw, 76);
	forged[4] = 0x80;
	pl_b64_encode(fb64, forged, 76);
	pl_buf_reset(&fnote);
	assert_int_equal(
	    pl_buf_printf(&fnote, "%s\n" EM " witness.example/w1 %s\n", SOFA_TEXT, fb64), 0);
	assert_int_equal(pl_cosig_verify(fnote.data, fnote.len, &wv, &t, NULL),
			 PL_ERR_BAD_SIGNATURE);
	/* a wrong length (an Ed25519 signature without the time) is refused */
	memcpy(forged, raw, 4);
	memcpy(forged + 4, raw + 12, 64);
	pl_b64_encode(fb64, forged, 68);
	pl_buf_reset(&fnote);
	assert_int_equal(
	    pl_buf_printf(&fnote, "%s\n" EM " witness.example/w1 %s\n", SOFA_TEXT, fb64), 0);
	assert_int_equal(pl_cosig_verify(fnote.data, fnote.len, &wv, &t, NULL),
			 PL_ERR_BAD_SIGNATURE);
	/* a valid cosignature with a byte appended is refused */
	uint8_t longer[77];
	memcpy(longer, raw, 76);
	longer[76] = 0;
	pl_b64_encode(fb64, longer, 77);
	pl_buf_reset(&fnote);
	assert_int_equal(
	    pl_buf_printf(&fnote, "%s\n" EM " witness.example/w1 %s\n", SOFA_TEXT, fb64), 0);
	assert_int_equal(pl_cosig_verify(fnote.data, fnote.len, &wv, &t, NULL),
			 PL_ERR_BAD_SIGNATURE);
	/* an altered checkpoint: the cosignature fails */
	const char *altered = "example.com/behind-the-sofa\n20852164\n"
			      "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
	pl_buf_reset(&fnote);
	assert_int_equal(pl_buf_printf(&fnote, "%s\n%s", altered, (const char *)b.data), 0);
	assert_int_equal(pl_cosig_verify(fnote.data, fnote.len, &wv, &t, NULL),
			 PL_ERR_BAD_SIGNATURE);
	/* a cosigned note that is not a checkpoint is refused by pl_cosig_verify */
	pl_buf_reset(&fnote);
	pl_buf cl = {0};
	/* build a cosignature over a non-checkpoint by hand, with the spec's message */
	assert_int_equal(pl_cosig_message(&cl, u8("hello\n"), 6, 5), 0);
	uint8_t sraw[76];
	memcpy(sraw, wv.key_id, 4);
	memset(sraw + 4, 0, 8);
	sraw[11] = 5;
	assert_int_equal(pl_sign(sraw + 12, cl.data, cl.len, &wk), 0);
	pl_b64_encode(fb64, sraw, 76);
	assert_int_equal(pl_buf_printf(&fnote, "hello\n\n" EM " witness.example/w1 %s\n", fb64), 0);
	assert_int_equal(pl_note_open(fnote.data, fnote.len, &wv, 1, &tlen, res), 0);
	assert_int_equal(res[0].time, 5);
	assert_int_equal(pl_cosig_verify(fnote.data, fnote.len, &wv, &t, NULL), PL_ERR_MALFORMED);
	pl_buf_clear(&cl);

	/* signing refuses bad inputs and leaves out alone */
	size_t before = b.len;
	assert_int_equal(pl_cosig_sign(&b, u8("hello\n"), 6, "w", &wk, 1), PL_ERR_MALFORMED);
	assert_int_equal(pl_cosig_sign(&b, u8(SOFA_TEXT), strlen(SOFA_TEXT), "w x", &wk, 1),
			 PL_ERR_INVALID);
	assert_int_equal(pl_cosig_sign(&b, u8(SOFA_TEXT), strlen(SOFA_TEXT), "w", &wk, -1),
			 PL_ERR_INVALID);
	assert_int_equal(b.len, before);

	pl_buf_clear(&fnote);
	pl_buf_clear(&note);
	pl_buf_clear(&b);
	pl_key_wipe(&wk);
	pl_key_wipe(&lk);
}

int main(void)
{
	if (pl_crypto_init() != 0)
		return 1;
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_hash_known_answers),
	    cmocka_unit_test(test_roots_known_answers),
	    cmocka_unit_test(test_inclusion_known_answers),
	    cmocka_unit_test(test_consistency_known_answers),
	    cmocka_unit_test(test_proof_edge_cases),
	    cmocka_unit_test(test_brute_force),
	    cmocka_unit_test(test_incl_run),
	    cmocka_unit_test(test_get_calls_logarithmic),
	    cmocka_unit_test(test_note_verifier_keys),
	    cmocka_unit_test(test_note_known_answers),
	    cmocka_unit_test(test_note_malformed),
	    cmocka_unit_test(test_note_signers_and_limits),
	    cmocka_unit_test(test_checkpoint_round_trip),
	    cmocka_unit_test(test_checkpoint_rejects),
	    cmocka_unit_test(test_checkpoint_c2sp_examples),
	    cmocka_unit_test(test_checkpoint_signed),
	    cmocka_unit_test(test_cosig_message_layout),
	    cmocka_unit_test(test_cosig_sign_verify),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
