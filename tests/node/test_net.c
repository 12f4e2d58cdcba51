/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests of node/tls.c and node/net.c with real TLS on 127.0.0.1, ports
 * chosen by the OS, two nets in one event loop.
 *
 * Every wait is run_until(): the loop runs until a condition on recorded
 * state holds or a deadline passes, and the test then asserts on the
 * state — never on how long anything took.  Misbehaving clients (TLS 1.2
 * only, wrong key type, no certificate, plain TCP garbage, silence) are
 * raw OpenSSL or plain sockets driven by the same loop.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "parley/crypto.h"
#include "parley/err.h"

#include "log.h"
#include "net.h"
#include "tls.h"

/* Upper bound of any single wait; tests normally finish far sooner. */
#define WAIT_MS 4000

/* ------------------------------------------------------------ fixture */

typedef struct fixture {
	struct event_base *base;
	node_tls *tls_a, *tls_b;
	FILE *log;
} fixture;

static int setup(void **state)
{
	if (pl_crypto_init() != 0)
		return -1;
	fixture *f = calloc(1, sizeof(*f));
	if (!f)
		return -1;
	f->base = event_base_new();
	pl_keypair ka, kb;
	uint8_t seed[PL_SEED_BYTES];
	memset(seed, 0x11, sizeof(seed));
	if (pl_key_from_seed(&ka, seed) != 0)
		return -1;
	memset(seed, 0x22, sizeof(seed));
	if (pl_key_from_seed(&kb, seed) != 0)
		return -1;
	if (!f->base || tls_new(&f->tls_a, &ka, "tehran-1") != 0 ||
	    tls_new(&f->tls_b, &kb, "islamabad-1") != 0)
		return -1;
	pl_key_wipe(&ka);
	pl_key_wipe(&kb);
	f->log = tmpfile();
	if (!f->log)
		return -1;
	node_log_init(NODE_LOG_DEBUG, "test");
	node_log_set_stream(f->log);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;
	node_log_set_stream(NULL);
	fclose(f->log);
	tls_free(f->tls_a);
	tls_free(f->tls_b);
	event_base_free(f->base);
	free(f);
	return 0;
}

/* Everything logged so far (malloc'd, NUL-terminated). */
static char *log_text(fixture *f)
{
	fflush(f->log);
	long end = ftell(f->log);
	assert_true(end >= 0);
	char *s = malloc((size_t)end + 1);
	assert_non_null(s);
	rewind(f->log);
	size_t n = fread(s, 1, (size_t)end, f->log);
	s[n] = '\0';
	fseek(f->log, 0, SEEK_END);
	return s;
}

/* ------------------------------------------------------------ run_until */

typedef bool (*cond_fn)(void *arg);

typedef struct waiter {
	struct event_base *base;
	cond_fn fn;
	void *arg;
} waiter;

static void poll_cb(evutil_socket_t fd, short what, void *arg)
{
	waiter *w = arg;
	(void)fd;
	(void)what;
	if (w->fn(w->arg))
		event_base_loopbreak(w->base);
}

static void deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	event_base_loopbreak(arg);
}

/* Run the loop until fn(arg) holds or max_ms pass; returns fn(arg). */
static bool run_until(struct event_base *base, cond_fn fn, void *arg, int max_ms)
{
	if (fn(arg))
		return true;
	waiter w = {base, fn, arg};
	struct event *poll = event_new(base, -1, EV_PERSIST, poll_cb, &w);
	struct event *dl = evtimer_new(base, deadline_cb, base);
	assert_non_null(poll);
	assert_non_null(dl);
	struct timeval tick = {0, 2000};
	struct timeval limit = {max_ms / 1000, (max_ms % 1000) * 1000};
	event_add(poll, &tick);
	evtimer_add(dl, &limit);
	event_base_dispatch(base);
	event_free(poll);
	event_free(dl);
	return fn(arg);
}

static bool never(void *arg)
{
	(void)arg;
	return false;
}

/* ------------------------------------------------------------ one side */

typedef struct side {
	net *n;
	int opens, closes, writables;
	net_conn *conn;
	uint8_t peer_pk[PL_PK_BYTES];
	bool outbound;
	bool peer_null;
	char peer[64];
	uint8_t *rx;
	size_t rxlen, rxcap;
	char last_close[256];
	bool close_on_data;
	bool pause_on_open;
	bool user_ok;
} side;

static void cb_open(void *ctx, net_conn *c, const uint8_t pk[PL_PK_BYTES], bool outbound,
		    const char *peer)
{
	side *s = ctx;
	s->opens++;
	s->conn = c;
	memcpy(s->peer_pk, pk, PL_PK_BYTES);
	s->outbound = outbound;
	s->peer_null = peer == NULL;
	snprintf(s->peer, sizeof(s->peer), "%s", peer ? peer : "");
	net_conn_set_user(c, s);
	if (s->pause_on_open)
		net_set_reading(c, false);
}

static void cb_data(void *ctx, net_conn *c, const uint8_t *p, size_t n)
{
	side *s = ctx;
	s->user_ok = net_conn_user(c) == s;
	if (s->rxlen + n > s->rxcap) {
		size_t cap = s->rxcap ? s->rxcap : 4096;
		while (cap < s->rxlen + n)
			cap *= 2;
		uint8_t *np = realloc(s->rx, cap);
		assert_non_null(np);
		s->rx = np;
		s->rxcap = cap;
	}
	memcpy(s->rx + s->rxlen, p, n);
	s->rxlen += n;
	if (s->close_on_data) {
		net_close(c, "bye from on_data");
		net_close(c, "second close is a no-op");
	}
}

static void cb_writable(void *ctx, net_conn *c)
{
	side *s = ctx;
	(void)c;
	s->writables++;
}

