/* SPDX-License-Identifier: Apache-2.0 */
/*
 * node/nstore: queues, resume points, replay state, channel paging and
 * delivery states survive a reopen and behave as the core relies on.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "ecache.h"
#include "nstore.h"
#include "parley/channel.h"
#include "parley/err.h"
#include "parley/store.h"
#include "tlog.h"
#include "counting_store.h"

static char dir[512], path[600];

static int setup(void **state)
{
	(void)state;
	const char *base = getenv("PARLEY_TEST_TMP");
	snprintf(dir, sizeof(dir), "%s/nstore.XXXXXX", base && *base ? base : "/tmp");
	if (base && *base) {
		char cmd[600];
		snprintf(cmd, sizeof(cmd), "mkdir -p '%s'", base);
		if (system(cmd) != 0)
			return -1;
	}
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/node.db", dir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[700];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void mkid(uint8_t id[PL_HASH_BYTES], int n)
{
	memset(id, 0, PL_HASH_BYTES);
	id[0] = (uint8_t)n;
	id[31] = 0xaa;
}

struct seen {
	uint64_t lseq[16];
	int kind[16];
	uint8_t id[16][PL_HASH_BYTES];
	uint64_t pos[16];
	int n;
};

static int seen_cb(void *ctx, const nstore_item *it)
{
	struct seen *s = ctx;
	if (s->n < 16) {
		s->lseq[s->n] = it->lseq;
		s->kind[s->n] = it->kind;
		memcpy(s->id[s->n], it->id, PL_HASH_BYTES);
		s->pos[s->n] = it->pos;
	}
	s->n++;
	return 0;
}

/* nstore_schema_of: no store yet is PL_ERR_NOT_FOUND; a store this build
 * made is at NSTORE_SCHEMA, the version core.c compares to say that an open
 * will upgrade a store (the SQLite store's number of schema steps). */
static void test_schema_of(void **state)
{
	(void)state;
	int v = -1;
	assert_int_equal(nstore_schema_of(path, &v), PL_ERR_NOT_FOUND);
	nstore *s;
	assert_int_equal(nstore_open(path, &s), 0);
	nstore_close(s);
	assert_int_equal(nstore_schema_of(path, &v), 0);
	assert_int_equal(v, NSTORE_SCHEMA);
}

static void test_queues(void **state)
{
	(void)state;
	nstore *s;
	assert_int_equal(nstore_open(path, &s), 0);
	uint8_t id[PL_HASH_BYTES];
	assert_int_equal(nstore_begin(s), 0);
	for (int i = 1; i <= 12; i++) {
		uint64_t lseq;
		mkid(id, i);
		assert_int_equal(nstore_out_push(s, "islamabad", 4, 1, id, NSTORE_NO_POS, &lseq),
				 0);
		assert_int_equal(lseq, (uint64_t)i);
	}
	mkid(id, 99);
	assert_int_equal(nstore_out_push(s, "islamabad", 1, 1, id, NSTORE_NO_POS, NULL), 0);
	assert_int_equal(nstore_commit(s), 0);
	nstore_close(s);

	/* survives a reopen; lanes and peers are separate; order is numeric (10 after 9) */
	assert_int_equal(nstore_open(path, &s), 0);
	uint64_t depth;
	assert_int_equal(nstore_out_depth(s, "islamabad", 4, &depth), 0);
	assert_int_equal(depth, 12);
	assert_int_equal(nstore_out_depth(s, "islamabad", 1, &depth), 0);
	assert_int_equal(depth, 1);
	assert_int_equal(nstore_out_depth(s, "kabul", 4, &depth), 0);
	assert_int_equal(depth, 0);
	struct seen w = {0};
	assert_int_equal(nstore_out_walk(s, "islamabad", 4, 9, 0, seen_cb, &w), 0);
	assert_int_equal(w.n, 4);
	assert_int_equal(w.lseq[0], 9);
	assert_int_equal(w.lseq[1], 10);
	assert_int_equal(w.id[1][0], 10);
	struct seen lim = {0};
	assert_int_equal(nstore_out_walk(s, "islamabad", 4, 1, 3, seen_cb, &lim), 0);
	assert_int_equal(lim.n, 3);

	/* a cumulative receipt drops exactly the items up to it, reporting each */
	struct seen acked = {0};
	assert_int_equal(nstore_out_ack(s, "islamabad", 4, 10, seen_cb, &acked), 0);
	assert_int_equal(acked.n, 10);
	assert_int_equal(acked.lseq[9], 10);
	assert_int_equal(nstore_out_depth(s, "islamabad", 4, &depth), 0);
	assert_int_equal(depth, 2);
	/* numbering continues after acks and reopen */
	uint64_t last, lseq;
	assert_int_equal(nstore_out_last(s, "islamabad", 4, &last), 0);
	assert_int_equal(last, 12);
	mkid(id, 13);
	assert_int_equal(nstore_out_push(s, "islamabad", 4, 1, id, NSTORE_NO_POS, &lseq), 0);
	assert_int_equal(lseq, 13);
	nstore_close(s);
}

