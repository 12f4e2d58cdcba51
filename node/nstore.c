/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The node store: Parley's node data model as keys of lib/store.
 *
 * Kinds and keys (docs/formats.md, "Node store"):
 *   100 ENV      hex(id)                      -> envelope bytes: written by older
 *                                                 stores (2026-11-27), read no more
 *   101 META     hex(id)                      -> JSON metadata (nstore_meta); the
 *                                                 envelope's bytes are its transcript
 *                                                 entry (113) at the metadata's pos
 *   102 CHLOG    ch "/" %020 pos              -> hex(id)
 *   103 SEQ      state "/" author "/" ch "/" lane -> "seq hex(id)"
 *   104 OUTQ     peer "/" lane "/" %020 lseq  -> "kind hex(id)"
 *   105 OUTSEQ   peer "/" lane                -> last lseq assigned
 *   106 INSEQ    peer "/" lane                -> next lseq expected
 *   107 DELIV    hex(id) "/" peer             -> "state time": written by older
 *                                                 stores (see 132), still read
 *   108 BLOB     hex(id)                      -> bytes (charters, status lists in flight)
 *   109 CHARTER  channel                      -> latest signed charter
 *   110 STATUS   state                        -> latest signed status list
 *   111 COUNTER  (no longer written)
 *   112 REJECT   peer "/" lane "/" %020 lseq  -> reason
 * The transcript (node/tlog.c, node/witness.c; docs/transcript.md):
 *   113 TLOG_ENTRY   %020 index                   -> type byte || object
 *   114 TLOG_HASH    %020 end "/" %02 level       -> 32-byte subtree hash (end: its
 *                                                    last leaf; %02 level "/" %020 index
 *                                                    in older transcripts: node/tlog.c)
 *   115 TLOG_META    "size", "cp", "alarms"       -> decimal numbers
 *   116 TLOG_CP      %020 size                    -> own signed checkpoint note
 *   117 TLOG_COSIG   %020 size "/" peer           -> the peer's cosignature line on it
 *   118 TLOG_ORIGIN  peer                         -> JSON: what the peer cosigned of ours
 *   119 TLOG_WITNESS origin                       -> JSON: the last checkpoint of origin
 *                                                    this node cosigned
 *   120 TLOG_THEIRS  origin "/" %020 size         -> that checkpoint with our cosignature
 *   121 TLOG_SEEN    origin "/e/" %020 pos        -> JSON: own envelope proven in origin's log
 *                                                    (origin "/" hex(id) in older stores)
 *   122 TLOG_FROM    peer "/" %020 index          -> type byte || id or refusal record:
 *                                                    entries of items the peer sent
 *   123 TLOG_ALARM   %020 number                  -> JSON alarm record with evidence
 *   124 OUTACK       peer "/" lane                -> highest lseq the peer acknowledged
 *   125 NODEREC      node name                    -> a peer node's signed record
 *   131 OUTDONE      peer "/" lane "/" %020 lseq  -> "kind hex(id)": acknowledged items,
 *                                                    the last 65536 per peer and lane
 *   132 DELIVP       %020 pos "/" peer            -> "state time": by the envelope's
 *                                                    position, so that the rows of the
 *                                                    envelopes of one commit share pages
 * Zero-padded numbers make bytewise key order the numeric order.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ecache.h"
#include "nstore.h"
#include "parley/channel.h"
#include "parley/err.h"

enum {
	K_ENV = 100,
	K_META,
	K_CHLOG,
	K_SEQ,
	K_OUTQ,
	K_OUTSEQ,
	K_INSEQ,
	K_DELIV,
	K_BLOB,
	K_CHARTER,
	K_STATUS,
	K_COUNTER,
	K_REJECT,
	K_OUTACK = 124,
	K_OUTDONE = 131,
	K_DELIVP = 132,
};

/* Acknowledged items kept per peer and lane, in case the peer loses them
 * (its store goes back) and must be sent them again. */
#define OUTDONE_KEEP 65536

/* The envelopes indexed last, answered from memory (ecache.h): 4096 is
 * some 1.5 s of the benchmark's steady rate, time for the sends, receipts
 * and the peer's next checkpoint that read each one again. */
#define ECACHE_ENTRIES 4096
#define ECACHE_BYTES   (4u << 20)

/* The queues' positions (kind 105: the last lseq assigned and the items
 * queued) as this handle last read or wrote them, so that a push, or a
 * pump that would find nothing new, reads nothing: the node is its store's
 * only writer (the store refuses a second).  Forgotten when a transaction
 * is rolled back or its commit fails. */
#define OUTMEMO 32

struct outmemo {
	char peer[64];
	int lane;
	uint64_t last, depth;
};

/* Rows of kinds rewritten by every item of a batch — a peer's resume
 * point (106), an author's replay state (103), the transcript's size (115
 * "size") — put in the open
 * transaction: kept here and written once each at its commit, read back
 * from here meanwhile, dropped at a rollback.  Nothing reads these kinds
 * by range. */
#define LATER_MAX 64

struct later {
	int kind;
	char key[PL_STORE_KEY_MAX + 1];
	char val[128];
};

/* node/tlog.c's subtree hashes (kind 114) as this handle last wrote or
 * read them, by level and index, and the transcript's size (kind 115
 * "size", set in a transaction and written at its commit like the rows
 * above).  An append reads the subtrees to its left, which the appends
 * before it wrote; the proofs of a checkpoint read the same recent
 * subtrees again for each entry they prove (some 7 reads an envelope at
 * the receiver).  Direct-mapped, a slot valid while its generation is the
 * handle's: a hash is never rewritten but by an append of a transaction
 * that was rolled back, so a rollback or a failed commit forgets them all
 * (memories_forget). */
