/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Structured forms carried as envelope bodies: border-incident reports
 * (kind "incident"), cooperation requests (kind "request") and the steps of
 * a request's workflow (kind "request-step"), plus that workflow's state
 * machine.
 *
 * Each body is one canonical CBOR map with text keys and a "schema" key
 * naming its type and version ("parley/incident/1").  Encoding validates
 * the struct and writes the one canonical byte form; decoding is strict
 * (canonical CBOR, no unknown keys, every bound checked) and fills the
 * struct.  Validation reports one field-level reason per failure
 * ("field 'severity': must be 1..5 (got 7)") and can collect every bad
 * field at once in a pl_form_errors list.  docs/form-incident.md and
 * docs/form-request.md give the schemas and the workflow.
 *
 * This module does no I/O and reads no clock.  It does not know who sent a
 * form, whether a request's requested state is in the charter, or what the
 * current status of a request is: the node checks those and passes the
 * answers to pl_request_step_check().
 *
 * Divisions: errors; names; incident; request; request-step; envelopes;
 * workflow.
 */
#ifndef PARLEY_FORMS_H
#define PARLEY_FORMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "parley/channel.h"
#include "parley/export.h"
#include "parley/identity.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ================================================================ errors */

#define PL_FORM_ERRORS_MAX 16
#define PL_FORM_FIELD_MAX  31  /* "casualties.injured" */
#define PL_FORM_MSG_MAX    191 /* one message, bytes */

/* One field-level failure. */
typedef struct pl_form_error {
	int code;                          /* PL_ERR_INVALID, _MALFORMED, _LIMIT, ... */
	char field[PL_FORM_FIELD_MAX + 1]; /* key path, "" for the body as a whole */
	char msg[PL_FORM_MSG_MAX + 1];     /* "field 'severity': must be 1..5 (got 7)" */
} pl_form_error;

/*
 * Every failure found in one form, in the order found, at most one per
 * field.  Errors past PL_FORM_ERRORS_MAX are counted in `more`.
 */
typedef struct pl_form_errors {
	size_t n;
	size_t more;
	pl_form_error e[PL_FORM_ERRORS_MAX];
} pl_form_errors;

/* Empty the list. */
PL_EXPORT void pl_form_errors_init(pl_form_errors *errs);
/*
 * Record a failure of field ("" for the whole body) unless the list already
 * holds one for that field or a parent of it ("casualties" covers
 * "casualties.killed").  The message becomes "field '<field>': <fmt...>"
 * ("body: <fmt...>" for ""), cut to PL_FORM_MSG_MAX bytes.  Returns code.
 */
PL_EXPORT int pl_form_errors_add(pl_form_errors *errs, int code, const char *field, const char *fmt,
				 ...) PL_PRINTF(4, 5);
/* true when the list holds a failure of field or of a parent of it. */
PL_EXPORT bool pl_form_errors_has(const pl_form_errors *errs, const char *field);
/* Append src's entries to dst, skipping fields dst already covers. */
PL_EXPORT void pl_form_errors_merge(pl_form_errors *dst, const pl_form_errors *src);
/*
 * 0 when the list is empty; otherwise set the thread's error detail to the
 * first message and return the first code.
 */
PL_EXPORT int pl_form_errors_result(const pl_form_errors *errs);

/* ================================================================ names */

#define PL_FORM_KIND_INCIDENT     "incident"
#define PL_FORM_KIND_REQUEST      "request"
#define PL_FORM_KIND_REQUEST_STEP "request-step"

#define PL_FORM_SCHEMA_INCIDENT     "parley/incident/1"
#define PL_FORM_SCHEMA_REQUEST      "parley/request/1"
#define PL_FORM_SCHEMA_REQUEST_STEP "parley/request-step/1"

/* Largest encoded form body a decoder accepts (bytes). */
#define PL_FORM_BODY_MAX (32 * 1024)

