"""In-memory fakes and test data for the siem package (house style: ``testing.py`` per package).

* :class:`ListSink`: a :class:`siem.ports.DetectionSink` that keeps what it gets.
* :func:`attack_scenarios`: one scripted attack per built-in threat, each naming the rules it must
  raise (exactly once each).
* :func:`benign_baseline`: a working day of ordinary activity (sign-ins with typos, API calls
  with a few 401s, exports, PII reveals, seal use, admin work in office hours, token refreshes)
  that must raise nothing.

Events are :class:`audit.model.AuditEvent` values, so a test can record them through the real
audit pipeline (``Recorder.record_event``) or turn them into documents for the engines directly.
Everything is deterministic for a given ``seed`` and ``start``. There is no default ``start``:
a scripted day is placed relative to the clock under test (:func:`working_day`), since stores
keep events for a while only and engines look back a bounded window from their clock.
"""

# ruff: noqa: PLR0911, PLR0917, PLR2004 - test-data builders: positional helpers, literal mixes
from __future__ import annotations

import dataclasses
import datetime as dt
import random
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from audit.model import AuditEvent, HttpInfo, Outcome, ResourceRef, UserInfo
from siem.model import Detection

#: 09:00 in UTC+8, when a scripted day starts: the baseline covers office hours (Mon-Fri,
#: 09:00-17:00 UTC+8), and the rule on admin actions outside working hours is hour-aware.
OFFICE_OPENS_UTC = dt.time(1, 0)
#: How long a scripted day runs from its start (the last scenario is at 20:30 UTC+8).
DAY_LENGTH = dt.timedelta(hours=13)
_SATURDAY = 5


def working_day(now: dt.datetime) -> dt.datetime:
    """The start of the latest weekday (09:00 UTC+8) whose scripted day has ended an hour
    before ``now``: a timeline relative to the clock under test, in the past and at most four
    days old (a Monday morning reaches back to Friday)."""
    day = dt.datetime.combine(now.astimezone(dt.UTC).date(), OFFICE_OPENS_UTC, dt.UTC)
    while day + DAY_LENGTH + dt.timedelta(hours=1) > now or day.weekday() >= _SATURDAY:
        day -= dt.timedelta(days=1)
    return day


class ListSink:
    """Keeps every detection (thread-safe)."""

    def __init__(self) -> None:
        self.detections: list[Detection] = []
        self._lock = threading.Lock()

    def emit(self, detections: Sequence[Detection]) -> None:
        with self._lock:
            self.detections.extend(detections)


@dataclasses.dataclass(frozen=True, slots=True)
class Scenario:
    """A scripted attack and the rule names it must raise, once each."""

    name: str
    expected: tuple[str, ...]
    events: tuple[AuditEvent, ...]


class _Ids:
    def __init__(self, prefix: str) -> None:
        self.prefix, self.n = prefix, 0

    def __call__(self) -> str:
        self.n += 1
        return f"{self.prefix}-{self.n:07d}"


def _event(
    new_id: Callable[[], str], at: dt.datetime, action: str, outcome: str, **fields: Any
) -> AuditEvent:
    user = fields.pop("user", None)
    roles = tuple(fields.pop("roles", ()))
    if user is not None:
        fields["user"] = UserInfo(f"id-{user}", user, roles)
    return AuditEvent(id=new_id(), timestamp=at, action=action, outcome=Outcome(outcome), **fields)


def _login(ids: _Ids, at: dt.datetime, user: str, ip: str, ok: bool) -> AuditEvent:
    return _event(
        ids,
        at,
        "keycloak.login",
        "success" if ok else "failure",
        user=user,
        source_ip=ip,
        category=("authentication",),
        type=("start",),
        service="keycloak",
        labels={"keycloak_type": "LOGIN" if ok else "LOGIN_ERROR", "keycloak_realm": "anbao"},
        stream="iam",
    )


def _api(
    ids: _Ids, at: dt.datetime, path: str, status: int, ip: str, user: str | None = None
) -> AuditEvent:
    return _event(
        ids,
        at,
        "api.get",
        "failure" if status >= 400 else "success",  # HTTP error classes
        user=user,
        source_ip=ip,
        category=("web",),
        type=("access",) if status < 400 else ("access", "denied"),
        http=HttpInfo("GET", path, status),
    )


