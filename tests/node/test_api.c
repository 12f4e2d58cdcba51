/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests of node/api.c: the real evhttp server on 127.0.0.1 (port 0) in the
 * test's own event loop, driven by libevent's HTTP client in the same loop,
 * against a fake backend table and a fake clock.
 *
 * Every wait runs the loop until a condition holds, bounded by a 5-second
 * timer and an iteration count; nothing asserts on timing.  Each test gets
 * a fresh event base, fake node and api (setup/teardown).
 */
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

static void test_healthz(void **state)
{
	T *t = *state;
	resp r;
	request(t, EVHTTP_REQ_GET, "/healthz", NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.ctype, "application/json");
	assert_string_equal(jstr(r.json, "status"), "ok");
	assert_string_equal(jstr(r.json, "node"), NODE);
	resp_clear(&r);

	request(t, EVHTTP_REQ_HEAD, "/healthz", NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.len, 0);
	resp_clear(&r);
}

/* Each line is a # HELP / # TYPE comment or `name{labels} value`. */
static void assert_exposition(const char *text)
{
	const char *p = text;
	while (*p) {
		const char *nl = strchr(p, '\n');
		assert_non_null(nl); /* every line ends in \n */
		size_t n = (size_t)(nl - p);
		char line[512];
		assert_true(n < sizeof(line));
		memcpy(line, p, n);
		line[n] = '\0';
		if (line[0] == '#') {
			assert_true(!strncmp(line, "# HELP ", 7) || !strncmp(line, "# TYPE ", 7));
			if (!strncmp(line, "# TYPE ", 7))
				assert_true(strstr(line, " counter") || strstr(line, " gauge"));
		} else {
			size_t i = 0;
			while ((line[i] >= 'a' && line[i] <= 'z') || line[i] == '_')
				i++;
			assert_true(i > 0);
			if (line[i] == '{') {
				char *close = strchr(line + i, '}');
				assert_non_null(close);
				i = (size_t)(close - line) + 1;
			}
			assert_int_equal(line[i], ' ');
			assert_true(line[i + 1] >= '0' && line[i + 1] <= '9');
			for (i++; line[i]; i++)
				assert_true(line[i] >= '0' && line[i] <= '9');
		}
		p = nl + 1;
	}
}

static void test_metrics(void **state)
{
	T *t = *state;
	resp r;
	request(t, EVHTTP_REQ_GET, "/healthz", NULL, NULL, &r);
	resp_clear(&r);
	request(t, EVHTTP_REQ_GET, "/v1/status", NULL, NULL, &r); /* a 401 */
	resp_clear(&r);

	request(t, EVHTTP_REQ_GET, "/metrics", NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.ctype, "text/plain; version=0.0.4; charset=utf-8");
	assert_exposition(r.body);
	assert_non_null(strstr(r.body, "# TYPE fake_widgets gauge\nfake_widgets 7\n"));
	assert_non_null(strstr(r.body, "# TYPE parley_api_requests_total counter\n"));
	assert_non_null(
	    strstr(r.body, "parley_api_requests_total{endpoint=\"healthz\",code=\"200\"} 1\n"));
	assert_non_null(
	    strstr(r.body, "parley_api_requests_total{endpoint=\"status\",code=\"401\"} 1\n"));
	assert_non_null(
	    strstr(r.body, "parley_api_auth_failures_total{reason=\"missing-token\"} 1\n"));
	assert_non_null(strstr(r.body, "# TYPE parley_api_sse_subscribers gauge\n"
				       "parley_api_sse_subscribers 0\n"));
	assert_non_null(strstr(r.body, "parley_api_sse_dropped_total 0\n"));
	resp_clear(&r);
}

static void test_auth_message(void **state)
{
	char out[256];
	size_t n = api_auth_message(out, sizeof(out), "QUJD", "tehran", "fm-1", NODE);
	const char *want = "parley-api-auth-v1\nQUJD\nfm-1@tehran\ntehran-1\n";
	assert_string_equal(out, want);
	assert_int_equal(n, strlen(want));
	assert_int_equal(api_auth_message(out, 10, "QUJD", "tehran", "fm-1", NODE), 0);
}

/* ================================================================ tests: authentication */

