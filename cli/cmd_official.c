/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `parley official ...`: issuing credentials, changing their status
 * (suspend, recall, restore, revoke) through the signed status list, and
 * showing and verifying them.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "http.h"
#include "parley/err.h"
#include "parley/file.h"
#include "parley/time.h"

#define CRED_FILE_MAX (64 * 1024)

/* Load a stored credential by id; reports "unknown official" itself. */
static int load_cred(cli_ctx *ctx, const pl_trust *t, const char *id, pl_cred *out,
		     uint8_t **raw, size_t *rawlen)
{
	if (!pl_name_is_valid(id))
		return cli_usage(cli_current, "'%s' is not a valid credential id", id);
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc = pl_store_get(ctx->store, KIND_CRED, id, &buf, &len);
	if (rc == PL_ERR_NOT_FOUND)
		return cli_fail(CLI_EXIT_NOTFOUND,
				"unknown official '%s' in state %s (see `parley official list`)", id,
				ctx->self.name);
	if (rc)
		return cli_err(rc, "reading the credential");
	rc = pl_cred_open(buf, len, t, out);
	if (rc) {
		free(buf);
		return cli_err(rc, id);
	}
	if (raw) {
		*raw = buf;
		*rawlen = len;
	} else {
		free(buf);
	}
	return 0;
}

static json_t *names_json(char (*names)[PL_NAME_MAX + 1], size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < n; i++)
		json_array_append_new(a, json_string(names[i]));
	return a;
}

static void names_join(char *out, size_t cap, char (*names)[PL_NAME_MAX + 1], size_t n)
{
	size_t used = 0;
	out[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		int k = snprintf(out + used, cap - used, "%s%s", i ? "," : "", names[i]);
		if (k < 0 || (size_t)k >= cap - used)
			break;
		used += (size_t)k;
	}
}

/* ---------------------------------------------------------------- issue */

