"""Value objects of the tamper-evident trail: signed tree heads, leaf records, verify findings.

A *signed tree head* (STH) commits, with SM2, to the Merkle root (SM3, RFC 6962 structure; see
:mod:`audit.integrity.merkle`) of the first ``size`` events of a stream. Its signed bytes are a fixed
binary layout, so an auditor can rebuild them with ``struct`` and check the signature with the
``openssl`` CLI (procedure: ``docs/audit-verification.md``)::

    "anbao-audit-sth" 0x00          16 bytes, fixed label (domain separation)
    version                         1 byte, = 1
    len(stream)                     2 bytes, big-endian
    stream                          UTF-8
    tree_size                       8 bytes, big-endian
    timestamp                       8 bytes, big-endian, milliseconds since the Unix epoch (UTC)
    root_hash                       32 bytes, SM3 Merkle root

The signature is SM2 over those bytes with SM3 and the default distinguishing id
``1234567812345678`` (GB/T 32918.2 §5.5, GM/T 0009 §10), DER-encoded (GM/T 0009 §7.3). The
layout follows RFC 6962 §3.5's ``TreeHeadSignature`` (version, timestamp, size, root), with the
stream name added because Anbao keeps one tree per stream.

Leaf input: the stored document's canonical JSON (``audit.model.canonical_json``, RFC 8785
compatible), ``anbao.sequence`` included; the leaf's index in the tree is that sequence number.
"""

from __future__ import annotations

import base64
import dataclasses
import enum
import struct
from collections.abc import Mapping
from typing import Any, Final

from audit.errors import AuditError

STH_LABEL: Final = b"anbao-audit-sth\x00"
STH_VERSION: Final = 1
ROOT_SIZE: Final = 32


class IntegrityError(AuditError):
    """The integrity log refuses an operation (conflicting leaf, unknown head, bad range)."""

    code = "audit_integrity_error"
    title = "Audit integrity operation refused"


class HeadNotFound(IntegrityError):
    code = "audit_head_not_found"
    title = "Signed tree head not found"


class EventNotLogged(IntegrityError):
    code = "audit_event_not_logged"
    title = "Event is not covered by a signed tree head yet"


@dataclasses.dataclass(frozen=True, slots=True)
class LeafRecord:
    """One entry of the leaf-hash log kept beside the heads: position, event id, leaf hash."""

    stream: str
    sequence: int
    event_id: str
    leaf_hash: bytes


@dataclasses.dataclass(frozen=True, slots=True)
class SignedTreeHead:
    """An SM2-signed commitment to the first ``size`` leaves of ``stream``."""

    stream: str
    size: int
    timestamp_ms: int
    root: bytes
    key_id: str
    signature: bytes

    def signed_bytes(self) -> bytes:
        """The exact bytes the signature covers (layout in the module docstring)."""
        return tree_head_tbs(self.stream, self.size, self.timestamp_ms, self.root)

    def to_json(self) -> dict[str, Any]:
        """JSON form for the API and the NDJSON export (hex root, base64 DER signature)."""
        return {
            "stream": self.stream,
            "tree_size": self.size,
            "timestamp": self.timestamp_ms,
            "root_hash": self.root.hex(),
            "key_id": self.key_id,
            "signature": base64.b64encode(self.signature).decode("ascii"),
            "signature_algorithm": "sm2-with-sm3",
            "hash_algorithm": "sm3",
            "version": STH_VERSION,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SignedTreeHead:
        """Parse :meth:`to_json` output; raises :class:`IntegrityError` when malformed."""
        try:
            return cls(
                stream=str(data["stream"]),
                size=int(data["tree_size"]),
                timestamp_ms=int(data["timestamp"]),
                root=bytes.fromhex(str(data["root_hash"])),
                key_id=str(data["key_id"]),
                signature=base64.b64decode(str(data["signature"]), validate=True),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise IntegrityError("A signed tree head is malformed.") from exc


def tree_head_tbs(stream: str, size: int, timestamp_ms: int, root: bytes) -> bytes:
    """Canonical to-be-signed bytes of a tree head (see module docstring)."""
    name = stream.encode("utf-8")
    if len(root) != ROOT_SIZE or not 0 <= size < 1 << 64 or not 0 <= timestamp_ms < 1 << 64:
        raise IntegrityError("A tree head field is out of range.")
    return b"".join(
        (
            STH_LABEL,
            struct.pack(">BH", STH_VERSION, len(name)),
            name,
            struct.pack(">QQ", size, timestamp_ms),
            root,
        )
    )


class FindingKind(enum.StrEnum):
    """What ``verify`` found; every kind but ``unlogged`` is tampering (exit status 1)."""

    MODIFIED = "modified"  # stored content differs from what was logged at that position
    DELETED = "deleted"  # logged event missing from the store
    INSERTED = "inserted"  # stored event the log never saw
    REORDERED = "reordered"  # logged event found, unchanged, at another position
    HEAD_SIGNATURE = "head_signature"  # a tree head's SM2 signature does not verify
    HEAD_ROOT = "head_root"  # the leaf log no longer hashes to a signed root
    HEAD_ORDER = "head_order"  # heads shrink or go back in time
    UNLOGGED = "unlogged"  # stored beyond the log's end: not yet logged (informational)


@dataclasses.dataclass(frozen=True, slots=True)
class Finding:
    kind: FindingKind
    stream: str
    sequence: int | None = None
    event_id: str = ""
    expected_sequence: int | None = None
    detail: str = ""

    @property
    def is_tampering(self) -> bool:
        return self.kind is not FindingKind.UNLOGGED

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind.value, "stream": self.stream}
        if self.sequence is not None:
            out["sequence"] = self.sequence
        if self.event_id:
            out["event_id"] = self.event_id
        if self.expected_sequence is not None:
            out["expected_sequence"] = self.expected_sequence
        if self.detail:
            out["detail"] = self.detail
        return out


@dataclasses.dataclass(frozen=True, slots=True)
class StreamReport:
    """Verification of one stream over ``[start, stop)`` of its sequence numbers."""

    stream: str
    start: int
    stop: int
    checked_events: int
    heads_checked: int
    signed_size: int
    logged_size: int
    findings: tuple[Finding, ...]

    @property
    def ok(self) -> bool:
        return not any(f.is_tampering for f in self.findings)

    def to_json(self) -> dict[str, Any]:
        return {
            "stream": self.stream,
            "ok": self.ok,
            "range": {"start": self.start, "stop": self.stop},
            "checked_events": self.checked_events,
            "heads_checked": self.heads_checked,
            "signed_size": self.signed_size,
            "logged_size": self.logged_size,
            "unsigned_tail": self.logged_size - self.signed_size,
            "findings": [f.to_json() for f in self.findings],
        }


@dataclasses.dataclass(frozen=True, slots=True)
class VerifyReport:
    streams: tuple[StreamReport, ...]

    @property
    def ok(self) -> bool:
        return all(s.ok for s in self.streams)

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "streams": [s.to_json() for s in self.streams]}
