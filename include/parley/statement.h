/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Joint statements: the bodies of "statement" and "statement-sign"
 * envelopes, the version chain, signing a version's text with minisign and
 * checking such a signature, and the adoption rule (docs/statements.md).
 *
 * A statement is drafted in versions 1, 2, ...; each version's body names
 * the previous version by its version hash (SHA-256 of that version's
 * canonical body), so the versions form a chain.  A signatory signs the
 * exact text bytes of one version: the "statement-sign" body carries the
 * text's SHA-256 and a minisign signature of the text by the signatory's
 * own key, whose trusted comment names statement, version, state, signer
 * and text hash.  The statement is adopted when every state of the charter
 * has a valid signature over the same text hash.
 *
 * This module encodes, decodes and checks; it does not wrap bodies in
 * envelopes (pl_env_sign does), store versions or decide who may sign
 * (a credential with role PL_STMT_ROLE_SIGNATORY; the caller checks it).
 */
#ifndef PARLEY_STATEMENT_H
#define PARLEY_STATEMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "parley/channel.h"
#include "parley/crypto.h"
#include "parley/export.h"
#include "parley/identity.h"
#include "parley/minisign.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PL_STMT_KIND           "statement"
#define PL_STMT_SIGN_KIND      "statement-sign"
#define PL_STMT_SCHEMA         "parley/statement/1"
#define PL_STMT_SIGN_SCHEMA    "parley/statement-sign/1"
#define PL_STMT_ROLE_SIGNATORY "signatory" /* the role that may sign a statement */
#define PL_STMT_TITLE_MAX      200         /* bytes */
#define PL_STMT_TEXT_MAX       65536       /* bytes */
/* "parley statement STMT v=V state=STATE signer=ID sha256=HEX" fits in this. */
#define PL_STMT_TC_MAX 400

/*
 * One version ("statement" body).  For pl_stmt_encode() the caller fills it
 * in (text borrowed); pl_stmt_decode() fills it with text pointing into
 * memory the struct owns (NUL-terminated, the NUL not counted): release it
 * with pl_stmt_clear().
 */
typedef struct pl_stmt {
	char stmt[PL_NAME_MAX + 1];        /* [stmt] the statement id (a Parley name) */
	uint64_t v;                        /* [v] version, >= 1 */
	uint8_t prev[PL_HASH_BYTES];       /* [prev] version hash of v - 1; present iff v > 1 */
	char title[PL_STMT_TITLE_MAX + 1]; /* [title] 1..200 bytes, one line */
	const char *text;                  /* [text] 1..65536 bytes of UTF-8, no NUL */
	size_t text_len;
	char *own_; /* private: owns text after decoding */
} pl_stmt;

/* A "statement-sign" body.  Plain data: nothing to release. */
typedef struct pl_stmt_sig {
	char stmt[PL_NAME_MAX + 1];                  /* [stmt] */
	uint64_t v;                                  /* [v] the version signed, >= 1 */
	uint8_t text_sha256[PL_HASH_BYTES];          /* [text_sha256] SHA-256 of the text bytes */
	uint8_t minisig[PL_MINISIGN_SIG_BLOB_BYTES]; /* [minisig] "ED" || keynum || sig */
	char tc[PL_STMT_TC_MAX + 1];                 /* [tc] the trusted comment */
	uint8_t gsig[PL_SIG_BYTES];                  /* [gsig] global signature over sig || tc */
} pl_stmt_sig;

/*
 * Encode s as the canonical "statement" body.  s is borrowed; *out is
 * malloc'd (the caller frees it).  Refuses (PL_ERR_INVALID, PL_ERR_LIMIT,
 * with a detail) what pl_stmt_decode() would refuse.
 */
PL_EXPORT int pl_stmt_encode(const pl_stmt *s, uint8_t **out, size_t *len) PL_WUR;

/*
 * Decode a "statement" body strictly: canonical CBOR, exactly the keys
 * above, schema PL_STMT_SCHEMA (else PL_ERR_VERSION), prev present iff
 * v > 1, bounded lengths (PL_ERR_LIMIT), text valid UTF-8 without NUL.
 * buf is borrowed.  On failure *out is zeroed (no clear needed).
 */
PL_EXPORT int pl_stmt_decode(const uint8_t *buf, size_t len, pl_stmt *out) PL_WUR;

