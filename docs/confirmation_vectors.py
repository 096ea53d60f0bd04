#!/usr/bin/env python3
"""Independent check of the test vector in docs/confirmation.md.

Recomputes every derived value from the vector's inputs with nothing but the Python standard
library (hashlib, hmac), following the document's text, then compares with the values printed
there and with the JSON examples of its section 4. It shares no code with the Rust
implementation, so a mistake in either the code or the document shows up as a mismatch.
It also runs RFC 6287's first Appendix C vectors through its own OCRA, so the offline code is
checked against the RFC, not only against the Rust code.

    python3 docs/confirmation_vectors.py            # check; exit status 1 on any mismatch
    python3 docs/confirmation_vectors.py --print    # print the recomputed values
"""

import base64
import hashlib
import hmac
import json
import pathlib
import re
import struct
import sys

DOC = pathlib.Path(__file__).with_name("confirmation.md")


def vector(text):
    block = text.split("<!-- confirmation-vector:begin -->", 1)[1]
    block = block.split("<!-- confirmation-vector:end -->", 1)[0]
    values, last = {}, None
    for line in block.splitlines():
        if line.startswith("```") or line.startswith("#") or not line.strip():
            continue
        if line.startswith(" "):
            values[last] += line.strip()
            continue
        key, value = (part.strip() for part in line.split("=", 1))
        if value.startswith('"') and value.endswith('"'):
            value = value[1:-1]
        values[key], last = value, key
    return values


def hkdf(salt, ikm, info, length):
    prk = hmac.new(salt, ikm, hashlib.sha256).digest()
    out, block, counter = b"", b"", 1
    while len(out) < length:
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        out += block
        counter += 1
    return out[:length]


def frames(*fields):
    return b"".join(struct.pack(">I", len(f)) + f for f in fields)


def mac(key, message):
    return hmac.new(key, message, hashlib.sha256).digest()


