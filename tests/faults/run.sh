#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The fault harness (docs/faults.md): two or three real parleyd nodes whose
# peer links run through fault-injecting proxies (fproxy), every state
# sending envelopes on every lane, while faults are injected at seeded random
# points: SIGKILL of one node or of all at once, proxy faults (drop, stall,
# delay, reset mid-frame, half-open, blackhole, flap), clock skew with
# libfaketime (+1 h, -1 h, +400 days and back), and faults of one node's
# own (parleyd-faulty): SIGKILL at a named crash point, an I/O error, a full
# disk, and power loss that drops, tears or scatters a commit.  Then
# everything is healed and `pdrive check` classifies every envelope on every
# node.
#
#   run.sh [--seed N] [--nodes 2|3] [--envelopes N] [--faults N]
#          [--kinds k1,k2,...] [--short] [--control] [--keep] [--start-torn]
#
# Prints one summary line, e.g.
#   faults: 240 injected (...), 50000 envelopes, 0 lost, 0 duplicated, 0 reordered, 1 unexpected of 2 in doubt, seed 1234
# then, when a node's own faults were drawn, how often each struck, e.g.
#   struck: crashpoint 2 of 2, ..., power-torn 2 of 2 (the check refused 1, passed 1)
# and exits 1 on any violation (docs/faults.md says which), also when a fault
# had no visible effect.  --control then breaks the store of one node
# on purpose (rows of acknowledged envelopes deleted, a duplicate and a swap
# added with sqlite3) and exits 1 unless the checker reports each of them.
# Environment as for the integration tests: PARLEY_BIN, PARLEY_TOOLS,
# PARLEY_TEST_TMP (CTest and `make test-faults` set them).
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../integration/lib.sh"

ALL_KINDS=kill,killall,drop,stall,delay,reset,halfopen,blackhole,flap,skew-ahead,skew-behind,jump
ALL_KINDS+=,crashpoint,io-once,disk-full,power-lose,power-torn,power-scatter
seed=${FAULT_SEED:-$(date +%s)}
nodes=3 envelopes=50000 nfaults=360 kinds=$ALL_KINDS short=0 control=0 start_torn=0
while (($#)); do
	case $1 in
	--seed) seed=$2; shift ;;
	--nodes) nodes=$2; shift ;;
	--envelopes) envelopes=$2; shift ;;
	--faults) nfaults=$2; shift ;;
	--kinds) kinds=$2; shift ;;
	--short) short=1 nodes=2 envelopes=1500 nfaults=16 ;;
	--control) control=1 ;;
	--keep) KEEP=1 ;;
	--start-torn) start_torn=1 ;;
	*) echo "usage: run.sh [--seed N] [--nodes 2|3] [--envelopes N] [--faults N] [--kinds LIST] [--short] [--control] [--keep] [--start-torn]" >&2; exit 2 ;;
	esac
	shift
done
[[ $seed =~ ^[0-9]+$ && $nodes =~ ^[23]$ && $envelopes =~ ^[0-9]+$ && $nfaults =~ ^[0-9]+$ ]] ||
	{ echo "run.sh: bad arguments" >&2; exit 2; }
IFS=, read -r -a KINDS <<<"$kinds"
for k in "${KINDS[@]}"; do
	[[ ,$ALL_KINDS, == *,"$k",* ]] || { echo "run.sh: unknown fault kind '$k' (kinds: $ALL_KINDS)" >&2; exit 2; }
done
FAKETIME_LIB=${FAKETIME_LIB:-/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1}
needs_faketime=0
[[ ,$kinds, == *,skew-* || ,$kinds, == *,jump,* ]] && needs_faketime=1
if ((needs_faketime)) && [[ ! -r $FAKETIME_LIB ]]; then
	echo "run.sh: clock faults need libfaketime ($FAKETIME_LIB); install Debian's faketime" >&2
	exit 2
fi
command -v sqlite3 >/dev/null || ((control == 0)) || { echo "run.sh: --control needs the sqlite3 CLI" >&2; exit 2; }
if [[ ,$kinds, =~ ,(crashpoint|io-once|disk-full|power-[a-z]+), && ! -x $PARLEY_TOOLS/parleyd-faulty ]]; then
	echo "run.sh: the node's own faults need $PARLEY_TOOLS/parleyd-faulty" >&2
	exit 2
fi
# Short runs keep faults short; long runs hold a blackhole for 30 s and more.
# strike_wait: how long a node's own fault may take to strike.
if ((short)); then hold_min=300 hold_span=1200 gap_span=400 strike_wait=15; else hold_min=1000 hold_span=4000 gap_span=1500 strike_wait=30; fi