/* The store's own kinds (docs/formats.md, "Node store"). */
enum { KIND_OUTQ = 104, KIND_OUTSEQ = 105 };

/* Write (val) or delete (NULL) one row behind nstore's back. */
static void raw_set(uint32_t kind, const char *key, const char *val)
{
	pl_store *st;
	assert_int_equal(pl_store_open(path, 0, NULL, &st), 0);
	if (val)
		assert_int_equal(
		    pl_store_put(st, kind, key, (const uint8_t *)val, strlen(val), 0), 0);
	else
		assert_int_equal(pl_store_del(st, kind, key), 0);
	pl_store_close(st);
}

static uint64_t depth_of(nstore *s, int lane)
{
	uint64_t d = 99;
	assert_int_equal(nstore_out_depth(s, "islamabad", lane, &d), 0);
	return d;
}

/*
 * The depth is a count kept with the queue's last lseq, not a walk: a
 * /metrics scrape with a million queued must not read a million rows in
 * the event loop.  Rows taken out behind nstore's back do not change it
 * (a walk would see them gone); a store written before the count existed
 * ("<lseq>" alone) is counted once, and push, ack, requeue and skip keep
 * the count right from there.
 */
static void test_queue_depth_is_kept(void **state)
{
	(void)state;
	nstore *s;
	uint8_t id[PL_HASH_BYTES];
	assert_int_equal(nstore_open(path, &s), 0);
	assert_int_equal(nstore_begin(s), 0);
	for (int i = 1; i <= 5; i++) {
		mkid(id, i);
		assert_int_equal(nstore_out_push(s, "islamabad", 4, 1, id, NSTORE_NO_POS, NULL), 0);
	}
	assert_int_equal(nstore_commit(s), 0);
	assert_int_equal(depth_of(s, 4), 5);
	nstore_close(s);

	/* one row gone behind its back: the kept count does not walk to see it */
	raw_set(KIND_OUTQ, "islamabad/4/00000000000000000003", NULL);
	assert_int_equal(nstore_open(path, &s), 0);
	assert_int_equal(depth_of(s, 4), 5);
	nstore_close(s);

	/* an old store's position: counted (4 rows), then kept */
	raw_set(KIND_OUTSEQ, "islamabad/4", "5");
	assert_int_equal(nstore_open(path, &s), 0);
	assert_int_equal(depth_of(s, 4), 4);
	uint64_t last;
	assert_int_equal(nstore_out_last(s, "islamabad", 4, &last), 0);
	assert_int_equal(last, 5);
	assert_int_equal(nstore_begin(s), 0);
	mkid(id, 6);
	assert_int_equal(nstore_out_push(s, "islamabad", 4, 1, id, NSTORE_NO_POS, NULL), 0);
	assert_int_equal(nstore_commit(s), 0);
	assert_int_equal(depth_of(s, 4), 5);
	nstore_close(s);
	raw_set(KIND_OUTQ, "islamabad/4/00000000000000000006", NULL);
	assert_int_equal(nstore_open(path, &s), 0);
	assert_int_equal(depth_of(s, 4), 5); /* kept since the push */

	/* ack: lseq 1, 2 and 4 are queued up to 4 (3 was taken out above) */
	assert_int_equal(nstore_begin(s), 0);
	assert_int_equal(nstore_out_ack(s, "islamabad", 4, 4, NULL, NULL), 0);
	assert_int_equal(nstore_commit(s), 0);
	assert_int_equal(depth_of(s, 4), 2);
	/* a receipt that drops nothing changes nothing */
	assert_int_equal(nstore_begin(s), 0);
	assert_int_equal(nstore_out_ack(s, "islamabad", 4, 4, NULL, NULL), 0);
	assert_int_equal(nstore_commit(s), 0);
	assert_int_equal(depth_of(s, 4), 2);
	/* requeue from 2: the acknowledged 2 and 4 come back */
	uint64_t back = 0;
	assert_int_equal(nstore_begin(s), 0);
	assert_int_equal(nstore_out_requeue(s, "islamabad", 4, 2, &back), 0);
	assert_int_equal(nstore_commit(s), 0);
	assert_int_equal(back, 2);
	assert_int_equal(depth_of(s, 4), 4);
	/* skip moves the numbering, not the count */
	assert_int_equal(nstore_begin(s), 0);
	assert_int_equal(nstore_out_skip(s, "islamabad", 4, 40), 0);
	mkid(id, 41);
	uint64_t lseq = 0;
	assert_int_equal(nstore_out_push(s, "islamabad", 4, 1, id, NSTORE_NO_POS, &lseq), 0);
	assert_int_equal(nstore_commit(s), 0);
	assert_int_equal(lseq, 41);
	assert_int_equal(depth_of(s, 4), 5);
	/* a rolled-back push leaves the count as it was */
	assert_int_equal(nstore_begin(s), 0);
	mkid(id, 42);
	assert_int_equal(nstore_out_push(s, "islamabad", 4, 1, id, NSTORE_NO_POS, NULL), 0);
	assert_int_equal(depth_of(s, 4), 6);
	nstore_rollback(s);
	assert_int_equal(depth_of(s, 4), 5);
	/* the other lanes are their own */
	assert_int_equal(depth_of(s, 3), 0);
	nstore_close(s);

	/* a damaged position is refused, not read as a count */
	raw_set(KIND_OUTSEQ, "islamabad/4", "41 x");
	assert_int_equal(nstore_open(path, &s), 0);
	uint64_t d;
	assert_int_equal(nstore_out_depth(s, "islamabad", 4, &d), PL_ERR_MALFORMED);
	raw_set(KIND_OUTSEQ, "islamabad/4", "41 42");
	assert_int_equal(nstore_out_depth(s, "islamabad", 4, &d), PL_ERR_MALFORMED);
	nstore_close(s);
}

