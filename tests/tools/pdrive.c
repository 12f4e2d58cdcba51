/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pdrive: the integration tests' and benchmarks' client for a running
 * parleyd.  It signs envelopes itself (as an official would on their
 * device), submits them through the node's HTTP API, builds and submits
 * charters from state homes, and checks what a node holds.  It is a test
 * tool: output is line-oriented and every failure exits non-zero with a
 * reason.
 *
 *   pdrive wait   --api URL [--timeout S]
 *   pdrive charter --api URL --as ID --key FILE --home DIR (--home DIR)... --name C
 *                 --member ID@STATE... [--kind K]... [--lanes 1234]
 *   pdrive send   --api URL --as ID --key FILE --state S --channel C --lane L
 *                 --count N [--size B] [--ids FILE] [--ack-by +S]
 *                 [--batch B [--corrupt K | --repeat K] [--batch-sign]]
 *       --batch: B envelopes per request (POST /v1/envelopes "envelopes");
 *       --corrupt K: the K-th envelope (from 1) gets a broken signature (with
 *       --batch-sign: loses its last byte, and cannot be parsed), the run
 *       stops after the request that holds it, and "INDEX STATUS TYPE" is
 *       printed for each envelope sent (refusals then do not fail the run)
 *       --repeat K: the K-th envelope is sent twice, the second right after
 *       the first in the same request, and each result is printed as above
 *       --batch-sign: the envelopes of each request are signed as one batch
 *       (pl_env_sign_batch; the author's credential needs the role 'feed')
 *   pdrive check  --api URL --as ID --key FILE --state S --channel C --ids FILE...
 *                 [--require-before ID_A:ID_B]
 *   pdrive count  --api URL --as ID --key FILE --state S --channel C
 *   pdrive delivered --api URL --as ID --key FILE --state S --peer P --ids FILE...
 *       every listed envelope shows "delivered" to peer P on this (sending) node
 *   pdrive forge  --api URL --as ID --key FILE --state S --channel C --lane L
 *                 --mode ok|forged|replay|gap|kind|future|other-author
 *                 [--author ID --author-key FILE] --expect TYPE|ok
 *       submits one deliberately bad envelope and succeeds only when the node
 *       refuses it with the problem TYPE (e.g. bad-signature), or accepts it
 *       for --expect ok
 *   pdrive forge ... --out FILE [--ids FILE]
 *       signs the same envelope (its sequence from the author's own node) but
 *       writes it to FILE instead of submitting it (--expect not needed) and
 *       prints its id (also appended to the --ids file): an envelope for
 *       tests/tools/hpeer to deliver over a link
 *   pdrive get    --api URL --as ID --key FILE --state S --path P [--field A.B.C]
 *                 [--out FILE]
 *       GETs P and prints the JSON answer (or one field of it: strings bare,
 *       anything else as compact JSON; a missing field prints nothing and
 *       fails), or writes the answer to FILE
 *   pdrive watch  --api URL --as ID --key FILE --state S --type EVENT [--timeout S]
 *                 [--count N]
 *       follows /v1/events and prints the data of the first event of type
 *       EVENT; fails when none came within S seconds (default 30).  With
 *       --count, prints the data of every event of type EVENT as it comes,
 *       a line each, until N came; fails when fewer came within S seconds
 *
 * Passphrases for key files come from PARLEY_PASSPHRASE.
 */
#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <signal.h>
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
#include "parley/crypto.h"
#include "parley/err.h"
#include "parley/file.h"
#include "parley/identity.h"
#include "parley/store.h"

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("pdrive: ", stderr);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

/* ---------------------------------------------------------------- HTTP */

static struct event_base *base;
static struct evhttp_connection *conn;
static char host[256];
static int port;
static char token[128];

struct reply {
	int status;
	char *body;
	size_t len;
	bool done;
};

static void reply_cb(struct evhttp_request *req, void *arg)
{
	struct reply *r = arg;
	r->done = true;
	if (!req) {
		r->status = 0;
		event_base_loopbreak(base);
		return;
	}
	r->status = evhttp_request_get_response_code(req);
	struct evbuffer *b = evhttp_request_get_input_buffer(req);
	r->len = evbuffer_get_length(b);
	r->body = malloc(r->len + 1);
	if (r->body) {
		evbuffer_remove(b, r->body, r->len);
		r->body[r->len] = 0;
	}
	event_base_loopbreak(base);
}

static void api_connect(const char *url)
{
	if (strncmp(url, "http://", 7) != 0)
		die("--api must be http://HOST:PORT, not %s", url);
	const char *hp = url + 7, *colon = strrchr(hp, ':');
	if (!colon || (size_t)(colon - hp) >= sizeof(host))
		die("--api must be http://HOST:PORT, not %s", url);
	memcpy(host, hp, (size_t)(colon - hp));
	host[colon - hp] = 0;
	port = (int)strtol(colon + 1, NULL, 10);
	base = event_base_new();
	conn = evhttp_connection_base_new(base, NULL, host, (unsigned short)port);
	if (!base || !conn)
		die("cannot set up HTTP");
	evhttp_connection_set_timeout(conn, 30);
}

/* One request; returns the status (0: no answer) and the body in *out. */
static int call(const char *method, const char *path, json_t *body, json_t **out)
{
	struct reply r = {0};
	struct evhttp_request *req = evhttp_request_new(reply_cb, &r);
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	evhttp_add_header(h, "Host", host);
	if (token[0]) {
		char auth[160];
		snprintf(auth, sizeof(auth), "Bearer %s", token);
		evhttp_add_header(h, "Authorization", auth);
	}
	if (body) {
		char *text = json_dumps(body, JSON_COMPACT);
		evhttp_add_header(h, "Content-Type", "application/json");
		evbuffer_add(evhttp_request_get_output_buffer(req), text, strlen(text));
		free(text);
		json_decref(body);
	}
	enum evhttp_cmd_type cmd = strcmp(method, "POST") == 0 ? EVHTTP_REQ_POST : EVHTTP_REQ_GET;
	if (evhttp_make_request(conn, req, cmd, path) != 0)
		die("cannot send %s %s", method, path);
	/* evhttp leaves Nagle on: the last part of a request of 16 KiB or
	 * more would wait for the node's delayed acknowledgement (40 ms) */
	int one = 1;
	evutil_socket_t fd = bufferevent_getfd(evhttp_connection_get_bufferevent(conn));
	if (fd >= 0)
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	while (!r.done)
		event_base_dispatch(base);
	if (out) {
		*out = r.body ? json_loadb(r.body, r.len, 0, NULL) : NULL;
	}
	free(r.body);
	return r.status;
}

static const char *jstr(json_t *j, const char *k)
{
	const char *s = json_string_value(json_object_get(j, k));
	return s ? s : "";
}

/* ---------------------------------------------------------------- auth */

static pl_keypair official;
static char as_id[64], as_state[64];

static void login(const char *id, const char *state, const char *keyfile)
{
	const char *pass = getenv("PARLEY_PASSPHRASE");
	if (pl_keyfile_read(keyfile, pass, &official, NULL, 0) != 0)
		die("cannot read key %s: %s", keyfile, pl_err_detail());
	snprintf(as_id, sizeof(as_id), "%s", id);
	snprintf(as_state, sizeof(as_state), "%s", state);
	json_t *out = NULL;
	int st = call("GET", "/healthz", NULL, &out);
	if (st != 200)
		die("node not healthy (HTTP %d)", st);
	char node[128];
	snprintf(node, sizeof(node), "%s", jstr(out, "node"));
	json_decref(out);
	st = call("POST", "/v1/auth/challenge", json_pack("{s:s,s:s}", "state", state, "id", id),
		  &out);
	if (st != 200)
		die("challenge refused (HTTP %d): %s", st, jstr(out, "detail"));
	char chal[128];
	snprintf(chal, sizeof(chal), "%s", jstr(out, "challenge"));
	json_decref(out);
	char msg[512];
	int n = snprintf(msg, sizeof(msg), "parley-api-auth-v1\n%s\n%s@%s\n%s\n", chal, id, state,
			 node);
	uint8_t sig[PL_SIG_BYTES];
	if (pl_sign(sig, (const uint8_t *)msg, (size_t)n, &official) != 0)
		die("cannot sign");
	char b64[128];
	pl_b64_encode(b64, sig, sizeof(sig));
	st = call("POST", "/v1/auth/token",
		  json_pack("{s:s,s:s,s:s,s:s}", "state", state, "id", id, "challenge", chal,
			    "signature", b64),
		  &out);
	if (st != 200)
		die("token refused (HTTP %d): %s", st, jstr(out, "detail"));
	snprintf(token, sizeof(token), "%s", jstr(out, "token"));
	json_decref(out);
}

/* ---------------------------------------------------------------- options */

struct opts {
	const char *api, *as, *key, *state, *channel, *name, *ids_out;
	const char *homes[8];
	int nhomes;
	const char *members[32];
	int nmembers;
	const char *kinds[8];
	int nkinds;
	const char *ids_in[8];
	int nids_in;
	const char *lanes;
	const char *rules[4];
	int nrules;
	const char *before;
	const char *mode, *expect, *author, *author_key, *peer;
	const char *path, *field, *out, *ref;
	int lane;
	long count, size, timeout, ackby, batch, corrupt, repeat;
	bool batch_sign;
};

static void parse(int argc, char **argv, struct opts *o)
{
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--batch-sign")) { /* the one flag without a value */
			o->batch_sign = true;
			continue;
		}
		if (!v)
			die("%s needs a value", a);
		i++;
		if (!strcmp(a, "--api"))
			o->api = v;
		else if (!strcmp(a, "--as"))
			o->as = v;
		else if (!strcmp(a, "--key"))
			o->key = v;
		else if (!strcmp(a, "--state"))
			o->state = v;
		else if (!strcmp(a, "--channel"))
			o->channel = v;
		else if (!strcmp(a, "--name"))
			o->name = v;
		else if (!strcmp(a, "--ids"))
			o->ids_out = v, o->ids_in[o->nids_in < 8 ? o->nids_in++ : 7] = v;
		else if (!strcmp(a, "--home") && o->nhomes < 8)
			o->homes[o->nhomes++] = v;
		else if (!strcmp(a, "--member") && o->nmembers < 32)
			o->members[o->nmembers++] = v;
		else if (!strcmp(a, "--kind") && o->nkinds < 8)
			o->kinds[o->nkinds++] = v;
		else if (!strcmp(a, "--lanes"))
			o->lanes = v;
		else if (!strcmp(a, "--ref"))
			o->ref = v;
		else if (!strcmp(a, "--rule") && o->nrules < 4)
			o->rules[o->nrules++] = v;
		else if (!strcmp(a, "--peer"))
			o->peer = v;
		else if (!strcmp(a, "--mode"))
			o->mode = v;
		else if (!strcmp(a, "--expect"))
			o->expect = v;
		else if (!strcmp(a, "--author"))
			o->author = v;
		else if (!strcmp(a, "--author-key"))
			o->author_key = v;
		else if (!strcmp(a, "--require-before"))
			o->before = v;
		else if (!strcmp(a, "--type"))
			o->name = v;
		else if (!strcmp(a, "--path"))
			o->path = v;
		else if (!strcmp(a, "--field"))
			o->field = v;
		else if (!strcmp(a, "--out"))
			o->out = v;
		else if (!strcmp(a, "--lane")) {
			pl_lane l;
			if (pl_lane_parse(v, &l) != 0)
				die("bad lane %s", v);
			o->lane = (int)l;
		} else if (!strcmp(a, "--count"))
			o->count = strtol(v, NULL, 10);
		else if (!strcmp(a, "--size"))
			o->size = strtol(v, NULL, 10);
		else if (!strcmp(a, "--batch"))
			o->batch = strtol(v, NULL, 10);
		else if (!strcmp(a, "--corrupt"))
			o->corrupt = strtol(v, NULL, 10);
		else if (!strcmp(a, "--repeat"))
			o->repeat = strtol(v, NULL, 10);
		else if (!strcmp(a, "--timeout"))
			o->timeout = strtol(v, NULL, 10);
		else if (!strcmp(a, "--ack-by"))
			o->ackby = strtol(v, NULL, 10);
		else
			die("unknown option %s", a);
	}
	if (!o->api)
		die("--api is required");
}

