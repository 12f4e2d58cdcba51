/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Internal to lib/identity: the envelope every identity record shares
 * (a tagged COSE_Sign1 over a canonical CBOR map with "t" and "v"), and
 * string helpers.
 */
#ifndef PARLEY_IDENTITY_INT_H
#define PARLEY_IDENTITY_INT_H

#include "parley/codec.h"
#include "parley/identity.h"

#define IDENT_VERSION 1

/* Sign the finished encoding of a payload map with root (kid = root's key id).
 * Takes ownership of the encoder's buffer in every case. */
int ident_sign(pl_cbor_enc *e, const pl_keypair *root, uint8_t **out, size_t *len);

/*
 * Parse a signed record: COSE_Sign1 (tagged, canonical) whose payload is a
 * canonical map with "t" == type and "v" == IDENT_VERSION.  On success
 * *cose and *payload must be released by the caller (pl_cose_sign1_clear,
 * pl_cbor_free); the signature is NOT yet verified.
 */
int ident_parse(const uint8_t *buf, size_t len, const char *type, pl_cose_sign1 *cose,
		pl_cbor **payload);

/* Verify a parsed record's signature with pk; sets a detail naming what. */
int ident_check_sig(const pl_cose_sign1 *cose, const uint8_t pk[PL_PK_BYTES], const char *what);

/* Copy a slice into a fixed buffer of cap bytes (NUL included); the slice
 * must fit (callers bound lengths in the schema first). */
void ident_copy(char *dst, size_t cap, pl_slice s);

/* A slice that must be a valid Parley name. */
int ident_copy_name(char *dst, pl_slice s, const char *field);

#endif /* PARLEY_IDENTITY_INT_H */
