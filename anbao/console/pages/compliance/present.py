"""Compliance data as people read it: evidence without Python reprs, rates, trends, a chart.

Pure functions over what the API answers (``/compliance/runs`` and a run's ``report.json``), so
the page modules stay thin and each rule is tested without a server.

The compliance rate is the MLPS report's (符合率 = 符合项 ÷ judged items): items that pass,
over items that pass, fail or are waived (a waiver accepts a risk, it does not meet the
requirement); items awaiting a person's attestation and items that do not apply are not judged.
The report renderer applies the same reading, so the console and the signed PDF agree.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

#: A control's effective status -> the msgid people read (zh: 符合, 不符合, …).
STATUS_LABELS = {
    "pass": "Conforms",
    "fail": "Does not conform",
    "waived": "Waived",
    "manual": "Awaiting attestation",
    "not_applicable": "Not applicable",
}
#: The CSS state class of each status (colour is never the only cue: the label is written).
STATUS_CLASS = {"pass": "ok", "fail": "bad", "waived": "warn", "manual": "", "not_applicable": ""}
WAIVER_LABELS = {"pending": "Pending approval", "approved": "Approved", "rejected": "Rejected"}
#: Runs drawn in the trend (the API's report keeps each control's last 12 statuses).
TREND_RUNS = 12


class Strings(Protocol):
    """What the helpers need of a request's translator (:class:`anbao.console.i18n.Translator`)."""

    def t(self, msgid: str, **values: Any) -> str: ...

    def when(self, value: str | float | dt.datetime | None, *, seconds: bool = True) -> str: ...

    def number(self, value: float | int) -> str: ...

    def percent(self, value: float) -> str: ...


# -- evidence ----------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class Node:
    """Evidence shaped for a template: ``text``, a ``list`` of nodes (bullets) or a ``map`` of
    labelled nodes (one line each)."""

    kind: str
    text: str = ""
    items: tuple[Node, ...] = ()
    labels: tuple[str, ...] = ()

    @property
    def pairs(self) -> list[tuple[str, Node]]:
        return list(zip(self.labels, self.items, strict=True))


def shape(value: Any, tr: Strings) -> Node:
    """Any JSON evidence value as people read it: booleans as 是/否 (Yes/No), nothing as a dash,
    numbers by locale, times in the console's zone, lists as bullets, objects as labelled lines."""
    if isinstance(value, Mapping):
        if not value:
            return Node("text", "—")
        return Node(
            "map",
            items=tuple(shape(v, tr) for v in value.values()),
            labels=tuple(str(k) for k in value),
        )
    if isinstance(value, list | tuple | set | frozenset):
        items = tuple(shape(v, tr) for v in value)
        if not items:
            return Node("text", tr.t("None"))
        return items[0] if len(items) == 1 else Node("list", items=items)
    return Node("text", scalar(value, tr))


