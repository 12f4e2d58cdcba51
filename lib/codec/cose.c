/* SPDX-License-Identifier: Apache-2.0 */
/*
 * COSE_Sign1 (RFC 9052 §4.2, §4.4) with EdDSA over Ed25519.
 *
 * Signing writes [protected, unprotected, payload, signature] with the
 * protected header {1: -8} and, when a kid is given, the unprotected header
 * {4: kid}; the signature covers the canonical Sig_structure
 * ["Signature1", protected, external_aad, payload].  Parsing accepts other
 * header labels but insists on alg EdDSA in the protected bucket, refuses
 * crit, labels present in both buckets, a detached payload and signatures
 * that are not 64 bytes.  Verification rebuilds the Sig_structure from the
 * protected bytes exactly as received.  Only Sign1 is supported: no
 * COSE_Sign, countersignatures, or other algorithms.
 */
#include <stdlib.h>
#include <string.h>

#include "parley/codec.h"
#include "parley/err.h"

/* COSE header labels (RFC 9052 §3.1). */
#define HDR_ALG  1
#define HDR_CRIT 2
#define HDR_KID  4

/*
 * The outer structure and the protected header are held to the default
 * limits, except that one string (the payload) may fill the whole input.
 */
static const pl_cbor_limits cose_limits = {
    .max_bytes = 64 * 1024,
    .max_depth = 8,
    .max_items = 4096,
    .max_str = 64 * 1024,
};

/* The protected header we always write: {1: -8}. */
static const uint8_t our_protected[] = {0xa1, 0x01, 0x27};

/* Canonical ["Signature1", protected, aad, payload]; *out malloc'd. */
static int sig_structure(uint8_t **out, size_t *len, const uint8_t *prot, size_t protlen,
			 const uint8_t *aad, size_t aadlen, const uint8_t *payload, size_t plen)
{
	pl_cbor_enc e;
	pl_cbor_enc_init(&e);
	pl_cbor_put_array(&e, 4);
	pl_cbor_put_str(&e, "Signature1");
	pl_cbor_put_bytes(&e, prot, protlen);
	pl_cbor_put_bytes(&e, aad, aad ? aadlen : 0);
	pl_cbor_put_bytes(&e, payload, plen);
	return pl_cbor_enc_finish(&e, out, len);
}

int pl_cose_sign1_sign(uint8_t **out, size_t *outlen, const uint8_t *payload, size_t plen,
		       const uint8_t *kid, size_t kidlen, const uint8_t *aad, size_t aadlen,
		       const pl_keypair *kp, unsigned flags)
{
	*out = NULL;
	*outlen = 0;
	/* An empty payload is refused because decoding refuses it. */
	if (!kp || !payload || plen == 0 || (kidlen && !kid) || (aadlen && !aad))
		return PL_ERR_INVALID;
	uint8_t *tbs;
	size_t tbslen;
	int rc = sig_structure(&tbs, &tbslen, our_protected, sizeof(our_protected), aad, aadlen,
			       payload, plen);
	if (rc)
		return rc;
	uint8_t sig[PL_SIG_BYTES];
	rc = pl_sign(sig, tbs, tbslen, kp);
	free(tbs);
	if (rc)
		return rc;

	pl_cbor_enc e;
	pl_cbor_enc_init(&e);
	if (flags & PL_COSE_TAGGED)
		pl_cbor_put_tag(&e, PL_COSE_TAG_SIGN1);
	pl_cbor_put_array(&e, 4);
	pl_cbor_put_bytes(&e, our_protected, sizeof(our_protected));
	if (kid && kidlen) {
		pl_cbor_put_map(&e, 1);
		pl_cbor_put_uint(&e, HDR_KID);
		pl_cbor_put_bytes(&e, kid, kidlen);
	} else {
		pl_cbor_put_map(&e, 0);
	}
	pl_cbor_put_bytes(&e, payload, plen);
	pl_cbor_put_bytes(&e, sig, sizeof(sig));
	return pl_cbor_enc_finish(&e, out, outlen);
}

/* Header labels are integers or text; true when a and b are the same label. */
static bool same_label(const pl_cbor *a, const pl_cbor *b)
{
	int64_t x, y;
	pl_slice s, t;
	if (pl_cbor_type_of(a) == PL_CBOR_TEXT && pl_cbor_type_of(b) == PL_CBOR_TEXT) {
		if (pl_cbor_get_text(a, &s) || pl_cbor_get_text(b, &t))
			return false;
		return s.n == t.n && memcmp(s.p, t.p, s.n) == 0;
	}
	if (pl_cbor_type_of(a) == PL_CBOR_TEXT || pl_cbor_type_of(b) == PL_CBOR_TEXT)
		return false;
	return pl_cbor_get_int(a, &x) == 0 && pl_cbor_get_int(b, &y) == 0 && x == y;
}

