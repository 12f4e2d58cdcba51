/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The storage-free core of the transcript: RFC 9162 Merkle tree hashing and
 * proofs, and the C2SP signed-note, tlog-checkpoint and tlog-cosignature
 * (Ed25519, v1) text formats, so that tools written by others can check
 * what a Parley node publishes.
 *
 * This module does no I/O, reads no clock (times are passed in) and keeps
 * no store.  Hashes of the tree are read through a callback (pl_merkle_get_fn)
 * so that a node can serve them from its store in O(log n) reads; an
 * in-memory provider (pl_merkle_mem) serves tests and small uses.
 * docs/transcript.md ("Formats") gives the exact byte layouts.
 *
 * Divisions: Merkle hashing; proofs; the in-memory tree; signed notes;
 * checkpoints; cosignatures.
 */
#ifndef PARLEY_TRANSCRIPT_H
#define PARLEY_TRANSCRIPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "parley/buf.h"
#include "parley/crypto.h"
#include "parley/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ======================================== Merkle hashing (RFC 9162 §2.1.1) */

/* Longest proof any function here produces or accepts, in hashes. */
#define PL_MERKLE_MAX_PROOF 64
/* Largest tree the provers handle (their proofs then fit in PL_MERKLE_MAX_PROOF). */
#define PL_MERKLE_MAX_SIZE ((uint64_t)1 << 63)

/* Leaf hash: SHA-256(0x00 || entry).  entry may be NULL when len is 0. */
PL_EXPORT void pl_merkle_leaf_hash(uint8_t out[PL_HASH_BYTES], const uint8_t *entry, size_t len);
/* Interior node hash: SHA-256(0x01 || left || right).  out may alias left or right. */
PL_EXPORT void pl_merkle_node_hash(uint8_t out[PL_HASH_BYTES], const uint8_t left[PL_HASH_BYTES],
				   const uint8_t right[PL_HASH_BYTES]);
/* Root of the empty tree: SHA-256 of the empty string. */
PL_EXPORT void pl_merkle_empty_root(uint8_t out[PL_HASH_BYTES]);

/*
 * Hash provider.  Writes to out the hash of the perfect subtree of 2^level
 * leaves starting at leaf index * 2^level (level 0: the leaf hashes; the
 * "stored hash" addressing of tlog-tiles and Go's sumdb/tlog).  The callers
 * below only ask for subtrees lying wholly inside the tree size they were
 * given.  Returns 0, or a negative pl_err which the caller passes on
 * unchanged (PL_ERR_NOT_FOUND when the subtree is not held).
 */
typedef int (*pl_merkle_get_fn)(void *ctx, uint64_t level, uint64_t index,
				uint8_t out[PL_HASH_BYTES]);

/* ======================================== proofs (RFC 9162 §2.1.3, §2.1.4) */

/*
 * Root of the tree of the first n leaves (MTH(D[0:n])), using popcount(n)
 * calls to get (none when n is 0: the empty root).  Fails with PL_ERR_LIMIT
 * when n > PL_MERKLE_MAX_SIZE, or with get's error; out is written only on
 * success.
 */
PL_EXPORT int pl_merkle_root(pl_merkle_get_fn get, void *ctx, uint64_t n,
			     uint8_t out[PL_HASH_BYTES]) PL_WUR;

/*
 * Inclusion proof (audit path, RFC 9162 §2.1.3.1) of leaf index in the tree
 * of size n.  proof receives *plen hashes, concatenated, leaf end first
 * (room for PL_MERKLE_MAX_PROOF * PL_HASH_BYTES bytes).  Calls get at most
 * 2 * ceil(log2 n) times.  PL_ERR_NOT_FOUND when index >= n, PL_ERR_LIMIT
 * when n > PL_MERKLE_MAX_SIZE, or get's error; on failure proof and *plen
 * are unchanged.
 */
PL_EXPORT int pl_merkle_prove_inclusion(pl_merkle_get_fn get, void *ctx, uint64_t index, uint64_t n,
					uint8_t *proof, size_t *plen) PL_WUR;

