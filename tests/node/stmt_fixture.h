/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A node core made by hand for the tests of node/stmt.c and node/feed.c:
 * a node store in a temporary folder, two states (tehran, islamabad) with
 * real root keys, a signatory in each ("fm") and a duty officer without
 * the role in tehran ("duty"), and the complete charter of channel
 * "border" allowing statement and statement-sign.  Envelopes are signed
 * with the officials' keys and taken as the node takes them: stmt_check,
 * then stored and stmt_apply'd in one transaction.  No network, no
 * transcript (no proofs of receipt), no clock.  Header-only: each test
 * file includes it once.
 */
#ifndef PARLEY_TESTS_NODE_STMT_FIXTURE_H
#define PARLEY_TESTS_NODE_STMT_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core_int.h"
#include "parley/err.h"
#include "parley/statement.h"
#include "stmt.h"

#define T0 1798761600 /* 2027-01-01 */

typedef struct fx_official {
	const char *state, *id;
	pl_keypair kp;
	uint64_t seq;
	uint8_t last[PL_HASH_BYTES];
} fx_official;

typedef struct fx {
	char dir[512];
	node_core *n;
	pl_keypair root_t, root_i;
	fx_official fm_t, fm_i, duty_t;
} fx;

static void fx_key(pl_keypair *kp, uint8_t fill)
{
	uint8_t seed[PL_SEED_BYTES];
	memset(seed, fill, sizeof(seed));
	assert_int_equal(pl_key_from_seed(kp, seed), 0);
}

static uint8_t *fx_cred(const fx_official *o, const pl_keypair *root, const char *role, size_t *len)
{
	pl_cred c;
	memset(&c, 0, sizeof(c));
	snprintf(c.state, sizeof(c.state), "%s", o->state);
	snprintf(c.id, sizeof(c.id), "%s", o->id);
	snprintf(c.name, sizeof(c.name), "An Official");
	snprintf(c.title, sizeof(c.title), "Minister");
	snprintf(c.roles[0], sizeof(c.roles[0]), "%s", role);
	c.nroles = 1;
	memcpy(c.pk, o->kp.pk, PL_PK_BYTES);
	c.not_before = T0 - 86400;
	c.not_after = T0 + 365 * 86400;
	uint8_t *out = NULL;
	assert_int_equal(pl_cred_sign(&c, root, &out, len), 0);
	return out;
}

static fx *fx_new(const char *name)
{
	fx *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	const char *base = getenv("PARLEY_TEST_TMP");
	base = base && *base ? base : "/tmp";
	char cmd[700];
	snprintf(cmd, sizeof(cmd), "mkdir -p '%s'", base);
	assert_int_equal(system(cmd), 0);
	snprintf(f->dir, sizeof(f->dir), "%s/%s.XXXXXX", base, name);
	assert_non_null(mkdtemp(f->dir));
	fx_key(&f->root_t, 1);
	fx_key(&f->root_i, 2);
	f->fm_t = (fx_official){.state = "tehran", .id = "fm"};
	f->fm_i = (fx_official){.state = "islamabad", .id = "fm"};
	f->duty_t = (fx_official){.state = "tehran", .id = "duty"};
	fx_key(&f->fm_t.kp, 3);
	fx_key(&f->fm_i.kp, 4);
	fx_key(&f->duty_t.kp, 5);

	node_core *n = calloc(1, sizeof(*n));
	assert_non_null(n);
	f->n = n;
	char path[700];
	snprintf(path, sizeof(path), "%s/node.db", f->dir);
	assert_int_equal(nstore_open(path, &n->db), 0);
	snprintf(n->self.name, sizeof(n->self.name), "tehran");
	n->trust = pl_trust_new();
	assert_non_null(n->trust);
	assert_int_equal(pl_trust_add(n->trust, "tehran", f->root_t.pk), 0);
	assert_int_equal(pl_trust_add(n->trust, "islamabad", f->root_i.pk), 0);

	size_t l1, l2, l3;
	uint8_t *c1 = fx_cred(&f->fm_t, &f->root_t, PL_STMT_ROLE_SIGNATORY, &l1);
	uint8_t *c2 = fx_cred(&f->fm_i, &f->root_i, PL_STMT_ROLE_SIGNATORY, &l2);
	uint8_t *c3 = fx_cred(&f->duty_t, &f->root_t, "duty", &l3);
	pl_slice members[3] = {{.p = c1, .n = l1}, {.p = c2, .n = l2}, {.p = c3, .n = l3}};
	const char *states[] = {"tehran", "islamabad"};
	const char *kinds[] = {"message", PL_STMT_KIND, PL_STMT_SIGN_KIND};
	pl_charter_spec spec = {.name = "border",
				.version = 1,
				.created = T0,
				.states = states,
				.nstates = 2,
				.members = members,
				.nmembers = 3,
				.kinds = kinds,
				.nkinds = 3,
				.lanes = 1u << PL_LANE_ROUTINE};
	core_charter *cc = calloc(1, sizeof(*cc));
	assert_non_null(cc);
	snprintf(cc->name, sizeof(cc->name), "border");
	assert_int_equal(pl_charter_build(&spec, n->trust, &cc->c), 0);
	assert_int_equal(pl_charter_sign(&cc->c, n->trust, "tehran", &f->root_t), 0);
	assert_int_equal(pl_charter_sign(&cc->c, n->trust, "islamabad", &f->root_i), 0);
	assert_int_equal(pl_charter_check_complete(&cc->c), 0);
	cc->complete = true;
	n->charters[0] = cc;
	n->ncharters = 1;
	uint8_t *enc = NULL;
	size_t elen = 0;
	assert_int_equal(pl_charter_encode(&cc->c, &enc, &elen), 0);
	assert_int_equal(nstore_begin(n->db), 0);
	assert_int_equal(nstore_obj_put(n->db, NSTORE_CHARTER, "border", enc, elen), 0);
	assert_int_equal(nstore_commit(n->db), 0);
	free(enc);
	free(c1);
	free(c2);
	free(c3);
	return f;
}

