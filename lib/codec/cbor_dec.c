/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Strict CBOR decoder, read-only accessors and schema-checked map reading.
 *
 * Decoding runs in three steps.  A pre-scan walks the item heads of the raw
 * input without allocating anything and enforces every limit and every rule
 * that can be judged locally: size, nesting depth, item count, string
 * length, declared lengths against the bytes that remain (so a head that
 * claims 2^32 items in a 10-byte input fails before libcbor allocates for
 * it), no indefinite lengths, no floats or simple values other than
 * true/false/null, no tags unless allowed, valid UTF-8.  Then libcbor's
 * cbor_load() builds the tree.  Last, the tree is re-encoded canonically:
 * this finds duplicate map keys (equal canonical key encodings) and, with
 * PL_CBOR_CANONICAL, any difference from the input bytes.
 *
 * The pre-scan also notes whether the input is in canonical form as it
 * stands: every head in its shortest form and every map's keys in strictly
 * ascending bytewise order of their encodings (RFC 8949, 4.2.1).  Such an
 * input is its own canonical encoding and has no duplicate keys, so the
 * re-encoding is skipped; what everything Parley signs and sends is.  Any
 * other input takes the re-encoding, which finds and tells what is wrong.
 *
 * A pl_cbor is a libcbor item seen through an opaque type; the accessors
 * only borrow (they never touch reference counts), so everything lives as
 * long as the root returned by pl_cbor_decode().
 */
#include <stdlib.h>
#include <string.h>

#include <cbor.h>

#include "base/utf8.h"
#include "parley/codec.h"
#include "parley/err.h"

/*
 * Nesting is capped here whatever the caller's limit: libcbor builds, frees
 * and we re-encode trees recursively, and nothing Parley reads is deeper.
 */
#define DEC_DEPTH_CAP 64
#define HEAD_MAX      9

const pl_cbor_limits pl_cbor_default_limits = {
    .max_bytes = 64 * 1024,
    .max_depth = 8,
    .max_items = 4096,
    .max_str = 16 * 1024,
};

/* The opaque handle is the libcbor item itself; this struct fixes its alignment. */
struct pl_cbor {
	cbor_item_t item;
};

static const cbor_item_t *ci(const pl_cbor *p)
{
	return (const cbor_item_t *)p;
}

static const pl_cbor *pc(const cbor_item_t *i)
{
	return (const pl_cbor *)i;
}

/* ------------------------------------------------------------------ pre-scan */

struct scan {
	const uint8_t *p;
	size_t len, pos;
	const pl_cbor_limits *lim;
	unsigned flags;
	unsigned max_depth; /* lim->max_depth, capped */
	size_t items;
	unsigned depth;               /* open containers */
	size_t short_tags;            /* one-byte tag heads libcbor 0.8 cannot read */
	uint64_t left[DEC_DEPTH_CAP]; /* items still due in each open container */
	/* Canonical form as read (see the top of this file). */
	bool canonical;               /* so far: shortest heads, ascending keys */
	bool is_map[DEC_DEPTH_CAP];   /* the open container is a map */
	size_t key_at[DEC_DEPTH_CAP]; /* where its current key starts */
	size_t prev_at[DEC_DEPTH_CAP], prev_end[DEC_DEPTH_CAP]; /* its last key */
};

/* Read one head at s->pos: major type, additional info and argument. */
static int scan_head(struct scan *s, unsigned *major, unsigned *ai, uint64_t *arg)
{
	if (s->pos >= s->len)
		return pl_err_fail(PL_ERR_MALFORMED, "cbor: truncated at byte %zu", s->pos);
	uint8_t ib = s->p[s->pos];
	*major = ib >> 5;
	*ai = ib & 0x1f;
	if (*ai < 24) {
		*arg = *ai;
		s->pos++;
		return 0;
	}
	if (*ai > 27) {
		if (*ai == 31 && *major >= 2 && *major <= 5)
			return pl_err_fail(PL_ERR_MALFORMED,
					   "cbor: indefinite length at byte %zu not allowed",
					   s->pos);
		if (*ai == 31 && *major == 7)
			return pl_err_fail(PL_ERR_MALFORMED, "cbor: unexpected break at byte %zu",
					   s->pos);
		return pl_err_fail(PL_ERR_MALFORMED,
				   "cbor: reserved additional information at byte %zu", s->pos);
	}
	size_t n = (size_t)1 << (*ai - 24);
	if (s->len - s->pos - 1 < n)
		return pl_err_fail(PL_ERR_MALFORMED, "cbor: truncated at byte %zu", s->pos);
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++)
		v = (v << 8) | s->p[s->pos + 1 + i];
	/* Shortest form: an argument below 24 fits the initial byte, and each
	 * wider form holds only what the narrower cannot. */
	static const uint64_t fits_narrower[4] = {23, 0xff, 0xffff, 0xffffffffu};
	if (v <= fits_narrower[*ai - 24])
		s->canonical = false;
	*arg = v;
	s->pos += 1 + n;
	return 0;
}

