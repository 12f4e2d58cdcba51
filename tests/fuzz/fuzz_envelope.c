/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target for lib/channel: every input goes to pl_env_parse,
 * pl_env_verify (against a fixed, complete two-state charter) and
 * pl_charter_open (against a fixed trust set).
 *
 * The world is made from fixed seeds so that the seed corpus, signed with
 * the same keys, reaches every step of the verification: roots Tehran (seed
 * byte 1) and Islamabad (2), officials amb-islamabad@tehran (11),
 * fm@islamabad (12) and the machine feed sensor-17@tehran (21, role feed:
 * may batch-sign; its seeds env-batch-* are written by
 * tests/data/batch_kat.py --seeds), credentials valid from 1800000000 for a year; the
 * charter "border" allows kinds message, ack and read on every lane but
 * PRIORITY; fm is suspended from 1800000000 + 100 days; the ROUTINE stream
 * of every author has accepted seq 1, whose id is 32 bytes of 0x11.
 *
 * Aborts when a documented property breaks: failures leave outputs zeroed;
 * a parsed envelope re-signs and re-parses to the same fields (a batched
 * one, re-signed in another batch, keeps its id: the hash of its payload); an opened
 * charter encodes back to exactly the input (there is one byte form); an
 * accepted envelope also parses; only documented codes come back.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "parley/channel.h"
#include "parley/codec.h"
#include "parley/crypto.h"
#include "parley/err.h"
#include "parley/identity.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define T0  1800000000
#define DAY 86400

static pl_trust *trust;
static pl_charter charter;
static pl_status_list status_isl;
static pl_keypair resigner;

static void must(int rc)
{
	if (rc != 0)
		abort();
}

static void key(pl_keypair *kp, uint8_t fill)
{
	uint8_t seed[PL_SEED_BYTES];
	memset(seed, fill, sizeof(seed));
	must(pl_key_from_seed(kp, seed));
}

static void cred(const char *state, const char *id, const pl_keypair *official,
		 const pl_keypair *root, const char *role, uint8_t **out, size_t *len)
{
	pl_cred c;
	memset(&c, 0, sizeof(c));
	memcpy(c.state, state, strlen(state) + 1);
	memcpy(c.id, id, strlen(id) + 1);
	memcpy(c.name, "An Official", sizeof("An Official"));
	memcpy(c.title, "Title", sizeof("Title"));
	memcpy(c.pk, official->pk, PL_PK_BYTES);
	c.not_before = T0;
	c.not_after = T0 + 365 * DAY;
	if (role) {
		memcpy(c.roles[0], role, strlen(role) + 1);
		c.nroles = 1;
	}
	must(pl_cred_sign(&c, root, out, len));
}

static void init(void)
{
	must(pl_crypto_init());
	pl_keypair teh, isl, amb, fm, sensor;
	key(&teh, 1);
	key(&isl, 2);
	key(&amb, 11);
	key(&fm, 12);
	key(&sensor, 21);
	key(&resigner, 99);
	trust = pl_trust_new();
	if (!trust)
		abort();
	must(pl_trust_add(trust, "tehran", teh.pk));
	must(pl_trust_add(trust, "islamabad", isl.pk));
	uint8_t *ca, *cf, *cs;
	size_t na, nf, ns;
	cred("tehran", "amb-islamabad", &amb, &teh, NULL, &ca, &na);
	cred("islamabad", "fm", &fm, &isl, NULL, &cf, &nf);
	cred("tehran", "sensor-17", &sensor, &teh, PL_ENV_BATCH_ROLE, &cs, &ns);
	const char *const states[] = {"tehran", "islamabad"};
	const char *const kinds[] = {"message", "ack", "read"};
	pl_slice members[] = {{ca, na}, {cf, nf}, {cs, ns}};
	pl_charter_spec s = {.name = "border",
			     .version = 1,
			     .created = T0,
			     .states = states,
			     .nstates = 2,
			     .members = members,
			     .nmembers = 3,
			     .kinds = kinds,
			     .nkinds = 3,
			     .lanes = (1u << PL_LANE_FLASH) | (1u << PL_LANE_IMMEDIATE) |
				      (1u << PL_LANE_ROUTINE)};
	must(pl_charter_build(&s, trust, &charter));
	must(pl_charter_sign(&charter, trust, "tehran", &teh));
	must(pl_charter_sign(&charter, trust, "islamabad", &isl));
	free(ca);
	free(cf);
	free(cs);
	pl_status_list_init(&status_isl, "islamabad");
	must(pl_status_list_append(&status_isl, "fm", PL_STATUS_SUSPENDED, T0 + 100 * DAY, "",
				   T0 + 100 * DAY));
	pl_key_wipe(&teh);
	pl_key_wipe(&isl);
}

static const pl_charter *cb_charter(void *arg, const char *ch)
{
	(void)arg;
	return strcmp(ch, charter.name) == 0 ? &charter : NULL;
}

static const pl_status_list *cb_status(void *arg, const char *state)
{
	(void)arg;
	return strcmp(state, "islamabad") == 0 ? &status_isl : NULL;
}

static int cb_last(void *arg, const pl_env *e, uint64_t *seq, uint8_t id[PL_HASH_BYTES])
{
	(void)arg;
	*seq = e->lane == PL_LANE_ROUTINE ? 1 : 0;
	memset(id, 0x11, PL_HASH_BYTES);
	return 0;
}

static bool zeroed(const void *p, size_t n)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

