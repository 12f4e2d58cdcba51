/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lib/identity: state and node records, credentials, status lists and the
 * one verification question, including every refusal the issue lists:
 * tampered signature, wrong key, expired and not-yet-valid credentials,
 * each status transition and its time of effect, a rolled-back status list,
 * truncated, oversized and non-canonical encodings.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "parley/buf.h"
#include "parley/codec.h"
#include "parley/crypto.h"
#include "parley/err.h"
#include "parley/identity.h"

#define T0 1800000000 /* 2027-01-15T08:00:00Z */
#define DAY 86400

static pl_keypair tehran, islamabad, alice;

static void seed_key(pl_keypair *kp, uint8_t fill)
{
	uint8_t seed[PL_SEED_BYTES];
	memset(seed, fill, sizeof(seed));
	assert_int_equal(pl_key_from_seed(kp, seed), 0);
}

static int setup(void **state)
{
	(void)state;
	assert_int_equal(pl_crypto_init(), 0);
	seed_key(&tehran, 1);
	seed_key(&islamabad, 2);
	seed_key(&alice, 3);
	return 0;
}

static pl_trust *trust_both(void)
{
	pl_trust *t = pl_trust_new();
	assert_non_null(t);
	assert_int_equal(pl_trust_add(t, "tehran", tehran.pk), 0);
	assert_int_equal(pl_trust_add(t, "islamabad", islamabad.pk), 0);
	return t;
}

static pl_cred make_cred(void)
{
	pl_cred c;
	memset(&c, 0, sizeof(c));
	strcpy(c.state, "tehran");
	strcpy(c.id, "amb-islamabad");
	strcpy(c.name, "Reza Amiri");
	strcpy(c.title, "Ambassador to Pakistan");
	strcpy(c.roles[0], "ambassador");
	strcpy(c.roles[1], "signatory");
	c.nroles = 2;
	memcpy(c.pk, alice.pk, PL_PK_BYTES);
	c.not_before = T0;
	c.not_after = T0 + 365 * DAY;
	return c;
}

static void sign_cred(const pl_cred *c, const pl_keypair *root, uint8_t **buf, size_t *len)
{
	assert_int_equal(pl_cred_sign(c, root, buf, len), 0);
}

/* ---------------------------------------------------------------- names, trust */

static void test_names(void **state)
{
	(void)state;
	assert_true(pl_name_is_valid("tehran"));
	assert_true(pl_name_is_valid("amb-01.b_x"));
	assert_true(pl_name_is_valid("9lives"));
	assert_false(pl_name_is_valid(""));
	assert_false(pl_name_is_valid("-lead"));
	assert_false(pl_name_is_valid("Tehran"));
	assert_false(pl_name_is_valid("a b"));
	assert_false(pl_name_is_valid("a/b"));
	char longname[65];
	memset(longname, 'a', 64);
	longname[64] = 0;
	assert_false(pl_name_is_valid(longname));
	longname[63] = 0;
	assert_true(pl_name_is_valid(longname));
}

static void test_trust(void **state)
{
	(void)state;
	pl_trust *t = trust_both();
	assert_memory_equal(pl_trust_find(t, "tehran"), tehran.pk, PL_PK_BYTES);
	assert_null(pl_trust_find(t, "kabul"));
	assert_int_equal(pl_trust_add(t, "tehran", tehran.pk), 0);
	assert_int_equal(pl_trust_add(t, "tehran", islamabad.pk), PL_ERR_CONFLICT);
	assert_int_equal(pl_trust_add(t, "Bad Name", alice.pk), PL_ERR_INVALID);
	pl_trust_free(t);
	assert_null(t);
	pl_trust_free(t); /* NULL-safe */
}

/* ---------------------------------------------------------------- state record */

static void test_state_record(void **state)
{
	(void)state;
	pl_state_rec r = {.name = "tehran", .created = T0}, back;
	memcpy(r.pk, tehran.pk, PL_PK_BYTES);
	uint8_t *buf;
	size_t len;
	assert_int_equal(pl_state_rec_sign(&r, &tehran, &buf, &len), 0);
	assert_int_equal(pl_state_rec_open(buf, len, &back), 0);
	assert_string_equal(back.name, "tehran");
	assert_memory_equal(back.pk, tehran.pk, PL_PK_BYTES);
	assert_int_equal(back.created, T0);
	/* the signature is the last 64 bytes: flip one bit of it */
	buf[len - 1] ^= 1;
	assert_int_equal(pl_state_rec_open(buf, len, &back), PL_ERR_BAD_SIGNATURE);
	free(buf);
	/* a record naming one key but signed by another is not produced */
	assert_int_equal(pl_state_rec_sign(&r, &islamabad, &buf, &len), PL_ERR_INVALID);
}

