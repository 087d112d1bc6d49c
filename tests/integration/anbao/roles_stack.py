"""A real ``anbao serve`` on a throwaway realm of the real Keycloak, with the people of the role
tests: a platform-admin (also analyst), an app developer, an org-admin bound to county A, a
clerk in A and one in B. Public interfaces only: HTTP to the server, the ``anbao`` CLI as a
subprocess with ``ANBAO_TOKEN``, and the server's own stores read after the fact.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx

from iam.orgs.model import NodeKind, OrgNode, Person
from tests.integration.anbao.serving import serve
from tests.integration.anbao.stack import stack_env
from tests.integration.conftest import Server
from tests.integration.iam.orgs_realm import Realm, create_realm, delete_realm

#: How long the server may take to ship an event to its store and the detection engine.
DELIVERY_DEADLINE = 60.0


@dataclasses.dataclass
class RolesStack:
    realm: Realm
    base: str
    state: Path
    nodes: dict[str, OrgNode]
    people: dict[str, Person]

    def token(self, who: str) -> str:
        return self.realm.token(self.people[who].username)

    def call(self, who: str, method: str, path: str, body: object = None) -> httpx.Response:
        headers = {"Authorization": "Bearer " + self.token(who)}
        return httpx.request(method, self.base + path, json=body, headers=headers, timeout=60)

    def cli(self, who: str, *args: str) -> subprocess.CompletedProcess[str]:
        """``anbao ARGS`` as a subprocess acting with ``who``'s token (``ANBAO_TOKEN``)."""
        env = {
            **os.environ,
            "ANBAO_TOKEN": self.token(who),
            "ANBAO_API_URL": self.base,
            "ANBAO_CONFIG_DIR": str(self.state / "cli"),
        }
        return subprocess.run(
            [sys.executable, "-m", "anbao", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def audit_documents(self) -> list[dict[str, Any]]:
        """Every audit document the server's store holds (read-only)."""
        path = self.state / "audit.sqlite3"
        if not path.exists():
            return []
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            try:
                rows = db.execute("SELECT doc FROM events").fetchall()
            except sqlite3.OperationalError:  # not created yet
                return []
        return [json.loads(r[0]) for r in rows]


def wait_for(found: Callable[[], Any], what: str) -> Any:
    """``found()`` once it is truthy; fails after :data:`DELIVERY_DEADLINE` (never a verdict
    on speed: the deadline only stops a test that would otherwise hang)."""
    deadline = time.monotonic() + DELIVERY_DEADLINE
    while True:
        value = found()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"never arrived: {what}")
        time.sleep(0.5)


@contextlib.contextmanager
def roles_stack(keycloak: Server, state: Path) -> Iterator[RolesStack]:
    env = keycloak.env
    realm = create_realm(
        keycloak.url, env["KEYCLOAK_ADMIN_USERNAME"], env["KEYCLOAK_ADMIN_PASSWORD"]
    )
    try:
        province = realm.node(None, NodeKind.PROVINCE, "530000", "云南省")
        prefecture = realm.node(province, NodeKind.PREFECTURE, "530100", "昆明市")
        county_a = realm.node(prefecture, NodeKind.COUNTY, "530102", "五华区")
        county_b = realm.node(prefecture, NodeKind.COUNTY, "530103", "盘龙区")
        nodes = {"province": province, "a": county_a, "b": county_b}
        people = {
            "platform": realm.person([province], "platform-admin", "security-analyst"),
            "dev": realm.person([prefecture], "app-developer"),
            "admin_a": realm.person([county_a], "org-admin", admin_node=county_a),
            "clerk_a": realm.person([county_a]),
            "clerk_b": realm.person([county_b]),
            "newcomer": realm.person([county_a]),
        }
        with serve(state, stack_env(keycloak, realm, state)) as (base, _log):
            yield RolesStack(realm, base, state, nodes, people)
    finally:
        delete_realm(realm)
