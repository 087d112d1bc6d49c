"""Identity responses against the real Keycloak: a test user really disabled, sessions really ended."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from iam.admin import AdminCredentials, KeycloakAdmins
from siem.alerts.errors import ResponseTargetNotFound
from siem.alerts.service import AlertService
from siem.alerts.testing import MemoryAlertStore
from siem.model import ResponseAction, ResponseKind
from siem.responses.keycloak import KeycloakIdentityResponder
from siem.responses.model import ActionState
from siem.responses.service import ResponseService
from siem.responses.sqlite import SqliteActionStore
from siem.responses.testing import ListAudit
from tests.integration.conftest import Server
from tests.integration.iam.kc_realm import KcRealm, create_realm, delete_realm
from tests.unit.siem.support import Clock, detection

PASSWORD = "Victim-pass-2026!"


@pytest.fixture(scope="module")
def realm(keycloak: Server) -> Iterator[KcRealm]:
    realm = create_realm(keycloak, "siem-resp")
    realm.admin.create_client(
        {
            "clientId": "login",
            "publicClient": True,
            "directAccessGrantsEnabled": True,
            "standardFlowEnabled": False,
        }
    )
    yield realm
    delete_realm(keycloak, realm)


def make_user(realm: KcRealm, name: str) -> str:
    return realm.admin.create_user(
        {
            "username": name,
            "enabled": True,
            "email": f"{name}@example.org",
            "emailVerified": True,
            "firstName": name,
            "lastName": "Test",
            "credentials": [{"type": "password", "value": PASSWORD, "temporary": False}],
        }
    )


def login(realm: KcRealm, name: str) -> httpx.Response:
    return httpx.post(
        f"{realm.issuer}/protocol/openid-connect/token",
        data={
            "grant_type": "password",
            "client_id": "login",
            "username": name,
            "password": PASSWORD,
        },
        timeout=10,
    )


def refresh(realm: KcRealm, token: str) -> httpx.Response:
    return httpx.post(
        f"{realm.issuer}/protocol/openid-connect/token",
        data={"grant_type": "refresh_token", "client_id": "login", "refresh_token": token},
        timeout=10,
    )


def responder(keycloak: Server, realm: KcRealm) -> KeycloakIdentityResponder:
    env = keycloak.env
    credentials = AdminCredentials.bootstrap(
        keycloak.url, env["KEYCLOAK_ADMIN_USERNAME"], env["KEYCLOAK_ADMIN_PASSWORD"]
    )
    return KeycloakIdentityResponder(KeycloakAdmins(credentials, realm.name).lazy())


def test_end_sessions_and_disable_through_approved_actions(
    keycloak: Server, realm: KcRealm, tmp_path: Path
) -> None:
    user_id = make_user(realm, "victim1")
    tokens = [login(realm, "victim1") for _ in range(2)]
    assert all(t.status_code == 200 for t in tokens)
    assert len(realm.admin.get_sessions(user_id)) == 2

    clock = Clock()
    alerts = AlertService(MemoryAlertStore(), clock=clock, window=dt.timedelta(minutes=10))
    audit = ListAudit()
    ids = itertools.count(1)
    service = ResponseService(
        SqliteActionStore(tmp_path / "actions.sqlite3"),
        identity=responder(keycloak, realm),
        seals=None,
        audit=audit,
        clock=clock,
        new_id=lambda: f"a{next(ids)}",
        alerts=alerts.get,
    )
    d = detection(
        user="victim1",
        responses=(
            ResponseAction(ResponseKind.END_SESSIONS, approval=False),
            ResponseAction(ResponseKind.DISABLE_USER),
        ),
    )
    alert = alerts.ingest(d)
    assert alert is not None
    ended, disable = service.plan(alert, d)

    assert (ended.state, ended.result) == (ActionState.EXECUTED, "2 session(s) ended")
    assert realm.admin.get_sessions(user_id) == []
    assert refresh(realm, tokens[0].json()["refresh_token"]).status_code == 400
    assert disable.state is ActionState.PENDING
    assert realm.admin.get_user(user_id)["enabled"] is True

    done = service.approve(disable.id, "second-analyst")
    assert done.state is ActionState.EXECUTED
    assert realm.admin.get_user(user_id)["enabled"] is False
    assert login(realm, "victim1").status_code in {400, 401}
    assert [e[0] for e in audit.entries].count("executed") == 2


def test_unknown_user_is_a_clear_failure(keycloak: Server, realm: KcRealm) -> None:
    with pytest.raises(ResponseTargetNotFound):
        responder(keycloak, realm).disable_user("nobody-here")


def test_ending_sessions_of_a_user_without_any(keycloak: Server, realm: KcRealm) -> None:
    make_user(realm, "idle1")
    assert responder(keycloak, realm).end_sessions("idle1") == 0
