"""/siem/alerts and /siem/actions through create_app (local token issuer, in-memory services)."""

from __future__ import annotations

import datetime as dt
import itertools
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import falcon.testing
import pytest

from anbao.app import Parts, create_app
from anbao.settings import Settings
from anbao.wiring.siem_alerts import SiemAlerts
from audit.search.query.parse import parse
from iam.orgs.testing import InMemoryOrgDirectory
from iam.tokens.testing import LocalIssuer
from iam.tokens.verifier import TokenVerifier
from siem.alerts.service import AlertRecords, AlertService, BackgroundHooks
from siem.alerts.testing import MemoryAlertStore
from siem.model import ResponseAction, ResponseKind
from siem.responses.service import ResponseService
from siem.responses.testing import FakeIdentity, ListAudit, MemoryActionStore
from tests.unit.anbao.conftest import FakeAuditStore, problem
from tests.unit.siem.support import Clock, detection

ANALYST, ADMIN = "security-analyst", "platform-admin"


class Api:
    def __init__(self, tmp_path: Path) -> None:
        self.issuer = LocalIssuer(issuer="http://127.0.0.1:8080/realms/anbao")
        self.clock = Clock()
        store = MemoryAlertStore()
        self.identity = FakeIdentity({"alice": (True, 1)})
        self.audit = ListAudit()
        ids = itertools.count(1)
        self.responses = ResponseService(
            MemoryActionStore(),
            identity=self.identity,
            seals=None,
            audit=self.audit,
            clock=self.clock,
            new_id=lambda: f"act{next(ids)}",
            alerts=AlertRecords(store, clock=self.clock).get,
        )
        self.hooks = BackgroundHooks([self.responses.plan])
        self.alerts = AlertService(
            store, clock=self.clock, window=dt.timedelta(minutes=10), on_new=self.hooks
        )
        settings = Settings.load(
            {
                "ANBAO_KEYCLOAK_REQUIRED": "false",
                "ANBAO_SERVER_ACCESS_LOG": "false",
                "ANBAO_AUDIT_INTEGRITY_LOG_PATH": str(tmp_path / "integrity.sqlite3"),
                "ANBAO_AUDIT_INTEGRITY_SIGNING_KEY_FILE": str(tmp_path / "sth.pem"),
                "ANBAO_AUDIT_SQLITE_PATH": str(tmp_path / "audit.sqlite3"),
                "ANBAO_SIEM_PUBLIC_URL": "https://anbao.example",
            }
        )
        verifier = TokenVerifier(
            issuer=self.issuer.issuer, audience="anbao-api", jwks=self.issuer, clock=time.time
        )
        self.directory = InMemoryOrgDirectory()
        parts = Parts(
            verifier=verifier,
            audit_store=FakeAuditStore(),
            siem_alerts=SiemAlerts(self.alerts, self.responses, self.hooks),
            introspection=self.issuer.introspection(),
            org_directory=self.directory,
        )
        self.client = falcon.testing.TestClient(create_app(settings, parts))

    def call(
        self,
        user: str,
        roles: tuple[str, ...],
        method: str,
        path: str,
        *,
        bound: str = "/",
        **kw: Any,
    ) -> falcon.testing.Result:
        """As ``user``, bound to ``bound`` in the live directory (``/``: platform-wide)."""
        self.directory.bind(f"sub-{user}", bound, *roles)
        token = self.issuer.token(
            time.time(),
            sub=f"sub-{user}",
            preferred_username=user,
            realm_access={"roles": list(roles)},
        )
        headers = {"Authorization": f"Bearer {token}", **kw.pop("headers", {})}
        return self.client.simulate_request(method, path, headers=headers, **kw)

    def analyst(
        self, method: str, path: str, user: str = "ana", **kw: Any
    ) -> falcon.testing.Result:
        return self.call(user, (ANALYST,), method, path, **kw)


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    a = Api(tmp_path)
    yield a
    a.hooks.close()


def test_list_show_and_links(api: Api) -> None:
    d = detection()
    alert = api.alerts.ingest(d)
    assert alert is not None
    listed = api.analyst(
        "GET", "/siem/alerts", params={"status": "open", "severity": "high,critical"}
    )
    assert listed.status_code == 200
    assert listed.json["total"] == 1
    assert listed.json["alerts"][0]["id"] == alert.id
    shown = api.analyst("GET", f"/siem/alerts/{alert.id}")
    assert shown.status_code == 200
    body = shown.json
    assert shown.headers["etag"] == f'"{body["version"]}"'
    links = body["links"]
    assert links["event_ids"] == list(d.event_ids)
    assert links["event_ids_complete"] is True
    query = parse_qs(urlsplit(links["audit_search_url"]).query)
    assert links["audit_search_url"].startswith("https://anbao.example/audit/events?")
    assert query["q"] == [links["audit_query"]]
    assert parse(links["audit_query"]) is not None
    assert all(i in links["audit_query"] for i in d.event_ids)
    assert "detection_keys" not in body


