/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The public feed (feed.h): an evhttp server that answers GET and HEAD on
 * a fixed set of names and nothing else.
 *
 * Paths are never mapped onto files: a request names a channel, a
 * statement and one of four file names, each checked against Parley's
 * name rule (which admits no '/', '%' or '..' as a whole name), and the
 * bytes are made from the statement's bundle in memory.  The minisign
 * files are derived from the bundle exactly as `parley statement publish`
 * derives them (cli/stmt_bundle.c; the node cannot call the CLI), so the
 * feed and a published folder hold the same bytes.  Connections are
 * bounded by node/httpguard.h: FEED_CONNECTIONS open at once, FEED_TIMEOUT
 * seconds to send a complete request.
 *
 * Divisions: XML; the files of a statement; the Atom feed; serving; setup
 * and teardown.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include "core_int.h"
#include "feed.h"
#include "hold.h"
#include "httpguard.h"
#include "parley/err.h"
#include "parley/minisign.h"
#include "parley/statement.h"
#include "parley/time.h"
#include "stmt.h"

#define FEED_TIMEOUT     30                /* seconds per request */
#define FEED_CONNECTIONS 256               /* open at once (httpguard.h) */
#define FEED_HEADERS_MAX ((size_t)8 << 10) /* request line and headers */
#define FEED_BODY_MAX    1024              /* GET and HEAD carry none */
#define FILE_NAME_CAP    (PL_NAME_MAX + 16)
#define ITEM_MAX         ((size_t)PL_ENV_MAX * 2)

struct feed {
	node_core *n;
	struct evhttp *http;
	httpguard *guard;
	int port;
};

/* ================================================================ XML */

/* Length of the UTF-8 sequence at s (at most n bytes) that XML 1.0 admits
 * as one character, or 0. */
static size_t xml_char(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	if (c < 0x80)
		return c >= 0x20 || c == '\t' || c == '\n' || c == '\r' ? 1 : 0;
	size_t len;
	unsigned char lo = 0x80, hi = 0xbf;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		if (c == 0xe0)
			lo = 0xa0; /* no overlong forms */
		else if (c == 0xed)
			hi = 0x9f; /* no surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f; /* at most U+10FFFF */
	} else {
		return 0;
	}
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	if (len == 3 && c == 0xef && s[1] == 0xbf && (s[2] == 0xbe || s[2] == 0xbf))
		return 0; /* U+FFFE, U+FFFF */
	return len;
}

int feed_xml_escape(pl_buf *out, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	for (size_t i = 0; i < len;) {
		size_t k = xml_char(p + i, len - i);
		if (k == 0)
			return pl_err_fail(PL_ERR_INVALID,
					   "byte %zu (0x%02x) is not a character XML 1.0 can carry",
					   i, p[i]);
		i += k;
	}
	size_t before = out->len;
	int rc = 0;
	for (size_t i = 0; !rc && i < len; i++) {
		const char *ent = NULL;
		switch (s[i]) {
		case '&':
			ent = "&amp;";
			break;
		case '<':
			ent = "&lt;";
			break;
		case '>':
			ent = "&gt;";
			break;
		case '"':
			ent = "&quot;";
			break;
		case '\'':
			ent = "&apos;";
			break;
		case '\r':
			ent = "&#13;";
			break;
		default:
			break;
		}
		rc = ent ? pl_buf_append_str(out, ent) : pl_buf_append(out, s + i, 1);
	}
	if (rc)
		out->len = before;
	return rc;
}

/* ================================================================ the files of a statement */

