/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The envelopes a node indexed last, kept in memory: id -> bytes and
 * metadata.
 *
 * An envelope accepted now is read again within milliseconds — to send it
 * to each peer, to mark it delivered when the receipt comes, to check it
 * in the peer's next checkpoint — and each read from the store is two
 * lookups (its metadata by id, a random leaf of a B-tree; its transcript
 * entry), a JSON parse and a SHA-256 of the bytes.  node/nstore.c answers
 * those reads from here when it can (docs/performance.md).
 *
 * Content-addressed: an id is the SHA-256 of the envelope's bytes, so an
 * entry's bytes are never wrong.  Its metadata (the position in the log)
 * holds only once the transaction that wrote it commits: entries put since
 * the last ecache_commit() are dropped by ecache_rollback().  Dropping is
 * always safe (a miss reads the store); keeping what was rolled back is not.
 *
 * Bounded by a count and by bytes; the oldest go first.  Lookups hash the
 * id with a key drawn at random (multiply-shift), so ids chosen to share a
 * bucket cost their author a guess.  Not thread-safe (the event loop's).
 */
#ifndef PARLEY_NODE_ECACHE_H
#define PARLEY_NODE_ECACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nstore.h"

typedef struct ecache ecache;

typedef struct ecache_stats {
	uint64_t hits, misses; /* ecache_get */
	size_t entries, bytes; /* held now (bytes: the envelopes') */
} ecache_stats;

/* At most max_entries (1..1048576) entries and max_bytes of envelopes; an
 * envelope above a quarter of max_bytes is not kept.  NULL when out of
 * memory or a bound is out of range. */
ecache *ecache_new(size_t max_entries, size_t max_bytes);
void ecache_free(ecache *c); /* NULL-safe */

/* Keep a copy of envelope id (its bytes and metadata), pending until the
 * next ecache_commit().  An id already held, an envelope too large, or no
 * memory: nothing is kept (never an error: the store has it). */
void ecache_put(ecache *c, const uint8_t id[PL_HASH_BYTES], const uint8_t *buf, size_t len,
		const nstore_meta *meta);

/* Envelope id when held: *buf (malloc'd, the caller frees) and *len, and
 * *meta; any output may be NULL.  false when not held (or no memory for
 * the copy): read the store. */
bool ecache_get(ecache *c, const uint8_t id[PL_HASH_BYTES], uint8_t **buf, size_t *len,
		nstore_meta *meta);

/* The transaction committed: what was put since is kept. */
void ecache_commit(ecache *c);
/* The transaction was rolled back (or its commit failed): what was put
 * since the last commit is dropped. */
void ecache_rollback(ecache *c);

void ecache_get_stats(const ecache *c, ecache_stats *out);

#endif
