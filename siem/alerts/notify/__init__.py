"""Alert notifications: the signed payload (HMAC-SM3), bounded retries and delivery state.

Apart from triage because delivery talks to the outside and fails in its own ways (transient,
permanent), and must never hold up the alert it reports. The channels are imported by module:
``siem.alerts.notify.webhook`` (HTTP), ``siem.alerts.notify.smtp`` (e-mail).
"""

from siem.alerts.notify.delivery import (
    DeliveryFailed,
    NotificationHook,
    Permanent,
    RetryPolicy,
    Transient,
    payload,
    sign,
    verify,
)

__all__ = [
    "DeliveryFailed",
    "NotificationHook",
    "Permanent",
    "RetryPolicy",
    "Transient",
    "payload",
    "sign",
    "verify",
]
