/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lib/link: two engines connected back to back in memory (A's output is
 * B's input and the reverse), with a virtual clock.  Covers the handshake,
 * items on every lane, chunking and reassembly of a 1 MiB item, a FLASH item
 * overtaking a ROUTINE transfer, cumulative receipts, resumption after a
 * reconnection with duplicates, every protocol violation and its CLOSE
 * reason, byte-at-a-time input, keepalive and dead-peer detection, local
 * close, queue budgets, and the known-answer bytes of docs/protocol.md.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "parley/buf.h"
#include "parley/codec.h"
#include "parley/err.h"
#include "parley/link.h"

static const uint8_t node_a[] = "node record of A (opaque to the link)";
static const uint8_t node_b[] = "node record of B";
static const uint64_t fresh[PL_LINK_LANES] = {1, 1, 1, 1, 1};

/* ---------------------------------------------------------------- helpers */

static pl_link *mk_cfg(const uint8_t *node, size_t len, const uint64_t resume[PL_LINK_LANES],
		       size_t chunk, size_t budget, int64_t now)
{
	pl_link_config cfg = {0};
	cfg.node_rec = node;
	cfg.node_rec_len = len;
	memcpy(cfg.resume, resume, sizeof(cfg.resume));
	cfg.chunk = chunk;
	cfg.lane_budget = budget;
	cfg.ping_interval_ms = 1000;
	cfg.dead_after_ms = 5000;
	cfg.now_ms = now;
	pl_link *l = NULL;
	assert_int_equal(pl_link_new(&cfg, &l), 0);
	assert_non_null(l);
	return l;
}

static pl_link *mk_a(const uint64_t resume[PL_LINK_LANES])
{
	return mk_cfg(node_a, sizeof(node_a) - 1, resume, 0, 0, 0);
}

static pl_link *mk_b(const uint64_t resume[PL_LINK_LANES])
{
	return mk_cfg(node_b, sizeof(node_b) - 1, resume, 0, 0, 0);
}

/* A recorded event with a copy of its bytes. */
typedef struct rec {
	pl_link_event ev;
	uint8_t *data;
	size_t len;
} rec;

typedef struct evlog {
	rec *v;
	size_t n, cap;
} evlog;

static void drain(pl_link *l, evlog *log)
{
	pl_link_event ev;
	while (pl_link_next_event(l, &ev)) {
		if (log->n == log->cap) {
			log->cap = log->cap ? log->cap * 2 : 16;
			log->v = realloc(log->v, log->cap * sizeof(*log->v));
			assert_non_null(log->v);
		}
		rec *r = &log->v[log->n++];
		r->ev = ev;
		r->data = NULL;
		r->len = 0;
		const uint8_t *p = NULL;
		if (ev.type == PL_LINK_EV_ITEM)
			p = ev.item.data, r->len = ev.item.len;
		else if (ev.type == PL_LINK_EV_HELLO)
			p = ev.hello.node_rec, r->len = ev.hello.node_rec_len;
		if (p) {
			r->data = malloc(r->len);
			assert_non_null(r->data);
			memcpy(r->data, p, r->len);
		}
	}
}

static void evlog_free(evlog *log)
{
	for (size_t i = 0; i < log->n; i++)
		free(log->v[i].data);
	free(log->v);
	memset(log, 0, sizeof(*log));
}

static void evlog_reset(evlog *log)
{
	for (size_t i = 0; i < log->n; i++)
		free(log->v[i].data);
	log->n = 0;
}

static size_t count_type(const evlog *log, pl_link_event_type t)
{
	size_t k = 0;
	for (size_t i = 0; i < log->n; i++)
		k += log->v[i].ev.type == t;
	return k;
}

/* Move one frame (or what is left of one) from -> to; its size, 0 if none. */
static size_t move1(pl_link *from, pl_link *to, int64_t now)
{
	const uint8_t *p;
	size_t n;
	assert_int_equal(pl_link_output(from, now, &p, &n), 0);
	if (n == 0)
		return 0;
	assert_int_equal(pl_link_recv(to, p, n, now), 0);
	assert_int_equal(pl_link_consume(from, n), 0);
	return n;
}

/* Move frames both ways until both are quiet. */
static void pump(pl_link *a, pl_link *b, int64_t now)
{
	for (int i = 0; i < 100000; i++) {
		size_t k = move1(a, b, now) + move1(b, a, now);
		if (k == 0)
			return;
	}
	fail_msg("link pump did not settle");
}

/* All of l's output into *out (consumed). */
static void take_all(pl_link *l, int64_t now, pl_buf *out)
{
	const uint8_t *p;
	size_t n;
	for (int i = 0; i < 100000; i++) {
		assert_int_equal(pl_link_output(l, now, &p, &n), 0);
		if (n == 0)
			return;
		assert_int_equal(pl_buf_append(out, p, n), 0);
		assert_int_equal(pl_link_consume(l, n), 0);
	}
	fail_msg("output did not end");
}

/* Connect a and b; their HELLO events go to la / lb. */
static void handshake(pl_link *a, pl_link *b, evlog *la, evlog *lb)
{
	pump(a, b, 0);
	drain(a, la);
	drain(b, lb);
	assert_true(pl_link_is_open(a));
	assert_true(pl_link_is_open(b));
}

static void fill(uint8_t *p, size_t n, uint32_t seed)
{
	uint32_t x = seed * 2654435761u + 1;
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (uint8_t)x;
	}
}

static void assert_item(const rec *r, pl_link_lane lane, uint64_t lseq, uint32_t kind,
			const uint8_t *data, size_t len)
{
	assert_int_equal(r->ev.type, PL_LINK_EV_ITEM);
	assert_int_equal(r->ev.item.lane, lane);
	assert_int_equal(r->ev.item.lseq, lseq);
	assert_int_equal(r->ev.item.kind, kind);
	assert_int_equal(r->len, len);
	assert_memory_equal(r->data, data, len);
}

/* ---- crafting raw frames (for the violations the engine never sends) */

typedef struct kv {
	const char *k;
	char type; /* 'u' uint, 'b' bytes, 't' text, 'a' array of 5 uints */
	uint64_t u;
	const void *p;
	size_t n;
	const uint64_t *arr;
} kv;

/* Keys must be given in canonical order (the encoder checks). */
static void craft(pl_buf *out, const kv *kvs, size_t n)
{
	pl_cbor_enc e;
	pl_cbor_enc_init(&e);
	pl_cbor_put_map(&e, n);
	for (size_t i = 0; i < n; i++) {
		pl_cbor_put_str(&e, kvs[i].k);
		switch (kvs[i].type) {
		case 'u':
			pl_cbor_put_uint(&e, kvs[i].u);
			break;
		case 'b':
			pl_cbor_put_bytes(&e, kvs[i].p, kvs[i].n);
			break;
		case 't':
			pl_cbor_put_text(&e, kvs[i].p, kvs[i].n);
			break;
		case 'a':
			pl_cbor_put_array(&e, PL_LINK_LANES);
			for (unsigned j = 0; j < PL_LINK_LANES; j++)
				pl_cbor_put_uint(&e, kvs[i].arr[j]);
			break;
		}
	}
	uint8_t *body;
	size_t len;
	assert_int_equal(pl_cbor_enc_finish(&e, &body, &len), 0);
	uint8_t pre[4] = {(uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8),
			  (uint8_t)len};
	assert_int_equal(pl_buf_append(out, pre, 4), 0);
	assert_int_equal(pl_buf_append(out, body, len), 0);
	free(body);
}

static void craft_hello(pl_buf *out, uint64_t ver, const uint64_t next[PL_LINK_LANES])
{
	kv f[] = {{"t", 'u', 1, 0, 0, 0},
		  {"ver", 'u', ver, 0, 0, 0},
		  {"next", 'a', 0, 0, 0, next},
		  {"node", 'b', 0, "peer", 4, 0}};
	craft(out, f, 4);
}

static void craft_data(pl_buf *out, unsigned lane, uint64_t lseq, uint64_t kind, uint64_t total,
		       uint64_t off, const void *data, size_t n)
{
	kv f[] = {{"t", 'u', 2, 0, 0, 0},        {"off", 'u', off, 0, 0, 0},
		  {"data", 'b', 0, data, n, 0},  {"kind", 'u', kind, 0, 0, 0},
		  {"lane", 'u', lane, 0, 0, 0},  {"lseq", 'u', lseq, 0, 0, 0},
		  {"total", 'u', total, 0, 0, 0}};
	craft(out, f, 7);
}

static void craft_receipt(pl_buf *out, unsigned lane, uint64_t upto)
{
	kv f[] = {
	    {"t", 'u', 3, 0, 0, 0}, {"lane", 'u', lane, 0, 0, 0}, {"upto", 'u', upto, 0, 0, 0}};
	craft(out, f, 3);
}

static void raw(pl_buf *out, const uint8_t *p, size_t n)
{
	assert_int_equal(pl_buf_append(out, p, n), 0);
}

/* ---------------------------------------------------------------- known answers */

static void test_hello_known_answer(void **state)
{
	(void)state;
	/* docs/protocol.md, "Example frames": node record 01 02 03 04, resume 1 2 3 4 5. */
	static const uint8_t node[] = {1, 2, 3, 4};
	static const uint64_t resume[PL_LINK_LANES] = {1, 2, 3, 4, 5};
	static const uint8_t want[] = {
	    0x00, 0x00, 0x00, 0x1e, 0xa4, 0x61, 0x74, 0x01, 0x63, 0x76, 0x65, 0x72,
	    0x01, 0x64, 0x6e, 0x65, 0x78, 0x74, 0x85, 0x01, 0x02, 0x03, 0x04, 0x05,
	    0x64, 0x6e, 0x6f, 0x64, 0x65, 0x44, 0x01, 0x02, 0x03, 0x04,
	};
	pl_link *l = mk_cfg(node, sizeof(node), resume, 0, 0, 0);
	const uint8_t *p;
	size_t n;
	assert_int_equal(pl_link_output(l, 0, &p, &n), 0);
	assert_int_equal(n, sizeof(want));
	assert_memory_equal(p, want, sizeof(want));
	/* Until consumed, the same bytes are offered again; partly consumed, the rest. */
	assert_int_equal(pl_link_output(l, 0, &p, &n), 0);
	assert_int_equal(n, sizeof(want));
	assert_int_equal(pl_link_consume(l, 10), 0);
	assert_int_equal(pl_link_output(l, 0, &p, &n), 0);
	assert_int_equal(n, sizeof(want) - 10);
	assert_memory_equal(p, want + 10, n);
	assert_int_equal(pl_link_consume(l, n + 1), PL_ERR_INVALID);
	assert_int_equal(pl_link_consume(l, n), 0);
	assert_int_equal(pl_link_output(l, 0, &p, &n), 0);
	assert_int_equal(n, 0);
	pl_link_free(l);
	assert_null(l);
	pl_link_free(l); /* NULL-safe */
}

