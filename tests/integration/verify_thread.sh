#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# [node] verify_thread (node/verifier.h): the signatures of the API's
# submissions are checked by a thread of the node while the event loop
# takes them in order.  Each envelope's signature is checked once, by the
# thread or the loop; a broken one is refused with the same reason as
# without the thread, and what follows it in its stream is a gap; with
# verify_thread = false the loop checks every one, with the same outcome.
. "$(dirname "$0")/lib.sh"
pair tehran islamabad
start tehran; start islamabad
charter bulk tehran islamabad
wait_charter islamabad bulk

# run LABEL LANE: 200 envelopes in requests of 50, then a request of five
# whose third has a broken signature.
run() {
	local label=$1 lane=$2
	local v0 t0 n0
	v0=$(metric tehran parley_signature_verifications_total)
	t0=$(metric tehran parley_signature_verifications_thread_total)
	pdrive send $(as tehran) --channel bulk --lane "$lane" --count 200 --batch 50 --ids "$W/$label.ids" >/dev/null ||
		fail "$label: the batches"
	local v=$(($(metric tehran parley_signature_verifications_total) - v0))
	local t=$(($(metric tehran parley_signature_verifications_thread_total) - t0))
	echo "$label: 200 envelopes, $v signatures checked, $t of them by the thread"
	[[ $v == 200 ]] || fail "$label: $v signature checks for 200 envelopes (each once)"
	THREAD=$t
	pdrive send $(as tehran) --channel bulk --lane "$lane" --count 5 --batch 5 --corrupt 3 --ids "$W/$label-c.ids" >"$W/$label-c.out" ||
		fail "$label: the batch with a broken envelope"
	printf '1 201 ok\n2 201 ok\n3 422 bad-signature\n4 422 sequence\n5 422 sequence\n' | diff - "$W/$label-c.out" >&2 ||
		fail "$label: batch results"
}

run thread ROUTINE
((THREAD > 0)) || fail "the verifier thread checked none of 200 signatures"
wait_count islamabad bulk 202
pdrive check $(as islamabad) --channel bulk --ids "$W/thread.ids" --ids "$W/thread-c.ids" || fail "check (thread)"
wait_delivered tehran islamabad "$W/thread.ids"
grep -q "envelope refused.*bad-signature" "$W/tehran.log" || fail "the broken signature was not logged"

stop tehran
NODE_EXTRA="verify_thread = false" start tehran
run loop PRIORITY
[[ $THREAD == 0 ]] || fail "verify_thread = false, yet the thread checked $THREAD signatures"
wait_count islamabad bulk 404
pdrive check $(as islamabad) --channel bulk --ids "$W/thread.ids" --ids "$W/thread-c.ids" \
	--ids "$W/loop.ids" --ids "$W/loop-c.ids" || fail "check (loop)"
wait_delivered tehran islamabad "$W/loop.ids"
finish "2 passed, 0 failed"
