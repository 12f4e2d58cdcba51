/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_load: the load client for two running parleyd nodes (a sender and
 * a receiver).  It signs envelopes as an official would (in advance, so the
 * client's own signing is not what is measured, or inline with --sign
 * inline), submits them to the sender's HTTP API over W connections (one
 * stream per connection: channel b<i>, so a stream's envelopes arrive in
 * order), and measures when they are done: durably stored at the receiver
 * AND their receipt durably recorded at the sender, which is exactly what
 * the sender's delivery state "delivered" means (docs/api.md).
 *
 * It does not start, stop or configure nodes (scripts/bench does), and it
 * does not check content (the integration tests do).  Every loop is
 * bounded in count and in time (--timeout).  Output: one JSON object on
 * standard output per invocation; progress and errors on standard error.
 *
 *   bench_load MODE --api URL --as ID --key FILE --state S --peer P
 *              [--rapi URL --ras ID --rkey FILE --rstate S]  (receiver, for counts)
 *              [--streams W] [--count N] [--size B] [--sign pre|inline|batch]
 *              [--rate R] [--seconds S] [--flash K] [--base N] [--timeout S]
 *              [--batch B]  (throughput, fill: B envelopes per request, each
 *                            individually signed; POST /v1/envelopes "envelopes")
 *              --sign batch  (with --batch B: pre-signed, the B envelopes of a
 *                            request as one batch, pl_env_sign_batch: a machine
 *                            feed; --as must hold the role 'feed')
 *              --body cbor   (each request's envelopes as a CBOR array of byte
 *                            strings, Content-Type: application/cbor, instead
 *                            of JSON with base64: what a feed sends)
 *   MODE: throughput  submit N over W streams as fast as possible; wait until done
 *         latency     one envelope at a time; submit -> "delivered" (receipt event)
 *         loaded      submit at R envelopes/s for S seconds; latency of each
 *         fill        submit N, do not wait (the receiver is down: a backlog)
 *         drain       the receiver is back: time until N more are done (receiver
 *                     count base+N and the sender's last envelopes delivered),
 *                     with up to K FLASH envelopes sent one at a time meanwhile
 *         count       print the receiver's transcript size (log_size)
 *
 * Passphrases for key files come from PARLEY_PASSPHRASE.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include "parley/channel.h"
#include "parley/codec.h"
#include "parley/crypto.h"
#include "parley/err.h"

#define MAX_STREAMS 64
#define POLL_MS     5

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("bench_load: ", stderr);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---------------------------------------------------------------- options */

static struct {
	const char *mode;
	const char *api, *as, *key, *state, *peer;
	const char *rapi, *ras, *rkey, *rstate;
	const char *prefix;
	int streams;
	long count, size, flash, seconds, timeout, batch;
	double rate;
	long long base;
	bool inline_sign;
	bool batch_sign; /* --sign batch: each request's envelopes signed as one batch */
	bool cbor;       /* --body cbor: requests as application/cbor; jobs hold raw bytes */
} opt = {.prefix = "b", .streams = 8, .count = 1000, .size = 256, .seconds = 5, .timeout = 600, .batch = 1};

/* ---------------------------------------------------------------- HTTP */

static struct event_base *base;

typedef struct endpoint {
	char host[128];
	int port;
	char token[128];
	char node[128];
} endpoint;

static endpoint snd, rcv;

static void parse_url(endpoint *ep, const char *url)
{
	if (strncmp(url, "http://", 7) != 0)
		die("API address must be http://HOST:PORT, not %s", url);
	const char *hp = url + 7, *colon = strrchr(hp, ':');
	if (!colon || (size_t)(colon - hp) >= sizeof(ep->host))
		die("API address must be http://HOST:PORT, not %s", url);
	memcpy(ep->host, hp, (size_t)(colon - hp));
	ep->host[colon - hp] = 0;
	ep->port = (int)strtol(colon + 1, NULL, 10);
}

static struct evhttp_connection *open_conn(const endpoint *ep, int timeout_s)
{
	struct evhttp_connection *c =
	    evhttp_connection_base_new(base, NULL, ep->host, (unsigned short)ep->port);
	if (!c)
		die("cannot create a connection to %s:%d", ep->host, ep->port);
	evhttp_connection_set_timeout(c, timeout_s);
	return c;
}

/*
 * Nagle off on c's socket (once it has one: after evhttp_make_request).
 * evhttp leaves it on, and a request of 16 KiB or more is written in parts:
 * the last part then waits for the node's delayed acknowledgement, 40 ms
 * (measured: 44 ms per envelope at --size 16000 and 32768, against 3 at 2048).
 */
static void no_delay(struct evhttp_connection *c)
{
	int one = 1;
	evutil_socket_t fd = bufferevent_getfd(evhttp_connection_get_bufferevent(c));
	if (fd >= 0)
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* Serve c before the other connections (priority 0 of 2). */
static void conn_urgent(struct evhttp_connection *c)
{
	struct bufferevent *bev = evhttp_connection_get_bufferevent(c);
	if (bev)
		(void)bufferevent_priority_set(bev, 0);
}

/* A request with the usual headers; body (may be NULL, JSON unless ctype
 * says otherwise) is copied. */
static struct evhttp_request *new_req_as(const endpoint *ep,
					 void (*cb)(struct evhttp_request *, void *), void *arg,
					 const char *ctype, const char *body, size_t len)
{
	struct evhttp_request *req = evhttp_request_new(cb, arg);
	if (!req)
		die("out of memory");
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	evhttp_add_header(h, "Host", ep->host);
	if (ep->token[0]) {
		char auth[160];
		snprintf(auth, sizeof(auth), "Bearer %s", ep->token);
		evhttp_add_header(h, "Authorization", auth);
	}
	if (body) {
		evhttp_add_header(h, "Content-Type", ctype ? ctype : "application/json");
		evbuffer_add(evhttp_request_get_output_buffer(req), body, len);
	}
	return req;
}

static struct evhttp_request *new_req(const endpoint *ep,
				      void (*cb)(struct evhttp_request *, void *), void *arg,
				      const char *body, size_t len)
{
	return new_req_as(ep, cb, arg, NULL, body, len);
}

struct sync_reply {
	int status;
	json_t *json;
	bool done;
};

static void sync_cb(struct evhttp_request *req, void *arg)
{
	struct sync_reply *r = arg;
	r->done = true;
	if (req) {
		r->status = evhttp_request_get_response_code(req);
		struct evbuffer *b = evhttp_request_get_input_buffer(req);
		size_t n = evbuffer_get_length(b);
		r->json = json_loadb((const char *)evbuffer_pullup(b, -1), n, 0, NULL);
	}
	event_base_loopbreak(base);
}

/* A blocking request (setup only: nothing else runs meanwhile).  Returns
 * the HTTP status (0: no answer) and the parsed JSON body in *out. */
static int sync_call(const endpoint *ep, const char *method, const char *path, json_t *body,
		     json_t **out)
{
	struct evhttp_connection *c = open_conn(ep, 30);
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	struct sync_reply r = {0};
	struct evhttp_request *req = new_req(ep, sync_cb, &r, text, text ? strlen(text) : 0);
	free(text);
	if (evhttp_make_request(
		c, req, strcmp(method, "POST") == 0 ? EVHTTP_REQ_POST : EVHTTP_REQ_GET, path) != 0)
		die("cannot send %s %s", method, path);
	double t0 = now_s();
	while (!r.done && now_s() - t0 < 60)
		event_base_loop(base, EVLOOP_ONCE);
	evhttp_connection_free(c);
	if (out)
		*out = r.json;
	else
		json_decref(r.json);
	return r.status;
}

static const char *jstr(json_t *j, const char *k)
{
	const char *s = json_string_value(json_object_get(j, k));
	return s ? s : "";
}

/* Challenge-response login (docs/api.md, Authentication); kp is kept. */
static void login(endpoint *ep, const char *id, const char *state, const char *keyfile,
		  pl_keypair *kp)
{
	if (pl_keyfile_read(keyfile, getenv("PARLEY_PASSPHRASE"), kp, NULL, 0) != 0)
		die("cannot read key %s: %s", keyfile, pl_err_detail());
	json_t *out = NULL;
	int st = sync_call(ep, "GET", "/healthz", NULL, &out);
	if (st != 200)
		die("node %s:%d not healthy (HTTP %d)", ep->host, ep->port, st);
	snprintf(ep->node, sizeof(ep->node), "%s", jstr(out, "node"));
	json_decref(out);
	st = sync_call(ep, "POST", "/v1/auth/challenge",
		       json_pack("{s:s,s:s}", "state", state, "id", id), &out);
	if (st != 200)
		die("challenge refused (HTTP %d): %s", st, jstr(out, "detail"));
	char chal[128];
	snprintf(chal, sizeof(chal), "%s", jstr(out, "challenge"));
	json_decref(out);
	char msg[512];
	int n = snprintf(msg, sizeof(msg), "parley-api-auth-v1\n%s\n%s@%s\n%s\n", chal, id, state,
			 ep->node);
	uint8_t sig[PL_SIG_BYTES];
	if (n < 0 || (size_t)n >= sizeof(msg) || pl_sign(sig, (const uint8_t *)msg, (size_t)n, kp))
		die("cannot sign the challenge");
	char b64[128];
	pl_b64_encode(b64, sig, sizeof(sig));
	st = sync_call(ep, "POST", "/v1/auth/token",
		       json_pack("{s:s,s:s,s:s,s:s}", "state", state, "id", id, "challenge", chal,
				 "signature", b64),
		       &out);
	if (st != 200)
		die("token refused (HTTP %d): %s", st, jstr(out, "detail"));
	snprintf(ep->token, sizeof(ep->token), "%s", jstr(out, "token"));
	json_decref(out);
}

/* Until the sender's link to the peer is up (bounded: 20 s), so that a run
 * does not time the link's first connection. */
static void wait_link(void)
{
	double t0 = now_s();
	while (now_s() - t0 < 20) {
		json_t *out = NULL;
		int st = sync_call(&snd, "GET", "/v1/status", NULL, &out);
		size_t i;
		json_t *p;
		bool up = false;
		json_array_foreach(json_object_get(out, "peers"), i, p)
		{
			if (strcmp(jstr(p, "state"), opt.peer) == 0)
				up = json_is_true(json_object_get(p, "up"));
		}
		json_decref(out);
		if (st == 200 && up)
			return;
		usleep(20000);
	}
	fprintf(stderr, "bench_load: the link to %s is not up after 20 s; going on\n", opt.peer);
}

static long long receiver_count(void)
{
	json_t *out = NULL;
	int st = sync_call(&rcv, "GET", "/v1/status", NULL, &out);
	if (st != 200)
		die("receiver status refused (HTTP %d)", st);
	long long n = (long long)json_integer_value(json_object_get(out, "log_size"));
	json_decref(out);
	return n;
}

/* ---------------------------------------------------------------- jobs */

typedef struct job {
	char *body; /* {"envelope":"<base64>"}; NULL until signed */
	size_t len;
	uint8_t id[PL_HASH_BYTES];
	double t_sub, t_ack, t_stored, t_done;
	int tries;
} job;

typedef struct stream {
	char ch[PL_NAME_MAX + 1];
	pl_lane lane;
	uint64_t seq; /* next seq to sign */
	uint8_t prev[PL_HASH_BYTES];
	job *jobs;
	long n, next_send, acked;
	struct evhttp_connection *conn;
	bool busy;
} stream;

static pl_keypair official;
static stream streams[MAX_STREAMS + 1]; /* the last one: FLASH probes */
static int nstreams;
static uint8_t *bodybuf;

static void stream_init(stream *s, const char *ch, pl_lane lane, long n)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->ch, sizeof(s->ch), "%s", ch);
	s->lane = lane;
	char path[256];
	snprintf(path, sizeof(path), "/v1/channels/%s/next?lane=%s", ch, pl_lane_name(lane));
	json_t *out = NULL;
	int st = sync_call(&snd, "GET", path, NULL, &out);
	if (st != 200)
		die("%s: next refused (HTTP %d): %s", ch, st, jstr(out, "detail"));
	s->seq = (uint64_t)json_integer_value(json_object_get(out, "seq"));
	const char *p = json_string_value(json_object_get(out, "prev"));
	size_t got;
	if (p && pl_hex_decode(s->prev, sizeof(s->prev), &got, p, strlen(p)) != 0)
		die("bad prev from the node");
	json_decref(out);
	s->n = n;
	s->jobs = calloc((size_t)(n > 0 ? n : 1), sizeof(job));
	if (!s->jobs)
		die("out of memory for %ld jobs", n);
}

