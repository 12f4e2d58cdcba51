/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Status lists: the signed, versioned history of a state's credential
 * status changes, the rules for which change may follow which, and the
 * rule that a newer list only ever extends an older one.  Also the one
 * verification call, pl_cred_verify, which combines signature, validity
 * period and status at a given time.
 *
 * Divisions: names; transitions; list editing; encoding; the question.
 */
#include <stdlib.h>
#include <string.h>

#include "identity/ident_int.h"
#include "parley/err.h"
#include "parley/time.h"

/* ---------------------------------------------------------------- names */

static const char *const status_names[] = {"active", "suspended", "recalled", "restored",
					   "revoked"};
#define STATUS_COUNT (sizeof(status_names) / sizeof(status_names[0]))

const char *pl_status_name(pl_status s)
{
	return (unsigned)s < STATUS_COUNT ? status_names[s] : "unknown";
}

int pl_status_parse(const char *s, pl_status *out)
{
	for (size_t i = 0; i < STATUS_COUNT; i++)
		if (strcmp(s, status_names[i]) == 0) {
			*out = (pl_status)i;
			return 0;
		}
	return pl_err_fail(PL_ERR_MALFORMED,
			   "unknown status '%s' (active, suspended, recalled, restored, revoked)",
			   s);
}

/* ---------------------------------------------------------------- transitions */

/* May a credential go from `from` to `to`?  ACTIVE is never a target:
 * coming back is RESTORED, so the history says it was away. */
static bool transition_ok(pl_status from, pl_status to)
{
	switch (from) {
	case PL_STATUS_ACTIVE:
	case PL_STATUS_RESTORED:
		return to == PL_STATUS_SUSPENDED || to == PL_STATUS_RECALLED ||
		       to == PL_STATUS_REVOKED;
	case PL_STATUS_SUSPENDED:
		return to == PL_STATUS_RECALLED || to == PL_STATUS_RESTORED ||
		       to == PL_STATUS_REVOKED;
	case PL_STATUS_RECALLED:
		return to == PL_STATUS_RESTORED || to == PL_STATUS_REVOKED;
	case PL_STATUS_REVOKED:
	default:
		return false;
	}
}

/* The last event for id among the first n events, or NULL. */
static const pl_status_event *last_event(const pl_status_event *ev, size_t n, const char *id)
{
	for (size_t i = n; i-- > 0;)
		if (strcmp(ev[i].id, id) == 0)
			return &ev[i];
	return NULL;
}

/* Check that event k may follow the events before it. */
static int check_event(const pl_status_event *ev, size_t k)
{
	const pl_status_event *e = &ev[k];
	const pl_status_event *prev = last_event(ev, k, e->id);
	pl_status from = prev ? prev->status : PL_STATUS_ACTIVE;
	if (!transition_ok(from, e->status))
		return pl_err_fail(PL_ERR_TRANSITION, "%s is %s: it cannot become %s", e->id,
				   pl_status_name(from), pl_status_name(e->status));
	if (prev && e->at < prev->at) {
		char a[PL_TIME_LEN], b[PL_TIME_LEN];
		pl_time_format(a, e->at);
		pl_time_format(b, prev->at);
		return pl_err_fail(PL_ERR_TRANSITION,
				   "%s: change effective %s is earlier than the last one (%s)",
				   e->id, a, b);
	}
	return 0;
}

pl_status pl_status_at(const pl_status_list *l, const char *id, int64_t t)
{
	pl_status s = PL_STATUS_ACTIVE;
	if (!l)
		return s;
	/* Per credential, effective times never decrease, so the last event
	 * at or before t in list order is the one in force. */
	for (size_t i = 0; i < l->n; i++)
		if (l->ev[i].at <= t && strcmp(l->ev[i].id, id) == 0)
			s = l->ev[i].status;
	return s;
}

/* ---------------------------------------------------------------- editing */

