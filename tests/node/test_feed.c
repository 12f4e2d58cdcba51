/* SPDX-License-Identifier: Apache-2.0 */
/*
 * node/feed.c: the XML escaper (every character XML 1.0 cannot carry is
 * refused, the five specials and CR are escaped), and the server itself
 * on 127.0.0.1 over a node core made by hand (stmt_fixture.h), asked with
 * libevent's HTTP client: the Atom feed lists adopted statements only,
 * the files are the bytes `parley statement publish` writes (the minisign
 * files parse and verify), HEAD works, other methods are 405 and every
 * other path, traversal attempts included, is not found.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "feed.h"
#include "parley/minisign.h"
#include "stmt_fixture.h"

/* ------------------------------------------------------------ the escaper */

static void escapes(const char *in, size_t len, const char *want)
{
	pl_buf b = {0};
	assert_int_equal(pl_buf_append_str(&b, "["), 0);
	assert_int_equal(feed_xml_escape(&b, in, len), 0);
	assert_int_equal(b.len, 1 + strlen(want));
	assert_memory_equal(b.data + 1, want, strlen(want));
	pl_buf_clear(&b);
}

static void refuses(const char *in, size_t len)
{
	pl_buf b = {0};
	assert_int_equal(pl_buf_append_str(&b, "keep"), 0);
	assert_int_equal(feed_xml_escape(&b, in, len), PL_ERR_INVALID);
	assert_int_equal(b.len, 4); /* unchanged */
	assert_memory_equal(b.data, "keep", 4);
	pl_buf_clear(&b);
}

#define S(lit) lit, sizeof(lit) - 1

static void test_escape(void **state)
{
	(void)state;
	escapes(S(""), "");
	escapes(S("plain text"), "plain text");
	escapes(S("a&b<c>d\"e'f"), "a&amp;b&lt;c&gt;d&quot;e&apos;f");
	escapes(S("&amp;"), "&amp;amp;");
	escapes(S("tab\tlf\ncr\r"), "tab\tlf\ncr&#13;");
	/* multi-byte characters pass unchanged, up to U+10FFFF */
	escapes(S("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf \xef\xbf\xbd"),
		"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf \xef\xbf\xbd");
	escapes(S("\x7f"), "\x7f"); /* DEL is a character of XML 1.0 */
	/* control characters, NUL included */
	refuses(S("a\x01"));
	refuses(S("\x1f"));
	refuses("a\0b", 3);
	refuses(S("\x0b\x0c"));
	/* not UTF-8: a lone continuation, a truncated sequence, overlong forms,
	 * surrogates, beyond U+10FFFF, bytes that never occur */
	refuses(S("\x80"));
	refuses(S("\xc3"));
	refuses(S("\xe2\x82"));
	refuses(S("\xc3("));
	refuses(S("\xc0\xaf"));
	refuses(S("\xe0\x80\xaf"));
	refuses(S("\xf0\x80\x80\xaf"));
	refuses(S("\xed\xa0\x80"));
	refuses(S("\xf4\x90\x80\x80"));
	refuses(S("\xf5\x80\x80\x80"));
	refuses(S("\xfe"));
	/* the two noncharacters XML excludes */
	refuses(S("\xef\xbf\xbe"));
	refuses(S("\xef\xbf\xbf"));
}

/* ------------------------------------------------------------ the server */

static const char text_t[] = "Joint <statement> & \"agreement\" 'now'\r\nThe crossing reopens.\n";
static const char text_c[] = "A text with a \x01 control character.\n";

struct resp {
	struct event_base *base;
	int code;
	char *body;
	size_t len;
	char ctype[128], allow[64];
};

static void resp_cb(struct evhttp_request *req, void *arg)
{
	struct resp *r = arg;
	r->code = req ? evhttp_request_get_response_code(req) : -1;
	if (req) {
		struct evkeyvalq *h = evhttp_request_get_input_headers(req);
		const char *ct = evhttp_find_header(h, "Content-Type");
		const char *al = evhttp_find_header(h, "Allow");
		snprintf(r->ctype, sizeof(r->ctype), "%s", ct ? ct : "");
		snprintf(r->allow, sizeof(r->allow), "%s", al ? al : "");
		struct evbuffer *in = evhttp_request_get_input_buffer(req);
		r->len = evbuffer_get_length(in);
		r->body = malloc(r->len + 1);
		assert_non_null(r->body);
		evbuffer_remove(in, r->body, r->len);
		r->body[r->len] = '\0';
	}
	event_base_loopbreak(r->base);
}

/* One request on a new connection; the loop runs until the answer (or the
 * connection's 5 s timeout). */
