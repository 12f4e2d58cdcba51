/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for lib/channel/statement.c: "statement" and
 * "statement-sign" bodies (round trips, exact bytes, every refusal), the
 * version chain, signing and verifying a version's text, and the adoption
 * rule.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "parley/codec.h"
#include "parley/crypto.h"
#include "parley/err.h"
#include "parley/minisign.h"
#include "parley/statement.h"

static const char text1[] = "The two ministries agree to reopen the border crossing.\n";
static const char text2[] = "The two ministries agree to reopen the border crossing at Taftan.\n";

static void test_key(pl_keypair *kp, uint8_t fill)
{
	uint8_t seed[PL_SEED_BYTES];
	memset(seed, fill, sizeof(seed));
	assert_int_equal(pl_key_from_seed(kp, seed), 0);
}

static void make_v1(pl_stmt *s)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->stmt, sizeof(s->stmt), "taftan-2026");
	s->v = 1;
	snprintf(s->title, sizeof(s->title), "Joint statement on Taftan");
	s->text = text1;
	s->text_len = strlen(text1);
}

static bool detail_has(const char *what)
{
	if (strstr(pl_err_detail(), what))
		return true;
	print_error("detail '%s' lacks '%s'\n", pl_err_detail(), what);
	return false;
}

/* ------------------------------------------------------------ bodies */

static void test_round_trip(void **state)
{
	pl_stmt s, d;
	make_v1(&s);
	uint8_t *body = NULL;
	size_t len = 0;
	assert_int_equal(pl_stmt_encode(&s, &body, &len), 0);
	assert_int_equal(pl_stmt_decode(body, len, &d), 0);
	assert_string_equal(d.stmt, "taftan-2026");
	assert_int_equal(d.v, 1);
	assert_string_equal(d.title, s.title);
	assert_int_equal(d.text_len, s.text_len);
	assert_memory_equal(d.text, text1, s.text_len);
	assert_int_equal(d.text[d.text_len], '\0');
	uint8_t zero[PL_HASH_BYTES] = {0};
	assert_memory_equal(d.prev, zero, PL_HASH_BYTES);
	/* the exact bytes: canonical map, keys in the canonical order */
	pl_cbor_enc e;
	pl_cbor_enc_init(&e);
	pl_cbor_put_map(&e, 5);
	pl_cbor_put_str(&e, "v");
	pl_cbor_put_uint(&e, 1);
	pl_cbor_put_str(&e, "stmt");
	pl_cbor_put_str(&e, "taftan-2026");
	pl_cbor_put_str(&e, "text");
	pl_cbor_put_str(&e, text1);
	pl_cbor_put_str(&e, "title");
	pl_cbor_put_str(&e, "Joint statement on Taftan");
	pl_cbor_put_str(&e, "schema");
	pl_cbor_put_str(&e, "parley/statement/1");
	uint8_t *want = NULL;
	size_t wlen = 0;
	assert_int_equal(pl_cbor_enc_finish(&e, &want, &wlen), 0);
	assert_int_equal(wlen, len);
	assert_memory_equal(want, body, len);
	free(want);
	/* the version hash is SHA-256 of the body */
	uint8_t h1[PL_HASH_BYTES], h2[PL_HASH_BYTES];
	pl_stmt_version_hash(h1, body, len);
	pl_sha256(h2, body, len);
	assert_memory_equal(h1, h2, PL_HASH_BYTES);
	pl_stmt_clear(&d);
	pl_stmt_clear(NULL);
	free(body);
}

