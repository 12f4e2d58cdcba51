/* SPDX-License-Identifier: Apache-2.0 */
/*
 * POST /v1/envelopes (docs/api.md): one envelope or a batch, as JSON
 * (base64 strings) or as CBOR (an array of byte strings, what a machine
 * feed sends).  Each envelope is decided by the backend on its own and in
 * order; this file decodes, bounds and answers.  Part of the API
 * (api_int.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/http.h>
#include <jansson.h>

#include "api_int.h"
#include "parley/codec.h"
#include "parley/crypto.h"
#include "parley/err.h"

/* The answer to one envelope of POST /v1/envelopes, from the backend's
 * decision: *status gets its HTTP status; NULL when out of memory. */
static json_t *env_result(const node_submit_result *res, int rc, int *status)
{
	int code = res->code ? res->code : rc;
	char hex[2 * PL_HASH_BYTES + 1];
	pl_hex_encode(hex, res->id, sizeof(res->id));
	if (code == 0) {
		*status = res->duplicate ? 200 : 201;
		return json_pack("{s:i, s:s, s:b, s:I}", "status", *status, "id", hex, "duplicate",
				 res->duplicate, "position", (json_int_t)res->position);
	}
	int st = api_server_status(code);
	*status = st ? st : 422;
	char type[128];
	snprintf(type, sizeof(type), PROBLEM_BASE "%s", pl_err_name(code));
	char reason[sizeof(res->reason)];
	memcpy(reason, res->reason, sizeof(reason));
	reason[sizeof(reason) - 1] = '\0';
	static const uint8_t none[PL_HASH_BYTES];
	json_t *j = json_pack("{s:s, s:s, s:i, s:o*}", "type", type, "title", pl_strerror(code),
			      "status", *status, "detail",
			      api_json_text(reason[0] ? reason : api_backend_detail(code)));
	/* the id, when the backend got as far as computing it */
	if (j && !pl_ct_equal(res->id, none, PL_HASH_BYTES))
		json_object_set_new(j, "id", json_string(hex));
	return j;
}

/* The answer to POST /v1/envelopes with one envelope. */
static void env_post_answer(rq *r, node_submit_result *res, int rc)
{
	int code = res->code ? res->code : rc;
	if (code != 0) {
		int status = api_server_status(code);
		res->reason[sizeof(res->reason) - 1] = '\0';
		api_reply_code(r, status ? status : 422, code,
			       res->reason[0] ? res->reason : api_backend_detail(code));
		return;
	}
	char hex[2 * PL_HASH_BYTES + 1], loc[96];
	pl_hex_encode(hex, res->id, sizeof(res->id));
	snprintf(loc, sizeof(loc), "/v1/envelopes/%s", hex);
	evhttp_add_header(evhttp_request_get_output_headers(r->req), "Location", loc);
	api_reply_json(r, res->duplicate ? 200 : 201,
		       json_pack("{s:s, s:b, s:I}", "id", hex, "duplicate", res->duplicate,
				 "position", (json_int_t)res->position));
}

static void env_post_done(void *arg, const node_submit_result *res, int rc)
{
	rq *w = arg;
	node_submit_result copy = *res;
	env_post_answer(w, &copy, rc);
	free(w);
}

/*
 * POST /v1/envelopes with "envelopes": up to API_MAX_BATCH envelopes, each
 * decided on its own and in order (so that a stream's next envelope may
 * follow its previous one in the same request), those accepted stored in the
 * same group commit; one answer once every one is decided.
 */
typedef struct env_batch env_batch;
typedef struct batch_slot {
	env_batch *b;
	size_t i;
} batch_slot;

struct env_batch {
	rq r; /* the request: outlives the handler until answered */
	json_t *results;
	batch_slot *slot;
	size_t n, outstanding;
	size_t count[3]; /* accepted, duplicate, refused */
	bool submitting; /* the handler is still submitting: it answers at the end */
};

