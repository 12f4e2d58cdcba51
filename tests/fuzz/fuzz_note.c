/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target for lib/transcript's parsers: the input is tried as a signed
 * note (with Ed25519 and cosignature verifiers whose notes are in the seed
 * corpus), as a checkpoint text, as a verifier key, and as the arguments of
 * the Merkle proof verifiers.  Besides memory errors it checks invariants:
 * whatever parses and can be written again is written back byte for byte.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "parley/buf.h"
#include "parley/crypto.h"
#include "parley/transcript.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Go's sumdb/note test keys, the C2SP signed-note example key, and a
 * cosigner key (seed 01..20, see tests/unit/test_transcript.c). */
static const char *const vkeys[] = {
    "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
    "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop",
    "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
    "witness.example/w1+468d99bb+BHm1Vi6P5lT5QHixEuipi6eQH4U65pW+1+DjkQutBJZk",
};
#define NV (sizeof(vkeys) / sizeof(vkeys[0]))

static pl_note_verifier vs[NV];

static void setup(void)
{
	static bool ready;
	if (ready)
		return;
	if (pl_crypto_init() != 0)
		abort();
	for (size_t i = 0; i < NV; i++)
		if (pl_note_verifier_parse(&vs[i], vkeys[i], strlen(vkeys[i])) != 0)
			abort();
	ready = true;
}

static uint64_t be64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static void fuzz_note(const uint8_t *data, size_t size)
{
	size_t tlen = 0;
	pl_note_result res[NV];
	if (pl_note_open(data, size, vs, NV, &tlen, res) != 0)
		return;
	bool any = false;
	for (size_t i = 0; i < NV; i++)
		any = any || res[i].verified;
	if (!any || tlen == 0 || tlen >= size || data[tlen - 1] != '\n' || data[tlen] != '\n')
		abort();
	pl_checkpoint cp;
	if (pl_checkpoint_parse(&cp, data, tlen) == 0 && cp.ext &&
	    (cp.ext < data || cp.ext + cp.ext_len != data + tlen))
		abort();
}

static void fuzz_checkpoint(const uint8_t *data, size_t size)
{
	pl_checkpoint cp;
	if (pl_checkpoint_parse(&cp, data, size) != 0)
		return;
	pl_buf b = {0};
	if (pl_checkpoint_format(&cp, &b) == 0 && (b.len != size || memcmp(b.data, data, size)))
		abort();
	pl_buf_clear(&b);
}

static void fuzz_vkey(const uint8_t *data, size_t size)
{
	pl_note_verifier v;
	if (pl_note_verifier_parse(&v, (const char *)data, size) != 0)
		return;
	pl_buf b = {0};
	if (pl_note_verifier_format(&v, &b) != 0 || b.len != size || memcmp(b.data, data, size))
		abort();
	pl_buf_clear(&b);
}

/* index/m (8 bytes BE) || n (8 bytes BE) || leaf/root_m (32) || root (32) || proof */
static void fuzz_proofs(const uint8_t *data, size_t size)
{
	if (size < 80)
		return;
	uint64_t a = be64(data), n = be64(data + 8);
	size_t plen = (size - 80) / PL_HASH_BYTES;
	if (plen > PL_MERKLE_MAX_PROOF + 1)
		plen = PL_MERKLE_MAX_PROOF + 1;
	int rc = pl_merkle_verify_inclusion(data + 16, a, n, data + 80, plen, data + 48);
	if (rc == 0 && (a >= n || plen > PL_MERKLE_MAX_PROOF))
		abort();
	rc = pl_merkle_verify_consistency(a, n, data + 80, plen, data + 16, data + 48);
	if (rc == 0 && (a > n || plen > PL_MERKLE_MAX_PROOF))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	setup();
	fuzz_note(data, size);
	fuzz_checkpoint(data, size);
	fuzz_vkey(data, size);
	fuzz_proofs(data, size);
	return 0;
}
