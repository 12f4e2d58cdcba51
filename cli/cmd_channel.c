/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `parley channel ...`: channel charters.  propose builds a charter from
 * the registry (this state's officials) and credential files (peer
 * states' officials), signs it with this state's root and writes it, and
 * can hand it to the node; sign shows a proposed charter, then adds this
 * state's root signature; show and list ask the node (or read a file).
 *
 * Signing a charter needs the root key, as issuing a credential does.
 * Handing a charter to the node needs an official's token, so --submit
 * and --from-node also take the global --as and --key.  The node passes
 * the charter on to the other states' nodes, where their operators fetch
 * it with `channel sign --from-node`; a charter counts once every listed
 * state has signed it.
 *
 * propose --policy FILE reads the charter's acknowledgement rules from a
 * JSON file (docs/cli.md); show prints each precedence's rule, the
 * charter's own or the default.
 *
 * Divisions: views (JSON and text); submitting; the policy file; propose;
 * sign; show; list.
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

#define CHARTER_FILE_MAX ((size_t)256 * 1024) /* as the node's API limit */
#define CRED_FILE_MAX    ((size_t)64 * 1024)
#define POLICY_FILE_MAX  ((size_t)256 * 1024)

/* ---------------------------------------------------------------- views */

static json_t *lanes_json(unsigned lanes)
{
	json_t *a = json_array();
	for (unsigned l = PL_LANE_FLASH; a && l <= PL_LANE_ROUTINE; l++)
		if (lanes & (1u << l))
			json_array_append_new(a, json_string(pl_lane_name((pl_lane)l)));
	return a;
}

/*
 * Each allowed precedence's acknowledgement rule (pl_charter_rule): an
 * object {"ack", "levels": [{"notify", "after", "repeat"}...], "default"}
 * ("default" true when the charter sets no rule of its own), or null when
 * that precedence needs no acknowledgement.
 */
static json_t *policy_json(const pl_charter *c)
{
	json_t *o = json_object();
	for (unsigned l = PL_LANE_FLASH; o && l <= PL_LANE_ROUTINE; l++) {
		if (!pl_charter_allows_lane(c, l))
			continue;
		pl_ack_rule r;
		if (pl_charter_rule(c, (pl_lane)l, &r) != 0) {
			json_object_set_new(o, pl_lane_name((pl_lane)l), json_null());
			continue;
		}
		json_t *levels = json_array();
		for (size_t i = 0; levels && i < r.nlevels; i++) {
			const pl_ack_level *lv = &r.levels[i];
			json_t *notify = json_array();
			for (size_t j = 0; notify && j < lv->ntargets; j++)
				json_array_append_new(notify, json_string(lv->targets[j]));
			json_array_append_new(levels, json_pack("{s:o,s:I,s:I}", "notify", notify,
								"after", (json_int_t)lv->after,
								"repeat", (json_int_t)lv->repeat));
		}
		json_object_set_new(o, pl_lane_name((pl_lane)l),
				    json_pack("{s:I,s:o,s:b}", "ack", (json_int_t)r.ack, "levels",
					      levels, "default", !((c->has_rule >> l) & 1u)));
	}
	return o;
}

/* The same view of a charter as the node's GET /v1/charters/{name}. */
static json_t *charter_json(const pl_charter *c)
{
	json_t *states = json_array(), *signed_by = json_array(), *kinds = json_array(),
	       *members = json_array();
	for (size_t i = 0; states && signed_by && i < c->nstates; i++) {
		json_array_append_new(states, json_string(c->states[i]));
		if (c->sig[i])
			json_array_append_new(signed_by, json_string(c->states[i]));
	}
	for (size_t i = 0; kinds && i < c->nkinds; i++)
		json_array_append_new(kinds, json_string(c->kinds[i]));
	for (size_t i = 0; members && i < c->nmembers; i++) {
		const pl_cred *m = &c->members[i].cred;
		json_array_append_new(members,
				      json_pack("{s:s,s:s,s:s,s:s}", "state", m->state, "id", m->id,
						"name", m->name, "title", m->title));
	}
	char created[PL_TIME_LEN];
	pl_time_format(created, c->created);
	return json_pack("{s:s,s:I,s:s,s:o,s:o,s:o,s:o,s:o,s:o,s:b}", "name", c->name, "version",
			 (json_int_t)c->version, "created", created, "states", states, "signed_by",
			 signed_by, "kinds", kinds, "lanes", lanes_json(c->lanes), "policy",
			 policy_json(c), "members", members, "complete",
			 pl_charter_check_complete(c) == 0);
}

static bool in_list(const json_t *a, const char *s)
{
	size_t i;
	json_t *v;
	json_array_foreach(a, i, v) if (json_is_string(v) &&
					strcmp(json_string_value(v), s) == 0) return true;
	return false;
}

/* "a, b, c" of a string array, cleaned for the terminal. */
static void join(char *out, size_t cap, const json_t *a)
{
	size_t used = 0, i;
	json_t *v;
	out[0] = '\0';
	json_array_foreach(a, i, v)
	{
		int k = snprintf(out + used, cap - used, "%s%s", used ? ", " : "",
				 json_is_string(v) ? json_string_value(v) : "?");
		if (k < 0 || (size_t)k >= cap - used)
			break;
		used += (size_t)k;
	}
	cli_text_clean(out, false);
}

/* "90s", "5m", "1h30m", "30d": a duration in seconds, shortly. */
static void fmt_secs(char *out, size_t cap, json_int_t s)
{
	static const struct {
		json_int_t n;
		char u;
	} units[] = {{86400, 'd'}, {3600, 'h'}, {60, 'm'}, {1, 's'}};
	size_t used = 0;
	out[0] = '\0';
	if (s <= 0) {
		snprintf(out, cap, "%" JSON_INTEGER_FORMAT "s", s);
		return;
	}
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]) && s > 0; i++) {
		if (s < units[i].n)
			continue;
		int k = snprintf(out + used, cap - used, "%" JSON_INTEGER_FORMAT "%c",
				 s / units[i].n, units[i].u);
		if (k < 0 || (size_t)k >= cap - used)
			return;
		used += (size_t)k;
		s %= units[i].n;
	}
}