static void test_resume_and_replay(void **state)
{
	(void)state;
	nstore *s;
	assert_int_equal(nstore_open(path, &s), 0);
	uint64_t next, seq;
	uint8_t id[PL_HASH_BYTES], got[PL_HASH_BYTES];
	assert_int_equal(nstore_in_next(s, "tehran", 2, &next), 0);
	assert_int_equal(next, 1);
	assert_int_equal(nstore_in_set(s, "tehran", 2, 42), 0);
	assert_int_equal(nstore_seq_get(s, "tehran", "amb", "fm", 1, &seq, got), 0);
	assert_int_equal(seq, 0);
	mkid(id, 7);
	assert_int_equal(nstore_seq_set(s, "tehran", "amb", "fm", 1, 5, id), 0);
	nstore_close(s);
	assert_int_equal(nstore_open(path, &s), 0);
	assert_int_equal(nstore_in_next(s, "tehran", 2, &next), 0);
	assert_int_equal(next, 42);
	assert_int_equal(nstore_seq_get(s, "tehran", "amb", "fm", 1, &seq, got), 0);
	assert_int_equal(seq, 5);
	assert_memory_equal(got, id, PL_HASH_BYTES);
	assert_int_equal(nstore_seq_get(s, "tehran", "amb", "fm", 2, &seq, got), 0);
	assert_int_equal(seq, 0);
	nstore_close(s);
}

struct logw {
	uint64_t pos[16];
	uint8_t id[16][PL_HASH_BYTES];
	int n;
};

static int log_cb(void *ctx, uint64_t pos, const uint8_t id[PL_HASH_BYTES])
{
	struct logw *w = ctx;
	if (w->n < 16) {
		w->pos[w->n] = pos;
		memcpy(w->id[w->n], id, PL_HASH_BYTES);
	}
	w->n++;
	return 0;
}

static int count_cb(void *ctx, const char *key, const uint8_t *v, size_t n)
{
	(void)key;
	(void)v;
	(void)n;
	(*(int *)ctx)++;
	return 0;
}

/* Envelope i's bytes, id, and its transcript entry appended (as the node
 * does before indexing it). */
static void put_env(nstore *s, int i, uint8_t id[PL_HASH_BYTES], nstore_meta *m)
{
	const uint8_t body[] = {1, 2, 3, (uint8_t)i};
	pl_env_id(id, body, sizeof(body));
	assert_int_equal(tlog_append(s, TLOG_ENVELOPE, body, sizeof(body), &m->pos), 0);
	assert_int_equal(nstore_env_index(s, id, body, sizeof(body), m), 0);
}

