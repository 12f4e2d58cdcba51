/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pl_env_verify: the one check a node makes on every envelope, by the
 * origin node on submission and by every receiving node on arrival.  The
 * order of the steps is part of the contract (channel.h): each refusal has
 * exactly one code, and the cheap questions that need no signature check
 * come first so that junk costs little.
 *
 * It reads the charter, status list and stream state through the
 * callbacks in pl_env_ctx and changes nothing: recording an accepted
 * envelope (and so advancing the stream) is the node's job, in the same
 * transaction that stores it.
 */
#include <stdio.h>
#include <string.h>

#include "channel/chan_int.h"
#include "parley/err.h"
#include "parley/time.h"

/* a - b > d, without overflow, for d >= 0. */
static bool later_by_more(int64_t a, int64_t b, int64_t d)
{
	return a > b && (uint64_t)a - (uint64_t)b > (uint64_t)d;
}

static bool in_scope(const pl_cred *c, const char *ch)
{
	if (c->nscope == 0)
		return true;
	for (size_t i = 0; i < c->nscope; i++)
		if (strcmp(c->scope[i], ch) == 0)
			return true;
	return false;
}

/* Steps 2 to 4: charter, membership, signature.  *member receives the author. */
/* Step 4: the signature, one envelope's or its batch's. */
static int check_signature(const pl_env *e, const pl_cose_sign1 *cose,
			   const uint8_t root[PL_HASH_BYTES], const pl_env_ctx *ctx,
			   const pl_charter_member *m)
{
	if (!e->batched) {
		if (ctx->sig_checked && memcmp(ctx->sig_checked, m->cred.pk, PL_PK_BYTES) == 0)
			return 0; /* pl_env_sig_check() accepted it with this key */
		if (ctx->sigs)
			ctx->sigs->checks++;
		if (pl_cose_sign1_verify(cose, NULL, 0, m->cred.pk) != 0)
			return pl_err_fail(PL_ERR_BAD_SIGNATURE,
					   "envelope claims %s@%s but %s's key did not sign it",
					   e->author, e->state, e->author);
		return 0;
	}
	if (!pl_cred_has_role(&m->cred, PL_ENV_BATCH_ROLE))
		return pl_err_fail(PL_ERR_BAD_SIGNATURE,
				   "%s@%s signed a batch, but only credentials with the role "
				   "'%s' may (machine feeds)",
				   e->author, e->state, PL_ENV_BATCH_ROLE);
	if (chan_batch_check(cose, root, m->cred.pk, ctx->sigs) != 0)
		return pl_err_fail(PL_ERR_BAD_SIGNATURE,
				   "batched envelope claims %s@%s but %s's key did not sign its "
				   "batch",
				   e->author, e->state, e->author);
	return 0;
}

static int check_author(const pl_env *e, const pl_cose_sign1 *cose,
			const uint8_t root[PL_HASH_BYTES], const pl_env_ctx *ctx,
			const pl_charter **charter, const pl_charter_member **member)
{
	const pl_charter *c = ctx->charter(ctx->arg, e->ch);
	if (!c)
		return pl_err_fail(PL_ERR_UNKNOWN_CHANNEL, "no charter is held for channel %s",
				   e->ch);
	if (strcmp(c->name, e->ch) != 0)
		return pl_err_fail(PL_ERR_UNKNOWN_CHANNEL,
				   "the charter found for channel %s is that of %s", e->ch,
				   c->name);
	char missing[PL_CHARTER_STATES_MAX * (PL_NAME_MAX + 2) + 1];
	if (!c->payload || chan_charter_missing(c, missing, sizeof(missing)) > 0)
		return pl_err_fail(PL_ERR_UNKNOWN_CHANNEL,
				   "the charter of channel %s (v%llu) is not yet signed by %s",
				   e->ch, (unsigned long long)c->version, missing);

	const pl_charter_member *m = pl_charter_find_member(c, e->state, e->author);
	if (!m)
		return pl_err_fail(PL_ERR_NOT_MEMBER, "%s@%s is not a member of channel %s",
				   e->author, e->state, e->ch);
	if (ctx->trust && !pl_trust_find(ctx->trust, e->state))
		return pl_err_fail(PL_ERR_UNKNOWN_ROOT, "state '%s' is no longer a pinned root",
				   e->state);
	uint8_t kid[PL_KEYID_BYTES];
	pl_key_id(kid, m->cred.pk);
	if (memcmp(kid, e->kid, PL_KEYID_BYTES) != 0) {
		char got[2 * PL_KEYID_BYTES + 1], want[2 * PL_KEYID_BYTES + 1];
		pl_hex_encode(got, e->kid, PL_KEYID_BYTES);
		pl_hex_encode(want, kid, PL_KEYID_BYTES);
		return pl_err_fail(PL_ERR_BAD_SIGNATURE,
				   "envelope claims %s@%s but names key %s (the member's is %s)",
				   e->author, e->state, got, want);
	}
	int rc = check_signature(e, cose, root, ctx, m);
	if (rc)
		return rc;
	*charter = c;
	*member = m;
	return 0;
}

