/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The API's insides, shared by its files: api.c (routing, replies, bodies,
 * authentication, the other endpoints, events, metrics, setup) and
 * api_env.c (POST /v1/envelopes).  Not for anything outside the API.
 */
#ifndef PARLEY_NODE_API_INT_H
#define PARLEY_NODE_API_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/http.h>
#include <jansson.h>

#include "api.h"
#include "httpguard.h"
#include "parley/err.h"

#define API_HEADERS_DEFAULT      ((size_t)16 << 10)
#define API_TIMEOUT_DEFAULT      30
#define API_SUBSCRIBERS_DEFAULT  64
#define API_SSE_BUFFER_DEFAULT   ((size_t)1 << 20)
#define API_KEEPALIVE_MS_DEFAULT 15000
#define API_CHALLENGES_DEFAULT   1024
#define API_TOKENS_DEFAULT       4096
#define API_TOKENS_MAX           (1u << 24)
#define API_CONNECTIONS_DEFAULT  256
#define API_BODY_SLACK           ((size_t)64 << 10) /* JSON around the base64 */

#define PAGE_DEFAULT   100
#define PAGE_MAX       500
#define CURSOR_MAX     512
#define NONCE_BYTES    32
#define TOKEN_BYTES    32
#define TOKEN_TEXT_MAX 128 /* longer presented tokens are unknown without hashing */
#define PATH_MAX_LEN   1024
#define SEGS_MAX       8
#define SSE_INPUT_MAX  4096 /* what a subscriber may send us before we stop reading */
#define PROBLEM_BASE   "https://parley.invalid/problems/"

/* Status codes counted one by one (api.c's counted_codes), then "other". */
#define NCODES 13

/* Endpoints; the order matches route_info[] and route_fn[]. */
enum route_id {
	R_HEALTHZ,
	R_METRICS,
	R_CHALLENGE,
	R_TOKEN,
	R_ENV_POST,
	R_ENV_GET,
	R_CHANNELS,
	R_CH_PAGE,
	R_CH_NEXT,
	R_STATUS,
	R_CHARTER_POST,
	R_CHARTER_GET,
	R_EVENTS,
	R_LOG,
	R_LOG_PROOF,
	R_LOG_EXPORT,
	R_PENDING,
	R_REQUESTS,
	R_REQUEST,
	R_STATEMENTS,
	R_STATEMENT,
	R_STMT_BUNDLE,
	R_STATUS_POST,
	R_COUNT, /* also: no route matched */
};

/* Why an authentication failed (one counter each; labels in api.c). */
enum auth_fail {
	AF_MISSING_TOKEN,
	AF_UNKNOWN_TOKEN,
	AF_EXPIRED_TOKEN,
	AF_INACTIVE_OFFICIAL,
	AF_UNKNOWN_OFFICIAL,
	AF_UNKNOWN_CHALLENGE,
	AF_EXPIRED_CHALLENGE,
	AF_CHALLENGE_MISMATCH,
	AF_BAD_SIGNATURE,
	AF_COUNT,
};

typedef struct challenge {
	bool live;
	uint8_t nonce[NONCE_BYTES];
	char state[PL_NAME_MAX + 1];
	char id[PL_NAME_MAX + 1];
	int64_t expires;
} challenge;

typedef struct token {
	bool live;
	uint8_t hash[PL_HASH_BYTES]; /* SHA-256 of the token text: the text is never kept */
	char state[PL_NAME_MAX + 1];
	char id[PL_NAME_MAX + 1];
	int64_t expires;
	uint32_t next; /* the next token of its bucket, + 1; 0: none */
} token;

typedef struct sub {
	api *a;
	struct evhttp_request *req;
	unsigned lanes; /* ?lanes=: bit 1 << API_LANE_*; 0: every event */
} sub;

struct api {
	struct event_base *base;
	struct evhttp *http;
	httpguard *guard; /* the connection limit and request deadline */
	api_backend be;
	void *be_ctx;
	api_config cfg;
	int port;

	challenge *ch; /* ring of cfg.max_challenges; the next slot is the oldest */
	size_t ch_next;
	token *tok; /* ring of cfg.max_tokens */
	size_t tok_next;
	uint32_t *tok_bucket; /* by hash: the first token of each bucket, + 1; 0: none */
	uint32_t tok_mask;    /* buckets - 1 (a power of two, at least 2 max_tokens) */

	sub **subs; /* cfg.max_subscribers slots, nsubs used */
	unsigned nsubs;
	struct event *keepalive;
	struct evbuffer *scratch;

	uint64_t requests[R_COUNT + 1][NCODES + 1];
	uint64_t auth_failures[AF_COUNT];
	uint64_t sse_dropped, sse_events;
};

/* One request being answered; lives on the stack of on_request(). */
typedef struct rq {
	api *a;
	struct evhttp_request *req;
	enum route_id route;
	int64_t now;
	const char *arg;  /* the first {placeholder} path segment, if the route has one */
	const char *arg2; /* the second, if it has two */
	char path[PATH_MAX_LEN];
	const char *seg[SEGS_MAX];
	size_t nseg;
	char state[PL_NAME_MAX + 1]; /* the authenticated official */
	char id[PL_NAME_MAX + 1];
} rq;

/* ---- shared by the API's files (api.c) */

/* Answers: each replies once and counts the request. */
void api_reply_json(rq *r, int status, json_t *body); /* body taken */
void api_reply_problem(rq *r, int status, const char *name, const char *title, const char *fmt, ...)
    PL_PRINTF(5, 6);
void api_reply_bad_request(rq *r, const char *fmt, ...) PL_PRINTF(2, 3);
void api_reply_code(rq *r, int status, int code, const char *detail);
/* The HTTP status of a backend's pl_err that is the node's fault (500,
 * 503), else 0; and the detail to tell for it. */
int api_server_status(int code);
const char *api_backend_detail(int code);
/* A JSON string for s; bytes that are not valid UTF-8 become '?'. */
json_t *api_json_text(const char *s);

/* Request bodies: each replies (415, 413, 400) and returns NULL / false. */
bool api_has_content_type(struct evhttp_request *req, const char *want);
const uint8_t *api_body_bytes(rq *r, const char *expected, size_t *len);
json_t *api_read_json_body(rq *r);
bool api_b64_text(rq *r, const char *s, size_t n, const char *what, size_t max, uint8_t **out,
		  size_t *len);
bool api_field_b64(rq *r, json_t *o, const char *key, size_t max, uint8_t **out, size_t *len);

/* ---- api_env.c */

/* POST /v1/envelopes. */
void api_h_env_post(rq *r);

#endif
