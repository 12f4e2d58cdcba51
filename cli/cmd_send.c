/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `parley send`, `submit`, `inbox`, `read` and `watch`: an official's
 * messages through their state's node.
 *
 * send builds and signs the envelope here, with the official's own key
 * (unsealed in this process, never sent): it asks the node only for the
 * next sequence number and the previous envelope's id on the lane, then
 * submits the signed bytes.  The node verifies them exactly as it would
 * an envelope from a peer.  inbox, read and watch only read what the node
 * serves; text from the node is cleaned before it reaches the terminal.
 *
 * Divisions: helpers; send and submit; walking channels; inbox; read;
 * watch.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "parley/forms.h"
#include "form_json.h"
#include "http.h"
#include "parley/channel.h"
#include "parley/err.h"
#include "parley/file.h"
#include "parley/time.h"

#define INBOX_DEFAULT 50
#define PAGE_SIZE     16 /* envelopes per page: each may carry up to 1 MiB of body */
#define HEX_ID_LEN    (2 * PL_HASH_BYTES)
#define SHORT_ID      12  /* hex digits of an id shown in tables */
#define PREVIEW       60  /* bytes of a body's first line shown in tables */
#define WATCH_IDS     256 /* envelope ids remembered by watch --channel */

/* ---------------------------------------------------------------- helpers */

static bool is_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return false;
	}
	return true;
}

/* A count option: a whole number in 1..max. */
static int parse_count(const char *opt, const char *s, long max, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 1 || v > max)
		return cli_usage(cli_current, "%s must be a whole number from 1 to %ld, not '%s'",
				 opt, max, s);
	*out = v;
	return 0;
}

/* Read all of standard input, at most max bytes. */
static int read_stdin(size_t max, uint8_t **out, size_t *len)
{
	size_t cap = 64 * 1024, n = 0;
	uint8_t *b = malloc(cap);
	if (!b)
		return cli_fail(CLI_EXIT_FAIL, "out of memory");
	for (;;) {
		if (n == cap) {
			if (cap > max) {
				free(b);
				return cli_fail(
				    CLI_EXIT_USAGE,
				    "the body on standard input is over %zu bytes (1 MiB)", max);
			}
			uint8_t *q = realloc(b, cap * 2);
			if (!q) {
				free(b);
				return cli_fail(CLI_EXIT_FAIL, "out of memory");
			}
			b = q;
			cap *= 2;
		}
		size_t k = fread(b + n, 1, cap - n, stdin);
		n += k;
		if (k == 0)
			break;
	}
	if (ferror(stdin)) {
		free(b);
		return cli_fail(CLI_EXIT_FAIL, "cannot read standard input");
	}
	if (n > max) {
		free(b);
		return cli_fail(CLI_EXIT_USAGE,
				"the body on standard input is over %zu bytes (1 MiB)", max);
	}
	*out = b;
	*len = n;
	return 0;
}

/* "(binary, N bytes)" or the first line of the body, cut to PREVIEW bytes. */
static void preview(char *out, size_t cap, const json_t *e)
{
	const char *body = cli_json_str(e, "body", NULL);
	if (!body) {
		size_t b64 = strlen(cli_json_str(e, "body_b64", ""));
		snprintf(out, cap, "(binary, about %zu bytes)", b64 / 4 * 3);
		return;
	}
	size_t n = strcspn(body, "\r\n");
	char line[PREVIEW + 1];
	size_t k = n < sizeof(line) ? n + 1 : sizeof(line);
	cli_text_copy(line, k, body, false);
	snprintf(out, cap, "%s%s", line, n > strlen(line) || body[n] ? " ..." : "");
}

/* "islamabad delivered, karachi queued", "received" or "-". */
static void delivery_summary(char *out, size_t cap, const json_t *e)
{
	const json_t *d = json_object_get(e, "delivery");
	const char *peer;
	json_t *v;
	size_t used = 0;
	out[0] = '\0';
	json_object_foreach((json_t *)d, peer, v)
	{
		int k = snprintf(out + used, cap - used, "%s%s %s", used ? ", " : "", peer,
				 cli_json_str(v, "state", "?"));
		if (k < 0 || (size_t)k >= cap - used)
			break;
		used += (size_t)k;
	}
	if (!used)
		snprintf(out, cap, "%s",
			 strcmp(cli_json_str(e, "origin", "local"), "local") ? "received" : "-");
	cli_text_clean(out, false);
}

/* ---------------------------------------------------------------- send and submit */