/* ---------------------------------------------------------------- node record */

static void test_node_record(void **state)
{
	(void)state;
	pl_node_rec r = {.state = "tehran", .name = "tehran-1", .addr = "127.0.0.1:7001",
			 .not_before = T0, .not_after = T0 + DAY};
	memcpy(r.pk, alice.pk, PL_PK_BYTES);
	uint8_t *buf;
	size_t len;
	assert_int_equal(pl_node_rec_sign(&r, &tehran, &buf, &len), 0);
	pl_trust *t = trust_both();
	pl_node_rec back;
	assert_int_equal(pl_node_rec_open(buf, len, t, &back), 0);
	assert_string_equal(back.addr, "127.0.0.1:7001");
	assert_int_equal(pl_node_rec_check_time(&back, T0 - 1), PL_ERR_NOT_YET_VALID);
	assert_int_equal(pl_node_rec_check_time(&back, T0), 0);
	assert_int_equal(pl_node_rec_check_time(&back, T0 + DAY), PL_ERR_EXPIRED);
	/* state not pinned */
	pl_trust *only_isl = pl_trust_new();
	assert_int_equal(pl_trust_add(only_isl, "islamabad", islamabad.pk), 0);
	assert_int_equal(pl_node_rec_open(buf, len, only_isl, &back), PL_ERR_UNKNOWN_ROOT);
	/* "tehran" pinned with the wrong key */
	pl_trust *wrong = pl_trust_new();
	assert_int_equal(pl_trust_add(wrong, "tehran", islamabad.pk), 0);
	assert_int_equal(pl_node_rec_open(buf, len, wrong, &back), PL_ERR_BAD_SIGNATURE);
	/* a node record is not a credential */
	pl_cred c;
	assert_int_equal(pl_cred_open(buf, len, t, &c), PL_ERR_TYPE);
	free(buf);
	pl_trust_free(t);
	pl_trust_free(only_isl);
	pl_trust_free(wrong);
}

/* ---------------------------------------------------------------- credentials */

static void test_cred_roundtrip(void **state)
{
	(void)state;
	pl_cred c = make_cred(), back;
	strcpy(c.scope[0], "border-liaison");
	c.nscope = 1;
	uint8_t *buf;
	size_t len;
	sign_cred(&c, &tehran, &buf, &len);
	pl_trust *t = trust_both();
	assert_int_equal(pl_cred_open(buf, len, t, &back), 0);
	assert_memory_equal(&back, &c, sizeof(c));
	assert_true(pl_cred_has_role(&back, "signatory"));
	assert_false(pl_cred_has_role(&back, "minister"));
	/* deterministic: signing again gives the same bytes */
	uint8_t *again;
	size_t alen;
	sign_cred(&c, &tehran, &again, &alen);
	assert_int_equal(alen, len);
	assert_memory_equal(again, buf, len);
	free(again);
	free(buf);
	pl_trust_free(t);
}

static void test_cred_refusals_on_sign(void **state)
{
	(void)state;
	uint8_t *buf = NULL;
	size_t len;
	pl_cred c = make_cred();
	c.not_after = c.not_before;
	assert_int_equal(pl_cred_sign(&c, &tehran, &buf, &len), PL_ERR_INVALID);
	c = make_cred();
	strcpy(c.roles[0], "Not A Role");
	assert_int_equal(pl_cred_sign(&c, &tehran, &buf, &len), PL_ERR_INVALID);
	c = make_cred();
	strcpy(c.name, "line\nbreak");
	assert_int_equal(pl_cred_sign(&c, &tehran, &buf, &len), PL_ERR_INVALID);
	assert_null(buf);
}

