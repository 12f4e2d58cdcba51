/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Form bodies (include/parley/forms.h): the incident report, the
 * cooperation request and the request step, each validated, encoded to
 * its one canonical CBOR map and decoded strictly; and the request
 * workflow's arrows.
 *
 * One set of value rules serves both directions: decoding first reads the
 * map into the struct (reporting unknown and missing keys, wrong types and
 * over-long text), then runs the same validator encoding runs, keeping
 * only failures of fields not already reported.  Nothing here does I/O or
 * knows about charters, authors or the clock.
 *
 * Divisions: error lists; names; text and value checks; decoding helpers;
 * incident; request; request-step; envelopes; workflow.  Map keys are
 * written in canonical order (shorter keys first, then bytewise).
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/utf8.h"
#include "parley/codec.h"
#include "parley/err.h"
#include "parley/forms.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---------------------------------------------------------------- error lists */

void pl_form_errors_init(pl_form_errors *errs)
{
	memset(errs, 0, sizeof(*errs));
}

/* true when `have` is field itself or a parent of it ("a" of "a.b"). */
static bool field_covers(const char *have, const char *field)
{
	size_t n = strlen(have);
	if (strcmp(have, field) == 0)
		return true;
	return n > 0 && strncmp(have, field, n) == 0 && field[n] == '.';
}

bool pl_form_errors_has(const pl_form_errors *errs, const char *field)
{
	for (size_t i = 0; i < errs->n; i++)
		if (field_covers(errs->e[i].field, field))
			return true;
	return false;
}

static void errors_put(pl_form_errors *errs, int code, const char *field, const char *text)
{
	if (pl_form_errors_has(errs, field))
		return;
	if (errs->n == PL_FORM_ERRORS_MAX) {
		errs->more++;
		return;
	}
	pl_form_error *e = &errs->e[errs->n++];
	e->code = code;
	size_t n = strlen(field);
	if (n > PL_FORM_FIELD_MAX)
		n = PL_FORM_FIELD_MAX;
	memcpy(e->field, field, n);
	e->field[n] = '\0';
	/* The prefix is at most 41 bytes; the text fills what is left. */
	int k = field[0] ? snprintf(e->msg, sizeof(e->msg), "field '%.*s': ", (int)n, field)
			 : snprintf(e->msg, sizeof(e->msg), "body: ");
	size_t at = k > 0 ? (size_t)k : 0, len = strlen(text);
	if (len > sizeof(e->msg) - 1 - at)
		len = sizeof(e->msg) - 1 - at;
	memcpy(e->msg + at, text, len);
	e->msg[at + len] = '\0';
}

int pl_form_errors_add(pl_form_errors *errs, int code, const char *field, const char *fmt, ...)
{
	char text[PL_FORM_MSG_MAX + 1];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	errors_put(errs, code, field, text);
	return code;
}

void pl_form_errors_merge(pl_form_errors *dst, const pl_form_errors *src)
{
	for (size_t i = 0; i < src->n; i++) {
		const pl_form_error *e = &src->e[i];
		if (pl_form_errors_has(dst, e->field))
			continue;
		if (dst->n == PL_FORM_ERRORS_MAX) {
			dst->more++;
			continue;
		}
		dst->e[dst->n++] = *e;
	}
	dst->more += src->more;
}

int pl_form_errors_result(const pl_form_errors *errs)
{
	if (errs->n == 0)
		return 0;
	return pl_err_fail(errs->e[0].code, "%s", errs->e[0].msg);
}

/* Change every entry's code from `from` to `to` (decoding reports bad
 * values as malformed input, not as a caller's bug). */
static void errors_recode(pl_form_errors *errs, int from, int to)
{
	for (size_t i = 0; i < errs->n; i++)
		if (errs->e[i].code == from)
			errs->e[i].code = to;
}

/* ---------------------------------------------------------------- names */

static const char *const category_names[] = {NULL,
					     "armed-incursion",
					     "cross-border-fire",
					     "militant-movement",
					     "smuggling",
					     "airspace-violation",
					     "other"};
static const char *const datum_names[] = {NULL,   "WGS84", "ETRS89",
					  "ED50", "NAD83", "Kalianpur1962"};
static const char *const type_names[] = {NULL, "extradition", "mutual-legal-assistance",
					 "consular-access", "information"};
static const char *const status_names[] = {NULL,           "submitted", "acknowledged",
					   "under-review", "granted",   "partially-granted",
					   "refused",      "withdrawn"};
/* What the side that takes a step does, for details ("may grant"). */
static const char *const status_verbs[] = {
    NULL,    "submit",          "acknowledge", "put under review",
    "grant", "partially grant", "refuse",      "withdraw"};

typedef struct name_set {
	const char *what; /* for details: "category" */
	const char *const *names;
	int first, last; /* valid values */
} name_set;

static const name_set set_category = {"category", category_names, 1, ARRAY_LEN(category_names) - 1};
static const name_set set_datum = {"datum", datum_names, 1, ARRAY_LEN(datum_names) - 1};
static const name_set set_type = {"request type", type_names, 1, ARRAY_LEN(type_names) - 1};
static const name_set set_status = {"request status", status_names, 1, ARRAY_LEN(status_names) - 1};
/* The statuses a request-step may move to. */
static const name_set set_step_to = {"step status", status_names, PL_REQUEST_ACKNOWLEDGED,
				     ARRAY_LEN(status_names) - 1};