/* The stream's next envelope, its body written to body (opt.size bytes). */
static pl_env next_env(const stream *s, uint8_t *body)
{
	memset(body, 'a' + (int)(s->seq % 26), (size_t)opt.size);
	int k = snprintf((char *)body, (size_t)opt.size, "bench %s %s #%" PRIu64, s->ch,
			 pl_lane_name(s->lane), s->seq);
	if (k > 0 && k < opt.size)
		body[k] = ' ';
	pl_env e;
	memset(&e, 0, sizeof(e));
	snprintf(e.ch, sizeof(e.ch), "%s", s->ch);
	e.at = (int64_t)time(NULL);
	snprintf(e.state, sizeof(e.state), "%s", opt.state);
	snprintf(e.author, sizeof(e.author), "%s", opt.as);
	e.seq = s->seq;
	e.lane = s->lane;
	snprintf(e.kind, sizeof(e.kind), "message");
	memcpy(e.prev, s->prev, PL_HASH_BYTES);
	e.body = body;
	e.body_len = (size_t)opt.size;
	return e;
}

static void job_set(job *j, const uint8_t *buf, size_t len);

/* Sign the stream's next envelope into j (the stream's chain advances). */
static void sign_job(stream *s, job *j)
{
	pl_env e = next_env(s, bodybuf);
	uint8_t *buf;
	size_t len;
	if (pl_env_sign(&e, &official, &buf, &len) != 0)
		die("sign: %s", pl_err_detail());
	pl_env_id(j->id, buf, len);
	memcpy(s->prev, j->id, PL_HASH_BYTES);
	s->seq++;
	job_set(j, buf, len);
	free(buf);
}