def test_triage_patch_note_and_version_pinning(api: Api) -> None:
    alert = api.alerts.ingest(detection())
    assert alert is not None
    path = f"/siem/alerts/{alert.id}"
    etag = api.analyst("GET", path).headers["etag"]
    acked = api.analyst(
        "PATCH",
        path,
        json={"status": "acknowledged", "assignee": "ana", "tags": ["vip"]},
        headers={"If-Match": etag},
    )
    assert acked.status_code == 200
    assert (acked.json["status"], acked.json["assignee"], acked.json["tags"]) == (
        "acknowledged",
        "ana",
        ["vip"],
    )
    stale = api.analyst("PATCH", path, json={"assignee": "bo"}, headers={"If-Match": etag})
    assert problem(stale)["type"] == "urn:anbao:problem:alert_version_conflict"
    assert stale.status_code == 409
    no_reason = api.analyst("PATCH", path, json={"status": "closed"})
    assert no_reason.status_code == 400
    assert problem(no_reason)["field"] == "reason"
    bad = api.analyst("PATCH", path, json={"status": "reopened"})
    assert bad.status_code == 400
    unknown = api.analyst("PATCH", path, json={"severity": "low"})
    assert problem(unknown)["field"] == "severity"
    note = api.analyst("POST", f"{path}/notes", json={"text": "Checked with the user."})
    assert note.status_code == 201
    assert note.json["notes"][0]["author"] == "ana"
    closed = api.analyst("PATCH", path, json={"status": "closed", "reason": "false_positive"})
    assert (closed.json["status"], closed.json["close_reason"]) == ("closed", "false_positive")
    back = api.analyst("PATCH", path, json={"status": "acknowledged"})
    assert back.status_code == 409
    assert api.analyst("GET", "/siem/alerts/nope").status_code == 404


def test_roles(api: Api) -> None:
    alert = api.alerts.ingest(detection())
    assert alert is not None
    assert api.call("dev", ("developer",), "GET", "/siem/alerts").status_code == 403
    assert (
        api.call(
            "root", (ADMIN,), "PATCH", f"/siem/alerts/{alert.id}", json={"assignee": "x"}
        ).status_code
        == 403
    )
    assert api.client.simulate_get("/siem/alerts").status_code == 401


def test_filters_are_validated(api: Api) -> None:
    assert (
        problem(api.analyst("GET", "/siem/alerts", params={"severity": "huge"}))["field"]
        == "severity"
    )
    assert (
        problem(api.analyst("GET", "/siem/alerts", params={"since": "yesterday"}))["field"]
        == "since"
    )
    assert api.analyst("GET", "/siem/alerts", params={"limit": "100000"}).status_code == 400


def test_rule_actions_wait_for_a_second_person(api: Api) -> None:
    d = detection(responses=(ResponseAction(ResponseKind.DISABLE_USER),))
    alert = api.alerts.ingest(d)
    assert alert is not None
    api.hooks.drain()
    (pending,) = api.analyst("GET", "/siem/actions", params={"state": "pending"}).json["actions"]
    assert pending["target"] == "alice"
    shown = api.analyst("GET", f"/siem/alerts/{alert.id}").json
    assert [a["id"] for a in shown["actions"]] == [pending["id"]]
    approved = api.call("root", (ADMIN,), "POST", f"/siem/actions/{pending['id']}/approve")
    assert approved.status_code == 200
    assert (approved.json["state"], approved.json["decided_by"]) == ("executed", "root")
    assert api.identity.users["alice"] == (False, 1)


def test_manual_request_self_approval_and_reject(api: Api) -> None:
    alert = api.alerts.ingest(detection())
    assert alert is not None
    made = api.analyst("POST", "/siem/actions", json={"alert_id": alert.id, "kind": "end_sessions"})
    assert made.status_code == 201
    action_id = made.json["id"]
    own = api.analyst("POST", f"/siem/actions/{action_id}/approve")
    assert own.status_code == 403
    assert problem(own)["type"] == "urn:anbao:problem:response_self_approval"
    assert (
        api.call("dev", ("developer",), "POST", f"/siem/actions/{action_id}/approve").status_code
        == 403
    )
    rejected = api.analyst(
        "POST",
        f"/siem/actions/{action_id}/reject",
        user="bo",
        json={"reason": "user on leave, checked"},
    )
    assert rejected.json["state"] == "rejected"
    assert api.analyst("POST", f"/siem/actions/{action_id}/approve", user="cy").status_code == 409
    assert api.identity.users["alice"] == (True, 1)
    assert (
        api.analyst(
            "POST", "/siem/actions", json={"alert_id": alert.id, "kind": "explode"}
        ).status_code
        == 400
    )
    assert api.analyst("POST", "/siem/actions/zzz/approve", user="bo").status_code == 404


def test_openapi_documents_the_routes(api: Api) -> None:
    doc = api.client.simulate_get("/openapi.json").json
    for path in (
        "/siem/alerts",
        "/siem/alerts/{alert_id}",
        "/siem/alerts/{alert_id}/notes",
        "/siem/actions",
        "/siem/actions/{action_id}/approve",
        "/siem/actions/{action_id}/reject",
    ):
        assert path in doc["paths"]


