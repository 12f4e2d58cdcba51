/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Keys, signatures, hashing, sealed key files and fingerprints (libsodium).
 *
 * This is the only module that talks to libsodium.  It signs and verifies
 * with Ed25519, hashes with SHA-256, seals secret keys under a passphrase
 * (Argon2id + XSalsa20-Poly1305), writes key files atomically with mode
 * 0600, and renders a root key as a fingerprint two people can compare
 * aloud.  It knows nothing of what the keys are for.
 */
#ifndef PARLEY_CRYPTO_H
#define PARLEY_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "parley/export.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PL_PK_BYTES 32   /* Ed25519 public key */
#define PL_SEED_BYTES 32 /* Ed25519 seed (the secret we store) */
#define PL_SK_BYTES 64   /* libsodium's expanded secret key (seed || pk) */
#define PL_SIG_BYTES 64
#define PL_HASH_BYTES 32 /* SHA-256 */
#define PL_KEYID_BYTES 8 /* first bytes of SHA-256(pk), used as COSE kid */
/* "12345 67890 ..." : PL_FPR_GROUPS groups of 5 digits separated by spaces */
#define PL_FPR_GROUPS 6
#define PL_FPR_LEN (PL_FPR_GROUPS * 6) /* including the final NUL */

/* An Ed25519 key pair.  Wipe it with pl_key_wipe() when done. */
typedef struct pl_keypair {
	uint8_t pk[PL_PK_BYTES];
	uint8_t sk[PL_SK_BYTES];
} pl_keypair;

/* Initialise libsodium; idempotent, thread-safe.  0 or PL_ERR_CRYPTO. */
PL_EXPORT int pl_crypto_init(void) PL_WUR;

/* Generate a fresh key pair. */
PL_EXPORT int pl_key_generate(pl_keypair *kp) PL_WUR;
/* Derive the key pair from a 32-byte seed (deterministic; for tests and key files). */
PL_EXPORT int pl_key_from_seed(pl_keypair *kp, const uint8_t seed[PL_SEED_BYTES]) PL_WUR;
/* Wipe the secret part (and the rest) of kp; NULL-safe. */
PL_EXPORT void pl_key_wipe(pl_keypair *kp);
/* First PL_KEYID_BYTES bytes of SHA-256(pk). */
PL_EXPORT void pl_key_id(uint8_t out[PL_KEYID_BYTES], const uint8_t pk[PL_PK_BYTES]);

/* Detached Ed25519 signature of msg. */
PL_EXPORT int pl_sign(uint8_t sig[PL_SIG_BYTES], const uint8_t *msg, size_t len,
		      const pl_keypair *kp) PL_WUR;
/* 0 when sig is a valid signature of msg by pk, else PL_ERR_BAD_SIGNATURE. */
PL_EXPORT int pl_verify(const uint8_t sig[PL_SIG_BYTES], const uint8_t *msg, size_t len,
			const uint8_t pk[PL_PK_BYTES]) PL_WUR;

/* SHA-256 of msg. */
PL_EXPORT void pl_sha256(uint8_t out[PL_HASH_BYTES], const uint8_t *msg, size_t len);
/* Incremental SHA-256; the state is opaque storage large enough for libsodium's. */
typedef struct pl_sha256_ctx {
	_Alignas(16) uint8_t opaque[128];
} pl_sha256_ctx;
PL_EXPORT void pl_sha256_init(pl_sha256_ctx *c);
PL_EXPORT void pl_sha256_update(pl_sha256_ctx *c, const uint8_t *p, size_t n);
PL_EXPORT void pl_sha256_final(pl_sha256_ctx *c, uint8_t out[PL_HASH_BYTES]);

/* Constant-time equality of n bytes: true when equal. */
PL_EXPORT bool pl_ct_equal(const void *a, const void *b, size_t n);
/* Wipe n bytes in a way the compiler cannot remove. */
PL_EXPORT void pl_wipe(void *p, size_t n);
/* n random bytes. */
PL_EXPORT void pl_random(void *p, size_t n);

