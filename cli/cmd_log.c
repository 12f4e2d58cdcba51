/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `parley log ...`: the transcript (docs/transcript.md).
 *
 *   status       what the node says of its log (GET /v1/log): size, last
 *                checkpoint, who cosigned it, whose logs it cosigned, alarms
 *   verify       recompute the whole tree from a node store file, read-only,
 *                and check every stored hash, checkpoint and cosignature
 *   prove        fetch an envelope's proof-of-receipt bundle into a file
 *   check-proof  verify such a file offline, with nothing but root keys
 *   export       fetch the evidence bundle (checkpoints, cosignatures, alarms)
 *
 * verify reads the node store through lib/store (no node code): the row
 * layout it relies on is the one docs/transcript.md ("Storage") fixes, so
 * it also checks a store copied off another machine.  check-proof trusts
 * only the root keys it is given (--root, or the home's own and pinned
 * roots); everything else in the bundle is checked against them.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "http.h"
#include "parley/channel.h"
#include "parley/err.h"
#include "parley/file.h"
#include "parley/time.h"
#include "parley/transcript.h"
#include "proof.h"

#define H          PL_HASH_BYTES
#define BUNDLE_MAX ((size_t)64 << 20)

/* Node store kinds (docs/transcript.md, "Storage"). */
enum {
	TK_ENTRY = 113,
	TK_HASH = 114,
	TK_META = 115,
	TK_CP = 116,
	TK_COSIG = 117,
	TK_THEIRS = 120,
	TK_NODEREC = 125,
};

/* ================================================================ helpers */

static const char *jstr(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static uint64_t ju64(const json_t *o, const char *key)
{
	json_int_t v = json_integer_value(json_object_get(o, key));
	return v > 0 ? (uint64_t)v : 0;
}

static void origin_name(char out[PL_CHECKPOINT_ORIGIN_MAX + 1], const char *state, const char *node)
{
	snprintf(out, PL_CHECKPOINT_ORIGIN_MAX + 1, "%s.parley/%s", state, node);
}

/* Write j (consumed) to path, or to stdout for "-". */
static int write_json(json_t *j, const char *path)
{
	char *text = j ? json_dumps(j, JSON_INDENT(1) | JSON_SORT_KEYS) : NULL;
	json_decref(j);
	if (!text)
		return cli_fail(CLI_EXIT_FAIL, "out of memory");
	int rc = 0;
	if (strcmp(path, "-") == 0) {
		printf("%s\n", text);
	} else {
		size_t n = strlen(text);
		text[n] = '\n';
		rc = pl_file_write_atomic(path, text, n + 1, 0644, PL_FILE_REPLACE);
		if (rc)
			rc = cli_err(rc, path);
	}
	free(text);
	return rc;
}

/* GET path from the node (authenticated as the official); *out a new reference. */
static int node_get(cli_ctx *ctx, const char *path, const char *what, json_t **out)
{
	cli_node *n = NULL;
	int rc = cli_node_open(ctx, CLI_NODE_AUTH, &n);
	if (!rc)
		rc = cli_node_call(n, "GET", path, NULL, what, out, NULL);
	cli_node_free(n);
	return rc;
}

/* ================================================================ status */

int cmd_log_status(cli_ctx *ctx, int argc, char **argv)
{
	int rc = cli_no_args(argc, argv);
	json_t *j = NULL;
	if (!rc)
		rc = node_get(ctx, "/v1/log", "transcript status", &j);
	if (rc)
		return rc;
	if (ctx->json)
		return cli_print_json(j);
	char origin[PL_CHECKPOINT_ORIGIN_MAX + 1], root[64];
	cli_text_copy(origin, sizeof(origin), jstr(j, "origin"), false);
	cli_text_copy(root, sizeof(root), jstr(j, "root"), false);
	printf("log           %s\n", origin);
	printf("size          %" PRIu64 " entries, root %s\n", ju64(j, "size"), root);
	const json_t *last = json_object_get(j, "last_checkpoint");
	if (json_is_object(last))
		printf("checkpoint    last signed at size %" PRIu64 "\n", ju64(last, "size"));
	else
		printf("checkpoint    none signed yet\n");
	static const char *const headers[] = {"PEER", "COSIGNED OURS AT", "WE COSIGNED THEIRS AT",
					      "REFUSED"};
	cli_table *t = cli_table_new(4, headers);
	if (!t) {
		json_decref(j);
		return cli_fail(CLI_EXIT_FAIL, "out of memory");
	}
	const json_t *by = json_object_get(j, "cosigned_by"),
		     *ing = json_object_get(j, "cosigning"),
		     *ref = json_object_get(j, "refused_by");
	json_t *peers = json_object();
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)by, k, v)
	{
		json_object_set(peers, k, json_true());
	}
	json_object_foreach((json_t *)ing, k, v)
	{
		json_object_set(peers, k, json_true());
	}
	json_object_foreach(peers, k, v)
	{
		char name[PL_NAME_MAX + 1], a[24] = "-", b[24] = "-", why[128];
		cli_text_copy(name, sizeof(name), k, false);
		if (json_is_integer(json_object_get(by, k)))
			snprintf(a, sizeof(a), "%" PRIu64, ju64(by, k));
		if (json_is_integer(json_object_get(ing, k)))
			snprintf(b, sizeof(b), "%" PRIu64, ju64(ing, k));
		cli_text_copy(why, sizeof(why), jstr(ref, k), false);
		const char *cells[] = {name, a, b, *why ? why : "-"};
		rc = cli_table_add(t, cells);
	}
	json_decref(peers);
	printf("\n");
	cli_table_print(t);
	cli_table_free(t);
	uint64_t total = ju64(j, "alarms_total");
	const json_t *alarms = json_object_get(j, "alarms");
	if (total == 0) {
		printf("\nno alarms\n");
	} else {
		printf("\n%" PRIu64 " ALARM%s (parley log export keeps the evidence)\n", total,
		       total == 1 ? "" : "S");
		size_t i;
		json_array_foreach(alarms, i, v)
		{
			char when[PL_TIME_LEN], peer[PL_NAME_MAX + 1], kind[32], detail[400];
			pl_time_format(when, (int64_t)ju64(v, "at"));
			cli_text_copy(peer, sizeof(peer), jstr(v, "peer"), false);
			cli_text_copy(kind, sizeof(kind), jstr(v, "kind"), false);
			cli_text_copy(detail, sizeof(detail), jstr(v, "detail"), false);
			printf("  #%" PRIu64 " %s %s %s: %s\n", ju64(v, "n"), when, peer, kind,
			       detail);
		}
	}
	json_decref(j);
	return rc ? cli_fail(CLI_EXIT_FAIL, "out of memory") : 0;
}

