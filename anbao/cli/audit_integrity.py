"""``anbao audit verify|heads|sign-heads|rotate-field-key``: operator commands.

They work on the platform's own files (the audit store, the tamper-evidence log, the signing
key, the field keyring) with the server's settings, as the person who runs the platform: an
independent check of the store must not ask the server it checks. People read heads and proofs
through the API (``GET /audit/heads``, ``anbao audit proof``).

``verify`` exits 0 when the store matches the signed tree heads, 1 when tampering was found
(the report names every modified, deleted, inserted or reordered event), 2 on a usage or
configuration error. The report is JSON on stdout; a one-line summary goes to stderr. Every
verdict is also recorded as an ``audit.verify`` event (outcome failure on tampering: the
``audit_verify_failed`` detection) into the service's spool, which the running service ships.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import typing
from pathlib import Path

import click

from anbao.cli.serve import load_settings
from anbao.cli.stores import require, require_audit
from anbao.settings import Environment, Settings
from anbao.wiring.audit import build_audit_store, spool_recorder
from anbao.wiring.audit_integrity import build_audit_integrity, integrity_location
from anbao.wiring.elasticsearch import es_connection
from audit.errors import AuditError
from audit.integrity.elasticsearch import RawReader, WithRawScan
from audit.integrity.model import SignedTreeHead, VerifyReport
from audit.integrity.sqlite_raw import SqliteRawReader, WithSqliteRawScan
from audit.model import EventKind, Outcome
from audit.ports import AuditStore
from audit.sensitive.masking import Keyring, SensitiveDataError
from audit.stores.elasticsearch import ElasticsearchAuditStore
from audit.stores.es_client import elasticsearch_client
from audit.stores.sqlite import SqliteAuditStore
from crypto.errors import CryptoError


def _bound(value: str | None, name: str) -> tuple[int | None, int | None]:
    """``(sequence, epoch ms)``: an integer is a sequence number, anything else a date-time."""
    if value is None:
        return None, None
    if value.isdigit():
        return int(value), None
    try:
        when = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(
            "a sequence number or an ISO 8601 date-time", param_hint=name
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return None, int(when.timestamp() * 1000)


def _anchors(path: Path | None) -> list[SignedTreeHead]:
    if path is None:
        return []
    lines = path.read_text("utf-8").splitlines()
    return [SignedTreeHead.from_json(json.loads(line)) for line in lines if line.strip()]


def _summary(report: VerifyReport) -> str:
    parts = []
    for s in report.streams:
        counts: dict[str, int] = {}
        for f in s.findings:
            counts[f.kind.value] = counts.get(f.kind.value, 0) + 1
        found = ", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "no findings"
        parts.append(f"{s.stream}: {s.checked_events} events, signed {s.signed_size}: {found}")
    return ("OK  " if report.ok else "TAMPERING  ") + "; ".join(parts)


def _verifiable(settings: Settings, store: AuditStore) -> AuditStore:
    """Read stored bytes, not parsed copies (:mod:`audit.integrity.elasticsearch`,
    :mod:`audit.integrity.sqlite_raw`): same verdict, a fraction of the work."""
    if isinstance(store, SqliteAuditStore):
        return typing.cast(AuditStore, WithSqliteRawScan(store, SqliteRawReader(store.path)))
    if not isinstance(store, ElasticsearchAuditStore):
        return store
    connection = es_connection(settings)
    client = elasticsearch_client(connection, timeout=max(connection.timeout, 60.0), raw=True)
    return typing.cast(AuditStore, WithRawScan(store, RawReader(client, store.pattern)))


@click.command("verify")
@click.option("--from", "from_", metavar="SEQ|TIME", help="First sequence number or date-time.")
@click.option("--to", metavar="SEQ|TIME", help="End (exclusive) sequence number or date-time.")
@click.option("--stream", "streams", multiple=True, help="Only these streams (repeatable).")
@click.option(
    "--anchor",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="NDJSON of heads exported earlier (GET /audit/heads?format=ndjson), checked too.",
)
def verify(
    from_: str | None, to: str | None, streams: tuple[str, ...], anchor: Path | None
) -> None:
    """Operator command: prove the audit store matches the signed tree heads; name every difference."""
    start, time_from = _bound(from_, "--from")
    stop, time_to = _bound(to, "--to")
    settings = load_settings()
    require_audit(settings)
    try:
        store = _verifiable(settings, build_audit_store(settings))
        integrity = build_audit_integrity(settings, lambda: dt.datetime.now(dt.UTC).timestamp())
        report = integrity.verify(
            store,
            streams=streams or None,
            start=start or 0,
            stop=stop,
            time_from_ms=time_from,
            time_to_ms=time_to,
            anchors=_anchors(anchor),
        )
    except (AuditError, CryptoError) as exc:
        click.echo(f"anbao audit verify: {exc.detail}", err=True)
        sys.exit(2)
    click.echo(json.dumps(report.to_json(), indent=2, ensure_ascii=False))
    click.echo(_summary(report), err=True)
    _record_verdict(settings, report)
    sys.exit(0 if report.ok else 1)


def _record_verdict(settings: Settings, report: VerifyReport) -> None:
    """``audit.verify`` into the audit trail: findings per kind, the summary as the reason."""
    counts: dict[str, int] = {}
    for s in report.streams:
        for f in s.findings:
            counts[f.kind.value] = counts.get(f.kind.value, 0) + 1
    try:
        with spool_recorder(settings) as recorder:
            recorder.record(
                "audit.verify",
                Outcome.SUCCESS if report.ok else Outcome.FAILURE,
                kind=EventKind.EVENT if report.ok else EventKind.ALERT,
                category=("configuration",),
                type=("info",),
                reason=_summary(report)[:1024],
                labels={
                    "streams": ",".join(s.stream for s in report.streams)[:1024],
                    **{f"findings_{kind}": str(n) for kind, n in sorted(counts.items())},
                },
                stream="system",
            )
    except AuditError as exc:  # the verdict stands; say that it is not in the trail
        click.echo(f"anbao audit verify: the verdict was not recorded: {exc.detail}", err=True)


@click.command("heads")
@click.option("--stream", default=None, help="Only this stream.")
def heads(stream: str | None) -> None:
    """Operator command: print every signed tree head as NDJSON (for off-site anchoring)."""
    settings = load_settings()
    require(*integrity_location(settings))
    integrity = build_audit_integrity(settings, lambda: dt.datetime.now(dt.UTC).timestamp())
    for line in integrity.export_heads(stream):
        click.echo(line, nl=False)


@click.command("sign-heads")
@click.option(
    "--stream",
    "streams",
    multiple=True,
    help="Only these streams, whichever node wrote them (a node that is gone for good).",
)
def sign_heads(streams: tuple[str, ...]) -> None:
    """Operator command: sign a tree head now for every stream with unsigned events (in a
    cluster: every stream this node writes, or the named ones)."""
    settings = load_settings()
    require(*integrity_location(settings))
    integrity = build_audit_integrity(settings, lambda: dt.datetime.now(dt.UTC).timestamp())
    for stream in streams or integrity.own_streams():
        last = integrity.latest_head(stream)
        if integrity.log.size(stream) > (last.size if last else 0):
            head = integrity.issue(stream)
            click.echo(json.dumps(head.to_json()))


@click.command("rotate-field-key")
def rotate_field_key() -> None:
    """Operator command: add a new active SM4 key for sensitive fields; old keys stay for decryption."""
    settings = load_settings()
    path = Path(settings.audit_integrity.field_keyring_file)
    development = settings.environment is Environment.DEVELOPMENT
    try:
        ring = Keyring.load(path).rotate() if path.exists() or not development else None
    except SensitiveDataError as exc:
        click.echo(f"anbao audit rotate-field-key: {exc.detail}", err=True)
        sys.exit(2)
    ring = ring or Keyring.generate()
    ring.save(path)
    click.echo(json.dumps({"active": ring.active, "keys": sorted(ring.keys)}))


COMMANDS = (verify, heads, sign_heads, rotate_field_key)