/*
 * Sign the stream's next k envelopes into j[0..k): one by one, or with
 * --sign batch (and k >= 2) as one batch (pl_env_sign_batch: one signature,
 * a receipt per envelope; chained by their batch ids).
 */
static void sign_jobs(stream *s, job *j, long k)
{
	if (!opt.batch_sign || k < 2) {
		for (long i = 0; i < k; i++)
			sign_job(s, &j[i]);
		return;
	}
	pl_env e[256];
	uint8_t *bodies = malloc((size_t)k * (size_t)opt.size), *buf[256];
	size_t len[256];
	if (!bodies)
		die("out of memory");
	for (long i = 0; i < k; i++) {
		e[i] = next_env(s, bodies + (size_t)i * (size_t)opt.size);
		if (pl_env_batch_id(&e[i], j[i].id) != 0)
			die("batch id: %s", pl_err_detail());
		memcpy(s->prev, j[i].id, PL_HASH_BYTES);
		s->seq++;
	}
	if (pl_env_sign_batch(e, (size_t)k, &official, buf, len) != 0)
		die("batch sign: %s", pl_err_detail());
	for (long i = 0; i < k; i++) {
		job_set(&j[i], buf[i], len[i]);
		free(buf[i]);
	}
	free(bodies);
}

/* The job's request body {"envelope":"B64"} from the envelope's bytes
 * (with --body cbor, the bytes themselves). */
static void job_set(job *j, const uint8_t *buf, size_t len)
{
	if (opt.cbor) {
		j->body = malloc(len);
		if (!j->body)
			die("out of memory");
		memcpy(j->body, buf, len);
		j->len = len;
		return;
	}
	size_t cap = pl_b64_len(len) + 32;
	j->body = malloc(cap);
	if (!j->body)
		die("out of memory");
	memcpy(j->body, "{\"envelope\":\"", 13);
	pl_b64_encode(j->body + 13, buf, len);
	size_t bl = strlen(j->body);
	memcpy(j->body + bl, "\"}", 3);
	j->len = bl + 2;
}

/* ---------------------------------------------------------------- id -> job */

static job **htab;
static size_t hcap;

static size_t hslot(const uint8_t id[PL_HASH_BYTES])
{
	uint64_t h;
	memcpy(&h, id, sizeof(h));
	return (size_t)h & (hcap - 1);
}

static void hput(job *j)
{
	size_t i = hslot(j->id);
	while (htab[i])
		i = (i + 1) & (hcap - 1);
	htab[i] = j;
}

static job *hget(const uint8_t id[PL_HASH_BYTES])
{
	for (size_t i = hslot(id), k = 0; htab[i] && k < hcap; i = (i + 1) & (hcap - 1), k++)
		if (memcmp(htab[i]->id, id, PL_HASH_BYTES) == 0)
			return htab[i];
	return NULL;
}

static void htab_init(long n)
{
	hcap = 1024;
	while (hcap < (size_t)n * 2)
		hcap <<= 1;
	htab = calloc(hcap, sizeof(job *));
	if (!htab)
		die("out of memory");
}

/* ---------------------------------------------------------------- events (SSE) */

/*
 * Two event streams (docs/api.md, GET /v1/events): the receiver's
 * "envelope" events say when it durably stored an envelope (t_stored), the
 * sender's "receipt" events when it durably recorded the receipt
 * (t_done).  A sender that never records receipts is detected (no receipt
 * RECEIPT_GRACE seconds after the envelope was stored) and reported as
 * such rather than waited for.
 */
#define RECEIPT_GRACE 10.0

typedef struct sse {
	const endpoint *ep;
	const char *want; /* event type counted */
	const char *path; /* NULL: /v1/events */
	bool receipts;    /* its events are the sender's receipts (else the receiver's) */
	struct evhttp_connection *conn;
	struct evbuffer *in;
	bool open, in_want;
	long seen;
} sse;

static sse sse_snd = {.want = "receipt", .receipts = true}, sse_rcv = {.want = "envelope"};
/* drain: the FLASH probes' own streams (GET /v1/events?lanes=FLASH), so a
 * probe's event is not read behind the backlog's thousands */
static sse sse_snd_flash = {.want = "receipt", .path = "/v1/events?lanes=FLASH", .receipts = true},
	   sse_rcv_flash = {.want = "envelope", .path = "/v1/events?lanes=FLASH"};
static long done_count, stored_count;
static bool receipts_broken;
static void (*on_progress)(job *j);

static void sse_event(sse *e, const char *data, double t)
{
	const char *p = strstr(data, "\"id\":\"");
	uint8_t id[PL_HASH_BYTES];
	size_t got;
	if (!p || pl_hex_decode(id, sizeof(id), &got, p + 6, 64) != 0)
		return;
	if (e->receipts && !strstr(data, "\"delivered\""))
		return;
	e->seen++;
	job *j = hget(id);
	if (!j)
		return;
	if (!e->receipts && j->t_stored == 0) {
		j->t_stored = t;
		stored_count++;
	} else if (e->receipts && j->t_done == 0) {
		j->t_done = t;
		done_count++;
	} else {
		return;
	}
	if (on_progress)
		on_progress(j);
}

static void sse_chunk(struct evhttp_request *req, void *arg)
{
	sse *e = arg;
	double t = now_s();
	e->open = true;
	evbuffer_add_buffer(e->in, evhttp_request_get_input_buffer(req));
	char *line;
	size_t n;
	for (line = evbuffer_readln(e->in, &n, EVBUFFER_EOL_LF); line;
	     line = evbuffer_readln(e->in, &n, EVBUFFER_EOL_LF)) {
		if (strncmp(line, "event: ", 7) == 0)
			e->in_want = strcmp(line + 7, e->want) == 0;
		else if (e->in_want && strncmp(line, "data: ", 6) == 0)
			sse_event(e, line + 6, t);
		free(line);
	}
}

