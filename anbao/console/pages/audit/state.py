"""What an audit search page shows, as it lives in the URL: query, time range, page, columns.

Everything a person sees in the search page is in its address, so the back button, a
bookmark, a link sent to a colleague and htmx's pushed history all show the same search.

Deep pagination follows the API: pages are cursors (``search_after``, the sort values of an
edge event), never offsets, so page 500 costs what page 1 costs and there is no 10,000-event
wall. ``after=C`` shows the events that follow cursor ``C`` in the chosen order; ``before=C``
shows those just before it (asked in the reverse order, then turned round). Each page also
learns the cursor of its *other* edge with a one-event query, which gives the link back (for
``after``) or forward (for ``before``) — so both directions are one cursor each, however deep.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import zoneinfo
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final
from urllib.parse import urlencode

from audit.model import FIELDS

#: Quick time ranges (label msgid, the API's relative ``from``).
PRESETS: Final = {
    "15m": ("Last 15 minutes", "now-15m"),
    "1h": ("Last hour", "now-1h"),
    "24h": ("Last 24 hours", "now-24h"),
    "7d": ("Last 7 days", "now-7d"),
    "30d": ("Last 30 days", "now-30d"),
    "all": ("All time", ""),
    "custom": ("Custom range", ""),
}
DEFAULT_RANGE: Final = "24h"
SIZES: Final = (10, 25, 50, 100)
DEFAULT_SIZE: Final = 50
#: Columns a result table can show: every field of the model but the free-form labels.
COLUMNS: Final = tuple(name for name in FIELDS if name != "labels")
DEFAULT_COLUMNS: Final = (
    "@timestamp",
    "event.action",
    "event.outcome",
    "user.name",
    "source.ip",
    "url.path",
)
#: The sort of each direction, with event.id as the API's tie-breaker (stable cursors).
_SORT: Final = {
    ("desc", False): "@timestamp:desc,event.id:asc",
    ("desc", True): "@timestamp:asc,event.id:desc",
    ("asc", False): "@timestamp:asc,event.id:asc",
    ("asc", True): "@timestamp:desc,event.id:desc",
}
_CURSOR: Final = re.compile(r"[A-Za-z0-9_-]{1,512}")
_OR: Final = re.compile(r"\bOR\b", re.IGNORECASE)


@dataclasses.dataclass(frozen=True, slots=True)
class SearchState:
    """One search page as its URL says it (every field validated, never trusted further)."""

    q: str = ""
    range: str = DEFAULT_RANGE
    start: str = ""  # custom range, local ``YYYY-MM-DDTHH:MM`` in the console's zone
    end: str = ""
    after: str = ""
    before: str = ""
    page: int = 1
    size: int = DEFAULT_SIZE
    order: str = "desc"

    @classmethod
    def read(cls, get: Callable[[str], str | None]) -> SearchState:
        preset = get("range") or DEFAULT_RANGE
        size = _int(get("size"), DEFAULT_SIZE)
        return cls(
            q=(get("q") or "")[:4096],
            range=preset if preset in PRESETS else DEFAULT_RANGE,
            start=_local(get("start")),
            end=_local(get("end")),
            after=_cursor(get("after")),
            before="" if get("after") else _cursor(get("before")),
            page=max(1, _int(get("page"), 1)),
            size=size if size in SIZES else DEFAULT_SIZE,
            order="asc" if get("order") == "asc" else "desc",
        )

    # the API's view of this page

    def window(self, zone: str) -> tuple[str, str]:
        """The API's ``from`` and ``to`` (a custom range read in the console's zone)."""
        if self.range == "custom":
            return _iso(self.start, zone), _iso(self.end, zone)
        return PRESETS[self.range][1], ""

    def api_params(self, zone: str, *, size: int | None = None) -> dict[str, str]:
        """``GET /audit/events`` parameters of this page (``size=1``: its far edge)."""
        time_from, time_to = self.window(zone)
        backwards = bool(self.before)
        return {
            "q": self.q,
            "from": time_from,
            "to": time_to,
            "sort": _SORT[(self.order, backwards)],
            "size": str(size or self.size),
            "search_after": self.before or self.after,
        }

    def filter_params(self, zone: str) -> dict[str, str]:
        """Query and time only (aggregations, exports, saved searches)."""
        time_from, time_to = self.window(zone)
        return {"q": self.q, "from": time_from, "to": time_to}

    # links

    def query(self, **changes: Any) -> str:
        """This page's URL query with ``changes``; a new query or range starts at page 1."""
        state = dataclasses.replace(self, **changes)
        if {"q", "range", "start", "end", "size", "order"} & changes.keys():
            state = dataclasses.replace(state, after="", before="", page=1)
        values = {
            "q": state.q,
            "range": state.range if state.range != DEFAULT_RANGE else "",
            "start": state.start if state.range == "custom" else "",
            "end": state.end if state.range == "custom" else "",
            "after": state.after,
            "before": state.before,
            "page": str(state.page) if state.page > 1 else "",
            "size": str(state.size) if state.size != DEFAULT_SIZE else "",
            "order": state.order if state.order != "desc" else "",
        }
        return urlencode({k: v for k, v in values.items() if v})

    def with_clause(self, field: str, value: str, *, negate: bool = False) -> str:
        """The query narrowed to ``field`` = ``value`` (a facet's click), as a new query."""
        clause = f"{'NOT ' if negate else ''}{field}:{quote(value)}"
        if clause in self.q:
            return self.q
        if not self.q.strip():
            return clause
        current = f"({self.q.strip()})" if _OR.search(self.q) else self.q.strip()
        return f"{current} AND {clause}"


