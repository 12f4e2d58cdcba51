/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fproxy: a fault-injecting TCP proxy for the fault harness (tests/faults).
 *
 *   fproxy --listen HOST:PORT --target HOST:PORT [--control HOST:PORT]
 *          [--seed N] [--ports-file FILE]
 *
 * It accepts connections on --listen and forwards each, byte for byte, to
 * --target, until told otherwise on its control port: a line protocol on
 * loopback, one command per line, one answer line per command ("ok ..." or
 * "error: ...").  Port 0 takes a free port; --ports-file then receives
 * "LISTEN_PORT CONTROL_PORT\n" (written whole, by rename) once both listen.
 *
 *   pass                      forward normally (ends the current fault)
 *   drop MS                   discard every byte in both directions; the
 *                             connections stay open (TLS sees a torn stream)
 *   stall MS                  stop reading both sides; connections stay open,
 *                             TCP flow control holds the senders
 *   stall-busy BYTES MS       stall only the connections that have carried
 *                             BYTES or more (both ways) so far; the others,
 *                             and new ones, pass
 *   stall-quiet BYTES MS      the same for those that carried less
 *   delay MS JITTER_MS FOR_MS hold each chunk MS +- JITTER_MS, order kept
 *   reset BYTES FOR_MS        each connection is cut with a TCP RST after
 *                             BYTES more bytes (in the middle of a frame)
 *   halfopen up|down FOR_MS   silently discard one direction (up: towards
 *                             the target); at the end, connections that lost
 *                             bytes are reset, as a peer that returns would
 *   blackhole MS              accept nothing new, discard everything; at the
 *                             end every connection is reset
 *   flap UP_MS DOWN_MS FOR_MS cycle: DOWN resets every connection and
 *                             refuses new ones with a RST; UP passes
 *   stats                     counters, one line
 *   quit                      exit 0
 *
 * Every fault ends by itself (at most 600000 ms) and the proxy returns to
 * pass; a new command replaces the current fault.  Jitter comes from a
 * generator seeded by --seed, so a run is repeatable as far as the kernel
 * allows.  SIGTERM and SIGINT exit 0 after closing everything.
 *
 * It is a test tool: it trusts its command line and its loopback control
 * port, and logs one line per event to stderr.  It knows nothing of TLS or
 * of Parley's frames; "the middle of a frame" is simply a byte count.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>

#define MAX_FAULT_MS  600000
#define HIGH_WATER    (1u << 20) /* bytes queued towards one side before reading pauses */
#define TICK_MS       5
#define RST_WAIT_MS   1000 /* how long a cut waits for its last bytes to leave */
#define CTRL_LINE_MAX 256

enum mode {
	M_PASS,
	M_DROP,
	M_STALL,
	M_DELAY,
	M_RESET,
	M_HALFOPEN,
	M_BLACKHOLE,
	M_FLAP,
	M_STALL_BUSY,
	M_STALL_QUIET
};
static const char *const mode_name[] = {"pass",      "drop", "stall",      "delay",
					"reset",     "halfopen", "blackhole", "flap",
					"stall-busy", "stall-quiet"};

/* A chunk held back by delay, in arrival order. */
typedef struct chunk {
	int64_t due;
	struct evbuffer *data;
	struct chunk *next;
} chunk;

typedef struct conn conn;

/* One side of a proxied connection: 0 the accepted client, 1 the target. */
typedef struct side {
	conn *c;
	int idx;
	struct bufferevent *bev;
	chunk *qhead, *qtail; /* delayed bytes read from this side */
	size_t qbytes;        /* how many */
	bool eof;             /* this side closed or failed */
} side;

struct conn {
	struct proxy *px;
	unsigned id;
	side s[2];
	bool connected;     /* the target side is up */
	int64_t reset_left; /* bytes until the cut; -1: none armed */
	int64_t cut_at;     /* when the cut was decided (waiting for bytes to leave) */
	bool cutting;
	bool tainted; /* lost bytes in halfopen/blackhole: reset when it ends */
	bool closing; /* one side ended: close once the other drained */
	bool rst_on_close;
	bool held; /* stalled by stall-busy */
	uint64_t bytes[2]; /* forwarded from each side */
	conn *prev, *next;
};

