"""Property: any mutation of a valid seal, signature or OFD gives MalformedSeal or a report
that is not "valid" (or, for a mutation that changes nothing signed, "valid") — never a crash."""

from __future__ import annotations

import contextlib
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crypto.seals.format import (
    MalformedSeal,
    decode_seal,
    decode_signature,
    sign_bytes,
    sign_ofd,
    verify_detached,
    verify_ofd,
)
from crypto.seals.format.testing import minimal_ofd

from .conftest import NOW

_SETTINGS = settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _mutate(data: bytes, edits: list[tuple[int, int]], cut: int | None) -> bytes:
    out = bytearray(data)
    for pos, value in edits:
        out[pos % len(out)] = value
    return bytes(out[: cut % (len(out) + 1)] if cut is not None else out)


@_SETTINGS
@given(
    edits=st.lists(st.tuples(st.integers(0, 1 << 16), st.integers(0, 255)), max_size=4),
    cut=st.none() | st.integers(0, 1 << 16),
)
def test_mutated_signature(sample, opts, edits, cut):
    original = sign_bytes(
        b"doc", seal=sample.seal, key=sample.key, cert=sample.cert, now=NOW + timedelta(hours=1)
    )
    data = _mutate(original, edits, cut)
    for decode in (decode_seal, decode_signature):
        with contextlib.suppress(MalformedSeal):
            decode(data)
    report = verify_detached(data, b"doc", opts)
    if data != original:
        assert str(report.status) != "valid"


@_SETTINGS
@given(
    edits=st.lists(st.tuples(st.integers(0, 1 << 16), st.integers(0, 255)), min_size=1, max_size=3)
)
def test_mutated_ofd(sample, opts, edits):
    original = sign_ofd(
        minimal_ofd(),
        seal=sample.seal,
        key=sample.key,
        cert=sample.cert,
        now=NOW + timedelta(hours=1),
    )
    report = verify_ofd(_mutate(original, edits, None), opts)
    assert str(report.status) in {"valid", "invalid", "indeterminate"}
