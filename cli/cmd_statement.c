/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `parley statement draft|sign|list|show|diff|publish` and `parley
 * verify` (cmd_statement.h; docs/statements.md, docs/cli.md).
 *
 * draft and sign build and sign their envelopes here, with the official's
 * own key, as `parley send` does (cli_send_body): draft chains the new
 * version to the last one the node holds, sign signs the exact text bytes
 * the node returned, after checking that they hash to the text hash the
 * node records for that version.  The node checks both again, as will
 * every peer.  list, show and diff only read; text from the node is
 * cleaned before it reaches the terminal (--json gives it as is).
 * publish writes the adopted statement's folder (stmt_bundle_write);
 * verify checks such a folder offline against root keys only
 * (stmt_bundle_verify) and prints every failure.
 *
 * Divisions: helpers; draft and sign; list, show and diff; publish;
 * verify.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "cmd_statement.h"
#include "diff.h"
#include "http.h"
#include "parley/buf.h"
#include "parley/channel.h"
#include "parley/err.h"
#include "parley/statement.h"
#include "stmt_bundle.h"

#define H         PL_HASH_BYTES
#define SHORT_HEX 16 /* hex digits of a hash shown in tables */

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

/* A version number: "2" or "v2", 1..2^53. */
static int parse_version(const char *what, const char *s, uint64_t *v)
{
	const char *p = s[0] == 'v' ? s + 1 : s;
	char *end = (char *)p;
	errno = 0;
	unsigned long long x = *p >= '0' && *p <= '9' ? strtoull(p, &end, 10) : 0;
	if (errno || x < 1 || x > ((unsigned long long)1 << 53) || *end)
		return cli_usage(cli_current,
				 "%s must be a version number (1, 2, ... or v1, v2, ...), "
				 "not '%s'",
				 what, s);
	*v = (uint64_t)x;
	return 0;
}

static int check_names(const char *ch, const char *stmt)
{
	if (!ch)
		return cli_usage(cli_current, "--channel is required");
	if (!pl_name_is_valid(ch))
		return cli_usage(cli_current,
				 "the channel '%s' is not a name (1-63 of a-z 0-9 . _ -)", ch);
	if (stmt && !pl_name_is_valid(stmt))
		return cli_usage(cli_current,
				 "the statement id '%s' is not a name (1-63 of a-z 0-9 . _ -, "
				 "starting with a letter or digit)",
				 stmt);
	return 0;
}

/* GET /v1/statements/CH/STMT[SUFFIX]; pb as for cli_node_call. */
static int get_stmt(cli_node *n, const char *ch, const char *stmt, const char *suffix, json_t **out,
		    cli_problem *pb)
{
	char path[256];
	snprintf(path, sizeof(path), "/v1/statements/%s/%s%s", ch, stmt, suffix);
	return cli_node_call(n, "GET", path, NULL, "reading the statement", out, pb);
}

/* The version v of the node's answer j, or NULL (borrowed). */
static const json_t *version_of(const json_t *j, uint64_t v)
{
	size_t i;
	json_t *ver;
	json_array_foreach(json_object_get(j, "versions"), i, ver)
	{
		if (ju64(ver, "v") == v)
			return ver;
	}
	return NULL;
}

static uint64_t latest_version(const json_t *j)
{
	uint64_t v = 0;
	size_t i;
	json_t *ver;
	json_array_foreach(json_object_get(j, "versions"), i, ver)
	{
		if (ju64(ver, "v") > v)
			v = ju64(ver, "v");
	}
	return v;
}

/* The text of version v in the node's answer j (borrowed), after checking
 * that it hashes to the version's text hash; th (may be NULL) gets it. */
static int text_of(const json_t *j, const char *stmt, uint64_t v, const char **text, size_t *len,
		   uint8_t th[H])
{
	char k[24], hx[2 * H + 1];
	snprintf(k, sizeof(k), "%" PRIu64, v);
	const json_t *t = json_object_get(json_object_get(j, "texts"), k);
	const json_t *ver = version_of(j, v);
	if (!ver || !json_is_string(t))
		return cli_fail(CLI_EXIT_NOTFOUND, "statement %s has no version %" PRIu64, stmt, v);
	*text = json_string_value(t);
	*len = json_string_length(t);
	uint8_t h[H];
	pl_stmt_text_hash(h, *text, *len);
	pl_hex_encode(hx, h, H);
	if (!jstr(ver, "text_sha256") || strcmp(hx, jstr(ver, "text_sha256")) != 0)
		return cli_fail(CLI_EXIT_REFUSED,
				"the node's text of version %" PRIu64
				" of %s does not hash to the text hash it records",
				v, stmt);
	if (th)
		memcpy(th, h, H);
	return 0;
}

