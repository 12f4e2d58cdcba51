/* SPDX-License-Identifier: Apache-2.0 */
/*
 * node/stmt.c on a node core made by hand (stmt_fixture.h): the version
 * chain, every refusal of a signature with its code and reason, the
 * adoption rule (the same text signed by every state; different texts
 * never add up), the events, and the views the API and the feed serve,
 * down to the bundle's fields.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "stmt_fixture.h"

static const char text1[] = "Joint statement.\nThe crossing at Taftan reopens on 1 May.\n";
static const char text2[] = "Joint statement.\nThe crossing at Taftan reopens on 2 May.\n";

static bool detail_has(const char *what)
{
	if (strstr(pl_err_detail(), what))
		return true;
	print_error("detail '%s' lacks '%s'\n", pl_err_detail(), what);
	return false;
}

static void hex_of_text(char out[2 * PL_HASH_BYTES + 1], const char *text)
{
	uint8_t h[PL_HASH_BYTES];
	pl_stmt_text_hash(h, text, strlen(text));
	pl_hex_encode(out, h, PL_HASH_BYTES);
}

static const char *jstr(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* Base64 member key of o decodes to exactly want. */
static void assert_b64(const json_t *o, const char *key, const uint8_t *want, size_t wlen)
{
	const char *s = jstr(o, key);
	assert_non_null(s);
	uint8_t *buf = malloc(strlen(s) + 4);
	size_t got = 0;
	assert_non_null(buf);
	assert_int_equal(pl_b64_decode(buf, strlen(s) + 4, &got, s, strlen(s)), 0);
	assert_int_equal(got, wlen);
	assert_memory_equal(buf, want, wlen);
	free(buf);
}

/* ------------------------------------------------------------ versions */

static void test_versions(void **state)
{
	(void)state;
	fx *f = fx_new("stmt-versions");
	uint8_t h1[PL_HASH_BYTES], h2[PL_HASH_BYTES], hx[PL_HASH_BYTES];
	/* the first version of a statement is 1 */
	assert_int_equal(fx_draft(f, &f->fm_t, "taftan", 2, h1, "Taftan", text1, NULL),
			 PL_ERR_SEQUENCE);
	assert_true(detail_has("the first is version 1"));
	assert_int_equal(fx_draft(f, &f->fm_t, "taftan", 1, NULL, "Taftan", text1, h1), 0);
	/* another version 1, a gap, a wrong previous hash */
	assert_int_equal(fx_draft(f, &f->fm_i, "taftan", 1, NULL, "Taftan", text2, NULL),
			 PL_ERR_SEQUENCE);
	assert_int_equal(fx_draft(f, &f->fm_i, "taftan", 3, h1, "Taftan", text2, NULL),
			 PL_ERR_SEQUENCE);
	assert_true(detail_has("does not follow version 1"));
	memset(hx, 0x5a, sizeof(hx));
	assert_int_equal(fx_draft(f, &f->fm_i, "taftan", 2, hx, "Taftan", text2, NULL),
			 PL_ERR_SEQUENCE);
	assert_true(detail_has("another previous version"));
	/* the right one, by the other state; any member may draft */
	assert_int_equal(fx_draft(f, &f->fm_i, "taftan", 2, h1, "Taftan, revised", text2, h2), 0);
	assert_int_equal(fx_draft(f, &f->duty_t, "taftan", 3, h2, "Taftan, revised", text2, NULL),
			 0);
	/* a body that does not decode */
	uint8_t id[PL_HASH_BYTES];
	size_t elen = 0;
	static const uint8_t junk[] = {0xa1, 0x61, 0x78, 0x01};
	uint8_t *env = fx_env(&f->fm_t, PL_STMT_KIND, junk, sizeof(junk), &elen, id);
	assert_int_equal(fx_take(f, &f->fm_t, env, elen, T0), PL_ERR_MALFORMED);
	free(env);
	env = fx_env(&f->fm_t, PL_STMT_SIGN_KIND, junk, sizeof(junk), &elen, id);
	assert_int_equal(fx_take(f, &f->fm_t, env, elen, T0), PL_ERR_MALFORMED);
	free(env);
	/* other kinds pass untouched */
	env = fx_env(&f->fm_t, "message", junk, sizeof(junk), &elen, id);
	assert_int_equal(fx_take(f, &f->fm_t, env, elen, T0), 0);
	free(env);

	/* the record: three versions chained, with their authors, hashes and texts */
	int code = 0;
	json_t *j = stmt_json(f->n, "border", "taftan", &code);
	assert_non_null(j);
	assert_string_equal(jstr(j, "channel"), "border");
	assert_string_equal(jstr(j, "stmt"), "taftan");
	assert_string_equal(jstr(j, "title"), "Taftan, revised");
	assert_null(json_object_get(j, "format"));
	assert_true(json_is_null(json_object_get(j, "adopted")));
	json_t *vs = json_object_get(j, "versions");
	assert_int_equal(json_array_size(vs), 3);
	char want[2 * PL_HASH_BYTES + 1];
	pl_hex_encode(want, h1, PL_HASH_BYTES);
	assert_string_equal(jstr(json_array_get(vs, 0), "hash"), want);
	pl_hex_encode(want, h2, PL_HASH_BYTES);
	assert_string_equal(jstr(json_array_get(vs, 1), "hash"), want);
	assert_string_equal(jstr(json_array_get(vs, 1), "state"), "islamabad");
	assert_string_equal(jstr(json_array_get(vs, 1), "author"), "fm");
	assert_string_equal(jstr(json_array_get(vs, 2), "author"), "duty");
	hex_of_text(want, text2);
	assert_string_equal(jstr(json_array_get(vs, 1), "text_sha256"), want);
	assert_string_equal(jstr(json_object_get(j, "texts"), "1"), text1);
	assert_string_equal(jstr(json_object_get(j, "texts"), "2"), text2);
	json_decref(j);
	assert_null(stmt_take_events(f->n));
	fx_free(f);
}

