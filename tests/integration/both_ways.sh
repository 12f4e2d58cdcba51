#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Two nodes, messages both ways on every lane, each side holds exactly what
# both sent, once, in order per author and lane.
. "$(dirname "$0")/lib.sh"
pair tehran islamabad
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
# an envelope a peer sent has no delivery states at its receiver (none are
# kept for it there: the node does not look them up)
pdrive get $(as islamabad) --path "/v1/envelopes/$(head -n 1 "$W/t.ids")" --field delivery \
	>"$W/recv.out" || fail "received envelope"
grep -qx '{}' "$W/recv.out" || fail "a received envelope shows delivery states: $(cat "$W/recv.out")"
pdrive get $(as tehran) --path "/v1/envelopes/$(head -n 1 "$W/t.ids")" --field delivery.islamabad.state \
	>"$W/own.out" || fail "own envelope"
grep -qx delivered "$W/own.out" || fail "tehran's envelope shows no delivery: $(cat "$W/own.out")"
# The "envelope" event of an envelope just stored (built from the envelope
# in hand, not read back) says what GET /v1/envelopes/ID says of it: at the
# receiver all of it, at the sender all but its delivery, queued then.
pdrive watch $(as tehran) --type envelope --timeout 30 >"$W/t.event" &
tw=$!
pdrive watch $(as islamabad) --type envelope --timeout 30 >"$W/i.event" &
iw=$!
for _ in $(seq 1 100); do
	(($(metric tehran parley_api_sse_subscribers) >= 1 && $(metric islamabad parley_api_sse_subscribers) >= 1)) && break
	sleep 0.1
done
pdrive send $(as tehran) --channel fm --lane IMMEDIATE --count 1 --ids "$W/e.ids" >/dev/null || fail "send e"
wait "$tw" || fail "no envelope event at tehran"
wait "$iw" || fail "no envelope event at islamabad"
eid=$(head -n 1 "$W/e.ids")
wait_delivered tehran islamabad "$W/e.ids"
pdrive get $(as tehran) --path "/v1/envelopes/$eid" >"$W/t.get" || fail "get at tehran"
pdrive get $(as islamabad) --path "/v1/envelopes/$eid" >"$W/i.get" || fail "get at islamabad"
python3 - "$W" "$eid" <<'PY' || fail "an envelope event differs from the envelope"
import json, sys
w, eid = sys.argv[1], sys.argv[2]
def event(f):
    return json.loads(open(f).read().split("\n")[-2])  # "watching", then the data
for node in ("t", "i"):
    ev, got = event(f"{w}/{node}.event"), json.load(open(f"{w}/{node}.get"))
    assert ev["id"] == eid, (node, ev["id"])
    if node == "t":
        assert ev["delivery"]["islamabad"]["state"] == "queued", ev["delivery"]
        assert got["delivery"]["islamabad"]["state"] == "delivered", got["delivery"]
        del ev["delivery"], got["delivery"]
    else:
        assert ev["delivery"] == {} and ev["origin"] == "tehran", ev
    assert ev == got, (node, ev, got)
PY
finish "6 passed, 0 failed"
