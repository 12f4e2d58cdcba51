/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for lib/crypto: Ed25519 and SHA-256 known answers, signature
 * tampering, strict base64/hex, fingerprints and key files.
 *
 * Key-file tests use a fresh folder under $PARLEY_TEST_TMP (or /tmp) and
 * the interactive KDF limits so that they stay quick.
 */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "parley/crypto.h"
#include "parley/err.h"
#include "parley/file.h"

/* ------------------------------------------------------------ helpers */

/* Decode a hex vector (test-local, independent of pl_hex_decode). */
static void unhex(uint8_t *out, size_t n, const char *hex)
{
	assert_int_equal(strlen(hex), 2 * n);
	for (size_t i = 0; i < n; i++) {
		unsigned v = 0;
		for (int k = 0; k < 2; k++) {
			char c = hex[2 * i + k];
			v <<= 4;
			if (c >= '0' && c <= '9')
				v |= (unsigned)(c - '0');
			else if (c >= 'a' && c <= 'f')
				v |= (unsigned)(c - 'a' + 10);
			else
				fail_msg("bad hex in vector: %c", c);
		}
		out[i] = (uint8_t)v;
	}
}

static bool all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

static char tmpdir[4096];

static void path_in_tmp(char *out, size_t cap, const char *name)
{
	int n = snprintf(out, cap, "%s/%s", tmpdir, name);
	assert_true(n > 0 && (size_t)n < cap);
}

static void write_raw(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	if (len)
		assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static size_t read_raw(const char *path, char *buf, size_t cap)
{
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	size_t n = fread(buf, 1, cap - 1, f);
	assert_int_equal(fclose(f), 0);
	buf[n] = '\0';
	return n;
}

static int group_setup(void **state)
{
	const char *base = getenv("PARLEY_TEST_TMP");
	if (!base || !*base)
		base = "/tmp";
	if (mkdir(base, 0700) != 0 && errno != EEXIST)
		return -1;
	int n = snprintf(tmpdir, sizeof(tmpdir), "%s/test_crypto.XXXXXX", base);
	if (n < 0 || (size_t)n >= sizeof(tmpdir))
		return -1;
	if (!mkdtemp(tmpdir))
		return -1;
	return pl_crypto_init();
}

static int group_teardown(void **state)
{
	DIR *d = opendir(tmpdir);
	if (!d)
		return -1;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		char p[4200];
		int n = snprintf(p, sizeof(p), "%s/%s", tmpdir, e->d_name);
		if (n > 0 && (size_t)n < sizeof(p))
			unlink(p);
	}
	closedir(d);
	return rmdir(tmpdir);
}

/* ------------------------------------------------------------ Ed25519 (RFC 8032 §7.1) */

struct ed_vector {
	const char *seed, *pk, *msg, *sig;
};

static const struct ed_vector rfc8032_test1 = {
    "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
    "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
    "",
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701"
    "cf9b46bd25bf5f0595bbe24655141438e7a100b",
};

static const struct ed_vector rfc8032_test2 = {
    "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
    "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
    "72",
    "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d"
    "0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
};

static void check_ed_vector(const struct ed_vector *v)
{
	uint8_t seed[PL_SEED_BYTES], pk[PL_PK_BYTES], sig[PL_SIG_BYTES], got[PL_SIG_BYTES];
	uint8_t msg[8];
	size_t mlen = strlen(v->msg) / 2;
	unhex(seed, sizeof(seed), v->seed);
	unhex(pk, sizeof(pk), v->pk);
	unhex(sig, sizeof(sig), v->sig);
	unhex(msg, mlen, v->msg);

	pl_keypair kp;
	assert_int_equal(pl_key_from_seed(&kp, seed), 0);
	assert_memory_equal(kp.pk, pk, PL_PK_BYTES);
	assert_memory_equal(kp.sk, seed, PL_SEED_BYTES); /* libsodium: sk = seed || pk */
	assert_memory_equal(kp.sk + PL_SEED_BYTES, pk, PL_PK_BYTES);

	assert_int_equal(pl_sign(got, mlen ? msg : NULL, mlen, &kp), 0);
	assert_memory_equal(got, sig, PL_SIG_BYTES);
	assert_int_equal(pl_verify(sig, msg, mlen, pk), 0);
	pl_key_wipe(&kp);
	assert_true(all_zero(&kp, sizeof(kp)));
}

static void test_ed25519_rfc8032_test1(void **state)
{
	check_ed_vector(&rfc8032_test1);
}

static void test_ed25519_rfc8032_test2(void **state)
{
	check_ed_vector(&rfc8032_test2);
}

static void test_verify_rejects_tampering(void **state)
{
	pl_keypair kp, other;
	assert_int_equal(pl_key_generate(&kp), 0);
	assert_int_equal(pl_key_generate(&other), 0);
	assert_memory_not_equal(kp.pk, other.pk, PL_PK_BYTES);

	const uint8_t msg[] = "border incident report #42";
	uint8_t m[sizeof(msg)];
	uint8_t sig[PL_SIG_BYTES], bad[PL_SIG_BYTES];
	assert_int_equal(pl_sign(sig, msg, sizeof(msg), &kp), 0);
	assert_int_equal(pl_verify(sig, msg, sizeof(msg), kp.pk), 0);

	/* every byte of the signature matters */
	for (size_t i = 0; i < PL_SIG_BYTES; i++) {
		memcpy(bad, sig, sizeof(bad));
		bad[i] ^= 0x01;
		assert_int_equal(pl_verify(bad, msg, sizeof(msg), kp.pk), PL_ERR_BAD_SIGNATURE);
	}
	/* every byte of the message matters, and its length */
	for (size_t i = 0; i < sizeof(msg); i++) {
		memcpy(m, msg, sizeof(m));
		m[i] ^= 0x80;
		assert_int_equal(pl_verify(sig, m, sizeof(m), kp.pk), PL_ERR_BAD_SIGNATURE);
	}
	assert_int_equal(pl_verify(sig, msg, sizeof(msg) - 1, kp.pk), PL_ERR_BAD_SIGNATURE);
	/* another key */
	assert_int_equal(pl_verify(sig, msg, sizeof(msg), other.pk), PL_ERR_BAD_SIGNATURE);
	assert_true(strlen(pl_err_detail()) > 0);
	pl_key_wipe(&kp);
	pl_key_wipe(&other);
}

