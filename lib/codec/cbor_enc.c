/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Streaming canonical CBOR encoder (RFC 8949 §4.2.1 core deterministic
 * encoding).
 *
 * Heads are written by libcbor's low-level encoders, which always choose the
 * shortest form; lengths are always definite.  The encoder keeps a small
 * stack of open containers (a tag is a container of one item) and checks
 * that map keys are integers or text and arrive in strictly increasing
 * bytewise order of their encodings: it never sorts, so a caller that writes
 * keys out of order has a bug and gets PL_ERR_INTERNAL.  It does not check
 * that raw items are canonical; that is the caller's promise.
 */
#include <stdlib.h>
#include <string.h>

#include <cbor.h>

#include "base/utf8.h"
#include "parley/codec.h"
#include "parley/err.h"

/* The longest CBOR head: one initial byte and an 8-byte argument. */
#define HEAD_MAX 9

/* Record the first error; later ones are ignored (errors are sticky). */
static void enc_fail(pl_cbor_enc *e, int code, const char *what)
{
	if (e->err)
		return;
	e->err = code;
	pl_err_set_detail("cbor encoder: %s", what);
}

/* Bytewise lexicographic comparison; a proper prefix sorts first. */
static int enc_bytes_cmp(const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
	int c = memcmp(a, b, an < bn ? an : bn);
	if (c)
		return c;
	return an < bn ? -1 : an > bn;
}

/*
 * Called before an item's first byte.  key_ok says whether this kind of item
 * may be a map key.  On success *key_start is the offset where the item
 * starts when it is a map key, else SIZE_MAX.  false: the encoder has failed.
 */
static bool enc_begin(pl_cbor_enc *e, bool key_ok, size_t *key_start)
{
	*key_start = SIZE_MAX;
	if (e->err)
		return false;
	if (e->depth == 0) {
		if (e->out.len > 0) {
			enc_fail(e, PL_ERR_INTERNAL, "more than one top-level item");
			return false;
		}
		return true;
	}
	if (e->lv[e->depth - 1].is_map && e->lv[e->depth - 1].left % 2 == 0) {
		if (!key_ok) {
			enc_fail(e, PL_ERR_INTERNAL, "map key must be an integer or text");
			return false;
		}
		*key_start = e->out.len;
	}
	return true;
}

/* One item (scalar or whole container) is complete: count it, close containers. */
static void enc_done(pl_cbor_enc *e)
{
	while (e->depth > 0) {
		e->lv[e->depth - 1].left--;
		if (e->lv[e->depth - 1].left > 0)
			return;
		e->depth--;
	}
}

/* A map key just finished at key_start: check it against the previous one. */
static void enc_check_key(pl_cbor_enc *e, size_t key_start)
{
	if (key_start == SIZE_MAX || e->err)
		return;
	/* The key is a scalar, so the map is still the innermost open level. */
	unsigned d = e->depth - 1;
	size_t len = e->out.len - key_start;
	if (e->lv[d].have_key) {
		int c = enc_bytes_cmp(e->out.data + e->lv[d].key_off, e->lv[d].key_len,
				      e->out.data + key_start, len);
		if (c == 0) {
			enc_fail(e, PL_ERR_INTERNAL, "duplicate map key");
			return;
		}
		if (c > 0) {
			enc_fail(e, PL_ERR_INTERNAL,
				 "map keys out of canonical order (RFC 8949 4.2.1)");
			return;
		}
	}
	e->lv[d].key_off = key_start;
	e->lv[d].key_len = len;
	e->lv[d].have_key = true;
}

static void enc_append(pl_cbor_enc *e, const void *p, size_t n)
{
	if (e->err)
		return;
	int rc = pl_buf_append(&e->out, p, n);
	if (rc)
		enc_fail(e, rc, rc == PL_ERR_NOMEM ? "out of memory" : "output too large");
}

/* Write a head produced by one of libcbor's encoders (0 bytes means failure). */
static void enc_head(pl_cbor_enc *e, const unsigned char *h, size_t n)
{
	if (n == 0) {
		enc_fail(e, PL_ERR_INTERNAL, "libcbor could not encode a head");
		return;
	}
	enc_append(e, h, n);
}

static void enc_scalar_head(pl_cbor_enc *e, bool key_ok, const unsigned char *h, size_t n)
{
	size_t key_start;
	if (!enc_begin(e, key_ok, &key_start))
		return;
	enc_head(e, h, n);
	enc_check_key(e, key_start);
	if (!e->err)
		enc_done(e);
}

/* Open a container of n items (already doubled for maps). */
static void enc_open(pl_cbor_enc *e, const unsigned char *h, size_t hn, uint64_t n, bool is_map)
{
	size_t key_start;
	if (!enc_begin(e, false, &key_start))
		return;
	if (n > 0 && e->depth >= PL_CBOR_ENC_MAX_DEPTH) {
		e->err = PL_ERR_LIMIT;
		pl_err_set_detail("cbor encoder: nesting deeper than %d", PL_CBOR_ENC_MAX_DEPTH);
		return;
	}
	enc_head(e, h, hn);
	if (e->err)
		return;
	if (n == 0) {
		enc_done(e);
		return;
	}
	e->lv[e->depth].left = n;
	e->lv[e->depth].is_map = is_map;
	e->lv[e->depth].key_off = 0;
	e->lv[e->depth].key_len = 0;
	e->lv[e->depth].have_key = false;
	e->depth++;
}