typedef struct proxy {
	struct event_base *base;
	struct evconnlistener *listener, *ctl;
	struct bufferevent *ctls[16]; /* control connections */
	struct event *tick, *sigterm, *sigint;
	struct sockaddr_storage target;
	int target_len;
	conn *conns;
	unsigned next_id;
	uint64_t rng;

	enum mode mode;
	int64_t until;               /* end of the current fault */
	int64_t delay_ms, jitter_ms; /* delay */
	int64_t reset_bytes;         /* reset */
	int64_t busy_bytes;          /* stall-busy, stall-quiet */
	int halfopen_dir;            /* halfopen: the side whose bytes are discarded */
	int64_t flap_up, flap_down;  /* flap */
	bool flap_is_up;
	int64_t flap_phase_end;
	bool listening;

	uint64_t accepted, refused, forwarded[2], discarded, resets, faults;
	int64_t t0;
} proxy;

/* ================================================================ helpers */

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static proxy *the_px; /* for log lines only */

static void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logf_(const char *fmt, ...)
{
	int64_t t = the_px ? now_ms() - the_px->t0 : 0;
	fprintf(stderr, "fproxy +%" PRId64 ".%03" PRId64 "s ", t / 1000, t % 1000);
	va_list ap;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* splitmix64: small, seedable, good enough for jitter. */
static uint64_t rnd(proxy *px)
{
	uint64_t z = (px->rng += 0x9e3779b97f4a7c15u);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

/* A whole decimal number 0..max; false on anything else. */
static bool parse_num(const char *s, int64_t max, int64_t *out)
{
	if (!s || !*s || strlen(s) > 12)
		return false;
	int64_t v = 0;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return false;
		v = v * 10 + (*p - '0');
	}
	if (v > max)
		return false;
	*out = v;
	return true;
}

/* "A.B.C.D:PORT" or "[V6]:PORT" (port 0..65535) into ss; false on anything else. */
static bool parse_addr(const char *hp, struct sockaddr_storage *ss, int *len)
{
	char host[64];
	const char *colon;
	const char *h = hp;
	size_t hn;
	if (hp[0] == '[') {
		const char *close = strchr(hp, ']');
		if (!close || close[1] != ':')
			return false;
		h = hp + 1;
		hn = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strrchr(hp, ':');
		if (!colon)
			return false;
		hn = (size_t)(colon - hp);
	}
	int64_t port;
	if (hn == 0 || hn >= sizeof(host) || !parse_num(colon + 1, 65535, &port))
		return false;
	memcpy(host, h, hn);
	host[hn] = '\0';
	memset(ss, 0, sizeof(*ss));
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		*len = sizeof(*s4);
		return true;
	}
	if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*s6);
		return true;
	}
	return false;
}

/* ================================================================ connections */

static void side_read_cb(struct bufferevent *bev, void *arg);
static void side_write_cb(struct bufferevent *bev, void *arg);
static void side_event_cb(struct bufferevent *bev, short what, void *arg);

static void queue_free(side *s)
{
	while (s->qhead) {
		chunk *k = s->qhead;
		s->qhead = k->next;
		evbuffer_free(k->data);
		free(k);
	}
	s->qtail = NULL;
	s->qbytes = 0;
}

/* Free c; with rst, each socket is closed with a TCP RST (SO_LINGER 0). */
static void conn_free(conn *c, bool rst)
{
	proxy *px = c->px;
	for (int i = 0; i < 2; i++) {
		side *s = &c->s[i];
		if (s->bev) {
			evutil_socket_t fd = bufferevent_getfd(s->bev);
			if (rst && fd >= 0) {
				struct linger lg = {.l_onoff = 1, .l_linger = 0};
				setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
			}
			bufferevent_free(s->bev);
			s->bev = NULL;
		}
		queue_free(s);
	}
	if (rst)
		px->resets++;
	if (c->prev)
		c->prev->next = c->next;
	else
		px->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	logf_("conn %u closed%s (up %" PRIu64 " down %" PRIu64 ")", c->id, rst ? " with RST" : "",
	      c->bytes[0], c->bytes[1]);
	free(c);
}

