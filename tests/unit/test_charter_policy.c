/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lib/channel: the charter's acknowledgement policy ("policy" in
 * "parley/charter" v1) and pl_charter_rule().
 *
 * Keys and credentials come from fixed seeds (roots Tehran 1 and
 * Islamabad 2, the official amb-islamabad@tehran 11), so payloads are
 * byte-for-byte reproducible.  OLD_HEX and OLD4_HEX are the payloads of two
 * small charters without a policy as the code produced them BEFORE the
 * policy existed (lanes FLASH+ROUTINE, and all four): a charter without a
 * policy must keep exactly those bytes.  NEW4_HEX is the second with a
 * three-lane policy, computed independently of this code by a small Python
 * canonical-CBOR encoder (RFC 8949 section 4.2.1: map keys sorted by their
 * encodings, so FLASH, ROUTINE, then IMMEDIATE; "policy" between "lanes"
 * and "states").  Refusals on parsing are crafted with the codec from the
 * old payload, so that only the policy is wrong.
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

#define LANES_FR  ((1u << PL_LANE_FLASH) | (1u << PL_LANE_ROUTINE))
#define LANES_ALL (LANES_FR | (1u << PL_LANE_IMMEDIATE) | (1u << PL_LANE_PRIORITY))

static const char OLD_HEX[] =
    "a961746e7061726c65792f63686172746572617601646e616d6566626f72646572656b696e647381"
    "676d657373616765656c616e657382010466737461746573826969736c616d616261646674656872"
    "616e67637265617465641a6b49d200676d656d626572738158e0d28443a10127a1044834750f98bd"
    "59fcfc588baa61746b7061726c65792f637265646176016269646d616d622d69736c616d61626164"
    "62706b582066be7e332c7a453332bd9d0a7f7db055f5c5ef1a06ada66d98b39fb6810c473a636578"
    "701a6d2b0580636e62661a6b49d200646e616d656b416e204f6666696369616c65726f6c65738065"
    "73746174656674656872616e657469746c65655469746c6558404538b14aa36c4dbc31ea3b85cd9e"
    "c3a968239105e9c8b1bf4e84ee3cc95c949fd91acbb2940c03bf4f2651b1f7a891de5c44725a9e25"
    "b0b815a278e2382d9c006776657273696f6e01";
static const char OLD4_HEX[] =
    "a961746e7061726c65792f63686172746572617601646e616d6566626f72646572656b696e647381"
    "676d657373616765656c616e6573840102030466737461746573826969736c616d61626164667465"
    "6872616e67637265617465641a6b49d200676d656d626572738158e0d28443a10127a1044834750f"
    "98bd59fcfc588baa61746b7061726c65792f637265646176016269646d616d622d69736c616d6162"
    "616462706b582066be7e332c7a453332bd9d0a7f7db055f5c5ef1a06ada66d98b39fb6810c473a63"
    "6578701a6d2b0580636e62661a6b49d200646e616d656b416e204f6666696369616c65726f6c6573"
    "806573746174656674656872616e657469746c65655469746c6558404538b14aa36c4dbc31ea3b85"
    "cd9ec3a968239105e9c8b1bf4e84ee3cc95c949fd91acbb2940c03bf4f2651b1f7a891de5c44725a"
    "9e25b0b815a278e2382d9c006776657273696f6e01";
static const char NEW4_HEX[] =
    "aa61746e7061726c65792f63686172746572617601646e616d6566626f72646572656b696e647381"
    "676d657373616765656c616e6573840102030466706f6c696379a365464c415348a26361636b1902"
    "58666c6576656c7382a365616674657219012c666e6f746966798269726f6c653a64757479686964"
    "3a616d622d316672657065617402a36561667465721a00093a80666e6f74696679816d726f6c653a"
    "6d696e6973746572667265706561740067524f5554494e45a26361636b1a00278d00666c6576656c"
    "7381a365616674657201666e6f74696679816569643a666d667265706561740a69494d4d45444941"
    "5445a26361636b190e10666c6576656c7381a365616674657219012c666e6f746966798169726f6c"
    "653a64757479667265706561740266737461746573826969736c616d616261646674656872616e67"
    "637265617465641a6b49d200676d656d626572738158e0d28443a10127a1044834750f98bd59fcfc"
    "588baa61746b7061726c65792f637265646176016269646d616d622d69736c616d6162616462706b"
    "582066be7e332c7a453332bd9d0a7f7db055f5c5ef1a06ada66d98b39fb6810c473a636578701a6d"
    "2b0580636e62661a6b49d200646e616d656b416e204f6666696369616c65726f6c65738065737461"
    "74656674656872616e657469746c65655469746c6558404538b14aa36c4dbc31ea3b85cd9ec3a968"
    "239105e9c8b1bf4e84ee3cc95c949fd91acbb2940c03bf4f2651b1f7a891de5c44725a9e25b0b815"
    "a278e2382d9c006776657273696f6e01";

static pl_keypair tehran, islamabad, amb;
static uint8_t *cred_amb;
static size_t cred_amb_len;
static pl_trust *trust;

static void seed_key(pl_keypair *kp, uint8_t fill)
{
	uint8_t seed[PL_SEED_BYTES];
	memset(seed, fill, sizeof(seed));
	assert_int_equal(pl_key_from_seed(kp, seed), 0);
}

