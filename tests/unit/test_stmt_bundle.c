/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for cli/stmt_bundle.c (and cli/diff.c): a complete statement
 * bundle built with real keys (two roots, credentials, a charter signed by
 * both, a status list, statement-sign envelopes), written to a folder and
 * verified; then each way it can be wrong, each reported with its reason.
 * When `minisign` is on PATH the written files are also checked with it.
 * Folders are made under $PARLEY_TEST_TMP (or /tmp).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "diff.h"
#include "parley/channel.h"
#include "parley/err.h"
#include "parley/file.h"
#include "parley/statement.h"
#include "stmt_bundle.h"

extern char **environ;

#define T0 1798761600 /* 2027-01-01 */

static pl_keypair tehran, islamabad, fm_t, fm_i, clerk_t;
static char base[4096];
static int ndirs;

static const char text_a[] = "Joint statement.\nThe border crossing at Taftan reopens on 1 May.\n";
static const char text_b[] = "Joint statement.\nThe border crossing at Taftan reopens on 2 May.\n";

/* ------------------------------------------------------------ helpers */

static char *b64(const uint8_t *p, size_t n)
{
	char *s = malloc(pl_b64_len(n));
	assert_non_null(s);
	pl_b64_encode(s, p, n);
	return s;
}

static json_t *jb64(const uint8_t *p, size_t n)
{
	char *s = b64(p, n);
	json_t *j = json_string(s);
	free(s);
	return j;
}

static void new_dir(char *out, size_t cap)
{
	int n = snprintf(out, cap, "%s/b%d", base, ndirs++);
	assert_true(n > 0 && (size_t)n < cap);
}

static void rm_rf(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		char p[4400];
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		struct stat st;
		if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
			rm_rf(p);
		else
			unlink(p);
	}
	closedir(d);
	rmdir(dir);
}

static bool have_program(const char *name)
{
	const char *path = getenv("PATH");
	while (path && *path) {
		size_t n = strcspn(path, ":");
		char full[4200];
		if (n > 0 && n < 4000) {
			snprintf(full, sizeof(full), "%.*s/%s", (int)n, path, name);
			if (access(full, X_OK) == 0)
				return true;
		}
		path += n;
		if (*path == ':')
			path++;
	}
	return false;
}

static int run(char *const argv[])
{
	posix_spawn_file_actions_t fa;
	assert_int_equal(posix_spawn_file_actions_init(&fa), 0);
	assert_int_equal(posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0), 0);
	assert_int_equal(posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0), 0);
	assert_int_equal(posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0), 0);
	pid_t pid;
	int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc != 0)
		return -1;
	int st = 0;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static uint8_t *make_cred(const char *state, const char *id, const pl_keypair *official,
			  const pl_keypair *root, bool signatory, size_t *len)
{
	pl_cred c;
	memset(&c, 0, sizeof(c));
	snprintf(c.state, sizeof(c.state), "%s", state);
	snprintf(c.id, sizeof(c.id), "%s", id);
	snprintf(c.name, sizeof(c.name), "A Minister");
	snprintf(c.title, sizeof(c.title), "Foreign Minister");
	snprintf(c.roles[0], sizeof(c.roles[0]), "%s", signatory ? "signatory" : "clerk");
	c.nroles = 1;
	memcpy(c.pk, official->pk, PL_PK_BYTES);
	c.not_before = T0;
	c.not_after = T0 + 365 * 86400;
	uint8_t *out = NULL;
	assert_int_equal(pl_cred_sign(&c, root, &out, len), 0);
	return out;
}

static pl_trust *roots_both(void)
{
	pl_trust *t = pl_trust_new();
	assert_non_null(t);
	assert_int_equal(pl_trust_add(t, "tehran", tehran.pk), 0);
	assert_int_equal(pl_trust_add(t, "islamabad", islamabad.pk), 0);
	return t;
}

