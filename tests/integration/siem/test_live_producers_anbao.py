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

import contextlib
import dataclasses
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from crypto.seals.format.testing import minimal_ofd
from siem.engines.loader import load_rules
from tests.integration.anbao.serving import serve, state_env
from tests.integration.anbao.stack import served_realm_env
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
    analyst_refresh: str = ""

    @property
    def analyst_token(self) -> str:
        """The province-wide analyst's access token, fresh from the refresh token (the module
        may outlast one access token on a slow machine)."""
        data = {"grant_type": "refresh_token", "client_id": CONSOLE}
        answer = httpx.post(
            self.oidc("token"), data=data | {"refresh_token": self.analyst_refresh}, timeout=30
        )
        assert answer.status_code == 200, answer.text
        self.analyst_refresh = answer.json()["refresh_token"]
        return str(answer.json()["access_token"])

    def alerts(self, rule: str, entity: str = "", *, base: str = "") -> list[dict[str, Any]]:
        """Alerts of ``rule`` (on ``entity``) in the analyst's scope, once there is one."""
        params = {"rule": RULES[f"anbao_{rule}"], "limit": "100"} | (
            {"entity": entity} if entity else {}
        )
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
    return served_realm_env(keycloak, realm, state, database) | {
        "ANBAO_SIEM_WORKING_HOURS": "tz=+00:00;start=0;end=0;days=1,2,3,4,5,6,7",
        "ANBAO_AUDIT_INTEGRITY_HEAD_EVERY_SECONDS": "1",
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
            s.analyst_refresh = console_sign_in(s, s.analyst["username"])["refresh_token"]
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
    # analyst may not open the alert, and its link opens only the admin's acts in county A
    # (the grant of their scope: its role and scope events), never the rest of the alert's.
    admin_alert = s.one_alert("admin_off_hours", f"user.name={s.root_name}")
    assert s.api(a_token, "GET", f"/siem/alerts/{admin_alert['id']}").status_code == 404
    in_county = _opened(s, a_token, admin_alert, county_a)
    assert in_county
    assert in_county < {e["event"]["id"] for e in _evidence(s, s.analyst_token, admin_alert)}
    everything = _search(s, s.analyst_token, {"size": "1000"})
    assert "" in {e.get("organization", {}).get("path", "") for e in everything}
    mine = _search(s, a_token, {"size": "1000"})
    assert mine
    assert all(_within(county_a, e.get("organization", {}).get("path", "")) for e in mine)
    listed = s.api(a_token, "GET", "/siem/alerts", params={"limit": "500"}).json()["alerts"]
    assert alert_a["id"] in {x["id"] for x in listed}
    assert all(_within(county_a, x["org_path"]) for x in listed)  # none without an org


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


# -- §7: Anbao's API and the audit trail -------------------------------------------------------


def test_api_probing(live: Live) -> None:
    """Twenty requests with a forged token from one address within a minute."""
    s = live
    for _ in range(20):
        refused = s.api("forged.token.value", "GET", "/audit/events")
        assert refused.status_code == 401
    alert = s.one_alert("api_probing", "source.ip=127.0.0.1")
    assert alert["event_count"] >= 20


def test_mass_audit_export(live: Live) -> None:
    s = live
    auditor = s.person("province", auditor="province")
    token = console_sign_in(s, auditor["username"])["access_token"]
    for _ in range(5):
        exported = s.api(token, "GET", "/audit/export", params={"format": "ndjson"})
        assert exported.status_code == 200, exported.text
    alert = s.one_alert("mass_audit_export", f"user.name={auditor['username']}")
    assert alert["count"] == 1


def test_mass_pii_reveal_and_a_refused_reveal(live: Live) -> None:
    s = live
    analyst = s.person("province")
    bound = s.api(s.root(), "PUT", f"/siem/analysts/{analyst['id']}", json={"province_wide": True})
    assert bound.status_code == 200, bound.text
    assert bound.json()["whole_tree"] is True
    # Without step-up the reveal is refused (401 with the RFC 9470 challenge) and recorded.
    plain = console_sign_in(s, analyst["username"])["access_token"]
    some = _search(s, plain, {"size": "10"})
    assert len(some) == 10
    body = {"reason": "investigation 17"}
    refused = s.api(plain, "POST", f"/audit/events/{some[0]['event']['id']}/reveal", json=body)
    assert refused.status_code == 401, refused.text
    alert = s.one_alert("pii_reveal_refused", f"user.name={analyst['username']}")
    assert alert["count"] == 1
    # Stepped up (password + OTP at Keycloak's form), ten reveals in a row.
    strong = _stepped_up(s, analyst["username"])
    for event in some:
        shown = s.api(strong, "POST", f"/audit/events/{event['event']['id']}/reveal", json=body)
        assert shown.status_code == 200, shown.text
    alert = s.one_alert("mass_pii_reveal", f"user.name={analyst['username']}")
    assert alert["count"] == 1


def test_audit_verify_failed(live: Live) -> None:
    """``anbao audit verify`` on a store where one event was changed behind the platform."""
    s = live
    signed = s.operator_cli("audit", "sign-heads")
    assert signed.returncode == 0, signed.stderr
    with sqlite3.connect(s.state / "audit.sqlite3") as db:
        (event_id, doc) = db.execute(
            "SELECT event_id, doc FROM events WHERE stream = 'main' ORDER BY seq LIMIT 1"
        ).fetchone()
        db.execute(
            "UPDATE events SET doc = ? WHERE event_id = ?",
            (doc.replace('"success"', '"failure"', 1), event_id),
        )
    verified = s.operator_cli("audit", "verify")
    assert verified.returncode == 1, verified.stdout + verified.stderr
    assert "TAMPERING" in verified.stderr
    alert = s.one_alert("audit_verify_failed")
    assert alert["severity"] == "critical"
    events = _evidence(s, s.analyst_token, alert)
    assert [e["event"]["outcome"] for e in events] == ["failure"]
    assert events[0]["labels"]["findings_modified"] == "1"


class Outage:
    """A TCP forwarder to Elasticsearch on a port of its own; ``cut()`` closes it for good, so
    the server's store is a port nothing listens on any more (the shared server keeps running).
    """

    def __init__(self, target: str) -> None:
        url = urlsplit(target)
        self._target = (url.hostname or "127.0.0.1", url.port or 9200)
        self._server = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._server.getsockname()[1]}"
        self._open: list[socket.socket] = []
        self._cut = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            if self._cut:
                client.close()
                return
            upstream = socket.create_connection(self._target)
            self._open += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    def cut(self) -> None:
        self._cut = True
        with contextlib.suppress(OSError):  # wakes the blocked accept (Linux), then frees the port
            self._server.shutdown(socket.SHUT_RDWR)
        self._server.close()
        for sock in self._open:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


