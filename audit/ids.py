"""Event ids: UUIDv7 text (RFC 9562 §5.7), time-ordered, from a millisecond and 74 other bits.

One layout for both kinds of id: random ones drawn by the recorder, and ones the spool derives
from a grouped request record's place (:func:`audit.request_record.derived_event_id`).
"""

from __future__ import annotations

_MS_MASK = (1 << 48) - 1
_LOW = (1 << 62) - 1


def uuid7(ms: int, bits74: int) -> str:
    """``str(uuid.UUID(...))`` of a version-7 UUID, formatted at a third of its cost."""
    value = ((ms & _MS_MASK) << 80) | (0x7 << 76) | ((bits74 >> 62) & 0xFFF) << 64
    value |= (0b10 << 62) | (bits74 & _LOW)
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
