/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The transcript's rows (tlog.h): entries, the stored perfect-subtree
 * hashes, the size, and the two record types the node itself writes into
 * the log (receipts and refusals).
 *
 * Rows (nstore.c): kind 113 "%020 index" -> entry; kind 114
 * "%020 end/%02 level" (or "%02 level/%020 index": hash_key) -> hash of
 * the perfect subtree of 2^level leaves starting at leaf index * 2^level;
 * kind 115 "size" -> decimal.  Appending
 * leaf i writes level 0 at i, then for each level l >= 1 with
 * (i + 1) % 2^l == 0 the parent of the two level l-1 subtrees it just
 * completed; the right child was computed in this call, the left one is
 * read back.  No cache is kept in memory, so a rolled-back transaction
 * leaves nothing stale behind.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parley/codec.h"
#include "parley/err.h"
#include "parley/identity.h"
#include "tlog.h"

#define H PL_HASH_BYTES

static void entry_key(char out[24], uint64_t index)
{
	snprintf(out, 24, "%020" PRIu64, index);
}

/*
 * Kind 114's keys.  A transcript begun before the night of 2026-11-27
 * keys a hash by "%02 level/%020 index", which makes each level an append
 * point of its own (a page of each written by every commit); since, by
 * "%020 end/%02 level", end being the subtree's last leaf, so that every
 * hash one append writes has the same end and all of them go to one
 * place.  A store's layout is that of its first leaf's hash; known once,
 * it is kept in the nstore (an empty store's first append may roll back:
 * it stays empty, and empty means the new layout).
 */
enum { LAYOUT_BY_LEVEL = 1, LAYOUT_BY_END = 2 };

static int layout(nstore *s, int *out)
{
	int l = nstore_tlog_layout(s);
	if (!l) {
		uint64_t n = 0;
		int rc = tlog_size(s, &n);
		uint8_t *v = NULL;
		size_t len = 0;
		if (!rc && n > 0)
			rc = nstore_obj_get(s, NSTORE_TLOG_HASH, "00/00000000000000000000", &v, &len);
		free(v);
		if (rc && rc != PL_ERR_NOT_FOUND)
			return rc;
		l = n > 0 && rc == 0 ? LAYOUT_BY_LEVEL : LAYOUT_BY_END;
		nstore_tlog_layout_set(s, l);
	}
	*out = l;
	return 0;
}

static int hash_key(nstore *s, char out[32], uint64_t level, uint64_t index)
{
	int l = 0, rc = layout(s, &l);
	if (rc)
		return rc;
	if (level > 63 || index > (UINT64_MAX >> level) - 1)
		return pl_err_fail(PL_ERR_NOT_FOUND, "transcript: no hash %" PRIu64 "/%" PRIu64,
				   level, index);
	if (l == LAYOUT_BY_LEVEL)
		snprintf(out, 32, "%02" PRIu64 "/%020" PRIu64, level, index);
	else
		snprintf(out, 32, "%020" PRIu64 "/%02" PRIu64,
			 (index << level) + (((uint64_t)1 << level) - 1), level);
	return 0;
}

/* ---------------------------------------------------------------- size */

int tlog_size(nstore *s, uint64_t *n)
{
	return nstore_tlog_size(s, n);
}

/* ---------------------------------------------------------------- hashes */

int tlog_get_hash(void *ctx, uint64_t level, uint64_t index, uint8_t out[H])
{
	if (nstore_tlog_hash_recall(ctx, level, index, out))
		return 0;
	char key[32];
	int rc = hash_key(ctx, key, level, index);
	if (rc)
		return rc;
	uint8_t *v = NULL;
	size_t len = 0;
	rc = nstore_obj_get(ctx, NSTORE_TLOG_HASH, key, &v, &len);
	if (rc == PL_ERR_NOT_FOUND)
		return pl_err_fail(PL_ERR_NOT_FOUND, "transcript: no hash %s", key);
	if (rc)
		return rc;
	if (len != H) {
		free(v);
		return pl_err_fail(PL_ERR_MALFORMED, "transcript: hash %s has %zu bytes", key, len);
	}
	memcpy(out, v, H);
	free(v);
	nstore_tlog_hash_keep(ctx, level, index, out);
	return 0;
}

