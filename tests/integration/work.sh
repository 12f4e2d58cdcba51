#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Officials' work on two real nodes (docs/workflows.md), through the parley CLI:
#   1. a recall with an effective time: the ambassador sends before it, is
#      refused after it (by the node, with the reason), what was sent stays;
#      restored, sends again; the peer took the new status lists too;
#   2. an unacknowledged FLASH escalates level 1, then (while the receiving
#      node is down: the deadline is a stored row) level 2 on restart, in
#      order, through escalate_command; an ack stops it on both sides, and
#      both sides recorded the escalations; a FLASH acked in time never
#      escalates;
#   3. a request: every illegal step is refused with its reason, the legal
#      ones make the history on both nodes;
#   4. incident reports: field-level refusals in the CLI and in the node.
. "$(dirname "$0")/lib.sh"

say() { echo "work: $*"; }
# run CMD...: output in $W/out, exit code in $RC
run() {
	"$@" >"$W/out" 2>&1
	RC=$?
}
expect_rc() { # RC WHAT
	[[ $RC == "$1" ]] || fail "$2: exit $RC, not $1: $(cat "$W/out")"
}
has() { grep -q -- "$1" "$W/out" || fail "expected '$1' in: $(cat "$W/out")"; }
json_id() { sed -n 's/.*"id":"\([0-9a-f]\{64\}\)".*/\1/p' "$W/out" | head -n 1; }

# official S ID ROLE: one more official of state S (key in $W/S-ID.key)
official() {
	parley key new --out "$W/$1-$2.key" --kdf interactive >/dev/null || fail "key $1 $2"
	parley --home "$W/$1" official issue --id "$2" --name "$2 of $1" --title "$3" --role "$3" \
		--key "$W/$1-$2.key" --from -1h >/dev/null || fail "issue $1 $2"
}
# act S ID parley-args...: parley as official ID of S against S's node
act() {
	local s=$1 id=$2
	shift 2
	parley --home "$W/$s" --node "http://127.0.0.1:${API[$s]}" --as "$id" --key "$W/$s-$id.key" "$@"
}

state tehran
state islamabad
official tehran amb ambassador
official islamabad chief chief
peer tehran islamabad
peer islamabad tehran
cat >"$W/hook.sh" <<EOF
#!/bin/sh
printf '%s\n' "\$PARLEY_ALERT" >>"$W/alerts"
EOF
chmod +x "$W/hook.sh"
start tehran
NODE_EXTRA="escalate_command = $W/hook.sh" start islamabad
# FLASH: acknowledge within 3 s; level 1 the duty officers (alerted once),
# level 2 the chief (again after 2 s, then after 60 s the envelope is overdue)
pdrive charter $(as tehran) --name fm --home "$W/tehran" --home "$W/islamabad" \
	--member duty@tehran --member amb@tehran --member duty@islamabad --member chief@islamabad \
	--kind message --kind ack --kind read --kind incident --kind request --kind request-step \
	--rule 'FLASH ack=3 level=role:duty/2/0 level=id:chief/60/1' >/dev/null || fail "charter"
wait_charter islamabad fm
passed=0

# ---------------------------------------------------------------- 1. recall
run act tehran amb --json send --channel fm "before the recall"
expect_rc 0 "amb sends while active"
early=$(json_id)
run parley --home "$W/tehran" --node "http://127.0.0.1:${API[tehran]}" official recall amb \
	--reason "called home for consultations" --at +3s
expect_rc 0 "recall"
has "took it and passes it to its peers"
run act tehran amb send --channel fm "still before the effective time"
expect_rc 0 "amb before the recall takes effect"
sleep 4
run act tehran amb send --channel fm "after the recall"
[[ $RC != 0 ]] || fail "a recalled ambassador could send: $(cat "$W/out")"
grep -qi "recalled" "$W/out" || fail "refusal without the reason: $(cat "$W/out")"
wait_count islamabad fm 2
run act islamabad duty read "$early"
expect_rc 0 "what amb sent while active stays on islamabad"
has "before the recall"
cp "$W/tehran/status.list" "$W/recall.list"
run parley --home "$W/tehran" --node "http://127.0.0.1:${API[tehran]}" official restore amb --reason "back at post"
expect_rc 0 "restore"
# the older list (the recall) handed to the node again is refused: a node
# never goes back to an older status list
# (logged, counted, and neither node's store changes: checkpoint rows aside)
printf '{"status_list":"%s"}' "$(base64 -w0 "$W/recall.list")" >"$W/old.json"
wait_quiet tehran
stale='parley_records_rejected_total{record="status-list",reason="stale"}'
stale0=$(metric tehran "$stale")
store_rows tehran "$W/tehran.rows"
store_rows islamabad "$W/islamabad.rows"
code=$(curl -s -o "$W/out" -w '%{http_code}' -H 'Content-Type: application/json' \
	--data-binary @"$W/old.json" "http://127.0.0.1:${API[tehran]}/v1/status-lists")
[[ $code == 422 ]] || fail "an older status list: HTTP $code: $(cat "$W/out")"
has "stale"
grep -q 'msg="status list refused" from=api reason=stale ' "$W/tehran.log" || fail "no log line for the older list"
(($(metric tehran "$stale") == stale0 + 1)) || fail "the older list was not counted"
store_same tehran "$W/tehran.rows" 115 116 117 118 119 120 121 122
store_same islamabad "$W/islamabad.rows" 115 116 117 118 119 120 121 122
run act tehran amb send --channel fm "back at post"
expect_rc 0 "a restored ambassador sends again"
wait_count islamabad fm 3
# the list the node holds, again: harmless
run parley --home "$W/tehran" --node "http://127.0.0.1:${API[tehran]}" official push
expect_rc 0 "the same version again"
passed=$((passed + 1))
say "recall and restore: ok"

