/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The transcript between nodes (docs/transcript.md): every node signs C2SP
 * checkpoints of its own log with its node key and sends them to each
 * peer; each peer checks them and cosigns, or refuses and raises an alarm.
 *
 * As the log's origin, a node sends a peer a CHECKPOINT item: the signed
 * note, a consistency proof from the size that peer last cosigned, and an
 * inclusion proof for every entry the peer's own items left in the log
 * since then, so that the peer checks without a round trip that its
 * envelopes are in.  At most one checkpoint is outstanding per peer, and
 * the next is signed after the previous answer arrived: that ordering is
 * what makes the peer's completeness rule sound.
 *
 * As a witness, a node checks a peer's checkpoint against the last one it
 * cosigned of that log, read and replaced in the same store transaction
 * as the cosignature is queued (the transaction of the link batch), so it
 * never cosigns two inconsistent checkpoints, even across a crash.  A
 * failed check is an alarm: both signed checkpoints are kept as evidence,
 * the alarm is logged, counted, streamed and shown in the status.
 *
 * Divisions: helpers; records; logging entries; alarms; checkpoints
 * (signing and sending); cosigning (a peer's checkpoint); answers;
 * views (status, proofs, export, metrics); lifecycle.
 *
 * It does not decide what is accepted (core.c, peer.c do) and does no I/O
 * of its own: items go through the durable queues like any other.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core_int.h"
#include "parley/codec.h"
#include "parley/err.h"

#define H PL_HASH_BYTES
/* Inclusion proofs per CHECKPOINT item: 256 proofs of at most 64 hashes
 * stay well under the 1 MiB item limit. */
#define MAX_INCL 256
/* An unanswered checkpoint is sent again after this long (seconds, at
 * least), once the link has delivered it. */
#define RESEND_MIN 60
/* Alarms listed in the status. */
#define STATUS_ALARMS 50

/* ================================================================ helpers */

static void origin_name(char out[PL_CHECKPOINT_ORIGIN_MAX + 1], const char *state, const char *node)
{
	snprintf(out, PL_CHECKPOINT_ORIGIN_MAX + 1, "%s.parley/%s", state, node);
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

/* A note as JSON text (notes are UTF-8 by construction or checked). */
static json_t *json_note(const uint8_t *p, size_t n)
{
	json_t *j = json_stringn((const char *)p, n);
	return j ? j : json_b64(p, n);
}

static void size_key(char out[24], uint64_t n)
{
	snprintf(out, 24, "%020" PRIu64, n);
}

/* Length of a signed note's text: up to and including the newline before
 * the last blank line (signature lines never hold a blank line). */
static size_t note_text_len(const uint8_t *note, size_t len)
{
	for (size_t i = len; i >= 2; i--)
		if (note[i - 1] == '\n' && note[i - 2] == '\n')
			return i - 1;
	return 0;
}

/* The checkpoint in a note this node stored itself (signatures not checked). */
static int note_checkpoint(const uint8_t *note, size_t len, pl_checkpoint *cp)
{
	size_t tl = note_text_len(note, len);
	if (!tl)
		return pl_err_fail(PL_ERR_MALFORMED, "stored note without signatures");
	return pl_checkpoint_parse(cp, note, tl);
}

static int meta_u64(nstore *db, const char *key, uint64_t *v)
{
	uint8_t *p = NULL;
	size_t len = 0;
	int rc = nstore_obj_get(db, NSTORE_TLOG_META, key, &p, &len);
	*v = 0;
	if (rc == PL_ERR_NOT_FOUND)
		return 0;
	if (rc)
		return rc;
	for (size_t i = 0; i < len && i < 20; i++)
		*v = *v * 10 + (uint64_t)(p[i] >= '0' && p[i] <= '9' ? p[i] - '0' : 0);
	free(p);
	return 0;
}

static int meta_put_u64(nstore *db, const char *key, uint64_t v)
{
	char buf[24];
	int k = snprintf(buf, sizeof(buf), "%" PRIu64, v);
	return nstore_obj_put(db, NSTORE_TLOG_META, key, (const uint8_t *)buf, (size_t)k);
}

static uint64_t ju64(const json_t *o, const char *key)
{
	json_int_t v = json_integer_value(json_object_get(o, key));
	return v > 0 ? (uint64_t)v : 0;
}

/* Decode standard base64 s into out (cap bytes). */
static int b64_get(const char *s, uint8_t *out, size_t cap, size_t *len)
{
	return s ? pl_b64_decode(out, cap, len, s, strlen(s)) : PL_ERR_MALFORMED;
}

/* Queue a CBOR answer or checkpoint (enc, consumed) to p on CONTROL (txn). */
static int queue_item(node_core *n, core_peer *p, int kind, pl_cbor_enc *e)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc = pl_cbor_enc_finish(e, &buf, &len);
	uint8_t id[H];
	if (!rc) {
		pl_sha256(id, buf, len);
		rc = nstore_blob_put(n->db, id, buf, len);
	}
	if (!rc)
		rc = nstore_out_push(n->db, p->state, PL_LINK_LANE_CONTROL, kind, id, NSTORE_NO_POS,
				     NULL);
	free(buf);
	return rc;
}

static void pend(node_core *n, const char *event, json_t *data)
{
	if (data && n->w.pending)
		json_array_append_new(n->w.pending, json_pack("[s,o]", event, data));
	else
		json_decref(data);
}

/* ================================================================ logging entries */

int witness_log(node_core *n, int type, const uint8_t *obj, size_t len, core_peer *from,
		const uint8_t id[PL_HASH_BYTES], uint64_t *index)
{
	uint64_t i = 0;
	int rc = tlog_append(n->db, type, obj, len, &i);
	if (!rc && from && id) {
		uint8_t v[1 + H];
		char key[PL_NAME_MAX + 24];
		v[0] = (uint8_t)type;
		memcpy(v + 1, id, H);
		snprintf(key, sizeof(key), "%s/%020" PRIu64, from->state, i);
		rc = nstore_obj_put(n->db, NSTORE_TLOG_FROM, key, v, sizeof(v));
	}
	if (!rc && index)
		*index = i;
	return rc;
}

int witness_log_refusal(node_core *n, core_peer *p, int lane, uint64_t lseq, const uint8_t *item,
			size_t len, const char *reason)
{
	if (lane < 1 || lane >= PL_LINK_LANES)
		return 0; /* CONTROL items are not counted, hence not logged */
	uint8_t id[H];
	pl_sha256(id, item, len);
	uint8_t *rec = NULL, *v = NULL;
	size_t rlen = 0;
	int rc = tlog_refusal_encode(p->state, lane, lseq, id, reason, core_now(), &rec, &rlen);
	uint64_t i = 0;
	if (!rc)
		rc = tlog_append(n->db, TLOG_REFUSAL, rec, rlen, &i);
	if (!rc) {
		v = malloc(rlen + 1);
		rc = v ? 0 : PL_ERR_NOMEM;
	}
	if (!rc) {
		char key[PL_NAME_MAX + 24];
		v[0] = TLOG_REFUSAL;
		memcpy(v + 1, rec, rlen);
		snprintf(key, sizeof(key), "%s/%020" PRIu64, p->state, i);
		rc = nstore_obj_put(n->db, NSTORE_TLOG_FROM, key, v, rlen + 1);
	}
	free(v);
	free(rec);
	return rc;
}

int witness_log_receipt(node_core *n, core_peer *p, int lane, uint64_t upto)
{
	uint8_t *rec = NULL;
	size_t len = 0;
	int rc = tlog_receipt_encode(p->state, lane, upto, core_now(), &rec, &len);
	if (!rc)
		rc = tlog_append(n->db, TLOG_RECEIPT, rec, len, NULL);
	free(rec);
	return rc;
}

/* ================================================================ alarms */

typedef struct alarm {
	const char *peer;   /* the peer state whose log it concerns (own state for own-log) */
	const char *kind;   /* signature, fork, inconsistent, missing, own-log, store-behind */
	const char *origin; /* the log */
	char detail[384];
	const uint8_t *held; /* the checkpoint cosigned (or signed) before, or NULL */
	size_t held_len;
	uint64_t held_size;
	const uint8_t *offered; /* the checkpoint that failed, or NULL */
	size_t offered_len;
	uint64_t offered_size;
} alarm;

/*
 * Store an alarm with its evidence and queue its publication (txn).  The
 * same alarm (kind, log and held checkpoint) is recorded once: a peer that
 * keeps offering checkpoints of a forked log raises one alarm, not one per
 * checkpoint.  *is_new tells whether a record was written.
 */
static int raise_alarm(node_core *n, const alarm *a, bool *is_new)
{
	pl_sha256_ctx c;
	uint8_t fp[H];
	pl_sha256_init(&c);
	pl_sha256_update(&c, (const uint8_t *)a->kind, strlen(a->kind) + 1);
	pl_sha256_update(&c, (const uint8_t *)a->origin, strlen(a->origin) + 1);
	if (a->held)
		pl_sha256_update(&c, a->held, a->held_len);
	else if (a->offered)
		pl_sha256_update(&c, a->offered, a->offered_len);
	pl_sha256_final(&c, fp);
	char fph[2 * H + 1], key[PL_CHECKPOINT_ORIGIN_MAX + 16];
	pl_hex_encode(fph, fp, H);
	snprintf(key, sizeof(key), "alarm/%s", a->origin);
	*is_new = false;
	uint8_t *last = NULL;
	size_t llen = 0;
	int rc = nstore_obj_get(n->db, NSTORE_TLOG_META, key, &last, &llen);
	bool same = rc == 0 && llen == 2 * H && memcmp(last, fph, 2 * H) == 0;
	free(last);
	if (rc && rc != PL_ERR_NOT_FOUND)
		return rc;
	if (same)
		return 0;
	uint64_t num = 0;
	rc = meta_u64(n->db, "alarms", &num);
	int64_t now = core_now();
	json_t *j =
	    json_pack("{s:I,s:s,s:s,s:s,s:I,s:s}", "n", (json_int_t)num, "peer", a->peer, "kind",
		      a->kind, "log", a->origin, "at", (json_int_t)now, "detail", a->detail);
	if (j && a->held)
		json_object_set_new(j, "held",
				    json_pack("{s:I,s:o}", "size", (json_int_t)a->held_size,
					      "checkpoint", json_note(a->held, a->held_len)));
	if (j && a->offered)
		json_object_set_new(j, "offered",
				    json_pack("{s:I,s:o}", "size", (json_int_t)a->offered_size,
					      "checkpoint", json_note(a->offered, a->offered_len)));
	json_t *ev = j ? json_pack("{s:I,s:s,s:s,s:s,s:s}", "n", (json_int_t)num, "peer", a->peer,
				   "kind", a->kind, "log", a->origin, "detail", a->detail)
		       : NULL;
	char nk[24];
	size_key(nk, num);
	if (!rc)
		rc = j ? nstore_json_put(n->db, NSTORE_TLOG_ALARM, nk, j) : PL_ERR_NOMEM;
	else
		json_decref(j);
	if (!rc)
		rc = meta_put_u64(n->db, "alarms", num + 1);
	if (!rc)
		rc = nstore_obj_put(n->db, NSTORE_TLOG_META, key, (const uint8_t *)fph, 2 * H);
	if (!rc) {
		pend(n, "alarm", ev);
		*is_new = true;
	} else {
		json_decref(ev);
	}
	return rc;
}

static void count_alarm(node_core *n, const char *peer, const char *kind)
{
	core_witness *w = &n->w;
	for (size_t i = 0; i < w->ncounts; i++)
		if (strcmp(w->counts[i].peer, peer) == 0 && strcmp(w->counts[i].kind, kind) == 0) {
			w->counts[i].n++;
			return;
		}
	if (w->ncounts == CORE_MAX_ALARM_COUNTS)
		return;
	core_alarm_count *c = &w->counts[w->ncounts++];
	snprintf(c->peer, sizeof(c->peer), "%s", peer);
	snprintf(c->kind, sizeof(c->kind), "%s", kind);
	c->n = 1;
}

void witness_flush(node_core *n, bool committed)
{
	json_t *pending = n->w.pending;
	if (!pending)
		return;
	size_t i;
	json_t *item;
	json_array_foreach(pending, i, item)
	{
		if (!committed)
			break;
		const char *event = json_string_value(json_array_get(item, 0));
		json_t *data = json_array_get(item, 1);
		if (!event || !data)
			continue;
		if (strcmp(event, "alarm") == 0) {
			const char *peer = json_string_value(json_object_get(data, "peer"));
			const char *kind = json_string_value(json_object_get(data, "kind"));
			node_log(NODE_LOG_ERROR, "transcript alarm",
				 "peer=%s kind=%s log=%s detail=%s", peer ? peer : "",
				 kind ? kind : "", json_string_value(json_object_get(data, "log")),
				 json_string_value(json_object_get(data, "detail")));
			count_alarm(n, peer ? peer : "", kind ? kind : "");
		}
		core_emit(n, event, json_incref(data));
	}
	json_array_clear(pending);
}

/* ================================================================ checkpoints */

/* The root recorded in a stored own checkpoint of size s, if any. */
static int held_checkpoint(node_core *n, uint64_t s, uint8_t **note, size_t *len, pl_checkpoint *cp)
{
	char key[24];
	size_key(key, s);
	int rc = nstore_obj_get(n->db, NSTORE_TLOG_CP, key, note, len);
	if (!rc) {
		rc = note_checkpoint(*note, *len, cp);
		if (rc) {
			free(*note);
			*note = NULL;
		}
	}
	return rc;
}

/*
 * The signed checkpoint of size s of this node's log, appended to note
 * (txn): the stored one when it still matches the log, else a new one,
 * signed and stored.  Before signing, the log is checked against the
 * latest checkpoint this node signed: a mismatch (the store was altered
 * under the node) raises an own-log alarm here — and the checkpoint is
 * still signed and sent, because hiding what the store now says would hide
 * the alteration from the peers, whose cosigning is the real check.
 */
static int checkpoint_at(node_core *n, uint64_t s, pl_buf *note)
{
	uint8_t root[H];
	int rc = tlog_root(n->db, s, root);
	if (rc)
		return rc;
	uint8_t *held = NULL;
	size_t hlen = 0;
	pl_checkpoint hcp;
	rc = held_checkpoint(n, s, &held, &hlen, &hcp);
	if (rc && rc != PL_ERR_NOT_FOUND)
		return rc;
	bool held_ok =
	    rc == 0 && memcmp(hcp.root, root, H) == 0 && strcmp(hcp.origin, n->w.origin) == 0;
	if (held_ok) {
		rc = pl_buf_append(note, held, hlen);
		free(held);
		return rc;
	}
	pl_checkpoint cp = {.size = s};
	snprintf(cp.origin, sizeof(cp.origin), "%s", n->w.origin);
	memcpy(cp.root, root, H);
	pl_buf text = {0};
	size_t start = note->len;
	rc = pl_checkpoint_format(&cp, &text);
	if (!rc)
		rc = pl_note_sign(note, text.data, text.len, n->w.origin, &n->w.kp);
	pl_buf_clear(&text);
	bool is_new;
	alarm a = {.peer = n->self.name, .kind = "own-log", .origin = n->w.origin};
	if (!rc && held) {
		snprintf(a.detail, sizeof(a.detail),
			 "this node's store now gives another root for size %" PRIu64
			 " than the checkpoint it signed: the store was altered",
			 s);
		a.held = held;
		a.held_len = hlen;
		a.held_size = s;
		a.offered = note->data + start;
		a.offered_len = note->len - start;
		a.offered_size = s;
		rc = raise_alarm(n, &a, &is_new);
	}
	free(held);
	held = NULL;
	/* Consistency with the latest checkpoint signed before. */
	uint64_t last = 0;
	if (!rc)
		rc = meta_u64(n->db, "cp", &last);
	if (!rc && last && last != s) {
		pl_checkpoint lcp;
		int hrc = held_checkpoint(n, last, &held, &hlen, &lcp);
		if (hrc == 0) {
			uint64_t m = last < s ? last : s, big = last < s ? s : last;
			uint8_t big_root[H], proof[PL_MERKLE_MAX_PROOF * H];
			size_t plen = 0;
			const uint8_t *rm = last < s ? lcp.root : root;
			int crc = tlog_root(n->db, big, big_root);
			if (!crc && last > s)
				memcpy(big_root, lcp.root, H);
			if (!crc)
				crc = tlog_prove_consistency(n->db, m, big, proof, &plen);
			if (!crc)
				crc =
				    pl_merkle_verify_consistency(m, big, proof, plen, rm, big_root);
			if (crc == PL_ERR_CONFLICT || crc == PL_ERR_MALFORMED) {
				snprintf(a.detail, sizeof(a.detail),
					 "the log of size %" PRIu64
					 " is not consistent with this node's checkpoint of size "
					 "%" PRIu64 ": the store was altered",
					 s, last);
				a.held = held;
				a.held_len = hlen;
				a.held_size = last;
				a.offered = note->data + start;
				a.offered_len = note->len - start;
				a.offered_size = s;
				rc = raise_alarm(n, &a, &is_new);
			} else if (crc) {
				rc = crc;
			}
		} else if (hrc != PL_ERR_NOT_FOUND) {
			rc = hrc;
		}
		free(held);
	}
	char key[24];
	size_key(key, s);
	if (!rc)
		rc = nstore_obj_put(n->db, NSTORE_TLOG_CP, key, note->data + start,
				    note->len - start);
	if (!rc && s > last)
		rc = meta_put_u64(n->db, "cp", s);
	if (!rc) {
		n->w.checkpoints++;
		node_log(NODE_LOG_DEBUG, "checkpoint signed", "size=%" PRIu64, s);
	}
	return rc;
}

struct from_list {
	uint64_t index[MAX_INCL + 1];
	uint8_t *val[MAX_INCL + 1];
	size_t len[MAX_INCL + 1];
	size_t count;
};

static int from_cb(void *ctx, const char *key, const uint8_t *val, size_t len)
{
	struct from_list *f = ctx;
	const char *slash = strrchr(key, '/');
	if (f->count > MAX_INCL || !slash || len < 2)
		return pl_err_fail(PL_ERR_MALFORMED, "node store: bad transcript index %s", key);
	char *end;
	f->index[f->count] = strtoull(slash + 1, &end, 10);
	f->val[f->count] = malloc(len);
	if (!f->val[f->count])
		return PL_ERR_NOMEM;
	memcpy(f->val[f->count], val, len);
	f->len[f->count] = len;
	f->count++;
	return 0;
}

static json_t *origin_state(node_core *n, core_peer *p, int *rc)
{
	json_t *st = nstore_json_get(n->db, NSTORE_TLOG_ORIGIN, p->state, rc);
	if (!st && !*rc)
		st = json_pack("{s:I,s:I,s:b,s:b}", "cosigned", (json_int_t)0, "sent",
			       (json_int_t)0, "outstanding", 0, "fresh", 0);
	if (!st && !*rc)
		*rc = PL_ERR_NOMEM;
	return st;
}

/*
 * Send p a CHECKPOINT item (txn): the log at its current size, or at a
 * smaller size when more than MAX_INCL entries of p's items are new (the
 * rest follows in the next checkpoints), with a consistency proof from
 * the size p last cosigned and the inclusion proofs of p's entries.
 */
static int send_checkpoint(node_core *n, core_peer *p, json_t *st)
{
	uint64_t size = 0, old = ju64(st, "cosigned");
	int rc = tlog_size(n->db, &size);
	if (rc)
		return rc;
	if (old > size) {
		alarm a = {.peer = n->self.name, .kind = "store-behind", .origin = n->w.origin};
		snprintf(a.detail, sizeof(a.detail),
			 "%s cosigned this node's log at size %" PRIu64
			 " but the store holds %" PRIu64
			 " entries: the store went back (restored from an older copy?)",
			 p->state, old, size);
		bool is_new;
		return raise_alarm(n, &a, &is_new);
	}
	struct from_list *f = calloc(1, sizeof(*f));
	if (!f)
		return PL_ERR_NOMEM;
	char lo[PL_NAME_MAX + 24], hi[PL_NAME_MAX + 24];
	snprintf(lo, sizeof(lo), "%s/%020" PRIu64, p->state, old);
	snprintf(hi, sizeof(hi), "%s/%020" PRIu64, p->state, size);
	rc = nstore_obj_range(n->db, NSTORE_TLOG_FROM, lo, hi, MAX_INCL + 1, from_cb, f);
	uint64_t s = size;
	bool more = false;
	size_t nalloc = f->count;
	if (!rc && f->count > MAX_INCL) {
		s = f->index[MAX_INCL];
		more = true;
		f->count = MAX_INCL;
	}
	pl_buf note = {0};
	if (!rc && s > old) {
		uint8_t cproof[PL_MERKLE_MAX_PROOF * H], iproof[PL_MERKLE_MAX_PROOF * H];
		size_t clen = 0;
		rc = checkpoint_at(n, s, &note);
		if (!rc && old > 0)
			rc = tlog_prove_consistency(n->db, old, s, cproof, &clen);
		pl_cbor_enc e;
		pl_cbor_enc_init(&e);
		pl_cbor_put_map(&e, 5);
		pl_cbor_put_str(&e, "old");
		pl_cbor_put_uint(&e, old);
		pl_cbor_put_str(&e, "incl");
		pl_cbor_put_array(&e, f->count);
		for (size_t i = 0; !rc && i < f->count; i++) {
			size_t ilen = 0;
			rc = tlog_prove_inclusion(n->db, f->index[i], s, iproof, &ilen);
			pl_cbor_put_map(&e, 3);
			if (f->val[i][0] == TLOG_ENVELOPE && f->len[i] == 1 + H) {
				pl_cbor_put_str(&e, "id");
				pl_cbor_put_bytes(&e, f->val[i] + 1, H);
			} else {
				pl_cbor_put_str(&e, "entry");
				pl_cbor_put_bytes(&e, f->val[i], f->len[i]);
			}
			pl_cbor_put_str(&e, "index");
			pl_cbor_put_uint(&e, f->index[i]);
			pl_cbor_put_str(&e, "proof");
			pl_cbor_put_bytes(&e, iproof, ilen * H);
		}
		pl_cbor_put_str(&e, "more");
		pl_cbor_put_bool(&e, more);
		pl_cbor_put_str(&e, "note");
		pl_cbor_put_text(&e, (const char *)note.data, note.len);
		pl_cbor_put_str(&e, "consistency");
		pl_cbor_put_bytes(&e, cproof, clen * H);
		if (!rc)
			rc = queue_item(n, p, PL_LINK_KIND_CHECKPOINT, &e);
		else
			pl_cbor_enc_discard(&e);
		if (!rc) {
			json_object_set_new(st, "sent", json_integer((json_int_t)s));
			json_object_set_new(st, "outstanding", json_true());
			json_object_set_new(st, "fresh", json_false());
			rc = nstore_json_put(n->db, NSTORE_TLOG_ORIGIN, p->state, json_incref(st));
		}
		if (!rc)
			node_log(NODE_LOG_DEBUG, "checkpoint sent",
				 "peer=%s size=%" PRIu64 " old=%" PRIu64 " proofs=%zu", p->state, s,
				 old, f->count);
	}
	pl_buf_clear(&note);
	for (size_t i = 0; i < nalloc; i++)
		free(f->val[i]);
	free(f);
	return rc;
}

void witness_tick(node_core *n)
{
	if (!n->w.have_key || n->stopping)
		return;
	int64_t now = core_now();
	if (now < n->w.started + 1)
		return;
	uint64_t size = 0;
	if (tlog_size(n->db, &size) != 0 || size == 0)
		return;
	int64_t interval = n->cfg->checkpoint_interval ? n->cfg->checkpoint_interval : 1;
	int64_t resend = 4 * interval > RESEND_MIN ? 4 * interval : RESEND_MIN;
	for (size_t i = 0; i < n->npeers; i++) {
		core_peer *p = &n->peers[i];
		int rc = 0;
		json_t *st = origin_state(n, p, &rc);
		if (!st)
			continue;
		uint64_t cosigned = ju64(st, "cosigned");
		bool fresh = json_is_true(json_object_get(st, "fresh"));
		bool due = false;
		if (json_is_true(json_object_get(st, "outstanding"))) {
			/* Answered neither way although delivered: ask again. */
			uint64_t depth = 1;
			if (!p->cp_sent_at)
				p->cp_sent_at = now;
			else if (p->conn[PL_LINK_LANE_CONTROL] && now - p->cp_sent_at >= resend &&
				 nstore_out_depth(n->db, p->state, PL_LINK_LANE_CONTROL, &depth) ==
				     0 &&
				 depth == 0)
				due = true;
		} else if (json_object_get(st, "refused")) {
			/* The peer raised an alarm on our log: offer it a newer checkpoint
			 * now and then, never in a hurry. */
			due = size > ju64(st, "sent") && now - p->cp_sent_at >= interval;
		} else if (size > cosigned || fresh) {
			due = fresh || !p->cp_sent_at || now - p->cp_sent_at >= interval ||
			      size - cosigned >= n->cfg->checkpoint_entries;
		}
		if (!due) {
			json_decref(st);
			continue;
		}
		rc = core_begin(n);
		if (!rc)
			rc = send_checkpoint(n, p, st);
		if (!rc)
			core_commit_timed(n, &rc);
		else
			nstore_rollback(n->db);
		witness_flush(n, rc == 0);
		json_decref(st);
		p->cp_sent_at = now;
		if (rc)
			node_log(NODE_LOG_ERROR, "cannot send a checkpoint", "peer=%s reason=%s",
				 p->state, pl_err_detail());
		else
			peer_pump(p);
	}
}

/* ================================================================ cosigning */

/* Answer p's checkpoint with a refusal (txn). */
static int refuse(node_core *n, core_peer *p, uint64_t have, bool is_alarm, const char *reason)
{
	pl_cbor_enc e;
	pl_cbor_enc_init(&e);
	pl_cbor_put_map(&e, 3);
	pl_cbor_put_str(&e, "have");
	pl_cbor_put_uint(&e, have);
	pl_cbor_put_str(&e, "alarm");
	pl_cbor_put_bool(&e, is_alarm);
	pl_cbor_put_str(&e, "reason");
	size_t rl = strlen(reason);
	pl_cbor_put_text(&e, reason, rl > 200 ? 200 : rl);
	if (!is_alarm)
		node_log(NODE_LOG_INFO, "checkpoint not cosigned", "peer=%s reason=%s", p->state,
			 reason);
	return queue_item(n, p, PL_LINK_KIND_CHECKPOINT_REFUSED, &e);
}

/* What one inclusion proof of a CHECKPOINT item says. */
typedef struct incl {
	uint64_t index;
	pl_slice id, entry, proof;
	bool has_id, has_entry;
	char seen_key[PL_CHECKPOINT_ORIGIN_MAX + 2 * H + 40];
	char seen_old[PL_CHECKPOINT_ORIGIN_MAX + 2 * H + 8]; /* an older store's key */
} incl;

static int read_incl(const pl_cbor *it, incl *x)
{
	memset(x, 0, sizeof(*x));
	pl_cbor_field f[] = {
	    {"id", PL_CBOR_BYTES, PL_FIELD_OPTIONAL, H, H, &x->id, &x->has_id},
	    {"entry", PL_CBOR_BYTES, PL_FIELD_OPTIONAL, 2, 4096, &x->entry, &x->has_entry},
	    {"index", PL_CBOR_UINT, 0, 0, 0, &x->index, NULL},
	    {"proof", PL_CBOR_BYTES, 0, 0, PL_MERKLE_MAX_PROOF * H, &x->proof, NULL},
	};
	int rc = pl_cbor_read_map(it, f, 4);
	if (!rc && x->has_id == x->has_entry)
		rc = pl_err_fail(PL_ERR_MALFORMED, "an inclusion proof names an id or an entry");
	if (!rc && x->proof.n % H)
		rc = pl_err_fail(PL_ERR_MALFORMED, "an inclusion proof is not whole hashes");
	return rc;
}

/* The leaf of envelope id of ours, at pos in our log, computed from its
 * bytes (checked to be that envelope's). */
static int env_leaf(node_core *n, const uint8_t id[H], uint64_t pos, uint8_t leaf[H])
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc = nstore_env_at(n->db, id, pos, &buf, &len);
	uint8_t *e = rc ? NULL : malloc(len + 1);
	if (!rc && !e)
		rc = PL_ERR_NOMEM;
	if (!rc) {
		e[0] = TLOG_ENVELOPE;
		memcpy(e + 1, buf, len);
		pl_merkle_leaf_hash(leaf, e, len + 1);
	}
	free(e);
	free(buf);
	return rc;
}

