"""``anbao dev seed`` and ``make run`` (deploy/local/run.sh) on the real Keycloak.

The seed runs as the console script against a throwaway realm converged from the production
realm file; what it made is read back through Keycloak's admin API and by signing a demo person
in on Keycloak's real login form (password, then OTP: no forced password change or enrolment).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from anbao.demo import data
from tests.integration.anbao.serving import free_port
from tests.integration.conftest import Server
from tests.integration.iam.realm_support import (
    REALM_DIR,
    BrowserlessLogin,
    admin_for,
    apply_file,
    unique,
)
from tests.paths import ROOT

ANBAO = Path(sys.executable).with_name("anbao")


@pytest.fixture(scope="module")
def realm(keycloak: Server) -> Iterator[str]:
    name = unique("seed")
    # As deploy/local/keycloak.sh does: the anbao-admin client gets the secret `env` prints.
    secret = keycloak.env["ANBAO_KEYCLOAK_ADMIN_CLIENT_SECRET"]
    assert apply_file(
        keycloak, REALM_DIR / "anbao-realm.yaml", name, anbao_admin_client_secret=secret
    ).applied
    try:
        yield name
    finally:
        admin_for(keycloak).delete_realm(name)


def seed_env(keycloak: Server, realm: str, data_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "ANBAO_DATA_DIR": str(data_dir),
        "ANBAO_ENVIRONMENT": "development",
        "ANBAO_KEYCLOAK_URL": keycloak.url,
        "ANBAO_KEYCLOAK_REALM": realm,
        "ANBAO_KEYCLOAK_ADMIN_USERNAME": keycloak.env["KEYCLOAK_ADMIN_USERNAME"],
        "ANBAO_KEYCLOAK_ADMIN_PASSWORD": keycloak.env["KEYCLOAK_ADMIN_PASSWORD"],
        # Development runs as the service account too (deploy/local/run.sh exports it).
        "ANBAO_KEYCLOAK_ADMIN_CLIENT_SECRET": keycloak.env["ANBAO_KEYCLOAK_ADMIN_CLIENT_SECRET"],
    }


def run_seed(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ANBAO), "dev", "seed"],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_seed_populates_the_realm_once(keycloak: Server, realm: str, tmp_path: Path) -> None:
    env = seed_env(keycloak, realm, tmp_path)
    first = run_seed(env)
    assert first.returncode == 0, first.stderr
    assert "created person demo-org-admin (org-admin)" in first.stdout
    assert "created app permits-demo" in first.stdout

    again = run_seed(env)
    assert again.returncode == 0, again.stderr
    assert "nothing changed" in again.stdout
    assert "created" not in again.stdout.replace("nothing changed", "")

    admin = admin_for(keycloak)
    admin.change_current_realm(realm)
    county = admin.get_group_by_path("/530000/530100/530102")
    township = admin.get_group_by_path("/530000/530100/530102/530102001/530102001001")
    assert township["attributes"]["org_name"] == ["华山社区"]
    (org_admin,) = admin.get_users({"username": "demo-org-admin", "exact": True})
    assert org_admin["attributes"]["org_admin_node"] == [county["id"]]
    assert not org_admin.get("requiredActions")
    roles = {r["name"] for r in admin.get_realm_roles_of_user(org_admin["id"])}
    assert "org-admin" in roles
    for person in data.PEOPLE:
        (user,) = admin.get_users({"username": person.username, "exact": True})
        assert person.role in {r["name"] for r in admin.get_realm_roles_of_user(user["id"])}
    client = admin.get_clients()
    assert "permits-demo" in {c["clientId"] for c in client}

    demo = tmp_path / "demo"
    assert (demo / "seal.png").read_bytes().startswith(b"\x89PNG")
    assert (demo / "anbao.toml").stat().st_mode & 0o077 == 0
    assert "enabled = true" in (demo / "anbao.toml").read_text()
    assert (demo / "report-signing-key.pem").stat().st_mode & 0o077 == 0
    assert sorted(p.name for p in (demo / "samples").iterdir()) == ["notice.ofd", "permit.ofd"]


def test_a_demo_administrator_signs_in_with_the_printed_credentials(
    keycloak: Server, realm: str, tmp_path: Path
) -> None:
    assert run_seed(seed_env(keycloak, realm, tmp_path)).returncode == 0
    login = BrowserlessLogin(keycloak.url, realm, "anbao-console")
    try:
        page = login.submit(
            login.start(),
            "kc-form-login",
            username="demo-org-admin",
            password=data.PASSWORD,
        )
        assert login.code is None, "signed in without OTP"
        assert 'name="otp"' in page.text, page.title()
        if time.time() % 30 > 27:  # a code about to change
            time.sleep(4)
        login.submit(page, None, otp=data.otp_code(time.time()))
        assert login.code, "the OTP was not accepted"
        assert login.tokens()["access_token"]
    finally:
        login.close()


def test_production_refuses_the_seed(keycloak: Server, realm: str, tmp_path: Path) -> None:
    env = seed_env(keycloak, realm, tmp_path) | {
        "ANBAO_ENVIRONMENT": "production",
        "ANBAO_SERVER_BEHIND_TLS_PROXY": "true",
        "ANBAO_KEYCLOAK_URL": "https://keycloak.invalid",
        "ANBAO_KEYCLOAK_CLIENT_SECRET": "set",
        "ANBAO_KEYCLOAK_ADMIN_CLIENT_SECRET": "set",
        "ANBAO_CONSOLE_CLIENT_SECRET": "set",
        "ANBAO_CONSOLE_PUBLIC_URL": "https://anbao.invalid",
    }
    refused = run_seed(env)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "development only" in refused.stderr
    assert "production" in refused.stderr
    assert not (tmp_path / "demo").exists()


def test_make_run_seeds_serves_and_ends_with_exit_0_on_ctrl_c(
    keycloak: Server, realm: str, tmp_path: Path
) -> None:
    port = free_port()
    env = seed_env(keycloak, realm, tmp_path) | {"ANBAO_SERVER_PORT": str(port)}
    env.pop("ANBAO_KEYCLOAK_URL")  # run.sh takes Keycloak's from deploy/local/keycloak.sh
    out = tmp_path / "run.out"
    with out.open("w") as sink:
        proc = subprocess.Popen(
            [str(ROOT / "deploy" / "local" / "run.sh")],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, as a terminal's foreground job
        )
    try:
        for _ in range(600):
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, out.read_text()
            time.sleep(0.2)
        else:
            pytest.fail(out.read_text())
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C does: SIGINT to the foreground group
        assert proc.wait(timeout=60) == 0, out.read_text()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    banner = out.read_text()
    assert f"http://127.0.0.1:{port}/readyz" in banner
    assert f"realm {realm!r}".replace("'", '"') in banner
    for person in data.PEOPLE:
        assert person.username in banner
    assert data.PASSWORD in banner
    assert "DEVELOPMENT ONLY" in banner
