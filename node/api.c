/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The node's local HTTP API (api.h; every endpoint is described in
 * docs/api.md).  evhttp parses HTTP; this file routes, authenticates,
 * checks and decodes requests, calls the backend table, and turns every
 * outcome into JSON or an RFC 9457 problem.  It keeps tokens, challenges,
 * event subscribers and request counters in memory, and nothing else: it
 * never verifies an envelope or touches the store itself.  How many
 * connections may be open, and how long a request may take to arrive, is
 * node/httpguard.h's business (it owns every connection's closecb).
 *
 * Divisions, in order: settings and small helpers; replies and counters;
 * request bodies and parameters; authentication; endpoint handlers;
 * server-sent events; metrics; routing; setup and teardown.  Put new code
 * in the division it belongs to.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/util.h>
#include <jansson.h>

#include "api_int.h"
#include "config.h"
#include "hold.h"
#include "httpguard.h"
#include "parley/channel.h"
#include "parley/crypto.h"
#include "parley/err.h"

/* ================================================================ settings and small helpers */

static const char *const auth_fail_label[AF_COUNT] = {
    "missing-token",     "unknown-token",      "expired-token",
    "inactive-official", "unknown-official",   "unknown-challenge",
    "expired-challenge", "challenge-mismatch", "bad-signature",
};

/* Status codes counted individually; anything else is counted as "other". */
static const int counted_codes[] = {200, 201, 202, 400, 401, 403, 404,
				    405, 413, 415, 422, 500, 503};
_Static_assert(sizeof(counted_codes) / sizeof(counted_codes[0]) == NCODES, "api_int.h's NCODES");

static int64_t clock_default(void *ctx)
{
	(void)ctx;
	return (int64_t)time(NULL);
}

static int64_t api_now(const api *a)
{
	return a->cfg.clock(a->cfg.clock_ctx);
}

/* Copy a name that pl_name_is_valid() accepted (so it fits). */
static void copy_name(char dst[PL_NAME_MAX + 1], const char *src)
{
	size_t n = strlen(src);
	if (n > PL_NAME_MAX)
		n = PL_NAME_MAX;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* A JSON string for s; bytes that are not valid UTF-8 become '?'. */
json_t *api_json_text(const char *s)
{
	json_t *j = json_string(s ? s : "");
	if (j)
		return j;
	size_t n = strlen(s);
	char *t = malloc(n + 1);
	if (!t)
		return NULL;
	for (size_t i = 0; i < n; i++)
		t[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	t[n] = '\0';
	j = json_string(t);
	free(t);
	return j;
}

static const char *method_name(enum evhttp_cmd_type m)
{
	switch (m) {
	case EVHTTP_REQ_GET:
		return "GET";
	case EVHTTP_REQ_POST:
		return "POST";
	case EVHTTP_REQ_HEAD:
		return "HEAD";
	case EVHTTP_REQ_PUT:
		return "PUT";
	case EVHTTP_REQ_DELETE:
		return "DELETE";
	case EVHTTP_REQ_OPTIONS:
		return "OPTIONS";
	case EVHTTP_REQ_PATCH:
		return "PATCH";
	default:
		return "?";
	}
}

/* ================================================================ replies and counters */

static const char *status_phrase(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 201:
		return "Created";
	case 202:
		return "Accepted";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 413:
		return "Content Too Large";
	case 415:
		return "Unsupported Media Type";
	case 422:
		return "Unprocessable Content";
	case 503:
		return "Service Unavailable";
	default:
		return "Internal Server Error";
	}
}

static void count_reply(rq *r, int status)
{
	size_t c = NCODES;
	for (size_t i = 0; i < NCODES; i++)
		if (counted_codes[i] == status)
			c = i;
	r->a->requests[r->route][c]++;
}

/* Send status with body (len bytes, copied) of content type ctype. */
static void reply_raw(rq *r, int status, const char *ctype, const char *body, size_t len)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(r->req);
	evhttp_add_header(h, "Content-Type", ctype);
	evhttp_add_header(h, "Cache-Control", "no-store");
	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
	struct evbuffer *b = r->a->scratch;
	evbuffer_drain(b, evbuffer_get_length(b));
	if (len && evbuffer_add(b, body, len) != 0) {
		/* Cannot build the body: an empty 500 is all that is left. */
		status = 500;
		evbuffer_drain(b, evbuffer_get_length(b));
	}
	count_reply(r, status);
	hold_reply(r->a->cfg.hold, r->req, status, status_phrase(status), b);
}

/* Send an RFC 9457 problem: type PROBLEM_BASE name, the title, status, and detail. */
void api_reply_problem(rq *r, int status, const char *name, const char *title, const char *fmt, ...)
{
	char detail[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	if (n < 0)
		detail[0] = '\0';
	char type[128];
	snprintf(type, sizeof(type), PROBLEM_BASE "%s", name);

	json_t *j = json_pack("{s:s, s:s, s:i, s:o*}", "type", type, "title", title, "status",
			      status, "detail", api_json_text(detail));
	char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (status == 401)
		evhttp_add_header(evhttp_request_get_output_headers(r->req), "WWW-Authenticate",
				  "Bearer realm=\"parley\"");
	if (s)
		reply_raw(r, status, "application/problem+json", s, strlen(s));
	else
		reply_raw(r, 500, "application/problem+json", "", 0);
	free(s);
}

/* A problem whose type is the pl_err name of code and whose title its sentence. */
void api_reply_code(rq *r, int status, int code, const char *detail)
{
	api_reply_problem(r, status, pl_err_name(code), pl_strerror(code), "%s",
			  detail && *detail ? detail : pl_strerror(code));
}

void api_reply_bad_request(rq *r, const char *fmt, ...)
{
	char detail[400];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	if (n < 0)
		detail[0] = '\0';
	api_reply_problem(r, 400, "bad-request", "Bad request", "%s", detail);
}

static void reply_unauthorized(rq *r, enum auth_fail why, const char *detail)
{
	r->a->auth_failures[why]++;
	api_reply_code(r, 401, PL_ERR_AUTH, detail);
}

/* find_official said no: say why (not issued, expired, suspended, recalled
 * since when, revoked), as the backend's detail has it. */
static void inactive(rq *r)
{
	char d[320];
	const char *why = pl_err_detail();
	if (*why)
		snprintf(d, sizeof(d), "unknown or inactive official: %s", why);
	else
		snprintf(d, sizeof(d), "unknown or inactive official");
	reply_unauthorized(r, AF_UNKNOWN_OFFICIAL, d);
}

/* Send body (taken) as JSON; NULL body means the node ran out of memory. */
void api_reply_json(rq *r, int status, json_t *body)
{
	char *s = body ? json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
	json_decref(body);
	if (!s) {
		api_reply_code(r, 500, PL_ERR_NOMEM, NULL);
		return;
	}
	reply_raw(r, status, "application/json", s, strlen(s));
	free(s);
}

/* Failures of the node itself rather than of the request. */
int api_server_status(int code)
{
	switch (code) {
	case PL_ERR_BUSY:
		return 503;
	case PL_ERR_NOMEM:
	case PL_ERR_INVALID:
	case PL_ERR_IO:
	case PL_ERR_INTERNAL:
	case PL_ERR_CRYPTO:
	case PL_ERR_STORE:
	case PL_ERR_SCHEMA:
		return 500;
	default:
		return 0;
	}
}

/* The detail the backend left, else code's sentence. */
const char *api_backend_detail(int code)
{
	const char *d = pl_err_detail();
	return *d ? d : pl_strerror(code);
}

/* Answer a read-only backend call: j (taken) or the problem for *code. */
static void reply_backend(rq *r, json_t *j, int code)
{
	if (j) {
		api_reply_json(r, 200, j);
		return;
	}
	if (code == 0)
		code = PL_ERR_NOMEM;
	int status = api_server_status(code);
	if (!status) {
		if (code == PL_ERR_NOT_FOUND || code == PL_ERR_UNKNOWN_CHANNEL)
			status = 404;
		else if (code == PL_ERR_NOT_MEMBER)
			status = 403;
		else
			status = 400;
	}
	api_reply_code(r, status, code, api_backend_detail(code));
}

/* ================================================================ request bodies and parameters */

/* Is the request's Content-Type want (parameters allowed)? */
bool api_has_content_type(struct evhttp_request *req, const char *want)
{
	const char *ct = evhttp_find_header(evhttp_request_get_input_headers(req), "Content-Type");
	if (!ct)
		return false;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	size_t n = strlen(want);
	if (evutil_ascii_strncasecmp(ct, want, n) != 0)
		return false;
	ct += n;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	return *ct == '\0' || *ct == ';';
}

/* The request body, at most max_body and not empty (expected: what it should
 * hold, for the message), or NULL after replying 413 or 400. */
const uint8_t *api_body_bytes(rq *r, const char *expected, size_t *len)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(r->req);
	*len = evbuffer_get_length(in);
	if (*len > r->a->cfg.max_body) {
		api_reply_problem(r, 413, "too-large", "Request too large",
				  "the body is %zu bytes; the limit is %zu", *len,
				  r->a->cfg.max_body);
		return NULL;
	}
	if (*len == 0) {
		api_reply_bad_request(r, "the body is empty; %s is expected", expected);
		return NULL;
	}
	const uint8_t *p = evbuffer_pullup(in, -1);
	if (!p)
		api_reply_code(r, 500, PL_ERR_NOMEM, NULL);
	return p;
}