static bool side_discards(const proxy *px, int from)
{
	switch (px->mode) {
	case M_DROP:
	case M_BLACKHOLE:
		return true;
	case M_HALFOPEN:
		return from == px->halfopen_dir;
	default:
		return false;
	}
}

static bool nothing_pending(const conn *c)
{
	for (int i = 0; i < 2; i++) {
		const side *s = &c->s[i];
		if (s->qhead)
			return false;
		if (s->bev && evbuffer_get_length(bufferevent_get_output(s->bev)))
			return false;
	}
	return true;
}

/* Move what side from has read towards the other side, as the mode says. */
static void pump(conn *c, int from)
{
	proxy *px = c->px;
	side *s = &c->s[from], *o = &c->s[1 - from];
	if (!s->bev || c->cutting)
		return;
	struct evbuffer *in = bufferevent_get_input(s->bev);
	size_t n = evbuffer_get_length(in);
	if (n == 0)
		return;
	if (side_discards(px, from)) {
		evbuffer_drain(in, n);
		px->discarded += n;
		if (px->mode != M_DROP)
			c->tainted = true;
		return;
	}
	if (!c->connected || !o->bev || o->eof)
		return; /* held until the target is up */
	if (c->reset_left >= 0 && (int64_t)n > c->reset_left)
		n = (size_t)c->reset_left;
	if (px->mode == M_DELAY || s->qhead) {
		chunk *k = calloc(1, sizeof(*k));
		if (!k || !(k->data = evbuffer_new())) {
			free(k);
			return;
		}
		int64_t d = px->mode == M_DELAY ? px->delay_ms : 0;
		if (px->mode == M_DELAY && px->jitter_ms > 0)
			d += (int64_t)(rnd(px) % (uint64_t)(2 * px->jitter_ms + 1)) - px->jitter_ms;
		k->due = now_ms() + (d > 0 ? d : 0);
		if (s->qtail && k->due < s->qtail->due)
			k->due = s->qtail->due; /* order is kept */
		evbuffer_remove_buffer(in, k->data, n);
		s->qbytes += n;
		if (s->qtail)
			s->qtail->next = k;
		else
			s->qhead = k;
		s->qtail = k;
	} else {
		evbuffer_remove_buffer(in, bufferevent_get_output(o->bev), n);
	}
	px->forwarded[from] += n;
	c->bytes[from] += n;
	if (c->reset_left >= 0) {
		c->reset_left -= (int64_t)n;
		if (c->reset_left == 0) {
			c->cutting = true;
			c->cut_at = now_ms();
			bufferevent_disable(c->s[0].bev, EV_READ);
			if (c->s[1].bev)
				bufferevent_disable(c->s[1].bev, EV_READ);
			logf_("conn %u: cutting after its last %" PRId64 " bytes", c->id,
			      px->reset_bytes);
		}
	}
	/* Back-pressure: stop reading while the other side (or the delay
	 * queue) is far behind. */
	if (evbuffer_get_length(bufferevent_get_output(o->bev)) > HIGH_WATER ||
	    s->qbytes > HIGH_WATER)
		bufferevent_disable(s->bev, EV_READ);
}

static bool reading_allowed(const conn *c)
{
	return c->px->mode != M_STALL && !c->held;
}