/* How the fixture bundle differs from a good one. */
typedef struct variant {
	const char *islamabad_text; /* the text Islamabad signs (default: the bundle's) */
	bool drop_islamabad;        /* no entry for Islamabad */
	bool tehran_by_clerk;       /* Tehran's signature by an official without the role */
} variant;

/* One "states" entry: credential, status list, envelope. */
static json_t *state_entry(const char *state, const char *signer, const pl_keypair *root,
			   const pl_keypair *official, bool signatory, const char *text,
			   const uint8_t *status, size_t status_len)
{
	size_t clen = 0, blen = 0, elen = 0;
	uint8_t *cred = make_cred(state, signer, official, root, signatory, &clen);
	pl_stmt s;
	memset(&s, 0, sizeof(s));
	snprintf(s.stmt, sizeof(s.stmt), "taftan");
	s.v = 2;
	snprintf(s.title, sizeof(s.title), "Taftan");
	s.text = text;
	s.text_len = strlen(text);
	uint8_t *body = NULL, *env = NULL;
	assert_int_equal(pl_stmt_sign(&s, state, signer, official, &body, &blen, NULL), 0);
	pl_env e;
	memset(&e, 0, sizeof(e));
	snprintf(e.ch, sizeof(e.ch), "border");
	e.at = T0 + 100;
	snprintf(e.state, sizeof(e.state), "%s", state);
	snprintf(e.author, sizeof(e.author), "%s", signer);
	e.seq = 1;
	e.lane = PL_LANE_ROUTINE;
	snprintf(e.kind, sizeof(e.kind), "statement-sign");
	e.body = body;
	e.body_len = blen;
	assert_int_equal(pl_env_sign(&e, official, &env, &elen), 0);
	char minisig[80], pub[80];
	snprintf(minisig, sizeof(minisig), "%s.minisig", state);
	snprintf(pub, sizeof(pub), "%s.pub", state);
	json_t *j =
	    json_pack("{s:s,s:o,s:s,s:o,s:o,s:o,s:s,s:s}", "state", state, "root",
		      jb64(root->pk, PL_PK_BYTES), "signer", signer, "credential", jb64(cred, clen),
		      "status_list", status ? jb64(status, status_len) : json_null(), "envelope",
		      jb64(env, elen), "minisig", minisig, "pubkey", pub);
	assert_non_null(j);
	free(cred);
	free(body);
	free(env);
	return j;
}

