/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The CLI's client of the node API (http.h) on libcurl easy handles.
 * Requests are plain: one JSON body out, one JSON answer in, at most
 * ANSWER_MAX bytes.  The event stream is parsed here as the HTML Living
 * Standard describes server-sent events (fields "event" and "data",
 * comments, blank line ends an event); ids and retry hints are ignored
 * because the node sends none.
 *
 * Divisions: buffers and text; problems; requests; the official and
 * authentication; events; opening and closing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <curl/curl.h>

#include "http.h"
#include "parley/err.h"

#define URL_MAX            1024
#define ANSWER_MAX         ((size_t)64 << 20) /* largest JSON answer accepted */
#define EVENT_MAX          ((size_t)16 << 20) /* largest event: an envelope with a 1 MiB body */
#define CONNECT_TIMEOUT_MS 5000L
#define REQUEST_TIMEOUT_MS 60000L
#define TOKEN_MAX          128

struct cli_node {
	CURL *curl;
	char base[URL_MAX]; /* the URL without trailing slashes */
	char node[PL_NAME_MAX + 1];
	char state[PL_NAME_MAX + 1];
	char id[PL_NAME_MAX + 1];
	char auth[TOKEN_MAX + 32]; /* "Authorization: Bearer <token>", or "" */
	pl_keypair kp;
	bool have_kp;
	char err[CURL_ERROR_SIZE];
};

/* ---------------------------------------------------------------- buffers and text */

typedef struct buf {
	char *p; /* NUL-terminated when not NULL */
	size_t len, cap, max;
	bool over; /* an append would have passed max (or memory ran out) */
} buf;

static bool buf_add(buf *b, const char *p, size_t n)
{
	if (n > b->max - b->len) {
		b->over = true;
		return false;
	}
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 1024;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *q = realloc(b->p, cap);
		if (!q) {
			b->over = true;
			return false;
		}
		b->p = q;
		b->cap = cap;
	}
	if (n)
		memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = '\0';
	return true;
}

static void buf_free(buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

static size_t buf_write(char *p, size_t size, size_t nmemb, void *ud)
{
	size_t n = size * nmemb;
	return buf_add(ud, p, n) ? n : 0;
}

void cli_text_clean(char *s, bool multiline)
{
	for (unsigned char *p = (unsigned char *)s; *p; p++) {
		if (multiline && (*p == '\n' || *p == '\t'))
			continue;
		if (*p < 0x20 || *p == 0x7f) {
			*p = '?';
		} else if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
			p[0] = '?';
			p[1] = '?';
			p++;
		}
	}
}

void cli_text_copy(char *out, size_t cap, const char *s, bool multiline)
{
	size_t n = s ? strlen(s) : 0;
	if (n >= cap) {
		n = cap - 1;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--; /* s[n] would be the first byte cut: keep whole characters */
	}
	if (n)
		memcpy(out, s, n);
	out[n] = '\0';
	cli_text_clean(out, multiline);
}

const char *cli_json_str(const json_t *o, const char *key, const char *dflt)
{
	const char *v = json_string_value(json_object_get(o, key));
	return v ? v : dflt;
}

/* ---------------------------------------------------------------- problems */

static int exit_for_status(long status)
{
	switch (status) {
	case 400:
	case 413:
		return CLI_EXIT_USAGE;
	case 401:
	case 403:
	case 422:
		return CLI_EXIT_REFUSED;
	case 404:
		return CLI_EXIT_NOTFOUND;
	default:
		return CLI_EXIT_FAIL;
	}
}

/* Fill pb from an error answer: an RFC 9457 problem, or anything else. */
static void problem_from(cli_problem *pb, long status, const buf *b)
{
	memset(pb, 0, sizeof(*pb));
	pb->status = status;
	snprintf(pb->type, sizeof(pb->type), "http-%ld", status);
	json_t *j = b->len ? json_loadb(b->p, b->len, 0, NULL) : NULL;
	if (json_is_object(j)) {
		const char *t = json_string_value(json_object_get(j, "type"));
		const char *d = json_string_value(json_object_get(j, "detail"));
		if (t) {
			const char *slash = strrchr(t, '/');
			t = slash ? slash + 1 : t;
			if (*t)
				snprintf(pb->type, sizeof(pb->type), "%s", t);
		}
		if (d)
			snprintf(pb->detail, sizeof(pb->detail), "%s", d);
	} else {
		snprintf(pb->detail, sizeof(pb->detail), "HTTP status %ld", status);
	}
	json_decref(j);
	cli_text_clean(pb->type, false);
	cli_text_clean(pb->detail, false);
}

