#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# official issue / list / show / suspend / recall / restore / revoke /
# verify, key new / show, with each error case: unknown official, expired
# and not-yet-valid credential, forbidden transition, wrong passphrase.
. "$(dirname "$0")/lib.sh"
A="$TMP/tehran" B="$TMP/islamabad"
# No node here: status changes are saved and the push to the node is said
# to have failed (a node another test started on the default port must not
# answer; port 9 is discard, closed on test machines).
export PARLEY_NODE=http://127.0.0.1:9
make_state "$A" tehran
make_state "$B" islamabad

# keys on the official's own device
expect 0 parley key new --out "$TMP/amb.key" --kdf interactive
has "$OUT" "public key:"
[[ $(stat -c %a "$TMP/amb.key") == 600 ]] || { echo "FAIL: key mode"; failures=$((failures+1)); }
expect 5 parley key new --out "$TMP/amb.key" --kdf interactive
expect 0 parley key show "$TMP/amb.key"
pk=$(cat "$OUT")
[[ ${#pk} == 44 ]] || { echo "FAIL: public key '$pk'"; failures=$((failures+1)); }
PARLEY_PASSPHRASE=other expect 0 parley key show "$TMP/amb.key" # needs no passphrase
expect 4 parley key show "$TMP/none.key"

# issue
expect 0 parley --home "$A" official issue --id amb-islamabad --name "Reza Amiri" \
	--title "Ambassador to Pakistan" --role ambassador --pubkey "$pk" --from -1d
has "$OUT" "issued credential amb-islamabad@tehran"
expect 5 parley --home "$A" official issue --id amb-islamabad --name "Reza Amiri" \
	--title "Ambassador" --role ambassador --pubkey "$pk"
has "$ERR" "--force"
expect 2 parley --home "$A" official issue --id x --name X --title X --role r
has "$ERR" "--pubkey or --key"
expect 2 parley --home "$A" official issue --id x --name X --title X --role r --pubkey notbase64
has "$ERR" "base64"
expect 2 parley --home "$A" official issue --id x --name X --title X --pubkey "$pk"
has "$ERR" "--role"
expect 2 parley --home "$A" official issue --id X! --name X --title X --role r --pubkey "$pk"
has "$ERR" "not valid"
expect 2 parley --home "$A" official issue --id x --name X --title X --role r --pubkey "$pk" --days 0
PARLEY_PASSPHRASE=wrong expect 3 parley --home "$A" official issue --id x --name X --title X \
	--role r --pubkey "$pk"
has "$ERR" "wrong passphrase"
expect 4 parley --home "$A" official show x # nothing was stored by the failed issue

# list and show
make_official "$A" fm --role minister
expect 0 parley --home "$A" official list
has "$OUT" "amb-islamabad"
has "$OUT" "active"
expect 0 parley --home "$A" --json official list
has "$OUT" "\"id\":\"fm\""
expect 0 parley --home "$A" official show amb-islamabad
has "$OUT" "Ambassador to Pakistan"
expect 4 parley --home "$A" official show nobody
has "$ERR" "unknown official 'nobody'"
expect 4 parley --home "$A" official recall nobody
has "$ERR" "unknown official"

# recall, then refuse a second recall, restore, verify at each time
expect 0 parley --home "$A" official recall amb-islamabad --reason "consultations"
has "$OUT" "recalled amb-islamabad@tehran"
has "$OUT" "status list version 1"
has "$ERR" "the status list is saved in the home folder, but no node took it"
expect 3 parley --home "$A" official recall amb-islamabad
has "$ERR" "is recalled: it cannot become recalled"
expect 3 parley --home "$A" official suspend amb-islamabad
has "$ERR" "cannot become suspended"
expect 3 parley --home "$A" official verify "$A/officials/amb-islamabad.cred"
has "$ERR" "is recalled"
expect 0 parley --home "$A" official verify "$A/officials/amb-islamabad.cred" --at -1h
expect 0 parley --home "$A" official restore amb-islamabad --reason "back at post" --at +1h
expect 3 parley --home "$A" official verify "$A/officials/amb-islamabad.cred"
expect 0 parley --home "$A" official verify "$A/officials/amb-islamabad.cred" --at +2h
has "$OUT" "valid: amb-islamabad@tehran"
expect 0 parley --home "$A" official show amb-islamabad
has "$OUT" "consultations"
has "$OUT" "back at post"

# the peer verifies against the status list it was given; without the pin it refuses
parley --home "$A" state export --out "$TMP/tehran.state"
expect 3 parley --home "$B" official verify "$A/officials/amb-islamabad.cred" --status "$A/status.list"
has "$ERR" "not a pinned root"
parley --home "$B" peer add "$TMP/tehran.state" --fingerprint "$(parley --home "$A" state fingerprint)" >/dev/null
expect 3 parley --home "$B" official verify "$A/officials/amb-islamabad.cred" --status "$A/status.list"
has "$ERR" "recalled"
expect 0 parley --home "$B" official verify "$A/officials/amb-islamabad.cred" --status "$A/status.list" --at +3h
# without a status list Islamabad knows of no change: valid
expect 0 parley --home "$B" official verify "$A/officials/amb-islamabad.cred"
# a tampered credential file is refused
cp "$A/officials/amb-islamabad.cred" "$TMP/tampered.cred"
printf 'X' | dd of="$TMP/tampered.cred" bs=1 seek=$(( $(stat -c %s "$TMP/tampered.cred") - 5 )) conv=notrunc 2>/dev/null
expect 3 parley --home "$B" official verify "$TMP/tampered.cred"
has "$ERR" "signature"
expect 4 parley --home "$B" official verify "$TMP/missing.cred"

# expired and not-yet-valid credentials
make_official "$A" temp --days 1
expect 3 parley --home "$A" official verify "$A/officials/temp.cred" --at +2d
has "$ERR" "expired at"
make_official "$A" future --from +10d
expect 3 parley --home "$A" official verify "$A/officials/future.cred"
has "$ERR" "not valid until"
expect 0 parley --home "$A" official list
has "$OUT" "not-yet-valid"

# revoke is final: no restore, no re-issue under the same id
expect 0 parley --home "$A" official revoke fm --reason "key lost"
expect 3 parley --home "$A" official restore fm
has "$ERR" "cannot become restored"
expect 3 parley --home "$A" official issue --id fm --name X --title X --role r --pubkey "$pk" --force
has "$ERR" "revoked for good"
expect 2 parley --home "$A" official suspend
has "$ERR" "exactly one credential id"
expect 2 parley --home "$A" official suspend amb-islamabad --at yesterday
has "$ERR" "bad time"
finish
