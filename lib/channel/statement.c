/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Joint statements (parley/statement.h): the "statement" and
 * "statement-sign" bodies, the version chain, minisign signatures over a
 * version's text, and the adoption rule.
 *
 * Bodies are canonical CBOR maps checked field by field; the signatures
 * are parley/minisign.h's.  Nothing here reads envelopes, credentials or a
 * clock: the caller has already checked who signed the envelope carrying
 * a body, and hands in the signer's key.
 *
 * Divisions: versions; signatures; adoption.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/utf8.h"
#include "channel/chan_int.h"
#include "parley/err.h"
#include "parley/statement.h"

/* A body holds one text of at most PL_STMT_TEXT_MAX bytes and a few short fields. */
static const pl_cbor_limits stmt_limits = {.max_bytes = PL_STMT_TEXT_MAX + 1024,
					   .max_depth = 1,
					   .max_items = 16,
					   .max_str = PL_STMT_TEXT_MAX};

/* Decode a canonical map and check its "schema". */
static int decode_schema(const uint8_t *buf, size_t len, const char *schema, const char *what,
			 pl_cbor **map)
{
	*map = NULL;
	pl_cbor *m = NULL;
	int rc = pl_cbor_decode(buf, len, &stmt_limits, PL_CBOR_CANONICAL, &m);
	if (rc)
		return pl_err_fail(rc, "%s: %s", what, pl_err_detail());
	if (pl_cbor_type_of(m) != PL_CBOR_MAP) {
		pl_cbor_free(m);
		return pl_err_fail(PL_ERR_MALFORMED, "%s: not a map", what);
	}
	pl_slice s = {0};
	const pl_cbor *sv = pl_cbor_map_get(m, "schema");
	if (!sv || pl_cbor_get_text(sv, &s) != 0) {
		pl_cbor_free(m);
		return pl_err_fail(PL_ERR_MALFORMED, "%s: no text field 'schema'", what);
	}
	if (s.n != strlen(schema) || memcmp(s.p, schema, s.n) != 0) {
		int rc2 = pl_err_fail(PL_ERR_VERSION, "%s: schema '%.*s', expected '%s'", what,
				      (int)(s.n > 64 ? 64 : s.n), (const char *)s.p, schema);
		pl_cbor_free(m); /* after the detail: s points into m */
		return rc2;
	}
	*map = m;
	return 0;
}

static int check_name(const char *s, const char *field)
{
	if (!pl_name_is_valid(s))
		return pl_err_fail(PL_ERR_INVALID, "statement: %s '%.63s' is not a valid name",
				   field, s);
	return 0;
}

/* Text of a statement: 1..PL_STMT_TEXT_MAX bytes of UTF-8 without NUL. */
static int check_text(const char *p, size_t n, int code)
{
	if (n == 0)
		return pl_err_fail(code, "statement: the text is empty");
	if (n > PL_STMT_TEXT_MAX)
		return pl_err_fail(PL_ERR_LIMIT, "statement: text of %zu bytes, at most %d", n,
				   PL_STMT_TEXT_MAX);
	if (memchr(p, '\0', n))
		return pl_err_fail(code, "statement: the text holds a NUL byte");
	if (!pl_utf8_is_valid((const uint8_t *)p, n))
		return pl_err_fail(code, "statement: the text is not valid UTF-8");
	return 0;
}

/* A title: 1..PL_STMT_TITLE_MAX bytes of UTF-8, no control characters. */
static int check_title(const char *p, size_t n, int code)
{
	if (n == 0)
		return pl_err_fail(code, "statement: the title is empty");
	if (n > PL_STMT_TITLE_MAX)
		return pl_err_fail(PL_ERR_LIMIT, "statement: title of %zu bytes, at most %d", n,
				   PL_STMT_TITLE_MAX);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f)
			return pl_err_fail(code, "statement: the title holds a control character");
	if (!pl_utf8_is_valid((const uint8_t *)p, n))
		return pl_err_fail(code, "statement: the title is not valid UTF-8");
	return 0;
}

/* ================================================================ versions */

