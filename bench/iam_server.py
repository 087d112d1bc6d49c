"""The ASGI app ``bench/iam.py`` loads with wrk: one endpoint behind four kinds of check.

* ``/open``        no authentication (the reference for the SDK's overhead);
* ``/protected``   :class:`iam.tokens.falcon.AuthMiddleware` with the SDK's verifier
                   (``BENCH_CACHE`` sets its verified-token cache size; 0 = verify every time);
* ``/bare``        joserfc's bare ``jwt.decode`` + claims registry in the responder
                   (what a developer writes by hand with the library and no SDK);
* ``/introspect``  an RFC 7662 call to Keycloak on every request.

Every endpoint answers the same small JSON document. Configured by environment variables so
uvicorn can build it with ``--factory``.
"""

from __future__ import annotations

import os
from typing import Any

import falcon
import falcon.asgi
import httpx
from joserfc import jwt
from joserfc.jwk import KeySet

from anbao.web import errors
from iam.errors import Unauthenticated
from iam.tokens.falcon import AuthMiddleware, bearer_token
from iam.tokens.keycloak import KeycloakJwks, issuer_url, keycloak_verifier


class Open:
    auth_required = False

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        resp.media = {"ok": True, "sub": None}


class Protected:
    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        resp.media = {"ok": True, "sub": req.context.principal.subject}


class Bare:
    """Hand-written joserfc verification: decode, then the iss/aud/exp registry."""

    auth_required = False

    def __init__(self, keys: KeySet, issuer: str, audience: str) -> None:
        self._keys = keys
        self._issuer = issuer
        self._audience = audience

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        token = jwt.decode(bearer_token(req.get_header("Authorization")), self._keys, ["RS256"])
        jwt.JWTClaimsRegistry(
            leeway=30,
            iss={"essential": True, "value": self._issuer},
            aud={"essential": True, "value": self._audience},
            exp={"essential": True},
        ).validate(token.claims)
        resp.media = {"ok": True, "sub": token.claims["sub"]}


class Introspect:
    auth_required = False

    def __init__(self, url: str, client: httpx.AsyncClient) -> None:
        self._url = url
        self._client = client

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        token = bearer_token(req.get_header("Authorization"))
        answer: dict[str, Any] = (await self._client.post(self._url, data={"token": token})).json()
        if answer.get("active") is not True:
            raise Unauthenticated("inactive")
        resp.media = {"ok": True, "sub": answer.get("sub")}


def make_app() -> falcon.asgi.App:
    base, realm = os.environ["BENCH_KC_URL"], os.environ["BENCH_REALM"]
    audience = os.environ["BENCH_AUDIENCE"]
    issuer = issuer_url(base, realm)
    verifier = keycloak_verifier(
        base, realm, audience=audience, cache_size=int(os.environ.get("BENCH_CACHE", "10000"))
    )
    verifier.refresh()
    keys = KeySet.import_key_set(
        {"keys": [k for k in KeycloakJwks(base, realm).fetch()["keys"] if k.get("use") == "sig"]}
    )
    client = httpx.AsyncClient(
        auth=(audience, os.environ["BENCH_API_SECRET"]),
        limits=httpx.Limits(max_connections=64, max_keepalive_connections=64),
        timeout=10,
    )
    app = falcon.asgi.App(middleware=[AuthMiddleware(verifier)])
    errors.install(app)
    app.add_route("/open", Open())
    app.add_route("/protected", Protected())
    app.add_route("/bare", Bare(keys, issuer, audience))
    app.add_route(
        "/introspect", Introspect(issuer + "/protocol/openid-connect/token/introspect", client)
    )
    return app
