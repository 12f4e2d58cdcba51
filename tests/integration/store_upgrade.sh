#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A node upgraded over a store of the schema before (docs/formats.md,
# schema step 2): islamabad holds envelopes and is stopped; its node store
# and its registry are put back in the layout of version 1 (the table
# without rowid) with the sqlite3 shell; tehran sends more meanwhile.
# Restarted, islamabad says it is upgrading its store, copies it to
# version 2 and runs: nothing it held is lost, what was queued arrives,
# in order, once; the registry, which the node only reads, is read as it
# is (version 1) until the CLI writes it.
. "$(dirname "$0")/lib.sh"
pair tehran islamabad
start tehran; start islamabad
charter fm tehran islamabad
wait_charter islamabad fm
pdrive send $(as tehran) --channel fm --lane ROUTINE --count 60 --size 300 --ids "$W/t.ids" >/dev/null || fail "send a"
wait_delivered tehran islamabad "$W/t.ids"
stop islamabad
db=$W/islamabad/node-islamabad-1.db
reg=$W/islamabad/state.db
for f in "$db" "$reg"; do
	[[ $(sqlite3 "$f" "PRAGMA user_version") == 2 ]] || fail "$f is not at schema version 2"
	sqlite3 "$f" "BEGIN;
		CREATE TABLE objects_v1 (kind INTEGER NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL,
			updated INTEGER NOT NULL DEFAULT (unixepoch()), PRIMARY KEY (kind, key)) WITHOUT ROWID;
		INSERT INTO objects_v1 SELECT kind, key, value, updated FROM objects;
		DROP TABLE objects;
		ALTER TABLE objects_v1 RENAME TO objects;
		PRAGMA user_version = 1;
		COMMIT;" || fail "cannot turn $f back into version 1"
done
rows=$(sqlite3 "$db" "SELECT count(*) FROM objects")
pdrive send $(as tehran) --channel fm --lane ROUTINE --count 40 --size 300 --ids "$W/t.ids" >/dev/null || fail "send b"
NODE_EXTRA="store_check = quick" start islamabad
grep -q 'msg="upgrading the store" from=1 to=2' "$W/islamabad.log" || fail "no word of the upgrade in the log"
[[ $(sqlite3 "$db" "PRAGMA user_version") == 2 ]] || fail "the node store was not upgraded"
[[ $(sqlite3 "$db" "SELECT count(*) FROM sqlite_master WHERE name = 'objects_key'") == 1 ]] || fail "no key index"
[[ $(sqlite3 "$reg" "PRAGMA user_version") == 1 ]] || fail "the registry was written by the node"
wait_count islamabad fm 100 30
wait_delivered tehran islamabad "$W/t.ids"
pdrive check $(as islamabad) --channel fm --ids "$W/t.ids" >"$W/check.out" 2>&1 || fail "fm on islamabad: $(cat "$W/check.out")"
stop islamabad
[[ $(sqlite3 "$db" "PRAGMA integrity_check") == ok ]] || fail "integrity_check: $(sqlite3 "$db" "PRAGMA integrity_check" | head -3)"
now=$(sqlite3 "$db" "SELECT count(*) FROM objects")
((now > rows)) || fail "rows before the upgrade $rows, after it and 40 more envelopes $now"
# restarted on the upgraded store: checked, no second upgrade
NODE_EXTRA="store_check = quick" start islamabad
(($(grep -c 'msg="upgrading the store"' "$W/islamabad.log") == 1)) || fail "upgraded twice"
finish "store upgrade: version 1 to 2 at the start, $rows rows kept, 100 envelopes in order, once"
