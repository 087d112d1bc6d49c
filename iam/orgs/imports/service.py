"""Bulk import through the API, under delegated administration.

An org-admin's file may only hang nodes under nodes it sees (parents outside its subtree are
"no such node", as everywhere else) and may not add roots; people may only join visible, enabled
nodes. The whole file is validated before anything is written; a re-post of the same file
resumes (what exists is recognised and skipped), so an interrupted upload is simply sent again.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Protocol

from iam.orgs.errors import ImportInvalid, InvalidOrgInput
from iam.orgs.imports.apply import Importer, ImportState
from iam.orgs.imports.files import INVITE_COLUMN, parse_nodes, parse_people
from iam.orgs.model import OrgNode
from iam.orgs.service import OrgService

MAX_ROWS = 50_000


def _limited(table: Iterable[dict[str, str]]) -> Iterator[dict[str, str]]:
    for count, row in enumerate(table, start=1):
        if count > MAX_ROWS:
            raise InvalidOrgInput("body", f"at most {MAX_ROWS} rows per upload")
        yield row


class Inviter(Protocol):
    """Sends credentials to people an import marked ``invite`` (``iam.invitations`` is one).

    A port, because invitations build on the org tree, not the other way round.
    """

    def invite_imported(
        self, actor_id: str, actor_name: str, usernames: Sequence[str], link_base: str
    ) -> list[dict[str, object]]: ...


class ImportService:
    def __init__(
        self,
        orgs: OrgService,
        *,
        workers: int = 4,
        invitations: Inviter | None = None,
    ) -> None:
        self.orgs = orgs
        self.workers = workers
        self.invitations = invitations

    def nodes(
        self, actor_id: str, table: Iterable[dict[str, str]], *, dry_run: bool
    ) -> dict[str, object]:
        auth = self.orgs.authority(actor_id)
        directory = self.orgs.directory

        def known(code: str) -> OrgNode | None:
            node = directory.find_node(code)
            return node if node is not None and auth.sees(node) and not node.disabled else None

        rows, findings = parse_nodes(_limited(table), known, allow_roots=auth.is_platform)
        if findings:
            raise ImportInvalid([f.as_json() for f in findings])
        if dry_run:
            return {"valid_rows": len(rows), "dry_run": True}
        result = Importer(directory, ImportState(None, ""), workers=self.workers).nodes(rows)
        return {"valid_rows": len(rows), "dry_run": False} | result.__dict__

    def people(
        self,
        actor_id: str,
        table: Iterable[dict[str, str]],
        *,
        dry_run: bool,
        actor_name: str = "",
        link_base: str = "",
    ) -> dict[str, object]:
        auth = self.orgs.authority(actor_id)
        directory = self.orgs.directory
        seen: dict[str, bool] = {}

        def known(code: str) -> bool:
            if code not in seen:
                node = directory.find_node(code)
                seen[code] = node is not None and auth.sees(node) and not node.disabled
            return seen[code]

        reserved = directory.reserved_username_prefixes()
        rows, findings = parse_people(_limited(table), known, reserved)
        inviting = any(r.invite for r in rows)
        if inviting and self.invitations is None:
            raise InvalidOrgInput(INVITE_COLUMN, "invitations are not available here")
        if findings:
            raise ImportInvalid([f.as_json() for f in findings])
        if dry_run:
            return {"valid_rows": len(rows), "dry_run": True}
        result = Importer(directory, ImportState(None, ""), workers=self.workers).people(rows)
        out: dict[str, object] = {"valid_rows": len(rows), "dry_run": False} | result.__dict__
        if inviting and self.invitations is not None:
            invited = [row.username for row in rows if row.invite]
            out["invitations"] = self.invitations.invite_imported(
                actor_id, actor_name, invited, link_base
            )
        return out