int pl_stmt_encode(const pl_stmt *s, uint8_t **out, size_t *len)
{
	*out = NULL;
	*len = 0;
	int rc = check_name(s->stmt, "id");
	if (!rc && s->v == 0)
		rc = pl_err_fail(PL_ERR_INVALID, "statement %s: versions start at 1", s->stmt);
	if (!rc)
		rc = check_title(s->title, strnlen(s->title, sizeof(s->title)), PL_ERR_INVALID);
	if (!rc && !s->text)
		rc = pl_err_fail(PL_ERR_INVALID, "statement %s: no text", s->stmt);
	if (!rc)
		rc = check_text(s->text, s->text_len, PL_ERR_INVALID);
	if (rc)
		return rc;
	bool has_prev = s->v > 1;
	pl_cbor_enc e;
	pl_cbor_enc_init(&e);
	/* Canonical key order: v, prev, stmt, text, title, schema. */
	pl_cbor_put_map(&e, has_prev ? 6 : 5);
	pl_cbor_put_str(&e, "v");
	pl_cbor_put_uint(&e, s->v);
	if (has_prev) {
		pl_cbor_put_str(&e, "prev");
		pl_cbor_put_bytes(&e, s->prev, PL_HASH_BYTES);
	}
	pl_cbor_put_str(&e, "stmt");
	pl_cbor_put_str(&e, s->stmt);
	pl_cbor_put_str(&e, "text");
	pl_cbor_put_text(&e, s->text, s->text_len);
	pl_cbor_put_str(&e, "title");
	pl_cbor_put_str(&e, s->title);
	pl_cbor_put_str(&e, "schema");
	pl_cbor_put_str(&e, PL_STMT_SCHEMA);
	return pl_cbor_enc_finish(&e, out, len);
}

int pl_stmt_decode(const uint8_t *buf, size_t len, pl_stmt *out)
{
	memset(out, 0, sizeof(*out));
	pl_cbor *m = NULL;
	int rc = decode_schema(buf, len, PL_STMT_SCHEMA, "statement", &m);
	if (rc)
		return rc;
	pl_slice schema, stmt, title, text, prev = {0};
	uint64_t v = 0;
	bool has_prev = false;
	const pl_cbor_field f[] = {
	    {"v", PL_CBOR_UINT, 0, 0, 0, &v, NULL},
	    {"prev", PL_CBOR_BYTES, PL_FIELD_OPTIONAL, PL_HASH_BYTES, PL_HASH_BYTES, &prev,
	     &has_prev},
	    {"stmt", PL_CBOR_TEXT, 0, 1, PL_NAME_MAX, &stmt, NULL},
	    {"text", PL_CBOR_TEXT, 0, 1, PL_STMT_TEXT_MAX, &text, NULL},
	    {"title", PL_CBOR_TEXT, PL_FIELD_LINE, 1, PL_STMT_TITLE_MAX, &title, NULL},
	    {"schema", PL_CBOR_TEXT, 0, 0, 0, &schema, NULL},
	};
	rc = pl_cbor_read_map(m, f, sizeof(f) / sizeof(f[0]));
	if (rc) {
		rc = pl_err_fail(rc, "statement: %s", pl_err_detail());
		goto out;
	}
	rc = chan_copy_name(out->stmt, stmt, "stmt");
	if (!rc && v == 0)
		rc = pl_err_fail(PL_ERR_MALFORMED, "statement %s: version 0 (versions start at 1)",
				 out->stmt);
	if (!rc && has_prev != (v > 1))
		rc = pl_err_fail(PL_ERR_MALFORMED,
				 has_prev ? "statement %s: version 1 names a previous version"
					  : "statement %s: version %" PRIu64
					    " does not name its previous version",
				 out->stmt, v);
	if (!rc)
		rc = check_title((const char *)title.p, title.n, PL_ERR_MALFORMED);
	if (!rc)
		rc = check_text((const char *)text.p, text.n, PL_ERR_MALFORMED);
	if (rc)
		goto out;
	out->own_ = malloc(text.n + 1);
	if (!out->own_) {
		rc = PL_ERR_NOMEM;
		goto out;
	}
	memcpy(out->own_, text.p, text.n);
	out->own_[text.n] = '\0';
	out->text = out->own_;
	out->text_len = text.n;
	out->v = v;
	if (has_prev)
		memcpy(out->prev, prev.p, PL_HASH_BYTES);
	memcpy(out->title, title.p, title.n);
	out->title[title.n] = '\0';
out:
	pl_cbor_free(m);
	if (rc)
		pl_stmt_clear(out);
	return rc;
}