/* A container (array, map or tag) owing `due` items opens at the current level. */
static int scan_open(struct scan *s, const char *what, uint64_t due)
{
	if (s->depth + 1 > s->max_depth)
		return pl_err_fail(PL_ERR_LIMIT, "cbor: nesting deeper than %u", s->max_depth);
	if (due > s->lim->max_items - s->items)
		return pl_err_fail(PL_ERR_LIMIT, "cbor: %s of %llu items, over the limit of %zu",
				   what, (unsigned long long)due, s->lim->max_items);
	/* Every item takes at least one byte. */
	if (due > s->len - s->pos)
		return pl_err_fail(PL_ERR_MALFORMED,
				   "cbor: truncated: %s of %llu items in %zu remaining bytes", what,
				   (unsigned long long)due, s->len - s->pos);
	if (due == 0)
		return 0;
	s->is_map[s->depth] = what[0] == 'm';
	s->prev_end[s->depth] = 0; /* no key yet */
	s->left[s->depth++] = due;
	return 0;
}

/* An item of the map open at level d ends at s->pos: if it was a key, it
 * must come after the one before it. */
static void scan_key_end(struct scan *s, unsigned d)
{
	if (!s->is_map[d] || s->left[d] % 2 != 0)
		return; /* a value */
	size_t at = s->key_at[d], n = s->pos - at;
	if (s->prev_end[d]) {
		size_t pn = s->prev_end[d] - s->prev_at[d];
		int c = memcmp(s->p + s->prev_at[d], s->p + at, pn < n ? pn : n);
		/* A complete item's encoding is never a prefix of another's. */
		if (c > 0 || (c == 0 && pn >= n))
			s->canonical = false;
	}
	s->prev_at[d] = at;
	s->prev_end[d] = s->pos;
}

/* Scan one item head (and a string's bytes); containers are left open. */
static int scan_item(struct scan *s)
{
	size_t at = s->pos;
	unsigned major = 0, ai = 0;
	uint64_t arg = 0;
	int rc = scan_head(s, &major, &ai, &arg);
	if (rc)
		return rc;
	if (s->items >= s->lim->max_items)
		return pl_err_fail(PL_ERR_LIMIT, "cbor: more than %zu items", s->lim->max_items);
	s->items++;
	switch (major) {
	case 0:
	case 1:
		return 0;
	case 2:
	case 3:
		if (arg > s->lim->max_str)
			return pl_err_fail(PL_ERR_LIMIT,
					   "cbor: string of %llu bytes at byte %zu, over the limit "
					   "of %zu",
					   (unsigned long long)arg, at, s->lim->max_str);
		if (arg > s->len - s->pos)
			return pl_err_fail(PL_ERR_MALFORMED, "cbor: truncated string at byte %zu",
					   at);
		if (major == 3 && !pl_utf8_is_valid(s->p + s->pos, (size_t)arg))
			return pl_err_fail(PL_ERR_MALFORMED,
					   "cbor: invalid UTF-8 in text string at byte %zu", at);
		s->pos += (size_t)arg;
		return 0;
	case 4:
		return scan_open(s, "array", arg);
	case 5:
		if (arg > UINT64_MAX / 2)
			return pl_err_fail(PL_ERR_LIMIT, "cbor: map of %llu pairs",
					   (unsigned long long)arg);
		return scan_open(s, "map", arg * 2);
	case 6:
		if (!(s->flags & PL_CBOR_ALLOW_TAGS))
			return pl_err_fail(PL_ERR_MALFORMED,
					   "cbor: tag %llu at byte %zu not allowed",
					   (unsigned long long)arg, at);
		if (arg >= 6 && arg <= 20 && ai < 24)
			s->short_tags++;
		return scan_open(s, "tag", 1);
	default:
		if (ai >= 20 && ai <= 22) /* false, true, null */
			return 0;
		if (ai == 23)
			return pl_err_fail(PL_ERR_MALFORMED,
					   "cbor: undefined at byte %zu not allowed", at);
		if (ai >= 25)
			return pl_err_fail(PL_ERR_MALFORMED,
					   "cbor: floating-point number at byte %zu not allowed",
					   at);
		return pl_err_fail(PL_ERR_MALFORMED, "cbor: simple value at byte %zu not allowed",
				   at);
	}
}

