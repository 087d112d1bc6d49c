"""Keycloak's login and admin events, pulled on a schedule and mapped to ECS for the audit trail.

A room of its own because it is a stream with its own correctness rule (a cursor that keeps
it gap- and repeat-free) and its own outside: ``iam`` may not import ``audit``, so events leave
through the :class:`EventSink` / :class:`EventJournal` ports, filled in by the composition root.
Adapters by module: ``iam.events.keycloak`` (the event source), ``iam.events.sqlite`` and
``iam.events.postgres`` (cursors).
"""

from iam.events.enrich import Enricher, Profile
from iam.events.model import (
    ADMIN_STREAM,
    LOGIN_STREAM,
    Cursor,
    admin_event_to_ecs,
    login_event_to_ecs,
)
from iam.events.ports import CursorStore, EventJournal, EventSink, EventSource
from iam.events.service import EventPuller, SharedCursorJournal, SplitJournal

__all__ = [
    "ADMIN_STREAM",
    "LOGIN_STREAM",
    "Cursor",
    "CursorStore",
    "Enricher",
    "EventJournal",
    "EventPuller",
    "EventSink",
    "EventSource",
    "Profile",
    "SharedCursorJournal",
    "SplitJournal",
    "admin_event_to_ecs",
    "login_event_to_ecs",
]