/* A copy of s (len bytes) that is safe on a terminal; the caller frees it. */
static char *term_text(const char *s, size_t len)
{
	char *c = malloc(len + 1);
	if (!c)
		return NULL;
	memcpy(c, s, len);
	c[len] = '\0';
	cli_text_clean(c, true);
	return c;
}

/* ================================================================ draft and sign */

int cmd_statement_draft(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {{"channel", required_argument, NULL, 'c'},
					     {"title", required_argument, NULL, 't'},
					     {"file", required_argument, NULL, 'f'},
					     {NULL, 0, NULL, 0}};
	const char *ch = NULL, *title = NULL, *file = NULL;
	int opt;
	while ((opt = cli_next_opt(argc, argv, opts)) != -1) {
		if (opt == 'c')
			ch = optarg;
		else if (opt == 't')
			title = optarg;
		else if (opt == 'f')
			file = optarg;
		else
			return CLI_EXIT_USAGE;
	}
	if (optind >= argc)
		return cli_usage(cli_current, "give the statement id");
	const char *stmt = argv[optind];
	const char *arg = optind + 1 < argc ? argv[optind + 1] : NULL;
	int rc = check_names(ch, stmt);
	if (rc)
		return rc;
	if (optind + 2 < argc)
		return cli_usage(cli_current, "unexpected argument '%s' (quote the text)",
				 argv[optind + 2]);
	if (!arg == !file)
		return cli_usage(cli_current, "give the text, or --file F (one of them)");
	if (title && (!*title || strlen(title) > PL_STMT_TITLE_MAX))
		return cli_usage(cli_current, "--title must be 1 to %d bytes", PL_STMT_TITLE_MAX);
	uint8_t *fbuf = NULL;
	size_t tlen = 0;
	if (file) {
		rc = cli_read_file(file, PL_STMT_TEXT_MAX, &fbuf, &tlen);
		if (rc)
			return rc;
	} else {
		tlen = strlen(arg);
	}
	const char *text = file ? (const char *)fbuf : arg;
	if (tlen == 0 || tlen > PL_STMT_TEXT_MAX) {
		free(fbuf);
		return cli_usage(cli_current, "the text must be 1 to %d bytes", PL_STMT_TEXT_MAX);
	}

	cli_node *n = NULL;
	json_t *cur = NULL;
	uint8_t *body = NULL;
	size_t blen = 0;
	pl_stmt s;
	memset(&s, 0, sizeof(s));
	rc = cli_node_open(ctx, CLI_NODE_AUTH | CLI_NODE_KEEP_KEY, &n);
	if (rc)
		goto out;
	cli_problem pb = {0};
	rc = get_stmt(n, ch, stmt, "", &cur, &pb);
	if (rc && pb.status == 404) {
		rc = 0; /* a new statement (or no such channel: the node will say) */
	} else if (rc) {
		if (pb.status)
			rc = cli_node_report(&pb, "reading the statement");
		goto out;
	}
	snprintf(s.stmt, sizeof(s.stmt), "%s", stmt);
	s.v = 1;
	const char *last_title = NULL;
	if (cur) {
		uint64_t lv = latest_version(cur);
		const json_t *last = version_of(cur, lv);
		size_t got = 0;
		const char *hash = jstr(last, "hash");
		if (!last || !hash || strlen(hash) != 2 * H ||
		    pl_hex_decode(s.prev, H, &got, hash, 2 * H) != 0 || got != H) {
			rc = cli_fail(CLI_EXIT_FAIL,
				      "the node's answer for statement %s is malformed", stmt);
			goto out;
		}
		s.v = lv + 1;
		last_title = jstr(last, "title") ? jstr(last, "title") : jstr(cur, "title");
	}
	if (!title && !last_title) {
		rc = cli_usage(cli_current, "the first version needs --title");
		goto out;
	}
	snprintf(s.title, sizeof(s.title), "%s", title ? title : last_title);
	s.text = text;
	s.text_len = tlen;
	rc = pl_stmt_encode(&s, &body, &blen);
	if (rc) {
		rc = cli_err(rc, "the statement");
		goto out;
	}
	cli_send_spec sp = {.channel = ch,
			    .lane = PL_LANE_ROUTINE,
			    .kind = PL_STMT_KIND,
			    .body = body,
			    .body_len = blen};
	rc = cli_send_body(ctx, n, &sp);
	if (!rc && !ctx->json) {
		uint8_t th[H];
		char hx[2 * H + 1];
		pl_stmt_text_hash(th, text, tlen);
		pl_hex_encode(hx, th, H);
		printf("statement %s version %" PRIu64 " drafted on channel %s (text sha256 %s)\n",
		       stmt, s.v, ch, hx);
	}
out:
	free(body);
	free(fbuf);
	json_decref(cur);
	cli_node_free(n);
	return rc;
}