static const char *name_of(const name_set *set, int v)
{
	return v >= set->first && v <= set->last ? set->names[v] : "unknown";
}

/* The value named s, or 0. */
static int name_find(const name_set *set, const char *s)
{
	for (int i = set->first; s && i <= set->last; i++)
		if (strcmp(s, set->names[i]) == 0)
			return i;
	return 0;
}

/* "a, b, c" into out (cut to cap). */
static void name_list(char *out, size_t cap, const name_set *set)
{
	size_t at = 0;
	out[0] = '\0';
	for (int i = set->first; i <= set->last && at < cap; i++) {
		int k =
		    snprintf(out + at, cap - at, "%s%s", i > set->first ? ", " : "", set->names[i]);
		if (k < 0)
			break;
		at += (size_t)k;
	}
}

/*
 * A safe rendering of untrusted text for a detail: at most 24 bytes,
 * printable ASCII kept, everything else '?', "..." when cut.
 */
static void show(char *out, size_t cap, const char *s, size_t n)
{
	size_t k = 0;
	for (size_t i = 0; i < n && i < 24 && k + 1 < cap; i++) {
		unsigned char c = (unsigned char)s[i];
		out[k++] = (c >= 0x20 && c < 0x7f && c != '"') ? (char)c : '?';
	}
	if (n > 24 && k + 4 < cap) {
		memcpy(out + k, "...", 3);
		k += 3;
	}
	out[k] = '\0';
}

static int name_parse(const name_set *set, const char *s, int *out)
{
	int v = name_find(set, s);
	if (v) {
		*out = v;
		return 0;
	}
	char list[160], got[32];
	name_list(list, sizeof(list), set);
	show(got, sizeof(got), s ? s : "", s ? strlen(s) : 0);
	return pl_err_fail(PL_ERR_MALFORMED, "unknown %s \"%s\" (one of %s)", set->what, got, list);
}

const char *pl_incident_category_name(pl_incident_category c)
{
	return name_of(&set_category, (int)c);
}

int pl_incident_category_parse(const char *s, pl_incident_category *out)
{
	int v = 0;
	int rc = name_parse(&set_category, s, &v);
	if (rc == 0)
		*out = (pl_incident_category)v;
	return rc;
}

const char *pl_datum_name(pl_datum d)
{
	return name_of(&set_datum, (int)d);
}

int pl_datum_parse(const char *s, pl_datum *out)
{
	int v = 0;
	int rc = name_parse(&set_datum, s, &v);
	if (rc == 0)
		*out = (pl_datum)v;
	return rc;
}

const char *pl_request_type_name(pl_request_type t)
{
	return name_of(&set_type, (int)t);
}

int pl_request_type_parse(const char *s, pl_request_type *out)
{
	int v = 0;
	int rc = name_parse(&set_type, s, &v);
	if (rc == 0)
		*out = (pl_request_type)v;
	return rc;
}

const char *pl_request_status_name(pl_request_status s)
{
	return name_of(&set_status, (int)s);
}

int pl_request_status_parse(const char *s, pl_request_status *out)
{
	int v = 0;
	int rc = name_parse(&set_status, s, &v);
	if (rc == 0)
		*out = (pl_request_status)v;
	return rc;
}

/* ---------------------------------------------------------------- text and value checks */

enum { TEXT_LINE = 0, TEXT_MULTI = 1 };

/*
 * Why s[0..n) may not be form text, or NULL: bad UTF-8, or a control
 * character (C0, DEL, C1; LF and TAB allowed in multi-line text).
 */
static const char *text_problem(const char *s, size_t n, int multi, char *buf, size_t cap)
{
	const unsigned char *p = (const unsigned char *)s;
	if (!pl_utf8_is_valid(p, n))
		return "is not valid UTF-8";
	for (size_t i = 0; i < n; i++) {
		unsigned cp = p[i];
		if (cp == 0xc2 && i + 1 < n && p[i + 1] >= 0x80 && p[i + 1] <= 0x9f)
			cp = p[i + 1];
		else if (cp >= 0x20 && cp != 0x7f)
			continue;
		else if (multi && (cp == '\n' || cp == '\t'))
			continue;
		snprintf(buf, cap, "holds control character U+%04X at byte %zu (%s)", cp, i,
			 multi ? "only LF and TAB are allowed" : "must be one line");
		return buf;
	}
	return NULL;
}

/*
 * Check a text field held in a buffer of cap bytes: NUL-terminated, and
 * when not empty min..max bytes of good text.  An empty optional field is
 * absent; an empty required field with min 0 is allowed.
 */
static void check_text(pl_form_errors *l, const char *field, const char *s, size_t cap, size_t min,
		       size_t max, int multi, bool optional)
{
	size_t n = strnlen(s, cap);
	if (n == cap) {
		pl_form_errors_add(l, PL_ERR_INVALID, field,
				   "is not NUL-terminated within %zu bytes", cap);
		return;
	}
	if (n == 0) {
		if (!optional && min > 0)
			pl_form_errors_add(l, PL_ERR_INVALID, field, "must not be empty");
		return;
	}
	if (n < min || n > max) {
		pl_form_errors_add(l, n > max ? PL_ERR_LIMIT : PL_ERR_INVALID, field,
				   "must be %zu..%zu bytes%s (got %zu)", optional ? (size_t)1 : min,
				   max, optional ? " when present" : "", n);
		return;
	}
	char buf[120];
	const char *why = text_problem(s, n, multi, buf, sizeof(buf));
	if (why)
		pl_form_errors_add(l, PL_ERR_INVALID, field, "%s", why);
}

