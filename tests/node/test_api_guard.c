/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests of node/api.c's guards: who may read /metrics (the client's
 * address), and the connection limits (node/httpguard.c as the API uses
 * it: the oldest idle connection makes room, a full server closes newcomers,
 * slow clients are cut off, accept() errors pause accepting).  The fixture
 * is test_api.c's (api_fixture.h); nothing asserts on timing.
 */
#include "api_fixture.h"

/* ================================================================ tests: who may read /metrics */

/* addr (an IPv4 or IPv6 literal) as a socket address in ss. */
static const struct sockaddr *sockaddr_of(const char *addr, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, addr, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(40000);
	} else {
		assert_int_equal(inet_pton(AF_INET6, addr, &s6->sin6_addr), 1);
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(40000);
	}
	return (const struct sockaddr *)ss;
}

static void test_client_is_local(void **state)
{
	static const char *const local[] = {
	    "127.0.0.1", "127.5.5.5",        "127.255.255.254",
	    "::1",       "::ffff:127.0.0.1", "::ffff:127.9.8.7",
	};
	/* ::127.0.0.1 is IPv4-compatible, not IPv4-mapped. */
	static const char *const remote[] = {
	    "10.1.2.3",        "192.168.0.1",     "0.0.0.0",     "128.0.0.1",
	    "126.255.255.255", "::ffff:10.0.0.1", "::",          "::2",
	    "fe80::1",         "2001:db8::1",     "::127.0.0.1",
	};
	struct sockaddr_storage ss;
	for (size_t i = 0; i < sizeof(local) / sizeof(local[0]); i++)
		if (!api_client_is_local(sockaddr_of(local[i], &ss)))
			fail_msg("%s is not taken for a loopback client", local[i]);
	for (size_t i = 0; i < sizeof(remote) / sizeof(remote[0]); i++)
		if (api_client_is_local(sockaddr_of(remote[i], &ss)))
			fail_msg("%s is taken for a loopback client", remote[i]);
	struct sockaddr_un su;
	memset(&su, 0, sizeof(su));
	su.sun_family = AF_UNIX;
	assert_false(api_client_is_local((const struct sockaddr *)&su));
	assert_false(api_client_is_local(NULL));
}

static int local_asked;
static struct sockaddr_in local_seen;

/* A decision function that says no to everyone and notes what it was asked. */
static bool never_local(const struct sockaddr *sa)
{
	local_asked++;
	assert_non_null(sa);
	assert_int_equal(sa->sa_family, AF_INET);
	memcpy(&local_seen, sa, sizeof(local_seen));
	return false;
}

static void test_metrics_address(void **state)
{
	T *t = *state;
	resp r;
	/* The default decision, api_client_is_local, lets a loopback client in. */
	request(t, EVHTTP_REQ_GET, "/metrics", NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	resp_clear(&r);

	/* The handler asks the decision with the client's own address and obeys a no. */
	api_config cfg = test_config(t);
	cfg.client_is_local = never_local;
	reopen(t, &cfg);
	local_asked = 0;
	request(t, EVHTTP_REQ_GET, "/metrics", NULL, NULL, &r);
	assert_problem(&r, 403, "forbidden", "loopback clients only");
	assert_null(strstr(r.body, "parley_api"));
	resp_clear(&r);
	assert_int_equal(local_asked, 1);
	assert_int_equal(ntohl(local_seen.sin_addr.s_addr), INADDR_LOOPBACK);
	request(t, EVHTTP_REQ_GET, "/healthz", NULL, NULL, &r); /* other endpoints do not ask */
	assert_int_equal(r.status, 200);
	resp_clear(&r);
	assert_int_equal(local_asked, 1);

	/* metrics_any_address: nobody is asked. */
	cfg.metrics_any_address = true;
	reopen(t, &cfg);
	local_asked = 0;
	request(t, EVHTTP_REQ_GET, "/metrics", NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	resp_clear(&r);
	assert_int_equal(local_asked, 0);
}

/* ================================================================ tests: connection limits */

/* A plain TCP connection to the test's API (nothing sent), non-blocking. */
static int raw_connect(T *t)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	struct sockaddr_in sa;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)t->port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	/* Loopback: the kernel completes it without the server's accept(). */
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	int fl = fcntl(fd, F_GETFL);
	assert_int_equal(fcntl(fd, F_SETFL, fl | O_NONBLOCK), 0);
	return fd;
}

enum raw_state { RAW_OPEN, RAW_CLOSED, RAW_DATA };

