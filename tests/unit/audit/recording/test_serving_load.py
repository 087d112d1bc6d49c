"""The shipper holds off while the serving processes are busy, within its bounds.

The judgement is tested on given CPU readings and a stepped clock (a test on this machine's
real CPU would judge the machine's load, not the code); one test reads a real process's CPU
time, counting what the process spent rather than timing it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable

from audit.recording.recorder import Recorder
from audit.recording.serving_load import ServingLoad, cpu_seconds
from audit.recording.shipper import Shipper
from audit.recording.spool import Spool
from tests.unit.audit.conftest import FlakyStore, make_event
from tests.unit.clocks import SteppedClock, eventually

_BURN = """
import sys, time
while time.process_time() < 0.2:
    pass
print(time.process_time(), flush=True)
sys.stdin.read()
"""


def test_the_cpu_time_of_a_process_is_read_from_proc() -> None:
    with subprocess.Popen(
        [sys.executable, "-c", _BURN], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    ) as child:
        assert child.stdout is not None
        spent = float(child.stdout.readline())  # the child has spent 0.2 s of CPU or more
        used = cpu_seconds(child.pid)
        child.kill()
    assert used is not None
    assert used >= spent - 2 / os.sysconf("SC_CLK_TCK")  # whole clock ticks
    assert cpu_seconds(child.pid) is None  # gone: nothing to read


class Machine:
    """Processes spending CPU at given rates (CPU seconds per second) on a stepped clock."""

    def __init__(self) -> None:
        self.clock = SteppedClock()
        self.rates: dict[int, Callable[[float], float]] = {}
        self.own_thread: Callable[[float], float] = lambda _t: 0.0

    def process(self, pid: int) -> float | None:
        rate = self.rates.get(pid)
        return None if rate is None else rate(self.clock.now)

    def load(self, *pids: int) -> ServingLoad:
        return ServingLoad(
            lambda: pids,
            monotonic=self.clock,
            sleep=self.clock.sleep,
            process_cpu=self.process,
            thread_cpu=lambda: self.own_thread(self.clock.now),
        )


def test_a_process_using_half_a_cpu_or_more_is_busy() -> None:
    machine = Machine()
    for pid, rate in {11: 1.0, 12: 0.6, 13: 0.4, 14: 0.0}.items():
        machine.rates[pid] = lambda t, rate=rate: rate * t  # type: ignore[misc]
    assert machine.load(11).busy()
    assert machine.load(12).busy()
    assert not machine.load(13).busy()
    assert not machine.load(14).busy()
    assert not machine.load(15).busy()  # gone: nothing to read
    assert machine.load(14, 12).busy()  # any one busy process is enough


def test_a_load_that_began_just_now_is_busy_though_the_last_look_was_long_ago() -> None:
    """Judged over the last window, not since the previous look: a shipper that looked while
    the server was idle must not start a batch beside the load that began since."""
    machine = Machine()
    machine.rates[21] = lambda t: max(0.0, t - 1.0)  # idle, then a whole CPU from t = 1.0
    load = machine.load(21)
    assert not load.busy()
    machine.clock.advance(1.3)  # busy for the last 0.4 s of these 1.4 s (under a third)
    assert load.busy()


def test_the_callers_own_work_is_not_the_load() -> None:
    """A shipper thread in the serving process: its own CPU time is left out."""
    machine = Machine()
    machine.rates[os.getpid()] = lambda t: t  # the process keeps a CPU busy...
    machine.own_thread = lambda t: t  # ...and all of it is the calling thread's
    assert not machine.load(os.getpid()).busy()
    machine.own_thread = lambda _t: 0.0  # another thread's: the serving load
    assert machine.load(os.getpid()).busy()


class Switch:
    def __init__(self) -> None:
        self.on = True
        self.looks = 0

    def busy(self) -> bool:
        self.looks += 1
        return self.on


def test_the_shipper_holds_off_while_busy_and_no_longer_than_its_bound(
    spool_factory: Callable[..., Spool], store: FlakyStore
) -> None:
    spool = spool_factory()
    recorder = Recorder(spool)
    load, clock = Switch(), SteppedClock()
    shipper = Shipper(spool, store, idle_wait=0.01, load=load, defer_seconds=2.0, monotonic=clock)
    shipper.start()
    try:
        recorder.record_many([make_event(i) for i in range(10)])
        for step in (0.0, 1.99):  # busy, before the bound: it looks again and holds off
            clock.advance(step)
            looks = load.looks
            assert eventually(lambda looks=looks: load.looks >= looks + 3)  # type: ignore[misc]
            assert store.count() == 0
        clock.advance(0.01)
        assert eventually(lambda: store.count() == 10)  # the bound passed: shipped anyway
        load.on = False
        recorder.record_many([make_event(i) for i in range(10, 15)])
        assert eventually(lambda: store.count() == 15)  # not busy: the clock stands still
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
    load = Switch()
    shipper = Shipper(
        spool, store, idle_wait=0.01, load=load, defer_seconds=60.0, monotonic=SteppedClock()
    )
    shipper.start()
    try:
        assert eventually(lambda: store.count() == 20)  # the clock stands still: not the bound
        assert load.looks > 0
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
        assert eventually(lambda: store.count() == 5)
        assert load.looks == 0
    finally:
        shipper.stop()
        recorder.close()
