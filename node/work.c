/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Officials' work on the node: forms and the request workflow, human read
 * and ack receipts, acknowledgement deadlines and escalation (see work.h).
 *
 * Records are JSON rows of the node store (kinds 126..130, docs/formats.md)
 * written in the transaction that accepts the envelope; events noted on the
 * way are published by work_flush once that transaction is committed.
 *
 * Divisions: helpers; forms and requests; receipts; deadlines (schedule,
 * alarm, tick); hooks; views; check and apply.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>

#include "core_int.h"
#include "parley/err.h"
#include "parley/forms.h"
#include "parley/time.h"
#include "stmt.h"
#include "work.h"

extern char **environ;

#define H PL_HASH_BYTES
#define KIND_ACK  "ack"
#define KIND_READ "read"
/* An overdue envelope (every level alerted) stays listed, filed here. */
#define DUE_NEVER INT64_C(99999999999)
/* Deadlines fired per tick, at most (the rest wait for the next tick). */
#define TICK_MAX 64

/* ================================================================ helpers */

static void hexid(char out[2 * H + 1], const uint8_t id[H])
{
	pl_hex_encode(out, id, H);
}

/* Note an event (data consumed) for after the commit. */
static void note(node_core *n, const char *type, json_t *data)
{
	core_emit_after_commit(n, type, data);
}

static json_t *time_json(int64_t t)
{
	char s[PL_TIME_LEN];
	pl_time_format(s, t);
	return json_string(s);
}

/* ================================================================ forms and requests */

static int form_reason(int rc, const pl_form_errors *errs)
{
	if (!errs->n)
		return rc;
	/* every field's reason, one after the other */
	char all[900];
	size_t used = 0;
	all[0] = '\0';
	for (size_t i = 0; i < errs->n && used < sizeof(all); i++) {
		int k = snprintf(all + used, sizeof(all) - used, "%s%s", i ? "; " : "",
				 errs->e[i].msg);
		if (k < 0)
			break;
		used += (size_t)k;
	}
	return pl_err_fail(rc, "%s%s", all, errs->more ? "; ..." : "");
}

static void req_key(char out[PL_NAME_MAX + 2 * H + 2], const char *ch, const uint8_t id[H])
{
	char hx[2 * H + 1];
	hexid(hx, id);
	snprintf(out, PL_NAME_MAX + 2 * H + 2, "%s/%s", ch, hx);
}

static bool charter_has_state(const pl_charter *c, const char *state)
{
	for (size_t i = 0; c && i < c->nstates; i++)
		if (strcmp(c->states[i], state) == 0)
			return true;
	return false;
}

static int check_request(node_core *n, const pl_env *env)
{
	pl_request r;
	pl_form_errors errs;
	pl_form_errors_init(&errs);
	int rc = pl_request_decode(env->body, env->body_len, &r, &errs);
	if (rc)
		return form_reason(rc, &errs);
	const pl_charter *c = core_charter_lookup(n, env->ch);
	if (strcmp(r.requested_state, env->state) == 0)
		return pl_err_fail(PL_ERR_INVALID,
				   "field 'requested_state': a request is made to another state, "
				   "not to %s itself",
				   env->state);
	if (!charter_has_state(c, r.requested_state))
		return pl_err_fail(PL_ERR_INVALID,
				   "field 'requested_state': %s is not a state of channel %s",
				   r.requested_state, env->ch);
	return 0;
}