/*
 * The "policy" of a charter's JSON view, one precedence at a time: the
 * deadline, then when each level is alerted counting from the deadline.
 * Absent (a node that does not report it): nothing is printed.
 */
static void print_policy(const json_t *policy)
{
	if (!json_is_object(policy))
		return;
	const char *lane;
	json_t *r;
	char none[64] = "", buf[1024], t1[64], t2[32];
	size_t nnone = 0;
	bool first = true;
	json_object_foreach((json_t *)policy, lane, r)
	{
		char ln[16];
		cli_text_copy(ln, sizeof(ln), lane, false);
		if (!json_is_object(r)) {
			size_t used = strlen(none);
			snprintf(none + used, sizeof(none) - used, "%s%s", nnone++ ? ", " : "", ln);
			continue;
		}
		fmt_secs(t1, sizeof(t1), json_integer_value(json_object_get(r, "ack")));
		printf("%-12s %s within %s of sending (%s)\n", first ? "acknowledge" : "", ln, t1,
		       json_is_true(json_object_get(r, "default")) ? "default"
								   : "the charter's rule");
		first = false;
		json_int_t at = 0;
		size_t i;
		json_t *lv;
		json_array_foreach(json_object_get(r, "levels"), i, lv)
		{
			json_int_t after = json_integer_value(json_object_get(lv, "after"));
			json_int_t repeat = json_integer_value(json_object_get(lv, "repeat"));
			join(buf, sizeof(buf), json_object_get(lv, "notify"));
			if (at == 0)
				snprintf(t1, sizeof(t1), "at the deadline");
			else {
				fmt_secs(t2, sizeof(t2), at);
				snprintf(t1, sizeof(t1), "%s after the deadline", t2);
			}
			fmt_secs(t2, sizeof(t2), after);
			if (repeat > 0)
				printf("%-12s - %s: %s; again every %s, %" JSON_INTEGER_FORMAT
				       " more time%s\n",
				       "", t1, buf, t2, repeat, repeat == 1 ? "" : "s");
			else
				printf("%-12s - %s: %s\n", "", t1, buf);
			if (after > 0 && repeat >= 0 && repeat < 1000)
				at += (repeat + 1) * after;
		}
	}
	if (nnone)
		printf("%-12s not required on %s\n", first ? "acknowledge" : "", none);
}

/* The human view of a charter (the JSON above, from a file or the node). */
static void print_charter(const json_t *j)
{
	char buf[1024];
	cli_text_copy(buf, sizeof(buf), cli_json_str(j, "name", "?"), false);
	printf("channel      %s (version %" JSON_INTEGER_FORMAT ")\n", buf,
	       json_integer_value(json_object_get(j, "version")));
	const char *created = cli_json_str(j, "created", NULL);
	if (created) {
		cli_text_copy(buf, sizeof(buf), created, false);
		printf("created      %s\n", buf);
	}
	const json_t *states = json_object_get(j, "states"),
		     *signed_by = json_object_get(j, "signed_by");
	size_t i;
	json_t *v;
	printf("states       ");
	json_array_foreach(states, i, v)
	{
		cli_text_copy(buf, sizeof(buf), json_string_value(v), false);
		printf("%s%s (%s)", i ? ", " : "", buf,
		       in_list(signed_by, buf) ? "signed" : "not signed yet");
	}
	printf("\n");
	if (json_is_true(json_object_get(j, "complete"))) {
		printf("complete     yes: every state signed; the channel is in force\n");
	} else {
		size_t used = 0;
		buf[0] = '\0';
		json_array_foreach(states, i, v)
		{
			const char *s = json_string_value(v);
			if (!s || in_list(signed_by, s))
				continue;
			int k =
			    snprintf(buf + used, sizeof(buf) - used, "%s%s", used ? ", " : "", s);
			if (k < 0 || (size_t)k >= sizeof(buf) - used)
				break;
			used += (size_t)k;
		}
		cli_text_clean(buf, false);
		printf("complete     no: waiting for %s\n", used ? buf : "(nobody?)");
	}
	json_array_foreach(json_object_get(j, "members"), i, v)
	{
		char who[2 * PL_NAME_MAX + 2], name[256], title[256];
		snprintf(who, sizeof(who), "%s@%s", cli_json_str(v, "id", "?"),
			 cli_json_str(v, "state", "?"));
		cli_text_clean(who, false);
		cli_text_copy(name, sizeof(name), cli_json_str(v, "name", ""), false);
		cli_text_copy(title, sizeof(title), cli_json_str(v, "title", ""), false);
		printf("%-12s %-28s %s, %s\n", i ? "" : "members", who, name, title);
	}
	join(buf, sizeof(buf), json_object_get(j, "kinds"));
	printf("kinds        %s\n", buf);
	join(buf, sizeof(buf), json_object_get(j, "lanes"));
	printf("precedences  %s\n", buf);
	print_policy(json_object_get(j, "policy"));
}

