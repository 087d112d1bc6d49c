"""Webhook signing, verification, retries and the delivery record (no network: httpx.MockTransport
is the webhook receiver here; the SMTP channel is tested against a real server in integration)."""

from __future__ import annotations

import datetime as dt
import json

import httpx
import pytest
from gmssl import func as gm_func
from gmssl import sm3 as gm_sm3

from crypto.errors import InvalidSignature
from siem.alerts.model import Delivery
from siem.alerts.notify.delivery import (
    DeliveryFailed,
    NotificationHook,
    RetryPolicy,
    Transient,
    sign,
    verify,
    with_retries,
)
from siem.alerts.notify.smtp import SmtpNotifier
from siem.alerts.notify.webhook import WebhookNotifier
from siem.alerts.service import AlertRecords, AlertService, BackgroundHooks
from siem.alerts.testing import MemoryAlertStore
from siem.model import Severity
from tests.unit.siem.support import Clock, detection

SECRET = b"webhook-secret-for-tests"
NOW = 1_800_000_000


def gmssl_hmac_sm3(key: bytes, data: bytes) -> bytes:
    """RFC 2104 HMAC over gmssl's SM3 (an independent implementation, test oracle only)."""
    block = 64
    key = key.ljust(block, b"\0")
    inner = gm_sm3.sm3_hash(gm_func.bytes_to_list(bytes(k ^ 0x36 for k in key) + data))
    outer_in = bytes(k ^ 0x5C for k in key) + bytes.fromhex(inner)
    return bytes.fromhex(gm_sm3.sm3_hash(gm_func.bytes_to_list(outer_in)))


def test_signature_is_hmac_sm3_over_timestamp_dot_body() -> None:
    body = b'{"id":"a1"}'
    expected = gmssl_hmac_sm3(SECRET, b"1800000000." + body).hex()
    assert sign(SECRET, NOW, body) == "sm3=" + expected


def headers_for(body: bytes, stamp: int = NOW) -> dict[str, str]:
    return {"x-anbao-timestamp": str(stamp), "X-Anbao-Signature": sign(SECRET, stamp, body)}


def test_verify_accepts_fresh_and_refuses_tampering_and_replay() -> None:
    body = b'{"id":"a1"}'
    verify(SECRET, headers_for(body), body, now=NOW + 299)
    with pytest.raises(InvalidSignature):
        verify(SECRET, headers_for(body), body + b" ", now=NOW)
    with pytest.raises(InvalidSignature):
        verify(b"other", headers_for(body), body, now=NOW)
    with pytest.raises(InvalidSignature, match="replay"):
        verify(SECRET, headers_for(body), body, now=NOW + 301)
    forged = headers_for(body) | {"x-anbao-timestamp": str(NOW + 1)}
    with pytest.raises(InvalidSignature):
        verify(SECRET, forged, body, now=NOW)
    with pytest.raises(InvalidSignature):
        verify(SECRET, {"X-Anbao-Signature": "sm3=zz", "X-Anbao-Timestamp": "1"}, body, now=1)


def test_backoff_is_exponential_capped_and_jittered() -> None:
    policy = RetryPolicy(max_attempts=10, base_seconds=1.0, cap_seconds=8.0)
    upper = [policy.delay(n, lambda lo, hi: hi) for n in range(1, 7)]
    assert upper == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    assert policy.delay(3, lambda lo, hi: lo) == 0.0


def test_retries_are_bounded() -> None:
    calls: list[int] = []
    sleeps: list[float] = []

    def flaky() -> None:
        calls.append(1)
        raise Transient("http_503")

    with pytest.raises(DeliveryFailed) as info:
        with_retries(
            flaky, RetryPolicy(max_attempts=4), sleep=sleeps.append, uniform=lambda a, b: b
        )
    assert (info.value.attempts, info.value.code) == (4, "http_503")
    assert sleeps == [1.0, 2.0, 4.0]


class Receiver:
    """A webhook receiver that verifies like a real one and fails the first ``fail`` calls."""

    def __init__(self, fail: int = 0, status: int = 503) -> None:
        self.fail = fail
        self.status = status
        self.bodies: list[dict[str, object]] = []
        self.delivery_ids: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        verify(SECRET, dict(request.headers), request.content, now=NOW)
        self.delivery_ids.append(request.headers["x-anbao-delivery"])
        if self.fail:
            self.fail -= 1
            return httpx.Response(self.status)
        self.bodies.append(json.loads(request.content))
        return httpx.Response(204)


def webhook(receiver: Receiver, sleeps: list[float]) -> WebhookNotifier:
    return WebhookNotifier(
        "https://hooks.example/anbao",
        SECRET,
        transport=httpx.MockTransport(receiver),
        clock=lambda: NOW,
        sleep=sleeps.append,
        uniform=lambda lo, hi: hi / 2,
        policy=RetryPolicy(max_attempts=3),
        base_url="https://anbao.example",
    )


def new_alert_service() -> tuple[AlertService, Clock]:
    clock = Clock()
    return AlertService(MemoryAlertStore(), clock=clock, window=dt.timedelta(minutes=10)), clock


