"""Scripted attacks through the real pipeline: API and ``audit.record`` producers -> spool ->
shipper -> Elasticsearch, with the streaming engine on the shipper's delivery and the scheduled
engine querying Elasticsearch; both feed one alert service on Elasticsearch.

Done when (issue 7): every scenario raises its alert once, a benign baseline of >= 10,000 events
raises none, and both engines agree on the same event set.
"""

from __future__ import annotations

import collections
import concurrent.futures
import datetime as dt
import secrets
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import falcon.testing
import pytest

from anbao.app import Parts, create_app
from anbao.settings import Settings
from anbao.wiring.audit import AuditRuntime, build_audit_runtime
from audit.stores.elasticsearch import ElasticsearchAuditStore
from audit.stores.es_client import EsConnection
from iam.tokens.testing import LocalIssuer
from iam.tokens.verifier import TokenVerifier
from siem.alerts.elasticsearch import ElasticsearchAlertStore
from siem.alerts.model import AlertFilter
from siem.alerts.service import AlertService
from siem.engines.elasticsearch import ElasticsearchEventSource
from siem.engines.loader import RuleSet, load_rules
from siem.engines.scheduled import ScheduledEngine
from siem.engines.streaming import StreamingEngine
from siem.model import Detection, Engine
from siem.testing import DAY_LENGTH, ListSink, attack_scenarios, timeline, working_day
from tests.integration.conftest import Server

PROBE_IP = "192.0.2.50"
RETENTION_DAYS = 7


class _KeepOpen(ElasticsearchAuditStore):
    """Falcon's test client runs the lifespan per request; the app's shutdown closes the store."""

    def close(self) -> None:
        pass


class Tee:
    """Hands every detection to several sinks (the test's record and the alert service)."""

    def __init__(self, *sinks: ListSink | AlertService) -> None:
        self.sinks = sinks

    def emit(self, detections: Sequence[Detection]) -> None:
        for sink in self.sinks:
            sink.emit(detections)


