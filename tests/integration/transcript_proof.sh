#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A proof of receipt produced on one node verifies with `parley log
# check-proof` anywhere, given nothing but the states' root keys; a
# tampered proof fails; `parley log verify` recomputes a node's whole log
# from its store file, and finds a row altered in it.
. "$(dirname "$0")/lib.sh"
parley log check-proof --help >/dev/null 2>&1 || fail "parley log is not wired into the CLI (cli/main.c)"
NODE_EXTRA=$'checkpoint_interval = 10\ncheckpoint_entries = 1'
pair tehran islamabad
start tehran; start islamabad
charter fm tehran islamabad
wait_charter islamabad fm
pdrive send $(as tehran) --channel fm --lane IMMEDIATE --count 3 --ids "$W/t.ids" >/dev/null || fail "send t"
pdrive send $(as islamabad) --channel fm --lane ROUTINE --count 2 --ids "$W/i.ids" >/dev/null || fail "send i"
wait_count islamabad fm 5
field() { pdrive get $(as "$1") --path /v1/status --field "$2"; }
wait_cosigned islamabad tehran
wait_cosigned tehran islamabad
root() { parley --home "$W/$1" --json state show | sed 's/.*"root_key": *"\([^"]*\)".*/\1/'; }
roots=(--root "tehran=$(root tehran)" --root "islamabad=$(root islamabad)")
cli() { # as tehran's duty officer, against tehran's node
	PARLEY_NODE="http://127.0.0.1:${API[tehran]}" PARLEY_AS=duty PARLEY_KEY="$W/tehran-duty.key" \
		parley --home "$W/tehran" "$@"
}
passed=0
id=$(sed -n 2p "$W/t.ids")
cli log prove "$id" --out "$W/proof.json" >"$W/prove.out" || fail "log prove: $(cat "$W/prove.out")"
grep -q "islamabad.parley/islamabad-1" "$W/prove.out" || fail "prove: $(cat "$W/prove.out")"
# another machine: an empty home, only the two root keys
mkdir -p "$W/elsewhere"
( cd "$W/elsewhere" && HOME="$W/elsewhere" parley --home "$W/elsewhere/none" log check-proof "$W/proof.json" "${roots[@]}" ) \
	>"$W/check.out" 2>&1 || fail "check-proof: $(cat "$W/check.out")"
grep -q "received: entry .* of the log of islamabad (node islamabad-1).*cosigned by tehran" "$W/check.out" ||
	fail "check-proof said: $(cat "$W/check.out")"
passed=$((passed + 1))
# one root only: islamabad's log cannot be checked, so the proof is refused
parley --home "$W/elsewhere/none" log check-proof "$W/proof.json" --root "tehran=$(root tehran)" >/dev/null 2>&1 &&
	fail "a proof checked without islamabad's root"
# a wrong root for islamabad
parley --home "$W/elsewhere/none" log check-proof "$W/proof.json" --root "tehran=$(root tehran)" \
	--root "islamabad=$(root tehran)" >/dev/null 2>&1 && fail "a proof checked with a wrong root"
# tampered: another leaf index, another envelope, a changed proof hash, a changed checkpoint
tamper() { # python-free: sed on the JSON text
	sed "$1" "$W/proof.json" >"$W/bad.json"
	cmp -s "$W/proof.json" "$W/bad.json" && fail "tamper $1 changed nothing"
	parley --home "$W/elsewhere/none" log check-proof "$W/bad.json" "${roots[@]}" >"$W/bad.out" 2>&1
	local rc=$?
	[[ $rc == 3 ]] || fail "tampered proof ($1): exit code $rc: $(cat "$W/bad.out")"
}
tamper 's/"index": \([0-9]*\)/"index": 1\1/'
tamper '0,/"inclusion": \[/{n;s/"[A-Za-z0-9+\/]\{4\}/"AAAA/}'
tamper 's/"envelope": "\(.\{40\}\)./"envelope": "\1A/'
tamper 's/islamabad.parley\/islamabad-1\\n\([0-9]*\)\\n/islamabad.parley\/islamabad-1\\n9\1\\n/'
passed=$((passed + 1))
# the home's pinned roots are enough too
parley --home "$W/islamabad" log check-proof "$W/proof.json" >/dev/null || fail "check-proof with a home"
passed=$((passed + 1))

# export and status
cli log export --out "$W/evidence.json" 2>/dev/null || fail "export"
grep -q '"type": "parley-transcript-evidence"' "$W/evidence.json" || fail "evidence file"
cli log status >"$W/status.out" || fail "status"
grep -q "no alarms" "$W/status.out" || fail "status: $(cat "$W/status.out")"
passed=$((passed + 1))

