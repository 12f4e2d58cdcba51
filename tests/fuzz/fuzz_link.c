/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target for the link state machine (lib/link).
 *
 * Input: one mode byte, then the bytes a peer sends.  Mode bit 0: put a
 * valid HELLO in front, so the fuzzer starts past the handshake; bits 1-7:
 * the size of the pieces the later runs feed.  The same bytes go to three
 * fresh engines: all at once, and piece by piece, both writing output only
 * at the start and the end, must give identical event streams (what was
 * output legitimately changes which receipts are valid, hence the third
 * run); piece by piece with output written after every piece, checked for
 * invariants only.  Along the way the engine is used as node/ would: items
 * are sent on every lane after HELLO, every item is receipted, and finally
 * time jumps to fire the timers.  Without the valid HELLO, the engine
 * adopts the lane set the input's HELLO names; an item or receipt of
 * another lane is a broken invariant.
 * Aborts on a broken invariant: an event out of range, any event after
 * CLOSED, an error code outside the documented ones, a closed link that
 * never finishes writing, or different events for different splits.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "parley/err.h"
#include "parley/link.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The HELLO of a peer with node record "peer" and resume points 1 1 1 1 1. */
static const uint8_t hello[] = {
    0x00, 0x00, 0x00, 0x1e, 0xa4, 0x61, 0x74, 0x01, 0x63, 0x76, 0x65, 0x72,
    0x01, 0x64, 0x6e, 0x65, 0x78, 0x74, 0x85, 0x01, 0x01, 0x01, 0x01, 0x01,
    0x64, 0x6e, 0x6f, 0x64, 0x65, 0x44, 0x70, 0x65, 0x65, 0x72,
};

typedef struct run {
	pl_link *l;
	uint64_t digest; /* of every event, in order */
	size_t events;
	bool closed;
	unsigned lanes; /* of the connection, from the peer's HELLO */
} run;

static void mix(run *r, const void *p, size_t n)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++)
		r->digest = (r->digest ^ b[i]) * 0x100000001b3u;
}

static void mix_u(run *r, uint64_t v)
{
	mix(r, &v, sizeof(v));
}

static void drain_output(run *r, int64_t now)
{
	for (int i = 0; i < 10000; i++) {
		const uint8_t *p;
		size_t n;
		if (pl_link_output(r->l, now, &p, &n) != 0)
			abort(); /* only out of memory may fail */
		if (n == 0)
			break;
		if (!p || n > 4 + PL_LINK_MAX_FRAME)
			abort();
		/* Write it in two parts, as a short write would. */
		if (pl_link_consume(r->l, n / 2) != 0 || pl_link_consume(r->l, n - n / 2) != 0)
			abort();
	}
	if (pl_link_is_closed(r->l) && !pl_link_is_finished(r->l))
		abort();
}

static void drain_events(run *r)
{
	pl_link_event ev;
	while (pl_link_next_event(r->l, &ev)) {
		if (r->closed)
			abort(); /* CLOSED is the last event */
		r->events++;
		mix_u(r, ev.type);
		switch (ev.type) {
		case PL_LINK_EV_HELLO:
			if (ev.hello.version != PL_LINK_VERSION || !ev.hello.node_rec ||
			    ev.hello.node_rec_len < 1 ||
			    ev.hello.node_rec_len > PL_LINK_MAX_NODE_REC)
				abort();
			mix(r, ev.hello.node_rec, ev.hello.node_rec_len);
			mix(r, ev.hello.resume, sizeof(ev.hello.resume));
			if (ev.hello.lanes < 1 || ev.hello.lanes > PL_LINK_LANES_ALL)
				abort();
			r->lanes = ev.hello.lanes;
			mix_u(r, ev.hello.lanes);
			for (unsigned i = 0; i < PL_LINK_LANES; i++) {
				if (!(r->lanes & (1u << i)))
					continue;
				uint64_t s = ev.hello.resume[i];
				if (s < 1 || s > PL_LINK_LSEQ_MAX + 1)
					abort();
				/* Resend from the peer's resume point, as node/ would. */
				uint8_t item[40];
				memset(item, (int)i, sizeof(item));
				if (s <= PL_LINK_LSEQ_MAX &&
				    pl_link_send_item(r->l, (pl_link_lane)i, s, 1, item,
						      sizeof(item)) != 0 &&
				    !pl_link_is_closed(r->l))
					abort();
			}
			break;
		case PL_LINK_EV_ITEM:
			if ((unsigned)ev.item.lane >= PL_LINK_LANES || ev.item.lseq < 1 ||
			    ev.item.lseq > PL_LINK_LSEQ_MAX || ev.item.kind < 1 || !ev.item.data ||
			    ev.item.len < 1 || ev.item.len > PL_LINK_MAX_ITEM ||
			    !(r->lanes & (1u << ev.item.lane)))
				abort();
			mix_u(r, ev.item.lane);
			mix_u(r, ev.item.lseq);
			mix_u(r, ev.item.kind);
			mix(r, ev.item.data, ev.item.len);
			/* Stored: receipt it. */
			if (pl_link_send_receipt(r->l, ev.item.lane, ev.item.lseq) != 0 &&
			    !pl_link_is_closed(r->l))
				abort();
			break;
		case PL_LINK_EV_RECEIPT:
			if ((unsigned)ev.receipt.lane >= PL_LINK_LANES ||
			    !(r->lanes & (1u << ev.receipt.lane)))
				abort();
			mix_u(r, ev.receipt.lane);
			mix_u(r, ev.receipt.upto);
			break;
		case PL_LINK_EV_PONG:
			mix_u(r, ev.pong.n);
			mix_u(r, (uint64_t)ev.pong.rtt_ms);
			break;
		case PL_LINK_EV_CLOSED:
			r->closed = true;
			if (!pl_link_is_closed(r->l) || ev.closed.cause < PL_LINK_CLOSE_LOCAL ||
			    ev.closed.cause > PL_LINK_CLOSE_INTERNAL ||
			    strlen(ev.closed.reason) > PL_LINK_MAX_REASON)
				abort();
			for (const char *c = ev.closed.reason; *c; c++)
				if ((unsigned char)*c < 0x20 || *c == 0x7f)
					abort();
			mix_u(r, (uint64_t)ev.closed.cause);
			mix_u(r, (uint64_t)ev.closed.code);
			mix(r, ev.closed.reason, strlen(ev.closed.reason));
			break;
		default:
			abort();
		}
	}
}

