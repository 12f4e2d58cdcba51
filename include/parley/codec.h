/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Canonical CBOR and COSE_Sign1 (libcbor).
 *
 * The only module that talks to libcbor.  Encoding is canonical by
 * construction (RFC 8949 §4.2.1 core deterministic encoding: shortest
 * heads, definite lengths, map keys in bytewise order of their encodings);
 * the encoder refuses keys written out of order instead of sorting them, so
 * every signed object has exactly one byte form.  Decoding is strict: it
 * enforces explicit limits (total size, nesting depth, item count, string
 * length), rejects floats, undefined, indefinite lengths, invalid UTF-8 and
 * unknown tags, and, with PL_CBOR_CANONICAL, anything not in canonical form.
 * COSE_Sign1 (RFC 9052) with alg EdDSA (-8) signs and verifies payloads.
 * Nothing here knows what the maps mean.
 */
#ifndef PARLEY_CODEC_H
#define PARLEY_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "parley/buf.h"
#include "parley/crypto.h"
#include "parley/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A borrowed byte range (valid while its owner lives). */
typedef struct pl_slice {
	const uint8_t *p;
	size_t n;
} pl_slice;

/* ---------------------------------------------------------------- encoder */

#define PL_CBOR_ENC_MAX_DEPTH 16

/*
 * Streaming canonical encoder.  Errors are sticky: after the first failure
 * every call is a no-op and pl_cbor_enc_finish() returns that error, so
 * encoding code need not check each call.  Containers are declared with
 * their exact item count; pl_cbor_enc_finish() fails if any is left open.
 * Map keys must be unsigned/negative integers or text, written in canonical
 * order (else PL_ERR_INTERNAL, a bug in the caller).
 */
typedef struct pl_cbor_enc {
	pl_buf out;
	int err;
	unsigned depth;
	struct {
		uint64_t left;     /* items (maps: keys + values) still to write */
		bool is_map;
		size_t key_off;    /* offset of the key being written, or of the last key */
		size_t key_len;
		bool have_key;
	} lv[PL_CBOR_ENC_MAX_DEPTH];
} pl_cbor_enc;

PL_EXPORT void pl_cbor_enc_init(pl_cbor_enc *e);
PL_EXPORT void pl_cbor_put_uint(pl_cbor_enc *e, uint64_t v);
PL_EXPORT void pl_cbor_put_int(pl_cbor_enc *e, int64_t v);
PL_EXPORT void pl_cbor_put_bytes(pl_cbor_enc *e, const uint8_t *p, size_t n);
PL_EXPORT void pl_cbor_put_text(pl_cbor_enc *e, const char *p, size_t n);
PL_EXPORT void pl_cbor_put_str(pl_cbor_enc *e, const char *s); /* NUL-terminated text */
PL_EXPORT void pl_cbor_put_bool(pl_cbor_enc *e, bool v);
PL_EXPORT void pl_cbor_put_null(pl_cbor_enc *e);
PL_EXPORT void pl_cbor_put_tag(pl_cbor_enc *e, uint64_t tag); /* the next item is tagged */
PL_EXPORT void pl_cbor_put_array(pl_cbor_enc *e, size_t n);   /* then n items */
PL_EXPORT void pl_cbor_put_map(pl_cbor_enc *e, size_t n);     /* then n key/value pairs */
/* One complete, already canonical item, copied verbatim (counted as one item). */
PL_EXPORT void pl_cbor_put_raw(pl_cbor_enc *e, const uint8_t *p, size_t n);
/* Take the encoding: *out is malloc'd (caller frees), or on error NULL. */
PL_EXPORT int pl_cbor_enc_finish(pl_cbor_enc *e, uint8_t **out, size_t *len) PL_WUR;
/* Abandon an encoding; NULL-safe. */
PL_EXPORT void pl_cbor_enc_discard(pl_cbor_enc *e);

/* ---------------------------------------------------------------- decoder */

typedef struct pl_cbor pl_cbor; /* a decoded item (opaque) */

typedef enum pl_cbor_type {
	PL_CBOR_UINT = 1,
	PL_CBOR_NEGINT,
	PL_CBOR_BYTES,
	PL_CBOR_TEXT,
	PL_CBOR_ARRAY,
	PL_CBOR_MAP,
	PL_CBOR_TAG,
	PL_CBOR_BOOL,
	PL_CBOR_NULL,
	PL_CBOR_INT, /* for pl_cbor_field: UINT or NEGINT that fits int64_t */
	PL_CBOR_ANY, /* for pl_cbor_field: any item */
} pl_cbor_type;

