#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A FLASH reaches the peer while the connection carrying a ROUTINE backlog is
# stalled: with [link] urgent_connection (the default) CONTROL and FLASH
# travel on a connection of their own (docs/protocol.md, "Lane sets").
#
# islamabad's dials reach tehran through a proxy (fproxy); tehran's own
# dials go nowhere, so every connection passes the proxy.  Once the backlog
# is draining, the proxy stalls the connections that carried a lot (the
# ROUTINE one): a FLASH submitted then must be stored and receipted while
# the backlog is still held.  With urgent_connection = false (one
# connection for every lane) the FLASH waits behind the stalled backlog and
# this test fails.  Then the order of a charter and an envelope that needs
# it, when the CONTROL+FLASH connection is the one stalled; and that the
# transcript's checkpoints, also on CONTROL, do not hold ROUTINE back; and
# that a FLASH holds back only what was queued after it.
. "$(dirname "$0")/lib.sh"
state tehran; state islamabad
PX_PORT=$(free_port); PX_CTL=$(free_port)
[[ $PX_PORT != "$PX_CTL" ]] || fail "proxy ports"
"$PARLEY_TOOLS/fproxy" --listen "127.0.0.1:$PX_PORT" --control "127.0.0.1:$PX_CTL" \
	--target "127.0.0.1:${PEER[tehran]}" >>"$W/proxy.log" 2>&1 &
PID[proxy]=$!
# px COMMAND...: one command to the proxy; prints its answer, which must start with "ok"
px() {
	local reply=""
	exec 9<>"/dev/tcp/127.0.0.1/$PX_CTL" || fail "proxy: no control port"
	printf '%s\n' "$*" >&9
	read -r -t 5 reply <&9
	exec 9>&-
	[[ $reply == ok* ]] || fail "proxy: '$*' answered '$reply'"
	echo "$reply"
}
for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$PX_CTL") 2>/dev/null && break; sleep 0.05; done
parley --home "$W/tehran" peer add "$W/islamabad.state" \
	--fingerprint "$(parley --home "$W/islamabad" state fingerprint)" >/dev/null || fail "peer add"
printf '\n[peer islamabad]\naddress = 127.0.0.1:%s\n' "$(free_port)" >>"$W/tehran.peers" # nobody there
parley --home "$W/islamabad" peer add "$W/tehran.state" \
	--fingerprint "$(parley --home "$W/tehran" state fingerprint)" >/dev/null || fail "peer add"
printf '\n[peer tehran]\naddress = 127.0.0.1:%s\n' "$PX_PORT" >>"$W/islamabad.peers"
# a stalled connection must not be closed as silent (and redialled past the
# stall) while the test looks
export LINK_DEAD_AFTER=120000
# islamabad's checkpoints (CONTROL items that grow with the traffic: proofs
# for tehran's envelopes) once, at the start, so the CONTROL+FLASH
# connection carries little, which the proxy needs; tehran's after every new
# entry (small ones), so that one is always waiting for its cosignature
NODE_EXTRA=$'checkpoint_interval = 3600\ncheckpoint_entries = 1' start tehran
export NODE_EXTRA=$'checkpoint_interval = 3600\ncheckpoint_entries = 100000000'
start islamabad
charter fm tehran islamabad
wait_charter islamabad fm
grep -q 'link up.*lanes=CONTROL+FLASH' "$W/islamabad.log" || fail "no CONTROL+FLASH connection"
grep -q 'link up.*lanes=IMMEDIATE+PRIORITY+ROUTINE' "$W/islamabad.log" || fail "no connection for the lanes below FLASH"
stop islamabad
# 20,000 ROUTINE of 2 KiB: 40 MiB, seconds of draining
pdrive send $(as tehran) --channel fm --lane ROUTINE --count 20000 --size 2048 --ids "$W/routine.ids" >/dev/null ||
	fail "backlog"
start islamabad
# the backlog is draining once the proxy carried a mebibyte towards tehran's side
up=0
for _ in $(seq 1 1500); do
	up=$(px stats | sed -n 's/.* down=\([0-9]*\).*/\1/p')
	((up > 1048576)) && break
	sleep 0.02
done
((up > 1048576)) || fail "the backlog is not draining ($up bytes)"
# hold the connections that carried 512 KiB or more: the ROUTINE one
px stall-busy 524288 60000 >/dev/null
# what was in flight when the stall began settles (bounded: 60 × 0.5 s)
held=-1
for _ in $(seq 1 60); do
	sleep 0.5
	now=$(metric islamabad 'parley_envelopes_accepted_total{origin="peer"}')
	((now == held)) && break
	held=$now
done
echo "backlog stalled with $held of 20000 stored at islamabad"
((held < 19000)) || fail "the backlog drained before the stall ($held): the test cannot tell"
pdrive send $(as tehran) --channel fm --lane FLASH --count 1 --ids "$W/flash.ids" >/dev/null || fail "flash"
# the FLASH is stored at islamabad and its receipt recorded at tehran, the backlog still held
ok=0
for _ in $(seq 1 150); do
	pdrive delivered $(as tehran) --peer islamabad --ids "$W/flash.ids" >/dev/null 2>&1 && { ok=1; break; }
	sleep 0.1
