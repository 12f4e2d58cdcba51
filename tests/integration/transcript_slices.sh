#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A witness checks a checkpoint's many inclusion proofs a slice at a time
# (32 per turn of its event loop), taking the item only when all are
# checked (docs/transcript.md, "Cosigning: what the peer checks").
# In part 1 tehran runs parleyd-faulty, held a second before each slice,
# so that the checking spans some eight seconds.
# 1. Tehran queues 256 envelopes while islamabad is down; restarted,
#    islamabad takes them and proves them in its next checkpoint.  While
#    tehran checks it, islamabad sends tehran a FLASH envelope: tehran
#    takes it and its receipt reaches islamabad before tehran cosigns; and
#    the CONTROL item that comes meanwhile (islamabad's cosignature of
#    tehran's next checkpoint, which that FLASH's entry made due) waits
#    behind the checkpoint, then is taken.  Tehran cosigns islamabad's log
#    at its full size, raises no alarm, can prove an envelope of a late
#    slice in islamabad's log, and both logs end cosigned both ways.
# 2. 300 more while islamabad is up (its next checkpoint is not due for 20
#    s), then islamabad is stopped and the leaf row of one of them zeroed in
#    its store (its store check off): the neighbour's proof in its next
#    checkpoint, some 200 proofs in, does not lead to the root.  Tehran
#    raises a "missing" alarm naming that entry and does not cosign.
. "$(dirname "$0")/lib.sh"
T_EXTRA=$'checkpoint_interval = 10\ncheckpoint_entries = 1'
I_EXTRA=$'checkpoint_interval = 20\ncheckpoint_entries = 1000000\nstore_check = off'
pair tehran islamabad
PARLEYD=$PARLEY_TOOLS/parleyd-faulty PARLEY_HOOK_SLEEP=checkpoint-slice:1000 PARLEY_HOOK_TRACE=1 \
	NODE_EXTRA=$T_EXTRA start tehran
NODE_EXTRA=$I_EXTRA start islamabad
charter fm tehran islamabad
wait_charter islamabad fm
field() { pdrive get $(as "$1") --path /v1/status --field "$2"; }
# wait_witnessed N: until tehran cosigned islamabad's log at its size N or more
wait_witnessed() {
	for _ in $(seq 1 300); do
		[[ $(field tehran transcript.cosigning.islamabad) -ge $1 ]] && return 0
		sleep 0.2
	done
	fail "tehran cosigned islamabad's log at $(field tehran transcript.cosigning.islamabad), not $1"
}

# 1
stop islamabad
pdrive send $(as tehran) --channel fm --lane ROUTINE --count 256 --ids "$W/a.ids" >/dev/null || fail "send a"
NODE_EXTRA=$I_EXTRA start islamabad
wait_count islamabad fm 256
# the first slice, from tehran's trace (its API answers slowly meanwhile:
# each request waits for the slices between its steps)
for _ in $(seq 1 100); do
	grep -q 'point checkpoint-slice' "$W/tehran.log" && break
	sleep 0.1
done
grep -q 'point checkpoint-slice' "$W/tehran.log" || fail "tehran checks no slices"
size=$(field islamabad transcript.size)
pdrive send $(as islamabad) --channel fm --lane FLASH --count 1 --ids "$W/f.ids" >/dev/null || fail "send FLASH"
wait_delivered islamabad tehran "$W/f.ids"
[[ $(field islamabad transcript.cosigned_by.tehran) -lt $size ]] ||
	fail "tehran cosigned before it took the FLASH: nothing to show"
wait_witnessed "$size"
grep -q 'point control-held' "$W/tehran.log" || fail "no CONTROL item waited behind the checkpoint"
[[ $(field tehran transcript.alarms_total) == 0 ]] ||
	fail "tehran raised an alarm: $(field tehran transcript.alarms)"
sliced=$(metric tehran parley_transcript_checkpoints_sliced_total)
slices=$(metric tehran parley_transcript_checkpoint_slices_total)
[[ $sliced -ge 1 && $slices -ge 2 ]] || fail "checked in slices: $sliced checkpoints, $slices slices"
id=$(sed -n 250p "$W/a.ids")
PARLEY_NODE="http://127.0.0.1:${API[tehran]}" PARLEY_AS=duty PARLEY_KEY="$W/tehran-duty.key" \
	parley --home "$W/tehran" log prove "$id" --out "$W/proof.json" >"$W/prove.out" ||
	fail "log prove: $(cat "$W/prove.out")"
grep -q "islamabad.parley/islamabad-1" "$W/prove.out" || fail "prove: $(cat "$W/prove.out")"
wait_cosigned tehran islamabad
passed=1
stop tehran
NODE_EXTRA=$T_EXTRA start tehran

# 2: islamabad's next checkpoint is due checkpoint_interval (20 s) after the
# last (or at once after a start): it is stopped before that
cosigned=$(field tehran transcript.cosigning.islamabad)
pdrive send $(as tehran) --channel fm --lane ROUTINE --count 300 --ids "$W/b.ids" >/dev/null || fail "send b"
wait_count islamabad fm 557
stop islamabad
[[ $(field tehran transcript.cosigning.islamabad) == "$cosigned" ]] ||
	fail "islamabad's checkpoint came before the test could stop it"
zero_leaf "$W/islamabad/node-islamabad-1.db" "$(sed -n 200p "$W/b.ids")"
neighbour=$((LEAF_POS ^ 1))
NODE_EXTRA=$I_EXTRA start islamabad
for _ in $(seq 1 150); do
	[[ $(field tehran transcript.alarms_total) -ge 1 ]] && break
	sleep 0.2
done
[[ $(field tehran transcript.alarms_total) == 1 ]] || fail "tehran raised $(field tehran transcript.alarms_total) alarms"
kind=$(field tehran transcript.alarms.0.kind)
detail=$(field tehran transcript.alarms.0.detail)
[[ $kind == missing && $detail == *" at $neighbour does not lead to its root"* ]] ||
	fail "alarm $kind: $detail (expected entry $neighbour)"
[[ $(metric tehran parley_transcript_checkpoints_sliced_total) -ge 1 ]] || fail "the checkpoint was not checked in slices"
[[ $(field tehran transcript.cosigning.islamabad) == "$cosigned" ]] ||
	fail "tehran cosigned islamabad's log at $(field tehran transcript.cosigning.islamabad)"
passed=2
finish "ok: $passed checks"
