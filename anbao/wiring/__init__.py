"""Wiring: one module per feature, each building that feature's parts from settings and adapters.

A room of its own because it is the only place where concrete adapters meet (Keycloak, the
stores, the recorder, the seal registry): domain packages stay unaware of each other and of
the deployment. The app factory (``anbao.app``) and the CLI compose these modules; wiring
imports neither (import-linter holds it), so a tool or a worker can build one feature without
building the app.

The public units are the feature modules (``from anbao.wiring import seals``), listed in
``__all__`` but not imported here: a CLI command that needs one feature must not load every
other (as ``anbao.cli`` imports its groups only when named).
"""

__all__ = [
    "analyst_scope",
    "audit",
    "audit_integrity",
    "compliance",
    "delivery",
    "elasticsearch",
    "feature",
    "iam",
    "identity_events",
    "keycloak",
    "people",
    "role_audit",
    "seals",
    "search",
    "siem",
    "siem_alerts",
    "singleton",
]
