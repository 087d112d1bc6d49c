"""Signing a person in at the command line: OAuth 2.0 for native apps, against Keycloak.

Two ways, both with the realm's public client ``anbao-cli`` (a program on a person's machine
cannot keep a secret, RFC 8252 §8.5):

* the device authorization grant (RFC 8628) for a terminal with no browser: the person opens
  the verification URI on any device, confirms the code and signs in there; the CLI polls the
  token endpoint, honouring ``interval`` and ``slow_down`` (§3.5) until ``expires_in``;
* the authorization code with PKCE S256 through a loopback redirect (RFC 8252 §7.3) when a
  browser runs on this machine: a one-shot HTTP listener on 127.0.0.1 with an ephemeral port
  takes the code, its ``state`` checked in constant time and its ``iss`` (RFC 9207) compared.

The protocol pieces are authlib's ``OAuth2Session`` (PKCE, token and refresh requests, RFC 7009
revocation, error responses), as examples/permits_app.py uses it. Its requests integration is
used because the httpx one warns on import in this release; requests comes with
python-keycloak. authlib has no device-flow client, so the device authorization request and
the polling loop are written here.
"""

from __future__ import annotations

import dataclasses
import hmac
import http.server
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

import click
import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session, OAuthError
from authlib.oauth2.rfc7636 import create_s256_code_challenge

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
TIMEOUT_SECONDS = 30.0
#: How long the loopback listener waits for the browser to come back.
LOOPBACK_WAIT_SECONDS = 600.0
#: RFC 8628 §3.5: ``slow_down`` adds 5 seconds to the polling interval, for good.
SLOW_DOWN_SECONDS = 5


class LoginFailed(click.ClickException):
    """Keycloak refused, the person declined or the code expired: exit 1."""

    exit_code = 1


class IssuerUnavailable(click.ClickException):
    """Keycloak could not be reached or answered garbage: exit 3 (as the API client does)."""

    exit_code = 3


@dataclasses.dataclass(frozen=True, slots=True)
class Provider:
    """The realm's endpoints, from its discovery document."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    device_authorization_endpoint: str
    revocation_endpoint: str
    userinfo_endpoint: str


def discover(issuer: str) -> Provider:
    """The endpoints of ``issuer``, whose document must name that same issuer (OIDC Discovery
    §4.3: a document for another issuer is refused)."""
    meta = _json(
        lambda: requests.get(issuer + "/.well-known/openid-configuration", timeout=TIMEOUT_SECONDS)
    )
    if not isinstance(meta, dict) or meta.get("issuer") != issuer:
        raise IssuerUnavailable(f"{issuer} does not describe itself as that issuer")
    fields = [f.name for f in dataclasses.fields(Provider)]
    missing = [name for name in fields if not isinstance(meta.get(name), str)]
    if missing:
        raise IssuerUnavailable(f"{issuer} offers no {', '.join(missing)}")
    return Provider(**{name: meta[name] for name in fields})


def _json(send: Callable[[], requests.Response]) -> Any:
    """The JSON answer; an OAuth error answer (4xx) is a refusal, anything else exit 3."""
    try:
        response = send()
        answer = response.json()
    except (requests.RequestException, ValueError) as exc:
        raise IssuerUnavailable(f"Keycloak: {exc}") from None
    if response.ok:
        return answer
    if response.status_code < 500 and isinstance(answer, dict) and "error" in answer:  # noqa: PLR2004
        detail = answer.get("error_description") or ""
        raise LoginFailed(f"Keycloak refused: {answer['error']} {detail}".rstrip())
    raise IssuerUnavailable(f"Keycloak answered HTTP {response.status_code}")


def _session(client_id: str, redirect_uri: str | None = None) -> OAuth2Session:
    return OAuth2Session(
        client_id,
        scope="openid",
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
        token_endpoint_auth_method="none",  # noqa: S106 - a public client: no secret
        revocation_endpoint_auth_method="none",
        default_timeout=TIMEOUT_SECONDS,
    )


def _token(request: Callable[[], Any]) -> dict[str, Any]:
    """A token response; OAuthError passes through, transport failures become exit 3."""
    try:
        token = request()
    except (requests.RequestException, ValueError) as exc:
        raise IssuerUnavailable(f"Keycloak's token endpoint: {exc}") from None
    if not isinstance(token.get("access_token"), str):
        raise IssuerUnavailable("Keycloak's token answer has no access token")
    return dict(token)


def _acr(acr: str | None) -> dict[str, str]:
    return {"acr_values": acr} if acr else {}


def device_sign_in(
    provider: Provider,
    client_id: str,
    *,
    announce: Callable[[str, str], None],
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, Any]:
    """RFC 8628: ask for a code, ``announce(uri, user_code)``, poll until the person confirms.

    PKCE S256 binds the polling to this process (Keycloak requires it where the client does).
    """
    verifier = generate_token(48)
    request = {
        "client_id": client_id,
        "scope": "openid",
        "code_challenge": create_s256_code_challenge(verifier),
        "code_challenge_method": "S256",
    }
    grant = _json(
        lambda: requests.post(
            provider.device_authorization_endpoint, data=request, timeout=TIMEOUT_SECONDS
        )
    )
    if (
        not isinstance(grant, dict)
        or not {"device_code", "user_code", "verification_uri"} <= grant.keys()
    ):
        raise IssuerUnavailable("Keycloak's device authorization answer is incomplete")
    announce(
        str(grant.get("verification_uri_complete") or grant["verification_uri"]),
        str(grant["user_code"]),
    )
    interval = _seconds(grant, "interval", 5)
    deadline = clock() + _seconds(grant, "expires_in", 600)
    session = _session(client_id)
    while True:
        sleep(interval)
        if clock() >= deadline:
            raise LoginFailed("the code expired before it was confirmed: run `anbao login` again")
        try:
            return _token(
                lambda: session.fetch_token(
                    provider.token_endpoint,
                    grant_type=DEVICE_GRANT,
                    device_code=grant["device_code"],
                    code_verifier=verifier,
                )
            )
        except OAuthError as exc:
            if exc.error == "authorization_pending":
                continue
            if exc.error == "slow_down":
                interval += SLOW_DOWN_SECONDS
                continue
            raise _refused(exc) from None


def _seconds(answer: Mapping[str, Any], name: str, default: float) -> float:
    value = answer.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise IssuerUnavailable(f"Keycloak's device authorization answer has a bad {name}")
    return float(value)


def _refused(exc: OAuthError) -> LoginFailed:
    reasons = {
        "access_denied": "the sign-in was declined in the browser",
        "expired_token": "the code expired before it was confirmed: run `anbao login` again",
    }
    return LoginFailed(reasons.get(str(exc.error), f"Keycloak refused the sign-in ({exc.error})"))


def loopback_sign_in(
    provider: Provider,
    client_id: str,
    *,
    acr: str | None,
    open_url: Callable[[str], None],
    wait_seconds: float = LOOPBACK_WAIT_SECONDS,
) -> dict[str, Any]:
    """RFC 8252 §7.3 with PKCE S256: listen on 127.0.0.1, send the browser, redeem the code."""
    with _Listener() as listener:
        redirect = f"http://127.0.0.1:{listener.server_port}/callback"
        session = _session(client_id, redirect)
        verifier = generate_token(48)
        url, state = session.create_authorization_url(
            provider.authorization_endpoint, code_verifier=verifier, **_acr(acr)
        )
        open_url(url)
        answer = listener.wait(state, time.monotonic() + wait_seconds)
    if "error" in answer:
        raise LoginFailed(f"Keycloak refused the sign-in ({answer['error']})")
    # RFC 9207: an answer naming another issuer is an answer to another request (mix-up).
    if "iss" in answer and answer["iss"] != provider.issuer:
        raise LoginFailed("the sign-in answer came from another issuer")
    try:
        return _token(
            lambda: session.fetch_token(
                provider.token_endpoint, code=answer["code"], code_verifier=verifier
            )
        )
    except OAuthError as exc:
        raise _refused(exc) from None


class _Listener(http.server.HTTPServer):
    """A one-shot redirect listener on loopback: the first callback with our ``state`` ends it;
    anything else (another path, another state) is answered with an error and ignored."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Callback)
        self.expected_state = ""
        self.answer: dict[str, str] | None = None

    def wait(self, state: str, deadline: float) -> dict[str, str]:
        self.expected_state = state
        while self.answer is None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise LoginFailed("no answer from the browser in time: run `anbao login` again")
            self.timeout = left
            self.handle_request()
        return self.answer


