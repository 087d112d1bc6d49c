"""Keycloak's events into the audit spool against the real server: killed pullers lose and
repeat nothing, one puller holds the lease and a killed holder's lease is taken over."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from anbao.wiring.audit import RecorderEventSink
from anbao.wiring.identity_events import PullerThread, lease_for
from audit.recording.recorder import Recorder
from audit.recording.spool import Spool, SpoolConfig
from iam.admin import AdminCredentials, KeycloakAdminClient, KeycloakAdmins
from iam.events.keycloak import KeycloakEventSource
from iam.events.model import ADMIN_STREAM, LOGIN_STREAM
from iam.events.service import EventPuller
from tests.integration.conftest import Server
from tests.integration.iam.realm_support import (
    CONSOLE,
    REALM_DIR,
    BrowserlessLogin,
    add_user,
    admin_for,
    apply_file,
    unique,
)

ANBAO = Path(sys.executable).with_name("anbao")
#: A puller that pages one event at a time, as fast as it can, until it is killed.
KILLED = """
import os
from anbao.wiring.iam import build_org_directory
from anbao.wiring.audit import keycloak_event_sink
from anbao.settings import Settings
from iam.events.keycloak import KeycloakEventSource
from iam.events.service import EventPuller

settings = Settings.load(os.environ)
directory = build_org_directory(settings)
with keycloak_event_sink(settings) as sink:
    source = KeycloakEventSource(directory.admin)
    puller = EventPuller(source=source, journal=sink, realm=settings.keycloak.realm, page_size=1)
    while True:
        puller.pull_once()
"""


@pytest.fixture(scope="module")
def realm(keycloak: Server) -> Iterator[str]:
    name = unique("evaudit")
    apply_file(keycloak, REALM_DIR / "anbao-realm.yaml", name)
    yield name
    admin_for(keycloak).delete_realm(name)


def env_for(keycloak: Server, realm: str, state: Path) -> dict[str, str]:
    return {
        **os.environ,
        "ANBAO_DATA_DIR": str(state),
        "ANBAO_ENVIRONMENT": "development",
        "ANBAO_AUDIT_SPOOL_PATH": str(state / "spool.sqlite3"),
        "ANBAO_KEYCLOAK_URL": keycloak.url,
        "ANBAO_KEYCLOAK_REALM": realm,
        "ANBAO_KEYCLOAK_ADMIN_USERNAME": keycloak.env["KEYCLOAK_ADMIN_USERNAME"],
        "ANBAO_KEYCLOAK_ADMIN_PASSWORD": keycloak.env["KEYCLOAK_ADMIN_PASSWORD"],
    }


@pytest.fixture(scope="module")
def admin_client(keycloak: Server, realm: str) -> Iterator[KeycloakAdminClient]:
    """The org directory's admin client, as the service reads events with."""
    made = KeycloakAdmins(
        AdminCredentials.bootstrap(
            keycloak.url,
            keycloak.env["KEYCLOAK_ADMIN_USERNAME"],
            keycloak.env["KEYCLOAK_ADMIN_PASSWORD"],
        ),
        realm,
    ).rest()
    yield made
    made.close()


def fail_login(keycloak: Server, realm: str, username: str) -> None:
    login = BrowserlessLogin(keycloak.url, realm, CONSOLE)
    try:
        login.submit(login.start(), "kc-form-login", username=username, password="Wrong-1!")
    finally:
        login.close()


def keycloak_ids(admin_client: KeycloakAdminClient) -> set[str]:
    source = KeycloakEventSource(admin_client)
    ids: set[str] = set()
    for stream in (LOGIN_STREAM, ADMIN_STREAM):
        ids |= {str(e["id"]) for e in source.fetch(stream, 0, 0, 100_000)}
    return ids


def spooled_ids(path: Path) -> list[str]:
    spool = Spool(SpoolConfig(path=path))
    try:
        return [r.event_id for r in spool.peek(100_000)]
    finally:
        spool.close()