/* ---------------------------------------------------------------- submitting */

/* Hand the signed charter to the node (opening *np, authenticated, if needed). */
static int submit_charter(cli_ctx *ctx, cli_node **np, const uint8_t *enc, size_t len)
{
	int rc = *np ? 0 : cli_node_open(ctx, CLI_NODE_AUTH, np);
	if (rc)
		return rc;
	char *b64 = malloc(pl_b64_len(len));
	json_t *req = NULL;
	if (b64) {
		pl_b64_encode(b64, enc, len);
		req = json_pack("{s:s}", "charter", b64);
		free(b64);
	}
	if (!req)
		return cli_fail(CLI_EXIT_FAIL, "out of memory");
	cli_problem pb;
	rc = cli_node_call(*np, "POST", "/v1/charters", req, "submitting the charter", NULL, &pb);
	json_decref(req);
	if (rc && pb.status == 422)
		return cli_fail(rc, "node %s refused the charter: %s: %s", cli_node_name(*np),
				pb.type, pb.detail);
	if (rc && pb.status)
		return cli_node_report(&pb, "submitting the charter");
	return rc;
}

/* The line after signing: who has signed, and what is missing. */
static void print_signed(const pl_charter *c, const char *file, const cli_node *n)
{
	json_t *j = charter_json(c);
	char who[512];
	join(who, sizeof(who), json_object_get(j, "signed_by"));
	printf("charter %s version %" PRIu64 " signed by %s: %s\n", c->name, c->version, who,
	       pl_charter_check_complete(c) == 0 ? "complete" : "waiting for the other states");
	if (file)
		printf("  written to %s\n", file);
	if (n)
		printf("  submitted to node %s\n", cli_node_name(n));
	json_decref(j);
}

static int print_result_json(const pl_charter *c, const char *file, const cli_node *n)
{
	json_t *j = charter_json(c);
	if (j) {
		json_object_set_new(j, "file", file ? json_string(file) : json_null());
		json_object_set_new(j, "submitted_to",
				    n ? json_string(cli_node_name(n)) : json_null());
	}
	return cli_print_json(j);
}

/* Sign c for this state, write it to out (if any), submit it (if asked). */
static int sign_write_submit(cli_ctx *ctx, pl_charter *c, const pl_trust *t, const char *out,
			     bool submit, cli_node **np)
{
	pl_keypair root;
	int rc = cli_unlock_root(ctx, &root);
	if (rc)
		return rc;
	rc = pl_charter_sign(c, t, ctx->self.name, &root);
	pl_key_wipe(&root);
	if (rc)
		return cli_err(rc, "signing the charter");
	uint8_t *enc = NULL;
	size_t len = 0;
	rc = pl_charter_encode(c, &enc, &len);
	if (rc)
		return cli_err(rc, "encoding the charter");
	if (out) {
		rc = pl_file_write_atomic(out, enc, len, 0644, PL_FILE_REPLACE);
		if (rc)
			rc = cli_err(rc, out);
	}
	if (!rc && submit)
		rc = submit_charter(ctx, np, enc, len);
	free(enc);
	if (rc)
		return rc;
	if (ctx->json)
		return print_result_json(c, out, submit ? *np : NULL);
	print_signed(c, out, submit ? *np : NULL);
	return 0;
}

/* ---------------------------------------------------------------- the policy file */

/* A --policy file's rules: rules[lane] holds where have has bit (1u << lane). */
struct policy {
	pl_ack_rule rules[PL_LANE_COUNT];
	unsigned have;
};

/* "FILE: PATH: what is wrong", exit code 2. */
__attribute__((format(printf, 3, 4))) static int policy_bad(const char *file, const char *path,
							    const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cli_text_clean(msg, false);
	return cli_fail(CLI_EXIT_USAGE, "%s: %s: %s", file, path, msg);
}

/* Every key of o is one of the NULL-terminated names; else the bad one. */
static const char *unknown_key(const json_t *o, const char *const *names)
{
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)o, k, v)
	{
		size_t i = 0;
		while (names[i] && strcmp(names[i], k) != 0)
			i++;
		if (!names[i])
			return k;
	}
	return NULL;
}

/* o[key] as a whole number in lo..hi. */
static bool json_bounded(const json_t *o, const char *key, json_int_t lo, json_int_t hi,
			 uint32_t *out)
{
	const json_t *v = json_object_get(o, key);
	if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
		return false;
	*out = (uint32_t)json_integer_value(v);
	return true;
}