static int setup(void **state)
{
	assert_int_equal(pl_crypto_init(), 0);
	seed_key(&tehran, 1);
	seed_key(&islamabad, 2);
	seed_key(&amb, 11);
	pl_cred c;
	memset(&c, 0, sizeof(c));
	memcpy(c.state, "tehran", sizeof("tehran"));
	memcpy(c.id, "amb-islamabad", sizeof("amb-islamabad"));
	memcpy(c.name, "An Official", sizeof("An Official"));
	memcpy(c.title, "Title", sizeof("Title"));
	memcpy(c.pk, amb.pk, PL_PK_BYTES);
	c.not_before = T0;
	c.not_after = T0 + 365 * DAY;
	assert_int_equal(pl_cred_sign(&c, &tehran, &cred_amb, &cred_amb_len), 0);
	trust = pl_trust_new();
	assert_non_null(trust);
	assert_int_equal(pl_trust_add(trust, "tehran", tehran.pk), 0);
	assert_int_equal(pl_trust_add(trust, "islamabad", islamabad.pk), 0);
	return 0;
}

static int teardown(void **state)
{
	free(cred_amb);
	pl_trust_free(trust);
	return 0;
}

static bool detail_has(const char *s)
{
	if (strstr(pl_err_detail(), s))
		return true;
	print_message("detail '%s' lacks '%s'\n", pl_err_detail(), s);
	return false;
}

static bool zeroed(const void *p, size_t n)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

/* hex into a malloc'd buffer */
static uint8_t *unhex(const char *h, size_t *n)
{
	size_t cap = strlen(h) / 2;
	uint8_t *p = malloc(cap);
	assert_non_null(p);
	assert_int_equal(pl_hex_decode(p, cap, n, h, strlen(h)), 0);
	assert_int_equal(*n, cap);
	return p;
}

static void assert_payload(const pl_charter *c, const char *hex)
{
	size_t n;
	uint8_t *want = unhex(hex, &n);
	assert_int_equal(c->payload_len, n);
	assert_memory_equal(c->payload, want, n);
	free(want);
}

/* ---------------------------------------------------------------- rules */

static void set_level(pl_ack_level *l, uint32_t after, uint32_t repeat, size_t nt, ...)
{
	va_list ap;
	va_start(ap, nt);
	memset(l, 0, sizeof(*l));
	for (size_t i = 0; i < nt; i++)
		snprintf(l->targets[i], sizeof(l->targets[i]), "%s", va_arg(ap, const char *));
	va_end(ap);
	l->ntargets = nt;
	l->after = after;
	l->repeat = repeat;
}

/* The policy of NEW4_HEX. */
static void kat_rules(pl_ack_rule *flash, pl_ack_rule *imm, pl_ack_rule *routine)
{
	memset(flash, 0, sizeof(*flash));
	flash->ack = 600;
	flash->nlevels = 2;
	set_level(&flash->levels[0], 300, 2, 2, "role:duty", "id:amb-1");
	set_level(&flash->levels[1], 604800, 0, 1, "role:minister");
	memset(imm, 0, sizeof(*imm));
	imm->ack = 3600;
	imm->nlevels = 1;
	set_level(&imm->levels[0], 300, 2, 1, "role:duty");
	memset(routine, 0, sizeof(*routine));
	routine->ack = 2592000;
	routine->nlevels = 1;
	set_level(&routine->levels[0], 1, 10, 1, "id:fm");
}

/* A valid one-level rule to be bent by the bound tests. */
static void base_rule(pl_ack_rule *r)
{
	memset(r, 0, sizeof(*r));
	r->ack = 600;
	r->nlevels = 1;
	set_level(&r->levels[0], 300, 2, 1, "role:duty");
}

static void assert_rule_equal(const pl_ack_rule *a, const pl_ack_rule *b)
{
	assert_int_equal(a->ack, b->ack);
	assert_int_equal(a->nlevels, b->nlevels);
	for (size_t i = 0; i < a->nlevels; i++) {
		const pl_ack_level *x = &a->levels[i], *y = &b->levels[i];
		assert_int_equal(x->after, y->after);
		assert_int_equal(x->repeat, y->repeat);
		assert_int_equal(x->ntargets, y->ntargets);
		for (size_t j = 0; j < x->ntargets; j++)
			assert_string_equal(x->targets[j], y->targets[j]);
	}
}

/* "border" v1, Tehran and Islamabad, amb only, kind message. */
static int build(unsigned lanes, const pl_ack_rule *const rules[PL_LANE_COUNT], pl_charter *c)
{
	static const char *const states[] = {"tehran", "islamabad"};
	static const char *const kinds[] = {"message"};
	pl_slice members[] = {{cred_amb, cred_amb_len}};
	pl_charter_spec s = {.name = "border",
			     .version = 1,
			     .created = T0,
			     .states = states,
			     .nstates = 2,
			     .members = members,
			     .nmembers = 1,
			     .kinds = kinds,
			     .nkinds = 1,
			     .lanes = lanes};
	for (size_t l = 0; rules && l < PL_LANE_COUNT; l++)
		s.rules[l] = rules[l];
	int rc = pl_charter_build(&s, trust, c);
	if (rc)
		assert_true(zeroed(c, sizeof(*c)));
	return rc;
}

