"""``anbao siem alerts list|show|ack|close|assign|note`` and ``anbao siem actions list|approve|reject``.

A person triaging alerts and deciding response actions, through Anbao's API as that person
(:mod:`anbao.cli.api`): the server checks the token, the roles, the live org scope, the
session (high-risk routes) and the four-eyes rule on actions, and records every change in the
audit trail under the token's user. The CLI decides nothing itself; a refusal is the server's
problem document on one line (exit 1), an unreachable server exit 3.
"""

from __future__ import annotations

import json
from typing import Any

import click

from anbao.cli.api import api_options, client, print_json, segment
from siem.alerts.model import AlertStatus, CloseReason
from siem.responses.model import ActionState


def _line(alert: dict[str, Any]) -> str:
    who = alert.get("assignee") or "-"
    last = str(alert.get("last_event_time", ""))[:16].replace("T", " ")
    entity = ",".join(alert.get("entity_terms", []))
    rule = alert.get("rule", {}).get("title", "")
    return (
        f"{alert['id']}  {alert['status']:<12} {alert['severity']:<8} {alert['count']:>4}x "
        f"{rule} ({entity}) last {last}Z [{who}]"
    )


@click.group("alerts")
def alerts() -> None:
    """Triage alerts: list, show, acknowledge, close, assign, annotate (through the API)."""


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
@api_options
def list_alerts(as_json: bool, api_url: str | None, token: str | None, **params: str) -> None:
    """Alerts in your org scope, newest last event first."""
    with client(api_url, token) as api:
        page = api.call("GET", "/siem/alerts", params=params)
    for alert in page["alerts"]:
        click.echo(json.dumps(alert, ensure_ascii=False) if as_json else _line(alert))
    if not as_json:
        click.echo(f"{len(page['alerts'])} of {page['total']} alert(s)")


@alerts.command("show")
@click.argument("alert_id")
@api_options
def show(alert_id: str, api_url: str | None, token: str | None) -> None:
    """One alert as JSON, with the audit query for its events and its response actions."""
    with client(api_url, token) as api:
        print_json(api.call("GET", f"/siem/alerts/{segment(alert_id)}"))


def _update(alert_id: str, api_url: str | None, token: str | None, change: dict[str, Any]) -> None:
    with client(api_url, token) as api:
        alert = api.call("PATCH", f"/siem/alerts/{segment(alert_id)}", body=change)
    click.echo(_line(alert))


@alerts.command("ack")
@click.argument("alert_id")
@api_options
def ack(alert_id: str, api_url: str | None, token: str | None) -> None:
    """open -> acknowledged."""
    _update(alert_id, api_url, token, {"status": AlertStatus.ACKNOWLEDGED.value})


@alerts.command("close")
@click.argument("alert_id")
@click.option("--reason", required=True, type=click.Choice([r.value for r in CloseReason]))
@api_options
def close(alert_id: str, reason: str, api_url: str | None, token: str | None) -> None:
    """Close with a reason."""
    _update(alert_id, api_url, token, {"status": AlertStatus.CLOSED.value, "reason": reason})


@alerts.command("assign")
@click.argument("alert_id")
@click.argument("assignee")
@api_options
def assign(alert_id: str, assignee: str, api_url: str | None, token: str | None) -> None:
    """Set the assignee ('' to unassign)."""
    _update(alert_id, api_url, token, {"assignee": assignee})


@alerts.command("note")
@click.argument("alert_id")
@click.argument("text")
@api_options
def note(alert_id: str, text: str, api_url: str | None, token: str | None) -> None:
    """Append a note (the server records you as its author, and the time)."""
    with client(api_url, token) as api:
        path = f"/siem/alerts/{segment(alert_id)}/notes"
        alert = api.call("POST", path, body={"text": text})
    click.echo(f"{alert['id']}: {len(alert['notes'])} note(s)")


@click.group("actions")
def actions() -> None:
    """Response actions: list, approve (four-eyes), reject (through the API)."""


def _action_line(a: dict[str, Any]) -> str:
    outcome = a.get("result") or a.get("error")
    return (
        f"{a['id']}  {a['state']:<9} {a['kind']:<13} {a['target_field']}={a['target']} "
        f"alert {a['alert_id'][:12]} by {a['requested_by']}"
        + (f", decided by {a['decided_by']}" if a.get("decided_by") else "")
        + (f" ({outcome})" if outcome else "")
    )


@actions.command("list")
@click.option("--state", type=click.Choice([s.value for s in ActionState]))
@click.option("--alert", "alert_id", default="")
@api_options
def list_actions(state: str | None, alert_id: str, api_url: str | None, token: str | None) -> None:
    """Actions on alerts in your org scope, newest first."""
    with client(api_url, token) as api:
        found = api.call("GET", "/siem/actions", params={"state": state, "alert_id": alert_id})
    for a in found["actions"]:
        click.echo(_action_line(a))


def _decide(action_id: str, verb: str, api_url: str | None, token: str | None, **body: str) -> None:
    with client(api_url, token) as api:
        path = f"/siem/actions/{segment(action_id)}/{verb}"
        click.echo(_action_line(api.call("POST", path, body=body)))


@actions.command("approve")
@click.argument("action_id")
@api_options
def approve(action_id: str, api_url: str | None, token: str | None) -> None:
    """Approve a pending action (not your own request) and run it."""
    _decide(action_id, "approve", api_url, token)


@actions.command("reject")
@click.argument("action_id")
@click.option("--reason", required=True)
@api_options
def reject(action_id: str, reason: str, api_url: str | None, token: str | None) -> None:
    """Reject a pending action with a reason."""
    _decide(action_id, "reject", api_url, token, reason=reason)


def attach(group: click.Group) -> None:
    """Add ``alerts`` and ``actions`` to ``anbao siem``."""
    group.add_command(alerts)
    group.add_command(actions)
