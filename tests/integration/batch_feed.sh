#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A machine feed's batch-signed envelopes (docs/formats.md, "Batch-signed
# envelopes"): accepted, delivered and receipted like any other, each
# batch's signature verified once per node, never from an official without
# the role 'feed'.
. "$(dirname "$0")/lib.sh"
state tehran; state islamabad
parley key new --out "$W/sensor.key" --kdf interactive >/dev/null || fail "key new sensor"
parley --home "$W/tehran" official issue --id sensor-17 --name "Border sensor 17" --title "Sensor" \
	--role feed --key "$W/sensor.key" --from -1h >/dev/null || fail "issue sensor"
peer tehran islamabad; peer islamabad tehran
start tehran; start islamabad
pdrive charter $(as tehran) --name feed --home "$W/tehran" --home "$W/islamabad" \
	--member duty@tehran --member duty@islamabad --member sensor-17@tehran --kind message >/dev/null ||
	fail "charter feed"
wait_charter islamabad feed
sensor() { echo --api "http://127.0.0.1:${API[tehran]}" --as sensor-17 --key "$W/sensor.key" --state tehran; }

v_t=$(metric tehran parley_signature_verifications_total)
v_i=$(metric islamabad parley_signature_verifications_total)
pdrive send $(sensor) --channel feed --lane ROUTINE --count 256 --batch 64 --batch-sign \
	--ids "$W/feed.ids" >/dev/null || fail "the sensor's batches"
wait_count islamabad feed 256
pdrive check $(as islamabad) --channel feed --ids "$W/feed.ids" || fail "check feed"
wait_delivered tehran islamabad "$W/feed.ids"
# four batches of 64: four Ed25519 verifications at each node, not 256
dt=$(($(metric tehran parley_signature_verifications_total) - v_t))
di=$(($(metric islamabad parley_signature_verifications_total) - v_i))
echo "batch feed: 256 envelopes in 4 batches: $dt verifications at tehran, $di at islamabad"
[[ $dt == 4 ]] || fail "tehran verified $dt signatures for 4 batches"
[[ $di == 4 ]] || fail "islamabad verified $di signatures for 4 batches"
[[ $(metric islamabad parley_batch_signatures_reused_total) == 252 ]] || fail "islamabad reused the batch signatures $(metric islamabad parley_batch_signatures_reused_total) times, not 252"

# A batch whose third envelope is cut short: it cannot be parsed and is
# refused as malformed; the two before it are stored, the five after it are
# a gap in the stream (their batch ids chain through it).
pdrive send $(sensor) --channel feed --lane ROUTINE --count 8 --batch 8 --batch-sign --corrupt 3 \
	--ids "$W/cut.ids" >"$W/cut.out" || fail "the sensor's batch with a broken envelope"
printf '1 201 ok\n2 201 ok\n3 422 malformed\n4 422 sequence\n5 422 sequence\n6 422 sequence\n7 422 sequence\n8 422 sequence\n' |
	diff - "$W/cut.out" >&2 || fail "results of the batch with a broken envelope"
wait_count islamabad feed 258

# The duty officer is not a feed: its batch is refused, its single envelopes are not.
if pdrive send $(as tehran) --channel feed --lane ROUTINE --count 4 --batch 4 --batch-sign >"$W/duty.out" 2>&1; then
	fail "a batch by an official without the role 'feed' was accepted"
fi
grep -q "role 'feed'" "$W/duty.out" || fail "the refusal does not name the role: $(cat "$W/duty.out")"
pdrive send $(as tehran) --channel feed --lane ROUTINE --count 2 --ids "$W/duty.ids" >/dev/null ||
	fail "the duty officer's single envelopes"
wait_count islamabad feed 260
finish "5 passed, 0 failed"