static int policy_level(const char *file, const char *at, const json_t *o, pl_ack_level *l)
{
	static const char *const keys[] = {"notify", "after", "repeat", NULL};
	char path[256], shown[48];
	if (!json_is_object(o))
		return policy_bad(file, at, "must be an object with notify, after and repeat");
	const char *bad = unknown_key(o, keys);
	if (bad) {
		cli_text_copy(shown, sizeof(shown), bad, false);
		snprintf(path, sizeof(path), "%s.%s", at, shown);
		return policy_bad(file, path, "unknown field (a level has notify, after, repeat)");
	}
	const json_t *notify = json_object_get(o, "notify");
	snprintf(path, sizeof(path), "%s.notify", at);
	if (!json_is_array(notify) || json_array_size(notify) < 1 ||
	    json_array_size(notify) > PL_ACK_TARGETS_MAX)
		return policy_bad(file, path,
				  "must be an array of 1..%d targets (\"id:ID\" or \"role:ROLE\")",
				  PL_ACK_TARGETS_MAX);
	size_t j;
	json_t *t;
	json_array_foreach(notify, j, t)
	{
		snprintf(path, sizeof(path), "%s.notify[%zu]", at, j);
		const char *s = json_string_value(t);
		if (!s)
			return policy_bad(file, path, "must be a text \"id:ID\" or \"role:ROLE\"");
		if (!pl_ack_target_is_valid(s)) {
			cli_text_copy(shown, sizeof(shown), s, false);
			return policy_bad(file, path,
					  "'%s' is not id:ID or role:ROLE (names: a-z 0-9 . _ -)",
					  shown);
		}
		for (size_t k = 0; k < j; k++)
			if (strcmp(l->targets[k], s) == 0)
				return policy_bad(file, path, "'%s' is listed twice", s);
		memcpy(l->targets[j], s, strlen(s) + 1);
		l->ntargets = j + 1;
	}
	snprintf(path, sizeof(path), "%s.after", at);
	if (!json_bounded(o, "after", 1, PL_ACK_AFTER_MAX, &l->after))
		return policy_bad(file, path, "must be 1..%d (seconds)", PL_ACK_AFTER_MAX);
	snprintf(path, sizeof(path), "%s.repeat", at);
	if (!json_bounded(o, "repeat", 0, PL_ACK_REPEAT_MAX, &l->repeat))
		return policy_bad(file, path, "must be 0..%d (alerts after the first)",
				  PL_ACK_REPEAT_MAX);
	return 0;
}

/*
 * Read the --policy FILE: {"FLASH": {"ack": S, "levels": [{"notify": [...],
 * "after": S, "repeat": N}, ...]}, ...}, precedence names in any case, each
 * an allowed one (lanes).  Errors name the JSON path of the bad field.
 */
static int policy_read(const char *file, unsigned lanes, struct policy *p)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc = cli_read_file(file, POLICY_FILE_MAX, &buf, &len);
	if (rc)
		return rc;
	json_error_t err;
	json_t *j = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &err);
	free(buf);
	if (!j)
		return cli_fail(CLI_EXIT_USAGE, "%s:%d: not JSON: %s", file, err.line, err.text);
	if (!json_is_object(j)) {
		json_decref(j);
		return cli_fail(CLI_EXIT_USAGE,
				"%s: the policy must be a JSON object of precedences (FLASH, "
				"IMMEDIATE, PRIORITY, ROUTINE)",
				file);
	}
	static const char *const keys[] = {"ack", "levels", NULL};
	const char *name;
	json_t *r;
	char at[64], path[128], shown[48];
	json_object_foreach(j, name, r)
	{
		pl_lane lane;
		cli_text_copy(shown, sizeof(shown), name, false);
		if (pl_lane_parse(name, &lane) != 0) {
			rc = policy_bad(
			    file, shown,
			    "not a precedence: use FLASH, IMMEDIATE, PRIORITY or ROUTINE");
			break;
		}
		if ((p->have >> lane) & 1u) {
			rc = policy_bad(file, shown, "%s is given twice", pl_lane_name(lane));
			break;
		}
		if (!((lanes >> lane) & 1u)) {
			rc =
			    policy_bad(file, shown,
				       "the charter does not allow this precedence (add --lane %s)",
				       pl_lane_name(lane));
			break;
		}
		snprintf(at, sizeof(at), "%s", shown);
		pl_ack_rule *rule = &p->rules[lane];
		if (!json_is_object(r)) {
			rc = policy_bad(file, at, "must be an object with ack and levels");
			break;
		}
		const char *bad = unknown_key(r, keys);
		if (bad) {
			cli_text_copy(shown, sizeof(shown), bad, false);
			snprintf(path, sizeof(path), "%s.%s", at, shown);
			rc = policy_bad(file, path, "unknown field (a rule has ack and levels)");
			break;
		}
		snprintf(path, sizeof(path), "%s.ack", at);
		if (!json_bounded(r, "ack", 1, PL_ACK_DEADLINE_MAX, &rule->ack)) {
			rc = policy_bad(file, path, "must be 1..%d (seconds after sending)",
					PL_ACK_DEADLINE_MAX);
			break;
		}
		const json_t *levels = json_object_get(r, "levels");
		snprintf(path, sizeof(path), "%s.levels", at);
		if (!json_is_array(levels) || json_array_size(levels) < 1 ||
		    json_array_size(levels) > PL_ACK_LEVELS_MAX) {
			rc = policy_bad(file, path, "must be an array of 1..%d levels",
					PL_ACK_LEVELS_MAX);
			break;
		}
		size_t i;
		json_t *lv;
		json_array_foreach(levels, i, lv)
		{
			snprintf(path, sizeof(path), "%s.levels[%zu]", at, i);
			rc = policy_level(file, path, lv, &rule->levels[i]);
			if (rc)
				break;
			rule->nlevels = i + 1;
		}
		if (rc)
			break;
		p->have |= 1u << lane;
	}
	json_decref(j);
	return rc;
}