/* The request body as a JSON object (a new reference), or NULL after
 * replying 415, 413 or 400. */
json_t *api_read_json_body(rq *r)
{
	if (!api_has_content_type(r->req, "application/json")) {
		api_reply_problem(r, 415, "unsupported-media-type", "Unsupported media type",
				  "send the body as Content-Type: application/json");
		return NULL;
	}
	size_t len = 0;
	const char *p = (const char *)api_body_bytes(r, "a JSON object", &len);
	if (!p)
		return NULL;
	json_error_t err;
	json_t *j = json_loadb(p, len, JSON_REJECT_DUPLICATES, &err);
	if (!j) {
		api_reply_bad_request(r, "invalid JSON at line %d, column %d: %s", err.line,
				      err.column, err.text);
		return NULL;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		api_reply_bad_request(r, "the body must be a JSON object");
		return NULL;
	}
	return j;
}

/* The string field key of o (1..max bytes, no NUL), or NULL after replying 400. */
static const char *field_str(rq *r, json_t *o, const char *key, size_t max)
{
	json_t *v = json_object_get(o, key);
	if (!v) {
		api_reply_bad_request(r, "missing field \"%s\"", key);
		return NULL;
	}
	if (!json_is_string(v)) {
		api_reply_bad_request(r, "field \"%s\" must be a string", key);
		return NULL;
	}
	const char *s = json_string_value(v);
	size_t n = json_string_length(v);
	if (n == 0 || n > max || strlen(s) != n) {
		api_reply_bad_request(r, "field \"%s\" must be 1 to %zu characters", key, max);
		return NULL;
	}
	return s;
}

/* The name field key of o (pl_name_is_valid), or NULL after replying 400. */
static const char *field_name(rq *r, json_t *o, const char *key)
{
	const char *s = field_str(r, o, key, PL_NAME_MAX);
	if (s && !pl_name_is_valid(s)) {
		api_reply_bad_request(r, "field \"%s\" is not a valid name (a-z 0-9 . _ -)", key);
		return NULL;
	}
	return s;
}

/* Decode the base64 text s (n bytes) named what (in messages, e.g. "field
 * \"envelope\"") into a fresh buffer of at most max bytes; false after
 * replying 400 or 413. */
bool api_b64_text(rq *r, const char *s, size_t n, const char *what, size_t max, uint8_t **out,
		  size_t *len)
{
	*out = NULL;
	*len = 0;
	if (n / 4 * 3 > max + 2) {
		api_reply_problem(r, 413, "too-large", "Request too large",
				  "%s decodes to more than %zu bytes", what, max);
		return false;
	}
	size_t cap = n / 4 * 3 + 1; /* room for whatever s can decode to */
	uint8_t *buf = malloc(cap);
	if (!buf) {
		api_reply_code(r, 500, PL_ERR_NOMEM, NULL);
		return false;
	}
	int rc = pl_b64_decode(buf, cap < max ? cap : max, len, s, n);
	if (rc == PL_ERR_LIMIT) {
		free(buf);
		api_reply_problem(r, 413, "too-large", "Request too large",
				  "%s decodes to more than %zu bytes", what, max);
		return false;
	}
	if (rc != 0 || *len == 0) {
		free(buf);
		api_reply_bad_request(r,
				      "%s is not standard base64 (RFC 4648, padded) of a non-empty "
				      "value",
				      what);
		return false;
	}
	*out = buf;
	return true;
}

/* Decode the base64 field key of o into a new buffer (*out, *len; free it),
 * at most max bytes; false after replying 400 (missing, not base64) or 413. */
bool api_field_b64(rq *r, json_t *o, const char *key, size_t max, uint8_t **out, size_t *len)
{
	*out = NULL;
	*len = 0;
	const char *s = field_str(r, o, key, SIZE_MAX / 2);
	if (!s)
		return false;
	char what[64];
	snprintf(what, sizeof(what), "field \"%s\"", key);
	return api_b64_text(r, s, strlen(s), what, max, out, len);
}

/* A decimal number 1..max: digits only, no sign or spaces. */
static bool parse_count(const char *s, long max, long *out)
{
	if (!s || !*s || strlen(s) > 9)
		return false;
	for (const char *p = s; *p; p++)
		if (*p < '0' || *p > '9')
			return false;
	char *end = NULL;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || *end || v < 1 || v > max)
		return false;
	*out = v;
	return true;
}

/* The query parameters of the request into kv (clear it after); false on malformed. */
static bool parse_query(rq *r, struct evkeyvalq *kv)
{
	kv->tqh_first = NULL; /* TAILQ_INIT: sys/queue.h is not ours to include */
	kv->tqh_last = &kv->tqh_first;
	const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(r->req);
	const char *q = u ? evhttp_uri_get_query(u) : NULL;
	if (!q)
		return true;
	return evhttp_parse_query_str(q, kv) == 0;
}

/* ================================================================ authentication */

size_t api_auth_message(char *out, size_t cap, const char *challenge_b64, const char *state,
			const char *id, const char *node)
{
	int n = snprintf(out, cap, "parley-api-auth-v1\n%s\n%s@%s\n%s\n", challenge_b64, id, state,
			 node);
	if (n < 0 || (size_t)n >= cap) {
		if (cap)
			out[0] = '\0';
		return 0;
	}
	return (size_t)n;
}

static void token_hash(uint8_t out[PL_HASH_BYTES], const char *text, size_t len)
{
	pl_sha256(out, (const uint8_t *)text, len);
}

/*
 * Tokens are found by their hash through buckets (chains through the
 * ring), not by a scan of the whole ring: that was 4,096 comparisons and
 * ~700 KB read per request, 4% of a busy node's CPU.  A lookup's time
 * tells at most whether another token's hash shares the presented one's
 * bucket: nothing of any token's text.
 */