# ---------------------------------------------------------------- setup
STATES=(tehran islamabad muscat)
STATES=("${STATES[@]:0:$nodes}")
declare -A PXCTL=() PXPORT=() NODE_EXTRA=()
nproxies=0
SENDERS=()
stop_senders() { for p in "${SENDERS[@]}"; do kill "$p" 2>/dev/null; done; SENDERS=(); }
# libfaketime keeps a semaphore and a shared memory segment per process in
# /dev/shm and removes them only at a clean exit; a SIGKILLed node leaves
# them behind, and a later process with the same pid then fails to start.
FT_PIDS=()
ft_clean() { local p; for p in "$@"; do rm -f "/dev/shm/faketime_shm_$p" "/dev/shm/sem.faketime_sem_$p"; done; }
# Those of processes gone, whoever left them (another run, a test killed by
# its timeout): the faketime wrapper and libfaketime refuse to start with
# "sem_open: File exists" when their pid's are there.  Before every start.
ft_sweep() {
	local f p
	for f in /dev/shm/faketime_shm_* /dev/shm/sem.faketime_sem_*; do
		[[ -e $f ]] || continue
		p=${f##*_}
		[[ $p =~ ^[0-9]+$ ]] && [[ ! -d /proc/$p ]] && rm -f "$f"
	done
	return 0
}
ft_sweep
trap 'rc=$?; stop_senders; ((rc == 0)) || KEEP=1; cleanup; ft_clean "${FT_PIDS[@]}"' EXIT # a failed run is kept
log() { echo "[$(date +%T)] $*" >>"$W/harness.log"; ((short)) || echo "faults: $*" >&2; }

# Records and credentials are made two days back, so that a node whose clock
# is an hour behind still finds every record valid (a record is never valid
# before the moment it was signed; that is not what these faults test).
parley() { faketime -f -2d "$PARLEY_BIN/parley" "$@"; }
for s in "${STATES[@]}"; do state "$s"; done
unset -f parley
parley() { "$PARLEY_BIN/parley" "$@"; }

# port_for_proxy: a free port that no node was promised (nodes bind later).
port_for_proxy() {
	local p
	for _ in $(seq 1 50); do
		p=$(free_port)
		[[ " ${PEER[*]} ${API[*]} " == *" $p "* ]] || { PP=$p; return; }
	done
	fail "no free port for a proxy"
}
# proxy A B: a proxy for A's link to B; A's node.ini names it as B's address.
proxy() {
	local a=$1 b=$2 name="px-$1-$2" lp
	port_for_proxy
	lp=$PP
	port_for_proxy
	"$PARLEY_TOOLS/fproxy" --listen "127.0.0.1:$lp" --control "127.0.0.1:$PP" --target "127.0.0.1:${PEER[$b]}" \
		--seed "$((seed + nproxies))" --ports-file "$W/$name.ports" >>"$W/$name.log" 2>&1 &
	PID[$name]=$!
	nproxies=$((nproxies + 1))
	for _ in $(seq 1 100); do [[ -s $W/$name.ports ]] && break; sleep 0.05; done
	[[ -s $W/$name.ports ]] || fail "proxy $name did not start"
	read -r PXPORT[$name] PXCTL[$name] <"$W/$name.ports"
	parley --home "$W/$a" peer add "$W/$b.state" --fingerprint "$(parley --home "$W/$b" state fingerprint)" \
		>/dev/null || fail "peer add $a $b"
	printf '\n[peer %s]\naddress = 127.0.0.1:%s\n' "$b" "${PXPORT[$name]}" >>"$W/$a.peers"
}
for a in "${STATES[@]}"; do
	for b in "${STATES[@]}"; do [[ $a != "$b" ]] && proxy "$a" "$b"; done
done

# px NAME COMMAND...: one command to a proxy's control port; its answer must be "ok".
px() {
	local name=$1 reply=""
	shift
	exec 9<>"/dev/tcp/127.0.0.1/${PXCTL[$name]}" || fail "proxy $name: no control port"
	printf '%s\n' "$*" >&9
	read -r -t 5 reply <&9
	exec 9>&-
	[[ $reply == ok* ]] || fail "proxy $name: '$*' answered '$reply'"
}

# launch NAME [VAR=VALUE...]: start (or restart) NAME's node in the
# background: parleyd, under libfaketime when clock faults are on; or with
# variables parleyd-faulty with them in its environment (PARLEY_FAULT_PLAN,
# PARLEY_CRASH_AT), never under libfaketime: a node's own fault never
# overlaps a clock fault (its clock is right), and an ASan build of
# parleyd-faulty deadlocks in libfaketime's constructor.  PID[NAME] is its pid.
launch() {
	local s=$1 bin=$PARLEY_BIN/parleyd
	shift
	(($#)) && bin=$PARLEY_TOOLS/parleyd-faulty
	{
		printf '[node]\nname = %s-1\nhome = %s\nlisten = 127.0.0.1:%s\napi = 127.0.0.1:%s\nlog_level = info\n' \
			"$s" "$W/$s" "${PEER[$s]}" "${API[$s]}"
		# checkpoints at least every 10 s: every fault meets cosigning
		# (and the mid-cosign crash point is reached in seconds)
		printf 'checkpoint_interval = 10\n'
		[[ -z ${NODE_EXTRA[$s]:-} ]] || printf '%s\n' "${NODE_EXTRA[$s]}"
		printf '\n[link]\nping_interval = 1000\ndead_after = 4000\nbackoff_min = 100\nbackoff_max = 1000\n'
		cat "$W/$s.peers"
	} >"$W/$s.ini"
	if ((needs_faketime && $# == 0)); then
		ft_sweep
		[[ -f $W/$s.clock ]] || echo "+0" >"$W/$s.clock"
		env "$@" LD_PRELOAD="$FAKETIME_LIB" FAKETIME_TIMESTAMP_FILE="$W/$s.clock" FAKETIME_NO_CACHE=1 \
			FAKETIME_DONT_FAKE_MONOTONIC=1 "$bin" -c "$W/$s.ini" >>"$W/$s.log" 2>&1 &
		FT_PIDS+=($!)
	else
		env "$@" "$bin" -c "$W/$s.ini" >>"$W/$s.log" 2>&1 &
	fi
	PID[$s]=$!
}
# up NAME SECONDS: 0 once NAME's API answers; 1 when its process exited
# first (reaped; EXIT_CODE is its status) or SECONDS passed (EXIT_CODE empty).
up() {
	local s=$1 deadline=$((SECONDS + $2))
	EXIT_CODE=""
	while ((SECONDS < deadline)); do
		if ! kill -0 "${PID[$s]}" 2>/dev/null; then
			reap "$s"
			return 1
		fi
		pdrive wait --api "http://127.0.0.1:${API[$s]}" --timeout 1 >/dev/null 2>&1 && return 0
	done
	return 1
}
# reap NAME: collect NAME's exited node (EXIT_CODE) and what libfaketime left.
reap() {
	local p=${PID[$1]}
	wait "$p" 2>/dev/null
	EXIT_CODE=$?
	unset "PID[$1]"
	ft_clean "$p"
}
# node NAME [VAR=VALUE...]: launch, and the node must come up.
node() {
	launch "$@"
	up "$1" 20 || fail "$1 did not come up${EXIT_CODE:+ (exit $EXIT_CODE)}: $(tail -n 2 "$W/$1.log")"
}
for s in "${STATES[@]}"; do node "$s"; done
charter fm "${STATES[@]}"
for s in "${STATES[@]:1}"; do wait_charter "$s" fm; done

sleep_ms() { sleep "$(printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)))"; }

# kill9 S: SIGKILL node S (and clear what libfaketime leaves behind).
kill9() {
	local p=${PID[$1]}
	crash "$1"
	ft_clean "$p"
}

# ---------------------------------------------------------------- traffic
# sender S N: S's duty officer sends at least N envelopes in batches on
# random lanes, and goes on (slowly) until the faults are over
# ($W/faults.done), so that every fault meets traffic; long runs pause up to
# a second between batches.  Acknowledged ids go to $W/S.ids.  A batch cut off by a fault is
# retried; an envelope whose submission got no answer (the node died) is "in
# doubt" (one line in $W/S.doubt): it may or may not have been accepted.
LANES=(FLASH IMMEDIATE PRIORITY ROUTINE)
sender() {
	local s=$1 want=$2 i=$3 have=0 batch lane out
	RANDOM=$((seed * 7 + i))
	: >"$W/$s.ids"
	local deadline=$((SECONDS + 7200))
	while { ((have < want)) || [[ ! -e $W/faults.done ]]; } && ((SECONDS < deadline)); do
		lane=${LANES[RANDOM % 4]}
		batch=$((20 + RANDOM % (short || have >= want ? 60 : 200)))
		((have < want && batch > want - have)) && batch=$((want - have))
		# once its share is sent, a sender only trickles (every fault still
		# meets traffic, and the final check stays quick)
		if ((have >= want)); then
			sleep_ms $((2000 + RANDOM % 3000))
		elif ((!short)); then
			sleep_ms $((RANDOM % 1000))
		fi
		if ! out=$("$PARLEY_TOOLS/pdrive" send $(as "$s") --channel fm --lane "$lane" --count "$batch" \
			--size $((64 + RANDOM % 512)) --ids "$W/$s.ids" 2>&1); then
			echo "$out" >>"$W/$s.send-errors"
			[[ $out =~ envelope\ [0-9]+\ refused\ \(HTTP\ (0|5[0-9][0-9])\) ]] && echo "$lane" >>"$W/$s.doubt"
			sleep 0.2
		fi
		have=$(wc -l <"$W/$s.ids")
	done
}
per=$((envelopes / nodes))
idx=0
for s in "${STATES[@]}"; do
	sender "$s" "$per" "$idx" &
	SENDERS+=($!)
	idx=$((idx + 1))
done

# ---------------------------------------------------------------- faults
declare -A COUNT=()
injected=0
# The draws below set globals rather than print: a $(...) subshell would not
# advance (and may reseed) the seeded generator, and runs would not repeat.
rnd() { R=$(($1 + RANDOM % ($2 > 0 ? $2 : 1))); } # R in [lo, lo + span)
pick_state() { PS=${STATES[RANDOM % nodes]}; }
# LINK: the proxies of one link, both directions (either side may hold the live connection)
pick_link() {
	local a
	pick_state
	a=$PS
	while [[ $PS == "$a" ]]; do pick_state; done
	LINK="px-$a-$PS px-$PS-$a"
}
clock() { echo "$2" >"$W/$1.clock"; }
# clock_probe S: the node's clock as its API shows it: a challenge expires 60 s
# after the node's "now".  CLK = that now minus ours (seconds), or "refused"
# when the node no longer finds the official valid (after a jump past every
# validity period).
clock_probe() {
	local body='{"state":"'$1'","id":"duty"}' reply="" t0
	CLK=none
	exec 8<>"/dev/tcp/127.0.0.1/${API[$1]}" || return
	t0=$(date +%s)
	printf 'POST /v1/auth/challenge HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s' \
		"${#body}" "$body" >&8
	reply=$(timeout 5 cat <&8)
	exec 8>&-
	if [[ $reply =~ \"expires\":([0-9]+) ]]; then
		CLK=$((BASH_REMATCH[1] - 60 - t0))
	elif [[ $reply == *"HTTP/1.1 401"* ]]; then
		CLK=refused
	fi
}
clock_misses=0

# ---- a node's own faults: parleyd-faulty (docs/faults.md, "The faults")
CRASH_POINTS=(after-commit-before-receipt after-receipt after-delivery-commit mid-cosign)
declare -A STRUCK=() REFUSED=() UNSEEN=()
fault_errors=0 # the node's own faults that went wrong (each a violation)
# How far into the victim's life (counted from its start) a store fault strikes:
# commits for power loss, write operations for I/O errors.
if ((short)); then commit_span=150 write_span=1500; else commit_span=400 write_span=4000; fi
# log_from S: S's log since its last launch by restart_faulty or relaunch.
log_from() { tail -c +$((${LOGOFF[$1]:-0} + 1)) "$W/$1.log"; }
declare -A LOGOFF=()
# relaunch S [VAR=VALUE...]: launch S (stopped) anew; log_from S starts here.
relaunch() {
	LOGOFF[$1]=$(stat -c %s "$W/$1.log")
	launch "$@"
}
# restart_faulty S VAR=VALUE...: stop S cleanly, start it as parleyd-faulty.
restart_faulty() {
	stop "$1"
	relaunch "$@"
}
# wait_gone S SECONDS: 0 once S's process has exited (reaped), 1 if it still
# runs after SECONDS.
wait_gone() {
	local deadline=$((SECONDS + $2))
	while ((SECONDS < deadline)); do
		kill -0 "${PID[$1]}" 2>/dev/null || { reap "$1"; return 0; }
		sleep 0.1
	done
	return 1
}
# wait_strike S PATTERN SECONDS: 0 once S's log since its launch matches
# PATTERN; 2 when the process exited first (reaped); 1 after SECONDS.
wait_strike() {
	local deadline=$((SECONDS + $3))
	while ((SECONDS < deadline)); do
		log_from "$1" | grep -q -- "$2" && return 0
		kill -0 "${PID[$1]}" 2>/dev/null || { log_from "$1" | grep -q -- "$2" && return 0; reap "$1"; return 2; }
		sleep 0.1
	done
	return 1
}
# restore_before S: put S's store back as it was before the commit that lost
# power (parleyd-faulty's `snapshot`): what an atomic store keeps.
restore_before() {
	local db="$W/$1/node-$1-1.db"
	[[ -f $db.before-power-loss ]] || return 1
	mv "$db.before-power-loss" "$db" || return 1
	if [[ -f $db.before-power-loss-wal ]]; then mv "$db.before-power-loss-wal" "$db-wal"; else rm -f "$db-wal"; fi
	rm -f "$db-shm"
}
fault_error() { log "ERROR: $*"; fault_errors=$((fault_errors + 1)); }
# end_faulty S: SIGTERM, then SIGKILL if it has not exited in 20 s; EXIT_CODE.
end_faulty() {
	kill -TERM "${PID[$1]}" 2>/dev/null
	wait_gone "$1" 20 || { kill9 "$1"; EXIT_CODE=137; }
}

inject() {
	local kind=$1 hold s p a b
	rnd "$hold_min" "$hold_span"
	hold=$R
	case $kind in
	kill)
		pick_state
		s=$PS
		log "kill -9 $s"
		kill9 "$s"
		rnd 0 1000
		sleep_ms "$R"
		node "$s"
		;;
	killall)
		log "kill -9 all nodes"
		for s in "${STATES[@]}"; do kill9 "$s"; done
		rnd 0 1000
		sleep_ms "$R"
		for s in "${STATES[@]}"; do node "$s"; done
		;;
	drop | stall | blackhole)
		pick_link
		[[ $kind == blackhole ]] && ((short == 0)) && rnd 30000 10000 && hold=$R
		log "$kind $LINK for $hold ms"
		for p in $LINK; do px "$p" "$kind" "$hold"; done
		sleep_ms "$hold"
		;;
	delay)
		pick_link
		rnd 20 300
		a=$R
		rnd 0 100
		b=$R
		log "delay $LINK by $a+-$b ms for $hold ms"
		for p in $LINK; do px "$p" delay "$a" "$b" "$hold"; done
		sleep_ms "$hold"
		;;
	reset)
		pick_link
		rnd 1 20000
		log "reset $LINK after $R bytes"
		for p in $LINK; do px "$p" reset "$R" "$hold"; done
		sleep_ms "$hold"
		;;
	halfopen)
		pick_link
		a=up
		((RANDOM % 2)) && a=down
		log "halfopen $a $LINK for $hold ms"
		for p in $LINK; do px "$p" halfopen "$a" "$hold"; done
		sleep_ms "$hold"
		;;
	flap)
		pick_link
		hold=$((hold * 2))
		rnd 200 1000
		a=$R
		rnd 100 800
		b=$R
		log "flap $LINK up $a down $b ms for $hold ms"
		for p in $LINK; do px "$p" flap "$a" "$b" "$hold"; done
		sleep_ms "$hold"
		;;
	skew-ahead | skew-behind | jump)
		pick_state
		s=$PS
		local to="+1h"
		[[ $kind == skew-behind ]] && to="-1h"
		[[ $kind == jump ]] && to="+400d"
		clock "$s" "$to"
		sleep 0.2
		clock_probe "$s"
		if [[ $CLK == refused ]]; then
			log "clock of $s $to for $hold ms (the node finds no credential valid any more)"
		else
			log "clock of $s $to for $hold ms (the node's clock is $CLK s off)"
		fi
		case $kind in
		skew-ahead) [[ $CLK =~ ^[0-9]+$ ]] && ((CLK > 3500 && CLK < 3700)) ;;
		skew-behind) [[ $CLK =~ ^-[0-9]+$ ]] && ((CLK < -3500 && CLK > -3700)) ;;
		jump) [[ $CLK == refused ]] || { [[ $CLK =~ ^[0-9]+$ ]] && ((CLK > 399 * 86400)); } ;;
		esac || clock_misses=$((clock_misses + 1))
		sleep_ms "$hold"
		clock "$s" "+0"
		;;
	crashpoint)
		pick_state
		s=$PS
		a=${CRASH_POINTS[RANDOM % ${#CRASH_POINTS[@]}]}
		rnd 1 3
		b=$R
		[[ $a == mid-cosign ]] && b=1 # one cosignature per peer and 10 s
		log "crash point $a on $s, pass $b"
		restart_faulty "$s" PARLEY_CRASH_AT="$a:$b"
		if ! wait_gone "$s" "$strike_wait"; then
			log "$s did not reach crash point $a $b times in $strike_wait s: stopped"
			end_faulty "$s"
		fi
		if log_from "$s" | grep -q "crash point $a reached"; then
			STRUCK[$kind]=$((${STRUCK[$kind]:-0} + 1))
		elif ((EXIT_CODE != 0)); then
			fault_error "$s died (exit $EXIT_CODE), not at crash point $a: $(log_from "$s" | tail -n 1)"
		fi
		rnd 0 1000
		sleep_ms "$R"
		node "$s"
		;;
	io-once | disk-full)
		pick_state
		s=$PS
		rnd 1 "$write_span"
		a=$R
		local plan="fail_at=$a"
		[[ $kind == disk-full ]] && plan+=",persistent"
		log "$kind on $s: PARLEY_FAULT_PLAN=$plan"
		restart_faulty "$s" PARLEY_FAULT_PLAN="$plan"
		wait_strike "$s" 'parleyd-faulty: injected ' "$strike_wait"
		case $? in
		0)
			STRUCK[$kind]=$((${STRUCK[$kind]:-0} + 1))
			sleep_ms "$hold" # the disk stays full, or the node runs on
			if ! kill -0 "${PID[$s]}" 2>/dev/null; then
				reap "$s"
				log "$s exited (exit $EXIT_CODE) after the $kind fault: $(log_from "$s" | grep 'level=error' | tail -n 1)"
			elif [[ $kind == disk-full ]]; then
				kill9 "$s" # the disk is replaced: restart on a healthy store
			else
				# it goes on after the I/O error, and stops cleanly
				end_faulty "$s"
				((EXIT_CODE == 0)) || fault_error "$s exited $EXIT_CODE on SIGTERM after the I/O error: $(log_from "$s" | grep 'level=error' | tail -n 1)"
			fi
			node "$s"
			;;
		2)
			fault_error "$s exited (exit $EXIT_CODE) before the $kind fault struck: $(log_from "$s" | tail -n 1)"
			node "$s"
			;;
		*)
			log "the $kind fault did not strike $s in $strike_wait s: stopped"
			end_faulty "$s"
			if log_from "$s" | grep -q 'parleyd-faulty: injected '; then
				STRUCK[$kind]=$((${STRUCK[$kind]:-0} + 1)) # while it stopped
			elif ((EXIT_CODE != 0)); then
				fault_error "$s exited $EXIT_CODE on SIGTERM: $(log_from "$s" | tail -n 1)"
			fi
			node "$s"
			;;
		esac
		;;
	power-lose | power-torn | power-scatter)
		pick_state
		s=$PS
		rnd 1 "$commit_span"
		a=$R
		rnd 1 1000000
		local plan="power_at=$a,power=${kind#power-},seed=$R" kept=0 writes=0 why
		[[ $kind != power-lose ]] && plan+=",snapshot"
		log "$kind on $s: PARLEY_FAULT_PLAN=$plan"
		restart_faulty "$s" PARLEY_FAULT_PLAN="$plan"
		if ! wait_gone "$s" "$strike_wait"; then
			log "$s did not lose power in $strike_wait s (fewer than $a commits): stopped"
			end_faulty "$s" # its last commits may be the one
		fi
		why=$(log_from "$s" | grep -m 1 'parleyd-faulty: power lost at commit')
		if [[ $why =~ :\ ([0-9]+)\ of\ its\ ([0-9]+)\ writes ]]; then
			kept=${BASH_REMATCH[1]} writes=${BASH_REMATCH[2]}
			STRUCK[$kind]=$((${STRUCK[$kind]:-0} + 1))
			log "$s lost power: ${why#*parleyd-faulty: }"
		elif ((EXIT_CODE != 0)); then
			fault_error "$s died (exit $EXIT_CODE) without losing power: $(log_from "$s" | tail -n 1)"
		fi
		# the machine comes back on whatever reached its disk
		rnd 0 1000
		sleep_ms "$R"
		if [[ $kind != power-lose ]] && ((writes)); then
			# Part of a commit on disk: no atomic store (SQLite included)
			# leaves this; it is damage.  The node's start-up check runs on
			# it (parleyd --check); a refusal is right only when part, not
			# all, of the commit survived.  Then the store is put back as an
			# atomic commit would have left it (the copy from before the
			# commit), checked or not, unless --start-torn lets the node
			# start on a torn store its check passes.
			LOGOFF[$s]=$(stat -c %s "$W/$s.log")
			why=""
			if "$PARLEY_BIN/parleyd" -c "$W/$s.ini" --check >>"$W/$s.log" 2>&1; then
				UNSEEN[$kind]=$((${UNSEEN[$kind]:-0} + 1))
				log "$s's start-up check passes the torn store ($kept of $writes writes of the commit)"
			else
				why=$(log_from "$s" | grep 'msg="cannot start"' | tail -n 1)
				if [[ $why == *'reason="store is damaged: '* ]] && ((kept > 0 && kept < writes)); then
					REFUSED[$kind]=$((${REFUSED[$kind]:-0} + 1))
					log "$s's start-up check refuses the torn store ($kept of $writes writes of the commit): ${why#*reason=}"
				else
					fault_error "$s's check fails after $kind ($kept of $writes writes of the commit on disk): ${why:-$(log_from "$s" | tail -n 1)}"
				fi
			fi
			if [[ $why == *'reason="store is damaged: '* ]] || ((start_torn == 0)); then
				restore_before "$s" || fail "$s: no copy of its store from before the power loss"
			fi
		fi
		relaunch "$s"
		if ! up "$s" 20; then
			[[ -n $EXIT_CODE ]] || fail "$s neither came up nor exited after $kind"
			fault_error "$s does not start after $kind ($kept of $writes writes of the commit on disk, exit $EXIT_CODE): $(log_from "$s" | grep 'msg="cannot start"' | tail -n 1)"
			node "$s" # fails the run too
		fi
		rm -f "$W/$s/node-$s-1.db.before-power-loss" "$W/$s/node-$s-1.db.before-power-loss-wal"
		;;
	esac
	COUNT[$kind]=$((${COUNT[$kind]:-0} + 1))
	injected=$((injected + 1))
}