static const char *jstr(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* Base64 member key of o into a new buffer. */
static int b64_field(const json_t *o, const char *key, uint8_t **out, size_t *len)
{
	*out = NULL;
	*len = 0;
	const char *s = jstr(o, key);
	if (!s)
		return pl_err_fail(PL_ERR_MALFORMED, "\"%s\" is missing", key);
	size_t n = strlen(s), cap = n / 4 * 3 + 3;
	if (cap > ITEM_MAX)
		return pl_err_fail(PL_ERR_LIMIT, "\"%s\" is too large", key);
	uint8_t *buf = malloc(cap);
	if (!buf)
		return PL_ERR_NOMEM;
	if (pl_b64_decode(buf, cap, len, s, n) != 0) {
		free(buf);
		return pl_err_fail(PL_ERR_MALFORMED, "\"%s\" is not base64", key);
	}
	*out = buf;
	return 0;
}

/* The bundle's entry of state, or NULL. */
static const json_t *state_entry(const json_t *b, const char *state)
{
	size_t i;
	json_t *st;
	json_array_foreach(json_object_get(b, "states"), i, st)
	{
		const char *s = jstr(st, "state");
		if (s && strcmp(s, state) == 0)
			return st;
	}
	return NULL;
}

/* S.pub: the minisign public key of the credential in entry st, opened
 * under the entry's own root (as the CLI does when publishing). */
static int pub_file(const json_t *st, const char *state, char **out, size_t *len)
{
	uint8_t *root = NULL, *cred = NULL;
	size_t rlen = 0, clen = 0;
	pl_trust *t = pl_trust_new();
	pl_cred c;
	int rc = t ? b64_field(st, "root", &root, &rlen) : PL_ERR_NOMEM;
	if (!rc && rlen != PL_PK_BYTES)
		rc = pl_err_fail(PL_ERR_MALFORMED, "\"root\" is not a 32-byte key");
	if (!rc)
		rc = pl_trust_add(t, state, root);
	if (!rc)
		rc = b64_field(st, "credential", &cred, &clen);
	if (!rc)
		rc = pl_cred_open(cred, clen, t, &c);
	if (!rc) {
		pl_minisign_pk mpk;
		pl_minisign_pk_from_key(&mpk, c.pk);
		rc = pl_minisign_pk_format(&mpk, out, len);
	}
	free(root);
	free(cred);
	pl_trust_free(t);
	return rc;
}

/* S.minisig: the signature of the entry's statement-sign envelope, with
 * the untrusted comment `parley statement publish` writes. */
static int minisig_file(const json_t *st, const char *state, char **out, size_t *len)
{
	uint8_t *raw = NULL;
	size_t rlen = 0;
	pl_env env;
	pl_stmt_sig sig;
	memset(&env, 0, sizeof(env));
	int rc = b64_field(st, "envelope", &raw, &rlen);
	if (!rc)
		rc = pl_env_parse(raw, rlen, &env);
	free(raw);
	if (!rc && strcmp(env.kind, PL_STMT_SIGN_KIND) != 0)
		rc = pl_err_fail(PL_ERR_TYPE, "the envelope is not a statement-sign");
	if (!rc)
		rc = pl_stmt_sig_decode(env.body, env.body_len, &sig);
	pl_env_clear(&env);
	if (rc)
		return rc;
	pl_minisign_sig ms;
	memset(&ms, 0, sizeof(ms));
	snprintf(ms.untrusted, sizeof(ms.untrusted),
		 "signature of %s (%s) on parley statement %s v=%" PRIu64, state,
		 jstr(st, "signer") ? jstr(st, "signer") : "?", sig.stmt, sig.v);
	memcpy(ms.blob, sig.minisig, sizeof(ms.blob));
	memcpy(ms.trusted, sig.tc, strlen(sig.tc) + 1);
	memcpy(ms.gsig, sig.gsig, sizeof(ms.gsig));
	return pl_minisign_sig_format(&ms, out, len);
}

/* The bytes of file name of bundle b into *out (malloc'd) and its
 * Content-Type: 0, PL_ERR_NOT_FOUND (no such file), or another pl_err. */
static int bundle_file(const json_t *b, const char *name, char **out, size_t *len,
		       const char **ctype)
{
	*out = NULL;
	*len = 0;
	if (strcmp(name, "statement.txt") == 0) {
		const json_t *t = json_object_get(b, "text");
		*len = json_string_length(t);
		*out = malloc(*len + 1);
		if (!*out)
			return PL_ERR_NOMEM;
		memcpy(*out, json_string_value(t), *len);
		*ctype = "text/plain; charset=utf-8";
		return 0;
	}
	if (strcmp(name, "bundle.json") == 0) {
		/* As stmt_bundle_write(): pretty, sorted keys, a final newline. */
		char *js = json_dumps(b, JSON_INDENT(2) | JSON_SORT_KEYS);
		size_t jl = js ? strlen(js) : 0;
		char *withnl = js ? realloc(js, jl + 2) : NULL;
		if (!withnl) {
			free(js);
			return PL_ERR_NOMEM;
		}
		withnl[jl] = '\n';
		withnl[jl + 1] = '\0';
		*out = withnl;
		*len = jl + 1;
		*ctype = "application/json";
		return 0;
	}
	const char *dot = strrchr(name, '.');
	char state[PL_NAME_MAX + 1];
	size_t sl = dot ? (size_t)(dot - name) : 0;
	if (!dot || sl == 0 || sl > PL_NAME_MAX)
		return PL_ERR_NOT_FOUND;
	memcpy(state, name, sl);
	state[sl] = '\0';
	const json_t *st = pl_name_is_valid(state) ? state_entry(b, state) : NULL;
	if (!st)
		return PL_ERR_NOT_FOUND;
	*ctype = "text/plain; charset=utf-8";
	if (strcmp(dot, ".minisig") == 0)
		return minisig_file(st, state, out, len);
	if (strcmp(dot, ".pub") == 0)
		return pub_file(st, state, out, len);
	return PL_ERR_NOT_FOUND;
}

/* ================================================================ the Atom feed */

#define ADD(expr)                                                                                  \
	do {                                                                                       \
		if (!rc)                                                                           \
			rc = (expr);                                                               \
	} while (0)

/* "/statements/CH/STMT/" as an attribute value (names need no escaping). */
static int href(pl_buf *o, const char *ch, const char *stmt, const char *file)
{
	return pl_buf_printf(o, "/statements/%s/%s/%s", ch, stmt, file);
}

/* One entry: a summary of stmt_adopted_json() and the adopted text. */
static int atom_entry(feed *f, pl_buf *o, const json_t *sum)
{
	const char *ch = jstr(sum, "channel"), *stmt = jstr(sum, "stmt");
	const json_t *a = json_object_get(sum, "adopted");
	json_int_t v = json_integer_value(json_object_get(a, "v"));
	const char *at = jstr(a, "at"), *th = jstr(a, "text_sha256");
	if (!ch || !stmt || !pl_name_is_valid(ch) || !pl_name_is_valid(stmt) || !at || !th)
		return 0; /* not a summary we made: leave it out */
	int code = 0;
	json_t *full = stmt_json(f->n, ch, stmt, &code);
	if (!full)
		return code >= 500 ? PL_ERR_STORE : 0;
	char key[24];
	snprintf(key, sizeof(key), "%" PRId64, (int64_t)v);
	const json_t *text = json_object_get(json_object_get(full, "texts"), key);
	const char *title = NULL;
	size_t i;
	json_t *ver;
	json_array_foreach(json_object_get(full, "versions"), i, ver)
	{
		if (json_integer_value(json_object_get(ver, "v")) == v)
			title = jstr(ver, "title");
	}
	if (!title)
		title = jstr(full, "title") ? jstr(full, "title") : stmt;
	int rc = 0;
	ADD(pl_buf_printf(o, "  <entry>\n    <id>urn:parley:%s:%s:%" PRId64 "</id>\n    <title>",
			  ch, stmt, (int64_t)v));
	if (!rc && feed_xml_escape(o, title, strlen(title)) != 0)
		ADD(pl_buf_append_str(o, "(a title XML cannot carry)"));
	ADD(pl_buf_append_str(o, "</title>\n    <updated>"));
	ADD(feed_xml_escape(o, at, strlen(at)));
	ADD(pl_buf_append_str(o, "</updated>\n    <category term=\""));
	ADD(pl_buf_append_str(o, ch));
	ADD(pl_buf_append_str(o, "\" label=\"channel\"/>\n    <link rel=\"alternate\" "
				 "type=\"text/plain\" href=\""));
	ADD(href(o, ch, stmt, "statement.txt"));
	ADD(pl_buf_append_str(o, "\"/>\n    <link rel=\"related\" type=\"application/json\" "
				 "title=\"bundle\" href=\""));
	ADD(href(o, ch, stmt, "bundle.json"));
	ADD(pl_buf_append_str(o, "\"/>\n"));
	/* the states whose signatures over the adopted text made it adopted */
	const json_t *done[PL_CHARTER_STATES_MAX] = {0};
	size_t nd = 0;
	json_t *s;
	json_array_foreach(json_object_get(full, "signatures"), i, s)
	{
		const char *st = jstr(s, "state"), *sh = jstr(s, "text_sha256");
		bool seen = false;
		for (size_t k = 0; k < nd; k++)
			seen = seen || strcmp(jstr(done[k], "state"), st ? st : "") == 0;
		if (rc || seen || !st || !pl_name_is_valid(st) || !sh || strcmp(sh, th) != 0 ||
		    nd == PL_CHARTER_STATES_MAX)
			continue;
		done[nd++] = s;
		char file[FILE_NAME_CAP];
		snprintf(file, sizeof(file), "%s.minisig", st);
		ADD(pl_buf_printf(o,
				  "    <link rel=\"related\" type=\"text/plain\" title=\"%s: "
				  "minisign signature\" href=\"",
				  st));
		ADD(href(o, ch, stmt, file));
		snprintf(file, sizeof(file), "%s.pub", st);
		ADD(pl_buf_printf(o,
				  "\"/>\n    <link rel=\"related\" type=\"text/plain\" "
				  "title=\"%s: minisign public key\" href=\"",
				  st));
		ADD(href(o, ch, stmt, file));
		ADD(pl_buf_append_str(o, "\"/>\n"));
	}
	ADD(pl_buf_printf(o,
			  "    <summary>Adopted as version %" PRId64
			  " on channel %s, text sha256 %s</summary>\n",
			  (int64_t)v, ch, th));
	if (!rc) {
		size_t mark = o->len;
		rc = pl_buf_append_str(o, "    <content type=\"text\">");
		if (!rc &&
		    (!json_is_string(text) ||
		     feed_xml_escape(o, json_string_value(text), json_string_length(text)) != 0)) {
			/* Text that XML cannot carry: statement.txt has it. */
			o->len = mark;
		} else {
			ADD(pl_buf_append_str(o, "</content>\n"));
		}
	}
	ADD(pl_buf_append_str(o, "  </entry>\n"));
	json_decref(full);
	return rc;
}

static int atom_feed(feed *f, pl_buf *o)
{
	json_t *all = stmt_adopted_json(f->n, FEED_ENTRIES_MAX);
	if (!all)
		return PL_ERR_STORE;
	const char *self = f->n->self.name;
	const char *newest = jstr(json_object_get(json_array_get(all, 0), "adopted"), "at");
	char epoch[PL_TIME_LEN];
	pl_time_format(epoch, 0);
	int rc = 0;
	ADD(pl_buf_printf(
	    o,
	    "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
	    "<feed xmlns=\"http://www.w3.org/2005/Atom\">\n"
	    "  <id>urn:parley:feed:%s</id>\n"
	    "  <title>Joint statements adopted on the channels of %s</title>\n"
	    "  <author><name>%s</name></author>\n"
	    "  <link rel=\"self\" type=\"application/atom+xml\" href=\"/feed.atom\"/>\n"
	    "  <generator>Parley</generator>\n"
	    "  <updated>",
	    self, self, self));
	ADD(feed_xml_escape(o, newest ? newest : epoch, strlen(newest ? newest : epoch)));
	ADD(pl_buf_append_str(o, "</updated>\n"));
	size_t i;
	json_t *sum;
	json_array_foreach(all, i, sum)
	{
		ADD(atom_entry(f, o, sum));
	}
	ADD(pl_buf_append_str(o, "</feed>\n"));
	json_decref(all);
	return rc;
}

/* ================================================================ serving */

static const char *status_phrase(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	default:
		return "Internal Server Error";
	}
}

