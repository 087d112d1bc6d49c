"""The console's OpenID Connect client: authorization code + PKCE S256 as a confidential client.

What a backend-for-frontend needs from the realm, and no more: the authorization URL (state,
nonce, PKCE challenge, ``acr_values`` for step-up, ``ui_locales``), the code exchange and the
refresh (client secret over the back channel), and RP-initiated logout's end-session URL.

PKCE and random values are authlib's (``create_s256_code_challenge``, ``generate_token``); the
two token requests are plain form POSTs on the server's own async httpx client because authlib's
httpx integration warns on import in the pinned release (see anbao/cli/oauth.py). The ID token
comes straight from the token endpoint over the back channel, authenticated by the client
secret, so its signature is not re-checked (OIDC Core §3.1.3.7 (6)); its ``iss``, ``aud`` and
``nonce`` are. The access token is verified by the API's own verifier, by the caller.
"""

from __future__ import annotations

import base64
import dataclasses
import hmac
import json
from typing import Any
from urllib.parse import urlencode

import httpx
from authlib.common.security import generate_token
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from iam.errors import IdentityProviderUnavailable, Unauthenticated


@dataclasses.dataclass(frozen=True, slots=True)
class Tokens:
    access_token: str
    refresh_token: str
    id_token: str
    expires_in: float
    refresh_expires_in: float


@dataclasses.dataclass(frozen=True, slots=True)
class Authorization:
    """One authorization request: the URL to send the browser to and what the callback needs."""

    url: str
    state: str
    nonce: str
    verifier: str


class OidcClient:
    """The realm's endpoints for one confidential client."""

    def __init__(
        self,
        *,
        issuer: str,
        client_id: str,
        client_secret: str,
        redirect_uri: str,
        post_logout_uri: str,
        http: httpx.AsyncClient,
    ) -> None:
        self.issuer = issuer
        self.client_id = client_id
        self._secret = client_secret
        self.redirect_uri = redirect_uri
        self.post_logout_uri = post_logout_uri
        self._http = http
        base = issuer + "/protocol/openid-connect"
        self._auth, self._token, self._logout = base + "/auth", base + "/token", base + "/logout"

    def authorization(self, *, acr: str = "", locale: str = "") -> Authorization:
        """A fresh request: new state, nonce and PKCE verifier; ``acr`` asks for step-up."""
        state, nonce, verifier = generate_token(32), generate_token(32), generate_token(64)
        params = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "scope": "openid",
            "state": state,
            "nonce": nonce,
            "code_challenge": create_s256_code_challenge(verifier),
            "code_challenge_method": "S256",
        }
        if acr:
            params["acr_values"] = acr
        if locale:
            params["ui_locales"] = locale
        return Authorization(self._auth + "?" + urlencode(params), state, nonce, verifier)

    async def exchange(self, code: str, verifier: str, nonce: str) -> Tokens:
        """The tokens for an authorization code; the ID token's nonce must be ours."""
        tokens = await self._request(
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": self.redirect_uri,
                "code_verifier": verifier,
            }
        )
        claims = _claims(tokens.id_token)
        audience = claims.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if (
            claims.get("iss") != self.issuer
            or self.client_id not in audiences
            or not hmac.compare_digest(str(claims.get("nonce", "")), nonce)
        ):
            raise Unauthenticated("The sign-in answer was not for this sign-in.")
        return tokens

    async def refresh(self, refresh_token: str) -> Tokens:
        """New tokens; :class:`Unauthenticated` when the realm has ended the session."""
        return await self._request({"grant_type": "refresh_token", "refresh_token": refresh_token})

    def end_session_url(self, id_token: str) -> str:
        """RP-initiated logout: the browser goes here and Keycloak ends its own session."""
        params = {
            "id_token_hint": id_token,
            "post_logout_redirect_uri": self.post_logout_uri,
            "client_id": self.client_id,
        }
        return self._logout + "?" + urlencode(params)

    async def _request(self, form: dict[str, str]) -> Tokens:
        try:
            answer = await self._http.post(
                self._token, data=form, auth=(self.client_id, self._secret)
            )
        except httpx.HTTPError as exc:
            raise IdentityProviderUnavailable("Keycloak did not answer the sign-in.") from exc
        if answer.status_code in (400, 401):  # invalid_grant: code used, session ended
            raise Unauthenticated("The identity provider ended or refused the session.")
        if answer.status_code != 200:  # noqa: PLR2004
            raise IdentityProviderUnavailable("Keycloak refused the token request.")
        body: dict[str, Any] = answer.json()
        return Tokens(
            access_token=str(body["access_token"]),
            refresh_token=str(body.get("refresh_token", "")),
            id_token=str(body.get("id_token", "")),
            expires_in=float(body.get("expires_in", 60)),
            refresh_expires_in=float(body.get("refresh_expires_in", 0) or 0),
        )


def _claims(token: str) -> dict[str, Any]:
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError) as exc:
        raise Unauthenticated("The identity provider sent no usable ID token.") from exc
    if not isinstance(claims, dict):
        raise Unauthenticated("The identity provider sent no usable ID token.")
    return claims
