/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Peer connections over TLS 1.3 with libevent (see net.h).
 *
 * A connection (net_conn) goes through: TCP connect (outbound only, our
 * own non-blocking connect so that the exact errno is known), TLS
 * handshake in a bufferevent_openssl, then open (on_open .. on_close).
 * Outbound connections belong to a net_peer, which redials with backoff
 * whenever its connection fails or closes.
 *
 * Lifetime rule: a conn is freed only when no callback of ours is running
 * for it (busy == 0).  Every libevent callback holds it; closing inside a
 * callback marks it closed and the last release frees it.  Bufferevents use
 * BEV_OPT_DEFER_CALLBACKS so that libevent never calls us from inside a
 * net_write() the application made.
 *
 * Divisions: helpers and backoff; connection lifetime; bufferevent
 * callbacks; outbound dialling; inbound listening; the public API.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/buffer.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "parley/crypto.h"
#include "parley/err.h"
#include "parley/identity.h"

#include "config.h"
#include "log.h"
#include "net.h"
#include "tls.h"

/* ------------------------------------------------------------ types */

typedef struct net_peer net_peer;

/* The end (in bytes put into a connection's held buffer) of a span of it
 * that waits until tag commits are synced. */
struct held_mark {
	uint64_t tag, end;
};

struct net_conn {
	net_conn *prev, *next; /* in net->conns */
	net *net;
	net_peer *peer;     /* owning peer for outbound, NULL for inbound or once removed */
	evutil_socket_t fd; /* during the TCP connect; -1 once the bufferevent owns it */
	struct event *connect_ev;
	struct event *hs_timer;
	struct bufferevent *bev;
	/* Output held by the gate: held's bytes, in spans each waiting for a
	 * count of commits (marks[mhead..mlen), ends counted from held_base). */
	struct evbuffer *held;
	struct held_mark *marks;
	size_t mhead, mlen, mcap;
	uint64_t held_in, held_out; /* bytes put into held, moved out of it */
	bool outbound, opened, closed, reading;
	bool tls_broken; /* TLS reported an error or EOF: no close_notify then */
	int busy;
	uint8_t pk[PL_PK_BYTES];
	void *user;
	char peer_name[NET_NAME_MAX + 1];
	char addr[INET6_ADDRSTRLEN + 8];
};

struct net_peer {
	net_peer *next;
	net *net;
	char name[NET_NAME_MAX + 1];
	char hostport[NODE_ADDR_MAX + 1];
	char host[256];
	uint16_t port;
	net_conn *conn; /* connecting or open */
	struct event *timer;
	struct evdns_getaddrinfo_request *dns_req;
	bool resolving;
	uint64_t opened_at_ms;
	net_peer_status st;
};

struct net {
	struct event_base *base;
	node_tls *tls;
	net_params prm;
	net_callbacks cb;
	void *ctx;
	struct evconnlistener *listener;
	struct event *relisten_timer;
	uint16_t port;
	struct evdns_base *dns;
	net_peer *peers;
	net_conn *conns;
	unsigned handshaking_in;
	net_stats stats;
	uint64_t (*gate)(void *arg); /* net_set_gate */
	void *gate_arg;
	uint64_t held_total;
};

/* ------------------------------------------------------------ helpers, backoff */

void net_params_default(net_params *p)
{
	p->backoff_min_ms = 200;
	p->backoff_max_ms = 60000;
	p->handshake_timeout_ms = 10000;
	p->stable_ms = 10000;
	p->read_high = 256 * 1024;
	p->write_low = 64 * 1024;
	p->sock_buf = 64 * 1024;
	p->max_handshakes = 64;
	p->hosts_file = NULL;
}

uint32_t net_backoff_ceiling(uint32_t min_ms, uint32_t max_ms, unsigned failures)
{
	if (failures == 0 || min_ms == 0)
		return 0;
	uint64_t c = min_ms;
	for (unsigned i = 1; i < failures && c < max_ms; i++)
		c *= 2;
	return c > max_ms ? max_ms : (uint32_t)c;
}

uint32_t net_backoff_delay(uint32_t min_ms, uint32_t max_ms, unsigned failures, uint32_t rnd)
{
	uint32_t ceiling = net_backoff_ceiling(min_ms, max_ms, failures);
	if (ceiling == 0)
		return 0;
	return (uint32_t)((uint64_t)rnd % ((uint64_t)ceiling + 1));
}

