"""The webhook channel against a real HTTP receiver on loopback that verifies like the docs say."""

from __future__ import annotations

import datetime as dt
import http.server
import json
import threading
import time
from collections.abc import Iterator

import pytest

from crypto.errors import InvalidSignature
from siem.alerts.notify.delivery import NotificationHook, RetryPolicy, verify
from siem.alerts.notify.webhook import WebhookNotifier
from siem.alerts.service import AlertService
from siem.alerts.testing import MemoryAlertStore
from tests.unit.siem.support import Clock, detection

SECRET = b"loopback-webhook-secret"


class Receiver(http.server.ThreadingHTTPServer):
    fail_first = 0
    accepted: list[dict[str, object]]
    refused = 0
    seen = 0


class Handler(http.server.BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.seen += 1
        try:
            verify(SECRET, dict(self.headers.items()), body, now=time.time())
        except InvalidSignature:
            self.server.refused += 1
            self.send_response(401)
            self.end_headers()
            return
        if self.server.fail_first:
            self.server.fail_first -= 1
            self.send_response(503)
            self.end_headers()
            return
        self.server.accepted.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        del format, args


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver(("127.0.0.1", 0), Handler)
    server.accepted = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _send(receiver: Receiver, secret: bytes) -> tuple[AlertService, str]:
    clock = Clock()
    svc = AlertService(MemoryAlertStore(), clock=clock, window=dt.timedelta(minutes=10))
    notifier = WebhookNotifier(
        f"http://127.0.0.1:{receiver.server_address[1]}/hook",
        secret,
        policy=RetryPolicy(max_attempts=4, base_seconds=0.01, cap_seconds=0.05),
    )
    alert = svc.ingest(detection())
    assert alert is not None
    NotificationHook([notifier], svc.record_delivery, clock)(alert, detection())
    notifier.close()
    return svc, alert.id


def test_signed_alert_is_accepted_after_retries(receiver: Receiver) -> None:
    receiver.fail_first = 2
    svc, alert_id = _send(receiver, SECRET)
    assert [b["id"] for b in receiver.accepted] == [alert_id]
    (delivery,) = svc.get(alert_id).deliveries
    assert (delivery.state, delivery.attempts) == ("delivered", 3)


def test_wrong_secret_is_refused_once_and_recorded(receiver: Receiver) -> None:
    svc, alert_id = _send(receiver, b"not-the-shared-secret")
    assert receiver.accepted == []
    assert (receiver.refused, receiver.seen) == (1, 1)
    (delivery,) = svc.get(alert_id).deliveries
    assert (delivery.state, delivery.attempts, delivery.error) == ("failed", 1, "http_401")
