/* SPDX-License-Identifier: Apache-2.0 */
/*
 * States, nodes and officials: the signed records that say who may speak.
 *
 * A state's root key signs node records, official credentials and the
 * state's status list; a state record is self-signed and is what a peer
 * pins after comparing fingerprints.  Every record is a COSE_Sign1 over a
 * canonical CBOR map carrying a type tag "t" and a version "v"; unknown
 * types and versions are refused.  pl_cred_verify() is the one question
 * the rest of Parley asks: was this credential valid at time t, given the
 * pinned roots and the state's status list — and if not, exactly why.
 *
 * Times are Unix seconds (int64_t), passed in: this module reads no clock.
 * Records are plain structs with fixed-size, NUL-terminated strings, so
 * they need no freeing (except status lists, which own their events).
 */
#ifndef PARLEY_IDENTITY_H
#define PARLEY_IDENTITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "parley/crypto.h"
#include "parley/export.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PL_NAME_MAX 63   /* state name, node name, credential id, role, channel (bytes) */
#define PL_TEXT_MAX 127  /* person's name, title, reason, address (bytes) */
#define PL_ROLES_MAX 8
#define PL_SCOPE_MAX 8
#define PL_STATUS_EVENTS_MAX 4096

/* Names (states, nodes, ids, roles, channels): 1..63 bytes of [a-z0-9._-],
 * starting with a letter or digit. Display names may be any printable UTF-8. */
PL_EXPORT bool pl_name_is_valid(const char *s);

/* ------------------------------------------------------------ trust set */

/* The pinned roots: state name -> root public key.  Opaque. */
typedef struct pl_trust pl_trust;
PL_EXPORT pl_trust *pl_trust_new(void);
PL_EXPORT void pl_trust_free_(pl_trust *t);
#define pl_trust_free(p)                                                                           \
	do {                                                                                       \
		pl_trust_free_(p);                                                                 \
		(p) = NULL;                                                                        \
	} while (0)
/* Pin state's root.  The same pair again is a no-op; another key for a pinned
 * name is PL_ERR_CONFLICT. */
PL_EXPORT int pl_trust_add(pl_trust *t, const char *state, const uint8_t pk[PL_PK_BYTES]) PL_WUR;
/* The pinned key of state, or NULL (borrowed, valid until t is freed). */
PL_EXPORT const uint8_t *pl_trust_find(const pl_trust *t, const char *state);

/* ------------------------------------------------------------ state record */

typedef struct pl_state_rec {
	char name[PL_NAME_MAX + 1];
	uint8_t pk[PL_PK_BYTES]; /* root public key */
	int64_t created;
} pl_state_rec;

/* Encode and sign (self-signed by root, whose pk must equal rec->pk). *out malloc'd. */
PL_EXPORT int pl_state_rec_sign(const pl_state_rec *rec, const pl_keypair *root, uint8_t **out,
				size_t *len) PL_WUR;
/* Decode and verify the self-signature. */
PL_EXPORT int pl_state_rec_open(const uint8_t *buf, size_t len, pl_state_rec *out) PL_WUR;

/* ------------------------------------------------------------ node record */

typedef struct pl_node_rec {
	char state[PL_NAME_MAX + 1];
	char name[PL_NAME_MAX + 1];
	uint8_t pk[PL_PK_BYTES]; /* node key */
	char addr[PL_TEXT_MAX + 1]; /* host:port where peers reach it */
	int64_t not_before, not_after;
} pl_node_rec;

PL_EXPORT int pl_node_rec_sign(const pl_node_rec *rec, const pl_keypair *root, uint8_t **out,
			       size_t *len) PL_WUR;
/* Decode, and verify against the pinned root of rec.state
 * (PL_ERR_UNKNOWN_ROOT if none).  Does not check validity times. */
PL_EXPORT int pl_node_rec_open(const uint8_t *buf, size_t len, const pl_trust *t,
			       pl_node_rec *out) PL_WUR;
/* 0, PL_ERR_NOT_YET_VALID or PL_ERR_EXPIRED at time now. */
PL_EXPORT int pl_node_rec_check_time(const pl_node_rec *rec, int64_t now) PL_WUR;

/* ------------------------------------------------------------ credential */

typedef struct pl_cred {
	char state[PL_NAME_MAX + 1];
	char id[PL_NAME_MAX + 1];   /* unique within the state, e.g. "amb-islamabad" */
	char name[PL_TEXT_MAX + 1]; /* person's name */
	char title[PL_TEXT_MAX + 1];
	char roles[PL_ROLES_MAX][PL_NAME_MAX + 1];
	size_t nroles;
	uint8_t pk[PL_PK_BYTES]; /* the official's own key */
	int64_t not_before, not_after;
	char scope[PL_SCOPE_MAX][PL_NAME_MAX + 1]; /* channels; nscope == 0 means any */
	size_t nscope;
} pl_cred;

