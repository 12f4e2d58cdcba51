#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A node restored from an old backup (threat-model.md): tehran's store is
# copied, tehran sends on, then the copy is put back.  Tehran's link
# numbering went back, and islamabad already holds items with the numbers
# tehran will use next.  Tehran must notice (its log says so and a metric
# counts it) and number past them: a new envelope, on a stream the restored
# store does not know, reaches islamabad instead of being dropped by
# islamabad's link as already held.  (A new envelope on a stream the
# backup is behind on is refused as a replay: the author's next sequence
# number is already taken at islamabad by what was sent after the backup.)
. "$(dirname "$0")/lib.sh"
pair tehran islamabad
start tehran; start islamabad
for ch in fm ops; do charter "$ch" tehran islamabad; wait_charter islamabad "$ch"; done
pdrive send $(as tehran) --channel fm --lane ROUTINE --count 10 --ids "$W/a.ids" >/dev/null || fail "send a"
wait_delivered tehran islamabad "$W/a.ids"
stop tehran
cp "$W/tehran/node-tehran-1.db" "$W/backup.db"
start tehran
pdrive send $(as tehran) --channel fm --lane ROUTINE --count 10 --ids "$W/b.ids" >/dev/null || fail "send b"
wait_delivered tehran islamabad "$W/b.ids"
stop tehran
cp "$W/backup.db" "$W/tehran/node-tehran-1.db"
rm -f "$W/tehran/node-tehran-1.db-wal" "$W/tehran/node-tehran-1.db-shm"
NODE_EXTRA="store_check = quick" start tehran
for _ in $(seq 1 50); do grep -q 'peer holds items this store never sent' "$W/tehran.log" && break; sleep 0.1; done
grep -q 'peer holds items this store never sent' "$W/tehran.log" || fail "tehran did not notice that its store went back"
curl -sf "http://127.0.0.1:${API[tehran]}/metrics" >"$W/metrics" || fail "metrics"
grep -q '^parley_link_store_behind_total [1-9]' "$W/metrics" || fail "not counted: $(grep store_behind "$W/metrics")"
# a stream the backup does not know: delivered
pdrive send $(as tehran) --channel ops --lane ROUTINE --count 3 --ids "$W/c.ids" >/dev/null || fail "send c"
wait_count islamabad ops 3 20
wait_delivered tehran islamabad "$W/c.ids"
pdrive check $(as islamabad) --channel ops --ids "$W/c.ids" >/dev/null || fail "ops on islamabad"
# nothing islamabad held was lost
pdrive check $(as islamabad) --channel fm --ids "$W/a.ids" --ids "$W/b.ids" >"$W/check.out" 2>&1 ||
	fail "fm on islamabad: $(cat "$W/check.out")"
finish "restored backup: new items numbered past the peer's resume point and delivered"