void pl_stmt_clear(pl_stmt *s)
{
	if (!s)
		return;
	free(s->own_);
	memset(s, 0, sizeof(*s));
}

void pl_stmt_version_hash(uint8_t out[PL_HASH_BYTES], const uint8_t *body, size_t len)
{
	pl_sha256(out, body, len);
}

void pl_stmt_text_hash(uint8_t out[PL_HASH_BYTES], const char *text, size_t len)
{
	pl_sha256(out, (const uint8_t *)text, len);
}

int pl_stmt_check_next(const pl_stmt *prev, const uint8_t prev_hash[PL_HASH_BYTES],
		       const pl_stmt *next)
{
	if (strcmp(prev->stmt, next->stmt) != 0)
		return pl_err_fail(PL_ERR_INVALID,
				   "version of statement %s does not follow one of %s", next->stmt,
				   prev->stmt);
	if (next->v != prev->v + 1)
		return pl_err_fail(PL_ERR_SEQUENCE,
				   "statement %s: version %" PRIu64
				   " does not follow version %" PRIu64,
				   next->stmt, next->v, prev->v);
	if (memcmp(next->prev, prev_hash, PL_HASH_BYTES) != 0)
		return pl_err_fail(PL_ERR_SEQUENCE,
				   "statement %s: version %" PRIu64
				   " names another previous version than this version %" PRIu64,
				   next->stmt, next->v, prev->v);
	return 0;
}

/* ================================================================ signatures */

int pl_stmt_tc(char out[PL_STMT_TC_MAX + 1], const char *stmt, uint64_t v, const char *state,
	       const char *signer, const uint8_t text_sha256[PL_HASH_BYTES])
{
	out[0] = '\0';
	int rc = check_name(stmt, "id");
	if (!rc)
		rc = check_name(state, "state");
	if (!rc)
		rc = check_name(signer, "signer");
	if (rc)
		return rc;
	char hex[2 * PL_HASH_BYTES + 1];
	pl_hex_encode(hex, text_sha256, PL_HASH_BYTES);
	int n = snprintf(out, PL_STMT_TC_MAX + 1,
			 "parley statement %s v=%" PRIu64 " state=%s signer=%s sha256=%s", stmt, v,
			 state, signer, hex);
	if (n < 0 || n > PL_STMT_TC_MAX) {
		out[0] = '\0';
		return pl_err_fail(PL_ERR_INTERNAL, "statement: trusted comment too long");
	}
	return 0;
}

int pl_stmt_sig_encode(const pl_stmt_sig *s, uint8_t **out, size_t *len)
{
	*out = NULL;
	*len = 0;
	int rc = check_name(s->stmt, "id");
	if (!rc && s->v == 0)
		rc = pl_err_fail(PL_ERR_INVALID, "statement %s: versions start at 1", s->stmt);
	size_t tcl = strnlen(s->tc, sizeof(s->tc));
	if (!rc && (tcl == 0 || tcl > PL_STMT_TC_MAX))
		rc = pl_err_fail(PL_ERR_INVALID, "statement %s: no trusted comment", s->stmt);
	if (rc)
		return rc;
	pl_cbor_enc e;
	pl_cbor_enc_init(&e);
	/* Canonical key order: v, tc, gsig, stmt, schema, minisig, text_sha256. */
	pl_cbor_put_map(&e, 7);
	pl_cbor_put_str(&e, "v");
	pl_cbor_put_uint(&e, s->v);
	pl_cbor_put_str(&e, "tc");
	pl_cbor_put_text(&e, s->tc, tcl);
	pl_cbor_put_str(&e, "gsig");
	pl_cbor_put_bytes(&e, s->gsig, PL_SIG_BYTES);
	pl_cbor_put_str(&e, "stmt");
	pl_cbor_put_str(&e, s->stmt);
	pl_cbor_put_str(&e, "schema");
	pl_cbor_put_str(&e, PL_STMT_SIGN_SCHEMA);
	pl_cbor_put_str(&e, "minisig");
	pl_cbor_put_bytes(&e, s->minisig, PL_MINISIGN_SIG_BLOB_BYTES);
	pl_cbor_put_str(&e, "text_sha256");
	pl_cbor_put_bytes(&e, s->text_sha256, PL_HASH_BYTES);
	return pl_cbor_enc_finish(&e, out, len);
}