/* Build with one rule on lane (all lanes allowed). */
static int build_one(pl_lane lane, const pl_ack_rule *r)
{
	const pl_ack_rule *rules[PL_LANE_COUNT] = {0};
	rules[lane] = r;
	pl_charter c;
	int rc = build(LANES_ALL, rules, &c);
	pl_charter_clear(&c);
	return rc;
}

/* ---------------------------------------------------------------- byte forms */

static void test_no_policy_keeps_old_bytes(void **state)
{
	pl_charter c;
	assert_int_equal(build(LANES_FR, NULL, &c), 0);
	assert_payload(&c, OLD_HEX);
	assert_int_equal(c.has_rule, 0);
	pl_charter_clear(&c);
	const pl_ack_rule *none[PL_LANE_COUNT] = {0};
	assert_int_equal(build(LANES_ALL, none, &c), 0);
	assert_payload(&c, OLD4_HEX);
	assert_int_equal(c.has_rule, 0);
	pl_charter_clear(&c);
}

static void test_policy_known_answer(void **state)
{
	pl_ack_rule flash, imm, routine;
	kat_rules(&flash, &imm, &routine);
	const pl_ack_rule *rules[PL_LANE_COUNT] = {0};
	rules[PL_LANE_FLASH] = &flash;
	rules[PL_LANE_IMMEDIATE] = &imm;
	rules[PL_LANE_ROUTINE] = &routine;
	pl_charter c;
	assert_int_equal(build(LANES_ALL, rules, &c), 0);
	assert_payload(&c, NEW4_HEX);
	assert_int_equal(c.has_rule, (1u << PL_LANE_FLASH) | (1u << PL_LANE_IMMEDIATE) |
					 (1u << PL_LANE_ROUTINE));
	pl_charter_clear(&c);
}

static void test_policy_round_trip(void **state)
{
	pl_ack_rule flash, imm, routine;
	kat_rules(&flash, &imm, &routine);
	const pl_ack_rule *rules[PL_LANE_COUNT] = {0};
	rules[PL_LANE_FLASH] = &flash;
	rules[PL_LANE_IMMEDIATE] = &imm;
	rules[PL_LANE_ROUTINE] = &routine;
	pl_charter c;
	assert_int_equal(build(LANES_ALL, rules, &c), 0);
	assert_int_equal(pl_charter_sign(&c, trust, "tehran", &tehran), 0);
	assert_int_equal(pl_charter_sign(&c, trust, "islamabad", &islamabad), 0);
	uint8_t *enc, *again;
	size_t len, alen;
	assert_int_equal(pl_charter_encode(&c, &enc, &len), 0);
	pl_charter o;
	assert_int_equal(pl_charter_open(enc, len, trust, &o), 0);
	assert_int_equal(pl_charter_check_complete(&o), 0);
	assert_int_equal(o.has_rule, c.has_rule);
	assert_rule_equal(&o.rules[PL_LANE_FLASH], &flash);
	assert_rule_equal(&o.rules[PL_LANE_IMMEDIATE], &imm);
	assert_rule_equal(&o.rules[PL_LANE_ROUTINE], &routine);
	/* the targets keep the order given, not sorted */
	assert_string_equal(o.rules[PL_LANE_FLASH].levels[0].targets[0], "role:duty");
	assert_string_equal(o.rules[PL_LANE_FLASH].levels[0].targets[1], "id:amb-1");
	assert_int_equal(pl_charter_encode(&o, &again, &alen), 0);
	assert_int_equal(alen, len);
	assert_memory_equal(again, enc, len);
	/* a different policy is a different text: same version conflicts */
	pl_charter other;
	routine.ack = 86400;
	assert_int_equal(build(LANES_ALL, rules, &other), 0);
	assert_int_equal(pl_charter_sign(&other, trust, "tehran", &tehran), 0);
	assert_int_equal(pl_charter_sign(&other, trust, "islamabad", &islamabad), 0);
	assert_int_equal(pl_charter_supersedes(&other, &o), PL_ERR_CONFLICT);
	assert_int_equal(pl_charter_merge(&other, &o), PL_ERR_CONFLICT);
	pl_charter_clear(&other);
	free(enc);
	free(again);
	pl_charter_clear(&o);
	pl_charter_clear(&c);
}

/* Every count and string at its maximum, on all four lanes. */
static void test_policy_at_maximum(void **state)
{
	static pl_ack_rule big;
	memset(&big, 0, sizeof(big));
	big.ack = PL_ACK_DEADLINE_MAX;
	big.nlevels = PL_ACK_LEVELS_MAX;
	for (size_t i = 0; i < PL_ACK_LEVELS_MAX; i++) {
		pl_ack_level *l = &big.levels[i];
		l->after = PL_ACK_AFTER_MAX;
		l->repeat = PL_ACK_REPEAT_MAX;
		l->ntargets = PL_ACK_TARGETS_MAX;
		for (size_t j = 0; j < PL_ACK_TARGETS_MAX; j++) {
			/* "role:" + 63 characters, distinct in their last two */
			memset(l->targets[j], 'r', PL_ACK_TARGET_MAX - 1);
			memcpy(l->targets[j], "role:", 5);
			l->targets[j][PL_ACK_TARGET_MAX - 3] = (char)('a' + i);
			l->targets[j][PL_ACK_TARGET_MAX - 2] = (char)('a' + j);
			l->targets[j][PL_ACK_TARGET_MAX - 1] = '\0';
			assert_true(pl_ack_target_is_valid(l->targets[j]));
		}
	}
	const pl_ack_rule *rules[PL_LANE_COUNT] = {NULL, &big, &big, &big, &big};
	pl_charter c, o;
	assert_int_equal(build(LANES_ALL, rules, &c), 0);
	assert_int_equal(pl_charter_sign(&c, trust, "tehran", &tehran), 0);
	uint8_t *enc;
	size_t len;
	assert_int_equal(pl_charter_encode(&c, &enc, &len), 0);
	assert_int_equal(pl_charter_open(enc, len, trust, &o), 0);
	for (unsigned l = PL_LANE_FLASH; l <= PL_LANE_ROUTINE; l++)
		assert_rule_equal(&o.rules[l], &big);
	free(enc);
	pl_charter_clear(&o);
	pl_charter_clear(&c);
}

