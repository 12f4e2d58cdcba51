/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The node's core: what the API and the peer links ask of the node.  It
 * verifies envelopes (lib/channel), commits them to the node store with
 * the transcript (lib/store), queues them per peer and lane, and tells
 * subscribers what happened.  It does no network I/O itself: node/net.c
 * moves bytes, node/api.c speaks HTTP, node/peer.c drives lib/link.
 *
 * All functions run on the event loop thread.  Times are Unix seconds.
 */
#ifndef PARLEY_NODE_CORE_H
#define PARLEY_NODE_CORE_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "parley/buf.h"
#include "parley/crypto.h"
#include "parley/identity.h"

typedef struct node_core node_core;

/* The store backend node_core_new opens [node] data with; NULL (the
 * default) picks it by the location (SQLite).  Test builds set a
 * fault-injecting wrapper here (tests/faults/faulty_main.c). */
struct pl_store_methods;
extern const struct pl_store_methods *node_store_methods;

/* Named crash points (docs/faults.md, "Crash points"): the node passes
 * each by name; test builds set the hook, which may kill the process on
 * the N-th pass of a point, hold it there a while, or log it (two points
 * are for those alone: checkpoint-slice, control-held).  NULL (the
 * default) makes them no-ops. */
extern void (*node_crash_hook)(const char *point);
static inline void node_crash_point(const char *point)
{
	if (node_crash_hook)
		node_crash_hook(point);
}

/* Outcome of submitting one envelope. */
typedef struct node_submit_result {
	int code;               /* 0 accepted (or already held), else a pl_err reason */
	char reason[256];       /* human-readable reason when code != 0 */
	uint8_t id[PL_HASH_BYTES]; /* SHA-256 of the envelope bytes */
	bool duplicate;         /* the same envelope was already accepted */
	uint64_t position;      /* its index in this node's transcript */
} node_submit_result;

/*
 * Verify and durably accept an envelope signed by an official of this
 * state (from the API).  Returns after the commit: code 0 means it is on
 * disk, in the transcript and queued for every peer of the channel.
 * Resubmitting the same bytes gives the same result with duplicate = true.
 */
int node_submit(node_core *n, const uint8_t *env, size_t len, int64_t now,
		node_submit_result *res);

/* Answer to one submission: rc is 0 (res says accepted, duplicate or
 * refused) or a pl_err when the node failed to store it. */
typedef void (*node_submit_fn)(void *arg, const node_submit_result *res, int rc);
/*
 * The same, answered through done: at once for an envelope already stored
 * or one that does not parse; otherwise it is taken further at the group
 * commit, in the order submissions came (its signature checked meanwhile
 * by the verifier thread, [node] verify_thread), and answered then if
 * refused, else after the commit of the group it joined (all submissions
 * of one event-loop turn, up to [node] commit_batch, share one
 * transaction).  Returns 0 when done was or will be called, else a pl_err
 * (done is then not called).
 */
int node_submit_async(node_core *n, const uint8_t *env, size_t len, int64_t now,
		      node_submit_fn done, void *arg);

/* JSON views for the API; each returns a new reference or NULL (OOM). */
json_t *node_channels_json(node_core *n);
/* Up to limit envelopes of channel ch after cursor (NULL: from the start);
 * {"items": [...], "next": cursor|null}.  NULL with *code set on error. */
json_t *node_channel_page_json(node_core *n, const char *ch, const char *cursor, int limit,
			       int *code);
/* One envelope by id with its delivery state per peer; NULL, *code = PL_ERR_NOT_FOUND. */
json_t *node_envelope_json(node_core *n, const uint8_t id[PL_HASH_BYTES], int *code);
/* {"node":..., "state":..., "links":[...], "queues":{...}, "transcript_size":N} */
json_t *node_status_json(node_core *n);

/* The credential of official id of state, if it is a member of some channel
 * this node holds and valid at now: for API authentication. */
int node_find_official(node_core *n, const char *state, const char *id, int64_t now,
		       pl_cred *out);

/* Events for the API's stream: "envelope", "receipt", "link", "alarm". */
typedef void (*node_event_fn)(void *ctx, const char *type, json_t *data);
/* Register the one event sink (the API); data is borrowed for the call. */
void node_set_event_sink(node_core *n, node_event_fn fn, void *ctx);

/* Prometheus text exposition of the node's metrics, appended to out. */
int node_metrics_text(node_core *n, pl_buf *out);

#endif /* PARLEY_NODE_CORE_H */

/* ---- lifecycle (node/main.c) */
struct event_base;
struct node_config;
/*
 * Build the core from a loaded configuration: open the registry read-only
 * and the node store, load keys and records, pinned peers, status lists
 * and charters.  Errors are logged with their reason; NULL on failure.
 */
node_core *node_core_new(struct node_config *cfg, struct event_base *base);
/* Listen for peers and the API and start dialling peers. 0 or a pl_err. */
int node_core_start(node_core *n);
/* Re-read pinned peers and status lists from the registry (SIGHUP). */
int node_core_reload(node_core *n);
/* Close links politely and stop listening; the loop then ends by itself. */
void node_core_stop(node_core *n);
void node_core_free(node_core *n);
/* The API's view of the core. */
const struct api_backend *node_core_backend(void);
/* Bound ports (after start), for tests and logs. */
int node_core_api_port(const node_core *n);
/* A sync of the store failed and the loop was told to end: exit non-zero. */
bool node_core_failed(const node_core *n);
int node_core_peer_port(const node_core *n);
