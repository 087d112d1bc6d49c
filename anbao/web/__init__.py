"""The web edge: what every request meets before and after a resource, whatever the feature.

A room of its own because these concerns cut across every feature and must be written once:
request ids, body limits and timeouts, checked path parameters, RFC 9457 problem responses,
metrics, readiness, the access log and the OpenAPI document. It knows Falcon and no feature:
wiring and the app factory import it, never the reverse.
"""

from anbao.web import bodies, errors
from anbao.web.accesslog import AccessLog
from anbao.web.asgi_app import AsgiApp
from anbao.web.health import Dependency, Readiness, blocking_probe, keycloak_probe
from anbao.web.metrics import Metrics
from anbao.web.middleware import RequestContextMiddleware
from anbao.web.openapi import Api
from anbao.web.path_params import PathParameterCheck
from anbao.web.resources import Health, MetricsResource, OpenApiDocument, Ready, WhoAmI

__all__ = [
    "AccessLog",
    "Api",
    "AsgiApp",
    "Dependency",
    "Health",
    "Metrics",
    "MetricsResource",
    "OpenApiDocument",
    "PathParameterCheck",
    "Readiness",
    "Ready",
    "RequestContextMiddleware",
    "WhoAmI",
    "blocking_probe",
    "bodies",
    "errors",
    "keycloak_probe",
]