/* ------------------------------------------------------------ signatures */

/* A signature of version v of stmt by o with one byte of its minisign
 * signature flipped (or its global signature when gsig). */
static int sign_tampered(fx *f, fx_official *o, const char *stmt, uint64_t v, const char *text,
			 bool gsig)
{
	pl_stmt s;
	memset(&s, 0, sizeof(s));
	snprintf(s.stmt, sizeof(s.stmt), "%s", stmt);
	s.v = v;
	snprintf(s.title, sizeof(s.title), "t");
	s.text = text;
	s.text_len = strlen(text);
	uint8_t *body = NULL, id[PL_HASH_BYTES];
	size_t blen = 0, elen = 0;
	pl_stmt_sig sig;
	assert_int_equal(pl_stmt_sign(&s, o->state, o->id, &o->kp, &body, &blen, &sig), 0);
	free(body);
	if (gsig)
		sig.gsig[5] ^= 1;
	else
		sig.minisig[20] ^= 1;
	assert_int_equal(pl_stmt_sig_encode(&sig, &body, &blen), 0);
	uint8_t *env = fx_env(o, PL_STMT_SIGN_KIND, body, blen, &elen, id);
	int rc = fx_take(f, o, env, elen, T0);
	free(env);
	free(body);
	return rc;
}

