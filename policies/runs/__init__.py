"""Compliance runs and waivers: run the catalogue, waive with four eyes, compare, sign off.

A room of its own because a run is a record with history (what was found when, who waived
what and why, who signed off) kept in its own database; the use cases here are
framework-free. The SQL store (``policies.runs.store``, ``migrations``) is imported by module;
``policies.runs.codec`` gives the stored and reported JSON form.
"""

from policies.runs.service import (
    MAX_REASON,
    MAX_TEXT,
    ComplianceService,
    control_status,
    evaluate,
)

__all__ = ["MAX_REASON", "MAX_TEXT", "ComplianceService", "control_status", "evaluate"]