static void test_envelopes_and_paging(void **state)
{
	(void)state;
	nstore *s;
	assert_int_equal(nstore_open(path, &s), 0);
	uint8_t id[PL_HASH_BYTES], ids[6][PL_HASH_BYTES];
	for (int i = 0; i < 6; i++) {
		nstore_meta m = {.lane = 4, .seq = (uint64_t)i + 1, .at = 100, .received = 101};
		strcpy(m.ch, i % 2 ? "border" : "fm");
		strcpy(m.state, "tehran");
		strcpy(m.author, "amb");
		strcpy(m.kind, "message");
		strcpy(m.origin, "local");
		put_env(s, i, ids[i], &m);
		assert_int_equal(m.pos, (uint64_t)i);
	}
	/* the same id twice is refused, not duplicated */
	nstore_meta again = {.lane = 4, .pos = 9};
	strcpy(again.ch, "fm");
	assert_int_equal(nstore_env_index(s, ids[5], NULL, 0, &again), PL_ERR_EXISTS);
	/* the bytes are stored once: as the transcript entry, no envelope row */
	int rows = 0;
	assert_int_equal(nstore_obj_list(s, NSTORE_ENV, count_cb, &rows), 0);
	assert_int_equal(rows, 0);

	nstore_meta m;
	uint8_t *buf;
	size_t len;
	assert_int_equal(nstore_env_get(s, ids[3], &buf, &len, &m), 0);
	assert_int_equal(len, 4);
	assert_int_equal(buf[3], 3);
	free(buf);
	assert_string_equal(m.ch, "border");
	assert_int_equal(m.seq, 4);
	assert_int_equal(m.pos, 3);
	assert_int_equal(nstore_env_get(s, ids[3], NULL, NULL, NULL), 0);
	mkid(id, 77);
	assert_int_equal(nstore_env_get(s, id, NULL, NULL, &m), PL_ERR_NOT_FOUND);
	assert_int_equal(nstore_env_get(s, id, NULL, NULL, NULL), PL_ERR_NOT_FOUND);

	/* paging the "fm" channel: positions 0, 2, 4; cursor after 0 gives 2, 4 */
	struct logw w = {0};
	assert_int_equal(nstore_chlog_walk(s, "fm", 0, false, 0, log_cb, &w), 0);
	assert_int_equal(w.n, 3);
	assert_int_equal(w.pos[2], 4);
	assert_memory_equal(w.id[2], ids[4], PL_HASH_BYTES);
	struct logw w2 = {0};
	assert_int_equal(nstore_chlog_walk(s, "fm", 0, true, 1, log_cb, &w2), 0);
	assert_int_equal(w2.n, 1);
	assert_int_equal(w2.pos[0], 2);

	/* A transcript entry that is not the envelope its metadata names (a
	 * forked or rewritten transcript), or none at all: a damaged store,
	 * never another envelope's bytes.  (Damage is found by a read from the
	 * store: a new handle, without the memory of what was indexed.) */
	nstore_close(s);
	assert_int_equal(nstore_open(path, &s), 0);
	const uint8_t other[] = {9, 9, 9};
	assert_int_equal(nstore_obj_put(s, NSTORE_TLOG_ENTRY, "00000000000000000002", other,
					sizeof(other)),
			 0);
	assert_int_equal(nstore_env_get(s, ids[2], &buf, &len, NULL), PL_ERR_CORRUPT);
	assert_non_null(strstr(pl_err_detail(), "is not envelope"));
	assert_int_equal(nstore_env_get(s, ids[2], NULL, NULL, &m), 0); /* the index alone */
	assert_int_equal(nstore_obj_del(s, NSTORE_TLOG_ENTRY, "00000000000000000004"), 0);
	assert_int_equal(nstore_env_get(s, ids[4], &buf, &len, NULL), PL_ERR_CORRUPT);
	assert_non_null(strstr(pl_err_detail(), "no transcript entry"));
	nstore_close(s);
}

/* ---- reads that reach the store */

static nstore *open_counting(void)
{
	return open_counting_at(path);
}

/*
 * A queue's position (its last lseq and the items queued) is read once and
 * then kept in memory with every write of it, so that a push, or a pump
 * asking whether anything follows what it sent, reads nothing; a rollback
 * forgets it (the next read asks the store).
 */
