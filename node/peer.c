/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Peer links: from net's connections to lib/link engines, and from link
 * events to the store.  This is where delivery is exactly once and in
 * order: items received are committed in one transaction per batch before
 * a cumulative receipt is sent; items sent stay in the durable queue until
 * a receipt (or the peer's HELLO resume point) covers them.
 *
 * Divisions: connections (open, identify, close); receiving (batches,
 * receipts); sending (pump, output); timers and status.
 *
 * One link per peer and lane: a peer is reached over one connection for
 * every lane, or over two ([link] urgent_connection, the default): CONTROL
 * and FLASH on one, IMMEDIATE, PRIORITY and ROUTINE on the other, so a
 * FLASH never waits behind the bytes of a backlog in the other's buffers.
 * The dialler's HELLO names the lanes of a connection (docs/protocol.md,
 * "Lane sets").  When two connections reach the same peer for the same
 * lanes (both sides dialled), the one dialled by the state whose name sorts
 * first is kept, on both sides, so they agree without talking.  Items of
 * the lanes below FLASH queued after a FLASH item, charter, status list or
 * node record are sent only once it has its receipt on the other
 * connection: the receiver takes what an envelope depends on before it, as
 * on a single connection (lower_lanes_bounds).  A receiver's batch of those
 * lanes stops for bytes waiting on the FLASH connection (urgent_waits).
 *
 * The transcript (witness.c) rides on the same batches: every envelope
 * taken, every refused item of an envelope lane and every receipt that
 * acknowledges logged items is appended in the batch's transaction, and
 * checkpoint items are checked and answered in it.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core_int.h"
#include "work.h"
#include "parley/err.h"

#define OUT_HIGH (64 * 1024) /* stop writing to the transport above this: a FLASH
				* written later waits behind at most this much */
#define PRE_MAX (4 + PL_LINK_MAX_FRAME) /* an inbound HELLO fits in this */
#define PUMP_BATCH 64
#define PUMP_AHEAD (64 * 1024) /* bytes of a lane below FLASH queued in the link */

static void conn_drop(core_conn *cc, const char *reason);
static void drop_slices(core_conn *cc);

static void conn_free(core_conn *cc)
{
	node_core *n = cc->n;
	if (cc->prev)
		cc->prev->next = cc->next;
	else if (n->conns == cc)
		n->conns = cc->next;
	if (cc->next)
		cc->next->prev = cc->prev;
	if (cc->gather_ev)
		event_free(cc->gather_ev);
	if (cc->resume_ev)
		event_free(cc->resume_ev);
	pl_link_free(cc->link);
	pl_buf_clear(&cc->pre);
	pl_buf_clear(&cc->out_block);
	drop_slices(cc);
	free(cc);
}

void peer_free_all(node_core *n)
{
	while (n->conns)
		conn_free(n->conns);
	if (n->behind_ev)
		event_free(n->behind_ev);
	n->behind_ev = NULL;
	json_decref(n->behind); /* stopping: nobody left to tell */
	n->behind = NULL;
}
static void conn_flush(core_conn *cc);

/* ---------------------------------------------------------------- connections */

#define URGENT_TAG "+urgent" /* the net's name of our urgent dial: state + tag */

static const char *lanes_name(unsigned lanes)
{
	return lanes == PL_LINK_LANES_URGENT ? "CONTROL+FLASH"
	       : lanes == PL_LINK_LANES_BULK ? "IMMEDIATE+PRIORITY+ROUTINE"
					     : "all";
}

/* Take cc off the lanes of p it carries; false when it carried none. */
static bool detach(core_peer *p, const core_conn *cc)
{
	bool carried = false;
	for (int l = 0; l < PL_LINK_LANES; l++)
		if (p->conn[l] == cc) {
			p->conn[l] = NULL;
			carried = true;
		}
	return carried;
}

bool peer_is_up(const core_peer *p)
{
	for (int l = 0; l < PL_LINK_LANES; l++)
		if (!p->conn[l])
			return false;
	return true;
}

/* The lanes of our dialling of a peer: key is the net's name. */
static unsigned dial_lanes(const node_core *n, const char *key)
{
	if (strchr(key, '+'))
		return PL_LINK_LANES_URGENT;
	return n->cfg->link.urgent_connection ? PL_LINK_LANES_BULK : PL_LINK_LANES_ALL;
}

/* The net's name for our dial k of state (0: the bulk or every-lane
 * connection, 1: the urgent one); false when we make no such dial. */
static bool dial_key(const node_core *n, const char *state, unsigned k, char *key, size_t cap)
{
	if (k == 1 && !n->cfg->link.urgent_connection)
		return false;
	snprintf(key, cap, "%s%s", state, k == 1 ? URGENT_TAG : "");
	return true;
}

int peer_dial_all(node_core *n)
{
	for (size_t i = 0; i < n->cfg->npeers && i < CORE_MAX_PEERS; i++) {
		const node_peer_conf *pc = &n->cfg->peers[i];
		char key[NET_NAME_MAX + 1];
		for (unsigned k = 0; k < 2; k++) {
			int rc = dial_key(n, pc->name, k, key, sizeof(key))
				     ? net_add_peer(n->net, key, pc->address)
				     : 0;
			if (rc)
				return rc;
		}
	}
	return 0;
}

/* Stop our dials of state that carry any of lanes: a bit per dial stopped
 * (1u << k, as dial_key), for dial_restart. */
static unsigned dial_stop(node_core *n, const char *state, unsigned lanes)
{
	unsigned stopped = 0;
	char key[NET_NAME_MAX + 1];
	for (unsigned k = 0; k < 2; k++)
		if (dial_key(n, state, k, key, sizeof(key)) && (dial_lanes(n, key) & lanes) &&
		    net_remove_peer(n->net, key) == 0)
			stopped |= 1u << k;
	return stopped;
}

static void dial_restart(node_core *n, const char *state, unsigned stopped)
{
	const node_peer_conf *pc = node_config_find_peer(n->cfg, state);
	char key[NET_NAME_MAX + 1];
	for (unsigned k = 0; pc && k < 2; k++)
		if ((stopped & (1u << k)) && dial_key(n, state, k, key, sizeof(key)))
			(void)net_add_peer(n->net, key, pc->address);
}

static int conn_make_link(core_conn *cc, core_peer *p)
{
	node_core *n = cc->n;
	pl_link_config cfg = {0};
	cfg.lanes = cc->lanes;
	cfg.node_rec = n->me_raw;
	cfg.node_rec_len = n->me_raw_len;
	for (int l = 0; l < PL_LINK_LANES; l++)
		cfg.resume[l] = p ? p->in_next[l] : 1;
	cfg.ping_interval_ms = n->cfg->link.ping_interval_ms;
	cfg.dead_after_ms = n->cfg->link.dead_after_ms;
	cfg.now_ms = core_now_ms();
	return pl_link_new(&cfg, &cc->link);
}

static void on_open(void *ctx, net_conn *c, const uint8_t peer_pk[PL_PK_BYTES], bool outbound,
		    const char *peer)
{
	node_core *n = ctx;
	core_conn *cc = calloc(1, sizeof(*cc));
	if (!cc) {
		net_close(c, "out of memory");
		return;
	}
	cc->n = n;
	cc->c = c;
	cc->outbound = outbound;
	cc->next = n->conns;
	if (n->conns)
		n->conns->prev = cc;
	n->conns = cc;
	memcpy(cc->pk, peer_pk, PL_PK_BYTES);
	net_conn_set_user(c, cc);
	cc->lanes = PL_LINK_LANES_ADOPT; /* inbound: what the dialler's HELLO names */
	if (outbound) {
		cc->lanes = dial_lanes(n, peer);
		size_t len = strcspn(peer, "+");
		snprintf(cc->expect, sizeof(cc->expect), "%.*s", (int)len, peer);
		/* expect, not peer: the urgent dial is named "STATE+urgent", and
		 * without its state's resume points the link would ask for every
		 * CONTROL and FLASH item again from the first */
		if (conn_make_link(cc, core_find_peer(n, cc->expect)) != 0) {
			conn_drop(cc, "cannot create the link");
			return;
		}
		conn_flush(cc); /* our HELLO */
	}
	node_log(NODE_LOG_DEBUG, "connection open", "peer=%s direction=%s addr=%s",
		 outbound ? peer : "?", outbound ? "out" : "in", net_conn_address(c));
}

