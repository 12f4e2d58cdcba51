/* SPDX-License-Identifier: Apache-2.0 */
/*
 * JSON forms (form_json.h): reading a jansson object into a form struct,
 * reporting every bad field, and writing a struct as JSON.
 *
 * Reading checks the JSON shape here (unknown, missing and mistyped keys,
 * text lengths, degrees and times) and leaves the value rules to
 * libparley's pl_*_validate(), whose failures are merged in for the fields
 * not already reported, so the rules live in one place.
 *
 * Divisions: degrees; reading helpers; incident; request; request-step;
 * errors.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "form_json.h"
#include "parley/err.h"
#include "parley/forms.h"
#include "parley/time.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---------------------------------------------------------------- degrees */

void form_json_format_degrees(char out[FORM_DEGREES_LEN], int64_t micro)
{
	/* Through uint64_t, so that INT64_MIN has a magnitude too. */
	uint64_t m = micro < 0 ? (uint64_t)0 - (uint64_t)micro : (uint64_t)micro;
	snprintf(out, FORM_DEGREES_LEN, "%s%" PRIu64 ".%06" PRIu64, micro < 0 ? "-" : "",
		 m / 1000000, m % 1000000);
}

/* "-?D{1,3}(.D{1,6})?" exactly, to micro-degrees. */
static int degrees_from_text(const char *s, int64_t *micro, char *why, size_t whycap)
{
	const char *p = s;
	bool neg = *p == '-';
	if (neg)
		p++;
	int64_t whole = 0, frac = 0;
	int nd = 0, nf = 0;
	for (; *p >= '0' && *p <= '9'; p++, nd++)
		if (nd < 4)
			whole = whole * 10 + (*p - '0');
	if (*p == '.') {
		for (p++; *p >= '0' && *p <= '9'; p++, nf++)
			if (nf < 6)
				frac = frac * 10 + (*p - '0');
		if (nf == 0) {
			snprintf(why, whycap, "must have digits after the decimal point");
			return PL_ERR_INVALID;
		}
	}
	if (nd == 0 || *p != '\0') {
		snprintf(why, whycap, "must be decimal degrees such as \"33.6934\" or \"-73.05\"");
		return PL_ERR_INVALID;
	}
	if (nf > 6) {
		snprintf(why, whycap, "has %d decimals; at most 6 (micro-degrees)", nf);
		return PL_ERR_INVALID;
	}
	if (nd > 3) {
		snprintf(why, whycap, "is out of range (degrees: -180..180)");
		return PL_ERR_INVALID;
	}
	for (int i = nf; i < 6; i++)
		frac *= 10;
	int64_t v = whole * 1000000 + frac;
	*micro = neg ? -v : v;
	return 0;
}

int form_json_parse_degrees(const json_t *v, int64_t *micro, char *why, size_t whycap)
{
	if (json_is_string(v)) {
		if (strlen(json_string_value(v)) != json_string_length(v)) {
			snprintf(why, whycap, "holds a NUL character");
			return PL_ERR_INVALID;
		}
		return degrees_from_text(json_string_value(v), micro, why, whycap);
	}
	if (json_is_integer(v)) {
		json_int_t d = json_integer_value(v);
		if (d < -1000 || d > 1000) {
			snprintf(why, whycap, "is out of range (degrees: -180..180)");
			return PL_ERR_INVALID;
		}
		*micro = (int64_t)d * 1000000;
		return 0;
	}
	if (json_is_real(v)) {
		double d = json_real_value(v);
		/* Also refuses NaN. */
		if (!(d >= -1000.0 && d <= 1000.0)) {
			snprintf(why, whycap, "is out of range (degrees: -180..180)");
			return PL_ERR_INVALID;
		}
		double x = d * 1e6;
		int64_t m = (int64_t)(x < 0 ? x - 0.5 : x + 0.5);
		/*
		 * m / 1e6 is correctly rounded, so it equals d exactly when d is
		 * the double nearest to a decimal of at most 6 decimals: then m
		 * is that decimal, read exactly.
		 */
		if ((double)m / 1e6 != d) {
			snprintf(why, whycap,
				 "has more than 6 decimals (give at most 6, or a string)");
			return PL_ERR_INVALID;
		}
		*micro = m;
		return 0;
	}
	snprintf(why, whycap, "must be decimal degrees: a string such as \"33.6934\" or a number");
	return PL_ERR_INVALID;
}