static void check_range(pl_form_errors *l, const char *field, int64_t v, int64_t min, int64_t max,
			const char *unit)
{
	if (v < min || v > max)
		pl_form_errors_add(l, PL_ERR_INVALID, field,
				   "must be %" PRId64 "..%" PRId64 "%s (got %" PRId64 ")", min, max,
				   unit, v);
}

static void check_time(pl_form_errors *l, const char *field, int64_t v)
{
	check_range(l, field, v, 0, PL_FORM_TIME_MAX, " (Unix seconds)");
}

static void check_enum(pl_form_errors *l, const char *field, const name_set *set, int v)
{
	if (v >= set->first && v <= set->last)
		return;
	char list[160];
	name_list(list, sizeof(list), set);
	pl_form_errors_add(l, PL_ERR_INVALID, field, "must be one of %s (got value %d)", list, v);
}

/* ---------------------------------------------------------------- decoding helpers */

/* The read pass over one map: every key it reads is recorded as known. */
typedef struct dec {
	const pl_cbor *map;
	const char *prefix; /* "" or "casualties." for field paths */
	pl_form_errors *l;
} dec;

static void dec_path(const dec *d, const char *key, char *out, size_t cap)
{
	snprintf(out, cap, "%s%s", d->prefix, key);
}

/* The value under key, or NULL (and "is missing" unless optional). */
static const pl_cbor *dec_get(dec *d, const char *key, bool optional)
{
	const pl_cbor *v = pl_cbor_map_get(d->map, key);
	if (!v && !optional) {
		char path[PL_FORM_FIELD_MAX + 1];
		dec_path(d, key, path, sizeof(path));
		pl_form_errors_add(d->l, PL_ERR_MALFORMED, path, "is missing");
	}
	return v;
}

static bool dec_int(dec *d, const char *key, bool optional, int64_t *out)
{
	const pl_cbor *v = dec_get(d, key, optional);
	if (!v)
		return false;
	char path[PL_FORM_FIELD_MAX + 1];
	dec_path(d, key, path, sizeof(path));
	pl_cbor_type t = pl_cbor_type_of(v);
	if (t != PL_CBOR_UINT && t != PL_CBOR_NEGINT) {
		pl_form_errors_add(d->l, PL_ERR_MALFORMED, path, "must be an integer");
		return false;
	}
	if (pl_cbor_get_int(v, out) != 0) {
		pl_form_errors_add(d->l, PL_ERR_MALFORMED, path, "is out of range");
		return false;
	}
	return true;
}

/* The text value under key into *s (borrowed from the map). */
static bool dec_slice(dec *d, const char *key, bool optional, pl_slice *s)
{
	const pl_cbor *v = dec_get(d, key, optional);
	if (!v)
		return false;
	if (pl_cbor_type_of(v) != PL_CBOR_TEXT || pl_cbor_get_text(v, s) != 0) {
		char path[PL_FORM_FIELD_MAX + 1];
		dec_path(d, key, path, sizeof(path));
		pl_form_errors_add(d->l, PL_ERR_MALFORMED, path, "must be a text string");
		return false;
	}
	return true;
}

/* Copy a text value of at most max bytes into buf (cap > max). */
static bool dec_text(dec *d, const char *key, bool optional, char *buf, size_t cap, size_t max)
{
	pl_slice s;
	if (!dec_slice(d, key, optional, &s))
		return false;
	char path[PL_FORM_FIELD_MAX + 1];
	dec_path(d, key, path, sizeof(path));
	if (s.n > max || s.n >= cap) {
		pl_form_errors_add(d->l, PL_ERR_LIMIT, path, "must be at most %zu bytes (got %zu)",
				   max, s.n);
		return false;
	}
	const void *nul = s.n ? memchr(s.p, 0, s.n) : NULL;
	if (nul) {
		pl_form_errors_add(d->l, PL_ERR_MALFORMED, path,
				   "holds control character U+0000 at byte %zu",
				   (size_t)((const uint8_t *)nul - s.p));
		return false;
	}
	if (optional && s.n == 0) {
		/* An absent optional text is written by leaving the key out: one byte form. */
		pl_form_errors_add(d->l, PL_ERR_MALFORMED, path,
				   "must not be empty when present (leave the key out)");
		return false;
	}
	if (s.n)
		memcpy(buf, s.p, s.n);
	buf[s.n] = '\0';
	return true;
}

/* Read an enumeration name into *out (left unchanged when unknown). */
static bool dec_enum(dec *d, const char *key, const name_set *set, int *out)
{
	pl_slice s;
	if (!dec_slice(d, key, false, &s))
		return false;
	for (int i = set->first; i <= set->last; i++)
		if (strlen(set->names[i]) == s.n && memcmp(set->names[i], s.p, s.n) == 0) {
			*out = i;
			return true;
		}
	char path[PL_FORM_FIELD_MAX + 1], list[160], got[32];
	dec_path(d, key, path, sizeof(path));
	name_list(list, sizeof(list), set);
	show(got, sizeof(got), (const char *)s.p, s.n);
	pl_form_errors_add(d->l, PL_ERR_MALFORMED, path, "must be one of %s (got \"%s\")", list,
			   got);
	return false;
}