static void test_cred_verify_times(void **state)
{
	(void)state;
	pl_cred c = make_cred(), out;
	uint8_t *buf;
	size_t len;
	sign_cred(&c, &tehran, &buf, &len);
	pl_trust *t = trust_both();
	assert_int_equal(pl_cred_verify(buf, len, t, NULL, T0 - 1, &out), PL_ERR_NOT_YET_VALID);
	assert_non_null(strstr(pl_err_detail(), "not valid until"));
	assert_int_equal(pl_cred_verify(buf, len, t, NULL, T0, &out), 0);
	assert_string_equal(out.id, "amb-islamabad");
	assert_int_equal(pl_cred_verify(buf, len, t, NULL, T0 + 365 * DAY - 1, NULL), 0);
	assert_int_equal(pl_cred_verify(buf, len, t, NULL, T0 + 365 * DAY, NULL), PL_ERR_EXPIRED);
	assert_non_null(strstr(pl_err_detail(), "expired at"));
	free(buf);
	pl_trust_free(t);
}

static void test_cred_wrong_key_and_tamper(void **state)
{
	(void)state;
	pl_cred c = make_cred();
	uint8_t *buf;
	size_t len;
	/* claims to be Tehran's but signed by Islamabad's root */
	sign_cred(&c, &islamabad, &buf, &len);
	pl_trust *t = trust_both();
	assert_int_equal(pl_cred_verify(buf, len, t, NULL, T0, NULL), PL_ERR_BAD_SIGNATURE);
	free(buf);
	sign_cred(&c, &tehran, &buf, &len);
	/* flip each byte of the signature in turn */
	for (size_t i = len - PL_SIG_BYTES; i < len; i++) {
		buf[i] ^= 0x40;
		assert_int_equal(pl_cred_verify(buf, len, t, NULL, T0, NULL), PL_ERR_BAD_SIGNATURE);
		buf[i] ^= 0x40;
	}
	/* flip a byte inside the payload's name: still canonical, signature fails */
	uint8_t *p = memmem(buf, len, "Reza", 4);
	assert_non_null(p);
	p[0] = 'X';
	assert_int_equal(pl_cred_verify(buf, len, t, NULL, T0, NULL), PL_ERR_BAD_SIGNATURE);
	p[0] = 'R';
	assert_int_equal(pl_cred_verify(buf, len, t, NULL, T0, NULL), 0);
	/* unpinned state */
	pl_trust *none = pl_trust_new();
	assert_int_equal(pl_cred_verify(buf, len, none, NULL, T0, NULL), PL_ERR_UNKNOWN_ROOT);
	pl_trust_free(none);
	free(buf);
	pl_trust_free(t);
}

static void test_cred_truncated_oversized(void **state)
{
	(void)state;
	pl_cred c = make_cred(), out;
	uint8_t *buf;
	size_t len;
	sign_cred(&c, &tehran, &buf, &len);
	pl_trust *t = trust_both();
	for (size_t n = 0; n < len; n++) {
		uint8_t *cut = malloc(n ? n : 1);
		memcpy(cut, buf, n);
		assert_int_not_equal(pl_cred_open(cut, n, t, &out), 0);
		free(cut);
	}
	uint8_t *big = calloc(1, 70 * 1024);
	memcpy(big, buf, len);
	assert_int_equal(pl_cred_open(big, 70 * 1024, t, &out), PL_ERR_LIMIT);
	/* trailing garbage after a valid record */
	assert_int_not_equal(pl_cred_open(big, len + 1, t, &out), 0);
	free(big);
	free(buf);
	pl_trust_free(t);
}

/* Sign an arbitrary payload as an identity record would be signed. */
static void sign_payload(const uint8_t *payload, size_t plen, uint8_t **out, size_t *len)
{
	uint8_t kid[PL_KEYID_BYTES];
	pl_key_id(kid, tehran.pk);
	assert_int_equal(pl_cose_sign1_sign(out, len, payload, plen, kid, sizeof(kid), NULL, 0,
					    &tehran, PL_COSE_TAGGED),
			 0);
}