int cmd_statement_sign(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {{"channel", required_argument, NULL, 'c'},
					     {"version", required_argument, NULL, 'v'},
					     {NULL, 0, NULL, 0}};
	const char *ch = NULL;
	uint64_t v = 0;
	int opt, rc = 0;
	while (!rc && (opt = cli_next_opt(argc, argv, opts)) != -1) {
		if (opt == 'c')
			ch = optarg;
		else if (opt == 'v')
			rc = parse_version("--version", optarg, &v);
		else
			rc = CLI_EXIT_USAGE;
	}
	if (rc)
		return rc;
	if (optind + 1 != argc)
		return cli_usage(cli_current, "give exactly one statement id");
	const char *stmt = argv[optind];
	rc = check_names(ch, stmt);
	if (rc)
		return rc;
	cli_node *n = NULL;
	json_t *cur = NULL;
	uint8_t *body = NULL;
	size_t blen = 0;
	rc = cli_node_open(ctx, CLI_NODE_AUTH | CLI_NODE_KEEP_KEY, &n);
	if (!rc)
		rc = get_stmt(n, ch, stmt, "", &cur, NULL);
	if (rc)
		goto out;
	if (!v)
		v = latest_version(cur);
	pl_stmt s;
	memset(&s, 0, sizeof(s));
	uint8_t th[H];
	rc = text_of(cur, stmt, v, &s.text, &s.text_len, th);
	if (rc)
		goto out;
	snprintf(s.stmt, sizeof(s.stmt), "%s", stmt);
	s.v = v;
	const char *title = jstr(version_of(cur, v), "title");
	snprintf(s.title, sizeof(s.title), "%s", title ? title : "-");
	rc = pl_stmt_sign(&s, cli_node_state(n), cli_node_official(n), cli_node_key(n), &body,
			  &blen, NULL);
	if (rc) {
		rc = cli_err(rc, "signing the statement");
		goto out;
	}
	cli_send_spec sp = {.channel = ch,
			    .lane = PL_LANE_ROUTINE,
			    .kind = PL_STMT_SIGN_KIND,
			    .body = body,
			    .body_len = blen};
	rc = cli_send_body(ctx, n, &sp);
	if (!rc && !ctx->json) {
		char hx[2 * H + 1];
		pl_hex_encode(hx, th, H);
		printf("%s of %s signed version %" PRIu64 " of statement %s (text sha256 %s)\n",
		       cli_node_official(n), cli_node_state(n), v, stmt, hx);
	}
out:
	free(body);
	json_decref(cur);
	cli_node_free(n);
	return rc;
}

/* ================================================================ list, show and diff */

/* "tehran v2, islamabad v2" from a summary's signatures. */
static void signed_by(char *out, size_t cap, const json_t *sum)
{
	size_t used = 0, i;
	json_t *s;
	out[0] = '\0';
	json_array_foreach(json_object_get(sum, "signatures"), i, s)
	{
		int k = snprintf(out + used, cap - used, "%s%s v%" PRIu64, used ? ", " : "",
				 jstr(s, "state") ? jstr(s, "state") : "?", ju64(s, "v"));
		if (k < 0 || (size_t)k >= cap - used)
			break;
		used += (size_t)k;
	}
	if (!used)
		snprintf(out, cap, "-");
	cli_text_clean(out, false);
}