static void cb_close(void *ctx, net_conn *c, const char *reason)
{
	side *s = ctx;
	s->closes++;
	snprintf(s->last_close, sizeof(s->last_close), "%s", reason);
	if (s->conn == c)
		s->conn = NULL;
}

static const net_callbacks callbacks = {cb_open, cb_data, cb_writable, cb_close};

static void test_params(net_params *p)
{
	net_params_default(p);
	p->backoff_min_ms = 20;
	p->backoff_max_ms = 200;
	p->handshake_timeout_ms = 3000;
}

static void side_free(side *s)
{
	net_free(s->n);
	s->n = NULL;
	free(s->rx);
	s->rx = NULL;
}

static void addr_of(char *out, size_t cap, uint16_t port)
{
	snprintf(out, cap, "127.0.0.1:%u", (unsigned)port);
}

/* Conditions */
typedef struct pair {
	side *a, *b;
	size_t want;
	int opens;
} pair;

static bool both_open(void *arg)
{
	pair *p = arg;
	return p->a->opens >= p->opens && p->b->opens >= p->opens;
}

static bool both_received(void *arg)
{
	pair *p = arg;
	return p->a->rxlen >= p->want && p->b->rxlen >= p->want;
}

static bool both_closed(void *arg)
{
	pair *p = arg;
	return p->a->closes >= 1 && p->b->closes >= 1;
}

static void fill_pattern(uint8_t *buf, size_t n, uint32_t seed)
{
	uint32_t x = seed;
	for (size_t i = 0; i < n; i++) {
		x = x * 1664525u + 1013904223u;
		buf[i] = (uint8_t)(x >> 24);
	}
}

/* ------------------------------------------------------------ backoff (pure) */

static void test_backoff(void **state)
{
	(void)state;
	assert_int_equal(net_backoff_ceiling(200, 60000, 0), 0);
	assert_int_equal(net_backoff_ceiling(200, 60000, 1), 200);
	assert_int_equal(net_backoff_ceiling(200, 60000, 2), 400);
	assert_int_equal(net_backoff_ceiling(200, 60000, 3), 800);
	assert_int_equal(net_backoff_ceiling(200, 60000, 9), 51200);
	assert_int_equal(net_backoff_ceiling(200, 60000, 10), 60000); /* 102400 capped */
	assert_int_equal(net_backoff_ceiling(200, 60000, 1000000), 60000);
	assert_int_equal(net_backoff_ceiling(200, 60000, UINT32_MAX), 60000);
	assert_int_equal(net_backoff_ceiling(3000000000u, 4000000000u, 2), 4000000000u);
	assert_int_equal(net_backoff_ceiling(500, 500, 7), 500);
	assert_int_equal(net_backoff_ceiling(0, 500, 7), 0);

	/* full jitter: uniform in [0, ceiling] */
	assert_int_equal(net_backoff_delay(200, 60000, 0, 12345), 0);
	assert_int_equal(net_backoff_delay(200, 60000, 1, 0), 0);
	assert_int_equal(net_backoff_delay(200, 60000, 1, 200), 200);
	assert_int_equal(net_backoff_delay(200, 60000, 1, 201), 0);
	assert_int_equal(net_backoff_delay(200, 60000, 3, 1000), 1000 % 801);
	assert_int_equal(net_backoff_delay(200, 60000, 20, UINT32_MAX), UINT32_MAX % 60001u);
	uint32_t top = 0;
	for (uint32_t r = 0; r < 5000; r++) {
		uint32_t d = net_backoff_delay(100, 1000, 4, r * 2654435761u);
		assert_true(d <= 800);
		if (d > top)
			top = d;
	}
	assert_true(top > 700); /* the range is really used */
}

/* ------------------------------------------------------------ TLS material */

static void test_tls_material(void **state)
{
	fixture *f = *state;
	/* the certificate: CN = node name, Ed25519 key = the node key, self-signed */
	X509 *cert = tls_certificate(f->tls_a);
	char cn[64] = "";
	X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof(cn));
	assert_string_equal(cn, "tehran-1");
	EVP_PKEY *key = X509_get0_pubkey(cert);
	assert_int_equal(EVP_PKEY_get_id(key), EVP_PKEY_ED25519);
	uint8_t pk[PL_PK_BYTES];
	size_t len = sizeof(pk);
	assert_int_equal(EVP_PKEY_get_raw_public_key(key, pk, &len), 1);
	assert_memory_equal(pk, tls_public_key(f->tls_a), PL_PK_BYTES);
	assert_int_equal(X509_verify(cert, key), 1);
	assert_memory_not_equal(tls_public_key(f->tls_a), tls_public_key(f->tls_b), PL_PK_BYTES);

	/* both directions: TLS 1.3 only, peer certificate required */
	for (int server = 0; server < 2; server++) {
		SSL *ssl = tls_ssl_new(f->tls_a, server);
		assert_non_null(ssl);
		assert_int_equal(SSL_get_min_proto_version(ssl), TLS1_3_VERSION);
		assert_int_equal(SSL_get_max_proto_version(ssl), TLS1_3_VERSION);
		assert_int_equal(SSL_get_verify_mode(ssl),
				 SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT);
		/* before any handshake there is no peer key */
		assert_int_equal(tls_peer_pubkey(ssl, pk), PL_ERR_CRYPTO);
		SSL_free(ssl);
	}

	/* refusals */
	pl_keypair kp;
	uint8_t seed[PL_SEED_BYTES];
	memset(seed, 0x33, sizeof(seed));
	assert_int_equal(pl_key_from_seed(&kp, seed), 0);
	node_tls *t = (node_tls *)1;
	assert_int_equal(tls_new(&t, &kp, "Bad Name"), PL_ERR_INVALID);
	assert_null(t);
	kp.pk[0] ^= 1; /* public half no longer matches the seed */
	assert_int_equal(tls_new(&t, &kp, "kabul-1"), PL_ERR_CRYPTO);
	assert_null(t);
	assert_non_null(strstr(pl_err_detail(), "does not match"));
	pl_key_wipe(&kp);
	tls_free(NULL);
}