static void test_state_noncanonical_and_version(void **state)
{
	(void)state;
	/* {"v": 1, "t": "parley/state", ...}: keys out of canonical order */
	pl_buf b = {0};
	const uint8_t head[] = {0xa5, 0x61, 'v', 0x01, 0x61, 't', 0x6c};
	assert_int_equal(pl_buf_append(&b, head, sizeof(head)), 0);
	assert_int_equal(pl_buf_append_str(&b, "parley/state"), 0);
	const uint8_t pkh[] = {0x62, 'p', 'k', 0x58, 0x20};
	assert_int_equal(pl_buf_append(&b, pkh, sizeof(pkh)), 0);
	assert_int_equal(pl_buf_append(&b, tehran.pk, PL_PK_BYTES), 0);
	const uint8_t rest[] = {0x64, 'n', 'a', 'm', 'e', 0x66, 't', 'e', 'h', 'r', 'a', 'n',
				0x67, 'c', 'r', 'e', 'a', 't', 'e', 'd', 0x01};
	assert_int_equal(pl_buf_append(&b, rest, sizeof(rest)), 0);
	uint8_t *rec;
	size_t len;
	pl_state_rec out;
	sign_payload(b.data, b.len, &rec, &len);
	assert_int_equal(pl_state_rec_open(rec, len, &out), PL_ERR_NONCANONICAL);
	free(rec);
	/* the same fields in canonical order open fine: the test above is about order */
	pl_buf_reset(&b);
	const uint8_t head2[] = {0xa5, 0x61, 't', 0x6c};
	assert_int_equal(pl_buf_append(&b, head2, sizeof(head2)), 0);
	assert_int_equal(pl_buf_append_str(&b, "parley/state"), 0);
	const uint8_t v1[] = {0x61, 'v', 0x01};
	assert_int_equal(pl_buf_append(&b, v1, sizeof(v1)), 0);
	assert_int_equal(pl_buf_append(&b, pkh, sizeof(pkh)), 0);
	assert_int_equal(pl_buf_append(&b, tehran.pk, PL_PK_BYTES), 0);
	assert_int_equal(pl_buf_append(&b, rest, sizeof(rest)), 0);
	sign_payload(b.data, b.len, &rec, &len);
	assert_int_equal(pl_state_rec_open(rec, len, &out), 0);
	free(rec);
	/* version 2 is refused as unknown */
	b.data[4 + 12 + 2] = 0x02;
	sign_payload(b.data, b.len, &rec, &len);
	assert_int_equal(pl_state_rec_open(rec, len, &out), PL_ERR_VERSION);
	free(rec);
	pl_buf_clear(&b);
}

static void test_cred_unknown_field(void **state)
{
	(void)state;
	pl_cbor_enc e;
	pl_cbor_enc_init(&e);
	pl_cbor_put_map(&e, 3);
	pl_cbor_put_str(&e, "t");
	pl_cbor_put_str(&e, "parley/cred");
	pl_cbor_put_str(&e, "v");
	pl_cbor_put_uint(&e, 1);
	pl_cbor_put_str(&e, "extra");
	pl_cbor_put_uint(&e, 7);
	uint8_t *payload, *rec;
	size_t plen, len;
	assert_int_equal(pl_cbor_enc_finish(&e, &payload, &plen), 0);
	sign_payload(payload, plen, &rec, &len);
	pl_trust *t = trust_both();
	pl_cred c;
	assert_int_equal(pl_cred_open(rec, len, t, &c), PL_ERR_MALFORMED);
	free(payload);
	free(rec);
	pl_trust_free(t);
}

/* ---------------------------------------------------------------- status lists */

static void test_status_transitions(void **state)
{
	(void)state;
	/* expected[from][to]: may a credential in `from` change to `to`? */
	static const bool expected[5][5] = {
		/*            act    susp   rec    rest   revk */
		/* active */ {false, true, true, false, true},
		/* susp   */ {false, false, true, true, true},
		/* rec    */ {false, false, false, true, true},
		/* rest   */ {false, true, true, false, true},
		/* revk   */ {false, false, false, false, false},
	};
	/* a path into each `from` status */
	static const pl_status path[5][2] = {
		{PL_STATUS_ACTIVE, PL_STATUS_ACTIVE},
		{PL_STATUS_SUSPENDED, PL_STATUS_ACTIVE},
		{PL_STATUS_RECALLED, PL_STATUS_ACTIVE},
		{PL_STATUS_RECALLED, PL_STATUS_RESTORED},
		{PL_STATUS_REVOKED, PL_STATUS_ACTIVE},
	};
	for (int from = 0; from < 5; from++) {
		for (int to = 0; to < 5; to++) {
			pl_status_list l;
			pl_status_list_init(&l, "tehran");
			int64_t t = T0;
			for (int k = 0; k < 2; k++)
				if (path[from][k] != PL_STATUS_ACTIVE)
					assert_int_equal(pl_status_list_append(&l, "amb", path[from][k],
									       t++, "", T0),
							 0);
			uint64_t ver = l.version;
			size_t n = l.n;
			int rc = pl_status_list_append(&l, "amb", (pl_status)to, t, "", T0);
			if (expected[from][to]) {
				assert_int_equal(rc, 0);
				assert_int_equal(l.version, ver + 1);
			} else {
				assert_int_equal(rc, PL_ERR_TRANSITION);
				assert_int_equal(l.version, ver); /* unchanged on failure */
				assert_int_equal(l.n, n);
			}
			pl_status_list_clear(&l);
		}
	}
}

