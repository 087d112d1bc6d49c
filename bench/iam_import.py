"""Import of the synthetic province into the real Keycloak vs the raw admin API, one JSON run.

Anbao's path: CSV files -> validation report -> resumable importer (level-by-level nodes,
people, bounded thread pool, state file). Reference, measured in the same run: the very same
Keycloak calls (POST child group, POST user with groups) from a bare httpx client with the same
pool and no validation or bookkeeping. Each side gets a fresh realm; both are deleted after.
Target: anbao rate >= 0.8x raw. ``--scale 1`` is the full province (15,546 nodes, 20,000
people); the default is a bounded fraction. Loopback Keycloak only.

    .venv/bin/python bench/iam_import.py --scale 0.05
"""

from __future__ import annotations

import sys
from pathlib import Path

# bench/http.py would shadow the standard library's http package: run from the repository root.
sys.path[0] = str(Path(__file__).resolve().parents[1])

import argparse
import json
import os
import secrets
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from iam.admin import AdminCredentials, KeycloakAdminClient, KeycloakAdmins
from iam.orgs import synthetic
from iam.orgs.imports import files as imports
from iam.orgs.imports.apply import Importer, ImportState, file_digest
from iam.orgs.keycloak import KeycloakOrgDirectory, group_body, user_body
from iam.orgs.model import PersonDraft

ROOT = Path(__file__).resolve().parents[1]


def _env() -> dict[str, str]:
    out = subprocess.run(
        [str(ROOT / "deploy/local/keycloak.sh"), "env"], capture_output=True, text=True, check=True
    ).stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def _realm(url: str, user: str, password: str) -> KeycloakAdminClient:
    name = f"bench-orgs-{secrets.token_hex(4)}"
    master = KeycloakAdmins(AdminCredentials.bootstrap(url, user, password), "master").rest()
    r = httpx.post(
        f"{url}/admin/realms",
        json={"realm": name, "enabled": True},
        headers={"Authorization": "Bearer " + master.token()},
        timeout=120,
    )
    r.raise_for_status()
    master.close()
    admin = KeycloakAdmins(AdminCredentials.bootstrap(url, user, password), name).rest(timeout=900)
    profile = admin.json("/users/profile")
    profile["unmanagedAttributePolicy"] = "ADMIN_EDIT"
    admin.request("PUT", "/users/profile", json=profile)
    return admin


class Anbao:
    """Anbao's path: CSV -> validation -> resumable importer."""

    def __init__(self, admin: KeycloakAdminClient, workdir: Path, nodes, people, workers: int):
        self.directory = KeycloakOrgDirectory(admin)
        self.workdir = workdir
        self.workers = workers
        imports.write_nodes_csv(workdir / "nodes.csv", nodes)
        imports.write_people_csv(workdir / "people.csv", people)
        self.node_state = ImportState(
            workdir / "nodes.state.json", file_digest(workdir / "nodes.csv")
        )

    def nodes(self) -> float:
        start = time.perf_counter()
        rows, findings = imports.parse_nodes(self.workdir / "nodes.csv", self.directory.find_node)
        _clean(findings)
        Importer(self.directory, self.node_state, workers=self.workers).nodes(rows)
        return time.perf_counter() - start

    def people(self) -> float:
        start = time.perf_counter()
        path = self.workdir / "people.csv"
        state = ImportState(self.workdir / "people.state.json", file_digest(path))
        state.nodes = dict(self.node_state.nodes)  # as ``import-people --nodes-state``
        rows, findings = imports.parse_people(path, lambda c: c in state.nodes)
        _clean(findings)
        Importer(self.directory, state, workers=self.workers).people(rows)
        return time.perf_counter() - start


def _clean(findings) -> None:
    if findings:
        raise SystemExit(f"synthetic data failed validation: {findings[:3]}")


class Raw:
    """The reference: the same Keycloak calls from a bare httpx client and the same pool."""

    def __init__(self, admin: KeycloakAdminClient, nodes, people, workers: int):
        self.admin = admin
        self.rows, self.people_rows, self.workers = nodes, people, workers
        limits = httpx.Limits(max_connections=workers, max_keepalive_connections=workers)
        self.http = httpx.Client(timeout=120, limits=limits)
        self.ids: dict[str, str] = {}
        self.paths: dict[str, str] = {}

    def _headers(self) -> dict[str, str]:
        return {"Authorization": "Bearer " + self.admin.token()}

    def _node(self, row) -> None:
        base = self.admin.admin_base
        parent = row.parent_code
        url = f"{base}/groups" if not parent else f"{base}/groups/{self.ids[parent]}/children"
        r = self.http.post(
            url, json=group_body(row.kind, row.code, row.name), headers=self._headers()
        )
        r.raise_for_status()
        self.ids[row.code] = r.headers["location"].rsplit("/", 1)[1]
        self.paths[row.code] = self.paths.get(parent, "") + "/" + row.code

    def _person(self, row) -> None:
        draft = PersonDraft(
            row.username, row.family_name, row.given_name, row.email, dict(row.attributes)
        )
        body = user_body(
            draft, enabled=True, org_path=self.paths[row.org_codes[0]], admin_node=None
        )
        body["groups"] = [self.paths[c] for c in row.org_codes]
        r = self.http.post(f"{self.admin.admin_base}/users", json=body, headers=self._headers())
        r.raise_for_status()

    def nodes(self) -> float:
        level: dict[str, int] = {}
        for row in self.rows:
            level[row.code] = level[row.parent_code] + 1 if row.parent_code else 0
        start = time.perf_counter()
        with ThreadPoolExecutor(self.workers) as pool:
            for depth in sorted(set(level.values())):
                list(pool.map(self._node, [r for r in self.rows if level[r.code] == depth]))
        return time.perf_counter() - start

    def people(self) -> float:
        start = time.perf_counter()
        with ThreadPoolExecutor(self.workers) as pool:
            list(pool.map(self._person, self.people_rows))
        return time.perf_counter() - start


