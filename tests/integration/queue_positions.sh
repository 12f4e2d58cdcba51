#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# An envelope's queue item (docs/formats.md, kind 104) carries the
# envelope's position in the node's log, so that the sender reads its
# bytes and marks it delivered without its metadata.  The position queued
# is the envelope's; a store written before it was kept has items without
# one, and those are sent and marked delivered as well (looked up by id).
. "$(dirname "$0")/lib.sh"
pair tehran islamabad
start tehran; start islamabad
charter fm tehran islamabad
wait_charter islamabad fm

stop islamabad
pdrive send $(as tehran) --channel fm --lane ROUTINE --count 40 --ids "$W/a.ids" >/dev/null || fail "send"
stop tehran
db="$W/tehran/node-tehran-1.db"
q() { sqlite3 "$db" "$@" 2>&1; }
items="kind = 104 AND key LIKE 'islamabad/4/%'"
[[ $(q "SELECT count(*) FROM objects WHERE $items") == 40 ]] ||
	fail "40 items queued expected: $(q "SELECT count(*) FROM objects WHERE $items")"
# each item names its envelope and that envelope's position (kind 101's pos)
right=$(q "SELECT count(*) FROM objects i JOIN objects m ON m.kind = 101
	AND m.key = substr(CAST(i.value AS TEXT), 3, 64)
	AND CAST(substr(CAST(i.value AS TEXT), 68) AS INTEGER) = json_extract(CAST(m.value AS TEXT), '\$.pos')
	WHERE i.kind = 104 AND i.key LIKE 'islamabad/4/%' AND length(CAST(i.value AS TEXT)) > 67")
[[ $right == 40 ]] || fail "$right of 40 items carry their envelope's position: $(q "SELECT CAST(value AS TEXT) FROM objects WHERE $items LIMIT 3")"
echo "40 items queued, each with its envelope's position"

# half of them as a store written before positions were kept has them
q "UPDATE objects SET value = CAST(substr(CAST(value AS TEXT), 1, 66) AS BLOB)
	WHERE $items AND CAST(substr(key, 13) AS INTEGER) % 2 = 0" >/dev/null || fail "sqlite3: old items"
[[ $(q "SELECT count(*) FROM objects WHERE $items AND length(CAST(value AS TEXT)) = 66") == 20 ]] ||
	fail "20 items without a position expected"

start tehran; start islamabad
wait_count islamabad fm 40
check_stored_once islamabad fm "$W/a.ids"
wait_delivered tehran islamabad "$W/a.ids"
wait_quiet tehran
# the acknowledged items are kept as they were queued (kind 131)
kept="kind = 131 AND key LIKE 'islamabad/4/%'"
[[ $(q "SELECT count(*) FROM objects WHERE $kept AND length(CAST(value AS TEXT)) > 67") == 20 &&
	$(q "SELECT count(*) FROM objects WHERE $kept AND length(CAST(value AS TEXT)) = 66") == 20 ]] ||
	fail "kept items: $(q "SELECT CAST(value AS TEXT) FROM objects WHERE $kept LIMIT 4")"
echo "all 40 stored once at islamabad and delivered: 20 items by position, 20 by id"
finish "1 passed, 0 failed"