/* Deliver delayed chunks that are due, in order. */
static void flush_queue(conn *c, int from, int64_t t)
{
	side *s = &c->s[from], *o = &c->s[1 - from];
	while (s->qhead && s->qhead->due <= t && o->bev) {
		chunk *k = s->qhead;
		s->qhead = k->next;
		if (!s->qhead)
			s->qtail = NULL;
		s->qbytes -= evbuffer_get_length(k->data);
		evbuffer_add_buffer(bufferevent_get_output(o->bev), k->data);
		evbuffer_free(k->data);
		free(k);
	}
	if (s->bev && !s->eof && !c->cutting && reading_allowed(c) &&
	    s->qbytes <= HIGH_WATER / 2 && o->bev &&
	    evbuffer_get_length(bufferevent_get_output(o->bev)) <= HIGH_WATER / 2 &&
	    (s->idx == 0 || c->connected))
		bufferevent_enable(s->bev, EV_READ);
}

static void side_read_cb(struct bufferevent *bev, void *arg)
{
	side *s = arg;
	(void)bev;
	pump(s->c, s->idx);
}

/* The other side drained: resume reading this one if the mode allows. */
static void side_write_cb(struct bufferevent *bev, void *arg)
{
	side *o = arg;
	conn *c = o->c;
	side *s = &c->s[1 - o->idx];
	(void)bev;
	if (s->bev && !s->eof && !c->cutting && reading_allowed(c) &&
	    evbuffer_get_length(bufferevent_get_output(o->bev)) <= HIGH_WATER / 2)
		bufferevent_enable(s->bev, EV_READ);
}

static void side_event_cb(struct bufferevent *bev, short what, void *arg)
{
	side *s = arg;
	conn *c = s->c;
	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		c->connected = true;
		if (reading_allowed(c))
			bufferevent_enable(s->bev, EV_READ | EV_WRITE);
		pump(c, 0);
		return;
	}
	if (s->idx == 1 && !c->connected) {
		logf_("conn %u: target refused (%s)", c->id,
		      evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
		conn_free(c, true);
		return;
	}
	/* EOF or an error: forward what is left, then close both; a reset
	 * (an error) is passed on as a reset. */
	pump(c, s->idx);
	s->eof = true;
	c->closing = true;
	if (what & BEV_EVENT_ERROR)
		c->rst_on_close = true;
	bufferevent_disable(s->bev, EV_READ);
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
		      void *arg)
{
	proxy *px = arg;
	(void)l;
	(void)sa;
	(void)salen;
	if (px->mode == M_FLAP && !px->flap_is_up) {
		struct linger lg = {.l_onoff = 1, .l_linger = 0};
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		evutil_closesocket(fd);
		px->refused++;
		return;
	}
	conn *c = calloc(1, sizeof(*c));
	if (!c) {
		evutil_closesocket(fd);
		return;
	}
	c->px = px;
	c->id = ++px->next_id;
	c->reset_left = px->mode == M_RESET ? px->reset_bytes : -1;
	for (int i = 0; i < 2; i++) {
		c->s[i].c = c;
		c->s[i].idx = i;
	}
	c->s[0].bev = bufferevent_socket_new(px->base, fd, BEV_OPT_CLOSE_ON_FREE);
	c->s[1].bev = bufferevent_socket_new(px->base, -1, BEV_OPT_CLOSE_ON_FREE);
	c->next = px->conns;
	if (px->conns)
		px->conns->prev = c;
	px->conns = c;
	px->accepted++;
	if (!c->s[0].bev || !c->s[1].bev) {
		if (!c->s[0].bev)
			evutil_closesocket(fd);
		conn_free(c, false);
		return;
	}
	for (int i = 0; i < 2; i++) {
		bufferevent_setcb(c->s[i].bev, side_read_cb, side_write_cb, side_event_cb,
				  &c->s[i]);
		bufferevent_setwatermark(c->s[i].bev, EV_WRITE, HIGH_WATER / 2, 0);
	}
	if (reading_allowed(c))
		bufferevent_enable(c->s[0].bev, EV_READ | EV_WRITE);
	else
		bufferevent_enable(c->s[0].bev, EV_WRITE);
	logf_("conn %u open", c->id);
	if (bufferevent_socket_connect(c->s[1].bev, (struct sockaddr *)&px->target,
				       px->target_len) != 0) {
		logf_("conn %u: cannot reach the target", c->id);
		conn_free(c, true);
	}
}