/* ---------------------------------------------------------------- propose */

#define MAX_FILES PL_CHARTER_MEMBERS_MAX

struct members {
	pl_slice raw[PL_CHARTER_MEMBERS_MAX];
	uint8_t *owned[PL_CHARTER_MEMBERS_MAX];
	char state[PL_CHARTER_MEMBERS_MAX][PL_NAME_MAX + 1];
	char id[PL_CHARTER_MEMBERS_MAX][PL_NAME_MAX + 1];
	size_t n;
};

static void members_free(struct members *m)
{
	for (size_t i = 0; i < m->n; i++)
		free(m->owned[i]);
	m->n = 0;
}

static bool members_have(const struct members *m, const char *state, const char *id)
{
	for (size_t i = 0; i < m->n; i++)
		if (strcmp(m->state[i], state) == 0 && strcmp(m->id[i], id) == 0)
			return true;
	return false;
}

/* Add the signed credential buf (taken) after checking it against t. */
static int members_add(struct members *m, const pl_trust *t, uint8_t *buf, size_t len,
		       const char *from)
{
	pl_cred c;
	int rc = pl_cred_open(buf, len, t, &c);
	if (rc) {
		free(buf);
		if (rc == PL_ERR_UNKNOWN_ROOT)
			return cli_fail(CLI_EXIT_REFUSED,
					"%s: %s (pin the issuing state first: `parley peer add`)",
					from, pl_err_detail());
		return cli_err(rc, from);
	}
	if (members_have(m, c.state, c.id)) {
		free(buf);
		return 0;
	}
	if (m->n == PL_CHARTER_MEMBERS_MAX) {
		free(buf);
		return cli_usage(cli_current, "a charter has at most %d members",
				 PL_CHARTER_MEMBERS_MAX);
	}
	m->owned[m->n] = buf;
	m->raw[m->n] = (pl_slice){buf, len};
	memcpy(m->state[m->n], c.state, strlen(c.state) + 1);
	memcpy(m->id[m->n], c.id, strlen(c.id) + 1);
	m->n++;
	return 0;
}

static int add_name(const char **list, size_t *n, size_t max, const char *what, const char *s)
{
	if (!pl_name_is_valid(s))
		return cli_usage(cli_current, "%s '%s' is not valid: use a-z 0-9 . _ -", what, s);
	for (size_t i = 0; i < *n; i++)
		if (strcmp(list[i], s) == 0)
			return 0;
	if (*n == max)
		return cli_usage(cli_current, "at most %zu %ss", max, what);
	list[(*n)++] = s;
	return 0;
}

