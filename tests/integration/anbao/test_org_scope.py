"""Issue 16 §2.1 across packages on the real stack: one org-scope authority, the live binding.

Real Keycloak (a throwaway realm with the org tree as groups, real password-grant tokens) and
real Elasticsearch for the audit trail. The people of the issue's attack: an auditor bound to
county A whose primary membership (the token's ``org_path`` claim) is the prefecture, and one
with the claim but no binding. Each test reads only what it needs; none writes what another
counts.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import secrets
from collections.abc import Iterator
from pathlib import Path

import falcon.testing
import pytest

from anbao.app import Parts, create_app
from anbao.settings import Settings
from anbao.wiring.iam import build_org_directory
from anbao.wiring.siem_alerts import SiemAlerts, build_siem_alerts
from audit.search.testing import sample_events
from audit.stores.elasticsearch import ElasticsearchAuditStore
from audit.stores.es_client import EsConnection
from iam.orgs.model import NodeKind, OrgNode, Person
from siem.alerts.model import AlertFilter
from siem.engines.loader import load_rules
from siem.engines.streaming import StreamingEngine
from siem.testing import attack_scenarios, documents, working_day
from tests.integration.anbao.stack import stack_env
from tests.integration.conftest import Server
from tests.integration.iam.orgs_realm import Realm, create_realm, delete_realm


class _KeepOpen(ElasticsearchAuditStore):
    """Falcon's test client runs the lifespan per request; the app's shutdown closes the store."""

    def close(self) -> None:
        pass


@dataclasses.dataclass
class World:
    realm: Realm
    client: falcon.testing.TestClient
    nodes: dict[str, OrgNode]
    people: dict[str, Person]
    tokens: dict[str, str]
    events: dict[str, str]  # event id -> organization.path
    siem: SiemAlerts

    def call(self, who: str, method: str, path: str, **kw: object) -> falcon.testing.Result:
        headers = {"Authorization": "Bearer " + self.tokens[who]}
        return self.client.simulate_request(method, path, headers=headers, **kw)  # type: ignore[arg-type]

    def paths_under(self, *names: str) -> set[str]:
        return {self.nodes[n].path for n in names}


def _tree(realm: Realm) -> dict[str, OrgNode]:
    province = realm.node(None, NodeKind.PROVINCE, "530000", "云南省")
    prefecture = realm.node(province, NodeKind.PREFECTURE, "530100", "昆明市")
    county_a = realm.node(prefecture, NodeKind.COUNTY, "530102", "五华区")
    return {
        "province": province,
        "prefecture": prefecture,
        "county_a": county_a,
        "township_a": realm.node(county_a, NodeKind.TOWNSHIP, "530102001", "华山街道"),
        "county_b": realm.node(prefecture, NodeKind.COUNTY, "530103", "盘龙区"),
    }


def _event_paths(nodes: dict[str, OrgNode]) -> list[str]:
    """Real node paths, and stored paths that try to pass for county A's subtree."""
    a, b = nodes["county_a"].path, nodes["county_b"].path
    return [
        *(n.path for n in nodes.values()),
        f"{a}/../530103",  # climbs to B
        f"{a}/./x",
        f"{a}//x",
        f"{a}1",  # a string prefix of A's path, a sibling in the tree
        b + "/530103001",
        "",
    ]


