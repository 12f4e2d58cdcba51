/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Joint statements on the node (stmt.h; docs/statements.md, "On the
 * node"): the checks every node runs on "statement" and "statement-sign"
 * envelopes, the statement record kept for each statement, the adoption
 * rule applied as signatures arrive, and the JSON views the API and the
 * public feed serve.
 *
 * The record (NSTORE_STMT, key "CH/STMT") is JSON: the API's SUMMARY
 * object plus a format tag.  It holds hashes, ids and times, never texts:
 * a version's text is read back from its envelope when it is needed (a
 * signature check, a view, a bundle).  Nothing here does I/O beyond the
 * node store, and nothing here is trusted from a peer without the checks
 * of stmt_check(): the record only ever grows by envelopes that passed.
 *
 * Divisions: helpers; the record; checking; applying; views.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core_int.h"
#include "parley/err.h"
#include "parley/statement.h"
#include "parley/time.h"
#include "stmt.h"

#define H             PL_HASH_BYTES
#define RECORD_FORMAT "parley/stmt-record/1"
#define KEY_CAP       (2 * PL_NAME_MAX + 2)

/* ================================================================ helpers */

static const char *jstr(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static uint64_t ju64(const json_t *o, const char *key)
{
	json_int_t v = json_integer_value(json_object_get(o, key));
	return v > 0 ? (uint64_t)v : 0;
}

static json_t *json_hex(const uint8_t p[H])
{
	char hx[2 * H + 1];
	pl_hex_encode(hx, p, H);
	return json_string(hx);
}

static json_t *json_time(int64_t t)
{
	char s[PL_TIME_LEN];
	pl_time_format(s, t);
	return json_string(s);
}

static json_t *json_b64(const uint8_t *p, size_t n)
{
	char *s = malloc(pl_b64_len(n));
	if (!s)
		return NULL;
	pl_b64_encode(s, p, n);
	json_t *j = json_string(s);
	free(s);
	return j;
}

/* The 32-byte hash in hex member key of o; false when absent or malformed. */
static bool hex_field(const json_t *o, const char *key, uint8_t out[H])
{
	const char *s = jstr(o, key);
	size_t got = 0;
	return s && strlen(s) == 2 * H && pl_hex_decode(out, H, &got, s, 2 * H) == 0 && got == H;
}

static bool same_hash(const json_t *o, const char *key, const uint8_t h[H])
{
	uint8_t have[H];
	return hex_field(o, key, have) && memcmp(have, h, H) == 0;
}

/* ================================================================ the record */

static int rec_key(char out[KEY_CAP], const char *ch, const char *stmt)
{
	if (!ch || !stmt || !pl_name_is_valid(ch) || !pl_name_is_valid(stmt))
		return pl_err_fail(PL_ERR_NOT_FOUND, "no statement %s on channel %s",
				   stmt ? stmt : "?", ch ? ch : "?");
	snprintf(out, KEY_CAP, "%s/%s", ch, stmt);
	return 0;
}

/* Parse a stored record; NULL when it is not one (a damaged store). */
static json_t *rec_parse(const uint8_t *p, size_t len)
{
	json_t *j = json_loadb((const char *)p, len, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(j) || !jstr(j, "format") ||
	    strcmp(jstr(j, "format"), RECORD_FORMAT) != 0 ||
	    !json_is_array(json_object_get(j, "versions")) ||
	    !json_is_array(json_object_get(j, "signatures"))) {
		json_decref(j);
		return NULL;
	}
	return j;
}

/* The record of CH/STMT into *out (a new reference): 0, PL_ERR_NOT_FOUND,
 * or a store error (PL_ERR_CORRUPT for a record that does not parse). */
static int rec_get(node_core *n, const char *ch, const char *stmt, json_t **out)
{
	*out = NULL;
	char key[KEY_CAP];
	int rc = rec_key(key, ch, stmt);
	if (rc)
		return rc;
	uint8_t *p = NULL;
	size_t len = 0;
	rc = nstore_obj_get(n->db, NSTORE_STMT, key, &p, &len);
	if (rc == PL_ERR_NOT_FOUND)
		return pl_err_fail(PL_ERR_NOT_FOUND, "no statement %s on channel %s", stmt, ch);
	if (rc)
		return rc;
	*out = rec_parse(p, len);
	free(p);
	if (!*out)
		return pl_err_fail(PL_ERR_CORRUPT, "the record of statement %s is damaged", key);
	return 0;
}

static int rec_put(node_core *n, const char *ch, const char *stmt, const json_t *rec)
{
	char key[KEY_CAP];
	int rc = rec_key(key, ch, stmt);
	if (rc)
		return rc;
	return nstore_json_put(n->db, NSTORE_STMT, key, json_incref((json_t *)rec));
}

/* The version v of rec (borrowed), or NULL. */
static json_t *rec_version(const json_t *rec, uint64_t v)
{
	size_t i;
	json_t *ver;
	json_array_foreach(json_object_get(rec, "versions"), i, ver)
	{
		if (ju64(ver, "v") == v)
			return ver;
	}
	return NULL;
}

/* The record as the API shows it: a copy without the format tag. */
static json_t *rec_summary(const json_t *rec)
{
	json_t *s = json_deep_copy(rec);
	if (s)
		json_object_del(s, "format");
	return s;
}

/* The text of version ver (a record entry): its envelope, read back and
 * decoded into *s (release with pl_stmt_clear). */
static int version_text(node_core *n, const json_t *ver, pl_stmt *s)
{
	memset(s, 0, sizeof(*s));
	uint8_t id[H];
	if (!hex_field(ver, "id", id))
		return pl_err_fail(PL_ERR_CORRUPT, "a statement record names no envelope");
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc = nstore_env_get(n->db, id, &buf, &len, NULL);
	if (rc == PL_ERR_NOT_FOUND)
		return pl_err_fail(PL_ERR_CORRUPT,
				   "the envelope of statement version %" PRIu64
				   " is missing from the store",
				   ju64(ver, "v"));
	if (rc)
		return rc;
	pl_env env;
	rc = pl_env_parse(buf, len, &env);
	free(buf);
	if (!rc)
		rc = pl_stmt_decode(env.body, env.body_len, s);
	pl_env_clear(&env);
	if (rc && rc != PL_ERR_NOMEM)
		rc = pl_err_fail(PL_ERR_CORRUPT, "the stored envelope of a statement version: %s",
				 pl_err_detail());
	return rc;
}

/* ================================================================ checking */

static int check_version(node_core *n, const pl_env *env)
{
	pl_stmt s;
	int rc = pl_stmt_decode(env->body, env->body_len, &s);
	if (rc)
		return rc == PL_ERR_NOMEM
			   ? rc
			   : pl_err_fail(PL_ERR_MALFORMED, "the statement body does not decode: %s",
					 pl_err_detail());
	json_t *rec = NULL;
	rc = rec_get(n, env->ch, s.stmt, &rec);
	if (rc == PL_ERR_NOT_FOUND) {
		rc = s.v == 1 ? 0
			      : pl_err_fail(PL_ERR_SEQUENCE,
					    "statement %s has no version on channel %s yet: the "
					    "first is version 1, not %" PRIu64,
					    s.stmt, env->ch, s.v);
	} else if (!rc) {
		json_t *vs = json_object_get(rec, "versions");
		const json_t *last = json_array_get(vs, json_array_size(vs) - 1);
		pl_stmt prev;
		uint8_t hash[H];
		memset(&prev, 0, sizeof(prev));
		memcpy(prev.stmt, s.stmt, sizeof(prev.stmt));
		prev.v = ju64(last, "v");
		if (!last || !hex_field(last, "hash", hash))
			rc = pl_err_fail(PL_ERR_CORRUPT, "the record of statement %s is damaged",
					 s.stmt);
		else
			rc = pl_stmt_check_next(&prev, hash, &s);
	}
	json_decref(rec);
	pl_stmt_clear(&s);
	return rc;
}

static int check_sign(node_core *n, const pl_env *env)
{
	pl_stmt_sig sig;
	int rc = pl_stmt_sig_decode(env->body, env->body_len, &sig);
	if (rc)
		return rc == PL_ERR_NOMEM
			   ? rc
			   : pl_err_fail(PL_ERR_MALFORMED,
					 "the statement-sign body does not decode: %s",
					 pl_err_detail());
	json_t *rec = NULL;
	rc = rec_get(n, env->ch, sig.stmt, &rec);
	if (rc == PL_ERR_NOT_FOUND)
		return pl_err_fail(PL_ERR_NOT_FOUND,
				   "statement %s has no version %" PRIu64 " on channel %s here",
				   sig.stmt, sig.v, env->ch);
	if (rc)
		return rc;
	const json_t *ver = rec_version(rec, sig.v);
	const pl_charter *c = core_charter_lookup(n, env->ch);
	const pl_charter_member *m = c ? pl_charter_find_member(c, env->state, env->author) : NULL;
	char have[2 * H + 1];
	pl_hex_encode(have, sig.text_sha256, H);
	if (!ver) {
		rc = pl_err_fail(PL_ERR_NOT_FOUND,
				 "statement %s has no version %" PRIu64 " on channel %s here",
				 sig.stmt, sig.v, env->ch);
	} else if (!same_hash(ver, "text_sha256", sig.text_sha256)) {
		rc = pl_err_fail(PL_ERR_CONFLICT,
				 "the signature is of text sha256 %s, but version %" PRIu64
				 " of statement %s has text sha256 %s",
				 have, sig.v, sig.stmt, jstr(ver, "text_sha256"));
	} else if (!m) {
		rc = pl_err_fail(PL_ERR_NOT_MEMBER, "%s@%s is not a member of channel %s",
				 env->author, env->state, env->ch);
	} else if (!pl_cred_has_role(&m->cred, PL_STMT_ROLE_SIGNATORY)) {
		rc = pl_err_fail(PL_ERR_NOT_MEMBER,
				 "%s@%s does not hold the role \"%s\": only a signatory may sign a "
				 "statement",
				 env->author, env->state, PL_STMT_ROLE_SIGNATORY);
	}
	size_t i;
	json_t *s;
	json_array_foreach(json_object_get(rec, "signatures"), i, s)
	{
		if (rc)
			break;
		const char *st = jstr(s, "state");
		if (st && strcmp(st, env->state) == 0 && ju64(s, "v") == sig.v)
			rc = pl_err_fail(PL_ERR_EXISTS,
					 "%s has already signed version %" PRIu64
					 " of statement %s (by %s)",
					 env->state, sig.v, sig.stmt, jstr(s, "signer"));
	}
	if (!rc) {
		pl_stmt text;
		rc = version_text(n, ver, &text);
		if (!rc)
			rc = pl_stmt_sig_verify(&sig, m->cred.pk, env->state, env->author,
						text.text, text.text_len);
		pl_stmt_clear(&text);
	}
	json_decref(rec);
	return rc;
}

int stmt_check(node_core *n, const pl_env *env)
{
	if (strcmp(env->kind, PL_STMT_KIND) == 0)
		return check_version(n, env);
	if (strcmp(env->kind, PL_STMT_SIGN_KIND) == 0)
		return check_sign(n, env);
	return 0;
}

/* ================================================================ applying */

static int apply_version(node_core *n, const pl_env *env, const uint8_t id[H])
{
	pl_stmt s;
	int rc = pl_stmt_decode(env->body, env->body_len, &s);
	if (rc)
		return rc;
	json_t *rec = NULL;
	rc = rec_get(n, env->ch, s.stmt, &rec);
	if (rc == PL_ERR_NOT_FOUND) {
		rec = json_pack("{s:s,s:s,s:s,s:[],s:[],s:n}", "format", RECORD_FORMAT, "channel",
				env->ch, "stmt", s.stmt, "versions", "signatures", "adopted");
		rc = rec ? 0 : PL_ERR_NOMEM;
	}
	uint8_t vh[H], th[H];
	pl_stmt_version_hash(vh, env->body, env->body_len);
	pl_stmt_text_hash(th, s.text, s.text_len);
	json_t *ver = NULL;
	if (!rc) {
		ver = json_pack("{s:I,s:o,s:o,s:o,s:s,s:s,s:o,s:s}", "v", (json_int_t)s.v, "hash",
				json_hex(vh), "text_sha256", json_hex(th), "id", json_hex(id),
				"state", env->state, "author", env->author, "at",
				json_time(env->at), "title", s.title);
		if (!ver || json_array_append_new(json_object_get(rec, "versions"), ver) != 0 ||
		    json_object_set_new(rec, "title", json_string(s.title)) != 0)
			rc = PL_ERR_NOMEM;
	}
	if (!rc)
		rc = rec_put(n, env->ch, s.stmt, rec);
	json_decref(rec);
	pl_stmt_clear(&s);
	return rc;
}

/* Note an event for after the commit (stmt_take_events). */
static int note_event(node_core *n, const char *ch, const char *stmt, uint64_t v)
{
	if (!n->stmt_events)
		n->stmt_events = json_array();
	json_t *e = json_pack("{s:s,s:s,s:I,s:b}", "channel", ch, "stmt", stmt, "v", (json_int_t)v,
			      "adopted", 1);
	if (!n->stmt_events || !e || json_array_append_new(n->stmt_events, e) != 0)
		return PL_ERR_NOMEM;
	return 0;
}

/* The adoption rule over rec's signatures under channel ch's charter: 0
 * with *v and th set, PL_ERR_UNSIGNED with pl_stmt_check_adopted()'s
 * detail (who has not signed what), PL_ERR_UNKNOWN_CHANNEL, PL_ERR_NOMEM. */
static int adoption(node_core *n, const char *ch, const json_t *rec, uint64_t *v, uint8_t th[H])
{
	const pl_charter *c = core_charter_lookup(n, ch);
	if (!c)
		return pl_err_fail(PL_ERR_UNKNOWN_CHANNEL,
				   "this node holds no charter for channel %s", ch);
	json_t *sigs = json_object_get(rec, "signatures");
	size_t ns = json_array_size(sigs), nv = 0;
	pl_stmt_vote *votes = calloc(ns ? ns : 1, sizeof(*votes));
	uint8_t(*hashes)[H] = calloc(ns ? ns : 1, H);
	if (!votes || !hashes) {
		free(votes);
		free(hashes);
		return PL_ERR_NOMEM;
	}
	size_t i;
	json_t *s;
	json_array_foreach(sigs, i, s)
	{
		if (!jstr(s, "state") || !hex_field(s, "text_sha256", hashes[nv]))
			continue;
		votes[nv] = (pl_stmt_vote){jstr(s, "state"), ju64(s, "v"), hashes[nv]};
		nv++;
	}
	int rc = pl_stmt_check_adopted(c, votes, nv, v, th);
	free(votes);
	free(hashes);
	return rc;
}

/* Apply the adoption rule to rec: *changed when rec's "adopted" was set or
 * moved to a newer version (*av). */
static int adopt(node_core *n, const char *ch, json_t *rec, int64_t now, bool *changed,
		 uint64_t *av)
{
	*changed = false;
	uint64_t v = 0;
	uint8_t th[H];
	int rc = adoption(n, ch, rec, &v, th);
	if (rc == PL_ERR_UNSIGNED || rc == PL_ERR_UNKNOWN_CHANNEL)
		return 0;
	if (rc)
		return rc;
	const json_t *old = json_object_get(rec, "adopted");
	if (json_is_object(old) && ju64(old, "v") == v && same_hash(old, "text_sha256", th))
		return 0;
	json_t *a = json_pack("{s:I,s:o,s:o}", "v", (json_int_t)v, "text_sha256", json_hex(th),
			      "at", json_time(now));
	if (!a || json_object_set_new(rec, "adopted", a) != 0)
		return PL_ERR_NOMEM;
	*changed = true;
	*av = v;
	return 0;
}

static int apply_sign(node_core *n, const pl_env *env, const uint8_t id[H], int64_t now)
{
	pl_stmt_sig sig;
	int rc = pl_stmt_sig_decode(env->body, env->body_len, &sig);
	if (rc)
		return rc;
	json_t *rec = NULL;
	rc = rec_get(n, env->ch, sig.stmt, &rec);
	if (rc)
		return rc;
	json_t *s =
	    json_pack("{s:s,s:s,s:I,s:o,s:o,s:o}", "state", env->state, "signer", env->author, "v",
		      (json_int_t)sig.v, "text_sha256", json_hex(sig.text_sha256), "id",
		      json_hex(id), "at", json_time(env->at));
	if (!s || json_array_append_new(json_object_get(rec, "signatures"), s) != 0)
		rc = PL_ERR_NOMEM;
	bool changed = false;
	uint64_t v = 0;
	if (!rc)
		rc = adopt(n, env->ch, rec, now, &changed, &v);
	if (!rc)
		rc = rec_put(n, env->ch, sig.stmt, rec);
	if (!rc && changed)
		rc = note_event(n, env->ch, sig.stmt, v);
	json_decref(rec);
	return rc;
}

int stmt_apply(node_core *n, const pl_env *env, const uint8_t id[PL_HASH_BYTES], int64_t now)
{
	if (strcmp(env->kind, PL_STMT_KIND) == 0)
		return apply_version(n, env, id);
	if (strcmp(env->kind, PL_STMT_SIGN_KIND) == 0)
		return apply_sign(n, env, id, now);
	return 0;
}

json_t *stmt_take_events(node_core *n)
{
	json_t *e = n->stmt_events;
	n->stmt_events = NULL;
	if (e && json_array_size(e) == 0) {
		json_decref(e);
		e = NULL;
	}
	return e;
}

/* ================================================================ views */

/* HTTP status for a failed read (see stmt.h). */
static int status_for(int rc)
{
	return rc == PL_ERR_NOT_FOUND || rc == PL_ERR_UNKNOWN_CHANNEL ? 404 : 500;
}

struct collect {
	json_t *out; /* array of summaries */
	bool adopted_only;
	int rc;
};

static int collect_cb(void *ctx, const char *key, const uint8_t *val, size_t len)
{
	struct collect *c = ctx;
	json_t *rec = rec_parse(val, len);
	if (!rec) {
		c->rc = pl_err_fail(PL_ERR_CORRUPT, "the record of statement %s is damaged", key);
		return c->rc;
	}
	if (!c->adopted_only || json_is_object(json_object_get(rec, "adopted"))) {
		json_t *s = rec_summary(rec);
		if (!s || json_array_append_new(c->out, s) != 0)
			c->rc = PL_ERR_NOMEM;
	}
	json_decref(rec);
	return c->rc;
}

json_t *stmt_list_json(node_core *n, const char *ch, int *code)
{
	if (!ch || !pl_name_is_valid(ch) || !core_charter_lookup(n, ch)) {
		pl_err_fail(PL_ERR_UNKNOWN_CHANNEL, "this node holds no charter for channel %s",
			    ch && pl_name_is_valid(ch) ? ch : "(invalid name)");
		*code = 404;
		return NULL;
	}
	char from[PL_NAME_MAX + 2], to[PL_NAME_MAX + 2];
	snprintf(from, sizeof(from), "%s/", ch);
	snprintf(to, sizeof(to), "%s0", ch); /* '0' follows '/' */
	struct collect c = {json_array(), false, 0};
	int rc = c.out ? nstore_obj_range(n->db, NSTORE_STMT, from, to, 0, collect_cb, &c)
		       : PL_ERR_NOMEM;
	if (!rc)
		rc = c.rc;
	json_t *j = rc ? NULL : json_pack("{s:O}", "statements", c.out);
	json_decref(c.out);
	if (!j)
		*code = 500;
	return j;
}

json_t *stmt_json(node_core *n, const char *ch, const char *stmt, int *code)
{
	json_t *rec = NULL;
	int rc = rec_get(n, ch, stmt, &rec);
	if (rc) {
		*code = status_for(rc);
		return NULL;
	}
	json_t *j = rec_summary(rec), *texts = json_object();
	rc = j && texts ? 0 : PL_ERR_NOMEM;
	size_t i;
	json_t *ver;
	json_array_foreach(json_object_get(rec, "versions"), i, ver)
	{
		if (rc)
			break;
		pl_stmt s;
		char k[24];
		snprintf(k, sizeof(k), "%" PRIu64, ju64(ver, "v"));
		rc = version_text(n, ver, &s);
		if (!rc && json_object_set_new(texts, k, json_stringn(s.text, s.text_len)) != 0)
			rc = PL_ERR_NOMEM;
		pl_stmt_clear(&s);
	}
	if (!rc && json_object_set(j, "texts", texts) != 0)
		rc = PL_ERR_NOMEM;
	json_decref(texts);
	json_decref(rec);
	if (rc) {
		json_decref(j);
		*code = status_for(rc);
		return NULL;
	}
	return j;
}

/* The signature of state to put in the bundle: over text th, preferring
 * version v (the adopted one); borrowed from rec, or NULL. */
static const json_t *bundle_sig(const json_t *rec, const char *state, uint64_t v,
				const uint8_t th[H])
{
	const json_t *best = NULL;
	size_t i;
	json_t *s;
	json_array_foreach(json_object_get(rec, "signatures"), i, s)
	{
		const char *st = jstr(s, "state");
		if (!st || strcmp(st, state) != 0 || !same_hash(s, "text_sha256", th))
			continue;
		if (!best || ju64(s, "v") == v ||
		    (ju64(best, "v") != v && ju64(s, "v") > ju64(best, "v")))
			best = s;
	}
	return best;
}

/* The proof of receipt of envelope id (hex member "id" of o) when one
 * exists that shows another state than author's logging it (what
 * `parley verify` accepts as a receipt); else nothing is added. */
static int add_proof(node_core *n, const json_t *o, const char *author_state, json_t *proofs)
{
	uint8_t id[H];
	if (!hex_field(o, "id", id))
		return 0;
	int code = 0;
	json_t *p = witness_proof_json(n, id, &code);
	if (!p)
		return code == PL_ERR_NOMEM ? PL_ERR_NOMEM : 0;
	bool receipt = false;
	size_t i;
	json_t *e;
	json_array_foreach(json_object_get(p, "proofs"), i, e)
	{
		const char *st = jstr(e, "state");
		receipt = receipt || (st && strcmp(st, author_state) != 0);
	}
	int rc = 0;
	if (receipt && json_array_append(proofs, p) != 0)
		rc = PL_ERR_NOMEM;
	json_decref(p);
	return rc;
}

/* The raw object kind/name from the store as base64, or JSON null when absent. */
static json_t *obj_b64(node_core *n, int kind, const char *name, int *rc)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	*rc = nstore_obj_get(n->db, kind, name, &buf, &len);
	if (*rc == PL_ERR_NOT_FOUND) {
		*rc = 0;
		return json_null();
	}
	if (*rc)
		return NULL;
	json_t *j = json_b64(buf, len);
	free(buf);
	if (!j)
		*rc = PL_ERR_NOMEM;
	return j;
}