/* ================================================================ prove, export */

int cmd_log_prove(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {{"out", required_argument, NULL, 'o'},
					     {NULL, 0, NULL, 0}};
	const char *out = NULL;
	int opt;
	while ((opt = cli_next_opt(argc, argv, opts)) != -1) {
		if (opt == 'o')
			out = optarg;
		else
			return CLI_EXIT_USAGE;
	}
	if (optind + 1 != argc)
		return cli_usage(cli_current, "give exactly one envelope id");
	const char *id = argv[optind];
	uint8_t raw[H];
	size_t n = 0;
	if (strlen(id) != 2 * H || pl_hex_decode(raw, H, &n, id, strlen(id)) != 0 || n != H)
		return cli_usage(cli_current, "an envelope id is 64 hex digits, not '%s'", id);
	char path[128], file[64];
	snprintf(path, sizeof(path), "/v1/log/proof/%s", id);
	snprintf(file, sizeof(file), "%.16s.proof.json", id);
	json_t *j = NULL;
	int rc = node_get(ctx, path, "proof of receipt", &j);
	if (rc)
		return rc;
	json_t *proofs = json_incref(json_object_get(j, "proofs"));
	rc = write_json(j, out ? out : file);
	if (!rc && !ctx->json && (!out || strcmp(out, "-") != 0)) {
		printf("proof of %.16s... written to %s:\n", id, out ? out : file);
		size_t i;
		json_t *p;
		json_array_foreach(proofs, i, p)
		{
			char log[PL_CHECKPOINT_ORIGIN_MAX + 1];
			cli_text_copy(log, sizeof(log), jstr(p, "log"), false);
			printf("  entry %" PRIu64 " of %s, in its checkpoint of size %" PRIu64
			       ", cosigned by %zu peer%s\n",
			       ju64(p, "index"), log, ju64(p, "size"),
			       json_array_size(json_object_get(p, "cosigned_by")),
			       json_array_size(json_object_get(p, "cosigned_by")) == 1 ? "" : "s");
		}
	}
	json_decref(proofs);
	return rc;
}