def test_webhook_delivers_signed_alert_after_transient_failures_and_records_it() -> None:
    svc, clock = new_alert_service()
    receiver, sleeps = Receiver(fail=2), []
    hook = NotificationHook([webhook(receiver, sleeps)], svc.record_delivery, clock)
    alert = svc.ingest(detection())
    assert alert is not None
    hook(alert, detection())
    assert sleeps == [0.5, 1.0]
    (body,) = receiver.bodies
    assert body["id"] == alert.id
    assert body["entity"] == {"user.name": "alice"}
    assert body["url"] == f"https://anbao.example/siem/alerts/{alert.id}"
    assert set(receiver.delivery_ids) == {f"{alert.id}.webhook"}
    assert svc.get(alert.id).deliveries == (Delivery("webhook", "delivered", 3, clock.now),)


@pytest.mark.parametrize(
    ("fail", "status", "attempts", "code"),
    [(9, 503, 3, "http_503"), (9, 400, 1, "http_400"), (9, 429, 3, "http_429")],
)
def test_webhook_failure_is_recorded_not_raised(
    fail: int, status: int, attempts: int, code: str
) -> None:
    svc, clock = new_alert_service()
    receiver = Receiver(fail=fail, status=status)
    hook = NotificationHook([webhook(receiver, [])], svc.record_delivery, clock)
    alert = svc.ingest(detection())
    assert alert is not None
    hook(alert, detection())
    assert svc.get(alert.id).deliveries == (
        Delivery("webhook", "failed", attempts, clock.now, code),
    )


def test_low_severity_alerts_are_not_sent() -> None:
    svc, clock = new_alert_service()
    receiver = Receiver()
    hook = NotificationHook(
        [webhook(receiver, [])], svc.record_delivery, clock, min_severity=Severity.HIGH
    )
    alert = svc.ingest(detection(severity=Severity.MEDIUM))
    assert alert is not None
    hook(alert, detection())
    assert receiver.bodies == []
    assert svc.get(alert.id).deliveries == ()


def test_mail_subject_cannot_be_injected() -> None:
    svc, _ = new_alert_service()
    alert = svc.ingest(detection(user="eve\r\nBcc: victim@example.org"))
    assert alert is not None
    notifier = SmtpNotifier(
        "127.0.0.1", 25, "siem@anbao.example", ["soc@anbao.example"], starttls=False
    )
    msg = notifier.message(alert)
    assert "\n" not in msg["Subject"]
    assert msg["Bcc"] is None
    assert "eve" in msg["Subject"]


def test_smtp_refuses_credentials_without_tls() -> None:
    with pytest.raises(ValueError, match="STARTTLS"):
        SmtpNotifier("h", 25, "a@b", ["c@d"], starttls=False, username="u", password="p")


def test_production_refuses_a_plain_http_webhook() -> None:
    from anbao.settings import Settings, SettingsError

    base = {
        "ANBAO_ENVIRONMENT": "production",
        "ANBAO_SERVER_BEHIND_TLS_PROXY": "true",
        "ANBAO_KEYCLOAK_URL": "https://kc.example",
        "ANBAO_KEYCLOAK_CLIENT_SECRET": "introspection",
        "ANBAO_KEYCLOAK_ADMIN_CLIENT_SECRET": "admin-client",
        "ANBAO_CONSOLE_CLIENT_SECRET": "console-client",
        "ANBAO_CONSOLE_PUBLIC_URL": "https://anbao.example",
        "ANBAO_SIEM_WEBHOOK_SECRET": "s",
    }
    with pytest.raises(SettingsError, match=r"siem\.webhook_url"):
        Settings.load(base | {"ANBAO_SIEM_WEBHOOK_URL": "http://hooks.example/x"})
    assert Settings.load(
        base | {"ANBAO_SIEM_WEBHOOK_URL": "https://hooks.example/x"}
    ).siem.webhook_url
    with pytest.raises(SettingsError, match=r"siem\.webhook_secret"):
        Settings.load(
            base
            | {"ANBAO_SIEM_WEBHOOK_URL": "https://hooks.example/x", "ANBAO_SIEM_WEBHOOK_SECRET": ""}
        )


def test_the_hook_is_built_before_the_service_that_runs_it() -> None:
    """No part is changed after construction: the hook writes through the store's records, so
    the service gets its finished hooks when it is built."""
    clock, store, receiver = Clock(), MemoryAlertStore(), Receiver()
    records = AlertRecords(store, clock=clock)
    hooks = BackgroundHooks(
        [NotificationHook([webhook(receiver, [])], records.record_delivery, clock)]
    )
    svc = AlertService(store, clock=clock, window=dt.timedelta(minutes=10), on_new=hooks)
    alert = svc.ingest(detection())
    assert alert is not None
    hooks.close()
    assert [body["id"] for body in receiver.bodies] == [alert.id]
    assert svc.get(alert.id).deliveries == (Delivery("webhook", "delivered", 1, clock.now),)
    assert not hasattr(hooks, "set")