/* Report every key of d->map that is not text or not in keys[]. */
static void dec_unknown_keys(dec *d, const char *const *keys, size_t nkeys)
{
	size_t n = pl_cbor_len(d->map);
	for (size_t i = 0; i < n; i++) {
		const pl_cbor *k = pl_cbor_key_at(d->map, i);
		pl_slice s;
		if (pl_cbor_type_of(k) != PL_CBOR_TEXT || pl_cbor_get_text(k, &s) != 0) {
			/* The field is the map itself: "" (the body) or "casualties". */
			char path[PL_FORM_FIELD_MAX + 1];
			dec_path(d, "", path, sizeof(path));
			size_t plen = strlen(path);
			if (plen)
				path[plen - 1] = '\0';
			pl_form_errors_add(d->l, PL_ERR_MALFORMED, path,
					   "holds a key that is not a text string (key %zu)",
					   i + 1);
			continue;
		}
		bool known = false;
		for (size_t j = 0; j < nkeys && !known; j++)
			known = strlen(keys[j]) == s.n && memcmp(keys[j], s.p, s.n) == 0;
		if (known)
			continue;
		char name[PL_FORM_FIELD_MAX + 1], path[2 * PL_FORM_FIELD_MAX + 2];
		show(name, sizeof(name), (const char *)s.p, s.n);
		snprintf(path, sizeof(path), "%s%s", d->prefix, name);
		pl_form_errors_add(d->l, PL_ERR_MALFORMED, path, "unknown key");
	}
}

/*
 * Decode buf as one canonical CBOR map whose "schema" is `schema`.  On
 * success *root is the caller's; on failure the reason is in l and *root
 * is NULL.  Returns true on success.
 */
static bool dec_open(const uint8_t *buf, size_t len, const char *schema, pl_form_errors *l,
		     pl_cbor **root)
{
	static const pl_cbor_limits lim = {
	    .max_bytes = PL_FORM_BODY_MAX, .max_depth = 4, .max_items = 256, .max_str = 16384};
	static const uint8_t empty[1];
	*root = NULL;
	if (!buf && len) {
		pl_form_errors_add(l, PL_ERR_INVALID, "", "no buffer given");
		return false;
	}
	if (len > PL_FORM_BODY_MAX) {
		pl_form_errors_add(l, PL_ERR_LIMIT, "", "%zu bytes, at most %d", len,
				   PL_FORM_BODY_MAX);
		return false;
	}
	int rc = pl_cbor_decode(buf ? buf : empty, len, &lim, PL_CBOR_CANONICAL, root);
	if (rc) {
		pl_form_errors_add(l, rc, "", "%s",
				   pl_err_detail()[0] ? pl_err_detail() : pl_strerror(rc));
		return false;
	}
	if (pl_cbor_type_of(*root) != PL_CBOR_MAP) {
		pl_form_errors_add(l, PL_ERR_MALFORMED, "", "is not a CBOR map");
		pl_cbor_free(*root);
		return false;
	}
	const pl_cbor *v = pl_cbor_map_get(*root, "schema");
	pl_slice s = {NULL, 0};
	if (!v) {
		pl_form_errors_add(l, PL_ERR_MALFORMED, "schema", "is missing (expected %s)",
				   schema);
	} else if (pl_cbor_type_of(v) != PL_CBOR_TEXT || pl_cbor_get_text(v, &s) != 0) {
		pl_form_errors_add(l, PL_ERR_MALFORMED, "schema", "must be a text string");
	} else if (s.n != strlen(schema) || memcmp(s.p, schema, s.n) != 0) {
		/* "parley/incident/" is the family; what follows it is the version. */
		size_t fam = (size_t)(strrchr(schema, '/') - schema) + 1;
		bool same = s.n > fam && memcmp(s.p, schema, fam) == 0;
		char got[32];
		show(got, sizeof(got), (const char *)s.p, s.n);
		if (same)
			pl_form_errors_add(l, PL_ERR_VERSION, "schema",
					   "unknown version \"%s\" (this program reads %s)", got,
					   schema);
		else
			pl_form_errors_add(l, PL_ERR_TYPE, "schema", "is \"%s\", not %s", got,
					   schema);
	} else {
		return true;
	}
	pl_cbor_free(*root);
	return false;
}

/* The errors of the value pass that the read pass did not already report. */
static void dec_merge_values(pl_form_errors *l, pl_form_errors *values)
{
	errors_recode(values, PL_ERR_INVALID, PL_ERR_MALFORMED);
	pl_form_errors_merge(l, values);
}

/* Shared head of the public functions: the list to fill. */
static pl_form_errors *errs_begin(pl_form_errors *errs, pl_form_errors *local)
{
	pl_form_errors *l = errs ? errs : local;
	pl_form_errors_init(l);
	return l;
}

/* ---------------------------------------------------------------- incident */

