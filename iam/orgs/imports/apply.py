"""Applies validated import rows to the directory: bounded concurrency, resumable.

Nodes go level by level (a level's parents all exist before it starts), each level through a
bounded thread pool of single Keycloak calls: Keycloak's partial import is slower for users,
times out on a large nested tree (one transaction) and cannot add a group under an existing
parent (figures in docs/org-tree.md, "What Keycloak could not do").

Progress is persisted in a JSON state file (code -> node id, usernames done), written
atomically every ``save_every`` items and at the end, bound to the input file's SHA-256. A
re-run with the same file skips what is recorded; an item created just before a crash and not
yet recorded answers 409 and is looked up instead, so a resume never duplicates anything.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from iam.orgs.errors import InvalidOrgInput, OrgConflict, OrgNotFound
from iam.orgs.model import NodeKind, OrgNode, PersonDraft
from iam.orgs.ports import OrgDirectory
from iam.orgs.synthetic import NodeRow, PersonRow


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class ImportState:
    """What an import has done so far, persisted so an interrupted run resumes."""

    def __init__(self, path: Path | None, digest: str) -> None:
        self.path = path
        self.digest = digest
        self.nodes: dict[str, list[str]] = {}  # code -> [id, kind, path]
        self.people: set[str] = set()
        self._lock = threading.Lock()
        if path is not None and path.exists():
            data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
            if data.get("input_sha256") != digest:
                raise InvalidOrgInput("state", "the state file belongs to another input file")
            self.nodes = data.get("nodes", {})
            self.people = set(data.get("people", []))

    def node(self, code: str) -> OrgNode | None:
        entry = self.nodes.get(code)
        if entry is None:
            return None
        return OrgNode(entry[0], NodeKind(entry[1]), code, "", entry[2], None)

    def record_node(self, node: OrgNode) -> None:
        with self._lock:
            self.nodes[node.code] = [node.id, str(node.kind), node.path]

    def record_person(self, username: str) -> None:
        with self._lock:
            self.people.add(username)

    def save(self) -> None:
        if self.path is None:
            return
        with self._lock:
            data = {
                "input_sha256": self.digest,
                "nodes": dict(self.nodes),
                "people": sorted(self.people),
            }
        tmp = self.path.with_suffix(self.path.suffix + ".tmp")
        tmp.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
        tmp.replace(self.path)


@dataclasses.dataclass
class ImportResult:
    created: int = 0
    skipped: int = 0


class Importer:
    def __init__(
        self,
        directory: OrgDirectory,
        state: ImportState,
        *,
        workers: int = 8,
        progress: Callable[[int], None] = lambda n: None,
        save_every: int = 500,
    ) -> None:
        self.directory = directory
        self.state = state
        self.workers = max(1, min(workers, 32))
        self.progress = progress
        self.save_every = save_every
        self._lock = threading.Lock()
        self._since_save = 0

    def _resolve(self, code: str) -> OrgNode:
        node = self.state.node(code)
        if node is None:
            node = self.directory.find_node(code)
            if node is None:
                raise OrgNotFound(f"No org node with code {code}.")
            self.state.record_node(node)
        return node

    def _done(self, result: ImportResult, created: bool) -> None:
        with self._lock:
            if created:
                result.created += 1
            else:
                result.skipped += 1
            self._since_save += 1
            save = self._since_save >= self.save_every
            if save:
                self._since_save = 0
        if save:
            self.state.save()
        self.progress(1)

    def _run(self, items: Sequence[Any], fn: Callable[[Any], None]) -> None:
        with ThreadPoolExecutor(self.workers) as pool:
            for _ in pool.map(fn, items):
                pass

    def nodes(self, rows: Sequence[NodeRow]) -> ImportResult:
        result = ImportResult()
        in_file = {r.code: r for r in rows}
        level: dict[str, int] = {}
        for row in rows:  # rows come parents-first (iam.orgs.imports.files.parse_nodes)
            level[row.code] = (
                level.get(row.parent_code, -1) + 1 if row.parent_code in in_file else 0
            )

        def create(row: NodeRow) -> None:
            if self.state.node(row.code) is not None:
                self._done(result, created=False)
                return
            parent = self._resolve(row.parent_code) if row.parent_code else None
            try:
                node = self.directory.create_node(parent, row.kind, row.code, row.name)
            except OrgConflict:
                existing = self.directory.find_node(row.code)
                expected = (parent.path if parent else "") + "/" + row.code
                if existing is None or existing.path != expected:
                    raise OrgConflict(f"Node {row.code} exists elsewhere in the tree.") from None
                self.state.record_node(existing)
                self._done(result, created=False)
                return
            self.state.record_node(node)
            self._done(result, created=True)

        try:
            for depth in sorted(set(level.values())):
                self._run([r for r in rows if level[r.code] == depth], create)
        finally:
            self.state.save()
        return result

    def people(self, rows: Sequence[PersonRow]) -> ImportResult:
        result = ImportResult()

        def create(row: PersonRow) -> None:
            if row.username in self.state.people:
                self._done(result, created=False)
                return
            nodes = [self._resolve(c) for c in row.org_codes]
            draft = PersonDraft(
                row.username, row.family_name, row.given_name, row.email, dict(row.attributes)
            )
            try:
                self.directory.create_person(draft, nodes)
                created = True
            except OrgConflict:
                if self.directory.find_person(row.username) is None:
                    raise
                created = False
            self.state.record_person(row.username)
            self._done(result, created=created)

        try:
            self._run(rows, create)
        finally:
            self.state.save()
        return result
