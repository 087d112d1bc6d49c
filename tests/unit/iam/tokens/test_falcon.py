"""The Falcon side of the SDK: deny by default, @requires on responders and classes, RFC 9470."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import falcon
import falcon.asgi
import falcon.testing
import pytest

from anbao.web import errors
from iam.errors import Forbidden, InsufficientAuthentication, Unauthenticated
from iam.orgs.scope import OrgScope
from iam.tokens.falcon import (
    AuthMiddleware,
    Authorized,
    Guard,
    acr_satisfies,
    bearer_token,
    guard,
    protect,
    requires,
)
from iam.tokens.introspection import IntrospectionCache
from iam.tokens.testing import LocalIssuer
from iam.tokens.verifier import TokenVerifier


class Public:
    auth_required = False

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        resp.media = {"principal": req.context.principal}


class Reports:
    @requires(roles=["auditor"], acr="2")
    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        resp.media = {"user": req.context.principal.username}

    @requires(scopes=["reports:write"])
    async def on_post(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        resp.media = {"ok": True}


@requires(any_role=["app-developer", "platform-admin"])
class Apps:
    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        resp.media = {"ok": True}

    async def on_get_item(
        self, req: falcon.asgi.Request, resp: falcon.asgi.Response, app_id: str
    ) -> None:
        resp.media = {"id": app_id}


class Grants:
    @requires(introspect=True, client_roles=["granter"])
    async def on_post(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        resp.media = {"ok": True}


class FakeIntrospector:
    """Stands in for the issuer's RFC 7662 endpoint (our own port, not Keycloak)."""

    def __init__(self) -> None:
        self.revoked: set[str] = set()
        self.calls = 0

    def introspect(self, token: str) -> Mapping[str, Any]:
        self.calls += 1
        return {"active": token not in self.revoked}


@pytest.fixture
def issuer() -> LocalIssuer:
    return LocalIssuer()


@pytest.fixture
def introspector() -> FakeIntrospector:
    return FakeIntrospector()


@pytest.fixture
def client(issuer: LocalIssuer, introspector: FakeIntrospector) -> falcon.testing.TestClient:
    verifier = TokenVerifier(
        issuer=issuer.issuer, audience=issuer.audience, jwks=issuer, clock=time.time
    )
    cache = IntrospectionCache(introspector, clock=time.time, ttl_seconds=60)
    app = falcon.asgi.App(
        middleware=[AuthMiddleware(verifier, introspection=cache, acr_levels={"gold": 2})]
    )
    errors.install(app)
    app.add_route("/public", Public())
    app.add_route("/reports", Reports())
    app.add_route("/apps", Apps())
    app.add_route("/apps/{app_id}", Apps(), suffix="item")
    app.add_route("/grants", Grants())
    return falcon.testing.TestClient(app)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_public_resource_needs_no_token(client: falcon.testing.TestClient) -> None:
    result = client.simulate_get("/public")
    assert result.status_code == 200
    assert result.json == {"principal": None}


@pytest.mark.parametrize(
    ("header", "error"),
    [
        (None, None),
        ("Basic dXNlcjpwYXNz", "invalid_request"),
        ("Bearer", "invalid_request"),
        ("Bearer a b", "invalid_request"),
        ("Bearer not-a-jwt", "invalid_token"),
    ],
)
def test_missing_or_malformed_header_is_401_with_challenge(
    client: falcon.testing.TestClient, header: str | None, error: str | None
) -> None:
    headers = {"Authorization": header} if header else {}
    result = client.simulate_get("/apps", headers=headers)
    assert result.status_code == 401
    challenge = result.headers["www-authenticate"]
    assert challenge.startswith('Bearer realm="anbao"')
    if error is None:  # RFC 6750 §3.1: no error code when no credentials were sent
        assert "error=" not in challenge
    else:
        assert f'error="{error}"' in challenge
    assert result.headers["content-type"] == "application/problem+json"


def test_requirements_on_a_responder(
    client: falcon.testing.TestClient, issuer: LocalIssuer
) -> None:
    now = time.time()
    ok = issuer.token(now, realm_access={"roles": ["auditor"]}, acr="2")
    assert client.simulate_get("/reports", headers=bearer(ok)).json == {"user": "tester"}
    no_role = issuer.token(now, acr="2")
    assert client.simulate_get("/reports", headers=bearer(no_role)).status_code == 403
    no_scope = issuer.token(now, scope="openid reports:read")
    assert client.simulate_post("/reports", headers=bearer(no_scope)).status_code == 403
    scoped = issuer.token(now, scope="openid reports:write")
    assert client.simulate_post("/reports", headers=bearer(scoped)).status_code == 200


def test_weak_acr_is_401_insufficient_user_authentication(
    client: falcon.testing.TestClient, issuer: LocalIssuer
) -> None:
    """RFC 9470 §3: the challenge names the error and the acr_values to request."""
    weak = issuer.token(time.time(), realm_access={"roles": ["auditor"]}, acr="1")
    result = client.simulate_get("/reports", headers=bearer(weak))
    assert result.status_code == 401
    challenge = result.headers["www-authenticate"]
    assert 'error="insufficient_user_authentication"' in challenge
    assert 'acr_values="2"' in challenge
    assert result.json["type"] == "urn:anbao:problem:insufficient_user_authentication"
    assert result.json["acr_values"] == ["2"]
    named = issuer.token(time.time(), realm_access={"roles": ["auditor"]}, acr="gold")
    assert client.simulate_get("/reports", headers=bearer(named)).status_code == 200


