"""OFD verification: every Seal signature of the first document (GB/T 33190 §18.2).

Per signature, on top of ``verify.signature_report``: dataHash = SM3(Signature.xml) and
propertyInfo naming it, every Reference digest (SM3), and Seal.esl equal byte for byte to
the SESeal embedded in SignedValue.dat. Files of the package that no Reference covers are
named in the ``references`` reason (files added later, such as newer signatures, are
expected there). Unsafe or malformed packages give an invalid report, never an exception.
"""

from __future__ import annotations

from crypto import sm3
from crypto.seals.format import asn1
from crypto.seals.format.errors import MalformedSeal
from crypto.seals.format.ofd import (
    SM3_NAMES,
    OfdDocument,
    OfdSignature,
    StampAnnot,
    open_document,
    page_ids,
    read_signatures,
)
from crypto.seals.format.package import DEFAULT_LIMITS, Limits
from crypto.seals.format.report import Check, Report, SignatureReport, Status
from crypto.seals.format.verify import (
    Options,
    malformed,
    signature_report,
    verify_detached,
    verify_seal,
)

_SHOWN = 5


def _references(doc: OfdDocument, entry: OfdSignature) -> Check:
    if entry.check_method.lower() not in SM3_NAMES:
        return Check(
            "references", Status.FAIL, f"unsupported CheckMethod {entry.check_method[:40]!r}"
        )
    if not entry.references:
        return Check("references", Status.FAIL, "no References")
    bad = []
    for ref in entry.references:
        content = doc.entries.get(ref.path)
        if content is None or ref.check_value is None or sm3.digest(content) != ref.check_value:
            bad.append(ref.path)
    if bad:
        return Check(
            "references",
            Status.FAIL,
            f"{len(bad)} of {len(entry.references)} protected files changed or missing: {', '.join(bad[:_SHOWN])}",
        )
    covered = {r.path for r in entry.references}
    own = {entry.signature_path, entry.signed_value_path, doc.signatures_path}
    loose = sorted(n for n in doc.entries if n not in covered and n not in own)
    note = (
        f"; not covered: {', '.join(loose[:_SHOWN])}{' …' if len(loose) > _SHOWN else ''}"
        if loose
        else ""
    )
    return Check(
        "references", Status.PASS, f"all {len(entry.references)} protected files match (SM3){note}"
    )


def _seal_file(doc: OfdDocument, entry: OfdSignature, embedded: bytes) -> Check:
    if entry.seal_path is None:
        return Check(
            "seal_file", Status.NOT_APPLICABLE, "Signature.xml names no Seal.esl (optional)"
        )
    content = doc.entries.get(entry.seal_path)
    if content is None:
        return Check("seal_file", Status.FAIL, f"{entry.seal_path} is missing")
    if content != embedded:
        return Check(
            "seal_file", Status.FAIL, f"{entry.seal_path} differs from the seal in SignedValue.dat"
        )
    return Check("seal_file", Status.PASS, f"{entry.seal_path} equals the embedded seal")


def _one(doc: OfdDocument, entry: OfdSignature, opts: Options, pages: list[str]) -> SignatureReport:
    label = f"signature {entry.id} ({entry.signature_path})"
    if entry.type.lower() != "seal":
        return SignatureReport(
            label,
            (
                Check(
                    "structure",
                    Status.INDETERMINATE,
                    f"Type={entry.type[:20]!r}: only Seal signatures are verified",
                ),
            ),
        )
    value = doc.entries.get(entry.signed_value_path)
    if value is None:
        return malformed(label, MalformedSeal(f"{entry.signed_value_path} is missing"))
    try:
        sig = asn1.decode_signature(value)
    except MalformedSeal as exc:
        return malformed(label, exc)
    ok = sm3.digest(entry.signature_xml) == sig.data_hash
    named = sig.property_info.lstrip("/") == entry.signature_path
    reason = f"SM3(Signature.xml) {'matches' if ok else 'differs from'} dataHash"
    if not named:
        reason += f"; propertyInfo {sig.property_info[:80]!r} does not name {entry.signature_path}"
    hash_check = Check("document_hash", Status.PASS if ok else Status.FAIL, reason)
    extra = (_references(doc, entry), _seal_file(doc, entry, sig.seal.der))
    report = signature_report(label, sig, hash_check, opts, extra)
    if entry.stamp_annots:
        report.facts["stamp"] = "; ".join(_stamp(a, pages) for a in entry.stamp_annots[:_SHOWN])
    return report


def _stamp(annot: StampAnnot, pages: list[str]) -> str:
    """Where a stamp shows, by page number (1-based) rather than the page's object ID."""
    if annot.page_ref in pages:
        where = f"page {pages.index(annot.page_ref) + 1}"
    else:
        where = f"PageRef {annot.page_ref[:20]!r}, which names no page of the document"
    return f"{where} at {annot.boundary[:60]} mm"


def _page_ids(doc: OfdDocument) -> list[str]:
    try:
        return page_ids(doc)
    except MalformedSeal:
        return []


def verify_ofd(data: bytes, opts: Options, limits: Limits = DEFAULT_LIMITS) -> Report:
    """Verify every signature of an OFD package; no signature at all is ``invalid``."""
    try:
        doc = open_document(data, limits)
        entries = read_signatures(doc)
    except MalformedSeal as exc:
        return Report("ofd", opts.at, checks=(Check("package", Status.FAIL, exc.detail),))
    package = Check("package", Status.PASS, f"{len(doc.entries)} files, {len(entries)} signatures")
    if not entries:
        return Report(
            "ofd",
            opts.at,
            checks=(package, Check("signatures", Status.FAIL, "the document is not signed")),
        )
    pages = _page_ids(doc)
    return Report(
        "ofd",
        opts.at,
        checks=(package,),
        signatures=tuple(_one(doc, e, opts, pages) for e in entries),
    )


def verify_any(data: bytes, opts: Options, document: bytes | None = None) -> Report:
    """Dispatch on content: ZIP → OFD; with ``document`` → detached; else SESeal or SES_Signature."""
    if data[:4] == b"PK\x03\x04":
        return verify_ofd(data, opts)
    if document is not None:
        return verify_detached(data, document, opts)
    try:
        asn1.decode_seal(data)
    except MalformedSeal:
        return verify_detached(data, None, opts) if _is_signature(data) else verify_seal(data, opts)
    return verify_seal(data, opts)


def _is_signature(data: bytes) -> bool:
    try:
        asn1.decode_signature(data)
    except MalformedSeal:
        return False
    return True