#define TMEMO_BITS  12
#define TMEMO_SLOTS (1u << TMEMO_BITS)

struct tmemo {
	uint64_t index;
	uint32_t gen; /* valid when s->tgen */
	uint8_t level;
	uint8_t h[PL_HASH_BYTES];
};

struct nstore {
	pl_store *st;
	ecache *cache;   /* NULL when there was no memory for it */
	bool in_txn;     /* between nstore_begin and its commit or rollback */
	int tlog_layout; /* node/tlog.c's, 0 until it knows */
	int old_keys;    /* nstore_has_old_keys: 0 not looked yet, 1 yes, 2 no */
	struct outmemo memo[OUTMEMO];
	unsigned nmemo, memo_next;
	struct later *later; /* LATER_MAX rows: later_put */
	unsigned nlater;
	struct tmemo *tmemo; /* TMEMO_SLOTS; NULL when there was no memory for it */
	uint32_t tgen;       /* 1 and up: a slot of 0 was never set */
	bool tsize_known;
	uint64_t tsize;
};

static int any_cb(void *ctx, const char *key, const uint8_t *v, size_t n)
{
	(void)key;
	(void)v;
	(void)n;
	*(bool *)ctx = true;
	return 0;
}

bool nstore_has_old_keys(nstore *s)
{
	if (!s->old_keys) {
		bool found = false;
		if (pl_store_range(s->st, K_DELIV, "", "~", 1, any_cb, &found) != 0)
			return true; /* unknown: look everywhere, this time */
		s->old_keys = found ? 1 : 2;
	}
	return s->old_keys == 1;
}

int nstore_tlog_layout(const nstore *s)
{
	return s->tlog_layout;
}

void nstore_tlog_layout_set(nstore *s, int layout)
{
	s->tlog_layout = layout;
}

static void hexid(char out[2 * PL_HASH_BYTES + 1], const uint8_t id[PL_HASH_BYTES])
{
	pl_hex_encode(out, id, PL_HASH_BYTES);
}

#define KEYF(buf, ...)                                                                             \
	do {                                                                                       \
		int k_ = snprintf(buf, sizeof(buf), __VA_ARGS__);                                  \
		if (k_ < 0 || (size_t)k_ >= sizeof(buf))                                           \
			return pl_err_fail(PL_ERR_LIMIT, "node store key too long");               \
	} while (0)

int nstore_open(const char *location, nstore **out)
{
	return nstore_open_with(location, NULL, out);
}

int nstore_schema_of(const char *location, int *version)
{
	pl_store *st = NULL;
	int rc = pl_store_open(location, PL_STORE_READONLY, NULL, &st);
	if (!rc)
		rc = pl_store_schema_version(st, version);
	pl_store_close(st);
	return rc;
}

int nstore_open_with(const char *location, const pl_store_methods *methods, nstore **out)
{
	nstore *s = calloc(1, sizeof(*s));
	if (!s)
		return PL_ERR_NOMEM;
	int rc = pl_store_open(location, PL_STORE_CREATE, methods, &s->st);
	if (rc) {
		free(s);
		return rc;
	}
	s->cache = ecache_new(ECACHE_ENTRIES, ECACHE_BYTES); /* none: every read from the store */
	s->later = calloc(LATER_MAX, sizeof(*s->later));     /* none: every row written at once */
	s->tmemo = calloc(TMEMO_SLOTS, sizeof(*s->tmemo));   /* none: every hash read */
	s->tgen = 1;
	*out = s;
	return 0;
}

void nstore_close(nstore *s)
{
	if (!s)
		return;
	pl_store_close(s->st);
	ecache_free(s->cache);
	free(s->later);
	free(s->tmemo);
	free(s);
}

int nstore_check_structure(nstore *s, bool full)
{
	return pl_store_check(s->st, full ? PL_STORE_CHECK_FULL : 0);
}

void nstore_backend_stats(nstore *s, pl_store_stats *out)
{
	if (pl_store_get_stats(s->st, out) != 0)
		memset(out, 0, sizeof(*out));
}

int nstore_defer_sync(nstore *s, pl_store_synced_fn synced, void *arg)
{
	return pl_store_defer_sync(s->st, synced, arg);
}

void nstore_sync_state(nstore *s, pl_store_sync *out)
{
	pl_store_sync_state(s->st, out);
}

int nstore_sync_wait(nstore *s)
{
	return pl_store_sync_wait(s->st);
}

int nstore_begin(nstore *s)
{
	int rc = pl_store_begin(s->st);
	s->in_txn = rc == 0;
	return rc;
}

static int later_flush(nstore *s);

/* A transaction was rolled back or its commit failed: what the memories
 * took in it may be wrong (envelopes, queue positions, the transcript's
 * hashes and size), and the rows kept for its commit are not written. */
static void memories_forget(nstore *s)
{
	s->nmemo = 0;
	s->nlater = 0;
	if (++s->tgen == 0) { /* after 2^32 rollbacks: clear the slots for real */
		if (s->tmemo)
			memset(s->tmemo, 0, TMEMO_SLOTS * sizeof(*s->tmemo));
		s->tgen = 1;
	}
	s->tsize_known = false;
	if (s->cache)
		ecache_rollback(s->cache);
}

/* The rows kept for the commit are written in it; what the memories took
 * in the transaction holds only if it commits (memories_forget). */
