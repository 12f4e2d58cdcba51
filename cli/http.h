/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The CLI's client of a node's HTTP API (docs/api.md), on libcurl.
 *
 * A cli_node is one connection to one node for the length of one command:
 * it learns the node's name from /healthz, authenticates an official by
 * challenge and signature, sends JSON requests with the bearer token,
 * turns the node's problems (RFC 9457) into one-line errors and exit
 * codes, and follows the server-sent event stream.
 *
 * The official's key file is unsealed here, in this process; the key is
 * never sent anywhere.  Nothing is cached on disk: every command
 * authenticates afresh and its token dies with the process.  No proxy is
 * used (the API is local) and no redirect is followed.  This module does
 * not build or check envelopes or charters: the commands do.
 */
#ifndef PARLEY_CLI_HTTP_H
#define PARLEY_CLI_HTTP_H

#include <stdbool.h>

#include <jansson.h>

#include "cli.h"

typedef struct cli_node cli_node;

enum {
	CLI_NODE_AUTH = 1u << 0,     /* authenticate the official (--as, --key, the state) */
	CLI_NODE_KEEP_KEY = 1u << 1, /* keep the official's key pair for cli_node_key() */
};

/*
 * Connect to the node at ctx->node_url and ask its name (GET /healthz).
 * With CLI_NODE_AUTH, authenticate the official ctx->as_id of the state
 * (the home folder's, else ctx->state_name) with the key file
 * ctx->key_file, unsealed with cli_passphrase().  Errors are reported
 * ("cannot reach the node at URL: ...", a refused authentication with the
 * node's detail) and the exit code returned; on success 0 and *out, to be
 * released with cli_node_free().
 */
int cli_node_open(cli_ctx *ctx, unsigned flags, cli_node **out);

/* Close the connection, wipe the token and the kept key; NULL-safe. */
void cli_node_free(cli_node *n);

/* The node's name (from /healthz); borrowed from n. */
const char *cli_node_name(const cli_node *n);
/* The authenticated official: id and state ("" without CLI_NODE_AUTH). */
const char *cli_node_official(const cli_node *n);
const char *cli_node_state(const cli_node *n);
/* The official's key pair if opened with CLI_NODE_KEEP_KEY, else NULL;
 * borrowed from n (wiped by cli_node_free). */
const pl_keypair *cli_node_key(const cli_node *n);

/* An error answer of the node. */
typedef struct cli_problem {
	long status;      /* the HTTP status; 0 when the node could not be reached */
	char type[64];    /* the problem type's short name ("not-member"), or "http-<status>" */
	char detail[512]; /* its detail (sanitised), or "" */
} cli_problem;

/*
 * Send method ("GET" or "POST") path (e.g. "/v1/channels", already
 * escaped) with body (borrowed JSON, NULL for none) and the token.
 *
 * A 2xx answer: returns 0 and, when out is not NULL, *out is a new
 * reference to the JSON answer.  An error answer: when pb is NULL, prints
 * "parley: <what>: <type>: <detail>"; when pb is not NULL, fills it and
 * prints nothing; either way returns the exit code for it (400 and 413:
 * 2; 401, 403 and 422: 3; 404: 4; others 1).  A transport failure is
 * always reported ("cannot reach the node at URL: ...") and gives 1, with
 * pb->status 0.
 */
int cli_node_call(cli_node *n, const char *method, const char *path, const json_t *body,
		  const char *what, json_t **out, cli_problem *pb);

/* Print "parley: <what>: <type>: <detail>" for pb; returns its exit code. */
int cli_node_report(const cli_problem *pb, const char *what);

/*
 * One server-sent event: type and data (the joined data lines), both
 * borrowed for the call; fn is also called once with type NULL when the
 * stream is open.  Return 0 to go on, 1 to stop.
 */
typedef int (*cli_event_fn)(void *arg, const char *type, const char *data);

/*
 * Follow GET /v1/events (path: "/v1/events" and its query, e.g.
 * "?lanes=FLASH"), calling fn for each event, until fn returns 1 (returns
 * 0), timeout_ms passes (0 means never; returns 0 with *timed_out true), or
 * the stream fails or ends (reported; exit code).
 */
int cli_node_events(cli_node *n, const char *path, long timeout_ms, cli_event_fn fn, void *arg,
		    bool *timed_out);

/*
 * Make text from the node safe to print on a terminal: bytes that could
 * drive it (C0 controls, DEL, and the C1 controls U+0080..U+009F) become
 * '?'; newlines and tabs are kept when multiline.  s is changed in place.
 */
void cli_text_clean(char *s, bool multiline);

/* Copy s (NULL: "") into out (cap > 0 bytes; cut at a UTF-8 character
 * boundary when too long), then cli_text_clean() it. */
void cli_text_copy(char *out, size_t cap, const char *s, bool multiline);

/* The string member key of o, or dflt when o is not an object or the member
 * is absent or not a string; borrowed from o. */
const char *cli_json_str(const json_t *o, const char *key, const char *dflt);

#endif /* PARLEY_CLI_HTTP_H */
