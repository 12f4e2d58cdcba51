/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A fault-injecting store backend for tests (SQLite's test6.c idea): it
 * wraps another backend (SQLite by default) behind the same method table
 * and, following a plan, makes the N-th write operation fail once or from
 * then on (an I/O error, a full disk), or loses power at the N-th commit:
 * that commit's writes are dropped, torn (only the first half reaches the
 * disk) or scattered (an arbitrary subset does, later writes without
 * earlier ones), the commit fails (an honest disk) or reports success (a
 * disk that acknowledges before it syncs), and the store is dead from then
 * on, as the process would be.
 *
 * Write operations are put, del, del_range and commit, counted from 1 over
 * the life of the store; a write outside a transaction is its own
 * transaction (its operation, then a commit).  Reads are never failed.
 *
 * Not here: choosing plans (the tests do), wiring the wrapper into the
 * node (node/ opens its store; a test build would pass these methods).
 * Plans are process-wide, like the rest of a test's setup; lib/ has no
 * threads.
 */
#ifndef PARLEY_LIB_STORE_FAULT_H
#define PARLEY_LIB_STORE_FAULT_H

#include <stdbool.h>
#include <stdint.h>

#include "parley/store.h"

/* What survives of the transaction being committed when power is lost. */
typedef enum pl_store_fault_power {
	PL_STORE_FAULT_LOSE_ALL, /* none of its writes */
	PL_STORE_FAULT_TORN,     /* the first half of its writes, in order */
	PL_STORE_FAULT_SCATTER,  /* a subset chosen by the plan's seed */
} pl_store_fault_power;

typedef struct pl_store_fault_plan {
	const pl_store_methods *inner; /* the wrapped backend; NULL: SQLite */
	uint64_t fail_at;              /* write operation that fails (1, 2, ...); 0: none */
	bool persistent;               /* ... and every write operation after it (disk full) */
	int error;                     /* what fails return; 0: PL_ERR_IO */
	uint64_t power_at;             /* commit (1, 2, ...) at which power is lost; 0: never */
	pl_store_fault_power power;    /* what of that commit survives */
	bool lying;                    /* that commit returns 0 all the same */
	uint64_t seed;                 /* for PL_STORE_FAULT_SCATTER */
} pl_store_fault_plan;

typedef struct pl_store_fault_stats {
	uint64_t writes;  /* write operations attempted */
	uint64_t commits; /* commits attempted */
	uint64_t failed;  /* operations failed by the plan */
	uint64_t dropped; /* writes lost to the power failure */
	bool dead;        /* power was lost */
} pl_store_fault_stats;

/* The backend: pl_store_open(location, flags, &pl_store_fault_methods, &s)
 * opens the inner backend at location with the plan in force at that time. */
extern const pl_store_methods pl_store_fault_methods;

/* Set the plan for stores opened from now on (copied; NULL: no faults) and
 * reset the statistics. */
void pl_store_fault_set_plan(const pl_store_fault_plan *plan);

/* Statistics of the most recently opened fault store (zeros if none is
 * open); they stay readable after it was closed until the next open. */
void pl_store_fault_get_stats(pl_store_fault_stats *out);

/*
 * The power-loss model of deferred syncs (pl_store_defer_sync: the commits
 * of a store are synced by a thread of its backend, not each in its
 * commit): from now on, after each such sync, the SQLite backend writes
 * the length of the store's WAL that the sync covered to the file at path
 * (created or emptied; 20 digits and a newline, rewritten in place).
 * While the WAL only grows (no checkpoint started it over: a large
 * wal_pages), a power loss at any moment leaves at least that much of it,
 * and a test that kills the node and cuts its WAL to that length has the
 * harshest state such a loss can leave.  Everything the node let out
 * (answers, acknowledgements) must survive it.  Each sync waits delay_ms
 * first, so that commits pile up unsynced (a slow disk): a loss then
 * nearly always takes some.  NULL: no more.  0, or PL_ERR_IO when path
 * cannot be opened.
 */
int pl_store_fault_sync_log(const char *path, unsigned delay_ms);

#endif /* PARLEY_LIB_STORE_FAULT_H */
