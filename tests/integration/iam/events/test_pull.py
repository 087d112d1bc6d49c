"""Keycloak events out, against the real server: mapping, paging, restart from the cursor."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from audit.sql.sqlite import connect
from iam.admin import AdminCredentials, KeycloakAdmins
from iam.events.keycloak import KeycloakEventSource
from iam.events.service import EventPuller, SplitJournal
from iam.events.sqlite import SqliteCursorStore
from tests.integration.iam.realm_support import (
    PASSWORD,
    REALM_DIR,
    BrowserlessLogin,
    add_public_client,
    add_user,
    admin_for,
    apply_file,
    unique,
)


class ListSink:
    def __init__(self):
        self.events = []

    def emit(self, events):
        self.events.extend(events)


@pytest.fixture(scope="module")
def realm(keycloak):
    name = unique("events")
    apply_file(keycloak, REALM_DIR / "anbao-realm.yaml", name)
    add_public_client(admin_for(keycloak), name, "portal")
    yield name
    admin_for(keycloak).delete_realm(name)


def sign_in(keycloak, realm, username, password):
    login = BrowserlessLogin(keycloak.url, realm, "portal")
    try:
        login.submit(login.start(), "kc-form-login", username=username, password=password)
        if login.code:
            login.tokens()
        return login.code is not None
    finally:
        login.close()


@pytest.fixture(scope="module")
def reader(keycloak, realm):
    """The org directory's admin client, as the service reads events with."""
    made = KeycloakAdmins(
        AdminCredentials.bootstrap(
            keycloak.url,
            keycloak.env["KEYCLOAK_ADMIN_USERNAME"],
            keycloak.env["KEYCLOAK_ADMIN_PASSWORD"],
        ),
        realm,
    ).rest()
    yield made
    made.close()


def make_puller(reader, realm, path, sink):
    return EventPuller(
        source=KeycloakEventSource(reader),
        journal=SplitJournal(SqliteCursorStore(path, connect), sink),
        realm=realm,
        page_size=2,  # several pages even for a handful of events
    )


def test_login_and_admin_events_are_pulled_mapped_and_never_repeated(
    keycloak, realm, reader, tmp_path
):
    admin = admin_for(keycloak)
    name = unique("clerk")
    user_id = add_user(admin, realm, name)
    assert sign_in(keycloak, realm, name, PASSWORD)
    assert not sign_in(keycloak, realm, name, "Wrong-Pass-1!")
    admin.change_current_realm(realm)
    admin.create_realm_role({"name": "events-probe", "description": "admin change"})

    cursor, sink = tmp_path / "cursor.sqlite3", ListSink()
    first = make_puller(reader, realm, cursor, sink).pull_once()
    assert first == len(sink.events) > 0
    by_action = {}
    for event in sink.events:
        by_action.setdefault(
            (event["event"]["dataset"], event["event"]["action"], event["event"]["outcome"]), []
        ).append(event)

    (ok,) = by_action[("keycloak.event", "login", "success")]
    assert ok["user"] == {"id": user_id, "name": name}
    assert ok["source"]["ip"] == "127.0.0.1"
    assert ok["event"]["category"] == ["authentication"]
    assert ok["keycloak"]["realm"] == realm
    assert ok["keycloak"]["client_id"] == "portal"
    assert ok["keycloak"]["type"] == "LOGIN"
    (failed,) = by_action[("keycloak.event", "login", "failure")]
    assert failed["event"]["reason"] == "invalid_user_credentials"
    assert failed["keycloak"]["type"] == "LOGIN_ERROR"
    assert ("keycloak.event", "code-to-token", "success") in by_action
    (role,) = by_action[("keycloak.admin", "realm-role-create", "success")]
    assert role["event"]["category"] == ["iam"]
    assert role["keycloak"]["representation"]["name"] == "events-probe"
    created = by_action[("keycloak.admin", "user-create", "success")]
    assert created[0]["user"]["target"]["id"] == user_id
    assert PASSWORD not in str(sink.events)

    # Restart from the persisted cursor: nothing is delivered twice ...
    assert make_puller(reader, realm, cursor, sink).pull_once() == 0
    # ... and what happens next arrives exactly once.
    assert sign_in(keycloak, realm, name, PASSWORD)
    admin.delete_realm_role("events-probe")
    later = make_puller(reader, realm, cursor, sink).pull_once()
    new = sink.events[first:]
    assert later == len(new)
    actions = sorted(e["event"]["action"] for e in new)
    assert actions == ["code-to-token", "login", "realm-role-delete"]
    ids = [e["event"]["id"] for e in sink.events]
    assert len(ids) == len(set(ids))


def test_cli_pull_once_prints_ecs_lines_and_resumes(keycloak, realm, tmp_path):
    env = {
        **os.environ,
        "ANBAO_KEYCLOAK_URL": keycloak.url,
        "ANBAO_KEYCLOAK_ADMIN_USERNAME": keycloak.env["KEYCLOAK_ADMIN_USERNAME"],
        "ANBAO_KEYCLOAK_ADMIN_PASSWORD": keycloak.env["KEYCLOAK_ADMIN_PASSWORD"],
    }
    cmd = [sys.executable, "-m", "anbao", "iam", "events", "pull", "--once", "--realm", realm,
           "--stdout", "--cursor", str(tmp_path / "c.sqlite3")]  # fmt: skip
    first = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)
    lines = [json.loads(line) for line in first.stdout.splitlines()]
    assert lines
    assert all(doc["event"]["module"] == "keycloak" for doc in lines)
    assert first.stderr.strip() == f"{len(lines)} event(s)"
    second = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)
    assert (second.stdout, second.stderr.strip()) == ("", "0 event(s)")