def _admin(
    ids: _Ids, at: dt.datetime, action: str, actor: str, roles: Sequence[str], **kw: Any
) -> AuditEvent:
    return _event(ids, at, action, kw.pop("outcome", "success"), user=actor, roles=roles,
                  category=kw.pop("category", ("iam",)), type=("admin", "change"), **kw)  # fmt: skip


def _seal(
    ids: _Ids, at: dt.datetime, action: str, outcome: str, user: str, seal: str, **kw: Any
) -> AuditEvent:
    return _event(ids, at, action, outcome, user=user, roles=("seal-user",), category=("file",),
                  type=("access",), resource=ResourceRef("seal", seal, "Finance seal"), **kw)  # fmt: skip


def _gap(start: dt.datetime, seconds: float) -> Iterator[dt.datetime]:
    n = 0
    while True:
        yield start + dt.timedelta(seconds=seconds * n)
        n += 1


def attack_scenarios(start: dt.datetime) -> list[Scenario]:
    """One scenario per built-in threat; scenario ``i`` starts ``20 min * i`` after ``start``."""
    ids = _Ids("atk")
    out: list[Scenario] = []

    def at(i: int, step: float = 5.0) -> Iterator[dt.datetime]:
        return _gap(start + dt.timedelta(minutes=20 * i, seconds=7), step)

    t = at(0)
    out.append(Scenario("brute force", ("anbao_bruteforce_account",),
                        tuple(_login(ids, next(t), "victim-bf", "203.0.113.5", False) for _ in range(12))))  # fmt: skip
    t = at(1)
    out.append(Scenario("password spraying", ("anbao_password_spraying",),
                        tuple(_login(ids, next(t), f"spray{i:02d}", "198.51.100.7", False) for i in range(12))))  # fmt: skip
    t = at(2)
    events = [_login(ids, next(t), "victim-saf", "203.0.113.9", False) for _ in range(10)]
    events.append(_login(ids, next(t), "victim-saf", "203.0.113.9", True))
    out.append(Scenario("success after failures",
                        ("anbao_bruteforce_account", "anbao_success_after_failures"), tuple(events)))  # fmt: skip
    t = at(3, 60)
    out.append(Scenario("sign-in from a new source", ("anbao_login_new_source",), (
        _login(ids, next(t), "traveller", "10.20.0.5", True),
        _login(ids, next(t), "traveller", "10.20.0.5", True),
        _login(ids, next(t), "traveller", "203.0.113.77", True))))  # fmt: skip
    t = at(4)
    out.append(Scenario("lockout", ("anbao_keycloak_lockout",), (
        _event(ids, next(t), "keycloak.user-disabled-by-temporary-lockout", "success", user="locked",
               category=("iam",), service="keycloak", stream="iam"),)))  # fmt: skip
    t = at(5)
    admin = ("platform-admin",)
    out.append(Scenario("role granted to oneself", ("anbao_role_self_grant",), (
        _admin(ids, next(t), "iam.role.grant", "alice", admin, resource=ResourceRef("user", "id-alice", "alice"),
               labels={"role": "seal-admin"}),)))  # fmt: skip
    out.append(Scenario("role given to oneself, refused", ("anbao_role_self_grant",), (
        _admin(ids, next(t), "iam.role.grant", "bob", ("app-developer",), outcome="failure",
               reason="role_self_grant", resource=ResourceRef("user", "id-bob", "bob"),
               labels={"role": "approver", "client_id": "permits"}),)))  # fmt: skip
    out.append(Scenario("platform-admin granted", ("anbao_platform_admin_granted",), (
        _admin(ids, next(t), "iam.role.grant", "admin1", admin, resource=ResourceRef("user", "id-dave", "dave"),
               labels={"role": "platform-admin"}),)))  # fmt: skip
    out.append(Scenario("OTP removed from an admin", ("anbao_admin_otp_removed",), (
        _admin(ids, next(t), "iam.credential.remove", "helpdesk", ("org-admin",),
               resource=ResourceRef("user", "id-erin", "erin"),
               labels={"credential_type": "otp", "target_roles": "platform-admin,seal-admin"}),)))  # fmt: skip
    t = at(6)
    out.append(Scenario("token reuse", ("anbao_token_reuse",), tuple(
        _event(ids, next(t), "iam.token.refresh", "success", user="frank", category=("authentication",),
               labels={"token_jti": "jti-reused-1"}) for _ in range(2))))  # fmt: skip
    t = at(7, 1)
    out.append(Scenario("probing", ("anbao_api_probing",),
                        tuple(_api(ids, next(t), f"/iam/orgs/{i}", 401, "192.0.2.50") for i in range(25))))  # fmt: skip
    t = at(8, 30)
    out.append(Scenario("mass audit export", ("anbao_mass_audit_export",),
                        tuple(_api(ids, next(t), "/audit/export", 200, "10.30.0.4", "auditor-x") for _ in range(6))))  # fmt: skip
    t = at(9, 10)
    out.append(Scenario("many fields decrypted", ("anbao_mass_pii_reveal",), tuple(
        _event(ids, next(t), "audit.pii.reveal", "success", user="analyst-x", category=("database",),
               resource=ResourceRef("audit_event", f"ev-{i}")) for i in range(11))))  # fmt: skip
    out.append(Scenario("decryption refused", ("anbao_pii_reveal_refused",), (
        _event(ids, next(t), "audit.pii.reveal", "failure", user="intruder", category=("database",),
               reason="audit_forbidden"),)))  # fmt: skip
    t = at(10, 30)
    out.append(Scenario("seal outside validity", ("anbao_seal_outside_validity",), (
        _seal(ids, next(t), "seal.sign", "failure", "holder1", "seal-exp", reason="seal_use_refused"),)))  # fmt: skip
    out.append(Scenario("seal by a non-holder", ("anbao_seal_non_holder",), (
        _seal(ids, next(t), "seal.sign", "failure", "mallory", "seal-fin", reason="seal_forbidden"),)))  # fmt: skip
    out.append(Scenario("seal used after a revocation attempt", ("anbao_seal_used_after_revocation",), (
        _seal(ids, next(t), "seal.revoke", "failure", "org-admin-1", "seal-rv", reason="seal_forbidden"),
        _seal(ids, next(t), "seal.sign", "success", "holder2", "seal-rv"))))  # fmt: skip
    out.append(Scenario("seal approval by the applicant", ("anbao_seal_self_approval",), (
        _seal(ids, next(t), "seal.approve", "failure", "applicant1", "seal-new", reason="seal_forbidden"),)))  # fmt: skip
    t = at(11, 30)
    system = {"category": ("configuration",), "stream": "system"}
    out.append(Scenario("audit verification failed", ("anbao_audit_verify_failed",), (
        _event(ids, next(t), "audit.verify", "failure", reason="2 events modified", **system),)))  # fmt: skip
    out.append(Scenario("spool near full", ("anbao_audit_spool_alarm",), (
        _event(ids, next(t), "audit.spool.alarm", "unknown", reason="audit spool 85% full", **system),)))  # fmt: skip
    out.append(Scenario("shipping stopped", ("anbao_audit_shipping_stopped",), (
        _event(ids, next(t), "audit.shipping.stopped", "failure", reason="store unavailable", **system),)))  # fmt: skip
    t = at(12, 30)
    kc = {"category": ("iam",), "service": "keycloak", "stream": "iam", "source_ip": "10.0.0.2"}
    out.append(Scenario("realm settings changed", ("anbao_keycloak_realm_changed",), (
        _event(ids, next(t), "keycloak.realm-update", "success", user="kcadmin",
               labels={"keycloak_type": "REALM_UPDATE", "keycloak_resource_type": "REALM"}, **kc),)))  # fmt: skip
    out.append(Scenario("authentication flow changed", ("anbao_keycloak_auth_flow_changed",), (
        _event(ids, next(t), "keycloak.auth-execution-update", "success", user="kcadmin",
               labels={"keycloak_type": "AUTH_EXECUTION_UPDATE", "keycloak_resource_type": "AUTH_EXECUTION"},
               **kc),)))  # fmt: skip
    night = start + dt.timedelta(hours=12, minutes=30)  # 20:30 in UTC+8
    out.append(Scenario("admin action outside working hours", ("anbao_admin_off_hours",), (
        _admin(ids, night, "iam.org.update", "admin2", ("platform-admin",), category=("configuration",),
               resource=ResourceRef("org", "o-7", "Finance")),)))  # fmt: skip
    return out