static void test_queue_positions_in_memory(void **state)
{
	(void)state;
	nstore *s = open_counting();
	uint8_t id[PL_HASH_BYTES];
	assert_int_equal(nstore_begin(s), 0);
	for (int i = 1; i <= 3; i++) {
		mkid(id, i);
		assert_int_equal(nstore_out_push(s, "islamabad", 4, 1, id, NSTORE_NO_POS, NULL), 0);
	}
	assert_int_equal(nstore_commit(s), 0);
	reads = 0;
	uint64_t last = 0;
	assert_int_equal(depth_of(s, 4), 3);
	assert_int_equal(nstore_out_last(s, "islamabad", 4, &last), 0);
	assert_int_equal(last, 3);
	assert_int_equal(nstore_begin(s), 0);
	mkid(id, 4);
	assert_int_equal(nstore_out_push(s, "islamabad", 4, 1, id, NSTORE_NO_POS, NULL), 0);
	assert_int_equal(depth_of(s, 4), 4);
	assert_int_equal(reads, 0);
	nstore_rollback(s);
	assert_int_equal(depth_of(s, 4), 3); /* asked of the store again */
	assert_int_equal(nstore_out_last(s, "islamabad", 4, &last), 0);
	assert_int_equal(last, 3);
	assert_true(reads > 0);
	nstore_close(s);

	s = open_counting();
	reads = 0;
	assert_int_equal(depth_of(s, 4), 3);
	unsigned long first = reads;
	assert_true(first > 0);
	assert_int_equal(depth_of(s, 4), 3);
	assert_int_equal(nstore_out_last(s, "islamabad", 4, &last), 0);
	assert_int_equal(reads, first);
	nstore_close(s);
}

/*
 * Each push rewrites its queue's position (kind 105): in a transaction the
 * row is written once, at the commit, and read back meanwhile as set; a
 * rollback leaves the store's.
 */
static void test_queue_position_written_at_commit(void **state)
{
	(void)state;
	nstore *s = open_counting();
	uint8_t id[PL_HASH_BYTES];
	uint64_t last = 0;
	assert_int_equal(nstore_begin(s), 0);
	writes = 0;
	for (int i = 1; i <= 30; i++) {
		mkid(id, i);
		assert_int_equal(nstore_out_push(s, "islamabad", 4, 1, id, (uint64_t)i, NULL), 0);
	}
	assert_int_equal(writes, 30); /* the items alone */
	assert_int_equal(depth_of(s, 4), 30);
	assert_int_equal(nstore_out_last(s, "islamabad", 4, &last), 0);
	assert_int_equal(last, 30);
	assert_int_equal(nstore_commit(s), 0);
	assert_int_equal(writes, 31);
	/* a rolled-back push: the store's position again */
	assert_int_equal(nstore_begin(s), 0);
	mkid(id, 31);
	assert_int_equal(nstore_out_push(s, "islamabad", 4, 1, id, 31, NULL), 0);
	nstore_rollback(s);
	assert_int_equal(depth_of(s, 4), 30);
	nstore_close(s);
	s = open_counting();
	assert_int_equal(depth_of(s, 4), 30);
	assert_int_equal(nstore_out_last(s, "islamabad", 4, &last), 0);
	assert_int_equal(last, 30);
	nstore_close(s);
}

/*
 * A peer's items set the incoming resume point one by one, and each
 * envelope its author's replay state; in a transaction each row is written
 * once, at the commit, and read back meanwhile as set; a rollback leaves
 * the store's.
 */
