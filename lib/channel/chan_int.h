/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Internal to lib/channel: the signed-object profile envelopes and charter
 * signatures share (a tagged COSE_Sign1 with exactly the headers
 * pl_cose_sign1_sign writes), payload type checks, and small string
 * helpers.  lib/identity has the same helpers for its records; they are
 * internal there, so this module keeps its own.
 */
#ifndef PARLEY_CHAN_INT_H
#define PARLEY_CHAN_INT_H

#include "parley/channel.h"
#include "parley/codec.h"

#define CHAN_VERSION 1

/*
 * Finish the encoding of a payload map and sign it with kp (kid = kp's key
 * id) as a tagged COSE_Sign1.  Takes the encoder's buffer in every case.
 */
int chan_sign(pl_cbor_enc *e, const pl_keypair *kp, uint8_t **out, size_t *len);

/*
 * Parse buf (at most max_len bytes) as a canonical, tagged COSE_Sign1 whose
 * protected header is exactly {1: -8} and unprotected header exactly
 * {4: kid of PL_KEYID_BYTES}.  The codec's own decoder holds COSE objects
 * to 64 KiB, too small for envelopes, hence this profile check.  On
 * success release *m with pl_cose_sign1_clear(); the signature is NOT
 * verified.  what names the object in details.
 */
int chan_cose_parse(const uint8_t *buf, size_t len, size_t max_len, const char *what,
		    pl_cose_sign1 *m);

/*
 * Decode payload as a canonical map under lim and check "t" == type and
 * "v" == CHAN_VERSION (PL_ERR_TYPE, PL_ERR_VERSION).  *map is the caller's
 * (pl_cbor_free), NULL on failure.
 */
int chan_decode_typed(const uint8_t *p, size_t n, const pl_cbor_limits *lim, const char *type,
		      pl_cbor **map);

/*
 * pl_env_parse(), also handing back the parsed COSE_Sign1 (release it with
 * pl_cose_sign1_clear()) so that pl_env_verify() can check its signature.
 * For a batched envelope (out->batched) cose is its receipt, whose payload
 * is detached: root receives the root its inclusion proof leads to, which
 * is what the signature signs.  On failure the outputs are zeroed.
 */
int chan_env_parse(const uint8_t *buf, size_t len, pl_env *out, pl_cose_sign1 *cose,
		   uint8_t root[PL_HASH_BYTES]);
/* Encode e's payload map (e checked as pl_env_sign checks it). */
int chan_env_payload(const pl_env *e, pl_cbor_enc *enc);
/*
 * Parse a batched envelope's frame: payload (the envelope's payload bytes)
 * and the receipt, checked to the profile (exact headers, proof shape and
 * limits), with the root its proof leads to.  cose->root owns the decoded
 * whole; cose->payload is empty.  Release with pl_cose_sign1_clear().
 */
int chan_batch_parse(const uint8_t *buf, size_t len, pl_slice *payload, pl_cose_sign1 *cose,
		     uint8_t root[PL_HASH_BYTES]);
/*
 * When buf is framed as a batched envelope whose payload string lies
 * within it, point payload at those bytes and return true (nothing else
 * is checked: what pl_env_id hashes).
 */
bool chan_batch_payload(const uint8_t *buf, size_t len, pl_slice *payload);
/*
 * Check a batch receipt's signature over root with pk, through the cache
 * when given (a hit costs no verification).  0 or PL_ERR_BAD_SIGNATURE.
 */
int chan_batch_check(const pl_cose_sign1 *receipt, const uint8_t root[PL_HASH_BYTES],
		     const uint8_t pk[PL_PK_BYTES], pl_sig_cache *cache);

/* Write the names of the states that have not signed c, comma-separated,
 * to buf (truncated to cap); return how many are missing. */
size_t chan_charter_missing(const pl_charter *c, char *buf, size_t cap);

/* Copy a name slice into a PL_NAME_MAX + 1 buffer; it must be a valid
 * Parley name (PL_ERR_MALFORMED naming field otherwise). */
int chan_copy_name(char *dst, pl_slice s, const char *field);

#endif /* PARLEY_CHAN_INT_H */
