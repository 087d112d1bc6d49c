"""HTML report (Jinja2, autoescaped), with an inline SVG trend per clause."""

from __future__ import annotations

from typing import Any

import jinja2

COLOURS = {"pass": "#2e7d32", "fail": "#c62828", "manual": "#f9a825", "not_applicable": "#9e9e9e"}

_TEMPLATE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<title>合规评估报告 Compliance report {{ r.run.id }}</title>
<style>
body{font-family:"WenQuanYi Zen Hei","Noto Sans CJK SC",sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;width:100%;margin-bottom:1em}
th,td{border:1px solid #bbb;padding:4px 6px;vertical-align:top;font-size:13px}
th{background:#eee}.pass{color:#2e7d32}.fail{color:#c62828}.manual{color:#b8860b}
.not_applicable{color:#777}.waived{color:#6a1b9a}code{font-size:12px}
</style></head><body>
<h1>合规评估报告 / Compliance assessment report</h1>
<p>Run <code>{{ r.run.id }}</code> · {{ r.run.started_at }} · trigger {{ r.run.trigger }}
 · requested by {{ r.run.requested_by or "-" }}</p>
<p>Summary: {% for k, v in r.run.counts.items() %}{{ k }} {{ v }}{% if not loop.last %} · {% endif %}
{% endfor %}</p>
{% if r.run.signoff %}<p><b>签署 / Signed off</b> by {{ r.run.signoff.officer }} at
 {{ r.run.signoff.signed_at }}: {{ r.run.signoff.comment }}</p>{% endif %}
{% if r.changes %}<h2>与上次比较 / Changes since the previous run</h2><ul>
{% for c in r.changes %}<li>{{ c.control_id }}: {{ c.before or "—" }} → {{ c.after }}</li>{% endfor %}
</ul>{% endif %}
{% for s in r.standards %}<h2>{{ s.standard }} — {{ s.title.zh }}<br><small>{{ s.title.en }}</small></h2>
{% for sec in s.sections %}<h3>{{ sec.section }}</h3>
<table><tr><th>测评项 Item</th><th>条款 Clause</th><th>要求 Requirement</th><th>结果 Result</th>
<th>证据 Evidence</th><th>趋势 Trend</th></tr>
{% for c in sec.controls %}<tr id="{{ c.id }}"><td>{{ c.id }}</td><td>{{ c.clause }}</td>
<td><b>{{ c.title.zh }}</b><br>{{ c.title.en }}<br><small>{{ c.requirement.zh }}</small></td>
<td class="{{ c.effective }}">{{ c.status_zh }}<br>{{ c.effective }}
{% if c.manual_attestation %}<br><small>需人工确认 attestation</small>{% endif %}</td>
<td>{% for ch in c.checks %}<div><code>{{ ch.check }}</code> <span class="{{ ch.status }}">{{ ch.status }}</span>
{% if ch.reason %}<small> — {{ ch.reason }}</small>{% endif %}<ul>
{% for f in ch.findings %}<li class="{{ 'pass' if f.ok else 'fail' }}"><code>{{ f.setting }}</code> = {{ f.observed }}
 (expected {{ f.expected }}){% if f.note %} {{ f.note }}{% endif %}</li>{% endfor %}</ul></div>{% endfor %}
{% if c.waiver %}<div class="waived">{{ c.waiver_line }}</div>{% endif %}
{% if c.effective == "fail" %}<div><small>整改 {{ c.remediation.zh }} / {{ c.remediation.en }}</small></div>{% endif %}
</td><td>{{ trend_svg(c.trend) | safe }}</td></tr>{% endfor %}</table>
{% endfor %}{% endfor %}
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


def render(report: dict[str, Any]) -> bytes:
    return _ENV.from_string(_TEMPLATE).render(r=report).encode("utf-8")
