/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Key files: one Ed25519 seed per file, sealed under a passphrase or plain.
 *
 * Format, version 1 (two lines, each ending in '\n', nothing after):
 *
 *   parley-key v1 sealed <label>
 *   <standard base64, padded, of the body>
 *
 * sealed body (136 bytes):
 *   pk (32) || opslimit (u64 big-endian) || memlimit (u64 big-endian)
 *   || salt (16) || nonce (24) || crypto_secretbox_easy(seed) (32 + 16 MAC)
 * where the secretbox key (XSalsa20-Poly1305) is
 *   crypto_pwhash(Argon2id v1.3, passphrase, salt, opslimit, memlimit).
 * plain body (64 bytes), header word "plain" instead of "sealed":
 *   pk (32) || seed (32)
 *
 * The label is 1..63 printable ASCII characters without spaces.  The public
 * key is in the clear so it can be shown without the passphrase; on read it
 * must equal the key derived from the seed.  Because a hostile file chooses
 * its own KDF limits, reading refuses limits above libsodium's SENSITIVE
 * level (4 passes, 1 GiB) instead of running them.
 *
 * This module reads and writes the files; it does not prompt for
 * passphrases, choose paths, or decide which keys exist.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "parley/crypto.h"
#include "parley/err.h"
#include "parley/file.h"

#define KF_MAX_FILE  4096
#define KF_LABEL_MAX 63
#define KF_MAGIC     "parley-key "
#define KF_VERSION   "v1"
#define KF_MODE      0600

#define KF_SALT_BYTES  crypto_pwhash_argon2id_SALTBYTES
#define KF_NONCE_BYTES crypto_secretbox_NONCEBYTES
#define KF_BOX_BYTES   (PL_SEED_BYTES + crypto_secretbox_MACBYTES)

/* Offsets in the sealed body. */
#define KF_OFF_PK     0
#define KF_OFF_OPS    (KF_OFF_PK + PL_PK_BYTES)
#define KF_OFF_MEM    (KF_OFF_OPS + 8)
#define KF_OFF_SALT   (KF_OFF_MEM + 8)
#define KF_OFF_NONCE  (KF_OFF_SALT + KF_SALT_BYTES)
#define KF_OFF_BOX    (KF_OFF_NONCE + KF_NONCE_BYTES)
#define KF_SEALED_LEN (KF_OFF_BOX + KF_BOX_BYTES)
/* Offsets in the plain body. */
#define KF_OFF_SEED  PL_PK_BYTES
#define KF_PLAIN_LEN (PL_PK_BYTES + PL_SEED_BYTES)

/* Longest file we write: header line, base64 line. */
#define KF_TEXT_MAX                                                                                \
	(sizeof(KF_MAGIC KF_VERSION " sealed ") + KF_LABEL_MAX + 1 +                               \
	 4 * ((KF_SEALED_LEN + 2) / 3) + 2)

_Static_assert(KF_SEALED_LEN == 136, "sealed key file body layout");
_Static_assert(crypto_secretbox_KEYBYTES == 32, "secretbox key size");
_Static_assert(KF_TEXT_MAX <= KF_MAX_FILE, "a written key file must be readable");

/* A parsed key file.  body may hold the plain seed: wipe with kf_wipe(). */
struct keyfile {
	bool sealed;
	char label[KF_LABEL_MAX + 1];
	uint8_t body[KF_SEALED_LEN];
	uint64_t opslimit;
	uint64_t memlimit;
};

static void kf_wipe(struct keyfile *kf)
{
	sodium_memzero(kf, sizeof(*kf));
}

/* ------------------------------------------------------------ helpers */

