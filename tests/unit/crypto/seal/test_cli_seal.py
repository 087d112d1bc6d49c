"""``anbao seal make | sign | verify`` end to end on files, with exit codes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner

from anbao.cli import main
from crypto import keys
from crypto.seal.testing import make_sample_seal, minimal_ofd, tiny_png


@pytest.fixture
def files(tmp_path):
    # the CLI reads the wall clock: a seal valid from an hour ago
    sample = make_sample_seal(datetime.now(UTC) - timedelta(hours=1))
    (tmp_path / "maker.key").write_bytes(keys.dump_private_key(sample.maker_key))
    (tmp_path / "maker.pem").write_bytes(sample.maker.pem())
    (tmp_path / "user.key").write_bytes(keys.dump_private_key(sample.key))
    (tmp_path / "user.pem").write_bytes(sample.cert.pem())
    (tmp_path / "roots.pem").write_bytes(sample.pki.root.pem())
    (tmp_path / "inter.pem").write_bytes(sample.pki.intermediate.pem())
    (tmp_path / "pic.png").write_bytes(tiny_png())
    (tmp_path / "doc.ofd").write_bytes(minimal_ofd())
    (tmp_path / "note.txt").write_bytes(b"a detached document")
    return tmp_path


def _run(*args):
    return CliRunner().invoke(main, ["seal", *map(str, args)], catch_exceptions=False)


def test_make_sign_verify(files):
    d = files
    made = _run(
        "make",
        "--maker-key",
        d / "maker.key",
        "--maker-cert",
        d / "maker.pem",
        "--holder-cert",
        d / "user.pem",
        "--name",
        "测试章",
        "--es-id",
        "cli-1",
        "--picture",
        d / "pic.png",
        "-o",
        d / "s.esl",
    )
    assert made.exit_code == 0, made.output
    signed = _run(
        "sign",
        d / "doc.ofd",
        "--seal",
        d / "s.esl",
        "--key",
        d / "user.key",
        "--cert",
        d / "user.pem",
        "-o",
        d / "signed.ofd",
    )
    assert signed.exit_code == 0, signed.output
    trust = ["--trust", d / "roots.pem", "--untrusted", d / "inter.pem"]
    result = _run("verify", d / "signed.ofd", *trust, "--json")
    report = json.loads(result.output)
    # no CRLs given: revocation is indeterminate, everything else passes
    assert result.exit_code == 3, result.output
    checks = {c["name"]: c["status"] for c in report["signatures"][0]["checks"]}
    assert checks.pop("revocation") == "indeterminate"
    assert checks.pop("maker_revocation") == "indeterminate"
    assert checks.pop("timestamp") == "not_applicable"
    assert set(checks.values()) == {"pass"}
    detached = _run(
        "sign",
        d / "note.txt",
        "--seal",
        d / "s.esl",
        "--key",
        d / "user.key",
        "--cert",
        d / "user.pem",
        "-o",
        d / "note.sig",
    )
    assert detached.exit_code == 0
    good = _run("verify", d / "note.sig", "--document", d / "note.txt", *trust)
    assert "document_hash: SM3 of the document matches" in good.output
    (d / "note.txt").write_bytes(b"changed")
    bad = _run("verify", d / "note.sig", "--document", d / "note.txt", *trust)
    assert bad.exit_code == 1
    assert "INVALID" in bad.output
    seal_only = _run("verify", d / "s.esl", *trust, "--at", "2099-01-01T00:00:00")
    assert seal_only.exit_code == 1
    assert "seal_validity: outside" in seal_only.output


def test_bad_input_is_one_line_exit_2(files):
    d = files
    result = _run("verify", d / "doc.ofd", "--trust", d / "pic.png")
    assert result.exit_code == 2
    assert result.output.startswith("error: certificate")
    assert _run("verify", d / "doc.ofd", "--at", "yesterday").exit_code == 2
    result = _run(
        "sign",
        d / "doc.ofd",
        "--seal",
        d / "pic.png",
        "--key",
        d / "user.key",
        "--cert",
        d / "user.pem",
        "-o",
        d / "x",
    )
    assert result.exit_code == 2
    assert result.output.count("\n") == 1
