/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Core benchmarks: libparley's signing, verification, record checking and
 * store commits, each next to its baseline (the raw library call) measured
 * in the same run, so the figures are ratios that mean something on any
 * machine.  Every loop is bounded in count and in time.
 *
 * Output: one line per scenario, "name ops/s (min..max) ratio-to-baseline",
 * and with --json FILE the same as JSON.  Median of --runs runs (default 3).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>
#include <sqlite3.h>

#include "parley/codec.h"
#include "parley/crypto.h"
#include "parley/identity.h"
#include "parley/store.h"

#define MAX_RUNS 9

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef struct scenario {
	const char *name;
	const char *baseline; /* name of the scenario it is compared with, or NULL */
	const char *unit;
	/* Run up to max_ops operations or max_s seconds; return ops done, or -1. */
	long (*run)(long max_ops, double max_s);
	double rate[MAX_RUNS];
	double median, min, max;
} scenario;

/* ---------------------------------------------------------------- fixtures */

static pl_keypair root_kp, off_kp;
static uint8_t payload[256], sig[64];
static uint8_t *cose_buf, *cred_buf;
static size_t cose_len, cred_len;
static pl_trust *trust;
static char tmpdir[256];

static int fixtures(void)
{
	if (pl_crypto_init() || pl_key_generate(&root_kp) || pl_key_generate(&off_kp))
		return -1;
	randombytes_buf(payload, sizeof(payload));
	crypto_sign_detached(sig, NULL, payload, sizeof(payload), off_kp.sk);
	if (pl_cose_sign1_sign(&cose_buf, &cose_len, payload, sizeof(payload), NULL, 0, NULL, 0,
			       &off_kp, PL_COSE_TAGGED))
		return -1;
	pl_cred c;
	memset(&c, 0, sizeof(c));
	memcpy(c.state, "tehran", 7);
	memcpy(c.id, "amb", 4);
	memcpy(c.name, "Reza Amiri", 11);
	memcpy(c.title, "Ambassador", 11);
	memcpy(c.roles[0], "ambassador", 11);
	c.nroles = 1;
	memcpy(c.pk, off_kp.pk, 32);
	c.not_before = 0;
	c.not_after = INT64_MAX / 2;
	trust = pl_trust_new();
	if (!trust || pl_trust_add(trust, "tehran", root_kp.pk) ||
	    pl_cred_sign(&c, &root_kp, &cred_buf, &cred_len))
		return -1;
	const char *base = getenv("TMPDIR");
	snprintf(tmpdir, sizeof(tmpdir), "%s/parley-bench.XXXXXX", base ? base : "/tmp");
	return mkdtemp(tmpdir) ? 0 : -1;
}

#define LOOP(body)                                                                                 \
	long n = 0;                                                                                \
	double t0 = now_s();                                                                       \
	while (n < max_ops && (n % 64 != 0 || now_s() - t0 < max_s)) {                             \
		body;                                                                              \
		n++;                                                                               \
	}                                                                                          \
	return n;

/* ---------------------------------------------------------------- crypto */

static long run_raw_sign(long max_ops, double max_s)
{
	LOOP(crypto_sign_detached(sig, NULL, payload, sizeof(payload), off_kp.sk))
}

static long run_pl_sign(long max_ops, double max_s)
{
	LOOP(if (pl_sign(sig, payload, sizeof(payload), &off_kp)) return -1)
}

static long run_raw_verify(long max_ops, double max_s)
{
	crypto_sign_detached(sig, NULL, payload, sizeof(payload), off_kp.sk);
	LOOP(if (crypto_sign_verify_detached(sig, payload, sizeof(payload), off_kp.pk)) return -1)
}

static long run_cose_verify(long max_ops, double max_s)
{
	LOOP({
		pl_cose_sign1 m;
		if (pl_cose_sign1_decode(cose_buf, cose_len, PL_COSE_TAGGED, PL_CBOR_CANONICAL, &m))
			return -1;
		int rc = pl_cose_sign1_verify(&m, NULL, 0, off_kp.pk);
		pl_cose_sign1_clear(&m);
		if (rc)
			return -1;
	})
}

