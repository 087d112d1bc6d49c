"""Errors of the siem package: one base class, stable snake_case codes (house style)."""

from __future__ import annotations


class SiemError(Exception):
    """Base of every siem error; ``detail`` is client-safe (no event content, no secrets)."""

    code = "siem_error"
    title = "Detection error"

    def __init__(self, detail: str = "") -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title


class RuleInvalid(SiemError):
    """A rule file does not load (YAML, Sigma or Anbao checks); ``detail`` names file and line."""

    code = "siem_rule_invalid"
    title = "Invalid detection rule"


class RuleUnsupported(SiemError):
    """A valid Sigma construct that an engine cannot evaluate (e.g. ``value_sum``)."""

    code = "siem_rule_unsupported"
    title = "Unsupported detection rule"


class EventSourceUnavailable(SiemError):
    """The scheduled engine could not query the event store; the run is retried later."""

    code = "siem_source_unavailable"
    title = "Event store unavailable"
