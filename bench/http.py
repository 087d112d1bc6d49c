"""HTTP serving benchmark: Anbao's /healthz next to a bare Falcon app, same server, same run.

Prints JSON. Each server runs as its own process on a free loopback port and is loaded by wrk
(Debian package) for a fixed duration; the ratio is what matters, the absolute numbers depend on
the machine. Also measured, to justify the server choice: the bare app under gunicorn's sync
workers (WSGI) and under uvicorn without uvloop/httptools; and Anbao's `/healthz/`, which Falcon
routes through the whole edge middleware, as every API route (`/healthz` is answered before it).

Next to requests/s, each result gives the server's CPU time per request (its process and its
child processes: Anbao's access-log writer, gunicorn's workers), which varies less from run to
run than requests/s when other work shares the machine. Rounds are short and interleaved (the
order reverses every round); every round's figures are listed. The ratio reported is the median
of the rounds' paired ratios (Anbao over bare Falcon in the same round), which cancels the drift
of a shared machine; the ratio of the median rounds and the CPU-time ratio are given beside it.

    python -m bench.http [--seconds 3] [--connections 32] [--rounds 9]
"""

from __future__ import annotations

import sys
from pathlib import Path

# The issue names this file http.py; run as a script, its folder would shadow the stdlib `http`.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)

import argparse
import contextlib
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator

