/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Primitives on libsodium: initialisation, Ed25519 keys and detached
 * signatures, SHA-256, constant-time comparison, wiping, randomness, and
 * strict base64/hex codecs.
 *
 * This file only wraps libsodium behind the pl_ names of parley/crypto.h and
 * turns its -1 results into pl_err codes.  Key files live in keyfile.c and
 * fingerprints in fingerprint.c.  Nothing here allocates memory.
 */
#include <stdalign.h>
#include <stdatomic.h>
#include <string.h>

#include <sodium.h>

#include "parley/crypto.h"
#include "parley/err.h"

_Static_assert(sizeof(crypto_hash_sha256_state) <= sizeof(((pl_sha256_ctx *)0)->opaque),
	       "pl_sha256_ctx is too small for libsodium's SHA-256 state");
_Static_assert(alignof(crypto_hash_sha256_state) <= 16,
	       "pl_sha256_ctx is not aligned enough for libsodium's SHA-256 state");
_Static_assert(PL_PK_BYTES == crypto_sign_PUBLICKEYBYTES, "Ed25519 public key size");
_Static_assert(PL_SK_BYTES == crypto_sign_SECRETKEYBYTES, "Ed25519 secret key size");
_Static_assert(PL_SEED_BYTES == crypto_sign_SEEDBYTES, "Ed25519 seed size");
_Static_assert(PL_SIG_BYTES == crypto_sign_BYTES, "Ed25519 signature size");
_Static_assert(PL_HASH_BYTES == crypto_hash_sha256_BYTES, "SHA-256 size");

/* ------------------------------------------------------------ initialisation */

static atomic_bool crypto_ready;

int pl_crypto_init(void)
{
	if (atomic_load_explicit(&crypto_ready, memory_order_acquire))
		return 0;
	/* sodium_init() is itself thread-safe and idempotent: 0 first time, 1 after. */
	if (sodium_init() < 0)
		return pl_err_fail(PL_ERR_CRYPTO, "libsodium failed to initialise");
	atomic_store_explicit(&crypto_ready, true, memory_order_release);
	return 0;
}

/* ------------------------------------------------------------ keys and signatures */

int pl_key_generate(pl_keypair *kp)
{
	int rc = pl_crypto_init();
	if (rc)
		return rc;
	if (crypto_sign_keypair(kp->pk, kp->sk) != 0) {
		pl_key_wipe(kp);
		return pl_err_fail(PL_ERR_CRYPTO, "key generation failed");
	}
	return 0;
}

int pl_key_from_seed(pl_keypair *kp, const uint8_t seed[PL_SEED_BYTES])
{
	int rc = pl_crypto_init();
	if (rc)
		return rc;
	if (crypto_sign_seed_keypair(kp->pk, kp->sk, seed) != 0) {
		pl_key_wipe(kp);
		return pl_err_fail(PL_ERR_CRYPTO, "key derivation from seed failed");
	}
	return 0;
}

void pl_key_wipe(pl_keypair *kp)
{
	if (kp)
		sodium_memzero(kp, sizeof(*kp));
}

void pl_key_id(uint8_t out[PL_KEYID_BYTES], const uint8_t pk[PL_PK_BYTES])
{
	uint8_t h[PL_HASH_BYTES];
	crypto_hash_sha256(h, pk, PL_PK_BYTES);
	memcpy(out, h, PL_KEYID_BYTES);
}

/* libsodium is given a real pointer even for empty messages. */
static const uint8_t *nonnull_msg(const uint8_t *msg)
{
	static const uint8_t empty[1];
	return msg ? msg : empty;
}

int pl_sign(uint8_t sig[PL_SIG_BYTES], const uint8_t *msg, size_t len, const pl_keypair *kp)
{
	if (!msg && len)
		return pl_err_fail(PL_ERR_INVALID, "sign: NULL message of %zu bytes", len);
	if (crypto_sign_detached(sig, NULL, nonnull_msg(msg), len, kp->sk) != 0)
		return pl_err_fail(PL_ERR_CRYPTO, "signing failed");
	return 0;
}

int pl_verify(const uint8_t sig[PL_SIG_BYTES], const uint8_t *msg, size_t len,
	      const uint8_t pk[PL_PK_BYTES])
{
	if (!msg && len)
		return pl_err_fail(PL_ERR_INVALID, "verify: NULL message of %zu bytes", len);
	if (crypto_sign_verify_detached(sig, nonnull_msg(msg), len, pk) != 0)
		return pl_err_fail(PL_ERR_BAD_SIGNATURE, "Ed25519 signature does not verify");
	return 0;
}

/* ------------------------------------------------------------ hashing */

void pl_sha256(uint8_t out[PL_HASH_BYTES], const uint8_t *msg, size_t len)
{
	crypto_hash_sha256(out, nonnull_msg(msg), len);
}

static crypto_hash_sha256_state *sha256_state(pl_sha256_ctx *c)
{
	return (crypto_hash_sha256_state *)(void *)c->opaque;
}

