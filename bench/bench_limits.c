/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The machine's own limits that bound Parley and are not in bench_core:
 * fdatasync()s per second with 1 and with 64 records of 256 bytes per sync
 * (appending to a file in the benchmark's temporary folder), and after a
 * 16 KiB write appended or over blocks written before (a WAL commit while
 * the WAL grows, and once it is reused; the latter also as the time of
 * each sync: p50, p99, the longest), and TLS 1.3
 * on loopback (OpenSSL): the round trip of a 256-byte record between two
 * threads, and a full handshake.  It measures; it does not interpret (the
 * driver, scripts/bench, derives Parley's ceiling from these figures).
 *
 *   bench_limits [--runs N] [--seconds S] [--dir DIR] [--only fsync|tls]
 *
 * Output: one JSON object per line on standard output, one line per figure:
 * {"name":..., "unit":..., "runs":[...]} (the driver takes medians).  Every
 * loop is bounded in count and in time.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#define MAX_RUNS 9
#define REC      256

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void fail(const char *what)
{
	fprintf(stderr, "bench_limits: %s: %s\n", what, errno ? strerror(errno) : "failed");
	ERR_print_errors_fp(stderr);
	exit(1);
}

static void emit(const char *name, const char *unit, const double *v, int n)
{
	printf("{\"name\":\"%s\",\"unit\":\"%s\",\"runs\":[", name, unit);
	for (int i = 0; i < n; i++)
		printf("%s%.1f", i ? "," : "", v[i]);
	printf("]}\n");
	fflush(stdout);
}

/* ---------------------------------------------------------------- fdatasync */

/* Records per second, appending per_sync records of 256 B then fdatasync. */
static double fsync_rate(const char *dir, int per_sync, double secs)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/fsync-%d.dat", dir, (int)getpid());
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0600);
	if (fd < 0)
		fail(path);
	char rec[REC];
	memset(rec, 'r', sizeof(rec));
	long n = 0;
	double t0 = now_s();
	while (n < 10000000 && now_s() - t0 < secs) {
		for (int i = 0; i < per_sync; i++, n++)
			if (write(fd, rec, sizeof(rec)) != (ssize_t)sizeof(rec))
				fail("write");
		if (fdatasync(fd) != 0)
			fail("fdatasync");
	}
	double dt = now_s() - t0;
	close(fd);
	unlink(path);
	return (double)n / dt;
}

/*
 * Syncs per second of a commit shaped like a node's WAL commit: 16 KiB
 * (four pages and their frame headers) written, then fdatasync.  append:
 * the file grows with every write, as a WAL does until its first
 * checkpoint (each sync also writes the new blocks' allocation and the
 * size); overwrite: the writes go over blocks written and synced before,
 * as a WAL's do once it is reused from its start after a checkpoint.
 */
#define WAL_WRITE (16 * 1024 + 96)
#define WAL_RING  256 /* writes before an overwriting file wraps: 4 MiB */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* With lat non-NULL, also each fdatasync's time: lat[0] p50, lat[1] p99,
 * lat[2] the longest, in microseconds (a FLASH waits for one: its tail
 * cannot be shorter than the disk's). */
static double wal_sync_rate(const char *dir, bool overwrite, double secs, double lat[3])
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/walsync-%d.dat", dir, (int)getpid());
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		fail(path);
	static char buf[WAL_WRITE];
	memset(buf, 'w', sizeof(buf));
	if (overwrite) {
		for (int i = 0; i < WAL_RING; i++)
			if (write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf))
				fail("write");
		if (fsync(fd) != 0)
			fail("fsync");
	}
	enum { MAX_SYNCS = 1000000 };
	double *took = lat ? malloc(MAX_SYNCS * sizeof(*took)) : NULL;
	if (lat && !took)
		fail("malloc");
	long n = 0;
	double t0 = now_s();
	while (n < MAX_SYNCS && now_s() - t0 < secs) {
		off_t at = (off_t)(overwrite ? n % WAL_RING : n) * WAL_WRITE;
		if (pwrite(fd, buf, sizeof(buf), at) != (ssize_t)sizeof(buf))
			fail("pwrite");
		double s0 = now_s();
		if (fdatasync(fd) != 0)
			fail("fdatasync");
		if (took)
			took[n] = now_s() - s0;
		n++;
	}
	double dt = now_s() - t0;
	close(fd);
	unlink(path);
	if (took) {
		qsort(took, (size_t)n, sizeof(*took), cmp_double);
		lat[0] = took[(size_t)(n - 1) / 2] * 1e6;
		lat[1] = took[(size_t)((double)(n - 1) * 0.99)] * 1e6;
		lat[2] = took[n - 1] * 1e6;
		free(took);
	}
	return (double)n / dt;
}

