"""The alert store contract: one suite, run against every adapter (memory, SQLite, Elasticsearch).

Subclasses provide a ``store`` fixture (a fresh, empty store).
"""

from __future__ import annotations

import datetime as dt
import threading

import pytest

from siem.alerts.errors import AlertVersionConflict, InvalidTransition
from siem.alerts.model import MAX_EVENT_IDS, AlertFilter, AlertStatus, CloseReason
from siem.alerts.ports import AlertStore
from siem.alerts.service import AlertService, Change
from siem.model import Engine, Severity
from tests.unit.siem.support import T0, Clock, detection


def service(store: AlertStore, window: float = 600) -> AlertService:
    return AlertService(store, clock=Clock(), window=dt.timedelta(seconds=window))


class AlertStoreContract:
    def test_org_scope_filter_is_segment_wise(self, store: AlertStore) -> None:
        """Issue 16 §2.1: a reader's live scope filters alerts like audit searches."""
        svc = service(store)
        paths = ("/gov/finance", "/gov/finance/tax", "/gov/financex", "/gov/health", "")
        made = {}
        for i, path in enumerate(paths):
            alert = svc.ingest(detection(user=f"u{i}", org_path=path))
            assert alert is not None
            made[path] = alert.id

        def ids(scope: str) -> set[str]:
            return {a.id for a in store.search(AlertFilter(org_scope=scope, limit=50)).alerts}

        assert ids("/gov/finance") == {made["/gov/finance"], made["/gov/finance/tax"]}
        assert ids("/gov/finance/") == ids("/gov/finance")
        assert ids("/gov") == {made[p] for p in paths if p}
        assert ids("/") == set(made.values())
        assert ids("") == set()
        assert store.search(AlertFilter(org_scope="/gov/finance")).total == 2

    def test_create_get_roundtrip(self, store: AlertStore) -> None:
        d = detection()
        created = service(store).ingest(d)
        assert created is not None
        got = store.get(d.key)
        assert got is not None
        assert got.version == created.version
        assert got.evolve(version="") == created.evolve(version="")
        assert got.entity == (("user.name", "alice"),)
        assert got.event_ids == d.event_ids
        assert store.get("nope") is None

    def test_create_twice_conflicts(self, store: AlertStore) -> None:
        alert = service(store).ingest(detection())
        assert alert is not None
        with pytest.raises(AlertVersionConflict):
            store.create(alert.evolve(version=""))

    def test_grouping_counts_and_bounds_event_ids(self, store: AlertStore) -> None:
        svc = service(store, window=600)
        first = svc.ingest(detection(events=60))
        second = svc.ingest(detection(at=T0 + dt.timedelta(seconds=300), events=60))
        assert first is not None
        assert second is not None
        assert second.id == first.id
        stored = store.get(first.id)
        assert stored is not None
        assert (stored.count, stored.event_count) == (2, 120)
        assert len(stored.event_ids) == MAX_EVENT_IDS
        assert stored.last_event_time == T0 + dt.timedelta(seconds=360)

    def test_outside_window_or_other_entity_opens_new_alert(self, store: AlertStore) -> None:
        svc = service(store, window=60)
        a = svc.ingest(detection())
        b = svc.ingest(detection(at=T0 + dt.timedelta(hours=1)))
        c = svc.ingest(detection(user="bob"))
        assert a is not None
        assert b is not None
        assert c is not None
        assert len({a.id, b.id, c.id}) == 3
        assert store.search(AlertFilter()).total == 3

    def test_same_detection_from_both_engines_counts_once(self, store: AlertStore) -> None:
        svc = service(store)
        d = detection()
        assert svc.ingest(d) is not None
        again = detection(event_ids=d.event_ids, engine=Engine.SCHEDULED)
        assert again.key == d.key
        assert svc.ingest(again) is None
        later = detection(at=T0 + dt.timedelta(seconds=30))
        svc.ingest(later)
        assert svc.ingest(later) is None
        stored = store.get(d.key)
        assert stored is not None
        assert stored.count == 2

    def test_closed_alert_is_not_extended(self, store: AlertStore) -> None:
        svc = service(store)
        a = svc.ingest(detection())
        assert a is not None
        svc.update(a.id, "ana", Change(AlertStatus.CLOSED, CloseReason.TRUE_POSITIVE))
        b = svc.ingest(detection(at=T0 + dt.timedelta(seconds=10)))
        assert b is not None
        assert b.id != a.id
        assert b.status is AlertStatus.OPEN

    def test_stale_version_is_refused(self, store: AlertStore) -> None:
        a = service(store).ingest(detection())
        assert a is not None
        store.replace(a.evolve(assignee="ana"))
        with pytest.raises(AlertVersionConflict):
            store.replace(a.evolve(assignee="bo"))
        current = store.get(a.id)
        assert current is not None
        assert current.assignee == "ana"

    def test_concurrent_triage_loses_no_write(self, store: AlertStore) -> None:
        svc = service(store)
        a = svc.ingest(detection())
        assert a is not None
        authors = [f"analyst-{i}" for i in range(6)]
        threads = [
            threading.Thread(target=svc.add_note, args=(a.id, who, f"seen by {who}"))
            for who in authors
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        stored = store.get(a.id)
        assert stored is not None
        assert sorted(n.author for n in stored.notes) == authors

    def test_life_cycle(self, store: AlertStore) -> None:
        svc = service(store)
        a = svc.ingest(detection())
        assert a is not None
        assert a.triaged_at is None
        svc._clock.advance(120)  # type: ignore[attr-defined]
        acked = svc.update(a.id, "ana", Change(AlertStatus.ACKNOWLEDGED, assignee="ana"))
        assert (acked.status, acked.assignee) == (AlertStatus.ACKNOWLEDGED, "ana")
        assert acked.triaged_at == T0 + dt.timedelta(seconds=120)
        closed = svc.update(a.id, "ana", Change(AlertStatus.CLOSED, CloseReason.FALSE_POSITIVE))
        assert closed.close_reason is CloseReason.FALSE_POSITIVE
        with pytest.raises(InvalidTransition):
            svc.update(a.id, "ana", Change(AlertStatus.ACKNOWLEDGED))
        reopened = svc.update(a.id, "ana", Change(AlertStatus.OPEN))
        assert reopened.close_reason is None
        stored = store.get(a.id)
        assert stored is not None
        assert stored.status is AlertStatus.OPEN
        assert stored.triaged_at == T0 + dt.timedelta(seconds=120)

    def test_filters(self, store: AlertStore) -> None:
        svc = service(store, window=1)
        a = svc.ingest(detection(user="alice", severity=Severity.HIGH))
        b = svc.ingest(
            detection(
                rule_id="r-spray",
                entity=(("source.ip", "10.0.0.9"),),
                at=T0 + dt.timedelta(hours=1),
                severity=Severity.MEDIUM,
            )
        )
        c = svc.ingest(
            detection(user="bob", at=T0 + dt.timedelta(hours=2), severity=Severity.CRITICAL)
        )
        assert a is not None
        assert b is not None
        assert c is not None
        svc.update(c.id, "ana", Change(AlertStatus.ACKNOWLEDGED, assignee="ana", tags=("vip",)))

        def ids(**kw: object) -> list[str]:
            return [x.id for x in store.search(AlertFilter(**kw)).alerts]  # type: ignore[arg-type]

        assert ids() == [c.id, b.id, a.id]
        assert ids(statuses=(AlertStatus.OPEN,)) == [b.id, a.id]
        assert ids(severities=(Severity.HIGH, Severity.CRITICAL)) == [c.id, a.id]
        assert ids(rule_id="r-spray") == [b.id]
        assert ids(assignee="ana") == [c.id]
        assert ids(tag="vip") == [c.id]
        assert ids(entity="source.ip=10.0.0.9") == [b.id]
        assert ids(entity="bob") == [c.id]
        assert ids(entity="user.name=10.0.0.9") == []
        assert ids(since=T0 + dt.timedelta(minutes=30), until=T0 + dt.timedelta(minutes=90)) == [
            b.id
        ]
        page = store.search(AlertFilter(limit=1, offset=1))
        assert ([x.id for x in page.alerts], page.total) == ([b.id], 3)
