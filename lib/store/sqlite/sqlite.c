/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The SQLite store backend: pl_store_sqlite_methods.
 *
 * One connection per store, in WAL mode with synchronous=FULL, so a commit
 * that returned 0 is on stable storage — until the caller defers syncs
 * (sq_defer_sync): then synchronous=NORMAL, and a thread syncs what was
 * committed (wsync.h).  The schema is a list of migration
 * steps; the number of steps applied is kept in PRAGMA user_version and the
 * file is marked as ours with PRAGMA application_id 'PLY1'.  Opening applies
 * the missing steps in one transaction and refuses a database of another
 * program or a schema newer than this program knows; a read-only open takes
 * a store that misses only steps of layout (sq_readable_as_is) as it is.
 *
 * Location syntax: PATH[?OPTION&OPTION...]; the options are busy_ms=N
 * (1..60000, default 5000): how long a call waits for another connection's
 * write lock before failing with PL_ERR_BUSY; and wal_pages=N (100..1000000,
 * default 10000): the WAL's length at which it is copied whole into the
 * database file and started over (ckpt.h).  PATH is never read as an SQLite
 * URI.
 *
 * Not here: argument checks (lib/store/store.c does them before any method
 * is called) and locking between threads (a store is used by one thread at
 * a time; the connection is opened with SQLITE_OPEN_NOMUTEX).
 *
 * Divisions: errors; location; schema and migrations; open and close;
 * transactions; objects.  Put new code in the division it belongs to.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "parley/err.h"
#include "parley/store.h"

#include "ckpt.h"
#include "wsync.h"

#if SQLITE_VERSION_NUMBER < 3038000
#error "Parley needs SQLite 3.38 or newer (unixepoch())"
#endif

#define SQ_APPLICATION_ID  0x504c5931 /* 'PLY1' */
#define SQ_BUSY_MS_DEFAULT 5000
#define SQ_BUSY_MS_MAX     60000
/* The WAL's length in pages (of 4 KiB) at which it is started over, the
 * checkpointer thread copying it a tenth at a time before: 10000 is about
 * 40 MiB (ckpt.h). */
#define SQ_WAL_PAGES_DEFAULT 10000
#define SQ_WAL_PAGES_MIN     100
#define SQ_WAL_PAGES_MAX     1000000

/* Cached statements, prepared once when the store is opened. */
enum {
	SQ_BEGIN,
	SQ_BEGIN_READ,
	SQ_COMMIT,
	SQ_ROLLBACK,
	SQ_PUT,
	SQ_INSERT,
	SQ_GET,
	SQ_DEL,
	SQ_LIST,
	SQ_RANGE,
	SQ_RANGE_OPEN,
	SQ_DEL_RANGE,
	SQ_VERSION,
	SQ_NSTMT
};

static const char *const sq_stmt_sql[SQ_NSTMT] = {
    [SQ_BEGIN] = "BEGIN IMMEDIATE",
    [SQ_BEGIN_READ] = "BEGIN",
    [SQ_COMMIT] = "COMMIT",
    [SQ_ROLLBACK] = "ROLLBACK",
    [SQ_PUT] = "INSERT INTO objects (kind, key, value) VALUES (?1, ?2, ?3)"
	       " ON CONFLICT (kind, key) DO UPDATE SET value = excluded.value,"
	       " updated = unixepoch()",
    [SQ_INSERT] = "INSERT INTO objects (kind, key, value) VALUES (?1, ?2, ?3)",
    [SQ_GET] = "SELECT value FROM objects WHERE kind = ?1 AND key = ?2",
    [SQ_DEL] = "DELETE FROM objects WHERE kind = ?1 AND key = ?2",
    [SQ_LIST] = "SELECT key, value FROM objects WHERE kind = ?1 ORDER BY key",
    /* Two statements, not one "(?3 IS NULL OR key < ?3)": SQLite cannot
     * bound an index range by a term inside an OR, and such a range would
     * read every later row of the kind before it stops (the lanes after a
     * walked one, whole queues: bench/, docs/performance.md). */
    [SQ_RANGE] = ("SELECT key, value FROM objects WHERE kind = ?1 AND key >= ?2"
		  " AND key < ?3 ORDER BY key LIMIT ?4"),
    [SQ_RANGE_OPEN] = ("SELECT key, value FROM objects WHERE kind = ?1 AND key >= ?2"
		       " ORDER BY key LIMIT ?4"),
    [SQ_DEL_RANGE] = "DELETE FROM objects WHERE kind = ?1 AND key >= ?2 AND key < ?3",
    [SQ_VERSION] = "PRAGMA user_version",
};

struct pl_store_backend {
	sqlite3 *db;
	sqlite3_stmt *st[SQ_NSTMT];
	int busy_ms;
	bool readonly;
	bool in_tx; /* between a successful begin and commit/rollback */
	uint64_t walk_steps; /* pl_store_stats */
	sq_ckpt *ckpt;       /* the WAL checkpointer (read-write stores) */
	sq_wsync *wsync;     /* the WAL syncer, once syncs are deferred (wsync.h) */
};

/* ------------------------------------------------------------------ errors */

/*
 * Turn an SQLite result code into a pl_err, leaving a detail that starts
 * with what was being done.  db may be NULL (then the generic text is used).
 */
