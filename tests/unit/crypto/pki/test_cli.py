from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner

from anbao.cli.cert import cert
from crypto import sm2
from crypto.keys import dump_private_key
from crypto.pki import Certificate, CertificateList, CertificateRequest, uscc_of

USCC = "91350100M000100Y43"


@pytest.fixture
def run():
    runner = CliRunner()

    def invoke(*args, code=0):
        result = runner.invoke(cert, [str(a) for a in args])
        assert result.exit_code == code, (result.stdout, result.stderr, result.exception)
        if code == 2:
            assert "Traceback" not in result.output
            assert len(result.stderr.strip().splitlines()) == 1
        return result

    return invoke


@pytest.fixture
def pki(tmp_path, run):
    """Root → intermediate → seal holder, made through the CLI only."""
    paths = {}
    for name in ("root", "inter", "leaf"):
        key = tmp_path / f"{name}.key"
        key.write_bytes(dump_private_key(sm2.PrivateKey.generate()))
        paths[f"{name}.key"] = key
    paths["root"] = tmp_path / "root.pem"
    run(
        "ca",
        "-k",
        paths["root.key"],
        "--subject",
        "/C=CN/O=Anbao/CN=Root",
        "-o",
        paths["root"],
        "--path-len",
        1,
    )
    for name, subject in (
        ("inter", "/C=CN/O=Anbao/CN=Seal CA"),
        ("leaf", "/C=CN/O=福州市某局/CN=印章"),
    ):
        csr = tmp_path / f"{name}.csr"
        run("csr", "-k", paths[f"{name}.key"], "--subject", subject, "-o", csr)
        paths[f"{name}.csr"] = csr
    paths["inter"] = tmp_path / "inter.pem"
    run(
        "issue",
        "--ca-cert",
        paths["root"],
        "--ca-key",
        paths["root.key"],
        "--csr",
        paths["inter.csr"],
        "--ca",
        "--path-len",
        0,
        "--crl-url",
        "http://crl.test/root.crl",
        "-o",
        paths["inter"],
    )
    paths["leaf"] = tmp_path / "leaf.pem"
    run(
        "issue",
        "--ca-cert",
        paths["inter"],
        "--ca-key",
        paths["inter.key"],
        "--csr",
        paths["leaf.csr"],
        "--uscc",
        USCC,
        "--days",
        30,
        "-o",
        paths["leaf"],
    )
    return paths


def test_ca_issue_verify(pki, run):
    root = Certificate.load(pki["root"].read_bytes())
    inter = Certificate.load(pki["inter"].read_bytes())
    leaf = Certificate.load(pki["leaf"].read_bytes())
    assert root.is_ca
    assert root.path_length == 1
    assert inter.is_ca
    assert inter.path_length == 0
    assert inter.crl_urls == ["http://crl.test/root.crl"]
    assert uscc_of(leaf.subject) == USCC
    assert leaf.key_usage == {"digital_signature", "non_repudiation"}
    CertificateRequest.load(pki["leaf.csr"].read_bytes()).verify()
    result = run("verify", pki["leaf"], "--trust", pki["root"], "--untrusted", pki["inter"])
    assert result.stdout.startswith("OK: /C=CN/O=福州市某局/organizationIdentifier=")


def test_verify_invalid_exits_1(pki, run):
    result = run("verify", pki["leaf"], "--trust", pki["root"], code=1)
    assert "issuer_not_found" in result.stderr
    later = (datetime.now(UTC) + timedelta(days=60)).isoformat()
    result = run(
        "verify",
        pki["leaf"],
        "--trust",
        pki["root"],
        "--untrusted",
        pki["inter"],
        "--at",
        later,
        code=1,
    )
    assert "(expired)" in result.stderr