static int scan_all(struct scan *s)
{
	do {
		unsigned before = s->depth;
		if (before > 0 && s->is_map[before - 1] && s->left[before - 1] % 2 == 0)
			s->key_at[before - 1] = s->pos; /* a key starts */
		int rc = scan_item(s);
		if (rc)
			return rc;
		if (s->depth > before)
			continue; /* a container opened: its items come next */
		/* One item completed: count it against the open containers. */
		while (s->depth > 0) {
			scan_key_end(s, s->depth - 1);
			s->left[s->depth - 1]--;
			if (s->left[s->depth - 1] > 0)
				break;
			s->depth--;
		}
	} while (s->depth > 0);
	if (s->pos != s->len)
		return pl_err_fail(PL_ERR_MALFORMED, "cbor: %zu trailing bytes after the item",
				   s->len - s->pos);
	return 0;
}

/*
 * libcbor 0.8 refuses the one-byte heads of tags 6 to 20 (0xc6-0xd4) as
 * "unassigned", and that range holds COSE_Sign1's tag 18.  For such input,
 * hand libcbor a copy with those heads in their two-byte form (0xd8 nn): the
 * tree is the same, and the canonical check still compares with the input.
 * The input has passed the pre-scan, so it is a well-formed sequence of
 * definite-length heads and string contents.
 */
static int widen_tags(const uint8_t *p, size_t len, size_t short_tags, uint8_t **out,
		      size_t *outlen)
{
	uint8_t *w = malloc(len + short_tags);
	if (!w)
		return PL_ERR_NOMEM;
	size_t i = 0, o = 0;
	while (i < len) {
		unsigned major = p[i] >> 5, ai = p[i] & 0x1f;
		if (major == 6 && ai >= 6 && ai <= 20) {
			w[o++] = 0xd8;
			w[o++] = (uint8_t)ai;
			i++;
			continue;
		}
		size_t hl = 1;
		uint64_t arg = ai;
		if (ai >= 24 && ai <= 27) {
			hl += (size_t)1 << (ai - 24);
			arg = 0;
			for (size_t k = 1; k < hl; k++)
				arg = (arg << 8) | p[i + k];
		}
		size_t copy = hl + (major == 2 || major == 3 ? (size_t)arg : 0);
		if (copy > len - i) { /* cannot happen after the pre-scan */
			free(w);
			return PL_ERR_INTERNAL;
		}
		memcpy(w + o, p + i, copy);
		o += copy;
		i += copy;
	}
	*out = w;
	*outlen = o;
	return 0;
}

/* --------------------------------------------------------- canonical re-encode */

struct pair_rec {
	const uint8_t *key; /* into the scratch buffer, valid once it is complete */
	size_t key_off, key_len, off, len;
};

static int pair_cmp(const void *a, const void *b)
{
	const struct pair_rec *x = a, *y = b;
	int c = memcmp(x->key, y->key, x->key_len < y->key_len ? x->key_len : y->key_len);
	if (c)
		return c;
	return x->key_len < y->key_len ? -1 : x->key_len > y->key_len;
}

static int put(pl_buf *b, const void *p, size_t n)
{
	return pl_buf_append(b, p, n);
}

static int put_head(pl_buf *b, size_t (*fn)(size_t, unsigned char *, size_t), size_t v)
{
	unsigned char h[HEAD_MAX];
	size_t n = fn(v, h, sizeof(h));
	return n ? put(b, h, n) : PL_ERR_INTERNAL;
}

static int tenc(const cbor_item_t *it, pl_buf *b, unsigned depth);

