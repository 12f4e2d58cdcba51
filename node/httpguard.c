/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Bounds on an evhttp server's connections (httpguard.h).
 *
 * How the guard sees connections.  libevent 2.1 has no callback for a new
 * server connection (evhttp_set_newreqcb came with 2.2), and the function
 * that hands an accepted socket to evhttp (evhttp_get_request) is private,
 * so accepting sockets ourselves and passing them on is not possible
 * either.  What 2.1 does offer is evhttp_set_bevcb: evhttp asks it for the
 * bufferevent of every connection it accepts, just before it makes the
 * connection object.  So:
 *
 *   1. the bufferevent callback makes the bufferevent, keeps a reference to
 *      it and a record, and activates the "attach" event, which runs in the
 *      same loop turn, after libevent's accept loop has returned;
 *   2. the attach pass finds each new connection object as the argument
 *      evhttp gave the bufferevent's callbacks (bufferevent_getcb; checked
 *      with evhttp_connection_get_bufferevent) and decides: admit it, admit
 *      it after closing the oldest idle connection, or close it.  For the
 *      admitted it sets evhttp_connection_set_closecb, which evhttp 2.1
 *      calls exactly once when it frees a server connection: that is how
 *      the guard learns of every close from then on;
 *   3. the closecb therefore belongs to the guard; whoever owns a stream
 *      gets its own close hook through httpguard_stream().
 *
 * The reference taken in 1 keeps the bufferevent's memory valid in case
 * evhttp drops the connection before the attach pass (only when it runs
 * out of memory, or in evhttp_free): bufferevent_free() clears the
 * callbacks, which the pass sees.  At most PENDING_MAX connections wait for
 * the pass: at that many the listeners are disabled, since libevent's
 * accept loop would otherwise take every connection a flooding client
 * manages to queue before the pass could close any of them.
 *
 * Why the oldest idle connection goes rather than the newcomer: refusing
 * newcomers alone bounds the node, but whoever holds max_conns idle
 * connections then keeps every other client out for as long as they like
 * (evhttp closes a connection only after a stall of its timeout, and a
 * byte now and then is no stall).  With the oldest idle one closed, a
 * flooder has to open max_conns connections between an honest client's
 * connect and the arrival of its request to keep it out.  Connections
 * being answered or carrying a stream are never taken: those required a
 * request, and the stream a token.
 *
 * Divisions: records; logging; closing; accepting; requests and streams;
 * setup and teardown.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sys/resource.h>

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <event2/util.h>

#include "httpguard.h"
#include "log.h"

#define PENDING_MAX   64    /* accepted connections waiting for the attach pass */
#define LOG_EVERY_MS  10000 /* at most one line per this, per server */
#define PAUSE_SECONDS 1     /* accepting stops this long after accept() failed */
#define FD_RESERVE    64    /* descriptors the node needs besides these connections */

/* ================================================================ records */

typedef struct conn {
	httpguard *g;
	struct bufferevent *bev;
	struct evhttp_connection *evcon; /* NULL until the attach pass */
	struct event *deadline;          /* armed while the connection is idle */
	unsigned busy;                   /* requests handed to the server, not yet answered */
	bool stream;
	void (*on_close)(void *arg);
	void *arg;
	struct conn *prev, *next; /* pending: next only; live: oldest idle first */
} conn;

struct httpguard {
	struct event_base *base;
	struct evhttp *http;
	httpguard_config cfg;

	conn *pend, *pend_tail; /* accepted, waiting for the attach pass */
	unsigned npending;
	conn *head, *tail; /* admitted: in the order they last became idle */
	unsigned nlive;

	struct evconnlistener **listeners; /* from httpguard_watch */
	size_t nlisteners;
	bool batch_full, paused; /* why the listeners are disabled */

	struct event *attach_ev, *relisten_ev, *log_ev;
	httpguard_stats st;
	uint64_t unlogged_full, unlogged_idle, unlogged_slow, unlogged_errors;
	int last_error;
	bool logged_once, log_armed;
	int64_t last_log_ms;

	httpguard *next_guard; /* every guard, for the accept-error callback */
};

