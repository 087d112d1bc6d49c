"""ofdrw (Java, from Maven Central) as the independent GB/T 38540 / OFD peer.

The Maven project in tests/interop/ofdrw is compiled once per session into its gitignored
target/ (skipped when the jar is newer than the sources), with an explicitly chosen JDK:
``ANBAO_INTEROP_JAVA_HOME``, else Debian's JDK 17, else Temurin 25. Missing tools fail the
tests (interop is required), with the reason.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import ROOT

PROJECT = ROOT / "tests" / "interop" / "ofdrw"
JDKS = ("/usr/lib/jvm/java-17-openjdk-amd64", "/usr/lib/jvm/temurin-25-jdk-amd64")

Ofdrw = Callable[..., subprocess.CompletedProcess[str]]


def _java_home() -> Path:
    candidates = [os.environ.get("ANBAO_INTEROP_JAVA_HOME", ""), *JDKS]
    for home in candidates:
        if home and (Path(home) / "bin" / "javac").is_file():
            return Path(home)
    pytest.fail(f"no JDK with javac among {candidates}: install openjdk-17-jdk-headless")


def _stale(jar: Path) -> bool:
    if not jar.is_file() or not (PROJECT / "target" / "dependency").is_dir():
        return True
    sources = [PROJECT / "pom.xml", *PROJECT.joinpath("src").rglob("*.java")]
    return max(p.stat().st_mtime for p in sources) > jar.stat().st_mtime


def _build(java_home: Path) -> None:
    mvn = shutil.which("mvn")
    assert mvn, (
        "Maven (mvn) is required for the ofdrw interop tests: deploy/local/prereqs.sh installs it"
    )
    env = {**os.environ, "JAVA_HOME": str(java_home)}
    goals = ["-B", "-q", "package", "dependency:copy-dependencies"]
    offline = subprocess.run(
        [mvn, "-o", *goals],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    if offline.returncode == 0:
        return
    online = subprocess.run(
        [mvn, *goals],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    if online.returncode != 0:
        pytest.fail(
            f"building the ofdrw harness failed:\n{online.stdout[-3000:]}{online.stderr[-3000:]}"
        )


def ofdrw_runner() -> Ofdrw:
    """Build the harness if needed; a function running ``Interop ARGS`` on the JVM."""
    java_home = _java_home()
    jar = PROJECT / "target" / "ofdrw-interop-1.jar"
    if _stale(jar):
        _build(java_home)
    classpath = f"{jar}{os.pathsep}{PROJECT / 'target' / 'dependency' / '*'}"

    def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                str(java_home / "bin" / "java"),
                "-cp",
                classpath,
                "anbao.interop.Interop",
                *map(str, args),
            ],
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )

    return run


@pytest.fixture(scope="session")
def ofdrw() -> Ofdrw:
    """Run ``Interop ARGS`` on the JVM; returns the completed process (check returncode)."""
    return ofdrw_runner()
