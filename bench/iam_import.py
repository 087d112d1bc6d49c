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

from iam import imports, synthetic
from iam.imports_apply import Importer, ImportState, file_digest
from iam.orgs_keycloak import KeycloakOrgDirectory, group_body, user_body
from iam.orgs_keycloak_admin import KeycloakAdminClient
from iam.orgs_model import PersonDraft

ROOT = Path(__file__).resolve().parents[1]


def _env() -> dict[str, str]:
    out = subprocess.run(
        [str(ROOT / "deploy/local/keycloak.sh"), "env"], capture_output=True, text=True, check=True
    ).stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def _realm(url: str, user: str, password: str) -> KeycloakAdminClient:
    name = f"bench-orgs-{secrets.token_hex(4)}"
    master = KeycloakAdminClient(url, "master", username=user, password=password)
    r = httpx.post(
        f"{url}/admin/realms",
        json={"realm": name, "enabled": True},
        headers={"Authorization": "Bearer " + master.token()},
        timeout=120,
    )
    r.raise_for_status()
    master.close()
    admin = KeycloakAdminClient(url, name, username=user, password=password, timeout=120)
    profile = admin.json("/users/profile")
    profile["unmanagedAttributePolicy"] = "ADMIN_EDIT"
    admin.request("PUT", "/users/profile", json=profile)
    return admin


def run_anbao(admin: KeycloakAdminClient, workdir: Path, nodes, people, workers: int) -> float:
    imports.write_nodes_csv(workdir / "nodes.csv", nodes)
    imports.write_people_csv(workdir / "people.csv", people)
    directory = KeycloakOrgDirectory(admin)
    start = time.perf_counter()
    node_state = ImportState(workdir / "nodes.state.json", file_digest(workdir / "nodes.csv"))
    rows, findings = imports.parse_nodes(workdir / "nodes.csv", directory.find_node)
    if findings:
        raise SystemExit(f"synthetic data failed validation: {findings[:3]}")
    Importer(directory, node_state, workers=workers).nodes(rows)
    # One run imports both files: the people import resolves codes from the node import's state.
    state = ImportState(workdir / "people.state.json", file_digest(workdir / "people.csv"))
    state.nodes = dict(node_state.nodes)
    prows, findings = imports.parse_people(workdir / "people.csv", lambda c: c in state.nodes)
    if findings:
        raise SystemExit(f"synthetic data failed validation: {findings[:3]}")
    Importer(directory, state, workers=workers).people(prows)
    return time.perf_counter() - start


def run_raw(admin: KeycloakAdminClient, nodes, people, workers: int) -> float:
    base = admin.admin_base
    http = httpx.Client(
        timeout=120, limits=httpx.Limits(max_connections=workers, max_keepalive_connections=workers)
    )
    ids: dict[str, str] = {}
    paths: dict[str, str] = {}

    def headers() -> dict[str, str]:
        return {"Authorization": "Bearer " + admin.token()}

    def node(row) -> None:
        url = (
            f"{base}/groups"
            if not row.parent_code
            else f"{base}/groups/{ids[row.parent_code]}/children"
        )
        r = http.post(url, json=group_body(row.kind, row.code, row.name), headers=headers())
        r.raise_for_status()
        ids[row.code] = r.headers["location"].rsplit("/", 1)[1]
        paths[row.code] = paths.get(row.parent_code, "") + "/" + row.code

    def person(row) -> None:
        draft = PersonDraft(
            row.username, row.family_name, row.given_name, row.email, dict(row.attributes)
        )
        body = user_body(draft, enabled=True, org_path=paths[row.org_codes[0]], admin_node=None)
        body["groups"] = [paths[c] for c in row.org_codes]
        http.post(f"{base}/users", json=body, headers=headers()).raise_for_status()

    level: dict[str, int] = {}
    for row in nodes:
        level[row.code] = level[row.parent_code] + 1 if row.parent_code else 0
    start = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        for depth in sorted(set(level.values())):
            list(pool.map(node, [r for r in nodes if level[r.code] == depth]))
        list(pool.map(person, people))
    elapsed = time.perf_counter() - start
    http.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=float, default=0.05)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    env = _env()
    url = env.get("KEYCLOAK_URL", "http://127.0.0.1:8080")
    user, password = env["KEYCLOAK_ADMIN_USERNAME"], env["KEYCLOAK_ADMIN_PASSWORD"]
    nodes = synthetic.nodes(args.seed, args.scale)
    people = synthetic.people(nodes, args.seed, args.scale)
    realms = [_realm(url, user, password), _realm(url, user, password)]
    try:
        raw = run_raw(realms[0], nodes, people, args.workers)
        with tempfile.TemporaryDirectory() as tmp:
            ours = run_anbao(realms[1], Path(tmp), nodes, people, args.workers)
    finally:
        for admin in realms:
            admin.request("DELETE", "", absent_ok=True)
            admin.close()
    items = len(nodes) + len(people)
    print(
        json.dumps(
            {
                "bench": "iam_import",
                "scale": args.scale,
                "workers": args.workers,
                "cpus": os.cpu_count(),
                "nodes": len(nodes),
                "people": len(people),
                "anbao": {"seconds": round(ours, 2), "items_per_s": round(items / ours, 1)},
                "raw_admin_api": {"seconds": round(raw, 2), "items_per_s": round(items / raw, 1)},
                "ratio_vs_raw": round(raw / ours, 3),
                "target_ratio": 0.8,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