int pl_stmt_sig_decode(const uint8_t *buf, size_t len, pl_stmt_sig *out)
{
	memset(out, 0, sizeof(*out));
	pl_cbor *m = NULL;
	int rc = decode_schema(buf, len, PL_STMT_SIGN_SCHEMA, "statement signature", &m);
	if (rc)
		return rc;
	pl_slice schema, stmt, tc, gsig, minisig, hash;
	uint64_t v = 0;
	const pl_cbor_field f[] = {
	    {"v", PL_CBOR_UINT, 0, 0, 0, &v, NULL},
	    {"tc", PL_CBOR_TEXT, PL_FIELD_LINE, 1, PL_STMT_TC_MAX, &tc, NULL},
	    {"gsig", PL_CBOR_BYTES, 0, PL_SIG_BYTES, PL_SIG_BYTES, &gsig, NULL},
	    {"stmt", PL_CBOR_TEXT, 0, 1, PL_NAME_MAX, &stmt, NULL},
	    {"schema", PL_CBOR_TEXT, 0, 0, 0, &schema, NULL},
	    {"minisig", PL_CBOR_BYTES, 0, PL_MINISIGN_SIG_BLOB_BYTES, PL_MINISIGN_SIG_BLOB_BYTES,
	     &minisig, NULL},
	    {"text_sha256", PL_CBOR_BYTES, 0, PL_HASH_BYTES, PL_HASH_BYTES, &hash, NULL},
	};
	rc = pl_cbor_read_map(m, f, sizeof(f) / sizeof(f[0]));
	if (rc)
		rc = pl_err_fail(rc, "statement signature: %s", pl_err_detail());
	if (!rc)
		rc = chan_copy_name(out->stmt, stmt, "stmt");
	if (!rc && v == 0)
		rc = pl_err_fail(PL_ERR_MALFORMED,
				 "statement signature of %s: version 0 (versions start at 1)",
				 out->stmt);
	if (!rc && memcmp(minisig.p, "ED", 2) != 0)
		rc = pl_err_fail(PL_ERR_VERSION,
				 "statement signature of %s: the minisign signature is not of "
				 "the prehashed kind \"ED\"",
				 out->stmt);
	if (!rc && (memchr(tc.p, '\0', tc.n) || memchr(tc.p, '\t', tc.n)))
		rc = pl_err_fail(PL_ERR_MALFORMED,
				 "statement signature of %s: the trusted comment is not one line",
				 out->stmt);
	if (!rc) {
		out->v = v;
		memcpy(out->text_sha256, hash.p, PL_HASH_BYTES);
		memcpy(out->minisig, minisig.p, PL_MINISIGN_SIG_BLOB_BYTES);
		memcpy(out->gsig, gsig.p, PL_SIG_BYTES);
		memcpy(out->tc, tc.p, tc.n);
		out->tc[tc.n] = '\0';
	}
	pl_cbor_free(m);
	if (rc)
		memset(out, 0, sizeof(*out));
	return rc;
}

int pl_stmt_sign(const pl_stmt *s, const char *state, const char *signer, const pl_keypair *kp,
		 uint8_t **body, size_t *len, pl_stmt_sig *sig)
{
	*body = NULL;
	*len = 0;
	if (sig)
		memset(sig, 0, sizeof(*sig));
	int rc = check_name(s->stmt, "id");
	if (!rc && s->v == 0)
		rc = pl_err_fail(PL_ERR_INVALID, "statement %s: versions start at 1", s->stmt);
	if (!rc && !s->text)
		rc = pl_err_fail(PL_ERR_INVALID, "statement %s: no text", s->stmt);
	if (!rc)
		rc = check_text(s->text, s->text_len, PL_ERR_INVALID);
	if (rc)
		return rc;
	pl_stmt_sig out;
	memset(&out, 0, sizeof(out));
	memcpy(out.stmt, s->stmt, sizeof(out.stmt));
	out.v = s->v;
	pl_stmt_text_hash(out.text_sha256, s->text, s->text_len);
	rc = pl_stmt_tc(out.tc, s->stmt, s->v, state, signer, out.text_sha256);
	if (!rc)
		rc = pl_minisign_sign(out.minisig, out.gsig, (const uint8_t *)s->text, s->text_len,
				      out.tc, kp);
	if (!rc)
		rc = pl_stmt_sig_encode(&out, body, len);
	if (!rc && sig)
		*sig = out;
	return rc;
}