static int tenc_map(const cbor_item_t *it, pl_buf *b, unsigned depth)
{
	size_t n = cbor_map_size(it);
	struct cbor_pair *pairs = cbor_map_handle(it);
	int rc = put_head(b, cbor_encode_map_start, n);
	if (rc || n == 0)
		return rc;
	struct pair_rec *rec = calloc(n, sizeof(*rec));
	pl_buf tmp = {0};
	if (!rec)
		return PL_ERR_NOMEM;
	for (size_t i = 0; i < n && !rc; i++) {
		rec[i].off = rec[i].key_off = tmp.len;
		rc = tenc(pairs[i].key, &tmp, depth + 1);
		rec[i].key_len = tmp.len - rec[i].key_off;
		if (!rc)
			rc = tenc(pairs[i].value, &tmp, depth + 1);
		rec[i].len = tmp.len - rec[i].off;
	}
	if (!rc) {
		for (size_t i = 0; i < n; i++)
			rec[i].key = tmp.data + rec[i].key_off;
		qsort(rec, n, sizeof(*rec), pair_cmp);
		for (size_t i = 1; i < n && !rc; i++)
			if (pair_cmp(&rec[i - 1], &rec[i]) == 0)
				rc = pl_err_fail(PL_ERR_MALFORMED, "cbor: duplicate map key");
	}
	for (size_t i = 0; i < n && !rc; i++)
		rc = put(b, tmp.data + rec[i].off, rec[i].len);
	pl_buf_clear(&tmp);
	free(rec);
	return rc;
}

/* Append the canonical encoding of it, inside depth containers, to b. */
static int tenc(const cbor_item_t *it, pl_buf *b, unsigned depth)
{
	unsigned char h[HEAD_MAX];
	size_t n;
	int rc;
	switch (cbor_typeof(it)) {
	case CBOR_TYPE_ARRAY:
	case CBOR_TYPE_MAP:
	case CBOR_TYPE_TAG:
		if (depth >= DEC_DEPTH_CAP)
			return pl_err_fail(PL_ERR_LIMIT, "cbor: nesting deeper than %d",
					   DEC_DEPTH_CAP);
		break;
	default:
		break;
	}
	switch (cbor_typeof(it)) {
	case CBOR_TYPE_UINT:
		n = cbor_encode_uint(cbor_get_int(it), h, sizeof(h));
		return n ? put(b, h, n) : PL_ERR_INTERNAL;
	case CBOR_TYPE_NEGINT:
		n = cbor_encode_negint(cbor_get_int(it), h, sizeof(h));
		return n ? put(b, h, n) : PL_ERR_INTERNAL;
	case CBOR_TYPE_BYTESTRING:
		if (!cbor_bytestring_is_definite(it))
			return PL_ERR_INTERNAL;
		n = cbor_bytestring_length(it);
		rc = put_head(b, cbor_encode_bytestring_start, n);
		return rc ? rc : put(b, cbor_bytestring_handle(it), n);
	case CBOR_TYPE_STRING:
		if (!cbor_string_is_definite(it))
			return PL_ERR_INTERNAL;
		n = cbor_string_length(it);
		rc = put_head(b, cbor_encode_string_start, n);
		return rc ? rc : put(b, cbor_string_handle(it), n);
	case CBOR_TYPE_ARRAY: {
		if (!cbor_array_is_definite(it))
			return PL_ERR_INTERNAL;
		size_t k = cbor_array_size(it);
		cbor_item_t **items = cbor_array_handle(it);
		rc = put_head(b, cbor_encode_array_start, k);
		for (size_t i = 0; i < k && !rc; i++)
			rc = tenc(items[i], b, depth + 1);
		return rc;
	}
	case CBOR_TYPE_MAP:
		if (!cbor_map_is_definite(it))
			return PL_ERR_INTERNAL;
		return tenc_map(it, b, depth);
	case CBOR_TYPE_TAG:
		n = cbor_encode_tag(cbor_tag_value(it), h, sizeof(h));
		rc = n ? put(b, h, n) : PL_ERR_INTERNAL;
		return rc ? rc : tenc(it->metadata.tag_metadata.tagged_item, b, depth + 1);
	case CBOR_TYPE_FLOAT_CTRL:
		if (cbor_is_bool(it))
			n = cbor_encode_bool(cbor_get_bool(it), h, sizeof(h));
		else if (cbor_is_null(it))
			n = cbor_encode_null(h, sizeof(h));
		else
			return PL_ERR_INTERNAL; /* refused by the pre-scan */
		return n ? put(b, h, n) : PL_ERR_INTERNAL;
	}
	return PL_ERR_INTERNAL;
}

/* ------------------------------------------------------------------- decode */

