/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The WAL checkpointer of a read-write SQLite store: a thread with a
 * connection of its own that copies the WAL into the database file, so that
 * the thread that commits (a node's event loop) does not.
 *
 * SQLite's own automatic checkpoint runs inside the commit that crosses its
 * threshold: that commit returns only after thousands of pages were copied
 * and the database file synced, and everything queued behind it — a FLASH
 * among them — waits.  Here, each time the WAL has grown by a tenth of the
 * threshold (and at every commit in the last tenth), the commit wakes the
 * thread, which copies what is new with a checkpoint that never blocks the
 * writer nor waits for it (PASSIVE), on a connection of its own: it follows
 * the writer in steps.  At the threshold the commit checkpoints itself,
 * which with the thread caught up copies a commit or two, and SQLite starts
 * the WAL over from its beginning at the next commit.  Should the thread
 * fall behind (or fail to start), that checkpoint copies the rest, as
 * SQLite's own would have: the WAL stays bounded either way.  Durability
 * does not change: a commit is on stable storage when it returns
 * (synchronous=FULL) or when the syncer says so (wsync.h), whoever copies
 * it later; a checkpoint syncs the WAL before it copies it.
 *
 * The thread is started at the first commit that finds the WAL a tenth
 * full, so a short-lived store (a CLI command) seldom starts one.
 */
#ifndef PARLEY_SQ_CKPT_H
#define PARLEY_SQ_CKPT_H

#include <stdint.h>

#include <sqlite3.h>

#define SQ_CKPT_STEPS 10 /* the thread copies a tenth of the threshold at a time */

typedef struct sq_ckpt sq_ckpt;

/* What a checkpointer has done (pl_store_stats). */
typedef struct sq_ckpt_stats {
	uint64_t thread; /* runs of the thread */
	uint64_t commit; /* checkpoints by a commit at the threshold (each starts the WAL over) */
	uint64_t failed; /* checkpoints that returned an error (the WAL is kept) */
} sq_ckpt_stats;

/*
 * Checkpoint db's main database (a file at path, in WAL mode) from a thread
 * every pages / SQ_CKPT_STEPS WAL frames, and in the commit that finds the
 * WAL at pages.  Replaces db's automatic checkpoint (and any WAL
 * hook).  path is copied (made absolute).  Returns 0, or PL_ERR_NOMEM.
 */
int sq_ckpt_attach(sqlite3 *db, const char *path, int pages, sq_ckpt **out);

/* Stop the thread (waiting for a checkpoint under way), close its
 * connection and free c.  Call before closing db.  NULL is a no-op. */
void sq_ckpt_detach(sq_ckpt *c);

void sq_ckpt_get_stats(sq_ckpt *c, sq_ckpt_stats *out);

/* Call fn(arg) at each commit, first thing in the WAL hook (wsync.h counts
 * commits so).  fn NULL: no longer. */
void sq_ckpt_on_commit(sq_ckpt *c, void (*fn)(void *arg), void *arg);

#endif
