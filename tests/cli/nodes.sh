#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Two real parleyd daemons on 127.0.0.1 for the CLI tests that talk to a
# node (node_*.sh source this file): states tehran and islamabad, each
# with officials, the other state pinned, a certified node, a node.ini
# with random free ports, the daemon started from $PARLEY_BIN and waited
# for, and stopped (SIGTERM, then SIGKILL) by the EXIT trap.  Every wait
# is bounded.  Run directly, this file is its own smoke test.
#
# After nodes_start:
#   T, I            the homes of tehran and islamabad
#   T_URL, I_URL    their nodes' API URLs
#   KEYS            the folder of the officials' key files (<state>-<id>.key)
#   as_t ID ...     run parley as official ID of tehran against tehran's node
#   as_i ID ...     the same for islamabad
# Officials: tehran fm, amb and outsider; islamabad fm and amb.
if ! declare -F expect >/dev/null; then
	. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
fi
: "${PARLEY_BIN:?set by CTest}"

T="$TMP/tehran" I="$TMP/islamabad" KEYS="$TMP/keys"
T_URL="" I_URL="" T_PID="" I_PID=""
trap 'nodes_stop; rm -rf "$TMP"' EXIT

as_t() { # ID parley-args...
	local id=$1
	shift
	parley --home "$T" --node "$T_URL" --as "$id" --key "$KEYS/tehran-$id.key" "$@"
}
as_i() {
	local id=$1
	shift
	parley --home "$I" --node "$I_URL" --as "$id" --key "$KEYS/islamabad-$id.key" "$@"
}

# until_ok SECS cmd...: run cmd (output in $OUT/$ERR) until it exits 0, for
# at most SECS seconds; counts as one check.
until_ok() {
	local end=$((SECONDS + $1))
	shift
	checks=$((checks + 1))
	while :; do
		"$@" >"$OUT" 2>"$ERR" </dev/null && return 0
		if ((SECONDS >= end)); then
			failures=$((failures + 1))
			echo "FAIL: still failing after the wait: $*" >&2
			sed 's/^/  stdout: /' "$OUT" >&2
			sed 's/^/  stderr: /' "$ERR" >&2
			return 1
		fi
		sleep 0.2
	done
}

# until_has SECS TEXT cmd...: run cmd until it exits 0 with TEXT in its output.
until_has() {
	local end=$((SECONDS + $1)) text=$2
	shift 2
	checks=$((checks + 1))
	while :; do
		if "$@" >"$OUT" 2>"$ERR" </dev/null && grep -qF -- "$text" "$OUT"; then
			return 0
		fi
		if ((SECONDS >= end)); then
			failures=$((failures + 1))
			echo "FAIL: '$text' never appeared: $*" >&2
			sed 's/^/  stdout: /' "$OUT" >&2
			sed 's/^/  stderr: /' "$ERR" >&2
			return 1
		fi
		sleep 0.2
	done
}

nodes_official() { # home state id role
	parley key new --out "$KEYS/$2-$3.key" --kdf interactive >/dev/null &&
		parley --home "$1" official issue --id "$3" --name "Official $3 of $2" \
			--title "Title of $3" --role "$4" --key "$KEYS/$2-$3.key" >/dev/null ||
		{ echo "setup: official $3@$2 failed" >&2; exit 1; }
}

# The states, officials, pins and node records (no daemons yet).
nodes_setup() {
	mkdir -p "$KEYS"
	make_state "$T" tehran
	make_state "$I" islamabad
	nodes_official "$T" tehran fm minister
	nodes_official "$T" tehran amb ambassador
	nodes_official "$T" tehran outsider staff
	nodes_official "$I" islamabad fm minister
	nodes_official "$I" islamabad amb ambassador
	parley --home "$T" state export --out "$TMP/tehran.state" 2>/dev/null &&
		parley --home "$I" state export --out "$TMP/islamabad.state" 2>/dev/null &&
		parley --home "$T" peer add "$TMP/islamabad.state" \
			--fingerprint "$(parley --home "$I" state fingerprint)" >/dev/null &&
		parley --home "$I" peer add "$TMP/tehran.state" \
			--fingerprint "$(parley --home "$T" state fingerprint)" >/dev/null &&
		parley --home "$T" node init --name tehran-1 --addr 127.0.0.1:7001 >/dev/null &&
		parley --home "$I" node init --name islamabad-1 --addr 127.0.0.1:7002 >/dev/null ||
		{ echo "setup: pinning or node init failed" >&2; exit 1; }
}

