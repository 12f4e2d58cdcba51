/* SPDX-License-Identifier: Apache-2.0 */
/*
 * State records, node records and credentials: their canonical encodings,
 * signing by a state's root, and strict opening.
 *
 * Divisions: shared envelope helpers; state record; node record;
 * credential.  Map keys are written in canonical order (shorter keys
 * first, then bytewise); the encoder refuses any other order.
 */
#include <stdlib.h>
#include <string.h>

#include "identity/ident_int.h"
#include "parley/err.h"

/* ---------------------------------------------------------------- shared */

static const pl_cbor_limits ident_limits = {
	.max_bytes = 64 * 1024, .max_depth = 4, .max_items = 1024, .max_str = 4096};

bool pl_name_is_valid(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n > PL_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
		if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-')))
			return false;
	}
	return true;
}

int ident_sign(pl_cbor_enc *e, const pl_keypair *root, uint8_t **out, size_t *len)
{
	uint8_t *payload = NULL;
	size_t plen = 0;
	int rc = pl_cbor_enc_finish(e, &payload, &plen);
	if (rc)
		return rc;
	uint8_t kid[PL_KEYID_BYTES];
	pl_key_id(kid, root->pk);
	rc = pl_cose_sign1_sign(out, len, payload, plen, kid, sizeof(kid), NULL, 0, root,
			   PL_COSE_TAGGED);
	free(payload);
	return rc;
}

int ident_parse(const uint8_t *buf, size_t len, const char *type, pl_cose_sign1 *cose,
		pl_cbor **payload)
{
	memset(cose, 0, sizeof(*cose));
	*payload = NULL;
	if (len > ident_limits.max_bytes)
		return pl_err_fail(PL_ERR_LIMIT, "%s: %zu bytes, at most %zu", type, len,
				   ident_limits.max_bytes);
	int rc = pl_cose_sign1_decode(buf, len, PL_COSE_TAGGED, PL_CBOR_CANONICAL, cose);
	if (rc)
		return rc;
	pl_cbor *map = NULL;
	rc = pl_cbor_decode(cose->payload.p, cose->payload.n, &ident_limits, PL_CBOR_CANONICAL,
			    &map);
	if (rc)
		goto fail;
	rc = PL_ERR_TYPE;
	const pl_cbor *t = pl_cbor_map_get(map, "t");
	pl_slice ts;
	if (pl_cbor_type_of(map) != PL_CBOR_MAP || !t || pl_cbor_get_text(t, &ts) != 0 ||
	    ts.n != strlen(type) || memcmp(ts.p, type, ts.n) != 0) {
		rc = pl_err_fail(PL_ERR_TYPE, "not a %s record", type);
		goto fail;
	}
	const pl_cbor *v = pl_cbor_map_get(map, "v");
	uint64_t ver = 0;
	if (!v || pl_cbor_get_uint(v, &ver) != 0) {
		rc = pl_err_fail(PL_ERR_MALFORMED, "%s: missing version", type);
		goto fail;
	}
	if (ver != IDENT_VERSION) {
		rc = pl_err_fail(PL_ERR_VERSION, "%s: version %llu is not known (this program knows %d)",
				 type, (unsigned long long)ver, IDENT_VERSION);
		goto fail;
	}
	*payload = map;
	return 0;
fail:
	pl_cbor_free(map);
	pl_cose_sign1_clear(cose);
	return rc;
}

int ident_check_sig(const pl_cose_sign1 *cose, const uint8_t pk[PL_PK_BYTES], const char *what)
{
	if (pl_cose_sign1_verify(cose, NULL, 0, pk) != 0)
		return pl_err_fail(PL_ERR_BAD_SIGNATURE, "%s: signature does not verify", what);
	return 0;
}

void ident_copy(char *dst, size_t cap, pl_slice s)
{
	size_t n = s.n < cap ? s.n : cap - 1;
	memcpy(dst, s.p, n);
	dst[n] = '\0';
}

int ident_copy_name(char *dst, pl_slice s, const char *field)
{
	ident_copy(dst, PL_NAME_MAX + 1, s);
	if (s.n > PL_NAME_MAX || strlen(dst) != s.n || !pl_name_is_valid(dst))
		return pl_err_fail(PL_ERR_MALFORMED, "field '%s': '%.*s' is not a valid name", field,
				   (int)(s.n > 64 ? 64 : s.n), (const char *)s.p);
	return 0;
}

static int check_text(const char *s, const char *field, bool required)
{
	size_t n = strlen(s);
	if (required && n == 0)
		return pl_err_fail(PL_ERR_INVALID, "%s must not be empty", field);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return pl_err_fail(PL_ERR_INVALID, "%s contains a control character",
					   field);
	return 0;
}

