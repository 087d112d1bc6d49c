"""Invitations, activation and bootstrap on in-memory ports (the real Keycloak: integration)."""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import random
import re
import string

import falcon
import falcon.asgi
import falcon.testing
import pytest

from iam.invitations import (
    BOOTSTRAP_ACTOR,
    ActivationExpired,
    ActivationInvalid,
    AdminExists,
    AlreadyActivated,
    AuditActor,
    Delivery,
    InvitationService,
    PendingLink,
    bootstrap,
    required_actions,
)
from iam.invitations.model import parse_token, temporary_password
from iam.invitations.resources import add_routes
from iam.invitations.testing import InMemoryAccounts, ListAudit
from iam.orgs.errors import DelegationDenied, ImportInvalid, InvalidOrgInput, OrgNotFound
from iam.orgs.model import NodeKind, OrgNode, PersonDraft
from iam.orgs.service import OrgService
from iam.orgs.testing import InMemoryOrgDirectory

DAY = 86_400


@dataclasses.dataclass
class World:
    directory: InMemoryOrgDirectory
    accounts: InMemoryAccounts
    audit: ListAudit
    service: InvitationService
    nodes: dict[str, OrgNode]
    platform: AuditActor
    admin: AuditActor
    now: list[float]


@pytest.fixture
def world() -> World:
    d = InMemoryOrgDirectory()
    p = d.create_node(None, NodeKind.PROVINCE, "530000", "云南省")
    f = d.create_node(p, NodeKind.PREFECTURE, "530100", "昆明市")
    a = d.create_node(f, NodeKind.COUNTY, "530102", "五华区")
    b = d.create_node(f, NodeKind.COUNTY, "530103", "盘龙区")
    platform = d.create_person(PersonDraft("platform", "平", "台"), [p])
    d.grant_role(platform, "platform-admin")
    admin = d.create_person(PersonDraft("county-a", "管", "理"), [a])
    d.grant_role(admin, "org-admin")
    d.set_admin_node(admin, a)
    accounts = InMemoryAccounts(d)
    accounts.set_password(platform.id, "x", temporary=False)
    accounts.set_password(admin.id, "x", temporary=False)
    audit = ListAudit()
    now = [1_000_000.0]
    secrets = (f"secret-{i:040d}" for i in itertools.count())
    service = InvitationService(
        OrgService(d),
        accounts,
        audit,
        clock=lambda: now[0],
        new_secret=lambda: next(secrets),
        randbelow=random.Random(7).randrange,
        lifespan_seconds=DAY,
    )
    return World(
        d,
        accounts,
        audit,
        service,
        {"p": p, "f": f, "a": a, "b": b},
        AuditActor(platform.id, "platform"),
        AuditActor(admin.id, "county-a"),
        now,
    )


def draft(username: str, email: str = "") -> PersonDraft:
    return PersonDraft(username, "张", "三", email)


def test_a_link_is_stored_as_a_digest_and_consumed_once(world: World) -> None:
    w = world
    invitation = w.service.invite(w.admin, draft("clerk"), [w.nodes["a"].id])
    assert invitation.delivery is Delivery.LINK
    person_id, secret = parse_token(invitation.token)
    assert person_id == invitation.person_id
    stored = w.accounts.links[person_id]
    assert stored.digest == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in stored.encode()
    assert stored.expires_at == 1_000_000 + DAY

    # Looking at the page (a link preview) consumes nothing.
    assert w.service.check(invitation.token).username == "clerk"
    assert w.service.check(invitation.token).username == "clerk"
    made = w.service.activate(invitation.token)
    assert w.accounts.passwords[person_id] == (made.password, True)
    assert w.accounts.actions[person_id] == ["UPDATE_PASSWORD"]
    with pytest.raises(ActivationInvalid):
        w.service.activate(invitation.token)
    with pytest.raises(ActivationInvalid):
        w.service.check(invitation.token)
    actions = [e[0] for e in w.audit.events]
    assert actions == ["iam.person.invite", "iam.person.activate"]
    assert w.audit.events[0][1] == w.admin
    assert w.audit.events[1][1] == AuditActor(person_id, "clerk")


def test_a_wrong_secret_an_unknown_person_and_garbage_are_not_valid(world: World) -> None:
    w = world
    invitation = w.service.invite(w.platform, draft("clerk"), [w.nodes["a"].id])
    person_id, secret = parse_token(invitation.token)
    for token in (
        f"{person_id}.{'A' * len(secret)}",
        f"u-999.{secret}",
        "nonsense",
        f"{person_id}.short",
        "",
    ):
        with pytest.raises(ActivationInvalid):
            w.service.activate(token)
    assert person_id not in w.accounts.passwords


