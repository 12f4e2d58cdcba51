/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Answers held back until the store has synced (hold.h): a FIFO of items,
 * each an HTTP answer or a call, with the commit count it waits for.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>

#include "hold.h"

typedef struct item {
	struct item *next;
	uint64_t tag;
	struct evhttp_request *req; /* an answer; NULL: a call */
	int status;
	const char *phrase; /* static */
	struct evbuffer *body;
	hold_call_fn fn;
	void *ctx;
	unsigned x;
	size_t len;
	char p[]; /* a call's bytes */
} item;

struct hold {
	hold_tag_fn tag;
	void *arg;
	item *head, *tail;
	size_t waiting;
	uint64_t total;
};

hold *hold_new(hold_tag_fn tag, void *arg)
{
	hold *h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	h->tag = tag;
	h->arg = arg;
	return h;
}

static void item_free(item *it)
{
	if (it->body)
		evbuffer_free(it->body);
	free(it);
}

void hold_free(hold *h)
{
	if (!h)
		return;
	while (h->head) {
		item *it = h->head;
		h->head = it->next;
		item_free(it);
	}
	free(h);
}

/* The tag what is sent now waits for; 0: it goes now. */
static uint64_t hold_tag(hold *h)
{
	if (!h)
		return 0;
	uint64_t t = h->tag(h->arg);
	/* Behind something held, whatever its own tag: the order is kept. */
	if (h->tail && t < h->tail->tag)
		t = h->tail->tag;
	return t;
}

static void enqueue(hold *h, item *it, uint64_t tag)
{
	it->tag = tag;
	if (h->tail)
		h->tail->next = it;
	else
		h->head = it;
	h->tail = it;
	h->waiting++;
	h->total++;
}

void hold_reply(hold *h, struct evhttp_request *req, int status, const char *phrase,
		struct evbuffer *body)
{
	uint64_t tag = hold_tag(h);
	if (!tag) {
		evhttp_send_reply(req, status, phrase, body);
		return;
	}
	item *it = calloc(1, sizeof(*it));
	if (it)
		it->body = evbuffer_new();
	if (!it || !it->body || evbuffer_add_buffer(it->body, body) != 0) {
		/* Cannot keep it: "try again" tells of no commit. */
		if (it)
			item_free(it);
		evbuffer_drain(body, evbuffer_get_length(body));
		evhttp_send_error(req, 503, "Service Unavailable");
		return;
	}
	it->req = req;
	it->status = status;
	it->phrase = phrase;
	enqueue(h, it, tag);
}

void hold_call(hold *h, hold_call_fn fn, void *ctx, const char *p, size_t len, unsigned x)
{
	uint64_t tag = hold_tag(h);
	if (!tag) {
		fn(ctx, p, len, x);
		return;
	}
	item *it = malloc(sizeof(*it) + len);
	if (!it)
		return; /* an event lost to memory, as a slow subscriber's are */
	memset(it, 0, sizeof(*it));
	it->fn = fn;
	it->ctx = ctx;
	it->x = x;
	it->len = len;
	memcpy(it->p, p, len);
	enqueue(h, it, tag);
}

void hold_release(hold *h, uint64_t synced)
{
	if (!h)
		return;
	while (h->head && h->head->tag <= synced) {
		item *it = h->head;
		h->head = it->next;
		if (!h->head)
			h->tail = NULL;
		h->waiting--;
		if (it->req)
			evhttp_send_reply(it->req, it->status, it->phrase, it->body);
		else
			it->fn(it->ctx, it->p, it->len, it->x);
		item_free(it);
	}
}

size_t hold_waiting(const hold *h)
{
	return h ? h->waiting : 0;
}

uint64_t hold_total(const hold *h)
{
	return h ? h->total : 0;
}
