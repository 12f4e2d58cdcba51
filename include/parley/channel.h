/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Channels: the envelope format, the channel charter every participating
 * state signs, and the one check a node makes on every envelope.
 *
 * An envelope is one signed unit on a channel: a COSE_Sign1 made by an
 * official's own key over a canonical CBOR map (channel, author, lane,
 * sequence, previous-envelope hash, kind, created time, body).  Its id is
 * the SHA-256 of its complete bytes.  A charter names a channel's states,
 * members (their signed credentials, so every node learns their keys),
 * allowed kinds and lanes; it counts only once every listed state's root
 * has signed the same payload.  pl_env_verify() answers "may this envelope
 * be accepted now?" with exactly one reason when the answer is no.
 *
 * This module does no I/O, reads no clock and keeps no store: the current
 * time, the charters, status lists and per-stream sequence state come in
 * through pl_env_ctx.  It does not deliver, queue, acknowledge or escalate;
 * node/ does.  docs/formats.md ("Envelopes and charters") gives the bytes.
 *
 * Divisions: lanes; envelopes; charters; verification.
 */
#ifndef PARLEY_CHANNEL_H
#define PARLEY_CHANNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "parley/codec.h"
#include "parley/crypto.h"
#include "parley/export.h"
#include "parley/identity.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ================================================================ lanes */

/*
 * Precedence lanes, highest first.  The numbering is shared with lib/link,
 * whose lane 0 carries the link's own control frames and is never valid in
 * an envelope.
 */
typedef enum pl_lane {
	PL_LANE_CONTROL = 0,
	PL_LANE_FLASH = 1,
	PL_LANE_IMMEDIATE = 2,
	PL_LANE_PRIORITY = 3,
	PL_LANE_ROUTINE = 4,
} pl_lane;
#define PL_LANE_COUNT 5 /* lanes 0..4 */

/* "FLASH", "IMMEDIATE", "PRIORITY", "ROUTINE", "CONTROL"; "unknown" otherwise. */
PL_EXPORT const char *pl_lane_name(pl_lane lane);
/* Parse an envelope lane name, ignoring case ("flash", "Routine").  CONTROL
 * and anything else fail with PL_ERR_MALFORMED and a detail. */
PL_EXPORT int pl_lane_parse(const char *s, pl_lane *out) PL_WUR;
/* true for the four lanes an envelope may use (1..4). */
PL_EXPORT bool pl_lane_is_valid(unsigned lane);

/* ================================================================ envelopes */

#define PL_ENV_BODY_MAX ((size_t)1 << 20)        /* 1 MiB */
#define PL_ENV_MAX      (PL_ENV_BODY_MAX + 2048) /* a whole envelope, COSE included */

/*
 * One envelope.  The same struct is input to pl_env_sign() (every field but
 * id and kid set by the caller) and output of pl_env_parse() and
 * pl_env_verify().  Wire keys in brackets.
 */
typedef struct pl_env {
	char ch[PL_NAME_MAX + 1];     /* [ch] channel name */
	int64_t at;                   /* [at] created, Unix seconds (claimed by the author) */
	char state[PL_NAME_MAX + 1];  /* [state] the author's state */
	char author[PL_NAME_MAX + 1]; /* [id] the author's credential id */
	uint64_t seq;                 /* [seq] >= 1, per (state, author, ch, lane) */
	pl_lane lane;                 /* [lane] 1..4 */
	char kind[PL_NAME_MAX + 1];   /* [kind] e.g. "message", "ack", "read" */
	uint8_t prev[PL_HASH_BYTES];  /* [prev] id of the author's previous envelope in
					 (ch, lane); present iff seq > 1 (else zero) */
	const uint8_t *body;          /* [body] 0..PL_ENV_BODY_MAX bytes: read by
					 pl_env_sign(); after parsing, held by own_ */
	size_t body_len;
	bool has_ackby;
	int64_t ackby; /* [ackby] optional acknowledgement deadline */
	bool has_ref;
	uint8_t ref[PL_HASH_BYTES]; /* [ref] optional: id of the envelope this answers */
	/* Set by pl_env_parse() / pl_env_verify(); ignored by pl_env_sign(): */
	uint8_t id[PL_HASH_BYTES];   /* SHA-256 of the whole envelope */
	uint8_t kid[PL_KEYID_BYTES]; /* pl_key_id() of the signing key */
	bool batched;                /* batch-signed (pl_env_sign_batch) */
	pl_cbor *own_;               /* private: owns body after parsing */
} pl_env;