static long run_cred_verify(long max_ops, double max_s)
{
	LOOP(if (pl_cred_verify(cred_buf, cred_len, trust, NULL, 1000, NULL)) return -1)
}

/* ---------------------------------------------------------------- store */

static int bench_db_path(char *out, size_t cap, const char *tag)
{
	static int seq;
	int k = snprintf(out, cap, "%s/%s-%d.db", tmpdir, tag, seq++);
	return k > 0 && (size_t)k < cap ? 0 : -1;
}

static long raw_sqlite(long max_ops, double max_s, int per_txn)
{
	char path[512];
	sqlite3 *db;
	if (bench_db_path(path, sizeof(path), "raw") ||
	    sqlite3_open(path, &db) != SQLITE_OK ||
	    sqlite3_exec(db,
			 "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
			 "CREATE TABLE t(kind INTEGER, key TEXT, value BLOB, PRIMARY KEY(kind,key))"
			 " WITHOUT ROWID;",
			 NULL, NULL, NULL) != SQLITE_OK)
		return -1;
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, "INSERT INTO t VALUES(1, ?, ?)", -1, &st, NULL) != SQLITE_OK)
		return -1;
	long n = 0;
	double t0 = now_s();
	while (n < max_ops && now_s() - t0 < max_s) {
		sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
		for (int i = 0; i < per_txn; i++, n++) {
			char key[32];
			snprintf(key, sizeof(key), "%ld", n);
			sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
			sqlite3_bind_blob(st, 2, payload, sizeof(payload), SQLITE_STATIC);
			if (sqlite3_step(st) != SQLITE_DONE)
				return -1;
			sqlite3_reset(st);
		}
		if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
			return -1;
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	unlink(path);
	return n;
}

static long pl_store_run(long max_ops, double max_s, int per_txn)
{
	char path[512];
	pl_store *s;
	if (bench_db_path(path, sizeof(path), "pl") || pl_store_open(path, PL_STORE_CREATE, NULL, &s))
		return -1;
	long n = 0;
	double t0 = now_s();
	while (n < max_ops && now_s() - t0 < max_s) {
		if (pl_store_begin(s))
			return -1;
		for (int i = 0; i < per_txn; i++, n++) {
			char key[32];
			snprintf(key, sizeof(key), "%ld", n);
			if (pl_store_put(s, 1, key, payload, sizeof(payload), 0))
				return -1;
		}
		if (pl_store_commit(s))
			return -1;
	}
	pl_store_close(s);
	unlink(path);
	return n;
}

static long run_raw_sqlite_1(long m, double s) { return raw_sqlite(m, s, 1); }
static long run_pl_store_1(long m, double s) { return pl_store_run(m, s, 1); }
static long run_raw_sqlite_1000(long m, double s) { return raw_sqlite(m, s, 1000); }
static long run_pl_store_1000(long m, double s) { return pl_store_run(m, s, 1000); }

/* ---------------------------------------------------------------- driver */

static scenario scenarios[] = {
	{"ed25519-sign-raw", NULL, "sig/s", run_raw_sign, {0}, 0, 0, 0},
	{"ed25519-sign-pl", "ed25519-sign-raw", "sig/s", run_pl_sign, {0}, 0, 0, 0},
	{"ed25519-verify-raw", NULL, "verify/s", run_raw_verify, {0}, 0, 0, 0},
	{"cose-sign1-verify-256B", "ed25519-verify-raw", "verify/s", run_cose_verify, {0}, 0, 0, 0},
	{"credential-verify", "ed25519-verify-raw", "verify/s", run_cred_verify, {0}, 0, 0, 0},
	{"sqlite-raw-1-per-txn", NULL, "rows/s", run_raw_sqlite_1, {0}, 0, 0, 0},
	{"pl-store-1-per-txn", "sqlite-raw-1-per-txn", "rows/s", run_pl_store_1, {0}, 0, 0, 0},
	{"sqlite-raw-1000-per-txn", NULL, "rows/s", run_raw_sqlite_1000, {0}, 0, 0, 0},
	{"pl-store-1000-per-txn", "sqlite-raw-1000-per-txn", "rows/s", run_pl_store_1000, {0}, 0, 0,
	 0},
};
#define NSCEN (sizeof(scenarios) / sizeof(scenarios[0]))

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static scenario *find(const char *name)
{
	for (size_t i = 0; i < NSCEN; i++)
		if (strcmp(scenarios[i].name, name) == 0)
			return &scenarios[i];
	return NULL;
}

