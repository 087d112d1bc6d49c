"""``anbao audit search|export|proof|reveal``: the audit trail as a person, through the API.

The commands call Anbao's API as the person signed in (:mod:`anbao.cli.api`: the ``anbao
login`` session, or ``--token``/``ANBAO_TOKEN``), so the same rules apply as in the browser:
only ``security-analyst`` and ``auditor`` may search, an org-level auditor sees its subtree,
sensitive fields stay masked, and the server records the export. The query language is
documented in docs/audit-search.md. ``export`` streams to a file with a progress bar on stderr;
memory stays one chunk whatever the size of the export. ``proof`` fetches an event's inclusion
proof (RFC 6962) for an auditor to check; ``reveal`` decrypts an event's sensitive fields, which
the server allows only to its role after a step-up sign-in and records with the reason given.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import click
import httpx

from anbao.cli.api import ApiClient, api_options, client, print_json, segment


def _common(fn: Any) -> Any:
    options = [
        api_options,
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
    api_url: str | None,
    token: str | None,
    time_from: str | None,
    time_to: str | None,
    sort: str | None,
    limit: int,
    fmt: str,
) -> None:
    """Search audit events with QUERY (e.g. 'event.action:login AND event.outcome:failure')."""
    with client(api_url, token) as api:
        printed = 0
        for event in _events(api, _params(query, time_from, time_to, sort), limit):
            click.echo(json.dumps(event, ensure_ascii=False) if fmt == "ndjson" else _row(event))
            printed += 1
    click.echo(f"{printed} event(s)", err=True)


def _events(api: ApiClient, params: dict[str, str], limit: int) -> Iterator[dict[str, Any]]:
    """Follow ``search_after`` until ``limit`` events or the end of the results."""
    remaining = limit
    while remaining > 0:
        page = api.call("GET", "/audit/events", params={**params, "size": min(remaining, 1000)})
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
    api_url: str | None,
    token: str | None,
    time_from: str | None,
    time_to: str | None,
    sort: str | None,
    fmt: str,
    output: Path,
) -> None:
    """Export every event matching QUERY as CSV or NDJSON, with a progress bar."""
    params = _params(query, time_from, time_to, sort)
    with client(api_url, token) as api:
        total = api.call("GET", "/audit/events", params={**params, "size": 1})["total"]
        length = total["value"] if total["relation"] == "eq" else None
        with api.stream("GET", "/audit/export", params={**params, "format": fmt}) as response:
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


@click.command("proof")
@click.argument("event_id")
@api_options
def proof(event_id: str, api_url: str | None, token: str | None) -> None:
    """An event's inclusion proof under the latest signed tree head (JSON)."""
    with client(api_url, token) as api:
        print_json(api.call("GET", f"/audit/events/{segment(event_id)}/proof"))


@click.command("reveal")
@click.argument("event_id")
@click.option("--reason", required=True, help="Why you need the personal data (recorded).")
@click.option("--field", "fields", multiple=True, help="Only this field (repeatable).")
@api_options
def reveal(
    event_id: str, reason: str, fields: tuple[str, ...], api_url: str | None, token: str | None
) -> None:
    """Decrypt an event's sensitive fields; the access is recorded under you with the reason."""
    body = {"reason": reason, "fields": list(fields)}
    with client(api_url, token) as api:
        print_json(api.call("POST", f"/audit/events/{segment(event_id)}/reveal", body=body))


COMMANDS = (search, export, proof, reveal)