static json_t *make_bundle(const variant *var)
{
	pl_trust *t = roots_both();
	size_t l1 = 0, l2 = 0, l3 = 0;
	uint8_t *c1 = make_cred("tehran", "fm-tehran", &fm_t, &tehran, true, &l1);
	uint8_t *c2 = make_cred("islamabad", "fm-islamabad", &fm_i, &islamabad, true, &l2);
	uint8_t *c3 = make_cred("tehran", "clerk", &clerk_t, &tehran, false, &l3);
	pl_slice members[] = {{c1, l1}, {c2, l2}, {c3, l3}};
	const char *const states[] = {"tehran", "islamabad"};
	const char *const kinds[] = {"statement", "statement-sign"};
	pl_charter_spec spec = {"border", 1, T0,    states, 2,
				members,  3, kinds, 2,      1u << PL_LANE_ROUTINE, {NULL}};
	pl_charter c;
	assert_int_equal(pl_charter_build(&spec, t, &c), 0);
	assert_int_equal(pl_charter_sign(&c, t, "tehran", &tehran), 0);
	assert_int_equal(pl_charter_sign(&c, t, "islamabad", &islamabad), 0);
	uint8_t *charter = NULL, *status = NULL;
	size_t chlen = 0, stlen = 0;
	assert_int_equal(pl_charter_encode(&c, &charter, &chlen), 0);
	pl_charter_clear(&c);
	/* Tehran has a status list (a change of another official); Islamabad none. */
	pl_status_list sl;
	pl_status_list_init(&sl, "tehran");
	assert_int_equal(
	    pl_status_list_append(&sl, "clerk", PL_STATUS_SUSPENDED, T0 + 500, "test", T0 + 500),
	    0);
	assert_int_equal(pl_status_list_sign(&sl, &tehran, &status, &stlen), 0);
	pl_status_list_clear(&sl);

	json_t *st = json_array();
	if (var && var->tehran_by_clerk)
		json_array_append_new(st, state_entry("tehran", "clerk", &tehran, &clerk_t, false,
						      text_a, status, stlen));
	else
		json_array_append_new(st, state_entry("tehran", "fm-tehran", &tehran, &fm_t, true,
						      text_a, status, stlen));
	if (!var || !var->drop_islamabad)
		json_array_append_new(
		    st, state_entry("islamabad", "fm-islamabad", &islamabad, &fm_i, true,
				    var && var->islamabad_text ? var->islamabad_text : text_a, NULL,
				    0));
	uint8_t h[PL_HASH_BYTES];
	char hex[2 * PL_HASH_BYTES + 1];
	pl_sha256(h, (const uint8_t *)text_a, strlen(text_a));
	pl_hex_encode(hex, h, PL_HASH_BYTES);
	json_t *b = json_pack("{s:s,s:s,s:s,s:i,s:s,s:s,s:s,s:o,s:o,s:[]}", "format",
			      STMT_BUNDLE_FORMAT, "channel", "border", "stmt", "taftan", "v", 2,
			      "title", "Taftan", "text", text_a, "text_sha256", hex, "charter",
			      jb64(charter, chlen), "states", st, "proofs");
	assert_non_null(b);
	free(c1);
	free(c2);
	free(c3);
	free(charter);
	free(status);
	pl_trust_free(t);
	return b;
}

/* Does the report list a failure containing what? */
static bool failed_with(const json_t *report, const char *what)
{
	size_t i;
	json_t *f;
	json_array_foreach(json_object_get(report, "failures"), i, f)
	{
		if (strstr(json_string_value(f), what))
			return true;
	}
	char *dump = json_dumps(json_object_get(report, "failures"), JSON_INDENT(1));
	print_error("no failure mentions '%s' in %s\n", what, dump ? dump : "?");
	free(dump);
	return false;
}

/* Write the fixture (with var) to a new folder; dir receives its path. */
static void write_fixture(const variant *var, char *dir, size_t cap)
{
	json_t *b = make_bundle(var);
	new_dir(dir, cap);
	assert_int_equal(stmt_bundle_write(b, dir, false), 0);
	json_decref(b);
}

static void write_in(const char *dir, const char *name, const void *p, size_t n)
{
	char path[4400];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_int_equal(pl_file_write_atomic(path, p, n, 0644, PL_FILE_REPLACE), 0);
}

static int stock_verify(const char *dir, const char *state)
{
	char pub[4400], sig[4400], txt[4400];
	snprintf(pub, sizeof(pub), "%s/%s.pub", dir, state);
	snprintf(sig, sizeof(sig), "%s/%s.minisig", dir, state);
	snprintf(txt, sizeof(txt), "%s/statement.txt", dir);
	char *argv[] = {"minisign", "-V", "-p", pub, "-m", txt, "-x", sig, NULL};
	return run(argv);
}

static int group_setup(void **state)
{
	if (pl_crypto_init() != 0)
		return -1;
	const char *b = getenv("PARLEY_TEST_TMP");
	if (!b || !*b)
		b = "/tmp";
	if (mkdir(b, 0700) != 0 && errno != EEXIST)
		return -1;
	int n = snprintf(base, sizeof(base), "%s/test_stmt_bundle.XXXXXX", b);
	if (n < 0 || (size_t)n >= sizeof(base) || !mkdtemp(base))
		return -1;
	uint8_t seed[PL_SEED_BYTES];
	pl_keypair *keys[] = {&tehran, &islamabad, &fm_t, &fm_i, &clerk_t};
	for (size_t i = 0; i < 5; i++) {
		memset(seed, (int)(i + 1), sizeof(seed));
		if (pl_key_from_seed(keys[i], seed) != 0)
			return -1;
	}
	return 0;
}