import httpx

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
_TICKS = os.sysconf("SC_CLK_TCK")
FALCON_EDGE = "anbao_healthz_slash_through_falcon_edge"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _cpu_ticks(pid: int) -> int:
    """User + system clock ticks of ``pid`` and its direct children (Linux ``/proc``)."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(stat.parent.name) == pid or int(fields[1]) == pid:
                total += int(fields[11]) + int(fields[12])
    return total


@contextlib.contextmanager
def _server(
    argv: list[str], port: int, env: dict[str, str], log: Path
) -> Iterator[tuple[str, int]]:
    # The log's (temporary) folder is the data directory: the service's state (spool, stores)
    # lands there, not in `make run`'s data directory, whose contents it would ship as its own.
    env = {**env, "ANBAO_DATA_DIR": str(log.parent)}
    with log.open("w") as out:
        proc = subprocess.Popen(argv, cwd=log.parent, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/healthz"
    try:
        for _ in range(200):
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(url, timeout=1).status_code == 200:
                    break
            time.sleep(0.1)
        else:
            raise RuntimeError(f"server did not start: {' '.join(argv)}\n{log.read_text()[-2000:]}")
        yield url, proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def _wrk(
    url: str,
    seconds: int,
    connections: int,
    pid: int | None = None,
    script: Path | None = None,
    *,
    cpu: int | None = None,
) -> dict[str, float]:
    """``script``: a wrk Lua script (e.g. one setting each request's bearer token); ``cpu``:
    the CPU wrk runs on (``taskset``), else wherever the scheduler puts it."""
    ticks = _cpu_ticks(pid) if pid is not None else 0
    lua = ["-s", str(script)] if script is not None else []
    pinned = ["taskset", "-c", str(cpu)] if cpu is not None else []
    out = subprocess.run(
        [*pinned, "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", *lua, url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    cpu_ticks = _cpu_ticks(pid) - ticks if pid is not None else 0
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    served = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    p50 = re.search(r"50%\s+([\d.]+)(us|ms|s)", out)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": round(rps, 1),
        "p50_ms": _ms(p50),
        "p99_ms": _ms(p99),
        "errors": int(non2xx.group(1)) if non2xx else 0,
        "requests": served,
        "cpu_us_per_request": round(cpu_ticks / _TICKS * 1e6 / served, 1)
        if pid is not None and served
        else float("nan"),
    }


def _ms(match: re.Match[str] | None) -> float:
    if match is None:
        return float("nan")
    value, unit = float(match.group(1)), match.group(2)
    return round(value / 1000 if unit == "us" else value * 1000 if unit == "s" else value, 3)


def _uvicorn(target: str, port: int, *, fast: bool = True, workers: int = 1) -> list[str]:
    argv = [
        PY,
        "-m",
        "uvicorn",
        target,
        "--port",
        str(port),
        "--host",
        "127.0.0.1",
        "--no-access-log",
        "--log-level",
        "warning",
        "--workers",
        str(workers),
    ]
    if fast:
        argv += ["--loop", "uvloop", "--http", "httptools"]
    else:
        argv += ["--loop", "asyncio", "--http", "h11"]
    return argv


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("bench/http.py needs wrk: apt-get install wrk")
    tmp = Path(tempfile.mkdtemp(prefix="anbao-bench-"))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    anbao_env = {
        **env,
        "ANBAO_KEYCLOAK_REQUIRED": "false",
        "ANBAO_SERVER_ACCESS_LOG": "true",
        "ANBAO_AUDIT_SQLITE_PATH": str(tmp / "audit.sqlite3"),
    }
    runs = {
        "anbao_healthz_uvicorn_uvloop_httptools": (
            _uvicorn("anbao.asgi:app", p := _free_port()),
            p,
            anbao_env,
        ),
        "bare_falcon_asgi_uvicorn_uvloop_httptools": (
            _uvicorn("bench.bare_app:asgi", p := _free_port()),
            p,
            env,
        ),
        "bare_falcon_asgi_uvicorn_asyncio_h11": (
            _uvicorn("bench.bare_app:asgi", p := _free_port(), fast=False),
            p,
            env,
        ),
    }
    if shutil.which("gunicorn", path=str(Path(PY).parent)):
        p = _free_port()
        runs["bare_falcon_wsgi_gunicorn_sync_2_workers"] = (
            [
                str(Path(PY).parent / "gunicorn"),
                "-w",
                "2",
                "-k",
                "sync",
                "-b",
                f"127.0.0.1:{p}",
                "--log-level",
                "warning",
                "bench.bare_app:wsgi",
            ],
            p,
            env,
        )
    # All servers run at once and are loaded in turn, round after round, so that load from
    # anything else on the machine falls on every contender alike; the median round counts.
    results: dict[str, dict[str, float]] = {}
    with contextlib.ExitStack() as stack:
        servers = {
            name: stack.enter_context(_server(argv, port, run_env, tmp / f"{name}.log"))
            for name, (argv, port, run_env) in runs.items()
        }
        # The same Anbao server through all of Falcon and the edge middleware: `/healthz/` is
        # routed by Falcon (trailing slash stripped), where `/healthz` is answered before it.
        url, pid = servers["anbao_healthz_uvicorn_uvloop_httptools"]
        servers[FALCON_EDGE] = (url + "/", pid)
        for url, _ in servers.values():
            _wrk(url, 1, args.connections)  # warm-up
        rounds: dict[str, list[dict[str, float]]] = {name: [] for name in servers}
        order = list(servers.items())
        for _ in range(args.rounds):
            for name, (url, pid) in order:
                rounds[name].append(_wrk(url, args.seconds, args.connections, pid))
            order.reverse()  # no contender always runs right after another
        for name, samples in rounds.items():
            results[name] = sorted(samples, key=lambda s: s["rps"])[len(samples) // 2]
    access_lines = sum(1 for _ in (tmp / "anbao_healthz_uvicorn_uvloop_httptools.log").open())
    anbao = results["anbao_healthz_uvicorn_uvloop_httptools"]["rps"]
    bare = results["bare_falcon_asgi_uvicorn_uvloop_httptools"]["rps"]
    paired = [
        round(a["rps"] / b["rps"], 3)
        for a, b in zip(
            rounds["anbao_healthz_uvicorn_uvloop_httptools"],
            rounds["bare_falcon_asgi_uvicorn_uvloop_httptools"],
            strict=True,
        )
    ]
    report = {
        "benchmark": "http",
        "load": {
            "tool": "wrk",
            "threads": 1,
            "connections": args.connections,
            "seconds": args.seconds,
        },
        "cpus": os.cpu_count(),
        "results": results,
        "rounds_rps": {name: [s["rps"] for s in samples] for name, samples in rounds.items()},
        "rounds_ratio_anbao_healthz_vs_bare_falcon": paired,
        "access_log_lines_written": access_lines,
        # the figure to read: drift on a shared machine moves both members of a round alike
        "ratio_anbao_healthz_vs_bare_falcon": statistics.median(paired),
        "ratio_of_median_rps": round(anbao / bare, 3),
        "ratio_cpu_per_request_bare_over_anbao": round(
            results["bare_falcon_asgi_uvicorn_uvloop_httptools"]["cpu_us_per_request"]
            / results["anbao_healthz_uvicorn_uvloop_httptools"]["cpu_us_per_request"],
            3,
        ),
        "target_ratio": 0.85,
        # what a request routed by Falcon pays for the edge (request context, auth, parameters)
        "ratio_cpu_per_request_bare_over_anbao_falcon_edge": round(
            results["bare_falcon_asgi_uvicorn_uvloop_httptools"]["cpu_us_per_request"]
            / results[FALCON_EDGE]["cpu_us_per_request"],
            3,
        ),
        "ratio_uvicorn_fast_vs_gunicorn_sync": round(
            bare / results["bare_falcon_wsgi_gunicorn_sync_2_workers"]["rps"], 2
        )
        if "bare_falcon_wsgi_gunicorn_sync_2_workers" in results
        else None,
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