static const char *const incident_keys[] = {
    "lat",    "lon",      "time",     "datum",      "place",       "ref_id",
    "schema", "category", "severity", "casualties", "description", "requested_action"};
static const char *const casualty_keys[] = {"killed", "injured", "missing"};

static void incident_check(const pl_incident *f, pl_form_errors *l)
{
	check_time(l, "time", f->time);
	check_range(l, "lat", f->lat, -PL_INCIDENT_LAT_MAX, PL_INCIDENT_LAT_MAX, " micro-degrees");
	check_range(l, "lon", f->lon, -PL_INCIDENT_LON_MAX, PL_INCIDENT_LON_MAX, " micro-degrees");
	check_enum(l, "datum", &set_datum, (int)f->datum);
	check_text(l, "place", f->place, sizeof(f->place), 1, PL_INCIDENT_PLACE_MAX, TEXT_LINE,
		   false);
	check_enum(l, "category", &set_category, (int)f->category);
	check_range(l, "severity", f->severity, PL_INCIDENT_SEVERITY_MIN, PL_INCIDENT_SEVERITY_MAX,
		    "");
	const pl_casualties *c = &f->casualties;
	if (c->has_killed)
		check_range(l, "casualties.killed", c->killed, 0, PL_INCIDENT_CASUALTIES_MAX, "");
	if (c->has_injured)
		check_range(l, "casualties.injured", c->injured, 0, PL_INCIDENT_CASUALTIES_MAX, "");
	if (c->has_missing)
		check_range(l, "casualties.missing", c->missing, 0, PL_INCIDENT_CASUALTIES_MAX, "");
	check_text(l, "description", f->description, sizeof(f->description), 1,
		   PL_INCIDENT_DESCRIPTION_MAX, TEXT_MULTI, false);
	check_text(l, "requested_action", f->requested_action, sizeof(f->requested_action), 1,
		   PL_INCIDENT_ACTION_MAX, TEXT_MULTI, true);
	check_text(l, "ref_id", f->ref_id, sizeof(f->ref_id), 1, PL_INCIDENT_REF_ID_MAX, TEXT_LINE,
		   true);
}

int pl_incident_validate(const pl_incident *f, pl_form_errors *errs)
{
	pl_form_errors local;
	pl_form_errors *l = errs_begin(errs, &local);
	if (!f)
		pl_form_errors_add(l, PL_ERR_INVALID, "", "no form given");
	else
		incident_check(f, l);
	return pl_form_errors_result(l);
}

int pl_incident_encode(const pl_incident *f, pl_form_errors *errs, uint8_t **out, size_t *len)
{
	if (!out || !len)
		return pl_err_fail(PL_ERR_INVALID, "no output given");
	*out = NULL;
	*len = 0;
	int rc = pl_incident_validate(f, errs);
	if (rc)
		return rc;
	const pl_casualties *c = &f->casualties;
	bool has_action = f->requested_action[0] != '\0', has_ref = f->ref_id[0] != '\0';
	pl_cbor_enc e;
	pl_cbor_enc_init(&e);
	pl_cbor_put_map(&e, 10 + has_action + has_ref);
	pl_cbor_put_str(&e, "lat");
	pl_cbor_put_int(&e, f->lat);
	pl_cbor_put_str(&e, "lon");
	pl_cbor_put_int(&e, f->lon);
	pl_cbor_put_str(&e, "time");
	pl_cbor_put_int(&e, f->time);
	pl_cbor_put_str(&e, "datum");
	pl_cbor_put_str(&e, pl_datum_name(f->datum));
	pl_cbor_put_str(&e, "place");
	pl_cbor_put_str(&e, f->place);
	if (has_ref) {
		pl_cbor_put_str(&e, "ref_id");
		pl_cbor_put_str(&e, f->ref_id);
	}
	pl_cbor_put_str(&e, "schema");
	pl_cbor_put_str(&e, PL_FORM_SCHEMA_INCIDENT);
	pl_cbor_put_str(&e, "category");
	pl_cbor_put_str(&e, pl_incident_category_name(f->category));
	pl_cbor_put_str(&e, "severity");
	pl_cbor_put_int(&e, f->severity);
	pl_cbor_put_str(&e, "casualties");
	pl_cbor_put_map(&e, (size_t)c->has_killed + c->has_injured + c->has_missing);
	if (c->has_killed) {
		pl_cbor_put_str(&e, "killed");
		pl_cbor_put_int(&e, c->killed);
	}
	if (c->has_injured) {
		pl_cbor_put_str(&e, "injured");
		pl_cbor_put_int(&e, c->injured);
	}
	if (c->has_missing) {
		pl_cbor_put_str(&e, "missing");
		pl_cbor_put_int(&e, c->missing);
	}
	pl_cbor_put_str(&e, "description");
	pl_cbor_put_str(&e, f->description);
	if (has_action) {
		pl_cbor_put_str(&e, "requested_action");
		pl_cbor_put_str(&e, f->requested_action);
	}
	return pl_cbor_enc_finish(&e, out, len);
}