started=$SECONDS
QUEUE=()
# Seeded here, after the setup: free_port draws from RANDOM too, and how
# often depends on which ports happen to be busy.
RANDOM=$seed
while ((injected < nfaults)); do
	rnd 50 "$gap_span"
	sleep_ms "$R"
	# kinds in shuffled rounds: every kind is injected once before any twice
	if ((${#QUEUE[@]} == 0)); then
		QUEUE=("${KINDS[@]}")
		for ((i = ${#QUEUE[@]} - 1; i > 0; i--)); do
			j=$((RANDOM % (i + 1)))
			k=${QUEUE[i]} QUEUE[i]=${QUEUE[j]} QUEUE[j]=$k
		done
	fi
	inject "${QUEUE[0]}"
	QUEUE=("${QUEUE[@]:1}")
done
touch "$W/faults.done"
for p in "${SENDERS[@]}"; do wait "$p"; done
SENDERS=()
log "traffic and faults done after $((SECONDS - started)) s"

# ---------------------------------------------------------------- heal and check
for name in "${!PXCTL[@]}"; do px "$name" pass; done
for s in "${STATES[@]}"; do [[ -f $W/$s.clock ]] && clock "$s" "+0"; done
sent=0 doubt=0
idsargs=()
for s in "${STATES[@]}"; do
	sent=$((sent + $(wc -l <"$W/$s.ids")))
	[[ -f $W/$s.doubt ]] && doubt=$((doubt + $(wc -l <"$W/$s.doubt")))
	idsargs+=(--ids "$W/$s.ids")
done
# held S: how many envelopes of fm node S holds.  Read from its store with
# sqlite3 when it is there (the channel log, docs/formats.md "Node store"):
# listing 100 000 envelopes through the API takes minutes; the checker
# below still goes through the API.
held() {
	if command -v sqlite3 >/dev/null; then
		sqlite3 -readonly -cmd ".timeout 5000" "$W/$1/node-$1-1.db" \
			"SELECT count(*) FROM objects WHERE kind = 102 AND key LIKE 'fm/%';" 2>/dev/null
	else
		pdrive count $(as "$1") --channel fm 2>/dev/null
	fi
}
# Converged: every node holds at least what was acknowledged, all hold the
# same count, and it did not change for a second.  Bounded: a node that never
# catches up is reported by the checker below, not waited for forever.
converge() {
	local prev="" cur="" n limit=$1 deadline=$((SECONDS + $1))
	while ((SECONDS < deadline)); do
		cur=""
		for s in "${STATES[@]}"; do
			n=$(held "$s")
			cur+="${n:-0} "
		done
		if [[ $cur == "$prev" ]]; then
			local ok=1
			for n in $cur; do ((n >= sent)) || ok=0; done
			[[ $(tr ' ' '\n' <<<"$cur" | sed '/^$/d' | sort -u | wc -l) == 1 ]] || ok=0
			((ok)) && return 0
		fi
		prev=$cur
		sleep 0.5
	done
	log "no convergence after $limit s: counts $cur (acknowledged $sent)"
	return 1
}
converge $((short ? 60 : 300))

lost=0 dup=0 reord=0 unexp=0 violations=0
declare -A HELD=()
check_node() { # check_node S: pdrive check on S; sets HELD[S] and adds to the totals
	local s=$1 line
	line=$(pdrive check $(as "$s") --channel fm "${idsargs[@]}" 2>&1 | grep '^check:')
	[[ $line =~ ([0-9]+)\ expected,\ ([0-9]+)\ held,\ ([0-9]+)\ lost,\ ([0-9]+)\ duplicated,\ ([0-9]+)\ reordered,\ ([0-9]+)\ unexpected ]] ||
		fail "$s: no checker summary (got '$line')"
	HELD[$s]=${BASH_REMATCH[2]}
	CL=${BASH_REMATCH[3]} CD=${BASH_REMATCH[4]} CR=${BASH_REMATCH[5]} CU=${BASH_REMATCH[6]}
	echo "$s: $line" >>"$W/harness.log"
	((short)) || echo "faults: $s: $line" >&2
}
for s in "${STATES[@]}"; do
	check_node "$s"
	lost=$((lost + CL)) dup=$((dup + CD)) reord=$((reord + CR))
	((CU > unexp)) && unexp=$CU
	# An envelope in doubt may be held (once, in order) or not, but the
	# same on every node: more unexpected ones than doubts is a violation.
	if ((CL || CD || CR || CU > doubt)); then violations=$((violations + 1)); fi
done
held_set=$(for s in "${STATES[@]}"; do echo "${HELD[$s]}"; done | sort -u | wc -l)
if ((held_set != 1)); then
	log "nodes hold different numbers of envelopes: $(for s in "${STATES[@]}"; do printf '%s=%s ' "$s" "${HELD[$s]}"; done)"
	violations=$((violations + 1))
fi
# Faults that had no effect prove nothing either: the proxies must have
# discarded and reset, and each clock fault must have shown on the node's
# clock (checked when it was injected).
pxsum() { # pxsum FIELD: the sum of one stats field over every proxy
	local name reply total=0 v
	for name in "${!PXCTL[@]}"; do
		exec 9<>"/dev/tcp/127.0.0.1/${PXCTL[$name]}" || continue
		printf 'stats\n' >&9
		read -r -t 5 reply <&9
		exec 9>&-
		v=$(tr ' ' '\n' <<<"$reply" | sed -n "s/^$1=//p")
		total=$((total + ${v:-0}))
	done
	echo "$total"
}
if ((${COUNT[drop]:-0} + ${COUNT[blackhole]:-0} + ${COUNT[halfopen]:-0})) && (($(pxsum discarded) == 0)); then
	log "no proxy discarded a byte: the drop/blackhole/halfopen faults did nothing"
	violations=$((violations + 1))
fi
if ((${COUNT[reset]:-0} + ${COUNT[flap]:-0} + ${COUNT[blackhole]:-0})) && (($(pxsum resets) == 0)); then
	log "no proxy reset a connection: the reset/flap/blackhole faults did nothing"
	violations=$((violations + 1))
fi
# Each of a node's own faults must have struck at least once, and none may
# have gone wrong (a refusal to start on an intact store, a death elsewhere).
for k in crashpoint io-once disk-full power-lose power-torn power-scatter; do
	if ((${COUNT[$k]:-0} && ${STRUCK[$k]:-0} == 0)); then
		log "none of the ${COUNT[$k]} $k faults struck"
		violations=$((violations + 1))
	fi
done
if ((fault_errors)); then
	log "$fault_errors of a node's own faults went wrong (ERROR lines above)"
	violations=$((violations + 1))
fi
if ((clock_misses)); then
	log "$clock_misses clock faults did not show on the node's clock (libfaketime?)"
	violations=$((violations + 1))
fi
# The transcripts must have stayed consistent: a node that raised a
# transcript alarm (a peer's log missing or rewriting what was sent, a
# checkpoint it would not cosign) found an inconsistency, or raised a false
# alarm; either is a violation.
alarms=$(cat "$W"/*.log | grep -c 'msg="transcript alarm"')
if ((alarms)); then
	log "$alarms transcript alarms, the first: $(grep -h 'msg="transcript alarm"' "$W"/*.log | head -n 1)"
	violations=$((violations + 1))
fi
# A run that did not send what it was asked to proves nothing.
if ((sent < per * nodes)); then
	log "only $sent envelopes were acknowledged, $((per * nodes)) were asked for (see $W/*.send-errors)"
	violations=$((violations + 1))
fi
kinds_done=$(for k in "${!COUNT[@]}"; do printf '%s %s, ' "$k" "${COUNT[$k]}"; done | sed 's/, $//')
echo "faults: $injected injected ($kinds_done), $sent envelopes, $lost lost, $dup duplicated, $reord reordered, $unexp unexpected of $doubt in doubt, seed $seed"
own=""
for k in crashpoint io-once disk-full power-lose power-torn power-scatter; do
	((${COUNT[$k]:-0})) || continue
	own+="$k ${STRUCK[$k]:-0} of ${COUNT[$k]}"
	[[ $k == power-torn || $k == power-scatter ]] &&
		own+=" (the check refused ${REFUSED[$k]:-0}, passed ${UNSEEN[$k]:-0})"
	own+=", "
done
[[ -z $own ]] || echo "struck: ${own%, }"
if ((violations)); then
	echo "FAIL: the checker found violations; replay with --seed $seed (details in $W/harness.log, KEEP=1 keeps it)" >&2
	KEEP=1
	for s in "${STATES[@]}"; do
		echo "--- $s (last refusals)" >&2
		grep 'msg="envelope refused"' "$W/$s.log" | tail -n 3 >&2
	done
	exit 1
fi

# ---------------------------------------------------------------- control run
# Break one node's store the way a lying disk would, and require the checker
# to see it: rows of acknowledged envelopes deleted (lost), one envelope listed
# twice (duplicated), two envelopes of one stream swapped (reordered).
if ((control)); then
	s=${STATES[1]}
	stop "$s"
	db="$W/$s/node-$s-1.db"
	q() { sqlite3 -cmd ".timeout 5000" "$db" "$@"; }
	# CHLOG (kind 102): "fm/<pos>" -> hex id; META (101) by hex id (and ENV, 100,
	# in stores written before envelopes were kept only as transcript entries).
	mapfile -t gone < <(q "SELECT key, CAST(value AS TEXT) FROM objects WHERE kind = 102 AND key LIKE 'fm/%' ORDER BY key DESC LIMIT 3;")
	((${#gone[@]} == 3)) || fail "control: cannot read $db"
	for row in "${gone[@]}"; do
		id=${row#*|}
		q "DELETE FROM objects WHERE (kind IN (100, 101) AND key = '$id') OR (kind = 102 AND key = '${row%%|*}');"
	done
	# a duplicate: the first envelope listed a second time, at the end
	first=$(q "SELECT CAST(value AS TEXT) FROM objects WHERE kind = 102 AND key LIKE 'fm/%' ORDER BY key LIMIT 1;")
	q "INSERT INTO objects (kind, key, value) VALUES (102, 'fm/00000000009999999999', CAST('$first' AS BLOB));"
	# a swap: two consecutive envelopes of one author and lane change places
	pair=$(q "SELECT a.key, b.key FROM objects a JOIN objects b ON a.kind = 101 AND b.kind = 101
		AND json_extract(CAST(a.value AS TEXT), '\$.author') = json_extract(CAST(b.value AS TEXT), '\$.author')
		AND json_extract(CAST(a.value AS TEXT), '\$.state') = json_extract(CAST(b.value AS TEXT), '\$.state')
		AND json_extract(CAST(a.value AS TEXT), '\$.lane') = json_extract(CAST(b.value AS TEXT), '\$.lane')
		AND json_extract(CAST(b.value AS TEXT), '\$.seq') = json_extract(CAST(a.value AS TEXT), '\$.seq') + 1 LIMIT 1;")
	ida=${pair%%|*} idb=${pair##*|}
	[[ -n $ida && -n $idb ]] || fail "control: no two consecutive envelopes of one stream"
	q "UPDATE objects SET value = CAST(CASE CAST(value AS TEXT) WHEN '$ida' THEN '$idb' ELSE '$ida' END AS BLOB)
		WHERE kind = 102 AND CAST(value AS TEXT) IN ('$ida', '$idb');"
	# The node's own start-up check would refuse this store (as it should:
	# faults/corrupt-*); the control run tests the checker, so it is off.
	NODE_EXTRA[$s]="store_check = off"
	node "$s"
	grep -q '^store_check = off$' "$W/$s.ini" || fail "control: cannot turn the store check off"
	check_node "$s"
	echo "control: after deleting 3 acknowledged envelopes, listing one twice and swapping two in $s's store, the checker reports $CL lost, $CD duplicated, $CR reordered"
	((CL == 3 && CD >= 1 && CR >= 1)) || fail "control: the checker did not see what was broken"
fi
finish "faults: passed"