def ocra(suite, key, question_digits, unix_time=None, counter=None, digest=hashlib.sha256, digits=8):
    """RFC 6287 for numeric questions, with an optional counter and a one-minute time step."""
    q_hex = format(int(question_digits), "X")
    q_hex = q_hex + "0" * (256 - len(q_hex))
    message = suite.encode() + b"\x00"
    if counter is not None:
        message += struct.pack(">Q", counter)
    message += bytes.fromhex(q_hex)
    if unix_time is not None:
        message += struct.pack(">Q", unix_time // 60)
    h = hmac.new(key, message, digest).digest()
    offset = h[-1] & 0x0F
    word = struct.unpack(">I", h[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(word % 10**digits).zfill(digits)


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def compute(v):
    seed = bytes.fromhex(v["seed"])
    k_bank = hkdf(b"softtoken v1 confirmation", seed, b"softtoken v1 bank key", 32)
    k_app = hkdf(b"softtoken v1 confirmation", seed, b"softtoken v1 app key", 32)
    k_offline = hkdf(b"softtoken v1 confirmation", seed, b"softtoken v1 offline key", 32)
    ident = bytes.fromhex(v["id"])
    match_required = v["match_required"] == "true"
    encoding = frames(
        b"softtoken-confirmation-v1",
        ident,
        v["service_id"].encode(),
        v["user_id"].encode(),
        v["kind"].encode(),
        struct.pack(">Q", int(v["amount_yen"])),
        v["payee_bank"].encode(),
        v["payee_branch"].encode(),
        v["payee_account_type"].encode(),
        v["payee_account_number"].encode(),
        v["payee_holder"].encode(),
        v["note"].encode(),
        struct.pack(">Q", int(v["created_at"])),
        struct.pack(">Q", int(v["expires_at"])),
        bytes([1 if match_required else 0]),
    )
    digest = hashlib.sha256(encoding).digest()

    def answer(decision, typed):
        return mac(k_app, frames(b"softtoken-confirmation-answer-v1", ident, digest, decision, typed))

    question = v["payee_account_number"] + v["amount_yen"].zfill(10)
    fetch_proof = mac(
        k_app,
        frames(
            b"softtoken-confirmation-fetch-v1",
            v["service_id"].encode(),
            v["user_id"].encode(),
            struct.pack(">Q", int(v["fetch_time"])),
        ),
    )
    out = {
        "k_bank": k_bank.hex(),
        "k_app": k_app.hex(),
        "k_offline": k_offline.hex(),
        "encoding": encoding.hex(),
        "digest": digest.hex(),
        "request_mac": mac(k_bank, digest).hex(),
        "approve_mac": answer(b"approve", v["typed_number"].encode()).hex(),
        "deny_mac": answer(b"deny", b"").hex(),
        "fetch_proof": fetch_proof.hex(),
        "time_mac": mac(
            k_bank, frames(b"softtoken-confirmation-time-v1", fetch_proof, struct.pack(">Q", int(v["server_time"])))
        ).hex(),
        "end_proof": mac(
            k_app,
            frames(
                b"softtoken-registration-end-v1",
                v["service_id"].encode(),
                v["user_id"].encode(),
                struct.pack(">Q", int(v["end_time"])),
            ),
        ).hex(),
        "offline_question": question,
        "offline_code": ocra(
            "OCRA-1:HOTP-SHA256-8:QN17-T1M", k_offline, question, unix_time=int(v["offline_time"])
        ),
    }
    signed = {
        "id": b64(ident),
        "details": {
            "kind": v["kind"],
            "amount_yen": int(v["amount_yen"]),
            "payee": {
                "bank": v["payee_bank"],
                "branch": v["payee_branch"],
                "account_type": v["payee_account_type"],
                "account_number": v["payee_account_number"],
                "holder": v["payee_holder"],
            },
            "note": v["note"],
        },
        "created_at": int(v["created_at"]),
        "expires_at": int(v["expires_at"]),
        "match_required": match_required,
        "mac": b64(bytes.fromhex(out["request_mac"])),
    }
    approval = {
        "service_id": v["service_id"],
        "user_id": v["user_id"],
        "id": b64(ident),
        "decision": "approve",
        "typed_number": v["typed_number"],
        "mac": b64(bytes.fromhex(out["approve_mac"])),
    }
    end = {
        "service_id": v["service_id"],
        "user_id": v["user_id"],
        "time": int(v["end_time"]),
        "proof": b64(bytes.fromhex(out["end_proof"])),
    }
    return out, signed, approval, end


def example(text, marker):
    rest = text.split(marker, 1)[1]
    return json.loads(rest.split("```json", 1)[1].split("```", 1)[0])


def rfc6287_self_check():
    """RFC 6287 Appendix C, OCRA-1:HOTP-SHA1-6:QN08 and OCRA-1:HOTP-SHA512-8:QN08-T1M."""
    key20 = b"12345678901234567890"
    key64 = b"1234567890" * 6 + b"1234"
    sha1 = ["237653", "243178", "653583", "740991", "608993", "388898", "816933", "224598", "750600", "294470"]
    timed = ["95209754", "55907591", "22048402", "24218844", "36209546"]
    bad = []
    for i, want in enumerate(sha1):
        got = ocra("OCRA-1:HOTP-SHA1-6:QN08", key20, str(i) * 8, digest=hashlib.sha1, digits=6)
        if got != want:
            bad.append(f"RFC 6287 QN08 Q={str(i) * 8}: {got} != {want}")
    for i, want in enumerate(timed):
        got = ocra("OCRA-1:HOTP-SHA512-8:QN08-T1M", key64, str(i) * 8, unix_time=0x132D0B6 * 60, digest=hashlib.sha512)
        if got != want:
            bad.append(f"RFC 6287 QN08-T1M Q={str(i) * 8}: {got} != {want}")
    return bad


def main():
    text = DOC.read_text(encoding="utf-8")
    v = vector(text)
    out, signed, approval, end = compute(v)
    if "--print" in sys.argv:
        for key, value in out.items():
            print(f"{key} = {value}")
        print(json.dumps(signed, ensure_ascii=False, indent=2))
        print(json.dumps(approval, ensure_ascii=False, indent=2))
        return 0
    bad = rfc6287_self_check()
    for key, value in out.items():
        doc = re.sub(r"\s+", "", v.get(key, "<missing>"))
        if doc != value:
            bad.append(f"{key}: document {doc}, recomputed {value}")
    if example(text, "<!-- example:signed-request -->") != signed:
        bad.append("the signed-request example differs from the vector")
    if example(text, "<!-- example:answer -->") != approval:
        bad.append("the answer example differs from the vector")
    protocol = (DOC.parent / "protocol.md").read_text(encoding="utf-8")
    if example(protocol, "<!-- example:end-request -->") != end:
        bad.append("protocol.md's end-request example differs from the vector")
    for line in bad:
        print(line)
    if not bad:
        print(f"confirmation.md: {len(out)} values and 3 examples recomputed, all equal")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