static void test_other_known_answers(void **state)
{
	(void)state;
	/* DATA: FLASH item lseq 7, kind 1, bytes "hi"; RECEIPT lane 4 upto 0;
	 * PING n 1; CLOSE "bye" (docs/protocol.md). */
	static const uint8_t want_data[] = {
	    0x00, 0x00, 0x00, 0x2a, 0xa7, 0x61, 0x74, 0x02, 0x63, 0x6f, 0x66, 0x66,
	    0x00, 0x64, 0x64, 0x61, 0x74, 0x61, 0x42, 0x68, 0x69, 0x64, 0x6b, 0x69,
	    0x6e, 0x64, 0x01, 0x64, 0x6c, 0x61, 0x6e, 0x65, 0x01, 0x64, 0x6c, 0x73,
	    0x65, 0x71, 0x07, 0x65, 0x74, 0x6f, 0x74, 0x61, 0x6c, 0x02,
	};
	static const uint8_t want_receipt[] = {0x00, 0x00, 0x00, 0x10, 0xa3, 0x61, 0x74,
					       0x03, 0x64, 0x6c, 0x61, 0x6e, 0x65, 0x04,
					       0x64, 0x75, 0x70, 0x74, 0x6f, 0x00};
	static const uint8_t want_ping[] = {0x00, 0x00, 0x00, 0x07, 0xa2, 0x61,
					    0x6e, 0x01, 0x61, 0x74, 0x04};
	static const uint8_t want_close[] = {0x00, 0x00, 0x00, 0x0f, 0xa2, 0x61, 0x74,
					     0x06, 0x66, 0x72, 0x65, 0x61, 0x73, 0x6f,
					     0x6e, 0x63, 0x62, 0x79, 0x65};
	const uint64_t resume_b[PL_LINK_LANES] = {1, 7, 1, 1, 1};
	pl_link *a = mk_a(fresh), *b = mk_b(resume_b);
	evlog la = {0}, lb = {0};
	handshake(a, b, &la, &lb);
	const uint8_t *p;
	size_t n;

	assert_int_equal(pl_link_send_item(a, PL_LINK_LANE_FLASH, 7, 1, (const uint8_t *)"hi", 2),
			 0);
	assert_int_equal(pl_link_output(a, 0, &p, &n), 0);
	assert_int_equal(n, sizeof(want_data));
	assert_memory_equal(p, want_data, n);
	assert_int_equal(pl_link_recv(b, p, n, 0), 0);
	assert_int_equal(pl_link_consume(a, n), 0);

	/* A receipt of 0 on ROUTINE is legal (nothing stored yet). */
	assert_int_equal(pl_link_send_receipt(b, PL_LINK_LANE_ROUTINE, 0), 0);
	assert_int_equal(pl_link_output(b, 0, &p, &n), 0);
	assert_int_equal(n, sizeof(want_receipt));
	assert_memory_equal(p, want_receipt, n);
	assert_int_equal(pl_link_consume(b, n), 0);

	assert_int_equal(pl_link_output(b, 1000, &p, &n), 0); /* silence: the first PING */
	assert_int_equal(n, sizeof(want_ping));
	assert_memory_equal(p, want_ping, n);
	assert_int_equal(pl_link_consume(b, n), 0);

	assert_int_equal(pl_link_close(b, "bye"), 0);
	assert_int_equal(pl_link_output(b, 1000, &p, &n), 0);
	assert_int_equal(n, sizeof(want_close));
	assert_memory_equal(p, want_close, n);
	assert_int_equal(pl_link_consume(b, n), 0);

	evlog_free(&la);
	evlog_free(&lb);
	pl_link_free(a);
	pl_link_free(b);
}

/* ---------------------------------------------------------------- handshake and items */

static void test_handshake(void **state)
{
	(void)state;
	const uint64_t ra[PL_LINK_LANES] = {1, 2, 3, 4, 5};
	const uint64_t rb[PL_LINK_LANES] = {10, 20, 30, 40, 50};
	pl_link *a = mk_a(ra), *b = mk_b(rb);
	assert_false(pl_link_is_open(a));
	/* Nothing may be sent before the peer's HELLO. */
	assert_int_equal(pl_link_send_item(a, PL_LINK_LANE_FLASH, 1, 1, (const uint8_t *)"x", 1),
			 PL_ERR_INVALID);
	assert_int_equal(pl_link_send_receipt(a, PL_LINK_LANE_FLASH, 0), PL_ERR_INVALID);
	evlog la = {0}, lb = {0};
	handshake(a, b, &la, &lb);
	assert_int_equal(la.n, 1);
	assert_int_equal(lb.n, 1);
	assert_int_equal(la.v[0].ev.type, PL_LINK_EV_HELLO);
	assert_int_equal(la.v[0].ev.hello.version, PL_LINK_VERSION);
	assert_int_equal(la.v[0].len, sizeof(node_b) - 1);
	assert_memory_equal(la.v[0].data, node_b, sizeof(node_b) - 1);
	assert_memory_equal(la.v[0].ev.hello.resume, rb, sizeof(rb));
	assert_int_equal(lb.v[0].ev.type, PL_LINK_EV_HELLO);
	assert_memory_equal(lb.v[0].data, node_a, sizeof(node_a) - 1);
	assert_memory_equal(lb.v[0].ev.hello.resume, ra, sizeof(ra));
	pl_link_stats st;
	pl_link_get_stats(a, &st);
	assert_int_equal(st.frames_in, 1);
	assert_int_equal(st.frames_out, 1);
	assert_int_equal(st.rtt_ms, -1);
	assert_true(st.bytes_in > 0 && st.bytes_out > 0);
	evlog_free(&la);
	evlog_free(&lb);
	pl_link_free(a);
	pl_link_free(b);
}

static void test_items_all_lanes(void **state)
{
	(void)state;
	pl_link *a = mk_a(fresh), *b = mk_b(fresh);
	evlog la = {0}, lb = {0};
	handshake(a, b, &la, &lb);
	uint8_t data[PL_LINK_LANES][3][100];
	/* Queue ROUTINE first, CONTROL last: output must still follow precedence. */
	for (int lane = PL_LINK_LANES - 1; lane >= 0; lane--)
		for (unsigned k = 0; k < 3; k++) {
			fill(data[lane][k], 100, (uint32_t)(lane * 10 + k));
			assert_int_equal(pl_link_send_item(a, (pl_link_lane)lane, k + 1,
							   (uint32_t)(lane + 1), data[lane][k],
							   50 + 10 * k),
					 0);
			assert_int_equal(pl_link_send_item(b, (pl_link_lane)lane, k + 1, 7,
							   data[lane][k], 100 - k),
					 0);
		}
	assert_int_equal(pl_link_queued_bytes(a, PL_LINK_LANE_FLASH), 50 + 60 + 70);
	assert_int_equal(pl_link_queued_bytes(a, -1), 5 * (50 + 60 + 70));
	pump(a, b, 0);
	assert_int_equal(pl_link_queued_bytes(a, -1), 0);
	evlog_reset(&la);
	evlog_reset(&lb);
	drain(a, &la);
	drain(b, &lb);
	assert_int_equal(lb.n, 15);
	assert_int_equal(la.n, 15);
	for (unsigned lane = 0; lane < PL_LINK_LANES; lane++)
		for (unsigned k = 0; k < 3; k++) {
			assert_item(&lb.v[lane * 3 + k], (pl_link_lane)lane, k + 1, lane + 1,
				    data[lane][k], 50 + 10 * k);
			assert_item(&la.v[lane * 3 + k], (pl_link_lane)lane, k + 1, 7,
				    data[lane][k], 100 - k);
		}
	pl_link_stats st;
	pl_link_get_stats(b, &st);
	assert_int_equal(st.items_in, 15);
	assert_int_equal(st.items_out, 15);
	assert_int_equal(st.duplicates, 0);
	evlog_free(&la);
	evlog_free(&lb);
	pl_link_free(a);
	pl_link_free(b);
}

/* ---------------------------------------------------------------- lane sets */

static pl_link *mk_lanes(const uint8_t *node, size_t len, unsigned lanes)
{
	pl_link_config cfg = {0};
	cfg.node_rec = node;
	cfg.node_rec_len = len;
	memcpy(cfg.resume, fresh, sizeof(cfg.resume));
	cfg.lanes = lanes;
	cfg.now_ms = 0;
	pl_link *l = NULL;
	assert_int_equal(pl_link_new(&cfg, &l), 0);
	return l;
}

/* The first event of a link fed stream s: a CLOSED for a protocol error
 * whose reason holds want. */
static void expect_closed(pl_link *l, const pl_buf *s, const char *want)
{
	assert_int_equal(pl_link_recv(l, s->data, s->len, 1), PL_ERR_PROTOCOL);
	evlog log = {0};
	drain(l, &log);
	assert_true(log.n >= 1);
	const pl_link_event *ev = &log.v[log.n - 1].ev;
	assert_int_equal(ev->type, PL_LINK_EV_CLOSED);
	assert_int_equal(ev->closed.cause, PL_LINK_CLOSE_PROTOCOL);
	if (!strstr(ev->closed.reason, want))
		fail_msg("reason '%s' lacks '%s'", ev->closed.reason, want);
	evlog_free(&log);
}

/* A connection may carry a set of lanes (docs/protocol.md, "Lane sets"):
 * its HELLO says which; items and receipts of other lanes are refused both
 * ways; both HELLOs must name the same set. */