/* Has the server closed fd, sent something, or neither (yet)?  Reads nothing. */
static enum raw_state raw_peek(int fd)
{
	char b[64];
	ssize_t n = recv(fd, b, sizeof(b), MSG_PEEK | MSG_DONTWAIT);
	if (n > 0)
		return RAW_DATA;
	if (n == 0)
		return RAW_CLOSED;
	return errno == EAGAIN || errno == EWOULDBLOCK ? RAW_OPEN : RAW_CLOSED;
}

static bool raw_not_open(void *arg)
{
	return raw_peek(*(int *)arg) != RAW_OPEN;
}

/* Wait until the server closes fd, and check that it said nothing first. */
static void raw_wait_closed(T *t, int fd)
{
	loop_until(t, raw_not_open, &fd);
	assert_int_equal(raw_peek(fd), RAW_CLOSED);
}

static void raw_send(int fd, const char *s)
{
	size_t n = strlen(s);
	assert_int_equal(send(fd, s, n, MSG_NOSIGNAL), (ssize_t)n);
}

typedef struct raw_answer {
	int fd;
	char got[512];
	size_t len;
	bool closed;
} raw_answer;

static bool raw_answered(void *arg)
{
	raw_answer *w = arg;
	while (w->len + 1 < sizeof(w->got)) {
		ssize_t n = recv(w->fd, w->got + w->len, sizeof(w->got) - 1 - w->len, MSG_DONTWAIT);
		if (n <= 0) {
			w->closed = n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
			break;
		}
		w->len += (size_t)n;
		w->got[w->len] = '\0';
	}
	return w->closed || strstr(w->got, "\r\n\r\n") != NULL;
}

/* Send a request for path on fd and wait for the head of the answer: its status. */
static int raw_get(T *t, int fd, const char *method, const char *path)
{
	char req[256];
	snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", method, path);
	raw_send(fd, req);
	raw_answer w = {.fd = fd};
	loop_until(t, raw_answered, &w);
	int status = 0;
	if (strncmp(w.got, "HTTP/1.1 ", 9) == 0)
		status = (int)strtol(w.got + 9, NULL, 10);
	return status;
}

typedef struct conns_want {
	T *t;
	unsigned n;
} conns_want;

static bool conns_are(void *arg)
{
	conns_want *w = arg;
	return api_connection_count(w->t->a) == w->n;
}

static void wait_connections(T *t, unsigned n)
{
	conns_want w = {t, n};
	loop_until(t, conns_are, &w);
}