def test_parts_survive_a_lifespan_per_request(tmp_path: Path) -> None:
    """Test clients run the ASGI lifespan around each request: stores and hooks reopen."""
    from anbao.wiring.audit import spool_config
    from anbao.wiring.siem_alerts import build_siem_alerts
    from audit.recording.recorder import Recorder
    from audit.recording.spool import Spool

    issuer = LocalIssuer(issuer="http://127.0.0.1:8080/realms/anbao")
    settings = Settings.load(
        {
            "ANBAO_KEYCLOAK_REQUIRED": "false",
            "ANBAO_SERVER_ACCESS_LOG": "false",
            "ANBAO_AUDIT_INTEGRITY_LOG_PATH": str(tmp_path / "integrity.sqlite3"),
            "ANBAO_AUDIT_INTEGRITY_SIGNING_KEY_FILE": str(tmp_path / "sth.pem"),
            "ANBAO_AUDIT_SQLITE_PATH": str(tmp_path / "audit.sqlite3"),
            "ANBAO_SIEM_ALERT_SQLITE_PATH": str(tmp_path / "siem.sqlite3"),
            "ANBAO_AUDIT_SPOOL_PATH": str(tmp_path / "spool.sqlite3"),
        }
    )
    clock = Clock()
    spool = Spool(spool_config(settings))
    recorder = Recorder(spool)
    built = build_siem_alerts(
        settings,
        recorder=recorder,
        registry=None,
        clock=clock,
        identity=FakeIdentity({"alice": (True, 0)}),
        notifiers=(),
    )
    verifier = TokenVerifier(
        issuer=issuer.issuer, audience="anbao-api", jwks=issuer, clock=time.time
    )
    directory = InMemoryOrgDirectory()
    directory.bind("sub-ana", "/", ANALYST)
    parts = Parts(
        verifier=verifier,
        audit_store=FakeAuditStore(),
        siem_alerts=built,
        org_directory=directory,
    )
    client = falcon.testing.TestClient(create_app(settings, parts))
    token = issuer.token(
        time.time(), sub="sub-ana", preferred_username="ana", realm_access={"roles": [ANALYST]}
    )
    for _ in range(2):
        assert (
            client.simulate_get(
                "/siem/alerts", headers={"Authorization": f"Bearer {token}"}
            ).status_code
            == 200
        )
    d = detection(responses=(ResponseAction(ResponseKind.DISABLE_USER),))
    built.alerts.emit([d])
    built.hooks.drain()
    listed = client.simulate_get("/siem/actions", headers={"Authorization": f"Bearer {token}"})
    assert [a["state"] for a in listed.json["actions"]] == ["pending"]
    assert [r.event_id for r in spool.peek(10)] != []
    recorder.close()
    spool.close()


def test_alerts_are_scoped_by_the_live_binding(api: Api) -> None:
    """Issue 16 §2.1: an analyst bound to /gov/finance sees and touches finance alerts only."""
    mine = api.alerts.ingest(detection(user="u-fin", org_path="/gov/finance/tax"))
    theirs = api.alerts.ingest(detection(user="u-hea", org_path="/gov/health"))
    lookalike = api.alerts.ingest(detection(user="u-fx", org_path="/gov/financex"))
    nowhere = api.alerts.ingest(detection(user="u-none"))
    assert None not in (mine, theirs, lookalike, nowhere)

    def as_fin(method: str, path: str, **kw: Any) -> falcon.testing.Result:
        return api.call("fin", (ANALYST,), method, path, bound="/gov/finance", **kw)

    listed = as_fin("GET", "/siem/alerts").json
    assert [a["id"] for a in listed["alerts"]] == [mine.id]
    assert listed["total"] == 1
    for other in (theirs, lookalike, nowhere):
        assert as_fin("GET", f"/siem/alerts/{other.id}").status_code == 404
        patched = as_fin("PATCH", f"/siem/alerts/{other.id}", json={"status": "acknowledged"})
        assert patched.status_code == 404
        noted = as_fin("POST", f"/siem/alerts/{other.id}/notes", json={"text": "x"})
        assert noted.status_code == 404
        asked = as_fin("POST", "/siem/actions", json={"alert_id": other.id, "kind": "disable_user"})
        assert asked.status_code == 404
    assert as_fin("GET", f"/siem/alerts/{mine.id}").status_code == 200
    everyone = api.analyst("GET", "/siem/alerts").json
    assert everyone["total"] == 4
    unbound = api.call("nob", (ANALYST,), "GET", "/siem/alerts", bound="")
    assert unbound.json["total"] == 0
    requested = api.analyst(
        "POST", "/siem/actions", json={"alert_id": theirs.id, "kind": "disable_user"}
    )
    assert requested.status_code == 201, requested.text
    action = requested.json["id"]
    refused = api.call(
        "fin2", (ANALYST,), "POST", f"/siem/actions/{action}/approve", bound="/gov/finance"
    )
    assert refused.status_code == 404
    assert action not in {a["id"] for a in as_fin("GET", "/siem/actions").json["actions"]}
