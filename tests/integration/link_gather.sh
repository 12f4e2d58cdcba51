#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# [link] gather_us: while a peer's items keep coming, the receiver takes them
# in fewer, larger commits (docs/config.md).  tehran sends 200 envelopes one
# request at a time, so each reaches islamabad in a read of its own: with
# gather_us = 0 islamabad commits for nearly every one; restarted with
# gather_us = 100000 (0.1 s) it commits a handful of times for the next
# 200.  Both times everything arrives exactly once, in order, and is
# receipted.
. "$(dirname "$0")/lib.sh"
pair tehran islamabad
export NODE_EXTRA="checkpoint_interval = 3600"
start tehran; start islamabad
charter fm tehran islamabad
wait_charter islamabad fm
commits() { metric islamabad parley_commit_seconds_count; }
# phase N GATHER: 200 envelopes one at a time; echoes islamabad's commits for them
phase() {
	local before
	before=$(commits)
	pdrive send $(as tehran) --channel fm --lane ROUTINE --count 200 --ids "$W/$1.ids" >/dev/null ||
		fail "send ($1)"
	wait_count islamabad fm "$2"
	wait_delivered tehran islamabad "$W/$1.ids"
	echo $(($(commits) - before))
}
plain=$(phase plain 200)
stop islamabad
LINK_EXTRA="gather_us = 100000" start islamabad
gathered=$(phase gathered 400)
echo "islamabad's commits for 200 envelopes: $plain with gather_us = 0, $gathered with 0.1 s"
((plain >= 100)) || fail "without gathering only $plain commits for 200 single envelopes: the test cannot tell"
((gathered * 4 <= plain)) || fail "gather_us = 100000 took 200 envelopes in $gathered commits (without: $plain)"
pdrive check $(as islamabad) --channel fm --ids "$W/plain.ids" --ids "$W/gathered.ids" >"$W/check.out" 2>&1 ||
	fail "$(cat "$W/check.out")"
grep -q " 0 lost, 0 duplicated, 0 reordered" "$W/check.out" || fail "$(cat "$W/check.out")"
finish "gather: $plain commits -> $gathered, $(grep '^check:' "$W/check.out")"
