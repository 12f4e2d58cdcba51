/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Checking a proof of receipt offline (docs/transcript.md): the JSON
 * object `parley log prove` writes, trusted only through the root keys
 * given.  Used by `parley log check-proof` and by the statement bundle
 * verifier (stmt_bundle.h).  No I/O, no printing.
 */
#ifndef PARLEY_CLI_PROOF_H
#define PARLEY_CLI_PROOF_H

#include <stddef.h>

#include <jansson.h>

#include "parley/identity.h"

/*
 * Check proof (a "parley-proof-of-receipt" version 1 object): its
 * envelope is the one its id names, was made by a member of its
 * channel's charter (complete, signed by every state) with a credential
 * valid at its time (given the bundled status list), and every listed log
 * holds it under a checkpoint signed by a node whose record a root in t
 * signed; at least one of those logs is another state's than the
 * author's (a receipt).  Returns 0, with *result (may be NULL; a new
 * reference) set to {"id", "valid": true, "author", "state", "channel",
 * "created", "logs": [{"state", "node", "index", "size", "receipt",
 * "cosigned_by": [{"state", "node", "time"}]}]}; or a negative pl_err with
 * a one-line reason in why (wlen bytes), *result NULL.  PL_ERR_NOMEM is
 * the only failure that is not a verdict on the proof.  proof and t are
 * borrowed.
 */
int cli_check_proof_json(const json_t *proof, const pl_trust *t, json_t **result, char *why,
			 size_t wlen);

#endif /* PARLEY_CLI_PROOF_H */
