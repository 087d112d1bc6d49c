"""``anbao crypto cert``: a small SM2 CA on the command line.

``ca`` makes a self-signed root, ``csr`` a PKCS#10 request, ``issue`` signs a request (end
entity, seal holder with ``--uscc``, or intermediate CA with ``--ca``), ``crl`` publishes a
CRL and ``verify`` validates a chain. Files are PEM on output, PEM or DER on input. Signatures
use the GM/T 0009 default SM2 ID; ``--openssl-compat`` signs with (or, for ``verify``, also
accepts) the empty ID OpenSSL 3.0 uses when no ``distid`` is given.

Exit codes: 0 success (``verify``: valid), 1 ``verify``: invalid, 2 bad input, one line on
stderr and no traceback. The CLI is the composition layer, so it reads the clock and passes
it on; the recipes in ``crypto.pki`` never do.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import ParamSpec, TypeVar

import click

from crypto import sm2
from crypto.errors import CryptoError
from crypto.keys import load_private_key
from crypto.pki import (
    DEFAULT_UID,
    OPENSSL_IMPLICIT_UID,
    Certificate,
    CertificateList,
    CertificateRequest,
    PathValidationError,
    Profile,
    RevocationReason,
    RevokedCertificate,
    build_crl,
    build_csr,
    format_name,
    issue_certificate,
    make_root_ca,
    parse_name,
    validate_chain,
    with_uscc,
)

P = ParamSpec("P")
R = TypeVar("R")

EXIT_INVALID = 1
EXIT_BAD_INPUT = 2
_KEY_USAGES = (
    "digital_signature",
    "non_repudiation",
    "key_encipherment",
    "data_encipherment",
    "key_agreement",
    "key_cert_sign",
    "crl_sign",
)
_SERIAL = re.compile(r"(?:0x)?([0-9a-fA-F:]{1,60})")

_in_file = click.Path(dir_okay=False, path_type=Path)  # missing: one line, exit 2
_out_file = click.Path(dir_okay=False, writable=True, path_type=Path)
_pass_file = click.option(
    "--key-pass-file",
    "pass_file",
    type=_in_file,
    default=None,
    help="File whose first line is the private key's password.",
)
_compat = click.option(
    "--openssl-compat",
    is_flag=True,
    help="Use the empty SM2 ID that OpenSSL 3.0 uses without -sigopt/-vfyopt distid.",
)


def _bad_input(message: str) -> click.exceptions.Exit:
    click.echo(f"error: {message}", err=True)
    return click.exceptions.Exit(EXIT_BAD_INPUT)


def _one_line_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Turn crypto and file errors into one line on stderr and exit 2 (no traceback)."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except CryptoError as exc:
            raise _bad_input(exc.detail) from None
        except OSError as exc:
            raise _bad_input(f"{exc.filename or 'file'}: {exc.strerror or 'I/O error'}") from None

    return wrapper


def _read(path: Path, loader: Callable[[bytes], R]) -> R:
    """Load one input file; a parse failure names the file (a path, never its content)."""
    try:
        return loader(path.read_bytes())
    except CryptoError as exc:
        raise _bad_input(f"{path}: {exc.detail}") from None


def _uid(openssl_compat: bool) -> bytes:
    return OPENSSL_IMPLICIT_UID if openssl_compat else DEFAULT_UID


def _load_key(path: Path, pass_file: Path | None) -> sm2.PrivateKey:
    """An SM2 private key from PEM or DER PKCS#8, encrypted if ``pass_file`` is given.

    The password comes from a file (first line), never from the command line, where other
    users could read it in the process list.
    """
    password = None
    if pass_file is not None:
        lines = pass_file.read_bytes().splitlines()
        password = lines[0] if lines else b""
    return _read(path, lambda data: load_private_key(data, password))


def _write(path: Path, data: bytes) -> None:
    path.write_bytes(data)


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


@click.group()
def cert() -> None:
    """SM2 certificates: CA, requests, issuing, CRLs, verification."""


@cert.command("ca")
@click.option("-k", "--key", "key_path", type=_in_file, required=True, help="CA private key.")
@click.option("--subject", required=True, help="Subject, e.g. /C=CN/O=Org/CN=Root CA.")
@click.option("-o", "--out", type=_out_file, required=True, help="Certificate output (PEM).")
@click.option("--days", type=click.IntRange(1, 36500), default=3650, show_default=True)
@click.option("--path-len", type=click.IntRange(0, 16), default=None, help="pathLenConstraint.")
@_pass_file
@_compat
@_one_line_errors
def ca_command(
    *,
    key_path: Path,
    subject: str,
    out: Path,
    days: int,
    path_len: int | None,
    pass_file: Path | None,
    openssl_compat: bool,
) -> None:
    """Make a self-signed root CA certificate."""
    root = make_root_ca(
        _load_key(key_path, pass_file),
        parse_name(subject),
        now=_now(),
        days=days,
        path_len=path_len,
        uid=_uid(openssl_compat),
    )
    _write(out, root.pem())
    click.echo(f"root {format_name(root.subject)} serial {root.serial_number:X}")


@cert.command("csr")
@click.option("-k", "--key", "key_path", type=_in_file, required=True, help="Private key.")
@click.option("--subject", required=True, help="Subject, e.g. /C=CN/O=Org/CN=Seal.")
@click.option("-o", "--out", type=_out_file, required=True, help="Request output (PEM).")
@_pass_file
@_compat
@_one_line_errors
def csr_command(
    *, key_path: Path, subject: str, out: Path, pass_file: Path | None, openssl_compat: bool
) -> None:
    """Make a PKCS#10 certification request."""
    request = build_csr(
        _load_key(key_path, pass_file), parse_name(subject), uid=_uid(openssl_compat)
    )
    _write(out, request.pem())