# verify: the whole log recomputed from the store file (read while the node runs)
parley --home "$W/tehran" log verify >"$W/verify.out" 2>&1 || fail "verify: $(cat "$W/verify.out")"
grep -q "^ok$" "$W/verify.out" || fail "verify: $(cat "$W/verify.out")"
grep -q "signatures verified" "$W/verify.out" || fail "verify did not check signatures: $(cat "$W/verify.out")"
stop tehran
db="$W/tehran/node-tehran-1.db"
# A store written before the night of 2026-11-27 keeps what it learnt of its
# envelopes in islamabad's log under "origin/hex(id)", not
# "origin/e/position": the proof still finds it.
sqlite3 "$db" "UPDATE objects SET key = substr(key, 1, instr(key, '/e/') - 1) || '/' || (
	SELECT m.key FROM objects m WHERE m.kind = 101 AND
	json_extract(CAST(m.value AS TEXT), '\$.pos') = CAST(substr(objects.key, instr(objects.key, '/e/') + 3) AS INTEGER))
	WHERE kind = 121 AND key LIKE '%/e/%'" || fail "sqlite3: old keys"
# (and its delivery states by id, kind 107, as such a store has them)
sqlite3 "$db" "UPDATE objects SET kind = 107, key = (SELECT m.key FROM objects m WHERE m.kind = 101 AND
	json_extract(CAST(m.value AS TEXT), '\$.pos') = CAST(substr(objects.key, 1, 20) AS INTEGER)) || substr(key, 21)
	WHERE kind = 132" || fail "sqlite3: old delivery keys"
[[ $(sqlite3 "$db" "SELECT count(*) FROM objects WHERE kind = 107") -gt 0 ]] || fail "no old-style delivery rows"
[[ $(sqlite3 "$db" "SELECT count(*) FROM objects WHERE kind = 121 AND key LIKE '%/$id'") == 1 ]] ||
	fail "no old-style row for $id: $(sqlite3 "$db" "SELECT key FROM objects WHERE kind = 121")"
# ... and its transcript's hashes under "%02 level/%020 index", not "%020
# last leaf/%02 level": `parley log verify` and the node read them there,
# and the node appends in that layout.
sqlite3 "$db" "UPDATE objects SET key = printf('%02d/%020d', CAST(substr(key, 22) AS INTEGER),
	(CAST(substr(key, 1, 20) AS INTEGER) + 1) / (1 << CAST(substr(key, 22) AS INTEGER)) - 1)
	WHERE kind = 114" || fail "sqlite3: old hash keys"
[[ $(sqlite3 "$db" "SELECT count(*) FROM objects WHERE kind = 114 AND key LIKE '00/%'") -gt 4 ]] ||
	fail "no old-style hash keys: $(sqlite3 "$db" "SELECT key FROM objects WHERE kind = 114 LIMIT 5")"
parley --home "$W/tehran" log verify --store "$db" >"$W/verify-old.out" 2>&1 || fail "verify (old keys): $(cat "$W/verify-old.out")"
start tehran
pdrive send $(as tehran) --channel fm --lane ROUTINE --count 2 --ids "$W/t2.ids" >/dev/null || fail "send (old keys)"
wait_cosigned tehran islamabad
cli log prove "$id" --out "$W/proof2.json" >"$W/prove2.out" || fail "log prove (old keys): $(cat "$W/prove2.out")"
grep -q "islamabad.parley/islamabad-1" "$W/prove2.out" || fail "prove (old keys): $(cat "$W/prove2.out")"
stop tehran
[[ $(sqlite3 "$db" "SELECT count(*) FROM objects WHERE kind = 114 AND key NOT LIKE '__/%'") == 0 ]] ||
	fail "the node appended hashes in the new layout to an old store"
parley --home "$W/tehran" log verify --store "$db" >"$W/verify-old.out" 2>&1 || fail "verify (old keys, grown): $(cat "$W/verify-old.out")"
passed=$((passed + 1))
sqlite3 "$db" "UPDATE objects SET value = value || X'00' WHERE kind = 113 AND key = printf('%020d', 3)" ||
	fail "sqlite3"
parley --home "$W/tehran" log verify --store "$db" >"$W/verify.out" 2>&1 && fail "an altered entry passed verify"
grep -q "MISMATCH" "$W/verify.out" || fail "verify: $(cat "$W/verify.out")"
passed=$((passed + 1))
finish "$passed passed, 0 failed"
