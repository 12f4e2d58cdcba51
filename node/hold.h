/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Answers held back until the store has synced what they tell of.
 *
 * The node's store syncs its commits from a thread of its own
 * (pl_store_defer_sync): a commit returns once written, and is on stable
 * storage a sync later.  Whatever leaves the node after a commit may tell
 * of it — an API answer ("201, stored"), an event on a stream, a page of
 * the public feed — so nothing leaves before every commit made so far is
 * synced: an observer never sees what a power loss could take back.  The
 * peers' links are held the same way, in node/net.c.
 *
 * A hold is a queue in the order things were sent; each item waits for the
 * count of commits made when it was sent (the tag), and goes when the
 * store's synced count reaches it.  Nothing is held while every commit is
 * synced and nothing waits.  Everything runs on the event loop's thread.
 */
#ifndef PARLEY_NODE_HOLD_H
#define PARLEY_NODE_HOLD_H

#include <stddef.h>
#include <stdint.h>

struct evbuffer;
struct evhttp_request;

typedef struct hold hold;

/* The tag for what is sent now: the commits made, or 0 when all are synced. */
typedef uint64_t (*hold_tag_fn)(void *arg);
/* A held call (hold_call): p is a copy of what was given, valid during the call. */
typedef void (*hold_call_fn)(void *ctx, const char *p, size_t len, unsigned x);

/* NULL when out of memory. */
hold *hold_new(hold_tag_fn tag, void *arg);
/* Drop what is held: call before the server that owns the requests is freed. */
void hold_free(hold *h);

/*
 * evhttp_send_reply(req, status, phrase, body) now, or once synced (the
 * body's bytes are moved out of body either way).  h NULL: now.  A client
 * that left meanwhile is no trouble: evhttp keeps an unanswered request
 * and frees it when it is answered.
 */
void hold_reply(hold *h, struct evhttp_request *req, int status, const char *phrase,
		struct evbuffer *body);

/* fn(ctx, p, len, x) now, or once synced, in order with the answers.  h NULL: now. */
void hold_call(hold *h, hold_call_fn fn, void *ctx, const char *p, size_t len, unsigned x);

/* The store has synced its first synced commits: send what waited for them. */
void hold_release(hold *h, uint64_t synced);

/* Items waiting now, and ever held (metrics, tests). */
size_t hold_waiting(const hold *h);
uint64_t hold_total(const hold *h);

#endif