void pl_cbor_enc_init(pl_cbor_enc *e)
{
	memset(e, 0, sizeof(*e));
}

void pl_cbor_put_uint(pl_cbor_enc *e, uint64_t v)
{
	unsigned char h[HEAD_MAX];
	enc_scalar_head(e, true, h, cbor_encode_uint(v, h, sizeof(h)));
}

void pl_cbor_put_int(pl_cbor_enc *e, int64_t v)
{
	unsigned char h[HEAD_MAX];
	if (v >= 0) {
		enc_scalar_head(e, true, h, cbor_encode_uint((uint64_t)v, h, sizeof(h)));
		return;
	}
	/* -1 - v without overflow: v + 1 is at least INT64_MIN + 1. */
	uint64_t n = (uint64_t)(-(v + 1));
	enc_scalar_head(e, true, h, cbor_encode_negint(n, h, sizeof(h)));
}

static void enc_string(pl_cbor_enc *e, bool text, const void *p, size_t n)
{
	unsigned char h[HEAD_MAX];
	size_t key_start;
	if (n > 0 && !p) {
		enc_fail(e, PL_ERR_INVALID, "NULL string");
		return;
	}
	if (text && !pl_utf8_is_valid(p, n)) {
		enc_fail(e, PL_ERR_INVALID, "text is not valid UTF-8");
		return;
	}
	if (!enc_begin(e, text, &key_start))
		return;
	size_t hn = text ? cbor_encode_string_start(n, h, sizeof(h))
			 : cbor_encode_bytestring_start(n, h, sizeof(h));
	enc_head(e, h, hn);
	enc_append(e, p, n);
	enc_check_key(e, key_start);
	if (!e->err)
		enc_done(e);
}

void pl_cbor_put_bytes(pl_cbor_enc *e, const uint8_t *p, size_t n)
{
	enc_string(e, false, p, n);
}

void pl_cbor_put_text(pl_cbor_enc *e, const char *p, size_t n)
{
	enc_string(e, true, p, n);
}

void pl_cbor_put_str(pl_cbor_enc *e, const char *s)
{
	if (!s) {
		enc_fail(e, PL_ERR_INVALID, "NULL string");
		return;
	}
	enc_string(e, true, s, strlen(s));
}

void pl_cbor_put_bool(pl_cbor_enc *e, bool v)
{
	unsigned char h[1];
	enc_scalar_head(e, false, h, cbor_encode_bool(v, h, sizeof(h)));
}

void pl_cbor_put_null(pl_cbor_enc *e)
{
	unsigned char h[1];
	enc_scalar_head(e, false, h, cbor_encode_null(h, sizeof(h)));
}

void pl_cbor_put_tag(pl_cbor_enc *e, uint64_t tag)
{
	unsigned char h[HEAD_MAX];
	enc_open(e, h, cbor_encode_tag(tag, h, sizeof(h)), 1, false);
}

void pl_cbor_put_array(pl_cbor_enc *e, size_t n)
{
	unsigned char h[HEAD_MAX];
	enc_open(e, h, cbor_encode_array_start(n, h, sizeof(h)), n, false);
}

void pl_cbor_put_map(pl_cbor_enc *e, size_t n)
{
	unsigned char h[HEAD_MAX];
	if ((uint64_t)n > UINT64_MAX / 2) {
		enc_fail(e, PL_ERR_LIMIT, "map too large");
		return;
	}
	enc_open(e, h, cbor_encode_map_start(n, h, sizeof(h)), (uint64_t)n * 2, true);
}

void pl_cbor_put_raw(pl_cbor_enc *e, const uint8_t *p, size_t n)
{
	size_t key_start;
	if (n == 0 || !p) {
		enc_fail(e, PL_ERR_INVALID, "empty raw item");
		return;
	}
	unsigned major = p[0] >> 5;
	/* As a key, a raw item must be an integer (major 0, 1) or text (major 3). */
	if (!enc_begin(e, major == 0 || major == 1 || major == 3, &key_start))
		return;
	enc_append(e, p, n);
	enc_check_key(e, key_start);
	if (!e->err)
		enc_done(e);
}

int pl_cbor_enc_finish(pl_cbor_enc *e, uint8_t **out, size_t *len)
{
	*out = NULL;
	*len = 0;
	if (!e->err && e->depth > 0)
		enc_fail(e, PL_ERR_INTERNAL, "container left open");
	if (!e->err && e->out.len == 0)
		enc_fail(e, PL_ERR_INTERNAL, "nothing encoded");
	int rc = e->err;
	if (rc) {
		pl_cbor_enc_discard(e);
		e->err = rc;
		return rc;
	}
	*out = e->out.data;
	*len = e->out.len;
	e->out.data = NULL;
	e->out.len = e->out.cap = 0;
	return 0;
}

void pl_cbor_enc_discard(pl_cbor_enc *e)
{
	if (!e)
		return;
	pl_buf_clear(&e->out);
	e->depth = 0;
}
