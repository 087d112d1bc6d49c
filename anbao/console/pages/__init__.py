"""The console's pages, one module per job: each has ``add_routes(app, console)``."""

__all__ = [
    "alerts",
    "apps",
    "audit",
    "compliance",
    "orgs",
    "overview",
    "seal_verify",
    "seals",
]
