"""Lighthouse on console pages: performance and accessibility scores, FCP, LCP, TBT.

Prints JSON. Issue 19 asks the overview, audit search and seal verification pages to score
performance >= 90 and accessibility >= 95. Lighthouse is npm's ``lighthouse`` (12.x, the last
major that runs on Node 20), pinned by ``bench/lighthouse/package-lock.json`` and installed by
``npm ci`` once into a cache folder outside the repository, keyed by the lockfile's hash; it
drives Debian's Chromium (never a downloaded browser), headless, with no background traffic.

The desktop preset: the console's people (analysts, auditors, compliance officers, org admins)
work at office desktops on the province's wired government network, with 1440x900 screens (the
issue's screenshots). Lighthouse's default mobile run emulates a mid-range phone on slow 4G
(4x CPU slowdown, 150 ms RTT, 1.6 Mbit/s), a device the console does not serve; the desktop
preset's simulated link (40 ms RTT, 10 Mbit/s, no CPU slowdown, a 1350x940 screen) is a fair
stand-in for a county office reaching the provincial data centre, and its scoring curves are
the stricter ones (a good LCP is 1.2 s, not 2.5 s).

The reference, measured in the same run, is a small static page (HTML and one stylesheet, the
console's CSP) served from this process: the best this machine and Lighthouse give. Each URL's
figures are medians of ``--runs`` runs (Lighthouse's scores move a few points between runs),
every run listed. The session cookie goes to Lighthouse in a file, not on its command line.

    python -m bench.console_lighthouse [URL ...] [--cookie 'anbao_session=...'] [--runs 3]
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import functools
import hashlib
import http.server
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "bench" / "lighthouse"
CHROME_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
METRICS = {
    "fcp_ms": "first-contentful-paint",
    "lcp_ms": "largest-contentful-paint",
    "tbt_ms": "total-blocking-time",
}
CSP = "default-src 'self'; script-src 'self'; style-src 'self'; frame-ancestors 'none'"
REFERENCE_HTML = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>安保控制台</title><link rel="stylesheet" href="/site.css"></head>
<body><main><h1>安保控制台</h1><p>省级数字政府安全与身份保障平台。</p></main></body></html>
"""
REFERENCE_CSS = "body { font-family: sans-serif; margin: 2rem; color: #222; }\n"


def _cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "anbao" / "npm"


def lighthouse_bin() -> Path:
    """Lighthouse installed by ``npm ci`` from the pinned lockfile, once per lockfile."""
    lock = (PACKAGE / "package-lock.json").read_bytes()
    work = _cache_root() / f"lighthouse-{hashlib.sha256(lock).hexdigest()[:16]}"
    binary = work / "node_modules" / ".bin" / "lighthouse"
    stamp = work / ".installed"
    work.mkdir(parents=True, exist_ok=True)
    with (work / ".lock").open("w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # two benches at once install once
        if not stamp.exists():
            for name in ("package.json", "package-lock.json"):
                shutil.copy(PACKAGE / name, work / name)
            subprocess.run(
                ["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"],
                cwd=work,
                check=True,
            )
            stamp.touch()
    return binary


def _score(report: dict[str, Any], category: str) -> float:
    score = report["categories"][category]["score"]
    if score is None:
        raise RuntimeError(f"lighthouse gave no {category} score: {report.get('runtimeError')}")
    return round(float(score) * 100, 1)


def run_lighthouse(url: str, *, cookie: str | None, chrome: str = "/usr/bin/chromium") -> dict:
    """One Lighthouse run (desktop preset) of ``url``, with ``cookie`` as the Cookie header.

    Returns the performance and accessibility scores (0-100), FCP, LCP and TBT in
    milliseconds, and the accessibility audits that failed (their ids), to know what to fix.
    """
    binary = lighthouse_bin()
    with tempfile.TemporaryDirectory(prefix="anbao-lighthouse-") as tmp:
        out = Path(tmp) / "report.json"
        argv = [
            str(binary),
            url,
            "--quiet",
            "--preset=desktop",
            "--only-categories=performance,accessibility",
            "--output=json",
            f"--output-path={out}",
            f"--chrome-flags={' '.join(CHROME_FLAGS)}",
        ]
        if cookie:
            headers = Path(tmp) / "headers.json"
            headers.touch(mode=0o600)
            headers.write_text(json.dumps({"Cookie": cookie}))
            argv.append(f"--extra-headers={headers}")
        env = {**os.environ, "CHROME_PATH": chrome}
        done = subprocess.run(
            argv, check=False, env=env, capture_output=True, text=True, timeout=300
        )
        if done.returncode or not out.exists():
            raise RuntimeError(f"lighthouse failed ({done.returncode}): {done.stderr[-2000:]}")
        report = json.loads(out.read_text())
    if report.get("runtimeError"):
        raise RuntimeError(f"lighthouse: {report['runtimeError']}")
    audits = report["audits"]
    failed = [
        ref["id"]
        for ref in report["categories"]["accessibility"]["auditRefs"]
        if ref["weight"] and audits[ref["id"]]["score"] not in (None, 1)
    ]
    return {
        "performance": _score(report, "performance"),
        "accessibility": _score(report, "accessibility"),
        **{key: round(float(audits[audit]["numericValue"]), 1) for key, audit in METRICS.items()},
        "accessibility_failed_audits": failed,
        "lighthouse": report["lighthouseVersion"],
        "chromium": report["environment"]["hostUserAgent"],
    }


class _Handler(http.server.SimpleHTTPRequestHandler):
    def end_headers(self) -> None:
        self.send_header("Content-Security-Policy", CSP)
        super().end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def reference_site() -> Iterator[str]:
    """The reference page, served from a temporary folder on a free loopback port."""
    with tempfile.TemporaryDirectory(prefix="anbao-lighthouse-site-") as tmp:
        (Path(tmp) / "index.html").write_text(REFERENCE_HTML, encoding="utf-8")
        (Path(tmp) / "site.css").write_text(REFERENCE_CSS, encoding="utf-8")
        handler = functools.partial(_Handler, directory=tmp)
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}/"
        finally:
            server.shutdown()
            server.server_close()
            thread.join()


def _median_of(url: str, runs: int, cookie: str | None, chrome: str) -> dict[str, Any]:
    results = [run_lighthouse(url, cookie=cookie, chrome=chrome) for _ in range(runs)]
    numbers = ["performance", "accessibility", *METRICS]
    return {
        "url": url,
        "lighthouse": results[0]["lighthouse"],
        "chromium": results[0]["chromium"],
        **{key: statistics.median(r[key] for r in results) for key in numbers},
        "accessibility_failed_audits": sorted(
            {a for r in results for a in r["accessibility_failed_audits"]}
        ),
        "runs": [{key: r[key] for key in numbers} for r in results],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("urls", nargs="*", help="console pages (none: the reference only)")
    parser.add_argument("--cookie", default=os.environ.get("ANBAO_CONSOLE_COOKIE"))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--chrome", default=os.environ.get("ANBAO_CHROMIUM", "/usr/bin/chromium"))
    args = parser.parse_args()
    with reference_site() as url:
        reference = _median_of(url, args.runs, None, args.chrome)
    pages = [_median_of(u, args.runs, args.cookie, args.chrome) for u in args.urls]
    print(
        json.dumps(
            {
                "preset": "desktop",
                "targets": {"performance": 90, "accessibility": 95},
                "reference_static_page": reference,
                "pages": pages,
            },
            indent=2,
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    main()