static uint32_t *token_bucket(api *a, const uint8_t h[PL_HASH_BYTES])
{
	uint32_t x =
	    (uint32_t)h[0] | (uint32_t)h[1] << 8 | (uint32_t)h[2] << 16 | (uint32_t)h[3] << 24;
	return &a->tok_bucket[x & a->tok_mask];
}

/* Take the token in slot i (live) out of its bucket, and wipe it. */
static void token_drop(api *a, token *t)
{
	if (t->live) {
		uint32_t me = (uint32_t)(t - a->tok) + 1;
		for (uint32_t *p = token_bucket(a, t->hash); *p; p = &a->tok[*p - 1].next)
			if (*p == me) {
				*p = t->next;
				break;
			}
	}
	pl_wipe(t, sizeof(*t));
}

/* The live token whose text is text[0..len), or NULL. */
static token *token_find(api *a, const char *text, size_t len)
{
	if (len == 0 || len > TOKEN_TEXT_MAX)
		return NULL;
	uint8_t h[PL_HASH_BYTES];
	token_hash(h, text, len);
	for (uint32_t k = *token_bucket(a, h); k; k = a->tok[k - 1].next)
		if (pl_ct_equal(a->tok[k - 1].hash, h, sizeof(h)))
			return &a->tok[k - 1];
	return NULL;
}

/*
 * Check the request's bearer token and that its official is still active;
 * on success copy the official into r.  false after replying 401.
 */
static bool authenticate(rq *r)
{
	api *a = r->a;
	const char *h =
	    evhttp_find_header(evhttp_request_get_input_headers(r->req), "Authorization");
	static const char scheme[] = "Bearer ";
	if (!h || evutil_ascii_strncasecmp(h, scheme, sizeof(scheme) - 1) != 0) {
		reply_unauthorized(r, AF_MISSING_TOKEN,
				   "missing bearer token (send Authorization: Bearer <token>)");
		return false;
	}
	const char *t = h + sizeof(scheme) - 1;
	while (*t == ' ')
		t++;
	size_t len = strlen(t);
	while (len && (t[len - 1] == ' ' || t[len - 1] == '\t'))
		len--;
	if (len == 0) {
		reply_unauthorized(r, AF_MISSING_TOKEN,
				   "missing bearer token (send Authorization: Bearer <token>)");
		return false;
	}
	token *tk = token_find(a, t, len);
	if (!tk) {
		reply_unauthorized(r, AF_UNKNOWN_TOKEN,
				   "unknown token (tokens do not survive a node restart)");
		return false;
	}
	if (r->now >= tk->expires) {
		reply_unauthorized(r, AF_EXPIRED_TOKEN, "token expired; ask for a new challenge");
		return false;
	}
	pl_cred cred;
	pl_err_clear_detail();
	if (a->be.find_official(a->be_ctx, tk->state, tk->id, r->now, &cred) != 0) {
		token_drop(a, tk);
		reply_unauthorized(r, AF_INACTIVE_OFFICIAL, "official no longer active");
		return false;
	}
	copy_name(r->state, tk->state);
	copy_name(r->id, tk->id);
	return true;
}

/* ================================================================ endpoint handlers */

static void h_healthz(rq *r)
{
	api_reply_json(
	    r, 200,
	    json_pack("{s:s, s:o*}", "status", "ok", "node", api_json_text(r->a->be.node_name)));
}

bool api_client_is_local(const struct sockaddr *sa)
{
	if (!sa)
		return false;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)(const void *)sa;
		return (ntohl(s4->sin_addr.s_addr) >> 24) == 127;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)(const void *)sa;
		const uint8_t *b = s6->sin6_addr.s6_addr;
		if (IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr))
			return true;
		return IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr) && b[12] == 127;
	}
	return false;
}

static int metrics_api_text(api *a, pl_buf *out);

static void h_metrics(rq *r)
{
	api *a = r->a;
	struct evhttp_connection *c = evhttp_request_get_connection(r->req);
	if (!a->cfg.metrics_any_address &&
	    !a->cfg.client_is_local(c ? evhttp_connection_get_addr(c) : NULL)) {
		api_reply_problem(r, 403, "forbidden", "Forbidden",
				  "/metrics answers loopback clients only on this node");
		return;
	}
	pl_buf b = {0};
	pl_err_clear_detail();
	int rc = a->be.metrics(a->be_ctx, &b);
	if (rc == 0 && b.len && b.data[b.len - 1] != '\n')
		rc = pl_buf_append_str(&b, "\n");
	if (rc == 0)
		rc = metrics_api_text(a, &b);
	if (rc != 0)
		api_reply_code(r, 500, rc, api_backend_detail(rc));
	else
		reply_raw(r, 200, "text/plain; version=0.0.4; charset=utf-8", (const char *)b.data,
			  b.len);
	pl_buf_clear(&b);
}

static void h_challenge(rq *r)
{
	api *a = r->a;
	json_t *body = api_read_json_body(r);
	if (!body)
		return;
	const char *state = field_name(r, body, "state");
	const char *id = state ? field_name(r, body, "id") : NULL;
	if (!id)
		goto out;
	pl_cred cred;
	pl_err_clear_detail();
	if (a->be.find_official(a->be_ctx, state, id, r->now, &cred) != 0) {
		inactive(r);
		goto out;
	}
	challenge *c = &a->ch[a->ch_next];
	a->ch_next = (a->ch_next + 1) % a->cfg.max_challenges;
	pl_wipe(c, sizeof(*c)); /* the oldest challenge, if any, is dropped */
	pl_random(c->nonce, sizeof(c->nonce));
	copy_name(c->state, state);
	copy_name(c->id, id);
	c->expires = r->now + API_CHALLENGE_TTL;
	c->live = true;
	char b64[64];
	pl_b64_encode(b64, c->nonce, sizeof(c->nonce));
	api_reply_json(
	    r, 200, json_pack("{s:s, s:I}", "challenge", b64, "expires", (json_int_t)c->expires));
out:
	json_decref(body);
}

/* Standard base64 of 32 bytes, turned into unpadded base64url (43 characters). */
static void token_text(char out[64], const uint8_t raw[TOKEN_BYTES])
{
	pl_b64_encode(out, raw, TOKEN_BYTES);
	size_t j = 0;
	for (size_t i = 0; out[i]; i++) {
		char c = out[i];
		if (c == '=')
			break;
		out[j++] = c == '+' ? '-' : c == '/' ? '_' : c;
	}
	out[j] = '\0';
}

