"""``anbao audit search|export``: query the audit trail through the API, as an analyst.

The commands call the running service with the analyst's own bearer token (``--token`` or
``ANBAO_TOKEN``), so the same rules apply as in the browser: only ``security-analyst`` and
``auditor`` may search, an org-level auditor sees its subtree, sensitive fields stay masked.
The query language is documented in docs/audit-search.md. ``export`` streams to a file with a
progress bar on stderr; memory stays one chunk whatever the size of the export.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import click
import httpx

_TIMEOUT = httpx.Timeout(30.0, read=300.0)


def client(url: str, token: str) -> httpx.Client:
    """The HTTP client of both commands (tests swap in a transport to the in-process app)."""
    return httpx.Client(
        base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=_TIMEOUT
    )


def _common(fn: Any) -> Any:
    options = [
        click.option(
            "--url",
            envvar="ANBAO_URL",
            default="http://127.0.0.1:8000",
            show_default=True,
            help="Anbao API base URL.",
        ),
        click.option(
            "--token", envvar="ANBAO_TOKEN", required=True, help="Bearer token (or ANBAO_TOKEN)."
        ),
        click.option("--from", "time_from", help="Start (inclusive): ISO 8601 or now-24h."),
        click.option("--to", "time_to", help="End (exclusive): ISO 8601 or now."),
        click.option("--sort", help="field[:asc|desc],... (default @timestamp:desc)."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return click.argument("query", required=False, default="")(fn)


def _params(
    query: str, time_from: str | None, time_to: str | None, sort: str | None
) -> dict[str, str]:
    raw = {"q": query, "from": time_from, "to": time_to, "sort": sort}
    return {k: v for k, v in raw.items() if v}


def _fail(response: httpx.Response) -> None:
    """Print the API's problem document (with the query position) and exit 2."""
    try:
        problem = response.json()
    except ValueError:
        problem = {"status": response.status_code, "title": response.reason_phrase}
    detail = problem.get("detail") or problem.get("title") or "request failed"
    click.echo(f"error {problem.get('status', response.status_code)}: {detail}", err=True)
    if "position" in problem:
        click.echo(f"  at position {problem['position']}", err=True)
    sys.exit(2)


@click.command("search")
@_common
@click.option(
    "--limit",
    type=click.IntRange(1, 1_000_000),
    default=100,
    show_default=True,
    help="Events to print at most.",
)
@click.option(
    "--format", "fmt", type=click.Choice(["ndjson", "table"]), default="table", show_default=True
)
def search(
    *,
    query: str,
    url: str,
    token: str,
    time_from: str | None,
    time_to: str | None,
    sort: str | None,
    limit: int,
    fmt: str,
) -> None:
    """Search audit events with QUERY (e.g. 'event.action:login AND event.outcome:failure')."""
    with client(url, token) as http:
        printed = 0
        for event in _events(http, _params(query, time_from, time_to, sort), limit):
            click.echo(json.dumps(event, ensure_ascii=False) if fmt == "ndjson" else _row(event))
            printed += 1
    click.echo(f"{printed} event(s)", err=True)


def _events(http: httpx.Client, params: dict[str, str], limit: int) -> Iterator[dict[str, Any]]:
    """Follow ``search_after`` until ``limit`` events or the end of the results."""
    remaining = limit
    while remaining > 0:
        response = http.get("/audit/events", params={**params, "size": str(min(remaining, 1000))})
        if not response.is_success:
            _fail(response)
        page = response.json()
        yield from page["events"][:remaining]
        remaining -= len(page["events"])
        if not page["search_after"]:
            return
        params = {**params, "search_after": page["search_after"]}


def _row(event: dict[str, Any]) -> str:
    def get(dotted: str) -> str:
        node: Any = event
        for part in dotted.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        return "" if node is None else str(node)

    fields = (
        "@timestamp",
        "event.outcome",
        "event.action",
        "user.name",
        "source.ip",
        "organization.path",
    )
    return "  ".join(get(f) for f in fields)


@click.command("export")
@_common
@click.option(
    "--format", "fmt", type=click.Choice(["csv", "ndjson"]), default="ndjson", show_default=True
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    required=True,
    help="File to write ('-' for stdout).",
)
def export(
    *,
    query: str,
    url: str,
    token: str,
    time_from: str | None,
    time_to: str | None,
    sort: str | None,
    fmt: str,
    output: Path,
) -> None:
    """Export every event matching QUERY as CSV or NDJSON, with a progress bar."""
    params = _params(query, time_from, time_to, sort)
    with client(url, token) as http:
        first = http.get("/audit/events", params={**params, "size": "1"})
        if not first.is_success:
            _fail(first)
        total = first.json()["total"]
        length = total["value"] if total["relation"] == "eq" else None
        with http.stream("GET", "/audit/export", params={**params, "format": fmt}) as response:
            if not response.is_success:
                response.read()
                _fail(response)
            target = sys.stdout.buffer if str(output) == "-" else output.open("wb")
            try:
                written = _copy(response, target, fmt, length)
            finally:
                if target is not sys.stdout.buffer:
                    target.close()
    click.echo(f"{written} event(s) exported", err=True)


def _copy(response: httpx.Response, target: IO[bytes], fmt: str, length: int | None) -> int:
    """Write the stream, advancing the bar by records (one line each, the CSV header aside).

    Over 10,000 matches the API gives a lower bound only: then a running count replaces the bar.
    """
    records = -1 if fmt == "csv" else 0
    if length is None:
        for chunk in response.iter_bytes():
            target.write(chunk)
            records += chunk.count(b"\n")
            click.echo(f"\rexporting: {max(records, 0)} event(s)", nl=False, err=True)
        click.echo("", err=True)
        return max(records, 0)
    with click.progressbar(length=length, label="exporting", file=sys.stderr, show_pos=True) as bar:
        for chunk in response.iter_bytes():
            target.write(chunk)
            count = chunk.count(b"\n")
            records += count
            bar.update(count)
    return max(records, 0)


COMMANDS = (search, export)
