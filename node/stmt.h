/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Joint statements on the node (docs/statements.md): the envelope kinds
 * "statement" (a version of a draft) and "statement-sign" (a state's
 * signatory signing one version's exact text), as lib/channel's
 * statement.h defines them.
 *
 * Every node runs the same checks on every such envelope, its own
 * officials' (API) and its peers' alike, before it is stored: a version
 * must follow the previous one of that statement (v = last + 1, prev = the
 * last version's hash; the first has v = 1 and no prev); a signature must
 * name a version the node holds, carry that version's text hash, verify
 * with the author's key (pl_stmt_sig_verify), and come from a credential
 * with role "signatory"; each state signs a statement at most once per
 * version.  After storing, the statement's record (NSTORE_STMT, key
 * "CH/STMT", JSON) is updated in the same transaction; a statement is
 * adopted when every state of the channel's charter has signed the same
 * text hash (pl_stmt_check_adopted).
 *
 * It reads the store and the held charters; it does no I/O of its own.
 */
#ifndef PARLEY_NODE_STMT_H
#define PARLEY_NODE_STMT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core.h"
#include "parley/channel.h"

/*
 * May env (verified by pl_env_verify, kind "statement" or
 * "statement-sign") be accepted?  0, or a negative pl_err with a detail set
 * (pl_err_fail) that says precisely why not: PL_ERR_SEQUENCE for a version
 * out of order or not chained to the last, PL_ERR_NOT_FOUND for a
 * signature of a version the node does not hold, PL_ERR_CONFLICT for a
 * text hash that is not that version's, PL_ERR_BAD_SIGNATURE for a
 * minisign part that does not verify, PL_ERR_NOT_MEMBER for an author
 * without role "signatory", PL_ERR_EXISTS for a second signature of a
 * state on one version, PL_ERR_MALFORMED for a body that does not decode.
 * Other kinds: 0.  Reads only.
 */
int stmt_check(node_core *n, const pl_env *env);

/*
 * Record env (already stored under id, inside the caller's transaction):
 * update the statement's record, and when this envelope made it adopted,
 * note it (the caller emits events after the commit; see stmt_take_events).
 * Other kinds: 0.  On failure the caller rolls back.
 */
int stmt_apply(node_core *n, const pl_env *env, const uint8_t id[PL_HASH_BYTES], int64_t now);

/* Events stmt_apply noted since the last call ("statement" with
 * {"channel","stmt","v","adopted"}), as a JSON array the caller owns, or
 * NULL when none. */
json_t *stmt_take_events(node_core *n);

/*
 * Views for the API (code: HTTP status on NULL: 404 unknown channel or
 * statement, 409 a bundle of a statement not adopted, 500 store errors).
 *   stmt_list_json:   {"statements":[SUMMARY...]} of a channel
 *   stmt_json:        SUMMARY plus "texts": {"1": TEXT, ...}
 *   stmt_bundle_json: the bundle of docs/statements.md ("Bundle"), of the
 *                     adopted version
 * SUMMARY: {"channel","stmt","title","versions":[{"v","hash","text_sha256",
 * "id","state","author","at"}],"signatures":[{"state","signer","v",
 * "text_sha256","id","at"}],"adopted":{"v","text_sha256","at"}|null}
 */
json_t *stmt_list_json(node_core *n, const char *ch, int *code);
json_t *stmt_json(node_core *n, const char *ch, const char *stmt, int *code);
json_t *stmt_bundle_json(node_core *n, const char *ch, const char *stmt, int *code);
/* Every adopted statement of every channel, newest adoption first, at
 * most limit: SUMMARY objects (for the public feed). */
json_t *stmt_adopted_json(node_core *n, size_t limit);

#endif /* PARLEY_NODE_STMT_H */