static void h_token(rq *r)
{
	api *a = r->a;
	json_t *body = api_read_json_body(r);
	if (!body)
		return;
	const char *state = field_name(r, body, "state");
	const char *id = state ? field_name(r, body, "id") : NULL;
	const char *chal = id ? field_str(r, body, "challenge", 64) : NULL;
	const char *sig_b64 = chal ? field_str(r, body, "signature", 128) : NULL;
	if (!sig_b64)
		goto out;

	uint8_t nonce[NONCE_BYTES], sig[PL_SIG_BYTES];
	size_t n = 0;
	if (pl_b64_decode(nonce, sizeof(nonce), &n, chal, strlen(chal)) != 0 ||
	    n != sizeof(nonce)) {
		api_reply_bad_request(r, "field \"challenge\" is not the base64 of 32 bytes");
		goto out;
	}
	if (pl_b64_decode(sig, sizeof(sig), &n, sig_b64, strlen(sig_b64)) != 0 ||
	    n != sizeof(sig)) {
		api_reply_bad_request(r, "field \"signature\" is not the base64 of a 64-byte "
					 "Ed25519 signature");
		goto out;
	}

	challenge *c = NULL;
	for (size_t i = 0; i < a->cfg.max_challenges; i++)
		if (a->ch[i].live && pl_ct_equal(a->ch[i].nonce, nonce, sizeof(nonce)))
			c = &a->ch[i];
	if (!c) {
		reply_unauthorized(r, AF_UNKNOWN_CHALLENGE, "unknown or already used challenge");
		goto out;
	}
	/* Single use: whatever happens next, this challenge is spent. */
	challenge held = *c;
	pl_wipe(c, sizeof(*c));
	if (r->now >= held.expires) {
		reply_unauthorized(r, AF_EXPIRED_CHALLENGE, "challenge expired");
		goto wipe;
	}
	if (strcmp(held.state, state) != 0 || strcmp(held.id, id) != 0) {
		reply_unauthorized(r, AF_CHALLENGE_MISMATCH,
				   "challenge was issued for another official");
		goto wipe;
	}
	pl_cred cred;
	pl_err_clear_detail();
	if (a->be.find_official(a->be_ctx, state, id, r->now, &cred) != 0) {
		inactive(r);
		goto wipe;
	}
	char canon[64], msg[512];
	pl_b64_encode(canon, held.nonce, sizeof(held.nonce));
	size_t mlen = api_auth_message(msg, sizeof(msg), canon, state, id, a->be.node_name);
	if (mlen == 0) {
		api_reply_code(r, 500, PL_ERR_INTERNAL, "node name too long for the auth message");
		goto wipe;
	}
	if (pl_verify(sig, (const uint8_t *)msg, mlen, cred.pk) != 0) {
		reply_unauthorized(r, AF_BAD_SIGNATURE, "signature does not verify");
		goto wipe;
	}

	uint8_t raw[TOKEN_BYTES];
	char text[64];
	pl_random(raw, sizeof(raw));
	token_text(text, raw);
	token *t = &a->tok[a->tok_next];
	a->tok_next = (a->tok_next + 1) % a->cfg.max_tokens;
	token_drop(a, t); /* the oldest token, if any */
	token_hash(t->hash, text, strlen(text));
	copy_name(t->state, state);
	copy_name(t->id, id);
	t->expires = r->now + API_TOKEN_TTL;
	t->live = true;
	uint32_t *bucket = token_bucket(a, t->hash);
	t->next = *bucket;
	*bucket = (uint32_t)(t - a->tok) + 1;
	api_reply_json(r, 200,
		       json_pack("{s:s, s:I}", "token", text, "expires", (json_int_t)t->expires));
	pl_wipe(raw, sizeof(raw));
	pl_wipe(text, sizeof(text));
wipe:
	pl_wipe(&held, sizeof(held));
out:
	json_decref(body);
}

/* The {id} path segment as an envelope id; false (answered 400 with why)
 * when it is not 64 hex digits. */
static bool id_arg(rq *r, uint8_t id[PL_HASH_BYTES], const char *why)
{
	size_t n = 0;
	if (strlen(r->arg) == 2 * PL_HASH_BYTES &&
	    pl_hex_decode(id, PL_HASH_BYTES, &n, r->arg, strlen(r->arg)) == 0 && n == PL_HASH_BYTES)
		return true;
	api_reply_bad_request(r, "%s", why);
	return false;
}

static void h_env_get(rq *r)
{
	uint8_t id[PL_HASH_BYTES];
	if (!id_arg(r, id, "an envelope id is 64 hex digits"))
		return;
	int code = 0;
	pl_err_clear_detail();
	json_t *j = r->a->be.envelope(r->a->be_ctx, id, &code);
	reply_backend(r, j, code);
}

static void h_channels(rq *r)
{
	reply_backend(r, r->a->be.channels(r->a->be_ctx), 0);
}

/* The {name} segment if it is a valid channel name, else NULL after replying 400. */
static const char *channel_arg(rq *r)
{
	if (!pl_name_is_valid(r->arg)) {
		api_reply_bad_request(r, "not a valid channel name (a-z 0-9 . _ -, at most %d)",
				      PL_NAME_MAX);
		return NULL;
	}
	return r->arg;
}

static void h_ch_page(rq *r)
{
	const char *ch = channel_arg(r);
	if (!ch)
		return;
	struct evkeyvalq kv;
	if (!parse_query(r, &kv)) {
		api_reply_bad_request(r, "malformed query string");
		return;
	}
	long limit = PAGE_DEFAULT;
	const char *ls = evhttp_find_header(&kv, "limit");
	const char *cursor = evhttp_find_header(&kv, "cursor");
	if (ls && !parse_count(ls, PAGE_MAX, &limit)) {
		api_reply_bad_request(r, "limit must be a whole number from 1 to %d", PAGE_MAX);
		goto out;
	}
	if (cursor && !*cursor)
		cursor = NULL;
	if (cursor && strlen(cursor) > CURSOR_MAX) {
		api_reply_bad_request(r, "cursor longer than %d characters", CURSOR_MAX);
		goto out;
	}
	int code = 0;
	pl_err_clear_detail();
	json_t *j = r->a->be.channel_page(r->a->be_ctx, ch, cursor, (int)limit, &code);
	reply_backend(r, j, code);
out:
	evhttp_clear_headers(&kv);
}

/* A lane's name, in any case, as its API_LANE_ value (the envelope's lane
 * number); 0 for anything else. */
static int parse_lane(const char *s)
{
	_Static_assert((int)API_LANE_FLASH == (int)PL_LANE_FLASH &&
			   (int)API_LANE_ROUTINE == (int)PL_LANE_ROUTINE,
		       "API_LANE_ values are the envelope's lane numbers");
	pl_lane lane;
	return s && pl_lane_parse(s, &lane) == 0 ? (int)lane : 0;
}

static void h_ch_next(rq *r)
{
	const char *ch = channel_arg(r);
	if (!ch)
		return;
	struct evkeyvalq kv;
	if (!parse_query(r, &kv)) {
		api_reply_bad_request(r, "malformed query string");
		return;
	}
	int lane = parse_lane(evhttp_find_header(&kv, "lane"));
	if (!lane) {
		api_reply_bad_request(r, "lane must be FLASH, IMMEDIATE, PRIORITY or ROUTINE");
		goto out;
	}
	int code = 0;
	pl_err_clear_detail();
	json_t *j = r->a->be.next_seq(r->a->be_ctx, r->state, r->id, ch, lane, &code);
	reply_backend(r, j, code);
out:
	evhttp_clear_headers(&kv);
}

static void h_status(rq *r)
{
	reply_backend(r, r->a->be.status(r->a->be_ctx), 0);
}

static void h_charter_post(rq *r)
{
	api *a = r->a;
	json_t *body = api_read_json_body(r);
	if (!body)
		return;
	uint8_t *p = NULL;
	size_t len = 0;
	if (!api_field_b64(r, body, "charter", API_MAX_CHARTER, &p, &len))
		goto out;
	char reason[256] = "";
	pl_err_clear_detail();
	int rc = a->be.submit_charter(a->be_ctx, p, len, r->now, reason, sizeof(reason));
	if (rc != 0) {
		int status = api_server_status(rc);
		reason[sizeof(reason) - 1] = '\0';
		api_reply_code(r, status ? status : 422, rc,
			       reason[0] ? reason : api_backend_detail(rc));
		goto out;
	}
	api_reply_json(r, 202, json_pack("{s:b}", "accepted", 1));
out:
	free(p);
	json_decref(body);
}

