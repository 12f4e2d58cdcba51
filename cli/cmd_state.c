/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `parley state ...`, `parley node ...` and `parley key ...`: creating a
 * state's root and registry, its node records, and officials' own keys.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "parley/err.h"
#include "parley/file.h"
#include "parley/time.h"

static int parse_kdf(const char *s, unsigned *flags)
{
	if (strcmp(s, "moderate") == 0)
		return 0;
	if (strcmp(s, "interactive") == 0) {
		*flags |= PL_KEYFILE_FAST_KDF;
		return 0;
	}
	return cli_usage(cli_current, "--kdf must be moderate or interactive, not '%s'", s);
}

static int ensure_dir(const char *path)
{
	if (mkdir(path, 0700) == 0 || errno == EEXIST)
		return 0;
	return cli_fail(CLI_EXIT_FAIL, "cannot create folder %s: %s", path, strerror(errno));
}

/* ---------------------------------------------------------------- state init */

static void remove_db(const char *db)
{
	char p[4200];
	unlink(db);
	snprintf(p, sizeof(p), "%s-wal", db);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", db);
	unlink(p);
}

int cmd_state_init(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {{"name", required_argument, NULL, 'n'},
					     {"kdf", required_argument, NULL, 'k'},
					     {"force", no_argument, NULL, 'f'},
					     {NULL, 0, NULL, 0}};
	const char *name = NULL;
	unsigned kflags = 0;
	bool force = false;
	int c;
	while ((c = cli_next_opt(argc, argv, opts)) != -1) {
		if (c == 'n')
			name = optarg;
		else if (c == 'k') {
			if (parse_kdf(optarg, &kflags))
				return CLI_EXIT_USAGE;
		} else if (c == 'f')
			force = true;
		else
			return CLI_EXIT_USAGE;
	}
	if (optind < argc)
		return cli_usage(cli_current, "unexpected argument '%s'", argv[optind]);
	if (!name)
		return cli_usage(cli_current, "--name is required");
	if (!pl_name_is_valid(name))
		return cli_usage(cli_current,
				 "state name '%s' is not valid: use 1-63 of a-z 0-9 . _ - "
				 "starting with a letter or digit",
				 name);
	char db[4096], key[4096], pub[4096];
	int rc = ensure_dir(ctx->home);
	if (!rc)
		rc = cli_path(db, sizeof(db), ctx, "state.db");
	if (!rc)
		rc = cli_path(key, sizeof(key), ctx, "root.key");
	if (!rc)
		rc = cli_path(pub, sizeof(pub), ctx, "state.pub");
	if (rc)
		return rc;
	if (!force && (access(key, F_OK) == 0 || access(db, F_OK) == 0))
		return cli_fail(CLI_EXIT_EXISTS,
				"a state already exists in %s (use --force to replace it and lose "
				"the old root key)",
				ctx->home);
	char pass[256];
	rc = cli_passphrase(ctx, "New root key passphrase: ", true, pass, sizeof(pass));
	if (rc)
		return rc;
	pl_keypair root;
	rc = pl_key_generate(&root);
	if (rc) {
		pl_wipe(pass, sizeof(pass));
		return cli_err(rc, "generating the root key");
	}
	pl_state_rec rec = {0};
	memcpy(rec.name, name, strlen(name) + 1);
	memcpy(rec.pk, root.pk, PL_PK_BYTES);
	rec.created = ctx->now;
	uint8_t *srec = NULL;
	size_t slen = 0;
	rc = pl_state_rec_sign(&rec, &root, &srec, &slen);
	if (rc) {
		rc = cli_err(rc, "signing the state record");
		goto out;
	}
	if (force)
		remove_db(db);
	rc = pl_store_open(db, PL_STORE_CREATE, NULL, &ctx->store);
	if (!rc)
		rc = pl_store_put(ctx->store, KIND_META, "state", srec, slen, PL_STORE_NO_REPLACE);
	if (rc) {
		rc = cli_err(rc, db);
		pl_store_close(ctx->store);
		remove_db(db);
		goto out;
	}
	rc = pl_keyfile_write(key, &root, name, pass, kflags | (force ? PL_KEYFILE_FORCE : 0));
	if (!rc)
		rc = pl_file_write_atomic(pub, srec, slen, 0644, PL_FILE_REPLACE);
	if (rc) {
		rc = cli_err(rc, "writing the root key");
		pl_store_close(ctx->store);
		remove_db(db);
		goto out;
	}
	char fpr[PL_FPR_LEN];
	pl_fingerprint(fpr, name, root.pk);
	if (ctx->json) {
		char b64[64];
		cli_b64(b64, root.pk, PL_PK_BYTES);
		rc = cli_print_json(json_pack("{s:s,s:s,s:s,s:s}", "state", name, "root_key", b64,
					      "fingerprint", fpr, "home", ctx->home));
	} else {
		printf("created state %s in %s\n", name, ctx->home);
		printf("  root key     %s (sealed with your passphrase; keep it offline)\n", key);
		printf("  state record %s (give this to peer states)\n", pub);
		printf("  fingerprint  %s\n", fpr);
	}
out:
	pl_key_wipe(&root);
	pl_wipe(pass, sizeof(pass));
	free(srec);
	return rc;
}