static uint64_t mono_ms(void)
{
	struct timespec ts;
	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		return 0;
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static struct timeval ms_to_tv(uint32_t ms)
{
	struct timeval tv = {.tv_sec = (time_t)(ms / 1000),
			     .tv_usec = (suseconds_t)(ms % 1000) * 1000};
	return tv;
}

static void copy_str(char *dst, size_t cap, const char *src)
{
	size_t n = strnlen(src, cap - 1);
	memcpy(dst, src, n);
	dst[n] = '\0';
}

static void sa_to_text(const struct sockaddr *sa, char *out, size_t cap)
{
	char ip[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
		inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
		port = ntohs(in->sin_port);
		snprintf(out, cap, "%s:%u", ip, port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
		inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
		port = ntohs(in6->sin6_port);
		snprintf(out, cap, "[%s]:%u", ip, port);
	} else {
		snprintf(out, cap, "?");
	}
}

/* Fill ss from a numeric host and port; false when host is not an IP literal. */
static bool numeric_sockaddr(const char *host, uint16_t port, struct sockaddr_storage *ss,
			     socklen_t *len)
{
	memset(ss, 0, sizeof(*ss));
	struct sockaddr_in *in = (struct sockaddr_in *)(void *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)(void *)ss;
	if (inet_pton(AF_INET, host, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		in->sin_port = htons(port);
		*len = sizeof(*in);
		return true;
	}
	if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		*len = sizeof(*in6);
		return true;
	}
	return false;
}

static void key_id_hex(const uint8_t pk[PL_PK_BYTES], char out[2 * PL_KEYID_BYTES + 1])
{
	uint8_t id[PL_KEYID_BYTES];
	pl_key_id(id, pk);
	pl_hex_encode(out, id, sizeof(id));
}

static void schedule_retry(net_peer *p);

/* ------------------------------------------------------------ connection lifetime */

static net_conn *conn_new(net *n, bool outbound)
{
	net_conn *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->net = n;
	c->fd = -1;
	c->outbound = outbound;
	c->reading = true;
	c->next = n->conns;
	if (n->conns)
		n->conns->prev = c;
	n->conns = c;
	return c;
}

static void conn_destroy(net_conn *c)
{
	net *n = c->net;
	if (c->prev)
		c->prev->next = c->next;
	else
		n->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	if (c->connect_ev)
		event_free(c->connect_ev);
	if (c->hs_timer)
		event_free(c->hs_timer);
	if (c->bev && c->opened && !c->tls_broken) {
		/* Best effort close_notify, so that the peer sees a clean close
		 * rather than "unexpected eof"; pending output is discarded.
		 * (OpenSSL forbids SSL_shutdown after a fatal error.) */
		SSL *ssl = bufferevent_openssl_get_ssl(c->bev);
		if (ssl) {
			SSL_shutdown(ssl);
			ERR_clear_error();
		}
	}
	if (c->held)
		evbuffer_free(c->held);
	free(c->marks);
	if (c->bev)
		bufferevent_free(c->bev); /* closes the socket and frees the SSL */
	else if (c->fd >= 0)
		evutil_closesocket(c->fd);
	free(c);
}

static void conn_hold(net_conn *c)
{
	c->busy++;
}

static void conn_release(net_conn *c)
{
	if (--c->busy == 0 && c->closed)
		conn_destroy(c);
}

/*
 * The one way a connection ends.  Stops its I/O, tells its peer (which
 * schedules a redial), tells the application if it had been opened, and
 * frees it unless a callback of ours is still running for it.
 */
static void conn_end(net_conn *c, const char *reason, bool handshake_failure)
{
	if (c->closed)
		return;
	net *n = c->net;
	c->closed = true;
	if (c->bev) {
		bufferevent_disable(c->bev, EV_READ | EV_WRITE);
		bufferevent_setcb(c->bev, NULL, NULL, NULL, NULL);
	}
	if (c->connect_ev)
		event_del(c->connect_ev);
	if (c->hs_timer)
		event_del(c->hs_timer);
	if (!c->outbound && !c->opened)
		n->handshaking_in--;
	if (c->opened)
		n->stats.open_now--;
	if (handshake_failure)
		n->stats.handshake_failed++;

	const char *dir = c->outbound ? "out" : "in";
	const char *who = c->outbound ? c->peer_name : "-";
	if (c->opened)
		node_log(NODE_LOG_INFO, "link down", "peer=%s dir=%s addr=%s reason=%s", who, dir,
			 c->addr, reason);
	else if (handshake_failure)
		node_log(NODE_LOG_WARN, "TLS handshake failed", "peer=%s dir=%s addr=%s error=%s",
			 who, dir, c->addr, reason);
	else if (c->outbound)
		node_log(NODE_LOG_WARN, "connection failed", "peer=%s addr=%s error=%s", who,
			 c->addr, reason);

	net_peer *p = c->peer;
	if (p) {
		p->conn = NULL;
		c->peer = NULL;
		copy_str(p->st.last_error, sizeof(p->st.last_error), reason);
		if (c->opened && mono_ms() - p->opened_at_ms >= n->prm.stable_ms)
			p->st.failures = 0;
		if (p->st.failures < 1000)
			p->st.failures++;
		schedule_retry(p);
	}
	if (c->opened && n->cb.on_close) {
		conn_hold(c);
		n->cb.on_close(n->ctx, c, reason);
		c->busy--;
	}
	if (c->busy == 0)
		conn_destroy(c);
}

static void conn_opened(net_conn *c)
{
	net *n = c->net;
	SSL *ssl = bufferevent_openssl_get_ssl(c->bev);
	if (tls_peer_pubkey(ssl, c->pk) != 0) {
		conn_end(c, pl_err_detail(), true);
		return;
	}
	if (c->hs_timer)
		event_del(c->hs_timer);
	c->opened = true;
	if (!c->outbound)
		n->handshaking_in--;
	n->stats.opened++;
	n->stats.open_now++;
	bufferevent_setwatermark(c->bev, EV_READ, 0, n->prm.read_high);
	bufferevent_setwatermark(c->bev, EV_WRITE, n->prm.write_low, 0);
	/* libevent reads at most 16 KiB per read event by default, one TLS
	 * record of a peer that writes full ones (node/peer.c, OUT_BLOCK): let
	 * it read two, as many as its TLS layer takes per event */
	bufferevent_set_max_single_read(c->bev, n->prm.read_high);
	if (c->reading)
		bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	else
		bufferevent_disable(c->bev, EV_READ);

	net_peer *p = c->peer;
	if (p) {
		p->st.state = NET_PEER_OPEN;
		p->st.opens++;
		p->st.last_error[0] = '\0';
		p->opened_at_ms = mono_ms();
	}
	char kid[2 * PL_KEYID_BYTES + 1];
	key_id_hex(c->pk, kid);
	node_log(NODE_LOG_INFO, "link up", "peer=%s dir=%s addr=%s key_id=%s",
		 c->outbound ? c->peer_name : "-", c->outbound ? "out" : "in", c->addr, kid);
	n->cb.on_open(n->ctx, c, c->pk, c->outbound, c->outbound ? c->peer_name : NULL);
}

/* ------------------------------------------------------------ bufferevent callbacks */

static void conn_read_cb(struct bufferevent *bev, void *arg)
{
	net_conn *c = arg;
	net *n = c->net;
	struct evbuffer *in = bufferevent_get_input(bev);
	conn_hold(c);
	while (!c->closed && c->reading && evbuffer_get_length(in) > 0) {
		struct evbuffer_iovec v;
		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1 || v.iov_len == 0)
			break;
		n->cb.on_data(n->ctx, c, v.iov_base, v.iov_len);
		if (c->closed)
			break;
		evbuffer_drain(in, v.iov_len);
	}
	conn_release(c);
}

static void conn_write_cb(struct bufferevent *bev, void *arg)
{
	net_conn *c = arg;
	net *n = c->net;
	(void)bev;
	if (!c->opened || c->closed || !n->cb.on_writable)
		return;
	conn_hold(c);
	n->cb.on_writable(n->ctx, c);
	conn_release(c);
}

/* Why the bufferevent reported `what`: OpenSSL's reasons when it has any. */
static void describe_event(net_conn *c, short what, char *buf, size_t cap)
{
	buf[0] = '\0';
	unsigned long e;
	while ((e = bufferevent_get_openssl_error(c->bev)) != 0)
		tls_error_append(buf, cap, e);
	char more[200];
	tls_error_text(c->opened ? NULL : bufferevent_openssl_get_ssl(c->bev), more, sizeof(more));
	if (more[0])
		snprintf(buf + strlen(buf), cap - strlen(buf), "%s%s", buf[0] ? "; " : "", more);
	if (buf[0])
		return;
	if (what & BEV_EVENT_EOF)
		snprintf(buf, cap,
			 c->opened ? "closed by peer" : "closed by peer during handshake");
	else if (what & BEV_EVENT_TIMEOUT)
		snprintf(buf, cap, "timed out");
	else
		snprintf(buf, cap, "connection error");
}

static void conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	net_conn *c = arg;
	(void)bev;
	conn_hold(c);
	if (!c->closed) {
		if (what & BEV_EVENT_CONNECTED) {
			if (!c->opened)
				conn_opened(c);
		} else if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) {
			char why[256];
			c->tls_broken = true;
			describe_event(c, what, why, sizeof(why));
			conn_end(c, why, !c->opened);
		}
	}
	conn_release(c);
}