static void test_text_limits(void **state)
{
	pl_stmt s, d;
	make_v1(&s);
	char *big = malloc(PL_STMT_TEXT_MAX + 2);
	assert_non_null(big);
	memset(big, 'a', PL_STMT_TEXT_MAX + 1);
	big[PL_STMT_TEXT_MAX + 1] = '\0';
	s.text = big;
	s.text_len = PL_STMT_TEXT_MAX; /* the maximum round-trips */
	uint8_t *body = NULL;
	size_t len = 0;
	assert_int_equal(pl_stmt_encode(&s, &body, &len), 0);
	assert_int_equal(pl_stmt_decode(body, len, &d), 0);
	assert_int_equal(d.text_len, PL_STMT_TEXT_MAX);
	pl_stmt_clear(&d);
	free(body);
	s.text_len = PL_STMT_TEXT_MAX + 1;
	assert_int_equal(pl_stmt_encode(&s, &body, &len), PL_ERR_LIMIT);
	assert_null(body);
	s.text_len = 0;
	assert_int_equal(pl_stmt_encode(&s, &body, &len), PL_ERR_INVALID);
	assert_true(detail_has("empty"));
	memcpy(big, "a\0b", 3);
	s.text_len = 3;
	assert_int_equal(pl_stmt_encode(&s, &body, &len), PL_ERR_INVALID);
	assert_true(detail_has("NUL"));
	memcpy(big, "a\xc3(", 3);
	assert_int_equal(pl_stmt_encode(&s, &body, &len), PL_ERR_INVALID);
	assert_true(detail_has("UTF-8"));
	free(big);
	/* title: empty, too long, two lines */
	make_v1(&s);
	s.title[0] = '\0';
	assert_int_equal(pl_stmt_encode(&s, &body, &len), PL_ERR_INVALID);
	memset(s.title, 't', PL_STMT_TITLE_MAX);
	s.title[PL_STMT_TITLE_MAX] = '\0';
	assert_int_equal(pl_stmt_encode(&s, &body, &len), 0);
	free(body);
	snprintf(s.title, sizeof(s.title), "two\nlines");
	assert_int_equal(pl_stmt_encode(&s, &body, &len), PL_ERR_INVALID);
	/* id and version */
	make_v1(&s);
	snprintf(s.stmt, sizeof(s.stmt), "Bad Name");
	assert_int_equal(pl_stmt_encode(&s, &body, &len), PL_ERR_INVALID);
	make_v1(&s);
	s.v = 0;
	assert_int_equal(pl_stmt_encode(&s, &body, &len), PL_ERR_INVALID);
}

/* Encode a map from (key, kind, value) triples, kind 'u' uint, 't' text, 'b' 32 bytes. */
static uint8_t *raw_body(size_t *len, size_t n, ...)
{
	va_list ap;
	va_start(ap, n);
	pl_cbor_enc e;
	pl_cbor_enc_init(&e);
	pl_cbor_put_map(&e, n);
	for (size_t i = 0; i < n; i++) {
		pl_cbor_put_str(&e, va_arg(ap, const char *));
		int kind = va_arg(ap, int);
		if (kind == 'u') {
			pl_cbor_put_uint(&e, va_arg(ap, uint64_t));
		} else if (kind == 't') {
			pl_cbor_put_str(&e, va_arg(ap, const char *));
		} else {
			const uint8_t *p = va_arg(ap, const uint8_t *);
			pl_cbor_put_bytes(&e, p, PL_HASH_BYTES);
		}
	}
	va_end(ap);
	uint8_t *out = NULL;
	assert_int_equal(pl_cbor_enc_finish(&e, &out, len), 0);
	return out;
}

static void expect_refused(uint8_t *body, size_t len, int code, const char *detail)
{
	pl_stmt d;
	memset(&d, 0x55, sizeof(d));
	int rc = pl_stmt_decode(body, len, &d);
	if (rc != code)
		fail_msg("got %d (%s), want %d", rc, pl_err_detail(), code);
	if (detail)
		assert_true(detail_has(detail));
	assert_null(d.own_);
	assert_int_equal(d.v, 0);
	free(body);
}