/* One "states" entry of the bundle. */
static int bundle_state(node_core *n, const pl_charter *c, const char *state, const json_t *sig,
			json_t *states)
{
	const char *signer = jstr(sig, "signer");
	const pl_charter_member *m = signer ? pl_charter_find_member(c, state, signer) : NULL;
	const uint8_t *root = pl_trust_find(n->trust, state);
	uint8_t id[H];
	if (!m || !root || !hex_field(sig, "id", id))
		return pl_err_fail(PL_ERR_CORRUPT,
				   "the signature of %s names a signer, root or envelope this node "
				   "does not hold",
				   state);
	uint8_t *env = NULL;
	size_t elen = 0;
	int rc = nstore_env_get(n->db, id, &env, &elen, NULL);
	if (rc)
		return rc == PL_ERR_NOT_FOUND
			   ? pl_err_fail(PL_ERR_CORRUPT, "the signature envelope of %s is missing",
					 state)
			   : rc;
	json_t *sl = obj_b64(n, NSTORE_STATUS, state, &rc);
	char minisig[PL_NAME_MAX + 16], pub[PL_NAME_MAX + 16];
	snprintf(minisig, sizeof(minisig), "%s.minisig", state);
	snprintf(pub, sizeof(pub), "%s.pub", state);
	json_t *e = NULL;
	if (!rc)
		e = json_pack("{s:s,s:o,s:s,s:o,s:o,s:o,s:s,s:s}", "state", state, "root",
			      json_b64(root, PL_PK_BYTES), "signer", signer, "credential",
			      json_b64(m->raw, m->raw_len), "status_list", sl, "envelope",
			      json_b64(env, elen), "minisig", minisig, "pubkey", pub);
	else
		json_decref(sl);
	free(env);
	if (!rc && (!e || json_array_append_new(states, e) != 0))
		rc = PL_ERR_NOMEM;
	return rc;
}

