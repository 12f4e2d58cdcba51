/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for lib/crypto/minisign.c: sign/verify round trips, every
 * tampering (message, trusted comment, global signature, key number),
 * strict parsing of both file formats, a fixed vector made by the stock
 * minisign 0.11 (verified here without the tool), and, when `minisign` is
 * on PATH, interoperability both ways in a fresh folder under
 * $PARLEY_TEST_TMP (or /tmp).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "parley/crypto.h"
#include "parley/err.h"
#include "parley/file.h"
#include "parley/minisign.h"

extern char **environ;

/* ------------------------------------------------------------ helpers */

static char tmpdir[4096];

static void path_in_tmp(char *out, size_t cap, const char *name)
{
	int n = snprintf(out, cap, "%s/%s", tmpdir, name);
	assert_true(n > 0 && (size_t)n < cap);
}

static void write_file(const char *name, const void *data, size_t len)
{
	char p[4200];
	path_in_tmp(p, sizeof(p), name);
	assert_int_equal(pl_file_write_atomic(p, data, len, 0644, PL_FILE_REPLACE), 0);
}

static char *read_tmp(const char *name, size_t *len)
{
	char p[4200];
	uint8_t *buf = NULL;
	path_in_tmp(p, sizeof(p), name);
	assert_int_equal(pl_file_read(p, 1 << 20, &buf, len), 0);
	return (char *)buf;
}

/* Is a program on PATH? */
static bool have_program(const char *name)
{
	const char *path = getenv("PATH");
	if (!path)
		return false;
	char dir[4096];
	while (*path) {
		size_t n = strcspn(path, ":");
		if (n > 0 && n < sizeof(dir) - 64) {
			memcpy(dir, path, n);
			dir[n] = '\0';
			char full[4200];
			snprintf(full, sizeof(full), "%s/%s", dir, name);
			if (access(full, X_OK) == 0)
				return true;
		}
		path += n;
		if (*path == ':')
			path++;
	}
	return false;
}

/* Run argv (from PATH) in tmpdir with stdin, stdout and stderr on /dev/null;
 * its exit status, or -1. */
