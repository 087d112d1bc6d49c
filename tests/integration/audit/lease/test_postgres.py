"""The PostgreSQL lease on the real server: one holder per key, hand-over on release, and a lost
session is a lost lease that the fencing check (``confirm``) refuses to run on."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator

import psycopg
import pytest

from anbao.wiring.singleton import SingletonJob
from audit.lease.postgres import PostgresLease, lease_key

#: How long a test waits for something that must happen (never a verdict on speed).
LIVENESS_SECONDS = 30.0


@pytest.fixture
def name() -> str:
    return f"lease-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def leases(database: str, name: str) -> Iterator[Callable[..., PostgresLease]]:
    made: list[PostgresLease] = []

    def make(**options: object) -> PostgresLease:
        lease = PostgresLease(database, name, **options)  # type: ignore[arg-type]
        made.append(lease)
        return lease

    yield make
    for lease in made:
        lease.release()


def terminate(database: str, pid: int) -> None:
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute("SELECT pg_terminate_backend(%s)", (pid,))


def until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + LIVENESS_SECONDS
    while not condition():
        assert time.monotonic() < deadline, "the condition never came true"
        time.sleep(0.05)


def test_the_key_is_stable_and_namespaced() -> None:
    assert lease_key("keycloak-events") == lease_key("keycloak-events")
    assert lease_key("keycloak-events") != lease_key("compliance-schedule")
    assert lease_key("keycloak-events") != lease_key("keycloak-events", "other-deployment")
    assert lease_key("keycloak-events") == 6623928846429582372  # the same in every release


def test_two_leases_on_one_key_one_wins_and_release_hands_over(
    leases: Callable[..., PostgresLease],
) -> None:
    first, second = leases(), leases()
    assert first.try_acquire()
    assert not second.try_acquire()
    assert first.held
    assert not second.held
    assert first.confirm()
    assert first.try_acquire()  # held: no second lock, no round trip
    first.release()
    assert not first.held
    assert second.try_acquire()
    assert second.confirm()
    assert not first.try_acquire()


def test_a_terminated_session_loses_the_lease_and_the_fencing_check_refuses_a_run(
    leases: Callable[..., PostgresLease], database: str
) -> None:
    holder, standby = leases(heartbeat=3600), leases()
    runs: list[int] = []
    job = SingletonJob("job", lambda: runs.append(1), holder, 3600)
    assert holder.try_acquire()
    terminate(database, holder.backend_pid)
    assert holder.held  # it does not know yet ...
    assert job.tick() is None  # ... but the check before a run finds out: no run
    assert runs == []
    assert not holder.held  # the lease is dropped: a standby again
    assert standby.try_acquire()  # the server freed the lock with the session
    assert not holder.try_acquire()
    assert job.tick() is None
    assert runs == []


def test_the_heartbeat_notices_a_lost_session_between_runs(
    leases: Callable[..., PostgresLease], database: str
) -> None:
    holder = leases(heartbeat=0.1)
    assert holder.try_acquire()
    terminate(database, holder.backend_pid)
    until(lambda: not holder.held)
    assert holder.try_acquire()  # nobody else wanted it: taken back on a new session


def test_a_silent_holder_is_ended_by_the_server(leases: Callable[..., PostgresLease]) -> None:
    """A frozen holder sends no heartbeat: ``idle_session_timeout`` ends its session, which frees
    the lock, and the holder's own check then fails."""
    holder, standby = leases(heartbeat=3600, idle_timeout=1.0), leases()
    assert holder.try_acquire()
    until(standby.try_acquire)
    assert not holder.confirm()
    assert not holder.held


def test_an_unreachable_database_is_no_lease(name: str) -> None:
    lease = PostgresLease("postgresql://anbao@127.0.0.1:9/anbao", name, connect_timeout=1)
    assert not lease.try_acquire()
    assert not lease.confirm()
    lease.release()
