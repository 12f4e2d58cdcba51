/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The node's durable state on top of lib/store: accepted envelopes and
 * their metadata, the per-channel log for paging, replay counters, the
 * per-peer per-lane outgoing queues and incoming resume points, delivery
 * states, and the latest charters and status lists.  Keys are chosen so
 * that ranges are queues (see docs/formats.md, "Node store").
 *
 * Every write belongs to the caller's transaction (nstore_begin/commit);
 * the core commits a batch, then acknowledges.  Nothing here verifies
 * anything: the core does that before it writes.
 */
#ifndef PARLEY_NODE_NSTORE_H
#define PARLEY_NODE_NSTORE_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "parley/crypto.h"
#include "parley/store.h"

#define NSTORE_LANES 5 /* lib/link lanes: 0 control, 1 FLASH .. 4 ROUTINE */

typedef struct nstore nstore;

/* What the node records about an accepted envelope. */
typedef struct nstore_meta {
	uint64_t pos;       /* position in this node's log (0, 1, 2, ...) */
	char ch[64];        /* channel */
	int lane;           /* 1 FLASH .. 4 ROUTINE */
	char state[64];     /* author's state */
	char author[64];    /* author's credential id */
	uint64_t seq;       /* author's sequence */
	int64_t at;         /* created (claimed by the author) */
	char kind[64];
	char origin[64];    /* "local" or the peer state it came from */
	int64_t received;   /* when this node accepted it */
} nstore_meta;

/* The schema version of the SQLite store this build writes (lib/store/sqlite:
 * its number of schema steps; unit/test_store and node/test_nstore hold it). */
#define NSTORE_SCHEMA 2

/* The schema version of the store at location, opened read-only and closed
 * again, into *version: to say before opening it read-write that the open
 * will upgrade it (a copy of every row: docs/formats.md).  Fails as a
 * read-only open does (no store there yet: PL_ERR_NOT_FOUND). */
int nstore_schema_of(const char *location, int *version);

int nstore_open(const char *location, nstore **out);
/* The same with an explicit lib/store backend (NULL: by location), e.g. a
 * wrapper that counts reads in tests. */
int nstore_open_with(const char *location, const pl_store_methods *methods, nstore **out);
void nstore_close(nstore *s);
/* The backend's own structure check (pl_store_check; thorough when full):
 * 0, or PL_ERR_CORRUPT with a detail.  node/check.c does the rest. */
int nstore_check_structure(nstore *s, bool full);
/* What the backend has done since the store was opened (pl_store_get_stats;
 * zeros from a backend without statistics). */
void nstore_backend_stats(nstore *s, pl_store_stats *out);
/* Deferred syncs (parley/store.h, version 5): pl_store_defer_sync,
 * pl_store_sync_state and pl_store_sync_wait on the node's store. */
int nstore_defer_sync(nstore *s, pl_store_synced_fn synced, void *arg);
void nstore_sync_state(nstore *s, pl_store_sync *out);
int nstore_sync_wait(nstore *s);
/* Which key layout the transcript's hashes have (node/tlog.c's to say;
 * 0 until it has looked). */
int nstore_tlog_layout(const nstore *s);
void nstore_tlog_layout_set(nstore *s, int layout);
/* The transcript's subtree hashes, as this handle last wrote or read
 * them (node/tlog.c keeps each it writes or reads; a hash not recalled is
 * read from the store), and its size (kind 115 "size": 0 when there is no
 * row; set in a transaction, written at its commit).  A rollback or a
 * failed commit forgets them. */
bool nstore_tlog_hash_recall(nstore *s, uint64_t level, uint64_t index, uint8_t h[PL_HASH_BYTES]);
void nstore_tlog_hash_keep(nstore *s, uint64_t level, uint64_t index,
			   const uint8_t h[PL_HASH_BYTES]);
int nstore_tlog_size(nstore *s, uint64_t *n);
int nstore_tlog_size_set(nstore *s, uint64_t n);
/* Whether the store was written before the night of 2026-11-27's keys by
 * position (it has delivery states of kind 107, written for every envelope
 * queued until then): only then are the older keys (kinds 107, 121 by id)
 * looked up at all.  One look per open store. */
bool nstore_has_old_keys(nstore *s);
int nstore_begin(nstore *s);
/* What the memory of envelopes indexed lately (nstore_env_index) has
 * answered (hits), sent to the store (misses) and holds. */
struct ecache_stats;
void nstore_cache_stats(nstore *s, struct ecache_stats *out);
int nstore_commit(nstore *s);
void nstore_rollback(nstore *s);

