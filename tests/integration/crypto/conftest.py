"""The ``openssl`` CLI (system OpenSSL 3) as the interop peer for the SM2/SM3/SM4 tests."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

Openssl = Callable[..., subprocess.CompletedProcess[bytes]]


@pytest.fixture(scope="session")
def openssl() -> Openssl:
    """Run ``openssl ARGS``; fail (not skip) when the tool is missing: interop is required."""
    exe = shutil.which("openssl")
    assert exe, "the openssl CLI is required for the crypto interop tests"

    def run(*args: str | Path, check: bool = True, stdin: bytes | None = None):
        result = subprocess.run(
            [exe, *map(str, args)], input=stdin, capture_output=True, check=False, timeout=60
        )
        if check and result.returncode != 0:
            pytest.fail(f"openssl {args[0]} failed: {result.stderr.decode(errors='replace')}")
        return result

    return run
