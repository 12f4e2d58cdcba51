#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A witness checks the inclusion proofs of its own envelopes in the peer's
# log with the leaf hashes its own log holds for them (docs/transcript.md,
# "Cosigning: what the peer checks"); when one of those rows is damaged,
# it computes the leaf from the envelope itself before it blames the peer.
# Tehran queues envelopes while islamabad is down; stopped, one of those
# envelopes' leaf rows in tehran's store is zeroed with the sqlite3 shell
# (damage the start's store check would find: it is off here, as for a row
# damaged while the node runs).  Restarted, islamabad takes them and its
# next checkpoint proves them in its log: tehran cosigns it, at its full
# size, and raises no alarm.
. "$(dirname "$0")/lib.sh"
NODE_EXTRA=$'checkpoint_interval = 10\ncheckpoint_entries = 1\nstore_check = off'
pair tehran islamabad
start tehran; start islamabad
charter fm tehran islamabad
wait_charter islamabad fm
wait_cosigned islamabad tehran
stop islamabad
pdrive send $(as tehran) --channel fm --lane ROUTINE --count 6 --ids "$W/t.ids" >/dev/null || fail "send"
stop tehran

id=$(sed -n 1p "$W/t.ids")
zero_leaf "$W/tehran/node-tehran-1.db" "$id"

start tehran; start islamabad
wait_count islamabad fm 6
pdrive check $(as islamabad) --channel fm --ids "$W/t.ids" || fail "islamabad check"
wait_cosigned islamabad tehran
passed=1
[[ $(pdrive get $(as tehran) --path /v1/status --field transcript.alarms_total) == 0 ]] ||
	fail "tehran raised an alarm: $(pdrive get $(as tehran) --path /v1/status --field transcript.alarms)"
# the witness did check that envelope's proof: islamabad's log holds it,
# and tehran's proof of it names islamabad's log
PARLEY_NODE="http://127.0.0.1:${API[tehran]}" PARLEY_AS=duty PARLEY_KEY="$W/tehran-duty.key" \
	parley --home "$W/tehran" log prove "$id" --out "$W/proof.json" >"$W/prove.out" ||
	fail "log prove: $(cat "$W/prove.out")"
grep -q "islamabad.parley/islamabad-1" "$W/prove.out" || fail "prove: $(cat "$W/prove.out")"
passed=2
stop tehran; stop islamabad
echo "ok: $passed checks"
