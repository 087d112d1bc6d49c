"""Converge a live realm to a realm file: plan, print, apply — idempotent, prune only on request.

This is the use case behind ``anbao iam apply``; it knows no Keycloak client, only the
:class:`RealmAdmin` port (the adapter is :class:`iam.realm.keycloak.KeycloakRealmAdmin`).
"""

from __future__ import annotations

import dataclasses
from typing import Protocol

from iam.realm.model import RealmSpec
from iam.realm.plan import Change, plan
from iam.realm.render import KINDS, State, render, render_apps


class RealmAdmin(Protocol):
    """What converging needs from an identity provider's admin API, for one realm."""

    realm: str

    def exists(self) -> bool: ...

    def create_realm(self) -> None: ...

    def read(self, desired: State) -> State: ...

    def apply(self, change: Change, desired: State, live: State) -> None: ...


@dataclasses.dataclass(frozen=True, slots=True)
class ApplyResult:
    realm: str
    changes: tuple[Change, ...]
    applied: bool

    @property
    def mutations(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.mutates)

    def lines(self) -> list[str]:
        if not self.changes:
            return [f"realm {self.realm}: no changes"]
        verb = "applied" if self.applied else "would apply (dry run)"
        out = [f"realm {self.realm}: {verb} {len(self.mutations)} change(s)"]
        for change in self.changes:
            out.extend(change.lines())
        return out


def converge(spec: RealmSpec, admin: RealmAdmin, *, dry_run: bool, prune: bool) -> ApplyResult:
    """Plan against the live realm and (unless ``dry_run``) apply the plan in order."""
    desired = render(spec)
    if not admin.exists():
        if dry_run:
            empty: State = {kind: {} for kind in KINDS}
            return ApplyResult(spec.realm, tuple(plan(desired, empty, prune=prune)), False)
        admin.create_realm()
    live = admin.read(desired)
    desired["app"] = render_apps(spec, live)
    changes = tuple(plan(desired, live, prune=prune))
    if not dry_run:
        for change in changes:
            if change.mutates:
                admin.apply(change, desired, live)
    return ApplyResult(spec.realm, changes, not dry_run)