def test_class_decorator_guards_every_responder(
    client: falcon.testing.TestClient, issuer: LocalIssuer
) -> None:
    now = time.time()
    dev = issuer.token(now, realm_access={"roles": ["app-developer"]})
    admin = issuer.token(now, realm_access={"roles": ["platform-admin"]})
    nobody = issuer.token(now, realm_access={"roles": ["auditor"]})
    assert client.simulate_get("/apps", headers=bearer(dev)).status_code == 200
    assert client.simulate_get("/apps/x", headers=bearer(admin)).json == {"id": "x"}
    assert client.simulate_get("/apps", headers=bearer(nobody)).status_code == 403
    assert client.simulate_get("/apps/x", headers=bearer(nobody)).status_code == 403


def test_introspection_route_rejects_revoked_tokens_and_caches(
    client: falcon.testing.TestClient, issuer: LocalIssuer, introspector: FakeIntrospector
) -> None:
    roles = {issuer.audience: {"roles": ["granter"]}}
    live = issuer.token(time.time(), resource_access=roles)
    revoked = issuer.token(time.time(), resource_access=roles)
    introspector.revoked.add(revoked)
    for _ in range(3):
        assert client.simulate_post("/grants", headers=bearer(live)).status_code == 200
    assert introspector.calls == 1  # cached for ttl_seconds
    result = client.simulate_post("/grants", headers=bearer(revoked))
    assert result.status_code == 401
    assert 'error="invalid_token"' in result.headers["www-authenticate"]


def test_requirement_check_is_framework_free(issuer: LocalIssuer) -> None:
    verifier = TokenVerifier(
        issuer=issuer.issuer, audience=issuer.audience, jwks=issuer, clock=time.time
    )
    principal = verifier.verify(issuer.token(time.time(), acr="1"))
    with pytest.raises(InsufficientAuthentication) as info:
        requires(acr="2").check(principal)
    assert info.value.acr_values == ("2",)
    with pytest.raises(Forbidden):
        requires(any_role=["a", "b"]).check(principal)
    with pytest.raises(Unauthenticated):
        requires().check(None)
    assert requires(acr="1").check(principal) is principal


def test_requires_refuses_a_bare_string_and_sync_responders() -> None:
    with pytest.raises(TypeError):
        requires(roles="auditor")

    def sync_responder(self: object, req: object, resp: object) -> None:
        pass

    with pytest.raises(TypeError):
        requires()(sync_responder)


@pytest.mark.parametrize(
    ("actual", "required", "ok"),
    [
        ("2", "1", True),
        ("1", "2", False),
        ("0", "0", True),
        ("gold", "1", True),
        ("silver", "gold", False),
        ("urn:x", "urn:x", True),
        ("urn:x", "urn:y", False),
        ("", "1", False),
    ],
)
def test_acr_ordering(actual: str, required: str, ok: bool) -> None:
    assert acr_satisfies(actual, required, {"silver": 1, "gold": 2}) is ok


def test_bearer_token_is_case_insensitive_scheme() -> None:
    assert bearer_token("bearer abc") == "abc"
    with pytest.raises(Unauthenticated):
        bearer_token("")


def test_protect_gives_a_plain_falcon_app_the_same_answers(issuer: LocalIssuer) -> None:
    """Apps outside Anbao get deny-by-default and problem+json 401/403 from one call."""
    verifier = TokenVerifier(
        issuer=issuer.issuer, audience=issuer.audience, jwks=issuer, clock=time.time
    )
    app = falcon.asgi.App()
    protect(app, verifier)
    app.add_route("/reports", Reports())
    app.add_route("/public", Public())
    client = falcon.testing.TestClient(app)
    assert client.simulate_get("/public").status_code == 200
    missing = client.simulate_get("/reports")
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == 'Bearer realm="anbao"'
    assert missing.headers["content-type"] == "application/problem+json"
    weak = issuer.token(time.time(), realm_access={"roles": ["auditor"]}, acr="1")
    step_up = client.simulate_get("/reports", headers=bearer(weak))
    assert step_up.status_code == 401
    assert step_up.json["acr_values"] == ["2"]
    assert 'error="insufficient_user_authentication"' in step_up.headers["www-authenticate"]
    no_role = issuer.token(time.time(), acr="2")
    assert client.simulate_get("/reports", headers=bearer(no_role)).status_code == 403


