#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Two nodes exchange envelopes both ways; each signs checkpoints of its
# transcript, the other cosigns them, and both show it in /v1/status: every
# node's log is cosigned by its peer at its full size, each witnessed the
# other's log at that size, no alarm was raised, and a proof of receipt is
# served for an envelope, proving it in the peer's log.
. "$(dirname "$0")/lib.sh"
NODE_EXTRA=$'checkpoint_interval = 10\ncheckpoint_entries = 1'
pair tehran islamabad
start tehran; start islamabad
charter fm tehran islamabad
wait_charter islamabad fm
pdrive send $(as tehran) --channel fm --lane ROUTINE --count 5 --ids "$W/t.ids" >/dev/null || fail "send t"
pdrive send $(as islamabad) --channel fm --lane FLASH --count 4 --ids "$W/i.ids" >/dev/null || fail "send i"
wait_count islamabad fm 9
wait_count tehran fm 9

field() { pdrive get $(as "$1") --path "${3:-/v1/status}" --field "$2"; }
wait_cosigned tehran islamabad
wait_cosigned islamabad tehran
passed=2
# Each log holds every envelope (9), the charter, and more (receipts).
for s in tehran islamabad; do
	size=$(field $s transcript.size)
	[[ $size -ge 10 ]] || fail "$s's transcript has only $size entries"
	[[ $(field $s transcript.alarms_total) == 0 ]] || fail "$s raised an alarm: $(field $s transcript.alarms)"
	[[ $(field $s log_size) == "$size" ]] || fail "$s: log_size differs from the transcript's size"
	# the checkpoint text is a C2SP checkpoint of this node's log
	note=$(field $s transcript.last_checkpoint.note)
	[[ $(printf '%s\n' "$note" | head -n 1) == "$s.parley/$s-1" ]] || fail "$s: checkpoint origin: $note"
	[[ $(printf '%s\n' "$note" | sed -n 2p) == "$size" ]] || fail "$s: checkpoint size: $note"
	curl -sf "http://127.0.0.1:${API[$s]}/metrics" >"$W/$s.metrics" || fail "$s: /metrics"
	grep -q "^parley_transcript_size $size$" "$W/$s.metrics" || fail "$s: parley_transcript_size"
	grep -q "^parley_transcript_alarms_total" "$W/$s.metrics" && fail "$s: an alarm counted"
done
passed=$((passed + 1))
# A proof of receipt for tehran's first envelope, from tehran's node: it is
# in islamabad's log (checkpoint signed by islamabad-1, cosigned by tehran)
# and in tehran's own.
id=$(head -n 1 "$W/t.ids")
pdrive get $(as tehran) --path "/v1/log/proof/$id" --out "$W/proof.json" || fail "proof"
logs=$(pdrive get $(as tehran) --path "/v1/log/proof/$id" --field proofs | grep -o '"log":"[^"]*"' | sort | tr '\n' ' ')
[[ $logs == '"log":"islamabad.parley/islamabad-1" "log":"tehran.parley/tehran-1" ' ]] || fail "proof logs: $logs"
# an unknown envelope has no proof
pdrive get $(as tehran) --path "/v1/log/proof/$(printf '%064d' 0)" >/dev/null 2>&1 && fail "proof of nothing"
passed=$((passed + 1))
finish "$passed passed, 0 failed"
