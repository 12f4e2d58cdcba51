#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Group commit: submissions that arrive together share one transaction
# (several envelopes per commit), every one is answered only after it, and
# nothing is lost or duplicated.
. "$(dirname "$0")/lib.sh"
state tehran; state islamabad
peer tehran islamabad; peer islamabad tehran
start tehran; start islamabad
charter fm tehran islamabad
wait_charter islamabad fm
pids=()
for lane in FLASH IMMEDIATE PRIORITY ROUTINE; do
	pdrive send $(as tehran) --channel fm --lane $lane --count 150 --ids "$W/$lane.ids" >/dev/null &
	pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || fail "a sender failed"; done
commits=$(metric tehran parley_submit_commits_total)
answered=$(metric tehran parley_submit_committed_total)
echo "group commit: $answered submissions in $commits commits"
[[ $answered == 600 ]] || fail "600 submissions, $answered answered after a commit"
((commits < answered)) || fail "no commit held more than one submission ($commits commits)"
wait_count islamabad fm 600
pdrive check $(as islamabad) --channel fm --ids "$W/FLASH.ids" --ids "$W/IMMEDIATE.ids" \
	--ids "$W/PRIORITY.ids" --ids "$W/ROUTINE.ids" || fail "check"
wait_delivered tehran islamabad "$W/FLASH.ids" "$W/ROUTINE.ids"
finish "3 passed, 0 failed"
