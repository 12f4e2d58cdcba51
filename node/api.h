/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The node's local HTTP API: JSON over libevent's evhttp, with jansson.
 *
 * It authenticates officials by challenge and signature (the node never
 * sees an official's key) and hands out short-lived bearer tokens, routes
 * requests to a backend method table, streams events to subscribers as
 * server-sent events, answers every error as an RFC 9457 problem, and
 * counts what it serves for /metrics.  docs/api.md is the reference for
 * every endpoint.
 *
 * It does not verify or store envelopes, charters or anything else: the
 * backend does (in parleyd, thin wrappers around node/core.h).  Keeping the
 * backend a table of function pointers is what lets tests run the real
 * server against a fake node.  Tokens and challenges live only in memory.
 *
 * Everything runs on the thread of the event base given to api_new().
 */
#ifndef PARLEY_NODE_API_H
#define PARLEY_NODE_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core.h"
#include "parley/buf.h"
#include "parley/identity.h"

struct event_base;
struct sockaddr;

/* Lanes as the backend numbers them (the same as lib/link and nstore). */
enum api_lane {
	API_LANE_FLASH = 1,
	API_LANE_IMMEDIATE = 2,
	API_LANE_PRIORITY = 3,
	API_LANE_ROUTINE = 4,
};

/* Largest envelope accepted by POST /v1/envelopes (decoded bytes). */
#define API_MAX_ENVELOPE ((size_t)2 << 20)
/* Largest signed charter accepted by POST /v1/charters (decoded bytes). */
#define API_MAX_CHARTER ((size_t)256 << 10)
/* Envelopes in one POST /v1/envelopes with "envelopes" (a batch). */
#define API_MAX_BATCH 256

#define API_BACKEND_VERSION 1

/*
 * What the API asks of the node.  Fields are only ever appended; set
 * version to API_BACKEND_VERSION.  Every method is called on the loop
 * thread, synchronously, with be_ctx (from api_new) as its first argument;
 * string arguments are borrowed for the call.  Methods returning json_t *
 * give a new reference (the API takes it), or NULL with *code set to a
 * pl_err (PL_ERR_NOT_FOUND, PL_ERR_UNKNOWN_CHANNEL, ...); NULL with *code
 * left 0 means out of memory.  Every method up to metrics must be set: the
 * API does not check for NULL pointers at call time (api_new refuses a
 * table with one); the methods after it are optional.
 */
typedef struct api_backend {
	unsigned version;
	/* The node's name: part of what officials sign to get a token. */
	const char *node_name;

	/* Verify and durably accept one envelope (node_submit).  Return 0 when
	 * res holds the decision (res->code 0: accepted or duplicate; else the
	 * refusal and res->reason), or a negative pl_err when the node failed
	 * (store, memory): the API answers 500/503 then. */
	int (*submit)(void *be, const uint8_t *env, size_t len, int64_t now,
		      node_submit_result *res);
	/* The channels this node holds (any JSON value). */
	json_t *(*channels)(void *be);
	/* Up to limit (1..500) envelopes of channel ch after cursor (NULL: from
	 * the start): {"items": [...], "next": cursor|null}. */
	json_t *(*channel_page)(void *be, const char *ch, const char *cursor, int limit, int *code);
	/* One envelope by id, with its delivery state. */
	json_t *(*envelope)(void *be, const uint8_t id[PL_HASH_BYTES], int *code);
	/* The node's status (links, queues, transcript size). */
	json_t *(*status)(void *be);
	/* The credential of official id of state if it is known to this node
	 * and active at now: 0 and *out filled, else a negative pl_err. */
	int (*find_official)(void *be, const char *state, const char *id, int64_t now,
			     pl_cred *out);
	/* {"seq": N, "prev": hex|null}: the sequence number and previous
	 * envelope hash for the next envelope of that author on (ch, lane). */
	json_t *(*next_seq)(void *be, const char *state, const char *id, const char *ch, int lane,
			    int *code);
	/* Take a signed charter (or one more state's signature on it).  0, or
	 * a pl_err with a one-line reason written to reason (rlen bytes). */
	int (*submit_charter)(void *be, const uint8_t *p, size_t n, int64_t now, char *reason,
			      size_t rlen);
	/* The charter of channel name and how far it is signed. */
	json_t *(*charter)(void *be, const char *name, int *code);
	/* Append the node's Prometheus text exposition (0.0.4) to out. */
	int (*metrics)(void *be, pl_buf *out);

	/* ---- optional: NULL makes the endpoint answer 404 (no transcript) ---- */
	/* The transcript's status (GET /v1/log). */
	json_t *(*log_status)(void *be, int *code);
	/* The proof-of-receipt bundle of an envelope (GET /v1/log/proof/{id}). */
	json_t *(*log_proof)(void *be, const uint8_t id[PL_HASH_BYTES], int *code);
	/* The transcript's evidence bundle (GET /v1/log/export). */
	json_t *(*log_export)(void *be, int *code);
	/* Optional: submit with a deferred answer (group commit).  When set,
	 * POST /v1/envelopes uses it instead of submit: done(arg, res, rc) is
	 * called exactly once, possibly before this returns; the HTTP answer
	 * is sent from it.  Returns 0 when done was or will be called, else a
	 * pl_err (and done is not called). */
	int (*submit_async)(void *be, const uint8_t *env, size_t len, int64_t now,
			    node_submit_fn done, void *arg);
	/* Optional: officials' work (docs/api.md).  what is "pending" (a1, a2:
	 * the authenticated official's state and id), "requests" (a1 channel),
	 * "request" (a1 the request id, hex), "statements" (a1 channel),
	 * "statement" and "bundle" (a1 channel, a2 statement).  NULL with
	 * *code an HTTP status (404, 409, 500) or a pl_err. */
	json_t *(*view)(void *be, const char *what, const char *a1, const char *a2, int64_t now,
			int *code);
	/* Optional: take a signed status list of this node's state (or any
	 * pinned one) and pass it on to the peers.  0, or a pl_err with a
	 * one-line reason. */
	int (*submit_status)(void *be, const uint8_t *p, size_t n, char *reason, size_t rlen);
} api_backend;

/* Settings; a zeroed struct gives the defaults shown. */
typedef struct api_config {
	/* The clock (Unix seconds) for tokens and challenges; NULL: time(). */
	int64_t (*clock)(void *ctx);
	void *clock_ctx;
	size_t max_envelope;       /* decoded envelope bytes; 0: API_MAX_ENVELOPE */
	size_t max_body;           /* request body bytes answered with a 413 problem;
				    * 0: base64 of max_envelope + 64 KiB.  Bodies over
				    * twice this are cut off by evhttp itself (bare 413). */
	size_t max_headers;        /* 0: 16 KiB (over it evhttp answers a bare 400) */
	int timeout;               /* seconds a client may stall a read or write, and
				    * seconds a connection has to deliver a complete
				    * request after it opened or was last answered; 0: 30 */
	bool metrics_any_address;  /* false: /metrics answers loopback clients only */
	unsigned max_subscribers;  /* concurrent /v1/events streams; 0: 64 */
	size_t sse_max_buffer;     /* unsent bytes per subscriber before it is dropped;
				    * 0: 1 MiB */
	unsigned sse_keepalive_ms; /* comment line interval; 0: 15000 */
	unsigned max_challenges;   /* outstanding challenges, oldest dropped; 0: 1024 */
	unsigned max_tokens;       /* live tokens, oldest dropped; 0: 4096; at most 2^24 */
	unsigned max_connections;  /* open connections at once; 0: 256.  At the limit
				    * the oldest idle connection is closed for a new
				    * one, or the new one is closed when none is idle;
				    * a connection that does not deliver a complete
				    * request within timeout is closed (httpguard.h). */
	/* Whether a client address may read /metrics when metrics_any_address
	 * is false; NULL: api_client_is_local.  Tests, which can only connect
	 * from 127.0.0.1, set it to see the refusal; parleyd leaves it NULL. */
	bool (*client_is_local)(const struct sockaddr *sa);
	/* Answers and events held until the store synced (node/hold.h); NULL:
	 * sent at once.  Not owned. */
	struct hold *hold;
} api_config;

/* Validity of a challenge and of a token, in seconds. */
#define API_CHALLENGE_TTL 60
#define API_TOKEN_TTL     900

typedef struct api api;

/*
 * A new API on base.  be is copied; be_ctx is borrowed and passed to every
 * backend method; cfg (NULL: defaults) is copied.  base must outlive the
 * api.  NULL on out of memory or when be is incomplete (a NULL method or
 * node_name, or a version other than API_BACKEND_VERSION).
 */
api *api_new(struct event_base *base, const api_backend *be, void *be_ctx, const api_config *cfg);

/*
 * Listen on hostport: "127.0.0.1:8080", "[::1]:8080", "localhost:0" (port 0
 * picks a free port; api_port() tells which).  May be called more than
 * once.  0, PL_ERR_INVALID (cannot parse hostport) or PL_ERR_IO (bind or
 * listen failed), with a detail.
 */
int api_listen(api *a, const char *hostport);

/* The port of the first successful api_listen(), or 0. */
int api_port(const api *a);

/*
 * Send one server-sent event to every subscriber of /v1/events:
 * "event: <event>\ndata: <compact JSON of data>\n\n".  data is borrowed.
 * event must be 1..63 bytes of [a-z0-9._-], else nothing is sent.  A
 * subscriber whose unsent output would exceed sse_max_buffer is dropped.
 */
void api_publish(api *a, const char *event, json_t *data);

/* The same as a node_event_fn, so that main.c can write
 * node_set_event_sink(core, api_event_sink, a). */
void api_event_sink(void *a, const char *event, json_t *data);

/* Current number of /v1/events subscribers. */
unsigned api_subscriber_count(const api *a);

/* Current number of open API connections (those the connection limit
 * counts; 0 for NULL). */
unsigned api_connection_count(const api *a);

/*
 * Is sa (borrowed; NULL allowed) a loopback client: IPv4 127.0.0.0/8, IPv6
 * ::1, or an IPv4-mapped IPv6 address in 127.0.0.0/8?  Anything else,
 * other families and NULL included, is not.  /metrics uses this unless
 * api_config says otherwise.
 */
bool api_client_is_local(const struct sockaddr *sa);

/*
 * The exact bytes an official signs to obtain a token (docs/api.md):
 * "parley-api-auth-v1\n" challenge "\n" id "@" state "\n" node "\n",
 * where challenge is the base64 text the API handed out.  Written to out
 * (cap bytes, NUL-terminated); returns its length, or 0 if it does not fit.
 */
size_t api_auth_message(char *out, size_t cap, const char *challenge_b64, const char *state,
			const char *id, const char *node);

/* One routed endpoint, for documentation checks. */
typedef struct api_route_info {
	const char *method; /* "GET" or "POST" */
	const char *path;   /* e.g. "/v1/channels/{name}/envelopes" */
	bool needs_token;
} api_route_info;

/* The route table (static storage); *n receives its length. */
const api_route_info *api_routes(size_t *n);

/*
 * Stop listening, close every connection (subscribers included), drop all
 * tokens and challenges (wiped), and free a.  NULL-safe; sets a to NULL.
 */
void api_free_(api *a);
#define api_free(a)                                                                                \
	do {                                                                                       \
		api_free_(a);                                                                      \
		(a) = NULL;                                                                        \
	} while (0)

#endif /* PARLEY_NODE_API_H */
