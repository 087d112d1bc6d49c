"""Shared builders for the alert and response tests (unit and integration)."""

from __future__ import annotations

import datetime as dt
import itertools

from siem.model import Detection, Engine, ResponseAction, Severity

T0 = dt.datetime(2026, 11, 26, 8, 0, tzinfo=dt.UTC)
_ids = itertools.count(1)


def detection(
    *,
    rule_id: str = "r-brute",
    user: str = "alice",
    at: dt.datetime = T0,
    events: int = 3,
    engine: Engine = Engine.STREAMING,
    severity: Severity = Severity.HIGH,
    responses: tuple[ResponseAction, ...] = (),
    entity: tuple[tuple[str, str], ...] | None = None,
    event_ids: tuple[str, ...] | None = None,
    org_path: str = "",
) -> Detection:
    ids = event_ids or tuple(f"ev-{next(_ids):06d}" for _ in range(events))
    return Detection(
        rule_id=rule_id,
        rule_title=f"Rule {rule_id}",
        severity=severity,
        entity=entity if entity is not None else (("user.name", user),),
        event_ids=ids,
        first_event_time=at,
        last_event_time=at + dt.timedelta(seconds=len(ids)),
        count=len(ids),
        engine=engine,
        tags=("attack.t1110", "mlps.l3-ces1-12"),
        responses=responses,
        org_path=org_path,
    )


class Clock:
    """A settable clock."""

    def __init__(self, now: dt.datetime = T0) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)