/* ---------------------------------------------------------------- commands */

static int cmd_wait(struct opts *o)
{
	long limit = o->timeout ? o->timeout : 10;
	for (long i = 0; i < limit * 10; i++) {
		evhttp_connection_free(conn);
		conn = evhttp_connection_base_new(base, NULL, host, (unsigned short)port);
		evhttp_connection_set_timeout(conn, 1);
		if (call("GET", "/healthz", NULL, NULL) == 200) {
			printf("up\n");
			return 0;
		}
		usleep(100000);
	}
	die("node at %s not up after %ld s", o->api, limit);
}

/* A credential from a state home's registry. */
static int load_member(const char *spec, struct opts *o, uint8_t **buf, size_t *len)
{
	char id[64], state[64];
	const char *at = strchr(spec, '@');
	if (!at || at == spec || strlen(at + 1) >= sizeof(state) || (size_t)(at - spec) >= sizeof(id))
		die("--member wants ID@STATE, not %s", spec);
	memcpy(id, spec, (size_t)(at - spec));
	id[at - spec] = 0;
	snprintf(state, sizeof(state), "%s", at + 1);
	for (int h = 0; h < o->nhomes; h++) {
		char db[1024];
		snprintf(db, sizeof(db), "%s/state.db", o->homes[h]);
		pl_store *s;
		if (pl_store_open(db, PL_STORE_READONLY, NULL, &s) != 0)
			die("cannot open %s: %s", db, pl_err_detail());
		uint8_t *rec = NULL;
		size_t rlen = 0;
		pl_state_rec sr;
		int rc = pl_store_get(s, 1, "state", &rec, &rlen);
		if (!rc)
			rc = pl_state_rec_open(rec, rlen, &sr);
		free(rec);
		if (!rc && strcmp(sr.name, state) == 0) {
			rc = pl_store_get(s, 2, id, buf, len);
			pl_store_close(s);
			if (rc)
				die("no official %s in %s", id, db);
			return 0;
		}
		pl_store_close(s);
	}
	die("no home of state %s given", state);
}

