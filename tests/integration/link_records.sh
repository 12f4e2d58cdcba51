#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A sender writes its frames in full TLS records (node/peer.c, OUT_BLOCK):
# a receiver taking a backlog gets many envelopes per read and commits them
# together.  tehran queues 2000 envelopes while islamabad is down; when
# islamabad returns it takes them in fewer than one commit per 12 (about 80
# commits here; with a record per frame it was about 295, one per 7), every
# one exactly once, in order, and receipted.
. "$(dirname "$0")/lib.sh"
pair tehran islamabad
export NODE_EXTRA="checkpoint_interval = 3600"
start tehran; start islamabad
charter fm tehran islamabad
wait_charter islamabad fm
stop islamabad
for lane in ROUTINE PRIORITY; do
	pdrive send $(as tehran) --channel fm --lane $lane --count 1000 --batch 250 --size 256 \
		--ids "$W/$lane.ids" >/dev/null || fail "send $lane"
done
start islamabad
wait_count islamabad fm 2000 60
wait_delivered tehran islamabad "$W/ROUTINE.ids" "$W/PRIORITY.ids"
commits=$(metric islamabad parley_commit_seconds_count)
echo "islamabad took the 2000 envelopes of the backlog in $commits commits"
((commits * 12 <= 2000)) || fail "$commits commits for a backlog of 2000 (more than one per 12 envelopes)"
pdrive check $(as islamabad) --channel fm --ids "$W/ROUTINE.ids" --ids "$W/PRIORITY.ids" >"$W/check.out" 2>&1 ||
	fail "$(cat "$W/check.out")"
grep -q " 0 lost, 0 duplicated, 0 reordered" "$W/check.out" || fail "$(cat "$W/check.out")"
finish "records: 2000 envelopes in $commits commits, $(grep '^check:' "$W/check.out")"