int pl_stmt_sig_verify(const pl_stmt_sig *sig, const uint8_t pk[PL_PK_BYTES], const char *state,
		       const char *signer, const char *text, size_t text_len)
{
	uint8_t h[PL_HASH_BYTES];
	pl_stmt_text_hash(h, text, text_len);
	if (memcmp(h, sig->text_sha256, PL_HASH_BYTES) != 0) {
		char got[2 * PL_HASH_BYTES + 1], want[2 * PL_HASH_BYTES + 1];
		pl_hex_encode(got, h, PL_HASH_BYTES);
		pl_hex_encode(want, sig->text_sha256, PL_HASH_BYTES);
		return pl_err_fail(PL_ERR_CONFLICT,
				   "the signature of %s is over text sha256 %s, not this text "
				   "(sha256 %s)",
				   signer, want, got);
	}
	char tc[PL_STMT_TC_MAX + 1];
	int rc = pl_stmt_tc(tc, sig->stmt, sig->v, state, signer, sig->text_sha256);
	if (rc)
		return rc;
	if (strcmp(tc, sig->tc) != 0)
		return pl_err_fail(PL_ERR_CONFLICT,
				   "trusted comment is \"%.200s\", expected \"%s\"", sig->tc, tc);
	pl_minisign_pk mpk;
	pl_minisign_pk_from_key(&mpk, pk);
	return pl_minisign_verify(&mpk, (const uint8_t *)text, text_len, sig->minisig, sig->tc,
				  sig->gsig);
}

/* ================================================================ adoption */

/* Did state sign hash (in votes)? */
static bool voted(const pl_stmt_vote *votes, size_t n, const char *state, const uint8_t *hash)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(votes[i].state, state) == 0 &&
		    memcmp(votes[i].text_sha256, hash, PL_HASH_BYTES) == 0)
			return true;
	return false;
}

static bool in_charter(const pl_charter *c, const char *state)
{
	for (size_t i = 0; i < c->nstates; i++)
		if (strcmp(c->states[i], state) == 0)
			return true;
	return false;
}

int pl_stmt_check_adopted(const pl_charter *c, const pl_stmt_vote *votes, size_t n, uint64_t *v,
			  uint8_t text_sha256[PL_HASH_BYTES])
{
	const pl_stmt_vote *best = NULL, *newest = NULL;
	for (size_t i = 0; i < n; i++) {
		const pl_stmt_vote *cand = &votes[i];
		if (!in_charter(c, cand->state))
			continue;
		if (!newest || cand->v > newest->v)
			newest = cand;
		bool all = c->nstates > 0;
		for (size_t s = 0; all && s < c->nstates; s++)
			all = voted(votes, n, c->states[s], cand->text_sha256);
		if (all && (!best || cand->v > best->v))
			best = cand;
	}
	if (best) {
		if (v)
			*v = best->v;
		if (text_sha256)
			memcpy(text_sha256, best->text_sha256, PL_HASH_BYTES);
		return 0;
	}
	if (!newest)
		return pl_err_fail(PL_ERR_UNSIGNED, "not adopted: no state has signed");
	char missing[PL_CHARTER_STATES_MAX * (PL_NAME_MAX + 2) + 1] = "";
	size_t pos = 0;
	bool differ = false;
	for (size_t s = 0; s < c->nstates; s++) {
		if (voted(votes, n, c->states[s], newest->text_sha256))
			continue;
		for (size_t i = 0; i < n; i++)
			differ = differ || strcmp(votes[i].state, c->states[s]) == 0;
		int k = snprintf(missing + pos, sizeof(missing) - pos, "%s%s", pos ? ", " : "",
				 c->states[s]);
		if (k > 0 && (size_t)k < sizeof(missing) - pos)
			pos += (size_t)k;
	}
	return pl_err_fail(PL_ERR_UNSIGNED,
			   "not adopted: %s %s not signed the text of version %" PRIu64 "%s",
			   missing, strchr(missing, ',') ? "have" : "has", newest->v,
			   differ ? " (the states signed different texts)" : "");
}
