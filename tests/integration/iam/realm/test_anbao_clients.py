"""Anbao's own clients against the real Keycloak, in a realm applied from anbao-realm.yaml.

Issue 16 §2.2: a platform-admin who signs in to an onboarded app hands that app a token; no
Anbao route may accept it, while a token through Anbao's own client (``anbao-console``) works.
§2.3: high-risk routes ask Keycloak (as the realm file's ``anbao-api`` client) whether the
session is still alive, so a logout or a disabled account stops them within the cache TTL.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import re
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import falcon.testing
import httpx
import pytest
from keycloak import KeycloakAdmin

from anbao.app import Parts, create_app
from anbao.settings import Settings
from crypto.keystore import KekRing
from iam.admin import AdminCredentials, KeycloakAdmins
from iam.apps.keycloak import KeycloakAppDirectory
from iam.apps.model import parse_registration
from tests.integration.conftest import Server
from tests.integration.iam.realm_support import (
    PASSWORD,
    REALM_DIR,
    REDIRECT,
    BrowserlessLogin,
    add_user,
    admin_for,
    apply_file,
    totp,
    unique,
)

ANBAO = REALM_DIR / "anbao-realm.yaml"
TTL = 5.0


class Clock:
    """The app's clock, moved by hand past the introspection cache's TTL (no sleeping)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@dataclasses.dataclass