/* The transcript endpoints: optional backend methods. */
static bool has_log(rq *r, bool present)
{
	if (present)
		return true;
	api_reply_code(r, 404, PL_ERR_NOT_FOUND, "this node keeps no transcript");
	return false;
}

static void h_log(rq *r)
{
	if (!has_log(r, r->a->be.log_status != NULL))
		return;
	int code = 0;
	pl_err_clear_detail();
	json_t *j = r->a->be.log_status(r->a->be_ctx, &code);
	reply_backend(r, j, code);
}

static void h_log_proof(rq *r)
{
	if (!has_log(r, r->a->be.log_proof != NULL))
		return;
	uint8_t id[PL_HASH_BYTES];
	if (!id_arg(r, id, "an envelope id is 64 hex digits"))
		return;
	int code = 0;
	pl_err_clear_detail();
	json_t *j = r->a->be.log_proof(r->a->be_ctx, id, &code);
	reply_backend(r, j, code);
}

static void h_log_export(rq *r)
{
	if (!has_log(r, r->a->be.log_export != NULL))
		return;
	int code = 0;
	pl_err_clear_detail();
	json_t *j = r->a->be.log_export(r->a->be_ctx, &code);
	reply_backend(r, j, code);
}

/* ================================================================ officials' work */

/* A view of the backend: code is an HTTP status (404, 409, 500) or a pl_err. */
static void reply_view(rq *r, json_t *j, int code)
{
	if (j || code <= 0) {
		reply_backend(r, j, code);
		return;
	}
	int err = code == 404 ? PL_ERR_NOT_FOUND : code == 409 ? PL_ERR_CONFLICT : PL_ERR_STORE;
	const char *d = pl_err_detail();
	api_reply_code(r, code, err,
		       *d            ? d
		       : code == 404 ? "not found"
		       : code == 409 ? "not adopted"
				     : "store failure");
}

static bool has_view(rq *r)
{
	if (r->a->be.view)
		return true;
	api_reply_code(r, 404, PL_ERR_NOT_FOUND, "this node keeps no records of officials' work");
	return false;
}

static void view(rq *r, const char *what, const char *a1, const char *a2)
{
	if (!has_view(r))
		return;
	int code = 0;
	pl_err_clear_detail();
	json_t *j = r->a->be.view(r->a->be_ctx, what, a1, a2, r->now, &code);
	reply_view(r, j, code);
}

static void h_pending(rq *r)
{
	view(r, "pending", r->state, r->id);
}

static void h_requests(rq *r)
{
	const char *ch = channel_arg(r);
	if (ch)
		view(r, "requests", ch, NULL);
}

static void h_request(rq *r)
{
	uint8_t id[PL_HASH_BYTES];
	if (id_arg(r, id, "a request id is the request envelope's id: 64 hex digits"))
		view(r, "request", r->arg, NULL);
}

static void h_statements(rq *r)
{
	struct evkeyvalq kv;
	if (!parse_query(r, &kv)) {
		api_reply_bad_request(r, "malformed query string");
		return;
	}
	const char *ch = evhttp_find_header(&kv, "channel");
	if (!ch || !pl_name_is_valid(ch))
		api_reply_bad_request(r, "give the channel: /v1/statements?channel=NAME");
	else
		view(r, "statements", ch, NULL);
	evhttp_clear_headers(&kv);
}

static bool stmt_args(rq *r)
{
	if (pl_name_is_valid(r->arg) && r->arg2 && pl_name_is_valid(r->arg2))
		return true;
	api_reply_bad_request(r, "a channel and a statement id are names: 1-63 of a-z 0-9 . _ -");
	return false;
}

static void h_statement(rq *r)
{
	if (stmt_args(r))
		view(r, "statement", r->arg, r->arg2);
}

static void h_stmt_bundle(rq *r)
{
	if (stmt_args(r))
		view(r, "bundle", r->arg, r->arg2);
}

static void h_status_post(rq *r)
{
	api *a = r->a;
	if (!a->be.submit_status) {
		api_reply_code(r, 404, PL_ERR_NOT_FOUND, "this node takes no status lists");
		return;
	}
	json_t *body = api_read_json_body(r);
	if (!body)
		return;
	uint8_t *p = NULL;
	size_t len = 0;
	if (!api_field_b64(r, body, "status_list", API_MAX_CHARTER, &p, &len))
		goto out;
	char reason[256] = "";
	pl_err_clear_detail();
	int rc = a->be.submit_status(a->be_ctx, p, len, reason, sizeof(reason));
	if (rc != 0) {
		int status = api_server_status(rc);
		reason[sizeof(reason) - 1] = '\0';
		api_reply_code(r, status ? status : 422, rc,
			       reason[0] ? reason : api_backend_detail(rc));
		goto out;
	}
	api_reply_json(r, 202, json_pack("{s:b}", "accepted", 1));
out:
	free(p);
	json_decref(body);
}

static void h_charter_get(rq *r)
{
	const char *ch = channel_arg(r);
	if (!ch)
		return;
	int code = 0;
	pl_err_clear_detail();
	json_t *j = r->a->be.charter(r->a->be_ctx, ch, &code);
	reply_backend(r, j, code);
}

/* ================================================================ server-sent events */

static void sub_remove(api *a, sub *s)
{
	for (unsigned i = 0; i < a->nsubs; i++) {
		if (a->subs[i] == s) {
			a->subs[i] = a->subs[--a->nsubs];
			a->subs[a->nsubs] = NULL;
			break;
		}
	}
	if (a->nsubs == 0 && a->keepalive)
		event_del(a->keepalive);
}

/* evhttp closes the subscriber's connection (the client left, a write
 * failed or timed out, or the server is being freed). */
static void sub_closed(void *arg)
{
	sub *s = arg;
	sub_remove(s->a, s);
	/* On EOF or timeout evhttp detaches an unfinished request from the
	 * connection and leaves it to us; otherwise it frees it itself. */
	if (evhttp_request_get_connection(s->req) == NULL)
		evhttp_request_free(s->req);
	free(s);
}

/* The same, as a closecb: for a connection the guard does not know. */
static void sub_closed_cb(struct evhttp_connection *c, void *arg)
{
	sub_closed(arg);
}

/* Close a subscriber ourselves; its request goes with the connection. */
static void sub_drop(api *a, sub *s)
{
	struct evhttp_connection *c = evhttp_request_get_connection(s->req);
	sub_remove(a, s);
	if (c) {
		if (httpguard_stream(a->guard, s->req, NULL, NULL) != 0)
			evhttp_connection_set_closecb(c, NULL, NULL);
		evhttp_connection_free(c);
	} else {
		evhttp_request_free(s->req);
	}
	free(s);
}

/* Queue len bytes to s; drop s when its unsent output would pass the limit. */
static void sub_send(api *a, sub *s, const char *p, size_t len)
{
	struct evhttp_connection *c = evhttp_request_get_connection(s->req);
	struct bufferevent *bev = c ? evhttp_connection_get_bufferevent(c) : NULL;
	size_t pending = bev ? evbuffer_get_length(bufferevent_get_output(bev)) : SIZE_MAX;
	if (pending > a->cfg.sse_max_buffer || len > a->cfg.sse_max_buffer - pending) {
		a->sse_dropped++;
		sub_drop(a, s);
		return;
	}
	struct evbuffer *b = a->scratch;
	evbuffer_drain(b, evbuffer_get_length(b));
	if (evbuffer_add(b, p, len) != 0) {
		a->sse_dropped++;
		sub_drop(a, s);
		return;
	}
	evhttp_send_reply_chunk(s->req, b);
}

