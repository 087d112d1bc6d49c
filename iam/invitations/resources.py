"""Falcon resources: invitations (admins, bearer token) and the public activation page.

``/activate/{token}`` needs no token: it is what the invited person opens. GET only shows a
button (link previews and scanners fetch links; they must not use one up); POST consumes it and
shows the temporary password once. The page is never cached, sends no ``Referer`` (the token
is in its URL) and loads nothing from elsewhere.
"""

from __future__ import annotations

import asyncio
import functools
import html
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

import falcon
import falcon.asgi

from iam.invitations.errors import ActivationExpired, ActivationInvalid
from iam.invitations.ports import AuditActor
from iam.invitations.service import InvitationService
from iam.orgs.delegation import PLATFORM_ROLES
from iam.orgs.resources import PERSON_SCHEMA, Router, _op, person_draft

T = TypeVar("T")
_ROLE = {"type": "string", "enum": sorted(PLATFORM_ROLES)}
INVITE_SCHEMA: dict[str, Any] = {
    **PERSON_SCHEMA,
    "properties": {
        **PERSON_SCHEMA["properties"],
        "role": _ROLE,
        "node_id": {"type": "string", "minLength": 1, "maxLength": 128},
    },
}
_HTML = {"text/html": {"schema": {"type": "string"}}}
#: A token that is not even shaped like one is refused at the edge, as problem+json.
_NOT_FOUND = {
    "description": "Unknown, used or malformed link",
    "content": {**_HTML, "application/problem+json": {"schema": {"type": "object"}}},
}


def _actor(req: falcon.asgi.Request) -> AuditActor:
    principal = req.context.principal
    return AuditActor(str(principal.subject), str(principal.username or principal.subject))


def _tag(op: dict[str, Any]) -> dict[str, Any]:
    return op | {"tags": ["iam-invitations"]}


class _Base:
    def __init__(self, service: InvitationService) -> None:
        self.service = service

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await asyncio.to_thread(functools.partial(fn, *args, **kwargs))


def _link_base(req: falcon.asgi.Request) -> str:
    """Where the invited person reaches this API: as the inviting admin reached it."""
    return req.forwarded_prefix