/* Times are Unix seconds in 0..PL_FORM_TIME_MAX (9999-12-31T23:59:59Z). */
#define PL_FORM_TIME_MAX INT64_C(253402300799)

/*
 * Enumerations are written as fixed lower-case names on the wire (and in
 * JSON).  Each has a _name() giving that name ("unknown" for a value out of
 * range) and a _parse() that accepts exactly those names (case matters) and
 * fails with PL_ERR_MALFORMED and a detail otherwise.
 */

typedef enum pl_incident_category {
	PL_INCIDENT_ARMED_INCURSION = 1, /* "armed-incursion" */
	PL_INCIDENT_CROSS_BORDER_FIRE,   /* "cross-border-fire" */
	PL_INCIDENT_MILITANT_MOVEMENT,   /* "militant-movement" */
	PL_INCIDENT_SMUGGLING,           /* "smuggling" */
	PL_INCIDENT_AIRSPACE_VIOLATION,  /* "airspace-violation" */
	PL_INCIDENT_OTHER,               /* "other" */
} pl_incident_category;

/* Geodetic datum of a position (EPSG code in brackets). */
typedef enum pl_datum {
	PL_DATUM_WGS84 = 1,      /* "WGS84" [4326] */
	PL_DATUM_ETRS89,         /* "ETRS89" [4258] */
	PL_DATUM_ED50,           /* "ED50" [4230] */
	PL_DATUM_NAD83,          /* "NAD83" [4269] */
	PL_DATUM_KALIANPUR_1962, /* "Kalianpur1962" [4145] */
} pl_datum;

typedef enum pl_request_type {
	PL_REQUEST_EXTRADITION = 1,         /* "extradition" */
	PL_REQUEST_MUTUAL_LEGAL_ASSISTANCE, /* "mutual-legal-assistance" */
	PL_REQUEST_CONSULAR_ACCESS,         /* "consular-access" */
	PL_REQUEST_INFORMATION,             /* "information" */
} pl_request_type;

typedef enum pl_request_status {
	PL_REQUEST_SUBMITTED = 1,     /* "submitted": the request envelope itself */
	PL_REQUEST_ACKNOWLEDGED,      /* "acknowledged" */
	PL_REQUEST_UNDER_REVIEW,      /* "under-review" */
	PL_REQUEST_GRANTED,           /* "granted" (final) */
	PL_REQUEST_PARTIALLY_GRANTED, /* "partially-granted" (final) */
	PL_REQUEST_REFUSED,           /* "refused" (final) */
	PL_REQUEST_WITHDRAWN,         /* "withdrawn" (final) */
} pl_request_status;

PL_EXPORT const char *pl_incident_category_name(pl_incident_category c);
PL_EXPORT int pl_incident_category_parse(const char *s, pl_incident_category *out) PL_WUR;
PL_EXPORT const char *pl_datum_name(pl_datum d);
PL_EXPORT int pl_datum_parse(const char *s, pl_datum *out) PL_WUR;
PL_EXPORT const char *pl_request_type_name(pl_request_type t);
PL_EXPORT int pl_request_type_parse(const char *s, pl_request_type *out) PL_WUR;
PL_EXPORT const char *pl_request_status_name(pl_request_status s);
PL_EXPORT int pl_request_status_parse(const char *s, pl_request_status *out) PL_WUR;

/* ================================================================ forms */

