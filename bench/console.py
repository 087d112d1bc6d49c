"""Console bench (issue 19): server time per page vs the API calls it wraps; audit search over
a million events; Lighthouse.

Prints one JSON document, each figure next to its reference measured in the same run:

1. ``server_time``: the overview, audit search and seal verification pages (with the htmx
   partials they load), fetched from a real ``anbao serve`` on loopback with a signed-in
   session cookie, against the same API calls the page makes sent straight over HTTP with the
   same person's bearer token; interleaved, ``--reps`` each; p50/p95 and the ratio (target:
   p95 ratio <= 1.3); with a floor, the console's cost with no API call (a 403 page).
2. ``audit_search``: ``--events`` events in the Elasticsearch audit store (kept between runs,
   bench/console_audit.py); the audit search page's results and histogram over a mix of
   queries and time ranges, as a first load and as htmx's workspace swap (target: p95 <= 1 s),
   next to the API calls it makes and to the raw Elasticsearch requests those send (captured
   from the search service, replayed as sent); Elasticsearch's request cache is emptied
   before every timed request, so each search is a first one.
3. ``lighthouse``: performance and accessibility of the three pages (targets >= 90, >= 95),
   bench/console_lighthouse.py, with the session cookie, next to its static reference page.
4. ``where_the_time_goes``: the signed-in pages and their API calls under cProfile
   (bench/console_profile.py), ``--profile-reps`` each.

The workloads (which requests a page makes, which API calls it wraps) are in
bench/console_pages.py, written from the pages' code.

    python -m bench.console [--events N] [--reps N] [--skip-lighthouse]
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import json
import os
import platform as host
from collections.abc import Iterator, Mapping
from typing import Any

import httpx

from bench import console_lighthouse as lh
from bench import console_pages as pages
from bench.console_audit import ensure_loaded, open_store, server_env
from bench.console_platform import BearerToken, demo_platform, session_cookie
from bench.console_profile import profile_sides
from bench.console_timing import (
    PageMissing,
    Steps,
    csrf_token,
    forbidden_page,
    labels,
    measure,
    page_exists,
    percentiles,
    ratio,
    runner,
)
from tests.journeys.console.platform import ConsolePlatform

PERSON = "demo-analyst"  # overview and audit search (security-analyst, province-wide scope)
TARGET_RATIO = 1.3
TARGET_SEARCH_MS = 1000.0
TARGET_LIGHTHOUSE = {"performance": 90, "accessibility": 95}


class Sides:
    """Three HTTP clients of one server: the browser's (cookie), the API caller's (bearer)
    and an anonymous one (public pages)."""

    def __init__(self, platform: ConsolePlatform, cookie: str, token: BearerToken) -> None:
        self.token = token
        self.console = httpx.AsyncClient(
            base_url=platform.base, headers={"Cookie": cookie}, timeout=120
        )
        self.api = httpx.AsyncClient(base_url=platform.base, timeout=120)
        self.public = httpx.AsyncClient(base_url=platform.base, timeout=120)
        self.csrf = ""
        self.floor = ""

    async def start(self) -> None:
        self.csrf = await csrf_token(self.console)
        self.floor = await forbidden_page(self.console, pages.FORBIDDEN_TO_ANALYST)

    def fresh_token(self) -> None:
        """Outside the timed requests: the bearer token refreshed when near its end."""
        self.api.headers["Authorization"] = f"Bearer {self.token.value()}"

    async def close(self) -> None:
        for client in (self.console, self.api, self.public):
            await client.aclose()


async def _sides_of(sides: Sides, workload: pages.Workload, reps: int) -> dict[str, list[float]]:
    """Console vs API (and the console's floor), interleaved, in rounds short enough for one
    token."""
    client = sides.public if workload.public else sides.console
    csrf = "" if workload.public else sides.csrf
    run = {
        "console": runner(client, workload.console, csrf),
        "api": runner(sides.api, workload.api),
    }
    if workload.floor:
        run["console_floor"] = runner(client, workload.floor, csrf)
    out: dict[str, list[float]] = {name: [] for name in run}
    for chunk in _chunks(reps, 25):
        sides.fresh_token()
        got = await measure(run, chunk, warmup=1)
        for name, samples in got.items():
            out[name] += samples
    return out


def _chunks(total: int, size: int) -> Iterator[int]:
    while total > 0:
        yield min(size, total)
        total -= size


async def server_time(sides: Sides, reps: int) -> dict[str, Any]:
    result: dict[str, Any] = {"target_p95_ratio_max": TARGET_RATIO, "pages": {}}
    document = pages.signed_ofd()
    for workload in pages.server_time_workloads(document, pages.signed_in_floor(sides.floor)):
        entry: dict[str, Any] = {
            "console_requests": labels(workload.console),
            "api_calls": labels(workload.api),
        }
        client = sides.public if workload.public else sides.console
        if not await page_exists(client, workload.console):
            entry["skipped"] = f"{workload.console[0][0].path} is not in this tree yet"
            result["pages"][workload.name] = entry
            continue
        try:
            got = await _sides_of(sides, workload, reps)
        except PageMissing as missing:
            entry["skipped"] = f"{missing} is not in this tree yet"
        else:
            entry |= _compare(got, "console", "api")
            entry["met"] = entry["ratio"]["p95"] <= TARGET_RATIO
            if workload.floor:
                entry["console_floor_requests"] = labels(workload.floor)
                entry["console_floor_is"] = workload.floor_is
            if workload.name == "seal_verification":
                times = await asyncio.to_thread(pages.preview_seconds, document, 50)
                entry["stamped_page_preview_in_process"] = percentiles(times)
        result["pages"][workload.name] = entry
    return result


def _compare(samples: Mapping[str, list[float]], side: str, ref: str) -> dict[str, Any]:
    figures = {name: percentiles(s) for name, s in samples.items()}
    return {**figures, "ratio": ratio(figures[side], figures[ref])}


async def audit_search(sides: Sides, events: int, reps: int) -> dict[str, Any]:
    """The search page over the mix: console vs its API calls vs the raw Elasticsearch bodies
    (without the page, until it is in the tree: the API and raw Elasticsearch only)."""
    store = open_store(events)

    async def clear() -> None:  # Elasticsearch's request cache: each search is a first one
        await asyncio.to_thread(store.client.indices.clear_cache, index=store.pattern, request=True)

    cases = pages.search_cases()
    with_page = await page_exists(sides.console, pages.audit_workload(cases[0]).console)
    pooled: dict[str, list[float]] = {"console": [], "console_htmx": [], "api": [], "raw_es": []}
    if not with_page:
        del pooled["console"], pooled["console_htmx"]
    per_case: dict[str, Any] = {}
    try:
        for case in cases:
            workload = pages.audit_workload(case)
            run = {
                "console": runner(sides.console, workload.console, sides.csrf),
                "console_htmx": runner(sides.console, pages.as_htmx(workload.console), sides.csrf),
                "api": runner(sides.api, workload.api),
                "raw_es": pages.raw_search_side(store, workload.api),
            }
            got: dict[str, list[float]] = {name: [] for name in pooled}
            for chunk in _chunks(reps, 25):
                sides.fresh_token()
                part = await measure(
                    {name: run[name] for name in pooled}, chunk, warmup=1, before=clear
                )
                for name, samples in part.items():
                    got[name] += samples
            per_case[case.label] = {name: percentiles(s) for name, s in got.items()}
            for name, samples in got.items():
                pooled[name] += samples
    finally:
        store.close()
    figures = {name: percentiles(s) for name, s in pooled.items()}
    out: dict[str, Any] = {
        "target_p95_ms_max": TARGET_SEARCH_MS,
        "elasticsearch_request_cache": "cleared before every timed request",
        "all_cases": figures,
        "ratio_api_vs_raw_es": ratio(figures["api"], figures["raw_es"]),
    }
    if with_page:
        worst = max(figures["console"]["p95_ms"], figures["console_htmx"]["p95_ms"])
        out["met"] = worst <= TARGET_SEARCH_MS
        out["console_htmx_is"] = (
            "the same search as htmx asks it when the query or range changes (HX-Target: workspace: results and histogram only)"
        )
        out["ratio_console_vs_api"] = ratio(figures["console"], figures["api"])
        out["ratio_console_htmx_vs_api"] = ratio(figures["console_htmx"], figures["api"])
        out["ratio_console_vs_raw_es"] = ratio(figures["console"], figures["raw_es"])
    else:
        out["console"] = "skipped: the audit search page is not in this tree yet"
    out["console_requests"] = labels(pages.audit_workload(cases[0]).console)
    out["api_calls"] = labels(pages.audit_workload(cases[0]).api)
    out["per_case"] = per_case
    return out


def lighthouse(platform: ConsolePlatform, cookie: str, runs: int) -> dict[str, Any]:
    """The three pages' Lighthouse scores (bench/console_lighthouse.py), medians of ``runs``."""

    def once(url: str, cookie: str | None) -> dict[str, Any]:
        """One run; Lighthouse's own trace errors (NO_NAVSTART, ...) get a second try."""
        try:
            return dict(lh.run_lighthouse(url, cookie=cookie))
        except RuntimeError:
            return dict(lh.run_lighthouse(url, cookie=cookie))

    with lh.reference_site() as url:
        reference = _median([once(url, None) for _ in range(runs)])
    out: dict[str, Any] = {"preset": "desktop", "targets": TARGET_LIGHTHOUSE, "pages": {}}
    out["reference_static_page"] = reference
    for name, path, public in pages.lighthouse_pages():
        probe = httpx.get(platform.base + path, headers={"Cookie": cookie}, timeout=60)
        if probe.status_code == 404:
            out["pages"][name] = {"skipped": f"{path} is not in this tree yet"}
            continue
        url = platform.base + path
        try:
            got = _median([once(url, None if public else cookie) for _ in range(runs)])
        except RuntimeError as failed:
            out["pages"][name] = {"path": path, "error": str(failed)[:1000]}
            continue
        got["met"] = all(got[k] >= v for k, v in TARGET_LIGHTHOUSE.items())
        out["pages"][name] = {"path": path, **got}
    return out


def _median(results: list[dict[str, Any]]) -> dict[str, Any]:
    numbers = ("performance", "accessibility", "fcp_ms", "lcp_ms", "tbt_ms")
    ordered = {k: sorted(r[k] for r in results) for k in numbers}
    return {
        **{k: v[len(v) // 2] for k, v in ordered.items()},
        "accessibility_failed_audits": sorted(
            {a for r in results for a in r["accessibility_failed_audits"]}
        ),
        "runs": [{k: r[k] for k in numbers} for r in results],
    }


async def _timed_sections(
    platform: ConsolePlatform, cookie: str, token: BearerToken, args: argparse.Namespace
) -> dict[str, Any]:
    sides = Sides(platform, cookie, token)
    try:
        await sides.start()
        out = {
            "server_time": await server_time(sides, args.reps),
            "audit_search": await audit_search(sides, args.events, args.search_reps),
        }
        if args.profile_reps:
            out["where_the_time_goes"] = await _profile(platform, sides, args.profile_reps)
        return out
    finally:
        await sides.close()


async def _profile(platform: ConsolePlatform, sides: Sides, reps: int) -> dict[str, Any]:
    """The signed-in pages and their API calls under cProfile, in this process."""
    sides.fresh_token()
    cookie = {"Cookie": str(sides.console.headers["Cookie"]), "X-CSRF-Token": sides.csrf}
    bearer = {"Authorization": str(sides.api.headers["Authorization"])}
    chosen: dict[str, tuple[Steps, dict[str, str]]] = {}
    workloads = [pages.overview(()), pages.audit_workload(pages.SERVER_TIME_CASE)]
    for workload in workloads:
        if not await page_exists(sides.console, workload.console):
            continue
        chosen[f"{workload.name}: console page"] = (workload.console, cookie)
        chosen[f"{workload.name}: its API calls"] = (workload.api, bearer)
    if sides.floor:
        chosen["console floor (403 page)"] = (pages.signed_in_floor(sides.floor), cookie)
    found = await profile_sides(platform.env, platform.state, chosen, reps)
    return {
        "how": "a second instance of the app in the bench process (its own audit spool), each "
        "side sent through httpx.ASGITransport under cProfile; the main thread only (work "
        "in worker threads, e.g. Elasticsearch requests, shows as waiting)",
        "reps": reps,
        **found,
    }


def _machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "python": host.python_version(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--reps", type=int, default=200, help="per page, server time")
    parser.add_argument("--search-reps", type=int, default=10, help="per query and time range")
    parser.add_argument("--lighthouse-runs", type=int, default=3)
    parser.add_argument("--skip-lighthouse", action="store_true")
    parser.add_argument("--profile-reps", type=int, default=50, help="0: no profile")
    args = parser.parse_args()
    result: dict[str, Any] = {"machine_at_start": _machine(), "person": PERSON}
    result["audit_index"] = ensure_loaded(args.events)
    try:
        with demo_platform(server_env(args.events)) as platform:
            cookie = session_cookie(platform, PERSON)
            token = BearerToken(platform, PERSON)
            # Playwright's sync API holds this thread's event loop: the timing gets a thread.
            with concurrent.futures.ThreadPoolExecutor(1) as pool:
                timed = pool.submit(asyncio.run, _timed_sections(platform, cookie, token, args))
                result |= timed.result()
            if not args.skip_lighthouse:
                try:
                    result["lighthouse"] = lighthouse(platform, cookie, args.lighthouse_runs)
                except RuntimeError as failed:  # the timed figures are kept
                    result["lighthouse"] = {"error": str(failed)[:2000]}
    except AssertionError as failed:  # the platform found errors in the server's log
        result["platform_check_failed"] = str(failed)[:2000]
    result["machine_at_end"] = _machine()
    print(json.dumps(result, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