/* ---------------------------------------------------------------- pl_charter_rule */

static void assert_default(const pl_charter *c, pl_lane lane, uint32_t ack)
{
	pl_ack_rule r;
	assert_int_equal(pl_charter_rule(c, lane, &r), 0);
	assert_int_equal(r.ack, ack);
	assert_int_equal(r.nlevels, 1);
	assert_int_equal(r.levels[0].ntargets, 1);
	assert_string_equal(r.levels[0].targets[0], "role:duty");
	assert_int_equal(r.levels[0].after, 300);
	assert_int_equal(r.levels[0].repeat, 2);
}

static void test_rule_defaults(void **state)
{
	pl_charter c;
	assert_int_equal(build(LANES_ALL, NULL, &c), 0);
	assert_default(&c, PL_LANE_FLASH, 600);
	assert_default(&c, PL_LANE_IMMEDIATE, 3600);
	pl_ack_rule r;
	memset(&r, 0x5a, sizeof(r));
	assert_int_equal(pl_charter_rule(&c, PL_LANE_PRIORITY, &r), PL_ERR_NOT_FOUND);
	assert_true(zeroed(&r, sizeof(r)));
	assert_int_equal(pl_charter_rule(&c, PL_LANE_ROUTINE, &r), PL_ERR_NOT_FOUND);
	assert_int_equal(pl_charter_rule(&c, PL_LANE_CONTROL, &r), PL_ERR_INVALID);
	assert_int_equal(pl_charter_rule(&c, (pl_lane)5, &r), PL_ERR_INVALID);
	assert_int_equal(pl_charter_rule(NULL, PL_LANE_FLASH, &r), PL_ERR_INVALID);
	assert_int_equal(pl_charter_rule(&c, PL_LANE_FLASH, NULL), PL_ERR_INVALID);
	pl_charter_clear(&c);
}

static void test_rule_from_charter(void **state)
{
	pl_ack_rule flash, imm, routine;
	kat_rules(&flash, &imm, &routine);
	const pl_ack_rule *rules[PL_LANE_COUNT] = {0};
	rules[PL_LANE_FLASH] = &flash;
	rules[PL_LANE_ROUTINE] = &routine;
	pl_charter c;
	assert_int_equal(build(LANES_ALL, rules, &c), 0);
	pl_ack_rule r;
	assert_int_equal(pl_charter_rule(&c, PL_LANE_FLASH, &r), 0);
	assert_rule_equal(&r, &flash);
	/* ROUTINE needs no ack by default, but this charter asks for one */
	assert_int_equal(pl_charter_rule(&c, PL_LANE_ROUTINE, &r), 0);
	assert_rule_equal(&r, &routine);
	/* lanes the policy does not set keep their defaults */
	assert_default(&c, PL_LANE_IMMEDIATE, 3600);
	assert_int_equal(pl_charter_rule(&c, PL_LANE_PRIORITY, &r), PL_ERR_NOT_FOUND);
	pl_charter_clear(&c);
}

/* ---------------------------------------------------------------- building: bounds */

static void test_build_bounds_ack(void **state)
{
	pl_ack_rule r;
	base_rule(&r);
	r.ack = 1;
	assert_int_equal(build_one(PL_LANE_FLASH, &r), 0);
	r.ack = PL_ACK_DEADLINE_MAX;
	assert_int_equal(build_one(PL_LANE_FLASH, &r), 0);
	r.ack = 0;
	assert_int_equal(build_one(PL_LANE_FLASH, &r), PL_ERR_INVALID);
	assert_true(detail_has("policy FLASH: ack 0 s, must be 1..2592000"));
	r.ack = PL_ACK_DEADLINE_MAX + 1;
	assert_int_equal(build_one(PL_LANE_IMMEDIATE, &r), PL_ERR_INVALID);
	assert_true(detail_has("policy IMMEDIATE: ack 2592001 s"));
}