static void test_decode_refusals(void **state)
{
	static const uint8_t h[PL_HASH_BYTES] = {1, 2, 3};
	size_t len = 0;
	uint8_t *b = NULL;
	/* reference: a valid v2 */
	uint8_t *ok =
	    raw_body(&len, 6, "v", 'u', (uint64_t)2, "prev", 'b', h, "stmt", 't', "s", "text", 't',
		     "x", "title", 't', "T", "schema", 't', "parley/statement/1");
	pl_stmt d;
	assert_int_equal(pl_stmt_decode(ok, len, &d), 0);
	assert_int_equal(d.v, 2);
	assert_memory_equal(d.prev, h, PL_HASH_BYTES);
	pl_stmt_clear(&d);
	free(ok);
	/* v2 without prev; v1 with prev; v 0 */
	b = raw_body(&len, 5, "v", 'u', (uint64_t)2, "stmt", 't', "s", "text", 't', "x", "title",
		     't', "T", "schema", 't', "parley/statement/1");
	expect_refused(b, len, PL_ERR_MALFORMED, "does not name its previous version");
	b = raw_body(&len, 6, "v", 'u', (uint64_t)1, "prev", 'b', h, "stmt", 't', "s", "text", 't',
		     "x", "title", 't', "T", "schema", 't', "parley/statement/1");
	expect_refused(b, len, PL_ERR_MALFORMED, "version 1 names a previous");
	b = raw_body(&len, 5, "v", 'u', (uint64_t)0, "stmt", 't', "s", "text", 't', "x", "title",
		     't', "T", "schema", 't', "parley/statement/1");
	expect_refused(b, len, PL_ERR_MALFORMED, "version 0");
	/* unknown schema, missing field, unknown field, bad name, empty text */
	b = raw_body(&len, 5, "v", 'u', (uint64_t)1, "stmt", 't', "s", "text", 't', "x", "title",
		     't', "T", "schema", 't', "parley/statement/2");
	expect_refused(b, len, PL_ERR_VERSION, "parley/statement/2");
	b = raw_body(&len, 4, "v", 'u', (uint64_t)1, "stmt", 't', "s", "text", 't', "x", "schema",
		     't', "parley/statement/1");
	expect_refused(b, len, PL_ERR_MALFORMED, "title");
	b = raw_body(&len, 6, "v", 'u', (uint64_t)1, "zz", 't', "?", "stmt", 't', "s", "text", 't',
		     "x", "title", 't', "T", "schema", 't', "parley/statement/1");
	expect_refused(b, len, PL_ERR_MALFORMED, "zz");
	b = raw_body(&len, 5, "v", 'u', (uint64_t)1, "stmt", 't', "S!", "text", 't', "x", "title",
		     't', "T", "schema", 't', "parley/statement/1");
	expect_refused(b, len, PL_ERR_MALFORMED, "not a valid name");
	b = raw_body(&len, 5, "v", 'u', (uint64_t)1, "stmt", 't', "s", "text", 't', "", "title",
		     't', "T", "schema", 't', "parley/statement/1");
	expect_refused(b, len, PL_ERR_MALFORMED, NULL);
	b = raw_body(&len, 5, "v", 'u', (uint64_t)1, "stmt", 't', "s", "text", 't', "x", "title",
		     't', "a\tb", "schema", 't', "parley/statement/1");
	expect_refused(b, len, PL_ERR_MALFORMED, "title");
	/* not a map, truncated, trailing bytes, non-canonical (keys out of order) */
	uint8_t arr[] = {0x80};
	pl_stmt x;
	assert_int_equal(pl_stmt_decode(arr, 1, &x), PL_ERR_MALFORMED);
	pl_stmt s;
	make_v1(&s);
	uint8_t *body = NULL;
	assert_int_equal(pl_stmt_encode(&s, &body, &len), 0);
	assert_int_equal(pl_stmt_decode(body, len - 1, &x), PL_ERR_MALFORMED);
	uint8_t *longer = malloc(len + 1);
	assert_non_null(longer);
	memcpy(longer, body, len);
	longer[len] = 0;
	assert_int_equal(pl_stmt_decode(longer, len + 1, &x), PL_ERR_MALFORMED);
	free(longer);
	free(body);
	/* "stmt" before "v": written raw (the encoder refuses out-of-order keys) */
	static const uint8_t unordered[] = {
	    0xa5, 0x64, 's', 't',  'm', 't',  0x61, 's',  0x61, 'v', 0x01, 0x64, 't',
	    'e',  'x',  't', 0x61, 'x', 0x65, 't',  'i',  't',  'l', 'e',  0x61, 'T',
	    0x66, 's',  'c', 'h',  'e', 'm',  'a',  0x72, 'p',  'a', 'r',  'l',  'e',
	    'y',  '/',  's', 't',  'a', 't',  'e',  'm',  'e',  'n', 't',  '/',  '1'};
	assert_int_equal(pl_stmt_decode(unordered, sizeof(unordered), &x), PL_ERR_NONCANONICAL);
}

