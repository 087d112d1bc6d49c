"""Compliance reports: the content of an assessment workbook, rendered as JSON, HTML or PDF, signed.

A room of its own because a report is an issued document: its content is laid out by standard,
section and clause (``content``), rendered by format (``html``: Jinja2, ``pdf``: reportlab with
an embedded Chinese font; each imported by module, as the renderers are heavy) and signed with
SM2 or sealed with an e-seal (re-exported here).
"""

from policies.reports.signing import SealReportSealer, Sm2ReportSigner, verify_report

__all__ = ["SealReportSealer", "Sm2ReportSigner", "verify_report"]
