#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Group commit: submissions that arrive together share one transaction
# (several envelopes per commit), every one is answered only after it, and
# nothing is lost or duplicated; a batch request's envelopes are decided one
# by one, in order, and stored in one commit.
. "$(dirname "$0")/lib.sh"
pair tehran islamabad
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
# the peer's receipts, arriving meanwhile, were recorded in those commits
# rather than in commits of their own
shared=$(metric tehran parley_submit_commits_with_receipts_total)
echo "group commit: $shared of them also recorded receipts ($(metric tehran 'parley_link_receipts_total{direction="in"}') received)"
((shared > 0)) || fail "no receipt was recorded in a group commit"
wait_count islamabad fm 600
pdrive check $(as islamabad) --channel fm --ids "$W/FLASH.ids" --ids "$W/IMMEDIATE.ids" \
	--ids "$W/PRIORITY.ids" --ids "$W/ROUTINE.ids" || fail "check"
wait_delivered tehran islamabad "$W/FLASH.ids" "$W/ROUTINE.ids"

# Batches (POST /v1/envelopes "envelopes"): each envelope decided on its own
# and in order, all of a request in the same group commit.
charter bulk tehran islamabad
wait_charter islamabad bulk
commits=$(metric tehran parley_submit_commits_total)
pids=()
for lane in PRIORITY ROUTINE; do
	pdrive send $(as tehran) --channel bulk --lane $lane --count 200 --batch 50 --ids "$W/bulk-$lane.ids" >/dev/null &
	pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || fail "a batch sender failed"; done
commits=$(($(metric tehran parley_submit_commits_total) - commits))
echo "batches: 400 envelopes in 8 requests, $commits commits"
((commits <= 8)) || fail "a request's envelopes were split over commits ($commits commits for 8 requests)"
wait_count islamabad bulk 400
pdrive check $(as islamabad) --channel bulk --ids "$W/bulk-PRIORITY.ids" --ids "$W/bulk-ROUTINE.ids" || fail "check bulk"
wait_delivered tehran islamabad "$W/bulk-PRIORITY.ids" "$W/bulk-ROUTINE.ids"

# The third of five has a broken signature: the first two are stored, it is
# refused, and the two after it are refused as a gap in the stream.
bad=$(metric tehran 'parley_envelopes_rejected_total{reason="bad-signature"}')
gap=$(metric tehran 'parley_envelopes_rejected_total{reason="sequence"}')
pdrive send $(as tehran) --channel bulk --lane FLASH --count 5 --batch 5 --corrupt 3 --ids "$W/bulk-FLASH.ids" >"$W/corrupt.out" ||
	fail "batch with a broken envelope"
printf '1 201 ok\n2 201 ok\n3 422 bad-signature\n4 422 sequence\n5 422 sequence\n' | diff - "$W/corrupt.out" >&2 ||
	fail "batch results"
[[ $(metric tehran 'parley_envelopes_rejected_total{reason="bad-signature"}') == $((bad + 1)) ]] || fail "bad-signature not counted once"
[[ $(metric tehran 'parley_envelopes_rejected_total{reason="sequence"}') == $((gap + 2)) ]] || fail "sequence gaps not counted twice"
wait_count islamabad bulk 402
pdrive check $(as islamabad) --channel bulk --ids "$W/bulk-PRIORITY.ids" --ids "$W/bulk-ROUTINE.ids" \
	--ids "$W/bulk-FLASH.ids" || fail "check bulk after the broken batch"

# The same envelope twice in one request: the second is found in the open
# batch (not yet in the store) and answered as a duplicate of the first,
# after the same commit; the envelope is stored once.
dup=$(metric tehran parley_envelopes_duplicate_total)
pdrive send $(as tehran) --channel bulk --lane IMMEDIATE --count 3 --batch 3 --repeat 2 >"$W/repeat.out" ||
	fail "batch with an envelope twice"
printf '1 201 ok\n2 201 ok\n3 200 ok\n4 201 ok\n' | diff - "$W/repeat.out" >&2 || fail "repeat results"
[[ $(metric tehran parley_envelopes_duplicate_total) == $((dup + 1)) ]] || fail "the repeat not counted once as a duplicate"
wait_count islamabad bulk 405
finish "7 passed, 0 failed"