/* Which of two connections to the same peer to keep (see the file comment). */
static bool conn_preferred(node_core *n, const core_conn *a, const core_conn *b)
{
	const char *peer = a->peer ? a->peer->state : b->peer->state;
	bool we_dial_first = strcmp(n->self.name, peer) < 0;
	if (a->outbound != b->outbound)
		return a->outbound == we_dial_first;
	return true; /* same direction: the newer one (a) wins */
}

/* The "receipt" event of envelope id (hex) of lane delivered to p. */
static json_t *receipt_event(const core_peer *p, const char *id, int lane)
{
	return json_pack("{s:s,s:s,s:s,s:s}", "id", id, "peer", p->state, "state", "delivered",
			 "precedence", pl_lane_name((pl_lane)lane));
}

struct acked {
	node_core *n;
	core_peer *p;
	int lane;
	int64_t now;
	json_t *ids; /* "receipt" events of the envelopes delivered, or NULL */
	bool logged; /* an item of a logged kind was acknowledged */
};

static int acked_cb(void *ctx, const nstore_item *it)
{
	struct acked *a = ctx;
	if (it->kind == PL_LINK_KIND_ENVELOPE || it->kind == PL_LINK_KIND_CHARTER ||
	    it->kind == PL_LINK_KIND_STATUS_LIST)
		a->logged = true;
	if (it->kind != PL_LINK_KIND_ENVELOPE)
		return 0;
	char hx[2 * PL_HASH_BYTES + 1];
	pl_hex_encode(hx, it->id, PL_HASH_BYTES);
	if (a->ids)
		json_array_append_new(a->ids, receipt_event(a->p, hx, a->lane));
	uint64_t pos = it->pos;
	if (pos == NSTORE_NO_POS) { /* queued by an older store: by the id */
		nstore_meta m;
		int rc = nstore_env_get(a->n->db, it->id, NULL, NULL, &m);
		if (rc == PL_ERR_NOT_FOUND)
			return 0; /* nothing to mark (a queue written by hand, a damaged store) */
		if (rc)
			return rc;
		pos = m.pos;
	}
	return nstore_deliv_set(a->n->db, pos, a->p->state, "delivered", a->now);
}

/*
 * The peer acknowledged lane up to upto (a RECEIPT or its HELLO): drop the
 * items from the queue, mark envelopes delivered, and when any of them was
 * an envelope, charter or status list, log a receipt record (part of the
 * caller's transaction).  Acknowledgements of checkpoint traffic alone are
 * not logged, so that checkpoint exchanges do not grow the log by
 * themselves.
 */
static int ack_logged(node_core *n, core_peer *p, int lane, uint64_t upto, json_t *delivered)
{
	struct acked a = {n, p, lane, core_now(), delivered, false};
	int rc = nstore_out_ack(n->db, p->state, lane, upto, acked_cb, &a);
	if (!rc && a.logged)
		rc = witness_log_receipt(n, p, lane, upto);
	return rc;
}

/* conn_hello: the HELLO is refused (logged; pl_err_detail() says why), which
 * is not a failure of this node. */
#define HELLO_REFUSED 2

/* The peer's HELLO arrived: check its node record against the pinned roots
 * and the TLS key, then bind the connection to the peer.  0, HELLO_REFUSED,
 * or a store failure. */
static int conn_hello(core_conn *cc, const pl_link_event *ev)
{
	node_core *n = cc->n;
	pl_node_rec rec;
	int rc = pl_node_rec_open(ev->hello.node_rec, ev->hello.node_rec_len, n->trust, &rec);
	if (!rc)
		rc = pl_node_rec_check_time(&rec, core_now());
	core_peer *p = rc ? NULL : core_find_peer(n, rec.state);
	if (!rc && !p)
		rc = pl_err_fail(PL_ERR_UNKNOWN_ROOT, "state %s is not a configured peer",
				 rec.state);
	if (!rc && cc->outbound && strcmp(cc->expect, rec.state) != 0)
		rc = pl_err_fail(PL_ERR_WRONG_STATE, "dialled %s but reached a node of %s",
				 cc->expect, rec.state);
	if (!rc && !pl_ct_equal(rec.pk, cc->pk, PL_PK_BYTES))
		rc = pl_err_fail(PL_ERR_BAD_SIGNATURE,
				 "the TLS certificate key is not the key in node %s's record",
				 rec.name);
	if (!rc) {
		const node_peer_conf *pc = node_config_find_peer(n->cfg, rec.state);
		if (pc && pc->node[0] && strcmp(pc->node, rec.name) != 0)
			rc = pl_err_fail(PL_ERR_WRONG_STATE, "expected node %s of %s, got %s",
					 pc->node, rec.state, rec.name);
	}
	if (rc) {
		node_log(NODE_LOG_WARN, "peer refused", "addr=%s reason=%s detail=%s",
			 net_conn_address(cc->c), pl_err_name(rc), pl_err_detail());
		core_count_link_refused(n, rc);
		return HELLO_REFUSED;
	}
	cc->lanes = ev->hello.lanes;
	if (cc->lanes != PL_LINK_LANES_ALL && cc->lanes != PL_LINK_LANES_URGENT &&
	    cc->lanes != PL_LINK_LANES_BULK) {
		(void)pl_err_fail(PL_ERR_PROTOCOL,
				  "a connection carries every lane, CONTROL and FLASH, or the lanes "
				  "below FLASH; not lane set %u",
				  cc->lanes);
		node_log(NODE_LOG_WARN, "peer refused", "addr=%s reason=%s detail=%s",
			 net_conn_address(cc->c), pl_err_name(PL_ERR_PROTOCOL), pl_err_detail());
		core_count_link_refused(n, PL_ERR_PROTOCOL);
		return HELLO_REFUSED;
	}
	/* The connections this one would replace: those carrying any of its lanes. */
	core_conn *olds[PL_LINK_LANES];
	size_t nolds = 0;
	for (int l = 0; l < PL_LINK_LANES; l++) {
		core_conn *o = p->conn[l];
		if (!o || o == cc || !(cc->lanes & (1u << l)))
			continue;
		bool seen = false;
		for (size_t i = 0; i < nolds; i++)
			seen = seen || olds[i] == o;
		if (!seen)
			olds[nolds++] = o;
	}
	for (size_t i = 0; i < nolds; i++)
		if (!conn_preferred(n, cc, olds[i])) {
			(void)pl_err_fail(PL_ERR_EXISTS, "a preferred link to %s is up", p->state);
			node_log(NODE_LOG_INFO, "second connection closed", "peer=%s addr=%s",
				 p->state, net_conn_address(cc->c));
			return HELLO_REFUSED;
		}
	bool was_up = peer_is_up(p);
	for (size_t i = 0; i < nolds; i++) {
		core_conn *old = olds[i];
		(void)detach(p, old);
		old->peer = NULL;
		pl_link_close(old->link, "replaced by a newer connection");
		conn_flush(old);
	}
	cc->peer = p;
	snprintf(cc->expect, sizeof(cc->expect), "%s", p->state);
	if (cc->lanes == PL_LINK_LANES_URGENT)
		net_set_priority(cc->c, 0); /* read and written before the bulk */
	for (int l = 0; l < PL_LINK_LANES; l++)
		if (cc->lanes & (1u << l))
			p->conn[l] = cc;
	p->connected_at = core_now();
	snprintf(p->node, sizeof(p->node), "%s", rec.name);
	memcpy(p->pk, rec.pk, PL_PK_BYTES);
	p->have_pk = true;
	/* The peer holds everything below its resume points: that is a receipt. */
	rc = core_begin(n);
	if (!rc)
		rc = nstore_obj_put(n->db, NSTORE_NODEREC, rec.name, ev->hello.node_rec,
				    ev->hello.node_rec_len);
	/* Only the lanes of this connection: a HELLO on one connection is
	 * stale for the other's lanes, whose receipts may have passed it. */
	for (int l = 0; !rc && l < PL_LINK_LANES; l++) {
		if (!(cc->lanes & (1u << l)))
			continue;
		uint64_t upto = ev->hello.resume[l] - 1, last = 0;
		rc = nstore_out_last(n->db, p->state, l, &last);
		if (!rc && upto > last) {
			/* The peer holds items this store never numbered: the store
			 * went back (restored from a backup, a lost WAL tail).  What
			 * the peer holds stays there; new items must be numbered past
			 * it, or the peer's link would drop them as already held. */
			node_log(NODE_LOG_ERROR, "peer holds items this store never sent",
				 "peer=%s lane=%d resume=%" PRIu64 " last_sent=%" PRIu64
				 " hint=\"this node's store went back (a restored backup?): what "
				 "it sent since is at the peer only\"",
				 p->state, l, ev->hello.resume[l], last);
			n->m.store_behind++;
			rc = nstore_out_skip(n->db, p->state, l, upto);
			upto = last;
		}
		uint64_t acked = 0;
		if (!rc)
			rc = nstore_out_acked(n->db, p->state, l, &acked);
		if (!rc && upto < acked) {
			/* The peer resumes below what it acknowledged: its store went
			 * back (a lost WAL tail, a restored backup), or this HELLO
			 * is stale (its connection was set up before receipts the
			 * peer sent on another one).  Either way the items are sent
			 * again, as far as they are still kept: a peer that has them
			 * skips them. */
			uint64_t back = 0;
			rc = nstore_out_requeue(n->db, p->state, l, upto + 1, &back);
			n->m.peer_behind++;
			node_log(NODE_LOG_WARN,
				 "peer resumes below what it acknowledged; sending those items again",
				 "peer=%s lane=%d resume=%" PRIu64 " acknowledged=%" PRIu64
				 " requeued=%" PRIu64 "%s",
				 p->state, l, ev->hello.resume[l], acked, back,
				 back < acked - upto ? " (the older ones are no longer kept: lost)" : "");
		}
		p->sent[l] = p->acked[l] = upto;
		if (!rc && upto > 0)
			rc = ack_logged(n, p, l, upto, NULL);
	}
	if (!rc)
		core_commit_timed(n, &rc);
	else
		nstore_rollback(n->db);
	witness_flush(n, rc == 0);
	if (rc)
		return rc;
	cc->up_us = core_now_us();
	node_log(NODE_LOG_INFO, "link up", "peer=%s node=%s direction=%s lanes=%s", p->state,
		 rec.name, cc->outbound ? "out" : "in", lanes_name(cc->lanes));
	/* The peer dials first and reached us: stop our own dialling of these
	 * lanes (it would only be replaced) until this connection goes down. */
	if (!cc->outbound && strcmp(n->self.name, p->state) > 0)
		cc->redial = dial_stop(n, p->state, cc->lanes);
	if (!was_up && peer_is_up(p))
		core_emit(n, "link", json_pack("{s:s,s:s,s:b}", "peer", p->state, "node", rec.name,
					       "up", 1));
	return 0;
}

