/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lib/channel forms: the incident, request and request-step bodies and the
 * request workflow (include/parley/forms.h).
 *
 * Known-answer bytes were computed independently of this code with Python
 * (cbor2 5.4, dumps(..., canonical=True)) from the dictionaries given next
 * to each vector.  Bad inputs are built with a small canonical map builder
 * of this file (keys sorted generically, not in the library's hand-written
 * order), so that each case is wrong in exactly one field; each asserts the
 * code, the field and, where the wording matters, the message.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "parley/channel.h"
#include "parley/codec.h"
#include "parley/err.h"
#include "parley/forms.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---------------------------------------------------------------- helpers */

static size_t unhex(uint8_t *out, size_t cap, const char *hex)
{
	size_t n = strlen(hex) / 2;
	assert_true(n <= cap);
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		char b[3] = {hex[2 * i], hex[2 * i + 1], 0};
		v = (unsigned)strtoul(b, NULL, 16);
		out[i] = (uint8_t)v;
	}
	return n;
}

/* A string of n copies of c (static buffer, one at a time per slot). */
static const char *rep(int slot, char c, size_t n)
{
	static char buf[2][20000];
	assert_true(n < sizeof(buf[0]));
	memset(buf[slot], c, n);
	buf[slot][n] = '\0';
	return buf[slot];
}

/* A map entry for the builder: an integer, a text, a pre-encoded item or
 * a nested list of entries. */
enum { V_INT, V_TEXT, V_RAW, V_MAP, V_BOOL };
typedef struct kv {
	const char *k;
	int t;
	int64_t i;
	const char *s;
	size_t slen; /* for V_TEXT with embedded NULs; 0 means strlen */
	const struct kv *sub;
	size_t nsub;
	const uint8_t *raw;
	size_t rawlen;
} kv;

#define KV_MAX 64

static int kv_cmp(const void *a, const void *b)
{
	const kv *x = a, *y = b;
	size_t lx = strlen(x->k), ly = strlen(y->k);
	if (lx != ly)
		return lx < ly ? -1 : 1;
	return memcmp(x->k, y->k, lx);
}

static void put_map(pl_cbor_enc *e, const kv *items, size_t n)
{
	kv sorted[KV_MAX];
	assert_true(n <= KV_MAX);
	memcpy(sorted, items, n * sizeof(kv));
	qsort(sorted, n, sizeof(kv), kv_cmp);
	pl_cbor_put_map(e, n);
	for (size_t i = 0; i < n; i++) {
		const kv *it = &sorted[i];
		pl_cbor_put_str(e, it->k);
		switch (it->t) {
		case V_INT:
			pl_cbor_put_int(e, it->i);
			break;
		case V_TEXT:
			pl_cbor_put_text(e, it->s, it->slen ? it->slen : strlen(it->s));
			break;
		case V_RAW:
			pl_cbor_put_raw(e, it->raw, it->rawlen);
			break;
		case V_MAP:
			put_map(e, it->sub, it->nsub);
			break;
		case V_BOOL:
			pl_cbor_put_bool(e, it->i != 0);
			break;
		}
	}
}

typedef struct blob {
	uint8_t *p;
	size_t n;
} blob;

static blob enc_map(const kv *items, size_t n)
{
	pl_cbor_enc e;
	blob b;
	pl_cbor_enc_init(&e);
	put_map(&e, items, n);
	assert_int_equal(pl_cbor_enc_finish(&e, &b.p, &b.n), 0);
	return b;
}

/* A list of entries that can be edited: set (replace or add) and drop. */
typedef struct kvlist {
	kv it[KV_MAX];
	size_t n;
	kv cas[4]; /* the casualties sub-map */
	size_t ncas;
} kvlist;

static void kv_set(kvlist *l, kv v)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->it[i].k, v.k) == 0) {
			l->it[i] = v;
			return;
		}
	assert_true(l->n < KV_MAX);
	l->it[l->n++] = v;
}

static void kv_drop(kvlist *l, const char *k)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->it[i].k, k) == 0) {
			l->it[i] = l->it[--l->n];
			return;
		}
	fail_msg("no key %s to drop", k);
}

static kv I(const char *k, int64_t v)
{
	return (kv){.k = k, .t = V_INT, .i = v};
}

static kv S(const char *k, const char *s)
{
	return (kv){.k = k, .t = V_TEXT, .s = s};
}

/* ---------------------------------------------------------------- fixtures */

static void sample_incident(pl_incident *f)
{
	memset(f, 0, sizeof(*f));
	f->time = 1800000000;
	f->lat = 33693400;
	f->lon = -73050000;
	f->datum = PL_DATUM_WGS84;
	strcpy(f->place, "Torkham crossing");
	f->category = PL_INCIDENT_CROSS_BORDER_FIRE;
	f->severity = 3;
	f->casualties.has_killed = true;
	f->casualties.killed = 0;
	f->casualties.has_injured = true;
	f->casualties.injured = 2;
	strcpy(f->description, "Small-arms fire from the ridge.\nTwo guards hurt.");
	strcpy(f->requested_action, "Joint inquiry.");
	strcpy(f->ref_id, "TKM-2027-014");
}

/* The entries of an incident, written by this test, not by the library. */
static void incident_kv(const pl_incident *f, kvlist *l)
{
	memset(l, 0, sizeof(*l));
	const pl_casualties *c = &f->casualties;
	if (c->has_killed)
		l->cas[l->ncas++] = I("killed", c->killed);
	if (c->has_injured)
		l->cas[l->ncas++] = I("injured", c->injured);
	if (c->has_missing)
		l->cas[l->ncas++] = I("missing", c->missing);
	kv_set(l, S("schema", PL_FORM_SCHEMA_INCIDENT));
	kv_set(l, I("time", f->time));
	kv_set(l, I("lat", f->lat));
	kv_set(l, I("lon", f->lon));
	kv_set(l, S("datum", pl_datum_name(f->datum)));
	kv_set(l, S("place", f->place));
	kv_set(l, S("category", pl_incident_category_name(f->category)));
	kv_set(l, I("severity", f->severity));
	kv_set(l, (kv){.k = "casualties", .t = V_MAP, .sub = l->cas, .nsub = l->ncas});
	kv_set(l, S("description", f->description));
	if (f->requested_action[0])
		kv_set(l, S("requested_action", f->requested_action));
	if (f->ref_id[0])
		kv_set(l, S("ref_id", f->ref_id));
}

static void sample_request(pl_request *f)
{
	memset(f, 0, sizeof(*f));
	f->type = PL_REQUEST_EXTRADITION;
	strcpy(f->subject, "A. Khan");
	strcpy(f->summary, "Wanted for trial.");
	f->has_due = true;
	f->due = 1802592000;
	strcpy(f->requested_state, "islamabad");
}

static void request_kv(const pl_request *f, kvlist *l)
{
	memset(l, 0, sizeof(*l));
	kv_set(l, S("schema", PL_FORM_SCHEMA_REQUEST));
	kv_set(l, S("type", pl_request_type_name(f->type)));
	kv_set(l, S("subject", f->subject));
	kv_set(l, S("summary", f->summary));
	if (f->legal_basis[0])
		kv_set(l, S("legal_basis", f->legal_basis));
	if (f->has_due)
		kv_set(l, I("due", f->due));
	kv_set(l, S("requested_state", f->requested_state));
}

static void step_kv(const pl_request_step *f, kvlist *l)
{
	memset(l, 0, sizeof(*l));
	kv_set(l, S("schema", PL_FORM_SCHEMA_REQUEST_STEP));
	kv_set(l, S("to", pl_request_status_name(f->to)));
	kv_set(l, S("note", f->note));
}

