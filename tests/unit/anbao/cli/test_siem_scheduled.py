"""``anbao siem scheduled`` on a cluster: one node of many runs the engine (the lease's holder)."""

from __future__ import annotations

from pathlib import Path

import click
import pytest

from anbao.cli.siem import _singleton
from audit.lease import FileLease


def test_once_runs_when_the_lease_is_free_and_gives_it_back(tmp_path: Path) -> None:
    runs: list[int] = []
    lease = FileLease(tmp_path / "siem-scheduled.lock")
    _singleton(lambda: runs.append(1), lease, once=True, interval=60)
    assert runs == [1]
    assert not lease.held


def test_once_is_refused_while_another_node_holds_the_lease(tmp_path: Path) -> None:
    holder = FileLease(tmp_path / "siem-scheduled.lock")
    assert holder.try_acquire()
    runs: list[int] = []
    try:
        with pytest.raises(click.ClickException, match="another node"):
            _singleton(lambda: runs.append(1), FileLease(holder.path), once=True, interval=60)
    finally:
        holder.release()
    assert runs == []