/* Closing is deferred to the next loop turn: the caller is usually deep in
 * processing this very connection, and net_close() calls on_close, which
 * frees it. */
static void conn_drop_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	core_conn *cc = arg;
	cc->drop_pending = false;
	if (cc->gone)
		conn_free(cc); /* on_close already ran */
	else
		net_close(cc->c, cc->why);
}

static void conn_drop(core_conn *cc, const char *reason)
{
	if (cc->closing)
		return;
	cc->closing = true;
	snprintf(cc->why, sizeof(cc->why), "%s", reason ? reason : "");
	struct timeval now = {0, 0};
	cc->drop_pending = event_base_once(cc->n->base, -1, EV_TIMEOUT, conn_drop_cb, cc, &now) == 0;
	if (!cc->drop_pending)
		net_close(cc->c, cc->why);
}

static void on_close(void *ctx, net_conn *c, const char *reason)
{
	node_core *n = ctx;
	core_conn *cc = net_conn_user(c);
	if (!cc)
		return;
	core_peer *p = cc->peer;
	bool was_up = p && peer_is_up(p);
	if (p && detach(p, cc)) {
		node_log(NODE_LOG_INFO, "link down", "peer=%s lanes=%s reason=%s", p->state,
			 lanes_name(cc->lanes), reason ? reason : "");
		if (was_up)
			core_emit(n, "link", json_pack("{s:s,s:b,s:s}", "peer", p->state, "up", 0,
						       "reason", reason ? reason : ""));
	}
	if (cc->redial && !n->stopping)
		dial_restart(n, p ? p->state : cc->expect, cc->redial);
	pl_link_free(cc->link);
	pl_buf_clear(&cc->pre);
	net_conn_set_user(c, NULL);
	cc->peer = NULL;
	cc->c = NULL;
	if (cc->drop_pending) {
		cc->gone = true; /* conn_drop_cb frees it */
		cc->closing = true;
	} else {
		conn_free(cc);
	}
}

/* ---------------------------------------------------------------- receiving */

struct batch {
	bool open;       /* a transaction is open */
	bool lanes[PL_LINK_LANES];
	json_t *events; /* the envelopes' events, emitted after the commit */
};

static int batch_begin(node_core *n, struct batch *b)
{
	if (b->open)
		return 0;
	int rc = core_begin(n);
	b->open = rc == 0;
	return rc;
}

/* take_envelope/take_item: the item is not taken now (the batch stops
 * before it, the link is closed, the peer sends it again later). */
#define TAKE_LATER 1
/* take_item: a checkpoint whose proofs are checked in slices (cc->cp),
 * taken when they are all checked (cp_continue). */
#define TAKE_SLICED 2

/* An item was taken (txn): the lane's resume point moves past it. */
static int item_taken(core_conn *cc, struct batch *b, pl_link_lane lane, uint64_t lseq)
{
	core_peer *p = cc->peer;
	p->in_next[lane] = lseq + 1;
	b->lanes[lane] = true;
	p->items_in++;
	return nstore_in_set(cc->n->db, p->state, (int)lane, lseq + 1);
}