static void incident_equal(const pl_incident *a, const pl_incident *b)
{
	assert_int_equal(a->time, b->time);
	assert_int_equal(a->lat, b->lat);
	assert_int_equal(a->lon, b->lon);
	assert_int_equal(a->datum, b->datum);
	assert_string_equal(a->place, b->place);
	assert_int_equal(a->category, b->category);
	assert_int_equal(a->severity, b->severity);
	assert_int_equal(a->casualties.has_killed, b->casualties.has_killed);
	assert_int_equal(a->casualties.has_injured, b->casualties.has_injured);
	assert_int_equal(a->casualties.has_missing, b->casualties.has_missing);
	assert_int_equal(a->casualties.killed, b->casualties.killed);
	assert_int_equal(a->casualties.injured, b->casualties.injured);
	assert_int_equal(a->casualties.missing, b->casualties.missing);
	assert_string_equal(a->description, b->description);
	assert_string_equal(a->requested_action, b->requested_action);
	assert_string_equal(a->ref_id, b->ref_id);
}

static void request_equal(const pl_request *a, const pl_request *b)
{
	assert_int_equal(a->type, b->type);
	assert_string_equal(a->subject, b->subject);
	assert_string_equal(a->summary, b->summary);
	assert_string_equal(a->legal_basis, b->legal_basis);
	assert_int_equal(a->has_due, b->has_due);
	assert_int_equal(a->due, b->due);
	assert_string_equal(a->requested_state, b->requested_state);
}

static bool all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

/* ---------------------------------------------------------------- expectations */

/*
 * The first error of errs is `code` on `field`; the thread's detail is its
 * message.  With want_msg, the message is exactly that.
 */
static void first_error(const pl_form_errors *errs, int code, const char *field,
			const char *want_msg)
{
	assert_true(errs->n >= 1);
	assert_int_equal(errs->e[0].code, code);
	assert_string_equal(errs->e[0].field, field);
	assert_string_equal(pl_err_detail(), errs->e[0].msg);
	if (want_msg)
		assert_string_equal(errs->e[0].msg, want_msg);
}

/*
 * Validate f (vcode), then encode it with the test's builder and decode
 * (dcode).  A form that passes both must come back equal, and the library
 * must encode it to exactly the builder's bytes.
 */
static void try_incident(const pl_incident *f, int vcode, int dcode, const char *field)
{
	pl_form_errors errs;
	int rc = pl_incident_validate(f, &errs);
	assert_int_equal(rc, vcode);
	if (vcode)
		first_error(&errs, vcode, field, NULL);
	else
		assert_int_equal(errs.n, 0);
	kvlist l;
	incident_kv(f, &l);
	blob b = enc_map(l.it, l.n);
	pl_incident *g = malloc(sizeof(*g));
	assert_non_null(g);
	rc = pl_incident_decode(b.p, b.n, g, &errs);
	assert_int_equal(rc, dcode);
	if (dcode) {
		first_error(&errs, dcode, field, NULL);
		assert_true(all_zero(g, sizeof(*g)));
	} else {
		incident_equal(f, g);
		uint8_t *mine;
		size_t mlen;
		assert_int_equal(pl_incident_encode(f, NULL, &mine, &mlen), 0);
		assert_int_equal(mlen, b.n);
		assert_memory_equal(mine, b.p, b.n);
		free(mine);
	}
	free(g);
	free(b.p);
}

/* Decode the incident list l: code dcode, first failure on field. */
static void decode_incident_kv(const kvlist *l, int dcode, const char *field, const char *msg)
{
	blob b = enc_map(l->it, l->n);
	pl_incident *g = malloc(sizeof(*g));
	pl_form_errors errs;
	assert_non_null(g);
	int rc = pl_incident_decode(b.p, b.n, g, &errs);
	assert_int_equal(rc, dcode);
	if (dcode) {
		first_error(&errs, dcode, field, msg);
		assert_true(all_zero(g, sizeof(*g)));
	}
	free(g);
	free(b.p);
}

static void try_request(const pl_request *f, int vcode, int dcode, const char *field)
{
	pl_form_errors errs;
	int rc = pl_request_validate(f, &errs);
	assert_int_equal(rc, vcode);
	if (vcode)
		first_error(&errs, vcode, field, NULL);
	kvlist l;
	request_kv(f, &l);
	blob b = enc_map(l.it, l.n);
	pl_request g;
	rc = pl_request_decode(b.p, b.n, &g, &errs);
	assert_int_equal(rc, dcode);
	if (dcode) {
		first_error(&errs, dcode, field, NULL);
		assert_true(all_zero(&g, sizeof(g)));
	} else {
		request_equal(f, &g);
		uint8_t *mine;
		size_t mlen;
		assert_int_equal(pl_request_encode(f, NULL, &mine, &mlen), 0);
		assert_int_equal(mlen, b.n);
		assert_memory_equal(mine, b.p, b.n);
		free(mine);
	}
	free(b.p);
}

static void decode_request_kv(const kvlist *l, int dcode, const char *field, const char *msg)
{
	blob b = enc_map(l->it, l->n);
	pl_request g;
	pl_form_errors errs;
	int rc = pl_request_decode(b.p, b.n, &g, &errs);
	assert_int_equal(rc, dcode);
	if (dcode) {
		first_error(&errs, dcode, field, msg);
		assert_true(all_zero(&g, sizeof(g)));
	}
	free(b.p);
}

static void try_step(const pl_request_step *f, int vcode, int dcode, const char *field)
{
	pl_form_errors errs;
	assert_int_equal(pl_request_step_validate(f, &errs), vcode);
	if (vcode)
		first_error(&errs, vcode, field, NULL);
	kvlist l;
	step_kv(f, &l);
	blob b = enc_map(l.it, l.n);
	pl_request_step g;
	int rc = pl_request_step_decode(b.p, b.n, &g, &errs);
	assert_int_equal(rc, dcode);
	if (dcode) {
		first_error(&errs, dcode, field, NULL);
	} else {
		assert_int_equal(g.to, f->to);
		assert_string_equal(g.note, f->note);
	}
	free(b.p);
}

/* ---------------------------------------------------------------- known answers */

/* {"schema": "parley/incident/1", "time": 1800000000, "lat": 33693400,
 *  "lon": -73050000, "datum": "WGS84", "place": "Torkham crossing",
 *  "category": "cross-border-fire", "severity": 3,
 *  "casualties": {"killed": 0, "injured": 2},
 *  "description": "Small-arms fire from the ridge.\nTwo guards hurt.",
 *  "requested_action": "Joint inquiry.", "ref_id": "TKM-2027-014"} */
static const char kat_incident[] =
    "ac636c61741a02021ed8636c6f6e3a045aa78f6474696d651a6b49d20065646174756d6557475338346570"
    "6c61636570546f726b68616d2063726f7373696e67667265665f69646c544b4d2d323032372d3031346673"
    "6368656d61717061726c65792f696e636964656e742f316863617465676f72797163726f73732d626f7264"
    "65722d66697265687365766572697479036a63617375616c74696573a2666b696c6c65640067696e6a7572"
    "6564026b6465736372697074696f6e7830536d616c6c2d61726d7320666972652066726f6d207468652072"
    "696467652e0a54776f2067756172647320687572742e707265717565737465645f616374696f6e6e4a6f69"
    "6e7420696e71756972792e";
/* {"schema": "parley/request/1", "type": "extradition", "subject": "A. Khan",
 *  "summary": "Wanted for trial.", "due": 1802592000, "requested_state": "islamabad"} */
static const char kat_request[] =
    "a6636475651a6b715f0064747970656b6578747261646974696f6e66736368656d61707061726c65792f72"
    "6571756573742f31677375626a65637467412e204b68616e6773756d6d6172797157616e74656420666f72"
    "20747269616c2e6f7265717565737465645f73746174656969736c616d61626164";
