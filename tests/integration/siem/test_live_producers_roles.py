"""Issue 17 §7 for the role rules: the real producer (Anbao's API of a real ``anbao serve`` on
the real Keycloak) raises each alert once through the server's own detection engine.

* ``anbao_platform_admin_granted``: a platform-admin grants platform-admin
  (``PUT /iam/people/{id}/roles/platform-admin``);
* ``anbao_role_self_grant``: a person tries to give themselves a role (Anbao refuses and records
  who tried), through the app-role route and through the platform-role route;
* an app's owner giving its roles (an app-developer, no admin) is the platform working as
  designed and raises neither rule; that is why ``anbao_role_grant_by_non_admin`` was removed
  (docs/siem-rules.md).

The alerts are read as an analyst reads them: ``GET /siem/alerts``.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.anbao.roles_stack import RolesStack, roles_stack, wait_for
from tests.integration.conftest import Server

SELF_GRANT = "af2525ea-f854-4d14-ad84-b54f51aa9b33"  # anbao_role_self_grant
PLATFORM_ADMIN = "f0c9cb01-c9fb-4aff-bdfc-a69dd3a83af4"  # anbao_platform_admin_granted


@pytest.fixture(scope="module")
def stack(keycloak: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RolesStack]:
    with roles_stack(keycloak, Path(tmp_path_factory.mktemp("live-roles"))) as s:
        yield s


def _alerts(stack: RolesStack, rule: str) -> list[dict[str, Any]]:
    """The alerts of ``rule`` as a province-wide analyst lists them."""
    answer = stack.call("platform", "GET", f"/siem/alerts?rule={rule}&limit=200")
    assert answer.status_code == 200, answer.text
    alerts: list[dict[str, Any]] = answer.json()["alerts"]
    assert all(a["rule"]["id"] == rule for a in alerts)
    return alerts


def _entity(alert: dict[str, Any]) -> dict[str, str]:
    return {e["field"]: e["value"] for e in alert["entity"]}


def _role_events(stack: RolesStack, target: str, outcome: str) -> list[dict[str, Any]]:
    return [
        d
        for d in stack.audit_documents()
        if d["event"]["action"] == "iam.role.grant"
        and d["resource"]["name"] == target
        and d["event"]["outcome"] == outcome
    ]


def test_platform_admin_granted_once(stack: RolesStack) -> None:
    s = stack
    target = s.people["clerk_b"]
    done = s.call("platform", "PUT", f"/iam/people/{target.id}/roles/platform-admin", {})
    assert done.status_code == 200, done.text
    wait_for(lambda: _role_events(s, target.username, "success"), "the grant's audit event")
    (alert,) = wait_for(lambda: _alerts(s, PLATFORM_ADMIN), "the platform-admin alert")
    assert alert["event_count"] == 1
    assert _entity(alert)["user.name"] == s.people["platform"].username
    (event,) = _role_events(s, target.username, "success")
    assert alert["event_ids"] == [event["event"]["id"]]


def test_self_grant_attempts_raise_one_alert_per_person(stack: RolesStack) -> None:
    s = stack
    client_id = f"self-{secrets.token_hex(3)}"
    registered = s.call(
        "dev",
        "POST",
        "/iam/apps",
        {"client_id": client_id, "type": "confidential", "service_account": True,
         "roles": ["clerk"]},
    )  # fmt: skip
    assert registered.status_code == 201, registered.text
    # The owner gives the role to someone else: as designed, no alert of either rule.
    other = s.people["clerk_a"].username
    assert (
        s.call("dev", "POST", f"/iam/apps/{client_id}/roles/clerk/holders", {"user": other})
    ).status_code == 201
    # ... and then to themselves: refused, recorded, detected.
    dev = s.people["dev"]
    refused = s.call("dev", "POST", f"/iam/apps/{client_id}/roles/clerk/holders", {"user": dev.id})
    assert refused.status_code == 403
    assert refused.json()["type"] == "urn:anbao:problem:role_self_grant"
    # An org-admin trying the same with a platform role through the org tree's route.
    admin = s.people["admin_a"]
    own = s.call("admin_a", "PUT", f"/iam/people/{admin.id}/roles/seal-user", {})
    assert own.status_code == 403
    assert own.json()["type"] == "urn:anbao:problem:role_self_grant"

    def both() -> list[dict[str, Any]]:
        found = _alerts(s, SELF_GRANT)
        return found if len(found) == 2 else []

    alerts = wait_for(both, "the two self-grant alerts")
    by_user = {_entity(a)["user.name"]: a for a in alerts}
    assert set(by_user) == {dev.username, admin.username}
    assert all(a["event_count"] == 1 for a in alerts)
    wait_for(lambda: _role_events(s, other, "success"), "the owner's grant in the store")
    # The owner's legitimate grant raised neither rule (the detection engine saw it).
    granted = {e["event"]["id"] for e in _role_events(s, other, "success")}
    for rule in (SELF_GRANT, PLATFORM_ADMIN):
        for alert in _alerts(s, rule):
            assert not granted & set(alert["event_ids"])
