"""atheris fuzz target for the seal DER decoders and the OFD package reader/verifier.

The first input byte picks the parser: SESeal, SES_Signature, OFD package, or a seal
signature verification. Anything but a report or ``MalformedSeal`` is a crash. libFuzzer's
-rss_limit_mb and -timeout options bound memory and time per input.

    .venv/bin/python tests/fuzz/fuzz_seal.py -max_total_time=600 CORPUS_DIR   # longer runs
    .venv/bin/python tests/fuzz/fuzz_seal.py --make-corpus CORPUS_DIR         # seed inputs

tests/fuzz/test_fuzz_seal.py runs it for 20 s in ``make test``.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import atheris

from tests.paths import TESTS

with atheris.instrument_imports():
    from crypto.seals.format import (
        MalformedSeal,
        Options,
        Trust,
        decode_seal,
        decode_signature,
        verify_any,
        verify_ofd,
    )
    from crypto.seals.format.package import Limits

AT = datetime(2026, 11, 27, tzinfo=UTC)
V1 = TESTS / "vectors" / "seal" / "v1"
OPTIONS = Options(trust=Trust(), at=AT)
LIMITS = Limits(
    max_package_bytes=1 << 20, max_entries=64, max_entry_bytes=1 << 20, max_total_bytes=4 << 20
)


def one_input(data: bytes) -> None:
    """Feed ``data[1:]`` to the parser chosen by ``data[0]``."""
    if not data:
        return
    mode, body = data[0] % 4, data[1:]
    try:
        if mode == 0:
            decode_seal(body)
        elif mode == 1:
            decode_signature(body)
    except MalformedSeal:
        return
    if mode == 2:
        report = verify_ofd(body, OPTIONS, LIMITS)
        str(report.status)
        report.to_text()
    elif mode == 3:
        verify_any(body, OPTIONS).to_json()


def make_corpus(folder: Path) -> None:
    """Seeds: a seal, a detached signature and a signed OFD, one per mode, and v1 vectors."""
    from crypto.seals.format import sign_bytes, sign_ofd
    from crypto.seals.format.testing import make_sample_seal, minimal_ofd

    now = AT - timedelta(days=1)
    sample = make_sample_seal(now)
    sig = sign_bytes(b"doc", seal=sample.seal, key=sample.key, cert=sample.cert, now=now)
    ofd = sign_ofd(minimal_ofd(), seal=sample.seal, key=sample.key, cert=sample.cert, now=now)
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in {
        "seal": b"\x00" + sample.seal.der,
        "sig": b"\x01" + sig,
        "ofd": b"\x02" + ofd,
        "any": b"\x03" + sig,
        # GM/T 0031 v1 made by OpenSSL (timeInfo as text) and ofdrw (tests/vectors/README.md)
        "v1": b"\x01" + (V1 / "v1_utctime_text.sig").read_bytes(),
        "v1ofd": b"\x02" + (V1 / "v1_ofdrw.ofd").read_bytes(),
    }.items():
        (folder / name).write_bytes(content)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--make-corpus":
        make_corpus(Path(sys.argv[2]))
    else:
        atheris.Setup(sys.argv, one_input)
        atheris.Fuzz()
