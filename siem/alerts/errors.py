"""Errors of alert triage and response actions: stable codes, client-safe details.

No HTTP status here (``anbao.web.errors`` maps them); details never carry upstream text, secrets or
event contents beyond ids.
"""

from __future__ import annotations


class AlertError(Exception):
    """Base class of the alert and response errors."""

    code = "siem_alert_error"
    title = "Alert request failed"

    def __init__(self, detail: str | None = None) -> None:
        self.detail = detail or self.title
        super().__init__(self.detail)


class AlertNotFound(AlertError):
    code = "alert_not_found"
    title = "No such alert"


class InvalidAlertInput(AlertError):
    """A request field is missing or malformed; ``field`` names it."""

    code = "invalid_alert_input"
    title = "Invalid alert request"

    def __init__(self, detail: str, *, field: str) -> None:
        super().__init__(f"{field}: {detail}")
        self.field = field
        self.problem_extra = {"field": field}


class InvalidTransition(AlertError):
    """The status change is not allowed from the current status."""

    code = "invalid_alert_transition"
    title = "Status change not allowed"


class AlertVersionConflict(AlertError):
    """Someone else changed the alert first (optimistic concurrency); re-read and retry."""

    code = "alert_version_conflict"
    title = "The alert was changed concurrently"


class AlertStoreUnavailable(AlertError):
    """The alert store could not be reached or refused the request."""

    code = "alert_store_unavailable"
    title = "Alert store unavailable"


class TriageForbidden(AlertError):
    """The caller lacks the role the operation needs."""

    code = "siem_forbidden"
    title = "Not allowed"


class ActionNotFound(AlertError):
    code = "response_action_not_found"
    title = "No such response action"


class ActionStateConflict(AlertError):
    """The action is not in a state that allows the request (e.g. approving a rejected one)."""

    code = "response_action_state_conflict"
    title = "Response action state conflict"


class SelfApproval(AlertError):
    """Four-eyes rule: the requester of an action cannot approve it."""

    code = "response_self_approval"
    title = "The requester cannot approve their own action"


class ResponseTargetUnavailable(AlertError):
    """The identity provider or the seal registry could not carry out the action."""

    code = "response_target_unavailable"
    title = "Response action could not be carried out"


class ResponseTargetNotFound(AlertError):
    """The user or seal the action names does not exist (any more)."""

    code = "response_target_not_found"
    title = "Response target not found"
