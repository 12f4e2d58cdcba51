#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Messages both ways through two real nodes: Tehran's minister sends,
# Islamabad's inbox shows it, Tehran sees it delivered to Islamabad;
# Islamabad answers, Tehran sees the answer.  Bodies from an argument, a
# file and standard input; inbox, read (by id and prefix) and their errors.
. "$(dirname "$0")/nodes.sh"
nodes_start
nodes_channel ops

json_id() { sed -n 's/.*"id":"\([0-9a-f]\{64\}\)".*/\1/p' "$OUT"; }

# Tehran -> Islamabad, FLASH, two lines.
expect 0 as_t fm --json send --channel ops --precedence FLASH \
	"Taftan crossing closes at 18:00 today.
Details follow."
id=$(json_id)
[[ ${#id} == 64 ]] || { echo "FAIL: no envelope id in: $(cat "$OUT")"; failures=$((failures + 1)); }
has "$OUT" '"duplicate":false'
has "$OUT" '"precedence":"FLASH"'
has "$OUT" '"seq":1'
until_has 10 "Taftan crossing closes" as_i fm inbox
has "$OUT" "${id:0:12}"
has "$OUT" "FLASH"
has "$OUT" "fm@tehran"
has "$OUT" "received"
has "$OUT" "Taftan crossing closes at 18:00 today. ..."
# delivery on Tehran's side becomes "delivered" for islamabad
until_has 10 "islamabad: delivered" as_t fm read "$id"
has "$OUT" "envelope     $id"
has "$OUT" "from         fm@tehran (seq 1)"
has "$OUT" "precedence   FLASH"
has "$OUT" "Details follow."
expect 0 as_t fm inbox
has "$OUT" "islamabad delivered"
# Islamabad reads the full envelope by a prefix of its id
expect 0 as_i fm read "${id:0:10}"
has "$OUT" "Taftan crossing closes at 18:00 today."
has "$OUT" "Details follow."
has "$OUT" "origin       tehran"

# Islamabad answers (a reference to Tehran's envelope, an ack deadline).
expect 0 as_i amb send --channel ops --ref "$id" --ack-by +2h "Received; our post is informed."
has "$OUT" "accepted"
has "$OUT" "by amb@islamabad"
until_has 10 "our post is informed" as_t amb inbox
has "$OUT" "amb@islamabad"
has "$OUT" "ROUTINE"
rid=$(grep "our post is informed" "$OUT" | cut -c1-12)
expect 0 as_t amb read "$rid"
has "$OUT" "answers      $id"
has "$OUT" "ack by"
until_has 10 "tehran: delivered" as_i amb read "$rid"

# Bodies from a file and from standard input; the sequence goes on.
printf 'Minutes of the border meeting\n- item one\n' >"$TMP/minutes.txt"
expect 0 as_t fm --json send --channel ops --file "$TMP/minutes.txt" --kind message
has "$OUT" '"seq":1' # ROUTINE is another lane: its own sequence
expect 0 as_t fm --json send --channel ops --precedence FLASH "second flash"
has "$OUT" '"seq":2'
checks=$((checks + 1))
if ! printf 'from standard input' | as_i fm send --channel ops - >"$OUT" 2>"$ERR"; then
	failures=$((failures + 1))
	echo "FAIL: send - (standard input)" >&2
	cat "$ERR" >&2
fi
until_has 10 "from standard input" as_t fm inbox
has "$OUT" "Minutes of the border meeting ..."
expect 0 as_t fm inbox --limit 2
has "$OUT" "from standard input"
hasnt "$OUT" "Taftan"
[[ $(wc -l <"$OUT") == 3 ]] || { echo "FAIL: --limit 2 gave: $(cat "$OUT")"; failures=$((failures + 1)); }
expect 0 as_t fm inbox --channel ops --limit 100
[[ $(wc -l <"$OUT") == 6 ]] || { echo "FAIL: inbox has not 5 envelopes: $(cat "$OUT")"; failures=$((failures + 1)); }
expect 0 as_t fm --json inbox
has "$OUT" '"body":"Taftan crossing closes at 18:00 today.\nDetails follow."'

# A body over 1 MiB, and bad arguments, are refused before anything is sent.
head -c $((1024 * 1024 + 1)) /dev/zero >"$TMP/big"
expect 2 as_t fm send --channel ops --file "$TMP/big"
has "$ERR" "over 1 MiB"
expect 2 as_t fm send --channel ops
has "$ERR" "one argument, with --file"
expect 2 as_t fm send --channel ops --file "$TMP/minutes.txt" "and text"
expect 2 as_t fm send "no channel"
expect 2 as_t fm send --channel ops --precedence URGENT "x"
has "$ERR" "FLASH, IMMEDIATE, PRIORITY or ROUTINE"
expect 2 as_t fm send --channel ops --ref 1234 "x"
expect 4 as_t fm send --channel ops --file "$TMP/missing.txt"
expect 2 as_t fm inbox --limit 0
expect 2 as_t fm read xyz
expect 2 as_t fm read 1234567
expect 4 as_t fm read "$(printf '0%.0s' {1..64})"
has "$ERR" "holds no envelope"
expect 4 as_t fm read 00000000
finish