static bool kf_label_ok(const char *s, size_t n)
{
	if (n < 1 || n > KF_LABEL_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
			return false;
	return true;
}

static void put_u64be(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

static uint64_t get_u64be(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return v;
}

/* Derive the secretbox key; the limits have been checked by the caller. */
static int kf_derive(uint8_t key[crypto_secretbox_KEYBYTES], const char *passphrase,
		     const uint8_t salt[KF_SALT_BYTES], uint64_t opslimit, uint64_t memlimit)
{
	if (crypto_pwhash(key, crypto_secretbox_KEYBYTES, passphrase, strlen(passphrase), salt,
			  (unsigned long long)opslimit, (size_t)memlimit,
			  crypto_pwhash_ALG_ARGON2ID13) != 0)
		return pl_err_fail(PL_ERR_NOMEM,
				   "passphrase key derivation (Argon2id, %llu MiB) failed: "
				   "not enough memory?",
				   (unsigned long long)(memlimit >> 20));
	return 0;
}

/* Find c in [p, end); NULL when absent. */
static const char *kf_find(const char *p, const char *end, char c)
{
	return memchr(p, c, (size_t)(end - p));
}

/* ------------------------------------------------------------ parsing */

static int kf_check_limits(const char *path, struct keyfile *kf)
{
	kf->opslimit = get_u64be(kf->body + KF_OFF_OPS);
	kf->memlimit = get_u64be(kf->body + KF_OFF_MEM);
	if (kf->opslimit < crypto_pwhash_argon2id_OPSLIMIT_MIN)
		return pl_err_fail(PL_ERR_MALFORMED, "%s: KDF pass count %llu is below the minimum",
				   path, (unsigned long long)kf->opslimit);
	if (kf->memlimit < crypto_pwhash_argon2id_MEMLIMIT_MIN)
		return pl_err_fail(PL_ERR_MALFORMED,
				   "%s: KDF memory %llu bytes is below the minimum", path,
				   (unsigned long long)kf->memlimit);
	if (kf->opslimit > crypto_pwhash_argon2id_OPSLIMIT_SENSITIVE)
		return pl_err_fail(PL_ERR_LIMIT, "%s: KDF pass count %llu is above the maximum %u",
				   path, (unsigned long long)kf->opslimit,
				   crypto_pwhash_argon2id_OPSLIMIT_SENSITIVE);
	if (kf->memlimit > crypto_pwhash_argon2id_MEMLIMIT_SENSITIVE)
		return pl_err_fail(
		    PL_ERR_LIMIT, "%s: KDF memory %llu bytes is above the maximum %u", path,
		    (unsigned long long)kf->memlimit, crypto_pwhash_argon2id_MEMLIMIT_SENSITIVE);
	return 0;
}

/* Parse the whole text of a key file into kf (everything but the KDF). */
static int kf_parse(const char *path, const char *text, size_t len, struct keyfile *kf)
{
	const char *end = text + len;
	size_t mlen = strlen(KF_MAGIC);
	if (len < mlen || memcmp(text, KF_MAGIC, mlen) != 0)
		return pl_err_fail(PL_ERR_TYPE, "%s: not a parley key file", path);

	/* version */
	const char *p = text + mlen;
	const char *nl = kf_find(p, end, '\n');
	if (!nl)
		return pl_err_fail(PL_ERR_MALFORMED, "%s: truncated key file (no first line)",
				   path);
	const char *sp = kf_find(p, nl, ' ');
	const char *vend = sp ? sp : nl;
	size_t vlen = (size_t)(vend - p);
	if (vlen != strlen(KF_VERSION) || memcmp(p, KF_VERSION, vlen) != 0) {
		if (vlen <= 16 && kf_label_ok(p, vlen))
			return pl_err_fail(PL_ERR_VERSION,
					   "%s: key file version '%.*s' is not supported (this "
					   "program reads " KF_VERSION ")",
					   path, (int)vlen, p);
		return pl_err_fail(PL_ERR_VERSION, "%s: unsupported key file version", path);
	}
	if (!sp)
		return pl_err_fail(PL_ERR_MALFORMED, "%s: first line lacks kind and label", path);

	/* kind */
	p = sp + 1;
	sp = kf_find(p, nl, ' ');
	if (!sp)
		return pl_err_fail(PL_ERR_MALFORMED, "%s: first line lacks a label", path);
	size_t klen = (size_t)(sp - p);
	if (klen == 6 && memcmp(p, "sealed", 6) == 0)
		kf->sealed = true;
	else if (klen == 5 && memcmp(p, "plain", 5) == 0)
		kf->sealed = false;
	else
		return pl_err_fail(PL_ERR_MALFORMED,
				   "%s: key file kind is neither sealed nor plain", path);

	/* label */
	p = sp + 1;
	size_t llen = (size_t)(nl - p);
	if (!kf_label_ok(p, llen))
		return pl_err_fail(PL_ERR_MALFORMED,
				   "%s: key label must be 1 to %d printable characters without "
				   "spaces",
				   path, KF_LABEL_MAX);
	memcpy(kf->label, p, llen);
	kf->label[llen] = '\0';

	/* body */
	p = nl + 1;
	nl = kf_find(p, end, '\n');
	if (!nl)
		return pl_err_fail(PL_ERR_MALFORMED, "%s: truncated key file (no end of line)",
				   path);
	if (nl + 1 != end)
		return pl_err_fail(PL_ERR_MALFORMED, "%s: unexpected data after the key", path);
	size_t want = kf->sealed ? KF_SEALED_LEN : KF_PLAIN_LEN;
	size_t got = 0;
	if (pl_b64_decode(kf->body, sizeof(kf->body), &got, p, (size_t)(nl - p)) != 0)
		return pl_err_fail(PL_ERR_MALFORMED, "%s: key is not valid base64", path);
	if (got != want)
		return pl_err_fail(PL_ERR_MALFORMED,
				   "%s: key has %zu bytes, expected %zu (truncated?)", path, got,
				   want);
	return kf->sealed ? kf_check_limits(path, kf) : 0;
}

/* Read and parse path; on failure kf is wiped. */
static int kf_load(const char *path, struct keyfile *kf)
{
	uint8_t *data = NULL;
	size_t len = 0;
	kf_wipe(kf);
	int rc = pl_file_read(path, KF_MAX_FILE, &data, &len);
	if (rc)
		return rc;
	rc = kf_parse(path, (const char *)data, len, kf);
	sodium_memzero(data, len + 1);
	free(data);
	if (rc)
		kf_wipe(kf);
	return rc;
}

/* Copy at most cap-1 bytes of the label and a NUL; nothing when cap is 0. */
static void kf_copy_label(char *label, size_t cap, const struct keyfile *kf)
{
	if (!label || !cap)
		return;
	size_t n = strlen(kf->label);
	if (n > cap - 1)
		n = cap - 1;
	memcpy(label, kf->label, n);
	label[n] = '\0';
}

/* ------------------------------------------------------------ public API */

int pl_keyfile_write(const char *path, const pl_keypair *kp, const char *label,
		     const char *passphrase, unsigned flags)
{
	const unsigned known = PL_KEYFILE_FORCE | PL_KEYFILE_PLAIN | PL_KEYFILE_FAST_KDF;
	if (!path || !kp || !label)
		return pl_err_fail(PL_ERR_INVALID, "keyfile: NULL argument");
	if (flags & ~known)
		return pl_err_fail(PL_ERR_INVALID, "keyfile: unknown flags 0x%x", flags & ~known);
	if (!kf_label_ok(label, strlen(label)))
		return pl_err_fail(PL_ERR_INVALID,
				   "key label must be 1 to %d printable characters without spaces",
				   KF_LABEL_MAX);
	bool sealed = !(flags & PL_KEYFILE_PLAIN);
	if (sealed && (!passphrase || !*passphrase))
		return pl_err_fail(PL_ERR_INVALID,
				   "a sealed key file needs a non-empty passphrase");
	if (!sealed && passphrase && *passphrase)
		return pl_err_fail(PL_ERR_INVALID, "a plain key file takes no passphrase");
	int rc = pl_crypto_init();
	if (rc)
		return rc;
	/* Fail before the (slow) key derivation; the atomic write checks again. */
	if (!(flags & PL_KEYFILE_FORCE) && access(path, F_OK) == 0)
		return pl_err_fail(PL_ERR_EXISTS, "%s already exists (use --force to replace it)",
				   path);

	uint8_t seed[PL_SEED_BYTES];
	uint8_t key[crypto_secretbox_KEYBYTES];
	uint8_t body[KF_SEALED_LEN];
	char b64[4 * ((KF_SEALED_LEN + 2) / 3) + 1];
	char text[KF_TEXT_MAX];
	pl_keypair check;
	size_t blen;

	crypto_sign_ed25519_sk_to_seed(seed, kp->sk);
	rc = pl_key_from_seed(&check, seed);
	if (rc)
		goto out;
	if (sodium_memcmp(check.pk, kp->pk, PL_PK_BYTES) != 0) {
		rc = pl_err_fail(PL_ERR_INVALID, "key pair is inconsistent (pk does not match sk)");
		goto out;
	}

	memcpy(body + KF_OFF_PK, kp->pk, PL_PK_BYTES);
	if (sealed) {
		bool fast = flags & PL_KEYFILE_FAST_KDF;
		uint64_t ops = fast ? crypto_pwhash_argon2id_OPSLIMIT_INTERACTIVE
				    : crypto_pwhash_argon2id_OPSLIMIT_MODERATE;
		uint64_t mem = fast ? crypto_pwhash_argon2id_MEMLIMIT_INTERACTIVE
				    : crypto_pwhash_argon2id_MEMLIMIT_MODERATE;
		put_u64be(body + KF_OFF_OPS, ops);
		put_u64be(body + KF_OFF_MEM, mem);
		randombytes_buf(body + KF_OFF_SALT, KF_SALT_BYTES);
		randombytes_buf(body + KF_OFF_NONCE, KF_NONCE_BYTES);
		rc = kf_derive(key, passphrase, body + KF_OFF_SALT, ops, mem);
		if (rc)
			goto out;
		if (crypto_secretbox_easy(body + KF_OFF_BOX, seed, PL_SEED_BYTES,
					  body + KF_OFF_NONCE, key) != 0) {
			rc = pl_err_fail(PL_ERR_CRYPTO, "sealing the key failed");
			goto out;
		}
		blen = KF_SEALED_LEN;
	} else {
		memcpy(body + KF_OFF_SEED, seed, PL_SEED_BYTES);
		blen = KF_PLAIN_LEN;
	}

	pl_b64_encode(b64, body, blen);
	int n = snprintf(text, sizeof(text), KF_MAGIC KF_VERSION " %s %s\n%s\n",
			 sealed ? "sealed" : "plain", label, b64);
	if (n < 0 || (size_t)n >= sizeof(text)) {
		rc = pl_err_fail(PL_ERR_INTERNAL, "key file text does not fit its buffer");
		goto out;
	}
	rc = pl_file_write_atomic(path, text, (size_t)n, KF_MODE,
				  (flags & PL_KEYFILE_FORCE) ? PL_FILE_REPLACE : 0);
out:
	sodium_memzero(seed, sizeof(seed));
	sodium_memzero(key, sizeof(key));
	sodium_memzero(body, sizeof(body));
	sodium_memzero(b64, sizeof(b64));
	sodium_memzero(text, sizeof(text));
	pl_key_wipe(&check);
	return rc;
}

int pl_keyfile_read(const char *path, const char *passphrase, pl_keypair *kp, char *label,
		    size_t labelcap)
{
	if (label && labelcap)
		label[0] = '\0';
	if (!kp)
		return pl_err_fail(PL_ERR_INVALID, "keyfile: NULL key pair");
	pl_key_wipe(kp);
	if (!path)
		return pl_err_fail(PL_ERR_INVALID, "keyfile: NULL path");
	int rc = pl_crypto_init();
	if (rc)
		return rc;

	struct keyfile kf;
	uint8_t seed[PL_SEED_BYTES];
	uint8_t key[crypto_secretbox_KEYBYTES];
	sodium_memzero(seed, sizeof(seed));
	sodium_memzero(key, sizeof(key));
	rc = kf_load(path, &kf);
	if (rc)
		goto out;

	if (kf.sealed) {
		if (!passphrase) {
			rc = pl_err_fail(PL_ERR_PASSPHRASE, "%s is sealed: a passphrase is needed",
					 path);
			goto out;
		}
		rc = kf_derive(key, passphrase, kf.body + KF_OFF_SALT, kf.opslimit, kf.memlimit);
		if (rc)
			goto out;
		if (crypto_secretbox_open_easy(seed, kf.body + KF_OFF_BOX, KF_BOX_BYTES,
					       kf.body + KF_OFF_NONCE, key) != 0) {
			rc = pl_err_fail(PL_ERR_PASSPHRASE,
					 "%s: wrong passphrase (or the file is damaged)", path);
			goto out;
		}
	} else {
		memcpy(seed, kf.body + KF_OFF_SEED, PL_SEED_BYTES);
	}

	rc = pl_key_from_seed(kp, seed);
	if (rc)
		goto out;
	if (sodium_memcmp(kp->pk, kf.body + KF_OFF_PK, PL_PK_BYTES) != 0) {
		rc = pl_err_fail(PL_ERR_PASSPHRASE,
				 "%s is damaged: its public key does not match its secret key",
				 path);
		goto out;
	}
	kf_copy_label(label, labelcap, &kf);
out:
	if (rc)
		pl_key_wipe(kp);
	kf_wipe(&kf);
	sodium_memzero(seed, sizeof(seed));
	sodium_memzero(key, sizeof(key));
	return rc;
}

int pl_keyfile_public(const char *path, uint8_t pk[PL_PK_BYTES], char *label, size_t labelcap)
{
	if (label && labelcap)
		label[0] = '\0';
	if (!path || !pk)
		return pl_err_fail(PL_ERR_INVALID, "keyfile: NULL argument");
	memset(pk, 0, PL_PK_BYTES);
	int rc = pl_crypto_init();
	if (rc)
		return rc;
	struct keyfile kf;
	rc = kf_load(path, &kf);
	if (rc == 0) {
		memcpy(pk, kf.body + KF_OFF_PK, PL_PK_BYTES);
		kf_copy_label(label, labelcap, &kf);
	}
	kf_wipe(&kf);
	return rc;
}

int pl_keyfile_is_sealed(const char *path, bool *sealed)
{
	if (!path || !sealed)
		return pl_err_fail(PL_ERR_INVALID, "keyfile: NULL argument");
	*sealed = false;
	int rc = pl_crypto_init();
	if (rc)
		return rc;
	struct keyfile kf;
	rc = kf_load(path, &kf);
	if (rc == 0)
		*sealed = kf.sealed;
	kf_wipe(&kf);
	return rc;
}