static void feed(run *r, const uint8_t *p, size_t n, bool output)
{
	int rc = pl_link_recv(r->l, p, n, 0);
	if (rc != 0 && rc != PL_ERR_PROTOCOL && rc != PL_ERR_VERSION && rc != PL_ERR_NOMEM)
		abort();
	if (rc != 0 && !pl_link_is_closed(r->l))
		abort();
	drain_events(r);
	if (output)
		drain_output(r, 0);
}

static void one(run *r, bool prefix, const uint8_t *data, size_t size, size_t piece, bool output)
{
	static const uint8_t node[] = "fuzz node";
	pl_link_config cfg = {0};
	cfg.node_rec = node;
	cfg.node_rec_len = sizeof(node) - 1;
	for (unsigned i = 0; i < PL_LINK_LANES; i++)
		cfg.resume[i] = 1;
	cfg.resume[PL_LINK_LANE_ROUTINE] = 3; /* items 1 and 2 there are duplicates */
	cfg.chunk = 64;                       /* small chunks reach the chunk logic */
	cfg.lane_budget = 4096;
	/* Without the valid HELLO in front the input's own HELLO chooses the
	 * lane set, as a dialler does (docs/protocol.md, "Lane sets"). */
	cfg.lanes = prefix ? 0 : PL_LINK_LANES_ADOPT;
	memset(r, 0, sizeof(*r));
	r->digest = 0xcbf29ce484222325u;
	if (pl_link_new(&cfg, &r->l) != 0)
		abort();
	drain_output(r, 0);
	if (prefix)
		feed(r, hello, sizeof(hello), output);
	for (size_t off = 0; off < size; off += piece)
		feed(r, data + off, size - off < piece ? size - off : piece, output);
	drain_output(r, 0);
	/* Timers: a PING after silence, then the end of a silent peer. */
	int64_t t = pl_link_next_timeout_ms(r->l, 0);
	if (t < -1)
		abort();
	pl_link_tick(r->l, PL_LINK_PING_INTERVAL_MS);
	drain_output(r, PL_LINK_PING_INTERVAL_MS);
	pl_link_tick(r->l, PL_LINK_DEAD_AFTER_MS);
	drain_events(r);
	drain_output(r, PL_LINK_DEAD_AFTER_MS);
	if (!r->closed || !pl_link_is_finished(r->l) || pl_link_next_timeout_ms(r->l, 0) != -1)
		abort();
	pl_link_free(r->l);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	bool prefix = data[0] & 1;
	size_t piece = 1 + (data[0] >> 1);
	run whole, pieces, chatty;
	one(&whole, prefix, data + 1, size - 1, size, false);
	one(&pieces, prefix, data + 1, size - 1, piece, false);
	if (whole.digest != pieces.digest || whole.events != pieces.events)
		abort();
	one(&chatty, prefix, data + 1, size - 1, piece, true);
	return 0;
}
