/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Transcript benchmarks: the append rate of libparley's Merkle tree
 * (RFC 9162 hashing of 256-byte entries) and the number of hash reads per
 * inclusion and consistency proof at 10,000,000 entries.  Every hash a
 * proof needs is fetched through the tree's pl_merkle_get_fn, which is
 * where a stored transcript reads its store, so the reads counted here
 * are the store reads a node makes per proof.  The tree is the in-memory
 * pl_merkle_mem (about 64 bytes per entry: 640 MB at 10,000,000); the SQLite
 * commit of the same hashes is bench_core's business.
 *
 *   bench_transcript [--runs N] [--entries N] [--proofs N] [--seconds S]
 *
 * Output: one JSON object per figure and line on standard output,
 * {"name":..., "unit":..., "runs":[...]}, plus {"name":"...-bound"...}
 * lines with 2 * ceil(log2 n) (+1 for consistency) for comparison.  Every
 * loop is bounded in count and in time.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "parley/crypto.h"
#include "parley/transcript.h"

#define MAX_RUNS 9

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void emit(const char *name, const char *unit, const double *v, int n)
{
	printf("{\"name\":\"%s\",\"unit\":\"%s\",\"runs\":[", name, unit);
	for (int i = 0; i < n; i++)
		printf("%s%.2f", i ? "," : "", v[i]);
	printf("]}\n");
	fflush(stdout);
}

/* Append up to n entries (bounded by secs); returns entries appended. */
static long append(pl_merkle_mem *t, long n, double secs)
{
	uint8_t entry[256];
	memset(entry, 'e', sizeof(entry));
	long k = 0;
	double t0 = now_s();
	for (; k < n; k++) {
		memcpy(entry, &k, sizeof(k));
		if (pl_merkle_mem_append(t, entry, sizeof(entry)) != 0)
			return -1;
		if (k % 4096 == 0 && now_s() - t0 > secs)
			break;
	}
	return k;
}

/* The tree's provider, counting reads. */
static long reads;

static int counting_get(void *ctx, uint64_t level, uint64_t index, uint8_t out[PL_HASH_BYTES])
{
	reads++;
	return pl_merkle_mem_get(ctx, level, index, out);
}

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t next_rand(uint64_t bound)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng % bound;
}

static int ceil_log2(uint64_t n)
{
	int k = 0;
	while (((uint64_t)1 << k) < n)
		k++;
	return k;
}

int main(int argc, char **argv)
{
	int runs = 3;
	long entries = 10000000, proofs = 10000;
	double secs = 60;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--runs"))
			runs = (int)strtol(argv[i + 1], NULL, 10);
		else if (!strcmp(argv[i], "--entries"))
			entries = strtol(argv[i + 1], NULL, 10);
		else if (!strcmp(argv[i], "--proofs"))
			proofs = strtol(argv[i + 1], NULL, 10);
		else if (!strcmp(argv[i], "--seconds"))
			secs = strtod(argv[i + 1], NULL);
	}
	if (argc % 2 == 0 || runs < 1 || runs > MAX_RUNS || entries < 2 || entries > 100000000 ||
	    proofs < 1 || proofs > 10000000 || !(secs > 0 && secs <= 3600)) {
		fprintf(stderr, "usage: bench_transcript [--runs 1-9] [--entries N] [--proofs N] "
				"[--seconds S]\n");
		return 2;
	}
	if (pl_crypto_init() != 0)
		return 1;
	double v[MAX_RUNS], w[MAX_RUNS], x[MAX_RUNS], y[MAX_RUNS], cm[MAX_RUNS], cx[MAX_RUNS];

	/* append rate: runs of 1,000,000 (or --entries if fewer) into fresh trees */
	long small = entries < 1000000 ? entries : 1000000;
	for (int r = 0; r < runs; r++) {
		pl_merkle_mem *t = pl_merkle_mem_new();
		double t0 = now_s();
		long k = t ? append(t, small, secs) : -1;
		if (k < 1) {
			fprintf(stderr, "bench_transcript: append failed\n");
			return 1;
		}
		v[r] = (double)k / (now_s() - t0);
		pl_merkle_mem_free(t);
	}
	emit("transcript-append", "entries/s", v, runs);

	/* one tree of --entries; proofs on it */
	pl_merkle_mem *t = pl_merkle_mem_new();
	double t0 = now_s();
	long n = t ? append(t, entries, secs) : -1;
	if (n < 2) {
		fprintf(stderr, "bench_transcript: append failed\n");
		return 1;
	}
	double full[1] = {(double)n / (now_s() - t0)};
	emit("transcript-append-to-size", "entries/s", full, 1);
	double size[1] = {(double)n};
	emit("transcript-size", "entries", size, 1);
	uint8_t *proof = malloc(PL_MERKLE_MAX_PROOF * PL_HASH_BYTES);
	if (!proof)
		return 1;
	for (int r = 0; r < runs; r++) {
		long maxr = 0, total = 0, k = 0;
		double a = now_s();
		for (; k < proofs && now_s() - a < secs; k++) {
			size_t plen;
			reads = 0;
			if (pl_merkle_prove_inclusion(counting_get, t, next_rand((uint64_t)n),
						      (uint64_t)n, proof, &plen) != 0) {
				fprintf(stderr, "bench_transcript: inclusion proof failed\n");
				return 1;
			}
			total += reads;
			maxr = reads > maxr ? reads : maxr;
		}
		v[r] = (double)k / (now_s() - a);
		w[r] = (double)total / (double)k;
		x[r] = (double)maxr;
		long cmax = 0, ctotal = 0, c = 0;
		a = now_s();
		for (; c < proofs && now_s() - a < secs; c++) {
			size_t plen;
			uint64_t m = 1 + next_rand((uint64_t)n - 1);
			reads = 0;
			if (pl_merkle_prove_consistency(counting_get, t, m, (uint64_t)n, proof,
							&plen) != 0) {
				fprintf(stderr, "bench_transcript: consistency proof failed\n");
				return 1;
			}
			ctotal += reads;
			cmax = reads > cmax ? reads : cmax;
		}
		y[r] = (double)c / (now_s() - a);
		cm[r] = (double)ctotal / (double)c;
		cx[r] = (double)cmax;
	}
	emit("transcript-inclusion-proofs", "proofs/s", v, runs);
	emit("transcript-inclusion-reads-mean", "reads/proof", w, runs);
	emit("transcript-inclusion-reads-max", "reads/proof", x, runs);
	emit("transcript-consistency-proofs", "proofs/s", y, runs);
	emit("transcript-consistency-reads-mean", "reads/proof", cm, runs);
	emit("transcript-consistency-reads-max", "reads/proof", cx, runs);
	double bound[1] = {2.0 * ceil_log2((uint64_t)n)};
	emit("transcript-inclusion-reads-bound", "reads/proof", bound, 1);
	bound[0] += 1;
	emit("transcript-consistency-reads-bound", "reads/proof", bound, 1);
	free(proof);
	pl_merkle_mem_free(t);
	return 0;
}
