/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The node core: accepting envelopes (from the API and from peers), the
 * in-memory views of charters and status lists, and the JSON the API
 * serves.  Links and their queues live in peer.c.
 *
 * Divisions: clock and helpers; caches (charters, status lists, trust);
 * accepting (submit, charters, status lists); views (JSON); metrics; the
 * API backend table; lifecycle.
 *
 * Durability rule: nothing is acknowledged (API answer, link receipt)
 * before the transaction holding it is on stable storage.  The store's
 * thread syncs commits (pl_store_defer_sync), and until it has synced
 * every commit made so far nothing leaves the node: the links' output
 * (net_set_gate), the API's answers and events and the feed's pages
 * (node/hold.h) wait ("the store's syncs" below).  With [node]
 * sync_each_commit every commit syncs before it returns instead.  Every
 * object accepted is appended to the transcript (witness_log, node/tlog.h)
 * in the transaction that accepts it.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "feed.h"
#include "core_int.h"
#include "ecache.h"
#include "hold.h"
#include "stmt.h"
#include "verifier.h"
#include "work.h"
#include "parley/err.h"
#include "parley/file.h"
#include "parley/time.h"

/* Registry kinds written by the parley CLI (cli/cli.h). */
enum { REG_META = 1, REG_CRED = 2, REG_STATUS = 3, REG_PEER = 4, REG_NODE = 5 };

/* ---------------------------------------------------------------- clock, helpers */

int64_t core_now(void)
{
	return (int64_t)time(NULL);
}

int64_t core_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t core_now_ms(void)
{
	return core_now_us() / 1000;
}

static double wall_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

core_peer *core_find_peer(node_core *n, const char *state)
{
	for (size_t i = 0; i < n->npeers; i++)
		if (strcmp(n->peers[i].state, state) == 0)
			return &n->peers[i];
	return NULL;
}

void core_emit(node_core *n, const char *type, json_t *data)
{
	if (n->sink && data)
		n->sink(n->sink_ctx, type, data);
	json_decref(data);
}

bool core_wants_events(const node_core *n)
{
	return n->sink && (!n->api || api_subscriber_count(n->api) > 0);
}

void core_count_reject(node_core *n, int code)
{
	int k = -code;
	if (k > 0 && k < 128)
		n->m.rejected[k]++;
}

bool core_is_refusal(int code)
{
	return code < 0 && code != PL_ERR_IO && code != PL_ERR_NOMEM;
}

void core_count_link_refused(node_core *n, int code)
{
	int k = -code;
	if (core_is_refusal(code) && k < 128)
		n->m.link_refused[k]++;
}

void core_record_refused(node_core *n, const char *record, const char *from, int code,
			 const char *detail)
{
	if (!core_is_refusal(code))
		return; /* the store failed: not a refusal, logged by the caller */
	int k = -code, which = strcmp(record, "charter") == 0 ? 0 : 1;
	if (k > 0 && k < 128)
		n->m.records_rejected[which][k]++;
	char msg[32];
	snprintf(msg, sizeof(msg), "%s refused", record);
	/* an older list from a peer is what a peer resending its queue sends */
	node_log(code == PL_ERR_STALE && from ? NODE_LOG_INFO : NODE_LOG_WARN, msg,
		 "from=%s reason=%s detail=%s", from ? from : "api", pl_err_name(code),
		 detail && *detail ? detail : pl_err_name(code));
}

/* Commit latency buckets (seconds) for the histogram in /metrics. */
const double core_commit_buckets[CORE_COMMIT_BUCKETS] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
							 0.05,   0.1,   0.25,   0.5,   1.0,  2.5};

static void core_sync_now(node_core *n);
static void core_take_subs(node_core *n);

void core_commit_timed(node_core *n, int *rc)
{
	double t0 = wall_s();
	*rc = nstore_commit(n->db);
	double dt = wall_s() - t0;
	n->m.commits++;
	n->m.commit_seconds_sum += dt;
	for (size_t i = 0; i < CORE_COMMIT_BUCKETS; i++)
		if (dt <= core_commit_buckets[i])
			n->m.commit_hist[i]++;
	if (n->sync_urgent) {
		n->sync_urgent = false;
		if (!*rc)
			core_sync_now(n);
	}
}

static void hex(char out[2 * PL_HASH_BYTES + 1], const uint8_t id[PL_HASH_BYTES])
{
	pl_hex_encode(out, id, PL_HASH_BYTES);
}

/* ---------------------------------------------------------------- caches */

static core_charter *charter_find(node_core *n, const char *name)
{
	for (size_t i = 0; i < n->ncharters; i++)
		if (strcmp(n->charters[i]->name, name) == 0)
			return n->charters[i];
	return NULL;
}

const pl_charter *core_charter_lookup(void *arg, const char *ch)
{
	core_charter *c = charter_find(arg, ch);
	return c ? &c->c : NULL;
}

static core_status *status_find(node_core *n, const char *state)
{
	for (size_t i = 0; i < n->nstatus; i++)
		if (strcmp(n->status[i]->state, state) == 0)
			return n->status[i];
	return NULL;
}

const pl_status_list *core_status_lookup(void *arg, const char *state)
{
	core_status *s = status_find(arg, state);
	return s ? &s->l : NULL;
}

int core_seq_lookup(void *arg, const pl_env *env, uint64_t *seq, uint8_t last_id[PL_HASH_BYTES])
{
	node_core *n = arg;
	return nstore_seq_get(n->db, env->state, env->author, env->ch, (int)env->lane, seq,
			      last_id);
}

/* Replace (or add) the cached status list of l->state; takes l's events. */
static int status_cache_put(node_core *n, pl_status_list *l)
{
	core_status *s = status_find(n, l->state);
	if (!s) {
		if (n->nstatus == sizeof(n->status) / sizeof(n->status[0]))
			return pl_err_fail(PL_ERR_LIMIT, "too many status lists");
		s = calloc(1, sizeof(*s));
		if (!s)
			return PL_ERR_NOMEM;
		snprintf(s->state, sizeof(s->state), "%s", l->state);
		n->status[n->nstatus++] = s;
	}
	pl_status_list_clear(&s->l);
	s->l = *l;
	memset(l, 0, sizeof(*l));
	return 0;
}

static int charter_cache_put(node_core *n, pl_charter *c)
{
	core_charter *h = charter_find(n, c->name);
	if (!h) {
		if (n->ncharters == CORE_MAX_CHANNELS)
			return pl_err_fail(PL_ERR_LIMIT, "too many channels");
		h = calloc(1, sizeof(*h));
		if (!h)
			return PL_ERR_NOMEM;
		snprintf(h->name, sizeof(h->name), "%s", c->name);
		n->charters[n->ncharters++] = h;
	}
	pl_charter_clear(&h->c);
	h->c = *c;
	memset(c, 0, sizeof(*c));
	h->complete = pl_charter_check_complete(&h->c) == 0;
	return 0;
}

/*
 * A stored record that fails to open: a record this node verified when it
 * stored it, malformed now or with a signature that no longer covers its
 * text, is a damaged store (the node refuses to start, as for any other
 * damage: docs/faults.md); one whose signer is no longer trusted (a peer
 * removed from the configuration) is only left aside.
 */
static int stored_record_refused(const char *what, const char *key, int rc)
{
	char why[256];
	snprintf(why, sizeof(why), "%s", pl_err_detail());
	if (rc == PL_ERR_MALFORMED || rc == PL_ERR_BAD_SIGNATURE)
		return pl_err_fail(PL_ERR_STORE, "store is damaged: the stored %s %s does not "
				   "verify any more: %s", what, key, why);
	node_log(NODE_LOG_WARN, "stored record left aside", "what=%s key=%s reason=%s", what, key,
		 why);
	return 0;
}

static int load_charter_cb(void *ctx, const char *key, const uint8_t *val, size_t len)
{
	node_core *n = ctx;
	pl_charter c;
	int rc = pl_charter_open(val, len, n->trust, &c);
	if (rc)
		return stored_record_refused("charter", key, rc);
	rc = charter_cache_put(n, &c);
	pl_charter_clear(&c);
	return rc;
}

