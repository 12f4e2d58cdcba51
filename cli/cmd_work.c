/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Officials' work from the command line (docs/workflows.md): acknowledging
 * and reading envelopes, what is pending, border-incident reports, and
 * cooperation requests with their workflow.
 *
 * Every command signs with the official's own key (--as, --key) and
 * submits through the node like `parley send`; forms are checked here
 * first (every bad field is listed, exit 2) and again by every node.
 *
 * Divisions: helpers; ack and read; pending; incident reports; requests.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "form_json.h"
#include "http.h"
#include "parley/err.h"
#include "parley/file.h"
#include "parley/forms.h"
#include "parley/time.h"

#define HEX_ID_LEN (2 * PL_HASH_BYTES)
#define SHORT_ID   12

/* ================================================================ helpers */

static int parse_id(const char *s, uint8_t id[PL_HASH_BYTES], const char *what)
{
	size_t got = 0;
	if (strlen(s) != HEX_ID_LEN || pl_hex_decode(id, PL_HASH_BYTES, &got, s, HEX_ID_LEN) != 0 ||
	    got != PL_HASH_BYTES)
		return cli_usage(cli_current, "%s must be an envelope id: 64 hex digits, not '%s'",
				 what, s);
	return 0;
}

/* Print every field error of a form; exit code 2. */
static int form_errors(const pl_form_errors *errs, const char *what)
{
	if (errs->n == 0)
		return cli_fail(CLI_EXIT_USAGE, "%s: %s", what, pl_err_detail());
	fprintf(stderr, "parley: %s: %zu field%s wrong\n", what, errs->n + errs->more,
		errs->n + errs->more == 1 ? " is" : "s are");
	for (size_t i = 0; i < errs->n; i++)
		fprintf(stderr, "  %s\n", errs->e[i].msg);
	if (errs->more)
		fprintf(stderr, "  ... and %zu more\n", errs->more);
	return CLI_EXIT_USAGE;
}

/* A JSON object from a file the user named (- for standard input). */
static int read_json_file(const char *path, json_t **out)
{
	json_error_t err;
	json_t *j = strcmp(path, "-") == 0 ? json_loadf(stdin, 0, &err)
					   : json_load_file(path, 0, &err);
	if (!j)
		return cli_fail(CLI_EXIT_USAGE, "%s:%d: not JSON: %s",
				strcmp(path, "-") == 0 ? "standard input" : path, err.line,
				err.text);
	if (!json_is_object(j)) {
		json_decref(j);
		return cli_fail(CLI_EXIT_USAGE, "%s: the form must be a JSON object", path);
	}
	*out = j;
	return 0;
}

/* GET path into *out (an object). */
static int get_json(cli_node *n, const char *path, const char *what, json_t **out)
{
	return cli_node_call(n, "GET", path, NULL, what, out, NULL);
}

static int open_official(cli_ctx *ctx, cli_node **n)
{
	return cli_node_open(ctx, CLI_NODE_AUTH | CLI_NODE_KEEP_KEY, n);
}

/* Sign sp as the official and submit it, on a connection of its own. */
static int send_one(cli_ctx *ctx, const cli_send_spec *sp)
{
	cli_node *n = NULL;
	int rc = open_official(ctx, &n);
	if (!rc)
		rc = cli_send_body(ctx, n, sp);
	cli_node_free(n);
	return rc;
}

/* ================================================================ ack and read */

int cmd_ack(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {{"read", no_argument, NULL, 'r'}, {NULL, 0, NULL, 0}};
	const char *kind = "ack";
	int opt;
	while ((opt = cli_next_opt(argc, argv, opts)) != -1) {
		if (opt == 'r')
			kind = "read";
		else
			return CLI_EXIT_USAGE;
	}
	if (optind + 1 != argc)
		return cli_usage(cli_current, "give exactly one envelope id");
	uint8_t id[PL_HASH_BYTES];
	int rc = parse_id(argv[optind], id, "the envelope");
	if (rc)
		return rc;
	cli_node *n = NULL;
	json_t *e = NULL;
	rc = open_official(ctx, &n);
	char path[128];
	snprintf(path, sizeof(path), "/v1/envelopes/%s", argv[optind]);
	if (!rc)
		rc = get_json(n, path, "looking up the envelope", &e);
	pl_lane lane = PL_LANE_ROUTINE;
	const char *ch = e ? cli_json_str(e, "channel", NULL) : NULL;
	if (!rc && (!ch || pl_lane_parse(cli_json_str(e, "precedence", ""), &lane) != 0))
		rc = cli_fail(CLI_EXIT_FAIL, "the node's answer for the envelope is malformed");
	if (!rc && strcmp(cli_json_str(e, "state", ""), cli_node_state(n)) == 0 &&
	    strcmp(kind, "ack") == 0)
		fprintf(stderr, "parley: note: %s is from your own state (%s)\n", argv[optind],
			cli_node_state(n));
	if (!rc) {
		/* The receipt travels in the envelope's own precedence: a FLASH's
		 * acknowledgement overtakes the backlog as the FLASH did. */
		cli_send_spec sp = {.channel = ch, .lane = lane, .kind = kind, .ref = id,
				    .body = (const uint8_t *)"", .body_len = 0};
		rc = cli_send_body(ctx, n, &sp);
	}
	json_decref(e);
	cli_node_free(n);
	return rc;
}