static int check_labels(const pl_cbor *hdr, const char *bucket)
{
	for (size_t i = 0; i < pl_cbor_len(hdr); i++) {
		pl_cbor_type t = pl_cbor_type_of(pl_cbor_key_at(hdr, i));
		if (t != PL_CBOR_UINT && t != PL_CBOR_NEGINT && t != PL_CBOR_TEXT)
			return pl_err_fail(PL_ERR_MALFORMED,
					   "cose: %s header label is not an integer or text",
					   bucket);
	}
	if (pl_cbor_map_get_int(hdr, HDR_CRIT))
		return pl_err_fail(PL_ERR_MALFORMED, "cose: crit header not supported");
	return 0;
}

/* Where kid's n bytes sit inside hay (they were decoded from it, so they do). */
static const uint8_t *find_bytes(const uint8_t *hay, size_t hn, const uint8_t *kid, size_t n)
{
	for (size_t i = 0; n <= hn && i <= hn - n; i++)
		if (memcmp(hay + i, kid, n) == 0)
			return hay + i;
	return NULL;
}

/* Check the two header buckets; fills alg and kid.  prot may be NULL (empty). */
static int check_headers(const pl_cbor *prot, const pl_cbor *unprot, pl_cose_sign1 *m)
{
	int rc = check_labels(unprot, "unprotected");
	if (rc)
		return rc;
	if (prot) {
		rc = check_labels(prot, "protected");
		if (rc)
			return rc;
		for (size_t i = 0; i < pl_cbor_len(unprot); i++)
			for (size_t j = 0; j < pl_cbor_len(prot); j++)
				if (same_label(pl_cbor_key_at(unprot, i), pl_cbor_key_at(prot, j)))
					return pl_err_fail(PL_ERR_MALFORMED,
							   "cose: header label in both buckets");
	}
	const pl_cbor *alg = prot ? pl_cbor_map_get_int(prot, HDR_ALG) : NULL;
	if (!alg) {
		if (pl_cbor_map_get_int(unprot, HDR_ALG))
			return pl_err_fail(PL_ERR_MALFORMED, "cose: alg must be protected");
		return pl_err_fail(PL_ERR_MALFORMED, "cose: missing alg");
	}
	int64_t a;
	if (pl_cbor_get_int(alg, &a) != 0)
		return pl_err_fail(PL_ERR_MALFORMED, "cose: alg is not an integer");
	if (a != PL_COSE_ALG_EDDSA)
		return pl_err_fail(PL_ERR_MALFORMED, "cose: unsupported alg %lld (want EdDSA, -8)",
				   (long long)a);
	m->alg = a;

	const pl_cbor *kid = pl_cbor_map_get_int(unprot, HDR_KID);
	bool kid_protected = false;
	if (!kid && prot) {
		kid = pl_cbor_map_get_int(prot, HDR_KID);
		kid_protected = kid != NULL;
	}
	if (kid) {
		if (pl_cbor_get_bytes(kid, &m->kid) != 0)
			return pl_err_fail(PL_ERR_MALFORMED, "cose: kid is not a byte string");
		if (kid_protected) {
			/* Point into the bytes m->root owns; the decoded header goes away. */
			m->kid.p =
			    find_bytes(m->protected_raw.p, m->protected_raw.n, m->kid.p, m->kid.n);
			if (!m->kid.p)
				return PL_ERR_INTERNAL;
		}
	}
	return 0;
}

