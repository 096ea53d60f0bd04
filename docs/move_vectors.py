#!/usr/bin/env python3
"""Recomputes the phone move's test vector of protocol.md §4.5.5 with the standard library only,
sharing no code with the Rust implementation: k_app from the seed (HKDF-SHA256), k_seal, the
status, cancel and start proofs and the receipt MAC. The standard library has no AES-GCM, so
sealed_password is taken from the document and only the proof over it is recomputed; the Rust
test checks the seal itself. Exits 0 when every value equals the document's."""

import base64
import hashlib
import hmac
import json
import pathlib
import re
import struct
import sys

DOC = pathlib.Path(__file__).with_name("protocol.md")


def vector(text):
    start = text.index("<!-- move-vector:begin -->")
    stop = text.index("<!-- move-vector:end -->", start)
    out, last = {}, None
    for line in text[start:stop].splitlines()[1:]:
        if line.startswith("```") or line.startswith("#") or not line.strip():
            continue
        if line.startswith(" "):
            out[last] += line.strip()
            continue
        key, value = (part.strip() for part in line.split("=", 1))
        out[key] = value.strip('"').replace(" ", "")
        last = key
    return out


def hkdf(salt, ikm, info, length):
    prk = hmac.new(salt, ikm, hashlib.sha256).digest()
    okm, block, i = b"", b"", 1
    while len(okm) < length:
        block = hmac.new(prk, block + info + bytes([i]), hashlib.sha256).digest()
        okm += block
        i += 1
    return okm[:length]


def frames(*fields):
    return b"".join(struct.pack(">I", len(f)) + f for f in fields)


def mac(key, message):
    return hmac.new(key, message, hashlib.sha256).digest()


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def main():
    text = DOC.read_text(encoding="utf-8")
    v = vector(text)
    seed = bytes.fromhex(v["seed"])
    k_app = hkdf(b"softtoken v1 confirmation", seed, b"softtoken v1 app key", 32)
    service, old, new = (v[k].encode() for k in ("service_id", "old_user_id", "new_user_id"))
    time = struct.pack(">Q", int(v["time"]))
    nonce = bytes.fromhex(v["nonce"])
    sealed = bytes.fromhex(v["sealed_password"])
    aad = frames(b"softtoken-move-start-v1", service, old, time)
    out = {
        "k_app": k_app.hex(),
        "k_seal": mac(k_app, frames(b"softtoken-move-password-v1", service, old)).hex(),
        "start_aad": aad.hex(),
        "start_proof": mac(k_app, frames(b"softtoken-move-start-v1", service, old, time, nonce, sealed)).hex(),
        "status_proof": mac(k_app, frames(b"softtoken-move-status-v1", service, old, time)).hex(),
        "cancel_proof": mac(k_app, frames(b"softtoken-move-cancel-v1", service, old, time)).hex(),
        "receipt_mac": mac(
            k_app,
            frames(b"softtoken-move-receipt-v1", service, old, new, struct.pack(">Q", int(v["completed_at"]))),
        ).hex(),
    }
    bad = [f"{k}: document {v.get(k)}, recomputed {x}" for k, x in out.items() if v.get(k) != x]
    marker = "<!-- example:move-start-request -->"
    at = text.index(marker) + len(marker)
    body = text[text.index("{", at) : text.index("```", text.index("{", at))]
    expected = {
        "service_id": v["service_id"],
        "user_id": v["old_user_id"],
        "time": int(v["time"]),
        "nonce": b64(nonce),
        "sealed_password": b64(sealed),
        "proof": b64(bytes.fromhex(out["start_proof"])),
    }
    if json.loads(body) != expected:
        bad.append("the move-start-request example differs from the vector")
    if not 20 <= len(sealed) <= 24:
        bad.append("sealed_password is not 20 to 24 bytes")
    for line in bad:
        print(line)
    if not bad:
        print(f"protocol.md §4.5.5: {len(out)} values and 1 example recomputed, all equal")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