static int group_teardown(void **state)
{
	rm_rf(base);
	return 0;
}

/* ------------------------------------------------------------ bundles */

static void test_good_bundle(void **state)
{
	char dir[4200];
	write_fixture(NULL, dir, sizeof(dir));
	/* the files */
	uint8_t *txt = NULL;
	size_t tl = 0;
	char path[4400];
	snprintf(path, sizeof(path), "%s/statement.txt", dir);
	assert_int_equal(pl_file_read(path, 1 << 20, &txt, &tl), 0);
	assert_int_equal(tl, strlen(text_a));
	assert_memory_equal(txt, text_a, tl);
	free(txt);
	const char *names[] = {"bundle.json", "tehran.minisig", "tehran.pub", "islamabad.minisig",
			       "islamabad.pub"};
	for (size_t i = 0; i < 5; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		assert_int_equal(access(path, R_OK), 0);
	}
	pl_trust *t = roots_both();
	json_t *r = NULL;
	int rc = stmt_bundle_verify(dir, t, &r);
	if (rc) {
		char *d = json_dumps(r, JSON_INDENT(1));
		fail_msg("verify: %s (%s)\n%s", pl_strerror(rc), pl_err_detail(), d ? d : "");
	}
	assert_true(json_is_true(json_object_get(r, "valid")));
	assert_true(json_is_true(json_object_get(r, "adopted")));
	assert_int_equal(json_array_size(json_object_get(r, "failures")), 0);
	assert_int_equal(json_array_size(json_object_get(r, "states")), 2);
	/* each state's entry ran every check */
	size_t i;
	json_t *so;
	json_array_foreach(json_object_get(r, "states"), i, so)
	{
		assert_true(json_is_true(json_object_get(so, "ok")));
		assert_true(json_array_size(json_object_get(so, "checks")) >= 9);
	}
	json_decref(r);
	/* the stock minisign accepts both signatures, and refuses a changed text */
	if (have_program("minisign")) {
		assert_int_equal(stock_verify(dir, "tehran"), 0);
		assert_int_equal(stock_verify(dir, "islamabad"), 0);
		char bad[sizeof(text_a)];
		memcpy(bad, text_a, sizeof(text_a));
		bad[5] ^= 1;
		write_in(dir, "statement.txt", bad, strlen(text_a));
		assert_int_not_equal(stock_verify(dir, "tehran"), 0);
	}
	pl_trust_free(t);
}

static void test_changed_text(void **state)
{
	char dir[4200];
	write_fixture(NULL, dir, sizeof(dir));
	char bad[sizeof(text_a)];
	memcpy(bad, text_a, sizeof(text_a));
	bad[20] = 'X'; /* one byte */
	write_in(dir, "statement.txt", bad, strlen(text_a));
	pl_trust *t = roots_both();
	json_t *r = NULL;
	assert_int_equal(stmt_bundle_verify(dir, t, &r), PL_ERR_CONFLICT);
	assert_non_null(strstr(pl_err_detail(), "statement.txt does not hash to text_sha256"));
	assert_true(failed_with(r, "statement.txt does not hash to text_sha256"));
	assert_true(
	    failed_with(r, "tehran: tehran.minisig: minisign: the signature does not verify"));
	assert_true(failed_with(r, "islamabad: islamabad.minisig"));
	assert_false(json_is_true(json_object_get(r, "valid")));
	assert_false(json_is_true(json_object_get(r, "adopted")));
	json_decref(r);
	/* a text that differs from "text" but was edited in bundle.json too is
	 * still caught by the hash */
	pl_trust_free(t);
}