static int check_step(node_core *n, const pl_env *env)
{
	pl_request_step st;
	pl_form_errors errs;
	pl_form_errors_init(&errs);
	int rc = pl_request_step_decode(env->body, env->body_len, &st, &errs);
	if (rc)
		return form_reason(rc, &errs);
	char key[PL_NAME_MAX + 2 * H + 2], hx[2 * H + 1];
	req_key(key, env->ch, env->ref);
	hexid(hx, env->ref);
	json_t *rec = nstore_json_get(n->db, NSTORE_REQUEST, key, &rc);
	if (rc)
		return rc;
	if (!rec)
		return pl_err_fail(PL_ERR_NOT_FOUND, "no request %.16s... on channel %s", hx,
				   env->ch);
	pl_request_status cur;
	const char *requesting = json_string_value(json_object_get(rec, "requesting"));
	const char *requested = json_string_value(json_object_get(rec, "requested"));
	rc = pl_request_status_parse(json_string_value(json_object_get(rec, "status")), &cur);
	if (!rc && (!requesting || !requested))
		rc = pl_err_fail(PL_ERR_MALFORMED, "node store: bad request record %s", key);
	if (!rc && strcmp(env->state, requesting) != 0 && strcmp(env->state, requested) != 0)
		rc = pl_err_fail(PL_ERR_WRONG_STATE,
				 "%s is neither the requesting (%s) nor the requested state (%s)",
				 env->state, requesting, requested);
	if (!rc)
		rc = pl_request_step_check(cur, st.to, strcmp(env->state, requested) == 0,
					   requesting, requested);
	json_decref(rec);
	return rc;
}

static int apply_request(node_core *n, const pl_env *env, const uint8_t id[H], int64_t now)
{
	pl_request r;
	int rc = pl_request_decode(env->body, env->body_len, &r, NULL);
	if (rc)
		return rc;
	char key[PL_NAME_MAX + 2 * H + 2], hx[2 * H + 1];
	req_key(key, env->ch, id);
	hexid(hx, id);
	json_t *hist = json_pack("[{s:s,s:s,s:s,s:o,s:s}]", "to", "submitted", "by", env->author,
				 "state", env->state, "at", time_json(env->at), "id", hx);
	json_t *j = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:o,s:o,s:I}", "channel", env->ch, "id",
			      hx, "type", pl_request_type_name(r.type), "subject", r.subject,
			      "requesting", env->state, "requested", r.requested_state, "status",
			      "submitted", "created", time_json(env->at), "history", hist, "updated",
			      (json_int_t)now);
	if (j && r.has_due)
		json_object_set_new(j, "due", time_json(r.due));
	rc = nstore_json_put(n->db, NSTORE_REQUEST, key, j);
	if (!rc)
		note(n, "request", json_pack("{s:s,s:s,s:s,s:s}", "channel", env->ch, "id", hx,
					     "status", "submitted", "by", env->state));
	return rc;
}

static int apply_step(node_core *n, const pl_env *env, const uint8_t id[H])
{
	pl_request_step st;
	int rc = pl_request_step_decode(env->body, env->body_len, &st, NULL);
	if (rc)
		return rc;
	char key[PL_NAME_MAX + 2 * H + 2], hx[2 * H + 1], rx[2 * H + 1];
	req_key(key, env->ch, env->ref);
	hexid(hx, id);
	hexid(rx, env->ref);
	json_t *rec = nstore_json_get(n->db, NSTORE_REQUEST, key, &rc);
	if (!rec)
		return rc ? rc : pl_err_fail(PL_ERR_NOT_FOUND, "no request %s", key);
	const char *to = pl_request_status_name(st.to);
	json_object_set_new(rec, "status", json_string(to));
	json_t *h = json_object_get(rec, "history");
	if (json_is_array(h))
		json_array_append_new(h, json_pack("{s:s,s:s,s:s,s:o,s:s,s:s}", "to", to, "by",
						   env->author, "state", env->state, "at",
						   time_json(env->at), "id", hx, "note", st.note));
	rc = nstore_json_put(n->db, NSTORE_REQUEST, key, rec);
	if (!rc)
		note(n, "request", json_pack("{s:s,s:s,s:s,s:s}", "channel", env->ch, "id", rx,
					     "status", to, "by", env->state));
	return rc;
}

/* ================================================================ deadlines: rules */