/*
 * Malleability and weak keys (threat-model.md): a signature whose S is not
 * reduced (S + L verifies under a cofactorless equation, and a lax verifier
 * would accept the same signature in two byte forms) and the all-identity
 * forgery (public key and R the identity point, S = 0: the verification
 * equation holds for every message) must both be refused.
 */
static void test_verify_rejects_noncanonical_and_small_order(void **state)
{
	static const uint8_t L[32] = {0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58,
				      0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
				      [31] = 0x10};
	pl_keypair kp;
	assert_int_equal(pl_key_generate(&kp), 0);
	const uint8_t msg[] = "joint statement, final text";
	uint8_t sig[PL_SIG_BYTES], big[PL_SIG_BYTES];
	assert_int_equal(pl_sign(sig, msg, sizeof(msg), &kp), 0);
	/* S' = S + L: the same scalar mod L, a second byte form */
	memcpy(big, sig, sizeof(big));
	unsigned carry = 0;
	for (size_t i = 0; i < 32; i++) {
		unsigned v = big[32 + i] + L[i] + carry;
		big[32 + i] = (uint8_t)v;
		carry = v >> 8;
	}
	assert_int_equal(carry, 0); /* S < L < 2^253, so S + L fits */
	assert_memory_not_equal(big, sig, PL_SIG_BYTES);
	assert_int_equal(pl_verify(big, msg, sizeof(msg), kp.pk), PL_ERR_BAD_SIGNATURE);
	assert_int_equal(pl_verify(sig, msg, sizeof(msg), kp.pk), 0);
	/* identity key, R = identity, S = 0 */
	uint8_t ident[PL_PK_BYTES] = {1}, forged[PL_SIG_BYTES] = {1};
	assert_int_equal(pl_verify(forged, msg, sizeof(msg), ident), PL_ERR_BAD_SIGNATURE);
	/* another small-order key: the point of order 2, (0, -1) */
	uint8_t order2[PL_PK_BYTES];
	memset(order2, 0xff, sizeof(order2));
	order2[0] = 0xec;
	order2[31] = 0x7f;
	assert_int_equal(pl_verify(forged, msg, sizeof(msg), order2), PL_ERR_BAD_SIGNATURE);
	pl_key_wipe(&kp);
}

static void test_key_generate_and_id(void **state)
{
	pl_keypair a, b, again;
	assert_int_equal(pl_key_generate(&a), 0);
	assert_int_equal(pl_key_generate(&b), 0);
	assert_memory_not_equal(a.sk, b.sk, PL_SEED_BYTES);
	/* the generated pk is the one derived from its seed */
	assert_int_equal(pl_key_from_seed(&again, a.sk), 0);
	assert_memory_equal(again.pk, a.pk, PL_PK_BYTES);
	assert_memory_equal(again.sk, a.sk, PL_SK_BYTES);

	/* key id = first 8 bytes of SHA-256(pk); vector computed for RFC 8032 TEST 1's pk */
	uint8_t pk[PL_PK_BYTES], id[PL_KEYID_BYTES], want[PL_KEYID_BYTES];
	unhex(pk, sizeof(pk), rfc8032_test1.pk);
	unhex(want, sizeof(want), "21fe31dfa154a261");
	pl_key_id(id, pk);
	assert_memory_equal(id, want, sizeof(id));
	pl_key_wipe(&a);
	pl_key_wipe(&b);
	pl_key_wipe(&again);
	pl_key_wipe(NULL);
}

/* ------------------------------------------------------------ SHA-256 (FIPS 180-2) */

