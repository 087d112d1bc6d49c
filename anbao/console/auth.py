"""Sign-in, step-up, sign-out and language: the console's side of the realm's login.

* ``GET /console/login?next=&acr=`` starts an authorization request (PKCE S256, state, nonce;
  ``acr_values`` for step-up) and sends the browser to Keycloak. The pending login is kept on
  the server under its ``state``, and the browser gets a short ``SameSite=Lax`` cookie with the
  state so that only the browser which started it can finish it (login CSRF).
* ``GET /console/callback`` takes the code once, exchanges it with the client secret and the
  verifier, verifies the access token with the API's own verifier, and opens the session (or
  raises the stepped-up session's level, keeping its pending action). The answer is a small
  page that moves on by ``<meta http-equiv=refresh>``: the first request carrying the
  ``SameSite=Strict`` session cookie must start from this origin, not from Keycloak's redirect.
* ``POST /console/logout`` (CSRF-checked) forgets the session and sends the browser to the
  realm's end-session endpoint (RP-initiated logout), which ends the Keycloak session too.
* ``GET /console/resume`` shows the action that waited for step-up, to send again.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import falcon
import falcon.asgi

from anbao.console import i18n
from anbao.console.sessions import PendingLogin, Session
from anbao.console.web import PREFIX, Console, Page, View, cookie
from iam.errors import IamError
from iam.tokens.verifier import TokenVerifier


def safe_next(value: str | None) -> str:
    """Only a path of the console itself: never another site (open redirect)."""
    if not value or not (value == PREFIX or value.startswith((PREFIX + "/", PREFIX + "?"))):
        return PREFIX + "/"
    if "\\" in value or "//" in value:
        return PREFIX + "/"
    return value


class Login:
    auth_required = False

    def __init__(self, console: Console) -> None:
        self.console = console

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        acr = req.get_param("acr") or ""
        if acr not in ("", "1", "2"):
            raise falcon.HTTPBadRequest(title="Unknown authentication level")
        session_id = cookie(req, self.console.cookies.session)
        stepping = bool(acr) and session_id and self.console.store.get(session_id) is not None
        tr = self.console.translator(req)
        # A step-up keeps the Keycloak session: Keycloak asks only what the higher level adds.
        auth = self.console.oidc.authorization(acr=acr, locale=tr.locale)
        self.console.store.begin_login(
            auth.state,
            PendingLogin(
                verifier=auth.verifier,
                nonce=auth.nonce,
                next_path=safe_next(req.get_param("next")),
                acr=acr,
                session_key=session_id if stepping else "",
            ),
        )
        resp.set_cookie(
            self.console.cookies.login,
            auth.state,
            max_age=600,
            path=PREFIX,
            secure=self.console.cookies.secure,
            http_only=True,
            same_site="Lax",
        )
        self.console.secure(resp)
        raise falcon.HTTPSeeOther(auth.url, headers=dict(resp.headers))


class Callback:
    auth_required = False

    def __init__(self, console: Console, verifier: TokenVerifier) -> None:
        self.console = console
        self.verifier = verifier

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        state = req.get_param("state") or ""
        bound = cookie(req, self.console.cookies.login)
        pending = None
        if state and bound and hmac.compare_digest(state.encode(), bound.encode()):
            pending = self.console.store.take_login(state)
        resp.unset_cookie(self.console.cookies.login, path=PREFIX)
        if pending is None:
            return self._failed(req, resp, "This sign-in link has expired. Please sign in again.")
        if req.get_param("error") or not req.get_param("code"):
            return self._failed(req, resp, "Sign-in was cancelled or refused.")
        try:
            tokens = await self.console.oidc.exchange(
                req.get_param("code") or "", pending.verifier, pending.nonce
            )
            principal = self.verifier.verify(tokens.access_token)
        except IamError:
            return self._failed(req, resp, "Sign-in was cancelled or refused.")
        now = self.console.clock()
        previous = self.console.store.get(pending.session_key) if pending.session_key else None
        if previous is not None and previous.subject != principal.subject:
            previous = None  # another person signed in on this browser: a fresh session
        session = Session(
            subject=principal.subject,
            username=principal.username,
            name=display_name(principal.claims, principal.username),
            roles=tuple(sorted(principal.roles)),
            acr=principal.acr,
            access_token=tokens.access_token,
            refresh_token=tokens.refresh_token,
            id_token=tokens.id_token,
            access_expires_at=now + tokens.expires_in,
            expires_at=now + (tokens.refresh_expires_in or tokens.expires_in),
            csrf=previous.csrf if previous else secrets.token_urlsafe(32),
            locale=i18n.choose(cookie(req, i18n.COOKIE), req.get_header("Accept-Language")),
            pending=previous.pending if previous else None,
        )
        if previous is not None:
            session_id = pending.session_key
            self.console.store.save(session_id, session)
        else:
            session_id = self.console.store.create(session)
        resp.set_cookie(
            self.console.cookies.session,
            session_id,
            path="/",
            secure=self.console.cookies.secure,
            http_only=True,
            same_site="Strict",
        )
        self.console.render(req, resp, "moving_on.html", target=pending.next_path)
        return None

    def _failed(self, req: falcon.asgi.Request, resp: falcon.asgi.Response, message: str) -> None:
        self.console.render(req, resp, "signed_out.html", status=falcon.HTTP_400, message=message)


class Logout(Page):
    async def post(
        self, view: View, req: falcon.asgi.Request, resp: falcon.asgi.Response, **_: str
    ) -> None:
        self.console.store.delete(view.session_id)
        resp.unset_cookie(self.console.cookies.session, path="/")
        self.console.secure(resp)
        raise falcon.HTTPSeeOther(
            self.console.oidc.end_session_url(view.session.id_token), headers=dict(resp.headers)
        )


class SignedOut:
    auth_required = False

    def __init__(self, console: Console) -> None:
        self.console = console

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        self.console.render(req, resp, "signed_out.html", message="You have signed out.")


class Language:
    """``GET /console/lang?to=en&next=…``: the person's language, remembered for a year."""

    auth_required = False

    def __init__(self, console: Console) -> None:
        self.console = console

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        to = req.get_param("to") or ""
        if to not in i18n.LOCALES:
            raise falcon.HTTPBadRequest(title="Unknown language")
        resp.set_cookie(
            i18n.COOKIE,
            to,
            max_age=365 * 86400,
            path="/",
            secure=self.console.cookies.secure,
            http_only=True,
            same_site="Lax",
        )
        self.console.secure(resp)
        raise falcon.HTTPSeeOther(safe_next(req.get_param("next")), headers=dict(resp.headers))


class Resume(Page):
    """The action that waited for step-up, offered again with its form (files stay on the
    server, in the session, and join the form when it is sent with ``resume=1``)."""

    async def get(
        self, view: View, req: falcon.asgi.Request, resp: falcon.asgi.Response, **_: str
    ) -> None:
        pending = view.session.pending
        if not pending:
            raise falcon.HTTPSeeOther(PREFIX + "/")
        self.console.render(req, resp, "resume.html", view, pending=pending)


def display_name(claims: Mapping[str, Any], username: str) -> str:
    """How the person is named in the page: Chinese names family name first with no space
    (赵析), as Keycloak's ``name`` claim (given, then family) does not write them."""
    family, given = str(claims.get("family_name") or ""), str(claims.get("given_name") or "")
    if family and given and not (family + given).isascii():
        return family + given
    return str(claims.get("name") or username)


def login_url(next_path: str) -> str:
    return f"{PREFIX}/login?next={quote(next_path, safe='')}"
