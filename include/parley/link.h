/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The peer-link protocol as a state machine without I/O (the style of
 * nghttp2): the application hands it the bytes it read from the transport
 * and the current time, and asks it for events and for the bytes to write.
 *
 * One pl_link is one connection between two nodes.  Each direction carries,
 * per precedence lane, a sequence of items (envelopes, charters, status
 * lists, node records: opaque bytes with a kind) numbered by the sender's
 * application with a link sequence (lseq).  Large items are cut into chunks
 * so that a FLASH item overtakes a ROUTINE transfer already under way.  The
 * receiver's application acknowledges items with cumulative receipts once
 * it has stored them durably; after a reconnection each side tells the
 * other, in its HELLO, where to resume on each lane.
 *
 * It does not: read or write sockets, read a clock, store anything, keep
 * items after they were output (the application's durable queue does, until
 * a receipt covers them), verify node records or envelopes, or use threads.
 * A pl_link must be used by one thread at a time.  The wire format is
 * specified byte by byte in docs/protocol.md ("Link layer").
 */
#ifndef PARLEY_LINK_H
#define PARLEY_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "parley/export.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PL_LINK_VERSION          1             /* the protocol version this code speaks */
#define PL_LINK_MAX_FRAME        (64 * 1024)   /* CBOR bytes after the 4-byte length */
#define PL_LINK_CHUNK            (16 * 1024)   /* default DATA chunk size */
#define PL_LINK_MAX_CHUNK        (32 * 1024)   /* largest configurable chunk size */
#define PL_LINK_MAX_ITEM         (1024 * 1024) /* largest item, both directions */
#define PL_LINK_MAX_NODE_REC     (16 * 1024)   /* largest node record in a HELLO */
#define PL_LINK_MAX_REASON       200           /* bytes of UTF-8 in a CLOSE reason */
#define PL_LINK_LSEQ_MAX         (UINT64_C(0x7fffffffffffffff)) /* lseq is 1..PL_LINK_LSEQ_MAX */
#define PL_LINK_LANE_BUDGET      (256 * 1024)                   /* default bytes queued per lane */
#define PL_LINK_ITEM_OVERHEAD    64                             /* budget charged per queued item */
#define PL_LINK_PING_INTERVAL_MS 15000                          /* default */
#define PL_LINK_DEAD_AFTER_MS    60000                          /* default */

/* Precedence lanes; a lower number goes first. */
typedef enum pl_link_lane {
	PL_LINK_LANE_CONTROL = 0, /* charters, status lists, node records */
	PL_LINK_LANE_FLASH = 1,
	PL_LINK_LANE_IMMEDIATE = 2,
	PL_LINK_LANE_PRIORITY = 3,
	PL_LINK_LANE_ROUTINE = 4,
} pl_link_lane;
#define PL_LINK_LANES 5
/* Sets of lanes, bit l for lane l: what one connection carries.  A peer
 * may be reached over one connection for every lane, or over two: CONTROL
 * and FLASH on one, the lanes below FLASH on the other, so a FLASH never
 * waits behind the bytes of a backlog (docs/protocol.md, "Lane sets"). */
#define PL_LINK_LANES_ALL    0x1fu
#define PL_LINK_LANES_URGENT 0x03u /* CONTROL, FLASH */
#define PL_LINK_LANES_BULK   0x1cu /* IMMEDIATE, PRIORITY, ROUTINE */
#define PL_LINK_LANES_ADOPT  0x100u /* pl_link_config.lanes of an accepting side: the
				     * set the dialler's HELLO names */

/* Item kinds.  The link carries any kind in 1..UINT32_MAX unchanged; these
 * are the ones Parley defines. */
