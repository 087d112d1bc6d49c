"""Deterministic audit events for search tests and benchmarks (not used by the service).

The events are built to exercise the language: microsecond timestamps that collide within one
millisecond, several org subtrees, IPv4 and IPv6 sources, multi-valued fields, optional fields
left out, words in reasons and user agents (including CJK and accented text), and values full
of the characters a query has to escape.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator

from audit.model import AuditEvent, HttpInfo, Outcome, PersonalData, ResourceRef, UserInfo

START = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
USERS = ("alice", "bob", "carol", "dave", "Eve", "mallory", "admin-ops", "张伟")
ORGS = ("/gov", "/gov/finance", "/gov/finance/tax", "/gov/health", "/gov/healthcare", "")
ACTIONS = ("login", "logout", "seal.use", "seal.create", "user.update", "data.read", "api.request")
REASONS = (
    "access denied by policy",
    "Password expired",
    "token signature invalid",
    "用户 登录 失败",
    "rate limit exceeded for client",
    "Zugriff verweigert: Gültigkeit abgelaufen",
    "",
)
AGENTS = ("Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0", "curl/8.5.0", "anbao-cli/0.1", "")
IPS = ("10.0.0.1", "10.0.0.2", "10.1.2.3", "192.168.1.10", "172.16.5.4", "2001:db8::1", "::1", "")
_HALF, _SOME, _FEW = 0.5, 0.4, 0.2
PATHS = ("/audit/events", "/whoami", "/seal/k-1:use", "/a*b?c[d]", "/x y")


def sample_events(count: int, *, seed: int = 7, stream: str = "main") -> Iterator[AuditEvent]:
    """``count`` varied events with sequences ``0..count-1`` (same seed, same events)."""
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not secrets
    for i in range(count):
        # Steps of 0-900 microseconds: many events share a millisecond, none share a timestamp.
        at = START + dt.timedelta(minutes=(i // 3) * 7 % 43_200, microseconds=rng.randrange(900))
        http = None
        if rng.random() < _HALF:
            http = HttpInfo(
                rng.choice(("GET", "POST")), rng.choice(PATHS), rng.choice((200, 401, 403, 500))
            )
        resource = None
        if rng.random() < _SOME:
            resource = ResourceRef(
                "seal", f"k-{rng.randrange(20)}", rng.choice(("Finance seal", "HR"))
            )
        yield AuditEvent(
            id=f"ev-{seed}-{i:07d}",
            timestamp=at,
            action=rng.choice(ACTIONS),
            outcome=rng.choice(list(Outcome)),
            category=tuple(
                rng.sample(("authentication", "iam", "api", "web"), rng.randrange(0, 3))
            ),
            reason=rng.choice(REASONS),
            duration_ns=rng.choice((None, rng.randrange(0, 10**9))),
            user=UserInfo(
                f"u-{rng.randrange(50)}",
                rng.choice(USERS),
                tuple(rng.sample(("auditor", "security-analyst", "admin"), rng.randrange(0, 3))),
            ),
            org_path=rng.choice(ORGS),
            source_ip=rng.choice(IPS),
            user_agent=rng.choice(AGENTS),
            http=http,
            resource=resource,
            personal=PersonalData(phone="13800138000") if rng.random() < _FEW else PersonalData(),
            stream=stream,
            sequence=i,
        )
