"""App roles through Anbao on the real Keycloak (issue 17 §3): the CLI as a subprocess with a
token, the API of a real ``anbao serve``, the audit events in the server's store."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session

from iam.tokens.keycloak import keycloak_verifier
from tests.integration.anbao.roles_stack import RolesStack, roles_stack, wait_for
from tests.integration.conftest import Server
from tests.integration.iam.kc_realm import browserless_login
from tests.integration.iam.orgs_realm import PASSWORD

REDIRECT = "http://127.0.0.1:8766/callback"


@pytest.fixture(scope="module")
def stack(keycloak: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RolesStack]:
    with roles_stack(keycloak, Path(tmp_path_factory.mktemp("app-roles"))) as s:
        yield s


@pytest.fixture(scope="module")
def app(stack: RolesStack) -> str:
    """An app the developer registered with the CLI, acting as themselves."""
    client_id = f"permits-{secrets.token_hex(3)}"
    done = stack.cli(
        "dev", "iam", "apps", "register", client_id, "--type", "confidential",
        "--service-account", "--role", "clerk", "--role", "approver",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    created = json.loads(done.stdout)
    assert created["client_secret"]
    assert created["app"]["owner"] == stack.people["dev"].id  # the person, not "anbao-cli"
    return client_id


def _holders(stack: RolesStack, who: str, client_id: str) -> dict[str, list[str]]:
    done = stack.cli(who, "iam", "apps", "roles", client_id)
    assert done.returncode == 0, done.stderr
    roles = json.loads(done.stdout)["roles"]
    return {r["name"]: sorted(h["username"] for h in r["holders"]) for r in roles}


def test_owner_grants_and_revokes_with_the_cli(stack: RolesStack, app: str) -> None:
    clerk_b = stack.people["clerk_b"].username
    granted = stack.cli("dev", "iam", "apps", "grant", app, clerk_b, "clerk")
    assert granted.returncode == 0, granted.stderr
    assert json.loads(granted.stdout)["holder"]["id"] == stack.people["clerk_b"].id
    assert _holders(stack, "dev", app) == {"approver": [], "clerk": [clerk_b]}
    listed = json.loads(stack.cli("dev", "iam", "apps", "list").stdout)
    assert {a["client_id"]: a["roles"] for a in listed}[app] == ["approver", "clerk"]

    revoked = stack.cli("dev", "iam", "apps", "revoke", app, clerk_b, "clerk")
    assert revoked.returncode == 0, revoked.stderr
    assert _holders(stack, "dev", app)["clerk"] == []
    again = stack.cli("dev", "iam", "apps", "revoke", app, clerk_b, "clerk")
    assert again.returncode == 1
    assert f"'{clerk_b}' does not hold the role 'clerk'" in again.stderr
    assert "[app_role_not_found]" in again.stderr


def test_cli_messages_say_what_is_wrong(stack: RolesStack, app: str) -> None:
    clerk_a = stack.people["clerk_a"].username
    unknown = stack.cli("dev", "iam", "apps", "grant", app, clerk_a, "x")
    assert unknown.returncode == 1
    assert f"The app '{app}' has no role 'x' (its roles: approver, clerk)" in unknown.stderr
    dev = stack.people["dev"].username
    self_grant = stack.cli("dev", "iam", "apps", "grant", app, dev, "clerk")
    assert self_grant.returncode == 1
    assert "Nobody grants or revokes their own roles" in self_grant.stderr
    assert "[role_self_grant]" in self_grant.stderr
    foreign = stack.cli("clerk_a", "iam", "apps", "roles", app)
    assert foreign.returncode == 1
    assert "[forbidden]" in foreign.stderr


def test_org_admin_gives_roles_in_their_subtree_only(stack: RolesStack, app: str) -> None:
    s = stack
    clerk_a, clerk_b = s.people["clerk_a"], s.people["clerk_b"]
    holders = f"/iam/apps/{app}/roles/approver/holders"
    granted = s.call("admin_a", "POST", holders, {"user": clerk_a.username})
    assert granted.status_code == 201, granted.text
    assert granted.headers["location"] == f"{holders}/{clerk_a.id}"
    assert s.call("dev", "POST", holders, {"user": clerk_b.username}).status_code == 201

    outside = s.call("admin_a", "POST", holders, {"user": clerk_b.username})
    assert outside.status_code == 404
    assert outside.headers["content-type"] == "application/problem+json"
    assert outside.json()["type"] == "urn:anbao:problem:person_not_found"
    assert "in your part of the org tree" in outside.json()["detail"]
    own = s.call("admin_a", "POST", holders, {"user": s.people["admin_a"].id})
    assert own.status_code == 403
    assert own.json()["type"] == "urn:anbao:problem:role_self_grant"
    bad = s.call("admin_a", "POST", holders, {"user": "", "extra": 1})
    assert bad.status_code == 400
    assert bad.json()["type"] == "urn:anbao:problem:invalid_request"

    seen = s.call("admin_a", "GET", f"/iam/apps/{app}/roles").json()["roles"]
    approvers = next(r for r in seen if r["name"] == "approver")["holders"]
    assert [h["username"] for h in approvers] == [clerk_a.username]  # clerk B is not theirs
    not_owned = s.call("admin_a", "PATCH", f"/iam/apps/{app}", {"enabled": False})
    assert not_owned.status_code == 403
    assert not_owned.json()["type"] == "urn:anbao:problem:app_not_owned"
    assert "You do not own the app" in not_owned.json()["detail"]

    assert s.call("admin_a", "DELETE", f"{holders}/{clerk_b.id}").status_code == 404
    assert s.call("admin_a", "DELETE", f"{holders}/{clerk_a.id}").status_code == 204
    assert s.call("dev", "DELETE", f"{holders}/{clerk_b.id}").status_code == 204


def test_grants_revocations_and_refusals_are_audited(stack: RolesStack, app: str) -> None:
    s = stack
    newcomer = s.people["newcomer"]
    holders = f"/iam/apps/{app}/roles/clerk/holders"
    assert s.call("admin_a", "POST", holders, {"user": newcomer.username}).status_code == 201
    assert s.call("admin_a", "DELETE", f"{holders}/{newcomer.id}").status_code == 204
    assert s.call("admin_a", "POST", holders, {"user": "admin-a-self"}).status_code == 404

    def mine() -> list[dict[str, object]]:
        docs = [
            d
            for d in s.audit_documents()
            if d["event"]["action"].startswith("iam.role.")
            and d.get("labels", {}).get("client_id") == app
            and d["user"]["name"] == s.people["admin_a"].username
            and d["resource"]["name"] in {newcomer.username, "admin-a-self"}
        ]
        return docs if len(docs) == 3 else []

    docs = sorted(wait_for(mine, "three role events"), key=lambda d: d["anbao"]["sequence"])
    got = [
        (d["event"]["action"], d["event"]["outcome"], d["resource"]["name"], d["labels"]["role"])
        for d in docs
    ]
    assert got == [
        ("iam.role.grant", "success", newcomer.username, "clerk"),
        ("iam.role.revoke", "success", newcomer.username, "clerk"),
        ("iam.role.grant", "failure", "admin-a-self", "clerk"),
    ]
    assert docs[0]["organization"]["path"] == s.nodes["a"].path  # the target's analysts see it
    assert "org-admin" in docs[0]["user"]["roles"]  # live, not from the token
    assert docs[2]["event"]["reason"] == "person_not_found"


def test_role_routes_are_in_the_openapi_document(stack: RolesStack) -> None:
    paths = stack.call("platform", "GET", "/openapi.json").json()["paths"]
    assert "get" in paths["/iam/apps/{client_id}/roles"]
    assert "post" in paths["/iam/apps/{client_id}/roles/{role}/holders"]
    assert "delete" in paths["/iam/apps/{client_id}/roles/{role}/holders/{user_id}"]


def test_cli_register_show_rotate_disable_enable(stack: RolesStack) -> None:
    client_id = f"cli-{secrets.token_hex(3)}"
    registered = stack.cli(
        "dev", "iam", "apps", "register", client_id, "--type", "confidential",
        "--service-account", "--redirect-uri", "https://cli.example.gov.cn/cb",
    )  # fmt: skip
    assert registered.returncode == 0, registered.stderr
    secret = json.loads(registered.stdout)["client_secret"]
    shown = stack.cli("dev", "iam", "apps", "show", client_id)
    assert shown.returncode == 0
    assert secret not in shown.stdout
    rotated = stack.cli("dev", "iam", "apps", "rotate-secret", client_id)
    assert json.loads(rotated.stdout)["client_secret"] not in {"", secret}
    disabled = stack.cli("dev", "iam", "apps", "disable", client_id)
    assert json.loads(disabled.stdout)["enabled"] is False
    assert json.loads(stack.cli("dev", "iam", "apps", "enable", client_id).stdout)["enabled"]

    bad = stack.cli(
        "dev", "iam", "apps", "register", "cli-bad", "--type", "public",
        "--redirect-uri", "http://evil.cn/cb",
    )  # fmt: skip
    assert bad.returncode == 1
    assert "http is allowed only on a loopback address" in bad.stderr
    missing = stack.cli("dev", "iam", "apps", "show", "no-such-app")
    assert missing.returncode == 1
    assert "[not_found]" in missing.stderr
    others = stack.cli("admin_a", "iam", "apps", "rotate-secret", client_id)
    assert others.returncode == 1
    assert "[app_not_owned]" in others.stderr


def test_a_given_role_arrives_in_the_persons_token(stack: RolesStack) -> None:
    """The clerk signs in to the app (code + PKCE S256) and the token carries the app's role."""
    s = stack
    client_id = f"portal-{secrets.token_hex(3)}"
    registered = s.cli(
        "dev", "iam", "apps", "register", client_id, "--type", "public",
        "--redirect-uri", REDIRECT, "--role", "approver",
    )  # fmt: skip
    assert registered.returncode == 0, registered.stderr
    clerk = s.people["clerk_a"].username
    granted = s.cli("admin_a", "iam", "apps", "grant", client_id, clerk, "approver")
    assert granted.returncode == 0, granted.stderr

    issuer = f"{s.realm.url}/realms/{s.realm.name}"
    with OAuth2Session(
        client_id, redirect_uri=REDIRECT, scope="openid", code_challenge_method="S256"
    ) as oauth:
        verifier = generate_token(48)
        url, _ = oauth.create_authorization_url(
            f"{issuer}/protocol/openid-connect/auth", code_verifier=verifier
        )
        callback = browserless_login(url, clerk, PASSWORD)
        token = oauth.fetch_token(
            f"{issuer}/protocol/openid-connect/token",
            authorization_response=callback,
            code_verifier=verifier,
        )
    check = keycloak_verifier(s.realm.url, s.realm.name, audience=client_id)
    try:
        principal = check.verify(token["access_token"])
    finally:
        check.close()
    assert principal.username == clerk
    assert principal.client_roles == frozenset({"approver"})