static void test_tls_load(void **state)
{
	(void)state;
	const char *base = getenv("PARLEY_TEST_TMP");
	if (!base || !*base)
		base = "/tmp";
	mkdir(base, 0700);
	char dir[1024], path[1100];
	snprintf(dir, sizeof(dir), "%s/test_net.XXXXXX", base);
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/node.key", dir);
	pl_keypair kp;
	assert_int_equal(pl_key_generate(&kp), 0);
	assert_int_equal(pl_keyfile_write(path, &kp, "kabul-1", NULL, PL_KEYFILE_PLAIN), 0);
	node_tls *t = NULL;
	assert_int_equal(tls_load(&t, path, "kabul-1"), 0);
	assert_memory_equal(tls_public_key(t), kp.pk, PL_PK_BYTES);
	tls_free(t);
	pl_key_wipe(&kp);
	unlink(path);
	assert_int_not_equal(tls_load(&t, path, "kabul-1"), 0); /* gone */
	assert_null(t);
	rmdir(dir);
}

/* ------------------------------------------------------------ connect and exchange */

static void test_connect_exchange(void **state)
{
	fixture *f = *state;
	net_params prm;
	test_params(&prm);
	side a = {0}, b = {0};
	a.n = net_new(f->base, f->tls_a, &prm, &callbacks, &a);
	b.n = net_new(f->base, f->tls_b, &prm, &callbacks, &b);
	assert_non_null(a.n);
	assert_non_null(b.n);

	assert_int_equal(net_listen_port(b.n), 0);
	assert_int_equal(net_listen(b.n, "127.0.0.1:0"), 0);
	uint16_t port = net_listen_port(b.n);
	assert_int_not_equal(port, 0);
	assert_int_equal(net_listen(b.n, "127.0.0.1:0"), PL_ERR_EXISTS);
	char addr[64];
	addr_of(addr, sizeof(addr), port);
	assert_int_equal(net_add_peer(a.n, "islamabad", addr), 0);
	assert_int_equal(net_add_peer(a.n, "islamabad", addr), PL_ERR_EXISTS);
	assert_int_equal(net_add_peer(a.n, "kabul", "127.0.0.1"), PL_ERR_MALFORMED);
	assert_int_equal(net_add_peer(a.n, "Kabul!", addr), PL_ERR_MALFORMED);

	pair p = {&a, &b, 0, 1};
	assert_true(run_until(f->base, both_open, &p, WAIT_MS));
	assert_int_equal(a.opens, 1);
	assert_int_equal(b.opens, 1);
	/* each side sees the other's key, the right direction and peer name */
	assert_true(a.outbound);
	assert_false(a.peer_null);
	assert_string_equal(a.peer, "islamabad");
	assert_memory_equal(a.peer_pk, tls_public_key(f->tls_b), PL_PK_BYTES);
	assert_false(b.outbound);
	assert_true(b.peer_null);
	assert_memory_equal(b.peer_pk, tls_public_key(f->tls_a), PL_PK_BYTES);
	assert_string_equal(net_conn_peer(a.conn), "islamabad");
	assert_null(net_conn_peer(b.conn));
	assert_true(net_conn_is_outbound(a.conn));
	assert_false(net_conn_is_outbound(b.conn));
	assert_string_equal(net_conn_address(a.conn), addr);
	assert_memory_equal(net_conn_address(b.conn), "127.0.0.1:", 10);
	assert_memory_equal(net_conn_peer_pk(b.conn), tls_public_key(f->tls_a), PL_PK_BYTES);

	net_peer_status st;
	assert_int_equal(net_peer_status_get(a.n, "islamabad", &st), 0);
	assert_int_equal(st.state, NET_PEER_OPEN);
	assert_int_equal(st.attempts, 1);
	assert_int_equal(st.opens, 1);
	assert_int_equal(net_peer_status_get(a.n, "nobody", &st), PL_ERR_NOT_FOUND);

	/* a few bytes each way */
	assert_int_equal(net_write(a.conn, "hello islamabad", 15), 0);
	assert_int_equal(net_write(b.conn, "hello tehran-1", 14), 0);
	p.want = 14;
	assert_true(run_until(f->base, both_received, &p, WAIT_MS));
	assert_true(a.user_ok && b.user_ok);
	assert_int_equal(b.rxlen, 15);
	assert_memory_equal(b.rx, "hello islamabad", 15);
	assert_int_equal(a.rxlen, 14);
	assert_memory_equal(a.rx, "hello tehran-1", 14);

	/* 1 MiB each way, written at once; integrity checked byte for byte */
	const size_t big = 1024 * 1024;
	uint8_t *to_b = malloc(big), *to_a = malloc(big);
	assert_non_null(to_b);
	assert_non_null(to_a);
	fill_pattern(to_b, big, 1);
	fill_pattern(to_a, big, 2);
	a.rxlen = b.rxlen = 0;
	a.writables = b.writables = 0;
	assert_int_equal(net_write(a.conn, to_b, big), 0);
	assert_int_equal(net_write(b.conn, to_a, big), 0);
	assert_true(net_output_pending(a.conn) > 64 * 1024);
	assert_true(net_output_pending(b.conn) > 64 * 1024);
	p.want = big;
	assert_true(run_until(f->base, both_received, &p, WAIT_MS));
	assert_int_equal(a.rxlen, big);
	assert_int_equal(b.rxlen, big);
	assert_memory_equal(b.rx, to_b, big);
	assert_memory_equal(a.rx, to_a, big);
	assert_int_equal(net_output_pending(a.conn), 0);
	/* the output went over the low watermark and drained: on_writable */
	assert_true(a.writables >= 1);
	assert_true(b.writables >= 1);
	free(to_b);
	free(to_a);

	net_stats sa, sb;
	net_stats_get(a.n, &sa);
	net_stats_get(b.n, &sb);
	assert_int_equal(sa.opened, 1);
	assert_int_equal(sa.open_now, 1);
	assert_int_equal(sb.accepted, 1);
	assert_int_equal(sb.opened, 1);
	assert_int_equal(sb.handshake_failed, 0);

	char *log = log_text(f);
	assert_non_null(strstr(log, "msg=\"link up\" peer=islamabad dir=out"));
	assert_non_null(strstr(log, "msg=\"link up\" peer=- dir=in"));
	free(log);

	/* net_free closes without callbacks on its side; the other side hears EOF */
	side_free(&a);
	assert_int_equal(a.closes, 0);
	assert_true(run_until(f->base, both_closed, &(pair){&b, &b, 0, 0}, WAIT_MS));
	assert_int_equal(b.closes, 1);
	if (!strstr(b.last_close, "closed by peer"))
		fail_msg("close reason: '%s'", b.last_close);
	net_stats_get(b.n, &sb);
	assert_int_equal(sb.open_now, 0);
	side_free(&b);
}