/* The rule that applies to env, its deadline; false when none does. */
static bool env_rule(node_core *n, const pl_env *env, pl_ack_rule *rule, int64_t *deadline)
{
	const pl_charter *c = core_charter_lookup(n, env->ch);
	if (!c || strcmp(env->kind, KIND_ACK) == 0 || strcmp(env->kind, KIND_READ) == 0 ||
	    strcmp(env->kind, "statement-sign") == 0)
		return false;
	bool have = pl_charter_rule(c, env->lane, rule) == 0;
	if (!have && !env->has_ackby)
		return false;
	if (!have) {
		/* Its own ackby on a lane without a rule: one level, the duty
		 * officers, as the charter defaults do. */
		memset(rule, 0, sizeof(*rule));
		rule->nlevels = 1;
		rule->levels[0].ntargets = 1;
		snprintf(rule->levels[0].targets[0], sizeof(rule->levels[0].targets[0]),
			 "role:duty");
		rule->levels[0].after = 300;
		rule->levels[0].repeat = 2;
		*deadline = env->ackby;
		return true;
	}
	*deadline = env->at + (int64_t)rule->ack;
	if (env->has_ackby && env->ackby < *deadline)
		*deadline = env->ackby;
	return true;
}

/* The officials of this node's state a level names (JSON array of ids). */
static json_t *resolve_targets(node_core *n, const pl_charter *c, const pl_ack_level *lv)
{
	json_t *ids = json_array();
	for (size_t t = 0; ids && t < lv->ntargets; t++) {
		const char *tg = lv->targets[t];
		for (size_t m = 0; c && m < c->nmembers; m++) {
			const pl_cred *cr = &c->members[m].cred;
			if (strcmp(cr->state, n->self.name) != 0)
				continue;
			bool hit = false;
			if (strncmp(tg, "id:", 3) == 0)
				hit = strcmp(cr->id, tg + 3) == 0;
			else if (strncmp(tg, "role:", 5) == 0)
				for (size_t r = 0; r < cr->nroles && !hit; r++)
					hit = strcmp(cr->roles[r], tg + 5) == 0;
			bool dup = false;
			size_t i;
			json_t *v;
			json_array_foreach(ids, i, v) dup = dup || strcmp(json_string_value(v), cr->id) == 0;
			if (hit && !dup)
				json_array_append_new(ids, json_string(cr->id));
		}
	}
	return ids;
}

static void due_key(char out[64 + 2 * H], int64_t due, const char *hx)
{
	snprintf(out, 64 + 2 * H, "%020" PRId64 "/%s", due, hx);
}

/* The key of the deadline row of envelope hx into key: 0, PL_ERR_NOT_FOUND
 * when it has none, or a store error. */
static int due_find(node_core *n, const char *hx, char key[64 + 2 * H])
{
	uint8_t *v = NULL;
	size_t len = 0;
	int rc = nstore_obj_get(n->db, NSTORE_DUEIDX, hx, &v, &len);
	if (!rc && len >= 64 + 2 * H)
		rc = pl_err_fail(PL_ERR_MALFORMED, "node store: bad due index %s", hx);
	if (!rc) {
		memcpy(key, v, len);
		key[len] = '\0';
	}
	free(v);
	return rc;
}

/* The deadline record of envelope hx (a new reference) and its key, or
 * NULL (with *rc 0 when it has none). */
static json_t *due_get(node_core *n, const char *hx, char key[64 + 2 * H], int *rc)
{
	*rc = due_find(n, hx, key);
	if (*rc == PL_ERR_NOT_FOUND) {
		*rc = 0;
		return NULL;
	}
	return *rc ? NULL : nstore_json_get(n->db, NSTORE_DUE, key, rc);
}

/* Drop the deadline row of hx (and its index), if it has one. */
static int due_drop(node_core *n, const char *hx)
{
	char key[64 + 2 * H];
	int rc = due_find(n, hx, key);
	if (rc == PL_ERR_NOT_FOUND)
		return 0;
	if (!rc)
		rc = nstore_obj_del(n->db, NSTORE_DUE, key);
	if (!rc || rc == PL_ERR_NOT_FOUND)
		rc = nstore_obj_del(n->db, NSTORE_DUEIDX, hx);
	return rc == PL_ERR_NOT_FOUND ? 0 : rc;
}

/* File rec (consumed) under a new due time, replacing the old filing. */
static int due_file(node_core *n, const char *hx, json_t *rec, int64_t due)
{
	char key[64 + 2 * H];
	int rc = due_drop(n, hx);
	if (rc) {
		json_decref(rec);
		return rc;
	}
	due_key(key, due, hx);
	json_object_set_new(rec, "next", json_integer((json_int_t)due));
	rc = nstore_json_put(n->db, NSTORE_DUE, key, rec);
	if (!rc)
		rc = nstore_obj_put(n->db, NSTORE_DUEIDX, hx, (const uint8_t *)key, strlen(key));
	return rc;
}

