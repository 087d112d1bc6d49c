"""The console's request machinery: who is signed in, what they may see, and one way to answer.

Every console page is a :class:`Page` resource. It is public to the API's bearer-token edge
(``auth_required = False``) because it authenticates by its own session cookie, here, and denies
by default: no live session → the sign-in page (GET) or 401 (a change); a role the page does not
admit → 403. Changes (any method but GET/HEAD) must carry the session's CSRF token (form field
``csrf`` or header ``X-CSRF-Token``, compared in constant time) and come from this origin
(``Sec-Fetch-Site``/``Origin``): the draft's "real CSRF defence" on top of ``SameSite=Strict``.

The menu a person sees is computed from the same role sets the pages check, so it never offers
what the server would refuse — and hiding a menu entry is never the control: the API behind
each page decides again with the person's own token (:mod:`anbao.console.api`).

Every answer carries the console's security headers: a strict Content-Security-Policy (scripts
and styles from this origin only: no inline script, no eval; ``frame-ancestors 'none'``),
``no-store`` caching of pages, referrers only to this origin (a ``no-referrer`` page makes
Chromium send ``Origin: null`` on its own forms), nosniff.
"""

from __future__ import annotations

import dataclasses
import hmac
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import quote, urlsplit

import falcon
import falcon.asgi
import jinja2

from anbao.console import i18n
from anbao.console.api import ApiClient, Problem, SessionEnded, StepUpRequired
from anbao.console.assets import Assets
from anbao.console.oidc import OidcClient
from anbao.console.sessions import Session, SessionStore
from anbao.web.asgi_app import AsgiApp
from iam.errors import IamError
from iam.tokens.verifier import TokenVerifier

PREFIX = "/console"
_TEMPLATES = Path(__file__).with_name("templates")
#: Refresh the access token this many seconds before it expires.
_REFRESH_MARGIN = 20.0
SAFE_METHODS = frozenset({"GET", "HEAD"})
#: The level sensitive actions need (RFC 9470 ``acr``; the realm's "2" = password + OTP).
STRONG = "2"


@dataclasses.dataclass(frozen=True, slots=True)
class MenuItem:
    path: str
    label: str
    roles: frozenset[str]  # any of them; empty = every signed-in person


#: The console's pages, in menu order, with who may open them (any of the roles).
MENU = (
    MenuItem("/console/", "Overview", frozenset()),
    MenuItem("/console/audit", "Audit search", frozenset({"security-analyst", "auditor"})),
    MenuItem("/console/alerts", "Alerts", frozenset({"security-analyst"})),
    MenuItem("/console/orgs", "Org tree", frozenset({"platform-admin", "org-admin"})),
    MenuItem("/console/apps", "Apps", frozenset({"app-developer", "platform-admin"})),
    MenuItem(
        "/console/seals",
        "Seals",
        frozenset({"seal-admin", "seal-user", "org-admin", "platform-admin"}),
    ),
    MenuItem("/console/compliance", "Compliance", frozenset({"compliance-officer", "auditor"})),
)


@dataclasses.dataclass(frozen=True, slots=True)
class CookieNames:
    session: str
    login: str
    secure: bool