/* {"schema": "parley/request-step/1", "to": "granted", "note": ""} */
static const char kat_step[] = "a362746f676772616e746564646e6f74656066736368656d61757061726c65"
			       "792f726571756573742d737465702f31";

static void test_known_answers(void **state)
{
	(void)state;
	uint8_t want[1024];
	uint8_t *got;
	size_t n, glen;

	pl_incident inc, back;
	sample_incident(&inc);
	n = unhex(want, sizeof(want), kat_incident);
	assert_int_equal(pl_incident_encode(&inc, NULL, &got, &glen), 0);
	assert_int_equal(glen, n);
	assert_memory_equal(got, want, n);
	free(got);
	assert_int_equal(pl_incident_decode(want, n, &back, NULL), 0);
	incident_equal(&inc, &back);

	pl_request req, rback;
	sample_request(&req);
	n = unhex(want, sizeof(want), kat_request);
	assert_int_equal(pl_request_encode(&req, NULL, &got, &glen), 0);
	assert_int_equal(glen, n);
	assert_memory_equal(got, want, n);
	free(got);
	assert_int_equal(pl_request_decode(want, n, &rback, NULL), 0);
	request_equal(&req, &rback);

	pl_request_step st = {.to = PL_REQUEST_GRANTED}, sback;
	n = unhex(want, sizeof(want), kat_step);
	assert_int_equal(pl_request_step_encode(&st, NULL, &got, &glen), 0);
	assert_int_equal(glen, n);
	assert_memory_equal(got, want, n);
	free(got);
	assert_int_equal(pl_request_step_decode(want, n, &sback, NULL), 0);
	assert_int_equal(sback.to, PL_REQUEST_GRANTED);
	assert_string_equal(sback.note, "");
}

/* ---------------------------------------------------------------- round trips */

static void test_round_trips(void **state)
{
	(void)state;
	pl_incident *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	/* Everything present, at its largest. */
	sample_incident(f);
	strcpy(f->place, rep(0, 'p', PL_INCIDENT_PLACE_MAX));
	strcpy(f->description, rep(0, 'd', PL_INCIDENT_DESCRIPTION_MAX));
	strcpy(f->requested_action, rep(0, 'a', PL_INCIDENT_ACTION_MAX));
	strcpy(f->ref_id, rep(0, 'r', PL_INCIDENT_REF_ID_MAX));
	f->casualties = (pl_casualties){true, true, true, PL_INCIDENT_CASUALTIES_MAX, 7, 1};
	try_incident(f, 0, 0, NULL);
	/* Nothing optional, empty casualties, non-ASCII text. */
	sample_incident(f);
	f->requested_action[0] = '\0';
	f->ref_id[0] = '\0';
	memset(&f->casualties, 0, sizeof(f->casualties));
	strcpy(f->place, "\xd8\xb7\xd9\x88\xd8\xb1\xd8\xae\xd9\x85"); /* Torkham in Arabic script */
	strcpy(f->description, "line one\n\tindented\nline three");
	try_incident(f, 0, 0, NULL);
	free(f);

	pl_request r;
	sample_request(&r);
	strcpy(r.legal_basis, "Treaty of 2026, art. 4.\nSee annex.");
	try_request(&r, 0, 0, NULL);
	r.has_due = false;
	r.due = 0;
	r.legal_basis[0] = '\0';
	try_request(&r, 0, 0, NULL);

	for (int to = PL_REQUEST_ACKNOWLEDGED; to <= PL_REQUEST_WITHDRAWN; to++) {
		pl_request_step s = {.to = (pl_request_status)to};
		strcpy(s.note, to % 2 ? "with a note\nof two lines" : "");
		try_step(&s, 0, 0, NULL);
	}
}

/* ---------------------------------------------------------------- incident bounds */

static void test_incident_numbers(void **state)
{
	(void)state;
	pl_incident *f = malloc(sizeof(*f));
	assert_non_null(f);
	const struct {
		const char *field;
		int64_t lo, hi;
	} cases[] = {
	    {"time", 0, PL_FORM_TIME_MAX},
	    {"lat", -PL_INCIDENT_LAT_MAX, PL_INCIDENT_LAT_MAX},
	    {"lon", -PL_INCIDENT_LON_MAX, PL_INCIDENT_LON_MAX},
	    {"severity", 1, 5},
	    {"casualties.killed", 0, PL_INCIDENT_CASUALTIES_MAX},
	    {"casualties.injured", 0, PL_INCIDENT_CASUALTIES_MAX},
	    {"casualties.missing", 0, PL_INCIDENT_CASUALTIES_MAX},
	};
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		const int64_t values[4] = {cases[i].lo, cases[i].hi, cases[i].lo - 1,
					   cases[i].hi + 1};
		for (int j = 0; j < 4; j++) {
			sample_incident(f);
			int64_t *p = NULL;
			const char *fl = cases[i].field;
			if (strcmp(fl, "time") == 0)
				p = &f->time;
			else if (strcmp(fl, "lat") == 0)
				p = &f->lat;
			else if (strcmp(fl, "lon") == 0)
				p = &f->lon;
			else if (strcmp(fl, "severity") == 0)
				p = &f->severity;
			else if (strcmp(fl, "casualties.killed") == 0)
				p = &f->casualties.killed;
			else if (strcmp(fl, "casualties.injured") == 0)
				p = &f->casualties.injured, f->casualties.has_injured = true;
			else
				p = &f->casualties.missing, f->casualties.has_missing = true;
			*p = values[j];
			bool in = j < 2;
			try_incident(f, in ? 0 : PL_ERR_INVALID, in ? 0 : PL_ERR_MALFORMED, fl);
		}
	}
	/* The exact wording of one. */
	sample_incident(f);
	f->severity = 7;
	pl_form_errors errs;
	assert_int_equal(pl_incident_validate(f, &errs), PL_ERR_INVALID);
	first_error(&errs, PL_ERR_INVALID, "severity", "field 'severity': must be 1..5 (got 7)");
	assert_int_equal(errs.n, 1);
	free(f);
}

static void test_incident_enums(void **state)
{
	(void)state;
	pl_incident *f = malloc(sizeof(*f));
	assert_non_null(f);
	for (int d = PL_DATUM_WGS84; d <= PL_DATUM_KALIANPUR_1962; d++) {
		sample_incident(f);
		f->datum = (pl_datum)d;
		try_incident(f, 0, 0, NULL);
	}
	for (int c = PL_INCIDENT_ARMED_INCURSION; c <= PL_INCIDENT_OTHER; c++) {
		sample_incident(f);
		f->category = (pl_incident_category)c;
		try_incident(f, 0, 0, NULL);
	}
	sample_incident(f);
	f->datum = (pl_datum)0;
	assert_int_equal(pl_incident_validate(f, NULL), PL_ERR_INVALID);
	f->datum = (pl_datum)(PL_DATUM_KALIANPUR_1962 + 1);
	assert_int_equal(pl_incident_validate(f, NULL), PL_ERR_INVALID);
	sample_incident(f);
	f->category = (pl_incident_category)(PL_INCIDENT_OTHER + 1);
	pl_form_errors errs;
	assert_int_equal(pl_incident_validate(f, &errs), PL_ERR_INVALID);
	first_error(&errs, PL_ERR_INVALID, "category", NULL);

	/* Names on the wire are exact. */
	const char *bad_datum[] = {"wgs84", "WGS 84", "", "EPSG:4326", "Everest1830"};
	for (size_t i = 0; i < ARRAY_LEN(bad_datum); i++) {
		kvlist l;
		sample_incident(f);
		incident_kv(f, &l);
		kv_set(&l, S("datum", bad_datum[i]));
		decode_incident_kv(&l, PL_ERR_MALFORMED, "datum", NULL);
	}
	kvlist l;
	incident_kv(f, &l);
	kv_set(&l, S("category", "Other"));
	decode_incident_kv(
	    &l, PL_ERR_MALFORMED, "category",
	    "field 'category': must be one of armed-incursion, cross-border-fire, "
	    "militant-movement, smuggling, airspace-violation, other (got \"Other\")");
	free(f);
}