static int sq_err(sqlite3 *db, int rc, int busy_ms, const char *what)
{
	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return pl_err_fail(
		    PL_ERR_BUSY, "%s: store is locked by another connection (gave up after %d ms)",
		    what, busy_ms);
	case SQLITE_FULL:
		return pl_err_fail(PL_ERR_STORE, "%s: disk full", what);
	case SQLITE_NOMEM:
		return pl_err_fail(PL_ERR_NOMEM, "%s: out of memory", what);
	default:
		return pl_err_fail(PL_ERR_STORE, "%s: %s", what,
				   db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
	}
}

static int sq_fail(pl_store_backend *b, int rc, const char *what)
{
	return sq_err(b->db, rc, b->busy_ms, what);
}

/* Reset a cached statement after use and drop its bindings. */
static void sq_done(sqlite3_stmt *st)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

/*
 * Some errors (disk full, I/O, out of memory) make SQLite roll back the
 * whole transaction.  Refuse to carry on as if it were still open: the
 * later calls would otherwise each commit on their own.
 */
static int sq_tx_alive(pl_store_backend *b)
{
	if (b->in_tx && sqlite3_get_autocommit(b->db))
		return pl_err_fail(PL_ERR_STORE,
				   "the transaction was rolled back after an earlier error");
	return 0;
}

/* ---------------------------------------------------------------- location */

/* A store option's value: decimal digits only, lo..hi. */
static int sq_parse_option(const char *name, const char *s, size_t n, long lo, long hi,
			   const char *unit, int *out)
{
	long v = 0;
	if (n == 0 || n > 7)
		goto bad;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			goto bad;
		v = v * 10 + (s[i] - '0');
	}
	if (v < lo || v > hi)
		goto bad;
	*out = (int)v;
	return 0;
bad:
	return pl_err_fail(PL_ERR_INVALID, "store option %s=%.*s: want %ld..%ld %s", name,
			   (int)(n > 20 ? 20 : n), s, lo, hi, unit);
}

/* The options a location may carry after '?', '&' between them. */
static const struct sq_option {
	const char *name;
	long lo, hi;
	const char *unit;
} sq_options[] = {
    {"busy_ms", 1, SQ_BUSY_MS_MAX, "milliseconds"},
    {"wal_pages", SQ_WAL_PAGES_MIN, SQ_WAL_PAGES_MAX, "pages"},
};
enum { SQ_OPT_BUSY_MS, SQ_OPT_WAL_PAGES, SQ_NOPT };

/*
 * Split location into a malloc'd path (caller frees) and the options
 * (val[SQ_OPT_*], defaults for those not given).  A path that starts with
 * "file:" gets "./" in front so that SQLite, which may be built to accept
 * URIs everywhere, opens it as a plain file name.
 */
static int sq_parse_location(const char *location, char **path, int val[SQ_NOPT])
{
	const char *q = strchr(location, '?');
	size_t plen = q ? (size_t)(q - location) : strlen(location);
	bool have[SQ_NOPT] = {false};

	val[SQ_OPT_BUSY_MS] = SQ_BUSY_MS_DEFAULT;
	val[SQ_OPT_WAL_PAGES] = SQ_WAL_PAGES_DEFAULT;
	if (plen == 0)
		return pl_err_fail(PL_ERR_INVALID, "store location \"%s\" has no path", location);
	for (const char *opt = q ? q + 1 : NULL; opt;) {
		size_t n = strcspn(opt, "&");
		const char *eq = memchr(opt, '=', n);
		size_t nlen = eq ? (size_t)(eq - opt) : n;
		int i = 0;
		while (i < SQ_NOPT && !(eq && nlen == strlen(sq_options[i].name) &&
					memcmp(opt, sq_options[i].name, nlen) == 0))
			i++;
		if (i == SQ_NOPT)
			return pl_err_fail(PL_ERR_INVALID,
					   "unknown sqlite store option \"%.*s\" (known: "
					   "busy_ms=MILLISECONDS, wal_pages=PAGES)",
					   (int)(n > 40 ? 40 : n), opt);
		const struct sq_option *o = &sq_options[i];
		if (have[i])
			return pl_err_fail(PL_ERR_INVALID, "store option %s given twice", o->name);
		int rc =
		    sq_parse_option(o->name, eq + 1, n - nlen - 1, o->lo, o->hi, o->unit, &val[i]);
		if (rc)
			return rc;
		have[i] = true;
		opt = opt[n] ? opt + n + 1 : NULL;
	}

	bool dot = plen >= 5 && memcmp(location, "file:", 5) == 0;
	char *p = malloc(plen + 3);
	if (!p)
		return PL_ERR_NOMEM;
	size_t off = 0;
	if (dot) {
		memcpy(p, "./", 2);
		off = 2;
	}
	memcpy(p + off, location, plen);
	p[off + plen] = '\0';
	*path = p;
	return 0;
}

/* ----------------------------------------------------- schema and migrations */

/*
 * The schema, one step per version: step i (0-based) takes user_version i
 * to i + 1.  Steps are only ever appended; a released step never changes.
 * docs/formats.md documents each of them.
 */