static void hs_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	net_conn *c = arg;
	(void)fd;
	(void)what;
	conn_hold(c);
	if (c->bev)
		conn_end(c, "TLS handshake timed out", true);
	else
		conn_end(c, "timed out connecting", false);
	conn_release(c);
}

/* Wrap the connected socket c->fd in a TLS bufferevent and start the
 * handshake.  false (with c->fd still owned by c) on failure. */
static bool conn_start_tls(net_conn *c, bool server)
{
	net *n = c->net;
	SSL *ssl = tls_ssl_new(n->tls, server);
	if (!ssl)
		return false;
	c->bev = bufferevent_openssl_socket_new(
	    n->base, c->fd, ssl, server ? BUFFEREVENT_SSL_ACCEPTING : BUFFEREVENT_SSL_CONNECTING,
	    BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (!c->bev)
		return false; /* libevent freed ssl (CLOSE_ON_FREE) but not the socket */
	c->fd = -1;
	bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
	bufferevent_setcb(c->bev, conn_read_cb, conn_write_cb, conn_event_cb, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	return true;
}

/* No Nagle delay, and (unless 0) bounded kernel buffers: what is in flight
 * is what a FLASH written now must wait behind. */
static void set_sockopts(const net *n, evutil_socket_t fd)
{
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (n->prm.sock_buf > 0) {
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &n->prm.sock_buf, sizeof(n->prm.sock_buf));
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &n->prm.sock_buf, sizeof(n->prm.sock_buf));
	}
}