static int load_status_cb(void *ctx, const char *key, const uint8_t *val, size_t len)
{
	node_core *n = ctx;
	pl_status_list l;
	int rc = pl_status_list_open(val, len, n->trust, &l);
	if (rc)
		return stored_record_refused("status list", key, rc);
	rc = status_cache_put(n, &l);
	pl_status_list_clear(&l);
	return rc;
}

/* The trust set: the own root and the root of every configured peer ([peer NAME])
 * that is pinned in the registry; a pinned state that is not configured is not
 * trusted (its node is refused at HELLO, and nothing signed by it is taken). */
static int load_trust(node_core *n)
{
	pl_trust *t = pl_trust_new();
	if (!t)
		return PL_ERR_NOMEM;
	int rc = pl_trust_add(t, n->self.name, n->self.pk);
	uint8_t *buf = NULL;
	size_t len = 0;
	for (size_t i = 0; !rc && i < n->npeers; i++) {
		rc = pl_store_get(n->registry, REG_PEER, n->peers[i].state, &buf, &len);
		if (rc == PL_ERR_NOT_FOUND) {
			node_log(NODE_LOG_WARN, "configured peer is not pinned",
				 "peer=%s hint=\"parley peer add\"", n->peers[i].state);
			rc = 0;
			continue;
		}
		pl_state_rec rec;
		if (!rc)
			rc = pl_state_rec_open(buf, len, &rec);
		free(buf);
		buf = NULL;
		if (!rc)
			rc = pl_trust_add(t, rec.name, rec.pk);
	}
	if (rc) {
		pl_trust_free(t);
		return rc;
	}
	pl_trust_free(n->trust);
	n->trust = t;
	memset(n->creds, 0, sizeof(n->creds)); /* verified under the old roots */
	return 0;
}

/* ---------------------------------------------------------------- accepting */

/* Queue a blob (charter, status list) on the control lane to peer states. */
static int queue_control(node_core *n, int kind, const uint8_t *buf, size_t len,
			 const char *const *states, size_t nstates)
{
	uint8_t id[PL_HASH_BYTES];
	pl_sha256(id, buf, len);
	int rc = nstore_blob_put(n->db, id, buf, len);
	for (size_t i = 0; !rc && i < nstates; i++) {
		if (strcmp(states[i], n->self.name) == 0 || !core_find_peer(n, states[i]))
			continue;
		uint64_t lseq = 0;
		rc = nstore_out_push(n->db, states[i], PL_LINK_LANE_CONTROL, kind, id,
				     NSTORE_NO_POS, &lseq);
		if (!rc)
			peer_hold_mark(n, states[i], PL_LINK_LANE_CONTROL, kind, lseq);
	}
	return rc;
}

int core_take_status(node_core *n, const uint8_t *buf, size_t len, const char *from)
{
	pl_status_list l;
	int rc = pl_status_list_open(buf, len, n->trust, &l);
	if (rc)
		return rc;
	if (from && strcmp(l.state, from) != 0) {
		pl_status_list_clear(&l);
		return pl_err_fail(PL_ERR_WRONG_STATE, "peer %s sent the status list of %s", from,
				   l.state);
	}
	core_status *held = status_find(n, l.state);
	if (held) {
		rc = pl_status_list_supersedes(&l, &held->l);
		if (rc == PL_ERR_STALE && l.version == held->l.version)
			rc = 0; /* the list held, again: nothing to do */
		if (rc || l.version == held->l.version) {
			pl_status_list_clear(&l);
			return rc;
		}
	}
	rc = nstore_obj_put(n->db, NSTORE_STATUS, l.state, buf, len);
	if (!rc)
		rc = witness_log(n, TLOG_STATUS, buf, len, NULL, NULL, NULL);
	if (!rc && !from) {
		/* our own list: tell every peer */
		const char *states[CORE_MAX_PEERS];
		for (size_t i = 0; i < n->npeers; i++)
			states[i] = n->peers[i].state;
		rc = queue_control(n, PL_LINK_KIND_STATUS_LIST, buf, len, states, n->npeers);
	}
	if (!rc) {
		node_log(NODE_LOG_INFO, "status list taken", "state=%s version=%" PRIu64, l.state,
			 l.version);
		rc = status_cache_put(n, &l);
	}
	pl_status_list_clear(&l);
	return rc;
}

/*
 * Take a signed charter from the API (from == NULL) or a peer: merge it
 * with the one held, store it, and send it on to the other states when it
 * gained signatures.  Part of the caller's transaction.
 */
int core_take_charter(node_core *n, const uint8_t *buf, size_t len, const char *from,
		      char *reason, size_t rlen)
{
	pl_charter c;
	int rc = pl_charter_open(buf, len, n->trust, &c);
	if (rc) {
		snprintf(reason, rlen, "%s", pl_err_detail());
		return rc;
	}
	bool listed = false;
	for (size_t i = 0; i < c.nstates; i++)
		listed |= strcmp(c.states[i], n->self.name) == 0;
	if (!listed || (from && !core_find_peer(n, from))) {
		snprintf(reason, rlen, "charter %s does not list this state (%s)", c.name,
			 n->self.name);
		pl_charter_clear(&c);
		return PL_ERR_NOT_MEMBER;
	}
	core_charter *held = charter_find(n, c.name);
	bool changed = true;
	if (held && held->c.version == c.version) {
		size_t before = 0, after = 0;
		for (size_t i = 0; i < PL_CHARTER_STATES_MAX; i++)
			before += held->c.sig[i] != NULL;
		rc = pl_charter_merge(&c, &held->c);
		for (size_t i = 0; i < PL_CHARTER_STATES_MAX; i++)
			after += c.sig[i] != NULL;
		changed = after > before;
	} else if (held && held->c.version > c.version) {
		rc = pl_err_fail(PL_ERR_STALE, "charter %s version %" PRIu64
				 " is older than the held version %" PRIu64,
				 c.name, c.version, held->c.version);
	} else if (held && held->complete) {
		/* A new version replaces a complete one only once complete. */
		rc = pl_charter_check_complete(&c) == 0 ? pl_charter_supersedes(&c, &held->c) : 0;
		if (rc == 0 && pl_charter_check_complete(&c) != 0) {
			/* keep collecting signatures: store it, but keep the old in force */
			uint8_t *enc = NULL;
			size_t elen = 0;
			rc = pl_charter_encode(&c, &enc, &elen);
			const char *states[PL_CHARTER_STATES_MAX];
			for (size_t i = 0; i < c.nstates; i++)
				states[i] = c.states[i];
			if (!rc)
				rc = witness_log(n, TLOG_CHARTER, enc, elen, NULL, NULL, NULL);
			if (!rc)
				rc = queue_control(n, PL_LINK_KIND_CHARTER, enc, elen, states,
						   c.nstates);
			free(enc);
			pl_charter_clear(&c);
			if (rc)
				snprintf(reason, rlen, "%s", pl_err_detail());
			return rc;
		}
	}
	if (rc) {
		snprintf(reason, rlen, "%s", pl_err_detail());
		pl_charter_clear(&c);
		return rc;
	}
	if (!changed) {
		pl_charter_clear(&c);
		return 0;
	}
	uint8_t *enc = NULL;
	size_t elen = 0;
	rc = pl_charter_encode(&c, &enc, &elen);
	if (!rc)
		rc = nstore_obj_put(n->db, NSTORE_CHARTER, c.name, enc, elen);
	if (!rc)
		rc = witness_log(n, TLOG_CHARTER, enc, elen, NULL, NULL, NULL);
	if (!rc) {
		const char *states[PL_CHARTER_STATES_MAX];
		for (size_t i = 0; i < c.nstates; i++)
			states[i] = c.states[i];
		rc = queue_control(n, PL_LINK_KIND_CHARTER, enc, elen, states, c.nstates);
	}
	free(enc);
	if (!rc) {
		bool complete = pl_charter_check_complete(&c) == 0;
		node_log(NODE_LOG_INFO, "charter taken",
			 "channel=%s version=%" PRIu64 " complete=%s from=%s", c.name, c.version,
			 complete ? "yes" : "no", from ? from : "api");
		core_emit(n, "charter",
			  json_pack("{s:s,s:I,s:b}", "channel", c.name, "version",
				    (json_int_t)c.version, "complete", complete));
		rc = charter_cache_put(n, &c);
	} else {
		snprintf(reason, rlen, "%s", pl_err_detail());
	}
	pl_charter_clear(&c);
	return rc;
}

