/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hpeer: a hostile peer node for the integration tests.  It holds a real
 * node identity (the key and signed node record that `parley node init`
 * made, so the victim's checks of the HELLO pass), dials the victim's peer
 * port over TLS 1.3 with node/tls.c as parleyd does, and then writes the
 * frames its command line lists, also those a correct node never sends:
 * another state's envelopes, items on the wrong lane, an lseq used twice,
 * DATA before HELLO, oversized lengths.  It prints what comes back (the
 * victim's HELLO, items, receipts, CLOSE, the end of the stream), one line
 * each, and exits
 *   0  every step ran and every wait was met
 *   1  a wait was not met (the peer closed first, or the time ran out)
 *   2  usage
 *   3  setup failed (key or record file, connect, TLS handshake)
 *
 * It does not use lib/link's engine, which refuses to send what an
 * attacker sends: frames are built and parsed here with lib/codec, byte
 * for byte as docs/protocol.md ("Link layer") fixes them.  It stores and
 * acknowledges nothing it receives, and runs for at most --timeout
 * seconds in all.
 *
 *   hpeer --connect 127.0.0.1:PORT --home DIR --node NAME [--timeout S]
 *         [--resume N,N,N,N,N] STEP...
 *
 * DIR/nodes/NAME.key and DIR/nodes/NAME.rec are the node's key and record.
 * Steps, run in order:
 *   hello                send our HELLO; its resume points are --resume
 *                        (default 1,1,1,1,1)
 *   wait-hello           read until the peer's HELLO has arrived
 *   kind=K               the kind of the items that follow (default 1, envelope)
 *   item=LANE:LSEQ:FILE  send FILE as one item on LANE (0..4, or CONTROL, FLASH,
 *                        IMMEDIATE, PRIORITY, ROUTINE) with link sequence LSEQ,
 *                        in DATA frames of 16 KiB; LSEQ "next" is one past the
 *                        last item this run sent on the lane, else the peer's
 *                        HELLO resume point for it
 *   raw=HEX              send these bytes as they are
 *   wait                 read until RECEIPTs cover every item sent
 *   wait-close           read until the peer closes (CLOSE, or end of stream)
 *   close=REASON         send CLOSE; nothing is sent after it
 * After the last step hpeer sends CLOSE "hpeer done" unless either side
 * closed already.  PINGs are answered with PONGs all along.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "parley/buf.h"
#include "parley/channel.h"
#include "parley/codec.h"
#include "parley/crypto.h"
#include "parley/err.h"
#include "parley/file.h"
#include "parley/link.h"

#include "tls.h"

#define EXIT_UNMET 1
#define EXIT_USAGE 2
#define EXIT_SETUP 3

static void die(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));
static void die(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("hpeer: ", stdout);
	vfprintf(stdout, fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	exit(code);
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *lane_name(unsigned lane)
{
	return lane == 0 ? "CONTROL" : pl_lane_name((pl_lane)lane);
}

/* ---------------------------------------------------------------- the session */

typedef struct hp {
	int fd;
	SSL *ssl;
	int64_t deadline;
	pl_buf in; /* received, not yet parsed */
	uint8_t *rec;
	size_t rec_len;
	uint64_t resume[PL_LINK_LANES]; /* ours, sent in our HELLO */
	uint32_t kind;
	/* what the peer said */
	bool peer_hello, peer_closed, ended;
	uint64_t peer_next[PL_LINK_LANES];
	bool have_receipt[PL_LINK_LANES];
	uint64_t receipted[PL_LINK_LANES];
	uint64_t in_got[PL_LINK_LANES]; /* bytes of the item being received per lane */
	/* what we sent */
	bool closed;
	bool sent_any[PL_LINK_LANES];
	uint64_t last_sent[PL_LINK_LANES], max_sent[PL_LINK_LANES];
} hp;

/* Wait until fd is ready for ev or the deadline passes: 0, or -1 on timeout. */
static int wait_fd(hp *h, short ev)
{
	for (;;) {
		int64_t left = h->deadline - now_ms();
		if (left <= 0)
			return -1;
		struct pollfd p = {.fd = h->fd, .events = ev};
		int r = poll(&p, 1, left > INT_MAX ? INT_MAX : (int)left);
		if (r > 0)
			return 0;
		if (r == 0 || errno != EINTR)
			return -1;
	}
}

/* After a failed SSL call: wait for what OpenSSL needs.  0 to retry, -1 to
 * give up (time out, or an error: the connection is gone). */
static int ssl_retry(hp *h, int ret)
{
	switch (SSL_get_error(h->ssl, ret)) {
	case SSL_ERROR_WANT_READ:
		return wait_fd(h, POLLIN);
	case SSL_ERROR_WANT_WRITE:
		return wait_fd(h, POLLOUT);
	default:
		return -1;
	}
}

static void send_bytes(hp *h, const uint8_t *p, size_t n)
{
	if (h->ended) {
		printf("send: not sent, the connection is gone\n");
		return;
	}
	while (n > 0) {
		int w = SSL_write(h->ssl, p, n > INT_MAX ? INT_MAX : (int)n);
		if (w > 0) {
			p += w;
			n -= (size_t)w;
		} else if (ssl_retry(h, w) != 0) {
			printf("send: failed, the connection is gone or stuck\n");
			h->ended = true;
			return;
		}
	}
}

/* Frame the encoded body: 4-byte big-endian length, then the body. */
static void send_frame(hp *h, pl_cbor_enc *e)
{
	uint8_t *body = NULL;
	size_t len = 0;
	if (pl_cbor_enc_finish(e, &body, &len) != 0)
		die(EXIT_SETUP, "cannot encode a frame: %s", pl_err_detail());
	uint8_t *f = malloc(len + 4);
	if (!f)
		die(EXIT_SETUP, "out of memory");
	f[0] = (uint8_t)(len >> 24);
	f[1] = (uint8_t)(len >> 16);
	f[2] = (uint8_t)(len >> 8);
	f[3] = (uint8_t)len;
	memcpy(f + 4, body, len);
	send_bytes(h, f, len + 4);
	free(f);
	free(body);
}

static void send_hello(hp *h)
{
	pl_cbor_enc e;
	pl_cbor_enc_init(&e);
	pl_cbor_put_map(&e, 4);
	pl_cbor_put_str(&e, "t");
	pl_cbor_put_uint(&e, 1);
	pl_cbor_put_str(&e, "ver");
	pl_cbor_put_uint(&e, PL_LINK_VERSION);
	pl_cbor_put_str(&e, "next");
	pl_cbor_put_array(&e, PL_LINK_LANES);
	for (int l = 0; l < PL_LINK_LANES; l++)
		pl_cbor_put_uint(&e, h->resume[l]);
	pl_cbor_put_str(&e, "node");
	pl_cbor_put_bytes(&e, h->rec, h->rec_len);
	send_frame(h, &e);
	printf("sent: HELLO next=%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 "\n",
	       h->resume[0], h->resume[1], h->resume[2], h->resume[3], h->resume[4]);
}

static void send_close(hp *h, const char *reason)
{
	pl_cbor_enc e;
	pl_cbor_enc_init(&e);
	pl_cbor_put_map(&e, 2);
	pl_cbor_put_str(&e, "t");
	pl_cbor_put_uint(&e, 6);
	pl_cbor_put_str(&e, "reason");
	pl_cbor_put_str(&e, reason);
	send_frame(h, &e);
	h->closed = true;
	printf("sent: CLOSE \"%s\"\n", reason);
}

static void send_pong(hp *h, uint64_t n)
{
	pl_cbor_enc e;
	pl_cbor_enc_init(&e);
	pl_cbor_put_map(&e, 2);
	pl_cbor_put_str(&e, "n");
	pl_cbor_put_uint(&e, n);
	pl_cbor_put_str(&e, "t");
	pl_cbor_put_uint(&e, 5);
	send_frame(h, &e);
}

/* One item as DATA frames of PL_LINK_CHUNK bytes, whatever the lseq. */
static void send_item(hp *h, unsigned lane, uint64_t lseq, const uint8_t *p, size_t n)
{
	for (size_t off = 0; off < n && !h->ended;) {
		size_t c = n - off < PL_LINK_CHUNK ? n - off : PL_LINK_CHUNK;
		pl_cbor_enc e;
		pl_cbor_enc_init(&e);
		pl_cbor_put_map(&e, 7);
		pl_cbor_put_str(&e, "t");
		pl_cbor_put_uint(&e, 2);
		pl_cbor_put_str(&e, "off");
		pl_cbor_put_uint(&e, off);
		pl_cbor_put_str(&e, "data");
		pl_cbor_put_bytes(&e, p + off, c);
		pl_cbor_put_str(&e, "kind");
		pl_cbor_put_uint(&e, h->kind);
		pl_cbor_put_str(&e, "lane");
		pl_cbor_put_uint(&e, lane);
		pl_cbor_put_str(&e, "lseq");
		pl_cbor_put_uint(&e, lseq);
		pl_cbor_put_str(&e, "total");
		pl_cbor_put_uint(&e, n);
		send_frame(h, &e);
		off += c;
	}
	h->sent_any[lane] = true;
	h->last_sent[lane] = lseq;
	if (lseq > h->max_sent[lane])
		h->max_sent[lane] = lseq;
	printf("sent: item lane=%s lseq=%" PRIu64 " kind=%" PRIu32 " bytes=%zu\n", lane_name(lane),
	       lseq, h->kind, n);
}

/* ---------------------------------------------------------------- receiving */

static bool get_u64(const pl_cbor *m, const char *key, uint64_t *v)
{
	const pl_cbor *it = pl_cbor_map_get(m, key);
	return it && pl_cbor_get_uint(it, v) == 0;
}

static void peer_broke(hp *h, const char *what)
{
	printf("recv: the peer sent a malformed frame (%s); hanging up\n", what);
	h->ended = true;
}

static void take_frame(hp *h, const uint8_t *body, size_t len)
{
	static const pl_cbor_limits lim = {.max_bytes = PL_LINK_MAX_FRAME,
					   .max_depth = 2,
					   .max_items = 64,
					   .max_str = PL_LINK_MAX_FRAME};
	pl_cbor *m = NULL;
	uint64_t t = 0, lane = 0, v = 0;
	if (pl_cbor_decode(body, len, &lim, PL_CBOR_CANONICAL, &m) != 0 || !get_u64(m, "t", &t)) {
		pl_cbor_free(m);
		peer_broke(h, "not a canonical map with a type");
		return;
	}
	pl_slice s = {0};
	switch (t) {
	case 1: { /* HELLO */
		const pl_cbor *next = pl_cbor_map_get(m, "next");
		const pl_cbor *node = pl_cbor_map_get(m, "node");
		if (!next || pl_cbor_len(next) != PL_LINK_LANES || !node ||
		    pl_cbor_get_bytes(node, &s) != 0) {
			peer_broke(h, "HELLO");
			break;
		}
		for (int l = 0; l < PL_LINK_LANES; l++)
			if (pl_cbor_get_uint(pl_cbor_at(next, (size_t)l), &h->peer_next[l]) != 0)
				peer_broke(h, "HELLO resume point");
		h->peer_hello = true;
		printf("recv: HELLO next=%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64
		       " node_record=%zu bytes\n",
		       h->peer_next[0], h->peer_next[1], h->peer_next[2], h->peer_next[3],
		       h->peer_next[4], s.n);
		break;
	}
	case 2: { /* DATA: report each item once complete */
		uint64_t lseq = 0, kind = 0, off = 0, total = 0;
		const pl_cbor *data = pl_cbor_map_get(m, "data");
		if (!get_u64(m, "lane", &lane) || lane >= PL_LINK_LANES ||
		    !get_u64(m, "lseq", &lseq) || !get_u64(m, "kind", &kind) ||
		    !get_u64(m, "off", &off) || !get_u64(m, "total", &total) || !data ||
		    pl_cbor_get_bytes(data, &s) != 0) {
			peer_broke(h, "DATA");
			break;
		}
		h->in_got[lane] = off + s.n;
		if (h->in_got[lane] >= total) {
			printf("recv: item lane=%s lseq=%" PRIu64 " kind=%" PRIu64 " bytes=%" PRIu64
			       "\n",
			       lane_name((unsigned)lane), lseq, kind, total);
			h->in_got[lane] = 0;
		}
		break;
	}
	case 3: /* RECEIPT */
		if (!get_u64(m, "lane", &lane) || lane >= PL_LINK_LANES ||
		    !get_u64(m, "upto", &v)) {
			peer_broke(h, "RECEIPT");
			break;
		}
		h->have_receipt[lane] = true;
		h->receipted[lane] = v;
		printf("recv: RECEIPT lane=%s upto=%" PRIu64 "\n", lane_name((unsigned)lane), v);
		break;
	case 4: /* PING */
		if (get_u64(m, "n", &v) && !h->closed)
			send_pong(h, v);
		break;
	case 5: /* PONG */
		break;
	case 6: { /* CLOSE */
		const pl_cbor *r = pl_cbor_map_get(m, "reason");
		if (!r || pl_cbor_get_text(r, &s) != 0)
			s.n = 0;
		printf("recv: CLOSE \"%.*s\"\n", (int)s.n, s.n ? (const char *)s.p : "");
		h->peer_closed = true;
		break;
	}
	default:
		printf("recv: a frame of unknown type %" PRIu64 "\n", t);
		break;
	}
	pl_cbor_free(m);
}

/* Parse every complete frame in h->in. */
static void take_frames(hp *h)
{
	size_t pos = 0;
	while (!h->ended && !h->peer_closed && h->in.len - pos >= 4) {
		const uint8_t *p = h->in.data + pos;
		size_t len = (size_t)p[0] << 24 | (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3];
		if (len == 0 || len > PL_LINK_MAX_FRAME) {
			peer_broke(h, "bad length");
			break;
		}
		if (h->in.len - pos < 4 + len)
			break;
		take_frame(h, p + 4, len);
		pos += 4 + len;
	}
	memmove(h->in.data, h->in.data + pos, h->in.len - pos);
	h->in.len -= pos;
}

/* Read once (waiting up to the deadline): 0 when bytes were taken, -1 when
 * the stream ended or the time ran out (h->ended tells which). */
static int read_some(hp *h)
{
	uint8_t buf[16384];
	for (;;) {
		int r = SSL_read(h->ssl, buf, sizeof(buf));
		if (r > 0) {
			if (pl_buf_append(&h->in, buf, (size_t)r) != 0)
				die(EXIT_SETUP, "out of memory");
			take_frames(h);
			return 0;
		}
		int e = SSL_get_error(h->ssl, r);
		if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
			printf("recv: end of stream%s\n",
			       e == SSL_ERROR_ZERO_RETURN ? " (TLS close_notify)" : "");
			h->ended = true;
			return -1;
		}
		if (ssl_retry(h, r) != 0)
			return -1; /* timed out */
	}
}

typedef bool (*cond_fn)(const hp *h);

static bool has_hello(const hp *h)
{
	return h->peer_hello;
}

static bool all_receipted(const hp *h)
{
	for (int l = 0; l < PL_LINK_LANES; l++)
		if (h->sent_any[l] && (!h->have_receipt[l] || h->receipted[l] < h->max_sent[l]))
			return false;
	return true;
}

static bool peer_gone(const hp *h)
{
	return h->peer_closed || h->ended;
}

/* Read until cond holds: 0, or exit EXIT_UNMET saying why it did not. */
static void await(hp *h, cond_fn cond, const char *what)
{
	while (!cond(h)) {
		if (h->peer_closed || h->ended)
			die(EXIT_UNMET, "%s: not met, the peer closed first", what);
		if (read_some(h) != 0 && !h->ended)
			die(EXIT_UNMET, "%s: not met, timed out", what);
	}
	printf("%s: met\n", what);
}

/* ---------------------------------------------------------------- setup */

static void tcp_connect(hp *h, const char *hostport)
{
	char host[64];
	const char *colon = strrchr(hostport, ':');
	if (!colon || (size_t)(colon - hostport) >= sizeof(host))
		die(EXIT_USAGE, "--connect wants IPv4:PORT, not %s", hostport);
	memcpy(host, hostport, (size_t)(colon - hostport));
	host[colon - hostport] = '\0';
	char *end;
	errno = 0;
	long port = strtol(colon + 1, &end, 10);
	struct sockaddr_in sa = {.sin_family = AF_INET};
	if (errno || *end || port < 1 || port > 65535 ||
	    inet_pton(AF_INET, host, &sa.sin_addr) != 1)
		die(EXIT_USAGE, "--connect wants IPv4:PORT, not %s", hostport);
	sa.sin_port = htons((uint16_t)port);
	h->fd = socket(AF_INET, SOCK_STREAM, 0);
	if (h->fd < 0 || fcntl(h->fd, F_SETFL, O_NONBLOCK) != 0)
		die(EXIT_SETUP, "socket: %s", strerror(errno));
	if (connect(h->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 && errno != EINPROGRESS)
		die(EXIT_SETUP, "cannot connect to %s: %s", hostport, strerror(errno));
	int err = 0;
	socklen_t elen = sizeof(err);
	if (wait_fd(h, POLLOUT) != 0)
		die(EXIT_SETUP, "cannot connect to %s: timed out", hostport);
	if (getsockopt(h->fd, SOL_SOCKET, SO_ERROR, &err, &elen) != 0 || err)
		die(EXIT_SETUP, "cannot connect to %s: %s", hostport, strerror(err ? err : errno));
}

static void tls_connect(hp *h, node_tls *tls)
{
	h->ssl = tls_ssl_new(tls, false);
	if (!h->ssl || SSL_set_fd(h->ssl, h->fd) != 1)
		die(EXIT_SETUP, "cannot set up TLS");
	for (;;) {
		int r = SSL_connect(h->ssl);
		if (r == 1)
			break;
		if (ssl_retry(h, r) != 0) {
			char why[256];
			die(EXIT_SETUP, "TLS handshake failed: %s",
			    tls_error_text(h->ssl, why, sizeof(why)));
		}
	}
	uint8_t pk[PL_PK_BYTES];
	char hx[2 * PL_PK_BYTES + 1];
	if (tls_peer_pubkey(h->ssl, pk) != 0)
		die(EXIT_SETUP, "TLS: %s", pl_err_detail());
	pl_hex_encode(hx, pk, sizeof(pk));
	printf("connected: %s, the peer's key %.16s...\n", SSL_get_version(h->ssl), hx);
}

static void parse_resume(hp *h, const char *v)
{
	const char *p = v;
	for (int l = 0; l < PL_LINK_LANES; l++) {
		char *end;
		errno = 0;
		unsigned long long n = strtoull(p, &end, 10);
		if (errno || end == p || *end != (l + 1 < PL_LINK_LANES ? ',' : '\0'))
			die(EXIT_USAGE, "--resume wants five numbers N,N,N,N,N, not %s", v);
		h->resume[l] = n;
		p = end + 1;
	}
}

/* ---------------------------------------------------------------- steps */

static unsigned parse_lane(const char *s, size_t n)
{
	char name[16];
	if (n == 0 || n >= sizeof(name))
		die(EXIT_USAGE, "bad lane in an item step");
	memcpy(name, s, n);
	name[n] = '\0';
	if (n == 1 && name[0] >= '0' && name[0] < '0' + PL_LINK_LANES)
		return (unsigned)(name[0] - '0');
	if (!strcmp(name, "CONTROL"))
		return 0;
	pl_lane l;
	if (pl_lane_parse(name, &l) != 0)
		die(EXIT_USAGE, "bad lane %s", name);
	return (unsigned)l;
}

static void step_item(hp *h, const char *spec)
{
	const char *c1 = strchr(spec, ':');
	const char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
	if (!c1 || !c2 || !c2[1])
		die(EXIT_USAGE, "item=LANE:LSEQ:FILE, not item=%s", spec);
	unsigned lane = parse_lane(spec, (size_t)(c1 - spec));
	uint64_t lseq;
	if ((size_t)(c2 - c1 - 1) == 4 && !strncmp(c1 + 1, "next", 4)) {
		if (h->sent_any[lane])
			lseq = h->last_sent[lane] + 1;
		else if (h->peer_hello)
			lseq = h->peer_next[lane];
		else
			die(EXIT_USAGE,
			    "item=%s: \"next\" needs the peer's HELLO first (wait-hello)", spec);
	} else {
		char *end;
		errno = 0;
		lseq = strtoull(c1 + 1, &end, 10);
		if (errno || end != c2)
			die(EXIT_USAGE, "bad LSEQ in item=%s", spec);
	}
	uint8_t *buf = NULL;
	size_t n = 0;
	if (pl_file_read(c2 + 1, PL_LINK_MAX_ITEM, &buf, &n) != 0 || n == 0)
		die(EXIT_SETUP, "cannot read an item from %s: %s", c2 + 1,
		    n ? pl_err_detail() : "empty");
	send_item(h, lane, lseq, buf, n);
	free(buf);
}

static void step_raw(hp *h, const char *hex)
{
	size_t cap = strlen(hex) / 2 + 1, n = 0;
	uint8_t *b = malloc(cap);
	if (!b || pl_hex_decode(b, cap, &n, hex, strlen(hex)) != 0 || n == 0)
		die(EXIT_USAGE, "raw=HEX wants an even number of hex digits");
	send_bytes(h, b, n);
	printf("sent: %zu raw bytes\n", n);
	free(b);
}

static void run_step(hp *h, const char *s)
{
	if (h->closed)
		die(EXIT_USAGE, "step %s after close", s);
	if (!strcmp(s, "hello"))
		send_hello(h);
	else if (!strcmp(s, "wait-hello"))
		await(h, has_hello, "wait-hello");
	else if (!strcmp(s, "wait"))
		await(h, all_receipted, "wait");
	else if (!strcmp(s, "wait-close"))
		await(h, peer_gone, "wait-close");
	else if (!strncmp(s, "item=", 5))
		step_item(h, s + 5);
	else if (!strncmp(s, "raw=", 4))
		step_raw(h, s + 4);
	else if (!strncmp(s, "close=", 6))
		send_close(h, s + 6);
	else if (!strncmp(s, "kind=", 5)) {
		char *end;
		errno = 0;
		unsigned long k = strtoul(s + 5, &end, 10);
		if (errno || *end || end == s + 5 || k > UINT32_MAX)
			die(EXIT_USAGE, "bad %s", s);
		h->kind = (uint32_t)k;
	} else
		die(EXIT_USAGE, "unknown step %s", s);
}

static void usage(void)
{
	die(EXIT_USAGE, "usage: hpeer --connect IPv4:PORT --home DIR --node NAME [--timeout S] "
			"[--resume N,N,N,N,N] STEP... (see tests/tools/hpeer.c)");
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN); /* a write to a peer that hung up fails, it does not kill */
	hp h = {.fd = -1, .kind = PL_LINK_KIND_ENVELOPE};
	for (int l = 0; l < PL_LINK_LANES; l++)
		h.resume[l] = 1;
	const char *connect_to = NULL, *home = NULL, *node = NULL;
	long timeout = 10;
	int i = 1;
	for (; i < argc && !strncmp(argv[i], "--", 2); i += 2) {
		if (i + 1 >= argc)
			usage();
		const char *a = argv[i], *v = argv[i + 1];
		if (!strcmp(a, "--connect"))
			connect_to = v;
		else if (!strcmp(a, "--home"))
			home = v;
		else if (!strcmp(a, "--node"))
			node = v;
		else if (!strcmp(a, "--resume"))
			parse_resume(&h, v);
		else if (!strcmp(a, "--timeout")) {
			char *end;
			errno = 0;
			timeout = strtol(v, &end, 10);
			if (errno || *end || timeout < 1 || timeout > 600)
				die(EXIT_USAGE, "--timeout wants 1..600 seconds");
		} else
			usage();
	}
	if (!connect_to || !home || !node || i == argc)
		usage();
	if (pl_crypto_init() != 0)
		die(EXIT_SETUP, "cannot initialise the crypto library");
	h.deadline = now_ms() + timeout * 1000;

	char key[1024], rec[1024];
	if (snprintf(key, sizeof(key), "%s/nodes/%s.key", home, node) >= (int)sizeof(key) ||
	    snprintf(rec, sizeof(rec), "%s/nodes/%s.rec", home, node) >= (int)sizeof(rec))
		die(EXIT_USAGE, "--home too long");
	if (pl_file_read(rec, PL_LINK_MAX_NODE_REC, &h.rec, &h.rec_len) != 0)
		die(EXIT_SETUP, "cannot read the node record: %s", pl_err_detail());
	node_tls *tls = NULL;
	if (tls_load(&tls, key, node) != 0)
		die(EXIT_SETUP, "cannot load the node key: %s", pl_err_detail());
	tcp_connect(&h, connect_to);
	tls_connect(&h, tls);

	for (; i < argc; i++)
		run_step(&h, argv[i]);
	if (!h.closed && !h.peer_closed && !h.ended)
		send_close(&h, "hpeer done");
	printf("hpeer: done\n");
	if (!h.ended)
		(void)SSL_shutdown(h.ssl); /* close_notify, best effort: no waiting */
	SSL_free(h.ssl);
	close(h.fd);
	tls_free(tls);
	pl_buf_clear(&h.in);
	free(h.rec);
	return 0;
}
