"""Timing console pages against the API calls they wrap: requests, interleaved sides, figures.

A page's *steps* are what a browser asks for it: the page, then the htmx partials it loads (the
requests of one step go out together, as the browser sends them). The API side is the same
calls the page's code makes, in the same order and grouping, sent straight over HTTP with the
person's bearer token. Both sides go through the same ``anbao serve`` on loopback; each rep
times every side once, the order of the sides turning with each rep so drift, caches and
garbage collection fall on all of them alike.

The pure parts (:func:`percentiles`, :func:`ratio`, :func:`side_order`) are what the report's
figures come from.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
import statistics
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import httpx

_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@dataclasses.dataclass(frozen=True)
class Call:
    """One HTTP request: ``upload`` is a multipart file (field, filename, bytes, type)."""

    method: str
    path: str
    params: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    content_type: str = ""
    upload: tuple[str, str, bytes, str] | None = None
    headers: tuple[tuple[str, str], ...] = ()
    expect: int = 0  # the status the call must answer (0: any 2xx)

    def label(self) -> str:
        query = "&".join(f"{k}={v}" for k, v in self.params)
        return f"{self.method} {self.path}" + (f"?{query}" if query else "")


Steps = tuple[tuple[Call, ...], ...]
Side = Callable[[], Awaitable[None]]


class PageMissing(Exception):
    """The page answered 404: it is not in this tree yet."""


def percentiles(samples: Sequence[float]) -> dict[str, float]:
    """p50 and p95 in milliseconds (nearest rank), with the sample count."""
    if not samples:
        raise ValueError("no samples")
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p95_ms": round(p95 * 1000, 2),
        "n": len(ordered),
    }


def ratio(side: Mapping[str, float], reference: Mapping[str, float]) -> dict[str, float]:
    """``side`` over ``reference`` at p50 and p95."""
    return {
        "p50": round(side["p50_ms"] / reference["p50_ms"], 3),
        "p95": round(side["p95_ms"] / reference["p95_ms"], 3),
    }


def side_order(names: Sequence[str], rep: int) -> list[str]:
    """The sides in the order of rep ``rep``: rotated by one each rep."""
    shift = rep % len(names) if names else 0
    return [*names[shift:], *names[:shift]]


async def measure(
    sides: Mapping[str, Side], reps: int, warmup: int = 3, before: Side | None = None
) -> dict[str, list[float]]:
    """``reps`` timings of each side (seconds), interleaved, after ``warmup`` untimed rounds;
    ``before`` runs untimed before each timed call (to empty a cache)."""
    names = list(sides)
    for _ in range(warmup):
        for name in names:
            await sides[name]()
    samples: dict[str, list[float]] = {name: [] for name in names}
    for rep in range(reps):
        for name in side_order(names, rep):
            if before is not None:
                await before()
            started = time.perf_counter()
            await sides[name]()
            samples[name].append(time.perf_counter() - started)
    return samples


async def send(client: httpx.AsyncClient, call: Call, csrf: str = "") -> httpx.Response:
    """Send ``call``; a console change carries the session's CSRF token as the browser does."""
    kw: dict[str, Any] = {"params": list(call.params), "headers": dict(call.headers)}
    if call.upload is not None:
        field, filename, data, kind = call.upload
        kw["files"] = {field: (filename, data, kind)}
        kw["data"] = {"csrf": csrf} if csrf else {}
    elif call.body:
        kw["content"] = call.body
        kw["headers"]["Content-Type"] = call.content_type
    if csrf:
        kw["headers"]["X-CSRF-Token"] = csrf
    answer = await client.request(call.method, call.path, **kw)
    if answer.status_code == 404 and call.path.startswith("/console"):
        raise PageMissing(call.path)
    if answer.status_code != call.expect if call.expect else answer.status_code >= 300:
        raise RuntimeError(f"{call.label()}: {answer.status_code} {answer.text[:300]}")
    return answer


def runner(client: httpx.AsyncClient, steps: Steps, csrf: str = "") -> Side:
    """A side doing ``steps`` in order, the calls of a step together; bodies read whole."""

    async def run() -> None:
        for step in steps:
            if len(step) == 1:
                await send(client, step[0], csrf)
            else:
                await asyncio.gather(*(send(client, call, csrf) for call in step))

    return run


async def csrf_token(client: httpx.AsyncClient) -> str:
    """The session's CSRF token, as the overview's forms carry it."""
    answer = await client.get("/console/")
    found = _CSRF.search(answer.text)
    return found[1] if found else ""


async def page_exists(client: httpx.AsyncClient, steps: Steps) -> bool:
    """Whether the page of ``steps`` is in this tree (a GET of its path is not 404)."""
    answer = await client.get(steps[0][0].path)
    return answer.status_code != 404


async def forbidden_page(client: httpx.AsyncClient, paths: Sequence[str]) -> str:
    """The first of ``paths`` the signed-in person is refused (403), or ""."""
    for path in paths:
        if (await client.get(path)).status_code == 403:
            return path
    return ""


def labels(steps: Steps) -> list[list[str]]:
    return [[call.label() for call in step] for step in steps]
