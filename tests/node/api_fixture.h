/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The fixture of the tests of node/api.c (test_api.c, test_api_guard.c):
 * a fake backend table and clock, the real evhttp server on 127.0.0.1
 * (port 0) in the test's own event loop, libevent's HTTP client in the same
 * loop, and helpers to log in and check answers.  Header-only: each test
 * file includes it once and may leave some helpers unused.
 */
#ifndef PARLEY_TESTS_NODE_API_FIXTURE_H
#define PARLEY_TESTS_NODE_API_FIXTURE_H

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cmocka.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include "api.h"
#include "log.h"
#include "parley/buf.h"
#include "parley/crypto.h"
#include "parley/err.h"

#define NODE         "tehran-1"
#define PROBLEM      "https://parley.invalid/problems/"
#define MAX_BODY     4096
#define MAX_ENVELOPE 2048
#define T0           1800000000


#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"

/* ================================================================ the fake node */

typedef struct fake {
	int64_t now;
	pl_keypair fm_key, amb_key, other_key;
	pl_cred fm, amb;
	bool fm_active;

	int submit_calls;
	uint8_t env[MAX_ENVELOPE];
	size_t env_len;
	int64_t env_now;
	int submit_rc, submit_code;
	bool submit_dup;
	const char *submit_reason;

	char page_ch[80], page_cursor[600];
	bool page_cursor_null;
	int page_limit, page_calls;

	char next_state[80], next_id[80], next_ch[80];
	int next_lane;

	uint8_t env_id[PL_HASH_BYTES];

	uint8_t charter[256];
	size_t charter_len;
	int charter_rc;
} fake;

static int64_t fake_clock(void *ctx)
{
	return ((fake *)ctx)->now;
}

static int fake_submit(void *be, const uint8_t *env, size_t len, int64_t now,
		       node_submit_result *res)
{
	fake *f = be;
	f->submit_calls++;
	assert_true(len <= sizeof(f->env));
	memcpy(f->env, env, len);
	f->env_len = len;
	f->env_now = now;
	if (f->submit_rc)
		return f->submit_rc;
	res->code = f->submit_code;
	if (len > 0 && env[0] == 0xEE && !res->code) { /* batch tests: refused one by one */
		res->code = PL_ERR_NOT_MEMBER;
		snprintf(res->reason, sizeof(res->reason), "0xEE is never a member");
	}
	if (f->submit_reason)
		snprintf(res->reason, sizeof(res->reason), "%s", f->submit_reason);
	pl_sha256(res->id, env, len);
	res->duplicate = f->submit_dup;
	res->position = 42;
	return 0;
}

static json_t *fake_channels(void *be)
{
	return json_pack("[{s:s}]", "name", "ops");
}

static json_t *fake_page(void *be, const char *ch, const char *cursor, int limit, int *code)
{
	fake *f = be;
	f->page_calls++;
	snprintf(f->page_ch, sizeof(f->page_ch), "%s", ch);
	f->page_cursor_null = cursor == NULL;
	snprintf(f->page_cursor, sizeof(f->page_cursor), "%s", cursor ? cursor : "");
	f->page_limit = limit;
	if (strcmp(ch, "nochan") == 0) {
		*code = PL_ERR_UNKNOWN_CHANNEL;
		return NULL;
	}
	return json_pack("{s:[], s:n}", "items", "next");
}

static json_t *fake_envelope(void *be, const uint8_t id[PL_HASH_BYTES], int *code)
{
	fake *f = be;
	memcpy(f->env_id, id, PL_HASH_BYTES);
	if (id[0] == 0xff) {
		*code = PL_ERR_NOT_FOUND;
		return NULL;
	}
	return json_pack("{s:s}", "kind", "message");
}

static json_t *fake_status(void *be)
{
	return json_pack("{s:s, s:i}", "node", NODE, "transcript_size", 3);
}

static int fake_find_official(void *be, const char *state, const char *id, int64_t now,
			      pl_cred *out)
{
	fake *f = be;
	if (strcmp(state, "tehran") != 0)
		return PL_ERR_NOT_FOUND;
	if (strcmp(id, "fm-1") == 0 && f->fm_active) {
		*out = f->fm;
		return 0;
	}
	if (strcmp(id, "amb-2") == 0) {
		*out = f->amb;
		return 0;
	}
	return PL_ERR_NOT_FOUND;
}

