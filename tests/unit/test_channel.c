/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lib/channel: envelopes, charters and pl_env_verify.
 *
 * Keys come from fixed seeds; two states (Tehran, Islamabad) share the
 * channel "border", and a mediator (Doha) makes "talks" a three-state
 * channel.  Every refusal pl_env_verify documents has its own test that
 * asserts the exact code, as do the charter's refusals; malformed,
 * truncated, oversized and non-canonical inputs are crafted with the codec
 * and signed properly, so that only the property under test is wrong.
 *
 * The envelope known-answer vector was computed independently of this
 * code with Python (cbor2, canonical=True; Ed25519 from the cryptography
 * package): payload map, Sig_structure ["Signature1", h'a10127', h'',
 * payload], then the tagged COSE_Sign1 [h'a10127', {4: kid}, payload, sig].
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
#include "parley/crypto.h"
#include "parley/err.h"
#include "parley/identity.h"

#define T0  1800000000 /* 2027-01-15T08:00:00Z */
#define DAY 86400
#define NOW (T0 + DAY + 60)

#define LANES_BORDER ((1u << PL_LANE_FLASH) | (1u << PL_LANE_IMMEDIATE) | (1u << PL_LANE_ROUTINE))
#define LANES_ALL    (LANES_BORDER | (1u << PL_LANE_PRIORITY))

static pl_keypair tehran, islamabad, doha, kabul;                /* roots */
static pl_keypair amb, fm, med, mallory, aide, outsider, afghan; /* officials */

/* Signed credentials, made once in setup. */
typedef struct blob {
	uint8_t *p;
	size_t n;
} blob;
static blob cred_amb, cred_fm, cred_med, cred_aide, cred_outsider, cred_afghan;

static void seed_key(pl_keypair *kp, uint8_t fill)
{
	uint8_t seed[PL_SEED_BYTES];
	memset(seed, fill, sizeof(seed));
	assert_int_equal(pl_key_from_seed(kp, seed), 0);
}

static blob make_cred(const char *state, const char *id, const pl_keypair *official,
		      const pl_keypair *root, const char *scope)
{
	pl_cred c;
	memset(&c, 0, sizeof(c));
	strcpy(c.state, state);
	strcpy(c.id, id);
	strcpy(c.name, "An Official");
	strcpy(c.title, "Title");
	memcpy(c.pk, official->pk, PL_PK_BYTES);
	c.not_before = T0;
	c.not_after = T0 + 365 * DAY;
	if (scope) {
		strcpy(c.scope[0], scope);
		c.nscope = 1;
	}
	blob b;
	assert_int_equal(pl_cred_sign(&c, root, &b.p, &b.n), 0);
	return b;
}

static int setup(void **state)
{
	assert_int_equal(pl_crypto_init(), 0);
	seed_key(&tehran, 1);
	seed_key(&islamabad, 2);
	seed_key(&doha, 3);
	seed_key(&kabul, 4);
	seed_key(&amb, 11);
	seed_key(&fm, 12);
	seed_key(&med, 13);
	seed_key(&mallory, 14);
	seed_key(&aide, 15);
	seed_key(&outsider, 16);
	seed_key(&afghan, 17);
	cred_amb = make_cred("tehran", "amb-islamabad", &amb, &tehran, NULL);
	cred_fm = make_cred("islamabad", "fm", &fm, &islamabad, NULL);
	cred_med = make_cred("doha", "envoy", &med, &doha, NULL);
	cred_aide = make_cred("tehran", "aide", &aide, &tehran, "other-channel");
	cred_outsider = make_cred("tehran", "outsider", &outsider, &tehran, NULL);
	cred_afghan = make_cred("kabul", "envoy", &afghan, &kabul, NULL);
	return 0;
}

static int teardown(void **state)
{
	blob *all[] = {&cred_amb, &cred_fm, &cred_med, &cred_aide, &cred_outsider, &cred_afghan};
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		free(all[i]->p);
	return 0;
}

static pl_trust *trust_all(void)
{
	pl_trust *t = pl_trust_new();
	assert_non_null(t);
	assert_int_equal(pl_trust_add(t, "tehran", tehran.pk), 0);
	assert_int_equal(pl_trust_add(t, "islamabad", islamabad.pk), 0);
	assert_int_equal(pl_trust_add(t, "doha", doha.pk), 0);
	assert_int_equal(pl_trust_add(t, "kabul", kabul.pk), 0);
	return t;
}

static pl_slice sl(blob b)
{
	return (pl_slice){b.p, b.n};
}

/* Free the bytes of n blobs. */
static void drop(size_t n, ...)
{
	va_list ap;
	va_start(ap, n);
	for (size_t i = 0; i < n; i++)
		free(va_arg(ap, blob).p);
	va_end(ap);
}

static bool detail_has(const char *s)
{
	return strstr(pl_err_detail(), s) != NULL;
}

/* ---------------------------------------------------------------- charter fixtures */

static const char *const border_states[] = {"tehran", "islamabad"};
static const char *const talks_states[] = {"tehran", "islamabad", "doha"};
static const char *const border_kinds[] = {"message", "ack", "read"};

static pl_charter_spec spec(const char *name, uint64_t version, const char *const *states,
			    size_t ns, const pl_slice *members, size_t nm, const char *const *kinds,
			    size_t nk, unsigned lanes)
{
	return (pl_charter_spec){name, version, T0, states, ns, members, nm, kinds, nk, lanes, {NULL}};
}

/* "border" v<version>: Tehran and Islamabad; amb, fm and aide; unsigned. */
static void build_border(pl_charter *c, const pl_trust *t, uint64_t version)
{
	pl_slice members[] = {sl(cred_amb), sl(cred_fm), sl(cred_aide)};
	pl_charter_spec s =
	    spec("border", version, border_states, 2, members, 3, border_kinds, 3, LANES_BORDER);
	assert_int_equal(pl_charter_build(&s, t, c), 0);
}

/* "talks" v1: Tehran, Islamabad and Doha (a mediator); unsigned. */
static void build_talks(pl_charter *c, const pl_trust *t)
{
	pl_slice members[] = {sl(cred_med), sl(cred_amb), sl(cred_fm)};
	const char *const kinds[] = {"message"};
	pl_charter_spec s = spec("talks", 1, talks_states, 3, members, 3, kinds, 1, LANES_ALL);
	assert_int_equal(pl_charter_build(&s, t, c), 0);
}

static void sign_as(pl_charter *c, const pl_trust *t, const char *state, const pl_keypair *root)
{
	assert_int_equal(pl_charter_sign(c, t, state, root), 0);
}

static void complete_border(pl_charter *c, const pl_trust *t, uint64_t version)
{
	build_border(c, t, version);
	sign_as(c, t, "tehran", &tehran);
	sign_as(c, t, "islamabad", &islamabad);
}

/* ---------------------------------------------------------------- crafting */

/* COSE_Sign1 over payload by kp, naming kid_of's key (tagged). */
static blob cose_sign(const uint8_t *payload, size_t n, const pl_keypair *kp,
		      const pl_keypair *kid_of)
{
	uint8_t kid[PL_KEYID_BYTES];
	pl_key_id(kid, kid_of->pk);
	blob b;
	assert_int_equal(pl_cose_sign1_sign(&b.p, &b.n, payload, n, kid, sizeof(kid), NULL, 0, kp,
					    PL_COSE_TAGGED),
			 0);
	return b;
}

/* The payload of an envelope (borrowed decode; the caller frees *cose). */
static pl_slice payload_of(const blob *env, pl_cose_sign1 *cose)
{
	assert_int_equal(pl_cose_sign1_decode(env->p, env->n, PL_COSE_TAGGED, 0, cose), 0);
	return cose->payload;
}

enum {
	P_T_WRONG = 1u << 0,
	P_V2 = 1u << 1,
	P_EXTRA = 1u << 2,
	P_SEQ0 = 1u << 3,
	P_LANE0 = 1u << 4,
	P_LANE5 = 1u << 5,
	P_PREV_ON_1 = 1u << 6,
	P_SEQ2_NO_PREV = 1u << 7,
	P_BAD_CH = 1u << 8,
	P_BODY_TEXT = 1u << 9,
	P_NO_STATE = 1u << 10,
	P_SHORT_REF = 1u << 11,
};

/* An envelope payload by amb-islamabad@tehran on border, with one defect per flag. */
static blob env_payload(unsigned f, size_t body_len)
{
	static const uint8_t h32[32] = {1};
	uint8_t *body = calloc(body_len ? body_len : 1, 1);
	assert_non_null(body);
	bool prev = (f & P_PREV_ON_1) != 0;
	uint64_t seq = (f & P_SEQ0) ? 0 : (f & P_SEQ2_NO_PREV) ? 2 : 1;
	pl_cbor_enc e;
	pl_cbor_enc_init(&e);
	pl_cbor_put_map(&e, 10 + prev + !!(f & P_EXTRA) - !!(f & P_NO_STATE) + !!(f & P_SHORT_REF));
	pl_cbor_put_str(&e, "t");
	pl_cbor_put_str(&e, (f & P_T_WRONG) ? "parley/cred" : "parley/env");
	pl_cbor_put_str(&e, "v");
	pl_cbor_put_uint(&e, (f & P_V2) ? 2 : 1);
	pl_cbor_put_str(&e, "at");
	pl_cbor_put_int(&e, T0 + DAY);
	pl_cbor_put_str(&e, "ch");
	pl_cbor_put_str(&e, (f & P_BAD_CH) ? "Border" : "border");
	pl_cbor_put_str(&e, "id");
	pl_cbor_put_str(&e, "amb-islamabad");
	if (f & P_EXTRA) {
		pl_cbor_put_str(&e, "zz");
		pl_cbor_put_uint(&e, 1);
	}
	if (f & P_SHORT_REF) {
		pl_cbor_put_str(&e, "ref");
		pl_cbor_put_bytes(&e, h32, 31);
	}
	pl_cbor_put_str(&e, "seq");
	pl_cbor_put_uint(&e, seq);
	pl_cbor_put_str(&e, "body");
	if (f & P_BODY_TEXT)
		pl_cbor_put_str(&e, "text");
	else
		pl_cbor_put_bytes(&e, body, body_len);
	pl_cbor_put_str(&e, "kind");
	pl_cbor_put_str(&e, "message");
	pl_cbor_put_str(&e, "lane");
	pl_cbor_put_uint(&e, (f & P_LANE0) ? 0 : (f & P_LANE5) ? 5 : 1);
	if (prev) {
		pl_cbor_put_str(&e, "prev");
		pl_cbor_put_bytes(&e, h32, sizeof(h32));
	}
	if (!(f & P_NO_STATE)) {
		pl_cbor_put_str(&e, "state");
		pl_cbor_put_str(&e, "tehran");
	}
	free(body);
	blob b;
	assert_int_equal(pl_cbor_enc_finish(&e, &b.p, &b.n), 0);
	return b;
}

/* A signed envelope made from a crafted payload. */
static blob env_crafted(unsigned f, size_t body_len)
{
	blob p = env_payload(f, body_len);
	blob b = cose_sign(p.p, p.n, &amb, &amb);
	free(p.p);
	return b;
}

