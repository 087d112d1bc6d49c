"""Invitations, activation and bootstrap against the real Keycloak, on a realm converged from
the production realm file; the e-mail path through a real SMTP server process (aiosmtpd)
configured as the realm's SMTP, its link completed in Chromium."""

from __future__ import annotations

import email
import json
import mailbox
import os
import re
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from iam.admin import AdminCredentials, KeycloakAdmins
from iam.invitations import AlreadyActivated, AuditActor, Delivery, InvitationService
from iam.invitations.keycloak import KeycloakAccounts
from iam.invitations.testing import ListAudit
from iam.orgs.keycloak import KeycloakOrgDirectory
from iam.orgs.model import INVITATION_ATTRIBUTE, NodeKind, OrgNode, PersonDraft
from iam.orgs.service import OrgService
from tests.integration.conftest import Server
from tests.integration.iam.realm_support import CONSOLE, REALM_DIR, admin_for, apply_file, unique

pytestmark = pytest.mark.integration
ANBAO = Path(sys.executable).with_name("anbao")
NEW_PASSWORD = "Chosen-Passw0rd!7"


class World:
    def __init__(self, keycloak: Server, realm: str) -> None:
        env = keycloak.env
        self.keycloak, self.realm = keycloak, realm
        self.admin = KeycloakAdmins(
            AdminCredentials.bootstrap(
                keycloak.url, env["KEYCLOAK_ADMIN_USERNAME"], env["KEYCLOAK_ADMIN_PASSWORD"]
            ),
            realm,
        ).rest()
        self.directory = KeycloakOrgDirectory(self.admin)
        self.accounts = KeycloakAccounts(self.admin)
        self.audit = ListAudit()
        self.service = InvitationService(
            OrgService(self.directory, operator=True), self.accounts, self.audit, clock=time.time
        )
        self.county: OrgNode | None = None

    def node(self) -> OrgNode:
        if self.county is None:
            p = self.directory.create_node(None, NodeKind.PROVINCE, "530000", "云南省")
            f = self.directory.create_node(p, NodeKind.PREFECTURE, "530100", "昆明市")
            self.county = self.directory.create_node(f, NodeKind.COUNTY, "530102", "五华区")
        return self.county

    def user(self, person_id: str) -> dict[str, Any]:
        return dict(self.admin.json(f"/users/{person_id}"))

    def password_grant(self, username: str, password: str) -> httpx.Response:
        """The realm's console client has no direct grant; a throwaway one signs in here."""
        return httpx.post(
            f"{self.keycloak.url}/realms/{self.realm}/protocol/openid-connect/token",
            data={
                "grant_type": "password",
                "client_id": "people-test",
                "username": username,
                "password": password,
            },
            timeout=30,
        )


@pytest.fixture(scope="module")
def world(keycloak: Server) -> Iterator[World]:
    realm = unique("people")
    assert apply_file(keycloak, REALM_DIR / "anbao-realm.yaml", realm).applied
    w = World(keycloak, realm)
    w.admin.request(
        "POST",
        "/clients",
        json={"clientId": "people-test", "publicClient": True, "directAccessGrantsEnabled": True},
    )
    try:
        yield w
    finally:
        w.admin.close()
        admin_for(keycloak).delete_realm(realm)


def test_the_realm_speaks_chinese_by_default(world: World) -> None:
    rep = world.admin.json("")
    assert rep["internationalizationEnabled"] is True
    assert sorted(rep["supportedLocales"]) == ["en", "zh-CN"]
    assert rep["defaultLocale"] == "zh-CN"
    page = httpx.get(
        f"{world.keycloak.url}/realms/{world.realm}/protocol/openid-connect/auth",
        params={
            "client_id": CONSOLE,
            "response_type": "code",
            "redirect_uri": "http://127.0.0.1:9/callback",
            "scope": "openid",
            "code_challenge": "x" * 43,
            "code_challenge_method": "S256",
        },
        timeout=30,
    )
    assert page.status_code == 200
    assert 'lang="zh-CN"' in page.text
    assert "登录" in page.text


def test_a_link_invitation_stores_a_digest_that_survives_other_changes(world: World) -> None:
    w = world
    actor = AuditActor("operator", "operator")
    invitation = w.service.invite(actor, PersonDraft(unique("clerk"), "张", "三"), [w.node().id])
    assert invitation.delivery is Delivery.LINK
    secret = invitation.token.split(".", 1)[1]
    stored = w.user(invitation.person_id)["attributes"][INVITATION_ATTRIBUTE][0]
    assert secret not in stored
    # Another change of the person (a PUT replaces every attribute) keeps the pending link.
    person = w.directory.get_person(invitation.person_id)
    assert person is not None
    assert INVITATION_ATTRIBUTE not in person.attributes
    w.service.orgs.update_person("operator", person.id, changes={"given_name": "四"})
    w.directory.set_org_path(person, person.org_path)
    assert w.service.check(invitation.token).id == person.id

    made = w.service.activate(invitation.token)
    user = w.user(person.id)
    assert INVITATION_ATTRIBUTE not in (user.get("attributes") or {})
    assert user["requiredActions"] == ["UPDATE_PASSWORD"]
    # The temporary password is real, and Keycloak holds the person to changing it.
    refused = w.password_grant(made.username, made.password)
    assert refused.status_code == 400
    assert "not fully set up" in refused.json().get("error_description", "")
    assert w.password_grant(made.username, "Wrong-Passw0rd!").json()["error"] == "invalid_grant"
    with pytest.raises(AlreadyActivated):
        w.service.resend(actor, person.id)