static int load_error(const struct cbor_load_result *r)
{
	switch (r->error.code) {
	case CBOR_ERR_NOTENOUGHDATA:
	case CBOR_ERR_NODATA:
		return pl_err_fail(PL_ERR_MALFORMED, "cbor: truncated at byte %zu",
				   r->error.position);
	case CBOR_ERR_MEMERROR:
		return pl_err_fail(PL_ERR_NOMEM, "cbor: out of memory while decoding");
	case CBOR_ERR_MALFORMATED:
		return pl_err_fail(PL_ERR_MALFORMED, "cbor: malformed item at byte %zu",
				   r->error.position);
	default:
		return pl_err_fail(PL_ERR_MALFORMED, "cbor: syntax error at byte %zu",
				   r->error.position);
	}
}

int pl_cbor_decode(const uint8_t *buf, size_t len, const pl_cbor_limits *lim, unsigned flags,
		   pl_cbor **out)
{
	*out = NULL;
	if (!lim)
		lim = &pl_cbor_default_limits;
	if (!buf && len)
		return PL_ERR_INVALID;
	if (len > lim->max_bytes)
		return pl_err_fail(PL_ERR_LIMIT, "cbor: input of %zu bytes, over the limit of %zu",
				   len, lim->max_bytes);
	if (len == 0)
		return pl_err_fail(PL_ERR_MALFORMED, "cbor: empty input");

	struct scan s = {.p = buf, .len = len, .lim = lim, .flags = flags, .canonical = true};
	s.max_depth = lim->max_depth < DEC_DEPTH_CAP ? lim->max_depth : DEC_DEPTH_CAP;
	int rc = scan_all(&s);
	if (rc)
		return rc;

	const uint8_t *src = buf;
	size_t srclen = len;
	uint8_t *wide = NULL;
	if (s.short_tags) {
		rc = widen_tags(buf, len, s.short_tags, &wide, &srclen);
		if (rc)
			return rc;
		src = wide;
	}
	struct cbor_load_result res;
	cbor_item_t *root = cbor_load(src, srclen, &res);
	free(wide);
	if (!root)
		return load_error(&res);
	if (res.error.code != CBOR_ERR_NONE || res.read != srclen) {
		cbor_decref(&root);
		return pl_err_fail(PL_ERR_MALFORMED, "cbor: %zu trailing bytes after the item",
				   srclen - res.read);
	}

	if (s.canonical) { /* its own canonical form: nothing to find */
		*out = (pl_cbor *)root;
		return 0;
	}
	/* Re-encode: finds duplicate keys, and gives the canonical form to compare. */
	pl_buf canon = {0};
	rc = tenc(root, &canon, 0);
	if (!rc && (flags & PL_CBOR_CANONICAL)) {
		size_t i = 0;
		while (i < len && i < canon.len && canon.data[i] == buf[i])
			i++;
		if (i != len || canon.len != len)
			rc = pl_err_fail(
			    PL_ERR_NONCANONICAL,
			    "cbor: not in canonical form (first difference at byte %zu)", i);
	}
	pl_buf_clear(&canon);
	if (rc) {
		cbor_decref(&root);
		return rc;
	}
	*out = (pl_cbor *)root;
	return 0;
}

void pl_cbor_free_(pl_cbor *item)
{
	cbor_item_t *it = (cbor_item_t *)item;
	if (it)
		cbor_decref(&it);
}

/* ---------------------------------------------------------------- accessors */

pl_cbor_type pl_cbor_type_of(const pl_cbor *p)
{
	const cbor_item_t *it = ci(p);
	if (!it)
		return 0;
	switch (cbor_typeof(it)) {
	case CBOR_TYPE_UINT:
		return PL_CBOR_UINT;
	case CBOR_TYPE_NEGINT:
		return PL_CBOR_NEGINT;
	case CBOR_TYPE_BYTESTRING:
		return PL_CBOR_BYTES;
	case CBOR_TYPE_STRING:
		return PL_CBOR_TEXT;
	case CBOR_TYPE_ARRAY:
		return PL_CBOR_ARRAY;
	case CBOR_TYPE_MAP:
		return PL_CBOR_MAP;
	case CBOR_TYPE_TAG:
		return PL_CBOR_TAG;
	case CBOR_TYPE_FLOAT_CTRL:
		if (cbor_is_bool(it))
			return PL_CBOR_BOOL;
		if (cbor_is_null(it))
			return PL_CBOR_NULL;
		return 0;
	}
	return 0;
}

