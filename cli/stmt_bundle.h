/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The published form of an adopted joint statement (docs/statements.md):
 * `parley statement publish ID DIR` writes it, `parley verify DIR` checks
 * it offline with nothing but the states' root keys.
 *
 * DIR holds bundle.json (the node's bundle object), statement.txt (the
 * exact text bytes) and, per signing state S, S.minisig and S.pub, which
 * the stock `minisign -V -p S.pub -m statement.txt -x S.minisig` accepts.
 * This module reads and writes those files; it does not talk to a node.
 */
#ifndef PARLEY_CLI_STMT_BUNDLE_H
#define PARLEY_CLI_STMT_BUNDLE_H

#include <stdbool.h>

#include <jansson.h>

#include "parley/identity.h"

#define STMT_BUNDLE_FORMAT "parley-statement-bundle/1"
#define STMT_BUNDLE_MAX    ((size_t)64 << 20) /* bundle.json, bytes */

/*
 * Write bundle (borrowed) into dir: bundle.json (pretty, sorted keys),
 * statement.txt, and S.minisig and S.pub for every entry of "states",
 * derived from the entry's statement-sign envelope and credential.  dir is
 * created (mode 0755) if missing; an existing non-empty dir is refused
 * (PL_ERR_EXISTS) unless force, which replaces the files named above.
 * Every file is written atomically (parley/file.h), after the whole bundle
 * has been read, so a malformed bundle (PL_ERR_MALFORMED, PL_ERR_VERSION,
 * with a detail) writes nothing.  It does not verify signatures: that is
 * stmt_bundle_verify()'s job.  Returns 0 or a negative pl_err.
 */
int stmt_bundle_write(const json_t *bundle, const char *dir, bool force);

/*
 * Check the bundle in dir against roots (the root keys to trust: those
 * given on the command line take precedence over pinned ones, which the
 * caller resolves before calling).  Every check is run and reported; none
 * stops the others unless it leaves nothing to check.  *report (may be
 * NULL) receives a new object:
 *   {"dir", "channel", "stmt", "v", "title", "text_sha256",
 *    "checks": [{"check", "ok", "detail"}],            (bundle-wide)
 *    "states": [{"state", "signer", "ok", "checks": [...]}],
 *    "proofs": [{"n", "ok", "id", "detail"}],
 *    "adopted": bool, "valid": bool,
 *    "failures": ["what failed, one line each"]}
 * Returns 0 when every check passed and the statement is adopted (every
 * charter state validly signed the text); otherwise the code of the first
 * failure (PL_ERR_BAD_SIGNATURE, PL_ERR_CONFLICT, PL_ERR_UNKNOWN_ROOT,
 * PL_ERR_UNSIGNED, ...) with the detail "N checks failed; first: ...";
 * PL_ERR_NOMEM, or PL_ERR_NOT_FOUND / PL_ERR_IO when dir/bundle.json
 * cannot be read (then *report may be NULL).
 */
int stmt_bundle_verify(const char *dir, const pl_trust *roots, json_t **report);

#endif /* PARLEY_CLI_STMT_BUNDLE_H */
