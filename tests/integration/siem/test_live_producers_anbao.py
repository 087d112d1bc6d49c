"""Issue 17 §6 and §7: each rule Anbao itself produces events for, driven through its real
producer, raises its alert once; analysts see what their scope allows.

A real ``anbao serve`` on a throwaway realm converged from ``deploy/keycloak/anbao-realm.yaml``
on the real Keycloak, the seal registry on the real PostgreSQL, the audit trail in SQLite (and a
second server whose Elasticsearch is a port nothing listens on), the streaming detection engine
of the server raising alerts into its alert store. People sign in at Keycloak's real login
form; everything else goes through Anbao's API and the ``anbao`` CLI. Alerts are read back by a
province-wide analyst whose scope was granted through Anbao (``anbao siem analysts grant``).

``siem.working_hours`` is an empty window (``start=0;end=0``): every moment is outside working
hours, so ``admin_off_hours`` fires whatever the date and time the test runs at.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from crypto.keystore import KekRing
from crypto.seal.testing import minimal_ofd
from siem.loader import load_rules
from tests.integration.anbao.serving import serve, state_env
from tests.integration.conftest import Server
from tests.integration.iam.realm_support import (
    CONSOLE,
    REALM_DIR,
    BrowserlessLogin,
    add_user,
    admin_for,
    apply_file,
    unique,
)
from tests.journeys.test_hardening import Stack, application, console_sign_in, org_tree, sign_in

#: rule name (``anbao_…``) -> rule id, as the alert API filters
RULES = {str(s.name): rid for rid, s in load_rules().sigma.items() if s.name}
WAIT_SECONDS = 90


@dataclasses.dataclass
class Live(Stack):
    """The stack of the hardening journey, plus the province-wide analyst reading alerts."""

    state: Path = Path()
    root_name: str = ""
    analyst: dict[str, Any] = dataclasses.field(default_factory=dict)
    analyst_token: str = ""

    def alerts(self, rule: str, entity: str = "", *, base: str = "") -> list[dict[str, Any]]:
        """Alerts of ``rule`` (on ``entity``) in the analyst's scope, once there is one."""
        params = {"rule": RULES[f"anbao_{rule}"], "entity": entity, "limit": "100"}
        url = (base or self.base) + "/siem/alerts"
        headers = {"Authorization": f"Bearer {self.analyst_token}"}
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            page = httpx.get(url, params=params, headers=headers, timeout=30)
            assert page.status_code == 200, page.text
            found: list[dict[str, Any]] = page.json()["alerts"]
            if found or time.monotonic() > deadline:
                return found
            time.sleep(0.5)

    def one_alert(self, rule: str, entity: str = "", *, base: str = "") -> dict[str, Any]:
        found = self.alerts(rule, entity, base=base)
        assert len(found) == 1, (rule, entity, found)
        return found[0]


def _env(keycloak: Server, realm: str, state: Path, database: str) -> dict[str, str]:
    kc = keycloak.env
    return state_env(state) | {
        "ANBAO_DATA_DIR": str(state),
        "ANBAO_ENVIRONMENT": "development",
        "ANBAO_KEYCLOAK_URL": keycloak.url,
        "ANBAO_KEYCLOAK_REALM": realm,
        "ANBAO_KEYCLOAK_REQUIRED": "false",
        "ANBAO_KEYCLOAK_ADMIN_USERNAME": kc["KEYCLOAK_ADMIN_USERNAME"],
        "ANBAO_KEYCLOAK_ADMIN_PASSWORD": kc["KEYCLOAK_ADMIN_PASSWORD"],
        "ANBAO_KEYCLOAK_CLIENT_ID": "anbao-api",
        "ANBAO_KEYCLOAK_CLIENT_SECRET": kc["ANBAO_KEYCLOAK_CLIENT_SECRET"],
        "ANBAO_KEYCLOAK_INTROSPECTION_TTL_SECONDS": "0",
        "ANBAO_SIEM_ALERT_SQLITE_PATH": str(state / "alerts.sqlite3"),
        "ANBAO_SIEM_WORKING_HOURS": "tz=+00:00;start=0;end=0;days=1,2,3,4,5,6,7",
        "ANBAO_AUDIT_INTEGRITY_HEAD_EVERY_SECONDS": "1",
        "ANBAO_SEALS_ENABLED": "true",
        "ANBAO_SEALS_DATABASE_URL": database,
        "ANBAO_SEALS_KEK": KekRing.generate_entry("producers"),
    }


@pytest.fixture(scope="module")
def live(
    keycloak: Server, database: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Live]:
    realm = unique("producers")
    assert apply_file(keycloak, REALM_DIR / "anbao-realm.yaml", realm).applied
    admin = admin_for(keycloak)
    root = add_user(admin, realm, unique("root"), roles=("platform-admin",))
    state = tmp_path_factory.mktemp("producers")
    env = _env(keycloak, realm, state, database)
    try:
        with serve(state, env) as (base, _log):
            s = Live(base, keycloak, realm, env, admin, state=state)
            s.root_name = admin.get_user(root)["username"]
            s.root_refresh = console_sign_in(s, s.root_name)["refresh_token"]
            org_tree(s)
            s.analyst = s.person("province")
            granted = s.cli(
                "siem", "analysts", "grant", s.analyst["id"], "--province-wide",
                "--api", base, "--token", s.root(),
            )  # fmt: skip
            assert granted.returncode == 0, granted.stdout + granted.stderr
            s.analyst_token = console_sign_in(s, s.analyst["username"])["access_token"]
            yield s
    finally:
        admin.delete_realm(realm)


