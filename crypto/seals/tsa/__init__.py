"""RFC 3161 time-stamping with SM2: Anbao's own TSA, requests, and token verification.

Apart from the seal format because a time-stamp is a service of its own (a signing key, a
policy, an HTTP endpoint in the registry) that seal signatures only refer to; the format's
verifier takes a :func:`timestamp_verifier` so it needs no TSA to verify.
"""

from crypto.seals.tsa.authority import (
    CONTENT_TYPE_REPLY,
    CONTENT_TYPE_TIMESTAMP,
    MAX_REQUEST_BYTES,
    TimeStampAuthority,
    TimestampChainNotFound,
    TimestampError,
    TimestampInfo,
    build_request,
    parse_response,
)
from crypto.seals.tsa.verify import timestamp_verifier, verify_token

__all__ = [
    "CONTENT_TYPE_REPLY",
    "CONTENT_TYPE_TIMESTAMP",
    "MAX_REQUEST_BYTES",
    "TimeStampAuthority",
    "TimestampChainNotFound",
    "TimestampError",
    "TimestampInfo",
    "build_request",
    "parse_response",
    "timestamp_verifier",
    "verify_token",
]
