"""Typed records of the seal registry: states, applications, seals, actors and events."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Final, Protocol

ORG_ADMIN: Final = "org-admin"
SEAL_ADMIN: Final = "seal-admin"
SEAL_USER: Final = "seal-user"
#: The step-up level applying a seal needs (Keycloak LoA "2": password + OTP; RFC 9470).
SIGN_ACR: Final = "2"


class SealState(StrEnum):
    """Lifecycle states (issue 6 §3)."""

    APPLIED = "applied"
    APPROVED = "approved"
    MADE = "made"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    REVOKED = "revoked"
    EXPIRED = "expired"


#: Allowed transitions: action -> (from states, to state).
TRANSITIONS: Final[dict[str, tuple[frozenset[SealState], SealState]]] = {
    "approve": (frozenset({SealState.APPLIED}), SealState.APPROVED),
    "make": (frozenset({SealState.APPROVED}), SealState.MADE),
    "activate": (frozenset({SealState.MADE}), SealState.ACTIVE),
    "suspend": (frozenset({SealState.ACTIVE}), SealState.SUSPENDED),
    "resume": (frozenset({SealState.SUSPENDED}), SealState.ACTIVE),
    "revoke": (
        frozenset(
            {
                SealState.APPLIED,
                SealState.APPROVED,
                SealState.MADE,
                SealState.ACTIVE,
                SealState.SUSPENDED,
            }
        ),
        SealState.REVOKED,
    ),
}


class OrgReach(Protocol):
    """The caller's live org scope, resolved by the identity authority (``iam.orgs.scope.OrgScope``).

    ``covers`` takes a node id and the live path the directory gave for that id; ``filter_path``
    is the live path of the bound node (``/`` for everything, ``""`` for nothing).
    """

    @property
    def platform(self) -> bool: ...

    @property
    def filter_path(self) -> str: ...

    def covers(self, node_id: str, node_path: str) -> bool: ...


@dataclass(frozen=True)
class NoReach:
    """The empty scope: covers nothing (the default: deny)."""

    platform: bool = False
    filter_path: str = ""

    def covers(self, node_id: str, node_path: str) -> bool:
        """Nothing."""
        del node_id, node_path
        return False


@dataclass(frozen=True)
class OrgUnit:
    """An org node as the live directory has it (``OrgTree``): id, code, kind, name, path."""

    id: str
    code: str
    kind: str
    name: str
    path: str
    disabled: bool = False


@dataclass(frozen=True)
class Actor:
    """Who is calling, as the composition root established it from the access token.

    ``org_path`` is only recorded in audit events; every org decision uses ``scope``, the live
    binding the identity authority resolved for this request.
    """

    subject: str
    username: str
    roles: frozenset[str]
    org_path: str
    #: True when the token's acr satisfies ``SIGN_ACR`` (checked again by the service).
    stepped_up: bool = False
    source_ip: str = ""
    scope: OrgReach = field(default_factory=NoReach)


@dataclass(frozen=True)
class Application:
    """What an org admin submits: the organisation, the seal and who may apply it.

    The organisation is a node of the live org tree: ``org_node_id`` is its id (what scoping
    compares), ``org_path`` its live path when the seal was applied for (a snapshot for
    display, the audit trail and a first SQL filter). A body names the node by id or code
    (``org_node``) or by path; the service resolves it and stores both.
    """

    org_path: str
    org_name: str
    uscc: str
    name: str
    holders: tuple[str, ...]
    picture_type: str
    picture: bytes = field(repr=False)
    width_mm: int
    height_mm: int
    valid_days: int = 1095
    org_node_id: str = ""


@dataclass(frozen=True)
class SealRecord:
    """A seal in the registry. ``cert_serial`` is hex (serials exceed 64-bit integers)."""

    id: str
    es_id: str
    state: SealState
    application: Application
    applicant: str
    applicant_name: str
    created_at: datetime
    updated_at: datetime
    version: int = 1
    approver: str = ""
    maker: str = ""
    valid_start: datetime | None = None
    valid_end: datetime | None = None
    key_id: str = ""
    cert_serial: str = ""
    cert_der: bytes = field(default=b"", repr=False)
    seal_der: bytes = field(default=b"", repr=False)
    revoked_at: datetime | None = None
    revocation_reason: str = ""

    def evolve(self, **changes: object) -> SealRecord:
        """A copy with ``changes`` and the version bumped."""
        return dataclasses.replace(self, version=self.version + 1, **changes)  # type: ignore[arg-type]


@dataclass(frozen=True)
class SealEvent:
    """An audit event of the registry: a transition or a use, with the document's SM3 hash."""

    action: str
    outcome: str
    seal_id: str
    actor: Actor
    org_path: str
    reason: str = ""
    document_sm3: str = ""
    labels: dict[str, str] = field(default_factory=dict)