int cmd_statement_list(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {{"channel", required_argument, NULL, 'c'},
					     {NULL, 0, NULL, 0}};
	const char *ch = NULL;
	int opt;
	while ((opt = cli_next_opt(argc, argv, opts)) != -1) {
		if (opt == 'c')
			ch = optarg;
		else
			return CLI_EXIT_USAGE;
	}
	if (optind != argc)
		return cli_usage(cli_current, "unexpected argument '%s'", argv[optind]);
	int rc = check_names(ch, NULL);
	if (rc)
		return rc;
	cli_node *n = NULL;
	json_t *j = NULL;
	char path[128];
	snprintf(path, sizeof(path), "/v1/statements?channel=%s", ch);
	rc = cli_node_open(ctx, CLI_NODE_AUTH, &n);
	if (!rc)
		rc = cli_node_call(n, "GET", path, NULL, "listing the statements", &j, NULL);
	cli_node_free(n);
	if (rc)
		return rc;
	if (ctx->json)
		return cli_print_json(j);
	json_t *all = json_object_get(j, "statements");
	if (json_array_size(all) == 0) {
		printf("no statements on channel %s\n", ch);
		json_decref(j);
		return 0;
	}
	static const char *const headers[] = {"STATEMENT", "VERSIONS", "SIGNED", "ADOPTED",
					      "TITLE"};
	cli_table *t = cli_table_new(5, headers);
	size_t i;
	json_t *s;
	json_array_foreach(all, i, s)
	{
		char id[PL_NAME_MAX + 1], nv[24], sig[512], adopted[64],
		    title[PL_STMT_TITLE_MAX + 1];
		const json_t *a = json_object_get(s, "adopted");
		cli_text_copy(id, sizeof(id), jstr(s, "stmt"), false);
		snprintf(nv, sizeof(nv), "%zu", json_array_size(json_object_get(s, "versions")));
		signed_by(sig, sizeof(sig), s);
		if (json_is_object(a))
			snprintf(adopted, sizeof(adopted), "v%" PRIu64 " %s", ju64(a, "v"),
				 jstr(a, "at") ? jstr(a, "at") : "");
		else
			snprintf(adopted, sizeof(adopted), "no");
		cli_text_clean(adopted, false);
		cli_text_copy(title, sizeof(title), jstr(s, "title"), false);
		const char *row[] = {id, nv, sig, adopted, title};
		if (t && cli_table_add(t, row) != 0) {
			cli_table_free(t);
			t = NULL;
		}
	}
	json_decref(j);
	if (!t)
		return cli_fail(CLI_EXIT_FAIL, "out of memory");
	cli_table_print(t);
	cli_table_free(t);
	return 0;
}

int cmd_statement_show(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {{"channel", required_argument, NULL, 'c'},
					     {"version", required_argument, NULL, 'v'},
					     {NULL, 0, NULL, 0}};
	const char *ch = NULL;
	uint64_t v = 0;
	int opt, rc = 0;
	while (!rc && (opt = cli_next_opt(argc, argv, opts)) != -1) {
		if (opt == 'c')
			ch = optarg;
		else if (opt == 'v')
			rc = parse_version("--version", optarg, &v);
		else
			rc = CLI_EXIT_USAGE;
	}
	if (rc)
		return rc;
	if (optind + 1 != argc)
		return cli_usage(cli_current, "give exactly one statement id");
	const char *stmt = argv[optind];
	rc = check_names(ch, stmt);
	if (rc)
		return rc;
	cli_node *n = NULL;
	json_t *j = NULL;
	rc = cli_node_open(ctx, CLI_NODE_AUTH, &n);
	if (!rc)
		rc = get_stmt(n, ch, stmt, "", &j, NULL);
	cli_node_free(n);
	if (rc)
		return rc;
	if (!v)
		v = latest_version(j);
	const char *text = NULL;
	size_t tlen = 0;
	rc = text_of(j, stmt, v, &text, &tlen, NULL);
	if (rc) {
		json_decref(j);
		return rc;
	}
	if (ctx->json)
		return cli_print_json(j);
	char title[PL_STMT_TITLE_MAX + 1];
	cli_text_copy(title, sizeof(title), jstr(j, "title"), false);
	printf("statement %s on channel %s: %s\n", stmt, ch, title);
	const json_t *a = json_object_get(j, "adopted");
	if (json_is_object(a))
		printf("adopted:  version %" PRIu64 " at %s, text sha256 %s\n", ju64(a, "v"),
		       jstr(a, "at") ? jstr(a, "at") : "?",
		       jstr(a, "text_sha256") ? jstr(a, "text_sha256") : "?");
	else
		printf("adopted:  no\n");
	printf("versions:\n");
	size_t i;
	json_t *e;
	json_array_foreach(json_object_get(j, "versions"), i, e)
	{
		char who[2 * PL_NAME_MAX + 2], t[PL_STMT_TITLE_MAX + 1];
		snprintf(who, sizeof(who), "%s@%s", jstr(e, "author") ? jstr(e, "author") : "?",
			 jstr(e, "state") ? jstr(e, "state") : "?");
		cli_text_clean(who, false);
		cli_text_copy(t, sizeof(t), jstr(e, "title"), false);
		printf("  v%-3" PRIu64 " %s by %s, text sha256 %.*s..., %s\n", ju64(e, "v"),
		       jstr(e, "at") ? jstr(e, "at") : "?", who, SHORT_HEX,
		       jstr(e, "text_sha256") ? jstr(e, "text_sha256") : "?", t);
	}
	printf("signatures:%s\n", json_array_size(json_object_get(j, "signatures")) ? "" : " none");
	json_array_foreach(json_object_get(j, "signatures"), i, e)
	{
		char who[2 * PL_NAME_MAX + 2];
		snprintf(who, sizeof(who), "%s@%s", jstr(e, "signer") ? jstr(e, "signer") : "?",
			 jstr(e, "state") ? jstr(e, "state") : "?");
		cli_text_clean(who, false);
		printf("  %s signed v%" PRIu64 " at %s, text sha256 %.*s...\n", who, ju64(e, "v"),
		       jstr(e, "at") ? jstr(e, "at") : "?", SHORT_HEX,
		       jstr(e, "text_sha256") ? jstr(e, "text_sha256") : "?");
	}
	char *clean = term_text(text, tlen);
	if (clean) {
		printf("text of version %" PRIu64 ":\n%s%s", v, clean,
		       tlen && text[tlen - 1] == '\n' ? "" : "\n");
		free(clean);
	}
	json_decref(j);
	return clean ? 0 : cli_fail(CLI_EXIT_FAIL, "out of memory");
}