/*
 * Group commit of the API's submissions: envelopes accepted in one turn of
 * the event loop (up to [node] commit_batch) share one transaction; each
 * submitter hears its answer only after that commit.  Any other writer
 * (links, charters, timers) first commits the open batch (core_begin).
 */
typedef struct core_pending {
	node_submit_result res;
	json_t *event; /* its "envelope" event when someone listens, else NULL */
	node_submit_fn done;
	void *arg;
} core_pending;

static void batch_answer(node_core *n, int rc)
{
	/* Answers may submit again (tests do): take the list first. */
	core_pending *p = n->pend;
	size_t np = n->npend;
	n->pend = NULL;
	n->npend = n->cap_pend = 0;
	for (size_t i = 0; i < np; i++) {
		if (!rc && !p[i].res.duplicate) {
			n->m.accepted_local++;
			core_emit(n, "envelope", p[i].event);
		} else {
			json_decref(p[i].event);
		}
		p[i].done(p[i].arg, &p[i].res, rc);
	}
	free(p);
}

/* After the group batch committed (rc 0) or failed: its events, and the
 * links whose receipts it was to record. */
static void batch_after(node_core *n, int rc)
{
	bool receipts = n->batch_receipts;
	n->batch_receipts = false;
	if (!rc && receipts)
		node_crash_point("after-delivery-commit");
	work_flush(n, rc == 0);
	witness_flush(n, rc == 0);
	/* Receipts not recorded: the links start again, and each peer's HELLO
	 * says again what it holds. */
	if (rc && receipts)
		peer_close_all(n, "could not store receipts");
}

void core_batch_flush(node_core *n)
{
	if (n->subs)
		core_take_subs(n);
	if (!n->batch_open)
		return;
	n->batch_open = false;
	/* Links are pumped from the loop (batch_commit_cb), never from inside
	 * another writer that had to flush first. */
	event_active(n->commit_ev, EV_TIMEOUT, 0);
	int rc;
	core_commit_timed(n, &rc);
	if (!rc && n->npend) {
		n->m.api_batches++;
		n->m.api_batched += n->npend;
		n->m.api_batches_receipts += n->batch_receipts;
	}
	if (rc)
		node_log(NODE_LOG_ERROR, "commit failed", "reason=%s envelopes=%zu receipts=%s",
			 pl_err_detail(), n->npend, n->batch_receipts ? "yes" : "no");
	batch_answer(n, rc);
	batch_after(n, rc);
}

void core_batch_fail(node_core *n, int rc)
{
	nstore_rollback(n->db);
	n->batch_open = false;
	batch_answer(n, rc);
	batch_after(n, rc);
}

void core_commit_urgent(node_core *n)
{
	n->sync_urgent = true;
	if ((n->batch_open || n->subs) && n->commit_urgent_ev)
		event_active(n->commit_urgent_ev, EV_TIMEOUT, 0);
}

int core_join(node_core *n)
{
	if (n->batch_open)
		return 0;
	int rc = nstore_begin(n->db);
	if (rc)
		return rc;
	n->batch_open = true;
	event_active(n->commit_ev, EV_TIMEOUT, 0);
	return 0;
}

void core_emit_after_commit(node_core *n, const char *type, json_t *data)
{
	if (!data)
		return;
	if (!n->work_events)
		n->work_events = json_array();
	if (!n->work_events ||
	    json_array_append_new(n->work_events, json_pack("[s,o]", type, data)) != 0)
		json_decref(data);
}

void core_emit_pairs(node_core *n, json_t *list)
{
	size_t i;
	json_t *v;
	json_array_foreach(list, i, v)
	{
		core_emit(n, json_string_value(json_array_get(v, 0)),
			  json_incref(json_array_get(v, 1)));
	}
	json_decref(list);
}

int core_begin(node_core *n)
{
	core_batch_flush(n);
	return nstore_begin(n->db);
}

static void batch_commit_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	node_core *n = arg;
	core_batch_flush(n);
	peer_pump_all(n);
}

/* Consumes event (may be NULL). */
static int batch_add(node_core *n, const node_submit_result *res, json_t *event,
		     node_submit_fn done, void *arg)
{
	if (n->npend == n->cap_pend) {
		size_t cap = n->cap_pend ? n->cap_pend * 2 : 16;
		core_pending *p = realloc(n->pend, cap * sizeof(*p));
		if (!p) {
			json_decref(event);
			return PL_ERR_NOMEM;
		}
		n->pend = p;
		n->cap_pend = cap;
	}
	n->pend[n->npend].res = *res;
	n->pend[n->npend].event = event;
	n->pend[n->npend].done = done;
	n->pend[n->npend].arg = arg;
	n->npend++;
	return 0;
}

/* Write an accepted envelope into the open transaction; *event, its
 * "envelope" event when someone listens (built from the envelope in hand,
 * not read back and parsed again after the commit), else NULL. */
static int submit_write(node_core *n, const uint8_t *buf, size_t len, const pl_env *env,
			int64_t now, node_submit_result *res, json_t **event)
{
	*event = NULL;
	const pl_charter *ch = core_charter_lookup(n, env->ch);
	nstore_meta meta;
	memset(&meta, 0, sizeof(meta));
	snprintf(meta.ch, sizeof(meta.ch), "%s", env->ch);
	meta.lane = (int)env->lane;
	snprintf(meta.state, sizeof(meta.state), "%s", env->state);
	snprintf(meta.author, sizeof(meta.author), "%s", env->author);
	meta.seq = env->seq;
	meta.at = env->at;
	snprintf(meta.kind, sizeof(meta.kind), "%s", env->kind);
	snprintf(meta.origin, sizeof(meta.origin), "local");
	meta.received = now;
	int rc = witness_log(n, TLOG_ENVELOPE, buf, len, NULL, res->id, &meta.pos);
	if (!rc)
		rc = nstore_env_index(n->db, res->id, buf, len, &meta);
	if (!rc)
		rc = nstore_seq_set(n->db, env->state, env->author, env->ch, (int)env->lane,
				    env->seq, res->id);
	if (!rc)
		rc = work_apply(n, env, res->id, now);
	for (size_t i = 0; !rc && ch && i < ch->nstates; i++) {
		if (strcmp(ch->states[i], n->self.name) == 0)
			continue;
		if (!core_find_peer(n, ch->states[i])) {
			node_log(NODE_LOG_WARN, "channel member state has no [peer] section",
				 "channel=%s state=%s", env->ch, ch->states[i]);
			continue;
		}
		uint64_t lseq = 0;
		rc = nstore_out_push(n->db, ch->states[i], (int)env->lane, PL_LINK_KIND_ENVELOPE,
				     res->id, meta.pos, &lseq);
		if (!rc)
			peer_hold_mark(n, ch->states[i], (int)env->lane, PL_LINK_KIND_ENVELOPE,
				       lseq);
		if (!rc)
			rc = nstore_deliv_set(n->db, meta.pos, ch->states[i], "queued", now);
	}
	res->position = meta.pos;
	if (!rc && core_wants_events(n))
		*event = core_envelope_json_of(n, res->id, env, &meta);
	return rc;
}

/* A submission whose signature the verifier checks (verifier.h): taken
 * further at the group commit, in the order submissions came. */
typedef struct core_sub {
	uint8_t *buf; /* a copy: the opened envelope points into it */
	size_t len;
	uint8_t id[PL_HASH_BYTES]; /* pl_env_id of buf */
	int64_t now;
	node_submit_fn done;
	void *arg;
	pl_env_opened o;
	verifier_job job;
	bool queued; /* job is the verifier's until its result */
	struct core_sub *next;
} core_sub;

/* Already held, or already in the open batch: answered as a duplicate
 * (true).  res->id is set. */