static void test_status_time_of_effect(void **state)
{
	(void)state;
	pl_status_list l;
	pl_status_list_init(&l, "tehran");
	/* recalled at T0+10d, restored at T0+40d, suspended at T0+50d */
	assert_int_equal(pl_status_list_append(&l, "amb", PL_STATUS_RECALLED, T0 + 10 * DAY,
					       "ambassador recalled for consultations", T0),
			 0);
	assert_int_equal(
		pl_status_list_append(&l, "amb", PL_STATUS_RESTORED, T0 + 40 * DAY, "returns", T0), 0);
	assert_int_equal(pl_status_list_append(&l, "amb", PL_STATUS_SUSPENDED, T0 + 50 * DAY, "", T0),
			 0);
	/* an effective time before the last change is refused */
	assert_int_equal(pl_status_list_append(&l, "amb", PL_STATUS_RESTORED, T0 + 45 * DAY, "", T0),
			 PL_ERR_TRANSITION);
	assert_int_equal(pl_status_at(&l, "amb", T0 + 10 * DAY - 1), PL_STATUS_ACTIVE);
	assert_int_equal(pl_status_at(&l, "amb", T0 + 10 * DAY), PL_STATUS_RECALLED);
	assert_int_equal(pl_status_at(&l, "amb", T0 + 40 * DAY - 1), PL_STATUS_RECALLED);
	assert_int_equal(pl_status_at(&l, "amb", T0 + 40 * DAY), PL_STATUS_RESTORED);
	assert_int_equal(pl_status_at(&l, "amb", T0 + 50 * DAY), PL_STATUS_SUSPENDED);
	assert_int_equal(pl_status_at(&l, "other", T0 + 50 * DAY), PL_STATUS_ACTIVE);

	/* the credential question follows the same times, with the precise reason */
	pl_cred c = make_cred();
	strcpy(c.id, "amb");
	uint8_t *buf, *sl_buf;
	size_t len, sl_len;
	sign_cred(&c, &tehran, &buf, &len);
	assert_int_equal(pl_status_list_sign(&l, &tehran, &sl_buf, &sl_len), 0);
	pl_trust *t = trust_both();
	pl_status_list opened;
	assert_int_equal(pl_status_list_open(sl_buf, sl_len, t, &opened), 0);
	assert_int_equal(opened.version, 3);
	assert_int_equal(opened.n, 3);
	assert_string_equal(opened.ev[0].reason, "ambassador recalled for consultations");
	assert_int_equal(pl_cred_verify(buf, len, t, &opened, T0 + DAY, NULL), 0);
	assert_int_equal(pl_cred_verify(buf, len, t, &opened, T0 + 20 * DAY, NULL),
			 PL_ERR_RECALLED);
	assert_non_null(strstr(pl_err_detail(), "recalled"));
	assert_int_equal(pl_cred_verify(buf, len, t, &opened, T0 + 41 * DAY, NULL), 0);
	assert_int_equal(pl_cred_verify(buf, len, t, &opened, T0 + 51 * DAY, NULL),
			 PL_ERR_SUSPENDED);
	/* revoked is final and refused with its own reason */
	assert_int_equal(pl_status_list_append(&opened, "amb", PL_STATUS_REVOKED, T0 + 60 * DAY,
					       "key lost", T0),
			 0);
	assert_int_equal(pl_cred_verify(buf, len, t, &opened, T0 + 61 * DAY, NULL), PL_ERR_REVOKED);
	/* a status list of another state does not apply */
	pl_status_list isl;
	pl_status_list_init(&isl, "islamabad");
	assert_int_equal(pl_cred_verify(buf, len, t, &isl, T0 + DAY, NULL), PL_ERR_WRONG_STATE);

	/* pl_cred_check: the same answers for a credential opened once (what a
	 * node keeps between requests), the reason naming the time's label */
	pl_cred kept;
	assert_int_equal(pl_cred_open(buf, len, t, &kept), 0);
	assert_int_equal(pl_cred_check(&kept, &opened, T0 + DAY, "checked at"), 0);
	assert_int_equal(pl_cred_check(&kept, &opened, T0 + 20 * DAY, "envelope created"),
			 PL_ERR_RECALLED);
	assert_non_null(strstr(pl_err_detail(), "amb@tehran is recalled (envelope created "));
	assert_int_equal(pl_cred_check(&kept, &opened, T0 + 41 * DAY, "checked at"), 0);
	assert_int_equal(pl_cred_check(&kept, &opened, T0 + 51 * DAY, "checked at"),
			 PL_ERR_SUSPENDED);
	assert_int_equal(pl_cred_check(&kept, &opened, T0 + 61 * DAY, "checked at"),
			 PL_ERR_REVOKED);
	assert_int_equal(pl_cred_check(&kept, &isl, T0 + DAY, "checked at"), PL_ERR_WRONG_STATE);
	assert_int_equal(pl_cred_check(&kept, NULL, T0 - 1, "checked at"), PL_ERR_NOT_YET_VALID);
	assert_non_null(strstr(pl_err_detail(), "(checked at "));
	assert_int_equal(pl_cred_check(&kept, NULL, T0 + 365 * DAY, "checked at"),
			 PL_ERR_EXPIRED);
	pl_status_list_clear(&opened);
	pl_status_list_clear(&l);
	free(buf);
	free(sl_buf);
	pl_trust_free(t);
}

