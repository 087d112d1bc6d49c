"""``verify``: prove the event store matches the signed tree heads, and name every difference.

Algorithm (one pass over the leaf log, one ``scan`` of the store; memory bounded by the number
of differences, not by the size of the stream):

1. **Heads.** Every head's SM2 signature is checked against the trusted public keys
   (GB/T 32918.2 §7); sizes must not shrink as time goes on.
2. **Log against heads.** The logged leaf hashes are fed, in sequence order, into a compact
   Merkle tree (RFC 6962 §2.1); at each head's size its root must equal the signed root. This
   authenticates the leaf log itself: once it passes, each logged ``(sequence, event id, leaf
   hash)`` is exactly what was committed to, so the log can be used to *pinpoint* differences
   (a root alone can only say "something changed").
3. **Store against log.** Stored documents arrive ordered by ``anbao.sequence``, in windows
   that line up with the log. A document matches when its leaf hash,
   ``SM3(0x00 || canonical_json(document))``, equals the hash logged at its sequence. Whatever
   does not match is kept aside and classified at the end, by event id:

   * same id, same position, other hash → **modified**;
   * same id at another position, and the document hashes to the logged leaf once its sequence
     is put back → **reordered** (a swap shows as two reordered events naming each other's
     position); otherwise → **modified** (moved *and* changed);
   * an id the log does not hold at any unmatched position → **inserted** (or **unlogged** if
     it sits past the end of the log, where the pipeline may simply not have logged it yet);
   * a logged entry no stored document claimed → **deleted**.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import typing
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from audit.errors import AuditError
from audit.integrity import merkle
from audit.integrity.model import (
    Finding,
    FindingKind,
    LeafRecord,
    SignedTreeHead,
    StreamReport,
)
from audit.integrity.ports import IntegrityLog, LeafRow
from audit.integrity.scan import Item, Lookahead, document_sequence, parse_raw, scan_items
from audit.model import canonical_json
from audit.ports import AuditStore, Document
from crypto.errors import CryptoError
from crypto.sm2 import PublicKey

WINDOW = 10_000


def document_event_id(document: Document) -> str:
    event = document.get("event")
    value = event.get("id") if isinstance(event, Mapping) else None
    return value if isinstance(value, str) else ""


_AS_STORED = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def leaf_hash(document: Document) -> bytes:
    """``SM3(0x00 || canonical_json(document))``: the leaf of a stored document."""
    try:
        return merkle.SM3.leaf(canonical_json(document))
    except AuditError:
        return b""  # not representable: cannot match any logged leaf


def matches(document: Document, expected: bytes) -> bool:
    """True when ``document``'s leaf hash is ``expected``.

    Fast path: stores hand documents back in the key order they were written, which is
    already canonical, so serializing without sorting usually gives the canonical bytes; only
    when that misses is the document canonicalized properly (same result, by definition).
    """
    try:
        if merkle.SM3.leaf(_AS_STORED.encode(document).encode("utf-8")) == expected:
            return True
    except (TypeError, ValueError):
        return False
    return leaf_hash(document) == expected


def with_sequence(document: Document, sequence: int) -> dict[str, Any]:
    """A copy of ``document`` with ``anbao.sequence`` replaced (to test a reordering)."""
    copy = dict(document)
    anbao = copy.get("anbao")
    copy["anbao"] = {**(anbao if isinstance(anbao, Mapping) else {}), "sequence": sequence}
    return copy


def check_heads(
    heads: Sequence[SignedTreeHead], trusted: Mapping[str, PublicKey]
) -> tuple[list[SignedTreeHead], list[Finding]]:
    """Heads whose signature verifies, and findings for the others and for ordering."""
    good: list[SignedTreeHead] = []
    findings: list[Finding] = []
    for head in heads:
        detail = _signature_problem(head, trusted)
        if detail:
            findings.append(
                Finding(FindingKind.HEAD_SIGNATURE, head.stream, head.size, detail=detail)
            )
        else:
            good.append(head)
    for earlier, later in itertools.pairwise(good):
        if later.timestamp_ms < earlier.timestamp_ms:
            findings.append(
                Finding(
                    FindingKind.HEAD_ORDER,
                    later.stream,
                    later.size,
                    detail=f"head of size {later.size} is older than the head of size {earlier.size}",
                )
            )
    return good, findings


def _signature_problem(head: SignedTreeHead, trusted: Mapping[str, PublicKey]) -> str:
    key = trusted.get(head.key_id)
    if key is None:
        return "signed by an unknown key"
    try:
        key.verify(head.signature, head.signed_bytes())
    except CryptoError:
        return "signature does not verify"
    return ""


@dataclasses.dataclass
class _Pending:
    """Differences kept aside until the end of the pass."""

    docs: list[tuple[int, str, Document]] = dataclasses.field(default_factory=list)
    logged: dict[int, LeafRecord] = dataclasses.field(default_factory=dict)


def verify_stream(
    log: IntegrityLog,
    store: AuditStore,
    stream: str,
    trusted: Mapping[str, PublicKey],
    *,
    start: int = 0,
    stop: int | None = None,
    anchors: Sequence[SignedTreeHead] = (),
    window: int = WINDOW,
    scan_batch: int = 5000,
    background: bool = False,
) -> StreamReport:
    """Verify one stream; store documents with ``start <= sequence < stop`` are compared."""
    all_heads = _merge_heads(log.heads(stream), [a for a in anchors if a.stream == stream])
    heads, findings = check_heads(all_heads, trusted)
    logged = log.size(stream)
    stop = logged if stop is None else stop
    tree = merkle.CompactTree(merkle.SM3)
    pending = _Pending()
    scan = Lookahead(
        scan_items(
            store, stream, start, stop if stop < logged else None, scan_batch, background=background
        )
    )
    head_iter = iter(heads)
    next_head = next(head_iter, None)
    checked = 0
    for page_start in range(0, max(logged, 1), window):
        page_stop = min(page_start + window, logged)
        rows = log.leaf_rows(stream, page_start, page_stop)
        append = tree.append
        for _, _, digest in rows:
            append(digest)
            while next_head is not None and next_head.size == tree.size:
                _check_root(next_head, tree, findings)
                next_head = next(head_iter, None)
        lo, hi = max(page_start, start), min(page_stop, stop)
        if lo < hi:
            page = [r for r in rows if lo <= r[0] < hi]
            checked += _match(stream, page, scan.below(hi), pending)
    while next_head is not None:
        findings.append(
            Finding(
                FindingKind.HEAD_ROOT,
                stream,
                next_head.size,
                detail=f"head covers {next_head.size} events but the log holds {logged}",
            )
        )
        next_head = next(head_iter, None)
    checked += _match(stream, [], scan.below(None), pending)
    findings += _classify(stream, pending, logged)
    if start == 0 and stop >= logged:
        findings += _uncounted(store, stream, checked)
    signed = max((h.size for h in heads), default=0)
    return StreamReport(
        stream=stream,
        start=start,
        stop=stop,
        checked_events=checked,
        heads_checked=len(all_heads),
        signed_size=signed,
        logged_size=logged,
        findings=tuple(sorted(findings, key=_finding_order)),
    )


def _merge_heads(
    stored: Sequence[SignedTreeHead], anchors: Sequence[SignedTreeHead]
) -> list[SignedTreeHead]:
    """Stored heads plus anchored ones (an exported head must still match the log)."""
    seen = {(h.size, h.root, h.signature) for h in stored}
    merged = list(stored) + [a for a in anchors if (a.size, a.root, a.signature) not in seen]
    return sorted(merged, key=lambda h: (h.size, h.timestamp_ms))


def _check_root(head: SignedTreeHead, tree: merkle.CompactTree, findings: list[Finding]) -> None:
    if tree.root() != head.root:
        findings.append(
            Finding(
                FindingKind.HEAD_ROOT,
                head.stream,
                head.size,
                detail="the leaf log does not hash to this signed root",
            )
        )


def _match(stream: str, rows: Sequence[LeafRow], items: Iterable[Item], pending: _Pending) -> int:
    """Match stored items against the logged rows of their window; returns how many."""
    expected = {row[0]: row[2] for row in rows}
    leaf = merkle.SM3.leaf
    count = 0
    for seq, raw, doc in items:
        count += 1
        logged = expected.get(seq) if seq is not None else None
        if logged is not None and raw is not None and leaf(raw) == logged:
            del expected[typing.cast(int, seq)]
            continue
        document = doc if doc is not None else parse_raw(typing.cast(bytes, raw))
        if logged is not None and matches(document, logged):
            del expected[typing.cast(int, seq)]  # bytes differ only in form: canonical JSON matches
            continue
        found = document_sequence(document)
        pending.docs.append((-1 if found is None else found, document_event_id(document), document))
    for seq, event_id, digest in rows:
        if seq in expected:
            pending.logged[seq] = LeafRecord(stream, seq, event_id, digest)
    return count


def _classify(stream: str, pending: _Pending, logged: int) -> list[Finding]:
    by_id: dict[str, LeafRecord] = {}
    for entry in pending.logged.values():
        by_id.setdefault(entry.event_id, entry)
    findings = []
    for seq, event_id, doc in pending.docs:
        record = by_id.pop(event_id) if event_id in by_id else None
        if record is None:
            kind = FindingKind.UNLOGGED if seq >= logged else FindingKind.INSERTED
            findings.append(Finding(kind, stream, seq, event_id))
        elif record.sequence == seq:
            findings.append(Finding(FindingKind.MODIFIED, stream, seq, event_id))
        elif leaf_hash(with_sequence(doc, record.sequence)) == record.leaf_hash:
            findings.append(Finding(FindingKind.REORDERED, stream, seq, event_id, record.sequence))
        else:
            findings.append(
                Finding(
                    FindingKind.MODIFIED,
                    stream,
                    seq,
                    event_id,
                    record.sequence,
                    detail="moved and changed",
                )
            )
    for record in by_id.values():
        findings.append(Finding(FindingKind.DELETED, stream, record.sequence, record.event_id))
    return findings


def _uncounted(store: AuditStore, stream: str, scanned: int) -> list[Finding]:
    """Documents the ordered scan cannot see (no valid ``anbao.sequence``): counted only."""
    extra = store.streams().get(stream, 0) - scanned
    if extra <= 0:
        return []
    detail = f"{extra} stored document(s) without a valid anbao.sequence"
    return [Finding(FindingKind.INSERTED, stream, detail=detail)]


def _finding_order(f: Finding) -> tuple[int, str]:
    return (-1 if f.sequence is None else f.sequence, f.kind.value)
