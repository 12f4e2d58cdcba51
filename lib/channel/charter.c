/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Channel charters ("parley/charter" v1) and the signed charter object
 * ("parley/charter-signed" v1): building the canonical payload, adding a
 * state root's signature, opening strictly, and the rules for completeness
 * and for one version replacing another.
 *
 * A charter counts only when every listed state's root has signed exactly
 * the same payload bytes; each signature is a tagged COSE_Sign1 carrying
 * that payload.  Member credentials are embedded as signed, so a node
 * learns every member's key from the charter alone and checks each against
 * the pinned roots when it opens the charter.
 *
 * The optional "policy" sets, per precedence lane, the acknowledgement
 * deadline and the escalation levels; this module checks and carries it,
 * and pl_charter_rule() answers with the defaults where it is silent.  It
 * keeps no timers and alerts nobody: node/ does.
 *
 * Divisions: limits and lists; acknowledgement policy; payload parsing;
 * building; signatures; the signed object; questions.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "channel/chan_int.h"
#include "parley/err.h"

/* ---------------------------------------------------------------- limits and lists */

/* A credential is far below 4 KiB (all its fields at their limits). */
#define MEMBER_RAW_MAX 4096
/* One COSE_Sign1 over a charter payload: the payload plus < 128 bytes. */
#define SIG_MAX    (PL_CHARTER_MAX + 256)
#define SIGNED_MAX ((PL_CHARTER_STATES_MAX + 1) * SIG_MAX)

/* Depth 6: payload map, policy map, rule map, levels array, level map, notify array.
 * Items: a full policy is about 760, the rest of a charter under 140. */
static const pl_cbor_limits payload_limits = {
    .max_bytes = PL_CHARTER_MAX, .max_depth = 6, .max_items = 1024, .max_str = MEMBER_RAW_MAX};
static const pl_cbor_limits signed_limits = {
    .max_bytes = SIGNED_MAX, .max_depth = 2, .max_items = 32, .max_str = SIG_MAX};

#define LANE_MASK_ALL                                                                              \
	((1u << PL_LANE_FLASH) | (1u << PL_LANE_IMMEDIATE) | (1u << PL_LANE_PRIORITY) |            \
	 (1u << PL_LANE_ROUTINE))

static int state_index(const pl_charter *c, const char *state)
{
	for (size_t i = 0; i < c->nstates; i++)
		if (strcmp(c->states[i], state) == 0)
			return (int)i;
	return -1;
}

static int member_cmp(const pl_cred *a, const pl_cred *b)
{
	int r = strcmp(a->state, b->state);
	return r ? r : strcmp(a->id, b->id);
}

void pl_charter_clear(pl_charter *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->nmembers; i++)
		free(c->members[i].raw);
	free(c->members);
	free(c->payload);
	for (size_t i = 0; i < PL_CHARTER_STATES_MAX; i++)
		free(c->sig[i]);
	memset(c, 0, sizeof(*c));
}

/* ---------------------------------------------------------------- acknowledgement policy */

/* The lanes as "policy" keys, in canonical order (shorter encodings first). */
static const pl_lane policy_order[] = {PL_LANE_FLASH, PL_LANE_ROUTINE, PL_LANE_PRIORITY,
				       PL_LANE_IMMEDIATE};

/* The defaults pl_charter_rule() gives for lanes the policy does not set. */
#define DEFAULT_ACK_FLASH     600
#define DEFAULT_ACK_IMMEDIATE 3600
#define DEFAULT_TARGET        "role:duty"
#define DEFAULT_AFTER         300
#define DEFAULT_REPEAT        2

bool pl_ack_target_is_valid(const char *s)
{
	if (!s)
		return false;
	if (strncmp(s, "id:", 3) == 0)
		return pl_name_is_valid(s + 3);
	if (strncmp(s, "role:", 5) == 0)
		return pl_name_is_valid(s + 5);
	return false;
}

/*
 * Check one rule against the bounds: the single place they are enforced,
 * for pl_charter_build (code PL_ERR_INVALID) and for parsing (code
 * PL_ERR_MALFORMED).  A count over its maximum is PL_ERR_LIMIT.  r may come
 * from the caller with any bytes in it: targets are read only up to their
 * buffer's end.
 */
