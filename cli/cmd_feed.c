/* SPDX-License-Identifier: Apache-2.0 */
/*
 * parley feed: a machine feed's envelopes, batch-signed (docs/formats.md,
 * "Batch-signed envelopes").  Each line of the input is the body of one
 * envelope; every --batch lines are signed with one signature
 * (pl_env_sign_batch) and submitted in one request.  The input may be a
 * pipe from a sensor that writes a line now and then: a batch that has
 * waited --flush-ms for its next line goes as it is.  Stops at the first
 * refusal, saying how far it got; nothing is signed twice.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"
#include "http.h"
#include "parley/channel.h"
#include "parley/crypto.h"
#include "parley/err.h"

#define FEED_BATCH_DEFAULT 64
#define FEED_BATCH_MAX     256   /* one request: POST /v1/envelopes takes 256 */
#define FEED_LINE_MAX      65536 /* a reading, not a document: use send for those */
#define FEED_FLUSH_DEFAULT 1000  /* ms */

/* A line reader over a file descriptor, with a deadline for the next line. */
struct lines {
	int fd;
	char *buf;
	size_t len, cap;
	bool eof;
	long lineno;
	char *held; /* the line last returned */
};

/* Next line into *line (NUL-terminated, without its newline; r->held owns
 * it until the next call, unless the caller takes it and clears r->held): 1; 0 at the end; 2 when wait_ms passed with no whole
 * line (wait_ms < 0: wait for ever); or an exit code (negative) reported. */
static int next_line(struct lines *r, char **line, size_t *n, int wait_ms)
{
	free(r->held);
	r->held = NULL;
	for (;;) {
		char *nl = r->len ? memchr(r->buf, '\n', r->len) : NULL;
		if (nl || (r->eof && r->len)) {
			size_t k = nl ? (size_t)(nl - r->buf) : r->len;
			char *held = malloc(k + 1);
			if (!held)
				return -cli_fail(CLI_EXIT_FAIL, "out of memory");
			memcpy(held, r->buf, k);
			held[k] = 0;
			r->held = held;
			size_t used = nl ? k + 1 : k;
			memmove(r->buf, r->buf + used, r->len - used);
			r->len -= used;
			r->lineno++;
			*line = held;
			*n = k;
			return 1;
		}
		if (r->eof)
			return 0;
		if (r->len >= FEED_LINE_MAX)
			return -cli_fail(CLI_EXIT_USAGE, "line %ld is over %d bytes", r->lineno + 1,
					 FEED_LINE_MAX);
		struct pollfd p = {.fd = r->fd, .events = POLLIN};
		int pr = poll(&p, 1, wait_ms);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr < 0)
			return -cli_fail(CLI_EXIT_FAIL, "reading the input: %s", strerror(errno));
		if (pr == 0)
			return 2;
		if (r->cap - r->len < 4096) {
			size_t cap = r->cap ? r->cap * 2 : 8192;
			char *b = realloc(r->buf, cap);
			if (!b)
				return -cli_fail(CLI_EXIT_FAIL, "out of memory");
			r->buf = b;
			r->cap = cap;
		}
		ssize_t got = read(r->fd, r->buf + r->len, r->cap - r->len);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return -cli_fail(CLI_EXIT_FAIL, "reading the input: %s", strerror(errno));
		if (got == 0)
			r->eof = true;
		r->len += (size_t)got;
	}
}

struct feed {
	cli_ctx *ctx;
	cli_node *n;
	pl_env tmpl; /* channel, lane, kind, author; seq and prev advance */
	pl_env e[FEED_BATCH_MAX];
	char *body[FEED_BATCH_MAX];
	size_t nb; /* lines in the batch */
	long sent, batches;
};