static void sse_end(struct evhttp_request *req, void *arg)
{
	(void)req;
	sse *e = arg;
	if (e->open)
		fprintf(stderr, "bench_load: the %s event stream closed\n", e->want);
	e->open = false;
}

static void sse_start(sse *e, const endpoint *ep)
{
	e->ep = ep;
	e->in = evbuffer_new();
	e->conn = open_conn(ep, 3600);
	struct evhttp_request *req = new_req(ep, sse_end, e, NULL, 0);
	evhttp_request_set_chunked_cb(req, sse_chunk);
	if (!e->in ||
	    evhttp_make_request(e->conn, req, EVHTTP_REQ_GET, e->path ? e->path : "/v1/events") != 0)
		die("cannot open the event stream");
	double t0 = now_s();
	while (!e->open && now_s() - t0 < 10)
		event_base_loop(base, EVLOOP_ONCE);
	if (!e->open)
		die("the event stream of %s:%d did not open", ep->host, ep->port);
}

static void sse_both(void)
{
	sse_start(&sse_snd, &snd);
	sse_start(&sse_rcv, &rcv);
}

/* A job is finished when its receipt is recorded, or, once receipts are
 * known not to be recorded, when it is stored at the receiver. */
static bool job_finished(const job *j)
{
	return j->t_done > 0 || (receipts_broken && j->t_stored > 0);
}

static void note_broken_receipts(const char *why)
{
	if (!receipts_broken)
		fprintf(stderr,
			"bench_load: NO RECEIPT RECORDED by the sender %.1f s after the receiver "
			"stored the envelope (%s): reporting 'stored at the receiver' only\n",
			RECEIPT_GRACE, why);
	receipts_broken = true;
}

/* ---------------------------------------------------------------- submitting */

static long submitted, acked, total_jobs;
static double t_first, t_last_ack;
static void (*on_ack)(stream *s, job *j);
static void send_next(stream *s);

struct inflight {
	stream *s;
	job *j; /* the first job of the request */
	long k; /* jobs in the request (1 unless --batch) */
};

static void retry_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	stream *s = arg;
	s->busy = false;
	send_next(s);
}

static void submit_cb(struct evhttp_request *req, void *arg)
{
	struct inflight *f = arg;
	stream *s = f->s;
	job *j = f->j;
	long k = f->k;
	free(f);
	if (!req)
		die("%s: no answer from the sender (connection failed)", s->ch);
	int st = evhttp_request_get_response_code(req);
	if (st == 503 && j->tries < 1000) { /* busy: the same envelopes again, shortly */
		s->next_send -= k;
		submitted -= k;
		struct timeval tv = {0, 1000};
		event_base_once(base, -1, EV_TIMEOUT, retry_cb, s, &tv);
		return;
	}
	struct evbuffer *b = evhttp_request_get_input_buffer(req);
	if (st != 201 && st != 200)
		die("%s #%ld refused (HTTP %d): %.*s", s->ch, s->next_send, st,
		    (int)evbuffer_get_length(b), (const char *)evbuffer_pullup(b, -1));
	if (opt.batch > 1) {
		/* every envelope of the batch answered 201 or 200 */
		json_t *a = json_loadb((const char *)evbuffer_pullup(b, -1), evbuffer_get_length(b),
				       0, NULL);
		json_t *res = json_object_get(a, "results");
		if (json_array_size(res) != (size_t)k)
			die("%s: a batch of %ld got %zu results", s->ch, k, json_array_size(res));
		for (long i = 0; i < k; i++) {
			json_t *e = json_array_get(res, (size_t)i);
			json_int_t est = json_integer_value(json_object_get(e, "status"));
			if (est != 201 && est != 200)
				die("%s: envelope %ld of a batch refused (%d): %s", s->ch, i,
				    (int)est, jstr(e, "detail"));
		}
		json_decref(a);
	}
	double t = now_s();
	for (long i = 0; i < k; i++)
		j[i].t_ack = t;
	t_last_ack = t;
	s->acked += k;
	acked += k;
	s->busy = false;
	if (on_ack)
		on_ack(s, &j[k - 1]);
}

/* Submit the stream's next job on its connection (if it is idle and has one). */
static bool submit_one(stream *s)
{
	if (s->busy || s->next_send >= s->n)
		return false;
	job *j = &s->jobs[s->next_send];
	long k = opt.batch > 1 ? opt.batch : 1;
	if (k > s->n - s->next_send)
		k = s->n - s->next_send;
	if (!j->body) { /* --sign inline: the request's envelopes are signed now */
		sign_jobs(s, j, k);
		for (long i = 0; i < k; i++)
			hput(&j[i]);
	}
	struct inflight *f = malloc(sizeof(*f));
	if (!f)
		die("out of memory");
	f->s = s;
	f->j = j;
	f->k = k;
	struct evhttp_request *req;
	if (opt.cbor) {
		/* [h'...', h'...', ...] */
		pl_cbor_enc e;
		pl_cbor_enc_init(&e);
		pl_cbor_put_array(&e, (size_t)k);
		for (long i = 0; i < k; i++)
			pl_cbor_put_bytes(&e, (const uint8_t *)j[i].body, j[i].len);
		uint8_t *body = NULL;
		size_t blen = 0;
		if (pl_cbor_enc_finish(&e, &body, &blen) != 0)
			die("cbor body: %s", pl_err_detail());
		req = new_req_as(&snd, submit_cb, f, "application/cbor", (const char *)body, blen);
		free(body);
	} else if (opt.batch > 1) {
		/* {"envelopes":[...]} from each job's {"envelope":"B64"} */
		size_t cap = 32;
		for (long i = 0; i < k; i++)
			cap += j[i].len;
		char *body = malloc(cap), *p = body;
		if (!body)
			die("out of memory");
		memcpy(p, "{\"envelopes\":[", 14);
		p += 14;
		for (long i = 0; i < k; i++) {
			size_t b64 = j[i].len - 15; /* less {"envelope":" and "} */
			*p++ = '"';
			memcpy(p, j[i].body + 13, b64);
			p += b64;
			*p++ = '"';
			if (i + 1 < k)
				*p++ = ',';
		}
		memcpy(p, "]}", 2);
		p += 2;
		req = new_req(&snd, submit_cb, f, body, (size_t)(p - body));
		free(body);
	} else {
		req = new_req(&snd, submit_cb, f, j->body, j->len);
	}
	double t = now_s();
	for (long i = 0; i < k; i++) {
		j[i].tries++;
		j[i].t_sub = t;
	}
	if (!t_first)
		t_first = t;
	if (evhttp_make_request(s->conn, req, EVHTTP_REQ_POST, "/v1/envelopes") != 0)
		die("cannot submit on %s", s->ch);
	no_delay(s->conn);
	s->busy = true;
	s->next_send += k;
	submitted += k;
	return true;
}

