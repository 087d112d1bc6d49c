"""Personal data in audit events: SM4-GCM field encryption, masking, and an audited reveal.

A room of its own because confidentiality cuts across recording (fields are encrypted before
they are stored), search (they are masked in results) and reveal (an authorized analyst, at a
raised assurance level, decrypts one event, and that act is itself audited).
"""

from audit.sensitive.masking import (
    MASK,
    FieldCipher,
    Keyring,
    SensitiveDataError,
    is_token,
    load_or_create_keyring,
    mask_document,
)
from audit.sensitive.service import (
    REVEAL_ACR,
    REVEAL_ACTION,
    REVEAL_ROLE,
    Actor,
    AuditEventNotFound,
    RevealService,
    in_scope,
)

__all__ = [
    "MASK",
    "REVEAL_ACR",
    "REVEAL_ACTION",
    "REVEAL_ROLE",
    "Actor",
    "AuditEventNotFound",
    "FieldCipher",
    "Keyring",
    "RevealService",
    "SensitiveDataError",
    "in_scope",
    "is_token",
    "load_or_create_keyring",
    "mask_document",
]
