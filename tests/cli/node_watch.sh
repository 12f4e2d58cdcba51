#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `parley node status` and `parley watch` against two real nodes: each
# side's watch sees a message sent from the other side; --count, --timeout
# and --json behave as documented.
. "$(dirname "$0")/nodes.sh"
nodes_start
nodes_channel ops

expect 0 as_t fm node status
has "$OUT" "node          tehran-1 of tehran at $T_URL"
has "$OUT" "fingerprint   $(parley --home "$T" state fingerprint)"
has "$OUT" "transcript"
has "$OUT" "channels      1"
has "$OUT" "PEER       NODE         LINK"
has "$OUT" "islamabad  islamabad-1  up"
expect 0 as_i fm --json node status
has "$OUT" '"node":"islamabad-1"'
has "$OUT" '"state":"tehran"'
has "$OUT" '"up":true'
has "$OUT" '"queued":{'

# watch_bg NAME cmd...: start a watch in the background, wait (bounded)
# until its stream is open; its pid is in WATCH_PID.
watch_bg() {
	local name=$1 i
	shift
	"$@" >"$TMP/$name.out" 2>"$TMP/$name.err" </dev/null &
	WATCH_PID=$!
	for ((i = 0; i < 100; i++)); do
		grep -q "watching the events of node" "$TMP/$name.err" && return 0
		kill -0 "$WATCH_PID" 2>/dev/null || break
		sleep 0.1
	done
	echo "FAIL: watch $name did not start:" >&2
	cat "$TMP/$name.err" >&2
	failures=$((failures + 1))
}

# watch_end NAME CODE: wait for the watch (it ends by itself: --count or
# --timeout) and check its exit code.
watch_end() {
	checks=$((checks + 1))
	wait "$WATCH_PID"
	local got=$?
	if [[ $got != "$2" ]]; then
		failures=$((failures + 1))
		echo "FAIL: watch $1 exited $got, wanted $2" >&2
		cat "$TMP/$1.out" "$TMP/$1.err" >&2
	fi
}

# Islamabad watches channel ops; Tehran sends.
watch_bg isb as_i fm watch --channel ops --count 1 --timeout 15
has "$TMP/isb.err" "watching the events of node islamabad-1 on channel ops"
expect 0 as_t amb send --channel ops --precedence IMMEDIATE "Convoy expected at 14:00"
watch_end isb 0
has "$TMP/isb.out" "envelope"
has "$TMP/isb.out" "ops IMMEDIATE from amb@tehran (message)"
has "$TMP/isb.out" "Convoy expected at 14:00"
[[ $(wc -l <"$TMP/isb.out") == 1 ]] || { echo "FAIL: --count 1 printed more"; failures=$((failures + 1)); }

# Tehran watches as JSON lines; Islamabad sends.
watch_bg teh as_t fm --json watch --channel ops --count 1 --timeout 15
expect 0 as_i fm send --channel ops "Convoy received at Taftan"
watch_end teh 0
has "$TMP/teh.out" '"event":"envelope"'
has "$TMP/teh.out" '"body":"Convoy received at Taftan"'
has "$TMP/teh.out" '"author":"fm"'
has "$TMP/teh.out" '"state":"islamabad"'

# --precedence: the node sends only the FLASH envelope (the ROUTINE one sent
# first is not even on the stream), then Tehran's receipt of it carries its lane.
watch_bg isf as_i fm watch --channel ops --precedence FLASH --count 1 --timeout 15
expect 0 as_t amb send --channel ops --precedence ROUTINE "Routine before the flash"
expect 0 as_t amb send --channel ops --precedence FLASH "Shots heard at Taftan"
watch_end isf 0
has "$TMP/isf.out" "ops FLASH from amb@tehran"
hasnt "$TMP/isf.out" "Routine before the flash"
# Tehran: the IMMEDIATE envelope, then its delivery receipt (which names
# its precedence too); nothing of the PRIORITY one.
watch_bg tf as_t fm --json watch --precedence flash --precedence IMMEDIATE --count 2 --timeout 15
expect 0 as_t amb send --channel ops --precedence PRIORITY "Priority, not watched"
expect 0 as_t amb send --channel ops --precedence IMMEDIATE "Immediate, watched"
watch_end tf 0
has "$TMP/tf.out" '"precedence":"IMMEDIATE"'
has "$TMP/tf.out" '"precedence":"IMMEDIATE","state":"delivered"},"event":"receipt"'
has "$TMP/tf.out" '"state":"delivered"'
hasnt "$TMP/tf.out" "Priority, not watched"
hasnt "$TMP/tf.out" '"precedence":"PRIORITY"'
expect 2 as_t fm watch --precedence CONTROL
has "$ERR" "--precedence must be FLASH, IMMEDIATE, PRIORITY or ROUTINE, not 'CONTROL'"

# --timeout ends a quiet watch: fine without --count, a failure before it.
expect 0 as_t fm watch --channel nothing-happens-here --timeout 1
has "$ERR" "watching"
expect 1 as_t fm watch --channel nothing-happens-here --count 2 --timeout 1
has "$ERR" "0 of 2 events in 1 s"
expect 2 as_t fm watch --count 0
expect 2 as_t fm watch --timeout x
expect 2 as_t fm watch extra

# The status now counts what went over the link.
expect 0 as_t fm node status
hasnt "$OUT" "transcript    0 entries"
finish