/*
 * Common contract of the _validate, _encode and _decode functions below.
 *
 * errs may be NULL.  When given, it is emptied and receives every failure
 * found; the return value and the thread's error detail are those of the
 * first.  Text fields are C strings in fixed buffers, counted in bytes of
 * UTF-8 (not characters); an optional text field is absent when "".
 * "One line" text holds no control characters (C0, DEL, C1); multi-line
 * text may also hold LF and TAB (no CR).  The structs hold their text inline
 * (pl_incident is about 10 KiB): no free function is needed, and where the
 * stack is tight they may live on the heap.
 *
 * _validate(f): 0, or PL_ERR_INVALID for a bad value (out of range, unknown
 *   enum value, bad UTF-8 or control characters, a required text empty or
 *   not NUL-terminated within its buffer).  f is borrowed.
 * _encode(f): validates f as _validate does, then writes the canonical CBOR map;
 *   *out is malloc'd (the caller frees it), NULL on failure.
 * _decode(buf): buf is borrowed for the call.  Input that is not one
 *   canonical CBOR map fails as the codec says (PL_ERR_MALFORMED,
 *   PL_ERR_NONCANONICAL, PL_ERR_LIMIT); a "schema" of another form is
 *   PL_ERR_TYPE, another version of this form PL_ERR_VERSION; a missing or
 *   unknown key, a wrong type and a bad value are PL_ERR_MALFORMED; a text
 *   longer than its bound is PL_ERR_LIMIT.  On failure *out is zeroed.
 */

/* ---------------------------------------------------------------- incident */

#define PL_INCIDENT_LAT_MAX         90000000  /* micro-degrees */
#define PL_INCIDENT_LON_MAX         180000000 /* micro-degrees */
#define PL_INCIDENT_PLACE_MAX       200
#define PL_INCIDENT_DESCRIPTION_MAX 8000
#define PL_INCIDENT_ACTION_MAX      2000
#define PL_INCIDENT_REF_ID_MAX      64
#define PL_INCIDENT_SEVERITY_MIN    1
#define PL_INCIDENT_SEVERITY_MAX    5
#define PL_INCIDENT_CASUALTIES_MAX  1000000 /* per count */

/* Casualty counts; a count not present is "not known", which is not 0. */
typedef struct pl_casualties {
	bool has_killed, has_injured, has_missing;
	int64_t killed, injured, missing; /* 0..PL_INCIDENT_CASUALTIES_MAX */
} pl_casualties;

/* A border-incident report, kind "incident", schema "parley/incident/1".
 * CBOR keys in brackets; "opt" marks optional keys. */
typedef struct pl_incident {
	int64_t time;                          /* [time] when it happened, Unix seconds */
	int64_t lat;                           /* [lat] micro-degrees, -90e6..90e6 */
	int64_t lon;                           /* [lon] micro-degrees, -180e6..180e6 */
	pl_datum datum;                        /* [datum] */
	char place[PL_INCIDENT_PLACE_MAX + 1]; /* [place] one line, 1..200 bytes */
	pl_incident_category category;         /* [category] */
	int64_t severity;                      /* [severity] 1..5 */
	pl_casualties casualties;              /* [casualties] a map, may be empty */
	char description[PL_INCIDENT_DESCRIPTION_MAX + 1]; /* [description] multi-line, 1..8000 */
	char requested_action[PL_INCIDENT_ACTION_MAX + 1]; /* [requested_action] opt, multi-line,
							     1..2000 */
	char ref_id[PL_INCIDENT_REF_ID_MAX + 1]; /* [ref_id] opt, one line, 1..64: the reporting
						    post's own reference */
} pl_incident;

PL_EXPORT int pl_incident_validate(const pl_incident *f, pl_form_errors *errs) PL_WUR;
PL_EXPORT int pl_incident_encode(const pl_incident *f, pl_form_errors *errs, uint8_t **out,
				 size_t *len) PL_WUR;
PL_EXPORT int pl_incident_decode(const uint8_t *buf, size_t len, pl_incident *out,
				 pl_form_errors *errs) PL_WUR;

/* ---------------------------------------------------------------- request */

#define PL_REQUEST_SUBJECT_MAX     200
#define PL_REQUEST_SUMMARY_MAX     8000
#define PL_REQUEST_LEGAL_BASIS_MAX 1000