/* ------------------------------------------------------------ version chain */

static void test_chain(void **state)
{
	pl_stmt s1, s2, d1, d2;
	make_v1(&s1);
	uint8_t *b1 = NULL, *b2 = NULL;
	size_t l1 = 0, l2 = 0;
	assert_int_equal(pl_stmt_encode(&s1, &b1, &l1), 0);
	uint8_t h1[PL_HASH_BYTES];
	pl_stmt_version_hash(h1, b1, l1);
	s2 = s1;
	s2.v = 2;
	memcpy(s2.prev, h1, PL_HASH_BYTES);
	s2.text = text2;
	s2.text_len = strlen(text2);
	assert_int_equal(pl_stmt_encode(&s2, &b2, &l2), 0);
	assert_int_equal(pl_stmt_decode(b1, l1, &d1), 0);
	assert_int_equal(pl_stmt_decode(b2, l2, &d2), 0);
	assert_int_equal(pl_stmt_check_next(&d1, h1, &d2), 0);
	/* a wrong previous hash, a skipped version, another statement, reversed */
	uint8_t bad[PL_HASH_BYTES];
	memcpy(bad, h1, PL_HASH_BYTES);
	bad[31] ^= 1;
	assert_int_equal(pl_stmt_check_next(&d1, bad, &d2), PL_ERR_SEQUENCE);
	assert_true(detail_has("previous version"));
	d2.v = 3;
	assert_int_equal(pl_stmt_check_next(&d1, h1, &d2), PL_ERR_SEQUENCE);
	d2.v = 2;
	snprintf(d2.stmt, sizeof(d2.stmt), "other");
	assert_int_equal(pl_stmt_check_next(&d1, h1, &d2), PL_ERR_INVALID);
	snprintf(d2.stmt, sizeof(d2.stmt), "taftan-2026");
	assert_int_equal(pl_stmt_check_next(&d2, h1, &d1), PL_ERR_SEQUENCE);
	/* changing only the title changes the version hash */
	pl_stmt s1b = s1;
	snprintf(s1b.title, sizeof(s1b.title), "Joint statement on Taftan.");
	uint8_t *b1b = NULL;
	size_t l1b = 0;
	assert_int_equal(pl_stmt_encode(&s1b, &b1b, &l1b), 0);
	uint8_t h1b[PL_HASH_BYTES];
	pl_stmt_version_hash(h1b, b1b, l1b);
	assert_memory_not_equal(h1, h1b, PL_HASH_BYTES);
	assert_int_equal(pl_stmt_check_next(&d1, h1b, &d2), PL_ERR_SEQUENCE);
	free(b1b);
	pl_stmt_clear(&d1);
	pl_stmt_clear(&d2);
	free(b1);
	free(b2);
}

/* ------------------------------------------------------------ signatures */

