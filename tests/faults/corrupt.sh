#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Corruption at start (docs/faults.md): the receiving node's store is damaged
# while the node is down, then the node starts.  It must either refuse to
# start with a clear message, or start with an intact store: SQLite's
# structure checks pass, every stored envelope still hashes to its id, and no
# envelope the peer had delivered is missing once the link is back.  Starting
# on a damaged store without a word fails the case.
#
#   corrupt.sh [CASE...]   (default: all)
#     db-middle      one bit flipped in the middle byte of the node store
#     db-envelope    one bit flipped in every stored copy of an envelope's body
#     db-charter     one bit flipped near the end (in a signature) of the stored charter
#     db-truncated   the last page of the node store cut off
#     wal-truncated  the node killed with commits in its WAL, the WAL cut in half
#     wal-crash      the same crash without damage: the case that must pass, so
#                    that a failure above is the damage's doing, not the crash's
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../integration/lib.sh"
command -v sqlite3 >/dev/null || fail "corrupt.sh needs the sqlite3 CLI"
CASES=("$@")
((${#CASES[@]})) || CASES=(db-middle db-envelope db-charter db-truncated wal-crash wal-truncated)

# flip FILE OFFSET: invert the lowest bit of one byte.
flip() {
	local b
	b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
	[[ -n $b ]] || fail "no byte at $2 in $1"
	printf "$(printf '\\%03o' $((b ^ 1)))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}
size() { stat -c %s "$1"; }

# verdict CASE: start islamabad on its damaged store and judge what it does.
passed=0 failed=0
verdict() {
	local c=$1 db=$2 api="http://127.0.0.1:${API[islamabad]}" up=0 rc
	"$PARLEY_BIN/parleyd" -c "$W/islamabad.ini" >>"$W/islamabad.log" 2>&1 &
	PID[islamabad]=$!
	for _ in $(seq 1 50); do
		if ! kill -0 "${PID[islamabad]}" 2>/dev/null; then break; fi
		if pdrive wait --api "$api" --timeout 1 >/dev/null 2>&1; then up=1; break; fi
	done
	if ((!up)); then
		wait "${PID[islamabad]}"
		rc=$?
		unset "PID[islamabad]"
		local why
		why=$(grep 'level=error' "$W/islamabad.log" | tail -n 1)
		if ((rc != 0)) && grep -qiE 'corrupt|malformed|integrity|not a database|damaged' <<<"$why"; then
			echo "$c: refused to start (exit $rc): $why"
			passed=$((passed + 1))
		else
			echo "$c: FAIL: did not start, but said nothing clear about its store (exit $rc): $why"
			failed=$((failed + 1))
		fi
		return
	fi
	# It runs: the store must be intact.
	local problems=() integ bad=0 line
	integ=$(sqlite3 -cmd ".timeout 5000" "$db" "PRAGMA integrity_check;" 2>&1 | head -n 3 | tr '\n' ' ')
	[[ $integ == "ok " ]] || problems+=("integrity_check: $integ")
	while IFS='|' read -r key hex; do
		[[ $(xxd -r -p <<<"$hex" | sha256sum | cut -c1-64) == "$key" ]] || bad=$((bad + 1))
	done < <(sqlite3 -cmd ".timeout 5000" "$db" "SELECT m.key, hex(substr(e.value, 2)) FROM objects m
		LEFT JOIN objects e ON e.kind = 113 AND e.key = printf('%020d', json_extract(CAST(m.value AS TEXT), '\$.pos'))
		WHERE m.kind = 101;" 2>/dev/null)
	((bad == 0)) || problems+=("$bad stored envelope(s) no longer hash to their id")
	# Give the link a moment to bring back what the peer still holds, then count.
	sleep 2
	line=$(pdrive check $(as islamabad) --channel fm --ids "$W/t.ids" 2>&1 | grep '^check:\|^pdrive:')
	[[ $line == *" 0 lost, 0 duplicated, 0 reordered, 0 unexpected"* ]] || problems+=("$line")
	if ((${#problems[@]} == 0)); then
		echo "$c: started with an intact store ($line)"
		passed=$((passed + 1))
	else
		echo "$c: FAIL: started on a damaged store without a word: $(printf '%s; ' "${problems[@]}")"
		failed=$((failed + 1))
	fi
	crash islamabad
}

for c in "${CASES[@]}"; do
	[[ $c =~ ^(db-middle|db-envelope|db-charter|db-truncated|wal-crash|wal-truncated)$ ]] || fail "unknown case $c"
done
pair tehran islamabad
start tehran; start islamabad
charter fm tehran islamabad
wait_charter islamabad fm
for lane in ROUTINE FLASH; do
	pdrive send $(as tehran) --channel fm --lane $lane --count 40 --size 300 --ids "$W/t.ids" >/dev/null ||
		fail "send $lane"
done
wait_count islamabad fm 80
stop islamabad # a clean stop: everything checkpointed into the main file
db="$W/islamabad/node-islamabad-1.db"
cp "$db" "$W/pristine.db"
[[ ! -e $db-wal ]] || fail "a clean stop left a WAL"

prev=db
for c in "${CASES[@]}"; do
	# A db case starts from the pristine copy.  A WAL case continues from
	# where the previous WAL case left the store (the envelopes it took are
	# acknowledged to tehran, which will not send them again).
	if [[ $c == db-* || $prev == db ]]; then
		cp "$W/pristine.db" "$db"
		rm -f "$db-wal" "$db-shm"
	fi
	prev=${c%%-*}
	case $c in
	db-middle)
		flip "$db" $(($(size "$db") / 2))
		;;
	db-envelope)
		# every stored copy of one envelope's body (the envelope itself and
		# whatever else keeps its bytes, such as a transcript entry)
		offs=$(grep -obUa 'fm ROUTINE #20 ' "$db" | cut -d: -f1)
		[[ -n $offs ]] || fail "no envelope body found in $db"
		for off in $offs; do flip "$db" $((off + 3)); done
		;;
	db-charter)
		# the row of channel fm's charter (kind 109), one bit of its tenth
		# byte from the end: in the last signature
		hex=$(sqlite3 "$db" "SELECT hex(value) FROM objects WHERE kind = 109 AND key = 'fm'")
		[[ -n $hex ]] || fail "no stored charter in $db"
		pos=$((${#hex} - 20))
		hex="${hex:0:pos}$(printf '%02X' $((0x${hex:pos:2} ^ 1)))${hex:pos+2}"
		sqlite3 "$db" "UPDATE objects SET value = X'$hex' WHERE kind = 109 AND key = 'fm'" ||
			fail "cannot damage the charter"
		rm -f "$db-wal" "$db-shm"
		;;
	db-truncated)
		truncate -s $(($(size "$db") - 4096)) "$db"
		;;
	wal-crash | wal-truncated)
		# Fresh WAL: start, take 30 more envelopes (acknowledged to tehran),
		# die without a checkpoint; wal-truncated then loses half the WAL.
		start islamabad
		pdrive send $(as tehran) --channel fm --lane PRIORITY --count 30 --size 300 --ids "$W/t.ids" >/dev/null ||
			fail "send PRIORITY"
		wait_count islamabad fm "$(wc -l <"$W/t.ids")"
		crash islamabad
		[[ -s $db-wal ]] || fail "no WAL after the crash"
		[[ $c == wal-truncated ]] && truncate -s $(($(size "$db-wal") / 2)) "$db-wal"
		;;
	esac
	verdict "$c" "$db"
done
if ((failed)); then
	KEEP=1
	echo "corrupt: $passed passed, $failed failed (docs/faults.md, 'Corruption at start')" >&2
	exit 1
fi
finish "corrupt: $passed passed, 0 failed"
