/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target for parleyd's configuration loader (node/config.c).
 *
 * The input is written as a whole to one temporary file (made once per
 * process, under /dev/shm when it is writable so the disk is not worn, and
 * removed at exit),
 * then node_config_load() reads it and node_config_free() releases it.
 * The loader's own limits (1 MiB, ~200-byte lines) keep every input fast.
 *
 * Aborts on a broken contract: a refusal that returns 0, a success that
 * leaves a refusal message, a message that is not one line starting with
 * the file name, a NUL-less or empty message, a loaded configuration
 * whose required values are missing or out of the documented ranges, a
 * peer that node_config_find_peer() cannot find, or a free that does not
 * zero the structure.  It does not check which refusal a file deserves:
 * tests/node/test_config.c does.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "parley/err.h"
#include "parley/identity.h"

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char conf_path[4096];
static int conf_fd = -1;

static void conf_remove(void)
{
	if (conf_fd >= 0) {
		close(conf_fd);
		unlink(conf_path);
	}
}

static void conf_open(void)
{
	if (conf_fd >= 0)
		return;
	const char *dirs[] = {"/dev/shm", getenv("TMPDIR"), "/tmp"};
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]) && conf_fd < 0; i++) {
		if (!dirs[i] || !*dirs[i])
			continue;
		int k = snprintf(conf_path, sizeof(conf_path), "%s/fuzz_config.XXXXXX", dirs[i]);
		if (k < 0 || (size_t)k >= sizeof(conf_path))
			continue;
		conf_fd = mkstemp(conf_path);
	}
	if (conf_fd < 0)
		abort(); /* cannot fuzz without a file */
	atexit(conf_remove);
}

static void conf_write(const uint8_t *data, size_t size)
{
	if (ftruncate(conf_fd, 0) != 0)
		abort();
	size_t off = 0;
	while (off < size) {
		ssize_t w = pwrite(conf_fd, data + off, size - off, (off_t)off);
		if (w <= 0)
			abort();
		off += (size_t)w;
	}
}

static bool in_range(uint32_t v, uint32_t lo, uint32_t hi)
{
	return v >= lo && v <= hi;
}

/* The documented ranges (docs/config.md) of everything a success returns. */
static void check_loaded(const node_config *c)
{
	if (!c->path || strcmp(c->path, conf_path) != 0)
		abort();
	if (!pl_name_is_valid(c->name))
		abort();
	if (!c->home || !*c->home || !c->data || !*c->data || !c->state_db || !c->key_file ||
	    !c->rec_file)
		abort();
	char host[NODE_ADDR_MAX + 1];
	uint16_t port;
	if (node_addr_split(c->listen, host, sizeof(host), &port, true) != 0)
		abort();
	if (node_addr_split(c->api, host, sizeof(host), &port, true) != 0)
		abort();
	if (!c->api_public && !node_addr_is_loopback(host))
		abort();
	if (!in_range(c->checkpoint_interval, 10, 86400) ||
	    !in_range(c->checkpoint_entries, 1, 100000000) ||
	    !in_range(c->commit_batch, 1, 65536) || !in_range(c->max_envelope, 1024, 67108864))
		abort();
	const node_link_conf *l = &c->link;
	if (!in_range(l->ping_interval_ms, 100, 600000) ||
	    !in_range(l->dead_after_ms, 300, 3600000) || l->dead_after_ms <= l->ping_interval_ms ||
	    !in_range(l->backoff_min_ms, 10, 3600000) ||
	    !in_range(l->backoff_max_ms, 10, 86400000) || l->backoff_min_ms > l->backoff_max_ms)
		abort();
	if (c->npeers && !c->peers)
		abort();
	for (size_t i = 0; i < c->npeers; i++) {
		const node_peer_conf *p = &c->peers[i];
		if (!pl_name_is_valid(p->name) || (p->node[0] && !pl_name_is_valid(p->node)))
			abort();
		if (node_addr_split(p->address, host, sizeof(host), &port, false) != 0 || port == 0)
			abort();
		/* Each section at most once: the first match is this very entry. */
		if (node_config_find_peer(c, p->name) != p)
			abort();
	}
}

/* A refusal: one line, "FILE:LINE: reason" or "FILE: reason". */
static void check_refusal(int rc, const char *err, const node_config *c)
{
	if (rc >= 0 || !pl_strerror(rc))
		abort();
	size_t n = strlen(conf_path);
	if (strncmp(err, conf_path, n) != 0 || err[n] != ':' || !err[n + 1])
		abort();
	if (strchr(err, '\n'))
		abort();
	if (c->path || c->home || c->peers || c->npeers)
		abort(); /* *out is zeroed on failure */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	conf_open();
	conf_write(data, size);
	node_config c;
	char err[1024];
	memset(err, 'x', sizeof(err));
	int rc = node_config_load(conf_path, &c, err, sizeof(err));
	if (!memchr(err, '\0', sizeof(err)))
		abort();
	if (rc == 0) {
		if (err[0])
			abort();
		check_loaded(&c);
	} else {
		check_refusal(rc, err, &c);
	}
	node_config_free(&c);
	static const node_config zero;
	if (memcmp(&c, &zero, sizeof(c)) != 0)
		abort();
	/* A small error buffer must still be NUL-terminated and never overrun. */
	char tiny[8];
	memset(tiny, 'x', sizeof(tiny));
	rc = node_config_load(conf_path, &c, tiny, 5);
	if (tiny[5] != 'x' || !memchr(tiny, '\0', 5))
		abort();
	node_config_free(&c);
	return 0;
}