@pytest.fixture(scope="module")
def world(elasticsearch: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:  # type: ignore[type-arg]
    tmp: Path = tmp_path_factory.mktemp("siem-e2e")
    prefix = f"itest-siem-{secrets.token_hex(5)}"
    store = _KeepOpen(
        EsConnection(
            elasticsearch.url,
            elasticsearch.env["ELASTICSEARCH_USERNAME"],
            elasticsearch.env["ELASTICSEARCH_PASSWORD"],
            timeout=30.0,
        ),
        prefix=prefix,
        development=True,
        # the scripted day is at most four days old (working_day); its month's index is kept
        retention_days=RETENTION_DAYS,
    )
    alerts_store = ElasticsearchAlertStore(
        EsConnection(
            elasticsearch.url,
            elasticsearch.env["ELASTICSEARCH_USERNAME"],
            elasticsearch.env["ELASTICSEARCH_PASSWORD"],
            timeout=30.0,
        ),
        index=f"{prefix}-alerts",
    )
    settings = Settings.load(
        {
            "ANBAO_ENVIRONMENT": "development",
            "ANBAO_KEYCLOAK_REQUIRED": "false",
            "ANBAO_AUDIT_RECORD_REQUESTS": "true",
            # this test registers its own streaming engine (to compare both engines' detections)
            "ANBAO_SIEM_STREAMING": "false",
            "ANBAO_SIEM_ALERT_SQLITE_PATH": str(tmp / "alerts.sqlite3"),
            "ANBAO_AUDIT_SQLITE_PATH": str(tmp / "audit.sqlite3"),
            "ANBAO_AUDIT_SPOOL_PATH": str(tmp / "spool.sqlite3"),
            "ANBAO_AUDIT_INTEGRITY_LOG_PATH": str(tmp / "integrity.sqlite3"),
            "ANBAO_AUDIT_INTEGRITY_SIGNING_KEY_FILE": str(tmp / "sth.pem"),
            "ANBAO_AUDIT_INTEGRITY_FIELD_KEYRING_FILE": str(tmp / "keyring.json"),
        }
    )
    runtime = build_audit_runtime(settings, store)
    issuer = LocalIssuer(issuer="http://127.0.0.1:8080/realms/anbao")
    verifier = TokenVerifier(
        issuer=issuer.issuer, audience="anbao-api", jwks=issuer, clock=time.time
    )
    app = create_app(settings, Parts(verifier=verifier, audit_store=store, audit_runtime=runtime))
    try:
        yield {
            "store": store,
            "alerts": alerts_store,
            "runtime": runtime,
            "app": app,
            "start": working_day(dt.datetime.now(dt.UTC)),  # relative to the engines' clock
        }
    finally:
        runtime.stop()
        alerts_store.drop()
        alerts_store.close()
        store.delete_all()
        store.client.close()


def record_all(runtime: AuditRuntime, events: Sequence[object]) -> None:
    """``audit.record`` as the producers call it, many at once (group commit in the recorder)."""
    futures = [runtime.recorder.submit(e) for e in events]  # type: ignore[arg-type]
    concurrent.futures.wait(futures, timeout=300)
    for future in futures:
        future.result()


def probe_through_the_api(app: object, count: int) -> None:
    """Unauthenticated calls to a protected route: the audit middleware records each 401."""
    client = falcon.testing.TestClient(app)
    for i in range(count):
        response = client.simulate_get(f"/audit/events/{i}/proof", remote_addr=PROBE_IP)
        assert response.status_code == 401


def names(ruleset: RuleSet, rule_ids: Sequence[str]) -> collections.Counter[str]:
    by_id = {r.id: r.name for r in ruleset.rules}
    return collections.Counter(by_id[r] for r in rule_ids)


def test_scenarios_raise_one_alert_each_and_the_engines_agree(world: dict) -> None:  # type: ignore[type-arg]
    ruleset = load_rules()
    store, runtime = world["store"], world["runtime"]
    alert_service = AlertService(
        world["alerts"], clock=lambda: dt.datetime.now(dt.UTC), window=dt.timedelta(minutes=30)
    )
    streamed, scheduled = ListSink(), ListSink()
    streaming = StreamingEngine(
        ruleset, Tee(streamed, alert_service), clock=lambda: dt.datetime.now(dt.UTC)
    )
    runtime.shipper.add_observer(streaming)

    start = world["start"]
    scenarios, events = timeline(start, n=10_000)
    probe = next(s for s in scenarios if s.name == "probing")
    record_all(runtime, [e for e in events if e not in probe.events])
    probe_through_the_api(world["app"], len(probe.events))
    # Falcon's test client ran the app's lifespan per request, and its shutdown closed the
    # integrity log the app hooked on the shipper; tamper evidence is not under test here.
    runtime.shipper.on_stored = None
    assert runtime.shipper.drain(timeout=300)
    store.refresh()
    assert streaming.events >= 10_000 + sum(len(s.events) for s in scenarios)

    clock = [start]
    engine = ScheduledEngine(
        ruleset,
        ElasticsearchEventSource(store.client, index=store.pattern),
        Tee(scheduled, alert_service),
        clock=lambda: clock[0],
        lookback=dt.timedelta(minutes=30),
        overlap=dt.timedelta(minutes=5),
        lag=dt.timedelta(seconds=0),
    )
    # Scheduled every 20 minutes over the scripted day, then once more now (the API probes).
    end = start + DAY_LENGTH
    while clock[0] <= end:
        engine.run_once()
        clock[0] += dt.timedelta(minutes=20)
    engine.lookback = dt.datetime.now(dt.UTC) - end + dt.timedelta(minutes=10)
    clock[0] = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)
    engine.run_once()
    assert engine.run_once() == []  # nothing new: nothing raised twice

    expected = collections.Counter(n for s in scenarios for n in s.expected)
    assert names(ruleset, [d.rule_id for d in streamed.detections]) == expected
    assert names(ruleset, [d.rule_id for d in scheduled.detections]) == expected
    assert sorted(d.key for d in streamed.detections) == sorted(d.key for d in scheduled.detections)

    page = world["alerts"].search(AlertFilter(limit=500))
    assert page.total == sum(expected.values())
    assert names(ruleset, [a.rule_id for a in page.alerts]) == expected
    for alert in page.alerts:  # the second engine's identical detection folded in: same key
        assert alert.count == 1
        assert set(alert.engines) <= {Engine.STREAMING, Engine.SCHEDULED}
    probing = next(a for a in page.alerts if a.entity == (("source.ip", PROBE_IP),))
    assert probing.event_count == 20


def test_scheduled_command_runs_the_pack_on_the_store(
    world: dict,  # type: ignore[type-arg]
    tmp_path: Path,
    elasticsearch: Server,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``anbao siem scheduled --once`` over the same store: one window, every scenario again."""
    from click.testing import CliRunner

    from anbao.cli import main

    env = {
        "ANBAO_ENVIRONMENT": "development",
        "ANBAO_AUDIT_STORE": "elasticsearch",
        "ANBAO_AUDIT_INDEX_PREFIX": world["store"].prefix,
        "ANBAO_AUDIT_RETENTION_DAYS": str(RETENTION_DAYS),
        "ANBAO_ELASTICSEARCH_URL": elasticsearch.url,
        "ANBAO_ELASTICSEARCH_USERNAME": elasticsearch.env["ELASTICSEARCH_USERNAME"],
        "ANBAO_ELASTICSEARCH_PASSWORD": elasticsearch.env["ELASTICSEARCH_PASSWORD"],
        "ANBAO_SIEM_ALERT_SQLITE_PATH": str(tmp_path / "alerts.sqlite3"),
        "ANBAO_SIEM_RESPONSES_ENABLED": "false",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    lookback = str((dt.datetime.now(dt.UTC) - world["start"]).total_seconds() + 3600)
    runner = CliRunner()
    first = runner.invoke(
        main, ["siem", "scheduled", "--once", "--lookback", lookback, "--lag", "0"]
    )
    assert first.exit_code == 0, first.output
    total = sum(len(s.expected) for s in attack_scenarios(world["start"]))
    assert f" {total} detection(s)" in first.output
    again = runner.invoke(
        main, ["siem", "scheduled", "--once", "--lookback", lookback, "--lag", "0"]
    )
    assert again.exit_code == 0, again.output
    assert " 0 detection(s)" in again.output  # resumed from the checkpoint: nothing twice
    assert (tmp_path / "siem-scheduled.json").exists()