/* The /metrics text (free it): asked on a new connection, as a scraper does. */
static char *metrics_text(T *t)
{
	resp r;
	request(t, EVHTTP_REQ_GET, "/metrics", NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	char *body = r.body;
	r.body = NULL;
	resp_clear(&r);
	return body;
}

/* The value of the metric line of text that starts with name (labels included). */
static long metric_in(const char *text, const char *name)
{
	char key[160];
	snprintf(key, sizeof(key), "\n%s ", name);
	const char *p = strstr(text, key);
	if (!p)
		fail_msg("/metrics has no %s", name);
	return strtol(p + strlen(key), NULL, 10);
}

/* One metric from a fresh /metrics. */
static long metric(T *t, const char *name)
{
	char *text = metrics_text(t);
	long v = metric_in(text, name);
	free(text);
	return v;
}

/* node_log's lines go to a temporary file until log_lines() reads them. */
static FILE *log_capture(void)
{
	FILE *f = tmpfile();
	assert_non_null(f);
	node_log_set_stream(f);
	return f;
}

/* How many captured lines contain text; the capture ends. */
static int log_lines(FILE *f, const char *text, char *last, size_t lastcap)
{
	node_log_set_stream(NULL);
	rewind(f);
	char line[NODE_LOG_LINE_MAX];
	int n = 0;
	while (fgets(line, sizeof(line), f)) {
		if (!strstr(line, text))
			continue;
		n++;
		snprintf(last, lastcap, "%s", line);
	}
	fclose(f);
	return n;
}

static void test_connections_idle_make_room(void **state)
{
	T *t = *state;
	api_config cfg = test_config(t);
	cfg.max_connections = 8;
	reopen(t, &cfg);
	FILE *log = log_capture();
	int fd[9];
	for (int i = 0; i < 8; i++)
		fd[i] = raw_connect(t);
	wait_connections(t, 8);
	for (int i = 0; i < 8; i++)
		assert_int_equal(raw_peek(fd[i]), RAW_OPEN);

	/* One more: the oldest idle connection is closed, unanswered, for it. */
	fd[8] = raw_connect(t);
	raw_wait_closed(t, fd[0]);
	assert_int_equal(api_connection_count(t->a), 8);
	for (int i = 1; i < 9; i++)
		assert_int_equal(raw_peek(fd[i]), RAW_OPEN);
	/* ... and the newcomer is served. */
	assert_int_equal(raw_get(t, fd[8], "GET", "/healthz"), 200);

	/* /metrics comes on a new connection too: the next oldest idle one
	 * (fd[1]; fd[8] was answered since) makes room for it. */
	char *m = metrics_text(t);
	assert_int_equal(metric_in(m, "parley_api_connections_refused_total{reason=\"idle\"}"), 2);
	assert_int_equal(metric_in(m, "parley_api_connections_refused_total{reason=\"full\"}"), 0);
	assert_int_equal(metric_in(m, "parley_api_connections_refused_total{reason=\"slow\"}"), 0);
	assert_int_equal(metric_in(m, "parley_api_connections"), 8);
	free(m);
	raw_wait_closed(t, fd[1]);
	for (int i = 0; i < 9; i++)
		close(fd[i]);

	/* One log line at once, the second refusal summed up later (here: when
	 * the API is freed), not a line per connection. */
	api_free(t->a);
	char last[NODE_LOG_LINE_MAX] = "";
	int n = log_lines(log, "msg=\"connections refused\"", last, sizeof(last));
	assert_int_equal(n, 2);
	assert_non_null(strstr(last, "server=api limit=8 open=0 full=0 idle=1 slow=0"));
}

/* A burst far beyond the limit, all queued before the server looks: it
 * needs no more descriptors than the limit plus one accept batch (64). */
static void test_connections_burst(void **state)
{
	T *t = *state;
	api_config cfg = test_config(t);
	cfg.max_connections = 8;
	reopen(t, &cfg);
	FILE *log = log_capture();
	enum { N = 120 }; /* below the listen queue of 128 */
	int fd[N];
	for (int i = 0; i < N; i++)
		fd[i] = raw_connect(t);

	/* From here the server may open 8 + 64 + a few descriptors. */
	struct rlimit old, low;
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	int probe = dup(0);
	assert_true(probe >= 0);
	close(probe);
	low = old;
	low.rlim_cur = (rlim_t)probe + 8 + 64 + 4;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	/* The newest 8 stay; every other one is closed unanswered. */
	for (int i = 0; i < N - 8; i++)
		raw_wait_closed(t, fd[i]);
	wait_connections(t, 8);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
	for (int i = N - 8; i < N; i++)
		assert_int_equal(raw_peek(fd[i]), RAW_OPEN);
	char *m = metrics_text(t); /* its connection makes room for itself too */
	assert_int_equal(metric_in(m, "parley_api_accept_errors_total"), 0);
	assert_int_equal(metric_in(m, "parley_api_connections_refused_total{reason=\"idle\"}"),
			 N - 8 + 1);
	free(m);
	for (int i = 0; i < N; i++)
		close(fd[i]);
	char last[NODE_LOG_LINE_MAX] = "";
	assert_int_equal(log_lines(log, "msg=\"connections refused\"", last, sizeof(last)), 1);
}

static bool three_subscribers(void *arg)
{
	return api_subscriber_count(((T *)arg)->a) == 3;
}

static void test_connections_full(void **state)
{
	T *t = *state;
	api_config cfg = test_config(t);
	cfg.max_connections = 3;
	cfg.max_subscribers = 3;
	reopen(t, &cfg);
	char tok[64];
	login(t, tok);
	wait_connections(t, 0);
	stream s[3];
	for (int i = 0; i < 3; i++)
		stream_open(t, &s[i], tok);
	loop_until(t, three_subscribers, t);

	/* Every connection carries a stream: a new one is closed unanswered. */
	int fd = raw_connect(t);
	raw_wait_closed(t, fd);
	close(fd);
	assert_int_equal(api_connection_count(t->a), 3);
	/* The streams were not touched. */
	json_t *d = json_pack("{s:s}", "id", "full");
	api_publish(t->a, "envelope", d);
	json_decref(d);
	for (int i = 0; i < 3; i++) {
		stream_want w = {&s[i], "event: envelope\ndata: {\"id\":\"full\"}\n\n"};
		loop_until(t, stream_has, &w);
	}

	/* A stream ends: a new client is served again. */
	stream_close(&s[0]);
	wait_connections(t, 2);
	char *m = metrics_text(t);
	assert_int_equal(metric_in(m, "parley_api_connections_refused_total{reason=\"full\"}"), 1);
	assert_int_equal(metric_in(m, "parley_api_connections_refused_total{reason=\"idle\"}"), 0);
	assert_int_equal(metric_in(m, "parley_api_connections"), 3);
	free(m);
	stream_close(&s[1]);
	stream_close(&s[2]);
}

typedef struct dribble {
	int fd;
	size_t sent;
	struct event *ev;
} dribble;

/* One byte of a request whose headers never end, every 100 ms. */
static void dribble_cb(evutil_socket_t x, short what, void *arg)
{
	static const char req[] =
	    "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
	dribble *d = arg;
	if (d->sent + 1 >= sizeof(req))
		return;
	if (send(d->fd, req + d->sent, 1, MSG_NOSIGNAL) == 1)
		d->sent++;
	struct timeval tv = {0, 100000};
	evtimer_add(d->ev, &tv);
}

/* Dribble on fd until the server closes it (unanswered); the bytes sent. */
static size_t dribble_until_closed(T *t, int fd)
{
	dribble d = {.fd = fd};
	d.ev = evtimer_new(t->base, dribble_cb, &d);
	assert_non_null(d.ev);
	dribble_cb(-1, 0, &d);
	raw_wait_closed(t, fd);
	event_free(d.ev);
	return d.sent;
}

static void test_connections_slow(void **state)
{
	T *t = *state;
	api_config cfg = test_config(t);
	cfg.timeout = 1; /* evhttp's stall timeout and the request deadline */
	reopen(t, &cfg);

	/* A client that sends a byte every 100 ms never stalls for 1 s, yet
	 * its request is never complete: closed at the deadline, unanswered. */
	int fd = raw_connect(t);
	assert_true(dribble_until_closed(t, fd) >= 2); /* it was still sending */
	close(fd);
	assert_int_equal(metric(t, "parley_api_connections_refused_total{reason=\"slow\"}"), 1);

	/* After an answer the deadline starts again: the same on a kept-alive
	 * connection's second request. */
	fd = raw_connect(t);
	assert_int_equal(raw_get(t, fd, "HEAD", "/healthz"), 200);
	assert_true(dribble_until_closed(t, fd) >= 2);
	close(fd);
	assert_int_equal(metric(t, "parley_api_connections_refused_total{reason=\"slow\"}"), 2);
}

typedef struct turns {
	bool done;
	int n;
} turns;

static void on_turns_done(evutil_socket_t fd, short what, void *arg)
{
	((turns *)arg)->done = true;
}

static void test_accept_errors_pause(void **state)
{
	T *t = *state;
	int fd = raw_connect(t); /* waits in the listen queue */

	/* No descriptor left for the server's accept(). */
	struct rlimit old, low;
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	int probe = dup(0);
	assert_true(probe >= 0);
	close(probe);
	low = old;
	low.rlim_cur = (rlim_t)probe + 4;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	int held[64], nheld = 0;
	while (nheld < 64) {
		int h = dup(0);
		if (h < 0)
			break;
		held[nheld++] = h;
	}
	assert_int_equal(errno, EMFILE);

	/* For 300 ms the loop is woken by accept() failing once, not at every turn. */
	turns tn = {0};
	struct event *ev = evtimer_new(t->base, on_turns_done, &tn);
	assert_non_null(ev);
	struct timeval tv = {0, 300000};
	evtimer_add(ev, &tv);
	for (; tn.n < 100000 && !tn.done; tn.n++)
		event_base_loop(t->base, EVLOOP_ONCE);
	event_free(ev);
	for (int i = 0; i < nheld; i++)
		close(held[i]);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
	assert_true(tn.n < 20);
	assert_int_equal(api_connection_count(t->a), 0);

	/* Descriptors are back: within the pause's second the connection is
	 * taken and answered. */
	wait_connections(t, 1);
	assert_int_equal(raw_get(t, fd, "GET", "/healthz"), 200);
	close(fd);
	long errors = metric(t, "parley_api_accept_errors_total");
	assert_true(errors >= 1 && errors <= 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_client_is_local),
	    cmocka_unit_test_setup_teardown(test_metrics_address, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_connections_idle_make_room, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_connections_burst, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_connections_full, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_connections_slow, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_accept_errors_pause, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
