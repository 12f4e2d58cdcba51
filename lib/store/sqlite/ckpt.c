/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The WAL checkpointer thread of an SQLite store (ckpt.h).
 *
 * The committing thread and the checkpointer share only the fields under
 * mu (the counters are written under it too, by either thread); the
 * checkpointer's connection (cdb) is opened, used and closed by the
 * checkpointer thread alone.  SQLite is built thread-safe on every platform
 * Parley supports, and each connection is used by one thread at a time, so
 * both connections are opened with SQLITE_OPEN_NOMUTEX.
 *
 * Divisions: the thread; the commit hook; attach and detach.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "parley/err.h"

#include "ckpt.h"

/* Rounds of one run: each copies what the writer appended during the last.
 * A run ends when a round finds the WAL copied whole or the rounds are
 * spent; the next commit asks for another. */
#define SQ_CKPT_ROUNDS 8

struct sq_ckpt {
	sqlite3 *db; /* the committing connection (its thread only) */
	int pages;   /* the WAL's length at which the commit checkpoints */
	int step;    /* the thread is asked every step new frames, pages / SQ_CKPT_STEPS */
	int asked;   /* the WAL's length when it was last asked (the commit's thread only) */
	char *path;
	void (*on_commit)(void *arg); /* sq_ckpt_on_commit (the commit's thread only) */
	void *on_commit_arg;

	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t thread;
	bool started;     /* thread runs (mu) */
	bool no_thread;   /* it could not be started: the commit does all the work (mu) */
	bool want;        /* a commit asked for a run (mu) */
	bool stop;        /* detach asked the thread to end (mu) */
	sq_ckpt_stats st; /* (mu) */

	sqlite3 *cdb; /* the checkpointer's connection (the thread only) */
};

/* -------------------------------------------------------------- the thread */