static void test_lane_sets(void **state)
{
	(void)state;
	/* Known answer: the HELLO of the example frames with "lanes": 3 added. */
	static const uint8_t node[] = {1, 2, 3, 4};
	static const uint64_t resume[PL_LINK_LANES] = {1, 2, 3, 4, 5};
	static const uint8_t want[] = {
	    0x00, 0x00, 0x00, 0x25, 0xa5, 0x61, 0x74, 0x01, 0x63, 0x76, 0x65, 0x72, 0x01,
	    0x64, 0x6e, 0x65, 0x78, 0x74, 0x85, 0x01, 0x02, 0x03, 0x04, 0x05, 0x64, 0x6e,
	    0x6f, 0x64, 0x65, 0x44, 0x01, 0x02, 0x03, 0x04, 0x65, 0x6c, 0x61, 0x6e, 0x65,
	    0x73, 0x03,
	};
	pl_link_config cfg = {0};
	cfg.node_rec = node;
	cfg.node_rec_len = sizeof(node);
	memcpy(cfg.resume, resume, sizeof(cfg.resume));
	cfg.lanes = PL_LINK_LANES_URGENT;
	pl_link *k = NULL;
	assert_int_equal(pl_link_new(&cfg, &k), 0);
	const uint8_t *p;
	size_t n;
	assert_int_equal(pl_link_output(k, 0, &p, &n), 0);
	assert_int_equal(n, sizeof(want));
	assert_memory_equal(p, want, sizeof(want));
	pl_link_free(k);
	cfg.lanes = 0x20; /* no such lane */
	assert_int_equal(pl_link_new(&cfg, &k), PL_ERR_INVALID);

	/* Both sides CONTROL+FLASH: FLASH flows, ROUTINE cannot be queued. */
	pl_link *a = mk_lanes(node_a, sizeof(node_a) - 1, PL_LINK_LANES_URGENT);
	pl_link *b = mk_lanes(node_b, sizeof(node_b) - 1, PL_LINK_LANES_URGENT);
	evlog la = {0}, lb = {0};
	handshake(a, b, &la, &lb);
	assert_int_equal(lb.v[0].ev.type, PL_LINK_EV_HELLO);
	assert_int_equal(lb.v[0].ev.hello.lanes, PL_LINK_LANES_URGENT);
	assert_int_equal(pl_link_send_item(a, PL_LINK_LANE_ROUTINE, 1, 1, (const uint8_t *)"r", 1),
			 PL_ERR_INVALID);
	assert_int_equal(pl_link_send_item(a, PL_LINK_LANE_FLASH, 1, 1, (const uint8_t *)"f", 1), 0);
	pump(a, b, 0);
	evlog_reset(&lb);
	drain(b, &lb);
	assert_int_equal(lb.n, 1);
	assert_item(&lb.v[0], PL_LINK_LANE_FLASH, 1, 1, (const uint8_t *)"f", 1);
	assert_int_equal(pl_link_send_receipt(b, PL_LINK_LANE_ROUTINE, 0), PL_ERR_INVALID);
	assert_int_equal(pl_link_send_receipt(b, PL_LINK_LANE_FLASH, 1), 0);
	assert_true(pl_link_is_open(a));
	assert_true(pl_link_is_open(b));
	evlog_free(&la);
	evlog_free(&lb);
	pl_link_free(a);
	pl_link_free(b);

	/* The accepting side adopts the dialler's set; its HELLO waits for it. */
	a = mk_lanes(node_a, sizeof(node_a) - 1, PL_LINK_LANES_BULK);
	b = mk_lanes(node_b, sizeof(node_b) - 1, PL_LINK_LANES_ADOPT);
	assert_int_equal(pl_link_output(b, 0, &p, &n), 0);
	assert_int_equal(n, 0);
	evlog_reset(&la);
	evlog_reset(&lb);
	handshake(a, b, &la, &lb);
	assert_int_equal(la.v[0].ev.type, PL_LINK_EV_HELLO);
	assert_int_equal(la.v[0].ev.hello.lanes, PL_LINK_LANES_BULK);
	assert_int_equal(lb.v[0].ev.hello.lanes, PL_LINK_LANES_BULK);
	assert_int_equal(pl_link_send_item(b, PL_LINK_LANE_FLASH, 1, 1, (const uint8_t *)"f", 1),
			 PL_ERR_INVALID);
	assert_int_equal(pl_link_send_item(b, PL_LINK_LANE_ROUTINE, 1, 1, (const uint8_t *)"r", 1),
			 0);
	evlog_free(&la);
	evlog_free(&lb);
	pl_link_free(a);
	pl_link_free(b);

	/* The two HELLOs name different sets: each side refuses the other's. */
	a = mk_lanes(node_a, sizeof(node_a) - 1, PL_LINK_LANES_URGENT);
	b = mk_lanes(node_b, sizeof(node_b) - 1, PL_LINK_LANES_BULK);
	pl_buf s = {0};
	take_all(a, 0, &s);
	expect_closed(b, &s, "carries lane set 3, this connection 28");
	pl_buf_clear(&s);
	pl_link_free(a);
	pl_link_free(b);
	/* A HELLO without "lanes" (every lane) reaching a BULK connection. */
	craft_hello(&s, 1, fresh);
	b = mk_lanes(node_b, sizeof(node_b) - 1, PL_LINK_LANES_BULK);
	expect_closed(b, &s, "carries lane set 31, this connection 28");
	pl_link_free(b);
	pl_buf_clear(&s);

	/* Items and receipts of a lane not carried, after a matching HELLO. */
	for (unsigned i = 0; i < 2; i++) {
		kv h[] = {{"t", 'u', 1, 0, 0, 0},
			  {"ver", 'u', 1, 0, 0, 0},
			  {"next", 'a', 0, 0, 0, fresh},
			  {"node", 'b', 0, "peer", 4, 0},
			  {"lanes", 'u', PL_LINK_LANES_URGENT, 0, 0, 0}};
		craft(&s, h, 5);
		if (i == 0)
			craft_data(&s, PL_LINK_LANE_ROUTINE, 1, 1, 1, 0, "x", 1);
		else
			craft_receipt(&s, PL_LINK_LANE_IMMEDIATE, 0);
		b = mk_lanes(node_b, sizeof(node_b) - 1, PL_LINK_LANES_URGENT);
		expect_closed(b, &s, i == 0 ? "DATA frame on lane ROUTINE, which this connection does not carry"
					    : "RECEIPT frame on lane IMMEDIATE, which this connection does not carry");
		pl_link_free(b);
		pl_buf_clear(&s);
	}
	/* A lane set out of range in a HELLO. */
	const uint64_t bad[] = {0, 32, 1000};
	for (unsigned i = 0; i < 3; i++) {
		kv h[] = {{"t", 'u', 1, 0, 0, 0},
			  {"ver", 'u', 1, 0, 0, 0},
			  {"next", 'a', 0, 0, 0, fresh},
			  {"node", 'b', 0, "peer", 4, 0},
			  {"lanes", 'u', bad[i], 0, 0, 0}};
		craft(&s, h, 5);
		b = mk_b(fresh);
		expect_closed(b, &s, "malformed HELLO: lane set");
		pl_link_free(b);
		pl_buf_clear(&s);
	}
}

/* pl_link_has_urgent: items of the lanes below FLASH are not urgent; a
 * FLASH or CONTROL item, a receipt, a close are, until taken. */
static void test_has_urgent(void **state)
{
	(void)state;
	pl_link *a = mk_a(fresh), *b = mk_b(fresh);
	evlog la = {0}, lb = {0};
	handshake(a, b, &la, &lb);
	assert_false(pl_link_has_urgent(b));
	uint8_t d[64];
	fill(d, sizeof(d), 1);
	for (uint64_t k = 1; k <= 3; k++)
		assert_int_equal(pl_link_send_item(a, PL_LINK_LANE_ROUTINE, k, 1, d, sizeof(d)), 0);
	assert_int_equal(pl_link_send_item(a, PL_LINK_LANE_PRIORITY, 1, 1, d, sizeof(d)), 0);
	pump(a, b, 0);
	assert_false(pl_link_has_urgent(b)); /* four items below FLASH wait */
	assert_int_equal(pl_link_send_item(a, PL_LINK_LANE_FLASH, 1, 1, d, sizeof(d)), 0);
	pump(a, b, 0);
	assert_true(pl_link_has_urgent(b));
	evlog_reset(&lb);
	drain(b, &lb); /* all five taken */
	assert_int_equal(lb.n, 5);
	assert_false(pl_link_has_urgent(b));
	assert_int_equal(pl_link_send_item(a, PL_LINK_LANE_CONTROL, 1, 1, d, sizeof(d)), 0);
	pump(a, b, 0);
	assert_true(pl_link_has_urgent(b));
	drain(b, &lb);
	assert_false(pl_link_has_urgent(b));
	/* a receipt is urgent at the sender */
	evlog_reset(&la);
	drain(a, &la);
	assert_false(pl_link_has_urgent(a));
	assert_int_equal(pl_link_send_receipt(b, PL_LINK_LANE_ROUTINE, 3), 0);
	pump(a, b, 0);
	assert_true(pl_link_has_urgent(a));
	drain(a, &la);
	assert_false(pl_link_has_urgent(a));
	/* the close */
	assert_int_equal(pl_link_close(b, "done"), 0);
	pump(a, b, 0);
	assert_true(pl_link_has_urgent(a));
	assert_false(pl_link_has_urgent(NULL));
	evlog_free(&la);
	evlog_free(&lb);
	pl_link_free(a);
	pl_link_free(b);
}