static int take_envelope(core_conn *cc, const pl_link_event *ev, struct batch *b)
{
	node_core *n = cc->n;
	core_peer *p = cc->peer;
	uint8_t id[PL_HASH_BYTES];
	pl_env_id(id, ev->item.data, ev->item.len);
	nstore_meta meta;
	if (nstore_env_get(n->db, id, NULL, NULL, &meta) == 0) {
		n->m.duplicates++;
		/* one entry per item of an envelope lane, also for a duplicate */
		return witness_log_refusal(n, p, (int)ev->item.lane, ev->item.lseq, ev->item.data,
					   ev->item.len, "duplicate: envelope already held");
	}
	pl_env_ctx ctx = {.trust = n->trust,
			  .charter = core_charter_lookup,
			  .status = core_status_lookup,
			  .last = core_seq_lookup,
			  .arg = n,
			  .sigs = &n->sigs,
			  .now = core_now(),
			  .max_future = PL_ENV_SKEW_DEFAULT,
			  .max_age = 0};
	pl_env env;
	int rc = pl_env_verify(ev->item.data, ev->item.len, &ctx, &env);
	if (rc == PL_ERR_CLOCK) {
		/* Dated ahead of this node's clock: this node's clock is the
		 * likelier culprit (the author's node checked the date against
		 * its own).  Refusing it would lose it for good and lock the
		 * author's stream (every later envelope a sequence gap), so it is
		 * not taken yet: the link is closed and the peer sends it again
		 * after a reconnect, until the clocks agree (docs/faults.md,
		 * finding 3). */
		pl_env late;
		int64_t ahead = 0;
		if (pl_env_parse(ev->item.data, ev->item.len, &late) == 0) {
			ahead = late.at - ctx.now;
			pl_env_clear(&late);
		}
		if (ahead > 0) {
			n->m.deferred++;
			node_log(NODE_LOG_WARN, "envelope dated ahead of this node's clock: not taken yet",
				 "peer=%s lane=%d lseq=%" PRIu64 " ahead_s=%" PRId64
				 " hint=\"check this node's clock\"",
				 p->state, (int)ev->item.lane, ev->item.lseq, ahead);
			pl_env_clear(&env);
			return TAKE_LATER;
		}
	}
	if (!rc && strcmp(env.state, p->state) != 0)
		rc = pl_err_fail(PL_ERR_WRONG_STATE, "%s relayed an envelope of %s", p->state,
				 env.state);
	if (!rc && (int)env.lane != (int)ev->item.lane)
		rc = pl_err_fail(PL_ERR_PROTOCOL, "envelope of lane %d sent on lane %d",
				 (int)env.lane, (int)ev->item.lane);
	if (!rc)
		rc = work_check(n, &env);
	if (rc) {
		/* Processed, not accepted: recorded and acknowledged so the link
		 * moves on; the origin verified it too, so this is a policy
		 * disagreement (e.g. a status list it had not yet received). */
		char why[256];
		snprintf(why, sizeof(why), "%s: %s", pl_err_name(rc), pl_err_detail());
		node_log(NODE_LOG_WARN, "envelope refused", "from=%s lane=%d lseq=%" PRIu64
			 " reason=%s detail=%s", p->state, (int)ev->item.lane, ev->item.lseq,
			 pl_err_name(rc), pl_err_detail());
		core_count_reject(n, rc);
		p->rejected++;
		pl_env_clear(&env);
		rc = nstore_reject_put(n->db, p->state, (int)ev->item.lane, ev->item.lseq, why);
		if (!rc && ev->item.lane != PL_LINK_LANE_CONTROL)
			rc = witness_log_refusal(n, p, (int)ev->item.lane, ev->item.lseq,
						 ev->item.data, ev->item.len, why);
		return rc;
	}
	memset(&meta, 0, sizeof(meta));
	snprintf(meta.ch, sizeof(meta.ch), "%s", env.ch);
	meta.lane = (int)env.lane;
	snprintf(meta.state, sizeof(meta.state), "%s", env.state);
	snprintf(meta.author, sizeof(meta.author), "%s", env.author);
	meta.seq = env.seq;
	meta.at = env.at;
	snprintf(meta.kind, sizeof(meta.kind), "%s", env.kind);
	snprintf(meta.origin, sizeof(meta.origin), "%s", p->state);
	meta.received = core_now();
	rc = witness_log(n, TLOG_ENVELOPE, ev->item.data, ev->item.len, p, id, &meta.pos);
	if (!rc)
		rc = nstore_env_index(n->db, id, ev->item.data, ev->item.len, &meta);
	if (!rc)
		rc = nstore_seq_set(n->db, env.state, env.author, env.ch, (int)env.lane, env.seq,
				    id);
	if (!rc)
		rc = work_apply(n, &env, id, meta.received);
	/* Its event, published once the batch is committed, is built now,
	 * from the envelope in hand, rather than read back and parsed again
	 * then (6.6% of the receiver's time in a drain that someone watches).
	 * Out of memory, there is no event, as before; the envelope is kept. */
	if (!rc && core_wants_events(n))
		(void)json_array_append_new(b->events, core_envelope_json_of(n, id, &env, &meta));
	pl_env_clear(&env);
	if (!rc)
		n->m.accepted_peer++;
	return rc;
}

/* An item of a kind this node does not take: refused, and logged when it
 * came on an envelope lane (each such item leaves one entry). */
static int take_unknown(core_conn *cc, const pl_link_event *ev)
{
	node_core *n = cc->n;
	core_peer *p = cc->peer;
	int rc = nstore_reject_put(n->db, p->state, (int)ev->item.lane, ev->item.lseq,
				   "unknown item kind");
	if (!rc && ev->item.lane != PL_LINK_LANE_CONTROL)
		rc = witness_log_refusal(n, p, (int)ev->item.lane, ev->item.lseq, ev->item.data,
					 ev->item.len, "unknown item kind");
	return rc;
}

static int take_item(core_conn *cc, const pl_link_event *ev, struct batch *b)
{
	node_core *n = cc->n;
	core_peer *p = cc->peer;
	/* Already taken on another connection to the same peer: a connection
	 * that replaced an older one resumes from the point its HELLO gave,
	 * which the older one may have passed since.  Taking it again would
	 * log it twice; the receipt this batch sends covers it. */
	if (ev->item.lseq < p->in_next[ev->item.lane]) {
		b->lanes[ev->item.lane] = true;
		n->m.redelivered++;
		return 0;
	}
	if (ev->item.lane <= PL_LINK_LANE_FLASH)
		n->sync_urgent = true; /* core_commit_timed syncs it at once */
	int rc = batch_begin(n, b);
	if (rc)
		return rc;
	switch (ev->item.kind) {
	case PL_LINK_KIND_ENVELOPE:
		rc = take_envelope(cc, ev, b);
		if (rc == TAKE_LATER)
			return rc;
		break;
	case PL_LINK_KIND_CHARTER: {
		char why[256] = "";
		rc = core_take_charter(n, ev->item.data, ev->item.len, p->state, why, sizeof(why));
		core_record_refused(n, "charter", p->state, rc, why);
		if (core_is_refusal(rc)) {
			rc = nstore_reject_put(n->db, p->state, (int)ev->item.lane, ev->item.lseq,
					       why);
		}
		break;
	}
	case PL_LINK_KIND_STATUS_LIST:
		rc = core_take_status(n, ev->item.data, ev->item.len, p->state);
		core_record_refused(n, "status list", p->state, rc, pl_err_detail());
		if (rc == PL_ERR_STALE)
			rc = 0;
		else if (core_is_refusal(rc)) {
			rc = nstore_reject_put(n->db, p->state, (int)ev->item.lane, ev->item.lseq,
					       pl_err_detail());
		}
		break;
	case PL_LINK_KIND_CHECKPOINT:
	case PL_LINK_KIND_COSIGNATURE:
	case PL_LINK_KIND_CHECKPOINT_REFUSED:
		/* transcript items travel on CONTROL only */
		if (ev->item.lane != PL_LINK_LANE_CONTROL) {
			rc = take_unknown(cc, ev);
			break;
		}
		rc = witness_take_item(n, p, ev->item.kind, ev->item.data, ev->item.len, &cc->cp);
		if (!rc && cc->cp) {
			cc->cp_lane = ev->item.lane;
			cc->cp_lseq = ev->item.lseq;
			return TAKE_SLICED;
		}
		break;
	default:
		rc = take_unknown(cc, ev);
		break;
	}
	if (!rc)
		rc = item_taken(cc, b, ev->item.lane, ev->item.lseq);
	return rc;
}

/*
 * A receipt: the peer durably holds the lane's items up to upto.  Recording
 * it answers nobody, so unless this read already has its own transaction
 * (items came before it), it joins the group commit of this event-loop turn
 * (core_join) with the API's submissions and other links' receipts, rather
 * than costing a sync of its own; its "receipt" events follow that commit.
 */
static int take_receipt(core_conn *cc, const pl_link_event *ev, struct batch *b,
			json_t *delivered)
{
	node_core *n = cc->n;
	core_peer *p = cc->peer;
	int lane = (int)ev->receipt.lane;
	n->m.receipts_in++;
	bool joined = !b->open;
	int rc = joined ? core_join(n) : 0;
	if (rc)
		return rc;
	json_t *ids = joined ? json_array() : delivered;
	rc = ack_logged(n, p, lane, ev->receipt.upto, ids);
	if (!rc && ev->receipt.upto > p->acked[lane])
		p->acked[lane] = ev->receipt.upto;
	if (joined && rc) {
		core_batch_fail(n, rc);
	} else if (joined) {
		n->batch_receipts = true;
		if (lane <= PL_LINK_LANE_FLASH)
			core_commit_urgent(n);
		size_t i;
		json_t *v;
		json_array_foreach(ids, i, v)
		{
			core_emit_after_commit(n, "receipt", json_incref(v));
		}
	}
	if (joined)
		json_decref(ids);
	return rc;
}