int nstore_commit(nstore *s)
{
	int rc = later_flush(s);
	if (rc)
		(void)pl_store_rollback(s->st); /* as a failed commit: nothing of it stays */
	else
		rc = pl_store_commit(s->st);
	if (rc)
		memories_forget(s);
	else if (s->cache)
		ecache_commit(s->cache);
	s->in_txn = false;
	return rc;
}

void nstore_rollback(nstore *s)
{
	(void)pl_store_rollback(s->st);
	memories_forget(s);
	s->in_txn = false;
}

void nstore_cache_stats(nstore *s, ecache_stats *out)
{
	if (s->cache)
		ecache_get_stats(s->cache, out);
	else
		memset(out, 0, sizeof(*out));
}

/* A small text value "a b" read from the store into a NUL-terminated buffer. */
static int get_text(nstore *s, int kind, const char *key, char *out, size_t cap)
{
	uint8_t *v = NULL;
	size_t n = 0;
	int rc = pl_store_get(s->st, (uint32_t)kind, key, &v, &n);
	if (rc)
		return rc;
	if (n >= cap) {
		free(v);
		return pl_err_fail(PL_ERR_MALFORMED, "node store: value of %s too long", key);
	}
	memcpy(out, v, n);
	out[n] = '\0';
	free(v);
	return 0;
}

static int put_text(nstore *s, int kind, const char *key, const char *val)
{
	return pl_store_put(s->st, (uint32_t)kind, key, (const uint8_t *)val, strlen(val), 0);
}

static struct later *later_find(nstore *s, int kind, const char *key)
{
	for (unsigned i = 0; i < s->nlater; i++)
		if (s->later[i].kind == kind && strcmp(s->later[i].key, key) == 0)
			return &s->later[i];
	return NULL;
}

/* put_text, kept until the commit when in a transaction (and room). */
static int later_put(nstore *s, int kind, const char *key, const char *val)
{
	struct later *l = s->later ? later_find(s, kind, key) : NULL;
	bool keep = s->in_txn && strlen(key) < sizeof(l->key) && strlen(val) < sizeof(l->val);
	if (keep && !l && s->later && s->nlater < LATER_MAX) {
		l = &s->later[s->nlater++];
		l->kind = kind;
		snprintf(l->key, sizeof(l->key), "%s", key);
	}
	if (keep && l) {
		snprintf(l->val, sizeof(l->val), "%s", val);
		return 0;
	}
	if (l) /* written now: nothing kept of it */
		*l = s->later[--s->nlater];
	return put_text(s, kind, key, val);
}

/* get_text, the row kept by later_put first. */
static int later_get(nstore *s, int kind, const char *key, char *out, size_t cap)
{
	const struct later *l = s->later ? later_find(s, kind, key) : NULL;
	if (!l)
		return get_text(s, kind, key, out, cap);
	if (strlen(l->val) >= cap)
		return pl_err_fail(PL_ERR_MALFORMED, "node store: value of %s too long", key);
	snprintf(out, cap, "%s", l->val);
	return 0;
}

/* Write what later_put kept: at the commit. */
static int later_flush(nstore *s)
{
	int rc = 0;
	for (unsigned i = 0; !rc && i < s->nlater; i++)
		rc = put_text(s, s->later[i].kind, s->later[i].key, s->later[i].val);
	s->nlater = 0;
	return rc;
}

/* ---------------------------------------------------------------- the transcript's memory */

static struct tmemo *tmemo_slot(nstore *s, uint64_t level, uint64_t index)
{
	uint64_t x = (index << 6 | level) * UINT64_C(0x9E3779B97F4A7C15);
	return s->tmemo ? &s->tmemo[x >> (64 - TMEMO_BITS)] : NULL;
}

bool nstore_tlog_hash_recall(nstore *s, uint64_t level, uint64_t index, uint8_t h[PL_HASH_BYTES])
{
	const struct tmemo *m = tmemo_slot(s, level, index);
	if (!m || m->gen != s->tgen || m->level != level || m->index != index)
		return false;
	memcpy(h, m->h, PL_HASH_BYTES);
	return true;
}

void nstore_tlog_hash_keep(nstore *s, uint64_t level, uint64_t index,
			   const uint8_t h[PL_HASH_BYTES])
{
	struct tmemo *m = tmemo_slot(s, level, index);
	if (!m || level > 63)
		return;
	m->index = index;
	m->level = (uint8_t)level;
	m->gen = s->tgen;
	memcpy(m->h, h, PL_HASH_BYTES);
}

int nstore_tlog_size(nstore *s, uint64_t *n)
{
	if (s->tsize_known) {
		*n = s->tsize;
		return 0;
	}
	char v[32];
	int rc = later_get(s, NSTORE_TLOG_META, "size", v, sizeof(v));
	uint64_t x = 0;
	if (rc == 0) {
		size_t len = strlen(v);
		bool ok = len > 0 && len <= 20;
		for (size_t i = 0; ok && i < len; i++) {
			ok = v[i] >= '0' && v[i] <= '9' && x <= (UINT64_MAX - 9) / 10;
			x = x * 10 + (uint64_t)(v[i] - '0');
		}
		if (!ok)
			return pl_err_fail(PL_ERR_MALFORMED, "node store: bad transcript size");
	} else if (rc != PL_ERR_NOT_FOUND) {
		return rc;
	}
	s->tsize = x;
	s->tsize_known = true;
	*n = x;
	return 0;
}