/* ---- envelopes (and other blobs, by id) */
/* An envelope is stored once, as its transcript entry (node/tlog.h: the
 * byte NSTORE_ENTRY_ENVELOPE, then the envelope), appended by the caller
 * at meta->pos first; this indexes it: its metadata by id (PL_ERR_EXISTS
 * for an id already held) and its channel-log row.  buf/len (the envelope
 * that hashes to id; NULL: none given) is kept in memory with the metadata
 * for the reads that follow (node/ecache.h), once the transaction commits. */
#define NSTORE_ENTRY_ENVELOPE 1
int nstore_env_index(nstore *s, const uint8_t id[PL_HASH_BYTES], const uint8_t *buf, size_t len,
		     const nstore_meta *meta);
/* Any output may be NULL.  PL_ERR_NOT_FOUND when absent; PL_ERR_CORRUPT
 * when the transcript entry its metadata names is missing or is not the
 * envelope (does not hash to id).  An envelope this handle indexed lately
 * is answered from memory, with the bytes and metadata it was indexed
 * with: damage to the store beneath is found by the reads that miss. */
int nstore_env_get(nstore *s, const uint8_t id[PL_HASH_BYTES], uint8_t **buf, size_t *len,
		   nstore_meta *meta);
/* The bytes of envelope id known to be at pos (nstore_item.pos): its
 * transcript entry, read without its metadata; PL_ERR_CORRUPT when that
 * entry is not envelope id.  From memory as nstore_env_get. */
int nstore_env_at(nstore *s, const uint8_t id[PL_HASH_BYTES], uint64_t pos, uint8_t **buf,
		  size_t *len);
int nstore_blob_put(nstore *s, const uint8_t id[PL_HASH_BYTES], const uint8_t *buf, size_t len);
int nstore_blob_get(nstore *s, const uint8_t id[PL_HASH_BYTES], uint8_t **buf, size_t *len);

/* ---- channel log: envelopes of ch with pos > after, ascending */
typedef int (*nstore_log_fn)(void *ctx, uint64_t pos, const uint8_t id[PL_HASH_BYTES]);
int nstore_chlog_walk(nstore *s, const char *ch, uint64_t after, bool have_after, size_t limit,
		      nstore_log_fn fn, void *ctx);

/* ---- replay state per (state, author, ch, lane): last seq and its id (0 if none).
 * Set in a transaction, the row is written once, at the commit (a batch
 * sets it for each envelope); reads see what was set. */
int nstore_seq_get(nstore *s, const char *state, const char *author, const char *ch, int lane,
		   uint64_t *seq, uint8_t last_id[PL_HASH_BYTES]);
int nstore_seq_set(nstore *s, const char *state, const char *author, const char *ch, int lane,
		   uint64_t seq, const uint8_t id[PL_HASH_BYTES]);

/* ---- outgoing queues: items for peer on lane, numbered by lseq from 1 */
#define NSTORE_NO_POS UINT64_MAX
/* An item of a queue: what it is (a lib/link kind), its id, and for an
 * envelope its position in this node's log, so that sending it and
 * marking it delivered read no metadata (NSTORE_NO_POS for a blob, and
 * for an envelope queued by a store written before positions were kept
 * with the items: look it up by id). */
typedef struct nstore_item {
	uint64_t lseq;
	int kind;
	uint8_t id[PL_HASH_BYTES];
	uint64_t pos;
} nstore_item;
int nstore_out_push(nstore *s, const char *peer, int lane, int kind,
		    const uint8_t id[PL_HASH_BYTES], uint64_t pos, uint64_t *lseq);
typedef int (*nstore_item_fn)(void *ctx, const nstore_item *it);
/* Items with lseq >= from, ascending, at most limit (0: all). */
int nstore_out_walk(nstore *s, const char *peer, int lane, uint64_t from, size_t limit,
		    nstore_item_fn fn, void *ctx);
/* Drop items with lseq <= upto; fn (may be NULL) sees each dropped item first.
 * Also records upto as the peer's acknowledged point when it is higher. */
int nstore_out_ack(nstore *s, const char *peer, int lane, uint64_t upto, nstore_item_fn fn,
		   void *ctx);
/* How many items are queued for peer on lane: one read (push, ack and
 * requeue keep the count with the last lseq), not a walk of the queue —
 * and none once this handle has read or written it: the position is kept
 * in memory until a transaction is rolled back (the node is its store's
 * only writer). */
int nstore_out_depth(nstore *s, const char *peer, int lane, uint64_t *n);
/* The peer holds items up to lseq that this store never assigned (this
 * store went back, e.g. restored from a backup): the next item gets
 * lseq + 1, not a number the peer would drop as already held.  No-op when
 * lseq is not above the last assigned. */
int nstore_out_skip(nstore *s, const char *peer, int lane, uint64_t lseq);
/* Highest lseq ever assigned for peer/lane (0 if none); from memory as
 * nstore_out_depth. */