/*
 * Consistency proof (RFC 9162 §2.1.4.1, PROOF(m, D[n])) between the trees of
 * sizes m and n; layout as above.  Empty when m == 0 or m == n.  Calls get
 * at most 2 * ceil(log2 n) + 1 times.  PL_ERR_NOT_FOUND when m > n,
 * PL_ERR_LIMIT when n > PL_MERKLE_MAX_SIZE, or get's error; on failure
 * proof and *plen are unchanged.
 */
PL_EXPORT int pl_merkle_prove_consistency(pl_merkle_get_fn get, void *ctx, uint64_t m, uint64_t n,
					  uint8_t *proof, size_t *plen) PL_WUR;

/*
 * Verify that leaf_hash is leaf number index of the tree of size n whose
 * root is root, with the algorithm of RFC 9162 §2.1.3.2.  proof: plen
 * concatenated hashes.  Returns 0; PL_ERR_MALFORMED when index >= n or the
 * proof's length does not fit the tree (too long, too short, over
 * PL_MERKLE_MAX_PROOF); PL_ERR_CONFLICT when the proof leads to another root.
 */
/*
 * The root that the inclusion proof of leaf_hash (leaf index of a tree of
 * size n) leads to (RFC 9162 §2.1.3.2, steps 1 to 5 without the final
 * comparison): for receipts that sign the root (COSE Receipts, RFC 9942).
 * PL_ERR_MALFORMED as pl_merkle_verify_inclusion; root written on success.
 */
PL_EXPORT int pl_merkle_root_from_inclusion(const uint8_t leaf_hash[PL_HASH_BYTES], uint64_t index,
					    uint64_t n, const uint8_t *proof, size_t plen,
					    uint8_t root[PL_HASH_BYTES]) PL_WUR;
PL_EXPORT int pl_merkle_verify_inclusion(const uint8_t leaf_hash[PL_HASH_BYTES], uint64_t index,
					 uint64_t n, const uint8_t *proof, size_t plen,
					 const uint8_t root[PL_HASH_BYTES]) PL_WUR;

/*
 * Inclusion proofs of several leaves of one tree (size n, root root),
 * checked one after another: a proof whose path joins that of the proof
 * verified last (the same node with the same hash, then the same hashes up
 * to the root) is not hashed again from there.  Leaves checked in index
 * order share most of their paths: 256 neighbours of a tree of millions
 * cost some two hashes each instead of twenty.  Each answer is the one
 * pl_merkle_verify_inclusion gives for the same proof; a failed proof
 * leaves the run as it was.  hashes counts the node hashes computed.
 */
typedef struct pl_merkle_incl_run {
	uint64_t n;
	uint8_t root[PL_HASH_BYTES];
	uint64_t hashes;
	/* the proof verified last: its hashes and, after each of its steps,
	 * the node reached (level, index at that level) and its hash */
	bool have;
	size_t plen;
	uint8_t proof[PL_MERKLE_MAX_PROOF * PL_HASH_BYTES];
	uint8_t node[PL_MERKLE_MAX_PROOF][PL_HASH_BYTES];
	uint64_t fn[PL_MERKLE_MAX_PROOF];
	uint8_t lvl[PL_MERKLE_MAX_PROOF];
	uint8_t step_at[PL_MERKLE_MAX_PROOF + 2]; /* by level: 1 + the step ending there, or 0 */
} pl_merkle_incl_run;

PL_EXPORT void pl_merkle_incl_run_init(pl_merkle_incl_run *run, uint64_t n,
				       const uint8_t root[PL_HASH_BYTES]);
PL_EXPORT int pl_merkle_incl_run_verify(pl_merkle_incl_run *run,
					const uint8_t leaf_hash[PL_HASH_BYTES], uint64_t index,
					const uint8_t *proof, size_t plen) PL_WUR;