static int check_rule(const pl_ack_rule *r, const char *ch, pl_lane lane, int code)
{
	const char *ln = pl_lane_name(lane);
	if (r->ack < 1 || r->ack > PL_ACK_DEADLINE_MAX)
		return pl_err_fail(code, "charter %s: policy %s: ack %lu s, must be 1..%d", ch, ln,
				   (unsigned long)r->ack, PL_ACK_DEADLINE_MAX);
	if (r->nlevels < 1 || r->nlevels > PL_ACK_LEVELS_MAX)
		return pl_err_fail(r->nlevels ? PL_ERR_LIMIT : code,
				   "charter %s: policy %s: %zu levels, must be 1..%d", ch, ln,
				   r->nlevels, PL_ACK_LEVELS_MAX);
	for (size_t i = 0; i < r->nlevels; i++) {
		const pl_ack_level *l = &r->levels[i];
		if (l->after < 1 || l->after > PL_ACK_AFTER_MAX)
			return pl_err_fail(code,
					   "charter %s: policy %s level %zu: after %lu s, must be "
					   "1..%d",
					   ch, ln, i + 1, (unsigned long)l->after,
					   PL_ACK_AFTER_MAX);
		if (l->repeat > PL_ACK_REPEAT_MAX)
			return pl_err_fail(code,
					   "charter %s: policy %s level %zu: repeat %lu, must be "
					   "0..%d",
					   ch, ln, i + 1, (unsigned long)l->repeat,
					   PL_ACK_REPEAT_MAX);
		if (l->ntargets < 1 || l->ntargets > PL_ACK_TARGETS_MAX)
			return pl_err_fail(
			    l->ntargets ? PL_ERR_LIMIT : code,
			    "charter %s: policy %s level %zu: %zu targets to notify, "
			    "must be 1..%d",
			    ch, ln, i + 1, l->ntargets, PL_ACK_TARGETS_MAX);
		for (size_t j = 0; j < l->ntargets; j++) {
			const char *t = l->targets[j];
			size_t n = strnlen(t, PL_ACK_TARGET_MAX);
			if (n == PL_ACK_TARGET_MAX || !pl_ack_target_is_valid(t))
				return pl_err_fail(code,
						   "charter %s: policy %s level %zu: target '%.*s' "
						   "is not id:ID or role:ROLE",
						   ch, ln, i + 1, (int)(n > 70 ? 70 : n), t);
			for (size_t k = 0; k < j; k++)
				if (strcmp(l->targets[k], t) == 0)
					return pl_err_fail(
					    code,
					    "charter %s: policy %s level %zu: '%s' listed twice",
					    ch, ln, i + 1, t);
		}
	}
	return 0;
}

/* Prefix the current detail (a codec field error) with where it was found. */
static int fail_at(int rc, const char *ch, const char *where)
{
	char detail[256];
	snprintf(detail, sizeof(detail), "%s", pl_err_detail());
	return pl_err_fail(rc, "charter %s: policy %s: %s", ch, where, detail);
}