static void incident_read_casualties(dec *top, pl_casualties *c)
{
	const pl_cbor *m = dec_get(top, "casualties", false);
	if (!m)
		return;
	if (pl_cbor_type_of(m) != PL_CBOR_MAP) {
		pl_form_errors_add(top->l, PL_ERR_MALFORMED, "casualties",
				   "must be a map (of killed, injured, missing)");
		return;
	}
	dec d = {.map = m, .prefix = "casualties.", .l = top->l};
	dec_unknown_keys(&d, casualty_keys, ARRAY_LEN(casualty_keys));
	c->has_killed = dec_int(&d, "killed", true, &c->killed);
	c->has_injured = dec_int(&d, "injured", true, &c->injured);
	c->has_missing = dec_int(&d, "missing", true, &c->missing);
}

int pl_incident_decode(const uint8_t *buf, size_t len, pl_incident *out, pl_form_errors *errs)
{
	pl_form_errors local, values;
	pl_form_errors *l = errs_begin(errs, &local);
	if (!out)
		return pl_err_fail(PL_ERR_INVALID, "no output given");
	memset(out, 0, sizeof(*out));
	pl_cbor *root;
	if (!dec_open(buf, len, PL_FORM_SCHEMA_INCIDENT, l, &root))
		return pl_form_errors_result(l);
	dec d = {.map = root, .prefix = "", .l = l};
	int v;
	dec_unknown_keys(&d, incident_keys, ARRAY_LEN(incident_keys));
	dec_int(&d, "time", false, &out->time);
	dec_int(&d, "lat", false, &out->lat);
	dec_int(&d, "lon", false, &out->lon);
	if (dec_enum(&d, "datum", &set_datum, &v))
		out->datum = (pl_datum)v;
	dec_text(&d, "place", false, out->place, sizeof(out->place), PL_INCIDENT_PLACE_MAX);
	if (dec_enum(&d, "category", &set_category, &v))
		out->category = (pl_incident_category)v;
	dec_int(&d, "severity", false, &out->severity);
	incident_read_casualties(&d, &out->casualties);
	dec_text(&d, "description", false, out->description, sizeof(out->description),
		 PL_INCIDENT_DESCRIPTION_MAX);
	dec_text(&d, "requested_action", true, out->requested_action, sizeof(out->requested_action),
		 PL_INCIDENT_ACTION_MAX);
	dec_text(&d, "ref_id", true, out->ref_id, sizeof(out->ref_id), PL_INCIDENT_REF_ID_MAX);
	pl_cbor_free(root);
	pl_form_errors_init(&values);
	incident_check(out, &values);
	dec_merge_values(l, &values);
	int rc = pl_form_errors_result(l);
	if (rc)
		memset(out, 0, sizeof(*out));
	return rc;
}

/* ---------------------------------------------------------------- request */

static const char *const request_keys[] = {"due",     "type",        "schema",         "subject",
					   "summary", "legal_basis", "requested_state"};

static void request_check(const pl_request *f, pl_form_errors *l)
{
	check_enum(l, "type", &set_type, (int)f->type);
	check_text(l, "subject", f->subject, sizeof(f->subject), 1, PL_REQUEST_SUBJECT_MAX,
		   TEXT_LINE, false);
	check_text(l, "summary", f->summary, sizeof(f->summary), 1, PL_REQUEST_SUMMARY_MAX,
		   TEXT_MULTI, false);
	check_text(l, "legal_basis", f->legal_basis, sizeof(f->legal_basis), 1,
		   PL_REQUEST_LEGAL_BASIS_MAX, TEXT_MULTI, true);
	if (f->has_due)
		check_time(l, "due", f->due);
	size_t n = strnlen(f->requested_state, sizeof(f->requested_state));
	if (n == sizeof(f->requested_state)) {
		pl_form_errors_add(l, PL_ERR_INVALID, "requested_state",
				   "is not NUL-terminated within %zu bytes",
				   sizeof(f->requested_state));
	} else if (!pl_name_is_valid(f->requested_state)) {
		char got[32];
		show(got, sizeof(got), f->requested_state, n);
		pl_form_errors_add(l, PL_ERR_INVALID, "requested_state",
				   "must be a state name: 1..%d bytes of a-z 0-9 . _ -, starting "
				   "with a letter or digit (got \"%s\")",
				   PL_NAME_MAX, got);
	}
}

int pl_request_validate(const pl_request *f, pl_form_errors *errs)
{
	pl_form_errors local;
	pl_form_errors *l = errs_begin(errs, &local);
	if (!f)
		pl_form_errors_add(l, PL_ERR_INVALID, "", "no form given");
	else
		request_check(f, l);
	return pl_form_errors_result(l);
}

int pl_request_encode(const pl_request *f, pl_form_errors *errs, uint8_t **out, size_t *len)
{
	if (!out || !len)
		return pl_err_fail(PL_ERR_INVALID, "no output given");
	*out = NULL;
	*len = 0;
	int rc = pl_request_validate(f, errs);
	if (rc)
		return rc;
	bool has_basis = f->legal_basis[0] != '\0';
	pl_cbor_enc e;
	pl_cbor_enc_init(&e);
	pl_cbor_put_map(&e, 5 + f->has_due + has_basis);
	if (f->has_due) {
		pl_cbor_put_str(&e, "due");
		pl_cbor_put_int(&e, f->due);
	}
	pl_cbor_put_str(&e, "type");
	pl_cbor_put_str(&e, pl_request_type_name(f->type));
	pl_cbor_put_str(&e, "schema");
	pl_cbor_put_str(&e, PL_FORM_SCHEMA_REQUEST);
	pl_cbor_put_str(&e, "subject");
	pl_cbor_put_str(&e, f->subject);
	pl_cbor_put_str(&e, "summary");
	pl_cbor_put_str(&e, f->summary);
	if (has_basis) {
		pl_cbor_put_str(&e, "legal_basis");
		pl_cbor_put_str(&e, f->legal_basis);
	}
	pl_cbor_put_str(&e, "requested_state");
	pl_cbor_put_str(&e, f->requested_state);
	return pl_cbor_enc_finish(&e, out, len);
}

