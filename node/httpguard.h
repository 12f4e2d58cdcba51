/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Bounds on the connections of one evhttp server (the API, the public
 * feed), which libevent 2.1's evhttp does not have:
 *
 *   - at most max_conns connections are open at once.  When one more
 *     arrives, the oldest idle connection (one waiting for a request) is
 *     closed to make room; when none is idle (each is being answered or
 *     carries an event stream), the new connection is closed at once,
 *     before anything is read from it or written to it;
 *   - a connection must deliver a complete request within deadline
 *     seconds of being accepted or of its previous answer having been
 *     sent, or it is closed.  (evhttp's own timeout only bounds a stall:
 *     a client sending one byte a second is never cut off by it.);
 *   - when accept() fails (out of descriptors or memory) the server stops
 *     accepting for a second instead of being woken again at once.
 *
 * Each closing is counted (httpguard_stats) and logged, at most one line
 * per 10 seconds for each server, with the counts since the last line.
 *
 * It does not parse HTTP, look at client addresses or limit connections
 * per client, and it does not bound a client that reads its answer
 * slowly (evhttp's write timeout does that).  Everything runs on the
 * thread of the event base.
 */
#ifndef PARLEY_NODE_HTTPGUARD_H
#define PARLEY_NODE_HTTPGUARD_H

#include <stdint.h>

struct event_base;
struct evhttp;
struct evhttp_bound_socket;
struct evhttp_request;

typedef struct httpguard httpguard;

typedef struct httpguard_config {
	const char *what;   /* the server's name in log lines ("API", "feed"); static */
	unsigned max_conns; /* open connections at once, at least 1 */
	int deadline;       /* seconds to deliver a complete request, at least 1 */
} httpguard_config;

/* What a guard did since it was made. */
typedef struct httpguard_stats {
	unsigned open;          /* connections open now */
	uint64_t refused_full;  /* new connections closed at once: none was idle */
	uint64_t refused_idle;  /* idle connections closed to make room for a new one */
	uint64_t refused_slow;  /* connections closed: no complete request in time */
	uint64_t accept_errors; /* accept() failures (each pauses accepting for 1 s) */
} httpguard_stats;

/*
 * Guard http, a server on base with no connection yet: this installs
 * evhttp_set_bevcb on it (nothing else may).  cfg is copied.  NULL when
 * out of memory or cfg is out of range.  Free the server first, then the
 * guard: evhttp_free() closes the connections and tells the guard.
 */
httpguard *httpguard_new(struct event_base *base, struct evhttp *http, const httpguard_config *cfg);

/* Pause bs (a socket of the guarded server) for a second whenever accept()
 * fails on it, instead of letting libevent call it again at once. */
void httpguard_watch(httpguard *g, struct evhttp_bound_socket *bs);

/* The server's request callback calls this first with each request: its
 * connection is not idle, and has no deadline, until the answer has been
 * sent completely. */
void httpguard_request(httpguard *g, struct evhttp_request *req);

/*
 * From now on the connection of req carries a stream (server-sent events):
 * it is never closed as idle or slow.  on_close(arg) is called once when
 * the connection closes (evhttp closes it, or someone frees it), before
 * evhttp frees its requests; a later call with on_close NULL cancels that.
 * 0, or -1 when the connection is not guarded (it was accepted while
 * memory ran out): then nothing was set and the caller sets its own
 * evhttp_connection_set_closecb.
 */
int httpguard_stream(httpguard *g, struct evhttp_request *req, void (*on_close)(void *arg),
		     void *arg);

/* The counts so far (zeroes for NULL). */
void httpguard_get_stats(const httpguard *g, httpguard_stats *out);

/* Free g (NULL-safe), after evhttp_free() of its server. */
void httpguard_free_(httpguard *g);
#define httpguard_free(g)                                                                          \
	do {                                                                                       \
		httpguard_free_(g);                                                                \
		(g) = NULL;                                                                        \
	} while (0)

#endif /* PARLEY_NODE_HTTPGUARD_H */