/* ================================================================ pending */

int cmd_pending(cli_ctx *ctx, int argc, char **argv)
{
	int rc = cli_no_args(argc, argv);
	if (rc)
		return rc;
	cli_node *n = NULL;
	json_t *j = NULL;
	rc = open_official(ctx, &n);
	if (!rc)
		rc = get_json(n, "/v1/pending", "asking what is pending", &j);
	if (rc) {
		cli_node_free(n);
		return rc;
	}
	json_t *list = json_object_get(j, "pending");
	if (ctx->json) {
		rc = cli_print_json(json_incref(list));
	} else if (json_array_size(list) == 0) {
		printf("nothing to acknowledge\n");
	} else {
		static const char *const hd[] = {"ID",       "CHANNEL", "PRECEDENCE", "FROM",
						 "DEADLINE", "LEFT",    "LEVEL"};
		cli_table *t = cli_table_new(7, hd);
		size_t i;
		json_t *v;
		json_array_foreach(list, i, v)
		{
			char from[2 * PL_NAME_MAX + 2], left[32], level[32];
			const char *id = cli_json_str(v, "id", "?");
			snprintf(from, sizeof(from), "%s@%s", cli_json_str(v, "author", "?"),
				 cli_json_str(v, "state", "?"));
			json_int_t s = json_integer_value(json_object_get(v, "seconds_left"));
			if (json_is_true(json_object_get(v, "overdue")))
				snprintf(left, sizeof(left), "overdue");
			else if (s < 0)
				snprintf(left, sizeof(left), "%lldm late", (long long)(-s + 59) / 60);
			else
				snprintf(left, sizeof(left), "%lldm %llds", (long long)s / 60,
					 (long long)s % 60);
			size_t nesc = json_array_size(json_object_get(v, "escalations"));
			snprintf(level, sizeof(level), "-");
			if (nesc) {
				json_t *last = json_array_get(json_object_get(v, "escalations"),
							      nesc - 1);
				snprintf(level, sizeof(level), "%lld (x%zu)",
					 (long long)json_integer_value(json_object_get(last, "level")),
					 nesc);
			}
			const char *row[] = {id,
					     cli_json_str(v, "channel", "?"),
					     cli_json_str(v, "precedence", "?"),
					     from,
					     cli_json_str(v, "deadline", "?"),
					     left,
					     level};
			cli_table_add(t, row);
		}
		cli_table_print(t);
		cli_table_free(t);
		printf("acknowledge with: parley ack ID\n");
	}
	json_decref(j);
	cli_node_free(n);
	return rc;
}

/* ================================================================ incident reports */

/* Options that set a JSON field: name, key, and whether it is a number. */
struct field_opt {
	int val;
	const char *key;
	enum { F_TEXT, F_INT, F_RAW } type;
};

static int set_field(json_t *form, const struct field_opt *f, const char *v, const char *sub)
{
	json_t *dst = form;
	if (sub) {
		dst = json_object_get(form, sub);
		if (!dst) {
			dst = json_object();
			json_object_set_new(form, sub, dst);
		}
	}
	json_t *val = NULL;
	if (f->type == F_INT) {
		char *end = NULL;
		long long x = strtoll(v, &end, 10);
		if (!*v || *end)
			return cli_usage(cli_current, "--%s wants a whole number, not '%s'", f->key,
					 v);
		val = json_integer(x);
	} else {
		val = json_string(v);
		if (!val)
			return cli_usage(cli_current, "--%s is not valid UTF-8", f->key);
	}
	json_object_set_new(dst, f->key, val);
	return 0;
}

