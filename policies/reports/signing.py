"""SM2 report signatures: a detached DER signature (SM2 with SM3, GB/T 32918.2; default user ID
"1234567812345678", GM/T 0009) over the exact bytes of the issued report.

``anbao crypto sm2 verify -p officer.pub -s report.sig report.pdf`` checks the same signature, so
an assessor needs neither Anbao's database nor its API to detect a changed byte.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from crypto import keys, sm2_der
from crypto.errors import InvalidSignature, MalformedInput
from crypto.pki import Certificate, MalformedCertificateError, format_name
from crypto.seals.format import Seal, decode_seal, sign_bytes
from crypto.sm2 import PrivateKey
from policies.errors import ReportSignatureInvalid, SigningUnavailable
from policies.model import SignerCertificate


def certificate_identity(cert: Certificate) -> SignerCertificate:
    """Subject, serial (hex), issuer and validity of ``cert``, as the report prints them."""
    return SignerCertificate(cert.subject_text, f"{cert.serial_number:X}",
                             format_name(cert.issuer), cert.not_before, cert.not_after)  # fmt: skip


class Sm2ReportSigner:
    """:class:`policies.ports.ReportSigner` holding one SM2 private key and, optionally, the
    certificate that names its holder (the report's signature block shows that identity)."""

    def __init__(self, key: PrivateKey, cert: Certificate | None = None) -> None:
        self._key = key
        self._pem = keys.dump_public_key(key.public_key()).decode("ascii")
        if cert is not None and cert.public_key_bytes != key.public_key().to_bytes():
            raise SigningUnavailable("compliance.signing_cert_file: the certificate is not "
                                     "for compliance.signing_key_file's key")  # fmt: skip
        self._identity = certificate_identity(cert) if cert is not None else None

    @classmethod
    def from_file(
        cls, path: Path, password: str = "", cert_path: Path | None = None
    ) -> Sm2ReportSigner:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise SigningUnavailable(f"compliance.signing_key_file: cannot read {path}") from exc
        cert = None
        if cert_path is not None:
            try:
                cert = Certificate.load(cert_path.read_bytes())
            except (OSError, MalformedCertificateError) as exc:
                raise SigningUnavailable(f"compliance.signing_cert_file: cannot read a "
                                         f"certificate from {cert_path}") from exc  # fmt: skip
        return cls(keys.load_private_key(data, password.encode() if password else None), cert)

    def sign(self, data: bytes) -> bytes:
        return self._key.sign(data)

    def public_key_pem(self) -> str:
        return self._pem

    def certificate(self) -> SignerCertificate | None:
        return self._identity


def verify_report(content: bytes, signature: bytes, public_key_pem: bytes) -> None:
    """Raise :class:`ReportSignatureInvalid` unless ``signature`` (DER, or base64 as the API
    gives it) is valid over ``content``."""
    public = keys.load_public_key(public_key_pem)
    try:
        public.verify(sm2_der.read_signature(signature), content)
    except (InvalidSignature, MalformedInput, ValueError) as exc:
        raise ReportSignatureInvalid("the report or its signature was changed") from exc


class SealReportSealer:
    """:class:`policies.ports.ReportSealer`: a detached SES_Signature (GB/T 38540-2020) with
    dataHash = SM3(report bytes), verifiable by ``crypto.seals.format.verify_detached`` /
    ``anbao seal verify`` against the seal's trust roots."""

    PROPERTY_INFO = "anbao-compliance-report.pdf"

    def __init__(self, seal: Seal, key: PrivateKey, cert: Certificate) -> None:
        self._seal, self._key, self._cert = seal, key, cert

    @classmethod
    def from_files(
        cls, seal_file: Path, key_file: Path, cert_file: Path, password: str = ""
    ) -> SealReportSealer:
        try:
            seal = decode_seal(seal_file.read_bytes())
            key = keys.load_private_key(key_file.read_bytes(), password.encode() or None)
            cert = Certificate.load(cert_file.read_bytes())
        except OSError as exc:
            raise SigningUnavailable("compliance.seal_file/seal_key_file/seal_cert_file: "
                                     "cannot read") from exc  # fmt: skip
        return cls(seal, key, cert)

    def seal(self, data: bytes, now: datetime) -> bytes:
        return sign_bytes(data, seal=self._seal, key=self._key, cert=self._cert, now=now,
                          property_info=self.PROPERTY_INFO)  # fmt: skip