static const char *const sq_migrations[] = {
    /* 1: typed objects under (kind, key) */
    "CREATE TABLE objects (\n"
    "\tkind INTEGER NOT NULL,\n"
    "\tkey TEXT NOT NULL,\n"
    "\tvalue BLOB NOT NULL,\n"
    "\tupdated INTEGER NOT NULL DEFAULT (unixepoch()),\n"
    "\tPRIMARY KEY (kind, key)\n"
    ") WITHOUT ROWID;\n",
    /* 2: the rows in a table of their own order (rowid), found through an
     * index of (kind, key).  A table without rowid keeps each whole row in
     * its b-tree's interior pages too: with rows of hundreds of bytes (the
     * envelopes) that gave some eight rows per interior page, so trees of
     * five levels at 150,000 rows, and a search that passed a row spilling
     * onto overflow pages read all of them to compare keys.  The index holds
     * only (kind, key, rowid); new rows go to the table's end.  The rows
     * are copied in one transaction (sq_migrate): the first open of an older
     * store rewrites it, with the WAL as large as the store for a while. */
    "CREATE TABLE objects_rows (\n"
    "\tkind INTEGER NOT NULL,\n"
    "\tkey TEXT NOT NULL,\n"
    "\tvalue BLOB NOT NULL,\n"
    "\tupdated INTEGER NOT NULL DEFAULT (unixepoch())\n"
    ");\n"
    "INSERT INTO objects_rows (kind, key, value, updated)\n"
    "\tSELECT kind, key, value, updated FROM objects ORDER BY kind, key;\n"
    "DROP TABLE objects;\n"
    "ALTER TABLE objects_rows RENAME TO objects;\n"
    "CREATE UNIQUE INDEX objects_key ON objects (kind, key);\n",
};

#define SQ_NMIGRATIONS ((int)(sizeof(sq_migrations) / sizeof(sq_migrations[0])))

/* The steps that change only how the rows are kept, not what they are or
 * how they are read: a read-only open (a node reading the registry the CLI
 * writes) takes a store that misses only such steps as it is. */
#define SQ_FIRST_LAYOUT_STEP 1 /* 0-based: step 2 and every later one */

static bool sq_readable_as_is(int version)
{
	return version >= SQ_FIRST_LAYOUT_STEP;
}

/* Run a statement that returns one integer (a PRAGMA or a count). */
static int sq_query_int(sqlite3 *db, const char *sql, sqlite3_int64 *out)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return rc;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*out = sqlite3_column_int64(st, 0);
		rc = SQLITE_OK;
	} else if (rc == SQLITE_DONE) {
		*out = 0;
		rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	return rc;
}

/* An error while reading the header of path: say plainly when it is not ours. */
static int sq_header_err(pl_store_backend *b, int rc, const char *path)
{
	switch (rc & 0xff) {
	case SQLITE_NOTADB:
		return pl_err_fail(PL_ERR_SCHEMA,
				   "%s is not a Parley store (not an SQLite database)", path);
	case SQLITE_CORRUPT:
		return pl_err_fail(PL_ERR_SCHEMA, "store %s is damaged: %s", path,
				   sqlite3_errmsg(b->db));
	default:
		return sq_fail(b, rc, "open");
	}
}

/*
 * Find out what the database at path is and set *version to the number of
 * migration steps it has.  A database is ours when its application_id is
 * 'PLY1', or new when it has no application_id, no user_version and no
 * schema at all (then *version is 0, and without PL_STORE_CREATE that is
 * PL_ERR_NOT_FOUND).  Anything else is PL_ERR_SCHEMA.
 */
static int sq_identify(pl_store_backend *b, const char *path, unsigned flags, int *version)
{
	sqlite3_int64 app = 0, uv = 0, nschema = 0;
	int rc = sq_query_int(b->db, "PRAGMA application_id", &app);
	if (rc == SQLITE_OK)
		rc = sq_query_int(b->db, "PRAGMA user_version", &uv);
	if (rc == SQLITE_OK)
		rc = sq_query_int(b->db, "SELECT count(*) FROM sqlite_master", &nschema);
	if (rc != SQLITE_OK)
		return sq_header_err(b, rc, path);

	if (app == 0) {
		if (uv != 0 || nschema != 0)
			return pl_err_fail(PL_ERR_SCHEMA,
					   "%s is not a Parley store (an SQLite database of "
					   "another program)",
					   path);
		if (!(flags & PL_STORE_CREATE))
			return pl_err_fail(PL_ERR_NOT_FOUND,
					   "no Parley store at %s (the database is empty)", path);
		*version = 0;
		return 0;
	}
	if (app != SQ_APPLICATION_ID)
		return pl_err_fail(PL_ERR_SCHEMA,
				   "%s is not a Parley store (SQLite application_id 0x%08llx)",
				   path, (unsigned long long)(uint32_t)app);
	if (uv > SQ_NMIGRATIONS)
		return pl_err_fail(PL_ERR_SCHEMA,
				   "store schema version %lld is newer than this program (knows "
				   "%d): upgrade parley",
				   (long long)uv, SQ_NMIGRATIONS);
	if (uv < 0)
		return pl_err_fail(PL_ERR_SCHEMA, "store %s has a bad schema version %lld", path,
				   (long long)uv);
	*version = (int)uv;
	return 0;
}

/*
 * Bring the schema to the newest version: every missing step, the
 * application_id and the new user_version in one IMMEDIATE transaction, so
 * a crash leaves either the old schema or the new one.
 */
