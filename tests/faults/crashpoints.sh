#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# SIGKILL at a named crash point of the node (docs/faults.md, "Crash
# points"), then a restart: nothing lost, nothing duplicated, every
# envelope delivered, transcripts consistent (no alarm) and cosigned again.
#   crashpoints.sh POINT   after-commit-before-receipt | after-receipt |
#                          mid-cosign (the receiving node, islamabad, dies)
#                          after-delivery-commit (the sending node, tehran)
# The node that dies runs parleyd-faulty with PARLEY_CRASH_AT=POINT:2.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../integration/lib.sh"
point=${1:-}
case $point in
after-commit-before-receipt | after-receipt | mid-cosign) victim=islamabad ;;
after-delivery-commit) victim=tehran ;;
*) fail "usage: crashpoints.sh after-commit-before-receipt|after-receipt|mid-cosign|after-delivery-commit" ;;
esac
N=240
NODE_EXTRA=$'checkpoint_interval = 10\ncheckpoint_entries = 1'
field() { pdrive get $(as "$1") --path /v1/status --field "$2"; }
# faulty S: restart S under parleyd-faulty with the crash point armed
faulty() {
	stop "$1"
	PARLEY_CRASH_AT="$point:2" "$PARLEY_TOOLS/parleyd-faulty" -c "$W/$1.ini" >>"$W/$1.log" 2>&1 &
	PID[$1]=$!
	# up, or already dead at the point: the first exchange at link-up (a
	# checkpoint, a cosignature, each on its connection) may reach it first
	for _ in $(seq 1 100); do
		pdrive wait --api "http://127.0.0.1:${API[$1]}" --timeout 1 >/dev/null 2>&1 && return
		grep -q "crash point $point reached" "$W/$1.log" && return
	done
	fail "$1 (faulty) did not come up"
}
pair tehran islamabad
start tehran; start islamabad
charter fm tehran islamabad
wait_charter islamabad fm
if [[ $victim == islamabad ]]; then
	faulty islamabad
	for lane in ROUTINE PRIORITY FLASH; do
		pdrive send $(as tehran) --channel fm --lane $lane --count $((N / 3)) --size 300 --ids "$W/t.ids" >/dev/null ||
			fail "send $lane"
	done
else
	stop islamabad # the backlog waits at tehran, then comes with its receipts
	faulty tehran
	for lane in ROUTINE PRIORITY FLASH; do
		pdrive send $(as tehran) --channel fm --lane $lane --count $((N / 3)) --size 300 --ids "$W/t.ids" >/dev/null ||
			fail "send $lane"
	done
	start islamabad
fi
# the victim must die at the point
for _ in $(seq 1 300); do kill -0 "${PID[$victim]}" 2>/dev/null || break; sleep 0.1; done
kill -0 "${PID[$victim]}" 2>/dev/null && fail "$victim never reached crash point $point"
grep -q "crash point $point reached" "$W/$victim.log" || fail "$victim died, but not at $point"
wait "${PID[$victim]}" 2>/dev/null
unset "PID[$victim]"
start "$victim"
wait_count islamabad fm "$N" 60
wait_delivered tehran islamabad "$W/t.ids"
pdrive check $(as islamabad) --channel fm --ids "$W/t.ids" >"$W/check.out" 2>&1 || fail "$(cat "$W/check.out")"
grep -q " 0 lost, 0 duplicated, 0 reordered, 0 unexpected" "$W/check.out" || fail "$(cat "$W/check.out")"
# the transcripts stay consistent across the crash, and are cosigned again
pdrive send $(as tehran) --channel fm --lane ROUTINE --count 2 --ids "$W/t2.ids" >/dev/null || fail "send after"
for _ in $(seq 1 150); do
	size=$(field tehran transcript.size)
	by=$(field tehran transcript.cosigned_by.islamabad)
	[[ $size -gt 0 && $size == "$by" ]] && break
	sleep 0.2
done
[[ $size == "$by" ]] || fail "tehran's log of size $size is cosigned up to ${by:-nothing} after the crash"
if grep -h 'msg="transcript alarm"' "$W"/*.log; then fail "transcript alarm after the crash"; fi
finish "crash at $point: $(grep '^check:' "$W/check.out")"