/* ---------------------------------------------------------------- reading helpers */

typedef struct jr {
	const json_t *obj;
	const char *prefix; /* "" or "casualties." */
	pl_form_errors *l;
	int64_t now;
} jr;

static void jr_path(const jr *r, const char *key, char *out, size_t cap)
{
	snprintf(out, cap, "%s%s", r->prefix, key);
}

static void jr_fail(jr *r, int code, const char *key, const char *text)
{
	char path[PL_FORM_FIELD_MAX + 1];
	jr_path(r, key, path, sizeof(path));
	pl_form_errors_add(r->l, code, path, "%s", text);
}

/* The member under key; null counts as absent.  NULL when absent
 * (reported unless optional). */
static const json_t *jr_get(jr *r, const char *key, bool optional)
{
	const json_t *v = json_object_get(r->obj, key);
	if (json_is_null(v))
		v = NULL;
	if (!v && !optional)
		jr_fail(r, PL_ERR_INVALID, key, "is missing");
	return v;
}

static bool jr_int(jr *r, const char *key, bool optional, int64_t *out)
{
	const json_t *v = jr_get(r, key, optional);
	if (!v)
		return false;
	if (!json_is_integer(v)) {
		jr_fail(r, PL_ERR_INVALID, key, "must be an integer");
		return false;
	}
	*out = (int64_t)json_integer_value(v);
	return true;
}

/* A time: integer Unix seconds, or text pl_time_parse() reads. */
static bool jr_time(jr *r, const char *key, bool optional, int64_t *out)
{
	const json_t *v = jr_get(r, key, optional);
	if (!v)
		return false;
	if (json_is_integer(v)) {
		*out = (int64_t)json_integer_value(v);
		return true;
	}
	if (json_is_string(v) && strlen(json_string_value(v)) == json_string_length(v)) {
		if (pl_time_parse(json_string_value(v), r->now, out) == 0)
			return true;
	}
	jr_fail(r, PL_ERR_INVALID, key,
		"must be Unix seconds, \"YYYY-MM-DDTHH:MM:SSZ\", \"YYYY-MM-DD\" or an offset "
		"such as \"-2h\"");
	return false;
}

static bool jr_text(jr *r, const char *key, bool optional, char *buf, size_t cap, size_t max)
{
	const json_t *v = jr_get(r, key, optional);
	if (!v)
		return false;
	if (!json_is_string(v)) {
		jr_fail(r, PL_ERR_INVALID, key, "must be a string");
		return false;
	}
	size_t n = json_string_length(v);
	const char *s = json_string_value(v);
	char text[96];
	if (n > max || n >= cap) {
		snprintf(text, sizeof(text), "must be at most %zu bytes (got %zu)", max, n);
		jr_fail(r, PL_ERR_LIMIT, key, text);
		return false;
	}
	if (strlen(s) != n) {
		snprintf(text, sizeof(text), "holds control character U+0000 at byte %zu",
			 strlen(s));
		jr_fail(r, PL_ERR_INVALID, key, text);
		return false;
	}
	if (optional && n == 0) {
		jr_fail(r, PL_ERR_INVALID, key, "must not be empty when present (leave it out)");
		return false;
	}
	memcpy(buf, s, n + 1);
	return true;
}

/* The string under key for an enumeration parser, or NULL. */
static const char *jr_name(jr *r, const char *key)
{
	const json_t *v = jr_get(r, key, false);
	if (!v)
		return NULL;
	if (!json_is_string(v)) {
		jr_fail(r, PL_ERR_INVALID, key, "must be a string");
		return NULL;
	}
	return json_string_value(v);
}

