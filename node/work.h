/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Officials' work on the node (docs/workflows.md): what an accepted
 * envelope means beyond being stored and delivered.
 *
 *   forms       "incident", "request", "request-step" bodies are checked
 *               against their schemas (lib/channel forms.h) on every node;
 *               a request names another state of the charter; a step must
 *               be a legal transition of its request, taken by the right
 *               side.  Each request's status and history is kept
 *               (NSTORE_REQUEST).
 *   receipts    "read" and "ack" envelopes (ref = the envelope read or
 *               acknowledged) are recorded against that envelope
 *               (NSTORE_ACKS), shown with it, and an "ack" by an official
 *               of the receiving state stops its escalation.
 *   deadlines   an envelope whose lane the charter's rule says must be
 *               acknowledged (pl_charter_rule), or which carries its own
 *               ackby, gets a stored deadline (NSTORE_DUE) on every node
 *               of the channel other than its author's... and on the
 *               author's too: both sides run the same schedule from the
 *               same signed facts (created time, ackby, charter rule), so
 *               both record each escalation without a message of its own.
 *               Only the receiving side alerts (event, log line, metric,
 *               [node] escalate_command).  Deadlines are rows, not timers:
 *               they survive restarts, and one that passed while the node
 *               was down fires at the first tick after start.
 *   statements  delegated to node/stmt.c.
 *
 * work_check and work_apply run on every envelope the node accepts, its
 * own officials' and its peers' alike, inside the accepting transaction;
 * events are published by work_flush after the commit.
 */
#ifndef PARLEY_NODE_WORK_H
#define PARLEY_NODE_WORK_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "core.h"
#include "parley/channel.h"

/* May env (verified) be accepted?  0, or a pl_err with a precise detail. */
int work_check(node_core *n, const pl_env *env);

/* Record what env (stored under id) means, in the open transaction. */
int work_apply(node_core *n, const pl_env *env, const uint8_t id[PL_HASH_BYTES], int64_t now);

/* After the transaction: publish (committed) or drop the events noted. */
void work_flush(node_core *n, bool committed);

/* Fire the deadlines that are due (each in its own transaction). */
void work_tick(node_core *n, int64_t now);

/* Views.  The reads, acks and escalations of an envelope ({} when none);
 * what the node's state must acknowledge ({"pending":[...]}, oldest
 * deadline first); a request's record (code 404 when unknown). */
json_t *work_acks_json(node_core *n, const uint8_t id[PL_HASH_BYTES]);
json_t *work_pending_json(node_core *n, int64_t now);
json_t *work_request_json(node_core *n, const char *ch, const char *id_hex, int *code);
json_t *work_requests_json(node_core *n, const char *ch, int *code);
/* The acknowledgement rule of each allowed lane of c, defaults included:
 * {"FLASH": {"ack", "levels": [{"notify", "after", "repeat"}], "default"},
 * "PRIORITY": null, ...} (the same shape `parley channel show` prints for a
 * charter file). */
json_t *work_policy_json(const pl_charter *c);
/* Counters for /metrics (Prometheus text appended to out). */
int work_metrics_text(node_core *n, pl_buf *out);

#endif /* PARLEY_NODE_WORK_H */
