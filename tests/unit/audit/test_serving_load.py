"""The shipper holds off while the serving processes are busy, within its bounds."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator

import pytest

from audit.pipeline import Shipper
from audit.recorder import Recorder
from audit.serving_load import ServingLoad
from audit.spool import Spool
from tests.unit.audit.conftest import FlakyStore, make_event


@contextlib.contextmanager
def python_running(code: str) -> Iterator[int]:
    child = subprocess.Popen([sys.executable, "-c", code])
    try:
        yield child.pid
    finally:
        child.kill()
        child.wait()


@pytest.fixture
def busy_process() -> Iterator[int]:
    with python_running("while True: pass") as pid:
        yield pid


@pytest.fixture
def idle_process() -> Iterator[int]:
    with python_running("import time; time.sleep(60)") as pid:
        yield pid


def look_twice(load: ServingLoad, pause: float = 0.3) -> bool:
    load.busy()  # the first look only takes the reading
    time.sleep(pause)
    return load.busy()


def test_a_process_using_a_cpu_is_busy_an_idle_one_is_not(
    busy_process: int, idle_process: int
) -> None:
    assert look_twice(ServingLoad(lambda: [busy_process]))
    assert not look_twice(ServingLoad(lambda: [idle_process]))
    assert not look_twice(ServingLoad(lambda: [2**22 + 12345]))  # gone: nothing to read


def test_a_load_that_began_just_now_is_busy_though_the_last_look_was_long_ago() -> None:
    """Judged over the last window, not since the previous look: a shipper that looked while
    the server was idle must not start a batch beside the load that began since."""
    with python_running("import time; time.sleep(1.0)\nwhile True: pass") as pid:
        load = ServingLoad(lambda: [pid])
        load.busy()  # idle: sleeping
        time.sleep(1.3)  # busy for the last ~0.2 s of these 1.4 s
        assert load.busy()


def test_the_callers_own_work_is_not_the_load() -> None:
    """A shipper thread in the serving process: its own CPU time is left out."""
    load = ServingLoad(lambda: [os.getpid()])
    load.busy()
    end = time.monotonic() + 0.3
    while time.monotonic() < end:  # this thread keeps a CPU busy
        pass
    assert not load.busy()


class Switch:
    def __init__(self) -> None:
        self.on = True
        self.looks = 0

    def busy(self) -> bool:
        self.looks += 1
        return self.on


def wait_for(condition: Callable[[], bool], timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def test_the_shipper_holds_off_while_busy_and_no_longer_than_its_bound(
    spool_factory: Callable[..., Spool], store: FlakyStore
) -> None:
    spool = spool_factory()
    recorder = Recorder(spool)
    load = Switch()
    started = time.monotonic()
    shipper = Shipper(spool, store, idle_wait=0.01, load=load, defer_seconds=2.0)
    shipper.start()
    try:
        recorder.record_many([make_event(i) for i in range(10)])
        assert not wait_for(lambda: store.count() > 0, 0.5)  # busy: held off
        assert load.looks > 0
        assert wait_for(lambda: store.count() == 10, 10.0)  # the bound passed: shipped anyway
        assert time.monotonic() - started >= 2.0  # not before the bound
        load.on = False
        recorder.record_many([make_event(i) for i in range(10, 15)])
        assert wait_for(lambda: store.count() == 15, 1.5)  # not busy: before the bound
    finally:
        shipper.stop()
        recorder.close()


def test_a_filling_spool_is_shipped_though_the_servers_are_busy(
    spool_factory: Callable[..., Spool], store: FlakyStore
) -> None:
    spool = spool_factory(capacity_bytes=20_000, alarm_ratio=0.5)
    recorder = Recorder(spool)
    recorder.record_many([make_event(i) for i in range(20)])
    assert spool.stats().fill_ratio >= 0.25  # half the alarm ratio
    shipper = Shipper(spool, store, idle_wait=0.01, load=Switch(), defer_seconds=60.0)
    shipper.start()
    try:
        assert wait_for(lambda: store.count() == 20, 5.0)
    finally:
        shipper.stop()
        recorder.close()


def test_a_shipper_without_a_bound_never_holds_off(
    spool_factory: Callable[..., Spool], store: FlakyStore
) -> None:
    spool = spool_factory()
    recorder = Recorder(spool)
    load = Switch()
    shipper = Shipper(spool, store, idle_wait=0.01, load=load, defer_seconds=0.0)
    shipper.start()
    try:
        recorder.record_many([make_event(i) for i in range(5)])
        assert wait_for(lambda: store.count() == 5, 2.0)
        assert load.looks == 0
    finally:
        shipper.stop()
        recorder.close()