/* Report a failed enumeration parse with the parser's detail. */
static void jr_name_failed(jr *r, const char *key)
{
	jr_fail(r, PL_ERR_INVALID, key, pl_err_detail());
}

static bool jr_degrees(jr *r, const char *key, int64_t *out)
{
	const json_t *v = jr_get(r, key, false);
	if (!v)
		return false;
	char why[96];
	if (form_json_parse_degrees(v, out, why, sizeof(why)) != 0) {
		jr_fail(r, PL_ERR_INVALID, key, why);
		return false;
	}
	return true;
}

/* Report keys of r->obj not in keys[]; "schema", when listed and present,
 * must be `schema`.  false when r->obj is not an object. */
static bool jr_begin(jr *r, const char *const *keys, size_t nkeys, const char *schema)
{
	if (!json_is_object(r->obj)) {
		char path[PL_FORM_FIELD_MAX + 1];
		jr_path(r, "", path, sizeof(path));
		size_t n = strlen(path);
		if (n)
			path[n - 1] = '\0';
		pl_form_errors_add(r->l, PL_ERR_INVALID, path, "must be a JSON object");
		return false;
	}
	const char *key;
	const json_t *v;
	json_object_foreach((json_t *)r->obj, key, v)
	{
		bool known = false;
		for (size_t i = 0; i < nkeys && !known; i++)
			known = strcmp(key, keys[i]) == 0;
		if (known)
			continue;
		char name[PL_FORM_FIELD_MAX + 1];
		size_t k = 0;
		for (const char *p = key; *p && k + 1 < sizeof(name); p++)
			name[k++] = (*p > 0x20 && *p < 0x7f) ? *p : '?';
		name[k] = '\0';
		jr_fail(r, PL_ERR_INVALID, name, "unknown key");
	}
	if (schema) {
		const json_t *s = json_object_get(r->obj, "schema");
		if (s && !(json_is_string(s) && strcmp(json_string_value(s), schema) == 0)) {
			char text[80];
			snprintf(text, sizeof(text), "must be \"%s\" (or left out)", schema);
			jr_fail(r, PL_ERR_INVALID, "schema", text);
		}
	}
	return true;
}

/* ---------------------------------------------------------------- incident */

static const char *const incident_keys[] = {"schema",
					    "time",
					    "lat",
					    "lon",
					    "datum",
					    "place",
					    "category",
					    "severity",
					    "casualties",
					    "description",
					    "requested_action",
					    "ref_id"};
static const char *const casualty_keys[] = {"killed", "injured", "missing"};

static void read_casualties(jr *top, pl_casualties *c)
{
	const json_t *v = jr_get(top, "casualties", false);
	if (!v)
		return;
	jr r = {.obj = v, .prefix = "casualties.", .l = top->l, .now = top->now};
	if (!jr_begin(&r, casualty_keys, ARRAY_LEN(casualty_keys), NULL))
		return;
	c->has_killed = jr_int(&r, "killed", true, &c->killed);
	c->has_injured = jr_int(&r, "injured", true, &c->injured);
	c->has_missing = jr_int(&r, "missing", true, &c->missing);
}