static void test_sha256_vectors(void **state)
{
	uint8_t out[PL_HASH_BYTES], want[PL_HASH_BYTES];
	pl_sha256(out, (const uint8_t *)"abc", 3);
	unhex(want, sizeof(want),
	      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	assert_memory_equal(out, want, sizeof(out));

	pl_sha256(out, NULL, 0);
	unhex(want, sizeof(want),
	      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	assert_memory_equal(out, want, sizeof(out));

	const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	pl_sha256(out, (const uint8_t *)two, strlen(two));
	unhex(want, sizeof(want),
	      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	assert_memory_equal(out, want, sizeof(out));
}

static void test_sha256_incremental(void **state)
{
	uint8_t data[1000];
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7 + 3);
	uint8_t one[PL_HASH_BYTES], inc[PL_HASH_BYTES];
	pl_sha256(one, data, sizeof(data));

	/* chunk sizes straddling the 64-byte block boundary */
	static const size_t chunks[] = {0, 1, 63, 64, 65, 127, 2};
	pl_sha256_ctx c;
	pl_sha256_init(&c);
	size_t off = 0;
	for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
		pl_sha256_update(&c, data + off, chunks[i]);
		off += chunks[i];
	}
	pl_sha256_update(&c, data + off, sizeof(data) - off);
	pl_sha256_final(&c, inc);
	assert_memory_equal(one, inc, sizeof(one));

	/* and a known answer split in two */
	uint8_t want[PL_HASH_BYTES];
	unhex(want, sizeof(want),
	      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	pl_sha256_init(&c);
	pl_sha256_update(&c, (const uint8_t *)"a", 1);
	pl_sha256_update(&c, (const uint8_t *)"bc", 2);
	pl_sha256_final(&c, inc);
	assert_memory_equal(inc, want, sizeof(want));
}

/* ------------------------------------------------------------ memory helpers */

static void test_ct_equal_wipe_random(void **state)
{
	uint8_t a[32], b[32];
	memset(a, 0x5a, sizeof(a));
	memcpy(b, a, sizeof(b));
	assert_true(pl_ct_equal(a, b, sizeof(a)));
	b[31] ^= 1;
	assert_false(pl_ct_equal(a, b, sizeof(a)));
	b[31] ^= 1;
	b[0] ^= 0x80;
	assert_false(pl_ct_equal(a, b, sizeof(a)));
	assert_true(pl_ct_equal(a, b, 0));

	pl_wipe(a, sizeof(a));
	assert_true(all_zero(a, sizeof(a)));
	pl_wipe(NULL, 0);

	uint8_t r1[32] = {0}, r2[32] = {0};
	pl_random(r1, sizeof(r1));
	pl_random(r2, sizeof(r2));
	assert_false(all_zero(r1, sizeof(r1)));
	assert_memory_not_equal(r1, r2, sizeof(r1));
}

/* ------------------------------------------------------------ base64 (RFC 4648 §10) and hex */

static void test_b64_vectors_and_roundtrip(void **state)
{
	static const struct {
		const char *raw, *b64;
	} v[] = {
	    {"", ""},
	    {"f", "Zg=="},
	    {"fo", "Zm8="},
	    {"foo", "Zm9v"},
	    {"foob", "Zm9vYg=="},
	    {"fooba", "Zm9vYmE="},
	    {"foobar", "Zm9vYmFy"},
	};
	char enc[64];
	uint8_t dec[64];
	size_t n;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		size_t rl = strlen(v[i].raw);
		assert_int_equal(pl_b64_len(rl), strlen(v[i].b64) + 1);
		pl_b64_encode(enc, (const uint8_t *)v[i].raw, rl);
		assert_string_equal(enc, v[i].b64);
		assert_int_equal(pl_b64_decode(dec, sizeof(dec), &n, v[i].b64, strlen(v[i].b64)),
				 0);
		assert_int_equal(n, rl);
		assert_memory_equal(dec, v[i].raw, rl);
	}

	uint8_t raw[40];
	for (size_t len = 0; len <= sizeof(raw); len++) {
		for (size_t i = 0; i < len; i++)
			raw[i] = (uint8_t)(255 - i * 13 - len);
		pl_b64_encode(enc, raw, len);
		assert_int_equal(strlen(enc) + 1, pl_b64_len(len));
		/* an exact-size buffer is enough */
		assert_int_equal(pl_b64_decode(dec, len, &n, enc, strlen(enc)), 0);
		assert_int_equal(n, len);
		assert_memory_equal(dec, raw, len);
	}
}

static void test_b64_rejects(void **state)
{
	static const char *bad[] = {
	    "Zg",           /* no padding */
	    "Zg=",          /* short padding */
	    "Zg===",        /* too much padding */
	    "Zm9v ",        /* trailing space */
	    " Zm9v",        /* leading space */
	    "Zm9v\n",       /* trailing newline */
	    "Zm\n9v",       /* embedded newline */
	    "Zm9v    ",     /* trailing whitespace with a valid length */
	    "    Zm9v",     /* leading whitespace with a valid length */
	    "Zm  9v  ",     /* inner whitespace with a valid length */
	    "Zm9v\r\n\r\n", /* CRLF */
	    "Zm9vYg==Zm9v", /* data after the padding */
	    "Zg==Zg==",     /* two padded blocks */
	    "Zh==",         /* non-zero bits in the padding */
	    "Zm9=",         /* non-zero bits in the padding */
	    "Z===",         /* impossible padding */
	    "====",         /* padding only */
	    "Zg=a",         /* data after '=' */
	    "Zm9-",         /* URL-safe alphabet */
	    "Zm9_",         /* URL-safe alphabet */
	    "Zm9*",         /* not base64 */
	    "\xc9\x97\xcd\x91", /* bytes >= 0x80 that libsodium 1.0.18 decodes to ff ff ff */
	    "Zm9v\xc9\x97\xcd\x91",
	};
	uint8_t out[32];
	size_t n = 99;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		n = 99;
		int rc = pl_b64_decode(out, sizeof(out), &n, bad[i], strlen(bad[i]));
		if (rc != PL_ERR_MALFORMED)
			fail_msg("'%s' gave %d, expected malformed", bad[i], rc);
		assert_int_equal(n, 0);
	}
	/* an embedded NUL inside the given length */
	assert_int_equal(pl_b64_decode(out, sizeof(out), &n, "Zm\0v", 4), PL_ERR_MALFORMED);

	/* capacity: exactly enough works, one less is a limit */
	assert_int_equal(pl_b64_decode(out, 6, &n, "Zm9vYmFy", 8), 0);
	assert_int_equal(n, 6);
	assert_int_equal(pl_b64_decode(out, 5, &n, "Zm9vYmFy", 8), PL_ERR_LIMIT);
	assert_int_equal(pl_b64_decode(out, 4, &n, "Zm9vYg==", 8), 0);
	assert_int_equal(pl_b64_decode(out, 3, &n, "Zm9vYg==", 8), PL_ERR_LIMIT);
	assert_int_equal(pl_b64_decode(out, 0, &n, "", 0), 0);
	assert_int_equal(n, 0);
}

