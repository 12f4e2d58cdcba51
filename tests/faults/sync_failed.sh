#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A failed sync of the node's store (docs/faults.md, "Deferred syncs"):
# the node tells no one of the commit it could not make durable and stops
# with exit code 1, logging `store sync failed`; started again on a
# healthy disk it comes up.  The failure is made by parleyd-faulty's sync
# record (PARLEY_FAULT_SYNC_LOG) pointed at /dev/full: the syncer counts a
# record it cannot write as a failed sync, so the node's reaction to one
# is what is tested here (a failing fdatasync itself: unit/test_store
# test_wsync_fails).
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../integration/lib.sh"
[[ -w /dev/full ]] || { echo "SKIP: no /dev/full"; exit 0; }
pair tehran islamabad
start tehran; start islamabad
charter fm tehran islamabad
wait_charter islamabad fm
stop islamabad
stop tehran
PARLEYD=$PARLEY_TOOLS/parleyd-faulty PARLEY_FAULT_SYNC_LOG=/dev/full start tehran
# the submission's commit cannot be synced: no answer, the node stops
if pdrive send $(as tehran) --channel fm --lane FLASH --count 1 --size 100 >"$W/send.out" 2>&1; then
	fail "tehran answered a submission it could not sync: $(cat "$W/send.out")"
fi
for _ in $(seq 1 100); do kill -0 "${PID[tehran]}" 2>/dev/null || break; sleep 0.1; done
kill -0 "${PID[tehran]}" 2>/dev/null && fail "tehran still runs 10 s after a failed sync"
wait "${PID[tehran]}"
rc=$?
unset "PID[tehran]"
[[ $rc == 1 ]] || fail "tehran exited $rc after a failed sync, not 1"
grep -q 'msg="store sync failed"' "$W/tehran.log" || fail "no 'store sync failed' in tehran's log"
line=$(grep -m 1 'msg="store sync failed"' "$W/tehran.log")
[[ $line == *'unsynced='* && $line == *'hint="what was not synced may be lost'* ]] ||
	fail "the log line does not say what was left: $line"
# a healthy disk again: it starts, its store checked at start
start tehran
start islamabad
finish "sync failed: no answer, exit 1, logged (${line#*error=}); started again"
