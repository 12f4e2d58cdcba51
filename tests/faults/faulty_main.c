/* SPDX-License-Identifier: Apache-2.0 */
/*
 * parleyd-faulty: parleyd with its store behind the fault-injecting backend
 * (lib/store/fault.h), for the tests of docs/faults.md ("Store faults", "A
 * node's own faults").  The plan comes from the environment,
 * PARLEY_FAULT_PLAN, a comma-separated list of
 *   fail_at=N       the N-th write operation (put, del, commit...) fails once
 *   persistent      ... and every one after it (a full disk)
 *   enospc          fail with "disk full" wording (PL_ERR_IO either way)
 *   power_at=N      power is lost at the N-th commit
 *   power=lose|torn|scatter, lying, seed=N   what survives it (fault.h)
 *   snapshot        before the commit that loses power, copy the store
 *                   FILE (and FILE-wal) to FILE.before-power-loss(-wal):
 *                   the state an atomic store is left in by that power
 *                   loss, for a test to put back
 * PARLEY_FAULT_SYNC_LOG=FILE has the store record, after each of its
 * deferred syncs, the length of WAL the sync covered (fault.h,
 * pl_store_fault_sync_log: the power-loss model of deferred syncs;
 * PARLEY_FAULT_SYNC_DELAY_MS=N, at most 1000, delays each sync so),
 * and PARLEY_CRASH_AT=POINT:N kills the process (die()) the N-th time the
 * node passes the named crash point POINT (node/core.h:
 * after-commit-before-receipt, after-receipt, after-delivery-commit,
 * mid-cosign).  PARLEY_HOOK_SLEEP=POINT:MS holds the node MS ms (at most
 * 1000) each time it passes POINT (checkpoint-slice: a slice of a peer's
 * checkpoint's proofs is about to be checked), and PARLEY_HOOK_TRACE=1
 * logs every point passed ("parleyd-faulty: point NAME at SECONDS.MS",
 * the wall clock; control-held: a CONTROL item waits behind a checkpoint
 * being checked).  Without the
 * variables it is plain parleyd.  Built for
 * tests only: it is node/main.c compiled with its main renamed (CMake),
 * plus this file.
 *
 * It logs (stderr, with the node's log) the first write the plan fails and
 * the power loss, with how many writes of the open transaction reached the
 * disk.  Power loss stops the machine: when the commit fails (an honest
 * disk), the process dies at once, before the node can act on the failure.
 * With `lying` the commit reports success and the process goes on (its
 * disk acknowledged what it then lost, and the node answers on that
 * promise): the test kills it once it sees the dead store.
 */
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core.h"
#include "parley/err.h"
#include "fault.h"

int parleyd_main(int argc, char **argv);

static bool snapshot_wanted; /* PARLEY_FAULT_PLAN has "snapshot" */

/*
 * The process ends here, as if SIGKILLed: no cleanup, no flush, nothing
 * more sent; what the kernel already holds (socket buffers, written file
 * data) goes on as it would.  _exit rather than kill(SIGKILL), with the
 * same status 137, so that the test's shell does not report a killed job.
 */
static _Noreturn void die(void)
{
	_exit(128 + SIGKILL);
}

static int parse_plan(const char *s, pl_store_fault_plan *p)
{
	char buf[512];
	snprintf(buf, sizeof(buf), "%s", s);
	char *save = NULL;
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (strncmp(t, "fail_at=", 8) == 0)
			p->fail_at = strtoull(t + 8, NULL, 10);
		else if (strcmp(t, "persistent") == 0)
			p->persistent = true;
		else if (strcmp(t, "enospc") == 0)
			p->error = 0;
		else if (strncmp(t, "power_at=", 9) == 0)
			p->power_at = strtoull(t + 9, NULL, 10);
		else if (strcmp(t, "power=lose") == 0)
			p->power = PL_STORE_FAULT_LOSE_ALL;
		else if (strcmp(t, "power=torn") == 0)
			p->power = PL_STORE_FAULT_TORN;
		else if (strcmp(t, "power=scatter") == 0)
			p->power = PL_STORE_FAULT_SCATTER;
		else if (strcmp(t, "lying") == 0)
			p->lying = true;
		else if (strncmp(t, "seed=", 5) == 0)
			p->seed = strtoull(t + 5, NULL, 10);
		else if (strcmp(t, "snapshot") == 0)
			snapshot_wanted = true;
		else {
			fprintf(stderr, "parleyd-faulty: PARLEY_FAULT_PLAN: what is '%s'?\n", t);
			return -1;
		}
	}
	return 0;
}

