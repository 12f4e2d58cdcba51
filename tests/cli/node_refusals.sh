#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# What a node refuses, as the CLI reports it: an official who is not a
# member, a precedence or kind the charter does not allow, the wrong key
# or passphrase for --as, an unknown or recalled official, a request
# without a token; and resubmitting an envelope, which is harmless.
. "$(dirname "$0")/nodes.sh"
nodes_start
nodes_channel ops --lane FLASH --lane ROUTINE --kind message

# Refused by the node's check of the envelope: exit 3, the reason's name.
expect 3 as_t outsider send --channel ops "I am not on this channel"
has "$ERR" "not-member"
has "$ERR" "outsider"
expect 3 as_t fm send --channel ops --precedence PRIORITY "not on this channel's lanes"
has "$ERR" "precedence-not-allowed"
expect 3 as_t fm send --channel ops --kind memo "not a kind of this channel"
has "$ERR" "kind-not-allowed"
expect 4 as_t fm send --channel nosuch "no such channel"
has "$ERR" "unknown-channel"

# Refused at authentication: exit 3 with the node's detail.
expect 3 parley --home "$T" --node "$T_URL" --as fm --key "$KEYS/tehran-amb.key" inbox
has "$ERR" "signature does not verify"
has "$ERR" "is --key the key of official fm?"
PARLEY_PASSPHRASE=wrong expect 3 as_t fm inbox
has "$ERR" "wrong passphrase"
expect 3 parley --home "$T" --node "$T_URL" --as nobody --key "$KEYS/tehran-fm.key" inbox
has "$ERR" "unknown or inactive official"
# an official of Islamabad at Tehran's node (no home folder: --state)
expect 3 parley --home "$TMP/none" --state islamabad --node "$T_URL" --as fm \
	--key "$KEYS/islamabad-fm.key" inbox
has "$ERR" "unauthorized"
# ... while Tehran's own official needs no home folder either
expect 0 parley --home "$TMP/none" --state tehran --node "$T_URL" --as fm \
	--key "$KEYS/tehran-fm.key" channel list
has "$OUT" "ops"
PARLEY_STATE=tehran PARLEY_AS=fm PARLEY_KEY="$KEYS/tehran-fm.key" PARLEY_NODE="$T_URL" \
	expect 0 parley --home "$TMP/none" channel list
expect 2 parley --home "$T" --state islamabad --node "$T_URL" --as fm --key "$KEYS/tehran-fm.key" inbox
has "$ERR" "holds state tehran"

# Usage errors before any connection; an unreachable node.
expect 2 parley --home "$T" --node "$T_URL" --key "$KEYS/tehran-fm.key" inbox
has "$ERR" "--as"
expect 2 parley --home "$T" --node "$T_URL" --as fm inbox
has "$ERR" "--key"
expect 2 parley --home "$TMP/none" --node "$T_URL" --as fm --key "$KEYS/tehran-fm.key" inbox
has "$ERR" "--state"
expect 2 parley --home "$T" --node "ftp://127.0.0.1" --as fm --key "$KEYS/tehran-fm.key" inbox
has "$ERR" "http://"
expect 1 parley --home "$T" --node "http://127.0.0.1:1" --as fm --key "$KEYS/tehran-fm.key" inbox
has "$ERR" "cannot reach the node at http://127.0.0.1:1"

# The API itself refuses a request without a token (checked with curl when there is one).
if command -v curl >/dev/null; then
	checks=$((checks + 1))
	code=$(curl -s -o "$OUT" -w '%{http_code}' --noproxy '*' "$T_URL/v1/status")
	[[ $code == 401 ]] || { echo "FAIL: /v1/status without a token: $code"; failures=$((failures + 1)); }
	has "$OUT" "missing bearer token"
else
	echo "note: curl not found; the request without a token is not checked" >&2
fi

# Resubmitting the same envelope: the same id, "already accepted", no duplicate.
expect 0 as_t fm send --channel ops --out "$TMP/once.env" "exactly once"
has "$OUT" " accepted"
id=$(sed -n 's/^envelope \([0-9a-f]\{64\}\) accepted$/\1/p' "$OUT")
[[ ${#id} == 64 ]] || { echo "FAIL: no id in: $(cat "$OUT")"; failures=$((failures + 1)); }
expect 0 as_t fm submit "$TMP/once.env"
has "$OUT" "envelope $id already accepted"
expect 0 as_t amb --json submit "$TMP/once.env" # the token's official need not be the author
has "$OUT" "\"id\":\"$id\""
has "$OUT" '"duplicate":true'
expect 0 as_t fm inbox
[[ $(grep -c "exactly once" "$OUT") == 1 ]] || { echo "FAIL: duplicate in inbox"; failures=$((failures + 1)); }
until_has 10 "exactly once" as_i fm inbox
[[ $(grep -c "exactly once" "$OUT") == 1 ]] || { echo "FAIL: duplicate at islamabad"; failures=$((failures + 1)); }
# Islamabad's node holds it too, from Tehran's
expect 0 as_i fm submit "$TMP/once.env"
has "$OUT" "envelope $id already accepted"
# a tampered envelope is refused by the node's signature check
LC_ALL=C sed 's/exactly once/exactly ONCE/' "$TMP/once.env" >"$TMP/tampered.env"
expect 3 as_t fm submit "$TMP/tampered.env"
has "$ERR" "bad-signature"
head -c 20 "$TMP/once.env" >"$TMP/short.env"
expect 3 as_t fm submit "$TMP/short.env"
has "$ERR" "not a valid envelope"
expect 4 as_t fm submit "$TMP/missing.env"

# A recalled official loses the API once the node reloads the status list.
parley --home "$T" official recall amb --reason "consultations" --no-push >/dev/null
kill -HUP "$T_PID"
checks=$((checks + 1))
for ((i = 0; i < 50; i++)); do
	as_t amb inbox >"$OUT" 2>"$ERR" && { sleep 0.2; continue; }
	break
done
if ! grep -q "unknown or inactive official" "$ERR"; then
	failures=$((failures + 1))
	echo "FAIL: a recalled official still authenticates:" >&2
	cat "$OUT" "$ERR" >&2
fi
finish
