/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cli/form_json.c: JSON objects to form structs (every bad field
 * reported) and back, and exact decimal degrees.
 *
 * The sample JSON incident below must become the struct whose CBOR is the
 * known-answer vector of test_forms.c (computed with Python cbor2), which
 * ties the JSON keys to the wire keys.  CMakeLists.txt links this test with
 * cli/form_json.c and jansson.
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
#include <jansson.h>

#include "form_json.h"
#include "parley/err.h"
#include "parley/forms.h"

#define NOW 1800000000 /* 2027-01-15T08:00:00Z */

static const char sample_json[] =
    "{\"schema\": \"parley/incident/1\", \"time\": \"2027-01-15T08:00:00Z\","
    " \"lat\": \"33.6934\", \"lon\": -73.05, \"datum\": \"WGS84\","
    " \"place\": \"Torkham crossing\", \"category\": \"cross-border-fire\", \"severity\": 3,"
    " \"casualties\": {\"killed\": 0, \"injured\": 2, \"missing\": null},"
    " \"description\": \"Small-arms fire from the ridge.\\nTwo guards hurt.\","
    " \"requested_action\": \"Joint inquiry.\", \"ref_id\": \"TKM-2027-014\"}";

/* test_forms.c's kat_incident. */
static const char kat_incident[] =
    "ac636c61741a02021ed8636c6f6e3a045aa78f6474696d651a6b49d20065646174756d6557475338346570"
    "6c61636570546f726b68616d2063726f7373696e67667265665f69646c544b4d2d323032372d3031346673"
    "6368656d61717061726c65792f696e636964656e742f316863617465676f72797163726f73732d626f7264"
    "65722d66697265687365766572697479036a63617375616c74696573a2666b696c6c65640067696e6a7572"
    "6564026b6465736372697074696f6e7830536d616c6c2d61726d7320666972652066726f6d207468652072"
    "696467652e0a54776f2067756172647320687572742e707265717565737465645f616374696f6e6e4a6f69"
    "6e7420696e71756972792e";

static json_t *load(const char *text)
{
	json_error_t err;
	json_t *j = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
	if (!j)
		fail_msg("bad test JSON: %s", err.text);
	return j;
}

/* The sample with one member replaced (value given as JSON text) or, with
 * value NULL, removed. */
static json_t *sample_with(const char *key, const char *value)
{
	json_t *j = load(sample_json);
	if (value)
		assert_int_equal(json_object_set_new(j, key, load(value)), 0);
	else
		assert_int_equal(json_object_del(j, key), 0);
	return j;
}

static int incident_from(json_t *j, pl_incident *f, pl_form_errors *errs)
{
	int rc = form_json_to_incident(j, NOW, f, errs);
	json_decref(j);
	return rc;
}

/* Expect the sample, changed at key, to fail with code on field (and with
 * message msg, when given). */
static void bad_incident(const char *key, const char *value, int code, const char *field,
			 const char *msg)
{
	pl_incident f;
	pl_form_errors errs;
	assert_int_equal(incident_from(sample_with(key, value), &f, &errs), code);
	assert_true(errs.n >= 1);
	assert_int_equal(errs.e[0].code, code);
	assert_string_equal(errs.e[0].field, field);
	assert_string_equal(pl_err_detail(), errs.e[0].msg);
	if (msg)
		assert_string_equal(errs.e[0].msg, msg);
	pl_incident zero;
	memset(&zero, 0, sizeof(zero));
	assert_memory_equal(&f, &zero, sizeof(f));
}

static int64_t degrees(const char *json_value, int want_rc)
{
	json_t *v = json_loads(json_value, JSON_DECODE_ANY, NULL);
	assert_non_null(v);
	int64_t m = 0x5a5a;
	char why[96] = "";
	int rc = form_json_parse_degrees(v, &m, why, sizeof(why));
	json_decref(v);
	assert_int_equal(rc, want_rc);
	if (rc)
		assert_true(why[0] != '\0');
	return m;
}