static void send_next(stream *s)
{
	(void)submit_one(s);
}

/* Greedy: every idle stream sends its next job. */
static void ack_greedy(stream *s, job *j)
{
	(void)j;
	send_next(s);
}

/* Sign every job now (pre-signed mode), or leave it to submit_one. */
static void presign(void)
{
	double t0 = now_s();
	long n = 0;
	long per = opt.batch > 1 ? opt.batch : 1; /* as submit_one groups them */
	for (int i = 0; i < nstreams; i++)
		for (long k = 0; k < streams[i].n; k += per) {
			long m = per < streams[i].n - k ? per : streams[i].n - k;
			sign_jobs(&streams[i], &streams[i].jobs[k], m);
			for (long q = 0; q < m; q++, n++)
				hput(&streams[i].jobs[k + q]);
		}
	fprintf(stderr, "bench_load: pre-signed %ld envelopes in %.2f s\n", n, now_s() - t0);
}

static void setup_streams(long total)
{
	nstreams = opt.streams;
	total_jobs = total;
	htab_init(total + opt.flash + 16);
	for (int i = 0; i < nstreams; i++) {
		char ch[PL_NAME_MAX + 1];
		snprintf(ch, sizeof(ch), "%s%d", opt.prefix, i);
		long n = total / nstreams + (i < total % nstreams ? 1 : 0);
		stream_init(&streams[i], ch, PL_LANE_ROUTINE, n);
		streams[i].conn = open_conn(&snd, 60);
	}
	if (!opt.inline_sign)
		presign();
}

/* ---------------------------------------------------------------- completion */

/*
 * Throughput and drain: every POLL_MS, once the sender acknowledged every
 * submission, (A) the receiver's transcript size until it holds the target
 * (t_all_stored), then (B) each stream's last envelope's delivery state at
 * the sender until every one says "delivered" (t_all_done).  Receipts are
 * cumulative per lane, so a stream's last envelope delivered means all of
 * its envelopes are.  B gives up after max(RECEIPT_GRACE, A's duration).
 */
static struct evhttp_connection *poll_sconn, *poll_rconn;
static struct event *poll_ev, *deadline_ev;
static long long rcv_target, rcv_base;
static bool rcv_reached, poll_busy;
static int check_stream; /* next stream whose last job is checked */
static double t_poll0, t_first_move, t_all_stored, t_all_done;
static bool finished, timed_out;

static void poll_schedule(void)
{
	struct timeval tv = {0, POLL_MS * 1000};
	evtimer_add(poll_ev, &tv);
}

static void poll_finish(bool delivered)
{
	if (delivered)
		t_all_done = now_s();
	else
		note_broken_receipts("the last envelopes' delivery states");
	finished = true;
	event_base_loopbreak(base);
}

static json_t *body_json(struct evhttp_request *req)
{
	if (evhttp_request_get_response_code(req) != 200)
		return NULL;
	struct evbuffer *b = evhttp_request_get_input_buffer(req);
	return json_loadb((const char *)evbuffer_pullup(b, -1), evbuffer_get_length(b), 0, NULL);
}

static void deliv_cb(struct evhttp_request *req, void *arg)
{
	(void)arg;
	poll_busy = false;
	if (!req)
		die("the sender did not answer a delivery query");
	json_t *j = body_json(req);
	json_t *d = json_object_get(json_object_get(j, "delivery"), opt.peer);
	if (strcmp(jstr(d, "state"), "delivered") == 0)
		check_stream++;
	json_decref(j);
	if (check_stream >= nstreams) {
		poll_finish(true);
		return;
	}
	double waited = now_s() - t_all_stored, stage_a = t_all_stored - t_poll0;
	if (waited > RECEIPT_GRACE && waited > stage_a) {
		poll_finish(false);
		return;
	}
	poll_schedule();
}

static void count_cb(struct evhttp_request *req, void *arg)
{
	(void)arg;
	poll_busy = false;
	if (!req)
		die("the receiver did not answer a status query");
	json_t *j = body_json(req);
	long long n = (long long)json_integer_value(json_object_get(j, "log_size"));
	json_decref(j);
	double t = now_s();
	if (n > rcv_base && t_first_move == 0)
		t_first_move = t;
	if (n >= rcv_target) {
		rcv_reached = true;
		t_all_stored = t;
	}
	poll_schedule();
}

static void poll_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	if (poll_busy)
		return;
	if (acked < total_jobs) {
		poll_schedule();
		return;
	}
	poll_busy = true;
	if (!rcv_reached) {
		struct evhttp_request *req = new_req(&rcv, count_cb, NULL, NULL, 0);
		if (evhttp_make_request(poll_rconn, req, EVHTTP_REQ_GET, "/v1/status") != 0)
			die("cannot poll the receiver");
		return;
	}
	while (check_stream < nstreams && streams[check_stream].n == 0)
		check_stream++;
	if (check_stream >= nstreams) {
		poll_busy = false;
		poll_finish(true);
		return;
	}
	stream *s = &streams[check_stream];
	char path[128], hx[2 * PL_HASH_BYTES + 1];
	pl_hex_encode(hx, s->jobs[s->n - 1].id, PL_HASH_BYTES);
	snprintf(path, sizeof(path), "/v1/envelopes/%s", hx);
	struct evhttp_request *req = new_req(&snd, deliv_cb, NULL, NULL, 0);
	if (evhttp_make_request(poll_sconn, req, EVHTTP_REQ_GET, path) != 0)
		die("cannot poll the sender");
}

static void completion_start(long long base_count, long long target)
{
	rcv_base = base_count;
	rcv_target = target;
	t_poll0 = now_s();
	poll_sconn = open_conn(&snd, 60);
	poll_rconn = open_conn(&rcv, 60);
	poll_ev = evtimer_new(base, poll_tick, NULL);
	poll_schedule();
}

static void deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	timed_out = true;
	event_base_loopbreak(base);
}

static void deadline_start(void)
{
	deadline_ev = evtimer_new(base, deadline_cb, NULL);
	struct timeval tv = {opt.timeout, 0};
	evtimer_add(deadline_ev, &tv);
}

/* Run the loop until finished or the deadline. */
static void run_loop(void)
{
	if (!deadline_ev)
		deadline_start();
	while (!finished && !timed_out)
		event_base_loop(base, EVLOOP_ONCE);
}

