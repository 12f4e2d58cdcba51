#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# --help works at every level, and every command has its section in
# docs/cli.md (a command without documentation fails this test).
. "$(dirname "$0")/lib.sh"
expect 0 parley --help
has "$OUT" "Exit codes"
expect 0 parley --version
expect 2 parley
expect 2 parley frobnicate
has "$ERR" "unknown command 'frobnicate'"
expect 2 parley state frobnicate
has "$ERR" "unknown command 'state frobnicate'"
expect 2 parley --nope state show
has "$ERR" "unknown global option"
expect 0 parley commands
mapfile -t cmds <"$OUT"
[[ ${#cmds[@]} -ge 15 ]] || { echo "FAIL: only ${#cmds[@]} commands"; failures=$((failures + 1)); }
for c in "${cmds[@]}"; do
	read -r group name <<<"$c"
	if [[ -z "$name" ]]; then # a top-level command: `parley send`
		expect 0 parley "$group" --help
		has "$OUT" "usage: parley $group "
	else
		expect 0 parley "$group" --help
		has "$OUT" "$name"
		expect 0 parley "$group" "$name" --help
		has "$OUT" "usage: parley $group $name"
	fi
	checks=$((checks + 1))
	if ! grep -qx "### \`parley $c\`" "$PARLEY_SRC/docs/cli.md"; then
		echo "FAIL: docs/cli.md has no section '### \`parley $c\`'" >&2
		failures=$((failures + 1))
	fi
done
finish