void pl_status_list_init(pl_status_list *l, const char *state)
{
	memset(l, 0, sizeof(*l));
	size_t n = strlen(state);
	if (n > PL_NAME_MAX)
		n = PL_NAME_MAX;
	memcpy(l->state, state, n);
}

void pl_status_list_clear(pl_status_list *l)
{
	if (!l)
		return;
	free(l->ev);
	memset(l, 0, sizeof(*l));
}

static int check_reason(const char *reason)
{
	size_t n = strlen(reason);
	if (n > PL_TEXT_MAX)
		return pl_err_fail(PL_ERR_LIMIT, "reason is %zu bytes, at most %d", n, PL_TEXT_MAX);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)reason[i] < 0x20 || reason[i] == 0x7f)
			return pl_err_fail(PL_ERR_INVALID, "reason contains a control character");
	return 0;
}

int pl_status_list_append(pl_status_list *l, const char *id, pl_status s, int64_t at,
			  const char *reason, int64_t now)
{
	if (!pl_name_is_valid(id))
		return pl_err_fail(PL_ERR_INVALID, "'%s' is not a valid credential id", id);
	if ((unsigned)s >= STATUS_COUNT)
		return pl_err_fail(PL_ERR_INVALID, "unknown status %d", (int)s);
	int rc = check_reason(reason ? reason : "");
	if (rc)
		return rc;
	if (l->n >= PL_STATUS_EVENTS_MAX)
		return pl_err_fail(PL_ERR_LIMIT, "status list holds %d changes already",
				   PL_STATUS_EVENTS_MAX);
	pl_status_event *ev = realloc(l->ev, (l->n + 1) * sizeof(*ev));
	if (!ev)
		return PL_ERR_NOMEM;
	l->ev = ev;
	pl_status_event *e = &ev[l->n];
	memset(e, 0, sizeof(*e));
	memcpy(e->id, id, strlen(id) + 1);
	e->status = s;
	e->at = at;
	if (reason)
		memcpy(e->reason, reason, strlen(reason) + 1);
	rc = check_event(ev, l->n);
	if (rc)
		return rc; /* the slot past n is ignored: l is unchanged */
	l->n++;
	l->version++;
	l->issued = now;
	return 0;
}

static bool event_equal(const pl_status_event *a, const pl_status_event *b)
{
	return a->status == b->status && a->at == b->at && strcmp(a->id, b->id) == 0 &&
	       strcmp(a->reason, b->reason) == 0;
}

int pl_status_list_supersedes(const pl_status_list *newer, const pl_status_list *held)
{
	if (strcmp(newer->state, held->state) != 0)
		return pl_err_fail(PL_ERR_WRONG_STATE, "status list of '%s' offered for '%s'",
				   newer->state, held->state);
	bool same = newer->n == held->n;
	for (size_t i = 0; same && i < held->n; i++)
		same = event_equal(&newer->ev[i], &held->ev[i]);
	if (newer->version < held->version || (newer->version == held->version && same))
		return pl_err_fail(PL_ERR_STALE,
				   "status list version %llu of '%s' is not newer than the held "
				   "version %llu",
				   (unsigned long long)newer->version, newer->state,
				   (unsigned long long)held->version);
	if (newer->version == held->version)
		return pl_err_fail(PL_ERR_CONFLICT,
				   "two different status lists of '%s' carry version %llu",
				   newer->state, (unsigned long long)newer->version);
	if (newer->n < held->n)
		return pl_err_fail(PL_ERR_CONFLICT,
				   "status list version %llu of '%s' drops changes of version %llu",
				   (unsigned long long)newer->version, newer->state,
				   (unsigned long long)held->version);
	for (size_t i = 0; i < held->n; i++)
		if (!event_equal(&newer->ev[i], &held->ev[i]))
			return pl_err_fail(PL_ERR_CONFLICT,
					   "status list version %llu of '%s' rewrites change %zu",
					   (unsigned long long)newer->version, newer->state, i + 1);
	return 0;
}