/* Send to every subscriber that takes events of lane (bit 1 << API_LANE_*,
 * 0: an event of no lane, which all take); iterating backwards survives
 * drops. */
static void subs_send_lane(void *ctx, const char *p, size_t len, unsigned lane)
{
	api *a = ctx;
	for (unsigned i = a->nsubs; i-- > 0;)
		if (i < a->nsubs && (!lane || !a->subs[i]->lanes || (a->subs[i]->lanes & lane)))
			sub_send(a, a->subs[i], p, len);
}

static void keepalive_cb(evutil_socket_t fd, short what, void *arg)
{
	static const char ka[] = ": keepalive\n\n";
	subs_send_lane(arg, ka, sizeof(ka) - 1, 0); /* no lane: every stream */
}

static bool event_name_ok(const char *e)
{
	size_t n = e ? strlen(e) : 0;
	if (n == 0 || n > PL_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = e[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == '-'))
			return false;
	}
	return true;
}

/* json_dump_callback's output, straight into the event's text. */
static int dump_into(const char *p, size_t n, void *b)
{
	return pl_buf_append(b, p, n) == 0 ? 0 : -1;
}

void api_publish(api *a, const char *event, json_t *data)
{
	if (!a || !event_name_ok(event))
		return;
	a->sse_events++;
	if (a->nsubs == 0)
		return;
	int lane = parse_lane(json_string_value(json_object_get(data, "precedence")));
	pl_buf b = {0};
	int rc = pl_buf_reserve(&b, 2048);
	if (!rc)
		rc = pl_buf_printf(&b, "event: %s\ndata: ", event);
	if (!rc)
		rc = data ? json_dump_callback(data, dump_into, &b, JSON_COMPACT | JSON_ENCODE_ANY)
			  : pl_buf_append_str(&b, "null");
	if (!rc)
		rc = pl_buf_append(&b, "\n\n", 2);
	if (!rc) /* out of memory: better no event than a wrong one */
		hold_call(a->cfg.hold, subs_send_lane, a, (const char *)b.data, b.len,
			  lane ? 1u << lane : 0);
	pl_buf_clear(&b);
}

void api_event_sink(void *a, const char *event, json_t *data)
{
	api_publish(a, event, data);
}

unsigned api_subscriber_count(const api *a)
{
	return a ? a->nsubs : 0;
}

unsigned api_connection_count(const api *a)
{
	httpguard_stats st;
	httpguard_get_stats(a ? a->guard : NULL, &st);
	return st.open;
}

/* ?lanes=FLASH,IMMEDIATE: the lanes' bits (1 << API_LANE_*) into *out (0:
 * no parameter, every event); false when malformed. */
static bool parse_lanes(rq *r, unsigned *out)
{
	struct evkeyvalq kv;
	*out = 0;
	if (!parse_query(r, &kv))
		return false;
	const char *v = evhttp_find_header(&kv, "lanes");
	bool ok = true;
	if (v) {
		char buf[64];
		size_t n = strlen(v);
		ok = n > 0 && n < sizeof(buf);
		if (ok)
			memcpy(buf, v, n + 1);
		for (char *save = NULL, *t = ok ? strtok_r(buf, ",", &save) : NULL; t;
		     t = strtok_r(NULL, ",", &save)) {
			int lane = parse_lane(t);
			ok = ok && lane;
			*out |= lane ? 1u << lane : 0;
		}
		ok = ok && *out;
	}
	evhttp_clear_headers(&kv);
	return ok;
}

static void h_events(rq *r)
{
	api *a = r->a;
	unsigned lanes = 0;
	if (!parse_lanes(r, &lanes)) {
		api_reply_bad_request(r,
				      "lanes must be a comma-separated list of FLASH, IMMEDIATE, "
				      "PRIORITY and ROUTINE");
		return;
	}
	if (a->nsubs >= a->cfg.max_subscribers) {
		api_reply_problem(r, 503, "too-many-subscribers", "Too many subscribers",
				  "this node serves at most %u event streams at once",
				  a->cfg.max_subscribers);
		return;
	}
	struct evhttp_connection *c = evhttp_request_get_connection(r->req);
	struct bufferevent *bev = c ? evhttp_connection_get_bufferevent(c) : NULL;
	sub *s = calloc(1, sizeof(*s));
	if (!s || !bev) {
		free(s);
		api_reply_code(r, 500, PL_ERR_NOMEM, NULL);
		return;
	}
	s->a = a;
	s->req = r->req;
	s->lanes = lanes;

	struct evkeyvalq *h = evhttp_request_get_output_headers(r->req);
	evhttp_add_header(h, "Content-Type", "text/event-stream");
	evhttp_add_header(h, "Cache-Control", "no-store");
	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
	count_reply(r, 200);
	evhttp_send_reply_start(r->req, 200, "OK");

	/* A stream is quiet on the client's side: no read timeout, but a
	 * write that makes no progress for cfg.timeout still ends it; and
	 * whatever the client sends is not buffered without bound. */
	struct timeval wtv = {a->cfg.timeout, 0};
	bufferevent_set_timeouts(bev, NULL, &wtv);
	bufferevent_setwatermark(bev, EV_READ, 0, SSE_INPUT_MAX);
	/* FLASH alone: written before the loop's bulk work (docs/api.md) */
	if (lanes == 1u << API_LANE_FLASH)
		(void)bufferevent_priority_set(bev, 0);
	if (httpguard_stream(a->guard, r->req, sub_closed, s) != 0)
		evhttp_connection_set_closecb(c, sub_closed_cb, s); /* an unguarded connection */

	a->subs[a->nsubs++] = s;
	if (a->nsubs == 1) {
		struct timeval ktv = {(time_t)(a->cfg.sse_keepalive_ms / 1000),
				      (suseconds_t)(a->cfg.sse_keepalive_ms % 1000) * 1000};
		event_add(a->keepalive, &ktv);
	}
	static const char hello[] = ": parley events\n\n";
	sub_send(a, s, hello, sizeof(hello) - 1);
}

/* ================================================================ metrics */

static const char *const route_label[R_COUNT + 1] = {
    "healthz",        "metrics",      "auth_challenge", "auth_token",
    "envelopes_post", "envelope_get", "channels",       "channel_envelopes",
    "channel_next",   "status",       "charters_post",  "charter_get",
    "events",         "log",          "log_proof",      "log_export",
    "pending",        "requests",     "request",        "statements",
    "statement",      "statement_bundle", "status_lists_post",
    "unknown",
};

