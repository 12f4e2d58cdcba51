/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The storage interface: picks a backend from the location, checks every
 * argument before a backend sees it, and keeps the transaction state so
 * that misuse (begin twice, commit outside a transaction, writing from a
 * list callback) is refused the same way whatever the backend.
 *
 * Not here: anything about how objects are kept (lib/store/<backend>/) and
 * what kinds mean (their owners, registered in docs/formats.md).  A store
 * is used by one thread at a time.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parley/err.h"
#include "parley/store.h"

struct pl_store {
	const pl_store_methods *m;
	pl_store_backend *b;
	unsigned flags; /* as given to pl_store_open */
	bool in_tx;     /* between a successful begin and commit/rollback */
	bool listing;   /* inside pl_store_list: only reads are allowed */
};

/* Backends selected by a "name:" prefix in the location. */
static const pl_store_methods *const store_backends[] = {
    &pl_store_sqlite_methods,
};

#define STORE_NBACKENDS (sizeof(store_backends) / sizeof(store_backends[0]))

/* ------------------------------------------------------------ backends */

/* A methods table this version of the interface can drive, or PL_ERR_INVALID. */
static int store_check_methods(const pl_store_methods *m)
{
	if (m->version < 1 || m->version > PL_STORE_METHODS_VERSION)
		return pl_err_fail(PL_ERR_INVALID,
				   "store backend %s implements interface version %d; this "
				   "program speaks 1..%d",
				   m->name ? m->name : "(unnamed)", m->version,
				   PL_STORE_METHODS_VERSION);
	if (!m->name || !m->open || !m->close || !m->begin || !m->commit || !m->rollback ||
	    !m->schema_version || !m->put || !m->get || !m->del || !m->list)
		return pl_err_fail(PL_ERR_INVALID, "store backend %s lacks a method",
				   m->name ? m->name : "(unnamed)");
	if (m->version >= 2 && (!m->range || !m->del_range))
		return pl_err_fail(PL_ERR_INVALID, "store backend %s lacks a version 2 method",
				   m->name);
	if (m->version >= 3 && !m->check)
		return pl_err_fail(PL_ERR_INVALID, "store backend %s lacks a version 3 method",
				   m->name);
	if (m->version >= 4 && !m->stats)
		return pl_err_fail(PL_ERR_INVALID, "store backend %s lacks a version 4 method",
				   m->name);
	if (m->version >= 5 && (!m->defer_sync || !m->sync_state || !m->sync_wait))
		return pl_err_fail(PL_ERR_INVALID, "store backend %s lacks a version 5 method",
				   m->name);
	return 0;
}

/*
 * Length of a backend-name prefix of location ("sqlite" in "sqlite:x.db"),
 * or 0 when location is a plain path.  A name is lowercase letters and
 * digits starting with a letter, so "./a:b" and "/srv/a:b" are paths.
 */
static size_t store_prefix_len(const char *location)
{
	size_t i = 0;
	if (location[0] < 'a' || location[0] > 'z')
		return 0;
	while ((location[i] >= 'a' && location[i] <= 'z') ||
	       (location[i] >= '0' && location[i] <= '9'))
		i++;
	return location[i] == ':' ? i : 0;
}

/* Resolve location to a backend and the argument it is given. */
static int store_resolve(const char *location, const pl_store_methods **m, const char **arg)
{
	size_t n = store_prefix_len(location);
	if (n == 0) {
		*m = &pl_store_sqlite_methods;
		*arg = location;
		return 0;
	}
	for (size_t i = 0; i < STORE_NBACKENDS; i++) {
		const char *name = store_backends[i]->name;
		if (strlen(name) == n && memcmp(name, location, n) == 0) {
			*m = store_backends[i];
			*arg = location + n + 1;
			return 0;
		}
	}
	char known[128] = "";
	size_t used = 0;
	for (size_t i = 0; i < STORE_NBACKENDS && used < sizeof(known); i++) {
		int w = snprintf(known + used, sizeof(known) - used, "%s%s", i ? ", " : "",
				 store_backends[i]->name);
		if (w < 0)
			break;
		used += (size_t)w;
	}
	return pl_err_fail(PL_ERR_INVALID,
			   "unknown store backend \"%.*s\" (known: %s; write ./PATH for a file "
			   "name with a colon)",
			   (int)(n > 32 ? 32 : n), location, known);
}

/* ------------------------------------------------------- open and close */

