"""What a check is: an id, the evidence source it reads, and a pure function to findings."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from policies.model import Finding


class NotApplicable(Exception):
    """Raised by a check when the facts show the requirement does not apply here."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


@dataclasses.dataclass(frozen=True, slots=True)
class Context:
    """What a check may know besides the facts: the run's time and tunable thresholds."""

    now: datetime
    params: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def param(self, name: str, default: Any) -> Any:
        return self.params.get(name, default)


@dataclasses.dataclass(frozen=True, slots=True)
class Check:
    id: str
    source: str  # realm | audit | crypto | siem | settings
    description: str
    run: Callable[[Any, Context], Sequence[Finding]]


def finding(setting: str, observed: Any, expected: str, ok: bool, note: str = "") -> Finding:
    return Finding(setting=setting, observed=observed, expected=expected, ok=ok, note=note)
