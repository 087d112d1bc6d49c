"""Automated checks, one module per evidence source; :data:`REGISTRY` maps check id -> check.

A check is a pure function of a source's facts (see :mod:`policies.ports`) and the run's context;
it returns findings that name the setting looked at and the value observed. A room of its own
because the checks are pure and testable from facts alone; the inspectors that gather the facts
are adapters imported by module by the composition root: ``policies.checks.keycloak`` (the realm,
read-only) and ``policies.checks.platform`` (audit, crypto, SIEM and settings).
"""

from __future__ import annotations

from policies.checks import audit, crypto, realm, siem, transport
from policies.checks.base import Check, Context, NotApplicable, finding

REGISTRY: dict[str, Check] = {
    c.id: c for module in (realm, audit, crypto, siem, transport) for c in module.CHECKS
}

__all__ = ["REGISTRY", "Check", "Context", "NotApplicable", "finding"]