static void test_sign_verify(void **state)
{
	pl_keypair kp, other;
	test_key(&kp, 21);
	test_key(&other, 22);
	pl_stmt s;
	make_v1(&s);
	uint8_t *body = NULL;
	size_t len = 0;
	pl_stmt_sig sig, d;
	assert_int_equal(pl_stmt_sign(&s, "tehran", "fm-tehran", &kp, &body, &len, &sig), 0);
	assert_int_equal(pl_stmt_sig_decode(body, len, &d), 0);
	assert_memory_equal(&sig, &d, sizeof(sig));
	/* text hash and trusted comment as documented */
	uint8_t th[PL_HASH_BYTES];
	pl_sha256(th, (const uint8_t *)text1, strlen(text1));
	assert_memory_equal(d.text_sha256, th, PL_HASH_BYTES);
	char hex[65], want[PL_STMT_TC_MAX + 1];
	pl_hex_encode(hex, th, PL_HASH_BYTES);
	snprintf(want, sizeof(want),
		 "parley statement taftan-2026 v=1 state=tehran signer=fm-tehran sha256=%s", hex);
	assert_string_equal(d.tc, want);
	assert_memory_equal(d.minisig, "ED", 2);
	uint8_t kid[PL_KEYID_BYTES];
	pl_key_id(kid, kp.pk);
	assert_memory_equal(d.minisig + 2, kid, PL_KEYID_BYTES);
	/* the embedded minisign signature is a plain minisign signature of the text */
	pl_minisign_pk mpk;
	pl_minisign_pk_from_key(&mpk, kp.pk);
	assert_int_equal(pl_minisign_verify(&mpk, (const uint8_t *)text1, strlen(text1), d.minisig,
					    d.tc, d.gsig),
			 0);
	assert_int_equal(pl_stmt_sig_verify(&d, kp.pk, "tehran", "fm-tehran", text1, strlen(text1)),
			 0);
	/* another text */
	assert_int_equal(pl_stmt_sig_verify(&d, kp.pk, "tehran", "fm-tehran", text2, strlen(text2)),
			 PL_ERR_CONFLICT);
	assert_true(detail_has("not this text"));
	/* another key, another state, another signer */
	assert_int_equal(
	    pl_stmt_sig_verify(&d, other.pk, "tehran", "fm-tehran", text1, strlen(text1)),
	    PL_ERR_BAD_SIGNATURE);
	assert_int_equal(
	    pl_stmt_sig_verify(&d, kp.pk, "islamabad", "fm-tehran", text1, strlen(text1)),
	    PL_ERR_CONFLICT);
	assert_true(detail_has("trusted comment"));
	assert_int_equal(pl_stmt_sig_verify(&d, kp.pk, "tehran", "amb", text1, strlen(text1)),
			 PL_ERR_CONFLICT);
	/* a version number changed in the body (the tc no longer matches) */
	pl_stmt_sig t = d;
	t.v = 2;
	assert_int_equal(pl_stmt_sig_verify(&t, kp.pk, "tehran", "fm-tehran", text1, strlen(text1)),
			 PL_ERR_CONFLICT);
	/* a tc rewritten to match the change: the global signature fails */
	assert_int_equal(pl_stmt_tc(t.tc, t.stmt, 2, "tehran", "fm-tehran", t.text_sha256), 0);
	assert_int_equal(pl_stmt_sig_verify(&t, kp.pk, "tehran", "fm-tehran", text1, strlen(text1)),
			 PL_ERR_BAD_SIGNATURE);
	/* signature bytes */
	t = d;
	t.minisig[40] ^= 1;
	assert_int_equal(pl_stmt_sig_verify(&t, kp.pk, "tehran", "fm-tehran", text1, strlen(text1)),
			 PL_ERR_BAD_SIGNATURE);
	t = d;
	t.gsig[0] ^= 1;
	assert_int_equal(pl_stmt_sig_verify(&t, kp.pk, "tehran", "fm-tehran", text1, strlen(text1)),
			 PL_ERR_BAD_SIGNATURE);
	free(body);
	/* bodies refused */
	pl_stmt_sig bad = d;
	bad.minisig[1] = 'd'; /* legacy */
	assert_int_equal(pl_stmt_sig_encode(&bad, &body, &len), 0);
	assert_int_equal(pl_stmt_sig_decode(body, len, &t), PL_ERR_VERSION);
	free(body);
	bad = d;
	bad.tc[0] = '\0';
	assert_int_equal(pl_stmt_sig_encode(&bad, &body, &len), PL_ERR_INVALID);
	bad = d;
	bad.v = 0;
	assert_int_equal(pl_stmt_sig_encode(&bad, &body, &len), PL_ERR_INVALID);
	assert_int_equal(pl_stmt_sign(&s, "Tehran", "fm-tehran", &kp, &body, &len, NULL),
			 PL_ERR_INVALID);
	assert_null(body);
	/* schema and a statement body where a signature body is expected */
	uint8_t *sb = NULL;
	size_t sl = 0;
	assert_int_equal(pl_stmt_encode(&s, &sb, &sl), 0);
	assert_int_equal(pl_stmt_sig_decode(sb, sl, &t), PL_ERR_VERSION);
	free(sb);
	assert_int_equal(pl_stmt_sign(&s, "tehran", "fm-tehran", &kp, &body, &len, NULL), 0);
	assert_int_equal(pl_stmt_decode(body, len, &s), PL_ERR_VERSION);
	free(body);
	pl_key_wipe(&kp);
	pl_key_wipe(&other);
}

