"""Verify an RFC 3161 time-stamp token signed with SM2 (``crypto.seals.tsa.authority`` makes them).

Checks, in order (RFC 3161 §2.4.2, RFC 5652 §5.4 and §11, RFC 5816): SignedData with one
signer over an id-ct-TSTInfo; the contentType and messageDigest signed attributes; the
signingCertificateV2 hash of the TSA certificate; the SM2-with-SM3 signature over the DER of
the signed attributes (a SET, §5.4); the certificate's critical extKeyUsage timeStamping only
(§2.3) and its path to a trusted root at genTime; finally the message imprint against the data
or digest the caller expects. Any failure raises :class:`~crypto.seals.tsa.authority.TimestampError`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from asn1crypto import cms, tsp

from crypto import sm3
from crypto.errors import CertificateError, InvalidSignature
from crypto.pki import (
    DEFAULT_UID,
    Certificate,
    CertificateList,
    PathValidationError,
    format_name,
    validate_chain,
)
from crypto.seals.tsa.authority import (
    _HASHES,
    MAX_TOKEN_BYTES,
    SM2_SM3_OID,
    SM3_OID,
    TimestampChainNotFound,
    TimestampError,
    TimestampInfo,
    _hash,
    _load,
)


def _signed_data(token: bytes) -> cms.SignedData:
    info = _load(cms.ContentInfo, token, MAX_TOKEN_BYTES, "time-stamp token")
    if info["content_type"].native != "signed_data":
        raise TimestampError("the token is not a CMS SignedData")
    signed: cms.SignedData = info["content"]
    if signed["encap_content_info"]["content_type"].native != "tst_info":
        raise TimestampError("the token does not carry a TSTInfo")
    if len(signed["signer_infos"]) != 1:
        raise TimestampError("a time-stamp token has exactly one signer")
    # Not covered by the signature, so held to exactly what a conforming token carries
    # (RFC 5652 §5.1, §5.3: version 3 with issuerAndSerialNumber signer version 1).
    if signed["version"].native != "v3" or signed["signer_infos"][0]["version"].native != "v1":
        raise TimestampError("unexpected SignedData or SignerInfo version")
    algorithms = [a["algorithm"].dotted for a in signed["digest_algorithms"]]
    if algorithms != [SM3_OID]:
        raise TimestampError("the token's digestAlgorithms is not SM3")
    return signed


def _tsa_certificate(
    signed: cms.SignedData, signer: cms.SignerInfo, extra: Sequence[Certificate]
) -> Certificate:
    sid = signer["sid"]
    if sid.name != "issuer_and_serial_number":
        raise TimestampError("the signer must be named by issuer and serial number")
    serial = sid.chosen["serial_number"].native
    issuer = sid.chosen["issuer"]
    candidates = [Certificate.load(c.chosen.dump()) for c in signed["certificates"] or []]
    for cert in [*candidates, *extra]:
        if cert.serial_number == serial and cert.issuer == issuer:
            return cert
    raise TimestampError("the TSA certificate is neither in the token nor given")


def _attributes(signer: cms.SignerInfo) -> dict[str, object]:
    found: dict[str, object] = {}
    for attribute in signer["signed_attrs"]:
        name = attribute["type"].native
        if name in found or len(attribute["values"]) != 1:
            raise TimestampError(f"signed attribute {name} repeated or multi-valued")
        found[name] = attribute["values"][0]
    return found


def _check_attributes(signer: cms.SignerInfo, content: bytes, cert: Certificate) -> None:
    attrs = _attributes(signer)
    content_type = attrs.get("content_type")
    if content_type is None or getattr(content_type, "native", None) != "tst_info":
        raise TimestampError("contentType attribute missing or not id-ct-TSTInfo")
    digest = attrs.get("message_digest")
    if digest is None or bytes(getattr(digest, "native", b"")) != sm3.digest(content):
        raise TimestampError("messageDigest does not match the TSTInfo")
    ess = attrs.get("signing_certificate_v2")
    if not isinstance(ess, tsp.SigningCertificateV2) or not len(ess["certs"]):
        raise TimestampError("signingCertificateV2 attribute missing (RFC 5816)")
    first = ess["certs"][0]
    algorithm = first["hash_algorithm"]["algorithm"].dotted
    if algorithm not in _HASHES or bytes(first["cert_hash"].native) != _hash(algorithm, cert.der):
        raise TimestampError("signingCertificateV2 does not name the TSA certificate")


def _check_signature(signer: cms.SignerInfo, cert: Certificate, uids: tuple[bytes, ...]) -> None:
    if signer["signature_algorithm"]["algorithm"].dotted != SM2_SM3_OID:
        raise TimestampError("the token is not signed with SM2-with-SM3")
    if signer["digest_algorithm"]["algorithm"].dotted != SM3_OID:
        raise TimestampError("the token's digest algorithm is not SM3")
    encoded = signer["signed_attrs"].dump()
    tbs = b"\x31" + encoded[1:]  # RFC 5652 §5.4: signed over the explicit SET OF encoding
    signature = bytes(signer["signature"].native)
    for uid in uids:
        try:
            cert.public_key.verify(signature, tbs, uid=uid)
        except InvalidSignature:
            continue
        return
    raise TimestampError("the TSA signature does not verify")


def _check_usage(cert: Certificate) -> None:
    usage = cert.asn1.extended_key_usage_value
    if usage is None or usage.native != ["time_stamping"]:
        raise TimestampError("the TSA certificate's extKeyUsage is not timeStamping alone")
    if "extended_key_usage" not in cert.critical_extensions:
        raise TimestampError("the TSA certificate's extKeyUsage is not critical")


def verify_token(
    token: bytes,
    *,
    trust_roots: Sequence[Certificate],
    intermediates: Sequence[Certificate] = (),
    crls: Sequence[CertificateList] = (),
    data: bytes | None = None,
    digest: bytes | None = None,
    tsa_certificates: Sequence[Certificate] = (),
    uids: tuple[bytes, ...] = (DEFAULT_UID,),
) -> TimestampInfo:
    """Verify ``token`` and, when given, that it covers ``data`` (or ``digest``)."""
    signed = _signed_data(token)
    signer = signed["signer_infos"][0]
    content = bytes(signed["encap_content_info"]["content"].contents)
    tst = _load(tsp.TSTInfo, content, MAX_TOKEN_BYTES, "TSTInfo")
    cert = _tsa_certificate(signed, signer, tsa_certificates)
    _check_attributes(signer, content, cert)
    _check_signature(signer, cert, uids)
    _check_usage(cert)
    gen_time = tst["gen_time"].native
    try:
        validate_chain(cert, intermediates, trust_roots, at=gen_time, crls=crls, uids=uids)
    except CertificateError as exc:
        kind = (
            TimestampChainNotFound
            if isinstance(exc, PathValidationError) and exc.no_path
            else TimestampError
        )
        raise kind(f"the TSA certificate does not validate: {exc.detail}") from exc
    imprint = tst["message_imprint"]
    algorithm = imprint["hash_algorithm"]["algorithm"].dotted
    hashed = bytes(imprint["hashed_message"].native)
    expected = _hash(algorithm, data) if data is not None else digest
    if expected is not None and expected != hashed:
        raise TimestampError("the time-stamp covers other data")
    return TimestampInfo(
        gen_time=gen_time,
        serial_number=int(tst["serial_number"].native),
        policy=tst["policy"].dotted,
        hash_algorithm=algorithm,
        imprint=hashed,
        tsa_subject=format_name(cert.subject),
    )


def timestamp_verifier(
    trust_roots: Sequence[Certificate],
    intermediates: Sequence[Certificate] = (),
    crls: Sequence[CertificateList] = (),
) -> Callable[[bytes, bytes], datetime]:
    """For ``crypto.seals.format.Options``: (token, signature value) -> genTime, or TimestampError."""

    def verify(token: bytes, signature_value: bytes) -> datetime:
        info = verify_token(
            token,
            trust_roots=trust_roots,
            intermediates=intermediates,
            crls=crls,
            data=signature_value,
        )
        return info.gen_time

    return verify
