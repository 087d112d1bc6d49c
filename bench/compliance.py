"""Compliance run cost against the real Keycloak, and report rendering.

- ``inspect``: :class:`policies.checks.keycloak.KeycloakRealmInspector` on a realm converged from
  deploy/keycloak/anbao-realm.yaml with ``USERS`` users (per user it asks for effective roles and
  credentials), vs the reference: the two bulk reads any inspection needs at least
  (``GET realm`` + ``GET users``). Ratio = reference / inspection (1.0 = no overhead).
- ``run``: a whole catalogue run (every check, stored in SQLite) vs the inspection alone.
- ``pdf``: the PDF report (embedded CJK font) vs the HTML report of the same run.

Bounded: one realm, ``USERS`` users, ``ROUNDS`` rounds, best round counts; loopback only. The
realm is deleted at the end.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa
from keycloak import KeycloakAdmin

from iam.admin import AdminCredentials, KeycloakAdmins
from iam.realm.keycloak import KeycloakRealmAdmin
from iam.realm.load import load_realm_file
from iam.realm.service import converge
from policies.catalogue.load import load_catalogue
from policies.checks.keycloak import KeycloakRealmInspector
from policies.ports import Inspectors
from policies.reports import content as report
from policies.reports import html as report_html
from policies.reports import pdf as report_pdf
from policies.runs.service import ComplianceService
from policies.runs.store import SqlRunStore
from tests.integration.conftest import _env

USERS = 50
ROUNDS = 3
ROOT = Path(__file__).resolve().parents[1]


def _best(fn: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(ROUNDS):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def _realm(admin: KeycloakAdmin, url: str) -> str:
    name = f"bench-compliance-{uuid.uuid4().hex[:8]}"
    spec = load_realm_file(ROOT / "deploy/keycloak/anbao-realm.yaml", {"keycloak_url": url})
    converge(dataclasses.replace(spec, realm=name), KeycloakRealmAdmin(admin, name),
             dry_run=False, prune=False)  # fmt: skip
    admin.change_current_realm(name)
    for i in range(USERS):
        admin.create_user({"username": f"user{i:03d}", "enabled": True})
    return name


def main() -> None:
    env = _env("keycloak")
    admin = KeycloakAdmins(
        AdminCredentials.bootstrap(
            env["KEYCLOAK_URL"], env["KEYCLOAK_ADMIN_USERNAME"], env["KEYCLOAK_ADMIN_PASSWORD"]
        ),
        "master",
    ).python_keycloak()
    name = _realm(admin, env["KEYCLOAK_URL"])
    try:
        inspector = KeycloakRealmInspector(admin, name)
        ids = itertools.count()
        service = ComplianceService(
            load_catalogue(), Inspectors(realm=inspector), SqlRunStore(sa.create_engine("sqlite://")),
            clock=lambda: dt.datetime.now(dt.UTC), new_id=lambda: f"r{next(ids)}",
        )  # fmt: skip

        def reference() -> None:
            admin.get_realm(name)
            admin.get_users({"max": 10_000})

        ref = _best(reference)
        inspect = _best(inspector.inspect)
        run = _best(service.run)
        last = service.runs(1)[0]
        data = report.build(service.catalogue, last, changes=service.diff(last),
                            trend=service.trend(last), waivers=[])  # fmt: skip
        html = _best(lambda: report_html.render(data))
        pdf = _best(lambda: report_pdf.render(data))
    finally:
        admin.delete_realm(name)
    print(json.dumps({
        "users": USERS,
        "inspect_realm_seconds": round(inspect, 4),
        "reference_bulk_reads_seconds": round(ref, 4),
        "inspect_ratio_reference_over_inspect": round(ref / inspect, 3),
        "catalogue_run_seconds": round(run, 4),
        "run_ratio_inspect_over_run": round(inspect / run, 3),
        "html_report_seconds": round(html, 4),
        "pdf_report_seconds": round(pdf, 4),
        "pdf_ratio_html_over_pdf": round(html / pdf, 3),
    }, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
