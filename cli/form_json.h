/* SPDX-License-Identifier: Apache-2.0 */
/*
 * JSON forms for the command line: a jansson object to an incident,
 * request or request-step struct (with every bad field reported), and a
 * struct back to JSON for display.
 *
 * The JSON keys, their types and which are required are those of the CBOR
 * bodies (docs/form-incident.md, docs/form-request.md), with three
 * conveniences: "schema" may be left out (if given it must match); an
 * optional key may be null (= absent); times (time, due) may also be
 * RFC 3339 text ("2027-01-15T08:00:00Z") or an offset from now ("-2h").
 * lat and lon are decimal degrees: a string ("33.6934", at most 6
 * decimals, no exponent), an integer, or a JSON number that is exactly
 * such a decimal (a number with more than 6 decimals is refused, not
 * rounded).  Output writes lat and lon as strings with 6 decimals.
 *
 * Nothing here signs, sends or talks to a node.
 */
#ifndef PARLEY_CLI_FORM_JSON_H
#define PARLEY_CLI_FORM_JSON_H

#include <stdint.h>

#include <jansson.h>

#include "parley/forms.h"

/*
 * Fill *out from the JSON object j (borrowed).  errs may be NULL; when
 * given it is emptied and receives every bad field.  Returns 0, or the
 * first failure: PL_ERR_INVALID (not an object, unknown or missing key,
 * wrong JSON type, bad value) or PL_ERR_LIMIT (text too long), with the
 * thread's detail set to its message ("field 'severity': must be 1..5
 * (got 7)").  On failure *out is zeroed.  now resolves relative times.
 */
int form_json_to_incident(const json_t *j, int64_t now, pl_incident *out, pl_form_errors *errs);
int form_json_to_request(const json_t *j, int64_t now, pl_request *out, pl_form_errors *errs);
int form_json_to_request_step(const json_t *j, pl_request_step *out, pl_form_errors *errs);

/* The form as a new JSON object (the caller owns the reference), with the
 * "schema" key; NULL when out of memory.  f is borrowed and not checked. */
json_t *form_json_from_incident(const pl_incident *f);
json_t *form_json_from_request(const pl_request *f);
json_t *form_json_from_request_step(const pl_request_step *f);

/* The error list as a JSON array of {"field", "error", "message"} objects
 * (for --json output); NULL when out of memory. */
json_t *form_json_errors(const pl_form_errors *errs);

#define FORM_DEGREES_LEN 24 /* any int64_t as degrees, and a NUL */

/* micro-degrees as decimal degrees with exactly 6 decimals ("-73.050000"). */
void form_json_format_degrees(char out[FORM_DEGREES_LEN], int64_t micro);

/*
 * Decimal degrees (a JSON string, integer or real as described above) to
 * micro-degrees, exactly.  Returns 0, or PL_ERR_INVALID with a short reason
 * in why (without the field name).  The range (±90 / ±180) is not checked
 * here; the form's validation does it.
 */
int form_json_parse_degrees(const json_t *v, int64_t *micro, char *why, size_t whycap);

#endif /* PARLEY_CLI_FORM_JSON_H */