/* ---------------------------------------------------------------- state show */

int cmd_state_show(cli_ctx *ctx, int argc, char **argv)
{
	int rc = cli_no_args(argc, argv);
	if (!rc)
		rc = cli_open_home(ctx);
	if (rc)
		return rc;
	char fpr[PL_FPR_LEN], b64[64], kid[2 * PL_KEYID_BYTES + 1], created[PL_TIME_LEN];
	uint8_t id[PL_KEYID_BYTES];
	pl_fingerprint(fpr, ctx->self.name, ctx->self.pk);
	cli_b64(b64, ctx->self.pk, PL_PK_BYTES);
	pl_key_id(id, ctx->self.pk);
	pl_hex_encode(kid, id, sizeof(id));
	pl_time_format(created, ctx->self.created);
	if (ctx->json)
		return cli_print_json(json_pack("{s:s,s:s,s:s,s:s,s:s}", "state", ctx->self.name,
						"root_key", b64, "key_id", kid, "fingerprint", fpr,
						"created", created));
	printf("state        %s\nroot key     %s\nkey id       %s\nfingerprint  %s\ncreated      %s\n",
	       ctx->self.name, b64, kid, fpr, created);
	return 0;
}

int cmd_state_fingerprint(cli_ctx *ctx, int argc, char **argv)
{
	int rc = cli_no_args(argc, argv);
	if (!rc)
		rc = cli_open_home(ctx);
	if (rc)
		return rc;
	char fpr[PL_FPR_LEN];
	pl_fingerprint(fpr, ctx->self.name, ctx->self.pk);
	if (ctx->json)
		return cli_print_json(
			json_pack("{s:s,s:s}", "state", ctx->self.name, "fingerprint", fpr));
	printf("%s\n", fpr);
	return 0;
}

int cmd_state_export(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {{"out", required_argument, NULL, 'o'},
					     {NULL, 0, NULL, 0}};
	const char *out = NULL;
	int c;
	while ((c = cli_next_opt(argc, argv, opts)) != -1) {
		if (c == 'o')
			out = optarg;
		else
			return CLI_EXIT_USAGE;
	}
	if (optind < argc)
		return cli_usage(cli_current, "unexpected argument '%s'", argv[optind]);
	int rc = cli_open_home(ctx);
	if (rc)
		return rc;
	uint8_t *rec = NULL;
	size_t len = 0;
	rc = pl_store_get(ctx->store, KIND_META, "state", &rec, &len);
	if (rc)
		return cli_err(rc, "reading the state record");
	if (out) {
		rc = pl_file_write_atomic(out, rec, len, 0644, PL_FILE_REPLACE);
		if (rc)
			rc = cli_err(rc, "export");
		else if (!ctx->json)
			fprintf(stderr, "wrote the state record of %s to %s\n", ctx->self.name, out);
	} else if (isatty(STDOUT_FILENO)) {
		rc = cli_fail(CLI_EXIT_USAGE,
			      "the state record is binary: use --out FILE or redirect the output");
	} else if (fwrite(rec, 1, len, stdout) != len) {
		rc = cli_fail(CLI_EXIT_FAIL, "cannot write to standard output");
	}
	free(rec);
	return rc;
}

/* ---------------------------------------------------------------- node */

