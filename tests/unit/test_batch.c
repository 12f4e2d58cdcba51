/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Batch-signed envelopes (lib/channel/batch.c): one signature over the
 * RFC 9162 root of the payloads, a COSE Receipt (RFC 9942) per envelope.
 * Each envelope must verify alone, the cache must spare the verifications
 * of a batch's other envelopes without ever accepting what the key did
 * not sign, only 'feed' credentials may batch-sign, and the bytes must be
 * those an independent encoder writes (tests/data/batch_kat.py).
 */
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
#include "parley/crypto.h"
#include "parley/err.h"
#include "parley/identity.h"

#define T0  1800000000
#define DAY 86400
#define NOW (T0 + DAY + 60)
#define NB  5

static pl_keypair tehran, islamabad, sensor, amb;
static uint8_t *cred_sensor, *cred_amb;
static size_t cred_sensor_len, cred_amb_len;

static void seed_key(pl_keypair *kp, uint8_t fill)
{
	uint8_t seed[PL_SEED_BYTES];
	memset(seed, fill, sizeof(seed));
	assert_int_equal(pl_key_from_seed(kp, seed), 0);
}

static void make_cred(const char *id, const pl_keypair *official, const char *role, uint8_t **out,
		      size_t *len)
{
	pl_cred c;
	memset(&c, 0, sizeof(c));
	strcpy(c.state, "tehran");
	strcpy(c.id, id);
	strcpy(c.name, "A Feed");
	strcpy(c.title, "Title");
	memcpy(c.pk, official->pk, PL_PK_BYTES);
	c.not_before = T0;
	c.not_after = T0 + 365 * DAY;
	if (role) {
		strcpy(c.roles[0], role);
		c.nroles = 1;
	}
	assert_int_equal(pl_cred_sign(&c, &tehran, out, len), 0);
}

/* ---------------------------------------------------------------- a node's view */

struct world {
	pl_trust *trust;
	pl_charter ch;
	struct {
		char key[200];
		uint64_t seq;
		uint8_t id[PL_HASH_BYTES];
	} streams[8];
	size_t nstreams;
	pl_sig_cache cache;
	pl_env_ctx ctx;
};

static const pl_charter *w_charter(void *arg, const char *name)
{
	struct world *w = arg;
	return strcmp(name, w->ch.name) == 0 ? &w->ch : NULL;
}

static size_t w_stream(struct world *w, const pl_env *e, bool create)
{
	char key[200];
	snprintf(key, sizeof(key), "%s|%s|%s|%u", e->state, e->author, e->ch, (unsigned)e->lane);
	for (size_t i = 0; i < w->nstreams; i++)
		if (strcmp(w->streams[i].key, key) == 0)
			return i;
	if (!create)
		return SIZE_MAX;
	assert_true(w->nstreams < 8);
	strcpy(w->streams[w->nstreams].key, key);
	w->streams[w->nstreams].seq = 0;
	return w->nstreams++;
}

static int w_last(void *arg, const pl_env *e, uint64_t *seq, uint8_t id[PL_HASH_BYTES])
{
	struct world *w = arg;
	size_t i = w_stream(w, e, false);
	*seq = i == SIZE_MAX ? 0 : w->streams[i].seq;
	if (i != SIZE_MAX)
		memcpy(id, w->streams[i].id, PL_HASH_BYTES);
	return 0;
}

static void world_init(struct world *w)
{
	memset(w, 0, sizeof(*w));
	w->trust = pl_trust_new();
	assert_non_null(w->trust);
	assert_int_equal(pl_trust_add(w->trust, "tehran", tehran.pk), 0);
	assert_int_equal(pl_trust_add(w->trust, "islamabad", islamabad.pk), 0);
	const char *const states[] = {"tehran", "islamabad"};
	const char *const kinds[] = {"reading"};
	pl_slice members[] = {{cred_sensor, cred_sensor_len}, {cred_amb, cred_amb_len}};
	pl_charter_spec s = {
	    "sensors", 1, T0,    states, 2,
	    members,   2, kinds, 1,      (1u << PL_LANE_FLASH) | (1u << PL_LANE_ROUTINE),
	    {NULL}};
	assert_int_equal(pl_charter_build(&s, w->trust, &w->ch), 0);
	assert_int_equal(pl_charter_sign(&w->ch, w->trust, "tehran", &tehran), 0);
	assert_int_equal(pl_charter_sign(&w->ch, w->trust, "islamabad", &islamabad), 0);
	w->ctx = (pl_env_ctx){.trust = w->trust,
			      .charter = w_charter,
			      .last = w_last,
			      .arg = w,
			      .sigs = &w->cache,
			      .now = NOW,
			      .max_future = PL_ENV_SKEW_DEFAULT};
}

