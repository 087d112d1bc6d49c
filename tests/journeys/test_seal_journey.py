"""Journey 4 (issue 17): a seal from application to a verified signature, on the demo platform.

Public interfaces only. The platform is what a newcomer gets from ``make run``: a throwaway
realm converged from the production realm file, populated by ``anbao dev seed`` (the console
script), served by a real ``anbao serve`` with the seed's settings (seals on, development keys).
The demo people sign in on Keycloak's real pages in Debian's Chromium with the printed
development credentials (password; OTP for administrators and for the step-up). The org-admin
of 五华区 applies for the 数据局's seal with the seed's seal picture, the seal admin approves and
makes it, the org-admin activates it; the holder's password-only token is refused with an RFC
9470 challenge, the holder steps up (OTP) and signs the sample OFD; ``anbao seal verify`` with
the CA's public certificates and CRL, and ``POST /seals/verify``, say valid.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, Route

from anbao.demo import data
from tests.integration.anbao.serving import serve
from tests.integration.conftest import Server
from tests.integration.iam.realm_support import (
    REALM_DIR,
    REDIRECT,
    admin_for,
    apply_file,
    authorize_url,
    unique,
)
from tests.journeys.browser import KeycloakPages, Person, chromium

ANBAO = Path(sys.executable).with_name("anbao")  # the venv's console script
CONSOLE = "anbao-console"
DEPARTMENT = next(n for n in data.NODES if n.kind == "department")


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ANBAO), *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


class Platform:
    """The demo platform: its API, its realm, the seed's files, a browser per person."""

    def __init__(self, base: str, keycloak: Server, realm: str, state: Path, browser: Browser):
        self.base, self.keycloak, self.realm = base, keycloak, realm
        self.state, self.browser = state, browser
        self.contexts: dict[str, Any] = {}

    def api(self, token: str, method: str, path: str, **kw: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}", **kw.pop("headers", {})}
        return httpx.request(method, self.base + path, headers=headers, timeout=120, **kw)

    def sign_in(self, username: str, **params: str) -> dict[str, Any]:
        """Tokens of ``anbao-console`` (authorization code + PKCE S256) for the person, signed
        in on Keycloak's pages; the person's browser keeps its session (step-up asks OTP only)."""
        person = Person(username, data.PASSWORD, data.OTP_KEY)
        context = self.contexts.setdefault(username, self.browser.new_context())
        page = context.new_page()
        returned: list[str] = []

        def arrive(route: Route) -> None:
            returned.append(route.request.url)
            route.fulfill(status=200, content_type="text/plain", body="signed in")

        page.route(REDIRECT + "*", arrive)
        verifier = secrets.token_urlsafe(48)
        page.goto(authorize_url(self.oidc_base, CONSOLE, verifier, **params))
        pages = KeycloakPages(page)
        if page.locator("#password").count():
            pages.sign_in(person)
        else:  # a live session: Keycloak asks only what the new level needs
            pages.finish_required_actions(person)
        page.wait_for_url(REDIRECT + "*")
        page.close()
        (code,) = parse_qs(urlsplit(returned[-1]).query)["code"]
        answer = httpx.post(
            self.oidc("token"),
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": REDIRECT,
                "client_id": CONSOLE,
                "code_verifier": verifier,
            },
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    @property
    def oidc_base(self) -> str:
        return f"{self.keycloak.url}/realms/{self.realm}/protocol/openid-connect"

    def oidc(self, endpoint: str) -> str:
        return f"{self.oidc_base}/{endpoint}"


