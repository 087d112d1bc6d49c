"""Tamper evidence for the audit trail: SM3 Merkle trees (RFC 6962) and SM2-signed tree heads.

A room of its own because it answers a different question from storing or searching events:
can anyone prove an event was, or was not, altered or dropped? Its log of leaf hashes and
signed heads is kept apart from the events (:class:`IntegrityLog`), so a store's operator
cannot rewrite both. Adapters and the composition-time builder are imported by module:
``audit.integrity.sqlite``, ``sqlite_raw``, ``elasticsearch`` (raw scans), ``resources``
(Falcon), ``setup`` (builds the service from settings).
"""

from audit.integrity.merkle import (
    CompactTree,
    Hasher,
    ProofError,
    verify_consistency,
    verify_inclusion,
)
from audit.integrity.model import (
    EventNotLogged,
    Finding,
    FindingKind,
    HeadNotFound,
    IntegrityError,
    LeafRecord,
    SignedTreeHead,
    StreamReport,
    VerifyReport,
)
from audit.integrity.ports import IntegrityLog, SpooledDocument
from audit.integrity.scan import RawScanner
from audit.integrity.service import HeadPolicy, HeadSigner, HeadTicker, IntegrityService

__all__ = [
    "CompactTree",
    "EventNotLogged",
    "Finding",
    "FindingKind",
    "Hasher",
    "HeadNotFound",
    "HeadPolicy",
    "HeadSigner",
    "HeadTicker",
    "IntegrityError",
    "IntegrityLog",
    "IntegrityService",
    "LeafRecord",
    "ProofError",
    "RawScanner",
    "SignedTreeHead",
    "SpooledDocument",
    "StreamReport",
    "VerifyReport",
    "verify_consistency",
    "verify_inclusion",
]