/*
 * Check one inclusion proof of an entry of ours (txn), against the
 * checkpoint's tree (run: proofs in index order share their upper nodes).
 * An envelope of ours has the leaf our own log holds for it (the same
 * entry, type and bytes, so the same hash), read rather than computed
 * again; only when that does not lead to the root is it computed from the
 * envelope, so that a damaged row of ours is not taken for the peer's
 * fault.  A refusal's leaf is computed from the record the proof carries,
 * which must name us.  0 when it holds; 1 with why filled when it does not
 * (an alarm); a negative pl_err on store errors.
 */
static int check_incl(node_core *n, const char *origin, incl *x, pl_merkle_incl_run *run, char *why,
		      size_t wlen)
{
	uint8_t leaf[H];
	char hx[2 * H + 1];
	const uint8_t *proof = x->proof.p;
	size_t plen = x->proof.n / H;
	bool holds = false;
	if (x->has_id) {
		pl_hex_encode(hx, x->id.p, H);
		nstore_meta meta;
		int rc = nstore_env_get(n->db, x->id.p, NULL, NULL, &meta);
		if (rc == PL_ERR_NOT_FOUND || (!rc && (strcmp(meta.state, n->self.name) != 0 ||
						       strcmp(meta.origin, "local") != 0))) {
			snprintf(why, wlen,
				 "its log lists envelope %.16s... as ours, which it is not", hx);
			return 1;
		}
		if (!rc)
			rc = tlog_get_hash(n->db, 0, meta.pos, leaf);
		if (!rc)
			holds = pl_merkle_incl_run_verify(run, leaf, x->index, proof, plen) == 0;
		if (!rc && !holds)
			rc = env_leaf(n, x->id.p, meta.pos, leaf);
		if (rc)
			return rc;
		/* by our position, not the id: the rows of one checkpoint's
		 * envelopes are neighbours (a store written before has them under
		 * "origin/hex(id)": looked for there too) */
		snprintf(x->seen_key, sizeof(x->seen_key), "%s/e/%020" PRIu64, origin, meta.pos);
		if (nstore_has_old_keys(n->db))
			snprintf(x->seen_old, sizeof(x->seen_old), "%s/%s", origin, hx);
	} else {
		tlog_refusal r;
		if (x->entry.p[0] != TLOG_REFUSAL ||
		    tlog_refusal_decode(x->entry.p + 1, x->entry.n - 1, &r) != 0 ||
		    strcmp(r.peer, n->self.name) != 0 || r.lane < 1 || r.lane > 4) {
			snprintf(why, wlen,
				 "entry %" PRIu64 " is given as ours but is not a refusal "
				 "of an item of ours",
				 x->index);
			return 1;
		}
		pl_merkle_leaf_hash(leaf, x->entry.p, x->entry.n);
		snprintf(x->seen_key, sizeof(x->seen_key), "%s/r/%d/%020" PRIu64, origin, r.lane,
			 r.lseq);
		snprintf(hx, sizeof(hx), "refusal of item %" PRIu64, r.lseq);
	}
	if (!holds && pl_merkle_incl_run_verify(run, leaf, x->index, proof, plen) != 0) {
		snprintf(why, wlen,
			 "the inclusion proof of our %.16s... at %" PRIu64
			 " does not lead to its root",
			 hx, x->index);
		return 1;
	}
	/* any record, even one that no longer reads as JSON, is a listing */
	uint8_t *v = NULL;
	size_t vl = 0;
	int rc = nstore_obj_get(n->db, NSTORE_TLOG_SEEN, x->seen_key, &v, &vl);
	if (rc == PL_ERR_NOT_FOUND && x->seen_old[0])
		rc = nstore_obj_get(n->db, NSTORE_TLOG_SEEN, x->seen_old, &v, &vl);
	free(v);
	if (rc == 0) {
		snprintf(why, wlen, "our %.16s... is listed twice", hx);
		return 1;
	}
	return rc == PL_ERR_NOT_FOUND ? 0 : rc;
}