enum {
	PL_LINK_KIND_ENVELOPE = 1,
	PL_LINK_KIND_CHARTER = 2,
	PL_LINK_KIND_STATUS_LIST = 3,
	PL_LINK_KIND_NODE_REC = 4,
	PL_LINK_KIND_CHECKPOINT = 5,          /* a signed checkpoint with proofs for the peer */
	PL_LINK_KIND_COSIGNATURE = 6,         /* the peer's cosignature on a checkpoint */
	PL_LINK_KIND_CHECKPOINT_REFUSED = 7,  /* the peer refused to cosign, and why */
};

typedef struct pl_link pl_link; /* one connection's protocol state (opaque) */

/*
 * Everything a link needs at its start.  Zero means "the default" for the
 * sizes and timers.  Times are milliseconds on any clock that never goes
 * backwards (CLOCK_MONOTONIC), the same clock for every call on one link.
 */
typedef struct pl_link_config {
	const uint8_t *node_rec; /* this node's signed node record, sent in HELLO (copied) */
	size_t node_rec_len;     /* 1..PL_LINK_MAX_NODE_REC */
	/* The next lseq this node expects from the peer on each lane: every item
	 * below it is durably stored here.  1 when nothing was ever received;
	 * at most PL_LINK_LSEQ_MAX + 1. */
	uint64_t resume[PL_LINK_LANES];
	/* The lanes this connection carries, both ways (PL_LINK_LANES_*, any
	 * non-empty set); 0: all.  Sent in the HELLO; the peer's HELLO must
	 * name the same set, and items or receipts of other lanes are
	 * protocol errors.  PL_LINK_LANES_ADOPT (the accepting side): the set
	 * the peer's HELLO names, and our HELLO waits for it. */
	unsigned lanes;
	size_t chunk;              /* DATA chunk size, 1..PL_LINK_MAX_CHUNK; 0: PL_LINK_CHUNK */
	size_t lane_budget;        /* queue budget per lane in bytes; 0: PL_LINK_LANE_BUDGET */
	uint32_t ping_interval_ms; /* PING after this much silence; 0: default */
	uint32_t dead_after_ms;    /* close after this much silence (> ping interval); 0: default */
	int64_t now_ms;            /* when the transport came up */
} pl_link_config;

typedef enum pl_link_event_type {
	PL_LINK_EV_HELLO = 1, /* the peer introduced itself; the link is open */
	PL_LINK_EV_ITEM,      /* a complete item arrived (never a duplicate) */
	PL_LINK_EV_RECEIPT,   /* the peer stored every item of a lane up to an lseq */
	PL_LINK_EV_PONG,      /* the peer answered our last PING */
	PL_LINK_EV_CLOSED,    /* the link is closed; always the last event */
} pl_link_event_type;

typedef enum pl_link_close_cause {
	PL_LINK_CLOSE_LOCAL = 1, /* the application called pl_link_close() */
	PL_LINK_CLOSE_PEER,      /* the peer sent CLOSE */
	PL_LINK_CLOSE_PROTOCOL,  /* the peer broke the protocol; we sent CLOSE */
	PL_LINK_CLOSE_TIMEOUT,   /* nothing heard from the peer for dead_after_ms */
	PL_LINK_CLOSE_INTERNAL,  /* we ran out of memory; we sent CLOSE if we could */
} pl_link_close_cause;

/*
 * An event.  Pointers in it (hello.node_rec, item.data) are owned by the
 * link and stay valid until the next call of pl_link_next_event() or
 * pl_link_free() on that link, whichever comes first; copy what you keep.
 */
