"""Bulk import files (CSV or XLSX) of org nodes and people, validated into a findings report.

Node files have the columns ``kind, code, name, parent_code``; people files ``username,
family_name, given_name, email, org_codes`` (``;``-separated, the first is the primary node)
and any ``attr.<name>`` columns for attributes; an optional ``invite`` column (``yes``/``no``,
``true``/``false``, ``1``/``0``, ``是``/``否``) sends those people credentials after the import
(:mod:`iam.invitations`). Validation never stops at the first problem:
it returns every finding with its row (1 = header), column and reason, so an operator fixes a
file in one pass. Nothing is written while any finding remains.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import zipfile
from collections.abc import Callable, Collection, Iterable, Iterator
from pathlib import Path
from typing import IO

from iam.orgs.errors import InvalidOrgInput
from iam.orgs.model import (
    NodeKind,
    OrgNode,
    PersonDraft,
    check_name,
    check_placement,
    check_username_namespace,
    parse_kind,
)
from iam.orgs.synthetic import NodeRow, PersonRow

NODE_COLUMNS = ("kind", "code", "name", "parent_code")
PEOPLE_COLUMNS = ("username", "family_name", "given_name", "email", "org_codes")
ATTR_PREFIX = "attr."
INVITE_COLUMN = "invite"
_YES = frozenset({"yes", "true", "1", "y", "是"})
_NO = frozenset({"", "no", "false", "0", "n", "否"})


@dataclasses.dataclass(frozen=True, slots=True)
class Finding:
    row: int
    column: str
    reason: str

    def as_json(self) -> dict[str, object]:
        return {"row": self.row, "column": self.column, "reason": self.reason}


def read_table(path: Path) -> Iterator[dict[str, str]]:
    """Rows as dicts of stripped strings; ``.xlsx`` through openpyxl, anything else as CSV."""
    if path.suffix.lower() == ".xlsx":
        yield from _xlsx_rows(path)
        return
    with path.open(encoding="utf-8-sig", newline="") as fh:
        yield from _csv_rows(fh)


def read_bytes(data: bytes, *, xlsx: bool) -> Iterator[dict[str, str]]:
    """The same for an uploaded body (the API); a CSV body must be UTF-8."""
    if xlsx:
        return _xlsx_rows(io.BytesIO(data))
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidOrgInput("body", "a CSV file must be UTF-8") from None
    return _csv_rows(io.StringIO(text, newline=""))


def _csv_rows(fh: IO[str]) -> Iterator[dict[str, str]]:
    for row in csv.DictReader(fh):
        yield {str(k).strip(): (v or "").strip() for k, v in row.items() if k is not None}


def _xlsx_rows(source: Path | IO[bytes]) -> Iterator[dict[str, str]]:
    from openpyxl import load_workbook  # noqa: PLC0415 - only XLSX imports pay for it

    try:
        book = load_workbook(source, read_only=True, data_only=True)
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        raise InvalidOrgInput("body", "not a readable XLSX workbook") from exc
    try:
        rows = book.active.iter_rows(values_only=True) if book.active else iter(())
        header = [str(c or "").strip() for c in next(rows, ())]
        for values in rows:
            cells = ["" if v is None else str(v).strip() for v in values]
            yield dict(zip(header, cells + [""] * (len(header) - len(cells)), strict=False))
    finally:
        book.close()


def _table(source: Path | Iterable[dict[str, str]]) -> list[tuple[int, dict[str, str]]]:
    table = read_table(source) if isinstance(source, Path) else source
    return list(enumerate(table, start=2))


def _missing(row: dict[str, str], columns: tuple[str, ...]) -> list[Finding]:
    return [Finding(1, c, "required column is missing") for c in columns if c not in row]


def parse_nodes(
    source: Path | Iterable[dict[str, str]],
    known: Callable[[str], OrgNode | None],
    *,
    allow_roots: bool = True,
) -> tuple[list[NodeRow], list[Finding]]:
    """Rows parents-first, and the findings; ``known`` looks up parents not in the file.

    ``allow_roots=False`` (an org-admin's upload) refuses rows without a parent.
    """
    rows = _table(source)
    if not rows:
        return [], [Finding(1, "kind", "the file has no data rows")]
    findings = _missing(rows[0][1], NODE_COLUMNS)
    if findings:
        return [], findings
    by_code: dict[str, tuple[int, NodeKind | None]] = {}
    for number, row in rows:
        code = row["code"]
        if code in by_code:
            findings.append(Finding(number, "code", f"duplicate of row {by_code[code][0]}"))
            continue
        try:
            kind: NodeKind | None = parse_kind(row["kind"])
        except InvalidOrgInput as exc:
            findings.append(Finding(number, "kind", exc.reason))
            kind = None
        by_code[code] = (number, kind)
    parsed: list[NodeRow] = []
    for number, row in rows:
        if by_code.get(row["code"], (0,))[0] != number:
            continue
        if not allow_roots and not row["parent_code"]:
            findings.append(Finding(number, "parent_code", "only a platform admin adds roots"))
            continue
        node = _node_row(number, row, by_code, known, findings)
        if node is not None:
            parsed.append(node)
    depth = {n.code: 0 for n in parsed}
    parents = {n.code: n.parent_code for n in parsed}
    for code in depth:
        seen, cur = 0, parents.get(code, "")
        while cur in parents and seen <= len(parents):
            seen, cur = seen + 1, parents[cur]
        depth[code] = seen
    parsed.sort(key=lambda n: depth[n.code])
    return parsed, findings


def _node_row(
    number: int,
    row: dict[str, str],
    by_code: dict[str, tuple[int, NodeKind | None]],
    known: Callable[[str], OrgNode | None],
    findings: list[Finding],
) -> NodeRow | None:
    kind = by_code[row["code"]][1]
    try:
        check_name(row["name"])
    except InvalidOrgInput as exc:
        findings.append(Finding(number, "name", exc.reason))
    if kind is None:
        return None
    parent_code = row["parent_code"]
    parent: OrgNode | None = None
    if parent_code:
        if parent_code in by_code:
            parent_kind = by_code[parent_code][1]
            if parent_kind is None:
                return None
            parent = OrgNode("", parent_kind, parent_code, "", "", None)
        else:
            parent = known(parent_code)
            if parent is None:
                findings.append(Finding(number, "parent_code", "no such node in file or tree"))
                return None
    try:
        check_placement(kind, row["code"], parent)
    except InvalidOrgInput as exc:
        column = "parent_code" if exc.field == "parent_id" else exc.field
        findings.append(Finding(number, column, exc.reason))
        return None
    return NodeRow(kind, row["code"], row["name"], parent_code)


def parse_people(
    source: Path | Iterable[dict[str, str]],
    known_code: Callable[[str], bool],
    reserved_prefixes: Collection[str] = (),
) -> tuple[list[PersonRow], list[Finding]]:
    """People rows and findings; ``known_code`` says whether an org code exists;
    ``reserved_prefixes`` are the realm's brokers' username prefixes (not for local people)."""
    rows = _table(source)
    if not rows:
        return [], [Finding(1, "username", "the file has no data rows")]
    findings = _missing(rows[0][1], PEOPLE_COLUMNS)
    if findings:
        return [], findings
    seen: dict[str, int] = {}
    out: list[PersonRow] = []
    for number, row in rows:
        person = _person_row(
            number, row, seen, known_code, findings, reserved_prefixes=reserved_prefixes
        )
        if person is not None:
            out.append(person)
    return out, findings


def _person_row(
    number: int,
    row: dict[str, str],
    seen: dict[str, int],
    known_code: Callable[[str], bool],
    findings: list[Finding],
    *,
    reserved_prefixes: Collection[str],
) -> PersonRow | None:
    username = row["username"].lower()
    if username in seen:
        findings.append(Finding(number, "username", f"duplicate of row {seen[username]}"))
        return None
    seen[username] = number
    attributes = {
        k[len(ATTR_PREFIX) :]: v for k, v in row.items() if k.startswith(ATTR_PREFIX) and v
    }
    draft = PersonDraft(username, row["family_name"], row["given_name"], row["email"], attributes)
    start = len(findings)
    try:
        draft.validate()
        check_username_namespace(username, reserved_prefixes)
    except InvalidOrgInput as exc:
        column = exc.field.replace("attributes.", ATTR_PREFIX)
        findings.append(Finding(number, column, exc.reason))
    invite = row.get(INVITE_COLUMN, "").lower()
    if invite not in _YES | _NO:
        findings.append(Finding(number, INVITE_COLUMN, "yes or no"))
    org_codes = tuple(c.strip() for c in row["org_codes"].split(";") if c.strip())
    if not org_codes:
        findings.append(Finding(number, "org_codes", "at least one org code"))
    for code in org_codes:
        if not known_code(code):
            findings.append(Finding(number, "org_codes", f"no such node: {code}"))
    if len(findings) > start:
        return None
    return PersonRow(
        username,
        draft.family_name,
        draft.given_name,
        draft.email,
        org_codes,
        tuple(sorted(attributes.items())),
        invite in _YES,
    )


def write_nodes_csv(path: Path, rows: list[NodeRow]) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(NODE_COLUMNS)
        writer.writerows((str(r.kind), r.code, r.name, r.parent_code) for r in rows)


def write_people_csv(path: Path, rows: list[PersonRow]) -> None:
    attr_names = sorted({k for r in rows for k, _ in r.attributes})
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow([*PEOPLE_COLUMNS, *(ATTR_PREFIX + a for a in attr_names)])
        for r in rows:
            attrs = dict(r.attributes)
            writer.writerow(
                [r.username, r.family_name, r.given_name, r.email, ";".join(r.org_codes)]
                + [attrs.get(a, "") for a in attr_names]
            )