static void test_status_open_checks_history(void **state)
{
	(void)state;
	/* Build a list whose history breaks the rules (revoked, then restored)
	 * and sign it: opening must refuse it even though the signature holds. */
	pl_status_list l;
	pl_status_list_init(&l, "tehran");
	assert_int_equal(pl_status_list_append(&l, "amb", PL_STATUS_REVOKED, T0, "", T0), 0);
	pl_status_event *ev = realloc(l.ev, 2 * sizeof(*ev));
	assert_non_null(ev);
	l.ev = ev;
	memset(&ev[1], 0, sizeof(ev[1]));
	strcpy(ev[1].id, "amb");
	ev[1].status = PL_STATUS_RESTORED;
	ev[1].at = T0 + 1;
	l.n = 2;
	l.version = 2;
	uint8_t *buf;
	size_t len;
	assert_int_equal(pl_status_list_sign(&l, &tehran, &buf, &len), 0);
	pl_trust *t = trust_both();
	pl_status_list out;
	assert_int_equal(pl_status_list_open(buf, len, t, &out), PL_ERR_TRANSITION);
	free(buf);
	/* signed by the wrong root */
	l.n = 1;
	l.version = 1;
	assert_int_equal(pl_status_list_sign(&l, &islamabad, &buf, &len), 0);
	assert_int_equal(pl_status_list_open(buf, len, t, &out), PL_ERR_BAD_SIGNATURE);
	free(buf);
	pl_status_list_clear(&l);
	pl_trust_free(t);
}

