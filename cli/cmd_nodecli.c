/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `parley node status`: what a running node says about itself (GET
 * /v1/status): its links to peer states and their queues per precedence,
 * the size of its transcript, its channels and the status list versions
 * it holds.  The other `node` commands (init, list) work on the registry
 * and live in cmd_state.c.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "http.h"

static json_int_t jint(const json_t *o, const char *key)
{
	return json_integer_value(json_object_get(o, key));
}

/* "3" for the integer member key of o, "-" when absent. */
static void num(char *out, size_t cap, const json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	if (json_is_integer(v))
		snprintf(out, cap, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	else
		snprintf(out, cap, "-");
}

static int print_peers(const json_t *peers)
{
	static const char *const headers[] = {"PEER",      "NODE",     "LINK",     "FLASH",
					      "IMMEDIATE", "PRIORITY", "ROUTINE",  "CONTROL",
					      "IN",        "OUT",      "REJECTED", "LAST ERROR"};
	cli_table *t = cli_table_new(12, headers);
	if (!t)
		return cli_fail(CLI_EXIT_FAIL, "out of memory");
	size_t i;
	json_t *p;
	int rc = 0;
	json_array_foreach(peers, i, p)
	{
		char state[PL_NAME_MAX + 1], node[PL_NAME_MAX + 1], err[128];
		char q[5][24], in[24], out[24], rej[24];
		cli_text_copy(state, sizeof(state), cli_json_str(p, "state", "?"), false);
		cli_text_copy(node, sizeof(node), cli_json_str(p, "node", ""), false);
		cli_text_copy(err, sizeof(err), cli_json_str(p, "last_error", ""), false);
		const json_t *queued = json_object_get(p, "queued");
		static const char *const lanes[] = {"FLASH", "IMMEDIATE", "PRIORITY", "ROUTINE",
						    "CONTROL"};
		for (size_t l = 0; l < 5; l++)
			num(q[l], sizeof(q[l]), queued, lanes[l]);
		num(in, sizeof(in), p, "items_in");
		num(out, sizeof(out), p, "items_out");
		num(rej, sizeof(rej), p, "rejected");
		const char *cells[] = {state,
				       *node ? node : "-",
				       json_is_true(json_object_get(p, "up")) ? "up" : "down",
				       q[0],
				       q[1],
				       q[2],
				       q[3],
				       q[4],
				       in,
				       out,
				       rej,
				       *err ? err : "-"};
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

int cmd_node_status(cli_ctx *ctx, int argc, char **argv)
{
	int rc = cli_no_args(argc, argv);
	cli_node *n = NULL;
	if (!rc)
		rc = cli_node_open(ctx, CLI_NODE_AUTH, &n);
	if (rc)
		return rc;
	json_t *st = NULL;
	rc = cli_node_call(n, "GET", "/v1/status", NULL, "node status", &st, NULL);
	if (rc)
		goto out;
	if (ctx->json) {
		rc = cli_print_json(st);
		st = NULL;
		goto out;
	}
	char node[PL_NAME_MAX + 1], state[PL_NAME_MAX + 1], fpr[64];
	cli_text_copy(node, sizeof(node), cli_json_str(st, "node", cli_node_name(n)), false);
	cli_text_copy(state, sizeof(state), cli_json_str(st, "state", "?"), false);
	cli_text_copy(fpr, sizeof(fpr), cli_json_str(st, "fingerprint", "?"), false);
	printf("node          %s of %s at %s\n", node, state, ctx->node_url);
	printf("fingerprint   %s\n", fpr);
	printf("transcript    %" JSON_INTEGER_FORMAT " entries\n", jint(st, "log_size"));
	const json_t *tr = json_object_get(st, "transcript");
	if (tr) {
		const json_t *lc = json_object_get(tr, "last_checkpoint");
		printf("checkpoint    %s", json_is_object(lc) ? "" : "none signed yet");
		if (json_is_object(lc))
			printf("size %" JSON_INTEGER_FORMAT, jint(lc, "size"));
		const char *peer;
		json_t *size;
		json_object_foreach(json_object_get(tr, "cosigned_by"), peer, size)
		{
			char name[PL_NAME_MAX + 1];
			cli_text_copy(name, sizeof(name), peer, false);
			printf(", cosigned by %s up to %" JSON_INTEGER_FORMAT, name,
			       json_integer_value(size));
		}
		printf("\n");
		json_int_t nal = jint(tr, "alarms_total");
		printf("alarms        %" JSON_INTEGER_FORMAT "%s\n", nal,
		       nal ? "  (transcript tampering or fork detected: see below)" : "");
		size_t i;
		json_t *al;
		json_array_foreach(json_object_get(tr, "alarms"), i, al)
		{
			char kind[64], apeer[PL_NAME_MAX + 1], detail[256];
			cli_text_copy(kind, sizeof(kind), cli_json_str(al, "kind", "?"), false);
			cli_text_copy(apeer, sizeof(apeer), cli_json_str(al, "peer", "?"), false);
			cli_text_copy(detail, sizeof(detail), cli_json_str(al, "detail", ""), false);
			printf("  ALARM #%" JSON_INTEGER_FORMAT " %s (peer %s): %s\n", jint(al, "n"),
			       kind, apeer, detail);
		}
	}
	printf("channels      %" JSON_INTEGER_FORMAT "\n", jint(st, "channels"));
	printf("status lists  ");
	const char *key;
	json_t *v;
	bool any = false;
	json_object_foreach(json_object_get(st, "status_lists"), key, v)
	{
		char name[PL_NAME_MAX + 1];
		cli_text_copy(name, sizeof(name), key, false);
		printf("%s%s version %" JSON_INTEGER_FORMAT, any ? ", " : "", name,
		       json_integer_value(v));
		any = true;
	}
	printf("%s\n\n", any ? "" : "none held");
	const json_t *peers = json_object_get(st, "peers");
	if (json_array_size(peers) == 0)
		printf("no peer states configured ([peer NAME] sections of the node's "
		       "configuration)\n");
	else
		rc = print_peers(peers);
out:
	json_decref(st);
	cli_node_free(n);
	return rc;
}