/* Inbound, peer unknown: parse the first frame with a throw-away link to
 * learn who is calling, then start the real link with that peer's resume
 * points and replay the bytes into it. */
static int conn_identify(core_conn *cc, const uint8_t *p, size_t len)
{
	if (pl_buf_append(&cc->pre, p, len) != 0 || cc->pre.len > PRE_MAX)
		return pl_err_fail(PL_ERR_PROTOCOL, "no HELLO in the first %d bytes", PRE_MAX);
	pl_link *probe = NULL;
	int rc = conn_make_link(cc, NULL);
	if (rc)
		return rc;
	probe = cc->link;
	cc->link = NULL;
	rc = pl_link_recv(probe, cc->pre.data, cc->pre.len, core_now_ms());
	pl_link_event ev;
	char state[PL_NAME_MAX + 1] = "";
	while (pl_link_next_event(probe, &ev)) {
		if (ev.type == PL_LINK_EV_HELLO && !state[0]) {
			pl_node_rec rec;
			if (pl_node_rec_open(ev.hello.node_rec, ev.hello.node_rec_len,
					     cc->n->trust, &rec) == 0)
				snprintf(state, sizeof(state), "%s", rec.state);
			else {
				char why[200];
				snprintf(why, sizeof(why), "%s", pl_err_detail());
				rc = pl_err_fail(PL_ERR_UNKNOWN_ROOT,
						 "HELLO with a node record of no pinned state: %s",
						 why);
			}
		}
	}
	pl_link_free(probe);
	if (rc)
		return rc;
	if (!state[0])
		return 0; /* wait for more bytes */
	core_peer *peer = core_find_peer(cc->n, state);
	if (!peer)
		return pl_err_fail(PL_ERR_UNKNOWN_ROOT, "state %s is not a configured peer", state);
	/* Any inbound contact from a peer: retry our own dials at once too. */
	char key[NET_NAME_MAX + 1];
	for (unsigned k = 0; k < 2; k++)
		if (dial_key(cc->n, state, k, key, sizeof(key)))
			(void)net_peer_kick(cc->n->net, key);
	rc = conn_make_link(cc, peer);
	if (rc)
		return rc;
	pl_buf pre = cc->pre;
	memset(&cc->pre, 0, sizeof(cc->pre));
	rc = pl_link_recv(cc->link, pre.data, pre.len, core_now_ms());
	pl_buf_clear(&pre);
	return rc;
}

/*
 * True when bytes wait on the peer's CONTROL+FLASH connection while cc, one
 * of its other connections, takes a batch: cc stops taking items (what it
 * took is committed and receipted as usual) and goes on at the lowest
 * event priority, after the loop has read and taken the FLASH connection's
 * bytes (event priority 0).  Without it a FLASH waited for the whole batch
 * of a read, some 70 envelopes verified and committed (docs/performance.md).
 */
#define CUT_EVERY 4 /* items taken between two looks (a poll(2) each) */

static bool urgent_waits(const core_conn *cc)
{
	const core_peer *p = cc->peer;
	if (!p || (cc->lanes & (1u << PL_LINK_LANE_FLASH)))
		return false;
	const core_conn *u = p->conn[PL_LINK_LANE_FLASH];
	return u && u != cc && u->c && !u->closing && net_conn_readable(u->c);
}

static void take_later_cb(evutil_socket_t fd, short what, void *arg);

/* process_events again once the loop has polled, at its lowest priority;
 * false when that could not be arranged (the next read or tick does it). */
static bool take_later(core_conn *cc)
{
	if (!cc->resume_ev) {
		cc->resume_ev = event_new(cc->n->base, -1, 0, take_later_cb, cc);
		if (!cc->resume_ev || event_priority_set(cc->resume_ev, NODE_PRIORITIES - 1) != 0)
			return false;
	}
	/* A timer of zero, not event_active(): an event made active from a
	 * callback of its own priority runs in the same pass of the loop,
	 * before it polls — so a batch resumed here and cut again (from a
	 * gather or a resume) would go on cutting every CUT_EVERY items, each
	 * cut a commit, while the FLASH connection it was cut for was never
	 * read.  A timer is due only after the loop has polled, and the
	 * FLASH connection's read, when it is due too, runs first. */
	static const struct timeval now = {0, 0};
	return event_add(cc->resume_ev, &now) == 0;
}

static void resume_later(core_conn *cc)
{
	if (take_later(cc))
		cc->n->m.batches_cut++;
}

/* A CONTROL item that came behind the checkpoint being checked: kept (a
 * copy) until that is taken, after the ones held before it. */
static int hold_item(core_conn *cc, const pl_link_event *ev)
{
	struct core_held *h = &cc->held[cc->nheld];
	h->data = malloc(ev->item.len);
	if (!h->data)
		return PL_ERR_NOMEM;
	memcpy(h->data, ev->item.data, ev->item.len);
	h->len = ev->item.len;
	h->kind = ev->item.kind;
	h->lseq = ev->item.lseq;
	cc->nheld++;
	node_crash_point("control-held");
	return 0;
}

static void drop_slices(core_conn *cc)
{
	witness_cp_free(cc->cp);
	cc->cp = NULL;
	for (size_t i = 0; i < cc->nheld; i++)
		free(cc->held[i].data);
	cc->nheld = 0;
}

/* Take the CONTROL items held behind a checkpoint now taken, in order,
 * until one is another checkpoint taken in slices: those behind it stay. */
static int take_held(core_conn *cc, struct batch *b)
{
	size_t i = 0;
	int rc = 0;
	while (!rc && !cc->cp && i < cc->nheld) {
		struct core_held *h = &cc->held[i++];
		pl_link_event ev = {.type = PL_LINK_EV_ITEM};
		ev.item.lane = PL_LINK_LANE_CONTROL;
		ev.item.lseq = h->lseq;
		ev.item.kind = h->kind;
		ev.item.data = h->data;
		ev.item.len = h->len;
		rc = take_item(cc, &ev, b);
		if (rc == TAKE_SLICED)
			rc = 0;
		free(h->data);
	}
	memmove(cc->held, cc->held + i, (cc->nheld - i) * sizeof(cc->held[0]));
	cc->nheld -= i;
	return rc;
}

/*
 * One more slice of the checkpoint being checked; once all are checked it
 * is taken in b (unless another connection to the peer took it meanwhile),
 * then the items held behind it.  0 also while slices are left.
 */
static int cp_continue(core_conn *cc, struct batch *b)
{
	node_core *n = cc->n;
	core_peer *p = cc->peer;
	node_crash_point("checkpoint-slice");
	cc->cp_stepped = true;
	int rc = witness_cp_step(n, cc->cp);
	if (rc == 0)
		return 0;
	witness_cp *c = cc->cp;
	cc->cp = NULL;
	if (rc < 0) {
		witness_cp_free(c);
		return rc;
	}
	if (cc->cp_lseq < p->in_next[cc->cp_lane]) {
		witness_cp_free(c);
		b->lanes[cc->cp_lane] = true;
		n->m.redelivered++;
		rc = 0;
	} else {
		n->sync_urgent = true; /* a CONTROL item, as in take_item */
		rc = batch_begin(n, b);
		if (rc)
			witness_cp_free(c);
		else
			rc = witness_cp_end(n, c);
		if (!rc)
			rc = item_taken(cc, b, cc->cp_lane, cc->cp_lseq);
	}
	if (!rc)
		rc = take_held(cc, b);
	return rc;
}

/*
 * The events of a batch taken while a FLASH waited (the batch cut short
 * for it, or the FLASH arrived while it was taken) are emitted after the
 * FLASH's: building them (some 35 µs each, a batch of forty in a drain)
 * came before the loop read the FLASH connection, and put 1.4 ms on every
 * such FLASH's way (docs/performance.md).  Events of a lane below FLASH
 * stay in their order: a batch not put behind first lets out what is.
 */