/* A text field: lengths min-1 (when min is 1), min, max, and max+1 (over
 * the buffer: only the decoder can see it). */
typedef struct text_case {
	const char *field;
	size_t off, cap, max;
	bool optional, multi;
} text_case;

static void test_incident_texts(void **state)
{
	(void)state;
	const text_case cases[] = {
	    {"place", offsetof(pl_incident, place), PL_INCIDENT_PLACE_MAX + 1,
	     PL_INCIDENT_PLACE_MAX, false, false},
	    {"description", offsetof(pl_incident, description), PL_INCIDENT_DESCRIPTION_MAX + 1,
	     PL_INCIDENT_DESCRIPTION_MAX, false, true},
	    {"requested_action", offsetof(pl_incident, requested_action),
	     PL_INCIDENT_ACTION_MAX + 1, PL_INCIDENT_ACTION_MAX, true, true},
	    {"ref_id", offsetof(pl_incident, ref_id), PL_INCIDENT_REF_ID_MAX + 1,
	     PL_INCIDENT_REF_ID_MAX, true, false},
	};
	pl_incident *f = malloc(sizeof(*f));
	assert_non_null(f);
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		const text_case *c = &cases[i];
		char *p = (char *)f + c->off;
		/* Shortest and longest allowed. */
		sample_incident(f);
		strcpy(p, "x");
		try_incident(f, 0, 0, NULL);
		strcpy(p, rep(0, 'x', c->max));
		try_incident(f, 0, 0, NULL);
		/* Empty: required fields refuse it; optional ones are absent. */
		sample_incident(f);
		p[0] = '\0';
		if (c->optional)
			try_incident(f, 0, 0, NULL);
		else
			try_incident(f, PL_ERR_INVALID, PL_ERR_MALFORMED, c->field);
		/* One byte over: only on the wire. */
		kvlist l;
		sample_incident(f);
		incident_kv(f, &l);
		kv_set(&l, S(c->field, rep(1, 'x', c->max + 1)));
		decode_incident_kv(&l, PL_ERR_LIMIT, c->field, NULL);
		/* Not terminated within its buffer: a caller's bug. */
		sample_incident(f);
		memset(p, 'x', c->cap);
		pl_form_errors errs;
		assert_int_equal(pl_incident_validate(f, &errs), PL_ERR_INVALID);
		first_error(&errs, PL_ERR_INVALID, c->field, NULL);
		/* Control characters: LF and TAB only in multi-line text; CR, DEL,
		 * ESC and C1 never. */
		sample_incident(f);
		strcpy(p, "a\nb");
		try_incident(f, c->multi ? 0 : PL_ERR_INVALID, c->multi ? 0 : PL_ERR_MALFORMED,
			     c->field);
		strcpy(p, "a\tb");
		try_incident(f, c->multi ? 0 : PL_ERR_INVALID, c->multi ? 0 : PL_ERR_MALFORMED,
			     c->field);
		const char *never[] = {"a\rb", "a\x7f", "\x1b[31m", "a\xc2\x85z"};
		for (size_t j = 0; j < ARRAY_LEN(never); j++) {
			strcpy(p, never[j]);
			try_incident(f, PL_ERR_INVALID, PL_ERR_MALFORMED, c->field);
		}
		/* Bad UTF-8 (the codec refuses it before this module on the wire). */
		strcpy(p, "a\xc3(");
		assert_int_equal(pl_incident_validate(f, &errs), PL_ERR_INVALID);
		first_error(&errs, PL_ERR_INVALID, c->field, NULL);
		assert_non_null(strstr(errs.e[0].msg, "UTF-8"));
		/* An embedded NUL on the wire. */
		sample_incident(f);
		incident_kv(f, &l);
		kv_set(&l, (kv){.k = c->field, .t = V_TEXT, .s = "ab\0cd", .slen = 5});
		decode_incident_kv(&l, PL_ERR_MALFORMED, c->field, NULL);
		/* Optional text present but empty: one byte form, so refused. */
		if (c->optional) {
			incident_kv(f, &l);
			kv_set(&l, S(c->field, ""));
			decode_incident_kv(&l, PL_ERR_MALFORMED, c->field, NULL);
		}
	}
	free(f);
}

