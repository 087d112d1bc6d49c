"""The diff between the desired and the live realm: a list of changes, pure and printable.

Rules that make ``apply`` safe to run again and again:

* only keys the file sets are compared (a ``config`` or ``attributes`` map is compared on the
  file's keys only), so settings the file does not mention are never touched;
* nested collections the file owns partly (role composites, mappers, user-profile attributes)
  keep live extras unless ``prune`` is set;
* objects in Keycloak but not in the file become ``extra`` notes, deleted only with ``prune``;
  built-ins and clients not created from a realm file are never deleted (the adapter marks them
  ``_protected``).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

from iam.realm.render import KINDS, State, to_json

Op = Literal["create", "update", "delete", "extra"]
#: Dicts the file manages key by key (live keys it does not name are left alone).
_SUBSET_FIELDS = frozenset({"config", "attributes", "serviceAccountRoles"})
_MASKED = "**********"


@dataclasses.dataclass(frozen=True, slots=True)
class FieldDiff:
    field: str
    before: Any
    after: Any


@dataclasses.dataclass(frozen=True, slots=True)
class Change:
    op: Op
    kind: str
    name: str
    fields: tuple[FieldDiff, ...] = ()

    @property
    def mutates(self) -> bool:
        return self.op != "extra"

    def lines(self) -> list[str]:
        sign = {"create": "+", "update": "~", "delete": "-", "extra": "?"}[self.op]
        head = f"{sign} {self.kind} {self.name}"
        if self.op == "extra":
            head += "  (not in the file; kept, --prune deletes it)"
        out = [head]
        out.extend(
            f"    {f.field}: {to_json(masked(f.field, f.before))} -> {to_json(masked(f.field, f.after))}"
            for f in self.fields
        )
        return out


def masked(key: str, value: Any) -> Any:
    """What a diff may print: values under secret-looking keys are replaced by asterisks."""
    if _secret(key) and value not in (None, ""):
        return _MASKED
    if isinstance(value, dict):
        return {k: masked(str(k), v) for k, v in value.items()}
    return value


def plan(desired: State, live: State, *, prune: bool) -> list[Change]:
    """Changes that turn ``live`` into ``desired``, in convergence order (creates first)."""
    changes: list[Change] = []
    for kind in KINDS:
        want, have = desired.get(kind, {}), live.get(kind, {})
        for name, rep in want.items():
            if name not in have:
                changes.append(Change("create", kind, name))
                continue
            diffs = diff_fields(rep, have[name], prune=prune)
            if diffs:
                changes.append(Change("update", kind, name, diffs))
        for name, rep in have.items():
            if name in want or rep.get("_protected"):
                continue
            changes.append(Change("delete" if prune else "extra", kind, name))
    return changes


def diff_fields(
    want: dict[str, Any], have: dict[str, Any], *, prune: bool
) -> tuple[FieldDiff, ...]:
    out = []
    for key, value in want.items():
        before = comparable(key, value, have.get(key))
        after = effective(key, value, have.get(key), prune=prune)
        if _normal(before) != _normal(after):
            out.append(FieldDiff(key, before, after))
    return tuple(out)


def comparable(key: str, want: Any, have: Any) -> Any:
    """The live value projected onto what the file manages."""
    if key == "composites" and isinstance(have, list):
        return sorted(have)
    if key == "defaultClientScopes" and isinstance(have, list):  # the file adds, never removes
        return sorted(s for s in have if s in want)
    if key in _SUBSET_FIELDS and isinstance(want, dict) and isinstance(have, dict):
        return {k: have[k] for k in want if k in have}
    if key == "mappers" and isinstance(want, dict) and isinstance(have, dict):
        return {name: _project_mapper(want.get(name), rep) for name, rep in sorted(have.items())}
    return have


def effective(key: str, want: Any, have: Any, *, prune: bool) -> Any:
    """The value to converge to: the file's, plus live extras that are kept without prune."""
    if key in _SUBSET_FIELDS and isinstance(want, dict) and isinstance(have, dict):
        return {k: have[k] if have.get(k) == _MASKED and _secret(k) else v for k, v in want.items()}
    if prune or not isinstance(have, type(want)):
        return want
    if key == "composites" and isinstance(want, list):
        return sorted(set(want) | set(have))
    if key == "mappers" and isinstance(want, dict):
        merged = {
            name: _project_mapper(None, rep) for name, rep in have.items() if name not in want
        }
        return dict(sorted({**merged, **want}.items()))
    return want


def _project_mapper(want: dict[str, Any] | None, have: Any) -> Any:
    if not isinstance(have, dict) or want is None:
        return have
    out = dict(have)
    if isinstance(want.get("config"), dict) and isinstance(have.get("config"), dict):
        out["config"] = {k: have["config"][k] for k in want["config"] if k in have["config"]}
    return {k: out[k] for k in want if k in out}


def _secret(key: str) -> bool:
    return "secret" in key.lower() or "password" in key.lower()


def _normal(value: Any) -> str:
    return to_json(value)