/* A cooperation request, kind "request", schema "parley/request/1". */
typedef struct pl_request {
	pl_request_type type;                             /* [type] */
	char subject[PL_REQUEST_SUBJECT_MAX + 1];         /* [subject] one line, 1..200 */
	char summary[PL_REQUEST_SUMMARY_MAX + 1];         /* [summary] multi-line, 1..8000 */
	char legal_basis[PL_REQUEST_LEGAL_BASIS_MAX + 1]; /* [legal_basis] opt, multi-line,
							     1..1000 */
	bool has_due;
	int64_t due;                           /* [due] opt, Unix seconds */
	char requested_state[PL_NAME_MAX + 1]; /* [requested_state] a valid state name:
						  the state asked to decide */
} pl_request;

PL_EXPORT int pl_request_validate(const pl_request *f, pl_form_errors *errs) PL_WUR;
PL_EXPORT int pl_request_encode(const pl_request *f, pl_form_errors *errs, uint8_t **out,
				size_t *len) PL_WUR;
PL_EXPORT int pl_request_decode(const uint8_t *buf, size_t len, pl_request *out,
				pl_form_errors *errs) PL_WUR;

/* ---------------------------------------------------------------- request-step */

#define PL_REQUEST_NOTE_MAX 4000

/* One workflow step, kind "request-step", schema "parley/request-step/1".
 * The envelope's ref is the id of the request envelope. */
typedef struct pl_request_step {
	pl_request_status to;               /* [to] acknowledged .. withdrawn (not submitted) */
	char note[PL_REQUEST_NOTE_MAX + 1]; /* [note] multi-line, 0..4000 (always present) */
} pl_request_step;

PL_EXPORT int pl_request_step_validate(const pl_request_step *f, pl_form_errors *errs) PL_WUR;
PL_EXPORT int pl_request_step_encode(const pl_request_step *f, pl_form_errors *errs, uint8_t **out,
				     size_t *len) PL_WUR;
PL_EXPORT int pl_request_step_decode(const uint8_t *buf, size_t len, pl_request_step *out,
				     pl_form_errors *errs) PL_WUR;

/* ================================================================ envelopes */

/* true when kind is one of the three form kinds. */
PL_EXPORT bool pl_form_kind_is_form(const char *kind);

/*
 * What a form kind requires of an envelope: its body decodes as that kind
 * (as the _decode functions above, same codes), and a "request-step"
 * carries a ref (else PL_ERR_MALFORMED, field "ref").  Envelopes of other
 * kinds pass (0).  e is borrowed; errs as above.
 */
PL_EXPORT int pl_form_check_env(const pl_env *e, pl_form_errors *errs) PL_WUR;

/* ================================================================ workflow */

/* true for granted, partially-granted, refused and withdrawn. */
PL_EXPORT bool pl_request_status_is_final(pl_request_status s);

/*
 * May a request in status cur move to status `to`, by a step whose author
 * is of the requested state (by_requested_side) or of the requesting state
 * (!by_requested_side)?  The arrows, and nothing else:
 *
 *   submitted    -> acknowledged                          requested side
 *   acknowledged -> under-review                          requested side
 *   under-review -> granted | partially-granted | refused requested side
 *   submitted | acknowledged | under-review -> withdrawn  requesting side
 *
 * Returns 0; PL_ERR_TRANSITION when cur is final ("a refused request is
 * final") or the arrow is not listed ("a submitted request cannot become
 * granted (next: acknowledged, withdrawn)"); PL_ERR_WRONG_STATE when the
 * arrow exists but belongs to the other side ("only the requested state
 * (islamabad) may grant"); PL_ERR_INVALID for values out of range.  The
 * state names only improve the detail and may be NULL.  Always sets or
 * clears the detail.
 */
PL_EXPORT int pl_request_step_check(pl_request_status cur, pl_request_status to,
				    bool by_requested_side, const char *requesting_state,
				    const char *requested_state) PL_WUR;

#ifdef __cplusplus
}
#endif
#endif /* PARLEY_FORMS_H */