/*
 * Verify that the tree of size m and root root_m is a prefix of the tree of
 * size n and root root_n, with the algorithm of RFC 9162 §2.1.4.2.  Cases
 * the RFC leaves to the caller: m == n needs an empty proof and equal
 * roots; m == 0 needs an empty proof and root_m equal to the empty root.
 * Returns 0; PL_ERR_MALFORMED when m > n or the proof's length does not
 * fit the sizes; PL_ERR_CONFLICT when the proof does not lead to both roots
 * (the log has rewritten history, or the proof is wrong).
 */
PL_EXPORT int pl_merkle_verify_consistency(uint64_t m, uint64_t n, const uint8_t *proof,
					   size_t plen, const uint8_t root_m[PL_HASH_BYTES],
					   const uint8_t root_n[PL_HASH_BYTES]) PL_WUR;

/* ======================================== in-memory tree */

/*
 * An append-only tree in memory that keeps the hash of every perfect
 * subtree, level by level, so that pl_merkle_mem_get can serve as the
 * pl_merkle_get_fn of the functions above (with the tree as ctx).
 * Memory: about 2 * 32 bytes per leaf.
 */
typedef struct pl_merkle_mem pl_merkle_mem;

/* An empty tree, or NULL when out of memory. */
PL_EXPORT pl_merkle_mem *pl_merkle_mem_new(void);
PL_EXPORT void pl_merkle_mem_free_(pl_merkle_mem *t);
/* Free t (NULL-safe) and set the pointer to NULL. */
#define pl_merkle_mem_free(p)                                                                      \
	do {                                                                                       \
		pl_merkle_mem_free_(p);                                                            \
		(p) = NULL;                                                                        \
	} while (0)

/* Append an entry (hashed as a leaf; entry is not kept).  PL_ERR_NOMEM
 * leaves the tree as it was. */
PL_EXPORT int pl_merkle_mem_append(pl_merkle_mem *t, const uint8_t *entry, size_t len) PL_WUR;
/* Append a leaf given by its leaf hash. */
PL_EXPORT int pl_merkle_mem_append_hash(pl_merkle_mem *t,
					const uint8_t leaf_hash[PL_HASH_BYTES]) PL_WUR;
/* Number of leaves. */
PL_EXPORT uint64_t pl_merkle_mem_size(const pl_merkle_mem *t);
/* The pl_merkle_get_fn of a pl_merkle_mem (ctx is the tree): PL_ERR_NOT_FOUND
 * for a subtree not (yet) complete. */
PL_EXPORT int pl_merkle_mem_get(void *ctx, uint64_t level, uint64_t index,
				uint8_t out[PL_HASH_BYTES]) PL_WUR;

/* ======================================== signed notes (C2SP signed-note) */

#define PL_NOTE_TYPE_ED25519  0x01 /* Ed25519 signature over the note text */
#define PL_NOTE_TYPE_COSIG_V1 0x04 /* timestamped Ed25519 cosignature (tlog-cosignature) */
#define PL_NOTE_KEYID_BYTES   4
#define PL_NOTE_NAME_MAX      255        /* key name, bytes */
#define PL_NOTE_MAX_BYTES     (1u << 20) /* whole note, text and signatures */
#define PL_NOTE_MAX_SIGS      100        /* signature lines (the spec asks for at least 16) */
#define PL_NOTE_SIG_MAX       8192       /* decoded signature value (key ID + signature), bytes */

/*
 * A key that may sign notes: what a verifier key string
 * ("<name>+<hex key ID>+<base64(type || public key)>") holds.
 * A plain struct: copy it freely, nothing to free.
 */
typedef struct pl_note_verifier {
	char name[PL_NOTE_NAME_MAX + 1]; /* NUL-terminated */
	uint8_t type;                    /* PL_NOTE_TYPE_ED25519 or PL_NOTE_TYPE_COSIG_V1 */
	uint8_t key_id[PL_NOTE_KEYID_BYTES];
	uint8_t pk[PL_PK_BYTES];
} pl_note_verifier;