static void fx_free(fx *f)
{
	node_core *n = f->n;
	for (size_t i = 0; i < n->ncharters; i++) {
		pl_charter_clear(&n->charters[i]->c);
		free(n->charters[i]);
	}
	json_decref(n->stmt_events);
	nstore_close(n->db);
	pl_trust_free(n->trust);
	free(n);
	char cmd[700];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
}

/* Sign body as an envelope of kind on channel "border" by o; *id gets its id. */
static uint8_t *fx_env(fx_official *o, const char *kind, const uint8_t *body, size_t blen,
		       size_t *len, uint8_t id[PL_HASH_BYTES])
{
	pl_env e;
	memset(&e, 0, sizeof(e));
	snprintf(e.ch, sizeof(e.ch), "border");
	e.at = T0 + (int64_t)o->seq * 60;
	snprintf(e.state, sizeof(e.state), "%s", o->state);
	snprintf(e.author, sizeof(e.author), "%s", o->id);
	e.seq = o->seq + 1;
	if (o->seq)
		memcpy(e.prev, o->last, PL_HASH_BYTES);
	e.lane = PL_LANE_ROUTINE;
	snprintf(e.kind, sizeof(e.kind), "%s", kind);
	e.body = body;
	e.body_len = blen;
	uint8_t *out = NULL;
	assert_int_equal(pl_env_sign(&e, &o->kp, &out, len), 0);
	pl_env_id(id, out, *len);
	return out;
}

/* Take envelope bytes as the node does: check, then store and apply in one
 * transaction (at time now).  Returns stmt_check's answer. */
static int fx_take(fx *f, fx_official *o, const uint8_t *buf, size_t len, int64_t now)
{
	node_core *n = f->n;
	pl_env env;
	assert_int_equal(pl_env_parse(buf, len, &env), 0);
	int rc = stmt_check(n, &env);
	if (rc == 0) {
		nstore_meta meta;
		memset(&meta, 0, sizeof(meta));
		snprintf(meta.ch, sizeof(meta.ch), "%s", env.ch);
		meta.lane = (int)env.lane;
		snprintf(meta.state, sizeof(meta.state), "%s", env.state);
		snprintf(meta.author, sizeof(meta.author), "%s", env.author);
		meta.seq = env.seq;
		meta.at = env.at;
		snprintf(meta.kind, sizeof(meta.kind), "%s", env.kind);
		snprintf(meta.origin, sizeof(meta.origin), "%s",
			 strcmp(env.state, "tehran") == 0 ? "local" : "islamabad");
		meta.received = now;
		assert_int_equal(nstore_begin(n->db), 0);
		assert_int_equal(witness_log(n, NSTORE_ENTRY_ENVELOPE, buf, len, NULL, env.id,
					     &meta.pos),
				 0);
		assert_int_equal(nstore_env_index(n->db, env.id, buf, len, &meta), 0);
		assert_int_equal(stmt_apply(n, &env, env.id, now), 0);
		assert_int_equal(nstore_commit(n->db), 0);
		o->seq++;
		memcpy(o->last, env.id, PL_HASH_BYTES);
	}
	pl_env_clear(&env);
	return rc;
}

/* Draft version v of stmt by o (prev: the version hash of v - 1, or NULL). */
static int fx_draft(fx *f, fx_official *o, const char *stmt, uint64_t v,
		    const uint8_t prev[PL_HASH_BYTES], const char *title, const char *text,
		    uint8_t vhash[PL_HASH_BYTES])
{
	pl_stmt s;
	memset(&s, 0, sizeof(s));
	snprintf(s.stmt, sizeof(s.stmt), "%s", stmt);
	s.v = v;
	if (prev)
		memcpy(s.prev, prev, PL_HASH_BYTES);
	snprintf(s.title, sizeof(s.title), "%s", title);
	s.text = text;
	s.text_len = strlen(text);
	uint8_t *body = NULL, id[PL_HASH_BYTES];
	size_t blen = 0, elen = 0;
	assert_int_equal(pl_stmt_encode(&s, &body, &blen), 0);
	if (vhash)
		pl_stmt_version_hash(vhash, body, blen);
	uint8_t *env = fx_env(o, PL_STMT_KIND, body, blen, &elen, id);
	int rc = fx_take(f, o, env, elen, T0);
	free(env);
	free(body);
	return rc;
}

/* Sign version v (with text, as it claims) of stmt by o, at time now. */
static int fx_sign(fx *f, fx_official *o, const char *stmt, uint64_t v, const char *text,
		   int64_t now)
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
	assert_int_equal(pl_stmt_sign(&s, o->state, o->id, &o->kp, &body, &blen, NULL), 0);
	uint8_t *env = fx_env(o, PL_STMT_SIGN_KIND, body, blen, &elen, id);
	int rc = fx_take(f, o, env, elen, now);
	free(env);
	free(body);
	return rc;
}

#endif /* PARLEY_TESTS_NODE_STMT_FIXTURE_H */