/*
 * Remember that x, an entry of ours, is in the peer's log of size size
 * (txn): {"index","proof","size"}, the JSON nstore_json_put would write
 * (compact, keys in order), written directly — two integers and base64
 * need no escaping, and a checkpoint brings 256 of them.
 */
static int seen_put(node_core *n, const incl *x, uint64_t size)
{
	size_t cap = pl_b64_len(x->proof.n) + 64;
	char *t = malloc(cap);
	if (!t)
		return PL_ERR_NOMEM;
	int k = snprintf(t, cap, "{\"index\":%" PRIu64 ",\"proof\":\"", x->index);
	pl_b64_encode(t + k, x->proof.p, x->proof.n);
	size_t len = (size_t)k + strlen(t + k);
	len += (size_t)snprintf(t + len, cap - len, "\",\"size\":%" PRIu64 "}", size);
	int rc = nstore_obj_put(n->db, NSTORE_TLOG_SEEN, x->seen_key, (const uint8_t *)t, len);
	free(t);
	return rc;
}

/* Items of ours p acknowledged on lanes 1..4, and items we sent it there. */
static int our_counts(node_core *n, core_peer *p, uint64_t *acked, uint64_t *sent)
{
	*acked = *sent = 0;
	int rc = 0;
	for (int l = 1; !rc && l < PL_LINK_LANES; l++) {
		uint64_t a = 0, s = 0;
		rc = nstore_out_acked(n->db, p->state, l, &a);
		if (!rc)
			rc = nstore_out_last(n->db, p->state, l, &s);
		*acked += a;
		*sent += s;
	}
	return rc;
}