static void test_chunked_1mib(void **state)
{
	(void)state;
	pl_link *a = mk_a(fresh), *b = mk_b(fresh);
	evlog la = {0}, lb = {0};
	handshake(a, b, &la, &lb);
	uint8_t *big = malloc(PL_LINK_MAX_ITEM);
	assert_non_null(big);
	fill(big, PL_LINK_MAX_ITEM, 42);
	assert_int_equal(pl_link_send_item(a, PL_LINK_LANE_ROUTINE, 1, PL_LINK_KIND_ENVELOPE, big,
					   PL_LINK_MAX_ITEM),
			 0);
	/* One byte more than the maximum is refused. */
	assert_int_equal(pl_link_send_item(a, PL_LINK_LANE_FLASH, 1, 1, big, PL_LINK_MAX_ITEM + 1),
			 PL_ERR_INVALID);
	size_t frames = 0, k;
	while ((k = move1(a, b, 0)) != 0) {
		assert_true(k <= 4 + PL_LINK_CHUNK + 64); /* one chunk per frame */
		frames++;
		drain(b, &lb);
		if (frames < PL_LINK_MAX_ITEM / PL_LINK_CHUNK)
			assert_int_equal(count_type(&lb, PL_LINK_EV_ITEM), 0);
	}
	assert_int_equal(frames, PL_LINK_MAX_ITEM / PL_LINK_CHUNK);
	assert_int_equal(lb.n, 2);
	assert_item(&lb.v[1], PL_LINK_LANE_ROUTINE, 1, PL_LINK_KIND_ENVELOPE, big,
		    PL_LINK_MAX_ITEM);
	free(big);
	evlog_free(&la);
	evlog_free(&lb);
	pl_link_free(a);
	pl_link_free(b);
}

static void test_flash_overtakes_routine(void **state)
{
	(void)state;
	pl_link *a = mk_a(fresh), *b = mk_b(fresh);
	evlog la = {0}, lb = {0};
	handshake(a, b, &la, &lb);
	evlog_reset(&lb);
	uint8_t *big = malloc(PL_LINK_MAX_ITEM);
	assert_non_null(big);
	fill(big, PL_LINK_MAX_ITEM, 7);
	assert_int_equal(pl_link_send_item(a, PL_LINK_LANE_ROUTINE, 1, 1, big, PL_LINK_MAX_ITEM),
			 0);
	for (int i = 0; i < 3; i++)
		assert_true(move1(a, b, 0) > PL_LINK_CHUNK);
	assert_int_equal(pl_link_queued_bytes(a, PL_LINK_LANE_ROUTINE),
			 PL_LINK_MAX_ITEM - 3 * PL_LINK_CHUNK);
	static const uint8_t flash[] = "FLASH: evacuate the embassy annex";
	assert_int_equal(pl_link_send_item(a, PL_LINK_LANE_FLASH, 1, 1, flash, sizeof(flash)), 0);
	/* The very next frame is the FLASH item, complete. */
	assert_true(move1(a, b, 0) < 200);
	drain(b, &lb);
	assert_int_equal(lb.n, 1);
	assert_item(&lb.v[0], PL_LINK_LANE_FLASH, 1, 1, flash, sizeof(flash));
	assert_int_equal(pl_link_queued_bytes(a, PL_LINK_LANE_ROUTINE),
			 PL_LINK_MAX_ITEM - 3 * PL_LINK_CHUNK);
	pump(a, b, 0);
	drain(b, &lb);
	assert_int_equal(lb.n, 2);
	assert_item(&lb.v[0], PL_LINK_LANE_FLASH, 1, 1, flash, sizeof(flash));
	assert_item(&lb.v[1], PL_LINK_LANE_ROUTINE, 1, 1, big, PL_LINK_MAX_ITEM);
	free(big);
	evlog_free(&la);
	evlog_free(&lb);
	pl_link_free(a);
	pl_link_free(b);
}

/* Receipts and PING/PONG go before data already queued. */
static void test_control_frames_before_data(void **state)
{
	(void)state;
	pl_link *a = mk_a(fresh), *b = mk_b(fresh);
	evlog la = {0}, lb = {0};
	handshake(a, b, &la, &lb);
	uint8_t *big = malloc(100000);
	assert_non_null(big);
	fill(big, 100000, 3);
	/* b sends an item to a, a receives it and will receipt it */
	assert_int_equal(pl_link_send_item(b, PL_LINK_LANE_PRIORITY, 1, 1, big, 10), 0);
	assert_true(move1(b, a, 0) > 0);
	assert_int_equal(pl_link_send_item(a, PL_LINK_LANE_CONTROL, 1, 2, big, 100000), 0);
	assert_true(move1(a, b, 0) > PL_LINK_CHUNK); /* first chunk under way */
	assert_int_equal(pl_link_send_receipt(a, PL_LINK_LANE_PRIORITY, 1), 0);
	assert_true(move1(a, b, 0) < 100); /* the receipt, not the next chunk */
	drain(b, &lb);
	assert_int_equal(lb.v[lb.n - 1].ev.type, PL_LINK_EV_RECEIPT);
	assert_int_equal(lb.v[lb.n - 1].ev.receipt.lane, PL_LINK_LANE_PRIORITY);
	assert_int_equal(lb.v[lb.n - 1].ev.receipt.upto, 1);
	free(big);
	evlog_free(&la);
	evlog_free(&lb);
	pl_link_free(a);
	pl_link_free(b);
}

/* ---------------------------------------------------------------- receipts */

static void test_receipts(void **state)
{
	(void)state;
	pl_link *a = mk_a(fresh), *b = mk_b(fresh);
	evlog la = {0}, lb = {0};
	handshake(a, b, &la, &lb);
	evlog_reset(&la);
	for (uint64_t s = 1; s <= 3; s++)
		assert_int_equal(
		    pl_link_send_item(a, PL_LINK_LANE_ROUTINE, s, 1, (const uint8_t *)"abc", 3), 0);
	pump(a, b, 0);
	/* Not beyond what arrived, not backwards. */
	assert_int_equal(pl_link_send_receipt(b, PL_LINK_LANE_ROUTINE, 4), PL_ERR_INVALID);
	assert_int_equal(pl_link_send_receipt(b, PL_LINK_LANE_FLASH, 1), PL_ERR_INVALID);
	assert_int_equal(pl_link_send_receipt(b, PL_LINK_LANE_ROUTINE, 1), 0);
	assert_int_equal(pl_link_send_receipt(b, PL_LINK_LANE_ROUTINE, 3), 0);
	assert_int_equal(pl_link_send_receipt(b, PL_LINK_LANE_ROUTINE, 2), PL_ERR_INVALID);
	assert_int_equal(pl_link_send_receipt(b, (pl_link_lane)5, 2), PL_ERR_INVALID);
	pump(a, b, 0);
	drain(a, &la);
	/* Receipts not yet output merge into one: A hears "up to 3" once. */
	assert_int_equal(la.n, 1);
	assert_int_equal(la.v[0].ev.type, PL_LINK_EV_RECEIPT);
	assert_int_equal(la.v[0].ev.receipt.lane, PL_LINK_LANE_ROUTINE);
	assert_int_equal(la.v[0].ev.receipt.upto, 3);
	/* A repeated receipt is legal and tells nothing new. */
	assert_int_equal(pl_link_send_receipt(b, PL_LINK_LANE_ROUTINE, 3), 0);
	pump(a, b, 0);
	drain(a, &la);
	assert_int_equal(la.n, 1);
	assert_true(pl_link_is_open(a));
	/* Item 4, receipt 4: cumulative. */
	assert_int_equal(pl_link_send_item(a, PL_LINK_LANE_ROUTINE, 4, 1, (const uint8_t *)"d", 1),
			 0);
	pump(a, b, 0);
	assert_int_equal(pl_link_send_receipt(b, PL_LINK_LANE_ROUTINE, 4), 0);
	pump(a, b, 0);
	drain(a, &la);
	assert_int_equal(la.n, 2);
	assert_int_equal(la.v[1].ev.receipt.upto, 4);
	evlog_free(&la);
	evlog_free(&lb);
	pl_link_free(a);
	pl_link_free(b);
}

/* ---------------------------------------------------------------- resumption */

static void test_resume_after_reconnect(void **state)
{
	(void)state;
	uint8_t items[6][20000];
	for (unsigned i = 1; i <= 5; i++)
		fill(items[i], sizeof(items[i]), i);

	/* Connection 1: A sends 1..5 (two chunks each); it breaks after B got 3. */
	pl_link *a = mk_a(fresh), *b = mk_b(fresh);
	evlog la = {0}, lb = {0};
	handshake(a, b, &la, &lb);
	evlog_reset(&lb);
	for (uint64_t s = 1; s <= 5; s++)
		assert_int_equal(
		    pl_link_send_item(a, PL_LINK_LANE_ROUTINE, s, 1, items[s], sizeof(items[s])),
		    0);
	while (count_type(&lb, PL_LINK_EV_ITEM) < 3) {
		assert_true(move1(a, b, 0) > 0);
		drain(b, &lb);
	}
	assert_true(move1(a, b, 0) > 0); /* half of item 4 */
	drain(b, &lb);
	assert_int_equal(lb.n, 3);
	/* B stored 1..3 durably but only receipted 2 before the break. */
	assert_int_equal(pl_link_send_receipt(b, PL_LINK_LANE_ROUTINE, 2), 0);
	assert_true(move1(b, a, 0) > 0);
	evlog_reset(&la);
	drain(a, &la);
	assert_int_equal(la.n, 1);
	assert_int_equal(la.v[0].ev.receipt.upto, 2);
	pl_link_free(a);
	pl_link_free(b);
	evlog_free(&la);
	evlog_free(&lb);

	/* Connection 2: B resumes ROUTINE at 4.  A's application resends from its
	 * last receipt + 1 = 3: item 3 is a duplicate B drops (and receipts). */
	const uint64_t rb[PL_LINK_LANES] = {1, 1, 1, 1, 4};
	a = mk_a(fresh);
	b = mk_b(rb);
	handshake(a, b, &la, &lb);
	assert_int_equal(la.v[0].ev.hello.resume[PL_LINK_LANE_ROUTINE], 4);
	/* Below the resume point - 1 a receipt would go backwards. */
	assert_int_equal(pl_link_send_receipt(b, PL_LINK_LANE_ROUTINE, 2), PL_ERR_INVALID);
	/* Starting past the peer's resume point is a gap. */
	assert_int_equal(pl_link_send_item(a, PL_LINK_LANE_ROUTINE, 5, 1, items[5], 10),
			 PL_ERR_SEQUENCE);
	for (uint64_t s = 3; s <= 5; s++)
		assert_int_equal(
		    pl_link_send_item(a, PL_LINK_LANE_ROUTINE, s, 1, items[s], sizeof(items[s])),
		    0);
	/* Within a link, lseq goes up by one. */
	assert_int_equal(pl_link_send_item(a, PL_LINK_LANE_ROUTINE, 7, 1, items[5], 10),
			 PL_ERR_SEQUENCE);
	assert_int_equal(pl_link_send_item(a, PL_LINK_LANE_ROUTINE, 5, 1, items[5], 10),
			 PL_ERR_SEQUENCE);
	evlog_reset(&la);
	evlog_reset(&lb);
	pump(a, b, 0);
	drain(b, &lb);
	drain(a, &la);
	assert_int_equal(lb.n, 2);
	assert_item(&lb.v[0], PL_LINK_LANE_ROUTINE, 4, 1, items[4], sizeof(items[4]));
	assert_item(&lb.v[1], PL_LINK_LANE_ROUTINE, 5, 1, items[5], sizeof(items[5]));
	pl_link_stats st;
	pl_link_get_stats(b, &st);
	assert_int_equal(st.duplicates, 1);
	assert_int_equal(st.items_in, 2);
	/* B's automatic receipt of 3 told A nothing it did not know from HELLO. */
	assert_int_equal(la.n, 0);
	pl_link_get_stats(a, &st);
	assert_int_equal(st.frames_in, 2); /* HELLO and that RECEIPT */
	assert_int_equal(pl_link_send_receipt(b, PL_LINK_LANE_ROUTINE, 5), 0);
	pump(a, b, 0);
	drain(a, &la);
	assert_int_equal(la.n, 1);
	assert_int_equal(la.v[0].ev.type, PL_LINK_EV_RECEIPT);
	assert_int_equal(la.v[0].ev.receipt.upto, 5);
	evlog_free(&la);
	evlog_free(&lb);
	pl_link_free(a);
	pl_link_free(b);
}

