"""One room per capability (issue 18 §1): each folder says why it exists and what it offers.

Every capability folder's ``__init__`` has a docstring and an ``__all__`` whose names resolve
when the package is imported alone, in a fresh interpreter (a re-export can create an import
cycle that only one import order shows). Importing a domain capability loads no web framework,
database driver or server client: its adapters are imported by module, by the composition
root, so any package can use a room's model and services without them. The dependency
direction between packages and folders is import-linter's (``make lint``).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys

import pytest

from tests.paths import ROOT

DOMAIN_ROOMS = [
    "iam.tokens",
    "iam.orgs",
    "iam.orgs.imports",
    "iam.apps",
    "iam.realm",
    "iam.events",
    "iam.invitations",
    "audit.lease",
    "audit.recording",
    "audit.search",
    "audit.search.query",
    "audit.integrity",
    "audit.sensitive",
    "siem.engines",
    "siem.alerts",
    "siem.alerts.notify",
    "siem.responses",
    "crypto.pki",
    "crypto.seals",
    "crypto.seals.format",
    "crypto.seals.preview",
    "crypto.seals.registry",
    "crypto.seals.tsa",
    "policies.catalogue",
    "policies.checks",
    "policies.runs",
    "policies.reports",
]
#: The composition root's rooms: Falcon and every adapter are theirs by design.
ROOT_ROOMS = [
    "anbao.web",
    "anbao.wiring",
    "anbao.console",
    "anbao.console.pages",
    "anbao.console.pages.audit",
    "anbao.console.pages.orgs",
    "anbao.console.pages.alerts",
    "anbao.console.pages.compliance",
]
#: Rooms that are adapters through and through (their __init__ loads their client library).
ADAPTER_ROOMS = ["iam.admin", "audit.stores", "audit.sql"]
#: What importing a domain room must not load (sqlite3 is the standard library's).
HEAVY = [
    "falcon",
    "keycloak",
    "httpx",
    "elasticsearch",
    "sqlalchemy",
    "alembic",
    "psycopg",
    "uvicorn",
]
#: Folders being rewritten elsewhere; strict, so the mark goes when the work lands.
PENDING: dict[str, str] = {}
#: Package folders that are data or vendored code, not capabilities.
NOT_ROOMS = {"alembic", "versions", "controls", "vendor"}

_PROBE = """
import importlib, importlib.util, json, sys
m = importlib.import_module(sys.argv[1])
names = getattr(m, "__all__", None)
heavy = [h for h in sys.argv[2:] if h in sys.modules]
# A name may be a submodule the package lists without importing (anbao.wiring's features).
missing = [
    n for n in names or ()
    if not hasattr(m, n) and importlib.util.find_spec(f"{m.__name__}.{n}") is None
]
print(json.dumps({"all": names, "missing": missing, "heavy": heavy}))
"""


def _probe(package: str) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, package, *HEAVY],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, f"import {package} failed in a fresh interpreter:\n{out.stderr}"
    result: dict[str, object] = json.loads(out.stdout)
    return result


def _room(package: str) -> object:
    reason = PENDING.get(package)
    marks = [pytest.mark.xfail(reason=reason, strict=True)] if reason else []
    return pytest.param(package, marks=marks, id=package)


@pytest.mark.parametrize("package", [_room(p) for p in DOMAIN_ROOMS])
def test_domain_room_reexports_its_public_names_without_adapters(package: str) -> None:
    found = _probe(package)
    assert found["all"], f"{package}/__init__.py re-exports nothing (no __all__)"
    assert found["missing"] == [], f"{package}.__all__ names what it does not define"
    assert found["heavy"] == [], (
        f"importing {package} loads {found['heavy']}: import them by module"
    )


@pytest.mark.parametrize("package", ROOT_ROOMS)
def test_composition_room_reexports_its_public_names(package: str) -> None:
    found = _probe(package)
    assert found["all"]
    assert found["missing"] == []


def _package_folders() -> list[str]:
    folders = []
    for top in ("iam", "crypto", "audit", "siem", "policies", "anbao"):
        for init in sorted((ROOT / top).rglob("__init__.py")):
            folder = init.parent.relative_to(ROOT)
            if not NOT_ROOMS.intersection(folder.parts):
                folders.append(".".join(folder.parts))
    return folders


@pytest.mark.parametrize("package", [_room(p) for p in _package_folders()])
def test_every_package_folder_says_why_it_exists(package: str) -> None:
    init = ROOT.joinpath(*package.split("."), "__init__.py")
    docstring = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8")))
    assert docstring, f"{init.relative_to(ROOT)} has no docstring saying what the room is for"


def test_every_capability_folder_is_listed_here() -> None:
    """A new folder gets the re-export check too (data and vendored folders aside)."""
    listed = {
        *DOMAIN_ROOMS,
        *ROOT_ROOMS,
        *ADAPTER_ROOMS,
        "iam",
        "crypto",
        "audit",
        "siem",
        "policies",
        "anbao",
    }
    assert sorted(set(_package_folders()) - listed - {"anbao.cli", "anbao.demo"}) == []


def test_the_access_log_writer_starts_without_the_edge() -> None:
    """``python -m anbao.web.accesslog`` is a child of every server: its package loads nothing.

    A package ``__init__`` that imported the module makes ``python -m`` warn (runpy) and the
    child load Falcon and the whole edge.
    """
    probe = "import runpy, sys; runpy.run_module('anbao.web.accesslog', run_name='__main__'); print(sorted(m for m in ('falcon', 'anbao.web.middleware') if m in sys.modules))"
    out = subprocess.run(
        [sys.executable, "-W", "error::RuntimeWarning", "-c", probe],
        cwd=ROOT,
        input=b"",
        capture_output=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr.decode()
    assert out.stdout.strip() == b"[]"
