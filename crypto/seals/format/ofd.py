"""Seal signatures in OFD documents (GB/T 33190-2016 §18, with GB/T 38540 SES_Signature).

Layout: ``OFD.xml`` DocBody/Signatures → ``/Doc_0/Signs/Signatures.xml`` listing each
``Signature`` (ID, Type = Seal, BaseLoc); each signature folder holds ``Signature.xml``
(SignedInfo: Provider, SignatureMethod, SignatureDateTime, References with an SM3 CheckValue
for every protected file, StampAnnot, Seal BaseLoc; SignedValue), ``SignedValue.dat`` (DER
SES_Signature with dataHash = SM3(Signature.xml) and propertyInfo = its path) and
``Seal.esl``.

Adding a signature keeps earlier ones valid: it never changes a file an earlier signature
protects. Signatures.xml itself is left out of the References (it changes with each new
signature), as ofdrw's ContinueSign mode does; a document whose earlier signature protects
Signatures.xml is closed to further signatures and refused.
"""

from __future__ import annotations

import base64
import binascii
import posixpath
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime

from crypto import sm3
from crypto.pki import DEFAULT_UID, Certificate, SigningKey
from crypto.seals.format.errors import MalformedSeal, SigningRefused
from crypto.seals.format.model import SM2_WITH_SM3, SM3_OID, Seal
from crypto.seals.format.package import (
    DEFAULT_LIMITS,
    OFD_NS,
    Limits,
    child,
    children,
    local,
    parse_xml,
    read_package,
    resolve,
    text_of,
    write_package,
)
from crypto.seals.format.sign import Timestamper, sign_digest

PROVIDER = "Anbao"
SM3_NAMES = frozenset({"sm3", SM3_OID})


@dataclass(frozen=True)
class Reference:
    """A protected file and the digest Signature.xml records for it."""

    path: str
    check_value: bytes | None


@dataclass(frozen=True)
class StampAnnot:
    """Where the seal picture shows: page ID and boundary "x y w h" in mm."""

    id: str
    page_ref: str
    boundary: str


@dataclass(frozen=True)
class OfdSignature:
    """One entry of Signatures.xml with what its Signature.xml says."""

    id: str
    type: str
    signature_path: str
    signature_xml: bytes
    check_method: str
    references: tuple[Reference, ...]
    signed_value_path: str
    seal_path: str | None
    signature_method: str
    date_time: str
    stamp_annots: tuple[StampAnnot, ...]


@dataclass(frozen=True)
class OfdDocument:
    """A package with the location of its first document's signature list."""

    entries: dict[str, bytes]
    doc_root: str
    signatures_path: str | None


@dataclass(frozen=True)
class StampPosition:
    """Seal placement: 1-based page index and the box in mm (x, y from the top left)."""

    page: int = 1
    x: float = 20.0
    y: float = 20.0
    width: float = 40.0
    height: float = 40.0


def _entry(doc: OfdDocument, path: str, what: str) -> bytes:
    try:
        return doc.entries[path]
    except KeyError:
        raise MalformedSeal(f"{what} {path!r} is missing from the package") from None


def open_document(data: bytes, limits: Limits = DEFAULT_LIMITS) -> OfdDocument:
    """Read a package safely and locate the first DocBody's DocRoot and Signatures."""
    entries = read_package(data, limits)
    if "OFD.xml" not in entries:
        raise MalformedSeal("not an OFD package: OFD.xml is missing")
    root = parse_xml(entries["OFD.xml"], "OFD.xml", limits)
    body = child(root, "DocBody")
    if local(root.tag) != "OFD" or body is None:
        raise MalformedSeal("OFD.xml has no DocBody")
    doc_root = resolve(text_of(child(body, "DocRoot")))
    signatures = text_of(child(body, "Signatures"))
    return OfdDocument(entries, doc_root, resolve(signatures) if signatures else None)


def _digest_value(text: str) -> bytes | None:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


