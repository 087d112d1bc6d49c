"""Identity benchmarks. Prints one JSON document; ratios against references measured in the same run.

Token verification (``"tokens"``), real Keycloak tokens from a throw-away realm:

* ``protected_vs_open``: requests/s of an endpoint behind the SDK, clients reusing their tokens
  as real clients do (a pool of 64 tokens, one per simulated client), vs the same endpoint
  without authentication. Target >= 0.8.
* ``fresh_vs_bare``: every request verifies a signature (the verified-token cache is off, which
  costs what a never-seen token costs) vs joserfc's bare ``jwt.decode`` + claims registry in the
  responder; both over HTTP, and in-process (``verify()`` vs bare decode loops). Target >= 0.8.
* ``protected_vs_introspection``: the SDK endpoint vs one that introspects at Keycloak on every
  request (RFC 7662). Target >= 10.

Servers: uvicorn (uvloop, httptools, one worker) on loopback, loaded by wrk (one thread, 32
connections) for a bounded time. Each ratio is measured as a pair run back to back (order
alternating by round) and the median of the rounds' ratios is reported, so load from other
processes on the same cores hits both sides of a ratio alike. Next to wall-clock requests/s,
requests per CPU-second of the server process are reported: on a shared machine that is the
steadier measure of what each check costs (the introspection reference also spends Keycloak's
CPU, which only its wall-clock figure shows).

    python bench/iam.py [--seconds 3] [--rounds 4] [--connections 32]
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this folder would shadow the `iam` package with this very file.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)

import argparse
import contextlib
import json
import os
import re
import secrets
import socket
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
from joserfc import jwt
from joserfc.jwk import KeySet

from iam.admin import AdminCredentials, KeycloakAdmins
from iam.tokens.keycloak import KeycloakJwks, issuer_url
from iam.tokens.verifier import TokenVerifier

ROOT = Path(__file__).resolve().parent.parent
POOL = 64
LUA = """
local tokens = {}
for line in io.lines("%s") do tokens[#tokens + 1] = line end
local i = math.random(#tokens)
request = function()
  i = i %% #tokens + 1
  return wrk.format("GET", nil, {["Authorization"] = "Bearer " .. tokens[i]})
end
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _keycloak_env() -> dict[str, str]:
    script = ROOT / "deploy" / "local" / "keycloak.sh"
    subprocess.run([str(script), "start"], check=True, capture_output=True, timeout=900)
    out = subprocess.run([str(script), "env"], check=True, capture_output=True, text=True)
    return dict(line.split("=", 1) for line in out.stdout.splitlines() if "=" in line)


class BenchRealm:
    """A realm with an API client (audience, introspection) and a service client calling it."""

    def __init__(self, env: dict[str, str]) -> None:
        self.url = env["KEYCLOAK_URL"]
        self.name = f"bench-iam-{secrets.token_hex(4)}"
        self.audience = "bench-api"
        self.api_secret = secrets.token_urlsafe(24)
        self._client_secret = secrets.token_urlsafe(24)
        self._master = KeycloakAdmins(
            AdminCredentials.bootstrap(
                self.url, env["KEYCLOAK_ADMIN_USERNAME"], env["KEYCLOAK_ADMIN_PASSWORD"]
            ),
            "master",
        ).python_keycloak()

    def __enter__(self) -> BenchRealm:
        self._master.create_realm(
            {"realm": self.name, "enabled": True, "accessTokenLifespan": 1800}
        )
        self._master.change_current_realm(self.name)
        self._master.create_client(
            {"clientId": self.audience, "secret": self.api_secret, "publicClient": False,
             "serviceAccountsEnabled": True, "standardFlowEnabled": False}
        )  # fmt: skip
        self._master.create_client(
            {
                "clientId": "bench-client",
                "secret": self._client_secret,
                "publicClient": False,
                "serviceAccountsEnabled": True,
                "standardFlowEnabled": False,
                "protocolMappers": [
                    {
                        "name": "aud",
                        "protocol": "openid-connect",
                        "protocolMapper": "oidc-audience-mapper",
                        "config": {
                            "included.custom.audience": self.audience,
                            "access.token.claim": "true",
                        },
                    }
                ],
            }
        )
        return self

    def __exit__(self, *exc: object) -> None:
        self._master.change_current_realm("master")
        self._master.delete_realm(self.name)

    def tokens(self, count: int) -> list[str]:
        endpoint = f"{issuer_url(self.url, self.name)}/protocol/openid-connect/token"
        with httpx.Client(auth=("bench-client", self._client_secret), timeout=10) as client:
            return [
                client.post(endpoint, data={"grant_type": "client_credentials"}).json()[
                    "access_token"
                ]
                for _ in range(count)
            ]


@contextlib.contextmanager
def _server(realm: BenchRealm, cache: int, log: Path) -> Iterator[tuple[str, int]]:
    port = _free_port()
    env = {
        **os.environ,
        "BENCH_KC_URL": realm.url,
        "BENCH_REALM": realm.name,
        "BENCH_AUDIENCE": realm.audience,
        "BENCH_API_SECRET": realm.api_secret,
        "BENCH_CACHE": str(cache),
    }
    argv = [
        sys.executable, "-m", "uvicorn", "bench.iam_server:make_app", "--factory",
        "--host", "127.0.0.1", "--port", str(port), "--loop", "uvloop", "--http", "httptools",
        "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip
    with log.open("w") as out:
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(base + "/open", timeout=1).status_code == 200:
                    break
            time.sleep(0.1)
        else:
            raise RuntimeError(f"bench server did not start:\n{log.read_text()[-2000:]}")
        yield base, proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (``/proc/PID/stat`` fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _wrk(
    target: tuple[str, int], script: Path, seconds: float, connections: int
) -> dict[str, float]:
    """Requests/s (wall clock) and requests per CPU-second the server process spent.

    The machine is shared (other processes on the same cores): wall-clock rates swing with
    their load, the server's CPU cost per request much less, so both are reported.
    """
    url, pid = target
    cpu_before = _cpu_seconds(pid)
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "-s", str(script), url],
        capture_output=True, text=True, check=True, timeout=seconds + 60,
    ).stdout  # fmt: skip
    cpu = _cpu_seconds(pid) - cpu_before
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return {
        "rps": rps,
        "per_cpu_second": total / cpu if cpu > 0 else 0.0,
        "non_2xx": int(bad.group(1)) if bad else 0,
    }


def _loop_rate(fn: Callable[[str], object], tokens: list[str], seconds: float) -> float:
    """Calls per second of ``fn`` over the token pool for about ``seconds``."""
    done, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        for token in tokens:
            fn(token)
        done += len(tokens)
    return done / elapsed


def in_process(realm: BenchRealm, tokens: list[str], seconds: float, rounds: int) -> dict[str, Any]:
    issuer = issuer_url(realm.url, realm.name)
    source = KeycloakJwks(realm.url, realm.name)
    document = source.fetch()
    source.close()
    keys = KeySet.import_key_set({"keys": [k for k in document["keys"] if k.get("use") == "sig"]})

    class Static:
        def fetch(self) -> dict[str, Any]:
            return dict(document)

    sdk = TokenVerifier(
        issuer=issuer, audience=realm.audience, jwks=Static(), clock=time.time, cache_size=0
    )
    cached = TokenVerifier(issuer=issuer, audience=realm.audience, jwks=Static(), clock=time.time)

    def bare(token: str) -> object:
        decoded = jwt.decode(token, keys, ["RS256"])
        jwt.JWTClaimsRegistry(
            leeway=30,
            iss={"essential": True, "value": issuer},
            aud={"essential": True, "value": realm.audience},
            exp={"essential": True},
        ).validate(decoded.claims)
        return decoded

    rates: dict[str, list[float]] = {
        "sdk_verify_uncached": [],
        "joserfc_bare": [],
        "sdk_cached": [],
    }
    for _ in range(rounds):
        rates["sdk_verify_uncached"].append(_loop_rate(sdk.verify, tokens, seconds))
        rates["joserfc_bare"].append(_loop_rate(bare, tokens, seconds))
        rates["sdk_cached"].append(_loop_rate(cached.verify, tokens, seconds))
    median = {k: round(statistics.median(v), 1) for k, v in rates.items()}
    return {
        "per_second": median,
        "sdk_uncached_vs_joserfc_bare": round(
            median["sdk_verify_uncached"] / median["joserfc_bare"], 3
        ),
        "target": 0.8,
    }


#: (measured, reference, target): each pair runs back to back, in alternating order, per round.
PAIRS = (
    ("protected", "open", 0.8),
    ("protected_fresh", "joserfc_bare", 0.8),
    ("protected", "introspection_per_request", 10.0),
)


def over_http(
    realm: BenchRealm, tokens: list[str], seconds: float, rounds: int, connections: int
) -> dict[str, Any]:
    """Paired runs: the machine's noise (other processes on the same cores) hits both sides."""
    with tempfile.TemporaryDirectory() as tmp:
        pool = Path(tmp) / "tokens.txt"
        pool.write_text("\n".join(tokens) + "\n")
        script = Path(tmp) / "tokens.lua"
        script.write_text(LUA % pool)
        with (
            _server(realm, 10_000, Path(tmp) / "cached.log") as (cached, cached_pid),
            _server(realm, 0, Path(tmp) / "uncached.log") as (uncached, uncached_pid),
        ):
            targets = {
                "open": (cached + "/open", cached_pid),
                "protected": (cached + "/protected", cached_pid),
                "protected_fresh": (uncached + "/protected", uncached_pid),
                "joserfc_bare": (cached + "/bare", cached_pid),
                "introspection_per_request": (cached + "/introspect", cached_pid),
            }
            for target in targets.values():  # warm-up: JWKS, connections, Keycloak's JIT
                _wrk(target, script, 1, connections)
            runs: dict[str, list[dict[str, float]]] = {name: [] for name in targets}
            for r in range(rounds):
                for a, b, _ in PAIRS:
                    for name in (a, b) if r % 2 == 0 else (b, a):
                        runs[name].append(_wrk(targets[name], script, seconds, connections))
                        if name == "introspection_per_request":
                            time.sleep(1)  # let Keycloak (same cores) settle
    return _summary(runs)


def _summary(runs: dict[str, list[dict[str, float]]]) -> dict[str, Any]:
    def median(name: str, metric: str) -> float:
        return statistics.median(run[metric] for run in runs[name])

    ratios: dict[str, Any] = {}
    for a, b, target in PAIRS:
        # Pairs ran back to back; A's and B's lists are aligned by round.
        wall = [x["rps"] / y["rps"] for x, y in zip(runs[a], runs[b], strict=False)]
        ratios[f"{a}_vs_{b}"] = {
            "wall_clock_median": round(statistics.median(wall), 3),
            "wall_clock_rounds": [round(x, 3) for x in wall],
            "per_cpu_second": round(median(a, "per_cpu_second") / median(b, "per_cpu_second"), 3),
            "target": target,
        }
    return {
        "requests_per_second": {n: round(median(n, "rps"), 1) for n in runs},
        "requests_per_server_cpu_second": {n: round(median(n, "per_cpu_second"), 1) for n in runs},
        "non_2xx": {n: sum(int(r["non_2xx"]) for r in rs) for n, rs in runs.items()},
        "ratios": ratios,
    }


def token_benchmarks(seconds: float, rounds: int, connections: int) -> dict[str, Any]:
    with BenchRealm(_keycloak_env()) as realm:
        tokens = realm.tokens(POOL)
        return {
            "token_pool": POOL,
            "http": over_http(realm, tokens, seconds, rounds, connections),
            "in_process": in_process(realm, tokens, min(seconds, 2.0), rounds),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    result = {
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
        "settings": vars(args),
        "tokens": token_benchmarks(args.seconds, args.rounds, args.connections),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