static const char *type_name(pl_cbor_type t)
{
	switch (t) {
	case PL_CBOR_UINT:
		return "unsigned integer";
	case PL_CBOR_NEGINT:
		return "negative integer";
	case PL_CBOR_BYTES:
		return "bytes";
	case PL_CBOR_TEXT:
		return "text";
	case PL_CBOR_ARRAY:
		return "array";
	case PL_CBOR_MAP:
		return "map";
	case PL_CBOR_TAG:
		return "tag";
	case PL_CBOR_BOOL:
		return "bool";
	case PL_CBOR_NULL:
		return "null";
	case PL_CBOR_INT:
		return "integer";
	case PL_CBOR_ANY:
		return "any item";
	}
	return "unknown";
}

static int want(const pl_cbor *p, pl_cbor_type t)
{
	if (!p)
		return PL_ERR_INVALID;
	pl_cbor_type got = pl_cbor_type_of(p);
	if (got == t)
		return 0;
	return pl_err_fail(PL_ERR_MALFORMED, "cbor: expected %s, got %s", type_name(t),
			   type_name(got));
}

int pl_cbor_get_uint(const pl_cbor *p, uint64_t *v)
{
	int rc = want(p, PL_CBOR_UINT);
	if (rc)
		return rc;
	*v = cbor_get_int(ci(p));
	return 0;
}

/* The int64_t value of an integer item: 0, PL_ERR_LIMIT, or 1 when not an integer. */
static int int_value(const cbor_item_t *it, int64_t *v)
{
	if (cbor_isa_uint(it)) {
		uint64_t u = cbor_get_int(it);
		if (u > INT64_MAX)
			return PL_ERR_LIMIT;
		*v = (int64_t)u;
		return 0;
	}
	if (cbor_isa_negint(it)) {
		uint64_t n = cbor_get_int(it); /* the value is -1 - n */
		if (n > INT64_MAX)
			return PL_ERR_LIMIT;
		*v = -1 - (int64_t)n;
		return 0;
	}
	return 1;
}

int pl_cbor_get_int(const pl_cbor *p, int64_t *v)
{
	if (!p)
		return PL_ERR_INVALID;
	int64_t x;
	int rc = int_value(ci(p), &x);
	if (rc == 1)
		return want(p, PL_CBOR_INT);
	if (rc)
		return pl_err_fail(rc, "cbor: integer out of the int64 range");
	*v = x;
	return 0;
}

int pl_cbor_get_bool(const pl_cbor *p, bool *v)
{
	int rc = want(p, PL_CBOR_BOOL);
	if (rc)
		return rc;
	*v = cbor_get_bool(ci(p));
	return 0;
}

static const uint8_t empty[1];

int pl_cbor_get_bytes(const pl_cbor *p, pl_slice *v)
{
	int rc = want(p, PL_CBOR_BYTES);
	if (rc)
		return rc;
	v->n = cbor_bytestring_length(ci(p));
	v->p = v->n ? cbor_bytestring_handle(ci(p)) : empty;
	return 0;
}

int pl_cbor_get_text(const pl_cbor *p, pl_slice *v)
{
	int rc = want(p, PL_CBOR_TEXT);
	if (rc)
		return rc;
	v->n = cbor_string_length(ci(p));
	v->p = v->n ? cbor_string_handle(ci(p)) : empty;
	return 0;
}

size_t pl_cbor_len(const pl_cbor *p)
{
	const cbor_item_t *it = ci(p);
	if (!it)
		return 0;
	if (cbor_isa_array(it))
		return cbor_array_size(it);
	if (cbor_isa_map(it))
		return cbor_map_size(it);
	return 0;
}

const pl_cbor *pl_cbor_at(const pl_cbor *array, size_t i)
{
	const cbor_item_t *it = ci(array);
	if (!it || !cbor_isa_array(it) || i >= cbor_array_size(it))
		return NULL;
	return pc(cbor_array_handle(it)[i]);
}

const pl_cbor *pl_cbor_key_at(const pl_cbor *map, size_t i)
{
	const cbor_item_t *it = ci(map);
	if (!it || !cbor_isa_map(it) || i >= cbor_map_size(it))
		return NULL;
	return pc(cbor_map_handle(it)[i].key);
}

const pl_cbor *pl_cbor_value_at(const pl_cbor *map, size_t i)
{
	const cbor_item_t *it = ci(map);
	if (!it || !cbor_isa_map(it) || i >= cbor_map_size(it))
		return NULL;
	return pc(cbor_map_handle(it)[i].value);
}