@cert.command("issue")
@click.option("--ca-cert", type=_in_file, required=True, help="Issuing CA certificate.")
@click.option("--ca-key", type=_in_file, required=True, help="Issuing CA private key.")
@click.option("--csr", "csr_path", type=_in_file, required=True, help="Request to sign.")
@click.option("-o", "--out", type=_out_file, required=True, help="Certificate output (PEM).")
@click.option("--days", type=click.IntRange(1, 36500), default=365, show_default=True)
@click.option("--ca", "is_ca", is_flag=True, help="Issue an intermediate CA certificate.")
@click.option("--path-len", type=click.IntRange(0, 16), default=None, help="With --ca.")
@click.option("--uscc", default=None, help="Seal holder: unified social credit code.")
@click.option("--crl-url", multiple=True, help="CRL distribution point URI (repeatable).")
@_pass_file
@_compat
@_one_line_errors
def issue_command(
    *,
    ca_cert: Path,
    ca_key: Path,
    csr_path: Path,
    out: Path,
    days: int,
    is_ca: bool,
    path_len: int | None,
    uscc: str | None,
    crl_url: tuple[str, ...],
    pass_file: Path | None,
    openssl_compat: bool,
) -> None:
    """Sign a request: end entity, seal holder (--uscc) or intermediate CA (--ca)."""
    if is_ca and uscc:
        raise _bad_input("--ca and --uscc exclude each other")
    if path_len is not None and not is_ca:
        raise _bad_input("--path-len needs --ca")
    request = _read(csr_path, CertificateRequest.load)
    request.verify(uids=(DEFAULT_UID, OPENSSL_IMPLICIT_UID) if openssl_compat else (DEFAULT_UID,))
    profile = Profile.INTERMEDIATE_CA if is_ca else Profile.END_ENTITY
    subject = request.subject
    if uscc:
        profile, subject = Profile.SEAL_HOLDER, with_uscc(subject, uscc)
    issued = issue_certificate(
        _read(ca_cert, Certificate.load),
        _load_key(ca_key, pass_file),
        subject=subject,
        public_key=request.public_key_bytes,
        now=_now(),
        days=days,
        profile=profile,
        path_len=path_len,
        crl_urls=crl_url,
        uid=_uid(openssl_compat),
    )
    _write(out, issued.pem())
    click.echo(f"issued {format_name(issued.subject)} serial {issued.serial_number:X}")


