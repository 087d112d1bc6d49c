# ruff: noqa: RUF001 - Chinese text takes Chinese (full-width) punctuation
"""PDF report (reportlab) laid out as an MLPS assessment report (等级测评报告模版 2025版).

Why this shape: an assessor files what looks like the template — a cover (system, organisation,
level, 备案编号, period, officer, report number, date), the conclusion table (符合/基本符合/不符合
and 重大风险隐患数量), per-item rows (安全类, 控制点, 测评项, 结果记录, 符合程度), the evidence
in an appendix written for people, and a signature block naming the signer's certificate. Times
are Beijing time with the zone; every page carries "第 i 页 共 N 页".

The font is embedded (subset) so the PDF renders anywhere and its text layer carries Unicode
(pdftotext gets the Chinese back); Debian's ``fonts-wqy-zenhei`` by default
(``compliance.pdf_font_file``). Output is deterministic for the same input (``invariant``): no
date of today is printed, only the run's and the sign-off's.
"""

from __future__ import annotations

import base64
import hashlib
import io
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from reportlab.graphics.shapes import Drawing, Rect, String
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    CondPageBreak,
    KeepTogether,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from policies.errors import FontUnavailable
from policies.reports import evidence
from policies.reports.assessment import CONFORMITY_ORDER, local_time
from policies.reports.html import COLOURS

DEFAULT_FONT = "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"
FONT_NAME = "AnbaoCJK"
TITLE = "网络安全等级保护测评报告"
WIDTH = A4[0] - 30 * mm  # the frame's width (15 mm margins)
_GRID: list[Any] = [
    ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
    ("VALIGN", (0, 0), (-1, -1), "TOP"),
]


def _font(path: str) -> str:
    if FONT_NAME in pdfmetrics.getRegisteredFontNames():
        return FONT_NAME
    if not Path(path).is_file():
        raise FontUnavailable(f"compliance.pdf_font_file: {path} not found (apt fonts-wqy-zenhei)")
    pdfmetrics.registerFont(TTFont(FONT_NAME, path, subfontIndex=0))
    return FONT_NAME


def _styles(font: str) -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("base", fontName=font, fontSize=8.5, leading=11.5, wordWrap="CJK")
    return {
        "base": base,
        "small": ParagraphStyle("small", parent=base, fontSize=7.5, leading=10),
        "title": ParagraphStyle("title", parent=base, fontSize=24, leading=32, alignment=1),
        "subtitle": ParagraphStyle("subtitle", parent=base, fontSize=11, leading=16, alignment=1),
        "cover": ParagraphStyle("cover", parent=base, fontSize=11, leading=16),
        "h1": ParagraphStyle(
            "h1", parent=base, fontSize=15, leading=20, spaceBefore=6, spaceAfter=6
        ),
        "h2": ParagraphStyle(
            "h2", parent=base, fontSize=12, leading=16, spaceBefore=8, spaceAfter=4
        ),
        "h3": ParagraphStyle("h3", parent=base, fontSize=9.5, leading=13, spaceBefore=6),
        "verdict": ParagraphStyle("verdict", parent=base, fontSize=14, leading=18),
    }


def _p(text: str, style: ParagraphStyle) -> Paragraph:
    return Paragraph(escape(text), style)


def _lines(lines: list[str], style: ParagraphStyle) -> Paragraph:
    """Lines as one paragraph, leading spaces kept (indentation shows the evidence's nesting)."""
    out = []
    for line in lines:
        stripped = line.lstrip(" ")
        out.append("&nbsp;" * (len(line) - len(stripped)) + escape(stripped))
    return Paragraph("<br/>".join(out) or "—", style)