int pl_store_open(const char *location, unsigned flags, const pl_store_methods *methods,
		  pl_store **out)
{
	const pl_store_methods *m = methods;
	const char *arg = location;
	int ret;

	if (!out)
		return pl_err_fail(PL_ERR_INVALID, "store open: no output pointer");
	if (!location || !location[0])
		return pl_err_fail(PL_ERR_INVALID, "store open: empty location");
	if (flags & ~(unsigned)(PL_STORE_CREATE | PL_STORE_READONLY))
		return pl_err_fail(PL_ERR_INVALID, "store open: unknown flags 0x%x", flags);
	if ((flags & PL_STORE_CREATE) && (flags & PL_STORE_READONLY))
		return pl_err_fail(PL_ERR_INVALID, "store open: cannot create a read-only store");
	if (!m) {
		ret = store_resolve(location, &m, &arg);
		if (ret)
			return ret;
	}
	ret = store_check_methods(m);
	if (ret)
		return ret;

	pl_store *s = calloc(1, sizeof(*s));
	if (!s)
		return PL_ERR_NOMEM;
	ret = m->open(arg, flags, &s->b);
	if (ret) {
		free(s);
		return ret;
	}
	s->m = m;
	s->flags = flags;
	*out = s;
	return 0;
}

void pl_store_close_(pl_store *s)
{
	if (!s)
		return;
	if (s->in_tx)
		s->m->rollback(s->b);
	s->m->close(s->b);
	free(s);
}

const char *pl_store_backend_name(const pl_store *s)
{
	return s ? s->m->name : "";
}

/* -------------------------------------------------------- transactions */

/* The checks every call shares: a store, and no writing from a list callback. */
static int store_usable(pl_store *s, const char *what, bool writes)
{
	if (!s)
		return pl_err_fail(PL_ERR_INVALID, "%s: no store", what);
	if (writes && s->listing)
		return pl_err_fail(PL_ERR_INVALID, "%s: not allowed inside a list callback", what);
	return 0;
}

int pl_store_begin(pl_store *s)
{
	int ret = store_usable(s, "begin", true);
	if (ret)
		return ret;
	if (s->in_tx)
		return pl_err_fail(PL_ERR_INVALID, "begin: a transaction is already open");
	ret = s->m->begin(s->b);
	if (ret)
		return ret;
	s->in_tx = true;
	return 0;
}

int pl_store_commit(pl_store *s)
{
	int ret = store_usable(s, "commit", true);
	if (ret)
		return ret;
	if (!s->in_tx)
		return pl_err_fail(PL_ERR_INVALID, "commit: no transaction is open");
	/* Succeed or fail, the transaction is over (rolled back on failure). */
	s->in_tx = false;
	return s->m->commit(s->b);
}

int pl_store_rollback(pl_store *s)
{
	int ret = store_usable(s, "rollback", true);
	if (ret)
		return ret;
	if (!s->in_tx)
		return pl_err_fail(PL_ERR_INVALID, "rollback: no transaction is open");
	s->in_tx = false;
	return s->m->rollback(s->b);
}

int pl_store_schema_version(pl_store *s, int *out)
{
	int ret = store_usable(s, "schema version", false);
	if (ret)
		return ret;
	if (!out)
		return pl_err_fail(PL_ERR_INVALID, "schema version: no output pointer");
	return s->m->schema_version(s->b, out);
}

/* ------------------------------------------------------------- objects */

static int store_check_key(const char *key, const char *what)
{
	if (!key || !key[0])
		return pl_err_fail(PL_ERR_INVALID, "%s: empty key", what);
	size_t n = strnlen(key, PL_STORE_KEY_MAX + 1);
	if (n > PL_STORE_KEY_MAX)
		return pl_err_fail(PL_ERR_LIMIT, "%s: key longer than %d bytes", what,
				   PL_STORE_KEY_MAX);
	return 0;
}

int pl_store_put(pl_store *s, uint32_t kind, const char *key, const uint8_t *val, size_t len,
		 unsigned flags)
{
	int ret = store_usable(s, "put", true);
	if (!ret)
		ret = store_check_key(key, "put");
	if (ret)
		return ret;
	if (flags & ~(unsigned)PL_STORE_NO_REPLACE)
		return pl_err_fail(PL_ERR_INVALID, "put: unknown flags 0x%x", flags);
	if (s->flags & PL_STORE_READONLY)
		return pl_err_fail(PL_ERR_INVALID, "put: the store was opened read-only");
	if (len > PL_STORE_VALUE_MAX)
		return pl_err_fail(PL_ERR_LIMIT,
				   "put: value of %zu bytes is over the %u-byte limit", len,
				   PL_STORE_VALUE_MAX);
	if (!val && len)
		return pl_err_fail(PL_ERR_INVALID, "put: no value bytes");
	return s->m->put(s->b, kind, key, val, len, flags);
}

