"""``siem.working_hours`` replaces the rules' own hours (``x-anbao-outside-hours``): a
deployment says when its administrators work, and a test can pick a window that excludes now."""

from __future__ import annotations

import datetime as dt

import pytest

from anbao.settings import Settings, SettingsError
from siem.engines.loader import load_rules
from siem.engines.streaming import StreamingEngine
from siem.testing import ListSink, attack_scenarios, documents, working_day

#: A fixed Tuesday 20:30 UTC+8: outside the rule's own hours (Mon-Fri 08-19).
NIGHT = dt.datetime(2026, 11, 24, 12, 30, tzinfo=dt.UTC)


OFF_HOURS = next(rid for rid, s in load_rules().sigma.items() if s.name == "anbao_admin_off_hours")


def _admin_at_night() -> list[dict[str, object]]:
    (scenario,) = (
        s for s in attack_scenarios(working_day(NIGHT + dt.timedelta(days=1)))
        if s.name == "admin action outside working hours"
    )  # fmt: skip
    return documents(scenario.events)


@pytest.mark.parametrize(
    ("setting", "fires"),
    [
        ("", True),  # the rule's own hours: 20:30 is outside
        ("tz=+08:00;start=0;end=24;days=1,2,3,4,5,6,7", False),  # always working
        ("tz=+00:00;start=0;end=0", True),  # an empty window: always outside
    ],
)
def test_the_setting_decides_what_is_outside_working_hours(setting: str, fires: bool) -> None:
    spec = Settings.load({"ANBAO_SIEM_WORKING_HOURS": setting}).siem.working_hours_spec()
    sink = ListSink()
    engine = StreamingEngine(load_rules(), sink, clock=lambda: NIGHT, working_hours=spec)
    engine.observe(_admin_at_night())
    fired = [d for d in sink.detections if d.rule_id == OFF_HOURS]
    assert bool(fired) is fires


@pytest.mark.parametrize("bad", ["tz=8", "start=25", "days=0", "nonsense", "end=7pm"])
def test_a_bad_working_hours_setting_is_refused_at_start_up(bad: str) -> None:
    with pytest.raises(SettingsError, match=r"siem\.working_hours"):
        Settings.load({"ANBAO_SIEM_WORKING_HOURS": bad})