int pl_request_decode(const uint8_t *buf, size_t len, pl_request *out, pl_form_errors *errs)
{
	pl_form_errors local, values;
	pl_form_errors *l = errs_begin(errs, &local);
	if (!out)
		return pl_err_fail(PL_ERR_INVALID, "no output given");
	memset(out, 0, sizeof(*out));
	pl_cbor *root;
	if (!dec_open(buf, len, PL_FORM_SCHEMA_REQUEST, l, &root))
		return pl_form_errors_result(l);
	dec d = {.map = root, .prefix = "", .l = l};
	int v;
	dec_unknown_keys(&d, request_keys, ARRAY_LEN(request_keys));
	if (dec_enum(&d, "type", &set_type, &v))
		out->type = (pl_request_type)v;
	dec_text(&d, "subject", false, out->subject, sizeof(out->subject), PL_REQUEST_SUBJECT_MAX);
	dec_text(&d, "summary", false, out->summary, sizeof(out->summary), PL_REQUEST_SUMMARY_MAX);
	dec_text(&d, "legal_basis", true, out->legal_basis, sizeof(out->legal_basis),
		 PL_REQUEST_LEGAL_BASIS_MAX);
	out->has_due = dec_int(&d, "due", true, &out->due);
	dec_text(&d, "requested_state", false, out->requested_state, sizeof(out->requested_state),
		 PL_NAME_MAX);
	pl_cbor_free(root);
	pl_form_errors_init(&values);
	request_check(out, &values);
	dec_merge_values(l, &values);
	int rc = pl_form_errors_result(l);
	if (rc)
		memset(out, 0, sizeof(*out));
	return rc;
}

/* ---------------------------------------------------------------- request-step */

static const char *const step_keys[] = {"to", "note", "schema"};

static void step_check(const pl_request_step *f, pl_form_errors *l)
{
	check_enum(l, "to", &set_step_to, (int)f->to);
	check_text(l, "note", f->note, sizeof(f->note), 0, PL_REQUEST_NOTE_MAX, TEXT_MULTI, false);
}

int pl_request_step_validate(const pl_request_step *f, pl_form_errors *errs)
{
	pl_form_errors local;
	pl_form_errors *l = errs_begin(errs, &local);
	if (!f)
		pl_form_errors_add(l, PL_ERR_INVALID, "", "no form given");
	else
		step_check(f, l);
	return pl_form_errors_result(l);
}

int pl_request_step_encode(const pl_request_step *f, pl_form_errors *errs, uint8_t **out,
			   size_t *len)
{
	if (!out || !len)
		return pl_err_fail(PL_ERR_INVALID, "no output given");
	*out = NULL;
	*len = 0;
	int rc = pl_request_step_validate(f, errs);
	if (rc)
		return rc;
	pl_cbor_enc e;
	pl_cbor_enc_init(&e);
	pl_cbor_put_map(&e, 3);
	pl_cbor_put_str(&e, "to");
	pl_cbor_put_str(&e, pl_request_status_name(f->to));
	pl_cbor_put_str(&e, "note");
	pl_cbor_put_str(&e, f->note);
	pl_cbor_put_str(&e, "schema");
	pl_cbor_put_str(&e, PL_FORM_SCHEMA_REQUEST_STEP);
	return pl_cbor_enc_finish(&e, out, len);
}

int pl_request_step_decode(const uint8_t *buf, size_t len, pl_request_step *out,
			   pl_form_errors *errs)
{
	pl_form_errors local, values;
	pl_form_errors *l = errs_begin(errs, &local);
	if (!out)
		return pl_err_fail(PL_ERR_INVALID, "no output given");
	memset(out, 0, sizeof(*out));
	pl_cbor *root;
	if (!dec_open(buf, len, PL_FORM_SCHEMA_REQUEST_STEP, l, &root))
		return pl_form_errors_result(l);
	dec d = {.map = root, .prefix = "", .l = l};
	int v;
	dec_unknown_keys(&d, step_keys, ARRAY_LEN(step_keys));
	if (dec_enum(&d, "to", &set_step_to, &v))
		out->to = (pl_request_status)v;
	dec_text(&d, "note", false, out->note, sizeof(out->note), PL_REQUEST_NOTE_MAX);
	pl_cbor_free(root);
	pl_form_errors_init(&values);
	step_check(out, &values);
	dec_merge_values(l, &values);
	int rc = pl_form_errors_result(l);
	if (rc)
		memset(out, 0, sizeof(*out));
	return rc;
}

/* ---------------------------------------------------------------- envelopes */

bool pl_form_kind_is_form(const char *kind)
{
	return kind && (strcmp(kind, PL_FORM_KIND_INCIDENT) == 0 ||
			strcmp(kind, PL_FORM_KIND_REQUEST) == 0 ||
			strcmp(kind, PL_FORM_KIND_REQUEST_STEP) == 0);
}