static void test_build_bounds_levels(void **state)
{
	pl_ack_rule r;
	base_rule(&r);
	for (size_t i = 1; i < PL_ACK_LEVELS_MAX; i++)
		r.levels[i] = r.levels[0];
	r.nlevels = PL_ACK_LEVELS_MAX;
	assert_int_equal(build_one(PL_LANE_ROUTINE, &r), 0);
	r.nlevels = PL_ACK_LEVELS_MAX + 1;
	assert_int_equal(build_one(PL_LANE_ROUTINE, &r), PL_ERR_LIMIT);
	assert_true(detail_has("policy ROUTINE: 9 levels, must be 1..8"));
	r.nlevels = 0;
	assert_int_equal(build_one(PL_LANE_ROUTINE, &r), PL_ERR_INVALID);
	assert_true(detail_has("0 levels"));
}

static void test_build_bounds_after_repeat(void **state)
{
	pl_ack_rule r;
	base_rule(&r);
	r.nlevels = 2;
	r.levels[1] = r.levels[0];
	r.levels[1].after = 1;
	r.levels[1].repeat = 0;
	assert_int_equal(build_one(PL_LANE_FLASH, &r), 0);
	r.levels[1].after = PL_ACK_AFTER_MAX;
	r.levels[1].repeat = PL_ACK_REPEAT_MAX;
	assert_int_equal(build_one(PL_LANE_FLASH, &r), 0);
	r.levels[1].after = 0;
	assert_int_equal(build_one(PL_LANE_FLASH, &r), PL_ERR_INVALID);
	assert_true(detail_has("policy FLASH level 2: after 0 s, must be 1..604800"));
	r.levels[1].after = PL_ACK_AFTER_MAX + 1;
	assert_int_equal(build_one(PL_LANE_FLASH, &r), PL_ERR_INVALID);
	assert_true(detail_has("level 2: after 604801 s"));
	r.levels[1].after = 60;
	r.levels[1].repeat = PL_ACK_REPEAT_MAX + 1;
	assert_int_equal(build_one(PL_LANE_FLASH, &r), PL_ERR_INVALID);
	assert_true(detail_has("level 2: repeat 11, must be 0..10"));
}

static void test_build_bounds_targets(void **state)
{
	pl_ack_rule r;
	base_rule(&r);
	pl_ack_level *l = &r.levels[0];
	for (size_t j = 0; j < PL_ACK_TARGETS_MAX; j++)
		snprintf(l->targets[j], sizeof(l->targets[j]), "id:official-%zu", j);
	l->ntargets = PL_ACK_TARGETS_MAX;
	assert_int_equal(build_one(PL_LANE_FLASH, &r), 0);
	l->ntargets = PL_ACK_TARGETS_MAX + 1;
	assert_int_equal(build_one(PL_LANE_FLASH, &r), PL_ERR_LIMIT);
	assert_true(detail_has("level 1: 17 targets to notify, must be 1..16"));
	l->ntargets = 0;
	assert_int_equal(build_one(PL_LANE_FLASH, &r), PL_ERR_INVALID);
	assert_true(detail_has("0 targets"));

	l->ntargets = 2;
	static const char *const good[] = {"id:a", "role:duty-officer", "id:amb.islamabad_2"};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(l->targets[1], sizeof(l->targets[1]), "%s", good[i]);
		assert_int_equal(build_one(PL_LANE_FLASH, &r), 0);
	}
	static const char *const bad[] = {"duty",    "role:",    "id:",        "role:Duty",
					  "ID:amb",  "user:amb", " role:duty", "role:duty ",
					  "role:-x", "id:amb:x", "role:a/b",   ""};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(l->targets[1], sizeof(l->targets[1]), "%s", bad[i]);
		assert_false(pl_ack_target_is_valid(bad[i]));
		assert_int_equal(build_one(PL_LANE_FLASH, &r), PL_ERR_INVALID);
		assert_true(detail_has("is not id:ID or role:ROLE"));
	}
	/* the longest target fits; a buffer without its NUL is refused, not overrun */
	memset(l->targets[1], 'a', PL_ACK_TARGET_MAX - 1);
	memcpy(l->targets[1], "role:", 5);
	l->targets[1][PL_ACK_TARGET_MAX - 1] = '\0';
	assert_int_equal(build_one(PL_LANE_FLASH, &r), 0);
	l->targets[1][PL_ACK_TARGET_MAX - 1] = 'a';
	assert_int_equal(build_one(PL_LANE_FLASH, &r), PL_ERR_INVALID);
	/* one name over PL_NAME_MAX */
	memset(l->targets[1], 'a', PL_ACK_TARGET_MAX - 1);
	memcpy(l->targets[1], "id:", 3);
	l->targets[1][PL_ACK_TARGET_MAX - 1] = '\0';
	assert_false(pl_ack_target_is_valid(l->targets[1]));
	assert_int_equal(build_one(PL_LANE_FLASH, &r), PL_ERR_INVALID);
	/* the same target twice in a level; in two levels is fine */
	snprintf(l->targets[0], sizeof(l->targets[0]), "role:duty");
	snprintf(l->targets[1], sizeof(l->targets[1]), "role:duty");
	assert_int_equal(build_one(PL_LANE_FLASH, &r), PL_ERR_INVALID);
	assert_true(detail_has("'role:duty' listed twice"));
	l->ntargets = 1;
	r.nlevels = 2;
	r.levels[1] = r.levels[0];
	assert_int_equal(build_one(PL_LANE_FLASH, &r), 0);
	assert_false(pl_ack_target_is_valid(NULL));
}

