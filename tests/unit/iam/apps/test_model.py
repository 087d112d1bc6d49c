"""App onboarding rules: registration validation and who may do what."""

from __future__ import annotations

from typing import Any

import pytest
from joserfc.jwk import RSAKey

from iam.apps.model import (
    AppKind,
    ClientAuth,
    parse_registration,
    parse_update,
    redirect_uri_problem,
)
from iam.apps.service import AppService
from iam.apps.testing import MemoryAppDirectory
from iam.errors import Conflict, Forbidden, InvalidRequest, NotFound
from iam.tokens.model import Principal

ISSUER = "https://sso.example.gov.cn/realms/anbao"


def principal(subject: str, *roles: str) -> Principal:
    return Principal(
        subject=subject,
        username=subject,
        client_id="cli",
        roles=frozenset(roles),
        scopes=frozenset(),
        acr="1",
        org_path="",
        expires_at=2**31,
        claims={},
    )


ALICE = principal("alice", "app-developer")
BOB = principal("bob", "app-developer")
ADMIN = principal("root", "platform-admin")
AUDITOR = principal("eve", "auditor")


def web_app(**overrides: Any) -> dict[str, Any]:
    return {
        "client_id": "permits-web",
        "type": "confidential",
        "redirect_uris": ["https://permits.example.gov.cn/callback"],
        **overrides,
    }


@pytest.mark.parametrize(
    "uri",
    [
        "https://app.example.gov.cn/cb",
        "https://app.example.gov.cn:8443/oidc/cb?x=1",
        "http://127.0.0.1:8765/callback",
        "http://[::1]/cb",
        "http://localhost:3000/cb",
        "https://10.1.2.3/cb",
    ],
)
def test_acceptable_redirect_uris(uri: str) -> None:
    assert redirect_uri_problem(uri) is None


@pytest.mark.parametrize(
    ("uri", "reason"),
    [
        ("http://app.example.gov.cn/cb", "loopback"),
        ("https://*.example.gov.cn/cb", "wildcard"),
        ("https://app.example.gov.cn/*", "wildcard"),
        ("https://app.example.gov.cn/cb#frag", "fragment"),
        ("https://app.example.gov.cn/cb#", "fragment"),
        ("https://user:pw@app.example.gov.cn/cb", "user information"),
        ("https://user@app.example.gov.cn/cb", "user information"),
        ("ftp://app.example.gov.cn/cb", "https"),
        ("javascript:alert(1)", "https"),
        ("com.example.app:/cb", "https"),
        ("/relative/cb", "https"),
        ("https:///cb", "host"),
        ("https://app.example.gov.cn:99999/cb", "valid URL"),
        ("https://app.example.gov.cn/c b", "spaces"),
        ("https://app.example.gov.cn/\x00", "control"),
        ("", "non-empty"),
        ("https://a.cn/" + "x" * 3000, "at most"),
        ("http://127.0.0.1.evil.cn/cb", "loopback"),
    ],
)
def test_rejected_redirect_uris(uri: str, reason: str) -> None:
    problem = redirect_uri_problem(uri)
    assert problem is not None
    assert reason in problem