def scalar(value: Any, tr: Strings) -> str:
    """One value: ``True`` -> 是, ``None`` -> —, ``1200`` -> 1,200, an ISO time -> local time;
    the words ``true``/``false`` of an expected value read as 是/否 too."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return tr.t("Yes") if value else tr.t("No")
    if isinstance(value, int | float):
        return tr.number(value)
    text = str(value)
    if text.lower() in {"true", "false"}:
        return tr.t("Yes") if text.lower() == "true" else tr.t("No")
    if _is_time(text):
        return tr.when(text)
    return _LIST_REPR.sub(lambda m: ", ".join(_QUOTED.findall(m.group(0))), text)


#: A Python list of strings written into a check's text (``includes ['id', 'at']``): its items.
_QUOTED = re.compile(r"'([^'\\]*)'")
_LIST_REPR = re.compile(r"\['[^'\\]*'(?:, '[^'\\]*')*\]")


def _is_time(text: str) -> bool:
    if len(text) < 16 or text[4:5] != "-" or "T" not in text:  # noqa: PLR2004 - YYYY-MM-DDTHH:MM
        return False
    try:
        dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


# -- rates -------------------------------------------------------------------------------------


def rate(counts: Mapping[str, int]) -> float | None:
    """The run's compliance rate from the API's counts; None when nothing could be judged."""
    judged = counts.get("pass", 0) + counts.get("fail", 0) + counts.get("waived", 0)
    return counts.get("pass", 0) / judged if judged else None


def rate_of(statuses: Iterable[str]) -> float | None:
    counts: dict[str, int] = {}
    for status in statuses:
        counts[status] = counts.get(status, 0) + 1
    return rate(counts)


def percent(value: float | None, tr: Strings) -> str:
    return "—" if value is None else tr.percent(value)


# -- the catalogue as the report gives it ------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class Framework:
    """One standard of the catalogue (GB/T 22239-2019, GB/T 39786-2021, …) and its controls."""

    code: str
    title: Mapping[str, str]
    controls: tuple[Mapping[str, Any], ...]

    def name(self, locale: str) -> str:
        return str(self.title.get("en" if locale == "en" else "zh") or self.code)

    def rate(self) -> float | None:
        return rate_of(str(c.get("effective") or c.get("status")) for c in self.controls)


def frameworks(report: Mapping[str, Any]) -> list[Framework]:
    """The standards of a run's ``report.json``, each with its controls in catalogue order."""
    out = []
    for std in report.get("standards") or ():
        controls = tuple(
            {**control, "section": section.get("section", "")}
            for section in std.get("sections") or ()
            for control in section.get("controls") or ()
        )
        out.append(Framework(str(std.get("standard", "")), std.get("title") or {}, controls))
    return out


def sections(framework: Framework) -> list[tuple[str, list[Mapping[str, Any]]]]:
    grouped: dict[str, list[Mapping[str, Any]]] = {}
    for control in framework.controls:
        grouped.setdefault(str(control.get("section", "")), []).append(control)
    return list(grouped.items())


# -- trends ------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class TrendRow:
    run_id: str
    started_at: str
    rates: dict[str, float | None]  # framework code -> rate


def trend(report: Mapping[str, Any], runs: Sequence[Mapping[str, Any]]) -> list[TrendRow]:
    """Each framework's rate over the newest runs, oldest first.

    ``report`` is the newest run's ``report.json``: each control carries its statuses over the
    last runs up to that one, oldest first; ``runs`` is the API's list, newest first. A control
    added to the catalogue later has a shorter history, so histories are aligned on the newest
    run (the last status is always that run's).
    """
    found = frameworks(report)
    length = max((len(c.get("trend") or ()) for f in found for c in f.controls), default=0)
    length = min(length, len(runs), TREND_RUNS)
    chosen = list(reversed(runs[:length]))
    rows = []
    for index, run in enumerate(chosen):
        back = length - index  # how far from the newest run, 1 = the newest
        rates = {}
        for framework in found:
            statuses = [
                str(c["trend"][-back])
                for c in framework.controls
                if len(c.get("trend") or ()) >= back
            ]
            rates[framework.code] = rate_of(statuses)
        rows.append(TrendRow(str(run["id"]), str(run.get("started_at", "")), rates))
    return rows


def chart_option(
    rows: Sequence[TrendRow], found: Sequence[Framework], tr: Strings, locale: str
) -> dict[str, Any]:
    """An ECharts line option: the rate (%) of each framework per run. Tooltips render as rich
    text on the canvas: ECharts' HTML tooltip writes style attributes, which the CSP refuses."""
    return {
        "animation": False,
        "tooltip": {"trigger": "axis", "renderMode": "richText"},
        "legend": {"type": "scroll", "top": 0},
        "grid": {"left": 48, "right": 24, "top": 40, "bottom": 40},
        "xAxis": {
            "type": "category",
            "data": [tr.when(r.started_at, seconds=False) for r in rows],
        },
        "yAxis": {"type": "value", "min": 0, "max": 100, "axisLabel": {"formatter": "{value}%"}},
        "series": [
            {
                "type": "line",
                "name": f.name(locale),
                "connectNulls": True,
                "data": [_pct(r.rates.get(f.code)) for r in rows],
            }
            for f in found
        ],
    }


def _pct(value: float | None) -> float | None:
    return None if value is None else round(value * 100, 1)