/* ================================================================ faults */

static void each_conn(proxy *px, void (*fn)(conn *c))
{
	conn *c = px->conns;
	while (c) {
		conn *next = c->next;
		fn(c);
		c = next;
	}
}

static void conn_rst(conn *c)
{
	conn_free(c, true);
}

static void conn_rst_tainted(conn *c)
{
	if (c->tainted)
		conn_free(c, true);
}

static void conn_resume(conn *c)
{
	if (c->cutting)
		return;
	for (int i = 0; i < 2; i++)
		if (c->s[i].bev && !c->s[i].eof && (i == 0 || c->connected))
			bufferevent_enable(c->s[i].bev, EV_READ);
	pump(c, 0);
	pump(c, 1);
}

static void conn_pause(conn *c)
{
	for (int i = 0; i < 2; i++)
		if (c->s[i].bev)
			bufferevent_disable(c->s[i].bev, EV_READ);
}

static void conn_hold_busy(conn *c)
{
	bool busy = (int64_t)(c->bytes[0] + c->bytes[1]) >= c->px->busy_bytes;
	if (busy != (c->px->mode == M_STALL_BUSY)) {
		logf_("conn %u: passes after %" PRIu64 " bytes", c->id, c->bytes[0] + c->bytes[1]);
		return;
	}
	c->held = true;
	conn_pause(c);
	logf_("conn %u: stalled after %" PRIu64 " bytes", c->id, c->bytes[0] + c->bytes[1]);
}

static void conn_release(conn *c)
{
	if (!c->held)
		return;
	c->held = false;
	conn_resume(c);
}

static void conn_arm_reset(conn *c)
{
	if (!c->cutting)
		c->reset_left = c->px->reset_bytes;
}

static void conn_disarm_reset(conn *c)
{
	if (!c->cutting)
		c->reset_left = -1;
}

static void set_listening(proxy *px, bool on)
{
	if (on == px->listening)
		return;
	px->listening = on;
	if (on)
		evconnlistener_enable(px->listener);
	else
		evconnlistener_disable(px->listener);
}

/* Leave the current fault for pass, undoing what it did. */
static void end_fault(proxy *px)
{
	enum mode was = px->mode;
	px->mode = M_PASS;
	switch (was) {
	case M_STALL:
		each_conn(px, conn_resume);
		break;
	case M_STALL_BUSY:
	case M_STALL_QUIET:
		each_conn(px, conn_release);
		break;
	case M_RESET:
		each_conn(px, conn_disarm_reset);
		break;
	case M_HALFOPEN:
		each_conn(px, conn_rst_tainted);
		break;
	case M_BLACKHOLE:
		each_conn(px, conn_rst);
		break;
	default:
		break;
	}
	set_listening(px, true);
	if (was != M_PASS)
		logf_("fault %s over", mode_name[was]);
}

/* Start fault m lasting ms (the parameters are already in px). */
static void start_fault(proxy *px, enum mode m, int64_t ms)
{
	end_fault(px);
	px->mode = m;
	px->until = now_ms() + ms;
	px->faults++;
	switch (m) {
	case M_STALL:
		each_conn(px, conn_pause);
		break;
	case M_STALL_BUSY:
	case M_STALL_QUIET:
		each_conn(px, conn_hold_busy);
		break;
	case M_RESET:
		each_conn(px, conn_arm_reset);
		break;
	case M_BLACKHOLE:
		set_listening(px, false);
		break;
	case M_FLAP:
		px->flap_is_up = false;
		px->flap_phase_end = now_ms() + px->flap_down;
		each_conn(px, conn_rst);
		break;
	default:
		break;
	}
	logf_("fault %s for %" PRId64 " ms", mode_name[m], ms);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	proxy *px = arg;
	(void)fd;
	(void)what;
	int64_t t = now_ms();
	if (px->mode != M_PASS && t >= px->until)
		end_fault(px);
	if (px->mode == M_FLAP && t >= px->flap_phase_end) {
		px->flap_is_up = !px->flap_is_up;
		px->flap_phase_end = t + (px->flap_is_up ? px->flap_up : px->flap_down);
		if (!px->flap_is_up)
			each_conn(px, conn_rst);
		logf_("flap %s", px->flap_is_up ? "up" : "down");
	}
	conn *c = px->conns;
	while (c) {
		conn *next = c->next;
		flush_queue(c, 0, t);
		flush_queue(c, 1, t);
		if (c->cutting && (nothing_pending(c) || t - c->cut_at > RST_WAIT_MS))
			conn_free(c, true);
		else if (c->closing && (nothing_pending(c) || c->rst_on_close))
			conn_free(c, c->rst_on_close);
		c = next;
	}
}