static void test_hex(void **state)
{
	static const uint8_t raw[] = {0x00, 0x01, 0xab, 0xff, 0x7f};
	char enc[2 * sizeof(raw) + 1];
	uint8_t dec[8];
	size_t n;
	pl_hex_encode(enc, raw, sizeof(raw));
	assert_string_equal(enc, "0001abff7f");
	assert_int_equal(pl_hex_decode(dec, sizeof(dec), &n, enc, strlen(enc)), 0);
	assert_int_equal(n, sizeof(raw));
	assert_memory_equal(dec, raw, sizeof(raw));
	/* upper case is read too */
	assert_int_equal(pl_hex_decode(dec, sizeof(dec), &n, "0001ABFF7F", 10), 0);
	assert_memory_equal(dec, raw, sizeof(raw));
	assert_int_equal(pl_hex_decode(dec, 0, &n, "", 0), 0);
	assert_int_equal(n, 0);

	static const char *bad[] = {"0",  "abc",  "0g",   " 00",  "00 ",    "0 0",  "00\n",
				    "-1", "0x00", "00  ", "  00", "00\r\n", "0000 "};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		n = 99;
		int rc = pl_hex_decode(dec, sizeof(dec), &n, bad[i], strlen(bad[i]));
		if (rc != PL_ERR_MALFORMED)
			fail_msg("'%s' gave %d, expected malformed", bad[i], rc);
		assert_int_equal(n, 0);
	}
	assert_int_equal(pl_hex_decode(dec, 2, &n, "000102", 6), PL_ERR_LIMIT);
	assert_int_equal(pl_hex_decode(dec, 3, &n, "000102", 6), 0);
	assert_int_equal(n, 3);
}

/* ------------------------------------------------------------ fingerprints */

/*
 * Known answers computed with an independent implementation (Python
 * hashlib) of the derivation documented in lib/crypto/fingerprint.c, for
 * RFC 8032 TEST 1's and TEST 2's public keys.
 */
#define FPR_TEHRAN_PK1    "10982 85983 97614 01655 16191 38399"
#define FPR_ISLAMABAD_PK1 "38321 10897 71101 00618 80218 09480"
#define FPR_TEHRAN_PK2    "72216 06366 72176 55712 19762 19425"

static void test_fingerprint_known_answers(void **state)
{
	uint8_t pk1[PL_PK_BYTES], pk2[PL_PK_BYTES];
	unhex(pk1, sizeof(pk1), rfc8032_test1.pk);
	unhex(pk2, sizeof(pk2), rfc8032_test2.pk);
	char f[PL_FPR_LEN];
	pl_fingerprint(f, "Tehran", pk1);
	assert_string_equal(f, FPR_TEHRAN_PK1);
	pl_fingerprint(f, "Islamabad", pk1);
	assert_string_equal(f, FPR_ISLAMABAD_PK1);
	pl_fingerprint(f, "Tehran", pk2);
	assert_string_equal(f, FPR_TEHRAN_PK2);
}

static void test_fingerprint_format_and_sensitivity(void **state)
{
	pl_keypair kp;
	assert_int_equal(pl_key_generate(&kp), 0);
	char f1[PL_FPR_LEN], f2[PL_FPR_LEN];
	pl_fingerprint(f1, "Tehran", kp.pk);
	pl_fingerprint(f2, "Tehran", kp.pk);
	assert_string_equal(f1, f2); /* deterministic */

	/* "ddddd ddddd ddddd ddddd ddddd ddddd" */
	assert_int_equal(strlen(f1), PL_FPR_LEN - 1);
	for (size_t i = 0; i < PL_FPR_LEN - 1; i++) {
		if (i % 6 == 5)
			assert_int_equal(f1[i], ' ');
		else
			assert_true(f1[i] >= '0' && f1[i] <= '9');
	}

	pl_fingerprint(f2, "Tehran2", kp.pk);
	assert_string_not_equal(f1, f2);
	pl_fingerprint(f2, "tehran", kp.pk);
	assert_string_not_equal(f1, f2);
	uint8_t pk[PL_PK_BYTES];
	memcpy(pk, kp.pk, sizeof(pk));
	pk[PL_PK_BYTES - 1] ^= 0x01;
	pl_fingerprint(f2, "Tehran", pk);
	assert_string_not_equal(f1, f2);
	pl_key_wipe(&kp);
}

