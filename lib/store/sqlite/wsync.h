/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The WAL syncer of an SQLite store whose commits return before they are
 * on stable storage (pl_store_defer_sync): a thread that makes them so,
 * many commits with one fdatasync(), and says so after each.
 *
 * With synchronous=FULL every commit syncs the WAL before it returns, and
 * the thread that commits (a node's event loop) waits 1-4 ms each time,
 * doing nothing else.  Deferred, the store's connection runs at
 * synchronous=NORMAL: a commit only writes its frames to the WAL, and
 * SQLite still syncs the WAL before each checkpoint copies it and the
 * database file after, so the store stays whole through a power loss,
 * though its last commits may be lost.  Which ones is what this thread
 * bounds: it syncs the WAL file whenever commits were made since its last
 * sync, and counts the commits each sync covered.  The caller holds back
 * whatever tells the world about a commit (an acknowledgement, an answer)
 * until that commit is counted as synced.
 *
 * The thread syncs the WAL through a descriptor of its own, opened on the
 * file SQLite opened (it keeps it open, and writes to the same file, for
 * the life of the connection); a sync of any descriptor of a file syncs
 * the file.  A failed sync is not retried: the data it should have written
 * may be gone from the page cache (Linux marks it clean), so nothing
 * committed from then on is counted as synced, and the error is kept.
 */
#ifndef PARLEY_SQ_WSYNC_H
#define PARLEY_SQ_WSYNC_H

#include <stdint.h>

#include "parley/store.h"

typedef struct sq_wsync sq_wsync;

/*
 * Open wal_path (the store's WAL file, which SQLite has opened: it must
 * exist) and start the thread.  After each sync, failed or not, notify(arg)
 * is called from the thread (it must be quick and must not call back into
 * the store).  0, PL_ERR_STORE (the file cannot be opened) or PL_ERR_NOMEM.
 */
int sq_wsync_start(const char *wal_path, void (*notify)(void *arg), void *arg, sq_wsync **out);

/* A commit was made (its frames are in the WAL): count it and wake the
 * thread.  Called by the committing thread. */
void sq_wsync_committed(sq_wsync *w);

/* Where the syncer is: commits counted by sq_wsync_committed, how many of
 * them are synced, the fdatasync() calls that succeeded, the errno of the
 * one that failed. */
void sq_wsync_get_state(sq_wsync *w, pl_store_sync *out);

/* Wait until every commit counted so far is synced; 0, or PL_ERR_IO when
 * a sync failed. */
int sq_wsync_wait(sq_wsync *w);

/* Sync what was committed, stop the thread and free w.  NULL is a no-op. */
void sq_wsync_stop(sq_wsync *w);

/* For the power-loss test of deferred syncs (lib/store/fault.h,
 * pl_store_fault_sync_log): from now on every syncer waits delay_ms
 * before each sync (commits pile up unsynced meanwhile) and writes, after
 * it, the WAL's length that sync covered to fd (at offset 0, 20 digits and
 * a newline).  Process-wide; fd -1: no more. */
void sq_wsync_log_to(int fd, unsigned delay_ms);

#endif
