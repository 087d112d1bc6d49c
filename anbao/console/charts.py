"""ECharts options for the console's charts, built on the server from the API's answers.

A chart is data, not code: the page carries its option as a JSON data block
(``<script type="application/json">``, which the CSP lets through because it never runs) and
``console.js`` hands it to ECharts. Building the option here keeps every label translated and
every time in the console's zone, and gives each chart its text alternative from the same rows
(WCAG 2.2 SC 1.1.1: a canvas says nothing to a screen reader; the table beside it does).

Only the series and components the vendored ECharts bundle registers are used (bar, line, pie;
grid, tooltip, legend, title, dataZoom: ``anbao/console/assets/build.mjs``). Tooltips are drawn
on the canvas (``renderMode: "richText"``): ECharts' HTML tooltips write ``style`` attributes
into markup, which the console's CSP (``style-src 'self'``) refuses.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

#: Colours with at least 3:1 contrast against white (WCAG 2.2 SC 1.4.11, graphical objects).
PALETTE = ("#0b57d0", "#b3261e", "#137333", "#8a5300", "#6f42c1", "#00696b", "#5f6368")
SEVERITY_COLOURS = {
    "critical": "#8c1d18",
    "high": "#b3261e",
    "medium": "#8a5300",
    "low": "#0b57d0",
    "informational": "#5f6368",
}
STATUS_COLOURS = {
    "pass": "#137333",
    "fail": "#b3261e",
    "manual": "#8a5300",
    "not_applicable": "#5f6368",
    "waived": "#6f42c1",
    "up": "#137333",
    "down": "#b3261e",
}


_CANVAS = "richText"


@dataclasses.dataclass(frozen=True, slots=True)
class Chart:
    """One chart: its element id, the ECharts option, and the summary a screen reader hears."""

    id: str
    option: dict[str, Any]
    summary: str


def _base(*, legend: bool = False) -> dict[str, Any]:
    option: dict[str, Any] = {
        "animation": False,
        "textStyle": {"fontFamily": "inherit"},
        "tooltip": {"trigger": "axis", "confine": True, "renderMode": _CANVAS},
        "grid": {"left": 48, "right": 16, "top": 36 if legend else 16, "bottom": 32},
    }
    if legend:
        option["legend"] = {"top": 0}
    return option


def bars(
    categories: Sequence[str],
    values: Sequence[int | float],
    *,
    name: str,
    colours: Sequence[str] | None = None,
    unit: str = "",
) -> dict[str, Any]:
    """One bar per category, each in its own colour when ``colours`` is given."""
    data: list[Any] = list(values)
    if colours:
        data = [
            {"value": v, "itemStyle": {"color": c}} for v, c in zip(values, colours, strict=True)
        ]
    option = _base()
    option["xAxis"] = {"type": "category", "data": list(categories)}
    if len(categories) <= 8:  # noqa: PLR2004 - few categories: every label, wrapped
        option["xAxis"]["axisLabel"] = {"interval": 0, "width": 90, "overflow": "break"}
    option["yAxis"] = {"type": "value", "minInterval": 1, "name": unit}
    option["series"] = [{"type": "bar", "name": name, "data": data, "color": PALETTE[0]}]
    return option


def stacked(
    categories: Sequence[str], series: Sequence[tuple[str, str, Sequence[int]]]
) -> dict[str, Any]:
    """Horizontal stacked bars: ``series`` is (label, colour, one value per category)."""
    option = _base(legend=True)
    option["grid"] = {"left": 120, "right": 16, "top": 48, "bottom": 24}
    option["tooltip"] = {
        "trigger": "axis",
        "axisPointer": {"type": "shadow"},
        "confine": True,
        "renderMode": _CANVAS,
    }
    option["xAxis"] = {"type": "value", "minInterval": 1}
    option["yAxis"] = {"type": "category", "data": list(categories)}
    option["series"] = [
        {"type": "bar", "name": label, "stack": "all", "color": colour, "data": list(values)}
        for label, colour, values in series
    ]
    return option


def pie(items: Sequence[tuple[str, int, str]], *, name: str) -> dict[str, Any]:
    """A ring: ``items`` is (label, value, colour)."""
    return {
        "animation": False,
        "tooltip": {"trigger": "item", "confine": True, "renderMode": _CANVAS},
        "legend": {"bottom": 0, "type": "scroll"},
        "series": [
            {
                "type": "pie",
                "name": name,
                "radius": ["40%", "68%"],
                "center": ["50%", "45%"],
                "data": [
                    {"name": label, "value": value, "itemStyle": {"color": colour}}
                    for label, value, colour in items
                ],
            }
        ],
    }


def histogram(
    labels: Sequence[str], counts: Sequence[int], *, name: str, zoom: bool = False
) -> dict[str, Any]:
    """Counts over time (labels already in local time), with a zoom slider for long ranges."""
    option = bars(labels, counts, name=name)
    option["series"][0]["barCategoryGap"] = "10%"
    option["grid"]["bottom"] = 56 if zoom else 32
    if zoom:
        option["dataZoom"] = [{"type": "inside"}, {"type": "slider", "height": 18, "bottom": 4}]
    return option


def colour_cycle(index: int) -> str:
    return PALETTE[index % len(PALETTE)]
