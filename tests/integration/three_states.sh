#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A channel of three states (two parties and a mediator): each envelope
# reaches both other states, exactly once.
. "$(dirname "$0")/lib.sh"
state tehran; state islamabad; state muscat
for a in tehran islamabad muscat; do
	for b in tehran islamabad muscat; do
		[[ $a != "$b" ]] && peer "$a" "$b"
	done
done
start tehran; start islamabad; start muscat
charter talks tehran islamabad muscat
wait_charter islamabad talks
wait_charter muscat talks
pdrive send $(as tehran) --channel talks --lane IMMEDIATE --count 20 --ids "$W/t.ids" >/dev/null || fail "t"
pdrive send $(as islamabad) --channel talks --lane ROUTINE --count 20 --ids "$W/i.ids" >/dev/null || fail "i"
pdrive send $(as muscat) --channel talks --lane FLASH --count 20 --ids "$W/m.ids" >/dev/null || fail "m"
for s in tehran islamabad muscat; do
	wait_count $s talks 60
	pdrive check $(as $s) --channel talks --ids "$W/t.ids" --ids "$W/i.ids" --ids "$W/m.ids" || fail "$s"
done
finish "3 passed, 0 failed"
