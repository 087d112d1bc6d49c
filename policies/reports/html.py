# ruff: noqa: RUF001 - Chinese text takes Chinese (full-width) punctuation
"""HTML report (Jinja2, autoescaped): the PDF's cover, conclusion and per-item rows in one page,
with an inline SVG trend per clause (same content dict, same judgements, Beijing times)."""

from __future__ import annotations

from typing import Any

import jinja2

from policies.reports import evidence
from policies.reports.assessment import local_time

COLOURS = {"pass": "#2e7d32", "fail": "#c62828", "manual": "#f9a825", "not_applicable": "#9e9e9e"}

_TEMPLATE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<title>网络安全等级保护测评报告 {{ r.cover.system_name }} {{ r.cover.report_number }}</title>
<style>
body{font-family:"WenQuanYi Zen Hei","Noto Sans CJK SC",sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;width:100%;margin-bottom:1em}
th,td{border:1px solid #bbb;padding:4px 6px;vertical-align:top;font-size:13px}
th{background:#eee;text-align:left}.pass{color:#2e7d32}.fail{color:#c62828}.manual{color:#b8860b}
.not_applicable{color:#777}.waived{color:#6a1b9a}code{font-size:12px}
.evidence{white-space:pre-wrap;font-size:12px;margin:0}
</style></head><body>
<h1>网络安全等级保护测评报告{% if not r.run.signoff %}（草稿，未签署）{% endif %}</h1>
<table class="cover">
<tr><th>报告编号</th><td>{{ r.cover.report_number }}</td></tr>
<tr><th>被测对象</th><td>{{ r.cover.system_name }}</td></tr>
<tr><th>被测单位</th><td>{{ r.cover.organisation }}</td></tr>
<tr><th>安全保护等级</th><td>{{ r.cover.level_zh }}</td></tr>
<tr><th>备案编号</th><td>{{ r.cover.filing_number }}</td></tr>
<tr><th>测评期间</th><td>{{ r.cover.period }}</td></tr>
<tr><th>合规负责人</th><td>{{ r.cover.officer }}</td></tr>
<tr><th>报告日期</th><td>{{ r.cover.date }}</td></tr>
</table>
<h2>一、等级测评结论</h2>
<table class="conclusion">
<tr><th>测评项统计</th><td>{% for k, v in r.assessment.counts.items() %}{{ k }} {{ v }} 项{% if not loop.last %} · {% endif %}{% endfor %}</td></tr>
<tr><th>符合率</th><td>{{ r.assessment.rate_text }}（符合项 ÷（已测评项 - 不适用项））</td></tr>
<tr><th>重大风险隐患数量</th><td>{{ r.assessment.major_risks_text }}</td></tr>
<tr><th>等级测评结论</th><td><b>{{ r.assessment.conclusion }}</b>{% if r.assessment.provisional %}（暂定）{% endif %}</td></tr>
{% if r.assessment.note %}<tr><th>说明</th><td>{{ r.assessment.note }}</td></tr>{% endif %}
</table>
<p>测评批次 <code>{{ r.run.id }}</code>，{{ r.run.started_at | local }} 开始，发起方式 {{ r.run.trigger }}，
发起人 {{ r.run.requested_by or "—" }}</p>
{% if r.run.signoff %}<p><b>签署 / Signed off</b>：{{ r.run.signoff.officer }}，
 {{ r.run.signoff.signed_at | local }}：{{ r.run.signoff.comment }}
{% if r.run.signoff.certificate %}<br>签名证书 {{ r.run.signoff.certificate.subject }}，序列号
 {{ r.run.signoff.certificate.serial }}，颁发者 {{ r.run.signoff.certificate.issuer }}{% endif %}</p>{% endif %}
{% if r.changes %}<h2>与上次比较 / Changes since the previous run</h2><ul>
{% for c in r.changes %}<li>{{ c.control_id }}: {{ c.before or "—" }} → {{ c.after }}</li>{% endfor %}
</ul>{% endif %}
<h2>二、单项测评结果</h2>
{% for s in r.standards %}<h3>{{ s.standard }} — {{ s.title.zh }}<br><small>{{ s.title.en }}</small></h3>
<table><tr><th>安全类</th><th>控制点</th><th>测评项</th><th>结果记录 / 证据</th><th>符合程度</th>
<th>趋势</th></tr>
{% for sec in s.sections %}{% for c in sec.controls %}<tr id="{{ c.id }}"><td>{{ s.category.zh }}</td>
<td>{{ c.control_point }}</td>
<td><b>{{ c.id }}</b> {{ c.title.zh }}<br><small>{{ c.requirement.zh }}</small></td>
<td>{% for ch in c.checks %}<pre class="evidence">{{ check_lines(ch) | join("\n") }}</pre>{% endfor %}
{% if c.manual_attestation %}<div><small>需人工确认 attestation</small></div>{% endif %}
{% if c.waiver %}<div class="waived">{{ c.waiver_line }}</div>{% endif %}
{% if c.effective == "fail" %}<div><small>整改建议 {{ c.remediation.zh }}</small></div>{% endif %}
</td><td class="{{ c.effective }}">{{ c.conformity }}{% if c.effective == "waived" %}（已豁免）{% endif %}</td>
<td>{{ trend_svg(c.trend) | safe }}</td></tr>{% endfor %}{% endfor %}</table>
{% endfor %}
</body></html>
"""


def trend_svg(statuses: list[str]) -> str:
    """A strip of coloured cells, oldest left; only fixed colours and numbers go into the SVG."""
    cell = 10
    rects = "".join(
        f'<rect x="{i * (cell + 2)}" y="0" width="{cell}" height="{cell}" '
        f'fill="{COLOURS.get(s, "#000")}"/>'
        for i, s in enumerate(statuses)
    )
    width = max(1, len(statuses)) * (cell + 2)
    return f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{cell}">{rects}</svg>'


_ENV = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
_ENV.globals["trend_svg"] = trend_svg
_ENV.globals["check_lines"] = evidence.check_lines
_ENV.filters["local"] = local_time


def render(report: dict[str, Any]) -> bytes:
    return _ENV.from_string(_TEMPLATE).render(r=report).encode("utf-8")
