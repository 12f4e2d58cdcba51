/* SPDX-License-Identifier: Apache-2.0 */
/*
 * parley: the command line of a Parley state.  This file holds the command
 * table (the one place a command is listed; help is generated from it),
 * the global options and the dispatch.  Commands live in cmd_*.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "cmd_statement.h"
#include "parley/crypto.h"

#define PARLEY_VERSION "0.1.0"

static const cli_cmd commands[] = {
	{"state", "init", "--name NAME [--kdf moderate|interactive] [--force]",
	 "create this state's root key and registry in the home folder",
	 "  --name NAME        the state's name: 1-63 of a-z 0-9 . _ - (e.g. tehran)\n"
	 "  --kdf LEVEL        passphrase hardening: moderate (default, ~1 s) or interactive\n"
	 "  --force            replace an existing root key (the old one is lost)\n",
	 cmd_state_init},
	{"state", "show", "", "show this state's name, root key and fingerprint", "", cmd_state_show},
	{"state", "fingerprint", "",
	 "print the root key's fingerprint to read aloud in the peering ceremony", "",
	 cmd_state_fingerprint},
	{"state", "export", "[--out FILE]",
	 "write the signed state record that a peer pins with `parley peer add`",
	 "  --out FILE         write to FILE instead of standard output\n", cmd_state_export},
	{"node", "init", "--name NAME --addr HOST:PORT [--days N] [--force]",
	 "create a node key and a node record signed by the root",
	 "  --name NAME        the node's name (e.g. tehran-1)\n"
	 "  --addr HOST:PORT   where peers reach the node\n"
	 "  --days N           validity in days (default 365)\n"
	 "  --force            replace an existing node key\n",
	 cmd_node_init},
	{"node", "list", "", "list this state's node records", "", cmd_node_list},
	{"key", "new", "--out FILE [--label LABEL] [--kdf moderate|interactive] [--force]",
	 "create an official's key pair on their own device (sealed with a passphrase)",
	 "  --out FILE         where to write the sealed key\n"
	 "  --label LABEL      a name stored in the file (default: the file's name)\n"
	 "  --kdf LEVEL        moderate (default) or interactive\n"
	 "  --force            replace an existing file\n",
	 cmd_key_new},
	{"key", "show", "FILE", "print the public key of a key file (no passphrase needed)", "",
	 cmd_key_show},
	{"official", "issue",
	 "--id ID --name NAME --title TITLE --role ROLE... (--pubkey B64 | --key FILE) [options]",
	 "issue a credential signed by the state's root",
	 "  --id ID            credential id, unique in this state (e.g. amb-islamabad)\n"
	 "  --name NAME        the official's name\n"
	 "  --title TITLE      their title (e.g. \"Ambassador to Pakistan\")\n"
	 "  --role ROLE        a role (repeatable, up to 8; e.g. minister, ambassador)\n"
	 "  --scope CHANNEL    limit the credential to a channel (repeatable, up to 8)\n"
	 "  --pubkey B64       the official's public key (from `parley key show`)\n"
	 "  --key FILE         or the official's key file, to read the public key from\n"
	 "  --from TIME        valid from (default now; 2026-11-27, 2026-11-27T09:00:00Z, +1d)\n"
	 "  --days N           valid for N days (default 365)\n"
	 "  --until TIME       or valid until TIME\n"
	 "  --out FILE         also write the credential to FILE\n"
	 "  --force            re-issue an existing id (e.g. a new key)\n",
	 cmd_official_issue},
	{"official", "suspend", "ID [--reason TEXT] [--at TIME] [--no-push]",
	 "suspend a credential (temporarily; restore lifts it)",
	 "  --reason TEXT      why (kept in the signed status list)\n"
	 "  --at TIME          when it takes effect (default now)\n"
	 "  --no-push          do not hand the new status list to the node (--node)\n",
	 cmd_official_suspend},
	{"official", "recall", "ID [--reason TEXT] [--at TIME] [--no-push]",
	 "recall an official (an ambassador leaves post); what they signed before stays valid",
	 "  --reason TEXT      why (kept in the signed status list)\n"
	 "  --at TIME          when it takes effect (default now)\n"
	 "  --no-push          do not hand the new status list to the node (--node)\n",
	 cmd_official_recall},
	{"official", "push", "",
	 "hand the state's latest signed status list to its node again (the node passes it on)",
	 "", cmd_official_push},
	{"official", "restore", "ID [--reason TEXT] [--at TIME] [--no-push]",
	 "restore a suspended or recalled official",
	 "  --reason TEXT      why (kept in the signed status list)\n"
	 "  --at TIME          when it takes effect (default now)\n"
	 "  --no-push          do not hand the new status list to the node (--node)\n",
	 cmd_official_restore},
	{"official", "revoke", "ID [--reason TEXT] [--at TIME] [--no-push]",
	 "revoke a credential for good (e.g. a lost key); cannot be undone",
	 "  --reason TEXT      why (kept in the signed status list)\n"
	 "  --at TIME          when it takes effect; may be in the past for a compromised key\n"
	 "  --no-push          do not hand the new status list to the node (--node)\n",
	 cmd_official_revoke},
	{"official", "list", "[--at TIME]", "list this state's officials and their status",
	 "  --at TIME          status at TIME instead of now\n", cmd_official_list},
	{"official", "show", "ID", "show one credential and its status history", "",
	 cmd_official_show},
	{"official", "verify", "FILE [--status FILE] [--at TIME]",
	 "check a credential file: root signature, validity period and status at a time",
	 "  --status FILE      the issuing state's signed status list (default: the one held)\n"
	 "  --at TIME          check at TIME instead of now\n",
	 cmd_official_verify},
	{"peer", "add", "FILE --fingerprint DIGITS",
	 "pin a peer state's root after comparing its fingerprint out of band",
	 "  --fingerprint DIGITS  the 30 digits the peer's operator read to you\n",
	 cmd_peer_add},
	{"peer", "list", "", "list pinned peer states", "", cmd_peer_list},
	{"peer", "remove", "NAME", "unpin a peer state", "", cmd_peer_remove},
	{"log", "status", "", "the node's transcript: size, checkpoints, cosignatures, alarms", "",
	 cmd_log_status},
	{"log", "verify", "[--store PATH] [--quiet]",
	 "recompute the whole transcript from the node store and check every signature",
	 "  --store PATH       the node store (default: the home's node-NAME.db)\n"
	 "  --quiet            no progress lines\n",
	 cmd_log_verify},
	{"log", "prove", "ENVELOPE [--out FILE]",
	 "write a proof of receipt of an envelope, checkable offline",
	 "  --out FILE         where to write (default <id prefix>.proof.json; - for stdout)\n",
	 cmd_log_prove},
	{"log", "check-proof", "FILE [--root STATE=KEY]...",
	 "check a proof of receipt offline, trusting only the states' root keys",
	 "  --root STATE=KEY   a state's root public key, base64 (repeatable; default: the\n"
	 "                     home's root and its pinned peers)\n",
	 cmd_log_check_proof},
	{"log", "export", "[--out FILE]",
	 "write the transcript's evidence: checkpoints, cosignatures, alarms",
	 "  --out FILE         write to FILE instead of standard output\n", cmd_log_export},
	{"node", "status", "",
	 "ask the node for its links, queues, transcript size and status lists", "",
	 cmd_node_status},
	{"channel", "propose",
	 "--name NAME --member ID[@STATE]... [--member-file FILE]... [options] "
	 "(--out FILE | --submit)",
	 "write a channel charter signed by this state's root, for the other states to sign",
	 "  --name NAME          the channel's name (e.g. tehran-islamabad)\n"
	 "  --member ID[@STATE]  a member (repeatable): an official of this state, from the\n"
	 "                       registry, or of a peer state given with --member-file\n"
	 "  --member-file FILE   a peer official's credential file (their officials/ID.cred);\n"
	 "                       makes that official a member (repeatable)\n"
	 "  --state NAME         a participating state (repeatable; this state and the\n"
	 "                       members' states are always included)\n"
	 "  --kind KIND          an allowed kind (repeatable; default: message)\n"
	 "  --lane PRECEDENCE    an allowed precedence: FLASH, IMMEDIATE, PRIORITY or ROUTINE\n"
	 "                       (repeatable; default: all four)\n"
	 "  --version N          the charter's version (default 1; a change needs a higher one)\n"
	 "  --out FILE           write the signed charter to FILE\n"
	 "  --submit             also hand it to the node (acting as --as with --key)\n"
	 "  --policy FILE        acknowledgement deadlines and escalation per precedence, from\n"
	 "                       a JSON file (docs/cli.md; default: FLASH 10m, IMMEDIATE 1h)\n",
	 cmd_channel_propose},
	{"channel", "sign", "(FILE | --from-node NAME) [--out FILE] [--submit]",
	 "show a proposed charter, then add this state's root signature to it",
	 "  FILE               a charter file: shown, signed and written back (or to --out)\n"
	 "  --from-node NAME   fetch channel NAME's charter from the node; sign and submit it\n"
	 "  --out FILE         write the signed charter to FILE\n"
	 "  --submit           hand the signed charter to the node\n",
	 cmd_channel_sign},
	{"channel", "show", "NAME | FILE",
	 "show a charter: its states and who signed, members, kinds and precedences",
	 "  NAME               ask the node for channel NAME's charter\n"
	 "  FILE               or read a charter file (an argument with a '/' or that exists)\n",
	 cmd_channel_show},
	{"channel", "list", "", "list the channels the node holds charters for", "",
	 cmd_channel_list},
	{NULL, "send",
	 "--channel C [--precedence P] [--kind K] [--ack-by TIME] [--ref ID] [--out FILE] "
	 "(TEXT | --file F | -)",
	 "sign a message with the official's own key and submit it to the node",
	 "  --channel C        the channel\n"
	 "  --precedence P     FLASH, IMMEDIATE, PRIORITY or ROUTINE (default ROUTINE)\n"
	 "  --kind K           the envelope's kind (default message)\n"
	 "  --ack-by TIME      ask for an acknowledgement by TIME (e.g. +2h)\n"
	 "  --ref ID           the id (64 hex digits) of the envelope this answers\n"
	 "  --out FILE         also write the signed envelope to FILE (see `parley submit`)\n"
	 "  TEXT               the body; or --file F to read it from F, or - from standard input\n"
	 "                     (at most 1 MiB)\n",
	 cmd_send},
	{NULL, "feed", "--channel C [--precedence P] [--kind K] [--batch N] [--flush-ms MS] [FILE | -]",
	 "a machine feed: each input line an envelope, batch-signed (one signature per batch)",
	 "  --channel C        the channel\n"
	 "  --precedence P     FLASH, IMMEDIATE, PRIORITY or ROUTINE (default ROUTINE)\n"
	 "  --kind K           the envelopes' kind (default message)\n"
	 "  --batch N          envelopes per signature and per request, 2..256 (default 64)\n"
	 "  --flush-ms MS      send a batch that waited this long for its next line as it is\n"
	 "                     (default 1000; a batch of one is signed alone)\n"
	 "  FILE | -           the lines (at most 64 KiB each; empty ones are skipped),\n"
	 "                     from FILE or standard input (the default), e.g. a sensor's pipe\n"
	 "The official needs the role 'feed' (parley official issue --role feed).\n",
	 cmd_feed},
	{NULL, "submit", "FILE",
	 "submit a signed envelope file to the node (again: a duplicate is harmless)", "",
	 cmd_submit},
	{NULL, "inbox", "[--channel C] [--limit N]",
	 "list the envelopes on the node's channels, newest last",
	 "  --channel C        only channel C\n"
	 "  --limit N          the newest N envelopes (default 50)\n",
	 cmd_inbox},
	{NULL, "read", "ID", "show one envelope in full, with its delivery to each peer state",
	 "  ID                 the envelope's id: 64 hex digits, or a unique prefix of 8 or more\n",
	 cmd_read},
	{NULL, "watch", "[--channel C] [--precedence P]... [--count N] [--timeout S]",
	 "follow what happens on the node, one line per event, until Ctrl-C",
	 "  --channel C        only events about channel C\n"
	 "  --precedence P     only envelopes and receipts of precedence P (FLASH, IMMEDIATE,\n"
	 "                     PRIORITY, ROUTINE; repeat for several), and events of no lane\n"
	 "  --count N          stop after N events\n"
	 "  --timeout S        stop after S seconds (exit 1 if --count was not reached)\n",
	 cmd_watch},
	{NULL, "ack", "ID [--read]",
	 "acknowledge an envelope (signed by you; stops its escalation), or mark it read",
	 "  ID                 the envelope's id: 64 hex digits\n"
	 "  --read             send a read receipt instead of an acknowledgement\n",
	 cmd_ack},
	{NULL, "pending", "",
	 "what your state must still acknowledge, with the time left and escalations", "",
	 cmd_pending},
	{"report", "incident",
	 "--channel C (--json-file F | --time T --lat D --lon D --datum X --place P --category K "
	 "--severity N --description TEXT [options])",
	 "report a border incident (a structured form, checked here and by every node)",
	 "  --channel C        the channel\n"
	 "  --precedence P     default FLASH\n"
	 "  --ack-by TIME      an acknowledgement deadline earlier than the charter's\n"
	 "  --json-file F      the whole form as JSON (docs/form-incident.md; - for stdin)\n"
	 "  --time T           when it happened (RFC 3339, a date, or -2h)\n"
	 "  --lat D, --lon D   position in decimal degrees (at most 6 decimals)\n"
	 "  --datum X          WGS84, ETRS89, ED50, NAD83 or Kalianpur1962\n"
	 "  --place P          a place name\n"
	 "  --category K       armed-incursion, cross-border-fire, militant-movement,\n"
	 "                     smuggling, airspace-violation or other\n"
	 "  --severity N       1 (minor) to 5 (grave)\n"
	 "  --killed N, --injured N, --missing N   casualties, where known\n"
	 "  --description TEXT what happened\n"
	 "  --action TEXT      the action requested of the other state\n"
	 "  --ref-id R         the reporting post's own reference\n",
	 cmd_report_incident},
	{"request", "new",
	 "--channel C --to STATE --type T --subject S --summary TEXT [options]",
	 "make a cooperation request to another state (extradition, legal assistance, ...)",
	 "  --channel C        the channel\n"
	 "  --to STATE         the state asked to decide\n"
	 "  --type T           extradition, mutual-legal-assistance, consular-access or\n"
	 "                     information\n"
	 "  --subject S        one line\n"
	 "  --summary TEXT     the request\n"
	 "  --legal-basis TEXT the treaty or law invoked\n"
	 "  --due TIME         when an answer is needed\n"
	 "  --precedence P     default PRIORITY\n"
	 "  --json-file F      the whole form as JSON instead (docs/form-request.md)\n",
	 cmd_request_new},
	{"request", "step", "ID --to STATUS [--note TEXT]",
	 "move a request on: acknowledged, under-review, granted, partially-granted, refused "
	 "(the requested state) or withdrawn (the requesting state)",
	 "  --to STATUS        the new status\n"
	 "  --note TEXT        why, or what is granted\n"
	 "  --precedence P     default PRIORITY\n",
	 cmd_request_step},
	{"request", "show", "ID", "a request, its status and its full history", "",
	 cmd_request_show},
	{"request", "list", "--channel C", "the requests on a channel and their status",
	 "  --channel C        the channel\n", cmd_request_list},
	{"statement", "draft", "--channel C ID --title T (TEXT | --file F)",
	 "draft the next version of joint statement ID (version 1 if it is new)",
	 "  --channel C        the channel\n"
	 "  --title T          the title (required for version 1; default: the last version's)\n"
	 "  --file F           read the text from F (its exact bytes, at most 64 KiB)\n"
	 "  TEXT               or give the text as one argument\n",
	 cmd_statement_draft},
	{"statement", "sign", "--channel C ID [--version V]",
	 "sign one version's exact text as your state's signatory (default: the latest)",
	 "  --channel C        the channel\n"
	 "  --version V        the version to sign (default: the latest)\n",
	 cmd_statement_sign},
	{"statement", "list", "--channel C",
	 "list a channel's statements: versions, signatures, adoption",
	 "  --channel C        the channel\n", cmd_statement_list},
	{"statement", "show", "--channel C ID [--version V]",
	 "show a statement: versions, signatures, adoption and one version's text",
	 "  --channel C        the channel\n"
	 "  --version V        the version whose text to show (default: the latest)\n",
	 cmd_statement_show},
	{"statement", "diff", "--channel C ID V1 V2 [--context N]",
	 "show the change between two versions of a statement, line by line",
	 "  --channel C        the channel\n"
	 "  --context N        only the changes, with N unchanged lines around them\n"
	 "                     (default: every line)\n",
	 cmd_statement_diff},
	{"statement", "publish", "--channel C ID DIR [--force]",
	 "write an adopted statement to DIR: text, minisign signatures and keys, bundle",
	 "  --channel C        the channel\n"
	 "  --force            replace the files in a DIR that is not empty\n",
	 cmd_statement_publish},
	{NULL, "verify", "DIR [--root STATE=KEY]...",
	 "check a published statement offline, trusting only the states' root keys",
	 "  --root STATE=KEY   a state's root public key, base64 (repeatable); it takes\n"
	 "                     precedence over the home's own root and pinned peers, which\n"
	 "                     fill in the states not given\n",
	 cmd_verify},
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

const cli_cmd *cli_current;

static const char global_help[] =
	"Global options (before the command):\n"
	"  --home DIR              the state's home folder (default $PARLEY_HOME, else ./parley-home)\n"
	"  --json                  machine-readable output\n"
	"  --passphrase-file FILE  read the passphrase from FILE (else $PARLEY_PASSPHRASE, else the terminal)\n"
	"  --root-key FILE         the sealed root key (default <home>/root.key)\n"
	"  --node URL              the node's API (default $PARLEY_NODE, else http://127.0.0.1:8420)\n"
	"  --as ID                 the acting official's id, for commands that ask the node ($PARLEY_AS)\n"
	"  --key FILE              that official's own key file ($PARLEY_KEY)\n"
	"  --state NAME            the official's state if there is no home folder ($PARLEY_STATE)\n"
	"  --help, --version\n"
	"\n"
	"Exit codes: 0 ok, 1 failure, 2 usage, 3 refused by a check, 4 not found, 5 already exists.\n";

static void print_groups(FILE *f)
{
	fprintf(f, "usage: parley [global options] <group> <command> [options]\n"
		   "       parley [global options] <command> [options]\n\nCommands:\n");
	for (size_t i = 0; i < NCOMMANDS; i++) {
		char name[64];
		if (commands[i].group)
			snprintf(name, sizeof(name), "%s %s", commands[i].group, commands[i].name);
		else
			snprintf(name, sizeof(name), "%s", commands[i].name);
		fprintf(f, "  %-20s %s\n", name, commands[i].summary);
	}
	fprintf(f, "\n%s", global_help);
	fprintf(f, "\n`parley [<group>] <command> --help` explains a command; docs/cli.md has them all.\n");
}

static void print_group(FILE *f, const char *group)
{
	fprintf(f, "usage: parley %s <command> [options]\n\n", group);
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (commands[i].group && strcmp(commands[i].group, group) == 0)
			fprintf(f, "  %-12s %s\n", commands[i].name, commands[i].summary);
}

static bool group_exists(const char *group)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (commands[i].group && strcmp(commands[i].group, group) == 0)
			return true;
	return false;
}

/* The top-level command (no group) called name, or NULL. */
static const cli_cmd *find_top(const char *name)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (!commands[i].group && strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

/* Run cmd with argv starting at its name (as getopt expects). */
static int run_cmd(cli_ctx *ctx, const cli_cmd *cmd, int argc, char **argv)
{
	cli_current = cmd;
	for (int j = 1; j < argc; j++) {
		if (strcmp(argv[j], "--") == 0)
			break;
		if (strcmp(argv[j], "--help") == 0 || strcmp(argv[j], "-h") == 0) {
			cli_print_cmd_help(cmd);
			return 0;
		}
	}
	if (pl_crypto_init() != 0)
		return cli_fail(CLI_EXIT_FAIL, "cannot initialise the crypto library");
	ctx->now = (int64_t)time(NULL);
	int rc = cmd->run(ctx, argc, argv);
	pl_store_close(ctx->store);
	return rc;
}

/* The field of a global option that takes a value, or NULL. */
static const char **value_option(cli_ctx *ctx, const char *a)
{
	if (strcmp(a, "--home") == 0)
		return &ctx->home;
	if (strcmp(a, "--passphrase-file") == 0)
		return &ctx->passfile;
	if (strcmp(a, "--root-key") == 0)
		return &ctx->root_key;
	if (strcmp(a, "--node") == 0)
		return &ctx->node_url;
	if (strcmp(a, "--key") == 0)
		return &ctx->key_file;
	if (strcmp(a, "--as") == 0)
		return &ctx->as_id;
	if (strcmp(a, "--state") == 0)
		return &ctx->state_name;
	return NULL;
}

/* $name if set and not empty, else dflt. */
static const char *env_or(const char *name, const char *dflt)
{
	const char *v = getenv(name);
	return v && *v ? v : dflt;
}

static bool is_help(const char *s)
{
	return strcmp(s, "--help") == 0 || strcmp(s, "-h") == 0 || strcmp(s, "help") == 0;
}

int main(int argc, char **argv)
{
	cli_ctx ctx = {0};
	ctx.home = env_or("PARLEY_HOME", "parley-home");
	ctx.node_url = env_or("PARLEY_NODE", "http://127.0.0.1:8420");
	ctx.key_file = env_or("PARLEY_KEY", NULL);
	ctx.as_id = env_or("PARLEY_AS", NULL);
	ctx.state_name = env_or("PARLEY_STATE", NULL);
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--json") == 0) {
			ctx.json = true;
		} else if (strcmp(a, "--version") == 0) {
			printf("parley %s\n", PARLEY_VERSION);
			return 0;
		} else if (is_help(a)) {
			print_groups(stdout);
			return 0;
		} else if (value_option(&ctx, a)) {
			if (i + 1 >= argc)
				return cli_fail(CLI_EXIT_USAGE, "%s needs a value", a);
			*value_option(&ctx, a) = argv[++i];
		} else {
			cli_fail(CLI_EXIT_USAGE, "unknown global option '%s'", a);
			print_groups(stderr);
			return CLI_EXIT_USAGE;
		}
	}
	if (i >= argc) {
		print_groups(stderr);
		return CLI_EXIT_USAGE;
	}
	if (strcmp(argv[i], "commands") == 0) {
		/* Machine-readable list, used by the docs test. */
		for (size_t k = 0; k < NCOMMANDS; k++) {
			if (commands[k].group)
				printf("%s %s\n", commands[k].group, commands[k].name);
			else
				printf("%s\n", commands[k].name);
		}
		return 0;
	}
	const cli_cmd *top = find_top(argv[i]);
	if (top)
		return run_cmd(&ctx, top, argc - i, argv + i);
	const char *group = argv[i];
	if (!group_exists(group)) {
		cli_fail(CLI_EXIT_USAGE, "unknown command '%s'", group);
		print_groups(stderr);
		return CLI_EXIT_USAGE;
	}
	if (i + 1 >= argc || is_help(argv[i + 1])) {
		print_group(i + 1 >= argc ? stderr : stdout, group);
		return i + 1 >= argc ? CLI_EXIT_USAGE : 0;
	}
	const char *name = argv[i + 1];
	for (size_t k = 0; k < NCOMMANDS; k++) {
		if (!commands[k].group || strcmp(commands[k].group, group) != 0 ||
		    strcmp(commands[k].name, name) != 0)
			continue;
		return run_cmd(&ctx, &commands[k], argc - (i + 1), argv + i + 1);
	}
	cli_fail(CLI_EXIT_USAGE, "unknown command '%s %s'", group, name);
	print_group(stderr, group);
	return CLI_EXIT_USAGE;
}
