"""Response actions: planning from the rule, four-eyes approval, execution, audit of every step."""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path

import pytest

from siem.alerts.errors import ActionStateConflict, InvalidAlertInput, SelfApproval
from siem.alerts.service import AlertService
from siem.alerts.testing import MemoryAlertStore
from siem.model import ResponseAction, ResponseKind
from siem.responses.model import SYSTEM_ACTOR, ActionFilter, ActionState
from siem.responses.ports import ActionStore
from siem.responses.service import ResponseService
from siem.responses.sqlite import SqliteActionStore
from siem.responses.testing import FakeIdentity, FakeSeals, ListAudit, MemoryActionStore
from tests.unit.siem.support import Clock, detection

DISABLE = ResponseAction(ResponseKind.DISABLE_USER)
END = ResponseAction(ResponseKind.END_SESSIONS, approval=False)
SEAL = ResponseAction(ResponseKind.SUSPEND_SEAL, target="resource.id")


class World:
    def __init__(self, store: ActionStore) -> None:
        self.clock = Clock()
        self.alerts = AlertService(
            MemoryAlertStore(), clock=self.clock, window=dt.timedelta(minutes=10)
        )
        self.identity = FakeIdentity({"alice": (True, 2), "bob": (True, 1)})
        self.seals = FakeSeals()
        self.audit = ListAudit()
        ids = itertools.count(1)
        self.responses = ResponseService(
            store,
            identity=self.identity,
            seals=self.seals,
            audit=self.audit,
            clock=self.clock,
            new_id=lambda: f"act-{next(ids)}",
            alerts=self.alerts.get,
        )

    def raise_alert(self, *responses: ResponseAction, **kw: object):  # type: ignore[no-untyped-def]
        d = detection(responses=responses, **kw)  # type: ignore[arg-type]
        alert = self.alerts.ingest(d)
        assert alert is not None
        return alert, self.responses.plan(alert, d)


@pytest.fixture(params=["memory", "sqlite"])
def world(request: pytest.FixtureRequest, tmp_path: Path) -> World:
    if request.param == "memory":
        return World(MemoryActionStore())
    return World(SqliteActionStore(tmp_path / "actions.sqlite3"))


def test_destructive_action_waits_then_runs_on_approval(world: World) -> None:
    _, (action,) = world.raise_alert(DISABLE)
    assert (action.state, action.requested_by, action.target) == (
        ActionState.PENDING,
        SYSTEM_ACTOR,
        "alice",
    )
    assert world.identity.users["alice"] == (True, 2)
    done = world.responses.approve(action.id, "bob-analyst")
    assert (done.state, done.decided_by, done.result) == (
        ActionState.EXECUTED,
        "bob-analyst",
        "user disabled",
    )
    assert world.identity.users["alice"] == (False, 2)
    assert [(s, a, o) for s, _, a, o, _ in world.audit.entries] == [
        ("requested", SYSTEM_ACTOR, "success"),
        ("approved", "bob-analyst", "success"),
        ("executed", "bob-analyst", "success"),
    ]
    assert world.responses.get(action.id).state is ActionState.EXECUTED


def test_rule_without_approval_runs_at_once(world: World) -> None:
    _, (action,) = world.raise_alert(END)
    assert (action.state, action.result, action.decided_by) == (
        ActionState.EXECUTED,
        "2 session(s) ended",
        "rule:r-brute",
    )
    assert world.identity.users["alice"] == (True, 0)


def test_requester_cannot_approve_and_decisions_are_final(world: World) -> None:
    alert, _ = world.raise_alert()
    action = world.responses.request(alert.id, ResponseKind.DISABLE_USER, "ana")
    with pytest.raises(SelfApproval):
        world.responses.approve(action.id, "ana")
    rejected = world.responses.reject(action.id, "bo", "known tester account")
    assert (rejected.state, rejected.reason) == (ActionState.REJECTED, "known tester account")
    with pytest.raises(ActionStateConflict):
        world.responses.approve(action.id, "bo")
    assert world.identity.users["alice"] == (True, 2)
    assert world.audit.entries[-1][0] == "rejected"


def test_reject_needs_reason(world: World) -> None:
    _, (action,) = world.raise_alert(DISABLE)
    with pytest.raises(InvalidAlertInput):
        world.responses.reject(action.id, "bo", "  ")


def test_concurrent_second_decision_loses(world: World) -> None:
    _, (action,) = world.raise_alert(DISABLE)
    world.responses.approve(action.id, "bo")
    with pytest.raises(ActionStateConflict):
        world.responses.store.replace(action.evolve(state=ActionState.APPROVED))


def test_failure_is_recorded_and_audited(world: World) -> None:
    _, (action,) = world.raise_alert(DISABLE, user="mallory")
    done = world.responses.approve(action.id, "bo")
    assert (done.state, done.error) == (ActionState.FAILED, "response_target_not_found")
    assert world.audit.entries[-1][3] == "failure"


def test_seal_action_targets_the_seal_in_the_entity(world: World) -> None:
    _, (action,) = world.raise_alert(
        SEAL, entity=(("user.name", "alice"), ("resource.id", "seal-42"))
    )
    world.responses.approve(action.id, "bo")
    assert world.seals.suspended == ["seal-42"]


def test_action_without_target_in_entity_is_not_planned(world: World) -> None:
    alert, planned = world.raise_alert(SEAL)
    assert planned == []
    with pytest.raises(InvalidAlertInput):
        world.responses.request(alert.id, ResponseKind.SUSPEND_SEAL, "ana")


def test_no_audit_no_action(world: World) -> None:
    _, (action,) = world.raise_alert(DISABLE)
    world.audit.fail = True
    with pytest.raises(RuntimeError):
        world.responses.approve(action.id, "bo")
    assert world.identity.users["alice"] == (True, 2)


def test_list_filters(world: World) -> None:
    alert, _ = world.raise_alert(DISABLE, END)
    states = {a.kind: a.state for a in world.responses.list(ActionFilter(alert_id=alert.id))}
    assert states == {
        ResponseKind.DISABLE_USER: ActionState.PENDING,
        ResponseKind.END_SESSIONS: ActionState.EXECUTED,
    }
    pending = world.responses.list(ActionFilter(states=(ActionState.PENDING,)))
    assert [a.kind for a in pending] == [ResponseKind.DISABLE_USER]


def test_four_eyes_compares_persons_not_the_names_their_tokens_give(world: World) -> None:
    """Issue 16 §2.4: one person, named by username in one token and by subject in another
    (a token without ``preferred_username``), is still the requester and may not decide."""
    alert, _ = world.raise_alert()
    action = world.responses.request(alert.id, ResponseKind.DISABLE_USER, "ana", actor_id="s-1")
    assert world.responses.get(action.id).requested_by_id == "s-1"  # kept by the store
    for name in ("s-1", "ana-renamed"):
        with pytest.raises(SelfApproval):
            world.responses.approve(action.id, name, actor_id="s-1")
        with pytest.raises(SelfApproval):
            world.responses.reject(action.id, name, "no", actor_id="s-1")
    done = world.responses.approve(action.id, "bo", actor_id="s-2")
    assert (done.decided_by, done.state) == ("bo", ActionState.EXECUTED)
