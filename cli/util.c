/* SPDX-License-Identifier: Apache-2.0 */
/*
 * CLI plumbing: errors and exit codes, paths in the home folder,
 * passphrases, the registry store, trust and status loading, output.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "cli.h"
#include "parley/err.h"
#include "parley/file.h"
#include "parley/time.h"

/* ---------------------------------------------------------------- errors */

int cli_fail(int exit, const char *fmt, ...)
{
	va_list ap;
	fputs("parley: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return exit;
}

int cli_exit_for(int code)
{
	switch (code) {
	case PL_OK:
		return CLI_OK;
	case PL_ERR_INVALID:
		return CLI_EXIT_USAGE;
	case PL_ERR_NOT_FOUND:
		return CLI_EXIT_NOTFOUND;
	case PL_ERR_EXISTS:
		return CLI_EXIT_EXISTS;
	case PL_ERR_BAD_SIGNATURE:
	case PL_ERR_PASSPHRASE:
	case PL_ERR_FINGERPRINT:
	case PL_ERR_UNKNOWN_ROOT:
	case PL_ERR_NOT_YET_VALID:
	case PL_ERR_EXPIRED:
	case PL_ERR_SUSPENDED:
	case PL_ERR_RECALLED:
	case PL_ERR_REVOKED:
	case PL_ERR_STALE:
	case PL_ERR_CONFLICT:
	case PL_ERR_TRANSITION:
	case PL_ERR_WRONG_STATE:
	case PL_ERR_MALFORMED:
	case PL_ERR_NONCANONICAL:
	case PL_ERR_TYPE:
	case PL_ERR_VERSION:
		return CLI_EXIT_REFUSED;
	default:
		return CLI_EXIT_FAIL;
	}
}

int cli_err(int code, const char *what)
{
	const char *d = pl_err_detail();
	if (d && *d)
		return cli_fail(cli_exit_for(code), "%s: %s", what, d);
	return cli_fail(cli_exit_for(code), "%s: %s", what, pl_strerror(code));
}

void cli_print_cmd_help(const cli_cmd *cmd)
{
	/* Top-level commands (send, inbox, ...) have no group. */
	const char *g = cmd->group ? cmd->group : "", *sp = cmd->group ? " " : "";
	printf("usage: parley %s%s%s %s\n\n%s.\n", g, sp, cmd->name, cmd->args, cmd->summary);
	if (cmd->help && *cmd->help)
		printf("\nOptions:\n%s", cmd->help);
	printf("\nGlobal options (--home, --json, --passphrase-file, --root-key, --node, --as,\n"
	       "--key, --state): `parley --help`.\n");
}

int cli_usage(const cli_cmd *cmd, const char *fmt, ...)
{
	va_list ap;
	fputs("parley: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (cmd) {
		const char *g = cmd->group ? cmd->group : "", *sp = cmd->group ? " " : "";
		fprintf(stderr, "usage: parley %s%s%s %s\n(see `parley %s%s%s --help`)\n", g, sp,
			cmd->name, cmd->args, g, sp, cmd->name);
	}
	return CLI_EXIT_USAGE;
}

int cli_check_channel_kind(const char *ch, const char *kind)
{
	if (!ch)
		return cli_usage(cli_current, "--channel is required");
	if (!pl_name_is_valid(ch))
		return cli_usage(cli_current, "'%s' is not a valid channel name", ch);
	if (!pl_name_is_valid(kind))
		return cli_usage(cli_current, "'%s' is not a valid kind: use a-z 0-9 . _ -", kind);
	return 0;
}

int cli_parse_precedence(const char *s, pl_lane *lane)
{
	if (pl_lane_parse(s, lane) == 0)
		return 0;
	return cli_usage(cli_current,
			 "--precedence must be FLASH, IMMEDIATE, PRIORITY or ROUTINE, not '%s'", s);
}

/* ---------------------------------------------------------------- options */

int cli_next_opt(int argc, char **argv, const struct option *opts)
{
	opterr = 0;
	int c = getopt_long(argc, argv, ":", opts, NULL);
	if (c == ':') {
		cli_usage(cli_current, "option %s needs a value", argv[optind - 1]);
		return '?';
	}
	if (c == '?') {
		cli_usage(cli_current, "unknown option %s", argv[optind - 1]);
		return '?';
	}
	return c;
}

int cli_no_args(int argc, char **argv)
{
	static const struct option opts[] = {{NULL, 0, NULL, 0}};
	if (cli_next_opt(argc, argv, opts) != -1)
		return CLI_EXIT_USAGE;
	if (optind < argc)
		return cli_usage(cli_current, "unexpected argument '%s'", argv[optind]);
	return 0;
}

int cli_parse_days(const char *s, int64_t *days)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || *end || end == s || v < 1 || v > 36500)
		return cli_usage(cli_current,
				 "--days must be a whole number from 1 to 36500, not '%s'", s);
	*days = v;
	return 0;
}