static int run(char *const argv[])
{
	posix_spawn_file_actions_t fa;
	assert_int_equal(posix_spawn_file_actions_init(&fa), 0);
	assert_int_equal(posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0), 0);
	assert_int_equal(posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0), 0);
	assert_int_equal(posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0), 0);
	pid_t pid;
	int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc != 0)
		return -1;
	int st = 0;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int group_setup(void **state)
{
	const char *base = getenv("PARLEY_TEST_TMP");
	if (!base || !*base)
		base = "/tmp";
	if (mkdir(base, 0700) != 0 && errno != EEXIST)
		return -1;
	int n = snprintf(tmpdir, sizeof(tmpdir), "%s/test_minisign.XXXXXX", base);
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

static void test_key(pl_keypair *kp, uint8_t fill)
{
	uint8_t seed[PL_SEED_BYTES];
	memset(seed, fill, sizeof(seed));
	assert_int_equal(pl_key_from_seed(kp, seed), 0);
}

static const char msg[] = "Joint statement of the two ministries.\n";
#define MSG_LEN (sizeof(msg) - 1)

/* ------------------------------------------------------------ vector from stock minisign */

/* Made with minisign 0.11: `minisign -G -W`, then `minisign -S -t 'parley
 * test vector'` over msg, and `minisign -S -l -t legacy` for the legacy one. */
static const char stock_pub[] = "untrusted comment: minisign public key 9F8E6448835400EB\n"
				"RWTrAFSDSGSOn42BmdCt5bP7AUL0mXYra8mJt1kTP9mfwhLLmvAHPN/7\n";
static const char stock_sig[] =
    "untrusted comment: signature from minisign secret key\n"
    "RUTrAFSDSGSOnwHaVuhjxW9lMCJMjV+IVAxq5t7fxb+LG83dD16suoxth4LZFzoYrPx+"
    "zw6gqPoXb2dUOL7STmSUd5cIvM9"
    "ipQ8=\n"
    "trusted comment: parley test vector\n"
    "5azvXAd2DTrn5JHOwmm8Zt6xknkg3bYO7wF6Ifp9keYW0o07nCG3njsCEiAO+Y43PbvFgpSdu9Q3s5jNZpP5CA==\n";
static const char stock_legacy[] =
    "untrusted comment: signature from minisign secret key\n"
    "RWTrAFSDSGSOnxVqSUbVdU1+8ciqcoAOc8slA9KMVDAtHD7/UwRdHpC28TuaoSf+Jnfh70m7v0EBg/yHaEXPbwQH/"
    "062lPu"
    "oUwQ=\n"
    "trusted comment: legacy\n"
    "o0yExsKCrobPZEZqs7wv43XnB6rvotJsf6SfmO5TM6EQflu4jvced2WKdAoaMxOPq5lLh0YR7w56ENjXRTqnBg==\n";

static void test_stock_vector(void **state)
{
	pl_minisign_pk pk;
	pl_minisign_sig sig;
	assert_int_equal(pl_minisign_pk_parse(stock_pub, strlen(stock_pub), &pk), 0);
	char id[PL_MINISIGN_KEYID_LEN];
	pl_minisign_keyid_hex(id, pk.keynum);
	assert_string_equal(id, "9F8E6448835400EB");
	assert_int_equal(pl_minisign_sig_parse(stock_sig, strlen(stock_sig), &sig), 0);
	assert_string_equal(sig.untrusted, "signature from minisign secret key");
	assert_string_equal(sig.trusted, "parley test vector");
	assert_int_equal(pl_minisign_verify_sig(&pk, (const uint8_t *)msg, MSG_LEN, &sig), 0);
	/* one byte of the message changed */
	char bad[sizeof(msg)];
	memcpy(bad, msg, sizeof(msg));
	bad[0] = 'j';
	assert_int_equal(pl_minisign_verify_sig(&pk, (const uint8_t *)bad, MSG_LEN, &sig),
			 PL_ERR_BAD_SIGNATURE);
	/* our formatter writes the key file byte for byte as minisign does */
	char *text = NULL;
	size_t len = 0;
	assert_int_equal(pl_minisign_pk_format(&pk, &text, &len), 0);
	assert_int_equal(len, strlen(stock_pub));
	assert_string_equal(text, stock_pub);
	free(text);
	assert_int_equal(pl_minisign_sig_format(&sig, &text, &len), 0);
	assert_string_equal(text, stock_sig);
	free(text);
	/* legacy "Ed" signatures are refused, by the parser and by the verifier */
	assert_int_equal(pl_minisign_sig_parse(stock_legacy, strlen(stock_legacy), &sig),
			 PL_ERR_VERSION);
	assert_non_null(strstr(pl_err_detail(), "legacy"));
	uint8_t blob[PL_MINISIGN_SIG_BLOB_BYTES], gsig[PL_SIG_BYTES];
	size_t got = 0;
	const char *l2 = strchr(stock_legacy, '\n') + 1;
	assert_int_equal(pl_b64_decode(blob, sizeof(blob), &got, l2, strcspn(l2, "\n")), 0);
	memset(gsig, 0, sizeof(gsig));
	assert_int_equal(
	    pl_minisign_verify(&pk, (const uint8_t *)msg, MSG_LEN, blob, "legacy", gsig),
	    PL_ERR_VERSION);
}

/* ------------------------------------------------------------ sign / verify */

static void test_round_trip(void **state)
{
	pl_keypair kp;
	test_key(&kp, 7);
	pl_minisign_pk pk;
	pl_minisign_pk_from_key(&pk, kp.pk);
	uint8_t kid[PL_KEYID_BYTES];
	pl_key_id(kid, kp.pk);
	assert_memory_equal(pk.keynum, kid, PL_KEYID_BYTES);
	uint8_t blob[PL_MINISIGN_SIG_BLOB_BYTES], gsig[PL_SIG_BYTES];
	const char *tc = "parley statement s1 v=1 state=tehran signer=fm sha256=00";
	assert_int_equal(pl_minisign_sign(blob, gsig, (const uint8_t *)msg, MSG_LEN, tc, &kp), 0);
	assert_memory_equal(blob, "ED", 2);
	assert_memory_equal(blob + 2, kid, PL_KEYID_BYTES);
	assert_int_equal(pl_minisign_verify(&pk, (const uint8_t *)msg, MSG_LEN, blob, tc, gsig), 0);
	/* deterministic */
	uint8_t blob2[PL_MINISIGN_SIG_BLOB_BYTES], gsig2[PL_SIG_BYTES];
	assert_int_equal(pl_minisign_sign(blob2, gsig2, (const uint8_t *)msg, MSG_LEN, tc, &kp), 0);
	assert_memory_equal(blob, blob2, sizeof(blob));
	assert_memory_equal(gsig, gsig2, sizeof(gsig));
	/* an empty message signs and verifies too */
	assert_int_equal(pl_minisign_sign(blob2, gsig2, (const uint8_t *)"", 0, tc, &kp), 0);
	assert_int_equal(pl_minisign_verify(&pk, (const uint8_t *)"", 0, blob2, tc, gsig2), 0);
	/* an invalid trusted comment is refused, outputs zeroed */
	assert_int_equal(pl_minisign_sign(blob2, gsig2, (const uint8_t *)msg, MSG_LEN, "a\nb", &kp),
			 PL_ERR_INVALID);
	uint8_t zero[PL_MINISIGN_SIG_BLOB_BYTES] = {0};
	assert_memory_equal(blob2, zero, sizeof(zero));
	pl_key_wipe(&kp);
}

static void test_tamper(void **state)
{
	pl_keypair kp, other;
	test_key(&kp, 7);
	test_key(&other, 8);
	pl_minisign_pk pk;
	pl_minisign_pk_from_key(&pk, kp.pk);
	uint8_t blob[PL_MINISIGN_SIG_BLOB_BYTES], gsig[PL_SIG_BYTES], b[PL_MINISIGN_SIG_BLOB_BYTES],
	    g[PL_SIG_BYTES];
	const char *tc = "trusted";
	assert_int_equal(pl_minisign_sign(blob, gsig, (const uint8_t *)msg, MSG_LEN, tc, &kp), 0);
	/* message: every position of a one-byte change fails */
	char m[sizeof(msg)];
	for (size_t i = 0; i < MSG_LEN; i += 7) {
		memcpy(m, msg, sizeof(msg));
		m[i] ^= 1;
		assert_int_equal(
		    pl_minisign_verify(&pk, (const uint8_t *)m, MSG_LEN, blob, tc, gsig),
		    PL_ERR_BAD_SIGNATURE);
	}
	assert_int_equal(pl_minisign_verify(&pk, (const uint8_t *)msg, MSG_LEN - 1, blob, tc, gsig),
			 PL_ERR_BAD_SIGNATURE);
	assert_non_null(strstr(pl_err_detail(), "over the file"));
	/* trusted comment */
	assert_int_equal(
	    pl_minisign_verify(&pk, (const uint8_t *)msg, MSG_LEN, blob, "trusteD", gsig),
	    PL_ERR_BAD_SIGNATURE);
	assert_non_null(strstr(pl_err_detail(), "global signature"));
	/* global signature */
	memcpy(g, gsig, sizeof(g));
	g[10] ^= 0x40;
	assert_int_equal(pl_minisign_verify(&pk, (const uint8_t *)msg, MSG_LEN, blob, tc, g),
			 PL_ERR_BAD_SIGNATURE);
	/* signature bytes */
	memcpy(b, blob, sizeof(b));
	b[20] ^= 1;
	assert_int_equal(pl_minisign_verify(&pk, (const uint8_t *)msg, MSG_LEN, b, tc, gsig),
			 PL_ERR_BAD_SIGNATURE);
	/* key number */
	memcpy(b, blob, sizeof(b));
	b[3] ^= 1;
	assert_int_equal(pl_minisign_verify(&pk, (const uint8_t *)msg, MSG_LEN, b, tc, gsig),
			 PL_ERR_BAD_SIGNATURE);
	assert_non_null(strstr(pl_err_detail(), "signed by key"));
	/* algorithm */
	memcpy(b, blob, sizeof(b));
	b[1] = 'd';
	assert_int_equal(pl_minisign_verify(&pk, (const uint8_t *)msg, MSG_LEN, b, tc, gsig),
			 PL_ERR_VERSION);
	b[0] = 'X';
	assert_int_equal(pl_minisign_verify(&pk, (const uint8_t *)msg, MSG_LEN, b, tc, gsig),
			 PL_ERR_VERSION);
	/* another key with the right key number: the signature does not verify */
	pl_minisign_pk wrong;
	pl_minisign_pk_from_key(&wrong, other.pk);
	memcpy(wrong.keynum, pk.keynum, sizeof(wrong.keynum));
	assert_int_equal(pl_minisign_verify(&wrong, (const uint8_t *)msg, MSG_LEN, blob, tc, gsig),
			 PL_ERR_BAD_SIGNATURE);
	/* a signature by another key under our key number */
	assert_int_equal(pl_minisign_sign(b, g, (const uint8_t *)msg, MSG_LEN, tc, &other), 0);
	memcpy(b + 2, pk.keynum, PL_MINISIGN_KEYNUM_BYTES);
	assert_int_equal(pl_minisign_verify(&pk, (const uint8_t *)msg, MSG_LEN, b, tc, g),
			 PL_ERR_BAD_SIGNATURE);
	pl_key_wipe(&kp);
	pl_key_wipe(&other);
}

/* ------------------------------------------------------------ strict parsing */

static void expect_pk_refused(const char *text, int code, const char *detail)
{
	pl_minisign_pk pk;
	memset(&pk, 0xaa, sizeof(pk));
	int rc = pl_minisign_pk_parse(text, strlen(text), &pk);
	if (rc != code)
		fail_msg("public key %s: got %d (%s), want %d", text, rc, pl_err_detail(), code);
	if (detail && !strstr(pl_err_detail(), detail))
		fail_msg("detail '%s' lacks '%s'", pl_err_detail(), detail);
	pl_minisign_pk zero;
	memset(&zero, 0, sizeof(zero));
	assert_memory_equal(&pk, &zero, sizeof(pk));
}

static void test_parse_pk(void **state)
{
	const char *l2 = "RWTrAFSDSGSOn42BmdCt5bP7AUL0mXYra8mJt1kTP9mfwhLLmvAHPN/7\n";
	char buf[512];
	pl_minisign_pk pk;
	/* any untrusted comment is fine */
	snprintf(buf, sizeof(buf), "untrusted comment: anything at all\t\n%s", l2);
	assert_int_equal(pl_minisign_pk_parse(buf, strlen(buf), &pk), 0);
	expect_pk_refused("", PL_ERR_MALFORMED, "line 1 is missing");
	snprintf(buf, sizeof(buf), "untrusted comment: x\n");
	expect_pk_refused(buf, PL_ERR_MALFORMED, "line 2 is missing");
	snprintf(buf, sizeof(buf), "comment: x\n%s", l2);
	expect_pk_refused(buf, PL_ERR_MALFORMED, "does not start with");
	snprintf(buf, sizeof(buf), "untrusted comment: x\r\n%s", l2);
	expect_pk_refused(buf, PL_ERR_MALFORMED, "carriage return");
	snprintf(buf, sizeof(buf), "untrusted comment: x\n%.56s", l2); /* no final newline */
	expect_pk_refused(buf, PL_ERR_MALFORMED, "newline");
	snprintf(buf, sizeof(buf), "untrusted comment: x\n%sextra\n", l2);
	expect_pk_refused(buf, PL_ERR_MALFORMED, "after the last line");
	snprintf(buf, sizeof(buf), "untrusted comment: x\n!%s", l2 + 1); /* bad base64 */
	expect_pk_refused(buf, PL_ERR_MALFORMED, "base64");
	snprintf(buf, sizeof(buf), "untrusted comment: x\n%.52s\n", l2); /* short */
	expect_pk_refused(buf, PL_ERR_MALFORMED, "base64");
	/* not "Ed": base64 of "ED" || 40 bytes */
	uint8_t blob[PL_MINISIGN_PK_BLOB_BYTES] = {'E', 'D'};
	char b64[128];
	pl_b64_encode(b64, blob, sizeof(blob));
	snprintf(buf, sizeof(buf), "untrusted comment: x\n%s\n", b64);
	expect_pk_refused(buf, PL_ERR_VERSION, "Ed25519");
	/* invalid UTF-8 and control characters in the comment */
	snprintf(buf, sizeof(buf), "untrusted comment: \xff\n%s", l2);
	expect_pk_refused(buf, PL_ERR_MALFORMED, "UTF-8");
	snprintf(buf, sizeof(buf), "untrusted comment: a\x01\n%s", l2);
	expect_pk_refused(buf, PL_ERR_MALFORMED, "control");
	/* an over-long comment */
	char *big = malloc(2048 + 100);
	assert_non_null(big);
	memcpy(big, "untrusted comment: ", 19);
	memset(big + 19, 'a', 2000);
	snprintf(big + 2019, 100, "\n%s", l2);
	expect_pk_refused(big, PL_ERR_LIMIT, NULL);
	free(big);
}

static void expect_sig_refused(const char *text, int code, const char *detail)
{
	pl_minisign_sig sig;
	int rc = pl_minisign_sig_parse(text, strlen(text), &sig);
	if (rc != code)
		fail_msg("signature: got %d (%s), want %d", rc, pl_err_detail(), code);
	if (detail && !strstr(pl_err_detail(), detail))
		fail_msg("detail '%s' lacks '%s'", pl_err_detail(), detail);
}

/* stock_sig with line `line` (1..4) replaced by repl (without newline),
 * or removed when repl is NULL. */
static void sig_with_line(char *out, size_t cap, int line, const char *repl)
{
	const char *p = stock_sig;
	size_t pos = 0;
	for (int i = 1; i <= 4; i++) {
		size_t n = strcspn(p, "\n");
		const char *src = i == line ? repl : p;
		size_t sn = i == line ? (repl ? strlen(repl) : 0) : n;
		if (src) {
			assert_true(pos + sn + 2 < cap);
			memcpy(out + pos, src, sn);
			pos += sn;
			out[pos++] = '\n';
		}
		p += n + 1;
	}
	out[pos] = '\0';
}

static void test_parse_sig(void **state)
{
	char buf[1024];
	pl_minisign_sig sig;
	sig_with_line(buf, sizeof(buf), 0, NULL);
	assert_string_equal(buf, stock_sig);
	assert_int_equal(pl_minisign_sig_parse(buf, strlen(buf), &sig), 0);
	/* missing lines */
	for (int l = 1; l <= 4; l++) {
		sig_with_line(buf, sizeof(buf), l, NULL);
		expect_sig_refused(buf, PL_ERR_MALFORMED, NULL);
	}
	size_t n = strlen(stock_sig);
	expect_sig_refused("", PL_ERR_MALFORMED, "line 1 is missing");
	memcpy(buf, stock_sig, n + 1);
	buf[n - 1] = '\0'; /* no final newline */
	expect_sig_refused(buf, PL_ERR_MALFORMED, "line 4 does not end with a newline");
	memcpy(buf, stock_sig, n + 1);
	memcpy(buf + n, "x\n", 3);
	expect_sig_refused(buf, PL_ERR_MALFORMED, "after the last line");
	sig_with_line(buf, sizeof(buf), 1, "untrusted comment; x");
	expect_sig_refused(buf, PL_ERR_MALFORMED, "line 1 does not start");
	sig_with_line(buf, sizeof(buf), 3, "Trusted comment: x");
	expect_sig_refused(buf, PL_ERR_MALFORMED, "line 3 does not start");
	sig_with_line(buf, sizeof(buf), 3, "trusted comment: bell\a");
	expect_sig_refused(buf, PL_ERR_MALFORMED, "control");
	/* bad base64: a character, padding removed, one character short */
	sig_with_line(
	    buf, sizeof(buf), 2,
	    "RUTrAFSDSGSOnwHaVuhjxW9lMCJMjV+IVAxq5t7fxb+LG83dD16suoxth4LZFzoYrPx+zw6gqPoXb2"
	    "dUOL7STmSUd5cIvM9ipQ8*");
	expect_sig_refused(buf, PL_ERR_MALFORMED, "line 2 is not the base64 of 74 bytes");
	sig_with_line(
	    buf, sizeof(buf), 2,
	    "RUTrAFSDSGSOnwHaVuhjxW9lMCJMjV+IVAxq5t7fxb+LG83dD16suoxth4LZFzoYrPx+zw6gqPoXb2"
	    "dUOL7STmSUd5cIvM9ipQ8");
	expect_sig_refused(buf, PL_ERR_MALFORMED, "line 2");
	sig_with_line(
	    buf, sizeof(buf), 4,
	    "5azvXAd2DTrn5JHOwmm8Zt6xknkg3bYO7wF6Ifp9keYW0o07nCG3njsCEiAO+Y43PbvFgpSdu9Q3s5j"
	    "NZpP5C==");
	expect_sig_refused(buf, PL_ERR_MALFORMED, "line 4 is not the base64 of 64 bytes");
	/* CRLF */
	sig_with_line(buf, sizeof(buf), 3, "trusted comment: parley test vector\r");
	expect_sig_refused(buf, PL_ERR_MALFORMED, "carriage return");
	/* unknown algorithm: "EX" */
	uint8_t blob[PL_MINISIGN_SIG_BLOB_BYTES] = {'E', 'X'};
	char b64[200];
	pl_b64_encode(b64, blob, sizeof(blob));
	sig_with_line(buf, sizeof(buf), 2, b64);
	expect_sig_refused(buf, PL_ERR_VERSION, "unknown signature algorithm");
	/* an over-long trusted comment */
	char *big = malloc(4096);
	assert_non_null(big);
	memcpy(big, "trusted comment: ", 17);
	memset(big + 17, 't', PL_MINISIGN_TC_MAX + 1);
	big[17 + PL_MINISIGN_TC_MAX + 1] = '\0';
	char *whole = malloc(8192);
	assert_non_null(whole);
	sig_with_line(whole, 8192, 3, big);
	expect_sig_refused(whole, PL_ERR_LIMIT, NULL);
	big[17 + PL_MINISIGN_TC_MAX] = '\0'; /* exactly the maximum: parses */
	sig_with_line(whole, 8192, 3, big);
	assert_int_equal(pl_minisign_sig_parse(whole, strlen(whole), &sig), 0);
	assert_int_equal(strlen(sig.trusted), PL_MINISIGN_TC_MAX);
	free(big);
	free(whole);
}

static void test_format_round_trip(void **state)
{
	pl_keypair kp;
	test_key(&kp, 9);
	pl_minisign_pk pk, pk2;
	pl_minisign_pk_from_key(&pk, kp.pk);
	char *text = NULL;
	size_t len = 0;
	assert_int_equal(pl_minisign_pk_format(&pk, &text, &len), 0);
	assert_int_equal(strlen(text), len);
	char id[PL_MINISIGN_KEYID_LEN], head[128];
	pl_minisign_keyid_hex(id, pk.keynum);
	snprintf(head, sizeof(head), "untrusted comment: minisign public key %s\nRW", id);
	assert_memory_equal(text, head, strlen(head)); /* "Ed" is "RW" in base64 */
	assert_int_equal(pl_minisign_pk_parse(text, len, &pk2), 0);
	assert_memory_equal(&pk, &pk2, sizeof(pk));
	free(text);

	pl_minisign_sig sig, sig2;
	memset(&sig, 0, sizeof(sig));
	snprintf(sig.untrusted, sizeof(sig.untrusted), "parley: a comment");
	snprintf(sig.trusted, sizeof(sig.trusted), "a trusted comment with UTF-8: \xc3\xa9");
	assert_int_equal(
	    pl_minisign_sign(sig.blob, sig.gsig, (const uint8_t *)msg, MSG_LEN, sig.trusted, &kp),
	    0);
	assert_int_equal(pl_minisign_sig_format(&sig, &text, &len), 0);
	assert_int_equal(pl_minisign_sig_parse(text, len, &sig2), 0);
	assert_memory_equal(&sig, &sig2, sizeof(sig));
	assert_int_equal(pl_minisign_verify_sig(&pk, (const uint8_t *)msg, MSG_LEN, &sig2), 0);
	free(text);
	/* a comment with a newline cannot be formatted */
	snprintf(sig.untrusted, sizeof(sig.untrusted), "two\nlines");
	assert_int_equal(pl_minisign_sig_format(&sig, &text, &len), PL_ERR_INVALID);
	assert_null(text);
	pl_key_wipe(&kp);
}

/* ------------------------------------------------------------ stock minisign */

static void test_interop_ours_to_stock(void **state)
{
	if (!have_program("minisign"))
		skip();
	pl_keypair kp;
	test_key(&kp, 11);
	pl_minisign_pk pk;
	pl_minisign_pk_from_key(&pk, kp.pk);
	pl_minisign_sig sig;
	memset(&sig, 0, sizeof(sig));
	snprintf(sig.untrusted, sizeof(sig.untrusted), "signature by parley");
	snprintf(sig.trusted, sizeof(sig.trusted),
		 "parley statement s1 v=1 state=tehran signer=fm sha256=ab");
	assert_int_equal(
	    pl_minisign_sign(sig.blob, sig.gsig, (const uint8_t *)msg, MSG_LEN, sig.trusted, &kp),
	    0);
	char *pt = NULL, *st = NULL;
	size_t pl = 0, sl = 0;
	assert_int_equal(pl_minisign_pk_format(&pk, &pt, &pl), 0);
	assert_int_equal(pl_minisign_sig_format(&sig, &st, &sl), 0);
	write_file("ours.pub", pt, pl);
	write_file("ours.minisig", st, sl);
	write_file("ours.txt", msg, MSG_LEN);
	free(pt);
	free(st);
	char pub[4200], sigp[4200], file[4200];
	path_in_tmp(pub, sizeof(pub), "ours.pub");
	path_in_tmp(sigp, sizeof(sigp), "ours.minisig");
	path_in_tmp(file, sizeof(file), "ours.txt");
	char *argv[] = {"minisign", "-V", "-p", pub, "-m", file, "-x", sigp, NULL};
	assert_int_equal(run(argv), 0);
	/* one byte changed: refused */
	char bad[sizeof(msg)];
	memcpy(bad, msg, sizeof(msg));
	bad[MSG_LEN - 2] ^= 1;
	write_file("ours.txt", bad, MSG_LEN);
	assert_int_not_equal(run(argv), 0);
	pl_key_wipe(&kp);
}

static void test_interop_stock_to_ours(void **state)
{
	if (!have_program("minisign"))
		skip();
	char pub[4200], key[4200], file[4200], sigp[4200];
	path_in_tmp(pub, sizeof(pub), "stock.pub");
	path_in_tmp(key, sizeof(key), "stock.key");
	path_in_tmp(file, sizeof(file), "stock.txt");
	path_in_tmp(sigp, sizeof(sigp), "stock.minisig");
	unlink(pub);
	unlink(key);
	char *gen[] = {"minisign", "-G", "-f", "-W", "-p", pub, "-s", key, NULL};
	assert_int_equal(run(gen), 0);
	write_file("stock.txt", msg, MSG_LEN);
	char *sign[] = {"minisign",      "-S", "-s", key, "-m", file, "-x", sigp, "-t",
			"tc from stock", NULL};
	assert_int_equal(run(sign), 0);
	size_t pl = 0, sl = 0;
	char *pt = read_tmp("stock.pub", &pl), *st = read_tmp("stock.minisig", &sl);
	pl_minisign_pk pk;
	pl_minisign_sig sig;
	assert_int_equal(pl_minisign_pk_parse(pt, pl, &pk), 0);
	assert_int_equal(pl_minisign_sig_parse(st, sl, &sig), 0);
	assert_string_equal(sig.trusted, "tc from stock");
	assert_int_equal(pl_minisign_verify_sig(&pk, (const uint8_t *)msg, MSG_LEN, &sig), 0);
	char bad[sizeof(msg)];
	memcpy(bad, msg, sizeof(msg));
	bad[3] ^= 1;
	assert_int_equal(pl_minisign_verify_sig(&pk, (const uint8_t *)bad, MSG_LEN, &sig),
			 PL_ERR_BAD_SIGNATURE);
	free(pt);
	free(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_stock_vector),
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_tamper),
	    cmocka_unit_test(test_parse_pk),
	    cmocka_unit_test(test_parse_sig),
	    cmocka_unit_test(test_format_round_trip),
	    cmocka_unit_test(test_interop_ours_to_stock),
	    cmocka_unit_test(test_interop_stock_to_ours),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
