#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A node's store is checkpointed by a thread of its own (lib/store/sqlite/
# ckpt.h), with the event loop's commit at the threshold copying only what
# the thread has not: with the store's wal_pages set to 100 (the `data`
# location's option), 3000 envelopes go through many cycles at both nodes —
# the thread copies the WAL in steps, the commit at the threshold the rest,
# the WAL starts over — /metrics counts them, the WAL file stays near its
# threshold, and every envelope arrives once, in order, receipted, and is
# still there after a restart; the sender reads them back from memory to
# send and mark them.  A thread that cannot checkpoint is counted
# and logged (once), and the node goes on.
. "$(dirname "$0")/lib.sh"
pair tehran islamabad
for s in tehran islamabad; do
	NODE_EXTRA="data = $W/$s/node.db?wal_pages=100" start "$s"
done
charter fm tehran islamabad
wait_charter islamabad fm
for lane in ROUTINE PRIORITY; do
	pdrive send $(as tehran) --channel fm --lane $lane --count 1500 --batch 50 --size 256 \
		--ids "$W/$lane.ids" >/dev/null || fail "send $lane"
done
wait_count islamabad fm 3000 60
wait_delivered tehran islamabad "$W/ROUTINE.ids" "$W/PRIORITY.ids"
for s in tehran islamabad; do
	thread=$(metric $s 'parley_store_checkpoints_total{by="thread"}')
	commit=$(metric $s 'parley_store_checkpoints_total{by="commit"}')
	failed=$(metric $s 'parley_store_checkpoints_total{by="failed"}')
	echo "$s: checkpoint runs of the thread $thread, by a commit $commit, failed $failed"
	[[ $s == tehran ]] && cycles=$commit
	((thread >= 2 && commit >= 2)) || fail "$s: $thread runs of the thread, $commit by a commit (want 2 each)"
	((failed == 0)) || fail "$s: $failed checkpoints failed"
	# frames of 4096 + 24 bytes: without the commits' checkpoints the WAL
	# would hold every page written (thousands)
	wal=$(stat -c %s "$W/$s/node.db-wal")
	((wal <= 400 * 4120 + 32)) || fail "$s: the WAL file holds $wal bytes (the threshold is 100 pages)"
done
pdrive check $(as islamabad) --channel fm --ids "$W/ROUTINE.ids" --ids "$W/PRIORITY.ids" >"$W/check.out" 2>&1 ||
	fail "$(cat "$W/check.out")"
grep -q " 0 lost, 0 duplicated, 0 reordered" "$W/check.out" || fail "$(cat "$W/check.out")"
# each envelope was read again to be sent and to be marked delivered, from
# the memory of those indexed lately (node/ecache.h), not the store
mem=$(metric tehran 'parley_envelope_reads_total{from="memory"}')
sto=$(metric tehran 'parley_envelope_reads_total{from="store"}')
echo "tehran: envelope reads from memory $mem, from the store $sto"
((mem >= 6000)) || fail "tehran: $mem envelope reads from memory (want 2 for each of 3000)"
# a clean stop checkpoints the rest and removes the WAL; the store opens
# again whole
stop islamabad
[[ ! -e $W/islamabad/node.db-wal ]] || fail "islamabad's WAL is still there after a clean stop"
NODE_EXTRA="data = $W/islamabad/node.db?wal_pages=100" start islamabad
pdrive check $(as islamabad) --channel fm --ids "$W/ROUTINE.ids" --ids "$W/PRIORITY.ids" >"$W/check2.out" 2>&1 ||
	fail "after the restart: $(cat "$W/check2.out")"
# A checkpointer thread that cannot work (tehran restarted, its store file
# moved away before the thread's first run: the thread's own connection
# finds none) is counted and logged, once; the commits' checkpoints on the
# node's connection go on, and so does the node.
stop tehran
NODE_EXTRA="data = $W/tehran/node.db?wal_pages=1000" start tehran
mv "$W/tehran/node.db" "$W/tehran/moved.db"
pdrive send $(as tehran) --channel fm --lane ROUTINE --count 500 --batch 50 --size 256 \
	--ids "$W/moved.ids" >/dev/null || fail "send with the store moved"
wait_count islamabad fm 3500 60
wait_delivered tehran islamabad "$W/moved.ids"
failed=$(metric tehran 'parley_store_checkpoints_total{by="failed"}')
((failed > 0)) || fail "tehran counted no failed checkpoint with its store moved away"
for _ in $(seq 1 20); do grep -q 'msg="store checkpoints failed"' "$W/tehran.log" && break; sleep 0.1; done
lines=$(grep -c 'msg="store checkpoints failed"' "$W/tehran.log")
((lines == 1)) || fail "$lines log lines about failed checkpoints (want 1: at most one every 10 s)"
mv "$W/tehran/moved.db" "$W/tehran/node.db"
finish "checkpoints: 3000 envelopes through $cycles cycles at tehran; with its store moved away $failed failed, logged once"
