"""The web edge: what every request meets before and after a resource, whatever the feature.

A room of its own because these concerns cut across every feature and must be written once:
request ids, body limits and timeouts, checked path parameters, RFC 9457 problem responses,
metrics, readiness, the access log and the OpenAPI document. It knows Falcon and no feature:
wiring and the app factory import it, never the reverse.

The public units are its modules (``anbao.web.openapi.Api``, ``anbao.web.health.Readiness``),
listed in ``__all__`` but not imported here: the access-log writer runs as a child process
(``python -m anbao.web.accesslog``) and must start without loading Falcon and the rest of the
edge, and ``python -m`` warns about a module its package has already imported.
"""

__all__ = [
    "accesslog",
    "asgi_app",
    "bodies",
    "errors",
    "health",
    "metrics",
    "middleware",
    "openapi",
    "path_params",
    "resources",
]