static int cmd_charter(struct opts *o)
{
	if (!o->name || o->nhomes < 2 || !o->nmembers || !o->as || !o->key)
		die("charter needs --name, two or more --home, --member, --as, --key");
	pl_trust *t = pl_trust_new();
	const char *states[8];
	pl_keypair roots[8];
	char names[8][64];
	for (int h = 0; h < o->nhomes; h++) {
		char path[1024];
		snprintf(path, sizeof(path), "%s/state.pub", o->homes[h]);
		uint8_t *buf;
		size_t len;
		pl_state_rec sr;
		if (pl_file_read(path, 65536, &buf, &len) != 0 || pl_state_rec_open(buf, len, &sr) != 0)
			die("cannot read %s", path);
		free(buf);
		snprintf(names[h], sizeof(names[h]), "%s", sr.name);
		states[h] = names[h];
		if (pl_trust_add(t, sr.name, sr.pk) != 0)
			die("trust");
		snprintf(path, sizeof(path), "%s/root.key", o->homes[h]);
		if (pl_keyfile_read(path, getenv("PARLEY_PASSPHRASE"), &roots[h], NULL, 0) != 0)
			die("cannot unseal %s: %s", path, pl_err_detail());
	}
	pl_slice members[32];
	uint8_t *mbuf[32];
	for (int i = 0; i < o->nmembers; i++) {
		size_t len;
		load_member(o->members[i], o, &mbuf[i], &len);
		members[i].p = mbuf[i];
		members[i].n = len;
	}
	const char *kinds[8] = {"message"};
	int nk = o->nkinds ? o->nkinds : 1;
	for (int i = 0; i < o->nkinds; i++)
		kinds[i] = o->kinds[i];
	unsigned lanes = 0;
	for (const char *c = o->lanes ? o->lanes : "1234"; *c; c++)
		if (*c >= '1' && *c <= '4')
			lanes |= 1u << (*c - '0');
	/* --rule 'LANE ack=N level=T1+T2/AFTER/REPEAT ...' */
	static pl_ack_rule rules[PL_LANE_COUNT];
	memset(rules, 0, sizeof(rules));
	const pl_ack_rule *rulep[PL_LANE_COUNT] = {NULL};
	for (int r = 0; r < o->nrules; r++) {
		char buf[1024];
		snprintf(buf, sizeof(buf), "%s", o->rules[r]);
		char *save = NULL, *tok = strtok_r(buf, " ", &save);
		pl_lane lane;
		if (!tok || pl_lane_parse(tok, &lane) != 0)
			die("--rule: no lane in '%s'", o->rules[r]);
		pl_ack_rule *ru = &rules[lane];
		while ((tok = strtok_r(NULL, " ", &save))) {
			if (!strncmp(tok, "ack=", 4)) {
				ru->ack = (uint32_t)strtoul(tok + 4, NULL, 10);
			} else if (!strncmp(tok, "level=", 6) && ru->nlevels < PL_ACK_LEVELS_MAX) {
				pl_ack_level *lv = &ru->levels[ru->nlevels++];
				char *s2 = NULL, *targets = strtok_r(tok + 6, "/", &s2);
				char *after = strtok_r(NULL, "/", &s2), *repeat = strtok_r(NULL, "/", &s2);
				if (!targets || !after || !repeat)
					die("--rule: level=TARGETS/AFTER/REPEAT, not '%s'", tok);
				lv->after = (uint32_t)strtoul(after, NULL, 10);
				lv->repeat = (uint32_t)strtoul(repeat, NULL, 10);
				char *s3 = NULL;
				for (char *tg = strtok_r(targets, "+", &s3); tg && lv->ntargets < PL_ACK_TARGETS_MAX;
				     tg = strtok_r(NULL, "+", &s3))
					snprintf(lv->targets[lv->ntargets++], PL_ACK_TARGET_MAX, "%s", tg);
			} else {
				die("--rule: what is '%s'?", tok);
			}
		}
		rulep[lane] = ru;
	}
	pl_charter_spec spec = {.name = o->name,
				.version = 1,
				.created = (int64_t)time(NULL),
				.states = states,
				.nstates = (size_t)o->nhomes,
				.members = members,
				.nmembers = (size_t)o->nmembers,
				.kinds = kinds,
				.nkinds = (size_t)nk,
				.lanes = lanes,
				.rules = {rulep[0], rulep[1], rulep[2], rulep[3], rulep[4]}};
	pl_charter c;
	if (pl_charter_build(&spec, t, &c) != 0)
		die("charter: %s", pl_err_detail());
	for (int h = 0; h < o->nhomes; h++)
		if (pl_charter_sign(&c, t, states[h], &roots[h]) != 0)
			die("sign: %s", pl_err_detail());
	uint8_t *enc;
	size_t elen;
	if (pl_charter_encode(&c, &enc, &elen) != 0)
		die("encode: %s", pl_err_detail());
	char *b64 = malloc(pl_b64_len(elen));
	pl_b64_encode(b64, enc, elen);
	login(o->as, states[0], o->key);
	json_t *out = NULL;
	int st = call("POST", "/v1/charters", json_pack("{s:s}", "charter", b64), &out);
	if (st != 202)
		die("charter refused (HTTP %d): %s", st, jstr(out, "detail"));
	printf("charter %s submitted\n", o->name);
	json_decref(out);
	free(b64);
	free(enc);
	pl_charter_clear(&c);
	for (int i = 0; i < o->nmembers; i++)
		free(mbuf[i]);
	pl_trust_free(t);
	return 0;
}

