/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Storage interface: a versioned method table in the style of SQLite's VFS.
 *
 * Callers see pl_store and its functions; backends implement
 * pl_store_methods.  SQLite (WAL, synchronous=FULL) is the default backend;
 * others (PostgreSQL, an in-memory one, a fault-injecting wrapper) plug in
 * behind the same table.  Nothing backend-specific appears here.
 *
 * Data model (version 1): typed objects, each a byte string under a
 * (kind, key) pair.  Kinds are small integers owned by the caller (the
 * registry lives in docs/formats.md); keys are text of at most
 * PL_STORE_KEY_MAX bytes; values at most PL_STORE_VALUE_MAX bytes.
 * Later versions append methods to the table; fields are never reordered.
 *
 * Durability: every committed transaction is on stable storage when commit
 * returns 0 — the rule that lets the node acknowledge after commit — unless
 * the store was told to defer its syncs (version 5, pl_store_defer_sync):
 * then a thread of the backend's makes commits durable, many with one sync,
 * and the caller holds back whatever tells about a commit until it is.
 */
#ifndef PARLEY_STORE_H
#define PARLEY_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "parley/export.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PL_STORE_KEY_MAX 256
#define PL_STORE_VALUE_MAX (16u * 1024 * 1024)

typedef struct pl_store pl_store;
typedef struct pl_store_backend pl_store_backend; /* a backend's own connection state */

enum {
	PL_STORE_CREATE = 1u << 0,   /* create the store if missing */
	PL_STORE_READONLY = 1u << 1,
};
enum { PL_STORE_NO_REPLACE = 1u << 0 }; /* put: fail with PL_ERR_EXISTS if the key exists */

/* Called once per object by list; a non-zero return stops the walk and is returned.
 * key and val are valid only during the call, which may get but not write
 * or list (PL_ERR_INVALID). */
typedef int (*pl_store_list_cb)(void *ctx, const char *key, const uint8_t *val, size_t len);

#define PL_STORE_METHODS_VERSION 5

/* What a backend has done since it was opened (version 4), for tests and
 * diagnostics. */
typedef struct pl_store_stats {
	/* Work spent walking list and range results, in the backend's own unit
	 * (SQLite: virtual-machine steps), rows passed over included: a range
	 * that reads past its upper bound shows here. */
	uint64_t walk_steps;
	/* WAL checkpoints (SQLite, lib/store/sqlite/ckpt.h): runs of the store's
	 * checkpointer thread; checkpoints by a commit that found the WAL at its
	 * threshold (each lets SQLite start the WAL over); failed ones (the WAL
	 * is kept). */
	uint64_t checkpoints_thread;
	uint64_t checkpoints_commit;
	uint64_t checkpoints_failed;
} pl_store_stats;

/* Where a store's syncs are (version 5).  Commits are counted from the
 * store's opening; while syncs are not deferred both counts stay 0. */
typedef struct pl_store_sync {
	uint64_t committed; /* transactions committed (that wrote something) */
	uint64_t synced;    /* the first synced of them are on stable storage */
	uint64_t syncs;     /* syncs made (each covers every commit before it) */
	int error;          /* a sync failed (errno): synced stops there for good */
} pl_store_sync;

/* Called by the backend's syncing thread after each sync: quick, and
 * without calling back into the store. */
typedef void (*pl_store_synced_fn)(void *arg);

enum { PL_STORE_CHECK_FULL = 1u << 0 }; /* check: every structure, not the quick subset */

typedef struct pl_store_methods {
	int version;      /* PL_STORE_METHODS_VERSION the backend implements */
	const char *name; /* "sqlite" */
	/* Open (and with PL_STORE_CREATE create, migrating the schema to the
	 * newest version) the store at location.  A schema newer than the
	 * backend knows: PL_ERR_SCHEMA.  Held by another writer: PL_ERR_BUSY. */
	int (*open)(const char *location, unsigned flags, pl_store_backend **out);
	void (*close)(pl_store_backend *b);
	/* Transactions do not nest.  commit is durable when it returns 0; on
	 * failure the transaction is rolled back and nothing of it remains. */
	int (*begin)(pl_store_backend *b);
	int (*commit)(pl_store_backend *b);
	int (*rollback)(pl_store_backend *b);
	int (*schema_version)(pl_store_backend *b, int *out);
	/* Objects.  Outside a transaction each call is its own transaction. */
	int (*put)(pl_store_backend *b, uint32_t kind, const char *key, const uint8_t *val,
		   size_t len, unsigned flags);
	/* *val is malloc'd (caller frees); PL_ERR_NOT_FOUND when absent. */
	int (*get)(pl_store_backend *b, uint32_t kind, const char *key, uint8_t **val, size_t *len);
	/* PL_ERR_NOT_FOUND when absent. */
	int (*del)(pl_store_backend *b, uint32_t kind, const char *key);
	/* In ascending key order (bytewise). */
	int (*list)(pl_store_backend *b, uint32_t kind, pl_store_list_cb cb, void *ctx);
	/* ---- version 2 ---- */
	/* Objects with from <= key < to (to NULL: no upper bound), ascending,
	 * at most limit of them (0: no limit). */
	int (*range)(pl_store_backend *b, uint32_t kind, const char *from, const char *to,
		     size_t limit, pl_store_list_cb cb, void *ctx);
	/* Delete objects with from <= key < to; *deleted (may be NULL) gets the count. */
	int (*del_range)(pl_store_backend *b, uint32_t kind, const char *from, const char *to,
			 uint64_t *deleted);
	/* ---- version 3 ---- */
	/* Check the store's own structures (pages, indexes, whatever the backend
	 * has) outside a transaction: 0 when intact, PL_ERR_CORRUPT with a detail
	 * naming the first problem, another error when the check could not run.
	 * Quick by default; PL_STORE_CHECK_FULL for the thorough check. */
	int (*check)(pl_store_backend *b, unsigned flags);
	/* ---- version 4 ---- */
	void (*stats)(pl_store_backend *b, pl_store_stats *out);
	/* ---- version 5 ---- */
	/* From now on commit returns once the transaction is written, before
	 * it is on stable storage; a thread of the backend's syncs what was
	 * committed and calls synced(arg) after each sync.  Outside a
	 * transaction, once per store; PL_ERR_INVALID when the backend cannot
	 * (then commits stay durable when they return). */
	int (*defer_sync)(pl_store_backend *b, pl_store_synced_fn synced, void *arg);
	void (*sync_state)(pl_store_backend *b, pl_store_sync *out);
	/* Wait until everything committed is synced: 0, or PL_ERR_IO when a
	 * sync failed. */
	int (*sync_wait)(pl_store_backend *b);
} pl_store_methods;