/* POST the envelope; print the outcome.  0 or an exit code. */
static int submit(cli_ctx *ctx, cli_node *n, const uint8_t *env, size_t len)
{
	pl_env e;
	int rc = pl_env_parse(env, len, &e);
	if (rc)
		return cli_fail(cli_exit_for(rc), "not a valid envelope: %s",
				*pl_err_detail() ? pl_err_detail() : pl_strerror(rc));
	uint8_t id[PL_HASH_BYTES];
	char hex[HEX_ID_LEN + 1];
	pl_env_id(id, env, len);
	pl_hex_encode(hex, id, sizeof(id));
	char *b64 = malloc(pl_b64_len(len));
	json_t *req = NULL, *ans = NULL;
	if (b64) {
		pl_b64_encode(b64, env, len);
		req = json_pack("{s:s}", "envelope", b64);
		free(b64);
	}
	if (!req) {
		pl_env_clear(&e);
		return cli_fail(CLI_EXIT_FAIL, "out of memory");
	}
	cli_problem pb;
	rc = cli_node_call(n, "POST", "/v1/envelopes", req, "submitting the envelope", &ans, &pb);
	json_decref(req);
	if (rc) {
		/* No (complete) charter is "not found", however the node says it. */
		if (strcmp(pb.type, "unknown-channel") == 0)
			rc = CLI_EXIT_NOTFOUND;
		if (pb.status == 422 || pb.status == 404)
			rc = cli_fail(rc, "node %s refused envelope %.*s: %s: %s", cli_node_name(n),
				      SHORT_ID, hex, pb.type, pb.detail);
		else if (pb.status)
			rc = cli_node_report(&pb, "submitting the envelope");
		pl_env_clear(&e);
		return rc;
	}
	bool dup = json_is_true(json_object_get(ans, "duplicate"));
	json_int_t pos = json_integer_value(json_object_get(ans, "position"));
	if (strcmp(cli_json_str(ans, "id", ""), hex) != 0)
		rc = cli_fail(CLI_EXIT_FAIL, "node %s answered with id %s for envelope %s",
			      cli_node_name(n), cli_json_str(ans, "id", "(none)"), hex);
	else if (ctx->json)
		rc = cli_print_json(json_pack("{s:s,s:b,s:I,s:s,s:s,s:I}", "id", hex, "duplicate",
					      dup, "position", pos, "channel", e.ch, "precedence",
					      pl_lane_name(e.lane), "seq", (json_int_t)e.seq));
	else
		printf(
		    "envelope %s %s\n  channel %s, %s, seq %llu, by %s@%s, position %lld on node "
		    "%s\n",
		    hex, dup ? "already accepted" : "accepted", e.ch, pl_lane_name(e.lane),
		    (unsigned long long)e.seq, e.author, e.state, (long long)pos, cli_node_name(n));
	json_decref(ans);
	pl_env_clear(&e);
	return rc;
}

/* The next seq and prev on (channel, lane) for the authenticated official. */
int cli_next_seq(cli_node *n, const char *ch, pl_lane lane, pl_env *e)
{
	char path[256];
	snprintf(path, sizeof(path), "/v1/channels/%s/next?lane=%s", ch, pl_lane_name(lane));
	json_t *j = NULL;
	int rc = cli_node_call(n, "GET", path, NULL, "asking the node for the next sequence number",
			       &j, NULL);
	if (rc)
		return rc;
	json_t *seq = json_object_get(j, "seq");
	const char *prev = cli_json_str(j, "prev", NULL);
	size_t got = 0;
	if (!json_is_integer(seq) || json_integer_value(seq) < 1 ||
	    (json_integer_value(seq) > 1) != (prev != NULL) ||
	    (prev && (strlen(prev) != HEX_ID_LEN ||
		      pl_hex_decode(e->prev, sizeof(e->prev), &got, prev, HEX_ID_LEN) != 0))) {
		json_decref(j);
		return cli_fail(CLI_EXIT_FAIL, "the node's answer for the next sequence number is "
					       "malformed");
	}
	e->seq = (uint64_t)json_integer_value(seq);
	json_decref(j);
	return 0;
}

int cli_send_body(cli_ctx *ctx, cli_node *n, const cli_send_spec *sp)
{
	pl_env e;
	memset(&e, 0, sizeof(e));
	int rc = cli_next_seq(n, sp->channel, sp->lane, &e);
	if (rc)
		return rc;
	if (sp->ref) {
		memcpy(e.ref, sp->ref, PL_HASH_BYTES);
		e.has_ref = true;
	}
	e.has_ackby = sp->has_ackby;
	e.ackby = sp->ackby;
	snprintf(e.ch, sizeof(e.ch), "%s", sp->channel);
	snprintf(e.state, sizeof(e.state), "%s", cli_node_state(n));
	snprintf(e.author, sizeof(e.author), "%s", cli_node_official(n));
	snprintf(e.kind, sizeof(e.kind), "%s", sp->kind);
	e.at = ctx->now;
	e.lane = sp->lane;
	e.body = sp->body;
	e.body_len = sp->body_len;
	uint8_t *env = NULL;
	size_t elen = 0;
	rc = pl_env_sign(&e, cli_node_key(n), &env, &elen);
	if (rc)
		return cli_err(rc, "signing the envelope");
	if (sp->id_out)
		pl_env_id(sp->id_out, env, elen);
	rc = submit(ctx, n, env, elen);
	free(env);
	return rc;
}