/* A new envelope that must be acknowledged: file its deadline. */
static int schedule(node_core *n, const pl_env *env, const uint8_t id[H])
{
	pl_ack_rule rule;
	int64_t deadline = 0;
	if (!env_rule(n, env, &rule, &deadline))
		return 0;
	char hx[2 * H + 1];
	hexid(hx, id);
	/* Who must acknowledge: on a receiving node its own state; on the
	 * author's node every other state of the charter. */
	const pl_charter *c = core_charter_lookup(n, env->ch);
	json_t *waiting = json_array();
	if (strcmp(env->state, n->self.name) != 0)
		json_array_append_new(waiting, json_string(n->self.name));
	else
		for (size_t i = 0; c && i < c->nstates; i++)
			if (strcmp(c->states[i], env->state) != 0)
				json_array_append_new(waiting, json_string(c->states[i]));
	json_t *rec = json_pack("{s:s,s:s,s:s,s:s,s:s,s:I,s:i,s:i,s:b,s:o,s:[]}", "id", hx,
				"channel", env->ch, "precedence", pl_lane_name(env->lane), "state",
				env->state, "author", env->author, "deadline", (json_int_t)deadline,
				"level", 0, "alerts", 0, "receiving",
				strcmp(env->state, n->self.name) != 0, "waiting", waiting,
				"escalations");
	if (!rec)
		return PL_ERR_NOMEM;
	return due_file(n, hx, rec, deadline);
}

/* ================================================================ hooks */

/* Run [node] escalate_command for one alert; never waits for it. */
static void run_hook(node_core *n, const json_t *alert)
{
	const char *cmd = n->cfg->escalate_command;
	if (!cmd || !*cmd)
		return;
	char *text = json_dumps(alert, JSON_COMPACT | JSON_SORT_KEYS);
	if (!text)
		return;
	size_t ne = 0;
	while (environ && environ[ne])
		ne++;
	char **envp = calloc(ne + 2, sizeof(*envp));
	char *var = malloc(strlen(text) + 32);
	if (envp && var) {
		for (size_t i = 0; i < ne; i++)
			envp[i] = environ[i];
		snprintf(var, strlen(text) + 32, "PARLEY_ALERT=%s", text);
		envp[ne] = var;
		char *argv[] = {(char *)cmd, NULL};
		pid_t pid;
		int e = posix_spawn(&pid, cmd, NULL, NULL, argv, envp);
		if (e != 0) {
			n->m.hook_failures++;
			node_log(NODE_LOG_ERROR, "escalate_command failed", "command=%s error=%s",
				 cmd, strerror(e));
		}
	}
	free(var);
	free(envp);
	free(text);
}

static void reap_hooks(node_core *n)
{
	for (int i = 0; i < 64; i++) {
		int st;
		pid_t p = waitpid(-1, &st, WNOHANG);
		if (p <= 0)
			break;
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			n->m.hook_failures++;
			node_log(NODE_LOG_WARN, "escalate_command exited with a failure",
				 "pid=%ld status=%d", (long)p, st);
		}
	}
}

/* ================================================================ deadlines: tick */

struct due_walk {
	int64_t now;
	size_t n;
	char keys[TICK_MAX][64 + 2 * H];
};

static int due_cb(void *ctx, const char *key, const uint8_t *val, size_t len)
{
	(void)val;
	(void)len;
	struct due_walk *w = ctx;
	if (strlen(key) < 21 || w->n >= TICK_MAX)
		return 1;
	char num[21];
	memcpy(num, key, 20);
	num[20] = '\0';
	int64_t due = strtoll(num, NULL, 10);
	if (due > w->now)
		return 1;
	snprintf(w->keys[w->n++], sizeof(w->keys[0]), "%s", key);
	return 0;
}

