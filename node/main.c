/* SPDX-License-Identifier: Apache-2.0 */
/*
 * parleyd: a Parley node.  `parleyd -c node.ini` loads the configuration,
 * builds the core and runs one libevent loop until SIGTERM or SIGINT
 * (links are closed with a reason, the current commit has finished — every
 * commit runs whole on the loop; the store syncs what was committed before
 * it closes — and the process exits 0; 1 when a sync of the store failed).
 * SIGHUP re-reads pinned peers and status lists from the state's registry.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "config.h"
#include "core.h"
#include "log.h"
#include "parley/crypto.h"

#define PARLEYD_VERSION "0.1.0"

static const char usage[] =
	"usage: parleyd -c FILE [--check]\n"
	"\n"
	"Run a Parley node with the configuration in FILE (docs/config.md).\n"
	"  -c, --config FILE  the node's configuration (required)\n"
	"  --check            load and check everything, then exit (0: fine)\n"
	"  -h, --help         this text\n"
	"  --version          the version\n"
	"\n"
	"Signals: SIGTERM/SIGINT stop cleanly (exit 0); SIGHUP reloads peers and status lists.\n"
	"Exit codes: 0 clean stop, 1 could not start or failed, 2 usage or configuration error.\n";

struct sigs {
	node_core *core;
	struct event_base *base;
	struct event *term, *intr, *hup, *stop;
	int stopping;
};

static void on_stop_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	event_base_loopexit(((struct sigs *)arg)->base, NULL);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	struct sigs *s = arg;
	if (sig == SIGHUP) {
		node_log(NODE_LOG_INFO, "SIGHUP: reloading", NULL);
		(void)node_core_reload(s->core);
		return;
	}
	if (s->stopping++) {
		event_base_loopexit(s->base, NULL);
		return;
	}
	node_log(NODE_LOG_INFO, "stopping", "signal=%d", (int)sig);
	node_core_stop(s->core);
	/* Give CLOSE frames a moment to leave, then end the loop. */
	struct timeval tv = {0, 200000};
	s->stop = evtimer_new(s->base, on_stop_timer, s);
	if (!s->stop || evtimer_add(s->stop, &tv) != 0)
		event_base_loopexit(s->base, NULL);
}

/* Test builds rename main to wrap it (tests/faults/faulty_main.c). */
#ifdef PARLEYD_MAIN_NAME
int PARLEYD_MAIN_NAME(int argc, char **argv);
#define main PARLEYD_MAIN_NAME
#endif

int main(int argc, char **argv)
{
	const char *conf = NULL;
	bool check = false;
	for (int i = 1; i < argc; i++) {
		if ((strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) && i + 1 < argc)
			conf = argv[++i];
		else if (strcmp(argv[i], "--check") == 0)
			check = true;
		else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			fputs(usage, stdout);
			return 0;
		} else if (strcmp(argv[i], "--version") == 0) {
			printf("parleyd %s\n", PARLEYD_VERSION);
			return 0;
		} else {
			fprintf(stderr, "parleyd: unknown argument '%s'\n%s", argv[i], usage);
			return 2;
		}
	}
	if (!conf) {
		fprintf(stderr, "parleyd: -c FILE is required\n%s", usage);
		return 2;
	}
	node_config cfg;
	char err[512];
	if (node_config_load(conf, &cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "parleyd: %s\n", err);
		return 2;
	}
	node_log_init(cfg.log_level, cfg.name);
	if (pl_crypto_init() != 0) {
		node_log(NODE_LOG_ERROR, "cannot initialise libsodium", NULL);
		node_config_free(&cfg);
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	struct event_base *base = event_base_new();
	node_core *core = base ? node_core_new(&cfg, base) : NULL;
	int rc = 1;
	if (core && check) {
		node_log(NODE_LOG_INFO, "configuration and keys are fine", NULL);
		rc = 0;
	} else if (core && node_core_start(core) == 0) {
		struct sigs s = {.core = core, .base = base};
		s.term = evsignal_new(base, SIGTERM, on_signal, &s);
		s.intr = evsignal_new(base, SIGINT, on_signal, &s);
		s.hup = evsignal_new(base, SIGHUP, on_signal, &s);
		if (s.term && s.intr && s.hup && evsignal_add(s.term, NULL) == 0 &&
		    evsignal_add(s.intr, NULL) == 0 && evsignal_add(s.hup, NULL) == 0) {
			rc = event_base_dispatch(base) < 0 || node_core_failed(core) ? 1 : 0;
			node_log(NODE_LOG_INFO, "stopped", NULL);
		}
		if (s.term)
			event_free(s.term);
		if (s.intr)
			event_free(s.intr);
		if (s.hup)
			event_free(s.hup);
		if (s.stop)
			event_free(s.stop);
	}
	node_core_free(core);
	if (base)
		event_base_free(base);
	node_config_free(&cfg);
	return rc;
}
