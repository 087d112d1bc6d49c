"""The OpenAPI 3.1 document, built from the routes the app actually serves.

Routes are added through :meth:`Api.add_route`, which records the resource next to Falcon's
router; each resource describes its operations in an ``openapi`` class attribute. A route whose
resource does not describe one of its responders fails at start-up, and a test compares the
document with Falcon's own route inspection, so the document cannot drift from the code.
"""

from __future__ import annotations

import re
from typing import Any

from anbao import __version__
from anbao.web import path_params
from anbao.web.asgi_app import AsgiApp
from anbao.web.bodies import Options
from anbao.web.errors import PROBLEM_JSON

_PARAM = re.compile(r"{(\w+)(?::[^}]*)?}")
_METHODS = ("get", "put", "post", "delete", "patch")

PROBLEM_SCHEMA = {
    "type": "object",
    "description": "RFC 9457 problem details",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {"type": "string", "format": "uri"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "request_id": {"type": "string"},
    },
}


class Api:
    """Adds routes to the Falcon app and remembers them for the OpenAPI document."""

    def __init__(self, app: AsgiApp) -> None:
        if not isinstance(app.req_options, Options):
            raise TypeError("Api needs anbao.web.bodies.App: bodies are checked at the edge")
        self.app = app
        self.routes: list[tuple[str, object]] = []
        # Request bodies are checked against the schemas this document publishes.
        self._bodies = app.req_options

    def add_route(self, template: str, resource: object) -> None:
        spec = getattr(resource, "openapi", None)
        responders = {m for m in _METHODS if hasattr(resource, f"on_{m}")}
        documented = set(spec or {})
        if responders != documented:
            raise TypeError(
                f"{type(resource).__name__}: openapi documents {sorted(documented)}, responders are {sorted(responders)}"
            )
        self.app.add_route(template, resource)
        self._bodies.add(template, spec or {})
        self.routes.append((template, resource))

    def document(self) -> dict[str, Any]:
        paths: dict[str, Any] = {}
        for template, resource in self.routes:
            path = _PARAM.sub(r"{\1}", template)
            item = paths.setdefault(path, {})
            params = [
                {"name": n, "in": "path", "required": True, "schema": path_params.schema(n)}
                for n in _PARAM.findall(template)
            ]
            for method, operation in getattr(resource, "openapi", {}).items():
                item[method] = _operation(
                    operation, params, getattr(resource, "auth_required", True)
                )
        return {
            "openapi": "3.1.0",
            "info": {"title": "Anbao API", "version": __version__},
            "paths": paths,
            "components": {
                "schemas": {"Problem": PROBLEM_SCHEMA},
                "securitySchemes": {
                    "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
                },
            },
            "security": [{"bearer": []}],
        }


def _operation(
    operation: dict[str, Any], params: list[dict[str, Any]], auth: bool
) -> dict[str, Any]:
    result = dict(operation)
    responses = dict(result.get("responses", {}))
    problem = {"content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}}
    responses.setdefault("default", {"description": "Error", **problem})
    if auth:
        responses.setdefault("401", {"description": "Missing or invalid bearer token", **problem})
    result["responses"] = responses
    own = [query_rule(p) for p in result.get("parameters", [])]
    named = {(p["name"], p["in"]) for p in own}
    # A parameter the operation describes itself replaces the generated one (OpenAPI 3.1
    # §4.8.10: a parameter is unique by name and location).
    merged = [p for p in params if (p["name"], p["in"]) not in named] + own
    if merged:
        result["parameters"] = merged
    if not auth:
        result["security"] = []
    return result


def query_rule(parameter: dict[str, Any]) -> dict[str, Any]:
    """A query parameter as the edge enforces it (:mod:`anbao.web.path_params`): one value, never
    empty — a string without a finer rule says ``minLength: 1``."""
    schema = parameter.get("schema", {})
    if parameter.get("in") != "query" or schema.get("type") != "string" or "enum" in schema:
        return parameter
    return {**parameter, "schema": {"minLength": 1, **schema}}