def test_audit_spool_alarm_and_shipping_stopped(
    live: Live, elasticsearch: Server, tmp_path: Path
) -> None:
    """A server whose Elasticsearch goes away: delivery stalls, the spool fills past its alarm
    ratio, and both self-events raise their alerts at once (they cannot wait for the store)."""
    s = live
    outage = Outage(elasticsearch.url)
    prefix = unique("anbao-outage")
    env = (
        s.env
        | state_env(tmp_path)
        | {
            "ANBAO_DATA_DIR": str(tmp_path),
            "ANBAO_SIEM_ALERT_SQLITE_PATH": str(tmp_path / "alerts.sqlite3"),
            "ANBAO_AUDIT_STORE": "elasticsearch",
            "ANBAO_AUDIT_INDEX_PREFIX": prefix,
            "ANBAO_ELASTICSEARCH_URL": outage.url,
            "ANBAO_ELASTICSEARCH_USERNAME": elasticsearch.env["ELASTICSEARCH_USERNAME"],
            "ANBAO_ELASTICSEARCH_PASSWORD": elasticsearch.env["ELASTICSEARCH_PASSWORD"],
            "ANBAO_AUDIT_SHIPPING_STALL_SECONDS": "1",
            "ANBAO_AUDIT_SPOOL_CAPACITY_BYTES": str(1 << 20),
            "ANBAO_AUDIT_SPOOL_ALARM_RATIO": "0.02",
            "ANBAO_SEALS_ENABLED": "false",
        }
    )
    try:
        with serve(tmp_path, env) as (base, _log):
            outage.cut()
            for _ in range(100):  # refused requests: audited by the middleware, into the spool
                httpx.get(base + "/whoami", timeout=30)
            stopped = s.one_alert("audit_shipping_stopped", base=base)
            assert stopped["severity"] == "high"
            alarm = s.one_alert("audit_spool_alarm", base=base)
            assert alarm["count"] == 1
            assert len(s.alerts("audit_shipping_stopped", base=base)) == 1
    finally:
        outage.cut()
        auth = (
            elasticsearch.env["ELASTICSEARCH_USERNAME"],
            elasticsearch.env["ELASTICSEARCH_PASSWORD"],
        )
        httpx.delete(f"{elasticsearch.url}/{prefix}-*", auth=auth, timeout=30)