/* ---------------------------------------------------------------- protocol violations */

typedef struct bad_case {
	const char *name;
	int code;
	const char *reason; /* a part of the CLOSE reason */
} bad_case;

/* Feed stream to a fresh B (resume rb); expect the violation, then check
 * the CLOSE that reaches the peer and the poisoning. */
static void expect_violation(const uint64_t rb[PL_LINK_LANES], const pl_buf *stream,
			     const bad_case *c)
{
	pl_link *b = mk_b(rb);
	int rc = pl_link_recv(b, stream->data, stream->len, 5);
	if (rc != c->code)
		fail_msg("%s: recv gave %d, expected %d", c->name, rc, c->code);
	if (!strstr(pl_err_detail(), c->reason))
		fail_msg("%s: detail '%s' lacks '%s'", c->name, pl_err_detail(), c->reason);
	evlog lb = {0};
	drain(b, &lb);
	assert_true(lb.n >= 1);
	const pl_link_event *ev = &lb.v[lb.n - 1].ev;
	assert_int_equal(ev->type, PL_LINK_EV_CLOSED);
	assert_int_equal(ev->closed.cause, PL_LINK_CLOSE_PROTOCOL);
	assert_int_equal(ev->closed.code, c->code);
	assert_false(ev->closed.by_peer);
	if (!strstr(ev->closed.reason, c->reason))
		fail_msg("%s: reason '%s' lacks '%s'", c->name, ev->closed.reason, c->reason);
	assert_true(pl_link_is_closed(b));
	assert_false(pl_link_is_open(b));
	assert_false(pl_link_is_finished(b)); /* the CLOSE is still to be written */
	assert_int_equal(pl_link_next_timeout_ms(b, 5), -1);
	/* Poisoned: every later call gets the same error. */
	assert_int_equal(pl_link_recv(b, stream->data, 4, 6), c->code);
	assert_int_equal(pl_link_send_item(b, PL_LINK_LANE_FLASH, 1, 1, (const uint8_t *)"x", 1),
			 c->code);
	assert_int_equal(pl_link_send_receipt(b, PL_LINK_LANE_FLASH, 0), c->code);
	assert_int_equal(pl_link_close(b, "again"), c->code);
	assert_false(pl_link_next_event(b, &(pl_link_event){0}));
	/* The peer hears the reason. */
	pl_buf out = {0};
	take_all(b, 6, &out);
	assert_true(pl_link_is_finished(b));
	pl_link *a = mk_a(fresh);
	assert_int_equal(pl_link_recv(a, out.data, out.len, 7), 0);
	evlog la = {0};
	drain(a, &la);
	assert_true(la.n >= 1);
	ev = &la.v[la.n - 1].ev;
	assert_int_equal(ev->type, PL_LINK_EV_CLOSED);
	assert_int_equal(ev->closed.cause, PL_LINK_CLOSE_PEER);
	assert_true(ev->closed.by_peer);
	assert_string_equal(ev->closed.reason, lb.v[lb.n - 1].ev.closed.reason);
	assert_true(pl_link_is_finished(a));
	/* Bytes after an orderly close are ignored. */
	assert_int_equal(pl_link_recv(a, stream->data, stream->len, 8), 0);
	assert_int_equal(pl_link_send_item(a, PL_LINK_LANE_FLASH, 1, 1, (const uint8_t *)"x", 1),
			 PL_ERR_INVALID);
	pl_buf_clear(&out);
	evlog_free(&la);
	evlog_free(&lb);
	pl_link_free(a);
	pl_link_free(b);
}