/* The accept-error callback receives only the listener: find its guard
 * here.  Guards are made and used on one thread (the node's loop). */
static httpguard *all_guards;

static void live_unlink(httpguard *g, conn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		g->head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		g->tail = c->prev;
	c->prev = c->next = NULL;
}

static void live_append(httpguard *g, conn *c)
{
	c->prev = g->tail;
	c->next = NULL;
	if (g->tail)
		g->tail->next = c;
	else
		g->head = c;
	g->tail = c;
}

/* The admitted connection that req arrived on, or NULL. */
static conn *find(httpguard *g, struct evhttp_request *req)
{
	struct evhttp_connection *evcon = req ? evhttp_request_get_connection(req) : NULL;
	if (!g || !evcon)
		return NULL;
	for (conn *c = g->head; c; c = c->next)
		if (c->evcon == evcon)
			return c;
	return NULL;
}

/* ================================================================ logging */

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Write what was counted since the last line. */
static void log_flush(httpguard *g)
{
	if (g->unlogged_full || g->unlogged_idle || g->unlogged_slow)
		node_log(NODE_LOG_WARN, "connections refused",
			 "server=%s limit=%u open=%u full=%llu idle=%llu slow=%llu", g->cfg.what,
			 g->cfg.max_conns, g->nlive, (unsigned long long)g->unlogged_full,
			 (unsigned long long)g->unlogged_idle,
			 (unsigned long long)g->unlogged_slow);
	if (g->unlogged_errors)
		node_log(NODE_LOG_ERROR, "accept failed; pausing 1 s",
			 "server=%s error=%s count=%llu", g->cfg.what,
			 evutil_socket_error_to_string(g->last_error),
			 (unsigned long long)g->unlogged_errors);
	g->unlogged_full = g->unlogged_idle = g->unlogged_slow = g->unlogged_errors = 0;
	g->logged_once = true;
	g->last_log_ms = mono_ms();
}

static void log_cb(evutil_socket_t fd, short what, void *arg)
{
	httpguard *g = arg;
	g->log_armed = false;
	log_flush(g);
}

/* Something was counted: write it now if the last line is old enough, else
 * when it will be. */
static void log_note(httpguard *g)
{
	if (g->log_armed)
		return;
	int64_t wait = g->logged_once ? g->last_log_ms + LOG_EVERY_MS - mono_ms() : 0;
	if (wait <= 0) {
		log_flush(g);
		return;
	}
	struct timeval tv = {(time_t)(wait / 1000), (suseconds_t)(wait % 1000) * 1000};
	if (evtimer_add(g->log_ev, &tv) == 0)
		g->log_armed = true;
	else
		log_flush(g);
}

/* ================================================================ closing */

/* The connection is gone: forget it and call its owner's hook. */
static void conn_gone(conn *c)
{
	httpguard *g = c->g;
	live_unlink(g, c);
	g->nlive--;
	event_free(c->deadline);
	void (*fn)(void *) = c->on_close;
	void *arg = c->arg;
	free(c);
	if (fn)
		fn(arg);
}

/* evhttp frees the connection (the client left, a timeout, an error, the
 * server is being freed). */
static void conn_closed(struct evhttp_connection *evcon, void *arg)
{
	conn_gone(arg);
}

/* Close an admitted connection ourselves. */
static void conn_close(conn *c)
{
	struct evhttp_connection *evcon = c->evcon;
	evhttp_connection_set_closecb(evcon, NULL, NULL);
	conn_gone(c);
	evhttp_connection_free(evcon);
}

static void arm_deadline(conn *c)
{
	struct timeval tv = {(time_t)c->g->cfg.deadline, 0};
	evtimer_add(c->deadline, &tv);
}

/* No complete request in time. */
static void deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	conn *c = arg;
	httpguard *g = c->g;
	if (c->busy || c->stream)
		return; /* the timer is stopped then; nothing to do */
	g->st.refused_slow++;
	g->unlogged_slow++;
	log_note(g);
	conn_close(c);
}