def test_an_expired_link_says_so_and_a_new_one_replaces_it(world: World) -> None:
    w = world
    old = w.service.invite(w.admin, draft("clerk"), [w.nodes["a"].id])
    w.now[0] += DAY
    with pytest.raises(ActivationExpired):
        w.service.check(old.token)
    new = w.service.resend(w.admin, old.person_id)
    assert new.token != old.token
    with pytest.raises(ActivationInvalid):
        w.service.activate(old.token)
    w.service.activate(new.token)
    with pytest.raises(AlreadyActivated):
        w.service.resend(w.admin, old.person_id)
    with pytest.raises(AlreadyActivated):
        w.service.revoke(w.admin, old.person_id)


def test_smtp_sends_keycloaks_e_mail_with_otp_for_administrators(world: World) -> None:
    w = world
    w.accounts.smtp = True
    invitation = w.service.invite(
        w.platform,
        draft("county-b", "b@example.test"),
        [w.nodes["b"].id],
        role="org-admin",
        node_id=w.nodes["b"].id,
    )
    assert invitation.delivery is Delivery.EMAIL
    assert not invitation.token
    assert "activation_url" not in invitation.as_json("http://x")
    assert w.accounts.mails == [(invitation.person_id, ("UPDATE_PASSWORD", "CONFIGURE_TOTP"), DAY)]
    assert invitation.person_id not in w.accounts.links
    assert w.directory.people[invitation.person_id].admin_node == w.nodes["b"].id
    # Without an address there is no e-mail to send: a link.
    assert w.service.invite(w.platform, draft("nomail"), [w.nodes["b"].id]).delivery == "link"


def test_org_admins_invite_only_inside_their_subtree(world: World) -> None:
    w = world
    with pytest.raises(OrgNotFound):
        w.service.invite(w.admin, draft("outsider"), [w.nodes["b"].id])
    with pytest.raises(DelegationDenied):  # checked before anyone is created
        w.service.invite(w.admin, draft("boss"), [w.nodes["a"].id], role="platform-admin")
    with pytest.raises(OrgNotFound):
        w.service.invite(
            w.admin, draft("boss"), [w.nodes["a"].id], role="org-admin", node_id=w.nodes["b"].id
        )
    assert w.directory.find_person("boss") is None
    assert w.directory.find_person("outsider") is None
    theirs = w.service.invite(w.platform, draft("other"), [w.nodes["b"].id])
    with pytest.raises(OrgNotFound):
        w.service.resend(w.admin, theirs.person_id)
    with pytest.raises(OrgNotFound):
        w.service.revoke(w.admin, theirs.person_id)
    assert [e[0] for e in w.audit.events] == ["iam.person.invite"]


def test_revoke_ends_the_link_and_disables_the_account(world: World) -> None:
    w = world
    invitation = w.service.invite(w.admin, draft("clerk"), [w.nodes["a"].id])
    person = w.service.revoke(w.admin, invitation.person_id)
    assert not person.enabled
    with pytest.raises(ActivationInvalid):
        w.service.activate(invitation.token)
    assert w.audit.events[-1][0] == "iam.person.invite_revoke"


def test_a_failing_audit_trail_fails_the_act(world: World) -> None:
    w = world
    w.audit.fail = True
    with pytest.raises(RuntimeError):
        w.service.invite(w.admin, draft("clerk"), [w.nodes["a"].id])


def test_bootstrap_runs_once_and_is_audited() -> None:
    d = InMemoryOrgDirectory()
    accounts, audit = InMemoryAccounts(d), ListAudit()
    made = bootstrap(d, accounts, audit, draft("first-admin"), random.Random(1).randrange)
    person = d.people[made.person_id]
    assert "platform-admin" in person.roles
    assert accounts.passwords[person.id] == (made.password, True)
    assert accounts.actions[person.id] == ["UPDATE_PASSWORD", "CONFIGURE_TOTP"]
    assert audit.events == [
        ("iam.bootstrap", BOOTSTRAP_ACTOR, "first-admin", {"role": "platform-admin"})
    ]
    with pytest.raises(AdminExists):
        bootstrap(d, accounts, audit, draft("second-admin"))
    assert d.find_person("second-admin") is None