def _stepped_up(s: Live, username: str) -> str:
    """A token after password + OTP (acr 2), from Keycloak's real login form."""
    login = BrowserlessLogin(s.keycloak.url, s.realm, CONSOLE)
    try:
        return str(sign_in(login, username, acr_values="2")["access_token"])
    finally:
        login.close()


# -- §6: the analysts' scope -------------------------------------------------------------------


def test_a_province_wide_grant_is_audited_and_raises_admin_off_hours(live: Live) -> None:
    s = live
    alert = s.one_alert("admin_off_hours", f"user.name={s.root_name}")
    assert alert["severity"] == "medium"
    events = _evidence(s, s.analyst_token, alert)
    grants = [e for e in events if e["event"]["action"] == "iam.scope.grant"]
    assert grants, events
    assert grants[0]["labels"]["whole_tree"] == "true"
    assert grants[0]["resource"]["id"] == s.analyst["id"]


def test_an_org_scoped_analyst_follows_the_evidence_link_to_their_events_only(live: Live) -> None:
    """An alert's evidence link opens the events its reader may see, and no others; events
    without an org are for the province-wide analyst alone."""
    s = live
    county_analyst = s.person("county_a")
    bound = s.api(
        s.root(), "PUT", f"/siem/analysts/{county_analyst['id']}",
        json={"node_id": s.nodes["county_a"]["id"]},
    )  # fmt: skip
    assert bound.status_code == 200, bound.text
    assert bound.json()["whole_tree"] is False
    a_token = console_sign_in(s, county_analyst["username"])["access_token"]
    # A seal used by a non-holder in county A and in county B: each alert lies in its county.
    alert_a = _non_holder_use(s, "county_a", "dept_a")
    alert_b = _non_holder_use(s, "county_b", "dept_b")
    county_a = s.nodes["county_a"]["path"]
    assert _within(county_a, alert_a["org_path"])
    assert not _within(county_a, alert_b["org_path"])

    assert _opened(s, a_token, alert_a, county_a) == set(alert_a["event_ids"])
    assert s.api(a_token, "GET", f"/siem/alerts/{alert_b['id']}").status_code == 404
    assert _opened(s, a_token, alert_b, county_a) == set()
    # The admin's alert spans the province (its grants) and events of no org: the county
    # analyst may not open the alert, and its link opens only the grant made in county A.
    admin_alert = s.one_alert("admin_off_hours", f"user.name={s.root_name}")
    assert s.api(a_token, "GET", f"/siem/alerts/{admin_alert['id']}").status_code == 404
    assert len(_opened(s, a_token, admin_alert, county_a)) == 1
    everything = _search(s, s.analyst_token, {"size": "1000"})
    assert "" in {e.get("organization", {}).get("path", "") for e in everything}
    mine = _search(s, a_token, {"size": "1000"})
    assert mine
    assert all(_within(county_a, e.get("organization", {}).get("path", "")) for e in mine)


def _non_holder_use(s: Live, county: str, dept: str) -> dict[str, Any]:
    """An org-admin of ``county`` applies for a seal of ``dept`` and tries to use it without
    being its holder: the registry refuses (seal_forbidden) and seal_non_holder fires."""
    suspect = s.person(county, org_admin=county)
    holder = s.person(dept, seal_user=None)
    token = console_sign_in(s, suspect["username"])["access_token"]
    applied = s.api(token, "POST", "/seals", json=application(s.nodes[dept], holder["username"]))
    assert applied.status_code == 201, applied.text
    used = s.api(
        token, "POST", f"/seals/{applied.json()['id']}/sign", content=minimal_ofd("通知"),
        headers={"Content-Type": "application/ofd"},
    )  # fmt: skip
    assert used.status_code == 403, used.text
    alert = s.one_alert("seal_non_holder", f"user.name={suspect['username']}")
    assert alert["count"] == 1
    return alert


def _opened(s: Live, token: str, alert: dict[str, Any], scope: str) -> set[str]:
    """The events ``token`` opens through the alert's evidence link, checked to be exactly
    those of the link (as the province-wide analyst opens it) that lie in ``scope``."""
    everything = _evidence(s, s.analyst_token, alert)
    assert {e["event"]["id"] for e in everything} >= set(alert["event_ids"])
    allowed = {e["event"]["id"] for e in everything if _within(scope, _path(e))}
    opened = {e["event"]["id"] for e in _evidence(s, token, alert)}
    assert opened == allowed
    return opened


def _path(event: dict[str, Any]) -> str:
    return str(event.get("organization", {}).get("path", ""))


def _within(root: str, path: str) -> bool:
    return path == root or path.startswith(root + "/")


def _search(s: Live, token: str, params: dict[str, str]) -> list[dict[str, Any]]:
    found = s.api(token, "GET", "/audit/events", params=params)
    assert found.status_code == 200, found.text
    return list(found.json()["events"])


def _evidence(s: Live, token: str, alert: dict[str, Any]) -> list[dict[str, Any]]:
    """The events behind the alert's evidence link (``links.audit_search_url``), as ``token``
    reads them; the link comes from the platform-wide reader of the alert."""
    detail = s.api(s.analyst_token, "GET", f"/siem/alerts/{alert['id']}")
    assert detail.status_code == 200, detail.text
    url = urlsplit(detail.json()["links"]["audit_search_url"])
    params = {k: v[0] for k, v in parse_qs(url.query).items()}
    return _search(s, token, params)