static void batch_reply(env_batch *b)
{
	json_t *j = json_pack("{s:O, s:I, s:I, s:I}", "results", b->results, "accepted",
			      (json_int_t)b->count[0], "duplicates", (json_int_t)b->count[1],
			      "refused", (json_int_t)b->count[2]);
	api_reply_json(&b->r, 200, j);
	json_decref(b->results);
	free(b->slot);
	free(b);
}

static void batch_item_done(void *arg, const node_submit_result *res, int rc)
{
	batch_slot *s = arg;
	env_batch *b = s->b;
	int status = 0;
	json_t *e = env_result(res, rc, &status);
	b->count[status == 201 ? 0 : status == 200 ? 1 : 2]++;
	json_array_set_new(b->results, s->i, e ? e : json_null());
	if (--b->outstanding == 0 && !b->submitting)
		batch_reply(b);
}

/* Submit the n envelopes (borrowed) one by one, in order, and answer once
 * every one is decided. */
static void env_batch_submit(rq *r, const uint8_t *const *env, const size_t *len, size_t n)
{
	api *a = r->a;
	env_batch *b = calloc(1, sizeof(*b));
	batch_slot *slot = calloc(n, sizeof(*slot));
	json_t *results = json_array();
	bool ok = b && slot && results;
	for (size_t i = 0; ok && i < n; i++)
		ok = json_array_append_new(results, json_null()) == 0;
	if (!ok) {
		free(b);
		free(slot);
		json_decref(results);
		api_reply_code(r, 500, PL_ERR_NOMEM, NULL);
		return;
	}
	b->r = *r;
	b->r.arg = NULL;
	b->r.nseg = 0;
	b->results = results;
	b->slot = slot;
	b->n = n;
	b->submitting = true;
	for (size_t i = 0; i < n; i++) {
		slot[i].b = b;
		slot[i].i = i;
		b->outstanding++;
		pl_err_clear_detail();
		node_submit_result res;
		memset(&res, 0, sizeof(res));
		int rc;
		if (a->be.submit_async) {
			rc = a->be.submit_async(a->be_ctx, env[i], len[i], r->now, batch_item_done,
						&slot[i]);
			if (!rc)
				continue;
		} else {
			rc = a->be.submit(a->be_ctx, env[i], len[i], r->now, &res);
		}
		batch_item_done(&slot[i], &res, rc);
	}
	b->submitting = false;
	if (b->outstanding == 0)
		batch_reply(b);
}

/* "envelopes": a JSON array of base64 strings.  Every element is decoded
 * before any is submitted: a malformed request changes nothing. */
static void h_env_batch(rq *r, json_t *list)
{
	size_t n = json_array_size(list);
	if (!json_is_array(list) || n == 0) {
		api_reply_bad_request(r, "field \"envelopes\" must be a non-empty array of base64 "
					 "strings");
		return;
	}
	if (n > API_MAX_BATCH) {
		api_reply_problem(r, 413, "too-large", "Request too large",
				  "%zu envelopes in one request; the limit is %d", n,
				  API_MAX_BATCH);
		return;
	}
	uint8_t **env = calloc(n, sizeof(*env));
	size_t *len = calloc(n, sizeof(*len));
	bool ok = env && len;
	if (!ok)
		api_reply_code(r, 500, PL_ERR_NOMEM, NULL);
	for (size_t i = 0; ok && i < n; i++) {
		json_t *v = json_array_get(list, i);
		char what[48];
		snprintf(what, sizeof(what), "envelopes[%zu]", i);
		if (!json_is_string(v) || json_string_length(v) == 0) {
			api_reply_bad_request(r, "%s must be a non-empty base64 string", what);
			ok = false;
		} else {
			ok = api_b64_text(r, json_string_value(v), json_string_length(v), what,
					  r->a->cfg.max_envelope, &env[i], &len[i]);
		}
	}
	if (ok)
		env_batch_submit(r, (const uint8_t *const *)env, len, n);
	for (size_t i = 0; env && i < n; i++)
		free(env[i]);
	free(env);
	free(len);
}

/*
 * Content-Type application/cbor: the body is a CBOR array (RFC 8949) of 1
 * to API_MAX_BATCH byte strings, each an envelope of 1 to max_envelope
 * bytes, in definite lengths; answered as "envelopes" is.  What a machine
 * feed sends: no base64 to encode and decode, no JSON to parse.  The whole
 * body is decoded and checked before any envelope is submitted.
 */