/* Fire one due deadline (txn): alert its current level, then move on. */
static int fire(node_core *n, const char *key, int64_t now)
{
	int rc = 0;
	json_t *rec = nstore_json_get(n->db, NSTORE_DUE, key, &rc);
	if (!rec)
		return rc;
	/* copies: rec is handed on (and freed) by due_file */
	char hx[2 * H + 1], ch[PL_NAME_MAX + 1], prec[16];
	const char *v_id = json_string_value(json_object_get(rec, "id"));
	const char *v_ch = json_string_value(json_object_get(rec, "channel"));
	const char *v_prec = json_string_value(json_object_get(rec, "precedence"));
	pl_lane lane;
	if (!v_id || !v_ch || !v_prec || strlen(v_id) != 2 * H || strlen(v_ch) > PL_NAME_MAX ||
	    pl_lane_parse(v_prec, &lane) != 0) {
		json_decref(rec);
		return pl_err_fail(PL_ERR_MALFORMED, "node store: bad deadline %s", key);
	}
	snprintf(hx, sizeof(hx), "%s", v_id);
	snprintf(ch, sizeof(ch), "%s", v_ch);
	snprintf(prec, sizeof(prec), "%s", pl_lane_name(lane));
	/* The rule as the envelope and charter say now. */
	uint8_t id[H], *buf = NULL;
	size_t got = 0, len = 0;
	pl_env env;
	pl_ack_rule rule;
	int64_t deadline = 0;
	bool have = false;
	if (pl_hex_decode(id, H, &got, hx, strlen(hx)) == 0 && got == H &&
	    nstore_env_get(n->db, id, &buf, &len, NULL) == 0 && pl_env_parse(buf, len, &env) == 0) {
		have = env_rule(n, &env, &rule, &deadline);
		pl_env_clear(&env);
	}
	free(buf);
	int level = (int)json_integer_value(json_object_get(rec, "level"));
	int alerts = (int)json_integer_value(json_object_get(rec, "alerts"));
	bool receiving = json_is_true(json_object_get(rec, "receiving"));
	if (!have || level >= (int)rule.nlevels) {
		json_object_set_new(rec, "overdue", json_true());
		n->m.overdue++;
		note(n, "overdue", json_pack("{s:s,s:s}", "id", hx, "channel", ch));
		return due_file(n, hx, rec, DUE_NEVER);
	}
	const pl_ack_level *lv = &rule.levels[level];
	const pl_charter *c = core_charter_lookup(n, ch);
	json_t *who = receiving ? resolve_targets(n, c, lv) : json_array();
	json_t *targets = json_array();
	for (size_t t = 0; t < lv->ntargets; t++)
		json_array_append_new(targets, json_string(lv->targets[t]));
	json_t *alert = json_pack("{s:s,s:s,s:s,s:i,s:i,s:O,s:O,s:o,s:b}", "id", hx, "channel", ch,
				  "precedence", prec, "level", level + 1, "attempt", alerts + 1,
				  "notify", targets, "officials", who, "at", time_json(now),
				  "alerted", receiving);
	json_decref(targets);
	json_decref(who);
	if (!alert) {
		json_decref(rec);
		return PL_ERR_NOMEM;
	}
	json_t *esc = json_object_get(rec, "escalations");
	if (json_is_array(esc) && json_array_size(esc) < 256)
		json_array_append(esc, alert);
	n->m.escalations++;
	if (receiving) {
		node_log(NODE_LOG_WARN, "not acknowledged: escalating",
			 "id=%s channel=%s precedence=%s level=%d attempt=%d", hx, ch, prec,
			 level + 1, alerts + 1);
		run_hook(n, alert);
	} else {
		node_log(NODE_LOG_INFO, "not yet acknowledged by the peer",
			 "id=%s channel=%s precedence=%s level=%d attempt=%d", hx, ch, prec,
			 level + 1, alerts + 1);
	}
	note(n, "escalation", alert);
	/* next: this level again, or the next level, or overdue */
	int64_t next = now + (int64_t)lv->after;
	if (alerts + 1 > (int)lv->repeat) {
		level++;
		alerts = 0;
	} else {
		alerts++;
	}
	json_object_set_new(rec, "level", json_integer(level));
	json_object_set_new(rec, "alerts", json_integer(alerts));
	return due_file(n, hx, rec, next);
}