int cmd_statement_diff(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {{"channel", required_argument, NULL, 'c'},
					     {"context", required_argument, NULL, 'x'},
					     {NULL, 0, NULL, 0}};
	const char *ch = NULL;
	long context = -1;
	int opt, rc = 0;
	while (!rc && (opt = cli_next_opt(argc, argv, opts)) != -1) {
		if (opt == 'c') {
			ch = optarg;
		} else if (opt == 'x') {
			char *end;
			errno = 0;
			context = strtol(optarg, &end, 10);
			if (errno || end == optarg || *end || context < 0 || context > 1000)
				rc = cli_usage(cli_current,
					       "--context must be a whole number from 0 to 1000");
		} else {
			rc = CLI_EXIT_USAGE;
		}
	}
	if (rc)
		return rc;
	if (optind + 3 != argc)
		return cli_usage(cli_current, "give the statement id and two versions");
	const char *stmt = argv[optind];
	uint64_t v1 = 0, v2 = 0;
	rc = check_names(ch, stmt);
	if (!rc)
		rc = parse_version("V1", argv[optind + 1], &v1);
	if (!rc)
		rc = parse_version("V2", argv[optind + 2], &v2);
	if (rc)
		return rc;
	cli_node *n = NULL;
	json_t *j = NULL;
	rc = cli_node_open(ctx, CLI_NODE_AUTH, &n);
	if (!rc)
		rc = get_stmt(n, ch, stmt, "", &j, NULL);
	cli_node_free(n);
	if (rc)
		return rc;
	const char *a = NULL, *b = NULL;
	size_t alen = 0, blen = 0, changes = 0;
	uint8_t ha[H], hb[H];
	pl_buf out = {0};
	rc = text_of(j, stmt, v1, &a, &alen, ha);
	if (!rc)
		rc = text_of(j, stmt, v2, &b, &blen, hb);
	if (!rc) {
		int drc = cli_diff_lines(a, alen, b, blen, (int)context, &out, &changes);
		if (drc)
			rc = cli_err(drc, "comparing the versions");
	}
	if (!rc && ctx->json) {
		rc = cli_print_json(json_pack("{s:s,s:s,s:I,s:I,s:I,s:s%}", "channel", ch, "stmt",
					      stmt, "from", (json_int_t)v1, "to", (json_int_t)v2,
					      "changes", (json_int_t)changes, "diff",
					      out.len ? (const char *)out.data : "", out.len));
	} else if (!rc) {
		char hxa[2 * H + 1], hxb[2 * H + 1];
		pl_hex_encode(hxa, ha, H);
		pl_hex_encode(hxb, hb, H);
		printf("--- %s v%" PRIu64 " (text sha256 %.*s...)\n+++ %s v%" PRIu64
		       " (text sha256 %.*s...)\n",
		       stmt, v1, SHORT_HEX, hxa, stmt, v2, SHORT_HEX, hxb);
		char *clean = term_text(out.len ? (const char *)out.data : "", out.len);
		if (!clean) {
			rc = cli_fail(CLI_EXIT_FAIL, "out of memory");
		} else {
			fputs(clean, stdout);
			if (changes == 0)
				printf("(the texts are the same)\n");
			free(clean);
		}
	}
	pl_buf_clear(&out);
	json_decref(j);
	return rc;
}

