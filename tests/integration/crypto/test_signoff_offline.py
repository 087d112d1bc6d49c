"""The offline check of a compliance sign-off, run exactly as docs/compliance.md writes it.

The report and the signature route's JSON come from the real app; the documented commands
(jq, ``anbao crypto sm2 verify`` on the API's base64, ``anbao compliance verify-report``, and
OpenSSL 3's ``pkeyutl`` on the DER) run in a shell, as an assessor would type them.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.unit.policies.test_resources import App, _as

MARKER = "<!-- offline-check:"


def _documented_commands() -> list[str]:
    text = (ROOT / "docs" / "compliance.md").read_text(encoding="utf-8")
    block = re.search(r"```sh\n(.*?)```", text[text.index(MARKER) :], re.DOTALL)
    assert block, "the offline-check block is missing from docs/compliance.md"
    return [line for line in block.group(1).splitlines() if line.strip()]


def _shell(line: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run(
        ["bash", "-c", line], cwd=cwd, env=env, capture_output=True, text=True, timeout=60,
        check=False,
    )  # fmt: skip


@pytest.fixture
def signed_off(tmp_path: Path) -> Path:
    app = App(tmp_path)
    officer = _as("compliance-officer")
    run = app.client().simulate_post("/compliance/runs", headers=officer).json
    url = f"/compliance/runs/{run['id']}"
    done = app.client().simulate_post(f"{url}/signoff", json={"comment": "ok"}, headers=officer)
    assert done.status_code == 200, done.text
    work = tmp_path / "assessor"
    work.mkdir()
    report = app.client().simulate_get(f"{url}/report.pdf", headers=officer)
    assert report.status_code == 200, report.text
    (work / "report.pdf").write_bytes(report.content)
    answer = app.client().simulate_get(f"{url}/signature", headers=officer)
    assert answer.status_code == 200, answer.text
    (work / "signature.json").write_text(answer.text, encoding="utf-8")
    return work


def test_documented_offline_check_works_as_written(signed_off: Path) -> None:
    commands = _documented_commands()
    assert any(c.startswith("anbao crypto sm2 verify") for c in commands)
    assert any(c.startswith("openssl pkeyutl -verify") for c in commands)
    for line in commands:
        result = _shell(line, signed_off)
        assert result.returncode == 0, f"{line}\n{result.stdout}{result.stderr}"

    # one changed byte of the report: every verifying command fails with exit 1
    pdf = bytearray((signed_off / "report.pdf").read_bytes())
    pdf[len(pdf) // 2] ^= 1
    (signed_off / "report.pdf").write_bytes(bytes(pdf))
    verifiers = [c for c in commands if "verify" in c]
    assert len(verifiers) == 3
    for line in verifiers:
        result = _shell(line, signed_off)
        assert result.returncode == 1, f"{line}\n{result.stdout}{result.stderr}"