static void test_protocol_violations(void **state)
{
	(void)state;
	const uint64_t r1[PL_LINK_LANES] = {1, 1, 1, 1, 1};
	const uint64_t r5[PL_LINK_LANES] = {1, 1, 1, 1, 5};
	uint8_t ten[10] = {0};
	pl_buf s = {0};

#define CASE(rb, code, reason, name)                                                               \
	do {                                                                                       \
		bad_case c_ = {name, code, reason};                                                \
		expect_violation(rb, &s, &c_);                                                     \
		pl_buf_reset(&s);                                                                  \
	} while (0)

	raw(&s, (const uint8_t[]){0x00, 0x01, 0x00, 0x01}, 4);
	CASE(r1, PL_ERR_PROTOCOL, "frame of 65537 bytes, the limit is 65536", "frame too large");

	craft_hello(&s, 1, r1); /* also after HELLO, and declared before the body arrives */
	raw(&s, (const uint8_t[]){0xff, 0xff, 0xff, 0xff, 0x00}, 5);
	CASE(r1, PL_ERR_PROTOCOL, "frame of 4294967295 bytes", "frame too large after HELLO");

	raw(&s, (const uint8_t[]){0, 0, 0, 0}, 4);
	CASE(r1, PL_ERR_PROTOCOL, "empty frame", "empty frame");

	raw(&s, (const uint8_t[]){0, 0, 0, 3, 0xa1, 0x61, 0x74}, 7);
	CASE(r1, PL_ERR_PROTOCOL, "malformed frame", "truncated CBOR");

	raw(&s, (const uint8_t[]){0, 0, 0, 1, 0xff}, 5);
	CASE(r1, PL_ERR_PROTOCOL, "malformed frame", "break byte");

	raw(&s, (const uint8_t[]){0, 0, 0, 1, 0x01}, 5);
	CASE(r1, PL_ERR_PROTOCOL, "not a map", "not a map");

	craft_hello(&s, 1, r1);
	/* {n: 1, t: 4} with n written in two bytes (18 01) */
	raw(&s, (const uint8_t[]){0, 0, 0, 8, 0xa2, 0x61, 0x6e, 0x18, 0x01, 0x61, 0x74, 0x04}, 12);
	CASE(r1, PL_ERR_PROTOCOL, "non-canonical frame", "non-canonical integer");

	craft_hello(&s, 1, r1);
	/* {t: 4, n: 1}: keys out of order */
	raw(&s, (const uint8_t[]){0, 0, 0, 7, 0xa2, 0x61, 0x74, 0x04, 0x61, 0x6e, 0x01}, 11);
	CASE(r1, PL_ERR_PROTOCOL, "non-canonical frame", "keys out of order");

	craft_hello(&s, 1, r1);
	craft(&s, (const kv[]){{"t", 'u', 9, 0, 0, 0}}, 1);
	CASE(r1, PL_ERR_PROTOCOL, "unknown frame type 9", "unknown type");

	craft(&s, (const kv[]){{"x", 'u', 9, 0, 0, 0}}, 1);
	CASE(r1, PL_ERR_PROTOCOL, "no type", "no type");

	craft_data(&s, 4, 1, 1, 3, 0, "abc", 3);
	CASE(r1, PL_ERR_PROTOCOL, "DATA frame before HELLO", "data before HELLO");

	craft(&s, (const kv[]){{"n", 'u', 1, 0, 0, 0}, {"t", 'u', 4, 0, 0, 0}}, 2);
	CASE(r1, PL_ERR_PROTOCOL, "PING frame before HELLO", "ping before HELLO");

	craft_hello(&s, 2, r1);
	CASE(r1, PL_ERR_VERSION, "version 2, this node version 1", "version mismatch");

	craft_hello(&s, 1, r1);
	craft_hello(&s, 1, r1);
	CASE(r1, PL_ERR_PROTOCOL, "second HELLO", "second HELLO");

	const uint64_t r0[PL_LINK_LANES] = {1, 0, 1, 1, 1};
	craft_hello(&s, 1, r0);
	CASE(r1, PL_ERR_PROTOCOL, "resume point 0 of lane 1 out of range", "resume point 0");

	craft(&s,
	      (const kv[]){{"t", 'u', 1, 0, 0, 0},
			   {"ver", 'u', 1, 0, 0, 0},
			   {"next", 'a', 0, 0, 0, r1},
			   {"node", 'b', 0, "", 0, 0}},
	      4);
	CASE(r1, PL_ERR_PROTOCOL, "malformed HELLO", "empty node record");

	craft_hello(&s, 1, r1);
	craft_data(&s, 4, 3, 1, 3, 0, "abc", 3);
	CASE(r1, PL_ERR_PROTOCOL, "ROUTINE item 3 but 1 was expected next (gap)", "lseq gap");

	craft_hello(&s, 1, r1);
	craft_data(&s, 4, 1, 1, 3, 0, "abc", 3);
	craft_data(&s, 4, 3, 1, 3, 0, "abc", 3);
	CASE(r1, PL_ERR_PROTOCOL, "ROUTINE item 3 after item 1 (gap)", "lseq gap later");

	craft_hello(&s, 1, r1); /* duplicates 2, 3, then 3 again */
	craft_data(&s, 4, 2, 1, 3, 0, "abc", 3);
	craft_data(&s, 4, 3, 1, 3, 0, "abc", 3);
	craft_data(&s, 4, 3, 1, 3, 0, "abc", 3);
	CASE(r5, PL_ERR_PROTOCOL, "ROUTINE item 3 after item 3 (out of order)", "repeat");

	craft_hello(&s, 1, r1);
	craft_data(&s, 4, 1, 1, 10, 0, ten, 4);
	craft_data(&s, 4, 1, 1, 10, 5, ten, 4);
	CASE(r1, PL_ERR_PROTOCOL, "ROUTINE item 1: chunk at offset 5, expected 4",
	     "chunk offset wrong");

	craft_hello(&s, 1, r1);
	craft_data(&s, 4, 1, 1, 10, 2, ten, 4);
	CASE(r1, PL_ERR_PROTOCOL, "ROUTINE item 1 starts at offset 2, not 0", "first offset");

	craft_hello(&s, 1, r1);
	craft_data(&s, 1, 1, 1, PL_LINK_MAX_ITEM + 1, 0, ten, 4);
	CASE(r1, PL_ERR_PROTOCOL, "item of 1048577 bytes", "total too large");

	craft_hello(&s, 1, r1);
	craft_data(&s, 1, 1, 1, 3, 0, ten, 5);
	CASE(r1, PL_ERR_PROTOCOL, "chunk of 5 bytes at offset 0 runs past the item's 3 bytes",
	     "chunk longer than total");

	craft_hello(&s, 1, r1);
	craft_data(&s, 1, 1, 1, 8, 0, ten, 4);
	craft_data(&s, 1, 1, 1, 8, 4, ten, 5);
	CASE(r1, PL_ERR_PROTOCOL, "chunk of 5 bytes at offset 4 runs past", "last chunk too long");

	craft_hello(&s, 1, r1);
	craft_data(&s, 1, 1, 1, 8, 0, ten, 4);
	craft_data(&s, 1, 2, 1, 8, 0, ten, 4);
	CASE(r1, PL_ERR_PROTOCOL, "FLASH item 2 began before item 1 ended", "interleaved items");

	craft_hello(&s, 1, r1);
	craft_data(&s, 1, 1, 1, 8, 0, ten, 4);
	craft_data(&s, 1, 1, 2, 8, 4, ten, 4);
	CASE(r1, PL_ERR_PROTOCOL, "changed its kind or size", "kind changed");

	craft_hello(&s, 1, r1);
	craft_data(&s, 5, 1, 1, 3, 0, ten, 3);
	CASE(r1, PL_ERR_PROTOCOL, "lane 5 does not exist", "lane out of range");

	craft_hello(&s, 1, r1);
	craft_data(&s, 0, 1, 0, 3, 0, ten, 3);
	CASE(r1, PL_ERR_PROTOCOL, "kind 0 out of range", "kind 0");

	craft_hello(&s, 1, r1);
	craft_data(&s, 0, 0, 1, 3, 0, ten, 3);
	CASE(r1, PL_ERR_PROTOCOL, "lseq 0 out of range", "lseq 0");

	craft_hello(&s, 1, r1);
	craft_data(&s, 0, 1, 1, 3, 0, ten, 0);
	CASE(r1, PL_ERR_PROTOCOL, "empty chunk", "empty chunk");

	craft_hello(&s, 1, r1);
	craft(&s,
	      (const kv[]){{"t", 'u', 2, 0, 0, 0},
			   {"off", 'u', 0, 0, 0, 0},
			   {"data", 'b', 0, ten, 3, 0},
			   {"kind", 'u', 1, 0, 0, 0},
			   {"lane", 'u', 1, 0, 0, 0},
			   {"lseq", 'u', 1, 0, 0, 0},
			   {"extra", 'u', 3, 0, 0, 0},
			   {"total", 'u', 3, 0, 0, 0}},
	      8);
	CASE(r1, PL_ERR_PROTOCOL, "unknown field 'extra'", "unknown field");

	craft_hello(&s, 1, r1);
	craft(&s, (const kv[]){{"t", 'u', 3, 0, 0, 0}, {"lane", 'u', 1, 0, 0, 0}}, 2);
	CASE(r1, PL_ERR_PROTOCOL, "missing field 'upto'", "missing field");

	craft_hello(&s, 1, r1);
	craft_receipt(&s, 4, 1);
	CASE(r1, PL_ERR_PROTOCOL, "ROUTINE receipt up to 1, but only up to 0 was sent",
	     "receipt beyond sent");

	craft_hello(&s, 1, r5); /* the peer holds ROUTINE 1..4 */
	craft_receipt(&s, 4, 3);
	CASE(r1, PL_ERR_PROTOCOL, "ROUTINE receipt went back from 4 to 3", "receipt backwards");

	craft_hello(&s, 1, r1);
	craft(&s, (const kv[]){{"t", 'u', 6, 0, 0, 0}, {"reason", 't', 0, "a\nb", 3, 0}}, 2);
	CASE(r1, PL_ERR_PROTOCOL, "control character", "control character in CLOSE");

	char long_reason[PL_LINK_MAX_REASON + 2];
	memset(long_reason, 'r', sizeof(long_reason));
	craft_hello(&s, 1, r1);
	craft(&s,
	      (const kv[]){{"t", 'u', 6, 0, 0, 0},
			   {"reason", 't', 0, long_reason, PL_LINK_MAX_REASON + 1, 0}},
	      2);
	CASE(r1, PL_ERR_PROTOCOL, "malformed CLOSE", "reason too long");
#undef CASE
	pl_buf_clear(&s);
}

/* The events of frames before a violation are delivered before CLOSED. */
static void test_violation_after_items(void **state)
{
	(void)state;
	pl_buf s = {0};
	craft_hello(&s, 1, fresh);
	craft_data(&s, 2, 1, 5, 3, 0, "abc", 3);
	craft_data(&s, 2, 9, 5, 3, 0, "abc", 3); /* gap */
	craft_data(&s, 2, 2, 5, 3, 0, "abc", 3); /* never looked at */
	pl_link *b = mk_b(fresh);
	assert_int_equal(pl_link_recv(b, s.data, s.len, 0), PL_ERR_PROTOCOL);
	evlog lb = {0};
	drain(b, &lb);
	assert_int_equal(lb.n, 3);
	assert_int_equal(lb.v[0].ev.type, PL_LINK_EV_HELLO);
	assert_item(&lb.v[1], PL_LINK_LANE_IMMEDIATE, 1, 5, (const uint8_t *)"abc", 3);
	assert_int_equal(lb.v[2].ev.type, PL_LINK_EV_CLOSED);
	/* A violation before our HELLO was output: CLOSE is the only frame. */
	pl_buf out = {0};
	take_all(b, 0, &out);
	assert_int_equal(out.data[4], 0xa2); /* {t: 6, reason: ...} */
	assert_int_equal(out.data[7], 0x06);
	pl_buf_clear(&out);
	pl_buf_clear(&s);
	evlog_free(&lb);
	pl_link_free(b);
}

/* ---------------------------------------------------------------- input splitting */

static bool same_events(const evlog *x, const evlog *y)
{
	if (x->n != y->n)
		return false;
	for (size_t i = 0; i < x->n; i++) {
		pl_link_event ex = x->v[i].ev, ey = y->v[i].ev;
		if (ex.type != ey.type || x->v[i].len != y->v[i].len ||
		    (x->v[i].len && memcmp(x->v[i].data, y->v[i].data, x->v[i].len) != 0))
			return false;
		/* Pointers differ; compare everything else. */
		if (ex.type == PL_LINK_EV_ITEM)
			ex.item.data = ey.item.data = NULL;
		if (ex.type == PL_LINK_EV_HELLO)
			ex.hello.node_rec = ey.hello.node_rec = NULL;
		if (memcmp(&ex, &ey, sizeof(ex)) != 0)
			return false;
	}
	return true;
}

static void test_byte_at_a_time(void **state)
{
	(void)state;
	/* Record a busy stream from A: HELLO, items on three lanes, a chunked one,
	 * a receipt, a PING, then CLOSE. */
	uint8_t big[40000];
	fill(big, sizeof(big), 9);
	pl_buf stream = {0};
	const uint64_t rb[PL_LINK_LANES] = {1, 1, 1, 1, 1};
	{
		/* Re-create the stream from a fresh A so that it starts with HELLO. */
		pl_link *a2 = mk_a(fresh);
		pl_buf hb = {0};
		craft_hello(&hb, 1, rb);
		assert_int_equal(pl_link_recv(a2, hb.data, hb.len, 0), 0);
		pl_buf_clear(&hb);
		assert_int_equal(
		    pl_link_send_item(a2, PL_LINK_LANE_ROUTINE, 1, 1, big, sizeof(big)), 0);
		assert_int_equal(pl_link_send_item(a2, PL_LINK_LANE_FLASH, 1, 1, big, 100), 0);
		assert_int_equal(pl_link_send_item(a2, PL_LINK_LANE_FLASH, 2, 3, big + 5, 300), 0);
		assert_int_equal(pl_link_send_item(a2, PL_LINK_LANE_PRIORITY, 1, 1, big + 9, 20000),
				 0);
		take_all(a2, 0, &stream);
		take_all(a2, 1500, &stream); /* a PING */
		assert_int_equal(pl_link_close(a2, "done"), 0);
		take_all(a2, 1500, &stream);
		pl_link_free(a2);
	}
	/* Whole, one byte at a time, and in uneven pieces: the same events. */
	evlog whole = {0}, bytes = {0}, pieces = {0};
	pl_link *b1 = mk_b(rb), *b2 = mk_b(rb), *b3 = mk_b(rb);
	assert_int_equal(pl_link_recv(b1, stream.data, stream.len, 0), 0);
	drain(b1, &whole);
	for (size_t i = 0; i < stream.len; i++) {
		assert_int_equal(pl_link_recv(b2, stream.data + i, 1, 0), 0);
		if (i % 7 == 0)
			drain(b2, &bytes);
	}
	drain(b2, &bytes);
	for (size_t i = 0, k = 1; i < stream.len; i += k, k = k * 3 % 9973 + 1) {
		size_t n = stream.len - i < k ? stream.len - i : k;
		assert_int_equal(pl_link_recv(b3, stream.data + i, n, 0), 0);
	}
	drain(b3, &pieces);
	assert_int_equal(whole.n, 6); /* HELLO, 4 items, CLOSED */
	assert_int_equal(whole.v[0].ev.type, PL_LINK_EV_HELLO);
	assert_item(&whole.v[1], PL_LINK_LANE_FLASH, 1, 1, big, 100);
	assert_item(&whole.v[2], PL_LINK_LANE_FLASH, 2, 3, big + 5, 300);
	assert_int_equal(whole.v[5].ev.type, PL_LINK_EV_CLOSED);
	assert_string_equal(whole.v[5].ev.closed.reason, "done");
	assert_true(same_events(&whole, &bytes));
	assert_true(same_events(&whole, &pieces));
	pl_buf_clear(&stream);
	evlog_free(&whole);
	evlog_free(&bytes);
	evlog_free(&pieces);
	pl_link_free(b1);
	pl_link_free(b2);
	pl_link_free(b3);
}

