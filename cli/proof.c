/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Proofs of receipt, checked offline (proof.h).  Moved out of cmd_log.c
 * unchanged but for the last function, which was the body of `parley log
 * check-proof`, so that the statement bundle verifier can call it too.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parley/channel.h"
#include "parley/err.h"
#include "parley/time.h"
#include "parley/transcript.h"
#include "proof.h"

#define H PL_HASH_BYTES

static const char *jstr(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static uint64_t ju64(const json_t *o, const char *key)
{
	json_int_t v = json_integer_value(json_object_get(o, key));
	return v > 0 ? (uint64_t)v : 0;
}

/* Decode standard base64 s into a new buffer (*out, *len). */
static int b64_new(const char *s, uint8_t **out, size_t *len)
{
	*out = NULL;
	*len = 0;
	if (!s)
		return pl_err_fail(PL_ERR_MALFORMED, "missing base64 value");
	size_t n = strlen(s), cap = n / 4 * 3 + 3;
	uint8_t *buf = malloc(cap);
	if (!buf)
		return PL_ERR_NOMEM;
	int rc = pl_b64_decode(buf, cap, len, s, n);
	if (rc) {
		free(buf);
		return pl_err_fail(PL_ERR_MALFORMED, "not base64");
	}
	*out = buf;
	return 0;
}

static void origin_name(char out[PL_CHECKPOINT_ORIGIN_MAX + 1], const char *state, const char *node)
{
	snprintf(out, PL_CHECKPOINT_ORIGIN_MAX + 1, "%s.parley/%s", state, node);
}

/* What the bundle's node records say, once opened against the roots. */
typedef struct rec_list {
	pl_node_rec *v;
	size_t n;
} rec_list;

static int open_records(const json_t *recs, const pl_trust *t, rec_list *out)
{
	out->v = calloc(json_object_size(recs) + 1, sizeof(*out->v));
	out->n = 0;
	if (!out->v)
		return PL_ERR_NOMEM;
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)recs, k, v)
	{
		uint8_t *buf = NULL;
		size_t len = 0;
		if (b64_new(json_string_value(v), &buf, &len) != 0)
			continue;
		/* Records of states whose roots were not given are skipped. */
		if (pl_node_rec_open(buf, len, t, &out->v[out->n]) == 0 &&
		    strcmp(out->v[out->n].name, k) == 0)
			out->n++;
		free(buf);
	}
	return 0;
}

static const pl_node_rec *find_record(const rec_list *l, const char *node)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i].name, node) == 0)
			return &l->v[i];
	return NULL;
}

static const pl_charter *one_charter(void *arg, const char *ch)
{
	const pl_charter *c = arg;
	return strcmp(c->name, ch) == 0 ? c : NULL;
}

struct env_check {
	pl_charter charter;
	pl_status_list status;
	bool have_status;
};

static const pl_status_list *one_status(void *arg, const char *state)
{
	struct env_check *e = arg;
	return e->have_status && strcmp(e->status.state, state) == 0 ? &e->status : NULL;
}

static const pl_charter *env_charter(void *arg, const char *ch)
{
	struct env_check *e = arg;
	return one_charter(&e->charter, ch);
}

/* The envelope: signed by a member of its channel's charter (signed by every
 * state of it), with a credential valid when it was made. */
static int check_envelope(const json_t *b, const pl_trust *t, const uint8_t *env, size_t len,
			  pl_env *out, char *why, size_t wlen)
{
	struct env_check e;
	memset(&e, 0, sizeof(e));
	uint8_t *buf = NULL;
	size_t blen = 0;
	int rc = b64_new(jstr(b, "charter"), &buf, &blen);
	if (rc) {
		snprintf(why, wlen, "the bundle holds no charter to check the author against");
		return PL_ERR_NOT_FOUND;
	}
	rc = pl_charter_open(buf, blen, t, &e.charter);
	free(buf);
	if (!rc)
		rc = pl_charter_check_complete(&e.charter);
	if (rc) {
		snprintf(why, wlen, "the channel's charter: %s", pl_err_detail());
		pl_charter_clear(&e.charter);
		return rc;
	}
	if (jstr(b, "status_list") && b64_new(jstr(b, "status_list"), &buf, &blen) == 0) {
		rc = pl_status_list_open(buf, blen, t, &e.status);
		free(buf);
		if (rc) {
			snprintf(why, wlen, "the author's status list: %s", pl_err_detail());
			pl_charter_clear(&e.charter);
			return rc;
		}
		e.have_status = true;
	}
	rc = pl_env_parse(env, len, out);
	if (!rc) {
		pl_env_ctx c = {.trust = t,
				.charter = env_charter,
				.status = one_status,
				.last = NULL,
				.arg = &e,
				.now = out->at,
				.max_future = 0,
				.max_age = 0};
		pl_env_clear(out);
		rc = pl_env_verify(env, len, &c, out);
	}
	if (rc)
		snprintf(why, wlen, "the envelope: %s", pl_err_detail());
	pl_charter_clear(&e.charter);
	pl_status_list_clear(&e.status);
	return rc;
}