static void world_free(struct world *w)
{
	pl_charter_clear(&w->ch);
	pl_trust_free(w->trust);
}

/* Verify; when accepted, advance the stream as a node does after its commit. */
static int w_accept(struct world *w, const uint8_t *b, size_t n)
{
	pl_env e;
	int rc = pl_env_verify(b, n, &w->ctx, &e);
	if (rc)
		return rc;
	size_t i = w_stream(w, &e, true);
	w->streams[i].seq = e.seq;
	memcpy(w->streams[i].id, e.id, PL_HASH_BYTES);
	pl_env_clear(&e);
	return 0;
}

/* ---------------------------------------------------------------- batches */

static char bodies[NB][32];

/* NB readings: seq 1..3 on ROUTINE, then seq 1..2 on FLASH, chained by batch id. */
static void batch_envs(pl_env e[NB], const char *author)
{
	for (size_t i = 0; i < NB; i++) {
		memset(&e[i], 0, sizeof(e[i]));
		strcpy(e[i].ch, "sensors");
		strcpy(e[i].state, "tehran");
		strcpy(e[i].author, author);
		strcpy(e[i].kind, "reading");
		e[i].at = T0 + DAY;
		e[i].lane = i < 3 ? PL_LANE_ROUTINE : PL_LANE_FLASH;
		e[i].seq = i < 3 ? i + 1 : i - 2;
		snprintf(bodies[i], sizeof(bodies[i]), "post 17: reading %zu", i);
		e[i].body = (const uint8_t *)bodies[i];
		e[i].body_len = strlen(bodies[i]);
		if (e[i].seq > 1)
			assert_int_equal(pl_env_batch_id(&e[i - 1], e[i].prev), 0);
	}
}

static void sign_batch(const char *author, const pl_keypair *kp, uint8_t *out[NB], size_t len[NB])
{
	pl_env e[NB];
	batch_envs(e, author);
	assert_int_equal(pl_env_sign_batch(e, NB, kp, out, len), 0);
}

static void free_batch(uint8_t *out[NB])
{
	for (size_t i = 0; i < NB; i++)
		free(out[i]);
}

static bool detail_has(const char *s)
{
	return strstr(pl_err_detail(), s) != NULL;
}

static void test_roundtrip_and_cache(void **state)
{
	(void)state;
	uint8_t *out[NB];
	size_t len[NB];
	pl_env want[NB];
	batch_envs(want, "sensor-17");
	sign_batch("sensor-17", &sensor, out, len);
	struct world w;
	world_init(&w);
	for (size_t i = 0; i < NB; i++) {
		assert_true(pl_env_is_batched(out[i], len[i]));
		pl_env e;
		assert_int_equal(pl_env_parse(out[i], len[i], &e), 0);
		assert_true(e.batched);
		assert_int_equal(e.seq, want[i].seq);
		assert_int_equal(e.lane, want[i].lane);
		assert_memory_equal(e.body, want[i].body, want[i].body_len);
		/* the id is what the author chained by, and what pl_env_id says */
		uint8_t id[PL_HASH_BYTES], id2[PL_HASH_BYTES];
		assert_int_equal(pl_env_batch_id(&want[i], id), 0);
		assert_memory_equal(e.id, id, PL_HASH_BYTES);
		pl_env_id(id2, out[i], len[i]);
		assert_memory_equal(id2, id, PL_HASH_BYTES);
		uint8_t kid[PL_KEYID_BYTES];
		pl_key_id(kid, sensor.pk);
		assert_memory_equal(e.kid, kid, PL_KEYID_BYTES);
		pl_env_clear(&e);
		assert_int_equal(w_accept(&w, out[i], len[i]), 0);
	}
	/* one Ed25519 verification for the five */
	assert_int_equal(w.cache.checks, 1);
	assert_int_equal(w.cache.hits, NB - 1);
	/* a second time they are replays, decided after the (cached) signature */
	assert_int_equal(w_accept(&w, out[0], len[0]), PL_ERR_REPLAY);
	assert_int_equal(w.cache.checks, 1);
	world_free(&w);
	free_batch(out);
}