static int sq_migrate(pl_store_backend *b, const char *path, unsigned flags)
{
	char sql[96];
	int version = 0, ret;
	int rc = sqlite3_exec(b->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return sq_fail(b, rc, "open: migrate the schema");
	/* Another process may have migrated it since we looked. */
	ret = sq_identify(b, path, flags, &version);
	if (ret)
		goto fail;
	for (int i = version; i < SQ_NMIGRATIONS; i++) {
		rc = sqlite3_exec(b->db, sq_migrations[i], NULL, NULL, NULL);
		if (rc != SQLITE_OK) {
			int prim = rc & 0xff;
			if (prim == SQLITE_ERROR || prim == SQLITE_CONSTRAINT)
				ret = pl_err_fail(PL_ERR_SCHEMA,
						  "store %s: schema step %d failed: %s", path,
						  i + 1, sqlite3_errmsg(b->db));
			else
				ret = sq_fail(b, rc, "open: migrate the schema");
			goto fail;
		}
	}
	snprintf(sql, sizeof(sql), "PRAGMA application_id = %d; PRAGMA user_version = %d",
		 SQ_APPLICATION_ID, SQ_NMIGRATIONS);
	rc = sqlite3_exec(b->db, sql, NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(b->db, "COMMIT", NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		ret = sq_fail(b, rc, "open: migrate the schema");
		goto fail;
	}
	return 0;
fail:
	if (!sqlite3_get_autocommit(b->db))
		sqlite3_exec(b->db, "ROLLBACK", NULL, NULL, NULL);
	return ret;
}

/* Set and check the connection settings Parley's durability rests on. */
static int sq_configure(pl_store_backend *b, const char *path, int wal_pages)
{
	sqlite3_stmt *st = NULL;
	const char *mode_sql = b->readonly ? "PRAGMA journal_mode" : "PRAGMA journal_mode = WAL";
	int rc = sqlite3_prepare_v2(b->db, mode_sql, -1, &st, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		int ret = sq_fail(b, rc, "open: set WAL journal mode");
		sqlite3_finalize(st);
		return ret;
	}
	const unsigned char *mode = sqlite3_column_text(st, 0);
	if (!mode || strcmp((const char *)mode, "wal") != 0) {
		int ret = pl_err_fail(
		    PL_ERR_STORE, "store %s: cannot use WAL journal mode (it is in \"%s\" mode)",
		    path, mode ? (const char *)mode : "?");
		sqlite3_finalize(st);
		return ret;
	}
	sqlite3_finalize(st);

	rc = sqlite3_exec(b->db, "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON", NULL, NULL,
			  NULL);
	if (rc != SQLITE_OK)
		return sq_fail(b, rc, "open: configure the connection");
	/* Start the WAL over every wal_pages pages, not SQLite's 1000: the pages
	 * a node rewrites in every commit (index interiors, queue heads) are
	 * copied into the database once per cycle.  The copying is done by a
	 * thread of the store's own (ckpt.h), not inside the commit that crosses
	 * the threshold, where everything behind it waited — a FLASH among them;
	 * that kept the threshold at 3000 while it was so (docs/performance.md). */
	if (!b->readonly)
		return sq_ckpt_attach(b->db, path, wal_pages, &b->ckpt);
	return 0;
}

/* ---------------------------------------------------------- open and close */

static void sq_close(pl_store_backend *b)
{
	if (!b)
		return;
	sq_wsync_stop(b->wsync); /* after a last sync of what was committed */
	sq_ckpt_detach(b->ckpt);
	for (int i = 0; i < SQ_NSTMT; i++)
		sqlite3_finalize(b->st[i]);
	/* Closing a connection rolls back a transaction left open. */
	sqlite3_close_v2(b->db);
	free(b);
}

/* sqlite3_open_v2 failed: tell a missing file from other trouble. */
static int sq_open_err(pl_store_backend *b, int rc, const char *path, unsigned flags)
{
	int sys = b->db ? sqlite3_system_errno(b->db) : 0;
	if ((rc & 0xff) == SQLITE_CANTOPEN && sys == ENOENT) {
		if (flags & PL_STORE_CREATE)
			return pl_err_fail(PL_ERR_NOT_FOUND,
					   "cannot create store %s: its folder does not exist",
					   path);
		return pl_err_fail(PL_ERR_NOT_FOUND, "no store at %s", path);
	}
	if ((rc & 0xff) == SQLITE_CANTOPEN)
		return pl_err_fail(PL_ERR_STORE, "cannot open store %s: %s (system error %d)", path,
				   b->db ? sqlite3_errmsg(b->db) : sqlite3_errstr(rc), sys);
	return sq_fail(b, rc, "open");
}

static int sq_open(const char *location, unsigned flags, pl_store_backend **out)
{
	char *path = NULL;
	int opt[SQ_NOPT], version = 0;
	int ret = sq_parse_location(location, &path, opt);
	if (ret)
		return ret;
	if (sqlite3_libversion_number() < 3038000) {
		free(path);
		return pl_err_fail(PL_ERR_STORE, "SQLite %s is too old: Parley needs 3.38 or newer",
				   sqlite3_libversion());
	}
	pl_store_backend *b = calloc(1, sizeof(*b));
	if (!b) {
		free(path);
		return PL_ERR_NOMEM;
	}
	b->busy_ms = opt[SQ_OPT_BUSY_MS];
	b->readonly = (flags & PL_STORE_READONLY) != 0;

	int oflags = SQLITE_OPEN_NOMUTEX;
	if (b->readonly)
		oflags |= SQLITE_OPEN_READONLY;
	else
		oflags |=
		    SQLITE_OPEN_READWRITE | ((flags & PL_STORE_CREATE) ? SQLITE_OPEN_CREATE : 0);
	int rc = sqlite3_open_v2(path, &b->db, oflags, NULL);
	if (rc != SQLITE_OK) {
		ret = sq_open_err(b, rc, path, flags);
		goto fail;
	}
	sqlite3_extended_result_codes(b->db, 1);
	sqlite3_busy_timeout(b->db, b->busy_ms);
	/* SQLite quietly opens a write-protected file read-only. */
	if (!b->readonly && sqlite3_db_readonly(b->db, "main") == 1) {
		ret = pl_err_fail(PL_ERR_STORE, "store %s is write-protected: open it read-only",
				  path);
		goto fail;
	}

	ret = sq_identify(b, path, flags, &version);
	if (ret)
		goto fail;
	if (version < SQ_NMIGRATIONS && b->readonly && !sq_readable_as_is(version)) {
		ret = pl_err_fail(PL_ERR_SCHEMA,
				  "store schema version %d is older than this program (knows %d): "
				  "open it once read-write to upgrade it",
				  version, SQ_NMIGRATIONS);
		goto fail;
	}
	ret = sq_configure(b, path, opt[SQ_OPT_WAL_PAGES]);
	if (ret)
		goto fail;
	if (version < SQ_NMIGRATIONS && !b->readonly) {
		ret = sq_migrate(b, path, flags);
		if (ret)
			goto fail;
	}

	for (int i = 0; i < SQ_NSTMT; i++) {
		rc = sqlite3_prepare_v3(b->db, sq_stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
					&b->st[i], NULL);
		if (rc == SQLITE_ERROR) {
			ret = pl_err_fail(PL_ERR_SCHEMA, "store %s is damaged: %s", path,
					  sqlite3_errmsg(b->db));
			goto fail;
		}
		if (rc != SQLITE_OK) {
			ret = sq_header_err(b, rc, path);
			goto fail;
		}
	}
	free(path);
	*out = b;
	return 0;
fail:
	free(path);
	sq_close(b);
	return ret;
}

/* ------------------------------------------------------------ transactions */

/* Run one of the cached statements that return no rows. */
static int sq_exec_cached(pl_store_backend *b, int which)
{
	int rc = sqlite3_step(b->st[which]);
	sqlite3_reset(b->st[which]);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int sq_begin(pl_store_backend *b)
{
	if (b->in_tx)
		return pl_err_fail(PL_ERR_INVALID, "begin: a transaction is already open");
	/* A read-only store takes a read snapshot; otherwise take the write lock now. */
	int rc = sq_exec_cached(b, b->readonly ? SQ_BEGIN_READ : SQ_BEGIN);
	if (rc != SQLITE_OK) {
		int ret = sq_fail(b, rc, "begin");
		if (!sqlite3_get_autocommit(b->db))
			sq_exec_cached(b, SQ_ROLLBACK);
		return ret;
	}
	b->in_tx = true;
	return 0;
}

static int sq_commit(pl_store_backend *b)
{
	if (!b->in_tx)
		return pl_err_fail(PL_ERR_INVALID, "commit: no transaction is open");
	b->in_tx = false;
	if (sqlite3_get_autocommit(b->db))
		return pl_err_fail(
		    PL_ERR_STORE, "commit: the transaction was rolled back after an earlier error");
	int rc = sq_exec_cached(b, SQ_COMMIT);
	if (rc != SQLITE_OK) {
		int ret = sq_fail(b, rc, "commit");
		if (!sqlite3_get_autocommit(b->db))
			sq_exec_cached(b, SQ_ROLLBACK);
		return ret;
	}
	return 0;
}

static int sq_rollback(pl_store_backend *b)
{
	if (!b->in_tx)
		return pl_err_fail(PL_ERR_INVALID, "rollback: no transaction is open");
	b->in_tx = false;
	if (sqlite3_get_autocommit(b->db))
		return 0; /* SQLite already rolled it back */
	int rc = sq_exec_cached(b, SQ_ROLLBACK);
	if (rc != SQLITE_OK)
		return sq_fail(b, rc, "rollback");
	return 0;
}

static int sq_schema_version(pl_store_backend *b, int *out)
{
	sqlite3_stmt *st = b->st[SQ_VERSION];
	int rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		int ret = sq_fail(b, rc, "schema version");
		sq_done(st);
		return ret;
	}
	*out = sqlite3_column_int(st, 0);
	sq_done(st);
	return 0;
}

/* ----------------------------------------------------------------- objects */

static int sq_bind_kind_key(sqlite3_stmt *st, uint32_t kind, const char *key)
{
	int rc = sqlite3_bind_int64(st, 1, (sqlite3_int64)kind);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
	return rc;
}

static int sq_put(pl_store_backend *b, uint32_t kind, const char *key, const uint8_t *val,
		  size_t len, unsigned flags)
{
	int ret = sq_tx_alive(b);
	if (ret)
		return ret;
	sqlite3_stmt *st = b->st[(flags & PL_STORE_NO_REPLACE) ? SQ_INSERT : SQ_PUT];
	int rc = sq_bind_kind_key(st, kind, key);
	if (rc == SQLITE_OK) {
		if (len == 0)
			rc = sqlite3_bind_zeroblob(st, 3, 0);
		else
			rc = sqlite3_bind_blob(st, 3, val, (int)len, SQLITE_STATIC);
	}
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc == SQLITE_DONE)
		ret = 0;
	else if ((rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY) &&
		 (flags & PL_STORE_NO_REPLACE)) /* the key index (schema step 2), or step 1's key */
		ret = pl_err_fail(PL_ERR_EXISTS, "key \"%s\" of kind %u already exists", key,
				  (unsigned)kind);
	else
		ret = sq_fail(b, rc, "put");
	sq_done(st);
	return ret;
}

static int sq_get(pl_store_backend *b, uint32_t kind, const char *key, uint8_t **val, size_t *len)
{
	int ret = sq_tx_alive(b);
	if (ret)
		return ret;
	sqlite3_stmt *st = b->st[SQ_GET];
	int rc = sq_bind_kind_key(st, kind, key);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const void *p = sqlite3_column_blob(st, 0);
		size_t n = (size_t)sqlite3_column_bytes(st, 0);
		uint8_t *copy = NULL;
		if (p || n == 0)
			copy = malloc(n ? n : 1); /* a zero-length value is still a buffer */
		if (!copy) {
			ret = PL_ERR_NOMEM;
		} else {
			if (n)
				memcpy(copy, p, n);
			*val = copy;
			*len = n;
		}
	} else if (rc == SQLITE_DONE) {
		ret =
		    pl_err_fail(PL_ERR_NOT_FOUND, "no key \"%s\" of kind %u", key, (unsigned)kind);
	} else {
		ret = sq_fail(b, rc, "get");
	}
	sq_done(st);
	return ret;
}