json_t *stmt_bundle_json(node_core *n, const char *ch, const char *stmt, int *code)
{
	json_t *rec = NULL, *b = NULL, *states = NULL, *proofs = NULL, *charter = NULL;
	pl_stmt s;
	memset(&s, 0, sizeof(s));
	int rc = rec_get(n, ch, stmt, &rec);
	if (rc) {
		*code = status_for(rc);
		return NULL;
	}
	const json_t *a = json_object_get(rec, "adopted");
	const pl_charter *c = core_charter_lookup(n, ch);
	uint8_t th[H];
	uint64_t v = ju64(a, "v");
	const json_t *ver = rec_version(rec, v);
	if (!json_is_object(a)) {
		uint64_t dv = 0;
		char why[300];
		int arc = adoption(n, ch, rec, &dv, th);
		snprintf(why, sizeof(why), "%s",
			 arc == PL_ERR_UNSIGNED ? pl_err_detail() : "not adopted");
		pl_err_fail(PL_ERR_UNSIGNED, "statement %s on channel %s is %s", stmt, ch, why);
		*code = 409;
		goto out;
	}
	if (!c) {
		rc = pl_err_fail(PL_ERR_UNKNOWN_CHANNEL,
				 "this node holds no charter for channel %s", ch);
		goto fail;
	}
	if (!ver || !hex_field(a, "text_sha256", th)) {
		rc = pl_err_fail(PL_ERR_CORRUPT, "the record of statement %s/%s is damaged", ch,
				 stmt);
		goto fail;
	}
	rc = version_text(n, ver, &s);
	if (rc)
		goto fail;
	charter = obj_b64(n, NSTORE_CHARTER, ch, &rc);
	if (!rc && json_is_null(charter))
		rc = pl_err_fail(PL_ERR_CORRUPT, "the charter of channel %s is missing", ch);
	states = json_array();
	proofs = json_array();
	if (!rc && (!states || !proofs))
		rc = PL_ERR_NOMEM;
	if (!rc)
		rc = add_proof(n, ver, jstr(ver, "state") ? jstr(ver, "state") : "", proofs);
	for (size_t i = 0; !rc && i < c->nstates; i++) {
		const json_t *sig = bundle_sig(rec, c->states[i], v, th);
		if (!sig)
			continue; /* adopted under an older charter; verify will say so */
		rc = bundle_state(n, c, c->states[i], sig, states);
		if (!rc)
			rc = add_proof(n, sig, c->states[i], proofs);
	}
	if (rc)
		goto fail;
	char hx[2 * H + 1];
	pl_hex_encode(hx, th, H);
	b = json_pack("{s:s,s:s,s:s,s:I,s:s,s:s%,s:s,s:O,s:O,s:O}", "format",
		      "parley-statement-bundle/1", "channel", ch, "stmt", stmt, "v", (json_int_t)v,
		      "title", s.title, "text", s.text, s.text_len, "text_sha256", hx, "charter",
		      charter, "states", states, "proofs", proofs);
	if (!b) {
		rc = PL_ERR_NOMEM;
		goto fail;
	}
	goto out;
fail:
	*code = status_for(rc);
out:
	pl_stmt_clear(&s);
	json_decref(rec);
	json_decref(charter);
	json_decref(states);
	json_decref(proofs);
	return b;
}

