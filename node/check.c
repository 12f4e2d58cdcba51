/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The node's start-up check of its store: see check.h.  Walks read only
 * (list callbacks may get, never write); the first broken invariant ends
 * the walk with PL_ERR_CORRUPT and a detail naming it.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "parley/channel.h"
#include "parley/err.h"
#include "parley/transcript.h"
#include "tlog.h"

#define H PL_HASH_BYTES

#define damaged(...) pl_err_fail(PL_ERR_CORRUPT, __VA_ARGS__)

/* ---------------------------------------------------------------- counts */

static int count_cb(void *ctx, const char *key, const uint8_t *val, size_t len)
{
	(void)key;
	(void)val;
	(void)len;
	(*(uint64_t *)ctx)++;
	return 0;
}

/* ---------------------------------------------------------------- channel logs */

struct walk {
	nstore *s;
	uint64_t n;
};

/* "CH/%020pos" -> channel and position; false when the key is not one. */
static bool chlog_key(const char *key, char ch[64], uint64_t *pos)
{
	const char *slash = strrchr(key, '/');
	if (!slash || slash == key || (size_t)(slash - key) >= 64 || strlen(slash + 1) != 20)
		return false;
	uint64_t p = 0;
	for (const char *c = slash + 1; *c; c++) {
		if (*c < '0' || *c > '9' || p > (UINT64_MAX - 9) / 10)
			return false;
		p = p * 10 + (uint64_t)(*c - '0');
	}
	memcpy(ch, key, (size_t)(slash - key));
	ch[slash - key] = '\0';
	*pos = p;
	return true;
}

/* One envelope, named by a channel-log row, against everything said of it. */
static int check_one(nstore *s, const char *key, const char *ch, uint64_t pos,
		     const uint8_t id[H], const char *hx)
{
	nstore_meta m;
	uint8_t *env = NULL;
	size_t len = 0;
	pl_env e;
	int rc = nstore_env_get(s, id, &env, &len, &m);
	if (rc == PL_ERR_NOT_FOUND)
		return damaged("store is damaged: log row %s names envelope %s, which is missing",
			       key, hx);
	if (rc == PL_ERR_MALFORMED)
		return damaged("store is damaged: the metadata of envelope %s (log row %s) is "
			       "unreadable",
			       hx, key);
	if (rc == PL_ERR_CORRUPT) { /* its transcript entry is missing or another object */
		char why[256];
		snprintf(why, sizeof(why), "%s", pl_err_detail());
		return damaged("%s (log row %s)", why, key);
	}
	if (rc)
		return rc;
	if (m.pos != pos || strcmp(m.ch, ch) != 0) {
		rc = damaged("store is damaged: the metadata of envelope %s disagrees with log row %s",
			     hx, key);
		goto out;
	}
	if (pl_env_parse(env, len, &e) != 0) {
		rc = damaged("store is damaged: envelope %s (log row %s) does not parse", hx, key);
		goto out;
	}
	bool same = strcmp(e.ch, m.ch) == 0 && strcmp(e.state, m.state) == 0 &&
		    strcmp(e.author, m.author) == 0 && e.seq == m.seq && (int)e.lane == m.lane &&
		    strcmp(e.kind, m.kind) == 0 && e.at == m.at;
	pl_env_clear(&e);
	if (!same)
		rc = damaged("store is damaged: the metadata of envelope %s (log row %s) disagrees "
			     "with the envelope",
			     hx, key);
out:
	free(env);
	return rc;
}

static int chlog_cb(void *ctx, const char *key, const uint8_t *val, size_t len)
{
	struct walk *w = ctx;
	char ch[64], hx[2 * H + 1];
	uint64_t pos;
	uint8_t id[H];
	size_t idlen = 0;
	if (!chlog_key(key, ch, &pos) || len != 2 * H)
		return damaged("store is damaged: malformed log row %s%s", key, "");
	memcpy(hx, val, 2 * H);
	hx[2 * H] = '\0';
	if (pl_hex_decode(id, H, &idlen, hx, 2 * H) != 0 || idlen != H)
		return damaged("store is damaged: log row %s holds no envelope id%s", key, "");
	w->n++;
	return check_one(w->s, key, ch, pos, id, hx);
}