static int sq_del(pl_store_backend *b, uint32_t kind, const char *key)
{
	int ret = sq_tx_alive(b);
	if (ret)
		return ret;
	sqlite3_stmt *st = b->st[SQ_DEL];
	int rc = sq_bind_kind_key(st, kind, key);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc != SQLITE_DONE)
		ret = sq_fail(b, rc, "delete");
	else if (sqlite3_changes(b->db) == 0)
		ret =
		    pl_err_fail(PL_ERR_NOT_FOUND, "no key \"%s\" of kind %u", key, (unsigned)kind);
	sq_done(st);
	return ret;
}

/* Walk the rows of a prepared SELECT key, value statement, calling cb. */
static int sq_walk(pl_store_backend *b, sqlite3_stmt *st, int rc, pl_store_list_cb cb, void *ctx,
		   const char *what)
{
	static const uint8_t empty[1];
	int ret = 0;
	while (rc == SQLITE_OK || rc == SQLITE_ROW) {
		rc = sqlite3_step(st);
		if (rc != SQLITE_ROW)
			break;
		const char *key = (const char *)sqlite3_column_text(st, 0);
		const uint8_t *val = sqlite3_column_blob(st, 1);
		size_t n = (size_t)sqlite3_column_bytes(st, 1);
		if (!key || (!val && n > 0)) {
			ret = PL_ERR_NOMEM;
			break;
		}
		ret = cb(ctx, key, val ? val : empty, n);
		if (ret)
			break;
	}
	if (!ret && rc != SQLITE_DONE)
		ret = sq_fail(b, rc, what);
	b->walk_steps += (uint64_t)sqlite3_stmt_status(st, SQLITE_STMTSTATUS_VM_STEP, 1);
	sq_done(st);
	return ret;
}

