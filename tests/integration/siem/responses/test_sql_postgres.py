"""Response actions on the real PostgreSQL (the clustered store): the service's tests of
tests/unit/siem/responses/test_service.py run here on :class:`SqlActionStore`, then four-eyes
across two nodes (two engines, two services on one database)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest
import sqlalchemy as sa

from audit.sql.engine import create_engine
from siem.alerts.errors import ActionStateConflict, SelfApproval
from siem.model import ResponseKind
from siem.responses.model import ActionRecord, ActionState
from siem.responses.sql import MIGRATIONS, SqlActionStore
from tests.unit.siem.responses.test_service import (  # the service's tests, run on PostgreSQL
    DISABLE,
    World,
    test_action_without_target_in_entity_is_not_planned,
    test_concurrent_second_decision_loses,
    test_destructive_action_waits_then_runs_on_approval,
    test_failure_is_recorded_and_audited,
    test_four_eyes_compares_persons_not_the_names_their_tokens_give,
    test_list_filters,
    test_no_audit_no_action,
    test_reject_needs_reason,
    test_requester_cannot_approve_and_decisions_are_final,
    test_rule_without_approval_runs_at_once,
    test_seal_action_targets_the_seal_in_the_entity,
)

__all__ = [
    "test_action_without_target_in_entity_is_not_planned",
    "test_concurrent_second_decision_loses",
    "test_destructive_action_waits_then_runs_on_approval",
    "test_failure_is_recorded_and_audited",
    "test_four_eyes_compares_persons_not_the_names_their_tokens_give",
    "test_list_filters",
    "test_no_audit_no_action",
    "test_reject_needs_reason",
    "test_requester_cannot_approve_and_decisions_are_final",
    "test_rule_without_approval_runs_at_once",
    "test_seal_action_targets_the_seal_in_the_entity",
]


@pytest.fixture
def node(database: str) -> Iterator[Callable[[], SqlActionStore]]:
    """Opens one node's action store (its own engine) on the module's database; emptied after."""
    engines: list[sa.Engine] = []

    def open_node() -> SqlActionStore:
        engines.append(create_engine(database))
        return SqlActionStore(engines[-1])

    yield open_node
    MIGRATIONS.upgrade(engines[0])  # a test that never used its store still empties it
    with engines[0].begin() as conn:
        conn.execute(sa.text("TRUNCATE siem_actions"))
    for engine in engines:
        engine.dispose()


@pytest.fixture
def world(node: Callable[[], SqlActionStore]) -> World:
    return World(node())


def test_requested_on_one_node_approved_on_another(node: Callable[[], SqlActionStore]) -> None:
    node_a, node_b = World(node()), World(node())
    alert, _ = node_a.raise_alert()
    action = node_a.responses.request(alert.id, ResponseKind.DISABLE_USER, "ana", actor_id="s-1")
    assert [a.id for a in node_b.responses.list(_pending())] == [action.id]
    with pytest.raises(SelfApproval):  # the requester, through the other node
        node_b.responses.approve(action.id, "ana", actor_id="s-1")
    done = node_b.responses.approve(action.id, "bo", actor_id="s-2")
    assert (done.state, done.decided_by) == (ActionState.EXECUTED, "bo")
    assert node_a.responses.get(action.id) == done
    assert node_b.identity.users["alice"] == (False, 2)


class _Racing(SqlActionStore):
    """Holds every caller of ``replace`` until both nodes are there: a real race."""

    def __init__(self, engine: sa.Engine, barrier: threading.Barrier) -> None:
        super().__init__(engine)
        self._barrier = barrier

    def replace(self, record: ActionRecord) -> ActionRecord:
        if record.state is ActionState.APPROVED and not record.executed_at:
            self._barrier.wait(timeout=10)
        return super().replace(record)


def test_two_nodes_approving_at_once_exactly_one_wins(database: str) -> None:
    barrier = threading.Barrier(2)
    engines = [create_engine(database) for _ in range(2)]
    try:
        node_a, node_b = (World(_Racing(e, barrier)) for e in engines)
        _, (action,) = node_a.raise_alert(DISABLE)
        outcomes: dict[str, object] = {}

        def approve(world: World, who: str) -> None:
            try:
                outcomes[who] = world.responses.approve(action.id, who).state
            except ActionStateConflict as exc:
                outcomes[who] = exc

        threads = [
            threading.Thread(target=approve, args=(w, who))
            for w, who in ((node_a, "bo"), (node_b, "cy"))
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=20)
        won = [who for who, got in outcomes.items() if got is ActionState.EXECUTED]
        lost = [who for who, got in outcomes.items() if isinstance(got, ActionStateConflict)]
        assert (len(won), len(lost)) == (1, 1)
        # Executed once: one node's identity provider disabled the account, the other never did.
        disabled = [w.identity.users["alice"][0] is False for w in (node_a, node_b)]
        assert sorted(disabled) == [False, True]
        assert node_b.responses.get(action.id).decided_by == won[0]
    finally:
        with engines[0].begin() as conn:
            conn.execute(sa.text("TRUNCATE siem_actions"))
        for engine in engines:
            engine.dispose()


def _pending():  # type: ignore[no-untyped-def]
    from siem.responses.model import ActionFilter

    return ActionFilter(states=(ActionState.PENDING,))