static bool text_is(const cbor_item_t *it, const char *s, size_t n)
{
	return cbor_isa_string(it) && cbor_string_length(it) == n &&
	       (n == 0 || memcmp(cbor_string_handle(it), s, n) == 0);
}

const pl_cbor *pl_cbor_map_get(const pl_cbor *map, const char *key)
{
	const cbor_item_t *it = ci(map);
	if (!it || !key || !cbor_isa_map(it))
		return NULL;
	size_t kn = strlen(key);
	struct cbor_pair *pairs = cbor_map_handle(it);
	for (size_t i = 0; i < cbor_map_size(it); i++)
		if (text_is(pairs[i].key, key, kn))
			return pc(pairs[i].value);
	return NULL;
}

const pl_cbor *pl_cbor_map_get_int(const pl_cbor *map, int64_t key)
{
	const cbor_item_t *it = ci(map);
	if (!it || !cbor_isa_map(it))
		return NULL;
	struct cbor_pair *pairs = cbor_map_handle(it);
	for (size_t i = 0; i < cbor_map_size(it); i++) {
		int64_t k;
		if (int_value(pairs[i].key, &k) == 0 && k == key)
			return pc(pairs[i].value);
	}
	return NULL;
}

uint64_t pl_cbor_tag_value(const pl_cbor *tag)
{
	const cbor_item_t *it = ci(tag);
	return it && cbor_isa_tag(it) ? cbor_tag_value(it) : 0;
}

const pl_cbor *pl_cbor_tag_item(const pl_cbor *tag)
{
	const cbor_item_t *it = ci(tag);
	/* Not cbor_tag_item(): it takes a reference the caller would have to drop. */
	return it && cbor_isa_tag(it) ? pc(it->metadata.tag_metadata.tagged_item) : NULL;
}

int pl_cbor_encode_item(const pl_cbor *p, uint8_t **out, size_t *len)
{
	*out = NULL;
	*len = 0;
	if (!p)
		return PL_ERR_INVALID;
	pl_buf b = {0};
	int rc = tenc(ci(p), &b, 0);
	if (rc) {
		pl_buf_clear(&b);
		return rc;
	}
	*out = b.data;
	*len = b.len;
	return 0;
}

/* ----------------------------------------------------------------- read_map */

/* A printable copy of an untrusted key for error details. */
static void key_for_detail(char *dst, size_t cap, const uint8_t *p, size_t n)
{
	size_t j = 0;
	for (size_t i = 0; i < n && j + 4 < cap; i++)
		dst[j++] = (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\'') ? (char)p[i] : '?';
	if (j + 4 >= cap && n > j) {
		dst[j++] = '.';
		dst[j++] = '.';
		dst[j++] = '.';
	}
	dst[j] = '\0';
}

static const char *len_unit(pl_cbor_type t)
{
	return t == PL_CBOR_ARRAY ? "items" : t == PL_CBOR_MAP ? "pairs" : "bytes";
}