@pytest.fixture(scope="module")
def world(
    keycloak: Server, elasticsearch: Server, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    env = keycloak.env
    realm = create_realm(
        keycloak.url, env["KEYCLOAK_ADMIN_USERNAME"], env["KEYCLOAK_ADMIN_PASSWORD"]
    )
    store = _KeepOpen(
        EsConnection(
            elasticsearch.url,
            elasticsearch.env["ELASTICSEARCH_USERNAME"],
            elasticsearch.env["ELASTICSEARCH_PASSWORD"],
            timeout=30,
        ),
        prefix=f"anbao-org-scope-{secrets.token_hex(4)}",
        development=True,
    )
    try:
        nodes = _tree(realm)
        prefecture = nodes["prefecture"]
        people = {
            # The attack: bound to county A, primary membership (org_path claim) the prefecture.
            "a_auditor": realm.person(
                [prefecture], "auditor", "security-analyst", admin_node=nodes["county_a"]
            ),
            "unbound_auditor": realm.person([prefecture], "auditor", "security-analyst"),
            "root_auditor": realm.person(
                [nodes["province"]], "auditor", admin_node=nodes["province"]
            ),
            "b_analyst": realm.person(
                [prefecture], "security-analyst", admin_node=nodes["county_b"]
            ),
            "platform": realm.person(
                [nodes["province"]], "platform-admin", "auditor", "security-analyst"
            ),
        }
        tokens = {who: realm.token(p.username) for who, p in people.items()}
        tmp = Path(tmp_path_factory.mktemp("org-scope"))
        settings = Settings.load(stack_env(keycloak, realm, tmp))
        directory = build_org_directory(settings)
        siem = build_siem_alerts(
            settings,
            recorder=None,
            registry=None,
            clock=lambda: dt.datetime.now(dt.UTC),
            notifiers=(),
        )
        parts = Parts(org_directory=directory, audit_store=store, siem_alerts=siem)
        app = create_app(settings, parts)
        paths = _event_paths(nodes)
        now = dt.datetime.now(dt.UTC)  # relative to the clock: the store keeps recent months
        events = [
            dataclasses.replace(
                e, org_path=paths[i % len(paths)], timestamp=now - dt.timedelta(minutes=i)
            )
            for i, e in enumerate(sample_events(3 * len(paths), seed=11))
        ]
        store.write_batch(events)
        store.refresh()
        try:
            yield World(
                realm,
                falcon.testing.TestClient(app),
                nodes,
                people,
                tokens,
                {e.id: e.org_path for e in events},
                siem,
            )
        finally:
            siem.close()
            directory.admin.close()
    finally:
        store.delete_all()
        store.client.close()
        delete_realm(realm)


def _search_paths(w: World, who: str) -> dict[str, str]:
    result = w.call(who, "GET", "/audit/events", params={"size": "1000"})
    assert result.status_code == 200, result.text
    return {
        d["event"]["id"]: d.get("organization", {}).get("path", "") for d in result.json["events"]
    }


def test_audit_search_and_export_follow_the_binding(world: World) -> None:
    w = world
    inside = w.paths_under("county_a", "township_a")
    expected = {i for i, p in w.events.items() if p in inside}
    assert set(_search_paths(w, "a_auditor")) == expected
    exported = w.call("a_auditor", "GET", "/audit/export", params={"format": "ndjson"})
    assert exported.status_code == 200, exported.text
    ids = {json.loads(line)["event"]["id"] for line in exported.text.splitlines() if line}
    assert ids == expected
    # A query naming B cannot widen the scope.
    b = w.nodes["county_b"].path
    widened = w.call("a_auditor", "GET", "/audit/events", params={"q": f'organization.path:"{b}"'})
    assert widened.json["events"] == []


def test_the_claim_alone_reaches_nothing(world: World) -> None:
    refused = world.call("unbound_auditor", "GET", "/audit/events")
    assert refused.status_code == 403
    assert refused.json["type"] == "urn:anbao:problem:audit_search_forbidden"
    export = world.call("unbound_auditor", "GET", "/audit/export", params={"format": "csv"})
    assert export.status_code == 403


def test_the_platform_sees_everything(world: World) -> None:
    assert set(_search_paths(world, "platform")) == set(world.events)


def test_a_binding_revoked_now_stops_at_once(world: World) -> None:
    """The scope is read live: unbinding in the directory takes effect on the next request."""
    w = world
    person = w.realm.person([w.nodes["prefecture"]], "auditor", admin_node=w.nodes["county_a"])
    token = w.realm.token(person.username)
    headers = {"Authorization": "Bearer " + token}
    assert w.client.simulate_get("/audit/events", headers=headers).status_code == 200
    w.realm.directory.set_admin_node(person, None)
    assert w.client.simulate_get("/audit/events", headers=headers).status_code == 403


def _brute_force(w: World, victim: str, *paths: str) -> str:
    """Run the real streaming engine on a brute force whose events lie at ``paths``."""
    day = working_day(dt.datetime.now(dt.UTC))
    (brute,) = (s for s in attack_scenarios(day) if s.name == "brute force")
    events = [
        dataclasses.replace(
            e,
            id=f"{e.id}-{victim}",
            user=dataclasses.replace(e.user, name=victim),
            org_path=paths[i % len(paths)],
        )
        for i, e in enumerate(brute.events)
    ]
    engine = StreamingEngine(load_rules(), w.siem.alerts, clock=lambda: dt.datetime.now(dt.UTC))
    engine.observe(documents(events))
    found = w.siem.alerts.list(AlertFilter(entity=f"user.name={victim}"))
    (alert,) = found.alerts
    return alert.id


def test_siem_alerts_follow_the_binding(world: World) -> None:
    w = world
    a, b = w.nodes["township_a"].path, w.nodes["county_b"].path
    in_a = _brute_force(w, "victim-a", a)
    in_b = _brute_force(w, "victim-b", b)
    both = _brute_force(w, "victim-ab", a, b)  # its scope is the prefecture: neither county
    climbing = _brute_force(w, "victim-climb", f"{w.nodes['county_a'].path}/../530103")

    def listed(who: str) -> set[str]:
        page = w.call(who, "GET", "/siem/alerts", params={"limit": "500"})
        assert page.status_code == 200, page.text
        return {x["id"] for x in page.json["alerts"]}

    assert listed("a_auditor") & {in_a, in_b, both, climbing} == {in_a}
    assert listed("b_analyst") & {in_a, in_b, both, climbing} == {in_b}
    assert listed("unbound_auditor") == set()
    assert {in_a, in_b, both, climbing} <= listed("platform")
    assert w.call("a_auditor", "GET", f"/siem/alerts/{in_b}").status_code == 404
    note = w.call("a_auditor", "POST", f"/siem/alerts/{in_b}/notes", json={"text": "x"})
    assert note.status_code == 404
    assert w.call("b_analyst", "GET", f"/siem/alerts/{in_b}").json["org_path"] == b


def test_compliance_needs_a_binding_over_the_whole_tree(world: World) -> None:
    """Platform-wide evidence: bound to the province, yes; to a county or nowhere, no."""
    w = world
    assert w.call("root_auditor", "GET", "/compliance/runs").status_code == 200
    for who in ("a_auditor", "unbound_auditor"):
        refused = w.call(who, "GET", "/compliance/runs")
        assert refused.status_code == 403, (who, refused.text)
