"""Identity events gain the person from the directory: name, roles, live org path (cached)."""

from __future__ import annotations

from iam.events.enrich import Enricher
from iam.events.model import admin_event_to_ecs, login_event_to_ecs
from iam.orgs.model import NodeKind, Person, PersonDraft
from iam.orgs.testing import InMemoryOrgDirectory


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class CountingDirectory(InMemoryOrgDirectory):
    lookups = 0

    def get_person(self, person_id: str) -> Person | None:
        self.lookups += 1
        return super().get_person(person_id)


def directory_with_clerk() -> tuple[CountingDirectory, str]:
    directory = CountingDirectory()
    province = directory.create_node(None, NodeKind.PROVINCE, "530000", "云南省")
    county = directory.create_node(province, NodeKind.PREFECTURE, "530100", "昆明市")
    clerk = directory.create_person(PersonDraft("clerk", "测", "试"), [county])
    directory.grant_role(clerk, "org-admin")
    return directory, clerk.id


def lockout(user_id: str) -> dict[str, object]:
    event = {"id": "e1", "time": 1, "type": "USER_DISABLED_BY_TEMPORARY_LOCKOUT", "userId": user_id}
    return login_event_to_ecs(event, "anbao")


def test_the_lockout_event_names_the_locked_user_with_roles_and_org_path() -> None:
    directory, clerk = directory_with_clerk()
    doc = Enricher(directory, clock=Clock())(lockout(clerk))
    assert doc["user"] == {"id": clerk, "name": "clerk", "roles": ["org-admin"]}
    assert doc["organization"] == {"path": "/530000/530100"}


def test_the_org_path_is_the_live_membership_not_the_attribute() -> None:
    directory, clerk = directory_with_clerk()
    person = directory.get_person(clerk)
    assert person is not None
    directory.set_org_path(person, "/530000")  # the attribute a token would carry, now stale
    doc = Enricher(directory, clock=Clock())(lockout(clerk))
    assert doc["organization"] == {"path": "/530000/530100"}


def test_an_admin_change_is_about_its_target_and_names_the_target() -> None:
    directory, clerk = directory_with_clerk()
    event = {
        "id": "a1",
        "time": 1,
        "operationType": "ACTION",
        "resourceType": "USER",
        "resourcePath": f"users/{clerk}/credentials/c-1",
        "authDetails": {"userId": "master-admin"},
        "details": {"credential_type": "otp"},
    }
    doc = Enricher(directory, clock=Clock())(admin_event_to_ecs(event, "anbao"))
    assert doc["user"]["id"] == "master-admin"
    assert "name" not in doc["user"]  # not a person of the realm
    assert doc["user"]["target"] == {"id": clerk, "name": "clerk", "roles": ["org-admin"]}
    assert doc["organization"] == {"path": "/530000/530100"}
    assert doc["keycloak"]["details"] == {"credential_type": "otp"}


def test_lookups_are_cached_by_user_id_for_a_short_while() -> None:
    directory, clerk = directory_with_clerk()
    clock = Clock()
    enrich = Enricher(directory, clock=clock, ttl_seconds=30)
    before = directory.lookups
    for _ in range(50):
        enrich(lockout(clerk))
    person = directory.get_person(clerk)
    assert person is not None
    directory.revoke_role(person, "org-admin")
    assert enrich(lockout(clerk))["user"]["roles"] == ["org-admin"]  # within the ttl
    clock.now = 31
    assert enrich(lockout(clerk))["user"]["roles"] == []
    assert directory.lookups - before == 2 + 1  # two lookups (and the test's own), not 51


def test_unknown_users_and_events_without_a_user_pass_unchanged() -> None:
    directory, _ = directory_with_clerk()
    enrich = Enricher(directory, clock=Clock())
    failed = login_event_to_ecs(
        {"id": "e", "time": 1, "type": "LOGIN_ERROR", "details": {"username": "ghost"}}, "anbao"
    )
    assert enrich(failed) == failed
    assert "organization" not in enrich(lockout("u-404"))