static json_t *fake_next(void *be, const char *state, const char *id, const char *ch, int lane,
			 int *code)
{
	fake *f = be;
	snprintf(f->next_state, sizeof(f->next_state), "%s", state);
	snprintf(f->next_id, sizeof(f->next_id), "%s", id);
	snprintf(f->next_ch, sizeof(f->next_ch), "%s", ch);
	f->next_lane = lane;
	return json_pack("{s:i, s:n}", "seq", 5, "prev");
}

static int fake_submit_charter(void *be, const uint8_t *p, size_t n, int64_t now, char *reason,
			       size_t rlen)
{
	fake *f = be;
	assert_true(n <= sizeof(f->charter));
	memcpy(f->charter, p, n);
	f->charter_len = n;
	if (f->charter_rc)
		snprintf(reason, rlen, "islamabad's signature does not verify");
	return f->charter_rc;
}

static json_t *fake_charter(void *be, const char *name, int *code)
{
	if (strcmp(name, "ops") != 0) {
		*code = PL_ERR_UNKNOWN_CHANNEL;
		return NULL;
	}
	return json_pack("{s:s, s:[s]}", "name", "ops", "signed_by", "tehran");
}

static int fake_metrics(void *be, pl_buf *out)
{
	return pl_buf_append_str(out, "# HELP fake_widgets Widgets.\n# TYPE fake_widgets "
				      "gauge\nfake_widgets 7\n");
}

static const api_backend fake_backend = {
    .version = API_BACKEND_VERSION,
    .node_name = NODE,
    .submit = fake_submit,
    .channels = fake_channels,
    .channel_page = fake_page,
    .envelope = fake_envelope,
    .status = fake_status,
    .find_official = fake_find_official,
    .next_seq = fake_next,
    .submit_charter = fake_submit_charter,
    .charter = fake_charter,
    .metrics = fake_metrics,
};

static void make_cred(pl_cred *c, pl_keypair *kp, const char *id, uint8_t seedbyte)
{
	uint8_t seed[PL_SEED_BYTES];
	memset(seed, seedbyte, sizeof(seed));
	assert_int_equal(pl_key_from_seed(kp, seed), 0);
	memset(c, 0, sizeof(*c));
	snprintf(c->state, sizeof(c->state), "tehran");
	snprintf(c->id, sizeof(c->id), "%s", id);
	memcpy(c->pk, kp->pk, PL_PK_BYTES);
	c->not_before = 0;
	c->not_after = INT64_MAX;
}

/* ================================================================ fixture and loop */

typedef struct T {
	struct event_base *base;
	api *a;
	fake f;
	int port;
} T;

/* The settings every test starts with. */
static api_config test_config(T *t)
{
	api_config cfg = {
	    .clock = fake_clock,
	    .clock_ctx = &t->f,
	    .max_envelope = MAX_ENVELOPE,
	    .max_body = MAX_BODY,
	    .max_subscribers = 2,
	    .sse_max_buffer = 64 << 10,
	    .sse_keepalive_ms = 50,
	};
	return cfg;
}

/* Replace the test's API (if any) by a new one with cfg, on a new port. */
static void reopen(T *t, const api_config *cfg)
{
	api_free(t->a);
	t->a = api_new(t->base, &fake_backend, &t->f, cfg);
	assert_non_null(t->a);
	assert_int_equal(api_listen(t->a, "127.0.0.1:0"), 0);
	t->port = api_port(t->a);
	assert_true(t->port > 0);
}

static int setup(void **state)
{
	assert_int_equal(pl_crypto_init(), 0);
	T *t = calloc(1, sizeof(*t));
	assert_non_null(t);
	t->f.now = T0;
	t->f.fm_active = true;
	make_cred(&t->f.fm, &t->f.fm_key, "fm-1", 1);
	make_cred(&t->f.amb, &t->f.amb_key, "amb-2", 2);
	pl_cred unused;
	make_cred(&unused, &t->f.other_key, "other", 3);
	t->base = event_base_new();
	assert_non_null(t->base);
	api_config cfg = test_config(t);
	reopen(t, &cfg);
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	T *t = *state;
	api_free(t->a);
	assert_null(t->a);
	event_base_free(t->base);
	pl_key_wipe(&t->f.fm_key);
	pl_key_wipe(&t->f.amb_key);
	pl_key_wipe(&t->f.other_key);
	free(t);
	return 0;
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	*(bool *)arg = true;
}

