/* SPDX-License-Identifier: Apache-2.0 */
/*
 * parleyd-faulty: parleyd with its store behind the fault-injecting backend
 * (lib/store/fault.h), for the tests of docs/faults.md ("Store faults").
 * The plan comes from the environment, PARLEY_FAULT_PLAN, a comma-separated
 * list of
 *   fail_at=N       the N-th write operation (put, del, commit...) fails once
 *   persistent      ... and every one after it (a full disk)
 *   enospc          fail with "disk full" wording (PL_ERR_IO either way)
 *   power_at=N      power is lost at the N-th commit
 *   power=lose|torn|scatter, lying, seed=N   what survives it (fault.h)
 * and PARLEY_CRASH_AT=POINT:N kills the process (SIGKILL, no cleanup) the
 * N-th time the node passes the named crash point POINT (node/core.h:
 * after-commit-before-receipt, after-receipt, after-delivery-commit,
 * mid-cosign).  Without the variables it is plain parleyd.  Built for tests only: it is
 * node/main.c compiled with its main renamed (CMake), plus this file.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core.h"
#include "fault.h"

int parleyd_main(int argc, char **argv);

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
		else {
			fprintf(stderr, "parleyd-faulty: PARLEY_FAULT_PLAN: what is '%s'?\n", t);
			return -1;
		}
	}
	return 0;
}

static char crash_point[64];
static unsigned long crash_n, crash_seen;

static void crash_hook(const char *point)
{
	if (strcmp(point, crash_point) != 0 || ++crash_seen != crash_n)
		return;
	fprintf(stderr, "parleyd-faulty: crash point %s reached (pass %lu): SIGKILL\n", point,
		crash_seen);
	kill(getpid(), SIGKILL);
}

int main(int argc, char **argv)
{
	const char *crash = getenv("PARLEY_CRASH_AT");
	if (crash && *crash) {
		const char *colon = strrchr(crash, ':');
		if (!colon || (size_t)(colon - crash) >= sizeof(crash_point) ||
		    (crash_n = strtoul(colon + 1, NULL, 10)) == 0) {
			fprintf(stderr, "parleyd-faulty: PARLEY_CRASH_AT wants POINT:N, not '%s'\n",
				crash);
			return 2;
		}
		memcpy(crash_point, crash, (size_t)(colon - crash));
		crash_point[colon - crash] = '\0';
		node_crash_hook = crash_hook;
	}
	const char *plan = getenv("PARLEY_FAULT_PLAN");
	if (plan && *plan) {
		pl_store_fault_plan p;
		memset(&p, 0, sizeof(p));
		if (parse_plan(plan, &p) != 0)
			return 2;
		pl_store_fault_set_plan(&p);
		node_store_methods = &pl_store_fault_methods;
		fprintf(stderr, "parleyd-faulty: store fault plan: %s\n", plan);
	}
	return parleyd_main(argc, argv);
}