/* ---------------------------------------------------------------- encoding */

int pl_status_list_sign(const pl_status_list *l, const pl_keypair *root, uint8_t **out,
			size_t *len)
{
	if (!pl_name_is_valid(l->state))
		return pl_err_fail(PL_ERR_INVALID, "'%s' is not a valid state name", l->state);
	if (l->version == 0)
		return pl_err_fail(PL_ERR_INVALID, "an empty status list (version 0) is not signed");
	pl_cbor_enc e;
	pl_cbor_enc_init(&e);
	pl_cbor_put_map(&e, 6);
	pl_cbor_put_str(&e, "t");
	pl_cbor_put_str(&e, "parley/status");
	pl_cbor_put_str(&e, "v");
	pl_cbor_put_uint(&e, IDENT_VERSION);
	pl_cbor_put_str(&e, "state");
	pl_cbor_put_str(&e, l->state);
	pl_cbor_put_str(&e, "events");
	pl_cbor_put_array(&e, l->n);
	for (size_t i = 0; i < l->n; i++) {
		const pl_status_event *ev = &l->ev[i];
		bool has_reason = ev->reason[0] != '\0';
		pl_cbor_put_map(&e, has_reason ? 4 : 3);
		pl_cbor_put_str(&e, "at");
		pl_cbor_put_int(&e, ev->at);
		pl_cbor_put_str(&e, "id");
		pl_cbor_put_str(&e, ev->id);
		if (has_reason) {
			pl_cbor_put_str(&e, "reason");
			pl_cbor_put_str(&e, ev->reason);
		}
		pl_cbor_put_str(&e, "status");
		pl_cbor_put_str(&e, pl_status_name(ev->status));
	}
	pl_cbor_put_str(&e, "issued");
	pl_cbor_put_int(&e, l->issued);
	pl_cbor_put_str(&e, "version");
	pl_cbor_put_uint(&e, l->version);
	return ident_sign(&e, root, out, len);
}

static int read_event(const pl_cbor *m, pl_status_event *ev, size_t i)
{
	pl_slice id, reason = {NULL, 0}, status;
	int64_t at;
	const pl_cbor_field f[] = {
		{"at", PL_CBOR_INT, 0, 0, 0, &at, NULL},
		{"id", PL_CBOR_TEXT, 0, 1, PL_NAME_MAX, &id, NULL},
		{"reason", PL_CBOR_TEXT, PL_FIELD_OPTIONAL | PL_FIELD_LINE, 1, PL_TEXT_MAX, &reason,
		 NULL},
		{"status", PL_CBOR_TEXT, 0, 1, 16, &status, NULL},
	};
	if (pl_cbor_type_of(m) != PL_CBOR_MAP)
		return pl_err_fail(PL_ERR_MALFORMED, "status change %zu is not a map", i + 1);
	int rc = pl_cbor_read_map(m, f, sizeof(f) / sizeof(f[0]));
	if (rc)
		return rc;
	memset(ev, 0, sizeof(*ev));
	rc = ident_copy_name(ev->id, id, "id");
	if (rc)
		return rc;
	char st[17];
	ident_copy(st, sizeof(st), status);
	rc = pl_status_parse(st, &ev->status);
	if (rc)
		return rc;
	if (reason.p)
		ident_copy(ev->reason, sizeof(ev->reason), reason);
	ev->at = at;
	return 0;
}

