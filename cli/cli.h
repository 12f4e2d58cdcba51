/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared plumbing of the `parley` command line: the command table, the
 * context every command receives, exit codes, error reporting, passphrase
 * input, the state home (its store and files) and output helpers.
 *
 * Commands live in cmd_<group>.c and are listed in the table in main.c;
 * `--help` at every level is generated from that table.
 */
#ifndef PARLEY_CLI_H
#define PARLEY_CLI_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "parley/crypto.h"
#include "parley/channel.h"
#include "parley/identity.h"
#include "parley/store.h"

/* Exit codes (docs/cli.md lists them). */
enum {
	CLI_OK = 0,
	CLI_EXIT_FAIL = 1,    /* could not do it: I/O, store, internal */
	CLI_EXIT_USAGE = 2,   /* bad command line */
	CLI_EXIT_REFUSED = 3, /* a check refused: signature, passphrase, fingerprint, validity, status */
	CLI_EXIT_NOTFOUND = 4,/* no such file, official, peer or state */
	CLI_EXIT_EXISTS = 5,  /* would overwrite (use --force) */
};

/* Store kinds of the state registry (docs/formats.md). */
enum {
	KIND_META = 1,   /* "state": own signed state record */
	KIND_CRED = 2,   /* credential id -> signed credential */
	KIND_STATUS = 3, /* state name -> latest signed status list */
	KIND_PEER = 4,   /* state name -> pinned peer's signed state record */
	KIND_NODE = 5,   /* node name -> signed node record */
};

typedef struct cli_ctx {
	const char *home;      /* state home folder */
	bool json;             /* --json */
	const char *passfile;  /* --passphrase-file, or NULL */
	const char *root_key;  /* --root-key, or NULL for <home>/root.key */
	int64_t now;           /* the clock, read once at start */
	pl_store *store;       /* opened lazily by cli_open_home */
	pl_state_rec self;     /* own state, loaded by cli_open_home */
	/* Talking to a node (http.h): */
	const char *node_url;   /* --node, else $PARLEY_NODE, else http://127.0.0.1:8420 */
	const char *key_file;   /* --key: the official's own key file, else $PARLEY_KEY */
	const char *as_id;      /* --as: the official's credential id, else $PARLEY_AS */
	const char *state_name; /* --state, else $PARLEY_STATE (when there is no home) */
} cli_ctx;

typedef struct cli_cmd {
	const char *group; /* "state", or NULL for a top-level command */
	const char *name;
	const char *args;    /* synopsis after the name, e.g. "--name NAME [--force]" */
	const char *summary; /* one line */
	const char *help;    /* option lines, "  --name NAME   the state's name\n..." */
	int (*run)(cli_ctx *ctx, int argc, char **argv);
} cli_cmd;

/* --------------------------------------------------------- errors */