class World:
    keycloak: Server
    realm: str
    admin: KeycloakAdmin
    secret: str
    client: falcon.testing.TestClient
    clock: Clock
    username: str = ""
    user_id: str = ""
    otp_secret: str = ""
    used: set[int] = dataclasses.field(default_factory=set)

    def new_admin(self) -> None:
        """A fresh platform-admin to sign in as (each test its own; at most two OTP codes each)."""
        self.username, self.otp_secret, self.used = unique("root"), "", set()
        self.user_id = add_user(self.admin, self.realm, self.username, roles=("platform-admin",))

    def otp(self) -> str:
        """A code Keycloak accepts (this period or the next: its look-around window) and has not
        seen (codes are single-use)."""
        now = time.time()
        at = next(now + d for d in (0, 30) if int((now + d) // 30) not in self.used)
        self.used.add(int(at // 30))
        return totp(self.otp_secret, at=at)

    def login(self, client_id: str, jar: BrowserlessLogin | None = None) -> str:
        """An access token of the platform-admin through ``client_id`` (OTP as needed)."""
        login = jar or BrowserlessLogin(self.keycloak.url, self.realm, client_id)
        try:
            login.client_id, login.code = client_id, None
            page = login.start()
            if login.code is None:  # no SSO session yet: the login form, then OTP
                page = login.submit(
                    page, "kc-form-login", username=self.username, password=PASSWORD
                )
            if login.code is None and not self.otp_secret:
                self.otp_secret = page.form()[1]["totpSecret"]
                login.submit(page, None, totp=self.otp(), userLabel="phone")
            elif login.code is None:
                login.submit(page, None, otp=self.otp())
            assert login.code, f"no code through {client_id}"
            return str(login.tokens()["access_token"])
        finally:
            if jar is None:
                login.close()

    def call(self, method: str, path: str, token: str, body: Any = None) -> falcon.testing.Result:
        headers = {"Authorization": f"Bearer {token}"}
        return self.client.simulate_request(method, path, headers=headers, json=body)


def settings_for(keycloak: Server, realm: str, secret: str, tmp: Path) -> Settings:
    """Every package on (seals too), so that every route Anbao serves is in the document."""
    return Settings.load(
        {
            "ANBAO_KEYCLOAK_URL": keycloak.url,
            "ANBAO_KEYCLOAK_REALM": realm,
            "ANBAO_KEYCLOAK_ADMIN_USERNAME": keycloak.env["KEYCLOAK_ADMIN_USERNAME"],
            "ANBAO_KEYCLOAK_ADMIN_PASSWORD": keycloak.env["KEYCLOAK_ADMIN_PASSWORD"],
            # The realm file's introspection client, with the secret apply gave it.
            "ANBAO_KEYCLOAK_CLIENT_ID": "anbao-api",
            "ANBAO_KEYCLOAK_CLIENT_SECRET": secret,
            "ANBAO_KEYCLOAK_INTROSPECTION_TTL_SECONDS": str(TTL),
            "ANBAO_AUDIT_SQLITE_PATH": str(tmp / "audit.sqlite3"),
            "ANBAO_AUDIT_SPOOL_PATH": str(tmp / "spool.sqlite3"),
            "ANBAO_AUDIT_INTEGRITY_LOG_PATH": str(tmp / "integrity.sqlite3"),
            "ANBAO_AUDIT_INTEGRITY_SIGNING_KEY_FILE": str(tmp / "sth-key.pem"),
            "ANBAO_AUDIT_INTEGRITY_FIELD_KEYRING_FILE": str(tmp / "field-keys.json"),
            "ANBAO_SEALS_ENABLED": "true",
            "ANBAO_SEALS_KEK": KekRing.generate_entry("clients"),
            "ANBAO_SEALS_DATABASE_URL": f"sqlite:///{tmp / 'seals.sqlite3'}",
            "ANBAO_SIEM_ALERT_SQLITE_PATH": str(tmp / "alerts.sqlite3"),
            "ANBAO_COMPLIANCE_DATABASE_URL": f"sqlite:///{tmp / 'compliance.sqlite3'}",
            "ANBAO_SERVER_ACCESS_LOG": "false",
        }
    )


@pytest.fixture(scope="module")
def world(keycloak: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    realm, secret = unique("clients"), secrets.token_urlsafe(32)
    apply_file(
        keycloak, ANBAO, realm, anbao_api_client_secret=secret, console_redirect_uri=REDIRECT
    )
    admin = admin_for(keycloak)
    clock = Clock()
    settings = settings_for(keycloak, realm, secret, tmp_path_factory.mktemp("clients"))
    app = create_app(settings, Parts(clock=clock))
    try:
        yield World(keycloak, realm, admin, secret, falcon.testing.TestClient(app), clock)
    finally:
        admin_for(keycloak).delete_realm(realm)


def onboard(world: World, kind: str = "public", **extra: Any) -> str:
    """An app onboarded as ``POST /iam/apps`` does it (the real directory adapter)."""
    client_id = f"tax-{secrets.token_hex(3)}"
    body = {"client_id": client_id, "type": kind, "redirect_uris": [REDIRECT], **extra}
    env = world.keycloak.env
    credentials = AdminCredentials.bootstrap(
        world.keycloak.url, env["KEYCLOAK_ADMIN_USERNAME"], env["KEYCLOAK_ADMIN_PASSWORD"]
    )
    directory = KeycloakAppDirectory(KeycloakAdmins(credentials, world.realm).lazy(), world.realm)
    directory.create(parse_registration(body), owner=world.user_id, created_at=int(time.time()))
    return client_id


def operations(world: World) -> list[tuple[str, str]]:
    """Every protected operation of the OpenAPI document, path parameters filled in."""
    document = world.client.simulate_get("/openapi.json").json
    out = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if operation.get("security") == []:  # public by design (health, CA material, TSA)
                continue
            out.append((method.upper(), re.sub(r"\{[^}]+\}", "x0", path)))
    return out


def test_an_onboarded_apps_admin_token_is_refused_by_every_route(world: World) -> None:
    world.new_admin()
    app_id = onboard(world)
    jar = BrowserlessLogin(world.keycloak.url, world.realm, app_id)
    try:
        app_token = world.login(app_id, jar)
        own_token = world.login("anbao-console", jar)  # same SSO session, Anbao's own client
    finally:
        jar.close()
    ops = operations(world)
    assert len(ops) > 40, ops  # seals, SIEM, compliance, audit and IAM are all there
    accepted = {
        (m, p): r.status_code
        for m, p in ops
        if (r := world.call(m, p, app_token, {})).status_code not in (401, 403)
    }
    assert accepted == {}
    assert world.call("GET", "/whoami", own_token).status_code == 200
    listed = world.call("GET", "/iam/apps", own_token)
    assert listed.status_code == 200, listed.text
    assert app_id in {a["client_id"] for a in listed.json["apps"]}


def test_high_risk_routes_stop_after_logout_and_after_disabling(world: World) -> None:
    world.new_admin()
    app_id = onboard(world, "confidential")
    rotate = f"/iam/apps/{app_id}/secret"
    other = add_user(world.admin, world.realm, unique("clerk"))
    grant = f"/iam/people/{other}/roles/auditor"
    token = world.login("anbao-console")
    assert world.call("POST", rotate, token).status_code == 200  # alive: accepted
    assert world.call("PUT", grant, token).status_code == 200

    world.admin.change_current_realm(world.realm)
    world.admin.user_logout(world.user_id)  # ends every session of the user
    world.clock.offset += TTL  # at most one TTL later
    refused = world.call("POST", rotate, token)
    assert refused.status_code == 401, refused.text
    assert world.call("GET", "/whoami", token).status_code == 200  # the JWT itself is unexpired

    world.new_admin()  # another administrator, signed in afresh
    token = world.login("anbao-console")
    assert world.call("POST", rotate, token).status_code == 200
    assert world.call("DELETE", grant, token).status_code == 200
    world.admin.update_user(world.user_id, {"enabled": False})
    world.clock.offset += TTL
    assert world.call("POST", rotate, token).status_code == 401
    assert world.call("PUT", grant, token).status_code == 401


def test_apply_migrates_apps_onboarded_the_old_way(keycloak: Server, tmp_path: Path) -> None:
    """Before issue 16 the file made anbao-api a realm default and apps kept the full scope."""
    old = ANBAO.read_text(encoding="utf-8").replace(
        "    realm_default: none\n    mappers:\n      - name: anbao-api audience",
        "    realm_default: default\n    mappers:\n      - name: anbao-api audience",
    )
    old = old[: old.index("onboarded_apps:")] + old[old.index("# org_path and org_admin_node") :]
    (tmp_path / "old.yaml").write_text(old, encoding="utf-8")
    realm, secret = unique("migrate"), secrets.token_urlsafe(32)
    apply_file(keycloak, tmp_path / "old.yaml", realm, anbao_api_client_secret=secret)
    try:
        world = World(keycloak, realm, admin_for(keycloak), secret, None, Clock(), user_id="owner")  # type: ignore[arg-type]
        app_id = onboard(world, "confidential", service_account=True)
        world.admin.change_current_realm(realm)
        internal = world.admin.get_client_id(app_id)
        world.admin.update_client(internal, {"fullScopeAllowed": True})  # as apps were made
        app_secret = world.admin.get_client_secrets(internal)["value"]
        assert "anbao-api" in service_token_claims(keycloak, realm, app_id, app_secret)["aud"]

        dry = apply_file(keycloak, ANBAO, realm, anbao_api_client_secret=secret, dry_run=True)
        fields = {
            (c.kind, c.name, f.field): (f.before, f.after) for c in dry.changes for f in c.fields
        }
        assert fields[("client_scope", "anbao-api", "realm_default")] == ("default", "none")
        assert fields[("app", app_id, "fullScopeAllowed")] == (True, False)
        before, after = fields[("app", app_id, "clientScopes")]
        assert "anbao-api" in before
        assert "anbao-api" not in after

        apply_file(keycloak, ANBAO, realm, anbao_api_client_secret=secret)
        claims = service_token_claims(keycloak, realm, app_id, app_secret)
        assert "anbao-api" not in claims["aud"]
        assert claims["aud"] in (app_id, [app_id])
        assert world.admin.get_client(internal)["fullScopeAllowed"] is False
        assert apply_file(keycloak, ANBAO, realm, anbao_api_client_secret=secret).changes == ()
    finally:
        admin_for(keycloak).delete_realm(realm)


def service_token_claims(keycloak: Server, realm: str, client_id: str, secret: str) -> Any:
    """The claims of a client-credentials token (unverified: the test reads its audience)."""
    response = httpx.post(
        f"{keycloak.url}/realms/{realm}/protocol/openid-connect/token",
        data={"grant_type": "client_credentials"},
        auth=(client_id, secret),
        timeout=10,
    )
    response.raise_for_status()
    payload = response.json()["access_token"].split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