def _read_signature(doc: OfdDocument, record: ET.Element, base_dir: str) -> OfdSignature:
    path = resolve(record.get("BaseLoc", ""), base_dir)
    xml = _entry(doc, path, "Signature.xml")
    root = parse_xml(xml, path)
    info = child(root, "SignedInfo")
    if local(root.tag) != "Signature" or info is None:
        raise MalformedSeal(f"{path} has no SignedInfo")
    sig_dir = posixpath.dirname(path)
    refs = child(info, "References")
    references = tuple(
        Reference(
            resolve(r.get("FileRef", ""), sig_dir), _digest_value(text_of(child(r, "CheckValue")))
        )
        for r in (children(refs, "Reference") if refs is not None else [])
    )
    seal = child(info, "Seal")
    seal_loc = text_of(child(seal, "BaseLoc")) if seal is not None else ""
    annots = tuple(
        StampAnnot(a.get("ID", ""), a.get("PageRef", ""), a.get("Boundary", ""))
        for a in children(info, "StampAnnot")
    )
    return OfdSignature(
        id=record.get("ID", ""),
        type=record.get("Type", "Seal"),
        signature_path=path,
        signature_xml=xml,
        check_method=refs.get("CheckMethod", "") if refs is not None else "",
        references=references,
        signed_value_path=resolve(text_of(child(root, "SignedValue")), sig_dir),
        seal_path=resolve(seal_loc, sig_dir) if seal_loc else None,
        signature_method=text_of(child(info, "SignatureMethod")),
        date_time=text_of(child(info, "SignatureDateTime")),
        stamp_annots=annots,
    )


def read_signatures(doc: OfdDocument) -> list[OfdSignature]:
    """Every signature of the first document, in Signatures.xml order."""
    if doc.signatures_path is None:
        return []
    listing = parse_xml(_entry(doc, doc.signatures_path, "Signatures.xml"), doc.signatures_path)
    base = posixpath.dirname(doc.signatures_path)
    return [_read_signature(doc, r, base) for r in children(listing, "Signature")]


def page_ids(doc: OfdDocument) -> list[str]:
    """The page IDs of Document.xml in reading order: page n (1-based) is ``[n - 1]``.

    A StampAnnot's PageRef is such an ID (an object ID, GB/T 33190 §7.5, §18), not a page
    number: people are told page numbers.
    """
    document = parse_xml(_entry(doc, doc.doc_root, "Document.xml"), doc.doc_root)
    pages = child(document, "Pages")
    listed = children(pages, "Page") if pages is not None else []
    return [page.get("ID", str(n)) for n, page in enumerate(listed, 1)]


def _page_id(doc: OfdDocument, page: int) -> str:
    """The ID of the ``page``-th page (1-based) in Document.xml (GB/T 33190 §7.5)."""
    ids = page_ids(doc)
    if not 1 <= page <= len(ids):
        raise SigningRefused(f"the document has no page {page}")
    return ids[page - 1]


def _insert_before_close(xml: bytes, element: str, fragment: str, what: str) -> bytes:
    """Insert ``fragment`` (namespace prefix filled in) before ``</prefix:element>``."""
    match = re.search(rb"</(?:([A-Za-z_][\w.-]*):)?" + element.encode() + rb"\s*>", xml)
    if match is None:
        raise MalformedSeal(f"{what} has no {element} element to extend")
    prefix = (match.group(1) or b"").decode()
    text = fragment.replace("P:", f"{prefix}:" if prefix else "")
    return xml[: match.start()] + text.encode("utf-8") + xml[match.start() :]


def _next_sign_dir(doc: OfdDocument, signs_dir: str) -> str:
    index = 0
    while any(n.startswith(f"{signs_dir}/Sign_{index}/") for n in doc.entries):
        index += 1
    return f"{signs_dir}/Sign_{index}"


def _prepare_listing(
    doc: OfdDocument, new_id: str, signature_path: str
) -> tuple[dict[str, bytes], str]:
    """Updated OFD.xml/Signatures.xml entries for a new Seal signature, and the list's path."""
    record = f'<P:Signature ID="{new_id}" Type="Seal" BaseLoc="/{signature_path}"/>'
    if doc.signatures_path is None:
        path = posixpath.join(posixpath.dirname(doc.doc_root), "Signs", "Signatures.xml")
        ofd_xml = _insert_before_close(
            doc.entries["OFD.xml"], "DocBody", f"<P:Signatures>/{path}</P:Signatures>", "OFD.xml"
        )
        listing = (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<ofd:Signatures xmlns:ofd="{OFD_NS}">'
            f"<ofd:MaxSignId>{new_id}</ofd:MaxSignId>{record.replace('P:', 'ofd:')}</ofd:Signatures>"
        )
        return {"OFD.xml": ofd_xml, path: listing.encode()}, path
    path = doc.signatures_path
    xml = _insert_before_close(doc.entries[path], "Signatures", record, "Signatures.xml")
    xml = re.sub(
        rb"(<(?:[\w.-]+:)?MaxSignId>)\s*[^<]*(</)",
        rb"\g<1>" + new_id.encode() + rb"\g<2>",
        xml,
        count=1,
    )
    return {path: xml}, path


