/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The peer-link state machine: bytes and time in, events and bytes out.
 *
 * It frames and reassembles, enforces the per-lane sequence, chunk and
 * receipt rules, schedules output by precedence one chunk at a time, and
 * runs the keepalive timers.  It does no I/O, reads no clock and keeps no
 * item after its last chunk was output: the application's durable queue
 * is the source of truth, and HELLO resume points plus cumulative receipts
 * tell it what to send again after a reconnection.
 *
 * Divisions: state and helpers; closing; events; creation; receiving;
 * sending; output scheduling; timers; queries.  Frame bytes are frame.c's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "link/link_int.h"
#include "parley/err.h"

/* ---------------------------------------------------------------- state and helpers */

/* An item waiting to be output (the link's copy). */
typedef struct tx_item {
	struct tx_item *next;
	uint64_t lseq;
	uint32_t kind;
	size_t len, off; /* off: bytes already output */
	uint8_t data[];
} tx_item;

/* Our side of a lane as a sender. */
typedef struct tx_lane {
	tx_item *head, *tail;
	size_t queued;        /* payload bytes not yet output */
	size_t charged;       /* what the budget counts: len + overhead per item */
	uint64_t last_queued; /* last lseq queued on this link, 0: none yet */
	uint64_t sent_hi;     /* highest lseq fully output on this link */
	uint64_t peer_resume; /* from the peer's HELLO */
	uint64_t peer_floor;  /* last receipt from the peer (initially peer_resume - 1) */
} tx_lane;

/* Our side of a lane as a receiver. */
typedef struct rx_lane {
	bool active; /* an item is being reassembled */
	bool dup;    /* ... and it is a duplicate (its bytes are not kept) */
	uint64_t lseq;
	uint32_t kind;
	uint64_t total, got;
	pl_buf buf;
	uint64_t last_seen; /* last lseq started on this link, 0: none yet */
	uint64_t expect;    /* next new lseq; starts at our resume point */
	uint64_t rcpt_upto; /* last receipt given; starts at resume - 1 */
	bool rcpt_pending;  /* a RECEIPT frame for rcpt_upto is owed */
	bool dup_acked;     /* duplicates were answered with a receipt */
} rx_lane;

typedef struct ev_node {
	pl_link_event ev;
	pl_buf data; /* item bytes or node record, owned */
} ev_node;

struct pl_link {
	/* configuration */
	uint8_t *node_rec;
	size_t node_rec_len;
	size_t chunk, budget;
	int64_t ping_ms, dead_ms;
	/* life cycle */
	bool hello_sent, peer_hello;
	bool closed, close_queued;
	int poison; /* 0, or the error every later call returns */
	pl_link_close_cause cause;
	int close_code;
	char reason[PL_LINK_MAX_REASON + 1];
	bool closed_ev_pending;
	/* time */
	int64_t now, last_rx, last_ping_queued;
	/* keepalive */
	bool ping_pending, ping_out, pong_pending;
	uint64_t ping_n, pong_n;
	int64_t ping_sent_at;
	/* bytes */
	pl_buf in;  /* an incomplete frame, length prefix included */
	pl_buf out; /* the frame being written */
	size_t out_pos;
	tx_lane tx[PL_LINK_LANES];
	rx_lane rx[PL_LINK_LANES];
	unsigned lanes; /* the lanes this connection carries (PL_LINK_LANES_*) */
	bool adopt;     /* lanes come from the peer's HELLO; ours waits for it */
	/* events */
	ev_node *evs;
	size_t ev_head, ev_len, ev_cap;
	size_t ev_urgent; /* queued events that are not items below FLASH */
	pl_buf ev_held; /* data of the event handed out last */
	pl_link_stats st;
};

static const char *const lane_names[PL_LINK_LANES] = {"CONTROL", "FLASH", "IMMEDIATE", "PRIORITY",
						      "ROUTINE"};

static int64_t sat_add(int64_t a, int64_t b)
{
	return a > INT64_MAX - b ? INT64_MAX : a + b;
}

/* Time never goes backwards inside a link, whatever the caller passes. */
static void set_now(pl_link *l, int64_t now)
{
	if (now > l->now)
		l->now = now;
}

/* Release an ordinary buffer without pl_buf_clear's wipe: item bytes are
 * not secret and may be a MiB long. */