int cmd_channel_propose(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {{"name", required_argument, NULL, 'n'},
					     {"member", required_argument, NULL, 'm'},
					     {"member-file", required_argument, NULL, 'M'},
					     {"state", required_argument, NULL, 's'},
					     {"kind", required_argument, NULL, 'k'},
					     {"lane", required_argument, NULL, 'l'},
					     {"version", required_argument, NULL, 'v'},
					     {"policy", required_argument, NULL, 'p'},
					     {"out", required_argument, NULL, 'o'},
					     {"submit", no_argument, NULL, 'S'},
					     {NULL, 0, NULL, 0}};
	const char *name = NULL, *out = NULL, *policy_file = NULL;
	const char *member[PL_CHARTER_MEMBERS_MAX], *files[MAX_FILES];
	const char *states[PL_CHARTER_STATES_MAX + 1], *kinds[PL_CHARTER_KINDS_MAX];
	size_t nmember = 0, nfiles = 0, nstates = 0, nkinds = 0;
	unsigned lanes = 0;
	uint64_t version = 1;
	bool submit = false;
	int opt, rc = 0;
	while ((opt = cli_next_opt(argc, argv, opts)) != -1) {
		switch (opt) {
		case 'n':
			name = optarg;
			break;
		case 'o':
			out = optarg;
			break;
		case 'p':
			policy_file = optarg;
			break;
		case 'S':
			submit = true;
			break;
		case 'm':
			if (nmember == PL_CHARTER_MEMBERS_MAX)
				return cli_usage(cli_current, "at most %d members",
						 PL_CHARTER_MEMBERS_MAX);
			member[nmember++] = optarg;
			break;
		case 'M':
			if (nfiles == MAX_FILES)
				return cli_usage(cli_current, "at most %d member files", MAX_FILES);
			files[nfiles++] = optarg;
			break;
		case 's':
			rc = add_name(states, &nstates, PL_CHARTER_STATES_MAX, "state", optarg);
			break;
		case 'k':
			rc = add_name(kinds, &nkinds, PL_CHARTER_KINDS_MAX, "kind", optarg);
			break;
		case 'l': {
			pl_lane l;
			if (pl_lane_parse(optarg, &l) != 0)
				return cli_usage(cli_current,
						 "--lane must be FLASH, IMMEDIATE, PRIORITY or "
						 "ROUTINE, not '%s'",
						 optarg);
			lanes |= 1u << l;
			break;
		}
		case 'v': {
			char *end;
			errno = 0;
			unsigned long long v = strtoull(optarg, &end, 10);
			if (errno || end == optarg || *end || optarg[0] == '-' || v < 1 ||
			    v > 1000000000)
				return cli_usage(cli_current,
						 "--version must be a whole number "
						 "from 1, not '%s'",
						 optarg);
			version = v;
			break;
		}
		default:
			return CLI_EXIT_USAGE;
		}
		if (rc)
			return rc;
	}
	if (optind < argc)
		return cli_usage(cli_current, "unexpected argument '%s'", argv[optind]);
	if (!name)
		return cli_usage(cli_current, "--name is required");
	if (!pl_name_is_valid(name))
		return cli_usage(cli_current, "channel name '%s' is not valid: use a-z 0-9 . _ -",
				 name);
	if (nmember + nfiles == 0)
		return cli_usage(cli_current,
				 "give the members: --member ID[@STATE], --member-file "
				 "FILE");
	if (!out && !submit)
		return cli_usage(cli_current, "give --out FILE, --submit, or both");
	if (nkinds == 0)
		kinds[nkinds++] = "message";
	if (lanes == 0)
		for (unsigned l = PL_LANE_FLASH; l <= PL_LANE_ROUTINE; l++)
			lanes |= 1u << l;

	struct policy *pol = calloc(1, sizeof(*pol));
	if (!pol)
		return cli_fail(CLI_EXIT_FAIL, "out of memory");
	if (policy_file) {
		rc = policy_read(policy_file, lanes, pol);
		if (rc) {
			free(pol);
			return rc;
		}
	}
	pl_trust *t = NULL;
	rc = cli_load_trust(ctx, &t);
	if (rc) {
		free(pol);
		return rc;
	}
	struct members *m = calloc(1, sizeof(*m));
	pl_charter c;
	memset(&c, 0, sizeof(c));
	cli_node *node = NULL;
	if (!m) {
		rc = cli_fail(CLI_EXIT_FAIL, "out of memory");
		goto out;
	}
	/* Peer officials come from their credential files. */
	for (size_t i = 0; !rc && i < nfiles; i++) {
		uint8_t *buf = NULL;
		size_t len = 0;
		rc = cli_read_file(files[i], CRED_FILE_MAX, &buf, &len);
		if (!rc)
			rc = members_add(m, t, buf, len, files[i]);
	}
	/* --member ID[@STATE]: this state's from the registry, a peer's from a file. */
	for (size_t i = 0; !rc && i < nmember; i++) {
		char id[PL_NAME_MAX + 1], st[PL_NAME_MAX + 1];
		const char *at = strchr(member[i], '@');
		size_t idlen = at ? (size_t)(at - member[i]) : strlen(member[i]);
		const char *sname = at ? at + 1 : ctx->self.name;
		if (idlen == 0 || idlen > PL_NAME_MAX || strlen(sname) > PL_NAME_MAX) {
			rc = cli_usage(cli_current, "--member '%s' is not ID or ID@STATE",
				       member[i]);
			break;
		}
		memcpy(id, member[i], idlen);
		id[idlen] = '\0';
		memcpy(st, sname, strlen(sname) + 1);
		if (!pl_name_is_valid(id) || !pl_name_is_valid(st)) {
			rc = cli_usage(cli_current, "--member '%s' is not ID or ID@STATE",
				       member[i]);
			break;
		}
		if (members_have(m, st, id))
			continue;
		if (strcmp(st, ctx->self.name) != 0) {
			rc = cli_fail(CLI_EXIT_NOTFOUND,
				      "no credential for %s@%s: give the file %s's administrator "
				      "exports (their officials/%s.cred) with --member-file",
				      id, st, st, id);
			break;
		}
		uint8_t *buf = NULL;
		size_t len = 0;
		rc = pl_store_get(ctx->store, KIND_CRED, id, &buf, &len);
		if (rc == PL_ERR_NOT_FOUND)
			rc = cli_fail(
			    CLI_EXIT_NOTFOUND,
			    "unknown official '%s' in state %s (see `parley official list`)", id,
			    ctx->self.name);
		else if (rc)
			rc = cli_err(rc, "reading the registry");
		else
			rc = members_add(m, t, buf, len, member[i]);
	}
	if (rc)
		goto out;
	/* The states: this one, those given, those of the members. */
	rc = add_name(states, &nstates, PL_CHARTER_STATES_MAX, "state", ctx->self.name);
	for (size_t i = 0; !rc && i < m->n; i++)
		rc = add_name(states, &nstates, PL_CHARTER_STATES_MAX, "state", m->state[i]);
	if (!rc && nstates < PL_CHARTER_STATES_MIN)
		rc = cli_usage(cli_current,
			       "a channel joins at least two states: add a member of a peer state "
			       "(--member-file) or --state PEER");
	if (rc)
		goto out;
	pl_charter_spec spec = {
	    .name = name,
	    .version = version,
	    .created = ctx->now,
	    .states = states,
	    .nstates = nstates,
	    .members = m->raw,
	    .nmembers = m->n,
	    .kinds = kinds,
	    .nkinds = nkinds,
	    .lanes = lanes,
	};
	for (unsigned l = PL_LANE_FLASH; l <= PL_LANE_ROUTINE; l++)
		if ((pol->have >> l) & 1u)
			spec.rules[l] = &pol->rules[l];
	rc = pl_charter_build(&spec, t, &c);
	if (rc) {
		rc = cli_err(rc, "building the charter");
		goto out;
	}
	if (!ctx->json) {
		json_t *j = charter_json(&c);
		printf("Proposing this charter, signed by %s's root:\n\n", ctx->self.name);
		print_charter(j);
		printf("\n");
		fflush(stdout);
		json_decref(j);
	}
	rc = sign_write_submit(ctx, &c, t, out, submit, &node);
out:
	cli_node_free(node);
	pl_charter_clear(&c);
	if (m)
		members_free(m);
	free(m);
	free(pol);
	pl_trust_free(t);
	return rc;
}

