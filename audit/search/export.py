"""Streaming exports of search results: NDJSON (documents as stored) and CSV (flat columns).

Both are generators of byte chunks, one chunk per backend page, so an export of millions of
events holds one page in memory, never the whole result. CSV cells that a spreadsheet would
run as a formula are neutralised (OWASP "CSV injection": a leading ``= + - @`` or tab gets a
``'``), since audit data is attacker-influenced (user agents, paths, reasons).
"""

from __future__ import annotations

import csv
import enum
import io
import json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Final

from audit.model import FIELDS

#: One CSV column per model field, in the model's order (``labels`` as JSON).
CSV_COLUMNS: Final = tuple(FIELDS)
_FORMULA: Final = ("=", "+", "-", "@", "\t", "\r")
_CHUNK: Final = 1000


class ExportFormat(enum.StrEnum):
    CSV = "csv"
    NDJSON = "ndjson"

    @property
    def media_type(self) -> str:
        return "text/csv; charset=utf-8" if self is ExportFormat.CSV else "application/x-ndjson"


def export_chunks(
    documents: Iterable[Mapping[str, Any]], fmt: ExportFormat, *, chunk: int = _CHUNK
) -> Iterator[bytes]:
    """Byte chunks of the export of ``documents`` (already masked by the search service)."""
    render = _csv_rows if fmt is ExportFormat.CSV else _ndjson_rows
    yield from render(documents, chunk)


def _ndjson_rows(documents: Iterable[Mapping[str, Any]], chunk: int) -> Iterator[bytes]:
    lines: list[str] = []
    for document in documents:
        lines.append(json.dumps(document, ensure_ascii=False, separators=(",", ":")))
        if len(lines) >= chunk:
            yield ("\n".join(lines) + "\n").encode()
            lines = []
    if lines:
        yield ("\n".join(lines) + "\n").encode()


def _csv_rows(documents: Iterable[Mapping[str, Any]], chunk: int) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for rows, document in enumerate(documents, start=1):
        writer.writerow([cell(_get(document, name)) for name in CSV_COLUMNS])
        if rows % chunk == 0:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


def cell(value: Any) -> str:
    """A CSV cell: lists joined by ``;``, objects as JSON, formulas neutralised."""
    if value is None:
        return ""
    if isinstance(value, list):
        text = ";".join(str(v) for v in value)
    elif isinstance(value, Mapping):
        text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    else:
        text = str(value)
    return "'" + text if text.startswith(_FORMULA) else text


def _get(document: Mapping[str, Any], dotted: str) -> Any:
    node: Any = document
    for part in dotted.split("."):
        if not isinstance(node, Mapping):
            return None
        node = node.get(part)
    return node