static void sq_stats(pl_store_backend *b, pl_store_stats *out)
{
	out->walk_steps = b->walk_steps;
	if (b->ckpt) {
		sq_ckpt_stats c;
		sq_ckpt_get_stats(b->ckpt, &c);
		out->checkpoints_thread = c.thread;
		out->checkpoints_commit = c.commit;
		out->checkpoints_failed = c.failed;
	}
}

static void sq_wsync_commit_cb(void *arg)
{
	sq_wsync_committed(arg);
}

/* Commits return once their frames are in the WAL; the syncer makes them
 * durable (wsync.h).  synchronous=NORMAL keeps SQLite's own syncs around
 * checkpoints, which keep the store whole through a power loss. */
static int sq_defer_sync(pl_store_backend *b, pl_store_synced_fn synced, void *arg)
{
	if (b->readonly || !b->ckpt)
		return pl_err_fail(PL_ERR_INVALID, "defer syncs: the store is read-only");
	if (b->wsync)
		return pl_err_fail(PL_ERR_INVALID, "defer syncs: they are deferred already");
	if (b->in_tx)
		return pl_err_fail(PL_ERR_INVALID, "defer syncs: not inside a transaction");
	const char *wal = sqlite3_filename_wal(sqlite3_db_filename(b->db, "main"));
	int ret = sq_wsync_start(wal, synced, arg, &b->wsync);
	if (ret)
		return ret;
	int rc = sqlite3_exec(b->db, "PRAGMA synchronous = NORMAL", NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		ret = sq_fail(b, rc, "defer syncs");
		sq_wsync_stop(b->wsync);
		b->wsync = NULL;
		return ret;
	}
	sq_ckpt_on_commit(b->ckpt, sq_wsync_commit_cb, b->wsync);
	return 0;
}

static void sq_sync_state(pl_store_backend *b, pl_store_sync *out)
{
	if (b->wsync)
		sq_wsync_get_state(b->wsync, out);
	else
		memset(out, 0, sizeof(*out));
}

static int sq_sync_wait(pl_store_backend *b)
{
	return b->wsync ? sq_wsync_wait(b->wsync) : 0;
}

static int sq_list(pl_store_backend *b, uint32_t kind, pl_store_list_cb cb, void *ctx)
{
	int ret = sq_tx_alive(b);
	if (ret)
		return ret;
	sqlite3_stmt *st = b->st[SQ_LIST];
	return sq_walk(b, st, sqlite3_bind_int64(st, 1, (sqlite3_int64)kind), cb, ctx, "list");
}

