/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The WAL syncer thread of an SQLite store (wsync.h).
 *
 * The committing thread and the syncer share only the fields under mu;
 * the descriptor is the syncer's (opened before the thread starts, closed
 * after it ended).
 *
 * Divisions: the thread; start, commit, wait and stop.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "parley/err.h"

#include "wsync.h"

struct sq_wsync {
	int fd; /* the WAL file */
	void (*notify)(void *arg);
	void *arg;

	pthread_mutex_t mu;
	pthread_cond_t cv;   /* the thread waits for commits, or stop */
	pthread_cond_t done; /* waiters wait for a sync */
	pthread_t thread;
	bool stop;         /* (mu) */
	pl_store_sync st;  /* (mu) */
};

/* sq_wsync_log_to's descriptor and delay: tests only. */
static int wsync_log_fd = -1;
static unsigned wsync_log_delay_ms;

void sq_wsync_log_to(int fd, unsigned delay_ms)
{
	__atomic_store_n(&wsync_log_delay_ms, delay_ms, __ATOMIC_SEQ_CST);
	__atomic_store_n(&wsync_log_fd, fd, __ATOMIC_SEQ_CST);
}

/* -------------------------------------------------------------- the thread */

static void *wsync_main(void *arg)
{
	sq_wsync *w = arg;
	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (!w->stop && !w->st.error && w->st.synced >= w->st.committed)
			pthread_cond_wait(&w->cv, &w->mu);
		if (w->st.error || w->st.synced >= w->st.committed)
			break; /* stopping, with everything synced (or never again) */
		/* Every commit counted so far wrote its frames before it was
		 * counted: one sync covers them all, and those made meanwhile
		 * wait for the next. */
		uint64_t upto = w->st.committed;
		pthread_mutex_unlock(&w->mu);
		/* The test's record of what a power loss keeps: every byte in
		 * the file before the sync began is on stable storage after it,
		 * and it is written before anyone is told of the sync. */
		int log = __atomic_load_n(&wsync_log_fd, __ATOMIC_SEQ_CST);
		if (log >= 0)
			usleep(__atomic_load_n(&wsync_log_delay_ms, __ATOMIC_SEQ_CST) * 1000u);
		struct stat sb;
		bool logging = log >= 0 && fstat(w->fd, &sb) == 0;
		int rc = fdatasync(w->fd);
		int err = rc == 0 ? 0 : errno;
		if (rc == 0 && logging) {
			char line[32];
			int n =
			    snprintf(line, sizeof(line), "%020" PRIu64 "\n", (uint64_t)sb.st_size);
			if (pwrite(log, line, (size_t)n, 0) != n)
				rc = -1, err = EIO; /* the test must not trust a record not made */
		}
		pthread_mutex_lock(&w->mu);
		if (rc == 0) {
			w->st.synced = upto;
			w->st.syncs++;
		} else {
			w->st.error = err ? err : EIO;
		}
		pthread_cond_broadcast(&w->done);
		pthread_mutex_unlock(&w->mu);
		w->notify(w->arg);
		pthread_mutex_lock(&w->mu);
	}
	pthread_cond_broadcast(&w->done);
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

/* ------------------------------------------------ start, commit, wait and stop */

int sq_wsync_start(const char *wal_path, void (*notify)(void *arg), void *arg, sq_wsync **out)
{
	sq_wsync *w = calloc(1, sizeof(*w));
	if (!w)
		return PL_ERR_NOMEM;
	w->notify = notify;
	w->arg = arg;
	/* Without O_CREAT: a WAL that is not there is not the one SQLite writes. */
	w->fd = open(wal_path, O_RDWR | O_CLOEXEC);
	if (w->fd < 0) {
		int err = errno;
		free(w);
		return pl_err_fail(PL_ERR_STORE, "cannot open the store's WAL %s to sync it: %s",
				   wal_path, strerror(err));
	}
	if (pthread_mutex_init(&w->mu, NULL) != 0)
		goto fail_fd;
	if (pthread_cond_init(&w->cv, NULL) != 0)
		goto fail_mu;
	if (pthread_cond_init(&w->done, NULL) != 0)
		goto fail_cv;
	if (pthread_create(&w->thread, NULL, wsync_main, w) != 0)
		goto fail_done;
	*out = w;
	return 0;
fail_done:
	pthread_cond_destroy(&w->done);
fail_cv:
	pthread_cond_destroy(&w->cv);
fail_mu:
	pthread_mutex_destroy(&w->mu);
fail_fd:
	close(w->fd);
	free(w);
	return pl_err_fail(PL_ERR_NOMEM, "cannot start the store's WAL syncer thread");
}

void sq_wsync_committed(sq_wsync *w)
{
	pthread_mutex_lock(&w->mu);
	w->st.committed++;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

void sq_wsync_get_state(sq_wsync *w, pl_store_sync *out)
{
	pthread_mutex_lock(&w->mu);
	*out = w->st;
	pthread_mutex_unlock(&w->mu);
}

int sq_wsync_wait(sq_wsync *w)
{
	pthread_mutex_lock(&w->mu);
	uint64_t upto = w->st.committed;
	while (!w->st.error && w->st.synced < upto)
		pthread_cond_wait(&w->done, &w->mu);
	int err = w->st.error;
	pthread_mutex_unlock(&w->mu);
	if (err)
		return pl_err_fail(PL_ERR_IO, "syncing the store's WAL failed: %s", strerror(err));
	return 0;
}

void sq_wsync_stop(sq_wsync *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->mu);
	w->stop = true;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->thread, NULL);
	pthread_cond_destroy(&w->done);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	close(w->fd);
	free(w);
}