/* Release the text a decode allocated and zero s; NULL-safe. */
PL_EXPORT void pl_stmt_clear(pl_stmt *s);

/* The version hash: SHA-256 of a version's canonical body bytes. */
PL_EXPORT void pl_stmt_version_hash(uint8_t out[PL_HASH_BYTES], const uint8_t *body, size_t len);
/* The text hash: SHA-256 of the text bytes. */
PL_EXPORT void pl_stmt_text_hash(uint8_t out[PL_HASH_BYTES], const char *text, size_t len);

/*
 * May next follow prev, whose body hashes to prev_hash?  0 when both name
 * the same statement (else PL_ERR_INVALID), next->v == prev->v + 1 and
 * next->prev == prev_hash (else PL_ERR_SEQUENCE), with a detail.
 */
PL_EXPORT int pl_stmt_check_next(const pl_stmt *prev, const uint8_t prev_hash[PL_HASH_BYTES],
				 const pl_stmt *next) PL_WUR;

/*
 * The trusted comment of a signature:
 * "parley statement STMT v=V state=STATE signer=ID sha256=HEX" (HEX lower
 * case).  out holds PL_STMT_TC_MAX + 1 bytes.  PL_ERR_INVALID for names
 * that are not valid Parley names.
 */
PL_EXPORT int pl_stmt_tc(char out[PL_STMT_TC_MAX + 1], const char *stmt, uint64_t v,
			 const char *state, const char *signer,
			 const uint8_t text_sha256[PL_HASH_BYTES]) PL_WUR;

/* Encode / decode a "statement-sign" body (schema PL_STMT_SIGN_SCHEMA), as
 * pl_stmt_encode / pl_stmt_decode.  The decoder also checks the minisig's
 * algorithm ("ED") and that tc is one line. */
PL_EXPORT int pl_stmt_sig_encode(const pl_stmt_sig *s, uint8_t **out, size_t *len) PL_WUR;
PL_EXPORT int pl_stmt_sig_decode(const uint8_t *buf, size_t len, pl_stmt_sig *out) PL_WUR;

/*
 * Sign version s as signer (credential id) of state with the signer's own
 * key pair kp: hash the text, sign it with minisign under the trusted
 * comment pl_stmt_tc(), and encode the "statement-sign" body into *body
 * (malloc'd, the caller frees it).  sig (may be NULL) receives the decoded
 * form.  All inputs borrowed.  On failure *body is NULL.
 */
PL_EXPORT int pl_stmt_sign(const pl_stmt *s, const char *state, const char *signer,
			   const pl_keypair *kp, uint8_t **body, size_t *len,
			   pl_stmt_sig *sig) PL_WUR;

/*
 * Is sig a valid signature by pk (the key of credential signer of state)
 * over text?  Checks, stopping at the first failure, with a detail:
 * the text hashes to sig->text_sha256 (PL_ERR_CONFLICT); sig->tc is
 * exactly the expected trusted comment (PL_ERR_CONFLICT); the minisign
 * key number is pl_key_id(pk) and the signature and global signature
 * verify (PL_ERR_BAD_SIGNATURE, PL_ERR_VERSION).  All borrowed.
 */
PL_EXPORT int pl_stmt_sig_verify(const pl_stmt_sig *sig, const uint8_t pk[PL_PK_BYTES],
				 const char *state, const char *signer, const char *text,
				 size_t text_len) PL_WUR;

/* One valid signature, as pl_stmt_check_adopted() counts it. */
typedef struct pl_stmt_vote {
	const char *state;
	uint64_t v;
	const uint8_t *text_sha256; /* PL_HASH_BYTES */
} pl_stmt_vote;

/*
 * The adoption rule.  votes are signatures the caller has verified (state,
 * version, text hash).  The statement is adopted when some text hash was
 * signed by every state of charter c; then 0, with *v and text_sha256 (both
 * may be NULL) set to the highest such version and its hash.  Otherwise
 * PL_ERR_UNSIGNED with a detail naming the states that have not signed the
 * newest signed text (or, when states signed different texts, saying so).
 * Votes of states outside the charter are ignored.
 */
PL_EXPORT int pl_stmt_check_adopted(const pl_charter *c, const pl_stmt_vote *votes, size_t n,
				    uint64_t *v, uint8_t text_sha256[PL_HASH_BYTES]) PL_WUR;

#ifdef __cplusplus
}
#endif
#endif /* PARLEY_STATEMENT_H */