static void behind_emit(node_core *n)
{
	json_t *l = n->behind;
	n->behind = NULL;
	core_emit_pairs(n, l);
}

static void behind_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	behind_emit(arg);
}

/* Put events (an array of type's data) behind; false when it cannot be
 * (no memory): the caller emits them now. */
static bool put_behind(node_core *n, const char *type, json_t *events)
{
	if (!n->behind_ev) {
		n->behind_ev = evtimer_new(n->base, behind_cb, n);
		if (!n->behind_ev || event_priority_set(n->behind_ev, NODE_PRIORITIES - 1) != 0)
			return false;
	}
	json_t *add = json_array(), *v;
	size_t i;
	json_array_foreach(events, i, v)
	{
		if (!add || json_array_append_new(add, json_pack("[s,O]", type, v)) != 0) {
			json_decref(add);
			return false;
		}
	}
	/* all of them or none */
	int rc = n->behind ? json_array_extend(n->behind, add) : 0;
	if (!n->behind)
		n->behind = json_incref(add);
	json_decref(add);
	if (rc != 0)
		return false;
	n->m.events_behind += json_array_size(events);
	/* a timer, as in resume_later: due after the loop has polled, when
	 * the FLASH connection's read runs first */
	static const struct timeval now = {0, 0};
	if (!event_pending(n->behind_ev, EV_TIMEOUT, NULL))
		(void)evtimer_add(n->behind_ev, &now);
	return true;
}

/* Emit a batch's events of type, now or behind a waiting FLASH. */
static void emit_batch(core_conn *cc, const char *type, json_t *events, bool behind)
{
	node_core *n = cc->n;
	size_t i = 0;
	json_t *v;
	if (json_array_size(events) == 0)
		return;
	if (behind && put_behind(n, type, events))
		return;
	if (!(cc->lanes & (1u << PL_LINK_LANE_FLASH)))
		behind_emit(n); /* what is behind first: their lane's order */
	json_array_foreach(events, i, v)
	{
		core_emit(n, type, json_incref(v));
	}
}

/*
 * Take what the link of cc holds.  step: also check the next slice of the
 * peer's checkpoint being checked (cc->cp) first — from the lowest-priority
 * timer (and the tick, at worst), not from a read of the urgent connection,
 * whose priority would put the slices ahead of the API's requests (a FLASH
 * among them) that they are cut to let through.
 */
static void process_events(core_conn *cc, bool step)
{
	node_core *n = cc->n;
	struct batch b = {.events = json_array()};
	json_t *delivered = json_array();
	pl_link_event ev;
	int rc = 0;
	bool closed = false, cut = false;
	unsigned items = 0;
	if (cc->cp && !pl_link_is_open(cc->link))
		drop_slices(cc);
	if (cc->cp && cc->peer && step)
		rc = cp_continue(cc, &b);
	while (!rc && !closed && !cut && cc->nheld < CORE_HELD_ITEMS &&
	       pl_link_next_event(cc->link, &ev)) {
		switch (ev.type) {
		case PL_LINK_EV_HELLO:
			rc = conn_hello(cc, &ev);
			if (rc) {
				pl_link_close(cc->link, pl_err_detail());
				closed = true;
			}
			if (rc == HELLO_REFUSED)
				rc = 0;
			break;
		case PL_LINK_EV_ITEM:
			if (cc->peer && cc->cp && ev.item.lane == PL_LINK_LANE_CONTROL) {
				rc = hold_item(cc, &ev); /* in order, after the checkpoint */
				break;
			}
			if (cc->peer)
				rc = take_item(cc, &ev, &b);
			if (rc == TAKE_SLICED)
				rc = 0;
			cut = ++items % CUT_EVERY == 0 && urgent_waits(cc);
			break;
		case PL_LINK_EV_RECEIPT:
			if (cc->peer)
				rc = take_receipt(cc, &ev, &b, delivered);
			break;
		case PL_LINK_EV_PONG:
			break;
		case PL_LINK_EV_CLOSED:
			node_log(NODE_LOG_INFO, "link closed", "peer=%s by=%s reason=%s",
				 cc->peer ? cc->peer->state : "?", ev.closed.by_peer ? "peer" : "us",
				 ev.closed.reason);
			closed = true;
			break;
		}
	}
	bool later = rc == TAKE_LATER;
	if (later)
		rc = 0; /* what came before it is stored as usual */
	if (b.open) {
		if (!rc)
			core_commit_timed(n, &rc);
		else
			nstore_rollback(n->db);
		witness_flush(n, rc == 0);
		work_flush(n, rc == 0);
		/* Nothing of the batch is stored: the resume points go back to
		 * what the store holds, or the next HELLO (and the skip of items
		 * below them) would claim items that were rolled back. */
		if (rc && cc->peer)
			for (int l = 0; l < PL_LINK_LANES; l++)
				(void)nstore_in_next(n->db, cc->peer->state, l, &cc->peer->in_next[l]);
	}
	if (rc) {
		/* Nothing of the batch is stored: the peer will send it again. */
		drop_slices(cc);
		node_log(NODE_LOG_ERROR, "cannot store what a peer sent", "peer=%s reason=%s",
			 cc->peer ? cc->peer->state : "?", pl_err_detail());
		pl_link_close(cc->link, "receiver could not store");
		closed = true;
	} else if (cc->peer) {
		bool took = false, acked = json_array_size(delivered) > 0;
		for (int l = 0; l < PL_LINK_LANES; l++)
			took = took || b.lanes[l];
		if (took)
			node_crash_point("after-commit-before-receipt");
		if (acked)
			node_crash_point("after-delivery-commit");
		for (int l = 0; l < PL_LINK_LANES; l++)
			if (b.lanes[l] &&
			    pl_link_send_receipt(cc->link, l, cc->peer->in_next[l] - 1) == 0)
				n->m.receipts_out++;
		if (took) {
			conn_flush(cc);
			node_crash_point("after-receipt");
		}
		/* (a look at the FLASH connection, a poll(2), only when there are
		 * events to put behind) */
		bool behind = (json_array_size(b.events) || json_array_size(delivered)) &&
			      (cut || urgent_waits(cc));
		emit_batch(cc, "envelope", b.events, behind);
		emit_batch(cc, "receipt", delivered, behind);
	}
	json_decref(b.events);
	json_decref(delivered);
	if (later && !rc && !pl_link_is_closed(cc->link)) {
		pl_link_close(cc->link, "an envelope is dated ahead of this node's clock; send it again later");
		closed = true;
	}
	(void)closed;
	cc->taken_us = core_now_us();
	conn_flush(cc);
	if (cc->peer && !pl_link_is_closed(cc->link)) {
		if (cut && !rc)
			resume_later(cc);
		else if (cc->cp)
			(void)take_later(cc); /* the next slice */
		peer_pump(cc->peer);
	}
}

/* What the link holds is taken now: after a gather (gather_ev), a batch
 * cut short for the FLASH connection, or a slice of a checkpoint's proofs
 * (resume_ev). */
static void take_later_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	core_conn *cc = arg;
	if (!cc->closing && cc->link)
		process_events(cc, true);
}

/*
 * [link] gather_us: while a peer's items keep arriving, take them in fewer,
 * larger commits.  When the previous batch was taken less than gather_us
 * ago, what this read brought waits (parsed, in the link) until gather_us
 * after it, with whatever else arrives meanwhile; a read after a quiet spell
 * is taken at once, so a lone envelope waits for nothing, and so is a read
 * that brought anything urgent (a FLASH or CONTROL item, a receipt: see
 * pl_link_has_urgent).  True when the read was left for take_later_cb.
 */