int cmd_official_issue(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{"id", required_argument, NULL, 'i'},     {"name", required_argument, NULL, 'n'},
		{"title", required_argument, NULL, 't'},  {"role", required_argument, NULL, 'r'},
		{"scope", required_argument, NULL, 's'},  {"pubkey", required_argument, NULL, 'p'},
		{"key", required_argument, NULL, 'k'},    {"from", required_argument, NULL, 'F'},
		{"days", required_argument, NULL, 'd'},   {"until", required_argument, NULL, 'u'},
		{"out", required_argument, NULL, 'o'},    {"force", no_argument, NULL, 'f'},
		{NULL, 0, NULL, 0}};
	pl_cred c;
	memset(&c, 0, sizeof(c));
	const char *id = NULL, *name = NULL, *title = NULL, *pubkey = NULL, *keyfile = NULL,
		   *out = NULL;
	int64_t from = ctx->now, days = 365, until = 0;
	bool force = false, have_until = false, have_days = false;
	int opt;
	while ((opt = cli_next_opt(argc, argv, opts)) != -1) {
		switch (opt) {
		case 'i': id = optarg; break;
		case 'n': name = optarg; break;
		case 't': title = optarg; break;
		case 'p': pubkey = optarg; break;
		case 'k': keyfile = optarg; break;
		case 'o': out = optarg; break;
		case 'f': force = true; break;
		case 'r':
		case 's': {
			bool role = opt == 'r';
			size_t *n = role ? &c.nroles : &c.nscope;
			if (*n == (role ? PL_ROLES_MAX : PL_SCOPE_MAX))
				return cli_usage(cli_current, "at most %d %s", PL_ROLES_MAX,
						 role ? "roles" : "channels");
			if (!pl_name_is_valid(optarg))
				return cli_usage(cli_current,
						 "%s '%s' is not valid: use a-z 0-9 . _ -",
						 role ? "role" : "channel", optarg);
			char *dst = role ? c.roles[*n] : c.scope[*n];
			memcpy(dst, optarg, strlen(optarg) + 1);
			(*n)++;
			break;
		}
		case 'F':
			if (cli_parse_time(ctx, "--from", optarg, &from))
				return CLI_EXIT_USAGE;
			break;
		case 'd':
			if (cli_parse_days(optarg, &days))
				return CLI_EXIT_USAGE;
			have_days = true;
			break;
		case 'u':
			if (cli_parse_time(ctx, "--until", optarg, &until))
				return CLI_EXIT_USAGE;
			have_until = true;
			break;
		default:
			return CLI_EXIT_USAGE;
		}
	}
	if (optind < argc)
		return cli_usage(cli_current, "unexpected argument '%s'", argv[optind]);
	if (!id || !name || !title || c.nroles == 0)
		return cli_usage(cli_current, "--id, --name, --title and at least one --role are required");
	if (!pubkey == !keyfile)
		return cli_usage(cli_current, "give the official's key with --pubkey or --key (one of them)");
	if (have_days && have_until)
		return cli_usage(cli_current, "give --days or --until, not both");
	if (!pl_name_is_valid(id))
		return cli_usage(cli_current, "credential id '%s' is not valid: use 1-63 of a-z 0-9 . _ -", id);
	if (strlen(name) > PL_TEXT_MAX || strlen(title) > PL_TEXT_MAX)
		return cli_usage(cli_current, "--name and --title are at most %d bytes", PL_TEXT_MAX);
	memcpy(c.id, id, strlen(id) + 1);
	memcpy(c.name, name, strlen(name) + 1);
	memcpy(c.title, title, strlen(title) + 1);
	c.not_before = from;
	c.not_after = have_until ? until : from + days * 86400;
	if (c.not_after <= c.not_before)
		return cli_usage(cli_current, "the credential would expire before it starts");
	if (pubkey) {
		size_t n = 0;
		if (pl_b64_decode(c.pk, sizeof(c.pk), &n, pubkey, strlen(pubkey)) != 0 ||
		    n != PL_PK_BYTES)
			return cli_usage(cli_current,
					 "--pubkey must be a base64 Ed25519 public key (as printed "
					 "by `parley key show`)");
	} else {
		int rc = pl_keyfile_public(keyfile, c.pk, NULL, 0);
		if (rc)
			return cli_fail(cli_exit_for(rc), "%s: %s", keyfile,
					*pl_err_detail() ? pl_err_detail() : pl_strerror(rc));
	}
	int rc = cli_open_home(ctx);
	if (rc)
		return rc;
	memcpy(c.state, ctx->self.name, strlen(ctx->self.name) + 1);
	uint8_t *old = NULL;
	size_t oldlen = 0;
	rc = pl_store_get(ctx->store, KIND_CRED, id, &old, &oldlen);
	free(old);
	if (rc == 0 && !force)
		return cli_fail(CLI_EXIT_EXISTS,
				"official '%s' already has a credential (use --force to re-issue it)",
				id);
	if (rc && rc != PL_ERR_NOT_FOUND)
		return cli_err(rc, "reading the registry");
	pl_trust *t = NULL;
	pl_status_list sl;
	rc = cli_load_trust(ctx, &t);
	if (rc)
		return rc;
	rc = cli_load_status(ctx, t, ctx->self.name, &sl);
	pl_trust_free(t);
	if (rc)
		return rc;
	pl_status now_status = pl_status_at(&sl, id, INT64_MAX);
	pl_status_list_clear(&sl);
	if (now_status == PL_STATUS_REVOKED)
		return cli_fail(CLI_EXIT_REFUSED,
				"'%s' is revoked for good: issue the credential under a new id", id);
	pl_keypair root;
	rc = cli_unlock_root(ctx, &root);
	if (rc)
		return rc;
	uint8_t *buf = NULL;
	size_t len = 0;
	rc = pl_cred_sign(&c, &root, &buf, &len);
	pl_key_wipe(&root);
	if (rc)
		return cli_err(rc, "signing the credential");
	char dir[4096], path[4096];
	if (cli_path(dir, sizeof(dir), ctx, "officials") ||
	    cli_path(path, sizeof(path), ctx, "officials/%s.cred", id)) {
		free(buf);
		return CLI_EXIT_FAIL;
	}
	rc = pl_store_put(ctx->store, KIND_CRED, id, buf, len, 0);
	if (!rc)
		rc = cli_write_public(dir, path, buf, len);
	if (!rc && out)
		rc = pl_file_write_atomic(out, buf, len, 0644, PL_FILE_REPLACE);
	free(buf);
	if (rc)
		return cli_err(rc, "saving the credential");
	char b64[64], f[PL_TIME_LEN], u[PL_TIME_LEN], roles[PL_ROLES_MAX * (PL_NAME_MAX + 1)];
	cli_b64(b64, c.pk, PL_PK_BYTES);
	pl_time_format(f, c.not_before);
	pl_time_format(u, c.not_after);
	names_join(roles, sizeof(roles), c.roles, c.nroles);
	if (ctx->json)
		return cli_print_json(json_pack("{s:s,s:s,s:s,s:s,s:o,s:o,s:s,s:s,s:s,s:s}", "id", id,
						"state", c.state, "name", name, "title", title,
						"roles", names_json(c.roles, c.nroles), "scope",
						names_json(c.scope, c.nscope), "public_key", b64,
						"valid_from", f, "valid_until", u, "file", path));
	printf("issued credential %s@%s\n  %s, %s\n  roles        %s\n  valid        %s .. %s\n"
	       "  file         %s\n",
	       id, c.state, name, title, roles, f, u, path);
	return 0;
}