static void test_incident_structure(void **state)
{
	(void)state;
	pl_incident *f = malloc(sizeof(*f));
	assert_non_null(f);
	sample_incident(f);
	kvlist l;
	/* Every required key missing in turn. */
	const char *required[] = {"schema", "time",     "lat",      "lon",        "datum",
				  "place",  "category", "severity", "casualties", "description"};
	for (size_t i = 0; i < ARRAY_LEN(required); i++) {
		incident_kv(f, &l);
		kv_drop(&l, required[i]);
		char msg[96];
		snprintf(msg, sizeof(msg), "field '%s': is missing", required[i]);
		decode_incident_kv(&l, PL_ERR_MALFORMED, required[i],
				   strcmp(required[i], "schema") ? msg : NULL);
	}
	/* A missing required text is reported once, not also as empty. */
	incident_kv(f, &l);
	kv_drop(&l, "place");
	blob b = enc_map(l.it, l.n);
	pl_form_errors errs;
	pl_incident g;
	assert_int_equal(pl_incident_decode(b.p, b.n, &g, &errs), PL_ERR_MALFORMED);
	assert_int_equal(errs.n, 1);
	free(b.p);
	/* Unknown keys, at the top and in casualties. */
	incident_kv(f, &l);
	kv_set(&l, I("colour", 1));
	decode_incident_kv(&l, PL_ERR_MALFORMED, "colour", "field 'colour': unknown key");
	incident_kv(f, &l);
	l.cas[l.ncas++] = I("wounded", 1);
	kv_set(&l, (kv){.k = "casualties", .t = V_MAP, .sub = l.cas, .nsub = l.ncas});
	decode_incident_kv(&l, PL_ERR_MALFORMED, "casualties.wounded", NULL);
	/* Wrong types. */
	const struct {
		kv v;
		const char *field;
	} types[] = {
	    {S("time", "2027-01-15T08:00:00Z"), "time"},
	    {S("lat", "33.6934"), "lat"},
	    {I("place", 7), "place"},
	    {I("datum", 4326), "datum"},
	    {(kv){.k = "severity", .t = V_BOOL, .i = 1}, "severity"},
	    {I("casualties", 0), "casualties"},
	    {I("schema", 1), "schema"},
	};
	for (size_t i = 0; i < ARRAY_LEN(types); i++) {
		incident_kv(f, &l);
		kv_set(&l, types[i].v);
		decode_incident_kv(&l, PL_ERR_MALFORMED, types[i].field, NULL);
	}
	/* A casualty count that is not an integer. */
	incident_kv(f, &l);
	l.cas[0] = S("killed", "none");
	kv_set(&l, (kv){.k = "casualties", .t = V_MAP, .sub = l.cas, .nsub = l.ncas});
	decode_incident_kv(&l, PL_ERR_MALFORMED, "casualties.killed",
			   "field 'casualties.killed': must be an integer");
	/* An integer beyond int64 (CBOR allows up to 2^64-1). */
	static const uint8_t big[] = {0x1b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	incident_kv(f, &l);
	kv_set(&l, (kv){.k = "time", .t = V_RAW, .raw = big, .rawlen = sizeof(big)});
	decode_incident_kv(&l, PL_ERR_MALFORMED, "time", "field 'time': is out of range");
	free(f);
}

/* ---------------------------------------------------------------- wire form */

static blob sample_incident_bytes(void)
{
	pl_incident f;
	blob b;
	sample_incident(&f);
	assert_int_equal(pl_incident_encode(&f, NULL, &b.p, &b.n), 0);
	return b;
}

static void expect_bytes(const uint8_t *p, size_t n, int code)
{
	pl_incident g;
	pl_form_errors errs;
	assert_int_equal(pl_incident_decode(p, n, &g, &errs), code);
	assert_int_equal(errs.n, 1);
	assert_int_equal(errs.e[0].code, code);
	assert_string_equal(errs.e[0].field, "");
	assert_true(all_zero(&g, sizeof(g)));
}

static void test_wire_strict(void **state)
{
	(void)state;
	blob b = sample_incident_bytes();
	uint8_t *m = malloc(b.n + 16);
	assert_non_null(m);

	/* Truncated anywhere, and one trailing byte. */
	for (size_t cut = 0; cut < b.n; cut += 7)
		expect_bytes(b.p, cut, PL_ERR_MALFORMED);
	memcpy(m, b.p, b.n);
	m[b.n] = 0x00;
	expect_bytes(m, b.n + 1, PL_ERR_MALFORMED);

	/* "severity": 3 written as 0x18 0x03 (not the shortest head). */
	const uint8_t sev[] = {0x68, 's', 'e', 'v', 'e', 'r', 'i', 't', 'y', 0x03};
	uint8_t *at = memmem(b.p, b.n, sev, sizeof(sev));
	assert_non_null(at);
	size_t off = (size_t)(at - b.p) + sizeof(sev) - 1;
	memcpy(m, b.p, off);
	m[off] = 0x18;
	m[off + 1] = 0x03;
	memcpy(m + off + 2, b.p + off + 1, b.n - off - 1);
	expect_bytes(m, b.n + 1, PL_ERR_NONCANONICAL);

	/* The same map with its outer head made indefinite (0xbf ... 0xff). */
	m[0] = 0xbf;
	memcpy(m + 1, b.p + 1, b.n - 1);
	m[b.n] = 0xff;
	expect_bytes(m, b.n + 1, PL_ERR_MALFORMED);

	/* Keys out of canonical order: "lon" before "lat". */
	memcpy(m, b.p, b.n);
	const uint8_t lat[] = {0x63, 'l', 'a', 't'};
	at = memmem(m, b.n, lat, sizeof(lat));
	assert_non_null(at);
	/* lat: 1a 02021ed8 (9 bytes with key), lon: 3a 045aa78f (9 bytes). */
	uint8_t tmp[9];
	memcpy(tmp, at, 9);
	memmove(at, at + 9, 9);
	memcpy(at + 9, tmp, 9);
	expect_bytes(m, b.n, PL_ERR_NONCANONICAL);

	/* A float where an integer goes: the codec refuses floats. */
	kvlist l;
	pl_incident f;
	sample_incident(&f);
	incident_kv(&f, &l);
	static const uint8_t half[] = {0xf9, 0x3c, 0x00}; /* 1.0 as a half float */
	kv_set(&l, (kv){.k = "lat", .t = V_RAW, .raw = half, .rawlen = sizeof(half)});
	blob fb = enc_map(l.it, l.n);
	expect_bytes(fb.p, fb.n, PL_ERR_MALFORMED);
	free(fb.p);

	/* Not a map; empty input; a NULL buffer with a length. */
	static const uint8_t arr[] = {0x80};
	expect_bytes(arr, sizeof(arr), PL_ERR_MALFORMED);
	expect_bytes(arr, 0, PL_ERR_MALFORMED);
	pl_incident g;
	assert_int_equal(pl_incident_decode(NULL, 3, &g, NULL), PL_ERR_INVALID);
	/* Over the body limit, before any parsing. */
	uint8_t *huge = calloc(1, PL_FORM_BODY_MAX + 1);
	assert_non_null(huge);
	expect_bytes(huge, PL_FORM_BODY_MAX + 1, PL_ERR_LIMIT);
	free(huge);

	free(m);
	free(b.p);
}

static void test_schema(void **state)
{
	(void)state;
	pl_incident f;
	sample_incident(&f);
	kvlist l;
	incident_kv(&f, &l);
	kv_set(&l, S("schema", "parley/incident/2"));
	decode_incident_kv(&l, PL_ERR_VERSION, "schema", NULL);
	kv_set(&l, S("schema", "parley/request/1"));
	decode_incident_kv(&l, PL_ERR_TYPE, "schema", NULL);
	kv_set(&l, S("schema", "parley/incident/"));
	decode_incident_kv(&l, PL_ERR_TYPE, "schema", NULL);

	/* Each decoder refuses the others' bodies as the wrong type. */
	uint8_t buf[512];
	size_t n = unhex(buf, sizeof(buf), kat_request);
	pl_incident gi;
	pl_request_step gs;
	pl_form_errors errs;
	assert_int_equal(pl_incident_decode(buf, n, &gi, &errs), PL_ERR_TYPE);
	assert_int_equal(errs.n, 1); /* not also a list of unknown keys */
	assert_int_equal(pl_request_step_decode(buf, n, &gs, NULL), PL_ERR_TYPE);
	n = unhex(buf, sizeof(buf), kat_step);
	pl_request gr;
	assert_int_equal(pl_request_decode(buf, n, &gr, NULL), PL_ERR_TYPE);
	n = unhex(buf, sizeof(buf), kat_incident);
	assert_int_equal(pl_request_decode(buf, n, &gr, NULL), PL_ERR_TYPE);
}

/* ---------------------------------------------------------------- error lists */

static void test_error_lists(void **state)
{
	(void)state;
	pl_incident *f = malloc(sizeof(*f));
	assert_non_null(f);
	pl_form_errors errs;
	/* Three bad fields, all reported in schema order. */
	sample_incident(f);
	f->lat = 91000000;
	f->severity = 0;
	f->place[0] = '\0';
	assert_int_equal(pl_incident_validate(f, &errs), PL_ERR_INVALID);
	assert_int_equal(errs.n, 3);
	assert_int_equal(errs.more, 0);
	assert_string_equal(errs.e[0].field, "lat");
	assert_string_equal(errs.e[1].field, "place");
	assert_string_equal(errs.e[2].field, "severity");
	assert_string_equal(
	    errs.e[0].msg, "field 'lat': must be -90000000..90000000 micro-degrees (got 91000000)");
	assert_string_equal(errs.e[1].msg, "field 'place': must not be empty");
	assert_string_equal(pl_err_detail(), errs.e[0].msg);
	/* Without a list, the first failure still comes back. */
	assert_int_equal(pl_incident_validate(f, NULL), PL_ERR_INVALID);
	assert_string_equal(pl_err_detail(), errs.e[0].msg);

	/* On the wire: a wrong type, an unknown key and a bad value together. */
	kvlist l;
	sample_incident(f);
	incident_kv(f, &l);
	kv_set(&l, S("severity", "high"));
	kv_set(&l, I("extra", 1));
	kv_set(&l, I("lon", 181000000));
	blob b = enc_map(l.it, l.n);
	pl_incident g;
	assert_int_equal(pl_incident_decode(b.p, b.n, &g, &errs), PL_ERR_MALFORMED);
	assert_int_equal(errs.n, 3);
	assert_true(pl_form_errors_has(&errs, "severity"));
	assert_true(pl_form_errors_has(&errs, "extra"));
	assert_true(pl_form_errors_has(&errs, "lon"));
	assert_false(pl_form_errors_has(&errs, "lat"));
	free(b.p);

	/* More failures than the list holds are counted. */
	incident_kv(f, &l);
	char names[20][8];
	for (int i = 0; i < 20; i++) {
		snprintf(names[i], sizeof(names[i]), "x%02d", i);
		kv_set(&l, I(names[i], i));
	}
	b = enc_map(l.it, l.n);
	assert_int_equal(pl_incident_decode(b.p, b.n, &g, &errs), PL_ERR_MALFORMED);
	assert_int_equal(errs.n, PL_FORM_ERRORS_MAX);
	assert_int_equal(errs.more, 20 - PL_FORM_ERRORS_MAX);
	free(b.p);

	/* The list's own rules: one entry per field, parents cover children. */
	pl_form_errors_init(&errs);
	assert_int_equal(pl_form_errors_add(&errs, PL_ERR_LIMIT, "casualties", "bad %d", 1),
			 PL_ERR_LIMIT);
	pl_form_errors_add(&errs, PL_ERR_INVALID, "casualties.killed", "hidden");
	pl_form_errors_add(&errs, PL_ERR_INVALID, "casualties", "hidden too");
	pl_form_errors_add(&errs, PL_ERR_INVALID, "casualtiesx", "shown");
	pl_form_errors_add(&errs, PL_ERR_MALFORMED, "", "whole");
	assert_int_equal(errs.n, 3);
	assert_string_equal(errs.e[0].msg, "field 'casualties': bad 1");
	assert_string_equal(errs.e[1].msg, "field 'casualtiesx': shown");
	assert_string_equal(errs.e[2].msg, "body: whole");
	assert_int_equal(pl_form_errors_result(&errs), PL_ERR_LIMIT);
	assert_string_equal(pl_err_detail(), "field 'casualties': bad 1");
	pl_form_errors other;
	pl_form_errors_init(&other);
	pl_form_errors_add(&other, PL_ERR_INVALID, "casualties.missing", "hidden");
	pl_form_errors_add(&other, PL_ERR_INVALID, "place", "new");
	pl_form_errors_merge(&errs, &other);
	assert_int_equal(errs.n, 4);
	assert_string_equal(errs.e[3].field, "place");
	/* Long messages are cut, not overrun. */
	pl_form_errors_init(&errs);
	pl_form_errors_add(&errs, PL_ERR_INVALID, rep(0, 'k', 60), "%s", rep(1, 'm', 400));
	assert_int_equal(strlen(errs.e[0].field), PL_FORM_FIELD_MAX);
	assert_int_equal(strlen(errs.e[0].msg), PL_FORM_MSG_MAX);
	pl_form_errors_init(&errs);
	assert_int_equal(pl_form_errors_result(&errs), 0);
	free(f);
}

/* ---------------------------------------------------------------- request */

static void test_request_fields(void **state)
{
	(void)state;
	pl_request r;
	kvlist l;
	for (int t = PL_REQUEST_EXTRADITION; t <= PL_REQUEST_INFORMATION; t++) {
		sample_request(&r);
		r.type = (pl_request_type)t;
		try_request(&r, 0, 0, NULL);
	}
	sample_request(&r);
	r.type = (pl_request_type)0;
	try_request(&r, PL_ERR_INVALID, PL_ERR_MALFORMED, "type");
	sample_request(&r);
	request_kv(&r, &l);
	kv_set(&l, S("type", "mla"));
	decode_request_kv(&l, PL_ERR_MALFORMED, "type", NULL);

	/* Texts: just in, just out. */
	sample_request(&r);
	strcpy(r.subject, rep(0, 's', PL_REQUEST_SUBJECT_MAX));
	strcpy(r.summary, rep(0, 'm', PL_REQUEST_SUMMARY_MAX));
	strcpy(r.legal_basis, rep(0, 'b', PL_REQUEST_LEGAL_BASIS_MAX));
	try_request(&r, 0, 0, NULL);
	const struct {
		const char *k;
		size_t max;
	} texts[] = {{"subject", PL_REQUEST_SUBJECT_MAX},
		     {"summary", PL_REQUEST_SUMMARY_MAX},
		     {"legal_basis", PL_REQUEST_LEGAL_BASIS_MAX}};
	for (size_t i = 0; i < ARRAY_LEN(texts); i++) {
		sample_request(&r);
		request_kv(&r, &l);
		kv_set(&l, S(texts[i].k, rep(1, 'x', texts[i].max + 1)));
		decode_request_kv(&l, PL_ERR_LIMIT, texts[i].k, NULL);
	}
	sample_request(&r);
	r.subject[0] = '\0';
	try_request(&r, PL_ERR_INVALID, PL_ERR_MALFORMED, "subject");
	sample_request(&r);
	strcpy(r.subject, "two\nlines");
	try_request(&r, PL_ERR_INVALID, PL_ERR_MALFORMED, "subject");
	sample_request(&r);
	strcpy(r.summary, "two\nlines");
	try_request(&r, 0, 0, NULL);
	sample_request(&r);
	r.summary[0] = '\0';
	try_request(&r, PL_ERR_INVALID, PL_ERR_MALFORMED, "summary");
	sample_request(&r);
	request_kv(&r, &l);
	kv_set(&l, S("legal_basis", ""));
	decode_request_kv(&l, PL_ERR_MALFORMED, "legal_basis", NULL);

	/* due: optional, a time. */
	sample_request(&r);
	r.due = 0;
	try_request(&r, 0, 0, NULL);
	r.due = PL_FORM_TIME_MAX;
	try_request(&r, 0, 0, NULL);
	r.due = -1;
	try_request(&r, PL_ERR_INVALID, PL_ERR_MALFORMED, "due");
	r.due = PL_FORM_TIME_MAX + 1;
	try_request(&r, PL_ERR_INVALID, PL_ERR_MALFORMED, "due");
	r.has_due = false; /* then its value is not looked at */
	assert_int_equal(pl_request_validate(&r, NULL), 0);

	/* requested_state: the name syntax only. */
	const char *good[] = {"islamabad", "a", "0x", "new-delhi.gov_1", rep(0, 's', PL_NAME_MAX)};
	for (size_t i = 0; i < ARRAY_LEN(good); i++) {
		sample_request(&r);
		strcpy(r.requested_state, good[i]);
		try_request(&r, 0, 0, NULL);
	}
	const char *bad[] = {"", "Islamabad", "-x", ".x", "is lamabad", "islamabad\n", "\xc3\xa9"};
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		sample_request(&r);
		strcpy(r.requested_state, bad[i]);
		try_request(&r, PL_ERR_INVALID, PL_ERR_MALFORMED, "requested_state");
	}
	sample_request(&r);
	request_kv(&r, &l);
	kv_set(&l, S("requested_state", rep(1, 's', PL_NAME_MAX + 1)));
	decode_request_kv(&l, PL_ERR_LIMIT, "requested_state", NULL);
	sample_request(&r);
	memset(r.requested_state, 'a', sizeof(r.requested_state));
	assert_int_equal(pl_request_validate(&r, NULL), PL_ERR_INVALID);

	/* Structure. */
	const char *required[] = {"schema", "type", "subject", "summary", "requested_state"};
	for (size_t i = 0; i < ARRAY_LEN(required); i++) {
		sample_request(&r);
		request_kv(&r, &l);
		kv_drop(&l, required[i]);
		decode_request_kv(&l, PL_ERR_MALFORMED, required[i], NULL);
	}
	sample_request(&r);
	request_kv(&r, &l);
	kv_set(&l, I("priority", 1));
	decode_request_kv(&l, PL_ERR_MALFORMED, "priority", "field 'priority': unknown key");
	request_kv(&r, &l);
	kv_set(&l, S("due", "tomorrow"));
	decode_request_kv(&l, PL_ERR_MALFORMED, "due", "field 'due': must be an integer");
	request_kv(&r, &l);
	kv_set(&l, S("schema", "parley/request/0"));
	decode_request_kv(&l, PL_ERR_VERSION, "schema", NULL);
}

