"""The compiled request-path helpers (``audit/_capture.c``) against their Python definitions.

The C capture must read back (``marshal.loads``) as exactly the tuple the Python capture
writes, for every value it takes, and hand every other value back (``None``) untouched; the C
frame must be the Python frame byte for byte.
"""

from __future__ import annotations

import dataclasses
import marshal
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from audit.native import native
from audit.recording import journal, request_record

TAG = b"api\0"


def test_the_install_built_the_compiled_module() -> None:
    """The suite runs on the installed package: a lost build step must fail here, not slow
    production down unnoticed (the Python path would take over silently)."""
    assert native is not None
    assert Path(native.__file__).suffix in {".so", ".pyd"}


@dataclasses.dataclass
class Principal:
    subject: object = "3f1c2e4a-1b2c-4d5e-8f90-123456789abc"
    username: object = "zhang.san"
    roles: object = frozenset({"security-analyst", "auditor"})
    org_path: object = "/gd/gz/tianhe"


def request(**overrides: object) -> dict[str, Any]:
    base: dict[str, Any] = {
        "service": "anbao",
        "time_ns": 1_795_680_000_123_456_789,
        "method": "GET",
        "path": "/audit/events",
        "route": "/audit/events",
        "status": 200,
        "duration_ns": 81_234,
        "client": "10.1.2.3",
        "user_agent": b"curl/8.5",
        "trace_id": "req-1",
        "principal": Principal(),
    }
    return base | overrides


def both(fields: dict[str, Any]) -> tuple[bytes | None, bytes]:
    """(the C capture, the Python capture) of the same request."""
    assert native is not None
    return native.capture(*fields.values()), request_record.capture_request(**fields)


_ANY_TEXT = st.text(max_size=30)  # lone surrogates and astral characters too
_INTS = st.integers(-(2**63), 2**63 - 1)


@given(
    path=_ANY_TEXT,
    route=_ANY_TEXT,
    method=st.sampled_from(["GET", "POST", "DELETE", "ПОЛУЧИТЬ"]),
    status=_INTS,
    duration_ns=st.none() | _INTS,
    time_ns=_INTS,
    user_agent=st.none() | _ANY_TEXT | st.binary(max_size=30),
    username=_ANY_TEXT,
    roles=st.none()
    | st.frozensets(_ANY_TEXT, max_size=5)
    | st.lists(_ANY_TEXT, max_size=5)
    | st.tuples(_ANY_TEXT, _ANY_TEXT),
    no_principal=st.booleans(),
)
def test_the_c_capture_reads_back_as_the_python_capture(
    username: str, roles: object, no_principal: bool, **fields: Any
) -> None:
    principal = None if no_principal else Principal(username=username, roles=roles)
    compiled, python = both(request(principal=principal, **fields))
    texts = [fields["path"], fields["route"]]
    if principal is not None:
        texts += [username, *(roles or ())]  # type: ignore[misc]
    if isinstance(fields["user_agent"], str):
        texts.append(fields["user_agent"])
    if any(_has_surrogate(text) for text in texts):
        # marshal writes those with "surrogatepass"; the C capture leaves them to Python
        assert compiled is None
        return
    assert compiled is not None
    assert marshal.loads(compiled) == marshal.loads(python)  # noqa: S302 - our own bytes


def _has_surrogate(text: str) -> bool:
    return any(0xD800 <= ord(char) <= 0xDFFF for char in text)


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param(request(path=type("Text", (str,), {})("/x")), id="str subclass"),
        pytest.param(request(status=True), id="bool for an int"),
        pytest.param(request(time_ns=2**64), id="int past 64 bits"),
        pytest.param(request(duration_ns=1.5), id="float"),
        pytest.param(request(user_agent=bytearray(b"x")), id="bytearray"),
        pytest.param(request(path="/" + "p" * request_record.MAX_CAPTURE), id="too long"),
        pytest.param(request(principal=Principal(subject=42)), id="attribute needing str()"),
        pytest.param(request(principal=Principal(roles=iter(["a"]))), id="roles an iterator"),
        pytest.param(request(principal=Principal(roles=[1, 2])), id="roles not text"),
        pytest.param(
            request(principal=Principal(roles=tuple(map(str, range(256))))), id="256 roles"
        ),
    ],
)
def test_what_the_c_capture_leaves_to_python_reads_back_the_same_through_python(
    fields: dict[str, Any],
) -> None:
    compiled, python = both(fields)
    assert compiled is None
    assert request_record.from_capture(python)  # the Python path converts and bounds


def test_missing_principal_attributes_are_empty_text_and_no_roles() -> None:
    class Bare:
        pass

    compiled, python = both(request(principal=Bare()))
    assert compiled is not None
    assert marshal.loads(compiled)[-1] == ("", "", (), "")  # noqa: S302
    assert marshal.loads(compiled) == marshal.loads(python)  # noqa: S302


def test_an_attribute_that_raises_is_left_to_python_which_raises_it() -> None:
    class Broken:
        subject = "u-1"

        @property
        def username(self) -> str:
            raise RuntimeError("identity provider unreachable")

    fields = request(principal=Broken())
    assert native is not None
    assert native.capture(*fields.values()) is None  # no error left set (else SystemError)
    with pytest.raises(RuntimeError, match="unreachable"):
        request_record.capture_request(**fields)


def test_the_c_capture_holds_no_reference_it_did_not_take() -> None:
    """A reference leaked per request would grow the serving process without bound."""
    roles = frozenset({"auditor-" + "x" * 10, "security-analyst-" + "y" * 10})
    principal = Principal(subject="u-" + "1" * 20, roles=roles)
    fields = request(principal=principal, path="/p-" + "z" * 20)
    watched = [roles, principal.subject, fields["path"], *roles]
    before = [sys.getrefcount(value) for value in watched]
    assert native is not None
    for _ in range(1000):
        native.capture(*fields.values())
    assert [sys.getrefcount(value) for value in watched] == before


def test_the_c_capture_checks_its_argument_count() -> None:
    assert native is not None
    with pytest.raises(TypeError, match="11 arguments"):
        native.capture("anbao")


def _payloads() -> Iterator[bytes]:
    yield b""
    yield b"x"
    yield marshal.dumps(tuple(range(100)))
    yield bytes(range(256)) * 40


@pytest.mark.parametrize("payload", list(_payloads()))
@pytest.mark.parametrize("tag", [TAG, b"\0", b"keycloak-events\0"])
def test_the_c_frame_is_the_python_frame(tag: bytes, payload: bytes) -> None:
    assert native is not None
    expected = journal.frame(tag, payload)
    assert native.frame(tag, zlib.crc32(tag), payload) == expected
    assert journal._frame_after_tag(tag, zlib.crc32(tag), payload) == expected


@given(payload=st.binary(max_size=600))
def test_the_c_frame_reads_back_through_the_journal_reader(payload: bytes) -> None:
    assert native is not None
    assert native.frame(TAG, zlib.crc32(TAG), payload) == journal.frame(TAG, payload)


@pytest.mark.parametrize(
    "arguments", [(TAG, -1, b""), (TAG, 2**32, b""), ("api", 0, b""), (TAG, 0, "payload")]
)
def test_the_c_frame_refuses_what_is_not_a_frame(arguments: tuple[Any, ...]) -> None:
    assert native is not None
    with pytest.raises((TypeError, OverflowError)):
        native.frame(*arguments)