/* ================================================================ control */

static void ctl_reply(struct bufferevent *bev, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void ctl_reply(struct bufferevent *bev, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line) - 1)
		n = (int)sizeof(line) - 2;
	line[n] = '\n';
	bufferevent_write(bev, line, (size_t)n + 1);
}

/* Run one command line; the answer goes to bev.  false: quit. */
static bool ctl_command(proxy *px, struct bufferevent *bev, char *line)
{
	char *argv[6];
	int argc = 0;
	for (char *p = line; *p && argc < 6;) {
		while (*p == ' ' || *p == '\t' || *p == '\r')
			*p++ = '\0';
		if (!*p)
			break;
		argv[argc++] = p;
		while (*p && *p != ' ' && *p != '\t' && *p != '\r')
			p++;
	}
	if (argc == 0) {
		ctl_reply(bev, "error: empty command");
		return true;
	}
	const char *cmd = argv[0];
	int64_t a = 0, b = 0, d = 0;
#define NUM(i, max, out) (argc > (i) && parse_num(argv[i], (max), &(out)))
	if (!strcmp(cmd, "pass") && argc == 1) {
		end_fault(px);
	} else if ((!strcmp(cmd, "drop") || !strcmp(cmd, "stall") || !strcmp(cmd, "blackhole")) &&
		   argc == 2 && NUM(1, MAX_FAULT_MS, d)) {
		start_fault(px,
			    !strcmp(cmd, "drop")    ? M_DROP
			    : !strcmp(cmd, "stall") ? M_STALL
						    : M_BLACKHOLE,
			    d);
	} else if (!strcmp(cmd, "delay") && argc == 4 && NUM(1, 60000, a) && NUM(2, 60000, b) &&
		   NUM(3, MAX_FAULT_MS, d)) {
		px->delay_ms = a;
		px->jitter_ms = b;
		start_fault(px, M_DELAY, d);
	} else if ((!strcmp(cmd, "stall-busy") || !strcmp(cmd, "stall-quiet")) && argc == 3 &&
		   NUM(1, INT64_C(1) << 40, a) && a > 0 && NUM(2, MAX_FAULT_MS, d)) {
		px->busy_bytes = a;
		start_fault(px, !strcmp(cmd, "stall-busy") ? M_STALL_BUSY : M_STALL_QUIET, d);
	} else if (!strcmp(cmd, "reset") && argc == 3 && NUM(1, INT64_C(1) << 40, a) && a > 0 &&
		   NUM(2, MAX_FAULT_MS, d)) {
		px->reset_bytes = a;
		start_fault(px, M_RESET, d);
	} else if (!strcmp(cmd, "halfopen") && argc == 3 &&
		   (!strcmp(argv[1], "up") || !strcmp(argv[1], "down")) &&
		   NUM(2, MAX_FAULT_MS, d)) {
		px->halfopen_dir = !strcmp(argv[1], "up") ? 0 : 1;
		start_fault(px, M_HALFOPEN, d);
	} else if (!strcmp(cmd, "flap") && argc == 4 && NUM(1, 60000, a) && a > 0 &&
		   NUM(2, 60000, b) && b > 0 && NUM(3, MAX_FAULT_MS, d)) {
		px->flap_up = a;
		px->flap_down = b;
		start_fault(px, M_FLAP, d);
	} else if (!strcmp(cmd, "stats") && argc == 1) {
		unsigned open = 0;
		for (conn *c = px->conns; c; c = c->next)
			open++;
		ctl_reply(bev,
			  "ok mode=%s conns=%u accepted=%" PRIu64 " refused=%" PRIu64 " up=%" PRIu64
			  " down=%" PRIu64 " discarded=%" PRIu64 " resets=%" PRIu64
			  " faults=%" PRIu64,
			  mode_name[px->mode], open, px->accepted, px->refused, px->forwarded[0],
			  px->forwarded[1], px->discarded, px->resets, px->faults);
		return true;
	} else if (!strcmp(cmd, "quit") && argc == 1) {
		ctl_reply(bev, "ok bye");
		return false;
	} else {
		ctl_reply(bev, "error: unknown command or bad arguments: %s (see fproxy.c)", cmd);
		return true;
	}
#undef NUM
	ctl_reply(bev, "ok %s", mode_name[px->mode]);
	return true;
}