int pl_form_check_env(const pl_env *e, pl_form_errors *errs)
{
	if (!e) {
		pl_form_errors local;
		pl_form_errors *l = errs_begin(errs, &local);
		pl_form_errors_add(l, PL_ERR_INVALID, "", "no envelope given");
		return pl_form_errors_result(l);
	}
	if (strcmp(e->kind, PL_FORM_KIND_INCIDENT) == 0) {
		pl_incident *f = malloc(sizeof(*f));
		if (!f)
			return pl_err_fail(PL_ERR_NOMEM, "no memory for an incident form");
		int rc = pl_incident_decode(e->body, e->body_len, f, errs);
		free(f);
		return rc;
	}
	if (strcmp(e->kind, PL_FORM_KIND_REQUEST) == 0) {
		pl_request *f = malloc(sizeof(*f));
		if (!f)
			return pl_err_fail(PL_ERR_NOMEM, "no memory for a request form");
		int rc = pl_request_decode(e->body, e->body_len, f, errs);
		free(f);
		return rc;
	}
	if (strcmp(e->kind, PL_FORM_KIND_REQUEST_STEP) == 0) {
		pl_request_step f;
		pl_form_errors local;
		pl_form_errors *l = errs ? errs : &local;
		int rc = pl_request_step_decode(e->body, e->body_len, &f, l);
		if (!e->has_ref)
			pl_form_errors_add(l, PL_ERR_MALFORMED, "ref",
					   "a request-step must name its request envelope in ref");
		return rc ? rc : pl_form_errors_result(l);
	}
	if (errs)
		pl_form_errors_init(errs);
	return 0;
}

/* ---------------------------------------------------------------- workflow */

typedef struct arrow {
	pl_request_status from, to;
	bool by_requested;
} arrow;

static const arrow arrows[] = {
    {PL_REQUEST_SUBMITTED, PL_REQUEST_ACKNOWLEDGED, true},
    {PL_REQUEST_SUBMITTED, PL_REQUEST_WITHDRAWN, false},
    {PL_REQUEST_ACKNOWLEDGED, PL_REQUEST_UNDER_REVIEW, true},
    {PL_REQUEST_ACKNOWLEDGED, PL_REQUEST_WITHDRAWN, false},
    {PL_REQUEST_UNDER_REVIEW, PL_REQUEST_GRANTED, true},
    {PL_REQUEST_UNDER_REVIEW, PL_REQUEST_PARTIALLY_GRANTED, true},
    {PL_REQUEST_UNDER_REVIEW, PL_REQUEST_REFUSED, true},
    {PL_REQUEST_UNDER_REVIEW, PL_REQUEST_WITHDRAWN, false},
};

bool pl_request_status_is_final(pl_request_status s)
{
	return s == PL_REQUEST_GRANTED || s == PL_REQUEST_PARTIALLY_GRANTED ||
	       s == PL_REQUEST_REFUSED || s == PL_REQUEST_WITHDRAWN;
}

static const char *article(const char *word)
{
	return strchr("aeiou", word[0]) ? "an" : "a";
}

/* " (islamabad)" or "" when the name is not given or not a valid name. */
static void state_suffix(char *out, size_t cap, const char *name)
{
	if (name && pl_name_is_valid(name))
		snprintf(out, cap, " (%s)", name);
	else
		out[0] = '\0';
}

int pl_request_step_check(pl_request_status cur, pl_request_status to, bool by_requested_side,
			  const char *requesting_state, const char *requested_state)
{
	if ((int)cur < set_status.first || (int)cur > set_status.last)
		return pl_err_fail(PL_ERR_INVALID, "request status %d is not a status", (int)cur);
	if ((int)to < set_status.first || (int)to > set_status.last)
		return pl_err_fail(PL_ERR_INVALID, "request status %d is not a status", (int)to);
	const char *cn = status_names[cur];
	if (pl_request_status_is_final(cur))
		return pl_err_fail(PL_ERR_TRANSITION, "%s %s request is final", article(cn), cn);
	const arrow *a = NULL;
	char next[160];
	size_t at = 0;
	next[0] = '\0';
	for (size_t i = 0; i < ARRAY_LEN(arrows); i++) {
		if (arrows[i].from != cur)
			continue;
		if (arrows[i].to == to)
			a = &arrows[i];
		int k = snprintf(next + at, sizeof(next) - at, "%s%s", at ? ", " : "",
				 status_names[arrows[i].to]);
		if (k > 0 && (size_t)k < sizeof(next) - at)
			at += (size_t)k;
	}
	if (!a)
		return pl_err_fail(PL_ERR_TRANSITION, "%s %s request cannot become %s (next: %s)",
				   article(cn), cn, status_names[to], next);
	if (a->by_requested != by_requested_side) {
		char who[PL_NAME_MAX + 4];
		state_suffix(who, sizeof(who),
			     a->by_requested ? requested_state : requesting_state);
		return pl_err_fail(PL_ERR_WRONG_STATE, "only the %s state%s may %s",
				   a->by_requested ? "requested" : "requesting", who,
				   status_verbs[to]);
	}
	pl_err_clear_detail();
	return 0;
}
