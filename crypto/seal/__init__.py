"""Electronic seals: GB/T 38540-2020 seals and seal signatures, detached and in OFD documents.

Recipes, framework-free: ``make_seal`` (the maker builds and signs a SESeal), ``sign_bytes``
(detached SES_Signature), ``sign_ofd`` (a Seal signature in an OFD package), and the
``verify_*`` functions returning a ``Report`` of every check. Decoding also reads GM/T
0031-2014 (v1) seals and signatures. See docs/e-seals.md.
"""

from __future__ import annotations

from crypto.seal.asn1 import decode_seal, decode_signature
from crypto.seal.errors import (
    InvalidPicture,
    MalformedSeal,
    SealError,
    SigningRefused,
    UnsafePackage,
)
from crypto.seal.make import make_seal
from crypto.seal.model import CertListType, MakerCoverage, Picture, Seal, SealSignature, SealVersion
from crypto.seal.ofd import StampPosition, sign_ofd
from crypto.seal.package import Limits
from crypto.seal.picture import make_picture
from crypto.seal.report import Check, Overall, Report, SignatureReport, Status
from crypto.seal.sign import sign_bytes, sign_digest
from crypto.seal.trust import Trust
from crypto.seal.verify import Options, verify_detached, verify_seal
from crypto.seal.verify_ofd import verify_any, verify_ofd

__all__ = [
    "CertListType",
    "Check",
    "InvalidPicture",
    "Limits",
    "MakerCoverage",
    "MalformedSeal",
    "Options",
    "Overall",
    "Picture",
    "Report",
    "Seal",
    "SealError",
    "SealSignature",
    "SealVersion",
    "SignatureReport",
    "SigningRefused",
    "StampPosition",
    "Status",
    "Trust",
    "UnsafePackage",
    "decode_seal",
    "decode_signature",
    "make_picture",
    "make_seal",
    "sign_bytes",
    "sign_digest",
    "sign_ofd",
    "verify_any",
    "verify_detached",
    "verify_ofd",
    "verify_seal",
]
