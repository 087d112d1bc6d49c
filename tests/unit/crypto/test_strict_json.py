"""crypto.strict_json: the one parser of clients' JSON refuses what json.loads lets through."""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crypto.strict_json import MAX_DEPTH, InvalidJson, loads, nesting

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=30,
)


@pytest.mark.parametrize(
    "text",
    [
        "[" * 100_000 + "]" * 100_000,  # json.loads: RecursionError
        '{"a":' * 5_000 + "1" + "}" * 5_000,
        "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1),
        '"\\ud800"',  # an unpaired high surrogate
        '{"name": "x\\udfff"}',  # an unpaired low surrogate
        '{"\\ud800": 1}',  # in a member name
        "NaN",
        "[Infinity]",
        "9" * 5_000,  # past Python's integer-text limit
        '{"a": 1',
    ],
)
def test_hostile_json_is_invalid_json(text: str) -> None:
    with pytest.raises(InvalidJson):
        loads(text)
    with pytest.raises(InvalidJson):
        loads(text.encode())


def test_bytes_that_are_not_utf8_are_invalid_json() -> None:
    with pytest.raises(InvalidJson):
        loads(b'"\xff"')
    with pytest.raises(InvalidJson):
        loads('"\ud800"'.encode("utf-8", "surrogatepass"))  # an encoded surrogate


def test_depth_bound_is_inclusive_and_brackets_in_strings_do_not_count() -> None:
    deepest = "[" * MAX_DEPTH + "]" * MAX_DEPTH
    assert nesting(deepest) == MAX_DEPTH
    assert loads(deepest) is not None
    text = "[" * 100 + '\\"{'
    assert loads(json.dumps({"q": text})) == {"q": text}


def test_paired_surrogates_and_escaped_backslashes_are_text() -> None:
    assert loads('"\\ud83d\\ude00"') == "\U0001f600"
    assert loads('"\\\\ud800"') == "\\ud800"  # a backslash, then the letters u d 8 0 0
    assert loads('"安保"'.encode()) == "安保"


@given(_JSON)
def test_every_json_value_within_the_bound_reads_back(value: object) -> None:
    for ensure_ascii in (True, False):
        assert loads(json.dumps(value, ensure_ascii=ensure_ascii)) == value


@given(st.text(max_size=200) | st.binary(max_size=200))
def test_any_input_gives_a_value_or_invalid_json(data: str | bytes) -> None:
    with contextlib.suppress(InvalidJson):
        loads(data)
