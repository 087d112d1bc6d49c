"""The console's committed third-party files are the ones the lockfile pins.

``make console-assets`` builds them from ``anbao/console/assets/package-lock.json`` and writes
``MANIFEST.json`` beside them. These tests catch a file edited by hand, a lockfile bumped without
a rebuild, and a build that left a file out, without npm (``make test`` never needs it).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from tests.paths import ROOT

ASSETS = ROOT / "anbao" / "console" / "assets"
VENDOR = ROOT / "anbao" / "console" / "static" / "vendor"
MANIFEST = VENDOR / "MANIFEST.json"
EXPECTED = {
    "anbao/console/static/vendor/htmx.min.js": "htmx.org",
    "anbao/console/static/vendor/echarts.min.js": "echarts",
    "tests/journeys/console/axe.min.js": "axe-core",
}
REBUILD = "run `make console-assets` and commit its output"


def _json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _manifest() -> dict[str, Any]:
    return dict(_json(MANIFEST)["files"])


def _locked(name: str) -> str:
    return str(_json(ASSETS / "package-lock.json")["packages"][f"node_modules/{name}"]["version"])


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_manifest_lists_each_built_file_once() -> None:
    assert {path: entry["package"] for path, entry in _manifest().items()} == EXPECTED


@pytest.mark.parametrize("path", sorted(EXPECTED))
def test_each_file_is_the_one_built(path: str) -> None:
    entry = _manifest()[path]
    assert _sha256(ROOT / path) == entry["sha256"], f"{path} differs from its build: {REBUILD}"
    assert (ROOT / path).stat().st_size == entry["bytes"]


@pytest.mark.parametrize("path", sorted(EXPECTED))
def test_each_file_comes_from_the_locked_version(path: str) -> None:
    entry = _manifest()[path]
    assert entry["version"] == _locked(entry["package"]), REBUILD
    for bundled, version in entry.get("bundled", {}).items():
        assert version == _locked(bundled), f"{bundled} in {path}: {REBUILD}"
    if "esbuild" in entry:
        assert entry["esbuild"] == _locked("esbuild"), REBUILD


def test_the_build_used_this_lockfile() -> None:
    assert _json(MANIFEST)["lockfile_sha256"] == _sha256(ASSETS / "package-lock.json"), REBUILD


def test_dependencies_are_pinned_exactly() -> None:
    """An exact version in package.json, the same in the lockfile: no range resolved later."""
    declared = _json(ASSETS / "package.json")["devDependencies"]
    for name, version in declared.items():
        assert version[0].isdigit(), f"{name}: {version} is a range, pin the exact version"
        assert _locked(name) == version, f"{name}: package.json and the lockfile disagree"


def test_the_served_folder_holds_only_the_built_files() -> None:
    """Everything in vendor/ is served to browsers: nothing there escapes the manifest."""
    served = {f"anbao/console/static/vendor/{p.name}" for p in VENDOR.iterdir()}
    listed = {path for path in EXPECTED if path.startswith("anbao/console/static/vendor/")}
    assert served == {*listed, "anbao/console/static/vendor/MANIFEST.json"}
