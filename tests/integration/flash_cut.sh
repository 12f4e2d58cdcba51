#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A receiver taking a batch of ROUTINE items stops when bytes wait on the
# peer's CONTROL+FLASH connection, takes the FLASH first and goes on with
# the rest (docs/protocol.md, "Two connections per peer"): FLASH envelopes
# submitted one by one while 20,000 ROUTINE drain must cut at least one
# batch short (parley_link_batches_cut_total; 0 without the cut), and the
# cut must lose, repeat or reorder nothing: every envelope is stored once,
# the ROUTINE stream in its order (a gap or a repeat in a stream is refused
# by the receiver, and counted), and the queue ends empty.  The events of
# a batch taken while a FLASH waited come after the FLASH's
# (parley_events_behind_flash_total; 0 without it), and a console that
# follows /v1/events still sees every envelope once, the ROUTINE ones in
# their order.
. "$(dirname "$0")/lib.sh"
pair tehran islamabad
start tehran; start islamabad
charter fm tehran islamabad
wait_charter islamabad fm
backlog_drain tehran islamabad fm 20000
# a duty console at islamabad, from now on (what the drain took before it
# came is not its to see)
pdrive watch $(as islamabad) --type envelope --count 20100 --timeout 300 >"$W/events.out" 2>"$W/watch.err" &
WATCH=$!
for _ in $(seq 1 100); do grep -q watching "$W/events.out" && break; sleep 0.05; done
# one FLASH at a time while the backlog drains, until a batch was cut (at
# most 40: each lands in a batch being taken about half of the time)
: >"$W/flash.ids"
sent=0 cut=0
for _ in $(seq 1 40); do
	pdrive send $(as tehran) --channel fm --lane FLASH --count 1 --ids "$W/one.ids" >/dev/null || fail "flash"
	cat "$W/one.ids" >>"$W/flash.ids"
	sent=$((sent + 1))
	cut=$(metric islamabad parley_link_batches_cut_total)
	((cut > 0)) && break
	(($(metric tehran 'parley_queue_depth{peer="islamabad",lane="ROUTINE"}') > 2000)) || break
done
echo "$sent FLASH sent during the drain; islamabad cut $cut batches"
((cut > 0)) || fail "no ROUTINE batch was cut short for a FLASH"
wait_count islamabad fm $((20000 + sent)) 300
check_stored_once islamabad fm "$W/routine.ids" "$W/flash.ids"
for _ in $(seq 1 200); do
	(($(metric tehran 'parley_queue_depth{peer="islamabad",lane="ROUTINE"}') == 0)) && break
	sleep 0.05
done
left=$(metric tehran 'parley_queue_depth{peer="islamabad",lane="ROUTINE"}')
((left == 0)) || fail "$left ROUTINE still queued at tehran after every receipt"
behind=$(metric islamabad parley_events_behind_flash_total)
((behind > 0)) || fail "no event was put behind a FLASH"
# every envelope's event once: the FLASHes all, the ROUTINE ones a run of
# the stream in its order up to its last
last=$(tail -n 1 "$W/routine.ids")
for _ in $(seq 1 100); do grep -q "\"id\":\"$last\"" "$W/events.out" && break; sleep 0.1; done
kill "$WATCH" 2>/dev/null; wait "$WATCH" 2>/dev/null
dropped=$(metric islamabad parley_api_sse_dropped_total)
python3 - "$W/events.out" "$W/routine.ids" "$W/flash.ids" "$dropped" <<'PY' || fail "the events seen at islamabad"
import json, sys
evs = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
routine = [l.strip() for l in open(sys.argv[2]) if l.strip()]
flash = [l.strip() for l in open(sys.argv[3]) if l.strip()]
dropped = int(sys.argv[4])
seen_r = [e["id"] for e in evs if e["precedence"] == "ROUTINE"]
seen_f = [e["id"] for e in evs if e["precedence"] == "FLASH"]
assert seen_r, "no ROUTINE event"
k = routine.index(seen_r[0])
bad = next((i for i, x in enumerate(seen_r) if k + i >= len(routine) or routine[k + i] != x), None)
assert bad is None, "ROUTINE event %d of those seen (#%d of the stream) is out of order or repeated" % (bad, k + bad)
assert len(set(seen_f)) == len(seen_f) and set(seen_f) <= set(flash), "FLASH events repeated or unknown"
# a console slower than the drain is dropped (parley_api_sse_dropped_total,
# 1 MiB unsent): what it saw must still be a run of the stream with the
# FLASHes among it; one that kept up saw everything
first_f = next(i for i, e in enumerate(evs) if e["precedence"] == "FLASH")
assert any(e["precedence"] == "ROUTINE" for e in evs[first_f:]), "no ROUTINE event after a FLASH"
if dropped == 0:
    assert len(seen_r) == len(routine) - k and sorted(seen_f) == sorted(flash), "events missing"
else:
    assert len(seen_r) >= 1000, "only %d ROUTINE events before the console was dropped" % len(seen_r)
print("%d ROUTINE events in their order (from #%d), %d FLASH events among them; console dropped: %d" % (len(seen_r), k, len(seen_f), dropped))
PY
echo "$behind events were put behind a FLASH"
finish "1 passed, 0 failed"