/* Close the oldest idle connection to make room; false when none is idle. */
static bool make_room(httpguard *g)
{
	for (conn *c = g->head; c; c = c->next) {
		if (c->busy || c->stream)
			continue;
		g->st.refused_idle++;
		g->unlogged_idle++;
		log_note(g);
		conn_close(c);
		return true;
	}
	return false;
}

/* ================================================================ accepting */

static void set_listening(httpguard *g)
{
	bool on = !g->batch_full && !g->paused;
	for (size_t i = 0; i < g->nlisteners; i++) {
		if (on)
			evconnlistener_enable(g->listeners[i]);
		else
			evconnlistener_disable(g->listeners[i]);
	}
}

/* evhttp accepted a connection and asks for its bufferevent. */
static struct bufferevent *on_new_bev(struct event_base *base, void *arg)
{
	httpguard *g = arg;
	conn *c = calloc(1, sizeof(*c));
	struct bufferevent *bev =
	    c ? bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE) : NULL;
	if (!bev) {
		free(c);
		return NULL; /* out of memory: evhttp makes its own; this one goes unguarded */
	}
	bufferevent_incref(bev);
	c->g = g;
	c->bev = bev;
	if (g->pend_tail)
		g->pend_tail->next = c;
	else
		g->pend = c;
	g->pend_tail = c;
	g->npending++;
	event_active(g->attach_ev, EV_TIMEOUT, 0);
	if (g->npending >= PENDING_MAX && !g->batch_full) {
		g->batch_full = true;
		set_listening(g);
	}
	return bev;
}

/* Admit c (attached to evcon), or close it; false when closed. */
static bool admit(httpguard *g, conn *c)
{
	if (g->nlive >= g->cfg.max_conns && !make_room(g)) {
		g->st.refused_full++;
		g->unlogged_full++;
		log_note(g);
		return false;
	}
	c->deadline = evtimer_new(g->base, deadline_cb, c);
	if (!c->deadline)
		return false; /* out of memory: better closed than unbounded */
	evhttp_connection_set_closecb(c->evcon, conn_closed, c);
	live_append(g, c);
	g->nlive++;
	arm_deadline(c);
	return true;
}

/* The connections accepted in this loop turn are set up: decide on each. */
static void attach_cb(evutil_socket_t fd, short what, void *arg)
{
	httpguard *g = arg;
	for (conn *c = g->pend; c; c = g->pend) {
		g->pend = c->next;
		if (!g->pend)
			g->pend_tail = NULL;
		g->npending--;
		c->next = NULL;
		struct bufferevent *bev = c->bev;
		void *cbarg = NULL;
		bufferevent_getcb(bev, NULL, NULL, NULL, &cbarg);
		struct evhttp_connection *evcon = cbarg;
		if (!evcon || evhttp_connection_get_bufferevent(evcon) != bev) {
			free(c); /* evhttp gave up on it and freed it already */
		} else {
			c->evcon = evcon;
			if (!admit(g, c)) {
				free(c);
				evhttp_connection_free(evcon);
			}
		}
		bufferevent_decref(bev); /* the last reference if it was closed */
	}
	if (g->batch_full) {
		g->batch_full = false;
		set_listening(g);
	}
}

static void relisten_cb(evutil_socket_t fd, short what, void *arg)
{
	httpguard *g = arg;
	g->paused = false;
	set_listening(g);
}

/* accept() failed for a reason other than "try again" (out of descriptors
 * or memory): libevent would call the listener again at once, for as long
 * as the condition lasts.  Pause instead. */
static void on_accept_error(struct evconnlistener *l, void *arg)
{
	int e = EVUTIL_SOCKET_ERROR();
	for (httpguard *g = all_guards; g; g = g->next_guard) {
		for (size_t i = 0; i < g->nlisteners; i++) {
			if (g->listeners[i] != l)
				continue;
			g->st.accept_errors++;
			g->unlogged_errors++;
			g->last_error = e;
			log_note(g);
			g->paused = true;
			set_listening(g);
			struct timeval tv = {PAUSE_SECONDS, 0};
			evtimer_add(g->relisten_ev, &tv);
			return;
		}
	}
}