void pl_sha256_init(pl_sha256_ctx *c)
{
	crypto_hash_sha256_init(sha256_state(c));
}

void pl_sha256_update(pl_sha256_ctx *c, const uint8_t *p, size_t n)
{
	crypto_hash_sha256_update(sha256_state(c), nonnull_msg(p), n);
}

void pl_sha256_final(pl_sha256_ctx *c, uint8_t out[PL_HASH_BYTES])
{
	crypto_hash_sha256_final(sha256_state(c), out);
	sodium_memzero(c, sizeof(*c));
}

/* ------------------------------------------------------------ memory and randomness */

bool pl_ct_equal(const void *a, const void *b, size_t n)
{
	if (n == 0)
		return true;
	return sodium_memcmp(a, b, n) == 0;
}

void pl_wipe(void *p, size_t n)
{
	if (p && n)
		sodium_memzero(p, n);
}

void pl_random(void *p, size_t n)
{
	/*
	 * sodium_init() can only fail when no entropy source can be opened;
	 * randombytes_buf() then aborts inside libsodium, which is the only
	 * safe outcome for a function that cannot report an error.
	 */
	int rc = pl_crypto_init();
	(void)rc;
	if (n)
		randombytes_buf(p, n);
}

/* ------------------------------------------------------------ base64 and hex */

#define B64_VARIANT sodium_base64_VARIANT_ORIGINAL

size_t pl_b64_len(size_t n)
{
	return sodium_base64_ENCODED_LEN(n, B64_VARIANT);
}

void pl_b64_encode(char *out, const uint8_t *in, size_t n)
{
	sodium_bin2base64(out, pl_b64_len(n), nonnull_msg(in), n, B64_VARIANT);
}

/*
 * Strictness: the length must be a multiple of four (padding is required);
 * no whitespace or other character outside the alphabet is skipped;
 * libsodium rejects '=' in the wrong place, non-zero bits hidden in the
 * last character, and (with no end pointer) anything after the padding.
 * The capacity check is done first, from the length, so that a too-small
 * output buffer is told apart from bad input.
 */
int pl_b64_decode(uint8_t *out, size_t cap, size_t *outlen, const char *in, size_t inlen)
{
	*outlen = 0;
	if (!in && inlen)
		return pl_err_fail(PL_ERR_INVALID, "base64: NULL input");
	if (inlen % 4 != 0)
		return pl_err_fail(PL_ERR_MALFORMED, "base64: length %zu is not a multiple of 4",
				   inlen);
	if (inlen == 0)
		return 0;
	/* libsodium 1.0.18 maps some bytes >= 0x80 to base64 values; accept
	 * only the RFC 4648 alphabet, with '=' only as padding. */
	for (size_t i = 0; i < inlen; i++) {
		unsigned char c = (unsigned char)in[i];
		bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
			  c == '+' || c == '/' || (c == '=' && i >= inlen - 2);
		if (!ok)
			return pl_err_fail(PL_ERR_MALFORMED,
					   "base64: invalid character at position %zu", i);
	}
	size_t pad = (in[inlen - 1] == '=') + (in[inlen - 1] == '=' && in[inlen - 2] == '=');
	size_t need = inlen / 4 * 3 - pad;
	if (need > cap)
		return pl_err_fail(PL_ERR_LIMIT, "base64: %zu bytes do not fit in %zu", need, cap);
	size_t got = 0;
	if (sodium_base642bin(out, cap, in, inlen, NULL, &got, NULL, B64_VARIANT) != 0) {
		pl_wipe(out, cap);
		return pl_err_fail(PL_ERR_MALFORMED, "base64: invalid character or padding");
	}
	*outlen = got;
	return 0;
}

void pl_hex_encode(char *out, const uint8_t *in, size_t n)
{
	sodium_bin2hex(out, 2 * n + 1, nonnull_msg(in), n);
}

/* Accepts upper- and lower-case digits; rejects odd lengths and any other character. */
int pl_hex_decode(uint8_t *out, size_t cap, size_t *outlen, const char *in, size_t inlen)
{
	*outlen = 0;
	if (!in && inlen)
		return pl_err_fail(PL_ERR_INVALID, "hex: NULL input");
	if (inlen % 2 != 0)
		return pl_err_fail(PL_ERR_MALFORMED, "hex: odd length %zu", inlen);
	if (inlen / 2 > cap)
		return pl_err_fail(PL_ERR_LIMIT, "hex: %zu bytes do not fit in %zu", inlen / 2,
				   cap);
	if (inlen == 0)
		return 0;
	size_t got = 0;
	if (sodium_hex2bin(out, cap, in, inlen, NULL, &got, NULL) != 0 || got != inlen / 2) {
		pl_wipe(out, cap);
		return pl_err_fail(PL_ERR_MALFORMED, "hex: invalid character");
	}
	*outlen = got;
	return 0;
}