static void hex32(char out[65], const uint8_t *id)
{
	pl_hex_encode(out, id, 32);
}

/* POST one batch (taken); the accepted ids go to ids.  Without --corrupt
 * every envelope must be accepted; with it, each result is printed. */
static void send_batch(struct opts *o, json_t *batch, uint8_t (*bid)[32], FILE *ids)
{
	static long printed; /* envelopes of the run so far */
	size_t n = json_array_size(batch);
	json_t *out = NULL;
	int st = call("POST", "/v1/envelopes", json_pack("{s:o}", "envelopes", batch), &out);
	json_t *res = json_object_get(out, "results");
	if (st != 200 || json_array_size(res) != n)
		die("batch of %zu refused (HTTP %d): %s", n, st, jstr(out, "detail"));
	for (size_t k = 0; k < n; k++) {
		json_t *e = json_array_get(res, k);
		int es = (int)json_integer_value(json_object_get(e, "status"));
		char hx[65];
		hex32(hx, bid[k]);
		if (es == 201 || es == 200) {
			if (strcmp(jstr(e, "id"), hx) != 0)
				die("batch result %zu names %s, not %s", k, jstr(e, "id"), hx);
			if (ids)
				fprintf(ids, "%s\n", hx);
		} else if (!o->corrupt) {
			die("envelope %zu of a batch refused (%d): %s: %s", k, es, jstr(e, "type"),
			    jstr(e, "detail"));
		}
		if (o->corrupt || o->repeat) {
			const char *t = jstr(e, "type"), *slash = strrchr(t, '/');
			printf("%ld %d %s\n", ++printed, es, es >= 300 ? (slash ? slash + 1 : t) : "ok");
		}
	}
	if (ids)
		fflush(ids); /* acknowledged: on record even if we die next */
	json_decref(out);
}

/* --batch-sign: sign the n envelopes of a request as one batch and POST them.
 * A last request of one envelope is signed alone (a batch has two or more). */