static void test_step_fields(void **state)
{
	(void)state;
	pl_request_step s = {.to = PL_REQUEST_SUBMITTED};
	/* A step cannot make a request "submitted": the request itself is that. */
	try_step(&s, PL_ERR_INVALID, PL_ERR_MALFORMED, "to");
	s.to = (pl_request_status)(PL_REQUEST_WITHDRAWN + 1);
	assert_int_equal(pl_request_step_validate(&s, NULL), PL_ERR_INVALID);
	s.to = PL_REQUEST_REFUSED;
	strcpy(s.note, rep(0, 'n', PL_REQUEST_NOTE_MAX));
	try_step(&s, 0, 0, NULL);
	strcpy(s.note, "a\rb");
	try_step(&s, PL_ERR_INVALID, PL_ERR_MALFORMED, "note");
	kvlist l;
	s.note[0] = '\0';
	step_kv(&s, &l);
	kv_set(&l, S("note", rep(1, 'n', PL_REQUEST_NOTE_MAX + 1)));
	blob b = enc_map(l.it, l.n);
	pl_request_step g;
	pl_form_errors errs;
	assert_int_equal(pl_request_step_decode(b.p, b.n, &g, &errs), PL_ERR_LIMIT);
	first_error(&errs, PL_ERR_LIMIT, "note", NULL);
	assert_true(all_zero(&g, sizeof(g)));
	free(b.p);
	/* note is required even when empty; unknown keys and names refused. */
	step_kv(&s, &l);
	kv_drop(&l, "note");
	b = enc_map(l.it, l.n);
	assert_int_equal(pl_request_step_decode(b.p, b.n, &g, &errs), PL_ERR_MALFORMED);
	first_error(&errs, PL_ERR_MALFORMED, "note", "field 'note': is missing");
	free(b.p);
	step_kv(&s, &l);
	kv_set(&l, S("to", "approved"));
	kv_set(&l, I("by", 1));
	b = enc_map(l.it, l.n);
	assert_int_equal(pl_request_step_decode(b.p, b.n, &g, &errs), PL_ERR_MALFORMED);
	assert_int_equal(errs.n, 2);
	assert_true(pl_form_errors_has(&errs, "to"));
	assert_true(pl_form_errors_has(&errs, "by"));
	free(b.p);
}