static void ctl_read_cb(struct bufferevent *bev, void *arg)
{
	proxy *px = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	char *line;
	size_t n;
	while ((line = evbuffer_readln(in, &n, EVBUFFER_EOL_LF)) != NULL) {
		bool go_on = n < CTRL_LINE_MAX ? ctl_command(px, bev, line) : true;
		if (n >= CTRL_LINE_MAX)
			ctl_reply(bev, "error: line too long");
		free(line);
		if (!go_on) {
			/* a moment for the answer to leave */
			struct timeval tv = {0, 50000};
			logf_("quit on request");
			event_base_loopexit(px->base, &tv);
			return;
		}
	}
	if (evbuffer_get_length(in) > CTRL_LINE_MAX) {
		ctl_reply(bev, "error: line too long");
		evbuffer_drain(in, evbuffer_get_length(in));
	}
}

static void ctl_event_cb(struct bufferevent *bev, short what, void *arg)
{
	proxy *px = arg;
	(void)what;
	for (size_t i = 0; i < sizeof(px->ctls) / sizeof(px->ctls[0]); i++)
		if (px->ctls[i] == bev)
			px->ctls[i] = NULL;
	bufferevent_free(bev);
}

static void on_ctl_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
			  int salen, void *arg)
{
	proxy *px = arg;
	(void)l;
	(void)sa;
	(void)salen;
	size_t slot = 0, nslots = sizeof(px->ctls) / sizeof(px->ctls[0]);
	while (slot < nslots && px->ctls[slot])
		slot++;
	struct bufferevent *bev =
	    slot < nslots ? bufferevent_socket_new(px->base, fd, BEV_OPT_CLOSE_ON_FREE) : NULL;
	if (!bev) {
		evutil_closesocket(fd);
		return;
	}
	px->ctls[slot] = bev;
	bufferevent_setcb(bev, ctl_read_cb, NULL, ctl_event_cb, px);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
}

/* ================================================================ setup */

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	logf_("signal %d: exiting", (int)sig);
	event_base_loopexit(((proxy *)arg)->base, NULL);
}

static int listen_port(struct evconnlistener *l)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	if (getsockname(evconnlistener_get_fd(l), (struct sockaddr *)&ss, &sl) != 0)
		return -1;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return -1;
}

static struct evconnlistener *bind_to(proxy *px, const char *hp, evconnlistener_cb cb)
{
	struct sockaddr_storage ss;
	int len = 0;
	if (!parse_addr(hp, &ss, &len)) {
		fprintf(stderr, "fproxy: '%s' is not HOST:PORT\n", hp);
		return NULL;
	}
	struct evconnlistener *l =
	    evconnlistener_new_bind(px->base, cb, px, LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_FREE, 64,
				    (struct sockaddr *)&ss, len);
	if (!l)
		fprintf(stderr, "fproxy: cannot listen on %s: %s\n", hp, strerror(errno));
	return l;
}