/* A charter payload written exactly as given (no sorting, no checks). */
static blob craft_charter(uint64_t version, const char *const *states, size_t ns,
			  const blob *const *members, size_t nm)
{
	pl_cbor_enc e;
	pl_cbor_enc_init(&e);
	pl_cbor_put_map(&e, 9);
	pl_cbor_put_str(&e, "t");
	pl_cbor_put_str(&e, "parley/charter");
	pl_cbor_put_str(&e, "v");
	pl_cbor_put_uint(&e, 1);
	pl_cbor_put_str(&e, "name");
	pl_cbor_put_str(&e, "border");
	pl_cbor_put_str(&e, "kinds");
	pl_cbor_put_array(&e, 1);
	pl_cbor_put_str(&e, "message");
	pl_cbor_put_str(&e, "lanes");
	pl_cbor_put_array(&e, 1);
	pl_cbor_put_uint(&e, PL_LANE_ROUTINE);
	pl_cbor_put_str(&e, "states");
	pl_cbor_put_array(&e, ns);
	for (size_t i = 0; i < ns; i++)
		pl_cbor_put_str(&e, states[i]);
	pl_cbor_put_str(&e, "created");
	pl_cbor_put_int(&e, T0);
	pl_cbor_put_str(&e, "members");
	pl_cbor_put_array(&e, nm);
	for (size_t i = 0; i < nm; i++)
		pl_cbor_put_bytes(&e, members[i]->p, members[i]->n);
	pl_cbor_put_str(&e, "version");
	pl_cbor_put_uint(&e, version);
	blob b;
	assert_int_equal(pl_cbor_enc_finish(&e, &b.p, &b.n), 0);
	return b;
}

/* A signed charter object from a payload and signatures, as given. */
static blob craft_signed(const blob *payload, const blob *sigs, size_t nsig)
{
	pl_cbor_enc e;
	pl_cbor_enc_init(&e);
	pl_cbor_put_map(&e, 4);
	pl_cbor_put_str(&e, "t");
	pl_cbor_put_str(&e, "parley/charter-signed");
	pl_cbor_put_str(&e, "v");
	pl_cbor_put_uint(&e, 1);
	pl_cbor_put_str(&e, "sigs");
	pl_cbor_put_array(&e, nsig);
	for (size_t i = 0; i < nsig; i++)
		pl_cbor_put_bytes(&e, sigs[i].p, sigs[i].n);
	pl_cbor_put_str(&e, "charter");
	pl_cbor_put_bytes(&e, payload->p, payload->n);
	blob b;
	assert_int_equal(pl_cbor_enc_finish(&e, &b.p, &b.n), 0);
	return b;
}

/* Open an unsigned charter object made of a crafted payload; the code. */
static int open_crafted(const pl_trust *t, uint64_t version, const char *const *states, size_t ns,
			const blob *const *members, size_t nm)
{
	blob p = craft_charter(version, states, ns, members, nm);
	blob s = craft_signed(&p, NULL, 0);
	pl_charter o;
	int rc = pl_charter_open(s.p, s.n, t, &o);
	pl_charter_clear(&o);
	drop(2, s, p);
	return rc;
}

/* ---------------------------------------------------------------- the node's view */

#define STREAMS_MAX 8
struct stream {
	char key[256];
	uint64_t seq;
	uint8_t id[PL_HASH_BYTES];
};

/* What a node would hold: charters, status lists, accepted streams. */
struct world {
	pl_trust *trust;
	pl_charter border, talks;
	bool have_border, have_talks;
	bool misroute; /* answer with "border" whatever is asked */
	pl_status_list lists[3];
	size_t nlists;
	const pl_status_list *force_list; /* returned for every state when set */
	struct stream streams[STREAMS_MAX];
	size_t nstreams;
	int last_rc;
	pl_env_ctx ctx;
};

static const pl_charter *w_charter(void *arg, const char *ch)
{
	struct world *w = arg;
	if (w->misroute)
		return &w->border;
	if (w->have_border && strcmp(ch, "border") == 0)
		return &w->border;
	if (w->have_talks && strcmp(ch, "talks") == 0)
		return &w->talks;
	return NULL;
}

static const pl_status_list *w_status(void *arg, const char *state)
{
	struct world *w = arg;
	if (w->force_list)
		return w->force_list;
	for (size_t i = 0; i < w->nlists; i++)
		if (strcmp(w->lists[i].state, state) == 0)
			return &w->lists[i];
	return NULL;
}

static void stream_key(char *key, size_t cap, const pl_env *e)
{
	snprintf(key, cap, "%s|%s|%s|%u", e->state, e->author, e->ch, (unsigned)e->lane);
}

static struct stream *find_stream(struct world *w, const pl_env *e, bool create)
{
	char key[256];
	stream_key(key, sizeof(key), e);
	for (size_t i = 0; i < w->nstreams; i++)
		if (strcmp(w->streams[i].key, key) == 0)
			return &w->streams[i];
	if (!create)
		return NULL;
	assert_true(w->nstreams < STREAMS_MAX);
	struct stream *s = &w->streams[w->nstreams++];
	memset(s, 0, sizeof(*s));
	strcpy(s->key, key);
	return s;
}

static int w_last(void *arg, const pl_env *e, uint64_t *seq, uint8_t id[PL_HASH_BYTES])
{
	struct world *w = arg;
	if (w->last_rc)
		return w->last_rc;
	struct stream *s = find_stream(w, e, false);
	*seq = s ? s->seq : 0;
	if (s)
		memcpy(id, s->id, PL_HASH_BYTES);
	return 0;
}

static void world_init(struct world *w)
{
	memset(w, 0, sizeof(*w));
	w->trust = trust_all();
	complete_border(&w->border, w->trust, 1);
	w->have_border = true;
	build_talks(&w->talks, w->trust);
	sign_as(&w->talks, w->trust, "tehran", &tehran);
	sign_as(&w->talks, w->trust, "islamabad", &islamabad);
	sign_as(&w->talks, w->trust, "doha", &doha);
	w->have_talks = true;
	pl_status_list_init(&w->lists[0], "tehran");
	pl_status_list_init(&w->lists[1], "islamabad");
	pl_status_list_init(&w->lists[2], "doha");
	w->nlists = 3;
	w->ctx = (pl_env_ctx){.trust = w->trust,
			      .charter = w_charter,
			      .status = w_status,
			      .last = w_last,
			      .arg = w,
			      .now = NOW,
			      .max_future = PL_ENV_SKEW_DEFAULT};
}

static void world_free(struct world *w)
{
	pl_charter_clear(&w->border);
	pl_charter_clear(&w->talks);
	for (size_t i = 0; i < w->nlists; i++)
		pl_status_list_clear(&w->lists[i]);
	pl_trust_free(w->trust);
}

/* Verify and, when accepted, record it as the node would after its commit. */
static int w_accept(struct world *w, const blob *b)
{
	pl_env e;
	int rc = pl_env_verify(b->p, b->n, &w->ctx, &e);
	if (rc) {
		/* a refusal leaves nothing to free */
		assert_null(e.own_);
		assert_int_equal(e.seq, 0);
		return rc;
	}
	struct stream *s = find_stream(w, &e, true);
	s->seq = e.seq;
	memcpy(s->id, e.id, PL_HASH_BYTES);
	pl_env_clear(&e);
	return 0;
}

/* ---------------------------------------------------------------- envelopes */

static pl_env env_base(void)
{
	pl_env e;
	memset(&e, 0, sizeof(e));
	strcpy(e.ch, "border");
	e.at = T0 + DAY;
	strcpy(e.state, "tehran");
	strcpy(e.author, "amb-islamabad");
	e.seq = 1;
	e.lane = PL_LANE_FLASH;
	strcpy(e.kind, "message");
	e.body = (const uint8_t *)"hello";
	e.body_len = 5;
	return e;
}

static blob sign_env(const pl_env *e, const pl_keypair *kp)
{
	blob b;
	assert_int_equal(pl_env_sign(e, kp, &b.p, &b.n), 0);
	return b;
}

/* The next envelope of e's stream after the one in prev. */
static pl_env env_next(const pl_env *e, const blob *prev)
{
	pl_env n = *e;
	n.seq = e->seq + 1;
	pl_env_id(n.prev, prev->p, prev->n);
	return n;
}

static void test_lane_names(void **state)
{
	static const char *const names[] = {"CONTROL", "FLASH", "IMMEDIATE", "PRIORITY", "ROUTINE"};
	static const char *const typed[] = {NULL, "flash", "Immediate", "PRIORITY", "rOuTiNe"};
	pl_lane l;
	for (unsigned i = 0; i < PL_LANE_COUNT; i++) {
		assert_string_equal(pl_lane_name((pl_lane)i), names[i]);
		assert_int_equal(pl_lane_is_valid(i), i != PL_LANE_CONTROL);
		if (typed[i]) {
			assert_int_equal(pl_lane_parse(typed[i], &l), 0);
			assert_int_equal(l, i);
		}
	}
	assert_string_equal(pl_lane_name((pl_lane)9), "unknown");
	assert_false(pl_lane_is_valid(5));
	static const char *const bad[] = {"control", "FLASHY", "", "1"};
	l = PL_LANE_ROUTINE;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(pl_lane_parse(bad[i], &l), PL_ERR_MALFORMED);
	assert_true(detail_has("FLASH, IMMEDIATE"));
	assert_int_equal(l, PL_LANE_ROUTINE); /* untouched on failure */
}

static const char kat_hex[] =
    "d28443a10127a10448fdf72a088f18f73958adac61746a7061726c65792f656e766176016261741a6b49d20062"
    "636866626f726465726269646d616d622d69736c616d61626164637365710264626f6479581b53686f74732072"
    "65706f72746564206e65617220706f7374203137646b696e64676d657373616765646c616e6501647072657658"
    "20aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa6561636b62791a6b49d45865"
    "73746174656674656872616e5840d79ee4f71c2319ef2e1b8468ac5ffd08b8899cf08ff8e83168a9266e692a12"
    "860214cf01a2a2bcea8962f6a1578166dee8eb69013febdede42b3d9aa8dcdfe01";
static const char kat_id[] = "fa5511efdadfec0d6af84f25474ca389643e4911ddfd68dc10f9e6a47310c04d";

static void test_env_known_answer(void **state)
{
	pl_env e = env_base();
	e.seq = 2;
	memset(e.prev, 0xaa, sizeof(e.prev));
	e.body = (const uint8_t *)"Shots reported near post 17";
	e.body_len = strlen("Shots reported near post 17");
	e.has_ackby = true;
	e.ackby = T0 + 600;
	e.at = T0;
	blob b = sign_env(&e, &amb);
	uint8_t want[sizeof(kat_hex) / 2];
	size_t wlen;
	assert_int_equal(pl_hex_decode(want, sizeof(want), &wlen, kat_hex, strlen(kat_hex)), 0);
	assert_int_equal(b.n, wlen);
	assert_memory_equal(b.p, want, wlen);
	uint8_t id[PL_HASH_BYTES];
	char idhex[2 * PL_HASH_BYTES + 1];
	pl_env_id(id, b.p, b.n);
	pl_hex_encode(idhex, id, sizeof(id));
	assert_string_equal(idhex, kat_id);
	free(b.p);
}

