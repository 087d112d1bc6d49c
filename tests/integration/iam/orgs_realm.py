"""A throwaway realm on the real Keycloak for the org tree and delegation tests.

Unique name per run; the platform roles; a public test client with direct access grants whose
tokens carry Anbao's audience; a user profile that lets admins (only) keep unmanaged attributes
such as ``org_path`` and ``org_admin_node``.
"""

from __future__ import annotations

import dataclasses
import secrets
from typing import Any

import httpx

from iam.admin import AdminCredentials, KeycloakAdminClient, KeycloakAdmins
from iam.orgs.delegation import PLATFORM_ROLES
from iam.orgs.keycloak import KeycloakOrgDirectory
from iam.orgs.model import NodeKind, OrgNode, Person, PersonDraft

CLIENT_ID = "anbao-orgs-test"
AUDIENCE = "anbao-api"
#: Anbao's own confidential client, as the realm file makes it: high-risk routes introspect.
API_SECRET = secrets.token_urlsafe(32)
PASSWORD = "Test-Passw0rd!x"


@dataclasses.dataclass
class Realm:
    url: str
    name: str
    admin: KeycloakAdminClient
    directory: KeycloakOrgDirectory

    def settings_env(self, admin_user: str, admin_password: str) -> dict[str, str]:
        """What ``Settings.load`` needs to serve this realm, introspection included."""
        return {
            "ANBAO_KEYCLOAK_URL": self.url,
            "ANBAO_KEYCLOAK_REALM": self.name,
            "ANBAO_KEYCLOAK_REQUIRED": "false",
            "ANBAO_KEYCLOAK_ADMIN_USERNAME": admin_user,
            "ANBAO_KEYCLOAK_ADMIN_PASSWORD": admin_password,
            "ANBAO_KEYCLOAK_CLIENT_ID": AUDIENCE,
            "ANBAO_KEYCLOAK_CLIENT_SECRET": API_SECRET,
        }

    def token(self, username: str) -> str:
        response = httpx.post(
            f"{self.url}/realms/{self.name}/protocol/openid-connect/token",
            data={
                "grant_type": "password",
                "client_id": CLIENT_ID,
                "username": username,
                "password": PASSWORD,
                "scope": "openid",
            },
            timeout=30,
        )
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])

    def person(
        self, nodes: list[OrgNode], *roles: str, admin_node: OrgNode | None = None
    ) -> Person:
        username = f"p-{secrets.token_hex(5)}"
        draft = PersonDraft(username, "测", "试", f"{username}@example.test", {"title": "科员"})
        person = self.directory.create_person(draft, nodes)
        self.admin.request(
            "PUT",
            f"/users/{person.id}/reset-password",
            json={"type": "password", "value": PASSWORD, "temporary": False},
        )
        for role in roles:
            self.directory.grant_role(person, role)
        self.enrolled(person.id)
        if admin_node is not None:
            self.directory.set_admin_node(person, admin_node)
        found = self.directory.get_person(person.id)
        assert found is not None
        return found

    def required_actions(self, person_id: str) -> list[str]:
        return list(self.admin.json(f"/users/{person_id}").get("requiredActions") or [])

    def enrolled(self, person_id: str) -> None:
        """Stands in for the OTP set-up an administrator does at the first browser sign-in
        (the tests sign in with the password grant, which pending required actions refuse)."""
        user = self.admin.json(f"/users/{person_id}")
        if user.get("requiredActions"):
            user["requiredActions"] = []
            self.admin.request("PUT", f"/users/{person_id}", json=user)

    def node(self, parent: OrgNode | None, kind: NodeKind, code: str, name: str) -> OrgNode:
        return self.directory.create_node(parent, kind, code, name)


def create_realm(url: str, admin_user: str, admin_password: str) -> Realm:
    name = f"orgs-{secrets.token_hex(4)}"
    master = KeycloakAdmins(
        AdminCredentials.bootstrap(url, admin_user, admin_password), "master"
    ).rest()
    headers = {"Authorization": "Bearer " + master.token()}
    response = httpx.post(
        f"{url}/admin/realms", json={"realm": name, "enabled": True}, headers=headers, timeout=60
    )
    assert response.status_code == 201, response.text
    master.close()
    admin = KeycloakAdmins(AdminCredentials.bootstrap(url, admin_user, admin_password), name).rest()
    profile: dict[str, Any] = admin.json("/users/profile")
    profile["unmanagedAttributePolicy"] = "ADMIN_EDIT"
    admin.request("PUT", "/users/profile", json=profile)
    for role in sorted(PLATFORM_ROLES):
        admin.request("POST", "/roles", json={"name": role})
    admin.request(
        "POST",
        "/clients",
        json={"clientId": AUDIENCE, "publicClient": False, "secret": API_SECRET,
              "standardFlowEnabled": False},
    )  # fmt: skip
    admin.request(
        "POST",
        "/clients",
        json={
            "clientId": CLIENT_ID,
            "publicClient": True,
            "directAccessGrantsEnabled": True,
            "standardFlowEnabled": False,
            "protocolMappers": [
                {
                    "name": "audience",
                    "protocol": "openid-connect",
                    "protocolMapper": "oidc-audience-mapper",
                    "config": {
                        "included.custom.audience": AUDIENCE,
                        "access.token.claim": "true",
                    },
                },
                {
                    "name": "org_path",
                    "protocol": "openid-connect",
                    "protocolMapper": "oidc-usermodel-attribute-mapper",
                    "config": {
                        "user.attribute": "org_path",
                        "claim.name": "org_path",
                        "jsonType.label": "String",
                        "access.token.claim": "true",
                    },
                },
            ],
        },
    )
    return Realm(url, name, admin, KeycloakOrgDirectory(admin))


def delete_realm(realm: Realm) -> None:
    realm.admin.request("DELETE", "", absent_ok=True)
    realm.admin.close()
