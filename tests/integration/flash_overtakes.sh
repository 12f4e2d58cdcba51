#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A FLASH submitted behind a backlog of 10,000 ROUTINE envelopes arrives at
# the receiver before the backlog has drained.
. "$(dirname "$0")/lib.sh"
pair tehran islamabad
start tehran; start islamabad
charter fm tehran islamabad
wait_charter islamabad fm
# 10,000 ROUTINE of 2 KiB: 20 MiB, far more than socket buffers hold in
# flight; the backlog is draining as soon as tehran hears a receipt (its
# metrics ask for no login, so the poll is quick: the drain takes seconds)
backlog_drain tehran islamabad fm 10000 --size 2048
# freeze the receiver mid-drain so the FLASH is certainly submitted behind the backlog
kill -STOP "${PID[islamabad]}"
left=$(metric tehran 'parley_queue_depth{peer="islamabad",lane="ROUTINE"}')
echo "islamabad frozen with $left ROUTINE envelopes still queued at tehran"
((left >= 1000)) || fail "only $left of the backlog left when the FLASH was sent: the test cannot tell"
pdrive send $(as tehran) --channel fm --lane FLASH --count 1 --ids "$W/flash.ids" >/dev/null || fail "flash"
kill -CONT "${PID[islamabad]}"
wait_count islamabad fm 10001 120
pdrive check $(as islamabad) --channel fm --ids "$W/routine.ids" --ids "$W/flash.ids" \
	--require-before "$(cat "$W/flash.ids"):$(tail -n 1 "$W/routine.ids")" || fail "flash did not overtake"
finish "1 passed, 0 failed"