/*
 * Encode e and sign it with the official's key pair (kid = pl_key_id of
 * kp->pk).  e is borrowed; *out is malloc'd (the caller frees it), NULL on
 * failure.  Refuses (PL_ERR_INVALID / PL_ERR_LIMIT, with a detail) invalid
 * names, seq 0, a lane outside 1..4 and a body over PL_ENV_BODY_MAX.
 * Deterministic: the same e and key give the same bytes.
 */
PL_EXPORT int pl_env_sign(const pl_env *e, const pl_keypair *kp, uint8_t **out, size_t *len) PL_WUR;

/*
 * Parse an envelope strictly (tagged COSE_Sign1 with exactly the headers
 * pl_env_sign writes, canonical CBOR throughout, known type and version,
 * every field well-formed, at most PL_ENV_MAX bytes) WITHOUT checking its
 * signature: only pl_env_verify() says whether it may be believed.  buf is
 * borrowed for the call.  On success out->body points into memory out owns:
 * release it with pl_env_clear().  On failure *out is zeroed.
 */
PL_EXPORT int pl_env_parse(const uint8_t *buf, size_t len, pl_env *out) PL_WUR;

/* Release what parsing allocated and zero e; NULL-safe; a no-op for an
 * envelope the caller filled in (own_ NULL). */
PL_EXPORT void pl_env_clear(pl_env *e);

/*
 * The envelope id: SHA-256 of the complete envelope bytes; for a
 * batch-signed envelope, SHA-256 of its payload (below).  Bytes that are
 * not an envelope get an id too (the hash of what they are); parsing is
 * what refuses them.
 */
PL_EXPORT void pl_env_id(uint8_t out[PL_HASH_BYTES], const uint8_t *buf, size_t len);

/* ------------------------------------------------ batch-signed envelopes */

/*
 * One signature over up to PL_ENV_BATCH_MAX envelopes (docs/formats.md,
 * "Batch-signed envelopes"): the author signs the RFC 9162 Merkle root of
 * the envelopes' payloads once, and each envelope travels as
 *
 *   PL_ENV_BATCH_TAG([payload, receipt])
 *
 * where receipt is a COSE Receipt (RFC 9942): a tagged COSE_Sign1 with a
 * detached payload (the root), protected {1: -8, 395: 1} (EdDSA;
 * RFC9162_SHA256), unprotected {4: kid, 396: {-1: [inclusion proof]}} and
 * the inclusion proof bstr .cbor [tree size, leaf index, [path hashes]].
 * Each envelope verifies on its own, offline; a node that keeps a
 * pl_sig_cache checks the signature once per batch.
 *
 * The id of a batched envelope is SHA-256 of its payload, not of its
 * bytes: an envelope's successor in its stream names it by id (prev), and
 * the receipt, which signs the successor too, cannot be known before.
 * Payloads (a CBOR map) and whole envelopes (a CBOR tag) never share
 * bytes, so the two kinds of id cannot meet.
 *
 * Only credentials holding the role PL_ENV_BATCH_ROLE may batch-sign
 * (machine feeds); an official's own device signs one envelope at a time.
 */
#define PL_ENV_BATCH_TAG         1347175746u /* 0x504c4542, "PLEB" */
#define PL_ENV_BATCH_MIN         2           /* one envelope is signed alone */
#define PL_ENV_BATCH_MAX         4096        /* a path of at most 12 hashes */
#define PL_ENV_BATCH_RECEIPT_MAX 1024        /* bytes of a receipt, COSE included */
#define PL_ENV_BATCH_ROLE        "feed"

/* True when buf is framed as a batch-signed envelope (its first bytes). */
PL_EXPORT bool pl_env_is_batched(const uint8_t *buf, size_t len);

/*
 * The id e will have once batch-signed: what an author puts in the next
 * envelope's prev before the batch is signed.  Checks e as pl_env_sign.
 */
PL_EXPORT int pl_env_batch_id(const pl_env *e, uint8_t id[PL_HASH_BYTES]) PL_WUR;

/*
 * Sign the n envelopes e[0..n) (PL_ENV_BATCH_MIN..PL_ENV_BATCH_MAX) with
 * one signature by kp; out[i] (malloc'd, the caller frees each) and len[i]
 * receive envelope i.  All or nothing: on failure every out[i] is NULL.
 * Refuses what pl_env_sign refuses.  Deterministic.
 */
