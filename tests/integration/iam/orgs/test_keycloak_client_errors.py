"""A caller's mistake that reaches the real Keycloak is the caller's error (4xx), never an
outage (503) or a crash (500); and an app registration that cannot finish leaves no client."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import falcon.testing
import pytest

from anbao.app import Parts, create_app
from anbao.settings import Settings
from anbao.wiring.iam import build_org_directory
from iam.apps.keycloak import KeycloakAppDirectory
from iam.apps.model import App, parse_registration
from iam.apps.service import AppService
from iam.errors import IdentityProviderUnavailable
from iam.orgs.errors import InvalidOrgInput, OrgNotFound
from iam.orgs.model import NodeKind
from tests.integration.conftest import Server
from tests.integration.iam import kc_realm
from tests.integration.iam.apps.test_keycloak import developer
from tests.integration.iam.orgs_realm import Realm, create_realm, delete_realm


@pytest.fixture(scope="module")
def realm(keycloak: Server) -> Iterator[Realm]:
    env = keycloak.env
    realm = create_realm(
        keycloak.url, env["KEYCLOAK_ADMIN_USERNAME"], env["KEYCLOAK_ADMIN_PASSWORD"]
    )
    yield realm
    delete_realm(realm)


# -- the admin client: Keycloak's 4xx answers -------------------------------------------------


def test_missing_user_on_a_write_is_not_found(realm: Realm) -> None:
    with pytest.raises(OrgNotFound):
        realm.admin.request("PUT", f"/users/{uuid.uuid4()}", json={"firstName": "x"})


def test_other_client_errors_are_invalid_input(realm: Realm) -> None:
    with pytest.raises(InvalidOrgInput):
        realm.admin.request("GET", "/users", params={"username": "a\x01"})
    with pytest.raises(InvalidOrgInput):  # 405: no such method on the collection
        realm.admin.request("DELETE", "/users")


def test_ids_keycloak_cannot_take_are_client_errors(realm: Realm) -> None:
    directory = realm.directory
    with pytest.raises(OrgNotFound):
        directory.get_person("..")  # /users/.. would be the realm itself
    with pytest.raises(OrgNotFound):
        directory.get_node(".")
    with pytest.raises(InvalidOrgInput):
        directory.get_person("a" * 70_000)  # no URL carries it
    assert directory.get_person("a\x01b") is None
    assert directory.get_node("x" * 5_000) is None


# -- the same through the HTTP edge -------------------------------------------------------------


@pytest.fixture(scope="module")
def api(
    keycloak: Server, realm: Realm, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[falcon.testing.TestClient, dict[str, str]]]:
    env = keycloak.env
    province = realm.node(None, NodeKind.PROVINCE, "530000", "云南省")
    admin = realm.person([province], "platform-admin")
    settings = Settings.load(
        {
            "ANBAO_KEYCLOAK_URL": keycloak.url,
            "ANBAO_KEYCLOAK_REALM": realm.name,
            "ANBAO_KEYCLOAK_REQUIRED": "false",
            "ANBAO_KEYCLOAK_ADMIN_USERNAME": env["KEYCLOAK_ADMIN_USERNAME"],
            "ANBAO_KEYCLOAK_ADMIN_PASSWORD": env["KEYCLOAK_ADMIN_PASSWORD"],
            "ANBAO_AUDIT_SQLITE_PATH": str(Path(tmp_path_factory.mktemp("audit")) / "a.db"),
            "ANBAO_SERVER_ACCESS_LOG": "false",
        }
    )
    directory = build_org_directory(settings)
    client = falcon.testing.TestClient(create_app(settings, Parts(org_directory=directory)))
    try:
        yield client, {"Authorization": "Bearer " + realm.token(admin.username)}
    finally:
        directory.admin.close()


@pytest.mark.parametrize(
    "path",
    [
        "/iam/people/..",
        "/iam/people/" + "a" * 5_000,
        "/iam/people/a%01b",
        "/iam/orgs/a%7Fb/children",
        "/iam/orgs/" + "b" * 300,
    ],
)
def test_malformed_ids_are_404(
    api: tuple[falcon.testing.TestClient, dict[str, str]], path: str
) -> None:
    client, auth = api
    result = client.simulate_get(path, headers=auth)
    assert result.status_code == 404, result.text
    assert result.headers["content-type"] == "application/problem+json"


def test_ids_in_a_body_keycloak_cannot_take_are_400(
    api: tuple[falcon.testing.TestClient, dict[str, str]],
) -> None:
    client, auth = api
    body = {
        "username": "edge-person",
        "family_name": "测",
        "given_name": "试",
        "memberships": ["n" * 70_000],
    }
    result = client.simulate_post("/iam/people", json=body, headers=auth)
    assert result.status_code == 400, result.text


# -- app registration is atomic ----------------------------------------------------------------


class _FailsAfterCreate(KeycloakAppDirectory):
    """The real directory, with the read-back after creation failing (as a dropped connection
    or an unencodable answer would)."""

    def get(self, client_id: str) -> App | None:
        raise IdentityProviderUnavailable("the read-back failed")


@pytest.fixture(scope="module")
def apps_realm(keycloak: Server) -> Iterator[kc_realm.KcRealm]:
    realm = kc_realm.create_realm(keycloak, "atomic")
    yield realm
    kc_realm.delete_realm(keycloak, realm)


def test_registration_that_cannot_finish_leaves_no_client(
    keycloak: Server, apps_realm: kc_realm.KcRealm
) -> None:
    def admin() -> object:
        return kc_realm.admin_for(keycloak, apps_realm.name)

    failing = _FailsAfterCreate(admin, apps_realm.name)  # type: ignore[arg-type]
    service = AppService(failing, issuer=apps_realm.issuer, clock=time.time)
    registration = parse_registration(
        {"client_id": "atomic-app", "type": "confidential", "service_account": True}
    )
    with pytest.raises(IdentityProviderUnavailable):
        service.register(developer("dev-1"), registration)
    real = KeycloakAppDirectory(admin, apps_realm.name)  # type: ignore[arg-type]
    assert not real.exists("atomic-app")  # no client whose one-time secret nobody holds


def test_registration_over_keycloak_limits_is_refused_before_creating(
    keycloak: Server, apps_realm: kc_realm.KcRealm
) -> None:
    from iam.errors import InvalidRequest

    with pytest.raises(InvalidRequest):
        parse_registration(
            {
                "client_id": "long-text",
                "type": "confidential",
                "service_account": True,
                "description": "x" * 2_000,  # Keycloak keeps 255: its 500 came after creation
            }
        )
    with pytest.raises(InvalidRequest):
        parse_registration(
            {"client_id": "ctl-name", "type": "public", "name": "a\x07b"}
            | {"redirect_uris": ["https://a.example/cb"]}
        )
    real = KeycloakAppDirectory(
        lambda: kc_realm.admin_for(keycloak, apps_realm.name), apps_realm.name
    )
    assert not real.exists("long-text")