/* ---------------------------------------------------------------- status changes */

/*
 * Hand the new signed status list to the state's node (POST
 * /v1/status-lists), which enforces it at once and passes it to every
 * peer.  A node that cannot be reached is not an error of the command (the
 * change is made and saved; administration works offline): it is said, with
 * what to do.  A node that refuses the list is.  0 or an exit code.
 */
static int push_status(cli_ctx *ctx, const uint8_t *buf, size_t len, bool must)
{
	cli_node *n = NULL;
	int rc = cli_node_open(ctx, 0, &n);
	if (rc) {
		fprintf(stderr, "parley: the status list is saved in the home folder, but no node "
				"took it: run `parley official push` once the node is up\n");
		return must ? rc : 0;
	}
	char *b64 = malloc(pl_b64_len(len));
	json_t *req = NULL;
	if (!b64)
		rc = cli_fail(CLI_EXIT_FAIL, "out of memory");
	if (!rc) {
		pl_b64_encode(b64, buf, len);
		req = json_pack("{s:s}", "status_list", b64);
		rc = cli_node_call(n, "POST", "/v1/status-lists", req,
				   "handing the status list to the node", NULL, NULL);
	}
	if (!rc && !ctx->json)
		printf("  node %s took it and passes it to its peers\n", cli_node_name(n));
	json_decref(req);
	free(b64);
	cli_node_free(n);
	return rc;
}

