"""The scripted day is placed relative to the clock under test (siem.testing.working_day)."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from siem.testing import DAY_LENGTH, timeline, working_day

UTC8 = dt.timezone(dt.timedelta(hours=8))


@given(st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2200, 1, 1)))
def test_the_scripted_day_is_a_recent_weekday_that_has_ended(naive: dt.datetime) -> None:
    now = naive.replace(tzinfo=dt.UTC)
    start = working_day(now)
    local = start.astimezone(UTC8)
    assert local.isoweekday() <= 5  # Monday to Friday
    assert local.time() == dt.time(9, 0)
    assert start + DAY_LENGTH + dt.timedelta(hours=1) <= now
    assert now - start < dt.timedelta(days=4)


def test_every_event_of_the_timeline_is_in_the_past_of_its_clock() -> None:
    now = dt.datetime(2031, 3, 3, 7, 0, tzinfo=dt.UTC)  # a Monday morning
    _, events = timeline(working_day(now), n=500)
    assert max(e.timestamp for e in events) < now
    assert min(e.timestamp for e in events) > now - dt.timedelta(days=4)