/* ---------------------------------------------------------------- names */

static void test_names(void **state)
{
	(void)state;
	const char *cats[] = {"armed-incursion", "cross-border-fire",  "militant-movement",
			      "smuggling",       "airspace-violation", "other"};
	for (int i = 0; i < 6; i++) {
		pl_incident_category c;
		assert_int_equal(pl_incident_category_parse(cats[i], &c), 0);
		assert_int_equal(c, PL_INCIDENT_ARMED_INCURSION + i);
		assert_string_equal(pl_incident_category_name(c), cats[i]);
	}
	const char *datums[] = {"WGS84", "ETRS89", "ED50", "NAD83", "Kalianpur1962"};
	for (int i = 0; i < 5; i++) {
		pl_datum d;
		assert_int_equal(pl_datum_parse(datums[i], &d), 0);
		assert_int_equal(d, PL_DATUM_WGS84 + i);
		assert_string_equal(pl_datum_name(d), datums[i]);
	}
	const char *types[] = {"extradition", "mutual-legal-assistance", "consular-access",
			       "information"};
	for (int i = 0; i < 4; i++) {
		pl_request_type t;
		assert_int_equal(pl_request_type_parse(types[i], &t), 0);
		assert_int_equal(t, PL_REQUEST_EXTRADITION + i);
		assert_string_equal(pl_request_type_name(t), types[i]);
	}
	const char *sts[] = {"submitted",         "acknowledged", "under-review", "granted",
			     "partially-granted", "refused",      "withdrawn"};
	for (int i = 0; i < 7; i++) {
		pl_request_status s;
		assert_int_equal(pl_request_status_parse(sts[i], &s), 0);
		assert_int_equal(s, PL_REQUEST_SUBMITTED + i);
		assert_string_equal(pl_request_status_name(s), sts[i]);
	}
	pl_datum d = PL_DATUM_NAD83;
	assert_int_equal(pl_datum_parse("wgs84", &d), PL_ERR_MALFORMED);
	assert_int_equal(d, PL_DATUM_NAD83); /* unchanged on failure */
	assert_non_null(strstr(pl_err_detail(), "WGS84, ETRS89, ED50, NAD83, Kalianpur1962"));
	pl_request_status s;
	assert_int_equal(pl_request_status_parse(NULL, &s), PL_ERR_MALFORMED);
	assert_int_equal(pl_request_status_parse("Granted", &s), PL_ERR_MALFORMED);
	pl_incident_category c;
	assert_int_equal(pl_incident_category_parse("", &c), PL_ERR_MALFORMED);
	pl_request_type t;
	assert_int_equal(pl_request_type_parse("extradition ", &t), PL_ERR_MALFORMED);
	assert_string_equal(pl_datum_name((pl_datum)0), "unknown");
	assert_string_equal(pl_request_status_name((pl_request_status)8), "unknown");
	assert_string_equal(pl_incident_category_name((pl_incident_category)-1), "unknown");
	assert_string_equal(pl_request_type_name((pl_request_type)5), "unknown");
}

/* ---------------------------------------------------------------- envelopes */

static void test_check_env(void **state)
{
	(void)state;
	uint8_t buf[1024];
	pl_env e;
	pl_form_errors errs;
	memset(&e, 0, sizeof(e));

	strcpy(e.kind, "incident");
	e.body = buf;
	e.body_len = unhex(buf, sizeof(buf), kat_incident);
	assert_int_equal(pl_form_check_env(&e, &errs), 0);
	assert_int_equal(errs.n, 0);
	e.body_len -= 1;
	assert_int_equal(pl_form_check_env(&e, &errs), PL_ERR_MALFORMED);

	strcpy(e.kind, "request");
	e.body_len = unhex(buf, sizeof(buf), kat_request);
	assert_int_equal(pl_form_check_env(&e, NULL), 0);
	strcpy(e.kind, "incident"); /* a request's body under the incident kind */
	assert_int_equal(pl_form_check_env(&e, NULL), PL_ERR_TYPE);

	strcpy(e.kind, "request-step");
	e.body_len = unhex(buf, sizeof(buf), kat_step);
	assert_int_equal(pl_form_check_env(&e, &errs), PL_ERR_MALFORMED);
	first_error(&errs, PL_ERR_MALFORMED, "ref", NULL);
	e.has_ref = true;
	memset(e.ref, 0x42, sizeof(e.ref));
	assert_int_equal(pl_form_check_env(&e, &errs), 0);
	/* A bad body and a missing ref: both reported. */
	e.has_ref = false;
	e.body_len = 1;
	assert_int_equal(pl_form_check_env(&e, &errs), PL_ERR_MALFORMED);
	assert_int_equal(errs.n, 2);
	assert_string_equal(errs.e[1].field, "ref");

	/* Other kinds are not this module's business. */
	strcpy(e.kind, "message");
	assert_int_equal(pl_form_check_env(&e, &errs), 0);
	assert_int_equal(errs.n, 0);
	assert_true(pl_form_kind_is_form("incident"));
	assert_true(pl_form_kind_is_form("request"));
	assert_true(pl_form_kind_is_form("request-step"));
	assert_false(pl_form_kind_is_form("message"));
	assert_false(pl_form_kind_is_form("Incident"));
	assert_false(pl_form_kind_is_form(NULL));
	assert_int_equal(pl_form_check_env(NULL, NULL), PL_ERR_INVALID);
}

/* ---------------------------------------------------------------- workflow */

typedef struct allowed {
	pl_request_status from, to;
	bool requested;
	const char *verb;
} allowed;

