"""The pipeline into the real Elasticsearch: several processes recording through one spool."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

from audit.recording.recorder import Recorder
from audit.recording.shipper import Shipper
from audit.recording.spool import Spool, SpoolConfig
from audit.stores.elasticsearch import ElasticsearchAuditStore
from tests.integration.audit.conftest import es_store_for
from tests.integration.conftest import Server


def _worker(spool_path: str, server: Server, prefix: str, count: int, out: str) -> None:
    """One 'worker process': records ``count`` events and runs its own shipper thread."""
    spool = Spool(SpoolConfig(path=Path(spool_path)))
    store = es_store_for(server, prefix=prefix)
    recorder = Recorder(spool)
    shipper = Shipper(spool, store, idle_wait=0.05)
    shipper.start()
    ids = [recorder.record("seal.use", "success", category=("iam",)).id for _ in range(count)]
    Path(out).write_text("\n".join(ids))
    shipper.stop()
    recorder.close()
    spool.close()
    store.close()


def test_several_processes_each_event_exactly_once(
    elasticsearch: Server, es_store: ElasticsearchAuditStore, tmp_path: Path
) -> None:
    spool_path = tmp_path / "spool.sqlite3"
    ctx = multiprocessing.get_context("spawn")
    procs = [
        ctx.Process(
            target=_worker,
            args=(str(spool_path), elasticsearch, es_store.prefix, 250, str(tmp_path / f"ids{i}")),
        )
        for i in range(4)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    acked = [line for i in range(4) for line in (tmp_path / f"ids{i}").read_text().split("\n")]
    spool = Spool(SpoolConfig(path=spool_path))
    last = Shipper(spool, es_store)
    assert last.drain(timeout=60)  # whatever the last worker's shipper left
    last.unlock()
    es_store.refresh()
    docs = list(es_store.scan("main", batch_size=500))
    assert sorted(d["event"]["id"] for d in docs) == sorted(acked)
    assert [d["anbao"]["sequence"] for d in docs] == list(range(1000))
    spool.close()