/* Newest adoption first; the same time by channel and statement. */
static int adopted_cmp(const void *x, const void *y)
{
	json_t *const *a = x, *const *b = y;
	const char *ta = jstr(json_object_get(*a, "adopted"), "at");
	const char *tb = jstr(json_object_get(*b, "adopted"), "at");
	int64_t na = 0, nb = 0;
	if (!ta || pl_time_parse(ta, 0, &na) != 0)
		na = 0;
	if (!tb || pl_time_parse(tb, 0, &nb) != 0)
		nb = 0;
	if (na != nb)
		return na > nb ? -1 : 1;
	int c = strcmp(jstr(*a, "channel") ? jstr(*a, "channel") : "",
		       jstr(*b, "channel") ? jstr(*b, "channel") : "");
	return c ? c
		 : strcmp(jstr(*a, "stmt") ? jstr(*a, "stmt") : "",
			  jstr(*b, "stmt") ? jstr(*b, "stmt") : "");
}

json_t *stmt_adopted_json(node_core *n, size_t limit)
{
	struct collect c = {json_array(), true, 0};
	if (!c.out)
		return NULL;
	int rc = nstore_obj_list(n->db, NSTORE_STMT, collect_cb, &c);
	if (rc || c.rc) {
		json_decref(c.out);
		return NULL;
	}
	size_t k = json_array_size(c.out);
	json_t **all = calloc(k ? k : 1, sizeof(*all));
	json_t *out = json_array();
	if (!all || !out) {
		free(all);
		json_decref(out);
		json_decref(c.out);
		return NULL;
	}
	for (size_t i = 0; i < k; i++)
		all[i] = json_array_get(c.out, i);
	qsort(all, k, sizeof(*all), adopted_cmp);
	for (size_t i = 0; out && i < k && (limit == 0 || i < limit); i++)
		if (json_array_append(out, all[i]) != 0) {
			json_decref(out);
			out = NULL;
		}
	free(all);
	json_decref(c.out);
	return out;
}
