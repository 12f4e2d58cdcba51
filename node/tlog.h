/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The node's transcript as stored: an append-only RFC 9162 Merkle log on
 * the node store (node/nstore.h).  Each entry is one byte of type followed
 * by the object's bytes; its leaf hash is SHA-256(0x00 || entry).  Next to
 * every entry the log stores, level by level, the hash of every perfect
 * subtree the entry completes, so that the root at any size, an inclusion
 * proof and a consistency proof read O(log n) rows (they run
 * lib/transcript's provers over those rows) and appending reads about one.
 *
 * Every write belongs to the caller's transaction: an entry is appended in
 * the same transaction that accepts its object.  This module signs
 * nothing, sends nothing and knows no peers: node/witness.c does the
 * checkpoints and cosignatures.  Row layout: nstore.c's kinds 113-115 and
 * docs/transcript.md ("Storage").
 */
#ifndef PARLEY_NODE_TLOG_H
#define PARLEY_NODE_TLOG_H

#include <stddef.h>
#include <stdint.h>

#include "nstore.h"
#include "parley/crypto.h"
#include "parley/identity.h"
#include "parley/transcript.h"

/* Entry types: the first byte of every entry (docs/transcript.md). */
enum tlog_type {
	TLOG_ENVELOPE = NSTORE_ENTRY_ENVELOPE, /* an envelope's bytes (COSE_Sign1), own or received */
	TLOG_CHARTER = 2,  /* a signed charter as taken (merged signatures) */
	TLOG_STATUS = 3,   /* a signed status list */
	TLOG_RECEIPT = 4,  /* a receipt record: a peer acknowledged our items */
	TLOG_REFUSAL = 5,  /* a refusal record: an item of a peer processed, not accepted */
};

/* Largest object an entry holds (an envelope or charter fits easily). */
#define TLOG_ENTRY_MAX (PL_STORE_VALUE_MAX - 1)

/*
 * Append one entry (type, then len bytes of obj) as the next leaf, inside
 * the caller's transaction; *index (may be NULL) receives its index.
 * Reads the size and the left siblings of the subtrees it completes
 * (amortised about two reads; none when the handle remembers them, as it
 * does what it wrote or read last: nstore_tlog_hash_recall), writes the
 * entry, its leaf hash and each completed subtree's hash, and sets the new
 * size (written once at the commit).  On failure the caller rolls back
 * (rows may have been written).
 */
int tlog_append(nstore *s, int type, const uint8_t *obj, size_t len, uint64_t *index);

/* The number of entries (0 for a new store). */
int tlog_size(nstore *s, uint64_t *n);

/* The root of the first n entries (n <= size, else PL_ERR_NOT_FOUND):
 * popcount(n) reads at most (hashes the handle remembers are not read;
 * the same for the proofs below). */
int tlog_root(nstore *s, uint64_t n, uint8_t root[PL_HASH_BYTES]);

/* Inclusion proof of entry index in the tree of size n <= size, as
 * pl_merkle_prove_inclusion (proof: room for PL_MERKLE_MAX_PROOF hashes). */
int tlog_prove_inclusion(nstore *s, uint64_t index, uint64_t n, uint8_t *proof, size_t *plen);

/* Consistency proof between sizes m <= n <= size, as pl_merkle_prove_consistency. */
int tlog_prove_consistency(nstore *s, uint64_t m, uint64_t n, uint8_t *proof, size_t *plen);

/* The stored bytes of entry index (type byte first); *buf malloc'd. */
int tlog_entry(nstore *s, uint64_t index, uint8_t **buf, size_t *len);

/* The stored hash of the perfect subtree (level, index): the
 * pl_merkle_get_fn of the log, with the nstore as ctx. */
int tlog_get_hash(void *s, uint64_t level, uint64_t index, uint8_t out[PL_HASH_BYTES]);

/*
 * Canonical CBOR of a receipt record: {"at": at, "lane": lane, "peer":
 * peer, "upto": upto} — peer acknowledged every item of lane up to upto,
 * as this node learnt at time at.  *out malloc'd.
 */
int tlog_receipt_encode(const char *peer, int lane, uint64_t upto, int64_t at, uint8_t **out,
			size_t *len);

/*
 * Canonical CBOR of a refusal record: {"at", "id", "lane", "lseq", "peer",
 * "reason"} — item lseq of lane from peer (id: SHA-256 of its bytes) was
 * processed and acknowledged but not accepted, for reason (at most 200
 * bytes kept).  *out malloc'd.
 */
int tlog_refusal_encode(const char *peer, int lane, uint64_t lseq, const uint8_t id[PL_HASH_BYTES],
			const char *reason, int64_t at, uint8_t **out, size_t *len);

/* What a refusal record says (strings borrowed from the decoded item are
 * copied here). */
typedef struct tlog_refusal {
	char peer[PL_NAME_MAX + 1];
	int lane;
	uint64_t lseq;
	uint8_t id[PL_HASH_BYTES];
	char reason[256];
	int64_t at;
} tlog_refusal;

/* Decode a refusal record (canonical, exactly those keys) into *out. */
int tlog_refusal_decode(const uint8_t *buf, size_t len, tlog_refusal *out);

#endif /* PARLEY_NODE_TLOG_H */