static const pl_cbor_limits cp_limits = {.max_bytes = PL_LINK_MAX_ITEM,
					 .max_depth = 4,
					 .max_items = 8 * MAX_INCL + 64,
					 .max_str = 64 * 1024};

/* Cosign cp (the note's text) again and queue the answer (txn); nothing
 * else changes: for a checkpoint this node already cosigned. */
static int answer_again(node_core *n, core_peer *p, const pl_checkpoint *cp, const uint8_t *note,
			size_t len)
{
	pl_buf line = {0};
	int rc = pl_cosig_sign(&line, note, note_text_len(note, len), n->w.origin, &n->w.kp,
			       core_now());
	if (!rc) {
		pl_cbor_enc e;
		pl_cbor_enc_init(&e);
		pl_cbor_put_map(&e, 3);
		pl_cbor_put_str(&e, "root");
		pl_cbor_put_bytes(&e, cp->root, H);
		pl_cbor_put_str(&e, "size");
		pl_cbor_put_uint(&e, cp->size);
		pl_cbor_put_str(&e, "cosig");
		pl_cbor_put_text(&e, (const char *)line.data, line.len);
		rc = queue_item(n, p, PL_LINK_KIND_COSIGNATURE, &e);
	}
	if (!rc)
		node_log(NODE_LOG_INFO, "checkpoint cosigned again", "peer=%s size=%" PRIu64,
			 p->state, cp->size);
	pl_buf_clear(&line);
	return rc;
}

/*
 * A peer's CHECKPOINT item being taken.  Its checks only read, until the
 * last step (cp_end) writes everything in one transaction; with many
 * inclusion proofs they are made WITNESS_SLICE at a time between other
 * work of the event loop (witness_take_item): all 256 of an item in one
 * callback held the loop some 10 ms, and a FLASH submitted meanwhile
 * waited for it (docs/performance.md).
 */
struct witness_cp {
	core_peer *p;
	uint8_t *buf; /* the item (a copy: the link's is gone by the next turn) */
	size_t len;
	pl_cbor *m; /* decoded from buf */
	const pl_cbor *list;
	uint64_t old;
	bool more;
	pl_slice note;
	char origin[PL_CHECKPOINT_ORIGIN_MAX + 1];
	alarm a; /* a.kind set: a check failed */
	pl_checkpoint cp;
	json_t *w; /* the record of the checkpoint last cosigned, or NULL */
	uint64_t held_size;
	uint8_t held_root[H];
	size_t nincl, next; /* inclusion proofs, and the next one to check */
	incl *xs;
	pl_merkle_incl_run run;
};

/* Proofs checked per step of a checkpoint taken in slices: ~1.5 ms of the
 * loop on the benchmark's machine. */
#define WITNESS_SLICE 32

static void cp_free(witness_cp *c)
{
	if (!c)
		return;
	json_decref(c->w);
	pl_cbor_free(c->m);
	free(c->xs);
	free(c->buf);
	free(c);
}

/*
 * Begin taking p's CHECKPOINT item: decoded, its signature and history
 * checked.  *out NULL: the item was handled here (txn: refused, or
 * answered again) or rc says why not; else its entries' proofs are to be
 * checked (cp_step) before cp_end, which also raises the alarm of a
 * failed check (c->a.kind).
 */