static void fetch(struct event_base *base, int port, enum evhttp_cmd_type m, const char *path,
		  struct resp *r)
{
	memset(r, 0, sizeof(*r));
	r->base = base;
	r->code = -2;
	struct evhttp_connection *c = evhttp_connection_base_new(base, NULL, "127.0.0.1", port);
	assert_non_null(c);
	evhttp_connection_set_timeout(c, 5);
	struct evhttp_request *req = evhttp_request_new(resp_cb, r);
	assert_non_null(req);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Host", "127.0.0.1");
	if (m == EVHTTP_REQ_POST || m == EVHTTP_REQ_PUT)
		evbuffer_add(evhttp_request_get_output_buffer(req), "x", 1);
	assert_int_equal(evhttp_make_request(c, req, m, path), 0);
	assert_int_not_equal(event_base_dispatch(base), -1); /* resp_cb breaks out */
	evhttp_connection_free(c);
	assert_int_not_equal(r->code, -2);
}

static void get_ok(struct event_base *base, int port, const char *path, const char *ctype,
		   struct resp *r)
{
	fetch(base, port, EVHTTP_REQ_GET, path, r);
	if (r->code != 200)
		print_error("GET %s: %d\n", path, r->code);
	assert_int_equal(r->code, 200);
	assert_string_equal(r->ctype, ctype);
}

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;
	for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