/* Run the loop until cond(arg) holds; fail after 5 s or 200000 turns. */
static void loop_until(T *t, bool (*cond)(void *), void *arg)
{
	bool late = false;
	struct event *ev = evtimer_new(t->base, on_deadline, &late);
	struct timeval tv = {5, 0};
	assert_non_null(ev);
	evtimer_add(ev, &tv);
	for (int i = 0; i < 200000 && !late && !cond(arg); i++)
		event_base_loop(t->base, EVLOOP_ONCE);
	event_free(ev);
	assert_true(cond(arg));
}

/* ================================================================ the HTTP client */

typedef struct resp {
	bool done;
	int status; /* 0: the connection failed */
	char *body;
	size_t len;
	char ctype[128], www[128], allow[128], location[128];
	json_t *json;
} resp;

static void copy_header(char *dst, size_t cap, struct evhttp_request *req, const char *name)
{
	const char *v = evhttp_find_header(evhttp_request_get_input_headers(req), name);
	snprintf(dst, cap, "%s", v ? v : "");
}

static void on_response(struct evhttp_request *req, void *arg)
{
	resp *r = arg;
	r->done = true;
	if (!req)
		return;
	r->status = evhttp_request_get_response_code(req);
	copy_header(r->ctype, sizeof(r->ctype), req, "Content-Type");
	copy_header(r->www, sizeof(r->www), req, "WWW-Authenticate");
	copy_header(r->allow, sizeof(r->allow), req, "Allow");
	copy_header(r->location, sizeof(r->location), req, "Location");
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	r->len = evbuffer_get_length(in);
	r->body = calloc(1, r->len + 1);
	assert_non_null(r->body);
	evbuffer_remove(in, r->body, r->len);
}

static bool resp_done(void *arg)
{
	return ((resp *)arg)->done;
}

static void resp_clear(resp *r)
{
	free(r->body);
	json_decref(r->json);
	memset(r, 0, sizeof(*r));
}

/*
 * One request on a fresh connection; waits for the answer.  ctype, body,
 * token and extra (a whole "Name: value" header) may be NULL.
 */
static void request_ex(T *t, enum evhttp_cmd_type m, const char *path, const char *ctype,
		       const char *body, size_t len, const char *auth, resp *out)
{
	memset(out, 0, sizeof(*out));
	struct evhttp_connection *c =
	    evhttp_connection_base_new(t->base, NULL, "127.0.0.1", (ev_uint16_t)t->port);
	assert_non_null(c);
	struct evhttp_request *req = evhttp_request_new(on_response, out);
	assert_non_null(req);
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	evhttp_add_header(h, "Host", "127.0.0.1");
	if (ctype)
		evhttp_add_header(h, "Content-Type", ctype);
	if (auth)
		evhttp_add_header(h, "Authorization", auth);
	if (body)
		evbuffer_add(evhttp_request_get_output_buffer(req), body, len);
	assert_int_equal(evhttp_make_request(c, req, m, path), 0);
	loop_until(t, resp_done, out);
	evhttp_connection_free(c);
	if (out->body && (strstr(out->ctype, "json")))
		out->json = json_loads(out->body, 0, NULL);
}

static void request(T *t, enum evhttp_cmd_type m, const char *path, const char *json,
		    const char *token, resp *out)
{
	char auth[256];
	if (token)
		snprintf(auth, sizeof(auth), "Bearer %s", token);
	request_ex(t, m, path, json ? "application/json" : NULL, json, json ? strlen(json) : 0,
		   token ? auth : NULL, out);
}

static const char *jstr(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	assert_true(json_is_string(v));
	return json_string_value(v);
}

static json_int_t jint(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	assert_true(json_is_integer(v));
	return json_integer_value(v);
}

/* r is an RFC 9457 problem of that status and type name whose detail contains detail. */
static void assert_problem(const resp *r, int status, const char *name, const char *detail)
{
	char type[160];
	snprintf(type, sizeof(type), PROBLEM "%s", name);
	assert_int_equal(r->status, status);
	assert_string_equal(r->ctype, "application/problem+json");
	assert_non_null(r->json);
	assert_string_equal(jstr(r->json, "type"), type);
	assert_int_equal(jint(r->json, "status"), status);
	assert_true(strlen(jstr(r->json, "title")) > 0);
	if (!strstr(jstr(r->json, "detail"), detail))
		fail_msg("detail \"%s\" lacks \"%s\"", jstr(r->json, "detail"), detail);
}

static char *b64(const uint8_t *p, size_t n)
{
	char *s = malloc(pl_b64_len(n));
	assert_non_null(s);
	pl_b64_encode(s, p, n);
	return s;
}

/* ================================================================ authentication helpers */