PL_EXPORT int pl_env_sign_batch(const pl_env *e, size_t n, const pl_keypair *kp, uint8_t **out,
				size_t *len) PL_WUR;

/*
 * Signatures already checked (a node's, single-threaded): the batch
 * signatures (key, root, signature) that verified, so that the other
 * envelopes of a batch cost no Ed25519 verification.  Zero it to start.
 * Counters for metrics: Ed25519 verifications made through it, and batch
 * signatures found in it.
 */
#define PL_SIG_CACHE_SLOTS 16
typedef struct pl_sig_cache {
	uint8_t key[PL_SIG_CACHE_SLOTS][PL_HASH_BYTES];
	bool used[PL_SIG_CACHE_SLOTS];
	unsigned next;
	uint64_t checks;
	uint64_t hits;
} pl_sig_cache;

/* ================================================================ charters */

#define PL_CHARTER_STATES_MIN  2
#define PL_CHARTER_STATES_MAX  8
#define PL_CHARTER_MEMBERS_MAX 64
#define PL_CHARTER_KINDS_MAX   32
#define PL_CHARTER_MAX         (128 * 1024) /* charter payload bytes */

/*
 * Acknowledgement deadlines and escalation (the charter's optional
 * "policy"; docs/formats.md gives the bytes and the semantics).  A rule
 * for a lane says how long the receiving state has to acknowledge an
 * envelope after its created time (an envelope's own ackby may make the
 * deadline earlier, never later), and whom the receiving node alerts when
 * it passes: level 1 first; again every `after` seconds, `repeat` more
 * times; then level 2, and so on; after the last level's alerts the
 * envelope stays overdue and nobody is alerted any more.  A target is
 * "id:ID" (the receiving state's official with that credential id) or
 * "role:ROLE" (every official of the receiving state holding that role).
 */
#define PL_ACK_LEVELS_MAX   8
#define PL_ACK_TARGETS_MAX  16                /* per level */
#define PL_ACK_TARGET_MAX   (PL_NAME_MAX + 6) /* "role:" + a name + NUL */
#define PL_ACK_DEADLINE_MAX 2592000           /* ack: 1 s .. 30 days */
#define PL_ACK_AFTER_MAX    604800            /* after: 1 s .. 7 days */
#define PL_ACK_REPEAT_MAX   10                /* repeat: 0 .. 10 */

typedef struct pl_ack_level {
	char targets[PL_ACK_TARGETS_MAX][PL_ACK_TARGET_MAX]; /* distinct, in the given order */
	size_t ntargets;                                     /* 1..PL_ACK_TARGETS_MAX */
	uint32_t after;  /* seconds between this level's alerts, and before the next level */
	uint32_t repeat; /* alerts after the first, 0..PL_ACK_REPEAT_MAX */
} pl_ack_level;

typedef struct pl_ack_rule {
	uint32_t ack; /* deadline: seconds after the envelope's created time */
	pl_ack_level levels[PL_ACK_LEVELS_MAX];
	size_t nlevels; /* 1..PL_ACK_LEVELS_MAX */
} pl_ack_rule;

/* true for "id:NAME" and "role:NAME" with NAME a valid name (pl_name_is_valid). */
PL_EXPORT bool pl_ack_target_is_valid(const char *s);

/* What a new charter says; everything borrowed by pl_charter_build(). */
typedef struct pl_charter_spec {
	const char *name; /* the channel */
	uint64_t version; /* >= 1 */
	int64_t created;
	const char *const *states; /* 2..8 distinct state names, any order */
	size_t nstates;
	const pl_slice *members;  /* signed credentials (pl_cred_sign output), any order */
	size_t nmembers;          /* 1..PL_CHARTER_MEMBERS_MAX */
	const char *const *kinds; /* 1..32 distinct kind names, any order */
	size_t nkinds;
	unsigned lanes; /* allowed lanes: bit (1u << lane) for each of 1..4 */
	/* Optional: rules[lane] is the acknowledgement rule of an allowed lane
	 * (1..4), NULL for none (pl_charter_rule's defaults then apply); rules[0]
	 * must be NULL.  With every entry NULL the charter has no "policy". */
	const pl_ack_rule *rules[PL_LANE_COUNT];
} pl_charter_spec;

