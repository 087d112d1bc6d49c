"""axe-core in a console page: no serious or critical violation (issue 19, Quality).

axe-core comes from the file beside this module (``axe.min.js``, built by ``make
console-assets`` from the pinned package, never served by Anbao). The console's CSP allows only
``script-src 'self'``, so Playwright's ``add_script_tag(path=...)`` cannot load it: it inserts an
*inline* ``<script>``, which the page's policy refuses ("Executing inline script violates ...").
Its source goes through ``page.evaluate`` instead: DevTools-protocol evaluation is not subject to
the page's CSP, so the test runs with the policy the console really sends (no ``bypass_csp``,
which would also hide the policy's own faults from the tests).

Only ``serious`` and ``critical`` findings fail (the issue's bar); ``moderate`` and ``minor``
ones are for :func:`axe_violations`' callers to report if they want.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from playwright.sync_api import Page

AXE = Path(__file__).with_name("axe.min.js")
BLOCKING = ("critical", "serious")


@functools.cache
def _axe_source() -> str:
    return AXE.read_text(encoding="utf-8")


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's violations in the page as it is now (all rules axe runs by default)."""
    if not page.evaluate("typeof window.axe === 'object'"):
        page.evaluate(_axe_source())
    violations: list[dict[str, Any]] = page.evaluate(
        "axe.run(document, {resultTypes: ['violations']}).then(r => r.violations)"
    )
    return violations


def _summary(text: str) -> str:
    """axe's failure summary on one line: "Fix any of the following: a; b" (it lists each
    check on a line of its own under a heading ending in a colon)."""
    out = ""
    for line in filter(None, (line.strip() for line in text.splitlines())):
        if out:
            out += " " if out.endswith(":") else "; "
        out += line
    return out


def describe(url: str, violations: list[dict[str, Any]]) -> str:
    """One block per rule: impact, id, help and its link, then each failing node's selector."""
    lines = [f"axe-core: {len(violations)} serious or critical violation(s) in {url}"]
    for violation in violations:
        lines.append(
            f"- {violation['impact']} {violation['id']}: {violation['help']} ({violation['helpUrl']})"
        )
        for node in violation["nodes"]:
            # A target is a list of selectors: one per frame or shadow root crossed.
            target = " >> ".join(str(part) for part in node["target"])
            summary = _summary(str(node.get("failureSummary") or ""))
            lines.append(f"    {target}: {summary}" if summary else f"    {target}")
    return "\n".join(lines)


def assert_accessible(page: Page) -> None:
    """Fail with a readable list if axe finds a serious or critical violation in ``page``."""
    blocking = [v for v in axe_violations(page) if v.get("impact") in BLOCKING]
    if blocking:
        raise AssertionError(describe(page.url, blocking))
