/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target for the joint-statement parsers: every input is decoded as a
 * "statement" body and a "statement-sign" body (lib/channel/statement.c),
 * and parsed as a minisign public key file and signature file
 * (lib/crypto/minisign.c).
 *
 * Aborts when a documented property breaks: a failure comes back with a
 * documented code and leaves the output zeroed; a decoded body encodes
 * back to exactly the input (each body has one byte form); a parsed
 * minisign file formats back to exactly the input for keys, and to a file
 * that parses to the same content for signatures.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "parley/err.h"
#include "parley/minisign.h"
#include "parley/statement.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool zeroed(const void *p, size_t n)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

static void expect_code(int rc)
{
	if (rc != PL_ERR_MALFORMED && rc != PL_ERR_NONCANONICAL && rc != PL_ERR_LIMIT &&
	    rc != PL_ERR_VERSION && rc != PL_ERR_NOMEM)
		abort();
}

static void same_bytes(int rc, uint8_t *out, size_t len, const uint8_t *data, size_t size)
{
	if (rc || len != size || memcmp(out, data, size) != 0)
		abort();
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *out = NULL;
	size_t len = 0;
	pl_stmt s;
	int rc = pl_stmt_decode(data, size, &s);
	if (rc) {
		expect_code(rc);
		if (!zeroed(&s, sizeof(s)))
			abort();
	} else {
		rc = pl_stmt_encode(&s, &out, &len);
		same_bytes(rc, out, len, data, size);
		pl_stmt_clear(&s);
	}
	pl_stmt_sig g;
	rc = pl_stmt_sig_decode(data, size, &g);
	if (rc) {
		expect_code(rc);
		if (!zeroed(&g, sizeof(g)))
			abort();
	} else {
		rc = pl_stmt_sig_encode(&g, &out, &len);
		same_bytes(rc, out, len, data, size);
	}
	char *text = NULL;
	pl_minisign_pk pk;
	rc = pl_minisign_pk_parse((const char *)data, size, &pk);
	if (rc) {
		expect_code(rc);
		if (!zeroed(&pk, sizeof(pk)))
			abort();
	}
	pl_minisign_sig sig, again;
	rc = pl_minisign_sig_parse((const char *)data, size, &sig);
	if (rc) {
		expect_code(rc);
		if (!zeroed(&sig, sizeof(sig)))
			abort();
	} else {
		if (pl_minisign_sig_format(&sig, &text, &len) != 0 ||
		    pl_minisign_sig_parse(text, len, &again) != 0 ||
		    memcmp(&sig, &again, sizeof(sig)) != 0)
			abort();
		free(text);
	}
	return 0;
}