static void send_signed_batch(struct opts *o, const pl_env *e, size_t n, uint8_t (*bid)[32],
			      FILE *ids)
{
	uint8_t *buf[256];
	size_t len[256];
	if (n == 1) {
		if (pl_env_sign(&e[0], &official, &buf[0], &len[0]) != 0)
			die("sign: %s", pl_err_detail());
		pl_env_id(bid[0], buf[0], len[0]);
	} else if (pl_env_sign_batch(e, n, &official, buf, len) != 0) {
		die("batch sign: %s", pl_err_detail());
	}
	static long sent; /* envelopes of the run before this request */
	if (o->corrupt > sent && (size_t)(o->corrupt - sent) <= n)
		len[o->corrupt - sent - 1]--;
	sent += (long)n;
	json_t *batch = json_array();
	for (size_t k = 0; k < n; k++) {
		char *b64 = malloc(pl_b64_len(len[k]));
		pl_b64_encode(b64, buf[k], len[k]);
		json_array_append_new(batch, json_string(b64));
		free(b64);
		free(buf[k]);
	}
	send_batch(o, batch, bid, ids);
}

static int cmd_send(struct opts *o)
{
	if (!o->as || !o->key || !o->state || !o->channel || !o->lane || o->count < 1)
		die("send needs --as --key --state --channel --lane --count");
	login(o->as, o->state, o->key);
	char path[512];
	snprintf(path, sizeof(path), "/v1/channels/%s/next?lane=%s", o->channel,
		 pl_lane_name((pl_lane)o->lane));
	json_t *out = NULL;
	int st = call("GET", path, NULL, &out);
	if (st != 200)
		die("next refused (HTTP %d): %s", st, jstr(out, "detail"));
	uint64_t seq = (uint64_t)json_integer_value(json_object_get(out, "seq"));
	uint8_t prev[32] = {0};
	const char *p = json_string_value(json_object_get(out, "prev"));
	size_t got;
	if (p && pl_hex_decode(prev, 32, &got, p, strlen(p)) != 0)
		die("bad prev");
	json_decref(out);
	FILE *ids = o->ids_out ? fopen(o->ids_out, "a") : NULL;
	if (o->batch < 0 || o->batch > 256 || (o->corrupt && (o->batch < 1 || o->corrupt > o->count)))
		die("--batch is 1..256; --corrupt K needs --batch and K <= --count");
	if (o->batch_sign && (o->batch < 2 || o->repeat))
		die("--batch-sign needs --batch 2..256 and no --repeat");
	if (o->repeat && (o->batch < 1 || o->corrupt || o->repeat > o->count))
		die("--repeat K needs --batch, no --corrupt, and K <= --count");
	json_t *batch = json_array();
	size_t nb = o->batch > 0 ? (size_t)o->batch : 1;
	uint8_t (*bid)[32] = calloc(nb + 1, 32); /* + a --repeat */
	size_t size = o->size > 0 ? (size_t)o->size : 64;
	pl_env *pend = calloc(nb, sizeof(*pend)); /* --batch-sign: signed when the request is full */
	uint8_t *bodies = malloc(nb * size);
	for (long i = 0; i < o->count; i++, seq++) {
		uint8_t *body = bodies + (o->batch_sign ? (size_t)(i % o->batch) * size : 0);
		memset(body, 'a' + (int)(i % 26), size);
		int k = snprintf((char *)body, size, "%s %s #%" PRIu64 " ", o->channel,
				 pl_lane_name((pl_lane)o->lane), seq);
		if (k > 0 && (size_t)k < size)
			body[k] = ' ';
		pl_env e;
		memset(&e, 0, sizeof(e));
		snprintf(e.ch, sizeof(e.ch), "%s", o->channel);
		e.at = (int64_t)time(NULL);
		snprintf(e.state, sizeof(e.state), "%s", o->state);
		snprintf(e.author, sizeof(e.author), "%s", o->as);
		e.seq = seq;
		e.lane = (pl_lane)o->lane;
		snprintf(e.kind, sizeof(e.kind), "%s", o->nkinds ? o->kinds[0] : "message");
		if (o->ref) {
			size_t rgot = 0;
			if (pl_hex_decode(e.ref, sizeof(e.ref), &rgot, o->ref, strlen(o->ref)) != 0 ||
			    rgot != sizeof(e.ref))
				die("--ref wants 64 hex digits");
			e.has_ref = true;
		}
		memcpy(e.prev, prev, 32);
		e.body = body;
		e.body_len = size;
		if (o->ackby) {
			e.has_ackby = true;
			e.ackby = e.at + o->ackby;
		}
		if (o->batch_sign) {
			size_t at = (size_t)(i % o->batch);
			pend[at] = e;
			if (pl_env_batch_id(&e, prev) != 0)
				die("batch id: %s", pl_err_detail());
			memcpy(bid[at], prev, 32);
			if (at + 1 < (size_t)o->batch && i + 1 < o->count)
				continue;
			send_signed_batch(o, pend, at + 1, bid, ids);
			if (o->corrupt && i + 1 >= o->corrupt)
				break; /* --corrupt: that request was the last */
			continue;
		}
		uint8_t *buf;
		size_t len;
		if (pl_env_sign(&e, &official, &buf, &len) != 0)
			die("sign: %s", pl_err_detail());
		pl_env_id(prev, buf, len);
		if (o->corrupt == i + 1)
			buf[len - 1] ^= 0x01; /* the signature's last byte */
		char *b64 = malloc(pl_b64_len(len));
		pl_b64_encode(b64, buf, len);
		free(buf);
		if (o->batch > 0) {
			json_array_append_new(batch, json_string(b64));
			memcpy(bid[json_array_size(batch) - 1], prev, 32);
			if (o->repeat == i + 1) {
				json_array_append_new(batch, json_string(b64));
				memcpy(bid[json_array_size(batch) - 1], prev, 32);
			}
			free(b64);
			if (json_array_size(batch) < (size_t)o->batch && i + 1 < o->count)
				continue;
			send_batch(o, batch, bid, ids);
			bool stop = o->corrupt && i + 1 >= o->corrupt;
			batch = stop ? NULL : json_array();
			if (stop)
				break; /* --corrupt: that request was the last */
			continue;
		}
		st = call("POST", "/v1/envelopes", json_pack("{s:s}", "envelope", b64), &out);
		free(b64);
		if (st != 201 && st != 200)
			die("envelope %" PRIu64 " refused (HTTP %d): %s: %s", seq, st, jstr(out, "type"),
			    jstr(out, "detail"));
		char hx[65];
		hex32(hx, prev);
		if (ids) {
			fprintf(ids, "%s\n", hx);
			fflush(ids); /* acknowledged: on record even if we die next */
		}
		json_decref(out);
	}
	free(bodies);
	free(pend);
	free(bid);
	json_decref(batch);
	if (ids)
		fclose(ids);
	if (!o->corrupt && !o->repeat)
		printf("sent %ld\n", o->count);
	return 0;
}