static bool submit_duplicate(node_core *n, node_submit_result *res, node_submit_fn done, void *arg,
			     int *rc)
{
	*rc = 0;
	/* The same envelope twice in one batch: the second waits for the commit
	 * too.  Ids are public hashes: no need to compare in constant time. */
	for (size_t i = 0; i < n->npend; i++)
		if (memcmp(n->pend[i].res.id, res->id, PL_HASH_BYTES) == 0) {
			res->duplicate = true;
			res->position = n->pend[i].res.position;
			n->m.duplicates++;
			*rc = batch_add(n, res, NULL, done, arg);
			return true;
		}
	nstore_meta meta;
	if (nstore_env_get(n->db, res->id, NULL, NULL, &meta) == 0) {
		res->duplicate = true;
		res->position = meta.pos;
		n->m.duplicates++;
		done(arg, res, 0);
		return true;
	}
	return false;
}

/* Refused (rc): counted, logged and answered now. */
static void submit_refuse(node_core *n, node_submit_result *res, int rc, node_submit_fn done,
			  void *arg)
{
	res->code = rc;
	snprintf(res->reason, sizeof(res->reason), "%s", pl_err_detail());
	core_count_reject(n, rc);
	node_log(NODE_LOG_INFO, "envelope refused", "from=api reason=%s detail=%s", pl_err_name(rc),
		 res->reason);
	done(arg, res, 0);
}

/* The rest of a submission (id: pl_env_id of buf), once opened: verified
 * (sig_checked: the key the verifier found signed it, or NULL) and written
 * into the open batch.  Consumes o.  0 when done was or will be called,
 * else a pl_err (done is then not called, and the batch has failed). */
static int submit_opened(node_core *n, const uint8_t id[PL_HASH_BYTES], const uint8_t *buf,
			 size_t len, int64_t now, pl_env_opened *o, const uint8_t *sig_checked,
			 node_submit_fn done, void *arg)
{
	node_submit_result res;
	memset(&res, 0, sizeof(res));
	memcpy(res.id, id, PL_HASH_BYTES);
	int rc;
	if (submit_duplicate(n, &res, done, arg, &rc)) {
		pl_env_opened_clear(o);
		return rc;
	}
	pl_env_ctx ctx = {.trust = n->trust,
			  .charter = core_charter_lookup,
			  .status = core_status_lookup,
			  .last = core_seq_lookup,
			  .arg = n,
			  .sigs = &n->sigs,
			  .now = now,
			  .max_future = PL_ENV_SKEW_DEFAULT,
			  .max_age = 24 * 3600,
			  .sig_checked = sig_checked};
	pl_env env;
	rc = pl_env_verify_opened(o, &ctx, &env);
	if (!rc && strcmp(env.state, n->self.name) != 0)
		rc = pl_err_fail(PL_ERR_WRONG_STATE,
				 "this node accepts envelopes of %s's officials only; %s@%s must "
				 "submit to their own state's node",
				 n->self.name, env.author, env.state);
	if (!rc)
		rc = work_check(n, &env);
	if (rc) {
		pl_env_clear(&env);
		submit_refuse(n, &res, rc, done, arg);
		return 0;
	}
	rc = core_join(n);
	if (rc) {
		pl_env_clear(&env);
		return rc;
	}
	if (env.lane == PL_LANE_FLASH)
		core_commit_urgent(n);
	json_t *event = NULL;
	rc = submit_write(n, buf, len, &env, now, &res, &event);
	pl_env_clear(&env);
	if (!rc)
		rc = batch_add(n, &res, event, done, arg);
	if (rc) {
		/* Nothing of the batch is stored: every submitter hears the failure. */
		node_log(NODE_LOG_ERROR, "cannot store a submission", "reason=%s", pl_err_detail());
		core_batch_fail(n, rc);
		return rc;
	}
	uint32_t max = n->cfg->commit_batch ? n->cfg->commit_batch : 256;
	if (n->npend >= max)
		core_batch_flush(n);
	return 0;
}

static void sub_free(core_sub *s)
{
	pl_env_opened_clear(&s->o);
	free(s->buf);
	free(s);
}

/* Take the waiting submissions further, in the order they came: each with
 * its signature's verdict.  Submissions made meanwhile (an answer may
 * submit again) wait for the next call. */
static void core_take_subs(node_core *n)
{
	core_sub *s = n->subs;
	n->subs = NULL;
	n->subs_tail = &n->subs;
	while (s) {
		core_sub *next = s->next;
		const uint8_t *checked = NULL;
		if (s->queued) {
			n->sigs.checks++; /* by the verifier's thread or by this one */
			if (verifier_result(n->verifier, &s->job) == 0)
				checked = s->job.pk;
		}
		s->queued = false;
		int rc = submit_opened(n, s->id, s->buf, s->len, s->now, &s->o, checked, s->done,
				       s->arg);
		if (rc) {
			node_submit_result res;
			memset(&res, 0, sizeof(res));
			memcpy(res.id, s->id, PL_HASH_BYTES);
			s->done(s->arg, &res, rc);
		}
		sub_free(s);
		s = next;
	}
}

int node_submit_async(node_core *n, const uint8_t *buf, size_t len, int64_t now,
		      node_submit_fn done, void *arg)
{
	node_submit_result res;
	memset(&res, 0, sizeof(res));
	pl_env_id(res.id, buf, len);
	int rc;
	/* A duplicate is found when the submission is taken into a batch
	 * (submit_opened): one look in the store per envelope, not two. */
	core_sub *s = calloc(1, sizeof(*s));
	if (!s || !(s->buf = malloc(len ? len : 1))) {
		free(s);
		return PL_ERR_NOMEM;
	}
	memcpy(s->buf, buf, len);
	s->len = len;
	memcpy(s->id, res.id, PL_HASH_BYTES);
	s->now = now;
	s->done = done;
	s->arg = arg;
	rc = pl_env_open(s->buf, len, &s->o);
	if (rc) {
		submit_refuse(n, &res, rc, done, arg);
		sub_free(s);
		return 0;
	}
	if (!n->verifier) {
		rc = submit_opened(n, s->id, s->buf, len, now, &s->o, NULL, done, arg);
		sub_free(s);
		return rc;
	}
	/* The key that must have signed it, if any: the verifier checks it
	 * meanwhile.  Anything amiss (no charter, no member, a batch) is
	 * found and told by pl_env_verify_opened at the commit.  The first
	 * submission of a turn is checked on the loop, which takes it first,
	 * and so is a FLASH: neither waits for the thread (which the
	 * scheduler may have put behind other work). */
	bool ahead = n->subs && s->o.env.lane != PL_LANE_FLASH && !s->o.env.batched;
	const pl_charter *ch = ahead ? core_charter_lookup(n, s->o.env.ch) : NULL;
	const pl_charter_member *m =
	    ch ? pl_charter_find_member(ch, s->o.env.state, s->o.env.author) : NULL;
	if (m) {
		s->job.env = &s->o;
		memcpy(s->job.pk, m->cred.pk, PL_PK_BYTES);
		verifier_push(n->verifier, &s->job);
		s->queued = true;
	}
	*n->subs_tail = s;
	n->subs_tail = &s->next;
	if (s->o.env.lane == PL_LANE_FLASH)
		core_commit_urgent(n);
	else
		event_active(n->commit_ev, EV_TIMEOUT, 0);
	return 0;
}

struct sync_answer {
	node_submit_result *res;
	int rc;
	bool done;
};

static void sync_done(void *arg, const node_submit_result *res, int rc)
{
	struct sync_answer *a = arg;
	*a->res = *res;
	a->rc = rc;
	a->done = true;
}

int node_submit(node_core *n, const uint8_t *buf, size_t len, int64_t now, node_submit_result *res)
{
	struct sync_answer a = {res, 0, false};
	memset(res, 0, sizeof(*res));
	int rc = node_submit_async(n, buf, len, now, sync_done, &a);
	if (rc)
		return rc;
	if (!a.done)
		core_batch_flush(n);
	return a.rc;
}

/* ---------------------------------------------------------------- views */

static json_t *lanes_json(unsigned lanes)
{
	json_t *a = json_array();
	for (unsigned l = 1; a && l <= 4; l++)
		if (lanes & (1u << l))
			json_array_append_new(a, json_string(pl_lane_name((pl_lane)l)));
	return a;
}

