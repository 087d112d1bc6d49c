"""Typed values of the query language: what a date, an address, a number or a word means.

Both compilers (:mod:`audit.search.query.elasticsearch`, :mod:`audit.search.query.sql`) call these functions, so
Elasticsearch and SQLite see the same normalised values: a date is resolved once against the
injected clock, an address is checked once, free text is split into words by one tokenizer that
both stores reproduce (:func:`words`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import ipaddress
import re

from audit.model import FieldSpec, FieldType, format_timestamp

_RELATIVE = re.compile(r"^now(?:([+-])(\d{1,6})([smhdw]))?$")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_NUMERIC = (FieldType.LONG, FieldType.INTEGER)
#: Largest magnitude both stores hold exactly (Elasticsearch ``long``, SQLite INTEGER).
_MAX_LONG = 2**63 - 1


def wildcard_parts(pattern: str) -> list[tuple[bool, str]]:
    """Split a pattern into (is_meta, text) pieces; literal pieces are unescaped."""
    parts: list[tuple[bool, str]] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            parts.append((False, pattern[i + 1]))
            i += 2
        else:
            parts.append((ch in "*?", ch))
            i += 1
    return parts


def words(text: str) -> list[str]:
    """The searchable words of ``text``: runs of letters (Unicode ``L*``), lower-cased.

    This is what Elasticsearch's built-in ``simple`` analyzer indexes (Lucene
    ``LetterTokenizer`` + lower-casing; present in every distribution, even the minimal one the
    tests run) and what the FTS5 table indexes (``unicode61`` with the digits as separators).
    """
    out: list[str] = []
    current: list[str] = []
    for ch in text:
        if ch.isalpha():
            current.append(ch)
        elif current:
            out.append("".join(current).lower())
            current = []
    if current:
        out.append("".join(current).lower())
    return out


def prefix_word(pattern: str) -> str | None:
    """For ``word*`` (one word, a trailing ``*`` only) the lower-cased word, else ``None``."""
    parts = wildcard_parts(pattern)
    if len(parts) <= 1 or parts[-1] != (True, "*") or any(meta for meta, _ in parts[:-1]):
        return None
    word = "".join(text for _, text in parts[:-1])
    found = words(word)
    return found[0] if len(found) == 1 and found[0] == word.lower() else None


def check_term(spec: FieldSpec | None, value: str) -> None:
    """Raise ``ValueError`` (client-safe) unless ``value`` fits the field (``None``: free text)."""
    kind = FieldType.TEXT if spec is None else spec.type
    if kind is FieldType.TEXT:
        if not words(value):
            raise ValueError(
                "Free text matches words of letters; search numbers and addresses by field"
            )
    elif kind is not FieldType.KEYWORD:
        _check_scalar(kind, value, in_range=False)


def check_wildcard(spec: FieldSpec | None, pattern: str) -> None:
    kind = FieldType.TEXT if spec is None else spec.type
    if kind is FieldType.KEYWORD:
        return
    if kind is FieldType.TEXT:
        if prefix_word(pattern) is None:
            raise ValueError("Wildcards on words allow one word with a trailing '*' only")
        return
    raise ValueError(f"Wildcards are not allowed on {kind} fields")


def check_bound(spec: FieldSpec, bound: str) -> None:
    if spec.type is FieldType.TEXT:
        raise ValueError("Ranges are not allowed on text fields")
    if spec.type is not FieldType.KEYWORD:
        _check_scalar(spec.type, bound, in_range=True)


def _check_scalar(kind: FieldType, value: str, *, in_range: bool) -> None:
    if kind is FieldType.DATE:
        resolve_date(value, dt.datetime(2000, 1, 1, tzinfo=dt.UTC))
    elif kind is FieldType.IP:
        if in_range:
            ip_address(value)
        else:
            ip_network(value)
    elif kind in _NUMERIC:
        integer(value)


def integer(value: str) -> int:
    try:
        number = int(value, 10)
    except ValueError:
        raise ValueError(f"'{value[:40]}' is not a whole number") from None
    if abs(number) > _MAX_LONG:
        raise ValueError("The number is out of range")
    return number


def ip_address(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        raise ValueError(f"'{value[:40]}' is not an IP address") from None


def ip_network(value: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """An address or a CIDR block (``10.0.0.0/8``); host bits must be zero."""
    try:
        return ipaddress.ip_network(value, strict=True)
    except ValueError:
        raise ValueError(f"'{value[:40]}' is not an IP address or CIDR block") from None


def ip_key(value: str) -> bytes:
    """16 bytes ordering addresses as Elasticsearch's ``ip`` type does (IPv4 mapped into v6)."""
    address = ipaddress.ip_address(value)
    if isinstance(address, ipaddress.IPv4Address):
        address = ipaddress.IPv6Address(b"\0" * 10 + b"\xff\xff" + address.packed)
    return address.packed


def network_keys(value: str) -> tuple[bytes, bytes]:
    """The first and last address keys of a CIDR block (a single address is a /32 or /128)."""
    net = ip_network(value)
    return ip_key(str(net.network_address)), ip_key(str(net.broadcast_address))


@dataclasses.dataclass(frozen=True, slots=True)
class Instant:
    """A resolved date; ``day`` is set when the text named a whole UTC day (``2026-11-26``)."""

    at: dt.datetime
    day: bool = False

    def text(self) -> str:
        return format_timestamp(self.at)

    def day_end(self) -> str:
        return format_timestamp(self.at + dt.timedelta(days=1))


def resolve_date(value: str, now: dt.datetime) -> Instant:
    """ISO 8601 instant with zone, a UTC day, or ``now[+-]N(s|m|h|d|w)`` against ``now``."""
    relative = _RELATIVE.match(value)
    if relative:
        sign, amount, unit = relative.groups()
        delta = dt.timedelta(seconds=int(amount or 0) * _UNITS.get(unit or "s", 1))
        return Instant(now - delta if sign == "-" else now + delta)
    if _DAY.match(value):
        try:
            return Instant(dt.datetime.fromisoformat(value).replace(tzinfo=dt.UTC), day=True)
        except ValueError:
            raise ValueError(f"'{value}' is not a valid date") from None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValueError(f"'{value[:40]}' is not a date (use 2026-11-26T08:00:00Z)") from None
    if parsed.tzinfo is None:
        raise ValueError("A date-time needs a zone (Z or +08:00)")
    return Instant(parsed.astimezone(dt.UTC))