class _NumberedCanvas(Canvas):
    """Holds pages back until the end, so each can say "第 i 页 共 N 页" and carry the header."""

    header = ""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pages: list[dict[str, Any]] = []

    def showPage(self) -> None:  # noqa: N802 - reportlab's name
        self._pages.append(dict(self.__dict__))
        self._startPage()  # type: ignore[attr-defined] # reportlab's own page reset, not in its stubs

    def save(self) -> None:
        total = len(self._pages)
        for number, state in enumerate(self._pages, start=1):
            self.__dict__.update(state)
            self._furniture(number, total)
            super().showPage()
        super().save()

    def _furniture(self, number: int, total: int) -> None:
        width, _ = A4
        self.saveState()
        self.setFont(FONT_NAME, 8)
        self.setFillColor(colors.grey)
        if number > 1 and self.header:
            self.drawString(15 * mm, A4[1] - 10 * mm, self.header)
        self.drawCentredString(width / 2, 8 * mm, f"第 {number} 页 共 {total} 页")
        self.restoreState()


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
    controls = _items(report)
    runs = max((len(c["trend"]) for c in controls), default=0)
    width, height, bar = 160 * mm, 35 * mm, 8 * mm
    d = Drawing(width, height + 10)
    d.add(String(0, height + 2, "历次测评趋势（每列一次，左为最早；绿 符合 红 不符合 黄 人工核查 灰 不适用）",
                 fontName=font, fontSize=8))  # fmt: skip
    scale = (height - 4) / max(1, len(controls))
    for i in range(runs):
        y = 0.0
        for status in ("pass", "fail", "manual", "not_applicable"):
            n = sum(1 for c in controls if len(c["trend"]) > i and c["trend"][i] == status)
            fill = colors.HexColor(COLOURS[status])
            d.add(_rect(i * (bar + 3), y, bar, n * scale, fill))
            y += n * scale
    return d


def _items(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for s in report["standards"] for sec in s["sections"] for c in sec["controls"]]


def _pairs(rows: list[tuple[str, Any]], st: dict[str, ParagraphStyle], key: float) -> Table:
    """A two-column table of label and value (cover, conclusion, signature block)."""
    cells = [[_p(k, st["cover"]), v if not isinstance(v, str) else _p(v, st["cover"])]
             for k, v in rows]  # fmt: skip
    table = Table(cells, colWidths=[key, WIDTH - key])
    table.setStyle(
        TableStyle([*_GRID, ("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#f2f2f2"))])
    )
    return table


def _cover(report: dict[str, Any], st: dict[str, ParagraphStyle]) -> list[Any]:
    c = report["cover"]
    rows = [("报告编号", c["report_number"]), ("被测对象", c["system_name"]),
            ("被测单位", c["organisation"]), ("安全保护等级", c["level_zh"]),
            ("备案编号", c["filing_number"]), ("测评期间", c["period"]),
            ("合规负责人", c["officer"]), ("报告日期", c["date"])]  # fmt: skip
    draft = "" if report["run"]["signoff"] else "（草稿，未签署）"
    return [
        Spacer(1, 35 * mm),
        _p(TITLE, st["title"]),
        Spacer(1, 4 * mm),
        _p(f"{c['system_name']}{draft}", st["subtitle"]),
        _p(
            "依据 GB/T 22239-2019、GB/T 28448-2019，按等级测评报告模版（2025版）编制",
            st["subtitle"],
        ),
        Spacer(1, 25 * mm),
        _pairs(rows, st, 35 * mm),
        Spacer(1, 30 * mm),
        _p(
            f"{c['organisation']}　·　Anbao 安全保障平台自动测评，合规负责人复核签署",
            st["subtitle"],
        ),
        PageBreak(),
    ]