int form_json_to_incident(const json_t *j, int64_t now, pl_incident *out, pl_form_errors *errs)
{
	pl_form_errors local, values;
	pl_form_errors *l = errs ? errs : &local;
	pl_form_errors_init(l);
	memset(out, 0, sizeof(*out));
	jr r = {.obj = j, .prefix = "", .l = l, .now = now};
	if (jr_begin(&r, incident_keys, ARRAY_LEN(incident_keys), PL_FORM_SCHEMA_INCIDENT)) {
		const char *s;
		jr_time(&r, "time", false, &out->time);
		jr_degrees(&r, "lat", &out->lat);
		jr_degrees(&r, "lon", &out->lon);
		s = jr_name(&r, "datum");
		if (s && pl_datum_parse(s, &out->datum) != 0)
			jr_name_failed(&r, "datum");
		jr_text(&r, "place", false, out->place, sizeof(out->place), PL_INCIDENT_PLACE_MAX);
		s = jr_name(&r, "category");
		if (s && pl_incident_category_parse(s, &out->category) != 0)
			jr_name_failed(&r, "category");
		jr_int(&r, "severity", false, &out->severity);
		read_casualties(&r, &out->casualties);
		jr_text(&r, "description", false, out->description, sizeof(out->description),
			PL_INCIDENT_DESCRIPTION_MAX);
		jr_text(&r, "requested_action", true, out->requested_action,
			sizeof(out->requested_action), PL_INCIDENT_ACTION_MAX);
		jr_text(&r, "ref_id", true, out->ref_id, sizeof(out->ref_id),
			PL_INCIDENT_REF_ID_MAX);
		if (pl_incident_validate(out, &values) != 0)
			pl_form_errors_merge(l, &values); /* fields not yet reported */
	}
	int rc = pl_form_errors_result(l);
	if (rc)
		memset(out, 0, sizeof(*out));
	return rc;
}

/* ---------------------------------------------------------------- request */

static const char *const request_keys[] = {"schema",      "type", "subject",        "summary",
					   "legal_basis", "due",  "requested_state"};

int form_json_to_request(const json_t *j, int64_t now, pl_request *out, pl_form_errors *errs)
{
	pl_form_errors local, values;
	pl_form_errors *l = errs ? errs : &local;
	pl_form_errors_init(l);
	memset(out, 0, sizeof(*out));
	jr r = {.obj = j, .prefix = "", .l = l, .now = now};
	if (jr_begin(&r, request_keys, ARRAY_LEN(request_keys), PL_FORM_SCHEMA_REQUEST)) {
		const char *s = jr_name(&r, "type");
		if (s && pl_request_type_parse(s, &out->type) != 0)
			jr_name_failed(&r, "type");
		jr_text(&r, "subject", false, out->subject, sizeof(out->subject),
			PL_REQUEST_SUBJECT_MAX);
		jr_text(&r, "summary", false, out->summary, sizeof(out->summary),
			PL_REQUEST_SUMMARY_MAX);
		jr_text(&r, "legal_basis", true, out->legal_basis, sizeof(out->legal_basis),
			PL_REQUEST_LEGAL_BASIS_MAX);
		out->has_due = jr_time(&r, "due", true, &out->due);
		jr_text(&r, "requested_state", false, out->requested_state,
			sizeof(out->requested_state), PL_NAME_MAX);
		if (pl_request_validate(out, &values) != 0)
			pl_form_errors_merge(l, &values); /* fields not yet reported */
	}
	int rc = pl_form_errors_result(l);
	if (rc)
		memset(out, 0, sizeof(*out));
	return rc;
}

/* ---------------------------------------------------------------- request-step */

static const char *const step_keys[] = {"schema", "to", "note"};

int form_json_to_request_step(const json_t *j, pl_request_step *out, pl_form_errors *errs)
{
	pl_form_errors local, values;
	pl_form_errors *l = errs ? errs : &local;
	pl_form_errors_init(l);
	memset(out, 0, sizeof(*out));
	jr r = {.obj = j, .prefix = "", .l = l, .now = 0};
	if (jr_begin(&r, step_keys, ARRAY_LEN(step_keys), PL_FORM_SCHEMA_REQUEST_STEP)) {
		const char *s = jr_name(&r, "to");
		if (s && pl_request_status_parse(s, &out->to) != 0)
			jr_name_failed(&r, "to");
		jr_text(&r, "note", false, out->note, sizeof(out->note), PL_REQUEST_NOTE_MAX);
		if (pl_request_step_validate(out, &values) != 0)
			pl_form_errors_merge(l, &values); /* fields not yet reported */
	}
	int rc = pl_form_errors_result(l);
	if (rc)
		memset(out, 0, sizeof(*out));
	return rc;
}

/* ---------------------------------------------------------------- writing */