static json_t *charter_json(const core_charter *h)
{
	const pl_charter *c = &h->c;
	json_t *states = json_array(), *kinds = json_array(), *members = json_array(),
	       *signed_by = json_array();
	for (size_t i = 0; i < c->nstates; i++) {
		json_array_append_new(states, json_string(c->states[i]));
		if (c->sig[i])
			json_array_append_new(signed_by, json_string(c->states[i]));
	}
	for (size_t i = 0; i < c->nkinds; i++)
		json_array_append_new(kinds, json_string(c->kinds[i]));
	for (size_t i = 0; i < c->nmembers; i++) {
		const pl_cred *m = &c->members[i].cred;
		json_array_append_new(members, json_pack("{s:s,s:s,s:s,s:s}", "state", m->state,
							 "id", m->id, "name", m->name, "title",
							 m->title));
	}
	return json_pack("{s:s,s:I,s:o,s:o,s:o,s:o,s:o,s:o,s:b}", "name", c->name, "version",
			 (json_int_t)c->version, "states", states, "signed_by", signed_by, "kinds",
			 kinds, "lanes", lanes_json(c->lanes), "policy", work_policy_json(c),
			 "members", members, "complete", h->complete);
}

json_t *node_channels_json(node_core *n)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < n->ncharters; i++)
		json_array_append_new(a, charter_json(n->charters[i]));
	return json_pack("{s:o}", "channels", a);
}

static int deliv_cb(void *ctx, const char *peer, const char *state, int64_t t)
{
	char when[PL_TIME_LEN];
	pl_time_format(when, t);
	return json_object_set_new(ctx, peer, json_pack("{s:s,s:s}", "state", state, "at", when));
}

static bool is_utf8_text(const uint8_t *p, size_t n)
{
	json_t *s = json_stringn((const char *)p, n);
	bool ok = s != NULL && memchr(p, 0, n) == NULL;
	json_decref(s);
	return ok;
}

json_t *core_envelope_json_of(node_core *n, const uint8_t id[PL_HASH_BYTES], const pl_env *env,
			      const nstore_meta *m)
{
	char hx[2 * PL_HASH_BYTES + 1], at[PL_TIME_LEN], rcv[PL_TIME_LEN];
	hex(hx, id);
	pl_time_format(at, m->at);
	pl_time_format(rcv, m->received);
	char *b64 = malloc(pl_b64_len(env->body_len));
	if (b64)
		pl_b64_encode(b64, env->body, env->body_len);
	/* Delivery states are kept for the envelopes submitted here (queued
	 * at submission, delivered at the peer's receipt), never for those a
	 * peer sent: no range read for an empty answer, at every envelope
	 * event of a drain (4.5% of the receiver's time). */
	json_t *deliv = json_object();
	if (strcmp(m->origin, "local") == 0)
		(void)nstore_deliv_walk(n->db, id, m->pos, deliv_cb, deliv);
	json_t *j =
	    json_pack("{s:s,s:I,s:s,s:s,s:s,s:s,s:I,s:s,s:s,s:s,s:s,s:s?,s:o}", "id", hx,
		      "position", (json_int_t)m->pos, "channel", m->ch, "precedence",
		      pl_lane_name((pl_lane)m->lane), "state", m->state, "author", m->author, "seq",
		      (json_int_t)m->seq, "kind", m->kind, "created", at, "received", rcv, "origin",
		      m->origin, "body_b64", b64, "delivery", deliv);
	if (j && is_utf8_text(env->body, env->body_len))
		json_object_set_new(j, "body",
				    json_stringn((const char *)env->body, env->body_len));
	if (j && env->has_ackby) {
		char ab[PL_TIME_LEN];
		pl_time_format(ab, env->ackby);
		json_object_set_new(j, "ackby", json_string(ab));
	}
	if (j && env->has_ref) {
		char rf[2 * PL_HASH_BYTES + 1];
		hex(rf, env->ref);
		json_object_set_new(j, "ref", json_string(rf));
	}
	if (j)
		json_object_set_new(j, "receipts", work_acks_json(n, id));
	free(b64);
	return j;
}

json_t *core_envelope_json(node_core *n, const uint8_t id[PL_HASH_BYTES], int *code)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	nstore_meta m;
	int rc = nstore_env_get(n->db, id, &buf, &len, &m);
	if (rc) {
		*code = rc;
		return NULL;
	}
	pl_env env;
	rc = pl_env_parse(buf, len, &env);
	if (rc) {
		free(buf);
		*code = rc;
		return NULL;
	}
	json_t *j = core_envelope_json_of(n, id, &env, &m);
	pl_env_clear(&env);
	free(buf);
	if (!j)
		*code = PL_ERR_NOMEM;
	return j;
}

json_t *node_envelope_json(node_core *n, const uint8_t id[PL_HASH_BYTES], int *code)
{
	return core_envelope_json(n, id, code);
}

/* The page's ids are collected first and turned into JSON after the walk:
 * an envelope's delivery states are a range read of their own, which the
 * store does not allow inside another walk. */
struct page {
	uint8_t (*ids)[PL_HASH_BYTES];
	uint64_t last;
	int count;
};

static int page_cb(void *ctx, uint64_t pos, const uint8_t id[PL_HASH_BYTES])
{
	struct page *p = ctx;
	memcpy(p->ids[p->count++], id, PL_HASH_BYTES);
	p->last = pos;
	return 0;
}

json_t *node_channel_page_json(node_core *n, const char *ch, const char *cursor, int limit,
			       int *code)
{
	if (!charter_find(n, ch)) {
		*code = pl_err_fail(PL_ERR_UNKNOWN_CHANNEL, "no channel '%s' on this node", ch);
		return NULL;
	}
	uint64_t after = 0;
	bool have = false;
	if (cursor && *cursor) {
		char *end;
		errno = 0;
		unsigned long long v = strtoull(cursor, &end, 10);
		if (errno || *end || end == cursor) {
			*code = pl_err_fail(PL_ERR_MALFORMED, "bad cursor '%s'", cursor);
			return NULL;
		}
		after = v;
		have = true;
	}
	if (limit < 1 || limit > 500) {
		*code = pl_err_fail(PL_ERR_INVALID, "limit %d is not in 1..500", limit);
		return NULL;
	}
	struct page p = {calloc((size_t)limit, PL_HASH_BYTES), 0, 0};
	json_t *items = json_array();
	int rc = p.ids && items
			 ? nstore_chlog_walk(n->db, ch, after, have, (size_t)limit, page_cb, &p)
			 : PL_ERR_NOMEM;
	for (int i = 0; !rc && i < p.count; i++) {
		json_t *e = core_envelope_json(n, p.ids[i], &rc);
		if (!e && !rc)
			rc = PL_ERR_NOMEM;
		if (e && json_array_append_new(items, e) != 0)
			rc = PL_ERR_NOMEM;
	}
	free(p.ids);
	if (rc) {
		json_decref(items);
		*code = rc;
		return NULL;
	}
	char next[32];
	snprintf(next, sizeof(next), "%" PRIu64, p.last);
	return json_pack("{s:o,s:s?}", "items", items, "next", p.count == limit ? next : NULL);
}

json_t *node_status_json(node_core *n)
{
	json_t *peers = json_array();
	for (size_t i = 0; peers && i < n->npeers; i++)
		json_array_append_new(peers, peer_status_json(n, &n->peers[i]));
	uint64_t size = 0;
	(void)tlog_size(n->db, &size);
	/* The fingerprint costs thousands of hashes by design: once per key,
	 * not once per status request. */
	if (!n->self_fpr[0])
		pl_fingerprint(n->self_fpr, n->self.name, n->self.pk);
	const char *fpr = n->self_fpr;
	json_t *statuses = json_object();
	for (size_t i = 0; statuses && i < n->nstatus; i++)
		json_object_set_new(statuses, n->status[i]->state,
				    json_integer((json_int_t)n->status[i]->l.version));
	return json_pack("{s:s,s:s,s:s,s:o,s:I,s:i,s:o,s:o*}", "node", n->me.name, "state",
			 n->self.name, "fingerprint", fpr, "peers", peers, "log_size",
			 (json_int_t)size, "channels", (int)n->ncharters, "status_lists",
			 statuses, "transcript", witness_status_json(n));
}

