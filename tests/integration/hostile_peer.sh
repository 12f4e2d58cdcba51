#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A hostile peer against a real node (threat-model.md): tests/tools/hpeer
# holds islamabad's real node key and record, so tehran's TLS and HELLO
# checks pass, and sends over the link what an honest node never sends.
# Three states share channel "talks"; kabul links to islamabad only, so
# tehran never receives kabul's envelopes from kabul.  With the real
# islamabad stopped, the impostor
#   1. relays an envelope of kabul's duty officer (signed, valid in every
#      other respect): refused wrong-state;
#   2. sends an envelope whose signed lane is ROUTINE as a FLASH item:
#      refused protocol;
#   3. sends an envelope of islamabad's own on its right lane, twice in one
#      session (the second under the next lseq): taken once, the second
#      counted as a duplicate (the control: 1 and 2 fail only for the
#      reason they test);
#   4. in a new session, sends that item again under its old lseq (below
#      tehran's resume point: dropped and receipted), then once more under
#      the same lseq (out of order: the link is closed);
#   5. sends DATA before HELLO; 6. declares a frame of 70000 bytes.
# 1 and 2 are refused: logged with their reason, counted in /metrics
# (parley_envelopes_rejected_total), receipted, and tehran's store changes
# exactly as a refusal must change it and no other way (refused_diff, on a
# dump of every row before and after).  4, 5 and 6 close the link: the
# reason is in tehran's log (the CLOSE frame carrying it does not reach the
# peer today), counted in parley_link_refused_total, and the store
# does not change at all.  Without the wrong-state or the lane check in
# node/peer.c, tehran stores the envelope and this test fails.
. "$(dirname "$0")/lib.sh"
state tehran; state islamabad; state kabul
peer tehran islamabad; peer islamabad tehran
peer islamabad kabul; peer kabul islamabad
# tehran and kabul pin each other (a channel of the three needs their roots,
# and a node trusts the roots of its configured peers), but the link between
# them is cut: each dials the other at a port where nothing listens
cut=$(free_port)
for ab in "tehran kabul" "kabul tehran"; do
	read -r a b <<<"$ab"
	parley --home "$W/$a" peer add "$W/$b.state" --fingerprint "$(parley --home "$W/$b" state fingerprint)" \
		>/dev/null || fail "$a pins $b"
	printf '\n[peer %s]\naddress = 127.0.0.1:%s\n' "$b" "$cut" >>"$W/$a.peers"
done
# no new checkpoint while the attacks run (the first one is exchanged at start)
export NODE_EXTRA="checkpoint_interval = 3600"
start tehran; start islamabad; start kabul
charter talks tehran islamabad kabul
wait_charter islamabad talks
wait_charter kabul talks
pdrive send $(as tehran) --channel talks --lane ROUTINE --count 2 --ids "$W/base.ids" >/dev/null || fail "send t"
pdrive send $(as islamabad) --channel talks --lane ROUTINE --count 2 --ids "$W/base.ids" >/dev/null || fail "send i"
wait_count tehran talks 4
# the attacks' envelopes, signed by the officials and submitted nowhere:
# kabul's duty officer's first, and islamabad's duty officer's next one
pdrive forge $(as kabul) --channel talks --lane ROUTINE --mode ok --out "$W/kabul.env" >/dev/null ||
	fail "sign kabul's envelope"
pdrive forge $(as islamabad) --channel talks --lane ROUTINE --mode ok --out "$W/isl.env" --ids "$W/isl.ids" \
	>/dev/null || fail "sign islamabad's envelope"