/* Sign the batch (alone when it has one envelope) and submit it. */
static int flush(struct feed *f)
{
	if (f->nb == 0)
		return 0;
	uint8_t *env[FEED_BATCH_MAX];
	size_t len[FEED_BATCH_MAX];
	uint8_t id[FEED_BATCH_MAX][PL_HASH_BYTES];
	int rc = f->nb == 1 ? pl_env_sign(&f->e[0], cli_node_key(f->n), &env[0], &len[0])
			    : pl_env_sign_batch(f->e, f->nb, cli_node_key(f->n), env, len);
	if (rc)
		return cli_err(rc, "signing the batch");
	json_t *arr = json_array();
	for (size_t i = 0; i < f->nb; i++) {
		pl_env_id(id[i], env[i], len[i]);
		char *b64 = malloc(pl_b64_len(len[i]));
		if (b64) {
			pl_b64_encode(b64, env[i], len[i]);
			json_array_append_new(arr, json_string(b64));
		}
		free(b64);
		free(env[i]);
	}
	json_t *ans = NULL;
	cli_problem pb;
	memset(&pb, 0, sizeof(pb));
	rc = json_array_size(arr) == f->nb ? 0 : cli_fail(CLI_EXIT_FAIL, "out of memory");
	json_t *req = rc ? NULL : json_pack("{s:o}", "envelopes", arr); /* takes arr */
	if (rc)
		json_decref(arr);
	else if (!req)
		rc = cli_fail(CLI_EXIT_FAIL, "out of memory");
	if (!rc)
		rc = cli_node_call(f->n, "POST", "/v1/envelopes", req, "submitting the batch", &ans,
				   &pb);
	json_decref(req);
	if (rc && pb.status)
		rc = cli_node_report(&pb, "submitting the batch");
	json_t *res = json_object_get(ans, "results");
	size_t ok = 0;
	for (size_t i = 0; !rc && i < f->nb; i++) {
		json_t *r = json_array_get(res, i);
		json_int_t st = json_integer_value(json_object_get(r, "status"));
		char hex[2 * PL_HASH_BYTES + 1];
		pl_hex_encode(hex, id[i], PL_HASH_BYTES);
		if (st != 200 && st != 201)
			rc = cli_fail(st == 422 ? CLI_EXIT_REFUSED : CLI_EXIT_FAIL,
				      "node %s refused envelope %.8s (seq %llu): %s: %s",
				      cli_node_name(f->n), hex, (unsigned long long)f->e[i].seq,
				      cli_json_str(r, "type", "?"), cli_json_str(r, "detail", ""));
		else if (strcmp(cli_json_str(r, "id", ""), hex) != 0)
			rc = cli_fail(CLI_EXIT_FAIL, "node %s answered with id %s for envelope %s",
				      cli_node_name(f->n), cli_json_str(r, "id", "(none)"), hex);
		else
			ok++;
	}
	json_decref(ans);
	f->sent += (long)ok;
	if (!rc) {
		f->batches++;
		if (f->ctx->json)
			rc = cli_print_json(json_pack(
			    "{s:I,s:I,s:I,s:I}", "envelopes", (json_int_t)f->nb, "first_seq",
			    (json_int_t)f->e[0].seq, "last_seq", (json_int_t)f->e[f->nb - 1].seq,
			    "signatures", (json_int_t)1));
		else
			printf(
			    "batch %ld: %zu envelope%s accepted, seq %llu..%llu, one signature\n",
			    f->batches, f->nb, f->nb == 1 ? "" : "s",
			    (unsigned long long)f->e[0].seq,
			    (unsigned long long)f->e[f->nb - 1].seq);
		fflush(stdout);
	}
	for (size_t i = 0; i < f->nb; i++) {
		free(f->body[i]);
		f->body[i] = NULL;
	}
	f->nb = 0;
	return rc;
}

/* Add one line (taken) to the batch, chained to the one before by its batch id. */
static int add(struct feed *f, char *line, size_t n)
{
	pl_env *e = &f->e[f->nb];
	*e = f->tmpl;
	e->at = (int64_t)time(NULL);
	e->body = (const uint8_t *)line;
	e->body_len = n;
	f->body[f->nb++] = line;
	/* the next one's prev: this one's id once batch-signed */
	int rc = pl_env_batch_id(e, f->tmpl.prev);
	if (rc)
		return cli_err(rc, "an envelope of the feed");
	f->tmpl.seq++;
	return 0;
}