static void test_status_supersedes(void **state)
{
	(void)state;
	pl_status_list v1, v2, v2b, v3, other;
	pl_status_list_init(&v1, "tehran");
	assert_int_equal(pl_status_list_append(&v1, "amb", PL_STATUS_RECALLED, T0, "", T0), 0);
	pl_status_list_init(&v2, "tehran");
	assert_int_equal(pl_status_list_append(&v2, "amb", PL_STATUS_RECALLED, T0, "", T0), 0);
	assert_int_equal(pl_status_list_append(&v2, "amb", PL_STATUS_RESTORED, T0 + 5, "", T0), 0);
	/* same version 2, different second change */
	pl_status_list_init(&v2b, "tehran");
	assert_int_equal(pl_status_list_append(&v2b, "amb", PL_STATUS_RECALLED, T0, "", T0), 0);
	assert_int_equal(pl_status_list_append(&v2b, "amb", PL_STATUS_REVOKED, T0 + 5, "", T0), 0);
	/* version 3 that rewrites the first change */
	pl_status_list_init(&v3, "tehran");
	assert_int_equal(pl_status_list_append(&v3, "amb", PL_STATUS_SUSPENDED, T0, "", T0), 0);
	assert_int_equal(pl_status_list_append(&v3, "amb", PL_STATUS_RESTORED, T0 + 5, "", T0), 0);
	assert_int_equal(pl_status_list_append(&v3, "amb", PL_STATUS_RECALLED, T0 + 6, "", T0), 0);
	pl_status_list_init(&other, "islamabad");
	assert_int_equal(pl_status_list_append(&other, "amb", PL_STATUS_RECALLED, T0, "", T0), 0);
	assert_int_equal(pl_status_list_append(&other, "amb", PL_STATUS_RESTORED, T0 + 1, "", T0),
			 0);

	assert_int_equal(pl_status_list_supersedes(&v2, &v1), 0);
	assert_int_equal(pl_status_list_supersedes(&v1, &v2), PL_ERR_STALE); /* rolled back */
	assert_int_equal(pl_status_list_supersedes(&v2, &v2), PL_ERR_STALE); /* same again */
	assert_int_equal(pl_status_list_supersedes(&v2b, &v2), PL_ERR_CONFLICT);
	assert_int_equal(pl_status_list_supersedes(&v3, &v2), PL_ERR_CONFLICT);
	assert_int_equal(pl_status_list_supersedes(&other, &v1), PL_ERR_WRONG_STATE);
	/* a newer version that drops a change */
	v3.n = 1;
	assert_int_equal(pl_status_list_supersedes(&v3, &v2), PL_ERR_CONFLICT);
	v3.n = 3;

	/* the rollback is also refused after a signing round trip */
	uint8_t *b1, *b2;
	size_t l1, l2;
	assert_int_equal(pl_status_list_sign(&v1, &tehran, &b1, &l1), 0);
	assert_int_equal(pl_status_list_sign(&v2, &tehran, &b2, &l2), 0);
	pl_trust *t = trust_both();
	pl_status_list o1, o2;
	assert_int_equal(pl_status_list_open(b1, l1, t, &o1), 0);
	assert_int_equal(pl_status_list_open(b2, l2, t, &o2), 0);
	assert_int_equal(pl_status_list_supersedes(&o1, &o2), PL_ERR_STALE);
	assert_int_equal(pl_status_list_supersedes(&o2, &o1), 0);
	pl_status_list_clear(&o1);
	pl_status_list_clear(&o2);
	free(b1);
	free(b2);
	pl_trust_free(t);
	pl_status_list_clear(&v1);
	pl_status_list_clear(&v2);
	pl_status_list_clear(&v2b);
	pl_status_list_clear(&v3);
	pl_status_list_clear(&other);
}

static void test_status_names(void **state)
{
	(void)state;
	for (int s = 0; s < 5; s++) {
		pl_status back;
		assert_int_equal(pl_status_parse(pl_status_name((pl_status)s), &back), 0);
		assert_int_equal(back, s);
	}
	pl_status x;
	assert_int_equal(pl_status_parse("retired", &x), PL_ERR_MALFORMED);
	pl_status_list l;
	pl_status_list_init(&l, "tehran");
	uint8_t *buf = NULL;
	size_t len;
	/* an empty list is never signed: version 0 means "nothing known" */
	assert_int_equal(pl_status_list_sign(&l, &tehran, &buf, &len), PL_ERR_INVALID);
	assert_int_equal(pl_status_list_append(&l, "amb", PL_STATUS_SUSPENDED, T0, "a\nb", T0),
			 PL_ERR_INVALID);
	assert_int_equal(l.n, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_trust),
		cmocka_unit_test(test_state_record),
		cmocka_unit_test(test_node_record),
		cmocka_unit_test(test_cred_roundtrip),
		cmocka_unit_test(test_cred_refusals_on_sign),
		cmocka_unit_test(test_cred_verify_times),
		cmocka_unit_test(test_cred_wrong_key_and_tamper),
		cmocka_unit_test(test_cred_truncated_oversized),
		cmocka_unit_test(test_state_noncanonical_and_version),
		cmocka_unit_test(test_cred_unknown_field),
		cmocka_unit_test(test_status_transitions),
		cmocka_unit_test(test_status_time_of_effect),
		cmocka_unit_test(test_status_open_checks_history),
		cmocka_unit_test(test_status_supersedes),
		cmocka_unit_test(test_status_names),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