def benign_baseline(start: dt.datetime, n: int = 10_000, *, seed: int = 7) -> list[AuditEvent]:
    """``n`` ordinary events spread over 8 office hours; none should raise a detection."""
    rng = random.Random(seed)  # noqa: S311 - test data, not secrets
    ids = _Ids(f"bl{seed}")
    step = 8 * 3600 / n
    users = [f"user{i:03d}" for i in range(200)]
    home = {u: f"10.1.{i % 20}.{10 + i // 20}" for i, u in enumerate(users)}
    out: list[AuditEvent] = []
    i = 0
    while len(out) < n:
        when = start + dt.timedelta(seconds=step * i)
        i += 1
        out += _benign_one(rng, ids, when, users, home, i)
    return out[:n]


def _benign_one(
    rng: random.Random,
    ids: _Ids,
    when: dt.datetime,
    users: Sequence[str],
    home: dict[str, str],
    i: int,
) -> list[AuditEvent]:
    user = rng.choice(users)
    ip = home[user]
    roll = rng.random()
    later = when + dt.timedelta(milliseconds=900)
    if roll < 0.25:  # sign-in, sometimes after a typo
        if rng.random() < 0.08:
            return [_login(ids, when, user, ip, False), _login(ids, later, user, ip, True)]
        return [_login(ids, when, user, ip, True)]
    if roll < 0.70:  # API use, a rare 401 (expired token)
        status = 401 if rng.random() < 0.02 else 200
        return [
            _api(ids, when, rng.choice(["/iam/orgs", "/seals", "/audit/events"]), status, ip, user)
        ]
    if roll < 0.80:  # token refresh, a fresh jti each time
        return [_event(ids, when, "iam.token.refresh", "success", user=user, source_ip=ip,
                       category=("authentication",), labels={"token_jti": f"jti-{i}"})]  # fmt: skip
    if roll < 0.90:  # seal use by holders; retired seals revoked, never used again
        if rng.random() < 0.02:
            return [_seal(ids, when, "seal.revoke", "success", "seal-admin1", f"retired-{i}")]
        return [_seal(ids, when, "seal.sign", "success", user, f"seal-{rng.randrange(10)}")]
    if roll < 0.96:  # admin work in office hours, grants to others
        admin = f"padmin{rng.randrange(3)}"
        target = rng.choice(users)
        return [_admin(ids, when, "iam.role.grant", admin, ("platform-admin",),
                       resource=ResourceRef("user", f"id-{target}", target), labels={"role": "seal-user"})]  # fmt: skip
    if roll < 0.965:  # an auditor's export (about 2 an hour each), an analyst's reveal
        return [_api(ids, when, "/audit/export", 200, "10.9.0.1", f"auditor{rng.randrange(3)}")]
    if roll < 0.99:
        return [_event(ids, when, "audit.pii.reveal", "success", user=f"analyst{rng.randrange(3)}",
                       category=("database",), resource=ResourceRef("audit_event", f"ev-{i}"))]  # fmt: skip
    return [
        _event(ids, when, "audit.verify", "success", category=("configuration",), stream="system")
    ]


def documents(events: Sequence[AuditEvent]) -> list[dict[str, Any]]:
    """The ECS documents of ``events`` with sequence numbers, as the pipeline delivers them."""
    return [e.with_sequence(n).to_document() for n, e in enumerate(events)]


def timeline(start: dt.datetime, n: int = 10_000) -> tuple[list[Scenario], list[AuditEvent]]:
    """Scenarios and baseline merged into one ``(@timestamp, id)``-ordered event list."""
    scenarios = attack_scenarios(start)
    merged = [e for s in scenarios for e in s.events] + benign_baseline(start, n)
    merged.sort(key=lambda e: (e.timestamp, e.id))
    return scenarios, merged