static uint32_t clamp32(uint64_t v)
{
	return v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

static int read_level(const pl_cbor *m, const char *ch, pl_lane lane, size_t i, pl_ack_level *l)
{
	char where[64];
	snprintf(where, sizeof(where), "%s level %zu", pl_lane_name(lane), i + 1);
	uint64_t after, repeat;
	const pl_cbor *notify = NULL;
	const pl_cbor_field f[] = {
	    {"after", PL_CBOR_UINT, 0, 0, 0, &after, NULL},
	    {"notify", PL_CBOR_ARRAY, 0, 1, PL_ACK_TARGETS_MAX, &notify, NULL},
	    {"repeat", PL_CBOR_UINT, 0, 0, 0, &repeat, NULL},
	};
	int rc = pl_cbor_read_map(m, f, sizeof(f) / sizeof(f[0]));
	if (rc)
		return fail_at(rc, ch, where);
	l->after = clamp32(after);
	l->repeat = clamp32(repeat);
	l->ntargets = pl_cbor_len(notify);
	for (size_t j = 0; j < l->ntargets; j++) {
		pl_slice t;
		if (pl_cbor_get_text(pl_cbor_at(notify, j), &t) != 0)
			return pl_err_fail(PL_ERR_MALFORMED,
					   "charter %s: policy %s: target %zu is not text", ch,
					   where, j + 1);
		if (t.n >= PL_ACK_TARGET_MAX || memchr(t.p, '\0', t.n))
			return pl_err_fail(PL_ERR_MALFORMED,
					   "charter %s: policy %s: target %zu is not id:ID or "
					   "role:ROLE",
					   ch, where, j + 1);
		memcpy(l->targets[j], t.p, t.n);
		l->targets[j][t.n] = '\0';
	}
	return 0;
}

static int read_rule(const pl_cbor *m, const char *ch, pl_lane lane, pl_ack_rule *r)
{
	uint64_t ack;
	const pl_cbor *levels = NULL;
	const pl_cbor_field f[] = {
	    {"ack", PL_CBOR_UINT, 0, 0, 0, &ack, NULL},
	    {"levels", PL_CBOR_ARRAY, 0, 1, PL_ACK_LEVELS_MAX, &levels, NULL},
	};
	int rc = pl_cbor_read_map(m, f, sizeof(f) / sizeof(f[0]));
	if (rc)
		return fail_at(rc, ch, pl_lane_name(lane));
	r->ack = clamp32(ack);
	r->nlevels = pl_cbor_len(levels);
	for (size_t i = 0; !rc && i < r->nlevels; i++)
		rc = read_level(pl_cbor_at(levels, i), ch, lane, i, &r->levels[i]);
	return rc ? rc : check_rule(r, ch, lane, PL_ERR_MALFORMED);
}

/* The "policy" map into c->rules (c->lanes already read). */
static int read_policy(const pl_cbor *pol, pl_charter *c)
{
	for (size_t i = 0; i < pl_cbor_len(pol); i++) {
		pl_slice k;
		if (pl_cbor_get_text(pl_cbor_key_at(pol, i), &k) != 0)
			return pl_err_fail(PL_ERR_MALFORMED, "charter %s: a policy key is not text",
					   c->name);
		pl_lane lane = PL_LANE_CONTROL;
		for (unsigned l = PL_LANE_FLASH; l <= PL_LANE_ROUTINE; l++) {
			const char *ln = pl_lane_name((pl_lane)l);
			if (strlen(ln) == k.n && memcmp(ln, k.p, k.n) == 0)
				lane = (pl_lane)l;
		}
		if (lane == PL_LANE_CONTROL)
			return pl_err_fail(PL_ERR_MALFORMED,
					   "charter %s: policy key '%.*s' is not FLASH, IMMEDIATE, "
					   "PRIORITY or ROUTINE",
					   c->name, (int)(k.n > 20 ? 20 : k.n), (const char *)k.p);
		if (!((c->lanes >> lane) & 1u))
			return pl_err_fail(PL_ERR_MALFORMED,
					   "charter %s: a policy for %s, a precedence it does not "
					   "allow",
					   c->name, pl_lane_name(lane));
		int rc = read_rule(pl_cbor_value_at(pol, i), c->name, lane, &c->rules[lane]);
		if (rc)
			return rc;
		c->has_rule |= 1u << lane;
	}
	return 0;
}

/* Check spec's rules; *n receives how many there are. */
static int spec_rules(const pl_charter_spec *s, size_t *n)
{
	*n = 0;
	if (s->rules[PL_LANE_CONTROL])
		return pl_err_fail(PL_ERR_INVALID,
				   "charter %s: a policy for CONTROL (rules[0] must be NULL)",
				   s->name);
	for (unsigned l = PL_LANE_FLASH; l <= PL_LANE_ROUTINE; l++) {
		if (!s->rules[l])
			continue;
		if (!((s->lanes >> l) & 1u))
			return pl_err_fail(PL_ERR_INVALID,
					   "charter %s: a policy for %s, a precedence it does not "
					   "allow",
					   s->name, pl_lane_name((pl_lane)l));
		int rc = check_rule(s->rules[l], s->name, (pl_lane)l, PL_ERR_INVALID);
		if (rc)
			return rc;
		(*n)++;
	}
	return 0;
}

static void encode_policy(pl_cbor_enc *e, const pl_charter_spec *s, size_t n)
{
	pl_cbor_put_str(e, "policy");
	pl_cbor_put_map(e, n);
	for (size_t k = 0; k < sizeof(policy_order) / sizeof(policy_order[0]); k++) {
		const pl_ack_rule *r = s->rules[policy_order[k]];
		if (!r)
			continue;
		pl_cbor_put_str(e, pl_lane_name(policy_order[k]));
		pl_cbor_put_map(e, 2);
		pl_cbor_put_str(e, "ack");
		pl_cbor_put_uint(e, r->ack);
		pl_cbor_put_str(e, "levels");
		pl_cbor_put_array(e, r->nlevels);
		for (size_t i = 0; i < r->nlevels; i++) {
			const pl_ack_level *l = &r->levels[i];
			pl_cbor_put_map(e, 3);
			pl_cbor_put_str(e, "after");
			pl_cbor_put_uint(e, l->after);
			pl_cbor_put_str(e, "notify");
			pl_cbor_put_array(e, l->ntargets);
			for (size_t j = 0; j < l->ntargets; j++)
				pl_cbor_put_str(e, l->targets[j]);
			pl_cbor_put_str(e, "repeat");
			pl_cbor_put_uint(e, l->repeat);
		}
	}
}

int pl_charter_rule(const pl_charter *c, pl_lane lane, pl_ack_rule *out)
{
	if (out)
		memset(out, 0, sizeof(*out));
	if (!c || !out || !pl_lane_is_valid((unsigned)lane))
		return PL_ERR_INVALID;
	if ((c->has_rule >> lane) & 1u) {
		*out = c->rules[lane];
		return 0;
	}
	if (lane != PL_LANE_FLASH && lane != PL_LANE_IMMEDIATE)
		return PL_ERR_NOT_FOUND;
	out->ack = lane == PL_LANE_FLASH ? DEFAULT_ACK_FLASH : DEFAULT_ACK_IMMEDIATE;
	out->nlevels = 1;
	out->levels[0].ntargets = 1;
	memcpy(out->levels[0].targets[0], DEFAULT_TARGET, sizeof(DEFAULT_TARGET));
	out->levels[0].after = DEFAULT_AFTER;
	out->levels[0].repeat = DEFAULT_REPEAT;
	return 0;
}

/* ---------------------------------------------------------------- payload parsing */

/* A sorted list of distinct names (states, kinds). */
static int read_name_list(const pl_cbor *arr, char (*dst)[PL_NAME_MAX + 1], size_t *n,
			  const char *field)
{
	size_t k = pl_cbor_len(arr);
	for (size_t i = 0; i < k; i++) {
		pl_slice s;
		if (pl_cbor_get_text(pl_cbor_at(arr, i), &s) != 0)
			return pl_err_fail(PL_ERR_MALFORMED, "charter: %s item %zu is not text",
					   field, i + 1);
		int rc = chan_copy_name(dst[i], s, field);
		if (rc)
			return rc;
		if (i > 0 && strcmp(dst[i - 1], dst[i]) >= 0)
			return pl_err_fail(PL_ERR_MALFORMED,
					   strcmp(dst[i - 1], dst[i]) == 0
					       ? "charter: %s lists '%s' twice"
					       : "charter: %s not in sorted order at '%s'",
					   field, dst[i]);
	}
	*n = k;
	return 0;
}

static int read_lanes(const pl_cbor *arr, unsigned *mask)
{
	unsigned m = 0, last = 0;
	for (size_t i = 0; i < pl_cbor_len(arr); i++) {
		uint64_t v;
		if (pl_cbor_get_uint(pl_cbor_at(arr, i), &v) != 0 || v > PL_LANE_ROUTINE ||
		    !pl_lane_is_valid((unsigned)v))
			return pl_err_fail(PL_ERR_MALFORMED, "charter: lane item %zu is not 1..4",
					   i + 1);
		if ((unsigned)v <= last)
			return pl_err_fail(PL_ERR_MALFORMED,
					   "charter: lanes not in increasing order at %u",
					   (unsigned)v);
		last = (unsigned)v;
		m |= 1u << v;
	}
	*mask = m;
	return 0;
}

static int read_members(const pl_cbor *arr, const pl_trust *t, pl_charter *c)
{
	size_t k = pl_cbor_len(arr);
	c->members = calloc(k, sizeof(*c->members));
	if (!c->members)
		return PL_ERR_NOMEM;
	for (size_t i = 0; i < k; i++) {
		pl_charter_member *m = &c->members[i];
		pl_slice raw;
		if (pl_cbor_get_bytes(pl_cbor_at(arr, i), &raw) != 0)
			return pl_err_fail(PL_ERR_MALFORMED, "charter: member %zu is not bytes",
					   i + 1);
		int rc = pl_cred_open(raw.p, raw.n, t, &m->cred);
		if (rc)
			return rc;
		if (state_index(c, m->cred.state) < 0)
			return pl_err_fail(PL_ERR_WRONG_STATE,
					   "charter %s: member %s of '%s', a state not party to it",
					   c->name, m->cred.id, m->cred.state);
		if (i > 0 && member_cmp(&c->members[i - 1].cred, &m->cred) >= 0)
			return pl_err_fail(PL_ERR_MALFORMED,
					   member_cmp(&c->members[i - 1].cred, &m->cred) == 0
					       ? "charter %s: member %s of %s listed twice"
					       : "charter %s: members not in order at %s of %s",
					   c->name, m->cred.id, m->cred.state);
		m->raw = malloc(raw.n);
		if (!m->raw)
			return PL_ERR_NOMEM;
		memcpy(m->raw, raw.p, raw.n);
		m->raw_len = raw.n;
		c->nmembers = i + 1;
	}
	return 0;
}

/* Parse and check a charter payload into c (which the caller clears on failure). */
static int parse_payload(const uint8_t *p, size_t n, const pl_trust *t, pl_charter *c)
{
	pl_cbor *map = NULL;
	int rc = chan_decode_typed(p, n, &payload_limits, "parley/charter", &map);
	if (rc)
		return rc;
	pl_slice ty, name;
	uint64_t v, version;
	int64_t created;
	const pl_cbor *kinds = NULL, *lanes = NULL, *states = NULL, *members = NULL, *policy = NULL;
	const pl_cbor_field f[] = {
	    {"t", PL_CBOR_TEXT, 0, 0, 0, &ty, NULL},
	    {"v", PL_CBOR_UINT, 0, 0, 0, &v, NULL},
	    {"name", PL_CBOR_TEXT, 0, 1, PL_NAME_MAX, &name, NULL},
	    {"kinds", PL_CBOR_ARRAY, 0, 1, PL_CHARTER_KINDS_MAX, &kinds, NULL},
	    {"lanes", PL_CBOR_ARRAY, 0, 1, 4, &lanes, NULL},
	    {"policy", PL_CBOR_MAP, PL_FIELD_OPTIONAL, 1, 4, &policy, NULL},
	    {"states", PL_CBOR_ARRAY, 0, PL_CHARTER_STATES_MIN, PL_CHARTER_STATES_MAX, &states,
	     NULL},
	    {"created", PL_CBOR_INT, 0, 0, 0, &created, NULL},
	    {"members", PL_CBOR_ARRAY, 0, 1, PL_CHARTER_MEMBERS_MAX, &members, NULL},
	    {"version", PL_CBOR_UINT, 0, 0, 0, &version, NULL},
	};
	rc = pl_cbor_read_map(map, f, sizeof(f) / sizeof(f[0]));
	if (!rc)
		rc = chan_copy_name(c->name, name, "name");
	if (!rc && version == 0)
		rc = pl_err_fail(PL_ERR_MALFORMED, "charter %s: version 0 (versions start at 1)",
				 c->name);
	if (!rc)
		rc = read_name_list(states, c->states, &c->nstates, "states");
	for (size_t i = 0; !rc && i < c->nstates; i++)
		if (!pl_trust_find(t, c->states[i]))
			rc = pl_err_fail(PL_ERR_UNKNOWN_ROOT,
					 "charter %s: state '%s' is not a pinned root", c->name,
					 c->states[i]);
	if (!rc)
		rc = read_name_list(kinds, c->kinds, &c->nkinds, "kinds");
	if (!rc)
		rc = read_lanes(lanes, &c->lanes);
	if (!rc && policy)
		rc = read_policy(policy, c);
	if (!rc)
		rc = read_members(members, t, c);
	if (!rc) {
		c->version = version;
		c->created = created;
		c->payload = malloc(n);
		if (!c->payload)
			rc = PL_ERR_NOMEM;
	}
	if (!rc) {
		memcpy(c->payload, p, n);
		c->payload_len = n;
	}
	pl_cbor_free(map);
	return rc;
}

/* ---------------------------------------------------------------- building */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sort a copy of a spec's name list into sorted[] and check it. */
static int spec_names(const char *const *in, size_t n, size_t min, size_t max, const char **sorted,
		      const char *what)
{
	if (n < min || n > max)
		return pl_err_fail(n > max ? PL_ERR_LIMIT : PL_ERR_INVALID,
				   "a charter lists %zu..%zu %s, not %zu", min, max, what, n);
	for (size_t i = 0; i < n; i++) {
		if (!in || !pl_name_is_valid(in[i]))
			return pl_err_fail(PL_ERR_INVALID,
					   "charter %s: '%.63s' is not a valid name", what,
					   in && in[i] ? in[i] : "");
		sorted[i] = in[i];
	}
	qsort(sorted, n, sizeof(*sorted), cmp_str);
	for (size_t i = 1; i < n; i++)
		if (strcmp(sorted[i - 1], sorted[i]) == 0)
			return pl_err_fail(PL_ERR_INVALID, "charter %s: '%s' given twice", what,
					   sorted[i]);
	return 0;
}

struct member_ref {
	pl_cred cred;
	pl_slice raw;
};

static int cmp_member_ref(const void *a, const void *b)
{
	return member_cmp(&((const struct member_ref *)a)->cred,
			  &((const struct member_ref *)b)->cred);
}

static int spec_members(const pl_charter_spec *s, const pl_trust *t, const char **states,
			struct member_ref *mr)
{
	if (s->nmembers < 1 || s->nmembers > PL_CHARTER_MEMBERS_MAX)
		return pl_err_fail(s->nmembers ? PL_ERR_LIMIT : PL_ERR_INVALID,
				   "a charter lists 1..%d members, not %zu", PL_CHARTER_MEMBERS_MAX,
				   s->nmembers);
	for (size_t i = 0; i < s->nmembers; i++) {
		if (!s->members || !s->members[i].p)
			return PL_ERR_INVALID;
		int rc = pl_cred_open(s->members[i].p, s->members[i].n, t, &mr[i].cred);
		if (rc)
			return rc;
		mr[i].raw = s->members[i];
		bool listed = false;
		for (size_t j = 0; j < s->nstates; j++)
			listed = listed || strcmp(states[j], mr[i].cred.state) == 0;
		if (!listed)
			return pl_err_fail(PL_ERR_WRONG_STATE,
					   "charter %s: member %s of '%s', a state not party to it",
					   s->name, mr[i].cred.id, mr[i].cred.state);
	}
	qsort(mr, s->nmembers, sizeof(*mr), cmp_member_ref);
	for (size_t i = 1; i < s->nmembers; i++)
		if (member_cmp(&mr[i - 1].cred, &mr[i].cred) == 0)
			return pl_err_fail(PL_ERR_INVALID,
					   "charter %s: member %s of %s given twice", s->name,
					   mr[i].cred.id, mr[i].cred.state);
	return 0;
}

static int encode_payload(const pl_charter_spec *s, const char **states, const char **kinds,
			  const struct member_ref *mr, size_t nrules, uint8_t **out, size_t *len)
{
	unsigned nlanes = 0;
	for (unsigned l = PL_LANE_FLASH; l <= PL_LANE_ROUTINE; l++)
		nlanes += (s->lanes >> l) & 1u;
	pl_cbor_enc e;
	pl_cbor_enc_init(&e);
	pl_cbor_put_map(&e, nrules ? 10 : 9); /* no rules: no "policy" key at all */
	pl_cbor_put_str(&e, "t");
	pl_cbor_put_str(&e, "parley/charter");
	pl_cbor_put_str(&e, "v");
	pl_cbor_put_uint(&e, CHAN_VERSION);
	pl_cbor_put_str(&e, "name");
	pl_cbor_put_str(&e, s->name);
	pl_cbor_put_str(&e, "kinds");
	pl_cbor_put_array(&e, s->nkinds);
	for (size_t i = 0; i < s->nkinds; i++)
		pl_cbor_put_str(&e, kinds[i]);
	pl_cbor_put_str(&e, "lanes");
	pl_cbor_put_array(&e, nlanes);
	for (unsigned l = PL_LANE_FLASH; l <= PL_LANE_ROUTINE; l++)
		if ((s->lanes >> l) & 1u)
			pl_cbor_put_uint(&e, l);
	if (nrules)
		encode_policy(&e, s, nrules);
	pl_cbor_put_str(&e, "states");
	pl_cbor_put_array(&e, s->nstates);
	for (size_t i = 0; i < s->nstates; i++)
		pl_cbor_put_str(&e, states[i]);
	pl_cbor_put_str(&e, "created");
	pl_cbor_put_int(&e, s->created);
	pl_cbor_put_str(&e, "members");
	pl_cbor_put_array(&e, s->nmembers);
	for (size_t i = 0; i < s->nmembers; i++)
		pl_cbor_put_bytes(&e, mr[i].raw.p, mr[i].raw.n);
	pl_cbor_put_str(&e, "version");
	pl_cbor_put_uint(&e, s->version);
	return pl_cbor_enc_finish(&e, out, len);
}

int pl_charter_build(const pl_charter_spec *s, const pl_trust *t, pl_charter *out)
{
	memset(out, 0, sizeof(*out));
	if (!s || !t)
		return PL_ERR_INVALID;
	if (!pl_name_is_valid(s->name))
		return pl_err_fail(PL_ERR_INVALID, "channel name '%.63s' is not valid",
				   s->name ? s->name : "");
	if (s->version == 0)
		return pl_err_fail(PL_ERR_INVALID, "charter versions start at 1");
	if ((s->lanes & LANE_MASK_ALL) == 0 || (s->lanes & ~LANE_MASK_ALL) != 0)
		return pl_err_fail(PL_ERR_INVALID,
				   "charter lanes must be a non-empty set of FLASH..ROUTINE");
	const char *states[PL_CHARTER_STATES_MAX], *kinds[PL_CHARTER_KINDS_MAX];
	size_t nrules = 0;
	int rc = spec_rules(s, &nrules);
	if (!rc)
		rc = spec_names(s->states, s->nstates, PL_CHARTER_STATES_MIN, PL_CHARTER_STATES_MAX,
				states, "states");
	if (!rc)
		rc = spec_names(s->kinds, s->nkinds, 1, PL_CHARTER_KINDS_MAX, kinds, "kinds");
	for (size_t i = 0; !rc && i < s->nstates; i++)
		if (!pl_trust_find(t, states[i]))
			rc = pl_err_fail(PL_ERR_UNKNOWN_ROOT,
					 "charter %s: state '%s' is not a pinned root", s->name,
					 states[i]);
	if (rc)
		return rc;
	struct member_ref *mr = calloc(s->nmembers ? s->nmembers : 1, sizeof(*mr));
	if (!mr)
		return PL_ERR_NOMEM;
	uint8_t *payload = NULL;
	size_t plen = 0;
	rc = spec_members(s, t, states, mr);
	if (!rc)
		rc = encode_payload(s, states, kinds, mr, nrules, &payload, &plen);
	free(mr);
	if (!rc && plen > PL_CHARTER_MAX)
		rc = pl_err_fail(PL_ERR_LIMIT, "charter %s: %zu bytes, at most %d", s->name, plen,
				 PL_CHARTER_MAX);
	/* Read back what was written: build and open agree by construction. */
	if (!rc)
		rc = parse_payload(payload, plen, t, out);
	free(payload);
	if (rc)
		pl_charter_clear(out);
	return rc;
}

/* ---------------------------------------------------------------- signatures */

int pl_charter_sign(pl_charter *c, const pl_trust *t, const char *state, const pl_keypair *root)
{
	if (!c || !c->payload || !t || !state || !root)
		return PL_ERR_INVALID;
	int i = state_index(c, state);
	if (i < 0)
		return pl_err_fail(PL_ERR_WRONG_STATE, "state '%.63s' is not a party to charter %s",
				   state, c->name);
	const uint8_t *pinned = pl_trust_find(t, state);
	if (!pinned)
		return pl_err_fail(PL_ERR_UNKNOWN_ROOT, "state '%s' is not a pinned root", state);
	if (!pl_ct_equal(pinned, root->pk, PL_PK_BYTES))
		return pl_err_fail(PL_ERR_INVALID, "the key given is not %s's pinned root", state);
	if (c->sig[i])
		return pl_err_fail(PL_ERR_EXISTS, "%s has already signed charter %s v%llu", state,
				   c->name, (unsigned long long)c->version);
	uint8_t kid[PL_KEYID_BYTES];
	pl_key_id(kid, root->pk);
	return pl_cose_sign1_sign(&c->sig[i], &c->sig_len[i], c->payload, c->payload_len, kid,
				  sizeof(kid), NULL, 0, root, PL_COSE_TAGGED);
}

int pl_charter_merge(pl_charter *c, const pl_charter *other)
{
	if (!c || !other || !c->payload || !other->payload)
		return PL_ERR_INVALID;
	if (c->payload_len != other->payload_len ||
	    memcmp(c->payload, other->payload, c->payload_len) != 0)
		return pl_err_fail(PL_ERR_CONFLICT,
				   "signatures of another charter text cannot be merged into %s",
				   c->name);
	uint8_t *add[PL_CHARTER_STATES_MAX] = {0};
	for (size_t i = 0; i < c->nstates; i++) {
		if (c->sig[i] || !other->sig[i])
			continue;
		add[i] = malloc(other->sig_len[i]);
		if (!add[i]) {
			for (size_t j = 0; j < i; j++)
				free(add[j]);
			return PL_ERR_NOMEM;
		}
		memcpy(add[i], other->sig[i], other->sig_len[i]);
	}
	for (size_t i = 0; i < c->nstates; i++)
		if (add[i]) {
			c->sig[i] = add[i];
			c->sig_len[i] = other->sig_len[i];
		}
	return 0;
}

/* Check one signature item; on success c->sig[*idx] takes a copy of it. */
static int open_sig(pl_charter *c, const pl_trust *t, const pl_cbor *item, int *idx)
{
	pl_slice raw;
	if (pl_cbor_get_bytes(item, &raw) != 0)
		return pl_err_fail(PL_ERR_MALFORMED, "charter %s: a signature is not bytes",
				   c->name);
	pl_cose_sign1 cose;
	int rc = chan_cose_parse(raw.p, raw.n, SIG_MAX, "charter signature", &cose);
	if (rc)
		return rc;
	int found = -1;
	for (size_t i = 0; found < 0 && i < c->nstates; i++) {
		uint8_t kid[PL_KEYID_BYTES];
		pl_key_id(kid, pl_trust_find(t, c->states[i]));
		if (memcmp(kid, cose.kid.p, PL_KEYID_BYTES) == 0)
			found = (int)i;
	}
	if (found < 0)
		rc = pl_err_fail(PL_ERR_WRONG_STATE,
				 "charter %s: a signature by a key that is not the root of any "
				 "state party to it",
				 c->name);
	else if (found <= *idx)
		rc = pl_err_fail(PL_ERR_MALFORMED,
				 found == *idx ? "charter %s: two signatures by %s"
					       : "charter %s: signatures not in state order at %s",
				 c->name, c->states[found]);
	else if (cose.payload.n != c->payload_len ||
		 memcmp(cose.payload.p, c->payload, c->payload_len) != 0)
		rc = pl_err_fail(PL_ERR_BAD_SIGNATURE,
				 "charter %s: %s's signature covers another text", c->name,
				 c->states[found]);
	else if (pl_cose_sign1_verify(&cose, NULL, 0, pl_trust_find(t, c->states[found])) != 0)
		rc = pl_err_fail(PL_ERR_BAD_SIGNATURE, "charter %s: %s's signature does not verify",
				 c->name, c->states[found]);
	pl_cose_sign1_clear(&cose);
	if (rc)
		return rc;
	c->sig[found] = malloc(raw.n);
	if (!c->sig[found])
		return PL_ERR_NOMEM;
	memcpy(c->sig[found], raw.p, raw.n);
	c->sig_len[found] = raw.n;
	*idx = found;
	return 0;
}

/* ---------------------------------------------------------------- the signed object */

int pl_charter_encode(const pl_charter *c, uint8_t **out, size_t *len)
{
	*out = NULL;
	*len = 0;
	if (!c || !c->payload)
		return PL_ERR_INVALID;
	size_t nsig = 0;
	for (size_t i = 0; i < c->nstates; i++)
		nsig += c->sig[i] != NULL;
	pl_cbor_enc e;
	pl_cbor_enc_init(&e);
	pl_cbor_put_map(&e, 4);
	pl_cbor_put_str(&e, "t");
	pl_cbor_put_str(&e, "parley/charter-signed");
	pl_cbor_put_str(&e, "v");
	pl_cbor_put_uint(&e, CHAN_VERSION);
	pl_cbor_put_str(&e, "sigs");
	pl_cbor_put_array(&e, nsig);
	for (size_t i = 0; i < c->nstates; i++)
		if (c->sig[i])
			pl_cbor_put_bytes(&e, c->sig[i], c->sig_len[i]);
	pl_cbor_put_str(&e, "charter");
	pl_cbor_put_bytes(&e, c->payload, c->payload_len);
	return pl_cbor_enc_finish(&e, out, len);
}

int pl_charter_open(const uint8_t *buf, size_t len, const pl_trust *t, pl_charter *out)
{
	memset(out, 0, sizeof(*out));
	if (!t)
		return PL_ERR_INVALID;
	if (len > SIGNED_MAX)
		return pl_err_fail(PL_ERR_LIMIT, "signed charter: %zu bytes, at most %d", len,
				   SIGNED_MAX);
	pl_cbor *map = NULL;
	int rc = chan_decode_typed(buf, len, &signed_limits, "parley/charter-signed", &map);
	if (rc)
		return rc;
	pl_slice ty, payload;
	uint64_t v;
	const pl_cbor *sigs = NULL;
	const pl_cbor_field f[] = {
	    {"t", PL_CBOR_TEXT, 0, 0, 0, &ty, NULL},
	    {"v", PL_CBOR_UINT, 0, 0, 0, &v, NULL},
	    {"sigs", PL_CBOR_ARRAY, 0, 0, PL_CHARTER_STATES_MAX, &sigs, NULL},
	    {"charter", PL_CBOR_BYTES, 0, 1, PL_CHARTER_MAX, &payload, NULL},
	};
	rc = pl_cbor_read_map(map, f, sizeof(f) / sizeof(f[0]));
	if (!rc)
		rc = parse_payload(payload.p, payload.n, t, out);
	int idx = -1;
	for (size_t i = 0; !rc && i < pl_cbor_len(sigs); i++)
		rc = open_sig(out, t, pl_cbor_at(sigs, i), &idx);
	pl_cbor_free(map);
	if (rc)
		pl_charter_clear(out);
	return rc;
}

/* ---------------------------------------------------------------- questions */

size_t chan_charter_missing(const pl_charter *c, char *buf, size_t cap)
{
	size_t missing = 0, used = 0;
	if (cap)
		buf[0] = '\0';
	for (size_t i = 0; i < c->nstates; i++) {
		if (c->sig[i])
			continue;
		if (used < cap) {
			int k = snprintf(buf + used, cap - used, "%s%s", missing ? ", " : "",
					 c->states[i]);
			used += k > 0 ? (size_t)k : 0;
		}
		missing++;
	}
	return missing;
}

int pl_charter_check_complete(const pl_charter *c)
{
	if (!c || !c->payload)
		return PL_ERR_INVALID;
	char names[PL_CHARTER_STATES_MAX * (PL_NAME_MAX + 2) + 1];
	if (chan_charter_missing(c, names, sizeof(names)) > 0)
		return pl_err_fail(PL_ERR_UNSIGNED, "charter %s v%llu is not yet signed by %s",
				   c->name, (unsigned long long)c->version, names);
	return 0;
}

int pl_charter_supersedes(const pl_charter *newer, const pl_charter *held)
{
	if (!newer || !held)
		return PL_ERR_INVALID;
	int rc = pl_charter_check_complete(newer);
	if (!rc)
		rc = pl_charter_check_complete(held);
	if (rc)
		return rc;
	if (strcmp(newer->name, held->name) != 0)
		return pl_err_fail(PL_ERR_INVALID, "charter of %s offered to replace %s",
				   newer->name, held->name);
	bool same = newer->payload_len == held->payload_len &&
		    memcmp(newer->payload, held->payload, held->payload_len) == 0;
	if (newer->version == held->version && !same)
		return pl_err_fail(PL_ERR_CONFLICT,
				   "two different charters of %s carry version %llu", newer->name,
				   (unsigned long long)newer->version);
	if (newer->version <= held->version)
		return pl_err_fail(
		    PL_ERR_STALE, "charter %s v%llu is not newer than the held v%llu", newer->name,
		    (unsigned long long)newer->version, (unsigned long long)held->version);
	for (size_t i = 0; i < held->nstates; i++)
		if (state_index(newer, held->states[i]) < 0)
			return pl_err_fail(
			    PL_ERR_CONFLICT,
			    "charter %s v%llu drops state %s: a new channel is needed", newer->name,
			    (unsigned long long)newer->version, held->states[i]);
	return 0;
}

const pl_charter_member *pl_charter_find_member(const pl_charter *c, const char *state,
						const char *id)
{
	if (!c || !state || !id)
		return NULL;
	for (size_t i = 0; i < c->nmembers; i++)
		if (strcmp(c->members[i].cred.state, state) == 0 &&
		    strcmp(c->members[i].cred.id, id) == 0)
			return &c->members[i];
	return NULL;
}

bool pl_charter_allows_kind(const pl_charter *c, const char *kind)
{
	for (size_t i = 0; c && kind && i < c->nkinds; i++)
		if (strcmp(c->kinds[i], kind) == 0)
			return true;
	return false;
}

bool pl_charter_allows_lane(const pl_charter *c, unsigned lane)
{
	return c && pl_lane_is_valid(lane) && ((c->lanes >> lane) & 1u);
}
