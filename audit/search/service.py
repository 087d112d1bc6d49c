"""Audit search use cases: who may search, what they see, and the parameters of a search.

Only ``security-analyst`` and ``auditor`` may search (MLPS 2.0 L3-CES1-14: audit records are
protected from unauthorised access). Every caller is confined to its live org scope, which the
composition root resolves from the caller's binding in the directory (never from the token's
``org_path`` claim): an auditor bound to ``/gov/finance`` sees ``/gov/finance`` and below,
never a sibling (``/gov/finances``) and no path that climbs out with ``..``; only a
platform-wide scope (``/``) sees everything. A caller without a scope is refused. Sensitive fields are masked in every result
(PIPL art. 51; decryption is a separate, audited operation of ``audit.sensitive.masking``).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime as dt
import json
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final

from audit.search.model import (
    DEFAULT_SORT,
    MAX_PAGE,
    SORTABLE,
    Aggregations,
    Bucket,
    InvalidSearch,
    Page,
    SearchBackend,
    SearchForbidden,
    SearchSpec,
    bucket_key,
    scroll,
)
from audit.search.query.parse import Limits, Node, ParseError, parse
from audit.search.query.values import resolve_date
from audit.sensitive.masking import mask_document
from crypto import strict_json

SEARCH_ROLES: Final = frozenset({"security-analyst", "auditor"})
DEFAULT_SIZE: Final = 50
MAX_BUCKETS: Final = 2000
MAX_TOP: Final = 100
#: Intervals ``auto`` picks from, in seconds (1 minute ... 1 week).
_LADDER: Final = (60, 300, 900, 3600, 10800, 43200, 86400, 604800)
_UNIT_SECONDS: Final = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
#: An explicit interval: up to six ASCII digits and a unit (the OpenAPI schema says the same).
INTERVAL: Final = re.compile(r"[0-9]{1,6}[smhdw]")
_AUTO_BUCKETS: Final = 100


@dataclasses.dataclass(frozen=True, slots=True)
class Caller:
    """The authenticated principal as search needs it.

    ``org_path`` is the live scope's path (``/``: everything, ``""``: nothing) as the identity
    authority resolved it from the caller's binding, not the token's claim.
    """

    subject: str
    roles: frozenset[str]
    org_path: str


@dataclasses.dataclass(frozen=True, slots=True)
class SearchParams:
    """Raw request parameters, as typed by the analyst (strings are validated here)."""

    q: str = ""
    time_from: str | None = None
    time_to: str | None = None
    sort: str | None = None
    size: int | None = None
    search_after: str | None = None


class AuditSearch:
    """The search service over one :class:`audit.search.model.SearchBackend`."""

    def __init__(
        self,
        backend: SearchBackend,
        *,
        clock: Callable[[], dt.datetime],
        limits: Limits | None = None,
        masker: Callable[[Mapping[str, Any]], dict[str, Any]] = mask_document,
    ) -> None:
        self.backend = backend
        self._clock = clock
        self._limits = limits or Limits()
        self._mask = masker

    # -- authorisation -------------------------------------------------------------------

    def scope(self, caller: Caller) -> str:
        """The org subtree ``caller`` may search; raise :class:`SearchForbidden` otherwise."""
        if not caller.roles & SEARCH_ROLES:
            raise SearchForbidden("Audit search needs the security-analyst or auditor role.")
        if not caller.org_path.startswith("/"):
            raise SearchForbidden("You are bound to no org node: there is nothing to search.")
        return caller.org_path

    # -- use cases -----------------------------------------------------------------------

    def search(self, caller: Caller, params: SearchParams) -> Page:
        page = self.backend.search(self.spec(caller, params))
        return dataclasses.replace(page, documents=tuple(self._mask(d) for d in page.documents))

    def aggregate(
        self, caller: Caller, params: SearchParams, *, interval: str = "auto", top: int = 10
    ) -> Aggregations:
        spec = self.spec(caller, params)
        if not 1 <= top <= MAX_TOP:
            raise InvalidSearch(f"top must be between 1 and {MAX_TOP}.")
        seconds = self.interval(interval, spec)
        result = self.backend.aggregate(spec, seconds, top)
        return dataclasses.replace(result, histogram=_fill(result.histogram, seconds, spec))

    def documents(self, caller: Caller, params: SearchParams) -> Iterator[dict[str, Any]]:
        """Every matching document, masked, one backend page at a time (exports)."""
        spec = dataclasses.replace(self.spec(caller, params), size=MAX_PAGE, search_after=None)
        for document in scroll(self.backend, spec):
            yield self._mask(document)

    def check_query(self, text: str) -> Node:
        """Parse ``text`` (saved searches are checked before they are stored)."""
        return parse(text, limits=self._limits)

    # -- parameters ----------------------------------------------------------------------

    def spec(self, caller: Caller, params: SearchParams) -> SearchSpec:
        scope = self.scope(caller)
        now = self._clock()
        time_from = _instant("from", params.time_from, now)
        time_to = _instant("to", params.time_to, now)
        if time_from and time_to and time_from >= time_to:
            raise InvalidSearch("'from' must be before 'to'.")
        sort = parse_sort(params.sort)
        size = DEFAULT_SIZE if params.size is None else params.size
        if not 1 <= size <= MAX_PAGE:
            raise InvalidSearch(f"size must be between 1 and {MAX_PAGE}.")
        spec = SearchSpec(
            query=self.check_query(params.q),
            time_from=time_from,
            time_to=time_to,
            org_scope=scope,
            sort=sort,
            size=size,
        )
        if params.search_after:
            spec = dataclasses.replace(
                spec, search_after=decode_cursor(params.search_after, len(spec.order()))
            )
        return spec

    def interval(self, text: str, spec: SearchSpec) -> int:
        """``auto`` or ``<n>(s|m|h|d|w)``, at least a minute, at most :data:`MAX_BUCKETS`."""
        span = None
        if spec.time_from and spec.time_to:
            span = (spec.time_to - spec.time_from).total_seconds()
        if text == "auto":
            if span is None:
                return 86400
            return next((s for s in _LADDER if span / s <= _AUTO_BUCKETS), _LADDER[-1])
        if not INTERVAL.fullmatch(text):
            raise InvalidSearch("interval is 'auto' or a number and s, m, h, d or w (e.g. 1h).")
        seconds = int(text[:-1]) * _UNIT_SECONDS[text[-1]]
        if seconds < _LADDER[0]:
            raise InvalidSearch("interval must be at least one minute.")
        if span is not None and span / seconds > MAX_BUCKETS:
            raise InvalidSearch(f"The interval gives more than {MAX_BUCKETS} buckets.")
        return seconds


def _instant(name: str, value: str | None, now: dt.datetime) -> dt.datetime | None:
    if not value:
        return None
    try:
        return resolve_date(value, now).at
    except ValueError as exc:
        raise InvalidSearch(f"'{name}': {exc}.") from None


def parse_sort(text: str | None) -> tuple[tuple[str, str], ...]:
    """``field[:asc|desc]`` separated by commas (default ``@timestamp:desc``)."""
    if not text:
        return DEFAULT_SORT
    out: list[tuple[str, str]] = []
    for item in text.split(","):
        field, _, direction = item.strip().partition(":")
        direction = direction or "asc"
        if field not in SORTABLE or direction not in ("asc", "desc"):
            raise InvalidSearch(
                f"sort takes field[:asc|desc] with a field of {', '.join(sorted(SORTABLE))}."
            )
        out.append((field, direction))
    if len({f for f, _ in out}) != len(out):
        raise InvalidSearch("sort names a field twice.")
    return tuple(out)


def encode_cursor(values: tuple[Any, ...] | None) -> str | None:
    """The opaque ``search_after`` token handed to clients (sort values of the last hit)."""
    if values is None:
        return None
    raw = json.dumps(list(values), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(token: str, keys: int) -> tuple[Any, ...]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        values = strict_json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise InvalidSearch("search_after is not a cursor this API issued.") from None
    valid = isinstance(values, list) and len(values) == keys
    if not valid or not all(isinstance(v, str | int) and not isinstance(v, bool) for v in values):
        raise InvalidSearch("search_after does not match the sort of this search.")
    return tuple(values)


def _fill(buckets: tuple[Bucket, ...], seconds: int, spec: SearchSpec) -> tuple[Bucket, ...]:
    """Empty buckets between the first and last (or the window's ends) count zero."""
    if not buckets and (spec.time_from is None or spec.time_to is None):
        return buckets
    counts = {b.key: b.count for b in buckets}
    first = _floor(spec.time_from, seconds) if spec.time_from else _epoch(buckets[0].key)
    last = _floor(spec.time_to - dt.timedelta(microseconds=1), seconds) if spec.time_to else None
    last = last if last is not None else _epoch(buckets[-1].key)
    if (last - first) // seconds > MAX_BUCKETS:
        return buckets
    keys = (bucket_key(t) for t in range(first, last + 1, seconds))
    return tuple(Bucket(k, counts.get(k, 0)) for k in keys)


def _floor(value: dt.datetime, seconds: int) -> int:
    stamp = int(value.timestamp())
    return stamp - stamp % seconds


def _epoch(key: str) -> int:
    return int(dt.datetime.fromisoformat(key.replace("Z", "+00:00")).timestamp())


__all__ = ["AuditSearch", "Caller", "ParseError", "SearchParams", "encode_cursor"]
