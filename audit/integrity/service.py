"""Tamper evidence for the audit trail: Merkle trees (SM3, RFC 6962) and SM2-signed tree heads.

Each stream (``anbao.stream``) is an append-only log whose leaves are the stored documents in
ingest order (``anbao.sequence``, assigned by the spool). The pipeline calls :meth:`append`
once the store has acknowledged a batch (so the log never runs ahead of the store); the
service records each leaf hash in the integrity log and issues a signed tree head every
``every_events`` events or ``every_seconds`` seconds, whichever comes first.

The integrity log is a separate store from the events (see :mod:`audit.integrity.ports`), the
heads are exportable as NDJSON for off-site anchoring, and :func:`audit.integrity.verify.verify_stream`
proves the store still matches them. Inclusion and consistency proofs are the RFC 6962 §2.1.1 and
§2.1.2 ones, so an auditor checks them offline with any SM3 implementation and the ``openssl``
CLI (``docs/audit-verification.md``, ``examples/verify_proof.py``).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from audit.integrity import merkle
from audit.integrity.model import (
    EventNotLogged,
    HeadNotFound,
    IntegrityError,
    LeafRecord,
    SignedTreeHead,
    StreamReport,
    VerifyReport,
    tree_head_tbs,
)
from audit.integrity.ports import IntegrityLog, SpooledDocument
from audit.integrity.scan import document_sequence
from audit.integrity.verify import (
    document_event_id,
    leaf_hash,
    verify_stream,
)
from audit.model import AuditEvent, canonical_json
from audit.ports import AuditStore, Document
from crypto import keys, sm3
from crypto.sm2 import PrivateKey, PublicKey

log = logging.getLogger("anbao.audit.integrity")


def key_id(public_key: PublicKey) -> str:
    """Hex SM3 of the DER SubjectPublicKeyInfo (as RFC 6962 §3.2 derives a log id)."""
    return sm3.digest(keys.dump_public_key(public_key, encoding="der")).hex()


class HeadSigner:
    """Signs tree heads with an SM2 key (SM3 digest, default distinguishing id, DER)."""

    def __init__(self, key: PrivateKey) -> None:
        self._key = key
        self.public_key = key.public_key()
        self.key_id = key_id(self.public_key)

    def sign(self, data: bytes) -> bytes:
        return self._key.sign(data)


@dataclasses.dataclass(frozen=True, slots=True)
class HeadPolicy:
    """When to issue a head: after ``every_events`` new events or ``every_seconds``."""

    every_events: int = 1000
    every_seconds: float = 60.0


def leaf_record(document: Document) -> LeafRecord:
    """The log entry for a document as the store holds it."""
    sequence = document_sequence(document)
    if sequence is None:
        raise IntegrityError("An event without an ingest sequence cannot be logged.")
    stream = document.get("anbao", {}).get("stream", "")
    return LeafRecord(str(stream), sequence, document_event_id(document), leaf_hash(document))


class IntegrityService:
    """Logs leaves, issues signed heads, serves proofs, verifies the store against the heads."""

    def __init__(
        self,
        log: IntegrityLog,
        signer: HeadSigner,
        *,
        trusted: Mapping[str, PublicKey] | None = None,
        clock: Callable[[], float],
        policy: HeadPolicy | None = None,
        owns: Callable[[str], bool] | None = None,
    ) -> None:
        self.log = log
        #: Whether this node signs heads for a stream (all of them on one machine). In a
        #: cluster each node signs only the streams it writes (its ``.<node_id>`` ones), so two
        #: nodes never race to sign one stream; proofs and verify read every stream.
        self.owns = owns or (lambda _stream: True)
        self.signer = signer
        self.trusted: dict[str, PublicKey] = {signer.key_id: signer.public_key, **(trusted or {})}
        self._clock = clock
        self.policy = policy or HeadPolicy()
        self._lock = threading.Lock()
        self._caches: dict[str, merkle.SubtreeCache] = {}
        self._pending_since: dict[str, float] = {}

    # --- logging and heads -------------------------------------------------------------

    def append(self, events: Sequence[AuditEvent]) -> list[SignedTreeHead]:
        """Log events the store has acknowledged; returns the heads this made due."""
        return self.append_documents([e.to_document() for e in events])

    def append_records(self, records: Sequence[SpooledDocument]) -> list[SignedTreeHead]:
        """The shipper's hook: call after ``write_documents`` succeeded, before ``spool.ack``.

        Redelivery after a crash logs nothing twice (identical records are ignored).
        """
        leaves = [
            LeafRecord(r.stream, r.sequence, r.event_id, merkle.SM3.leaf(r.document))
            for r in records
        ]
        self.log.append_leaves(leaves)
        return self.issue_due(sorted({r.stream for r in leaves}))

    def append_documents(self, documents: Sequence[Document]) -> list[SignedTreeHead]:
        records = [leaf_record(d) for d in documents]
        self.log.append_leaves(records)
        return self.issue_due(sorted({r.stream for r in records}))

    def issue_due(self, streams: Sequence[str] | None = None) -> list[SignedTreeHead]:
        """Issue a head for each stream past a policy threshold (also call periodically).

        Due when ``every_events`` leaves are unsigned, or when the oldest unsigned leaf this
        process has seen was logged ``every_seconds`` ago: no event stays unsigned longer.
        """
        issued = []
        now = self._clock()
        for stream in streams if streams is not None else self.own_streams():
            size = self.log.size(stream)
            last = self.latest_head(stream)
            unsigned = size - (last.size if last else 0)
            if unsigned <= 0:
                self._pending_since.pop(stream, None)
                continue
            since = self._pending_since.setdefault(stream, now)
            if unsigned >= self.policy.every_events or now - since >= self.policy.every_seconds:
                issued.append(self.issue(stream))
                self._pending_since.pop(stream, None)
        return issued

    def own_streams(self) -> list[str]:
        """The logged streams whose heads this node signs (:attr:`owns`)."""
        return [stream for stream in self.log.streams() if self.owns(stream)]

    def issue(self, stream: str) -> SignedTreeHead:
        """Sign a head over the whole gap-free log of ``stream`` now."""
        size = self.log.size(stream)
        root = self.root(stream, size)
        timestamp_ms = int(self._clock() * 1000)
        signature = self.signer.sign(tree_head_tbs(stream, size, timestamp_ms, root))
        head = SignedTreeHead(stream, size, timestamp_ms, root, self.signer.key_id, signature)
        self.log.add_head(head)
        return head

    def root(self, stream: str, size: int) -> bytes:
        return self._cache(stream)(0, size)

    def _cache(self, stream: str) -> merkle.SubtreeCache:
        with self._lock:
            cache = self._caches.get(stream)
            if cache is None:
                cache = merkle.SubtreeCache(
                    merkle.SM3, lambda lo, hi: self.log.leaf_hashes(stream, lo, hi)
                )
                self._caches[stream] = cache
            return cache

    def latest_head(self, stream: str) -> SignedTreeHead | None:
        heads = self.log.heads(stream)
        return heads[-1] if heads else None

    def head(self, stream: str, size: int) -> SignedTreeHead:
        head = self.log.head(stream, size)
        if head is None:
            raise HeadNotFound(f"No signed tree head of size {size} for stream {stream}.")
        return head

    def export_heads(self, stream: str | None = None) -> Iterator[str]:
        """NDJSON lines of every head, for off-site anchoring (one JSON object per line)."""
        for head in self.log.heads(stream):
            yield json.dumps(head.to_json(), sort_keys=True) + "\n"

    def public_keys_pem(self) -> dict[str, str]:
        return {kid: keys.dump_public_key(pub).decode("ascii") for kid, pub in self.trusted.items()}

    # --- proofs --------------------------------------------------------------------------

    def inclusion(self, document: Document) -> dict[str, Any]:
        """Inclusion proof of a stored document in the latest head covering it."""
        record = leaf_record(document)
        head = self.latest_head(record.stream)
        if head is None or head.size <= record.sequence:
            raise EventNotLogged("The event is not covered by a signed tree head yet; retry later.")
        logged = self.log.leaf(record.stream, record.sequence)
        path = merkle.inclusion_path(self._cache(record.stream), head.size, record.sequence)
        return {
            "event_id": record.event_id,
            "stream": record.stream,
            "leaf_index": record.sequence,
            "leaf_input": canonical_json(document).decode("utf-8"),
            "leaf_hash": record.leaf_hash.hex(),
            "logged_leaf_hash": logged.leaf_hash.hex() if logged else None,
            "document_matches_log": logged is not None and logged.leaf_hash == record.leaf_hash,
            "audit_path": [p.hex() for p in path],
            "tree_head": head.to_json(),
            "public_key": keys.dump_public_key(self.trusted[head.key_id]).decode("ascii")
            if head.key_id in self.trusted
            else None,
        }

    def consistency(self, stream: str, first: int, second: int) -> dict[str, Any]:
        """RFC 6962 §2.1.2 proof that head ``first`` is a prefix of head ``second``."""
        if first > second:
            raise IntegrityError("first must not be larger than second.")
        older, newer = self.head(stream, first), self.head(stream, second)
        proof = merkle.consistency_path(self._cache(stream), first, second)
        return {
            "stream": stream,
            "first": older.to_json(),
            "second": newer.to_json(),
            "proof": [p.hex() for p in proof],
        }

    # --- verification --------------------------------------------------------------------

    def verify(
        self,
        store: AuditStore,
        *,
        streams: Sequence[str] | None = None,
        start: int = 0,
        stop: int | None = None,
        time_from_ms: int | None = None,
        time_to_ms: int | None = None,
        anchors: Sequence[SignedTreeHead] = (),
    ) -> VerifyReport:
        """Prove ``store`` matches the signed heads; see :mod:`audit.integrity.verify`.

        A time window (``time_from_ms``/``time_to_ms``) is widened to head boundaries, per
        stream; otherwise ``start``/``stop`` select sequence numbers directly.
        """
        names = list(streams) if streams else sorted(set(self.log.streams()) | set(store.streams()))
        reports: list[StreamReport] = []
        for name in names:
            lo, hi = start, stop
            if time_from_ms is not None or time_to_ms is not None:
                lo, hi = self.sequence_range(name, time_from_ms, time_to_ms)
            reports.append(
                verify_stream(
                    self.log, store, name, self.trusted, start=lo, stop=hi, anchors=anchors
                )
            )
        return VerifyReport(tuple(reports))

    def sequence_range(
        self, stream: str, time_from_ms: int | None, time_to_ms: int | None
    ) -> tuple[int, int | None]:
        """Sequences logged in a time window, widened to head boundaries.

        Every event logged before a head was issued has a sequence below that head's size, so
        events of the window start at the last head issued before ``time_from_ms`` and end by
        the first head issued after ``time_to_ms`` (or the end of the log).
        """
        heads = self.log.heads(stream)
        start = 0
        if time_from_ms is not None:
            start = max((h.size for h in heads if h.timestamp_ms <= time_from_ms), default=0)
        stop = None
        if time_to_ms is not None:
            later = [h.size for h in heads if h.timestamp_ms >= time_to_ms]
            stop = min(later) if later else None
        return start, stop


class HeadTicker:
    """Calls :meth:`IntegrityService.issue_due` periodically from a daemon thread.

    Without it, a quiet stream would wait for its next event before its time threshold is
    looked at; with it, no logged event stays unsigned much longer than ``every_seconds``.
    """

    def __init__(self, service: IntegrityService, period: float | None = None) -> None:
        self._service = service
        self._period = period or max(0.05, min(service.policy.every_seconds / 4, 5.0))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="audit-heads", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self._period):
            try:
                self._service.issue_due()
            except Exception:  # the ticker must survive; log.exception records the cause
                log.exception("could not issue audit tree heads; retrying")