static void test_signatures(void **state)
{
	(void)state;
	fx *f = fx_new("stmt-sigs");
	uint8_t h1[PL_HASH_BYTES];
	/* nothing to sign yet */
	assert_int_equal(fx_sign(f, &f->fm_t, "taftan", 1, text1, T0), PL_ERR_NOT_FOUND);
	assert_true(detail_has("no version 1"));
	assert_int_equal(fx_draft(f, &f->fm_t, "taftan", 1, NULL, "Taftan", text1, h1), 0);
	assert_int_equal(fx_draft(f, &f->fm_i, "taftan", 2, h1, "Taftan", text2, NULL), 0);
	assert_int_equal(fx_sign(f, &f->fm_t, "taftan", 3, text2, T0), PL_ERR_NOT_FOUND);
	/* a text that is not that version's */
	assert_int_equal(fx_sign(f, &f->fm_t, "taftan", 2, text1, T0), PL_ERR_CONFLICT);
	assert_true(detail_has("version 2 of statement taftan has text sha256"));
	/* an official without the role */
	assert_int_equal(fx_sign(f, &f->duty_t, "taftan", 2, text2, T0), PL_ERR_NOT_MEMBER);
	assert_true(detail_has("does not hold the role \"signatory\""));
	assert_true(detail_has("duty@tehran"));
	/* minisign parts that do not verify */
	assert_int_equal(sign_tampered(f, &f->fm_t, "taftan", 2, text2, false),
			 PL_ERR_BAD_SIGNATURE);
	assert_int_equal(sign_tampered(f, &f->fm_t, "taftan", 2, text2, true),
			 PL_ERR_BAD_SIGNATURE);
	/* another signer's signature carried by fm: the trusted comment names
	 * islamabad's fm, the envelope is tehran's */
	{
		pl_stmt s;
		memset(&s, 0, sizeof(s));
		snprintf(s.stmt, sizeof(s.stmt), "taftan");
		s.v = 2;
		snprintf(s.title, sizeof(s.title), "t");
		s.text = text2;
		s.text_len = strlen(text2);
		uint8_t *body = NULL, id[PL_HASH_BYTES];
		size_t blen = 0, elen = 0;
		assert_int_equal(
		    pl_stmt_sign(&s, "islamabad", "fm", &f->fm_t.kp, &body, &blen, NULL), 0);
		uint8_t *env = fx_env(&f->fm_t, PL_STMT_SIGN_KIND, body, blen, &elen, id);
		assert_int_equal(fx_take(f, &f->fm_t, env, elen, T0), PL_ERR_CONFLICT);
		assert_true(detail_has("trusted comment"));
		free(env);
		free(body);
	}
	/* the good one: not adopted yet */
	assert_int_equal(fx_sign(f, &f->fm_t, "taftan", 2, text2, T0 + 10), 0);
	assert_null(stmt_take_events(f->n));
	int code = 0;
	assert_null(stmt_bundle_json(f->n, "border", "taftan", &code));
	assert_int_equal(code, 409);
	/* a state signs a version once */
	assert_int_equal(fx_sign(f, &f->fm_t, "taftan", 2, text2, T0), PL_ERR_EXISTS);
	assert_true(detail_has("tehran has already signed version 2"));
	/* the other state: adopted, one event */
	assert_int_equal(fx_sign(f, &f->fm_i, "taftan", 2, text2, T0 + 20), 0);
	json_t *ev = stmt_take_events(f->n);
	assert_non_null(ev);
	assert_int_equal(json_array_size(ev), 1);
	json_t *e = json_array_get(ev, 0);
	assert_string_equal(jstr(e, "channel"), "border");
	assert_string_equal(jstr(e, "stmt"), "taftan");
	assert_int_equal(json_integer_value(json_object_get(e, "v")), 2);
	assert_true(json_is_true(json_object_get(e, "adopted")));
	json_decref(ev);
	assert_null(stmt_take_events(f->n));
	json_t *j = stmt_json(f->n, "border", "taftan", &code);
	assert_non_null(j);
	json_t *a = json_object_get(j, "adopted");
	char want[2 * PL_HASH_BYTES + 1];
	hex_of_text(want, text2);
	assert_int_equal(json_integer_value(json_object_get(a, "v")), 2);
	assert_string_equal(jstr(a, "text_sha256"), want);
	assert_string_equal(jstr(a, "at"), "2027-01-01T00:00:20Z");
	json_t *sigs = json_object_get(j, "signatures");
	assert_int_equal(json_array_size(sigs), 2);
	assert_string_equal(jstr(json_array_get(sigs, 0), "state"), "tehran");
	assert_string_equal(jstr(json_array_get(sigs, 0), "signer"), "fm");
	assert_string_equal(jstr(json_array_get(sigs, 1), "state"), "islamabad");
	json_decref(j);
	fx_free(f);
}

/* Signatures over different texts never add up. */
static void test_different_texts(void **state)
{
	(void)state;
	fx *f = fx_new("stmt-differ");
	uint8_t h1[PL_HASH_BYTES];
	assert_int_equal(fx_draft(f, &f->fm_t, "taftan", 1, NULL, "Taftan", text1, h1), 0);
	assert_int_equal(fx_draft(f, &f->fm_i, "taftan", 2, h1, "Taftan", text2, NULL), 0);
	assert_int_equal(fx_sign(f, &f->fm_t, "taftan", 1, text1, T0), 0);
	assert_int_equal(fx_sign(f, &f->fm_i, "taftan", 2, text2, T0), 0);
	assert_null(stmt_take_events(f->n));
	int code = 0;
	json_t *j = stmt_json(f->n, "border", "taftan", &code);
	assert_true(json_is_null(json_object_get(j, "adopted")));
	json_decref(j);
	assert_null(stmt_bundle_json(f->n, "border", "taftan", &code));
	assert_int_equal(code, 409);
	assert_true(detail_has("is not adopted: "));
	assert_true(detail_has("(the states signed different texts)"));
	json_t *all = stmt_adopted_json(f->n, 0);
	assert_int_equal(json_array_size(all), 0);
	json_decref(all);
	/* until one signs the other's text */
	assert_int_equal(fx_sign(f, &f->fm_t, "taftan", 2, text2, T0 + 5), 0);
	json_t *ev = stmt_take_events(f->n);
	assert_int_equal(json_array_size(ev), 1);
	json_decref(ev);
	j = stmt_json(f->n, "border", "taftan", &code);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "adopted"), "v")),
			 2);
	json_decref(j);
	fx_free(f);
}

