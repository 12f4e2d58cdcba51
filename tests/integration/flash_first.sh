#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A FLASH queued while the peer was away overtakes the backlog queued
# before it when the peer comes back.  The node dials two connections
# (CONTROL+FLASH and the rest) and the second handshake ends a few ms after
# the first: the lanes below FLASH wait for the FLASH connection (at most
# 2 s) instead of starting the backlog meanwhile.  Without that wait the
# FLASH was stored after the first 30 or so of 300 (the demo's step 12
# failed 3 runs in 4).
. "$(dirname "$0")/lib.sh"
pair tehran islamabad
start tehran; start islamabad
for round in 1 2 3; do # a channel per round: its first envelope is the round's
	charter "fm$round" tehran islamabad
	wait_charter islamabad "fm$round"
done
passed=0
for round in 1 2 3; do
	stop islamabad
	pdrive send $(as tehran) --channel "fm$round" --lane ROUTINE --count 300 --ids "$W/r$round.ids" \
		>/dev/null || fail "backlog"
	pdrive send $(as tehran) --channel "fm$round" --lane FLASH --count 1 --ids "$W/f$round.ids" \
		>/dev/null || fail "flash"
	start islamabad
	wait_count islamabad "fm$round" 301 120
	first=$(pdrive get $(as islamabad) --path "/v1/channels/fm$round/envelopes?limit=1" \
		--field items.0.precedence 2>/dev/null)
	[[ $first == FLASH ]] || fail "round $round: islamabad stored a $first envelope before the FLASH"
	passed=$((passed + 1))
done
finish "$passed passed, 0 failed"