# -- §7: the seal registry ---------------------------------------------------------------------


@dataclasses.dataclass
class ActiveSeal:
    id: str
    holder: dict[str, Any]
    holder_token: str  # stepped up
    admin_token: str  # seal-admin


def _active_seal(s: Live, dept: str = "dept_a", county: str = "county_a") -> ActiveSeal:
    """Applied by an org-admin, approved and made by a seal-admin, activated; the holder signed
    in with OTP (step-up, acr 2)."""
    applicant = s.person(county, org_admin=county)
    seal_admin = s.person("province", seal_admin=None)
    holder = s.person(dept, seal_user=None)
    app_token = console_sign_in(s, applicant["username"])["access_token"]
    admin_token = _stepped_up(s, seal_admin["username"])
    applied = s.api(
        app_token, "POST", "/seals", json=application(s.nodes[dept], holder["username"])
    )
    assert applied.status_code == 201, applied.text
    seal = applied.json()["id"]
    for step in ("approve", "make", "activate"):
        moved = s.api(admin_token, "POST", f"/seals/{seal}/{step}")
        assert moved.status_code == 200, (step, moved.text)
    return ActiveSeal(seal, holder, _stepped_up(s, holder["username"]), admin_token)


def _sign(s: Live, token: str, seal: str) -> httpx.Response:
    return s.api(
        token, "POST", f"/seals/{seal}/sign", content=minimal_ofd("通知"),
        headers={"Content-Type": "application/ofd"},
    )  # fmt: skip


def test_seal_outside_validity(live: Live) -> None:
    s = live
    seal = _active_seal(s)
    suspended = s.api(seal.admin_token, "POST", f"/seals/{seal.id}/suspend")
    assert suspended.status_code == 200, suspended.text
    refused = _sign(s, seal.holder_token, seal.id)
    assert refused.status_code == 409, refused.text
    alert = s.one_alert("seal_outside_validity", f"user.name={seal.holder['username']}")
    assert alert["count"] == 1


def test_seal_used_after_revocation(live: Live) -> None:
    """An org-admin of another county tries to revoke the seal (refused, recorded); within the
    hour the holder still signs with it."""
    s = live
    seal = _active_seal(s)
    outsider = s.person("county_b", org_admin="county_b")
    token = console_sign_in(s, outsider["username"])["access_token"]
    attempt = s.api(token, "POST", f"/seals/{seal.id}/revoke", json={"reason": "key_compromise"})
    assert attempt.status_code == 404, attempt.text
    signed = _sign(s, seal.holder_token, seal.id)
    assert signed.status_code == 200, signed.text
    alert = s.one_alert("seal_used_after_revocation", f"resource.id={seal.id}")
    assert alert["severity"] == "critical"


def test_seal_self_approval(live: Live) -> None:
    s = live
    both = s.person("county_a", org_admin="county_a", seal_admin=None)
    token = _stepped_up(s, both["username"])
    holder = s.person("dept_a", seal_user=None)
    applied = s.api(
        token, "POST", "/seals", json=application(s.nodes["dept_a"], holder["username"])
    )
    assert applied.status_code == 201, applied.text
    approved = s.api(token, "POST", f"/seals/{applied.json()['id']}/approve")
    assert approved.status_code == 403, approved.text
    alert = s.one_alert("seal_self_approval", f"user.name={both['username']}")
    assert alert["count"] == 1