static void test_fingerprint_check(void **state)
{
	uint8_t pk[PL_PK_BYTES];
	unhex(pk, sizeof(pk), rfc8032_test1.pk);

	static const char *ok[] = {
	    FPR_TEHRAN_PK1,
	    "109828598397614016551619138399",
	    "10982-85983-97614-01655-16191-38399",
	    "  10982  85983 97614\t01655 16191 38399  ",
	    "1098 28598 3976 1401 6551 6191 3839 9",
	    "10982-85983 - 97614--01655 16191 -38399-",
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		assert_int_equal(pl_fingerprint_check(ok[i], "Tehran", pk), 0);

	/* the right digits for another name or key */
	assert_int_equal(pl_fingerprint_check(FPR_ISLAMABAD_PK1, "Tehran", pk), PL_ERR_FINGERPRINT);
	assert_int_equal(pl_fingerprint_check(FPR_TEHRAN_PK1, "Islamabad", pk), PL_ERR_FINGERPRINT);

	/* any single wrong digit */
	char typed[PL_FPR_LEN];
	for (size_t i = 0; i < PL_FPR_LEN - 1; i++) {
		if (i % 6 == 5)
			continue;
		memcpy(typed, FPR_TEHRAN_PK1, PL_FPR_LEN);
		typed[i] = (char)('0' + (typed[i] - '0' + 1) % 10);
		assert_int_equal(pl_fingerprint_check(typed, "Tehran", pk), PL_ERR_FINGERPRINT);
	}
	assert_true(strlen(pl_err_detail()) > 0);

	static const char *malformed[] = {
	    "",
	    "10982 85983 97614 01655 16191 3839",             /* 29 digits */
	    "10982 85983 97614 01655 16191 383990",           /* 31 digits */
	    "10982 85983 97614 01655 16191 3839O",            /* letter O for zero */
	    "10982 85983 97614 01655 16191 38399x",           /* trailing letter */
	    "10982.85983.97614.01655.16191.38399",            /* dots are not separators */
	    "10982 85983 97614 01655 16191 38399\n",          /* newline */
	    "\357\274\2210982 85983 97614 01655 16191 38399", /* full-width 1 (UTF-8) */
	};
	for (size_t i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++) {
		pl_err_clear_detail();
		int rc = pl_fingerprint_check(malformed[i], "Tehran", pk);
		if (rc != PL_ERR_MALFORMED)
			fail_msg("'%s' gave %d, expected malformed", malformed[i], rc);
		assert_true(strlen(pl_err_detail()) > 0);
	}
	assert_int_equal(pl_fingerprint_check(NULL, "Tehran", pk), PL_ERR_INVALID);
}

/* ------------------------------------------------------------ key files */

static const char *PASS = "correct horse battery staple";

static void count_entries(size_t *n)
{
	DIR *d = opendir(tmpdir);
	assert_non_null(d);
	*n = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			(*n)++;
	closedir(d);
}

/* Decode the body (second line) of the key file text in buf. */
static size_t body_of(const char *text, uint8_t *body, size_t cap)
{
	const char *nl = strchr(text, '\n');
	assert_non_null(nl);
	const char *b = nl + 1;
	const char *e = strchr(b, '\n');
	assert_non_null(e);
	size_t n;
	assert_int_equal(pl_b64_decode(body, cap, &n, b, (size_t)(e - b)), 0);
	return n;
}

/* Write header line + base64(body) + "\n" to path. */
static void write_keyfile_text(const char *path, const char *header, const uint8_t *body, size_t n)
{
	char b64[512], text[1024];
	assert_true(pl_b64_len(n) <= sizeof(b64));
	pl_b64_encode(b64, body, n);
	int len = snprintf(text, sizeof(text), "%s\n%s\n", header, b64);
	assert_true(len > 0 && (size_t)len < sizeof(text));
	write_raw(path, text, (size_t)len);
}

static void test_keyfile_sealed_roundtrip(void **state)
{
	char path[4200];
	path_in_tmp(path, sizeof(path), "sealed.key");
	pl_keypair kp, back;
	assert_int_equal(pl_key_generate(&kp), 0);
	assert_int_equal(pl_keyfile_write(path, &kp, "tehran-root", PASS, PL_KEYFILE_FAST_KDF), 0);

	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);

	char text[4096];
	read_raw(path, text, sizeof(text));
	assert_int_equal(strncmp(text, "parley-key v1 sealed tehran-root\n", 33), 0);
	uint8_t body[256];
	assert_int_equal(body_of(text, body, sizeof(body)), 136);
	assert_memory_equal(body, kp.pk, PL_PK_BYTES); /* pk in the clear */
	/* opslimit 2, memlimit 64 MiB (interactive), big-endian */
	static const uint8_t limits[16] = {0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 4, 0, 0, 0};
	assert_memory_equal(body + 32, limits, sizeof(limits));
	/* the seed does not appear in the clear anywhere in the body */
	for (size_t i = 0; i + PL_SEED_BYTES <= 136; i++)
		assert_memory_not_equal(body + i, kp.sk, PL_SEED_BYTES);

	bool sealed = false;
	assert_int_equal(pl_keyfile_is_sealed(path, &sealed), 0);
	assert_true(sealed);

	/* the public key and label without the passphrase */
	uint8_t pk[PL_PK_BYTES];
	char label[64];
	assert_int_equal(pl_keyfile_public(path, pk, label, sizeof(label)), 0);
	assert_memory_equal(pk, kp.pk, PL_PK_BYTES);
	assert_string_equal(label, "tehran-root");

	assert_int_equal(pl_keyfile_read(path, PASS, &back, label, sizeof(label)), 0);
	assert_memory_equal(back.pk, kp.pk, PL_PK_BYTES);
	assert_memory_equal(back.sk, kp.sk, PL_SK_BYTES);
	assert_string_equal(label, "tehran-root");

	/* wrong passphrase, and none at all; kp is wiped on failure */
	assert_int_equal(
	    pl_keyfile_read(path, "correct horse battery stapler", &back, label, sizeof(label)),
	    PL_ERR_PASSPHRASE);
	assert_true(all_zero(&back, sizeof(back)));
	assert_string_equal(label, "");
	assert_true(strlen(pl_err_detail()) > 0);
	assert_int_equal(pl_keyfile_read(path, NULL, &back, NULL, 0), PL_ERR_PASSPHRASE);
	assert_true(all_zero(&back, sizeof(back)));

	/* a damaged box: wrong passphrase or damaged, same code */
	char path2[4200];
	path_in_tmp(path2, sizeof(path2), "sealed-box.key");
	uint8_t bad[136];
	memcpy(bad, body, sizeof(bad));
	bad[135] ^= 0x01;
	write_keyfile_text(path2, "parley-key v1 sealed tehran-root", bad, sizeof(bad));
	assert_int_equal(pl_keyfile_read(path2, PASS, &back, NULL, 0), PL_ERR_PASSPHRASE);

	/* a swapped public key: unseals, but does not match */
	memcpy(bad, body, sizeof(bad));
	bad[0] ^= 0x01;
	write_keyfile_text(path2, "parley-key v1 sealed tehran-root", bad, sizeof(bad));
	assert_int_equal(pl_keyfile_read(path2, PASS, &back, NULL, 0), PL_ERR_PASSPHRASE);
	assert_non_null(strstr(pl_err_detail(), "damaged"));
	assert_true(all_zero(&back, sizeof(back)));
	pl_key_wipe(&kp);
}

