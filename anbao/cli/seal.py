"""``anbao seal``: verify seals and sealed documents; make and apply seals for development.

``verify`` reads an OFD package, a SESeal (``.esl``) or a SES_Signature (with ``--document``
for a detached one) and prints the verification report (text, or ``--json``). Exit codes:
0 valid, 1 invalid, 3 indeterminate, 2 bad input (one line on stderr, no traceback).

``make`` and ``sign`` work from key and certificate files: they are for development and
tests. In production seals are made and applied by the lifecycle service, whose keys live
in the key store.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import click

from anbao.cli.crypto import (
    fail,
    handles_bad_input,
    load_named,
    read_input,
    read_password,
    write_output,
)
from crypto.keys import load_private_key
from crypto.pki import Certificate
from crypto.seals.format import (
    CertListType,
    MakerCoverage,
    MalformedSeal,
    Options,
    StampPosition,
    Trust,
    decode_seal,
    make_picture,
    make_seal,
    sign_bytes,
    sign_ofd,
    verify_any,
)
from crypto.seals.format.trust import load_certificates, load_crls, misplaced
from crypto.seals.tsa.verify import timestamp_verifier
from crypto.sm2 import PrivateKey

EXIT_INVALID = 1
EXIT_INDETERMINATE = 3
_T = TypeVar("_T")


@click.group()
def seal() -> None:
    """Electronic seals (GB/T 38540): verify; make and sign for development."""


def _all(
    option: str, paths: tuple[Path, ...], load: Callable[[bytes], tuple[_T, ...]]
) -> tuple[_T, ...]:
    return tuple(item for path in paths for item in load_named(option, path, load))


def _key(option: str, path: Path, password_file: Path | None) -> PrivateKey:
    password = read_password(str(password_file) if password_file else None)
    return load_named(option, path, lambda data: load_private_key(data, password))


def _sealed(data: bytes) -> bytes:
    """The file to verify: an OFD, seal or seal signature, never a certificate, CRL or PEM."""
    kind = misplaced(data)
    if kind is not None:
        raise MalformedSeal(f"{kind}, not an OFD, seal or seal signature")
    return data


def _time(value: str | None, option: str) -> datetime:
    if value is None:
        return datetime.now(UTC)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise fail(f"{option} is not an ISO 8601 time") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@seal.command("verify")
@click.argument("file")
@click.option(
    "--trust",
    "roots",
    type=click.Path(path_type=Path),
    multiple=True,
    help="Trusted root certificates (PEM bundle or DER).",
)
@click.option(
    "--untrusted", type=click.Path(path_type=Path), multiple=True, help="Intermediate certificates."
)
@click.option("--crl", type=click.Path(path_type=Path), multiple=True, help="CRLs (PEM or DER).")
@click.option(
    "--document",
    type=click.Path(path_type=Path),
    help="The signed file, for a detached SES_Signature.",
)
@click.option("--at", "at", help="Validation time (ISO 8601; default now).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@handles_bad_input
def verify(  # noqa: PLR0917 - click passes options positionally
    file: str,
    roots: tuple[Path, ...],
    untrusted: tuple[Path, ...],
    crl: tuple[Path, ...],
    document: Path | None,
    at: str | None,
    as_json: bool,
) -> None:
    """Verify FILE (OFD, .esl seal, or SES_Signature) and print the report."""
    trust = Trust(
        roots=_all("--trust", roots, load_certificates),
        intermediates=_all("--untrusted", untrusted, load_certificates),
        crls=_all("--crl", crl, load_crls),
    )
    report = verify_any(
        load_named("FILE", file, _sealed),
        Options(
            trust=trust,
            at=_time(at, "--at"),
            # RFC 3161 tokens (Anbao's TSA) chain to the same roots; revocation of the TSA
            # certificate is not checked here (see docs/seal-registry.md).
            timestamp_verifier=timestamp_verifier(trust.roots, trust.intermediates)
            if trust.roots
            else None,
        ),
        document.read_bytes() if document else None,
    )
    click.echo(
        json.dumps(report.to_json(), ensure_ascii=False, indent=2) if as_json else report.to_text()
    )
    codes = {"valid": 0, "invalid": EXIT_INVALID, "indeterminate": EXIT_INDETERMINATE}
    raise click.exceptions.Exit(codes[str(report.status)])


@seal.command("make")
@click.option("--maker-key", type=click.Path(path_type=Path), required=True)
@click.option("--maker-cert", type=click.Path(path_type=Path), required=True)
@click.option(
    "--key-pass-file",
    type=click.Path(path_type=Path),
    help="Password of the maker key (first line).",
)
@click.option("--holder-cert", type=click.Path(path_type=Path), multiple=True, required=True)
@click.option("--name", required=True, help="Seal name (印章名称).")
@click.option("--es-id", required=True, help="Seal identifier (esID, ASCII).")
@click.option("--picture", type=click.Path(path_type=Path), required=True, help="PNG, JPG or SVG.")
@click.option("--width-mm", type=int, default=40, show_default=True)
@click.option("--height-mm", type=int, default=40, show_default=True)
@click.option("--days", type=int, default=365, show_default=True, help="Validity from now.")
@click.option("--digests", is_flag=True, help="List holder certificates by SM3 digest.")
@click.option(
    "--coverage",
    type=click.Choice([c.value for c in MakerCoverage]),
    default=MakerCoverage.SEAL_INFO.value,
    show_default=True,
)
@click.option("-o", "--out", required=True, help="Output .esl file.")
@handles_bad_input
def make(  # noqa: PLR0917 - click passes options positionally
    maker_key: Path,
    maker_cert: Path,
    key_pass_file: Path | None,
    holder_cert: tuple[Path, ...],
    name: str,
    es_id: str,
    picture: Path,
    width_mm: int,
    height_mm: int,
    days: int,
    digests: bool,
    coverage: str,
    out: str,
) -> None:
    """Make a v4 seal (SESeal) signed by the seal maker."""
    now = datetime.now(UTC).replace(microsecond=0)
    made = make_seal(
        maker_key=_key("--maker-key", maker_key, key_pass_file),
        maker_cert=load_named("--maker-cert", maker_cert, Certificate.load),
        holder_certs=list(_all("--holder-cert", holder_cert, load_certificates)),
        name=name,
        es_id=es_id,
        picture=make_picture(picture.read_bytes(), width_mm, height_mm),
        valid_start=now,
        valid_end=now + timedelta(days=days),
        now=now,
        cert_list_type=CertListType.DIGESTS if digests else CertListType.CERTS,
        coverage=MakerCoverage(coverage),
    )
    write_output(out, made.der)


@seal.command("sign")
@click.argument("file")
@click.option("--seal", "seal_file", type=click.Path(path_type=Path), required=True)
@click.option("--key", type=click.Path(path_type=Path), required=True)
@click.option("--cert", type=click.Path(path_type=Path), required=True)
@click.option("--key-pass-file", type=click.Path(path_type=Path))
@click.option("--page", type=int, default=1, show_default=True, help="OFD: page (1-based).")
@click.option("--x", "x_mm", type=float, default=20.0, show_default=True, help="OFD: left, mm.")
@click.option("--y", "y_mm", type=float, default=20.0, show_default=True, help="OFD: top, mm.")
@click.option("-o", "--out", required=True)
@handles_bad_input
def sign(  # noqa: PLR0917 - click passes options positionally
    file: str,
    seal_file: Path,
    key: Path,
    cert: Path,
    key_pass_file: Path | None,
    page: int,
    x_mm: float,
    y_mm: float,
    out: str,
) -> None:
    """Seal FILE: an OFD gets a Seal signature; any other file a detached SES_Signature."""
    data = read_input(file)
    the_seal = load_named("--seal", seal_file, decode_seal)
    signing_key = _key("--key", key, key_pass_file)
    signer = load_named("--cert", cert, Certificate.load)
    now = datetime.now(UTC).replace(microsecond=0)
    if data[:4] == b"PK\x03\x04":
        picture = the_seal.info.picture
        position = StampPosition(page, x_mm, y_mm, picture.width_mm, picture.height_mm)
        result = sign_ofd(
            data, seal=the_seal, key=signing_key, cert=signer, now=now, position=position
        )
    else:
        name = Path(file).name if file != "-" else "stdin"
        result = sign_bytes(
            data,
            seal=the_seal,
            key=signing_key,
            cert=signer,
            now=now,
            property_info=name.encode("ascii", "replace").decode(),
        )
    write_output(out, result)