/* ---------------------------------------------------------------- watching the wrapper */

/*
 * The fault wrapper's methods with the writes wrapped: after each, what
 * the plan did is logged, and a store that just lost power honestly stops
 * the process.  Writes of the open transaction are counted for the log.
 */
static pl_store_methods watched;
static pl_store_fault_plan in_force;
static bool snapshot_done, power_seen, tx_open;
static uint64_t failed_seen;
static unsigned long tx_writes;
static char store_file[4096];

/* Copy src to dst (created or truncated); a missing src removes dst. */
static int copy_file(const char *src, const char *dst)
{
	FILE *in = fopen(src, "rb");
	if (!in) {
		(void)remove(dst);
		return 0;
	}
	FILE *out = fopen(dst, "wb");
	int rc = out ? 0 : -1;
	char buf[65536];
	size_t n;
	while (!rc && (n = fread(buf, 1, sizeof(buf), in)) > 0)
		rc = fwrite(buf, 1, n, out) == n ? 0 : -1;
	if (!rc && ferror(in))
		rc = -1;
	if (out && fclose(out) != 0)
		rc = -1;
	fclose(in);
	return rc;
}

/* Before a commit: if it is the one that loses power, keep the store as it
 * is now (the last commit; SQLite ignores the open transaction's frames,
 * which have no commit record). */
static void snapshot_if_next(void)
{
	pl_store_fault_stats st;
	pl_store_fault_get_stats(&st);
	if (!snapshot_wanted || snapshot_done || st.commits + 1 != in_force.power_at)
		return;
	snapshot_done = true;
	char dst[4200], src[4200];
	snprintf(dst, sizeof(dst), "%s.before-power-loss", store_file);
	int rc = copy_file(store_file, dst);
	snprintf(src, sizeof(src), "%s-wal", store_file);
	snprintf(dst, sizeof(dst), "%s.before-power-loss-wal", store_file);
	if (!rc)
		rc = copy_file(src, dst);
	fprintf(stderr, "parleyd-faulty: %s the store before commit %llu to %s.before-power-loss\n",
		rc ? "could not copy" : "copied", (unsigned long long)in_force.power_at,
		store_file);
}

static void watch(void)
{
	pl_store_fault_stats st;
	pl_store_fault_get_stats(&st);
	if (st.failed > failed_seen) {
		if (!failed_seen)
			fprintf(stderr, "parleyd-faulty: injected %s write operation %llu%s\n",
				in_force.persistent ? "disk full from" : "I/O error at",
				(unsigned long long)st.writes, in_force.persistent ? " on" : "");
		failed_seen = st.failed;
	}
	if (!st.dead || power_seen)
		return;
	power_seen = true;
	unsigned long dropped = (unsigned long)st.dropped;
	fprintf(stderr,
		"parleyd-faulty: power lost at commit %llu: %lu of its %lu writes reached the "
		"disk, %lu dropped%s\n",
		(unsigned long long)st.commits, tx_writes >= dropped ? tx_writes - dropped : 0,
		tx_writes, dropped,
		in_force.lying ? "; the commit reported success (lying)" : "; the machine stops");
	if (!in_force.lying)
		die();
}

static int watched_open(const char *location, unsigned flags, pl_store_backend **out)
{
	snprintf(store_file, sizeof(store_file), "%s", location);
	return pl_store_fault_methods.open(location, flags, out);
}

static int watched_begin(pl_store_backend *b)
{
	tx_writes = 0;
	int rc = pl_store_fault_methods.begin(b);
	tx_open = rc == 0;
	return rc;
}

static int watched_commit(pl_store_backend *b)
{
	snapshot_if_next();
	int rc = pl_store_fault_methods.commit(b);
	watch();
	tx_open = false;
	tx_writes = 0;
	return rc;
}

static int watched_rollback(pl_store_backend *b)
{
	tx_open = false;
	tx_writes = 0;
	return pl_store_fault_methods.rollback(b);
}

/* Before one write: outside a transaction it is a transaction of its own,
 * committed inside the wrapper (so it may be the one that loses power). */
static void before_write(void)
{
	if (!tx_open) {
		tx_writes = 0;
		snapshot_if_next();
	}
	tx_writes++;
}

static int watched_put(pl_store_backend *b, uint32_t kind, const char *key, const uint8_t *val,
		       size_t len, unsigned flags)
{
	before_write();
	int rc = pl_store_fault_methods.put(b, kind, key, val, len, flags);
	watch();
	return rc;
}

