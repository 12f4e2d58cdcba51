#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# state init / fingerprint / export and the peering ceremony, with each
# error case: missing file, wrong passphrase, bad fingerprint, existing state.
. "$(dirname "$0")/lib.sh"
A="$TMP/tehran" B="$TMP/islamabad"

expect 0 parley --home "$A" state init --name tehran --kdf interactive
has "$OUT" "created state tehran"
[[ $(stat -c %a "$A/root.key") == 600 ]] || { echo "FAIL: root.key mode"; failures=$((failures+1)); }
expect 5 parley --home "$A" state init --name tehran --kdf interactive
has "$ERR" "already exists"
has "$ERR" "--force"
expect 2 parley --home "$TMP/x" state init --name "Bad Name"
has "$ERR" "not valid"
expect 2 parley --home "$TMP/x" state init
has "$ERR" "--name is required"
expect 2 parley --home "$TMP/x" state init --name x --kdf fast
has "$ERR" "moderate or interactive"
expect 2 parley --home "$TMP/x" state init --name x --bogus
has "$ERR" "unknown option --bogus"
make_state "$B" islamabad

# fingerprints: 6 groups of 5 digits, stable, different per state
expect 0 parley --home "$A" state fingerprint
fa=$(cat "$OUT")
[[ $fa =~ ^[0-9]{5}( [0-9]{5}){5}$ ]] || { echo "FAIL: fingerprint format '$fa'"; failures=$((failures+1)); }
expect 0 parley --home "$A" state show
has "$OUT" "$fa"
fb=$(parley --home "$B" state fingerprint)
[[ $fa != "$fb" ]] || { echo "FAIL: equal fingerprints"; failures=$((failures+1)); }
expect 0 parley --home "$A" --json state fingerprint
has "$OUT" "\"fingerprint\":\"$fa\""

expect 0 parley --home "$A" state export --out "$TMP/tehran.state"
expect 0 parley --home "$B" state export --out "$TMP/islamabad.state"

# peer add: fingerprint mismatch (one digit changed) pins nothing
bad="${fb:0:1}$(( (${fb:1:1} + 1) % 10 ))${fb:2}"
expect 3 parley --home "$A" peer add "$TMP/islamabad.state" --fingerprint "$bad"
has "$ERR" "fingerprint mismatch"
has "$ERR" "Nothing was pinned"
expect 0 parley --home "$A" peer list
hasnt "$OUT" "islamabad"
# malformed fingerprint, missing option, missing file, not a state record
expect 2 parley --home "$A" peer add "$TMP/islamabad.state" --fingerprint "12345"
has "$ERR" "expected 30"
expect 2 parley --home "$A" peer add "$TMP/islamabad.state"
has "$ERR" "--fingerprint is required"
expect 4 parley --home "$A" peer add "$TMP/nope.state" --fingerprint "$fb"
has "$ERR" "no such file"
head -c 100 /dev/urandom >"$TMP/junk.state"
expect 3 parley --home "$A" peer add "$TMP/junk.state" --fingerprint "$fb"
has "$ERR" "not a valid state record"
# own record refused
expect 3 parley --home "$A" peer add "$TMP/tehran.state" --fingerprint "$fa"
has "$ERR" "this state"
# the right digits, typed with dashes and other spacing, pin the peer
expect 0 parley --home "$A" peer add "$TMP/islamabad.state" --fingerprint "$(echo "$fb" | tr ' ' '-')"
has "$OUT" "pinned state islamabad"
expect 0 parley --home "$A" peer add "$TMP/islamabad.state" --fingerprint "$fb"
has "$OUT" "already pinned"
expect 0 parley --home "$A" --json peer list
has "$OUT" "\"state\":\"islamabad\""
# a different key under a pinned name is refused with an explanation
C="$TMP/impostor"
make_state "$C" islamabad
parley --home "$C" state export --out "$TMP/impostor.state"
fc=$(parley --home "$C" state fingerprint)
expect 3 parley --home "$A" peer add "$TMP/impostor.state" --fingerprint "$fc"
has "$ERR" "DIFFERENT root key"
expect 0 parley --home "$A" peer remove islamabad
expect 4 parley --home "$A" peer remove islamabad
has "$ERR" "not pinned"

# wrong passphrase: refused with exit 3, nothing created
PARLEY_PASSPHRASE="wrong" expect 3 parley --home "$A" node init --name tehran-1 --addr 127.0.0.1:7001
has "$ERR" "wrong passphrase"
[[ ! -e "$A/nodes/tehran-1.key" ]] || { echo "FAIL: node key left behind"; failures=$((failures+1)); }
echo "wrong" >"$TMP/pass"
expect 3 parley --home "$A" --passphrase-file "$TMP/pass" node init --name tehran-1 --addr 127.0.0.1:7001
echo "test passphrase" >"$TMP/pass"
expect 0 parley --home "$A" --passphrase-file "$TMP/pass" node init --name tehran-1 --addr 127.0.0.1:7001
has "$OUT" "created node tehran-1"
[[ $(stat -c %a "$A/nodes/tehran-1.key") == 600 ]] || { echo "FAIL: node key mode"; failures=$((failures+1)); }
expect 5 parley --home "$A" node init --name tehran-1 --addr 127.0.0.1:7001
expect 2 parley --home "$A" node init --name tehran-2 --addr nowhere
has "$ERR" "HOST:PORT"
expect 0 parley --home "$A" node list
has "$OUT" "127.0.0.1:7001"
# no state in the home folder
expect 4 parley --home "$TMP/empty" state show
has "$ERR" "no state in"
# no passphrase available and no terminal
PARLEY_PASSPHRASE= expect 2 setsid "$PARLEY_BIN/parley" --home "$TMP/y" state init --name y
has "$ERR" "passphrase is needed"
finish