typedef struct pl_link_event {
	pl_link_event_type type;
	union {
		struct {
			uint64_t version;
			const uint8_t *node_rec; /* the peer's node record, unverified */
			size_t node_rec_len;
			/* Where the peer wants us to resume: it holds every item of
			 * lane l below resume[l].  Also an implicit receipt of
			 * resume[l] - 1: send items from resume[l] on. */
			uint64_t resume[PL_LINK_LANES];
			unsigned lanes; /* the lanes of this connection (as configured) */
		} hello;
		struct {
			pl_link_lane lane;
			uint64_t lseq;
			uint32_t kind;
			const uint8_t *data;
			size_t len; /* 1..PL_LINK_MAX_ITEM */
		} item;
		struct {
			pl_link_lane lane;
			uint64_t upto; /* every item of the lane with lseq <= upto is stored */
		} receipt;
		struct {
			uint64_t n;
			int64_t rtt_ms; /* from the PING's output to the PONG's arrival */
		} pong;
		struct {
			pl_link_close_cause cause;
			int code;     /* PL_ERR_PROTOCOL, PL_ERR_VERSION, PL_ERR_NOMEM, else 0 */
			bool by_peer; /* cause == PL_LINK_CLOSE_PEER */
			char reason[PL_LINK_MAX_REASON + 1]; /* UTF-8, no control characters */
		} closed;
	};
} pl_link_event;

typedef struct pl_link_stats {
	uint64_t bytes_in, bytes_out;   /* transport bytes received / consumed */
	uint64_t frames_in, frames_out; /* frames parsed / built */
	uint64_t items_in, items_out;   /* items delivered as events / fully output */
	uint64_t duplicates;            /* items received again and dropped */
	int64_t rtt_ms;                 /* last measured round trip, or -1 */
} pl_link_stats;

/*
 * Create a link.  cfg is read, node_rec copied; nothing is sent until
 * pl_link_output() is called (the first frame is always our HELLO).
 * PL_ERR_INVALID (with a detail) for a config out of range, PL_ERR_NOMEM.
 * *out is NULL on failure.
 */
PL_EXPORT int pl_link_new(const pl_link_config *cfg, pl_link **out) PL_WUR;

/* Free a link and everything it holds (events' data included); NULL-safe. */
PL_EXPORT void pl_link_free_(pl_link *l);
#define pl_link_free(p)                                                                            \
	do {                                                                                       \
		pl_link_free_(p);                                                                  \
		(p) = NULL;                                                                        \
	} while (0)

/*
 * Take n bytes read from the transport (copied; any split is fine).  Every
 * complete frame is processed and its events queued; an incomplete frame is
 * kept (at most 4 + PL_LINK_MAX_FRAME bytes).  Drain events after each call:
 * the memory they hold grows with the input.
 *
 * When the peer breaks the protocol the link is poisoned: the error is
 * returned (PL_ERR_PROTOCOL, or PL_ERR_VERSION for a version mismatch, with
 * the reason as pl_err_detail()), a CLOSE frame with the reason is queued
 * for output, a CLOSED event follows the events of the frames before it,
 * and every later pl_link_recv/send_item/send_receipt/close returns the
 * same error.  PL_ERR_NOMEM poisons the same way.  After an orderly close
 * (either side, or a timeout) bytes are ignored and 0 is returned.
 */
PL_EXPORT int pl_link_recv(pl_link *l, const uint8_t *p, size_t n, int64_t now_ms) PL_WUR;

/* Take the next event into *ev: true, or false when there is none. */
PL_EXPORT bool pl_link_next_event(pl_link *l, pl_link_event *ev);
/* Does an event wait that is not an item of the lanes below FLASH (a HELLO,
 * a receipt, a CONTROL or FLASH item, the close)?  A receiver that lets
 * ROUTINE items gather before it takes them takes these at once. */
PL_EXPORT bool pl_link_has_urgent(const pl_link *l);