typedef struct pl_cbor_limits {
	size_t max_bytes;   /* whole input */
	unsigned max_depth; /* nesting of arrays, maps and tags; top level is 1; at most 64 */
	size_t max_items;   /* all items in the input */
	size_t max_str;     /* one byte or text string */
} pl_cbor_limits;

/* Limits for identity objects and frames: 64 KiB, depth 8, 4096 items, 16 KiB strings. */
PL_EXPORT extern const pl_cbor_limits pl_cbor_default_limits;

enum {
	PL_CBOR_CANONICAL = 1u << 0, /* reject anything not in canonical form */
	PL_CBOR_ALLOW_TAGS = 1u << 1 /* accept tags (else PL_ERR_MALFORMED) */
};

/*
 * Decode exactly one item filling all of buf[0..len).  Trailing bytes,
 * truncation and every limit breach fail (PL_ERR_MALFORMED, PL_ERR_LIMIT,
 * PL_ERR_NONCANONICAL) with a detail.  Duplicate map keys are always
 * refused.  lim NULL means pl_cbor_default_limits.  buf is copied; *out is
 * owned by the caller (pl_cbor_free), and NULL on failure.
 */
PL_EXPORT int pl_cbor_decode(const uint8_t *buf, size_t len, const pl_cbor_limits *lim,
			     unsigned flags, pl_cbor **out) PL_WUR;
PL_EXPORT void pl_cbor_free_(pl_cbor *item);
#define pl_cbor_free(p)                                                                            \
	do {                                                                                       \
		pl_cbor_free_(p);                                                                  \
		(p) = NULL;                                                                        \
	} while (0)

/* Accessors borrow: results live as long as the root item. */
PL_EXPORT pl_cbor_type pl_cbor_type_of(const pl_cbor *it);
PL_EXPORT int pl_cbor_get_uint(const pl_cbor *it, uint64_t *v) PL_WUR;
PL_EXPORT int pl_cbor_get_int(const pl_cbor *it, int64_t *v) PL_WUR;
PL_EXPORT int pl_cbor_get_bool(const pl_cbor *it, bool *v) PL_WUR;
PL_EXPORT int pl_cbor_get_bytes(const pl_cbor *it, pl_slice *v) PL_WUR;
PL_EXPORT int pl_cbor_get_text(const pl_cbor *it, pl_slice *v) PL_WUR;
PL_EXPORT size_t pl_cbor_len(const pl_cbor *it); /* array items / map pairs; 0 otherwise */
PL_EXPORT const pl_cbor *pl_cbor_at(const pl_cbor *array, size_t i); /* NULL out of range */
PL_EXPORT const pl_cbor *pl_cbor_key_at(const pl_cbor *map, size_t i);
PL_EXPORT const pl_cbor *pl_cbor_value_at(const pl_cbor *map, size_t i);
/* Value under a text key, or NULL. */
PL_EXPORT const pl_cbor *pl_cbor_map_get(const pl_cbor *map, const char *key);
/* Value under an integer key, or NULL. */
PL_EXPORT const pl_cbor *pl_cbor_map_get_int(const pl_cbor *map, int64_t key);
PL_EXPORT uint64_t pl_cbor_tag_value(const pl_cbor *tag);
PL_EXPORT const pl_cbor *pl_cbor_tag_item(const pl_cbor *tag);
/* The canonical encoding of it (for hashing a sub-item). */
PL_EXPORT int pl_cbor_encode_item(const pl_cbor *it, uint8_t **out, size_t *len) PL_WUR;

/*
 * Schema-checked read of a map with text keys.  Every key of the map must be
 * listed in fields (unknown keys: PL_ERR_MALFORMED), every non-optional field
 * must be present, types and length bounds must hold; the detail names the
 * offending key.  Outputs by type: UINT uint64_t*, INT int64_t*, BOOL bool*,
 * NEGINT int64_t*, TEXT/BYTES pl_slice*, ARRAY/MAP/TAG/ANY const pl_cbor**,
 * NULL none (out may be NULL for any type).  Lengths (text and
 * bytes in bytes, arrays in items, maps in pairs) must lie in
 * [min_len, max_len] when max_len is non-zero.  TEXT fields flagged
 * PL_FIELD_LINE must hold no control characters.  Outputs of absent
 * optional fields are left untouched; *present, when given, tells.  A length
 * over max_len (when min_len != max_len) and an integer out of range fail
 * with PL_ERR_LIMIT, every other violation with PL_ERR_MALFORMED; on failure
 * no output is written.
 */