/* Open the thread's connection and its view of the WAL; 0 or an SQLite code. */
static int ckpt_open(sq_ckpt *c)
{
	int rc =
	    sqlite3_open_v2(c->path, &c->cdb, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(c->cdb, "PRAGMA synchronous = FULL", NULL, NULL, NULL);
	/* A read opens the WAL for this connection: a checkpoint before that
	 * would find none, and return at once with nothing copied. */
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(c->cdb, "SELECT count(*) FROM sqlite_schema", NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		sqlite3_close_v2(c->cdb);
		c->cdb = NULL;
	}
	return rc;
}

static bool ckpt_stopping(sq_ckpt *c)
{
	pthread_mutex_lock(&c->mu);
	bool stop = c->stop;
	pthread_mutex_unlock(&c->mu);
	return stop;
}

/* Copy the WAL into the database file, again while the writer appended to
 * it, for at most SQ_CKPT_ROUNDS rounds; 0 or an SQLite code.  BUSY means
 * another checkpoint (the commit's) holds the lock: it does the work. */
static int ckpt_run(sq_ckpt *c)
{
	int rc = c->cdb ? SQLITE_OK : ckpt_open(c);
	for (int i = 0; rc == SQLITE_OK && i < SQ_CKPT_ROUNDS && !ckpt_stopping(c); i++) {
		int log = 0, done = 0;
		rc = sqlite3_wal_checkpoint_v2(c->cdb, "main", SQLITE_CHECKPOINT_PASSIVE, &log,
					       &done);
		if (rc == SQLITE_OK && log < 0)
			rc = SQLITE_ERROR; /* the connection is not in WAL mode */
		if (rc == SQLITE_OK && done >= log)
			break;
	}
	return (rc & 0xff) == SQLITE_BUSY ? SQLITE_OK : rc;
}

static void *ckpt_main(void *arg)
{
	sq_ckpt *c = arg;
	pthread_mutex_lock(&c->mu);
	for (;;) {
		while (!c->want && !c->stop)
			pthread_cond_wait(&c->cv, &c->mu);
		if (c->stop)
			break;
		c->want = false; /* a commit during the run asks again */
		pthread_mutex_unlock(&c->mu);
		int rc = ckpt_run(c);
		pthread_mutex_lock(&c->mu);
		if (rc == SQLITE_OK)
			c->st.thread++;
		else
			c->st.failed++;
	}
	pthread_mutex_unlock(&c->mu);
	sqlite3_close_v2(c->cdb);
	c->cdb = NULL;
	return NULL;
}

/* --------------------------------------------------------- the commit hook */

/*
 * Called by SQLite in the committing thread after each commit, with the
 * number of frames in the WAL.  Every step new frames the thread is asked
 * to copy them, and at every commit once the WAL is a step short of the
 * threshold, so that it has caught up when the WAL gets there.  At the
 * threshold the commit checkpoints itself: with the thread caught up that
 * copies the last commit or two (and syncs the database file), and it
 * leaves the WAL copied whole while no write is under way — which is what
 * lets SQLite start the WAL over at the next commit.  The thread alone
 * never gets there under a steady load: the writer is always in a
 * transaction begun before the thread's last copy ended.
 *
 * The commit has happened whatever this returns; a failed checkpoint only
 * leaves the WAL longer.
 */
static int ckpt_hook(void *arg, sqlite3 *db, const char *name, int frames)
{
	sq_ckpt *c = arg;
	if (c->on_commit)
		c->on_commit(c->on_commit_arg);
	if (frames < c->asked)
		c->asked = 0; /* the WAL started over */
	if (frames >= c->pages) {
		int rc = sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
		pthread_mutex_lock(&c->mu);
		if (rc == SQLITE_OK)
			c->st.commit++;
		else if ((rc & 0xff) != SQLITE_BUSY) /* BUSY: the thread is copying */
			c->st.failed++;
		pthread_mutex_unlock(&c->mu);
		return SQLITE_OK;
	}
	if (frames - c->asked < c->step && frames < c->pages - c->step)
		return SQLITE_OK;
	c->asked = frames;
	pthread_mutex_lock(&c->mu);
	if (!c->started && !c->no_thread) {
		if (pthread_create(&c->thread, NULL, ckpt_main, c) == 0)
			c->started = true;
		else
			c->no_thread = true;
	}
	if (c->started && !c->want) {
		c->want = true;
		pthread_cond_signal(&c->cv);
	}
	pthread_mutex_unlock(&c->mu);
	return SQLITE_OK;
}

/* -------------------------------------------------------- attach and detach */

int sq_ckpt_attach(sqlite3 *db, const char *path, int pages, sq_ckpt **out)
{
	sq_ckpt *c = calloc(1, sizeof(*c));
	if (!c)
		return PL_ERR_NOMEM;
	/* The whole path: the thread may open it after the process changed
	 * its working folder. */
	c->path = realpath(path, NULL);
	if (!c->path)
		c->path = strdup(path);
	if (!c->path || pthread_mutex_init(&c->mu, NULL) != 0) {
		free(c->path);
		free(c);
		return PL_ERR_NOMEM;
	}
	if (pthread_cond_init(&c->cv, NULL) != 0) {
		pthread_mutex_destroy(&c->mu);
		free(c->path);
		free(c);
		return PL_ERR_NOMEM;
	}
	c->db = db;
	c->pages = pages;
	c->step = pages / SQ_CKPT_STEPS;
	sqlite3_wal_hook(db, ckpt_hook, c);
	*out = c;
	return 0;
}

void sq_ckpt_detach(sq_ckpt *c)
{
	if (!c)
		return;
	sqlite3_wal_hook(c->db, NULL, NULL);
	pthread_mutex_lock(&c->mu);
	c->stop = true;
	pthread_cond_signal(&c->cv);
	bool started = c->started;
	pthread_mutex_unlock(&c->mu);
	if (started)
		pthread_join(c->thread, NULL);
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->mu);
	free(c->path);
	free(c);
}

void sq_ckpt_on_commit(sq_ckpt *c, void (*fn)(void *arg), void *arg)
{
	c->on_commit = fn;
	c->on_commit_arg = arg;
}

void sq_ckpt_get_stats(sq_ckpt *c, sq_ckpt_stats *out)
{
	pthread_mutex_lock(&c->mu);
	*out = c->st;
	pthread_mutex_unlock(&c->mu);
}