int node_find_official(node_core *n, const char *state, const char *id, int64_t now,
		       pl_cred *out)
{
	if (strcmp(state, n->self.name) != 0)
		return pl_err_fail(PL_ERR_WRONG_STATE, "this node serves %s's officials only",
				   n->self.name);
	if (!pl_name_is_valid(id))
		return pl_err_fail(PL_ERR_NOT_FOUND, "no official '%s'", id);
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc = pl_store_get(n->registry, REG_CRED, id, &buf, &len);
	if (rc)
		return pl_err_fail(PL_ERR_NOT_FOUND, "no official '%s' in %s's registry", id,
				   n->self.name);
	/* Every API request asks this: verify a credential's root signature once
	 * per registry version of it, its time and status every time. */
	uint8_t hash[PL_HASH_BYTES];
	pl_sha256(hash, buf, len);
	struct core_cred_seen *seen = NULL;
	for (size_t i = 0; !seen && i < CORE_CRED_CACHE; i++)
		if (n->creds[i].used && pl_ct_equal(n->creds[i].hash, hash, PL_HASH_BYTES))
			seen = &n->creds[i];
	if (!seen) {
		pl_cred c;
		rc = pl_cred_open(buf, len, n->trust, &c);
		free(buf);
		if (rc)
			return rc;
		seen = &n->creds[n->creds_next];
		n->creds_next = (n->creds_next + 1) % CORE_CRED_CACHE;
		memcpy(seen->hash, hash, PL_HASH_BYTES);
		seen->cred = c;
		seen->used = true;
	} else {
		free(buf);
	}
	if (out)
		*out = seen->cred;
	return pl_cred_check(&seen->cred, core_status_lookup(n, n->self.name), now, "checked at");
}

static json_t *next_seq_json(void *be, const char *state, const char *id, const char *ch,
			     int lane, int *code)
{
	node_core *n = be;
	core_charter *h = charter_find(n, ch);
	if (!h) {
		*code = pl_err_fail(PL_ERR_UNKNOWN_CHANNEL, "no channel '%s' on this node", ch);
		return NULL;
	}
	if (!pl_charter_find_member(&h->c, state, id)) {
		*code = pl_err_fail(PL_ERR_NOT_MEMBER, "%s@%s is not a member of channel %s", id,
				    state, ch);
		return NULL;
	}
	uint64_t seq;
	uint8_t last[PL_HASH_BYTES];
	int rc = nstore_seq_get(n->db, state, id, ch, lane, &seq, last);
	if (rc) {
		*code = rc;
		return NULL;
	}
	char hx[2 * PL_HASH_BYTES + 1];
	hex(hx, last);
	return json_pack("{s:I,s:s?}", "seq", (json_int_t)(seq + 1), "prev", seq ? hx : NULL);
}

/* ---------------------------------------------------------------- API backend */

static int be_submit(void *be, const uint8_t *env, size_t len, int64_t now,
		     node_submit_result *res)
{
	return node_submit(be, env, len, now, res);
}

static int be_submit_async(void *be, const uint8_t *env, size_t len, int64_t now,
			   node_submit_fn done, void *arg)
{
	return node_submit_async(be, env, len, now, done, arg);
}

static json_t *be_channels(void *be)
{
	return node_channels_json(be);
}

static json_t *be_page(void *be, const char *ch, const char *cursor, int limit, int *code)
{
	return node_channel_page_json(be, ch, cursor, limit, code);
}

static json_t *be_envelope(void *be, const uint8_t id[PL_HASH_BYTES], int *code)
{
	return node_envelope_json(be, id, code);
}

static json_t *be_status(void *be)
{
	return node_status_json(be);
}

static int be_find_official(void *be, const char *state, const char *id, int64_t now,
			    pl_cred *out)
{
	return node_find_official(be, state, id, now, out);
}

static int be_submit_charter(void *be, const uint8_t *p, size_t len, int64_t now, char *reason,
			     size_t rlen)
{
	node_core *n = be;
	(void)now;
	int rc = core_begin(n);
	if (!rc) {
		rc = core_take_charter(n, p, len, NULL, reason, rlen);
		core_record_refused(n, "charter", NULL, rc, reason);
	}
	if (!rc)
		core_commit_timed(n, &rc);
	else
		nstore_rollback(n->db);
	if (!rc)
		peer_pump_all(n);
	return rc;
}

static int be_submit_status(void *be, const uint8_t *p, size_t len, char *reason, size_t rlen)
{
	node_core *n = be;
	pl_status_list l;
	int rc = pl_status_list_open(p, len, n->trust, &l);
	if (!rc && strcmp(l.state, n->self.name) != 0)
		rc = pl_err_fail(PL_ERR_WRONG_STATE,
				 "this node takes %s's status list only; %s's comes from its own "
				 "node",
				 n->self.name, l.state);
	pl_status_list_clear(&l);
	uint8_t *held = NULL;
	size_t hlen = 0;
	if (!rc && nstore_obj_get(n->db, NSTORE_STATUS, n->self.name, &held, &hlen) == 0 &&
	    hlen == len && memcmp(held, p, len) == 0) {
		free(held);
		return 0; /* the list it holds, again: nothing to do */
	}
	free(held);
	if (!rc)
		rc = core_begin(n);
	if (!rc) {
		rc = core_take_status(n, p, len, NULL);
		if (!rc)
			core_commit_timed(n, &rc);
		else
			nstore_rollback(n->db);
	}
	if (rc) {
		snprintf(reason, rlen, "%s", pl_err_detail());
		core_record_refused(n, "status list", NULL, rc, reason);
	} else {
		peer_pump_all(n);
	}
	return rc;
}

static json_t *be_view(void *be, const char *what, const char *a1, const char *a2, int64_t now,
		       int *code)
{
	node_core *n = be;
	if (strcmp(what, "pending") == 0)
		return work_pending_json(n, now);
	if (strcmp(what, "requests") == 0)
		return work_requests_json(n, a1, code);
	if (strcmp(what, "request") == 0) {
		uint8_t id[PL_HASH_BYTES];
		size_t got = 0;
		nstore_meta m;
		if (pl_hex_decode(id, sizeof(id), &got, a1, strlen(a1)) != 0 || got != sizeof(id) ||
		    nstore_env_get(n->db, id, NULL, NULL, &m) != 0) {
			*code = 404;
			pl_err_fail(PL_ERR_NOT_FOUND, "no request %s on this node", a1);
			return NULL;
		}
		return work_request_json(n, m.ch, a1, code);
	}
	if (strcmp(what, "statements") == 0)
		return stmt_list_json(n, a1, code);
	if (strcmp(what, "statement") == 0)
		return stmt_json(n, a1, a2, code);
	if (strcmp(what, "bundle") == 0)
		return stmt_bundle_json(n, a1, a2, code);
	*code = 404;
	return NULL;
}

static json_t *be_charter(void *be, const char *name, int *code)
{
	node_core *n = be;
	core_charter *h = charter_find(n, name);
	if (!h) {
		*code = pl_err_fail(PL_ERR_UNKNOWN_CHANNEL, "no charter '%s' on this node", name);
		return NULL;
	}
	json_t *j = charter_json(h);
	uint8_t *enc = NULL;
	size_t len = 0;
	if (j && pl_charter_encode(&h->c, &enc, &len) == 0) {
		char *b64 = malloc(pl_b64_len(len));
		if (b64) {
			pl_b64_encode(b64, enc, len);
			json_object_set_new(j, "charter", json_string(b64));
			free(b64);
		}
		free(enc);
	}
	return j;
}

static int be_metrics(void *be, pl_buf *out)
{
	return node_metrics_text(be, out);
}

static json_t *be_log_status(void *be, int *code)
{
	json_t *j = witness_status_json(be);
	if (!j)
		*code = PL_ERR_STORE;
	return j;
}

static json_t *be_log_proof(void *be, const uint8_t id[PL_HASH_BYTES], int *code)
{
	return witness_proof_json(be, id, code);
}

static json_t *be_log_export(void *be, int *code)
{
	return witness_export_json(be, code);
}

