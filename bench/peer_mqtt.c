/* SPDX-License-Identifier: Apache-2.0 */
/*
 * peer_mqtt: the Mosquitto side of the benchmarks, on libmosquitto.  A
 * publisher sends N messages of B bytes to a running broker with at most W
 * unacknowledged (PUBACK for QoS 1, PUBCOMP for QoS 2); a subscriber with a
 * persistent session (clean session off) receives them at the same QoS.
 * A message counts when the subscriber has it AND the publisher has its
 * acknowledgement: the nearest analogue of Parley's "stored at the receiver
 * and receipted at the sender", except that the broker does not sync to
 * disk before acknowledging (its persistence settings are the driver's).
 *
 * It does not start the broker (scripts/bench does).  Every wait is bounded.
 *
 *   peer_mqtt --port P --qos 1|2 [--count N] [--window W] [--size B]
 *             [--latency K] [--timeout S]
 *
 * Output: one JSON object on standard output: rate (messages/s), and with
 * --latency K the one-at-a-time publish-to-receive p50/p99 of K messages.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mosquitto.h>

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, int rc)
{
	fprintf(stderr, "peer_mqtt: %s: %s\n", what, mosquitto_strerror(rc));
	exit(1);
}

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static long acks, received, subscribed;
static bool connected_pub, connected_sub;

static void on_connect(struct mosquitto *m, void *arg, int rc)
{
	(void)m;
	pthread_mutex_lock(&mu);
	if (rc == 0)
		*(bool *)arg = true;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
}

static void on_publish(struct mosquitto *m, void *arg, int mid)
{
	(void)m;
	(void)arg;
	(void)mid;
	pthread_mutex_lock(&mu);
	acks++;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
}

static void on_message(struct mosquitto *m, void *arg, const struct mosquitto_message *msg)
{
	(void)m;
	(void)arg;
	(void)msg;
	pthread_mutex_lock(&mu);
	received++;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
}

static void on_subscribe(struct mosquitto *m, void *arg, int mid, int n, const int *granted)
{
	(void)m;
	(void)arg;
	(void)mid;
	(void)n;
	(void)granted;
	pthread_mutex_lock(&mu);
	subscribed = 1;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
}

/* Wait (mu held) until cond() or the deadline; false on timeout. */
static bool wait_until(bool (*cond)(void *), void *arg, double deadline)
{
	while (!cond(arg)) {
		double left = deadline - now_s();
		if (left <= 0)
			return false;
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		double w = left < 0.05 ? left : 0.05;
		ts.tv_nsec += (long)(w * 1e9);
		ts.tv_sec += ts.tv_nsec / 1000000000L;
		ts.tv_nsec %= 1000000000L;
		pthread_cond_timedwait(&cv, &mu, &ts);
	}
	return true;
}