/* ---------------------------------------------------------------- state */

int pl_state_rec_sign(const pl_state_rec *rec, const pl_keypair *root, uint8_t **out,
		      size_t *len)
{
	if (!pl_name_is_valid(rec->name))
		return pl_err_fail(PL_ERR_INVALID, "state name '%s' is not valid", rec->name);
	if (!pl_ct_equal(rec->pk, root->pk, PL_PK_BYTES))
		return pl_err_fail(PL_ERR_INVALID, "state record key is not the signing root");
	pl_cbor_enc e;
	pl_cbor_enc_init(&e);
	pl_cbor_put_map(&e, 5);
	pl_cbor_put_str(&e, "t");
	pl_cbor_put_str(&e, "parley/state");
	pl_cbor_put_str(&e, "v");
	pl_cbor_put_uint(&e, IDENT_VERSION);
	pl_cbor_put_str(&e, "pk");
	pl_cbor_put_bytes(&e, rec->pk, PL_PK_BYTES);
	pl_cbor_put_str(&e, "name");
	pl_cbor_put_str(&e, rec->name);
	pl_cbor_put_str(&e, "created");
	pl_cbor_put_int(&e, rec->created);
	return ident_sign(&e, root, out, len);
}

int pl_state_rec_open(const uint8_t *buf, size_t len, pl_state_rec *out)
{
	pl_cose_sign1 cose;
	pl_cbor *map;
	int rc = ident_parse(buf, len, "parley/state", &cose, &map);
	if (rc)
		return rc;
	pl_slice t, pk, name;
	uint64_t v;
	int64_t created;
	const pl_cbor_field f[] = {
		{"t", PL_CBOR_TEXT, 0, 0, 0, &t, NULL},
		{"v", PL_CBOR_UINT, 0, 0, 0, &v, NULL},
		{"pk", PL_CBOR_BYTES, 0, PL_PK_BYTES, PL_PK_BYTES, &pk, NULL},
		{"name", PL_CBOR_TEXT, 0, 1, PL_NAME_MAX, &name, NULL},
		{"created", PL_CBOR_INT, 0, 0, 0, &created, NULL},
	};
	pl_state_rec r = {0};
	rc = pl_cbor_read_map(map, f, sizeof(f) / sizeof(f[0]));
	if (!rc)
		rc = ident_copy_name(r.name, name, "name");
	if (!rc) {
		memcpy(r.pk, pk.p, PL_PK_BYTES);
		r.created = created;
		rc = ident_check_sig(&cose, r.pk, "state record");
	}
	if (!rc)
		*out = r;
	pl_cbor_free(map);
	pl_cose_sign1_clear(&cose);
	return rc;
}

/* ---------------------------------------------------------------- node */

int pl_node_rec_sign(const pl_node_rec *rec, const pl_keypair *root, uint8_t **out, size_t *len)
{
	if (!pl_name_is_valid(rec->state) || !pl_name_is_valid(rec->name))
		return pl_err_fail(PL_ERR_INVALID, "node '%s' of state '%s': invalid name",
				   rec->name, rec->state);
	int rc = check_text(rec->addr, "node address", true);
	if (rc)
		return rc;
	if (rec->not_after <= rec->not_before)
		return pl_err_fail(PL_ERR_INVALID, "node record expires before it starts");
	pl_cbor_enc e;
	pl_cbor_enc_init(&e);
	pl_cbor_put_map(&e, 8);
	pl_cbor_put_str(&e, "t");
	pl_cbor_put_str(&e, "parley/node");
	pl_cbor_put_str(&e, "v");
	pl_cbor_put_uint(&e, IDENT_VERSION);
	pl_cbor_put_str(&e, "pk");
	pl_cbor_put_bytes(&e, rec->pk, PL_PK_BYTES);
	pl_cbor_put_str(&e, "exp");
	pl_cbor_put_int(&e, rec->not_after);
	pl_cbor_put_str(&e, "nbf");
	pl_cbor_put_int(&e, rec->not_before);
	pl_cbor_put_str(&e, "addr");
	pl_cbor_put_str(&e, rec->addr);
	pl_cbor_put_str(&e, "name");
	pl_cbor_put_str(&e, rec->name);
	pl_cbor_put_str(&e, "state");
	pl_cbor_put_str(&e, rec->state);
	return ident_sign(&e, root, out, len);
}

