#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Joint statements on two real nodes (docs/statements.md): Tehran drafts
# version 1, Islamabad version 2, `statement diff` shows the change; an
# official without the role "signatory" is refused with the reason; both
# signatories sign version 2 and it is adopted; the published folder
# passes `parley verify` (with --root only, and with a home's pinned
# roots) and the stock `minisign -V` for each state; one flipped byte of
# statement.txt fails both verifiers; a statement whose states signed
# different versions is never adopted and publish refuses it; Tehran's
# public feed lists the adopted statement and serves the published bytes,
# and nothing else.
. "$(dirname "$0")/lib.sh"
parley statement draft --help >/dev/null 2>&1 || fail "parley statement is not wired into the CLI (cli/main.c)"
command -v minisign >/dev/null || fail "minisign is not installed (scripts/install-deps installs it)"
command -v curl >/dev/null || fail "curl is not installed"

# signatory STATE: official "fm" of STATE with the role signatory (key in $W/STATE-fm.key).
signatory() {
	parley key new --out "$W/$1-fm.key" --kdf interactive >/dev/null || fail "key new fm $1"
	parley --home "$W/$1" official issue --id fm --name "Foreign minister of $1" \
		--title "Foreign minister" --role signatory --role minister --key "$W/$1-fm.key" \
		--from -1h >/dev/null || fail "issue fm $1"
}
# cli STATE OFFICIAL ARGS...: parley as that official against its state's node.
cli() {
	local s=$1 o=$2
	shift 2
	PARLEY_NODE="http://127.0.0.1:${API[$s]}" PARLEY_AS=$o PARLEY_KEY="$W/$s-$o.key" \
		parley --home "$W/$s" "$@"
}
# field S PATH FIELD: one field of node S's answer to GET PATH (empty when absent).
field() { pdrive get $(as "$1") --path "$2" --field "$3" 2>/dev/null; }
# wait_field S PATH FIELD VALUE [SECONDS]
wait_field() {
	local v=""
	for _ in $(seq 1 $((${5:-30} * 5))); do
		v=$(field "$1" "$2" "$3")
		[[ $v == "$4" ]] && return 0
		sleep 0.2
	done
	fail "$1: $2 has $3 = '$v', not '$4'"
}
root() { parley --home "$W/$1" --json state show | sed 's/.*"root_key": *"\([^"]*\)".*/\1/'; }

FEED=$(free_port)
state tehran; state islamabad
signatory tehran; signatory islamabad
peer tehran islamabad; peer islamabad tehran
NODE_EXTRA=$'checkpoint_interval = 10\ncheckpoint_entries = 1\nfeed = 127.0.0.1:'"$FEED"
start tehran
NODE_EXTRA=$'checkpoint_interval = 10\ncheckpoint_entries = 1'
start islamabad
pdrive charter $(as tehran) --name border --home "$W/tehran" --home "$W/islamabad" \
	--member duty@tehran --member duty@islamabad --member fm@tehran --member fm@islamabad \
	--kind message --kind statement --kind statement-sign >/dev/null || fail "charter"
wait_charter islamabad border
passed=0

# ---- drafting in turns; the diff
printf 'Joint statement of Tehran and Islamabad.\nThe crossing at Taftan reopens on 1 May.\nTrade resumes at once.\n' >"$W/v1.txt"
printf 'Joint statement of Tehran and Islamabad.\nThe crossing at Taftan reopens on 2 May.\nTrade resumes at once.\n' >"$W/v2.txt"
cli tehran fm statement draft --channel border taftan --title "Taftan crossing" --file "$W/v1.txt" \
	>"$W/draft1.out" 2>&1 || fail "draft v1: $(cat "$W/draft1.out")"
grep -q "statement taftan version 1 drafted" "$W/draft1.out" || fail "draft v1: $(cat "$W/draft1.out")"
wait_field islamabad /v1/statements/border/taftan versions.0.v 1
cli islamabad fm statement draft --channel border taftan --file "$W/v2.txt" >"$W/draft2.out" 2>&1 ||
	fail "draft v2: $(cat "$W/draft2.out")"
grep -q "statement taftan version 2 drafted" "$W/draft2.out" || fail "draft v2: $(cat "$W/draft2.out")"
wait_field tehran /v1/statements/border/taftan versions.1.v 2
[[ $(field tehran /v1/statements/border/taftan versions.1.author) == fm &&
	$(field tehran /v1/statements/border/taftan versions.1.state) == islamabad ]] ||
	fail "version 2's author on tehran"