enum { PL_FIELD_OPTIONAL = 1u << 0, PL_FIELD_LINE = 1u << 1 };
typedef struct pl_cbor_field {
	const char *key;
	pl_cbor_type type;
	unsigned flags;
	size_t min_len, max_len;
	void *out;
	bool *present;
} pl_cbor_field;
PL_EXPORT int pl_cbor_read_map(const pl_cbor *map, const pl_cbor_field *fields, size_t n) PL_WUR;

/* ------------------------------------------------------------- COSE_Sign1 */

#define PL_COSE_ALG_EDDSA (-8)
#define PL_COSE_TAG_SIGN1 18

enum { PL_COSE_TAGGED = 1u << 0 }; /* emit / require tag 18 */

/*
 * Sign payload as a COSE_Sign1 with protected header {1: -8} and, when kid
 * is given, unprotected header {4: kid}.  external_aad may be NULL/0.
 * An empty payload is refused (PL_ERR_INVALID), as decoding refuses it.
 * *out is malloc'd; the caller frees it.
 */
PL_EXPORT int pl_cose_sign1_sign(uint8_t **out, size_t *outlen, const uint8_t *payload,
				 size_t plen, const uint8_t *kid, size_t kidlen, const uint8_t *aad,
				 size_t aadlen, const pl_keypair *kp, unsigned flags) PL_WUR;

/* A parsed COSE_Sign1; slices borrow from the object itself. */
typedef struct pl_cose_sign1 {
	pl_slice protected_raw; /* the serialized protected header map */
	pl_slice payload;
	pl_slice kid;           /* from either header bucket; n == 0 when absent */
	pl_slice sig;
	int64_t alg;
	pl_cbor *root;          /* owns everything above */
} pl_cose_sign1;

/*
 * Parse a COSE_Sign1 (tagged or not; with PL_COSE_TAGGED the tag is
 * required).  Only alg EdDSA is accepted; a detached (nil) payload, a
 * missing alg, crit headers and a signature of the wrong length fail.
 * Does not verify.  With PL_CBOR_CANONICAL in cbor_flags the outer
 * structure must be canonical.
 */
PL_EXPORT int pl_cose_sign1_decode(const uint8_t *buf, size_t len, unsigned flags,
				   unsigned cbor_flags, pl_cose_sign1 *out) PL_WUR;
/* Verify the signature with pk: 0 or PL_ERR_BAD_SIGNATURE. */
PL_EXPORT int pl_cose_sign1_verify(const pl_cose_sign1 *m, const uint8_t *aad, size_t aadlen,
				   const uint8_t pk[PL_PK_BYTES]) PL_WUR;
/*
 * The signature of, and the check of a signature over, the RFC 9052
 * Sig_structure ["Signature1", protected, h'', payload] with EdDSA, for
 * COSE_Sign1 objects whose headers the caller encodes and whose payload
 * is detached (RFC 9052 §2: nil in the structure, supplied by the
 * verifier), such as COSE Receipts (RFC 9942).  prot: the serialized
 * protected header map.  verify: 0 or PL_ERR_BAD_SIGNATURE.
 */
PL_EXPORT int pl_cose_sign1_signature(uint8_t sig[PL_SIG_BYTES], const uint8_t *prot,
				      size_t protlen, const uint8_t *payload, size_t plen,
				      const pl_keypair *kp) PL_WUR;
PL_EXPORT int pl_cose_sign1_check(const uint8_t sig[PL_SIG_BYTES], const uint8_t *prot,
				  size_t protlen, const uint8_t *payload, size_t plen,
				  const uint8_t pk[PL_PK_BYTES]) PL_WUR;
/* Release what decode allocated; NULL-safe; leaves *m zeroed. */
PL_EXPORT void pl_cose_sign1_clear(pl_cose_sign1 *m);

#ifdef __cplusplus
}
#endif
#endif /* PARLEY_CODEC_H */
