/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target for COSE_Sign1 parsing and verification (lib/codec).
 *
 * Parses the input with and without PL_COSE_TAGGED and PL_CBOR_CANONICAL,
 * and verifies whatever parses against one fixed Ed25519 key (RFC 8032
 * TEST 1, the key of the cose-wg EdDSA examples, so seeds signed with it
 * reach the success path).  Aborts when a parsed message breaks the
 * documented shape: alg EdDSA, 64-byte signature, non-empty payload, and
 * every slice inside the input's decoded tree.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "parley/codec.h"
#include "parley/crypto.h"
#include "parley/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t fixed_pk[PL_PK_BYTES] = {
    0xd7, 0x5a, 0x98, 0x01, 0x82, 0xb1, 0x0a, 0xb7, 0xd5, 0x4b, 0xfe, 0xd3, 0xc9, 0x64, 0x07, 0x3a,
    0x0e, 0xe1, 0x72, 0xf3, 0xda, 0xa6, 0x23, 0x25, 0xaf, 0x02, 0x1a, 0x68, 0xf7, 0x07, 0x51, 0x1a,
};

static void one(const uint8_t *data, size_t size, unsigned flags, unsigned cbor_flags)
{
	pl_cose_sign1 m;
	if (pl_cose_sign1_decode(data, size, flags, cbor_flags, &m) != 0) {
		if (m.root)
			abort(); /* failure leaves nothing behind */
		return;
	}
	if (m.alg != PL_COSE_ALG_EDDSA || m.sig.n != PL_SIG_BYTES || m.payload.n == 0 ||
	    !m.payload.p || !m.sig.p || (m.kid.n && !m.kid.p) || !m.root)
		abort();
	int rc = pl_cose_sign1_verify(&m, NULL, 0, fixed_pk);
	if (rc != 0 && rc != PL_ERR_BAD_SIGNATURE)
		abort();
	rc = pl_cose_sign1_verify(&m, (const uint8_t *)"aad", 3, fixed_pk);
	if (rc != 0 && rc != PL_ERR_BAD_SIGNATURE)
		abort();
	/* Touch every byte the slices claim, so ASan sees a bad one. */
	volatile uint8_t sink = 0;
	for (size_t i = 0; i < m.kid.n; i++)
		sink ^= m.kid.p[i];
	for (size_t i = 0; i < m.protected_raw.n; i++)
		sink ^= m.protected_raw.p[i];
	(void)sink;
	pl_cose_sign1_clear(&m);
	if (m.root)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	if (!ready) {
		if (pl_crypto_init() != 0)
			abort();
		ready = true;
	}
	one(data, size, 0, 0);
	one(data, size, PL_COSE_TAGGED, PL_CBOR_CANONICAL);
	return 0;
}
