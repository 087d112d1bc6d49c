"""PDF report (reportlab) with an embedded Chinese TrueType font and trend pictures.

The font is embedded (subset) so the PDF renders anywhere and its text layer carries Unicode
(pdftotext gets the Chinese titles back); Debian's ``fonts-wqy-zenhei`` by default
(``compliance.pdf_font_file``). Output is deterministic for the same input (``invariant``).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from reportlab.graphics.shapes import Drawing, Rect, String
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from policies.errors import FontUnavailable
from policies.reports.html import COLOURS

DEFAULT_FONT = "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"
FONT_NAME = "AnbaoCJK"


def _font(path: str) -> str:
    if FONT_NAME in pdfmetrics.getRegisteredFontNames():
        return FONT_NAME
    if not Path(path).is_file():
        raise FontUnavailable(f"compliance.pdf_font_file: {path} not found (apt fonts-wqy-zenhei)")
    pdfmetrics.registerFont(TTFont(FONT_NAME, path, subfontIndex=0))
    return FONT_NAME


def _styles(font: str) -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("base", fontName=font, fontSize=8, leading=10, wordWrap="CJK")
    return {
        "base": base,
        "h1": ParagraphStyle("h1", parent=base, fontSize=16, leading=20, spaceAfter=6),
        "h2": ParagraphStyle("h2", parent=base, fontSize=12, leading=15, spaceBefore=8),
        "h3": ParagraphStyle("h3", parent=base, fontSize=10, leading=13, spaceBefore=4),
    }


def _rect(x: float, y: float, w: float, h: float, fill: colors.Color) -> Rect:
    rect = Rect(x, y, w, h)
    rect.fillColor, rect.strokeWidth = fill, 0
    return rect


def trend_drawing(statuses: list[str], cell: float = 3 * mm) -> Drawing:
    """One clause's status over the last runs, oldest left (a coloured strip)."""
    d = Drawing(max(1, len(statuses)) * (cell + 1), cell)
    for i, status in enumerate(statuses):
        fill = colors.HexColor(COLOURS.get(status, "#000000"))
        d.add(_rect(i * (cell + 1), 0, cell, cell, fill))
    return d


def overview_drawing(report: dict[str, Any], font: str) -> Drawing:
    """Stacked bars: per past run, how many controls passed/failed/… (the overall trend)."""
    controls = [c for s in report["standards"] for sec in s["sections"] for c in sec["controls"]]
    runs = max((len(c["trend"]) for c in controls), default=0)
    width, height, bar = 160 * mm, 35 * mm, 8 * mm
    d = Drawing(width, height + 10)
    d.add(String(0, height + 2, "趋势 Trend (controls per status, oldest left)", fontName=font,
                 fontSize=8))  # fmt: skip
    scale = (height - 4) / max(1, len(controls))
    for i in range(runs):
        y = 0.0
        for status in ("pass", "fail", "manual", "not_applicable"):
            n = sum(1 for c in controls if len(c["trend"]) > i and c["trend"][i] == status)
            fill = colors.HexColor(COLOURS[status])
            d.add(_rect(i * (bar + 3), y, bar, n * scale, fill))
            y += n * scale
    return d


def _row(c: dict[str, Any], st: dict[str, ParagraphStyle]) -> list[Any]:
    checks = []
    for ch in c["checks"]:
        lines = [f"<b>{escape(ch['check'])}</b>: {escape(ch['status'])} {escape(ch['reason'])}"]
        lines += [
            f"{'符合 ok' if f['ok'] else '<b>不符合 FAIL</b>'} {escape(f['setting'])} = {escape(str(f['observed']))}"
            f" (expected {escape(f['expected'])})"
            for f in ch["findings"]
        ]
        checks.append("<br/>".join(lines))
    if c["waiver"]:
        checks.append(escape(c["waiver_line"]))
    if c["effective"] == "fail":
        checks.append(escape(f"整改 {c['remediation']['zh']}"))
    result = f"{escape(c['status_zh'])}<br/>{escape(c['effective'])}"
    if c["manual_attestation"]:
        result += "<br/>需人工确认"
    return [
        Paragraph(escape(c["id"]), st["base"]),
        Paragraph(escape(c["clause"]), st["base"]),
        Paragraph(f"<b>{escape(c['title']['zh'])}</b><br/>{escape(c['title']['en'])}", st["base"]),
        Paragraph(result, st["base"]),
        Paragraph("<br/>".join(checks) or "—", st["base"]),
        trend_drawing(c["trend"]),
    ]


def _table(rows: list[list[Any]], st: dict[str, ParagraphStyle]) -> Table:
    head = [Paragraph(t, st["base"]) for t in
            ("测评项 Item", "条款 Clause", "标题 Title", "结果 Result", "证据 Evidence", "趋势")]  # fmt: skip
    widths = [24 * mm, 20 * mm, 55 * mm, 20 * mm, 128 * mm, 30 * mm]
    table = Table([head, *rows], colWidths=widths, repeatRows=1)
    table.setStyle(TableStyle([
        ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ]))  # fmt: skip
    return table


def _header(report: dict[str, Any], st: dict[str, ParagraphStyle], font: str) -> list[Any]:
    run = report["run"]
    counts = " · ".join(f"{k} {v}" for k, v in run["counts"].items())
    out: list[Any] = [
        Paragraph("合规评估报告 / Compliance assessment report", st["h1"]),
        Paragraph(escape(f"Run {run['id']} · {run['started_at']} · {run['trigger']}"), st["base"]),
        Paragraph(escape(f"Summary: {counts}"), st["base"]),
    ]
    if run["signoff"]:
        s = run["signoff"]
        out.append(Paragraph(escape(f"签署 Signed off by {s['officer']} at {s['signed_at']}: "
                                    f"{s['comment']}"), st["h3"]))  # fmt: skip
    if report["changes"]:
        text = "; ".join(f"{c['control_id']}: {c['before'] or '—'} → {c['after']}"
                         for c in report["changes"])  # fmt: skip
        out.append(Paragraph(escape(f"Changes since the previous run: {text}"), st["base"]))
    out += [Spacer(1, 4 * mm), overview_drawing(report, font)]
    return out


def render(report: dict[str, Any], font_file: str = DEFAULT_FONT) -> bytes:
    font = _font(font_file)
    st = _styles(font)
    story = _header(report, st, font)
    for std in report["standards"]:
        story.append(Paragraph(escape(f"{std['standard']} — {std['title']['zh']}"), st["h2"]))
        story.append(Paragraph(escape(std["title"]["en"]), st["base"]))
        for sec in std["sections"]:
            story.append(Paragraph(escape(sec["section"]), st["h3"]))
            story.append(_table([_row(c, st) for c in sec["controls"]], st))
    out = io.BytesIO()
    doc = SimpleDocTemplate(out, pagesize=landscape(A4), leftMargin=10 * mm, rightMargin=10 * mm,
                            topMargin=10 * mm, bottomMargin=10 * mm, invariant=True,
                            title=f"Compliance report {report['run']['id']}")  # fmt: skip
    doc.build(story)
    return out.getvalue()