/* ------------------------------------------------------------ adoption */

static void test_adoption(void **state)
{
	pl_charter c;
	memset(&c, 0, sizeof(c));
	snprintf(c.states[0], sizeof(c.states[0]), "islamabad");
	snprintf(c.states[1], sizeof(c.states[1]), "tehran");
	c.nstates = 2;
	uint8_t ha[PL_HASH_BYTES], hb[PL_HASH_BYTES], out[PL_HASH_BYTES];
	memset(ha, 0xa, sizeof(ha));
	memset(hb, 0xb, sizeof(hb));
	uint64_t v = 0;
	/* nobody, one state, both on the same text */
	assert_int_equal(pl_stmt_check_adopted(&c, NULL, 0, &v, out), PL_ERR_UNSIGNED);
	pl_stmt_vote one[] = {{"tehran", 1, ha}};
	assert_int_equal(pl_stmt_check_adopted(&c, one, 1, &v, out), PL_ERR_UNSIGNED);
	assert_true(detail_has("islamabad has not signed"));
	pl_stmt_vote both[] = {{"tehran", 1, ha}, {"islamabad", 1, ha}};
	assert_int_equal(pl_stmt_check_adopted(&c, both, 2, &v, out), 0);
	assert_int_equal(v, 1);
	assert_memory_equal(out, ha, PL_HASH_BYTES);
	/* different texts: never adopted */
	pl_stmt_vote differ[] = {{"tehran", 1, ha}, {"islamabad", 2, hb}};
	assert_int_equal(pl_stmt_check_adopted(&c, differ, 2, &v, out), PL_ERR_UNSIGNED);
	assert_true(detail_has("different texts"));
	/* a state outside the charter does not count */
	pl_stmt_vote outsider[] = {{"tehran", 1, ha}, {"kabul", 1, ha}};
	assert_int_equal(pl_stmt_check_adopted(&c, outsider, 2, NULL, NULL), PL_ERR_UNSIGNED);
	/* v1 adopted, then both sign v2: the newest adopted wins */
	pl_stmt_vote later[] = {
	    {"tehran", 1, ha}, {"islamabad", 1, ha}, {"tehran", 2, hb}, {"islamabad", 2, hb}};
	assert_int_equal(pl_stmt_check_adopted(&c, later, 4, &v, out), 0);
	assert_int_equal(v, 2);
	assert_memory_equal(out, hb, PL_HASH_BYTES);
	/* v1 adopted, v2 signed by one: v1 stays adopted */
	assert_int_equal(pl_stmt_check_adopted(&c, later, 3, &v, out), 0);
	assert_int_equal(v, 1);
}

int main(void)
{
	if (pl_crypto_init() != 0)
		return 1;
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip),      cmocka_unit_test(test_text_limits),
	    cmocka_unit_test(test_decode_refusals), cmocka_unit_test(test_chain),
	    cmocka_unit_test(test_sign_verify),     cmocka_unit_test(test_adoption),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