# quiet: until tehran and islamabad have nothing queued for each other
quiet() {
	local n=0
	for _ in $(seq 1 100); do
		if metrics tehran | grep '^parley_queue_depth{peer="islamabad"' | grep -qv ' 0$' ||
			metrics islamabad | grep '^parley_queue_depth{peer="tehran"' | grep -qv ' 0$'; then
			n=0
		else
			n=$((n + 1))
			[[ $n -ge 3 ]] && return 0
		fi
		sleep 0.2
	done
	fail "tehran and islamabad never got quiet"
}
quiet
stop islamabad
# where the real islamabad stands in tehran's streams: the impostor's HELLO
# says the same, so that tehran neither sends again nor skips anything
resume=$(for l in 0 1 2 3 4; do
	v=$(sqlite3 -readonly "$W/islamabad/node-islamabad-1.db" \
		"SELECT CAST(value AS TEXT) FROM objects WHERE kind = 106 AND key = 'tehran/$l'") || exit 1
	echo "${v:-1}"
done | paste -sd,) || fail "islamabad's resume points"
hpeer() {
	"$PARLEY_TOOLS/hpeer" --connect "127.0.0.1:${PEER[tehran]}" --home "$W/islamabad" --node islamabad-1 \
		--resume "$resume" --timeout 15 "$@"
}
dump() { # FILE: every row of tehran's store
	sqlite3 -readonly "$W/tehran/node-tehran-1.db" "SELECT kind, key, hex(value) FROM objects ORDER BY kind, key" \
		>"$1" || fail "cannot read tehran's store"
}
# store_diff A B: one line per row added (+), removed (-) or changed (~): "SIGN KIND|KEY"
store_diff() {
	awk -F'|' 'NR == FNR { a[$1 "|" $2] = $3; next }
		{ k = $1 "|" $2; if (!(k in a)) print "+ " k; else if (a[k] != $3) print "~ " k; delete a[k] }
		END { for (k in a) print "- " k }' "$1" "$2" | sort
}
# refused_diff A B LANE LSEQ: the store changed exactly as a refused item of
# islamabad on LANE under LSEQ must change it, and in no other way:
#   ~ 106 INSEQ   islamabad/LANE         the lane's resume point moves to LSEQ + 1
#                                        (a refused item is acknowledged; the row
#                                        is new when the lane had none)
#   + 112 REJECT  islamabad/LANE/LSEQ    the refusal record, with its reason
#   + 113 TLOG_ENTRY  I                  the refusal's transcript entry
#   + 114 TLOG_HASH   ...                the Merkle hashes that entry completes
#   ~ 115 TLOG_META   size               the transcript's size
#   + 122 TLOG_FROM   islamabad/I        that entry came from islamabad's item
# (every item of an envelope lane leaves one transcript entry, docs/protocol.md);
# no envelope, metadata, channel log or sequence row (kinds 100..103).
refused_diff() {
	local d i
	d=$(store_diff "$1" "$2")
	i=$(sed -n 's/^+ 113|\([0-9]*\)$/\1/p' <<<"$d")
	[[ -n $i ]] && grep -q '^+ 114|' <<<"$d" ||
		fail "no transcript entry for the refusal: $(echo; echo "$d")"
	local want next
	want=$(printf '%s\n' "~ 106|islamabad/$3" "$(printf '+ 112|islamabad/%s/%020d' "$3" "$4")" \
		"+ 113|$i" "~ 115|size" "+ 122|islamabad/$i" | sort)
	[[ $(grep -v '^+ 114|' <<<"$d" | sed 's/^+ 106|/~ 106|/' | sort) == "$want" ]] ||
		fail "tehran's store changed otherwise than by a refusal of lane $3 item $4: $(echo; echo "$d")"
	next=$(awk -F'|' -v k="islamabad/$3" '$1 == 106 && $2 == k { print $3 }' "$2")
	[[ $next == $(printf '%s' $(($4 + 1)) | od -An -tx1 | tr -d ' \n' | tr a-f A-F) ]] ||
		fail "tehran's resume point for islamabad's lane $3 is not $(($4 + 1)): $next (hex)"
}
wait_log() { # S PATTERN: until S's log has a line matching PATTERN (grep -E)
	for _ in $(seq 1 50); do grep -Eq "$2" "$W/$1.log" && return 0; sleep 0.1; done
	fail "$1 never logged /$2/"
}
passed=0

# 1. islamabad relays kabul's envelope
dump "$W/s0"
n0=$(metric tehran 'parley_envelopes_rejected_total{reason="wrong-state"}')
hpeer hello wait-hello item=ROUTINE:next:"$W/kabul.env" wait >"$W/h1.out" 2>&1 || fail "relay: $(cat "$W/h1.out")"
lseq=$(sed -n 's/^sent: item lane=ROUTINE lseq=\([0-9]*\) .*/\1/p' "$W/h1.out")
grep -q "^recv: RECEIPT lane=ROUTINE upto=$lseq$" "$W/h1.out" || fail "relay: no receipt: $(cat "$W/h1.out")"
wait_log tehran "msg=\"envelope refused\" from=islamabad lane=4 lseq=$lseq reason=wrong-state detail=\"islamabad relayed an envelope of kabul\""
[[ $(metric tehran 'parley_envelopes_rejected_total{reason="wrong-state"}') == $((n0 + 1)) ]] ||
	fail "relay: not counted: $(metrics tehran | grep rejected_total)"
dump "$W/s1"
refused_diff "$W/s0" "$W/s1" 4 "$lseq"
passed=$((passed + 1))

# 2. an envelope of lane ROUTINE as an item of lane FLASH
n0=$(metric tehran 'parley_envelopes_rejected_total{reason="protocol"}')
hpeer hello wait-hello item=FLASH:next:"$W/isl.env" wait >"$W/h2.out" 2>&1 || fail "lane: $(cat "$W/h2.out")"
lseq=$(sed -n 's/^sent: item lane=FLASH lseq=\([0-9]*\) .*/\1/p' "$W/h2.out")
grep -q "^recv: RECEIPT lane=FLASH upto=$lseq$" "$W/h2.out" || fail "lane: no receipt: $(cat "$W/h2.out")"
wait_log tehran "msg=\"envelope refused\" from=islamabad lane=1 lseq=$lseq reason=protocol detail=\"envelope of lane 4 sent on lane 1\""
[[ $(metric tehran 'parley_envelopes_rejected_total{reason="protocol"}') == $((n0 + 1)) ]] ||
	fail "lane: not counted: $(metrics tehran | grep rejected_total)"