typedef struct pl_charter_member {
	pl_cred cred; /* decoded; its root signature was verified */
	uint8_t *raw; /* owned: the signed credential as listed */
	size_t raw_len;
} pl_charter_member;

/*
 * A charter with the signatures gathered so far.  Everything is owned by
 * the struct and released by pl_charter_clear().  Lists are in canonical
 * order: states, kinds and lanes sorted, members sorted by (state, id).
 * sig[i] is the COSE_Sign1 of states[i]'s root over payload, or NULL.
 */
typedef struct pl_charter {
	char name[PL_NAME_MAX + 1];
	uint64_t version;
	int64_t created;
	char states[PL_CHARTER_STATES_MAX][PL_NAME_MAX + 1];
	size_t nstates;
	char kinds[PL_CHARTER_KINDS_MAX][PL_NAME_MAX + 1];
	size_t nkinds;
	unsigned lanes;                   /* bit (1u << lane) per allowed lane */
	pl_ack_rule rules[PL_LANE_COUNT]; /* rules[lane] holds when has_rule has bit (1u << lane) */
	unsigned has_rule;                /* the lanes the charter's "policy" sets a rule for */
	pl_charter_member *members;
	size_t nmembers;
	uint8_t *payload; /* the canonical "parley/charter" map every state signs */
	size_t payload_len;
	uint8_t *sig[PL_CHARTER_STATES_MAX];
	size_t sig_len[PL_CHARTER_STATES_MAX];
} pl_charter;

/*
 * Build the canonical charter payload from spec and fill *out with it,
 * unsigned.  Every member credential must verify against t (pl_cred_open)
 * and belong to a listed state (PL_ERR_WRONG_STATE); every listed state
 * must be pinned in t (PL_ERR_UNKNOWN_ROOT).  Lists are sorted here;
 * duplicates are PL_ERR_INVALID.  Each rule given must be for an allowed
 * lane and within the bounds above, its targets valid and distinct within
 * a level (PL_ERR_INVALID; a count over its maximum is PL_ERR_LIMIT), with
 * a detail naming the lane, level and field.  On failure *out is zeroed.
 */
PL_EXPORT int pl_charter_build(const pl_charter_spec *spec, const pl_trust *t,
			       pl_charter *out) PL_WUR;

/*
 * Add state's signature over c->payload, made with root, which must be
 * state's root as pinned in t.  A state not listed is PL_ERR_WRONG_STATE, an
 * unpinned one PL_ERR_UNKNOWN_ROOT, a key that is not the pinned root
 * PL_ERR_INVALID, a state that already signed PL_ERR_EXISTS.  On failure
 * c is unchanged.
 */
PL_EXPORT int pl_charter_sign(pl_charter *c, const pl_trust *t, const char *state,
			      const pl_keypair *root) PL_WUR;

/*
 * Add to c the signatures other holds and c lacks (both opened or built
 * here, so their signatures were checked).  The payloads must be identical
 * (else PL_ERR_CONFLICT).  On failure c is unchanged.
 */
PL_EXPORT int pl_charter_merge(pl_charter *c, const pl_charter *other) PL_WUR;

/* The signed charter object ("parley/charter-signed": payload and the
 * signatures so far, in state order).  *out malloc'd; the caller frees it. */
PL_EXPORT int pl_charter_encode(const pl_charter *c, uint8_t **out, size_t *len) PL_WUR;

/*
 * Open a signed charter object strictly.  Every listed state must be
 * pinned in t (PL_ERR_UNKNOWN_ROOT); every member credential must verify
 * against t and belong to a listed state (PL_ERR_WRONG_STATE), no two with
 * the same state and id; every signature must be by the root of a listed
 * state (else PL_ERR_WRONG_STATE), at most one per state, and verify over
 * exactly the payload (else PL_ERR_BAD_SIGNATURE).  A "policy" is held to
 * the same rules as in pl_charter_build() (PL_ERR_MALFORMED, or
 * PL_ERR_LIMIT for a count over its maximum).  An incomplete charter
 * opens: ask pl_charter_check_complete().  buf is borrowed; on success
 * release *out with pl_charter_clear(); on failure *out is zeroed.
 */
PL_EXPORT int pl_charter_open(const uint8_t *buf, size_t len, const pl_trust *t,
			      pl_charter *out) PL_WUR;

/* 0 when every listed state has signed, else PL_ERR_UNSIGNED with a detail
 * naming the states still missing. */