int cmd_feed(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {{"channel", required_argument, NULL, 'c'},
					     {"precedence", required_argument, NULL, 'p'},
					     {"kind", required_argument, NULL, 'k'},
					     {"batch", required_argument, NULL, 'b'},
					     {"flush-ms", required_argument, NULL, 'w'},
					     {NULL, 0, NULL, 0}};
	const char *ch = NULL, *kind = "message";
	pl_lane lane = PL_LANE_ROUTINE;
	long batch = FEED_BATCH_DEFAULT, flush_ms = FEED_FLUSH_DEFAULT;
	int opt;
	while ((opt = cli_next_opt(argc, argv, opts)) != -1) {
		char *end = NULL;
		switch (opt) {
		case 'c':
			ch = optarg;
			break;
		case 'k':
			kind = optarg;
			break;
		case 'p':
			if (cli_parse_precedence(optarg, &lane))
				return CLI_EXIT_USAGE;
			break;
		case 'b':
			batch = strtol(optarg, &end, 10);
			if (!*optarg || *end || batch < PL_ENV_BATCH_MIN || batch > FEED_BATCH_MAX)
				return cli_usage(cli_current, "--batch must be %d..%d, not '%s'",
						 PL_ENV_BATCH_MIN, FEED_BATCH_MAX, optarg);
			break;
		case 'w':
			flush_ms = strtol(optarg, &end, 10);
			if (!*optarg || *end || flush_ms < 0 || flush_ms > 3600000)
				return cli_usage(
				    cli_current,
				    "--flush-ms must be 0..3600000 (milliseconds), not '%s'",
				    optarg);
			break;
		default:
			return CLI_EXIT_USAGE;
		}
	}
	const char *file = optind < argc ? argv[optind++] : "-";
	if (optind < argc)
		return cli_usage(cli_current, "unexpected argument '%s' (one input at most)",
				 argv[optind]);
	if (cli_check_channel_kind(ch, kind))
		return CLI_EXIT_USAGE;
	struct lines r = {.fd = 0};
	if (strcmp(file, "-") != 0) {
		r.fd = open(file, O_RDONLY | O_CLOEXEC);
		if (r.fd < 0)
			return cli_fail(errno == ENOENT ? CLI_EXIT_NOTFOUND : CLI_EXIT_FAIL,
					"cannot read %s: %s", file, strerror(errno));
	}
	struct feed *f = calloc(1, sizeof(*f));
	if (!f) {
		if (r.fd > 0)
			close(r.fd);
		return cli_fail(CLI_EXIT_FAIL, "out of memory");
	}
	f->ctx = ctx;
	int rc = cli_node_open(ctx, CLI_NODE_AUTH | CLI_NODE_KEEP_KEY, &f->n);
	if (!rc)
		rc = cli_next_seq(f->n, ch, lane, &f->tmpl);
	if (!rc) {
		snprintf(f->tmpl.ch, sizeof(f->tmpl.ch), "%s", ch);
		snprintf(f->tmpl.state, sizeof(f->tmpl.state), "%s", cli_node_state(f->n));
		snprintf(f->tmpl.author, sizeof(f->tmpl.author), "%s", cli_node_official(f->n));
		snprintf(f->tmpl.kind, sizeof(f->tmpl.kind), "%s", kind);
		f->tmpl.lane = lane;
	}
	while (!rc) {
		char *line = NULL;
		size_t n = 0;
		int got = next_line(&r, &line, &n, f->nb ? (int)flush_ms : -1);
		if (got < 0) {
			rc = -got;
		} else if (got == 0) {
			rc = flush(f);
			break;
		} else if (got == 2) {
			rc = flush(f); /* the input is quiet: what waits goes now */
		} else if (n > 0) {
			r.held = NULL; /* the batch owns the line now */
			rc = add(f, line, n);
			if (!rc && f->nb == (size_t)batch)
				rc = flush(f);
		}
	}
	if (!ctx->json)
		fprintf(rc ? stderr : stdout, "feed: %ld envelope%s accepted in %ld batch%s%s\n",
			f->sent, f->sent == 1 ? "" : "s", f->batches, f->batches == 1 ? "" : "es",
			rc ? "; stopped" : "");
	for (size_t i = 0; i < f->nb; i++)
		free(f->body[i]);
	free(r.buf);
	free(r.held);
	if (r.fd > 0)
		close(r.fd);
	cli_node_free(f->n);
	free(f);
	return rc;
}