static void test_build_lanes(void **state)
{
	pl_ack_rule r;
	base_rule(&r);
	const pl_ack_rule *rules[PL_LANE_COUNT] = {0};
	pl_charter c;
	/* a rule for a lane the charter does not allow */
	rules[PL_LANE_PRIORITY] = &r;
	assert_int_equal(build(LANES_FR, rules, &c), PL_ERR_INVALID);
	assert_true(detail_has("a policy for PRIORITY, a precedence it does not allow"));
	rules[PL_LANE_PRIORITY] = NULL;
	rules[PL_LANE_CONTROL] = &r;
	assert_int_equal(build(LANES_ALL, rules, &c), PL_ERR_INVALID);
	assert_true(detail_has("CONTROL"));
	/* every lane may have one, PRIORITY and ROUTINE included */
	const pl_ack_rule *all[PL_LANE_COUNT] = {NULL, &r, &r, &r, &r};
	assert_int_equal(build(LANES_ALL, all, &c), 0);
	assert_int_equal(c.has_rule, LANES_ALL);
	pl_charter_clear(&c);
}

/* ---------------------------------------------------------------- parsing: crafted policies */

/*
 * Open a charter whose payload is base_hex (a payload without a policy)
 * with the encoded item `policy` inserted under "policy", unsigned.
 */
static int open_crafted(const char *base_hex, const uint8_t *pol, size_t pn, pl_charter *c)
{
	size_t n;
	uint8_t *old = unhex(base_hex, &n);
	static const uint8_t states_key[] = {0x66, 's', 't', 'a', 't', 'e', 's'};
	size_t at = 0;
	while (at + sizeof(states_key) <= n && memcmp(old + at, states_key, sizeof(states_key)))
		at++;
	assert_true(at + sizeof(states_key) <= n);
	assert_int_equal(old[0], 0xa9);
	pl_cbor_enc e;
	pl_cbor_enc_init(&e);
	pl_cbor_put_map(&e, 4);
	pl_cbor_put_str(&e, "t");
	pl_cbor_put_str(&e, "parley/charter-signed");
	pl_cbor_put_str(&e, "v");
	pl_cbor_put_uint(&e, 1);
	pl_cbor_put_str(&e, "sigs");
	pl_cbor_put_array(&e, 0);
	pl_cbor_put_str(&e, "charter");
	size_t plen = n + 7 + pn;
	uint8_t *payload = malloc(plen);
	assert_non_null(payload);
	payload[0] = 0xaa;
	memcpy(payload + 1, old + 1, at - 1);
	memcpy(payload + at, "\x66policy", 7);
	memcpy(payload + at + 7, pol, pn);
	memcpy(payload + at + 7 + pn, old + at, n - at);
	pl_cbor_put_bytes(&e, payload, plen);
	uint8_t *obj;
	size_t olen;
	assert_int_equal(pl_cbor_enc_finish(&e, &obj, &olen), 0);
	int rc = pl_charter_open(obj, olen, trust, c);
	if (rc)
		assert_true(zeroed(c, sizeof(*c)));
	free(obj);
	free(payload);
	free(old);
	return rc;
}

/* {lane: {"ack": ack, "levels": [{"after": after, "notify": [target], "repeat": repeat}]}} */
static int open_one(const char *lane, uint64_t ack, uint64_t after, uint64_t repeat,
		    const char *target, pl_charter *c)
{
	pl_cbor_enc e;
	pl_cbor_enc_init(&e);
	pl_cbor_put_map(&e, 1);
	pl_cbor_put_str(&e, lane);
	pl_cbor_put_map(&e, 2);
	pl_cbor_put_str(&e, "ack");
	pl_cbor_put_uint(&e, ack);
	pl_cbor_put_str(&e, "levels");
	pl_cbor_put_array(&e, 1);
	pl_cbor_put_map(&e, 3);
	pl_cbor_put_str(&e, "after");
	pl_cbor_put_uint(&e, after);
	pl_cbor_put_str(&e, "notify");
	pl_cbor_put_array(&e, 1);
	pl_cbor_put_str(&e, target);
	pl_cbor_put_str(&e, "repeat");
	pl_cbor_put_uint(&e, repeat);
	uint8_t *p;
	size_t n;
	assert_int_equal(pl_cbor_enc_finish(&e, &p, &n), 0);
	int rc = open_crafted(OLD4_HEX, p, n, c);
	free(p);
	return rc;
}

static int open_hex(const char *base_hex, const char *pol_hex, pl_charter *c)
{
	size_t n;
	uint8_t *p = unhex(pol_hex, &n);
	int rc = open_crafted(base_hex, p, n, c);
	free(p);
	return rc;
}

