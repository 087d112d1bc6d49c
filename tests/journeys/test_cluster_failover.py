"""Issue 20: an Anbao node dies mid-stream; the trail loses nothing and proves itself whole.

Clients keep making audited API calls through the load balancer (``deploy/cluster/anbao.sh``:
HAProxy on 127.0.0.1:8100 in front of nodes anbao-1 and anbao-2, two workers each). First
anbao-1's shippers are killed, so what it acknowledges from then on stays in its spool, as when
a node cannot reach Elasticsearch; then the whole of anbao-1 (master, workers) is killed with
``kill -9``. The balancer goes on through anbao-2: every call succeeds, at most after one client
retry. ``anbao.sh up`` brings anbao-1 back, its spool ships, and then every acknowledged call is
in the trail exactly once (search API) and ``anbao audit verify`` passes over both nodes'
streams.

Public interfaces only: HTTP through the balancer, the ``anbao`` CLI, the cluster scripts, and
the nodes' process groups for the kills. No timed assertion: every wait is for a condition,
with a generous deadline.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.journeys.cluster import Auditor, Cluster, auditor, running, script, trace_counts

#: Generous deadlines (seconds) for conditions, never verdicts on speed.
DEADLINE = 300


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    with running() as made:
        yield made


def wait_for(what: str, condition: Callable[[], bool], deadline: float = DEADLINE) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if condition():
            return
        time.sleep(0.5)
    pytest.fail(f"{what}: not within {deadline} s")


@dataclasses.dataclass
class Stream:
    """Audited calls (``GET /whoami``) through the balancer, each with its own request id; a
    failed call is tried once more under a new id (a retry is a new request, not a resend)."""

    cluster: Cluster
    person: Auditor
    prefix: str
    acked: list[str] = dataclasses.field(default_factory=list)
    attempts_failed: list[str] = dataclasses.field(default_factory=list)
    failed: list[str] = dataclasses.field(default_factory=list)
    stop: threading.Event = dataclasses.field(default_factory=threading.Event)

    def call(self, client: httpx.Client, request_id: str) -> bool:
        try:
            response = client.get(
                "/whoami",
                headers={
                    "Authorization": f"Bearer {self.person.token()}",
                    "X-Request-ID": request_id,
                },
            )
        except httpx.TransportError:
            return False
        return response.status_code == 200

    def run(self) -> None:
        with self.cluster.client() as client:
            n = 0
            while not self.stop.is_set():
                n += 1
                first = f"{self.prefix}-{n}"
                if self.call(client, first):
                    self.acked.append(first)
                else:
                    self.attempts_failed.append(first)
                    retry = f"{first}-retry"
                    (self.acked if self.call(client, retry) else self.failed).append(retry)
                time.sleep(0.02)


def test_a_node_killed_mid_stream_loses_no_acknowledged_event(cluster: Cluster) -> None:
    started = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    person = auditor(cluster)
    stream = Stream(cluster, person, f"cj-{uuid.uuid4().hex[:10]}")
    # anbao-1 stops delivering: what it acknowledges from now on waits in its spool.
    shippers = cluster.shippers(1)
    assert shippers, "anbao-1 runs no shipper process (audit.ship_in_subprocess)"
    for pid in shippers:
        os.kill(pid, signal.SIGKILL)
    worker = threading.Thread(target=stream.run, daemon=True)
    worker.start()
    try:
        wait_for("calls through both nodes", lambda: len(stream.acked) >= 60)
        wait_for("anbao-1's spool holding events", lambda: cluster.spool_pending(1) >= 10)
        pending = cluster.spool_pending(1)
        cluster.kill(1)  # kill -9 of the master and every worker at once
        after = len(stream.acked)
        wait_for("calls after the kill", lambda: len(stream.acked) >= after + 60)
    finally:
        stream.stop.set()
        worker.join(60)
    print(  # the figures of the run, for the closing note (pytest -s)
        f"acknowledged {len(stream.acked)}, retried {len(stream.attempts_failed)}, "
        f"failed after retry {len(stream.failed)}, anbao-1 spool at the kill {pending:.0f}"
    )
    assert pending >= 10
    assert not stream.failed, f"calls failed even after a retry: {stream.failed[:5]}"
    assert script("anbao", "status").returncode != 0, "anbao-1 still answers after kill -9"

    up = script("anbao", "up")
    assert up.returncode == 0, up.stdout + up.stderr
    acked = set(stream.acked)
    with cluster.client() as client:
        counts: dict[str, int] = {}

        def all_found() -> bool:
            counts.clear()
            counts.update(trace_counts(client, person.token(), stream.prefix))
            return acked <= counts.keys()

        wait_for("every acknowledged call searchable", all_found)
    twice = {t: n for t, n in counts.items() if n != 1}
    assert not twice, f"calls recorded more than once: {dict(list(twice.items())[:5])}"
    assert counts.keys() <= acked | set(stream.attempts_failed)

    # The trail since the journey began, as each node sees it: both nodes' streams, whole.
    since = started.isoformat(timespec="seconds")
    for node in (1, 2):
        report = verified(cluster, node, since)
        streams = {s["stream"] for s in report["streams"]}
        for node_id in ("anbao-1", "anbao-2"):
            assert any(s.endswith(f".{node_id}") for s in streams), (node_id, sorted(streams))


def verified(cluster: Cluster, node: int, since: str) -> dict[str, Any]:
    """``anbao audit verify`` as ``node``: it must pass at once, on a trail still being written
    (verify refreshes the indices, so what the log names is searchable)."""
    run = cluster.cli(node, "audit", "verify", "--from", since)
    assert run.returncode == 0, run.stderr[-2000:]
    return dict(json.loads(run.stdout))