static int change_status(cli_ctx *ctx, int argc, char **argv, pl_status to)
{
	static const struct option opts[] = {{"reason", required_argument, NULL, 'r'},
					     {"at", required_argument, NULL, 'a'},
					     {"no-push", no_argument, NULL, 'n'},
					     {NULL, 0, NULL, 0}};
	const char *reason = "";
	int64_t at = ctx->now;
	bool push = true;
	int opt;
	while ((opt = cli_next_opt(argc, argv, opts)) != -1) {
		if (opt == 'r')
			reason = optarg;
		else if (opt == 'n')
			push = false;
		else if (opt == 'a') {
			if (cli_parse_time(ctx, "--at", optarg, &at))
				return CLI_EXIT_USAGE;
		} else
			return CLI_EXIT_USAGE;
	}
	if (optind + 1 != argc)
		return cli_usage(cli_current, "give exactly one credential id");
	const char *id = argv[optind];
	if (strlen(reason) > PL_TEXT_MAX)
		return cli_usage(cli_current, "--reason is at most %d bytes", PL_TEXT_MAX);
	pl_trust *t = NULL;
	int rc = cli_load_trust(ctx, &t);
	if (rc)
		return rc;
	pl_cred c;
	pl_status_list sl = {0};
	rc = load_cred(ctx, t, id, &c, NULL, NULL);
	if (!rc)
		rc = cli_load_status(ctx, t, ctx->self.name, &sl);
	pl_trust_free(t);
	if (rc)
		goto out;
	rc = pl_status_list_append(&sl, id, to, at, reason, ctx->now);
	if (rc) {
		rc = cli_fail(cli_exit_for(rc), "cannot %s %s: %s",
			      to == PL_STATUS_SUSPENDED   ? "suspend"
			      : to == PL_STATUS_RECALLED  ? "recall"
			      : to == PL_STATUS_RESTORED  ? "restore"
							  : "revoke",
			      id, pl_err_detail());
		goto out;
	}
	pl_keypair root;
	rc = cli_unlock_root(ctx, &root);
	if (rc)
		goto out;
	uint8_t *buf = NULL;
	size_t len = 0;
	rc = pl_status_list_sign(&sl, &root, &buf, &len);
	pl_key_wipe(&root);
	if (rc) {
		rc = cli_err(rc, "signing the status list");
		goto out;
	}
	char path[4096];
	rc = cli_path(path, sizeof(path), ctx, "status.list");
	if (!rc) {
		rc = pl_store_put(ctx->store, KIND_STATUS, ctx->self.name, buf, len, 0);
		if (!rc)
			rc = pl_file_write_atomic(path, buf, len, 0644, PL_FILE_REPLACE);
		if (rc)
			rc = cli_err(rc, "saving the status list");
	}
	if (rc) {
		free(buf);
		goto out;
	}
	char when[PL_TIME_LEN];
	pl_time_format(when, at);
	if (ctx->json)
		rc = cli_print_json(json_pack("{s:s,s:s,s:s,s:s,s:I,s:s}", "id", id, "status",
					      pl_status_name(to), "effective", when, "reason",
					      reason, "status_list_version",
					      (json_int_t)sl.version, "file", path));
	else
		printf("%s %s@%s (%s, %s) effective %s%s%s\n  status list version %llu -> %s\n",
		       pl_status_name(to), id, c.state, c.name, c.title, when,
		       *reason ? ": " : "", reason, (unsigned long long)sl.version, path);
	if (!rc && push)
		rc = push_status(ctx, buf, len, false);
	free(buf);
out:
	pl_status_list_clear(&sl);
	return rc;
}

int cmd_official_push(cli_ctx *ctx, int argc, char **argv)
{
	int rc = cli_no_args(argc, argv);
	if (!rc)
		rc = cli_open_home(ctx);
	if (rc)
		return rc;
	uint8_t *buf = NULL;
	size_t len = 0;
	rc = pl_store_get(ctx->store, KIND_STATUS, ctx->self.name, &buf, &len);
	if (rc == PL_ERR_NOT_FOUND)
		return cli_fail(CLI_EXIT_NOTFOUND,
				"%s has no status list yet: nothing was suspended, recalled, "
				"restored or revoked",
				ctx->self.name);
	if (rc)
		return cli_err(rc, "reading the status list");
	rc = push_status(ctx, buf, len, true);
	free(buf);
	if (!rc && ctx->json)
		rc = cli_print_json(json_pack("{s:b}", "pushed", 1));
	return rc;
}

int cmd_official_suspend(cli_ctx *ctx, int argc, char **argv)
{
	return change_status(ctx, argc, argv, PL_STATUS_SUSPENDED);
}

int cmd_official_recall(cli_ctx *ctx, int argc, char **argv)
{
	return change_status(ctx, argc, argv, PL_STATUS_RECALLED);
}

int cmd_official_restore(cli_ctx *ctx, int argc, char **argv)
{
	return change_status(ctx, argc, argv, PL_STATUS_RESTORED);
}

int cmd_official_revoke(cli_ctx *ctx, int argc, char **argv)
{
	return change_status(ctx, argc, argv, PL_STATUS_REVOKED);
}

/* ---------------------------------------------------------------- list, show */

/* The one-word standing of c at t: its status, or expired / not yet valid. */
static const char *standing(const pl_cred *c, const pl_status_list *sl, int64_t t)
{
	if (t < c->not_before)
		return "not-yet-valid";
	if (t >= c->not_after)
		return "expired";
	return pl_status_name(pl_status_at(sl, c->id, t));
}

struct list_walk {
	cli_ctx *ctx;
	const pl_trust *t;
	const pl_status_list *sl;
	int64_t at;
	json_t *arr;
	cli_table *tab;
};

