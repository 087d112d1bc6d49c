"""Per-key tables for SM2 verification: only keys seen repeatedly get one, counted by bytes.

Which arithmetic path ran is observed by counting the table multiplications
(``_openssl_ec._mul_with_table``, used only with a per-key table); the registry is cleared
around every test so no test sees another's keys.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from crypto import _openssl_ec, sm2
from crypto.errors import InvalidSignature

MESSAGE = b"seal me"
ON_USE = _openssl_ec.TABLE_ON_USE


@pytest.fixture(autouse=True)
def empty_registry() -> Iterator[None]:
    _openssl_ec.registry.clear()
    yield
    _openssl_ec.registry.clear()


@pytest.fixture
def table_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """One entry per table multiplication (two per verification on the table path)."""
    calls: list[int] = []
    real = _openssl_ec._mul_with_table

    def spy(group: int, out: int, k: int, ctx: int) -> None:
        calls.append(group)
        real(group, out, k, ctx)

    monkeypatch.setattr(_openssl_ec, "_mul_with_table", spy)
    return calls


def _fresh() -> tuple[sm2.PublicKey, bytes]:
    key = sm2.PrivateKey.generate()
    return key.public_key(), key.sign(MESSAGE)


def _rejects(pub: sm2.PublicKey, signature: bytes, other: bytes) -> None:
    """A signature over another message, and another key's signature, are both refused."""
    with pytest.raises(InvalidSignature):
        pub.verify(signature, MESSAGE + b"!")
    with pytest.raises(InvalidSignature):
        pub.verify(other, MESSAGE)


def test_below_the_threshold_verifies_without_a_table(table_calls: list[int]) -> None:
    pub, signature = _fresh()
    for _ in range(ON_USE - 1):
        pub.verify(signature, MESSAGE)
    assert table_calls == []
    assert not _openssl_ec.registry.has_table(pub.to_bytes())


def test_the_threshold_use_builds_the_table_and_later_uses_take_it(
    table_calls: list[int],
) -> None:
    pub, signature = _fresh()
    for _ in range(ON_USE - 1):
        pub.verify(signature, MESSAGE)
    pub.verify(signature, MESSAGE)
    assert _openssl_ec.registry.has_table(pub.to_bytes())
    assert len(table_calls) == 2
    pub.verify(signature, MESSAGE)
    assert len(table_calls) == 4


def test_a_wrong_signature_is_rejected_on_both_paths(table_calls: list[int]) -> None:
    pub, signature = _fresh()
    _, other = _fresh()
    _rejects(pub, signature, other)  # uses 1 and 2: no table
    assert table_calls == []
    pub.verify(signature, MESSAGE)  # use 3: the table is built
    table_calls.clear()
    _rejects(pub, signature, other)
    assert len(table_calls) == 4  # both refusals went through the table
    pub.verify(signature, MESSAGE)


def test_uses_are_counted_by_key_bytes_across_objects(table_calls: list[int]) -> None:
    """A key decoded again (a certificate re-read, a trust store reloaded) keeps its count and
    its table: the precomputation is paid once per key, not once per object."""
    pub, signature = _fresh()
    for _ in range(ON_USE):
        sm2.PublicKey.from_bytes(pub.to_bytes()).verify(signature, MESSAGE)
    assert _openssl_ec.registry.has_table(pub.to_bytes())
    table_calls.clear()
    sm2.PublicKey.from_bytes(pub.to_bytes()).verify(signature, MESSAGE)
    assert len(table_calls) == 2


def test_tables_and_counts_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_openssl_ec, "TABLES", 2)
    monkeypatch.setattr(_openssl_ec, "TRACKED_KEYS", 3)
    keys = [_fresh() for _ in range(5)]
    for pub, signature in keys:
        for _ in range(ON_USE):
            pub.verify(signature, MESSAGE)
    counted, tabled = _openssl_ec.registry.counts()
    assert counted <= 3
    assert tabled == 2
    assert [_openssl_ec.registry.has_table(p.to_bytes()) for p, _ in keys] == [
        False,
        False,
        False,
        True,
        True,
    ]
    for pub, signature in keys:  # evicted keys still verify, and bad signatures still fail
        pub.verify(signature, MESSAGE)
        with pytest.raises(InvalidSignature):
            pub.verify(signature, MESSAGE + b"!")


def test_the_most_recently_used_tables_are_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_openssl_ec, "TABLES", 2)
    (a, sig_a), (b, sig_b), (c, sig_c) = (_fresh() for _ in range(3))
    for pub, signature in ((a, sig_a), (b, sig_b)):
        for _ in range(ON_USE):
            pub.verify(signature, MESSAGE)
    a.verify(sig_a, MESSAGE)  # a is now more recent than b
    for _ in range(ON_USE):
        c.verify(sig_c, MESSAGE)
    registry = _openssl_ec.registry
    assert (registry.has_table(a.to_bytes()), registry.has_table(b.to_bytes())) == (True, False)
    assert registry.has_table(c.to_bytes())


def test_threads_verifying_while_tables_are_evicted(monkeypatch: pytest.MonkeyPatch) -> None:
    """A table dropped from the registry stays alive for a verification still using it."""
    monkeypatch.setattr(_openssl_ec, "TABLES", 1)
    keys = [_fresh() for _ in range(4)]
    errors: list[BaseException] = []

    def work(offset: int) -> None:
        try:
            for i in range(40):
                pub, signature = keys[(i + offset) % len(keys)]
                pub.verify(signature, MESSAGE)
                with pytest.raises(InvalidSignature):
                    pub.verify(signature, MESSAGE + b"!")
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert _openssl_ec.registry.counts()[1] <= 1