int cmd_report_incident(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"channel", required_argument, NULL, 'c'},  {"precedence", required_argument, NULL, 'p'},
	    {"json-file", required_argument, NULL, 'j'}, {"time", required_argument, NULL, 't'},
	    {"lat", required_argument, NULL, 'a'},       {"lon", required_argument, NULL, 'o'},
	    {"datum", required_argument, NULL, 'd'},     {"place", required_argument, NULL, 'l'},
	    {"category", required_argument, NULL, 'g'},  {"severity", required_argument, NULL, 's'},
	    {"killed", required_argument, NULL, 'K'},    {"injured", required_argument, NULL, 'I'},
	    {"missing", required_argument, NULL, 'M'},   {"description", required_argument, NULL, 'D'},
	    {"action", required_argument, NULL, 'A'},    {"ref-id", required_argument, NULL, 'R'},
	    {"ack-by", required_argument, NULL, 'b'},    {NULL, 0, NULL, 0}};
	static const struct field_opt fields[] = {
	    {'t', "time", F_TEXT},        {'a', "lat", F_TEXT},
	    {'o', "lon", F_TEXT},         {'d', "datum", F_TEXT},
	    {'l', "place", F_TEXT},       {'g', "category", F_TEXT},
	    {'s', "severity", F_INT},     {'K', "killed", F_INT},
	    {'I', "injured", F_INT},      {'M', "missing", F_INT},
	    {'D', "description", F_TEXT}, {'A', "requested_action", F_TEXT},
	    {'R', "ref_id", F_TEXT},
	};
	const char *ch = NULL, *file = NULL;
	pl_lane lane = PL_LANE_FLASH;
	bool has_ackby = false;
	int64_t ackby = 0;
	json_t *form = json_object();
	int opt, rc = 0;
	while (!rc && (opt = cli_next_opt(argc, argv, opts)) != -1) {
		if (opt == 'c') {
			ch = optarg;
		} else if (opt == 'j') {
			file = optarg;
		} else if (opt == 'b') {
			if (cli_parse_time(ctx, "--ack-by", optarg, &ackby))
				rc = CLI_EXIT_USAGE;
			has_ackby = true;
		} else if (opt == 'p') {
			rc = cli_parse_precedence(optarg, &lane);
		} else {
			const struct field_opt *f = NULL;
			for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
				if (fields[i].val == opt)
					f = &fields[i];
			if (!f) {
				rc = CLI_EXIT_USAGE;
				break;
			}
			rc = set_field(form, f, optarg,
				       opt == 'K' || opt == 'I' || opt == 'M' ? "casualties" : NULL);
		}
	}
	if (!rc && optind < argc)
		rc = cli_usage(cli_current, "unexpected argument '%s'", argv[optind]);
	if (!rc && !ch)
		rc = cli_usage(cli_current, "--channel is required");
	if (!rc && file) {
		if (json_object_size(form))
			rc = cli_usage(cli_current,
				       "give the report either with --json-file or with field options");
		else {
			json_decref(form);
			form = NULL;
			rc = read_json_file(file, &form);
		}
	}
	if (!rc && !json_object_get(form, "casualties"))
		json_object_set_new(form, "casualties", json_object());
	pl_incident inc;
	pl_form_errors errs;
	pl_form_errors_init(&errs);
	uint8_t *body = NULL;
	size_t blen = 0;
	if (!rc && form_json_to_incident(form, ctx->now, &inc, &errs) != 0)
		rc = form_errors(&errs, "the incident report");
	if (!rc && pl_incident_encode(&inc, &errs, &body, &blen) != 0)
		rc = form_errors(&errs, "the incident report");
	json_decref(form);
	if (!rc) {
		cli_send_spec sp = {.channel = ch, .lane = lane, .kind = PL_FORM_KIND_INCIDENT,
				    .has_ackby = has_ackby, .ackby = ackby, .body = body,
				    .body_len = blen};
		rc = send_one(ctx, &sp);
	}
	free(body);
	return rc;
}

/* ================================================================ requests */

