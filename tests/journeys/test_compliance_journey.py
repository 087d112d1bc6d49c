"""Issue 17, journey 5: compliance on a demo-like platform, signed off, verified offline.

A throwaway realm converged from ``deploy/keycloak/anbao-realm.yaml`` (the realm the demo runs)
on the real Keycloak; a real ``anbao serve`` with the seal registry on the real PostgreSQL, the
audit trail with tamper evidence and the report signing key an operator would configure. A
compliance officer, bound to the province through Anbao's API, signs in at Keycloak's real login
form, runs the checks (every automated control passes), signs the run off, downloads the signed
report and its signature, and the report is verified with the ``anbao`` CLI on its own: no
server, no settings, only the two files and the officer's public key.

Development deployments serve plain HTTP on loopback: the transport checks
(``transport.tls_required``, ``transport.keycloak_https``) are judged in production only and
come out not applicable here, with that reason (their controls pass on their other checks);
every other check is judged as in production and passes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from crypto.seals.format.testing import minimal_ofd
from tests.integration.anbao.serving import serve
from tests.integration.anbao.stack import served_realm_env
from tests.integration.conftest import Server
from tests.integration.iam.realm_support import REALM_DIR, add_user, admin_for, apply_file, unique
from tests.journeys.test_hardening import (
    Stack,
    application,
    console_sign_in,
    org_tree,
)

ANBAO = Path(sys.executable).with_name("anbao")


@pytest.fixture(scope="module")
def platform(
    keycloak: Server, database: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    realm = unique("compliance")
    assert apply_file(keycloak, REALM_DIR / "anbao-realm.yaml", realm).applied
    admin = admin_for(keycloak)
    root = add_user(admin, realm, unique("root"), roles=("platform-admin",))
    state = tmp_path_factory.mktemp("compliance")
    key = state / "report-signing.pem"
    made = subprocess.run(
        ["openssl", "genpkey", "-algorithm", "SM2", "-out", str(key)],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    env = served_realm_env(keycloak, realm, state, database) | {
        "ANBAO_COMPLIANCE_SIGNING_KEY_FILE": str(key),
    }
    try:
        with serve(state, env) as (base, _log):
            stack = Stack(base, keycloak, realm, env, admin)
            stack.root_refresh = console_sign_in(stack, admin.get_user(root)["username"])[
                "refresh_token"
            ]
            org_tree(stack)
            yield stack
    finally:
        admin.delete_realm(realm)


def test_every_control_passes_and_the_signed_report_verifies_offline(
    platform: Stack, tmp_path: Path
) -> None:
    s = platform
    officer = s.person("province", compliance_officer="province")
    token = console_sign_in(s, officer["username"])["access_token"]

    _demo_activity(s)
    ran = s.api(token, "POST", "/compliance/runs")
    assert ran.status_code in {200, 201}, ran.text
    run = ran.json()
    results = {c["control_id"]: c for c in run["results"]}
    failed = {cid: c for cid, c in results.items() if c["status"] == "fail"}
    assert not failed, json.dumps(failed, ensure_ascii=False, indent=1)[:4000]
    assert run["counts"]["fail"] == 0
    assert run["counts"]["pass"] > 0
    # Every automated check passes; only the transport checks (production only) do not apply.
    checks = [c for r in results.values() for c in r["checks"]]
    assert checks
    skipped = {c["check"] for c in checks if c["status"] == "not_applicable"}
    assert all(name.startswith("transport.") for name in skipped), skipped
    assert {c["status"] for c in checks} <= {"pass", "not_applicable"}, [
        (c["check"], c["status"]) for c in checks if c["status"] not in {"pass", "not_applicable"}
    ]

    signed = s.api(
        token, "POST", f"/compliance/runs/{run['id']}/signoff",
        json={"comment": "季度等保自查 已复核"},
    )  # fmt: skip
    assert signed.status_code == 200, signed.text
    report = s.api(token, "GET", f"/compliance/runs/{run['id']}/report.pdf")
    assert report.status_code == 200, report.text
    signature = s.api(token, "GET", f"/compliance/runs/{run['id']}/signature")
    assert signature.status_code == 200, signature.text

    (tmp_path / "report.pdf").write_bytes(report.content)
    (tmp_path / "report.sig").write_text(signature.json()["signature"])
    (tmp_path / "officer.pub").write_text(signature.json()["public_key_pem"])
    valid = _offline("report.pdf", tmp_path)
    assert valid.returncode == 0, valid.stdout + valid.stderr
    tampered = bytearray(report.content)
    tampered[len(tampered) // 2] ^= 1
    (tmp_path / "tampered.pdf").write_bytes(bytes(tampered))
    assert _offline("tampered.pdf", tmp_path).returncode == 1


def _demo_activity(s: Stack) -> None:
    """What a demo platform has seen: a seal made (the seal checks judge its algorithms), and an
    alert raised by a misuse and triaged by a province-wide analyst (the triage SLA is judged)."""
    applicant = s.person("county_a", org_admin="county_a")
    seal_admin = s.person("province", seal_admin=None)
    holder = s.person("dept_a", seal_user=None)
    app_token = console_sign_in(s, applicant["username"])["access_token"]
    admin_token = console_sign_in(s, seal_admin["username"])["access_token"]
    body = application(s.nodes["dept_a"], holder["username"])
    applied = s.api(app_token, "POST", "/seals", json=body)
    assert applied.status_code == 201, applied.text
    seal = applied.json()["id"]
    for step in ("approve", "make"):
        moved = s.api(admin_token, "POST", f"/seals/{seal}/{step}")
        assert moved.status_code == 200, (step, moved.text)
    misuse = s.api(
        app_token, "POST", f"/seals/{seal}/sign", content=minimal_ofd("通知"),
        headers={"Content-Type": "application/ofd"},
    )  # fmt: skip
    assert misuse.status_code == 403, misuse.text
    analyst = s.person("province", security_analyst="province")
    analyst_token = console_sign_in(s, analyst["username"])["access_token"]
    entity = f"user.name={applicant['username']}"
    for _ in range(120):
        found = s.api(analyst_token, "GET", "/siem/alerts", params={"entity": entity})
        if found.json()["alerts"]:
            break
        time.sleep(0.5)
    (alert,) = found.json()["alerts"]
    triaged = s.api(
        analyst_token, "PATCH", f"/siem/alerts/{alert['id']}", json={"status": "acknowledged"}
    )
    assert triaged.status_code == 200, triaged.text


def _offline(report: str, where: Path) -> subprocess.CompletedProcess[str]:
    """``anbao compliance verify-report`` with nothing but the files: no server, no settings."""
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(where)}
    return subprocess.run(
        [str(ANBAO), "compliance", "verify-report", report,
         "--sig", "report.sig", "--pub", "officer.pub"],
        cwd=where, env=env, capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
