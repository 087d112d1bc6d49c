"""Parameters checked at the edge, once: ids never reach a resource malformed, and every query
parameter is one value that says something.

An id in a URL is forwarded to Keycloak, a database or a file name. Before this check a person
id of ``..`` made the admin URL name the realm itself, an over-long id came back as Keycloak's
414 and a control character as its 400, both reported as an outage. Every route's parameters
are checked here against one table, after authentication (an anonymous caller learns nothing
about ids) and before the resource runs; the same table gives the OpenAPI document its
parameter schemas, so the published contract is the enforced one.

A value that breaks its rule names no resource: 404, as for an id that does not exist.

Query parameters: every one the API defines takes a single value, so a parameter given twice
(``?state=a&state=b``) or given empty (``?until=``) is the client's mistake (400), refused here
for every route. Before, resources read the last or the first of repeated values, and read an
empty value as "not given" — accepting what the published schema (an enum, a date-time, an
integer) says is invalid. The OpenAPI document states the same rule
(:func:`anbao.web.openapi.query_rule`).

The web console's resources say ``own_parameters = True`` and are left alone: a browser's GET
form sends every field, empty ones included, and a group of checkboxes as one name repeated
(HTML's form submission algorithm), and the console's static files are named by a path
(``vendor/htmx.min.js``) looked up in a table of the files it has. Each reads and checks its own
input; what the console sends on to the API is checked here like any other call.
"""

from __future__ import annotations

import re
from typing import Any

import falcon
import falcon.asgi

from iam.apps.model import CLIENT_ID, ROLE_NAME

#: Any id the platform issues or accepts: UUIDs (Keycloak, audit events), hex ids, codes;
#: URL-safe characters only, and never a dot-segment (RFC 3986 §5.2.4: ``.``, ``..``).
ID_PATTERN = r"[A-Za-z0-9_~:-][A-Za-z0-9._~:-]{0,127}"

#: JSON Schema of each path parameter, by name; a name not listed is an id.
SCHEMAS: dict[str, dict[str, Any]] = {
    "client_id": {"type": "string", "pattern": f"^{CLIENT_ID.pattern}$"},
    "role": {"type": "string", "pattern": f"^{ROLE_NAME.pattern}$"},
    "kind": {"type": "string", "enum": ["nodes", "people"]},
}
ID_SCHEMA: dict[str, Any] = {"type": "string", "pattern": f"^{ID_PATTERN}$"}


def schema(name: str) -> dict[str, Any]:
    """The JSON Schema of the path parameter ``name``."""
    return SCHEMAS.get(name, ID_SCHEMA)


def _matcher(rule: dict[str, Any]) -> re.Pattern[str]:
    if "enum" in rule:
        return re.compile("|".join(re.escape(v) for v in rule["enum"]))
    return re.compile(str(rule["pattern"]).removeprefix("^").removesuffix("$"))


_MATCHERS = {name: _matcher(rule).fullmatch for name, rule in SCHEMAS.items()}
_ID = re.compile(ID_PATTERN).fullmatch


class PathParameterCheck:
    """Falcon middleware: 404 for a path parameter that breaks the rule of its name; 400 for a
    query parameter given twice or empty."""

    async def process_resource(
        self,
        req: falcon.asgi.Request,
        resp: falcon.asgi.Response,
        resource: object,
        params: dict[str, Any],
    ) -> None:
        del resp
        if getattr(resource, "own_parameters", False):
            return
        # Both loops are skipped when there is nothing to check: this runs on every request.
        for name, given in req.params.items() if req.query_string else ():
            if isinstance(given, list):
                raise falcon.HTTPBadRequest(
                    title="Invalid parameter",
                    description=f"The query parameter {name[:64]} is given more than once.",
                )
            if given == "":
                raise falcon.HTTPBadRequest(
                    title="Invalid parameter",
                    description=f"The query parameter {name[:64]} is empty: give a value or omit it.",
                )
        for name, value in params.items():
            if not isinstance(value, str) or not _MATCHERS.get(name, _ID)(value):
                raise falcon.HTTPNotFound(
                    description=f"The path parameter {name} is not a valid {name}."
                )