static void test_sample_to_wire(void **state)
{
	(void)state;
	pl_incident f;
	pl_form_errors errs;
	assert_int_equal(incident_from(load(sample_json), &f, &errs), 0);
	assert_int_equal(errs.n, 0);
	assert_int_equal(f.time, NOW);
	assert_int_equal(f.lat, 33693400);
	assert_int_equal(f.lon, -73050000);
	assert_false(f.casualties.has_missing); /* null: not known */
	uint8_t *enc;
	size_t n;
	assert_int_equal(pl_incident_encode(&f, NULL, &enc, &n), 0);
	char hex[2 * 1024 + 1];
	assert_true(2 * n < sizeof(hex));
	for (size_t i = 0; i < n; i++)
		snprintf(hex + 2 * i, 3, "%02x", enc[i]);
	assert_string_equal(hex, kat_incident);
	free(enc);

	/* "schema" may be left out; times may be relative to now. */
	pl_incident g;
	json_t *j = sample_with("schema", NULL);
	json_object_set_new(j, "time", json_string("-2h"));
	assert_int_equal(incident_from(j, &g, NULL), 0);
	assert_int_equal(g.time, NOW - 7200);
	j = sample_with("time", "1800000000");
	assert_int_equal(incident_from(j, &g, NULL), 0);
	assert_int_equal(g.time, NOW);
}

static void test_json_round_trip(void **state)
{
	(void)state;
	pl_incident f, g;
	assert_int_equal(incident_from(load(sample_json), &f, NULL), 0);
	json_t *out = form_json_from_incident(&f);
	assert_non_null(out);
	char *text = json_dumps(out, JSON_SORT_KEYS | JSON_COMPACT);
	assert_string_equal(
	    text,
	    "{\"casualties\":{\"injured\":2,\"killed\":0},\"category\":\"cross-border-fire\","
	    "\"datum\":\"WGS84\",\"description\":\"Small-arms fire from the ridge.\\nTwo "
	    "guards hurt.\",\"lat\":\"33.693400\",\"lon\":\"-73.050000\",\"place\":"
	    "\"Torkham crossing\",\"ref_id\":\"TKM-2027-014\",\"requested_action\":\"Joint "
	    "inquiry.\",\"schema\":\"parley/incident/1\",\"severity\":3,\"time\":1800000000}");
	free(text);
	assert_int_equal(form_json_to_incident(out, NOW, &g, NULL), 0);
	assert_memory_equal(&f, &g, sizeof(f));
	json_decref(out);

	pl_request r, r2;
	json_t *j = load("{\"type\": \"extradition\", \"subject\": \"A. Khan\", \"summary\": "
			 "\"Wanted for trial.\", \"due\": \"2027-02-14\", \"requested_state\": "
			 "\"islamabad\", \"legal_basis\": null}");
	assert_int_equal(form_json_to_request(j, NOW, &r, NULL), 0);
	json_decref(j);
	assert_true(r.has_due);
	assert_int_equal(r.due, 1802563200);
	assert_string_equal(r.legal_basis, "");
	out = form_json_from_request(&r);
	text = json_dumps(out, JSON_SORT_KEYS | JSON_COMPACT);
	assert_string_equal(text,
			    "{\"due\":1802563200,\"requested_state\":\"islamabad\",\"schema\":"
			    "\"parley/request/1\",\"subject\":\"A. Khan\",\"summary\":"
			    "\"Wanted for trial.\",\"type\":\"extradition\"}");
	free(text);
	assert_int_equal(form_json_to_request(out, NOW, &r2, NULL), 0);
	assert_memory_equal(&r, &r2, sizeof(r));
	json_decref(out);

	pl_request_step s, s2;
	j = load("{\"to\": \"partially-granted\", \"note\": \"Two of three items.\"}");
	assert_int_equal(form_json_to_request_step(j, &s, NULL), 0);
	json_decref(j);
	assert_int_equal(s.to, PL_REQUEST_PARTIALLY_GRANTED);
	out = form_json_from_request_step(&s);
	assert_int_equal(form_json_to_request_step(out, &s2, NULL), 0);
	assert_memory_equal(&s, &s2, sizeof(s));
	json_decref(out);
}

