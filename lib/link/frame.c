/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Link frames: strict parsing and canonical encoding of the six frame
 * types (docs/protocol.md, "Link layer").
 *
 * Parsing decodes with PL_CBOR_CANONICAL under explicit limits, then checks
 * each frame's exact field set, types and stateless ranges (lane, kind,
 * lseq, item size, chunk inside the item).  Rules that need link state
 * (sequence, offsets, receipts, ordering) are link.c's.  Divisions: reason
 * text; parsing; encoding.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "link/link_int.h"
#include "parley/err.h"

/* A frame is one map of at most 7 pairs; HELLO's array adds 5 items. */
static const pl_cbor_limits frame_limits = {
    .max_bytes = PL_LINK_MAX_FRAME, .max_depth = 2, .max_items = 32, .max_str = PL_LINK_MAX_FRAME};

static const char *const frame_names[] = {"?", "HELLO", "DATA", "RECEIPT", "PING", "PONG", "CLOSE"};

/* ---------------------------------------------------------------- reason text */

/* Length of the valid UTF-8 character at p[0..n), or 0 when it is not one. */
static size_t utf8_char_len(const uint8_t *p, size_t n)
{
	uint8_t c = p[0];
	size_t k;
	uint32_t cp, min;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		k = 1, cp = c & 0x1f, min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		k = 2, cp = c & 0x0f, min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		k = 3, cp = c & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (n - 1 < k)
		return 0;
	for (size_t j = 1; j <= k; j++) {
		if ((p[j] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[j] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return k + 1;
}

void link_reason_copy(char dst[PL_LINK_MAX_REASON + 1], const char *s, size_t n)
{
	const uint8_t *p = (const uint8_t *)s;
	size_t i = 0, o = 0;
	while (i < n) {
		size_t k = utf8_char_len(p + i, n - i);
		if (k == 0 || (k == 1 && (p[i] < 0x20 || p[i] == 0x7f))) {
			if (o + 1 > PL_LINK_MAX_REASON)
				break;
			dst[o++] = '?';
			i += k ? k : 1;
			continue;
		}
		if (o + k > PL_LINK_MAX_REASON)
			break;
		memcpy(dst + o, p + i, k);
		o += k;
		i += k;
	}
	dst[o] = '\0';
}

/* ---------------------------------------------------------------- parsing */

/* Fail with PL_ERR_PROTOCOL, prefixing the codec's detail with what. */
static int fail_codec(const char *what)
{
	char detail[256];
	snprintf(detail, sizeof(detail), "%s", pl_err_detail());
	return pl_err_fail(PL_ERR_PROTOCOL, "%s: %s", what, detail);
}

static int parse_hello(const pl_cbor *map, link_frame *f)
{
	/* The version is read first: another version may have other fields. */
	const pl_cbor *v = pl_cbor_map_get(map, "ver");
	uint64_t ver;
	if (!v || pl_cbor_get_uint(v, &ver) != 0)
		return pl_err_fail(PL_ERR_PROTOCOL, "malformed HELLO: no version");
	if (ver != PL_LINK_VERSION)
		return pl_err_fail(PL_ERR_VERSION,
				   "peer speaks link protocol version %llu, this node version %d",
				   (unsigned long long)ver, PL_LINK_VERSION);
	uint64_t t;
	const pl_cbor *next;
	bool has_lanes = false;
	const pl_cbor_field fields[] = {
	    {"t", PL_CBOR_UINT, 0, 0, 0, &t, NULL},
	    {"ver", PL_CBOR_UINT, 0, 0, 0, &f->ver, NULL},
	    {"next", PL_CBOR_ARRAY, 0, PL_LINK_LANES, PL_LINK_LANES, &next, NULL},
	    {"node", PL_CBOR_BYTES, 0, 1, PL_LINK_MAX_NODE_REC, &f->node, NULL},
	    {"lanes", PL_CBOR_UINT, PL_FIELD_OPTIONAL, 0, 0, &f->lanes, &has_lanes},
	};
	if (pl_cbor_read_map(map, fields, sizeof(fields) / sizeof(fields[0])) != 0)
		return fail_codec("malformed HELLO");
	if (!has_lanes)
		f->lanes = PL_LINK_LANES_ALL;
	else if (f->lanes == 0 || f->lanes > PL_LINK_LANES_ALL)
		return pl_err_fail(PL_ERR_PROTOCOL, "malformed HELLO: lane set %llu out of range",
				   (unsigned long long)f->lanes);
	for (unsigned i = 0; i < PL_LINK_LANES; i++) {
		uint64_t x;
		if (pl_cbor_get_uint(pl_cbor_at(next, i), &x) != 0)
			return pl_err_fail(PL_ERR_PROTOCOL,
					   "malformed HELLO: resume point %u "
					   "is not an unsigned integer",
					   i);
		if (x < 1 || x > PL_LINK_LSEQ_MAX + 1)
			return pl_err_fail(
			    PL_ERR_PROTOCOL,
			    "malformed HELLO: resume point %llu of lane %u out of range",
			    (unsigned long long)x, i);
		f->next[i] = x;
	}
	return 0;
}

static int check_lane(uint64_t lane, const char *frame, link_frame *f)
{
	if (lane >= PL_LINK_LANES)
		return pl_err_fail(PL_ERR_PROTOCOL, "%s frame: lane %llu does not exist", frame,
				   (unsigned long long)lane);
	f->lane = (unsigned)lane;
	return 0;
}

static int parse_data(const pl_cbor *map, link_frame *f)
{
	uint64_t t, kind, lane;
	const pl_cbor_field fields[] = {
	    {"t", PL_CBOR_UINT, 0, 0, 0, &t, NULL},
	    {"off", PL_CBOR_UINT, 0, 0, 0, &f->off, NULL},
	    {"data", PL_CBOR_BYTES, 0, 1, 0, &f->data, NULL},
	    {"kind", PL_CBOR_UINT, 0, 0, 0, &kind, NULL},
	    {"lane", PL_CBOR_UINT, 0, 0, 0, &lane, NULL},
	    {"lseq", PL_CBOR_UINT, 0, 0, 0, &f->lseq, NULL},
	    {"total", PL_CBOR_UINT, 0, 0, 0, &f->total, NULL},
	};
	if (pl_cbor_read_map(map, fields, sizeof(fields) / sizeof(fields[0])) != 0)
		return fail_codec("malformed DATA");
	if (f->data.n == 0)
		return pl_err_fail(PL_ERR_PROTOCOL, "DATA frame: empty chunk");
	int rc = check_lane(lane, "DATA", f);
	if (rc)
		return rc;
	if (kind < 1 || kind > UINT32_MAX)
		return pl_err_fail(PL_ERR_PROTOCOL, "DATA frame: kind %llu out of range",
				   (unsigned long long)kind);
	f->kind = (uint32_t)kind;
	if (f->lseq < 1 || f->lseq > PL_LINK_LSEQ_MAX)
		return pl_err_fail(PL_ERR_PROTOCOL, "DATA frame: lseq %llu out of range",
				   (unsigned long long)f->lseq);
	if (f->total < 1 || f->total > PL_LINK_MAX_ITEM)
		return pl_err_fail(PL_ERR_PROTOCOL,
				   "DATA frame: item of %llu bytes, the limit is 1..%d",
				   (unsigned long long)f->total, PL_LINK_MAX_ITEM);
	if (f->off >= f->total || f->data.n > f->total - f->off)
		return pl_err_fail(PL_ERR_PROTOCOL,
				   "DATA frame: chunk of %zu bytes at offset %llu runs past the "
				   "item's %llu bytes",
				   f->data.n, (unsigned long long)f->off,
				   (unsigned long long)f->total);
	return 0;
}

static int parse_receipt(const pl_cbor *map, link_frame *f)
{
	uint64_t t, lane;
	const pl_cbor_field fields[] = {
	    {"t", PL_CBOR_UINT, 0, 0, 0, &t, NULL},
	    {"lane", PL_CBOR_UINT, 0, 0, 0, &lane, NULL},
	    {"upto", PL_CBOR_UINT, 0, 0, 0, &f->upto, NULL},
	};
	if (pl_cbor_read_map(map, fields, sizeof(fields) / sizeof(fields[0])) != 0)
		return fail_codec("malformed RECEIPT");
	int rc = check_lane(lane, "RECEIPT", f);
	if (rc)
		return rc;
	if (f->upto > PL_LINK_LSEQ_MAX)
		return pl_err_fail(PL_ERR_PROTOCOL, "RECEIPT frame: upto %llu out of range",
				   (unsigned long long)f->upto);
	return 0;
}

static int parse_ping(const pl_cbor *map, link_frame *f, const char *what)
{
	uint64_t t;
	const pl_cbor_field fields[] = {
	    {"n", PL_CBOR_UINT, 0, 0, 0, &f->n, NULL},
	    {"t", PL_CBOR_UINT, 0, 0, 0, &t, NULL},
	};
	if (pl_cbor_read_map(map, fields, sizeof(fields) / sizeof(fields[0])) != 0)
		return fail_codec(what);
	return 0;
}

static int parse_close(const pl_cbor *map, link_frame *f)
{
	uint64_t t;
	const pl_cbor_field fields[] = {
	    {"t", PL_CBOR_UINT, 0, 0, 0, &t, NULL},
	    {"reason", PL_CBOR_TEXT, PL_FIELD_LINE, 0, PL_LINK_MAX_REASON, &f->reason, NULL},
	};
	if (pl_cbor_read_map(map, fields, sizeof(fields) / sizeof(fields[0])) != 0)
		return fail_codec("malformed CLOSE");
	return 0;
}

int link_frame_parse(const uint8_t *p, size_t n, link_frame *f, pl_cbor **root)
{
	*root = NULL;
	memset(f, 0, sizeof(*f));
	pl_cbor *map = NULL;
	int rc = pl_cbor_decode(p, n, &frame_limits, PL_CBOR_CANONICAL, &map);
	if (rc == PL_ERR_NONCANONICAL)
		return fail_codec("non-canonical frame");
	if (rc)
		return fail_codec("malformed frame");
	const pl_cbor *t = pl_cbor_map_get(map, "t");
	uint64_t type = 0;
	if (pl_cbor_type_of(map) != PL_CBOR_MAP) {
		rc = pl_err_fail(PL_ERR_PROTOCOL, "malformed frame: not a map");
	} else if (!t || pl_cbor_get_uint(t, &type) != 0) {
		rc = pl_err_fail(PL_ERR_PROTOCOL, "malformed frame: no type");
	} else {
		f->type = (unsigned)type;
		switch (type) {
		case LINK_HELLO:
			rc = parse_hello(map, f);
			break;
		case LINK_DATA:
			rc = parse_data(map, f);
			break;
		case LINK_RECEIPT:
			rc = parse_receipt(map, f);
			break;
		case LINK_PING:
			rc = parse_ping(map, f, "malformed PING");
			break;
		case LINK_PONG:
			rc = parse_ping(map, f, "malformed PONG");
			break;
		case LINK_CLOSE:
			rc = parse_close(map, f);
			break;
		default:
			rc = pl_err_fail(PL_ERR_PROTOCOL, "unknown frame type %llu",
					 (unsigned long long)type);
		}
	}
	if (rc) {
		pl_cbor_free(map);
		memset(f, 0, sizeof(*f));
		return rc;
	}
	*root = map;
	return 0;
}

/* ---------------------------------------------------------------- encoding */

static bool hello_all_lanes(const link_frame *f)
{
	return f->lanes == 0 || f->lanes == PL_LINK_LANES_ALL;
}

/* Keys in canonical order: shorter encodings first, then bytewise. */
static void put_body(pl_cbor_enc *e, const link_frame *f)
{
	switch (f->type) {
	case LINK_HELLO:
		pl_cbor_put_map(e, hello_all_lanes(f) ? 4 : 5);
		pl_cbor_put_str(e, "t");
		pl_cbor_put_uint(e, LINK_HELLO);
		pl_cbor_put_str(e, "ver");
		pl_cbor_put_uint(e, f->ver);
		pl_cbor_put_str(e, "next");
		pl_cbor_put_array(e, PL_LINK_LANES);
		for (unsigned i = 0; i < PL_LINK_LANES; i++)
			pl_cbor_put_uint(e, f->next[i]);
		pl_cbor_put_str(e, "node");
		pl_cbor_put_bytes(e, f->node.p, f->node.n);
		if (!hello_all_lanes(f)) { /* absent: every lane */
			pl_cbor_put_str(e, "lanes");
			pl_cbor_put_uint(e, f->lanes);
		}
		break;
	case LINK_DATA:
		pl_cbor_put_map(e, 7);
		pl_cbor_put_str(e, "t");
		pl_cbor_put_uint(e, LINK_DATA);
		pl_cbor_put_str(e, "off");
		pl_cbor_put_uint(e, f->off);
		pl_cbor_put_str(e, "data");
		pl_cbor_put_bytes(e, f->data.p, f->data.n);
		pl_cbor_put_str(e, "kind");
		pl_cbor_put_uint(e, f->kind);
		pl_cbor_put_str(e, "lane");
		pl_cbor_put_uint(e, f->lane);
		pl_cbor_put_str(e, "lseq");
		pl_cbor_put_uint(e, f->lseq);
		pl_cbor_put_str(e, "total");
		pl_cbor_put_uint(e, f->total);
		break;
	case LINK_RECEIPT:
		pl_cbor_put_map(e, 3);
		pl_cbor_put_str(e, "t");
		pl_cbor_put_uint(e, LINK_RECEIPT);
		pl_cbor_put_str(e, "lane");
		pl_cbor_put_uint(e, f->lane);
		pl_cbor_put_str(e, "upto");
		pl_cbor_put_uint(e, f->upto);
		break;
	case LINK_PING:
	case LINK_PONG:
		pl_cbor_put_map(e, 2);
		pl_cbor_put_str(e, "n");
		pl_cbor_put_uint(e, f->n);
		pl_cbor_put_str(e, "t");
		pl_cbor_put_uint(e, f->type);
		break;
	case LINK_CLOSE:
		pl_cbor_put_map(e, 2);
		pl_cbor_put_str(e, "t");
		pl_cbor_put_uint(e, LINK_CLOSE);
		pl_cbor_put_str(e, "reason");
		pl_cbor_put_text(e, (const char *)f->reason.p, f->reason.n);
		break;
	default:
		pl_cbor_put_null(e); /* a bug: refused below */
	}
}

int link_frame_put(pl_buf *out, const link_frame *f)
{
	if (f->type < LINK_HELLO || f->type > LINK_CLOSE)
		return pl_err_fail(PL_ERR_INTERNAL, "link: no frame type %u", f->type);
	pl_cbor_enc e;
	pl_cbor_enc_init(&e);
	put_body(&e, f);
	uint8_t *body = NULL;
	size_t len = 0;
	int rc = pl_cbor_enc_finish(&e, &body, &len);
	if (rc)
		return rc;
	if (len > PL_LINK_MAX_FRAME) {
		free(body);
		return pl_err_fail(PL_ERR_INTERNAL, "link: %s frame of %zu bytes",
				   frame_names[f->type], len);
	}
	rc = pl_buf_reserve(out, 4 + len);
	if (!rc) {
		uint8_t prefix[4] = {(uint8_t)(len >> 24), (uint8_t)(len >> 16),
				     (uint8_t)(len >> 8), (uint8_t)len};
		memcpy(out->data + out->len, prefix, 4);
		memcpy(out->data + out->len + 4, body, len);
		out->len += 4 + len;
	}
	free(body);
	return rc;
}