int nstore_tlog_size_set(nstore *s, uint64_t n)
{
	char buf[24];
	snprintf(buf, sizeof(buf), "%" PRIu64, n);
	int rc = later_put(s, NSTORE_TLOG_META, "size", buf);
	s->tsize_known = rc == 0;
	s->tsize = n;
	return rc;
}

static int parse_u64(const char *s, uint64_t *v, const char **end)
{
	char *e;
	errno = 0;
	unsigned long long x = strtoull(s, &e, 10);
	if (errno || e == s)
		return pl_err_fail(PL_ERR_MALFORMED, "node store: bad number '%.20s'", s);
	*v = x;
	if (end)
		*end = e;
	return 0;
}

/* A number row (a row kept for the commit first: later_get). */
static int get_u64(nstore *s, int kind, const char *key, uint64_t dflt, uint64_t *v)
{
	char buf[32];
	int rc = later_get(s, kind, key, buf, sizeof(buf));
	if (rc == PL_ERR_NOT_FOUND) {
		*v = dflt;
		return 0;
	}
	return rc ? rc : parse_u64(buf, v, NULL);
}

static int put_u64(nstore *s, int kind, const char *key, uint64_t v)
{
	char buf[32];
	snprintf(buf, sizeof(buf), "%" PRIu64, v);
	return put_text(s, kind, key, buf);
}

/* ---------------------------------------------------------------- envelopes */

static json_t *meta_json(const nstore_meta *m)
{
	return json_pack("{s:I,s:s,s:i,s:s,s:s,s:I,s:I,s:s,s:s,s:I}", "pos", (json_int_t)m->pos,
			 "ch", m->ch, "lane", m->lane, "state", m->state, "author", m->author,
			 "seq", (json_int_t)m->seq, "at", (json_int_t)m->at, "kind", m->kind,
			 "origin", m->origin, "received", (json_int_t)m->received);
}

static void copy_str(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src ? src : "");
}

static int meta_parse(const uint8_t *p, size_t n, nstore_meta *m)
{
	json_error_t e;
	json_t *j = json_loadb((const char *)p, n, 0, &e);
	if (!j)
		return pl_err_fail(PL_ERR_MALFORMED, "node store: bad metadata: %s", e.text);
	json_int_t pos, seq, at, received;
	int lane;
	const char *ch, *state, *author, *kind, *origin;
	int rc = json_unpack(j, "{s:I,s:s,s:i,s:s,s:s,s:I,s:I,s:s,s:s,s:I}", "pos", &pos, "ch",
			     &ch, "lane", &lane, "state", &state, "author", &author, "seq", &seq,
			     "at", &at, "kind", &kind, "origin", &origin, "received", &received);
	if (rc == 0) {
		memset(m, 0, sizeof(*m));
		m->pos = (uint64_t)pos;
		copy_str(m->ch, sizeof(m->ch), ch);
		m->lane = lane;
		copy_str(m->state, sizeof(m->state), state);
		copy_str(m->author, sizeof(m->author), author);
		m->seq = (uint64_t)seq;
		m->at = at;
		copy_str(m->kind, sizeof(m->kind), kind);
		copy_str(m->origin, sizeof(m->origin), origin);
		m->received = received;
	}
	json_decref(j);
	return rc == 0 ? 0 : pl_err_fail(PL_ERR_MALFORMED, "node store: incomplete metadata");
}

int nstore_env_index(nstore *s, const uint8_t id[PL_HASH_BYTES], const uint8_t *buf, size_t len,
		     const nstore_meta *meta)
{
	char hx[2 * PL_HASH_BYTES + 1], key[256];
	hexid(hx, id);
	json_t *j = meta_json(meta);
	char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (!text)
		return PL_ERR_NOMEM;
	int rc = pl_store_put(s->st, K_META, hx, (const uint8_t *)text, strlen(text),
			      PL_STORE_NO_REPLACE);
	free(text);
	if (rc)
		return rc;
	KEYF(key, "%s/%020" PRIu64, meta->ch, meta->pos);
	rc = put_text(s, K_CHLOG, key, hx);
	if (rc || !buf)
		return rc;
	if (s->cache) {
		ecache_put(s->cache, id, buf, len, meta);
		if (!s->in_txn)
			ecache_commit(s->cache); /* written in a transaction of its own */
	}
	return 0;
}

/* The envelope's bytes: its transcript entry, which must be an envelope
 * entry hashing to the id (anything else is a damaged store). */
static int env_bytes(nstore *s, const uint8_t id[PL_HASH_BYTES], const char *hx, uint64_t pos,
		     uint8_t **buf, size_t *len)
{
	char key[24];
	KEYF(key, "%020" PRIu64, pos);
	uint8_t *e = NULL, got[PL_HASH_BYTES];
	size_t n = 0;
	int rc = pl_store_get(s->st, NSTORE_TLOG_ENTRY, key, &e, &n);
	if (rc == PL_ERR_NOT_FOUND)
		return pl_err_fail(PL_ERR_CORRUPT,
				   "store is damaged: envelope %s has no transcript entry (%s)", hx,
				   key);
	if (rc)
		return rc;
	if (n > 1 && e[0] == NSTORE_ENTRY_ENVELOPE)
		pl_env_id(got, e + 1, n - 1);
	if (n <= 1 || e[0] != NSTORE_ENTRY_ENVELOPE || !pl_ct_equal(got, id, PL_HASH_BYTES)) {
		free(e);
		return pl_err_fail(PL_ERR_CORRUPT,
				   "store is damaged: transcript entry %s is not envelope %s", key,
				   hx);
	}
	memmove(e, e + 1, n - 1);
	*buf = e;
	*len = n - 1;
	return 0;
}

