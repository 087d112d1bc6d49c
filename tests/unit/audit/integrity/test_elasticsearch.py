"""Cutting raw ``_source`` bytes out of a search response (no server needed)."""

from __future__ import annotations

import json

import pytest

from audit.integrity.elasticsearch import _canonical_rows, _last_sort, split_hits


def body(*hits: tuple[bytes, list]) -> bytes:
    parts = [
        b'{"_source":' + src + b',"sort":' + json.dumps(sort).encode() + b"}" for src, sort in hits
    ]
    return b'{"hits":{"hits":[' + b",".join(parts) + b"]}}"


def test_sources_come_out_byte_for_byte():
    a = '{"anbao":{"sequence":7},"z":"é \\"_source\\":{","n":[1,{"x":"}"}]}'.encode()
    b = b'{"anbao":{"sequence":8},  "a" : 1}'
    raw = body((a, [7, "id-7"]), (b, [8, "id-8"]))
    assert split_hits(raw) == [(7, a), (8, b)]
    assert _last_sort(raw) == [8, "id-8"]
    assert split_hits(b"{}") == []


@pytest.mark.parametrize(
    "bad",
    [
        b'{"took":1}',
        b'{"hits":{"hits":[{"_id":"x","_source":{}}]}}',
        b'{"hits":{"hits":[{"_source":{}}]}}',
    ],
)
def test_unexpected_shapes_are_refused(bad):
    with pytest.raises((ValueError, IndexError)):
        split_hits(bad)


def test_fallback_is_canonical_json():
    raw = b'{"hits":{"hits":[{"_id":"x","_source":{"b":1,"anbao":{"sequence":3}},"sort":[3,"x"]}]}}'
    assert _canonical_rows(raw) == [(3, b'{"anbao":{"sequence":3},"b":1}')]
