"""``anbao seal make | sign | verify`` end to end on files, with exit codes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner

from anbao.cli import main
from crypto import keys
from crypto.seals.format.testing import make_sample_seal, minimal_ofd, tiny_png


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
    assert report["signatures"][0]["facts"]["maker_signature_covers"] == "seal_info"  # default
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
    assert result.output.startswith(f"error: --trust {d / 'pic.png'}: not a certificate")
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


@pytest.fixture
def crl_files(files):
    from crypto.pki import build_crl
    from crypto.pki.testing import make_test_pki

    now = datetime.now(UTC)
    pki = make_test_pki(now - timedelta(hours=1))
    crl = build_crl(
        pki.root, pki.root_key, revoked=(), now=now, next_update=timedelta(days=1), crl_number=1
    )
    (files / "crl.pem").write_bytes(crl.pem())
    (files / "crl.der").write_bytes(crl.der)
    (files / "root.der").write_bytes(pki.root.der)
    return files


@pytest.mark.parametrize(
    ("args", "culprit", "holds"),
    [
        (["note.txt", "--trust", "crl.pem"], "--trust crl.pem", "PEM (X509 CRL)"),
        (["note.txt", "--trust", "crl.der"], "--trust crl.der", "a CRL"),
        (["note.txt", "--crl", "roots.pem"], "--crl roots.pem", "PEM (CERTIFICATE)"),
        (["note.txt", "--crl", "root.der"], "--crl root.der", "an X.509 certificate"),
        (["note.txt", "--untrusted", "crl.der"], "--untrusted crl.der", "a CRL"),
        (["roots.pem", "--trust", "roots.pem"], "FILE roots.pem", "PEM (CERTIFICATE)"),
        (["root.der", "--trust", "roots.pem"], "FILE root.der", "an X.509 certificate"),
        (["crl.der", "--trust", "roots.pem"], "FILE crl.der", "a CRL"),
    ],
)
def test_verify_refuses_a_wrong_file_type_as_bad_input_naming_it(crl_files, args, culprit, holds):
    d = crl_files
    result = _run("verify", *(a if a.startswith("--") else d / a for a in args))
    assert result.exit_code == 2, result.output
    option, name = culprit.split()
    assert result.stderr.startswith(f"error: {option} {d / name}: "), result.stderr
    assert holds in result.stderr
    assert result.stderr.count("\n") == 1


def test_sign_names_a_wrong_file(files):
    d = files
    args = ["--key", d / "user.key", "--cert", d / "user.pem", "-o", d / "x.sig"]
    result = _run("sign", d / "note.txt", "--seal", d / "user.pem", *args)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: --seal {d / 'user.pem'}: ")


def test_loaders_name_what_a_file_holds(files):
    from crypto.seals.format import MalformedSeal
    from crypto.seals.format.trust import file_kind, load_certificates, load_crls

    d = files
    assert file_kind((d / "doc.ofd").read_bytes()) == "a ZIP (OFD) package"
    assert file_kind((d / "user.pem").read_bytes()) == "PEM (CERTIFICATE)"
    broken = b"-----BEGIN CERTIFICATE-----\nMIIBAA==\n-----END CERTIFICATE-----\n"
    with pytest.raises(MalformedSeal, match="a PEM block is not a certificate"):
        load_certificates(broken)
    with pytest.raises(MalformedSeal, match=r"not a CRL: the file holds PEM \(CERTIFICATE\)"):
        load_crls((d / "user.pem").read_bytes())
    assert (
        len(load_certificates((d / "roots.pem").read_bytes() + (d / "inter.pem").read_bytes())) == 2
    )