done
after=$(metric islamabad 'parley_envelopes_accepted_total{origin="peer"}')
((ok)) || fail "the FLASH did not arrive while the ROUTINE connection was stalled ($after stored)"
((after == held + 1)) || fail "the stall leaked: $held stored before the FLASH, $after after"
echo "FLASH delivered; islamabad holds $after envelopes ($held of the backlog)"
px pass >/dev/null
wait_delivered tehran islamabad "$W/routine.ids" "$W/flash.ids"
pdrive check $(as islamabad) --channel fm --ids "$W/routine.ids" --ids "$W/flash.ids" \
	--require-before "$(cat "$W/flash.ids"):$(tail -n 1 "$W/routine.ids")" || fail "order"

# A charter still goes before what depends on it when its connection is the
# slower one: the lanes below FLASH are held while a CONTROL item queued
# before them waits for its receipt (else islamabad would refuse the
# envelope of a channel it does not know, for good).
px stall-quiet 8388608 60000 >/dev/null # the CONTROL+FLASH connection: it carried little
charter fm2 tehran islamabad
pdrive send $(as tehran) --channel fm2 --lane ROUTINE --count 1 --ids "$W/fm2.ids" >/dev/null || fail "fm2"
sleep 1
depth=$(metric tehran 'parley_queue_depth{peer="islamabad",lane="ROUTINE"}')
((depth == 1)) || fail "the envelope of fm2 left before its charter ($depth queued)"
px pass >/dev/null
wait_delivered tehran islamabad "$W/fm2.ids"
pdrive check $(as islamabad) --channel fm2 --ids "$W/fm2.ids" >/dev/null || fail "islamabad lacks the envelope of fm2"

# The transcript's items on CONTROL hold nothing: with the CONTROL+FLASH
# connection stalled again and a checkpoint of tehran's waiting there for
# its cosignature, ROUTINE envelopes still go.
px stall-quiet 8388608 60000 >/dev/null
# one envelope, whose receipt grows tehran's log: a checkpoint is then due
pdrive send $(as tehran) --channel fm --lane ROUTINE --count 1 --ids "$W/one.ids" >/dev/null || fail "one"
cp=0
for _ in $(seq 1 100); do
	cp=$(metric tehran 'parley_queue_depth{peer="islamabad",lane="CONTROL"}')
	((cp > 0)) && break
	sleep 0.1
done
((cp > 0)) || fail "no checkpoint waiting on the stalled connection: the test cannot tell"
before=$(metric islamabad 'parley_envelopes_accepted_total{origin="peer"}')
pdrive send $(as tehran) --channel fm --lane ROUTINE --count 20 --ids "$W/late.ids" >/dev/null || fail "late"
got=0
for _ in $(seq 1 100); do
	got=$(($(metric islamabad 'parley_envelopes_accepted_total{origin="peer"}') - before))
	((got >= 20)) && break
	sleep 0.1
done
((got >= 20)) || fail "ROUTINE held behind a checkpoint: $got of 20 arrived"
echo "20 ROUTINE delivered while $cp CONTROL item(s) waited on the stalled connection"
px pass >/dev/null

# The hold is precise: with a FLASH waiting on the stalled CONTROL+FLASH
# connection, the ROUTINE envelopes queued before it still go (they cannot
# depend on it); one queued after it waits, and arrives after it.
wait_delivered tehran islamabad "$W/late.ids"
before=$(metric islamabad 'parley_envelopes_accepted_total{origin="peer"}')
# every connection stalled while they are queued, so that most of the 500
# (16 MiB, more than the socket buffers hold) are still in tehran's queue
# when the FLASH joins it; then only the CONTROL+FLASH connection stays
# stalled
px stall 60000 >/dev/null
pdrive send $(as tehran) --channel fm --lane ROUTINE --count 500 --size 32768 --ids "$W/early.ids" >/dev/null ||
	fail "early"
pdrive send $(as tehran) --channel fm --lane FLASH --count 1 --ids "$W/flash2.ids" >/dev/null || fail "flash2"
pdrive send $(as tehran) --channel fm --lane ROUTINE --count 1 --ids "$W/after.ids" >/dev/null || fail "after"
sleep 0.5
px stall-quiet 8388608 60000 >/dev/null
got=0
for _ in $(seq 1 300); do
	got=$(($(metric islamabad 'parley_envelopes_accepted_total{origin="peer"}') - before))
	((got >= 500)) && break
	sleep 0.1
done
((got >= 500)) || fail "ROUTINE queued before a FLASH held behind it: $got of 500 arrived"
sleep 1
got=$(($(metric islamabad 'parley_envelopes_accepted_total{origin="peer"}') - before))
((got == 500)) || fail "$got arrived while the FLASH was stalled: the ROUTINE queued after it overtook it"
echo "the 500 ROUTINE queued before the stalled FLASH delivered; the one after it waits"
px pass >/dev/null
wait_delivered tehran islamabad "$W/early.ids" "$W/flash2.ids" "$W/after.ids"
pdrive check $(as islamabad) --channel fm --ids "$W/routine.ids" --ids "$W/flash.ids" --ids "$W/one.ids" \
	--ids "$W/late.ids" --ids "$W/early.ids" --ids "$W/flash2.ids" --ids "$W/after.ids" \
	--require-before "$(cat "$W/flash2.ids"):$(cat "$W/after.ids")" || fail "the ROUTINE after the FLASH arrived first"
finish "4 passed, 0 failed"
