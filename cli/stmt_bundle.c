/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Statement bundles (stmt_bundle.h): writing the published folder and
 * verifying it offline.
 *
 * The verifier trusts only the root keys it is handed.  Everything else
 * (charter, credentials, status lists, envelopes, minisign files) is
 * opened against them, and each check is recorded in the report with the
 * exact reason when it fails, so that a journalist learns what is wrong,
 * not only that something is.
 *
 * Divisions: helpers; writing; verifying.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "parley/channel.h"
#include "parley/codec.h"
#include "parley/err.h"
#include "parley/file.h"
#include "parley/minisign.h"
#include "parley/statement.h"
#include "parley/time.h"
#include "proof.h"
#include "stmt_bundle.h"

#define H        PL_HASH_BYTES
#define PATH_CAP 4200
#define ITEM_MAX ((size_t)PL_ENV_MAX * 2) /* a base64 field, decoded */

/* ================================================================ helpers */

static const char *jstr(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* Base64 field key of o into a new buffer; PL_ERR_MALFORMED with a detail. */
static int b64_field(const json_t *o, const char *key, uint8_t **out, size_t *len)
{
	*out = NULL;
	*len = 0;
	const char *s = jstr(o, key);
	if (!s)
		return pl_err_fail(PL_ERR_MALFORMED, "\"%s\" is missing or not a string", key);
	size_t n = strlen(s), cap = n / 4 * 3 + 3;
	if (cap > ITEM_MAX)
		return pl_err_fail(PL_ERR_LIMIT, "\"%s\" is too large", key);
	uint8_t *buf = malloc(cap);
	if (!buf)
		return PL_ERR_NOMEM;
	if (pl_b64_decode(buf, cap, len, s, n) != 0) {
		free(buf);
		return pl_err_fail(PL_ERR_MALFORMED, "\"%s\" is not base64", key);
	}
	*out = buf;
	return 0;
}

static int path_join(char out[PATH_CAP], const char *dir, const char *name)
{
	int n = snprintf(out, PATH_CAP, "%s/%s", dir, name);
	if (n < 0 || n >= PATH_CAP)
		return pl_err_fail(PL_ERR_LIMIT, "path %s/%s is too long", dir, name);
	return 0;
}

/* "S.minisig" / "S.pub" for a valid state name S. */
static void state_file(char out[PL_NAME_MAX + 16], const char *state, const char *ext)
{
	snprintf(out, PL_NAME_MAX + 16, "%s.%s", state, ext);
}

/* The text of the bundle: its bytes and length (a JSON string may hold NUL). */
static int bundle_text(const json_t *b, const char **text, size_t *len)
{
	const json_t *t = json_object_get(b, "text");
	if (!json_is_string(t))
		return pl_err_fail(PL_ERR_MALFORMED, "\"text\" is missing or not a string");
	*text = json_string_value(t);
	*len = json_string_length(t);
	if (*len == 0 || *len > PL_STMT_TEXT_MAX || memchr(*text, '\0', *len))
		return pl_err_fail(PL_ERR_MALFORMED,
				   "\"text\" must be 1..%d bytes of UTF-8 without NUL",
				   PL_STMT_TEXT_MAX);
	return 0;
}

/* The statement-sign body of an envelope entry. */
static int entry_sig(const json_t *st, pl_env *env, pl_stmt_sig *sig)
{
	uint8_t *raw = NULL;
	size_t len = 0;
	int rc = b64_field(st, "envelope", &raw, &len);
	if (!rc)
		rc = pl_env_parse(raw, len, env);
	free(raw);
	if (!rc && strcmp(env->kind, PL_STMT_SIGN_KIND) != 0)
		rc = pl_err_fail(PL_ERR_TYPE, "the envelope is of kind '%s', not '%s'", env->kind,
				 PL_STMT_SIGN_KIND);
	if (!rc)
		rc = pl_stmt_sig_decode(env->body, env->body_len, sig);
	return rc;
}

/* ================================================================ writing */

typedef struct out_file {
	char name[PL_NAME_MAX + 16];
	char *data;
	size_t len;
} out_file;

/* Is dir missing (*exists false), an empty folder, or a non-empty one? */
static int dir_state(const char *dir, bool *exists, bool *empty)
{
	struct stat st;
	*exists = false;
	*empty = true;
	if (stat(dir, &st) != 0) {
		if (errno == ENOENT)
			return 0;
		return pl_err_fail(PL_ERR_IO, "%s: %s", dir, strerror(errno));
	}
	if (!S_ISDIR(st.st_mode))
		return pl_err_fail(PL_ERR_EXISTS, "%s exists and is not a folder", dir);
	*exists = true;
	DIR *d = opendir(dir);
	if (!d)
		return pl_err_fail(PL_ERR_IO, "%s: %s", dir, strerror(errno));
	struct dirent *e;
	while (*empty && (e = readdir(d)) != NULL)
		*empty = strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0;
	closedir(d);
	return 0;
}

/* The two files of one state entry. */
static int state_files(const json_t *b, const json_t *st, size_t i, out_file *sigf, out_file *pubf)
{
	const char *state = jstr(st, "state"), *signer = jstr(st, "signer");
	if (!state || !pl_name_is_valid(state) || !signer || !pl_name_is_valid(signer))
		return pl_err_fail(PL_ERR_MALFORMED,
				   "states[%zu]: no valid \"state\" and \"signer\"", i);
	state_file(sigf->name, state, "minisig");
	state_file(pubf->name, state, "pub");
	if (!jstr(st, "minisig") || strcmp(jstr(st, "minisig"), sigf->name) != 0 ||
	    !jstr(st, "pubkey") || strcmp(jstr(st, "pubkey"), pubf->name) != 0)
		return pl_err_fail(
		    PL_ERR_MALFORMED,
		    "states[%zu]: \"minisig\" and \"pubkey\" must be \"%s\" and \"%s\"", i,
		    sigf->name, pubf->name);
	/* The credential's key, opened under the bundle's own root for the state
	 * (writing trusts the node; stmt_bundle_verify trusts nobody). */
	uint8_t *root = NULL, *cred = NULL;
	size_t rlen = 0, clen = 0;
	pl_trust *t = pl_trust_new();
	pl_cred c;
	pl_env env;
	pl_stmt_sig sig;
	memset(&env, 0, sizeof(env));
	int rc = t ? 0 : PL_ERR_NOMEM;
	if (!rc)
		rc = b64_field(st, "root", &root, &rlen);
	if (!rc && rlen != PL_PK_BYTES)
		rc = pl_err_fail(PL_ERR_MALFORMED, "\"root\" is not a 32-byte key");
	if (!rc)
		rc = pl_trust_add(t, state, root);
	if (!rc)
		rc = b64_field(st, "credential", &cred, &clen);
	if (!rc)
		rc = pl_cred_open(cred, clen, t, &c);
	if (!rc && (strcmp(c.state, state) != 0 || strcmp(c.id, signer) != 0))
		rc = pl_err_fail(PL_ERR_CONFLICT, "the credential is %s of %s, not %s's", c.id,
				 c.state, signer);
	if (!rc)
		rc = entry_sig(st, &env, &sig);
	pl_minisign_pk mpk;
	if (!rc) {
		pl_minisign_pk_from_key(&mpk, c.pk);
		if (memcmp(sig.minisig + 2, mpk.keynum, PL_MINISIGN_KEYNUM_BYTES) != 0)
			rc = pl_err_fail(PL_ERR_CONFLICT,
					 "the minisign signature is not by the credential's key");
	}
	if (!rc && (strcmp(sig.stmt, jstr(b, "stmt") ? jstr(b, "stmt") : "") != 0))
		rc = pl_err_fail(PL_ERR_CONFLICT, "the signature is of statement %s", sig.stmt);
	pl_minisign_sig ms;
	memset(&ms, 0, sizeof(ms));
	if (!rc) {
		snprintf(ms.untrusted, sizeof(ms.untrusted),
			 "signature of %s (%s) on parley statement %s v=%" PRIu64, state, signer,
			 sig.stmt, sig.v);
		memcpy(ms.blob, sig.minisig, sizeof(ms.blob));
		memcpy(ms.trusted, sig.tc, strlen(sig.tc) + 1);
		memcpy(ms.gsig, sig.gsig, sizeof(ms.gsig));
		rc = pl_minisign_sig_format(&ms, &sigf->data, &sigf->len);
	}
	if (!rc)
		rc = pl_minisign_pk_format(&mpk, &pubf->data, &pubf->len);
	if (rc && rc != PL_ERR_NOMEM)
		rc = pl_err_fail(rc, "states[%zu] (%s): %s", i, state, pl_err_detail());
	pl_env_clear(&env);
	free(root);
	free(cred);
	pl_trust_free(t);
	return rc;
}

int stmt_bundle_write(const json_t *b, const char *dir, bool force)
{
	if (!json_is_object(b) || !jstr(b, "format") ||
	    strcmp(jstr(b, "format"), STMT_BUNDLE_FORMAT) != 0)
		return pl_err_fail(PL_ERR_VERSION, "not a statement bundle (\"format\": \"%s\")",
				   STMT_BUNDLE_FORMAT);
	const char *text = NULL;
	size_t tlen = 0;
	int rc = bundle_text(b, &text, &tlen);
	if (rc)
		return rc;
	const json_t *states = json_object_get(b, "states");
	size_t n = json_array_size(states);
	if (!json_is_array(states) || n == 0 || n > PL_CHARTER_STATES_MAX)
		return pl_err_fail(PL_ERR_MALFORMED, "\"states\" must list 1..%d states",
				   PL_CHARTER_STATES_MAX);
	out_file *files = calloc(2 * n + 2, sizeof(*files));
	if (!files)
		return PL_ERR_NOMEM;
	size_t nf = 0;
	for (size_t i = 0; !rc && i < n; i++) {
		rc = state_files(b, json_array_get(states, i), i, &files[nf], &files[nf + 1]);
		nf += 2;
		for (size_t k = 0; !rc && k + 2 < nf; k++)
			if (strcmp(files[k].name, files[nf - 2].name) == 0)
				rc = pl_err_fail(PL_ERR_MALFORMED, "state %s is listed twice",
						 jstr(json_array_get(states, i), "state"));
	}
	if (!rc) {
		snprintf(files[nf].name, sizeof(files[nf].name), "statement.txt");
		files[nf].data = malloc(tlen);
		files[nf].len = tlen;
		rc = files[nf].data ? 0 : PL_ERR_NOMEM;
		if (!rc)
			memcpy(files[nf].data, text, tlen);
		nf++;
	}
	if (!rc) {
		char *js = json_dumps(b, JSON_INDENT(2) | JSON_SORT_KEYS);
		size_t jl = js ? strlen(js) : 0;
		char *withnl = js ? realloc(js, jl + 2) : NULL;
		if (!withnl) {
			free(js);
			rc = PL_ERR_NOMEM;
		} else {
			withnl[jl] = '\n';
			withnl[jl + 1] = '\0';
			snprintf(files[nf].name, sizeof(files[nf].name), "bundle.json");
			files[nf].data = withnl;
			files[nf].len = jl + 1;
			nf++;
		}
	}
	bool exists = false, empty = true;
	if (!rc)
		rc = dir_state(dir, &exists, &empty);
	if (!rc && exists && !empty && !force)
		rc = pl_err_fail(PL_ERR_EXISTS,
				 "%s is not empty (use --force to replace its files)", dir);
	if (!rc && !exists && mkdir(dir, 0755) != 0)
		rc = pl_err_fail(PL_ERR_IO, "%s: %s", dir, strerror(errno));
	for (size_t k = 0; !rc && k < nf; k++) {
		char path[PATH_CAP];
		rc = path_join(path, dir, files[k].name);
		if (!rc)
			rc = pl_file_write_atomic(path, files[k].data, files[k].len, 0644,
						  force ? PL_FILE_REPLACE : 0);
	}
	for (size_t k = 0; k < 2 * n + 2; k++)
		free(files[k].data);
	free(files);
	return rc;
}

/* ================================================================ verifying */

typedef struct vctx {
	json_t *failures;
	size_t nfail;
	int first_rc;
	char first[600];
	bool nomem;
} vctx;

static void vnote(vctx *v, json_t *list, const char *who, const char *check, int rc,
		  const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* Record check (ok when rc == 0) in list; a failure also in v->failures as
 * "WHO: MESSAGE" (or "MESSAGE" when who is NULL). */
static void vnote(vctx *v, json_t *list, const char *who, const char *check, int rc,
		  const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (json_array_append_new(list, json_pack("{s:s,s:b,s:s}", "check", check, "ok", rc == 0,
						  "detail", msg)) != 0)
		v->nomem = true;
	if (rc == 0)
		return;
	char line[600];
	if (who)
		snprintf(line, sizeof(line), "%s: %s", who, msg);
	else
		snprintf(line, sizeof(line), "%s", msg);
	if (v->nfail++ == 0) {
		v->first_rc = rc;
		snprintf(v->first, sizeof(v->first), "%s", line);
	}
	if (json_array_append_new(v->failures, json_string(line)) != 0)
		v->nomem = true;
}

/* What the whole bundle says, once its common parts are read. */
typedef struct bctx {
	const char *dir;
	const pl_trust *roots;
	const char *channel, *stmt;
	uint64_t v;
	uint8_t text_sha256[H];
	bool have_hash;
	const uint8_t *file; /* statement.txt, or the bundle's text when it is unreadable */
	size_t file_len;
	pl_charter charter;
	bool have_charter;
} bctx;

/* The credential, checked: the signer's own, of this state, a signatory. */
static bool check_credential(vctx *v, bctx *b, const json_t *st, json_t *checks, const char *who,
			     pl_cred *c, uint8_t **raw, size_t *rawlen)
{
	const char *state = jstr(st, "state"), *signer = jstr(st, "signer");
	int rc = b64_field(st, "credential", raw, rawlen);
	if (!rc)
		rc = pl_cred_open(*raw, *rawlen, b->roots, c);
	if (rc) {
		vnote(v, checks, who, "credential", rc, "the credential does not open: %s",
		      pl_err_detail());
		return false;
	}
	if (strcmp(c->state, state) != 0 || strcmp(c->id, signer) != 0) {
		vnote(v, checks, who, "credential", PL_ERR_WRONG_STATE,
		      "the credential is %s of %s, not %s of %s", c->id, c->state, signer, state);
		return false;
	}
	vnote(v, checks, who, "credential", 0, "%s of %s, signed by %s's root", c->id, c->state,
	      c->state);
	if (!pl_cred_has_role(c, PL_STMT_ROLE_SIGNATORY))
		vnote(v, checks, who, "role", PL_ERR_NOT_MEMBER, "%s does not hold the role \"%s\"",
		      signer, PL_STMT_ROLE_SIGNATORY);
	else
		vnote(v, checks, who, "role", 0, "%s holds the role \"%s\"", signer,
		      PL_STMT_ROLE_SIGNATORY);
	if (b->have_charter) {
		const pl_charter_member *m = pl_charter_find_member(&b->charter, state, signer);
		if (!m)
			vnote(v, checks, who, "member", PL_ERR_NOT_MEMBER,
			      "%s is not a member of channel %s's charter", signer,
			      b->charter.name);
		else if (memcmp(m->cred.pk, c->pk, PL_PK_BYTES) != 0)
			vnote(v, checks, who, "member", PL_ERR_CONFLICT,
			      "the charter lists another key for %s", signer);
		else
			vnote(v, checks, who, "member", 0, "a member of channel %s",
			      b->charter.name);
	}
	return true;
}

/* The envelope: parses, is by the signer of the state, signed with the
 * credential's key, of kind statement-sign, on the bundle's channel, with
 * a body naming the bundle's statement, version and text. */
static bool check_envelope(vctx *v, bctx *b, const json_t *st, json_t *checks, const char *who,
			   const pl_cred *c, pl_env *env, pl_stmt_sig *sig)
{
	const char *state = jstr(st, "state"), *signer = jstr(st, "signer");
	uint8_t *raw = NULL;
	size_t len = 0;
	int rc = b64_field(st, "envelope", &raw, &len);
	if (!rc)
		rc = pl_env_parse(raw, len, env);
	if (rc) {
		free(raw);
		vnote(v, checks, who, "envelope", rc, "the envelope does not parse: %s",
		      pl_err_detail());
		return false;
	}
	pl_cose_sign1 m;
	rc = pl_cose_sign1_decode(raw, len, PL_COSE_TAGGED, PL_CBOR_CANONICAL, &m);
	if (!rc) {
		rc = pl_cose_sign1_verify(&m, NULL, 0, c->pk);
		pl_cose_sign1_clear(&m);
	}
	free(raw);
	bool ok = false;
	if (rc)
		vnote(v, checks, who, "envelope", PL_ERR_BAD_SIGNATURE,
		      "the envelope's signature does not verify with %s's key", signer);
	else if (strcmp(env->state, state) != 0 || strcmp(env->author, signer) != 0)
		vnote(v, checks, who, "envelope", PL_ERR_WRONG_STATE,
		      "the envelope is by %s of %s, not %s of %s", env->author, env->state, signer,
		      state);
	else if (strcmp(env->kind, PL_STMT_SIGN_KIND) != 0)
		vnote(v, checks, who, "envelope", PL_ERR_TYPE,
		      "the envelope is of kind '%s', not '%s'", env->kind, PL_STMT_SIGN_KIND);
	else if (b->channel && strcmp(env->ch, b->channel) != 0)
		vnote(v, checks, who, "envelope", PL_ERR_CONFLICT,
		      "the envelope is on channel %s, not %s", env->ch, b->channel);
	else
		ok = true;
	if (!ok)
		return false;
	vnote(v, checks, who, "envelope", 0, "a statement-sign envelope by %s, signature verified",
	      signer);
	rc = pl_stmt_sig_decode(env->body, env->body_len, sig);
	if (rc) {
		vnote(v, checks, who, "body", rc, "the signature body: %s", pl_err_detail());
		return false;
	}
	char have[2 * H + 1], want[2 * H + 1];
	pl_hex_encode(have, sig->text_sha256, H);
	pl_hex_encode(want, b->text_sha256, H);
	if (!b->stmt || strcmp(sig->stmt, b->stmt) != 0 || sig->v != b->v) {
		vnote(v, checks, who, "body", PL_ERR_CONFLICT,
		      "%s signed statement %s v=%" PRIu64 ", not %s v=%" PRIu64, state, sig->stmt,
		      sig->v, b->stmt ? b->stmt : "?", b->v);
		return false;
	}
	if (!b->have_hash || memcmp(sig->text_sha256, b->text_sha256, H) != 0) {
		vnote(v, checks, who, "body", PL_ERR_CONFLICT,
		      "%s signed text sha256 %s, not the bundle's text (sha256 %s)", state, have,
		      want);
		return false;
	}
	rc = pl_stmt_sig_verify(sig, c->pk, state, signer, (const char *)b->file, b->file_len);
	vnote(v, checks, who, "body", rc, "%s",
	      rc ? pl_err_detail()
		 : "the minisign signature in the envelope verifies over the text");
	return rc == 0;
}

/* S.pub and S.minisig: strict parse, the key is the credential's, the
 * signature verifies over statement.txt, the trusted comment is exact. */
static bool check_files(vctx *v, bctx *b, const json_t *st, json_t *checks, const char *who,
			const pl_cred *c)
{
	const char *state = jstr(st, "state"), *signer = jstr(st, "signer");
	char sname[PL_NAME_MAX + 16], pname[PL_NAME_MAX + 16], path[PATH_CAP];
	state_file(sname, state, "minisig");
	state_file(pname, state, "pub");
	if (!jstr(st, "minisig") || strcmp(jstr(st, "minisig"), sname) != 0 ||
	    !jstr(st, "pubkey") || strcmp(jstr(st, "pubkey"), pname) != 0) {
		vnote(v, checks, who, "files", PL_ERR_MALFORMED,
		      "\"minisig\" and \"pubkey\" must be \"%s\" and \"%s\"", sname, pname);
		return false;
	}
	uint8_t *pt = NULL, *sgt = NULL;
	size_t pl = 0, sl = 0;
	pl_minisign_pk pk;
	pl_minisign_sig sig;
	int rc = path_join(path, b->dir, pname);
	if (!rc)
		rc = pl_file_read(path, 4096, &pt, &pl);
	if (!rc)
		rc = pl_minisign_pk_parse((const char *)pt, pl, &pk);
	free(pt);
	if (rc) {
		vnote(v, checks, who, "pubkey", rc, "%s: %s", pname, pl_err_detail());
		return false;
	}
	if (memcmp(pk.pk, c->pk, PL_PK_BYTES) != 0) {
		vnote(v, checks, who, "pubkey", PL_ERR_CONFLICT,
		      "%s is not the key of %s's credential", pname, signer);
		return false;
	}
	char id[PL_MINISIGN_KEYID_LEN];
	pl_minisign_keyid_hex(id, pk.keynum);
	vnote(v, checks, who, "pubkey", 0, "%s is %s's key (minisign key id %s)", pname, signer,
	      id);
	rc = path_join(path, b->dir, sname);
	if (!rc)
		rc = pl_file_read(path, 16384, &sgt, &sl);
	if (!rc)
		rc = pl_minisign_sig_parse((const char *)sgt, sl, &sig);
	free(sgt);
	if (rc) {
		vnote(v, checks, who, "minisig", rc, "%s: %s", sname, pl_err_detail());
		return false;
	}
	rc = pl_minisign_verify_sig(&pk, b->file, b->file_len, &sig);
	vnote(v, checks, who, "minisig", rc, "%s: %s", sname,
	      rc ? pl_err_detail() : "verifies over statement.txt");
	char tc[PL_STMT_TC_MAX + 1] = "";
	int trc = b->stmt ? pl_stmt_tc(tc, b->stmt, b->v, state, signer, b->text_sha256)
			  : PL_ERR_MALFORMED;
	if (trc || strcmp(tc, sig.trusted) != 0)
		vnote(v, checks, who, "trusted_comment", PL_ERR_CONFLICT,
		      "%s: the trusted comment is \"%.160s\", expected \"%s\"", sname, sig.trusted,
		      tc);
	else
		vnote(v, checks, who, "trusted_comment", 0, "\"%s\"", tc);
	return rc == 0 && trc == 0 && strcmp(tc, sig.trusted) == 0;
}

/* One entry of "states"; true when every check of it passed. */
static bool check_state(vctx *v, bctx *b, const json_t *st, size_t i, json_t *out)
{
	json_t *checks = json_array();
	const char *state = jstr(st, "state"), *signer = jstr(st, "signer");
	char who[PL_NAME_MAX + 16];
	size_t before = v->nfail;
	if (!checks) {
		v->nomem = true;
		return false;
	}
	if (!state || !pl_name_is_valid(state) || !signer || !pl_name_is_valid(signer)) {
		snprintf(who, sizeof(who), "states[%zu]", i);
		vnote(v, checks, who, "entry", PL_ERR_MALFORMED,
		      "no valid \"state\" and \"signer\"");
		json_array_append_new(out, json_pack("{s:I,s:b,s:o}", "index", (json_int_t)i, "ok",
						     0, "checks", checks));
		return false;
	}
	snprintf(who, sizeof(who), "%s", state);
	/* root: the one given for the state */
	uint8_t *root = NULL, *cred_raw = NULL, *sl_raw = NULL;
	size_t rlen = 0, clen = 0, sllen = 0;
	const uint8_t *given = pl_trust_find(b->roots, state);
	int rc = b64_field(st, "root", &root, &rlen);
	if (!rc && rlen != PL_PK_BYTES)
		rc = pl_err_fail(PL_ERR_MALFORMED, "\"root\" is not a 32-byte key");
	if (!given)
		vnote(v, checks, who, "root", PL_ERR_UNKNOWN_ROOT, "no root key for %s", state);
	else if (rc)
		vnote(v, checks, who, "root", rc, "%s", pl_err_detail());
	else if (!pl_ct_equal(root, given, PL_PK_BYTES))
		vnote(v, checks, who, "root", PL_ERR_UNKNOWN_ROOT,
		      "the bundle's root key for %s is not the one given", state);
	else
		vnote(v, checks, who, "root", 0, "the root key given for %s", state);
	free(root);
	pl_cred c;
	pl_env env;
	pl_stmt_sig sig;
	pl_status_list sl;
	memset(&env, 0, sizeof(env));
	memset(&sl, 0, sizeof(sl));
	bool have_sl = false;
	if (given && check_credential(v, b, st, checks, who, &c, &cred_raw, &clen)) {
		/* status list (optional) */
		const json_t *slj = json_object_get(st, "status_list");
		if (slj && !json_is_null(slj)) {
			rc = b64_field(st, "status_list", &sl_raw, &sllen);
			if (!rc)
				rc = pl_status_list_open(sl_raw, sllen, b->roots, &sl);
			if (!rc && strcmp(sl.state, state) != 0)
				rc = pl_err_fail(PL_ERR_WRONG_STATE, "the status list is %s's",
						 sl.state);
			vnote(v, checks, who, "status_list", rc, "%s",
			      rc ? pl_err_detail() : "signed by the state's root");
			have_sl = rc == 0;
		}
		if (check_envelope(v, b, st, checks, who, &c, &env, &sig)) {
			char when[PL_TIME_LEN];
			pl_time_format(when, env.at);
			rc = pl_cred_verify(cred_raw, clen, b->roots, have_sl ? &sl : NULL, env.at,
					    NULL);
			vnote(v, checks, who, "valid_at", rc, "the credential %s at %s%s%s",
			      rc ? "was not valid" : "was valid", when, rc ? ": " : "",
			      rc ? pl_err_detail() : "");
		}
		check_files(v, b, st, checks, who, &c);
	}
	pl_env_clear(&env);
	pl_status_list_clear(&sl);
	free(cred_raw);
	free(sl_raw);
	bool ok = v->nfail == before;
	if (json_array_append_new(out, json_pack("{s:s,s:s,s:b,s:o}", "state", state, "signer",
						 signer, "ok", ok, "checks", checks)) != 0)
		v->nomem = true;
	return ok;
}

/* statement.txt and the text and hash in the bundle. */
static void check_text(vctx *v, bctx *b, const json_t *bj, json_t *checks, uint8_t **file)
{
	const char *text = NULL, *hex = jstr(bj, "text_sha256");
	size_t tlen = 0, got = 0, flen = 0;
	if (bundle_text(bj, &text, &tlen) != 0) {
		vnote(v, checks, NULL, "text", PL_ERR_MALFORMED, "bundle.json: %s",
		      pl_err_detail());
		text = "";
		tlen = 0;
	}
	b->file = (const uint8_t *)text;
	b->file_len = tlen;
	if (!hex || strlen(hex) != 2 * H || pl_hex_decode(b->text_sha256, H, &got, hex, 2 * H) ||
	    got != H)
		vnote(v, checks, NULL, "text_sha256", PL_ERR_MALFORMED,
		      "bundle.json: \"text_sha256\" is not 64 hex digits");
	else
		b->have_hash = true;
	char path[PATH_CAP], hexf[2 * H + 1];
	int rc = path_join(path, b->dir, "statement.txt");
	if (!rc)
		rc = pl_file_read(path, PL_STMT_TEXT_MAX, file, &flen);
	if (rc) {
		vnote(v, checks, NULL, "statement.txt", rc, "statement.txt: %s", pl_err_detail());
		return;
	}
	b->file = *file;
	b->file_len = flen;
	uint8_t h[H];
	pl_sha256(h, *file, flen);
	pl_hex_encode(hexf, h, H);
	if (b->have_hash && memcmp(h, b->text_sha256, H) != 0)
		vnote(v, checks, NULL, "statement.txt", PL_ERR_CONFLICT,
		      "statement.txt does not hash to text_sha256 (sha256 %s, the bundle says "
		      "%.64s)",
		      hexf, hex);
	else if (flen != tlen || memcmp(*file, text, tlen) != 0)
		vnote(v, checks, NULL, "statement.txt", PL_ERR_CONFLICT,
		      "statement.txt differs from the bundle's \"text\"");
	else
		vnote(v, checks, NULL, "statement.txt", 0, "%zu bytes, sha256 %s", flen, hexf);
}

/* The charter: opens against the roots, complete, of the bundle's channel,
 * and its states are exactly those of "states", once each. */
static void check_charter(vctx *v, bctx *b, const json_t *bj, json_t *checks)
{
	uint8_t *raw = NULL;
	size_t len = 0;
	int rc = b64_field(bj, "charter", &raw, &len);
	if (!rc)
		rc = pl_charter_open(raw, len, b->roots, &b->charter);
	free(raw);
	if (!rc) {
		b->have_charter = true;
		rc = pl_charter_check_complete(&b->charter);
	}
	if (!rc && (!b->channel || strcmp(b->charter.name, b->channel) != 0))
		rc = pl_err_fail(PL_ERR_CONFLICT, "the charter is of channel %s, not %s",
				 b->charter.name, b->channel ? b->channel : "?");
	if (rc) {
		vnote(v, checks, NULL, "charter", rc, "the charter: %s", pl_err_detail());
		return;
	}
	vnote(v, checks, NULL, "charter", 0, "channel %s v%" PRIu64 ", signed by all %zu states",
	      b->charter.name, b->charter.version, b->charter.nstates);
	const json_t *states = json_object_get(bj, "states");
	for (size_t s = 0; s < b->charter.nstates; s++) {
		size_t seen = 0, i;
		json_t *st;
		json_array_foreach(states, i, st)
		{
			const char *name = jstr(st, "state");
			seen += name && strcmp(name, b->charter.states[s]) == 0;
		}
		if (seen != 1)
			vnote(v, checks, NULL, "states", PL_ERR_UNSIGNED, "%s %s in \"states\"",
			      b->charter.states[s],
			      seen ? "appears more than once" : "has no signature");
	}
	size_t i;
	json_t *st;
	json_array_foreach(states, i, st)
	{
		const char *name = jstr(st, "state");
		bool member = false;
		for (size_t s = 0; name && s < b->charter.nstates; s++)
			member = member || strcmp(name, b->charter.states[s]) == 0;
		if (!member)
			vnote(v, checks, NULL, "states", PL_ERR_WRONG_STATE,
			      "states[%zu] (%s) is not a state of the charter", i,
			      name ? name : "?");
	}
}

static void check_proofs(vctx *v, bctx *b, const json_t *bj, json_t *out, json_t *checks)
{
	const json_t *proofs = json_object_get(bj, "proofs");
	if (!json_is_array(proofs)) {
		vnote(v, checks, NULL, "proofs", PL_ERR_MALFORMED,
		      "bundle.json: \"proofs\" is not an array");
		return;
	}
	size_t i;
	json_t *p;
	json_array_foreach(proofs, i, p)
	{
		char why[512] = "", who[32];
		json_t *r = NULL;
		int rc = cli_check_proof_json(p, b->roots, &r, why, sizeof(why));
		snprintf(who, sizeof(who), "proof %zu", i + 1);
		json_t *dummy = json_array();
		vnote(v, dummy ? dummy : checks, who, "proof", rc, "%s",
		      rc ? why : "a valid proof of receipt");
		json_decref(dummy);
		if (json_array_append_new(out,
					  json_pack("{s:I,s:b,s:s?,s:s}", "n", (json_int_t)(i + 1),
						    "ok", rc == 0, "id", r ? jstr(r, "id") : NULL,
						    "detail", rc ? why : "valid")) != 0)
			v->nomem = true;
		json_decref(r);
	}
}

int stmt_bundle_verify(const char *dir, const pl_trust *roots, json_t **report)
{
	if (report)
		*report = NULL;
	char path[PATH_CAP];
	uint8_t *raw = NULL, *file = NULL;
	size_t rawlen = 0;
	int rc = path_join(path, dir, "bundle.json");
	if (!rc)
		rc = pl_file_read(path, STMT_BUNDLE_MAX, &raw, &rawlen);
	if (rc)
		return rc;
	json_error_t jerr;
	json_t *bj = json_loadb((const char *)raw, rawlen, JSON_REJECT_DUPLICATES, &jerr);
	free(raw);
	if (!bj)
		return pl_err_fail(PL_ERR_MALFORMED, "%s: not JSON: line %d: %s", path, jerr.line,
				   jerr.text);
	vctx v = {.failures = json_array()};
	bctx b = {.dir = dir, .roots = roots};
	json_t *checks = json_array(), *states_out = json_array(), *proofs_out = json_array();
	if (!v.failures || !checks || !states_out || !proofs_out) {
		rc = PL_ERR_NOMEM;
		goto out;
	}
	if (!json_is_object(bj) || !jstr(bj, "format") ||
	    strcmp(jstr(bj, "format"), STMT_BUNDLE_FORMAT) != 0) {
		rc =
		    pl_err_fail(PL_ERR_VERSION, "%s is not a statement bundle (\"format\": \"%s\")",
				path, STMT_BUNDLE_FORMAT);
		goto out;
	}
	b.channel = jstr(bj, "channel");
	b.stmt = jstr(bj, "stmt");
	json_int_t jv = json_integer_value(json_object_get(bj, "v"));
	b.v = jv > 0 ? (uint64_t)jv : 0;
	if (!b.channel || !pl_name_is_valid(b.channel) || !b.stmt || !pl_name_is_valid(b.stmt) ||
	    b.v == 0 || !jstr(bj, "title"))
		vnote(&v, checks, NULL, "bundle", PL_ERR_MALFORMED,
		      "bundle.json: \"channel\", \"stmt\", \"v\" or \"title\" missing or invalid");
	check_text(&v, &b, bj, checks, &file);
	check_charter(&v, &b, bj, checks);
	const json_t *states = json_object_get(bj, "states");
	size_t i, nok = 0;
	json_t *st;
	json_array_foreach(states, i, st)
	{
		nok += check_state(&v, &b, st, i, states_out);
	}
	if (json_array_size(states) == 0)
		vnote(&v, checks, NULL, "states", PL_ERR_UNSIGNED,
		      "bundle.json lists no signature");
	check_proofs(&v, &b, bj, proofs_out, checks);
	/* Adopted: every charter state validly signed the bundle's text. */
	bool adopted = false;
	if (b.have_charter && b.have_hash) {
		pl_stmt_vote votes[PL_CHARTER_STATES_MAX];
		size_t nv = 0;
		json_t *so;
		json_array_foreach(states_out, i, so)
		{
			if (nv < PL_CHARTER_STATES_MAX && json_is_true(json_object_get(so, "ok")) &&
			    jstr(so, "state"))
				votes[nv++] = (pl_stmt_vote){jstr(so, "state"), b.v, b.text_sha256};
		}
		rc = pl_stmt_check_adopted(&b.charter, votes, nv, NULL, NULL);
		adopted = rc == 0;
		if (rc)
			vnote(&v, checks, NULL, "adopted", rc, "%s", pl_err_detail());
		else
			vnote(&v, checks, NULL, "adopted", 0, "every state of the charter signed");
	} else {
		vnote(&v, checks, NULL, "adopted", PL_ERR_UNSIGNED,
		      "not adopted: the charter or the text hash could not be checked");
	}
	(void)nok;
	rc = v.nomem ? PL_ERR_NOMEM : 0;
	if (!rc && v.nfail)
		rc = pl_err_fail(v.first_rc, "%zu check%s failed; first: %s", v.nfail,
				 v.nfail == 1 ? "" : "s", v.first);
	if (report && rc != PL_ERR_NOMEM) {
		char hex[2 * H + 1] = "";
		if (b.have_hash)
			pl_hex_encode(hex, b.text_sha256, H);
		*report = json_pack("{s:s,s:s?,s:s?,s:I,s:s?,s:s,s:O,s:O,s:O,s:b,s:b,s:O}", "dir",
				    dir, "channel", b.channel, "stmt", b.stmt, "v", (json_int_t)b.v,
				    "title", jstr(bj, "title"), "text_sha256", hex, "checks",
				    checks, "states", states_out, "proofs", proofs_out, "adopted",
				    adopted, "valid", rc == 0, "failures", v.failures);
		if (!*report)
			rc = PL_ERR_NOMEM;
	}
out:
	pl_charter_clear(&b.charter);
	free(file);
	json_decref(bj);
	json_decref(checks);
	json_decref(states_out);
	json_decref(proofs_out);
	json_decref(v.failures);
	return rc;
}