def _serial(text: str) -> int:
    match = _SERIAL.fullmatch(text.strip())
    if match is None:
        raise _bad_input(f"not a hexadecimal serial number: {text[:64]!r}")
    value = int(match.group(1).replace(":", ""), 16)
    if value <= 0:
        raise _bad_input("serial numbers are positive")
    return value


@cert.command("crl")
@click.option("--ca-cert", type=_in_file, required=True, help="Issuing CA certificate.")
@click.option("--ca-key", type=_in_file, required=True, help="Issuing CA private key.")
@click.option("--revoke", multiple=True, help="Serial to revoke, hex as openssl prints it.")
@click.option(
    "--reason",
    type=click.Choice([r.value for r in RevocationReason]),
    default=None,
    help="Reason code for every --revoke.",
)
@click.option("--days", type=click.IntRange(1, 3650), default=7, show_default=True)
@click.option("--number", type=click.IntRange(0), default=None, help="cRLNumber [now, s].")
@click.option("-o", "--out", type=_out_file, required=True, help="CRL output (PEM).")
@_pass_file
@_compat
@_one_line_errors
def crl_command(
    *,
    ca_cert: Path,
    ca_key: Path,
    revoke: tuple[str, ...],
    reason: str | None,
    days: int,
    number: int | None,
    out: Path,
    pass_file: Path | None,
    openssl_compat: bool,
) -> None:
    """Publish a CRL revoking the given serials (as of now)."""
    now = _now()
    entries = [
        RevokedCertificate(_serial(s), now, RevocationReason(reason) if reason else None)
        for s in revoke
    ]
    crl = build_crl(
        _read(ca_cert, Certificate.load),
        _load_key(ca_key, pass_file),
        revoked=entries,
        now=now,
        next_update=timedelta(days=days),
        crl_number=int(now.timestamp()) if number is None else number,
        uid=_uid(openssl_compat),
    )
    _write(out, crl.pem())


def _at(value: str | None) -> datetime:
    if value is None:
        return _now()
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise _bad_input(f"--at is not an ISO 8601 time: {value[:40]!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@cert.command("verify")
@click.argument("cert_path", type=_in_file)
@click.option("--trust", type=_in_file, multiple=True, required=True, help="Trusted root.")
@click.option("--untrusted", type=_in_file, multiple=True, help="Intermediate certificate.")
@click.option("--crl", "crl_paths", type=_in_file, multiple=True, help="CRL to check.")
@click.option("--require-crl", is_flag=True, help="Fail if a certificate has no CRL.")
@click.option(
    "--usage",
    type=click.Choice(_KEY_USAGES),
    multiple=True,
    default=("digital_signature",),
    show_default=True,
    help="Key usage the certificate must allow (repeatable).",
)
@click.option("--at", "at_text", default=None, help="Validation time (ISO 8601) [now].")
@_compat
@_one_line_errors
def verify_command(
    *,
    cert_path: Path,
    trust: tuple[Path, ...],
    untrusted: tuple[Path, ...],
    crl_paths: tuple[Path, ...],
    require_crl: bool,
    usage: tuple[str, ...],
    at_text: str | None,
    openssl_compat: bool,
) -> None:
    """Validate CERT up to a trusted root; exit 0 valid, 1 invalid, 2 bad input."""
    leaf = _read(cert_path, Certificate.load)
    roots = [_read(p, Certificate.load) for p in trust]
    inters = [_read(p, Certificate.load) for p in untrusted]
    crls = [_read(p, CertificateList.load) for p in crl_paths]
    try:
        path = validate_chain(
            leaf,
            inters,
            roots,
            at=_at(at_text),
            crls=crls,
            required_key_usage=usage,
            require_crl=require_crl,
            uids=(DEFAULT_UID, OPENSSL_IMPLICIT_UID) if openssl_compat else (DEFAULT_UID,),
        )
    except PathValidationError as exc:
        click.echo(f"invalid ({exc.reason}): {exc.detail}", err=True)
        raise click.exceptions.Exit(EXIT_INVALID) from None
    chain = " <- ".join(format_name(c.subject) for c in path.certificates)
    click.echo(f"OK: {chain}")