static void test_missing_state(void **state)
{
	char dir[4200];
	variant var = {.drop_islamabad = true};
	write_fixture(&var, dir, sizeof(dir));
	pl_trust *t = roots_both();
	json_t *r = NULL;
	assert_int_equal(stmt_bundle_verify(dir, t, &r), PL_ERR_UNSIGNED);
	assert_true(failed_with(r, "islamabad has no signature in \"states\""));
	assert_true(failed_with(r, "not adopted: islamabad has not signed"));
	assert_false(json_is_true(json_object_get(r, "adopted")));
	/* Tehran's own signature is still fine, and reported so */
	json_t *so = json_array_get(json_object_get(r, "states"), 0);
	assert_string_equal(json_string_value(json_object_get(so, "state")), "tehran");
	assert_true(json_is_true(json_object_get(so, "ok")));
	json_decref(r);
	pl_trust_free(t);
}

static void test_differing_texts(void **state)
{
	char dir[4200];
	variant var = {.islamabad_text = text_b};
	write_fixture(&var, dir, sizeof(dir));
	pl_trust *t = roots_both();
	json_t *r = NULL;
	assert_int_equal(stmt_bundle_verify(dir, t, &r), PL_ERR_CONFLICT);
	assert_true(failed_with(r, "islamabad signed text sha256 "));
	assert_true(failed_with(r, "not the bundle's text"));
	assert_false(json_is_true(json_object_get(r, "adopted")));
	json_decref(r);
	pl_trust_free(t);
}

static void test_roots(void **state)
{
	char dir[4200];
	write_fixture(NULL, dir, sizeof(dir));
	/* a wrong root for Islamabad */
	pl_trust *t = pl_trust_new();
	assert_non_null(t);
	assert_int_equal(pl_trust_add(t, "tehran", tehran.pk), 0);
	assert_int_equal(pl_trust_add(t, "islamabad", fm_i.pk), 0);
	json_t *r = NULL;
	assert_int_not_equal(stmt_bundle_verify(dir, t, &r), 0);
	assert_true(
	    failed_with(r, "islamabad: the bundle's root key for islamabad is not the one given"));
	assert_true(failed_with(r, "the charter:"));
	assert_false(json_is_true(json_object_get(r, "valid")));
	json_decref(r);
	pl_trust_free(t);
	/* no root for Islamabad */
	t = pl_trust_new();
	assert_non_null(t);
	assert_int_equal(pl_trust_add(t, "tehran", tehran.pk), 0);
	assert_int_not_equal(stmt_bundle_verify(dir, t, &r), 0);
	assert_true(failed_with(r, "no root key for islamabad"));
	json_decref(r);
	pl_trust_free(t);
}