static void test_rows_written_at_commit(void **state)
{
	(void)state;
	nstore *s = open_counting();
	uint64_t next = 0;
	assert_int_equal(nstore_in_set(s, "islamabad", 4, 5), 0); /* no transaction: written */
	assert_int_equal(nstore_begin(s), 0);
	writes = reads = 0;
	for (uint64_t l = 5; l < 55; l++)
		assert_int_equal(nstore_in_set(s, "islamabad", 4, l + 1), 0);
	assert_int_equal(nstore_in_set(s, "islamabad", 1, 3), 0);
	assert_int_equal(nstore_in_next(s, "islamabad", 4, &next), 0);
	assert_int_equal(next, 55);
	uint8_t id[PL_HASH_BYTES], got[PL_HASH_BYTES];
	uint64_t seq = 0;
	for (int i = 1; i <= 20; i++) {
		mkid(id, i);
		assert_int_equal(nstore_seq_set(s, "tehran", "amb", "fm", 4, (uint64_t)i, id), 0);
		assert_int_equal(nstore_seq_get(s, "tehran", "amb", "fm", 4, &seq, got), 0);
		assert_int_equal(seq, (uint64_t)i);
		assert_memory_equal(got, id, PL_HASH_BYTES);
	}
	assert_int_equal(writes + reads, 0);
	assert_int_equal(nstore_commit(s), 0);
	assert_int_equal(writes, 3); /* one per row */
	assert_int_equal(nstore_begin(s), 0);
	assert_int_equal(nstore_in_set(s, "islamabad", 4, 90), 0);
	mkid(id, 99);
	assert_int_equal(nstore_seq_set(s, "tehran", "amb", "fm", 4, 99, id), 0);
	nstore_rollback(s);
	assert_int_equal(nstore_in_next(s, "islamabad", 4, &next), 0);
	assert_int_equal(next, 55);
	assert_int_equal(nstore_seq_get(s, "tehran", "amb", "fm", 4, &seq, got), 0);
	assert_int_equal(seq, 20);
	nstore_close(s);
	s = open_counting();
	assert_int_equal(nstore_in_next(s, "islamabad", 4, &next), 0);
	assert_int_equal(next, 55);
	assert_int_equal(nstore_in_next(s, "islamabad", 1, &next), 0);
	assert_int_equal(next, 3);
	assert_int_equal(nstore_in_next(s, "islamabad", 3, &next), 0);
	assert_int_equal(next, 1);
	assert_int_equal(nstore_seq_get(s, "tehran", "amb", "fm", 4, &seq, got), 0);
	assert_int_equal(seq, 20);
	mkid(id, 20);
	assert_memory_equal(got, id, PL_HASH_BYTES);
	nstore_close(s);
}

/*
 * An envelope indexed by this handle is read back from memory (node/ecache.h)
 * once its transaction committed — the sends, receipts and checkpoints
 * that follow it need no read of the store — and one whose transaction was
 * rolled back is not: it is not in the store, and its position may be
 * another's next.
 */
static void test_envelope_memory(void **state)
{
	(void)state;
	nstore *s = open_counting();
	uint8_t ids[4][PL_HASH_BYTES];
	nstore_meta m = {.lane = 4, .seq = 1, .at = 100, .received = 101};
	strcpy(m.ch, "fm");
	strcpy(m.origin, "local");

	assert_int_equal(nstore_begin(s), 0);
	put_env(s, 0, ids[0], &m);
	put_env(s, 1, ids[1], &m);
	assert_int_equal(nstore_commit(s), 0);
	reads = 0;
	uint8_t *buf = NULL;
	size_t len = 0;
	nstore_meta got;
	assert_int_equal(nstore_env_get(s, ids[1], &buf, &len, &got), 0);
	assert_int_equal(len, 4);
	assert_int_equal(buf[3], 1);
	assert_int_equal(got.pos, 1);
	assert_string_equal(got.ch, "fm");
	free(buf);
	assert_int_equal(nstore_env_get(s, ids[0], NULL, NULL, &got), 0);
	assert_int_equal(got.pos, 0);
	assert_int_equal(reads, 0);

	/* rolled back: asked of the store, which has not got it */
	assert_int_equal(nstore_begin(s), 0);
	put_env(s, 2, ids[2], &m);
	nstore_rollback(s);
	assert_int_equal(nstore_env_get(s, ids[2], NULL, NULL, &got), PL_ERR_NOT_FOUND);
	assert_true(reads > 0);

	/* written outside a transaction: committed at once, remembered */
	put_env(s, 3, ids[3], &m);
	assert_int_equal(m.pos, 2); /* the rolled-back one's position */
	reads = 0;
	assert_int_equal(nstore_env_get(s, ids[3], &buf, &len, &got), 0);
	assert_int_equal(buf[3], 3);
	assert_int_equal(got.pos, 2);
	free(buf);
	assert_int_equal(reads, 0);
	ecache_stats st;
	nstore_cache_stats(s, &st);
	assert_int_equal(st.entries, 3);
	assert_int_equal(st.hits, 3);
	nstore_close(s);

	/* a new handle reads the store, and finds the same */
	s = open_counting();
	reads = 0;
	assert_int_equal(nstore_env_get(s, ids[3], &buf, &len, &got), 0);
	assert_int_equal(buf[3], 3);
	assert_int_equal(got.pos, 2);
	free(buf);
	assert_true(reads >= 2);
	nstore_close(s);
}

