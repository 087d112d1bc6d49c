"""Webhook channel: POST the alert as JSON, signed with HMAC-SM3 (see :mod:`siem.alerts.notify.delivery`).

Transient failures (connection errors, timeouts, HTTP 429 and 5xx) are retried with backoff;
any other non-2xx answer is final. Redirects are not followed (a signed body goes only where it
was configured to go). Error codes recorded on the alert carry no response text.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from typing import Final

import httpx

from siem.alerts.model import Alert
from siem.alerts.notify.delivery import (
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    Permanent,
    RetryPolicy,
    Transient,
    payload,
    sign,
    with_retries,
)

_TOO_MANY: Final = 429
_SERVER_ERROR: Final = 500


class WebhookNotifier:
    """Sends each new alert to one URL."""

    channel = "webhook"

    def __init__(
        self,
        url: str,
        secret: bytes,
        *,
        policy: RetryPolicy | None = None,
        base_url: str = "",
        timeout: float = 5.0,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        uniform: Callable[[float, float], float] = random.uniform,
    ) -> None:
        if not secret:
            raise ValueError("a webhook needs a signing secret")
        self._url = url
        self._secret = secret
        self._policy = policy or RetryPolicy()
        self._base_url = base_url
        self._clock = clock
        self._sleep = sleep
        self._uniform = uniform
        self._timeout = timeout
        self._transport = transport
        self._client: httpx.Client | None = None

    @property
    def client(self) -> httpx.Client:
        """Built on use (and again after :meth:`close`)."""
        if self._client is None:
            self._client = httpx.Client(
                timeout=self._timeout, transport=self._transport, follow_redirects=False
            )
        return self._client

    def send(self, alert: Alert) -> int:
        body = json.dumps(
            payload(alert, base_url=self._base_url), separators=(",", ":"), ensure_ascii=False
        ).encode()

        def once() -> None:
            stamp = int(self._clock())
            headers = {
                "Content-Type": "application/json",
                TIMESTAMP_HEADER: str(stamp),
                SIGNATURE_HEADER: sign(self._secret, stamp, body),
                DELIVERY_HEADER: f"{alert.id}.webhook",
            }
            try:
                response = self.client.post(self._url, content=body, headers=headers)
            except httpx.TimeoutException as exc:
                raise Transient("timeout") from exc
            except httpx.HTTPError as exc:
                raise Transient("connection_error") from exc
            status = response.status_code
            if status == _TOO_MANY or status >= _SERVER_ERROR:
                raise Transient(f"http_{status}")
            if not response.is_success:
                raise Permanent(f"http_{status}")

        _, attempts = with_retries(once, self._policy, sleep=self._sleep, uniform=self._uniform)
        return attempts

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.close()