/* ------------------------------------------------------------ views */

static void test_views(void **state)
{
	(void)state;
	fx *f = fx_new("stmt-views");
	uint8_t h1[PL_HASH_BYTES];
	assert_int_equal(fx_draft(f, &f->fm_t, "taftan", 1, NULL, "Taftan", text1, h1), 0);
	assert_int_equal(fx_sign(f, &f->fm_t, "taftan", 1, text1, T0), 0);
	assert_int_equal(fx_sign(f, &f->fm_i, "taftan", 1, text1, T0 + 100), 0);
	assert_int_equal(fx_draft(f, &f->fm_i, "chaman", 1, NULL, "Chaman", text2, NULL), 0);
	assert_int_equal(fx_sign(f, &f->fm_t, "chaman", 1, text2, T0), 0);
	assert_int_equal(fx_sign(f, &f->fm_i, "chaman", 1, text2, T0 + 200), 0);
	assert_int_equal(fx_draft(f, &f->fm_i, "draft-only", 1, NULL, "Draft", text2, NULL), 0);
	json_decref(stmt_take_events(f->n));

	int code = 0;
	json_t *l = stmt_list_json(f->n, "border", &code);
	assert_non_null(l);
	json_t *ss = json_object_get(l, "statements");
	assert_int_equal(json_array_size(ss), 3);
	assert_string_equal(jstr(json_array_get(ss, 0), "stmt"), "chaman");
	assert_string_equal(jstr(json_array_get(ss, 2), "stmt"), "taftan");
	assert_null(json_object_get(json_array_get(ss, 0), "texts"));
	json_decref(l);
	code = 0;
	assert_null(stmt_list_json(f->n, "nowhere", &code));
	assert_int_equal(code, 404);
	code = 0;
	assert_null(stmt_list_json(f->n, "../etc", &code));
	assert_int_equal(code, 404);
	code = 0;
	assert_null(stmt_json(f->n, "border", "nosuch", &code));
	assert_int_equal(code, 404);
	code = 0;
	assert_null(stmt_json(f->n, "border", "Bad/Name", &code));
	assert_int_equal(code, 404);
	code = 0;
	assert_null(stmt_bundle_json(f->n, "border", "nosuch", &code));
	assert_int_equal(code, 404);
	code = 0;
	assert_null(stmt_bundle_json(f->n, "border", "draft-only", &code));
	assert_int_equal(code, 409);

	/* adopted ones, newest adoption first, bounded */
	json_t *all = stmt_adopted_json(f->n, 0);
	assert_int_equal(json_array_size(all), 2);
	assert_string_equal(jstr(json_array_get(all, 0), "stmt"), "chaman");
	assert_string_equal(jstr(json_array_get(all, 1), "stmt"), "taftan");
	json_decref(all);
	all = stmt_adopted_json(f->n, 1);
	assert_int_equal(json_array_size(all), 1);
	assert_string_equal(jstr(json_array_get(all, 0), "stmt"), "chaman");
	json_decref(all);

	/* the bundle: every field the publisher and the verifier read */
	json_t *b = stmt_bundle_json(f->n, "border", "taftan", &code);
	assert_non_null(b);
	assert_string_equal(jstr(b, "format"), "parley-statement-bundle/1");
	assert_string_equal(jstr(b, "channel"), "border");
	assert_string_equal(jstr(b, "stmt"), "taftan");
	assert_int_equal(json_integer_value(json_object_get(b, "v")), 1);
	assert_string_equal(jstr(b, "title"), "Taftan");
	assert_string_equal(jstr(b, "text"), text1);
	char want[2 * PL_HASH_BYTES + 1];
	hex_of_text(want, text1);
	assert_string_equal(jstr(b, "text_sha256"), want);
	uint8_t *ch = NULL;
	size_t chlen = 0;
	assert_int_equal(nstore_obj_get(f->n->db, NSTORE_CHARTER, "border", &ch, &chlen), 0);
	assert_b64(b, "charter", ch, chlen);
	free(ch);
	assert_true(json_is_array(json_object_get(b, "proofs")));
	assert_int_equal(json_array_size(json_object_get(b, "proofs")), 0); /* no transcript */
	json_t *states = json_object_get(b, "states");
	assert_int_equal(json_array_size(states), 2);
	const pl_charter *c = core_charter_lookup(f->n, "border");
	for (size_t i = 0; i < 2; i++) {
		json_t *st = json_array_get(states, i);
		const char *name = jstr(st, "state");
		assert_non_null(name);
		pl_keypair *root = strcmp(name, "tehran") == 0 ? &f->root_t : &f->root_i;
		assert_b64(st, "root", root->pk, PL_PK_BYTES);
		assert_string_equal(jstr(st, "signer"), "fm");
		const pl_charter_member *m = pl_charter_find_member(c, name, "fm");
		assert_b64(st, "credential", m->raw, m->raw_len);
		assert_true(json_is_null(json_object_get(st, "status_list")));
		char file[80];
		snprintf(file, sizeof(file), "%s.minisig", name);
		assert_string_equal(jstr(st, "minisig"), file);
		snprintf(file, sizeof(file), "%s.pub", name);
		assert_string_equal(jstr(st, "pubkey"), file);
		/* the envelope is that state's statement-sign of this text */
		const char *eb = jstr(st, "envelope");
		uint8_t *raw = malloc(strlen(eb));
		size_t rl = 0;
		assert_int_equal(pl_b64_decode(raw, strlen(eb), &rl, eb, strlen(eb)), 0);
		pl_env env;
		assert_int_equal(pl_env_parse(raw, rl, &env), 0);
		assert_string_equal(env.kind, PL_STMT_SIGN_KIND);
		assert_string_equal(env.state, name);
		pl_stmt_sig sig;
		assert_int_equal(pl_stmt_sig_decode(env.body, env.body_len, &sig), 0);
		assert_int_equal(sig.v, 1);
		assert_int_equal(
		    pl_stmt_sig_verify(&sig, m->cred.pk, name, "fm", text1, strlen(text1)), 0);
		pl_env_clear(&env);
		free(raw);
	}
	json_decref(b);
	fx_free(f);
}

