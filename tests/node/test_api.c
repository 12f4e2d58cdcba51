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
#include "api_fixture.h"
#include "parley/codec.h"

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

/*
 * Tokens are kept in a ring of max_tokens, found through hash buckets:
 * every live one is found however the buckets are shared (two tokens make
 * four buckets; twelve issued through the ring fill them in turn), the
 * oldest is dropped for a new one, and a token revoked in the middle of
 * its bucket's chain leaves the others found.
 */
static void test_token_ring(void **state)
{
	T *t = *state;
	for (unsigned max = 1; max <= 5; max += 2) {
		api_config cfg = test_config(t);
		cfg.max_tokens = max;
		reopen(t, &cfg);
		char(*tok)[64] = calloc(12, 64);
		assert_non_null(tok);
		resp r;
		for (unsigned i = 0; i < 12; i++)
			login(t, tok[i]);
		for (unsigned i = 0; i < 12; i++) {
			request(t, EVHTTP_REQ_GET, "/v1/status", NULL, tok[i], &r);
			if (i + max >= 12)
				assert_int_equal(r.status, 200);
			else
				assert_problem(&r, 401, "unauthorized", "unknown token");
			resp_clear(&r);
		}
		free(tok);
	}
	/* 5 live: the middle one revoked, the others still found */
	char(*tok)[64] = calloc(5, 64);
	assert_non_null(tok);
	resp r;
	for (unsigned i = 0; i < 5; i++)
		login(t, tok[i]);
	t->f.fm_active = false;
	request(t, EVHTTP_REQ_GET, "/v1/status", NULL, tok[2], &r);
	assert_problem(&r, 401, "unauthorized", "official no longer active");
	resp_clear(&r);
	t->f.fm_active = true;
	for (unsigned i = 0; i < 5; i++) {
		request(t, EVHTTP_REQ_GET, "/v1/status", NULL, tok[i], &r);
		assert_int_equal(r.status, i == 2 ? 401 : 200);
		resp_clear(&r);
	}
	free(tok);
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
	size_t cap = strlen(eo) + strlen(ea) + 64;
	char *body2 = malloc(cap);
	assert_non_null(body2);
	snprintf(body2, cap, "{\"envelopes\":[\"%s\",\"%s\"]}", ea, eo);
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

/* A CBOR request body: the envelopes a, b, c... as an array of byte strings. */
static void post_cbor(T *t, const char *tok, const uint8_t *const *env, const size_t *len, size_t n,
		      resp *r)
{
	pl_cbor_enc e;
	pl_cbor_enc_init(&e);
	pl_cbor_put_array(&e, n);
	for (size_t i = 0; i < n; i++)
		pl_cbor_put_bytes(&e, env[i], len[i]);
	uint8_t *body = NULL;
	size_t blen = 0;
	assert_int_equal(pl_cbor_enc_finish(&e, &body, &blen), 0);
	char auth[128];
	snprintf(auth, sizeof(auth), "Bearer %s", tok);
	request_ex(t, EVHTTP_REQ_POST, "/v1/envelopes", "application/cbor", (const char *)body,
		   blen, auth, r);
	free(body);
}

/* The same as raw CBOR bytes given in hex. */
static void post_cbor_hex(T *t, const char *tok, const char *hex, resp *r)
{
	uint8_t body[64];
	size_t n = 0;
	assert_int_equal(pl_hex_decode(body, sizeof(body), &n, hex, strlen(hex)), 0);
	char auth[128];
	snprintf(auth, sizeof(auth), "Bearer %s", tok);
	request_ex(t, EVHTTP_REQ_POST, "/v1/envelopes", "application/cbor; x=y", (const char *)body,
		   n, auth, r);
}

/* POST /v1/envelopes as application/cbor: the envelopes as byte strings,
 * decided and answered as "envelopes" is; a bad body submits nothing. */
static void test_submit_cbor(void **state)
{
	T *t = *state;
	char tok[64];
	login(t, tok);
	uint8_t a[40], b[40], c[700];
	memset(a, 0xA1, sizeof(a));
	memset(b, 0xEE, sizeof(b)); /* the fake refuses it */
	memset(c, 0xC3, sizeof(c));
	const uint8_t *env[] = {a, b, c};
	size_t len[] = {sizeof(a), sizeof(b), sizeof(c)};
	resp r;
	post_cbor(t, tok, env, len, 3, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(t->f.submit_calls, 3);
	assert_int_equal(t->f.env_len, sizeof(c));
	assert_memory_equal(t->f.env, c, sizeof(c)); /* in order: c last, whole */
	json_t *res = json_object_get(r.json, "results");
	assert_int_equal(json_array_size(res), 3);
	uint8_t h[PL_HASH_BYTES];
	char hex[65];
	pl_sha256(h, a, sizeof(a));
	pl_hex_encode(hex, h, sizeof(h));
	assert_int_equal(jint(json_array_get(res, 0), "status"), 201);
	assert_string_equal(jstr(json_array_get(res, 0), "id"), hex);
	assert_int_equal(jint(json_array_get(res, 1), "status"), 422);
	assert_int_equal(jint(json_array_get(res, 2), "status"), 201);
	assert_int_equal(jint(r.json, "accepted"), 2);
	assert_int_equal(jint(r.json, "refused"), 1);
	resp_clear(&r);

	/* malformed bodies submit nothing, even their good elements */
	int calls = t->f.submit_calls;
	static const struct {
		const char *hex;
		int status;
		const char *detail;
	} bad[] = {
	    {"80", 400, "CBOR array of 1 to 256"},           /* empty */
	    {"41aa", 400, "CBOR array of 1 to 256"},         /* not an array */
	    {"a0", 400, "CBOR array"},                       /* a map */
	    {"8241aa01", 400, "item 1 of the CBOR array"},   /* [h'aa', 1] */
	    {"8241aa40", 400, "item 1 of the CBOR array"},   /* [h'aa', h''] */
	    {"8241aa6161", 400, "item 1 of the CBOR array"}, /* [h'aa', "a"] */
	    {"8141aa00", 400, "trailing"},                   /* bytes after */
	    {"8241aa", 400, "truncated"},                    /* cut short */
	    {"9f41aaff", 400, "indefinite"},                 /* indefinite length */
	    {"818141aa", 400, "item 0 of the CBOR array"},   /* [[h'aa']] */
	    {"5a00000801", 413, "over the limit"},           /* a 2049-byte string */
	    {"990101", 413, "over the limit"},               /* 257 items */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		post_cbor_hex(t, tok, bad[i].hex, &r);
		if (r.status != bad[i].status || !strstr(jstr(r.json, "detail"), bad[i].detail))
			fprintf(stderr, "%s: %d %s\n", bad[i].hex, r.status,
				jstr(r.json, "detail"));
		assert_problem(&r, bad[i].status,
			       bad[i].status == 400 ? "bad-request" : "too-large", bad[i].detail);
		resp_clear(&r);
	}
	/* an envelope over the limit, after a good one */
	static uint8_t big[MAX_ENVELOPE + 1];
	const uint8_t *env2[] = {a, big};
	size_t len2[] = {sizeof(a), sizeof(big)};
	post_cbor(t, tok, env2, len2, 2, &r);
	assert_int_equal(r.status, 413);
	resp_clear(&r);
	assert_int_equal(t->f.submit_calls, calls);
	/* another media type is refused */
	char auth[128];
	snprintf(auth, sizeof(auth), "Bearer %s", tok);
	request_ex(t, EVHTTP_REQ_POST, "/v1/envelopes", "application/cborx", "\x81\x41\xaa", 3,
		   auth, &r);
	assert_int_equal(r.status, 415);
	resp_clear(&r);
	assert_int_equal(t->f.submit_calls, calls);
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
	stream_want w = {&s, ": parley events\n\n"};
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

static void publish_lane(T *t, const char *type, const char *id, const char *lane)
{
	json_t *d = lane ? json_pack("{s:s, s:s}", "id", id, "precedence", lane)
			 : json_pack("{s:s}", "id", id);
	api_publish(t->a, type, d);
	json_decref(d);
}

/* ?lanes=: a subscriber hears the events of those lanes and every event
 * that has no lane; the others not.  (The fixture serves two streams.) */
static void events_lanes_pair(T *t, const char *tok, const char *path, const bool want[4])
{
	stream all, some;
	stream_open(t, &all, tok);
	stream_open_path(t, &some, tok, path);
	stream *ss[] = {&all, &some};
	for (int i = 0; i < 2; i++) {
		stream_want w = {ss[i], ": parley events\n\n"};
		loop_until(t, stream_has, &w);
	}
	publish_lane(t, "envelope", "r1", "ROUTINE");
	publish_lane(t, "envelope", "f1", "FLASH");
	publish_lane(t, "link", "l1", NULL);
	publish_lane(t, "receipt", "i1", "IMMEDIATE");
	publish_lane(t, "alarm", "end", NULL);
	const char *ids[] = {"\"r1\"", "\"f1\"", "\"l1\"", "\"i1\""};
	for (int i = 0; i < 2; i++) {
		stream_want w = {ss[i], "\"end\""};
		loop_until(t, stream_has, &w);
		assert_int_equal(pl_buf_append(&ss[i]->got, "", 1), 0); /* a C string */
		for (int k = 0; k < 4; k++) {
			bool sent = strstr((const char *)ss[i]->got.data, ids[k]) != NULL;
			if (sent != (i == 0 || want[k]))
				fail_msg("%s: %s %s", i ? path : "/v1/events", ids[k],
					 sent ? "sent" : "missing");
		}
		stream_close(ss[i]);
	}
	loop_until(t, no_subscribers, t);
}

static void test_events_lanes(void **state)
{
	T *t = *state;
	char tok[64];
	login(t, tok);
	const bool flash[4] = {false, true, true, false}, two[4] = {true, true, true, false};
	events_lanes_pair(t, tok, "/v1/events?lanes=FLASH", flash);
	events_lanes_pair(t, tok, "/v1/events?lanes=flash,ROUTINE", two);

	const char *bad[] = {"/v1/events?lanes=CONTROL", "/v1/events?lanes=",
			     "/v1/events?lanes=FLASH,BOGUS", "/v1/events?lanes=,"};
	for (int i = 0; i < 4; i++) {
		resp r;
		request(t, EVHTTP_REQ_GET, bad[i], NULL, tok, &r);
		assert_problem(&r, 400, "bad-request",
			       "lanes must be a comma-separated list of FLASH, IMMEDIATE, PRIORITY "
			       "and ROUTINE");
		resp_clear(&r);
	}
	assert_int_equal(api_subscriber_count(t->a), 0);
}

static void test_events_limit(void **state)
{
	T *t = *state;
	char tok[64];
	login(t, tok);
	stream s1, s2;
	stream_open(t, &s1, tok);
	stream_open(t, &s2, tok);
	stream_want w1 = {&s1, ": parley events"}, w2 = {&s2, ": parley events"};
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
	    cmocka_unit_test_setup_teardown(test_token_ring, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_submit, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_submit_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_submit_batch, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_submit_cbor, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_bodies, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_routing_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reads, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_charters, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_events, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_events_lanes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_events_limit, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_events_slow_subscriber, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_new_and_listen, setup, teardown),
	    cmocka_unit_test(test_docs_cover_routes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
