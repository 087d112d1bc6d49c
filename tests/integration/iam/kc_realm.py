"""Throw-away realms and clients on the real Keycloak for the token and app tests.

Each test module gets realms with unique names (colleagues' tests share the server) and deletes
them at the end. Until the realm file carries the ``anbao-api`` audience scope, the clients here
add their audience with an ``oidc-audience-mapper`` themselves.
"""

from __future__ import annotations

import dataclasses
import html
import re
import secrets
from typing import Any

import httpx
import requests
from keycloak import KeycloakAdmin

from iam.admin import AdminCredentials, KeycloakAdmins
from tests.integration.conftest import Server


def admin_for(keycloak: Server, realm: str = "master") -> KeycloakAdmin:
    return KeycloakAdmins(
        AdminCredentials.bootstrap(
            keycloak.url,
            keycloak.env["KEYCLOAK_ADMIN_USERNAME"],
            keycloak.env["KEYCLOAK_ADMIN_PASSWORD"],
        ),
        realm,
    ).python_keycloak()


def audience_mapper(audience: str) -> dict[str, Any]:
    return {
        "name": f"aud-{audience}",
        "protocol": "openid-connect",
        "protocolMapper": "oidc-audience-mapper",
        "config": {"included.custom.audience": audience, "access.token.claim": "true"},
    }


@dataclasses.dataclass
class KcRealm:
    """A realm with an API audience, a service client that calls it, and the API's own client."""

    url: str
    name: str
    admin: KeycloakAdmin
    audience: str
    client_id: str
    client_secret: str
    api_secret: str

    @property
    def issuer(self) -> str:
        return f"{self.url}/realms/{self.name}"

    def token(
        self, *, client_id: str | None = None, secret: str | None = None, base: str | None = None
    ) -> str:
        response = httpx.post(
            f"{base or self.url}/realms/{self.name}/protocol/openid-connect/token",
            data={"grant_type": "client_credentials"},
            auth=(client_id or self.client_id, secret or self.client_secret),
            timeout=10,
        )
        response.raise_for_status()
        return str(response.json()["access_token"])

    def add_client(self, client_id: str, *, audience: str | None = None) -> str:
        secret = secrets.token_urlsafe(24)
        self.admin.create_client(
            {
                "clientId": client_id,
                "publicClient": False,
                "secret": secret,
                "serviceAccountsEnabled": True,
                "standardFlowEnabled": False,
                "protocolMappers": [audience_mapper(audience)] if audience else [],
            }
        )
        return secret


def create_realm(keycloak: Server, prefix: str, *, roles: tuple[str, ...] = ()) -> KcRealm:
    name = f"{prefix}-{secrets.token_hex(4)}"
    master = admin_for(keycloak)
    master.create_realm({"realm": name, "enabled": True, "accessTokenLifespan": 300})
    admin = admin_for(keycloak, name)
    for role in roles:
        admin.create_realm_role({"name": role})
    audience = f"api-{secrets.token_hex(3)}"
    api_secret = secrets.token_urlsafe(24)
    admin.create_client(
        {
            "clientId": audience,
            "publicClient": False,
            "secret": api_secret,
            "serviceAccountsEnabled": True,
            "standardFlowEnabled": False,
        }
    )
    realm = KcRealm(keycloak.url, name, admin, audience, "svc", "", api_secret)
    realm.client_secret = realm.add_client("svc", audience=audience)
    if roles:
        internal = admin.get_client_id("svc")
        user = admin.get_client_service_account_user(internal)
        admin.assign_realm_roles(user["id"], [admin.get_realm_role(r) for r in roles])
    return realm


def delete_realm(keycloak: Server, realm: KcRealm) -> None:
    admin_for(keycloak).delete_realm(realm.name)


def browserless_login(authorize_url: str, username: str, password: str) -> str:
    """Sign in on Keycloak's login form without a browser; returns the redirect with the code.

    Keycloak marks its session cookies ``Secure``; a cookie jar would not send them back over
    the loopback http used here, so the cookies are carried by hand.
    """
    page = requests.get(authorize_url, timeout=10)
    assert page.status_code == 200, page.text[:500]
    action = re.search(r'<form[^>]*id="kc-form-login"[^>]*action="([^"]+)"', page.text)
    assert action, "no login form"
    cookies = "; ".join(f"{c.name}={c.value}" for c in page.cookies)
    done = requests.post(
        html.unescape(action.group(1)),
        data={"username": username, "password": password, "credentialId": ""},
        headers={"Cookie": cookies},
        allow_redirects=False,
        timeout=10,
    )
    assert done.status_code == 302, done.text[:500]
    return str(done.headers["Location"])