static int sq_range(pl_store_backend *b, uint32_t kind, const char *from, const char *to,
		    size_t limit, pl_store_list_cb cb, void *ctx)
{
	int ret = sq_tx_alive(b);
	if (ret)
		return ret;
	sqlite3_stmt *st = b->st[to ? SQ_RANGE : SQ_RANGE_OPEN];
	int rc = sqlite3_bind_int64(st, 1, (sqlite3_int64)kind);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_text(st, 2, from, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK && to)
		rc = sqlite3_bind_text(st, 3, to, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 4, limit ? (sqlite3_int64)limit : -1);
	return sq_walk(b, st, rc, cb, ctx, "range");
}

static int sq_del_range(pl_store_backend *b, uint32_t kind, const char *from, const char *to,
			uint64_t *deleted)
{
	int ret = sq_tx_alive(b);
	if (ret)
		return ret;
	sqlite3_stmt *st = b->st[SQ_DEL_RANGE];
	int rc = sqlite3_bind_int64(st, 1, (sqlite3_int64)kind);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_text(st, 2, from, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_text(st, 3, to, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc != SQLITE_DONE)
		ret = sq_fail(b, rc, "delete range");
	else if (deleted)
		*deleted = (uint64_t)sqlite3_changes(b->db);
	sq_done(st);
	return ret;
}

/*
 * What quick_check leaves out and integrity_check does: that the index of
 * (kind, key) is in key order and holds what the table holds, and that the
 * rows are whole.  A flipped bit in a key (a row filed under a key it no
 * longer has) passes quick_check, and a lookup would then miss the row, or
 * find it under another key, without a word.  Two passes, each in its own
 * order, no search: the index, each (kind, key) above the one before it;
 * the table, value and updated present.  Each pass sums a mix of every
 * (rowid, kind, key) it reads; the sums and counts are equal when the two
 * hold the same rows (a changed bit changes one row's mix: the sums then
 * differ but for a chance of 2^-64).  A checksum against damage, not a
 * defence against whoever can write the file.
 */
static uint64_t sq_row_mix(sqlite3_int64 rowid, sqlite3_int64 kind, const unsigned char *key,
			   size_t n)
{
	uint64_t h = UINT64_C(0xcbf29ce484222325); /* FNV-1a over the key ... */
	for (size_t i = 0; i < n; i++)
		h = (h ^ key[i]) * UINT64_C(0x100000001b3);
	h ^= (uint64_t)rowid * UINT64_C(0x9e3779b97f4a7c15) + (uint64_t)kind;
	h ^= h >> 30; /* ... and splitmix64's finaliser over it all */
	h *= UINT64_C(0xbf58476d1ce4e5b9);
	h ^= h >> 27;
	h *= UINT64_C(0x94d049bb133111eb);
	return h ^ (h >> 31);
}

struct sq_pass {
	uint64_t rows, sum;
};

/* A check that could not go on: damage (a page SQLite cannot read), or else
 * the trouble of the store itself. */
static int sq_check_damaged(pl_store_backend *b, int rc)
{
	return (rc & 0xff) == SQLITE_CORRUPT || (rc & 0xff) == SQLITE_NOTADB
		   ? pl_err_fail(PL_ERR_CORRUPT, "store is damaged: %s", sqlite3_errmsg(b->db))
		   : sq_fail(b, rc, "check");
}

/* Keys read in key order: each (kind, key) must be above the one before. */
struct sq_order {
	sqlite3_int64 kind;
	char *key;
	size_t klen;
	bool any;
};

static int sq_order_next(struct sq_order *o, sqlite3_int64 k, const unsigned char *t, size_t n)
{
	if (!t)
		return pl_err_fail(PL_ERR_CORRUPT,
				   "store is damaged: a row of kind %lld has no key", (long long)k);
	if (o->any) {
		int c = memcmp(o->key, t, o->klen < n ? o->klen : n);
		bool above = k > o->kind || (k == o->kind && (c < 0 || (c == 0 && o->klen < n)));
		if (!above)
			return pl_err_fail(
			    PL_ERR_CORRUPT,
			    "store is damaged: row \"%.*s\" of kind %lld is out of key "
			    "order",
			    (int)(n < 80 ? n : 80), (const char *)t, (long long)k);
	}
	char *copy = realloc(o->key, n + 1);
	if (!copy)
		return PL_ERR_NOMEM;
	o->key = copy;
	memcpy(o->key, t, n);
	o->klen = n;
	o->kind = k;
	o->any = true;
	return 0;
}

/* The index in key order: (kind, key) strictly ascending. */
static int sq_check_index(pl_store_backend *b, struct sq_pass *p)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(
	    b->db, "SELECT rowid, kind, key FROM objects INDEXED BY objects_key ORDER BY kind, key",
	    -1, &st, NULL);
	if (rc != SQLITE_OK)
		return sq_check_damaged(b, rc);
	struct sq_order o = {0};
	int ret = 0;
	while (!ret && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		sqlite3_int64 k = sqlite3_column_int64(st, 1);
		const unsigned char *t = sqlite3_column_text(st, 2);
		size_t n = (size_t)sqlite3_column_bytes(st, 2);
		ret = sq_order_next(&o, k, t, n);
		p->rows++;
		p->sum += ret ? 0 : sq_row_mix(sqlite3_column_int64(st, 0), k, t, n);
	}
	if (!ret && rc != SQLITE_DONE)
		ret = sq_check_damaged(b, rc);
	free(o.key);
	sqlite3_finalize(st);
	return ret;
}

