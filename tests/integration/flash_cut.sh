#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A receiver taking a batch of ROUTINE items stops when bytes wait on the
# peer's CONTROL+FLASH connection, takes the FLASH first and goes on with
# the rest (docs/protocol.md, "Two connections per peer"): FLASH envelopes
# submitted one by one while 20,000 ROUTINE drain must cut at least one
# batch short (parley_link_batches_cut_total; 0 without the cut), and the
# cut must lose, repeat or reorder nothing: every envelope is stored once,
# the ROUTINE stream in its order (a gap or a repeat in a stream is refused
# by the receiver, and counted), and the queue ends empty.
. "$(dirname "$0")/lib.sh"
pair tehran islamabad
start tehran; start islamabad
charter fm tehran islamabad
wait_charter islamabad fm
backlog_drain tehran islamabad fm 20000
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
finish "1 passed, 0 failed"