def test_search_finds_by_username_e_mail_or_name_within_the_subtree(world: World) -> None:
    w = world
    w.service.invite(w.platform, PersonDraft("li.si", "李", "四", "ls@x.test"), [w.nodes["a"].id])
    w.service.invite(w.platform, PersonDraft("li.wu", "李", "五", "lw@y.test"), [w.nodes["b"].id])
    orgs = w.service.orgs
    assert {p.username for p in orgs.search_people(w.platform.subject, "li.")} == {
        "li.si",
        "li.wu",
    }
    assert [p.username for p in orgs.search_people(w.admin.subject, "李")] == ["li.si"]
    assert [p.username for p in orgs.search_people(w.platform.subject, "y.test")] == ["li.wu"]
    for nobody in ("   ", "li.\x05", "\x85"):
        assert orgs.search_people(w.platform.subject, nobody) == []
    with pytest.raises(InvalidOrgInput):
        orgs.search_people(w.platform.subject, "x" * 101)


def test_temporary_passwords_meet_the_realm_policy() -> None:
    rng = random.Random(3)
    for _ in range(200):
        password = temporary_password(rng.randrange)
        assert len(password) == 20
        assert re.search(r"[A-Z]", password)
        assert re.search(r"[a-z]", password)
        assert re.search(r"[0-9]", password)
        assert any(c not in string.ascii_letters + string.digits for c in password)


def test_stored_links_round_trip_and_junk_is_no_link() -> None:
    link = PendingLink("ab" * 32, 123)
    assert PendingLink.decode(link.encode()) == link
    for junk in ("", "v1", "v2 " + "ab" * 32 + " 1", "v1 xyz 1", "v1 " + "ab" * 32 + " -1"):
        assert PendingLink.decode(junk) is None
    assert required_actions({"otp-required"}) == ["UPDATE_PASSWORD", "CONFIGURE_TOTP"]
    assert required_actions({"auditor"}) == ["UPDATE_PASSWORD"]


def test_the_activation_page_shows_a_button_then_the_password_once(world: World) -> None:
    w = world
    app = falcon.asgi.App()
    add_routes(app, w.service, sign_in_url="http://kc/realms/anbao/account")
    client = falcon.testing.TestClient(app)
    invitation = w.service.invite(w.admin, draft("clerk"), [w.nodes["a"].id])
    path = f"/activate/{invitation.token}"

    page = client.simulate_get(path)
    assert page.status_code == 200
    assert 'method="post"' in page.text
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["cache-control"] == "no-store"
    assert invitation.person_id not in w.accounts.passwords

    done = client.simulate_post(path)
    assert done.status_code == 200
    password = w.accounts.passwords[invitation.person_id][0]
    assert password in done.text
    assert "http://kc/realms/anbao/account" in done.text
    again = client.simulate_post(path)
    assert again.status_code == 404
    assert password not in again.text

    expired = w.service.invite(w.admin, draft("late"), [w.nodes["a"].id])
    w.now[0] += DAY + 1
    assert client.simulate_get(f"/activate/{expired.token}").status_code == 410
    assert client.simulate_post(f"/activate/{expired.token}").status_code == 410


def test_the_people_import_invites_the_rows_marked_invite(world: World) -> None:
    from iam.orgs.imports.service import ImportService

    w = world
    table = [
        {"username": "a.one", "family_name": "甲", "given_name": "一", "email": "",
         "org_codes": "530102", "invite": "yes"},
        {"username": "a.two", "family_name": "乙", "given_name": "二", "email": "",
         "org_codes": "530102", "invite": ""},
        {"username": "a.three", "family_name": "丙", "given_name": "三", "email": "",
         "org_codes": "530102", "invite": "是"},
    ]  # fmt: skip
    service = ImportService(w.service.orgs, invitations=w.service)
    out = service.people(
        w.admin.subject, table, dry_run=False, actor_name=w.admin.name, link_base="https://a"
    )
    sent = out["invitations"]
    assert isinstance(sent, list)
    assert [i["username"] for i in sent] == ["a.one", "a.three"]
    assert all(str(i["activation_url"]).startswith("https://a/activate/") for i in sent)
    token = str(sent[0]["activation_path"]).removeprefix("/activate/")
    assert w.service.check(token).username == "a.one"

    bad = [dict(table[0], username="a.four", invite="maybe")]
    with pytest.raises(ImportInvalid) as info:
        service.people(w.admin.subject, bad, dry_run=False, actor_name=w.admin.name)
    assert info.value.findings == [{"row": 2, "column": "invite", "reason": "yes or no"}]
    without = ImportService(w.service.orgs)
    with pytest.raises(InvalidOrgInput):
        without.people(w.admin.subject, [dict(table[0], username="a.five")], dry_run=False)
    assert w.directory.find_person("a.five") is None