static int write_ports(const char *path, int lport, int cport)
{
	char tmp[4096];
	int k = snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (k < 0 || (size_t)k >= sizeof(tmp))
		return -1;
	FILE *f = fopen(tmp, "w");
	if (!f)
		return -1;
	fprintf(f, "%d %d\n", lport, cport);
	if (fclose(f) != 0)
		return -1;
	return rename(tmp, path);
}

static const char usage[] =
    "usage: fproxy --listen HOST:PORT --target HOST:PORT [--control HOST:PORT]\n"
    "              [--seed N] [--ports-file FILE]\n"
    "A fault-injecting TCP proxy for tests; commands on the control port:\n"
    "  pass | drop MS | stall MS | delay MS JITTER_MS FOR_MS | reset BYTES FOR_MS\n"
    "  halfopen up|down FOR_MS | blackhole MS | flap UP_MS DOWN_MS FOR_MS | stats | quit\n";

int main(int argc, char **argv)
{
	const char *listen_at = NULL, *target = NULL, *control = "127.0.0.1:0", *ports = NULL;
	int64_t seed = 1;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			fputs(usage, stdout);
			return 0;
		}
		if (!v) {
			fputs(usage, stderr);
			return 2;
		}
		i++;
		if (!strcmp(a, "--listen"))
			listen_at = v;
		else if (!strcmp(a, "--target"))
			target = v;
		else if (!strcmp(a, "--control"))
			control = v;
		else if (!strcmp(a, "--ports-file"))
			ports = v;
		else if (!strcmp(a, "--seed") && parse_num(v, INT64_MAX / 10, &seed))
			;
		else {
			fprintf(stderr, "fproxy: bad option %s %s\n%s", a, v, usage);
			return 2;
		}
	}
	if (!listen_at || !target) {
		fputs(usage, stderr);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	proxy px;
	memset(&px, 0, sizeof(px));
	the_px = &px;
	px.t0 = now_ms();
	px.rng = (uint64_t)seed;
	if (!parse_addr(target, &px.target, &px.target_len)) {
		fprintf(stderr, "fproxy: target '%s' is not HOST:PORT\n", target);
		return 2;
	}
	int rc = 1;
	px.base = event_base_new();
	if (!px.base)
		return 1;
	px.listener = bind_to(&px, listen_at, on_accept);
	px.ctl = px.listener ? bind_to(&px, control, on_ctl_accept) : NULL;
	px.tick = event_new(px.base, -1, EV_PERSIST, on_tick, &px);
	px.sigterm = evsignal_new(px.base, SIGTERM, on_signal, &px);
	px.sigint = evsignal_new(px.base, SIGINT, on_signal, &px);
	struct timeval tv = {0, TICK_MS * 1000};
	if (px.listener && px.ctl && px.tick && px.sigterm && px.sigint &&
	    event_add(px.tick, &tv) == 0 && event_add(px.sigterm, NULL) == 0 &&
	    event_add(px.sigint, NULL) == 0) {
		px.listening = true;
		int lp = listen_port(px.listener), cp = listen_port(px.ctl);
		logf_("listening on port %d, control on port %d, target %s, seed %" PRId64, lp, cp,
		      target, seed);
		if (ports && write_ports(ports, lp, cp) != 0) {
			fprintf(stderr, "fproxy: cannot write %s: %s\n", ports, strerror(errno));
		} else {
			rc = event_base_dispatch(px.base) < 0 ? 1 : 0;
		}
	}
	while (px.conns)
		conn_free(px.conns, false);
	for (size_t i = 0; i < sizeof(px.ctls) / sizeof(px.ctls[0]); i++)
		if (px.ctls[i])
			bufferevent_free(px.ctls[i]);
	if (px.tick)
		event_free(px.tick);
	if (px.sigterm)
		event_free(px.sigterm);
	if (px.sigint)
		event_free(px.sigint);
	if (px.ctl)
		evconnlistener_free(px.ctl);
	if (px.listener)
		evconnlistener_free(px.listener);
	event_base_free(px.base);
	return rc;
}
