# SPDX-License-Identifier: Apache-2.0
# Integration test helpers: state homes, real parleyd processes on
# 127.0.0.1 with free ports, pdrive to sign and submit envelopes and to
# check what a node holds.  Every wait is bounded; daemons are killed on exit.
set -uo pipefail
: "${PARLEY_BIN:?set by CTest}" "${PARLEY_TOOLS:?set by CTest}" "${PARLEY_TEST_TMP:=/tmp}"
mkdir -p "$PARLEY_TEST_TMP"
W=$(mktemp -d "$PARLEY_TEST_TMP/integ.XXXXXX")
export PARLEY_PASSPHRASE="integration passphrase"
unset PARLEY_HOME
declare -A PID API PEER
cleanup() {
	for s in "${!PID[@]}"; do kill -9 "${PID[$s]}" 2>/dev/null; done
	wait 2>/dev/null
	if [[ ${KEEP:-0} == 1 ]]; then echo "kept $W"; else rm -rf "$W"; fi
}
trap cleanup EXIT
parley() { "$PARLEY_BIN/parley" "$@"; }
pdrive() { "$PARLEY_TOOLS/pdrive" "$@"; }
fail() { echo "FAIL: $*" >&2; for s in "${!PID[@]}"; do echo "--- log of $s" >&2; tail -n 30 "$W/$s.log" >&2; done; exit 1; }

# A port nobody listens on (bash's /dev/tcp connect fails) and that this
# test has not handed out before: the ports of nodes not started yet are
# free too, and one drawn twice made a node's API port its peer's listener.
# Called in a command substitution, so what it handed out is in a file.
free_port() {
	local p
	for _ in $(seq 1 200); do
		p=$((20000 + RANDOM % 12000)) # below the ephemeral range (32768-60999)
		grep -qx "$p" "$W/.ports" 2>/dev/null && continue
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p" >>"$W/.ports"
			echo "$p"
			return
		fi
	done
	fail "no free port"
}

# state NAME: a state home with a node and one official "duty" (key in $W/NAME-duty.key).
state() {
	local s=$1
	PEER[$s]=$(free_port)
	API[$s]=$(free_port)
	parley --home "$W/$s" state init --name "$s" --kdf interactive >/dev/null || fail "state init $s"
	parley --home "$W/$s" node init --name "$s-1" --addr "127.0.0.1:${PEER[$s]}" >/dev/null || fail "node init $s"
	parley key new --out "$W/$s-duty.key" --kdf interactive >/dev/null || fail "key new $s"
	parley --home "$W/$s" official issue --id duty --name "Duty officer of $s" --title "Duty officer" \
		--role duty --key "$W/$s-duty.key" --from -1h >/dev/null || fail "issue $s"
	parley --home "$W/$s" state export --out "$W/$s.state" 2>/dev/null || fail "export $s"
}

# peer A B: A pins B (after checking B's fingerprint) and lists B in its node.ini.
peer() {
	parley --home "$W/$1" peer add "$W/$2.state" --fingerprint "$(parley --home "$W/$2" state fingerprint)" >/dev/null ||
		fail "peer add $1 $2"
	printf '\n[peer %s]\naddress = 127.0.0.1:%s\n' "$2" "${PEER[$2]}" >>"$W/$1.peers"
}

# pair A B: states A and B (as state), each pinning the other (as peer).
pair() {
	state "$1"
	state "$2"
	peer "$1" "$2"
	peer "$2" "$1"
}

# start NAME: write node.ini and start parleyd; wait for /healthz.
# NODE_EXTRA: more lines for the [node] section (e.g. checkpoint settings);
# LINK_EXTRA: for the [link] section; LINK_DEAD_AFTER: its dead_after (4000 ms);
# PARLEYD: the daemon to run (default $PARLEY_BIN/parleyd).
start() {
	local s=$1
	{
		printf '[node]\nname = %s-1\nhome = %s\nlisten = 127.0.0.1:%s\napi = 127.0.0.1:%s\nlog_level = info\n' \
			"$s" "$W/$s" "${PEER[$s]}" "${API[$s]}"
		[[ -n ${NODE_EXTRA:-} ]] && printf '%s\n' "$NODE_EXTRA"
		printf '\n[link]\nping_interval = 1000\ndead_after = %s\nbackoff_min = 100\nbackoff_max = 1000\n' \
			"${LINK_DEAD_AFTER:-4000}"
		[[ -n ${LINK_EXTRA:-} ]] && printf '%s\n' "$LINK_EXTRA"
		cat "$W/$s.peers" 2>/dev/null
	} >"$W/$s.ini"
	"${PARLEYD:-$PARLEY_BIN/parleyd}" -c "$W/$s.ini" >>"$W/$s.log" 2>&1 &
	PID[$s]=$!
	pdrive wait --api "http://127.0.0.1:${API[$s]}" --timeout 10 >/dev/null || fail "$s did not come up"
}