/* One proof: the log's checkpoint signed by its node (whose record a root
 * signed), the envelope's leaf included in it; cosigners listed in by. */
static int check_one(const json_t *p, const rec_list *recs, const uint8_t leaf[H], json_t *by,
		     char *why, size_t wlen)
{
	const char *state = jstr(p, "state"), *node = jstr(p, "node"),
		   *note = jstr(p, "checkpoint");
	if (!state || !node || !note) {
		snprintf(why, wlen, "incomplete proof");
		return PL_ERR_MALFORMED;
	}
	const pl_node_rec *r = find_record(recs, node);
	if (!r || strcmp(r->state, state) != 0) {
		snprintf(why, wlen, "no node record of %s signed by %s's root", node, state);
		return PL_ERR_UNKNOWN_ROOT;
	}
	char origin[PL_CHECKPOINT_ORIGIN_MAX + 1];
	origin_name(origin, r->state, r->name);
	pl_note_verifier v;
	pl_checkpoint cp;
	int rc = pl_note_verifier_init(&v, origin, PL_NOTE_TYPE_ED25519, r->pk);
	if (!rc)
		rc = pl_checkpoint_open(&cp, (const uint8_t *)note, strlen(note), &v, 1, NULL);
	if (!rc && strcmp(cp.origin, origin) != 0)
		rc = pl_err_fail(PL_ERR_BAD_SIGNATURE, "checkpoint of %s", cp.origin);
	if (rc) {
		snprintf(why, wlen, "checkpoint of %s: %s", origin, pl_err_detail());
		return rc;
	}
	uint64_t index = ju64(p, "index");
	if (!json_is_integer(json_object_get(p, "index")) || ju64(p, "size") != cp.size) {
		snprintf(why, wlen, "proof in %s: index or size do not match its checkpoint",
			 origin);
		return PL_ERR_MALFORMED;
	}
	const json_t *incl = json_object_get(p, "inclusion");
	size_t nh = json_array_size(incl);
	if (nh > PL_MERKLE_MAX_PROOF) {
		snprintf(why, wlen, "proof in %s: too long", origin);
		return PL_ERR_MALFORMED;
	}
	uint8_t proof[PL_MERKLE_MAX_PROOF * H];
	for (size_t i = 0; i < nh; i++) {
		size_t got = 0;
		const char *s = json_string_value(json_array_get(incl, i));
		if (!s || pl_b64_decode(proof + i * H, H, &got, s, strlen(s)) != 0 || got != H) {
			snprintf(why, wlen, "proof in %s: hash %zu is not 32 bytes of base64",
				 origin, i);
			return PL_ERR_MALFORMED;
		}
	}
	rc = pl_merkle_verify_inclusion(leaf, index, cp.size, proof, nh, cp.root);
	if (rc) {
		snprintf(why, wlen,
			 "the envelope is not entry %" PRIu64 " of %s's checkpoint of "
			 "size %" PRIu64 ": %s",
			 index, origin, cp.size, pl_err_detail());
		return rc;
	}
	/* Cosignatures by the nodes of the other states. */
	for (size_t i = 0; i < recs->n; i++) {
		if (strcmp(recs->v[i].state, r->state) == 0)
			continue;
		char cname[PL_CHECKPOINT_ORIGIN_MAX + 1];
		origin_name(cname, recs->v[i].state, recs->v[i].name);
		pl_note_verifier cv;
		int64_t t = 0;
		if (pl_note_verifier_init(&cv, cname, PL_NOTE_TYPE_COSIG_V1, recs->v[i].pk) == 0 &&
		    pl_cosig_verify((const uint8_t *)note, strlen(note), &cv, &t, NULL) == 0)
			json_array_append_new(
			    by, json_pack("{s:s,s:s,s:I}", "state", recs->v[i].state, "node",
					  recs->v[i].name, "time", (json_int_t)t));
	}
	return 0;
}