int cmd_send(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"channel", required_argument, NULL, 'c'}, {"precedence", required_argument, NULL, 'p'},
	    {"kind", required_argument, NULL, 'k'},    {"ack-by", required_argument, NULL, 'a'},
	    {"ref", required_argument, NULL, 'r'},     {"file", required_argument, NULL, 'f'},
	    {"out", required_argument, NULL, 'o'},     {NULL, 0, NULL, 0}};
	const char *ch = NULL, *kind = "message", *file = NULL, *out = NULL, *ref = NULL;
	pl_lane lane = PL_LANE_ROUTINE;
	pl_env e;
	memset(&e, 0, sizeof(e));
	int opt;
	while ((opt = cli_next_opt(argc, argv, opts)) != -1) {
		switch (opt) {
		case 'c':
			ch = optarg;
			break;
		case 'k':
			kind = optarg;
			break;
		case 'f':
			file = optarg;
			break;
		case 'o':
			out = optarg;
			break;
		case 'r':
			ref = optarg;
			break;
		case 'p':
			if (cli_parse_precedence(optarg, &lane))
				return CLI_EXIT_USAGE;
			break;
		case 'a':
			if (cli_parse_time(ctx, "--ack-by", optarg, &e.ackby))
				return CLI_EXIT_USAGE;
			e.has_ackby = true;
			break;
		default:
			return CLI_EXIT_USAGE;
		}
	}
	const char *text = NULL;
	if (optind < argc)
		text = argv[optind++];
	if (optind < argc)
		return cli_usage(cli_current,
				 "unexpected argument '%s' (quote the message: it is one argument)",
				 argv[optind]);
	if (cli_check_channel_kind(ch, kind))
		return CLI_EXIT_USAGE;
	if (!text == !file)
		return cli_usage(cli_current,
				 "give the body as one argument, with --file FILE, or - for "
				 "standard input (one of them)");
	if (ref) {
		size_t got = 0;
		if (strlen(ref) != HEX_ID_LEN || !is_hex(ref, HEX_ID_LEN) ||
		    pl_hex_decode(e.ref, sizeof(e.ref), &got, ref, HEX_ID_LEN) != 0)
			return cli_usage(cli_current,
					 "--ref must be an envelope id: 64 hex digits");
		e.has_ref = true;
	}
	uint8_t *body = NULL;
	size_t blen = 0;
	int rc = 0;
	if (file) {
		rc = pl_file_read(file, PL_ENV_BODY_MAX, &body, &blen);
		if (rc == PL_ERR_LIMIT)
			return cli_fail(CLI_EXIT_USAGE, "%s is over 1 MiB, the limit of a body",
					file);
		if (rc)
			return cli_fail(cli_exit_for(rc), "cannot read %s",
					*pl_err_detail() ? pl_err_detail() : file);
	} else if (strcmp(text, "-") == 0) {
		rc = read_stdin(PL_ENV_BODY_MAX, &body, &blen);
		if (rc)
			return rc;
	} else {
		blen = strlen(text);
		if (blen > PL_ENV_BODY_MAX)
			return cli_fail(CLI_EXIT_USAGE, "the body is over 1 MiB");
	}
	cli_node *n = NULL;
	rc = cli_node_open(ctx, CLI_NODE_AUTH | CLI_NODE_KEEP_KEY, &n);
	if (!rc)
		rc = cli_next_seq(n, ch, lane, &e);
	uint8_t *env = NULL;
	size_t elen = 0;
	if (!rc) {
		memcpy(e.ch, ch, strlen(ch) + 1);
		memcpy(e.state, cli_node_state(n), strlen(cli_node_state(n)) + 1);
		memcpy(e.author, cli_node_official(n), strlen(cli_node_official(n)) + 1);
		memcpy(e.kind, kind, strlen(kind) + 1);
		e.at = ctx->now;
		e.lane = lane;
		e.body = body ? body : (const uint8_t *)text;
		e.body_len = blen;
		rc = pl_env_sign(&e, cli_node_key(n), &env, &elen);
		if (rc)
			rc = cli_err(rc, "signing the envelope");
	}
	if (!rc && out) {
		rc = pl_file_write_atomic(out, env, elen, 0644, PL_FILE_REPLACE);
		if (rc)
			rc = cli_err(rc, out);
	}
	if (!rc)
		rc = submit(ctx, n, env, elen);
	free(env);
	free(body);
	cli_node_free(n);
	return rc;
}

int cmd_submit(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {{NULL, 0, NULL, 0}};
	if (cli_next_opt(argc, argv, opts) != -1)
		return CLI_EXIT_USAGE;
	if (optind + 1 != argc)
		return cli_usage(cli_current, "give exactly one envelope file");
	uint8_t *env = NULL;
	size_t len = 0;
	int rc = cli_read_file(argv[optind], PL_ENV_MAX, &env, &len);
	if (rc)
		return rc;
	pl_env e;
	rc = pl_env_parse(env, len, &e);
	pl_env_clear(&e);
	if (rc) {
		free(env);
		return cli_fail(cli_exit_for(rc), "%s is not a valid envelope: %s", argv[optind],
				*pl_err_detail() ? pl_err_detail() : pl_strerror(rc));
	}
	cli_node *n = NULL;
	rc = cli_node_open(ctx, CLI_NODE_AUTH, &n);
	if (!rc)
		rc = submit(ctx, n, env, len);
	cli_node_free(n);
	free(env);
	return rc;
}

/* ---------------------------------------------------------------- walking channels */

/* Called for each envelope (the node's JSON view, borrowed); nonzero stops. */
typedef int (*env_fn)(void *arg, const char *ch, json_t *item);