def test_every_bad_field_is_named_at_once() -> None:
    with pytest.raises(InvalidRequest) as info:
        parse_registration(
            {
                "client_id": "Bad_Id",
                "type": "confidential",
                "redirect_uris": ["https://ok.cn/cb", "http://evil.cn/cb", "https://x.cn/*"],
                "roles": ["ok", "Not OK"],
                "colour": "blue",
            }
        )
    fields = [e["field"] for e in info.value.errors]
    assert fields == ["colour", "client_id", "redirect_uris[1]", "redirect_uris[2]", "roles[1]"]
    assert info.value.field == "colour"
    assert info.value.problem_extra["errors"] == info.value.errors


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"type": "public"}, "client_id"),
        (
            {"client_id": "anbao-api", "type": "public", "redirect_uris": ["https://a.cn/"]},
            "client_id",
        ),
        (
            {"client_id": "admin-cli", "type": "public", "redirect_uris": ["https://a.cn/"]},
            "client_id",
        ),
        ({"client_id": "abc"}, "type"),
        ({"client_id": "abc", "type": "hybrid"}, "type"),
        ({"client_id": "abc", "type": "public"}, "redirect_uris"),
        (
            {
                "client_id": "abc",
                "type": "public",
                "auth_method": "client_secret",
                "redirect_uris": ["https://a.cn/"],
            },
            "auth_method",
        ),
        (
            {
                "client_id": "abc",
                "type": "public",
                "service_account": True,
                "redirect_uris": ["https://a.cn/"],
            },
            "service_account",
        ),
        ({"client_id": "abc", "type": "confidential"}, "redirect_uris"),
        (
            {
                "client_id": "abc",
                "type": "confidential",
                "auth_method": "none",
                "service_account": True,
            },
            "auth_method",
        ),
        (
            {
                "client_id": "abc",
                "type": "confidential",
                "auth_method": "private_key_jwt",
                "service_account": True,
            },
            "jwks_url",
        ),
        (
            {
                "client_id": "abc",
                "type": "confidential",
                "auth_method": "private_key_jwt",
                "service_account": True,
                "jwks_url": "http://keys.example.cn/jwks",
            },
            "jwks_url",
        ),
        (
            {
                "client_id": "abc",
                "type": "confidential",
                "service_account": True,
                "jwks_url": "https://k.cn/jwks",
            },
            "jwks_url",
        ),
        ({"client_id": "abc", "type": "confidential", "service_account": "yes"}, "service_account"),
        ({"client_id": "abc", "type": "public", "redirect_uris": "https://a.cn/"}, "redirect_uris"),
        (
            {
                "client_id": "abc",
                "type": "public",
                "redirect_uris": ["https://a.cn/"],
                "scopes": "x",
            },
            "scopes",
        ),
        (
            {"client_id": "abc", "type": "public", "redirect_uris": ["https://a.cn/"], "name": 5},
            "name",
        ),
    ],
)
def test_invalid_registrations_name_the_field(body: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        parse_registration(body)
    assert field in [e["field"] for e in info.value.errors], info.value.errors


def test_inline_jwks_must_hold_public_keys_only() -> None:
    key = RSAKey.generate_key(2048, parameters={"kid": "k1", "use": "sig"})
    base = {
        "client_id": "abc",
        "type": "confidential",
        "auth_method": "private_key_jwt",
        "service_account": True,
    }
    ok = parse_registration({**base, "jwks": {"keys": [key.as_dict(private=False)]}})
    assert ok.auth is ClientAuth.PRIVATE_KEY_JWT
    assert ok.jwks == {"keys": [key.as_dict(private=False)]}
    for bad, field in [
        ({"keys": [key.as_dict(private=True)]}, "jwks.keys[0]"),
        ({"keys": []}, "jwks"),
        ({"keys": [{"kty": "RSA", "n": "AA"}]}, "jwks"),
        ([1, 2], "jwks"),
    ]:
        with pytest.raises(InvalidRequest) as info:
            parse_registration({**base, "jwks": bad})
        assert info.value.field == field


def test_defaults_for_public_and_confidential() -> None:
    public = parse_registration(
        {
            "client_id": "spa-app",
            "type": "public",
            "redirect_uris": ["https://a.cn/", "https://a.cn/"],
        }
    )
    assert public.kind is AppKind.PUBLIC
    assert public.auth is ClientAuth.NONE
    assert public.redirect_uris == ("https://a.cn/",)  # duplicates collapse
    assert public.name == "spa-app"
    confidential = parse_registration(web_app())
    assert confidential.auth is ClientAuth.CLIENT_SECRET


def test_register_returns_credentials_once() -> None:
    service = AppService(MemoryAppDirectory(), issuer=ISSUER, clock=lambda: 1000.0)
    created = service.register(
        ALICE, parse_registration(web_app(roles=["viewer"], scopes=["email"]))
    )
    assert created.client_secret
    assert created.discovery_url == ISSUER + "/.well-known/openid-configuration"
    assert created.as_dict()["client_secret"] == created.client_secret
    assert created.app.owner == "alice"
    assert created.app.created_at == 1000
    described = service.describe(ALICE, "permits-web").as_dict()
    assert "client_secret" not in described
    assert created.client_secret not in repr(created)
    public = service.register(
        ALICE,
        parse_registration(
            {"client_id": "spa", "type": "public", "redirect_uris": ["https://a.cn/"]}
        ),
    )
    assert "client_secret" not in public.as_dict()


def test_register_checks_roles_scopes_and_conflicts() -> None:
    service = AppService(MemoryAppDirectory(), issuer=ISSUER, clock=lambda: 0.0)
    with pytest.raises(Forbidden):
        service.register(AUDITOR, parse_registration(web_app()))
    with pytest.raises(InvalidRequest) as info:
        service.register(ALICE, parse_registration(web_app(scopes=["email", "no-such-scope"])))
    assert info.value.field == "scopes[1]"
    service.register(ALICE, parse_registration(web_app()))
    with pytest.raises(Conflict):
        service.register(BOB, parse_registration(web_app()))
    with pytest.raises(Conflict):  # exists in Keycloak without being managed by Anbao
        service.register(BOB, parse_registration(web_app(client_id="legacy-portal")))


def test_developers_see_only_their_apps_admins_see_all() -> None:
    service = AppService(MemoryAppDirectory(), issuer=ISSUER, clock=lambda: 0.0)
    service.register(ALICE, parse_registration(web_app(client_id="alice-app")))
    service.register(BOB, parse_registration(web_app(client_id="bob-app")))
    assert [a.client_id for a in service.list(ALICE)] == ["alice-app"]
    assert {a.client_id for a in service.list(ADMIN)} == {"alice-app", "bob-app"}
    for operation in (
        lambda: service.describe(ALICE, "bob-app"),
        lambda: service.rotate_secret(ALICE, "bob-app"),
        lambda: service.disable(ALICE, "bob-app"),
        lambda: service.describe(ADMIN, "admin-cli"),  # not registered through Anbao
    ):
        with pytest.raises(NotFound):
            operation()
    assert service.disable(ADMIN, "bob-app").enabled is False
    with pytest.raises(Forbidden):
        service.list(AUDITOR)


def test_rotate_and_update() -> None:
    directory = MemoryAppDirectory()
    service = AppService(directory, issuer=ISSUER, clock=lambda: 0.0)
    first = service.register(ALICE, parse_registration(web_app()))
    rotated = service.rotate_secret(ALICE, "permits-web")
    assert rotated.client_secret
    assert rotated.client_secret != first.client_secret
    updated = service.update(
        ALICE,
        "permits-web",
        parse_update({"redirect_uris": ["https://new.cn/cb"], "name": "Permits"}),
    )
    assert updated.redirect_uris == ("https://new.cn/cb",)
    assert updated.name == "Permits"
    with pytest.raises(InvalidRequest):
        service.update(ALICE, "permits-web", parse_update({"redirect_uris": []}))
    service.register(
        ALICE,
        parse_registration(
            {"client_id": "spa", "type": "public", "redirect_uris": ["https://a.cn/"]}
        ),
    )
    with pytest.raises(InvalidRequest) as info:
        service.rotate_secret(ALICE, "spa")
    assert info.value.field == "auth_method"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "body"),
        ([], "body"),
        ({"enabled": "no"}, "enabled"),
        ({"redirect_uris": ["http://x.cn/"]}, "redirect_uris[0]"),
        ({"client_id": "new"}, "client_id"),
    ],
)
def test_invalid_updates(body: Any, field: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        parse_update(body)
    assert info.value.field == field


def test_keycloak_representation_enforces_pkce_and_own_audience() -> None:
    from iam.apps.keycloak import app_from_representation, client_representation

    reg = parse_registration(
        {
            "client_id": "court-gw",
            "type": "confidential",
            "auth_method": "private_key_jwt",
            "jwks_url": "https://court.example.gov.cn/jwks.json",
            "redirect_uris": ["https://court.example.gov.cn/cb"],
        }
    )
    rep = client_representation(reg, owner="alice", created_at=7)
    assert rep["clientAuthenticatorType"] == "client-jwt"
    assert rep["attributes"]["use.jwks.url"] == "true"
    assert rep["attributes"]["jwks.url"] == "https://court.example.gov.cn/jwks.json"
    assert rep["attributes"]["pkce.code.challenge.method"] == "S256"
    assert rep["implicitFlowEnabled"] is False
    assert rep["directAccessGrantsEnabled"] is False
    mapper = rep["protocolMappers"][0]
    assert mapper["config"]["included.client.audience"] == "court-gw"
    assert [m["protocolMapper"] for m in rep["protocolMappers"]] == ["oidc-audience-mapper"]
    assert rep["fullScopeAllowed"] is False  # no realm role of the signed-in person leaks in
    back = app_from_representation(rep)
    assert back.auth is ClientAuth.PRIVATE_KEY_JWT
    assert back.jwks_url == "https://court.example.gov.cn/jwks.json"
    assert back.owner == "alice"
    assert back.created_at == 7


@pytest.mark.parametrize("scope", ["anbao-api", "Anbao-API", "anbao-anything"])
def test_the_platforms_scopes_are_never_granted_to_an_app(scope: str) -> None:
    """Issue 16 §2.2: anbao-api carries the audience Anbao's API requires."""
    body = {"client_id": "tax-web", "type": "public", "redirect_uris": ["https://a.cn/cb"]}
    with pytest.raises(InvalidRequest) as info:
        parse_registration({**body, "scopes": ["profile", scope]})
    assert info.value.errors == [{"field": "scopes[1]", "reason": "is reserved for the platform"}]