int pl_node_rec_open(const uint8_t *buf, size_t len, const pl_trust *t, pl_node_rec *out)
{
	pl_cose_sign1 cose;
	pl_cbor *map;
	int rc = ident_parse(buf, len, "parley/node", &cose, &map);
	if (rc)
		return rc;
	pl_slice ty, pk, addr, name, state;
	uint64_t v;
	int64_t nbf, exp;
	const pl_cbor_field f[] = {
		{"t", PL_CBOR_TEXT, 0, 0, 0, &ty, NULL},
		{"v", PL_CBOR_UINT, 0, 0, 0, &v, NULL},
		{"pk", PL_CBOR_BYTES, 0, PL_PK_BYTES, PL_PK_BYTES, &pk, NULL},
		{"exp", PL_CBOR_INT, 0, 0, 0, &exp, NULL},
		{"nbf", PL_CBOR_INT, 0, 0, 0, &nbf, NULL},
		{"addr", PL_CBOR_TEXT, PL_FIELD_LINE, 1, PL_TEXT_MAX, &addr, NULL},
		{"name", PL_CBOR_TEXT, 0, 1, PL_NAME_MAX, &name, NULL},
		{"state", PL_CBOR_TEXT, 0, 1, PL_NAME_MAX, &state, NULL},
	};
	pl_node_rec r = {0};
	rc = pl_cbor_read_map(map, f, sizeof(f) / sizeof(f[0]));
	if (!rc)
		rc = ident_copy_name(r.name, name, "name");
	if (!rc)
		rc = ident_copy_name(r.state, state, "state");
	if (!rc) {
		memcpy(r.pk, pk.p, PL_PK_BYTES);
		ident_copy(r.addr, sizeof(r.addr), addr);
		r.not_before = nbf;
		r.not_after = exp;
		const uint8_t *root = pl_trust_find(t, r.state);
		rc = root ? ident_check_sig(&cose, root, "node record")
			  : pl_err_fail(PL_ERR_UNKNOWN_ROOT,
					"node %s: state '%s' is not a pinned peer", r.name,
					r.state);
	}
	if (!rc)
		*out = r;
	pl_cbor_free(map);
	pl_cose_sign1_clear(&cose);
	return rc;
}

int pl_node_rec_check_time(const pl_node_rec *rec, int64_t now)
{
	if (now < rec->not_before)
		return pl_err_fail(PL_ERR_NOT_YET_VALID, "node %s of %s is not valid yet",
				   rec->name, rec->state);
	if (now >= rec->not_after)
		return pl_err_fail(PL_ERR_EXPIRED, "node %s of %s has expired", rec->name,
				   rec->state);
	return 0;
}

/* ---------------------------------------------------------------- credential */

static void put_names(pl_cbor_enc *e, char (*names)[PL_NAME_MAX + 1], size_t n)
{
	pl_cbor_put_array(e, n);
	for (size_t i = 0; i < n; i++)
		pl_cbor_put_str(e, names[i]);
}

static int read_names(const pl_cbor *arr, char (*names)[PL_NAME_MAX + 1], size_t *n,
		      const char *field)
{
	size_t k = pl_cbor_len(arr);
	for (size_t i = 0; i < k; i++) {
		pl_slice s;
		if (pl_cbor_get_text(pl_cbor_at(arr, i), &s) != 0)
			return pl_err_fail(PL_ERR_MALFORMED, "field '%s': item %zu is not text",
					   field, i);
		int rc = ident_copy_name(names[i], s, field);
		if (rc)
			return rc;
		for (size_t j = 0; j < i; j++)
			if (strcmp(names[j], names[i]) == 0)
				return pl_err_fail(PL_ERR_MALFORMED, "field '%s': '%s' twice",
						   field, names[i]);
	}
	*n = k;
	return 0;
}