static int sign1_parse(const uint8_t *buf, size_t len, unsigned flags, unsigned cbor_flags,
		       pl_cose_sign1 *m)
{
	int rc = pl_cbor_decode(buf, len, &cose_limits, cbor_flags | PL_CBOR_ALLOW_TAGS, &m->root);
	if (rc)
		return rc;
	const pl_cbor *top = m->root;
	if (pl_cbor_type_of(top) == PL_CBOR_TAG) {
		if (pl_cbor_tag_value(top) != PL_COSE_TAG_SIGN1)
			return pl_err_fail(PL_ERR_MALFORMED, "cose: unexpected tag %llu",
					   (unsigned long long)pl_cbor_tag_value(top));
		top = pl_cbor_tag_item(top);
	} else if (flags & PL_COSE_TAGGED) {
		return pl_err_fail(PL_ERR_MALFORMED, "cose: COSE_Sign1 tag 18 missing");
	}
	if (pl_cbor_type_of(top) != PL_CBOR_ARRAY || pl_cbor_len(top) != 4)
		return pl_err_fail(PL_ERR_MALFORMED, "cose: COSE_Sign1 is not an array of 4");
	const pl_cbor *unprot = pl_cbor_at(top, 1);
	if (pl_cbor_get_bytes(pl_cbor_at(top, 0), &m->protected_raw) != 0)
		return pl_err_fail(PL_ERR_MALFORMED, "cose: protected header is not a byte string");
	if (pl_cbor_type_of(unprot) != PL_CBOR_MAP)
		return pl_err_fail(PL_ERR_MALFORMED, "cose: unprotected header is not a map");
	if (pl_cbor_type_of(pl_cbor_at(top, 2)) == PL_CBOR_NULL)
		return pl_err_fail(PL_ERR_MALFORMED, "cose: detached payload not supported");
	if (pl_cbor_get_bytes(pl_cbor_at(top, 2), &m->payload) != 0)
		return pl_err_fail(PL_ERR_MALFORMED, "cose: payload is not a byte string");
	if (m->payload.n == 0)
		return pl_err_fail(PL_ERR_MALFORMED, "cose: empty payload");
	if (pl_cbor_get_bytes(pl_cbor_at(top, 3), &m->sig) != 0)
		return pl_err_fail(PL_ERR_MALFORMED, "cose: signature is not a byte string");
	if (m->sig.n != PL_SIG_BYTES)
		return pl_err_fail(PL_ERR_MALFORMED, "cose: signature of %zu bytes, expected %d",
				   m->sig.n, PL_SIG_BYTES);

	/* A zero-length protected bstr is the empty map (RFC 9052 §3). */
	pl_cbor *prot = NULL;
	if (m->protected_raw.n > 0) {
		rc = pl_cbor_decode(m->protected_raw.p, m->protected_raw.n, &cose_limits,
				    PL_CBOR_ALLOW_TAGS, &prot);
		if (rc)
			return rc;
		if (pl_cbor_type_of(prot) != PL_CBOR_MAP) {
			pl_cbor_free(prot);
			return pl_err_fail(PL_ERR_MALFORMED, "cose: protected header is not a map");
		}
	}
	rc = check_headers(prot, unprot, m);
	pl_cbor_free(prot);
	return rc;
}

int pl_cose_sign1_decode(const uint8_t *buf, size_t len, unsigned flags, unsigned cbor_flags,
			 pl_cose_sign1 *out)
{
	memset(out, 0, sizeof(*out));
	int rc = sign1_parse(buf, len, flags, cbor_flags, out);
	if (rc)
		pl_cose_sign1_clear(out);
	return rc;
}

static int check_tbs(const uint8_t *sig, const uint8_t *prot, size_t protlen, const uint8_t *aad,
		     size_t aadlen, const uint8_t *payload, size_t plen, const uint8_t *pk)
{
	uint8_t *tbs;
	size_t tbslen;
	int rc = sig_structure(&tbs, &tbslen, prot, protlen, aad, aadlen, payload, plen);
	if (rc)
		return rc;
	rc = pl_verify(sig, tbs, tbslen, pk);
	free(tbs);
	return rc ? pl_err_fail(PL_ERR_BAD_SIGNATURE, "cose: signature does not verify") : 0;
}

int pl_cose_sign1_verify(const pl_cose_sign1 *m, const uint8_t *aad, size_t aadlen,
			 const uint8_t pk[PL_PK_BYTES])
{
	if (!m || !m->root || !pk || (aadlen && !aad))
		return PL_ERR_INVALID;
	if (m->alg != PL_COSE_ALG_EDDSA || m->sig.n != PL_SIG_BYTES)
		return PL_ERR_INVALID;
	return check_tbs(m->sig.p, m->protected_raw.p, m->protected_raw.n, aad, aadlen,
			 m->payload.p, m->payload.n, pk);
}

int pl_cose_sign1_signature(uint8_t sig[PL_SIG_BYTES], const uint8_t *prot, size_t protlen,
			    const uint8_t *payload, size_t plen, const pl_keypair *kp)
{
	if (!sig || !prot || !protlen || !payload || !plen || !kp)
		return PL_ERR_INVALID;
	uint8_t *tbs;
	size_t tbslen;
	int rc = sig_structure(&tbs, &tbslen, prot, protlen, NULL, 0, payload, plen);
	if (rc)
		return rc;
	rc = pl_sign(sig, tbs, tbslen, kp);
	free(tbs);
	return rc;
}

int pl_cose_sign1_check(const uint8_t sig[PL_SIG_BYTES], const uint8_t *prot, size_t protlen,
			const uint8_t *payload, size_t plen, const uint8_t pk[PL_PK_BYTES])
{
	if (!sig || !prot || !protlen || !payload || !plen || !pk)
		return PL_ERR_INVALID;
	return check_tbs(sig, prot, protlen, NULL, 0, payload, plen, pk);
}

void pl_cose_sign1_clear(pl_cose_sign1 *m)
{
	if (!m)
		return;
	pl_cbor_free(m->root);
	memset(m, 0, sizeof(*m));
}