static void test_parse_values(void **state)
{
	pl_charter c;
	/* the crafting itself is sound */
	assert_int_equal(open_one("FLASH", 600, 300, 2, "role:duty", &c), 0);
	assert_default(&c, PL_LANE_FLASH, 600);
	assert_int_equal(c.has_rule, 1u << PL_LANE_FLASH);
	pl_charter_clear(&c);
	assert_int_equal(open_one("PRIORITY", 1, 1, 0, "id:x", &c), 0);
	assert_int_equal(c.rules[PL_LANE_PRIORITY].ack, 1);
	pl_charter_clear(&c);
	assert_int_equal(open_one("ROUTINE", 2592000, 604800, 10, "id:x", &c), 0);
	pl_charter_clear(&c);

	assert_int_equal(open_one("FLASH", 0, 300, 2, "role:duty", &c), PL_ERR_MALFORMED);
	assert_true(detail_has("policy FLASH: ack 0 s"));
	assert_int_equal(open_one("FLASH", 2592001, 300, 2, "role:duty", &c), PL_ERR_MALFORMED);
	/* 2^32 + 600 must not wrap into range */
	assert_int_equal(open_one("FLASH", 4294967896u, 300, 2, "role:duty", &c), PL_ERR_MALFORMED);
	assert_int_equal(open_one("FLASH", 600, 0, 2, "role:duty", &c), PL_ERR_MALFORMED);
	assert_true(detail_has("level 1: after 0 s"));
	assert_int_equal(open_one("FLASH", 600, 604801, 2, "role:duty", &c), PL_ERR_MALFORMED);
	assert_int_equal(open_one("FLASH", 600, 4294967296u + 60, 2, "role:duty", &c),
			 PL_ERR_MALFORMED);
	assert_int_equal(open_one("FLASH", 600, 300, 11, "role:duty", &c), PL_ERR_MALFORMED);
	assert_true(detail_has("repeat 11"));
	assert_int_equal(open_one("FLASH", 600, 300, 4294967296u, "role:duty", &c),
			 PL_ERR_MALFORMED);
	assert_int_equal(open_one("FLASH", 600, 300, 2, "duty", &c), PL_ERR_MALFORMED);
	assert_true(detail_has("is not id:ID or role:ROLE"));
	assert_int_equal(open_one("FLASH", 600, 300, 2, "role:Duty", &c), PL_ERR_MALFORMED);
	char longest[PL_ACK_TARGET_MAX + 1];
	memset(longest, 'a', sizeof(longest));
	memcpy(longest, "role:", 5);
	longest[PL_ACK_TARGET_MAX - 1] = '\0';
	assert_int_equal(open_one("FLASH", 600, 300, 2, longest, &c), 0);
	pl_charter_clear(&c);
	longest[PL_ACK_TARGET_MAX - 1] = 'a';
	longest[PL_ACK_TARGET_MAX] = '\0';
	assert_int_equal(open_one("FLASH", 600, 300, 2, longest, &c), PL_ERR_MALFORMED);
	/* lane keys: exactly the four names, of allowed lanes */
	assert_int_equal(open_one("flash", 600, 300, 2, "role:duty", &c), PL_ERR_MALFORMED);
	assert_true(detail_has("policy key 'flash' is not FLASH, IMMEDIATE, PRIORITY or ROUTINE"));
	assert_int_equal(open_one("CONTROL", 600, 300, 2, "role:duty", &c), PL_ERR_MALFORMED);
}

static void test_parse_structure(void **state)
{
	pl_charter c;
	/* {"FLASH": {"ack": 600, "levels": [{"after": 300, "notify": ["role:duty"], "repeat": 2}]}}
	 */
	const char *good = "a165464c415348a26361636b190258666c6576656c7381a3656166746572"
			   "19012c666e6f746966798169726f6c653a64757479667265706561740"
			   "2";
	assert_int_equal(open_hex(OLD4_HEX, good, &c), 0);
	pl_charter_clear(&c);
	/* ... but the charter "border" with lanes FLASH and ROUTINE only, the policy
	 * for PRIORITY: refused */
	const char *prio = "a1685052494f52495459a26361636b190258666c6576656c7381a36561667465"
			   "7219012c666e6f746966798169726f6c653a64757479667265706561740"
			   "2";
	assert_int_equal(open_hex(OLD_HEX, prio, &c), PL_ERR_MALFORMED);
	assert_true(detail_has("a policy for PRIORITY, a precedence it does not allow"));
	/* an empty policy: omitted instead, so refused (one byte form) */
	assert_int_equal(open_hex(OLD4_HEX, "a0", &c), PL_ERR_MALFORMED);
	/* not a map */
	assert_int_equal(open_hex(OLD4_HEX, "80", &c), PL_ERR_MALFORMED);
	/* a rule with an unknown key "x" after "levels" (canonical: "x" is shorter, so first) */
	const char *unknown = "a165464c415348a3617800"
			      "6361636b190258666c6576656c7381a365616674657219012c666e6f7469667981"
			      "69726f6c653a64757479667265706561740"
			      "2";
	assert_int_equal(open_hex(OLD4_HEX, unknown, &c), PL_ERR_MALFORMED);
	assert_true(detail_has("policy FLASH: unknown field 'x'"));
	/* a level with an unknown key "zz" (after "notify"/"repeat"? no: shorter, so second) */
	const char *lunknown = "a165464c415348a26361636b190258666c6576656c7381a4627a7a00"
			       "656166746572"
			       "19012c666e6f746966798169726f6c653a64757479667265706561740"
			       "2";
	assert_int_equal(open_hex(OLD4_HEX, lunknown, &c), PL_ERR_MALFORMED);
	assert_true(detail_has("policy FLASH level 1: unknown field 'zz'"));
	/* a rule without "ack"; a level without "repeat" */
	const char *noack = "a165464c415348a1666c6576656c7381a365616674657219012c666e6f74696679"
			    "8169726f6c653a64757479667265706561740"
			    "2";
	assert_int_equal(open_hex(OLD4_HEX, noack, &c), PL_ERR_MALFORMED);
	assert_true(detail_has("missing field 'ack'"));
	const char *norepeat = "a165464c415348a26361636b190258666c6576656c7381a265616674657219012c"
			       "666e6f746966798169726f6c653a64757479";
	assert_int_equal(open_hex(OLD4_HEX, norepeat, &c), PL_ERR_MALFORMED);
	assert_true(detail_has("missing field 'repeat'"));
	/* ack negative (-1) */
	const char *neg = "a165464c415348a26361636b20666c6576656c7381a365616674657219012c666e"
			  "6f746966798169726f6c653a64757479667265706561740"
			  "2";
	assert_int_equal(open_hex(OLD4_HEX, neg, &c), PL_ERR_MALFORMED);
	/* levels empty; notify empty; a target that is a number */
	const char *nolevels = "a165464c415348a26361636b190258666c6576656c7380";
	assert_int_equal(open_hex(OLD4_HEX, nolevels, &c), PL_ERR_MALFORMED);
	const char *nonotify = "a165464c415348a26361636b190258666c6576656c7381a365616674657219012c"
			       "666e6f7469667980667265706561740"
			       "2";
	assert_int_equal(open_hex(OLD4_HEX, nonotify, &c), PL_ERR_MALFORMED);
	const char *numtarget = "a165464c415348a26361636b190258666c6576656c7381a36561667465721901"
				"2c666e6f74696679810766726570656174"
				"02";
	assert_int_equal(open_hex(OLD4_HEX, numtarget, &c), PL_ERR_MALFORMED);
	assert_true(detail_has("target 1 is not text"));
	/* a duplicate target */
	const char *dup = "a165464c415348a26361636b190258666c6576656c7381a365616674657219012c"
			  "666e6f746966798269726f6c653a6475747969726f6c653a6475747966726570"
			  "65617402";
	assert_int_equal(open_hex(OLD4_HEX, dup, &c), PL_ERR_MALFORMED);
	assert_true(detail_has("'role:duty' listed twice"));
	/* keys out of canonical order (IMMEDIATE before FLASH) */
	const char *order = "a269494d4d454449415445a26361636b190e10666c6576656c7381a3656166746572"
			    "19012c666e6f746966798169726f6c653a64757479667265706561740"
			    "2"
			    "65464c415348a26361636b190258666c6576656c7381a365616674657219012c"
			    "666e6f746966798169726f6c653a64757479667265706561740"
			    "2";
	assert_int_equal(open_hex(OLD4_HEX, order, &c), PL_ERR_NONCANONICAL);
}