int nstore_env_get(nstore *s, const uint8_t id[PL_HASH_BYTES], uint8_t **buf, size_t *len,
		   nstore_meta *meta)
{
	if (s->cache && ecache_get(s->cache, id, buf, len, meta))
		return 0;
	char hx[2 * PL_HASH_BYTES + 1];
	hexid(hx, id);
	nstore_meta m;
	uint8_t *v = NULL;
	size_t n = 0;
	int rc = pl_store_get(s->st, K_META, hx, &v, &n);
	if (!rc && (meta || buf))
		rc = meta_parse(v, n, &m);
	free(v);
	if (!rc && buf)
		rc = env_bytes(s, id, hx, m.pos, buf, len);
	if (!rc && meta)
		*meta = m;
	return rc;
}

int nstore_env_at(nstore *s, const uint8_t id[PL_HASH_BYTES], uint64_t pos, uint8_t **buf,
		  size_t *len)
{
	if (s->cache && ecache_get(s->cache, id, buf, len, NULL))
		return 0;
	char hx[2 * PL_HASH_BYTES + 1];
	hexid(hx, id);
	return env_bytes(s, id, hx, pos, buf, len);
}

int nstore_blob_put(nstore *s, const uint8_t id[PL_HASH_BYTES], const uint8_t *buf, size_t len)
{
	char hx[2 * PL_HASH_BYTES + 1];
	hexid(hx, id);
	return pl_store_put(s->st, K_BLOB, hx, buf, len, 0);
}

int nstore_blob_get(nstore *s, const uint8_t id[PL_HASH_BYTES], uint8_t **buf, size_t *len)
{
	char hx[2 * PL_HASH_BYTES + 1];
	hexid(hx, id);
	return pl_store_get(s->st, K_BLOB, hx, buf, len);
}

/* ---------------------------------------------------------------- channel log */

struct log_walk {
	nstore_log_fn fn;
	void *ctx;
};

static int parse_id(const uint8_t *v, size_t n, uint8_t id[PL_HASH_BYTES])
{
	size_t got = 0;
	if (pl_hex_decode(id, PL_HASH_BYTES, &got, (const char *)v, n) != 0 ||
	    got != PL_HASH_BYTES)
		return pl_err_fail(PL_ERR_MALFORMED, "node store: bad envelope id");
	return 0;
}

static int log_cb(void *ctx, const char *key, const uint8_t *v, size_t n)
{
	struct log_walk *w = ctx;
	const char *slash = strrchr(key, '/');
	uint64_t pos = 0;
	uint8_t id[PL_HASH_BYTES];
	int rc = slash ? parse_u64(slash + 1, &pos, NULL) : PL_ERR_MALFORMED;
	if (!rc)
		rc = parse_id(v, n, id);
	return rc ? rc : w->fn(w->ctx, pos, id);
}

int nstore_chlog_walk(nstore *s, const char *ch, uint64_t after, bool have_after, size_t limit,
		      nstore_log_fn fn, void *ctx)
{
	char from[256], to[256];
	if (have_after)
		KEYF(from, "%s/%020" PRIu64, ch, after + 1);
	else
		KEYF(from, "%s/", ch);
	KEYF(to, "%s/~", ch);
	struct log_walk w = {fn, ctx};
	return pl_store_range(s->st, K_CHLOG, from, to, limit, log_cb, &w);
}

/* ---------------------------------------------------------------- replay */

int nstore_seq_get(nstore *s, const char *state, const char *author, const char *ch, int lane,
		   uint64_t *seq, uint8_t last_id[PL_HASH_BYTES])
{
	char key[256], val[128];
	KEYF(key, "%s/%s/%s/%d", state, author, ch, lane);
	int rc = later_get(s, K_SEQ, key, val, sizeof(val));
	if (rc == PL_ERR_NOT_FOUND) {
		*seq = 0;
		memset(last_id, 0, PL_HASH_BYTES);
		return 0;
	}
	const char *end = NULL;
	if (!rc)
		rc = parse_u64(val, seq, &end);
	if (!rc && *end == ' ')
		rc = parse_id((const uint8_t *)end + 1, strlen(end + 1), last_id);
	else if (!rc)
		rc = pl_err_fail(PL_ERR_MALFORMED, "node store: bad replay state");
	return rc;
}

int nstore_seq_set(nstore *s, const char *state, const char *author, const char *ch, int lane,
		   uint64_t seq, const uint8_t id[PL_HASH_BYTES])
{
	char key[256], val[128], hx[2 * PL_HASH_BYTES + 1];
	KEYF(key, "%s/%s/%s/%d", state, author, ch, lane);
	hexid(hx, id);
	snprintf(val, sizeof(val), "%" PRIu64 " %s", seq, hx);
	return later_put(s, K_SEQ, key, val);
}

/* ---------------------------------------------------------------- queues */

/*
 * Kind 105 holds "<last lseq> <depth>": the last lseq assigned and how many
 * items the queue (kind 104) holds, kept by push, ack and requeue in the
 * same transaction so that the depth is one read, not a walk of the queue
 * (and written once, at the commit: later_put).
 * A store written before the depth was kept has "<last lseq>" alone: the
 * depth is counted once (-1 in *depth until then).
 */
