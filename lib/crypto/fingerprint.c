/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fingerprints of a state's root key, for the peering ceremony in which two
 * operators read 30 digits to each other over an independent channel.
 *
 * Derivation (version 1; changing any step changes every fingerprint, so a
 * new derivation needs a new domain string):
 *
 *   H  = SHA-512("parley-fingerprint-v1" || 0x00 || name || 0x00 || pk)
 *   repeat 5200 times:  H = SHA-512(H || pk)
 *   for g in 0..5:  group g = (big-endian 40-bit integer of H[5g .. 5g+4]) mod 100000
 *
 * name is the state name as UTF-8 bytes without its NUL, pk the 32-byte
 * Ed25519 public key.  Each group is written as 5 zero-padded decimal digits
 * and groups are separated by single spaces.  The iteration, as in Signal's
 * safety numbers, makes a search for a key with a chosen fingerprint 5201
 * times dearer; the 30 digits carry about 99.7 bits.  40 bits mod 100000
 * is biased by less than 1e-7, which does not matter here.
 *
 * The module does not decide which names or keys to fingerprint, nor keep
 * any record of a ceremony.
 */
#include <string.h>

#include <sodium.h>

#include "parley/crypto.h"
#include "parley/err.h"

#define FPR_DIGITS     (PL_FPR_GROUPS * 5)
#define FPR_ITERATIONS 5200

/* Includes its terminating NUL, which is the 0x00 separator after the domain. */
static const char fpr_domain[] = "parley-fingerprint-v1";

_Static_assert(PL_FPR_GROUPS * 5 <= crypto_hash_sha512_BYTES, "a group needs 5 hash bytes");

/* The 30 digits, without separators or NUL. */
static void fpr_digits(char digits[FPR_DIGITS], const char *name, const uint8_t pk[PL_PK_BYTES])
{
	static const uint8_t zero = 0;
	uint8_t h[crypto_hash_sha512_BYTES + PL_PK_BYTES]; /* H || pk */
	uint8_t next[crypto_hash_sha512_BYTES];
	crypto_hash_sha512_state st;

	if (!name)
		name = "";
	crypto_hash_sha512_init(&st);
	crypto_hash_sha512_update(&st, (const uint8_t *)fpr_domain, sizeof(fpr_domain));
	crypto_hash_sha512_update(&st, (const uint8_t *)name, strlen(name));
	crypto_hash_sha512_update(&st, &zero, 1);
	crypto_hash_sha512_update(&st, pk, PL_PK_BYTES);
	crypto_hash_sha512_final(&st, h);
	memcpy(h + crypto_hash_sha512_BYTES, pk, PL_PK_BYTES);

	for (int i = 0; i < FPR_ITERATIONS; i++) {
		crypto_hash_sha512(next, h, sizeof(h));
		memcpy(h, next, sizeof(next));
	}

	for (int g = 0; g < PL_FPR_GROUPS; g++) {
		const uint8_t *b = h + 5 * g;
		uint64_t v = ((uint64_t)b[0] << 32) | ((uint64_t)b[1] << 24) |
			     ((uint64_t)b[2] << 16) | ((uint64_t)b[3] << 8) | (uint64_t)b[4];
		v %= 100000;
		for (int d = 4; d >= 0; d--) {
			digits[5 * g + d] = (char)('0' + v % 10);
			v /= 10;
		}
	}
}

void pl_fingerprint(char out[PL_FPR_LEN], const char *state_name, const uint8_t pk[PL_PK_BYTES])
{
	char digits[FPR_DIGITS];
	fpr_digits(digits, state_name, pk);
	size_t o = 0;
	for (int g = 0; g < PL_FPR_GROUPS; g++) {
		if (g)
			out[o++] = ' ';
		memcpy(out + o, digits + 5 * g, 5);
		o += 5;
	}
	out[o] = '\0';
}

/* Separators an operator may type between digits: spaces, tabs and dashes. */
static bool fpr_is_separator(char c)
{
	return c == ' ' || c == '\t' || c == '-';
}

int pl_fingerprint_check(const char *typed, const char *state_name, const uint8_t pk[PL_PK_BYTES])
{
	if (!typed)
		return pl_err_fail(PL_ERR_INVALID, "fingerprint: no text given");

	char got[FPR_DIGITS];
	size_t n = 0;
	for (size_t i = 0; typed[i]; i++) {
		unsigned char c = (unsigned char)typed[i];
		if (fpr_is_separator((char)c))
			continue;
		if (c < '0' || c > '9') {
			if (c >= 0x21 && c <= 0x7e)
				return pl_err_fail(PL_ERR_MALFORMED,
						   "fingerprint: unexpected '%c' at position %zu; "
						   "type only the 30 digits (spaces and dashes are "
						   "ignored)",
						   c, i + 1);
			return pl_err_fail(
			    PL_ERR_MALFORMED,
			    "fingerprint: unexpected byte 0x%02x at position %zu; "
			    "type only the 30 digits (spaces and dashes are ignored)",
			    c, i + 1);
		}
		if (n < FPR_DIGITS)
			got[n] = (char)c;
		n++;
	}
	if (n != FPR_DIGITS)
		return pl_err_fail(PL_ERR_MALFORMED, "fingerprint: %zu digits typed, expected %d",
				   n, FPR_DIGITS);

	char want[FPR_DIGITS];
	fpr_digits(want, state_name, pk);
	if (sodium_memcmp(got, want, FPR_DIGITS) != 0)
		return pl_err_fail(PL_ERR_FINGERPRINT,
				   "the fingerprint typed does not match this key: do not pin it");
	return 0;
}