/* ---------------------------------------------------------------- sign */

/* The signed charter of channel name as the node holds it (bytes malloc'd). */
static int fetch_charter(cli_node *n, const char *name, uint8_t **out, size_t *len)
{
	char path[128];
	snprintf(path, sizeof(path), "/v1/charters/%s", name);
	json_t *j = NULL;
	cli_problem pb;
	int rc = cli_node_call(n, "GET", path, NULL, "fetching the charter", &j, &pb);
	if (rc && pb.status == 404)
		return cli_fail(rc,
				"node %s holds no charter for channel %s (yet: a proposal takes a "
				"moment to arrive from the proposing state's node)",
				cli_node_name(n), name);
	if (rc)
		return pb.status ? cli_node_report(&pb, "fetching the charter") : rc;
	const char *b64 = cli_json_str(j, "charter", "");
	size_t n64 = strlen(b64);
	uint8_t *buf = n64 && n64 / 4 * 3 <= CHARTER_FILE_MAX + 3 ? malloc(n64 / 4 * 3 + 3) : NULL;
	if (!buf || pl_b64_decode(buf, n64 / 4 * 3 + 3, len, b64, n64) != 0) {
		free(buf);
		json_decref(j);
		return cli_fail(CLI_EXIT_FAIL,
				"node %s's answer for charter %s has no valid charter",
				cli_node_name(n), name);
	}
	json_decref(j);
	*out = buf;
	return 0;
}

int cmd_channel_sign(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {{"from-node", required_argument, NULL, 'f'},
					     {"out", required_argument, NULL, 'o'},
					     {"submit", no_argument, NULL, 's'},
					     {NULL, 0, NULL, 0}};
	const char *from = NULL, *out = NULL, *file = NULL;
	bool submit = false;
	int opt;
	while ((opt = cli_next_opt(argc, argv, opts)) != -1) {
		if (opt == 'f')
			from = optarg;
		else if (opt == 'o')
			out = optarg;
		else if (opt == 's')
			submit = true;
		else
			return CLI_EXIT_USAGE;
	}
	if (optind < argc)
		file = argv[optind++];
	if (optind < argc)
		return cli_usage(cli_current, "unexpected argument '%s'", argv[optind]);
	if (!file == !from)
		return cli_usage(cli_current,
				 "give a charter FILE or --from-node NAME (one of them)");
	if (from && !pl_name_is_valid(from))
		return cli_usage(cli_current, "'%s' is not a valid channel name", from);
	if (from)
		submit = true;
	pl_trust *t = NULL;
	int rc = cli_load_trust(ctx, &t);
	if (rc)
		return rc;
	cli_node *node = NULL;
	uint8_t *buf = NULL;
	size_t len = 0;
	pl_charter c;
	memset(&c, 0, sizeof(c));
	if (from) {
		rc = cli_node_open(ctx, CLI_NODE_AUTH, &node);
		if (!rc)
			rc = fetch_charter(node, from, &buf, &len);
	} else {
		rc = cli_read_file(file, CHARTER_FILE_MAX, &buf, &len);
	}
	if (rc)
		goto out;
	rc = pl_charter_open(buf, len, t, &c);
	if (rc) {
		rc = cli_err(rc, from ? from : file);
		goto out;
	}
	size_t me = c.nstates;
	for (size_t i = 0; i < c.nstates; i++)
		if (strcmp(c.states[i], ctx->self.name) == 0)
			me = i;
	if (me == c.nstates) {
		rc = cli_fail(CLI_EXIT_REFUSED,
			      "charter %s does not list state %s: it is not this state's to sign",
			      c.name, ctx->self.name);
		goto out;
	}
	const char *dest = out ? out : file;
	if (c.sig[me]) {
		/* Nothing to sign; submitting again is harmless (and a retry). */
		if (submit && !from)
			rc = submit_charter(ctx, &node, buf, len);
		if (!rc && ctx->json)
			rc = print_result_json(&c, NULL, submit && !from ? node : NULL);
		else if (!rc)
			printf("charter %s version %" PRIu64 " is already signed by %s; nothing to "
			       "sign%s\n",
			       c.name, c.version, ctx->self.name,
			       submit && !from ? " (submitted it again)" : "");
		goto out;
	}
	if (!ctx->json) {
		json_t *j = charter_json(&c);
		printf("Signing this charter with %s's root:\n\n", ctx->self.name);
		print_charter(j);
		printf("\n");
		fflush(stdout);
		json_decref(j);
	}
	rc = sign_write_submit(ctx, &c, t, dest, submit, &node);
out:
	cli_node_free(node);
	pl_charter_clear(&c);
	free(buf);
	pl_trust_free(t);
	return rc;
}