/* hd: hold a page until the store synced what it shows (hold.h); NULL: send it now. */
static void reply(hold *hd, struct evhttp_request *req, int status, const char *ctype,
		  const void *body, size_t len)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	evhttp_add_header(h, "Content-Type", ctype);
	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
	evhttp_add_header(h, "Content-Security-Policy", "default-src 'none'; sandbox");
	evhttp_add_header(h, "Cache-Control", status == 200 ? "public, max-age=60" : "no-store");
	if (status == 405)
		evhttp_add_header(h, "Allow", "GET, HEAD");
	struct evbuffer *b = evbuffer_new();
	if (b && len && evbuffer_add(b, body, len) != 0) {
		evbuffer_free(b);
		b = NULL;
	}
	if (!b) {
		evhttp_send_error(req, 500, "Internal Server Error");
		return;
	}
	hold_reply(hd, req, status, status_phrase(status), b);
	evbuffer_free(b);
}

static void reply_text(struct evhttp_request *req, int status, const char *msg)
{
	reply(NULL, req, status, "text/plain; charset=utf-8", msg, strlen(msg));
}

/* "/statements/CH/STMT/FILE" into its three names; false for anything else. */
static bool split_statement_path(const char *path, char ch[PL_NAME_MAX + 1],
				 char stmt[PL_NAME_MAX + 1], char file[FILE_NAME_CAP])
{
	static const char prefix[] = "/statements/";
	if (strncmp(path, prefix, sizeof(prefix) - 1) != 0)
		return false;
	const char *p = path + sizeof(prefix) - 1;
	char *outs[3] = {ch, stmt, file};
	size_t caps[3] = {PL_NAME_MAX + 1, PL_NAME_MAX + 1, FILE_NAME_CAP};
	for (int i = 0; i < 3; i++) {
		size_t n = strcspn(p, "/");
		bool last = i == 2;
		if (n == 0 || n >= caps[i] || (last ? p[n] != '\0' : p[n] != '/'))
			return false;
		memcpy(outs[i], p, n);
		outs[i][n] = '\0';
		p += n + (last ? 0 : 1);
	}
	return pl_name_is_valid(ch) && pl_name_is_valid(stmt);
}