cli tehran duty statement diff --channel border taftan 1 2 >"$W/diff.out" 2>&1 || fail "diff: $(cat "$W/diff.out")"
grep -qx -- "-The crossing at Taftan reopens on 1 May." "$W/diff.out" || fail "diff: $(cat "$W/diff.out")"
grep -qx -- "+The crossing at Taftan reopens on 2 May." "$W/diff.out" || fail "diff: $(cat "$W/diff.out")"
grep -qx -- " Trade resumes at once." "$W/diff.out" || fail "diff: $(cat "$W/diff.out")"
cli tehran duty statement show --channel border taftan --version 1 >"$W/show.out" 2>&1 || fail "show"
grep -q "reopens on 1 May" "$W/show.out" || fail "show v1: $(cat "$W/show.out")"
passed=$((passed + 1))

# ---- only a signatory signs
cli tehran duty statement sign --channel border taftan >"$W/duty.out" 2>&1 && fail "the duty officer signed"
grep -q "not-member" "$W/duty.out" && grep -q 'does not hold the role "signatory"' "$W/duty.out" ||
	fail "duty's refusal: $(cat "$W/duty.out")"
passed=$((passed + 1))

# ---- both sign version 2: adopted on both nodes
cli tehran fm statement sign --channel border taftan >"$W/sign-t.out" 2>&1 || fail "sign t: $(cat "$W/sign-t.out")"
grep -q "fm of tehran signed version 2 of statement taftan" "$W/sign-t.out" || fail "sign t: $(cat "$W/sign-t.out")"
cli islamabad fm statement sign --channel border taftan --version 2 >"$W/sign-i.out" 2>&1 ||
	fail "sign i: $(cat "$W/sign-i.out")"
wait_field tehran /v1/statements/border/taftan adopted.v 2
wait_field islamabad /v1/statements/border/taftan adopted.v 2
# a second signature of the same version by the same state is refused
cli tehran fm statement sign --channel border taftan >"$W/again.out" 2>&1 && fail "signed twice"
grep -q "already signed version 2" "$W/again.out" || fail "sign again: $(cat "$W/again.out")"
cli tehran duty statement list --channel border >"$W/list.out" 2>&1 || fail "list"
grep -q "^taftan .*v2 " "$W/list.out" || fail "list: $(cat "$W/list.out")"
passed=$((passed + 1))

# ---- publish (once the proofs of receipt exist) and verify
for _ in $(seq 1 200); do
	[[ -n $(field tehran /v1/statements/border/taftan/bundle proofs.2.id) ]] && break
	sleep 0.2
done
[[ -n $(field tehran /v1/statements/border/taftan/bundle proofs.2.id) ]] ||
	fail "the bundle has no three proofs of receipt: $(field tehran /v1/statements/border/taftan/bundle proofs)"
cli tehran duty statement publish --channel border taftan "$W/pub" >"$W/pub.out" 2>&1 || fail "publish: $(cat "$W/pub.out")"
for f in statement.txt bundle.json tehran.minisig tehran.pub islamabad.minisig islamabad.pub; do
	[[ -s $W/pub/$f ]] || fail "publish wrote no $f"
done
cmp -s "$W/pub/statement.txt" "$W/v2.txt" || fail "statement.txt is not version 2's text"
cli tehran duty statement publish --channel border taftan "$W/pub" >/dev/null 2>&1
[[ $? == 5 ]] || fail "publish into a non-empty folder without --force"
cli tehran duty statement publish --channel border taftan "$W/pub" --force >/dev/null 2>&1 || fail "publish --force"
roots=(--root "tehran=$(root tehran)" --root "islamabad=$(root islamabad)")
mkdir -p "$W/elsewhere"
parley --home "$W/elsewhere/none" verify "$W/pub" "${roots[@]}" >"$W/verify.out" 2>&1 ||
	fail "verify: $(cat "$W/verify.out")"
grep -q "^valid: statement taftan version 2 on channel border" "$W/verify.out" || fail "verify: $(cat "$W/verify.out")"
grep -q "proofs of receipt: 3 verified" "$W/verify.out" || fail "verify: $(cat "$W/verify.out")"
parley --home "$W/islamabad" verify "$W/pub" >/dev/null 2>&1 || fail "verify with islamabad's pinned roots"
# --root wins over the home's pin: a wrong root for tehran fails
parley --home "$W/islamabad" verify "$W/pub" --root "tehran=$(root islamabad)" >"$W/wrong.out" 2>&1
[[ $? == 3 ]] || fail "verify with a wrong --root: $(cat "$W/wrong.out")"
grep -q "^failed: tehran: " "$W/wrong.out" || fail "wrong root: $(cat "$W/wrong.out")"
# a missing root
parley --home "$W/elsewhere/none" verify "$W/pub" --root "tehran=$(root tehran)" >"$W/missing.out" 2>&1
[[ $? == 3 ]] || fail "verify without islamabad's root"
grep -q "no root key for islamabad" "$W/missing.out" || fail "missing root: $(cat "$W/missing.out")"
for s in tehran islamabad; do
	minisign -V -p "$W/pub/$s.pub" -m "$W/pub/statement.txt" -x "$W/pub/$s.minisig" >"$W/ms.out" 2>&1 ||
		fail "minisign -V $s: $(cat "$W/ms.out")"
	grep -q "parley statement taftan v=2 state=$s signer=fm sha256=" "$W/ms.out" ||
		fail "minisign's trusted comment for $s: $(cat "$W/ms.out")"
