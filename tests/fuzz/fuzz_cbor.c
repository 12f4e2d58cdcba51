/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target for the strict CBOR decoder (lib/codec).
 *
 * Decodes the input with the default limits under each combination of
 * PL_CBOR_CANONICAL and PL_CBOR_ALLOW_TAGS, walks every item through the
 * accessors and pl_cbor_read_map(), and checks invariants that tie the
 * decoder and the two encoders together (a broken invariant aborts):
 *   - the canonical re-encoding of anything accepted decodes as canonical
 *     and re-encodes to itself;
 *   - input accepted as canonical is byte-identical to its re-encoding, and
 *     to what the streaming encoder writes when fed the decoded tree.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "parley/codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Touch every accessor on it and its children. */
static void walk(const pl_cbor *it, unsigned depth)
{
	uint64_t u;
	int64_t i;
	bool b;
	pl_slice s;
	if (!it || depth > 80)
		abort(); /* decoded trees are complete and bounded */
	pl_cbor_type t = pl_cbor_type_of(it);
	/* Getters succeed exactly on their own types. */
	if ((pl_cbor_get_uint(it, &u) == 0) != (t == PL_CBOR_UINT))
		abort();
	if (pl_cbor_get_int(it, &i) == 0 && t != PL_CBOR_UINT && t != PL_CBOR_NEGINT)
		abort();
	if ((pl_cbor_get_bool(it, &b) == 0) != (t == PL_CBOR_BOOL))
		abort();
	if (pl_cbor_get_bytes(it, &s) == 0 && s.n > 0 && !s.p)
		abort();
	if (pl_cbor_get_text(it, &s) == 0 && s.n > 0 && !s.p)
		abort();
	switch (pl_cbor_type_of(it)) {
	case PL_CBOR_ARRAY:
		for (size_t k = 0; k < pl_cbor_len(it); k++)
			walk(pl_cbor_at(it, k), depth + 1);
		if (pl_cbor_at(it, pl_cbor_len(it)))
			abort();
		break;
	case PL_CBOR_MAP: {
		for (size_t k = 0; k < pl_cbor_len(it); k++) {
			walk(pl_cbor_key_at(it, k), depth + 1);
			walk(pl_cbor_value_at(it, k), depth + 1);
		}
		(void)pl_cbor_map_get(it, "a");
		(void)pl_cbor_map_get_int(it, 1);
		(void)pl_cbor_map_get_int(it, -1);
		pl_slice name;
		uint64_t n;
		const pl_cbor *any;
		const pl_cbor_field fields[] = {
		    {"a", PL_CBOR_TEXT, PL_FIELD_LINE | PL_FIELD_OPTIONAL, 0, 8, &name, NULL},
		    {"b", PL_CBOR_UINT, PL_FIELD_OPTIONAL, 0, 0, &n, NULL},
		    {"c", PL_CBOR_ANY, PL_FIELD_OPTIONAL, 0, 0, &any, NULL},
		};
		int rc = pl_cbor_read_map(it, fields, 3);
		if (rc > 0)
			abort();
		break;
	}
	case PL_CBOR_TAG:
		(void)pl_cbor_tag_value(it);
		walk(pl_cbor_tag_item(it), depth + 1);
		break;
	case PL_CBOR_UINT:
	case PL_CBOR_NEGINT:
	case PL_CBOR_BYTES:
	case PL_CBOR_TEXT:
	case PL_CBOR_BOOL:
	case PL_CBOR_NULL:
		break;
	default:
		abort(); /* nothing else may come out of the decoder */
	}
}

