/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The signed-object profile shared by envelopes and charter signatures:
 * signing a finished payload, the strict COSE_Sign1 profile check, typed
 * payload decoding and name copying.  Signature verification itself is
 * the codec's (pl_cose_sign1_verify); nothing here trusts a signature.
 */
#include <stdlib.h>
#include <string.h>

#include "channel/chan_int.h"
#include "parley/err.h"

/* The protected header pl_cose_sign1_sign writes: {1: -8}. */
static const uint8_t prot_eddsa[] = {0xa1, 0x01, 0x27};

#define COSE_HDR_KID 4

int chan_sign(pl_cbor_enc *e, const pl_keypair *kp, uint8_t **out, size_t *len)
{
	*out = NULL;
	*len = 0;
	uint8_t *payload = NULL;
	size_t plen = 0;
	int rc = pl_cbor_enc_finish(e, &payload, &plen);
	if (rc)
		return rc;
	uint8_t kid[PL_KEYID_BYTES];
	pl_key_id(kid, kp->pk);
	rc = pl_cose_sign1_sign(out, len, payload, plen, kid, sizeof(kid), NULL, 0, kp,
				PL_COSE_TAGGED);
	free(payload);
	return rc;
}

static int cose_shape(const pl_cbor *root, const char *what, pl_cose_sign1 *m)
{
	if (pl_cbor_type_of(root) != PL_CBOR_TAG || pl_cbor_tag_value(root) != PL_COSE_TAG_SIGN1)
		return pl_err_fail(PL_ERR_MALFORMED, "%s: not a tagged COSE_Sign1", what);
	const pl_cbor *top = pl_cbor_tag_item(root);
	if (pl_cbor_type_of(top) != PL_CBOR_ARRAY || pl_cbor_len(top) != 4)
		return pl_err_fail(PL_ERR_MALFORMED, "%s: COSE_Sign1 is not an array of 4", what);
	if (pl_cbor_get_bytes(pl_cbor_at(top, 0), &m->protected_raw) != 0 ||
	    m->protected_raw.n != sizeof(prot_eddsa) ||
	    memcmp(m->protected_raw.p, prot_eddsa, sizeof(prot_eddsa)) != 0)
		return pl_err_fail(PL_ERR_MALFORMED,
				   "%s: protected header must be exactly {1: -8} (EdDSA)", what);
	const pl_cbor *unprot = pl_cbor_at(top, 1);
	const pl_cbor *label = pl_cbor_key_at(unprot, 0);
	uint64_t lv = 0;
	if (pl_cbor_type_of(unprot) != PL_CBOR_MAP || pl_cbor_len(unprot) != 1 ||
	    pl_cbor_type_of(label) != PL_CBOR_UINT || pl_cbor_get_uint(label, &lv) != 0 ||
	    lv != COSE_HDR_KID || pl_cbor_get_bytes(pl_cbor_value_at(unprot, 0), &m->kid) != 0 ||
	    m->kid.n != PL_KEYID_BYTES)
		return pl_err_fail(PL_ERR_MALFORMED,
				   "%s: unprotected header must be exactly {4: kid of %d bytes}",
				   what, PL_KEYID_BYTES);
	if (pl_cbor_get_bytes(pl_cbor_at(top, 2), &m->payload) != 0 || m->payload.n == 0)
		return pl_err_fail(PL_ERR_MALFORMED, "%s: payload is not a non-empty byte string",
				   what);
	if (pl_cbor_get_bytes(pl_cbor_at(top, 3), &m->sig) != 0 || m->sig.n != PL_SIG_BYTES)
		return pl_err_fail(PL_ERR_MALFORMED, "%s: signature is not %d bytes", what,
				   PL_SIG_BYTES);
	m->alg = PL_COSE_ALG_EDDSA;
	return 0;
}

int chan_cose_parse(const uint8_t *buf, size_t len, size_t max_len, const char *what,
		    pl_cose_sign1 *m)
{
	memset(m, 0, sizeof(*m));
	if (len > max_len)
		return pl_err_fail(PL_ERR_LIMIT, "%s: %zu bytes, at most %zu", what, len, max_len);
	/* tag, array, protected header, kid map, payload, signature: depth 3 */
	const pl_cbor_limits lim = {
	    .max_bytes = max_len, .max_depth = 3, .max_items = 16, .max_str = max_len};
	pl_cbor *root = NULL;
	int rc = pl_cbor_decode(buf, len, &lim, PL_CBOR_CANONICAL | PL_CBOR_ALLOW_TAGS, &root);
	if (rc)
		return rc;
	m->root = root;
	rc = cose_shape(root, what, m);
	if (rc)
		pl_cose_sign1_clear(m);
	return rc;
}

int chan_decode_typed(const uint8_t *p, size_t n, const pl_cbor_limits *lim, const char *type,
		      pl_cbor **map)
{
	*map = NULL;
	pl_cbor *m = NULL;
	int rc = pl_cbor_decode(p, n, lim, PL_CBOR_CANONICAL, &m);
	if (rc)
		return rc;
	const pl_cbor *t = pl_cbor_map_get(m, "t");
	pl_slice ts;
	if (pl_cbor_type_of(m) != PL_CBOR_MAP || !t || pl_cbor_get_text(t, &ts) != 0 ||
	    ts.n != strlen(type) || memcmp(ts.p, type, ts.n) != 0) {
		pl_cbor_free(m);
		return pl_err_fail(PL_ERR_TYPE, "not a %s object", type);
	}
	const pl_cbor *v = pl_cbor_map_get(m, "v");
	uint64_t ver = 0;
	if (!v || pl_cbor_get_uint(v, &ver) != 0) {
		pl_cbor_free(m);
		return pl_err_fail(PL_ERR_MALFORMED, "%s: missing version", type);
	}
	if (ver != CHAN_VERSION) {
		pl_cbor_free(m);
		return pl_err_fail(PL_ERR_VERSION,
				   "%s: version %llu is not known (this program knows %d)", type,
				   (unsigned long long)ver, CHAN_VERSION);
	}
	*map = m;
	return 0;
}

int chan_copy_name(char *dst, pl_slice s, const char *field)
{
	size_t n = s.n <= PL_NAME_MAX ? s.n : PL_NAME_MAX;
	memcpy(dst, s.p, n);
	dst[n] = '\0';
	if (s.n > PL_NAME_MAX || strlen(dst) != s.n || !pl_name_is_valid(dst))
		return pl_err_fail(PL_ERR_MALFORMED, "field '%s': '%.*s' is not a valid name",
				   field, (int)n, dst);
	return 0;
}
