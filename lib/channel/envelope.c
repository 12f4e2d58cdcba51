/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Envelopes ("parley/env" v1): lane names, the canonical encoding signed
 * by an official's key, strict parsing and the envelope id.  Whether an
 * envelope may be believed is pl_env_verify()'s question (verify.c).
 *
 * Divisions: lanes; signing; parsing.  Payload keys are written in
 * canonical order (shorter keys first, then bytewise).
 */
#include <stdlib.h>
#include <string.h>

#include "channel/chan_int.h"
#include "parley/err.h"

/* ---------------------------------------------------------------- lanes */

static const char *const lane_names[PL_LANE_COUNT] = {"CONTROL", "FLASH", "IMMEDIATE", "PRIORITY",
						      "ROUTINE"};

const char *pl_lane_name(pl_lane lane)
{
	return (unsigned)lane < PL_LANE_COUNT ? lane_names[lane] : "unknown";
}

bool pl_lane_is_valid(unsigned lane)
{
	return lane >= PL_LANE_FLASH && lane <= PL_LANE_ROUTINE;
}

static bool ascii_case_equal(const char *a, const char *b)
{
	for (; *a && *b; a++, b++) {
		char x = (*a >= 'a' && *a <= 'z') ? (char)(*a - 'a' + 'A') : *a;
		if (x != *b)
			return false;
	}
	return *a == *b;
}

int pl_lane_parse(const char *s, pl_lane *out)
{
	for (unsigned i = PL_LANE_FLASH; i <= PL_LANE_ROUTINE; i++)
		if (s && ascii_case_equal(s, lane_names[i])) {
			*out = (pl_lane)i;
			return 0;
		}
	return pl_err_fail(PL_ERR_MALFORMED,
			   "unknown lane '%.32s' (FLASH, IMMEDIATE, PRIORITY, ROUTINE)",
			   s ? s : "");
}

/* ---------------------------------------------------------------- signing */

void pl_env_id(uint8_t out[PL_HASH_BYTES], const uint8_t *buf, size_t len)
{
	pl_slice payload;
	if (chan_batch_payload(buf, len, &payload))
		pl_sha256(out, payload.p, payload.n);
	else
		pl_sha256(out, buf, len);
}

static int env_check(const pl_env *e)
{
	const struct {
		const char *v, *what;
	} names[] = {
	    {e->ch, "channel"}, {e->state, "state"}, {e->author, "author id"}, {e->kind, "kind"}};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!pl_name_is_valid(names[i].v))
			return pl_err_fail(PL_ERR_INVALID,
					   "envelope %s '%.63s' is not a valid name", names[i].what,
					   names[i].v);
	if (e->seq == 0)
		return pl_err_fail(PL_ERR_INVALID, "envelope seq must be at least 1");
	if (!pl_lane_is_valid((unsigned)e->lane))
		return pl_err_fail(PL_ERR_INVALID, "envelope lane %u is not 1..4",
				   (unsigned)e->lane);
	if (e->body_len > PL_ENV_BODY_MAX)
		return pl_err_fail(PL_ERR_LIMIT, "envelope body of %zu bytes, at most %zu",
				   e->body_len, PL_ENV_BODY_MAX);
	if (e->body_len && !e->body)
		return pl_err_fail(PL_ERR_INVALID, "envelope body missing");
	return 0;
}

int chan_env_payload(const pl_env *e, pl_cbor_enc *enc)
{
	int rc = env_check(e);
	if (rc)
		return rc;
	bool has_prev = e->seq > 1;
	pl_cbor_put_map(enc, 10 + has_prev + e->has_ackby + e->has_ref);
	pl_cbor_put_str(enc, "t");
	pl_cbor_put_str(enc, "parley/env");
	pl_cbor_put_str(enc, "v");
	pl_cbor_put_uint(enc, CHAN_VERSION);
	pl_cbor_put_str(enc, "at");
	pl_cbor_put_int(enc, e->at);
	pl_cbor_put_str(enc, "ch");
	pl_cbor_put_str(enc, e->ch);
	pl_cbor_put_str(enc, "id");
	pl_cbor_put_str(enc, e->author);
	if (e->has_ref) {
		pl_cbor_put_str(enc, "ref");
		pl_cbor_put_bytes(enc, e->ref, PL_HASH_BYTES);
	}
	pl_cbor_put_str(enc, "seq");
	pl_cbor_put_uint(enc, e->seq);
	pl_cbor_put_str(enc, "body");
	pl_cbor_put_bytes(enc, e->body, e->body_len);
	pl_cbor_put_str(enc, "kind");
	pl_cbor_put_str(enc, e->kind);
	pl_cbor_put_str(enc, "lane");
	pl_cbor_put_uint(enc, (unsigned)e->lane);
	if (has_prev) {
		pl_cbor_put_str(enc, "prev");
		pl_cbor_put_bytes(enc, e->prev, PL_HASH_BYTES);
	}
	if (e->has_ackby) {
		pl_cbor_put_str(enc, "ackby");
		pl_cbor_put_int(enc, e->ackby);
	}
	pl_cbor_put_str(enc, "state");
	pl_cbor_put_str(enc, e->state);
	return 0;
}

int pl_env_sign(const pl_env *e, const pl_keypair *kp, uint8_t **out, size_t *len)
{
	*out = NULL;
	*len = 0;
	if (!e || !kp)
		return PL_ERR_INVALID;
	pl_cbor_enc enc;
	pl_cbor_enc_init(&enc);
	int rc = chan_env_payload(e, &enc);
	if (rc) {
		pl_cbor_enc_discard(&enc);
		return rc;
	}
	return chan_sign(&enc, kp, out, len);
}