/* A signature for a later version with the same text (a title change)
 * counts for that text; the bundle prefers each state's signature of the
 * adopted version. */
static void test_same_text_new_title(void **state)
{
	(void)state;
	fx *f = fx_new("stmt-title");
	uint8_t h1[PL_HASH_BYTES];
	assert_int_equal(fx_draft(f, &f->fm_t, "taftan", 1, NULL, "Taftan", text1, h1), 0);
	assert_int_equal(fx_draft(f, &f->fm_i, "taftan", 2, h1, "Taftan crossing", text1, NULL), 0);
	assert_int_equal(fx_sign(f, &f->fm_t, "taftan", 1, text1, T0), 0);
	assert_int_equal(fx_sign(f, &f->fm_t, "taftan", 2, text1, T0), 0);
	assert_int_equal(fx_sign(f, &f->fm_i, "taftan", 2, text1, T0 + 1), 0);
	int code = 0;
	json_t *b = stmt_bundle_json(f->n, "border", "taftan", &code);
	assert_non_null(b);
	assert_int_equal(json_integer_value(json_object_get(b, "v")), 2);
	assert_string_equal(jstr(b, "title"), "Taftan crossing");
	json_t *st = json_array_get(json_object_get(b, "states"), 0);
	const char *eb = jstr(st, "envelope");
	uint8_t *raw = malloc(strlen(eb));
	size_t rl = 0;
	assert_int_equal(pl_b64_decode(raw, strlen(eb), &rl, eb, strlen(eb)), 0);
	pl_env env;
	assert_int_equal(pl_env_parse(raw, rl, &env), 0);
	pl_stmt_sig sig;
	assert_int_equal(pl_stmt_sig_decode(env.body, env.body_len, &sig), 0);
	assert_int_equal(sig.v, 2);
	pl_env_clear(&env);
	free(raw);
	json_decref(b);
	json_decref(stmt_take_events(f->n));
	fx_free(f);
}

int main(void)
{
	if (pl_crypto_init() != 0)
		return 1;
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_versions),
	    cmocka_unit_test(test_signatures),
	    cmocka_unit_test(test_different_texts),
	    cmocka_unit_test(test_views),
	    cmocka_unit_test(test_same_text_new_title),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