PL_EXPORT int pl_cred_sign(const pl_cred *c, const pl_keypair *root, uint8_t **out,
			   size_t *len) PL_WUR;
/* Decode and verify the root signature only (no time, no status). */
PL_EXPORT int pl_cred_open(const uint8_t *buf, size_t len, const pl_trust *t,
			   pl_cred *out) PL_WUR;
PL_EXPORT bool pl_cred_has_role(const pl_cred *c, const char *role);

/* ------------------------------------------------------------ status list */

typedef enum pl_status {
	PL_STATUS_ACTIVE = 0, /* implicit before any event */
	PL_STATUS_SUSPENDED,
	PL_STATUS_RECALLED,
	PL_STATUS_RESTORED,
	PL_STATUS_REVOKED,
} pl_status;

PL_EXPORT const char *pl_status_name(pl_status s); /* "active", "suspended", ... */
PL_EXPORT int pl_status_parse(const char *s, pl_status *out) PL_WUR;

/* One change of one credential's status, effective from time at. */
typedef struct pl_status_event {
	char id[PL_NAME_MAX + 1];
	pl_status status;
	int64_t at;
	char reason[PL_TEXT_MAX + 1];
} pl_status_event;

/*
 * A state's status list: the whole history of status changes, versioned.
 * Version n+1 must contain version n's events unchanged, as a prefix.
 * Allowed changes: active|restored -> suspended|recalled|revoked;
 * suspended -> recalled|restored|revoked; recalled -> restored|revoked;
 * revoked is final; nothing returns to "active" (coming back is
 * "restored", so the history shows the absence).  Per credential,
 * effective times never go backwards.
 */
typedef struct pl_status_list {
	char state[PL_NAME_MAX + 1];
	uint64_t version; /* 0 for an empty, never-signed list */
	int64_t issued;
	pl_status_event *ev; /* owned */
	size_t n;
} pl_status_list;

/* An empty list for state (version 0). */
PL_EXPORT void pl_status_list_init(pl_status_list *l, const char *state);
PL_EXPORT void pl_status_list_clear(pl_status_list *l); /* frees events, zeroes; NULL-safe */
/* Status of id at time t. */
PL_EXPORT pl_status pl_status_at(const pl_status_list *l, const char *id, int64_t t);
/* Append a change after checking it is allowed (PL_ERR_TRANSITION with a
 * detail otherwise) and bump version; issued is set to now.  On failure l is
 * unchanged. */
PL_EXPORT int pl_status_list_append(pl_status_list *l, const char *id, pl_status s, int64_t at,
				    const char *reason, int64_t now) PL_WUR;
PL_EXPORT int pl_status_list_sign(const pl_status_list *l, const pl_keypair *root, uint8_t **out,
				  size_t *len) PL_WUR;
/* Decode and verify (root of l.state must be pinned), including that its
 * history obeys the transition rules. */
PL_EXPORT int pl_status_list_open(const uint8_t *buf, size_t len, const pl_trust *t,
				  pl_status_list *out) PL_WUR;
/* May newer replace held?  0 if so; PL_ERR_STALE for an older or equal
 * version, PL_ERR_CONFLICT if it rewrites held's history (or the same
 * version differs), PL_ERR_WRONG_STATE for another state's list. */
PL_EXPORT int pl_status_list_supersedes(const pl_status_list *newer,
					const pl_status_list *held) PL_WUR;

/* ------------------------------------------------------------ the question */

/*
 * Was the credential in buf valid at time t?  Verifies the root signature
 * against the pinned roots, the validity period, and the status at t in sl
 * (which must be the credential state's list; NULL means no changes known).
 * Returns 0, or exactly one reason: PL_ERR_UNKNOWN_ROOT, PL_ERR_BAD_SIGNATURE,
 * PL_ERR_NOT_YET_VALID, PL_ERR_EXPIRED, PL_ERR_SUSPENDED, PL_ERR_RECALLED,
 * PL_ERR_REVOKED, PL_ERR_WRONG_STATE, or a decoding error.  out (may be NULL)
 * receives the decoded credential whenever the signature verified.
 */
PL_EXPORT int pl_cred_verify(const uint8_t *buf, size_t len, const pl_trust *trust,
			     const pl_status_list *sl, int64_t t, pl_cred *out) PL_WUR;

/*
 * The time and status half of pl_cred_verify(), for a credential already
 * opened (its root signature verified): was c valid at time t, given its
 * state's status list sl (NULL: no changes known)?  label names t in the
 * reason ("checked at", "envelope created").  Same return values.
 */
PL_EXPORT int pl_cred_check(const pl_cred *c, const pl_status_list *sl, int64_t t,
			    const char *label) PL_WUR;

#ifdef __cplusplus
}
#endif
#endif /* PARLEY_IDENTITY_H */