static int cp_begin(node_core *n, core_peer *p, const uint8_t *buf, size_t len, witness_cp **out)
{
	*out = NULL;
	witness_cp *c = calloc(1, sizeof(*c));
	if (c)
		c->buf = malloc(len ? len : 1);
	if (!c || !c->buf) {
		free(c);
		return PL_ERR_NOMEM;
	}
	memcpy(c->buf, buf, len);
	c->len = len;
	c->p = p;
	pl_slice cons = {0};
	int rc = pl_cbor_decode(c->buf, len, &cp_limits, PL_CBOR_CANONICAL, &c->m);
	if (!rc) {
		pl_cbor_field f[] = {
		    {"old", PL_CBOR_UINT, 0, 0, 0, &c->old, NULL},
		    {"incl", PL_CBOR_ARRAY, 0, 0, MAX_INCL, &c->list, NULL},
		    {"more", PL_CBOR_BOOL, 0, 0, 0, &c->more, NULL},
		    {"note", PL_CBOR_TEXT, 0, 1, PL_NOTE_MAX_BYTES, &c->note, NULL},
		    {"consistency", PL_CBOR_BYTES, 0, 0, PL_MERKLE_MAX_PROOF * H, &cons, NULL},
		};
		rc = pl_cbor_read_map(c->m, f, 5);
	}
	if (!rc && cons.n % H)
		rc = pl_err_fail(PL_ERR_MALFORMED, "consistency proof is not whole hashes");
	if (rc || !p->have_pk) {
		char why[256];
		snprintf(why, sizeof(why), "malformed checkpoint item: %s",
			 rc ? pl_err_detail() : "no node record");
		cp_free(c);
		return refuse(n, p, 0, false, why);
	}
	origin_name(c->origin, p->state, p->node);
	alarm *a = &c->a;
	a->peer = p->state;
	a->origin = c->origin;
	a->offered = c->note.p;
	a->offered_len = c->note.n;
	pl_note_verifier v;
	pl_checkpoint *cp = &c->cp;
	rc = pl_note_verifier_init(&v, c->origin, PL_NOTE_TYPE_ED25519, p->pk);
	if (!rc)
		rc = pl_checkpoint_open(cp, c->note.p, c->note.n, &v, 1, NULL);
	if (!rc && strcmp(cp->origin, c->origin) != 0)
		rc = pl_err_fail(PL_ERR_BAD_SIGNATURE, "checkpoint of log %s, not %s", cp->origin,
				 c->origin);
	pl_merkle_empty_root(c->held_root);
	if (rc) {
		a->kind = "signature";
		snprintf(a->detail, sizeof(a->detail), "its checkpoint does not verify: %s",
			 pl_err_detail());
		memset(cp, 0, sizeof(*cp));
	} else {
		a->offered_size = cp->size;
		c->w = nstore_json_get(n->db, NSTORE_TLOG_WITNESS, c->origin, &rc);
		if (rc) {
			cp_free(c);
			return rc;
		}
		if (c->w) {
			size_t rl = 0;
			const char *held_note = json_string_value(json_object_get(c->w, "note"));
			c->held_size = ju64(c->w, "size");
			if (b64_get(json_string_value(json_object_get(c->w, "root")), c->held_root,
				    H, &rl) != 0 ||
			    rl != H || !held_note) {
				cp_free(c);
				return pl_err_fail(PL_ERR_MALFORMED,
						   "node store: bad witness record");
			}
			a->held = (const uint8_t *)held_note;
			a->held_len = strlen(held_note);
			a->held_size = c->held_size;
		}
	}
	char why[384] = "";
	if (!a->kind && cp->size < c->held_size) {
		snprintf(why, sizeof(why),
			 "checkpoint of size %" PRIu64 " is older than the one of size %" PRIu64
			 " this node cosigned",
			 cp->size, c->held_size);
		rc = refuse(n, p, c->held_size, false, why);
		cp_free(c);
		return rc;
	}
	if (!a->kind && cp->size == c->held_size && memcmp(cp->root, c->held_root, H) != 0) {
		a->kind = "fork";
		snprintf(a->detail, sizeof(a->detail),
			 "two different checkpoints of size %" PRIu64 " signed by %s", cp->size,
			 p->node);
	}
	if (!a->kind && c->w && cp->size == c->held_size &&
	    memcmp(cp->root, c->held_root, H) == 0) {
		/* The checkpoint this node cosigned last, again (re-sent, or
		 * delivered a second time after a reconnect): its entries were
		 * checked and counted then; answer again, check and count nothing. */
		rc = answer_again(n, p, cp, c->note.p, c->note.n);
		cp_free(c);
		return rc;
	}
	if (!a->kind && cp->size > c->held_size) {
		if (c->old != c->held_size) {
			snprintf(why, sizeof(why),
				 "consistency proof from size %" PRIu64
				 ", this node cosigned %" PRIu64,
				 c->old, c->held_size);
			rc = refuse(n, p, c->held_size, false, why);
			cp_free(c);
			return rc;
		}
		if (pl_merkle_verify_consistency(c->held_size, cp->size, cons.p, cons.n / H,
						 c->held_root, cp->root) != 0) {
			a->kind = "inconsistent";
			snprintf(a->detail, sizeof(a->detail),
				 "its checkpoint of size %" PRIu64
				 " is not consistent with the one of size %" PRIu64
				 " this node cosigned: %s",
				 cp->size, c->held_size, pl_err_detail());
		}
	}
	/* Our entries in the new part of its log: checked by cp_step. */
	c->nincl = c->list ? pl_cbor_len(c->list) : 0;
	c->xs = c->nincl ? calloc(c->nincl, sizeof(*c->xs)) : NULL;
	if (c->nincl && !c->xs) {
		cp_free(c);
		return PL_ERR_NOMEM;
	}
	pl_merkle_incl_run_init(&c->run, cp->size, cp->root);
	*out = c;
	return 0;
}

/* Check up to budget more of c's proofs (0: all that are left): 1 when
 * none is left or one failed (c->a.kind), 0 when some are left, a negative
 * pl_err on store errors.  Reads only. */
static int cp_step(node_core *n, witness_cp *c, size_t budget)
{
	size_t stop = budget && c->nincl - c->next > budget ? c->next + budget : c->nincl;
	for (; !c->a.kind && c->next < stop; c->next++) {
		size_t i = c->next;
		incl *x = &c->xs[i];
		if (read_incl(pl_cbor_at(c->list, i), x) != 0 || x->index < c->held_size ||
		    x->index >= c->cp.size || (i && x->index <= c->xs[i - 1].index)) {
			c->a.kind = "missing";
			snprintf(c->a.detail, sizeof(c->a.detail),
				 "inclusion proof %zu of our entries is malformed or out of order",
				 i);
			break;
		}
		int r = check_incl(n, c->origin, x, &c->run, c->a.detail, sizeof(c->a.detail));
		if (r < 0)
			return r;
		if (r)
			c->a.kind = "missing";
	}
	return c->a.kind || c->next == c->nincl;
}

/* End taking c (txn), every proof checked or one failed: the counting
 * rule, then the alarm and refusal, or the records, the cosignature and
 * its answer.  Consumes c. */
static int cp_end(node_core *n, witness_cp *c)
{
	core_peer *p = c->p;
	alarm *a = &c->a;
	const pl_checkpoint *cp = &c->cp;
	int rc = 0;
	uint64_t acked = 0, sent = 0, in_log = c->w ? ju64(c->w, "in_log") : 0;
	uint64_t acked_before = c->w ? ju64(c->w, "acked") : 0;
	if (!a->kind) {
		rc = our_counts(n, p, &acked, &sent);
		if (rc)
			goto out;
		uint64_t total = in_log + c->nincl;
		if (total > sent) {
			a->kind = "missing";
			snprintf(a->detail, sizeof(a->detail),
				 "its log holds %" PRIu64 " entries of our items; we sent %" PRIu64,
				 total, sent);
		} else if (c->more && c->nincl != MAX_INCL) {
			rc = refuse(n, p, c->held_size, false,
				    "a partial checkpoint must prove 256 entries");
			goto out;
		} else if (!c->more && total < acked_before) {
			a->kind = "missing";
			snprintf(a->detail, sizeof(a->detail),
				 "it acknowledged %" PRIu64
				 " of our items before our last cosignature "
				 "but its log of size %" PRIu64 " holds %" PRIu64,
				 acked_before, cp->size, total);
		}
		in_log = total;
	}
	if (a->kind) {
		bool is_new;
		rc = raise_alarm(n, a, &is_new);
		if (!rc) {
			char r[sizeof(a->detail) + 32];
			snprintf(r, sizeof(r), "%s: %s", a->kind, a->detail);
			rc = refuse(n, p, c->held_size, true, r);
		}
		goto out;
	}
	/* Every check holds: remember, cosign and answer, in this transaction. */
	for (size_t i = 0; !rc && i < c->nincl; i++)
		rc = seen_put(n, &c->xs[i], cp->size);
	size_t tl = note_text_len(c->note.p, c->note.n);
	pl_buf line = {0}, full = {0};
	if (!rc)
		rc = pl_cosig_sign(&line, c->note.p, tl, n->w.origin, &n->w.kp, core_now());
	if (!rc)
		rc = pl_buf_append(&full, c->note.p, c->note.n);
	if (!rc)
		rc = pl_buf_append(&full, line.data, line.len);
	char key[PL_CHECKPOINT_ORIGIN_MAX + 24];
	snprintf(key, sizeof(key), "%s/%020" PRIu64, c->origin, cp->size);
	if (!rc)
		rc = nstore_obj_put(n->db, NSTORE_TLOG_THEIRS, key, full.data, full.len);
	if (!rc) {
		json_t *j =
		    json_pack("{s:s,s:I,s:o,s:s%,s:I,s:I,s:I}", "peer", p->state, "size",
			      (json_int_t)cp->size, "root", json_b64(cp->root, H), "note",
			      (const char *)c->note.p, c->note.n, "in_log", (json_int_t)in_log,
			      "acked", (json_int_t)acked, "at", (json_int_t)core_now());
		rc = j ? nstore_json_put(n->db, NSTORE_TLOG_WITNESS, c->origin, j) : PL_ERR_NOMEM;
	}
	if (!rc) {
		/* the cosignature is stored, its answer not queued, nothing
		 * committed: a crash here must leave no trace */
		node_crash_point("mid-cosign");
		pl_cbor_enc e;
		pl_cbor_enc_init(&e);
		pl_cbor_put_map(&e, 3);
		pl_cbor_put_str(&e, "root");
		pl_cbor_put_bytes(&e, cp->root, H);
		pl_cbor_put_str(&e, "size");
		pl_cbor_put_uint(&e, cp->size);
		pl_cbor_put_str(&e, "cosig");
		pl_cbor_put_text(&e, (const char *)line.data, line.len);
		rc = queue_item(n, p, PL_LINK_KIND_COSIGNATURE, &e);
	}
	if (!rc) {
		n->w.cosigned_out++;
		node_log(NODE_LOG_INFO, "checkpoint cosigned",
			 "peer=%s size=%" PRIu64 " our_entries=%" PRIu64, p->state, cp->size,
			 in_log);
	}
	pl_buf_clear(&line);
	pl_buf_clear(&full);
out:
	cp_free(c);
	return rc;
}