@pytest.fixture(scope="module")
def platform(keycloak: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    realm = unique("seal-journey")
    assert apply_file(keycloak, REALM_DIR / "anbao-realm.yaml", realm).applied
    state = tmp_path_factory.mktemp("seal-journey")
    kc = keycloak.env
    env = {
        "ANBAO_DATA_DIR": str(state),
        "ANBAO_ENVIRONMENT": "development",
        "ANBAO_KEYCLOAK_URL": keycloak.url,
        "ANBAO_KEYCLOAK_REALM": realm,
        "ANBAO_KEYCLOAK_ADMIN_USERNAME": kc["KEYCLOAK_ADMIN_USERNAME"],
        "ANBAO_KEYCLOAK_ADMIN_PASSWORD": kc["KEYCLOAK_ADMIN_PASSWORD"],
        "ANBAO_KEYCLOAK_CLIENT_ID": "anbao-api",
        "ANBAO_KEYCLOAK_CLIENT_SECRET": kc["ANBAO_KEYCLOAK_CLIENT_SECRET"],
    }
    try:
        seeded = cli(env, "dev", "seed")
        assert seeded.returncode == 0, seeded.stderr
        config = state / "demo" / "anbao.toml"
        assert f"ANBAO_CONFIG={config}" in seeded.stdout
        with serve(state, env | {"ANBAO_CONFIG": str(config)}) as (base, log), chromium() as b:
            yield Platform(base, keycloak, realm, state, b)
        errors = [line for line in log.read_text().splitlines() if '"log.level": "error"' in line]
        assert not errors, "\n".join(errors[:5])
    finally:
        admin_for(keycloak).delete_realm(realm)


def test_an_org_applies_a_seal_admin_makes_a_holder_signs_and_the_verifier_says_valid(
    platform: Platform, tmp_path: Path
) -> None:
    p = platform
    org_admin = p.sign_in("demo-org-admin")["access_token"]
    picture = (p.state / "demo" / "seal.png").read_bytes()
    applied = p.api(
        org_admin,
        "POST",
        "/seals",
        json={
            "org_node": DEPARTMENT.code,
            "org_name": DEPARTMENT.name,
            "uscc": DEPARTMENT.code,
            "name": DEPARTMENT.name + "电子公章",
            "holders": ["demo-seal-user"],
            "picture": base64.b64encode(picture).decode(),
            "picture_type": "PNG",
            "width_mm": 40,
            "height_mm": 40,
            "valid_days": 365,
        },
    )
    assert applied.status_code == 201, applied.text
    seal_id = applied.json()["id"]
    assert applied.json()["state"] == "applied"

    seal_admin = p.sign_in("demo-seal-admin")["access_token"]
    for step, state in (("approve", "approved"), ("make", "made")):
        done = p.api(seal_admin, "POST", f"/seals/{seal_id}/{step}")
        assert done.status_code == 200, done.text
        assert done.json()["state"] == state
    active = p.api(org_admin, "POST", f"/seals/{seal_id}/activate")
    assert active.status_code == 200, active.text
    assert active.json()["state"] == "active"

    document = (p.state / "demo" / "samples" / "notice.ofd").read_bytes()
    place = {"page": "1", "x": "140", "y": "220"}
    ofd = {"Content-Type": "application/ofd"}
    weak = p.sign_in("demo-seal-user")["access_token"]  # password only
    refused = p.api(
        weak, "POST", f"/seals/{seal_id}/sign", content=document, params=place, headers=ofd
    )
    assert refused.status_code == 401, refused.text
    challenge = refused.headers["www-authenticate"]
    assert 'error="insufficient_user_authentication"' in challenge
    assert 'acr_values="2"' in challenge

    strong = p.sign_in("demo-seal-user", acr_values="2")["access_token"]  # step-up: OTP
    signed = p.api(
        strong, "POST", f"/seals/{seal_id}/sign", content=document, params=place, headers=ofd
    )
    assert signed.status_code == 200, signed.text
    (tmp_path / "signed.ofd").write_bytes(signed.content)

    # The verifier: the CLI with the CA's public certificates and CRL only, and the API.
    (tmp_path / "ca.pem").write_bytes(httpx.get(p.base + "/seals/ca/certificates").content)
    (tmp_path / "ca.crl").write_bytes(httpx.get(p.base + "/seals/ca/crl").content)
    verified = cli(
        {},
        *("seal", "verify", str(tmp_path / "signed.ofd"), "--json"),
        *("--trust", str(tmp_path / "ca.pem"), "--untrusted", str(tmp_path / "ca.pem")),
        *("--crl", str(tmp_path / "ca.crl")),
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr
    report = json.loads(verified.stdout)
    assert report["status"] == "valid", verified.stdout
    online = httpx.post(p.base + "/seals/verify", content=signed.content, headers=ofd, timeout=60)
    assert online.status_code == 200, online.text
    assert online.json()["status"] == "valid", online.text
