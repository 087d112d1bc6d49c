"""The audit trail the console bench searches: N events in Elasticsearch, kept between runs.

Loading a million events takes minutes, so the index is kept: its prefix names the event count
(``bench-console-1000000``) and a rerun reuses it when the month the events fall in holds exactly
that many (anything else: the prefix is dropped and loaded again). The events are
:func:`audit.search.testing.sample_events` (every field the query language reaches, dated in
November 2026), loaded by bench/audit_search.py's loader and merged to one segment, as there.
Indices of other months (the server's own records of the bench's requests, written while it
runs) are dropped before each run so every run searches the same data.

    python -m bench.console_audit [--events N]     # load (or check) the index, print its state
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time
from typing import Any

from anbao.wiring.search import ensure_search_mappings
from audit.stores.elasticsearch import ElasticsearchAuditStore, index_for
from audit.stores.es_client import EsConnection
from bench.audit_ingest import es_env
from bench.audit_search import _load as load_events

#: The month :func:`audit.search.testing.sample_events` spreads its events over.
MONTH_START = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
MONTH_END = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
_LOADING = {"index": {"refresh_interval": "-1", "translog": {"durability": "async"}}}
_SERVING = {"index": {"refresh_interval": None, "translog": {"durability": None}}}


def prefix_for(events: int) -> str:
    return f"bench-console-{events}"


def server_env(events: int) -> dict[str, str]:
    """``anbao serve``'s settings for this audit trail (``deploy/local/elasticsearch.sh env``)."""
    es = es_env()
    return {
        "ANBAO_AUDIT_STORE": "elasticsearch",
        "ANBAO_AUDIT_INDEX_PREFIX": prefix_for(events),
        "ANBAO_ELASTICSEARCH_URL": es["ELASTICSEARCH_URL"],
        "ANBAO_ELASTICSEARCH_USERNAME": es["ELASTICSEARCH_USERNAME"],
        "ANBAO_ELASTICSEARCH_PASSWORD": es["ELASTICSEARCH_PASSWORD"],
    }


def open_store(events: int) -> ElasticsearchAuditStore:
    es = es_env()
    connection = EsConnection(
        es["ELASTICSEARCH_URL"],
        es["ELASTICSEARCH_USERNAME"],
        es["ELASTICSEARCH_PASSWORD"],
        timeout=600.0,
    )
    return ElasticsearchAuditStore(connection, prefix=prefix_for(events), development=True)


def loaded_index(events: int) -> str:
    return index_for(prefix_for(events), MONTH_START.isoformat())


def _count(store: ElasticsearchAuditStore, index: str) -> int:
    if not store.client.indices.exists(index=index):
        return -1
    store.client.indices.refresh(index=index)
    return int(store.client.count(index=index).body["count"])


def ensure_loaded(events: int) -> dict[str, Any]:
    """The index holds exactly ``events`` sample events (loaded now unless it did already)."""
    store = open_store(events)
    try:
        index = loaded_index(events)
        for other in store.indices():
            if other != index:  # the server's own records from an earlier run
                store.client.indices.delete(index=other)
        found = _count(store, index)
        if found == events:
            return {"index": index, "events": events, "loaded_now": False}
        store.delete_all()
        ensure_search_mappings(store)
        # Bulk loading settings for the load only (restored after): no refresh, async translog.
        store.client.indices.create(index=index)
        store.client.indices.put_settings(index=index, settings=_LOADING)
        seconds = load_events(store, events)
        store.client.indices.put_settings(index=index, settings=_SERVING)
        started = time.perf_counter()
        store.client.indices.forcemerge(index=index, max_num_segments=1)
        merged = time.perf_counter() - started
        found = _count(store, index)
        if found != events:
            raise RuntimeError(f"{index} holds {found} events after loading {events}")
        return {
            "index": index,
            "events": events,
            "loaded_now": True,
            "load_seconds": round(seconds, 1),
            "forcemerge_seconds": round(merged, 1),
        }
    finally:
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    args = parser.parse_args()
    print(json.dumps(ensure_loaded(args.events), indent=2))


if __name__ == "__main__":
    main()