static bool cursor_ok(const char *c)
{
	size_t n = strlen(c);
	if (n == 0 || n > 512)
		return false;
	for (size_t i = 0; i < n; i++) {
		char k = c[i];
		if (!((k >= '0' && k <= '9') || (k >= 'a' && k <= 'z') || (k >= 'A' && k <= 'Z') ||
		      k == '-' || k == '_' || k == '.' || k == '~'))
			return false;
	}
	return true;
}

/* Every envelope of channel ch, oldest first.  A 403 (the official may not
 * read ch) is skipped quietly when quiet_403. */
static int walk_channel(cli_node *n, const char *ch, bool quiet_403, env_fn fn, void *arg)
{
	char cursor[520] = "";
	for (;;) {
		char path[700];
		snprintf(path, sizeof(path), "/v1/channels/%s/envelopes?limit=%d%s%s", ch,
			 PAGE_SIZE, *cursor ? "&cursor=" : "", cursor);
		json_t *page = NULL;
		cli_problem pb;
		char what[128];
		snprintf(what, sizeof(what), "reading channel %s", ch);
		int rc = cli_node_call(n, "GET", path, NULL, what, &page, &pb);
		if (rc && quiet_403 && pb.status == 403)
			return 0;
		if (rc)
			return pb.status ? cli_node_report(&pb, what) : rc;
		size_t i;
		json_t *item;
		json_array_foreach(json_object_get(page, "items"), i, item)
		{
			rc = fn(arg, ch, item);
			if (rc)
				break;
		}
		const char *next = cli_json_str(page, "next", NULL);
		if (!rc && next && (!cursor_ok(next) || strcmp(next, cursor) == 0))
			rc = cli_fail(CLI_EXIT_FAIL, "the node's page cursor for %s is malformed",
				      ch);
		if (!rc && next)
			snprintf(cursor, sizeof(cursor), "%s", next);
		json_decref(page);
		if (rc || !next)
			return rc;
	}
}

/* Walk channel ch, or every channel the node holds. */
static int walk(cli_node *n, const char *ch, env_fn fn, void *arg)
{
	if (ch)
		return walk_channel(n, ch, false, fn, arg);
	json_t *list = NULL;
	int rc = cli_node_call(n, "GET", "/v1/channels", NULL, "listing channels", &list, NULL);
	size_t i;
	json_t *c;
	json_array_foreach(json_object_get(list, "channels"), i, c)
	{
		const char *name = cli_json_str(c, "name", "");
		if (!rc && pl_name_is_valid(name))
			rc = walk_channel(n, name, true, fn, arg);
	}
	json_decref(list);
	return rc;
}

/* ---------------------------------------------------------------- inbox */

struct inbox {
	json_t *all; /* the kept envelopes of the channels walked before */
	json_t *cur; /* the newest `limit` of the channel being walked */
	char ch[PL_NAME_MAX + 1];
	size_t limit;
};

/* Keeps the newest `limit` of each channel: the newest `limit` of all
 * channels are among them, as each channel's pages come oldest first. */
static int inbox_cb(void *arg, const char *ch, json_t *item)
{
	struct inbox *b = arg;
	if (strcmp(b->ch, ch) != 0) { /* the next channel */
		if (json_array_extend(b->all, b->cur) != 0)
			return cli_fail(CLI_EXIT_FAIL, "out of memory");
		json_array_clear(b->cur);
		snprintf(b->ch, sizeof(b->ch), "%s", ch);
	}
	if (json_array_append(b->cur, item) != 0)
		return cli_fail(CLI_EXIT_FAIL, "out of memory");
	if (json_array_size(b->cur) > b->limit)
		json_array_remove(b->cur, 0);
	return 0;
}

static int by_position(const void *a, const void *b)
{
	json_int_t x = json_integer_value(json_object_get(*(json_t *const *)a, "position"));
	json_int_t y = json_integer_value(json_object_get(*(json_t *const *)b, "position"));
	return (x > y) - (x < y);
}

