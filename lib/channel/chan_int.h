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
 * On failure both outputs are zeroed.
 */
int chan_env_parse(const uint8_t *buf, size_t len, pl_env *out, pl_cose_sign1 *cose);

/* Write the names of the states that have not signed c, comma-separated,
 * to buf (truncated to cap); return how many are missing. */
size_t chan_charter_missing(const pl_charter *c, char *buf, size_t cap);

/* Copy a name slice into a PL_NAME_MAX + 1 buffer; it must be a valid
 * Parley name (PL_ERR_MALFORMED naming field otherwise). */
int chan_copy_name(char *dst, pl_slice s, const char *field);

#endif /* PARLEY_CHAN_INT_H */