int main(int argc, char **argv)
{
	int runs = 3;
	double secs = 0.5;
	long max_ops = 2000000;
	const char *json = NULL, *only = NULL;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc)
			runs = (int)strtol(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
			secs = strtod(argv[++i], NULL);
		else if (strcmp(argv[i], "--json") == 0 && i + 1 < argc)
			json = argv[++i];
		else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc)
			only = argv[++i];
		else {
			fprintf(stderr,
				"usage: bench_core [--runs N (1-9)] [--seconds S per run] "
				"[--only SUBSTRING] [--json FILE]\n");
			return 2;
		}
	}
	if (runs < 1 || runs > MAX_RUNS || !(secs > 0 && secs <= 60)) {
		fprintf(stderr, "bench_core: --runs 1-9, --seconds in (0, 60]\n");
		return 2;
	}
	if (fixtures()) {
		fprintf(stderr, "bench_core: setup failed\n");
		return 1;
	}
	for (size_t i = 0; i < NSCEN; i++) {
		scenario *s = &scenarios[i];
		bool wanted = !only || strstr(s->name, only) ||
			      (find(only) && find(only)->baseline &&
			       strcmp(find(only)->baseline, s->name) == 0);
		if (!wanted)
			continue;
		for (int r = 0; r < runs; r++) {
			double t0 = now_s();
			long n = s->run(max_ops, secs);
			double dt = now_s() - t0;
			if (n < 0) {
				fprintf(stderr, "bench_core: %s failed\n", s->name);
				return 1;
			}
			s->rate[r] = (double)n / dt;
		}
		double sorted[MAX_RUNS];
		memcpy(sorted, s->rate, sizeof(double) * (size_t)runs);
		qsort(sorted, (size_t)runs, sizeof(double), cmp_double);
		s->median = sorted[runs / 2];
		s->min = sorted[0];
		s->max = sorted[runs - 1];
	}
	FILE *jf = json ? fopen(json, "w") : NULL;
	if (json && !jf) {
		fprintf(stderr, "bench_core: %s: %s\n", json, strerror(errno));
		return 1;
	}
	if (jf)
		fprintf(jf, "{\"runs\": %d, \"seconds_per_run\": %g, \"scenarios\": [", runs, secs);
	printf("%-26s %14s %24s  %s\n", "scenario", "median", "min..max", "vs baseline");
	bool first = true;
	for (size_t i = 0; i < NSCEN; i++) {
		scenario *s = &scenarios[i];
		if (s->median == 0)
			continue;
		scenario *b = s->baseline ? find(s->baseline) : NULL;
		char ratio[64] = "(baseline)";
		if (b && b->median > 0)
			snprintf(ratio, sizeof(ratio), "%.2fx of %s", s->median / b->median, b->name);
		char range[64];
		snprintf(range, sizeof(range), "%.0f..%.0f", s->min, s->max);
		printf("%-26s %10.0f %-8s %16s  %s\n", s->name, s->median, s->unit, range, ratio);
		if (jf)
			fprintf(jf,
				"%s\n  {\"name\": \"%s\", \"unit\": \"%s\", \"median\": %.1f, "
				"\"min\": %.1f, \"max\": %.1f, \"baseline\": %s%s%s, \"ratio\": %.4f}",
				first ? "" : ",", s->name, s->unit, s->median, s->min, s->max,
				b ? "\"" : "", b ? b->name : "null", b ? "\"" : "",
				b && b->median > 0 ? s->median / b->median : 1.0);
		first = false;
	}
	if (jf) {
		fprintf(jf, "\n]}\n");
		fclose(jf);
	}
	rmdir(tmpdir);
	pl_trust_free(trust);
	free(cose_buf);
	free(cred_buf);
	return 0;
}