int cmd_log_export(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {{"out", required_argument, NULL, 'o'},
					     {NULL, 0, NULL, 0}};
	const char *out = NULL;
	int opt;
	while ((opt = cli_next_opt(argc, argv, opts)) != -1) {
		if (opt == 'o')
			out = optarg;
		else
			return CLI_EXIT_USAGE;
	}
	if (optind != argc)
		return cli_usage(cli_current, "unexpected argument '%s'", argv[optind]);
	json_t *j = NULL;
	int rc = node_get(ctx, "/v1/log/export", "transcript export", &j);
	if (rc)
		return rc;
	size_t ncp = json_array_size(json_object_get(j, "checkpoints"));
	size_t nth = json_array_size(json_object_get(j, "cosigned"));
	size_t nal = json_array_size(json_object_get(j, "alarms"));
	rc = write_json(j, out ? out : "-");
	if (!rc && out && strcmp(out, "-") != 0)
		fprintf(stderr,
			"parley: %s: %zu own checkpoints, %zu checkpoints of peers cosigned, %zu "
			"alarm%s\n",
			out, ncp, nth, nal, nal == 1 ? "" : "s");
	return rc;
}

/* ================================================================ check-proof */

/* --root STATE=BASE64 into t. */
static int add_root(pl_trust *t, const char *spec)
{
	const char *eq = strchr(spec, '=');
	char state[PL_NAME_MAX + 1];
	uint8_t pk[PL_PK_BYTES];
	size_t got = 0;
	if (!eq || (size_t)(eq - spec) > PL_NAME_MAX)
		return cli_usage(cli_current, "--root wants STATE=BASE64, not '%s'", spec);
	memcpy(state, spec, (size_t)(eq - spec));
	state[eq - spec] = '\0';
	if (!pl_name_is_valid(state) ||
	    pl_b64_decode(pk, sizeof(pk), &got, eq + 1, strlen(eq + 1)) != 0 || got != PL_PK_BYTES)
		return cli_usage(cli_current,
				 "--root wants STATE=BASE64 of the 32-byte root key (as `parley "
				 "state show` prints it), not '%s'",
				 spec);
	int rc = pl_trust_add(t, state, pk);
	return rc ? cli_err(rc, spec) : 0;
}

int cmd_log_check_proof(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {{"root", required_argument, NULL, 'r'},
					     {NULL, 0, NULL, 0}};
	pl_trust *t = pl_trust_new();
	if (!t)
		return cli_fail(CLI_EXIT_FAIL, "out of memory");
	bool roots = false;
	int opt, rc = 0;
	while (!rc && (opt = cli_next_opt(argc, argv, opts)) != -1) {
		if (opt == 'r') {
			rc = add_root(t, optarg);
			roots = true;
		} else {
			rc = CLI_EXIT_USAGE;
		}
	}
	if (!rc && optind + 1 != argc)
		rc = cli_usage(cli_current, "give exactly one proof file");
	if (!rc && !roots) { /* the home's own root and the pinned peers */
		pl_trust_free(t);
		t = NULL;
		rc = cli_load_trust(ctx, &t);
	}
	if (rc) {
		pl_trust_free(t);
		return rc;
	}
	const char *file = argv[optind];
	uint8_t *text = NULL;
	size_t tlen = 0;
	json_t *b = NULL, *r = NULL;
	char why[512] = "";
	rc = cli_read_file(file, BUNDLE_MAX, &text, &tlen);
	if (rc)
		goto out;
	b = json_loadb((const char *)text, tlen, JSON_REJECT_DUPLICATES, NULL);
	if (!b) {
		rc = cli_fail(CLI_EXIT_REFUSED, "%s is not a Parley proof of receipt (version 1)",
			      file);
		goto out;
	}
	rc = cli_check_proof_json(b, t, &r, why, sizeof(why));
	if (rc == PL_ERR_NOMEM) {
		rc = cli_fail(CLI_EXIT_FAIL, "out of memory");
		goto out;
	} else if (rc) {
		rc = cli_fail(CLI_EXIT_REFUSED, "%s: %s", file, why);
		goto out;
	}
	if (ctx->json) {
		rc = cli_print_json(json_incref(r));
		goto out;
	}
	printf("valid: envelope %.16s... by %s@%s on channel %s, created %s\n", jstr(r, "id"),
	       jstr(r, "author"), jstr(r, "state"), jstr(r, "channel"), jstr(r, "created"));
	size_t i;
	json_t *p;
	json_array_foreach(json_object_get(r, "logs"), i, p)
	{
		printf("  %s entry %" PRIu64 " of the log of %s (node %s), checkpoint of size "
		       "%" PRIu64 " signed by %s",
		       json_is_true(json_object_get(p, "receipt")) ? "received:" : "logged:  ",
		       ju64(p, "index"), jstr(p, "state"), jstr(p, "node"), ju64(p, "size"),
		       jstr(p, "node"));
		size_t k;
		json_t *c;
		json_array_foreach(json_object_get(p, "cosigned_by"), k, c)
		{
			char at[PL_TIME_LEN];
			pl_time_format(at, (int64_t)ju64(c, "time"));
			printf(", cosigned by %s (%s) at %s", jstr(c, "state"), jstr(c, "node"),
			       at);
		}
		printf("\n");
	}
out:
	free(text);
	json_decref(b);
	json_decref(r);
	pl_trust_free(t);
	return rc;
}