static void serve_feed(feed *f, struct evhttp_request *req)
{
	pl_buf o = {0};
	int rc = atom_feed(f, &o);
	if (rc)
		reply_text(req, 500, "the feed cannot be made now\n");
	else
		reply(f->n->hold, req, 200, "application/atom+xml; charset=utf-8", o.data, o.len);
	pl_buf_clear(&o);
}

static void serve_file(feed *f, struct evhttp_request *req, const char *ch, const char *stmt,
		       const char *file)
{
	int code = 0;
	json_t *b = stmt_bundle_json(f->n, ch, stmt, &code);
	if (!b) {
		/* Unknown and not (yet) adopted alike: the feed shows adopted ones only. */
		if (code == 404 || code == 409)
			reply_text(req, 404, "not found\n");
		else
			reply_text(req, 500, "the statement cannot be read now\n");
		return;
	}
	char *data = NULL;
	size_t len = 0;
	const char *ctype = "text/plain; charset=utf-8";
	int rc = bundle_file(b, file, &data, &len, &ctype);
	if (rc == PL_ERR_NOT_FOUND)
		reply_text(req, 404, "not found\n");
	else if (rc)
		reply_text(req, 500, "the statement cannot be read now\n");
	else
		reply(f->n->hold, req, 200, ctype, data, len);
	free(data);
	json_decref(b);
}