/* Each envelope verifies alone, without the others, with no cache. */
static void test_each_alone(void **state)
{
	(void)state;
	uint8_t *out[NB];
	size_t len[NB];
	sign_batch("sensor-17", &sensor, out, len);
	for (size_t i = 0; i < NB; i++) {
		struct world w;
		world_init(&w);
		w.ctx.sigs = NULL;
		w.ctx.last = NULL; /* offline: the journalist's check */
		pl_env e;
		assert_int_equal(pl_env_verify(out[i], len[i], &w.ctx, &e), 0);
		assert_true(e.batched);
		pl_env_clear(&e);
		world_free(&w);
	}
	free_batch(out);
}

/* Where the body's text sits in a frame. */
static size_t find(const uint8_t *b, size_t n, const char *s)
{
	size_t k = strlen(s);
	for (size_t i = 0; i + k <= n; i++)
		if (memcmp(b + i, s, k) == 0)
			return i;
	fail_msg("'%s' not found", s);
	return 0;
}

static void test_tampering(void **state)
{
	(void)state;
	uint8_t *out[NB];
	size_t len[NB];
	sign_batch("sensor-17", &sensor, out, len);
	struct world w;
	world_init(&w);
	w.ctx.last = NULL;
	/* the good one first, so its signature is in the cache */
	assert_int_equal(pl_env_verify(out[0], len[0], &w.ctx, NULL), 0);
	assert_int_equal(w.cache.checks, 1);

	/* a changed reading: the path leads to another root, the cache has no
	 * such entry, and the key did not sign it */
	uint8_t *t = malloc(len[0]);
	memcpy(t, out[0], len[0]);
	t[find(t, len[0], "reading 0") + 8] = '9';
	assert_int_equal(pl_env_verify(t, len[0], &w.ctx, NULL), PL_ERR_BAD_SIGNATURE);
	assert_true(detail_has("did not sign its batch"));
	assert_int_equal(w.cache.checks, 2);

	/* a flipped bit in every byte of the receipt's path and signature:
	 * refused, never through the cache */
	size_t body_end = find(out[0], len[0], "reading 0") + 9;
	for (size_t i = body_end; i < len[0]; i++) {
		memcpy(t, out[0], len[0]);
		t[i] ^= 0x04;
		int rc = pl_env_verify(t, len[0], &w.ctx, NULL);
		assert_int_not_equal(rc, 0);
	}
	/* envelope 1's reading with envelope 0's receipt: another leaf */
	size_t off0 = find(out[0], len[0], "reading 0"), off1 = find(out[1], len[1], "reading 1");
	memcpy(t, out[0], len[0]);
	memcpy(t + off0, out[1] + off1, 9);
	assert_int_equal(pl_env_verify(t, len[0], &w.ctx, NULL), PL_ERR_BAD_SIGNATURE);
	free(t);

	/* truncations: refused, never a crash, and an id for each */
	for (size_t n = 0; n < len[0]; n++) {
		uint8_t id[PL_HASH_BYTES];
		pl_env_id(id, out[0], n);
		pl_env e;
		assert_int_not_equal(pl_env_parse(out[0], n, &e), 0);
		assert_null(e.own_);
	}
	world_free(&w);
	free_batch(out);
}

/* Only a credential with the role 'feed' may batch-sign. */
static void test_role(void **state)
{
	(void)state;
	uint8_t *out[NB];
	size_t len[NB];
	sign_batch("amb", &amb, out, len);
	struct world w;
	world_init(&w);
	assert_int_equal(w_accept(&w, out[0], len[0]), PL_ERR_BAD_SIGNATURE);
	assert_true(detail_has("role 'feed'"));
	assert_int_equal(w.cache.checks, 0);
	/* the same official signing one envelope alone is accepted */
	pl_env e[NB];
	batch_envs(e, "amb");
	uint8_t *one;
	size_t onelen;
	assert_int_equal(pl_env_sign(&e[0], &amb, &one, &onelen), 0);
	assert_false(pl_env_is_batched(one, onelen));
	assert_int_equal(w_accept(&w, one, onelen), 0);
	free(one);
	/* another member's key naming the sensor: refused at the kid */
	free_batch(out);
	sign_batch("sensor-17", &amb, out, len);
	assert_int_equal(w_accept(&w, out[0], len[0]), PL_ERR_BAD_SIGNATURE);
	world_free(&w);
	free_batch(out);
}