/* ================================================================ publish */

int cmd_statement_publish(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {{"channel", required_argument, NULL, 'c'},
					     {"force", no_argument, NULL, 'f'},
					     {NULL, 0, NULL, 0}};
	const char *ch = NULL;
	bool force = false;
	int opt;
	while ((opt = cli_next_opt(argc, argv, opts)) != -1) {
		if (opt == 'c')
			ch = optarg;
		else if (opt == 'f')
			force = true;
		else
			return CLI_EXIT_USAGE;
	}
	if (optind + 2 != argc)
		return cli_usage(cli_current, "give the statement id and a folder");
	const char *stmt = argv[optind], *dir = argv[optind + 1];
	int rc = check_names(ch, stmt);
	if (rc)
		return rc;
	cli_node *n = NULL;
	json_t *b = NULL;
	cli_problem pb = {0};
	rc = cli_node_open(ctx, CLI_NODE_AUTH, &n);
	if (!rc)
		rc = get_stmt(n, ch, stmt, "/bundle", &b, &pb);
	cli_node_free(n);
	if (rc && pb.status == 409)
		return cli_fail(CLI_EXIT_REFUSED, "cannot publish: %s", pb.detail);
	if (rc && pb.status)
		return cli_node_report(&pb, "reading the statement's bundle");
	if (rc)
		return rc;
	rc = stmt_bundle_write(b, dir, force);
	if (rc) {
		json_decref(b);
		return cli_err(rc, dir);
	}
	json_t *files = json_array();
	json_array_append_new(files, json_string("statement.txt"));
	json_array_append_new(files, json_string("bundle.json"));
	size_t i;
	json_t *st;
	json_array_foreach(json_object_get(b, "states"), i, st)
	{
		json_array_append_new(files, json_string(jstr(st, "minisig")));
		json_array_append_new(files, json_string(jstr(st, "pubkey")));
	}
	if (ctx->json) {
		rc = cli_print_json(json_pack("{s:s,s:s,s:s,s:I,s:s?,s:o}", "dir", dir, "channel",
					      ch, "stmt", stmt, "v", (json_int_t)ju64(b, "v"),
					      "text_sha256", jstr(b, "text_sha256"), "files",
					      files));
	} else {
		printf("published statement %s version %" PRIu64 " of channel %s to %s:\n", stmt,
		       ju64(b, "v"), ch, dir);
		json_t *f;
		json_array_foreach(files, i, f)
		{
			printf("  %s\n", json_string_value(f) ? json_string_value(f) : "?");
		}
		printf("check it with: parley verify %s\n", dir);
		json_decref(files);
	}
	json_decref(b);
	return rc;
}

/* ================================================================ verify */

/* --root STATE=BASE64 into t. */
static int add_root(pl_trust *t, const char *spec)
{
	const char *eq = strchr(spec, '=');
	char state[PL_NAME_MAX + 1];
	uint8_t pk[PL_PK_BYTES];
	size_t got = 0;
	if (!eq || eq == spec || (size_t)(eq - spec) > PL_NAME_MAX)
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
	return rc ? cli_usage(cli_current, "--root %s: %s", state, pl_err_detail()) : 0;
}

struct pin_walk {
	pl_trust *t;
	int rc;
};

/* A pinned peer of the home, unless a --root already names its state. */
static int pin_cb(void *vctx, const char *key, const uint8_t *val, size_t len)
{
	struct pin_walk *w = vctx;
	pl_state_rec rec;
	int rc = pl_state_rec_open(val, len, &rec);
	if (!rc && !pl_trust_find(w->t, rec.name))
		rc = pl_trust_add(w->t, rec.name, rec.pk);
	if (rc)
		w->rc = cli_err(rc, key);
	return w->rc;
}