int pl_status_list_open(const uint8_t *buf, size_t len, const pl_trust *t, pl_status_list *out)
{
	pl_cose_sign1 cose;
	pl_cbor *map;
	int rc = ident_parse(buf, len, "parley/status", &cose, &map);
	if (rc)
		return rc;
	pl_slice ty, state;
	uint64_t v, version;
	int64_t issued;
	const pl_cbor *events = NULL;
	const pl_cbor_field f[] = {
		{"t", PL_CBOR_TEXT, 0, 0, 0, &ty, NULL},
		{"v", PL_CBOR_UINT, 0, 0, 0, &v, NULL},
		{"state", PL_CBOR_TEXT, 0, 1, PL_NAME_MAX, &state, NULL},
		{"events", PL_CBOR_ARRAY, 0, 0, PL_STATUS_EVENTS_MAX, &events, NULL},
		{"issued", PL_CBOR_INT, 0, 0, 0, &issued, NULL},
		{"version", PL_CBOR_UINT, 0, 0, 0, &version, NULL},
	};
	pl_status_list l;
	memset(&l, 0, sizeof(l));
	rc = pl_cbor_read_map(map, f, sizeof(f) / sizeof(f[0]));
	if (!rc)
		rc = ident_copy_name(l.state, state, "state");
	if (!rc && version == 0)
		rc = pl_err_fail(PL_ERR_MALFORMED, "status list version 0");
	size_t n = rc ? 0 : pl_cbor_len(events);
	if (!rc && n > 0) {
		l.ev = calloc(n, sizeof(*l.ev));
		if (!l.ev)
			rc = PL_ERR_NOMEM;
	}
	for (size_t i = 0; !rc && i < n; i++) {
		rc = read_event(pl_cbor_at(events, i), &l.ev[i], i);
		if (!rc)
			rc = check_event(l.ev, i);
	}
	if (!rc) {
		l.n = n;
		l.version = version;
		l.issued = issued;
		const uint8_t *root = pl_trust_find(t, l.state);
		rc = root ? ident_check_sig(&cose, root, "status list")
			  : pl_err_fail(PL_ERR_UNKNOWN_ROOT,
					"status list: state '%s' is not a pinned root", l.state);
	}
	if (!rc)
		*out = l;
	else
		free(l.ev);
	pl_cbor_free(map);
	pl_cose_sign1_clear(&cose);
	return rc;
}

/* ---------------------------------------------------------------- the question */

int pl_cred_check(const pl_cred *c, const pl_status_list *sl, int64_t t, const char *label)
{
	char when[PL_TIME_LEN], edge[PL_TIME_LEN];
	pl_time_format(when, t);
	if (sl && strcmp(sl->state, c->state) != 0)
		return pl_err_fail(PL_ERR_WRONG_STATE,
				   "credential %s@%s checked against the status list of '%s'", c->id,
				   c->state, sl->state);
	if (t < c->not_before) {
		pl_time_format(edge, c->not_before);
		return pl_err_fail(PL_ERR_NOT_YET_VALID,
				   "credential %s@%s is not valid until %s (%s %s)", c->id, c->state,
				   edge, label, when);
	}
	if (t >= c->not_after) {
		pl_time_format(edge, c->not_after);
		return pl_err_fail(PL_ERR_EXPIRED, "credential %s@%s expired at %s (%s %s)", c->id,
				   c->state, edge, label, when);
	}
	pl_status s = pl_status_at(sl, c->id, t);
	static const int code[] = {
		[PL_STATUS_ACTIVE] = 0,
		[PL_STATUS_SUSPENDED] = PL_ERR_SUSPENDED,
		[PL_STATUS_RECALLED] = PL_ERR_RECALLED,
		[PL_STATUS_RESTORED] = 0,
		[PL_STATUS_REVOKED] = PL_ERR_REVOKED,
	};
	if (code[s])
		return pl_err_fail(code[s], "credential %s@%s is %s (%s %s)", c->id, c->state,
				   pl_status_name(s), label, when);
	return 0;
}

int pl_cred_verify(const uint8_t *buf, size_t len, const pl_trust *trust,
		   const pl_status_list *sl, int64_t t, pl_cred *out)
{
	pl_cred c;
	int rc = pl_cred_open(buf, len, trust, &c);
	if (rc)
		return rc;
	if (out)
		*out = c;
	return pl_cred_check(&c, sl, t, "checked at");
}
