#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Every refusal the node makes, through its real API and links: forged
# signature, suspended, revoked and expired authors, non-member author, kind and precedence the
# charter does not allow, replay, sequence gap, a date far in the future,
# a charter signed by one state only, a peer whose root is not pinned, a
# peer whose TLS key is not the key of its node record.  Each is refused with its reason and nothing is stored.
. "$(dirname "$0")/lib.sh"
state tehran; state islamabad; state kabul
peer tehran islamabad; peer islamabad tehran
peer kabul tehran # kabul pins tehran, tehran does not pin kabul
for who in clerk guest gone temp; do
	parley key new --out "$W/$who.key" --kdf interactive >/dev/null
	until=()
	[[ $who == temp ]] && until=(--until +10s) # expires while the test runs
	parley --home "$W/tehran" official issue --id $who --name "$who" --title Clerk --role staff \
		--key "$W/$who.key" --from -1h "${until[@]}" >/dev/null || fail "issue $who"
done
temp_expires=$(($(date +%s) + 10))
# checkpoints on their timer only once an hour: no checkpoint traffic queued
# while a refusal's store snapshots are compared (the first exchange still
# happens at start)
export NODE_EXTRA="checkpoint_interval = 3600"
start tehran; start islamabad
pdrive charter $(as tehran) --name fm --home "$W/tehran" --home "$W/islamabad" \
	--member duty@tehran --member clerk@tehran --member gone@tehran --member temp@tehran \
	--member duty@islamabad --kind message --lanes 234 >/dev/null ||
	fail "charter"
wait_charter islamabad fm
pdrive send $(as tehran) --channel fm --lane ROUTINE --count 3 --ids "$W/ok.ids" >/dev/null || fail "baseline"
wait_count islamabad fm 3
wait_delivered tehran islamabad "$W/ok.ids"
# each node's first checkpoint exchange (about a second after start) is over
# before any snapshot: with checkpoint_interval = 3600 no other follows
for s in tehran islamabad; do
	for _ in $(seq 1 100); do grep -q 'msg="checkpoint cosigned"' "$W/$s.log" && break; sleep 0.1; done
	grep -q 'msg="checkpoint cosigned"' "$W/$s.log" || fail "$s never cosigned a checkpoint"
done
passed=0
# Checkpoints and cosignatures (node store kinds 115-122) are made on the
# node's own timer, refusal or not; the transcript itself (113, 114) and
# everything else must stay as it was.
CHECKPOINTS="115 116 117 118 119 120 121 122"
# refuse MODE LANE EXPECT [extra...]: the node answers 422 with the reason,
# logs it, counts it in /metrics, and neither node's store changes.
refuse() {
	local mode=$1 lane=$2 want=$3
	shift 3
	local before
	before=$(metric tehran "parley_envelopes_rejected_total{reason=\"$want\"}")
	wait_quiet tehran
	wait_quiet islamabad
	store_rows tehran "$W/tehran.rows"
	store_rows islamabad "$W/islamabad.rows"
	pdrive forge $(as tehran) --channel fm --lane "$lane" --mode "$mode" --expect "$want" "$@" >"$W/forge.out" ||
		fail "$mode: wanted $want, got: $(cat "$W/forge.out")"
	grep -q "msg=\"envelope refused\" from=api reason=$want " "$W/tehran.log" || fail "$mode: no log line for $want"
	(($(metric tehran "parley_envelopes_rejected_total{reason=\"$want\"}") == before + 1)) ||
		fail "$mode: $want not counted in /metrics"
	store_same tehran "$W/tehran.rows" $CHECKPOINTS
	store_same islamabad "$W/islamabad.rows" $CHECKPOINTS
	passed=$((passed + 1))
}
refuse forged ROUTINE bad-signature
refuse replay ROUTINE replay
refuse gap ROUTINE sequence
refuse kind ROUTINE kind-not-allowed
refuse future ROUTINE clock
refuse ok FLASH precedence-not-allowed
refuse other-author ROUTINE not-member --author guest --author-key "$W/guest.key"
# the next sequence number is only for members of a channel that exists
pdrive get --api "http://127.0.0.1:${API[tehran]}" --as guest --key "$W/guest.key" --state tehran \
	--path "/v1/channels/fm/next?lane=ROUTINE" >"$W/next.out" 2>&1 && fail "next for a non-member"