def test_administrators_must_enrol_otp_and_revoke_disables(world: World) -> None:
    w = world
    actor = AuditActor("operator", "operator")
    node = w.node()
    invitation = w.service.invite(
        actor,
        PersonDraft(unique("admin"), "李", "四"),
        [node.id],
        role="org-admin",
        node_id=node.id,
    )
    w.service.activate(invitation.token)
    assert set(w.user(invitation.person_id)["requiredActions"]) == {
        "UPDATE_PASSWORD",
        "CONFIGURE_TOTP",
    }
    pending = w.service.invite(actor, PersonDraft(unique("late"), "王", "五"), [node.id])
    w.service.revoke(actor, pending.person_id)
    assert w.user(pending.person_id)["enabled"] is False
    assert w.user(pending.person_id).get("attributes", {}).get(INVITATION_ATTRIBUTE) is None
    found = w.service.orgs.search_people("operator", pending.username)
    assert [p.username for p in found] == [pending.username]


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ANBAO), *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_bootstrap_makes_the_first_admin_once_and_audits_itself(
    keycloak: Server, tmp_path: Path
) -> None:
    realm = unique("boot")
    assert apply_file(keycloak, REALM_DIR / "anbao-realm.yaml", realm).applied
    kc = keycloak.env
    env = {
        "ANBAO_KEYCLOAK_URL": keycloak.url,
        "ANBAO_KEYCLOAK_REALM": realm,
        "ANBAO_KEYCLOAK_ADMIN_USERNAME": kc["KEYCLOAK_ADMIN_USERNAME"],
        "ANBAO_KEYCLOAK_ADMIN_PASSWORD": kc["KEYCLOAK_ADMIN_PASSWORD"],
        "ANBAO_DATA_DIR": str(tmp_path),
        "ANBAO_AUDIT_SPOOL_PATH": str(tmp_path / "spool.sqlite3"),
    }
    try:
        first = _cli(env, "iam", "bootstrap", "--username", "root-admin", "--json")
        assert first.returncode == 0, first.stderr
        made = json.loads(first.stdout)
        assert made["username"] == "root-admin"
        assert made["temporary"] is True
        assert made["required_actions"] == ["UPDATE_PASSWORD", "CONFIGURE_TOTP"]
        assert made["sign_in_url"] == f"{keycloak.url}/realms/{realm}/account"

        again = _cli(env, "iam", "bootstrap", "--username", "second-admin")
        assert again.returncode == 1
        assert again.stderr.strip().splitlines() == [
            "Error: A platform-admin exists already; bootstrap runs only once. "
            "[platform_admin_exists]"
        ]
        with sqlite3.connect(tmp_path / "spool.sqlite3") as db:
            docs = [json.loads(d) for (d,) in db.execute("SELECT doc FROM spool")]
        (event,) = [d for d in docs if d["event"]["action"] == "iam.bootstrap"]
        assert event["user"]["name"] == "operator:anbao iam bootstrap"
        assert event["resource"] == {
            "type": "person",
            "id": made["person_id"],
            "name": "root-admin",
        }
    finally:
        admin_for(keycloak).delete_realm(realm)


# -- the e-mail path -----------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """aiosmtpd on loopback delivering into a maildir (plain SMTP: Keycloak as a relay client)."""
    maildir, port = tmp_path / "mail", _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}",
         "-c", "aiosmtpd.handlers.Mailbox", str(maildir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                assert time.monotonic() < deadline, "aiosmtpd did not start"
                time.sleep(0.05)
        yield port, maildir
    finally:
        proc.terminate()
        proc.wait(10)
        if proc.stderr is not None:
            proc.stderr.close()


def _action_link(maildir: Path) -> str:
    for _ in range(100):
        messages = list(mailbox.Maildir(maildir, create=False)) if maildir.exists() else []
        if messages:
            break
        time.sleep(0.1)
    (message,) = messages
    raw = email.message_from_bytes(message.as_bytes())
    texts = [
        part.get_payload(decode=True).decode()
        for part in raw.walk()
        if part.get_content_type() == "text/plain"
    ]
    found = re.search(r"https?://\S+/login-actions/action-token\?key=[\w.-]+", "".join(texts))
    assert found, texts
    return found.group(0)


def test_with_smtp_the_person_gets_keycloaks_e_mail_and_completes_it_in_chromium(
    world: World, smtp: tuple[int, Path]
) -> None:
    from tests.journeys.browser import KeycloakPages, Person, chromium

    w = world
    port, maildir = smtp
    realm = w.admin.json("")
    realm["smtpServer"] = {
        "host": "127.0.0.1",
        "port": str(port),
        "from": "anbao@example.test",
        "auth": "false",
        "starttls": "false",
        "ssl": "false",
    }
    w.admin.request("PUT", "", json=realm)
    try:
        username = unique("mailed")
        invitation = w.service.invite(
            AuditActor("operator", "operator"),
            PersonDraft(username, "赵", "六", f"{username}@example.test"),
            [w.node().id],
        )
        assert invitation.delivery is Delivery.EMAIL
        assert not invitation.token
        link = _action_link(maildir)
        person = Person(username, "")
        with chromium() as browser:
            page = browser.new_page()
            pages = KeycloakPages(page)
            page.goto(link)
            proceed = page.locator("a[href*='action-token']")
            if proceed.count():  # Keycloak's "click here to proceed" page
                proceed.first.click()
            pages.finish_required_actions(person, new_password=NEW_PASSWORD)
        answer = w.password_grant(username, NEW_PASSWORD)
        assert answer.status_code == 200, answer.text
    finally:
        realm["smtpServer"] = {}
        w.admin.request("PUT", "", json=realm)