# ---------------------------------------------------------------- 2. escalation
run act tehran duty --json send --channel fm --precedence FLASH "Firing reported at Taftan: confirm"
expect_rc 0 "FLASH"
flash=$(json_id)
run act tehran duty --json send --channel fm --precedence FLASH "Second FLASH, acknowledged at once"
quick=$(json_id)
wait_count islamabad fm 5
run act islamabad duty ack "$quick"
expect_rc 0 "ack of the second FLASH"
run act islamabad duty pending
expect_rc 0 "pending"
has "$flash"
grep -q "$quick" "$W/out" && fail "an acknowledged FLASH is still pending"
# level 1 (the duty officer) after about 3 s
for _ in $(seq 1 100); do grep -q '"level":1' "$W/alerts" 2>/dev/null && break; sleep 0.1; done
grep -q "\"id\":\"$flash\"" "$W/alerts" || fail "no level-1 alert for the FLASH: $(cat "$W/alerts" 2>/dev/null)"
grep '"level":1' "$W/alerts" | grep -q '"officials":\["duty"\]' || fail "level 1 did not resolve to duty: $(cat "$W/alerts")"
# down through the next deadline: the deadline is a row, level 2 fires at restart
stop islamabad
sleep 3
NODE_EXTRA="escalate_command = $W/hook.sh" start islamabad
for _ in $(seq 1 100); do grep -q '"level":2' "$W/alerts" 2>/dev/null && break; sleep 0.1; done
grep -q '"level":2' "$W/alerts" || fail "no level-2 alert after the restart: $(cat "$W/alerts")"
grep '"level":2' "$W/alerts" | grep -q '"officials":\["chief"\]' || fail "level 2 did not resolve to chief"
[[ $(grep -n '"level":1' "$W/alerts" | head -n 1 | cut -d: -f1) -lt $(grep -n '"level":2' "$W/alerts" | head -n 1 | cut -d: -f1) ]] ||
	fail "levels out of order: $(cat "$W/alerts")"
grep -q "\"id\":\"$quick\"" "$W/alerts" && fail "the FLASH acknowledged in time was escalated"
run act islamabad chief ack "$flash"
expect_rc 0 "the chief acknowledges"
nalerts=$(wc -l <"$W/alerts")
# tehran sees who acknowledged, and recorded the escalation itself
for _ in $(seq 1 50); do
	run act tehran duty --json read "$flash"
	grep -q '"acks":\[{' "$W/out" && break
	sleep 0.1
done
has '"by":"chief"'
has '"escalations":\[{'
run act islamabad duty pending
expect_rc 0 "pending after the ack"
grep -q "$flash" "$W/out" && fail "the acknowledged FLASH is still pending: $(cat "$W/out")"
sleep 2
[[ $(wc -l <"$W/alerts") == "$nalerts" ]] || fail "alerts went on after the acknowledgement"
# the receipts are checked: an ack of an unknown envelope is refused
run pdrive send $(as islamabad) --channel fm --kind ack --ref "$(printf '%064d' 0)" --count 1
[[ $RC != 0 ]] || fail "an ack of an envelope nobody holds was accepted"
passed=$((passed + 1))
say "escalation: ok"

# ---------------------------------------------------------------- 3. request
run act tehran duty --json request new --channel fm --to islamabad --type extradition \
	--subject "Extradition of A. B." --summary "Wanted for the 2026 Quetta bombing." \
	--legal-basis "Bilateral treaty of 1960, art. 4"
expect_rc 0 "request"
req=$(json_id)
wait_count islamabad fm 8
step() { # S ID TO EXPECTED-RC [TEXT]
	run act "$1" "$2" request step "$req" --to "$3" --note "step to $3"
	expect_rc "$4" "$1 steps to $3"
	[[ -z ${5:-} ]] || has "$5"
}
step islamabad duty granted 3 "cannot become granted"
step tehran duty acknowledged 3 "only the requested state"
step islamabad duty acknowledged 0
step islamabad duty under-review 0
step islamabad chief granted 0
step tehran duty withdrawn 3 "final"
for s in tehran islamabad; do
	for _ in $(seq 1 50); do
		run act "$s" duty request show "$req"
		grep -q "status: granted" "$W/out" && break
		sleep 0.1
	done
	has "status: granted"
	[[ $(grep -c "by .*@islamabad: step to" "$W/out") == 3 ]] || fail "$s: history: $(cat "$W/out")"
done
passed=$((passed + 1))
say "request workflow: ok"

# ---------------------------------------------------------------- 4. incident
run act islamabad duty report incident --channel fm --time -1h --lat 29.0 --lon 61.5 \
	--datum WGS84 --place "Taftan" --category cross-border-fire --severity 7 --description "x"
expect_rc 2 "a bad report"
has "severity"
run act islamabad duty --json report incident --channel fm --time -1h --lat 28.9613 \
	--lon 61.5961 --datum WGS84 --place "Taftan crossing" --category cross-border-fire \
	--severity 3 --injured 2 --description "Mortar rounds landed 300 m from the crossing." \
	--action "Investigate the firing position."
expect_rc 0 "a good report"
rep=$(json_id)
run pdrive send $(as islamabad) --channel fm --kind incident --count 1
[[ $RC != 0 ]] || fail "the node accepted an incident that is not a form"
for _ in $(seq 1 50); do
	run act tehran duty --json read "$rep"
	grep -q "Mortar\|incident" "$W/out" && break
	sleep 0.1
done
has '"kind":"incident"'
passed=$((passed + 1))
say "incident reports: ok"

finish "$passed passed, 0 failed"