static void test_env_round_trip(void **state)
{
	pl_env e = env_base();
	e.seq = 7;
	e.lane = PL_LANE_PRIORITY;
	memset(e.prev, 0x5c, sizeof(e.prev));
	e.has_ref = true;
	memset(e.ref, 0x3e, sizeof(e.ref));
	e.has_ackby = true;
	e.ackby = -5; /* any integer; policy is the node's */
	strcpy(e.kind, "ack");
	blob b = sign_env(&e, &amb);

	pl_env p;
	assert_int_equal(pl_env_parse(b.p, b.n, &p), 0);
	assert_string_equal(p.ch, "border");
	assert_string_equal(p.state, "tehran");
	assert_string_equal(p.author, "amb-islamabad");
	assert_string_equal(p.kind, "ack");
	assert_int_equal(p.at, T0 + DAY);
	assert_int_equal(p.seq, 7);
	assert_int_equal(p.lane, PL_LANE_PRIORITY);
	assert_memory_equal(p.prev, e.prev, PL_HASH_BYTES);
	assert_true(p.has_ref);
	assert_memory_equal(p.ref, e.ref, PL_HASH_BYTES);
	assert_true(p.has_ackby);
	assert_int_equal(p.ackby, -5);
	assert_int_equal(p.body_len, 5);
	assert_memory_equal(p.body, "hello", 5);
	uint8_t id[PL_HASH_BYTES], kid[PL_KEYID_BYTES];
	pl_env_id(id, b.p, b.n);
	assert_memory_equal(p.id, id, PL_HASH_BYTES);
	pl_key_id(kid, amb.pk);
	assert_memory_equal(p.kid, kid, PL_KEYID_BYTES);

	/* re-signing the parsed struct gives the same bytes: one byte form */
	blob again = sign_env(&p, &amb);
	assert_int_equal(again.n, b.n);
	assert_memory_equal(again.p, b.p, b.n);
	pl_env_clear(&p);
	assert_null(p.own_);
	pl_env_clear(&p); /* twice is harmless */
	pl_env_clear(NULL);
	drop(2, again, b);

	/* seq 1: no prev on the wire, zero in the struct; no optionals; empty body */
	e = env_base();
	memset(e.prev, 0x77, sizeof(e.prev)); /* ignored for seq 1 */
	e.body = NULL;
	e.body_len = 0;
	b = sign_env(&e, &amb);
	assert_null(memmem(b.p, b.n, "prev", 4));
	assert_null(memmem(b.p, b.n, "ackby", 5));
	assert_int_equal(pl_env_parse(b.p, b.n, &p), 0);
	static const uint8_t zero[PL_HASH_BYTES];
	assert_memory_equal(p.prev, zero, PL_HASH_BYTES);
	assert_false(p.has_ref);
	assert_false(p.has_ackby);
	assert_int_equal(p.body_len, 0);
	pl_env_clear(&p);
	free(b.p);
}

static void test_env_sign_refuses(void **state)
{
	uint8_t *out = (uint8_t *)"x";
	size_t len = 1;
	pl_env e = env_base();
	e.seq = 0;
	assert_int_equal(pl_env_sign(&e, &amb, &out, &len), PL_ERR_INVALID);
	assert_null(out);
	assert_int_equal(len, 0);
	e = env_base();
	e.lane = PL_LANE_CONTROL;
	assert_int_equal(pl_env_sign(&e, &amb, &out, &len), PL_ERR_INVALID);
	e.lane = (pl_lane)5;
	assert_int_equal(pl_env_sign(&e, &amb, &out, &len), PL_ERR_INVALID);
	e = env_base();
	strcpy(e.kind, "Message");
	assert_int_equal(pl_env_sign(&e, &amb, &out, &len), PL_ERR_INVALID);
	assert_true(detail_has("kind"));
	e = env_base();
	e.ch[0] = '\0';
	assert_int_equal(pl_env_sign(&e, &amb, &out, &len), PL_ERR_INVALID);
	e = env_base();
	strcpy(e.author, "a b");
	assert_int_equal(pl_env_sign(&e, &amb, &out, &len), PL_ERR_INVALID);
	e = env_base();
	strcpy(e.state, "-x");
	assert_int_equal(pl_env_sign(&e, &amb, &out, &len), PL_ERR_INVALID);
	e = env_base();
	e.body = NULL;
	assert_int_equal(pl_env_sign(&e, &amb, &out, &len), PL_ERR_INVALID);
	e = env_base();
	e.body_len = PL_ENV_BODY_MAX + 1; /* refused before the body is read */
	assert_int_equal(pl_env_sign(&e, &amb, &out, &len), PL_ERR_LIMIT);
	assert_null(out);
}

static void test_env_body_limits(void **state)
{
	/* exactly 1 MiB: signs, parses and verifies */
	uint8_t *body = malloc(PL_ENV_BODY_MAX);
	assert_non_null(body);
	for (size_t i = 0; i < PL_ENV_BODY_MAX; i++)
		body[i] = (uint8_t)(i * 31);
	pl_env e = env_base();
	e.body = body;
	e.body_len = PL_ENV_BODY_MAX;
	blob b = sign_env(&e, &amb);
	assert_true(b.n <= PL_ENV_MAX);
	pl_env p;
	assert_int_equal(pl_env_parse(b.p, b.n, &p), 0);
	assert_int_equal(p.body_len, PL_ENV_BODY_MAX);
	assert_memory_equal(p.body, body, PL_ENV_BODY_MAX);
	pl_env_clear(&p);
	struct world w;
	world_init(&w);
	assert_int_equal(w_accept(&w, &b), 0);
	world_free(&w);
	free(b.p);
	free(body);

	/* one byte more, signed by hand: refused by the parser */
	b = env_crafted(0, PL_ENV_BODY_MAX + 1);
	assert_true(b.n <= PL_ENV_MAX);
	assert_int_equal(pl_env_parse(b.p, b.n, &p), PL_ERR_LIMIT);
	free(b.p);

	/* a whole envelope over PL_ENV_MAX is refused before decoding */
	uint8_t *big = calloc(PL_ENV_MAX + 1, 1);
	assert_non_null(big);
	assert_int_equal(pl_env_parse(big, PL_ENV_MAX + 1, &p), PL_ERR_LIMIT);
	free(big);
}

static void test_env_truncated_and_trailing(void **state)
{
	pl_env e = env_base();
	blob b = sign_env(&e, &amb);
	pl_env p;
	for (size_t n = 0; n < b.n; n++) {
		int rc = pl_env_parse(b.p, n, &p);
		assert_true(rc == PL_ERR_MALFORMED || rc == PL_ERR_LIMIT);
		assert_null(p.own_);
	}
	uint8_t *longer = malloc(b.n + 1);
	memcpy(longer, b.p, b.n);
	longer[b.n] = 0x00;
	assert_int_equal(pl_env_parse(longer, b.n + 1, &p), PL_ERR_MALFORMED);
	assert_true(detail_has("trailing"));
	assert_int_equal(pl_env_parse(longer, b.n, &p), 0);
	pl_env_clear(&p);
	free(longer);
	free(b.p);
}

static void test_env_noncanonical(void **state)
{
	pl_env e = env_base();
	blob b = sign_env(&e, &amb);
	pl_env p;
	/* outer: tag 18 in its two-byte form (0xd8 0x12); the signature still holds */
	assert_int_equal(b.p[0], 0xd2);
	uint8_t *wide = malloc(b.n + 1);
	wide[0] = 0xd8;
	wide[1] = 0x12;
	memcpy(wide + 2, b.p + 1, b.n - 1);
	assert_int_equal(pl_env_parse(wide, b.n + 1, &p), PL_ERR_NONCANONICAL);
	free(wide);

	/* payload: "v": 1 written as 0x18 0x01, then properly signed */
	pl_cose_sign1 cose;
	pl_slice pay = payload_of(&b, &cose);
	const uint8_t vkey[] = {0x61, 'v', 0x01};
	uint8_t *at = memmem(pay.p, pay.n, vkey, sizeof(vkey));
	assert_non_null(at);
	size_t off = (size_t)(at - pay.p) + 2;
	uint8_t *np = malloc(pay.n + 1);
	memcpy(np, pay.p, off);
	np[off] = 0x18;
	np[off + 1] = 0x01;
	memcpy(np + off + 2, pay.p + off + 1, pay.n - off - 1);
	blob s = cose_sign(np, pay.n + 1, &amb, &amb);
	assert_int_equal(pl_env_parse(s.p, s.n, &p), PL_ERR_NONCANONICAL);
	free(s.p);
	free(np);
	pl_cose_sign1_clear(&cose);
	free(b.p);
}

