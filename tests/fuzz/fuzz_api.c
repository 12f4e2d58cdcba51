/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target for the node's HTTP API (node/api.c): the real evhttp
 * server on 127.0.0.1 (port 0) in this process, a fake backend, and a
 * plain socket that sends each input and reads the answer, all on one
 * event loop.  The listener and a valid bearer token (from a real
 * challenge and signature) are made once per process.
 *
 * Input: one mode byte, then the rest.
 *   mode & 3 == 0  raw: the rest is sent as it is (request line, headers,
 *                  body: evhttp's parser and whatever it lets through).
 *   otherwise      built: the rest is PATH '\n' BODY; the target writes
 *                  "METHOD PATH HTTP/1.1" with Host, Content-Length and,
 *                  by the mode bits, Content-Type: application/json (or,
 *                  with bit 7 too, application/cbor) and the valid token.
 *                  Bits 2-4 pick the method; bit 5 moves the clock past
 *                  the token's life for this input; bit 6 replaces an
 *                  empty PATH by a known route.
 * After each request the client half-closes its side, reads until the
 * server is done, and closes; the loop then runs until every event-stream
 * subscriber is gone, so state does not pile up across inputs.
 *
 * Aborts on a broken contract: an answer that is not HTTP/1.1 with a
 * status the API documents, a 500 (the fake backend never fails, so a
 * 500 means api.c broke), a problem body that is not JSON with "type",
 * "title" and the same "status", a JSON answer that does not parse, or a
 * subscriber that outlives its connection.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <event2/event.h>
#include <jansson.h>

#include "parley/buf.h"
#include "parley/crypto.h"
#include "parley/err.h"

#include "api.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NODE_NAME "tehran-1"
#define T0        1800000000
#define RESP_MAX  (1 << 20)

/* ================================================================ the fake node */

static int64_t fake_now = T0;
static pl_keypair official;

static int64_t fake_clock(void *ctx)
{
	(void)ctx;
	return fake_now;
}

/* Accept envelopes whose first byte is even; refuse the others with a
 * reason that quotes the envelope's bytes, as the core may quote input. */
static int fake_submit(void *be, const uint8_t *env, size_t len, int64_t now,
		       node_submit_result *res)
{
	(void)be;
	(void)now;
	memset(res, 0, sizeof(*res));
	pl_sha256(res->id, env, len);
	if (len && (env[0] & 1)) {
		res->code = (env[0] & 2) ? PL_ERR_BAD_SIGNATURE : PL_ERR_SEQUENCE;
		size_t n = len < sizeof(res->reason) - 1 ? len : sizeof(res->reason) - 1;
		memcpy(res->reason, env, n);
		res->reason[n] = '\0';
		return 0;
	}
	res->duplicate = len > 1 && (env[1] & 1);
	res->position = len;
	return 0;
}

static json_t *fake_channels(void *be)
{
	(void)be;
	return json_pack("[{s:s}]", "name", "fm");
}

static json_t *fake_page(void *be, const char *ch, const char *cursor, int limit, int *code)
{
	(void)be;
	if (strcmp(ch, "fm") != 0) {
		*code = PL_ERR_UNKNOWN_CHANNEL;
		return NULL;
	}
	if (cursor && cursor[0] == 'x') {
		*code = PL_ERR_MALFORMED;
		return NULL;
	}
	return json_pack("{s:[], s:n, s:i}", "items", "next", "limit", limit);
}

static json_t *fake_envelope(void *be, const uint8_t id[PL_HASH_BYTES], int *code)
{
	(void)be;
	if (id[0] & 1) {
		*code = PL_ERR_NOT_FOUND;
		return NULL;
	}
	return json_pack("{s:s}", "kind", "message");
}

static json_t *fake_status(void *be)
{
	(void)be;
	return json_pack("{s:s}", "node", NODE_NAME);
}

static int fake_find_official(void *be, const char *state, const char *id, int64_t now,
			      pl_cred *out)
{
	(void)be;
	(void)now;
	if (strcmp(state, "tehran") != 0 || strcmp(id, "duty") != 0)
		return PL_ERR_NOT_FOUND;
	memset(out, 0, sizeof(*out));
	snprintf(out->state, sizeof(out->state), "tehran");
	snprintf(out->id, sizeof(out->id), "duty");
	memcpy(out->pk, official.pk, sizeof(out->pk));
	out->not_before = T0 - 3600;
	out->not_after = T0 + 86400;
	return 0;
}

static json_t *fake_next(void *be, const char *state, const char *id, const char *ch, int lane,
			 int *code)
{
	(void)be;
	(void)state;
	(void)id;
	if (strcmp(ch, "fm") != 0) {
		*code = PL_ERR_UNKNOWN_CHANNEL;
		return NULL;
	}
	return json_pack("{s:i, s:n}", "seq", lane, "prev");
}

static int fake_submit_charter(void *be, const uint8_t *p, size_t n, int64_t now, char *reason,
			       size_t rlen)
{
	(void)be;
	(void)now;
	if (n && (p[0] & 1)) {
		size_t k = n < rlen - 1 ? n : rlen - 1;
		memcpy(reason, p, k);
		reason[k] = '\0';
		return PL_ERR_UNSIGNED;
	}
	return 0;
}

static json_t *fake_charter(void *be, const char *name, int *code)
{
	(void)be;
	if (strcmp(name, "fm") != 0) {
		*code = PL_ERR_UNKNOWN_CHANNEL;
		return NULL;
	}
	return json_pack("{s:s}", "name", "fm");
}

static int fake_metrics(void *be, pl_buf *out)
{
	(void)be;
	return pl_buf_append_str(out, "fake_up 1\n");
}

static const api_backend fake_backend = {
    .version = API_BACKEND_VERSION,
    .node_name = NODE_NAME,
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

/* ================================================================ the server and the client */

static struct event_base *base;
static api *server;
static int port;
static char token[128];

/* Send req (len bytes) on a new connection, half-close, and collect the
 * answer into resp (at most RESP_MAX bytes; NUL-terminated); the loop runs
 * until the server closes or nothing moves for a while.  Returns the
 * answer's length. */
static size_t exchange(const uint8_t *req, size_t len, char *resp)
{
	/* Each connection from another 127.0.0.0/8 source address: the
	 * half-close below leaves client sockets in TIME_WAIT, and thousands of
	 * inputs a second would otherwise run out of (address, port) pairs. */
	static uint32_t src;
	int fd = -1;
	for (int attempt = 0; attempt < 8 && fd < 0; attempt++) {
		fd = socket(AF_INET, SOCK_STREAM, 0);
		if (fd < 0)
			abort();
		src = src % 0xfffffd + 1;
		struct sockaddr_in from = {0};
		from.sin_family = AF_INET;
		from.sin_addr.s_addr = htonl(0x7f000000u | src);
		struct sockaddr_in sa = {0};
		sa.sin_family = AF_INET;
		sa.sin_port = htons((uint16_t)port);
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (bind(fd, (struct sockaddr *)&from, sizeof(from)) != 0 ||
		    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
			close(fd);
			fd = -1;
		}
	}
	if (fd < 0) {
		perror("fuzz_api: connect to the API"); /* the harness, not the API */
		abort();
	}
	if (fcntl(fd, F_SETFL, O_NONBLOCK) != 0)
		abort();
	size_t sent = 0, got = 0;
	int idle = 0;
	bool shut = false, eof = false, published = false;
	for (int iter = 0; iter < 200000 && !eof && idle < 64; iter++) {
		bool moved = false;
		if (sent < len) {
			ssize_t w = send(fd, req + sent, len - sent, MSG_NOSIGNAL);
			if (w > 0) {
				sent += (size_t)w;
				moved = true;
			} else if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
				sent = len; /* the server closed early: fine */
			}
		}
		if (sent == len && !shut) {
			shutdown(fd, SHUT_WR);
			shut = true;
		}
		event_base_loop(base, EVLOOP_NONBLOCK);
		if (!published && api_subscriber_count(server) > 0) {
			/* A subscriber: send it an event while its stream is open. */
			json_t *ev = json_pack("{s:s}", "fuzz", "event");
			api_publish(server, "envelope", ev);
			json_decref(ev);
			published = true;
		}
		for (;;) {
			char tmp[16384];
			ssize_t r = recv(fd, tmp, sizeof(tmp), 0);
			if (r == 0) {
				eof = true;
				break;
			}
			if (r < 0) {
				if (errno != EAGAIN && errno != EWOULDBLOCK)
					eof = true; /* reset by the server */
				break;
			}
			size_t k = (size_t)r;
			if (k > RESP_MAX - got)
				k = RESP_MAX - got;
			memcpy(resp + got, tmp, k);
			got += k;
			moved = true;
		}
		idle = moved ? 0 : idle + 1;
	}
	/* Close with a reset: no TIME_WAIT, so thousands of inputs a second
	 * do not run out of local ports. */
	struct linger lg = {.l_onoff = 1, .l_linger = 0};
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
	resp[got] = '\0';
	/* Let the server see the close (event-stream subscribers go away). */
	for (int i = 0; i < 1000 && api_subscriber_count(server) > 0; i++)
		event_base_loop(base, EVLOOP_NONBLOCK);
	if (api_subscriber_count(server) > 0)
		abort();
	return got;
}

/* The status of the first answer in resp, and its body (or NULL). */
static int parse_answer(char *resp, size_t n, char **body, char **headers)
{
	*body = NULL;
	*headers = NULL;
	if (n == 0)
		return 0;
	/* evhttp answers in the version the request named, as it parsed it
	 * (even "HTTP/1.-1" for an overlong minor version): "HTTP/... NNN " */
	size_t line = strcspn(resp, "\r\n");
	const char *sp = memchr(resp, ' ', line);
	if (strncmp(resp, "HTTP/", 5) != 0 || !sp || line < (size_t)(sp - resp) + 5)
		abort();
	char *end = NULL;
	long status = strtol(sp + 1, &end, 10);
	if (end != sp + 4 || *end != ' ')
		abort();
	*headers = resp;
	char *hdr_end = strstr(resp, "\r\n\r\n");
	if (hdr_end)
		*body = hdr_end + 4;
	return (int)status;
}

/* A problem body: JSON object with type, title and status == status. */
static void check_problem(const char *body, int status)
{
	json_error_t e;
	json_t *j = json_loads(body, JSON_DISABLE_EOF_CHECK, &e);
	if (!j || !json_is_object(j))
		abort();
	json_t *type = json_object_get(j, "type"), *title = json_object_get(j, "title"),
	       *st = json_object_get(j, "status");
	if (!json_is_string(type) || !json_is_string(title) || !json_is_integer(st) ||
	    json_integer_value(st) != status)
		abort();
	json_decref(j);
}

static void check_answer(char *resp, size_t n, bool head)
{
	char *body, *headers;
	int status = parse_answer(resp, n, &body, &headers);
	if (status == 0)
		return; /* the server closed without answering (e.g. a malformed request) */
	static const int allowed[] = {200, 201, 202, 400, 401, 403, 404, 405, 413, 415, 422, 503,
				      /* evhttp's own answers to requests it will not route */
				      411, 417, 501, 505};
	bool ok = false;
	for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
		ok |= allowed[i] == status;
	if (!ok)
		abort();
	if (!body || head || !*body)
		return;
	*(body - 2) = '\0'; /* end the headers for the searches below */
	if (strstr(headers, "Content-Type: application/problem+json"))
		check_problem(body, status);
	else if (strstr(headers, "Content-Type: application/json")) {
		json_error_t e;
		json_t *j = json_loads(body, JSON_DISABLE_EOF_CHECK | JSON_DECODE_ANY, &e);
		if (!j)
			abort();
		json_decref(j);
	}
}

/* One built request: METHOD PATH HTTP/1.1 with the given headers and body. */
static size_t build(char *out, size_t cap, const char *method, const char *path, size_t plen,
		    const char *ctype, bool auth, const char *body, size_t blen)
{
	int k = snprintf(
	    out, cap,
	    "%s %.*s HTTP/1.1\r\nHost: 127.0.0.1\r\n%s%s%s%s%s%sContent-Length: %zu\r\n\r\n",
	    method, (int)plen, path, ctype ? "Content-Type: " : "", ctype ? ctype : "",
	    ctype ? "\r\n" : "", auth ? "Authorization: Bearer " : "", auth ? token : "",
	    auth ? "\r\n" : "", blen);
	if (k < 0 || (size_t)k >= cap || blen > cap - (size_t)k)
		abort();
	memcpy(out + k, body, blen);
	return (size_t)k + blen;
}

static char *resp;
static char *reqbuf;
#define REQ_MAX (1 << 20)

/* A JSON field of the first answer in resp (a string), copied to out. */
static void answer_field(const char *name, char *out, size_t cap)
{
	char *body, *headers;
	size_t n = strlen(resp);
	if (parse_answer(resp, n, &body, &headers) != 200 || !body)
		abort();
	json_error_t e;
	json_t *j = json_loads(body, JSON_DISABLE_EOF_CHECK, &e);
	const char *s = json_string_value(json_object_get(j, name));
	if (!s || strlen(s) >= cap)
		abort();
	memcpy(out, s, strlen(s) + 1);
	json_decref(j);
}

static void setup(void)
{
	if (base)
		return;
	if (pl_crypto_init() != 0 || pl_key_generate(&official) != 0)
		abort();
	base = event_base_new();
	api_config cfg = {.clock = fake_clock, .max_envelope = 4096, .max_subscribers = 4};
	server = base ? api_new(base, &fake_backend, NULL, &cfg) : NULL;
	if (!server || api_listen(server, "127.0.0.1:0") != 0)
		abort();
	port = api_port(server);
	resp = malloc(RESP_MAX + 1);
	reqbuf = malloc(REQ_MAX);
	if (!resp || !reqbuf)
		abort();

	/* A token, the way an official gets one. */
	static const char cbody[] = "{\"state\":\"tehran\",\"id\":\"duty\"}";
	size_t n = build(reqbuf, REQ_MAX, "POST", "/v1/auth/challenge", 18, "application/json",
			 false, cbody, sizeof(cbody) - 1);
	exchange((uint8_t *)reqbuf, n, resp);
	char chal[128];
	answer_field("challenge", chal, sizeof(chal));
	char msg[512];
	size_t mlen = api_auth_message(msg, sizeof(msg), chal, "tehran", "duty", NODE_NAME);
	uint8_t sig[PL_SIG_BYTES];
	if (mlen == 0 || pl_sign(sig, (const uint8_t *)msg, mlen, &official) != 0)
		abort();
	char sig64[128], tbody[512];
	pl_b64_encode(sig64, sig, sizeof(sig));
	int k = snprintf(tbody, sizeof(tbody),
			 "{\"state\":\"tehran\",\"id\":\"duty\",\"challenge\":\"%s\",\"signature\":"
			 "\"%s\"}",
			 chal, sig64);
	if (k < 0 || (size_t)k >= sizeof(tbody))
		abort();
	n = build(reqbuf, REQ_MAX, "POST", "/v1/auth/token", 14, "application/json", false, tbody,
		  (size_t)k);
	exchange((uint8_t *)reqbuf, n, resp);
	answer_field("token", token, sizeof(token));
}

static const char *const methods[8] = {"GET",    "POST",    "HEAD",  "PUT",
				       "DELETE", "OPTIONS", "PATCH", "GET"};
static const char *const routes[] = {
    "/healthz",
    "/metrics",
    "/v1/auth/challenge",
    "/v1/auth/token",
    "/v1/envelopes",
    "/v1/envelopes/00aa00aa00aa00aa00aa00aa00aa00aa00aa00aa00aa00aa00aa00aa00aa00aa",
    "/v1/channels",
    "/v1/channels/fm/envelopes?limit=3&cursor=abc",
    "/v1/channels/fm/next?lane=FLASH",
    "/v1/status",
    "/v1/charters",
    "/v1/charters/fm",
    "/v1/events",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	setup();
	if (size < 1 || size > REQ_MAX / 2)
		return 0;
	uint8_t mode = data[0];
	const uint8_t *rest = data + 1;
	size_t rlen = size - 1;
	fake_now = (mode & 0x20) ? T0 + API_TOKEN_TTL + 1 : T0;
	size_t n;
	bool head = false;
	if ((mode & 3) == 0) {
		memcpy(reqbuf, rest, rlen);
		n = rlen;
		head = rlen >= 4 && memcmp(rest, "HEAD", 4) == 0;
	} else {
		const uint8_t *nl = memchr(rest, '\n', rlen);
		size_t plen = nl ? (size_t)(nl - rest) : rlen;
		const char *path = (const char *)rest;
		const char *body = nl ? (const char *)nl + 1 : "";
		size_t blen = nl ? rlen - plen - 1 : 0;
		if (plen == 0 && (mode & 0x40)) {
			path = routes[(mode >> 2) % (sizeof(routes) / sizeof(routes[0]))];
			plen = strlen(path);
		}
		const char *m = methods[(mode >> 2) & 7];
		head = strcmp(m, "HEAD") == 0;
		const char *ct = !(mode & 1)     ? NULL
				 : (mode & 0x80) ? "application/cbor"
						 : "application/json";
		n = build(reqbuf, REQ_MAX, m, path, plen, ct, mode & 2, body, blen);
	}
	size_t got = exchange((uint8_t *)reqbuf, n, resp);
	if (getenv("FUZZ_API_VERBOSE")) /* replaying by hand: show each answer's first line */
		fprintf(stderr, "%.*s\n", (int)strcspn(resp, "\r\n"), resp);
	check_answer(resp, got, head);
	return 0;
}