class Invitations(_Base):
    """``POST /iam/invitations``: create a person and send them credentials (high-risk)."""

    introspect_methods = frozenset({"POST"})
    openapi: ClassVar[dict[str, Any]] = {
        "post": _tag(
            _op(
                "Invite a person: create, optionally grant a role, and send credentials "
                "(e-mail where the realm has SMTP, else a one-time link shown once)",
                "201",
                "400",
                "404",
                "409",
                body=INVITE_SCHEMA,
            )
        )
    }

    async def on_post(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        body = await req.get_media()
        draft, memberships = person_draft(body)
        invitation = await self.call(
            self.service.invite,
            _actor(req),
            draft,
            memberships,
            role=body.get("role"),
            node_id=body.get("node_id"),
        )
        resp.status = falcon.HTTP_201
        resp.media = invitation.as_json(_link_base(req))
        resp.set_header("Cache-Control", "no-store")


class PersonInvitation(_Base):
    """Resend (POST: a new link, the old one stops working; or the e-mail again) and revoke
    (DELETE: the link stops working and the account is disabled) a pending invitation."""

    introspect_methods = frozenset({"POST", "DELETE"})
    openapi: ClassVar[dict[str, Any]] = {
        "post": _tag(_op("Send a pending invitation again", "200", "404", "409")),
        "delete": _tag(_op("Revoke a pending invitation", "200", "404", "409")),
    }

    async def on_post(
        self, req: falcon.asgi.Request, resp: falcon.asgi.Response, person_id: str
    ) -> None:
        invitation = await self.call(self.service.resend, _actor(req), person_id)
        resp.media = invitation.as_json(_link_base(req))
        resp.set_header("Cache-Control", "no-store")

    async def on_delete(
        self, req: falcon.asgi.Request, resp: falcon.asgi.Response, person_id: str
    ) -> None:
        person = await self.call(self.service.revoke, _actor(req), person_id)
        resp.media = person.as_json()


_PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{title}</title>
<style>body{{font-family:sans-serif;max-width:36em;margin:3em auto;padding:0 1em}}
code{{font-size:1.3em;background:#eee;padding:.2em .4em}}</style>
</head><body><h1>{title}</h1>{body}</body></html>
"""
_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
}


def _page(resp: falcon.asgi.Response, status: int, title: str, body: str) -> None:
    resp.status = status
    resp.content_type = "text/html; charset=utf-8"
    resp.set_headers(_HEADERS)
    resp.text = _PAGE.format(title=html.escape(title), body=body)


class Activation(_Base):
    """``/activate/{token}``: the invited person's one-time page (public)."""

    auth_required = False
    #: The token is the credential: access log and audit record show the route template only.
    path_is_secret = True
    openapi: ClassVar[dict[str, Any]] = {
        "get": {
            "summary": "The activation page: a button, nothing consumed",
            "tags": ["iam-invitations"],
            "security": [],
            "responses": {
                "200": {"description": "Valid link", "content": _HTML},
                "404": _NOT_FOUND,
                "410": {"description": "Expired link", "content": _HTML},
            },
        },
        "post": {
            "summary": "Activate: consume the link, show a temporary password once",
            "tags": ["iam-invitations"],
            "security": [],
            "responses": {
                "200": {"description": "Activated", "content": _HTML},
                "404": _NOT_FOUND,
                "410": {"description": "Expired link", "content": _HTML},
            },
        },
    }

    def __init__(self, service: InvitationService, sign_in_url: str) -> None:
        super().__init__(service)
        self.sign_in_url = sign_in_url

    async def on_get(
        self, req: falcon.asgi.Request, resp: falcon.asgi.Response, token: str
    ) -> None:
        del req
        try:
            person = await self.call(self.service.check, token)
        except (ActivationInvalid, ActivationExpired) as exc:
            _refused(resp, exc)
            return
        name = html.escape(person.username)
        _page(
            resp,
            200,
            "激活账号 Activate your account",
            f"<p>账号 Account: <strong>{name}</strong></p>"
            "<p>点击下面的按钮获取一次性临时密码。它只显示一次。<br>"
            "Press the button for a one-time temporary password. It is shown once.</p>"
            '<form method="post"><button type="submit" id="activate">'
            "激活 Activate</button></form>",
        )

    async def on_post(
        self, req: falcon.asgi.Request, resp: falcon.asgi.Response, token: str
    ) -> None:
        del req
        try:
            made = await self.call(self.service.activate, token)
        except (ActivationInvalid, ActivationExpired) as exc:
            _refused(resp, exc)
            return
        link = html.escape(self.sign_in_url, quote=True)
        _page(
            resp,
            200,
            "账号已激活 Account activated",
            f'<p>账号 Account: <strong id="username">{html.escape(made.username)}</strong></p>'
            f'<p>临时密码 Temporary password: <code id="password">{html.escape(made.password)}'
            "</code></p><p>请立即登录并设置您自己的密码，管理员还需绑定动态口令。<br>"  # noqa: RUF001 - Chinese punctuation
            "Sign in now and choose your own password; administrators also set up a one-time "
            "code app.</p>"
            f'<p><a id="sign-in" href="{link}" rel="noreferrer">登录 Sign in</a></p>',
        )


def _refused(resp: falcon.asgi.Response, exc: Exception) -> None:
    if isinstance(exc, ActivationExpired):
        _page(
            resp,
            410,
            "链接已过期 Link expired",
            "<p>此激活链接已过期。请联系邀请您的管理员重新发送。<br>"
            "This activation link has expired. Ask the administrator who invited you to "
            "send a new one.</p>",
        )
        return
    _page(
        resp,
        404,
        "链接无效 Link not valid",
        "<p>此激活链接无效或已被使用。<br>"
        "This activation link is not valid or has been used already.</p>",
    )


def add_routes(api: Router, service: InvitationService, *, sign_in_url: str) -> None:
    api.add_route("/iam/invitations", Invitations(service))
    api.add_route("/iam/people/{person_id}/invitation", PersonInvitation(service))
    api.add_route("/activate/{token}", Activation(service, sign_in_url))