def _side(nodes: int, people: int, t_nodes: float, t_people: float) -> dict[str, float]:
    total = t_nodes + t_people
    return {
        "seconds": round(total, 2),
        "items_per_s": round((nodes + people) / total, 1),
        "nodes_per_s": round(nodes / t_nodes, 1),
        "people_per_s": round(people / t_people, 1),
    }


def _drop(admin: KeycloakAdminClient, workers: int = 8) -> None:
    """Empty the realm piece by piece, then delete it.

    Deleting a realm of 35,000 objects in one call is one huge transaction: on the dev-mode H2
    database it ran for minutes and, when it was interrupted, closed the database under every
    other user of this Keycloak. Many small deletes (users, then groups from the leaves up)
    keep every transaction small.
    """
    try:
        with ThreadPoolExecutor(workers) as pool:
            while users := admin.json(
                "/users", {"first": 0, "max": 500, "briefRepresentation": "true"}
            ):
                list(
                    pool.map(
                        lambda u: admin.request("DELETE", f"/users/{u['id']}", absent_ok=True),
                        users,
                    )
                )
            for level in reversed(_group_levels(admin)):
                list(
                    pool.map(
                        lambda g: admin.request("DELETE", f"/groups/{g}", absent_ok=True), level
                    )
                )
        admin.request("DELETE", "", absent_ok=True)
    except Exception as exc:  # noqa: BLE001 - cleanup is best effort; say so and go on
        print(f"warning: realm {admin.realm} not fully deleted: {exc}", file=sys.stderr)
    admin.close()


def _group_levels(admin: KeycloakAdminClient) -> list[list[str]]:
    level = [g["id"] for g in admin.json("/groups", {"max": 1000}) or []]
    levels: list[list[str]] = []
    while level:
        levels.append(level)
        children: list[str] = []
        for gid in level:
            first = 0
            while page := admin.json(f"/groups/{gid}/children", {"first": first, "max": 500}):
                children += [g["id"] for g in page]
                first += len(page)
                if len(page) < 500:
                    break
        level = children
    return levels


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=float, default=0.05)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--drop-realm", default="", help="Only empty and delete a left-over realm.")
    args = parser.parse_args()
    env = _env()
    url = env.get("KEYCLOAK_URL", "http://127.0.0.1:8080")
    user, password = env["KEYCLOAK_ADMIN_USERNAME"], env["KEYCLOAK_ADMIN_PASSWORD"]
    if args.drop_realm:
        _drop(
            KeycloakAdmins(AdminCredentials.bootstrap(url, user, password), args.drop_realm).rest(
                timeout=300
            )
        )
        return
    nodes = synthetic.nodes(args.seed, args.scale)
    people = synthetic.people(nodes, args.seed, args.scale)
    realms = [_realm(url, user, password), _realm(url, user, password)]
    # Phases interleave (raw nodes, Anbao nodes, raw people, Anbao people) so that load from
    # anything else on the box falls on both sides alike.
    with tempfile.TemporaryDirectory() as tmp:
        raw = Raw(realms[0], nodes, people, args.workers)
        ours = Anbao(realms[1], Path(tmp), nodes, people, args.workers)
        times = [raw.nodes(), ours.nodes(), raw.people(), ours.people()]
        raw.http.close()
    print(
        json.dumps(
            {
                "bench": "iam_import",
                "scale": args.scale,
                "workers": args.workers,
                "cpus": os.cpu_count(),
                "nodes": len(nodes),
                "people": len(people),
                "anbao": _side(len(nodes), len(people), times[1], times[3]),
                "raw_admin_api": _side(len(nodes), len(people), times[0], times[2]),
                "ratio_vs_raw": round((times[0] + times[2]) / (times[1] + times[3]), 3),
                "target_ratio": 0.8,
            },
            indent=2,
        ),
        flush=True,
    )
    for admin in realms:
        _drop(admin, args.workers)


if __name__ == "__main__":
    main()