int cmd_request_new(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"channel", required_argument, NULL, 'c'},   {"to", required_argument, NULL, 'T'},
	    {"type", required_argument, NULL, 'y'},      {"subject", required_argument, NULL, 's'},
	    {"summary", required_argument, NULL, 'S'},   {"legal-basis", required_argument, NULL, 'L'},
	    {"due", required_argument, NULL, 'd'},       {"json-file", required_argument, NULL, 'j'},
	    {"precedence", required_argument, NULL, 'p'}, {NULL, 0, NULL, 0}};
	const char *ch = NULL, *file = NULL;
	pl_lane lane = PL_LANE_PRIORITY;
	json_t *form = json_object();
	int opt, rc = 0;
	while (!rc && (opt = cli_next_opt(argc, argv, opts)) != -1) {
		const char *key = NULL;
		switch (opt) {
		case 'c':
			ch = optarg;
			break;
		case 'j':
			file = optarg;
			break;
		case 'p':
			rc = cli_parse_precedence(optarg, &lane);
			break;
		case 'T':
			key = "requested_state";
			break;
		case 'y':
			key = "type";
			break;
		case 's':
			key = "subject";
			break;
		case 'S':
			key = "summary";
			break;
		case 'L':
			key = "legal_basis";
			break;
		case 'd':
			key = "due";
			break;
		default:
			rc = CLI_EXIT_USAGE;
		}
		if (key) {
			json_t *v = json_string(optarg);
			if (!v)
				rc = cli_usage(cli_current, "the value for %s is not valid UTF-8",
					       key);
			else
				json_object_set_new(form, key, v);
		}
	}
	if (!rc && optind < argc)
		rc = cli_usage(cli_current, "unexpected argument '%s'", argv[optind]);
	if (!rc && !ch)
		rc = cli_usage(cli_current, "--channel is required");
	if (!rc && file) {
		if (json_object_size(form))
			rc = cli_usage(cli_current,
				       "give the request either with --json-file or with options");
		else {
			json_decref(form);
			form = NULL;
			rc = read_json_file(file, &form);
		}
	}
	pl_request req;
	pl_form_errors errs;
	pl_form_errors_init(&errs);
	uint8_t *body = NULL;
	size_t blen = 0;
	if (!rc && form_json_to_request(form, ctx->now, &req, &errs) != 0)
		rc = form_errors(&errs, "the request");
	if (!rc && pl_request_encode(&req, &errs, &body, &blen) != 0)
		rc = form_errors(&errs, "the request");
	json_decref(form);
	if (!rc) {
		cli_send_spec sp = {.channel = ch, .lane = lane, .kind = PL_FORM_KIND_REQUEST,
				    .body = body, .body_len = blen};
		rc = send_one(ctx, &sp);
	}
	free(body);
	return rc;
}

int cmd_request_step(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {{"to", required_argument, NULL, 't'},
					     {"note", required_argument, NULL, 'n'},
					     {"precedence", required_argument, NULL, 'p'},
					     {NULL, 0, NULL, 0}};
	const char *to = NULL, *note = "";
	pl_lane lane = PL_LANE_PRIORITY;
	int opt;
	while ((opt = cli_next_opt(argc, argv, opts)) != -1) {
		if (opt == 't')
			to = optarg;
		else if (opt == 'n')
			note = optarg;
		else if (opt == 'p') {
			if (cli_parse_precedence(optarg, &lane))
				return CLI_EXIT_USAGE;
		} else
			return CLI_EXIT_USAGE;
	}
	if (optind + 1 != argc)
		return cli_usage(cli_current, "give exactly one request id");
	if (!to)
		return cli_usage(cli_current,
				 "--to is required: acknowledged, under-review, granted, "
				 "partially-granted, refused or withdrawn");
	uint8_t id[PL_HASH_BYTES];
	int rc = parse_id(argv[optind], id, "the request");
	if (rc)
		return rc;
	json_t *form = json_pack("{s:s,s:s}", "to", to, "note", note);
	if (!form)
		return cli_usage(cli_current, "--note is not valid UTF-8");
	pl_request_step st;
	pl_form_errors errs;
	pl_form_errors_init(&errs);
	uint8_t *body = NULL;
	size_t blen = 0;
	if (form_json_to_request_step(form, &st, &errs) != 0 ||
	    pl_request_step_encode(&st, &errs, &body, &blen) != 0)
		rc = form_errors(&errs, "the step");
	json_decref(form);
	cli_node *n = NULL;
	json_t *r = NULL;
	char path[128];
	snprintf(path, sizeof(path), "/v1/requests/%s", argv[optind]);
	if (!rc)
		rc = open_official(ctx, &n);
	if (!rc)
		rc = get_json(n, path, "looking up the request", &r);
	const char *ch = r ? cli_json_str(r, "channel", NULL) : NULL;
	if (!rc && !ch)
		rc = cli_fail(CLI_EXIT_FAIL, "the node's answer for the request is malformed");
	if (!rc) {
		cli_send_spec sp = {.channel = ch, .lane = lane, .kind = PL_FORM_KIND_REQUEST_STEP,
				    .ref = id, .body = body, .body_len = blen};
		rc = cli_send_body(ctx, n, &sp);
	}
	free(body);
	json_decref(r);
	cli_node_free(n);
	return rc;
}

