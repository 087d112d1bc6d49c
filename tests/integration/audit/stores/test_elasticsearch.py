"""One store suite, run against SQLite and the real Elasticsearch; then Elasticsearch specifics."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from audit.errors import AuditConfigError
from audit.model import AuditEvent, Outcome, UserInfo
from audit.ports import AuditStore, RawDocument, SearchRequest
from audit.search.query.parse import parse
from audit.stores.elasticsearch import ElasticsearchAuditStore, check_retention

T0 = dt.datetime(2026, 11, 26, 8, 0, 0, tzinfo=dt.UTC)


def event(n: int, *, stream: str = "main", seq: int | None = None, **over: object) -> AuditEvent:
    fields: dict[str, object] = {
        "id": f"it-{n:06d}",
        "timestamp": T0 + dt.timedelta(seconds=n),
        "action": "seal.use",
        "outcome": Outcome.SUCCESS,
        "category": ("iam",),
        "user": UserInfo("u-1", "alice", ("auditor",)),
        "org_path": "/acme/finance",
        "source_ip": "10.0.0.7",
        "stream": stream,
        "sequence": n if seq is None else seq,
        "labels": {"env": "test"},
    }
    fields.update(over)
    return AuditEvent(**fields)  # type: ignore[arg-type]


def test_write_is_idempotent_by_event_id(audit_store: AuditStore) -> None:
    events = [event(i) for i in range(20)]
    first = audit_store.write_batch(events[:12])
    again = audit_store.write_batch(events)
    audit_store.refresh()
    assert (first.created, first.existing) == (12, 0)
    assert (again.created, again.existing) == (8, 12)
    assert audit_store.streams() == {"main": 20}


def test_get_returns_the_document_as_stored(audit_store: AuditStore) -> None:
    e = event(3)
    audit_store.write_batch([e])
    audit_store.refresh()
    assert audit_store.get(e.id) == json.loads(e.canonical_bytes())
    assert audit_store.get("it-missing") is None


def test_scan_is_ordered_by_sequence_per_stream_with_range(audit_store: AuditStore) -> None:
    audit_store.write_batch([event(i, seq=29 - i) for i in range(30)])
    audit_store.write_batch([event(100 + i, stream="iam", seq=i) for i in range(5)])
    audit_store.refresh()
    main = [d["anbao"]["sequence"] for d in audit_store.scan("main", batch_size=7)]
    assert main == list(range(30))
    part = [d["anbao"]["sequence"] for d in audit_store.scan("main", 10, 15, batch_size=2)]
    assert part == [10, 11, 12, 13, 14]
    assert [d["event"]["id"] for d in audit_store.scan("iam")] == [
        f"it-{100 + i:06d}" for i in range(5)
    ]
    assert audit_store.streams() == {"main": 30, "iam": 5}


def test_raw_documents_round_trip_byte_for_byte(audit_store: AuditStore) -> None:
    e = event(7, reason="quarterly stamp 季度用印")
    raw = RawDocument(e.id, "2026-11-26T08:00:07.000000Z", e.canonical_bytes())
    assert audit_store.write_documents([raw, raw]).created == 1
    audit_store.refresh()
    stored = audit_store.get(e.id)
    assert stored is not None
    assert (
        json.dumps(stored, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        == raw.document
    )


def test_es_indices_are_monthly_from_the_event_time(es_store: ElasticsearchAuditStore) -> None:
    es_store.write_batch(
        [event(1), event(2, timestamp=dt.datetime(2026, 1, 31, 23, 59, tzinfo=dt.UTC))]
    )
    assert es_store.indices() == [
        f"{es_store.prefix}-2026.01.01-000001",
        f"{es_store.prefix}-2026.11.01-000001",
    ]
    mapping = es_store.client.indices.get_mapping(index=es_store.indices()[0]).body
    props = next(iter(mapping.values()))["mappings"]
    assert props["dynamic"] == "strict"
    assert props["properties"]["source"]["properties"]["ip"]["type"] == "ip"


def test_es_refuses_documents_outside_the_schema_for_good(
    es_store: ElasticsearchAuditStore,
) -> None:
    good = event(1)
    bad = RawDocument(
        "it-bad",
        "2026-11-26T08:00:00.000000Z",
        b'{"@timestamp":"2026-11-26T08:00:00.000000Z","surprise":1}',
    )
    result = es_store.write_documents(
        [RawDocument(good.id, "2026-11-26T08:00:01.000000Z", good.canonical_bytes()), bad]
    )
    assert result.created == 1
    assert result.rejected == (("it-bad", "strict_dynamic_mapping_exception"),)


def test_es_retention_deletes_whole_expired_months_only(es_store: ElasticsearchAuditStore) -> None:
    assert not es_store.ilm_available()  # integ-test-zip: no x-pack-ilm, Anbao enforces retention
    es_store.retention_days = 180
    old = dt.datetime(2025, 4, 15, tzinfo=dt.UTC)
    edge = dt.datetime(2025, 5, 31, 23, 0, tzinfo=dt.UTC)
    es_store.write_batch([event(1, timestamp=old), event(2, timestamp=edge), event(3)])
    now = dt.datetime(2025, 11, 27, tzinfo=dt.UTC)  # 180 days back is 2025-05-31: May may stay
    assert es_store.enforce_retention(now) == [f"{es_store.prefix}-2025.04.01-000001"]
    assert len(es_store.indices()) == 2
    assert es_store.enforce_retention(now) == []
    later = now + dt.timedelta(days=1)  # now every May event is older than 180 days
    assert es_store.enforce_retention(later) == [f"{es_store.prefix}-2025.05.01-000001"]


def test_retention_under_six_months_is_refused_outside_development() -> None:
    with pytest.raises(AuditConfigError):
        check_retention(179, development=False)
    check_retention(179, development=True)
    check_retention(180, development=False)


def test_port_search_gives_the_same_results_on_both_stores(audit_store: AuditStore) -> None:
    audit_store.write_batch(
        [
            event(
                i,
                action="seal.use" if i % 2 else "user.login",
                reason="special case" if i == 5 else "plain case",
            )
            for i in range(12)
        ]
    )
    audit_store.refresh()
    page = audit_store.search(
        SearchRequest(
            query=parse('event.action:seal.use AND NOT event.reason:"special case"'),
            sort=(("anbao.sequence", "asc"),),
            size=4,
        )
    )
    assert page.total == 5
    assert [d["anbao"]["sequence"] for d in page.documents] == [1, 3, 7, 9]
    rest = audit_store.search(
        SearchRequest(
            query=parse('event.action:seal.use AND NOT event.reason:"special case"'),
            sort=(("anbao.sequence", "asc"),),
            size=4,
            search_after=page.search_after,
        )
    )
    assert [d["anbao"]["sequence"] for d in rest.documents] == [11]