/* ---------------------------------------------------------------- probes */

/*
 * One envelope at a time on the probe stream: submit, wait until it is
 * finished (job_finished), pause probe_gap_s, next.  A watch timer (50 ms)
 * detects a sender that records no receipts and moves the probe on.
 */
static stream *probe;
static long probe_k; /* index of the job in flight */
static double probe_gap_s;
static double probe_period_s; /* drain: and at least this long from one submission to the next,
			       * so a faster FLASH does not make more FLASH load */
static bool probe_until_finished; /* drain: stop probing when the backlog is done */
static bool probe_over;
static bool probe_on_stored; /* drain: the next FLASH once the receiver stored this one */
static double t_first_stored;

static bool probe_ready(const job *j)
{
	return probe_on_stored ? j->t_stored > 0 || j->t_done > 0 : job_finished(j);
}

static void probe_next(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	if (probe->next_send >= probe->n || (probe_until_finished && finished)) {
		probe_over = true;
		if (!probe_until_finished) {
			finished = true;
			event_base_loopbreak(base);
		}
		return;
	}
	if (probe->busy) { /* the events overtook the API's answer: wait for it */
		struct timeval tv = {0, 200};
		event_base_once(base, -1, EV_TIMEOUT, probe_next, NULL, &tv);
		return;
	}
	probe_k = probe->next_send;
	submit_one(probe);
}

static void probe_advance(void)
{
	double wait = probe_gap_s;
	if (probe_period_s > 0 && probe_k >= 0) {
		double left = probe->jobs[probe_k].t_sub + probe_period_s - now_s();
		wait = left > wait ? left : wait;
	}
	struct timeval tv = {(time_t)wait, (suseconds_t)((wait - (double)(time_t)wait) * 1e6)};
	probe_k = -1;
	event_base_once(base, -1, EV_TIMEOUT, probe_next, NULL, &tv);
}

static void probe_progress(job *j)
{
	if (j->t_stored > 0 && t_first_stored == 0)
		t_first_stored = j->t_stored;
	if (probe && probe_k >= 0 && j == &probe->jobs[probe_k] && probe_ready(j))
		probe_advance();
}

static struct event *watch_ev;

static void watch_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	if (!receipts_broken && stored_count > 0 && done_count == 0 && t_first_stored > 0 &&
	    now_s() - t_first_stored > RECEIPT_GRACE)
		note_broken_receipts("receipt events");
	if (probe && probe_k >= 0 && probe_ready(&probe->jobs[probe_k]))
		probe_advance();
	struct timeval tv = {0, 50000};
	evtimer_add(watch_ev, &tv);
}

static void watch_start(void)
{
	on_progress = probe_progress;
	watch_ev = evtimer_new(base, watch_tick, NULL);
	struct timeval tv = {0, 50000};
	evtimer_add(watch_ev, &tv);
}

/* ---------------------------------------------------------------- statistics */

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double pct(const double *sorted, size_t n, double p)
{
	if (!n)
		return 0;
	size_t i = (size_t)(p * (double)(n - 1) + 0.5);
	return sorted[i < n ? i : n - 1];
}

/* Latency samples of a set of jobs: which = 0 api answer, 1 stored, 2 delivered. */
static size_t collect(job *const *js, size_t n, int which, double *out)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		const job *j = js[i];
		double t = which == 0 ? j->t_ack : which == 1 ? j->t_stored : j->t_done;
		if (t > 0 && j->t_sub > 0)
			out[k++] = t - j->t_sub;
	}
	return k;
}

/* Print ,"name":{"n":..,"p50_us":..,"p99_us":..,"max_us":..} or ,"name":null. */
static void lat_json(const char *name, job *const *js, size_t n, int which)
{
	double *v = calloc(n ? n : 1, sizeof(double));
	if (!v)
		die("out of memory");
	size_t k = collect(js, n, which, v);
	if (!k) {
		printf(",\"%s\":null", name);
		free(v);
		return;
	}
	qsort(v, k, sizeof(double), cmp_d);
	printf(",\"%s\":{\"n\":%zu,\"p50_us\":%.0f,\"p99_us\":%.0f,\"max_us\":%.0f}", name, k,
	       pct(v, k, 0.5) * 1e6, pct(v, k, 0.99) * 1e6, v[k - 1] * 1e6);
	free(v);
}

static job **all_jobs(size_t *n)
{
	size_t total = 0;
	for (int i = 0; i < nstreams; i++)
		total += (size_t)streams[i].n;
	job **js = calloc(total ? total : 1, sizeof(job *));
	if (!js)
		die("out of memory");
	size_t k = 0;
	for (int i = 0; i < nstreams; i++)
		for (long m = 0; m < streams[i].n; m++)
			js[k++] = &streams[i].jobs[m];
	*n = k;
	return js;
}

static void rate_json(const char *name, long n, double t0, double t1)
{
	if (t1 > t0)
		printf(",\"%s\":%.1f", name, (double)n / (t1 - t0));
	else
		printf(",\"%s\":null", name);
}

/* ---------------------------------------------------------------- modes */

static void mode_throughput(void)
{
	long long b0 = receiver_count();
	setup_streams(opt.count);
	completion_start(b0, b0 + opt.count);
	on_ack = ack_greedy;
	double t0 = now_s();
	for (int i = 0; i < nstreams; i++)
		send_next(&streams[i]);
	run_loop();
	if (timed_out)
		die("timeout after %ld s: %ld of %ld acknowledged", opt.timeout, acked, total_jobs);
	printf("{\"mode\":\"throughput\",\"sign\":\"%s\",\"count\":%ld,\"streams\":%d,"
	       "\"batch\":%ld,\"size\":%ld,\"body\":\"%s\",\"receipts_recorded\":%s",
	       opt.inline_sign  ? "inline"
	       : opt.batch_sign ? "batch"
				: "pre",
	       opt.count, nstreams, opt.batch, opt.size, opt.cbor ? "cbor" : "json",
	       receipts_broken ? "false" : "true");
	rate_json("submit_rate", opt.count, t0, t_last_ack);
	rate_json("stored_rate", opt.count, t0, t_all_stored);
	rate_json("rate", opt.count, t0, receipts_broken ? 0 : t_all_done);
	printf("}\n");
}

static void mode_fill(void)
{
	setup_streams(opt.count);
	on_ack = ack_greedy;
	double t0 = now_s();
	for (int i = 0; i < nstreams; i++)
		send_next(&streams[i]);
	deadline_start();
	while (acked < total_jobs && !timed_out)
		event_base_loop(base, EVLOOP_ONCE);
	if (timed_out)
		die("timeout after %ld s: %ld of %ld acknowledged", opt.timeout, acked, total_jobs);
	printf("{\"mode\":\"fill\",\"count\":%ld,\"streams\":%d,\"batch\":%ld,\"size\":%ld,"
	       "\"elapsed_s\":%.3f",
	       opt.count, nstreams, opt.batch, opt.size, t_last_ack - t0);
	rate_json("submit_rate", opt.count, t0, t_last_ack);
	printf("}\n");
}

