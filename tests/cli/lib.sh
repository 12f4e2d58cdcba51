# SPDX-License-Identifier: Apache-2.0
# Helpers for CLI tests: each test script sources this, gets a fresh temp
# folder, runs `parley` and checks exit codes and messages.
set -uo pipefail
: "${PARLEY_BIN:?set by CTest}" "${PARLEY_TEST_TMP:=/tmp}"
mkdir -p "$PARLEY_TEST_TMP"
TMP=$(mktemp -d "$PARLEY_TEST_TMP/cli.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
export PARLEY_PASSPHRASE="test passphrase"
unset PARLEY_HOME
failures=0
checks=0
OUT="$TMP/out" ERR="$TMP/err"

parley() { "$PARLEY_BIN/parley" "$@"; }

# expect CODE cmd...: run, capture stdout/stderr in $OUT/$ERR, check the exit code.
expect() {
	local want=$1
	shift
	checks=$((checks + 1))
	"$@" >"$OUT" 2>"$ERR" </dev/null
	local got=$?
	if [[ $got != "$want" ]]; then
		failures=$((failures + 1))
		echo "FAIL: exit $got, wanted $want: $*" >&2
		sed 's/^/  stdout: /' "$OUT" >&2
		sed 's/^/  stderr: /' "$ERR" >&2
		return 1
	fi
	return 0
}

# has FILE TEXT: the file contains the fixed text.
has() {
	checks=$((checks + 1))
	if ! grep -qF -- "$2" "$1"; then
		failures=$((failures + 1))
		echo "FAIL: '$2' not in $(basename "$1"):" >&2
		sed 's/^/  | /' "$1" >&2
		return 1
	fi
}

hasnt() {
	checks=$((checks + 1))
	if grep -qF -- "$2" "$1"; then
		failures=$((failures + 1))
		echo "FAIL: '$2' unexpectedly in $(basename "$1")" >&2
		return 1
	fi
}

# A state home with a root key (fast KDF so tests stay quick).
make_state() { # home name
	parley --home "$1" state init --name "$2" --kdf interactive >/dev/null ||
		{ echo "setup: state init $2 failed" >&2; exit 1; }
}

# An official's key file and a credential for it.
make_official() { # home id [extra issue args...]
	local home=$1 id=$2
	shift 2
	parley key new --out "$TMP/$id.key" --kdf interactive >/dev/null ||
		{ echo "setup: key new $id failed" >&2; exit 1; }
	parley --home "$home" official issue --id "$id" --name "Official $id" \
		--title "Title of $id" --role staff --key "$TMP/$id.key" "$@" >/dev/null ||
		{ echo "setup: official issue $id failed" >&2; exit 1; }
}

finish() {
	echo "$((checks - failures)) passed, $failures failed"
	[[ $failures == 0 ]]
}