static int metrics_api_text(api *a, pl_buf *out)
{
	int rc = pl_buf_append_str(
	    out, "# HELP parley_api_requests_total API requests answered, by endpoint and "
		 "HTTP status code.\n# TYPE parley_api_requests_total counter\n");
	for (size_t e = 0; rc == 0 && e <= R_COUNT; e++) {
		for (size_t c = 0; rc == 0 && c <= NCODES; c++) {
			if (!a->requests[e][c])
				continue;
			char code[16];
			if (c < NCODES)
				snprintf(code, sizeof(code), "%d", counted_codes[c]);
			else
				snprintf(code, sizeof(code), "other");
			rc = pl_buf_printf(out,
					   "parley_api_requests_total{endpoint=\"%s\",code=\"%s\"} "
					   "%" PRIu64 "\n",
					   route_label[e], code, a->requests[e][c]);
		}
	}
	if (rc == 0)
		rc = pl_buf_append_str(out, "# HELP parley_api_auth_failures_total Failed API "
					    "authentications, by reason.\n# TYPE "
					    "parley_api_auth_failures_total counter\n");
	for (size_t i = 0; rc == 0 && i < AF_COUNT; i++)
		rc = pl_buf_printf(out,
				   "parley_api_auth_failures_total{reason=\"%s\"} %" PRIu64 "\n",
				   auth_fail_label[i], a->auth_failures[i]);
	size_t live = 0;
	int64_t now = api_now(a);
	for (size_t i = 0; i < a->cfg.max_tokens; i++)
		live += a->tok[i].live && a->tok[i].expires > now;
	if (rc == 0)
		rc = pl_buf_printf(
		    out,
		    "# HELP parley_api_tokens Unexpired API tokens held in memory.\n"
		    "# TYPE parley_api_tokens gauge\nparley_api_tokens %zu\n"
		    "# HELP parley_api_sse_subscribers Current /v1/events subscribers.\n"
		    "# TYPE parley_api_sse_subscribers gauge\nparley_api_sse_subscribers %u\n"
		    "# HELP parley_api_sse_dropped_total Subscribers dropped because they did "
		    "not read.\n# TYPE parley_api_sse_dropped_total counter\n"
		    "parley_api_sse_dropped_total %" PRIu64 "\n"
		    "# HELP parley_api_sse_events_total Events published to the stream.\n"
		    "# TYPE parley_api_sse_events_total counter\n"
		    "parley_api_sse_events_total %" PRIu64 "\n",
		    live, a->nsubs, a->sse_dropped, a->sse_events);
	httpguard_stats g;
	httpguard_get_stats(a->guard, &g);
	if (rc == 0)
		rc = pl_buf_printf(
		    out,
		    "# HELP parley_api_connections Open API connections.\n"
		    "# TYPE parley_api_connections gauge\nparley_api_connections %u\n"
		    "# HELP parley_api_connections_refused_total API connections closed by the "
		    "connection limit (full: a new one, none being idle; idle: the oldest idle "
		    "one, for a new one) or for not sending a complete request in time (slow).\n"
		    "# TYPE parley_api_connections_refused_total counter\n"
		    "parley_api_connections_refused_total{reason=\"full\"} %" PRIu64 "\n"
		    "parley_api_connections_refused_total{reason=\"idle\"} %" PRIu64 "\n"
		    "parley_api_connections_refused_total{reason=\"slow\"} %" PRIu64 "\n"
		    "# HELP parley_api_accept_errors_total Failed accept() calls on the API's "
		    "sockets (each pauses accepting for 1 s).\n"
		    "# TYPE parley_api_accept_errors_total counter\n"
		    "parley_api_accept_errors_total %" PRIu64 "\n",
		    g.open, g.refused_full, g.refused_idle, g.refused_slow, g.accept_errors);
	return rc;
}

/* ================================================================ routing */

typedef void (*handler_fn)(rq *r);

static const api_route_info route_info[R_COUNT] = {
    [R_HEALTHZ] = {"GET", "/healthz", false},
    [R_METRICS] = {"GET", "/metrics", false},
    [R_CHALLENGE] = {"POST", "/v1/auth/challenge", false},
    [R_TOKEN] = {"POST", "/v1/auth/token", false},
    [R_ENV_POST] = {"POST", "/v1/envelopes", true},
    [R_ENV_GET] = {"GET", "/v1/envelopes/{id}", true},
    [R_CHANNELS] = {"GET", "/v1/channels", true},
    [R_CH_PAGE] = {"GET", "/v1/channels/{name}/envelopes", true},
    [R_CH_NEXT] = {"GET", "/v1/channels/{name}/next", true},
    [R_STATUS] = {"GET", "/v1/status", true},
    [R_CHARTER_POST] = {"POST", "/v1/charters", true},
    [R_CHARTER_GET] = {"GET", "/v1/charters/{name}", true},
    [R_EVENTS] = {"GET", "/v1/events", true},
    [R_LOG] = {"GET", "/v1/log", true},
    [R_LOG_PROOF] = {"GET", "/v1/log/proof/{id}", true},
    [R_LOG_EXPORT] = {"GET", "/v1/log/export", true},
    [R_PENDING] = {"GET", "/v1/pending", true},
    [R_REQUESTS] = {"GET", "/v1/channels/{name}/requests", true},
    [R_REQUEST] = {"GET", "/v1/requests/{id}", true},
    [R_STATEMENTS] = {"GET", "/v1/statements", true},
    [R_STATEMENT] = {"GET", "/v1/statements/{channel}/{stmt}", true},
    [R_STMT_BUNDLE] = {"GET", "/v1/statements/{channel}/{stmt}/bundle", true},
    [R_STATUS_POST] = {"POST", "/v1/status-lists", false}, /* signed by the root */
};

static const handler_fn route_fn[R_COUNT] = {
    [R_HEALTHZ] = h_healthz,
    [R_METRICS] = h_metrics,
    [R_CHALLENGE] = h_challenge,
    [R_TOKEN] = h_token,
    [R_ENV_POST] = api_h_env_post,
    [R_ENV_GET] = h_env_get,
    [R_CHANNELS] = h_channels,
    [R_CH_PAGE] = h_ch_page,
    [R_CH_NEXT] = h_ch_next,
    [R_STATUS] = h_status,
    [R_CHARTER_POST] = h_charter_post,
    [R_CHARTER_GET] = h_charter_get,
    [R_EVENTS] = h_events,
    [R_LOG] = h_log,
    [R_LOG_PROOF] = h_log_proof,
    [R_LOG_EXPORT] = h_log_export,
    [R_PENDING] = h_pending,
    [R_REQUESTS] = h_requests,
    [R_REQUEST] = h_request,
    [R_STATEMENTS] = h_statements,
    [R_STATEMENT] = h_statement,
    [R_STMT_BUNDLE] = h_stmt_bundle,
    [R_STATUS_POST] = h_status_post,
};

const api_route_info *api_routes(size_t *n)
{
	*n = R_COUNT;
	return route_info;
}

/* Split r->path into r->seg; false when the path is too long or too deep. */
static bool split_path(rq *r, const char *path)
{
	size_t n = strlen(path);
	if (n == 0 || path[0] != '/' || n >= sizeof(r->path))
		return false;
	memcpy(r->path, path, n + 1);
	r->nseg = 0;
	char *p = r->path + 1;
	for (;;) {
		if (r->nseg == SEGS_MAX)
			return false;
		r->seg[r->nseg++] = p;
		char *slash = strchr(p, '/');
		if (!slash)
			return true;
		*slash = '\0';
		p = slash + 1;
	}
}

/* Does pattern match r's segments?  *arg and *arg2 (both NULL on entry)
 * receive the placeholder segments in order. */
static bool route_matches(const rq *r, const char *pattern, const char **arg, const char **arg2)
{
	const char *p = pattern + 1;
	size_t i = 0;
	while (i < r->nseg) {
		const char *slash = strchr(p, '/');
		size_t plen = slash ? (size_t)(slash - p) : strlen(p);
		const char *s = r->seg[i];
		if (plen > 1 && p[0] == '{') {
			if (!*s)
				return false;
			if (*arg)
				*arg2 = s;
			else
				*arg = s;
		} else if (strlen(s) != plen || memcmp(s, p, plen) != 0) {
			return false;
		}
		i++;
		if (!slash)
			return i == r->nseg;
		p = slash + 1;
	}
	return false;
}