void work_tick(node_core *n, int64_t now)
{
	reap_hooks(n);
	struct due_walk *w = calloc(1, sizeof(*w));
	if (!w)
		return;
	w->now = now;
	int rc = nstore_obj_list(n->db, NSTORE_DUE, due_cb, w);
	if (rc < 0) {
		node_log(NODE_LOG_ERROR, "cannot read the deadlines", "reason=%s", pl_err_detail());
		free(w);
		return;
	}
	for (size_t i = 0; i < w->n; i++) {
		rc = core_begin(n);
		if (!rc)
			rc = fire(n, w->keys[i], now);
		if (!rc)
			core_commit_timed(n, &rc);
		else
			nstore_rollback(n->db);
		work_flush(n, rc == 0);
		if (rc) {
			node_log(NODE_LOG_ERROR, "cannot escalate", "deadline=%s reason=%s",
				 w->keys[i], pl_err_detail());
			break;
		}
	}
	free(w);
}

/* ================================================================ receipts */

static int check_receipt(node_core *n, const pl_env *env)
{
	char hx[2 * H + 1];
	if (!env->has_ref)
		return pl_err_fail(PL_ERR_MALFORMED, "a%s %s names the envelope it answers (ref)",
				   strcmp(env->kind, KIND_ACK) == 0 ? "n" : "", env->kind);
	hexid(hx, env->ref);
	nstore_meta m;
	int rc = nstore_env_get(n->db, env->ref, NULL, NULL, &m);
	if (rc == PL_ERR_NOT_FOUND)
		return pl_err_fail(PL_ERR_NOT_FOUND, "%s of envelope %.16s..., which this node does "
						     "not hold",
				   env->kind, hx);
	if (rc)
		return rc;
	if (strcmp(m.ch, env->ch) != 0)
		return pl_err_fail(PL_ERR_INVALID, "%s on channel %s of an envelope of channel %s",
				   env->kind, env->ch, m.ch);
	if (strcmp(m.kind, KIND_ACK) == 0 || strcmp(m.kind, KIND_READ) == 0)
		return pl_err_fail(PL_ERR_INVALID, "a receipt is not read or acknowledged itself");
	return 0;
}

static int apply_receipt(node_core *n, const pl_env *env, const uint8_t id[H])
{
	char rx[2 * H + 1], hx[2 * H + 1], key[64 + 2 * H];
	hexid(rx, env->ref);
	hexid(hx, id);
	int rc = 0;
	json_t *rec = nstore_json_get(n->db, NSTORE_ACKS, rx, &rc);
	if (rc)
		return rc;
	if (!rec)
		rec = json_pack("{s:[],s:[]}", "reads", "acks");
	if (!rec)
		return PL_ERR_NOMEM;
	bool ack = strcmp(env->kind, KIND_ACK) == 0;
	json_t *list = json_object_get(rec, ack ? "acks" : "reads");
	if (!json_is_array(list)) {
		list = json_array();
		json_object_set_new(rec, ack ? "acks" : "reads", list);
	}
	json_array_append_new(list, json_pack("{s:s,s:s,s:o,s:s}", "state", env->state, "by",
					      env->author, "at", time_json(env->at), "id", hx));
	/* An acknowledgement: the deadline waits for one state fewer, and is
	 * done when it waits for none (its escalations stay on record). */
	json_t *due = NULL;
	bool done = false;
	if (ack) {
		n->m.acks++;
		due = due_get(n, rx, key, &rc);
	}
	if (due) {
		json_t *waiting = json_object_get(due, "waiting");
		size_t i;
		json_t *v;
		json_array_foreach(waiting, i, v)
		{
			if (strcmp(json_string_value(v), env->state) == 0) {
				json_array_remove(waiting, i);
				break;
			}
		}
		done = json_array_size(waiting) == 0;
		if (done) {
			json_object_set(rec, "escalations", json_object_get(due, "escalations"));
			json_object_set(rec, "deadline", json_object_get(due, "deadline"));
		}
	}
	if (!rc)
		rc = nstore_json_put(n->db, NSTORE_ACKS, rx, rec);
	else
		json_decref(rec);
	if (!rc && due && done)
		rc = due_drop(n, rx);
	else if (!rc && due)
		rc = nstore_json_put(n->db, NSTORE_DUE, key, json_incref(due));
	json_decref(due);
	if (!rc && ack)
		note(n, "acknowledged", json_pack("{s:s,s:s,s:s,s:b}", "id", rx, "state", env->state,
						  "by", env->author, "complete", due ? done : true));
	return rc;
}