/* ---------------------------------------------------------------- TLS 1.3 */

static SSL_CTX *server_ctx, *client_ctx;
static int listen_fd;
static int server_port;

static void make_contexts(void)
{
	EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	X509 *crt = X509_new();
	if (!key || !crt)
		fail("key");
	ASN1_INTEGER_set(X509_get_serialNumber(crt), 1);
	X509_gmtime_adj(X509_getm_notBefore(crt), -3600);
	X509_gmtime_adj(X509_getm_notAfter(crt), 3600);
	X509_set_pubkey(crt, key);
	X509_NAME *nm = X509_get_subject_name(crt);
	X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC, (const unsigned char *)"bench", -1, -1,
				   0);
	X509_set_issuer_name(crt, nm);
	if (!X509_sign(crt, key, NULL))
		fail("self-signed certificate");
	server_ctx = SSL_CTX_new(TLS_server_method());
	client_ctx = SSL_CTX_new(TLS_client_method());
	if (!server_ctx || !client_ctx)
		fail("SSL_CTX_new");
	SSL_CTX_set_min_proto_version(server_ctx, TLS1_3_VERSION);
	SSL_CTX_set_min_proto_version(client_ctx, TLS1_3_VERSION);
	/* mutual authentication, as between two parleyd nodes (same key: it is a timing test) */
	if (SSL_CTX_use_certificate(server_ctx, crt) != 1 ||
	    SSL_CTX_use_PrivateKey(server_ctx, key) != 1 ||
	    SSL_CTX_use_certificate(client_ctx, crt) != 1 ||
	    SSL_CTX_use_PrivateKey(client_ctx, key) != 1)
		fail("certificate");
	SSL_CTX_set_verify(server_ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	SSL_CTX_set_verify(client_ctx, SSL_VERIFY_PEER, NULL);
	X509_STORE_add_cert(SSL_CTX_get_cert_store(server_ctx), crt);
	X509_STORE_add_cert(SSL_CTX_get_cert_store(client_ctx), crt);
	SSL_CTX_set_session_cache_mode(client_ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_session_cache_mode(server_ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_num_tickets(server_ctx, 0);
	X509_free(crt);
	EVP_PKEY_free(key);

	listen_fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t al = sizeof(a);
	if (listen_fd < 0 || bind(listen_fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    listen(listen_fd, 16) != 0 || getsockname(listen_fd, (struct sockaddr *)&a, &al) != 0)
		fail("listen on 127.0.0.1");
	server_port = ntohs(a.sin_port);
}

static void nodelay(int fd)
{
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* Server thread: accept connections; echo each 256-byte record until EOF. */
static void *server_main(void *arg)
{
	(void)arg;
	for (;;) {
		int fd = accept(listen_fd, NULL, NULL);
		if (fd < 0)
			return NULL;
		nodelay(fd);
		SSL *s = SSL_new(server_ctx);
		SSL_set_fd(s, fd);
		if (SSL_accept(s) == 1) {
			char buf[REC];
			for (;;) {
				int got = 0;
				while (got < REC) {
					int k = SSL_read(s, buf + got, REC - got);
					if (k <= 0)
						break;
					got += k;
				}
				if (got < REC || SSL_write(s, buf, REC) != REC)
					break;
			}
		}
		SSL_free(s);
		close(fd);
	}
}

static SSL *client_connect(int *fdp)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)server_port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0)
		fail("connect to 127.0.0.1");
	nodelay(fd);
	SSL *s = SSL_new(client_ctx);
	SSL_set_fd(s, fd);
	if (SSL_connect(s) != 1)
		fail("TLS handshake");
	*fdp = fd;
	return s;
}

static void client_close(SSL *s, int fd)
{
	SSL_shutdown(s);
	SSL_free(s);
	close(fd);
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Round trips of 256 B: fills p50/p99 in microseconds. */
static void tls_rtt(double secs, double *p50, double *p99)
{
	int fd;
	SSL *s = client_connect(&fd);
	enum { MAXN = 200000 };
	double *v = malloc(MAXN * sizeof(double));
	if (!v)
		fail("malloc");
	char buf[REC];
	memset(buf, 'x', sizeof(buf));
	long n = 0;
	double t0 = now_s();
	while (n < MAXN && now_s() - t0 < secs) {
		double a = now_s();
		if (SSL_write(s, buf, REC) != REC)
			fail("SSL_write");
		int got = 0;
		while (got < REC) {
			int k = SSL_read(s, buf + got, REC - got);
			if (k <= 0)
				fail("SSL_read");
			got += k;
		}
		v[n++] = now_s() - a;
	}
	client_close(s, fd);
	qsort(v, (size_t)n, sizeof(double), cmp_d);
	*p50 = v[n / 2] * 1e6;
	*p99 = v[(size_t)((double)(n - 1) * 0.99)] * 1e6;
	free(v);
}

/* Full handshakes (no resumption) per second, each with one round trip. */
static double tls_handshakes(double secs)
{
	long n = 0;
	double t0 = now_s();
	char buf[REC];
	memset(buf, 'h', sizeof(buf));
	while (n < 100000 && now_s() - t0 < secs) {
		int fd;
		SSL *s = client_connect(&fd);
		if (SSL_write(s, buf, REC) != REC)
			fail("SSL_write");
		int got = 0;
		while (got < REC) {
			int k = SSL_read(s, buf + got, REC - got);
			if (k <= 0)
				fail("SSL_read");
			got += k;
		}
		client_close(s, fd);
		n++;
	}
	return (double)n / (now_s() - t0);
}

/* ---------------------------------------------------------------- main */

int main(int argc, char **argv)
{
	int runs = 3;
	double secs = 1.0;
	const char *dir = NULL, *only = NULL;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--runs"))
			runs = (int)strtol(argv[i + 1], NULL, 10);
		else if (!strcmp(argv[i], "--seconds"))
			secs = strtod(argv[i + 1], NULL);
		else if (!strcmp(argv[i], "--dir"))
			dir = argv[i + 1];
		else if (!strcmp(argv[i], "--only"))
			only = argv[i + 1];
	}
	if (argc % 2 == 0 || runs < 1 || runs > MAX_RUNS || !(secs > 0 && secs <= 60)) {
		fprintf(stderr, "usage: bench_limits [--runs 1-9] [--seconds S] [--dir DIR] "
				"[--only fsync|tls]\n");
		return 2;
	}
	if (!dir)
		dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	double v[MAX_RUNS], w[MAX_RUNS];
	if (!only || !strcmp(only, "fsync")) {
		for (int r = 0; r < runs; r++)
			v[r] = fsync_rate(dir, 1, secs);
		emit("fdatasync-1-per-sync", "records/s", v, runs);
		for (int r = 0; r < runs; r++)
			v[r] = fsync_rate(dir, 64, secs);
		emit("fdatasync-64-per-sync", "records/s", v, runs);
		for (int r = 0; r < runs; r++)
			v[r] = wal_sync_rate(dir, false, secs, NULL);
		emit("fdatasync-16k-append", "syncs/s", v, runs);
		double lat[3][MAX_RUNS];
		for (int r = 0; r < runs; r++) {
			double l[3];
			v[r] = wal_sync_rate(dir, true, secs, l);
			for (int k = 0; k < 3; k++)
				lat[k][r] = l[k];
		}
		emit("fdatasync-16k-overwrite", "syncs/s", v, runs);
		emit("fdatasync-16k-overwrite-p50", "us", lat[0], runs);
		emit("fdatasync-16k-overwrite-p99", "us", lat[1], runs);
		emit("fdatasync-16k-overwrite-max", "us", lat[2], runs);
	}
	if (!only || !strcmp(only, "tls")) {
		make_contexts();
		pthread_t th;
		if (pthread_create(&th, NULL, server_main, NULL) != 0)
			fail("thread");
		pthread_detach(th);
		for (int r = 0; r < runs; r++)
			tls_rtt(secs, &v[r], &w[r]);
		emit("tls13-rtt-p50", "us", v, runs);
		emit("tls13-rtt-p99", "us", w, runs);
		for (int r = 0; r < runs; r++)
			v[r] = tls_handshakes(secs);
		emit("tls13-mutual-handshakes", "handshakes/s", v, runs);
	}
	return 0;
}