/* ---------------------------------------------------------------- timers */

static void test_ping_and_dead_peer(void **state)
{
	(void)state;
	pl_link *a = mk_a(fresh), *b = mk_b(fresh);
	evlog la = {0}, lb = {0};
	handshake(a, b, &la, &lb);
	evlog_reset(&la);
	const uint8_t *p;
	size_t n;
	assert_int_equal(pl_link_next_timeout_ms(a, 0), 1000);
	assert_int_equal(pl_link_next_timeout_ms(a, 400), 600);
	assert_int_equal(pl_link_output(a, 999, &p, &n), 0);
	assert_int_equal(n, 0); /* not yet */
	/* After 1000 ms of silence: PING; B answers PONG; A measures 30 ms. */
	assert_int_equal(pl_link_output(a, 1000, &p, &n), 0);
	assert_int_equal(n, 11);
	assert_int_equal(p[10], 0x04); /* t: 4 */
	assert_int_equal(pl_link_recv(b, p, n, 1010), 0);
	assert_int_equal(pl_link_consume(a, n), 0);
	assert_true(move1(b, a, 1030) > 0);
	drain(a, &la);
	assert_int_equal(la.n, 1);
	assert_int_equal(la.v[0].ev.type, PL_LINK_EV_PONG);
	assert_int_equal(la.v[0].ev.pong.n, 1);
	assert_int_equal(la.v[0].ev.pong.rtt_ms, 30);
	pl_link_stats st;
	pl_link_get_stats(a, &st);
	assert_int_equal(st.rtt_ms, 30);
	/* Then B falls silent: pings every second, dead after 5 s of silence. */
	int64_t t = 1030;
	int pings = 0;
	while (!pl_link_is_closed(a)) {
		int64_t d = pl_link_next_timeout_ms(a, t);
		assert_true(d >= 0 && d <= 1000);
		t += d;
		pl_link_tick(a, t);
		assert_int_equal(pl_link_output(a, t, &p, &n), 0);
		if (!pl_link_is_closed(a)) {
			assert_int_equal(n, 11);
			assert_int_equal(pl_link_consume(a, n), 0);
			pings++;
		}
		assert_true(t < 100000);
	}
	assert_int_equal(pings, 4); /* at 2030, 3030, 4030, 5030 */
	assert_int_equal(t, 6030);
	drain(a, &la);
	assert_int_equal(la.v[la.n - 1].ev.type, PL_LINK_EV_CLOSED);
	assert_int_equal(la.v[la.n - 1].ev.closed.cause, PL_LINK_CLOSE_TIMEOUT);
	assert_int_equal(la.v[la.n - 1].ev.closed.code, 0);
	assert_string_equal(la.v[la.n - 1].ev.closed.reason, "peer silent for 5000 ms");
	assert_int_equal(pl_link_next_timeout_ms(a, t), -1);
	/* A CLOSE with that reason is offered, best effort. */
	assert_true(n > 0);
	assert_int_equal(pl_link_recv(b, p, n, t), 0);
	assert_int_equal(pl_link_consume(a, n), 0);
	assert_true(pl_link_is_finished(a));
	drain(b, &lb);
	assert_string_equal(lb.v[lb.n - 1].ev.closed.reason, "peer silent for 5000 ms");
	assert_true(lb.v[lb.n - 1].ev.closed.by_peer);
	/* Time going backwards is treated as standing still. */
	pl_link *c = mk_a(fresh);
	pl_link_tick(c, 1500); /* a PING is due; the next one at 2500 */
	assert_int_equal(pl_link_next_timeout_ms(c, 0), 1000);
	assert_int_equal(pl_link_output(c, 0, &p, &n), 0);
	assert_int_equal(n, 30 + 1 + sizeof(node_a) - 1); /* HELLO first (2-byte bytes head) */
	assert_int_equal(pl_link_consume(c, n), 0);
	assert_int_equal(pl_link_output(c, 0, &p, &n), 0);
	assert_int_equal(n, 11); /* then the PING */
	evlog_free(&la);
	evlog_free(&lb);
	pl_link_free(a);
	pl_link_free(b);
	pl_link_free(c);
}

/* Traffic from the peer postpones pings; a late PONG is ignored. */
static void test_traffic_keeps_alive(void **state)
{
	(void)state;
	pl_link *a = mk_a(fresh), *b = mk_b(fresh);
	evlog la = {0}, lb = {0};
	handshake(a, b, &la, &lb);
	evlog_reset(&la);
	for (int64_t t = 500; t <= 20000; t += 500) {
		assert_int_equal(pl_link_send_item(b, PL_LINK_LANE_ROUTINE, (uint64_t)t / 500, 1,
						   (const uint8_t *)"tick", 4),
				 0);
		/* only b -> a: a hears something every 500 ms and never pings
		 * (b's own clock stands still at 0, so b does not ping either) */
		const uint8_t *p;
		size_t n;
		for (;;) {
			assert_int_equal(pl_link_output(b, 0, &p, &n), 0);
			if (n == 0)
				break;
			assert_int_equal(pl_link_recv(a, p, n, t), 0);
			assert_int_equal(pl_link_consume(b, n), 0);
		}
		assert_int_equal(pl_link_output(a, t, &p, &n), 0);
		assert_int_equal(n, 0);
	}
	assert_true(pl_link_is_open(a));
	/* A PONG nobody asked for changes nothing. */
	pl_buf s = {0};
	craft(&s, (const kv[]){{"n", 'u', 77, 0, 0, 0}, {"t", 'u', 5, 0, 0, 0}}, 2);
	assert_int_equal(pl_link_recv(a, s.data, s.len, 20000), 0);
	drain(a, &la);
	assert_int_equal(count_type(&la, PL_LINK_EV_PONG), 0);
	assert_int_equal(count_type(&la, PL_LINK_EV_ITEM), 40);
	pl_buf_clear(&s);
	evlog_free(&la);
	evlog_free(&lb);
	pl_link_free(a);
	pl_link_free(b);
}

/* ---------------------------------------------------------------- closing */

static void test_local_close(void **state)
{
	(void)state;
	pl_link *a = mk_a(fresh), *b = mk_b(fresh);
	evlog la = {0}, lb = {0};
	handshake(a, b, &la, &lb);
	evlog_reset(&la);
	evlog_reset(&lb);
	uint8_t *big = malloc(100000);
	assert_non_null(big);
	fill(big, 100000, 1);
	assert_int_equal(pl_link_send_item(a, PL_LINK_LANE_ROUTINE, 1, 1, big, 100000), 0);
	/* Half a frame written, then close: the frame is finished, then CLOSE. */
	const uint8_t *p;
	size_t n;
	assert_int_equal(pl_link_output(a, 0, &p, &n), 0);
	assert_int_equal(pl_link_recv(b, p, 100, 0), 0);
	assert_int_equal(pl_link_consume(a, 100), 0);
	/* Reason: a control character and a broken UTF-8 byte become '?'. */
	assert_int_equal(pl_link_close(a, "shutting down\n\xff caf\xc3\xa9"), 0);
	assert_int_equal(pl_link_close(a, "twice"), 0);
	assert_true(pl_link_is_closed(a));
	assert_false(pl_link_is_finished(a));
	assert_int_equal(pl_link_queued_bytes(a, -1), 0);
	assert_int_equal(pl_link_send_item(a, PL_LINK_LANE_FLASH, 1, 1, big, 1), PL_ERR_INVALID);
	assert_int_equal(pl_link_recv(a, big, 10, 0), 0); /* ignored */
	pl_buf rest = {0};
	take_all(a, 0, &rest);
	assert_true(pl_link_is_finished(a));
	assert_int_equal(pl_link_recv(b, rest.data, rest.len, 0), 0);
	drain(a, &la);
	drain(b, &lb);
	assert_int_equal(la.n, 1);
	assert_int_equal(la.v[0].ev.closed.cause, PL_LINK_CLOSE_LOCAL);
	assert_false(la.v[0].ev.closed.by_peer);
	assert_string_equal(la.v[0].ev.closed.reason, "shutting down?? caf\xc3\xa9");
	assert_int_equal(lb.n, 1); /* the half item is not delivered */
	assert_int_equal(lb.v[0].ev.closed.cause, PL_LINK_CLOSE_PEER);
	assert_string_equal(lb.v[0].ev.closed.reason, "shutting down?? caf\xc3\xa9");
	assert_true(pl_link_is_finished(b));
	/* A long reason is cut at a character boundary. */
	pl_link *c = mk_a(fresh);
	char lr[300];
	for (size_t i = 0; i + 2 <= sizeof(lr); i += 2)
		memcpy(lr + i, "\xc3\xa9", 2);
	lr[299] = '\0';
	assert_int_equal(pl_link_close(c, lr), 0);
	evlog lc = {0};
	drain(c, &lc);
	assert_int_equal(strlen(lc.v[0].ev.closed.reason), PL_LINK_MAX_REASON);
	pl_buf_reset(&rest);
	take_all(c, 0, &rest); /* CLOSE without HELLO: the peer accepts it */
	pl_link *d = mk_b(fresh);
	assert_int_equal(pl_link_recv(d, rest.data, rest.len, 0), 0);
	evlog ld = {0};
	drain(d, &ld);
	assert_int_equal(ld.n, 1);
	assert_string_equal(ld.v[0].ev.closed.reason, lc.v[0].ev.closed.reason);
	free(big);
	pl_buf_clear(&rest);
	evlog_free(&la);
	evlog_free(&lb);
	evlog_free(&lc);
	evlog_free(&ld);
	pl_link_free(a);
	pl_link_free(b);
	pl_link_free(c);
	pl_link_free(d);
}

