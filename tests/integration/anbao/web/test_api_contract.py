"""The published API contract, checked from outside by schemathesis against a real server.

``anbao serve`` runs as a real uvicorn process on a throwaway realm of the real Keycloak, with
the SQLite audit store and the seal registry on; schemathesis reads ``/openapi.json`` and sends
generated requests to every operation (``--checks all``: no 5xx, statuses, content types and
bodies as documented, invalid input refused), once with a platform-admin's token and once with
an org-admin's. The number of examples per operation is bounded so the run fits CI.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from crypto import keys
from crypto.keystore import KekRing
from crypto.sm2 import PrivateKey
from iam.orgs.delegation import PLATFORM_ROLES
from iam.orgs.model import NodeKind
from tests.integration.anbao.serving import serve
from tests.integration.conftest import Server
from tests.integration.iam.orgs_realm import Realm, create_realm, delete_realm
from tests.paths import ROOT

#: Per operation and phase; enough to reach every branch of the schemas, small enough for CI.
MAX_EXAMPLES = 20
#: Pinned with the test extra in pyproject.toml; the checks and their defaults are a version's.
ST = [sys.executable, "-m", "schemathesis.cli"]
HERE = Path(__file__).parent


@pytest.fixture(scope="module")
def realm(keycloak: Server) -> Iterator[Realm]:
    env = keycloak.env
    realm = create_realm(
        keycloak.url, env["KEYCLOAK_ADMIN_USERNAME"], env["KEYCLOAK_ADMIN_PASSWORD"]
    )
    try:
        # The run outlasts Keycloak's default 5-minute access tokens.
        realm.admin.request("PUT", "", json={"accessTokenLifespan": 3600})
        yield realm
    finally:
        delete_realm(realm)


@pytest.fixture(scope="module")
def tokens(realm: Realm) -> dict[str, str]:
    province = realm.node(None, NodeKind.PROVINCE, "530000", "云南省")
    prefecture = realm.node(province, NodeKind.PREFECTURE, "530100", "昆明市")
    county = realm.node(prefecture, NodeKind.COUNTY, "530102", "五华区")
    people = {
        # Every platform role, so that schemathesis reaches every operation's handling.
        "platform-admin": realm.person([province], *sorted(PLATFORM_ROLES)),
        "org-admin": realm.person([county], "org-admin", admin_node=county),
    }
    return {who: realm.token(person.username) for who, person in people.items()}


@pytest.fixture(scope="module")
def server(
    keycloak: Server, realm: Realm, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """``anbao serve`` (uvicorn) with the seal registry on, state in a temporary directory."""
    state = tmp_path_factory.mktemp("contract")
    signing_key = state / "officer.pem"  # report sign-off is configured, as in production
    signing_key.write_bytes(keys.dump_private_key(PrivateKey.generate()))
    admin = (keycloak.env["KEYCLOAK_ADMIN_USERNAME"], keycloak.env["KEYCLOAK_ADMIN_PASSWORD"])
    env = realm.settings_env(*admin) | {  # introspection included: high-risk routes ask it
        "ANBAO_COMPLIANCE_SIGNING_KEY_FILE": str(signing_key),
        "ANBAO_SEALS_ENABLED": "true",
        "ANBAO_SEALS_DATABASE_URL": f"sqlite:///{state / 'seals.sqlite3'}",
        "ANBAO_SEALS_KEK": KekRing.generate_entry("contract"),
    }
    with serve(state, env) as (base, log):
        yield base
    errors = [line for line in log.read_text().splitlines() if '"log.level": "error"' in line]
    assert not errors, "\n".join(errors[:5])


def _schemathesis(base: str, token: str, reports: Path) -> dict[str, object]:
    reports.mkdir(parents=True, exist_ok=True)
    run = subprocess.run(
        [
            *ST,
            "--config-file",
            str(HERE.parent / "schemathesis.toml"),
            "run",
            f"{base}/openapi.json",
            "--checks",
            "all",
            "--max-examples",
            str(MAX_EXAMPLES),
            "--seed",
            "16",
            "--generation-database",
            "none",
            "--workers",
            "1",
            "--header",
            f"Authorization: Bearer {token}",
            "--report",
            "har,junit",
            "--report-dir",
            str(reports),
            "--no-color",
            "--output-truncate",
            "true",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=1800,
        # Its cache and reports stay in the test's directory; no state carries over between runs.
        env={
            **os.environ,
            "SCHEMATHESIS_HOOKS": "tests.integration.anbao.st_hooks",
            "PYTHONPATH": str(ROOT),
        },
        cwd=reports,
    )
    output = run.stdout + run.stderr
    entries = json.loads(next(reports.glob("har-*.json")).read_text())["log"]["entries"]
    statuses = [int(e["response"]["status"]) for e in entries]
    tested = re.search(r"Tested: (\d+)", output)
    failures = re.search(r"(\d+) unique failures", output)
    return {
        "returncode": run.returncode,
        "output": output,
        "operations": int(tested.group(1)) if tested else 0,
        "requests": len(statuses),
        "server_errors": sum(s >= 500 for s in statuses),
        "violations": int(failures.group(1)) if failures else 0,
    }


@pytest.mark.parametrize("who", ["platform-admin", "org-admin"])
def test_api_keeps_its_published_contract(
    server: str, tokens: dict[str, str], who: str, tmp_path: Path
) -> None:
    result = _schemathesis(server, tokens[who], tmp_path / who)
    summary = (
        f"{who}: {result['operations']} operations, {result['requests']} requests, "
        f"{result['server_errors']} 5xx, {result['violations']} contract violations"
    )
    print(summary)
    assert result["server_errors"] == 0, result["output"][-20000:]
    assert result["returncode"] == 0, result["output"][-20000:]
    assert result["operations"] > 60, summary  # every operation of the app was reached