def make_events(keycloak: Server, realm: str, count: int) -> None:
    admin = admin_for(keycloak)
    for _ in range(count):
        add_user(admin, realm, unique("u"))  # admin events
        fail_login(keycloak, realm, unique("nobody"))  # login events


def test_a_puller_killed_mid_stream_loses_and_repeats_nothing(
    keycloak: Server, realm: str, admin_client: KeycloakAdminClient, tmp_path: Path
) -> None:
    make_events(keycloak, realm, 15)
    spool_path = tmp_path / "spool.sqlite3"
    child = subprocess.Popen([sys.executable, "-c", KILLED], env=env_for(keycloak, realm, tmp_path))
    try:
        for _ in range(3000):  # until some pages are stored, then kill it while it works
            if spool_path.exists() and len(spooled_ids(spool_path)) >= 5:
                break
            time.sleep(0.01)
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait(30)
    stored = spooled_ids(spool_path)
    spool = Spool(SpoolConfig(path=spool_path))
    recorder = Recorder(spool)
    try:
        sink = RecorderEventSink(recorder, realm=realm)
        source = KeycloakEventSource(admin_client)
        restarted = EventPuller(source=source, journal=sink, realm=realm, page_size=1)
        resumed = restarted.pull_once()
    finally:
        recorder.close()
        spool.close()
    everything = spooled_ids(spool_path)
    # The restart delivered exactly what the killed puller had not stored: nothing twice ...
    assert len(stored) + resumed == len(everything) == len(set(everything))
    # ... and nothing is missing.
    assert set(everything) == keycloak_ids(admin_client)


def test_one_puller_holds_the_lease_and_a_killed_holders_is_taken_over(
    keycloak: Server, realm: str, admin_client: KeycloakAdminClient, tmp_path: Path
) -> None:
    env = env_for(keycloak, realm, tmp_path)
    spool_path = tmp_path / "spool.sqlite3"
    holder = subprocess.Popen(
        [str(ANBAO), "iam", "events", "pull", "--interval", "1"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    spool = Spool(SpoolConfig(path=spool_path))
    recorder = Recorder(spool)
    try:
        sink = RecorderEventSink(recorder, realm=realm)
        for _ in range(600):  # until the holder has pulled once (it holds the lease then)
            if sink.load(ADMIN_STREAM).time_ms:
                break
            time.sleep(0.1)
        source = KeycloakEventSource(admin_client)
        standby = PullerThread(
            EventPuller(source=source, journal=sink, realm=realm), lease_for(recorder), 1
        )
        assert standby.tick() is None  # another process holds the lease: this one waits
        operator = subprocess.run(
            [str(ANBAO), "iam", "events", "pull", "--once"],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert operator.returncode == 1, operator.stdout + operator.stderr
        assert "holds the lease" in operator.stderr

        holder.send_signal(signal.SIGKILL)
        holder.wait(30)
        name = unique("after")
        fail_login(keycloak, realm, name)
        assert standby.tick() is not None  # the dead holder's lease is this process's now
        for _ in range(30):  # Keycloak commits an event a moment after answering
            if standby.tick():
                break
            time.sleep(0.5)
        standby.stop()
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait(30)
        recorder.close()
        spool.close()
    everything = spooled_ids(spool_path)
    assert len(everything) == len(set(everything))
    assert set(everything) == keycloak_ids(admin_client)


def test_cli_pull_feeds_the_audit_trail_and_resumes(
    keycloak: Server, realm: str, tmp_path: Path
) -> None:
    env = env_for(keycloak, realm, tmp_path)
    cmd = [str(ANBAO), "iam", "events", "pull", "--once"]
    first = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)
    count = int(first.stderr.split()[0])
    assert count > 0
    assert first.stdout == ""  # into the audit trail, not stdout
    second = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)
    assert second.stderr.strip() == "0 event(s)"
    assert len(spooled_ids(tmp_path / "spool.sqlite3")) == count
    helped = subprocess.run([*cmd[:-1], "--help"], capture_output=True, text=True, check=True)
    assert "Keycloak admin credentials" in helped.stdout
