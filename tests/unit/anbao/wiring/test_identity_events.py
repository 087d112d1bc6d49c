"""Keycloak events become audit events with the fields the rule pack reads; one puller per spool."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from anbao.wiring.audit import RecorderEventSink
from anbao.wiring.identity_events import PullerThread, lease_for
from audit.recording.recorder import Recorder
from audit.recording.spool import Spool, SpoolConfig
from iam.events.model import LOGIN_STREAM, Cursor, admin_event_to_ecs, login_event_to_ecs
from iam.events.service import EventPuller


def refresh(kind: str, **extra: object) -> dict[str, object]:
    details = {
        "refresh_token_id": "jti-1",
        "refresh_token_sub": "u-1",
        "grant_type": "refresh_token",
    }
    return {"id": kind, "time": 1_700_000_000_000, "type": kind, "details": details, **extra}


@pytest.fixture
def sink(tmp_path: Path) -> Iterator[RecorderEventSink]:
    spool = Spool(SpoolConfig(path=tmp_path / "spool.db"))
    recorder = Recorder(spool)
    yield RecorderEventSink(recorder, realm="anbao")
    recorder.close()
    spool.close()


def test_a_refresh_and_a_refused_reuse_carry_one_jti_and_one_user(sink: RecorderEventSink) -> None:
    ok = sink.convert(login_event_to_ecs(refresh("REFRESH_TOKEN", userId="u-1"), "anbao"))
    reused = sink.convert(
        login_event_to_ecs(refresh("REFRESH_TOKEN_ERROR", error="invalid_token"), "anbao")
    )
    for event in (ok, reused):
        assert event.action == "iam.token.refresh"
        assert event.labels["token_jti"] == "jti-1"
        assert event.user.id == "u-1"
    assert reused.outcome == "failure"


def test_an_administrator_removing_an_otp_is_a_credential_removal_about_the_target(
    sink: RecorderEventSink,
) -> None:
    admin_event = {
        "id": "a1",
        "time": 1_700_000_000_000,
        "operationType": "ACTION",
        "resourceType": "USER",
        "resourcePath": "users/u-7/credentials/c-1",
        "details": {"credential_type": "otp", "credential_id": "c-1"},
    }
    doc = admin_event_to_ecs(admin_event, "anbao")
    doc["user"]["target"] |= {"name": "zhang.san", "roles": ["org-admin", "otp-required"]}
    doc["organization"] = {"path": "/530000/530100"}
    event = sink.convert(doc)
    assert event.action == "iam.credential.remove"
    assert event.labels["credential_type"] == "otp"
    assert event.labels["target_roles"] == "org-admin,otp-required"
    assert event.resource is not None
    assert (event.resource.id, event.resource.name) == ("u-7", "zhang.san")
    assert event.org_path == "/530000/530100"


def test_the_lockout_names_the_locked_user_and_their_org(sink: RecorderEventSink) -> None:
    doc = login_event_to_ecs(
        {"id": "l1", "time": 1_700_000_000_000, "type": "USER_DISABLED_BY_TEMPORARY_LOCKOUT",
         "userId": "u-1"},
        "anbao",
    )  # fmt: skip
    doc["user"] |= {"name": "zhang.san", "roles": ["seal-user"]}
    doc["organization"] = {"path": "/530000"}
    event = sink.convert(doc)
    assert event.action == "keycloak.user-disabled-by-temporary-lockout"
    assert (event.user.name, event.user.roles, event.org_path) == (
        "zhang.san",
        ("seal-user",),
        "/530000",
    )


class OneEvent:
    def __init__(self) -> None:
        self.events = [{"id": "k1", "time": 1_700_000_000_000, "type": "LOGIN", "userId": "u"}]

    def fetch(self, stream: str, date_from_ms: int, first: int, max_results: int) -> list[object]:
        return self.events if stream == LOGIN_STREAM and first == 0 else []


def test_the_cursor_lives_in_the_spool_with_the_events(sink: RecorderEventSink) -> None:
    spool = sink.recorder.spool
    puller = EventPuller(source=OneEvent(), journal=sink, realm="anbao")
    assert puller.pull_once() == 1
    assert puller.pull_once() == 0
    assert sink.load(LOGIN_STREAM).time_ms == 1_700_000_000_000
    assert spool.stats().pending_events == 1
    assert RecorderEventSink(sink.recorder, realm="other").load(LOGIN_STREAM) == Cursor()


def test_one_lease_holder_per_spool_and_the_others_wait(sink: RecorderEventSink) -> None:
    recorder = sink.recorder
    first, second = lease_for(recorder), lease_for(recorder)
    assert first.try_acquire()
    assert not second.try_acquire()
    puller = EventPuller(source=OneEvent(), journal=RecorderEventSink(recorder), realm="anbao")
    thread = PullerThread(puller, second, 1.0)
    assert thread.tick() is None  # no lease, no pull
    first.release()
    assert thread.tick() == 1
    thread.stop()


def test_hostile_text_from_the_login_form_is_stored_bounded_not_refused(
    sink: RecorderEventSink,
) -> None:
    typed = "x" * 10_000
    event = {
        "id": "h1",
        "time": 1_700_000_000_000,
        "type": "LOGIN_ERROR",
        "error": "user_not_found",
        "ipAddress": "not-an-address, 10.0.0.1",
        "details": {"username": typed},
    }
    stored = sink.convert(login_event_to_ecs(event, "anbao"))
    assert stored.user.name == typed[:256]
    assert stored.source_ip == ""
    assert stored.labels["keycloak_ip_address"] == "not-an-address, 10.0.0.1"


def test_an_app_lifespan_shorter_than_one_interval_never_pulls(sink: RecorderEventSink) -> None:
    source = OneEvent()
    source.events = []
    calls: list[str] = []
    original = source.fetch

    def counted(stream: str, date_from_ms: int, first: int, max_results: int) -> list[object]:
        calls.append(stream)
        return original(stream, date_from_ms, first, max_results)

    source.fetch = counted  # type: ignore[method-assign]
    puller = EventPuller(source=source, journal=sink, realm="anbao")
    thread = PullerThread(puller, lease_for(sink.recorder), 3600)
    thread.start()
    thread.stop()
    assert calls == []
    assert not thread.lease.held
