"""Where a console page's server time goes: the page and its API calls under cProfile.

The timed sections say how much slower a page is than the API calls it wraps; this says on
what. A second instance of the same app is built in this process (the server's settings; its
own audit spool and integrity log, so it never contends with the running server's; the same
console session store, so the signed-in cookie works) with its ASGI lifespan started, and
each side is sent ``reps`` times through ``httpx.ASGITransport`` under :mod:`cProfile`. The
report lists the functions with the most cumulative time per request, grouped by where they
live (console sessions, templates, in-process API client, API edge, stores, ...).
"""

from __future__ import annotations

import asyncio
import contextlib
import cProfile
import os
import pstats
import tempfile
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import httpx

from anbao.app import create_app
from anbao.settings import Settings
from bench.console_timing import Steps, runner
from tests.integration.anbao.serving import state_env

#: (label, path fragment) of the groups a profile's functions are summed into.
GROUPS = (
    ("console sessions (SQLite, SM4-GCM)", "anbao/console/sessions.py"),
    ("console templates (Jinja2)", "jinja2/"),
    ("console i18n", "anbao/console/i18n.py"),
    ("in-process API client (httpx ASGITransport)", "httpx/"),
    ("token verification", "iam/tokens/"),
    ("audit recording", "audit/recording/"),
    ("audit search", "audit/search/"),
    ("Elasticsearch client", "elasticsearch/"),
    ("Elasticsearch transport", "elastic_transport/"),
    ("falcon", "falcon/"),
    ("json", "json/"),
)


@contextlib.asynccontextmanager
async def _lifespan(app: Any) -> AsyncIterator[None]:
    """The ASGI lifespan protocol, driven by hand (startup, then shutdown on exit)."""
    inbox: asyncio.Queue[dict[str, str]] = asyncio.Queue()
    outbox: asyncio.Queue[dict[str, str]] = asyncio.Queue()
    task = asyncio.create_task(
        app(
            {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}},
            inbox.get,
            outbox.put,
        )
    )
    await inbox.put({"type": "lifespan.startup"})
    started = await outbox.get()
    if started["type"] != "lifespan.startup.complete":
        raise RuntimeError(f"the app did not start: {started}")
    try:
        yield
    finally:
        await inbox.put({"type": "lifespan.shutdown"})
        await outbox.get()
        await task


def _settings(server_env: Mapping[str, str], state: Path, own: Path) -> Settings:
    env = {**os.environ, **state_env(state), **server_env}
    env |= {
        "ANBAO_AUDIT_SPOOL_PATH": str(own / "spool.sqlite3"),
        "ANBAO_AUDIT_INTEGRITY_LOG_PATH": str(own / "integrity.sqlite3"),
    }
    return Settings.load(env)


def _summary(profile: cProfile.Profile, requests: int, top: int) -> dict[str, Any]:
    stats = pstats.Stats(profile)
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    total = sum(tt for _, _, tt, _, _ in raw.values())
    groups = dict.fromkeys((label for label, _ in GROUPS), 0.0)
    for (filename, _, _), (_, _, tt, _, _) in raw.items():
        for label, fragment in GROUPS:
            if fragment in filename:
                groups[label] += tt
                break
    per = 1000.0 / requests
    ours = {k: v for k, v in raw.items() if not any(p in k[0] + k[2] for p in _PLUMBING)}

    def ranked(column: int) -> list[str]:
        best = sorted(ours.items(), key=lambda item: item[1][column], reverse=True)[:top]
        return [
            f"{item[1][column] * per:.2f} ms {_where(filename)}:{line}:{name}"
            for item in best
            for filename, line, name in [item[0]]
        ]

    return {
        "profiled_ms_per_request": round(total * per, 2),
        "own_time_by_group_ms": {k: round(v * per, 2) for k, v in groups.items() if v},
        "top_cumulative": ranked(3),
        "top_own": ranked(2),
    }


#: Event-loop and profiler plumbing, left out of the rankings (it wraps everything).
_PLUMBING = (
    "asyncio/",
    "selectors.py",
    "poll",
    "_contextvars",
    "threading.py",
    str(Path(__file__).parent) + "/",
)


def _where(filename: str) -> str:
    """A short location: the path from the package root (``anbao/console/web.py``)."""
    parts = Path(filename).parts
    for root in ("site-packages", "anbao", "audit", "iam", "crypto", "siem", "policies"):
        if root in parts:
            index = parts.index(root)
            return "/".join(parts[index + (1 if root == "site-packages" else 0) :])
    return Path(filename).name


async def profile_sides(
    server_env: Mapping[str, str],
    state: Path,
    sides: Mapping[str, tuple[Steps, Mapping[str, str]]],
    reps: int,
    top: int = 25,
) -> dict[str, Any]:
    """Each side (its steps and headers) ``reps`` times under cProfile, in this process."""
    with tempfile.TemporaryDirectory(prefix="anbao-bench-profile-") as own:
        app = create_app(_settings(server_env, state, Path(own)))
        out: dict[str, Any] = {}
        async with _lifespan(app):
            for name, (steps, headers) in sides.items():
                transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 0))
                async with httpx.AsyncClient(
                    transport=transport, base_url="http://127.0.0.1", headers=dict(headers)
                ) as client:
                    run = runner(client, steps, headers.get("X-CSRF-Token", ""))
                    await run()  # warm
                    profile = cProfile.Profile()
                    profile.enable()
                    for _ in range(reps):
                        await run()
                    profile.disable()
                out[name] = _summary(profile, reps, top)
        return out
