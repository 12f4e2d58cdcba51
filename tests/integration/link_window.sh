#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# [link] window: a sender keeps at most that many items of the lanes below
# FLASH sent and not yet acknowledged (docs/config.md), so that a FLASH
# waits behind at most that many.  A backlog of 900 envelopes drains
# through a window of 8: tehran's parley_link_in_flight gauge never shows
# more than 8 (without the window hundreds are in flight at once), a FLASH
# sent meanwhile arrives, and everything arrives exactly once, in order.
. "$(dirname "$0")/lib.sh"
pair tehran islamabad
LINK_EXTRA="window = 8" start tehran
start islamabad
charter fm tehran islamabad
wait_charter islamabad fm
stop islamabad
for lane in ROUTINE PRIORITY IMMEDIATE; do
	pdrive send $(as tehran) --channel fm --lane $lane --count 300 --size 300 --ids "$W/t.ids" >/dev/null ||
		fail "send $lane"
done
start islamabad
pdrive send $(as tehran) --channel fm --lane FLASH --count 1 --ids "$W/flash.ids" >/dev/null || fail "FLASH"
max=0 seen=0
for _ in $(seq 1 3000); do # at most about 60 s
	read -r f q < <(metrics tehran |
		awk '$1 == "parley_link_in_flight{peer=\"islamabad\"}" { f = $2 }
		     /^parley_queue_depth\{/ { q += $2 } END { print f + 0, q + 0 }')
	((f > max)) && max=$f
	((f > 0)) && seen=$((seen + 1))
	((q == 0)) && break
	sleep 0.01
done
((max <= 8)) || fail "up to $max items in flight with a window of 8"
((seen > 0)) || fail "the gauge never showed an item in flight: nothing was measured"
wait_count islamabad fm 901
cat "$W/flash.ids" >>"$W/t.ids"
pdrive check $(as islamabad) --channel fm --ids "$W/t.ids" >"$W/check.out" 2>&1 || fail "$(cat "$W/check.out")"
grep -q " 0 lost, 0 duplicated, 0 reordered" "$W/check.out" || fail "$(cat "$W/check.out")"
wait_delivered tehran islamabad "$W/t.ids"
finish "window 8: at most $max in flight ($seen samples with items in flight), $(grep '^check:' "$W/check.out")"