int cmd_node_init(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {{"name", required_argument, NULL, 'n'},
					     {"addr", required_argument, NULL, 'a'},
					     {"days", required_argument, NULL, 'd'},
					     {"force", no_argument, NULL, 'f'},
					     {NULL, 0, NULL, 0}};
	const char *name = NULL, *addr = NULL;
	int64_t days = 365;
	bool force = false;
	int c;
	while ((c = cli_next_opt(argc, argv, opts)) != -1) {
		if (c == 'n')
			name = optarg;
		else if (c == 'a')
			addr = optarg;
		else if (c == 'd') {
			if (cli_parse_days(optarg, &days))
				return CLI_EXIT_USAGE;
		} else if (c == 'f')
			force = true;
		else
			return CLI_EXIT_USAGE;
	}
	if (optind < argc)
		return cli_usage(cli_current, "unexpected argument '%s'", argv[optind]);
	if (!name || !addr)
		return cli_usage(cli_current, "--name and --addr are required");
	if (!pl_name_is_valid(name))
		return cli_usage(cli_current, "node name '%s' is not valid", name);
	const char *colon = strrchr(addr, ':');
	if (!colon || colon == addr || !colon[1] || strlen(addr) > PL_TEXT_MAX)
		return cli_usage(cli_current, "--addr must be HOST:PORT, not '%s'", addr);
	int rc = cli_open_home(ctx);
	if (rc)
		return rc;
	char dir[4096], keyp[4096], recp[4096];
	if (cli_path(dir, sizeof(dir), ctx, "nodes") || cli_path(keyp, sizeof(keyp), ctx,
								  "nodes/%s.key", name) ||
	    cli_path(recp, sizeof(recp), ctx, "nodes/%s.rec", name) || ensure_dir(dir))
		return CLI_EXIT_FAIL;
	if (!force && access(keyp, F_OK) == 0)
		return cli_fail(CLI_EXIT_EXISTS, "node %s already has a key in %s (use --force)",
				name, keyp);
	pl_keypair root, node;
	rc = cli_unlock_root(ctx, &root);
	if (rc)
		return rc;
	rc = pl_key_generate(&node);
	if (rc) {
		pl_key_wipe(&root);
		return cli_err(rc, "generating the node key");
	}
	pl_node_rec rec = {0};
	memcpy(rec.state, ctx->self.name, strlen(ctx->self.name) + 1);
	memcpy(rec.name, name, strlen(name) + 1);
	memcpy(rec.addr, addr, strlen(addr) + 1);
	memcpy(rec.pk, node.pk, PL_PK_BYTES);
	rec.not_before = ctx->now;
	rec.not_after = ctx->now + days * 86400;
	uint8_t *buf = NULL;
	size_t len = 0;
	rc = pl_node_rec_sign(&rec, &root, &buf, &len);
	pl_key_wipe(&root);
	if (rc) {
		rc = cli_err(rc, "signing the node record");
		goto out;
	}
	rc = pl_keyfile_write(keyp, &node, name, NULL,
			      PL_KEYFILE_PLAIN | (force ? PL_KEYFILE_FORCE : 0));
	if (!rc)
		rc = pl_file_write_atomic(recp, buf, len, 0644, PL_FILE_REPLACE);
	if (!rc)
		rc = pl_store_put(ctx->store, KIND_NODE, name, buf, len, 0);
	if (rc) {
		rc = cli_err(rc, "saving the node");
		goto out;
	}
	char b64[64], until[PL_TIME_LEN];
	cli_b64(b64, node.pk, PL_PK_BYTES);
	pl_time_format(until, rec.not_after);
	if (ctx->json)
		rc = cli_print_json(json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "node", name, "state",
					      rec.state, "addr", addr, "node_key", b64, "key_file",
					      keyp, "valid_until", until));
	else
		printf("created node %s of %s at %s\n  node key     %s (daemon key, mode 0600)\n"
		       "  node record  %s\n  valid until  %s\n",
		       name, rec.state, addr, keyp, recp, until);
out:
	pl_key_wipe(&node);
	free(buf);
	return rc;
}

static int list_node_cb(void *vt, const char *key, const uint8_t *val, size_t len)
{
	void **a = vt;
	cli_ctx *ctx = a[0];
	pl_trust *t = a[1];
	pl_node_rec rec;
	int rc = pl_node_rec_open(val, len, t, &rec);
	if (rc)
		return cli_err(rc, key);
	char until[PL_TIME_LEN], b64[64];
	pl_time_format(until, rec.not_after);
	cli_b64(b64, rec.pk, PL_PK_BYTES);
	const char *valid = pl_node_rec_check_time(&rec, ctx->now) == 0 ? "valid" : "not valid now";
	if (ctx->json)
		return json_array_append_new(a[2], json_pack("{s:s,s:s,s:s,s:s,s:s}", "node",
							     rec.name, "addr", rec.addr, "node_key",
							     b64, "valid_until", until, "validity",
							     valid)) == 0
			       ? 0
			       : CLI_EXIT_FAIL;
	const char *cells[] = {rec.name, rec.addr, until, valid};
	return cli_table_add(a[3], cells) == 0 ? 0 : CLI_EXIT_FAIL;
}