/* ------------------------------------------------------------ outbound */

static void retry_cb(evutil_socket_t fd, short what, void *arg);
static void dial(net_peer *p);

static void schedule_retry(net_peer *p)
{
	net *n = p->net;
	uint32_t rnd;
	pl_random(&rnd, sizeof(rnd));
	uint32_t d =
	    net_backoff_delay(n->prm.backoff_min_ms, n->prm.backoff_max_ms, p->st.failures, rnd);
	p->st.state = NET_PEER_WAITING;
	p->st.next_delay_ms = d;
	struct timeval tv = ms_to_tv(d);
	evtimer_add(p->timer, &tv);
	node_log(NODE_LOG_DEBUG, "redial scheduled", "peer=%s failures=%u delay_ms=%u", p->name,
		 p->st.failures, d);
}

/* The attempt failed before any connection object took over. */
static void dial_failed(net_peer *p, const char *why)
{
	node_log(NODE_LOG_WARN, "connection failed", "peer=%s addr=%s error=%s", p->name,
		 p->hostport, why);
	copy_str(p->st.last_error, sizeof(p->st.last_error), why);
	if (p->st.failures < 1000)
		p->st.failures++;
	schedule_retry(p);
}

static void tcp_connected_cb(evutil_socket_t fd, short what, void *arg)
{
	net_conn *c = arg;
	(void)what;
	int err = 0;
	socklen_t len = sizeof(err);
	conn_hold(c);
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
		err = errno;
	if (err) {
		char why[160];
		snprintf(why, sizeof(why), "connect: %s", strerror(err));
		conn_end(c, why, false);
	} else if (!conn_start_tls(c, false)) {
		conn_end(c, "cannot set up TLS", false);
	}
	conn_release(c);
}

static void connect_to(net_peer *p, const struct sockaddr *sa, socklen_t salen)
{
	net *n = p->net;
	net_conn *c = conn_new(n, true);
	if (!c) {
		dial_failed(p, "out of memory");
		return;
	}
	c->peer = p;
	p->conn = c;
	copy_str(c->peer_name, sizeof(c->peer_name), p->name);
	sa_to_text(sa, c->addr, sizeof(c->addr));
	c->hs_timer = evtimer_new(n->base, hs_timeout_cb, c);
	c->fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (!c->hs_timer || c->fd < 0) {
		conn_end(c, c->fd < 0 ? strerror(errno) : "out of memory", false);
		return;
	}
	set_sockopts(n, c->fd);
	struct timeval tv = ms_to_tv(n->prm.handshake_timeout_ms);
	evtimer_add(c->hs_timer, &tv);
	if (connect(c->fd, sa, salen) != 0 && errno != EINPROGRESS) {
		char why[160];
		snprintf(why, sizeof(why), "connect: %s", strerror(errno));
		conn_end(c, why, false);
		return;
	}
	c->connect_ev = event_new(n->base, c->fd, EV_WRITE, tcp_connected_cb, c);
	if (!c->connect_ev || event_add(c->connect_ev, NULL) != 0)
		conn_end(c, "out of memory", false);
}