/* Standard base64 (with padding).  out must hold pl_b64_len(n) bytes incl. NUL. */
PL_EXPORT size_t pl_b64_len(size_t n);
PL_EXPORT void pl_b64_encode(char *out, const uint8_t *in, size_t n);
/* Strict decode: rejects bad characters, bad padding, trailing data, and
 * results longer than cap.  *outlen receives the decoded length. */
PL_EXPORT int pl_b64_decode(uint8_t *out, size_t cap, size_t *outlen, const char *in,
			    size_t inlen) PL_WUR;
/* Lower-case hex; out must hold 2n+1 bytes. */
PL_EXPORT void pl_hex_encode(char *out, const uint8_t *in, size_t n);
PL_EXPORT int pl_hex_decode(uint8_t *out, size_t cap, size_t *outlen, const char *in,
			    size_t inlen) PL_WUR;

/*
 * Fingerprint of a state's root key for the peering ceremony: 30 decimal
 * digits in 6 groups of 5, e.g. "04728 91245 33810 57712 90341 11856",
 * derived (iterated SHA-512, as Signal's safety numbers) from the state
 * name and the public key, so a swapped name or key changes it.
 * out receives a NUL-terminated string of PL_FPR_LEN bytes.
 */
PL_EXPORT void pl_fingerprint(char out[PL_FPR_LEN], const char *state_name,
			      const uint8_t pk[PL_PK_BYTES]);
/* Compare an operator-typed fingerprint (any spacing, dashes ignored) with
 * the key's: 0, PL_ERR_FINGERPRINT, or PL_ERR_MALFORMED (not 30 digits). */
PL_EXPORT int pl_fingerprint_check(const char *typed, const char *state_name,
				   const uint8_t pk[PL_PK_BYTES]) PL_WUR;

/*
 * Key files.
 *
 * A key file holds one Ed25519 seed, either sealed under a passphrase
 * (Argon2id, then XSalsa20-Poly1305) or, for daemon keys protected by file
 * permissions like SSH host keys, in the clear.  It is a short tagged,
 * versioned text file (docs/formats.md):
 *
 *   parley-key v1 sealed|plain <label>\n
 *   <base64 of pk || kdf parameters || salt || nonce || sealed seed>\n
 *
 * The public key is stored in the clear (so it can be shown without the
 * passphrase) and checked against the unsealed seed on read.
 * Files are written to a temporary name in the same directory with
 * O_EXCL|O_NOFOLLOW, mode 0600, fsync'd, then linked into place; without
 * PL_KEYFILE_FORCE an existing file is never replaced (PL_ERR_EXISTS).
 */
enum {
	PL_KEYFILE_FORCE = 1u << 0,    /* replace an existing file */
	PL_KEYFILE_PLAIN = 1u << 1,    /* no passphrase (daemon keys) */
	PL_KEYFILE_FAST_KDF = 1u << 2, /* interactive-strength KDF limits (default: moderate) */
};

/* Write kp's seed to path.  label: a short printable name (no newline). */
PL_EXPORT int pl_keyfile_write(const char *path, const pl_keypair *kp, const char *label,
			       const char *passphrase, unsigned flags) PL_WUR;
/* Read a key file.  passphrase may be NULL for plain files.  Wrong
 * passphrase: PL_ERR_PASSPHRASE.  label (if non-NULL) receives the label,
 * truncated to labelcap-1 bytes.  On failure kp is wiped. */
PL_EXPORT int pl_keyfile_read(const char *path, const char *passphrase, pl_keypair *kp,
			      char *label, size_t labelcap) PL_WUR;
/* The public key (and label) of a key file, without the passphrase: the
 * public key is stored in the clear and checked against the seed whenever
 * the file is unsealed. */
PL_EXPORT int pl_keyfile_public(const char *path, uint8_t pk[PL_PK_BYTES], char *label,
				size_t labelcap) PL_WUR;
/* true when the file at path needs a passphrase.  Errors: as read. */
PL_EXPORT int pl_keyfile_is_sealed(const char *path, bool *sealed) PL_WUR;

#ifdef __cplusplus
}
#endif
#endif /* PARLEY_CRYPTO_H */