int pl_store_get(pl_store *s, uint32_t kind, const char *key, uint8_t **val, size_t *len)
{
	int ret = store_usable(s, "get", false);
	if (!ret)
		ret = store_check_key(key, "get");
	if (ret)
		return ret;
	if (!val || !len)
		return pl_err_fail(PL_ERR_INVALID, "get: no output pointer");
	return s->m->get(s->b, kind, key, val, len);
}

int pl_store_del(pl_store *s, uint32_t kind, const char *key)
{
	int ret = store_usable(s, "delete", true);
	if (!ret)
		ret = store_check_key(key, "delete");
	if (ret)
		return ret;
	if (s->flags & PL_STORE_READONLY)
		return pl_err_fail(PL_ERR_INVALID, "delete: the store was opened read-only");
	return s->m->del(s->b, kind, key);
}

int pl_store_list(pl_store *s, uint32_t kind, pl_store_list_cb cb, void *ctx)
{
	/* A nested walk counts as a write: the backend has one cursor per store. */
	int ret = store_usable(s, "list", true);
	if (ret)
		return ret;
	if (!cb)
		return pl_err_fail(PL_ERR_INVALID, "list: no callback");
	s->listing = true;
	ret = s->m->list(s->b, kind, cb, ctx);
	s->listing = false;
	return ret;
}

/* Version 2: ranges.  A version 1 backend cannot serve them. */
static int store_need_v2(const pl_store *s, const char *what)
{
	if (s->m->version < 2)
		return pl_err_fail(PL_ERR_INVALID, "%s: store backend %s has no ranges (version %d)",
				   what, s->m->name, s->m->version);
	return 0;
}

int pl_store_range(pl_store *s, uint32_t kind, const char *from, const char *to, size_t limit,
		   pl_store_list_cb cb, void *ctx)
{
	int ret = store_usable(s, "range", true);
	if (!ret)
		ret = store_need_v2(s, "range");
	if (!ret)
		ret = store_check_key(from, "range");
	if (!ret && to)
		ret = store_check_key(to, "range");
	if (ret)
		return ret;
	if (!cb)
		return pl_err_fail(PL_ERR_INVALID, "range: no callback");
	s->listing = true;
	ret = s->m->range(s->b, kind, from, to, limit, cb, ctx);
	s->listing = false;
	return ret;
}

int pl_store_del_range(pl_store *s, uint32_t kind, const char *from, const char *to,
		       uint64_t *deleted)
{
	int ret = store_usable(s, "delete range", true);
	if (!ret)
		ret = store_need_v2(s, "delete range");
	if (!ret)
		ret = store_check_key(from, "delete range");
	if (!ret)
		ret = store_check_key(to, "delete range");
	if (ret)
		return ret;
	return s->m->del_range(s->b, kind, from, to, deleted);
}

int pl_store_check(pl_store *s, unsigned flags)
{
	int ret = store_usable(s, "check", true);
	if (ret)
		return ret;
	if (s->m->version < 3)
		return pl_err_fail(PL_ERR_INVALID, "check: store backend %s has no check (version %d)",
				   s->m->name, s->m->version);
	if (s->in_tx)
		return pl_err_fail(PL_ERR_INVALID, "check: not inside a transaction");
	return s->m->check(s->b, flags);
}

int pl_store_get_stats(pl_store *s, pl_store_stats *out)
{
	memset(out, 0, sizeof(*out));
	int ret = store_usable(s, "stats", false);
	if (ret)
		return ret;
	if (s->m->version < 4)
		return pl_err_fail(PL_ERR_INVALID, "stats: store backend %s has none (version %d)",
				   s->m->name, s->m->version);
	s->m->stats(s->b, out);
	return 0;
}

/* Version 5: deferred syncs. */
int pl_store_defer_sync(pl_store *s, pl_store_synced_fn synced, void *arg)
{
	int ret = store_usable(s, "defer syncs", true);
	if (ret)
		return ret;
	if (s->m->version < 5)
		return pl_err_fail(
		    PL_ERR_INVALID,
		    "defer syncs: store backend %s syncs in each commit (version %d)", s->m->name,
		    s->m->version);
	if (s->in_tx)
		return pl_err_fail(PL_ERR_INVALID, "defer syncs: not inside a transaction");
	if (!synced)
		return pl_err_fail(PL_ERR_INVALID, "defer syncs: no callback");
	return s->m->defer_sync(s->b, synced, arg);
}

void pl_store_sync_state(pl_store *s, pl_store_sync *out)
{
	memset(out, 0, sizeof(*out));
	if (s && s->b && s->m->version >= 5)
		s->m->sync_state(s->b, out);
}

int pl_store_sync_wait(pl_store *s)
{
	int ret = store_usable(s, "wait for syncs", false);
	if (ret)
		return ret;
	return s->m->version >= 5 ? s->m->sync_wait(s->b) : 0;
}
