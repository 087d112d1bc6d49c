"""Anbao's admin client on the real Keycloak: the realm file's ``anbao-admin`` service account.

Every kind of admin call Anbao makes succeeds with the service account's roles alone (org tree,
people and roles, invitations, events, app onboarding, SIEM responses, compliance checks), and
what lies outside them is refused: creating a realm, changing the realm's settings, reading the
master realm, granting itself more roles.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator

import pytest
from keycloak import KeycloakAdmin
from keycloak.exceptions import KeycloakError

from iam.admin import SERVICE_ACCOUNT_ROLES, AdminCredentials, KeycloakAdmins
from iam.apps.keycloak import KeycloakAppDirectory
from iam.apps.model import parse_registration
from iam.errors import IdentityProviderUnavailable
from iam.events.keycloak import KeycloakEventSource
from iam.invitations.keycloak import KeycloakAccounts
from iam.orgs.keycloak import KeycloakOrgDirectory
from iam.orgs.model import NodeKind, PersonDraft
from policies.checks.keycloak import KeycloakRealmInspector
from siem.responses.keycloak import KeycloakIdentityResponder
from tests.integration.conftest import Server
from tests.integration.iam.realm_support import REALM_DIR, admin_for, apply_file, unique

ANBAO_REALM = REALM_DIR / "anbao-realm.yaml"
FORBIDDEN = 403


@pytest.fixture(scope="module")
def admins(keycloak: Server) -> Iterator[KeycloakAdmins]:
    """A realm applied from anbao-realm.yaml; Anbao signed in as its ``anbao-admin`` client."""
    realm, secret = unique("admin"), secrets.token_urlsafe(32)
    apply_file(keycloak, ANBAO_REALM, realm, anbao_admin_client_secret=secret)
    credentials = AdminCredentials(keycloak.url, client_id="anbao-admin", client_secret=secret)
    try:
        yield KeycloakAdmins(credentials, realm)
    finally:
        admin_for(keycloak).delete_realm(realm)


def test_the_file_grants_exactly_the_roles_anbao_calls_with(
    keycloak: Server, admins: KeycloakAdmins
) -> None:
    master = admin_for(keycloak)
    master.change_current_realm(admins.realm)
    account = master.get_client_service_account_user(master.get_client_id("anbao-admin"))
    grants = master.get_all_roles_of_user(account["id"])["clientMappings"]["realm-management"]
    assert sorted(r["name"] for r in grants["mappings"]) == sorted(SERVICE_ACCOUNT_ROLES)


def test_the_org_tree_people_and_invitations(admins: KeycloakAdmins) -> None:
    rest = admins.rest()
    directory = KeycloakOrgDirectory(rest)
    try:
        province = directory.create_node(None, NodeKind.PROVINCE, "530000", "云南省")
        city = directory.create_node(province, NodeKind.PREFECTURE, "530100", "昆明市")
        name = f"p-{secrets.token_hex(4)}"
        person = directory.create_person(
            PersonDraft(name, "测", "试", f"{name}@example.test", {}), [city]
        )
        directory.grant_role(person, "org-admin")
        directory.set_admin_node(person, city)
        assert [n.id for n in directory.children(province.id)] == [city.id]
        assert directory.members(city.id, 0, 10)[0].username == name
        accounts = KeycloakAccounts(rest)
        accounts.set_password(person.id, "Svc-Passw0rd!x", temporary=True)
        assert accounts.has_password(person.id)
        assert accounts.smtp_configured() is False  # the realm's settings are readable
        directory.revoke_role(person, "org-admin")
        directory.remove_membership(person, city)
    finally:
        rest.close()


def test_events_identity_providers_and_compliance_reads(admins: KeycloakAdmins) -> None:
    rest = admins.rest()
    try:
        since = int((time.time() - 3600) * 1000)
        for stream in ("login", "admin"):
            assert isinstance(KeycloakEventSource(rest).fetch(stream, since, 0, 10), list)
        assert isinstance(rest.json("/identity-provider/instances"), list)
    finally:
        rest.close()
    facts = KeycloakRealmInspector(admins.python_keycloak(), admins.realm).inspect()
    assert facts.realm == admins.realm
    assert facts.brute_force_protected


def test_app_onboarding_and_identity_responses(admins: KeycloakAdmins) -> None:
    apps = KeycloakAppDirectory(admins.lazy(), admins.realm)
    client_id = f"tax-{secrets.token_hex(3)}"
    registration = parse_registration(
        {"client_id": client_id, "type": "confidential", "redirect_uris": [], "roles": ["viewer"],
         "service_account": True}
    )  # fmt: skip
    secret = apps.create(registration, owner="someone", created_at=int(time.time()))
    assert secret
    directory = KeycloakOrgDirectory(admins.rest())
    name = f"r-{secrets.token_hex(4)}"
    person = directory.create_person(PersonDraft(name, "测", "试", f"{name}@example.test", {}), [])
    apps.grant_role(client_id, "viewer", person.id)
    assert apps.held_roles(client_id, person.id) == {"viewer"}
    assert apps.rotate_secret(client_id) != secret
    apps.delete(client_id)
    responder = KeycloakIdentityResponder(admins.lazy())
    assert responder.end_sessions(name) == 0
    responder.disable_user(name)
    assert directory.get_person(person.id).enabled is False  # type: ignore[union-attr]
    directory.admin.close()


def _status(admin: KeycloakAdmin, call: str, *args: object) -> int | None:
    with pytest.raises(KeycloakError) as refused:
        getattr(admin, call)(*args)
    return refused.value.response_code


def test_what_lies_outside_its_roles_is_refused(admins: KeycloakAdmins) -> None:
    admin = admins.python_keycloak()
    assert _status(admin, "create_realm", {"realm": unique("nope"), "enabled": True}) == FORBIDDEN
    assert _status(admin, "get_realm", "master") == FORBIDDEN
    assert _status(admin, "update_realm", admins.realm, {"registrationAllowed": True}) == FORBIDDEN
    management = admin.get_client_id("realm-management")
    account = admin.get_client_service_account_user(admin.get_client_id("anbao-admin"))
    realm_admin = admin.get_client_role(management, "realm-admin")
    assert _status(admin, "assign_client_role", account["id"], management, [realm_admin]) in {
        FORBIDDEN
    }
    master = KeycloakAdmins(admins.credentials, "master").rest()
    with pytest.raises(IdentityProviderUnavailable):  # its client exists in its realm only
        master.json("")
    master.close()


def test_apply_is_idempotent_and_takes_back_a_grant_made_by_hand(
    keycloak: Server, admins: KeycloakAdmins
) -> None:
    secret = admins.credentials.client_secret
    again = apply_file(keycloak, ANBAO_REALM, admins.realm, anbao_admin_client_secret=secret)
    assert again.changes == ()
    master = admin_for(keycloak)
    master.change_current_realm(admins.realm)
    account = master.get_client_service_account_user(master.get_client_id("anbao-admin"))
    management = master.get_client_id("realm-management")
    extra = master.get_client_role(management, "manage-realm")
    master.assign_client_role(account["id"], management, [extra])
    apply_file(keycloak, ANBAO_REALM, admins.realm, anbao_admin_client_secret=secret)
    grants = master.get_all_roles_of_user(account["id"])["clientMappings"]["realm-management"]
    assert sorted(r["name"] for r in grants["mappings"]) == sorted(SERVICE_ACCOUNT_ROLES)