/*
 * Queue an item (p copied) on a lane.  Allowed once the peer's HELLO has
 * been received (PL_LINK_EV_HELLO) and until the link closes (else
 * PL_ERR_INVALID, or the poison code).  lseq: the first item of a lane on
 * this link must have 1 <= lseq <= the peer's resume point (items below it
 * are duplicates the peer drops), each later one the previous plus one;
 * otherwise PL_ERR_SEQUENCE and nothing is queued.  kind 1..UINT32_MAX,
 * n 1..PL_LINK_MAX_ITEM (else PL_ERR_INVALID).
 *
 * PL_ERR_LIMIT when the lane already holds items and this one would take it
 * past the lane budget (n + PL_LINK_ITEM_OVERHEAD per item): keep the item
 * in the durable queue and offer it again after pl_link_consume() drained
 * some output.  An item on an empty lane is always accepted, whatever its
 * size, so each lane always makes progress and a FLASH item never waits
 * for ROUTINE ones.  Once its last chunk is output the link forgets it.
 */
PL_EXPORT int pl_link_send_item(pl_link *l, pl_link_lane lane, uint64_t lseq, uint32_t kind,
				const uint8_t *p, size_t n) PL_WUR;

/*
 * Tell the peer that every item of a lane with lseq <= upto is now durably
 * stored here.  upto must not be below the last receipt given for the lane
 * (initially our resume point - 1) and not beyond the last item delivered
 * as an event on it (else PL_ERR_INVALID).  Receipts of one lane not yet
 * output are merged into one.  Open link only, as pl_link_send_item().
 */
PL_EXPORT int pl_link_send_receipt(pl_link *l, pl_link_lane lane, uint64_t upto) PL_WUR;

/*
 * Close the link with a reason for the peer (NULL: ""; made valid UTF-8
 * without control characters and cut to PL_LINK_MAX_REASON bytes).  Queued
 * items are dropped, a CLOSE frame is queued after the frame being written,
 * and a CLOSED event (cause LOCAL) follows the pending events.  Closing a
 * closed link does nothing and returns 0 (or the poison code).
 */
PL_EXPORT int pl_link_close(pl_link *l, const char *reason);

/*
 * The bytes to write next: *p / *n borrow the rest of the current frame
 * (valid until the next call on the link), *n == 0 when there is nothing to
 * write.  Frames are built only when asked, one at a time, in this order:
 * our HELLO; CLOSE; PONG; PING; receipts (by lane); then one chunk of the
 * first queued item of the highest-precedence lane that has one.  Runs the
 * timers like pl_link_tick().  0, or PL_ERR_NOMEM with nothing changed.
 */
PL_EXPORT int pl_link_output(pl_link *l, int64_t now_ms, const uint8_t **p, size_t *n) PL_WUR;

/* Mark n bytes of the last pl_link_output() as written (n <= what it gave, else
 * PL_ERR_INVALID). */
PL_EXPORT int pl_link_consume(pl_link *l, size_t n) PL_WUR;

/*
 * Milliseconds from now_ms until pl_link_tick() has something to do (0 when
 * overdue), or -1 when no timer runs (closed link).
 */
PL_EXPORT int64_t pl_link_next_timeout_ms(const pl_link *l, int64_t now_ms);

/*
 * Run the timers: after ping_interval_ms without a byte from the peer a PING
 * is queued (and again every interval while silence lasts); after
 * dead_after_ms the link closes (cause TIMEOUT, reason "peer silent for N
 * ms") and a CLOSE frame is queued, best effort.
 */
PL_EXPORT void pl_link_tick(pl_link *l, int64_t now_ms);

/* Payload bytes queued and not yet output on a lane, or on all lanes when lane < 0. */
PL_EXPORT size_t pl_link_queued_bytes(const pl_link *l, int lane);

/* The peer's HELLO was received and the link is not closed. */
PL_EXPORT bool pl_link_is_open(const pl_link *l);
/* The link is closed (for any cause). */
PL_EXPORT bool pl_link_is_closed(const pl_link *l);
/* Closed and nothing is left to write: the transport can be shut down. */
PL_EXPORT bool pl_link_is_finished(const pl_link *l);

/* Counters since pl_link_new(). */
PL_EXPORT void pl_link_get_stats(const pl_link *l, pl_link_stats *st);

#ifdef __cplusplus
}
#endif
#endif /* PARLEY_LINK_H */