static int watched_del(pl_store_backend *b, uint32_t kind, const char *key)
{
	before_write();
	int rc = pl_store_fault_methods.del(b, kind, key);
	watch();
	return rc;
}

static int watched_del_range(pl_store_backend *b, uint32_t kind, const char *from, const char *to,
			     uint64_t *deleted)
{
	before_write();
	int rc = pl_store_fault_methods.del_range(b, kind, from, to, deleted);
	watch();
	return rc;
}

/* ---------------------------------------------------------------- crash points */

static char crash_point[64];
static unsigned long crash_n, crash_seen;

static char sleep_point[64];
static unsigned sleep_ms;
static bool trace_points;

static void crash_hook(const char *point)
{
	if (trace_points) {
		struct timespec now;
		clock_gettime(CLOCK_REALTIME, &now);
		fprintf(stderr, "parleyd-faulty: point %s at %lld.%03ld\n", point,
			(long long)now.tv_sec, now.tv_nsec / 1000000L);
	}
	if (sleep_ms && strcmp(point, sleep_point) == 0) {
		struct timespec ts = {(time_t)(sleep_ms / 1000),
				      (long)(sleep_ms % 1000) * 1000000L};
		nanosleep(&ts, NULL);
	}
	if (!crash_n || strcmp(point, crash_point) != 0 || ++crash_seen != crash_n)
		return;
	fprintf(stderr, "parleyd-faulty: crash point %s reached (pass %lu): the process dies\n",
		point, crash_seen);
	die();
}

/* "POINT:N" from the variable var into point and *n, 1 <= N <= max. */
static int point_arg(const char *var, const char *val, char point[64], unsigned long *n,
		     unsigned long max)
{
	const char *colon = strrchr(val, ':');
	char *end = NULL;
	*n = colon ? strtoul(colon + 1, &end, 10) : 0;
	if (!colon || (size_t)(colon - val) >= 64 || *end || *n == 0 || *n > max) {
		fprintf(stderr, "parleyd-faulty: %s wants POINT:N (N 1..%lu), not '%s'\n", var, max,
			val);
		return -1;
	}
	memcpy(point, val, (size_t)(colon - val));
	point[colon - val] = '\0';
	return 0;
}

int main(int argc, char **argv)
{
	const char *crash = getenv("PARLEY_CRASH_AT");
	if (crash && *crash) {
		if (point_arg("PARLEY_CRASH_AT", crash, crash_point, &crash_n, ULONG_MAX) != 0)
			return 2;
		node_crash_hook = crash_hook;
	}
	const char *hold = getenv("PARLEY_HOOK_SLEEP");
	if (hold && *hold) {
		unsigned long ms = 0;
		if (point_arg("PARLEY_HOOK_SLEEP", hold, sleep_point, &ms, 1000) != 0)
			return 2;
		sleep_ms = (unsigned)ms;
		node_crash_hook = crash_hook;
	}
	const char *trace = getenv("PARLEY_HOOK_TRACE");
	if (trace && strcmp(trace, "1") == 0) {
		trace_points = true;
		node_crash_hook = crash_hook;
	}
	const char *sync_log = getenv("PARLEY_FAULT_SYNC_LOG");
	const char *sync_delay = getenv("PARLEY_FAULT_SYNC_DELAY_MS");
	unsigned delay = sync_delay ? (unsigned)strtoul(sync_delay, NULL, 10) : 0;
	if (sync_log && *sync_log &&
	    pl_store_fault_sync_log(sync_log, delay > 1000 ? 1000 : delay) != 0) {
		fprintf(stderr, "parleyd-faulty: %s\n", pl_err_detail());
		return 2;
	}
	const char *plan = getenv("PARLEY_FAULT_PLAN");
	if (plan && *plan) {
		pl_store_fault_plan p;
		memset(&p, 0, sizeof(p));
		if (parse_plan(plan, &p) != 0)
			return 2;
		pl_store_fault_set_plan(&p);
		in_force = p;
		watched = pl_store_fault_methods;
		watched.open = watched_open;
		watched.begin = watched_begin;
		watched.commit = watched_commit;
		watched.rollback = watched_rollback;
		watched.put = watched_put;
		watched.del = watched_del;
		watched.del_range = watched_del_range;
		node_store_methods = &watched;
		fprintf(stderr, "parleyd-faulty: store fault plan: %s\n", plan);
	}
	return parleyd_main(argc, argv);
}