/* The built-in SQLite backend. */
PL_EXPORT extern const pl_store_methods pl_store_sqlite_methods;

/*
 * Open a store.  location is "BACKEND:ARG" (e.g. "sqlite:/var/lib/parley/node.db")
 * or a plain path, which means sqlite (a BACKEND is lowercase letters and
 * digits; write ./PATH for a file whose name starts like one).  With methods
 * non-NULL that backend is used and location is passed to it as is.
 * sqlite's ARG is PATH[?busy_ms=N][&wal_pages=N]: busy_ms (1..60000,
 * default 5000) is how long a call waits for another writer before
 * PL_ERR_BUSY; wal_pages (100..1000000, default 10000) how long the WAL
 * grows before it is started over (its checkpointer thread copies it into
 * the file meanwhile: lib/store/sqlite/ckpt.h).
 */
PL_EXPORT int pl_store_open(const char *location, unsigned flags, const pl_store_methods *methods,
			    pl_store **out) PL_WUR;
/* Close (rolling back any open transaction); NULL-safe. */
PL_EXPORT void pl_store_close_(pl_store *s);
#define pl_store_close(p)                                                                          \
	do {                                                                                       \
		pl_store_close_(p);                                                                \
		(p) = NULL;                                                                        \
	} while (0)

PL_EXPORT const char *pl_store_backend_name(const pl_store *s);
PL_EXPORT int pl_store_begin(pl_store *s) PL_WUR;
PL_EXPORT int pl_store_commit(pl_store *s) PL_WUR;
PL_EXPORT int pl_store_rollback(pl_store *s);
PL_EXPORT int pl_store_schema_version(pl_store *s, int *out) PL_WUR;
/* Argument checks (key length, value size) happen here, before the backend. */
PL_EXPORT int pl_store_put(pl_store *s, uint32_t kind, const char *key, const uint8_t *val,
			   size_t len, unsigned flags) PL_WUR;
PL_EXPORT int pl_store_get(pl_store *s, uint32_t kind, const char *key, uint8_t **val,
			   size_t *len) PL_WUR;
PL_EXPORT int pl_store_del(pl_store *s, uint32_t kind, const char *key) PL_WUR;
PL_EXPORT int pl_store_list(pl_store *s, uint32_t kind, pl_store_list_cb cb, void *ctx) PL_WUR;
/* Version 2 (PL_ERR_INVALID on a version 1 backend): see the method table. */
PL_EXPORT int pl_store_range(pl_store *s, uint32_t kind, const char *from, const char *to,
			     size_t limit, pl_store_list_cb cb, void *ctx) PL_WUR;
PL_EXPORT int pl_store_del_range(pl_store *s, uint32_t kind, const char *from, const char *to,
				 uint64_t *deleted) PL_WUR;

/* Version 3 (PL_ERR_INVALID on an older backend): see the method table. */
PL_EXPORT int pl_store_check(pl_store *s, unsigned flags) PL_WUR;

/* Version 4 (PL_ERR_INVALID on an older backend): see pl_store_stats. */
PL_EXPORT int pl_store_get_stats(pl_store *s, pl_store_stats *out) PL_WUR;

/* Version 5 (PL_ERR_INVALID on an older backend): see the method table.
 * pl_store_sync_state fills zeros for an older backend (its commits are
 * durable when they return). */
PL_EXPORT int pl_store_defer_sync(pl_store *s, pl_store_synced_fn synced, void *arg) PL_WUR;
PL_EXPORT void pl_store_sync_state(pl_store *s, pl_store_sync *out);
PL_EXPORT int pl_store_sync_wait(pl_store *s) PL_WUR;

#ifdef __cplusplus
}
#endif
#endif /* PARLEY_STORE_H */