# Below the ephemeral range (32768-60999), so no outgoing connection holds it.
nodes_port() { echo $((20000 + (RANDOM * 32768 + RANDOM) % 12000)); }

nodes_ini() { # file node home listen peer peer-listen
	cat >"$1" <<EOF
[node]
name = $2
home = $3
listen = 127.0.0.1:$4
api = 127.0.0.1:0
log_level = info

[link]
backoff_min = 50
backoff_max = 500

[peer $5]
address = 127.0.0.1:$6
EOF
}

# Wait (bounded) until the daemon logging to $2 (pid $1) is up; print its API port.
nodes_wait_up() { # pid log
	local i port
	for ((i = 0; i < 100; i++)); do
		port=$(sed -n 's/.*msg="node up".* api_port=\([0-9]*\).*/\1/p' "$2" | head -n 1)
		[[ -n "$port" ]] && { echo "$port"; return 0; }
		kill -0 "$1" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

nodes_stop() {
	local pid i
	for pid in $T_PID $I_PID; do
		kill -TERM "$pid" 2>/dev/null
	done
	for pid in $T_PID $I_PID; do
		for ((i = 0; i < 50; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	T_PID="" I_PID=""
	if [[ ${failures:-0} != 0 ]]; then
		for f in "$TMP"/*.log; do
			[[ -f "$f" ]] && { echo "--- last lines of $(basename "$f"):" >&2; tail -n 15 "$f" >&2; }
		done
	fi
}

# Start both daemons on random ports (a port in use means another try,
# at most 5), then wait until each has a link to the other.
nodes_start() {
	nodes_setup
	local try tp ip tport iport
	for ((try = 0; try < 5; try++)); do
		tp=$(nodes_port)
		ip=$(nodes_port)
		[[ $tp == "$ip" ]] && continue
		nodes_ini "$TMP/tehran.ini" tehran-1 "$T" "$tp" islamabad "$ip"
		nodes_ini "$TMP/islamabad.ini" islamabad-1 "$I" "$ip" tehran "$tp"
		"$PARLEY_BIN/parleyd" -c "$TMP/tehran.ini" 2>"$TMP/tehran.log" &
		T_PID=$!
		"$PARLEY_BIN/parleyd" -c "$TMP/islamabad.ini" 2>"$TMP/islamabad.log" &
		I_PID=$!
		if tport=$(nodes_wait_up "$T_PID" "$TMP/tehran.log") &&
			iport=$(nodes_wait_up "$I_PID" "$TMP/islamabad.log"); then
			T_URL="http://127.0.0.1:$tport" I_URL="http://127.0.0.1:$iport"
			break
		fi
		nodes_stop
	done
	if [[ -z "$T_URL" ]]; then
		echo "setup: the daemons did not start (see the logs)" >&2
		cat "$TMP"/*.log >&2
		exit 1
	fi
	local i
	for ((i = 0; i < 100; i++)); do
		grep -q 'msg="link up" peer=islamabad node=' "$TMP/tehran.log" &&
			grep -q 'msg="link up" peer=tehran node=' "$TMP/islamabad.log" && return 0
		sleep 0.1
	done
	echo "setup: the nodes did not link within 10 s" >&2
	cat "$TMP"/*.log >&2
	exit 1
}

# A channel NAME between both states, proposed by Tehran, signed by
# Islamabad from its node, complete on both nodes.  Extra args go to propose.
nodes_channel() { # name [propose args...]
	local name=$1
	shift
	as_t fm channel propose --name "$name" --member fm --member amb \
		--member-file "$I/officials/fm.cred" --member-file "$I/officials/amb.cred" \
		--out "$TMP/$name.charter" --submit "$@" >/dev/null ||
		{ echo "setup: channel propose $name failed" >&2; exit 1; }
	until_ok 10 as_i fm channel sign --from-node "$name" || exit 1
	until_has 10 "complete     yes" as_t fm channel show "$name" || exit 1
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
	nodes_start
	kill -0 "$T_PID" && kill -0 "$I_PID" ||
		{ echo "FAIL: a daemon died" >&2; failures=$((failures + 1)); }
	expect 0 as_t fm node status
	has "$OUT" "islamabad"
	has "$OUT" "up"
	expect 0 as_i fm node status
	has "$OUT" "tehran-1"
	finish
fi