/* The body of `parley log check-proof`, minus reading and printing. */
int cli_check_proof_json(const json_t *b, const pl_trust *t, json_t **result, char *why,
			 size_t wlen)
{
	if (result)
		*result = NULL;
	why[0] = '\0';
	uint8_t *env = NULL;
	size_t elen = 0;
	json_t *report = json_array();
	rec_list recs = {0};
	pl_env e;
	memset(&e, 0, sizeof(e));
	int rc = 0;
	if (!report)
		return PL_ERR_NOMEM;
	if (!json_is_object(b) ||
	    strcmp(jstr(b, "type") ? jstr(b, "type") : "", "parley-proof-of-receipt") != 0 ||
	    ju64(b, "version") != 1) {
		snprintf(why, wlen, "not a Parley proof of receipt (version 1)");
		rc = PL_ERR_TYPE;
		goto out;
	}
	uint8_t id[H], want[H];
	size_t got = 0;
	const char *hid = jstr(b, "id");
	if (b64_new(jstr(b, "envelope"), &env, &elen) != 0 || !hid ||
	    pl_hex_decode(want, H, &got, hid, strlen(hid)) != 0 || got != H) {
		snprintf(why, wlen, "no envelope or id");
		rc = PL_ERR_MALFORMED;
		goto out;
	}
	pl_env_id(id, env, elen);
	if (memcmp(id, want, H) != 0) {
		snprintf(why, wlen, "the envelope is not the one its id names");
		rc = PL_ERR_CONFLICT;
		goto out;
	}
	rc = check_envelope(b, t, env, elen, &e, why, wlen);
	if (rc)
		goto out;
	rc = open_records(json_object_get(b, "node_records"), t, &recs);
	if (rc) {
		snprintf(why, wlen, "out of memory");
		goto out;
	}
	uint8_t *entry = malloc(elen + 1), leaf[H];
	if (!entry) {
		snprintf(why, wlen, "out of memory");
		rc = PL_ERR_NOMEM;
		goto out;
	}
	entry[0] = 1; /* an envelope entry: type 1, then its bytes */
	memcpy(entry + 1, env, elen);
	pl_merkle_leaf_hash(leaf, entry, elen + 1);
	free(entry);
	const json_t *proofs = json_object_get(b, "proofs");
	size_t i, receipts = 0;
	json_t *p;
	if (json_array_size(proofs) == 0) {
		snprintf(why, wlen, "holds no proof");
		rc = PL_ERR_NOT_FOUND;
		goto out;
	}
	json_array_foreach(proofs, i, p)
	{
		json_t *by = json_array();
		rc = by ? check_one(p, &recs, leaf, by, why, wlen) : PL_ERR_NOMEM;
		if (rc) {
			json_decref(by);
			goto out;
		}
		bool receipt = strcmp(jstr(p, "state"), e.state) != 0;
		receipts += receipt;
		json_array_append_new(report, json_pack("{s:s,s:s,s:I,s:I,s:b,s:o}", "state",
							jstr(p, "state"), "node", jstr(p, "node"),
							"index", (json_int_t)ju64(p, "index"),
							"size", (json_int_t)ju64(p, "size"),
							"receipt", receipt, "cosigned_by", by));
	}
	if (!receipts) {
		snprintf(why, wlen,
			 "proves only that %s's own node logged the envelope, not that another "
			 "state received it",
			 e.state);
		rc = PL_ERR_NOT_FOUND;
		goto out;
	}
	char hx[2 * H + 1], when[PL_TIME_LEN];
	pl_hex_encode(hx, id, H);
	pl_time_format(when, e.at);
	json_t *r =
	    json_pack("{s:s,s:b,s:s,s:s,s:s,s:s,s:O}", "id", hx, "valid", 1, "author", e.author,
		      "state", e.state, "channel", e.ch, "created", when, "logs", report);
	if (!r) {
		snprintf(why, wlen, "out of memory");
		rc = PL_ERR_NOMEM;
	} else if (result) {
		*result = r;
	} else {
		json_decref(r);
	}
out:
	free(env);
	free(recs.v);
	pl_env_clear(&e);
	json_decref(report);
	return rc;
}