static void dns_cb(int result, struct evutil_addrinfo *res, void *arg)
{
	if (result == EVUTIL_EAI_CANCEL) {
		if (res)
			evutil_freeaddrinfo(res);
		return; /* the peer is being removed: do not touch it */
	}
	net_peer *p = arg;
	p->resolving = false;
	p->dns_req = NULL;
	evtimer_del(p->timer);
	if (result != 0 || !res) {
		char why[320];
		snprintf(why, sizeof(why), "resolving %s: %s", p->host,
			 result ? evutil_gai_strerror(result) : "no address");
		dial_failed(p, why);
	} else {
		/* several addresses: successive attempts take them in turn */
		size_t count = 0;
		for (struct evutil_addrinfo *ai = res; ai; ai = ai->ai_next)
			count++;
		struct evutil_addrinfo *pick = res;
		for (uint64_t k = (p->st.attempts - 1) % count; k > 0; k--)
			pick = pick->ai_next;
		connect_to(p, pick->ai_addr, (socklen_t)pick->ai_addrlen);
	}
	if (res)
		evutil_freeaddrinfo(res);
}

static void dial(net_peer *p)
{
	net *n = p->net;
	p->st.attempts++;
	p->st.state = NET_PEER_CONNECTING;
	struct sockaddr_storage ss;
	socklen_t len;
	if (numeric_sockaddr(p->host, p->port, &ss, &len)) {
		connect_to(p, (struct sockaddr *)&ss, len);
		return;
	}
	if (!n->dns) {
		if (n->prm.hosts_file) {
			n->dns = evdns_base_new(n->base, EVDNS_BASE_DISABLE_WHEN_INACTIVE);
			if (n->dns && evdns_base_load_hosts(n->dns, n->prm.hosts_file) != 0) {
				evdns_base_free(n->dns, 0);
				n->dns = NULL;
			}
		} else {
			n->dns = evdns_base_new(n->base, EVDNS_BASE_INITIALIZE_NAMESERVERS |
							     EVDNS_BASE_DISABLE_WHEN_INACTIVE);
		}
		if (!n->dns) {
			dial_failed(p, "no DNS resolver available");
			return;
		}
	}
	char port[8];
	snprintf(port, sizeof(port), "%u", (unsigned)p->port);
	struct evutil_addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
	p->resolving = true;
	struct evdns_getaddrinfo_request *req =
	    evdns_getaddrinfo(n->dns, p->host, port, &hints, dns_cb, p);
	if (p->resolving) {
		p->dns_req = req; /* NULL when dns_cb already ran */
		struct timeval tv = ms_to_tv(n->prm.handshake_timeout_ms);
		evtimer_add(p->timer, &tv);
	}
}

/* The peer's timer: the redial when waiting, the deadline when resolving. */
static void retry_cb(evutil_socket_t fd, short what, void *arg)
{
	net_peer *p = arg;
	(void)fd;
	(void)what;
	if (p->resolving) {
		struct evdns_getaddrinfo_request *req = p->dns_req;
		p->resolving = false;
		p->dns_req = NULL;
		if (req)
			evdns_getaddrinfo_cancel(req);
		char why[320];
		snprintf(why, sizeof(why), "resolving %s: timed out", p->host);
		dial_failed(p, why);
		return;
	}
	dial(p);
}

static net_peer *find_peer(const net *n, const char *name)
{
	for (net_peer *p = n->peers; p; p = p->next)
		if (strcmp(p->name, name) == 0)
			return p;
	return NULL;
}

static void peer_free(net_peer *p)
{
	if (p->dns_req)
		evdns_getaddrinfo_cancel(p->dns_req);
	if (p->timer)
		event_free(p->timer);
	free(p);
}

/* ------------------------------------------------------------ inbound */