/* true when name may be a key name: 1..PL_NOTE_NAME_MAX bytes of valid UTF-8
 * without control characters, Unicode spaces or '+'. */
PL_EXPORT bool pl_note_name_is_valid(const char *name);

/* Key ID: the first 4 bytes of SHA-256(name || 0x0A || type || pk).
 * name is taken as is (NUL-terminated; not validated). */
PL_EXPORT void pl_note_key_id(uint8_t out[PL_NOTE_KEYID_BYTES], const char *name, uint8_t type,
			      const uint8_t pk[PL_PK_BYTES]);

/* Fill v from a name, a type and a public key, computing the key ID.
 * PL_ERR_INVALID for an invalid name or unknown type; v unchanged then. */
PL_EXPORT int pl_note_verifier_init(pl_note_verifier *v, const char *name, uint8_t type,
				    const uint8_t pk[PL_PK_BYTES]) PL_WUR;

/*
 * Parse a verifier key string of len bytes (no NUL needed, none allowed).
 * Strict: valid name, exactly 8 lower-case hex digits equal to the key ID
 * computed from name, type and key, standard base64 of a known type byte
 * followed by a 32-byte key.  PL_ERR_MALFORMED (with a detail) otherwise,
 * PL_ERR_TYPE for an unknown type byte; v unchanged on failure.
 */
PL_EXPORT int pl_note_verifier_parse(pl_note_verifier *v, const char *vkey, size_t len) PL_WUR;

/* Append v's verifier key string to out (a NUL is kept after it, not
 * counted in out->len).  PL_ERR_NOMEM leaves out as it was. */
PL_EXPORT int pl_note_verifier_format(const pl_note_verifier *v, pl_buf *out) PL_WUR;

/*
 * Sign a note: append to out the text, the blank line and one Ed25519
 * signature line "— <name> <base64(key ID || signature)>\n" (U+2014, space).
 * text: len bytes, non-empty, ending in '\n', valid UTF-8 without control
 * characters but '\n', at most PL_NOTE_MAX_BYTES; name: a valid key name.
 * Anything else is PL_ERR_MALFORMED / PL_ERR_LIMIT (text) or PL_ERR_INVALID
 * (name).  kp is borrowed.  On failure out is as it was.
 */
PL_EXPORT int pl_note_sign(pl_buf *out, const uint8_t *text, size_t len, const char *name,
			   const pl_keypair *kp) PL_WUR;

/* What pl_note_open found for one verifier. */
typedef struct pl_note_result {
	bool verified; /* a signature line by this key verified */
	int64_t time;  /* PL_NOTE_TYPE_COSIG_V1: the latest verified timestamp; else 0 */
} pl_note_result;

/*
 * Open a signed note of len bytes: check its syntax and the signatures by
 * the verifiers vs[0..nvs).  The text is note[0..*text_len) (ending in
 * '\n'); it is separated from the signature lines by the last blank line.
 *
 * Syntax (else PL_ERR_MALFORMED): valid UTF-8, no control character but
 * '\n', a blank line, then only well-formed signature lines, each ending in
 * '\n'.  Over PL_NOTE_MAX_BYTES or PL_NOTE_MAX_SIGS lines: PL_ERR_LIMIT.
 * A line whose name and key ID match no verifier is ignored.  A line that
 * matches one must verify (type 0x01: signature over the text; type 0x04:
 * timestamp and signature over the cosignature/v1 message), else
 * PL_ERR_BAD_SIGNATURE.  When no verifier verified any line:
 * PL_ERR_BAD_SIGNATURE ("no signature by a known key").
 *
 * results, when not NULL, has nvs entries and receives per-verifier results
 * (also on failure, but then meaningless).  note, vs borrowed.
 */
PL_EXPORT int pl_note_open(const uint8_t *note, size_t len, const pl_note_verifier *vs, size_t nvs,
			   size_t *text_len, pl_note_result *results) PL_WUR;

/* ================================ checkpoints (C2SP tlog-checkpoint) */