/* ---------------------------------------------------------------- show */

int cmd_channel_show(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {{NULL, 0, NULL, 0}};
	if (cli_next_opt(argc, argv, opts) != -1)
		return CLI_EXIT_USAGE;
	if (optind + 1 != argc)
		return cli_usage(cli_current, "give a channel NAME or a charter FILE");
	const char *arg = argv[optind];
	json_t *j = NULL;
	int rc = 0;
	if (strchr(arg, '/') || access(arg, F_OK) == 0) {
		pl_trust *t = NULL;
		uint8_t *buf = NULL;
		size_t len = 0;
		pl_charter c;
		memset(&c, 0, sizeof(c));
		rc = cli_read_file(arg, CHARTER_FILE_MAX, &buf, &len);
		if (!rc)
			rc = cli_load_trust(ctx, &t);
		if (!rc) {
			rc = pl_charter_open(buf, len, t, &c);
			if (rc)
				rc = cli_err(rc, arg);
		}
		if (!rc) {
			j = charter_json(&c);
			if (!j)
				rc = cli_fail(CLI_EXIT_FAIL, "out of memory");
		}
		pl_charter_clear(&c);
		pl_trust_free(t);
		free(buf);
	} else if (pl_name_is_valid(arg)) {
		cli_node *n = NULL;
		rc = cli_node_open(ctx, CLI_NODE_AUTH, &n);
		char path[128];
		snprintf(path, sizeof(path), "/v1/charters/%s", arg);
		cli_problem pb;
		if (!rc)
			rc = cli_node_call(n, "GET", path, NULL, "reading the charter", &j, &pb);
		if (n && rc && pb.status == 404)
			rc = cli_fail(rc, "node %s holds no charter for channel %s",
				      cli_node_name(n), arg);
		else if (n && rc && pb.status)
			rc = cli_node_report(&pb, "reading the charter");
		cli_node_free(n);
	} else {
		rc = cli_usage(cli_current, "'%s' is neither a charter file nor a channel name",
			       arg);
	}
	if (!rc && ctx->json) {
		json_object_del(j, "charter"); /* the node's base64 copy: see `channel sign` */
		rc = cli_print_json(j);
		j = NULL;
	} else if (!rc) {
		print_charter(j);
	}
	json_decref(j);
	return rc;
}

/* ---------------------------------------------------------------- list */

int cmd_channel_list(cli_ctx *ctx, int argc, char **argv)
{
	int rc = cli_no_args(argc, argv);
	cli_node *n = NULL;
	if (!rc)
		rc = cli_node_open(ctx, CLI_NODE_AUTH, &n);
	json_t *list = NULL;
	if (!rc)
		rc = cli_node_call(n, "GET", "/v1/channels", NULL, "listing channels", &list, NULL);
	json_t *chans = json_object_get(list, "channels");
	if (!rc && ctx->json) {
		rc = cli_print_json(chans ? json_incref(chans) : json_array());
	} else if (!rc && json_array_size(chans) == 0) {
		printf("node %s holds no charters (see `parley channel propose`)\n",
		       cli_node_name(n));
	} else if (!rc) {
		static const char *const headers[] = {"CHANNEL",     "VERSION",  "STATES",
						      "SIGNED BY",   "IN FORCE", "MEMBERS",
						      "PRECEDENCES", "KINDS"};
		cli_table *t = cli_table_new(8, headers);
		size_t i;
		json_t *c;
		json_array_foreach(chans, i, c)
		{
			char name[PL_NAME_MAX + 1], ver[24], states[256], signers[256], members[24],
			    lanes[64], kinds[256];
			cli_text_copy(name, sizeof(name), cli_json_str(c, "name", "?"), false);
			snprintf(ver, sizeof(ver), "%" JSON_INTEGER_FORMAT,
				 json_integer_value(json_object_get(c, "version")));
			join(states, sizeof(states), json_object_get(c, "states"));
			join(signers, sizeof(signers), json_object_get(c, "signed_by"));
			snprintf(members, sizeof(members), "%zu",
				 json_array_size(json_object_get(c, "members")));
			join(lanes, sizeof(lanes), json_object_get(c, "lanes"));
			join(kinds, sizeof(kinds), json_object_get(c, "kinds"));
			const char *cells[] = {
			    name,
			    ver,
			    states,
			    signers,
			    json_is_true(json_object_get(c, "complete")) ? "yes" : "no (unsigned)",
			    members,
			    lanes,
			    kinds};
			if (!t || cli_table_add(t, cells) != 0) {
				rc = cli_fail(CLI_EXIT_FAIL, "out of memory");
				break;
			}
		}
		if (!rc)
			cli_table_print(t);
		cli_table_free(t);
	}
	json_decref(list);
	cli_node_free(n);
	return rc;
}
