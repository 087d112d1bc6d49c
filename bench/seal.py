"""Seal benchmark: seal-sign and seal-verify ops/s next to raw SM2 sign and verify, one run.

Prints JSON. ``seal_sign`` is a detached SES_Signature over a 4 KiB document (SM3, DER, the
signing checks and one SM2 signature); ``seal_verify`` is the full verification report
(maker signature, two chains, CRLs, document hash, signature over TBS_Sign), for a stream
of different signatures made with one seal, as a verification service sees them.
Decoded certificates, validated paths, the maker signature and CRL signatures are cached
by their exact bytes (``crypto.seals.format._cache``); ``seal_verify_cold`` clears those caches and
loads fresh certificates before every verification. Ratios are against raw SM2 on the same machine in the same run
(targets: verify >= 0.4x, sign >= 0.7x). Bounded: about 15 s in all.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parent.parent)  # bench/http.py would shadow http

from crypto.pki import Certificate, build_crl
from crypto.seals.format import Options, Trust, sign_bytes, verify_detached
from crypto.seals.format._cache import clear_all
from crypto.seals.format.testing import make_sample_seal

ROUND_SECONDS = 0.4
ROUNDS = 7


def rate(fn, seconds: float = ROUND_SECONDS) -> float:
    """Calls per second of ``fn`` over about ``seconds``."""
    count, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        for _ in range(5):
            fn()
        count += 5
    return count / elapsed


def interleaved(ops: dict[str, object]) -> tuple[dict[str, float], list[dict[str, float]]]:
    """Median ops/s per op over ROUNDS rounds, each round measuring every op in turn, so a
    busy machine slows the reference and the measured op alike; also the per-round rates."""
    for fn in ops.values():
        for _ in range(10):
            fn()  # warm-up: caches, per-key tables
    rounds = [{name: rate(fn) for name, fn in ops.items()} for _ in range(ROUNDS)]
    return {name: statistics.median(r[name] for r in rounds) for name in ops}, rounds


def main() -> None:
    now = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
    sample = make_sample_seal(now)
    document = os.urandom(4096)
    message = os.urandom(200)
    later = now + timedelta(hours=1)
    crls = (
        sample.pki.crl(now=later, next_update=timedelta(days=7)),
        build_crl(
            sample.pki.root,
            sample.pki.root_key,
            revoked=(),
            now=later,
            next_update=timedelta(days=7),
            crl_number=1,
        ),
    )
    opts = Options(
        Trust(roots=(sample.pki.root,), intermediates=(sample.pki.intermediate,), crls=crls),
        at=later,
    )
    signatures = [
        sign_bytes(
            document,
            seal=sample.seal,
            key=sample.key,
            cert=sample.cert,
            now=now + timedelta(seconds=i),
        )
        for i in range(64)
    ]
    raw_sig = sample.key.sign(message)
    pub = sample.cert.public_key
    counter = iter(range(10**9))

    def seal_verify() -> None:
        report = verify_detached(signatures[next(counter) % 64], document, opts)
        if str(report.status) != "valid":
            raise SystemExit(report.to_text())

    def seal_verify_cold() -> None:
        clear_all()
        fresh = Trust(
            roots=(Certificate.load(sample.pki.root.der),),
            intermediates=(Certificate.load(sample.pki.intermediate.der),),
            crls=crls,
        )
        report = verify_detached(signatures[next(counter) % 64], document, Options(fresh, later))
        if str(report.status) != "valid":
            raise SystemExit(report.to_text())

    results, rounds = interleaved(
        {
            "sm2_sign": lambda: sample.key.sign(message),
            "seal_sign": lambda: sign_bytes(
                document, seal=sample.seal, key=sample.key, cert=sample.cert, now=later
            ),
            "sm2_verify": lambda: pub.verify(raw_sig, message),
            "seal_verify": seal_verify,
            "seal_verify_cold": seal_verify_cold,
        }
    )

    def ratio(op: str, ref: str) -> float:
        return round(statistics.median(r[op] / r[ref] for r in rounds), 3)

    print(
        json.dumps(
            {
                "machine": {
                    "python": platform.python_version(),
                    "cpus": os.cpu_count(),
                    "load_1m": os.getloadavg()[0],
                },
                "method": f"median of {ROUNDS} interleaved rounds of {ROUND_SECONDS} s per op; ratios are medians of per-round ratios",
                "ops_per_second": {k: round(v, 1) for k, v in results.items()},
                "ratios": {
                    "seal_sign_vs_sm2_sign": ratio("seal_sign", "sm2_sign"),
                    "seal_verify_vs_sm2_verify": ratio("seal_verify", "sm2_verify"),
                    "seal_verify_cold_vs_sm2_verify": ratio("seal_verify_cold", "sm2_verify"),
                },
                "targets": {"seal_sign_vs_sm2_sign": 0.7, "seal_verify_vs_sm2_verify": 0.4},
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
