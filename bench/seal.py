"""Seal benchmark: seal-sign and seal-verify ops/s next to raw SM2 sign and verify, one run.

Prints JSON. ``seal_sign`` is a detached SES_Signature over a 4 KiB document (SM3, DER, the
signing checks and one SM2 signature). ``seal_verify`` is the full verification report (maker
signature, two chains, CRLs, document hash, signature over TBS_Sign) for a stream of
different signatures made with one seal: the warm case, against ``sm2_verify`` with one key
object reused. ``seal_verify_uncached`` is that stream with every result cache cleared and the
trust certificates decoded again before each verification (keys known to the process).

``seal_verify_cold`` is a seal the process has never seen: each verification takes the next
seal of a pool made before the timed loop, every one with its own holder key, holder
certificate and SESeal (same maker and CA, as in one province), and verifies it once; each
round starts with the result caches cleared and every key's use count and table forgotten.
Its reference, ``sm2_verify_cold``, is a raw SM2 verification under a key never seen before
(a fresh ``PublicKey`` from 65 bytes, each of its own pool verified once, same rounds).
``seal_verify_cold_new_maker`` also has a fresh maker key and certificate per seal (reported,
no target). Ratios are per-round medians; targets: verify >= 0.4x (warm and cold), sign >=
0.7x. Figures and their reading: docs/e-seals.md. Bounded: about 25 s in all.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parent.parent)  # bench/http.py would shadow http

from crypto import _openssl_ec, sm2
from crypto.pki import Certificate, Profile, build_crl, issue_certificate, seal_holder_name
from crypto.pki.testing import TEST_USCC
from crypto.seals.format import Options, Trust, sign_bytes, verify_detached
from crypto.seals.format._cache import clear_all
from crypto.seals.format.make import make_seal
from crypto.seals.format.picture import make_picture
from crypto.seals.format.testing import SampleSeal, make_sample_seal, tiny_png

ROUND_SECONDS = 0.4
ROUNDS = 7
COLD_PER_ROUND = 60  # distinct never-seen seals (and raw keys) verified per round


def rate(fn: Callable[[], object], seconds: float = ROUND_SECONDS) -> float:
    """Calls per CPU second of ``fn`` over about ``seconds``."""
    count, start = 0, time.process_time()
    while (elapsed := time.process_time() - start) < seconds:
        for _ in range(5):
            fn()
        count += 5
    return count / elapsed


def pool_rate(fn: Callable[[], object], count: int = COLD_PER_ROUND) -> float:
    """Calls per CPU second of ``count`` calls of ``fn``, each consuming a new pool item."""
    start = time.process_time()
    for _ in range(count):
        fn()
    return count / (time.process_time() - start)


def holder(sample: SampleSeal, now: datetime, i: int) -> tuple[sm2.PrivateKey, Certificate]:
    """A new seal holder: a fresh key and a certificate from the sample's seal CA."""
    key = sm2.PrivateKey.generate()
    cert = issue_certificate(
        sample.pki.intermediate,
        sample.pki.intermediate_key,
        subject=seal_holder_name(f"测试单位{i}", TEST_USCC),
        public_key=key.public_key().to_bytes(),
        now=now,
        days=365,
        profile=Profile.SEAL_HOLDER,
    )
    return key, cert


def cold_seals(
    sample: SampleSeal, document: bytes, now: datetime, *, new_maker: bool
) -> Iterator[bytes]:
    """ROUNDS x COLD_PER_ROUND + 1 signatures, each by a new holder with a new seal (the +1
    warms the code path once, unmeasured)."""
    picture = make_picture(tiny_png(), 40, 40)
    out = []
    for i in range(ROUNDS * COLD_PER_ROUND + 1):
        key, cert = holder(sample, now, i)
        made = make_sample_seal(now, pki=sample.pki) if new_maker else sample
        seal = make_seal(
            maker_key=made.maker_key,
            maker_cert=made.maker,
            holder_certs=[cert],
            name=f"测试单位{i} 公章",
            es_id=f"350100{i:08d}",
            picture=picture,
            valid_start=now,
            valid_end=now + timedelta(days=365),
            now=now,
        )
        out.append(sign_bytes(document, seal=seal, key=key, cert=cert, now=now))
    return iter(out)