/* Every envelope of a channel held by the node, in its acceptance order. */
static json_t *fetch_all(struct opts *o)
{
	json_t *all = json_array();
	char cursor[64] = "";
	for (int pages = 0; pages < 100000; pages++) {
		char path[512];
		snprintf(path, sizeof(path), "/v1/channels/%s/envelopes?limit=500%s%s", o->channel,
			 cursor[0] ? "&cursor=" : "", cursor);
		json_t *out = NULL;
		int st = call("GET", path, NULL, &out);
		if (st != 200)
			die("page refused (HTTP %d): %s", st, jstr(out, "detail"));
		json_array_extend(all, json_object_get(out, "items"));
		const char *next = json_string_value(json_object_get(out, "next"));
		if (!next) {
			json_decref(out);
			return all;
		}
		snprintf(cursor, sizeof(cursor), "%s", next);
		json_decref(out);
	}
	die("too many pages");
}

static int cmd_count(struct opts *o)
{
	login(o->as, o->state, o->key);
	json_t *all = fetch_all(o);
	printf("%zu\n", json_array_size(all));
	json_decref(all);
	return 0;
}

/*
 * Check exactly-once and order: every id listed in the --ids files is held
 * exactly once, no other envelope is held, and for each (author, lane) the
 * node accepted them in increasing seq.  Prints a summary line.
 */
static int cmd_check(struct opts *o)
{
	login(o->as, o->state, o->key);
	json_t *all = fetch_all(o);
	json_t *want = json_object();
	for (int f = 0; f < o->nids_in; f++) {
		FILE *fp = fopen(o->ids_in[f], "r");
		if (!fp)
			die("cannot read %s", o->ids_in[f]);
		char line[128];
		while (fgets(line, sizeof(line), fp)) {
			line[strcspn(line, "\n")] = 0;
			if (*line)
				json_object_set_new(want, line, json_integer(0));
		}
		fclose(fp);
	}
	long lost = 0, dup = 0, reordered = 0, unexpected = 0;
	json_t *lastseq = json_object();
	json_t *pos = json_object();
	size_t i;
	json_t *e;
	json_array_foreach(all, i, e)
	{
		const char *id = jstr(e, "id");
		json_t *w = json_object_get(want, id);
		if (!w)
			unexpected++;
		else {
			json_int_t n = json_integer_value(w) + 1;
			json_integer_set(w, n);
			if (n > 1)
				dup++;
		}
		json_object_set_new(pos, id, json_integer((json_int_t)i));
		char key[256];
		snprintf(key, sizeof(key), "%s@%s/%s", jstr(e, "author"), jstr(e, "state"),
			 jstr(e, "precedence"));
		json_int_t seq = json_integer_value(json_object_get(e, "seq"));
		json_t *ls = json_object_get(lastseq, key);
		if (ls && json_integer_value(ls) >= seq)
			reordered++;
		json_object_set_new(lastseq, key, json_integer(seq));
	}
	const char *k;
	json_t *v;
	json_object_foreach(want, k, v)
	{
		if (json_integer_value(v) == 0)
			lost++;
	}
	long before_fail = 0;
	if (o->before) {
		char a[65], b[65];
		if (strlen(o->before) != 129 || o->before[64] != ':')
			die("--require-before wants ID:ID");
		memcpy(a, o->before, 64);
		a[64] = 0;
		memcpy(b, o->before + 65, 64);
		b[64] = 0;
		json_t *pa = json_object_get(pos, a), *pb = json_object_get(pos, b);
		if (!pa || !pb || json_integer_value(pa) >= json_integer_value(pb))
			before_fail = 1;
		printf("order: %s at %lld, %s at %lld\n", a,
		       pa ? (long long)json_integer_value(pa) : -1LL, b,
		       pb ? (long long)json_integer_value(pb) : -1LL);
	}
	printf("check: %zu expected, %zu held, %ld lost, %ld duplicated, %ld reordered, %ld "
	       "unexpected%s\n",
	       json_object_size(want), json_array_size(all), lost, dup, reordered, unexpected,
	       before_fail ? ", ORDER REQUIREMENT FAILED" : "");
	json_decref(all);
	json_decref(want);
	json_decref(lastseq);
	json_decref(pos);
	return lost || dup || reordered || unexpected || before_fail ? 1 : 0;
}