/* all sorted by position, cut to the newest limit, as a new array. */
static json_t *newest(json_t *all, size_t limit)
{
	size_t n = json_array_size(all);
	json_t **v = calloc(n ? n : 1, sizeof(*v));
	json_t *out = json_array();
	if (!v || !out) {
		free(v);
		json_decref(out);
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		v[i] = json_array_get(all, i);
	qsort(v, n, sizeof(*v), by_position);
	for (size_t i = n > limit ? n - limit : 0; i < n; i++)
		json_array_append(out, v[i]);
	free(v);
	return out;
}

/*
 * The delivery state of this state's own envelopes from the one-envelope
 * view (GET /v1/envelopes/{id}), which the API documents as the place for
 * it; a page's items need not carry it.
 */
static int fill_delivery(cli_node *n, json_t *items)
{
	size_t i;
	json_t *e;
	json_array_foreach(items, i, e)
	{
		const char *id = cli_json_str(e, "id", "");
		if (strcmp(cli_json_str(e, "origin", ""), "local") != 0 ||
		    strlen(id) != HEX_ID_LEN || !is_hex(id, HEX_ID_LEN))
			continue;
		char path[128];
		snprintf(path, sizeof(path), "/v1/envelopes/%s", id);
		json_t *full = NULL;
		cli_problem pb;
		int rc = cli_node_call(n, "GET", path, NULL, "reading an envelope", &full, &pb);
		if (rc && pb.status == 0)
			return rc;
		json_t *d = json_object_get(full, "delivery");
		if (!rc && json_is_object(d))
			json_object_set(e, "delivery", d);
		json_decref(full);
	}
	return 0;
}

static int print_inbox(const json_t *items)
{
	static const char *const headers[] = {"ID",   "TIME", "CHANNEL",  "PRECEDENCE",
					      "FROM", "KIND", "DELIVERY", "BODY"};
	cli_table *t = cli_table_new(8, headers);
	if (!t)
		return cli_fail(CLI_EXIT_FAIL, "out of memory");
	size_t i;
	json_t *e;
	int rc = 0;
	json_array_foreach(items, i, e)
	{
		char id[SHORT_ID + 1], at[PL_TIME_LEN], ch[PL_NAME_MAX + 1], prec[16],
		    from[2 * PL_NAME_MAX + 2], kind[PL_NAME_MAX + 1], deliv[256], body[128];
		cli_text_copy(id, sizeof(id), cli_json_str(e, "id", "?"), false);
		cli_text_copy(at, sizeof(at), cli_json_str(e, "created", "?"), false);
		cli_text_copy(ch, sizeof(ch), cli_json_str(e, "channel", "?"), false);
		cli_text_copy(prec, sizeof(prec), cli_json_str(e, "precedence", "?"), false);
		snprintf(from, sizeof(from), "%s@%s", cli_json_str(e, "author", "?"),
			 cli_json_str(e, "state", "?"));
		cli_text_clean(from, false);
		cli_text_copy(kind, sizeof(kind), cli_json_str(e, "kind", "?"), false);
		delivery_summary(deliv, sizeof(deliv), e);
		preview(body, sizeof(body), e);
		const char *cells[] = {id, at, ch, prec, from, kind, deliv, body};
		if (cli_table_add(t, cells) != 0) {
			rc = cli_fail(CLI_EXIT_FAIL, "out of memory");
			break;
		}
	}
	if (!rc)
		cli_table_print(t);
	cli_table_free(t);
	return rc;
}

int cmd_inbox(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {{"channel", required_argument, NULL, 'c'},
					     {"limit", required_argument, NULL, 'l'},
					     {NULL, 0, NULL, 0}};
	const char *ch = NULL;
	long limit = INBOX_DEFAULT;
	int opt;
	while ((opt = cli_next_opt(argc, argv, opts)) != -1) {
		if (opt == 'c')
			ch = optarg;
		else if (opt != 'l' || parse_count("--limit", optarg, 100000, &limit))
			return CLI_EXIT_USAGE;
	}
	if (optind < argc)
		return cli_usage(cli_current, "unexpected argument '%s'", argv[optind]);
	if (ch && !pl_name_is_valid(ch))
		return cli_usage(cli_current, "'%s' is not a valid channel name", ch);
	cli_node *n = NULL;
	int rc = cli_node_open(ctx, CLI_NODE_AUTH, &n);
	if (rc)
		return rc;
	struct inbox b = {json_array(), json_array(), "", (size_t)limit};
	json_t *items = NULL;
	rc = b.all && b.cur ? walk(n, ch, inbox_cb, &b) : cli_fail(CLI_EXIT_FAIL, "out of memory");
	if (!rc) {
		json_array_extend(b.all, b.cur);
		items = newest(b.all, b.limit);
		rc = items ? fill_delivery(n, items) : cli_fail(CLI_EXIT_FAIL, "out of memory");
	}
	if (!rc && ctx->json) {
		rc = cli_print_json(items);
		items = NULL;
	} else if (!rc && json_array_size(items) == 0) {
		printf("no envelopes%s%s on node %s\n", ch ? " on channel " : "", ch ? ch : "",
		       cli_node_name(n));
	} else if (!rc) {
		rc = print_inbox(items);
	}
	json_decref(items);
	json_decref(b.all);
	json_decref(b.cur);
	cli_node_free(n);
	return rc;
}

/* ---------------------------------------------------------------- read */

struct find {
	const char *prefix;
	size_t len;
	json_t *match; /* the first match (a new reference) */
	size_t count;
};

static int find_cb(void *arg, const char *ch, json_t *item)
{
	struct find *f = arg;
	const char *id = cli_json_str(item, "id", "");
	if (strncmp(id, f->prefix, f->len) != 0)
		return 0;
	if (f->count++ == 0)
		f->match = json_incref(item);
	return 0;
}

/* Acknowledgements, read receipts and escalations of an envelope. */
static void print_receipts(const json_t *r)
{
	static const struct {
		const char *key, *label;
	} kinds[] = {{"acks", "acknowledged"}, {"reads", "read"}};
	bool any = false;
	for (size_t k = 0; k < 2; k++) {
		size_t i;
		json_t *v;
		json_array_foreach(json_object_get(r, kinds[k].key), i, v)
		{
			char who[2 * PL_NAME_MAX + 2], at[PL_TIME_LEN];
			snprintf(who, sizeof(who), "%s@%s", cli_json_str(v, "by", "?"),
				 cli_json_str(v, "state", "?"));
			cli_text_clean(who, false);
			cli_text_copy(at, sizeof(at), cli_json_str(v, "at", "?"), false);
			printf("%-12s %s by %s at %s\n", any ? "" : "receipts", kinds[k].label, who,
			       at);
			any = true;
		}
	}
	const char *dl = cli_json_str(r, "deadline", NULL);
	if (dl) {
		char d[PL_TIME_LEN];
		cli_text_copy(d, sizeof(d), dl, false);
		printf("%-12s %s%s\n", "ack deadline", d,
		       json_is_true(json_object_get(r, "overdue")) ? " (overdue)" : "");
	}
	size_t i;
	json_t *v;
	json_array_foreach(json_object_get(r, "escalations"), i, v)
	{
		char at[PL_TIME_LEN], who[256] = "";
		cli_text_copy(at, sizeof(at), cli_json_str(v, "at", "?"), false);
		size_t j, used = 0;
		json_t *t;
		json_array_foreach(json_object_get(v, "notify"), j, t)
		{
			int k = snprintf(who + used, sizeof(who) - used, "%s%s", j ? ", " : "",
					 json_string_value(t) ? json_string_value(t) : "?");
			if (k < 0 || (size_t)k >= sizeof(who) - used)
				break;
			used += (size_t)k;
		}
		cli_text_clean(who, false);
		printf("%-12s level %" JSON_INTEGER_FORMAT " (alert %" JSON_INTEGER_FORMAT
		       ") at %s: %s\n",
		       i ? "" : "escalated", json_integer_value(json_object_get(v, "level")),
		       json_integer_value(json_object_get(v, "attempt")), at, who);
	}
}

/* A form envelope's body as JSON (NULL when e is not a form or does not decode). */
static json_t *form_of(const json_t *e)
{
	const char *kind = cli_json_str(e, "kind", "");
	const char *b64 = cli_json_str(e, "body_b64", NULL);
	if (!pl_form_kind_is_form(kind) || !b64)
		return NULL;
	size_t cap = strlen(b64) / 4 * 3 + 3, n = 0;
	uint8_t *buf = malloc(cap);
	json_t *j = NULL;
	if (buf && pl_b64_decode(buf, cap, &n, b64, strlen(b64)) == 0) {
		if (strcmp(kind, PL_FORM_KIND_INCIDENT) == 0) {
			pl_incident f;
			if (pl_incident_decode(buf, n, &f, NULL) == 0)
				j = form_json_from_incident(&f);
		} else if (strcmp(kind, PL_FORM_KIND_REQUEST) == 0) {
			pl_request f;
			if (pl_request_decode(buf, n, &f, NULL) == 0)
				j = form_json_from_request(&f);
		} else {
			pl_request_step f;
			if (pl_request_step_decode(buf, n, &f, NULL) == 0)
				j = form_json_from_request_step(&f);
		}
	}
	free(buf);
	return j;
}

static void print_envelope(const json_t *e)
{
	char buf[512];
	static const struct {
		const char *label, *key;
	} rows[] = {{"envelope", "id"},   {"channel", "channel"}, {"precedence", "precedence"},
		    {"kind", "kind"},     {"created", "created"}, {"received", "received"},
		    {"origin", "origin"}, {"ack by", "ackby"},    {"answers", "ref"}};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const char *v = cli_json_str(e, rows[i].key, NULL);
		if (!v)
			continue;
		cli_text_copy(buf, sizeof(buf), v, false);
		printf("%-12s %s\n", rows[i].label, buf);
		if (i == 0) {
			char from[2 * PL_NAME_MAX + 2];
			snprintf(from, sizeof(from), "%s@%s", cli_json_str(e, "author", "?"),
				 cli_json_str(e, "state", "?"));
			cli_text_clean(from, false);
			printf("%-12s %s (seq %" JSON_INTEGER_FORMAT ")\n", "from", from,
			       json_integer_value(json_object_get(e, "seq")));
		}
	}
	printf("%-12s %" JSON_INTEGER_FORMAT " in this node's transcript\n", "position",
	       json_integer_value(json_object_get(e, "position")));
	const char *peer;
	json_t *v;
	bool any = false;
	json_object_foreach(json_object_get(e, "delivery"), peer, v)
	{
		char p[PL_NAME_MAX + 1], st[64], at[PL_TIME_LEN];
		cli_text_copy(p, sizeof(p), peer, false);
		cli_text_copy(st, sizeof(st), cli_json_str(v, "state", "?"), false);
		cli_text_copy(at, sizeof(at), cli_json_str(v, "at", "?"), false);
		printf("%-12s %s: %s at %s\n", any ? "" : "delivery", p, st, at);
		any = true;
	}
	if (!any)
		printf("%-12s %s\n", "delivery",
		       strcmp(cli_json_str(e, "origin", "local"), "local")
			   ? "received from a peer (not sent on from here)"
			   : "no peer state to deliver to");
	print_receipts(json_object_get(e, "receipts"));
	const char *body = cli_json_str(e, "body", NULL);
	json_t *form = form_of(e);
	if (form) {
		char *text = json_dumps(form, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		json_decref(form);
		if (text) {
			size_t n = strlen(text);
			char *copy = malloc(n + 1);
			if (copy) {
				cli_text_copy(copy, n + 1, text, true);
				printf("\n%s (checked by every node)\n%s\n", cli_json_str(e, "kind", "?"),
				       copy);
			}
			free(copy);
			free(text);
			return;
		}
	}
	if (body) {
		size_t n = strlen(body);
		char *copy = malloc(n + 1);
		if (!copy)
			return;
		cli_text_copy(copy, n + 1, body, true);
		printf("\n%s%s", copy, n && body[n - 1] == '\n' ? "" : "\n");
		free(copy);
	} else {
		printf("\n(a binary body of about %zu bytes: `parley --json read` gives it in "
		       "base64)\n",
		       strlen(cli_json_str(e, "body_b64", "")) / 4 * 3);
	}
}

int cmd_read(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {{NULL, 0, NULL, 0}};
	if (cli_next_opt(argc, argv, opts) != -1)
		return CLI_EXIT_USAGE;
	if (optind + 1 != argc)
		return cli_usage(cli_current, "give exactly one envelope id");
	const char *id = argv[optind];
	size_t len = strlen(id);
	if (len < 8 || len > HEX_ID_LEN || !is_hex(id, len))
		return cli_usage(cli_current,
				 "'%s' is not an envelope id: 64 lower-case hex digits, or a "
				 "prefix of 8 or more (as `parley inbox` shows)",
				 id);
	cli_node *n = NULL;
	int rc = cli_node_open(ctx, CLI_NODE_AUTH, &n);
	if (rc)
		return rc;
	json_t *e = NULL;
	if (len == HEX_ID_LEN) {
		char path[128];
		snprintf(path, sizeof(path), "/v1/envelopes/%s", id);
		cli_problem pb;
		rc = cli_node_call(n, "GET", path, NULL, "reading the envelope", &e, &pb);
		if (rc && pb.status == 404)
			rc = cli_fail(rc, "node %s holds no envelope %s", cli_node_name(n), id);
		else if (rc && pb.status)
			rc = cli_node_report(&pb, "reading the envelope");
	} else {
		struct find f = {id, len, NULL, 0};
		rc = walk(n, NULL, find_cb, &f);
		if (!rc && f.count == 0)
			rc = cli_fail(CLI_EXIT_NOTFOUND,
				      "node %s holds no envelope whose id starts %s",
				      cli_node_name(n), id);
		else if (!rc && f.count > 1)
			rc = cli_fail(CLI_EXIT_USAGE,
				      "%zu envelopes have ids starting %s: give more digits",
				      f.count, id);
		const char *full = cli_json_str(f.match, "id", "");
		if (!rc && strlen(full) == HEX_ID_LEN && is_hex(full, HEX_ID_LEN)) {
			/* the one-envelope view, with the delivery state */
			char path[128];
			snprintf(path, sizeof(path), "/v1/envelopes/%s", full);
			rc = cli_node_call(n, "GET", path, NULL, "reading the envelope", &e, NULL);
		} else if (!rc) {
			rc = cli_fail(CLI_EXIT_FAIL, "the node's envelope has no valid id");
		}
		json_decref(f.match);
	}
	if (!rc && ctx->json) {
		rc = cli_print_json(e);
		e = NULL;
	} else if (!rc) {
		print_envelope(e);
	}
	json_decref(e);
	cli_node_free(n);
	return rc;
}

/* ---------------------------------------------------------------- watch */

struct watch {
	cli_ctx *ctx;
	cli_node *n;
	const char *ch;
	long count, seen;
	char ids[WATCH_IDS][HEX_ID_LEN + 1]; /* envelopes of ch shown, for their receipts */
	size_t next_id;
};

static bool watch_knows(const struct watch *w, const char *id)
{
	for (size_t i = 0; i < WATCH_IDS; i++)
		if (w->ids[i][0] && strcmp(w->ids[i], id) == 0)
			return true;
	return false;
}

/* Is the event about the watched channel? */
static bool watch_wants(struct watch *w, const char *type, const json_t *d)
{
	if (!w->ch)
		return true;
	if (strcmp(type, "receipt") == 0)
		return watch_knows(w, cli_json_str(d, "id", ""));
	const char *ch = cli_json_str(d, "channel", NULL);
	if (!ch || strcmp(ch, w->ch) != 0)
		return false;
	const char *id = cli_json_str(d, "id", "");
	if (strcmp(type, "envelope") == 0 && strlen(id) == HEX_ID_LEN) {
		memcpy(w->ids[w->next_id], id, HEX_ID_LEN + 1);
		w->next_id = (w->next_id + 1) % WATCH_IDS;
	}
	return true;
}

static void watch_line(const char *type, const json_t *d, const char *raw)
{
	char now[PL_TIME_LEN], line[512];
	pl_time_format(now, (int64_t)time(NULL));
	if (strcmp(type, "envelope") == 0) {
		char body[128];
		preview(body, sizeof(body), d);
		snprintf(line, sizeof(line), "%s %s from %s@%s (%s) %.*s: %s",
			 cli_json_str(d, "channel", "?"), cli_json_str(d, "precedence", "?"),
			 cli_json_str(d, "author", "?"), cli_json_str(d, "state", "?"),
			 cli_json_str(d, "kind", "?"), SHORT_ID, cli_json_str(d, "id", "?"), body);
	} else if (strcmp(type, "receipt") == 0) {
		snprintf(line, sizeof(line), "%.*s %s to %s", SHORT_ID, cli_json_str(d, "id", "?"),
			 cli_json_str(d, "state", "?"), cli_json_str(d, "peer", "?"));
	} else if (strcmp(type, "link") == 0) {
		const char *peer = cli_json_str(d, "peer", "?");
		const char *node = cli_json_str(d, "node", NULL);
		const char *why = cli_json_str(d, "reason", NULL);
		if (json_is_true(json_object_get(d, "up")))
			snprintf(line, sizeof(line), "%s up%s%s%s", peer, node ? " (node " : "",
				 node ? node : "", node ? ")" : "");
		else
			snprintf(line, sizeof(line), "%s down%s%s", peer, why ? ": " : "",
				 why ? why : "");
	} else if (strcmp(type, "charter") == 0) {
		snprintf(line, sizeof(line), "%s version %" JSON_INTEGER_FORMAT " %s",
			 cli_json_str(d, "channel", "?"),
			 json_integer_value(json_object_get(d, "version")),
			 json_is_true(json_object_get(d, "complete")) ? "complete"
								      : "waiting for signatures");
	} else {
		snprintf(line, sizeof(line), "%s", raw);
	}
	cli_text_clean(line, false);
	char t[PL_NAME_MAX + 1];
	cli_text_copy(t, sizeof(t), type, false);
	printf("%s %-8s %s\n", now, t, line);
}

static int watch_cb(void *arg, const char *type, const char *data)
{
	struct watch *w = arg;
	if (!type) {
		fprintf(stderr, "watching the events of node %s%s%s (Ctrl-C to stop)\n",
			cli_node_name(w->n), w->ch ? " on channel " : "", w->ch ? w->ch : "");
		fflush(stderr);
		return 0;
	}
	json_t *d = json_loads(data, 0, NULL);
	if (!watch_wants(w, type, d)) {
		json_decref(d);
		return 0;
	}
	if (w->ctx->json) {
		json_t *line = json_pack("{s:s,s:o}", "event", type, "data",
					 d ? json_incref(d) : json_string(data));
		cli_print_json(line);
	} else {
		watch_line(type, d, data);
	}
	fflush(stdout);
	json_decref(d);
	w->seen++;
	return w->count && w->seen >= w->count;
}

int cmd_watch(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {{"channel", required_argument, NULL, 'c'},
					     {"count", required_argument, NULL, 'n'},
					     {"timeout", required_argument, NULL, 't'},
					     {"precedence", required_argument, NULL, 'p'},
					     {NULL, 0, NULL, 0}};
	/* the node filters by precedence (GET /v1/events?lanes=) */
	char path[64] = "/v1/events";
	bool lanes[PL_LANE_ROUTINE + 1] = {false};
	pl_lane lane;
	struct watch *w = calloc(1, sizeof(*w));
	if (!w)
		return cli_fail(CLI_EXIT_FAIL, "out of memory");
	w->ctx = ctx;
	long timeout = 0;
	int opt, rc = 0;
	while ((opt = cli_next_opt(argc, argv, opts)) != -1) {
		if (opt == 'c')
			w->ch = optarg;
		else if (opt == 'n')
			rc = parse_count("--count", optarg, 1000000, &w->count);
		else if (opt == 't')
			rc = parse_count("--timeout", optarg, 86400, &timeout);
		else if (opt == 'p' && (rc = cli_parse_precedence(optarg, &lane)) == 0)
			lanes[lane] = true;
		else if (opt != 'p')
			rc = CLI_EXIT_USAGE;
		if (rc)
			break;
	}
	for (int l = PL_LANE_FLASH; l <= PL_LANE_ROUTINE; l++)
		if (lanes[l])
			snprintf(path + strlen(path), sizeof(path) - strlen(path), "%s%s",
				 strchr(path, '?') ? "," : "?lanes=", pl_lane_name((pl_lane)l));
	if (!rc && optind < argc)
		rc = cli_usage(cli_current, "unexpected argument '%s'", argv[optind]);
	if (!rc && w->ch && !pl_name_is_valid(w->ch))
		rc = cli_usage(cli_current, "'%s' is not a valid channel name", w->ch);
	if (!rc)
		rc = cli_node_open(ctx, CLI_NODE_AUTH, &w->n);
	bool timed_out = false;
	if (!rc)
		rc = cli_node_events(w->n, path, timeout * 1000, watch_cb, w, &timed_out);
	if (!rc && timed_out && w->count && w->seen < w->count)
		rc = cli_fail(CLI_EXIT_FAIL, "watch: %ld of %ld events in %ld s", w->seen, w->count,
			      timeout);
	cli_node_free(w->n);
	free(w);
	return rc;
}
