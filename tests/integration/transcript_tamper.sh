#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A row of islamabad's transcript is altered directly in its SQLite file
# (the stored hash of the largest subtree of the log tehran last cosigned).
# At the next checkpoint exchange tehran finds islamabad's new checkpoint
# inconsistent with the one it cosigned: it refuses to cosign, keeps both
# signed checkpoints as evidence, logs the alarm, counts it in /metrics,
# streams an "alarm" event and shows it in /v1/status; islamabad learns of
# the refusal (and notices its own store changed under it).
. "$(dirname "$0")/lib.sh"
NODE_EXTRA=$'checkpoint_interval = 10\ncheckpoint_entries = 1'
pair tehran islamabad
start tehran; start islamabad
charter fm tehran islamabad
wait_charter islamabad fm
pdrive send $(as tehran) --channel fm --lane ROUTINE --count 3 --ids "$W/t.ids" >/dev/null || fail "send t"
pdrive send $(as islamabad) --channel fm --lane ROUTINE --count 6 --ids "$W/i.ids" >/dev/null || fail "send i"
wait_count tehran fm 9

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
wait_cosigned islamabad tehran
m=$(field tehran transcript.cosigning.islamabad)
[[ $(field tehran transcript.alarms_total) == 0 ]] || fail "an alarm before the tampering"
stop islamabad

# The largest perfect subtree of the cosigned log: level floor(log2 m), index 0.
level=0
while (((1 << (level + 1)) <= m)); do level=$((level + 1)); done
key=$(printf '%020d/%02d' $(((1 << level) - 1)) "$level") # "%020 last leaf/%02 level"
db="$W/islamabad/node-islamabad-1.db"
before=$(sqlite3 "$db" "SELECT hex(value) FROM objects WHERE kind = 114 AND key = '$key'")
[[ ${#before} == 64 ]] || fail "no stored hash $key in $db"
sqlite3 "$db" "UPDATE objects SET value = zeroblob(32) WHERE kind = 114 AND key = '$key'" || fail "sqlite3"

start islamabad
pdrive watch $(as tehran) --type alarm --timeout 60 >"$W/alarm.event" &
watcher=$!
for _ in $(seq 1 50); do [[ -s "$W/alarm.event" ]] && break; sleep 0.1; done
pdrive send $(as islamabad) --channel fm --lane ROUTINE --count 2 --ids "$W/i.ids" >/dev/null || fail "send i 2"
for _ in $(seq 1 150); do
	[[ $(field tehran transcript.alarms_total) -ge 1 ]] && break
	sleep 0.2
done
passed=0
[[ $(field tehran transcript.alarms_total) == 1 ]] || fail "tehran raised $(field tehran transcript.alarms_total) alarms"
[[ $(field tehran transcript.alarms.0.peer) == islamabad ]] || fail "alarm peer"
kind=$(field tehran transcript.alarms.0.kind)
[[ $kind == inconsistent ]] || fail "alarm kind $kind: $(field tehran transcript.alarms.0.detail)"
passed=$((passed + 1))
# the cosigned size did not move: nothing inconsistent was cosigned
[[ $(field tehran transcript.cosigning.islamabad) == "$m" ]] || fail "tehran cosigned past the tampering"
# evidence: both signed checkpoints, the held one of size m and the offered one
pdrive get $(as tehran) --path /v1/log/export --field alarms.0 --out "$W/alarm.json" || fail "export"
grep -q "\"size\": $m" "$W/alarm.json" || fail "held checkpoint missing from the evidence"
[[ $(grep -c 'islamabad.parley/islamabad-1\\n' "$W/alarm.json") == 2 ]] || fail "evidence: $(cat "$W/alarm.json")"
passed=$((passed + 1))
# the log line, the metric, the event
grep -q 'msg="transcript alarm" peer=islamabad kind=inconsistent' "$W/tehran.log" || fail "no alarm log line"
curl -sf "http://127.0.0.1:${API[tehran]}/metrics" >"$W/metrics" || fail "/metrics"
grep -q '^parley_transcript_alarms_total{peer="islamabad",kind="inconsistent"} 1$' "$W/metrics" ||
	fail "metric: $(grep transcript_alarms "$W/metrics")"
# ... and `parley node status` shows it to the operator
parley --home "$W/tehran" --node "http://127.0.0.1:${API[tehran]}" --as duty --key "$W/tehran-duty.key" \
	node status >"$W/status.txt" || fail "parley node status"
grep -q "ALARM #0 inconsistent (peer islamabad)" "$W/status.txt" || fail "node status: $(cat "$W/status.txt")"
wait $watcher || fail "no alarm event"
grep -q '"kind":"inconsistent"' "$W/alarm.event" || fail "event: $(cat "$W/alarm.event")"
passed=$((passed + 1))
# islamabad is told, and noticed its own store no longer matches what it signed
for _ in $(seq 1 50); do field islamabad transcript.refused_by.tehran >/dev/null && break; sleep 0.2; done
field islamabad transcript.refused_by.tehran | grep -q inconsistent || fail "islamabad was not told"
[[ $(field islamabad transcript.alarms.0.kind) == own-log ]] || fail "islamabad did not notice its store changed"
passed=$((passed + 1))
# the alarm survives a restart of tehran
stop tehran
start tehran
[[ $(field tehran transcript.alarms_total) == 1 ]] || fail "alarm lost on restart"
passed=$((passed + 1))
finish "$passed passed, 0 failed"
