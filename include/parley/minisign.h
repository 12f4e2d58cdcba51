/* SPDX-License-Identifier: Apache-2.0 */
/*
 * minisign signatures (https://jedisct1.github.io/minisign/), so that a
 * published statement can be checked with the stock `minisign -V`.
 *
 * Only the prehashed "ED" algorithm is produced and accepted: the signature
 * is Ed25519 over BLAKE2b-512 of the message, and a global signature,
 * Ed25519 over (signature || trusted comment), binds the trusted comment.
 * Legacy "Ed" signatures (over the raw message, `minisign -S -l`) are
 * refused with PL_ERR_VERSION.  A key is a plain Parley Ed25519 key pair;
 * its minisign key number is pl_key_id() of the public key, although keys
 * made by minisign itself (any key number) verify just as well.
 *
 * The two file formats are parsed strictly: exactly the lines minisign
 * writes, each ending in "\n" (no CR, nothing after the last line),
 * comments of valid UTF-8 without control characters other than TAB,
 * bounded lengths, canonical base64.  This module does no file I/O and
 * knows nothing of statements (parley/statement.h uses it).
 */
#ifndef PARLEY_MINISIGN_H
#define PARLEY_MINISIGN_H

#include <stddef.h>
#include <stdint.h>

#include "parley/crypto.h"
#include "parley/export.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PL_MINISIGN_KEYNUM_BYTES 8
#define PL_MINISIGN_PK_BLOB_BYTES                                                                  \
	(2 + PL_MINISIGN_KEYNUM_BYTES + PL_PK_BYTES) /* "Ed"||keynum||pk */
#define PL_MINISIGN_SIG_BLOB_BYTES                                                                 \
	(2 + PL_MINISIGN_KEYNUM_BYTES + PL_SIG_BYTES) /* "ED"||keynum||sig */
#define PL_MINISIGN_COMMENT_MAX 1024                  /* untrusted comment text, bytes */
#define PL_MINISIGN_TC_MAX      1024                  /* trusted comment text, bytes */
#define PL_MINISIGN_KEYID_LEN   17                    /* 16 upper-case hex digits and a NUL */

/* A minisign public key. */
typedef struct pl_minisign_pk {
	uint8_t keynum[PL_MINISIGN_KEYNUM_BYTES];
	uint8_t pk[PL_PK_BYTES];
} pl_minisign_pk;

/* The content of a signature file. */
typedef struct pl_minisign_sig {
	char untrusted[PL_MINISIGN_COMMENT_MAX + 1]; /* without "untrusted comment: " */
	uint8_t blob[PL_MINISIGN_SIG_BLOB_BYTES];    /* "ED" || keynum || signature */
	char trusted[PL_MINISIGN_TC_MAX + 1];        /* without "trusted comment: " */
	uint8_t gsig[PL_SIG_BYTES];                  /* over signature || trusted */
} pl_minisign_sig;

/* The minisign public key of a Parley key: keynum = pl_key_id(pk). */
PL_EXPORT void pl_minisign_pk_from_key(pl_minisign_pk *out, const uint8_t pk[PL_PK_BYTES]);

/* The key number as minisign prints it: the 8 bytes read as a little-endian
 * integer, in 16 upper-case hex digits ("9F8E6448835400EB"). */
PL_EXPORT void pl_minisign_keyid_hex(char out[PL_MINISIGN_KEYID_LEN],
				     const uint8_t keynum[PL_MINISIGN_KEYNUM_BYTES]);

/*
 * Sign msg with kp (prehashed "ED", keynum pl_key_id(kp->pk)) and bind the
 * trusted comment tc (NUL-terminated, at most PL_MINISIGN_TC_MAX bytes of
 * UTF-8, no control characters but TAB; else PL_ERR_INVALID, or
 * PL_ERR_LIMIT when too long, with a detail).  Writes blob and gsig; on
 * failure both are zeroed.
 */
PL_EXPORT int pl_minisign_sign(uint8_t blob[PL_MINISIGN_SIG_BLOB_BYTES], uint8_t gsig[PL_SIG_BYTES],
			       const uint8_t *msg, size_t len, const char *tc,
			       const pl_keypair *kp) PL_WUR;

/*
 * 0 when blob is a prehashed signature of msg by pk and gsig a signature of
 * (blob's signature || tc) by pk.  Otherwise, with a detail:
 * PL_ERR_VERSION (legacy "Ed" or another algorithm), PL_ERR_BAD_SIGNATURE
 * (key number not pk's, signature or global signature wrong; the detail
 * says which), PL_ERR_INVALID (tc not a valid comment).  All borrowed.
 */
PL_EXPORT int pl_minisign_verify(const pl_minisign_pk *pk, const uint8_t *msg, size_t len,
				 const uint8_t blob[PL_MINISIGN_SIG_BLOB_BYTES], const char *tc,
				 const uint8_t gsig[PL_SIG_BYTES]) PL_WUR;

/* pl_minisign_verify() with a parsed signature file. */
PL_EXPORT int pl_minisign_verify_sig(const pl_minisign_pk *pk, const uint8_t *msg, size_t len,
				     const pl_minisign_sig *sig) PL_WUR;

/*
 * The public key file:
 *   "untrusted comment: minisign public key <KEYID>\n<base64 of Ed||keynum||pk>\n"
 * *out is malloc'd and NUL-terminated (the caller frees it); *len excludes
 * the NUL.  Errors: PL_ERR_NOMEM.
 */
PL_EXPORT int pl_minisign_pk_format(const pl_minisign_pk *pk, char **out, size_t *len) PL_WUR;

/*
 * Parse a public key file: two lines, an untrusted comment (any text) and
 * the base64 of "Ed" || keynum || pk.  PL_ERR_MALFORMED (detail: which line
 * and why), PL_ERR_LIMIT (comment too long) or PL_ERR_VERSION (not "Ed").
 * On failure *out is zeroed.
 */
PL_EXPORT int pl_minisign_pk_parse(const char *text, size_t len, pl_minisign_pk *out) PL_WUR;

/*
 * The signature file:
 *   "untrusted comment: <untrusted>\n<base64 blob>\ntrusted comment: <trusted>\n<base64 gsig>\n"
 * The comments are checked as in pl_minisign_sign (PL_ERR_INVALID).  *out
 * as in pl_minisign_pk_format.
 */
PL_EXPORT int pl_minisign_sig_format(const pl_minisign_sig *sig, char **out, size_t *len) PL_WUR;

/*
 * Parse a signature file (the four lines above; the signature blob must
 * be 74 bytes with algorithm "ED").  PL_ERR_MALFORMED (detail: which line
 * and why), PL_ERR_LIMIT (a comment too long) or PL_ERR_VERSION (legacy
 * "Ed" or unknown algorithm).  Does not verify.  On failure *out is zeroed.
 */
PL_EXPORT int pl_minisign_sig_parse(const char *text, size_t len, pl_minisign_sig *out) PL_WUR;

#ifdef __cplusplus
}
#endif
#endif /* PARLEY_MINISIGN_H */