static void mode_latency(void)
{
	opt.streams = 1;
	setup_streams(opt.count);
	probe = &streams[0];
	sse_both();
	watch_start();
	probe_gap_s = 0.001;
	probe_k = 0;
	submit_one(probe);
	run_loop();
	size_t n;
	job **js = all_jobs(&n);
	long got = 0;
	for (size_t i = 0; i < n; i++)
		got += job_finished(js[i]);
	if (timed_out)
		fprintf(stderr, "bench_load: timeout: %ld of %ld samples\n", got, opt.count);
	printf("{\"mode\":\"latency\",\"size\":%ld,\"samples\":%ld,\"receipts_recorded\":%s",
	       opt.size, got, receipts_broken ? "false" : "true");
	lat_json("api", js, n, 0);
	lat_json("stored", js, n, 1);
	lat_json("delivered", js, n, 2);
	printf("}\n");
	free(js);
}

/* Paced: a 1 ms tick issues what is due at the target rate on idle streams. */
static double pace_t0;
static long pace_issued, pace_behind;
static bool pace_over;
static struct event *pace_ev;

static void pace_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	double el = now_s() - pace_t0;
	if (el >= (double)opt.seconds || pace_issued >= total_jobs) {
		pace_over = true;
		return;
	}
	long due = (long)(opt.rate * el);
	int idle_tries = 0;
	static int rr;
	while (pace_issued < due && idle_tries < nstreams) {
		stream *s = &streams[rr];
		rr = (rr + 1) % nstreams;
		if (submit_one(s)) {
			pace_issued++;
			idle_tries = 0;
		} else {
			idle_tries++;
		}
	}
	if (due - pace_issued > pace_behind)
		pace_behind = due - pace_issued; /* every stream busy: the node is behind */
	struct timeval tv = {0, 1000};
	evtimer_add(pace_ev, &tv);
}

static void mode_loaded(void)
{
	if (!(opt.rate > 0))
		die("loaded needs --rate");
	long total = (long)(opt.rate * (double)opt.seconds) + opt.streams;
	setup_streams(total);
	sse_both();
	watch_start();
	pace_ev = evtimer_new(base, pace_tick, NULL);
	pace_t0 = now_s();
	struct timeval tv = {0, 1000};
	evtimer_add(pace_ev, &tv);
	deadline_start();
	/* the paced period, then until every submitted envelope is finished */
	while (!timed_out && (!pace_over || acked < submitted ||
			      (receipts_broken ? stored_count : done_count) < acked))
		event_base_loop(base, EVLOOP_ONCE);
	size_t n;
	job **js = all_jobs(&n);
	printf("{\"mode\":\"loaded\",\"target_rate\":%.1f,\"achieved_rate\":%.1f,\"seconds\":%ld,"
	       "\"streams\":%d,\"max_behind\":%ld,\"timeout\":%s,\"receipts_recorded\":%s",
	       opt.rate, (double)pace_issued / (double)opt.seconds, opt.seconds, nstreams,
	       pace_behind, timed_out ? "true" : "false", receipts_broken ? "false" : "true");
	lat_json("api", js, n, 0);
	lat_json("stored", js, n, 1);
	lat_json("delivered", js, n, 2);
	printf("}\n");
	free(js);
}

/* The receiver is back: time the drain of --count envelopes above --base;
 * FLASH probes one at a time meanwhile (channel <prefix>0, FLASH lane): the
 * next is submitted 5 ms after the receiver stored the previous one, and
 * 20 ms after the previous submission at the earliest (50 a second at
 * most, whatever their latency); its receipt is still timed when it comes.
 * The probes follow their own event streams (?lanes=FLASH, served first). */
/*
 * PARLEY_BENCH_DUMP=FILE: the FLASH probes of a drain, one line each — the
 * submission's time (CLOCK_MONOTONIC, s), then its API answer, its storing
 * at the receiver and its receipt at the sender, in µs after it — so that
 * a tail can be traced to its stage and to the nodes' profiles.
 */
static void dump_probes(job **js, size_t n)
{
	const char *path = getenv("PARLEY_BENCH_DUMP");
	FILE *f = path && *path ? fopen(path, "w") : NULL;
	if (path && *path && !f) {
		fprintf(stderr, "bench_load: %s: %s\n", path, strerror(errno));
		return;
	}
	for (size_t i = 0; f && i < n; i++)
		fprintf(f, "%.6f %.0f %.0f %.0f\n", js[i]->t_sub,
			(js[i]->t_ack - js[i]->t_sub) * 1e6, (js[i]->t_stored - js[i]->t_sub) * 1e6,
			(js[i]->t_done - js[i]->t_sub) * 1e6);
	if (f && fclose(f) != 0)
		fprintf(stderr, "bench_load: %s: %s\n", path, strerror(errno));
}