static bool is_true(void *p)
{
	return *(bool *)p;
}
static bool is_subscribed(void *p)
{
	(void)p;
	return subscribed != 0;
}
static long want_acks, want_recv, window;
static bool window_open(void *p)
{
	(void)p;
	return *(long *)p - acks < window;
}
static bool all_done(void *p)
{
	(void)p;
	return acks >= want_acks && received >= want_recv;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	int port = 1883, qos = 1;
	long count = 10000, size = 256, lat = 0, timeout = 300;
	window = 32;
	for (int i = 1; i + 1 < argc; i += 2) {
		long v = strtol(argv[i + 1], NULL, 10);
		if (!strcmp(argv[i], "--port"))
			port = (int)v;
		else if (!strcmp(argv[i], "--qos"))
			qos = (int)v;
		else if (!strcmp(argv[i], "--count"))
			count = v;
		else if (!strcmp(argv[i], "--window"))
			window = v;
		else if (!strcmp(argv[i], "--size"))
			size = v;
		else if (!strcmp(argv[i], "--latency"))
			lat = v;
		else if (!strcmp(argv[i], "--timeout"))
			timeout = v;
		else {
			fprintf(stderr, "peer_mqtt: unknown option %s\n", argv[i]);
			return 2;
		}
	}
	if (argc % 2 == 0 || (qos != 1 && qos != 2) || count < 1 || window < 1 || size < 1 ||
	    size > 1 << 20 || lat < 0 || timeout < 1) {
		fprintf(stderr, "usage: peer_mqtt --port P --qos 1|2 [--count N] [--window W] "
				"[--size B] [--latency K] [--timeout S]\n");
		return 2;
	}
	mosquitto_lib_init();
	char sub_id[64], pub_id[64];
	snprintf(sub_id, sizeof(sub_id), "bench-sub-%d", (int)getpid());
	snprintf(pub_id, sizeof(pub_id), "bench-pub-%d", (int)getpid());
	struct mosquitto *sub = mosquitto_new(sub_id, false, &connected_sub);
	struct mosquitto *pub = mosquitto_new(pub_id, true, &connected_pub);
	if (!sub || !pub)
		die("mosquitto_new", MOSQ_ERR_NOMEM);
	mosquitto_connect_callback_set(sub, on_connect);
	mosquitto_connect_callback_set(pub, on_connect);
	mosquitto_message_callback_set(sub, on_message);
	mosquitto_subscribe_callback_set(sub, on_subscribe);
	mosquitto_publish_callback_set(pub, on_publish);
	mosquitto_max_inflight_messages_set(pub, (unsigned)window);
	int rc = mosquitto_connect(sub, "127.0.0.1", port, 60);
	if (rc != MOSQ_ERR_SUCCESS)
		die("connect (subscriber)", rc);
	rc = mosquitto_connect(pub, "127.0.0.1", port, 60);
	if (rc != MOSQ_ERR_SUCCESS)
		die("connect (publisher)", rc);
	mosquitto_loop_start(sub);
	mosquitto_loop_start(pub);
	double deadline = now_s() + (double)timeout;
	pthread_mutex_lock(&mu);
	if (!wait_until(is_true, &connected_sub, deadline) ||
	    !wait_until(is_true, &connected_pub, deadline))
		die("connect (no CONNACK)", MOSQ_ERR_CONN_REFUSED);
	pthread_mutex_unlock(&mu);
	char topic[80];
	snprintf(topic, sizeof(topic), "bench/%d", (int)getpid());
	rc = mosquitto_subscribe(sub, NULL, topic, qos);
	if (rc != MOSQ_ERR_SUCCESS)
		die("subscribe", rc);
	pthread_mutex_lock(&mu);
	if (!wait_until(is_subscribed, NULL, deadline))
		die("subscribe (no SUBACK)", MOSQ_ERR_PROTOCOL);
	pthread_mutex_unlock(&mu);

	char *payload = malloc((size_t)size);
	if (!payload)
		die("malloc", MOSQ_ERR_NOMEM);
	memset(payload, 'm', (size_t)size);

	/* windowed throughput */
	double t0 = now_s();
	want_acks = count;
	want_recv = count;
	bool ok = true;
	for (long i = 0; i < count && ok; i++) {
		pthread_mutex_lock(&mu);
		long sent = i;
		ok = wait_until(window_open, &sent, deadline);
		pthread_mutex_unlock(&mu);
		if (!ok)
			break;
		rc = mosquitto_publish(pub, NULL, topic, (int)size, payload, qos, false);
		if (rc != MOSQ_ERR_SUCCESS)
			die("publish", rc);
	}
	pthread_mutex_lock(&mu);
	ok = ok && wait_until(all_done, NULL, deadline);
	double t1 = now_s();
	long got = received;
	pthread_mutex_unlock(&mu);
	if (!ok) {
		fprintf(stderr, "peer_mqtt: timeout after %ld s: %ld received\n", timeout, got);
		return 1;
	}

	/* one at a time: publish, wait until received and acknowledged */
	double *v = calloc((size_t)(lat ? lat : 1), sizeof(double));
	long nlat = 0;
	double tl0 = now_s();
	for (long i = 0; i < lat && ok; i++) {
		pthread_mutex_lock(&mu);
		want_acks = acks + 1;
		want_recv = received + 1;
		pthread_mutex_unlock(&mu);
		double a = now_s();
		rc = mosquitto_publish(pub, NULL, topic, (int)size, payload, qos, false);
		if (rc != MOSQ_ERR_SUCCESS)
			die("publish", rc);
		pthread_mutex_lock(&mu);
		ok = wait_until(all_done, NULL, deadline);
		pthread_mutex_unlock(&mu);
		if (ok)
			v[nlat++] = now_s() - a;
	}
	printf("{\"qos\":%d,\"count\":%ld,\"window\":%ld,\"size\":%ld,\"rate\":%.1f", qos, count,
	       window, size, (double)count / (t1 - t0));
	double tl = now_s() - tl0;
	if (nlat) {
		qsort(v, (size_t)nlat, sizeof(double), cmp_d);
		printf(",\"latency\":{\"n\":%ld,\"p50_us\":%.0f,\"p99_us\":%.0f,\"max_us\":%.0f},"
		       "\"one_at_a_time_rate\":%.1f",
		       nlat, v[nlat / 2] * 1e6, v[(size_t)((double)(nlat - 1) * 0.99)] * 1e6,
		       v[nlat - 1] * 1e6, (double)nlat / tl);
	}
	printf("}\n");
	/* the subscriber's persistent session is left at the broker; the driver
	 * starts a fresh broker (and store) for every run */
	mosquitto_disconnect(pub);
	mosquitto_disconnect(sub);
	mosquitto_loop_stop(pub, false);
	mosquitto_loop_stop(sub, false);
	mosquitto_destroy(pub);
	mosquitto_destroy(sub);
	mosquitto_lib_cleanup();
	free(payload);
	free(v);
	return 0;
}