/* ================================================================ check and apply */

int work_check(node_core *n, const pl_env *env)
{
	if (pl_form_kind_is_form(env->kind)) {
		pl_form_errors errs;
		pl_form_errors_init(&errs);
		int rc = pl_form_check_env(env, &errs);
		if (rc)
			return form_reason(rc, &errs);
		if (strcmp(env->kind, PL_FORM_KIND_REQUEST) == 0)
			return check_request(n, env);
		if (strcmp(env->kind, PL_FORM_KIND_REQUEST_STEP) == 0)
			return check_step(n, env);
		return 0;
	}
	if (strcmp(env->kind, KIND_ACK) == 0 || strcmp(env->kind, KIND_READ) == 0)
		return check_receipt(n, env);
	return stmt_check(n, env);
}

int work_apply(node_core *n, const pl_env *env, const uint8_t id[PL_HASH_BYTES], int64_t now)
{
	int rc = 0;
	if (strcmp(env->kind, PL_FORM_KIND_REQUEST) == 0)
		rc = apply_request(n, env, id, now);
	else if (strcmp(env->kind, PL_FORM_KIND_REQUEST_STEP) == 0)
		rc = apply_step(n, env, id);
	else if (strcmp(env->kind, KIND_ACK) == 0 || strcmp(env->kind, KIND_READ) == 0)
		rc = apply_receipt(n, env, id);
	else
		rc = stmt_apply(n, env, id, now);
	if (!rc)
		rc = schedule(n, env, id);
	return rc;
}

void work_flush(node_core *n, bool committed)
{
	/* core_emit_after_commit's [type, data] pairs; stmt.c's statements */
	json_t *work = n->work_events, *stmts = stmt_take_events(n);
	n->work_events = NULL;
	if (committed) {
		core_emit_pairs(n, work);
		size_t i;
		json_t *v;
		json_array_foreach(stmts, i, v)
		{
			core_emit(n, "statement", json_incref(v));
		}
	} else {
		json_decref(work);
	}
	json_decref(stmts);
}

/* ================================================================ views */

json_t *work_acks_json(node_core *n, const uint8_t id[PL_HASH_BYTES])
{
	char hx[2 * H + 1];
	hexid(hx, id);
	int rc = 0;
	json_t *rec = nstore_json_get(n->db, NSTORE_ACKS, hx, &rc);
	if (!rec)
		rec = json_pack("{s:[],s:[]}", "reads", "acks");
	json_t *dl0 = rec ? json_object_get(rec, "deadline") : NULL;
	if (json_is_integer(dl0))
		json_object_set_new(rec, "deadline", time_json((int64_t)json_integer_value(dl0)));
	char key[64 + 2 * H];
	json_t *due = rec ? due_get(n, hx, key, &rc) : NULL;
	if (due) {
		json_int_t dl = json_integer_value(json_object_get(due, "deadline"));
		json_object_set_new(rec, "deadline", time_json((int64_t)dl));
		json_object_set(rec, "escalations", json_object_get(due, "escalations"));
		json_object_set(rec, "waiting", json_object_get(due, "waiting"));
		json_object_set_new(rec, "overdue",
				    json_boolean(json_is_true(json_object_get(due, "overdue"))));
		json_decref(due);
	}
	return rec;
}

struct pend_walk {
	node_core *n;
	int64_t now;
	json_t *out;
};

static int pend_cb(void *ctx, const char *key, const uint8_t *val, size_t len)
{
	(void)key;
	struct pend_walk *w = ctx;
	json_error_t err;
	json_t *rec = json_loadb((const char *)val, len, 0, &err);
	if (!rec)
		return 0;
	if (!json_is_true(json_object_get(rec, "receiving"))) {
		json_decref(rec);
		return 0;
	}
	int64_t dl = (int64_t)json_integer_value(json_object_get(rec, "deadline"));
	json_object_set_new(rec, "deadline", time_json(dl));
	json_object_set_new(rec, "seconds_left", json_integer((json_int_t)(dl - w->now)));
	json_object_del(rec, "next");
	json_object_del(rec, "receiving");
	json_array_append_new(w->out, rec);
	return 0;
}