int nstore_out_last(nstore *s, const char *peer, int lane, uint64_t *lseq);
/* The peer lost acknowledged items (its store went back): put the items it
 * acknowledged from lseq `from` on back in the queue, as far as they are
 * still kept (the last 65536 per peer and lane), and lower the acknowledged
 * point to from - 1.  *count (may be NULL) gets how many were put back. */
int nstore_out_requeue(nstore *s, const char *peer, int lane, uint64_t from, uint64_t *count);
/* Highest lseq the peer acknowledged on lane (receipts, HELLO), 0 if none. */
int nstore_out_acked(nstore *s, const char *peer, int lane, uint64_t *upto);

/* ---- incoming resume points: next lseq expected from peer on lane (1 if none);
 * written at the commit as the replay state is */
int nstore_in_next(nstore *s, const char *peer, int lane, uint64_t *next);
int nstore_in_set(nstore *s, const char *peer, int lane, uint64_t next);

/* ---- delivery states: "queued" or "delivered" (with time) per envelope and
 * peer, keyed by the envelope's position (its metadata's pos) rather than
 * its id, so that the rows of envelopes accepted together share pages. */
int nstore_deliv_set(nstore *s, uint64_t pos, const char *peer, const char *state, int64_t t);
typedef int (*nstore_deliv_fn)(void *ctx, const char *peer, const char *state, int64_t t);
/* The states of the envelope id at pos; a peer may be seen twice (a row of
 * a store written before, then the current one), the last is the latest. */
int nstore_deliv_walk(nstore *s, const uint8_t id[PL_HASH_BYTES], uint64_t pos,
		      nstore_deliv_fn fn, void *ctx);

/* ---- named objects: charters (by channel), status lists (by state), and
 * the transcript's records (node/tlog.c, node/witness.c; keys in nstore.c) */
enum {
	NSTORE_ENV = 100,   /* no longer written: envelopes are transcript entries */
	NSTORE_META = 101,
	NSTORE_CHLOG = 102,
	NSTORE_CHARTER = 109,
	NSTORE_STATUS = 110,
	NSTORE_TLOG_ENTRY = 113,
	NSTORE_TLOG_HASH = 114,
	NSTORE_TLOG_META = 115,
	NSTORE_TLOG_CP = 116,
	NSTORE_TLOG_COSIG = 117,
	NSTORE_TLOG_ORIGIN = 118,
	NSTORE_TLOG_WITNESS = 119,
	NSTORE_TLOG_THEIRS = 120,
	NSTORE_TLOG_SEEN = 121,
	NSTORE_TLOG_FROM = 122,
	NSTORE_TLOG_ALARM = 123,
	NSTORE_NODEREC = 125,
	/* officials' work (node/work.c, node/stmt.c; docs/formats.md) */
	NSTORE_REQUEST = 126, /* ch "/" hex(request id)  -> JSON: status, sides, history */
	NSTORE_STMT = 127,    /* ch "/" stmt             -> JSON: versions, signatures, adoption */
	NSTORE_ACKS = 128,    /* hex(id)                 -> JSON: reads and acks of an envelope */
	NSTORE_DUE = 129,     /* %020 due "/" hex(id)    -> JSON: escalation state of an unacked envelope */
	NSTORE_DUEIDX = 130,  /* hex(id)                 -> the NSTORE_DUE key it is filed under */
};
int nstore_obj_put(nstore *s, int kind, const char *name, const uint8_t *buf, size_t len);
/* PL_ERR_NOT_FOUND when absent. */
int nstore_obj_del(nstore *s, int kind, const char *name);
/* As put, but PL_ERR_EXISTS when name is already held (append-only records). */
int nstore_obj_put_new(nstore *s, int kind, const char *name, const uint8_t *buf, size_t len);
int nstore_obj_get(nstore *s, int kind, const char *name, uint8_t **buf, size_t *len);
/* A JSON object stored under kind/name: a new reference; NULL with *rc 0
 * when absent, NULL with *rc a pl_err on a store error or a value that is
 * not a JSON object (PL_ERR_MALFORMED). */
json_t *nstore_json_get(nstore *s, int kind, const char *name, int *rc);
/* Store j (consumed; NULL is PL_ERR_NOMEM) as compact JSON, keys sorted. */
int nstore_json_put(nstore *s, int kind, const char *name, json_t *j);
int nstore_obj_list(nstore *s, int kind, pl_store_list_cb fn, void *ctx);
/* Objects of kind with from <= name < to (to NULL: no bound), ascending, at
 * most limit (0: all); fn as for nstore_obj_list. */
int nstore_obj_range(nstore *s, int kind, const char *from, const char *to, size_t limit,
		     pl_store_list_cb fn, void *ctx);

/* ---- refusals of peer items, kept for operators */
int nstore_reject_put(nstore *s, const char *peer, int lane, uint64_t lseq, const char *reason);

#endif /* PARLEY_NODE_NSTORE_H */
