"""Wiring: one module per feature, each building that feature's parts from settings and adapters.

A room of its own because it is the only place where concrete adapters meet (Keycloak, the
stores, the recorder, the seal registry): domain packages stay unaware of each other and of
the deployment. The app factory (``anbao.app``) and the CLI compose these modules; wiring
imports neither (import-linter holds it), so a tool or a worker can build one feature without
building the app. Each feature is re-exported as its module (``wiring.seals.attach``).
"""

from anbao.wiring import (
    analyst_scope,
    audit,
    compliance,
    identity_events,
    people,
    role_audit,
    seals,
    siem,
    siem_alerts,
)

__all__ = [
    "analyst_scope",
    "audit",
    "compliance",
    "identity_events",
    "people",
    "role_audit",
    "seals",
    "siem",
    "siem_alerts",
]
