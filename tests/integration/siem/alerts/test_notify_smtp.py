"""The SMTP channel against a real SMTP server process (aiosmtpd) on loopback, with STARTTLS."""

from __future__ import annotations

import datetime as dt
import ipaddress
import mailbox
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from siem.alerts.model import Delivery
from siem.alerts.notify.delivery import NotificationHook, RetryPolicy
from siem.alerts.notify.smtp import SmtpNotifier
from siem.alerts.service import AlertService
from siem.alerts.testing import MemoryAlertStore
from tests.unit.siem.support import Clock, detection


def _self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "smtp.crt", directory / "smtp.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class SmtpServer:
    def __init__(self, port: int, maildir: Path, cert: Path) -> None:
        self.port, self.maildir, self.cert = port, maildir, cert

    def messages(self) -> list[mailbox.MaildirMessage]:
        return list(mailbox.Maildir(self.maildir, create=False))


@pytest.fixture
def smtp_server(tmp_path: Path) -> Iterator[SmtpServer]:
    cert, key = _self_signed(tmp_path)
    maildir, port = tmp_path / "mail", _free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "aiosmtpd",
            "-n",
            "-l",
            f"127.0.0.1:{port}",
            "-c",
            "aiosmtpd.handlers.Mailbox",
            "--tlscert",
            str(cert),
            "--tlskey",
            str(key),
            str(maildir),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(
                        f"aiosmtpd did not start: {proc.stderr.read() if proc.stderr else ''}"
                    )
                time.sleep(0.05)
        yield SmtpServer(port, maildir, cert)
    finally:
        proc.terminate()
        proc.wait(10)
        if proc.stderr is not None:
            proc.stderr.close()


def test_alert_mail_over_starttls_is_delivered_and_recorded(smtp_server: SmtpServer) -> None:
    clock = Clock()
    svc = AlertService(MemoryAlertStore(), clock=clock, window=dt.timedelta(minutes=10))
    notifier = SmtpNotifier(
        "127.0.0.1",
        smtp_server.port,
        "siem@anbao.example",
        ["soc@anbao.example", "duty@anbao.example"],
        starttls=True,
        ca_file=str(smtp_server.cert),
        base_url="https://anbao.example",
    )
    alert = svc.ingest(detection())
    assert alert is not None
    NotificationHook([notifier], svc.record_delivery, clock)(alert, detection())
    (msg,) = smtp_server.messages()
    assert msg["Subject"] == f"[anbao][high] {alert.rule_title} (user.name=alice)"
    assert msg["To"] == "soc@anbao.example, duty@anbao.example"
    assert f"https://anbao.example/siem/alerts/{alert.id}" in msg.get_payload()
    assert alert.event_ids[0] in msg.get_payload()
    assert svc.get(alert.id).deliveries == (Delivery("smtp", "delivered", 1, clock.now),)


def test_server_requiring_starttls_refuses_plain_mail(smtp_server: SmtpServer) -> None:
    notifier = SmtpNotifier(
        "127.0.0.1",
        smtp_server.port,
        "siem@anbao.example",
        ["soc@anbao.example"],
        starttls=False,
        policy=RetryPolicy(max_attempts=1),
    )
    clock = Clock()
    svc = AlertService(MemoryAlertStore(), clock=clock, window=dt.timedelta(minutes=10))
    alert = svc.ingest(detection())
    assert alert is not None
    NotificationHook([notifier], svc.record_delivery, clock)(alert, detection())
    (delivery,) = svc.get(alert.id).deliveries
    assert (delivery.state, delivery.error) == ("failed", "smtp_530")
    assert smtp_server.messages() == []


def test_untrusted_certificate_is_refused(smtp_server: SmtpServer) -> None:
    notifier = SmtpNotifier(
        "127.0.0.1",
        smtp_server.port,
        "siem@anbao.example",
        ["soc@anbao.example"],
        starttls=True,
        policy=RetryPolicy(max_attempts=1),
    )
    clock = Clock()
    svc = AlertService(MemoryAlertStore(), clock=clock, window=dt.timedelta(minutes=10))
    alert = svc.ingest(detection())
    assert alert is not None
    NotificationHook([notifier], svc.record_delivery, clock)(alert, detection())
    (delivery,) = svc.get(alert.id).deliveries
    assert (delivery.state, delivery.error) == ("failed", "tls_error")


def test_unreachable_server_is_retried_then_given_up() -> None:
    sleeps: list[float] = []
    notifier = SmtpNotifier(
        "127.0.0.1",
        _free_port(),
        "siem@anbao.example",
        ["soc@anbao.example"],
        starttls=False,
        policy=RetryPolicy(max_attempts=3, base_seconds=0.01),
        sleep=sleeps.append,
        timeout=2,
    )
    clock = Clock()
    svc = AlertService(MemoryAlertStore(), clock=clock, window=dt.timedelta(minutes=10))
    alert = svc.ingest(detection())
    assert alert is not None
    NotificationHook([notifier], svc.record_delivery, clock)(alert, detection())
    (delivery,) = svc.get(alert.id).deliveries
    assert (delivery.state, delivery.attempts, delivery.error) == ("failed", 3, "connection_error")
    assert len(sleeps) == 2