static void test_keyfile_plain_roundtrip(void **state)
{
	char path[4200];
	path_in_tmp(path, sizeof(path), "plain.key");
	pl_keypair kp, back;
	assert_int_equal(pl_key_generate(&kp), 0);
	assert_int_equal(pl_keyfile_write(path, &kp, "node", NULL, PL_KEYFILE_PLAIN), 0);

	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);

	char text[4096];
	read_raw(path, text, sizeof(text));
	assert_int_equal(strncmp(text, "parley-key v1 plain node\n", 25), 0);
	uint8_t body[256];
	assert_int_equal(body_of(text, body, sizeof(body)), 64);
	assert_memory_equal(body, kp.pk, PL_PK_BYTES);
	assert_memory_equal(body + 32, kp.sk, PL_SEED_BYTES);

	bool sealed = true;
	assert_int_equal(pl_keyfile_is_sealed(path, &sealed), 0);
	assert_false(sealed);

	/* label truncated to the caller's buffer */
	char label[3];
	assert_int_equal(pl_keyfile_read(path, NULL, &back, label, sizeof(label)), 0);
	assert_string_equal(label, "no");
	uint8_t pk[PL_PK_BYTES];
	assert_int_equal(pl_keyfile_public(path, pk, label, sizeof(label)), 0);
	assert_memory_equal(pk, kp.pk, PL_PK_BYTES);
	assert_string_equal(label, "no");
	assert_memory_equal(back.sk, kp.sk, PL_SK_BYTES);
	assert_memory_equal(back.pk, kp.pk, PL_PK_BYTES);

	/* plain: a mismatching stored pk is damage */
	char path2[4200];
	path_in_tmp(path2, sizeof(path2), "plain-bad.key");
	body[5] ^= 0x10;
	write_keyfile_text(path2, "parley-key v1 plain node", body, 64);
	assert_int_equal(pl_keyfile_read(path2, NULL, &back, NULL, 0), PL_ERR_PASSPHRASE);
	assert_non_null(strstr(pl_err_detail(), "damaged"));
	pl_key_wipe(&kp);
	pl_key_wipe(&back);
}

static void test_keyfile_write_arguments(void **state)
{
	char path[4200];
	path_in_tmp(path, sizeof(path), "args.key");
	pl_keypair kp;
	assert_int_equal(pl_key_generate(&kp), 0);

	static const char *bad_labels[] = {
	    "",
	    "two words",
	    "new\nline",
	    "tab\there",
	    "caf\xc3\xa9",
	    "0123456789012345678901234567890123456789012345678901234567890123", /* 64 */
	};
	for (size_t i = 0; i < sizeof(bad_labels) / sizeof(bad_labels[0]); i++)
		assert_int_equal(pl_keyfile_write(path, &kp, bad_labels[i], NULL, PL_KEYFILE_PLAIN),
				 PL_ERR_INVALID);
	assert_int_equal(pl_keyfile_write(path, &kp, NULL, NULL, PL_KEYFILE_PLAIN), PL_ERR_INVALID);
	/* sealed needs a passphrase; plain takes none */
	assert_int_equal(pl_keyfile_write(path, &kp, "k", NULL, PL_KEYFILE_FAST_KDF),
			 PL_ERR_INVALID);
	assert_int_equal(pl_keyfile_write(path, &kp, "k", "", PL_KEYFILE_FAST_KDF), PL_ERR_INVALID);
	assert_int_equal(pl_keyfile_write(path, &kp, "k", PASS, PL_KEYFILE_PLAIN), PL_ERR_INVALID);
	assert_int_equal(pl_keyfile_write(path, &kp, "k", NULL, 1u << 20), PL_ERR_INVALID);
	/* an inconsistent pair */
	pl_keypair odd = kp;
	odd.pk[0] ^= 1;
	assert_int_equal(pl_keyfile_write(path, &odd, "k", NULL, PL_KEYFILE_PLAIN), PL_ERR_INVALID);
	assert_int_equal(access(path, F_OK), -1); /* nothing was written */

	/* 63 characters is the longest label */
	const char *l63 = "012345678901234567890123456789012345678901234567890123456789012";
	assert_int_equal(pl_keyfile_write(path, &kp, l63, NULL, PL_KEYFILE_PLAIN), 0);
	char label[64];
	pl_keypair back;
	assert_int_equal(pl_keyfile_read(path, NULL, &back, label, sizeof(label)), 0);
	assert_string_equal(label, l63);
	pl_key_wipe(&kp);
	pl_key_wipe(&odd);
	pl_key_wipe(&back);
}

