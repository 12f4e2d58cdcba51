#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# islamabad forks its log: after tehran cosigned it at size m2, islamabad's
# operator puts back the transcript of an older copy of the store (size
# m1 < m2) and the node appends different entries.  When islamabad's log
# has grown past m2, its next checkpoint is a different tree from the one
# tehran cosigned (of the same size: a fork; or larger and inconsistent):
# tehran refuses and raises the alarm, keeping both signed checkpoints.
# (The transcript's rows are restored, not the whole file: a whole older
# file also takes back the link's resume points, which the peer's link
# refuses as a sequence gap before any checkpoint could travel.)
. "$(dirname "$0")/lib.sh"
NODE_EXTRA=$'checkpoint_interval = 10\ncheckpoint_entries = 1'
pair tehran islamabad
start tehran; start islamabad
charter fm tehran islamabad
wait_charter islamabad fm

field() { pdrive get $(as "$1") --path "${3:-/v1/status}" --field "$2"; }
wait_cosigned() {
	local size=0 by=0 wit=0
	for _ in $(seq 1 150); do
		size=$(field "$1" transcript.size)
		by=$(field "$1" "transcript.cosigned_by.$2")
		wit=$(field "$2" "transcript.cosigning.$1")
		[[ $size -gt 0 && $size == "$by" && $size == "$wit" ]] && return 0
		sleep 0.2
	done
	fail "$1's log of size $size: cosigned by $2 at ${by:-none}, witnessed at ${wit:-none}"
}
db="$W/islamabad/node-islamabad-1.db"
pdrive send $(as islamabad) --channel fm --lane ROUTINE --count 2 --ids "$W/i.ids" >/dev/null || fail "send 1"
wait_cosigned islamabad tehran
m1=$(field tehran transcript.cosigning.islamabad)
stop islamabad
cp "$db" "$W/old.db" || fail "copy"
start islamabad
# islamabad's log grows with tehran's envelopes: its own would be lost to it
# with the transcript (an envelope is stored as its entry), and islamabad
# would rightly refuse tehran's log, which lists them as islamabad's.
pdrive send $(as tehran) --channel fm --lane ROUTINE --count 3 --ids "$W/t0.ids" >/dev/null || fail "send 2"
wait_cosigned islamabad tehran
m2=$(field tehran transcript.cosigning.islamabad)
((m2 > m1)) || fail "no growth: $m1 $m2"
stop islamabad

# The transcript goes back, and the index of the envelopes it held (an
# envelope's bytes are its transcript entry: docs/formats.md): the 3
# envelopes taken since are gone from islamabad.  Not the rest of the store
# (an insider would rewrite it to match), so islamabad's own start-up check
# would stop it; what is tested here is that the peer notices.
sqlite3 "$db" "ATTACH '$W/old.db' AS old;
	DELETE FROM objects WHERE kind BETWEEN 113 AND 123 OR kind IN (101, 102);
	INSERT INTO objects SELECT * FROM old.objects WHERE kind BETWEEN 113 AND 123 OR kind IN (101, 102);" || fail "restore"
# (read in the file: once islamabad runs, a receipt record may be logged at
# once — tehran resumes its CONTROL lane from 1 and acknowledges again)
size=$(sqlite3 "$db" "SELECT CAST(value AS TEXT) FROM objects WHERE kind = 115 AND key = 'size'")
[[ $size == "$m1" ]] || fail "restore: size $size, not $m1"
NODE_EXTRA+=$'\nstore_check = off'
start islamabad
# different entries, until the forked log is at least as large as the cosigned one
for _ in $(seq 1 20); do
	pdrive send $(as islamabad) --channel fm --lane PRIORITY --count 1 --ids "$W/i.ids" >/dev/null || fail "send 3"
	(($(field islamabad transcript.size) > m2)) && break
done
for _ in $(seq 1 150); do
	[[ $(field tehran transcript.alarms_total) -ge 1 ]] && break
	sleep 0.2
done
passed=0
[[ $(field tehran transcript.alarms_total) == 1 ]] || fail "tehran raised $(field tehran transcript.alarms_total) alarms"
kind=$(field tehran transcript.alarms.0.kind)
[[ $kind == fork || $kind == inconsistent ]] || fail "alarm kind $kind"
[[ $(field tehran transcript.alarms.0.peer) == islamabad ]] || fail "alarm peer"
passed=$((passed + 1))
[[ $(field tehran transcript.cosigning.islamabad) == "$m2" ]] || fail "tehran cosigned the fork"
pdrive get $(as tehran) --path /v1/log/export --field alarms.0 --out "$W/alarm.json" || fail "export"
grep -q "\"size\": $m2" "$W/alarm.json" || fail "the cosigned checkpoint is not in the evidence"
[[ $(grep -c 'islamabad.parley/islamabad-1\\n' "$W/alarm.json") == 2 ]] || fail "evidence: $(cat "$W/alarm.json")"
# (read whole first: with pipefail, grep -q quitting early would fail curl)
metrics=$(curl -sf "http://127.0.0.1:${API[tehran]}/metrics") || fail "metrics"
grep -q "^parley_transcript_alarms_total{peer=\"islamabad\",kind=\"$kind\"} 1$" <<<"$metrics" ||
	fail "metric"
passed=$((passed + 1))
# tehran's own log is unaffected: islamabad still cosigns it
pdrive send $(as tehran) --channel fm --lane ROUTINE --count 2 --ids "$W/t.ids" >/dev/null || fail "send t"
wait_cosigned tehran islamabad
passed=$((passed + 1))
finish "$passed passed, 0 failed"
