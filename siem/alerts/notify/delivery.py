"""Alert notifications: the signed webhook format, bounded retries, delivery state.

Webhook signature (docs/siem-alerts.md, "Verifying webhooks"): the sender puts the Unix time in
``X-Anbao-Timestamp`` and ``sm3=<hex>`` in ``X-Anbao-Signature``, where the hex is
HMAC-SM3 (GB/T 32905-2016 hash in the RFC 2104 construction; OID 1.2.156.10197.1.401.2) over
``<timestamp> "." <raw body>`` with the shared secret. A receiver recomputes it, compares in
constant time and refuses a timestamp more than five minutes away from its clock, so a captured
request cannot be replayed later; ``X-Anbao-Delivery`` is unique per alert and channel for
de-duplicating retries within the window.

Retries: exponential backoff with full jitter (delay drawn uniformly from
``[0, min(cap, base * 2**(attempt-1))]``), a bounded number of attempts; only transient
failures (network errors, HTTP 5xx/429, SMTP 4xx) are retried.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final, TypeVar

from crypto import sm3
from crypto.errors import InvalidSignature
from siem.alerts.codec import format_time
from siem.alerts.model import Alert, Delivery
from siem.alerts.ports import Notifier
from siem.model import Detection, Severity

log = logging.getLogger("siem.notify")

SIGNATURE_HEADER: Final = "X-Anbao-Signature"
TIMESTAMP_HEADER: Final = "X-Anbao-Timestamp"
DELIVERY_HEADER: Final = "X-Anbao-Delivery"
SIGNATURE_SCHEME: Final = "sm3="
#: Receivers refuse timestamps further than this from their clock (replay window).
REPLAY_TOLERANCE_SECONDS: Final = 300

T = TypeVar("T")


class Transient(Exception):
    """A failure worth retrying; ``code`` is a short, secret-free description."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class Permanent(Exception):
    """A failure that another attempt will not fix (e.g. HTTP 400, SMTP 550)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class DeliveryFailed(Exception):
    """Delivery gave up: after ``attempts`` tries, last error ``code``."""

    def __init__(self, code: str, attempts: int) -> None:
        super().__init__(f"{code} after {attempts} attempt(s)")
        self.code = code
        self.attempts = attempts


@dataclasses.dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 5
    base_seconds: float = 1.0
    cap_seconds: float = 60.0

    def delay(self, attempt: int, uniform: Callable[[float, float], float]) -> float:
        """Full-jitter backoff before attempt ``attempt + 1`` (attempt counts from 1)."""
        return uniform(0.0, min(self.cap_seconds, self.base_seconds * 2 ** (attempt - 1)))


def with_retries(
    send: Callable[[], T],
    policy: RetryPolicy,
    *,
    sleep: Callable[[float], None],
    uniform: Callable[[float, float], float],
) -> tuple[T, int]:
    """Run ``send`` until it succeeds; returns its result and the attempts it took."""
    attempt = 0
    while True:
        attempt += 1
        try:
            return send(), attempt
        except Permanent as exc:
            raise DeliveryFailed(exc.code, attempt) from exc
        except Transient as exc:
            if attempt >= policy.max_attempts:
                raise DeliveryFailed(exc.code, attempt) from exc
            sleep(policy.delay(attempt, uniform))


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    """The ``X-Anbao-Signature`` value for ``body`` sent at ``timestamp``."""
    return SIGNATURE_SCHEME + sm3.hmac(secret, b"%d." % timestamp + body).hex()


def verify(
    secret: bytes,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: float,
    tolerance: int = REPLAY_TOLERANCE_SECONDS,
) -> None:
    """What a receiver does; raises :class:`crypto.errors.InvalidSignature` on any mismatch.

    ``headers`` is matched case-insensitively. The timestamp is checked before the MAC so a
    stale request is refused even with a valid signature (replay).
    """
    lower = {k.lower(): v for k, v in headers.items()}
    stamp = lower.get(TIMESTAMP_HEADER.lower(), "")
    value = lower.get(SIGNATURE_HEADER.lower(), "")
    if not stamp.isdigit() or not value.startswith(SIGNATURE_SCHEME):
        raise InvalidSignature("missing or malformed webhook signature headers")
    if abs(now - int(stamp)) > tolerance:
        raise InvalidSignature("webhook timestamp outside the replay window")
    try:
        tag = bytes.fromhex(value[len(SIGNATURE_SCHEME) :])
    except ValueError:
        raise InvalidSignature("malformed webhook signature") from None
    sm3.verify_hmac(secret, b"%s." % stamp.encode() + body, tag)


def payload(alert: Alert, *, base_url: str = "") -> dict[str, Any]:
    """What channels send: the alert summary and links, never notes or delivery state."""
    return {
        "type": "anbao.siem.alert",
        "id": alert.id,
        "rule": {"id": alert.rule_id, "title": alert.rule_title, "tags": list(alert.rule_tags)},
        "severity": alert.severity.value,
        "status": alert.status.value,
        "entity": dict(alert.entity),
        "count": alert.count,
        "event_count": alert.event_count,
        "event_ids": list(alert.event_ids),
        "first_event_time": format_time(alert.first_event_time),
        "last_event_time": format_time(alert.last_event_time),
        "created_at": format_time(alert.created_at),
        "url": f"{base_url.rstrip('/')}/siem/alerts/{alert.id}",
    }


class NotificationHook:
    """New-alert hook: send through every channel, record each channel's outcome on the alert."""

    def __init__(
        self,
        notifiers: Sequence[Notifier],
        record: Callable[[str, Delivery], object],
        clock: Callable[[], dt.datetime],
        *,
        min_severity: Severity = Severity.LOW,
    ) -> None:
        self._notifiers = tuple(notifiers)
        self._record = record
        self._clock = clock
        self._min = min_severity

    def __call__(self, alert: Alert, detection: Detection) -> None:
        del detection
        if alert.severity.rank < self._min.rank:
            return
        for notifier in self._notifiers:
            try:
                attempts = notifier.send(alert)
                delivery = Delivery(notifier.channel, "delivered", attempts, self._clock())
            except DeliveryFailed as exc:
                log.warning("alert %s: %s delivery failed: %s", alert.id, notifier.channel, exc)
                delivery = Delivery(
                    notifier.channel, "failed", exc.attempts, self._clock(), exc.code
                )
            self._record(alert.id, delivery)