/* Set o[key] = v (taken); remembers any failure in *ok. */
static void put(json_t *o, const char *key, json_t *v, bool *ok)
{
	if (!v || json_object_set_new(o, key, v) != 0)
		*ok = false;
}

static json_t *done(json_t *o, bool ok)
{
	if (ok)
		return o;
	json_decref(o);
	return NULL;
}

json_t *form_json_from_incident(const pl_incident *f)
{
	json_t *o = json_object(), *c = json_object();
	bool ok = o && c;
	char lat[FORM_DEGREES_LEN], lon[FORM_DEGREES_LEN];
	if (!ok) {
		json_decref(o);
		json_decref(c);
		return NULL;
	}
	form_json_format_degrees(lat, f->lat);
	form_json_format_degrees(lon, f->lon);
	put(o, "schema", json_string(PL_FORM_SCHEMA_INCIDENT), &ok);
	put(o, "time", json_integer(f->time), &ok);
	put(o, "lat", json_string(lat), &ok);
	put(o, "lon", json_string(lon), &ok);
	put(o, "datum", json_string(pl_datum_name(f->datum)), &ok);
	put(o, "place", json_string(f->place), &ok);
	put(o, "category", json_string(pl_incident_category_name(f->category)), &ok);
	put(o, "severity", json_integer(f->severity), &ok);
	if (f->casualties.has_killed)
		put(c, "killed", json_integer(f->casualties.killed), &ok);
	if (f->casualties.has_injured)
		put(c, "injured", json_integer(f->casualties.injured), &ok);
	if (f->casualties.has_missing)
		put(c, "missing", json_integer(f->casualties.missing), &ok);
	put(o, "casualties", c, &ok);
	put(o, "description", json_string(f->description), &ok);
	if (f->requested_action[0])
		put(o, "requested_action", json_string(f->requested_action), &ok);
	if (f->ref_id[0])
		put(o, "ref_id", json_string(f->ref_id), &ok);
	return done(o, ok);
}

json_t *form_json_from_request(const pl_request *f)
{
	json_t *o = json_object();
	bool ok = o != NULL;
	if (!ok)
		return NULL;
	put(o, "schema", json_string(PL_FORM_SCHEMA_REQUEST), &ok);
	put(o, "type", json_string(pl_request_type_name(f->type)), &ok);
	put(o, "subject", json_string(f->subject), &ok);
	put(o, "summary", json_string(f->summary), &ok);
	if (f->legal_basis[0])
		put(o, "legal_basis", json_string(f->legal_basis), &ok);
	if (f->has_due)
		put(o, "due", json_integer(f->due), &ok);
	put(o, "requested_state", json_string(f->requested_state), &ok);
	return done(o, ok);
}

json_t *form_json_from_request_step(const pl_request_step *f)
{
	json_t *o = json_object();
	bool ok = o != NULL;
	if (!ok)
		return NULL;
	put(o, "schema", json_string(PL_FORM_SCHEMA_REQUEST_STEP), &ok);
	put(o, "to", json_string(pl_request_status_name(f->to)), &ok);
	put(o, "note", json_string(f->note), &ok);
	return done(o, ok);
}

/* ---------------------------------------------------------------- errors */

json_t *form_json_errors(const pl_form_errors *errs)
{
	json_t *a = json_array();
	if (!a)
		return NULL;
	bool ok = true;
	for (size_t i = 0; i < errs->n && ok; i++) {
		const pl_form_error *e = &errs->e[i];
		json_t *o = json_pack("{s:s,s:s,s:s}", "field", e->field, "error",
				      pl_err_name(e->code), "message", e->msg);
		ok = o && json_array_append_new(a, o) == 0;
	}
	if (ok && errs->more) {
		char msg[64];
		snprintf(msg, sizeof(msg), "%zu more errors not listed", errs->more);
		json_t *o = json_pack("{s:s,s:s,s:s}", "field", "", "error",
				      pl_err_name(PL_ERR_LIMIT), "message", msg);
		ok = o && json_array_append_new(a, o) == 0;
	}
	return done(a, ok);
}
