"""Realm apply and event pull against the running local Keycloak; prints one JSON object.

* apply: first apply of deploy/keycloak/anbao-realm.yaml to a fresh realm, then a no-op apply,
  next to the raw admin-API cost of just reading what the no-op apply reads (reference).
* events: N admin events (role creations) pulled by the EventPuller (ECS mapping, SQLite cursor,
  dedupe) vs the raw paging of the same events through python-keycloak (reference).

Loopback only, bounded (N defaults to 1000). Usage: .venv/bin/python -P bench/iam_realm.py [N]
(``-P``: bench/http.py would otherwise shadow the standard library's ``http``).
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from keycloak import KeycloakAdmin

from audit.sql.sqlite import connect
from iam.admin import AdminCredentials, KeycloakAdminClient, KeycloakAdmins
from iam.events.keycloak import KeycloakEventSource
from iam.events.service import EventPuller, SplitJournal
from iam.events.sqlite import SqliteCursorStore
from iam.realm.keycloak import KeycloakRealmAdmin
from iam.realm.load import load_realm_file
from iam.realm.render import render
from iam.realm.service import converge

ROOT = Path(__file__).resolve().parents[1]


def _env() -> dict[str, str]:
    out = subprocess.run(
        [str(ROOT / "deploy/local/keycloak.sh"), "env"], capture_output=True, text=True, check=True
    ).stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def directory_admin(realm: str) -> KeycloakAdminClient:
    """The org directory's admin client (what the puller reads events with)."""
    env = _env()
    return KeycloakAdmins(
        AdminCredentials.bootstrap(
            env["KEYCLOAK_URL"], env["KEYCLOAK_ADMIN_USERNAME"], env["KEYCLOAK_ADMIN_PASSWORD"]
        ),
        realm,
    ).rest()


def admin() -> tuple[KeycloakAdmin, str]:
    env = _env()
    client = KeycloakAdmins(
        AdminCredentials.bootstrap(
            env["KEYCLOAK_URL"], env["KEYCLOAK_ADMIN_USERNAME"], env["KEYCLOAK_ADMIN_PASSWORD"]
        ),
        "master",
    ).python_keycloak()
    return client, env["KEYCLOAK_URL"]


class CountingSink:
    def __init__(self) -> None:
        self.count = 0

    def emit(self, events: list[dict[str, object]]) -> None:
        self.count += len(events)


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    kc, url = admin()
    realm = f"bench-{uuid.uuid4().hex[:8]}"
    spec = dataclasses.replace(
        load_realm_file(ROOT / "deploy/keycloak/anbao-realm.yaml", {"keycloak_url": url}),
        realm=realm,
    )
    port = KeycloakRealmAdmin(kc, realm)
    try:
        t0 = time.perf_counter()
        first = converge(spec, port, dry_run=False, prune=False)
        t1 = time.perf_counter()
        again = converge(spec, port, dry_run=False, prune=False)
        t2 = time.perf_counter()
        port.read(render(spec))
        t3 = time.perf_counter()

        kc.change_current_realm(realm)
        for i in range(n):
            kc.create_realm_role({"name": f"bench-role-{i}"})
        t4 = time.perf_counter()
        raw, first_row = 0, 0
        while True:
            page = kc.get_admin_events(
                {"dateFrom": "0", "first": first_row, "max": 200, "direction": "asc"}
            )
            raw += len(page)
            first_row += len(page)
            if len(page) < 200:
                break
        t5 = time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            sink = CountingSink()
            puller = EventPuller(
                source=KeycloakEventSource(directory_admin(realm)),
                journal=SplitJournal(SqliteCursorStore(Path(tmp) / "c.sqlite3", connect), sink),
                realm=realm,
            )
            t6 = time.perf_counter()
            pulled = puller.pull_stream("admin")
            t7 = time.perf_counter()
            repeat = puller.pull_stream("admin")
    finally:
        kc.delete_realm(realm)
    print(
        json.dumps(
            {
                "apply_first_s": round(t1 - t0, 3),
                "apply_first_changes": len(first.mutations),
                "apply_noop_s": round(t2 - t1, 3),
                "apply_noop_changes": len(again.changes),
                "read_live_state_s": round(t3 - t2, 3),
                # ~1.0: a no-op apply costs what reading the live state costs, nothing more.
                "apply_noop_over_read": round((t2 - t1) / (t3 - t2), 3),
                "events": {"n_created": n, "create_s": round(t4 - t3, 3)},
                "events_raw_paging_per_s": round(raw / (t5 - t4)),
                "events_pulled_per_s": round(pulled / (t7 - t6)),
                "events_pulled": pulled,
                "events_raw": raw,
                "pull_vs_raw": round((pulled / (t7 - t6)) / (raw / (t5 - t4)), 3),
                "events_repeated_on_second_pull": repeat,
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