#define PL_CHECKPOINT_ORIGIN_MAX 255 /* bytes */

/*
 * A checkpoint: the text of a signed note.  ext points to the optional
 * extension lines (ext_len bytes, each line non-empty and ending in '\n';
 * NULL/0 when none).  ext is borrowed: after pl_checkpoint_parse it points
 * into the parsed text and is valid as long as that text is.
 */
typedef struct pl_checkpoint {
	char origin[PL_CHECKPOINT_ORIGIN_MAX + 1]; /* NUL-terminated */
	uint64_t size;
	uint8_t root[PL_HASH_BYTES];
	const uint8_t *ext;
	size_t ext_len;
} pl_checkpoint;

/*
 * Append the checkpoint text to out: "<origin>\n<size>\n<base64 root>\n" and
 * the extension lines.  Parley only writes origins that are valid key names
 * (no spaces, no '+'), and well-formed extension lines: PL_ERR_INVALID
 * otherwise.  On failure out is as it was.
 */
PL_EXPORT int pl_checkpoint_format(const pl_checkpoint *cp, pl_buf *out) PL_WUR;

/*
 * Parse a checkpoint text (the note text, signatures excluded), strictly:
 * at least three lines, each ending in '\n', none empty; valid UTF-8
 * without control characters; origin of 1..PL_CHECKPOINT_ORIGIN_MAX bytes
 * (any characters: the spec forbids assuming more); size in decimal without
 * sign or leading zeros, at most 2^64-1; root: standard base64 of exactly
 * 32 bytes.  PL_ERR_MALFORMED / PL_ERR_LIMIT with a detail otherwise; cp is
 * written only on success.  cp->ext points into text.
 */
PL_EXPORT int pl_checkpoint_parse(pl_checkpoint *cp, const uint8_t *text, size_t len) PL_WUR;

/* pl_note_open, then pl_checkpoint_parse of its text: a checkpoint note
 * verified by at least one of vs.  cp->ext points into note. */
PL_EXPORT int pl_checkpoint_open(pl_checkpoint *cp, const uint8_t *note, size_t len,
				 const pl_note_verifier *vs, size_t nvs,
				 pl_note_result *results) PL_WUR;

/* ================================ cosignatures (C2SP tlog-cosignature) */

/*
 * Append to out the message a v1 cosignature signs:
 * "cosignature/v1\ntime <time>\n" followed by the checkpoint text.
 * time: 0..INT64_MAX (else PL_ERR_INVALID).  On failure out is as it was.
 */
PL_EXPORT int pl_cosig_message(pl_buf *out, const uint8_t *cp_text, size_t len,
			       int64_t time) PL_WUR;

/*
 * Cosign a checkpoint at time: append to out one signature line
 * "— <name> <base64(key ID || 8-byte big-endian time || signature)>\n",
 * the key ID computed with type 0x04.  cp_text (len bytes) must parse as a
 * checkpoint (pl_checkpoint_parse's errors); name must be a valid key name
 * (PL_ERR_INVALID).  Append the line to the signed checkpoint note to
 * publish it.  kp borrowed; on failure out is as it was.
 */
PL_EXPORT int pl_cosig_sign(pl_buf *out, const uint8_t *cp_text, size_t len, const char *name,
			    const pl_keypair *kp, int64_t time) PL_WUR;

/*
 * Check the cosignature of v (type PL_NOTE_TYPE_COSIG_V1, else
 * PL_ERR_INVALID) on a checkpoint note: pl_checkpoint_open with v alone.
 * *time receives the cosigned time and cp (when not NULL) the checkpoint
 * (cp->ext points into note).  Outputs are written only on success.
 */
PL_EXPORT int pl_cosig_verify(const uint8_t *note, size_t len, const pl_note_verifier *v,
			      int64_t *time, pl_checkpoint *cp) PL_WUR;

#ifdef __cplusplus
}
#endif
#endif /* PARLEY_TRANSCRIPT_H */