int cli_parse_time(const cli_ctx *ctx, const char *opt, const char *s, int64_t *out)
{
	if (pl_time_parse(s, ctx->now, out) != 0)
		return cli_usage(cli_current, "%s: %s", opt, pl_err_detail());
	return 0;
}

/* ---------------------------------------------------------------- home */

int cli_path(char *out, size_t cap, const cli_ctx *ctx, const char *fmt, ...)
{
	char rel[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(rel, sizeof(rel), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(rel))
		return cli_fail(CLI_EXIT_USAGE, "name too long");
	n = snprintf(out, cap, "%s/%s", ctx->home, rel);
	if (n < 0 || (size_t)n >= cap)
		return cli_fail(CLI_EXIT_USAGE, "path too long in home folder %s", ctx->home);
	return 0;
}

int cli_open_home(cli_ctx *ctx)
{
	if (ctx->store)
		return 0;
	char db[4096];
	int rc = cli_path(db, sizeof(db), ctx, "state.db");
	if (rc)
		return rc;
	struct stat st;
	if (stat(db, &st) != 0)
		return cli_fail(CLI_EXIT_NOTFOUND,
				"no state in %s (create one with `parley state init --name NAME`, "
				"or point --home / PARLEY_HOME at it)",
				ctx->home);
	rc = pl_store_open(db, 0, NULL, &ctx->store);
	if (rc)
		return cli_err(rc, db);
	uint8_t *rec = NULL;
	size_t len = 0;
	rc = pl_store_get(ctx->store, KIND_META, "state", &rec, &len);
	if (rc)
		return cli_err(rc, "reading the state record");
	rc = pl_state_rec_open(rec, len, &ctx->self);
	free(rec);
	if (rc)
		return cli_err(rc, "the stored state record");
	return 0;
}

/* ---------------------------------------------------------------- passphrases */

static int read_tty_line(const char *prompt, char *buf, size_t cap)
{
	int fd = open("/dev/tty", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -1;
	struct termios old, quiet;
	bool restore = tcgetattr(fd, &old) == 0;
	if (restore) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
		quiet.c_lflag |= ICANON;
		tcsetattr(fd, TCSAFLUSH, &quiet);
	}
	if (write(fd, prompt, strlen(prompt)) < 0) {
		/* a prompt that cannot be shown is not fatal */
	}
	size_t n = 0;
	int rc = 0;
	for (;;) {
		char c;
		ssize_t r = read(fd, &c, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0 || c == '\n')
			break;
		if (n + 1 >= cap) {
			rc = -2;
			continue;
		}
		buf[n++] = c;
	}
	buf[n] = '\0';
	if (restore)
		tcsetattr(fd, TCSAFLUSH, &old);
	if (write(fd, "\n", 1) < 0) {
		/* ignored, as above */
	}
	close(fd);
	return rc;
}

int cli_passphrase(const cli_ctx *ctx, const char *prompt, bool confirm, char *buf, size_t cap)
{
	if (ctx->passfile) {
		uint8_t *data = NULL;
		size_t len = 0;
		int rc = pl_file_read(ctx->passfile, 4096, &data, &len);
		if (rc)
			return cli_err(rc, "passphrase file");
		while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r'))
			len--;
		if (len == 0 || len >= cap) {
			pl_wipe(data, len);
			free(data);
			return cli_fail(CLI_EXIT_USAGE, "passphrase file %s: empty or too long",
					ctx->passfile);
		}
		memcpy(buf, data, len);
		buf[len] = '\0';
		pl_wipe(data, len);
		free(data);
		return 0;
	}
	const char *env = getenv("PARLEY_PASSPHRASE");
	if (env && *env) {
		size_t n = strlen(env);
		if (n >= cap)
			return cli_fail(CLI_EXIT_USAGE, "PARLEY_PASSPHRASE is too long");
		memcpy(buf, env, n + 1);
		return 0;
	}
	if (!isatty(STDIN_FILENO) && access("/dev/tty", R_OK | W_OK) != 0)
		return cli_fail(CLI_EXIT_USAGE,
				"a passphrase is needed: use --passphrase-file FILE or set "
				"PARLEY_PASSPHRASE (no terminal to ask on)");
	int rc = read_tty_line(prompt, buf, cap);
	if (rc == -1)
		return cli_fail(CLI_EXIT_USAGE,
				"a passphrase is needed: use --passphrase-file FILE or set "
				"PARLEY_PASSPHRASE (no terminal to ask on)");
	if (rc == -2 || buf[0] == '\0') {
		pl_wipe(buf, cap);
		return cli_fail(CLI_EXIT_USAGE, "empty or too long passphrase");
	}
	if (confirm) {
		char again[256];
		rc = read_tty_line("Repeat the passphrase: ", again, sizeof(again));
		bool same = rc == 0 && strcmp(again, buf) == 0;
		pl_wipe(again, sizeof(again));
		if (!same) {
			pl_wipe(buf, cap);
			return cli_fail(CLI_EXIT_USAGE, "the passphrases differ");
		}
	}
	return 0;
}

int cli_unlock_root(cli_ctx *ctx, pl_keypair *root)
{
	char path[4096];
	int rc = 0;
	if (ctx->root_key) {
		if (snprintf(path, sizeof(path), "%s", ctx->root_key) >= (int)sizeof(path))
			return cli_fail(CLI_EXIT_USAGE, "root key path too long");
	} else {
		rc = cli_path(path, sizeof(path), ctx, "root.key");
		if (rc)
			return rc;
	}
	bool sealed = true;
	rc = pl_keyfile_is_sealed(path, &sealed);
	if (rc)
		return cli_err(rc, "root key");
	char pass[256] = "";
	if (sealed) {
		rc = cli_passphrase(ctx, "Root key passphrase: ", false, pass, sizeof(pass));
		if (rc)
			return rc;
	}
	rc = pl_keyfile_read(path, sealed ? pass : NULL, root, NULL, 0);
	pl_wipe(pass, sizeof(pass));
	if (rc == PL_ERR_PASSPHRASE)
		return cli_fail(CLI_EXIT_REFUSED, "root key %s: wrong passphrase", path);
	if (rc)
		return cli_err(rc, "root key");
	if (ctx->store && !pl_ct_equal(root->pk, ctx->self.pk, PL_PK_BYTES)) {
		pl_key_wipe(root);
		return cli_fail(CLI_EXIT_REFUSED, "root key %s is not the root of state %s", path,
				ctx->self.name);
	}
	return 0;
}

/* ---------------------------------------------------------------- trust */

struct trust_walk {
	pl_trust *t;
	int rc;
};

static int add_peer_cb(void *vctx, const char *key, const uint8_t *val, size_t len)
{
	struct trust_walk *w = vctx;
	pl_state_rec rec;
	int rc = pl_state_rec_open(val, len, &rec);
	if (!rc)
		rc = pl_trust_add(w->t, rec.name, rec.pk);
	if (rc)
		return cli_err(rc, key);
	return 0;
}

int cli_load_trust(cli_ctx *ctx, pl_trust **out)
{
	int rc = cli_open_home(ctx);
	if (rc)
		return rc;
	pl_trust *t = pl_trust_new();
	if (!t)
		return cli_fail(CLI_EXIT_FAIL, "out of memory");
	rc = pl_trust_add(t, ctx->self.name, ctx->self.pk);
	if (rc) {
		pl_trust_free(t);
		return cli_err(rc, "own root");
	}
	struct trust_walk w = {t, 0};
	rc = pl_store_list(ctx->store, KIND_PEER, add_peer_cb, &w);
	if (rc) {
		pl_trust_free(t);
		return rc > 0 ? rc : cli_err(rc, "reading pinned peers");
	}
	*out = t;
	return 0;
}

int cli_load_status(cli_ctx *ctx, const pl_trust *t, const char *state, pl_status_list *out)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc = pl_store_get(ctx->store, KIND_STATUS, state, &buf, &len);
	if (rc == PL_ERR_NOT_FOUND) {
		pl_status_list_init(out, state);
		return 0;
	}
	if (rc)
		return cli_err(rc, "reading the status list");
	rc = pl_status_list_open(buf, len, t, out);
	free(buf);
	if (rc)
		return cli_err(rc, "the stored status list");
	return 0;
}