static void accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
		      void *arg)
{
	net *n = arg;
	(void)l;
	(void)salen;
	n->stats.accepted++;
	char addr[INET6_ADDRSTRLEN + 8];
	sa_to_text(sa, addr, sizeof(addr));
	if (n->handshaking_in >= n->prm.max_handshakes) {
		node_log(NODE_LOG_WARN, "too many handshakes in progress; connection dropped",
			 "addr=%s limit=%u", addr, n->prm.max_handshakes);
		evutil_closesocket(fd);
		return;
	}
	net_conn *c = conn_new(n, false);
	if (!c) {
		evutil_closesocket(fd);
		return;
	}
	n->handshaking_in++;
	c->fd = fd;
	copy_str(c->addr, sizeof(c->addr), addr);
	set_sockopts(n, fd);
	c->hs_timer = evtimer_new(n->base, hs_timeout_cb, c);
	if (!c->hs_timer || !conn_start_tls(c, true)) {
		conn_end(c, "cannot set up TLS", false);
		return;
	}
	struct timeval tv = ms_to_tv(n->prm.handshake_timeout_ms);
	evtimer_add(c->hs_timer, &tv);
}

static void relisten_cb(evutil_socket_t fd, short what, void *arg)
{
	net *n = arg;
	(void)fd;
	(void)what;
	if (n->listener)
		evconnlistener_enable(n->listener);
}

/* accept() failed for a reason other than "try again" (e.g. out of file
 * descriptors): pause accepting for a second instead of spinning. */
static void listener_error_cb(struct evconnlistener *l, void *arg)
{
	net *n = arg;
	int e = EVUTIL_SOCKET_ERROR();
	node_log(NODE_LOG_ERROR, "accept failed; pausing for 1 s", "error=%s",
		 evutil_socket_error_to_string(e));
	evconnlistener_disable(l);
	struct timeval tv = {1, 0};
	evtimer_add(n->relisten_timer, &tv);
}

/* ------------------------------------------------------------ public API */

net *net_new(struct event_base *base, node_tls *tls, const net_params *params,
	     const net_callbacks *cb, void *ctx)
{
	if (!base || !tls || !cb || !cb->on_open || !cb->on_data || !cb->on_close)
		return NULL;
	net_params prm;
	if (params)
		prm = *params;
	else
		net_params_default(&prm);
	if (prm.backoff_min_ms == 0 || prm.backoff_min_ms > prm.backoff_max_ms ||
	    prm.handshake_timeout_ms == 0 || prm.read_high == 0)
		return NULL;

	/* OpenSSL writes with write(2): a reset peer must not kill the daemon. */
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGPIPE, &sa, NULL);

	net *n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	n->base = base;
	n->tls = tls;
	n->prm = prm;
	n->cb = *cb;
	n->ctx = ctx;
	n->relisten_timer = evtimer_new(base, relisten_cb, n);
	if (!n->relisten_timer) {
		free(n);
		return NULL;
	}
	return n;
}

void net_free(net *n)
{
	if (!n)
		return;
	while (n->conns) {
		net_conn *c = n->conns;
		c->closed = true;
		conn_destroy(c);
	}
	while (n->peers) {
		net_peer *p = n->peers;
		n->peers = p->next;
		peer_free(p);
	}
	if (n->listener)
		evconnlistener_free(n->listener);
	event_free(n->relisten_timer);
	if (n->dns)
		evdns_base_free(n->dns, 0);
	free(n);
}

int net_listen(net *n, const char *hostport)
{
	if (n->listener)
		return pl_err_fail(PL_ERR_EXISTS, "already listening on port %u", n->port);
	char host[256];
	uint16_t port;
	int rc = node_addr_split(hostport, host, sizeof(host), &port, true);
	if (rc != 0)
		return rc;
	struct sockaddr_storage ss;
	socklen_t len;
	if (!numeric_sockaddr(host, port, &ss, &len))
		return pl_err_fail(PL_ERR_MALFORMED, "listen address '%s' is not an IP address",
				   hostport);
	n->listener = evconnlistener_new_bind(n->base, accept_cb, n,
					      LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC |
						  LEV_OPT_REUSEABLE,
					      64, (struct sockaddr *)&ss, (int)len);
	if (!n->listener)
		return pl_err_fail(PL_ERR_IO, "cannot listen on %s: %s", hostport, strerror(errno));
	evconnlistener_set_error_cb(n->listener, listener_error_cb);
	struct sockaddr_storage bound;
	socklen_t blen = sizeof(bound);
	evutil_socket_t fd = evconnlistener_get_fd(n->listener);
	if (getsockname(fd, (struct sockaddr *)&bound, &blen) != 0) {
		int e = errno;
		net_unlisten(n);
		return pl_err_fail(PL_ERR_IO, "getsockname: %s", strerror(e));
	}
	char text[INET6_ADDRSTRLEN + 8];
	sa_to_text((struct sockaddr *)&bound, text, sizeof(text));
	n->port = bound.ss_family == AF_INET6
		      ? ntohs(((struct sockaddr_in6 *)(void *)&bound)->sin6_port)
		      : ntohs(((struct sockaddr_in *)(void *)&bound)->sin_port);
	node_log(NODE_LOG_INFO, "listening for peers", "addr=%s", text);
	return 0;
}

