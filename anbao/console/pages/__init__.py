"""The console's pages, one module per job: each has ``add_routes(app, console)``."""

__all__ = ["overview"]
