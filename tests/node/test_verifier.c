/* SPDX-License-Identifier: Apache-2.0 */
/*
 * node/verifier.c: envelope signatures checked on a thread of their own.
 * Every job gets pl_env_sig_check's verdict whoever checks it, the thread
 * checks what the caller does not wait for, a job the thread has not
 * started is taken back by the caller (from anywhere in the queue, which
 * stays whole), and the thread stops cleanly.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "parley/channel.h"
#include "parley/crypto.h"
#include "parley/err.h"
#include "verifier.h"

#define JOBS 64

static pl_keypair signer, other;

typedef struct sig {
	uint8_t *buf;
	size_t len;
	pl_env_opened o;
	verifier_job job;
} sig;

/* An envelope signed by signer, opened, its job to check it with pk. */
static void make(sig *s, uint64_t seq, const pl_keypair *pk)
{
	pl_env e;
	memset(&e, 0, sizeof(e));
	strcpy(e.ch, "border");
	e.at = 1700000000;
	strcpy(e.state, "tehran");
	strcpy(e.author, "duty");
	e.seq = seq;
	e.lane = PL_LANE_ROUTINE;
	strcpy(e.kind, "message");
	e.body = (const uint8_t *)"hello";
	e.body_len = 5;
	memset(s, 0, sizeof(*s));
	assert_int_equal(pl_env_sign(&e, &signer, &s->buf, &s->len), 0);
	assert_int_equal(pl_env_open(s->buf, s->len, &s->o), 0);
	s->job.env = &s->o;
	memcpy(s->job.pk, pk->pk, PL_PK_BYTES);
}

static void unmake(sig *s)
{
	pl_env_opened_clear(&s->o);
	free(s->buf);
}

static int setup(void **state)
{
	(void)state;
	uint8_t seed[PL_SEED_BYTES];
	memset(seed, 7, sizeof(seed));
	assert_int_equal(pl_key_from_seed(&signer, seed), 0);
	memset(seed, 8, sizeof(seed));
	assert_int_equal(pl_key_from_seed(&other, seed), 0);
	return 0;
}

static void wait_thread(verifier *v, uint64_t want)
{
	verifier_stats st;
	for (int i = 0; i < 10000; i++) { /* at most 10 s */
		verifier_get_stats(v, &st);
		if (st.thread >= want)
			return;
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
	}
	fail_msg("the thread checked %llu jobs, not %llu, in 10 s", (unsigned long long)st.thread,
		 (unsigned long long)want);
}

/* Each job's verdict is its own, in whatever order the two threads took them. */
static void test_verdicts(void **state)
{
	(void)state;
	verifier *v = verifier_new();
	assert_non_null(v);
	sig *s = calloc(JOBS, sizeof(*s));
	for (int i = 0; i < JOBS; i++)
		make(&s[i], (uint64_t)i + 1, i % 3 == 2 ? &other : &signer);
	for (int i = 0; i < JOBS; i++)
		verifier_push(v, &s[i].job);
	for (int i = 0; i < JOBS; i++)
		assert_int_equal(verifier_result(v, &s[i].job),
				 i % 3 == 2 ? PL_ERR_BAD_SIGNATURE : 0);
	verifier_stats st;
	verifier_get_stats(v, &st);
	assert_int_equal(st.thread + st.loop, JOBS); /* each checked once */
	/* a verdict asked again is the same, and checks nothing */
	assert_int_equal(verifier_result(v, &s[2].job), PL_ERR_BAD_SIGNATURE);
	verifier_get_stats(v, &st);
	assert_int_equal(st.thread + st.loop, JOBS);
	for (int i = 0; i < JOBS; i++)
		unmake(&s[i]);
	free(s);
	verifier_free(v);
}

/* A job nobody waits for is checked by the thread; its verdict is then
 * ready, and the caller checks nothing. */
static void test_thread_checks(void **state)
{
	(void)state;
	verifier *v = verifier_new();
	sig a, b;
	make(&a, 1, &signer);
	make(&b, 2, &other);
	verifier_push(v, &a.job);
	verifier_push(v, &b.job);
	wait_thread(v, 2);
	assert_int_equal(verifier_result(v, &a.job), 0);
	assert_int_equal(verifier_result(v, &b.job), PL_ERR_BAD_SIGNATURE);
	verifier_stats st;
	verifier_get_stats(v, &st);
	assert_int_equal(st.thread, 2);
	assert_int_equal(st.loop, 0);
	unmake(&a);
	unmake(&b);
	verifier_free(v);
}

/* Jobs the thread has not started are taken back, from the end, the middle
 * or the front of the queue, which stays whole for the thread after. */
static void test_taken_back(void **state)
{
	(void)state;
	verifier *v = verifier_new();
	sig s[4];
	for (int i = 0; i < 4; i++)
		make(&s[i], (uint64_t)i + 1, i == 1 ? &other : &signer);
	verifier_pause(v, true);
	for (int i = 0; i < 3; i++)
		verifier_push(v, &s[i].job);
	assert_int_equal(verifier_result(v, &s[2].job), 0); /* the tail */
	assert_int_equal(verifier_result(v, &s[0].job), 0); /* the head */
	verifier_stats st;
	verifier_get_stats(v, &st);
	assert_int_equal(st.loop, 2);
	assert_int_equal(st.thread, 0);
	/* the queue holds s[1] alone: one pushed now goes behind it */
	verifier_push(v, &s[3].job);
	verifier_pause(v, false);
	wait_thread(v, 2);
	assert_int_equal(verifier_result(v, &s[1].job), PL_ERR_BAD_SIGNATURE);
	assert_int_equal(verifier_result(v, &s[3].job), 0);
	verifier_get_stats(v, &st);
	assert_int_equal(st.loop, 2);
	for (int i = 0; i < 4; i++)
		unmake(&s[i]);
	verifier_free(v);
}

/* Started and stopped with nothing to do (ASan: nothing leaks, the thread ends). */
static void test_idle(void **state)
{
	(void)state;
	for (int i = 0; i < 8; i++)
		verifier_free(verifier_new());
	verifier_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_verdicts),
	    cmocka_unit_test(test_thread_checks),
	    cmocka_unit_test(test_taken_back),
	    cmocka_unit_test(test_idle),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