int pl_cred_sign(const pl_cred *c, const pl_keypair *root, uint8_t **out, size_t *len)
{
	if (!pl_name_is_valid(c->state) || !pl_name_is_valid(c->id))
		return pl_err_fail(PL_ERR_INVALID, "credential '%s' of '%s': invalid name", c->id,
				   c->state);
	int rc = check_text(c->name, "official's name", true);
	if (!rc)
		rc = check_text(c->title, "title", true);
	if (rc)
		return rc;
	if (c->nroles > PL_ROLES_MAX || c->nscope > PL_SCOPE_MAX)
		return pl_err_fail(PL_ERR_LIMIT, "at most %d roles and %d channels", PL_ROLES_MAX,
				   PL_SCOPE_MAX);
	for (size_t i = 0; i < c->nroles; i++)
		if (!pl_name_is_valid(c->roles[i]))
			return pl_err_fail(PL_ERR_INVALID, "role '%s' is not a valid name",
					   c->roles[i]);
	for (size_t i = 0; i < c->nscope; i++)
		if (!pl_name_is_valid(c->scope[i]))
			return pl_err_fail(PL_ERR_INVALID, "channel '%s' is not a valid name",
					   c->scope[i]);
	if (c->not_after <= c->not_before)
		return pl_err_fail(PL_ERR_INVALID, "credential expires before it starts");
	pl_cbor_enc e;
	pl_cbor_enc_init(&e);
	pl_cbor_put_map(&e, c->nscope ? 11 : 10);
	pl_cbor_put_str(&e, "t");
	pl_cbor_put_str(&e, "parley/cred");
	pl_cbor_put_str(&e, "v");
	pl_cbor_put_uint(&e, IDENT_VERSION);
	pl_cbor_put_str(&e, "id");
	pl_cbor_put_str(&e, c->id);
	pl_cbor_put_str(&e, "pk");
	pl_cbor_put_bytes(&e, c->pk, PL_PK_BYTES);
	pl_cbor_put_str(&e, "exp");
	pl_cbor_put_int(&e, c->not_after);
	pl_cbor_put_str(&e, "nbf");
	pl_cbor_put_int(&e, c->not_before);
	pl_cbor_put_str(&e, "name");
	pl_cbor_put_str(&e, c->name);
	pl_cbor_put_str(&e, "roles");
	put_names(&e, (char(*)[PL_NAME_MAX + 1])c->roles, c->nroles);
	if (c->nscope) {
		pl_cbor_put_str(&e, "scope");
		put_names(&e, (char(*)[PL_NAME_MAX + 1])c->scope, c->nscope);
	}
	pl_cbor_put_str(&e, "state");
	pl_cbor_put_str(&e, c->state);
	pl_cbor_put_str(&e, "title");
	pl_cbor_put_str(&e, c->title);
	return ident_sign(&e, root, out, len);
}

int pl_cred_open(const uint8_t *buf, size_t len, const pl_trust *t, pl_cred *out)
{
	pl_cose_sign1 cose;
	pl_cbor *map;
	int rc = ident_parse(buf, len, "parley/cred", &cose, &map);
	if (rc)
		return rc;
	pl_slice ty, id, pk, name, state, title;
	uint64_t v;
	int64_t nbf, exp;
	const pl_cbor *roles = NULL, *scope = NULL;
	const pl_cbor_field f[] = {
		{"t", PL_CBOR_TEXT, 0, 0, 0, &ty, NULL},
		{"v", PL_CBOR_UINT, 0, 0, 0, &v, NULL},
		{"id", PL_CBOR_TEXT, 0, 1, PL_NAME_MAX, &id, NULL},
		{"pk", PL_CBOR_BYTES, 0, PL_PK_BYTES, PL_PK_BYTES, &pk, NULL},
		{"exp", PL_CBOR_INT, 0, 0, 0, &exp, NULL},
		{"nbf", PL_CBOR_INT, 0, 0, 0, &nbf, NULL},
		{"name", PL_CBOR_TEXT, PL_FIELD_LINE, 1, PL_TEXT_MAX, &name, NULL},
		{"roles", PL_CBOR_ARRAY, 0, 0, PL_ROLES_MAX, &roles, NULL},
		{"scope", PL_CBOR_ARRAY, PL_FIELD_OPTIONAL, 1, PL_SCOPE_MAX, &scope, NULL},
		{"state", PL_CBOR_TEXT, 0, 1, PL_NAME_MAX, &state, NULL},
		{"title", PL_CBOR_TEXT, PL_FIELD_LINE, 1, PL_TEXT_MAX, &title, NULL},
	};
	pl_cred c;
	memset(&c, 0, sizeof(c));
	rc = pl_cbor_read_map(map, f, sizeof(f) / sizeof(f[0]));
	if (!rc)
		rc = ident_copy_name(c.id, id, "id");
	if (!rc)
		rc = ident_copy_name(c.state, state, "state");
	if (!rc)
		rc = read_names(roles, c.roles, &c.nroles, "roles");
	if (!rc && scope)
		rc = read_names(scope, c.scope, &c.nscope, "scope");
	if (!rc) {
		memcpy(c.pk, pk.p, PL_PK_BYTES);
		ident_copy(c.name, sizeof(c.name), name);
		ident_copy(c.title, sizeof(c.title), title);
		c.not_before = nbf;
		c.not_after = exp;
		const uint8_t *root = pl_trust_find(t, c.state);
		rc = root ? ident_check_sig(&cose, root, "credential")
			  : pl_err_fail(PL_ERR_UNKNOWN_ROOT,
					"credential %s: state '%s' is not a pinned root", c.id,
					c.state);
	}
	if (!rc)
		*out = c;
	pl_cbor_free(map);
	pl_cose_sign1_clear(&cose);
	return rc;
}

bool pl_cred_has_role(const pl_cred *c, const char *role)
{
	for (size_t i = 0; i < c->nroles; i++)
		if (strcmp(c->roles[i], role) == 0)
			return true;
	return false;
}