/* Step 5 to 8: standing of the author, policy and clock. */
static int check_policy(const pl_env *e, const pl_env_ctx *ctx, const pl_charter *c,
			const pl_charter_member *m)
{
	const pl_status_list *sl = ctx->status ? ctx->status(ctx->arg, e->state) : NULL;
	int rc = pl_cred_check(&m->cred, sl, e->at, "envelope created");
	if (rc)
		return rc;
	if (!in_scope(&m->cred, e->ch))
		return pl_err_fail(PL_ERR_NOT_MEMBER,
				   "credential %s@%s is limited to other channels than %s",
				   e->author, e->state, e->ch);
	if (!pl_charter_allows_kind(c, e->kind))
		return pl_err_fail(PL_ERR_KIND_NOT_ALLOWED,
				   "channel %s does not allow envelopes of kind '%s'", e->ch,
				   e->kind);
	if (!pl_charter_allows_lane(c, (unsigned)e->lane))
		return pl_err_fail(PL_ERR_LANE_NOT_ALLOWED,
				   "channel %s does not allow %s envelopes", e->ch,
				   pl_lane_name(e->lane));
	int64_t ahead = ctx->max_future > 0 ? ctx->max_future : 0;
	char when[PL_TIME_LEN], now[PL_TIME_LEN];
	pl_time_format(when, e->at);
	pl_time_format(now, ctx->now);
	if (later_by_more(e->at, ctx->now, ahead))
		return pl_err_fail(
		    PL_ERR_CLOCK, "envelope dated %s, more than %llds after this node's clock (%s)",
		    when, (long long)ahead, now);
	if (ctx->max_age > 0 && later_by_more(ctx->now, e->at, ctx->max_age))
		return pl_err_fail(
		    PL_ERR_CLOCK,
		    "envelope dated %s, more than %llds before this node's clock (%s)", when,
		    (long long)ctx->max_age, now);
	return 0;
}

/* Step 9: the stream's sequence. */
static int check_sequence(const pl_env *e, const pl_env_ctx *ctx)
{
	if (!ctx->last)
		return 0;
	uint64_t last = 0;
	uint8_t last_id[PL_HASH_BYTES] = {0};
	int rc = ctx->last(ctx->arg, e, &last, last_id);
	if (rc)
		return rc < 0 ? rc : PL_ERR_INTERNAL;
	char stream[3 * PL_NAME_MAX + 32];
	snprintf(stream, sizeof(stream), "%s@%s on %s/%s", e->author, e->state, e->ch,
		 pl_lane_name(e->lane));
	if (e->seq <= last) {
		if (e->seq == last && memcmp(e->id, last_id, PL_HASH_BYTES) == 0)
			return pl_err_fail(PL_ERR_REPLAY,
					   "%s: seq %llu is this very envelope, already accepted "
					   "(look ids up before verifying)",
					   stream, (unsigned long long)e->seq);
		return pl_err_fail(PL_ERR_REPLAY, "%s: seq %llu already used (last accepted %llu)",
				   stream, (unsigned long long)e->seq, (unsigned long long)last);
	}
	if (e->seq - last > 1)
		return pl_err_fail(PL_ERR_SEQUENCE,
				   "%s: seq %llu after %llu: %llu missing before it", stream,
				   (unsigned long long)e->seq, (unsigned long long)last,
				   (unsigned long long)(e->seq - last - 1));
	if (last > 0 && memcmp(e->prev, last_id, PL_HASH_BYTES) != 0)
		return pl_err_fail(
		    PL_ERR_SEQUENCE,
		    "%s: seq %llu does not follow the accepted seq %llu (prev differs)", stream,
		    (unsigned long long)e->seq, (unsigned long long)last);
	return 0;
}

int pl_env_open(const uint8_t *buf, size_t len, pl_env_opened *out)
{
	if (!out)
		return PL_ERR_INVALID;
	memset(out, 0, sizeof(*out));
	if (!buf && len)
		return PL_ERR_INVALID;
	return chan_env_parse(buf, len, &out->env, &out->cose_, out->root_);
}

int pl_env_sig_check(const pl_env_opened *o, const uint8_t pk[PL_PK_BYTES])
{
	if (!o || !pk || o->env.batched || !o->cose_.root)
		return PL_ERR_INVALID;
	return pl_cose_sign1_verify(&o->cose_, NULL, 0, pk) == 0 ? 0 : PL_ERR_BAD_SIGNATURE;
}

void pl_env_opened_clear(pl_env_opened *o)
{
	if (!o)
		return;
	pl_cose_sign1_clear(&o->cose_);
	pl_env_clear(&o->env);
	memset(o, 0, sizeof(*o));
}

int pl_env_verify_opened(pl_env_opened *o, const pl_env_ctx *ctx, pl_env *out)
{
	if (out)
		memset(out, 0, sizeof(*out));
	if (!o)
		return PL_ERR_INVALID;
	if (!ctx || !ctx->charter) {
		pl_env_opened_clear(o);
		return PL_ERR_INVALID;
	}
	const pl_charter *c = NULL;
	const pl_charter_member *m = NULL;
	int rc = check_author(&o->env, &o->cose_, o->root_, ctx, &c, &m);
	pl_cose_sign1_clear(&o->cose_);
	if (!rc)
		rc = check_policy(&o->env, ctx, c, m);
	if (!rc)
		rc = check_sequence(&o->env, ctx);
	if (rc || !out)
		pl_env_clear(&o->env);
	else
		*out = o->env;
	memset(o, 0, sizeof(*o));
	return rc;
}

int pl_env_verify(const uint8_t *buf, size_t len, const pl_env_ctx *ctx, pl_env *out)
{
	if (out)
		memset(out, 0, sizeof(*out));
	if (!ctx || !ctx->charter || (!buf && len))
		return PL_ERR_INVALID;
	pl_env_opened o;
	int rc = pl_env_open(buf, len, &o);
	if (rc)
		return rc;
	pl_env_ctx own = *ctx;
	own.sig_checked = NULL; /* only pl_env_verify_opened() takes a check made elsewhere */
	return pl_env_verify_opened(&o, &own, out);
}
