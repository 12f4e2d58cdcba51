/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `parley peer ...`: pinning another state's root key.  The peering
 * ceremony: the peer's operator reads their fingerprint aloud (or over a
 * channel you already trust); you type it; only a match pins the key.
 * No trust on first use, no third party.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "parley/err.h"
#include "parley/time.h"

#define STATE_FILE_MAX (64 * 1024)

int cmd_peer_add(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {{"fingerprint", required_argument, NULL, 'f'},
					     {NULL, 0, NULL, 0}};
	const char *typed = NULL;
	int opt;
	while ((opt = cli_next_opt(argc, argv, opts)) != -1) {
		if (opt == 'f')
			typed = optarg;
		else
			return CLI_EXIT_USAGE;
	}
	if (optind + 1 != argc)
		return cli_usage(cli_current, "give exactly one state record file");
	if (!typed)
		return cli_usage(cli_current,
				 "--fingerprint is required: ask the peer's operator to read "
				 "theirs (`parley state fingerprint`)");
	const char *file = argv[optind];
	int rc = cli_open_home(ctx);
	if (rc)
		return rc;
	uint8_t *buf = NULL;
	size_t len = 0;
	rc = cli_read_file(file, STATE_FILE_MAX, &buf, &len);
	if (rc)
		return rc;
	pl_state_rec rec;
	rc = pl_state_rec_open(buf, len, &rec);
	if (rc) {
		free(buf);
		/* whatever is wrong with the file (its limits included), it is refused */
		return cli_fail(rc == PL_ERR_NOMEM ? CLI_EXIT_FAIL : CLI_EXIT_REFUSED,
				"%s is not a valid state record: %s", file,
				*pl_err_detail() ? pl_err_detail() : pl_strerror(rc));
	}
	if (strcmp(rec.name, ctx->self.name) == 0) {
		free(buf);
		return cli_fail(CLI_EXIT_REFUSED,
				"%s is a record of state '%s', which is this state: a peer must "
				"be another state",
				file, rec.name);
	}
	rc = pl_fingerprint_check(typed, rec.name, rec.pk);
	if (rc) {
		free(buf);
		if (rc == PL_ERR_FINGERPRINT)
			return cli_fail(CLI_EXIT_REFUSED,
					"fingerprint mismatch for state %s: the digits you typed are "
					"not the fingerprint of the key in %s. Nothing was pinned. "
					"Check the digits with the peer's operator; if they match what "
					"they read, this file is not theirs.",
					rec.name, file);
		return cli_fail(CLI_EXIT_USAGE, "%s", pl_err_detail());
	}
	uint8_t *old = NULL;
	size_t oldlen = 0;
	rc = pl_store_get(ctx->store, KIND_PEER, rec.name, &old, &oldlen);
	if (rc == 0) {
		pl_state_rec prev;
		int same = pl_state_rec_open(old, oldlen, &prev) == 0 &&
			   pl_ct_equal(prev.pk, rec.pk, PL_PK_BYTES);
		free(old);
		if (!same) {
			free(buf);
			char fpr[PL_FPR_LEN];
			pl_fingerprint(fpr, prev.name, prev.pk);
			return cli_fail(CLI_EXIT_REFUSED,
					"state %s is already pinned with a DIFFERENT root key "
					"(fingerprint %s). Nothing was changed. If %s really replaced "
					"its root key, confirm it out of band, then `parley peer "
					"remove %s` and add the new record.",
					rec.name, fpr, rec.name, rec.name);
		}
		free(buf);
		if (ctx->json)
			return cli_print_json(json_pack("{s:s,s:b}", "pinned", rec.name, "new", 0));
		printf("state %s is already pinned with this key; nothing to do\n", rec.name);
		return 0;
	}
	if (rc != PL_ERR_NOT_FOUND) {
		free(buf);
		return cli_err(rc, "reading the registry");
	}
	rc = pl_store_put(ctx->store, KIND_PEER, rec.name, buf, len, PL_STORE_NO_REPLACE);
	free(buf);
	if (rc)
		return cli_err(rc, "pinning the peer");
	char fpr[PL_FPR_LEN];
	pl_fingerprint(fpr, rec.name, rec.pk);
	if (ctx->json)
		return cli_print_json(
			json_pack("{s:s,s:b,s:s}", "pinned", rec.name, "new", 1, "fingerprint", fpr));
	printf("pinned state %s\n  fingerprint  %s (matched what you typed)\n", rec.name, fpr);
	return 0;
}

struct peer_walk {
	cli_ctx *ctx;
	json_t *arr;
	cli_table *tab;
};

static int peer_cb(void *v, const char *key, const uint8_t *val, size_t len)
{
	struct peer_walk *w = v;
	pl_state_rec rec;
	int rc = pl_state_rec_open(val, len, &rec);
	if (rc)
		return cli_err(rc, key);
	char fpr[PL_FPR_LEN], b64[64];
	pl_fingerprint(fpr, rec.name, rec.pk);
	cli_b64(b64, rec.pk, PL_PK_BYTES);
	if (w->ctx->json)
		return json_array_append_new(w->arr, json_pack("{s:s,s:s,s:s}", "state", rec.name,
							       "fingerprint", fpr, "root_key",
							       b64)) == 0
			       ? 0
			       : CLI_EXIT_FAIL;
	const char *cells[] = {rec.name, fpr, b64};
	return cli_table_add(w->tab, cells) == 0 ? 0 : CLI_EXIT_FAIL;
}

int cmd_peer_list(cli_ctx *ctx, int argc, char **argv)
{
	int rc = cli_no_args(argc, argv);
	if (!rc)
		rc = cli_open_home(ctx);
	if (rc)
		return rc;
	static const char *const headers[] = {"STATE", "FINGERPRINT", "ROOT KEY"};
	struct peer_walk w = {ctx, json_array(), cli_table_new(3, headers)};
	rc = (w.arr && w.tab) ? pl_store_list(ctx->store, KIND_PEER, peer_cb, &w) : CLI_EXIT_FAIL;
	if (rc < 0)
		rc = cli_err(rc, "listing peers");
	if (!rc && ctx->json) {
		rc = cli_print_json(w.arr);
		w.arr = NULL;
	} else if (!rc) {
		cli_table_print(w.tab);
	}
	json_decref(w.arr);
	cli_table_free(w.tab);
	return rc;
}

int cmd_peer_remove(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {{NULL, 0, NULL, 0}};
	if (cli_next_opt(argc, argv, opts) != -1)
		return CLI_EXIT_USAGE;
	if (optind + 1 != argc)
		return cli_usage(cli_current, "give exactly one state name");
	int rc = cli_open_home(ctx);
	if (rc)
		return rc;
	const char *name = argv[optind];
	rc = pl_store_del(ctx->store, KIND_PEER, name);
	if (rc == PL_ERR_NOT_FOUND)
		return cli_fail(CLI_EXIT_NOTFOUND, "state '%s' is not pinned (see `parley peer list`)",
				name);
	if (rc)
		return cli_err(rc, "unpinning");
	if (ctx->json)
		return cli_print_json(json_pack("{s:s}", "removed", name));
	printf("unpinned state %s\n", name);
	return 0;
}