grep -q "HTTP 403" "$W/next.out" || fail "next for a non-member: $(cat "$W/next.out")"
pdrive get $(as tehran) --path "/v1/channels/nope/next?lane=ROUTINE" >"$W/next.out" 2>&1 && fail "next, no channel"
grep -q "HTTP 404" "$W/next.out" || fail "next for no channel: $(cat "$W/next.out")"
passed=$((passed + 2))
# clerk is a member until suspended; the node learns it on SIGHUP
parley --home "$W/tehran" official suspend clerk --reason "under review" --no-push >/dev/null || fail "suspend"
kill -HUP "${PID[tehran]}"
sleep 0.5
refuse other-author ROUTINE suspended --author clerk --author-key "$W/clerk.key"
# revoked for good (a lost key), learnt the same way
parley --home "$W/tehran" official revoke gone --reason "key lost" --no-push >/dev/null || fail "revoke"
kill -HUP "${PID[tehran]}"
sleep 0.5
refuse other-author ROUTINE revoked --author gone --author-key "$W/gone.key"
# a credential past its validity period
while (($(date +%s) <= temp_expires)); do sleep 0.5; done
refuse other-author ROUTINE expired --author temp --author-key "$W/temp.key"
# a charter signed by one state only: nothing flows on it
parley --home "$W/tehran" --node "http://127.0.0.1:${API[tehran]}" --as duty --key "$W/tehran-duty.key" \
	channel propose --name half --member duty --member-file "$W/islamabad/officials/duty.cred" \
	--submit >/dev/null || fail "propose half"
pdrive forge $(as tehran) --channel half --lane ROUTINE --mode ok --expect unknown-channel >"$W/forge.out" ||
	fail "a one-sided charter: $(cat "$W/forge.out")"
passed=$((passed + 1))
# nothing of that was stored or sent: each node holds exactly the 3 good ones
wait_count islamabad fm 3
pdrive check $(as tehran) --channel fm --ids "$W/ok.ids" || fail "tehran stored a refused envelope"
pdrive check $(as islamabad) --channel fm --ids "$W/ok.ids" || fail "islamabad stored a refused envelope"
passed=$((passed + 2))

# a node of an unpinned state is refused at the link
printf '\n[peer tehran]\naddress = 127.0.0.1:%s\n' "${PEER[tehran]}" >"$W/kabul.peers"
start kabul
for _ in $(seq 1 50); do grep -q 'no pinned state\|not a configured peer' "$W/tehran.log" && break; sleep 0.1; done
grep -q 'no pinned state\|not a configured peer' "$W/tehran.log" || fail "kabul was not refused"
(($(metric tehran 'parley_link_refused_total{reason="unknown-root"}') > 0)) || fail "kabul's refusal was not counted"
passed=$((passed + 1))

# a node presenting a TLS key that is not the one in its node record
stop islamabad
cp "$W/islamabad/nodes/islamabad-1.key" "$W/islamabad-1.key.real"
parley --home "$W/islamabad" node init --name islamabad-1 --addr "127.0.0.1:${PEER[islamabad]}" --force >/dev/null
cp "$W/islamabad-1.key.real" "$W/islamabad/nodes/islamabad-1.key" # record of the new key, old key file
start islamabad 2>/dev/null || true
for _ in $(seq 1 50); do grep -q 'not the key in node' "$W/tehran.log" && break; sleep 0.1; done
grep -q 'not the key in node' "$W/tehran.log" || fail "a node with the wrong key was not refused"
(($(metric tehran 'parley_link_refused_total{reason="bad-signature"}') > 0)) || fail "the wrong key was not counted"
passed=$((passed + 1))
finish "$passed passed, 0 failed"