static bool gather(core_conn *cc)
{
	uint32_t us = cc->n->cfg->link.gather_us;
	if (!us || !cc->peer || !pl_link_is_open(cc->link) || pl_link_has_urgent(cc->link)) {
		if (cc->gather_ev)
			event_del(cc->gather_ev); /* taken now, with what gathered */
		return false;
	}
	if (cc->gather_ev && event_pending(cc->gather_ev, EV_TIMEOUT, NULL))
		return true;
	int64_t since = core_now_us() - cc->taken_us;
	if (since >= (int64_t)us)
		return false;
	if (!cc->gather_ev) {
		cc->gather_ev = evtimer_new(cc->n->base, take_later_cb, cc);
		if (!cc->gather_ev)
			return false;
	}
	struct timeval tv = {0, (suseconds_t)((int64_t)us - since)};
	return evtimer_add(cc->gather_ev, &tv) == 0;
}

static void on_data(void *ctx, net_conn *c, const uint8_t *p, size_t len)
{
	(void)ctx;
	core_conn *cc = net_conn_user(c);
	if (!cc || cc->closing)
		return;
	int rc;
	if (!cc->link) {
		rc = conn_identify(cc, p, len);
		if (rc) {
			node_log(NODE_LOG_WARN, "inbound connection refused", "addr=%s reason=%s",
				 net_conn_address(c), pl_err_detail());
			core_count_link_refused(cc->n, rc);
			conn_drop(cc, pl_err_detail());
			return;
		}
		if (!cc->link)
			return;
	} else {
		rc = pl_link_recv(cc->link, p, len, core_now_ms());
	}
	if (rc && !cc->breached) { /* the link closes itself, with the reason */
		cc->breached = true;
		core_count_link_refused(cc->n, rc);
	}
	if (!rc && gather(cc))
		return;
	process_events(cc, false);
}

/* ---------------------------------------------------------------- sending */

/*
 * Write what the link has, while the transport is not too far behind.
 * Frames are handed to the transport in blocks of up to OUT_BLOCK bytes:
 * each block becomes one TLS record (libevent writes a record per buffer
 * chunk, and grows the chunks of small writes only to 4 KiB), and the
 * peer's transport reads at most two records per read event and takes what
 * one read brought in one commit: a record per frame made it commit a few
 * envelopes at a time (docs/performance.md).
 */
#define OUT_BLOCK (16 * 1024) /* a TLS record's most plaintext */

static void conn_flush(core_conn *cc)
{
	if (!cc->link || cc->closing || !cc->c)
		return;
	pl_buf *block = &cc->out_block; /* its memory is kept for the next call */
	block->len = 0;
	int rc = 0;
	while (!rc && net_output_pending(cc->c) + block->len <= OUT_HIGH) {
		const uint8_t *p;
		size_t len = 0;
		if (pl_link_output(cc->link, core_now_ms(), &p, &len) != 0 || len == 0)
			break;
		if (len >= OUT_BLOCK) { /* a large frame goes alone, after the block */
			if (block->len)
				rc = net_write(cc->c, block->data, block->len);
			block->len = 0;
			if (!rc)
				rc = net_write(cc->c, p, len);
		} else {
			rc = pl_buf_append(block, p, len);
			if (!rc && block->len >= OUT_BLOCK) {
				rc = net_write(cc->c, block->data, block->len);
				block->len = 0;
			}
		}
		if (!rc)
			rc = pl_link_consume(cc->link, len);
	}
	if (!rc && block->len)
		rc = net_write(cc->c, block->data, block->len);
	block->len = 0;
	if (rc) {
		conn_drop(cc, "write failed");
		return;
	}
	if (pl_link_is_finished(cc->link))
		conn_drop(cc, "link closed");
}

struct pump {
	core_peer *p;
	core_conn *cc; /* the connection of the lane */
	int lane;
	uint64_t upto; /* no item past it: lower_lanes_bounds */
	bool full;
	int count;
};

static int pump_cb(void *ctx, const nstore_item *it)
{
	struct pump *w = ctx;
	core_peer *p = w->p;
	node_core *n = w->cc->n;
	uint8_t *buf = NULL;
	size_t len = 0;
	uint64_t lseq = it->lseq;
	if (lseq > w->upto) {
		w->full = true;
		return 1; /* held: stop the walk */
	}
	int rc;
	if (it->kind != PL_LINK_KIND_ENVELOPE)
		rc = nstore_blob_get(n->db, it->id, &buf, &len);
	else if (it->pos != NSTORE_NO_POS)
		rc = nstore_env_at(n->db, it->id, it->pos, &buf, &len);
	else
		rc = nstore_env_get(n->db, it->id, &buf, &len, NULL);
	if (rc)
		return rc;
	rc = pl_link_send_item(w->cc->link, (pl_link_lane)w->lane, lseq, (uint32_t)it->kind, buf,
			       len);
	free(buf);
	if (rc == PL_ERR_LIMIT) {
		w->full = true;
		return 1; /* stop the walk */
	}
	if (rc)
		return rc;
	p->sent[w->lane] = lseq;
	p->items_out++;
	w->count++;
	return 0;
}

/*
 * How many more items of the lanes below FLASH may be handed to the link
 * ([link] window; 0: no limit).  Items sent and not yet acknowledged are
 * in socket buffers or being verified at the peer, where nothing overtakes
 * them: the window bounds what a FLASH written now waits behind.  CONTROL
 * and FLASH are never held back.
 */
uint64_t peer_in_flight(const core_peer *p)
{
	uint64_t flying = 0;
	for (int l = PL_LINK_LANE_FLASH + 1; l < PL_LINK_LANES; l++)
		if (p->conn[l])
			flying += p->sent[l] > p->acked[l] ? p->sent[l] - p->acked[l] : 0;
	return flying;
}

static size_t pump_room(const node_core *n, const core_peer *p, int lane)
{
	uint32_t window = n->cfg->link.window;
	if (lane <= PL_LINK_LANE_FLASH || window == 0)
		return PUMP_BATCH;
	uint64_t flying = peer_in_flight(p);
	if (flying >= window)
		return 0;
	return window - flying < PUMP_BATCH ? (size_t)(window - flying) : PUMP_BATCH;
}

/* Unacknowledged CONTROL items looked at, at most, before holding anyway. */
#define HOLD_SCAN 64

struct hold {
	int lane;
	bool hold;
	uint64_t lseq; /* the first item that holds */
	size_t seen;
};

/* An item an envelope may depend on: any FLASH item; on CONTROL a charter,
 * a status list, a node record.  Checkpoints, cosignatures and refusals to
 * cosign depend on nothing the other lanes carry, and nothing there depends
 * on them. */
static bool item_holds(int lane, int kind)
{
	return lane == PL_LINK_LANE_FLASH ||
	       (lane == PL_LINK_LANE_CONTROL &&
		(kind == PL_LINK_KIND_CHARTER || kind == PL_LINK_KIND_STATUS_LIST ||
		 kind == PL_LINK_KIND_NODE_REC));
}

static int hold_cb(void *ctx, const nstore_item *it)
{
	struct hold *h = ctx;
	h->seen++;
	h->hold = item_holds(h->lane, it->kind);
	h->lseq = h->hold ? it->lseq : 0; /* 0: too many to look at, no mark */
	h->hold = h->hold || h->seen > HOLD_SCAN;
	return h->hold ? 1 : 0;
}

void peer_hold_mark(node_core *n, const char *state, int lane, int kind, uint64_t lseq)
{
	core_peer *p = item_holds(lane, kind) ? core_find_peer(n, state) : NULL;
	if (!p)
		return;
	/* forget the marks of items acknowledged since */
	size_t k = 0;
	for (size_t i = 0; i < p->nmarks; i++)
		if (p->marks[i].lseq > p->acked[p->marks[i].lane])
			p->marks[k++] = p->marks[i];
	p->nmarks = k;
	if (p->nmarks == CORE_HOLD_MARKS)
		return; /* that item holds every item of the lanes below FLASH */
	struct core_hold_mark *m = &p->marks[p->nmarks];
	m->lane = lane;
	m->lseq = lseq;
	memset(m->before, 0, sizeof(m->before));
	for (int l = PL_LINK_LANE_FLASH + 1; l < PL_LINK_LANES; l++)
		if (nstore_out_last(n->db, state, l, &m->before[l]) != 0)
			return; /* unknown: no mark, the item holds everything */
	p->nmarks++;
}