static void on_request(struct evhttp_request *req, void *arg)
{
	feed *f = arg;
	httpguard_request(f->guard, req);
	enum evhttp_cmd_type m = evhttp_request_get_command(req);
	if (m != EVHTTP_REQ_GET && m != EVHTTP_REQ_HEAD) {
		reply_text(req, 405, "only GET and HEAD\n");
		return;
	}
	const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(req);
	const char *path = u ? evhttp_uri_get_path(u) : NULL;
	char ch[PL_NAME_MAX + 1], stmt[PL_NAME_MAX + 1], file[FILE_NAME_CAP];
	if (path && strcmp(path, "/feed.atom") == 0)
		serve_feed(f, req);
	else if (path && split_statement_path(path, ch, stmt, file))
		serve_file(f, req, ch, stmt, file);
	else
		reply_text(req, 404, "not found\n");
}

/* ================================================================ setup and teardown */

feed *feed_new(struct event_base *base, node_core *n, const char *addr, char *err, size_t errlen)
{
	char host[256];
	uint16_t port = 0;
	if (!base || !n || !addr || node_addr_split(addr, host, sizeof(host), &port, true) != 0) {
		snprintf(err, errlen, "feed address \"%s\" is not host:port", addr ? addr : "");
		return NULL;
	}
	feed *f = calloc(1, sizeof(*f));
	if (f)
		f->http = evhttp_new(base);
	httpguard_config gc = {"feed", FEED_CONNECTIONS, FEED_TIMEOUT};
	if (f && f->http)
		f->guard = httpguard_new(base, f->http, &gc);
	if (!f || !f->guard) {
		snprintf(err, errlen, "out of memory");
		feed_free(f);
		return NULL;
	}
	f->n = n;
	evhttp_set_timeout(f->http, FEED_TIMEOUT);
	evhttp_set_max_headers_size(f->http, (ev_ssize_t)FEED_HEADERS_MAX);
	evhttp_set_max_body_size(f->http, (ev_ssize_t)FEED_BODY_MAX);
	/* Every method reaches on_request, which answers 405 itself. */
	evhttp_set_allowed_methods(f->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
						EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
						EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH |
						EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT);
	evhttp_set_gencb(f->http, on_request, f);
	errno = 0;
	struct evhttp_bound_socket *bs =
	    evhttp_bind_socket_with_handle(f->http, host, (ev_uint16_t)port);
	if (!bs) {
		snprintf(err, errlen, "cannot listen on %s for the feed: %s", addr,
			 errno ? strerror(errno) : "address not usable");
		feed_free(f);
		return NULL;
	}
	httpguard_watch(f->guard, bs);
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	if (getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&ss, &sl) == 0) {
		if (ss.ss_family == AF_INET)
			f->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
		else if (ss.ss_family == AF_INET6)
			f->port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	}
	return f;
}

int feed_port(const feed *f)
{
	return f ? f->port : 0;
}

void feed_free(feed *f)
{
	if (!f)
		return;
	if (f->http)
		evhttp_free(f->http);
	httpguard_free(f->guard);
	free(f);
}
