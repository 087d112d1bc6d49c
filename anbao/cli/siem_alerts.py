"""``anbao siem alerts list|show|ack|close|assign|note`` and ``anbao siem actions list|approve|reject``.

Operator commands on the configured alert store (``[siem]`` settings). Every change is recorded
in the audit trail through the service's spool, as the HTTP API does. A change is attributed to
the person whose access token is given (``--token`` or ``ANBAO_TOKEN``, verified like the API's,
:mod:`anbao.cli.identity`), never to a typed name or the OS login; the roles, the org scope and
the four-eyes rule on actions are the API's.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import click

from anbao.audit_wiring import spool_config
from anbao.cli.identity import Operator, authenticate, token_option
from anbao.cli.stores import require_alerts
from anbao.settings import Settings, SettingsError
from anbao.siem_alerts_wiring import SiemAlerts, build_siem_alerts
from audit.errors import AuditError
from audit.recorder import Recorder
from audit.spool import Spool
from siem.alerts import Change
from siem.alerts_codec import to_document
from siem.alerts_errors import ActionNotFound, AlertError, AlertNotFound
from siem.alerts_links import audit_links
from siem.alerts_model import Alert, AlertStatus, CloseReason
from siem.resources import DECIDE, TRIAGE, alert_filter
from siem.responses_model import ActionFilter, ActionRecord, ActionState

T = TypeVar("T")


def _settings() -> Settings:
    try:
        return Settings.load(os.environ)
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from exc


def _operator(token: str | None, roles: frozenset[str]) -> Operator:
    return authenticate(_settings(), token, roles)


@contextlib.contextmanager
def _siem() -> Iterator[SiemAlerts]:
    settings = _settings()
    require_alerts(settings)
    spool = Spool(spool_config(settings))
    recorder = Recorder(spool)
    registry = None
    if settings.seals.enabled and settings.siem.responses_enabled:
        from anbao.seal_wiring import build_seal_registry  # noqa: PLC0415 - only with seals on

        registry = build_seal_registry(settings, recorder, lambda: dt.datetime.now(dt.UTC))
    built = build_siem_alerts(
        settings,
        recorder=recorder,
        registry=registry,
        clock=lambda: dt.datetime.now(dt.UTC),
        notifiers=(),
    )
    try:
        yield built
    finally:
        built.close()
        if registry is not None:
            registry.close()
        recorder.close()
        spool.close()


def _run(call: Callable[[SiemAlerts], T]) -> T:
    with _siem() as built:
        try:
            return call(built)
        except (AlertError, AuditError) as exc:
            raise click.ClickException(f"{exc.detail} [{exc.code}]") from exc


def _line(alert: Alert) -> str:
    who = alert.assignee or "-"
    return (
        f"{alert.id}  {alert.status.value:<12} {alert.severity.value:<8} {alert.count:>4}x "
        f"{alert.rule_title} ({alert.entity_text}) last {alert.last_event_time:%Y-%m-%d %H:%M}Z "
        f"[{who}]"
    )


def _show(alert: Alert) -> None:
    click.echo(json.dumps(to_document(alert) | {"links": audit_links(alert)}, indent=2))


@click.group("alerts")
def alerts() -> None:
    """Triage alerts: list, show, acknowledge, close, assign, annotate."""


@alerts.command("list")
@click.option("--status", help="open,acknowledged,closed (comma-separated)")
@click.option("--severity", help="informational,low,medium,high,critical")
@click.option("--rule", help="rule id")
@click.option("--assignee")
@click.option("--since", help="RFC 3339 time (last event at or after)")
@click.option("--until", help="RFC 3339 time (last event before)")
@click.option("--entity", help="field=value, or a bare value")
@click.option("--tag")
@click.option("--limit", default="50", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per alert.")
def list_alerts(as_json: bool, **params: str | None) -> None:
    """Alerts, newest last event first."""

    def call(built: SiemAlerts) -> None:
        page = built.alerts.list(alert_filter(params.get))
        for alert in page.alerts:
            click.echo(json.dumps(to_document(alert)) if as_json else _line(alert))
        if not as_json:
            click.echo(f"{len(page.alerts)} of {page.total} alert(s)")

    _run(call)


@alerts.command("show")
@click.argument("alert_id")
def show(alert_id: str) -> None:
    """One alert as JSON, with the audit query for its events."""
    _show(_run(lambda b: b.alerts.get(alert_id)))


def _update(alert_id: str, token: str | None, change: Change) -> None:
    who = _operator(token, TRIAGE)
    scope = who.scope.filter_path
    alert = _run(lambda b: b.alerts.update(alert_id, who.name, change, scope))
    click.echo(_line(alert))


@alerts.command("ack")
@click.argument("alert_id")
@token_option
def ack(alert_id: str, token: str | None) -> None:
    """open -> acknowledged."""
    _update(alert_id, token, Change(status=AlertStatus.ACKNOWLEDGED))


@alerts.command("close")
@click.argument("alert_id")
@click.option("--reason", required=True, type=click.Choice([r.value for r in CloseReason]))
@token_option
def close(alert_id: str, reason: str, token: str | None) -> None:
    """Close with a reason."""
    _update(alert_id, token, Change(status=AlertStatus.CLOSED, reason=CloseReason(reason)))


@alerts.command("assign")
@click.argument("alert_id")
@click.argument("assignee")
@token_option
def assign(alert_id: str, assignee: str, token: str | None) -> None:
    """Set the assignee ('' to unassign)."""
    _update(alert_id, token, Change(assignee=assignee))


@alerts.command("note")
@click.argument("alert_id")
@click.argument("text")
@token_option
def note(alert_id: str, text: str, token: str | None) -> None:
    """Append a note (author and time recorded)."""
    who = _operator(token, TRIAGE)
    scope = who.scope.filter_path
    alert = _run(lambda b: b.alerts.add_note(alert_id, who.name, text, scope))
    click.echo(f"{alert.id}: {len(alert.notes)} note(s)")


@click.group("actions")
def actions() -> None:
    """Response actions: list, approve (four-eyes), reject."""


def _responses(built: SiemAlerts) -> Any:
    if built.responses is None:
        raise click.ClickException("response actions are off (siem.responses_enabled = false)")
    return built.responses


def _action_line(a: ActionRecord) -> str:
    return (
        f"{a.id}  {a.state.value:<9} {a.kind.value:<13} {a.target_field}={a.target} "
        f"alert {a.alert_id[:12]} by {a.requested_by}"
        + (f", decided by {a.decided_by}" if a.decided_by else "")
        + (f" ({a.result or a.error})" if a.result or a.error else "")
    )


@actions.command("list")
@click.option("--state", type=click.Choice([s.value for s in ActionState]))
@click.option("--alert", "alert_id", default="")
def list_actions(state: str | None, alert_id: str) -> None:
    """Actions, newest first."""
    states = (ActionState(state),) if state else ()
    found = _run(lambda b: _responses(b).list(ActionFilter(states=states, alert_id=alert_id)))
    for a in found:
        click.echo(_action_line(a))


def _decide(
    action_id: str, token: str | None, decide: Callable[[Any, Operator], ActionRecord]
) -> None:
    """As the API: the token's user decides, on an action whose alert is in their scope."""
    who = _operator(token, DECIDE)

    def call(built: SiemAlerts) -> ActionRecord:
        responses = _responses(built)
        try:
            built.alerts.get(responses.get(action_id).alert_id, who.scope.filter_path)
        except AlertNotFound:
            raise ActionNotFound(f"no action {action_id[:64]!r}") from None
        return decide(responses, who)

    click.echo(_action_line(_run(call)))


@actions.command("approve")
@click.argument("action_id")
@token_option
def approve(action_id: str, token: str | None) -> None:
    """Approve a pending action (not your own request) and run it."""
    _decide(action_id, token, lambda r, who: r.approve(action_id, who.name, actor_id=who.subject))


@actions.command("reject")
@click.argument("action_id")
@click.option("--reason", required=True)
@token_option
def reject(action_id: str, reason: str, token: str | None) -> None:
    """Reject a pending action with a reason."""
    _decide(
        action_id,
        token,
        lambda r, who: r.reject(action_id, who.name, reason, actor_id=who.subject),
    )


def attach(group: click.Group) -> None:
    """Add ``alerts`` and ``actions`` to ``anbao siem``."""
    group.add_command(alerts)
    group.add_command(actions)