int cmd_node_list(cli_ctx *ctx, int argc, char **argv)
{
	int rc = cli_no_args(argc, argv);
	pl_trust *t = NULL;
	if (!rc)
		rc = cli_load_trust(ctx, &t);
	if (rc)
		return rc;
	static const char *const headers[] = {"NODE", "ADDRESS", "VALID UNTIL", "VALIDITY"};
	json_t *arr = json_array();
	cli_table *tab = cli_table_new(4, headers);
	void *a[] = {ctx, t, arr, tab};
	rc = (arr && tab) ? pl_store_list(ctx->store, KIND_NODE, list_node_cb, a) : CLI_EXIT_FAIL;
	if (rc < 0)
		rc = cli_err(rc, "listing nodes");
	if (!rc) {
		if (ctx->json) {
			rc = cli_print_json(arr);
			arr = NULL;
		} else {
			cli_table_print(tab);
		}
	}
	json_decref(arr);
	cli_table_free(tab);
	pl_trust_free(t);
	return rc;
}

/* ---------------------------------------------------------------- key */

int cmd_key_new(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {{"out", required_argument, NULL, 'o'},
					     {"label", required_argument, NULL, 'l'},
					     {"kdf", required_argument, NULL, 'k'},
					     {"force", no_argument, NULL, 'f'},
					     {NULL, 0, NULL, 0}};
	const char *out = NULL, *label = NULL;
	unsigned flags = 0;
	int c;
	while ((c = cli_next_opt(argc, argv, opts)) != -1) {
		if (c == 'o')
			out = optarg;
		else if (c == 'l')
			label = optarg;
		else if (c == 'k') {
			if (parse_kdf(optarg, &flags))
				return CLI_EXIT_USAGE;
		} else if (c == 'f')
			flags |= PL_KEYFILE_FORCE;
		else
			return CLI_EXIT_USAGE;
	}
	if (optind < argc)
		return cli_usage(cli_current, "unexpected argument '%s'", argv[optind]);
	if (!out)
		return cli_usage(cli_current, "--out is required");
	char deflabel[PL_NAME_MAX + 1];
	if (!label) {
		const char *base = strrchr(out, '/');
		base = base ? base + 1 : out;
		size_t n = strcspn(base, ".");
		if (n == 0 || n > PL_NAME_MAX)
			n = 3, base = "key";
		memcpy(deflabel, base, n);
		deflabel[n] = '\0';
		for (size_t i = 0; i < n; i++)
			if ((unsigned char)deflabel[i] <= ' ' || (unsigned char)deflabel[i] >= 0x7f)
				deflabel[i] = '_';
		label = deflabel;
	}
	if (!(flags & PL_KEYFILE_FORCE) && access(out, F_OK) == 0)
		return cli_fail(CLI_EXIT_EXISTS, "%s already exists (use --force to replace it)",
				out);
	char pass[256];
	int rc = cli_passphrase(ctx, "New key passphrase: ", true, pass, sizeof(pass));
	if (rc)
		return rc;
	pl_keypair kp;
	rc = pl_key_generate(&kp);
	if (!rc)
		rc = pl_keyfile_write(out, &kp, label, pass, flags);
	pl_wipe(pass, sizeof(pass));
	if (rc) {
		pl_key_wipe(&kp);
		return cli_err(rc, out);
	}
	char b64[64];
	cli_b64(b64, kp.pk, PL_PK_BYTES);
	pl_key_wipe(&kp);
	if (ctx->json)
		return cli_print_json(json_pack("{s:s,s:s,s:s}", "file", out, "label", label,
						"public_key", b64));
	printf("created key %s (%s)\npublic key: %s\n", out, label, b64);
	return 0;
}

/* The public key of a key file, without the passphrase: the file keeps it
 * in the clear, checked against the seed on every unsealing. */
int cmd_key_show(cli_ctx *ctx, int argc, char **argv)
{
	if (argc != 2 || argv[1][0] == '-')
		return cli_usage(cli_current, "give exactly one key file");
	uint8_t pk[PL_PK_BYTES];
	char label[PL_NAME_MAX + 1] = "";
	bool sealed = false;
	int rc = pl_keyfile_public(argv[1], pk, label, sizeof(label));
	if (!rc)
		rc = pl_keyfile_is_sealed(argv[1], &sealed);
	if (rc)
		return cli_fail(cli_exit_for(rc), "%s: %s", argv[1],
				*pl_err_detail() ? pl_err_detail() : pl_strerror(rc));
	char b64[64];
	cli_b64(b64, pk, PL_PK_BYTES);
	if (ctx->json)
		return cli_print_json(json_pack("{s:s,s:s,s:b}", "label", label, "public_key", b64,
						"sealed", sealed));
	printf("%s\n", b64);
	return 0;
}
