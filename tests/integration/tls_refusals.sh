#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The peer port of a real parleyd speaks TLS 1.3 with mutual authentication
# by Ed25519 certificates only (docs/protocol.md, "Transport").  A client
# offering TLS 1.2 at most, a TLS 1.3 client without a certificate, one
# with an EC certificate, and plain bytes are refused in the handshake,
# each counted in parley_link_handshakes_failed_total and logged; the node
# keeps serving its peer (an envelope sent after the refusals arrives).
# The clients are stock `openssl s_client` (Debian's OpenSSL).
. "$(dirname "$0")/lib.sh"
command -v openssl >/dev/null || fail "openssl is not installed"
pair tehran islamabad
start tehran; start islamabad
charter fm tehran islamabad
wait_charter islamabad fm
port=${PEER[tehran]}
failed() { metric tehran parley_link_handshakes_failed_total; }
passed=0
# attempt NAME CMD...: the handshake must fail at tehran, one more counted
attempt() {
	local what=$1 before
	shift
	before=$(failed)
	timeout 10 "$@" </dev/null >"$W/client.out" 2>&1
	for _ in $(seq 1 50); do (($(failed) > before)) && break; sleep 0.1; done
	(($(failed) == before + 1)) || fail "$what: not refused in the handshake ($(failed) failures, $before before): $(tail -n 5 "$W/client.out")"
	passed=$((passed + 1))
}
(($(metric tehran 'parley_link_up{peer="islamabad"}') == 1)) || fail "the link to islamabad is not up"
# the control: TLS 1.3 with an Ed25519 certificate completes the handshake
# and is not counted (who it is, is the HELLO's business, not TLS's)
openssl req -x509 -newkey ed25519 -nodes -subj /CN=x -days 1 \
	-keyout "$W/ed.key" -out "$W/ed.crt" 2>/dev/null || fail "cannot make an Ed25519 certificate"
before=$(failed)
timeout 10 openssl s_client -connect "127.0.0.1:$port" -tls1_3 -cert "$W/ed.crt" -key "$W/ed.key" \
	</dev/null >"$W/control.out" 2>&1
grep -q "TLSv1.3" "$W/control.out" || fail "control: no TLS 1.3 session: $(tail -n 5 "$W/control.out")"
sleep 0.3
(($(failed) == before)) || fail "control: a good handshake was counted as failed"
passed=$((passed + 1))
attempt "TLS 1.2" openssl s_client -connect "127.0.0.1:$port" -tls1_2 -quiet
attempt "no client certificate" openssl s_client -connect "127.0.0.1:$port" -tls1_3 -quiet
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=x -days 1 \
	-keyout "$W/ec.key" -out "$W/ec.crt" 2>/dev/null || fail "cannot make an EC certificate"
attempt "EC certificate" openssl s_client -connect "127.0.0.1:$port" -tls1_3 -cert "$W/ec.crt" -key "$W/ec.key" -quiet
attempt "plain bytes" bash -c "exec 3<>/dev/tcp/127.0.0.1/$port; printf 'HELLO, this is not TLS\r\n\r\n' >&3; cat <&3"
grep -q 'msg="TLS handshake failed"' "$W/tehran.log" || fail "no log line for the refused handshakes"
# the node still serves its peer
pdrive send $(as tehran) --channel fm --lane ROUTINE --count 2 --ids "$W/t.ids" >/dev/null || fail "send"
wait_count islamabad fm 2
passed=$((passed + 1))
finish "$passed passed, 0 failed"
