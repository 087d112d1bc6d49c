"""Several processes opening the same new SQLite-backed file at the same moment, many times.

Spawned processes (not forked from the test run's threads) wait at a barrier before each round,
so their opens meet in SQLite's locking as the workers of one server do at start-up.
"""

from __future__ import annotations

import importlib
import multiprocessing
from collections.abc import Sequence
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any


def _opener(target: str) -> Any:
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


def _open_rounds(target: str, paths: Sequence[str], barrier: Barrier, failures: Any) -> None:
    opener = _opener(target)
    for path in paths:
        barrier.wait(60)
        try:
            opened = opener(path)
        except Exception as exc:  # noqa: BLE001 - every failure is what the test reports
            cause = exc.__cause__ or exc
            failures.put(f"{type(exc).__name__}: {exc} ({type(cause).__name__}: {cause})")
        else:
            close = getattr(opened, "close", None)
            if close is not None:
                close()


def open_at_once(target: str, folder: Path, *, processes: int = 4, rounds: int = 12) -> list[str]:
    """Open ``rounds`` new files, each by ``processes`` processes at once, with ``target``
    (``"module:callable"``, called with the file's path); the failures, as text."""
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(processes)
    failures = ctx.Queue()
    paths = [str(folder / f"round{n}" / "data.sqlite3") for n in range(rounds)]
    workers = [
        ctx.Process(target=_open_rounds, args=(target, paths, barrier, failures))
        for _ in range(processes)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
    found = []
    while not failures.empty():
        found.append(failures.get())
    found += [f"worker exit code {w.exitcode}" for w in workers if w.exitcode != 0]
    return found
