"""Full verification of seals and seal signatures (GB/T 38540 §8.3, GB/T 33190 §18).

Every check is reported with pass / fail / indeterminate and a reason; input that does not
parse gives a report whose ``structure`` check fails, never an exception. Checks of one
signature: structure (with each accepted leniency), signing time, maker signature over the
seal (either reading of what it covers, and which one verified), maker certificate chain,
seal validity window at the signing time, signer listed in the seal's certList, signer
chain to the trusted roots with key usage, revocation at the signing time, the document hash,
the SM2 signature over TBS_Sign, and the timestamp. OFD adds every Reference digest and
Seal.esl equal to the embedded seal.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from crypto import sm3
from crypto.errors import CryptoError
from crypto.pki import Certificate
from crypto.seals.format import asn1
from crypto.seals.format._cache import Lru
from crypto.seals.format.errors import MalformedSeal
from crypto.seals.format.model import SM2_WITH_SM3, MakerCoverage, Seal, SealSignature
from crypto.seals.format.picture import check_picture
from crypto.seals.format.report import Check, Report, SignatureReport, Status
from crypto.seals.format.sign import seal_lists
from crypto.seals.format.trust import NO_CHAIN, Trust, chain_check, revocation_check
from crypto.seals.tsa.authority import TimestampChainNotFound

#: Verifies an RFC 3161 token over the signature value; returns its genTime or raises.
TimestampVerifier = Callable[[bytes, bytes], datetime]
CLOCK_SKEW = timedelta(minutes=5)


@dataclass(frozen=True)
class Options:
    """How to verify: trust material, validation time, optional timestamp verifier."""

    trust: Trust
    at: datetime
    timestamp_verifier: TimestampVerifier | None = None


def _verifies(
    cert: Certificate, signature: bytes, data: bytes, uids: tuple[bytes, ...]
) -> bytes | None:
    for uid in uids:
        try:
            cert.public_key.verify(signature, data, uid=uid)
        except CryptoError:
            continue
        return uid
    return None


_CERTS: Lru[Certificate] = Lru(256)
_MAKER: Lru[tuple[MakerCoverage, bytes] | tuple[()]] = Lru(256)


def _load_cert(der: bytes) -> Certificate | None:
    """Decoded certificate, cached by its exact DER (the key's precomputation comes along)."""
    cert = _CERTS.get(der)
    if cert is None:
        try:
            cert = Certificate.load(der)
        except CryptoError:
            return None
        _CERTS.put(der, cert)
    return cert


def _maker_verified(
    seal: Seal, maker: Certificate, uids: tuple[bytes, ...]
) -> tuple[MakerCoverage, bytes] | tuple[()]:
    """(reading, uid) under which the maker signature verifies, or (); cached by the seal."""

    def compute() -> tuple[MakerCoverage, bytes] | tuple[()]:
        for coverage, tbs in seal.maker_tbs:
            uid = _verifies(maker, seal.signed_value, tbs, uids)
            if uid is not None:
                return coverage, uid
        return ()

    return _MAKER.get_or((seal.der, maker.der, uids), compute)


def _uid_note(uid: bytes) -> str:
    return "default SM2 ID" if uid == b"1234567812345678" else f"SM2 ID {uid!r}"


def maker_checks(seal: Seal, opts: Options, at: datetime) -> tuple[list[Check], dict[str, str]]:
    """Maker signature (both readings), maker chain, picture."""
    facts: dict[str, str] = {}
    maker = _load_cert(seal.maker_cert)
    checks: list[Check] = []
    if maker is None:
        checks.append(Check("maker_signature", Status.FAIL, "the maker certificate does not parse"))
    elif seal.sign_alg != SM2_WITH_SM3:
        checks.append(
            Check("maker_signature", Status.FAIL, f"unsupported algorithm {seal.sign_alg}")
        )
    else:
        facts["maker"] = maker.subject_text
        found = _maker_verified(seal, maker, opts.trust.uids)
        if found:
            coverage, uid = found
            facts["maker_signature_covers"] = str(coverage)
            reason = f"verified over {coverage} ({_uid_note(uid)})"
            checks.append(Check("maker_signature", Status.PASS, reason))
        else:
            reason = "does not verify under either reading"
            checks.append(Check("maker_signature", Status.FAIL, reason))
    if maker is None:
        checks.append(Check("maker_chain", Status.FAIL, "the maker certificate does not parse"))
    else:
        made = seal.info.property.create_date
        chain, path = chain_check("maker_chain", maker, opts.trust, made)
        revoked = revocation_check(path, opts.trust, made)
        checks += [chain, replace(revoked, name="maker_revocation")]
    try:
        check_picture(seal.info.picture)
        checks.append(
            Check(
                "picture",
                Status.PASS,
                f"{seal.info.picture.type} {seal.info.picture.width_mm}x{seal.info.picture.height_mm} mm",
            )
        )
    except MalformedSeal as exc:
        checks.append(Check("picture", Status.FAIL, exc.detail))
    del at
    return checks, facts


_WINDOWS: Lru[str] = Lru(256)


def _window(seal: Seal) -> str:
    """The seal's validity window as text, cached by the seal's DER."""
    prop = seal.info.property
    return _WINDOWS.get_or(
        seal.der, lambda: f"{prop.valid_start.isoformat()} .. {prop.valid_end.isoformat()}"
    )


def _seal_facts(seal: Seal) -> dict[str, str]:
    prop = seal.info.property
    return {
        "seal_name": prop.name,
        "seal_id": seal.info.es_id,
        "seal_version": f"v{int(seal.version)}",
        "seal_valid": _window(seal),
    }


def _time_checks(sig: SealSignature, opts: Options) -> tuple[list[Check], datetime | None]:
    """Signing time (timestamp genTime if verified, else the signer's timeInfo), timestamp."""
    checks: list[Check] = []
    when = sig.time_info
    if sig.timestamp is None:
        checks.append(
            Check(
                "timestamp",
                Status.NOT_APPLICABLE,
                "no timestamp; the signing time is the signer's claim",
            )
        )
    elif opts.timestamp_verifier is None:
        checks.append(
            Check(
                "timestamp",
                Status.INDETERMINATE,
                "a timestamp is embedded but no timestamp verifier is configured",
            )
        )
    else:
        try:
            when = opts.timestamp_verifier(sig.timestamp, sig.signature)
            checks.append(Check("timestamp", Status.PASS, f"genTime {when.isoformat()}"))
        except TimestampChainNotFound as exc:
            checks.append(Check("timestamp", Status.INDETERMINATE, exc.detail, NO_CHAIN))
        except CryptoError as exc:
            checks.append(Check("timestamp", Status.FAIL, exc.detail, exc.code))
    if when is None:
        checks.append(Check("signing_time", Status.INDETERMINATE, "no readable signing time"))
    elif when > opts.at + CLOCK_SKEW:
        checks.append(
            Check("signing_time", Status.FAIL, f"{when.isoformat()} is after the validation time")
        )
        when = None
    else:
        checks.append(Check("signing_time", Status.PASS, when.isoformat()))
    return checks, when


def _validity(seal: Seal, when: datetime | None) -> Check:
    prop = seal.info.property
    if when is None:
        return Check("seal_validity", Status.INDETERMINATE, "no signing time")
    if prop.valid_start <= when <= prop.valid_end:
        return Check(
            "seal_validity",
            Status.PASS,
            f"signed within {_window(seal)}",
        )
    return Check(
        "seal_validity",
        Status.FAIL,
        f"signed outside {_window(seal)}",
    )


def _signer_checks(
    sig: SealSignature, signer: Certificate | None, opts: Options, when: datetime | None
) -> list[Check]:
    if signer is None:
        return [
            Check(n, Status.FAIL, "the signer certificate does not parse")
            for n in ("signer_listed", "signer_chain", "revocation", "signature")
        ]
    checks = [
        Check(
            "signer_listed",
            Status.PASS,
            f"listed in the seal's certList ({sig.seal.info.property.cert_list_type.name.lower()})",
        )
        if seal_lists(sig.seal, sig.signer_cert)
        else Check("signer_listed", Status.FAIL, "the signer certificate is not listed in the seal")
    ]
    if when is None:
        checks += [
            Check("signer_chain", Status.INDETERMINATE, "no signing time"),
            Check("revocation", Status.INDETERMINATE, "no signing time"),
        ]
    else:
        chain, path = chain_check("signer_chain", signer, opts.trust, when)
        checks += [chain, revocation_check(path, opts.trust, when)]
    if sig.sign_alg != SM2_WITH_SM3:
        checks.append(Check("signature", Status.FAIL, f"unsupported algorithm {sig.sign_alg}"))
    else:
        uid = _verifies(signer, sig.signature, sig.tbs_der, opts.trust.uids)
        checks.append(
            Check(
                "signature", Status.PASS, f"SM2 signature over TBS_Sign verifies ({_uid_note(uid)})"
            )
            if uid is not None
            else Check("signature", Status.FAIL, "SM2 signature over TBS_Sign does not verify")
        )
    return checks


def signature_report(
    label: str, sig: SealSignature, data_hash: Check, opts: Options, extra: tuple[Check, ...] = ()
) -> SignatureReport:
    """All checks of one decoded SES_Signature; ``data_hash`` and ``extra`` come from the caller."""
    time_checks, when = _time_checks(sig, opts)
    maker, facts = maker_checks(sig.seal, opts, opts.at)
    signer = _load_cert(sig.signer_cert)
    facts |= _seal_facts(sig.seal)
    if signer is not None:
        facts["signer"] = signer.subject_text
        if signer.uscc:
            facts["signer_uscc"] = signer.uscc
    reading = "v1 (GM/T 0031)" if sig.version == 1 else "v4 (GB/T 38540)"
    checks = [
        Check("structure", Status.PASS, f"SES_Signature {reading}, seal v{int(sig.seal.version)}"),
        *time_checks[1:],
        *maker,
        _validity(sig.seal, when),
        *_signer_checks(sig, signer, opts, when),
        data_hash,
        *extra,
        time_checks[0],
    ]
    return SignatureReport(label, tuple(checks), (*sig.seal.leniencies, *sig.leniencies), facts)


def malformed(label: str, exc: MalformedSeal) -> SignatureReport:
    """A report for input that does not parse."""
    return SignatureReport(label, (Check("structure", Status.FAIL, exc.detail),))


def verify_detached(signature: bytes, document: bytes | None, opts: Options) -> Report:
    """Verify a detached SES_Signature over ``document`` (dataHash = SM3(document)).

    Without the document, the hash check is indeterminate and everything else is checked.
    """
    try:
        sig = asn1.decode_signature(signature)
    except MalformedSeal as exc:
        return Report("detached", opts.at, signatures=(malformed("signature", exc),))
    if document is None:
        check = Check(
            "document_hash",
            Status.INDETERMINATE,
            f"the signed document ({sig.property_info[:80]!r}) was not given",
        )
        return Report(
            "detached", opts.at, signatures=(signature_report("signature", sig, check, opts),)
        )
    ok = sm3.digest(document) == sig.data_hash
    check = Check(
        "document_hash",
        Status.PASS if ok else Status.FAIL,
        f"SM3 of the document {'matches' if ok else 'differs from'} dataHash ({sig.property_info[:80]!r})",
    )
    return Report(
        "detached", opts.at, signatures=(signature_report("signature", sig, check, opts),)
    )


def verify_seal(data: bytes, opts: Options) -> Report:
    """Verify a bare SESeal: structure, maker signature, maker chain, picture, validity at ``at``."""
    try:
        seal = asn1.decode_seal(data)
    except MalformedSeal as exc:
        return Report("seal", opts.at, signatures=(malformed("seal", exc),))
    checks, facts = maker_checks(seal, opts, opts.at)
    prop = seal.info.property
    current = prop.valid_start <= opts.at <= prop.valid_end
    validity = Check(
        "seal_validity",
        Status.PASS if current else Status.FAIL,
        f"{'within' if current else 'outside'} {prop.valid_start.isoformat()} .. {prop.valid_end.isoformat()} at {opts.at.isoformat()}",
    )
    structure = Check("structure", Status.PASS, f"SESeal v{int(seal.version)}")
    report = SignatureReport(
        "seal", (structure, *checks, validity), seal.leniencies, facts | _seal_facts(seal)
    )
    return Report("seal", opts.at, signatures=(report,))