PL_EXPORT int pl_charter_check_complete(const pl_charter *c) PL_WUR;

/*
 * May newer replace held (a membership or policy change)?  0 if both are
 * complete (else PL_ERR_UNSIGNED), name the same channel (else
 * PL_ERR_INVALID), newer's version is higher (else PL_ERR_STALE, or
 * PL_ERR_CONFLICT for the same version with other content) and newer still
 * lists every state held lists (else PL_ERR_CONFLICT: a state may join a
 * channel but not be dropped from it by the others; parting ways takes a
 * new channel).
 */
PL_EXPORT int pl_charter_supersedes(const pl_charter *newer, const pl_charter *held) PL_WUR;

/* The member (state, id), or NULL; borrowed from c. */
PL_EXPORT const pl_charter_member *pl_charter_find_member(const pl_charter *c, const char *state,
							  const char *id);
PL_EXPORT bool pl_charter_allows_kind(const pl_charter *c, const char *kind);
PL_EXPORT bool pl_charter_allows_lane(const pl_charter *c, unsigned lane);

/*
 * The acknowledgement rule for envelopes on lane under charter c: the
 * charter's own rule when it has one, else the default: FLASH 600 s and
 * IMMEDIATE 3600 s, each with one level {"role:duty"} after 300 s, repeat
 * 2.  Returns 0 with *out filled (copied), PL_ERR_NOT_FOUND when the lane
 * needs no acknowledgement (PRIORITY and ROUTINE by default), or
 * PL_ERR_INVALID for a NULL argument or a lane outside 1..4; *out is
 * zeroed unless 0 is returned.  Whether c allows the lane is not asked.
 */
PL_EXPORT int pl_charter_rule(const pl_charter *c, pl_lane lane, pl_ack_rule *out) PL_WUR;

/* Free everything c owns and zero it; NULL-safe. */
PL_EXPORT void pl_charter_clear(pl_charter *c);

/* ================================================================ verification */

#define PL_ENV_SKEW_DEFAULT 600 /* seconds an envelope may be dated ahead of the receiver */

/*
 * What a node knows when an envelope arrives.  Callbacks get arg first;
 * what they return is borrowed for the duration of the pl_env_verify() call.
 */
typedef struct pl_env_ctx {
	/* Optional: when set, the author's state must still be pinned here. */
	const pl_trust *trust;
	/* Required: the charter held for channel ch (opened against the node's
	 * trust set), or NULL when none is held. */
	const pl_charter *(*charter)(void *arg, const char *ch);
	/* Optional: the newest status list held for state, or NULL (no changes
	 * known; a NULL callback means the same for every state). */
	const pl_status_list *(*status)(void *arg, const char *state);
	/*
	 * The stream (env->state, env->author, env->ch, env->lane): set *seq to
	 * the seq of the last envelope accepted on it (0 when none) and, when
	 * *seq > 0, last_id to that envelope's id.  Return 0, or a negative
	 * pl_err (e.g. PL_ERR_STORE), which pl_env_verify() returns unchanged.
	 * NULL skips the sequence check: for offline inspection only; a node
	 * must always supply it.
	 */
	int (*last)(void *arg, const pl_env *env, uint64_t *seq, uint8_t last_id[PL_HASH_BYTES]);
	void *arg;
	/* Optional: batch signatures already verified (and counters). */
	pl_sig_cache *sigs;
	int64_t now;        /* the receiver's clock, Unix seconds */
	int64_t max_future; /* refuse envelopes dated more than this after now
			       (PL_ENV_SKEW_DEFAULT is a good value; 0 allows none) */
	int64_t max_age;    /* > 0: refuse envelopes dated more than this before now
			       (the origin node, for its own officials); 0: no bound
			       (relays: store-and-forward delays are legitimate) */
	/* Optional, pl_env_verify_opened() only: the key that
	 * pl_env_sig_check() found signed this very envelope.  Step 4 takes
	 * the signature as checked when it is the member's key, and checks it
	 * again otherwise (the charter changed meanwhile). */
	const uint8_t *sig_checked;
} pl_env_ctx;

