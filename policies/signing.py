"""SM2 report signatures: a detached DER signature (SM2 with SM3, GB/T 32918.2; default user ID
"1234567812345678", GM/T 0009) over the exact bytes of the issued report.

``anbao crypto sm2 verify -p officer.pub -s report.sig report.pdf`` checks the same signature, so
an assessor needs neither Anbao's database nor its API to detect a changed byte.
"""

from __future__ import annotations

from pathlib import Path

from crypto import keys
from crypto.errors import InvalidSignature
from crypto.sm2 import PrivateKey
from policies.errors import ReportSignatureInvalid, SigningUnavailable


class Sm2ReportSigner:
    """:class:`policies.ports.ReportSigner` holding one SM2 private key."""

    def __init__(self, key: PrivateKey) -> None:
        self._key = key
        self._pem = keys.dump_public_key(key.public_key()).decode("ascii")

    @classmethod
    def from_file(cls, path: Path, password: str = "") -> Sm2ReportSigner:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise SigningUnavailable(f"compliance.signing_key_file: cannot read {path}") from exc
        return cls(keys.load_private_key(data, password.encode() if password else None))

    def sign(self, data: bytes) -> bytes:
        return self._key.sign(data)

    def public_key_pem(self) -> str:
        return self._pem


def verify_report(content: bytes, signature: bytes, public_key_pem: bytes) -> None:
    """Raise :class:`ReportSignatureInvalid` unless ``signature`` is valid over ``content``."""
    public = keys.load_public_key(public_key_pem)
    try:
        public.verify(signature, content)
    except (InvalidSignature, ValueError) as exc:
        raise ReportSignatureInvalid("the report or its signature was changed") from exc
