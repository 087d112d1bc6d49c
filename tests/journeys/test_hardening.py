"""Issue 16's journey: the hardening, as the people it protects and the people it stops see it.

Public interfaces only: a real ``anbao serve`` process on a throwaway realm converged from the
production realm file (``deploy/keycloak/anbao-realm.yaml``) on the real Keycloak, HTTP to it,
Keycloak's browser login and OIDC endpoints to sign people in, the ``anbao`` console script. The
Keycloak admin API is used only where the platform has no interface yet: the first
platform-admin and people's passwords. The org tree, the people, their roles and bindings are
made through Anbao's own API.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from keycloak import KeycloakAdmin

from crypto.pki.testing import TEST_USCC
from crypto.seals.format.testing import minimal_ofd, tiny_png
from iam.orgs.codes import uscc_check_char
from tests.integration.anbao.serving import serve
from tests.integration.anbao.stack import served_realm_env
from tests.integration.conftest import Server
from tests.integration.iam.realm_support import (
    CONSOLE,
    PASSWORD,
    REALM_DIR,
    REDIRECT,
    BrowserlessLogin,
    add_user,
    admin_for,
    apply_file,
    totp,
    unique,
)

ANBAO = Path(sys.executable).with_name("anbao")  # the venv's console script
DEPT_A = "昆明市五华区财政局"
USCC_B = "11530103MB0000001" + uscc_check_char("11530103MB0000001")


@dataclasses.dataclass
class Stack:
    """The running server, its realm and settings, and the org tree made through the API."""

    base: str
    keycloak: Server
    realm: str
    env: dict[str, str]
    admin: KeycloakAdmin
    root_refresh: str = ""
    nodes: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)

    def api(self, token: str, method: str, path: str, **kw: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}", **kw.pop("headers", {})}
        return httpx.request(method, self.base + path, headers=headers, timeout=60, **kw)

    def oidc(self, endpoint: str) -> str:
        return f"{self.keycloak.url}/realms/{self.realm}/protocol/openid-connect/{endpoint}"

    def root(self) -> str:
        """The first platform-admin's access token, fresh from its refresh token (the module
        may outlast one access token on a slow machine)."""
        data = {"grant_type": "refresh_token", "client_id": CONSOLE}
        answer = httpx.post(
            self.oidc("token"), data=data | {"refresh_token": self.root_refresh}, timeout=30
        )
        assert answer.status_code == 200, answer.text
        self.root_refresh = answer.json()["refresh_token"]
        return str(answer.json()["access_token"])

    def person(self, *memberships: str, **grants: str | None) -> dict[str, Any]:
        """A person made by the platform-admin through the API, with roles granted there
        (``role=node`` binds them to that node); the password is set at Keycloak."""
        username = unique("p")
        body = {
            "username": username,
            "family_name": "测",
            "given_name": "试",
            "email": f"{username}@example.test",
            "memberships": [self.nodes[m]["id"] for m in memberships],
        }
        root = self.root()
        made = self.api(root, "POST", "/iam/people", json=body)
        assert made.status_code == 201, made.text
        person: dict[str, Any] = made.json()
        self.admin.set_user_password(person["id"], PASSWORD, temporary=False)
        for role, node in grants.items():
            bind = {"node_id": self.nodes[node]["id"]} if node else {}
            path = f"/iam/people/{person['id']}/roles/{role.replace('_', '-')}"
            granted = self.api(root, "PUT", path, json=bind)
            assert granted.status_code == 200, granted.text
            person = granted.json()
        return person

    def operator_cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """An operator command (``anbao audit verify``, ``sign-heads``): run on the server's
        machine with the server's settings, its stores and keys."""
        return subprocess.run(
            [str(ANBAO), *args],
            env=os.environ | self.env,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """The ``anbao`` CLI as a person runs it: it knows the API's address, not the server's
        stores or keys (issue 17 §4: acts go through the API, which checks and records them)."""
        outside = {k: v for k, v in os.environ.items() if not k.startswith("ANBAO_")}
        home = Path(self.env["ANBAO_DATA_DIR"]) / "cli-home"
        return subprocess.run(
            [str(ANBAO), *args],
            env=outside
            | {
                "ANBAO_API_URL": self.base,
                "ANBAO_DATA_DIR": str(home / "data"),
                "ANBAO_CONFIG_DIR": str(home / "config"),
            },
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )


def sign_in(login: BrowserlessLogin, username: str, **params: str) -> dict[str, Any]:
    """Keycloak's browser login (password; OTP enrolment when the person is an administrator)."""
    page = login.submit(
        login.start(**params), "kc-form-login", username=username, password=PASSWORD
    )
    if login.code is None and "totpSecret" in page.text:
        _, fields = page.form()
        page = login.submit(page, None, totp=totp(fields["totpSecret"]), userLabel="journey")
    assert login.code, f"{username} did not finish signing in: {page.title()}"
    return login.tokens()


def console_sign_in(stack: Stack, username: str) -> dict[str, Any]:
    login = BrowserlessLogin(stack.keycloak.url, stack.realm, CONSOLE)
    try:
        return sign_in(login, username)
    finally:
        login.close()


def org_tree(stack: Stack) -> None:
    """Province, prefecture, sibling counties A and B and a department in each."""
    specs = [
        ("province", None, "province", "530000", "云南省"),
        ("prefecture", "province", "prefecture", "530100", "昆明市"),
        ("county_a", "prefecture", "county", "530102", "五华区"),
        ("county_b", "prefecture", "county", "530103", "盘龙区"),
        ("dept_a", "county_a", "department", TEST_USCC, DEPT_A),
        ("dept_b", "county_b", "department", USCC_B, "昆明市盘龙区财政局"),
    ]
    for key, parent, kind, code, name in specs:
        body = {"kind": kind, "code": code, "name": name}
        if parent:
            body["parent_id"] = stack.nodes[parent]["id"]
        made = stack.api(stack.root(), "POST", "/iam/orgs", json=body)
        assert made.status_code == 201, made.text
        stack.nodes[key] = made.json()


@pytest.fixture(scope="module")
def stack(
    keycloak: Server, database: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    realm = unique("journey")
    assert apply_file(keycloak, REALM_DIR / "anbao-realm.yaml", realm).applied
    admin = admin_for(keycloak)
    root = add_user(admin, realm, unique("root"), roles=("platform-admin",))
    state = tmp_path_factory.mktemp("journey")
    # The realm file's confidential client: high-risk routes introspect (RFC 7662), and with
    # no caching a session ended at Keycloak is refused on the next call.
    env = served_realm_env(keycloak, realm, state, database)
    try:
        with serve(state, env) as (base, log):
            root_name = admin.get_user(root)["username"]
            stack = Stack(base, keycloak, realm, env, admin)
            stack.root_refresh = console_sign_in(stack, root_name)["refresh_token"]
            org_tree(stack)
            yield stack
        # Every refusal above was a client's mistake or a denial: none is a server error.
        errors = [line for line in log.read_text().splitlines() if '"log.level": "error"' in line]
        assert not errors, "\n".join(errors[:5])
    finally:
        admin.delete_realm(realm)


# -- 1. the seal-registry attack ---------------------------------------------------------------


def application(node: dict[str, Any], holder: str, **changes: str) -> dict[str, Any]:
    body = {
        "org_node": node["id"],
        "org_name": node["name"],
        "uscc": node["code"],
        "name": node["name"] + "公章",
        "holders": [holder],
        "picture": base64.b64encode(tiny_png()).decode(),
        "picture_type": "PNG",
        "width_mm": 40,
        "height_mm": 40,
        "valid_days": 365,
    }
    return body | changes


def test_an_org_admin_reaches_only_the_county_they_are_bound_to(stack: Stack) -> None:
    s = stack
    # Bound to county A, a member of the prefecture (so the token's org_path names the
    # prefecture, which covers sibling county B): the binding decides, not the claim.
    a_admin = s.person("prefecture", org_admin="county_a")
    b_admin = s.person("county_b", org_admin="county_b")
    a = console_sign_in(s, a_admin["username"])["access_token"]
    b = console_sign_in(s, b_admin["username"])["access_token"]
    dept_a, dept_b = s.nodes["dept_a"], s.nodes["dept_b"]
    ha, hb = a_admin["username"], b_admin["username"]

    theirs = s.api(b, "POST", "/seals", json=application(dept_b, hb))
    assert theirs.status_code == 201, theirs.text
    seal_b = theirs.json()["id"]
    for ref in ({"org_node": dept_b["id"]}, {"org_node": dept_b["code"]}):
        refused = s.api(a, "POST", "/seals", json=application(dept_b, hb, **ref))
        assert refused.status_code == 403, refused.text
    by_path = application(dept_b, hb, org_path=dept_b["path"])
    del by_path["org_node"]
    assert s.api(a, "POST", "/seals", json=by_path).status_code == 403
    dotted = f"{s.nodes['county_a']['path']}/../{s.nodes['county_b']['code']}/{USCC_B}"
    ghost = f"{s.nodes['county_a']['path']}/530199"
    # A path that is not canonical is malformed; a well-formed one naming no node is refused
    # like a node outside the subtree (its existence is not revealed).
    for path, status in ((dotted, 400), (ghost, 403)):
        refused = s.api(a, "POST", "/seals", json=by_path | {"org_path": path})
        assert refused.status_code == status, (path, refused.text)
        assert refused.headers["content-type"] == "application/problem+json"
    refused = s.api(a, "POST", "/seals", json=application(dept_a, ha, org_node="530199"))
    assert refused.status_code == 403, refused.text

    assert seal_b not in {x["id"] for x in s.api(a, "GET", "/seals").json()["seals"]}
    assert s.api(a, "GET", f"/seals/{seal_b}").status_code == 404
    revoke = s.api(a, "POST", f"/seals/{seal_b}/revoke", json={"reason": "superseded"})
    assert revoke.status_code == 404, revoke.text
    assert s.api(b, "GET", f"/seals/{seal_b}").json()["state"] == "applied"

    wrong = s.api(a, "POST", "/seals", json=application(dept_a, ha, uscc=USCC_B))
    assert wrong.status_code == 400, wrong.text
    assert "uscc" in wrong.json()["detail"]
    mine = s.api(a, "POST", "/seals", json=application(dept_a, ha))
    assert mine.status_code == 201, mine.text
    assert mine.json()["org_path"] == dept_a["path"]
    listed = {x["id"] for x in s.api(a, "GET", "/seals").json()["seals"]}
    assert listed == {mine.json()["id"]}  # nothing the refused applications stored


# -- 2. an onboarded app's tokens --------------------------------------------------------------


def test_a_token_from_an_onboarded_app_is_refused_by_anbao(stack: Stack) -> None:
    s = stack
    developer = s.person("province", app_developer=None)
    dev = console_sign_in(s, developer["username"])["access_token"]
    client_id = unique("portal")
    registration = {"client_id": client_id, "type": "public", "redirect_uris": [REDIRECT]}
    onboarded = s.api(dev, "POST", "/iam/apps", json=registration)
    assert onboarded.status_code == 201, onboarded.text

    victim = s.person("province", platform_admin=None)
    # The developer's app asks Keycloak for Anbao's audience too: the realm refuses the scope.
    asked = httpx.get(
        s.oidc("auth"),
        params={
            "client_id": client_id,
            "redirect_uri": REDIRECT,
            "response_type": "code",
            "scope": "openid anbao-api",
            "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            "code_challenge_method": "S256",
        },
        timeout=30,
    )
    assert asked.status_code == 302, asked.text
    assert "error=invalid_scope" in asked.headers["location"]

    # A platform-admin signs in to the app, then (same browser, single sign-on) to Anbao.
    app_login = BrowserlessLogin(s.keycloak.url, s.realm, client_id)
    console = BrowserlessLogin(s.keycloak.url, s.realm, CONSOLE)
    try:
        through_app = sign_in(app_login, victim["username"])["access_token"]
        console.jar = app_login.jar
        assert console.start().url.startswith(REDIRECT)
        own = console.tokens()["access_token"]
    finally:
        app_login.close()
        console.close()

    for method, path in (
        ("GET", "/whoami"),
        ("GET", "/iam/orgs"),
        ("GET", "/iam/apps"),
        ("PUT", f"/iam/people/{developer['id']}/roles/auditor"),
        ("GET", "/siem/alerts"),
        ("GET", "/seals"),
    ):
        refused = s.api(through_app, method, path, json={} if method == "PUT" else None)
        assert refused.status_code in {401, 403}, (method, path, refused.text)
    assert s.api(own, "GET", "/iam/orgs").status_code == 200
    assert s.api(own, "GET", "/whoami").json()["username"] == victim["username"]


# -- 3. a session ended at Keycloak ------------------------------------------------------------


def test_a_logged_out_admin_cannot_grant_with_a_still_valid_token(stack: Stack) -> None:
    s = stack
    admin = s.person("province", platform_admin=None)
    target = s.person("county_a")
    tokens = console_sign_in(s, admin["username"])
    token = tokens["access_token"]
    grant = f"/iam/people/{target['id']}/roles/auditor"
    granted = s.api(token, "PUT", grant, json={"node_id": s.nodes["county_a"]["id"]})
    assert granted.status_code == 200, granted.text
    assert "auditor" in granted.json()["roles"]

    ended = httpx.post(
        s.oidc("logout"),
        data={"client_id": CONSOLE, "refresh_token": tokens["refresh_token"]},
        timeout=30,
    )
    assert ended.status_code == 204, ended.text
    again = s.api(token, "PUT", f"/iam/people/{target['id']}/roles/security-analyst", json={})
    assert again.status_code == 401, again.text
    assert again.headers["content-type"] == "application/problem+json"
    revoke = s.api(token, "DELETE", grant)
    assert revoke.status_code == 401, revoke.text
    whoami = s.api(token, "GET", "/whoami")  # an ordinary route trusts the signed token
    assert whoami.status_code == 200
    assert whoami.json()["username"] == admin["username"]


# -- 4. four eyes from the command line --------------------------------------------------------


def _alert_on(s: Stack, analyst: str, username: str) -> dict[str, Any]:
    """The alert the streaming rules raise from the audit trail of the running server."""
    for _ in range(120):
        found = s.api(analyst, "GET", "/siem/alerts", params={"entity": f"user.name={username}"})
        assert found.status_code == 200, found.text
        alerts = found.json()["alerts"]
        if alerts:
            return dict(alerts[0])
        time.sleep(1)
    pytest.fail(f"no alert on {username} from the running server")


def test_four_eyes_holds_at_the_command_line(stack: Stack) -> None:
    s = stack
    suspect = s.person("county_a", org_admin="county_a")
    ana = s.person("province", security_analyst="province")
    bo = s.person("province", security_analyst="province")
    # The suspect applies for a seal of their own department and, stepped up (password + OTP),
    # tries to use it without being its holder: the registry refuses and records the refusal,
    # and the rule "Seal used by a non-holder" raises an alert on the suspect.
    login = BrowserlessLogin(s.keycloak.url, s.realm, CONSOLE)
    try:
        attempt = sign_in(login, suspect["username"], acr_values="2")["access_token"]
    finally:
        login.close()
    holder = s.person("dept_a", seal_user=None)["username"]
    applied = s.api(attempt, "POST", "/seals", json=application(s.nodes["dept_a"], holder))
    assert applied.status_code == 201, applied.text
    used = s.api(
        attempt,
        "POST",
        f"/seals/{applied.json()['id']}/sign",
        content=minimal_ofd("通知"),
        headers={"Content-Type": "application/ofd"},
    )
    assert used.status_code == 403, used.text
    a_token = console_sign_in(s, ana["username"])["access_token"]
    b_token = console_sign_in(s, bo["username"])["access_token"]
    alert = _alert_on(s, a_token, suspect["username"])

    body = {"alert_id": alert["id"], "kind": "end_sessions"}
    requested = s.api(a_token, "POST", "/siem/actions", json=body)
    assert requested.status_code == 201, requested.text
    action = requested.json()["id"]

    mine = s.cli("siem", "actions", "approve", action, "--token", a_token)
    assert mine.returncode == 1, mine.stdout + mine.stderr
    assert "response_self_approval" in mine.stdout + mine.stderr
    typed = s.cli("siem", "actions", "approve", action, "--as", bo["username"])
    assert typed.returncode == 2, typed.stdout + typed.stderr
    other = s.cli("siem", "actions", "approve", action, "--token", b_token)
    assert other.returncode == 0, other.stdout + other.stderr

    shown = s.api(a_token, "GET", "/siem/actions", params={"alert_id": alert["id"]}).json()
    record = next(a for a in shown["actions"] if a["id"] == action)
    assert record["requested_by"] == ana["username"]
    assert record["decided_by"] == bo["username"]
    assert record["state"] == "executed", record
    # The approved action ended the suspect's sessions: their token no longer acts.
    seal = applied.json()["id"]
    ended = s.api(attempt, "POST", f"/seals/{seal}/revoke", json={"reason": "superseded"})
    assert ended.status_code == 401, ended.text


# -- 5. hostile input --------------------------------------------------------------------------


def test_hostile_input_gets_a_prompt_client_error(stack: Stack) -> None:
    s = stack
    url = urlsplit(s.base)
    with socket.create_connection((url.hostname, url.port), timeout=10) as sock:
        sock.sendall(
            b"POST /iam/orgs HTTP/1.1\r\nHost: anbao\r\nContent-Type: application/json\r\n"
            b"Content-Length: 52428800\r\n\r\n"
        )
        head = sock.recv(4096)  # no body follows: a server waiting for it times this out
    assert head.startswith(b"HTTP/1.1 413"), head[:200]

    depth = 100_000
    nested = s.api(
        s.root(),
        "POST",
        "/iam/orgs",
        content="[" * depth + "]" * depth,
        headers={"Content-Type": "application/json"},
    )
    assert nested.status_code == 400, nested.text
    assert nested.headers["content-type"] == "application/problem+json"

    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    header = '{"alg":"RS256","kid":' + "[" * depth + "]" * depth + "}"
    forged = ".".join((b64(header.encode()), b64(json.dumps({"sub": "x"}).encode()), b64(b"s")))
    answer = s.api(forged, "GET", "/whoami")
    assert answer.status_code == 401, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