/* ---------------------------------------------------------------- budgets and arguments */

static void test_budget(void **state)
{
	(void)state;
	pl_link *a = mk_cfg(node_a, sizeof(node_a) - 1, fresh, 0, 1000, 0);
	pl_link *b = mk_b(fresh);
	evlog la = {0}, lb = {0};
	handshake(a, b, &la, &lb);
	evlog_reset(&lb);
	uint8_t buf[5000];
	fill(buf, sizeof(buf), 5);
	assert_int_equal(pl_link_send_item(a, PL_LINK_LANE_ROUTINE, 1, 1, buf, 800), 0);
	assert_int_equal(pl_link_send_item(a, PL_LINK_LANE_ROUTINE, 2, 1, buf, 100),
			 PL_ERR_LIMIT); /* 864 + 164 > 1000 */
	assert_int_equal(pl_link_send_item(a, PL_LINK_LANE_ROUTINE, 2, 1, buf, 72), 0); /* = 1000 */
	assert_int_equal(pl_link_send_item(a, PL_LINK_LANE_ROUTINE, 3, 1, buf, 1), PL_ERR_LIMIT);
	/* Other lanes have their own budget; an empty lane takes any item. */
	assert_int_equal(pl_link_send_item(a, PL_LINK_LANE_FLASH, 1, 1, buf, 5000), 0);
	assert_int_equal(pl_link_send_item(a, PL_LINK_LANE_FLASH, 2, 1, buf, 1), PL_ERR_LIMIT);
	assert_int_equal(pl_link_queued_bytes(a, PL_LINK_LANE_ROUTINE), 872);
	assert_int_equal(pl_link_queued_bytes(a, PL_LINK_LANE_FLASH), 5000);
	assert_int_equal(pl_link_queued_bytes(a, -1), 5872);
	assert_int_equal(pl_link_queued_bytes(a, 5), 0);
	/* As output drains, the refused lseq is accepted. */
	pump(a, b, 0);
	assert_int_equal(pl_link_queued_bytes(a, -1), 0);
	assert_int_equal(pl_link_send_item(a, PL_LINK_LANE_ROUTINE, 3, 1, buf, 1), 0);
	pump(a, b, 0);
	drain(b, &lb);
	assert_int_equal(lb.n, 4);
	assert_item(&lb.v[0], PL_LINK_LANE_FLASH, 1, 1, buf, 5000);
	assert_item(&lb.v[3], PL_LINK_LANE_ROUTINE, 3, 1, buf, 1);
	evlog_free(&la);
	evlog_free(&lb);
	pl_link_free(a);
	pl_link_free(b);
}

static void test_arguments(void **state)
{
	(void)state;
	pl_link_config cfg = {0};
	pl_link *l = (pl_link *)&cfg; /* must be reset to NULL on failure */
	assert_int_equal(pl_link_new(&cfg, &l), PL_ERR_INVALID); /* no node record */
	assert_null(l);
	cfg.node_rec = node_a;
	cfg.node_rec_len = sizeof(node_a);
	assert_int_equal(pl_link_new(&cfg, &l), PL_ERR_INVALID); /* resume 0 */
	for (int i = 0; i < PL_LINK_LANES; i++)
		cfg.resume[i] = 1;
	cfg.resume[3] = PL_LINK_LSEQ_MAX + 2;
	assert_int_equal(pl_link_new(&cfg, &l), PL_ERR_INVALID);
	cfg.resume[3] = PL_LINK_LSEQ_MAX + 1;
	cfg.chunk = PL_LINK_MAX_CHUNK + 1;
	assert_int_equal(pl_link_new(&cfg, &l), PL_ERR_INVALID);
	cfg.chunk = PL_LINK_MAX_CHUNK;
	cfg.ping_interval_ms = 5000;
	cfg.dead_after_ms = 5000;
	assert_int_equal(pl_link_new(&cfg, &l), PL_ERR_INVALID);
	cfg.node_rec_len = PL_LINK_MAX_NODE_REC + 1;
	cfg.dead_after_ms = 0;
	assert_int_equal(pl_link_new(&cfg, &l), PL_ERR_INVALID);
	cfg.node_rec_len = sizeof(node_a);
	assert_int_equal(pl_link_new(NULL, &l), PL_ERR_INVALID);
	assert_null(l);
	assert_int_equal(pl_link_new(&cfg, NULL), PL_ERR_INVALID);
	assert_int_equal(pl_link_new(&cfg, &l), 0);
	assert_int_equal(pl_link_recv(l, NULL, 1, 0), PL_ERR_INVALID);
	assert_int_equal(pl_link_recv(l, NULL, 0, 0), 0);
	pl_link_free(l);

	/* Item arguments on an open link; a max resume point and a max chunk. */
	const uint64_t top[PL_LINK_LANES] = {1, 1, 1, 1, PL_LINK_LSEQ_MAX + 1};
	pl_link *a = mk_cfg(node_a, sizeof(node_a) - 1, fresh, PL_LINK_MAX_CHUNK, 0, 0);
	pl_link *b = mk_b(top);
	evlog la = {0}, lb = {0};
	handshake(a, b, &la, &lb);
	const uint8_t x = 'x';
	assert_int_equal(pl_link_send_item(a, (pl_link_lane)5, 1, 1, &x, 1), PL_ERR_INVALID);
	assert_int_equal(pl_link_send_item(a, (pl_link_lane)-1, 1, 1, &x, 1), PL_ERR_INVALID);
	assert_int_equal(pl_link_send_item(a, PL_LINK_LANE_FLASH, 1, 0, &x, 1), PL_ERR_INVALID);
	assert_int_equal(pl_link_send_item(a, PL_LINK_LANE_FLASH, 1, 1, &x, 0), PL_ERR_INVALID);
	assert_int_equal(pl_link_send_item(a, PL_LINK_LANE_FLASH, 1, 1, NULL, 1), PL_ERR_INVALID);
	assert_int_equal(pl_link_send_item(a, PL_LINK_LANE_FLASH, 0, 1, &x, 1), PL_ERR_SEQUENCE);
	assert_int_equal(pl_link_send_item(a, PL_LINK_LANE_FLASH, 2, 1, &x, 1), PL_ERR_SEQUENCE);
	assert_int_equal(pl_link_send_item(a, PL_LINK_LANE_ROUTINE, PL_LINK_LSEQ_MAX + 1, 1, &x, 1),
			 PL_ERR_SEQUENCE);
	/* The last possible lseq: B resumes after it, so it is a duplicate B drops. */
	assert_int_equal(
	    pl_link_send_item(a, PL_LINK_LANE_ROUTINE, PL_LINK_LSEQ_MAX, UINT32_MAX, &x, 1), 0);
	uint8_t big[3 * PL_LINK_MAX_CHUNK];
	fill(big, sizeof(big), 11);
	assert_int_equal(pl_link_send_item(a, PL_LINK_LANE_FLASH, 1, UINT32_MAX, big, sizeof(big)),
			 0);
	assert_int_equal(move1(a, b, 0) > PL_LINK_MAX_CHUNK, 1); /* a 32 KiB chunk */
	pump(a, b, 0);
	evlog_reset(&lb);
	drain(b, &lb);
	assert_int_equal(lb.n, 1);
	assert_item(&lb.v[0], PL_LINK_LANE_FLASH, 1, UINT32_MAX, big, sizeof(big));
	pl_link_stats st;
	pl_link_get_stats(b, &st);
	assert_int_equal(st.duplicates, 1);
	pl_link_get_stats(NULL, &st);
	assert_int_equal(st.rtt_ms, -1);
	assert_false(pl_link_next_event(NULL, NULL));
	assert_int_equal(pl_link_consume(NULL, 0), PL_ERR_INVALID);
	evlog_free(&la);
	evlog_free(&lb);
	pl_link_free(a);
	pl_link_free(b);
}

/* Arbitrary bytes: nothing but a CLOSED event, never a crash. */
static void test_garbage(void **state)
{
	(void)state;
	uint8_t junk[3000];
	for (uint32_t round = 0; round < 300; round++) {
		size_t n = 1 + round * 10 % sizeof(junk);
		fill(junk, n, round);
		if (round % 3 == 0) /* a plausible small length prefix */
			junk[0] = junk[1] = 0, junk[2] = (uint8_t)(round % 4);
		pl_link *b = mk_b(fresh);
		int rc = pl_link_recv(b, junk, n, 0);
		assert_true(rc == 0 || rc == PL_ERR_PROTOCOL || rc == PL_ERR_VERSION);
		evlog lb = {0};
		drain(b, &lb);
		for (size_t i = 0; i < lb.n; i++)
			assert_int_equal(lb.v[i].ev.type, PL_LINK_EV_CLOSED);
		assert_int_equal(lb.n, rc == 0 ? 0 : 1);
		pl_buf out = {0};
		take_all(b, 0, &out);
		pl_buf_clear(&out);
		evlog_free(&lb);
		pl_link_free(b);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_hello_known_answer),
	    cmocka_unit_test(test_other_known_answers),
	    cmocka_unit_test(test_handshake),
	    cmocka_unit_test(test_items_all_lanes),
	    cmocka_unit_test(test_lane_sets),
	    cmocka_unit_test(test_has_urgent),
	    cmocka_unit_test(test_chunked_1mib),
	    cmocka_unit_test(test_flash_overtakes_routine),
	    cmocka_unit_test(test_control_frames_before_data),
	    cmocka_unit_test(test_receipts),
	    cmocka_unit_test(test_resume_after_reconnect),
	    cmocka_unit_test(test_protocol_violations),
	    cmocka_unit_test(test_violation_after_items),
	    cmocka_unit_test(test_byte_at_a_time),
	    cmocka_unit_test(test_ping_and_dead_peer),
	    cmocka_unit_test(test_traffic_keeps_alive),
	    cmocka_unit_test(test_local_close),
	    cmocka_unit_test(test_budget),
	    cmocka_unit_test(test_arguments),
	    cmocka_unit_test(test_garbage),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