def _conclusion(report: dict[str, Any], st: dict[str, ParagraphStyle]) -> list[Any]:
    a, c = report["assessment"], report["cover"]
    counts = "　".join(f"{k} {a['counts'][k]} 项" for k in CONFORMITY_ORDER)
    provisional = "（暂定）" if a["provisional"] else ""
    verdict = Paragraph(f"<b>{escape(a['conclusion'])}</b>{provisional}", st["verdict"])
    rows = [("被测对象", f"{c['system_name']}（{c['level_zh']}）"), ("测评项统计", counts),
            ("符合率", f"{a['rate_text']}（符合项 ÷（已测评项 - 不适用项））"),
            ("重大风险隐患数量", a["major_risks_text"]), ("等级测评结论", verdict)]  # fmt: skip
    if a["note"]:
        rows.append(("说明", a["note"]))
    out: list[Any] = [
        _p("一、等级测评结论", st["h1"]),
        _pairs(rows, st, 35 * mm),
        Spacer(1, 3 * mm),
    ]
    out.append(_p("判定规则：符合率高于 90% 且无重大风险隐患为“符合”；60%～90%（或高于 90% 但存在重大风险"
                  "隐患）为“基本符合”；低于 60% 为“不符合”。符合率公式为参考做法，待主管部门公布正式"
                  "算法。重大风险隐患按本平台规则认定：强制性（“应”）要求完全未满足的测评项；已豁免的"
                  "仍计入并注明。", st["small"]))  # fmt: skip
    majors = [c for c in _items(report) if c["major_risk"]]
    if majors:
        out.append(_p("重大风险隐患清单", st["h3"]))
        lines = [f"· {m['id']} {m['title']['zh']}" + ("（已豁免）" if m["effective"] == "waived"
                                                     else "") for m in majors]  # fmt: skip
        out.append(_lines(lines, st["base"]))
    changes = report["changes"]
    if changes and all(x["before"] is None for x in changes):
        out += [_p("与上次测评相比的变化", st["h3"]), _p("首次测评，无上次结果可比。", st["base"])]
    elif changes:
        text = "；".join(f"{x['control_id']}：{_zh(x['before']) if x['before'] else '—'}"
                        f" → {_zh(x['after'])}" for x in changes)  # fmt: skip
        out += [_p("与上次测评相比的变化", st["h3"]), _p(text, st["base"])]
    run = report["run"]
    out += [_p(f"测评批次 {run['id']}，{local_time(run['started_at'])} 开始，"
               f"{local_time(run['finished_at'])} 完成，发起方式 {run['trigger']}，"
               f"发起人 {run['requested_by'] or '—'}。", st["small"]),
            Spacer(1, 4 * mm), overview_drawing(report, st["base"].fontName)]  # fmt: skip
    return out


def _zh(status: str) -> str:
    return evidence.STATUS.get(status, status)


def _record(c: dict[str, Any]) -> str:
    """结果记录 in a row: what the checks found, in one or two sentences (details: appendix)."""
    checks = c["checks"]
    if not checks:
        record = ("无自动核查项，需人工核查并记录。" if c["manual_attestation"]
                  else "本次测评未取得该项结果。")  # fmt: skip
    elif c["effective"] == "not_applicable":
        reasons = dict.fromkeys(evidence.text(ch["reason"]) for ch in checks if ch["reason"])
        record = f"不适用：{'；'.join(reasons) or '无适用对象'}。"
    else:
        tally = {s: sum(1 for ch in checks if ch["status"] == s) for s in ("pass", "fail")}
        record = f"自动核查 {len(checks)} 项：符合 {tally['pass']}，不符合 {tally['fail']}。"
        failed = [evidence.CHECKS.get(ch["check"], ch["check"]) for ch in checks
                  if ch["status"] == "fail"]  # fmt: skip
        record += f"未满足：{'、'.join(failed)}。" if failed else ""
    if c["manual_attestation"] and checks:
        record += "另需人工确认。"
    if c["waiver"]:
        record += f"已豁免（{c['waiver']['id']}）。"
    return record