/*
 * The one check a node makes on every envelope, in this order, stopping at
 * the first failure with its code and a one-line detail:
 *
 *  1. well-formed: as pl_env_parse() (PL_ERR_MALFORMED, PL_ERR_NONCANONICAL,
 *     PL_ERR_LIMIT, PL_ERR_TYPE, PL_ERR_VERSION);
 *  2. a complete charter is held for the channel (PL_ERR_UNKNOWN_CHANNEL);
 *  3. the author (state, id) is a member (PL_ERR_NOT_MEMBER), whose state
 *     is still pinned when ctx->trust is set (PL_ERR_UNKNOWN_ROOT), and the
 *     kid names the member's key (PL_ERR_BAD_SIGNATURE);
 *  4. the signature verifies with the member's key (PL_ERR_BAD_SIGNATURE);
 *     for a batch-signed envelope: the member's credential holds the role
 *     PL_ENV_BATCH_ROLE, and the receipt's signature verifies over the root
 *     its inclusion proof leads to from the payload (PL_ERR_BAD_SIGNATURE);
 *  5. the credential was valid at the envelope's created time given the
 *     state's status list, exactly as pl_cred_verify() judges it
 *     (PL_ERR_NOT_YET_VALID, PL_ERR_EXPIRED, PL_ERR_SUSPENDED,
 *     PL_ERR_RECALLED, PL_ERR_REVOKED; PL_ERR_WRONG_STATE if the callback
 *     gave another state's list), and its scope, if any, names the channel
 *     (PL_ERR_NOT_MEMBER);
 *  6. the kind is allowed (PL_ERR_KIND_NOT_ALLOWED);
 *  7. the lane is allowed (PL_ERR_LANE_NOT_ALLOWED);
 *  8. the created time is at most max_future after now and, when max_age
 *     is set, at most max_age before it (PL_ERR_CLOCK);
 *  9. sequence, against the stream's last accepted envelope (seq L, id I):
 *     seq <= L is PL_ERR_REPLAY, seq > L + 1 is PL_ERR_SEQUENCE (a gap),
 *     and seq == L + 1 needs prev == I (else PL_ERR_SEQUENCE); the first
 *     envelope of a stream has seq 1 and no prev.
 *
 * Duplicates: an envelope's id is its identity, so a node first looks the
 * id (pl_env_id) up in its store; one already held is a duplicate, to be
 * acknowledged again without calling this function, whose answer for it
 * is PL_ERR_REPLAY.
 *
 * buf is borrowed for the call.  out may be NULL; otherwise on success it
 * receives the envelope (release with pl_env_clear()) and on failure it is
 * zeroed.  Callback errors are returned unchanged.
 */
PL_EXPORT int pl_env_verify(const uint8_t *buf, size_t len, const pl_env_ctx *ctx,
			    pl_env *out) PL_WUR;

/*
 * pl_env_verify() in two parts, so that a node can check signatures on
 * another thread than the one that holds its charters and streams:
 *
 *   pl_env_open()          step 1 (well-formed), on any thread;
 *   pl_env_sig_check()     the Ed25519 check of step 4 with a given key,
 *                          reading nothing but the opened envelope and the
 *                          key: safe on any thread while none changes them;
 *   pl_env_verify_opened() steps 2 to 9 with ctx, as pl_env_verify();
 *                          with ctx->sig_checked the key pl_env_sig_check()
 *                          accepted, step 4 does not check again.
 *
 * buf must outlive the opened envelope (its signature's parts point into
 * it).  pl_env_verify_opened() consumes o whatever it returns; an opened
 * envelope not verified is released with pl_env_opened_clear().
 */
typedef struct pl_env_opened {
	pl_env env; /* the payload's fields, as pl_env_parse() gives them */
	pl_cose_sign1 cose_;
	uint8_t root_[PL_HASH_BYTES]; /* a batch-signed envelope's root */
} pl_env_opened;

PL_EXPORT int pl_env_open(const uint8_t *buf, size_t len, pl_env_opened *out) PL_WUR;
/* 0 when pk signed the envelope, PL_ERR_BAD_SIGNATURE when not,
 * PL_ERR_INVALID for a batch-signed one (its batch's signature is
 * checked once per batch by pl_env_verify_opened(), through ctx->sigs). */
PL_EXPORT int pl_env_sig_check(const pl_env_opened *o, const uint8_t pk[PL_PK_BYTES]) PL_WUR;
PL_EXPORT int pl_env_verify_opened(pl_env_opened *o, const pl_env_ctx *ctx, pl_env *out) PL_WUR;
PL_EXPORT void pl_env_opened_clear(pl_env_opened *o);

#ifdef __cplusplus
}
#endif
#endif /* PARLEY_CHANNEL_H */