/* Check all c's proofs left and take it (txn).  Consumes c. */
static int cp_all(node_core *n, witness_cp *c)
{
	int rc = cp_step(n, c, 0);
	if (rc < 0) {
		cp_free(c);
		return rc;
	}
	return cp_end(n, c);
}

/* Take p's CHECKPOINT item at once (txn): cosign it, or refuse (and maybe
 * alarm). */
static int take_checkpoint(node_core *n, core_peer *p, const uint8_t *buf, size_t len)
{
	witness_cp *c = NULL;
	int rc = cp_begin(n, p, buf, len, &c);
	return rc || !c ? rc : cp_all(n, c);
}

/* Is the record of the checkpoint last cosigned of c's log still the one
 * c was checked against?  Another connection to the same peer may have
 * taken a checkpoint of it since. */
static bool cp_current(node_core *n, const witness_cp *c)
{
	int rc = 0;
	json_t *w = nstore_json_get(n->db, NSTORE_TLOG_WITNESS, c->origin, &rc);
	bool same = !rc && !w == !c->w &&
		    (!w || (ju64(w, "size") == c->held_size &&
			    json_equal(json_object_get(w, "root"), json_object_get(c->w, "root"))));
	json_decref(w);
	return same;
}

int witness_cp_step(node_core *n, witness_cp *c)
{
	n->w.cp_slices++;
	return cp_step(n, c, WITNESS_SLICE);
}

int witness_cp_end(node_core *n, witness_cp *c)
{
	if (cp_current(n, c))
		return cp_end(n, c);
	/* checked against another record: all again, at once */
	int rc = take_checkpoint(n, c->p, c->buf, c->len);
	cp_free(c);
	return rc;
}

void witness_cp_free(witness_cp *c)
{
	cp_free(c);
}

/* ================================================================ answers */

/* p cosigned one of our checkpoints (txn). */
static int take_cosignature(node_core *n, core_peer *p, const uint8_t *buf, size_t len)
{
	pl_cbor *m = NULL;
	pl_slice root = {0}, line = {0};
	uint64_t size = 0;
	int rc = pl_cbor_decode(buf, len, NULL, PL_CBOR_CANONICAL, &m);
	if (!rc) {
		pl_cbor_field f[] = {
		    {"root", PL_CBOR_BYTES, 0, H, H, &root, NULL},
		    {"size", PL_CBOR_UINT, 0, 0, 0, &size, NULL},
		    {"cosig", PL_CBOR_TEXT, 0, 1, PL_NOTE_SIG_MAX, &line, NULL},
		};
		rc = pl_cbor_read_map(m, f, 3);
	}
	uint8_t *held = NULL;
	size_t hlen = 0;
	pl_checkpoint hcp;
	pl_buf note = {0};
	char origin[PL_CHECKPOINT_ORIGIN_MAX + 1];
	origin_name(origin, p->state, p->node);
	pl_note_verifier v;
	int64_t t = 0;
	if (!rc)
		rc = held_checkpoint(n, size, &held, &hlen, &hcp);
	if (!rc && memcmp(hcp.root, root.p, H) != 0)
		rc = pl_err_fail(PL_ERR_CONFLICT, "cosignature of another root of size %" PRIu64,
				 size);
	if (!rc && !p->have_pk)
		rc = pl_err_fail(PL_ERR_UNKNOWN_ROOT, "no node record of %s", p->state);
	if (!rc)
		rc = pl_buf_append(&note, held, hlen);
	if (!rc)
		rc = pl_buf_append(&note, line.p, line.n);
	if (!rc)
		rc = pl_note_verifier_init(&v, origin, PL_NOTE_TYPE_COSIG_V1, p->pk);
	if (!rc)
		rc = pl_cosig_verify(note.data, note.len, &v, &t, NULL);
	int src = 0;
	json_t *st = origin_state(n, p, &src);
	if (!st) {
		rc = src;
		goto out;
	}
	json_object_set_new(st, "outstanding", json_false());
	if (rc) {
		node_log(NODE_LOG_WARN, "cosignature refused", "peer=%s reason=%s", p->state,
			 pl_err_detail());
		rc = nstore_json_put(n->db, NSTORE_TLOG_ORIGIN, p->state, st);
		goto out;
	}
	char key[PL_NAME_MAX + 24];
	snprintf(key, sizeof(key), "%020" PRIu64 "/%s", size, p->state);
	rc = nstore_obj_put(n->db, NSTORE_TLOG_COSIG, key, line.p, line.n);
	if (size >= ju64(st, "cosigned"))
		json_object_set_new(st, "cosigned", json_integer((json_int_t)size));
	json_object_del(st, "refused");
	if (!rc)
		rc = nstore_json_put(n->db, NSTORE_TLOG_ORIGIN, p->state, st);
	else
		json_decref(st);
	if (!rc) {
		n->w.cosigned_in++;
		pend(n, "cosignature",
		     json_pack("{s:s,s:I,s:I}", "peer", p->state, "size", (json_int_t)size, "time",
			       (json_int_t)t));
	}
out:
	pl_buf_clear(&note);
	free(held);
	pl_cbor_free(m);
	return rc;
}

/* p refused to cosign (txn). */
static int take_refused(node_core *n, core_peer *p, const uint8_t *buf, size_t len)
{
	pl_cbor *m = NULL;
	uint64_t have = 0;
	bool is_alarm = false;
	pl_slice reason = {0};
	int rc = pl_cbor_decode(buf, len, NULL, PL_CBOR_CANONICAL, &m);
	if (!rc) {
		pl_cbor_field f[] = {
		    {"have", PL_CBOR_UINT, 0, 0, 0, &have, NULL},
		    {"alarm", PL_CBOR_BOOL, 0, 0, 0, &is_alarm, NULL},
		    {"reason", PL_CBOR_TEXT, PL_FIELD_LINE, 0, 255, &reason, NULL},
		};
		rc = pl_cbor_read_map(m, f, 3);
	}
	if (rc) {
		node_log(NODE_LOG_WARN, "malformed checkpoint refusal", "peer=%s reason=%s",
			 p->state, pl_err_detail());
		pl_cbor_free(m);
		return 0;
	}
	char why[256];
	snprintf(why, sizeof(why), "%.*s", (int)reason.n, (const char *)reason.p);
	pl_cbor_free(m);
	json_t *st = origin_state(n, p, &rc);
	if (!st)
		return rc;
	uint64_t size = 0;
	rc = tlog_size(n->db, &size);
	json_object_set_new(st, "outstanding", json_false());
	if (!rc && have <= size) {
		json_object_set_new(st, "cosigned", json_integer((json_int_t)have));
		json_object_set_new(st, "fresh", json_boolean(!is_alarm));
	}
	if (is_alarm) {
		json_object_set_new(st, "refused", json_string(why));
		node_log(NODE_LOG_ERROR, "peer refused to cosign this node's log",
			 "peer=%s reason=%s", p->state, why);
		pend(n, "checkpoint-refused",
		     json_pack("{s:s,s:s,s:I}", "peer", p->state, "reason", why, "have",
			       (json_int_t)have));
	} else {
		node_log(NODE_LOG_INFO, "checkpoint to be sent again",
			 "peer=%s have=%" PRIu64 " reason=%s", p->state, have, why);
	}
	if (!rc && have > size) {
		alarm a = {.peer = n->self.name, .kind = "store-behind", .origin = n->w.origin};
		snprintf(a.detail, sizeof(a.detail),
			 "%s cosigned this node's log at size %" PRIu64
			 " but the store holds %" PRIu64
			 " entries: the store went back (restored from an older copy?)",
			 p->state, have, size);
		bool is_new;
		rc = raise_alarm(n, &a, &is_new);
	}
	if (!rc)
		rc = nstore_json_put(n->db, NSTORE_TLOG_ORIGIN, p->state, st);
	else
		json_decref(st);
	return rc;
}

int witness_take_item(node_core *n, core_peer *p, uint32_t kind, const uint8_t *buf, size_t len,
		      witness_cp **slices)
{
	*slices = NULL;
	if (!n->w.have_key)
		return 0;
	switch (kind) {
	case PL_LINK_KIND_CHECKPOINT: {
		witness_cp *c = NULL;
		int rc = cp_begin(n, p, buf, len, &c);
		if (rc || !c)
			return rc;
		if (!c->a.kind && c->nincl > WITNESS_SLICE) {
			n->w.cp_sliced++;
			*slices = c;
			return 0;
		}
		return cp_all(n, c);
	}
	case PL_LINK_KIND_COSIGNATURE:
		return take_cosignature(n, p, buf, len);
	case PL_LINK_KIND_CHECKPOINT_REFUSED:
		return take_refused(n, p, buf, len);
	default:
		return 0;
	}
}

/* ================================================================ views */

struct collect {
	node_core *n;
	json_t *out;
	int kind;
};

static int alarms_cb(void *ctx, const char *key, const uint8_t *val, size_t len)
{
	struct collect *c = ctx;
	json_t *j = json_loadb((const char *)val, len, 0, NULL);
	if (!j)
		return 0;
	if (c->kind == 0) { /* summary */
		json_object_del(j, "held");
		json_object_del(j, "offered");
	}
	json_array_append_new(c->out, j);
	return 0;
}

static int witness_cb(void *ctx, const char *key, const uint8_t *val, size_t len)
{
	struct collect *c = ctx;
	json_t *j = json_loadb((const char *)val, len, 0, NULL);
	const char *peer = json_string_value(json_object_get(j, "peer"));
	if (peer)
		json_object_set_new(c->out, peer, json_integer((json_int_t)ju64(j, "size")));
	json_decref(j);
	return 0;
}