@dataclasses.dataclass(frozen=True, slots=True)
class Pager:
    """Links to the neighbouring pages (URL queries), or ``""`` where there is none."""

    previous: str
    next: str
    first: str


def pager(state: SearchState, *, count: int, edge: str | None, far_edge: str | None) -> Pager:
    """Neighbour links from this page's two edge cursors (see the module docstring).

    ``edge`` is the API's cursor after the last event of the request (forward: the page's end;
    backward: its start), ``None`` when no event lies beyond; ``far_edge`` is the cursor of the
    request's first event (forward: the page's start; backward: its end), from a one-event
    request, ``None`` on a first page. A link back to page 1 is the first page itself.
    """
    first = state.query(after="", before="", page=1)
    if state.before:
        back = state.query(before=edge, after="", page=state.page - 1)
        previous = "" if edge is None else (first if state.page <= 2 else back)  # noqa: PLR2004
        forward = state.query(after=far_edge, before="", page=state.page + 1)
        return Pager(previous, forward if far_edge else "", first)
    previous = ""
    if state.after:
        back = state.query(before=far_edge, after="", page=state.page - 1)
        previous = back if far_edge and state.page > 2 else first  # noqa: PLR2004
    forward = state.query(after=edge, before="", page=state.page + 1)
    return Pager(previous, forward if edge and count else "", first)


def quote(value: str) -> str:
    """A value as the query language's phrase (``"`` and ``\\`` escaped)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def caret(query: str, position: int) -> tuple[str, str]:
    """The line of ``query`` holding ``position`` and a line with ``^`` under that character."""
    position = max(0, min(position, len(query)))
    start = query.rfind("\n", 0, position) + 1
    end = query.find("\n", position)
    line = query[start : end if end >= 0 else len(query)]
    column = position - start
    pad = "".join("\t" if c == "\t" else ("\u3000" if _wide(c) else " ") for c in line[:column])
    return line, pad + "^"


def _wide(char: str) -> bool:
    """East Asian wide characters take two columns in a monospace font: pad with a wide space."""
    return (
        "\u1100" <= char <= "\u115f"
        or "\u2e80" <= char <= "\ua4cf"
        or (
            "\uac00" <= char <= "\ud7a3"
            or "\uf900" <= char <= "\ufaff"
            or "\uff00" <= char <= "\uff60"
        )
    )


def columns(raw: str | None) -> tuple[str, ...]:
    """The chosen columns (comma-separated field names), known ones only, in the table's order."""
    wanted = [c for c in (raw or "").split(",") if c in COLUMNS]
    return tuple(dict.fromkeys(wanted)) or DEFAULT_COLUMNS


