#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Known answer for batch-signed envelopes (docs/formats.md), computed
independently of libparley: its own minimal canonical CBOR encoder,
hashlib for SHA-256 and the RFC 9162 tree, and the `cryptography`
package's Ed25519.  Writes tests/unit/batch_kat.h:

    python3 tests/data/batch_kat.py > tests/unit/batch_kat.h

With --seeds DIR it writes instead the batched seeds of the envelope fuzz
target's corpus (tests/fuzz/fuzz_envelope.c's world: sensor-17@tehran,
key seed 32 x 21, may batch-sign; amb-islamabad@tehran, 32 x 11, may not).
"""
import hashlib
import struct
import sys

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


def head(major, n):
    if n < 24:
        return bytes([major << 5 | n])
    for ai, fmt in ((24, ">B"), (25, ">H"), (26, ">I"), (27, ">Q")):
        if n < 1 << (8 * struct.calcsize(fmt)):
            return bytes([major << 5 | ai]) + struct.pack(fmt, n)
    raise ValueError(n)


def enc(v):
    if v is None:
        return b"\xf6"
    if isinstance(v, int):
        return head(0, v) if v >= 0 else head(1, -1 - v)
    if isinstance(v, bytes):
        return head(2, len(v)) + v
    if isinstance(v, str):
        b = v.encode()
        return head(3, len(b)) + b
    if isinstance(v, list):
        return head(4, len(v)) + b"".join(enc(x) for x in v)
    if isinstance(v, dict):
        items = sorted((enc(k), enc(x)) for k, x in v.items())  # canonical: bytewise keys
        return head(5, len(items)) + b"".join(k + x for k, x in items)
    if isinstance(v, Tag):
        return head(6, v.tag) + enc(v.item)
    raise TypeError(v)


class Tag:
    def __init__(self, tag, item):
        self.tag, self.item = tag, item


def sha(b):
    return hashlib.sha256(b).digest()


def mth(leaves):  # RFC 9162 §2.1.1
    if len(leaves) == 1:
        return sha(b"\x00" + leaves[0])
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return sha(b"\x01" + mth(leaves[:k]) + mth(leaves[k:]))


def path(m, leaves):  # RFC 9162 §2.1.3.1
    if len(leaves) == 1:
        return []
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    if m < k:
        return path(m, leaves[:k]) + [mth(leaves[k:])]
    return path(m - k, leaves[k:]) + [mth(leaves[:k])]


BATCH_TAG = 0x504C4542
from cryptography.hazmat.primitives import serialization


def batch(seed, author, ch, lane, at, bodies):
    key = Ed25519PrivateKey.from_private_bytes(bytes([seed]) * 32)
    pk = key.public_key().public_bytes(serialization.Encoding.Raw,
                                       serialization.PublicFormat.Raw)
    kid = sha(pk)[:8]
    payloads, prev = [], None
    for i, body in enumerate(bodies):
        m = {"t": "parley/env", "v": 1, "at": at, "ch": ch, "id": author, "seq": i + 1,
             "body": body, "kind": "reading" if ch == "sensors" else "message", "lane": lane,
             "state": "tehran"}
        if prev is not None:
            m["prev"] = prev
        p = enc(m)
        payloads.append(p)
        prev = sha(p)  # a batched envelope's id: SHA-256 of its payload
    root = mth(payloads)
    prot = enc({1: -8, 395: 1})
    sig = key.sign(enc(["Signature1", prot, b"", root]))
    out = []
    for i, p in enumerate(payloads):
        proof = enc([len(payloads), i, path(i, payloads)])
        receipt = Tag(18, [prot, {4: kid, 396: {-1: [proof]}}, None, sig])
        out.append(enc(Tag(BATCH_TAG, [p, receipt])))
    return out


if len(sys.argv) == 3 and sys.argv[1] == "--seeds":
    import os
    d = sys.argv[2]
    fl = batch(21, "sensor-17", "border", 1, 1800000000 + 86400, [b"post 17", b"post 18", b"post 19"])
    for i, b in enumerate(fl):
        open(os.path.join(d, "env-batch-sensor-%d" % i), "wb").write(b)
    amb = batch(11, "amb-islamabad", "border", 1, 1800000000 + 86400, [b"a", b"b"])
    open(os.path.join(d, "env-batch-not-feed"), "wb").write(amb[0])
    sys.exit(0)

out = [b.hex() for b in batch(0x21, "sensor-17", "sensors", 4, 1800086400, [b"r0", b"r1", b"r2"])]
w = sys.stdout.write
w("/* SPDX-License-Identifier: Apache-2.0 */\n/* Written by tests/data/batch_kat.py: do not edit. */\n")
w("static const char *const batch_kat_hex[] = {\n")
for h in out:
    w('    "%s",\n' % h)
w("};\n")