def cold_keys(message: bytes) -> Iterator[tuple[bytes, bytes]]:
    """(point, signature) pairs, each under its own fresh key, as many as cold seals."""
    keys = (sm2.PrivateKey.generate() for _ in range(ROUNDS * COLD_PER_ROUND + 1))
    return iter([(k.public_key().to_bytes(), k.sign(message)) for k in keys])


def interleaved(
    ops: dict[str, Callable[[], object]], cold: dict[str, Callable[[], object]]
) -> tuple[dict[str, float], list[dict[str, float]]]:
    """Median ops/s per op over ROUNDS rounds, each round measuring every op in turn, so a
    busy machine slows the reference and the measured op alike; also the per-round rates.
    ``cold`` ops run a fixed number of pool items per round, after clearing the result
    caches and forgetting every key's use count and table."""
    for fn in ops.values():
        for _ in range(10):
            fn()  # warm-up: caches, per-key tables
    for fn in cold.values():
        fn()  # warm-up of the code path only: this pool item is never measured
    rounds = []
    for _ in range(ROUNDS):
        measured = {name: rate(fn) for name, fn in ops.items()}
        for name, fn in cold.items():
            clear_all()
            _openssl_ec.registry.clear()
            measured[name] = pool_rate(fn)
        rounds.append(measured)
    names = [*ops, *cold]
    return {name: statistics.median(r[name] for r in rounds) for name in names}, rounds


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
    fresh_seals = cold_seals(sample, document, now, new_maker=False)
    fresh_makers = cold_seals(sample, document, now, new_maker=True)
    fresh_keys = cold_keys(message)

    def check(signature: bytes) -> None:
        report = verify_detached(signature, document, opts)
        if str(report.status) != "valid":
            raise SystemExit(report.to_text())

    def seal_verify_uncached() -> None:
        clear_all()
        fresh = Trust(
            roots=(Certificate.load(sample.pki.root.der),),
            intermediates=(Certificate.load(sample.pki.intermediate.der),),
            crls=crls,
        )
        report = verify_detached(signatures[next(counter) % 64], document, Options(fresh, later))
        if str(report.status) != "valid":
            raise SystemExit(report.to_text())

    def sm2_verify_cold() -> None:
        point, signature = next(fresh_keys)
        sm2.PublicKey.from_bytes(point).verify(signature, message)

    results, rounds = interleaved(
        {
            "sm2_sign": lambda: sample.key.sign(message),
            "seal_sign": lambda: sign_bytes(
                document, seal=sample.seal, key=sample.key, cert=sample.cert, now=later
            ),
            "sm2_verify": lambda: pub.verify(raw_sig, message),
            "seal_verify": lambda: check(signatures[next(counter) % 64]),
            "seal_verify_uncached": seal_verify_uncached,
        },
        {
            "sm2_verify_cold": sm2_verify_cold,
            "seal_verify_cold": lambda: check(next(fresh_seals)),
            "seal_verify_cold_new_maker": lambda: check(next(fresh_makers)),
        },
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
                "method": (
                    f"median of {ROUNDS} interleaved rounds, CPU time: {ROUND_SECONDS} s per warm op, "
                    f"{COLD_PER_ROUND} never-seen items per cold op (caches cleared first); "
                    "ratios are medians of per-round ratios"
                ),
                "ops_per_second": {k: round(v, 1) for k, v in results.items()},
                "ratios": {
                    "seal_sign_vs_sm2_sign": ratio("seal_sign", "sm2_sign"),
                    "seal_verify_vs_sm2_verify": ratio("seal_verify", "sm2_verify"),
                    "seal_verify_cold_vs_sm2_verify_cold": ratio(
                        "seal_verify_cold", "sm2_verify_cold"
                    ),
                    "seal_verify_cold_new_maker_vs_sm2_verify_cold": ratio(
                        "seal_verify_cold_new_maker", "sm2_verify_cold"
                    ),
                    "seal_verify_uncached_vs_sm2_verify": ratio(
                        "seal_verify_uncached", "sm2_verify"
                    ),
                    "sm2_verify_cold_vs_sm2_verify": ratio("sm2_verify_cold", "sm2_verify"),
                },
                "targets": {
                    "seal_sign_vs_sm2_sign": 0.7,
                    "seal_verify_vs_sm2_verify": 0.4,
                    "seal_verify_cold_vs_sm2_verify_cold": 0.4,
                },
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