json_t *work_pending_json(node_core *n, int64_t now)
{
	struct pend_walk w = {n, now, json_array()};
	if (!w.out)
		return NULL;
	if (nstore_obj_list(n->db, NSTORE_DUE, pend_cb, &w) < 0) {
		json_decref(w.out);
		return NULL;
	}
	return json_pack("{s:o}", "pending", w.out);
}

json_t *work_request_json(node_core *n, const char *ch, const char *id_hex, int *code)
{
	char key[PL_NAME_MAX + 2 * H + 2];
	if (!pl_name_is_valid(ch) || strlen(id_hex) != 2 * H) {
		*code = 404;
		return NULL;
	}
	snprintf(key, sizeof(key), "%s/%s", ch, id_hex);
	int rc = 0;
	json_t *rec = nstore_json_get(n->db, NSTORE_REQUEST, key, &rc);
	if (!rec)
		*code = rc ? 500 : 404;
	return rec;
}

struct req_walk {
	json_t *out;
	size_t plen;
	char prefix[PL_NAME_MAX + 2];
};

static int req_cb(void *ctx, const char *key, const uint8_t *val, size_t len)
{
	struct req_walk *w = ctx;
	if (strncmp(key, w->prefix, w->plen) != 0)
		return 1;
	json_error_t err;
	json_t *rec = json_loadb((const char *)val, len, 0, &err);
	if (rec) {
		json_object_del(rec, "history");
		json_array_append_new(w->out, rec);
	}
	return 0;
}

json_t *work_requests_json(node_core *n, const char *ch, int *code)
{
	if (!pl_name_is_valid(ch) || !core_charter_lookup(n, ch)) {
		*code = 404;
		return NULL;
	}
	struct req_walk w = {.out = json_array()};
	snprintf(w.prefix, sizeof(w.prefix), "%s/", ch);
	w.plen = strlen(w.prefix);
	if (!w.out || nstore_obj_range(n->db, NSTORE_REQUEST, w.prefix, NULL, 0, req_cb, &w) < 0) {
		json_decref(w.out);
		*code = 500;
		return NULL;
	}
	return json_pack("{s:o}", "requests", w.out);
}

json_t *work_policy_json(const pl_charter *c)
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
			json_t *notify = json_array();
			for (size_t t = 0; notify && t < r.levels[i].ntargets; t++)
				json_array_append_new(notify, json_string(r.levels[i].targets[t]));
			json_array_append_new(levels,
					      json_pack("{s:o,s:I,s:I}", "notify", notify, "after",
							(json_int_t)r.levels[i].after, "repeat",
							(json_int_t)r.levels[i].repeat));
		}
		json_object_set_new(o, pl_lane_name((pl_lane)l),
				    json_pack("{s:I,s:o,s:b}", "ack", (json_int_t)r.ack, "levels",
					      levels, "default", !((c->has_rule >> l) & 1u)));
	}
	return o;
}

int work_metrics_text(node_core *n, pl_buf *out)
{
	return pl_buf_printf(
	    out,
	    "# HELP parley_escalations_total Alerts of unacknowledged envelopes (both sides count).\n"
	    "# TYPE parley_escalations_total counter\n"
	    "parley_escalations_total %" PRIu64 "\n"
	    "# HELP parley_acks_total Acknowledgements by officials recorded.\n"
	    "# TYPE parley_acks_total counter\n"
	    "parley_acks_total %" PRIu64 "\n"
	    "# HELP parley_overdue_total Envelopes past their last escalation level.\n"
	    "# TYPE parley_overdue_total counter\n"
	    "parley_overdue_total %" PRIu64 "\n"
	    "# HELP parley_escalate_command_failures_total escalate_command runs that failed.\n"
	    "# TYPE parley_escalate_command_failures_total counter\n"
	    "parley_escalate_command_failures_total %" PRIu64 "\n",
	    n->m.escalations, n->m.acks, n->m.overdue, n->m.hook_failures);
}
