"""What the alerts pages read from a person's forms and links, and what they send the API.

Pure functions (no request, no API) so the rules are unit-tested: which filters the list keeps
in its links, how a typed local time becomes the API's RFC 3339, which triage change a button
asks for. The value sets mirror the API's schemas (``/siem/alerts``, ``/siem/actions``); the API
stays the judge — a value it refuses comes back as its problem, shown in the page.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote, urlencode

from anbao.console.i18n import Translator

STATUSES = ("open", "acknowledged", "closed")
SEVERITIES = ("critical", "high", "medium", "low", "informational")
CLOSE_REASONS = ("true_positive", "false_positive", "benign", "duplicate")
ACTION_KINDS = ("end_sessions", "disable_user", "suspend_seal")
#: The list's first view: what still needs someone (Elastic Security opens on "open" too).
DEFAULT_STATUSES = ("open", "acknowledged")
PAGE_SIZE = 50
#: The API's deepest page (``siem.alerts.resources.MAX_OFFSET``).
MAX_OFFSET = 10_000
#: Bulk operations of the list (one API call per alert: the API has no bulk route), each with
#: the msgid saying how many alerts it changed.
BULK_DONE = {
    "assign": "%(count)s alerts assigned.",
    "acknowledge": "%(count)s alerts acknowledged.",
    "close": "%(count)s alerts closed.",
}
#: Statuses each triage button of the detail page moves to, by the alert's status
#: (the API's ``TRANSITIONS``): the page offers only what the API would accept.
NEXT_STATUSES: Mapping[str, tuple[str, ...]] = {
    "open": ("acknowledged", "closed"),
    "acknowledged": ("closed", "open"),
    "closed": ("open",),
}
#: Results a change redirects with (``?done=``), each a fixed msgid: no text from the URL.
DONE = {
    "acknowledged": "Alert acknowledged.",
    "closed": "Alert closed.",
    "open": "Alert reopened.",
    "assigned": "Assignee changed.",
    "note": "Note added.",
    "requested": "Response action requested. Another analyst must approve it.",
    "approved": "Response action approved and carried out.",
    "rejected": "Response action rejected.",
}


#: The words of the API's values, as msgids: ``label("status", "open")`` in the templates.
LABELS: Mapping[str, Mapping[str, str]] = {
    "status": {"open": "Open", "acknowledged": "Acknowledged", "closed": "Closed"},
    "to": {"acknowledged": "Acknowledge", "closed": "Close", "open": "Reopen"},
    "severity": {
        "critical": "Critical",
        "high": "High",
        "medium": "Medium",
        "low": "Low",
        "informational": "Informational",
    },
    "reason": {
        "true_positive": "True positive",
        "false_positive": "False positive",
        "benign": "Benign",
        "duplicate": "Duplicate",
    },
    "action": {
        "end_sessions": "End the sessions",
        "disable_user": "Disable the account",
        "suspend_seal": "Suspend the seal",
    },
    "state": {
        "pending": "Awaiting approval",
        "approved": "Approved",
        "rejected": "Rejected",
        "executed": "Carried out",
        "failed": "Failed",
    },
}


def labeller(tr: Translator) -> Callable[[str, str], str]:
    """``label(kind, value)`` for the templates: the value's word in the person's language (an
    unknown value, e.g. from a newer API, shows as it is)."""

    def label(kind: str, value: str) -> str:
        msgid = LABELS.get(kind, {}).get(value)
        return tr.t(msgid) if msgid else value

    return label


class FormError(ValueError):
    """A form value the page refuses before calling the API; ``msgid`` says why."""

    def __init__(self, msgid: str, **values: Any) -> None:
        super().__init__(msgid)
        self.msgid = msgid
        self.values = values


@dataclasses.dataclass(frozen=True, slots=True)
class AlertQuery:
    """The list's filters as the person set them (times as typed, in the console's zone)."""

    statuses: tuple[str, ...] = DEFAULT_STATUSES
    severities: tuple[str, ...] = ()
    rule: str = ""
    assignee: str = ""
    entity: str = ""
    since: str = ""
    until: str = ""
    offset: int = 0

    def api_params(self, tr: Translator) -> dict[str, Any]:
        """``GET /siem/alerts`` parameters; a time that is no time raises :class:`FormError`."""
        params: dict[str, Any] = {
            "status": ",".join(self.statuses),
            "severity": ",".join(self.severities),
            "rule": self.rule,
            "assignee": self.assignee,
            "entity": self.entity,
            "limit": PAGE_SIZE,
            "offset": self.offset,
        }
        for name in ("since", "until"):
            try:
                params[name] = tr.typed(getattr(self, name))
            except ValueError:
                raise FormError("Enter a date and time, e.g. 2026-12-07 20:15.") from None
        return {k: v for k, v in params.items() if v not in ("", None)}

    def link(self, **changes: Any) -> str:
        """``/console/alerts?…`` with these filters (and ``changes``), for pagers and going back."""
        return "/console/alerts?" + dataclasses.replace(self, **changes).query_string()

    def query_string(self) -> str:
        """The filters as a query string: one value per name (the API edge refuses a repeated
        parameter), lists comma-separated as the API takes them."""
        pairs: list[tuple[str, str]] = [("filtered", "1")]
        if self.statuses:
            pairs.append(("status", ",".join(self.statuses)))
        if self.severities:
            pairs.append(("severity", ",".join(self.severities)))
        for name in ("rule", "assignee", "entity", "since", "until"):
            if getattr(self, name):
                pairs.append((name, getattr(self, name)))
        if self.offset:
            pairs.append(("offset", str(self.offset)))
        return urlencode(pairs)


def _values(params: Mapping[str, str | list[str]], name: str) -> list[str]:
    value = params.get(name)
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def _chosen(
    params: Mapping[str, str | list[str]], name: str, known: tuple[str, ...]
) -> tuple[str, ...]:
    """A multiple choice: ``name=a,b`` (links) or one checkbox per value, ``name_a=1`` (the
    filter form: each checkbox a name of its own, since a name may not repeat)."""
    listed = {v.strip() for value in _values(params, name) for v in value.split(",")}
    return tuple(v for v in known if v in listed or _one(params, f"{name}_{v}"))


def _one(params: Mapping[str, str | list[str]], name: str) -> str:
    values = _values(params, name)
    return values[-1].strip() if values else ""


def parse_query(params: Mapping[str, str | list[str]]) -> AlertQuery:
    """The list's query string -> :class:`AlertQuery` (unknown values dropped: links are
    bookmarked and shared; the first visit, without ``filtered``, shows what needs someone)."""
    filtered = _one(params, "filtered") == "1"
    statuses = _chosen(params, "status", STATUSES)
    offset_text = _one(params, "offset")
    offset = int(offset_text) if offset_text.isascii() and offset_text.isdigit() else 0
    return AlertQuery(
        statuses=statuses if filtered else DEFAULT_STATUSES,
        severities=_chosen(params, "severity", SEVERITIES),
        rule=_one(params, "rule"),
        assignee=_one(params, "assignee"),
        entity=_one(params, "entity"),
        since=_one(params, "since"),
        until=_one(params, "until"),
        offset=min(offset, MAX_OFFSET) // PAGE_SIZE * PAGE_SIZE,
    )


def bulk_change(op: str, reason: str, assignee: str, ticked: int) -> dict[str, str]:
    """The ``PATCH /siem/alerts/{id}`` body of one bulk operation on ``ticked`` alerts."""
    if ticked < 1:
        raise FormError("Tick the alerts to change first.")
    if op == "acknowledge":
        return {"status": "acknowledged"}
    if op == "close":
        if reason not in CLOSE_REASONS:
            raise FormError("Choose why the alerts are closed.")
        return {"status": "closed", "reason": reason}
    if op == "assign":
        if not assignee.strip():
            raise FormError("Enter whom to assign the alerts to.")
        return {"assignee": assignee.strip()}
    raise FormError("Choose what to do with the selected alerts.")


def triage_change(status: str, reason: str) -> dict[str, str]:
    """The ``PATCH`` body of one triage button of the detail page (closing takes a reason)."""
    if status not in STATUSES:
        raise FormError("Choose what to do with the selected alerts.")
    if status == "closed":
        if reason not in CLOSE_REASONS:
            raise FormError("Choose why the alert is closed.")
        return {"status": status, "reason": reason}
    return {"status": status}


def alert_path(alert_id: str, *rest: str) -> str:
    """An API path of one alert (the id as one path segment, whatever it holds)."""
    return "/".join(["/siem/alerts", quote(alert_id, safe=""), *rest])


def action_path(action_id: str, verb: str) -> str:
    return f"/siem/actions/{quote(action_id, safe='')}/{verb}"


def page_path(alert_id: str) -> str:
    """The console page of one alert."""
    return f"/console/alerts/{quote(alert_id, safe='')}"


def audit_search_link(query: str, since: str = "", until: str = "") -> str:
    """The audit search page (``/console/audit``) on this query and time span."""
    pairs = [("q", query)] + [(k, v) for k, v in (("from", since), ("to", until)) if v]
    return "/console/audit?" + urlencode(pairs)


def event_query(event_id: str) -> str:
    """The audit query language's term for one event id (quoted, as ``to_text`` writes it)."""
    escaped = event_id.replace("\\", "\\\\").replace('"', '\\"')
    return f'event.id:"{escaped}"'