static int outseq_get(nstore *s, const char *peer, int lane, uint64_t *last, int64_t *depth)
{
	char key[256], buf[64];
	KEYF(key, "%s/%d", peer, lane);
	*last = 0;
	*depth = 0;
	int rc = later_get(s, K_OUTSEQ, key, buf, sizeof(buf));
	if (rc == PL_ERR_NOT_FOUND)
		return 0;
	const char *end = NULL;
	uint64_t d = 0;
	if (!rc)
		rc = parse_u64(buf, last, &end);
	if (rc)
		return rc;
	if (*end == '\0') {
		*depth = -1;
		return 0;
	}
	if (*end != ' ' || parse_u64(end + 1, &d, &end) || *end != '\0' || d > *last)
		return pl_err_fail(PL_ERR_MALFORMED, "node store: bad queue position %s: '%.40s'",
				   key, buf);
	*depth = (int64_t)d;
	return 0;
}

static struct outmemo *memo_find(nstore *s, const char *peer, int lane)
{
	for (unsigned i = 0; i < s->nmemo; i++)
		if (s->memo[i].lane == lane && strcmp(s->memo[i].peer, peer) == 0)
			return &s->memo[i];
	return NULL;
}

static void memo_set(nstore *s, const char *peer, int lane, uint64_t last, uint64_t depth)
{
	struct outmemo *m = memo_find(s, peer, lane);
	if (!m) {
		if (strlen(peer) >= sizeof(m->peer))
			return;
		if (s->nmemo < OUTMEMO)
			m = &s->memo[s->nmemo++];
		else
			m = &s->memo[s->memo_next++ % OUTMEMO];
		snprintf(m->peer, sizeof(m->peer), "%s", peer);
		m->lane = lane;
	}
	m->last = last;
	m->depth = depth;
}

static int outseq_put(nstore *s, const char *peer, int lane, uint64_t last, uint64_t depth)
{
	char key[256], buf[64];
	KEYF(key, "%s/%d", peer, lane);
	snprintf(buf, sizeof(buf), "%" PRIu64 " %" PRIu64, last, depth);
	int rc = later_put(s, K_OUTSEQ, key, buf); /* each push rewrites it: once, at the commit */
	if (rc)
		s->nmemo = 0; /* what the store holds now is not known */
	else
		memo_set(s, peer, lane, last, depth);
	return rc;
}

static int out_count(nstore *s, const char *peer, int lane, uint64_t *n);

/* The position with a known depth: an old store's is counted here. */
static int outseq_load(nstore *s, const char *peer, int lane, uint64_t *last, uint64_t *depth)
{
	const struct outmemo *m = memo_find(s, peer, lane);
	if (m) {
		*last = m->last;
		*depth = m->depth;
		return 0;
	}
	int64_t d;
	int rc = outseq_get(s, peer, lane, last, &d);
	if (rc || d >= 0)
		*depth = rc ? 0 : (uint64_t)d;
	else
		rc = out_count(s, peer, lane, depth);
	if (!rc)
		memo_set(s, peer, lane, *last, *depth);
	return rc;
}

int nstore_out_last(nstore *s, const char *peer, int lane, uint64_t *lseq)
{
	const struct outmemo *m = memo_find(s, peer, lane);
	if (m) {
		*lseq = m->last;
		return 0;
	}
	int64_t d;
	return outseq_get(s, peer, lane, lseq, &d);
}

int nstore_out_skip(nstore *s, const char *peer, int lane, uint64_t lseq)
{
	uint64_t last = 0, depth = 0;
	int rc = outseq_load(s, peer, lane, &last, &depth);
	if (rc || lseq <= last)
		return rc;
	return outseq_put(s, peer, lane, lseq, depth);
}

static int put_item(nstore *s, int kind_table, const char *peer, int lane, const nstore_item *it)
{
	char key[256], val[128], hx[2 * PL_HASH_BYTES + 1];
	KEYF(key, "%s/%d/%020" PRIu64, peer, lane, it->lseq);
	hexid(hx, it->id);
	if (it->pos == NSTORE_NO_POS)
		snprintf(val, sizeof(val), "%d %s", it->kind, hx);
	else
		snprintf(val, sizeof(val), "%d %s %" PRIu64, it->kind, hx, it->pos);
	return put_text(s, kind_table, key, val);
}

int nstore_out_push(nstore *s, const char *peer, int lane, int kind,
		    const uint8_t id[PL_HASH_BYTES], uint64_t pos, uint64_t *lseq)
{
	uint64_t last = 0, depth = 0;
	int rc = outseq_load(s, peer, lane, &last, &depth);
	if (!rc)
		rc = outseq_put(s, peer, lane, last + 1, depth + 1);
	if (rc)
		return rc;
	nstore_item it = {.lseq = last + 1, .kind = kind, .pos = pos};
	memcpy(it.id, id, PL_HASH_BYTES);
	rc = put_item(s, K_OUTQ, peer, lane, &it);
	if (!rc && lseq)
		*lseq = last + 1;
	return rc;
}

struct item_walk {
	nstore_item_fn fn;
	void *ctx;
	uint64_t count;
};