static api_backend core_backend = {
	.version = API_BACKEND_VERSION,
	.node_name = NULL, /* set at start */
	.submit = be_submit,
	.channels = be_channels,
	.channel_page = be_page,
	.envelope = be_envelope,
	.status = be_status,
	.find_official = be_find_official,
	.next_seq = next_seq_json,
	.submit_charter = be_submit_charter,
	.charter = be_charter,
	.metrics = be_metrics,
	.log_status = be_log_status,
	.log_proof = be_log_proof,
	.log_export = be_log_export,
	.submit_async = be_submit_async,
	.view = be_view,
	.submit_status = be_submit_status,
};

const api_backend *node_core_backend(void)
{
	return &core_backend;
}

void node_set_event_sink(node_core *n, node_event_fn fn, void *ctx)
{
	n->sink = fn;
	n->sink_ctx = ctx;
}

/* ---------------------------------------------------------------- lifecycle */

/* Own status list from the registry: take it when newer than the held one. */
static int import_own_status(node_core *n)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc = pl_store_get(n->registry, REG_STATUS, n->self.name, &buf, &len);
	if (rc == PL_ERR_NOT_FOUND)
		return 0;
	if (rc)
		return rc;
	core_status *held = status_find(n, n->self.name);
	pl_status_list l;
	rc = pl_status_list_open(buf, len, n->trust, &l);
	bool newer = !rc && (!held || l.version > held->l.version);
	pl_status_list_clear(&l);
	if (!rc && newer) {
		rc = core_begin(n);
		if (!rc)
			rc = core_take_status(n, buf, len, NULL);
		if (!rc)
			core_commit_timed(n, &rc);
		else
			nstore_rollback(n->db);
	}
	free(buf);
	return rc;
}

static int read_file_into(const char *path, uint8_t **buf, size_t *len)
{
	return pl_file_read(path, 64 * 1024, buf, len);
}

const pl_store_methods *node_store_methods;
void (*node_crash_hook)(const char *point);

node_core *node_core_new(node_config *cfg, struct event_base *base)
{
	node_core *n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	n->cfg = cfg;
	n->base = base;
	n->sync_fd[0] = n->sync_fd[1] = -1;
	n->subs_tail = &n->subs;
	/* Three priorities: the CONTROL+FLASH connections (0) go before
	 * everything else (1, the default) when both are ready in one turn of
	 * the loop.  Only possible before the loop runs; without it every
	 * event shares one priority, which is correct, only slower for a FLASH. */
	if (event_base_priority_init(base, NODE_PRIORITIES) != 0)
		node_log(NODE_LOG_WARN, "event priorities not available", NULL);
	const char *what = "registry";
	int rc = pl_store_open(cfg->state_db, PL_STORE_READONLY, NULL, &n->registry);
	uint8_t *buf = NULL;
	size_t len = 0;
	if (!rc) {
		what = "state record";
		rc = pl_store_get(n->registry, REG_META, "state", &buf, &len);
		if (!rc)
			rc = pl_state_rec_open(buf, len, &n->self);
		free(buf);
	}
	for (size_t i = 0; !rc && i < cfg->npeers && i < CORE_MAX_PEERS; i++) {
		core_peer *p = &n->peers[n->npeers++];
		snprintf(p->state, sizeof(p->state), "%s", cfg->peers[i].name);
	}
	if (!rc) {
		what = "pinned peers";
		rc = load_trust(n);
	}
	if (!rc) {
		what = "node record";
		rc = read_file_into(cfg->rec_file, &n->me_raw, &n->me_raw_len);
		if (!rc)
			rc = pl_node_rec_open(n->me_raw, n->me_raw_len, n->trust, &n->me);
		if (!rc && strcmp(n->me.name, cfg->name) != 0)
			rc = pl_err_fail(PL_ERR_CONFLICT, "%s is the record of node %s, not %s",
					 cfg->rec_file, n->me.name, cfg->name);
		if (!rc)
			rc = pl_node_rec_check_time(&n->me, core_now());
	}
	if (!rc) {
		what = "node key";
		rc = tls_load(&n->tls, cfg->key_file, cfg->name);
	}
	if (!rc) {
		what = "node store";
		int v = 0;
		if (nstore_schema_of(cfg->data, &v) == 0 && v < NSTORE_SCHEMA)
			node_log(NODE_LOG_WARN, "upgrading the store",
				 "from=%d to=%d note=\"a one-time copy of every row, some 6 s per "
				 "million rows (docs/formats.md)\"",
				 v, NSTORE_SCHEMA);
		rc = nstore_open_with(cfg->data, node_store_methods, &n->db);
	}
	if (!rc && cfg->store_check != NODE_STORE_CHECK_OFF) {
		what = "node store check";
		int64_t t0 = core_now_ms();
		node_check_stats cs = {0};
		rc = node_store_check(n->db, cfg->store_check == NODE_STORE_CHECK_FULL, &cs);
		if (!rc)
			node_log(NODE_LOG_INFO, "store checked",
				 "level=%s envelopes=%" PRIu64 " entries=%" PRIu64 " ms=%" PRId64,
				 cfg->store_check == NODE_STORE_CHECK_FULL ? "full" : "quick",
				 cs.envelopes, cs.entries, core_now_ms() - t0);
	}
	if (!rc) {
		what = "held charters and status lists";
		rc = nstore_obj_list(n->db, NSTORE_STATUS, load_status_cb, n);
		if (!rc)
			rc = nstore_obj_list(n->db, NSTORE_CHARTER, load_charter_cb, n);
	}
	if (!rc) {
		what = "transcript key";
		rc = witness_init(n);
	}
	if (!rc) {
		what = "own status list";
		rc = import_own_status(n);
	}
	if (rc) {
		node_log(NODE_LOG_ERROR, "cannot start", "what=%s reason=%s", what,
			 *pl_err_detail() ? pl_err_detail() : pl_strerror(rc));
		node_core_free(n);
		return NULL;
	}
	for (size_t i = 0; i < n->npeers; i++)
		for (int l = 0; l < PL_LINK_LANES; l++)
			(void)nstore_in_next(n->db, n->peers[i].state, l, &n->peers[i].in_next[l]);
	return n;
}

/* ------------------------------------------------------ the store's syncs */

/* The count of commits what is sent now waits for (net_set_gate, hold.h):
 * those made, or 0 when all are synced.  After a failed sync it never
 * comes: nothing leaves the node, which stops. */
static uint64_t core_output_tag(void *arg)
{
	node_core *n = arg;
	pl_store_sync st;
	nstore_sync_state(n->db, &st);
	return st.committed > st.synced ? st.committed : 0;
}

/* The store's syncer thread, after each sync: wake the loop. */
static void core_synced_notify(void *arg)
{
	node_core *n = arg;
	char c = 1;
	ssize_t w = write(n->sync_fd[1], &c, 1); /* full: a byte waits already */
	(void)w;
}

static void core_synced_cb(evutil_socket_t fd, short what, void *arg)
{
	node_core *n = arg;
	char buf[64];
	(void)what;
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	pl_store_sync st;
	nstore_sync_state(n->db, &st);
	if (st.error && !n->sync_failed) {
		n->sync_failed = true;
		node_log(NODE_LOG_ERROR, "store sync failed",
			 "store=\"%s\" error=%s unsynced=%" PRIu64
			 " hint=\"what was not synced may be lost: the node stops without telling "
			 "anyone of it; check the disk, then start the node again\"",
			 n->cfg->data, strerror(st.error), st.committed - st.synced);
		event_base_loopexit(n->base, NULL);
		return;
	}
	net_release(n->net, st.synced);
	hold_release(n->hold, st.synced);
}

/* A FLASH was committed: wait for its sync here, so that the loop adds
 * nothing to the WAL meanwhile (that sync stays small), and send at once
 * what waited for it. */
static void core_sync_now(node_core *n)
{
	if (!n->hold || nstore_sync_wait(n->db) != 0)
		return; /* a failed sync is core_synced_cb's to report */
	pl_store_sync st;
	nstore_sync_state(n->db, &st);
	net_release(n->net, st.synced);
	hold_release(n->hold, st.synced);
}

/* Let the store's thread sync commits, holding back the node's output
 * meanwhile.  A store that cannot (the fault-injecting one of the tests)
 * syncs in each commit, as with sync_each_commit. */