int cli_node_report(const cli_problem *pb, const char *what)
{
	int code = exit_for_status(pb->status);
	if (pb->detail[0])
		return cli_fail(code, "%s: %s: %s", what, pb->type, pb->detail);
	return cli_fail(code, "%s: %s", what, pb->type);
}

static int unreachable(const cli_node *n, CURLcode cc)
{
	return cli_fail(CLI_EXIT_FAIL,
			"cannot reach the node at %s: %s (is parleyd running? check --node or "
			"PARLEY_NODE)",
			n->base, n->err[0] ? n->err : curl_easy_strerror(cc));
}

/* ---------------------------------------------------------------- requests */

static void set_common(cli_node *n, const char *url)
{
	curl_easy_reset(n->curl);
	n->err[0] = '\0';
	curl_easy_setopt(n->curl, CURLOPT_URL, url);
	curl_easy_setopt(n->curl, CURLOPT_PROXY, ""); /* the API is local: never a proxy */
	curl_easy_setopt(n->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(n->curl, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(n->curl, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS);
	curl_easy_setopt(n->curl, CURLOPT_ERRORBUFFER, n->err);
	curl_easy_setopt(n->curl, CURLOPT_USERAGENT, "parley-cli");
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(n->curl, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(n->curl, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
}

/* Headers for a request; NULL when out of memory. */
static struct curl_slist *headers(const cli_node *n, bool json_body, const char *accept)
{
	struct curl_slist *h = curl_slist_append(NULL, accept);
	struct curl_slist *t = h;
	if (t && json_body) {
		t = curl_slist_append(h, "Content-Type: application/json");
		if (t)
			t = curl_slist_append(h, "Expect:"); /* no 100-continue round trip */
	}
	if (t && n->auth[0])
		t = curl_slist_append(h, n->auth);
	if (!t) {
		curl_slist_free_all(h);
		return NULL;
	}
	return h;
}

static int url_for(const cli_node *n, const char *path, char *url, size_t cap)
{
	int k = snprintf(url, cap, "%s%s", n->base, path);
	if (k < 0 || (size_t)k >= cap)
		return cli_fail(CLI_EXIT_USAGE, "URL too long: %s%s", n->base, path);
	return 0;
}

/* Perform one request; the answer goes to ans.  0, or an exit code (reported). */
static int perform(cli_node *n, const char *method, const char *path, const char *body, buf *ans,
		   long *status)
{
	char url[URL_MAX + 512];
	int rc = url_for(n, path, url, sizeof(url));
	if (rc)
		return rc;
	struct curl_slist *h =
	    headers(n, body != NULL, "Accept: application/json, application/problem+json");
	if (!h)
		return cli_fail(CLI_EXIT_FAIL, "out of memory");
	set_common(n, url);
	curl_easy_setopt(n->curl, CURLOPT_TIMEOUT_MS, REQUEST_TIMEOUT_MS);
	curl_easy_setopt(n->curl, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(n->curl, CURLOPT_WRITEFUNCTION, buf_write);
	curl_easy_setopt(n->curl, CURLOPT_WRITEDATA, ans);
	if (strcmp(method, "POST") == 0) {
		curl_easy_setopt(n->curl, CURLOPT_POSTFIELDS, body ? body : "");
		curl_easy_setopt(n->curl, CURLOPT_POSTFIELDSIZE_LARGE,
				 (curl_off_t)(body ? strlen(body) : 0));
	} else {
		curl_easy_setopt(n->curl, CURLOPT_HTTPGET, 1L);
	}
	CURLcode cc = curl_easy_perform(n->curl);
	curl_easy_setopt(n->curl, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(h);
	if (cc == CURLE_WRITE_ERROR && ans->over)
		return cli_fail(CLI_EXIT_FAIL, "the node's answer to %s %s is over %zu MiB", method,
				path, ans->max >> 20);
	if (cc != CURLE_OK)
		return unreachable(n, cc);
	*status = 0;
	curl_easy_getinfo(n->curl, CURLINFO_RESPONSE_CODE, status);
	return 0;
}

int cli_node_call(cli_node *n, const char *method, const char *path, const json_t *body,
		  const char *what, json_t **out, cli_problem *pb)
{
	cli_problem local;
	cli_problem *p = pb ? pb : &local;
	memset(p, 0, sizeof(*p));
	if (out)
		*out = NULL;
	char *text = NULL;
	if (body) {
		text = json_dumps(body, JSON_COMPACT);
		if (!text)
			return cli_fail(CLI_EXIT_FAIL, "out of memory");
	}
	buf ans = {.max = ANSWER_MAX};
	long status = 0;
	int rc = perform(n, method, path, text, &ans, &status);
	free(text);
	if (rc) {
		buf_free(&ans);
		return rc;
	}
	if (status >= 200 && status < 300) {
		if (out) {
			json_error_t e;
			*out = ans.len ? json_loadb(ans.p, ans.len, 0, &e) : NULL;
			if (!*out) {
				buf_free(&ans);
				return cli_fail(CLI_EXIT_FAIL, "%s: the node's answer is not JSON",
						what);
			}
		}
		buf_free(&ans);
		return 0;
	}
	problem_from(p, status, &ans);
	buf_free(&ans);
	return pb ? exit_for_status(status) : cli_node_report(p, what);
}

/* ---------------------------------------------------------------- the official and authentication
 */

/* The official's state: the home folder's if there is one, else --state. */
static int resolve_state(cli_ctx *ctx, char out[PL_NAME_MAX + 1])
{
	char db[4096];
	int rc = cli_path(db, sizeof(db), ctx, "state.db");
	if (rc)
		return rc;
	struct stat st;
	const char *name = NULL;
	if (stat(db, &st) == 0) {
		rc = cli_open_home(ctx);
		if (rc)
			return rc;
		name = ctx->self.name;
		if (ctx->state_name && strcmp(ctx->state_name, name) != 0)
			return cli_fail(CLI_EXIT_USAGE,
					"--state (or PARLEY_STATE) says %s but the home folder %s "
					"holds state %s",
					ctx->state_name, ctx->home, name);
	} else if (ctx->state_name) {
		name = ctx->state_name;
		if (!pl_name_is_valid(name))
			return cli_fail(CLI_EXIT_USAGE, "--state '%s' is not a valid state name",
					name);
	} else {
		return cli_fail(CLI_EXIT_USAGE,
				"whose official are you? give --state NAME (or set PARLEY_STATE), "
				"or --home with the state's folder");
	}
	memcpy(out, name, strlen(name) + 1);
	return 0;
}

/* Unseal the official's key file (asks for its passphrase). */
static int load_key(cli_ctx *ctx, pl_keypair *kp)
{
	const char *path = ctx->key_file;
	bool sealed = true;
	int rc = pl_keyfile_is_sealed(path, &sealed);
	if (rc)
		return cli_fail(cli_exit_for(rc), "key %s: %s", path,
				*pl_err_detail() ? pl_err_detail() : pl_strerror(rc));
	char pass[256] = "";
	if (sealed) {
		char prompt[512];
		snprintf(prompt, sizeof(prompt), "Passphrase of %s: ", path);
		rc = cli_passphrase(ctx, prompt, false, pass, sizeof(pass));
		if (rc)
			return rc;
	}
	rc = pl_keyfile_read(path, sealed ? pass : NULL, kp, NULL, 0);
	pl_wipe(pass, sizeof(pass));
	if (rc == PL_ERR_PASSPHRASE)
		return cli_fail(CLI_EXIT_REFUSED, "key %s: wrong passphrase", path);
	if (rc)
		return cli_err(rc, path);
	return 0;
}

static bool token_ok(const char *t)
{
	size_t n = t ? strlen(t) : 0;
	if (n == 0 || n > TOKEN_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = t[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || c == '.' || c == '~' || c == '+' || c == '/' ||
		      c == '='))
			return false;
	}
	return true;
}

/* Challenge, signature, token (docs/api.md, "Authentication"). */
static int authenticate(cli_node *n, const pl_keypair *kp)
{
	char what[256];
	snprintf(what, sizeof(what), "authentication as %s@%s at node %s", n->id, n->state,
		 n->node);
	cli_problem pb = {0};
	json_t *req = json_pack("{s:s,s:s}", "state", n->state, "id", n->id);
	json_t *ans = NULL;
	int rc = req ? cli_node_call(n, "POST", "/v1/auth/challenge", req, what, &ans, &pb)
		     : cli_fail(CLI_EXIT_FAIL, "out of memory");
	json_decref(req);
	if (rc) {
		if (pb.status == 0)
			return rc;
		if (pb.status == 401)
			return cli_fail(rc,
					"%s: %s: %s (is %s an active official of %s, in the "
					"registry this node reads?)",
					what, pb.type, pb.detail, n->id, n->state);
		return cli_node_report(&pb, what);
	}
	const char *chal = json_string_value(json_object_get(ans, "challenge"));
	char msg[512];
	int m = chal && strlen(chal) <= 64
		    ? snprintf(msg, sizeof(msg), "parley-api-auth-v1\n%s\n%s@%s\n%s\n", chal, n->id,
			       n->state, n->node)
		    : -1;
	uint8_t sig[PL_SIG_BYTES];
	if (m < 0 || (size_t)m >= sizeof(msg) ||
	    pl_sign(sig, (const uint8_t *)msg, (size_t)m, kp)) {
		json_decref(ans);
		return cli_fail(CLI_EXIT_FAIL, "%s: the node's challenge is malformed", what);
	}
	char sig64[128];
	pl_b64_encode(sig64, sig, sizeof(sig));
	req = json_pack("{s:s,s:s,s:s,s:s}", "state", n->state, "id", n->id, "challenge", chal,
			"signature", sig64);
	json_decref(ans);
	ans = NULL;
	rc = req ? cli_node_call(n, "POST", "/v1/auth/token", req, what, &ans, &pb)
		 : cli_fail(CLI_EXIT_FAIL, "out of memory");
	json_decref(req);
	if (rc) {
		if (pb.status == 401 && strstr(pb.detail, "signature"))
			return cli_fail(rc, "%s: %s: %s (is --key the key of official %s?)", what,
					pb.type, pb.detail, n->id);
		return pb.status ? cli_node_report(&pb, what) : rc;
	}
	const char *token = json_string_value(json_object_get(ans, "token"));
	if (!token_ok(token)) {
		json_decref(ans);
		return cli_fail(CLI_EXIT_FAIL, "%s: the node's token is malformed", what);
	}
	snprintf(n->auth, sizeof(n->auth), "Authorization: Bearer %s", token);
	json_decref(ans);
	return 0;
}

/* ---------------------------------------------------------------- events */

typedef struct sse {
	cli_node *n;
	cli_event_fn fn;
	void *arg;
	bool started, stopped, cr;
	long status;
	buf line, data, err;
	char type[PL_NAME_MAX + 1];
} sse;

/* One complete line of the stream (in s->line). */
static void sse_line(sse *s)
{
	const char *l = s->line.p ? s->line.p : "";
	size_t n = s->line.len;
	if (n == 0) { /* end of an event */
		if (s->data.len) {
			s->data.p[--s->data.len] = '\0'; /* the last data line's '\n' */
			if (s->fn(s->arg, s->type[0] ? s->type : "message", s->data.p))
				s->stopped = true;
		}
		s->data.len = 0;
		s->type[0] = '\0';
		return;
	}
	if (l[0] == ':')
		return; /* a comment: the greeting, keepalives */
	const char *colon = memchr(l, ':', n);
	size_t flen = colon ? (size_t)(colon - l) : n;
	const char *v = colon ? colon + 1 : l + n;
	if (*v == ' ')
		v++;
	size_t vlen = (size_t)(l + n - v);
	if (flen == 5 && memcmp(l, "event", 5) == 0) {
		size_t k = vlen < sizeof(s->type) - 1 ? vlen : sizeof(s->type) - 1;
		memcpy(s->type, v, k);
		s->type[k] = '\0';
	} else if (flen == 4 && memcmp(l, "data", 4) == 0) {
		if (!buf_add(&s->data, v, vlen))
			return;
		buf_add(&s->data, "\n", 1);
	}
}

static size_t sse_write(char *p, size_t size, size_t nmemb, void *ud)
{
	sse *s = ud;
	size_t n = size * nmemb;
	if (!s->started) {
		s->started = true;
		curl_easy_getinfo(s->n->curl, CURLINFO_RESPONSE_CODE, &s->status);
		if (s->status == 200 && s->fn(s->arg, NULL, NULL)) {
			s->stopped = true;
			return 0;
		}
	}
	if (s->status != 200)
		return buf_add(&s->err, p, n) ? n : 0;
	size_t i = 0;
	while (i < n) {
		if (s->cr) { /* "\r\n" is one line break */
			s->cr = false;
			if (p[i] == '\n') {
				i++;
				continue;
			}
		}
		size_t k = i;
		while (k < n && p[k] != '\n' && p[k] != '\r')
			k++;
		if (!buf_add(&s->line, p + i, k - i))
			return 0;
		if (k == n)
			break;
		s->cr = p[k] == '\r';
		i = k + 1;
		sse_line(s);
		s->line.len = 0;
		if (s->stopped || s->line.over || s->data.over)
			return 0;
	}
	return n;
}

int cli_node_events(cli_node *n, const char *path, long timeout_ms, cli_event_fn fn, void *arg,
		    bool *timed_out)
{
	*timed_out = false;
	char url[URL_MAX + 64];
	int rc = url_for(n, path, url, sizeof(url));
	if (rc)
		return rc;
	struct curl_slist *h = headers(n, false, "Accept: text/event-stream");
	if (!h)
		return cli_fail(CLI_EXIT_FAIL, "out of memory");
	sse s = {.n = n, .fn = fn, .arg = arg};
	s.line.max = EVENT_MAX;
	s.data.max = EVENT_MAX;
	s.err.max = 64 * 1024;
	set_common(n, url);
	curl_easy_setopt(n->curl, CURLOPT_TIMEOUT_MS, timeout_ms > 0 ? timeout_ms : 0L);
	curl_easy_setopt(n->curl, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(n->curl, CURLOPT_HTTPGET, 1L);
	curl_easy_setopt(n->curl, CURLOPT_WRITEFUNCTION, sse_write);
	curl_easy_setopt(n->curl, CURLOPT_WRITEDATA, &s);
	CURLcode cc = curl_easy_perform(n->curl);
	curl_easy_setopt(n->curl, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(h);
	if (!s.started && cc == CURLE_OK) /* an answer without a body */
		curl_easy_getinfo(n->curl, CURLINFO_RESPONSE_CODE, &s.status);
	if (s.stopped) {
		rc = 0;
	} else if (s.line.over || s.data.over) {
		rc = cli_fail(CLI_EXIT_FAIL, "an event from the node is over %zu MiB",
			      EVENT_MAX >> 20);
	} else if (s.status && s.status != 200) {
		cli_problem pb;
		problem_from(&pb, s.status, &s.err);
		rc = cli_node_report(&pb, "the event stream");
	} else if (cc == CURLE_OPERATION_TIMEDOUT && s.started) {
		*timed_out = true;
		rc = 0;
	} else if (cc == CURLE_OK || s.started) {
		rc = cli_fail(CLI_EXIT_FAIL, "the node %s closed the event stream%s%s", n->node,
			      cc == CURLE_OK ? "" : ": ",
			      cc == CURLE_OK ? "" : curl_easy_strerror(cc));
	} else {
		rc = unreachable(n, cc);
	}
	buf_free(&s.line);
	buf_free(&s.data);
	buf_free(&s.err);
	return rc;
}

/* ---------------------------------------------------------------- opening and closing */

int cli_node_open(cli_ctx *ctx, unsigned flags, cli_node **out)
{
	*out = NULL;
	const char *u = ctx->node_url;
	if (strncmp(u, "http://", 7) != 0 && strncmp(u, "https://", 8) != 0)
		return cli_fail(CLI_EXIT_USAGE,
				"--node must be an http:// or https:// URL, not '%s'", u);
	size_t ulen = strlen(u);
	while (ulen > 8 && u[ulen - 1] == '/')
		ulen--;
	if (ulen >= URL_MAX)
		return cli_fail(CLI_EXIT_USAGE, "--node URL is too long");
	cli_node *n = calloc(1, sizeof(*n));
	if (!n)
		return cli_fail(CLI_EXIT_FAIL, "out of memory");
	memcpy(n->base, u, ulen);
	n->base[ulen] = '\0';
	int rc = 0;
	if (flags & CLI_NODE_AUTH) {
		/* Usage errors before any connection. */
		if (!ctx->as_id)
			rc = cli_fail(CLI_EXIT_USAGE,
				      "which official are you? give --as ID (or set PARLEY_AS)");
		else if (!pl_name_is_valid(ctx->as_id))
			rc = cli_fail(CLI_EXIT_USAGE, "--as '%s' is not a valid credential id",
				      ctx->as_id);
		else if (!ctx->key_file)
			rc = cli_fail(CLI_EXIT_USAGE,
				      "which key? give --key FILE, the official's own key file (or "
				      "set PARLEY_KEY)");
		if (!rc)
			rc = resolve_state(ctx, n->state);
		if (!rc)
			memcpy(n->id, ctx->as_id, strlen(ctx->as_id) + 1);
	}
	static bool curl_ready;
	if (!rc && !curl_ready) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
			rc = cli_fail(CLI_EXIT_FAIL, "cannot initialise libcurl");
		curl_ready = rc == 0;
		if (curl_ready && atexit(curl_global_cleanup) != 0) {
			/* not cleaned up at exit: harmless */
		}
	}
	if (!rc) {
		n->curl = curl_easy_init();
		if (!n->curl)
			rc = cli_fail(CLI_EXIT_FAIL, "cannot initialise libcurl");
	}
	json_t *h = NULL;
	if (!rc)
		rc =
		    cli_node_call(n, "GET", "/healthz", NULL, "asking the node its name", &h, NULL);
	if (!rc) {
		const char *name = json_string_value(json_object_get(h, "node"));
		if (!name || !pl_name_is_valid(name))
			rc = cli_fail(
			    CLI_EXIT_FAIL,
			    "%s does not answer like a Parley node (/healthz has no node name)",
			    n->base);
		else
			memcpy(n->node, name, strlen(name) + 1);
	}
	json_decref(h);
	if (!rc && (flags & CLI_NODE_AUTH)) {
		rc = load_key(ctx, &n->kp);
		if (!rc) {
			n->have_kp = true;
			rc = authenticate(n, &n->kp);
		}
		if (!(flags & CLI_NODE_KEEP_KEY)) {
			pl_key_wipe(&n->kp);
			n->have_kp = false;
		}
	}
	if (rc) {
		cli_node_free(n);
		return rc;
	}
	*out = n;
	return 0;
}

void cli_node_free(cli_node *n)
{
	if (!n)
		return;
	if (n->curl)
		curl_easy_cleanup(n->curl);
	pl_key_wipe(&n->kp);
	pl_wipe(n->auth, sizeof(n->auth));
	free(n);
}

const char *cli_node_name(const cli_node *n)
{
	return n->node;
}

const char *cli_node_official(const cli_node *n)
{
	return n->id;
}

const char *cli_node_state(const cli_node *n)
{
	return n->state;
}

const pl_keypair *cli_node_key(const cli_node *n)
{
	return n->have_kp ? &n->kp : NULL;
}
