"""Singleton jobs: started by the ASGI lifespan only, run by one worker of a deployment (the
holder of the job's lease), and taken over by another when the holder goes."""

from __future__ import annotations

import asyncio
import dataclasses
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from anbao.app import Parts, create_app
from anbao.settings import ClusterSettings, Secret, Settings
from anbao.web.asgi_app import AsgiApp
from anbao.wiring.singleton import (
    CLUSTER_RETRY_SECONDS,
    RETRY_SECONDS,
    SingletonJob,
    file_lease,
    job_lease,
    standby_retry,
)
from audit.lease import FileLease
from audit.lease.postgres import PostgresLease
from iam.tokens.testing import LocalIssuer
from iam.tokens.verifier import TokenVerifier
from policies.testing import good_realm
from tests.unit.anbao.conftest import FakeAuditStore
from tests.unit.anbao.lifespan import Lifespan

#: How long a test waits for something that must happen (never a verdict on speed).
LIVENESS_SECONDS = 60.0
ISSUER = LocalIssuer(issuer="http://127.0.0.1:8080/realms/anbao")


class CountingRealm:
    """The realm facts of one app: each scheduled compliance run inspects them once."""

    def __init__(self) -> None:
        self.runs = 0

    def inspect(self) -> Any:
        self.runs += 1
        return good_realm()


def _settings(tmp: Path) -> Settings:
    return Settings.load({
        "ANBAO_DATA_DIR": str(tmp),
        "ANBAO_KEYCLOAK_REQUIRED": "false",
        "ANBAO_SERVER_ACCESS_LOG": "false",
        "ANBAO_COMPLIANCE_SCHEDULE_HOURS": str(0.2 / 3600),  # every 0.2 s
    })  # fmt: skip


def _app(settings: Settings, realm: CountingRealm) -> AsgiApp:
    verifier = TokenVerifier(issuer=ISSUER.issuer, audience="anbao-api", jwks=ISSUER,
                             clock=time.time)  # fmt: skip
    parts = Parts(verifier=verifier, audit_store=FakeAuditStore(),  # type: ignore[arg-type]
                  compliance_realm=realm, introspection=ISSUER.introspection())  # fmt: skip
    return create_app(settings, parts)


async def _until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + LIVENESS_SECONDS
    while not condition():
        assert time.monotonic() < deadline, "the condition never came true"
        await asyncio.sleep(0.05)


def _schedule_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "compliance-schedule" and t.is_alive()]


def test_building_the_app_starts_no_schedule(tmp_path: Path) -> None:
    _app(_settings(tmp_path), CountingRealm())
    assert _schedule_threads() == []


def test_two_workers_on_one_deployment_run_the_schedule_in_exactly_one_and_it_moves(
    tmp_path: Path,
) -> None:
    settings = _settings(tmp_path)
    realms = CountingRealm(), CountingRealm()
    workers = [Lifespan(_app(settings, realm)) for realm in realms]

    async def scenario() -> None:
        for worker in workers:
            await worker.startup()
        await _until(lambda: realms[0].runs + realms[1].runs >= 3)
        holder = 0 if realms[0].runs else 1
        standby = 1 - holder
        assert realms[standby].runs == 0  # one worker runs the schedule, not both
        await workers[holder].shutdown()  # the holder goes: its lease is free
        stopped_at = realms[holder].runs
        await _until(lambda: realms[standby].runs >= 2)
        assert realms[holder].runs == stopped_at
        await workers[standby].shutdown()

    asyncio.run(scenario())
    assert _schedule_threads() == []


def test_a_standby_takes_the_job_over_when_the_holders_process_is_killed(tmp_path: Path) -> None:
    """The lease is an ``flock``: the kernel frees it when its holder dies, however it dies."""
    lease = file_lease(tmp_path / "spool", "job")
    holder = subprocess.Popen(  # another worker of the deployment, holding the job's lease
        [sys.executable, "-c", _HOLD, str(lease.path)], stdout=subprocess.PIPE, text=True
    )
    runs: list[int] = []
    standby = SingletonJob("job", lambda: runs.append(1), lease, 0.05)
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        assert standby.tick() is None  # no lease, no run
        standby.start()
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        deadline = time.monotonic() + LIVENESS_SECONDS
        while not runs:
            assert time.monotonic() < deadline, "the job never moved to the standby"
            time.sleep(0.02)
        assert standby.lease.held
    finally:
        standby.stop()
        holder.kill()
        holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()