static void test_limits(void **state)
{
	(void)state;
	pl_env e[NB];
	batch_envs(e, "sensor-17");
	uint8_t *out[PL_ENV_BATCH_MAX + 1];
	size_t len[PL_ENV_BATCH_MAX + 1];
	assert_int_equal(pl_env_sign_batch(e, 1, &sensor, out, len), PL_ERR_LIMIT);
	assert_null(out[0]);
	/* an invalid envelope anywhere: nothing is signed */
	e[3].seq = 0;
	assert_int_equal(pl_env_sign_batch(e, NB, &sensor, out, len), PL_ERR_INVALID);
	for (size_t i = 0; i < NB; i++)
		assert_null(out[i]);
	/* the largest batch: 4096, paths of 12 hashes, each verifies */
	static pl_env big[PL_ENV_BATCH_MAX + 1];
	for (size_t i = 0; i <= PL_ENV_BATCH_MAX; i++) {
		big[i] = e[0];
		big[i].seq = i + 1;
		big[i].lane = PL_LANE_ROUTINE;
		if (i)
			assert_int_equal(pl_env_batch_id(&big[i - 1], big[i].prev), 0);
	}
	assert_int_equal(pl_env_sign_batch(big, PL_ENV_BATCH_MAX + 1, &sensor, out, len),
			 PL_ERR_LIMIT);
	assert_int_equal(pl_env_sign_batch(big, PL_ENV_BATCH_MAX, &sensor, out, len), 0);
	struct world w;
	world_init(&w);
	for (size_t i = 0; i < PL_ENV_BATCH_MAX; i++) {
		assert_int_equal(w_accept(&w, out[i], len[i]), 0);
		free(out[i]);
	}
	assert_int_equal(w.cache.checks, 1);
	assert_int_equal(w.cache.hits, PL_ENV_BATCH_MAX - 1);
	world_free(&w);
}

/*
 * Known answer, written by tests/data/batch_kat.py (its own CBOR encoder,
 * hashlib and the cryptography package's Ed25519): key seed 32 x 0x21,
 * three envelopes of "sensor-17"@tehran on "sensors"/ROUTINE, seq 1..3,
 * at 1800086400, kind "reading", bodies "r0", "r1", "r2".
 */
#include "batch_kat.h"

static void test_known_answer(void **state)
{
	(void)state;
	pl_keypair kp;
	seed_key(&kp, 0x21);
	pl_env e[3];
	static const char *const body[] = {"r0", "r1", "r2"};
	for (size_t i = 0; i < 3; i++) {
		memset(&e[i], 0, sizeof(e[i]));
		strcpy(e[i].ch, "sensors");
		strcpy(e[i].state, "tehran");
		strcpy(e[i].author, "sensor-17");
		strcpy(e[i].kind, "reading");
		e[i].at = 1800086400;
		e[i].lane = PL_LANE_ROUTINE;
		e[i].seq = i + 1;
		e[i].body = (const uint8_t *)body[i];
		e[i].body_len = 2;
		if (i)
			assert_int_equal(pl_env_batch_id(&e[i - 1], e[i].prev), 0);
	}
	uint8_t *out[3];
	size_t len[3];
	assert_int_equal(pl_env_sign_batch(e, 3, &kp, out, len), 0);
	for (size_t i = 0; i < 3; i++) {
		size_t n = strlen(batch_kat_hex[i]) / 2;
		uint8_t *want = malloc(n);
		size_t got = 0;
		assert_int_equal(pl_hex_decode(want, n, &got, batch_kat_hex[i], 2 * n), 0);
		assert_int_equal(got, n);
		assert_int_equal(len[i], n);
		assert_memory_equal(out[i], want, n);
		free(want);
		free(out[i]);
	}
}

static int setup(void **state)
{
	(void)state;
	assert_int_equal(pl_crypto_init(), 0);
	seed_key(&tehran, 1);
	seed_key(&islamabad, 2);
	seed_key(&sensor, 21);
	seed_key(&amb, 22);
	make_cred("sensor-17", &sensor, PL_ENV_BATCH_ROLE, &cred_sensor, &cred_sensor_len);
	make_cred("amb", &amb, NULL, &cred_amb, &cred_amb_len);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	free(cred_sensor);
	free(cred_amb);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_roundtrip_and_cache),
	    cmocka_unit_test(test_each_alone),
	    cmocka_unit_test(test_tampering),
	    cmocka_unit_test(test_role),
	    cmocka_unit_test(test_limits),
	    cmocka_unit_test(test_known_answer),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
