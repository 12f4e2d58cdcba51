#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# parley feed: a machine feed's lines become batch-signed envelopes (one
# signature per batch), accepted by Tehran's node and read at Islamabad;
# the sequence goes on across runs; a pipe that goes quiet sends what
# waits; an official without the role 'feed' is refused with the reason;
# usage errors.
. "$(dirname "$0")/nodes.sh"
nodes_start
nodes_official "$T" tehran sensor feed
nodes_channel sensors --member sensor

# from_input TEXT cmd...: cmd with TEXT (printf format) on standard input
from_input() { local t=$1; shift; printf "$t" | "$@"; }
# quiet_pipe cmd...: two lines, a pause of 1.5 s, one more line
quiet_pipe() { { printf 'c\nd\n'; sleep 1.5; printf 'e\n'; } | "$@"; }

seq 1 150 | sed 's/^/post 17 reading /' >"$TMP/readings.txt"
expect 0 as_t sensor feed --channel sensors --batch 64 "$TMP/readings.txt"
has "$OUT" "batch 1: 64 envelopes accepted, seq 1..64, one signature"
has "$OUT" "batch 3: 22 envelopes accepted, seq 129..150, one signature"
has "$OUT" "feed: 150 envelopes accepted in 3 batches"
until_has 15 "post 17 reading 150" as_i fm inbox --channel sensors --limit 500
n=$(grep -c "sensor@tehran" "$OUT")
checks=$((checks + 1))
[[ $n == 150 ]] || { echo "FAIL: islamabad lists $n of 150 readings" >&2; failures=$((failures + 1)); }

# standard input, and the stream goes on where it stopped
expect 0 from_input 'a\n\nb\n' as_t sensor --json feed --channel sensors
has "$OUT" '"first_seq":151'
has "$OUT" '"last_seq":152'
has "$OUT" '"envelopes":2'

# a pipe that goes quiet: the waiting batch goes after --flush-ms
expect 0 quiet_pipe as_t sensor feed --channel sensors --flush-ms 300
has "$OUT" "batch 1: 2 envelopes accepted, seq 153..154"
has "$OUT" "batch 2: 1 envelope accepted, seq 155..155"

# the minister is not a feed: refused, with the reason, nothing accepted
expect 3 from_input 'x\ny\nz\n' as_t fm feed --channel sensors
has "$ERR" "role 'feed'"
has "$ERR" "feed: 0 envelopes accepted in 0 batches; stopped"

# usage
expect 2 as_t sensor feed --channel sensors --batch 1
has "$ERR" "--batch must be 2..256"
expect 2 as_t sensor feed
has "$ERR" "--channel is required"
expect 4 as_t sensor feed --channel sensors "$TMP/no-such-file"
expect 0 parley feed --help
has "$OUT" "role 'feed'"
finish