/* ---------------------------------------------------------------- transcript */

struct tl {
	nstore *s;
	uint64_t next, size;
};

static int entry_cb(void *ctx, const char *key, const uint8_t *val, size_t len)
{
	struct tl *t = ctx;
	char want[24], idx[24];
	snprintf(want, sizeof(want), "%020" PRIu64, t->next);
	if (strcmp(key, want) != 0 || t->next >= t->size)
		return damaged("store is damaged: transcript entry %s where %s was expected", key,
			       t->next < t->size ? want : "none");
	uint8_t leaf[H], held[H];
	pl_merkle_leaf_hash(leaf, val, len);
	int rc = tlog_get_hash(t->s, 0, t->next, held);
	snprintf(idx, sizeof(idx), "%" PRIu64, t->next);
	if (rc == PL_ERR_NOT_FOUND || rc == PL_ERR_MALFORMED)
		return damaged("store is damaged: transcript entry %s has no leaf hash%s", idx, "");
	if (rc)
		return rc;
	if (memcmp(leaf, held, H) != 0)
		return damaged("store is damaged: transcript entry %s does not match its leaf hash%s",
			       idx, "");
	t->next++;
	return 0;
}

/* Every stored interior hash of a complete subtree from its two children. */
static int check_interior(nstore *s, uint64_t size)
{
	for (uint64_t level = 1; level < 64 && (size >> level) > 0; level++) {
		for (uint64_t i = 0; i < (size >> level); i++) {
			uint8_t l[H], r[H], want[H], held[H];
			int rc = tlog_get_hash(s, level - 1, 2 * i, l);
			if (!rc)
				rc = tlog_get_hash(s, level - 1, 2 * i + 1, r);
			if (!rc)
				rc = tlog_get_hash(s, level, i, held);
			if (rc == PL_ERR_NOT_FOUND || rc == PL_ERR_MALFORMED) {
				char at[48];
				snprintf(at, sizeof(at), "%" PRIu64 "/%" PRIu64, level, i);
				return damaged("store is damaged: transcript hash %s%s is missing or "
					       "malformed",
					       at, "");
			}
			if (rc)
				return rc;
			pl_merkle_node_hash(want, l, r);
			if (memcmp(want, held, H) != 0) {
				char at[48];
				snprintf(at, sizeof(at), "%" PRIu64 "/%" PRIu64, level, i);
				return damaged("store is damaged: transcript hash %s%s does not match "
					       "its children",
					       at, "");
			}
		}
	}
	return 0;
}

/* ---------------------------------------------------------------- all */

int node_store_check(nstore *s, bool full, node_check_stats *st)
{
	struct walk w = {.s = s};
	struct tl t = {.s = s};
	uint64_t nmeta = 0;
	char a[24], b[24];
	int rc = nstore_check_structure(s, full);
	if (!rc)
		rc = nstore_obj_list(s, NSTORE_CHLOG, chlog_cb, &w);
	if (!rc)
		rc = nstore_obj_list(s, NSTORE_META, count_cb, &nmeta);
	if (!rc && nmeta != w.n) {
		snprintf(a, sizeof(a), "%" PRIu64, w.n);
		snprintf(b, sizeof(b), "%" PRIu64, nmeta);
		rc = damaged("store is damaged: %s log rows but %s envelopes", a, b);
	}
	if (!rc)
		rc = tlog_size(s, &t.size);
	if (!rc)
		rc = nstore_obj_list(s, NSTORE_TLOG_ENTRY, entry_cb, &t);
	if (!rc && t.next != t.size) {
		snprintf(a, sizeof(a), "%" PRIu64, t.size);
		snprintf(b, sizeof(b), "%" PRIu64, t.next);
		rc = damaged("store is damaged: the transcript's size is %s but it holds %s entries",
			     a, b);
	}
	if (!rc && full)
		rc = check_interior(s, t.size);
	if (st) {
		st->envelopes = w.n;
		st->entries = t.next;
	}
	return rc;
}