dump "$W/s2"
refused_diff "$W/s1" "$W/s2" 1 "$lseq"
passed=$((passed + 1))

# 3. the same envelope on its own lane, twice in one session: taken once
a0=$(metric tehran 'parley_envelopes_accepted_total{origin="peer"}')
d0=$(metric tehran parley_envelopes_duplicate_total)
hpeer hello wait-hello item=ROUTINE:next:"$W/isl.env" item=ROUTINE:next:"$W/isl.env" wait >"$W/h3.out" 2>&1 ||
	fail "control: $(cat "$W/h3.out")"
first=$(sed -n 's/^sent: item lane=ROUTINE lseq=\([0-9]*\) .*/\1/p' "$W/h3.out" | head -n 1)
[[ $(metric tehran 'parley_envelopes_accepted_total{origin="peer"}') == $((a0 + 1)) &&
	$(metric tehran parley_envelopes_duplicate_total) == $((d0 + 1)) ]] ||
	fail "control: not taken once: $(metrics tehran | grep -E 'accepted_total|duplicate_total')"
pdrive check $(as tehran) --channel talks --ids "$W/base.ids" --ids "$W/isl.ids" >"$W/check.out" ||
	fail "control: $(cat "$W/check.out")"
passed=$((passed + 1))

# 4. that item again under its old lseq, then under the same lseq once more
# (4-6: each breach closes the link and is counted once)
breach='parley_link_refused_total{reason="protocol"}'
b0=$(metric tehran "$breach")
dump "$W/s3"
d0=$(metric tehran parley_envelopes_duplicate_total)
r0=$(metric tehran parley_link_items_redelivered_total)
hpeer hello wait-hello item=ROUTINE:"$first":"$W/isl.env" wait item=ROUTINE:"$first":"$W/isl.env" wait-close \
	>"$W/h4.out" 2>&1 || fail "replay: $(cat "$W/h4.out")"
wait_log tehran "msg=\"link closed\" peer=islamabad by=us reason=\"ROUTINE item $first after item $first \\(out of order\\)\""
dump "$W/s4"
[[ -z $(store_diff "$W/s3" "$W/s4") ]] || fail "replay: tehran's store changed: $(store_diff "$W/s3" "$W/s4")"
grep -q "^recv: RECEIPT lane=ROUTINE upto=$((first + 1))$" "$W/h4.out" || fail "replay: not receipted: $(cat "$W/h4.out")"
# dropped by the link engine itself, not by the node's backstop for items
# another connection took (node/peer.c take_item) nor as a held envelope
[[ $(metric tehran parley_link_items_redelivered_total) == "$r0" &&
	$(metric tehran parley_envelopes_duplicate_total) == "$d0" ]] ||
	fail "replay: the item reached the node: $(metrics tehran | grep -E 'redelivered|duplicate_total')"
pdrive check $(as tehran) --channel talks --ids "$W/base.ids" --ids "$W/isl.ids" >"$W/check.out" ||
	fail "replay: $(cat "$W/check.out")"
(($(metric tehran "$breach") == b0 + 1)) || fail "replay: the breach was not counted"
passed=$((passed + 1))

# 5. DATA before HELLO
hpeer item=ROUTINE:1:"$W/isl.env" wait-close >"$W/h5.out" 2>&1 || fail "DATA before HELLO: $(cat "$W/h5.out")"
wait_log tehran 'msg="inbound connection refused" addr=[^ ]* reason="DATA frame before HELLO"'
dump "$W/s5"
[[ -z $(store_diff "$W/s4" "$W/s5") ]] || fail "DATA before HELLO: tehran's store changed"
(($(metric tehran "$breach") == b0 + 2)) || fail "DATA before HELLO: not counted"
passed=$((passed + 1))

# 6. a frame of 70000 bytes (the limit is 65536), after the HELLOs
hpeer hello wait-hello raw=00011170 wait-close >"$W/h6.out" 2>&1 || fail "oversized: $(cat "$W/h6.out")"
wait_log tehran 'msg="link closed" peer=islamabad by=us reason="frame of 70000 bytes, the limit is 65536"'
dump "$W/s6"
[[ -z $(store_diff "$W/s5" "$W/s6") ]] || fail "oversized: tehran's store changed"
(($(metric tehran "$breach") == b0 + 3)) || fail "oversized: not counted"
passed=$((passed + 1))

# nothing of kabul's envelope or of the refused lane reached tehran's channel
pdrive check $(as tehran) --channel talks --ids "$W/base.ids" --ids "$W/isl.ids" >"$W/check.out" ||
	fail "tehran holds what it refused: $(cat "$W/check.out")"
finish "$passed passed, 0 failed"