/* ================================================================ verify */

/* A Merkle "frontier": the perfect subtrees of the entries seen so far,
 * largest first (the binary digits of the count). */
typedef struct frontier {
	uint8_t h[64][H];
	unsigned level[64];
	size_t n;
} frontier;

typedef struct vstate {
	pl_store *s;
	frontier f;
	uint64_t next;   /* the index expected next */
	uint64_t errors; /* mismatches found */
	bool quiet;
	/* this chunk's leaves (filled by the range callback, checked after it) */
	uint8_t (*leaves)[H];
	size_t nleaves;
	bool by_level; /* hash keys "%02 level/%020 index" (transcripts begun before
			* the night of 2026-11-27), not "%020 end/%02 level" (docs/transcript.md) */
} vstate;

static void mismatch(vstate *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void mismatch(vstate *v, const char *fmt, ...)
{
	if (v->errors++ < 20) {
		va_list ap;
		va_start(ap, fmt);
		fputs("parley: MISMATCH: ", stderr);
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
		va_end(ap);
	}
}

/* Compare h with the stored hash (level, index). */
static int check_stored(vstate *v, unsigned level, uint64_t index, const uint8_t h[H])
{
	char key[32];
	if (v->by_level)
		snprintf(key, sizeof(key), "%02u/%020" PRIu64, level, index);
	else
		snprintf(key, sizeof(key), "%020" PRIu64 "/%02u",
			 (index << level) + (((uint64_t)1 << level) - 1), level);
	uint8_t *val = NULL;
	size_t len = 0;
	int rc = pl_store_get(v->s, TK_HASH, key, &val, &len);
	if (rc == PL_ERR_NOT_FOUND)
		mismatch(v, "the hash of subtree %s is missing", key);
	else if (rc)
		return rc;
	else if (len != H || memcmp(val, h, H) != 0)
		mismatch(v, "the stored hash of subtree %s is not the one its entries give", key);
	free(val);
	return 0;
}

/* Root of the entries seen so far (the right fold of the frontier). */
static void frontier_root(const frontier *f, uint8_t out[H])
{
	if (f->n == 0) {
		pl_merkle_empty_root(out);
		return;
	}
	memcpy(out, f->h[f->n - 1], H);
	for (size_t i = f->n - 1; i-- > 0;)
		pl_merkle_node_hash(out, f->h[i], out);
}

static int leaves_cb(void *ctx, const char *key, const uint8_t *val, size_t len)
{
	vstate *v = ctx;
	char want[24];
	snprintf(want, sizeof(want), "%020" PRIu64, v->next + v->nleaves);
	if (strcmp(key, want) != 0)
		return pl_err_fail(PL_ERR_MALFORMED, "entry %s is missing (found %s)", want, key);
	pl_merkle_leaf_hash(v->leaves[v->nleaves++], val, len);
	return 0;
}

/* Own checkpoints: size and note, ascending. */
typedef struct cps {
	uint64_t *size;
	char **note;
	size_t n, cap;
} cps;

static int cps_cb(void *ctx, const char *key, const uint8_t *val, size_t len)
{
	cps *c = ctx;
	if (c->n == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 16;
		uint64_t *s = realloc(c->size, cap * sizeof(*s));
		if (s)
			c->size = s;
		char **nt = s ? realloc(c->note, cap * sizeof(*nt)) : NULL;
		if (!nt)
			return PL_ERR_NOMEM;
		c->note = nt;
		c->cap = cap;
	}
	c->note[c->n] = malloc(len + 1);
	if (!c->note[c->n])
		return PL_ERR_NOMEM;
	memcpy(c->note[c->n], val, len);
	c->note[c->n][len] = '\0';
	c->size[c->n++] = strtoull(key, NULL, 10);
	return 0;
}

/* Node keys known to the store: own nodes (registry) and peers' (store). */
typedef struct keys {
	pl_node_rec v[64];
	size_t n;
	const pl_trust *t;
} keys;

static int keys_cb(void *ctx, const char *key, const uint8_t *val, size_t len)
{
	keys *k = ctx;
	if (k->n < 64 && k->t && pl_node_rec_open(val, len, k->t, &k->v[k->n]) == 0)
		k->n++;
	return 0;
}

static const pl_node_rec *key_of_origin(const keys *k, const char *origin)
{
	for (size_t i = 0; i < k->n; i++) {
		char o[PL_CHECKPOINT_ORIGIN_MAX + 1];
		origin_name(o, k->v[i].state, k->v[i].name);
		if (strcmp(o, origin) == 0)
			return &k->v[i];
	}
	return NULL;
}

/* First line of a note: its origin. */
static void note_origin(const char *note, char out[PL_CHECKPOINT_ORIGIN_MAX + 1])
{
	size_t n = strcspn(note, "\n");
	if (n > PL_CHECKPOINT_ORIGIN_MAX)
		n = PL_CHECKPOINT_ORIGIN_MAX;
	memcpy(out, note, n);
	out[n] = '\0';
}

struct cosig_walk {
	vstate *v;
	const keys *k;
	const cps *c;
	uint64_t checked, unknown;
	/* lines to check after the walk */
	char **line;
	uint64_t *size;
	char (*peer)[PL_NAME_MAX + 1];
	size_t n, cap;
};

static int cosig_collect(void *ctx, const char *key, const uint8_t *val, size_t len)
{
	struct cosig_walk *w = ctx;
	const char *slash = strchr(key, '/');
	if (!slash || strlen(slash + 1) > PL_NAME_MAX)
		return 0;
	if (w->n == w->cap) {
		size_t cap = w->cap ? 2 * w->cap : 16;
		char **l = realloc(w->line, cap * sizeof(*l));
		if (l)
			w->line = l;
		uint64_t *s = l ? realloc(w->size, cap * sizeof(*s)) : NULL;
		if (s)
			w->size = s;
		void *p = s ? realloc(w->peer, cap * sizeof(*w->peer)) : NULL;
		if (!p)
			return PL_ERR_NOMEM;
		w->peer = p;
		w->cap = cap;
	}
	w->line[w->n] = malloc(len + 1);
	if (!w->line[w->n])
		return PL_ERR_NOMEM;
	memcpy(w->line[w->n], val, len);
	w->line[w->n][len] = '\0';
	w->size[w->n] = strtoull(key, NULL, 10);
	snprintf(w->peer[w->n], sizeof(w->peer[w->n]), "%s", slash + 1);
	w->n++;
	return 0;
}

/* Check the cosignature lines collected against the own checkpoints. */
static void check_cosigs(struct cosig_walk *w)
{
	for (size_t i = 0; i < w->n; i++) {
		const char *note = NULL;
		for (size_t j = 0; j < w->c->n; j++)
			if (w->c->size[j] == w->size[i])
				note = w->c->note[j];
		if (!note) {
			mismatch(w->v,
				 "a cosignature by %s of size %" PRIu64
				 " has no checkpoint of that size",
				 w->peer[i], w->size[i]);
			continue;
		}
		bool ok = false, known = false;
		for (size_t k = 0; k < w->k->n && !ok; k++) {
			if (strcmp(w->k->v[k].state, w->peer[i]) != 0)
				continue;
			known = true;
			char name[PL_CHECKPOINT_ORIGIN_MAX + 1];
			origin_name(name, w->k->v[k].state, w->k->v[k].name);
			size_t nl = strlen(note), ll = strlen(w->line[i]);
			char *full = malloc(nl + ll + 1);
			if (!full)
				continue;
			memcpy(full, note, nl);
			memcpy(full + nl, w->line[i], ll + 1);
			pl_note_verifier cv;
			int64_t t;
			ok = pl_note_verifier_init(&cv, name, PL_NOTE_TYPE_COSIG_V1,
						   w->k->v[k].pk) == 0 &&
			     pl_cosig_verify((const uint8_t *)full, nl + ll, &cv, &t, NULL) == 0;
			free(full);
		}
		if (!known)
			w->unknown++;
		else if (!ok)
			mismatch(w->v,
				 "the cosignature by %s on the checkpoint of size %" PRIu64
				 " does not verify",
				 w->peer[i], w->size[i]);
		else
			w->checked++;
		free(w->line[i]);
	}
}

struct theirs_walk {
	vstate *v;
	const keys *k;
	const char *own; /* own origin */
	uint64_t checked, unknown;
};

static int theirs_cb(void *ctx, const char *key, const uint8_t *val, size_t len)
{
	struct theirs_walk *w = ctx;
	char origin[PL_CHECKPOINT_ORIGIN_MAX + 1];
	const char *slash = strrchr(key, '/');
	if (!slash || (size_t)(slash - key) > PL_CHECKPOINT_ORIGIN_MAX)
		return 0;
	memcpy(origin, key, (size_t)(slash - key));
	origin[slash - key] = '\0';
	const pl_node_rec *theirs = key_of_origin(w->k, origin), *own = key_of_origin(w->k, w->own);
	if (!theirs || !own) {
		w->unknown++;
		return 0;
	}
	pl_note_verifier vs[2];
	pl_note_result res[2];
	pl_checkpoint cp;
	int rc = pl_note_verifier_init(&vs[0], origin, PL_NOTE_TYPE_ED25519, theirs->pk);
	if (!rc)
		rc = pl_note_verifier_init(&vs[1], w->own, PL_NOTE_TYPE_COSIG_V1, own->pk);
	if (!rc)
		rc = pl_checkpoint_open(&cp, val, len, vs, 2, res);
	if (rc || !res[0].verified || !res[1].verified || cp.size != strtoull(slash + 1, NULL, 10))
		mismatch(w->v, "the checkpoint of %s this node cosigned at size %s does not verify",
			 origin, slash + 1);
	else
		w->checked++;
	return 0;
}

/* The node store to read: --store, else the one node-NAME.db of the home
 * (node.ini's default) among this state's node records. */
struct store_walk {
	const cli_ctx *ctx;
	char path[4200];
	size_t found;
};

static int store_cb(void *arg, const char *key, const uint8_t *val, size_t len)
{
	struct store_walk *w = arg;
	char path[4200];
	if (cli_path(path, sizeof(path), w->ctx, "node-%s.db", key) == 0 &&
	    access(path, R_OK) == 0) {
		snprintf(w->path, sizeof(w->path), "%s", path);
		w->found++;
	}
	return 0;
}

static int find_store(cli_ctx *ctx, const char *given, char *out, size_t cap)
{
	if (given) {
		snprintf(out, cap, "%s", given);
		return 0;
	}
	int rc = cli_open_home(ctx);
	if (rc)
		return rc;
	struct store_walk w = {ctx, "", 0};
	rc = pl_store_list(ctx->store, KIND_NODE, store_cb, &w);
	if (rc)
		return cli_err(rc, "reading the node records");
	if (w.found != 1)
		return cli_fail(CLI_EXIT_USAGE,
				"%s: give the node store with --store PATH (the [node] data of "
				"node.ini)",
				w.found ? "more than one node store in the home"
					: "no node store in the home");
	snprintf(out, cap, "%s", w.path);
	return 0;
}

#define VERIFY_CHUNK    4096
#define VERIFY_PROGRESS ((uint64_t)1 << 17)

/* Recompute the tree from the entries: every stored hash, every own
 * checkpoint's root.  Progress on stderr for large logs. */
static int verify_tree(vstate *v, uint64_t size, const cps *c, const char *origin, uint64_t *cps_ok)
{
	size_t next_cp = 0;
	int rc = 0;
	uint64_t shown = 0;
	while (!rc && next_cp < c->n && c->size[next_cp] == 0)
		next_cp++;
	while (!rc && v->next < size) {
		char from[24];
		snprintf(from, sizeof(from), "%020" PRIu64, v->next);
		v->nleaves = 0;
		size_t want =
		    size - v->next < VERIFY_CHUNK ? (size_t)(size - v->next) : VERIFY_CHUNK;
		rc = pl_store_range(v->s, TK_ENTRY, from, NULL, want, leaves_cb, v);
		if (!rc && v->nleaves == 0)
			rc = pl_err_fail(PL_ERR_MALFORMED, "entry %" PRIu64 " is missing", v->next);
		for (size_t i = 0; !rc && i < v->nleaves; i++) {
			uint64_t idx = v->next;
			rc = check_stored(v, 0, idx, v->leaves[i]);
			frontier *f = &v->f;
			memcpy(f->h[f->n], v->leaves[i], H);
			f->level[f->n++] = 0;
			while (!rc && f->n >= 2 && f->level[f->n - 1] == f->level[f->n - 2]) {
				unsigned l = f->level[f->n - 1] + 1;
				pl_merkle_node_hash(f->h[f->n - 2], f->h[f->n - 2], f->h[f->n - 1]);
				f->level[f->n - 2] = l;
				f->n--;
				rc = check_stored(v, l, (idx + 1) / ((uint64_t)1 << l) - 1,
						  f->h[f->n - 1]);
			}
			v->next++;
			while (!rc && next_cp < c->n && c->size[next_cp] == v->next) {
				uint8_t root[H];
				pl_checkpoint cp;
				const char *note = c->note[next_cp];
				frontier_root(f, root);
				size_t nl = strlen(note), tl = 0;
				for (size_t k = nl; k >= 2 && !tl; k--)
					if (note[k - 1] == '\n' && note[k - 2] == '\n')
						tl = k - 1;
				if (!tl ||
				    pl_checkpoint_parse(&cp, (const uint8_t *)note, tl) != 0 ||
				    strcmp(cp.origin, origin) != 0 || cp.size != v->next)
					mismatch(v,
						 "the stored checkpoint of size %" PRIu64
						 " is malformed",
						 v->next);
				else if (memcmp(cp.root, root, H) != 0)
					mismatch(v,
						 "the checkpoint of size %" PRIu64
						 " does not have the root the entries give",
						 v->next);
				else
					(*cps_ok)++;
				next_cp++;
			}
		}
		if (!v->quiet && size >= VERIFY_PROGRESS && v->next - shown >= VERIFY_PROGRESS) {
			shown = v->next;
			fprintf(stderr,
				"parley: verified %" PRIu64 " of %" PRIu64 " entries (%d%%)\n",
				v->next, size, (int)(v->next * 100 / size));
		}
	}
	if (!rc && next_cp < c->n)
		mismatch(v, "a checkpoint of size %" PRIu64 " is larger than the log (%" PRIu64 ")",
			 c->size[next_cp], size);
	return rc;
}

int cmd_log_verify(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {{"store", required_argument, NULL, 's'},
					     {"quiet", no_argument, NULL, 'q'},
					     {NULL, 0, NULL, 0}};
	const char *given = NULL;
	bool quiet = false;
	int opt;
	while ((opt = cli_next_opt(argc, argv, opts)) != -1) {
		if (opt == 's')
			given = optarg;
		else if (opt == 'q')
			quiet = true;
		else
			return CLI_EXIT_USAGE;
	}
	if (optind != argc)
		return cli_usage(cli_current, "unexpected argument '%s'", argv[optind]);
	char where[4200];
	int rc = find_store(ctx, given, where, sizeof(where));
	if (rc)
		return rc;
	/* Roots from the home, to check the node keys (optional: without a home
	 * the tree is still recomputed). */
	pl_trust *t = NULL;
	char state_db[4096];
	if (cli_path(state_db, sizeof(state_db), ctx, "state.db") == 0 &&
	    access(state_db, R_OK) == 0 && cli_load_trust(ctx, &t) != 0)
		t = NULL;
	vstate *v = calloc(1, sizeof(*v));
	cps c = {0};
	keys *k = calloc(1, sizeof(*k));
	struct cosig_walk cw = {0};
	if (!v || !k || !(v->leaves = malloc(VERIFY_CHUNK * H))) {
		rc = cli_fail(CLI_EXIT_FAIL, "out of memory");
		goto out;
	}
	v->quiet = quiet;
	rc = pl_store_open(where, PL_STORE_READONLY, NULL, &v->s);
	if (rc) {
		rc = cli_err(rc, where);
		goto out;
	}
	uint64_t size = 0;
	uint8_t *sv = NULL;
	size_t slen = 0;
	rc = pl_store_get(v->s, TK_META, "size", &sv, &slen);
	if (rc == PL_ERR_NOT_FOUND) {
		rc = 0;
	} else if (!rc) {
		for (size_t i = 0; i < slen && i < 20; i++)
			size = size * 10 + (uint64_t)(sv[i] - '0');
	}
	free(sv);
	if (!rc && size > 0) { /* the layout of the first leaf's hash is the store's */
		uint8_t *h = NULL;
		size_t hlen = 0;
		rc = pl_store_get(v->s, TK_HASH, "00/00000000000000000000", &h, &hlen);
		free(h);
		v->by_level = rc == 0;
		if (rc == PL_ERR_NOT_FOUND)
			rc = 0;
	}
	if (!rc)
		rc = pl_store_list(v->s, TK_CP, cps_cb, &c);
	if (rc) {
		rc = cli_err(rc, where);
		goto out;
	}
	char origin[PL_CHECKPOINT_ORIGIN_MAX + 1] = "";
	if (c.n)
		note_origin(c.note[0], origin);
	/* node keys: the home's own node records, the peers' kept in the store */
	k->t = t;
	if (t) {
		rc = pl_store_list(ctx->store, KIND_NODE, keys_cb, k);
		if (!rc)
			rc = pl_store_list(v->s, TK_NODEREC, keys_cb, k);
		if (rc) {
			rc = cli_err(rc, "reading node records");
			goto out;
		}
	}
	uint64_t cps_ok = 0, sigs_ok = 0;
	rc = verify_tree(v, size, &c, origin, &cps_ok);
	if (rc) {
		rc = cli_err(rc, where);
		goto out;
	}
	/* signatures of the own checkpoints */
	const pl_node_rec *own = key_of_origin(k, origin);
	for (size_t i = 0; own && i < c.n; i++) {
		pl_note_verifier nv;
		pl_checkpoint cp;
		if (pl_note_verifier_init(&nv, origin, PL_NOTE_TYPE_ED25519, own->pk) == 0 &&
		    pl_checkpoint_open(&cp, (const uint8_t *)c.note[i], strlen(c.note[i]), &nv, 1,
				       NULL) == 0)
			sigs_ok++;
		else
			mismatch(v,
				 "the signature on the checkpoint of size %" PRIu64
				 " does not verify",
				 c.size[i]);
	}
	cw.v = v;
	cw.k = k;
	cw.c = &c;
	rc = pl_store_list(v->s, TK_COSIG, cosig_collect, &cw);
	if (!rc)
		check_cosigs(&cw);
	struct theirs_walk tw = {v, k, origin, 0, 0};
	if (!rc && own)
		rc = pl_store_list(v->s, TK_THEIRS, theirs_cb, &tw);
	if (rc) {
		rc = cli_err(rc, where);
		goto out;
	}
	if (ctx->json) {
		cli_print_json(json_pack(
		    "{s:s,s:s,s:I,s:I,s:I,s:b,s:I,s:I,s:I,s:I}", "store", where, "log", origin,
		    "size", (json_int_t)size, "checkpoints", (json_int_t)c.n,
		    "checkpoints_verified", (json_int_t)cps_ok, "signatures_checked", own != NULL,
		    "cosignatures_verified", (json_int_t)cw.checked, "peer_checkpoints_verified",
		    (json_int_t)tw.checked, "unchecked", (json_int_t)(cw.unknown + tw.unknown),
		    "mismatches", (json_int_t)v->errors));
	} else {
		printf("log %s in %s: %" PRIu64 " entries, every stored hash recomputed\n",
		       *origin ? origin : "(no checkpoint yet)", where, size);
		printf("  %zu own checkpoints: %" PRIu64 " with the right root, %s\n", c.n, cps_ok,
		       own ? "signatures verified"
			   : "signatures NOT checked (no node record of this "
			     "log under the home's roots)");
		printf("  %" PRIu64 " cosignatures verified, %" PRIu64
		       " checkpoints of peers cosigned verified",
		       cw.checked, tw.checked);
		if (cw.unknown + tw.unknown)
			printf(", %" PRIu64 " not checked (no pinned key)",
			       cw.unknown + tw.unknown);
		printf("\n");
		if (v->errors)
			printf("%" PRIu64 " MISMATCH%s: the store does not hold the log its "
			       "checkpoints signed\n",
			       v->errors, v->errors == 1 ? "" : "ES");
		else
			printf("ok\n");
	}
	rc = v->errors ? CLI_EXIT_REFUSED : 0;
out:
	for (size_t i = 0; i < c.n; i++)
		free(c.note[i]);
	free(c.note);
	free(c.size);
	free(cw.line);
	free(cw.size);
	free(cw.peer);
	if (v) {
		pl_store_close(v->s);
		free(v->leaves);
	}
	free(v);
	free(k);
	pl_trust_free(t);
	return rc;
}
