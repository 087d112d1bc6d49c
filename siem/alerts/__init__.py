"""Alerts: detections grouped into what an analyst triages, with notes, states and notifications.

A room of its own because triage is a workflow over people (who may see an alert: the
analyst's org scope; who may close it and why) with its own store, while the engines only
say "this matched". Alerts leave through ``notify/`` (signed webhooks, e-mail). The stores and
the HTTP edge are imported by module: ``siem.alerts.sqlite``, ``siem.alerts.elasticsearch``,
``siem.alerts.resources`` (Falcon), ``siem.alerts.testing``.
"""

from siem.alerts.errors import (
    ActionNotFound,
    ActionStateConflict,
    AlertError,
    AlertNotFound,
    AlertStoreUnavailable,
    AlertVersionConflict,
    InvalidAlertInput,
    InvalidTransition,
    ResponseTargetNotFound,
    ResponseTargetUnavailable,
    SelfApproval,
    TriageForbidden,
)
from siem.alerts.links import audit_links
from siem.alerts.model import Alert, AlertFilter, AlertPage, AlertStatus, Caller, CloseReason, Note
from siem.alerts.ports import AlertStore, Notifier
from siem.alerts.service import (
    AlertRecords,
    AlertService,
    BackgroundHooks,
    NewAlertHook,
    QueuedSink,
    TriageHook,
)

__all__ = [
    "ActionNotFound",
    "ActionStateConflict",
    "Alert",
    "AlertError",
    "AlertFilter",
    "AlertNotFound",
    "AlertPage",
    "AlertRecords",
    "AlertService",
    "AlertStatus",
    "AlertStore",
    "AlertStoreUnavailable",
    "AlertVersionConflict",
    "BackgroundHooks",
    "Caller",
    "CloseReason",
    "InvalidAlertInput",
    "InvalidTransition",
    "NewAlertHook",
    "Note",
    "Notifier",
    "QueuedSink",
    "ResponseTargetNotFound",
    "ResponseTargetUnavailable",
    "SelfApproval",
    "TriageForbidden",
    "TriageHook",
    "audit_links",
]