int cmd_request_show(cli_ctx *ctx, int argc, char **argv)
{
	int rc = 0;
	static const struct option opts[] = {{NULL, 0, NULL, 0}};
	if (cli_next_opt(argc, argv, opts) != -1)
		return CLI_EXIT_USAGE;
	if (optind + 1 != argc)
		return cli_usage(cli_current, "give exactly one request id");
	uint8_t id[PL_HASH_BYTES];
	rc = parse_id(argv[optind], id, "the request");
	if (rc)
		return rc;
	cli_node *n = NULL;
	json_t *r = NULL;
	char path[128];
	snprintf(path, sizeof(path), "/v1/requests/%s", argv[optind]);
	rc = open_official(ctx, &n);
	if (!rc)
		rc = get_json(n, path, "looking up the request", &r);
	if (!rc && ctx->json) {
		rc = cli_print_json(json_incref(r));
	} else if (!rc) {
		printf("request %s\n  %s from %s to %s on channel %s: %s\n  status: %s\n",
		       cli_json_str(r, "id", "?"), cli_json_str(r, "type", "?"),
		       cli_json_str(r, "requesting", "?"), cli_json_str(r, "requested", "?"),
		       cli_json_str(r, "channel", "?"), cli_json_str(r, "subject", "?"),
		       cli_json_str(r, "status", "?"));
		if (json_object_get(r, "due"))
			printf("  due: %s\n", cli_json_str(r, "due", "?"));
		printf("  history:\n");
		size_t i;
		json_t *h;
		json_array_foreach(json_object_get(r, "history"), i, h)
		{
			char noteb[200];
			cli_text_copy(noteb, sizeof(noteb), cli_json_str(h, "note", ""), false);
			printf("    %s  %-17s by %s@%s%s%s\n", cli_json_str(h, "at", "?"),
			       cli_json_str(h, "to", "?"), cli_json_str(h, "by", "?"),
			       cli_json_str(h, "state", "?"), *noteb ? ": " : "", noteb);
		}
	}
	json_decref(r);
	cli_node_free(n);
	return rc;
}

int cmd_request_list(cli_ctx *ctx, int argc, char **argv)
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
	if (optind < argc)
		return cli_usage(cli_current, "unexpected argument '%s'", argv[optind]);
	if (!ch || !pl_name_is_valid(ch))
		return cli_usage(cli_current, "--channel NAME is required");
	cli_node *n = NULL;
	json_t *j = NULL;
	char path[160];
	snprintf(path, sizeof(path), "/v1/channels/%s/requests", ch);
	int rc = open_official(ctx, &n);
	if (!rc)
		rc = get_json(n, path, "listing the requests", &j);
	json_t *list = json_object_get(j, "requests");
	if (!rc && ctx->json) {
		rc = cli_print_json(json_incref(list));
	} else if (!rc) {
		static const char *const hd[] = {"ID", "TYPE", "FROM", "TO", "STATUS", "SUBJECT"};
		cli_table *t = cli_table_new(6, hd);
		size_t i;
		json_t *v;
		json_array_foreach(list, i, v)
		{
			char id[SHORT_ID + 1], subj[80];
			snprintf(id, sizeof(id), "%s", cli_json_str(v, "id", "?"));
			cli_text_copy(subj, sizeof(subj), cli_json_str(v, "subject", ""), false);
			const char *row[] = {id,
					     cli_json_str(v, "type", "?"),
					     cli_json_str(v, "requesting", "?"),
					     cli_json_str(v, "requested", "?"),
					     cli_json_str(v, "status", "?"),
					     subj};
			cli_table_add(t, row);
		}
		cli_table_print(t);
		cli_table_free(t);
	}
	json_decref(j);
	cli_node_free(n);
	return rc;
}