/* Check one present field's value against its schema entry. */
static int field_check(const pl_cbor_field *f, const pl_cbor *v)
{
	pl_cbor_type got = pl_cbor_type_of(v);
	size_t n = 0;
	switch (f->type) {
	case PL_CBOR_ANY:
		return 0;
	case PL_CBOR_INT: {
		int64_t x;
		int rc = int_value(ci(v), &x);
		if (rc == 1)
			break;
		if (rc)
			return pl_err_fail(PL_ERR_LIMIT, "field '%s': integer out of range",
					   f->key);
		return 0;
	}
	case PL_CBOR_NEGINT:
		if (got == PL_CBOR_NEGINT && cbor_get_int(ci(v)) > INT64_MAX)
			return pl_err_fail(PL_ERR_LIMIT, "field '%s': integer out of range",
					   f->key);
		break;
	case PL_CBOR_TEXT:
	case PL_CBOR_BYTES:
		if (got == f->type)
			n = got == PL_CBOR_TEXT ? cbor_string_length(ci(v))
						: cbor_bytestring_length(ci(v));
		break;
	case PL_CBOR_ARRAY:
	case PL_CBOR_MAP:
		n = pl_cbor_len(v);
		break;
	default:
		break;
	}
	if (got != f->type)
		return pl_err_fail(PL_ERR_MALFORMED, "field '%s': expected %s, got %s", f->key,
				   type_name(f->type), type_name(got));
	if (f->max_len && (f->type == PL_CBOR_TEXT || f->type == PL_CBOR_BYTES ||
			   f->type == PL_CBOR_ARRAY || f->type == PL_CBOR_MAP)) {
		if (f->min_len == f->max_len && n != f->max_len)
			return pl_err_fail(PL_ERR_MALFORMED, "field '%s': %zu %s, expected %zu",
					   f->key, n, len_unit(f->type), f->max_len);
		if (n > f->max_len)
			return pl_err_fail(PL_ERR_LIMIT, "field '%s': %zu %s, at most %zu", f->key,
					   n, len_unit(f->type), f->max_len);
		if (n < f->min_len)
			return pl_err_fail(PL_ERR_MALFORMED, "field '%s': %zu %s, at least %zu",
					   f->key, n, len_unit(f->type), f->min_len);
	}
	if (f->type == PL_CBOR_TEXT && (f->flags & PL_FIELD_LINE)) {
		const uint8_t *s = cbor_string_handle(ci(v));
		for (size_t i = 0; i < n; i++)
			if (s[i] < 0x20 || s[i] == 0x7f)
				return pl_err_fail(PL_ERR_MALFORMED,
						   "field '%s': control character in text", f->key);
	}
	return 0;
}

static void field_store(const pl_cbor_field *f, const pl_cbor *v)
{
	if (f->present)
		*f->present = true;
	if (!f->out)
		return;
	switch (f->type) {
	case PL_CBOR_UINT:
		*(uint64_t *)f->out = cbor_get_int(ci(v));
		break;
	case PL_CBOR_INT:
	case PL_CBOR_NEGINT:
		(void)int_value(ci(v), (int64_t *)f->out);
		break;
	case PL_CBOR_BOOL:
		*(bool *)f->out = cbor_get_bool(ci(v));
		break;
	case PL_CBOR_TEXT:
	case PL_CBOR_BYTES: {
		/* Types were checked in field_check(), so these cannot fail. */
		pl_slice *sl = f->out;
		int rc =
		    f->type == PL_CBOR_TEXT ? pl_cbor_get_text(v, sl) : pl_cbor_get_bytes(v, sl);
		(void)rc;
		break;
	}
	case PL_CBOR_NULL:
		break;
	default: /* ARRAY, MAP, TAG, ANY */
		*(const pl_cbor **)f->out = v;
		break;
	}
}

int pl_cbor_read_map(const pl_cbor *map, const pl_cbor_field *fields, size_t n)
{
	if (!map || (n && !fields))
		return PL_ERR_INVALID;
	if (pl_cbor_type_of(map) != PL_CBOR_MAP)
		return pl_err_fail(PL_ERR_MALFORMED, "expected a map, got %s",
				   type_name(pl_cbor_type_of(map)));
	/* Every key must be a listed text key. */
	size_t pairs = pl_cbor_len(map);
	for (size_t i = 0; i < pairs; i++) {
		pl_slice k;
		if (pl_cbor_get_text(pl_cbor_key_at(map, i), &k) != 0)
			return pl_err_fail(PL_ERR_MALFORMED, "map key is not text");
		size_t j = 0;
		while (j < n &&
		       !(strlen(fields[j].key) == k.n && memcmp(fields[j].key, k.p, k.n) == 0))
			j++;
		if (j == n) {
			char shown[40];
			key_for_detail(shown, sizeof(shown), k.p, k.n);
			return pl_err_fail(PL_ERR_MALFORMED, "unknown field '%s'", shown);
		}
	}
	/* Then every field: present when required, and of the right shape. */
	for (size_t j = 0; j < n; j++) {
		const pl_cbor *v = pl_cbor_map_get(map, fields[j].key);
		if (!v) {
			if (!(fields[j].flags & PL_FIELD_OPTIONAL))
				return pl_err_fail(PL_ERR_MALFORMED, "missing field '%s'",
						   fields[j].key);
			continue;
		}
		int rc = field_check(&fields[j], v);
		if (rc)
			return rc;
	}
	/* All good: only now touch the outputs. */
	for (size_t j = 0; j < n; j++) {
		const pl_cbor *v = pl_cbor_map_get(map, fields[j].key);
		if (v)
			field_store(&fields[j], v);
		else if (fields[j].present)
			*fields[j].present = false;
	}
	return 0;
}
