"""Electronic seals: GB/T 38540-2020 seals and seal signatures, detached and in OFD documents.

Recipes, framework-free: ``make_seal`` (the maker builds and signs a SESeal), ``sign_bytes``
(detached SES_Signature), ``sign_ofd`` (a Seal signature in an OFD package), and the
``verify_*`` functions returning a ``Report`` of every check. Decoding also reads GM/T
0031-2014 (v1) seals and signatures. See docs/e-seals.md.
"""

from __future__ import annotations

from crypto.seals.format.asn1 import decode_seal, decode_signature
from crypto.seals.format.errors import (
    InvalidPicture,
    MalformedSeal,
    SealError,
    SigningRefused,
    UnsafePackage,
)
from crypto.seals.format.make import make_seal
from crypto.seals.format.model import (
    CertListType,
    MakerCoverage,
    Picture,
    Seal,
    SealSignature,
    SealVersion,
)
from crypto.seals.format.ofd import StampPosition, sign_ofd
from crypto.seals.format.package import Limits
from crypto.seals.format.picture import make_picture
from crypto.seals.format.report import Check, Overall, Report, SignatureReport, Status
from crypto.seals.format.sign import sign_bytes, sign_digest
from crypto.seals.format.trust import Trust
from crypto.seals.format.verify import Options, verify_detached, verify_seal
from crypto.seals.format.verify_ofd import verify_any, verify_ofd

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