def value(document: Mapping[str, Any], dotted: str) -> str:
    """A field of an event as text: lists joined, absent as empty."""
    node: Any = document
    for part in dotted.split("."):
        if not isinstance(node, Mapping):
            return ""
        node = node.get(part) if part in node else node.get(dotted)
        if node is None:
            return ""
    if isinstance(node, list):
        return ", ".join(str(v) for v in node)
    if isinstance(node, Mapping):
        return ", ".join(f"{k}={v}" for k, v in node.items())
    return str(node)


def flatten(document: Mapping[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """Every leaf of an event as (dotted name, text), sorted by name (the detail view)."""
    out: list[tuple[str, str]] = []
    for key, item in document.items():
        name = f"{prefix}{key}"
        if isinstance(item, Mapping) and item:
            out.extend(flatten(item, name + "."))
        elif isinstance(item, list):
            out.append((name, ", ".join(str(v) for v in item)))
        else:
            out.append((name, "" if item is None else str(item)))
    return sorted(out)


def zoom(state: SearchState, key: str, seconds: int, zone: str) -> str:
    """The search narrowed to one histogram bucket (its start, plus its interval), as a link."""
    start = dt.datetime.fromisoformat(key.replace("Z", "+00:00")).astimezone(
        zoneinfo.ZoneInfo(zone)
    )
    end = start + dt.timedelta(seconds=seconds)
    local = "%Y-%m-%dT%H:%M:%S"
    return state.query(range="custom", start=start.strftime(local), end=end.strftime(local))


def bucket_labels(keys: Sequence[str], tr_when: Callable[[str], str], seconds: int) -> list[str]:
    """Histogram labels in local time: the date only for day buckets, no seconds otherwise."""
    labels = [tr_when(k) for k in keys]
    if seconds >= 86400:  # noqa: PLR2004 - a day
        return [label[:10] for label in labels]
    return [label[:16] for label in labels]


def _int(raw: str | None, default: int) -> int:
    try:
        return int(raw) if raw else default
    except ValueError:
        return default


def _cursor(raw: str | None) -> str:
    return raw if raw and _CURSOR.fullmatch(raw) else ""


def _local(raw: str | None) -> str:
    """A ``datetime-local`` value (``YYYY-MM-DDTHH:MM[:SS]``) or empty."""
    if not raw:
        return ""
    try:
        dt.datetime.fromisoformat(raw)
    except ValueError:
        return ""
    return raw[:19]


def _iso(local: str, zone: str) -> str:
    if not local:
        return ""
    moment = dt.datetime.fromisoformat(local)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zoneinfo.ZoneInfo(zone))
    return moment.isoformat()


_PRESET_OF = {value: key for key, (_, value) in PRESETS.items() if value}


def saved_link(saved: dict[str, Any], zone: str) -> str:
    """The search page's URL query for a saved search (the API's ``time_from``/``time_to``)."""
    time_from = str(saved.get("time_from") or saved.get("from") or "")
    time_to = str(saved.get("time_to") or saved.get("to") or "")
    values: dict[str, str] = {"q": str(saved.get("q") or "")}
    if time_from in _PRESET_OF and time_to in ("", "now"):
        values["range"] = _PRESET_OF[time_from]
    elif time_from or time_to:
        values |= {
            "range": "custom",
            "start": _local_of(time_from, zone),
            "end": _local_of(time_to, zone),
        }
    else:
        values["range"] = "all"
    return SearchState.read(values.get).query()


def _local_of(instant: str, zone: str) -> str:
    if not instant:
        return ""
    try:
        moment = dt.datetime.fromisoformat(instant.replace("Z", "+00:00"))
    except ValueError:
        return ""
    if moment.tzinfo is None:
        return moment.isoformat(timespec="minutes")
    return (
        moment.astimezone(zoneinfo.ZoneInfo(zone))
        .replace(tzinfo=None)
        .isoformat(timespec="minutes")
    )