static void test_keyfile_no_overwrite_without_force(void **state)
{
	char path[4200];
	path_in_tmp(path, sizeof(path), "force.key");
	pl_keypair a, b, back;
	assert_int_equal(pl_key_generate(&a), 0);
	assert_int_equal(pl_key_generate(&b), 0);
	assert_int_equal(pl_keyfile_write(path, &a, "first", NULL, PL_KEYFILE_PLAIN), 0);
	char before[4096], after[4096];
	size_t nb = read_raw(path, before, sizeof(before));
	size_t entries, entries2;
	count_entries(&entries);

	assert_int_equal(pl_keyfile_write(path, &b, "second", NULL, PL_KEYFILE_PLAIN),
			 PL_ERR_EXISTS);
	assert_int_equal(pl_keyfile_write(path, &b, "second", PASS, PL_KEYFILE_FAST_KDF),
			 PL_ERR_EXISTS);
	size_t na = read_raw(path, after, sizeof(after));
	assert_int_equal(na, nb);
	assert_memory_equal(before, after, nb);
	count_entries(&entries2);
	assert_int_equal(entries, entries2); /* no temporary file left */

	assert_int_equal(
	    pl_keyfile_write(path, &b, "second", NULL, PL_KEYFILE_PLAIN | PL_KEYFILE_FORCE), 0);
	char label[64];
	assert_int_equal(pl_keyfile_read(path, NULL, &back, label, sizeof(label)), 0);
	assert_memory_equal(back.pk, b.pk, PL_PK_BYTES);
	assert_string_equal(label, "second");
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	count_entries(&entries2);
	assert_int_equal(entries, entries2);
	pl_key_wipe(&a);
	pl_key_wipe(&b);
	pl_key_wipe(&back);
}

static void expect_read_fails(const char *path, int code)
{
	pl_keypair kp;
	memset(&kp, 0xaa, sizeof(kp));
	int rc = pl_keyfile_read(path, PASS, &kp, NULL, 0);
	if (rc != code)
		fail_msg("%s gave %d (%s), expected %d", path, rc, pl_err_detail(), code);
	assert_true(all_zero(&kp, sizeof(kp)));
	/* is_sealed parses like read but runs no KDF: it fails the same way, except on a passphrase
	 */
	bool sealed;
	assert_int_equal(pl_keyfile_is_sealed(path, &sealed), code == PL_ERR_PASSPHRASE ? 0 : code);
	uint8_t pk[PL_PK_BYTES];
	char label[16] = "x";
	memset(pk, 0xaa, sizeof(pk));
	rc = pl_keyfile_public(path, pk, label, sizeof(label));
	assert_int_equal(rc, code == PL_ERR_PASSPHRASE ? 0 : code);
	if (rc) {
		assert_true(all_zero(pk, sizeof(pk)));
		assert_string_equal(label, "");
	}
}

static void test_keyfile_rejects_damaged_files(void **state)
{
	char good[4200], path[4200];
	path_in_tmp(good, sizeof(good), "good.key");
	path_in_tmp(path, sizeof(path), "damaged.key");
	pl_keypair kp;
	assert_int_equal(pl_key_generate(&kp), 0);
	assert_int_equal(pl_keyfile_write(good, &kp, "node", NULL, PL_KEYFILE_PLAIN), 0);
	char text[4096], t[4200];
	size_t len = read_raw(good, text, sizeof(text));
	const char *line2 = strchr(text, '\n') + 1;
	size_t hlen = (size_t)(line2 - text);

	/* every proper prefix (truncation) fails, and does not return a key */
	for (size_t n = 0; n < len; n++) {
		write_raw(path, text, n);
		pl_keypair back;
		assert_int_not_equal(pl_keyfile_read(path, NULL, &back, NULL, 0), 0);
		assert_true(all_zero(&back, sizeof(back)));
	}
	/* truncated inside the base64 line, with its newline */
	memcpy(t, text, len - 9);
	t[len - 9] = '\n';
	write_raw(path, t, len - 8);
	expect_read_fails(path, PL_ERR_MALFORMED);
	/* header only */
	write_raw(path, text, hlen);
	expect_read_fails(path, PL_ERR_MALFORMED);

	/* corrupted base64: a character outside the alphabet, or a space */
	memcpy(t, text, len);
	t[hlen + 10] = '!';
	write_raw(path, t, len);
	expect_read_fails(path, PL_ERR_MALFORMED);
	t[hlen + 10] = ' ';
	write_raw(path, t, len);
	expect_read_fails(path, PL_ERR_MALFORMED);

	/* data after the key; CRLF line ends */
	memcpy(t, text, len);
	memcpy(t + len, "x\n", 2);
	write_raw(path, t, len + 2);
	expect_read_fails(path, PL_ERR_MALFORMED);
	memcpy(t, text, len - 1);
	memcpy(t + len - 1, "\r\n", 2);
	write_raw(path, t, len + 1);
	expect_read_fails(path, PL_ERR_MALFORMED);

	/* wrong magic */
	memcpy(t, text, len);
	t[8] = 'z';
	write_raw(path, t, len);
	expect_read_fails(path, PL_ERR_TYPE);
	const char *ssh = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDummy user@host\n";
	write_raw(path, ssh, strlen(ssh));
	expect_read_fails(path, PL_ERR_TYPE);
	write_raw(path, "", 0);
	expect_read_fails(path, PL_ERR_TYPE);

	/* unknown version */
	memcpy(t, text, len);
	t[12] = '2'; /* "parley-key v2 plain node" */
	write_raw(path, t, len);
	expect_read_fails(path, PL_ERR_VERSION);
	assert_non_null(strstr(pl_err_detail(), "v2"));
	int n = snprintf(t, sizeof(t), "parley-key v10 plain node\n%s", line2);
	write_raw(path, t, (size_t)n);
	expect_read_fails(path, PL_ERR_VERSION);

	/* unknown kind; bad labels */
	static const char *headers[] = {
	    "parley-key v1 sealed2 node",
	    "parley-key v1 plain",
	    "parley-key v1 plain ",
	    "parley-key v1 plain two words",
	    "parley-key v1 plain caf\xc3\xa9",
	    "parley-key v1  plain node",
	};
	for (size_t i = 0; i < sizeof(headers) / sizeof(headers[0]); i++) {
		n = snprintf(t, sizeof(t), "%s\n%s", headers[i], line2);
		write_raw(path, t, (size_t)n);
		expect_read_fails(path, PL_ERR_MALFORMED);
	}

	/* body of the wrong length: one byte short, and a plain body under "sealed" */
	uint8_t body[256];
	size_t bl = body_of(text, body, sizeof(body));
	assert_int_equal(bl, 64);
	write_keyfile_text(path, "parley-key v1 plain node", body, 63);
	expect_read_fails(path, PL_ERR_MALFORMED);
	write_keyfile_text(path, "parley-key v1 sealed node", body, 64);
	expect_read_fails(path, PL_ERR_MALFORMED);

	/* a file bigger than any key file */
	char big[5000];
	memset(big, 'A', sizeof(big));
	memcpy(big, text, len);
	write_raw(path, big, sizeof(big));
	expect_read_fails(path, PL_ERR_LIMIT);

	/* not there; a folder */
	path_in_tmp(path, sizeof(path), "missing.key");
	expect_read_fails(path, PL_ERR_NOT_FOUND);
	expect_read_fails(tmpdir, PL_ERR_IO);
	pl_key_wipe(&kp);
}

