/* SPDX-License-Identifier: Apache-2.0 */
/*
 * node/hold.c: answers and calls held until the store has synced.  An
 * evhttp server on 127.0.0.1 answers through a hold and libevent's HTTP
 * client asks it: an answer given while commits are unsynced arrives only
 * once hold_release() reaches its tag, answers and calls go in the order
 * they were given, a client that left before its answer was released is
 * no trouble, and whatever is held when the hold is freed is dropped.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "hold.h"

#define WAIT_MS 5000

typedef struct fixture {
	struct event_base *base;
	struct evhttp *http;
	int port;
	hold *h;
	uint64_t tag;  /* what gate_tag says: commits made and not all synced */
	char log[256]; /* what was sent, in order: answers as "A<n>", calls as "C<x>" */
	int answered;  /* answers the clients got */
	char bodies[256];
} fixture;

static uint64_t gate_tag(void *arg)
{
	return ((fixture *)arg)->tag;
}

static void on_request(struct evhttp_request *req, void *arg)
{
	fixture *f = arg;
	const char *uri = evhttp_request_get_uri(req);
	struct evbuffer *b = evbuffer_new();
	assert_non_null(b);
	evbuffer_add_printf(b, "A%s;", uri + 1);
	strcat(f->log, "A");
	strcat(f->log, uri + 1);
	hold_reply(f->h, req, 201, "Created", b);
	assert_int_equal(evbuffer_get_length(b), 0); /* moved out either way */
	evbuffer_free(b);
}

static void on_call(void *ctx, const char *p, size_t len, unsigned x)
{
	fixture *f = ctx;
	char one[32];
	snprintf(one, sizeof(one), "C%u%.*s", x, (int)len, p);
	strcat(f->bodies, one);
}

static void on_answer(struct evhttp_request *req, void *arg)
{
	fixture *f = arg;
	if (!req)
		return;
	assert_int_equal(evhttp_request_get_response_code(req), 201);
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t n = evbuffer_get_length(in);
	size_t have = strlen(f->bodies);
	assert_true(have + n < sizeof(f->bodies));
	evbuffer_remove(in, f->bodies + have, n);
	f->bodies[have + n] = '\0';
	f->answered++;
}

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	f->base = event_base_new();
	f->http = evhttp_new(f->base);
	assert_non_null(f->http);
	struct evhttp_bound_socket *bs = evhttp_bind_socket_with_handle(f->http, "127.0.0.1", 0);
	assert_non_null(bs);
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	assert_int_equal(getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&ss, &sl),
			 0);
	f->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	evhttp_set_gencb(f->http, on_request, f);
	f->h = hold_new(gate_tag, f);
	assert_non_null(f->h);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;
	hold_free(f->h);
	evhttp_free(f->http);
	event_base_free(f->base);
	free(f);
	return 0;
}

static void deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	event_base_loopbreak(arg);
}

/* Run the loop until f->answered reaches want or ms pass; whether it did. */
static bool run_until_answered(fixture *f, int want, int ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
	struct event *t = evtimer_new(f->base, deadline_cb, f->base);
	evtimer_add(t, &tv);
	while (f->answered < want && evtimer_pending(t, NULL))
		event_base_loop(f->base, EVLOOP_ONCE);
	event_free(t);
	return f->answered >= want;
}

static struct evhttp_connection *ask(fixture *f, const char *path)
{
	struct evhttp_connection *c =
	    evhttp_connection_base_new(f->base, NULL, "127.0.0.1", (unsigned short)f->port);
	assert_non_null(c);
	struct evhttp_request *req = evhttp_request_new(on_answer, f);
	assert_non_null(req);
	assert_int_equal(evhttp_make_request(c, req, EVHTTP_REQ_GET, path), 0);
	return c;
}

static void test_answers_wait_for_the_sync(void **state)
{
	fixture *f = *state;
	struct evhttp_connection *c[4];

	c[0] = ask(f, "/1"); /* everything synced: answered at once */
	assert_true(run_until_answered(f, 1, WAIT_MS));
	assert_string_equal(f->bodies, "A1;");
	assert_int_equal(hold_total(f->h), 0);

	f->tag = 3;
	c[1] = ask(f, "/2");
	assert_false(run_until_answered(f, 2, 300)); /* held: commit 3 is not synced */
	assert_string_equal(f->log, "A1A2");
	assert_int_equal(hold_waiting(f->h), 1);
	hold_call(f->h, on_call, f, "ev", 2, 7); /* an event, behind the answer */
	f->tag = 0;
	hold_call(f->h, on_call, f, "late", 4, 8); /* synced now, but behind them */
	assert_int_equal(hold_waiting(f->h), 3);
	hold_release(f->h, 2);
	assert_false(run_until_answered(f, 2, 100));
	assert_string_equal(f->bodies, "A1;");

	hold_release(f->h, 3);
	assert_int_equal(hold_waiting(f->h), 0);
	assert_true(run_until_answered(f, 2, WAIT_MS));
	/* the calls went at the release, the answer when it came back */
	assert_string_equal(f->bodies, "A1;C7evC8lateA2;");

	f->tag = 0;
	hold_call(f->h, on_call, f, "now", 3, 9); /* nothing held: at once */
	assert_string_equal(f->bodies, "A1;C7evC8lateA2;C9now");
	assert_int_equal(hold_total(f->h), 3);
	for (int i = 0; i < 2; i++)
		evhttp_connection_free(c[i]);
}

/* A client that leaves before its answer is released: evhttp keeps the
 * request, and answering it frees it (ASan would see a use after free or a
 * leak otherwise). */
static void test_client_left(void **state)
{
	fixture *f = *state;
	f->tag = 10;
	struct evhttp_connection *c = ask(f, "/3");
	assert_false(run_until_answered(f, 1, 300));
	assert_int_equal(hold_waiting(f->h), 1);
	evhttp_connection_free(c); /* the client goes */
	assert_false(run_until_answered(f, 1, 200));
	hold_release(f->h, 10);
	assert_false(run_until_answered(f, 1, 200));
	assert_int_equal(hold_waiting(f->h), 0);

	/* one still held when the hold is freed (teardown): dropped */
	f->tag = 11;
	c = ask(f, "/4");
	assert_false(run_until_answered(f, 1, 300));
	assert_int_equal(hold_waiting(f->h), 1);
	hold_free(f->h);
	f->h = NULL;
	evhttp_connection_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_answers_wait_for_the_sync, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_client_left, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