static bool same_fields(const pl_env *r, const pl_env *e)
{
	return !strcmp(r->ch, e->ch) && !strcmp(r->state, e->state) &&
	       !strcmp(r->author, e->author) && !strcmp(r->kind, e->kind) && r->at == e->at &&
	       r->seq == e->seq && r->lane == e->lane && !memcmp(r->prev, e->prev, PL_HASH_BYTES) &&
	       r->has_ref == e->has_ref && !memcmp(r->ref, e->ref, PL_HASH_BYTES) &&
	       r->has_ackby == e->has_ackby && r->ackby == e->ackby && r->body_len == e->body_len &&
	       !memcmp(r->body, e->body, e->body_len);
}

/* A batched envelope, re-signed by another key in a batch of two, comes
 * back with the same fields and the same id (its payload's hash). */
static void check_batched(const pl_env *e)
{
	pl_env two[2] = {*e, *e};
	two[1].seq = e->seq + 1;
	must(pl_env_batch_id(e, two[1].prev));
	uint8_t *out[2];
	size_t len[2];
	must(pl_env_sign_batch(two, 2, &resigner, out, len));
	pl_env r;
	must(pl_env_parse(out[0], len[0], &r));
	if (!r.batched || !same_fields(&r, e) || memcmp(r.id, e->id, PL_HASH_BYTES) != 0)
		abort();
	pl_env_clear(&r);
	free(out[0]);
	free(out[1]);
}

static void check_parse(const uint8_t *data, size_t size)
{
	pl_env e;
	if (pl_env_parse(data, size, &e) != 0) {
		if (!zeroed(&e, sizeof(e)))
			abort();
		return;
	}
	if (!pl_name_is_valid(e.ch) || !pl_name_is_valid(e.state) || !pl_name_is_valid(e.author) ||
	    !pl_name_is_valid(e.kind) || !pl_lane_is_valid((unsigned)e.lane) || e.seq == 0 ||
	    e.body_len > PL_ENV_BODY_MAX || !e.body || !e.own_)
		abort();
	uint8_t id[PL_HASH_BYTES];
	pl_env_id(id, data, size);
	if (memcmp(id, e.id, PL_HASH_BYTES) != 0)
		abort();
	if (e.batched) {
		check_batched(&e);
		pl_env_clear(&e);
		return;
	}
	/* Re-signed by another key, the same fields come back. */
	uint8_t *again;
	size_t alen;
	must(pl_env_sign(&e, &resigner, &again, &alen));
	pl_env r;
	must(pl_env_parse(again, alen, &r));
	if (!same_fields(&r, &e))
		abort();
	/* Same payload, other signer: only the kid and the signature differ.
	 * d2 84 43 a1 01 27 a1 04 48 <kid: 8 bytes> ... <signature: 64 bytes> */
	const size_t kid_end = 9 + PL_KEYID_BYTES;
	if (alen != size || size < kid_end + PL_SIG_BYTES || memcmp(again, data, 9) != 0 ||
	    memcmp(again + kid_end, data + kid_end, size - kid_end - PL_SIG_BYTES) != 0)
		abort();
	pl_env_clear(&r);
	free(again);
	pl_env_clear(&e);
}

static void check_verify(const uint8_t *data, size_t size)
{
	pl_env_ctx ctx = {.trust = trust,
			  .charter = cb_charter,
			  .status = cb_status,
			  .last = cb_last,
			  .now = T0 + 10 * DAY,
			  .max_future = PL_ENV_SKEW_DEFAULT};
	pl_env e;
	int rc = pl_env_verify(data, size, &ctx, &e);
	if (rc != 0) {
		if (!zeroed(&e, sizeof(e)))
			abort();
		switch (rc) {
		case PL_ERR_MALFORMED:
		case PL_ERR_NONCANONICAL:
		case PL_ERR_LIMIT:
		case PL_ERR_TYPE:
		case PL_ERR_VERSION:
		case PL_ERR_UNKNOWN_CHANNEL:
		case PL_ERR_NOT_MEMBER:
		case PL_ERR_BAD_SIGNATURE:
		case PL_ERR_NOT_YET_VALID:
		case PL_ERR_EXPIRED:
		case PL_ERR_SUSPENDED:
		case PL_ERR_KIND_NOT_ALLOWED:
		case PL_ERR_LANE_NOT_ALLOWED:
		case PL_ERR_CLOCK:
		case PL_ERR_REPLAY:
		case PL_ERR_SEQUENCE:
		case PL_ERR_NOMEM:
			return;
		default:
			abort();
		}
	}
	pl_env p;
	must(pl_env_parse(data, size, &p));
	if (memcmp(p.id, e.id, PL_HASH_BYTES) != 0 ||
	    !pl_charter_find_member(&charter, e.state, e.author))
		abort();
	pl_env_clear(&p);
	pl_env_clear(&e);
}

static void check_charter(const uint8_t *data, size_t size)
{
	pl_charter c;
	if (pl_charter_open(data, size, trust, &c) != 0) {
		if (!zeroed(&c, sizeof(c)))
			abort();
		return;
	}
	if (c.nstates < PL_CHARTER_STATES_MIN || c.nstates > PL_CHARTER_STATES_MAX ||
	    c.nmembers < 1 || c.version < 1 || !c.payload)
		abort();
	for (size_t i = 0; i < c.nmembers; i++)
		if (!pl_charter_find_member(&c, c.members[i].cred.state, c.members[i].cred.id))
			abort();
	uint8_t *again;
	size_t alen;
	must(pl_charter_encode(&c, &again, &alen));
	if (alen != size || memcmp(again, data, size) != 0)
		abort();
	free(again);
	int rc = pl_charter_check_complete(&c);
	if (rc != 0 && rc != PL_ERR_UNSIGNED)
		abort();
	pl_charter_clear(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	if (!ready) {
		init();
		ready = true;
	}
	check_parse(data, size);
	check_verify(data, size);
	check_charter(data, size);
	return 0;
}
