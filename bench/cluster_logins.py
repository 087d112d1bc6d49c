"""Logins through the clustered Keycloak of deploy/cluster/keycloak.sh; prints one JSON object.

* rate: logins/s through HAProxy with two nodes vs one (the other node taken out of HAProxy on
  its admin socket, so it stays in the cluster, idle), at each concurrency, with each JVM's CPU
  seconds per login read from /proc. On a 2-core machine both JVMs share the same two cores:
  the two-node/one-node ratio shows the cost of clustering, not how it scales; CPU seconds per
  login is the figure that extrapolates (logins/s per core = 1 / CPU seconds per login).
* reference, measured in the same run: logins sent straight to node 1 (no HAProxy), and the
  password hash Keycloak 26 checks on each login (Argon2id, its default outside FIPS mode) in
  pyca/cryptography, per core.
* failover: ``kill -9`` of the JGroups coordinator during a stream of logins: first attempts
  that failed (a client without retry), logins that failed after one retry, and the window of
  errors; then ``up`` brings the node back and the time until the cluster has two members.

A login is a password grant on a fresh TLS connection (tests/integration/cluster/
keycloak_cluster.py). Needs the cluster (started here if none of it runs, and then stopped).
Usage: .venv/bin/python -m bench.cluster_logins [--seconds 15] [--concurrency 4 16]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import time
from typing import Any

from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

from tests.integration.cluster.keycloak_cluster import (
    NODES,
    KeycloakCluster,
    LoginRealm,
    LoginStream,
    cpu_seconds,
    script,
)

PEOPLE = 50


def _stream(realm: LoginRealm, threads: int, seconds: float) -> dict[str, Any]:
    cluster = realm.cluster
    pids = {n: cluster.java_pid(n) for n in NODES}
    cpu0 = {n: cpu_seconds(pid) for n, pid in pids.items() if pid}
    with LoginStream(realm, threads) as stream:
        time.sleep(seconds)
    cpu1 = {n: cpu_seconds(pid) for n, pid in pids.items() if pid}
    result = stream.summary()
    logins = max(result["logins"], 1)
    used = {n: cpu1[n] - cpu0[n] for n in cpu1}
    result["cpu_s_per_login"] = {f"kc{n}": round(used[n] / logins, 4) for n in used}
    result["cpu_s_per_login_all_nodes"] = round(sum(used.values()) / logins, 4)
    return result


def _argon2_per_s(seconds: float = 3.0) -> float:
    """Keycloak 26's default password hash outside FIPS mode (Argon2id v1.3, 5 iterations,
    7 MiB, 1 lane, 32-byte hash: the ``credential_data`` it stores), one core, with
    pyca/cryptography's Argon2id."""
    count, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        kdf = Argon2id(salt=os.urandom(16), length=32, iterations=5, lanes=1, memory_cost=7168)
        kdf.derive(b"password")
        count += 1
    return round(count / (time.perf_counter() - t0), 2)


def rates(realm: LoginRealm, levels: list[int], seconds: float) -> dict[str, Any]:
    cluster = realm.cluster
    _stream(realm, max(levels), 5)  # warm-up (JIT, connection pools)
    out: dict[str, Any] = {}
    for threads in levels:
        two = _stream(realm, threads, seconds)
        with cluster.only_node(1):
            one = _stream(realm, threads, seconds)
        direct_realm = dataclasses.replace(
            realm, cluster=dataclasses.replace(cluster, url="https://127.0.0.1:8443")
        )
        direct = _stream(direct_realm, threads, seconds)
        out[f"concurrency_{threads}"] = {
            "two_nodes": two,
            "one_node": one,
            "reference_direct_to_node1": direct,
            "two_over_one": round(two["logins_per_s"] / one["logins_per_s"], 2),
            "lb_over_direct_one_node": round(one["logins_per_s"] / direct["logins_per_s"], 2),
        }
    return out


def failover(realm: LoginRealm, threads: int) -> dict[str, Any]:
    cluster = realm.cluster
    victim = cluster.coordinator()
    try:
        with LoginStream(realm, threads) as stream:
            time.sleep(5)
            killed_at = cluster.kill(victim)
            time.sleep(20)
    finally:
        t0 = time.monotonic()
        up = script("up")
        back = time.monotonic()
    status = script("status", timeout=60)
    return {
        "killed": f"kc{victim} (coordinator)",
        "threads": threads,
        **stream.summary(killed_at),
        "failed_without_retry": stream.summary()["failed_first_attempt"],
        "up_ok": up.returncode == 0,
        "up_error": "" if up.returncode == 0 else up.stderr[-2000:],
        "up_s": round(back - t0, 1),
        "two_members_s_after_kill": round(back - killed_at, 1),
        "status_ok": status.returncode == 0,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[4, 16])
    parser.add_argument("--skip-failover", action="store_true")
    args = parser.parse_args()

    before = script("status", timeout=60).stdout
    started = all(f"{piece} down" in before for piece in ("kc1", "kc2", "haproxy"))
    up = script("up")
    if up.returncode != 0:
        raise SystemExit(up.stderr)
    cluster = KeycloakCluster.from_env()
    realm = LoginRealm.create(cluster, PEOPLE)
    result: dict[str, Any] = {"cores": os.cpu_count(), "people": PEOPLE}
    try:
        result["reference_argon2id_keycloak_default_per_s_one_core"] = _argon2_per_s()
        result["rates"] = rates(realm, args.concurrency, args.seconds)
        if not args.skip_failover:
            result["failover"] = failover(realm, 4)
    finally:
        realm.drop()
        if started:
            script("down", timeout=120)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
