/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Envelope signatures checked on a thread of their own (verifier.h).
 *
 * One mutex guards the queue, the jobs' states and the counts; the checks
 * themselves run outside it.  A job is QUEUED (in the list), RUNNING (one
 * thread checks it) or DONE.
 */
#include <pthread.h>
#include <stdlib.h>

#include "verifier.h"

enum { JOB_QUEUED = 1, JOB_RUNNING, JOB_DONE };

struct verifier {
	pthread_mutex_t mu;
	pthread_cond_t work; /* a job was queued, or stop */
	pthread_cond_t done; /* a job is done */
	verifier_job *head, *tail;
	bool stop;
	bool paused; /* tests: the thread takes no job */
	verifier_stats st;
	pthread_t thread;
};

/* The head job, now RUNNING; NULL when none.  Under mu. */
static verifier_job *take_head(verifier *v)
{
	verifier_job *j = v->head;
	if (!j)
		return NULL;
	v->head = j->next;
	if (!v->head)
		v->tail = NULL;
	j->next = NULL;
	j->state = JOB_RUNNING;
	return j;
}

/* Check j (RUNNING, taken by this thread) outside mu, then mark it DONE. */
static void run(verifier *v, verifier_job *j, uint64_t *count)
{
	pthread_mutex_unlock(&v->mu);
	int rc = pl_env_sig_check(j->env, j->pk);
	pthread_mutex_lock(&v->mu);
	j->rc = rc;
	j->state = JOB_DONE;
	(*count)++;
	pthread_cond_broadcast(&v->done);
}

static void *verifier_main(void *arg)
{
	verifier *v = arg;
	pthread_mutex_lock(&v->mu);
	while (!v->stop) {
		verifier_job *j = v->paused ? NULL : take_head(v);
		if (j)
			run(v, j, &v->st.thread);
		else
			pthread_cond_wait(&v->work, &v->mu);
	}
	pthread_mutex_unlock(&v->mu);
	return NULL;
}

verifier *verifier_new(void)
{
	verifier *v = calloc(1, sizeof(*v));
	if (!v)
		return NULL;
	if (pthread_mutex_init(&v->mu, NULL) != 0)
		goto fail_mu;
	if (pthread_cond_init(&v->work, NULL) != 0)
		goto fail_work;
	if (pthread_cond_init(&v->done, NULL) != 0)
		goto fail_done;
	if (pthread_create(&v->thread, NULL, verifier_main, v) != 0)
		goto fail_thread;
	return v;
fail_thread:
	pthread_cond_destroy(&v->done);
fail_done:
	pthread_cond_destroy(&v->work);
fail_work:
	pthread_mutex_destroy(&v->mu);
fail_mu:
	free(v);
	return NULL;
}

void verifier_free(verifier *v)
{
	if (!v)
		return;
	pthread_mutex_lock(&v->mu);
	v->stop = true;
	pthread_cond_signal(&v->work);
	pthread_mutex_unlock(&v->mu);
	pthread_join(v->thread, NULL);
	pthread_cond_destroy(&v->done);
	pthread_cond_destroy(&v->work);
	pthread_mutex_destroy(&v->mu);
	free(v);
}

void verifier_push(verifier *v, verifier_job *j)
{
	j->next = NULL;
	j->rc = 0;
	pthread_mutex_lock(&v->mu);
	j->state = JOB_QUEUED;
	if (v->tail)
		v->tail->next = j;
	else
		v->head = j;
	v->tail = j;
	pthread_cond_signal(&v->work);
	pthread_mutex_unlock(&v->mu);
}

/* Unlink j, QUEUED, from the list.  Under mu. */
static void unlink_job(verifier *v, verifier_job *j)
{
	verifier_job **pp = &v->head, *prev = NULL;
	while (*pp && *pp != j) {
		prev = *pp;
		pp = &(*pp)->next;
	}
	if (!*pp)
		return;
	*pp = j->next;
	if (v->tail == j)
		v->tail = prev;
	j->next = NULL;
}

int verifier_result(verifier *v, verifier_job *j)
{
	pthread_mutex_lock(&v->mu);
	if (j->state == JOB_QUEUED) {
		unlink_job(v, j);
		j->state = JOB_RUNNING;
		run(v, j, &v->st.loop);
	}
	while (j->state != JOB_DONE) {
		/* The thread checks j: check the next one meanwhile. */
		verifier_job *next = take_head(v);
		if (next)
			run(v, next, &v->st.loop);
		else
			pthread_cond_wait(&v->done, &v->mu);
	}
	int rc = j->rc;
	pthread_mutex_unlock(&v->mu);
	return rc;
}

void verifier_get_stats(verifier *v, verifier_stats *out)
{
	pthread_mutex_lock(&v->mu);
	*out = v->st;
	pthread_mutex_unlock(&v->mu);
}

void verifier_pause(verifier *v, bool paused)
{
	pthread_mutex_lock(&v->mu);
	v->paused = paused;
	pthread_cond_signal(&v->work);
	pthread_mutex_unlock(&v->mu);
}