static void test_env_strict_fields(void **state)
{
	pl_env p;
	static const struct {
		unsigned flags;
		int code;
		const char *detail;
	} cases[] = {
	    {0, 0, ""},
	    {P_T_WRONG, PL_ERR_TYPE, "parley/env"},
	    {P_V2, PL_ERR_VERSION, "version 2"},
	    {P_EXTRA, PL_ERR_MALFORMED, "unknown field 'zz'"},
	    {P_SEQ0, PL_ERR_MALFORMED, "seq 0"},
	    {P_LANE0, PL_ERR_MALFORMED, "lane 0"},
	    {P_LANE5, PL_ERR_MALFORMED, "lane 5"},
	    {P_PREV_ON_1, PL_ERR_MALFORMED, "seq 1 with a prev"},
	    {P_SEQ2_NO_PREV, PL_ERR_MALFORMED, "without a prev"},
	    {P_BAD_CH, PL_ERR_MALFORMED, "'Border' is not a valid name"},
	    {P_BODY_TEXT, PL_ERR_MALFORMED, "body"},
	    {P_NO_STATE, PL_ERR_MALFORMED, "missing field 'state'"},
	    {P_SHORT_REF, PL_ERR_MALFORMED, "ref"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		blob b = env_crafted(cases[i].flags, 3);
		int rc = pl_env_parse(b.p, b.n, &p);
		if (rc != cases[i].code || !detail_has(cases[i].detail))
			fail_msg("case %zu: got %d (%s), want %d '%s'", i, rc, pl_err_detail(),
				 cases[i].code, cases[i].detail);
		pl_env_clear(&p);
		free(b.p);
	}
}

static void test_env_cose_profile(void **state)
{
	pl_env e = env_base();
	blob b = sign_env(&e, &amb);
	pl_cose_sign1 cose;
	pl_slice pay = payload_of(&b, &cose);
	uint8_t kid[PL_KEYID_BYTES];
	pl_key_id(kid, amb.pk);
	pl_env p;
	blob s;
	/* untagged */
	assert_int_equal(
	    pl_cose_sign1_sign(&s.p, &s.n, pay.p, pay.n, kid, sizeof(kid), NULL, 0, &amb, 0), 0);
	assert_int_equal(pl_env_parse(s.p, s.n, &p), PL_ERR_MALFORMED);
	assert_true(detail_has("tagged"));
	free(s.p);
	/* no kid */
	assert_int_equal(
	    pl_cose_sign1_sign(&s.p, &s.n, pay.p, pay.n, NULL, 0, NULL, 0, &amb, PL_COSE_TAGGED),
	    0);
	assert_int_equal(pl_env_parse(s.p, s.n, &p), PL_ERR_MALFORMED);
	assert_true(detail_has("kid"));
	free(s.p);
	/* a kid of another length */
	assert_int_equal(
	    pl_cose_sign1_sign(&s.p, &s.n, pay.p, pay.n, kid, 4, NULL, 0, &amb, PL_COSE_TAGGED), 0);
	assert_int_equal(pl_env_parse(s.p, s.n, &p), PL_ERR_MALFORMED);
	free(s.p);
	/* a payload that is not a map */
	const uint8_t notmap[] = {0x83, 0x01, 0x02, 0x03};
	s = cose_sign(notmap, sizeof(notmap), &amb, &amb);
	assert_int_equal(pl_env_parse(s.p, s.n, &p), PL_ERR_TYPE);
	free(s.p);
	/* a nested container in the payload (depth limit 1) */
	pl_cbor_enc enc;
	pl_cbor_enc_init(&enc);
	pl_cbor_put_map(&enc, 1);
	pl_cbor_put_str(&enc, "t");
	pl_cbor_put_array(&enc, 0);
	uint8_t *nested;
	size_t nn;
	assert_int_equal(pl_cbor_enc_finish(&enc, &nested, &nn), 0);
	s = cose_sign(nested, nn, &amb, &amb);
	assert_int_equal(pl_env_parse(s.p, s.n, &p), PL_ERR_LIMIT);
	free(s.p);
	free(nested);
	/* another protected header: alg -7 (ES256) in place of -8 */
	uint8_t *t = malloc(b.n);
	memcpy(t, b.p, b.n);
	assert_int_equal(t[3], 0xa1); /* d2 84 43 [a1 01 27] */
	t[5] = 0x26;
	assert_int_equal(pl_env_parse(t, b.n, &p), PL_ERR_MALFORMED);
	assert_true(detail_has("protected header"));
	free(t);
	pl_cose_sign1_clear(&cose);
	free(b.p);
}

/* ---------------------------------------------------------------- verification */

static void test_verify_accepts(void **state)
{
	struct world w;
	world_init(&w);
	pl_env e = env_base();
	blob b1 = sign_env(&e, &amb);
	pl_env out;
	assert_int_equal(pl_env_verify(b1.p, b1.n, &w.ctx, &out), 0);
	assert_string_equal(out.author, "amb-islamabad");
	assert_int_equal(out.body_len, 5);
	uint8_t id[PL_HASH_BYTES];
	pl_env_id(id, b1.p, b1.n);
	assert_memory_equal(out.id, id, PL_HASH_BYTES);
	pl_env_clear(&out);
	assert_int_equal(pl_env_verify(b1.p, b1.n, &w.ctx, NULL), 0); /* out optional */
	assert_int_equal(w_accept(&w, &b1), 0);

	/* the next one chains to it */
	pl_env e2 = env_next(&e, &b1);
	blob b2 = sign_env(&e2, &amb);
	assert_int_equal(w_accept(&w, &b2), 0);
	pl_env e3 = env_next(&e2, &b2);
	blob b3 = sign_env(&e3, &amb);
	assert_int_equal(w_accept(&w, &b3), 0);

	/* lanes are separate streams: ROUTINE starts at 1 */
	pl_env r = env_base();
	r.lane = PL_LANE_ROUTINE;
	blob br = sign_env(&r, &amb);
	assert_int_equal(w_accept(&w, &br), 0);
	/* and so are authors: Islamabad's minister */
	pl_env f = env_base();
	strcpy(f.state, "islamabad");
	strcpy(f.author, "fm");
	strcpy(f.kind, "ack");
	f.has_ref = true;
	memcpy(f.ref, id, PL_HASH_BYTES);
	blob bf = sign_env(&f, &fm);
	assert_int_equal(w_accept(&w, &bf), 0);
	/* an envelope dated within the allowed skew */
	pl_env s = env_next(&e3, &b3);
	s.at = NOW + PL_ENV_SKEW_DEFAULT;
	blob bs = sign_env(&s, &amb);
	assert_int_equal(w_accept(&w, &bs), 0);

	drop(6, b1, b2, b3, br, bf, bs);
	world_free(&w);
}

static void test_verify_unknown_channel(void **state)
{
	struct world w;
	world_init(&w);
	pl_env e = env_base();
	strcpy(e.ch, "elsewhere");
	blob b = sign_env(&e, &amb);
	assert_int_equal(pl_env_verify(b.p, b.n, &w.ctx, NULL), PL_ERR_UNKNOWN_CHANNEL);
	assert_true(detail_has("elsewhere"));
	free(b.p);
	/* no charter callback at all is a caller bug */
	pl_env_ctx bad = w.ctx;
	bad.charter = NULL;
	e = env_base();
	b = sign_env(&e, &amb);
	assert_int_equal(pl_env_verify(b.p, b.n, &bad, NULL), PL_ERR_INVALID);
	free(b.p);
	world_free(&w);
}

static void test_verify_incomplete_charter(void **state)
{
	struct world w;
	world_init(&w);
	pl_charter_clear(&w.border);
	build_border(&w.border, w.trust, 1);
	sign_as(&w.border, w.trust, "tehran", &tehran);
	pl_env e = env_base();
	blob b = sign_env(&e, &amb);
	assert_int_equal(pl_env_verify(b.p, b.n, &w.ctx, NULL), PL_ERR_UNKNOWN_CHANNEL);
	assert_true(detail_has("not yet signed by islamabad"));
	sign_as(&w.border, w.trust, "islamabad", &islamabad);
	assert_int_equal(pl_env_verify(b.p, b.n, &w.ctx, NULL), 0);
	free(b.p);
	world_free(&w);
}

static void test_verify_not_member(void **state)
{
	struct world w;
	world_init(&w);
	/* a valid Tehran official who is not in the charter */
	pl_env e = env_base();
	strcpy(e.author, "outsider");
	blob b = sign_env(&e, &outsider);
	assert_int_equal(pl_env_verify(b.p, b.n, &w.ctx, NULL), PL_ERR_NOT_MEMBER);
	assert_true(detail_has("outsider@tehran is not a member of channel border"));
	free(b.p);
	/* a member's id under another state */
	e = env_base();
	strcpy(e.state, "islamabad");
	b = sign_env(&e, &amb);
	assert_int_equal(pl_env_verify(b.p, b.n, &w.ctx, NULL), PL_ERR_NOT_MEMBER);
	free(b.p);
	/* Doha's envoy is a member of "talks", not of "border" */
	e = env_base();
	strcpy(e.state, "doha");
	strcpy(e.author, "envoy");
	b = sign_env(&e, &med);
	assert_int_equal(pl_env_verify(b.p, b.n, &w.ctx, NULL), PL_ERR_NOT_MEMBER);
	free(b.p);
	world_free(&w);
}

static void test_verify_forged_signature(void **state)
{
	struct world w;
	world_init(&w);
	pl_env e = env_base();
	blob good = sign_env(&e, &amb);
	pl_cose_sign1 cose;
	pl_slice pay = payload_of(&good, &cose);
	/* Mallory signs the member's words, naming the member's key */
	blob forged = cose_sign(pay.p, pay.n, &mallory, &amb);
	assert_int_equal(pl_env_verify(forged.p, forged.n, &w.ctx, NULL), PL_ERR_BAD_SIGNATURE);
	assert_true(detail_has("did not sign"));
	free(forged.p);
	/* ... or naming her own key */
	blob own = sign_env(&e, &mallory);
	assert_int_equal(pl_env_verify(own.p, own.n, &w.ctx, NULL), PL_ERR_BAD_SIGNATURE);
	assert_true(detail_has("names key"));
	free(own.p);
	/* a single flipped bit anywhere in the signature */
	for (size_t i = good.n - PL_SIG_BYTES; i < good.n; i += 9) {
		good.p[i] ^= 0x01;
		assert_int_equal(pl_env_verify(good.p, good.n, &w.ctx, NULL), PL_ERR_BAD_SIGNATURE);
		good.p[i] ^= 0x01;
	}
	/* a changed body byte (still canonical) */
	uint8_t *h = memmem(good.p, good.n, "hello", 5);
	assert_non_null(h);
	h[0] = 'j';
	assert_int_equal(pl_env_verify(good.p, good.n, &w.ctx, NULL), PL_ERR_BAD_SIGNATURE);
	h[0] = 'h';
	assert_int_equal(pl_env_verify(good.p, good.n, &w.ctx, NULL), 0);
	pl_cose_sign1_clear(&cose);
	free(good.p);
	world_free(&w);
}

/* pl_env_verify in two parts, as a node checks signatures on another
 * thread: pl_env_sig_check's verdict stands in for step 4 only when it is
 * for the member's own key, and pl_env_verify never takes one. */
static void test_verify_opened(void **state)
{
	(void)state;
	struct world w;
	world_init(&w);
	pl_env e = env_base();
	blob good = sign_env(&e, &amb);
	pl_env_opened o;
	assert_int_equal(pl_env_open(good.p, good.n, &o), 0);
	assert_string_equal(o.env.author, "amb-islamabad");
	assert_int_equal(pl_env_sig_check(&o, amb.pk), 0);
	assert_int_equal(pl_env_sig_check(&o, mallory.pk), PL_ERR_BAD_SIGNATURE);
	pl_env out;
	assert_int_equal(pl_env_verify_opened(&o, &w.ctx, &out), 0); /* checked itself */
	uint8_t id[PL_HASH_BYTES];
	pl_env_id(id, good.p, good.n);
	assert_memory_equal(out.id, id, PL_HASH_BYTES);
	assert_int_equal(out.body_len, 5);
	pl_env_clear(&out);

	/* one flipped bit of the signature */
	good.p[good.n - 1] ^= 0x01;
	assert_int_equal(pl_env_open(good.p, good.n, &o), 0);
	assert_int_equal(pl_env_sig_check(&o, amb.pk), PL_ERR_BAD_SIGNATURE);
	/* a verdict for another key than the member's is not taken: checked again */
	pl_env_ctx c = w.ctx;
	c.sig_checked = mallory.pk;
	assert_int_equal(pl_env_verify_opened(&o, &c, &out), PL_ERR_BAD_SIGNATURE);
	assert_true(detail_has("did not sign"));
	/* for the member's key it is (so only the caller's own pl_env_sig_check may give it) */
	assert_int_equal(pl_env_open(good.p, good.n, &o), 0);
	c.sig_checked = amb.pk;
	assert_int_equal(pl_env_verify_opened(&o, &c, NULL), 0);
	/* pl_env_verify ignores one */
	assert_int_equal(pl_env_verify(good.p, good.n, &c, NULL), PL_ERR_BAD_SIGNATURE);
	/* the later steps still run on an opened envelope: another state's
	 * node is told the same as by pl_env_verify */
	good.p[good.n - 1] ^= 0x01;
	pl_env late = env_base();
	late.at = NOW + PL_ENV_SKEW_DEFAULT + 60;
	blob bl = sign_env(&late, &amb);
	assert_int_equal(pl_env_open(bl.p, bl.n, &o), 0);
	assert_int_equal(pl_env_verify_opened(&o, &w.ctx, NULL), PL_ERR_CLOCK);
	/* what does not parse does not open; an opened envelope may be dropped */
	assert_int_not_equal(pl_env_open(good.p, good.n - 1, &o), 0);
	assert_int_equal(pl_env_open(good.p, good.n, &o), 0);
	pl_env_opened_clear(&o);
	pl_env_opened_clear(&o); /* twice is harmless */
	assert_int_equal(pl_env_open(NULL, 0, NULL), PL_ERR_INVALID);
	assert_int_equal(pl_env_verify_opened(NULL, &w.ctx, NULL), PL_ERR_INVALID);
	free(bl.p);
	free(good.p);
	world_free(&w);
}

static void append_status(struct world *w, size_t list, const char *id, pl_status s, int64_t at)
{
	assert_int_equal(pl_status_list_append(&w->lists[list], id, s, at, "test", at), 0);
}

static void test_verify_suspended(void **state)
{
	struct world w;
	world_init(&w);
	pl_env e = env_base();
	blob b = sign_env(&e, &amb);
	/* the same id suspended in Islamabad's list does not touch Tehran's official */
	append_status(&w, 1, "amb-islamabad", PL_STATUS_SUSPENDED, T0);
	assert_int_equal(pl_env_verify(b.p, b.n, &w.ctx, NULL), 0);
	/* suspended by Tehran before the envelope was written */
	append_status(&w, 0, "amb-islamabad", PL_STATUS_SUSPENDED, T0 + DAY / 2);
	assert_int_equal(pl_env_verify(b.p, b.n, &w.ctx, NULL), PL_ERR_SUSPENDED);
	assert_true(detail_has("suspended"));
	free(b.p);
	world_free(&w);
}

static void test_verify_recalled_at_created_time(void **state)
{
	struct world w;
	world_init(&w);
	append_status(&w, 0, "amb-islamabad", PL_STATUS_RECALLED, T0 + 10 * DAY);
	append_status(&w, 0, "amb-islamabad", PL_STATUS_RESTORED, T0 + 20 * DAY);
	w.ctx.now = T0 + 30 * DAY;
	/* written before the recall, relayed late: accepted (relays set no max_age) */
	pl_env e = env_base();
	e.at = T0 + 5 * DAY;
	blob before = sign_env(&e, &amb);
	assert_int_equal(w_accept(&w, &before), 0);
	/* written while recalled */
	pl_env d = env_next(&e, &before);
	d.at = T0 + 11 * DAY;
	blob during = sign_env(&d, &amb);
	assert_int_equal(pl_env_verify(during.p, during.n, &w.ctx, NULL), PL_ERR_RECALLED);
	assert_true(detail_has("recalled"));
	/* the same at the moment of recall */
	d.at = T0 + 10 * DAY;
	free(during.p);
	during = sign_env(&d, &amb);
	assert_int_equal(pl_env_verify(during.p, during.n, &w.ctx, NULL), PL_ERR_RECALLED);
	/* after the return */
	d.at = T0 + 21 * DAY;
	blob after = sign_env(&d, &amb);
	assert_int_equal(w_accept(&w, &after), 0);
	/* without the status list the recall is unknown: the check passes and the
	 * sequence check (seq 2 is taken) answers instead */
	w.ctx.status = NULL;
	assert_int_equal(pl_env_verify(during.p, during.n, &w.ctx, NULL), PL_ERR_REPLAY);
	drop(3, before, during, after);
	world_free(&w);
}

static void test_verify_revoked_expired_not_yet_valid(void **state)
{
	struct world w;
	world_init(&w);
	append_status(&w, 1, "fm", PL_STATUS_REVOKED, T0 + DAY / 2);
	pl_env e = env_base();
	strcpy(e.state, "islamabad");
	strcpy(e.author, "fm");
	blob b = sign_env(&e, &fm);
	assert_int_equal(pl_env_verify(b.p, b.n, &w.ctx, NULL), PL_ERR_REVOKED);
	free(b.p);

	e = env_base();
	e.at = T0 - 1; /* before the credential's validity */
	b = sign_env(&e, &amb);
	assert_int_equal(pl_env_verify(b.p, b.n, &w.ctx, NULL), PL_ERR_NOT_YET_VALID);
	free(b.p);
	e.at = T0 + 365 * DAY; /* its first invalid second */
	w.ctx.now = e.at;
	b = sign_env(&e, &amb);
	assert_int_equal(pl_env_verify(b.p, b.n, &w.ctx, NULL), PL_ERR_EXPIRED);
	free(b.p);
	e.at = T0 + 365 * DAY - 1; /* its last valid second */
	b = sign_env(&e, &amb);
	assert_int_equal(pl_env_verify(b.p, b.n, &w.ctx, NULL), 0);
	free(b.p);
	world_free(&w);
}

static void test_verify_wrong_status_list(void **state)
{
	struct world w;
	world_init(&w);
	w.force_list = &w.lists[1]; /* Islamabad's list handed over for Tehran */
	pl_env e = env_base();
	blob b = sign_env(&e, &amb);
	assert_int_equal(pl_env_verify(b.p, b.n, &w.ctx, NULL), PL_ERR_WRONG_STATE);
	free(b.p);
	world_free(&w);
}

static void test_verify_scope(void **state)
{
	struct world w;
	world_init(&w);
	/* aide is listed, but the credential is limited to "other-channel" */
	pl_env e = env_base();
	strcpy(e.author, "aide");
	blob b = sign_env(&e, &aide);
	assert_int_equal(pl_env_verify(b.p, b.n, &w.ctx, NULL), PL_ERR_NOT_MEMBER);
	assert_true(detail_has("limited to other channels"));
	free(b.p);
	world_free(&w);
}

static void test_verify_kind_not_allowed(void **state)
{
	struct world w;
	world_init(&w);
	pl_env e = env_base();
	strcpy(e.kind, "statement");
	blob b = sign_env(&e, &amb);
	assert_int_equal(pl_env_verify(b.p, b.n, &w.ctx, NULL), PL_ERR_KIND_NOT_ALLOWED);
	assert_true(detail_has("'statement'"));
	free(b.p);
	world_free(&w);
}

static void test_verify_lane_not_allowed(void **state)
{
	struct world w;
	world_init(&w);
	pl_env e = env_base();
	e.lane = PL_LANE_PRIORITY;
	blob b = sign_env(&e, &amb);
	assert_int_equal(pl_env_verify(b.p, b.n, &w.ctx, NULL), PL_ERR_LANE_NOT_ALLOWED);
	assert_true(detail_has("PRIORITY"));
	free(b.p);
	world_free(&w);
}

static void test_verify_clock(void **state)
{
	struct world w;
	world_init(&w);
	pl_env e = env_base();
	e.at = NOW + PL_ENV_SKEW_DEFAULT + 1;
	blob b = sign_env(&e, &amb);
	assert_int_equal(pl_env_verify(b.p, b.n, &w.ctx, NULL), PL_ERR_CLOCK);
	assert_true(detail_has("after this node's clock"));
	/* a tolerance of zero refuses even one second ahead */
	w.ctx.max_future = 0;
	free(b.p);
	e.at = NOW + 1;
	b = sign_env(&e, &amb);
	assert_int_equal(pl_env_verify(b.p, b.n, &w.ctx, NULL), PL_ERR_CLOCK);
	free(b.p);
	/* far future (credential still valid then) */
	w.ctx.max_future = PL_ENV_SKEW_DEFAULT;
	e.at = NOW + 100 * DAY;
	b = sign_env(&e, &amb);
	assert_int_equal(pl_env_verify(b.p, b.n, &w.ctx, NULL), PL_ERR_CLOCK);
	free(b.p);
	/* old: accepted by a relay (no max_age), refused by the origin's bound */
	e.at = NOW - 3600;
	b = sign_env(&e, &amb);
	assert_int_equal(pl_env_verify(b.p, b.n, &w.ctx, NULL), 0);
	w.ctx.max_age = 600;
	assert_int_equal(pl_env_verify(b.p, b.n, &w.ctx, NULL), PL_ERR_CLOCK);
	assert_true(detail_has("before this node's clock"));
	w.ctx.max_age = 3600;
	assert_int_equal(pl_env_verify(b.p, b.n, &w.ctx, NULL), 0);
	free(b.p);
	world_free(&w);
}

static void test_verify_replay(void **state)
{
	struct world w;
	world_init(&w);
	pl_env e = env_base();
	blob b1 = sign_env(&e, &amb);
	assert_int_equal(w_accept(&w, &b1), 0);
	/* seq 1 again with other content */
	pl_env x = e;
	x.body = (const uint8_t *)"other";
	blob bx = sign_env(&x, &amb);
	assert_int_equal(pl_env_verify(bx.p, bx.n, &w.ctx, NULL), PL_ERR_REPLAY);
	assert_true(detail_has("already used"));
	/* the very same envelope: REPLAY too (nodes look ids up first) */
	assert_int_equal(pl_env_verify(b1.p, b1.n, &w.ctx, NULL), PL_ERR_REPLAY);
	assert_true(detail_has("already accepted"));
	/* an older seq, after more were accepted */
	pl_env e2 = env_next(&e, &b1);
	blob b2 = sign_env(&e2, &amb);
	assert_int_equal(w_accept(&w, &b2), 0);
	assert_int_equal(pl_env_verify(bx.p, bx.n, &w.ctx, NULL), PL_ERR_REPLAY);
	pl_env y = env_next(&e, &b1);
	y.body = (const uint8_t *)"again";
	blob by = sign_env(&y, &amb);
	assert_int_equal(pl_env_verify(by.p, by.n, &w.ctx, NULL), PL_ERR_REPLAY);
	drop(4, b1, b2, bx, by);
	world_free(&w);
}

static void test_verify_gap(void **state)
{
	struct world w;
	world_init(&w);
	pl_env e = env_base();
	blob b1 = sign_env(&e, &amb);
	pl_env e2 = env_next(&e, &b1);
	blob b2 = sign_env(&e2, &amb);
	/* seq 2 before seq 1 */
	assert_int_equal(pl_env_verify(b2.p, b2.n, &w.ctx, NULL), PL_ERR_SEQUENCE);
	assert_true(detail_has("1 missing"));
	assert_int_equal(w_accept(&w, &b1), 0);
	pl_env e3 = env_next(&e2, &b2);
	blob b3 = sign_env(&e3, &amb);
	assert_int_equal(pl_env_verify(b3.p, b3.n, &w.ctx, NULL), PL_ERR_SEQUENCE);
	/* in order, both go through */
	assert_int_equal(w_accept(&w, &b2), 0);
	assert_int_equal(w_accept(&w, &b3), 0);
	drop(3, b1, b2, b3);
	world_free(&w);
}

static void test_verify_wrong_prev(void **state)
{
	struct world w;
	world_init(&w);
	pl_env e = env_base();
	blob b1 = sign_env(&e, &amb);
	assert_int_equal(w_accept(&w, &b1), 0);
	pl_env e2 = env_next(&e, &b1);
	e2.prev[0] ^= 1;
	blob b2 = sign_env(&e2, &amb);
	assert_int_equal(pl_env_verify(b2.p, b2.n, &w.ctx, NULL), PL_ERR_SEQUENCE);
	assert_true(detail_has("prev differs"));
	/* a fork: seq 2 chained to a seq 1 that was never accepted */
	pl_env other = e;
	other.body = (const uint8_t *)"fork";
	blob bo = sign_env(&other, &amb);
	pl_env e2b = env_next(&e, &bo);
	blob b2b = sign_env(&e2b, &amb);
	assert_int_equal(pl_env_verify(b2b.p, b2b.n, &w.ctx, NULL), PL_ERR_SEQUENCE);
	drop(4, b1, b2, bo, b2b);
	world_free(&w);
}

static void test_verify_callbacks(void **state)
{
	struct world w;
	world_init(&w);
	pl_env e = env_base();
	blob b = sign_env(&e, &amb);
	/* a store failure is returned as is */
	w.last_rc = PL_ERR_STORE;
	assert_int_equal(pl_env_verify(b.p, b.n, &w.ctx, NULL), PL_ERR_STORE);
	w.last_rc = 0;
	/* no sequence callback: no sequence check (offline inspection) */
	pl_env e3 = e;
	e3.seq = 3;
	blob b3 = sign_env(&e3, &amb);
	assert_int_equal(pl_env_verify(b3.p, b3.n, &w.ctx, NULL), PL_ERR_SEQUENCE);
	w.ctx.last = NULL;
	assert_int_equal(pl_env_verify(b3.p, b3.n, &w.ctx, NULL), 0);
	/* a state no longer pinned */
	pl_trust *t = pl_trust_new();
	assert_int_equal(pl_trust_add(t, "islamabad", islamabad.pk), 0);
	w.ctx.trust = t;
	assert_int_equal(pl_env_verify(b.p, b.n, &w.ctx, NULL), PL_ERR_UNKNOWN_ROOT);
	w.ctx.trust = NULL;
	assert_int_equal(pl_env_verify(b.p, b.n, &w.ctx, NULL), 0);
	pl_trust_free(t);
	/* the charter callback answering for another channel */
	pl_env tk = env_base();
	strcpy(tk.ch, "talks");
	blob bt = sign_env(&tk, &amb);
	assert_int_equal(pl_env_verify(bt.p, bt.n, &w.ctx, NULL), 0);
	w.misroute = true;
	assert_int_equal(pl_env_verify(bt.p, bt.n, &w.ctx, NULL), PL_ERR_UNKNOWN_CHANNEL);
	assert_true(detail_has("is that of border"));
	w.misroute = false;
	w.have_talks = false;
	assert_int_equal(pl_env_verify(bt.p, bt.n, &w.ctx, NULL), PL_ERR_UNKNOWN_CHANNEL);
	drop(3, bt, b3, b);
	world_free(&w);
}

static void test_verify_order(void **state)
{
	struct world w;
	world_init(&w);
	append_status(&w, 0, "outsider", PL_STATUS_SUSPENDED, T0);
	append_status(&w, 0, "amb-islamabad", PL_STATUS_SUSPENDED, T0);
	/* non-member with a disallowed kind, suspended, far future: NOT_MEMBER */
	pl_env e = env_base();
	strcpy(e.author, "outsider");
	strcpy(e.kind, "statement");
	e.at = NOW + 100 * DAY;
	blob b = sign_env(&e, &outsider);
	assert_int_equal(pl_env_verify(b.p, b.n, &w.ctx, NULL), PL_ERR_NOT_MEMBER);
	free(b.p);
	/* forged and suspended: BAD_SIGNATURE comes first */
	e = env_base();
	b = sign_env(&e, &mallory);
	assert_int_equal(pl_env_verify(b.p, b.n, &w.ctx, NULL), PL_ERR_BAD_SIGNATURE);
	free(b.p);
	/* suspended, bad kind and lane, future: SUSPENDED */
	e = env_base();
	strcpy(e.kind, "statement");
	e.lane = PL_LANE_PRIORITY;
	e.at = NOW + 2 * DAY;
	b = sign_env(&e, &amb);
	assert_int_equal(pl_env_verify(b.p, b.n, &w.ctx, NULL), PL_ERR_SUSPENDED);
	free(b.p);
	/* Islamabad's minister: bad kind and lane, future, gap: KIND first */
	e = env_base();
	strcpy(e.state, "islamabad");
	strcpy(e.author, "fm");
	strcpy(e.kind, "statement");
	e.lane = PL_LANE_PRIORITY;
	e.at = NOW + 2 * DAY;
	e.seq = 5;
	b = sign_env(&e, &fm);
	assert_int_equal(pl_env_verify(b.p, b.n, &w.ctx, NULL), PL_ERR_KIND_NOT_ALLOWED);
	free(b.p);
	strcpy(e.kind, "message");
	b = sign_env(&e, &fm);
	assert_int_equal(pl_env_verify(b.p, b.n, &w.ctx, NULL), PL_ERR_LANE_NOT_ALLOWED);
	free(b.p);
	e.lane = PL_LANE_FLASH;
	b = sign_env(&e, &fm);
	assert_int_equal(pl_env_verify(b.p, b.n, &w.ctx, NULL), PL_ERR_CLOCK);
	free(b.p);
	e.at = NOW;
	b = sign_env(&e, &fm);
	assert_int_equal(pl_env_verify(b.p, b.n, &w.ctx, NULL), PL_ERR_SEQUENCE);
	free(b.p);
	/* malformed beats everything */
	uint8_t junk[] = {0xd2, 0x84, 0x00};
	pl_env out;
	assert_int_equal(pl_env_verify(junk, sizeof(junk), &w.ctx, &out), PL_ERR_MALFORMED);
	assert_null(out.own_);
	assert_int_equal(pl_env_verify(NULL, 0, &w.ctx, &out), PL_ERR_MALFORMED);
	world_free(&w);
}

static void test_verify_three_states(void **state)
{
	struct world w;
	world_init(&w);
	pl_env e = env_base();
	strcpy(e.ch, "talks");
	strcpy(e.state, "doha");
	strcpy(e.author, "envoy");
	e.lane = PL_LANE_PRIORITY;
	blob b = sign_env(&e, &med);
	assert_int_equal(w_accept(&w, &b), 0);
	pl_env t = env_base();
	strcpy(t.ch, "talks");
	blob bt = sign_env(&t, &amb);
	assert_int_equal(w_accept(&w, &bt), 0);
	/* the same talks charter with Doha's signature missing does not count */
	pl_charter_clear(&w.talks);
	build_talks(&w.talks, w.trust);
	sign_as(&w.talks, w.trust, "tehran", &tehran);
	sign_as(&w.talks, w.trust, "islamabad", &islamabad);
	pl_env t2 = env_next(&t, &bt);
	blob bt2 = sign_env(&t2, &amb);
	assert_int_equal(pl_env_verify(bt2.p, bt2.n, &w.ctx, NULL), PL_ERR_UNKNOWN_CHANNEL);
	assert_true(detail_has("doha"));
	sign_as(&w.talks, w.trust, "doha", &doha);
	assert_int_equal(w_accept(&w, &bt2), 0);
	drop(3, b, bt, bt2);
	world_free(&w);
}

/* ---------------------------------------------------------------- charters */

static void test_charter_round_trip(void **state)
{
	pl_trust *t = trust_all();
	pl_charter c, o;
	complete_border(&c, t, 1);
	assert_string_equal(c.name, "border");
	assert_int_equal(c.version, 1);
	assert_int_equal(c.created, T0);
	assert_int_equal(c.nstates, 2);
	assert_string_equal(c.states[0], "islamabad"); /* sorted */
	assert_string_equal(c.states[1], "tehran");
	assert_int_equal(c.nkinds, 3);
	assert_string_equal(c.kinds[0], "ack");
	assert_string_equal(c.kinds[2], "read");
	assert_int_equal(c.lanes, LANES_BORDER);
	assert_int_equal(c.nmembers, 3);
	assert_string_equal(c.members[0].cred.id, "fm"); /* (state, id) order */
	assert_string_equal(c.members[1].cred.id, "aide");
	assert_string_equal(c.members[2].cred.id, "amb-islamabad");
	assert_int_equal(c.members[2].raw_len, cred_amb.n);
	assert_memory_equal(c.members[2].raw, cred_amb.p, cred_amb.n);
	assert_int_equal(pl_charter_check_complete(&c), 0);

	uint8_t *buf, *again;
	size_t len, alen;
	assert_int_equal(pl_charter_encode(&c, &buf, &len), 0);
	assert_int_equal(pl_charter_open(buf, len, t, &o), 0);
	assert_int_equal(pl_charter_check_complete(&o), 0);
	assert_int_equal(o.payload_len, c.payload_len);
	assert_memory_equal(o.payload, c.payload, c.payload_len);
	assert_int_equal(o.nmembers, 3);
	assert_memory_equal(o.members[0].cred.pk, fm.pk, PL_PK_BYTES);
	assert_int_equal(pl_charter_encode(&o, &again, &alen), 0);
	assert_int_equal(alen, len);
	assert_memory_equal(again, buf, len);
	free(again);

	/* the same charter given in another order builds the same payload */
	pl_slice members[] = {sl(cred_aide), sl(cred_fm), sl(cred_amb)};
	const char *const states[] = {"islamabad", "tehran"};
	const char *const kinds[] = {"read", "message", "ack"};
	pl_charter_spec s = spec("border", 1, states, 2, members, 3, kinds, 3, LANES_BORDER);
	pl_charter d;
	assert_int_equal(pl_charter_build(&s, t, &d), 0);
	assert_int_equal(d.payload_len, c.payload_len);
	assert_memory_equal(d.payload, c.payload, c.payload_len);
	/* and signatures are deterministic (Ed25519) */
	sign_as(&d, t, "islamabad", &islamabad);
	sign_as(&d, t, "tehran", &tehran);
	assert_int_equal(pl_charter_encode(&d, &again, &alen), 0);
	assert_int_equal(alen, len);
	assert_memory_equal(again, buf, len);
	free(again);

	pl_charter_clear(&d);
	pl_charter_clear(&o);
	pl_charter_clear(&c);
	assert_null(c.payload);
	pl_charter_clear(&c);
	pl_charter_clear(NULL);
	free(buf);
	pl_trust_free(t);
}

static void test_charter_build_refuses(void **state)
{
	pl_trust *t = trust_all();
	pl_charter c;
	pl_slice members[] = {sl(cred_amb), sl(cred_fm)};
	const char *const kinds[] = {"message"};
	pl_charter_spec base =
	    spec("border", 1, border_states, 2, members, 2, kinds, 1, LANES_BORDER);
	pl_charter_spec s = base;
	assert_int_equal(pl_charter_build(&s, t, &c), 0);
	pl_charter_clear(&c);

	/* a member credential of a state not party to the charter */
	pl_slice with_kabul[] = {sl(cred_amb), sl(cred_afghan)};
	s = base;
	s.members = with_kabul;
	assert_int_equal(pl_charter_build(&s, t, &c), PL_ERR_WRONG_STATE);
	assert_true(detail_has("kabul"));
	assert_null(c.payload);
	/* the same member twice */
	pl_slice twice[] = {sl(cred_amb), sl(cred_amb)};
	s = base;
	s.members = twice;
	assert_int_equal(pl_charter_build(&s, t, &c), PL_ERR_INVALID);
	/* a member credential that does not verify */
	uint8_t *bad = malloc(cred_fm.n);
	memcpy(bad, cred_fm.p, cred_fm.n);
	bad[cred_fm.n - 1] ^= 1;
	pl_slice badm[] = {sl(cred_amb), {bad, cred_fm.n}};
	s = base;
	s.members = badm;
	assert_int_equal(pl_charter_build(&s, t, &c), PL_ERR_BAD_SIGNATURE);
	free(bad);
	/* states: one, nine, twice, invalid, unpinned */
	const char *const one[] = {"tehran"};
	s = base;
	s.states = one;
	s.nstates = 1;
	assert_int_equal(pl_charter_build(&s, t, &c), PL_ERR_INVALID);
	const char *const nine[] = {"a", "b", "c", "d", "e", "f", "g", "h", "i"};
	s.states = nine;
	s.nstates = 9;
	assert_int_equal(pl_charter_build(&s, t, &c), PL_ERR_LIMIT);
	const char *const dup[] = {"tehran", "tehran"};
	s.states = dup;
	s.nstates = 2;
	assert_int_equal(pl_charter_build(&s, t, &c), PL_ERR_INVALID);
	const char *const bogus[] = {"tehran", "Islamabad"};
	s.states = bogus;
	assert_int_equal(pl_charter_build(&s, t, &c), PL_ERR_INVALID);
	const char *const unpinned[] = {"tehran", "islamabad", "kandahar"};
	s.states = unpinned;
	s.nstates = 3;
	assert_int_equal(pl_charter_build(&s, t, &c), PL_ERR_UNKNOWN_ROOT);
	/* lanes, kinds, name, version */
	s = base;
	s.lanes = 0;
	assert_int_equal(pl_charter_build(&s, t, &c), PL_ERR_INVALID);
	s.lanes = 1u << PL_LANE_CONTROL;
	assert_int_equal(pl_charter_build(&s, t, &c), PL_ERR_INVALID);
	s = base;
	s.nkinds = 0;
	assert_int_equal(pl_charter_build(&s, t, &c), PL_ERR_INVALID);
	s = base;
	s.name = "Border";
	assert_int_equal(pl_charter_build(&s, t, &c), PL_ERR_INVALID);
	s = base;
	s.version = 0;
	assert_int_equal(pl_charter_build(&s, t, &c), PL_ERR_INVALID);
	s = base;
	s.nmembers = 0;
	assert_int_equal(pl_charter_build(&s, t, &c), PL_ERR_INVALID);
	pl_trust_free(t);
}

static void test_charter_sign_refuses(void **state)
{
	pl_trust *t = trust_all();
	pl_charter c;
	build_border(&c, t, 1);
	/* Kabul is pinned, but not a party */
	assert_int_equal(pl_charter_sign(&c, t, "kabul", &kabul), PL_ERR_WRONG_STATE);
	assert_null(c.sig[0]);
	assert_null(c.sig[1]);
	/* Tehran's name with another key */
	assert_int_equal(pl_charter_sign(&c, t, "tehran", &islamabad), PL_ERR_INVALID);
	sign_as(&c, t, "tehran", &tehran);
	/* twice */
	assert_int_equal(pl_charter_sign(&c, t, "tehran", &tehran), PL_ERR_EXISTS);
	/* a listed state unknown to the signer's trust set */
	pl_trust *only = pl_trust_new();
	assert_int_equal(pl_trust_add(only, "tehran", tehran.pk), 0);
	assert_int_equal(pl_charter_sign(&c, only, "islamabad", &islamabad), PL_ERR_UNKNOWN_ROOT);
	pl_trust_free(only);
	pl_charter_clear(&c);
	pl_trust_free(t);
}

static void test_charter_incomplete_until_all_sign(void **state)
{
	pl_trust *t = trust_all();
	pl_charter c, o;
	build_border(&c, t, 1);
	assert_int_equal(pl_charter_check_complete(&c), PL_ERR_UNSIGNED);
	assert_true(detail_has("islamabad, tehran"));
	sign_as(&c, t, "tehran", &tehran);
	assert_int_equal(pl_charter_check_complete(&c), PL_ERR_UNSIGNED);
	assert_true(detail_has("signed by islamabad"));
	assert_false(detail_has("tehran"));
	/* an incomplete charter travels and opens, still incomplete */
	uint8_t *buf;
	size_t len;
	assert_int_equal(pl_charter_encode(&c, &buf, &len), 0);
	assert_int_equal(pl_charter_open(buf, len, t, &o), 0);
	free(buf);
	assert_int_equal(pl_charter_check_complete(&o), PL_ERR_UNSIGNED);
	/* Islamabad countersigns what it received */
	sign_as(&o, t, "islamabad", &islamabad);
	assert_int_equal(pl_charter_check_complete(&o), 0);
	/* even an unsigned draft round-trips */
	pl_charter draft, back;
	build_border(&draft, t, 1);
	assert_int_equal(pl_charter_encode(&draft, &buf, &len), 0);
	assert_int_equal(pl_charter_open(buf, len, t, &back), 0);
	assert_int_equal(pl_charter_check_complete(&back), PL_ERR_UNSIGNED);
	free(buf);
	pl_charter_clear(&back);
	pl_charter_clear(&draft);
	pl_charter_clear(&o);
	pl_charter_clear(&c);
	pl_trust_free(t);
}

static void test_charter_three_states(void **state)
{
	pl_trust *t = trust_all();
	pl_charter c, a, b;
	build_talks(&c, t);
	assert_int_equal(c.nstates, 3);
	sign_as(&c, t, "tehran", &tehran);
	sign_as(&c, t, "islamabad", &islamabad);
	assert_int_equal(pl_charter_check_complete(&c), PL_ERR_UNSIGNED);
	assert_true(detail_has("doha"));
	sign_as(&c, t, "doha", &doha);
	assert_int_equal(pl_charter_check_complete(&c), 0);

	/* signed in parallel, then merged */
	build_talks(&a, t);
	build_talks(&b, t);
	sign_as(&a, t, "doha", &doha);
	sign_as(&b, t, "islamabad", &islamabad);
	sign_as(&b, t, "tehran", &tehran);
	assert_int_equal(pl_charter_merge(&a, &b), 0);
	assert_int_equal(pl_charter_check_complete(&a), 0);
	uint8_t *x, *y;
	size_t xn, yn;
	assert_int_equal(pl_charter_encode(&a, &x, &xn), 0);
	assert_int_equal(pl_charter_encode(&c, &y, &yn), 0);
	assert_int_equal(xn, yn);
	assert_memory_equal(x, y, xn);
	pl_charter o;
	assert_int_equal(pl_charter_open(x, xn, t, &o), 0);
	assert_int_equal(pl_charter_check_complete(&o), 0);
	pl_charter_clear(&o);
	free(x);
	free(y);
	/* merging another text is refused */
	pl_charter other;
	complete_border(&other, t, 1);
	assert_int_equal(pl_charter_merge(&a, &other), PL_ERR_CONFLICT);
	pl_charter_clear(&other);
	pl_charter_clear(&a);
	pl_charter_clear(&b);
	pl_charter_clear(&c);
	pl_trust_free(t);
}

static void test_charter_open_signatures(void **state)
{
	pl_trust *t = trust_all();
	pl_charter c, o;
	complete_border(&c, t, 1);
	blob payload = {c.payload, c.payload_len};
	/* states sorted: sig[0] is Islamabad's, sig[1] Tehran's */
	blob isl = {c.sig[0], c.sig_len[0]}, teh = {c.sig[1], c.sig_len[1]};
	blob ok = craft_signed(&payload, (blob[]){isl, teh}, 2);
	assert_int_equal(pl_charter_open(ok.p, ok.n, t, &o), 0);
	pl_charter_clear(&o);
	free(ok.p);

	/* a third signature by Kabul, pinned but not a party */
	blob kab = cose_sign(payload.p, payload.n, &kabul, &kabul);
	blob s = craft_signed(&payload, (blob[]){isl, teh, kab}, 3);
	assert_int_equal(pl_charter_open(s.p, s.n, t, &o), PL_ERR_WRONG_STATE);
	assert_null(o.payload);
	free(s.p);
	/* Kabul's signature in place of Islamabad's */
	s = craft_signed(&payload, (blob[]){kab, teh}, 2);
	assert_int_equal(pl_charter_open(s.p, s.n, t, &o), PL_ERR_WRONG_STATE);
	drop(2, s, kab);
	/* forged: Mallory signs, naming Islamabad's root */
	blob forged = cose_sign(payload.p, payload.n, &mallory, &islamabad);
	s = craft_signed(&payload, (blob[]){forged, teh}, 2);
	assert_int_equal(pl_charter_open(s.p, s.n, t, &o), PL_ERR_BAD_SIGNATURE);
	assert_true(detail_has("islamabad's signature does not verify"));
	drop(2, s, forged);
	/* Islamabad's real signature over another text (version 2) */
	pl_charter v2;
	build_border(&v2, t, 2);
	sign_as(&v2, t, "islamabad", &islamabad);
	blob other = {v2.sig[0], v2.sig_len[0]};
	s = craft_signed(&payload, (blob[]){other, teh}, 2);
	assert_int_equal(pl_charter_open(s.p, s.n, t, &o), PL_ERR_BAD_SIGNATURE);
	assert_true(detail_has("another text"));
	free(s.p);
	pl_charter_clear(&v2);
	/* the same signature twice, and signatures out of state order */
	s = craft_signed(&payload, (blob[]){isl, isl}, 2);
	assert_int_equal(pl_charter_open(s.p, s.n, t, &o), PL_ERR_MALFORMED);
	assert_true(detail_has("two signatures"));
	free(s.p);
	s = craft_signed(&payload, (blob[]){teh, isl}, 2);
	assert_int_equal(pl_charter_open(s.p, s.n, t, &o), PL_ERR_MALFORMED);
	free(s.p);
	/* a signature that is not a tagged COSE_Sign1 */
	blob junk = {(uint8_t *)"\x01", 1};
	s = craft_signed(&payload, (blob[]){junk}, 1);
	assert_int_equal(pl_charter_open(s.p, s.n, t, &o), PL_ERR_MALFORMED);
	free(s.p);
	/* opening with a trust set lacking a party's root */
	pl_trust *only = pl_trust_new();
	assert_int_equal(pl_trust_add(only, "tehran", tehran.pk), 0);
	uint8_t *buf;
	size_t len;
	assert_int_equal(pl_charter_encode(&c, &buf, &len), 0);
	assert_int_equal(pl_charter_open(buf, len, only, &o), PL_ERR_UNKNOWN_ROOT);
	/* or with Islamabad pinned to another key */
	pl_trust *wrong = pl_trust_new();
	assert_int_equal(pl_trust_add(wrong, "tehran", tehran.pk), 0);
	assert_int_equal(pl_trust_add(wrong, "islamabad", doha.pk), 0);
	assert_int_equal(pl_charter_open(buf, len, wrong, &o), PL_ERR_BAD_SIGNATURE);
	free(buf);
	pl_trust_free(wrong);
	pl_trust_free(only);
	pl_charter_clear(&c);
	pl_trust_free(t);
}

static void test_charter_open_members(void **state)
{
	pl_trust *t = trust_all();
	pl_charter o;
	const char *const states[] = {"islamabad", "tehran"};
	/* properly signed by both, but listing Kabul's envoy */
	const blob *kab[] = {&cred_fm, &cred_afghan};
	blob p = craft_charter(1, states, 2, kab, 2);
	blob s1 = cose_sign(p.p, p.n, &islamabad, &islamabad);
	blob s2 = cose_sign(p.p, p.n, &tehran, &tehran);
	blob s = craft_signed(&p, (blob[]){s1, s2}, 2);
	assert_int_equal(pl_charter_open(s.p, s.n, t, &o), PL_ERR_WRONG_STATE);
	assert_true(detail_has("kabul"));
	drop(4, s, s1, s2, p);
	/* the same member twice, and members out of order */
	const blob *dup[] = {&cred_fm, &cred_fm};
	assert_int_equal(open_crafted(t, 1, states, 2, dup, 2), PL_ERR_MALFORMED);
	assert_true(detail_has("twice"));
	const blob *unordered[] = {&cred_amb, &cred_fm};
	assert_int_equal(open_crafted(t, 1, states, 2, unordered, 2), PL_ERR_MALFORMED);
	/* a member whose credential does not verify */
	uint8_t *bad = malloc(cred_fm.n);
	memcpy(bad, cred_fm.p, cred_fm.n);
	bad[cred_fm.n - 1] ^= 1;
	blob badb = {bad, cred_fm.n};
	const blob *badm[] = {&badb};
	assert_int_equal(open_crafted(t, 1, states, 2, badm, 1), PL_ERR_BAD_SIGNATURE);
	free(bad);
	/* states out of order, twice, or only one */
	const blob *fine[] = {&cred_fm, &cred_amb};
	const char *const rev[] = {"tehran", "islamabad"};
	assert_int_equal(open_crafted(t, 1, rev, 2, fine, 2), PL_ERR_MALFORMED);
	assert_true(detail_has("sorted"));
	const char *const twice[] = {"tehran", "tehran"};
	assert_int_equal(open_crafted(t, 1, twice, 2, fine, 2), PL_ERR_MALFORMED);
	assert_int_equal(open_crafted(t, 1, states, 1, fine, 1), PL_ERR_MALFORMED);
	/* version 0 */
	assert_int_equal(open_crafted(t, 0, states, 2, fine, 2), PL_ERR_MALFORMED);
	/* and the well-formed one opens */
	p = craft_charter(1, states, 2, fine, 2);
	s = craft_signed(&p, NULL, 0);
	assert_int_equal(pl_charter_open(s.p, s.n, t, &o), 0);
	pl_charter_clear(&o);
	drop(2, s, p);
	pl_trust_free(t);
}

static void test_charter_open_strict(void **state)
{
	pl_trust *t = trust_all();
	pl_charter c, o;
	complete_border(&c, t, 1);
	uint8_t *buf;
	size_t len;
	assert_int_equal(pl_charter_encode(&c, &buf, &len), 0);
	/* every truncation fails cleanly */
	for (size_t n = 0; n < len; n += (n < 64 ? 1 : 37)) {
		int rc = pl_charter_open(buf, n, t, &o);
		assert_true(rc == PL_ERR_MALFORMED || rc == PL_ERR_LIMIT);
		assert_null(o.payload);
	}
	/* a trailing byte */
	uint8_t *longer = malloc(len + 1);
	memcpy(longer, buf, len);
	longer[len] = 0xf6;
	assert_int_equal(pl_charter_open(longer, len + 1, t, &o), PL_ERR_MALFORMED);
	free(longer);
	/* non-canonical: "v": 1 as 0x18 0x01 in the outer map */
	const uint8_t vkey[] = {0x61, 'v', 0x01};
	uint8_t *at = memmem(buf, len, vkey, sizeof(vkey));
	assert_non_null(at);
	size_t off = (size_t)(at - buf) + 2;
	uint8_t *nc = malloc(len + 1);
	memcpy(nc, buf, off);
	nc[off] = 0x18;
	nc[off + 1] = 0x01;
	memcpy(nc + off + 2, buf + off + 1, len - off - 1);
	assert_int_equal(pl_charter_open(nc, len + 1, t, &o), PL_ERR_NONCANONICAL);
	free(nc);
	/* an envelope is not a charter, nor is a charter payload a signed charter */
	pl_env e = env_base();
	blob eb = sign_env(&e, &amb);
	assert_int_equal(pl_charter_open(eb.p, eb.n, t, &o), PL_ERR_MALFORMED);
	free(eb.p);
	assert_int_equal(pl_charter_open(c.payload, c.payload_len, t, &o), PL_ERR_TYPE);
	/* a charter payload of another type inside the signed object */
	blob wrong = {buf, len};
	blob nested = craft_signed(&wrong, NULL, 0);
	assert_int_equal(pl_charter_open(nested.p, nested.n, t, &o), PL_ERR_TYPE);
	free(nested.p);
	/* oversized */
	uint8_t *big = calloc(2u << 20, 1);
	assert_int_equal(pl_charter_open(big, 2u << 20, t, &o), PL_ERR_LIMIT);
	free(big);
	/* an envelope handed to the charter opener and vice versa */
	pl_env p;
	assert_int_equal(pl_env_parse(buf, len, &p), PL_ERR_MALFORMED);
	free(buf);
	pl_charter_clear(&c);
	pl_trust_free(t);
}

static void test_charter_supersedes(void **state)
{
	pl_trust *t = trust_all();
	pl_charter v1, v2, v2b, part, talks;
	complete_border(&v1, t, 1);
	complete_border(&v2, t, 2);
	assert_int_equal(pl_charter_supersedes(&v2, &v1), 0);
	assert_int_equal(pl_charter_supersedes(&v1, &v2), PL_ERR_STALE);
	assert_int_equal(pl_charter_supersedes(&v1, &v1), PL_ERR_STALE);
	/* another v2 with other members */
	pl_slice members[] = {sl(cred_amb), sl(cred_fm)};
	const char *const kinds[] = {"message"};
	pl_charter_spec s = spec("border", 2, border_states, 2, members, 2, kinds, 1, LANES_BORDER);
	s.created = T0 + DAY;
	assert_int_equal(pl_charter_build(&s, t, &v2b), 0);
	sign_as(&v2b, t, "tehran", &tehran);
	assert_int_equal(pl_charter_supersedes(&v2b, &v1), PL_ERR_UNSIGNED);
	sign_as(&v2b, t, "islamabad", &islamabad);
	assert_int_equal(pl_charter_supersedes(&v2b, &v1), 0);
	assert_int_equal(pl_charter_supersedes(&v2b, &v2), PL_ERR_CONFLICT);
	/* a newer version that adds a mediator is fine; one that drops a party is not */
	pl_slice three[] = {sl(cred_amb), sl(cred_fm), sl(cred_med)};
	s.version = 3;
	s.states = talks_states;
	s.nstates = 3;
	s.members = three;
	s.nmembers = 3;
	pl_charter v3;
	assert_int_equal(pl_charter_build(&s, t, &v3), 0);
	sign_as(&v3, t, "tehran", &tehran);
	sign_as(&v3, t, "islamabad", &islamabad);
	assert_int_equal(pl_charter_supersedes(&v3, &v2), PL_ERR_UNSIGNED);
	sign_as(&v3, t, "doha", &doha);
	assert_int_equal(pl_charter_supersedes(&v3, &v2), 0);
	const char *const without_isl[] = {"tehran", "doha"};
	pl_slice two[] = {sl(cred_amb), sl(cred_med)};
	s.version = 4;
	s.states = without_isl;
	s.nstates = 2;
	s.members = two;
	s.nmembers = 2;
	assert_int_equal(pl_charter_build(&s, t, &part), 0);
	sign_as(&part, t, "tehran", &tehran);
	sign_as(&part, t, "doha", &doha);
	assert_int_equal(pl_charter_supersedes(&part, &v3), PL_ERR_CONFLICT);
	assert_true(detail_has("drops state islamabad"));
	/* another channel's charter */
	build_talks(&talks, t);
	sign_as(&talks, t, "tehran", &tehran);
	sign_as(&talks, t, "islamabad", &islamabad);
	sign_as(&talks, t, "doha", &doha);
	assert_int_equal(pl_charter_supersedes(&talks, &v1), PL_ERR_INVALID);
	pl_charter_clear(&talks);
	pl_charter_clear(&part);
	pl_charter_clear(&v3);
	pl_charter_clear(&v2b);
	pl_charter_clear(&v2);
	pl_charter_clear(&v1);
	pl_trust_free(t);
}

static void test_charter_queries(void **state)
{
	pl_trust *t = trust_all();
	pl_charter c;
	complete_border(&c, t, 1);
	const pl_charter_member *m = pl_charter_find_member(&c, "islamabad", "fm");
	assert_non_null(m);
	assert_memory_equal(m->cred.pk, fm.pk, PL_PK_BYTES);
	assert_null(pl_charter_find_member(&c, "tehran", "fm"));
	assert_null(pl_charter_find_member(&c, "tehran", "outsider"));
	assert_true(pl_charter_allows_kind(&c, "ack"));
	assert_false(pl_charter_allows_kind(&c, "statement"));
	assert_true(pl_charter_allows_lane(&c, PL_LANE_FLASH));
	assert_false(pl_charter_allows_lane(&c, PL_LANE_PRIORITY));
	assert_false(pl_charter_allows_lane(&c, PL_LANE_CONTROL));
	assert_false(pl_charter_allows_lane(&c, 31));
	pl_charter_clear(&c);
	pl_trust_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_lane_names),
	    cmocka_unit_test(test_env_known_answer),
	    cmocka_unit_test(test_env_round_trip),
	    cmocka_unit_test(test_env_sign_refuses),
	    cmocka_unit_test(test_env_body_limits),
	    cmocka_unit_test(test_env_truncated_and_trailing),
	    cmocka_unit_test(test_env_noncanonical),
	    cmocka_unit_test(test_env_strict_fields),
	    cmocka_unit_test(test_env_cose_profile),
	    cmocka_unit_test(test_verify_accepts),
	    cmocka_unit_test(test_verify_unknown_channel),
	    cmocka_unit_test(test_verify_incomplete_charter),
	    cmocka_unit_test(test_verify_not_member),
	    cmocka_unit_test(test_verify_forged_signature),
	    cmocka_unit_test(test_verify_opened),
	    cmocka_unit_test(test_verify_suspended),
	    cmocka_unit_test(test_verify_recalled_at_created_time),
	    cmocka_unit_test(test_verify_revoked_expired_not_yet_valid),
	    cmocka_unit_test(test_verify_wrong_status_list),
	    cmocka_unit_test(test_verify_scope),
	    cmocka_unit_test(test_verify_kind_not_allowed),
	    cmocka_unit_test(test_verify_lane_not_allowed),
	    cmocka_unit_test(test_verify_clock),
	    cmocka_unit_test(test_verify_replay),
	    cmocka_unit_test(test_verify_gap),
	    cmocka_unit_test(test_verify_wrong_prev),
	    cmocka_unit_test(test_verify_callbacks),
	    cmocka_unit_test(test_verify_order),
	    cmocka_unit_test(test_verify_three_states),
	    cmocka_unit_test(test_charter_round_trip),
	    cmocka_unit_test(test_charter_build_refuses),
	    cmocka_unit_test(test_charter_sign_refuses),
	    cmocka_unit_test(test_charter_incomplete_until_all_sign),
	    cmocka_unit_test(test_charter_three_states),
	    cmocka_unit_test(test_charter_open_signatures),
	    cmocka_unit_test(test_charter_open_members),
	    cmocka_unit_test(test_charter_open_strict),
	    cmocka_unit_test(test_charter_supersedes),
	    cmocka_unit_test(test_charter_queries),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