/* ---------------------------------------------------------------- parsing */

/* The payload is one flat map: 13 keys at most, the body its only long string. */
static const pl_cbor_limits env_payload_limits = {
    .max_bytes = PL_ENV_MAX, .max_depth = 1, .max_items = 32, .max_str = PL_ENV_BODY_MAX};

static int env_read(const pl_cbor *map, pl_env *e)
{
	pl_slice ty, ch, id, ref, body, kind, prev, state;
	uint64_t v, seq, lane;
	int64_t at, ackby;
	bool has_ref = false, has_prev = false, has_ackby = false;
	const pl_cbor_field f[] = {
	    {"t", PL_CBOR_TEXT, 0, 0, 0, &ty, NULL},
	    {"v", PL_CBOR_UINT, 0, 0, 0, &v, NULL},
	    {"at", PL_CBOR_INT, 0, 0, 0, &at, NULL},
	    {"ch", PL_CBOR_TEXT, 0, 1, PL_NAME_MAX, &ch, NULL},
	    {"id", PL_CBOR_TEXT, 0, 1, PL_NAME_MAX, &id, NULL},
	    {"ref", PL_CBOR_BYTES, PL_FIELD_OPTIONAL, PL_HASH_BYTES, PL_HASH_BYTES, &ref, &has_ref},
	    {"seq", PL_CBOR_UINT, 0, 0, 0, &seq, NULL},
	    {"body", PL_CBOR_BYTES, 0, 0, PL_ENV_BODY_MAX, &body, NULL},
	    {"kind", PL_CBOR_TEXT, 0, 1, PL_NAME_MAX, &kind, NULL},
	    {"lane", PL_CBOR_UINT, 0, 0, 0, &lane, NULL},
	    {"prev", PL_CBOR_BYTES, PL_FIELD_OPTIONAL, PL_HASH_BYTES, PL_HASH_BYTES, &prev,
	     &has_prev},
	    {"ackby", PL_CBOR_INT, PL_FIELD_OPTIONAL, 0, 0, &ackby, &has_ackby},
	    {"state", PL_CBOR_TEXT, 0, 1, PL_NAME_MAX, &state, NULL},
	};
	int rc = pl_cbor_read_map(map, f, sizeof(f) / sizeof(f[0]));
	if (!rc)
		rc = chan_copy_name(e->ch, ch, "ch");
	if (!rc)
		rc = chan_copy_name(e->author, id, "id");
	if (!rc)
		rc = chan_copy_name(e->kind, kind, "kind");
	if (!rc)
		rc = chan_copy_name(e->state, state, "state");
	if (rc)
		return rc;
	if (seq == 0)
		return pl_err_fail(PL_ERR_MALFORMED, "envelope: seq 0 (sequences start at 1)");
	if (!pl_lane_is_valid(lane <= PL_LANE_ROUTINE ? (unsigned)lane : 0))
		return pl_err_fail(PL_ERR_MALFORMED, "envelope: lane %llu is not 1..4",
				   (unsigned long long)lane);
	if (has_prev && seq == 1)
		return pl_err_fail(PL_ERR_MALFORMED, "envelope: seq 1 with a prev hash");
	if (!has_prev && seq > 1)
		return pl_err_fail(PL_ERR_MALFORMED, "envelope: seq %llu without a prev hash",
				   (unsigned long long)seq);
	e->at = at;
	e->seq = seq;
	e->lane = (pl_lane)lane;
	e->body = body.p;
	e->body_len = body.n;
	if (has_prev)
		memcpy(e->prev, prev.p, PL_HASH_BYTES);
	e->has_ref = has_ref;
	if (has_ref)
		memcpy(e->ref, ref.p, PL_HASH_BYTES);
	e->has_ackby = has_ackby;
	if (has_ackby)
		e->ackby = ackby;
	return 0;
}

int chan_env_parse(const uint8_t *buf, size_t len, pl_env *out, pl_cose_sign1 *cose,
		   uint8_t root[PL_HASH_BYTES])
{
	memset(out, 0, sizeof(*out));
	bool batched = pl_env_is_batched(buf, len);
	int rc = batched ? chan_batch_parse(buf, len, &cose->payload, cose, root)
			 : chan_cose_parse(buf, len, PL_ENV_MAX, "envelope", cose);
	if (rc)
		return rc;
	pl_cbor *map = NULL;
	rc = chan_decode_typed(cose->payload.p, cose->payload.n, &env_payload_limits, "parley/env",
			       &map);
	pl_env e;
	memset(&e, 0, sizeof(e));
	if (!rc)
		rc = env_read(map, &e);
	if (rc) {
		pl_cbor_free(map);
		pl_cose_sign1_clear(cose);
		return rc;
	}
	memcpy(e.kid, cose->kid.p, PL_KEYID_BYTES);
	e.batched = batched;
	if (batched)
		pl_sha256(e.id, cose->payload.p, cose->payload.n);
	else
		pl_env_id(e.id, buf, len);
	e.own_ = map;
	*out = e;
	return 0;
}

int pl_env_parse(const uint8_t *buf, size_t len, pl_env *out)
{
	pl_cose_sign1 cose;
	uint8_t root[PL_HASH_BYTES];
	int rc = chan_env_parse(buf, len, out, &cose, root);
	if (!rc)
		pl_cose_sign1_clear(&cose);
	return rc;
}

void pl_env_clear(pl_env *e)
{
	if (!e)
		return;
	pl_cbor_free(e->own_);
	memset(e, 0, sizeof(*e));
}