static void test_role_and_files(void **state)
{
	char dir[4200];
	variant var = {.tehran_by_clerk = true};
	write_fixture(&var, dir, sizeof(dir));
	pl_trust *t = roots_both();
	json_t *r = NULL;
	assert_int_equal(stmt_bundle_verify(dir, t, &r), PL_ERR_NOT_MEMBER);
	assert_true(failed_with(r, "clerk does not hold the role \"signatory\""));
	json_decref(r);
	/* a good bundle whose .pub is another key, whose .minisig has another
	 * trusted comment, and whose status list suspends the signer */
	write_fixture(NULL, dir, sizeof(dir));
	size_t n = 0;
	char path[4400];
	uint8_t *pub = NULL, *sig = NULL;
	snprintf(path, sizeof(path), "%s/islamabad.pub", dir);
	assert_int_equal(pl_file_read(path, 4096, &pub, &n), 0);
	write_in(dir, "tehran.pub", pub, n);
	free(pub);
	snprintf(path, sizeof(path), "%s/islamabad.minisig", dir);
	assert_int_equal(pl_file_read(path, 4096, &sig, &n), 0);
	char *tc = strstr((char *)sig, "signer=fm-islamabad");
	assert_non_null(tc);
	tc[7] = 'X';
	write_in(dir, "islamabad.minisig", sig, n);
	free(sig);
	assert_int_not_equal(stmt_bundle_verify(dir, t, &r), 0);
	assert_true(failed_with(r, "tehran: tehran.pub is not the key of fm-tehran's credential"));
	assert_true(failed_with(r, "islamabad: islamabad.minisig: the trusted comment is"));
	assert_true(failed_with(r, "global signature"));
	json_decref(r);
	/* a malformed .minisig and a proof that is not one */
	write_fixture(NULL, dir, sizeof(dir));
	write_in(dir, "tehran.minisig", "untrusted comment: x\n", 21);
	snprintf(path, sizeof(path), "%s/bundle.json", dir);
	json_t *b = json_load_file(path, 0, NULL);
	assert_non_null(b);
	json_array_append_new(json_object_get(b, "proofs"), json_pack("{s:s}", "type", "x"));
	assert_int_equal(json_dump_file(b, path, 0), 0);
	json_decref(b);
	assert_int_not_equal(stmt_bundle_verify(dir, t, &r), 0);
	assert_true(
	    failed_with(r, "tehran: tehran.minisig: minisign signature: line 2 is missing"));
	assert_true(failed_with(r, "proof 1: not a Parley proof of receipt"));
	json_decref(r);
	pl_trust_free(t);
}

static void test_write_refusals(void **state)
{
	char dir[4200];
	json_t *b = make_bundle(NULL);
	new_dir(dir, sizeof(dir));
	assert_int_equal(stmt_bundle_write(b, dir, false), 0);
	/* an existing non-empty folder: refused, then replaced with force */
	assert_int_equal(stmt_bundle_write(b, dir, false), PL_ERR_EXISTS);
	assert_non_null(strstr(pl_err_detail(), "--force"));
	assert_int_equal(stmt_bundle_write(b, dir, true), 0);
	/* an existing empty folder is fine */
	new_dir(dir, sizeof(dir));
	assert_int_equal(mkdir(dir, 0755), 0);
	assert_int_equal(stmt_bundle_write(b, dir, false), 0);
	/* a file name that is not STATE.minisig: nothing is written */
	json_t *st = json_array_get(json_object_get(b, "states"), 1);
	json_object_set_new(st, "minisig", json_string("../evil.minisig"));
	new_dir(dir, sizeof(dir));
	assert_int_equal(stmt_bundle_write(b, dir, false), PL_ERR_MALFORMED);
	assert_int_not_equal(access(dir, F_OK), 0);
	json_object_set_new(st, "minisig", json_string("islamabad.minisig"));
	/* Tehran's credential in Islamabad's entry: it does not open under the
	 * entry's root */
	json_t *t0 = json_array_get(json_object_get(b, "states"), 0);
	json_object_set(st, "credential", json_object_get(t0, "credential"));
	assert_int_equal(stmt_bundle_write(b, dir, false), PL_ERR_UNKNOWN_ROOT);
	assert_non_null(strstr(pl_err_detail(), "states[1] (islamabad)"));
	/* and with Tehran's root too: the credential is not Islamabad's signer's */
	json_object_set(st, "root", json_object_get(t0, "root"));
	json_object_set_new(st, "state", json_string("tehran"));
	json_object_set_new(st, "minisig", json_string("tehran.minisig"));
	json_object_set_new(st, "pubkey", json_string("tehran.pub"));
	assert_int_equal(stmt_bundle_write(b, dir, false), PL_ERR_CONFLICT);
	assert_non_null(strstr(pl_err_detail(), "not fm-islamabad's"));
	/* another format */
	json_object_set_new(b, "format", json_string("parley-statement-bundle/2"));
	assert_int_equal(stmt_bundle_write(b, dir, false), PL_ERR_VERSION);
	json_decref(b);
	/* verify: no folder, not JSON */
	pl_trust *t = roots_both();
	json_t *r = NULL;
	assert_int_equal(stmt_bundle_verify(dir, t, &r), PL_ERR_NOT_FOUND);
	assert_null(r);
	new_dir(dir, sizeof(dir));
	assert_int_equal(mkdir(dir, 0755), 0);
	write_in(dir, "bundle.json", "{", 1);
	assert_int_equal(stmt_bundle_verify(dir, t, &r), PL_ERR_MALFORMED);
	assert_non_null(strstr(pl_err_detail(), "not JSON"));
	pl_trust_free(t);
}