static int list_cb(void *v, const char *key, const uint8_t *val, size_t len)
{
	struct list_walk *w = v;
	pl_cred c;
	int rc = pl_cred_open(val, len, w->t, &c);
	if (rc)
		return cli_err(rc, key);
	char roles[PL_ROLES_MAX * (PL_NAME_MAX + 1)], until[PL_TIME_LEN];
	names_join(roles, sizeof(roles), c.roles, c.nroles);
	pl_time_format(until, c.not_after);
	const char *st = standing(&c, w->sl, w->at);
	if (w->ctx->json)
		return json_array_append_new(
			       w->arr, json_pack("{s:s,s:s,s:s,s:o,s:s,s:s}", "id", c.id, "name",
						 c.name, "title", c.title, "roles",
						 names_json(c.roles, c.nroles), "status", st,
						 "valid_until", until)) == 0
			       ? 0
			       : CLI_EXIT_FAIL;
	const char *cells[] = {c.id, c.name, c.title, roles, st, until};
	return cli_table_add(w->tab, cells) == 0 ? 0 : CLI_EXIT_FAIL;
}

int cmd_official_list(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {{"at", required_argument, NULL, 'a'},
					     {NULL, 0, NULL, 0}};
	int64_t at = ctx->now;
	int opt;
	while ((opt = cli_next_opt(argc, argv, opts)) != -1) {
		if (opt != 'a' || cli_parse_time(ctx, "--at", optarg, &at))
			return CLI_EXIT_USAGE;
	}
	if (optind < argc)
		return cli_usage(cli_current, "unexpected argument '%s'", argv[optind]);
	pl_trust *t = NULL;
	pl_status_list sl = {0};
	int rc = cli_load_trust(ctx, &t);
	if (rc)
		return rc;
	rc = cli_load_status(ctx, t, ctx->self.name, &sl);
	static const char *const headers[] = {"ID", "NAME", "TITLE", "ROLES", "STATUS",
					      "VALID UNTIL"};
	struct list_walk w = {ctx, t, &sl, at, json_array(), cli_table_new(6, headers)};
	if (!rc)
		rc = (w.arr && w.tab) ? pl_store_list(ctx->store, KIND_CRED, list_cb, &w)
				      : CLI_EXIT_FAIL;
	if (rc < 0)
		rc = cli_err(rc, "listing officials");
	if (!rc && ctx->json) {
		rc = cli_print_json(w.arr);
		w.arr = NULL;
	} else if (!rc) {
		cli_table_print(w.tab);
	}
	json_decref(w.arr);
	cli_table_free(w.tab);
	pl_status_list_clear(&sl);
	pl_trust_free(t);
	return rc;
}

int cmd_official_show(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {{NULL, 0, NULL, 0}};
	if (cli_next_opt(argc, argv, opts) != -1)
		return CLI_EXIT_USAGE;
	if (optind + 1 != argc)
		return cli_usage(cli_current, "give exactly one credential id");
	pl_trust *t = NULL;
	int rc = cli_load_trust(ctx, &t);
	if (rc)
		return rc;
	pl_cred c;
	pl_status_list sl = {0};
	rc = load_cred(ctx, t, argv[optind], &c, NULL, NULL);
	if (!rc)
		rc = cli_load_status(ctx, t, ctx->self.name, &sl);
	pl_trust_free(t);
	if (rc) {
		pl_status_list_clear(&sl);
		return rc;
	}
	char b64[64], f[PL_TIME_LEN], u[PL_TIME_LEN];
	char roles[PL_ROLES_MAX * (PL_NAME_MAX + 1)], scope[PL_SCOPE_MAX * (PL_NAME_MAX + 1)];
	cli_b64(b64, c.pk, PL_PK_BYTES);
	pl_time_format(f, c.not_before);
	pl_time_format(u, c.not_after);
	names_join(roles, sizeof(roles), c.roles, c.nroles);
	names_join(scope, sizeof(scope), c.scope, c.nscope);
	const char *st = standing(&c, &sl, ctx->now);
	if (ctx->json) {
		json_t *hist = json_array();
		for (size_t i = 0; hist && i < sl.n; i++) {
			if (strcmp(sl.ev[i].id, c.id) != 0)
				continue;
			char at[PL_TIME_LEN];
			pl_time_format(at, sl.ev[i].at);
			json_array_append_new(hist, json_pack("{s:s,s:s,s:s}", "status",
							      pl_status_name(sl.ev[i].status),
							      "effective", at, "reason",
							      sl.ev[i].reason));
		}
		rc = cli_print_json(json_pack("{s:s,s:s,s:s,s:s,s:o,s:o,s:s,s:s,s:s,s:s,s:o}", "id",
					      c.id, "state", c.state, "name", c.name, "title",
					      c.title, "roles", names_json(c.roles, c.nroles),
					      "scope", names_json(c.scope, c.nscope), "public_key",
					      b64, "valid_from", f, "valid_until", u, "status", st,
					      "history", hist));
	} else {
		printf("official     %s@%s\nname         %s\ntitle        %s\nroles        %s\n"
		       "channels     %s\npublic key   %s\nvalid        %s .. %s\nstatus now   %s\n",
		       c.id, c.state, c.name, c.title, roles, *scope ? scope : "(any)", b64, f, u,
		       st);
		bool any = false;
		for (size_t i = 0; i < sl.n; i++) {
			if (strcmp(sl.ev[i].id, c.id) != 0)
				continue;
			char at[PL_TIME_LEN];
			pl_time_format(at, sl.ev[i].at);
			printf("%s %-10s %s%s%s\n", any ? "            " : "history     ",
			       pl_status_name(sl.ev[i].status), at, *sl.ev[i].reason ? "  " : "",
			       sl.ev[i].reason);
			any = true;
		}
	}
	pl_status_list_clear(&sl);
	return rc;
}

