"""E-mail channel: one plain-text message per new alert through ``smtplib``.

STARTTLS (RFC 3207) is used when configured, with certificate and host name verification
(``ssl.create_default_context``, optionally a private CA file); credentials are sent only after
TLS is up. SMTP 4xx replies and dropped connections are retried with backoff; 5xx is final.
"""

from __future__ import annotations

import random
import re
import smtplib
import ssl
import time
from collections.abc import Callable, Sequence
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Final

from siem.alerts.model import Alert
from siem.alerts.notify.delivery import Permanent, RetryPolicy, Transient, payload, with_retries

_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f]+")
_TRANSIENT_MIN: Final = 400
_PERMANENT_MIN: Final = 500


def _clean(text: str) -> str:
    """No control characters in headers (no header injection through an entity value)."""
    return _CONTROL.sub(" ", text)[:200]


class SmtpNotifier:
    """Mails each new alert to ``recipients``."""

    channel = "smtp"

    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        recipients: Sequence[str],
        *,
        starttls: bool = True,
        username: str = "",
        password: str = "",
        ca_file: str = "",
        timeout: float = 10.0,
        policy: RetryPolicy | None = None,
        base_url: str = "",
        sleep: Callable[[float], None] = time.sleep,
        uniform: Callable[[float, float], float] = random.uniform,
    ) -> None:
        if not recipients:
            raise ValueError("SMTP notifications need at least one recipient")
        if username and not starttls:
            raise ValueError("SMTP credentials are sent only over STARTTLS")
        self._host, self._port, self._sender = host, port, sender
        self._recipients = tuple(recipients)
        self._starttls = starttls
        self._username, self._password = username, password
        self._ca_file = ca_file
        self._timeout = timeout
        self._policy = policy or RetryPolicy()
        self._base_url = base_url
        self._sleep, self._uniform = sleep, uniform

    def message(self, alert: Alert) -> EmailMessage:
        """The e-mail for ``alert`` (subject: severity, rule title, entity)."""
        data = payload(alert, base_url=self._base_url)
        msg = EmailMessage()
        msg["Subject"] = _clean(
            f"[anbao][{alert.severity.value}] {alert.rule_title} ({alert.entity_text})"
        )
        msg["From"] = self._sender
        msg["To"] = ", ".join(self._recipients)
        msg["Date"] = format_datetime(alert.created_at)
        msg["Message-ID"] = make_msgid(idstring=alert.id[:16], domain="anbao.siem")
        lines = [
            f"Rule:      {data['rule']['title']} ({data['rule']['id']})",
            f"Severity:  {data['severity']}",
            f"Entity:    {alert.entity_text}",
            f"Events:    {data['event_count']} (first {data['first_event_time']}, last {data['last_event_time']})",
            f"Event ids: {', '.join(data['event_ids'][:20])}",
            f"Alert:     {data['url']}",
        ]
        msg.set_content("\n".join(lines) + "\n")
        return msg

    def send(self, alert: Alert) -> int:
        msg = self.message(alert)

        def once() -> None:
            try:
                with smtplib.SMTP(self._host, self._port, timeout=self._timeout) as smtp:
                    if self._starttls:
                        smtp.starttls(context=self._context())
                    if self._username:
                        smtp.login(self._username, self._password)
                    smtp.send_message(msg)
            except smtplib.SMTPResponseException as exc:
                code = f"smtp_{exc.smtp_code}"
                if _TRANSIENT_MIN <= exc.smtp_code < _PERMANENT_MIN:
                    raise Transient(code) from exc
                raise Permanent(code) from exc
            except smtplib.SMTPNotSupportedError as exc:
                raise Permanent("starttls_not_supported") from exc
            except ssl.SSLError as exc:
                raise Permanent("tls_error") from exc
            except smtplib.SMTPRecipientsRefused as exc:
                raise Permanent("recipients_refused") from exc
            except (smtplib.SMTPException, OSError) as exc:
                raise Transient("connection_error") from exc

        _, attempts = with_retries(once, self._policy, sleep=self._sleep, uniform=self._uniform)
        return attempts

    def _context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self._ca_file or None)
