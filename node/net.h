/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Peer connections: TLS 1.3 over libevent bufferevents.
 *
 * A net listens for inbound links and keeps one outbound connection alive
 * to each configured peer, reconnecting with exponential backoff and full
 * jitter.  It hands the application authenticated byte streams: on_open
 * (with the peer's Ed25519 key from its certificate), on_data, on_writable,
 * on_close.  It knows nothing of frames, HELLO or node records: the
 * application (node/peer.c with lib/link) decides whether a key belongs to
 * a pinned peer and closes the connection if not.
 *
 * Everything runs on one event loop and never blocks it: sockets are
 * non-blocking, a stalled peer only fills its own buffers, handshakes
 * have a deadline, and the application can pause reading from a
 * connection (net_set_reading) when it cannot keep up.
 *
 * net_new() sets SIGPIPE to be ignored for the whole process: OpenSSL
 * writes to sockets with write(2), which would otherwise kill the daemon
 * when a peer resets a connection.
 */
#ifndef PARLEY_NODE_NET_H
#define PARLEY_NODE_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "parley/crypto.h"
#include "parley/identity.h"

#include "tls.h"

typedef struct net net;
typedef struct net_conn net_conn;

/*
 * What the application hears.  Every callback runs on the loop, never from
 * inside a net_* call the application made, except on_close, which
 * net_close() and net_remove_peer() call before returning.
 */
typedef struct net_callbacks {
	/* A connection completed its TLS handshake.  peer_pk is the key of the
	 * peer's certificate (borrowed for the call).  outbound: we dialled it,
	 * and peer is the configured peer name; inbound: peer is NULL. */
	void (*on_open)(void *ctx, net_conn *c, const uint8_t peer_pk[PL_PK_BYTES], bool outbound,
			const char *peer);
	/* Bytes arrived (borrowed for the call; the application must take them
	 * all, copying what it keeps). */
	void (*on_data)(void *ctx, net_conn *c, const uint8_t *p, size_t n);
	/* The output buffer drained to the low watermark (net_params.write_low)
	 * after sending: a good moment to write more. May be NULL. */
	void (*on_writable)(void *ctx, net_conn *c);
	/* The connection is gone (called exactly once for each connection that
	 * got on_open, also when the application closed it).  c is invalid once
	 * this returns. */
	void (*on_close)(void *ctx, net_conn *c, const char *reason);
} net_callbacks;

typedef struct net_params {
	uint32_t backoff_min_ms;       /* first retry ceiling; default 200 */
	uint32_t backoff_max_ms;       /* largest retry ceiling; default 60000 */
	uint32_t handshake_timeout_ms; /* connect + TLS handshake deadline; default 10000 */
	uint32_t stable_ms;            /* an outbound link up this long resets the backoff;
					* default 10000 */
	size_t read_high;              /* stop reading the socket at this much buffered input;
					* default 256 KiB */
	size_t write_low;              /* on_writable threshold; default 64 KiB */
	int sock_buf;                  /* SO_SNDBUF and SO_RCVBUF of peer sockets, bytes (the
					* kernel doubles it); 0: the kernel's autotuning.
					* Bounds what a FLASH can wait behind in flight;
					* default 65536 */
	unsigned max_handshakes;       /* inbound connections still in their handshake;
					* more are dropped; default 64 */
	const char *hosts_file;        /* tests: resolve peer host names only from this
					* hosts file, asking no DNS server (borrowed for
					* the net's life); default NULL: resolv.conf and
					* /etc/hosts */
} net_params;

/* Fill p with the defaults above. */
void net_params_default(net_params *p);

/*
 * A new net on base (borrowed; must outlive the net) with the TLS material
 * tls (borrowed, likewise).  params may be NULL for the defaults; cb is
 * copied; ctx is passed to every callback.  NULL on allocation failure or
 * bad parameters (min > max, on_open/on_data/on_close missing).
 */
net *net_new(struct event_base *base, node_tls *tls, const net_params *params,
	     const net_callbacks *cb, void *ctx);

/* Close every connection and listener and free n (NULL-safe).  No callbacks
 * are called.  Must not be called from inside a net callback. */
void net_free(net *n);

/* Listen on "host:port" (port 0: any free port; numeric hosts only).
 * 0, PL_ERR_MALFORMED (bad address), PL_ERR_EXISTS (already listening) or
 * PL_ERR_IO (bind/listen failed; detail names the address and errno). */
int net_listen(net *n, const char *hostport);
/* The bound port, or 0 when not listening. */
uint16_t net_listen_port(const net *n);
/* Stop listening; established connections stay. */
void net_unlisten(net *n);

/* A peer name, or a peer name and a tag ("islamabad+urgent"): the net's
 * key for one outbound connection; several connections to the same peer
 * have one tag each. */
#define NET_NAME_MAX (2 * PL_NAME_MAX + 1)
bool net_name_is_valid(const char *name);

/*
 * Keep one outbound connection to peer name (copied; net_name_is_valid) at
 * "host:port" (copied).  Host names are resolved anew for every attempt with
 * libevent's asynchronous resolver; when a name has several addresses,
 * successive attempts take them in turn.  The first attempt starts now;
 * after each failure or close, the next waits net_backoff_delay().
 * 0, PL_ERR_EXISTS (name known), PL_ERR_MALFORMED (bad address),
 * PL_ERR_NOMEM.
 */
int net_add_peer(net *n, const char *name, const char *hostport);
/* Stop dialling name and close its outbound connection (on_close is called
 * with reason "peer removed").  0 or PL_ERR_NOT_FOUND. */
int net_remove_peer(net *n, const char *name);
/*
 * Reset name's backoff and, if it has no outbound connection and none in
 * progress, dial now (e.g. when it just reached us inbound).  0 or
 * PL_ERR_NOT_FOUND.
 */
int net_peer_kick(net *n, const char *name);

typedef enum net_peer_state {
	NET_PEER_WAITING,    /* backing off until the next attempt */
	NET_PEER_CONNECTING, /* TCP connect or TLS handshake under way */
	NET_PEER_OPEN,       /* on_open was delivered */
} net_peer_state;

typedef struct net_peer_status {
	net_peer_state state;
	uint64_t attempts;      /* dials started */
	uint64_t opens;         /* dials that reached on_open */
	unsigned failures;      /* consecutive failures (0 after a stable link) */
	uint32_t next_delay_ms; /* the delay chosen for the pending retry (WAITING) */
	char last_error[160];   /* why the last attempt or connection ended, or "" */
} net_peer_status;

/* Copy name's status into st: 0 or PL_ERR_NOT_FOUND. */
int net_peer_status_get(const net *n, const char *name, net_peer_status *st);

typedef struct net_stats {
	uint64_t accepted;         /* inbound TCP connections accepted */
	uint64_t handshake_failed; /* inbound and outbound handshakes that failed */
	uint64_t opened;           /* connections that reached on_open */
	unsigned open_now;         /* connections currently open */
} net_stats;

void net_stats_get(const net *n, net_stats *st);

/* Queue n bytes (copied) for sending.  0, or PL_ERR_INVALID when c is
 * closing, PL_ERR_NOMEM.  There is no limit: check net_output_pending()
 * and wait for on_writable to bound memory.  With a gate (net_set_gate)
 * the bytes are held until the commits they may tell of are synced. */
int net_write(net_conn *c, const void *p, size_t n);
/* Bytes queued and not yet handed to the kernel, those held included. */
size_t net_output_pending(const net_conn *c);

/*
 * Output commit (node/hold.h): from now on what net_write() is given
 * while tag(arg) is not 0 (the store's commits made, some not yet synced)
 * is held, and so is everything after it on that connection, until
 * net_release() says that many commits are synced.  Closing a connection
 * discards what it held, as it discards its other pending output.
 */
void net_set_gate(net *n, uint64_t (*tag)(void *arg), void *arg);
void net_release(net *n, uint64_t synced);
/* Writes held since the gate was set (each may have been many bytes). */
uint64_t net_held_total(const net *n);
/* Close c now, discarding pending output; on_close(reason) is called before
 * this returns (reason copied).  A second call is a no-op. */
void net_close(net_conn *c, const char *reason);
/* Give c's events priority prio of the event base (0: first; see
 * event_base_priority_init); ignored when the base has fewer. */
void net_set_priority(net_conn *c, int prio);
/* True when bytes from the peer wait to be read: in the kernel's socket
 * buffer or in the TLS layer, not yet delivered to on_data.  One poll(2)
 * with no wait; false for a connection that is not open. */
bool net_conn_readable(const net_conn *c);
/* Pause (false) or resume (true) reading from c; input already received
 * is delivered after resuming. */
void net_set_reading(net_conn *c, bool on);

/* The application's pointer for c (NULL until set). */
void net_conn_set_user(net_conn *c, void *user);
void *net_conn_user(const net_conn *c);
/* Configured peer name for an outbound connection, NULL for inbound. */
const char *net_conn_peer(const net_conn *c);
bool net_conn_is_outbound(const net_conn *c);
/* The remote address as "ip:port" (borrowed, valid while c is). */
const char *net_conn_address(const net_conn *c);
/* The peer's key from its certificate (valid after on_open). */
const uint8_t *net_conn_peer_pk(const net_conn *c);

/*
 * Backoff (pure; exposed for tests).  After `failures` consecutive failed
 * attempts (failures >= 1) the ceiling is min_ms * 2^(failures-1), capped
 * at max_ms; failures 0 gives 0 (dial now).  The delay is "full jitter":
 * uniform in [0, ceiling], taken from rnd (any 32 random bits).
 */
uint32_t net_backoff_ceiling(uint32_t min_ms, uint32_t max_ms, unsigned failures);
uint32_t net_backoff_delay(uint32_t min_ms, uint32_t max_ms, unsigned failures, uint32_t rnd);

#endif /* PARLEY_NODE_NET_H */