/*
 * An envelope's item carries the envelope's position, so that the pump
 * reads its bytes with one read (nstore_env_at: no metadata) and the ack
 * marks it delivered with none; the position goes with the item into the
 * kept acknowledged items and back into the queue.  A blob's item, and an
 * envelope's queued by an older store ("<kind> <hex id>"), have none.
 */
static void test_queue_items_keep_positions(void **state)
{
	(void)state;
	nstore *s = open_counting();
	uint8_t ids[3][PL_HASH_BYTES], blob[PL_HASH_BYTES];
	nstore_meta m = {.lane = 4, .seq = 1, .at = 100, .received = 101};
	strcpy(m.ch, "fm");
	strcpy(m.origin, "local");
	uint64_t pos[3];
	assert_int_equal(nstore_begin(s), 0);
	for (int i = 0; i < 3; i++) {
		put_env(s, 10 + i, ids[i], &m);
		pos[i] = m.pos;
	}
	assert_int_equal(nstore_out_push(s, "islamabad", 4, 1, ids[0], pos[0], NULL), 0);
	assert_int_equal(nstore_out_push(s, "islamabad", 4, 1, ids[1], pos[1], NULL), 0);
	mkid(blob, 7);
	assert_int_equal(nstore_out_push(s, "islamabad", 4, 9, blob, NSTORE_NO_POS, NULL), 0);
	assert_int_equal(nstore_commit(s), 0);
	nstore_close(s);
	/* an older store's item for the third */
	char hx[2 * PL_HASH_BYTES + 1], val[128];
	pl_hex_encode(hx, ids[2], PL_HASH_BYTES);
	snprintf(val, sizeof(val), "1 %s", hx);
	raw_set(KIND_OUTQ, "islamabad/4/00000000000000000004", val);
	raw_set(KIND_OUTSEQ, "islamabad/4", "4 4");

	s = open_counting(); /* nothing in memory */
	struct seen w = {0};
	assert_int_equal(nstore_out_walk(s, "islamabad", 4, 1, 0, seen_cb, &w), 0);
	assert_int_equal(w.n, 4);
	assert_true(w.pos[0] == pos[0] && w.pos[1] == pos[1]);
	assert_true(pos[1] != pos[0]);
	assert_true(w.pos[2] == NSTORE_NO_POS && w.kind[2] == 9);
	assert_true(w.pos[3] == NSTORE_NO_POS);
	assert_memory_equal(w.id[3], ids[2], PL_HASH_BYTES);

	/* by position: one read (the entry), where by id it takes two */
	uint8_t *buf = NULL;
	size_t len = 0;
	reads = 0;
	assert_int_equal(nstore_env_at(s, ids[1], pos[1], &buf, &len), 0);
	assert_int_equal(reads, 1);
	assert_int_equal(len, 4);
	assert_int_equal(buf[3], 11);
	free(buf);
	reads = 0;
	assert_int_equal(nstore_env_get(s, ids[1], &buf, &len, NULL), 0);
	assert_int_equal(reads, 2);
	free(buf);
	/* a position that is not the envelope's is a damaged store */
	assert_int_equal(nstore_env_at(s, ids[1], pos[0], &buf, &len), PL_ERR_CORRUPT);
	assert_int_equal(nstore_env_at(s, ids[1], 99, &buf, &len), PL_ERR_CORRUPT);

	/* acknowledged, kept, put back: the positions go along */
	struct seen acked = {0};
	assert_int_equal(nstore_begin(s), 0);
	assert_int_equal(nstore_out_ack(s, "islamabad", 4, 4, seen_cb, &acked), 0);
	assert_int_equal(nstore_commit(s), 0);
	assert_int_equal(acked.n, 4);
	assert_true(acked.pos[0] == pos[0] && acked.pos[1] == pos[1]);
	assert_true(acked.pos[2] == NSTORE_NO_POS && acked.pos[3] == NSTORE_NO_POS);
	uint64_t back = 0;
	assert_int_equal(nstore_begin(s), 0);
	assert_int_equal(nstore_out_requeue(s, "islamabad", 4, 1, &back), 0);
	assert_int_equal(nstore_commit(s), 0);
	assert_int_equal(back, 4);
	struct seen again = {0};
	assert_int_equal(nstore_out_walk(s, "islamabad", 4, 1, 0, seen_cb, &again), 0);
	assert_int_equal(again.n, 4);
	assert_true(again.pos[0] == pos[0] && again.pos[1] == pos[1]);
	assert_true(again.pos[2] == NSTORE_NO_POS && again.pos[3] == NSTORE_NO_POS);
	nstore_close(s);

	/* a damaged position is refused, not read as some other */
	const char *bad[] = {" x", " 5x", " 5 ", " 18446744073709551615", " -1", " "};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(val, sizeof(val), "1 %s%s", hx, bad[i]);
		raw_set(KIND_OUTQ, "islamabad/4/00000000000000000004", val);
		assert_int_equal(nstore_open(path, &s), 0);
		struct seen b = {0};
		assert_int_equal(nstore_out_walk(s, "islamabad", 4, 1, 0, seen_cb, &b),
				 PL_ERR_MALFORMED);
		nstore_close(s);
	}
}