static void buf_free(pl_buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

static void tx_drop_all(pl_link *l)
{
	for (unsigned i = 0; i < PL_LINK_LANES; i++) {
		tx_item *it = l->tx[i].head;
		while (it) {
			tx_item *next = it->next;
			free(it);
			it = next;
		}
		l->tx[i].head = l->tx[i].tail = NULL;
		l->tx[i].queued = l->tx[i].charged = 0;
	}
}

/* ---------------------------------------------------------------- closing */

/*
 * Close the link once: remember why, drop queued items and partial items,
 * owe a CLOSED event and, when send_close, a CLOSE frame after the frame
 * being written (a frame of which nothing was written yet is dropped).
 */
static void link_shut(pl_link *l, pl_link_close_cause cause, int code, const char *reason,
		      bool send_close)
{
	if (l->closed)
		return;
	l->closed = true;
	l->cause = cause;
	l->close_code = code;
	l->poison = code;
	link_reason_copy(l->reason, reason, strlen(reason));
	l->closed_ev_pending = true;
	l->ping_pending = l->pong_pending = l->ping_out = false;
	tx_drop_all(l);
	for (unsigned i = 0; i < PL_LINK_LANES; i++) {
		buf_free(&l->rx[i].buf);
		l->rx[i].active = false;
		l->rx[i].rcpt_pending = false;
	}
	buf_free(&l->in);
	if (l->out_pos == 0 || !send_close)
		l->out.len = l->out_pos = 0;
	l->close_queued = send_close;
}

/* The peer broke the protocol: the parse or check left the reason as the
 * error detail.  Poison the link with code and return it. */
static int link_fail(pl_link *l, int code)
{
	char why[PL_LINK_MAX_REASON + 1];
	const char *d = pl_err_detail();
	link_reason_copy(why, d, strlen(d));
	link_shut(l, PL_LINK_CLOSE_PROTOCOL, code, why, true);
	return pl_err_fail(code, "%s", l->reason);
}

static int link_nomem(pl_link *l)
{
	link_shut(l, PL_LINK_CLOSE_INTERNAL, PL_ERR_NOMEM, "out of memory", true);
	return pl_err_fail(PL_ERR_NOMEM, "link: out of memory");
}

/* The answer of every call on a closed link that needs an open one. */
static int closed_rc(const pl_link *l)
{
	if (l->poison)
		return pl_err_fail(l->poison, "link closed: %s", l->reason);
	return pl_err_fail(PL_ERR_INVALID, "link closed: %s", l->reason);
}

int pl_link_close(pl_link *l, const char *reason)
{
	if (!l)
		return PL_ERR_INVALID;
	if (l->poison)
		return closed_rc(l);
	link_shut(l, PL_LINK_CLOSE_LOCAL, 0, reason ? reason : "", true);
	return 0;
}

/* ---------------------------------------------------------------- events */

/* Anything but an item of the lanes below FLASH (pl_link_has_urgent). */
static bool ev_is_urgent(const pl_link_event *ev)
{
	return ev->type != PL_LINK_EV_ITEM || ev->item.lane <= PL_LINK_LANE_FLASH;
}

/* Queue an event; takes data (freed on failure too).  PL_ERR_NOMEM poisons. */
static int ev_push(pl_link *l, const pl_link_event *ev, pl_buf *data)
{
	if (l->ev_head == l->ev_len) {
		l->ev_head = l->ev_len = 0;
	} else if (l->ev_len == l->ev_cap && l->ev_head > 0) {
		memmove(l->evs, l->evs + l->ev_head, (l->ev_len - l->ev_head) * sizeof(*l->evs));
		l->ev_len -= l->ev_head;
		l->ev_head = 0;
	}
	if (l->ev_len == l->ev_cap) {
		size_t cap = l->ev_cap ? l->ev_cap * 2 : 16;
		ev_node *p = realloc(l->evs, cap * sizeof(*p));
		if (!p) {
			if (data)
				buf_free(data);
			return link_nomem(l);
		}
		l->evs = p;
		l->ev_cap = cap;
	}
	ev_node *n = &l->evs[l->ev_len++];
	n->ev = *ev;
	l->ev_urgent += ev_is_urgent(ev);
	memset(&n->data, 0, sizeof(n->data));
	if (data) {
		n->data = *data;
		memset(data, 0, sizeof(*data));
	}
	return 0;
}

bool pl_link_has_urgent(const pl_link *l)
{
	return l && (l->ev_urgent > 0 || l->closed_ev_pending);
}

bool pl_link_next_event(pl_link *l, pl_link_event *ev)
{
	if (!l || !ev)
		return false;
	buf_free(&l->ev_held);
	if (l->ev_head < l->ev_len) {
		ev_node *n = &l->evs[l->ev_head++];
		*ev = n->ev;
		l->ev_urgent -= ev_is_urgent(ev);
		l->ev_held = n->data;
		memset(&n->data, 0, sizeof(n->data));
		if (ev->type == PL_LINK_EV_ITEM)
			ev->item.data = l->ev_held.data;
		else if (ev->type == PL_LINK_EV_HELLO)
			ev->hello.node_rec = l->ev_held.data;
		if (l->ev_head == l->ev_len)
			l->ev_head = l->ev_len = 0;
		return true;
	}
	if (l->closed_ev_pending) {
		l->closed_ev_pending = false;
		memset(ev, 0, sizeof(*ev));
		ev->type = PL_LINK_EV_CLOSED;
		ev->closed.cause = l->cause;
		ev->closed.code = l->close_code;
		ev->closed.by_peer = l->cause == PL_LINK_CLOSE_PEER;
		memcpy(ev->closed.reason, l->reason, sizeof(l->reason));
		return true;
	}
	return false;
}

/* ---------------------------------------------------------------- creation */

int pl_link_new(const pl_link_config *cfg, pl_link **out)
{
	if (!out)
		return PL_ERR_INVALID;
	*out = NULL;
	if (!cfg)
		return PL_ERR_INVALID;
	if (!cfg->node_rec || cfg->node_rec_len < 1 || cfg->node_rec_len > PL_LINK_MAX_NODE_REC)
		return pl_err_fail(PL_ERR_INVALID, "link: node record of %zu bytes (1..%d)",
				   cfg->node_rec_len, PL_LINK_MAX_NODE_REC);
	for (unsigned i = 0; i < PL_LINK_LANES; i++)
		if (cfg->resume[i] < 1 || cfg->resume[i] > PL_LINK_LSEQ_MAX + 1)
			return pl_err_fail(PL_ERR_INVALID, "link: resume point %llu of lane %s",
					   (unsigned long long)cfg->resume[i], lane_names[i]);
	if (cfg->lanes > PL_LINK_LANES_ALL && cfg->lanes != PL_LINK_LANES_ADOPT)
		return pl_err_fail(PL_ERR_INVALID, "link: lane set %u", cfg->lanes);
	if (cfg->chunk > PL_LINK_MAX_CHUNK)
		return pl_err_fail(PL_ERR_INVALID, "link: chunk of %zu bytes, at most %d",
				   cfg->chunk, PL_LINK_MAX_CHUNK);
	int64_t ping = cfg->ping_interval_ms ? cfg->ping_interval_ms : PL_LINK_PING_INTERVAL_MS;
	int64_t dead = cfg->dead_after_ms ? cfg->dead_after_ms : PL_LINK_DEAD_AFTER_MS;
	if (dead <= ping)
		return pl_err_fail(PL_ERR_INVALID,
				   "link: dead_after_ms %lld must exceed ping_interval_ms %lld",
				   (long long)dead, (long long)ping);
	pl_link *l = calloc(1, sizeof(*l));
	if (!l)
		return PL_ERR_NOMEM;
	l->node_rec = malloc(cfg->node_rec_len);
	if (!l->node_rec) {
		free(l);
		return PL_ERR_NOMEM;
	}
	memcpy(l->node_rec, cfg->node_rec, cfg->node_rec_len);
	l->node_rec_len = cfg->node_rec_len;
	l->adopt = cfg->lanes == PL_LINK_LANES_ADOPT;
	l->lanes = cfg->lanes && !l->adopt ? cfg->lanes : PL_LINK_LANES_ALL;
	l->chunk = cfg->chunk ? cfg->chunk : PL_LINK_CHUNK;
	l->budget = cfg->lane_budget ? cfg->lane_budget : PL_LINK_LANE_BUDGET;
	l->ping_ms = ping;
	l->dead_ms = dead;
	l->now = l->last_rx = l->last_ping_queued = cfg->now_ms;
	for (unsigned i = 0; i < PL_LINK_LANES; i++) {
		l->rx[i].expect = cfg->resume[i];
		l->rx[i].rcpt_upto = cfg->resume[i] - 1;
	}
	l->st.rtt_ms = -1;
	*out = l;
	return 0;
}

void pl_link_free_(pl_link *l)
{
	if (!l)
		return;
	tx_drop_all(l);
	for (unsigned i = 0; i < PL_LINK_LANES; i++)
		buf_free(&l->rx[i].buf);
	for (size_t i = l->ev_head; i < l->ev_len; i++)
		buf_free(&l->evs[i].data);
	free(l->evs);
	buf_free(&l->ev_held);
	buf_free(&l->in);
	buf_free(&l->out);
	free(l->node_rec);
	free(l);
}

/* ---------------------------------------------------------------- receiving */

static int on_hello(pl_link *l, const link_frame *f)
{
	if (l->peer_hello)
		return pl_err_fail(PL_ERR_PROTOCOL, "second HELLO");
	l->peer_hello = true;
	if (l->adopt)
		l->lanes = (unsigned)f->lanes; /* frame.c checked 1..PL_LINK_LANES_ALL */
	else if (f->lanes != l->lanes)
		return pl_err_fail(PL_ERR_PROTOCOL,
				   "the peer's HELLO carries lane set %llu, this connection %u",
				   (unsigned long long)f->lanes, l->lanes);
	pl_link_event ev = {.type = PL_LINK_EV_HELLO};
	ev.hello.version = f->ver;
	ev.hello.lanes = l->lanes;
	for (unsigned i = 0; i < PL_LINK_LANES; i++) {
		l->tx[i].peer_resume = f->next[i];
		l->tx[i].peer_floor = f->next[i] - 1;
		ev.hello.resume[i] = f->next[i];
	}
	pl_buf node = {0};
	if (pl_buf_append(&node, f->node.p, f->node.n) != 0)
		return PL_ERR_NOMEM;
	ev.hello.node_rec_len = f->node.n;
	return ev_push(l, &ev, &node);
}

/* The first chunk of an item: sequence rules (docs/protocol.md, "Sequence"). */
static int data_start(rx_lane *rx, const link_frame *f)
{
	const char *lane = lane_names[f->lane];
	unsigned long long lseq = f->lseq;
	if (f->off != 0)
		return pl_err_fail(PL_ERR_PROTOCOL, "%s item %llu starts at offset %llu, not 0",
				   lane, lseq, (unsigned long long)f->off);
	if (rx->last_seen == 0 && f->lseq > rx->expect)
		return pl_err_fail(PL_ERR_PROTOCOL, "%s item %llu but %llu was expected next (gap)",
				   lane, lseq, (unsigned long long)rx->expect);
	if (rx->last_seen != 0 && f->lseq != rx->last_seen + 1)
		return pl_err_fail(PL_ERR_PROTOCOL, "%s item %llu after item %llu (%s)", lane, lseq,
				   (unsigned long long)rx->last_seen,
				   f->lseq > rx->last_seen ? "gap" : "out of order");
	rx->active = true;
	rx->dup = f->lseq < rx->expect;
	rx->lseq = f->lseq;
	rx->kind = f->kind;
	rx->total = f->total;
	rx->got = 0;
	rx->last_seen = f->lseq;
	return 0;
}

static int on_data(pl_link *l, const link_frame *f)
{
	rx_lane *rx = &l->rx[f->lane];
	const char *lane = lane_names[f->lane];
	int rc;
	if (!rx->active) {
		rc = data_start(rx, f);
		if (rc)
			return rc;
	} else if (f->lseq != rx->lseq) {
		return pl_err_fail(PL_ERR_PROTOCOL, "%s item %llu began before item %llu ended",
				   lane, (unsigned long long)f->lseq, (unsigned long long)rx->lseq);
	} else if (f->kind != rx->kind || f->total != rx->total) {
		return pl_err_fail(PL_ERR_PROTOCOL, "%s item %llu changed its kind or size", lane,
				   (unsigned long long)f->lseq);
	} else if (f->off != rx->got) {
		return pl_err_fail(PL_ERR_PROTOCOL,
				   "%s item %llu: chunk at offset %llu, expected %llu", lane,
				   (unsigned long long)f->lseq, (unsigned long long)f->off,
				   (unsigned long long)rx->got);
	}
	if (!rx->dup && pl_buf_append(&rx->buf, f->data.p, f->data.n) != 0)
		return PL_ERR_NOMEM;
	rx->got += f->data.n; /* frame.c checked off + n <= total */
	if (rx->got < rx->total)
		return 0;
	rx->active = false;
	if (rx->dup) {
		/* Everything below our resume point is stored: say so once. */
		l->st.duplicates++;
		if (!rx->dup_acked)
			rx->rcpt_pending = rx->dup_acked = true;
		return 0;
	}
	rx->expect = rx->lseq + 1;
	l->st.items_in++;
	pl_link_event ev = {.type = PL_LINK_EV_ITEM};
	ev.item.lane = (pl_link_lane)f->lane;
	ev.item.lseq = rx->lseq;
	ev.item.kind = rx->kind;
	ev.item.len = rx->buf.len;
	return ev_push(l, &ev, &rx->buf);
}

static int on_receipt(pl_link *l, const link_frame *f)
{
	tx_lane *tx = &l->tx[f->lane];
	uint64_t ceiling = tx->sent_hi > tx->peer_resume - 1 ? tx->sent_hi : tx->peer_resume - 1;
	if (f->upto < tx->peer_floor)
		return pl_err_fail(PL_ERR_PROTOCOL, "%s receipt went back from %llu to %llu",
				   lane_names[f->lane], (unsigned long long)tx->peer_floor,
				   (unsigned long long)f->upto);
	if (f->upto > ceiling)
		return pl_err_fail(
		    PL_ERR_PROTOCOL, "%s receipt up to %llu, but only up to %llu was sent",
		    lane_names[f->lane], (unsigned long long)f->upto, (unsigned long long)ceiling);
	if (f->upto == tx->peer_floor)
		return 0; /* a repeated receipt tells nothing new */
	tx->peer_floor = f->upto;
	pl_link_event ev = {.type = PL_LINK_EV_RECEIPT};
	ev.receipt.lane = (pl_link_lane)f->lane;
	ev.receipt.upto = f->upto;
	return ev_push(l, &ev, NULL);
}

static int on_pong(pl_link *l, const link_frame *f)
{
	/* Only the answer to our latest PING is measured; others are late. */
	if (!l->ping_out || f->n != l->ping_n)
		return 0;
	l->ping_out = false;
	l->st.rtt_ms = l->now - l->ping_sent_at;
	pl_link_event ev = {.type = PL_LINK_EV_PONG};
	ev.pong.n = f->n;
	ev.pong.rtt_ms = l->st.rtt_ms;
	return ev_push(l, &ev, NULL);
}

static const char *const frame_names[] = {"?", "HELLO", "DATA", "RECEIPT", "PING", "PONG", "CLOSE"};

/* A DATA or RECEIPT frame f on a lane this connection does not carry is a
 * protocol error. */
static int carried(const pl_link *l, const link_frame *f)
{
	if (l->lanes & (1u << f->lane))
		return 0;
	return pl_err_fail(PL_ERR_PROTOCOL, "%s frame on lane %s, which this connection does not carry",
			   frame_names[f->type], lane_names[f->lane]);
}

/* One complete frame body.  Errors are returned unhandled (the caller poisons). */
static int on_frame(pl_link *l, const uint8_t *p, size_t n)
{
	link_frame f;
	pl_cbor *root = NULL;
	int rc = link_frame_parse(p, n, &f, &root);
	if (rc)
		return rc;
	l->st.frames_in++;
	if (!l->peer_hello && f.type != LINK_HELLO && f.type != LINK_CLOSE) {
		rc = pl_err_fail(PL_ERR_PROTOCOL, "%s frame before HELLO", frame_names[f.type]);
	} else {
		switch (f.type) {
		case LINK_HELLO:
			rc = on_hello(l, &f);
			break;
		case LINK_DATA:
			rc = carried(l, &f);
			if (!rc)
				rc = on_data(l, &f);
			break;
		case LINK_RECEIPT:
			rc = carried(l, &f);
			if (!rc)
				rc = on_receipt(l, &f);
			break;
		case LINK_PING:
			l->pong_pending = true;
			l->pong_n = f.n;
			break;
		case LINK_PONG:
			rc = on_pong(l, &f);
			break;
		case LINK_CLOSE:
			link_shut(l, PL_LINK_CLOSE_PEER, 0, "", false);
			link_reason_copy(l->reason, (const char *)f.reason.p, f.reason.n);
			break;
		}
	}
	pl_cbor_free(root);
	return rc;
}

/* Check a declared frame length (the 4 bytes at p). */
static int frame_len(const uint8_t *p, size_t *len)
{
	*len = (size_t)p[0] << 24 | (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3];
	if (*len == 0)
		return pl_err_fail(PL_ERR_PROTOCOL, "empty frame");
	if (*len > PL_LINK_MAX_FRAME)
		return pl_err_fail(PL_ERR_PROTOCOL, "frame of %zu bytes, the limit is %d", *len,
				   PL_LINK_MAX_FRAME);
	return 0;
}

/* Turn an error of frame handling into the link's end. */
static int recv_fail(pl_link *l, int rc)
{
	if (l->closed)
		return l->poison; /* already handled (out of memory in ev_push) */
	if (rc == PL_ERR_NOMEM)
		return link_nomem(l);
	return link_fail(l, rc);
}

int pl_link_recv(pl_link *l, const uint8_t *p, size_t n, int64_t now_ms)
{
	if (!l || (!p && n))
		return PL_ERR_INVALID;
	if (l->poison)
		return closed_rc(l);
	if (l->closed)
		return 0;
	set_now(l, now_ms);
	if (n)
		l->last_rx = l->now;
	l->st.bytes_in += n;
	size_t len;
	int rc;
	while (n > 0 && !l->closed) {
		if (l->in.len == 0 && n >= 4) {
			/* Fast path: a whole frame in the caller's bytes. */
			rc = frame_len(p, &len);
			if (rc)
				return recv_fail(l, rc);
			if (n - 4 >= len) {
				rc = on_frame(l, p + 4, len);
				if (rc)
					return recv_fail(l, rc);
				p += 4 + len;
				n -= 4 + len;
				continue;
			}
		}
		if (l->in.len < 4) {
			size_t k = 4 - l->in.len < n ? 4 - l->in.len : n;
			if (pl_buf_append(&l->in, p, k) != 0)
				return recv_fail(l, PL_ERR_NOMEM);
			p += k;
			n -= k;
			if (l->in.len < 4)
				break;
			rc = frame_len(l->in.data, &len);
			if (rc)
				return recv_fail(l, rc);
		}
		(void)frame_len(l->in.data, &len);
		size_t k = 4 + len - l->in.len;
		if (k > n)
			k = n;
		if (pl_buf_append(&l->in, p, k) != 0)
			return recv_fail(l, PL_ERR_NOMEM);
		p += k;
		n -= k;
		if (l->in.len == 4 + len) {
			l->in.len = 0;
			rc = on_frame(l, l->in.data + 4, len);
			if (rc)
				return recv_fail(l, rc);
		}
	}
	return 0;
}

/* ---------------------------------------------------------------- sending */

/* What the application may send needs an open link. */
static int check_open(const pl_link *l)
{
	if (l->closed)
		return closed_rc(l);
	if (!l->peer_hello)
		return pl_err_fail(PL_ERR_INVALID, "link: the peer's HELLO has not arrived yet");
	return 0;
}

/* The application's call names a lane this connection does not carry. */
static int not_carried(pl_link_lane lane)
{
	return pl_err_fail(PL_ERR_INVALID, "link: this connection does not carry lane %s",
			   lane_names[lane]);
}

int pl_link_send_item(pl_link *l, pl_link_lane lane, uint64_t lseq, uint32_t kind, const uint8_t *p,
		      size_t n)
{
	if (!l)
		return PL_ERR_INVALID;
	int rc = check_open(l);
	if (rc)
		return rc;
	if ((unsigned)lane >= PL_LINK_LANES)
		return pl_err_fail(PL_ERR_INVALID, "link: no lane %d", (int)lane);
	if (!(l->lanes & (1u << lane)))
		return not_carried(lane);
	if (kind == 0 || !p || n == 0 || n > PL_LINK_MAX_ITEM)
		return pl_err_fail(PL_ERR_INVALID, "link: item of kind %u and %zu bytes (1..%d)",
				   kind, n, PL_LINK_MAX_ITEM);
	tx_lane *tx = &l->tx[lane];
	if (lseq < 1 || lseq > PL_LINK_LSEQ_MAX)
		return pl_err_fail(PL_ERR_SEQUENCE, "link: lseq %llu out of range",
				   (unsigned long long)lseq);
	if (tx->last_queued == 0 && lseq > tx->peer_resume)
		return pl_err_fail(PL_ERR_SEQUENCE,
				   "link: %s item %llu, but the peer resumes at %llu (gap)",
				   lane_names[lane], (unsigned long long)lseq,
				   (unsigned long long)tx->peer_resume);
	if (tx->last_queued != 0 && lseq != tx->last_queued + 1)
		return pl_err_fail(PL_ERR_SEQUENCE, "link: %s item %llu after item %llu",
				   lane_names[lane], (unsigned long long)lseq,
				   (unsigned long long)tx->last_queued);
	size_t cost = n + PL_LINK_ITEM_OVERHEAD;
	if (tx->head && (tx->charged > l->budget || cost > l->budget - tx->charged))
		return pl_err_fail(PL_ERR_LIMIT, "link: %s queue full (%zu bytes queued)",
				   lane_names[lane], tx->queued);
	tx_item *it = malloc(sizeof(*it) + n);
	if (!it)
		return PL_ERR_NOMEM;
	it->next = NULL;
	it->lseq = lseq;
	it->kind = kind;
	it->len = n;
	it->off = 0;
	memcpy(it->data, p, n);
	if (tx->tail)
		tx->tail->next = it;
	else
		tx->head = it;
	tx->tail = it;
	tx->queued += n;
	tx->charged += cost;
	tx->last_queued = lseq;
	return 0;
}

int pl_link_send_receipt(pl_link *l, pl_link_lane lane, uint64_t upto)
{
	if (!l)
		return PL_ERR_INVALID;
	int rc = check_open(l);
	if (rc)
		return rc;
	if ((unsigned)lane >= PL_LINK_LANES)
		return pl_err_fail(PL_ERR_INVALID, "link: no lane %d", (int)lane);
	if (!(l->lanes & (1u << lane)))
		return not_carried(lane);
	rx_lane *rx = &l->rx[lane];
	if (upto < rx->rcpt_upto)
		return pl_err_fail(
		    PL_ERR_INVALID, "link: %s receipt would go back from %llu to %llu",
		    lane_names[lane], (unsigned long long)rx->rcpt_upto, (unsigned long long)upto);
	if (upto > rx->expect - 1)
		return pl_err_fail(PL_ERR_INVALID,
				   "link: %s receipt up to %llu, but only up to %llu arrived",
				   lane_names[lane], (unsigned long long)upto,
				   (unsigned long long)(rx->expect - 1));
	rx->rcpt_upto = upto;
	rx->rcpt_pending = true;
	return 0;
}

/* ---------------------------------------------------------------- output scheduling */

/* Build one DATA frame from the head item of tx (nothing changes on failure). */
static int build_chunk(pl_link *l, unsigned lane)
{
	tx_lane *tx = &l->tx[lane];
	tx_item *it = tx->head;
	size_t c = it->len - it->off;
	if (c > l->chunk)
		c = l->chunk;
	link_frame f = {.type = LINK_DATA, .lane = lane, .lseq = it->lseq, .kind = it->kind};
	f.total = it->len;
	f.off = it->off;
	f.data.p = it->data + it->off;
	f.data.n = c;
	int rc = link_frame_put(&l->out, &f);
	if (rc)
		return rc;
	it->off += c;
	tx->queued -= c;
	if (it->off == it->len) {
		tx->head = it->next;
		if (!tx->head)
			tx->tail = NULL;
		tx->charged -= it->len + PL_LINK_ITEM_OVERHEAD;
		tx->sent_hi = it->lseq;
		l->st.items_out++;
		free(it);
	}
	return 0;
}

/* Build the next frame into the empty output buffer, if anything is owed. */
static int build_next(pl_link *l)
{
	link_frame f = {0};
	int rc;
	if (l->closed) {
		if (!l->close_queued)
			return 0;
		f.type = LINK_CLOSE;
		f.reason.p = (const uint8_t *)l->reason;
		f.reason.n = strlen(l->reason);
		rc = link_frame_put(&l->out, &f);
		if (!rc)
			l->close_queued = false;
	} else if (!l->hello_sent) {
		if (l->adopt && !l->peer_hello)
			return 0; /* our HELLO names the set the peer's names */
		f.type = LINK_HELLO;
		f.ver = PL_LINK_VERSION;
		f.lanes = l->lanes;
		for (unsigned i = 0; i < PL_LINK_LANES; i++)
			f.next[i] = l->rx[i].expect;
		f.node.p = l->node_rec;
		f.node.n = l->node_rec_len;
		rc = link_frame_put(&l->out, &f);
		if (!rc)
			l->hello_sent = true;
	} else if (l->pong_pending) {
		f.type = LINK_PONG;
		f.n = l->pong_n;
		rc = link_frame_put(&l->out, &f);
		if (!rc)
			l->pong_pending = false;
	} else if (l->ping_pending) {
		f.type = LINK_PING;
		f.n = l->ping_n + 1;
		rc = link_frame_put(&l->out, &f);
		if (!rc) {
			l->ping_pending = false;
			l->ping_out = true;
			l->ping_n++;
			l->ping_sent_at = l->now;
		}
	} else {
		unsigned i = 0;
		while (i < PL_LINK_LANES && !l->rx[i].rcpt_pending)
			i++;
		if (i < PL_LINK_LANES) {
			f.type = LINK_RECEIPT;
			f.lane = i;
			f.upto = l->rx[i].rcpt_upto;
			rc = link_frame_put(&l->out, &f);
			if (!rc)
				l->rx[i].rcpt_pending = false;
		} else {
			i = 0;
			while (i < PL_LINK_LANES && !l->tx[i].head)
				i++;
			if (i == PL_LINK_LANES)
				return 0;
			rc = build_chunk(l, i);
		}
	}
	if (!rc)
		l->st.frames_out++;
	return rc;
}

int pl_link_output(pl_link *l, int64_t now_ms, const uint8_t **p, size_t *n)
{
	if (!p || !n)
		return PL_ERR_INVALID;
	*p = NULL;
	*n = 0;
	if (!l)
		return PL_ERR_INVALID;
	pl_link_tick(l, now_ms);
	if (l->out_pos == l->out.len) {
		l->out.len = l->out_pos = 0;
		int rc = build_next(l);
		if (rc)
			return rc;
	}
	*n = l->out.len - l->out_pos;
	/* nothing yet (an accepting side before the peer's HELLO): no buffer */
	*p = *n ? l->out.data + l->out_pos : NULL;
	return 0;
}

int pl_link_consume(pl_link *l, size_t n)
{
	if (!l || n > l->out.len - l->out_pos)
		return PL_ERR_INVALID;
	l->out_pos += n;
	l->st.bytes_out += n;
	if (l->out_pos == l->out.len)
		l->out.len = l->out_pos = 0;
	return 0;
}

/* ---------------------------------------------------------------- timers */

static int64_t ping_due(const pl_link *l)
{
	int64_t base = l->last_rx > l->last_ping_queued ? l->last_rx : l->last_ping_queued;
	return sat_add(base, l->ping_ms);
}

void pl_link_tick(pl_link *l, int64_t now_ms)
{
	if (!l || l->closed)
		return;
	set_now(l, now_ms);
	if (l->now >= sat_add(l->last_rx, l->dead_ms)) {
		char why[64];
		snprintf(why, sizeof(why), "peer silent for %lld ms",
			 (long long)(l->now - l->last_rx));
		link_shut(l, PL_LINK_CLOSE_TIMEOUT, 0, why, true);
		return;
	}
	if (l->now >= ping_due(l)) {
		l->ping_pending = true;
		l->last_ping_queued = l->now;
	}
}

int64_t pl_link_next_timeout_ms(const pl_link *l, int64_t now_ms)
{
	if (!l || l->closed)
		return -1;
	int64_t now = now_ms > l->now ? now_ms : l->now;
	int64_t due = sat_add(l->last_rx, l->dead_ms);
	int64_t ping = ping_due(l);
	if (ping < due)
		due = ping;
	return due <= now ? 0 : due - now;
}

/* ---------------------------------------------------------------- queries */

size_t pl_link_queued_bytes(const pl_link *l, int lane)
{
	if (!l || lane >= PL_LINK_LANES)
		return 0;
	if (lane >= 0)
		return l->tx[lane].queued;
	size_t sum = 0;
	for (unsigned i = 0; i < PL_LINK_LANES; i++)
		sum += l->tx[i].queued;
	return sum;
}

bool pl_link_is_open(const pl_link *l)
{
	return l && l->peer_hello && !l->closed;
}

bool pl_link_is_closed(const pl_link *l)
{
	return l && l->closed;
}

bool pl_link_is_finished(const pl_link *l)
{
	return l && l->closed && !l->close_queued && l->out_pos == l->out.len;
}

void pl_link_get_stats(const pl_link *l, pl_link_stats *st)
{
	if (!st)
		return;
	if (!l) {
		memset(st, 0, sizeof(*st));
		st->rtt_ms = -1;
		return;
	}
	*st = l->st;
}