void httpguard_watch(httpguard *g, struct evhttp_bound_socket *bs)
{
	struct evconnlistener *l = bs ? evhttp_bound_socket_get_listener(bs) : NULL;
	if (!g || !l)
		return;
	struct evconnlistener **nl = realloc(g->listeners, (g->nlisteners + 1) * sizeof(*nl));
	if (!nl)
		return; /* out of memory: this socket is not paused on errors */
	g->listeners = nl;
	g->listeners[g->nlisteners++] = l;
	evconnlistener_set_error_cb(l, on_accept_error);
	if (g->batch_full || g->paused)
		evconnlistener_disable(l);
}

/* ================================================================ requests and streams */

/* The answer to a request has been sent completely. */
static void on_complete(struct evhttp_request *req, void *arg)
{
	conn *c = find(arg, req);
	if (!c || c->busy == 0)
		return;
	if (--c->busy || c->stream)
		return;
	live_unlink(c->g, c);
	live_append(c->g, c);
	arm_deadline(c);
}

void httpguard_request(httpguard *g, struct evhttp_request *req)
{
	conn *c = find(g, req);
	if (!c)
		return;
	c->busy++;
	evtimer_del(c->deadline);
	evhttp_request_set_on_complete_cb(req, on_complete, g);
}

int httpguard_stream(httpguard *g, struct evhttp_request *req, void (*on_close)(void *arg),
		     void *arg)
{
	conn *c = find(g, req);
	if (!c)
		return -1;
	c->stream = true;
	c->on_close = on_close;
	c->arg = on_close ? arg : NULL;
	evtimer_del(c->deadline);
	return 0;
}

void httpguard_get_stats(const httpguard *g, httpguard_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (!g)
		return;
	*out = g->st;
	out->open = g->nlive;
}

/* ================================================================ setup and teardown */

httpguard *httpguard_new(struct event_base *base, struct evhttp *http, const httpguard_config *cfg)
{
	if (!base || !http || !cfg || !cfg->what || cfg->max_conns < 1 || cfg->deadline < 1)
		return NULL;
	httpguard *g = calloc(1, sizeof(*g));
	if (!g)
		return NULL;
	g->base = base;
	g->http = http;
	g->cfg = *cfg;
	g->attach_ev = event_new(base, -1, 0, attach_cb, g);
	g->relisten_ev = evtimer_new(base, relisten_cb, g);
	g->log_ev = evtimer_new(base, log_cb, g);
	if (!g->attach_ev || !g->relisten_ev || !g->log_ev) {
		httpguard_free_(g);
		return NULL;
	}
	g->next_guard = all_guards;
	all_guards = g;
	evhttp_set_bevcb(http, on_new_bev, g);

	/* The limit is only a bound if the process may open that many. */
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    (rlim_t)cfg->max_conns + FD_RESERVE > rl.rlim_cur)
		node_log(NODE_LOG_WARN, "connection limit near the descriptor limit",
			 "server=%s limit=%u nofile=%llu", cfg->what, cfg->max_conns,
			 (unsigned long long)rl.rlim_cur);
	return g;
}

void httpguard_free_(httpguard *g)
{
	if (!g)
		return;
	for (httpguard **p = &all_guards; *p; p = &(*p)->next_guard) {
		if (*p == g) {
			*p = g->next_guard;
			break;
		}
	}
	/* evhttp_free() closed every connection: the admitted ones left
	 * through conn_closed; what waited for the attach pass is ours. */
	while (g->pend) {
		conn *c = g->pend;
		g->pend = c->next;
		bufferevent_decref(c->bev);
		free(c);
	}
	while (g->head) {
		conn *c = g->head; /* only if the server was not freed first */
		live_unlink(g, c);
		event_free(c->deadline);
		free(c);
	}
	if (g->unlogged_full || g->unlogged_idle || g->unlogged_slow || g->unlogged_errors)
		log_flush(g);
	if (g->attach_ev)
		event_free(g->attach_ev);
	if (g->relisten_ev)
		event_free(g->relisten_ev);
	if (g->log_ev)
		event_free(g->log_ev);
	free(g->listeners);
	free(g);
}