static void test_degrees(void **state)
{
	(void)state;
	assert_int_equal(degrees("\"33.6934\"", 0), 33693400);
	assert_int_equal(degrees("\"-73.05\"", 0), -73050000);
	assert_int_equal(degrees("\"0\"", 0), 0);
	assert_int_equal(degrees("\"-0.000001\"", 0), -1);
	assert_int_equal(degrees("\"179.999999\"", 0), 179999999);
	assert_int_equal(degrees("\"-180.000000\"", 0), -180000000);
	assert_int_equal(degrees("33", 0), 33000000);
	assert_int_equal(degrees("-90", 0), -90000000);
	assert_int_equal(degrees("33.6934", 0), 33693400);
	assert_int_equal(degrees("-0.000001", 0), -1);
	assert_int_equal(degrees("179.999999", 0), 179999999);
	assert_int_equal(degrees("12.345678", 0), 12345678);
	assert_int_equal(degrees("1e-6", 0), 1);
	/* More than 6 decimals: refused, not rounded. */
	degrees("33.1234567", PL_ERR_INVALID);
	degrees("\"33.1234567\"", PL_ERR_INVALID);
	degrees("0.30000000000000004", PL_ERR_INVALID);
	degrees("1e-7", PL_ERR_INVALID);
	/* Not decimal degrees. */
	const char *bad[] = {"\"\"",     "\"33.\"", "\".5\"",   "\"+33\"", "\" 33\"",
			     "\"33 \"",  "\"1e3\"", "\"33,5\"", "\"N33\"", "\"--1\"",
			     "\"1234\"", "true",    "null",     "[1]",     "{}"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		degrees(bad[i], PL_ERR_INVALID);
	degrees("1001", PL_ERR_INVALID);
	degrees("-1000.5", PL_ERR_INVALID);
	degrees("1e300", PL_ERR_INVALID);

	char out[FORM_DEGREES_LEN];
	form_json_format_degrees(out, -73050000);
	assert_string_equal(out, "-73.050000");
	form_json_format_degrees(out, 0);
	assert_string_equal(out, "0.000000");
	form_json_format_degrees(out, -1);
	assert_string_equal(out, "-0.000001");
	form_json_format_degrees(out, 180000000);
	assert_string_equal(out, "180.000000");
	form_json_format_degrees(out, INT64_MIN);
	assert_string_equal(out, "-9223372036854.775808");
}

static void test_incident_errors(void **state)
{
	(void)state;
	/* Range: the library's rule, in micro-degrees. */
	bad_incident("lat", "\"90.000001\"", PL_ERR_INVALID, "lat",
		     "field 'lat': must be -90000000..90000000 micro-degrees (got 90000001)");
	bad_incident("lon", "-180.000001", PL_ERR_INVALID, "lon", NULL);
	bad_incident("lat", "33.1234567", PL_ERR_INVALID, "lat",
		     "field 'lat': has more than 6 decimals (give at most 6, or a string)");
	bad_incident("severity", "7", PL_ERR_INVALID, "severity",
		     "field 'severity': must be 1..5 (got 7)");
	bad_incident("severity", "\"3\"", PL_ERR_INVALID, "severity",
		     "field 'severity': must be an integer");
	bad_incident("severity", "3.0", PL_ERR_INVALID, "severity", NULL);
	bad_incident("place", "7", PL_ERR_INVALID, "place", "field 'place': must be a string");
	bad_incident("place", "\"\"", PL_ERR_INVALID, "place", "field 'place': must not be empty");
	bad_incident("place", "\"two\\nlines\"", PL_ERR_INVALID, "place", NULL);
	bad_incident("place", "\"a\\u0000b\"", PL_ERR_INVALID, "place",
		     "field 'place': holds control character U+0000 at byte 1");
	bad_incident("datum", "\"wgs84\"", PL_ERR_INVALID, "datum", NULL);
	bad_incident("category", "\"raid\"", PL_ERR_INVALID, "category", NULL);
	bad_incident("time", "\"yesterday\"", PL_ERR_INVALID, "time", NULL);
	bad_incident("time", "-1", PL_ERR_INVALID, "time", NULL);
	bad_incident("casualties", "[]", PL_ERR_INVALID, "casualties",
		     "field 'casualties': must be a JSON object");
	bad_incident("casualties", "{\"killed\": -1}", PL_ERR_INVALID, "casualties.killed", NULL);
	bad_incident("casualties", "{\"wounded\": 1}", PL_ERR_INVALID, "casualties.wounded",
		     "field 'casualties.wounded': unknown key");
	bad_incident("casualties", "{\"killed\": \"2\"}", PL_ERR_INVALID, "casualties.killed",
		     NULL);
	bad_incident("requested_action", "\"\"", PL_ERR_INVALID, "requested_action", NULL);
	bad_incident("schema", "\"parley/incident/2\"", PL_ERR_INVALID, "schema", NULL);
	bad_incident("colour", "\"red\"", PL_ERR_INVALID, "colour", "field 'colour': unknown key");
	bad_incident("description", NULL, PL_ERR_INVALID, "description",
		     "field 'description': is missing");
	bad_incident("description", "null", PL_ERR_INVALID, "description", NULL);
	char *longtext = malloc(PL_INCIDENT_DESCRIPTION_MAX + 4);
	assert_non_null(longtext);
	longtext[0] = '"';
	memset(longtext + 1, 'd', PL_INCIDENT_DESCRIPTION_MAX + 1);
	memcpy(longtext + PL_INCIDENT_DESCRIPTION_MAX + 2, "\"", 2);
	bad_incident("description", longtext, PL_ERR_LIMIT, "description",
		     "field 'description': must be at most 8000 bytes (got 8001)");
	free(longtext);

	/* Not an object at all. */
	pl_incident f;
	pl_form_errors errs;
	assert_int_equal(incident_from(load("[1, 2]"), &f, &errs), PL_ERR_INVALID);
	assert_string_equal(errs.e[0].msg, "body: must be a JSON object");

	/* Every bad field at once, each once. */
	json_t *j = sample_with("severity", "7");
	json_object_set_new(j, "colour", json_string("red"));
	json_object_set_new(j, "lat", json_string("abc"));
	json_object_del(j, "description");
	assert_int_equal(incident_from(j, &f, &errs), PL_ERR_INVALID);
	assert_int_equal(errs.n, 4);
	const char *fields[] = {"colour", "lat", "description", "severity"};
	for (size_t i = 0; i < 4; i++)
		assert_string_equal(errs.e[i].field, fields[i]);
	json_t *list = form_json_errors(&errs);
	assert_non_null(list);
	assert_int_equal(json_array_size(list), 4);
	json_t *e0 = json_array_get(list, 0);
	assert_string_equal(json_string_value(json_object_get(e0, "field")), "colour");
	assert_string_equal(json_string_value(json_object_get(e0, "error")),
			    pl_err_name(PL_ERR_INVALID));
	assert_string_equal(json_string_value(json_object_get(e0, "message")),
			    "field 'colour': unknown key");
	json_decref(list);
	errs.more = 3;
	list = form_json_errors(&errs);
	assert_int_equal(json_array_size(list), 5);
	json_decref(list);
}

static void test_request_errors(void **state)
{
	(void)state;
	pl_request r;
	pl_form_errors errs;
	json_t *j = load("{\"type\": \"mla\", \"subject\": \"\", \"summary\": 5, \"due\": true,"
			 " \"requested_state\": \"Islamabad\", \"priority\": 1}");
	assert_int_equal(form_json_to_request(j, NOW, &r, &errs), PL_ERR_INVALID);
	json_decref(j);
	assert_int_equal(errs.n, 6);
	const char *fields[] = {"priority", "type", "summary", "due", "subject", "requested_state"};
	for (size_t i = 0; i < 6; i++)
		assert_string_equal(errs.e[i].field, fields[i]);

	pl_request_step s;
	j = load("{\"to\": \"submitted\", \"note\": \"x\"}");
	assert_int_equal(form_json_to_request_step(j, &s, &errs), PL_ERR_INVALID);
	json_decref(j);
	assert_string_equal(errs.e[0].field, "to");
	j = load("{\"to\": \"granted\"}");
	assert_int_equal(form_json_to_request_step(j, &s, &errs), PL_ERR_INVALID);
	json_decref(j);
	assert_string_equal(errs.e[0].msg, "field 'note': is missing");
	j = load("{\"to\": \"granted\", \"note\": \"\", \"schema\": \"parley/request/1\"}");
	assert_int_equal(form_json_to_request_step(j, &s, &errs), PL_ERR_INVALID);
	json_decref(j);
	assert_string_equal(errs.e[0].field, "schema");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sample_to_wire), cmocka_unit_test(test_json_round_trip),
	    cmocka_unit_test(test_degrees),        cmocka_unit_test(test_incident_errors),
	    cmocka_unit_test(test_request_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