/* On the sending node: is every listed envelope "delivered" to peer? */
static int cmd_delivered(struct opts *o)
{
	if (!o->peer || !o->nids_in)
		die("delivered needs --peer and --ids");
	login(o->as, o->state, o->key);
	long ok = 0, pending = 0;
	for (int f = 0; f < o->nids_in; f++) {
		FILE *fp = fopen(o->ids_in[f], "r");
		if (!fp)
			die("cannot read %s", o->ids_in[f]);
		char line[128];
		while (fgets(line, sizeof(line), fp)) {
			line[strcspn(line, "\n")] = 0;
			if (!*line)
				continue;
			char path[256];
			snprintf(path, sizeof(path), "/v1/envelopes/%s", line);
			json_t *out = NULL;
			int st = call("GET", path, NULL, &out);
			json_t *d = json_object_get(json_object_get(out, "delivery"), o->peer);
			if (st == 200 && !strcmp(jstr(d, "state"), "delivered"))
				ok++;
			else
				pending++;
			json_decref(out);
		}
		fclose(fp);
	}
	printf("delivered: %ld to %s, %ld not (yet)\n", ok, o->peer, pending);
	return pending ? 1 : 0;
}

static int cmd_forge(struct opts *o)
{
	if (!o->as || !o->key || !o->state || !o->channel || !o->lane || !o->mode ||
	    (!o->expect && !o->out))
		die("forge needs --as --key --state --channel --lane --mode, and --expect or "
		    "--out");
	login(o->as, o->state, o->key);
	const char *author = o->author ? o->author : o->as;
	pl_keypair signer = official;
	if (o->author_key && pl_keyfile_read(o->author_key, getenv("PARLEY_PASSPHRASE"), &signer,
					     NULL, 0) != 0)
		die("cannot read %s", o->author_key);
	char path[512];
	snprintf(path, sizeof(path), "/v1/channels/%s/next?lane=%s", o->channel,
		 pl_lane_name((pl_lane)o->lane));
	json_t *out = NULL;
	int st = call("GET", path, NULL, &out);
	if (st != 200)
		die("next refused (HTTP %d): %s", st, jstr(out, "detail"));
	uint64_t seq = (uint64_t)json_integer_value(json_object_get(out, "seq"));
	uint8_t prev[32] = {0};
	const char *p = json_string_value(json_object_get(out, "prev"));
	size_t got;
	if (p && pl_hex_decode(prev, 32, &got, p, strlen(p)) != 0)
		die("bad prev");
	json_decref(out);
	if (o->author) { /* another author's stream: start it afresh */
		seq = 1;
		memset(prev, 0, sizeof(prev));
	}
	pl_env e;
	memset(&e, 0, sizeof(e));
	snprintf(e.ch, sizeof(e.ch), "%s", o->channel);
	e.at = (int64_t)time(NULL);
	snprintf(e.state, sizeof(e.state), "%s", o->state);
	snprintf(e.author, sizeof(e.author), "%s", author);
	e.seq = seq;
	e.lane = (pl_lane)o->lane;
	snprintf(e.kind, sizeof(e.kind), "message");
	memcpy(e.prev, prev, 32);
	static const uint8_t body[] = "forged or not, this should be refused";
	e.body = body;
	e.body_len = sizeof(body) - 1;
	if (!strcmp(o->mode, "forged")) {
		if (pl_key_generate(&signer) != 0)
			die("keygen");
	} else if (!strcmp(o->mode, "replay")) {
		if (seq < 2)
			die("replay needs an envelope sent before");
		e.seq = seq - 1;
	} else if (!strcmp(o->mode, "gap")) {
		e.seq = seq + 1;
	} else if (!strcmp(o->mode, "kind")) {
		snprintf(e.kind, sizeof(e.kind), "not-allowed");
	} else if (!strcmp(o->mode, "future")) {
		e.at += 86400;
	} else if (strcmp(o->mode, "ok") != 0 && strcmp(o->mode, "other-author") != 0) {
		die("unknown mode %s", o->mode);
	}
	uint8_t *buf;
	size_t len;
	if (pl_env_sign(&e, &signer, &buf, &len) != 0)
		die("sign: %s", pl_err_detail());
	if (o->out) { /* not submitted: written for another way in */
		if (pl_file_write_atomic(o->out, buf, len, 0644, PL_FILE_REPLACE) != 0)
			die("cannot write %s: %s", o->out, pl_err_detail());
		char hx[65];
		pl_env_id(prev, buf, len);
		hex32(hx, prev);
		FILE *ids = o->ids_out ? fopen(o->ids_out, "a") : NULL;
		if (ids) {
			fprintf(ids, "%s\n", hx);
			fclose(ids);
		}
		printf("forge %s: wrote %s, seq %" PRIu64 ", id %s\n", o->mode, o->out, e.seq, hx);
		free(buf);
		return 0;
	}
	char *b64 = malloc(pl_b64_len(len));
	pl_b64_encode(b64, buf, len);
	st = call("POST", "/v1/envelopes", json_pack("{s:s}", "envelope", b64), &out);
	free(b64);
	free(buf);
	const char *type = jstr(out, "type");
	const char *slash = strrchr(type, '/');
	const char *name = slash ? slash + 1 : type;
	int ok;
	if (!strcmp(o->expect, "ok"))
		ok = st == 201 || st == 200;
	else
		ok = st == 422 && !strcmp(name, o->expect);
	printf("forge %s: HTTP %d %s%s%s\n", o->mode, st, name, *name ? ": " : "",
	       jstr(out, "detail"));
	json_decref(out);
	return ok ? 0 : 1;
}