/* ------------------------------------------------------------ raw clients */

typedef struct raw_client {
	int fd;
	SSL_CTX *ctx;
	SSL *ssl; /* NULL: plain TCP */
	struct event *ev;
	bool handshake_ok;
	bool closed;
	char err[256];
} raw_client;

static int tcp_connect(uint16_t port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK), 0);
	return fd;
}

static void raw_step(raw_client *r)
{
	if (r->closed)
		return;
	if (!r->ssl) {
		char buf[256];
		ssize_t n = read(r->fd, buf, sizeof(buf));
		if (n == 0 ||
		    (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
			r->closed = true;
			snprintf(r->err, sizeof(r->err), "%s", n == 0 ? "eof" : strerror(errno));
		}
		return;
	}
	if (!r->handshake_ok) {
		ERR_clear_error();
		int rc = SSL_connect(r->ssl);
		if (rc == 1) {
			r->handshake_ok = true;
		} else {
			int e = SSL_get_error(r->ssl, rc);
			if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
				r->closed = true;
				ERR_error_string_n(ERR_get_error(), r->err, sizeof(r->err));
			}
			return;
		}
	}
	char buf[256];
	ERR_clear_error();
	int n = SSL_read(r->ssl, buf, sizeof(buf));
	if (n > 0)
		return;
	int e = SSL_get_error(r->ssl, n);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
		return;
	r->closed = true;
	ERR_error_string_n(ERR_get_error(), r->err, sizeof(r->err));
}

static void raw_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	raw_step(arg);
}

/* A self-signed certificate for key (md NULL for Ed25519). */
static X509 *self_signed(EVP_PKEY *key, const EVP_MD *md)
{
	X509 *x = X509_new();
	assert_non_null(x);
	X509_set_version(x, X509_VERSION_3);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_NAME *nm = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC, (const unsigned char *)"raw", -1, -1, 0);
	X509_set_issuer_name(x, nm);
	X509_set_pubkey(x, key);
	assert_true(X509_sign(x, key, md) > 0);
	return x;
}

typedef enum raw_kind { RAW_PLAIN, RAW_TLS12, RAW_NO_CERT, RAW_EC_CERT, RAW_ED_CERT } raw_kind;

/* Connect a raw client of the given kind to port; its key (RAW_ED_CERT)
 * goes to pk_out. */
static raw_client *raw_start(struct event_base *base, uint16_t port, raw_kind kind,
			     uint8_t pk_out[PL_PK_BYTES])
{
	raw_client *r = calloc(1, sizeof(*r));
	assert_non_null(r);
	r->fd = tcp_connect(port);
	if (kind != RAW_PLAIN) {
		r->ctx = SSL_CTX_new(TLS_client_method());
		assert_non_null(r->ctx);
		SSL_CTX_set_verify(r->ctx, SSL_VERIFY_NONE, NULL);
		if (kind == RAW_TLS12) {
			SSL_CTX_set_min_proto_version(r->ctx, TLS1_2_VERSION);
			SSL_CTX_set_max_proto_version(r->ctx, TLS1_2_VERSION);
		} else {
			SSL_CTX_set_min_proto_version(r->ctx, TLS1_3_VERSION);
		}
		EVP_PKEY *key = NULL;
		X509 *cert = NULL;
		if (kind == RAW_EC_CERT) {
			key = EVP_EC_gen("P-256");
			assert_non_null(key);
			cert = self_signed(key, EVP_sha256());
		} else if (kind == RAW_ED_CERT || kind == RAW_TLS12) {
			key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
			assert_non_null(key);
			cert = self_signed(key, NULL);
			if (pk_out) {
				size_t len = PL_PK_BYTES;
				assert_int_equal(EVP_PKEY_get_raw_public_key(key, pk_out, &len), 1);
			}
		}
		if (key) {
			assert_int_equal(SSL_CTX_use_certificate(r->ctx, cert), 1);
			assert_int_equal(SSL_CTX_use_PrivateKey(r->ctx, key), 1);
			X509_free(cert);
			EVP_PKEY_free(key);
		}
		r->ssl = SSL_new(r->ctx);
		assert_non_null(r->ssl);
		SSL_set_fd(r->ssl, r->fd);
		raw_step(r); /* sends the ClientHello */
	}
	r->ev = event_new(base, r->fd, EV_READ | EV_PERSIST, raw_cb, r);
	assert_non_null(r->ev);
	event_add(r->ev, NULL);
	return r;
}

static void raw_free(raw_client *r)
{
	event_free(r->ev);
	SSL_free(r->ssl);
	SSL_CTX_free(r->ctx);
	close(r->fd);
	free(r);
}

typedef struct refusal {
	raw_client *r;
	net *server;
	uint64_t failed;
} refusal;