static void test_auth_flow(void **state)
{
	T *t = *state;
	char ch[64];
	get_challenge(t, "tehran", "fm-1", ch);
	uint8_t raw[48];
	size_t n = 0;
	assert_int_equal(strlen(ch), 44);
	assert_int_equal(pl_b64_decode(raw, sizeof(raw), &n, ch, strlen(ch)), 0);
	assert_int_equal(n, 32);

	char *sig = sign_auth(&t->f.fm_key, ch, "tehran", "fm-1", NODE);
	resp r;
	post_token(t, "tehran", "fm-1", ch, sig, &r);
	free(sig);
	assert_int_equal(r.status, 200);
	const char *tok = jstr(r.json, "token");
	assert_int_equal(strlen(tok), 43);
	for (const char *p = tok; *p; p++)
		assert_true((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
			    (*p >= '0' && *p <= '9') || *p == '-' || *p == '_');
	assert_int_equal(jint(r.json, "expires"), T0 + 900);
	char token[64];
	snprintf(token, sizeof(token), "%s", tok);
	resp_clear(&r);

	request(t, EVHTTP_REQ_GET, "/v1/status", NULL, token, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(jstr(r.json, "node"), NODE);
	assert_int_equal(jint(r.json, "transcript_size"), 3);
	resp_clear(&r);

	/* Lower-case scheme and surrounding spaces are accepted too. */
	char auth[128];
	snprintf(auth, sizeof(auth), "bearer   %s  ", token);
	request_ex(t, EVHTTP_REQ_GET, "/v1/status", NULL, NULL, 0, auth, &r);
	assert_int_equal(r.status, 200);
	resp_clear(&r);
}

static void test_auth_unknown_official(void **state)
{
	T *t = *state;
	resp r;
	request(t, EVHTTP_REQ_POST, "/v1/auth/challenge",
		"{\"state\":\"tehran\",\"id\":\"nobody\"}", NULL, &r);
	assert_problem(&r, 401, "unauthorized", "unknown or inactive official");
	assert_string_equal(r.www, "Bearer realm=\"parley\"");
	resp_clear(&r);

	t->f.fm_active = false;
	request(t, EVHTTP_REQ_POST, "/v1/auth/challenge", "{\"state\":\"tehran\",\"id\":\"fm-1\"}",
		NULL, &r);
	assert_problem(&r, 401, "unauthorized", "unknown or inactive official");
	resp_clear(&r);

	request(t, EVHTTP_REQ_POST, "/v1/auth/challenge", "{\"state\":\"Tehran!\",\"id\":\"fm-1\"}",
		NULL, &r);
	assert_problem(&r, 400, "bad-request", "\"state\" is not a valid name");
	resp_clear(&r);
}

static void test_auth_wrong_signature(void **state)
{
	T *t = *state;
	char ch[64];
	resp r;

	/* Signed by another key. */
	get_challenge(t, "tehran", "fm-1", ch);
	char *sig = sign_auth(&t->f.other_key, ch, "tehran", "fm-1", NODE);
	post_token(t, "tehran", "fm-1", ch, sig, &r);
	free(sig);
	assert_problem(&r, 401, "unauthorized", "signature does not verify");
	resp_clear(&r);

	/* The challenge is spent even though the attempt failed. */
	sig = sign_auth(&t->f.fm_key, ch, "tehran", "fm-1", NODE);
	post_token(t, "tehran", "fm-1", ch, sig, &r);
	free(sig);
	assert_problem(&r, 401, "unauthorized", "unknown or already used challenge");
	resp_clear(&r);

	/* The right key, but for another node: the node name is signed. */
	get_challenge(t, "tehran", "fm-1", ch);
	sig = sign_auth(&t->f.fm_key, ch, "tehran", "fm-1", "islamabad-1");
	post_token(t, "tehran", "fm-1", ch, sig, &r);
	free(sig);
	assert_problem(&r, 401, "unauthorized", "signature does not verify");
	resp_clear(&r);

	/* Not base64 of a signature at all. */
	get_challenge(t, "tehran", "fm-1", ch);
	post_token(t, "tehran", "fm-1", ch, "AAAA", &r);
	assert_problem(&r, 400, "bad-request", "\"signature\"");
	resp_clear(&r);
}

static void test_auth_reused_challenge(void **state)
{
	T *t = *state;
	char ch[64];
	get_challenge(t, "tehran", "fm-1", ch);
	char *sig = sign_auth(&t->f.fm_key, ch, "tehran", "fm-1", NODE);
	resp r;
	post_token(t, "tehran", "fm-1", ch, sig, &r);
	assert_int_equal(r.status, 200);
	resp_clear(&r);
	post_token(t, "tehran", "fm-1", ch, sig, &r);
	assert_problem(&r, 401, "unauthorized", "unknown or already used challenge");
	resp_clear(&r);
	free(sig);

	/* A challenge never issued. */
	uint8_t fake_nonce[32] = {7};
	char *fch = b64(fake_nonce, sizeof(fake_nonce));
	sig = sign_auth(&t->f.fm_key, fch, "tehran", "fm-1", NODE);
	post_token(t, "tehran", "fm-1", fch, sig, &r);
	assert_problem(&r, 401, "unauthorized", "unknown or already used challenge");
	resp_clear(&r);
	free(sig);
	free(fch);
}

static void test_auth_expired_challenge(void **state)
{
	T *t = *state;
	char ch[64];
	resp r;
	get_challenge(t, "tehran", "fm-1", ch);
	char *sig = sign_auth(&t->f.fm_key, ch, "tehran", "fm-1", NODE);
	t->f.now += 60;
	post_token(t, "tehran", "fm-1", ch, sig, &r);
	free(sig);
	assert_problem(&r, 401, "unauthorized", "challenge expired");
	resp_clear(&r);

	/* One second before expiry it still works. */
	get_challenge(t, "tehran", "fm-1", ch);
	sig = sign_auth(&t->f.fm_key, ch, "tehran", "fm-1", NODE);
	t->f.now += 59;
	post_token(t, "tehran", "fm-1", ch, sig, &r);
	free(sig);
	assert_int_equal(r.status, 200);
	assert_int_equal(jint(r.json, "expires"), t->f.now + 900);
	resp_clear(&r);
}

static void test_auth_challenge_bound_to_official(void **state)
{
	T *t = *state;
	char ch[64];
	resp r;
	get_challenge(t, "tehran", "fm-1", ch);
	/* amb-2 signs correctly with its own key, but the challenge was fm-1's. */
	char *sig = sign_auth(&t->f.amb_key, ch, "tehran", "amb-2", NODE);
	post_token(t, "tehran", "amb-2", ch, sig, &r);
	free(sig);
	assert_problem(&r, 401, "unauthorized", "challenge was issued for another official");
	resp_clear(&r);
}

static void test_token_failures(void **state)
{
	T *t = *state;
	resp r;
	request(t, EVHTTP_REQ_GET, "/v1/status", NULL, NULL, &r);
	assert_problem(&r, 401, "unauthorized", "missing bearer token");
	assert_string_equal(r.www, "Bearer realm=\"parley\"");
	resp_clear(&r);

	request_ex(t, EVHTTP_REQ_GET, "/v1/status", NULL, NULL, 0, "Basic Zm0tMTpwdw==", &r);
	assert_problem(&r, 401, "unauthorized", "missing bearer token");
	resp_clear(&r);

	request_ex(t, EVHTTP_REQ_GET, "/v1/status", NULL, NULL, 0, "Bearer ", &r);
	assert_problem(&r, 401, "unauthorized", "missing bearer token");
	resp_clear(&r);

	request(t, EVHTTP_REQ_GET, "/v1/status", NULL, "garbage-token", &r);
	assert_problem(&r, 401, "unauthorized", "unknown token");
	resp_clear(&r);

	char tok[64];
	login(t, tok);
	/* A token that differs in its last character is unknown. */
	char near[64];
	snprintf(near, sizeof(near), "%s", tok);
	near[strlen(near) - 1] = near[strlen(near) - 1] == 'A' ? 'B' : 'A';
	request(t, EVHTTP_REQ_GET, "/v1/status", NULL, near, &r);
	assert_problem(&r, 401, "unauthorized", "unknown token");
	resp_clear(&r);

	t->f.now += 899;
	request(t, EVHTTP_REQ_GET, "/v1/status", NULL, tok, &r);
	assert_int_equal(r.status, 200);
	resp_clear(&r);
	t->f.now += 1;
	request(t, EVHTTP_REQ_GET, "/v1/status", NULL, tok, &r);
	assert_problem(&r, 401, "unauthorized", "token expired");
	resp_clear(&r);

	/* The official is suspended after the token was issued. */
	login(t, tok);
	t->f.fm_active = false;
	request(t, EVHTTP_REQ_GET, "/v1/status", NULL, tok, &r);
	assert_problem(&r, 401, "unauthorized", "official no longer active");
	resp_clear(&r);
	t->f.fm_active = true; /* restored: the token was revoked all the same */
	request(t, EVHTTP_REQ_GET, "/v1/status", NULL, tok, &r);
	assert_problem(&r, 401, "unauthorized", "unknown token");
	resp_clear(&r);
}

/* ================================================================ tests: envelopes */

static void post_envelope(T *t, const char *tok, const uint8_t *env, size_t n, resp *r)
{
	char *e = b64(env, n);
	char *body = malloc(strlen(e) + 32);
	assert_non_null(body);
	snprintf(body, strlen(e) + 32, "{\"envelope\":\"%s\"}", e);
	request(t, EVHTTP_REQ_POST, "/v1/envelopes", body, tok, r);
	free(body);
	free(e);
}

static void test_submit(void **state)
{
	T *t = *state;
	char tok[64];
	login(t, tok);
	uint8_t env[300];
	for (size_t i = 0; i < sizeof(env); i++)
		env[i] = (uint8_t)(i * 7 + 3);
	resp r;
	post_envelope(t, tok, env, sizeof(env), &r);
	assert_int_equal(r.status, 201);
	assert_int_equal(t->f.submit_calls, 1);
	assert_int_equal(t->f.env_len, sizeof(env));
	assert_memory_equal(t->f.env, env, sizeof(env));
	assert_int_equal(t->f.env_now, T0);
	uint8_t h[PL_HASH_BYTES];
	char hex[65], loc[96];
	pl_sha256(h, env, sizeof(env));
	pl_hex_encode(hex, h, sizeof(h));
	assert_string_equal(jstr(r.json, "id"), hex);
	assert_true(json_is_false(json_object_get(r.json, "duplicate")));
	assert_int_equal(jint(r.json, "position"), 42);
	snprintf(loc, sizeof(loc), "/v1/envelopes/%s", hex);
	assert_string_equal(r.location, loc);
	resp_clear(&r);

	t->f.submit_dup = true;
	post_envelope(t, tok, env, sizeof(env), &r);
	assert_int_equal(r.status, 200);
	assert_true(json_is_true(json_object_get(r.json, "duplicate")));
	resp_clear(&r);

	/* A media type with parameters is still JSON. */
	char *e = b64(env, 3);
	char body[64];
	snprintf(body, sizeof(body), "{\"envelope\":\"%s\"}", e);
	free(e);
	char auth[128];
	snprintf(auth, sizeof(auth), "Bearer %s", tok);
	request_ex(t, EVHTTP_REQ_POST, "/v1/envelopes", "Application/JSON; charset=utf-8", body,
		   strlen(body), auth, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(t->f.env_len, 3);
	resp_clear(&r);
}

static void test_submit_refused(void **state)
{
	T *t = *state;
	char tok[64];
	login(t, tok);
	uint8_t env[8] = {1, 2, 3, 4, 5, 6, 7, 8};
	resp r;

	t->f.submit_code = PL_ERR_NOT_MEMBER;
	t->f.submit_reason = "fm-1 is not a member of channel ops";
	post_envelope(t, tok, env, sizeof(env), &r);
	assert_problem(&r, 422, "not-member", "fm-1 is not a member of channel ops");
	resp_clear(&r);

	t->f.submit_code = PL_ERR_BAD_SIGNATURE;
	t->f.submit_reason = NULL;
	post_envelope(t, tok, env, sizeof(env), &r);
	assert_problem(&r, 422, "bad-signature", pl_strerror(PL_ERR_BAD_SIGNATURE));
	resp_clear(&r);

	t->f.submit_code = PL_ERR_REPLAY;
	post_envelope(t, tok, env, sizeof(env), &r);
	assert_problem(&r, 422, "replay", "");
	resp_clear(&r);

	/* The node's own failure is not the client's fault. */
	t->f.submit_code = 0;
	t->f.submit_rc = PL_ERR_STORE;
	post_envelope(t, tok, env, sizeof(env), &r);
	assert_problem(&r, 500, "store", "");
	resp_clear(&r);
	t->f.submit_rc = PL_ERR_BUSY;
	post_envelope(t, tok, env, sizeof(env), &r);
	assert_problem(&r, 503, "busy", "");
	resp_clear(&r);
}

/* POST /v1/envelopes {"envelopes": [...]}: each decided on its own, in order. */
static void test_submit_batch(void **state)
{
	T *t = *state;
	char tok[64];
	login(t, tok);
	uint8_t a[40], b[40], c[40];
	memset(a, 0xA1, sizeof(a));
	memset(b, 0xEE, sizeof(b)); /* the fake refuses it */
	memset(c, 0xC3, sizeof(c));
	char *ea = b64(a, sizeof(a)), *eb = b64(b, sizeof(b)), *ec = b64(c, sizeof(c));
	char body[MAX_BODY];
	snprintf(body, sizeof(body), "{\"envelopes\":[\"%s\",\"%s\",\"%s\"]}", ea, eb, ec);
	resp r;
	request(t, EVHTTP_REQ_POST, "/v1/envelopes", body, tok, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(t->f.submit_calls, 3);
	assert_memory_equal(t->f.env, c, sizeof(c)); /* in order: c last */
	json_t *res = json_object_get(r.json, "results");
	assert_int_equal(json_array_size(res), 3);
	uint8_t h[PL_HASH_BYTES];
	char hex[65];
	pl_sha256(h, a, sizeof(a));
	pl_hex_encode(hex, h, sizeof(h));
	json_t *e0 = json_array_get(res, 0), *e1 = json_array_get(res, 1), *e2 = json_array_get(res, 2);
	assert_int_equal(jint(e0, "status"), 201);
	assert_string_equal(jstr(e0, "id"), hex);
	assert_int_equal(jint(e0, "position"), 42);
	assert_int_equal(jint(e1, "status"), 422);
	assert_string_equal(jstr(e1, "type"), PROBLEM "not-member");
	assert_non_null(strstr(jstr(e1, "detail"), "never a member"));
	pl_sha256(h, b, sizeof(b));
	pl_hex_encode(hex, h, sizeof(h));
	assert_string_equal(jstr(e1, "id"), hex);
	assert_int_equal(jint(e2, "status"), 201);
	assert_int_equal(jint(r.json, "accepted"), 2);
	assert_int_equal(jint(r.json, "duplicates"), 0);
	assert_int_equal(jint(r.json, "refused"), 1);
	resp_clear(&r);

	/* duplicates are counted as such */
	t->f.submit_dup = true;
	snprintf(body, sizeof(body), "{\"envelopes\":[\"%s\"]}", ea);
	request(t, EVHTTP_REQ_POST, "/v1/envelopes", body, tok, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(jint(json_array_get(json_object_get(r.json, "results"), 0), "status"), 200);
	assert_int_equal(jint(r.json, "duplicates"), 1);
	resp_clear(&r);
	t->f.submit_dup = false;

	/* the node's own failure, per envelope */
	t->f.submit_rc = PL_ERR_STORE;
	request(t, EVHTTP_REQ_POST, "/v1/envelopes", body, tok, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(jint(json_array_get(json_object_get(r.json, "results"), 0), "status"), 500);
	assert_int_equal(jint(r.json, "refused"), 1);
	resp_clear(&r);
	t->f.submit_rc = 0;

	/* malformed requests submit nothing at all, even their good elements */
	int calls = t->f.submit_calls;
	char big[MAX_BODY];
	struct {
		const char *body;
		int status;
		const char *detail;
	} bad[] = {
	    {"{\"envelopes\":[]}", 400, "non-empty array"},
	    {"{\"envelopes\":\"AAAA\"}", 400, "non-empty array"},
	    {"{\"envelopes\":[\"AAAA\",5]}", 400, "envelopes[1]"},
	    {"{\"envelopes\":[\"AAAA\",\"\"]}", 400, "envelopes[1]"},
	    {"{\"envelopes\":[\"AAAA\",\"!!!!\"]}", 400, "envelopes[1] is not standard base64"},
	    {"{\"envelope\":\"AAAA\",\"envelopes\":[\"AAAA\"]}", 400, "not both"},
	    {big, 413, "the limit is 256"},
	};
	/* 257 envelopes */
	size_t k = (size_t)snprintf(big, sizeof(big), "{\"envelopes\":[");
	for (int i = 0; i < API_MAX_BATCH + 1; i++)
		k += (size_t)snprintf(big + k, sizeof(big) - k, "%s\"AAAA\"", i ? "," : "");
	snprintf(big + k, sizeof(big) - k, "]}");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		request(t, EVHTTP_REQ_POST, "/v1/envelopes", bad[i].body, tok, &r);
		assert_problem(&r, bad[i].status, bad[i].status == 400 ? "bad-request" : "too-large",
			       bad[i].detail);
		resp_clear(&r);
	}
	/* one element over the envelope limit */
	size_t over = MAX_ENVELOPE + 3;
	uint8_t *o = calloc(1, over);
	assert_non_null(o);
	char *eo = b64(o, over);
	free(o);
	char *body2 = malloc(strlen(eo) + strlen(ea) + 64);
	assert_non_null(body2);
	sprintf(body2, "{\"envelopes\":[\"%s\",\"%s\"]}", ea, eo);
	free(eo);
	char auth[128];
	snprintf(auth, sizeof(auth), "Bearer %s", tok);
	request_ex(t, EVHTTP_REQ_POST, "/v1/envelopes", "application/json", body2, strlen(body2),
		   auth, &r);
	free(body2);
	assert_int_equal(r.status, 413);
	resp_clear(&r);
	assert_int_equal(t->f.submit_calls, calls);
	free(ea);
	free(eb);
	free(ec);
}

static void test_bad_bodies(void **state)
{
	T *t = *state;
	char tok[64];
	login(t, tok);
	static const struct {
		const char *body, *detail;
	} cases[] = {
	    {"{", "invalid JSON"},
	    {"{\"envelope\":\"AAAA\"} trailing", "invalid JSON"},
	    {"[\"AAAA\"]", "must be a JSON object"},
	    {"\"AAAA\"", "invalid JSON"},
	    {"{}", "missing field \"envelope\""},
	    {"{\"envelope\":5}", "\"envelope\" must be a string"},
	    {"{\"envelope\":null}", "\"envelope\" must be a string"},
	    {"{\"envelope\":\"\"}", "must be 1 to"},
	    {"{\"envelope\":\"@@@@\"}", "not standard base64"},
	    {"{\"envelope\":\"AAA\"}", "not standard base64"},
	    {"{\"envelope\":\"QUJD\\u0000\"}", "invalid JSON"}, /* jansson refuses NUL */
	    {"{\"envelope\":\"QUJD\",\"envelope\":\"QUJD\"}", "invalid JSON"},
	    {"{\"envelope\":\"QUJ=\"}", "not standard base64"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		resp r;
		request(t, EVHTTP_REQ_POST, "/v1/envelopes", cases[i].body, tok, &r);
		assert_problem(&r, 400, "bad-request", cases[i].detail);
		resp_clear(&r);
	}
	/* An empty body. */
	resp r;
	char auth[128];
	snprintf(auth, sizeof(auth), "Bearer %s", tok);
	request_ex(t, EVHTTP_REQ_POST, "/v1/envelopes", "application/json", NULL, 0, auth, &r);
	assert_problem(&r, 400, "bad-request", "empty");
	resp_clear(&r);
	/* Bytes that are not UTF-8. */
	request_ex(t, EVHTTP_REQ_POST, "/v1/envelopes", "application/json", "{\"\xff\":1}", 7, auth,
		   &r);
	assert_problem(&r, 400, "bad-request", "invalid JSON");
	resp_clear(&r);
	assert_int_equal(t->f.submit_calls, 0);

	/* The same checks guard the auth endpoints (no token needed there). */
	request(t, EVHTTP_REQ_POST, "/v1/auth/token", "{\"state\":\"tehran\",\"id\":\"fm-1\"}",
		NULL, &r);
	assert_problem(&r, 400, "bad-request", "missing field \"challenge\"");
	resp_clear(&r);
	request(t, EVHTTP_REQ_POST, "/v1/auth/challenge", "{\"state\":1,\"id\":\"fm-1\"}", NULL,
		&r);
	assert_problem(&r, 400, "bad-request", "\"state\" must be a string");
	resp_clear(&r);
}

static void test_limits(void **state)
{
	T *t = *state;
	char tok[64], auth[128];
	login(t, tok);
	snprintf(auth, sizeof(auth), "Bearer %s", tok);
	resp r;

	/* Over max_body: a 413 problem. */
	size_t n = MAX_BODY + 100;
	char *big = malloc(n + 1);
	assert_non_null(big);
	memset(big, ' ', n);
	memcpy(big, "{\"envelope\":\"QUJD\"}", 19);
	big[n] = '\0';
	request(t, EVHTTP_REQ_POST, "/v1/envelopes", big, tok, &r);
	assert_problem(&r, 413, "too-large", "the limit is 4096");
	resp_clear(&r);
	free(big);

	/* Within max_body, but the envelope decodes to more than max_envelope. */
	uint8_t env[MAX_ENVELOPE + 1] = {0};
	post_envelope(t, tok, env, sizeof(env), &r);
	assert_problem(&r, 413, "too-large", "more than 2048 bytes");
	resp_clear(&r);
	/* Exactly max_envelope is fine. */
	post_envelope(t, tok, env, MAX_ENVELOPE, &r);
	assert_int_equal(r.status, 201);
	resp_clear(&r);

	/* Far over: evhttp itself refuses with a bare 413 (documented). */
	n = 2 * MAX_BODY + 1000;
	big = calloc(1, n);
	assert_non_null(big);
	request_ex(t, EVHTTP_REQ_POST, "/v1/envelopes", "application/json", big, n, auth, &r);
	assert_int_equal(r.status, 413);
	resp_clear(&r);
	free(big);
	assert_int_equal(t->f.submit_calls, 1);
}

static void test_routing_errors(void **state)
{
	T *t = *state;
	char tok[64], auth[128];
	login(t, tok);
	snprintf(auth, sizeof(auth), "Bearer %s", tok);
	resp r;

	request(t, EVHTTP_REQ_DELETE, "/v1/status", NULL, tok, &r);
	assert_problem(&r, 405, "method-not-allowed", "DELETE");
	assert_string_equal(r.allow, "GET, HEAD");
	resp_clear(&r);

	request(t, EVHTTP_REQ_GET, "/v1/envelopes", NULL, tok, &r);
	assert_problem(&r, 405, "method-not-allowed", "GET");
	assert_string_equal(r.allow, "POST");
	resp_clear(&r);

	request(t, EVHTTP_REQ_PUT, "/v1/events", "{}", tok, &r);
	assert_problem(&r, 405, "method-not-allowed", "PUT");
	assert_string_equal(r.allow, "GET");
	resp_clear(&r);

	static const char *const unknown[] = {
	    "/",
	    "/nope",
	    "/v1",
	    "/v1/channels/",
	    "/v1//channels",
	    "/v1/channels/ops",
	    "/v1/channels/ops/envelopes/more",
	    "/V1/status",
	    "/v1/status/",
	    "/a/b/c/d/e/f/g/h/i/j",
	};
	for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
		request(t, EVHTTP_REQ_GET, unknown[i], NULL, tok, &r);
		assert_problem(&r, 404, "not-found", "no such endpoint");
		resp_clear(&r);
	}

	/* POST bodies must be JSON. */
	request_ex(t, EVHTTP_REQ_POST, "/v1/envelopes", "text/plain", "{}", 2, auth, &r);
	assert_problem(&r, 415, "unsupported-media-type", "application/json");
	resp_clear(&r);
	request_ex(t, EVHTTP_REQ_POST, "/v1/envelopes", NULL, "{}", 2, auth, &r);
	assert_problem(&r, 415, "unsupported-media-type", "application/json");
	resp_clear(&r);
	request_ex(t, EVHTTP_REQ_POST, "/v1/envelopes", "application/jsonx", "{}", 2, auth, &r);
	assert_problem(&r, 415, "unsupported-media-type", "application/json");
	resp_clear(&r);
	assert_int_equal(t->f.submit_calls, 0);
}

/* ================================================================ tests: reads and charters */

static void test_reads(void **state)
{
	T *t = *state;
	char tok[64];
	login(t, tok);
	resp r;

	request(t, EVHTTP_REQ_GET, "/v1/channels", NULL, tok, &r);
	assert_int_equal(r.status, 200);
	assert_true(json_is_array(r.json));
	assert_string_equal(jstr(json_array_get(r.json, 0), "name"), "ops");
	resp_clear(&r);

	request(t, EVHTTP_REQ_GET, "/v1/channels/ops/envelopes", NULL, tok, &r);
	assert_int_equal(r.status, 200);
	assert_true(json_is_array(json_object_get(r.json, "items")));
	assert_string_equal(t->f.page_ch, "ops");
	assert_int_equal(t->f.page_limit, 100);
	assert_true(t->f.page_cursor_null);
	resp_clear(&r);

	request(t, EVHTTP_REQ_GET, "/v1/channels/ops/envelopes?limit=500&cursor=c%2F9", NULL, tok,
		&r);
	assert_int_equal(r.status, 200);
	assert_int_equal(t->f.page_limit, 500);
	assert_false(t->f.page_cursor_null);
	assert_string_equal(t->f.page_cursor, "c/9");
	resp_clear(&r);

	int calls = t->f.page_calls;
	static const char *const bad_limits[] = {"0", "501", "-1", "x",
						 "",  "1e2", "+5", "99999999999"};
	for (size_t i = 0; i < sizeof(bad_limits) / sizeof(bad_limits[0]); i++) {
		char path[128];
		snprintf(path, sizeof(path), "/v1/channels/ops/envelopes?limit=%s", bad_limits[i]);
		request(t, EVHTTP_REQ_GET, path, NULL, tok, &r);
		assert_problem(&r, 400, "bad-request", "limit must be");
		resp_clear(&r);
	}
	assert_int_equal(t->f.page_calls, calls);

	request(t, EVHTTP_REQ_GET, "/v1/channels/Ops!/envelopes", NULL, tok, &r);
	assert_problem(&r, 400, "bad-request", "not a valid channel name");
	resp_clear(&r);

	request(t, EVHTTP_REQ_GET, "/v1/channels/nochan/envelopes", NULL, tok, &r);
	assert_problem(&r, 404, "unknown-channel", "");
	resp_clear(&r);

	/* next: for the token's official. */
	request(t, EVHTTP_REQ_GET, "/v1/channels/ops/next?lane=FLASH", NULL, tok, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(jint(r.json, "seq"), 5);
	assert_true(json_is_null(json_object_get(r.json, "prev")));
	assert_string_equal(t->f.next_state, "tehran");
	assert_string_equal(t->f.next_id, "fm-1");
	assert_string_equal(t->f.next_ch, "ops");
	assert_int_equal(t->f.next_lane, API_LANE_FLASH);
	resp_clear(&r);
	request(t, EVHTTP_REQ_GET, "/v1/channels/ops/next?lane=routine", NULL, tok, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(t->f.next_lane, API_LANE_ROUTINE);
	resp_clear(&r);
	request(t, EVHTTP_REQ_GET, "/v1/channels/ops/next", NULL, tok, &r);
	assert_problem(&r, 400, "bad-request", "lane must be");
	resp_clear(&r);
	request(t, EVHTTP_REQ_GET, "/v1/channels/ops/next?lane=URGENT", NULL, tok, &r);
	assert_problem(&r, 400, "bad-request", "lane must be");
	resp_clear(&r);

	/* One envelope by id. */
	uint8_t id[PL_HASH_BYTES];
	char hex[65], path[128];
	for (size_t i = 0; i < sizeof(id); i++)
		id[i] = (uint8_t)(0x10 + i);
	pl_hex_encode(hex, id, sizeof(id));
	snprintf(path, sizeof(path), "/v1/envelopes/%s", hex);
	request(t, EVHTTP_REQ_GET, path, NULL, tok, &r);
	assert_int_equal(r.status, 200);
	assert_memory_equal(t->f.env_id, id, sizeof(id));
	assert_string_equal(jstr(r.json, "kind"), "message");
	resp_clear(&r);
	id[0] = 0xff;
	pl_hex_encode(hex, id, sizeof(id));
	snprintf(path, sizeof(path), "/v1/envelopes/%s", hex);
	request(t, EVHTTP_REQ_GET, path, NULL, tok, &r);
	assert_problem(&r, 404, "not-found", "");
	resp_clear(&r);
	request(t, EVHTTP_REQ_GET, "/v1/envelopes/abc", NULL, tok, &r);
	assert_problem(&r, 400, "bad-request", "64 hex digits");
	resp_clear(&r);
	hex[10] = 'z';
	snprintf(path, sizeof(path), "/v1/envelopes/%s", hex);
	request(t, EVHTTP_REQ_GET, path, NULL, tok, &r);
	assert_problem(&r, 400, "bad-request", "64 hex digits");
	resp_clear(&r);
}

static void test_charters(void **state)
{
	T *t = *state;
	char tok[64];
	login(t, tok);
	resp r;
	uint8_t ch[100];
	for (size_t i = 0; i < sizeof(ch); i++)
		ch[i] = (uint8_t)(255 - i);
	char *e = b64(ch, sizeof(ch));
	char body[256];
	snprintf(body, sizeof(body), "{\"charter\":\"%s\"}", e);
	free(e);

	request(t, EVHTTP_REQ_POST, "/v1/charters", body, tok, &r);
	assert_int_equal(r.status, 202);
	assert_true(json_is_true(json_object_get(r.json, "accepted")));
	assert_int_equal(t->f.charter_len, sizeof(ch));
	assert_memory_equal(t->f.charter, ch, sizeof(ch));
	resp_clear(&r);

	t->f.charter_rc = PL_ERR_BAD_SIGNATURE;
	request(t, EVHTTP_REQ_POST, "/v1/charters", body, tok, &r);
	assert_problem(&r, 422, "bad-signature", "islamabad's signature does not verify");
	resp_clear(&r);

	request(t, EVHTTP_REQ_POST, "/v1/charters", "{\"charter\":\"!!\"}", tok, &r);
	assert_problem(&r, 400, "bad-request", "\"charter\"");
	resp_clear(&r);

	request(t, EVHTTP_REQ_GET, "/v1/charters/ops", NULL, tok, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(jstr(r.json, "name"), "ops");
	resp_clear(&r);
	request(t, EVHTTP_REQ_GET, "/v1/charters/border", NULL, tok, &r);
	assert_problem(&r, 404, "unknown-channel", "");
	resp_clear(&r);

	/* Without a token nothing reaches the backend. */
	t->f.charter_len = 0;
	request(t, EVHTTP_REQ_POST, "/v1/charters", body, NULL, &r);
	assert_problem(&r, 401, "unauthorized", "missing bearer token");
	resp_clear(&r);
	assert_int_equal(t->f.charter_len, 0);
}

/* ================================================================ tests: server-sent events */

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

static void stream_open(T *t, stream *s, const char *tok)
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
	assert_int_equal(evhttp_make_request(s->conn, req, EVHTTP_REQ_GET, "/v1/events"), 0);
}

static void stream_close(stream *s)
{
	evhttp_connection_free(s->conn);
	pl_buf_clear(&s->got);
}

typedef struct want {
	stream *s;
	const char *text;
} want;

static bool stream_has(void *arg)
{
	want *w = arg;
	return w->s->got.len && strstr((const char *)w->s->got.data, w->text);
}

static bool no_subscribers(void *arg)
{
	return api_subscriber_count(((T *)arg)->a) == 0;
}

static bool one_subscriber(void *arg)
{
	return api_subscriber_count(((T *)arg)->a) == 1;
}

static void test_events(void **state)
{
	T *t = *state;
	char tok[64];
	login(t, tok);
	stream s;
	stream_open(t, &s, tok);
	want w = {&s, ": parley events\n\n"};
	loop_until(t, stream_has, &w);
	assert_int_equal(s.status, 200);
	assert_string_equal(s.ctype, "text/event-stream");
	assert_int_equal(api_subscriber_count(t->a), 1);

	api_publish(t->a, "Bad Name", NULL); /* refused: not sent */
	json_t *d = json_pack("{s:s, s:s, s:i}", "id", "ab12", "lane", "FLASH", "n", 1);
	api_publish(t->a, "envelope", d);
	json_decref(d);
	w.text = "event: envelope\ndata: {\"id\":\"ab12\",\"lane\":\"FLASH\",\"n\":1}\n\n";
	loop_until(t, stream_has, &w);
	/* Nothing else in between: the hello, then exactly this event. */
	const char *got = (const char *)s.got.data;
	assert_int_equal(strncmp(got, ": parley events\n\n", 17), 0);
	assert_null(strstr(got, "Bad Name"));

	/* The sink form core.h wants, and a JSON string with a newline in it. */
	d = json_string("line1\nline2");
	api_event_sink(t->a, "alarm", d);
	json_decref(d);
	w.text = "event: alarm\ndata: \"line1\\nline2\"\n\n";
	loop_until(t, stream_has, &w);

	w.text = ": keepalive\n\n";
	loop_until(t, stream_has, &w);
	assert_false(s.ended);

	/* The client leaves: the subscriber goes. */
	stream_close(&s);
	loop_until(t, no_subscribers, t);

	/* Without a token: 401. */
	resp r;
	request(t, EVHTTP_REQ_GET, "/v1/events", NULL, NULL, &r);
	assert_problem(&r, 401, "unauthorized", "missing bearer token");
	resp_clear(&r);
}

static void test_events_limit(void **state)
{
	T *t = *state;
	char tok[64];
	login(t, tok);
	stream s1, s2;
	stream_open(t, &s1, tok);
	stream_open(t, &s2, tok);
	want w1 = {&s1, ": parley events"}, w2 = {&s2, ": parley events"};
	loop_until(t, stream_has, &w1);
	loop_until(t, stream_has, &w2);
	assert_int_equal(api_subscriber_count(t->a), 2);
	resp r;
	request(t, EVHTTP_REQ_GET, "/v1/events", NULL, tok, &r);
	assert_problem(&r, 503, "too-many-subscribers", "at most 2");
	resp_clear(&r);
	stream_close(&s1);
	stream_close(&s2);
	loop_until(t, no_subscribers, t);
	/* api_free with a live subscriber is tidy too (teardown checks under ASan). */
	stream_open(t, &s1, tok);
	w1.s = &s1;
	loop_until(t, stream_has, &w1);
	api_free(t->a);
	t->a = NULL;
	stream_close(&s1);
}

static void test_events_slow_subscriber(void **state)
{
	T *t = *state;
	char tok[64];
	login(t, tok);
	/* A raw client that asks for the stream and never reads. */
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	int small = 4096;
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)), 0);
	struct sockaddr_in sa;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)t->port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	char req[256];
	int n = snprintf(req, sizeof(req),
			 "GET /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer "
			 "%s\r\n\r\n",
			 tok);
	assert_int_equal(send(fd, req, (size_t)n, 0), n);
	loop_until(t, one_subscriber, t);

	static char blob[16 << 10];
	memset(blob, 'x', sizeof(blob) - 1);
	json_t *d = json_pack("{s:s}", "blob", blob);
	int i;
	for (i = 0; i < 4000 && api_subscriber_count(t->a) == 1; i++) {
		api_publish(t->a, "envelope", d);
		event_base_loop(t->base, EVLOOP_NONBLOCK);
	}
	json_decref(d);
	assert_int_equal(api_subscriber_count(t->a), 0);
	close(fd);

	resp r;
	request(t, EVHTTP_REQ_GET, "/metrics", NULL, NULL, &r);
	assert_non_null(strstr(r.body, "parley_api_sse_dropped_total 1\n"));
	assert_non_null(strstr(r.body, "parley_api_sse_subscribers 0\n"));
	resp_clear(&r);
}

/* ================================================================ tests: who may read /metrics */

/* addr (an IPv4 or IPv6 literal) as a socket address in ss. */
static const struct sockaddr *sockaddr_of(const char *addr, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, addr, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(40000);
	} else {
		assert_int_equal(inet_pton(AF_INET6, addr, &s6->sin6_addr), 1);
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(40000);
	}
	return (const struct sockaddr *)ss;
}

static void test_client_is_local(void **state)
{
	static const char *const local[] = {
	    "127.0.0.1", "127.5.5.5",        "127.255.255.254",
	    "::1",       "::ffff:127.0.0.1", "::ffff:127.9.8.7",
	};
	/* ::127.0.0.1 is IPv4-compatible, not IPv4-mapped. */
	static const char *const remote[] = {
	    "10.1.2.3",        "192.168.0.1",     "0.0.0.0",     "128.0.0.1",
	    "126.255.255.255", "::ffff:10.0.0.1", "::",          "::2",
	    "fe80::1",         "2001:db8::1",     "::127.0.0.1",
	};
	struct sockaddr_storage ss;
	for (size_t i = 0; i < sizeof(local) / sizeof(local[0]); i++)
		if (!api_client_is_local(sockaddr_of(local[i], &ss)))
			fail_msg("%s is not taken for a loopback client", local[i]);
	for (size_t i = 0; i < sizeof(remote) / sizeof(remote[0]); i++)
		if (api_client_is_local(sockaddr_of(remote[i], &ss)))
			fail_msg("%s is taken for a loopback client", remote[i]);
	struct sockaddr_un su;
	memset(&su, 0, sizeof(su));
	su.sun_family = AF_UNIX;
	assert_false(api_client_is_local((const struct sockaddr *)&su));
	assert_false(api_client_is_local(NULL));
}

static int local_asked;
static struct sockaddr_in local_seen;

/* A decision function that says no to everyone and notes what it was asked. */
static bool never_local(const struct sockaddr *sa)
{
	local_asked++;
	assert_non_null(sa);
	assert_int_equal(sa->sa_family, AF_INET);
	memcpy(&local_seen, sa, sizeof(local_seen));
	return false;
}

static void test_metrics_address(void **state)
{
	T *t = *state;
	resp r;
	/* The default decision, api_client_is_local, lets a loopback client in. */
	request(t, EVHTTP_REQ_GET, "/metrics", NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	resp_clear(&r);

	/* The handler asks the decision with the client's own address and obeys a no. */
	api_config cfg = test_config(t);
	cfg.client_is_local = never_local;
	reopen(t, &cfg);
	local_asked = 0;
	request(t, EVHTTP_REQ_GET, "/metrics", NULL, NULL, &r);
	assert_problem(&r, 403, "forbidden", "loopback clients only");
	assert_null(strstr(r.body, "parley_api"));
	resp_clear(&r);
	assert_int_equal(local_asked, 1);
	assert_int_equal(ntohl(local_seen.sin_addr.s_addr), INADDR_LOOPBACK);
	request(t, EVHTTP_REQ_GET, "/healthz", NULL, NULL, &r); /* other endpoints do not ask */
	assert_int_equal(r.status, 200);
	resp_clear(&r);
	assert_int_equal(local_asked, 1);

	/* metrics_any_address: nobody is asked. */
	cfg.metrics_any_address = true;
	reopen(t, &cfg);
	local_asked = 0;
	request(t, EVHTTP_REQ_GET, "/metrics", NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	resp_clear(&r);
	assert_int_equal(local_asked, 0);
}

/* ================================================================ tests: connection limits */

/* A plain TCP connection to the test's API (nothing sent), non-blocking. */
static int raw_connect(T *t)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	struct sockaddr_in sa;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)t->port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	/* Loopback: the kernel completes it without the server's accept(). */
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	int fl = fcntl(fd, F_GETFL);
	assert_int_equal(fcntl(fd, F_SETFL, fl | O_NONBLOCK), 0);
	return fd;
}

enum raw_state { RAW_OPEN, RAW_CLOSED, RAW_DATA };

/* Has the server closed fd, sent something, or neither (yet)?  Reads nothing. */
static enum raw_state raw_peek(int fd)
{
	char b[64];
	ssize_t n = recv(fd, b, sizeof(b), MSG_PEEK | MSG_DONTWAIT);
	if (n > 0)
		return RAW_DATA;
	if (n == 0)
		return RAW_CLOSED;
	return errno == EAGAIN || errno == EWOULDBLOCK ? RAW_OPEN : RAW_CLOSED;
}

static bool raw_not_open(void *arg)
{
	return raw_peek(*(int *)arg) != RAW_OPEN;
}

/* Wait until the server closes fd, and check that it said nothing first. */
static void raw_wait_closed(T *t, int fd)
{
	loop_until(t, raw_not_open, &fd);
	assert_int_equal(raw_peek(fd), RAW_CLOSED);
}

static void raw_send(int fd, const char *s)
{
	size_t n = strlen(s);
	assert_int_equal(send(fd, s, n, MSG_NOSIGNAL), (ssize_t)n);
}

typedef struct raw_answer {
	int fd;
	char got[512];
	size_t len;
	bool closed;
} raw_answer;

static bool raw_answered(void *arg)
{
	raw_answer *w = arg;
	while (w->len + 1 < sizeof(w->got)) {
		ssize_t n = recv(w->fd, w->got + w->len, sizeof(w->got) - 1 - w->len, MSG_DONTWAIT);
		if (n <= 0) {
			w->closed = n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
			break;
		}
		w->len += (size_t)n;
		w->got[w->len] = '\0';
	}
	return w->closed || strstr(w->got, "\r\n\r\n") != NULL;
}

/* Send a request for path on fd and wait for the head of the answer: its status. */
static int raw_get(T *t, int fd, const char *method, const char *path)
{
	char req[256];
	snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", method, path);
	raw_send(fd, req);
	raw_answer w = {.fd = fd};
	loop_until(t, raw_answered, &w);
	int status = 0;
	if (strncmp(w.got, "HTTP/1.1 ", 9) == 0)
		status = (int)strtol(w.got + 9, NULL, 10);
	return status;
}

typedef struct conns_want {
	T *t;
	unsigned n;
} conns_want;

static bool conns_are(void *arg)
{
	conns_want *w = arg;
	return api_connection_count(w->t->a) == w->n;
}

static void wait_connections(T *t, unsigned n)
{
	conns_want w = {t, n};
	loop_until(t, conns_are, &w);
}

/* The /metrics text (free it): asked on a new connection, as a scraper does. */
static char *metrics_text(T *t)
{
	resp r;
	request(t, EVHTTP_REQ_GET, "/metrics", NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	char *body = r.body;
	r.body = NULL;
	resp_clear(&r);
	return body;
}

/* The value of the metric line of text that starts with name (labels included). */
static long metric_in(const char *text, const char *name)
{
	char key[160];
	snprintf(key, sizeof(key), "\n%s ", name);
	const char *p = strstr(text, key);
	if (!p)
		fail_msg("/metrics has no %s", name);
	return strtol(p + strlen(key), NULL, 10);
}

/* One metric from a fresh /metrics. */
static long metric(T *t, const char *name)
{
	char *text = metrics_text(t);
	long v = metric_in(text, name);
	free(text);
	return v;
}

/* node_log's lines go to a temporary file until log_lines() reads them. */
static FILE *log_capture(void)
{
	FILE *f = tmpfile();
	assert_non_null(f);
	node_log_set_stream(f);
	return f;
}

/* How many captured lines contain text; the capture ends. */
static int log_lines(FILE *f, const char *text, char *last, size_t lastcap)
{
	node_log_set_stream(NULL);
	rewind(f);
	char line[NODE_LOG_LINE_MAX];
	int n = 0;
	while (fgets(line, sizeof(line), f)) {
		if (!strstr(line, text))
			continue;
		n++;
		snprintf(last, lastcap, "%s", line);
	}
	fclose(f);
	return n;
}

static void test_connections_idle_make_room(void **state)
{
	T *t = *state;
	api_config cfg = test_config(t);
	cfg.max_connections = 8;
	reopen(t, &cfg);
	FILE *log = log_capture();
	int fd[9];
	for (int i = 0; i < 8; i++)
		fd[i] = raw_connect(t);
	wait_connections(t, 8);
	for (int i = 0; i < 8; i++)
		assert_int_equal(raw_peek(fd[i]), RAW_OPEN);

	/* One more: the oldest idle connection is closed, unanswered, for it. */
	fd[8] = raw_connect(t);
	raw_wait_closed(t, fd[0]);
	assert_int_equal(api_connection_count(t->a), 8);
	for (int i = 1; i < 9; i++)
		assert_int_equal(raw_peek(fd[i]), RAW_OPEN);
	/* ... and the newcomer is served. */
	assert_int_equal(raw_get(t, fd[8], "GET", "/healthz"), 200);

	/* /metrics comes on a new connection too: the next oldest idle one
	 * (fd[1]; fd[8] was answered since) makes room for it. */
	char *m = metrics_text(t);
	assert_int_equal(metric_in(m, "parley_api_connections_refused_total{reason=\"idle\"}"), 2);
	assert_int_equal(metric_in(m, "parley_api_connections_refused_total{reason=\"full\"}"), 0);
	assert_int_equal(metric_in(m, "parley_api_connections_refused_total{reason=\"slow\"}"), 0);
	assert_int_equal(metric_in(m, "parley_api_connections"), 8);
	free(m);
	raw_wait_closed(t, fd[1]);
	for (int i = 0; i < 9; i++)
		close(fd[i]);

	/* One log line at once, the second refusal summed up later (here: when
	 * the API is freed), not a line per connection. */
	api_free(t->a);
	char last[NODE_LOG_LINE_MAX] = "";
	int n = log_lines(log, "msg=\"connections refused\"", last, sizeof(last));
	assert_int_equal(n, 2);
	assert_non_null(strstr(last, "server=api limit=8 open=0 full=0 idle=1 slow=0"));
}

/* A burst far beyond the limit, all queued before the server looks: it
 * needs no more descriptors than the limit plus one accept batch (64). */
static void test_connections_burst(void **state)
{
	T *t = *state;
	api_config cfg = test_config(t);
	cfg.max_connections = 8;
	reopen(t, &cfg);
	FILE *log = log_capture();
	enum { N = 120 }; /* below the listen queue of 128 */
	int fd[N];
	for (int i = 0; i < N; i++)
		fd[i] = raw_connect(t);

	/* From here the server may open 8 + 64 + a few descriptors. */
	struct rlimit old, low;
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	int probe = dup(0);
	assert_true(probe >= 0);
	close(probe);
	low = old;
	low.rlim_cur = (rlim_t)probe + 8 + 64 + 4;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	/* The newest 8 stay; every other one is closed unanswered. */
	for (int i = 0; i < N - 8; i++)
		raw_wait_closed(t, fd[i]);
	wait_connections(t, 8);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
	for (int i = N - 8; i < N; i++)
		assert_int_equal(raw_peek(fd[i]), RAW_OPEN);
	char *m = metrics_text(t); /* its connection makes room for itself too */
	assert_int_equal(metric_in(m, "parley_api_accept_errors_total"), 0);
	assert_int_equal(metric_in(m, "parley_api_connections_refused_total{reason=\"idle\"}"),
			 N - 8 + 1);
	free(m);
	for (int i = 0; i < N; i++)
		close(fd[i]);
	char last[NODE_LOG_LINE_MAX] = "";
	assert_int_equal(log_lines(log, "msg=\"connections refused\"", last, sizeof(last)), 1);
}

static bool three_subscribers(void *arg)
{
	return api_subscriber_count(((T *)arg)->a) == 3;
}

static void test_connections_full(void **state)
{
	T *t = *state;
	api_config cfg = test_config(t);
	cfg.max_connections = 3;
	cfg.max_subscribers = 3;
	reopen(t, &cfg);
	char tok[64];
	login(t, tok);
	wait_connections(t, 0);
	stream s[3];
	for (int i = 0; i < 3; i++)
		stream_open(t, &s[i], tok);
	loop_until(t, three_subscribers, t);

	/* Every connection carries a stream: a new one is closed unanswered. */
	int fd = raw_connect(t);
	raw_wait_closed(t, fd);
	close(fd);
	assert_int_equal(api_connection_count(t->a), 3);
	/* The streams were not touched. */
	json_t *d = json_pack("{s:s}", "id", "full");
	api_publish(t->a, "envelope", d);
	json_decref(d);
	for (int i = 0; i < 3; i++) {
		want w = {&s[i], "event: envelope\ndata: {\"id\":\"full\"}\n\n"};
		loop_until(t, stream_has, &w);
	}

	/* A stream ends: a new client is served again. */
	stream_close(&s[0]);
	wait_connections(t, 2);
	char *m = metrics_text(t);
	assert_int_equal(metric_in(m, "parley_api_connections_refused_total{reason=\"full\"}"), 1);
	assert_int_equal(metric_in(m, "parley_api_connections_refused_total{reason=\"idle\"}"), 0);
	assert_int_equal(metric_in(m, "parley_api_connections"), 3);
	free(m);
	stream_close(&s[1]);
	stream_close(&s[2]);
}

typedef struct dribble {
	int fd;
	size_t sent;
	struct event *ev;
} dribble;

/* One byte of a request whose headers never end, every 100 ms. */
static void dribble_cb(evutil_socket_t x, short what, void *arg)
{
	static const char req[] =
	    "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
	dribble *d = arg;
	if (d->sent + 1 >= sizeof(req))
		return;
	if (send(d->fd, req + d->sent, 1, MSG_NOSIGNAL) == 1)
		d->sent++;
	struct timeval tv = {0, 100000};
	evtimer_add(d->ev, &tv);
}

/* Dribble on fd until the server closes it (unanswered); the bytes sent. */
static size_t dribble_until_closed(T *t, int fd)
{
	dribble d = {.fd = fd};
	d.ev = evtimer_new(t->base, dribble_cb, &d);
	assert_non_null(d.ev);
	dribble_cb(-1, 0, &d);
	raw_wait_closed(t, fd);
	event_free(d.ev);
	return d.sent;
}

static void test_connections_slow(void **state)
{
	T *t = *state;
	api_config cfg = test_config(t);
	cfg.timeout = 1; /* evhttp's stall timeout and the request deadline */
	reopen(t, &cfg);

	/* A client that sends a byte every 100 ms never stalls for 1 s, yet
	 * its request is never complete: closed at the deadline, unanswered. */
	int fd = raw_connect(t);
	assert_true(dribble_until_closed(t, fd) >= 2); /* it was still sending */
	close(fd);
	assert_int_equal(metric(t, "parley_api_connections_refused_total{reason=\"slow\"}"), 1);

	/* After an answer the deadline starts again: the same on a kept-alive
	 * connection's second request. */
	fd = raw_connect(t);
	assert_int_equal(raw_get(t, fd, "HEAD", "/healthz"), 200);
	assert_true(dribble_until_closed(t, fd) >= 2);
	close(fd);
	assert_int_equal(metric(t, "parley_api_connections_refused_total{reason=\"slow\"}"), 2);
}

typedef struct turns {
	bool done;
	int n;
} turns;

static void on_turns_done(evutil_socket_t fd, short what, void *arg)
{
	((turns *)arg)->done = true;
}

static void test_accept_errors_pause(void **state)
{
	T *t = *state;
	int fd = raw_connect(t); /* waits in the listen queue */

	/* No descriptor left for the server's accept(). */
	struct rlimit old, low;
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	int probe = dup(0);
	assert_true(probe >= 0);
	close(probe);
	low = old;
	low.rlim_cur = (rlim_t)probe + 4;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	int held[64], nheld = 0;
	while (nheld < 64) {
		int h = dup(0);
		if (h < 0)
			break;
		held[nheld++] = h;
	}
	assert_int_equal(errno, EMFILE);

	/* For 300 ms the loop is woken by accept() failing once, not at every turn. */
	turns tn = {0};
	struct event *ev = evtimer_new(t->base, on_turns_done, &tn);
	assert_non_null(ev);
	struct timeval tv = {0, 300000};
	evtimer_add(ev, &tv);
	for (; tn.n < 100000 && !tn.done; tn.n++)
		event_base_loop(t->base, EVLOOP_ONCE);
	event_free(ev);
	for (int i = 0; i < nheld; i++)
		close(held[i]);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
	assert_true(tn.n < 20);
	assert_int_equal(api_connection_count(t->a), 0);

	/* Descriptors are back: within the pause's second the connection is
	 * taken and answered. */
	wait_connections(t, 1);
	assert_int_equal(raw_get(t, fd, "GET", "/healthz"), 200);
	close(fd);
	long errors = metric(t, "parley_api_accept_errors_total");
	assert_true(errors >= 1 && errors <= 3);
}

/* ================================================================ tests: setup and documentation
 */

static int not_called_submit(void *be, const uint8_t *env, size_t len, int64_t now,
			     node_submit_result *res)
{
	return PL_ERR_INTERNAL;
}

static void test_new_and_listen(void **state)
{
	T *t = *state;
	api_backend be = fake_backend;
	be.metrics = NULL;
	assert_null(api_new(t->base, &be, NULL, NULL));
	be = fake_backend;
	be.version = 2;
	assert_null(api_new(t->base, &be, NULL, NULL));
	be = fake_backend;
	be.node_name = NULL;
	assert_null(api_new(t->base, &be, NULL, NULL));
	be = fake_backend;
	be.submit = not_called_submit;
	api *a = api_new(t->base, &be, NULL, NULL);
	assert_non_null(a);
	static const char *const bad[] = {
	    "nonsense", "127.0.0.1", "127.0.0.1:", "127.0.0.1:99999", "127.0.0.1:8x",
	    ":80",      "[::1",      "[::1]80",    "::1:80"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(api_listen(a, bad[i]), PL_ERR_INVALID);
	assert_int_equal(api_port(a), 0);
	/* The test server's port is taken. */
	char busy[64];
	snprintf(busy, sizeof(busy), "127.0.0.1:%d", t->port);
	assert_int_equal(api_listen(a, busy), PL_ERR_IO);
	assert_int_equal(api_listen(a, "localhost:0"), 0);
	assert_true(api_port(a) > 0);
	api_free(a);
	api_free(a); /* NULL-safe */
}

static void test_docs_cover_routes(void **state)
{
	const char *data = getenv("PARLEY_TEST_DATA");
	char path[4096];
	if (data && *data)
		snprintf(path, sizeof(path), "%s/../../docs/api.md", data);
	else
		snprintf(path, sizeof(path), "docs/api.md");
	FILE *f = fopen(path, "r");
	if (!f)
		fail_msg("cannot open %s", path);
	static char doc[256 << 10];
	size_t n = fread(doc, 1, sizeof(doc) - 1, f);
	fclose(f);
	doc[n] = '\0';
	size_t nr = 0;
	const api_route_info *routes = api_routes(&nr);
	assert_int_equal(nr, 23);
	for (size_t i = 0; i < nr; i++) {
		char heading[160];
		snprintf(heading, sizeof(heading), "### `%s %s`", routes[i].method, routes[i].path);
		if (!strstr(doc, heading))
			fail_msg("docs/api.md lacks a section \"%s\"", heading);
	}
	static const char *const problems[] = {
	    "bad-request",        "not-found",
	    "too-large",          "unauthorized",
	    "method-not-allowed", "unsupported-media-type",
	    "forbidden",          "too-many-subscribers",
	};
	for (size_t i = 0; i < sizeof(problems) / sizeof(problems[0]); i++) {
		char cell[80];
		snprintf(cell, sizeof(cell), "| `%s` |", problems[i]);
		if (!strstr(doc, cell))
			fail_msg("docs/api.md lacks the problem type %s", problems[i]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_healthz, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_metrics, setup, teardown),
	    cmocka_unit_test(test_auth_message),
	    cmocka_unit_test_setup_teardown(test_auth_flow, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_auth_unknown_official, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_auth_wrong_signature, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_auth_reused_challenge, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_auth_expired_challenge, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_auth_challenge_bound_to_official, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_token_failures, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_submit, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_submit_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_submit_batch, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_bodies, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_routing_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reads, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_charters, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_events, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_events_limit, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_events_slow_subscriber, setup, teardown),
	    cmocka_unit_test(test_client_is_local),
	    cmocka_unit_test_setup_teardown(test_metrics_address, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_connections_idle_make_room, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_connections_burst, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_connections_full, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_connections_slow, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_accept_errors_pause, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_new_and_listen, setup, teardown),
	    cmocka_unit_test(test_docs_cover_routes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
