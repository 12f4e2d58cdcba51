#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Charters through two real nodes: Tehran proposes a channel with members
# of both states and submits it; Islamabad fetches it from its own node,
# signs and submits it; both nodes then hold it complete.  Also the file
# path (sign a charter file, submit it later), and the refusals on the way.
. "$(dirname "$0")/nodes.sh"
nodes_start

# Usage and lookup errors come before anything is signed.
expect 2 as_t fm channel propose --name ops --out "$TMP/x.charter"
has "$ERR" "members"
expect 2 as_t fm channel propose --name ops --member fm
has "$ERR" "--out FILE, --submit"
expect 2 as_t fm channel propose --name ops --member fm --out "$TMP/x.charter"
has "$ERR" "at least two states"
expect 4 as_t fm channel propose --name ops --member fm --member fm@islamabad --out "$TMP/x.charter"
has "$ERR" "--member-file"
expect 4 as_t fm channel propose --name ops --member nobody --state islamabad --out "$TMP/x.charter"
has "$ERR" "unknown official 'nobody'"
expect 2 as_t fm channel propose --name ops --member fm --state islamabad --lane CONTROL \
	--out "$TMP/x.charter"
# a credential of a state that is not pinned is refused
make_state "$TMP/kabul" kabul
make_official "$TMP/kabul" envoy
expect 3 as_t fm channel propose --name ops --member fm --member-file "$TMP/kabul/officials/envoy.cred" \
	--out "$TMP/x.charter"
has "$ERR" "peer add"
[[ ! -e "$TMP/x.charter" ]] || { echo "FAIL: a refused proposal wrote a file"; failures=$((failures + 1)); }
# nothing proposed yet
expect 4 as_i fm channel sign --from-node ops
has "$ERR" "holds no charter for channel ops"
expect 4 as_t fm channel show ops

# Tehran proposes and submits.
expect 0 as_t fm channel propose --name ops --member fm --member amb@tehran \
	--member-file "$I/officials/fm.cred" --kind message --kind ack --lane FLASH --lane ROUTINE \
	--out "$TMP/ops.charter" --submit
has "$OUT" "Proposing this charter"
has "$OUT" "fm@islamabad"
has "$OUT" "signed by tehran: waiting for the other states"
has "$OUT" "submitted to node tehran-1"
expect 0 as_t fm channel show "$TMP/ops.charter"
has "$OUT" "islamabad (not signed yet), tehran (signed)"
has "$OUT" "complete     no: waiting for islamabad"
has "$OUT" "amb@tehran"
has "$OUT" "kinds        ack, message"
has "$OUT" "precedences  FLASH, ROUTINE"
expect 0 as_t fm channel show ops
has "$OUT" "waiting for islamabad"
expect 0 as_t fm channel list
has "$OUT" "ops"
has "$OUT" "no (unsigned)"
# signing again changes nothing
expect 0 as_t fm channel sign "$TMP/ops.charter"
has "$OUT" "already signed by tehran"

# Islamabad fetches it from its own node once it has arrived, signs, submits.
until_ok 10 as_i fm channel sign --from-node ops
has "$OUT" "Signing this charter with islamabad's root"
has "$OUT" "signed by islamabad, tehran: complete"
has "$OUT" "submitted to node islamabad-1"
expect 0 as_i fm channel show ops
has "$OUT" "complete     yes"
expect 0 as_i fm channel sign --from-node ops
has "$OUT" "already signed by islamabad"
# ... and Tehran's node learns the signature from Islamabad's.
until_has 10 "complete     yes" as_t fm channel show ops
has "$OUT" "islamabad (signed), tehran (signed)"
expect 0 as_t fm --json channel show ops
has "$OUT" '"complete":true'
has "$OUT" '"signed_by":["islamabad","tehran"]'
hasnt "$OUT" '"charter":'
expect 0 as_t fm channel list
has "$OUT" "islamabad, tehran  islamabad, tehran  yes"
expect 0 as_i fm --json channel list
has "$OUT" '"name":"ops"'

# The file path: propose to a file only, the peer signs the file, the
# proposer submits the complete charter later.
expect 0 as_t fm channel propose --name trade --member fm --member-file "$I/officials/amb.cred" \
	--out "$TMP/trade.charter"
hasnt "$OUT" "submitted"
cp "$TMP/trade.charter" "$TMP/trade-islamabad.charter"
expect 0 as_i fm channel sign "$TMP/trade-islamabad.charter"
has "$OUT" "complete"
has "$OUT" "written to $TMP/trade-islamabad.charter"
expect 0 as_t fm channel show "$TMP/trade-islamabad.charter"
has "$OUT" "complete     yes"
expect 4 as_t fm channel show trade # never submitted
expect 0 as_t fm channel sign "$TMP/trade-islamabad.charter" --submit
has "$OUT" "submitted it again"
expect 0 as_t fm channel show trade
has "$OUT" "complete     yes"
until_has 10 "complete     yes" as_i fm channel show trade

# A tampered charter is refused, locally and by the node.
cp "$TMP/trade-islamabad.charter" "$TMP/bad.charter"
printf 'X' | dd of="$TMP/bad.charter" bs=1 seek=$(($(stat -c %s "$TMP/bad.charter") - 10)) \
	conv=notrunc 2>/dev/null
expect 3 as_t fm channel show "$TMP/bad.charter"
expect 3 as_t fm channel sign "$TMP/bad.charter" --submit
expect 4 as_t fm channel show "$TMP/none.charter"
expect 2 as_t fm channel show "Not A Name"
finish
