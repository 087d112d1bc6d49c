"""An app on Anbao's identity in a few lines: sign-in (authorization code + PKCE) and a protected API.

Register it once (a public client: no secret, PKCE S256 enforced by Keycloak)::

    anbao iam apps register permits-demo --type public \\
        --redirect-uri http://127.0.0.1:8765/callback --role approver

then run it against the local Keycloak and open http://127.0.0.1:8765/::

    PERMITS_REALM=anbao uvicorn --app-dir examples permits_app:app --port 8765

* ``/login`` sends the browser to Keycloak with a fresh PKCE verifier (authlib does RFC 7636);
* ``/callback`` exchanges the code (with the verifier) for tokens;
* ``/api/permits`` is the app's own API: any signed-in user of the realm (``protect``);
* ``/api/permits/approve`` needs the app's ``approver`` role and a stronger sign-in (``acr`` 2):
  with a weaker one it answers 401 ``insufficient_user_authentication`` (RFC 9470), and the
  client signs in again through ``/login?acr=2``.

Pending logins and sessions are kept in memory to stay short; a real app keeps them in its
session store. See docs/app-developers.md.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import secrets
from collections.abc import Mapping
from typing import Any

import falcon
import falcon.asgi
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session

from iam.tokens.falcon import App, protect, requires
from iam.tokens.keycloak import issuer_url, keycloak_verifier
from iam.tokens.verifier import TokenVerifier


@dataclasses.dataclass(frozen=True)
class Config:
    keycloak: str = "http://127.0.0.1:8080"
    realm: str = "anbao"
    client_id: str = "permits-demo"
    redirect_uri: str = "http://127.0.0.1:8765/callback"

    @property
    def oidc(self) -> str:
        return issuer_url(self.keycloak, self.realm) + "/protocol/openid-connect"

    def oauth(self) -> OAuth2Session:
        return OAuth2Session(
            self.client_id,
            redirect_uri=self.redirect_uri,
            scope="openid",
            code_challenge_method="S256",  # RFC 7636: authlib derives the challenge
            token_endpoint_auth_method="none",  # noqa: S106 - public client: PKCE, no secret
        )


class Login:
    auth_required = False  # the sign-in pages are public; everything else needs a token

    def __init__(self, config: Config, pending: dict[str, str]) -> None:
        self.config, self.pending = config, pending  # pending: state -> PKCE verifier

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        verifier = generate_token(48)
        extra = {"acr_values": req.get_param("acr")} if req.get_param("acr") else {}
        url, state = self.config.oauth().create_authorization_url(
            self.config.oidc + "/auth", code_verifier=verifier, **extra
        )
        self.pending[state] = verifier
        raise falcon.HTTPFound(url)


class Callback:
    auth_required = False

    def __init__(
        self, config: Config, pending: dict[str, str], sessions: dict[str, dict[str, Any]]
    ) -> None:
        self.config, self.pending, self.sessions = config, pending, sessions

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        verifier = self.pending.pop(req.get_param("state") or "", None)
        code = req.get_param("code")
        if verifier is None or not code:
            raise falcon.HTTPBadRequest(
                description="Unknown or replayed login, or sign-in refused."
            )
        token = await asyncio.to_thread(
            self.config.oauth().fetch_token,
            self.config.oidc + "/token",
            code=code,
            code_verifier=verifier,
        )
        session = secrets.token_urlsafe(24)
        self.sessions[session] = dict(token)
        resp.set_cookie("session", session, secure=False, http_only=True, same_site="Lax")
        raise falcon.HTTPFound("/")


class Home:
    auth_required = False

    def __init__(self, sessions: dict[str, dict[str, Any]]) -> None:
        self.sessions = sessions

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        cookie = (req.get_cookie_values("session") or [""])[0]
        token = self.sessions.get(cookie)
        if token is None:
            raise falcon.HTTPFound("/login")
        resp.media = {"signed_in": True, "access_token": token["access_token"]}


class Permits:
    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        user = req.context.principal  # verified by the middleware protect() added
        resp.media = {"permits": [], "for": user.username, "acr": user.acr}

    @requires(client_roles=["approver"], acr="2")
    async def on_post_approve(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        resp.media = {"approved": True, "by": req.context.principal.username}


def create_app(config: Config, verifier: TokenVerifier | None = None) -> App:
    app: App = falcon.asgi.App()
    verifier = verifier or keycloak_verifier(
        config.keycloak, config.realm, audience=config.client_id
    )
    protect(app, verifier)  # deny by default; closes the verifier at shutdown
    pending: dict[str, str] = {}
    sessions: dict[str, dict[str, Any]] = {}
    app.add_route("/login", Login(config, pending))
    app.add_route("/callback", Callback(config, pending, sessions))
    app.add_route("/", Home(sessions))
    app.add_route("/api/permits", Permits())
    app.add_route("/api/permits/approve", Permits(), suffix="approve")
    return app


def config_from(env: Mapping[str, str]) -> Config:
    defaults = Config()
    return Config(
        keycloak=env.get("PERMITS_KEYCLOAK_URL", defaults.keycloak),
        realm=env.get("PERMITS_REALM", defaults.realm),
        client_id=env.get("PERMITS_CLIENT_ID", defaults.client_id),
        redirect_uri=env.get("PERMITS_REDIRECT_URI", defaults.redirect_uri),
    )


app = create_app(config_from(os.environ))  # noqa: TID251 - an app reads its own configuration