def _item_table(std: dict[str, Any], st: dict[str, ParagraphStyle]) -> Table:
    head = [_p(t, st["base"]) for t in ("安全类", "控制点", "测评项", "结果记录", "符合程度")]
    rows = [head]
    for sec in std["sections"]:
        for c in sec["controls"]:
            item = Paragraph(f"<b>{escape(c['id'])}</b> {escape(c['title']['zh'])}<br/>"
                             f"{escape(c['requirement']['zh'])}", st["small"])  # fmt: skip
            mark = c["conformity"] + ("（已豁免）" if c["effective"] == "waived" else "")
            rows.append([_p(std["category"]["zh"], st["small"]), _p(c["control_point"], st["small"]),
                         item, _p(_record(c), st["small"]), _p(mark, st["base"])])  # fmt: skip
    table = Table(rows, colWidths=[22 * mm, 20 * mm, 62 * mm, 56 * mm, WIDTH - 160 * mm],
                  repeatRows=1, splitInRow=1)  # fmt: skip
    table.setStyle(
        TableStyle([*_GRID, ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee"))])
    )
    return table


def _items_chapter(report: dict[str, Any], st: dict[str, ParagraphStyle]) -> list[Any]:
    out: list[Any] = [PageBreak(), _p("二、单项测评结果", st["h1"])]
    for std in report["standards"]:
        out += [_p(f"{std['standard']}　{std['title']['zh']}", st["h2"]), _item_table(std, st)]
    return out


def _appendix(report: dict[str, Any], st: dict[str, ParagraphStyle]) -> list[Any]:
    out: list[Any] = [PageBreak(), _p("附录　测评证据记录", st["h1"])]
    for c in _items(report):
        lines = [line for ch in c["checks"] for line in evidence.check_lines(ch)]
        if c["waiver"]:
            lines.append(c["waiver_line"])
        if c["effective"] in {"fail", "waived"}:
            lines.append(f"整改建议：{c['remediation']['zh']}")
        if c["evidence_kept"]:
            lines.append("留存证据：" + "、".join(c["evidence_kept"]))
        head = f"{c['id']}　{c['title']['zh']}　—　{c['conformity']}"
        out += [CondPageBreak(25 * mm), _p(head, st["h3"]), _lines(lines, st["small"]),
                trend_drawing(c["trend"])]  # fmt: skip
    return out


def _fingerprint(pem: str) -> str:
    body = "".join(line for line in pem.splitlines() if line and not line.startswith("-----"))
    digest = hashlib.sha256(base64.b64decode(body)).hexdigest().upper()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def _signature(report: dict[str, Any], st: dict[str, ParagraphStyle]) -> list[Any]:
    s = report["run"]["signoff"]
    out: list[Any] = [CondPageBreak(90 * mm), _p("三、合规负责人签署", st["h1"])]
    rows: list[tuple[str, Any]]
    if not s:
        rows = [("合规负责人", "（待签署）"), ("签署时间", ""), ("复核意见", ""),
                ("签名", "本报告为草稿，经合规负责人签署后方为正式报告。")]  # fmt: skip
        return [*out, _pairs(rows, st, 40 * mm)]
    cert = s.get("certificate")
    rows = [("合规负责人", s["officer"]), ("签署时间", local_time(s["signed_at"])),
            ("复核意见", s["comment"] or "—"),
            ("签名算法", "SM2 签名（SM3 杂凑，GB/T 32918.2，用户标识 1234567812345678），对本 PDF 全部字节的分离签名"),
            ("签名公钥指纹", Paragraph(escape(f"SHA-256 {_fingerprint(s['public_key_pem'])}"), st["small"]))]  # fmt: skip
    if cert:
        rows += [("签名证书主题", cert["subject"]), ("证书序列号", cert["serial"]),
                 ("证书颁发者", cert["issuer"]),
                 ("证书有效期", f"{local_time(cert['not_before'])} 至 {local_time(cert['not_after'])}")]  # fmt: skip
    else:
        rows.append(("签名证书", "未配置（compliance.signing_cert_file），仅以公钥核验"))
    rows.append(
        ("核验方法", "anbao compliance verify-report report.pdf --sig report.sig --pub officer.pub")
    )
    return [*out, KeepTogether(_pairs(rows, st, 40 * mm))]


def _metadata(report: dict[str, Any]) -> dict[str, Any]:
    c, a = report["cover"], report["assessment"]
    standards = [s["standard"] for s in report["standards"]]
    return {
        "title": f"{TITLE} {c['system_name']} {c['report_number']}",
        "author": c["organisation"],
        "subject": f"{c['system_name']}（{c['level_zh']}）等级保护测评，结论：{a['conclusion']}",
        "creator": "Anbao",
        "keywords": [
            "等级保护",
            "等级测评",
            "MLPS 2.0",
            "GB/T 28448-2019",
            *standards,
            a["conclusion"],
        ],
    }


def render(report: dict[str, Any], font_file: str = DEFAULT_FONT) -> bytes:
    font = _font(font_file)
    st = _styles(font)
    story = [*_cover(report, st), *_conclusion(report, st), *_items_chapter(report, st),
             *_signature(report, st), *_appendix(report, st)]  # fmt: skip
    out = io.BytesIO()
    doc = SimpleDocTemplate(out, pagesize=A4, leftMargin=15 * mm, rightMargin=15 * mm,
                            topMargin=15 * mm, bottomMargin=15 * mm, invariant=True,
                            **_metadata(report))  # fmt: skip

    class ReportCanvas(_NumberedCanvas):
        header = _header(report)

    doc.build(story, canvasmaker=ReportCanvas)
    return out.getvalue()


def _header(report: dict[str, Any]) -> str:
    c = report["cover"]
    draft = "" if report["run"]["signoff"] else "　草稿"
    return f"{TITLE}　{c['system_name']}　报告编号 {c['report_number']}{draft}"