static void h_env_cbor(rq *r)
{
	size_t blen = 0;
	const uint8_t *body = api_body_bytes(r, "a CBOR array of byte strings", &blen);
	if (!body)
		return;
	/* Nesting is allowed past the array (up to the decoder's usual 8) so
	 * that an array inside is told as an item that is not a byte string. */
	const pl_cbor_limits lim = {.max_bytes = blen,
				    .max_depth = 8,
				    .max_items = 1 + API_MAX_BATCH,
				    .max_str = r->a->cfg.max_envelope};
	pl_cbor *root = NULL;
	pl_err_clear_detail();
	int rc = pl_cbor_decode(body, blen, &lim, 0, &root);
	size_t n = rc ? 0 : pl_cbor_len(root);
	if (rc == PL_ERR_LIMIT) {
		api_reply_problem(r, 413, "too-large", "Request too large",
				  "%s (at most %d envelopes of %zu bytes)", pl_err_detail(),
				  API_MAX_BATCH, r->a->cfg.max_envelope);
		return;
	}
	if (rc || pl_cbor_type_of(root) != PL_CBOR_ARRAY || n == 0) {
		api_reply_bad_request(r,
				      "the body must be a CBOR array of 1 to %d byte strings%s%s",
				      API_MAX_BATCH, rc ? ": " : "", rc ? pl_err_detail() : "");
		pl_cbor_free(root);
		return;
	}
	const uint8_t **env = calloc(n, sizeof(*env));
	size_t *len = calloc(n, sizeof(*len));
	bool ok = env && len;
	if (!ok)
		api_reply_code(r, 500, PL_ERR_NOMEM, NULL);
	for (size_t i = 0; ok && i < n; i++) {
		pl_slice e;
		if (pl_cbor_get_bytes(pl_cbor_at(root, i), &e) != 0 || e.n == 0) {
			api_reply_bad_request(r,
					      "item %zu of the CBOR array is not a non-empty byte "
					      "string",
					      i);
			ok = false;
			break;
		}
		env[i] = e.p;
		len[i] = e.n;
	}
	if (ok)
		env_batch_submit(r, env, len, n);
	free(env);
	free(len);
	pl_cbor_free(root);
}

void api_h_env_post(rq *r)
{
	if (api_has_content_type(r->req, "application/cbor")) {
		h_env_cbor(r);
		return;
	}
	api *a = r->a;
	json_t *body = api_read_json_body(r);
	if (!body)
		return;
	uint8_t *env = NULL;
	size_t len = 0;
	json_t *list = json_object_get(body, "envelopes");
	if (list && json_object_get(body, "envelope")) {
		api_reply_bad_request(r, "give \"envelope\" or \"envelopes\", not both");
		goto out;
	}
	if (list) {
		h_env_batch(r, list);
		goto out;
	}
	if (!api_field_b64(r, body, "envelope", a->cfg.max_envelope, &env, &len))
		goto out;

	pl_err_clear_detail();
	if (a->be.submit_async) {
		/* The answer comes after the group commit; the request outlives
		 * this handler (libevent keeps it until we reply, even if the
		 * client goes away meanwhile). */
		rq *w = malloc(sizeof(*w));
		if (!w) {
			api_reply_code(r, 500, PL_ERR_NOMEM, "out of memory");
			goto out;
		}
		*w = *r;
		w->arg = NULL;
		w->nseg = 0;
		int rc = a->be.submit_async(a->be_ctx, env, len, r->now, env_post_done, w);
		if (rc) {
			free(w);
			api_reply_code(r, api_server_status(rc) ? api_server_status(rc) : 500, rc,
				       api_backend_detail(rc));
		}
		goto out;
	}
	node_submit_result res;
	memset(&res, 0, sizeof(res));
	int rc = a->be.submit(a->be_ctx, env, len, r->now, &res);
	env_post_answer(r, &res, rc);
out:
	free(env);
	json_decref(body);
}
