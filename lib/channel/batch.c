/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Batch-signed envelopes (channel.h; docs/formats.md "Batch-signed
 * envelopes"): one Ed25519 signature over the RFC 9162 Merkle root of up
 * to PL_ENV_BATCH_MAX envelope payloads, each envelope carrying its own
 * COSE Receipt (RFC 9942) with its inclusion proof.
 *
 * Divisions: the frame; signing; parsing; checking through the cache.
 * The receipt profile is exact, like the envelope's: protected header
 * {1: -8, 395: 1}, unprotected {4: kid, 396: {-1: [proof]}}, payload nil,
 * a 64-byte signature; anything else is refused.
 */
#include <stdlib.h>
#include <string.h>

#include "channel/chan_int.h"
#include "parley/err.h"
#include "parley/transcript.h"

/* COSE labels: kid (RFC 9052), vds and vdp (RFC 9942 §2), inclusion proofs (§5). */
#define HDR_KID       4
#define HDR_VDS       395
#define HDR_VDP       396
#define VDP_INCLUSION (-1)
#define VDS_RFC9162   1

/* Protected header {1: -8, 395: 1}: EdDSA over an RFC9162_SHA256 tree. */
static const uint8_t receipt_prot[] = {0xa2, 0x01, 0x27, 0x19, 0x01, 0x8b, 0x01};

/* The frame's first bytes: tag PL_ENV_BATCH_TAG (4-byte head), array of 2. */
static const uint8_t frame_head[] = {0xda, 0x50, 0x4c, 0x45, 0x42, 0x82};

#define BATCH_PATH_MAX 12 /* ceil(log2 PL_ENV_BATCH_MAX) */

/* ---------------------------------------------------------------- the frame */

bool pl_env_is_batched(const uint8_t *buf, size_t len)
{
	return buf && len >= sizeof(frame_head) && memcmp(buf, frame_head, sizeof(frame_head)) == 0;
}

bool chan_batch_payload(const uint8_t *buf, size_t len, pl_slice *payload)
{
	if (!pl_env_is_batched(buf, len) || len < sizeof(frame_head) + 1)
		return false;
	const uint8_t *p = buf + sizeof(frame_head);
	size_t left = len - sizeof(frame_head) - 1;
	uint8_t ib = *p++;
	if ((ib >> 5) != 2) /* a byte string */
		return false;
	uint64_t n = ib & 0x1f;
	size_t extra = n == 24 ? 1 : n == 25 ? 2 : n == 26 ? 4 : n == 27 ? 8 : 0;
	if (n > 27 || extra > left)
		return false;
	if (extra) {
		n = 0;
		for (size_t i = 0; i < extra; i++)
			n = n << 8 | p[i];
		p += extra;
		left -= extra;
	}
	if (n > left)
		return false;
	payload->p = p;
	payload->n = (size_t)n;
	return true;
}

/* ---------------------------------------------------------------- signing */

int pl_env_batch_id(const pl_env *e, uint8_t id[PL_HASH_BYTES])
{
	if (!e || !id)
		return PL_ERR_INVALID;
	pl_cbor_enc enc;
	pl_cbor_enc_init(&enc);
	int rc = chan_env_payload(e, &enc);
	uint8_t *p = NULL;
	size_t n = 0;
	if (rc) {
		pl_cbor_enc_discard(&enc);
		return rc;
	}
	rc = pl_cbor_enc_finish(&enc, &p, &n);
	if (!rc)
		pl_sha256(id, p, n);
	free(p);
	return rc;
}

/* Envelope i of the batch: the frame around payload and its receipt. */
static int batch_frame(const uint8_t *payload, size_t plen, const uint8_t kid[PL_KEYID_BYTES],
		       uint64_t n, uint64_t i, const uint8_t *path, size_t npath,
		       const uint8_t sig[PL_SIG_BYTES], uint8_t **out, size_t *len)
{
	pl_cbor_enc pe;
	pl_cbor_enc_init(&pe);
	pl_cbor_put_array(&pe, 3);
	pl_cbor_put_uint(&pe, n);
	pl_cbor_put_uint(&pe, i);
	pl_cbor_put_array(&pe, npath);
	for (size_t k = 0; k < npath; k++)
		pl_cbor_put_bytes(&pe, path + k * PL_HASH_BYTES, PL_HASH_BYTES);
	uint8_t *proof = NULL;
	size_t prooflen = 0;
	int rc = pl_cbor_enc_finish(&pe, &proof, &prooflen);
	if (rc)
		return rc;

	pl_cbor_enc e;
	pl_cbor_enc_init(&e);
	pl_cbor_put_tag(&e, PL_ENV_BATCH_TAG);
	pl_cbor_put_array(&e, 2);
	pl_cbor_put_bytes(&e, payload, plen);
	pl_cbor_put_tag(&e, PL_COSE_TAG_SIGN1);
	pl_cbor_put_array(&e, 4);
	pl_cbor_put_bytes(&e, receipt_prot, sizeof(receipt_prot));
	pl_cbor_put_map(&e, 2);
	pl_cbor_put_uint(&e, HDR_KID);
	pl_cbor_put_bytes(&e, kid, PL_KEYID_BYTES);
	pl_cbor_put_uint(&e, HDR_VDP);
	pl_cbor_put_map(&e, 1);
	pl_cbor_put_int(&e, VDP_INCLUSION);
	pl_cbor_put_array(&e, 1);
	pl_cbor_put_bytes(&e, proof, prooflen);
	pl_cbor_put_null(&e);
	pl_cbor_put_bytes(&e, sig, PL_SIG_BYTES);
	free(proof);
	return pl_cbor_enc_finish(&e, out, len);
}

int pl_env_sign_batch(const pl_env *e, size_t n, const pl_keypair *kp, uint8_t **out, size_t *len)
{
	if (!e || !kp || !out || !len)
		return PL_ERR_INVALID;
	for (size_t i = 0; i < n; i++) {
		out[i] = NULL;
		len[i] = 0;
	}
	if (n < PL_ENV_BATCH_MIN || n > PL_ENV_BATCH_MAX)
		return pl_err_fail(PL_ERR_LIMIT, "a batch of %zu envelopes: %d to %d", n,
				   PL_ENV_BATCH_MIN, PL_ENV_BATCH_MAX);
	uint8_t **pay = calloc(n, sizeof(*pay));
	size_t *plen = calloc(n, sizeof(*plen));
	pl_merkle_mem *tree = pl_merkle_mem_new();
	int rc = pay && plen && tree ? 0 : PL_ERR_NOMEM;
	for (size_t i = 0; !rc && i < n; i++) {
		pl_cbor_enc enc;
		pl_cbor_enc_init(&enc);
		rc = chan_env_payload(&e[i], &enc);
		if (rc) {
			pl_cbor_enc_discard(&enc);
			break;
		}
		rc = pl_cbor_enc_finish(&enc, &pay[i], &plen[i]);
		if (!rc)
			rc = pl_merkle_mem_append(tree, pay[i], plen[i]);
	}
	uint8_t root[PL_HASH_BYTES], sig[PL_SIG_BYTES], kid[PL_KEYID_BYTES];
	if (!rc)
		rc = pl_merkle_root(pl_merkle_mem_get, tree, n, root);
	if (!rc)
		rc = pl_cose_sign1_signature(sig, receipt_prot, sizeof(receipt_prot), root,
					     sizeof(root), kp);
	pl_key_id(kid, kp->pk);
	for (size_t i = 0; !rc && i < n; i++) {
		uint8_t path[PL_MERKLE_MAX_PROOF * PL_HASH_BYTES];
		size_t npath = 0;
		rc = pl_merkle_prove_inclusion(pl_merkle_mem_get, tree, i, n, path, &npath);
		if (!rc)
			rc = batch_frame(pay[i], plen[i], kid, n, i, path, npath, sig, &out[i],
					 &len[i]);
	}
	for (size_t i = 0; pay && i < n; i++)
		free(pay[i]);
	free(pay);
	free(plen);
	pl_merkle_mem_free(tree);
	if (rc)
		for (size_t i = 0; i < n; i++) {
			free(out[i]);
			out[i] = NULL;
			len[i] = 0;
		}
	return rc;
}

/* ---------------------------------------------------------------- parsing */

static int bad(const char *why)
{
	return pl_err_fail(PL_ERR_MALFORMED, "batched envelope: %s", why);
}

static bool uint_is(const pl_cbor *it, uint64_t want)
{
	uint64_t v;
	return pl_cbor_type_of(it) == PL_CBOR_UINT && pl_cbor_get_uint(it, &v) == 0 && v == want;
}

/* [tree size, leaf index, [path]] -> the root it leads to from payload. */
static int read_proof(pl_slice proof, pl_slice payload, uint8_t root[PL_HASH_BYTES])
{
	const pl_cbor_limits lim = {.max_bytes = PL_ENV_BATCH_RECEIPT_MAX,
				    .max_depth = 3,
				    .max_items = 4 + BATCH_PATH_MAX,
				    .max_str = PL_HASH_BYTES};
	pl_cbor *pr = NULL;
	int rc = pl_cbor_decode(proof.p, proof.n, &lim, PL_CBOR_CANONICAL, &pr);
	if (rc)
		return rc;
	uint64_t n = 0, i = 0;
	const pl_cbor *path = pl_cbor_at(pr, 2);
	uint8_t hashes[BATCH_PATH_MAX * PL_HASH_BYTES];
	size_t npath = pl_cbor_len(path);
	if (pl_cbor_type_of(pr) != PL_CBOR_ARRAY || pl_cbor_len(pr) != 3 ||
	    pl_cbor_get_uint(pl_cbor_at(pr, 0), &n) != 0 ||
	    pl_cbor_get_uint(pl_cbor_at(pr, 1), &i) != 0 || pl_cbor_type_of(path) != PL_CBOR_ARRAY)
		rc = bad("inclusion proof is not [tree size, leaf index, [hashes]]");
	else if (n < PL_ENV_BATCH_MIN || n > PL_ENV_BATCH_MAX)
		rc = pl_err_fail(PL_ERR_LIMIT, "batched envelope: a batch of %llu (%d to %d)",
				 (unsigned long long)n, PL_ENV_BATCH_MIN, PL_ENV_BATCH_MAX);
	else if (npath > BATCH_PATH_MAX)
		rc = bad("inclusion path of more than 12 hashes");
	for (size_t k = 0; !rc && k < npath; k++) {
		pl_slice h;
		if (pl_cbor_get_bytes(pl_cbor_at(path, k), &h) != 0 || h.n != PL_HASH_BYTES)
			rc = bad("an inclusion path hash is not 32 bytes");
		else
			memcpy(hashes + k * PL_HASH_BYTES, h.p, PL_HASH_BYTES);
	}
	pl_cbor_free(pr);
	if (rc)
		return rc;
	uint8_t leaf[PL_HASH_BYTES];
	pl_merkle_leaf_hash(leaf, payload.p, payload.n);
	rc = pl_merkle_root_from_inclusion(leaf, i, n, hashes, npath, root);
	return rc ? pl_err_fail(PL_ERR_MALFORMED, "batched envelope: %s", pl_err_detail()) : 0;
}

/* The receipt: tag 18 [receipt_prot, {4: kid, 396: {-1: [proof]}}, nil, sig]. */
static int read_receipt(const pl_cbor *tagged, pl_cose_sign1 *m, pl_slice *proof)
{
	if (pl_cbor_type_of(tagged) != PL_CBOR_TAG ||
	    pl_cbor_tag_value(tagged) != PL_COSE_TAG_SIGN1)
		return bad("receipt is not a tagged COSE_Sign1");
	const pl_cbor *top = pl_cbor_tag_item(tagged);
	if (pl_cbor_type_of(top) != PL_CBOR_ARRAY || pl_cbor_len(top) != 4)
		return bad("receipt is not an array of 4");
	if (pl_cbor_get_bytes(pl_cbor_at(top, 0), &m->protected_raw) != 0 ||
	    m->protected_raw.n != sizeof(receipt_prot) ||
	    memcmp(m->protected_raw.p, receipt_prot, sizeof(receipt_prot)) != 0)
		return bad("receipt's protected header must be exactly {1: -8, 395: 1}");
	const pl_cbor *u = pl_cbor_at(top, 1);
	const pl_cbor *vdp = pl_cbor_value_at(u, 1);
	const pl_cbor *proofs = pl_cbor_value_at(vdp, 0);
	int64_t label = 0;
	if (pl_cbor_type_of(u) != PL_CBOR_MAP || pl_cbor_len(u) != 2 ||
	    !uint_is(pl_cbor_key_at(u, 0), HDR_KID) ||
	    pl_cbor_get_bytes(pl_cbor_value_at(u, 0), &m->kid) != 0 || m->kid.n != PL_KEYID_BYTES ||
	    !uint_is(pl_cbor_key_at(u, 1), HDR_VDP) || pl_cbor_type_of(vdp) != PL_CBOR_MAP ||
	    pl_cbor_len(vdp) != 1 || pl_cbor_type_of(pl_cbor_key_at(vdp, 0)) != PL_CBOR_NEGINT ||
	    pl_cbor_get_int(pl_cbor_key_at(vdp, 0), &label) != 0 || label != VDP_INCLUSION ||
	    pl_cbor_type_of(proofs) != PL_CBOR_ARRAY || pl_cbor_len(proofs) != 1 ||
	    pl_cbor_get_bytes(pl_cbor_at(proofs, 0), proof) != 0)
		return bad("receipt's unprotected header must be exactly "
			   "{4: kid of 8 bytes, 396: {-1: [one inclusion proof]}}");
	if (pl_cbor_type_of(pl_cbor_at(top, 2)) != PL_CBOR_NULL)
		return bad("receipt's payload must be detached (nil)");
	if (pl_cbor_get_bytes(pl_cbor_at(top, 3), &m->sig) != 0 || m->sig.n != PL_SIG_BYTES)
		return bad("receipt's signature is not 64 bytes");
	m->alg = PL_COSE_ALG_EDDSA;
	return 0;
}

int chan_batch_parse(const uint8_t *buf, size_t len, pl_slice *payload, pl_cose_sign1 *cose,
		     uint8_t root[PL_HASH_BYTES])
{
	memset(cose, 0, sizeof(*cose));
	if (len > PL_ENV_MAX + PL_ENV_BATCH_RECEIPT_MAX)
		return pl_err_fail(PL_ERR_LIMIT, "batched envelope: %zu bytes, at most %zu", len,
				   PL_ENV_MAX + PL_ENV_BATCH_RECEIPT_MAX);
	/* tag, array, [payload, tag, array, [prot, map, map, array, proof, nil, sig]] */
	const pl_cbor_limits lim = {
	    .max_bytes = len, .max_depth = 8, .max_items = 24, .max_str = PL_ENV_MAX};
	int rc =
	    pl_cbor_decode(buf, len, &lim, PL_CBOR_CANONICAL | PL_CBOR_ALLOW_TAGS, &cose->root);
	if (rc)
		return rc;
	const pl_cbor *top = pl_cbor_tag_item(cose->root);
	pl_slice proof = {0};
	if (pl_cbor_type_of(cose->root) != PL_CBOR_TAG ||
	    pl_cbor_tag_value(cose->root) != PL_ENV_BATCH_TAG ||
	    pl_cbor_type_of(top) != PL_CBOR_ARRAY || pl_cbor_len(top) != 2 ||
	    pl_cbor_get_bytes(pl_cbor_at(top, 0), payload) != 0 || payload->n == 0)
		rc = bad("not a tagged [payload, receipt]");
	if (!rc)
		rc = read_receipt(pl_cbor_at(top, 1), cose, &proof);
	if (!rc && len - payload->n > PL_ENV_BATCH_RECEIPT_MAX)
		rc = pl_err_fail(PL_ERR_LIMIT, "batched envelope: receipt over %d bytes",
				 PL_ENV_BATCH_RECEIPT_MAX);
	if (!rc)
		rc = read_proof(proof, *payload, root);
	if (rc)
		pl_cose_sign1_clear(cose);
	return rc;
}

/* ---------------------------------------------------------------- checking */

int chan_batch_check(const pl_cose_sign1 *receipt, const uint8_t root[PL_HASH_BYTES],
		     const uint8_t pk[PL_PK_BYTES], pl_sig_cache *cache)
{
	/* What decides the answer: the key, the root and the signature (the
	 * protected header is fixed by the profile). */
	uint8_t key[PL_HASH_BYTES], in[PL_PK_BYTES + PL_HASH_BYTES + PL_SIG_BYTES];
	memcpy(in, pk, PL_PK_BYTES);
	memcpy(in + PL_PK_BYTES, root, PL_HASH_BYTES);
	memcpy(in + PL_PK_BYTES + PL_HASH_BYTES, receipt->sig.p, PL_SIG_BYTES);
	pl_sha256(key, in, sizeof(in));
	for (unsigned i = 0; cache && i < PL_SIG_CACHE_SLOTS; i++)
		if (cache->used[i] && pl_ct_equal(cache->key[i], key, PL_HASH_BYTES)) {
			cache->hits++;
			return 0;
		}
	if (cache)
		cache->checks++;
	int rc = pl_cose_sign1_check(receipt->sig.p, receipt->protected_raw.p,
				     receipt->protected_raw.n, root, PL_HASH_BYTES, pk);
	if (rc || !cache)
		return rc;
	unsigned slot = cache->next++ % PL_SIG_CACHE_SLOTS;
	memcpy(cache->key[slot], key, PL_HASH_BYTES);
	cache->used[slot] = true;
	return 0;
}