static int core_defer_syncs(node_core *n)
{
	if (n->cfg->sync_each_commit)
		return 0;
	if (pipe(n->sync_fd) != 0) {
		n->sync_fd[0] = n->sync_fd[1] = -1;
		return pl_err_fail(PL_ERR_IO, "cannot make the store's sync pipe: %s",
				   strerror(errno));
	}
	for (int i = 0; i < 2; i++)
		if (evutil_make_socket_nonblocking(n->sync_fd[i]) != 0 ||
		    evutil_make_socket_closeonexec(n->sync_fd[i]) != 0)
			return pl_err_fail(PL_ERR_IO, "cannot set up the store's sync pipe");
	n->sync_ev = event_new(n->base, n->sync_fd[0], EV_READ | EV_PERSIST, core_synced_cb, n);
	n->hold = hold_new(core_output_tag, n);
	if (!n->sync_ev || !n->hold || event_add(n->sync_ev, NULL) != 0)
		return pl_err_fail(PL_ERR_NOMEM, "cannot set up the store's syncs");
	(void)event_priority_set(n->sync_ev, 0);
	int rc = nstore_defer_sync(n->db, core_synced_notify, n);
	if (rc == PL_ERR_INVALID) {
		/* nothing to wait for: no hold, no pipe (hold.h sends at once
		 * without one, and core_sync_now has nothing to do) */
		node_log(NODE_LOG_INFO, "store syncs in each commit", "reason=\"%s\"",
			 pl_err_detail());
		event_free(n->sync_ev);
		n->sync_ev = NULL;
		hold_free(n->hold);
		n->hold = NULL;
		return 0;
	}
	if (rc)
		return rc;
	net_set_gate(n->net, core_output_tag, n);
	return 0;
}

bool node_core_failed(const node_core *n)
{
	return n && n->sync_failed;
}

/* Log the store's failed WAL checkpoints, at most once every 10 s: each
 * leaves the WAL to grow until a checkpoint succeeds (a full or
 * write-protected disk, the store's file moved away). */
static void store_watch(node_core *n, int64_t now)
{
	pl_store_stats ss;
	nstore_backend_stats(n->db, &ss);
	if (ss.checkpoints_failed <= n->ckpt_failed_logged || now < n->ckpt_failed_log_at + 10)
		return;
	node_log(
	    NODE_LOG_WARN, "store checkpoints failed",
	    "failed=%" PRIu64 " total=%" PRIu64 " store=\"%s\" hint=\"the WAL beside the store "
	    "grows until one succeeds: check the disk's space and the store file\"",
	    ss.checkpoints_failed - n->ckpt_failed_logged, ss.checkpoints_failed, n->cfg->data);
	n->ckpt_failed_logged = ss.checkpoints_failed;
	n->ckpt_failed_log_at = now;
}

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	int64_t now = core_now();
	peer_tick_all(arg);
	witness_tick(arg);
	work_tick(arg, now);
	store_watch(arg, now);
}

int node_core_start(node_core *n)
{
	core_backend.node_name = n->me.name;
	net_params np;
	net_params_default(&np);
	np.backoff_min_ms = n->cfg->link.backoff_min_ms;
	np.backoff_max_ms = n->cfg->link.backoff_max_ms;
	np.sock_buf = (int)n->cfg->link.socket_buffer;
	n->net = net_new(n->base, n->tls, &np, &core_net_callbacks, n);
	if (!n->net)
		return pl_err_fail(PL_ERR_NOMEM, "cannot set up networking");
	int rc = core_defer_syncs(n);
	if (rc) {
		node_log(NODE_LOG_ERROR, "cannot defer the store's syncs", "reason=%s",
			 pl_err_detail());
		return rc;
	}
	rc = net_listen(n->net, n->cfg->listen);
	if (rc) {
		node_log(NODE_LOG_ERROR, "cannot listen for peers", "addr=%s reason=%s",
			 n->cfg->listen, pl_err_detail());
		return rc;
	}
	api_config ac = {0};
	ac.max_connections = n->cfg->api_max_connections;
	ac.hold = n->hold;
	n->api = api_new(n->base, &core_backend, n, &ac);
	if (!n->api)
		return pl_err_fail(PL_ERR_NOMEM, "cannot set up the API");
	rc = api_listen(n->api, n->cfg->api);
	if (rc) {
		node_log(NODE_LOG_ERROR, "cannot listen for the API", "addr=%s reason=%s",
			 n->cfg->api, pl_err_detail());
		return rc;
	}
	node_set_event_sink(n, api_event_sink, n->api);
	if (n->cfg->feed[0]) {
		char ferr[256];
		n->feed = feed_new(n->base, n, n->cfg->feed, ferr, sizeof(ferr));
		if (!n->feed) {
			node_log(NODE_LOG_ERROR, "cannot serve the public feed", "addr=%s reason=%s",
				 n->cfg->feed, ferr);
			return pl_err_fail(PL_ERR_IO, "%s", ferr);
		}
		node_log(NODE_LOG_INFO, "public feed up", "port=%d", feed_port(n->feed));
	}
	rc = peer_dial_all(n);
	if (rc)
		return rc;
	if (n->cfg->verify_thread) {
		n->verifier = verifier_new();
		if (!n->verifier)
			node_log(NODE_LOG_WARN,
				 "no verifier thread: signatures are checked on the loop",
				 "reason=\"cannot start a thread\"");
	}
	n->commit_ev = event_new(n->base, -1, 0, batch_commit_cb, n);
	n->commit_urgent_ev = event_new(n->base, -1, 0, batch_commit_cb, n);
	if (!n->commit_ev || !n->commit_urgent_ev)
		return pl_err_fail(PL_ERR_NOMEM, "cannot set up group commit");
	(void)event_priority_set(n->commit_urgent_ev, 0);
	n->ticker = event_new(n->base, -1, EV_PERSIST, tick_cb, n);
	struct timeval tv = {0, 250000};
	if (!n->ticker || event_add(n->ticker, &tv) != 0)
		return pl_err_fail(PL_ERR_NOMEM, "cannot start the timer");
	node_log(NODE_LOG_INFO, "node up", "state=%s peers_port=%u api_port=%d", n->self.name,
		 (unsigned)net_listen_port(n->net), api_port(n->api));
	return 0;
}

int node_core_api_port(const node_core *n)
{
	return n->api ? api_port(n->api) : -1;
}

int node_core_peer_port(const node_core *n)
{
	return n->net ? (int)net_listen_port(n->net) : -1;
}

int node_core_reload(node_core *n)
{
	int rc = load_trust(n);
	if (!rc)
		rc = import_own_status(n);
	node_log(rc ? NODE_LOG_ERROR : NODE_LOG_INFO, "reloaded", "result=%s",
		 rc ? pl_err_detail() : "ok");
	if (!rc)
		peer_pump_all(n);
	return rc;
}

void node_core_stop(node_core *n)
{
	core_batch_flush(n);
	n->stopping = true;
	if (n->ticker)
		event_del(n->ticker);
	peer_close_all(n, "node shutting down");
	if (n->net)
		net_unlisten(n->net);
}

void node_core_free(node_core *n)
{
	if (!n)
		return;
	if (n->ticker)
		event_free(n->ticker);
	core_batch_flush(n);
	verifier_free(n->verifier); /* every submission had its verdict */
	if (n->commit_ev)
		event_free(n->commit_ev);
	if (n->commit_urgent_ev)
		event_free(n->commit_urgent_ev);
	free(n->pend);
	net_free(n->net);
	peer_free_all(n);
	hold_free(n->hold); /* before the servers free the requests it holds */
	feed_free(n->feed);
	api_free(n->api);
	if (n->sync_ev)
		event_free(n->sync_ev);
	tls_free(n->tls);
	for (size_t i = 0; i < n->ncharters; i++) {
		pl_charter_clear(&n->charters[i]->c);
		free(n->charters[i]);
	}
	for (size_t i = 0; i < n->nstatus; i++) {
		pl_status_list_clear(&n->status[i]->l);
		free(n->status[i]);
	}
	witness_free(n);
	nstore_close(n->db); /* its syncer's last sync first */
	for (int i = 0; i < 2; i++)
		if (n->sync_fd[i] >= 0)
			close(n->sync_fd[i]);
	pl_store_close(n->registry);
	pl_trust_free(n->trust);
	free(n->me_raw);
	free(n);
}
