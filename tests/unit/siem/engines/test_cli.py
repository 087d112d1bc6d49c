"""``anbao siem lint|rules|convert|replay|test``."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from click.testing import CliRunner

from anbao.cli import main
from siem.testing import attack_scenarios, documents, working_day


def run(*args: str, stdin: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["siem", *args], input=stdin)
    return result.exit_code, result.output


def test_lint_builtin_pack_passes() -> None:
    code, out = run("lint")
    assert code == 0
    assert "ok: no errors" in out


def test_lint_names_file_and_line_and_fails(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "title: x\nlogsource: {product: anbao}\ndetection:\n  s: {a: b}\n  condition: s\n"
    )
    code, out = run("lint", str(bad))
    assert code == 1
    assert f"{bad}:1: error [level]" in out
    assert f"{bad}:1: error [attack_tag]" in out or "attack_tag" in out


def test_rules_lists_mlps_tags() -> None:
    code, out = run("rules", "--json")
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0
    assert len(rows) >= 20
    assert all(r["mlps"] and r["attack"] and r["falsepositives"] for r in rows)


def test_convert_prints_lucene() -> None:
    code, out = run("convert")
    assert code == 0
    assert "anbao_login_failure: event.action:keycloak.login AND event.outcome:failure" in out


def test_replay_prints_detections() -> None:
    brute = next(
        s for s in attack_scenarios(working_day(dt.datetime.now(dt.UTC))) if s.name == "brute force"
    )
    ndjson = "\n".join(json.dumps(d) for d in documents(list(brute.events)))
    code, out = run("replay", "-", stdin=ndjson)
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert code == 0
    assert len(lines) == 1
    assert lines[0]["entity"] == {"user.name": "victim-bf"}
    assert lines[0]["count"] == 10


def test_replay_rejects_bad_input() -> None:
    code, out = run("replay", "-", stdin="{}\nnot json\n")
    assert code == 1
    assert "line 2: not JSON" in out


def test_self_test_passes() -> None:
    code, out = run("test", "--baseline", "2000")
    assert code == 0
    assert "0 failure(s)" in out