class _Callback(http.server.BaseHTTPRequestHandler):
    server: _Listener
    timeout = 10  # a connection that sends nothing does not hold the listener past its wait

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        state = query.get("state", "")
        if url.path != "/callback" or not hmac.compare_digest(
            state.encode(), self.server.expected_state.encode()
        ):
            self._reply(400, "This is not the sign-in anbao is waiting for.")
            return
        if "code" not in query and "error" not in query:
            self._reply(400, "The answer has neither a code nor an error.")
            return
        self.server.answer = query
        self._reply(200, "Signed in: you can close this tab and go back to the terminal.")

    def _reply(self, status: int, text: str) -> None:
        body = f"<!doctype html><meta charset=utf-8><title>anbao</title><p>{text}</p>".encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the request line holds the authorization code."""


def refresh(token_endpoint: str, client_id: str, refresh_token: str) -> dict[str, Any]:
    """A new token set (refresh_token grant, RFC 6749 §6); OAuthError when it is refused."""
    session = _session(client_id)
    return _token(lambda: session.refresh_token(token_endpoint, refresh_token=refresh_token))


def revoke(revocation_endpoint: str, client_id: str, refresh_token: str) -> None:
    """RFC 7009: Keycloak ends the client session behind the refresh token."""
    session = _session(client_id)
    try:
        response = session.revoke_token(
            revocation_endpoint,
            token=refresh_token,
            token_type_hint="refresh_token",  # noqa: S106 - a hint name
        )
    except requests.RequestException as exc:
        raise IssuerUnavailable(f"Keycloak's revocation endpoint: {exc}") from None
    if response.status_code != 200:  # noqa: PLR2004 - RFC 7009 §2.2: 200, valid token or not
        raise LoginFailed(f"Keycloak refused to revoke the session (HTTP {response.status_code})")


def username(provider: Provider, access_token: str) -> str:
    """Who the tokens belong to, as Keycloak's userinfo endpoint says (no local JWT parsing)."""
    info = _json(
        lambda: requests.get(
            provider.userinfo_endpoint,
            headers={"Authorization": f"Bearer {access_token}"},
            timeout=TIMEOUT_SECONDS,
        )
    )
    claims: Mapping[str, Any] = info if isinstance(info, dict) else {}
    return str(claims.get("preferred_username") or claims.get("sub") or "?")
