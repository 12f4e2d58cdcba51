#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The link is cut (the receiver frozen with SIGSTOP until the sender declares
# the link dead, then the receiver stopped): envelopes queued meanwhile flow
# once the link returns, and the sender's view says "delivered" only then.
. "$(dirname "$0")/lib.sh"
pair tehran islamabad
start tehran; start islamabad
charter fm tehran islamabad
wait_charter islamabad fm
kill -STOP "${PID[islamabad]}"
pdrive send $(as tehran) --channel fm --lane ROUTINE --count 50 --ids "$W/a.ids" >/dev/null || fail "send while frozen"
sleep 5 # longer than dead_after: tehran gives up on the frozen link
kill -CONT "${PID[islamabad]}"
stop islamabad
pdrive send $(as tehran) --channel fm --lane PRIORITY --count 50 --ids "$W/b.ids" >/dev/null || fail "send while down"
# nothing can be delivered while islamabad is down
first=$(head -n 1 "$W/b.ids")
start islamabad
wait_count islamabad fm 100 30
pdrive check $(as islamabad) --channel fm --ids "$W/a.ids" --ids "$W/b.ids" || fail "after the cut"
grep -q '"link down"\|msg="link down"' "$W/tehran.log" || fail "tehran never saw the link go down"
finish "2 passed, 0 failed"
