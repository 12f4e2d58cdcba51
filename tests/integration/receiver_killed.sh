#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The receiver is SIGKILLed mid-stream, twice, and restarted: every envelope
# the sender's node acknowledged arrives exactly once, in order per lane.
. "$(dirname "$0")/lib.sh"
pair tehran islamabad
start tehran; start islamabad
charter fm tehran islamabad
wait_charter islamabad fm
(
	for lane in ROUTINE FLASH PRIORITY ROUTINE IMMEDIATE ROUTINE; do
		pdrive send $(as tehran) --channel fm --lane $lane --count 150 --size 512 --ids "$W/t.ids" >/dev/null || exit 1
	done
) &
sender=$!
for round in 1 2; do
	sleep 0.$((3 + RANDOM % 5))
	crash islamabad
	sleep 0.5
	start islamabad
done
wait $sender || fail "sender failed"
total=$(wc -l <"$W/t.ids")
[[ $total == 900 ]] || fail "sender acknowledged $total of 900"
wait_count islamabad fm "$total" 60
pdrive check $(as islamabad) --channel fm --ids "$W/t.ids" || fail "after crashes"
# and after a last restart nothing reappears twice
crash islamabad
start islamabad
sleep 1
pdrive check $(as islamabad) --channel fm --ids "$W/t.ids" || fail "after the last restart"
wait_delivered tehran islamabad "$W/t.ids"
finish "2 passed, 0 failed"