static const allowed arrows[] = {
    {PL_REQUEST_SUBMITTED, PL_REQUEST_ACKNOWLEDGED, true, "acknowledge"},
    {PL_REQUEST_SUBMITTED, PL_REQUEST_WITHDRAWN, false, "withdraw"},
    {PL_REQUEST_ACKNOWLEDGED, PL_REQUEST_UNDER_REVIEW, true, "put under review"},
    {PL_REQUEST_ACKNOWLEDGED, PL_REQUEST_WITHDRAWN, false, "withdraw"},
    {PL_REQUEST_UNDER_REVIEW, PL_REQUEST_GRANTED, true, "grant"},
    {PL_REQUEST_UNDER_REVIEW, PL_REQUEST_PARTIALLY_GRANTED, true, "partially grant"},
    {PL_REQUEST_UNDER_REVIEW, PL_REQUEST_REFUSED, true, "refuse"},
    {PL_REQUEST_UNDER_REVIEW, PL_REQUEST_WITHDRAWN, false, "withdraw"},
};

static void test_workflow_allowed(void **state)
{
	(void)state;
	char want[128];
	for (size_t i = 0; i < ARRAY_LEN(arrows); i++) {
		const allowed *a = &arrows[i];
		assert_int_equal(
		    pl_request_step_check(a->from, a->to, a->requested, "tehran", "islamabad"), 0);
		assert_string_equal(pl_err_detail(), "");
		assert_int_equal(pl_request_step_check(a->from, a->to, a->requested, NULL, NULL),
				 0);
		/* The same arrow from the other side. */
		assert_int_equal(
		    pl_request_step_check(a->from, a->to, !a->requested, "tehran", "islamabad"),
		    PL_ERR_WRONG_STATE);
		snprintf(want, sizeof(want), "only the %s (%s) may %s",
			 a->requested ? "requested state" : "requesting state",
			 a->requested ? "islamabad" : "tehran", a->verb);
		assert_string_equal(pl_err_detail(), want);
		assert_int_equal(pl_request_step_check(a->from, a->to, !a->requested, NULL, NULL),
				 PL_ERR_WRONG_STATE);
		snprintf(want, sizeof(want), "only the %s may %s",
			 a->requested ? "requested state" : "requesting state", a->verb);
		assert_string_equal(pl_err_detail(), want);
	}
}

static void test_workflow_forbidden(void **state)
{
	(void)state;
	/* Every pair not listed, from either side. */
	size_t refused = 0;
	for (int from = PL_REQUEST_SUBMITTED; from <= PL_REQUEST_WITHDRAWN; from++)
		for (int to = PL_REQUEST_SUBMITTED; to <= PL_REQUEST_WITHDRAWN; to++) {
			bool listed = false;
			for (size_t i = 0; i < ARRAY_LEN(arrows); i++)
				listed |= arrows[i].from == (pl_request_status)from &&
					  arrows[i].to == (pl_request_status)to;
			if (listed)
				continue;
			for (int side = 0; side < 2; side++) {
				assert_int_equal(pl_request_step_check((pl_request_status)from,
								       (pl_request_status)to, side,
								       "tehran", "islamabad"),
						 PL_ERR_TRANSITION);
				refused++;
			}
		}
	assert_int_equal(refused, 2 * (7 * 7 - ARRAY_LEN(arrows)));

	/* The wording. */
	assert_int_equal(
	    pl_request_step_check(PL_REQUEST_REFUSED, PL_REQUEST_GRANTED, true, NULL, NULL),
	    PL_ERR_TRANSITION);
	assert_string_equal(pl_err_detail(), "a refused request is final");
	assert_int_equal(
	    pl_request_step_check(PL_REQUEST_WITHDRAWN, PL_REQUEST_WITHDRAWN, false, NULL, NULL),
	    PL_ERR_TRANSITION);
	assert_string_equal(pl_err_detail(), "a withdrawn request is final");
	assert_int_equal(
	    pl_request_step_check(PL_REQUEST_SUBMITTED, PL_REQUEST_GRANTED, true, NULL, NULL),
	    PL_ERR_TRANSITION);
	assert_string_equal(pl_err_detail(),
			    "a submitted request cannot become granted (next: acknowledged, "
			    "withdrawn)");
	assert_int_equal(pl_request_step_check(PL_REQUEST_ACKNOWLEDGED, PL_REQUEST_ACKNOWLEDGED,
					       true, NULL, NULL),
			 PL_ERR_TRANSITION);
	assert_string_equal(pl_err_detail(), "an acknowledged request cannot become acknowledged "
					     "(next: under-review, withdrawn)");
	assert_int_equal(
	    pl_request_step_check(PL_REQUEST_UNDER_REVIEW, PL_REQUEST_SUBMITTED, true, NULL, NULL),
	    PL_ERR_TRANSITION);

	/* Out of range. */
	assert_int_equal(
	    pl_request_step_check((pl_request_status)0, PL_REQUEST_GRANTED, true, NULL, NULL),
	    PL_ERR_INVALID);
	assert_int_equal(
	    pl_request_step_check(PL_REQUEST_SUBMITTED, (pl_request_status)8, true, NULL, NULL),
	    PL_ERR_INVALID);
	/* A name that is not a name is left out of the detail. */
	assert_int_equal(pl_request_step_check(PL_REQUEST_UNDER_REVIEW, PL_REQUEST_GRANTED, false,
					       "tehran", "Bad Name\n"),
			 PL_ERR_WRONG_STATE);
	assert_string_equal(pl_err_detail(), "only the requested state may grant");

	for (int s = PL_REQUEST_SUBMITTED; s <= PL_REQUEST_WITHDRAWN; s++)
		assert_int_equal(pl_request_status_is_final((pl_request_status)s),
				 s >= PL_REQUEST_GRANTED);
}

/* A full history replayed through the checker, as the node will. */
static void test_workflow_history(void **state)
{
	(void)state;
	const struct {
		pl_request_status to;
		bool requested;
		int want;
	} steps[] = {
	    {PL_REQUEST_UNDER_REVIEW, true, PL_ERR_TRANSITION}, /* skips acknowledged */
	    {PL_REQUEST_ACKNOWLEDGED, false, PL_ERR_WRONG_STATE},
	    {PL_REQUEST_ACKNOWLEDGED, true, 0},
	    {PL_REQUEST_UNDER_REVIEW, true, 0},
	    {PL_REQUEST_GRANTED, false, PL_ERR_WRONG_STATE},
	    {PL_REQUEST_GRANTED, true, 0},
	    {PL_REQUEST_WITHDRAWN, false, PL_ERR_TRANSITION},
	};
	pl_request_status cur = PL_REQUEST_SUBMITTED;
	for (size_t i = 0; i < ARRAY_LEN(steps); i++) {
		int rc = pl_request_step_check(cur, steps[i].to, steps[i].requested, "tehran",
					       "islamabad");
		assert_int_equal(rc, steps[i].want);
		if (rc == 0)
			cur = steps[i].to;
	}
	assert_int_equal(cur, PL_REQUEST_GRANTED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_known_answers),      cmocka_unit_test(test_round_trips),
	    cmocka_unit_test(test_incident_numbers),   cmocka_unit_test(test_incident_enums),
	    cmocka_unit_test(test_incident_texts),     cmocka_unit_test(test_incident_structure),
	    cmocka_unit_test(test_wire_strict),        cmocka_unit_test(test_schema),
	    cmocka_unit_test(test_error_lists),        cmocka_unit_test(test_request_fields),
	    cmocka_unit_test(test_step_fields),        cmocka_unit_test(test_names),
	    cmocka_unit_test(test_check_env),          cmocka_unit_test(test_workflow_allowed),
	    cmocka_unit_test(test_workflow_forbidden), cmocka_unit_test(test_workflow_history),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