/* ---------------------------------------------------------------- verify */

int cmd_official_verify(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {{"status", required_argument, NULL, 's'},
					     {"at", required_argument, NULL, 'a'},
					     {NULL, 0, NULL, 0}};
	const char *status_file = NULL;
	int64_t at = ctx->now;
	int opt;
	while ((opt = cli_next_opt(argc, argv, opts)) != -1) {
		if (opt == 's')
			status_file = optarg;
		else if (opt == 'a') {
			if (cli_parse_time(ctx, "--at", optarg, &at))
				return CLI_EXIT_USAGE;
		} else
			return CLI_EXIT_USAGE;
	}
	if (optind + 1 != argc)
		return cli_usage(cli_current, "give exactly one credential file");
	uint8_t *buf = NULL, *sbuf = NULL;
	size_t len = 0, slen = 0;
	int rc = cli_read_file(argv[optind], CRED_FILE_MAX, &buf, &len);
	if (rc)
		return rc;
	pl_trust *t = NULL;
	pl_status_list sl = {0};
	pl_cred c;
	rc = cli_load_trust(ctx, &t);
	if (rc)
		goto out;
	/* Open once to learn the issuing state, then ask the full question. */
	rc = pl_cred_open(buf, len, t, &c);
	if (rc) {
		rc = cli_err(rc, argv[optind]);
		goto out;
	}
	if (status_file) {
		rc = cli_read_file(status_file, 4 * 1024 * 1024, &sbuf, &slen);
		if (rc)
			goto out;
		rc = pl_status_list_open(sbuf, slen, t, &sl);
		if (rc) {
			rc = cli_err(rc, status_file);
			goto out;
		}
	} else {
		rc = cli_load_status(ctx, t, c.state, &sl);
		if (rc)
			goto out;
	}
	rc = pl_cred_verify(buf, len, t, &sl, at, &c);
	char when[PL_TIME_LEN];
	pl_time_format(when, at);
	if (rc) {
		if (ctx->json)
			cli_print_json(json_pack("{s:s,s:s,s:b,s:s,s:s}", "id", c.id, "state",
						 c.state, "valid", 0, "reason", pl_err_name(rc),
						 "detail", pl_err_detail()));
		rc = cli_fail(cli_exit_for(rc), "%s", pl_err_detail());
		goto out;
	}
	if (ctx->json)
		rc = cli_print_json(json_pack("{s:s,s:s,s:b,s:s,s:I}", "id", c.id, "state", c.state,
					      "valid", 1, "at", when, "status_list_version",
					      (json_int_t)sl.version));
	else
		printf("valid: %s@%s (%s, %s) at %s (status list version %llu)\n", c.id, c.state,
		       c.name, c.title, when, (unsigned long long)sl.version);
out:
	free(buf);
	free(sbuf);
	pl_status_list_clear(&sl);
	pl_trust_free(t);
	return rc;
}
