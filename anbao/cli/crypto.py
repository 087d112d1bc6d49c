"""``anbao crypto``: SM2, SM3, SM4 and certificate tools on the command line.

Exit codes: 0 success; 1 a signature did not verify (``sm2 verify`` only); 2 bad input (missing
file, bad hex, wrong key type, truncated DER, failed decryption). Errors are one line on
stderr, never a traceback, and never contain key bytes or plaintext. Key files are PKCS#8
PEM (``anbao crypto sm2 keygen``) or anything ``crypto.keys`` loads (OpenSSL's too).
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO, Final, TypeVar

import click

from crypto import keys, sm2_der, sm3, sm4
from crypto.errors import CryptoError, InvalidSignature
from crypto.sm2 import PrivateKey

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")
EXIT_INVALID: Final = 1
EXIT_BAD_INPUT: Final = 2
_CHUNK: Final = 1 << 20


@click.group()
def crypto() -> None:
    """National-standard cryptography (SM2, SM3, SM4, SM2 certificates)."""


@crypto.group("sm2")
def sm2_group() -> None:
    """SM2 keys, signatures (SM2-with-SM3, Z pre-hash) and encryption (GM/T 0009 DER)."""


@crypto.group("sm4")
def sm4_group() -> None:
    """SM4 encryption (CBC with PKCS#7, CTR, GCM)."""


def fail(message: str, code: int = EXIT_BAD_INPUT) -> click.exceptions.Exit:
    """Print one line to stderr and return the exit to raise."""
    click.echo(f"error: {message}", err=True)
    return click.exceptions.Exit(code)


def handles_bad_input(func: F) -> F:
    """Turn crypto, file and hex errors into one stderr line and exit 2 (no traceback)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except CryptoError as exc:
            raise fail(exc.detail) from None
        except OSError as exc:
            name = exc.filename if exc.filename is not None else "file"
            raise fail(f"{name}: {exc.strerror or 'cannot read or write'}") from None

    return wrapper  # type: ignore[return-value]


def read_input(path: str) -> bytes:
    """Whole file, or stdin for ``-``."""
    if path == "-":
        return sys.stdin.buffer.read()
    return Path(path).read_bytes()


def load_named(option: str, path: str | Path, load: Callable[[bytes], T]) -> T:
    """``load`` a file (or stdin for ``-``); what ``load`` refuses (a CRL given as a
    certificate, text that is no signature…) is bad input, exit 2, naming the option and file."""
    try:
        return load(read_input(str(path)))
    except CryptoError as exc:
        raise fail(f"{option} {path}: {exc.detail}") from None


def write_output(path: str, data: bytes, *, secret: bool = False, exclusive: bool = False) -> None:
    """Write to a file (0600 for secrets, refusing to overwrite when ``exclusive``) or stdout."""
    if path == "-":
        out = sys.stdout.buffer
        out.write(data)
        out.flush()
        return
    flags = os.O_WRONLY | os.O_CREAT | (os.O_EXCL if exclusive else os.O_TRUNC)
    fd = os.open(path, flags, 0o600 if secret else 0o644)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def parse_hex(value: str | None, option: str) -> bytes | None:
    """Decode a hex option; bad hex is bad input with the option's name (never its value)."""
    if value is None:
        return None
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise fail(f"{option} is not valid hex") from None


def read_password(path: str | None) -> bytes | None:
    """First line of a password file (never a command-line value: it would show in ``ps``)."""
    if path is None:
        return None
    lines = Path(path).read_bytes().splitlines()
    return lines[0] if lines else b""


def _uid(value: str) -> bytes:
    return value.encode("utf-8")


_ID_OPTION = click.option(
    "--id", "uid", default="1234567812345678", show_default=True, help="SM2 user id (Z pre-hash)."
)
_PASSWORD_FILE = click.option(
    "--password-file", type=str, default=None, help="File whose first line is the key password."
)


@crypto.command("sm3")
@click.argument("file", default="-")
@handles_bad_input
def sm3_cmd(file: str) -> None:
    """Print the SM3 digest of FILE (or stdin) in hex."""
    h = sm3.Hash()
    if file == "-":
        _hash_stream(h, sys.stdin.buffer)
    else:
        with Path(file).open("rb") as fh:
            _hash_stream(h, fh)
    click.echo(h.finalize().hex())


def _hash_stream(h: sm3.Hash, stream: BinaryIO) -> None:
    while chunk := stream.read(_CHUNK):
        h.update(chunk)


@sm2_group.command("keygen")
@click.option("-o", "--out", "out", required=True, help="Private key file (PKCS#8 PEM, 0600).")
@_PASSWORD_FILE
@handles_bad_input
def sm2_keygen(out: str, password_file: str | None) -> None:
    """Generate an SM2 private key (in OpenSSL's libcrypto)."""
    key = PrivateKey.generate()
    pem = keys.dump_private_key(key, password=read_password(password_file))
    write_output(out, pem, secret=True, exclusive=out != "-")


@sm2_group.command("pub")
@click.argument("key")
@click.option("-o", "--out", "out", default="-", help="Public key file (SPKI PEM).")
@_PASSWORD_FILE
@handles_bad_input
def sm2_pub(key: str, out: str, password_file: str | None) -> None:
    """Write the public key of private KEY."""
    private = keys.load_private_key(read_input(key), read_password(password_file))
    write_output(out, keys.dump_public_key(private.public_key()))


@sm2_group.command("sign")
@click.option("-k", "--key", "key", required=True, help="Private key file.")
@_ID_OPTION
@click.argument("file")
@click.option("-o", "--out", "out", default="-", help="Signature file (DER).")
@_PASSWORD_FILE
@handles_bad_input
def sm2_sign(key: str, uid: str, file: str, out: str, password_file: str | None) -> None:
    """Sign FILE with SM2-with-SM3 (DER signature)."""
    private = keys.load_private_key(read_input(key), read_password(password_file))
    write_output(out, private.sign(read_input(file), uid=_uid(uid)))


@sm2_group.command("verify")
@click.option("-p", "--pub", "pub", required=True, help="Public key file.")
@_ID_OPTION
@click.option(
    "-s", "--sig", "sig", required=True, help="Signature file: DER, or base64 (as APIs give it)."
)
@click.argument("file")
@handles_bad_input
def sm2_verify(pub: str, uid: str, sig: str, file: str) -> None:
    """Verify a signature (DER or base64) over FILE: exit 0 valid, 1 invalid, 2 bad input."""
    public = load_named("-p", pub, keys.load_public_key)
    signature = load_named("-s", sig, sm2_der.read_signature)  # DER or base64, else exit 2
    try:
        public.verify(signature, read_input(file), uid=_uid(uid))
    except InvalidSignature:
        raise fail("signature is not valid", EXIT_INVALID) from None
    click.echo("signature valid", err=True)


@sm2_group.command("encrypt")
@click.option("-p", "--pub", "pub", required=True, help="Public key file.")
@click.argument("file")
@click.option("-o", "--out", "out", default="-", help="Ciphertext file (GM/T 0009 DER).")
@handles_bad_input
def sm2_encrypt(pub: str, file: str, out: str) -> None:
    """Encrypt FILE to a GM/T 0009 DER ciphertext."""
    public = keys.load_public_key(read_input(pub))
    write_output(out, public.encrypt(read_input(file)))


@sm2_group.command("decrypt")
@click.option("-k", "--key", "key", required=True, help="Private key file.")
@click.argument("ciphertext")
@click.option("-o", "--out", "out", default="-", help="Plaintext output.")
@_PASSWORD_FILE
@handles_bad_input
def sm2_decrypt(key: str, ciphertext: str, out: str, password_file: str | None) -> None:
    """Decrypt a GM/T 0009 DER CIPHERTEXT."""
    private = keys.load_private_key(read_input(key), read_password(password_file))
    write_output(out, private.decrypt(read_input(ciphertext)), secret=True)


_IV_SIZES: Final = {"cbc": sm4.BLOCK_SIZE, "ctr": sm4.BLOCK_SIZE, "gcm": sm4.GCM_IV_SIZE}


def _sm4_options(func: F) -> F:
    options = [
        click.option("--key", "key_hex", required=True, help="16-byte key, hex."),
        click.option("--mode", type=click.Choice(["cbc", "ctr", "gcm"]), required=True),
        click.option("--iv", "iv_hex", default=None, help="IV hex; default: random, prefixed."),
        click.option("--aad", "aad_hex", default=None, help="GCM additional data, hex."),
        click.argument("file", default="-"),
        click.option("-o", "--out", "out", default="-", help="Output file (default stdout)."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _sm4_run(mode: str, key: bytes, iv: bytes, data: bytes, aad: bytes, *, encrypt: bool) -> bytes:
    if mode == "cbc":
        return (sm4.cbc_encrypt if encrypt else sm4.cbc_decrypt)(key, iv, data)
    if mode == "ctr":
        return sm4.ctr_crypt(key, iv, data)
    return (sm4.gcm_encrypt if encrypt else sm4.gcm_decrypt)(key, iv, data, aad)


@sm4_group.command("encrypt")
@_sm4_options
@handles_bad_input
def sm4_encrypt(
    *, key_hex: str, mode: str, iv_hex: str | None, aad_hex: str | None, file: str, out: str
) -> None:
    """Encrypt FILE. Without --iv a random IV is written before the ciphertext."""
    key, aad = parse_hex(key_hex, "--key") or b"", parse_hex(aad_hex, "--aad") or b""
    iv = parse_hex(iv_hex, "--iv")
    prefix = b""
    if iv is None:
        iv = prefix = os.urandom(_IV_SIZES[mode])
    write_output(out, prefix + _sm4_run(mode, key, iv, read_input(file), aad, encrypt=True))


@sm4_group.command("decrypt")
@_sm4_options
@handles_bad_input
def sm4_decrypt(
    *, key_hex: str, mode: str, iv_hex: str | None, aad_hex: str | None, file: str, out: str
) -> None:
    """Decrypt FILE. Without --iv the IV is read from the start of the input."""
    key, aad = parse_hex(key_hex, "--key") or b"", parse_hex(aad_hex, "--aad") or b""
    data = read_input(file)
    iv = parse_hex(iv_hex, "--iv")
    if iv is None:
        if len(data) < _IV_SIZES[mode]:
            raise fail("input too short to hold the IV")
        iv, data = data[: _IV_SIZES[mode]], data[_IV_SIZES[mode] :]
    plaintext = _sm4_run(mode, key, iv, data, aad, encrypt=False)
    write_output(out, plaintext, secret=True)


# Subcommands from sibling modules are attached below this line, one import each
# (e.g. the certificate tools: ``crypto.add_command(cert)``).
from anbao.cli.cert import cert  # noqa: E402 - attached after the group is defined

crypto.add_command(cert)
