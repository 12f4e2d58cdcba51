#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Two nodes, messages both ways on every lane, each side holds exactly what
# both sent, once, in order per author and lane.
. "$(dirname "$0")/lib.sh"
state tehran; state islamabad
peer tehran islamabad; peer islamabad tehran
start tehran; start islamabad
charter fm tehran islamabad
wait_charter islamabad fm
for lane in FLASH IMMEDIATE PRIORITY ROUTINE; do
	pdrive send $(as tehran) --channel fm --lane $lane --count 25 --ids "$W/t.ids" >/dev/null || fail "send t $lane"
	pdrive send $(as islamabad) --channel fm --lane $lane --count 25 --ids "$W/i.ids" >/dev/null || fail "send i $lane"
done
wait_count islamabad fm 200
wait_count tehran fm 200
pdrive check $(as islamabad) --channel fm --ids "$W/t.ids" --ids "$W/i.ids" || fail "islamabad check"
pdrive check $(as tehran) --channel fm --ids "$W/t.ids" --ids "$W/i.ids" || fail "tehran check"
wait_delivered tehran islamabad "$W/t.ids"
wait_delivered islamabad tehran "$W/i.ids"
# the channel listing shows the same delivery states as the envelope itself
pdrive get $(as tehran) --path "/v1/channels/fm/envelopes?limit=500" --field items.0.delivery.islamabad.state \
	>"$W/page.out" || fail "channel page"
grep -qx delivered "$W/page.out" || fail "channel page shows no delivery: $(cat "$W/page.out")"
finish "3 passed, 0 failed"
