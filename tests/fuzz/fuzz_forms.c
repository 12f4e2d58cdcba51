/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target for the form bodies of lib/channel (include/parley/forms.h):
 * every input is decoded as an incident, a request and a request step, and
 * its first three bytes drive the request workflow checker.
 *
 * Aborts when a documented property breaks: a failure leaves the output
 * zeroed, comes back with a documented code and at least one listed error
 * whose message is the thread's detail; a success validates and encodes
 * back to exactly the input (each form has one byte form); the workflow
 * checker allows nothing from a final status, nothing into "submitted",
 * and answers only with its documented codes.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "parley/err.h"
#include "parley/forms.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool zeroed(const void *p, size_t n)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

/* The codes a decoder may return on bad input. */
static void check_failure(int rc, const pl_form_errors *errs, const void *out, size_t outlen)
{
	switch (rc) {
	case PL_ERR_MALFORMED:
	case PL_ERR_NONCANONICAL:
	case PL_ERR_LIMIT:
	case PL_ERR_TYPE:
	case PL_ERR_VERSION:
	case PL_ERR_NOMEM:
		break;
	default:
		abort();
	}
	if (errs->n < 1 || errs->e[0].code != rc || strcmp(pl_err_detail(), errs->e[0].msg) != 0 ||
	    !zeroed(out, outlen))
		abort();
}

static void same_bytes(int rc, uint8_t *enc, size_t enclen, const uint8_t *data, size_t size)
{
	if (rc != 0 || enclen != size || memcmp(enc, data, size) != 0)
		abort();
	free(enc);
}

static void fuzz_incident(const uint8_t *data, size_t size)
{
	pl_incident *f = malloc(sizeof(*f));
	pl_form_errors errs;
	if (!f)
		return;
	int rc = pl_incident_decode(data, size, f, &errs);
	if (rc) {
		check_failure(rc, &errs, f, sizeof(*f));
	} else {
		uint8_t *enc;
		size_t n;
		if (errs.n != 0 || pl_incident_validate(f, NULL) != 0)
			abort();
		int erc = pl_incident_encode(f, NULL, &enc, &n);
		same_bytes(erc, enc, n, data, size);
	}
	free(f);
}

static void fuzz_request(const uint8_t *data, size_t size)
{
	pl_request *f = malloc(sizeof(*f));
	pl_form_errors errs;
	if (!f)
		return;
	int rc = pl_request_decode(data, size, f, &errs);
	if (rc) {
		check_failure(rc, &errs, f, sizeof(*f));
	} else {
		uint8_t *enc;
		size_t n;
		if (errs.n != 0 || pl_request_validate(f, NULL) != 0 ||
		    !pl_name_is_valid(f->requested_state))
			abort();
		int erc = pl_request_encode(f, NULL, &enc, &n);
		same_bytes(erc, enc, n, data, size);
	}
	free(f);
}

static void fuzz_step(const uint8_t *data, size_t size)
{
	pl_request_step f;
	pl_form_errors errs;
	int rc = pl_request_step_decode(data, size, &f, &errs);
	if (rc) {
		check_failure(rc, &errs, &f, sizeof(f));
		return;
	}
	uint8_t *enc;
	size_t n;
	if (errs.n != 0 || f.to == PL_REQUEST_SUBMITTED || pl_request_step_validate(&f, NULL) != 0)
		abort();
	int erc = pl_request_step_encode(&f, NULL, &enc, &n);
	same_bytes(erc, enc, n, data, size);
}

static void fuzz_workflow(const uint8_t *data, size_t size)
{
	if (size < 3)
		return;
	pl_request_status cur = (pl_request_status)(data[0] % 9);
	pl_request_status to = (pl_request_status)(data[1] % 9);
	bool requested = data[2] & 1;
	int rc = pl_request_step_check(cur, to, requested, "tehran", "islamabad");
	bool in_range = cur >= PL_REQUEST_SUBMITTED && cur <= PL_REQUEST_WITHDRAWN &&
			to >= PL_REQUEST_SUBMITTED && to <= PL_REQUEST_WITHDRAWN;
	switch (rc) {
	case 0:
		if (!in_range || pl_request_status_is_final(cur) || to == PL_REQUEST_SUBMITTED ||
		    pl_err_detail()[0] != '\0')
			abort();
		/* Exactly one side may take any step. */
		if (pl_request_step_check(cur, to, !requested, NULL, NULL) != PL_ERR_WRONG_STATE)
			abort();
		break;
	case PL_ERR_INVALID:
		if (in_range)
			abort();
		break;
	case PL_ERR_TRANSITION:
	case PL_ERR_WRONG_STATE:
		if (!in_range || pl_err_detail()[0] == '\0')
			abort();
		break;
	default:
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_incident(data, size);
	fuzz_request(data, size);
	fuzz_step(data, size);
	fuzz_workflow(data, size);
	return 0;
}