/* ------------------------------------------------------------ diff */

static char *diff_str(const char *a, const char *b, int context, size_t *changes)
{
	pl_buf out = {0};
	assert_int_equal(cli_diff_lines(a, strlen(a), b, strlen(b), context, &out, changes), 0);
	assert_int_equal(pl_buf_append(&out, "", 1), 0);
	char *s = strdup((char *)out.data);
	pl_buf_clear(&out);
	return s;
}

static void test_diff_known(void **state)
{
	size_t ch = 0;
	char *d = diff_str("a\nb\nc\n", "a\nc\nd\n", -1, &ch);
	assert_string_equal(d, " a\n-b\n c\n+d\n");
	assert_int_equal(ch, 2);
	free(d);
	d = diff_str(text_a, text_a, -1, &ch);
	assert_int_equal(ch, 0);
	free(d);
	d = diff_str(text_a, text_b, -1, &ch);
	assert_string_equal(d, " Joint statement.\n"
			       "-The border crossing at Taftan reopens on 1 May.\n"
			       "+The border crossing at Taftan reopens on 2 May.\n");
	free(d);
	/* no newline at the end */
	d = diff_str("a\nb", "a\nb\n", -1, &ch);
	assert_string_equal(d, " a\n-b\n\\ No newline at end of file\n+b\n");
	free(d);
	d = diff_str("", "x\n", -1, &ch);
	assert_string_equal(d, "+x\n");
	free(d);
	/* hunks with one line of context */
	d = diff_str("1\n2\n3\n4\n5\n6\n7\n8\n9\n", "1\n2\nthree\n4\n5\n6\n7\n8\nnine\n", 1, &ch);
	assert_string_equal(d, "@@ -2,3 +2,3 @@\n 2\n-3\n+three\n 4\n"
			       "@@ -8,2 +8,2 @@\n 8\n-9\n+nine\n");
	free(d);
	/* close changes share a hunk */
	d = diff_str("1\n2\n3\n4\n", "x\n2\ny\n4\n", 1, &ch);
	assert_string_equal(d, "@@ -1,4 +1,4 @@\n-1\n+x\n 2\n-3\n+y\n 4\n");
	free(d);
}

/* Length of a longest common subsequence of lines (quadratic; small inputs). */
static size_t lcs_len(const char *const *a, size_t na, const char *const *b, size_t nb)
{
	size_t *row = calloc((nb + 1) * (na + 1), sizeof(size_t));
	assert_non_null(row);
	for (size_t i = 1; i <= na; i++)
		for (size_t j = 1; j <= nb; j++) {
			size_t *c = &row[i * (nb + 1) + j];
			if (strcmp(a[i - 1], b[j - 1]) == 0)
				*c = row[(i - 1) * (nb + 1) + j - 1] + 1;
			else
				*c = row[(i - 1) * (nb + 1) + j] > row[i * (nb + 1) + j - 1]
					 ? row[(i - 1) * (nb + 1) + j]
					 : row[i * (nb + 1) + j - 1];
		}
	size_t r = row[na * (nb + 1) + nb];
	free(row);
	return r;
}

