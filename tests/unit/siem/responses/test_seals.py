"""suspend_seal through the composition root's adapter on a real seal registry (SQLite)."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from anbao.wiring.siem_alerts import RegistrySealResponder
from crypto.seals.registry.model import SealState
from siem.alerts.errors import ResponseTargetNotFound
from siem.alerts.service import AlertService
from siem.alerts.testing import MemoryAlertStore
from siem.model import ResponseAction, ResponseKind
from siem.responses.model import ActionState
from siem.responses.service import ResponseService
from siem.responses.testing import ListAudit, MemoryActionStore
from tests.unit.crypto.seals.registry.conftest import World, world  # noqa: F401 - fixture
from tests.unit.crypto.seals.registry.test_lifecycle import made
from tests.unit.siem.support import Clock, detection


def test_approved_action_suspends_the_seal_in_the_registry(world: World) -> None:  # noqa: F811
    seal = made(world)
    assert seal.state is SealState.ACTIVE
    clock = Clock()
    alerts = AlertService(MemoryAlertStore(), clock=clock, window=dt.timedelta(minutes=10))
    ids = itertools.count(1)
    responses = ResponseService(
        MemoryActionStore(),
        identity=None,
        seals=RegistrySealResponder(world.registry),
        audit=ListAudit(),
        clock=clock,
        new_id=lambda: f"a{next(ids)}",
        alerts=alerts.get,
    )
    d = detection(
        entity=(("user.name", "bob"), ("resource.id", seal.id)),
        responses=(ResponseAction(ResponseKind.SUSPEND_SEAL, target="resource.id"),),
    )
    alert = alerts.ingest(d)
    assert alert is not None
    (action,) = responses.plan(alert, d)
    assert world.registry.service.show(world.seal_admin, seal.id).state is SealState.ACTIVE
    done = responses.approve(action.id, "analyst-2")
    assert (done.state, done.result) == (ActionState.EXECUTED, "seal suspended")
    assert world.registry.service.show(world.seal_admin, seal.id).state is SealState.SUSPENDED
    assert ("seal.suspend", "success") in world.audit.actions()


def test_unknown_seal(world: World) -> None:  # noqa: F811
    with pytest.raises(ResponseTargetNotFound):
        RegistrySealResponder(world.registry).suspend_seal("no-such-seal")