/* The client saw the connection end and the server counted a failure. */
static bool refused(void *arg)
{
	refusal *x = arg;
	net_stats st;
	net_stats_get(x->server, &st);
	return x->r->closed && st.handshake_failed >= x->failed;
}

static void expect_refusal(fixture *f, side *b, raw_kind kind, uint64_t nth, const char *log_reason)
{
	raw_client *r = raw_start(f->base, net_listen_port(b->n), kind, NULL);
	refusal x = {r, b->n, nth};
	assert_true(run_until(f->base, refused, &x, WAIT_MS));
	assert_int_equal(b->opens, 0);
	if (kind == RAW_TLS12 || kind == RAW_PLAIN)
		assert_false(r->handshake_ok);
	char *log = log_text(f);
	const char *line = strstr(log, "msg=\"TLS handshake failed\"");
	if (!line || !strstr(line, log_reason))
		fail_msg("log lacks '%s':\n%s", log_reason, log);
	free(log);
	raw_free(r);
	/* forget the log so the next case is checked on its own lines */
	fflush(f->log);
	assert_int_equal(ftruncate(fileno(f->log), 0), 0);
	rewind(f->log);
}

static void test_refusals(void **state)
{
	fixture *f = *state;
	net_params prm;
	test_params(&prm);
	side b = {0};
	b.n = net_new(f->base, f->tls_b, &prm, &callbacks, &b);
	assert_non_null(b.n);
	assert_int_equal(net_listen(b.n, "127.0.0.1:0"), 0);

	/* a client that offers only TLS 1.2 (with an Ed25519 certificate) */
	expect_refusal(f, &b, RAW_TLS12, 1, "unsupported protocol");
	/* TLS 1.3 without a client certificate */
	expect_refusal(f, &b, RAW_NO_CERT, 2, "peer did not return a certificate");
	/* TLS 1.3 with a certificate whose key is not Ed25519 */
	expect_refusal(f, &b, RAW_EC_CERT, 3, "Ed25519");
	/* plain TCP garbage */
	raw_client *g = raw_start(f->base, net_listen_port(b.n), RAW_PLAIN, NULL);
	static const char junk[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n\x16\x03\x01\xff\xff garbage";
	assert_int_equal(write(g->fd, junk, sizeof(junk) - 1), (ssize_t)(sizeof(junk) - 1));
	refusal x = {g, b.n, 4};
	assert_true(run_until(f->base, refused, &x, WAIT_MS));
	raw_free(g);
	assert_int_equal(b.opens, 0);

	/* positive control: the same raw client with an Ed25519 certificate is
	 * accepted, and the server reports that client's key */
	uint8_t pk[PL_PK_BYTES];
	raw_client *ok = raw_start(f->base, net_listen_port(b.n), RAW_ED_CERT, pk);
	pair p = {&b, &b, 0, 1};
	assert_true(run_until(f->base, both_open, &p, WAIT_MS));
	assert_memory_equal(b.peer_pk, pk, PL_PK_BYTES);
	assert_false(ok->closed);

	net_stats st;
	net_stats_get(b.n, &st);
	assert_int_equal(st.accepted, 5);
	assert_int_equal(st.handshake_failed, 4);
	assert_int_equal(st.opened, 1);
	side_free(&b);
	raw_free(ok);
}

/* ------------------------------------------------------------ stuck clients */

static bool client_closed(void *arg)
{
	return ((raw_client *)arg)->closed;
}

static void test_handshake_timeout(void **state)
{
	fixture *f = *state;
	net_params prm;
	test_params(&prm);
	prm.handshake_timeout_ms = 150;
	side b = {0};
	b.n = net_new(f->base, f->tls_b, &prm, &callbacks, &b);
	assert_int_equal(net_listen(b.n, "127.0.0.1:0"), 0);
	/* connects and says nothing: dropped at the handshake deadline */
	raw_client *r = raw_start(f->base, net_listen_port(b.n), RAW_PLAIN, NULL);
	refusal x = {r, b.n, 1};
	assert_true(run_until(f->base, refused, &x, WAIT_MS));
	char *log = log_text(f);
	assert_non_null(strstr(log, "error=\"TLS handshake timed out\""));
	free(log);
	raw_free(r);
	side_free(&b);
}

typedef struct accepted_n {
	net *n;
	uint64_t want;
} accepted_n;

static bool accepted(void *arg)
{
	accepted_n *a = arg;
	net_stats st;
	net_stats_get(a->n, &st);
	return st.accepted >= a->want;
}

static void test_handshake_limit(void **state)
{
	fixture *f = *state;
	net_params prm;
	test_params(&prm);
	prm.max_handshakes = 1;
	prm.handshake_timeout_ms = 60000; /* the first client is never timed out here */
	side b = {0};
	b.n = net_new(f->base, f->tls_b, &prm, &callbacks, &b);
	assert_int_equal(net_listen(b.n, "127.0.0.1:0"), 0);
	raw_client *r1 = raw_start(f->base, net_listen_port(b.n), RAW_PLAIN, NULL);
	accepted_n a1 = {b.n, 1};
	assert_true(run_until(f->base, accepted, &a1, WAIT_MS));
	raw_client *r2 = raw_start(f->base, net_listen_port(b.n), RAW_PLAIN, NULL);
	assert_true(run_until(f->base, client_closed, r2, WAIT_MS));
	assert_false(r1->closed);
	char *log = log_text(f);
	assert_non_null(strstr(log, "too many handshakes"));
	free(log);
	side_free(&b);
	/* freeing the net closed the pending one */
	assert_true(run_until(f->base, client_closed, r1, WAIT_MS));
	raw_free(r1);
	raw_free(r2);
}

/* ------------------------------------------------------------ reconnect */

typedef struct failing {
	net *n;
	const char *peer;
	uint64_t attempts;
} failing;

/* The peer has made at least x->attempts dials and is waiting to retry. */
static bool peer_failing(void *arg)
{
	failing *x = arg;
	net_peer_status st;
	return net_peer_status_get(x->n, x->peer, &st) == 0 && st.attempts >= x->attempts &&
	       st.state == NET_PEER_WAITING;
}

static void test_reconnect(void **state)
{
	fixture *f = *state;
	net_params prm;
	test_params(&prm);
	side a = {0}, b = {0};
	a.n = net_new(f->base, f->tls_a, &prm, &callbacks, &a);
	b.n = net_new(f->base, f->tls_b, &prm, &callbacks, &b);
	assert_int_equal(net_listen(b.n, "127.0.0.1:0"), 0);
	uint16_t port = net_listen_port(b.n);
	char addr[64];
	addr_of(addr, sizeof(addr), port);
	assert_int_equal(net_add_peer(a.n, "islamabad", addr), 0);
	pair p = {&a, &b, 0, 1};
	assert_true(run_until(f->base, both_open, &p, WAIT_MS));

	/* 1. the server closes the link: on_close on both sides, then the
	 *    client dials again on its own */
	net_close(b.conn, "test closes");
	assert_int_equal(b.closes, 1); /* synchronous */
	assert_string_equal(b.last_close, "test closes");
	p.opens = 2;
	assert_true(run_until(f->base, both_open, &p, WAIT_MS));
	assert_int_equal(a.closes, 1);

	/* 2. the server goes away entirely: the client keeps failing... */
	net_unlisten(b.n);
	assert_int_equal(net_listen_port(b.n), 0);
	net_close(b.conn, "server down");
	failing x = {a.n, "islamabad", 4}; /* 2 that opened, 2 refused */
	assert_true(run_until(f->base, peer_failing, &x, WAIT_MS));
	net_peer_status st;
	assert_int_equal(net_peer_status_get(a.n, "islamabad", &st), 0);
	if (!strstr(st.last_error, "refused"))
		fail_msg("last error: '%s'", st.last_error);
	assert_true(st.next_delay_ms <= net_backoff_ceiling(20, 200, st.failures));
	assert_int_equal(a.opens, 2);

	/* ...until it is back on the same port: the client reconnects */
	char listen_addr[64];
	addr_of(listen_addr, sizeof(listen_addr), port);
	assert_int_equal(net_listen(b.n, listen_addr), 0);
	assert_int_equal(net_listen_port(b.n), port);
	p.opens = 3;
	assert_true(run_until(f->base, both_open, &p, WAIT_MS));
	assert_int_equal(net_peer_status_get(a.n, "islamabad", &st), 0);
	assert_int_equal(st.state, NET_PEER_OPEN);
	assert_int_equal(st.opens, 3);
	assert_true(st.attempts >= 5); /* 3 successes, at least 2 failures */
	assert_string_equal(st.last_error, "");
	assert_memory_equal(a.peer_pk, tls_public_key(f->tls_b), PL_PK_BYTES);

	/* 3. removing the peer closes its link (on_close now) and stops dialling */
	int closes = a.closes;
	assert_int_equal(net_remove_peer(a.n, "islamabad"), 0);
	assert_int_equal(a.closes, closes + 1);
	assert_string_equal(a.last_close, "peer removed");
	assert_int_equal(net_remove_peer(a.n, "islamabad"), PL_ERR_NOT_FOUND);
	assert_int_equal(net_peer_status_get(a.n, "islamabad", &st), PL_ERR_NOT_FOUND);
	run_until(f->base, never, NULL, 100); /* room for a (wrong) redial */
	assert_int_equal(b.opens, 3);
	side_free(&a);
	side_free(&b);
}

/* net_peer_kick dials at once even when the backoff says a minute. */
static void test_kick(void **state)
{
	fixture *f = *state;
	net_params prm;
	test_params(&prm);
	prm.backoff_min_ms = 60000;
	prm.backoff_max_ms = 60000;
	side a = {0}, b = {0};
	a.n = net_new(f->base, f->tls_a, &prm, &callbacks, &a);
	b.n = net_new(f->base, f->tls_b, &prm, &callbacks, &b);
	/* take a free port, then stop listening on it */
	assert_int_equal(net_listen(b.n, "127.0.0.1:0"), 0);
	uint16_t port = net_listen_port(b.n);
	net_unlisten(b.n);
	char addr[64];
	addr_of(addr, sizeof(addr), port);
	assert_int_equal(net_add_peer(a.n, "islamabad", addr), 0);
	failing x = {a.n, "islamabad", 1};
	assert_true(run_until(f->base, peer_failing, &x, WAIT_MS));
	net_peer_status st;
	assert_int_equal(net_peer_status_get(a.n, "islamabad", &st), 0);
	assert_int_equal(st.attempts, 1);

	assert_int_equal(net_listen(b.n, addr), 0);
	assert_int_equal(net_peer_kick(a.n, "islamabad"), 0);
	assert_int_equal(net_peer_status_get(a.n, "islamabad", &st), 0);
	assert_int_equal(st.attempts, 2); /* dialled inside the kick */
	assert_int_equal(st.state, NET_PEER_CONNECTING);
	assert_int_equal(st.failures, 0);
	pair p = {&a, &b, 0, 1};
	assert_true(run_until(f->base, both_open, &p, WAIT_MS));
	/* kicking an open peer changes nothing */
	assert_int_equal(net_peer_kick(a.n, "islamabad"), 0);
	assert_int_equal(net_peer_status_get(a.n, "islamabad", &st), 0);
	assert_int_equal(st.attempts, 2);
	assert_int_equal(net_peer_kick(a.n, "nobody"), PL_ERR_NOT_FOUND);
	side_free(&a);
	side_free(&b);
}

/* ------------------------------------------------------------ outbound failure */

/* A plain TCP server that answers every connection with HTTP and keeps it
 * open (closing with unread input would reset it instead). */
typedef struct junk_server {
	int lfd;
	struct event *ev;
	int fds[32];
	int nfds;
} junk_server;

static void junk_accept_cb(evutil_socket_t fd, short what, void *arg)
{
	junk_server *j = arg;
	(void)what;
	int c = accept(fd, NULL, NULL);
	if (c < 0)
		return;
	static const char resp[] = "HTTP/1.0 400 Bad Request\r\n\r\n";
	if (write(c, resp, sizeof(resp) - 1) < 0 || j->nfds == 32) {
		close(c);
		return;
	}
	j->fds[j->nfds++] = c;
}

static uint16_t junk_start(struct event_base *base, junk_server *j)
{
	j->lfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(j->lfd >= 0);
	struct sockaddr_in sin = {.sin_family = AF_INET};
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(j->lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(j->lfd, 8), 0);
	socklen_t len = sizeof(sin);
	assert_int_equal(getsockname(j->lfd, (struct sockaddr *)&sin, &len), 0);
	j->ev = event_new(base, j->lfd, EV_READ | EV_PERSIST, junk_accept_cb, j);
	event_add(j->ev, NULL);
	return ntohs(sin.sin_port);
}

static void junk_stop(junk_server *j)
{
	event_free(j->ev);
	close(j->lfd);
	for (int i = 0; i < j->nfds; i++)
		close(j->fds[i]);
}

/* Dialling something that does not speak TLS: each attempt is a handshake
 * failure, logged with OpenSSL's reason, and the peer backs off. */
static void test_outbound_handshake_failure(void **state)
{
	fixture *f = *state;
	net_params prm;
	test_params(&prm);
	side a = {0};
	a.n = net_new(f->base, f->tls_a, &prm, &callbacks, &a);
	junk_server j = {0};
	char addr[64];
	addr_of(addr, sizeof(addr), junk_start(f->base, &j));
	assert_int_equal(net_add_peer(a.n, "islamabad", addr), 0);
	failing x = {a.n, "islamabad", 2};
	assert_true(run_until(f->base, peer_failing, &x, WAIT_MS));
	net_peer_status st;
	assert_int_equal(net_peer_status_get(a.n, "islamabad", &st), 0);
	assert_true(st.failures >= 2);
	assert_int_equal(st.opens, 0);
	if (!strstr(st.last_error, "wrong version number"))
		fail_msg("last error: '%s'", st.last_error);
	net_stats sa;
	net_stats_get(a.n, &sa);
	assert_true(sa.handshake_failed >= 2);
	assert_int_equal(sa.opened, 0);
	assert_int_equal(a.opens, 0);
	assert_int_equal(a.closes, 0); /* never opened, so never "closed" */
	char *log = log_text(f);
	assert_non_null(strstr(log, "msg=\"TLS handshake failed\" peer=islamabad dir=out"));
	free(log);
	side_free(&a);
	junk_stop(&j);
}

/* ------------------------------------------------------------ host names */

/* A peer given by name is resolved (here from a private hosts file, so no
 * DNS server is asked) and reached; an unknown name is a dial failure. */
static void test_host_names(void **state)
{
	fixture *f = *state;
	const char *base = getenv("PARLEY_TEST_TMP");
	if (!base || !*base)
		base = "/tmp";
	mkdir(base, 0700);
	char dir[1024], hosts[1100];
	snprintf(dir, sizeof(dir), "%s/test_net_hosts.XXXXXX", base);
	assert_non_null(mkdtemp(dir));
	snprintf(hosts, sizeof(hosts), "%s/hosts", dir);
	FILE *hf = fopen(hosts, "w");
	assert_non_null(hf);
	fputs("127.0.0.1 islamabad-node.test\n", hf);
	assert_int_equal(fclose(hf), 0);

	net_params prm;
	test_params(&prm);
	prm.hosts_file = hosts;
	prm.handshake_timeout_ms = 300; /* also the resolver's deadline */
	side a = {0}, b = {0};
	a.n = net_new(f->base, f->tls_a, &prm, &callbacks, &a);
	b.n = net_new(f->base, f->tls_b, &prm, &callbacks, &b);
	assert_int_equal(net_listen(b.n, "127.0.0.1:0"), 0);
	char addr[128];
	snprintf(addr, sizeof(addr), "islamabad-node.test:%u", (unsigned)net_listen_port(b.n));
	assert_int_equal(net_add_peer(a.n, "islamabad", addr), 0);
	snprintf(addr, sizeof(addr), "nowhere.test:%u", (unsigned)net_listen_port(b.n));
	assert_int_equal(net_add_peer(a.n, "kabul", addr), 0);
	pair p = {&a, &b, 0, 1};
	assert_true(run_until(f->base, both_open, &p, WAIT_MS));
	assert_string_equal(a.peer, "islamabad");
	assert_memory_equal(net_conn_address(a.conn), "127.0.0.1:", 10);
	failing x = {a.n, "kabul", 1};
	assert_true(run_until(f->base, peer_failing, &x, WAIT_MS));
	net_peer_status st;
	assert_int_equal(net_peer_status_get(a.n, "kabul", &st), 0);
	if (!strstr(st.last_error, "resolving nowhere.test"))
		fail_msg("last error: '%s'", st.last_error);
	assert_int_equal(a.opens, 1);
	side_free(&a);
	side_free(&b);
	unlink(hosts);
	rmdir(dir);
}

/* ------------------------------------------------------------ flow control */

static bool b_has_data(void *arg)
{
	return ((side *)arg)->rxlen > 0;
}

static bool pending_zero(void *arg)
{
	side *s = arg;
	return s->conn && net_output_pending(s->conn) == 0;
}

/* The gate's tag (net_set_gate): what the test says the store has made. */
static uint64_t gate_tag(void *arg)
{
	return *(uint64_t *)arg;
}

/* a dials b ("islamabad") on 127.0.0.1; both with the test's parameters.
 * gate (may be NULL) is set on a before the dial. */
static void dial_pair(fixture *f, side *a, side *b, uint64_t *gate)
{
	net_params prm;
	test_params(&prm);
	a->n = net_new(f->base, f->tls_a, &prm, &callbacks, a);
	b->n = net_new(f->base, f->tls_b, &prm, &callbacks, b);
	assert_int_equal(net_listen(b->n, "127.0.0.1:0"), 0);
	char addr[64];
	addr_of(addr, sizeof(addr), net_listen_port(b->n));
	if (gate)
		net_set_gate(a->n, gate_tag, gate);
	assert_int_equal(net_add_peer(a->n, "islamabad", addr), 0);
	pair p = {a, b, 0, 1};
	assert_true(run_until(f->base, both_open, &p, WAIT_MS));
}

static void test_pause_and_close_in_callback(void **state)
{
	fixture *f = *state;
	side a = {0}, b = {0};
	b.pause_on_open = true;
	dial_pair(f, &a, &b, NULL);
	pair p = {&a, &b, 0, 1};

	/* b does not read while paused, even once a's bytes left a's buffers */
	assert_int_equal(net_write(a.conn, "0123456789", 10), 0);
	assert_true(run_until(f->base, pending_zero, &a, WAIT_MS));
	run_until(f->base, never, NULL, 100);
	assert_int_equal(b.rxlen, 0);

	/* resumed: the data arrives; b closes from inside on_data */
	b.close_on_data = true;
	net_set_reading(b.conn, true);
	assert_true(run_until(f->base, b_has_data, &b, WAIT_MS));
	assert_int_equal(b.rxlen, 10);
	assert_memory_equal(b.rx, "0123456789", 10);
	assert_int_equal(b.closes, 1); /* once, despite the second net_close */
	assert_string_equal(b.last_close, "bye from on_data");
	assert_true(b.conn == NULL || b.opens == 2); /* a may have redialled already */
	/* a hears about it and redials */
	p.opens = 2;
	assert_true(run_until(f->base, both_open, &p, WAIT_MS));
	assert_int_equal(a.closes, 1);

	/* closing without a reason gives a default one */
	net_close(a.conn, NULL);
	assert_string_equal(a.last_close, "closed locally");
	side_free(&a);
	side_free(&b);
}

static bool b_has(void *arg)
{
	pair *p = arg;
	return p->b->rxlen >= p->want;
}

/*
 * The output gate: what a connection is given while the store has commits
 * not yet synced waits until they are (net_release), and everything after
 * it on that connection waits behind it, in order; pending output counts
 * it; a connection closed with bytes held drops them.
 */
static void test_gate(void **state)
{
	fixture *f = *state;
	side a = {0}, b = {0};
	uint64_t tag = 0;
	dial_pair(f, &a, &b, &tag);
	pair p = {&a, &b, 3, 1};

	assert_int_equal(net_write(a.conn, "one", 3), 0); /* everything synced: goes */
	assert_true(run_until(f->base, b_has, &p, WAIT_MS));
	assert_int_equal(net_held_total(a.n), 0);

	tag = 5; /* five commits made, not all synced */
	assert_int_equal(net_write(a.conn, "two", 3), 0);
	tag = 0; /* synced, but "two" is still held: "three" waits behind it */
	assert_int_equal(net_write(a.conn, "three", 5), 0);
	tag = 7;
	assert_int_equal(net_write(a.conn, "four", 4), 0);
	assert_int_equal(net_held_total(a.n), 3);
	assert_int_equal(net_output_pending(a.conn), 12);
	run_until(f->base, never, NULL, 200);
	assert_int_equal(b.rxlen, 3);

	net_release(a.n, 4); /* not enough */
	run_until(f->base, never, NULL, 100);
	assert_int_equal(b.rxlen, 3);
	net_release(a.n, 6); /* "two" and "three", not "four" */
	p.want = 11;
	assert_true(run_until(f->base, b_has, &p, WAIT_MS));
	run_until(f->base, never, NULL, 100);
	assert_int_equal(b.rxlen, 11);
	assert_memory_equal(b.rx, "onetwothree", 11);
	assert_int_equal(net_output_pending(a.conn), 4);
	net_release(a.n, 7);
	p.want = 15;
	assert_true(run_until(f->base, b_has, &p, WAIT_MS));
	assert_memory_equal(b.rx, "onetwothreefour", 15);
	assert_true(run_until(f->base, pending_zero, &a, WAIT_MS));

	/* many spans, then closed with them held */
	for (uint64_t i = 0; i < 40; i++) {
		tag = 100 + i;
		assert_int_equal(net_write(a.conn, "x", 1), 0);
	}
	net_release(a.n, 119); /* the first 20 */
	p.want = 35;
	assert_true(run_until(f->base, b_has, &p, WAIT_MS));
	assert_int_equal(net_output_pending(a.conn), 20);
	net_close(a.conn, "closed with output held");
	net_release(a.n, 1000); /* nothing left to send, nothing freed twice */
	run_until(f->base, never, NULL, 100);
	assert_int_equal(b.rxlen, 35);
	side_free(&a);
	side_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_backoff),
	    cmocka_unit_test(test_tls_material),
	    cmocka_unit_test(test_tls_load),
	    cmocka_unit_test(test_connect_exchange),
	    cmocka_unit_test(test_refusals),
	    cmocka_unit_test(test_handshake_timeout),
	    cmocka_unit_test(test_handshake_limit),
	    cmocka_unit_test(test_reconnect),
	    cmocka_unit_test(test_kick),
	    cmocka_unit_test(test_outbound_handshake_failure),
	    cmocka_unit_test(test_host_names),
	    cmocka_unit_test(test_pause_and_close_in_callback),
	    cmocka_unit_test(test_gate),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