/* POST /v1/auth/challenge for state/id; the challenge text into ch (64 bytes). */
static void get_challenge(T *t, const char *state, const char *id, char ch[64])
{
	char body[256];
	resp r;
	snprintf(body, sizeof(body), "{\"state\":\"%s\",\"id\":\"%s\"}", state, id);
	request(t, EVHTTP_REQ_POST, "/v1/auth/challenge", body, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.ctype, "application/json");
	snprintf(ch, 64, "%s", jstr(r.json, "challenge"));
	assert_int_equal(jint(r.json, "expires"), t->f.now + 60);
	resp_clear(&r);
}

/* The signature of the documented auth message, base64. */
static char *sign_auth(const pl_keypair *kp, const char *ch, const char *state, const char *id,
		       const char *node)
{
	char msg[512];
	int n =
	    snprintf(msg, sizeof(msg), "parley-api-auth-v1\n%s\n%s@%s\n%s\n", ch, id, state, node);
	assert_true(n > 0 && (size_t)n < sizeof(msg));
	uint8_t sig[PL_SIG_BYTES];
	assert_int_equal(pl_sign(sig, (const uint8_t *)msg, (size_t)n, kp), 0);
	return b64(sig, sizeof(sig));
}

static void post_token(T *t, const char *state, const char *id, const char *ch, const char *sig,
		       resp *r)
{
	char body[512];
	snprintf(body, sizeof(body),
		 "{\"state\":\"%s\",\"id\":\"%s\",\"challenge\":\"%s\",\"signature\":\"%s\"}",
		 state, id, ch, sig);
	request(t, EVHTTP_REQ_POST, "/v1/auth/token", body, NULL, r);
}

/* The whole flow for fm-1; the token into tok (64 bytes). */
static void login(T *t, char tok[64])
{
	char ch[64];
	get_challenge(t, "tehran", "fm-1", ch);
	char *sig = sign_auth(&t->f.fm_key, ch, "tehran", "fm-1", NODE);
	resp r;
	post_token(t, "tehran", "fm-1", ch, sig, &r);
	free(sig);
	assert_int_equal(r.status, 200);
	snprintf(tok, 64, "%s", jstr(r.json, "token"));
	resp_clear(&r);
}

/* ================================================================ tests: unauthenticated */

/* A /v1/events stream read as it comes. */
typedef struct stream {
	T *t;
	struct evhttp_connection *conn;
	pl_buf got;
	int status;
	char ctype[64];
	bool ended;
} stream;

static void on_stream_chunk(struct evhttp_request *req, void *arg)
{
	stream *s = arg;
	s->status = evhttp_request_get_response_code(req);
	copy_header(s->ctype, sizeof(s->ctype), req, "Content-Type");
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t n = evbuffer_get_length(in);
	assert_int_equal(pl_buf_reserve(&s->got, n + 1), 0);
	evbuffer_remove(in, s->got.data + s->got.len, n);
	s->got.len += n;
	s->got.data[s->got.len] = '\0';
}

static void on_stream_end(struct evhttp_request *req, void *arg)
{
	stream *s = arg;
	s->ended = true;
	if (req && !s->status)
		s->status = evhttp_request_get_response_code(req);
}

static void stream_open_path(T *t, stream *s, const char *tok, const char *path)
{
	memset(s, 0, sizeof(*s));
	s->t = t;
	s->conn = evhttp_connection_base_new(t->base, NULL, "127.0.0.1", (ev_uint16_t)t->port);
	assert_non_null(s->conn);
	struct evhttp_request *req = evhttp_request_new(on_stream_end, s);
	assert_non_null(req);
	evhttp_request_set_chunked_cb(req, on_stream_chunk);
	char auth[128];
	snprintf(auth, sizeof(auth), "Bearer %s", tok);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Host", "127.0.0.1");
	evhttp_add_header(evhttp_request_get_output_headers(req), "Authorization", auth);
	assert_int_equal(evhttp_make_request(s->conn, req, EVHTTP_REQ_GET, path), 0);
}

static void stream_open(T *t, stream *s, const char *tok)
{
	stream_open_path(t, s, tok, "/v1/events");
}

static void stream_close(stream *s)
{
	evhttp_connection_free(s->conn);
	pl_buf_clear(&s->got);
}

typedef struct stream_want {
	stream *s;
	const char *text;
} stream_want;

static bool stream_has(void *arg)
{
	stream_want *w = arg;
	return w->s->got.len && strstr((const char *)w->s->got.data, w->text);
}

#pragma GCC diagnostic pop

#endif /* PARLEY_TESTS_NODE_API_FIXTURE_H */