struct dw {
	char peer[4][64];
	char st[4][32];
	int n;
};

static int deliv_cb(void *ctx, const char *peer, const char *st, int64_t t)
{
	struct dw *w = ctx;
	snprintf(w->peer[w->n], 64, "%s", peer);
	snprintf(w->st[w->n], 32, "%s", st);
	assert_true(t > 0);
	w->n++;
	return 0;
}

struct keys {
	char key[4][64];
	int n;
};

static int key_cb(void *ctx, const char *key, const uint8_t *v, size_t n)
{
	(void)v;
	(void)n;
	struct keys *k = ctx;
	if (k->n < 4)
		snprintf(k->key[k->n], 64, "%s", key);
	k->n++;
	return 0;
}

static void test_delivery_states(void **state)
{
	(void)state;
	nstore *s;
	assert_int_equal(nstore_open(path, &s), 0);
	uint8_t id[PL_HASH_BYTES], other[PL_HASH_BYTES];
	mkid(id, 1);
	mkid(other, 2);
	assert_int_equal(nstore_deliv_set(s, 7, "islamabad", "queued", 10), 0);
	assert_int_equal(nstore_deliv_set(s, 7, "kabul", "queued", 10), 0);
	assert_int_equal(nstore_deliv_set(s, 8, "islamabad", "queued", 11), 0);
	assert_int_equal(nstore_deliv_set(s, 7, "islamabad", "delivered", 12), 0);
	struct dw w = {0};
	assert_int_equal(nstore_deliv_walk(s, id, 7, deliv_cb, &w), 0);
	assert_int_equal(w.n, 2);
	assert_string_equal(w.peer[0], "islamabad");
	assert_string_equal(w.st[0], "delivered");
	assert_string_equal(w.st[1], "queued");
	/* Rows are keyed by position, not by the (random) id: the rows of
	 * envelopes accepted one after the other are neighbours. */
	struct keys k = {0};
	assert_int_equal(nstore_obj_list(s, 132, key_cb, &k), 0);
	assert_int_equal(k.n, 3);
	assert_string_equal(k.key[0], "00000000000000000007/islamabad");
	assert_string_equal(k.key[2], "00000000000000000008/islamabad");
	/* A store written before has the row of id under kind 107; a later
	 * state under 132 comes after it, so it is the one kept. */
	char hx[2 * PL_HASH_BYTES + 1], key[128];
	pl_hex_encode(hx, other, PL_HASH_BYTES);
	snprintf(key, sizeof(key), "%s/islamabad", hx);
	assert_int_equal(nstore_obj_put(s, 107, key, (const uint8_t *)"queued 5", 8), 0);
	nstore_close(s); /* whether it has old rows is looked up once per open */
	assert_int_equal(nstore_open(path, &s), 0);
	struct dw w2 = {0};
	assert_int_equal(nstore_deliv_walk(s, other, 9, deliv_cb, &w2), 0);
	assert_int_equal(w2.n, 1);
	assert_string_equal(w2.st[0], "queued");
	assert_int_equal(nstore_deliv_set(s, 9, "islamabad", "delivered", 13), 0);
	struct dw w3 = {0};
	assert_int_equal(nstore_deliv_walk(s, other, 9, deliv_cb, &w3), 0);
	assert_int_equal(w3.n, 2);
	assert_string_equal(w3.st[1], "delivered");
	nstore_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_schema_of, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_queues, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_queue_depth_is_kept, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_resume_and_replay, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_envelopes_and_paging, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_envelope_memory, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_queue_positions_in_memory, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_queue_position_written_at_commit, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rows_written_at_commit, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_delivery_states, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_queue_items_keep_positions, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