json_t *witness_status_json(node_core *n)
{
	uint64_t size = 0, last = 0, nalarms = 0;
	uint8_t root[H];
	int rc = tlog_size(n->db, &size);
	if (!rc)
		rc = tlog_root(n->db, size, root);
	if (!rc)
		rc = meta_u64(n->db, "cp", &last);
	if (!rc)
		rc = meta_u64(n->db, "alarms", &nalarms);
	if (rc)
		return NULL;
	json_t *j =
	    json_pack("{s:s,s:I,s:o,s:n,s:o,s:o,s:o,s:o,s:I}", "origin", n->w.origin, "size",
		      (json_int_t)size, "root", json_b64(root, H), "last_checkpoint", "cosigned_by",
		      json_object(), "refused_by", json_object(), "cosigning", json_object(),
		      "alarms", json_array(), "alarms_total", (json_int_t)nalarms);
	if (!j)
		return NULL;
	uint8_t *note = NULL;
	size_t nlen = 0;
	pl_checkpoint cp;
	if (last && held_checkpoint(n, last, &note, &nlen, &cp) == 0) {
		json_object_set_new(j, "last_checkpoint",
				    json_pack("{s:I,s:o,s:o}", "size", (json_int_t)cp.size, "root",
					      json_b64(cp.root, H), "note", json_note(note, nlen)));
		free(note);
	}
	json_t *by = json_object_get(j, "cosigned_by"), *ref = json_object_get(j, "refused_by");
	for (size_t i = 0; i < n->npeers; i++) {
		int r = 0;
		json_t *st = nstore_json_get(n->db, NSTORE_TLOG_ORIGIN, n->peers[i].state, &r);
		if (!st)
			continue;
		json_object_set_new(by, n->peers[i].state,
				    json_integer((json_int_t)ju64(st, "cosigned")));
		json_t *why = json_object_get(st, "refused");
		if (why)
			json_object_set(ref, n->peers[i].state, why);
		json_decref(st);
	}
	struct collect c = {n, json_object_get(j, "cosigning"), 0};
	(void)nstore_obj_list(n->db, NSTORE_TLOG_WITNESS, witness_cb, &c);
	c.out = json_object_get(j, "alarms");
	char from[24];
	size_key(from, nalarms > STATUS_ALARMS ? nalarms - STATUS_ALARMS : 0);
	(void)nstore_obj_range(n->db, NSTORE_TLOG_ALARM, from, NULL, STATUS_ALARMS, alarms_cb, &c);
	return j;
}

int witness_metrics_text(node_core *n, pl_buf *out)
{
	uint64_t size = 0;
	(void)tlog_size(n->db, &size);
	int rc =
	    pl_buf_printf(out,
			  "# HELP parley_transcript_size Entries in this node's transcript.\n"
			  "# TYPE parley_transcript_size gauge\n"
			  "parley_transcript_size %" PRIu64 "\n"
			  "# HELP parley_transcript_checkpoints_total Checkpoints signed.\n"
			  "# TYPE parley_transcript_checkpoints_total counter\n"
			  "parley_transcript_checkpoints_total %" PRIu64 "\n"
			  "# HELP parley_transcript_cosignatures_total Cosignatures, received "
			  "on own checkpoints and given on peers' checkpoints.\n"
			  "# TYPE parley_transcript_cosignatures_total counter\n"
			  "parley_transcript_cosignatures_total{direction=\"in\"} %" PRIu64 "\n"
			  "parley_transcript_cosignatures_total{direction=\"out\"} %" PRIu64 "\n"
			  "# HELP parley_transcript_checkpoints_sliced_total Peers' checkpoints "
			  "whose inclusion proofs were checked a slice at a time.\n"
			  "# TYPE parley_transcript_checkpoints_sliced_total counter\n"
			  "parley_transcript_checkpoints_sliced_total %" PRIu64 "\n"
			  "# HELP parley_transcript_checkpoint_slices_total Slices of "
			  "inclusion proofs checked (up to 32 each).\n"
			  "# TYPE parley_transcript_checkpoint_slices_total counter\n"
			  "parley_transcript_checkpoint_slices_total %" PRIu64 "\n"
			  "# HELP parley_transcript_cosigned_size Size of this node's log the "
			  "peer last cosigned.\n"
			  "# TYPE parley_transcript_cosigned_size gauge\n",
			  size, n->w.checkpoints, n->w.cosigned_in, n->w.cosigned_out,
			  n->w.cp_sliced, n->w.cp_slices);
	for (size_t i = 0; !rc && i < n->npeers; i++) {
		int r = 0;
		json_t *st = nstore_json_get(n->db, NSTORE_TLOG_ORIGIN, n->peers[i].state, &r);
		rc =
		    pl_buf_printf(out, "parley_transcript_cosigned_size{peer=\"%s\"} %" PRIu64 "\n",
				  n->peers[i].state, st ? ju64(st, "cosigned") : 0);
		json_decref(st);
	}
	if (!rc)
		rc = pl_buf_printf(out, "# HELP parley_transcript_alarms_total Transcript alarms "
					"raised, by peer and kind.\n"
					"# TYPE parley_transcript_alarms_total counter\n");
	for (size_t i = 0; !rc && i < n->w.ncounts; i++)
		rc = pl_buf_printf(
		    out, "parley_transcript_alarms_total{peer=\"%s\",kind=\"%s\"} %" PRIu64 "\n",
		    n->w.counts[i].peer, n->w.counts[i].kind, n->w.counts[i].n);
	return rc;
}

/* ---- records for offline verification */

enum { REG_META_ = 1, REG_STATUS_ = 3, REG_PEER_ = 4 };

/* Add the signed state records of the own state and every pinned peer. */
static void add_states(node_core *n, json_t *states)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	if (pl_store_get(n->registry, REG_META_, "state", &buf, &len) == 0)
		json_object_set_new(states, n->self.name, json_b64(buf, len));
	free(buf);
	for (size_t i = 0; i < n->npeers; i++) {
		buf = NULL;
		if (pl_store_get(n->registry, REG_PEER_, n->peers[i].state, &buf, &len) == 0)
			json_object_set_new(states, n->peers[i].state, json_b64(buf, len));
		free(buf);
	}
}

static int noderec_cb(void *ctx, const char *key, const uint8_t *val, size_t len)
{
	json_object_set_new(ctx, key, json_b64(val, len));
	return 0;
}

/* Add this node's record and every peer node record received in a HELLO. */
static void add_node_records(node_core *n, json_t *recs)
{
	json_object_set_new(recs, n->me.name, json_b64(n->me_raw, n->me_raw_len));
	(void)nstore_obj_list(n->db, NSTORE_NODEREC, noderec_cb, recs);
}

struct cosig_collect {
	pl_buf *note;
	json_t *by;
};

static int cosig_cb(void *ctx, const char *key, const uint8_t *val, size_t len)
{
	struct cosig_collect *c = ctx;
	const char *slash = strchr(key, '/');
	if (pl_buf_append(c->note, val, len) != 0)
		return PL_ERR_NOMEM;
	if (slash)
		json_array_append_new(c->by, json_string(slash + 1));
	return 0;
}

/* Own checkpoint of size s with every cosignature received on it, as JSON
 * {"size", "checkpoint", "cosigned_by"}; NULL when none is stored. */
static json_t *own_checkpoint_json(node_core *n, uint64_t s)
{
	uint8_t *held = NULL;
	size_t hlen = 0;
	pl_checkpoint cp;
	if (held_checkpoint(n, s, &held, &hlen, &cp) != 0)
		return NULL;
	pl_buf note = {0};
	json_t *by = json_array();
	struct cosig_collect c = {&note, by};
	char lo[32], hi[32];
	snprintf(lo, sizeof(lo), "%020" PRIu64 "/", s);
	snprintf(hi, sizeof(hi), "%020" PRIu64 "/~", s);
	int rc = pl_buf_append(&note, held, hlen);
	if (!rc)
		rc = nstore_obj_range(n->db, NSTORE_TLOG_COSIG, lo, hi, 0, cosig_cb, &c);
	json_t *j = rc ? NULL
		       : json_pack("{s:I,s:o,s:o,s:o}", "size", (json_int_t)s, "root",
				   json_b64(cp.root, H), "checkpoint",
				   json_note(note.data, note.len), "cosigned_by", json_incref(by));
	json_decref(by);
	pl_buf_clear(&note);
	free(held);
	return j;
}

/* Sizes of the own checkpoints stored (ascending), collected by a walk that
 * must not nest (lib/store has one cursor): callers look at them after it. */
struct sizes {
	uint64_t *v;
	size_t n, cap;
};

static int sizes_cb(void *ctx, const char *key, const uint8_t *val, size_t len)
{
	struct sizes *z = ctx;
	if (z->n == z->cap) {
		size_t cap = z->cap ? 2 * z->cap : 64;
		uint64_t *v = realloc(z->v, cap * sizeof(*v));
		if (!v)
			return PL_ERR_NOMEM;
		z->v = v;
		z->cap = cap;
	}
	z->v[z->n++] = strtoull(key, NULL, 10);
	return 0;
}

static int count_cb(void *ctx, const char *key, const uint8_t *val, size_t len)
{
	(*(size_t *)ctx)++;
	return 0;
}

/* Does the own checkpoint of size s carry a peer's cosignature? */
static bool is_cosigned(node_core *n, uint64_t s)
{
	char lo[32], hi[32];
	size_t count = 0;
	snprintf(lo, sizeof(lo), "%020" PRIu64 "/", s);
	snprintf(hi, sizeof(hi), "%020" PRIu64 "/~", s);
	return nstore_obj_range(n->db, NSTORE_TLOG_COSIG, lo, hi, 1, count_cb, &count) == 0 &&
	       count > 0;
}

/* Proof that this node's own log holds entry index: the latest own
 * checkpoint covering it, preferring one cosigned by a peer. */
