"""Helpers for the realm, federation and events tests: apply realm files, log in without a browser.

The login helper drives Keycloak's real authorization-code flow with httpx: it follows the
redirects itself, fills Keycloak's HTML forms (login, OTP setup, profile review) and stops at the
client's redirect URI, then redeems the code with PKCE (RFC 7636).
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import html
import re
import secrets
import struct
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import httpx
from keycloak import KeycloakAdmin

from iam.admin import AdminCredentials, KeycloakAdmins
from iam.realm.keycloak import KeycloakRealmAdmin
from iam.realm.load import load_realm_file
from iam.realm.service import ApplyResult, converge
from iam.tokens.keycloak import KeycloakJwks, issuer_url
from iam.tokens.verifier import TokenVerifier
from tests.integration.conftest import ROOT, Server

REALM_DIR = ROOT / "deploy" / "keycloak"
REDIRECT = "http://127.0.0.1:9/callback"
#: anbao-realm.yaml's own client for people using Anbao's API (onboarded apps get no anbao-api).
CONSOLE = "anbao-console"
PASSWORD = "Court-Pass-2026!"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def admin_for(keycloak: Server) -> KeycloakAdmin:
    return KeycloakAdmins(
        AdminCredentials.bootstrap(
            keycloak.url,
            keycloak.env["KEYCLOAK_ADMIN_USERNAME"],
            keycloak.env["KEYCLOAK_ADMIN_PASSWORD"],
        ),
        "master",
    ).python_keycloak()


def apply_file(
    keycloak: Server,
    path: Path,
    realm: str,
    *,
    dry_run: bool = False,
    prune: bool = False,
    **variables: str,
) -> ApplyResult:
    defaults = {
        "keycloak_url": keycloak.url,
        # anbao-realm.yaml: its own clients' secret and login redirect (other files ignore them)
        "anbao_api_client_secret": keycloak.env["ANBAO_KEYCLOAK_CLIENT_SECRET"],
        "console_redirect_uri": REDIRECT,
        "anbao_console_client_secret": keycloak.env["ANBAO_CONSOLE_CLIENT_SECRET"],
    }
    spec = dataclasses.replace(load_realm_file(path, {**defaults, **variables}), realm=realm)
    return converge(
        spec, KeycloakRealmAdmin(admin_for(keycloak), realm), dry_run=dry_run, prune=prune
    )


def add_user(
    admin: KeycloakAdmin, realm: str, username: str, *, roles: tuple[str, ...] = (), **extra: Any
) -> str:
    admin.change_current_realm(realm)
    user_id = admin.create_user(
        {
            "username": username,
            "enabled": True,
            "email": f"{username}@example.test",
            "emailVerified": True,
            "firstName": "Test",
            "lastName": username.title(),
            "credentials": [{"type": "password", "value": PASSWORD, "temporary": False}],
            **extra,
        }
    )
    if roles:
        admin.assign_realm_roles(user_id, [admin.get_realm_role(r) for r in roles])
    return user_id


def add_public_client(admin: KeycloakAdmin, realm: str, client_id: str) -> None:
    admin.change_current_realm(realm)
    admin.create_client(
        {
            "clientId": client_id,
            "publicClient": True,
            "standardFlowEnabled": True,
            "directAccessGrantsEnabled": False,
            "redirectUris": [REDIRECT],
            "attributes": {"pkce.code.challenge.method": "S256"},
        }
    )


def totp(secret: str, at: float | None = None, digits: int = 6, period: int = 30) -> str:
    """RFC 6238 TOTP with HMAC-SHA1, the realm's OTP policy.

    ``secret`` is the form's hidden ``totpSecret``: Keycloak keys the HMAC with its UTF-8 bytes
    (the page shows the same key base32-encoded for authenticator apps).
    """
    key = secret.encode()
    counter = int((time.time() if at is None else at) // period)
    digest = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    code = (struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF) % 10**digits
    return str(code).zfill(digits)


@dataclasses.dataclass
class Page:
    url: str
    text: str

    def form(self, form_id: str | None = None) -> tuple[str, dict[str, str]]:
        """The action and the hidden/prefilled inputs of a form on the page."""
        forms = re.findall(r"<form\b([^>]*)>(.*?)</form>", self.text, re.S | re.I)
        for attrs, body in forms:
            if form_id and f'id="{form_id}"' not in attrs:
                continue
            action = html.unescape(re.search(r'action="([^"]*)"', attrs).group(1))  # type: ignore[union-attr]
            fields = {}
            for tag in re.findall(r"<input\b[^>]*>", body, re.I):
                name = re.search(r'name="([^"]*)"', tag)
                value = re.search(r'value="([^"]*)"', tag)
                if name:
                    fields[html.unescape(name.group(1))] = (
                        html.unescape(value.group(1)) if value else ""
                    )
            return urljoin(self.url, action), fields
        raise AssertionError(f"no form {form_id or ''} on {self.url}: {self.title()}")

    def title(self) -> str:
        found = re.search(r"<title>(.*?)</title>", self.text, re.S)
        return found.group(1).strip() if found else "?"

    def link(self, pattern: str) -> str:
        found = re.search(r'href="([^"]*' + pattern + r'[^"]*)"', self.text)
        assert found, f"no link matching {pattern} on {self.url}"
        return urljoin(self.url, html.unescape(found.group(1)))


class CookieJar:
    """Path-aware cookies for one host, sent over http to loopback as browsers do.

    Keycloak's cookies are ``Secure`` and carry ``Version=1``, which the standard library's jar
    refuses over http; browsers treat loopback as a secure context and send them.
    """

    def __init__(self) -> None:
        self.cookies: dict[tuple[str, str], str] = {}

    def store(self, response: httpx.Response) -> None:
        for header in response.headers.get_list("set-cookie"):
            pair, *attributes = (part.strip() for part in header.split(";"))
            name, _, value = pair.partition("=")
            attrs = {k.lower(): v for k, _, v in (a.partition("=") for a in attributes)}
            key = (name, attrs.get("path", "/"))
            if attrs.get("max-age") == "0" or "1970" in attrs.get("expires", ""):
                self.cookies.pop(key, None)
            else:
                self.cookies[key] = value

    def header(self, url: str) -> str:
        path = urlsplit(url).path
        return "; ".join(f"{n}={v}" for (n, p), v in self.cookies.items() if path.startswith(p))


def authorize_url(oidc_base: str, client_id: str, verifier: str, **params: str) -> str:
    """The authorization request of the code flow with PKCE S256 (RFC 7636), back to REDIRECT."""
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    query = {
        "client_id": client_id,
        "redirect_uri": REDIRECT,
        "response_type": "code",
        "scope": "openid",
        "state": secrets.token_urlsafe(8),
        "code_challenge": challenge.rstrip(b"=").decode(),
        "code_challenge_method": "S256",
        **params,
    }
    return f"{oidc_base}/auth?{urlencode(query)}"


class BrowserlessLogin:
    """One user agent (cookie jar) walking the authorization-code flow of one client."""

    def __init__(self, base_url: str, realm: str, client_id: str) -> None:
        self.base = f"{base_url}/realms/{realm}/protocol/openid-connect"
        self.client_id = client_id
        self.http = httpx.Client(follow_redirects=False, timeout=15)
        self.jar = CookieJar()
        self.verifier = secrets.token_urlsafe(48)
        self.code: str | None = None

    def close(self) -> None:
        self.http.close()

    def start(self, **params: str) -> Page:
        return self.go("GET", authorize_url(self.base, self.client_id, self.verifier, **params))

    def _send(self, method: str, url: str, data: dict[str, str] | None = None) -> httpx.Response:
        response = self.http.request(
            method, url, data=data, headers={"Cookie": self.jar.header(url)}
        )
        self.http.cookies.clear()
        self.jar.store(response)
        return response

    def go(self, method: str, url: str, data: dict[str, str] | None = None) -> Page:
        response = self._send(method, url, data)
        for _ in range(20):
            if response.status_code not in (301, 302, 303, 307):
                break
            location = urljoin(str(response.url), response.headers["location"])
            if location.startswith(REDIRECT):
                query = parse_qs(urlsplit(location).query)
                assert "code" in query, f"login ended with {query}"
                self.code = query["code"][0]
                return Page(location, "")
            response = self._send("GET", location)
        return Page(str(response.url), response.text)

    def submit(self, page: Page, form_id: str | None = None, **values: str) -> Page:
        action, fields = page.form(form_id)
        fields.update(values)
        return self.go("POST", action, fields)

    def tokens(self) -> dict[str, Any]:
        assert self.code, "the flow did not reach the redirect URI"
        response = self.http.post(
            f"{self.base}/token",
            data={
                "grant_type": "authorization_code",
                "code": self.code,
                "redirect_uri": REDIRECT,
                "client_id": self.client_id,
                "code_verifier": self.verifier,
            },
        )
        assert response.status_code == 200, response.text
        return dict(response.json())


def claims_of(keycloak: Server, realm: str, access_token: str) -> dict[str, Any]:
    """Verify the token as Anbao's API does (issuer, aud=anbao-api, JWKS) and return its claims."""
    jwks = KeycloakJwks(keycloak.url, realm)
    verifier = TokenVerifier(
        issuer=issuer_url(keycloak.url, realm), audience="anbao-api", jwks=jwks, clock=time.time
    )
    try:
        return dict(verifier.verify(access_token).claims)
    finally:
        getattr(jwks, "close", lambda: None)()