uint16_t net_listen_port(const net *n)
{
	return n->listener ? n->port : 0;
}

void net_unlisten(net *n)
{
	if (!n->listener)
		return;
	evconnlistener_free(n->listener);
	n->listener = NULL;
	n->port = 0;
	event_del(n->relisten_timer);
}

bool net_name_is_valid(const char *name)
{
	const char *plus = name ? strchr(name, '+') : NULL;
	if (!plus)
		return pl_name_is_valid(name);
	char head[PL_NAME_MAX + 1];
	size_t len = (size_t)(plus - name);
	if (len > PL_NAME_MAX)
		return false;
	memcpy(head, name, len);
	head[len] = '\0';
	return pl_name_is_valid(head) && pl_name_is_valid(plus + 1);
}

int net_add_peer(net *n, const char *name, const char *hostport)
{
	if (!net_name_is_valid(name))
		return pl_err_fail(PL_ERR_MALFORMED, "bad peer name");
	if (find_peer(n, name))
		return pl_err_fail(PL_ERR_EXISTS, "peer '%s' already added", name);
	net_peer *p = calloc(1, sizeof(*p));
	if (!p)
		return PL_ERR_NOMEM;
	int rc = node_addr_split(hostport, p->host, sizeof(p->host), &p->port, false);
	if (rc != 0) {
		free(p);
		return rc;
	}
	p->net = n;
	copy_str(p->name, sizeof(p->name), name);
	copy_str(p->hostport, sizeof(p->hostport), hostport);
	p->timer = evtimer_new(n->base, retry_cb, p);
	if (!p->timer) {
		free(p);
		return PL_ERR_NOMEM;
	}
	p->next = n->peers;
	n->peers = p;
	dial(p);
	return 0;
}

int net_remove_peer(net *n, const char *name)
{
	net_peer **pp = &n->peers;
	while (*pp && strcmp((*pp)->name, name) != 0)
		pp = &(*pp)->next;
	net_peer *p = *pp;
	if (!p)
		return pl_err_fail(PL_ERR_NOT_FOUND, "no peer '%s'", name);
	*pp = p->next;
	net_conn *c = p->conn;
	if (c) {
		c->peer = NULL; /* no redial */
		p->conn = NULL;
		conn_end(c, "peer removed", false);
	}
	peer_free(p);
	return 0;
}

int net_peer_kick(net *n, const char *name)
{
	net_peer *p = find_peer(n, name);
	if (!p)
		return pl_err_fail(PL_ERR_NOT_FOUND, "no peer '%s'", name);
	p->st.failures = 0;
	if (p->conn || p->resolving)
		return 0; /* connecting or open already */
	evtimer_del(p->timer);
	node_log(NODE_LOG_DEBUG, "redial now", "peer=%s", p->name);
	dial(p);
	return 0;
}

int net_peer_status_get(const net *n, const char *name, net_peer_status *st)
{
	const net_peer *p = find_peer(n, name);
	if (!p)
		return pl_err_fail(PL_ERR_NOT_FOUND, "no peer '%s'", name);
	*st = p->st;
	return 0;
}

void net_stats_get(const net *n, net_stats *st)
{
	*st = n->stats;
}