static int put_hash(nstore *s, uint64_t level, uint64_t index, const uint8_t h[H])
{
	char key[32];
	int rc = hash_key(s, key, level, index);
	if (!rc)
		rc = nstore_obj_put(s, NSTORE_TLOG_HASH, key, h, H);
	if (!rc)
		nstore_tlog_hash_keep(s, level, index, h);
	return rc;
}

/* ---------------------------------------------------------------- append */

int tlog_append(nstore *s, int type, const uint8_t *obj, size_t len, uint64_t *index)
{
	if (type < 1 || type > 255 || len > TLOG_ENTRY_MAX)
		return pl_err_fail(PL_ERR_INVALID, "transcript: bad entry (type %d, %zu bytes)",
				   type, len);
	uint64_t i;
	int rc = tlog_size(s, &i);
	if (rc)
		return rc;
	if (i >= PL_MERKLE_MAX_SIZE)
		return pl_err_fail(PL_ERR_LIMIT, "transcript: full");
	uint8_t *e = malloc(len + 1);
	if (!e)
		return PL_ERR_NOMEM;
	e[0] = (uint8_t)type;
	if (len)
		memcpy(e + 1, obj, len);
	char key[24];
	entry_key(key, i);
	uint8_t h[H];
	pl_merkle_leaf_hash(h, e, len + 1);
	rc = nstore_obj_put_new(s, NSTORE_TLOG_ENTRY, key, e, len + 1);
	free(e);
	if (!rc)
		rc = put_hash(s, 0, i, h);
	/* h is the hash of the subtree just completed at level l - 1, which is
	 * the right child of the level-l subtree ending at leaf i. */
	for (uint64_t l = 1; !rc && l < 64 && ((i + 1) & (((uint64_t)1 << l) - 1)) == 0; l++) {
		uint64_t right = ((i + 1) >> (l - 1)) - 1;
		uint8_t left[H];
		rc = tlog_get_hash(s, l - 1, right - 1, left);
		if (!rc) {
			pl_merkle_node_hash(h, left, h);
			rc = put_hash(s, l, right >> 1, h);
		}
	}
	if (!rc)
		rc = nstore_tlog_size_set(s, i + 1);
	if (!rc && index)
		*index = i;
	return rc;
}

int tlog_entry(nstore *s, uint64_t index, uint8_t **buf, size_t *len)
{
	char key[24];
	entry_key(key, index);
	return nstore_obj_get(s, NSTORE_TLOG_ENTRY, key, buf, len);
}

/* ---------------------------------------------------------------- proofs */

static int check_size(nstore *s, uint64_t n)
{
	uint64_t size;
	int rc = tlog_size(s, &size);
	if (!rc && n > size)
		rc = pl_err_fail(PL_ERR_NOT_FOUND,
				 "transcript: size %" PRIu64 " asked, %" PRIu64 " held", n, size);
	return rc;
}

int tlog_root(nstore *s, uint64_t n, uint8_t root[H])
{
	int rc = check_size(s, n);
	return rc ? rc : pl_merkle_root(tlog_get_hash, s, n, root);
}

int tlog_prove_inclusion(nstore *s, uint64_t index, uint64_t n, uint8_t *proof, size_t *plen)
{
	int rc = check_size(s, n);
	return rc ? rc : pl_merkle_prove_inclusion(tlog_get_hash, s, index, n, proof, plen);
}