/*
 * Up to which lseq may items of each lane below FLASH be sent on their
 * connection now?  Not past an item of a lower lane that another connection
 * carries, that an envelope may depend on, and that waits for its receipt
 * (or is not even sent): the peer would take the later items first, perhaps
 * an envelope of an official whose charter is still on its way, or the
 * answer to a FLASH request, and refuse it for good.  Those are every FLASH
 * item and the charters, status lists and node records of CONTROL; the
 * transcript's items on CONTROL (checkpoints and cosignatures, about one
 * per thousand envelopes during a drain) hold nothing.  What was queued
 * before such an item cannot depend on it and goes (the item's mark, taken
 * when it was queued, says how far); without a mark (after a restart) the
 * lanes wait for it whole.  On one connection the link's own order (lower
 * lanes first) and the peer's in-order processing see to it.
 */
#define URGENT_GRACE_US 2000000 /* see lower_lanes_bounds */

static void lower_lanes_bounds(node_core *n, core_peer *p, uint64_t bound[PL_LINK_LANES])
{
	for (int l = 0; l < PL_LINK_LANES; l++)
		bound[l] = UINT64_MAX;
	const core_conn *low = p->conn[PL_LINK_LANES - 1];
	for (int k = 0; k <= PL_LINK_LANE_FLASH; k++) {
		if (p->conn[k] == low)
			continue;
		/* The connection of lane k is not up yet, the other one is (a link
		 * coming back: the second handshake takes a few ms, in which the
		 * backlog would start ahead of the FLASH queued during the
		 * outage): the lanes below wait whole for it, for at most
		 * URGENT_GRACE_US, after which the precise hold below applies
		 * (a connection that cannot be made holds nothing for ever; the
		 * next PING or read pumps again). */
		bool absent = !p->conn[k] && low &&
			      core_now_us() - low->up_us < URGENT_GRACE_US;
		/* the queue holds exactly the items not acknowledged; its kept
		 * count (one read, from memory mostly) says when it holds none */
		uint64_t queued = 1;
		if (nstore_out_depth(n->db, p->state, k, &queued) == 0 && queued == 0)
			continue;
		struct hold h = {k, false, 0, 0};
		int rc = nstore_out_walk(n->db, p->state, k, 1, HOLD_SCAN + 1, hold_cb, &h);
		if (rc >= 0 && !h.hold)
			continue;
		const struct core_hold_mark *m = NULL;
		for (size_t i = 0; rc >= 0 && h.lseq && !m && !absent && i < p->nmarks; i++)
			if (p->marks[i].lane == k && p->marks[i].lseq == h.lseq)
				m = &p->marks[i];
		for (int l = PL_LINK_LANE_FLASH + 1; l < PL_LINK_LANES; l++) {
			uint64_t b = m ? m->before[l] : 0;
			bound[l] = b < bound[l] ? b : bound[l];
		}
	}
}

void peer_pump(core_peer *p)
{
	node_core *n = NULL;
	for (int lane = 0; !n && lane < PL_LINK_LANES; lane++)
		n = p->conn[lane] ? p->conn[lane]->n : NULL;
	if (!n)
		return;
	uint64_t bound[PL_LINK_LANES];
	bool bounded = false; /* bound[] asked (once, for the lanes below FLASH) */
	for (int lane = 0; lane < PL_LINK_LANES; lane++) {
		core_conn *cc = p->conn[lane];
		if (!cc || !cc->link || !pl_link_is_open(cc->link))
			continue;
		if (lane > PL_LINK_LANE_FLASH && p->conn[PL_LINK_LANE_FLASH] != cc && !bounded) {
			lower_lanes_bounds(n, p, bound);
			bounded = true;
		}
		uint64_t upto = bounded ? bound[lane] : UINT64_MAX;
		for (;;) {
			if (p->sent[lane] >= upto)
				break;
			/* nothing assigned past what was sent: no walk (the last
			 * lseq assigned is one read, from memory mostly) */
			uint64_t last = UINT64_MAX;
			if (nstore_out_last(n->db, p->state, lane, &last) == 0 &&
			    p->sent[lane] >= last)
				break;
			size_t room = pump_room(n, p, lane);
			if (room == 0)
				break;
			/* Below FLASH, enough to keep the output busy: more would
			 * only hold the loop (reading items from the store) while a
			 * FLASH or a receipt waits for it. */
			if (lane > PL_LINK_LANE_FLASH &&
			    pl_link_queued_bytes(cc->link, lane) >= PUMP_AHEAD)
				break;
			struct pump w = {p, cc, lane, upto, false, 0};
			int rc = nstore_out_walk(n->db, p->state, lane, p->sent[lane] + 1,
						 room, pump_cb, &w);
			if (rc == PL_ERR_SEQUENCE) {
				/* The peer's HELLO resumes below what it acknowledged
				 * since: a connection set up before later receipts (two
				 * connections raced), or a peer that lost what it had
				 * stored.  This link can never send; a new one starts
				 * from the peer's current resume points. */
				node_log(NODE_LOG_WARN, "link resumes behind its receipts",
					 "peer=%s detail=%s", p->state, pl_err_detail());
				pl_link_close(cc->link, "resume point behind acknowledged items");
				conn_flush(cc);
				return;
			}
			if (rc < 0) {
				node_log(NODE_LOG_ERROR, "cannot read the queue",
					 "peer=%s reason=%s", p->state, pl_err_detail());
				return;
			}
			if (w.full || (size_t)w.count < room)
				break;
		}
		conn_flush(cc);
	}
}

void peer_pump_all(node_core *n)
{
	for (size_t i = 0; i < n->npeers; i++)
		peer_pump(&n->peers[i]);
}

static void on_writable(void *ctx, net_conn *c)
{
	(void)ctx;
	core_conn *cc = net_conn_user(c);
	if (!cc)
		return;
	conn_flush(cc);
	if (cc->peer)
		peer_pump(cc->peer);
}

/* ---------------------------------------------------------------- timers, status */

void peer_tick_all(node_core *n)
{
	/* conn_drop only schedules a close: the list stays as it is */
	for (core_conn *cc = n->conns; cc; cc = cc->next) {
		if (!cc->peer || !cc->link || cc->closing)
			continue;
		pl_link_tick(cc->link, core_now_ms());
		/* the slices of a checkpoint go on from the lowest-priority
		 * timer; the tick checks one only when none was since the last
		 * (that timer held back by a loop that is never idle) */
		process_events(cc, cc->cp && !cc->cp_stepped);
		cc->cp_stepped = false;
	}
}

void peer_close_all(node_core *n, const char *reason)
{
	for (core_conn *cc = n->conns; cc; cc = cc->next) {
		if (cc->peer && cc->link) {
			pl_link_close(cc->link, reason);
			conn_flush(cc);
		}
	}
}

json_t *peer_status_json(node_core *n, core_peer *p)
{
	json_t *q = json_object();
	for (int l = 0; q && l < PL_LINK_LANES; l++) {
		uint64_t d = 0;
		(void)nstore_out_depth(n->db, p->state, l, &d);
		json_object_set_new(q, l == 0 ? "CONTROL" : pl_lane_name((pl_lane)l),
				    json_integer((json_int_t)d));
	}
	net_peer_status st;
	memset(&st, 0, sizeof(st));
	(void)net_peer_status_get(n->net, p->state, &st);
	return json_pack("{s:s,s:b,s:s,s:o,s:I,s:I,s:I,s:s}", "state", p->state, "up",
			 peer_is_up(p), "node", p->node, "queued", q, "items_in",
			 (json_int_t)p->items_in, "items_out", (json_int_t)p->items_out,
			 "rejected", (json_int_t)p->rejected, "last_error", st.last_error);
}

const net_callbacks core_net_callbacks = {
	.on_open = on_open,
	.on_data = on_data,
	.on_writable = on_writable,
	.on_close = on_close,
};