/* Hold n bytes on c until tag commits are synced (net_set_gate). */
static int conn_hold_output(net_conn *c, uint64_t tag, const void *p, size_t n)
{
	if (!c->held && !(c->held = evbuffer_new()))
		return PL_ERR_NOMEM;
	struct held_mark *last = c->mlen > c->mhead ? &c->marks[c->mlen - 1] : NULL;
	if (last && tag < last->tag)
		tag = last->tag; /* behind what is held, whatever it waits for */
	if (!last || last->tag != tag) {
		if (c->mhead && c->mlen == c->mcap) { /* reuse the room of released marks */
			memmove(c->marks, c->marks + c->mhead,
				(c->mlen - c->mhead) * sizeof(*c->marks));
			c->mlen -= c->mhead;
			c->mhead = 0;
		}
		if (c->mlen == c->mcap) {
			size_t cap = c->mcap ? 2 * c->mcap : 8;
			struct held_mark *m = realloc(c->marks, cap * sizeof(*m));
			if (!m)
				return PL_ERR_NOMEM;
			c->marks = m;
			c->mcap = cap;
		}
		last = &c->marks[c->mlen++];
		last->tag = tag;
	}
	if (evbuffer_add(c->held, p, n) != 0)
		return PL_ERR_NOMEM;
	c->held_in += n;
	last->end = c->held_in;
	c->net->held_total++;
	return 0;
}

int net_write(net_conn *c, const void *p, size_t n)
{
	if (c->closed || !c->opened || !c->bev)
		return pl_err_fail(PL_ERR_INVALID, "connection is not open");
	if (n == 0)
		return 0;
	uint64_t tag = c->net->gate ? c->net->gate(c->net->gate_arg) : 0;
	if (tag || c->mlen > c->mhead)
		return conn_hold_output(c, tag, p, n);
	if (bufferevent_write(c->bev, p, n) != 0)
		return PL_ERR_NOMEM;
	return 0;
}

size_t net_output_pending(const net_conn *c)
{
	if (!c->bev)
		return 0;
	return evbuffer_get_length(bufferevent_get_output(c->bev)) +
	       (size_t)(c->held_in - c->held_out);
}

void net_set_gate(net *n, uint64_t (*tag)(void *arg), void *arg)
{
	n->gate = tag;
	n->gate_arg = arg;
}

void net_release(net *n, uint64_t synced)
{
	for (net_conn *c = n->conns; c; c = c->next) {
		if (c->closed || !c->bev)
			continue;
		while (c->mhead < c->mlen && c->marks[c->mhead].tag <= synced) {
			uint64_t end = c->marks[c->mhead++].end;
			/* Moves whole chunks: the TLS records stay as net_write made them. */
			evbuffer_remove_buffer(c->held, bufferevent_get_output(c->bev),
					       (size_t)(end - c->held_out));
			c->held_out = end;
		}
		if (c->mhead == c->mlen)
			c->mhead = c->mlen = 0;
	}
}

uint64_t net_held_total(const net *n)
{
	return n->held_total;
}

void net_close(net_conn *c, const char *reason)
{
	if (!c || c->closed)
		return;
	char copy[200];
	copy_str(copy, sizeof(copy), reason ? reason : "closed locally");
	conn_end(c, copy, false);
}

void net_set_priority(net_conn *c, int prio)
{
	if (c->bev && !c->closed)
		(void)bufferevent_priority_set(c->bev, prio);
}

bool net_conn_readable(const net_conn *c)
{
	if (!c->bev || c->closed || !c->opened)
		return false;
	if (evbuffer_get_length(bufferevent_get_input(c->bev)) > 0)
		return true;
	SSL *ssl = bufferevent_openssl_get_ssl(c->bev);
	if (ssl && SSL_pending(ssl) > 0)
		return true;
	struct pollfd pfd = {.fd = bufferevent_getfd(c->bev), .events = POLLIN};
	return pfd.fd >= 0 && poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLIN);
}

void net_set_reading(net_conn *c, bool on)
{
	if (c->closed || c->reading == on)
		return;
	c->reading = on;
	if (!c->opened || !c->bev)
		return; /* applied when it opens */
	if (on) {
		bufferevent_enable(c->bev, EV_READ);
		if (evbuffer_get_length(bufferevent_get_input(c->bev)) > 0)
			bufferevent_trigger(c->bev, EV_READ,
					    BEV_TRIG_IGNORE_WATERMARKS | BEV_TRIG_DEFER_CALLBACKS);
	} else {
		bufferevent_disable(c->bev, EV_READ);
	}
}

void net_conn_set_user(net_conn *c, void *user)
{
	c->user = user;
}

void *net_conn_user(const net_conn *c)
{
	return c->user;
}

const char *net_conn_peer(const net_conn *c)
{
	return c->outbound ? c->peer_name : NULL;
}

bool net_conn_is_outbound(const net_conn *c)
{
	return c->outbound;
}

const char *net_conn_address(const net_conn *c)
{
	return c->addr;
}

const uint8_t *net_conn_peer_pk(const net_conn *c)
{
	return c->pk;
}
