/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `parley statement ...` and `parley verify`: joint statements
 * (docs/statements.md).  draft, sign, list, show, diff and publish talk to
 * the state's node as the official --as (cli/http.h); verify checks a
 * published folder offline with nothing but root keys (cli/stmt_bundle.h).
 * Each follows the command convention of cli/cli.h: argv starts at the
 * command's name, the result is an exit code, errors are reported.
 */
#ifndef PARLEY_CLI_CMD_STATEMENT_H
#define PARLEY_CLI_CMD_STATEMENT_H

#include "cli.h"

int cmd_statement_draft(cli_ctx *ctx, int argc, char **argv);
int cmd_statement_sign(cli_ctx *ctx, int argc, char **argv);
int cmd_statement_list(cli_ctx *ctx, int argc, char **argv);
int cmd_statement_show(cli_ctx *ctx, int argc, char **argv);
int cmd_statement_diff(cli_ctx *ctx, int argc, char **argv);
int cmd_statement_publish(cli_ctx *ctx, int argc, char **argv);
int cmd_verify(cli_ctx *ctx, int argc, char **argv);

#endif /* PARLEY_CLI_CMD_STATEMENT_H */
