"""Seal registry benchmark: applying a seal through the lifecycle service, one run, JSON.

``service_sign`` is ``SealService.sign_document`` on a 4 KiB document: the record read from
the database, role/holder/step-up/state checks, the detached SES_Signature, and the audit
event (into an in-memory trail, so the audit spool's fsync is not measured here);
``service_sign_tsa`` adds the RFC 3161 token from Anbao's TSA (a second SM2 signature);
``tsa_stamp`` is the TSA alone. The reference is a raw SM2 signature in the same run, rounds
interleaved. Database: SQLite in a temporary directory, or ``--database URL`` (PostgreSQL).
Loopback only; bounded: about 20 s.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parent.parent)  # bench/http.py would shadow http

from anbao.wiring.seals import SEAL_MIGRATIONS
from audit.sql.engine import create_engine
from crypto import sm2
from crypto.keystore import KekRing
from crypto.pki.testing import TEST_USCC
from crypto.seals.format.testing import tiny_png
from crypto.seals.registry.build import RegistryConfig, build_registry
from crypto.seals.registry.model import ORG_ADMIN, SEAL_ADMIN, SEAL_USER, Actor, Application
from crypto.seals.registry.testing import RecordingAuditTrail

ROUND_SECONDS = 0.5
ROUNDS = 7


def rate(fn: Callable[[], object]) -> float:
    count, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < ROUND_SECONDS:
        fn()
        count += 1
    return count / elapsed


class Trail(RecordingAuditTrail):
    def record(self, event: object) -> None:  # keep memory flat over many signatures
        del event


KEK = KekRing.generate_entry("bench")


def registry_for(url: str, tsa: bool):
    config = RegistryConfig(kek=KEK, tsa_enabled=tsa)
    engine = SEAL_MIGRATIONS.ready(create_engine(url), migrate=True)
    registry = build_registry(config, engine, Trail(), lambda: datetime.now(UTC))
    org = Actor("oa", "oa", frozenset({ORG_ADMIN}), "/35")
    admin = Actor("sa", "sa", frozenset({SEAL_ADMIN}), "")
    app = Application("/35/x", "某局", TEST_USCC, "某局公章", ("h",), "", tiny_png(), 40, 40)
    record = registry.service.apply(org, app)
    for step in (registry.service.approve, registry.service.make):
        step(admin, record.id)
    registry.service.activate(org, record.id)
    return registry, record.id


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database", help="database URL (default: SQLite in a temp dir)")
    args = parser.parse_args()
    holder = Actor("h", "h", frozenset({SEAL_USER}), "/35/x", stepped_up=True)
    document = os.urandom(4096)
    key = sm2.PrivateKey.generate()
    with tempfile.TemporaryDirectory() as tmp:
        plain, plain_id = registry_for(args.database or f"sqlite:///{tmp}/a.db", tsa=False)
        stamped, stamped_id = registry_for(args.database or f"sqlite:///{tmp}/b.db", tsa=True)
        tsa = stamped.tsa
        if tsa is None:
            raise SystemExit("the TSA is off")
        ops: dict[str, Callable[[], object]] = {
            "sm2_sign": lambda: key.sign(document),
            "service_sign": lambda: plain.service.sign_document(holder, plain_id, document),
            "service_sign_tsa": lambda: stamped.service.sign_document(holder, stamped_id, document),
            "tsa_stamp": lambda: tsa.stamp(document[:64]),
        }
        for fn in ops.values():
            for _ in range(5):
                fn()
        rounds = [{name: rate(fn) for name, fn in ops.items()} for _ in range(ROUNDS)]
        plain.close()
        stamped.close()
    median = {name: round(statistics.median(r[name] for r in rounds), 1) for name in ops}
    print(
        json.dumps(
            {
                "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
                "database": "postgresql" if args.database else "sqlite",
                "ops_per_second": median,
                "ratios_to_sm2_sign": {
                    name: round(median[name] / median["sm2_sign"], 3)
                    for name in ops
                    if name != "sm2_sign"
                },
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
