#!/usr/bin/env python3
"""Check an Anbao audit proof offline, with nothing of Anbao: Python's hashlib and the openssl CLI.

    verify_proof.py inclusion   PROOF.json --key HEAD-KEY.pem [--document EVENT.json]
    verify_proof.py consistency PROOF.json --key HEAD-KEY.pem

PROOF.json is the body of ``GET /audit/events/{id}/proof`` (inclusion) or
``GET /audit/heads/consistency?...`` (consistency). HEAD-KEY.pem is the tree-head public key you
obtained out of band (never the copy inside the proof). Exit status 0 = verified, 1 = not.
The procedure is written up in docs/audit-verification.md; this script follows it step by step.

Hashes: SM3 via hashlib (OpenSSL's SM3) or, if that is missing, gmssl. Merkle algorithms:
RFC 9162 §2.1.3.2 (inclusion) and §2.1.4.2 (consistency), written out again here on purpose.
Signature: ``openssl pkeyutl -verify`` with SM2, SM3 and the default id 1234567812345678.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

DIST_ID = "1234567812345678"


def sm3(data: bytes) -> bytes:
    try:
        return hashlib.new("sm3", data).digest()
    except ValueError:  # this OpenSSL has no SM3: use gmssl (pip install gmssl)
        from gmssl import func  # noqa: PLC0415
        from gmssl import sm3 as gm  # noqa: PLC0415

        return bytes.fromhex(gm.sm3_hash(func.bytes_to_list(data)))


def node(left: bytes, right: bytes) -> bytes:
    return sm3(b"\x01" + left + right)


def fail(message: str) -> None:
    print(f"NOT VERIFIED: {message}")
    sys.exit(1)


def canonical(document: object) -> bytes:
    """RFC 8785 for Anbao's value domain: sorted keys, no whitespace, UTF-8, integers only."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def signed_bytes(head: dict) -> bytes:
    """The tree head's to-be-signed bytes (docs/audit-verification.md, "Signed tree head")."""
    stream = head["stream"].encode()
    return (
        b"anbao-audit-sth\x00"
        + struct.pack(">BH", 1, len(stream))
        + stream
        + struct.pack(">QQ", head["tree_size"], head["timestamp"])
        + bytes.fromhex(head["root_hash"])
    )


def check_key_id(key_pem: Path, head: dict) -> None:
    body = "".join(
        line for line in key_pem.read_text().splitlines() if line and not line.startswith("-----")
    )
    if sm3(base64.b64decode(body)).hex() != head["key_id"]:
        fail("the head names another signing key than the one you trust")


def check_signature(key_pem: Path, head: dict) -> None:
    check_key_id(key_pem, head)
    with tempfile.TemporaryDirectory() as tmp:
        tbs, sig = Path(tmp, "tbs.bin"), Path(tmp, "sig.der")
        tbs.write_bytes(signed_bytes(head))
        sig.write_bytes(base64.b64decode(head["signature"]))
        argv = ["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", str(key_pem), "-rawin",
                "-digest", "sm3", "-pkeyopt", f"distid:{DIST_ID}", "-in", str(tbs),
                "-sigfile", str(sig)]  # fmt: skip
        # openssl from the auditor's PATH, fixed arguments: that independence is the point.
        result = subprocess.run(argv, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        fail(f"SM2 signature of the head of size {head['tree_size']} does not verify")


def root_from_path(index: int, size: int, leaf: bytes, path: list[bytes]) -> bytes:
    """RFC 9162 §2.1.3.2."""
    if index >= size:
        fail("leaf index beyond the tree size")
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            fail("audit path too long")
        if fn & 1 or fn == sn:
            r = node(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        fail("audit path too short")
    return r


def inclusion(proof: dict, key: Path, document: Path | None) -> None:
    head = proof["tree_head"]
    leaf_input = proof["leaf_input"].encode()
    if document is not None and canonical(json.loads(document.read_text("utf-8"))) != leaf_input:
        fail("the document you hold is not the one the proof is about")
    leaf = sm3(b"\x00" + leaf_input)
    path = [bytes.fromhex(h) for h in proof["audit_path"]]
    if (
        root_from_path(proof["leaf_index"], head["tree_size"], leaf, path).hex()
        != head["root_hash"]
    ):
        fail("the audit path does not lead to the signed root")
    check_signature(key, head)
    print(
        f"VERIFIED: event {proof['event_id']} is leaf {proof['leaf_index']} of stream "
        f"{head['stream']}, size {head['tree_size']}, signed at {head['timestamp']} ms"
    )


def consistency(proof: dict, key: Path) -> None:
    """RFC 9162 §2.1.4.2."""
    first, second = proof["first"], proof["second"]
    m, n = first["tree_size"], second["tree_size"]
    r1, r2 = bytes.fromhex(first["root_hash"]), bytes.fromhex(second["root_hash"])
    path = [bytes.fromhex(h) for h in proof["proof"]]
    check_signature(key, first)
    check_signature(key, second)
    if m == n:
        if path or r1 != r2:
            fail("equal sizes need equal roots")
    elif m == 0 or m > n or not path:
        fail("these sizes cannot be proven consistent with this proof")
    else:
        if m & (m - 1) == 0:
            path = [r1, *path]
        fn, sn = m - 1, n - 1
        while fn & 1:
            fn, sn = fn >> 1, sn >> 1
        fr = sr = path[0]
        for c in path[1:]:
            if sn == 0:
                fail("consistency proof too long")
            if fn & 1 or fn == sn:
                fr, sr = node(c, fr), node(c, sr)
                while not fn & 1 and fn != 0:
                    fn, sn = fn >> 1, sn >> 1
            else:
                sr = node(sr, c)
            fn, sn = fn >> 1, sn >> 1
        if sn != 0 or fr != r1 or sr != r2:
            fail("the consistency proof does not match the two signed roots")
    print(f"VERIFIED: the tree of size {m} is a prefix of the tree of size {n} ({first['stream']})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=["inclusion", "consistency"])
    parser.add_argument("proof", type=Path)
    parser.add_argument(
        "--key", type=Path, required=True, help="trusted tree-head public key (PEM)"
    )
    parser.add_argument("--document", type=Path, help="the event as you received it (JSON)")
    args = parser.parse_args()
    proof = json.loads(args.proof.read_text("utf-8"))
    if args.kind == "inclusion":
        inclusion(proof, args.key, args.document)
    else:
        consistency(proof, args.key)


if __name__ == "__main__":
    main()