class Console:
    """What every console resource shares: sessions, the realm client, templates, the API."""

    def __init__(
        self,
        *,
        app: AsgiApp,
        store: SessionStore,
        oidc: OidcClient,
        verifier: TokenVerifier,
        assets: Assets,
        zone: str,
        secure_cookies: bool,
        keycloak_origin: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.app, self.store, self.oidc, self.verifier = app, store, oidc, verifier
        self.assets, self.zone, self.clock = assets, zone, clock
        prefix = "__Host-" if secure_cookies else ""
        self.cookies = CookieNames(f"{prefix}anbao-console", f"{prefix}anbao-login", secure_cookies)
        domains, merged = i18n.load_domains(), i18n.load_catalogues()
        #: (locale, catalogue) -> lookup table, built once.
        self.messages = {
            (locale, domain): i18n.messages_for(domains[locale], merged[locale], domain)
            for locale in i18n.LOCALES
            for domain in ("", *domains[locale])
        }
        self.templates = jinja2.Environment(
            loader=jinja2.FileSystemLoader(_TEMPLATES),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.csp = "; ".join(
            [
                "default-src 'none'",
                "script-src 'self'",
                "style-src 'self'",
                "img-src 'self' data: blob:",
                "font-src 'self'",
                "connect-src 'self'",
                f"form-action 'self' {keycloak_origin}",
                "frame-ancestors 'none'",
                "base-uri 'none'",
                "object-src 'none'",
            ]
        )

    # answers
    def secure(self, resp: falcon.asgi.Response, *, cache: bool = False) -> None:
        resp.set_header("Content-Security-Policy", self.csp)
        resp.set_header("X-Content-Type-Options", "nosniff")
        resp.set_header("Referrer-Policy", "same-origin")
        resp.set_header("Cross-Origin-Opener-Policy", "same-origin")
        resp.set_header("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        if not cache:
            resp.set_header("Cache-Control", "no-store")

    def translator(self, req: falcon.asgi.Request, domain: str = "") -> i18n.Translator:
        """The request's language; ``domain`` names the page's catalogue (its file stem)."""
        locale = i18n.choose(cookie(req, i18n.COOKIE), req.get_header("Accept-Language"))
        messages = self.messages.get((locale, domain)) or self.messages[locale, ""]
        return i18n.Translator(locale, messages, self.zone)

    def render(
        self,
        req: falcon.asgi.Request,
        resp: falcon.asgi.Response,
        template: str,
        view: View | None = None,
        *,
        status: str = falcon.HTTP_200,
        domain: str = "",
        **context: Any,
    ) -> None:
        tr = view.tr if view else self.translator(req, domain)
        page = self.templates.get_template(template)
        resp.status = status
        resp.content_type = falcon.MEDIA_HTML
        resp.text = page.render(
            t=tr.t,
            tr=tr,
            view=view,
            asset=self.assets.url,
            menu=view.menu if view else (),
            path=req.path,
            htmx=req.get_header("HX-Request") == "true",
            **context,
        )
        self.secure(resp)

    # sessions
    async def view(
        self,
        req: falcon.asgi.Request,
        resp: falcon.asgi.Response,
        roles: frozenset[str],
        domain: str = "",
    ) -> View:
        """The signed-in person of this request, allowed by ``roles``, or an HTTP answer."""
        session_id = cookie(req, self.cookies.session)
        session = self.store.get(session_id) if session_id else None
        if session is None:
            raise self.sign_in(req)
        if req.method not in SAFE_METHODS:
            await self._check_change(req, session)
        if session.access_expires_at - _REFRESH_MARGIN <= self.clock():
            session = await self._refreshed(session_id, session, req)
        if roles and not roles & frozenset(session.roles):
            tr = self.translator(req, domain)
            view = View(self, req, session_id, session, tr)
            self.render(req, resp, "forbidden.html", view, status=falcon.HTTP_403)
            raise _Answered
        return View(self, req, session_id, session, self.translator(req, domain))

    async def _refreshed(
        self, session_id: str, session: Session, req: falcon.asgi.Request
    ) -> Session:
        try:
            tokens = await self.oidc.refresh(session.refresh_token)
        except IamError:
            self.store.delete(session_id)
            raise self.sign_in(req) from None
        now = self.clock()
        try:
            principal = self.verifier.verify(tokens.access_token)
        except IamError:
            self.store.delete(session_id)
            raise self.sign_in(req) from None
        fresh = dataclasses.replace(
            session,
            roles=tuple(sorted(principal.roles)),
            acr=principal.acr,  # the realm may lower it once the step-up's max age has passed
            access_token=tokens.access_token,
            refresh_token=tokens.refresh_token or session.refresh_token,
            id_token=tokens.id_token or session.id_token,
            access_expires_at=now + tokens.expires_in,
            expires_at=now + tokens.refresh_expires_in
            if tokens.refresh_expires_in
            else session.expires_at,
        )
        self.store.save(session_id, fresh)
        return fresh

    async def _check_change(self, req: falcon.asgi.Request, session: Session) -> None:
        site = req.get_header("Sec-Fetch-Site")
        origin = req.get_header("Origin")
        if site not in (None, "same-origin") or (origin and not _same_origin(req, origin)):
            raise falcon.HTTPForbidden(title="Cross-site request refused")
        sent = req.get_header("X-CSRF-Token") or ""
        if not sent:
            form = await form_of(req)
            sent = str(form.get("csrf", ""))
        if not sent or not hmac.compare_digest(sent.encode(), session.csrf.encode()):
            raise falcon.HTTPForbidden(title="CSRF token missing or wrong")

    def sign_in(self, req: falcon.asgi.Request) -> falcon.HTTPError | falcon.HTTPStatus:
        if req.method in SAFE_METHODS and req.get_header("HX-Request") != "true":
            target = req.relative_uri if req.path.startswith(PREFIX + "/") else PREFIX + "/"
            if req.path == PREFIX and req.query_string:  # the overview, its slash stripped
                target += "?" + req.query_string
            return falcon.HTTPSeeOther(f"{PREFIX}/login?next={quote(target, safe='')}")
        return falcon.HTTPUnauthorized(
            title="Sign in again", headers={"HX-Redirect": f"{PREFIX}/login"}
        )


class _Answered(Exception):
    pass


class View:
    """One request of a signed-in person: their session, strings, menu and API."""

    def __init__(
        self,
        console: Console,
        req: falcon.asgi.Request,
        session_id: str,
        session: Session,
        tr: i18n.Translator,
    ) -> None:
        self.console, self.req, self.session_id, self.session, self.tr = (
            console,
            req,
            session_id,
            session,
            tr,
        )
        held = frozenset(session.roles)
        self.roles = held
        self.menu = [item for item in MENU if not item.roles or item.roles & held]
        self.csrf = session.csrf

    async def form(self) -> dict[str, str | Upload]:
        """The request's form; sent from the resume page (``resume=1``) after step-up, the
        action's files kept in the session join it, and the pending action is done with."""
        form = await form_of(self.req)
        pending = self.session.pending
        if form.get("resume") == "1" and pending and pending.get("path") == self.req.path:
            for name, item in dict(pending.get("files") or {}).items():
                form.setdefault(
                    name, Upload(str(item["filename"]), "", bytes.fromhex(str(item["data"])))
                )
            self.session = dataclasses.replace(self.session, pending=None)
            self.console.store.save(self.session_id, self.session)
        return form

    def require_acr(self, acr: str = STRONG) -> None:
        """Sensitive actions (role grants, seal make/sign/revoke, approvals, sign-off, reveal)
        ask for step-up here, before the API is called, whatever level the API route itself
        demands: :class:`Page` sends the person through Keycloak and offers the action again."""
        if _level(self.session.acr) < _level(acr):
            raise StepUpRequired(acr)

    def has(self, *roles: str) -> bool:
        return bool(self.roles & set(roles))

    def api(self) -> ApiClient:
        host = self.req.remote_addr or "127.0.0.1"
        return ApiClient(self.console.app, self.session.access_token, (host, 0))


class Page:
    """A console page: ``roles`` admits (any of them; empty = any signed-in person).

    Subclasses write ``async def get(self, view, req, resp)`` and/or ``post``; the base gets the
    view (session, roles, CSRF), turns a step-up demand into the round trip through Keycloak
    (keeping the form to resume), an ended session into the sign-in page, and an API problem
    into the page's own error banner.
    """

    auth_required = False
    #: Browser forms send empty and repeated fields: the page reads its own (path_params).
    own_parameters = True
    roles: ClassVar[frozenset[str]] = frozenset()
    #: What the resume page says the pending action was (a msgid).
    action_label: ClassVar[str] = "Continue the action"
    #: The page's message catalogue (locales/*/LC_MESSAGES/<domain>.po); default: the name of
    #: its module under ``anbao.console.pages`` (``alerts`` for pages/alerts/detail.py).
    domain: ClassVar[str] = ""

    def __init__(self, console: Console) -> None:
        self.console = console

    async def on_get(
        self, req: falcon.asgi.Request, resp: falcon.asgi.Response, **params: str
    ) -> None:
        await self._run(self.get, req, resp, params)

    async def on_post(
        self, req: falcon.asgi.Request, resp: falcon.asgi.Response, **params: str
    ) -> None:
        await self._run(self.post, req, resp, params)

    async def get(
        self, view: View, req: falcon.asgi.Request, resp: falcon.asgi.Response, **params: str
    ) -> None:
        raise falcon.HTTPMethodNotAllowed(["POST"])

    async def post(
        self, view: View, req: falcon.asgi.Request, resp: falcon.asgi.Response, **params: str
    ) -> None:
        raise falcon.HTTPMethodNotAllowed(["GET"])

    async def _run(
        self,
        handler: Callable[..., Awaitable[None]],
        req: falcon.asgi.Request,
        resp: falcon.asgi.Response,
        params: Mapping[str, str],
    ) -> None:
        try:
            view = await self.console.view(req, resp, self.roles, self.domain or _domain_of(self))
        except _Answered:
            return
        try:
            await handler(view, req, resp, **params)
        except _Answered:
            return
        except StepUpRequired as need:
            await self._step_up(view, req, resp, need.acr)
        except SessionEnded:
            self.console.store.delete(view.session_id)
            raise self.console.sign_in(req) from None
        except Problem as problem:  # what the page did not handle itself: its banner
            status = problem.status if 400 <= problem.status < 600 else 502  # noqa: PLR2004
            self.console.render(
                req,
                resp,
                "error.html",
                view,
                status=falcon.code_to_http_status(status),
                problem=problem,
            )
        self.console.secure(resp)

    async def _step_up(
        self, view: View, req: falcon.asgi.Request, resp: falcon.asgi.Response, acr: str
    ) -> None:
        """Keep the action (its form and files) in the session, then ask Keycloak for ``acr``;
        the resume page offers it again once the person is back at the higher level."""
        pending: dict[str, Any] = {"path": req.path, "label": self.action_label, "fields": {}}
        if req.method not in SAFE_METHODS:
            form = await form_of(req)
            pending["fields"] = {
                k: v for k, v in form.items() if k != "csrf" and isinstance(v, str)
            }
            pending["files"] = {
                k: {"filename": v.filename, "data": v.data.hex()}
                for k, v in form.items()
                if isinstance(v, Upload)
            }
        session = dataclasses.replace(view.session, pending=pending)
        self.console.store.save(view.session_id, session)
        target = f"{PREFIX}/login?acr={quote(acr)}&next={quote(PREFIX + '/resume', safe='')}"
        if req.get_header("HX-Request") == "true":
            resp.set_header("HX-Redirect", target)
            resp.status = falcon.HTTP_204
            return
        raise falcon.HTTPSeeOther(target)


@dataclasses.dataclass(frozen=True, slots=True)
class Upload:
    filename: str
    content_type: str
    data: bytes


async def form_of(req: falcon.asgi.Request) -> dict[str, str | Upload]:
    """The request's form (urlencoded or multipart, read once and kept on the request); a
    pending action's files join it when the resume page sends ``resume=1``."""
    cached = getattr(req.context, "console_form", None)
    if cached is not None:
        return dict(cached)
    form: dict[str, str | Upload] = {}
    content_type = req.content_type or ""
    if content_type.startswith("multipart/form-data"):
        parts = await req.get_media()
        async for part in parts:
            if part.filename:
                data = await part.get_data()
                form[part.name] = Upload(part.filename, part.content_type or "", data)
            else:
                form[part.name] = await part.get_text() or ""
    elif content_type.startswith("application/x-www-form-urlencoded"):
        media = await req.get_media()
        form = {k: v if isinstance(v, str) else v[-1] for k, v in dict(media or {}).items()}
    req.context.console_form = form
    return dict(form)


def _domain_of(page: object) -> str:
    parts = type(page).__module__.split(".")
    return parts[parts.index("pages") + 1] if "pages" in parts[:-1] else ""


def _level(acr: str) -> int:
    return int(acr) if acr.isdigit() else 0


def cookie(req: falcon.asgi.Request, name: str) -> str:
    """The request's first cookie of ``name``, or an empty string."""
    values = req.get_cookie_values(name)
    return values[0] if values else ""


def _same_origin(req: falcon.asgi.Request, origin: str) -> bool:
    parts = urlsplit(origin)
    return f"{parts.netloc}" == (req.get_header("Host") or "")


def problem_text(problem: Problem) -> str:
    """A problem for a person: its detail, else its title."""
    return problem.detail or problem.title