def test_class_decorator_also_guards_inherited_responders(issuer: LocalIssuer) -> None:
    class Base:
        async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
            resp.media = {"ok": True}

    @requires(roles=["auditor"])
    class Guarded(Base):
        pass

    verifier = TokenVerifier(
        issuer=issuer.issuer, audience=issuer.audience, jwks=issuer, clock=time.time
    )
    app = protect(falcon.asgi.App(), verifier)
    app.add_route("/guarded", Guarded())
    app.add_route("/base", Base())
    client = falcon.testing.TestClient(app)
    plain = issuer.token(time.time())
    assert client.simulate_get("/guarded", headers=bearer(plain)).status_code == 403
    assert client.simulate_get("/base", headers=bearer(plain)).status_code == 200


def test_falcon_before_hook_and_unconfigured_introspection(issuer: LocalIssuer) -> None:
    class Hooked:
        @falcon.before(requires(roles=["auditor"]).hook)
        async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
            resp.media = {"ok": True}

    verifier = TokenVerifier(
        issuer=issuer.issuer, audience=issuer.audience, jwks=issuer, clock=time.time
    )
    app = protect(falcon.asgi.App(), verifier)  # no introspection configured
    app.add_route("/hooked", Hooked())
    app.add_route("/grants", Grants())
    client = falcon.testing.TestClient(app)
    auditor = issuer.token(time.time(), realm_access={"roles": ["auditor"]})
    assert client.simulate_get("/hooked", headers=bearer(auditor)).status_code == 200
    assert (
        client.simulate_get("/hooked", headers=bearer(issuer.token(time.time()))).status_code == 403
    )
    # A route that must introspect fails closed (503), never open, when nobody can introspect.
    granter = issuer.token(time.time(), resource_access={issuer.audience: {"roles": ["granter"]}})
    assert client.simulate_post("/grants", headers=bearer(granter)).status_code == 503


def test_guard_hands_packages_the_one_decision(
    issuer: LocalIssuer, introspector: FakeIntrospector
) -> None:
    """``guard`` is :meth:`Requirement.authorize` for packages that may not import iam: roles,
    step-up ordered by the configured levels, and the live scope (never the token's claim)."""

    class Injected:
        def __init__(self, check: Guard[Authorized]) -> None:
            self._check = check

        async def on_post(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
            caller = await self._check(req, frozenset({"auditor"}), "2")
            resp.media = {
                "sub": caller.principal.subject,
                "scope": caller.scope.filter_path,
                "ip": caller.source_ip,
                "gold": caller.meets("gold"),
            }

    verifier = TokenVerifier(
        issuer=issuer.issuer, audience=issuer.audience, jwks=issuer, clock=time.time
    )
    scopes = {"sub-a": OrgScope.everything()}
    app = falcon.asgi.App(
        middleware=[
            AuthMiddleware(
                verifier,
                introspection=IntrospectionCache(introspector, clock=time.time, ttl_seconds=60),
                acr_levels={"silver": 1, "gold": 2},
                scopes=lambda sub: scopes.get(sub, OrgScope.nothing()),
            )
        ]
    )
    errors.install(app)
    app.add_route("/injected", Injected(guard(lambda caller: caller)))
    client = falcon.testing.TestClient(app)

    def call(**claims: Any) -> falcon.testing.Result:
        token = issuer.token(time.time(), realm_access={"roles": ["auditor"]}, **claims)
        return client.simulate_post("/injected", headers=bearer(token))

    ok = call(sub="sub-a", acr="gold", org_path="/530000/530100")
    assert ok.status_code == 200, ok.text
    # The scope is the directory's binding of the subject, not the token's org_path claim.
    assert ok.json == {"sub": "sub-a", "scope": "/", "ip": "127.0.0.1", "gold": True}
    unbound = call(sub="sub-b", acr="2", org_path="/")
    assert unbound.json["scope"] == ""
    weak = call(sub="sub-a", acr="silver")
    assert weak.status_code == 401
    assert "insufficient_user_authentication" in weak.headers["www-authenticate"]
    token = issuer.token(time.time(), sub="sub-a", acr="2", realm_access={"roles": ["viewer"]})
    assert client.simulate_post("/injected", headers=bearer(token)).status_code == 403
    assert client.simulate_post("/injected").status_code == 401


def test_authorize_asks_the_issuer_for_introspecting_requirements(
    issuer: LocalIssuer, introspector: FakeIntrospector
) -> None:
    class Revocable:
        async def on_post(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
            caller = await requires(roles=["auditor"], introspect=True).authorize(req)
            resp.media = {"sub": caller.principal.subject}

    verifier = TokenVerifier(
        issuer=issuer.issuer, audience=issuer.audience, jwks=issuer, clock=time.time
    )
    cache = IntrospectionCache(introspector, clock=time.time, ttl_seconds=60)
    app = falcon.asgi.App(middleware=[AuthMiddleware(verifier, introspection=cache)])
    errors.install(app)
    app.add_route("/revocable", Revocable())
    client = falcon.testing.TestClient(app)
    token = issuer.token(time.time(), realm_access={"roles": ["auditor"]})
    assert client.simulate_post("/revocable", headers=bearer(token)).status_code == 200
    fresh = issuer.token(time.time() + 1, realm_access={"roles": ["auditor"]})
    introspector.revoked.add(fresh)
    assert client.simulate_post("/revocable", headers=bearer(fresh)).status_code == 401