def _next_id(signatures: list[OfdSignature], doc: OfdDocument) -> str:
    numbers = [int(s.id) for s in signatures if s.id.isdigit()]
    if doc.signatures_path is not None:
        found = re.search(rb"MaxSignId>\s*(\d+)\s*<", doc.entries[doc.signatures_path])
        numbers.append(int(found.group(1)) if found else 0)
    return str(max(numbers, default=0) + 1)


def escape(value: str) -> str:
    """XML character data escaping (XML 1.0 §2.4)."""
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def quoteattr(value: str) -> str:
    """A double-quoted XML attribute value (XML 1.0 §3.3.3)."""
    return '"' + escape(value).replace('"', "&quot;") + '"'


def _signature_xml(
    references: list[tuple[str, bytes]],
    *,
    now: datetime,
    sign_dir: str,
    annot: StampAnnot,
    version: str,
) -> bytes:
    refs = "".join(
        f"<ofd:Reference FileRef={quoteattr('/' + p)}><ofd:CheckValue>"
        f"{base64.b64encode(d).decode()}</ofd:CheckValue></ofd:Reference>"
        for p, d in references
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<ofd:Signature xmlns:ofd="{OFD_NS}"><ofd:SignedInfo>'
        f'<ofd:Provider ProviderName="{PROVIDER}" Company="{PROVIDER}" Version={quoteattr(version)}/>'
        f"<ofd:SignatureMethod>{SM2_WITH_SM3}</ofd:SignatureMethod>"
        f"<ofd:SignatureDateTime>{now.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')}</ofd:SignatureDateTime>"
        f'<ofd:References CheckMethod="{SM3_OID}">{refs}</ofd:References>'
        f"<ofd:StampAnnot ID={quoteattr(annot.id)} PageRef={quoteattr(annot.page_ref)} "
        f"Boundary={quoteattr(annot.boundary)}/>"
        f"<ofd:Seal><ofd:BaseLoc>/{escape(sign_dir)}/Seal.esl</ofd:BaseLoc></ofd:Seal>"
        f"</ofd:SignedInfo><ofd:SignedValue>/{escape(sign_dir)}/SignedValue.dat</ofd:SignedValue>"
        f"</ofd:Signature>"
    ).encode()


def _boundary(pos: StampPosition) -> str:
    values = (pos.x, pos.y, pos.width, pos.height)
    if any(v < 0 for v in values) or pos.width <= 0 or pos.height <= 0:
        raise SigningRefused("the stamp position must be non-negative with a positive size")
    return " ".join(f"{v:g}" for v in values)


def sign_ofd(
    data: bytes,
    *,
    seal: Seal,
    key: SigningKey,
    cert: Certificate,
    now: datetime,
    position: StampPosition | None = None,
    timestamper: Timestamper | None = None,
    uid: bytes = DEFAULT_UID,
    limits: Limits = DEFAULT_LIMITS,
    provider_version: str = "1",
) -> bytes:
    """Add a Seal-type signature to an OFD package and return the new package bytes."""
    doc = open_document(data, limits)
    existing = read_signatures(doc)
    for earlier in existing:
        if doc.signatures_path in {r.path for r in earlier.references}:
            raise SigningRefused("an earlier signature protects Signatures.xml: no more signatures")
    position = position or StampPosition()
    new_id = _next_id(existing, doc)
    signs_dir = (
        posixpath.dirname(doc.signatures_path)
        if doc.signatures_path
        else posixpath.join(posixpath.dirname(doc.doc_root), "Signs")
    )
    sign_dir = _next_sign_dir(doc, signs_dir)
    signature_path = f"{sign_dir}/Signature.xml"
    updates, listing_path = _prepare_listing(doc, new_id, signature_path)
    entries = {**doc.entries, **updates, f"{sign_dir}/Seal.esl": seal.der}
    references = [(n, sm3.digest(c)) for n, c in entries.items() if n != listing_path]
    annot = StampAnnot(f"{new_id}", _page_id(doc, position.page), _boundary(position))
    xml = _signature_xml(
        references, now=now, sign_dir=sign_dir, annot=annot, version=provider_version
    )
    signed_value = sign_digest(
        sm3.digest(xml),
        seal=seal,
        key=key,
        cert=cert,
        now=now,
        property_info=f"/{signature_path}",
        timestamper=timestamper,
        uid=uid,
    )
    entries[signature_path] = xml
    entries[f"{sign_dir}/SignedValue.dat"] = signed_value
    return write_package(entries)