/* The roots to trust: every --root first, then the home's own root and
 * pinned peers for the states no --root named.  Without --root a home is
 * required; with one, a missing home is fine. */
static int verify_roots(cli_ctx *ctx, pl_trust *t, bool given)
{
	char db[4096];
	struct stat sb;
	int rc = cli_path(db, sizeof(db), ctx, "state.db");
	if (rc)
		return rc;
	if (given && stat(db, &sb) != 0)
		return 0;
	rc = cli_open_home(ctx);
	if (rc)
		return rc;
	if (!pl_trust_find(t, ctx->self.name)) {
		rc = pl_trust_add(t, ctx->self.name, ctx->self.pk);
		if (rc)
			return cli_err(rc, "own root");
	}
	struct pin_walk w = {t, 0};
	rc = pl_store_list(ctx->store, KIND_PEER, pin_cb, &w);
	if (w.rc)
		return w.rc;
	return rc ? cli_err(rc, "reading pinned peers") : 0;
}

static void print_valid(const json_t *r)
{
	char title[PL_STMT_TITLE_MAX + 1];
	cli_text_copy(title, sizeof(title), jstr(r, "title"), false);
	printf("valid: statement %s version %" PRIu64 " on channel %s, \"%s\", adopted by every "
	       "state of the charter\n",
	       jstr(r, "stmt"), ju64(r, "v"), jstr(r, "channel"), title);
	printf("  text: statement.txt, sha256 %s\n", jstr(r, "text_sha256"));
	size_t i;
	json_t *s;
	json_array_foreach(json_object_get(r, "states"), i, s)
	{
		printf("  %s: signed by %s (signatory); credential, envelope, %s.minisig and "
		       "%s.pub verified\n",
		       jstr(s, "state"), jstr(s, "signer"), jstr(s, "state"), jstr(s, "state"));
	}
	size_t np = json_array_size(json_object_get(r, "proofs"));
	printf("  proofs of receipt: %zu verified\n", np);
}

int cmd_verify(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {{"root", required_argument, NULL, 'r'},
					     {NULL, 0, NULL, 0}};
	pl_trust *t = pl_trust_new();
	if (!t)
		return cli_fail(CLI_EXIT_FAIL, "out of memory");
	bool given = false;
	int opt, rc = 0;
	while (!rc && (opt = cli_next_opt(argc, argv, opts)) != -1) {
		if (opt == 'r') {
			rc = add_root(t, optarg);
			given = true;
		} else {
			rc = CLI_EXIT_USAGE;
		}
	}
	if (!rc && optind + 1 != argc)
		rc = cli_usage(cli_current, "give exactly one folder");
	if (!rc)
		rc = verify_roots(ctx, t, given);
	if (rc) {
		pl_trust_free(t);
		return rc;
	}
	const char *dir = argv[optind];
	json_t *r = NULL;
	rc = stmt_bundle_verify(dir, t, &r);
	pl_trust_free(t);
	if (!r) {
		if (rc == PL_ERR_NOT_FOUND)
			return cli_fail(CLI_EXIT_NOTFOUND, "%s/bundle.json: no such file", dir);
		return cli_err(rc, dir);
	}
	int exit = rc ? CLI_EXIT_REFUSED : 0;
	if (ctx->json) {
		int prc = cli_print_json(r);
		return prc ? prc : exit;
	}
	if (!rc) {
		print_valid(r);
	} else {
		const json_t *fails = json_object_get(r, "failures");
		char stmt[PL_NAME_MAX + 1], ch[PL_NAME_MAX + 1];
		cli_text_copy(stmt, sizeof(stmt), jstr(r, "stmt") ? jstr(r, "stmt") : "?", false);
		cli_text_copy(ch, sizeof(ch), jstr(r, "channel") ? jstr(r, "channel") : "?", false);
		printf("invalid: statement %s version %" PRIu64 " on channel %s: %zu check%s "
		       "failed\n",
		       stmt, ju64(r, "v"), ch, json_array_size(fails),
		       json_array_size(fails) == 1 ? "" : "s");
		size_t i;
		json_t *f;
		json_array_foreach(fails, i, f)
		{
			char line[700];
			cli_text_copy(line, sizeof(line), json_string_value(f), false);
			printf("failed: %s\n", line);
		}
	}
	json_decref(r);
	return exit;
}