/* ---------------------------------------------------------------- output */

int cli_print_json(json_t *j)
{
	if (!j)
		return cli_fail(CLI_EXIT_FAIL, "out of memory");
	int rc = json_dumpf(j, stdout, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(j);
	fputc('\n', stdout);
	return rc == 0 ? 0 : cli_fail(CLI_EXIT_FAIL, "cannot write JSON");
}

void cli_b64(char *out, const uint8_t *p, size_t n)
{
	pl_b64_encode(out, p, n);
}

struct cli_table {
	size_t ncols, nrows, cap;
	char **cells; /* nrows * ncols, row 0 = headers */
};

cli_table *cli_table_new(size_t ncols, const char *const *headers)
{
	cli_table *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->ncols = ncols;
	if (cli_table_add(t, headers) != 0) {
		cli_table_free(t);
		return NULL;
	}
	return t;
}

int cli_table_add(cli_table *t, const char *const *cells)
{
	if (t->nrows == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 8;
		char **c = realloc(t->cells, cap * t->ncols * sizeof(char *));
		if (!c)
			return -1;
		t->cells = c;
		t->cap = cap;
	}
	for (size_t i = 0; i < t->ncols; i++) {
		char *s = strdup(cells[i] ? cells[i] : "");
		if (!s) {
			for (size_t j = 0; j < i; j++)
				free(t->cells[t->nrows * t->ncols + j]);
			return -1;
		}
		t->cells[t->nrows * t->ncols + i] = s;
	}
	t->nrows++;
	return 0;
}

void cli_table_print(const cli_table *t)
{
	size_t w[16] = {0};
	for (size_t r = 0; r < t->nrows; r++)
		for (size_t c = 0; c < t->ncols && c < 16; c++) {
			size_t n = strlen(t->cells[r * t->ncols + c]);
			if (n > w[c])
				w[c] = n;
		}
	for (size_t r = 0; r < t->nrows; r++) {
		for (size_t c = 0; c < t->ncols; c++) {
			const char *s = t->cells[r * t->ncols + c];
			if (c + 1 == t->ncols)
				printf("%s\n", s);
			else
				printf("%-*s  ", (int)w[c < 16 ? c : 15], s);
		}
	}
}

void cli_table_free(cli_table *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t);
}

int cli_write_public(const char *dir, const char *path, const uint8_t *buf, size_t len)
{
	if (mkdir(dir, 0755) != 0 && errno != EEXIST)
		return pl_err_fail(PL_ERR_IO, "cannot create folder %s: %s", dir, strerror(errno));
	return pl_file_write_atomic(path, buf, len, 0644, PL_FILE_REPLACE);
}

int cli_read_file(const char *path, size_t max, uint8_t **out, size_t *len)
{
	int rc = pl_file_read(path, max, out, len);
	if (rc)
		return cli_fail(cli_exit_for(rc), "cannot read %s",
				*pl_err_detail() ? pl_err_detail() : path);
	return 0;
}