int tlog_prove_consistency(nstore *s, uint64_t m, uint64_t n, uint8_t *proof, size_t *plen)
{
	int rc = check_size(s, n);
	return rc ? rc : pl_merkle_prove_consistency(tlog_get_hash, s, m, n, proof, plen);
}

/* ---------------------------------------------------------------- records */

int tlog_receipt_encode(const char *peer, int lane, uint64_t upto, int64_t at, uint8_t **out,
			size_t *len)
{
	pl_cbor_enc e;
	pl_cbor_enc_init(&e);
	pl_cbor_put_map(&e, 4);
	pl_cbor_put_str(&e, "at");
	pl_cbor_put_int(&e, at);
	pl_cbor_put_str(&e, "lane");
	pl_cbor_put_uint(&e, (uint64_t)lane);
	pl_cbor_put_str(&e, "peer");
	pl_cbor_put_str(&e, peer);
	pl_cbor_put_str(&e, "upto");
	pl_cbor_put_uint(&e, upto);
	return pl_cbor_enc_finish(&e, out, len);
}

/* The first at most max bytes of s, cut at a UTF-8 character boundary. */
static size_t utf8_cut(const char *s, size_t max)
{
	size_t n = strlen(s);
	if (n <= max)
		return n;
	n = max;
	while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	return n;
}

int tlog_refusal_encode(const char *peer, int lane, uint64_t lseq, const uint8_t id[H],
			const char *reason, int64_t at, uint8_t **out, size_t *len)
{
	pl_cbor_enc e;
	pl_cbor_enc_init(&e);
	pl_cbor_put_map(&e, 6);
	pl_cbor_put_str(&e, "at");
	pl_cbor_put_int(&e, at);
	pl_cbor_put_str(&e, "id");
	pl_cbor_put_bytes(&e, id, H);
	pl_cbor_put_str(&e, "lane");
	pl_cbor_put_uint(&e, (uint64_t)lane);
	pl_cbor_put_str(&e, "lseq");
	pl_cbor_put_uint(&e, lseq);
	pl_cbor_put_str(&e, "peer");
	pl_cbor_put_str(&e, peer);
	pl_cbor_put_str(&e, "reason");
	pl_cbor_put_text(&e, reason, utf8_cut(reason, 200));
	return pl_cbor_enc_finish(&e, out, len);
}

int tlog_refusal_decode(const uint8_t *buf, size_t len, tlog_refusal *out)
{
	pl_cbor *m = NULL;
	int rc = pl_cbor_decode(buf, len, NULL, PL_CBOR_CANONICAL, &m);
	if (rc)
		return rc;
	int64_t at = 0;
	uint64_t lane = 0, lseq = 0;
	pl_slice id = {0}, peer = {0}, reason = {0};
	pl_cbor_field f[] = {
	    {"at", PL_CBOR_INT, 0, 0, 0, &at, NULL},
	    {"id", PL_CBOR_BYTES, 0, H, H, &id, NULL},
	    {"lane", PL_CBOR_UINT, 0, 0, 0, &lane, NULL},
	    {"lseq", PL_CBOR_UINT, 0, 0, 0, &lseq, NULL},
	    {"peer", PL_CBOR_TEXT, PL_FIELD_LINE, 1, PL_NAME_MAX, &peer, NULL},
	    {"reason", PL_CBOR_TEXT, 0, 0, 255, &reason, NULL},
	};
	rc = pl_cbor_read_map(m, f, sizeof(f) / sizeof(f[0]));
	if (!rc && lane > 4)
		rc = pl_err_fail(PL_ERR_MALFORMED, "refusal record: lane %" PRIu64, lane);
	if (!rc) {
		memset(out, 0, sizeof(*out));
		memcpy(out->peer, peer.p, peer.n);
		out->lane = (int)lane;
		out->lseq = lseq;
		memcpy(out->id, id.p, H);
		memcpy(out->reason, reason.p, reason.n);
		out->at = at;
	}
	pl_cbor_free(m);
	return rc;
}