# stop NAME: SIGTERM, and the daemon must exit 0 (a clean stop, leak-free under ASan).
stop() {
	kill -TERM "${PID[$1]}" 2>/dev/null
	wait "${PID[$1]}"
	local rc=$?
	unset "PID[$1]"
	[[ $rc == 0 ]] || fail "$1 exited $rc on SIGTERM"
}

# finish: stop every daemon cleanly, refuse sanitizer reports in any log.
finish() {
	for s in "${!PID[@]}"; do stop "$s"; done
	if grep -l "Sanitizer" "$W"/*.log 2>/dev/null; then fail "sanitizer report in a node log"; fi
	echo "$1"
}
crash() { kill -KILL "${PID[$1]}" 2>/dev/null; wait "${PID[$1]}" 2>/dev/null; unset "PID[$1]"; }

# as NAME ...: pdrive options for state NAME's duty officer against its own node.
as() { echo --api "http://127.0.0.1:${API[$1]}" --as duty --key "$W/$1-duty.key" --state "$1"; }

# charter CH S1 S2 [S3]: a channel with every state's duty officer, all lanes.
charter() {
	local ch=$1 first=$2
	shift
	local homes=() members=()
	for s in "$@"; do homes+=(--home "$W/$s"); members+=(--member "duty@$s"); done
	pdrive charter $(as "$first") --name "$ch" "${homes[@]}" "${members[@]}" --kind message >/dev/null ||
		fail "charter $ch"
}

# wait_count S CH N [SECONDS]: until node S holds at least N envelopes of CH.
wait_count() {
	local n=0
	for _ in $(seq 1 $((${4:-30} * 5))); do
		n=$(pdrive count $(as "$1") --channel "$2" 2>/dev/null || echo 0)
		[[ $n -ge $3 ]] && return 0
		sleep 0.2
	done
	fail "$1 holds $n of $3 envelopes of $2"
}

# wait_cosigned S P: until S's whole transcript is cosigned by P, and P
# witnessed it at that size.
wait_cosigned() {
	local size=0 by=0 wit=0
	for _ in $(seq 1 150); do
		size=$(pdrive get $(as "$1") --path /v1/status --field transcript.size)
		by=$(pdrive get $(as "$1") --path /v1/status --field "transcript.cosigned_by.$2")
		wit=$(pdrive get $(as "$2") --path /v1/status --field "transcript.cosigning.$1")
		[[ $size -gt 0 && $size == "$by" && $size == "$wit" ]] && return 0
		sleep 0.2
	done
	fail "$1's log of size $size: cosigned by $2 at ${by:-none}, witnessed at ${wit:-none}"
}

# wait_delivered S PEER IDS...: until node S says every envelope in the id
# files is delivered to PEER (its receipt arrived and was recorded).
wait_delivered() {
	local s=$1 p=$2
	shift 2
	local files=()
	for f in "$@"; do files+=(--ids "$f"); done
	for _ in $(seq 1 150); do
		pdrive delivered $(as "$s") --peer "$p" "${files[@]}" >"$W/delivered.out" 2>&1 && return 0
		sleep 0.2
	done
	fail "$s: not all delivered to $p: $(cat "$W/delivered.out")"
}

# wait_draining S: until S has heard a receipt from a peer (a backlog it
# queued is draining), at most 30 s
wait_draining() {
	for _ in $(seq 1 600); do
		(($(metric "$1" 'parley_link_receipts_total{direction="in"}') > 0)) && return 0
		sleep 0.05
	done
}

# backlog_drain A B CH N [pdrive send options]: B stops, A queues N ROUTINE
# envelopes on CH for it (their ids in $W/routine.ids), B comes back, and
# returns once the backlog is draining (wait_draining A).
backlog_drain() {
	local a=$1 b=$2 ch=$3 count=$4
	shift 4
	stop "$b"
	pdrive send $(as "$a") --channel "$ch" --lane ROUTINE --count "$count" "$@" \
		--ids "$W/routine.ids" >/dev/null || fail "backlog"
	start "$b"
	wait_draining "$a"
}

# check_stored_once S CH IDS...: node S holds every envelope of the id files
# on CH once, in order, and refused none (a reordered stream would be
# refused: "gap" or "replay").
check_stored_once() {
	local s=$1 ch=$2 ids=()
	shift 2
	for f in "$@"; do ids+=(--ids "$f"); done
	pdrive check $(as "$s") --channel "$ch" "${ids[@]}" || fail "an envelope is missing at $s"
	local dup
	dup=$(metric "$s" parley_envelopes_duplicate_total)
	((dup == 0)) || fail "$dup envelopes stored twice at $s"
	metrics "$s" | grep -q '^parley_envelopes_rejected_total{' &&
		fail "$s refused envelopes: $(metrics "$s" | grep '^parley_envelopes_rejected_total{')"
	return 0
}

# wait_charter S CH: until node S has the complete charter (propagated over the link).
wait_charter() {
	for _ in $(seq 1 100); do
		pdrive count $(as "$1") --channel "$2" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	fail "charter $2 never reached $1"
}

# store_rows S FILE: every row of node S's store (docs/formats.md, "Node
# store"), one line each, sorted: kind, key and (a prefix of) the value's SHA3-256.  Read
# with sqlite3 while the node runs (WAL: a consistent snapshot).  Attack
# tests compare two of these: what a refusal may change is named, nothing
# else may differ.
store_rows() {
	sqlite3 -readonly "$W/$1/node-$1-1.db" \
		"SELECT kind, key, substr(hex(sha3(value, 256)), 1, 16) FROM objects ORDER BY kind, key" >"$2" 2>/dev/null ||
		fail "cannot read the store of $1"
	[[ -s $2 ]] || fail "the store of $1 is empty or unreadable"
}

# store_same S BEFORE [KIND...]: node S's store holds exactly the rows of
# BEFORE (a file of store_rows), except rows of the named kinds.
store_same() {
	local s=$1 before=$2
	shift 2
	local skip='^$'
	(($#)) && skip="^($(IFS='|'; echo "$*"))\|"
	store_rows "$s" "$W/store.after"
	if ! diff <(grep -Ev "$skip" "$before") <(grep -Ev "$skip" "$W/store.after") >"$W/store.diff"; then
		fail "the store of $s changed: $(head -n 20 "$W/store.diff")"
	fi
}

# zero_leaf DB ID: zero, in the node store DB (its node stopped), the leaf
# hash row of envelope ID's entry in that node's log: its position from the
# envelope's metadata (kind 101), the row kind 114 "%020 position/00".
# LEAF_POS receives the position.
zero_leaf() {
	local key changed
	LEAF_POS=$(sqlite3 "$1" "SELECT json_extract(value, '\$.pos') FROM objects WHERE kind = 101 AND key = '$2'")
	[[ $LEAF_POS =~ ^[0-9]+$ ]] || fail "no position for envelope $2 in $1: '$LEAF_POS'"
	key=$(printf '%020d/00' "$LEAF_POS")
	changed=$(sqlite3 "$1" "UPDATE objects SET value = zeroblob(32) WHERE kind = 114 AND key = '$key'
		AND value != zeroblob(32); SELECT changes();")
	[[ $changed == 1 ]] || fail "the leaf row $key in $1 was not changed ($changed)"
}

# metrics S: node S's /metrics text (HTTP headers included, CR stripped);
# empty when the node does not answer.
metrics() {
	(exec 3<>"/dev/tcp/127.0.0.1/${API[$1]}" && printf 'GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3 &&
		tr -d '\r' <&3) 2>/dev/null
}

# metric S NAME: the value of NAME (with its labels, as printed) in node S's
# /metrics; 0 when the node does not print it.
metric() {
	local out
	out=$(metrics "$1")
	[[ -n $out ]] || fail "no /metrics from $1"
	awk -v n="$2" '$1 == n { v = $2 } END { print v + 0 }' <<<"$out"
}

# wait_quiet S: until node S has nothing queued for any peer (every item
# acknowledged), so that its store only changes on what a test does next.
wait_quiet() {
	local out depth=1
	for _ in $(seq 1 100); do
		out=$(metrics "$1")
		depth=$(awk '/^parley_queue_depth\{/ { d += $2 } END { print d + 0 }' <<<"$out")
		((depth == 0)) && return 0
		sleep 0.1
	done
	fail "$1 still has $depth items queued"
}