static json_t *own_log_proof(node_core *n, uint64_t index)
{
	char from[24];
	size_key(from, index + 1);
	struct sizes z = {0};
	uint64_t best = 0;
	if (nstore_obj_range(n->db, NSTORE_TLOG_CP, from, NULL, 0, sizes_cb, &z) == 0 && z.n) {
		best = z.v[z.n - 1];
		for (size_t i = z.n; i-- > 0;)
			if (is_cosigned(n, z.v[i])) {
				best = z.v[i];
				break;
			}
	}
	free(z.v);
	if (!best)
		return NULL;
	json_t *j = own_checkpoint_json(n, best);
	uint8_t proof[PL_MERKLE_MAX_PROOF * H];
	size_t plen = 0;
	if (!j || tlog_prove_inclusion(n->db, index, best, proof, &plen) != 0) {
		json_decref(j);
		return NULL;
	}
	json_t *pa = json_array();
	for (size_t i = 0; i < plen; i++)
		json_array_append_new(pa, json_b64(proof + i * H, H));
	json_object_set_new(j, "log", json_string(n->w.origin));
	json_object_set_new(j, "state", json_string(n->self.name));
	json_object_set_new(j, "node", json_string(n->me.name));
	json_object_set_new(j, "index", json_integer((json_int_t)index));
	json_object_set_new(j, "inclusion", pa);
	return j;
}

struct seen_scan {
	node_core *n;
	const char *hexid;
	uint64_t pos;
	json_t *proofs;
};

/* For each peer log (WITNESS record), our envelope proven in it. */
static int seen_scan_cb(void *ctx, const char *origin, const uint8_t *val, size_t len)
{
	struct seen_scan *c = ctx;
	char key[PL_CHECKPOINT_ORIGIN_MAX + 32], old[PL_CHECKPOINT_ORIGIN_MAX + 2 * H + 8];
	snprintf(key, sizeof(key), "%s/e/%020" PRIu64, origin, c->pos);
	int rc = 0;
	json_t *seen = nstore_json_get(c->n->db, NSTORE_TLOG_SEEN, key, &rc);
	if (!seen && !rc && nstore_has_old_keys(c->n->db)) { /* an older store's key */
		snprintf(old, sizeof(old), "%s/%s", origin, c->hexid);
		seen = nstore_json_get(c->n->db, NSTORE_TLOG_SEEN, old, &rc);
	}
	json_t *w = json_loadb((const char *)val, len, 0, NULL);
	if (!seen || !w) {
		json_decref(seen);
		json_decref(w);
		return 0;
	}
	uint64_t size = ju64(seen, "size");
	char tk[PL_CHECKPOINT_ORIGIN_MAX + 24];
	snprintf(tk, sizeof(tk), "%s/%020" PRIu64, origin, size);
	uint8_t *note = NULL, proof[PL_MERKLE_MAX_PROOF * H];
	size_t nlen = 0, plen = 0;
	pl_checkpoint cp;
	const char *slash = strchr(origin, '/');
	const char *pb64 = json_string_value(json_object_get(seen, "proof"));
	if (slash && nstore_obj_get(c->n->db, NSTORE_TLOG_THEIRS, tk, &note, &nlen) == 0 &&
	    note_checkpoint(note, nlen, &cp) == 0 &&
	    (!pb64 || !*pb64 || b64_get(pb64, proof, sizeof(proof), &plen) == 0)) {
		json_t *pa = json_array();
		for (size_t i = 0; i + H <= plen; i += H)
			json_array_append_new(pa, json_b64(proof + i, H));
		json_array_append_new(
		    c->proofs,
		    json_pack("{s:s,s:s,s:s,s:I,s:I,s:o,s:o,s:o,s:[s]}", "log", origin, "state",
			      json_string_value(json_object_get(w, "peer")), "node", slash + 1,
			      "index", (json_int_t)ju64(seen, "index"), "size", (json_int_t)size,
			      "root", json_b64(cp.root, H), "inclusion", pa, "checkpoint",
			      json_note(note, nlen), "cosigned_by", c->n->self.name));
	}
	free(note);
	json_decref(seen);
	json_decref(w);
	return 0;
}

json_t *witness_proof_json(node_core *n, const uint8_t id[PL_HASH_BYTES], int *code)
{
	uint8_t *env = NULL;
	size_t len = 0;
	nstore_meta meta;
	int rc = nstore_env_get(n->db, id, &env, &len, &meta);
	if (rc) {
		*code = rc == PL_ERR_NOT_FOUND
			    ? pl_err_fail(PL_ERR_NOT_FOUND, "no envelope with that id on this node")
			    : rc;
		return NULL;
	}
	char hx[2 * H + 1];
	pl_hex_encode(hx, id, H);
	json_t *proofs = json_array();
	json_t *own = own_log_proof(n, meta.pos);
	if (own)
		json_array_append_new(proofs, own);
	struct seen_scan c = {n, hx, meta.pos, proofs};
	if (strcmp(meta.origin, "local") == 0)
		(void)nstore_obj_list(n->db, NSTORE_TLOG_WITNESS, seen_scan_cb, &c);
	if (json_array_size(proofs) == 0) {
		json_decref(proofs);
		free(env);
		*code =
		    pl_err_fail(PL_ERR_NOT_FOUND,
				"envelope %.16s... is in no checkpoint yet; ask again after the "
				"next checkpoint exchange",
				hx);
		return NULL;
	}
	json_t *states = json_object(), *recs = json_object();
	add_states(n, states);
	add_node_records(n, recs);
	json_t *j = json_pack("{s:s,s:i,s:s,s:o,s:o,s:o,s:o}", "type", "parley-proof-of-receipt",
			      "version", 1, "id", hx, "envelope", json_b64(env, len), "proofs",
			      proofs, "states", states, "node_records", recs);
	free(env);
	uint8_t *buf = NULL;
	size_t blen = 0;
	if (j && nstore_obj_get(n->db, NSTORE_CHARTER, meta.ch, &buf, &blen) == 0)
		json_object_set_new(j, "charter", json_b64(buf, blen));
	free(buf);
	buf = NULL;
	if (j && nstore_obj_get(n->db, NSTORE_STATUS, meta.state, &buf, &blen) == 0)
		json_object_set_new(j, "status_list", json_b64(buf, blen));
	free(buf);
	if (!j)
		*code = PL_ERR_NOMEM;
	return j;
}

static int theirs_cb(void *ctx, const char *key, const uint8_t *val, size_t len)
{
	struct collect *c = ctx;
	const char *slash = strrchr(key, '/');
	if (!slash)
		return 0;
	json_array_append_new(c->out, json_pack("{s:s%,s:I,s:o}", "log", key, (size_t)(slash - key),
						"size", (json_int_t)strtoull(slash + 1, NULL, 10),
						"checkpoint", json_note(val, len)));
	return 0;
}

json_t *witness_export_json(node_core *n, int *code)
{
	json_t *status = witness_status_json(n);
	json_t *own = json_array(), *theirs = json_array(), *alarms = json_array();
	json_t *states = json_object(), *recs = json_object();
	struct collect c = {n, theirs, 0};
	struct sizes z = {0};
	int rc = status && own && theirs && alarms ? 0 : PL_ERR_NOMEM;
	if (!rc)
		rc = nstore_obj_list(n->db, NSTORE_TLOG_CP, sizes_cb, &z);
	for (size_t i = 0; !rc && i < z.n; i++) {
		json_t *cp = own_checkpoint_json(n, z.v[i]);
		if (cp)
			json_array_append_new(own, cp);
	}
	free(z.v);
	if (!rc)
		rc = nstore_obj_list(n->db, NSTORE_TLOG_THEIRS, theirs_cb, &c);
	c.out = alarms;
	c.kind = 1;
	if (!rc)
		rc = nstore_obj_list(n->db, NSTORE_TLOG_ALARM, alarms_cb, &c);
	if (rc) {
		json_decref(status);
		json_decref(own);
		json_decref(theirs);
		json_decref(alarms);
		json_decref(states);
		json_decref(recs);
		*code = rc;
		return NULL;
	}
	add_states(n, states);
	add_node_records(n, recs);
	json_t *j = json_pack(
	    "{s:s,s:i,s:s,s:s,s:s,s:I,s:o,s:o,s:o,s:o,s:o,s:o}", "type",
	    "parley-transcript-evidence", "version", 1, "log", n->w.origin, "state", n->self.name,
	    "node", n->me.name, "at", (json_int_t)core_now(), "status", status, "checkpoints", own,
	    "cosigned", theirs, "alarms", alarms, "states", states, "node_records", recs);
	if (!j)
		*code = PL_ERR_NOMEM;
	return j;
}

/* ================================================================ lifecycle */

int witness_init(node_core *n)
{
	core_witness *w = &n->w;
	origin_name(w->origin, n->self.name, n->me.name);
	w->started = core_now();
	w->pending = json_array();
	if (!w->pending)
		return PL_ERR_NOMEM;
	int rc = pl_keyfile_read(n->cfg->key_file, NULL, &w->kp, NULL, 0);
	if (rc)
		return rc;
	if (!pl_ct_equal(w->kp.pk, n->me.pk, PL_PK_BYTES)) {
		/* Its peers refuse such a node at HELLO; it signs nothing either. */
		pl_key_wipe(&w->kp);
		node_log(NODE_LOG_ERROR, "node key is not the key of the node record",
			 "key=%s node=%s effect=\"no checkpoints signed or cosigned\"",
			 n->cfg->key_file, n->me.name);
		return 0;
	}
	w->have_key = true;
	return 0;
}

void witness_free(node_core *n)
{
	pl_key_wipe(&n->w.kp);
	n->w.have_key = false;
	json_decref(n->w.pending);
	n->w.pending = NULL;
}
