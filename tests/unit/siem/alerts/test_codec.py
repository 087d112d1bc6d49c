"""Property: every alert survives the stored JSON form unchanged (both stores rely on it)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from siem.alerts.codec import from_document, parse_time, to_document
from siem.alerts.model import Alert, AlertStatus, CloseReason, Delivery, Note
from siem.model import Engine, Severity

_times = st.datetimes(
    min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2100, 1, 1), timezones=st.just(dt.UTC)
).map(lambda t: t.replace(microsecond=t.microsecond // 1000 * 1000))
_text = st.text(max_size=20)


@st.composite
def alerts(draw: st.DrawFn) -> Alert:
    return Alert(
        id=draw(st.text(min_size=1, max_size=32)),
        group_key=draw(_text),
        rule_id=draw(_text),
        rule_title=draw(_text),
        severity=draw(st.sampled_from(Severity)),
        entity=tuple(draw(st.lists(st.tuples(_text, _text), max_size=3))),
        status=draw(st.sampled_from(AlertStatus)),
        count=draw(st.integers(0, 2**40)),
        event_count=draw(st.integers(0, 2**40)),
        event_ids=tuple(draw(st.lists(_text, max_size=5))),
        first_event_time=draw(_times),
        last_event_time=draw(_times),
        created_at=draw(_times),
        updated_at=draw(_times),
        engines=tuple(draw(st.lists(st.sampled_from(Engine), max_size=2, unique=True))),
        rule_tags=tuple(draw(st.lists(_text, max_size=3))),
        detection_keys=tuple(draw(st.lists(_text, max_size=3))),
        tags=tuple(draw(st.lists(_text, max_size=3))),
        assignee=draw(_text),
        close_reason=draw(st.none() | st.sampled_from(CloseReason)),
        triaged_at=draw(st.none() | _times),
        notes=tuple(draw(st.lists(st.builds(Note, _text, _times, _text), max_size=3))),
        deliveries=tuple(
            draw(
                st.lists(
                    st.builds(Delivery, _text, _text, st.integers(0, 9), _times, _text), max_size=2
                )
            )
        ),
        version="7",
    )


@given(alerts())
def test_roundtrip(alert: Alert) -> None:
    stored = json.loads(json.dumps(to_document(alert)))
    assert from_document(stored, "7") == alert


@pytest.mark.parametrize("value", ["0001-01-01T00:07:37+03:03", "9999-12-31T23:59:59-01:00"])
def test_a_time_beyond_utc_years_is_a_value_error_not_an_overflow(value: str) -> None:
    with pytest.raises(ValueError, match="outside the years"):
        parse_time(value)