static void mode_drain(void)
{
	double t_start = now_s();
	nstreams = opt.streams;
	htab_init(opt.flash + 16);
	for (int i = 0; i < nstreams; i++) {
		char ch[PL_NAME_MAX + 1];
		snprintf(ch, sizeof(ch), "%s%d", opt.prefix, i);
		stream_init(&streams[i], ch, PL_LANE_ROUTINE, 1);
		streams[i].n = streams[i].seq > 1 ? 1 : 0; /* its last envelope: the node's prev */
		memcpy(streams[i].jobs[0].id, streams[i].prev, PL_HASH_BYTES);
	}
	total_jobs = acked = 0;
	probe = &streams[MAX_STREAMS];
	char ch0[PL_NAME_MAX + 1];
	snprintf(ch0, sizeof(ch0), "%s0", opt.prefix);
	stream_init(probe, ch0, PL_LANE_FLASH, opt.flash);
	probe->conn = open_conn(&snd, 60);
	if (probe->n) {
		sse_start(&sse_snd_flash, &snd);
		sse_start(&sse_rcv_flash, &rcv);
		conn_urgent(probe->conn);
		conn_urgent(sse_snd_flash.conn);
		conn_urgent(sse_rcv_flash.conn);
	}
	for (long k = 0; k < probe->n; k++) {
		sign_job(probe, &probe->jobs[k]);
		hput(&probe->jobs[k]);
	}
	sse_both();
	watch_start();
	completion_start(opt.base, opt.base + opt.count);
	probe_until_finished = true;
	probe_on_stored = true;
	probe_gap_s = 0.005;
	probe_period_s = 0.02;
	probe_k = -1;
	if (probe->n) {
		probe_k = 0;
		submit_one(probe);
	}
	run_loop();
	if (timed_out)
		die("drain: timeout after %ld s", opt.timeout);
	double t_end = receipts_broken ? t_all_stored : t_all_done;
	/* let the probe in flight finish (bounded) */
	double t_wait = now_s();
	while (!probe_over && probe_k >= 0 && !job_finished(&probe->jobs[probe_k]) &&
	       now_s() - t_wait < 10)
		event_base_loop(base, EVLOOP_ONCE);
	/* FLASH samples submitted while the backlog was still draining */
	job **js = calloc((size_t)probe->n + 1, sizeof(job *));
	size_t n = 0;
	for (long k = 0; k < probe->n; k++)
		if (probe->jobs[k].t_sub > 0 && probe->jobs[k].t_sub < t_all_stored)
			js[n++] = &probe->jobs[k];
	double from = t_first_move > 0 ? t_first_move : t_start;
	printf("{\"mode\":\"drain\",\"count\":%ld,\"receipts_recorded\":%s,\"reconnect_s\":%.3f",
	       opt.count, receipts_broken ? "false" : "true", from - t_start);
	rate_json("stored_rate", opt.count, from, t_all_stored);
	rate_json("rate", opt.count, from, receipts_broken ? 0 : t_end);
	dump_probes(js, n);
	lat_json("flash_stored", js, n, 1);
	lat_json("flash", js, n, 2);
	printf("}\n");
	free(js);
}

/* ---------------------------------------------------------------- main */

static void usage(void) __attribute__((noreturn));
static void usage(void)
{
	fprintf(stderr, "usage: bench_load throughput|latency|loaded|fill|drain|count --api URL "
			"--as ID --key FILE --state S --peer P [--rapi URL --ras ID --rkey FILE "
			"--rstate S] [--streams W] [--count N] [--size B] [--sign pre|inline|batch] [--batch B] [--body json|cbor] "
			"[--rate R] [--seconds S] [--flash K] [--base N] [--timeout S]\n");
	exit(2);
}

static long num(const char *v, long lo, long hi, const char *what)
{
	char *end;
	errno = 0;
	long x = strtol(v, &end, 10);
	if (errno || *end || end == v || x < lo || x > hi)
		die("%s must be %ld..%ld, not %s", what, lo, hi, v);
	return x;
}

int main(int argc, char **argv)
{
	if (argc < 2 || pl_crypto_init() != 0)
		usage();
	opt.mode = argv[1];
	for (int i = 2; i < argc; i += 2) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!v)
			usage();
		if (!strcmp(a, "--api"))
			opt.api = v;
		else if (!strcmp(a, "--as"))
			opt.as = v;
		else if (!strcmp(a, "--key"))
			opt.key = v;
		else if (!strcmp(a, "--state"))
			opt.state = v;
		else if (!strcmp(a, "--peer"))
			opt.peer = v;
		else if (!strcmp(a, "--rapi"))
			opt.rapi = v;
		else if (!strcmp(a, "--ras"))
			opt.ras = v;
		else if (!strcmp(a, "--rkey"))
			opt.rkey = v;
		else if (!strcmp(a, "--rstate"))
			opt.rstate = v;
		else if (!strcmp(a, "--prefix"))
			opt.prefix = v;
		else if (!strcmp(a, "--streams"))
			opt.streams = (int)num(v, 1, MAX_STREAMS, "--streams");
		else if (!strcmp(a, "--count"))
			opt.count = num(v, 1, 20000000, "--count");
		else if (!strcmp(a, "--size"))
			opt.size = num(v, 64, 65536, "--size");
		else if (!strcmp(a, "--flash"))
			opt.flash = num(v, 0, 100000, "--flash");
		else if (!strcmp(a, "--seconds"))
			opt.seconds = num(v, 1, 3600, "--seconds");
		else if (!strcmp(a, "--timeout"))
			opt.timeout = num(v, 1, 86400, "--timeout");
		else if (!strcmp(a, "--base"))
			opt.base = num(v, 0, 2000000000, "--base");
		else if (!strcmp(a, "--batch"))
			opt.batch = num(v, 1, 256, "--batch");
		else if (!strcmp(a, "--rate"))
			opt.rate = (double)num(v, 1, 10000000, "--rate");
		else if (!strcmp(a, "--body") && (!strcmp(v, "cbor") || !strcmp(v, "json")))
			opt.cbor = !strcmp(v, "cbor");
		else if (!strcmp(a, "--sign") && !strcmp(v, "batch"))
			opt.batch_sign = true;
		else if (!strcmp(a, "--sign"))
			opt.inline_sign = !strcmp(v, "inline");
		else
			usage();
	}
	bool need_sender = strcmp(opt.mode, "count") != 0;
	if ((need_sender && (!opt.api || !opt.as || !opt.key || !opt.state || !opt.peer)) ||
	    !opt.rapi || !opt.ras || !opt.rkey || !opt.rstate)
		usage();
	base = event_base_new();
	/* two priorities: the FLASH probe's connections (0) are served before the
	 * backlog's event streams (1), so a probe is not timed behind the
	 * client's own parsing of thousands of ROUTINE events */
	if (base)
		(void)event_base_priority_init(base, 2);
	bodybuf = malloc((size_t)opt.size);
	if (!base || !bodybuf)
		die("out of memory");
	/* the receiver is down while a backlog is filled: fill does not ask it */
	if (strcmp(opt.mode, "fill") != 0) {
		pl_keypair rkp;
		parse_url(&rcv, opt.rapi);
		login(&rcv, opt.ras, opt.rstate, opt.rkey, &rkp);
		pl_key_wipe(&rkp);
	}
	if (!strcmp(opt.mode, "count")) {
		printf("%lld\n", receiver_count());
		return 0;
	}
	parse_url(&snd, opt.api);
	login(&snd, opt.as, opt.state, opt.key, &official);
	if (strcmp(opt.mode, "fill") != 0 && strcmp(opt.mode, "drain") != 0)
		wait_link();
	if (!strcmp(opt.mode, "throughput"))
		mode_throughput();
	else if (!strcmp(opt.mode, "latency"))
		mode_latency();
	else if (!strcmp(opt.mode, "loaded"))
		mode_loaded();
	else if (!strcmp(opt.mode, "fill"))
		mode_fill();
	else if (!strcmp(opt.mode, "drain"))
		mode_drain();
	else
		usage();
	fflush(stdout);
	pl_key_wipe(&official);
	/* the process ends here: the OS reclaims the jobs and connections */
	return 0;
}