def test_crl_revokes(pki, run, tmp_path):
    serial = f"{Certificate.load(pki['leaf'].read_bytes()).serial_number:X}"
    crl = tmp_path / "inter.crl"
    run(
        "crl",
        "--ca-cert",
        pki["inter"],
        "--ca-key",
        pki["inter.key"],
        "--revoke",
        serial,
        "--reason",
        "key_compromise",
        "--number",
        7,
        "-o",
        crl,
    )
    parsed = CertificateList.load(crl.read_bytes())
    assert parsed.crl_number == 7
    assert [f"{r.serial_number:X}" for r in parsed.revoked] == [serial]
    args = (
        "verify",
        pki["leaf"],
        "--trust",
        pki["root"],
        "--untrusted",
        pki["inter"],
        "--crl",
        crl,
    )
    assert "(revoked)" in run(*args, code=1).stderr
    empty = tmp_path / "empty.crl"
    run("crl", "--ca-cert", pki["inter"], "--ca-key", pki["inter.key"], "-o", empty)
    run("verify", pki["leaf"], "--trust", pki["root"], "--untrusted", pki["inter"], "--crl", empty)


def test_openssl_compat_flag(pki, run, tmp_path):
    root = tmp_path / "compat-root.pem"
    run("ca", "-k", pki["root.key"], "--subject", "/CN=Compat", "-o", root, "--openssl-compat")
    assert (
        "bad_signature"
        not in run("verify", root, "--trust", root, "--usage", "key_cert_sign").stderr
    )
    leaf = tmp_path / "compat-leaf.pem"
    run(
        "issue",
        "--ca-cert",
        root,
        "--ca-key",
        pki["root.key"],
        "--csr",
        pki["leaf.csr"],
        "-o",
        leaf,
        "--openssl-compat",
    )
    assert "(bad_signature)" in run("verify", leaf, "--trust", root, code=1).stderr
    run("verify", leaf, "--trust", root, "--openssl-compat")


def test_bad_input_exits_2(pki, run, tmp_path):
    truncated = tmp_path / "truncated.pem"
    truncated.write_bytes(pki["leaf"].read_bytes()[:-200])
    message = run("verify", truncated, "--trust", pki["root"], code=2).stderr
    assert "truncated.pem: not a well-formed SM2 X.509 certificate" in message
    der = Certificate.load(pki["leaf"].read_bytes()).der
    (tmp_path / "cut.der").write_bytes(der[:100])
    run("verify", tmp_path / "cut.der", "--trust", pki["root"], code=2)
    run(
        "ca", "-k", pki["leaf"], "--subject", "/CN=x", "-o", tmp_path / "x.pem", code=2
    )  # not a key
    run("ca", "-k", pki["root.key"], "--subject", "CN=x", "-o", tmp_path / "x.pem", code=2)
    run("verify", pki["leaf"], "--trust", tmp_path / "missing.pem", code=2)
    base = ("--ca-cert", pki["inter"], "--ca-key", pki["inter.key"], "-o", tmp_path / "x")
    run("crl", *base, "--revoke", "xyz", code=2)
    run("issue", *base, "--csr", pki["leaf.csr"], "--uscc", "91350100M000100Y44", code=2)
    run("issue", *base, "--csr", pki["leaf.csr"], "--path-len", 1, code=2)
    run(
        "issue",
        "--ca-cert",
        pki["inter"],
        "--ca-key",
        pki["root.key"],
        "--csr",
        pki["leaf.csr"],
        "-o",
        tmp_path / "x",
        code=2,
    )
    run("verify", pki["leaf"], "--trust", pki["root"], "--at", "yesterday", code=2)


def test_encrypted_ca_key(tmp_path, run):
    key = tmp_path / "ca.key"
    key.write_bytes(
        dump_private_key(sm2.PrivateKey.generate(), password=b"s3cret", iterations=1000)
    )
    password = tmp_path / "pass"
    password.write_text("s3cret\n")
    out = tmp_path / "root.pem"
    run("ca", "-k", key, "--key-pass-file", password, "--subject", "/CN=R", "-o", out)
    password.write_text("wrong\n")
    result = run(
        "ca", "-k", key, "--key-pass-file", password, "--subject", "/CN=R", "-o", out, code=2
    )
    assert "s3cret" not in result.output
    assert "wrong" not in result.output.replace("wrong password", "")