/* Feed the decoded tree, in its own order, to the streaming encoder. */
static void stream(pl_cbor_enc *e, const pl_cbor *it)
{
	uint64_t u;
	int64_t i;
	bool b;
	pl_slice s;
	switch (pl_cbor_type_of(it)) {
	case PL_CBOR_UINT:
		if (pl_cbor_get_uint(it, &u) == 0)
			pl_cbor_put_uint(e, u);
		break;
	case PL_CBOR_NEGINT:
		if (pl_cbor_get_int(it, &i) == 0) {
			pl_cbor_put_int(e, i);
		} else {
			uint8_t *raw;
			size_t n;
			if (pl_cbor_encode_item(it, &raw, &n) == 0) {
				pl_cbor_put_raw(e, raw, n);
				free(raw);
			}
		}
		break;
	case PL_CBOR_BYTES:
		if (pl_cbor_get_bytes(it, &s) == 0)
			pl_cbor_put_bytes(e, s.p, s.n);
		break;
	case PL_CBOR_TEXT:
		if (pl_cbor_get_text(it, &s) == 0)
			pl_cbor_put_text(e, (const char *)s.p, s.n);
		break;
	case PL_CBOR_BOOL:
		if (pl_cbor_get_bool(it, &b) == 0)
			pl_cbor_put_bool(e, b);
		break;
	case PL_CBOR_NULL:
		pl_cbor_put_null(e);
		break;
	case PL_CBOR_ARRAY:
		pl_cbor_put_array(e, pl_cbor_len(it));
		for (size_t k = 0; k < pl_cbor_len(it); k++)
			stream(e, pl_cbor_at(it, k));
		break;
	case PL_CBOR_MAP:
		pl_cbor_put_map(e, pl_cbor_len(it));
		for (size_t k = 0; k < pl_cbor_len(it); k++) {
			const pl_cbor *key = pl_cbor_key_at(it, k);
			pl_cbor_type kt = pl_cbor_type_of(key);
			if (kt == PL_CBOR_UINT || kt == PL_CBOR_NEGINT || kt == PL_CBOR_TEXT) {
				stream(e, key);
			} else {
				/* Keys the encoder refuses: pass them through raw. */
				uint8_t *raw;
				size_t n;
				if (pl_cbor_encode_item(key, &raw, &n) == 0) {
					pl_cbor_put_raw(e, raw, n);
					free(raw);
				}
			}
			stream(e, pl_cbor_value_at(it, k));
		}
		break;
	case PL_CBOR_TAG:
		pl_cbor_put_tag(e, pl_cbor_tag_value(it));
		stream(e, pl_cbor_tag_item(it));
		break;
	default:
		abort();
	}
}

static bool key_types_ok(const pl_cbor *it)
{
	switch (pl_cbor_type_of(it)) {
	case PL_CBOR_ARRAY:
		for (size_t k = 0; k < pl_cbor_len(it); k++)
			if (!key_types_ok(pl_cbor_at(it, k)))
				return false;
		return true;
	case PL_CBOR_MAP:
		for (size_t k = 0; k < pl_cbor_len(it); k++) {
			pl_cbor_type kt = pl_cbor_type_of(pl_cbor_key_at(it, k));
			if (kt != PL_CBOR_UINT && kt != PL_CBOR_NEGINT && kt != PL_CBOR_TEXT)
				return false;
			if (!key_types_ok(pl_cbor_value_at(it, k)))
				return false;
		}
		return true;
	case PL_CBOR_TAG:
		return key_types_ok(pl_cbor_tag_item(it));
	default:
		return true;
	}
}

static void one(const uint8_t *data, size_t size, unsigned flags)
{
	pl_cbor *it;
	if (pl_cbor_decode(data, size, &pl_cbor_default_limits, flags, &it) != 0)
		return;
	walk(it, 0);

	uint8_t *enc;
	size_t n;
	if (pl_cbor_encode_item(it, &enc, &n) != 0)
		abort(); /* whatever decodes re-encodes */
	if ((flags & PL_CBOR_CANONICAL) && (n != size || memcmp(enc, data, n) != 0))
		abort();
	/* The canonical form is accepted as canonical and is a fixed point. */
	pl_cbor *again;
	if (pl_cbor_decode(enc, n, &pl_cbor_default_limits, flags | PL_CBOR_CANONICAL, &again) != 0)
		abort();
	uint8_t *enc2;
	size_t n2;
	if (pl_cbor_encode_item(again, &enc2, &n2) != 0 || n2 != n || memcmp(enc, enc2, n) != 0)
		abort();
	free(enc2);
	pl_cbor_free(again);
	free(enc);

	/* Canonical input comes back byte for byte from the streaming encoder. */
	if (flags & PL_CBOR_CANONICAL) {
		pl_cbor_enc e;
		pl_cbor_enc_init(&e);
		stream(&e, it);
		int rc = pl_cbor_enc_finish(&e, &enc, &n);
		if (rc == 0) {
			if (n != size || memcmp(enc, data, n) != 0)
				abort();
			free(enc);
		} else if (key_types_ok(it)) {
			/* Only raw keys of other types may trip the encoder (depth <= 8 < 16). */
			abort();
		}
	}
	pl_cbor_free(it);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	one(data, size, 0);
	one(data, size, PL_CBOR_CANONICAL);
	one(data, size, PL_CBOR_ALLOW_TAGS);
	one(data, size, PL_CBOR_ALLOW_TAGS | PL_CBOR_CANONICAL);
	return 0;
}