/* A sealed body with the given KDF limits (the rest is valid-looking). */
static void write_sealed_with_limits(const char *path, uint64_t ops, uint64_t mem)
{
	uint8_t body[136];
	pl_random(body, sizeof(body));
	for (int i = 0; i < 8; i++) {
		body[32 + i] = (uint8_t)(ops >> (56 - 8 * i));
		body[40 + i] = (uint8_t)(mem >> (56 - 8 * i));
	}
	write_keyfile_text(path, "parley-key v1 sealed hostile", body, sizeof(body));
}

/*
 * A hostile file cannot make us run a huge KDF: the limits are refused
 * before any key derivation.  Were the KDF run, the (random) box would
 * fail to open and the result would be PL_ERR_PASSPHRASE, not these codes.
 */
static void test_keyfile_rejects_absurd_kdf_limits(void **state)
{
	char path[4200];
	path_in_tmp(path, sizeof(path), "hostile.key");
	const uint64_t ops_ok = 2, mem_ok = 64u << 20;

	write_sealed_with_limits(path, (uint64_t)1 << 40, mem_ok);
	expect_read_fails(path, PL_ERR_LIMIT);
	write_sealed_with_limits(path, 5, mem_ok); /* SENSITIVE + 1 */
	expect_read_fails(path, PL_ERR_LIMIT);
	write_sealed_with_limits(path, ops_ok, (uint64_t)1 << 40);
	expect_read_fails(path, PL_ERR_LIMIT);
	write_sealed_with_limits(path, ops_ok, ((uint64_t)1 << 30) + 1024);
	expect_read_fails(path, PL_ERR_LIMIT);
	write_sealed_with_limits(path, UINT64_MAX, UINT64_MAX);
	expect_read_fails(path, PL_ERR_LIMIT);
	write_sealed_with_limits(path, 0, mem_ok);
	expect_read_fails(path, PL_ERR_MALFORMED);
	write_sealed_with_limits(path, ops_ok, 0);
	expect_read_fails(path, PL_ERR_MALFORMED);
	write_sealed_with_limits(path, ops_ok, 8191);
	expect_read_fails(path, PL_ERR_MALFORMED);

	/* sane limits do reach the KDF: the random box then fails to open */
	write_sealed_with_limits(path, 1, 8192);
	expect_read_fails(path, PL_ERR_PASSPHRASE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ed25519_rfc8032_test1),
	    cmocka_unit_test(test_ed25519_rfc8032_test2),
	    cmocka_unit_test(test_verify_rejects_tampering),
	    cmocka_unit_test(test_verify_rejects_noncanonical_and_small_order),
	    cmocka_unit_test(test_key_generate_and_id),
	    cmocka_unit_test(test_sha256_vectors),
	    cmocka_unit_test(test_sha256_incremental),
	    cmocka_unit_test(test_ct_equal_wipe_random),
	    cmocka_unit_test(test_b64_vectors_and_roundtrip),
	    cmocka_unit_test(test_b64_rejects),
	    cmocka_unit_test(test_hex),
	    cmocka_unit_test(test_fingerprint_known_answers),
	    cmocka_unit_test(test_fingerprint_format_and_sensitivity),
	    cmocka_unit_test(test_fingerprint_check),
	    cmocka_unit_test(test_keyfile_sealed_roundtrip),
	    cmocka_unit_test(test_keyfile_plain_roundtrip),
	    cmocka_unit_test(test_keyfile_write_arguments),
	    cmocka_unit_test(test_keyfile_no_overwrite_without_force),
	    cmocka_unit_test(test_keyfile_rejects_damaged_files),
	    cmocka_unit_test(test_keyfile_rejects_absurd_kdf_limits),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
