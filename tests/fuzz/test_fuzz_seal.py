"""Runs the atheris seal fuzz target briefly (20 s); longer on demand (see fuzz_seal.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SECONDS = int(os.environ.get("ANBAO_FUZZ_SECONDS", "20"))


def test_seal_parsers_survive_fuzzing(tmp_path):
    corpus = tmp_path / "corpus"
    env = {**os.environ, "PYTHONPATH": str(HERE.parent.parent)}
    seeded = subprocess.run(
        [sys.executable, HERE / "fuzz_seal.py", "--make-corpus", corpus],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert seeded.returncode == 0, seeded.stderr
    run = subprocess.run(
        [
            sys.executable,
            HERE / "fuzz_seal.py",
            f"-max_total_time={SECONDS}",
            "-rss_limit_mb=2048",
            "-timeout=10",
            "-max_len=65536",
            corpus,
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=SECONDS + 120,
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr[-4000:]
    assert "Done" in run.stderr
