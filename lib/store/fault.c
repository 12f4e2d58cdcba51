/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The fault-injecting store backend (fault.h): a method table that passes
 * every call to an inner backend, counts write operations and commits,
 * fails the ones the plan names, and at a power failure rolls the inner
 * transaction back and re-applies only what the plan lets survive.
 *
 * Writes of the open transaction go to the inner backend at once (so reads
 * see them) and are also kept in a log, which is what a power failure
 * replays in part.  The log holds copies; it is cleared at every commit and
 * rollback.
 *
 * Divisions: plan and statistics; the transaction log; methods.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "parley/err.h"
#include "parley/store.h"

#include "fault.h"
#include "sqlite/wsync.h"

/* ================================================================ plan and statistics */

static pl_store_fault_plan plan;
static pl_store_fault_stats stats;

void pl_store_fault_set_plan(const pl_store_fault_plan *p)
{
	if (p)
		plan = *p;
	else
		memset(&plan, 0, sizeof(plan));
	memset(&stats, 0, sizeof(stats));
}

void pl_store_fault_get_stats(pl_store_fault_stats *out)
{
	*out = stats;
}

/* ================================================================ the transaction log */

enum op { OP_PUT, OP_DEL, OP_DEL_RANGE };

typedef struct entry {
	enum op op;
	uint32_t kind;
	unsigned flags;
	char *key; /* put, del: the key; del_range: from */
	char *to;  /* del_range: to, or NULL */
	uint8_t *val;
	size_t len;
} entry;

typedef struct fault_backend {
	const pl_store_methods *m;
	pl_store_backend *inner;
	pl_store_fault_plan plan;
	bool in_tx;
	bool dead;
	uint64_t writes, commits;
	entry *log;
	size_t nlog, caplog;
} fault_backend;

static fault_backend *fb_of(pl_store_backend *b)
{
	return (fault_backend *)(void *)b;
}

static void log_clear(fault_backend *f)
{
	for (size_t i = 0; i < f->nlog; i++) {
		free(f->log[i].key);
		free(f->log[i].to);
		free(f->log[i].val);
	}
	f->nlog = 0;
}

static char *dup_str(const char *s)
{
	if (!s)
		return NULL;
	size_t n = strlen(s) + 1;
	char *d = malloc(n);
	if (d)
		memcpy(d, s, n);
	return d;
}

/* Append a copy of one write; PL_ERR_NOMEM leaves the log unchanged. */
static int log_add(fault_backend *f, enum op op, uint32_t kind, const char *key, const char *to,
		   const uint8_t *val, size_t len, unsigned flags)
{
	if (f->nlog == f->caplog) {
		size_t cap = f->caplog ? 2 * f->caplog : 16;
		entry *n = realloc(f->log, cap * sizeof(*n));
		if (!n)
			return PL_ERR_NOMEM;
		f->log = n;
		f->caplog = cap;
	}
	entry e = {.op = op, .kind = kind, .flags = flags, .len = len};
	e.key = dup_str(key);
	e.to = dup_str(to);
	e.val = len ? malloc(len) : NULL;
	if (!e.key || (to && !e.to) || (len && !e.val)) {
		free(e.key);
		free(e.to);
		free(e.val);
		return PL_ERR_NOMEM;
	}
	if (len)
		memcpy(e.val, val, len);
	f->log[f->nlog++] = e;
	return 0;
}