static int item_cb(void *ctx, const char *key, const uint8_t *v, size_t n)
{
	struct item_walk *w = ctx;
	w->count++;
	if (!w->fn)
		return 0;
	/* "<kind> <hex id>", then " <pos>" for an envelope queued since
	 * positions are kept with the items */
	const char *slash = strrchr(key, '/');
	uint64_t kind = 0;
	const char *end = NULL;
	nstore_item it = {.pos = NSTORE_NO_POS};
	char val[128];
	if (!slash || n >= sizeof(val))
		return pl_err_fail(PL_ERR_MALFORMED, "node store: bad queue entry %s", key);
	memcpy(val, v, n);
	val[n] = '\0';
	int rc = parse_u64(slash + 1, &it.lseq, NULL);
	if (!rc)
		rc = parse_u64(val, &kind, &end);
	const char *hx = NULL, *sp = NULL;
	if (!rc && (*end != ' ' || kind > INT_MAX))
		rc = pl_err_fail(PL_ERR_MALFORMED, "node store: bad queue entry %s", key);
	if (!rc) {
		hx = end + 1;
		sp = strchr(hx, ' ');
		rc = parse_id((const uint8_t *)hx, sp ? (size_t)(sp - hx) : strlen(hx), it.id);
	}
	if (!rc && sp && (parse_u64(sp + 1, &it.pos, &end) != 0 || *end || it.pos == NSTORE_NO_POS))
		rc = pl_err_fail(PL_ERR_MALFORMED, "node store: bad position in queue entry %s",
				 key);
	it.kind = (int)kind;
	return rc ? rc : w->fn(w->ctx, &it);
}

int nstore_out_walk(nstore *s, const char *peer, int lane, uint64_t from, size_t limit,
		    nstore_item_fn fn, void *ctx)
{
	char lo[256], hi[256];
	KEYF(lo, "%s/%d/%020" PRIu64, peer, lane, from);
	KEYF(hi, "%s/%d/~", peer, lane);
	struct item_walk w = {fn, ctx, 0};
	return pl_store_range(s->st, K_OUTQ, lo, hi, limit, item_cb, &w);
}

struct item_list {
	nstore_item *v;
	size_t n, cap;
};

static int collect_cb(void *ctx, const nstore_item *it)
{
	struct item_list *l = ctx;
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 64;
		void *v = realloc(l->v, cap * sizeof(*l->v));
		if (!v)
			return PL_ERR_NOMEM;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = *it;
	return 0;
}

int nstore_out_ack(nstore *s, const char *peer, int lane, uint64_t upto, nstore_item_fn fn,
		   void *ctx)
{
	char lo[256], hi[256];
	KEYF(lo, "%s/%d/", peer, lane);
	KEYF(hi, "%s/%d/%020" PRIu64, peer, lane, upto + 1);
	/* fn may write (delivery states): collect first, call it after the walk. */
	struct item_list l = {0};
	struct item_walk w = {collect_cb, &l, 0};
	uint64_t last = 0, depth = 0;
	int rc = outseq_load(s, peer, lane, &last, &depth);
	if (!rc)
		rc = pl_store_range(s->st, K_OUTQ, lo, hi, 0, item_cb, &w);
	for (size_t i = 0; !rc && i < l.n; i++) {
		rc = put_item(s, K_OUTDONE, peer, lane, &l.v[i]);
		if (!rc && fn)
			rc = fn(ctx, &l.v[i]);
	}
	size_t dropped = l.n;
	free(l.v);
	if (!rc && dropped) {
		rc = pl_store_del_range(s->st, K_OUTQ, lo, hi, NULL);
		if (!rc)
			rc = outseq_put(s, peer, lane, last, depth >= dropped ? depth - dropped : 0);
	}
	if (!rc && upto > OUTDONE_KEEP) {
		KEYF(hi, "%s/%d/%020" PRIu64, peer, lane, upto - OUTDONE_KEEP);
		rc = pl_store_del_range(s->st, K_OUTDONE, lo, hi, NULL);
	}
	uint64_t acked = 0;
	if (!rc)
		rc = nstore_out_acked(s, peer, lane, &acked);
	if (!rc && upto > acked) {
		KEYF(lo, "%s/%d", peer, lane);
		rc = put_u64(s, K_OUTACK, lo, upto);
	}
	return rc;
}

int nstore_out_requeue(nstore *s, const char *peer, int lane, uint64_t from, uint64_t *count)
{
	char lo[256], hi[256];
	KEYF(lo, "%s/%d/%020" PRIu64, peer, lane, from);
	KEYF(hi, "%s/%d/~", peer, lane);
	struct item_list l = {0};
	struct item_walk w = {collect_cb, &l, 0};
	uint64_t last = 0, depth = 0;
	int rc = outseq_load(s, peer, lane, &last, &depth);
	if (!rc)
		rc = pl_store_range(s->st, K_OUTDONE, lo, hi, 0, item_cb, &w);
	for (size_t i = 0; !rc && i < l.n; i++)
		rc = put_item(s, K_OUTQ, peer, lane, &l.v[i]);
	if (!rc && l.n)
		rc = outseq_put(s, peer, lane, last, depth + l.n);
	if (count)
		*count = l.n;
	free(l.v);
	if (!rc)
		rc = pl_store_del_range(s->st, K_OUTDONE, lo, hi, NULL);
	if (!rc) {
		KEYF(lo, "%s/%d", peer, lane);
		rc = put_u64(s, K_OUTACK, lo, from - 1);
	}
	return rc;
}

int nstore_out_acked(nstore *s, const char *peer, int lane, uint64_t *upto)
{
	char key[256];
	KEYF(key, "%s/%d", peer, lane);
	return get_u64(s, K_OUTACK, key, 0, upto);
}

static int out_count(nstore *s, const char *peer, int lane, uint64_t *n)
{
	char lo[256], hi[256];
	KEYF(lo, "%s/%d/", peer, lane);
	KEYF(hi, "%s/%d/~", peer, lane);
	struct item_walk w = {NULL, NULL, 0};
	int rc = pl_store_range(s->st, K_OUTQ, lo, hi, 0, item_cb, &w);
	*n = w.count;
	return rc;
}