/* The table in rowid order: every field present. */
static int sq_check_table(pl_store_backend *b, struct sq_pass *p)
{
	sqlite3_stmt *st = NULL;
	int rc =
	    sqlite3_prepare_v2(b->db,
			       "SELECT rowid, kind, key, key IS NULL OR value IS NULL OR updated "
			       "IS NULL FROM objects NOT INDEXED",
			       -1, &st, NULL);
	if (rc != SQLITE_OK)
		return sq_check_damaged(b, rc);
	int ret = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		sqlite3_int64 k = sqlite3_column_int64(st, 1);
		if (sqlite3_column_int(st, 3)) {
			ret =
			    pl_err_fail(PL_ERR_CORRUPT,
					"store is damaged: a row of kind %lld has a missing field",
					(long long)k);
			break;
		}
		const unsigned char *t = sqlite3_column_text(st, 2);
		p->rows++;
		p->sum += sq_row_mix(sqlite3_column_int64(st, 0), k, t,
				     (size_t)sqlite3_column_bytes(st, 2));
	}
	if (!ret && rc != SQLITE_DONE)
		ret = sq_check_damaged(b, rc);
	sqlite3_finalize(st);
	return ret;
}

static int sq_check_keys(pl_store_backend *b)
{
	struct sq_pass in_index = {0}, in_table = {0};
	int ret = sq_check_index(b, &in_index);
	if (!ret)
		ret = sq_check_table(b, &in_table);
	if (!ret && in_index.rows != in_table.rows)
		ret = pl_err_fail(
		    PL_ERR_CORRUPT,
		    "store is damaged: the table has %llu rows but its key index %llu",
		    (unsigned long long)in_table.rows, (unsigned long long)in_index.rows);
	else if (!ret && in_index.sum != in_table.sum)
		ret = pl_err_fail(PL_ERR_CORRUPT,
				  "store is damaged: a row's key in the table is not the one its "
				  "key index files it under");
	return ret;
}

/*
 * A store of schema version 1 (read as it is by a read-only open): its rows
 * are in a table without rowid, in key order.  One pass over the table in
 * its own order: each (kind, key) must be above the one before it, and
 * value and updated present.
 */
static int sq_check_order_v1(pl_store_backend *b)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(
	    b->db, "SELECT kind, key, value IS NULL OR updated IS NULL FROM objects", -1, &st,
	    NULL);
	if (rc != SQLITE_OK)
		return sq_check_damaged(b, rc);
	struct sq_order o = {0};
	int ret = 0;
	while (!ret && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		sqlite3_int64 k = sqlite3_column_int64(st, 0);
		if (sqlite3_column_int(st, 2))
			ret =
			    pl_err_fail(PL_ERR_CORRUPT,
					"store is damaged: a row of kind %lld has a missing field",
					(long long)k);
		else
			ret = sq_order_next(&o, k, sqlite3_column_text(st, 1),
					    (size_t)sqlite3_column_bytes(st, 1));
	}
	if (!ret && rc != SQLITE_DONE)
		ret = sq_check_damaged(b, rc);
	free(o.key);
	sqlite3_finalize(st);
	return ret;
}

/*
 * PRAGMA quick_check or integrity_check: one row "ok" when intact, else up
 * to N rows naming problems; the first is the detail.  A page so damaged
 * that the check itself cannot step (SQLITE_CORRUPT) is damage too.  The
 * quick check adds the passes over the keys (sq_check_keys; on a version-1
 * store read as it is, sq_check_order_v1), which integrity_check does itself.
 */
static int sq_check(pl_store_backend *b, unsigned flags)
{
	const char *sql = (flags & PL_STORE_CHECK_FULL) ? "PRAGMA integrity_check(8)"
						       : "PRAGMA quick_check(8)";
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(b->db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return sq_check_damaged(b, rc);
	int ret = 0;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const char *r = (const char *)sqlite3_column_text(st, 0);
		if (!r || strcmp(r, "ok") != 0)
			ret = pl_err_fail(PL_ERR_CORRUPT, "store is damaged: %s",
					  r ? r : "(no answer)");
	} else if (rc != SQLITE_DONE) {
		ret = sq_check_damaged(b, rc);
	} else {
		ret = pl_err_fail(PL_ERR_CORRUPT, "store is damaged: the check answered nothing");
	}
	sqlite3_finalize(st);
	if (ret || (flags & PL_STORE_CHECK_FULL))
		return ret;
	int version = 0;
	ret = sq_schema_version(b, &version);
	if (!ret) /* step 2 applied: the key index; else the table in key order */
		ret = version > SQ_FIRST_LAYOUT_STEP ? sq_check_keys(b) : sq_check_order_v1(b);
	return ret;
}

const pl_store_methods pl_store_sqlite_methods = {
    .version = 5,
    .name = "sqlite",
    .open = sq_open,
    .close = sq_close,
    .begin = sq_begin,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .schema_version = sq_schema_version,
    .put = sq_put,
    .get = sq_get,
    .del = sq_del,
    .list = sq_list,
    .range = sq_range,
    .del_range = sq_del_range,
    .stats = sq_stats,
    .check = sq_check,
    .defer_sync = sq_defer_sync,
    .sync_state = sq_sync_state,
    .sync_wait = sq_sync_wait,
};