static void on_request(struct evhttp_request *req, void *arg)
{
	api *a = arg;
	httpguard_request(a->guard, req);
	rq r;
	memset(&r, 0, sizeof(r));
	r.a = a;
	r.req = req;
	r.route = R_COUNT;
	r.now = api_now(a);

	enum evhttp_cmd_type m = evhttp_request_get_command(req);
	const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(req);
	const char *path = u ? evhttp_uri_get_path(u) : NULL;
	if (!path || !*path)
		path = "/";

	char allow[64] = "";
	bool path_known = false;
	if (split_path(&r, path)) {
		for (int i = 0; i < R_COUNT; i++) {
			const char *ph = NULL, *ph2 = NULL;
			if (!route_matches(&r, route_info[i].path, &ph, &ph2))
				continue;
			path_known = true;
			bool is_get = strcmp(route_info[i].method, "GET") == 0;
			bool ok = is_get ? (m == EVHTTP_REQ_GET ||
					    (m == EVHTTP_REQ_HEAD && i != R_EVENTS))
					 : m == EVHTTP_REQ_POST;
			if (ok) {
				r.route = (enum route_id)i;
				r.arg = ph;
				r.arg2 = ph2;
				break;
			}
			size_t used = strlen(allow);
			snprintf(allow + used, sizeof(allow) - used, "%s%s", used ? ", " : "",
				 is_get && i != R_EVENTS ? "GET, HEAD" : route_info[i].method);
		}
	}
	if (r.route == R_COUNT) {
		if (path_known) {
			evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", allow);
			api_reply_problem(&r, 405, "method-not-allowed", "Method not allowed",
					  "%s is not allowed here; use %s", method_name(m), allow);
		} else {
			api_reply_code(&r, 404, PL_ERR_NOT_FOUND, "no such endpoint");
		}
		return;
	}
	if (route_info[r.route].needs_token && !authenticate(&r))
		return;
	route_fn[r.route](&r);
}

/* ================================================================ setup and teardown */

static bool backend_complete(const api_backend *be)
{
	return be && be->version == API_BACKEND_VERSION && be->node_name && be->submit &&
	       be->channels && be->channel_page && be->envelope && be->status &&
	       be->find_official && be->next_seq && be->submit_charter && be->charter &&
	       be->metrics;
}

api *api_new(struct event_base *base, const api_backend *be, void *be_ctx, const api_config *cfg)
{
	if (!base || !backend_complete(be))
		return NULL;
	api *a = calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	a->base = base;
	a->be = *be;
	a->be_ctx = be_ctx;
	if (cfg)
		a->cfg = *cfg;
	api_config *c = &a->cfg;
	if (!c->clock)
		c->clock = clock_default;
	if (!c->max_envelope)
		c->max_envelope = API_MAX_ENVELOPE;
	if (!c->max_body)
		c->max_body = pl_b64_len(c->max_envelope) - 1 + API_BODY_SLACK; /* less the NUL */
	if (!c->max_headers)
		c->max_headers = API_HEADERS_DEFAULT;
	if (c->timeout <= 0)
		c->timeout = API_TIMEOUT_DEFAULT;
	if (!c->max_subscribers)
		c->max_subscribers = API_SUBSCRIBERS_DEFAULT;
	if (!c->sse_max_buffer)
		c->sse_max_buffer = API_SSE_BUFFER_DEFAULT;
	if (!c->sse_keepalive_ms)
		c->sse_keepalive_ms = API_KEEPALIVE_MS_DEFAULT;
	if (!c->max_challenges)
		c->max_challenges = API_CHALLENGES_DEFAULT;
	if (!c->max_tokens)
		c->max_tokens = API_TOKENS_DEFAULT;
	if (c->max_tokens > API_TOKENS_MAX)
		c->max_tokens = API_TOKENS_MAX;
	if (!c->max_connections)
		c->max_connections = API_CONNECTIONS_DEFAULT;
	if (!c->client_is_local)
		c->client_is_local = api_client_is_local;

	a->ch = calloc(c->max_challenges, sizeof(*a->ch));
	a->tok = calloc(c->max_tokens, sizeof(*a->tok));
	size_t nb = 2;
	while (nb < 2 * (size_t)c->max_tokens)
		nb *= 2;
	a->tok_mask = (uint32_t)(nb - 1);
	a->tok_bucket = calloc(nb, sizeof(*a->tok_bucket));
	a->subs = calloc(c->max_subscribers, sizeof(*a->subs));
	a->scratch = evbuffer_new();
	a->keepalive = event_new(base, -1, EV_PERSIST, keepalive_cb, a);
	a->http = evhttp_new(base);
	httpguard_config gc = {"api", c->max_connections, c->timeout};
	a->guard = a->http ? httpguard_new(base, a->http, &gc) : NULL;
	if (!a->ch || !a->tok || !a->tok_bucket || !a->subs || !a->scratch || !a->keepalive ||
	    !a->guard) {
		api_free_(a);
		return NULL;
	}
	/* Bodies between max_body and twice that get our 413 problem; evhttp
	 * 2.1 answers longer ones itself (a bare 413) after draining them. */
	size_t hard = c->max_body > SIZE_MAX / 2 ? SIZE_MAX / 2 : 2 * c->max_body;
	evhttp_set_max_body_size(a->http,
				 (ev_ssize_t)(hard > (size_t)EV_SSIZE_MAX ? EV_SSIZE_MAX : hard));
	evhttp_set_max_headers_size(a->http, (ev_ssize_t)c->max_headers);
	evhttp_set_timeout(a->http, c->timeout);
	evhttp_set_flags(a->http, EVHTTP_SERVER_LINGERING_CLOSE);
	evhttp_set_allowed_methods(a->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
						EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
						EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
	evhttp_set_gencb(a->http, on_request, a);
	return a;
}

int api_listen(api *a, const char *hostport)
{
	char host[256];
	uint16_t port = 0;
	if (!a || !hostport || node_addr_split(hostport, host, sizeof(host), &port, true) != 0)
		return pl_err_fail(PL_ERR_INVALID, "API address \"%s\" is not host:port",
				   hostport ? hostport : "");
	errno = 0;
	struct evhttp_bound_socket *bs =
	    evhttp_bind_socket_with_handle(a->http, host, (ev_uint16_t)port);
	if (!bs)
		return pl_err_fail(PL_ERR_IO, "cannot listen on %s: %s", hostport,
				   errno ? strerror(errno) : "address not usable");
	httpguard_watch(a->guard, bs);
	if (a->port == 0) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		evutil_socket_t fd = evhttp_bound_socket_get_fd(bs);
		if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
			if (ss.ss_family == AF_INET)
				a->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
			else if (ss.ss_family == AF_INET6)
				a->port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
		}
	}
	return 0;
}

int api_port(const api *a)
{
	return a ? a->port : 0;
}

void api_free_(api *a)
{
	if (!a)
		return;
	while (a->nsubs)
		sub_drop(a, a->subs[a->nsubs - 1]);
	if (a->http)
		evhttp_free(a->http); /* closes every connection: the guard hears of each */
	httpguard_free(a->guard);
	if (a->keepalive)
		event_free(a->keepalive);
	if (a->scratch)
		evbuffer_free(a->scratch);
	if (a->ch)
		pl_wipe(a->ch, a->cfg.max_challenges * sizeof(*a->ch));
	if (a->tok)
		pl_wipe(a->tok, a->cfg.max_tokens * sizeof(*a->tok));
	free(a->ch);
	free(a->tok);
	free(a->tok_bucket);
	free(a->subs);
	free(a);
}