_HOLD = """
import sys, time
from pathlib import Path
from audit.lease import FileLease
assert FileLease(Path(sys.argv[1])).try_acquire()
print("held", flush=True)
time.sleep(3600)
"""


def test_a_failing_job_keeps_its_schedule(tmp_path: Path) -> None:
    calls: list[int] = []

    def boom() -> None:
        calls.append(1)
        raise RuntimeError("a bug in one run")

    job = SingletonJob("job", boom, file_lease(tmp_path / "s", "j"), 0.05)
    job.start()
    try:
        deadline = time.monotonic() + LIVENESS_SECONDS
        while len(calls) < 2:
            assert time.monotonic() < deadline
            time.sleep(0.02)
    finally:
        job.stop()


class ScriptedLease:
    """A lease whose election is scripted: free from ``free_at`` (monotonic), confirmed or not."""

    def __init__(self, *, free_at: float = 0.0, confirms: bool = True) -> None:
        self.free_at, self.confirms = free_at, confirms
        self.held = False
        self.taken_at: list[float] = []
        self.checks = 0

    def try_acquire(self) -> bool:
        if not self.held and time.monotonic() >= self.free_at:
            self.held = True
            self.taken_at.append(time.monotonic())
        return self.held

    def confirm(self) -> bool:
        self.checks += 1
        self.held = self.held and self.confirms
        return self.held

    def release(self) -> None:
        self.held = False


def test_a_new_holder_runs_first_one_interval_after_it_takes_the_lease() -> None:
    """Even when the interval is shorter than the standby retry: no repeat of a run the dead
    holder may just have made."""
    lease = ScriptedLease(free_at=time.monotonic() + 0.3)
    started: list[float] = []
    job = SingletonJob("job", lambda: started.append(time.monotonic()), lease, 0.2, retry=0.05)
    job.start()
    try:
        deadline = time.monotonic() + LIVENESS_SECONDS
        while not started:
            assert time.monotonic() < deadline
            time.sleep(0.02)
    finally:
        job.stop()
    assert started[0] - lease.taken_at[0] >= 0.2


def test_a_lease_that_cannot_be_confirmed_runs_nothing() -> None:
    lease = ScriptedLease(confirms=False)
    runs: list[int] = []
    job = SingletonJob("job", lambda: runs.append(1), lease, 0.02)
    job.start()
    try:
        deadline = time.monotonic() + LIVENESS_SECONDS
        while lease.checks < 3:
            assert time.monotonic() < deadline
            time.sleep(0.02)
    finally:
        job.stop()
    assert runs == []
    assert len(lease.taken_at) >= 3  # dropped at each failed check, taken again as a standby
    assert job.tick() is None


def test_one_election_mechanism_per_mode(tmp_path: Path) -> None:
    """One machine: a lock file beside the spool (retry 30 s); clustered: PostgreSQL (retry 10 s,
    so a dead holder's job moves within 15 + 10 s). Building a lease opens no connection."""
    single = _settings(tmp_path)
    lease = job_lease(single, "compliance-schedule")
    assert isinstance(lease, FileLease)
    assert lease.path == Path(single.audit.spool_path).with_name(
        Path(single.audit.spool_path).name + ".compliance-schedule.lock"
    )
    assert standby_retry(lease) == RETRY_SECONDS
    url = Secret("postgresql://anbao@127.0.0.1:9/anbao")
    clustered = dataclasses.replace(single, cluster=ClusterSettings("node-a", url))
    lease = job_lease(clustered, "compliance-schedule")
    assert isinstance(lease, PostgresLease)
    assert not lease.held
    assert standby_retry(lease) == CLUSTER_RETRY_SECONDS