static int cmd_get(struct opts *o)
{
	if (!o->as || !o->key || !o->state || !o->path)
		die("get needs --as --key --state --path");
	login(o->as, o->state, o->key);
	json_t *out = NULL;
	int st = call("GET", o->path, NULL, &out);
	if (st != 200)
		die("GET %s: HTTP %d: %s", o->path, st, jstr(out, "detail"));
	json_t *v = out;
	char field[256];
	snprintf(field, sizeof(field), "%s", o->field ? o->field : "");
	for (char *f = field, *dot; v && *f; f = dot ? dot + 1 : f + strlen(f)) {
		dot = strchr(f, '.');
		if (dot)
			*dot = 0;
		v = json_is_array(v) ? json_array_get(v, (size_t)strtoul(f, NULL, 10))
				     : json_object_get(v, f);
	}
	int rc = 0;
	if (!v) {
		rc = 1;
	} else if (o->out) {
		if (json_dump_file(v, o->out, JSON_INDENT(1)) != 0)
			die("cannot write %s", o->out);
	} else if (json_is_string(v)) {
		printf("%s\n", json_string_value(v));
	} else {
		char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		printf("%s\n", text ? text : "");
		free(text);
	}
	json_decref(out);
	return rc;
}

struct watch {
	const char *type;
	struct evbuffer *acc;
	char *found;
	long want, got; /* --count: print each, up to want */
};

/* Server-sent events: "event: T\ndata: D\n\n" blocks. */
static void watch_chunk(struct evhttp_request *req, void *arg)
{
	struct watch *w = arg;
	evbuffer_add_buffer(w->acc, evhttp_request_get_input_buffer(req));
	for (;;) {
		struct evbuffer_ptr end = evbuffer_search(w->acc, "\n\n", 2, NULL);
		if (end.pos < 0)
			return;
		size_t n = (size_t)end.pos + 2;
		char *block = malloc(n + 1);
		evbuffer_remove(w->acc, block, n);
		block[n] = 0;
		char type[64] = "";
		const char *ev = strstr(block, "event: "), *data = strstr(block, "data: ");
		if (ev)
			snprintf(type, sizeof(type), "%.*s", (int)strcspn(ev + 7, "\n"), ev + 7);
		if (w->want && data && !strcmp(type, w->type) && w->got < w->want) {
			printf("%.*s\n", (int)strcspn(data + 6, "\n"), data + 6);
			fflush(stdout);
			if (++w->got == w->want)
				event_base_loopbreak(base);
		} else if (!w->want && !w->found && data && !strcmp(type, w->type)) {
			size_t dl = strcspn(data + 6, "\n");
			w->found = malloc(dl + 1);
			memcpy(w->found, data + 6, dl);
			w->found[dl] = 0;
			event_base_loopbreak(base);
		}
		free(block);
	}
}

static void watch_done(struct evhttp_request *req, void *arg)
{
	(void)req;
	(void)arg;
	event_base_loopbreak(base);
}

static void watch_timeout(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	event_base_loopbreak(base);
}

static int cmd_watch(struct opts *o)
{
	if (!o->as || !o->key || !o->state || !o->name)
		die("watch needs --as --key --state --type");
	login(o->as, o->state, o->key);
	struct watch w = {o->name, evbuffer_new(), NULL, o->count > 0 ? o->count : 0, 0};
	struct evhttp_connection *sc =
	    evhttp_connection_base_new(base, NULL, host, (unsigned short)port);
	struct evhttp_request *req = evhttp_request_new(watch_done, &w);
	evhttp_request_set_chunked_cb(req, watch_chunk);
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	char auth[160];
	snprintf(auth, sizeof(auth), "Bearer %s", token);
	evhttp_add_header(h, "Host", host);
	evhttp_add_header(h, "Authorization", auth);
	if (evhttp_make_request(sc, req, EVHTTP_REQ_GET, "/v1/events") != 0)
		die("cannot follow /v1/events");
	printf("watching\n");
	fflush(stdout);
	struct timeval tv = {o->timeout ? o->timeout : 30, 0};
	struct event *t = evtimer_new(base, watch_timeout, NULL);
	evtimer_add(t, &tv);
	event_base_dispatch(base);
	event_free(t);
	evhttp_connection_free(sc);
	evbuffer_free(w.acc);
	if (w.want) {
		if (w.got < w.want)
			die("%ld of %ld %s events within %ld s", w.got, w.want, o->name,
			    o->timeout ? o->timeout : 30);
		return 0;
	}
	if (!w.found)
		die("no %s event within %ld s", o->name, o->timeout ? o->timeout : 30);
	printf("%s\n", w.found);
	free(w.found);
	return 0;
}

int main(int argc, char **argv)
{
	/* A node killed under us: fail with a message (and the --ids files
	 * flushed), not die silently of a write to its closed socket. */
	signal(SIGPIPE, SIG_IGN);
	if (argc < 2 || pl_crypto_init() != 0) {
		fprintf(stderr, "usage: pdrive wait|charter|send|check|count [options]\n");
		return 2;
	}
	struct opts o = {0};
	parse(argc, argv, &o);
	api_connect(o.api);
	int rc;
	if (!strcmp(argv[1], "wait"))
		rc = cmd_wait(&o);
	else if (!strcmp(argv[1], "charter"))
		rc = cmd_charter(&o);
	else if (!strcmp(argv[1], "send"))
		rc = cmd_send(&o);
	else if (!strcmp(argv[1], "check"))
		rc = cmd_check(&o);
	else if (!strcmp(argv[1], "count"))
		rc = cmd_count(&o);
	else if (!strcmp(argv[1], "delivered"))
		rc = cmd_delivered(&o);
	else if (!strcmp(argv[1], "forge"))
		rc = cmd_forge(&o);
	else if (!strcmp(argv[1], "get"))
		rc = cmd_get(&o);
	else if (!strcmp(argv[1], "watch"))
		rc = cmd_watch(&o);
	else
		die("unknown command %s", argv[1]);
	pl_key_wipe(&official);
	evhttp_connection_free(conn);
	event_base_free(base);
	return rc;
}
