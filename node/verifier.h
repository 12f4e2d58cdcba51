/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Envelope signatures checked on a thread of their own, ahead of the loop.
 *
 * Every envelope an official submits costs its node an Ed25519
 * verification (~70 µs, a quarter of the node's work per envelope when
 * each comes in a request of its own); the event loop's thread does
 * everything else, and under load it is the node's bottleneck while the
 * machine's other core has time to spare (docs/performance.md).  So the
 * loop opens a submitted envelope (pl_env_open), finds the key that must
 * have signed it, and queues the check here; the submission is taken
 * further later in the same turn of the loop, in the order submissions
 * came, with the verdict (pl_env_verify_opened with ctx->sig_checked).
 *
 * A job the thread has not started when the loop wants its verdict is
 * taken back and checked on the loop's thread; while the thread checks
 * the one the loop waits for, the loop checks the next one queued.  So
 * nothing waits for the thread longer than one check, a lone envelope
 * costs what it did, and a burst is checked by two threads at once.
 *
 * Only pl_env_sig_check() runs on the thread, on an opened envelope and a
 * key that the loop owns and leaves alone until it has the verdict.
 */
#ifndef PARLEY_NODE_VERIFIER_H
#define PARLEY_NODE_VERIFIER_H

#include <stdbool.h>
#include <stdint.h>

#include "parley/channel.h"

typedef struct verifier verifier;

/* One check: filled by the caller, who owns it (and what it points to)
 * until verifier_result() returned for it. */
typedef struct verifier_job {
	const pl_env_opened *env;
	uint8_t pk[PL_PK_BYTES];
	/* the verifier's */
	int state;
	int rc;
	struct verifier_job *next;
} verifier_job;

/* Counts (metrics, tests). */
typedef struct verifier_stats {
	uint64_t thread; /* checks made by the thread */
	uint64_t loop;   /* checks taken back by the caller's thread */
} verifier_stats;

/* Start the thread; NULL when it cannot be (out of memory, no thread):
 * the caller then checks on its own thread (pl_env_verify). */
verifier *verifier_new(void);
/* Stop the thread; every job queued must have had its verdict. */
void verifier_free(verifier *v);

/* Queue j (env and pk set). */
void verifier_push(verifier *v, verifier_job *j);
/* j's verdict, pl_env_sig_check()'s: 0 when j->pk signed j->env.  Checks
 * it here when the thread has not started it; waits for the thread when
 * it has, checking the next queued job meanwhile. */
int verifier_result(verifier *v, verifier_job *j);

void verifier_get_stats(verifier *v, verifier_stats *out);
/* Tests: while paused the thread starts no job (the caller's thread takes
 * them all back). */
void verifier_pause(verifier *v, bool paused);

#endif