/* Print "parley: <msg>" to stderr; returns exit. */
int cli_fail(int exit, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Report a libparley error: "parley: <what>: <detail or strerror>", exit code from the error. */
int cli_err(int code, const char *what);
/* The exit code for a pl_err value. */
int cli_exit_for(int code);
/* Print a usage error and the command's synopsis. */
int cli_usage(const cli_cmd *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* --precedence s into *lane: 0, or CLI_EXIT_USAGE (reported, naming the four). */
int cli_parse_precedence(const char *s, pl_lane *lane);
/* --channel (required) and --kind of a command that sends envelopes: 0, or
 * CLI_EXIT_USAGE (reported). */
int cli_check_channel_kind(const char *ch, const char *kind);
/* Print the help of one command to stdout. */
void cli_print_cmd_help(const cli_cmd *cmd);

/* --------------------------------------------------------- options */

struct option;
/* getopt_long (optstring ":") with our own messages: returns the option,
 * -1 at the end, or '?' after printing a usage error. */
int cli_next_opt(int argc, char **argv, const struct option *opts);
/* A command that takes no options or arguments. */
int cli_no_args(int argc, char **argv);
int cli_parse_days(const char *s, int64_t *days);
/* A time option (RFC 3339, a date, or +/-N s|m|h|d relative to now). */
int cli_parse_time(const cli_ctx *ctx, const char *opt, const char *s, int64_t *out);

/* --------------------------------------------------------- home and keys */

/* Path of a file in the home: cli_path(buf, ctx, "nodes/%s.key", name). */
int cli_path(char *out, size_t cap, const cli_ctx *ctx, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Open <home>/state.db and load the own state record; errors are reported. */
int cli_open_home(cli_ctx *ctx);
/* Read a passphrase: --passphrase-file, else $PARLEY_PASSPHRASE, else the
 * terminal (twice when confirm).  buf gets a NUL-terminated string. */
int cli_passphrase(const cli_ctx *ctx, const char *prompt, bool confirm, char *buf, size_t cap);
/* Unseal the root key (asks for the passphrase). */
int cli_unlock_root(cli_ctx *ctx, pl_keypair *root);
/* A trust set with the own root and every pinned peer.  Caller frees. */
int cli_load_trust(cli_ctx *ctx, pl_trust **out);
/* The latest status list held for state (version 0 if none). */
int cli_load_status(cli_ctx *ctx, const pl_trust *t, const char *state, pl_status_list *out);

/* --------------------------------------------------------- output */

/* Print j (consumed) as one line of JSON to stdout. */
int cli_print_json(json_t *j);
/* Base64 of bytes in a static-free way: out must hold pl_b64_len(n). */
void cli_b64(char *out, const uint8_t *p, size_t n);
/* A simple table: add rows of ncols strings, then print with padded columns. */
typedef struct cli_table cli_table;
cli_table *cli_table_new(size_t ncols, const char *const *headers);
int cli_table_add(cli_table *t, const char *const *cells);
void cli_table_print(const cli_table *t);
void cli_table_free(cli_table *t);

/* Create dir if needed and write a public file (mode 0644) atomically. 0 or pl_err. */
int cli_write_public(const char *dir, const char *path, const uint8_t *buf, size_t len);
/* Read a file the user named: errors are reported with the right exit code. */
int cli_read_file(const char *path, size_t max, uint8_t **out, size_t *len);

/* --------------------------------------------------------- commands */

int cmd_state_init(cli_ctx *ctx, int argc, char **argv);
int cmd_state_show(cli_ctx *ctx, int argc, char **argv);
int cmd_state_fingerprint(cli_ctx *ctx, int argc, char **argv);
int cmd_state_export(cli_ctx *ctx, int argc, char **argv);
int cmd_node_init(cli_ctx *ctx, int argc, char **argv);
int cmd_node_list(cli_ctx *ctx, int argc, char **argv);
int cmd_key_new(cli_ctx *ctx, int argc, char **argv);
int cmd_key_show(cli_ctx *ctx, int argc, char **argv);
int cmd_official_issue(cli_ctx *ctx, int argc, char **argv);
int cmd_official_suspend(cli_ctx *ctx, int argc, char **argv);
int cmd_official_recall(cli_ctx *ctx, int argc, char **argv);
int cmd_official_push(cli_ctx *ctx, int argc, char **argv);
int cmd_official_restore(cli_ctx *ctx, int argc, char **argv);
int cmd_official_revoke(cli_ctx *ctx, int argc, char **argv);
int cmd_official_list(cli_ctx *ctx, int argc, char **argv);
int cmd_official_show(cli_ctx *ctx, int argc, char **argv);
int cmd_official_verify(cli_ctx *ctx, int argc, char **argv);
int cmd_peer_add(cli_ctx *ctx, int argc, char **argv);
int cmd_peer_list(cli_ctx *ctx, int argc, char **argv);
int cmd_peer_remove(cli_ctx *ctx, int argc, char **argv);
int cmd_log_status(cli_ctx *ctx, int argc, char **argv);
int cmd_log_verify(cli_ctx *ctx, int argc, char **argv);
int cmd_log_prove(cli_ctx *ctx, int argc, char **argv);
int cmd_log_check_proof(cli_ctx *ctx, int argc, char **argv);
int cmd_log_export(cli_ctx *ctx, int argc, char **argv);
int cmd_channel_propose(cli_ctx *ctx, int argc, char **argv);
int cmd_channel_sign(cli_ctx *ctx, int argc, char **argv);
int cmd_channel_show(cli_ctx *ctx, int argc, char **argv);
int cmd_channel_list(cli_ctx *ctx, int argc, char **argv);
int cmd_send(cli_ctx *ctx, int argc, char **argv);
int cmd_submit(cli_ctx *ctx, int argc, char **argv);
int cmd_feed(cli_ctx *ctx, int argc, char **argv);
int cmd_inbox(cli_ctx *ctx, int argc, char **argv);
int cmd_read(cli_ctx *ctx, int argc, char **argv);
int cmd_watch(cli_ctx *ctx, int argc, char **argv);
int cmd_node_status(cli_ctx *ctx, int argc, char **argv);
int cmd_ack(cli_ctx *ctx, int argc, char **argv);
int cmd_pending(cli_ctx *ctx, int argc, char **argv);
int cmd_report_incident(cli_ctx *ctx, int argc, char **argv);
int cmd_request_new(cli_ctx *ctx, int argc, char **argv);
int cmd_request_step(cli_ctx *ctx, int argc, char **argv);
int cmd_request_show(cli_ctx *ctx, int argc, char **argv);
int cmd_request_list(cli_ctx *ctx, int argc, char **argv);

/*
 * Sign one envelope as the official n authenticated (n opened with
 * CLI_NODE_AUTH | CLI_NODE_KEEP_KEY), with the next sequence number the node
 * gives, submit it and print the outcome as `parley send` does (text or
 * --json).  Everything in spec is borrowed.  0 or an exit code (reported).
 */
struct cli_node;
typedef struct cli_send_spec {
	const char *channel;
	pl_lane lane;
	const char *kind;
	const uint8_t *ref; /* PL_HASH_BYTES, or NULL */
	bool has_ackby;
	int64_t ackby;
	const uint8_t *body;
	size_t body_len;
	uint8_t *id_out; /* PL_HASH_BYTES: the envelope's id, or NULL */
} cli_send_spec;
int cli_send_body(cli_ctx *ctx, struct cli_node *n, const cli_send_spec *sp);
/* The authenticated official's next seq and prev on (ch, lane), into e.
 * 0 or an exit code (reported). */
int cli_next_seq(struct cli_node *n, const char *ch, pl_lane lane, pl_env *e);

/* The command being run (for usage messages). */
extern const cli_cmd *cli_current;

#endif /* PARLEY_CLI_H */