static void test_diff_minimal(void **state)
{
	static const char *const alphabet[] = {"a\n", "b\n", "c\n", "d\n"};
	uint32_t x = 12345;
	for (int round = 0; round < 300; round++) {
		const char *la[40], *lb[40];
		char ta[200] = "", tb[200] = "";
		size_t na = 0, nb = 0;
		x = x * 1103515245u + 12345u;
		na = (x >> 8) % 30;
		x = x * 1103515245u + 12345u;
		nb = (x >> 8) % 30;
		for (size_t i = 0; i < na; i++) {
			x = x * 1103515245u + 12345u;
			la[i] = alphabet[(x >> 16) % 4];
			strncat(ta, la[i], sizeof(ta) - strlen(ta) - 1);
		}
		for (size_t i = 0; i < nb; i++) {
			x = x * 1103515245u + 12345u;
			lb[i] = alphabet[(x >> 16) % 4];
			strncat(tb, lb[i], sizeof(tb) - strlen(tb) - 1);
		}
		size_t ch = 0;
		char *d = diff_str(ta, tb, -1, &ch);
		assert_int_equal(ch, na + nb - 2 * lcs_len(la, na, lb, nb));
		/* the " " and "-" lines rebuild a, the " " and "+" lines b */
		char ra[200] = "", rb[200] = "";
		for (char *p = d; *p;) {
			char *nl = strchr(p, '\n');
			assert_non_null(nl);
			if (*p != '+')
				strncat(ra, p + 1, (size_t)(nl - p));
			if (*p != '-')
				strncat(rb, p + 1, (size_t)(nl - p));
			p = nl + 1;
		}
		assert_string_equal(ra, ta);
		assert_string_equal(rb, tb);
		free(d);
	}
}

static void test_diff_limit(void **state)
{
	size_t n = (CLI_DIFF_MAX_LINES + 1) * 2;
	char *big = malloc(n + 1);
	assert_non_null(big);
	for (size_t i = 0; i < n; i += 2)
		memcpy(big + i, "x\n", 2);
	big[n] = '\0';
	pl_buf out = {0};
	assert_int_equal(pl_buf_append_str(&out, "kept"), 0);
	assert_int_equal(cli_diff_lines("a\n", 2, big, n, -1, &out, NULL), PL_ERR_LIMIT);
	assert_non_null(strstr(pl_err_detail(), "new text has 20001 lines"));
	assert_int_equal(out.len, 4);
	/* exactly the limit, against a completely different text: done, and quick */
	size_t m = CLI_DIFF_MAX_LINES * 2;
	char *other = malloc(m);
	assert_non_null(other);
	for (size_t i = 0; i < m; i += 2)
		memcpy(other + i, "y\n", 2);
	size_t ch = 0;
	pl_buf_reset(&out);
	assert_int_equal(cli_diff_lines(big, m, other, m, 0, &out, &ch), 0);
	assert_int_equal(ch, 2 * CLI_DIFF_MAX_LINES);
	/* a hard case for the search: every line occurs in both texts */
	for (size_t i = 0; i < m; i += 2)
		memcpy(other + i, (i / 2) % 3 ? "x\n" : "y\n", 2);
	for (size_t i = 0; i < m; i += 2)
		memcpy(big + i, (i / 2) % 5 ? "y\n" : "x\n", 2);
	pl_buf_reset(&out);
	assert_int_equal(cli_diff_lines(big, m, other, m, 0, &out, &ch), 0);
	assert_true(ch > 0);
	pl_buf_clear(&out);
	free(other);
	free(big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_good_bundle),    cmocka_unit_test(test_changed_text),
	    cmocka_unit_test(test_missing_state),  cmocka_unit_test(test_differing_texts),
	    cmocka_unit_test(test_roots),          cmocka_unit_test(test_role_and_files),
	    cmocka_unit_test(test_write_refusals), cmocka_unit_test(test_diff_known),
	    cmocka_unit_test(test_diff_minimal),   cmocka_unit_test(test_diff_limit),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