done
passed=$((passed + 1))

# ---- one flipped byte: both verifiers fail
cp -r "$W/pub" "$W/bad"
printf '\x01' | dd of="$W/bad/statement.txt" bs=1 seek=10 conv=notrunc 2>/dev/null
cmp -s "$W/pub/statement.txt" "$W/bad/statement.txt" && fail "the byte was not flipped"
parley --home "$W/elsewhere/none" verify "$W/bad" "${roots[@]}" >"$W/bad.out" 2>&1
[[ $? == 3 ]] || fail "verify of a changed text: $(cat "$W/bad.out")"
grep -q "^invalid: " "$W/bad.out" && grep -q "^failed: statement.txt does not hash to text_sha256" "$W/bad.out" ||
	fail "verify of a changed text: $(cat "$W/bad.out")"
for s in tehran islamabad; do
	minisign -V -p "$W/bad/$s.pub" -m "$W/bad/statement.txt" -x "$W/bad/$s.minisig" >/dev/null 2>&1 &&
		fail "minisign accepted a changed text ($s)"
done
passed=$((passed + 1))

# ---- different versions signed: never adopted
printf 'Chaman stays closed.\n' >"$W/c1.txt"
printf 'Chaman reopens.\n' >"$W/c2.txt"
cli tehran fm statement draft --channel border chaman --title Chaman --file "$W/c1.txt" >/dev/null 2>&1 || fail "draft chaman 1"
wait_field islamabad /v1/statements/border/chaman versions.0.v 1
cli islamabad fm statement draft --channel border chaman --file "$W/c2.txt" >/dev/null 2>&1 || fail "draft chaman 2"
wait_field tehran /v1/statements/border/chaman versions.1.v 2
cli tehran fm statement sign --channel border chaman --version 1 >/dev/null 2>&1 || fail "sign chaman 1"
cli islamabad fm statement sign --channel border chaman --version 2 >/dev/null 2>&1 || fail "sign chaman 2"
for s in tehran islamabad; do # both nodes hold both signatures, and nothing is adopted
	for _ in $(seq 1 150); do
		[[ -n $(field $s /v1/statements/border/chaman signatures.1.v) ]] && break
		sleep 0.2
	done
	[[ -n $(field $s /v1/statements/border/chaman signatures.1.v) ]] ||
		fail "$s holds $(field $s /v1/statements/border/chaman signatures) for chaman"
	[[ $(field $s /v1/statements/border/chaman adopted) == null ]] || fail "chaman adopted on $s"
done
cli tehran duty statement publish --channel border chaman "$W/chaman" >"$W/chaman.out" 2>&1 && fail "published chaman"
grep -q "not adopted" "$W/chaman.out" || fail "publish chaman: $(cat "$W/chaman.out")"
[[ -e $W/chaman ]] && fail "publish of chaman wrote a folder"
passed=$((passed + 1))

# ---- the public feed: adopted statements only, the published bytes, nothing else
feed="http://127.0.0.1:$FEED"
code=$(curl -s -o "$W/feed.atom" -w '%{http_code} %{content_type}' "$feed/feed.atom")
[[ $code == "200 application/atom+xml; charset=utf-8" ]] || fail "feed.atom: $code"
grep -q "<id>urn:parley:border:taftan:2</id>" "$W/feed.atom" || fail "feed: $(cat "$W/feed.atom")"
grep -q "chaman" "$W/feed.atom" && fail "the feed lists a statement that is not adopted"
if command -v xmllint >/dev/null; then xmllint --noout "$W/feed.atom" || fail "feed.atom is not well-formed XML"; fi
for f in statement.txt tehran.minisig tehran.pub islamabad.minisig islamabad.pub; do
	curl -s -f -o "$W/feed-$f" "$feed/statements/border/taftan/$f" || fail "feed: GET $f"
	cmp -s "$W/feed-$f" "$W/pub/$f" || fail "the feed's $f differs from the published one"
done
curl -s -f -o "$W/feed-bundle.json" "$feed/statements/border/taftan/bundle.json" || fail "feed: GET bundle.json"
for path in /statements/border/chaman/statement.txt /statements/border/taftan/node.db /v1/statements \
	/healthz /statements/../../etc/passwd "/statements/border/taftan/..%2f..%2fstate.db" /; do
	code=$(curl -s --path-as-is -o /dev/null -w '%{http_code}' "$feed$path")
	[[ $code == 404 || $code == 400 ]] || fail "feed: GET $path gave $code"
done
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST --data x "$feed/feed.atom")
[[ $code == 405 ]] || fail "feed: POST gave $code"
passed=$((passed + 1))

finish "$passed passed, 0 failed"