static uint64_t mix(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

/* Does the i-th write of the transaction survive the power failure? */
static bool survives(const fault_backend *f, size_t i)
{
	switch (f->plan.power) {
	case PL_STORE_FAULT_TORN:
		return i < f->nlog / 2;
	case PL_STORE_FAULT_SCATTER:
		return mix(f->plan.seed * 0x9e3779b97f4a7c15u + i + 1) & 1;
	default:
		return false;
	}
}

static int replay(fault_backend *f, const entry *e)
{
	switch (e->op) {
	case OP_PUT:
		return f->m->put(f->inner, e->kind, e->key, e->val, e->len, e->flags);
	case OP_DEL:
		return f->m->del(f->inner, e->kind, e->key);
	default:
		return f->m->del_range(f->inner, e->kind, e->key, e->to, NULL);
	}
}

/* Power is lost while committing: keep what the plan lets survive. */
static int lose_power(fault_backend *f)
{
	(void)f->m->rollback(f->inner);
	size_t kept = 0;
	int rc = f->m->begin(f->inner);
	for (size_t i = 0; !rc && i < f->nlog; i++) {
		if (!survives(f, i))
			continue;
		rc = replay(f, &f->log[i]);
		/* a surviving delete of what never reached the disk is no error */
		if (rc == PL_ERR_NOT_FOUND)
			rc = 0;
		kept++;
	}
	if (!rc)
		rc = f->m->commit(f->inner);
	else
		(void)f->m->rollback(f->inner);
	stats.dropped += f->nlog - kept;
	stats.dead = true;
	f->dead = true;
	f->in_tx = false;
	log_clear(f);
	if (rc)
		return rc;
	if (f->plan.lying)
		return 0;
	return pl_err_fail(PL_ERR_IO, "injected power failure at commit %llu",
			   (unsigned long long)f->commits);
}

/* ================================================================ methods */

static int dead_err(void)
{
	return pl_err_fail(PL_ERR_IO, "store lost power (injected); close and reopen it");
}

/* Count one write operation; non-zero when the plan fails it. */
static int write_op(fault_backend *f)
{
	if (f->dead)
		return dead_err();
	f->writes++;
	stats.writes++;
	const pl_store_fault_plan *p = &f->plan;
	if (p->fail_at && (f->writes == p->fail_at || (p->persistent && f->writes > p->fail_at))) {
		stats.failed++;
		int code = p->error ? p->error : PL_ERR_IO;
		return pl_err_fail(code, "injected %s at write operation %llu",
				   p->persistent ? "disk full" : "I/O error",
				   (unsigned long long)f->writes);
	}
	return 0;
}

static void fault_close(pl_store_backend *b)
{
	if (!b)
		return;
	fault_backend *f = fb_of(b);
	if (f->inner)
		f->m->close(f->inner);
	log_clear(f);
	free(f->log);
	free(f);
}

static int fault_open(const char *location, unsigned flags, pl_store_backend **out)
{
	fault_backend *f = calloc(1, sizeof(*f));
	if (!f)
		return PL_ERR_NOMEM;
	f->plan = plan;
	f->m = plan.inner ? plan.inner : &pl_store_sqlite_methods;
	memset(&stats, 0, sizeof(stats));
	if (f->m->version < 3 || !f->m->range || !f->m->del_range || !f->m->check) {
		free(f);
		return pl_err_fail(PL_ERR_INVALID, "the fault store wraps version 3 backends only");
	}
	int rc = f->m->open(location, flags, &f->inner);
	if (rc) {
		free(f);
		return rc;
	}
	*out = (pl_store_backend *)(void *)f;
	return 0;
}

static int fault_begin(pl_store_backend *b)
{
	fault_backend *f = fb_of(b);
	if (f->dead)
		return dead_err();
	int rc = f->m->begin(f->inner);
	if (!rc) {
		f->in_tx = true;
		log_clear(f);
	}
	return rc;
}

static int fault_rollback(pl_store_backend *b)
{
	fault_backend *f = fb_of(b);
	f->in_tx = false;
	log_clear(f);
	if (f->dead)
		return 0; /* nothing of it reached the inner store */
	return f->m->rollback(f->inner);
}

static int fault_commit(pl_store_backend *b)
{
	fault_backend *f = fb_of(b);
	int rc = write_op(f);
	if (rc) {
		if (!f->dead)
			(void)f->m->rollback(f->inner);
		f->in_tx = false;
		log_clear(f);
		return rc;
	}
	f->commits++;
	stats.commits++;
	if (f->plan.power_at && f->commits == f->plan.power_at)
		return lose_power(f);
	rc = f->m->commit(f->inner);
	f->in_tx = false;
	log_clear(f);
	return rc;
}

static int fault_schema_version(pl_store_backend *b, int *out)
{
	fault_backend *f = fb_of(b);
	return f->dead ? dead_err() : f->m->schema_version(f->inner, out);
}

/*
 * One write: counted, maybe failed, passed on, logged.  Outside a
 * transaction it is its own transaction, with its own commit.
 */
static int fault_write(fault_backend *f, enum op op, uint32_t kind, const char *key, const char *to,
		       const uint8_t *val, size_t len, unsigned flags, uint64_t *deleted)
{
	bool own = !f->in_tx;
	int rc = own ? fault_begin((pl_store_backend *)(void *)f) : 0;
	if (!rc)
		rc = write_op(f);
	if (!rc) {
		if (op == OP_PUT)
			rc = f->m->put(f->inner, kind, key, val, len, flags);
		else if (op == OP_DEL)
			rc = f->m->del(f->inner, kind, key);
		else
			rc = f->m->del_range(f->inner, kind, key, to, deleted);
	}
	if (!rc)
		rc = log_add(f, op, kind, key, to, val, len, flags);
	if (own) {
		if (!rc)
			rc = fault_commit((pl_store_backend *)(void *)f);
		else if (f->in_tx)
			(void)fault_rollback((pl_store_backend *)(void *)f);
	}
	return rc;
}

static int fault_put(pl_store_backend *b, uint32_t kind, const char *key, const uint8_t *val,
		     size_t len, unsigned flags)
{
	return fault_write(fb_of(b), OP_PUT, kind, key, NULL, val, len, flags, NULL);
}

static int fault_del(pl_store_backend *b, uint32_t kind, const char *key)
{
	return fault_write(fb_of(b), OP_DEL, kind, key, NULL, NULL, 0, 0, NULL);
}

static int fault_del_range(pl_store_backend *b, uint32_t kind, const char *from, const char *to,
			   uint64_t *deleted)
{
	return fault_write(fb_of(b), OP_DEL_RANGE, kind, from, to, NULL, 0, 0, deleted);
}

static int fault_get(pl_store_backend *b, uint32_t kind, const char *key, uint8_t **val,
		     size_t *len)
{
	fault_backend *f = fb_of(b);
	return f->dead ? dead_err() : f->m->get(f->inner, kind, key, val, len);
}

static int fault_list(pl_store_backend *b, uint32_t kind, pl_store_list_cb cb, void *ctx)
{
	fault_backend *f = fb_of(b);
	return f->dead ? dead_err() : f->m->list(f->inner, kind, cb, ctx);
}

static int fault_range(pl_store_backend *b, uint32_t kind, const char *from, const char *to,
		       size_t limit, pl_store_list_cb cb, void *ctx)
{
	fault_backend *f = fb_of(b);
	return f->dead ? dead_err() : f->m->range(f->inner, kind, from, to, limit, cb, ctx);
}

static int fault_check(pl_store_backend *b, unsigned flags)
{
	fault_backend *f = fb_of(b);
	return f->dead ? dead_err() : f->m->check(f->inner, flags);
}

static void fault_stats(pl_store_backend *b, pl_store_stats *out)
{
	fault_backend *f = fb_of(b);
	memset(out, 0, sizeof(*out));
	if (f->m->version >= 4)
		f->m->stats(f->inner, out);
}

const pl_store_methods pl_store_fault_methods = {
    .version = 4, /* its power losses are a commit's: syncs are never deferred */
    .name = "fault",
    .open = fault_open,
    .close = fault_close,
    .begin = fault_begin,
    .commit = fault_commit,
    .rollback = fault_rollback,
    .schema_version = fault_schema_version,
    .put = fault_put,
    .get = fault_get,
    .del = fault_del,
    .list = fault_list,
    .range = fault_range,
    .del_range = fault_del_range,
    .check = fault_check,
    .stats = fault_stats,
};

int pl_store_fault_sync_log(const char *path, unsigned delay_ms)
{
	static int fd = -1;
	sq_wsync_log_to(-1, 0);
	if (fd >= 0)
		close(fd);
	fd = -1;
	if (!path)
		return 0;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return pl_err_fail(PL_ERR_IO, "cannot open the sync log %s: %s", path,
				   strerror(errno));
	sq_wsync_log_to(fd, delay_ms);
	return 0;
}