static void test_server(void **state)
{
	(void)state;
	fx *f = fx_new("feed");
	uint8_t h1[PL_HASH_BYTES];
	/* taftan: adopted at version 2; pending: a draft; ctrl: adopted, a text XML cannot carry */
	assert_int_equal(fx_draft(f, &f->fm_t, "taftan", 1, NULL, "Taftan", "first\n", h1), 0);
	assert_int_equal(fx_draft(f, &f->fm_i, "taftan", 2, h1, "Taftan & Chaman", text_t, NULL),
			 0);
	assert_int_equal(fx_sign(f, &f->fm_t, "taftan", 2, text_t, T0 + 50), 0);
	assert_int_equal(fx_sign(f, &f->fm_i, "taftan", 2, text_t, T0 + 60), 0);
	assert_int_equal(fx_draft(f, &f->fm_t, "pending", 1, NULL, "Pending", "not yet\n", NULL),
			 0);
	assert_int_equal(fx_sign(f, &f->fm_t, "pending", 1, "not yet\n", T0), 0);
	assert_int_equal(fx_draft(f, &f->fm_t, "ctrl", 1, NULL, "Control", text_c, NULL), 0);
	assert_int_equal(fx_sign(f, &f->fm_t, "ctrl", 1, text_c, T0), 0);
	assert_int_equal(fx_sign(f, &f->fm_i, "ctrl", 1, text_c, T0 + 10), 0);
	json_decref(stmt_take_events(f->n));

	struct event_base *base = event_base_new();
	assert_non_null(base);
	char err[256] = "";
	assert_null(feed_new(base, f->n, "nonsense", err, sizeof(err)));
	assert_non_null(strstr(err, "not host:port"));
	assert_null(feed_new(base, f->n, "127.0.0.1:99999", err, sizeof(err)));
	feed *fd = feed_new(base, f->n, "127.0.0.1:0", err, sizeof(err));
	assert_non_null(fd);
	int port = feed_port(fd);
	assert_true(port > 0);
	struct resp r;

	/* the feed */
	get_ok(base, port, "/feed.atom", "application/atom+xml; charset=utf-8", &r);
	assert_non_null(strstr(r.body, "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed "
				       "xmlns=\"http://www.w3.org/2005/Atom\">"));
	assert_non_null(strstr(r.body, "<id>urn:parley:feed:tehran</id>"));
	assert_non_null(strstr(r.body, "<id>urn:parley:border:taftan:2</id>"));
	assert_non_null(strstr(r.body, "<title>Taftan &amp; Chaman</title>"));
	assert_non_null(strstr(r.body, "<updated>2027-01-01T00:01:00Z</updated>"));
	assert_non_null(strstr(r.body, "<content type=\"text\">Joint &lt;statement&gt; &amp; "
				       "&quot;agreement&quot; &apos;now&apos;&#13;\nThe crossing "
				       "reopens.\n</content>"));
	assert_non_null(strstr(r.body, "href=\"/statements/border/taftan/statement.txt\""));
	assert_non_null(strstr(r.body, "href=\"/statements/border/taftan/bundle.json\""));
	assert_non_null(strstr(r.body, "href=\"/statements/border/taftan/tehran.minisig\""));
	assert_non_null(strstr(r.body, "href=\"/statements/border/taftan/islamabad.pub\""));
	assert_null(strstr(r.body, "pending"));
	/* ctrl is listed, without its text; the newest adoption comes first */
	assert_non_null(strstr(r.body, "<id>urn:parley:border:ctrl:1</id>"));
	assert_int_equal(count(r.body, "<entry>"), 2);
	assert_int_equal(count(r.body, "<content"), 1);
	assert_true(strstr(r.body, "urn:parley:border:taftan:2") <
		    strstr(r.body, "urn:parley:border:ctrl:1"));
	assert_null(memchr(r.body, '\x01', r.len));
	free(r.body);

	/* the files: the bytes of a published folder */
	get_ok(base, port, "/statements/border/taftan/statement.txt", "text/plain; charset=utf-8",
	       &r);
	assert_int_equal(r.len, strlen(text_t));
	assert_memory_equal(r.body, text_t, r.len);
	free(r.body);
	int code = 0;
	json_t *b = stmt_bundle_json(f->n, "border", "taftan", &code);
	assert_non_null(b);
	char *js = json_dumps(b, JSON_INDENT(2) | JSON_SORT_KEYS);
	json_decref(b);
	get_ok(base, port, "/statements/border/taftan/bundle.json", "application/json", &r);
	assert_int_equal(r.len, strlen(js) + 1);
	assert_memory_equal(r.body, js, strlen(js));
	assert_int_equal(r.body[r.len - 1], '\n');
	free(js);
	free(r.body);
	const fx_official *who[2] = {&f->fm_t, &f->fm_i};
	for (int i = 0; i < 2; i++) {
		char path[128];
		snprintf(path, sizeof(path), "/statements/border/taftan/%s.pub", who[i]->state);
		get_ok(base, port, path, "text/plain; charset=utf-8", &r);
		pl_minisign_pk pk;
		assert_int_equal(pl_minisign_pk_parse(r.body, r.len, &pk), 0);
		assert_memory_equal(pk.pk, who[i]->kp.pk, PL_PK_BYTES);
		free(r.body);
		snprintf(path, sizeof(path), "/statements/border/taftan/%s.minisig", who[i]->state);
		get_ok(base, port, path, "text/plain; charset=utf-8", &r);
		pl_minisign_sig sig;
		assert_int_equal(pl_minisign_sig_parse(r.body, r.len, &sig), 0);
		assert_int_equal(
		    pl_minisign_verify_sig(&pk, (const uint8_t *)text_t, strlen(text_t), &sig), 0);
		assert_int_equal(pl_minisign_verify_sig(&pk, (const uint8_t *)"other", 5, &sig),
				 PL_ERR_BAD_SIGNATURE);
		char want[200];
		snprintf(want, sizeof(want), "signature of %s (fm) on parley statement taftan v=2",
			 who[i]->state);
		assert_string_equal(sig.untrusted, want);
		assert_non_null(strstr(sig.trusted, "parley statement taftan v=2 state="));
		free(r.body);
	}

	/* HEAD: the headers without the body */
	fetch(base, port, EVHTTP_REQ_HEAD, "/feed.atom", &r);
	assert_int_equal(r.code, 200);
	assert_string_equal(r.ctype, "application/atom+xml; charset=utf-8");
	assert_int_equal(r.len, 0);
	free(r.body);

	/* any other method: 405, whatever the path */
	static const enum evhttp_cmd_type other[] = {EVHTTP_REQ_POST, EVHTTP_REQ_PUT,
						     EVHTTP_REQ_DELETE, EVHTTP_REQ_OPTIONS,
						     EVHTTP_REQ_PATCH};
	for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++) {
		fetch(base, port, other[i],
		      i % 2 ? "/feed.atom" : "/statements/border/taftan/statement.txt", &r);
		assert_int_equal(r.code, 405);
		assert_string_equal(r.allow, "GET, HEAD");
		free(r.body);
	}

	/* everything else is not there */
	static const char *const missing[] = {
	    "/",
	    "/feed.atom/",
	    "//feed.atom",
	    "/feed.xml",
	    "/v1/statements",
	    "/healthz",
	    "/statements",
	    "/statements/",
	    "/statements/border",
	    "/statements/border/taftan",
	    "/statements/border/taftan/",
	    "/statements/border/taftan/statement.txt/",
	    "/statements/border/taftan/statement.txt/x",
	    "/statements/border/taftan/other.txt",
	    "/statements/border/taftan/karachi.pub",
	    "/statements/border/taftan/tehran.key",
	    "/statements/border/taftan/tehran",
	    "/statements/border/taftan/.pub",
	    "/statements/border/pending/statement.txt",
	    "/statements/border/nosuch/bundle.json",
	    "/statements/nowhere/taftan/statement.txt",
	    "/statements/Border/taftan/statement.txt",
	    "/statements//taftan/statement.txt",
	    "/statements/border/../border/taftan/statement.txt",
	    "/statements/../../etc/passwd",
	    "/statements/border/taftan/..%2f..%2fnode.db",
	    "/statements/border/taftan/%2e%2e",
	    "/statements/border/%74aftan/statement.txt",
	    "/../node.db",
	};
	for (size_t i = 0; i < sizeof(missing) / sizeof(missing[0]); i++) {
		fetch(base, port, EVHTTP_REQ_GET, missing[i], &r);
		if (r.code != 404 && r.code != 400)
			print_error("GET %s: %d\n", missing[i], r.code);
		assert_true(r.code == 404 || r.code == 400);
		free(r.body);
	}
	feed_free(fd);
	feed_free(NULL);
	event_base_free(base);
	fx_free(f);
}

int main(void)
{
	if (pl_crypto_init() != 0)
		return 1;
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_escape),
	    cmocka_unit_test(test_server),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