/* Nine levels and seventeen targets: over the counts. */
static void test_parse_counts(void **state)
{
	pl_charter c;
	for (size_t levels = 8; levels <= 9; levels++) {
		pl_cbor_enc e;
		pl_cbor_enc_init(&e);
		pl_cbor_put_map(&e, 1);
		pl_cbor_put_str(&e, "FLASH");
		pl_cbor_put_map(&e, 2);
		pl_cbor_put_str(&e, "ack");
		pl_cbor_put_uint(&e, 600);
		pl_cbor_put_str(&e, "levels");
		pl_cbor_put_array(&e, levels);
		for (size_t i = 0; i < levels; i++) {
			size_t nt = i == 0 ? levels * 2 : 1; /* 16, then 18 targets */
			pl_cbor_put_map(&e, 3);
			pl_cbor_put_str(&e, "after");
			pl_cbor_put_uint(&e, 60);
			pl_cbor_put_str(&e, "notify");
			pl_cbor_put_array(&e, nt);
			for (size_t j = 0; j < nt; j++) {
				char t[32];
				snprintf(t, sizeof(t), "id:o%zu", j);
				pl_cbor_put_str(&e, t);
			}
			pl_cbor_put_str(&e, "repeat");
			pl_cbor_put_uint(&e, 0);
		}
		uint8_t *p;
		size_t n;
		assert_int_equal(pl_cbor_enc_finish(&e, &p, &n), 0);
		int rc = open_crafted(OLD4_HEX, p, n, &c);
		free(p);
		if (levels == 8) {
			assert_int_equal(rc, 0);
			assert_int_equal(c.rules[PL_LANE_FLASH].nlevels, 8);
			assert_int_equal(c.rules[PL_LANE_FLASH].levels[0].ntargets, 16);
			pl_charter_clear(&c);
		} else {
			assert_int_equal(rc, PL_ERR_LIMIT);
			assert_true(detail_has("policy FLASH"));
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_no_policy_keeps_old_bytes),
	    cmocka_unit_test(test_policy_known_answer),
	    cmocka_unit_test(test_policy_round_trip),
	    cmocka_unit_test(test_policy_at_maximum),
	    cmocka_unit_test(test_rule_defaults),
	    cmocka_unit_test(test_rule_from_charter),
	    cmocka_unit_test(test_build_bounds_ack),
	    cmocka_unit_test(test_build_bounds_levels),
	    cmocka_unit_test(test_build_bounds_after_repeat),
	    cmocka_unit_test(test_build_bounds_targets),
	    cmocka_unit_test(test_build_lanes),
	    cmocka_unit_test(test_parse_values),
	    cmocka_unit_test(test_parse_structure),
	    cmocka_unit_test(test_parse_counts),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