int nstore_out_depth(nstore *s, const char *peer, int lane, uint64_t *n)
{
	uint64_t last;
	return outseq_load(s, peer, lane, &last, n);
}

int nstore_in_next(nstore *s, const char *peer, int lane, uint64_t *next)
{
	char key[256];
	KEYF(key, "%s/%d", peer, lane);
	return get_u64(s, K_INSEQ, key, 1, next);
}

int nstore_in_set(nstore *s, const char *peer, int lane, uint64_t next)
{
	char key[256], buf[32];
	KEYF(key, "%s/%d", peer, lane);
	snprintf(buf, sizeof(buf), "%" PRIu64, next);
	return later_put(s, K_INSEQ, key, buf);
}

/* ---------------------------------------------------------------- delivery */

int nstore_deliv_set(nstore *s, uint64_t pos, const char *peer, const char *state, int64_t t)
{
	char key[256], val[96];
	KEYF(key, "%020" PRIu64 "/%s", pos, peer);
	snprintf(val, sizeof(val), "%s %lld", state, (long long)t);
	return put_text(s, K_DELIVP, key, val);
}

struct deliv_walk {
	nstore_deliv_fn fn;
	void *ctx;
};

static int deliv_cb(void *ctx, const char *key, const uint8_t *v, size_t n)
{
	struct deliv_walk *w = ctx;
	const char *slash = strchr(key, '/');
	char val[96];
	if (!slash || n >= sizeof(val))
		return pl_err_fail(PL_ERR_MALFORMED, "node store: bad delivery entry");
	memcpy(val, v, n);
	val[n] = '\0';
	char *sp = strchr(val, ' ');
	if (!sp)
		return pl_err_fail(PL_ERR_MALFORMED, "node store: bad delivery entry");
	*sp = '\0';
	return w->fn(w->ctx, slash + 1, val, strtoll(sp + 1, NULL, 10));
}

int nstore_deliv_walk(nstore *s, const uint8_t id[PL_HASH_BYTES], uint64_t pos,
		      nstore_deliv_fn fn, void *ctx)
{
	char lo[256], hi[256], hx[2 * PL_HASH_BYTES + 1];
	struct deliv_walk w = {fn, ctx};
	/* kind 107 first: a store written before kind 132 has its rows there */
	int rc = 0;
	if (nstore_has_old_keys(s)) {
		hexid(hx, id);
		KEYF(lo, "%s/", hx);
		KEYF(hi, "%s/~", hx);
		rc = pl_store_range(s->st, K_DELIV, lo, hi, 0, deliv_cb, &w);
	}
	KEYF(lo, "%020" PRIu64 "/", pos);
	KEYF(hi, "%020" PRIu64 "/~", pos);
	return rc ? rc : pl_store_range(s->st, K_DELIVP, lo, hi, 0, deliv_cb, &w);
}

/* ---------------------------------------------------------------- objects */

json_t *nstore_json_get(nstore *s, int kind, const char *name, int *rc)
{
	uint8_t *p = NULL;
	size_t len = 0;
	*rc = pl_store_get(s->st, (uint32_t)kind, name, &p, &len);
	if (*rc == PL_ERR_NOT_FOUND) {
		*rc = 0;
		return NULL;
	}
	if (*rc)
		return NULL;
	json_t *j = json_loadb((const char *)p, len, 0, NULL);
	free(p);
	if (!j || !json_is_object(j)) {
		json_decref(j);
		*rc = pl_err_fail(PL_ERR_MALFORMED, "node store: bad record %s of kind %d", name,
				  kind);
		return NULL;
	}
	return j;
}

int nstore_json_put(nstore *s, int kind, const char *name, json_t *j)
{
	char *text = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(j);
	if (!text)
		return PL_ERR_NOMEM;
	int rc = pl_store_put(s->st, (uint32_t)kind, name, (const uint8_t *)text, strlen(text), 0);
	free(text);
	return rc;
}

int nstore_obj_del(nstore *s, int kind, const char *name)
{
	return pl_store_del(s->st, (uint32_t)kind, name);
}

int nstore_obj_put(nstore *s, int kind, const char *name, const uint8_t *buf, size_t len)
{
	return pl_store_put(s->st, (uint32_t)kind, name, buf, len, 0);
}

int nstore_obj_put_new(nstore *s, int kind, const char *name, const uint8_t *buf, size_t len)
{
	return pl_store_put(s->st, (uint32_t)kind, name, buf, len, PL_STORE_NO_REPLACE);
}

int nstore_obj_get(nstore *s, int kind, const char *name, uint8_t **buf, size_t *len)
{
	return pl_store_get(s->st, (uint32_t)kind, name, buf, len);
}

int nstore_obj_list(nstore *s, int kind, pl_store_list_cb fn, void *ctx)
{
	return pl_store_list(s->st, (uint32_t)kind, fn, ctx);
}

int nstore_obj_range(nstore *s, int kind, const char *from, const char *to, size_t limit,
		     pl_store_list_cb fn, void *ctx)
{
	return pl_store_range(s->st, (uint32_t)kind, from, to, limit, fn, ctx);
}

int nstore_reject_put(nstore *s, const char *peer, int lane, uint64_t lseq, const char *reason)
{
	char key[256];
	KEYF(key, "%s/%d/%020" PRIu64, peer, lane, lseq);
	return put_text(s, K_REJECT, key, reason);
}
