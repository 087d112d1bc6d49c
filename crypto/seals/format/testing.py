"""Test helpers: a tiny PNG, a minimal one-page OFD, and a ready-made seal with its PKI.

Shipped with the package (like ``crypto.pki.testing``) so platform and integrator tests get
realistic seals in one call. The clock is the caller's.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from crypto import sm2
from crypto.pki import Certificate, Profile, issue_certificate, parse_name
from crypto.pki.testing import SamplePki, make_test_pki
from crypto.seals.format.make import make_seal
from crypto.seals.format.model import CertListType, MakerCoverage, Seal
from crypto.seals.format.package import OFD_NS, write_package
from crypto.seals.format.picture import make_picture


def tiny_png(width: int = 4, height: int = 4) -> bytes:
    """A valid red PNG of ``width`` x ``height`` pixels (RFC 2083)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    rows = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def minimal_ofd(text: str = "Anbao") -> bytes:
    """A one-page OFD package (GB/T 33190 §7): OFD.xml, Document.xml, one page."""
    ns = f'xmlns:ofd="{OFD_NS}"'
    ofd = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<ofd:OFD {ns} Version="1.0" DocType="OFD">'
        "<ofd:DocBody><ofd:DocInfo><ofd:DocID>0c8e7a6c1f5d4b3aa2b1c0d9e8f7a6b5</ofd:DocID>"
        "<ofd:Creator>Anbao</ofd:Creator></ofd:DocInfo><ofd:DocRoot>Doc_0/Document.xml</ofd:DocRoot>"
        "</ofd:DocBody></ofd:OFD>"
    )
    document = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<ofd:Document {ns}><ofd:CommonData>'
        "<ofd:MaxUnitID>10</ofd:MaxUnitID><ofd:PageArea><ofd:PhysicalBox>0 0 210 297</ofd:PhysicalBox>"
        "</ofd:PageArea><ofd:PublicRes>PublicRes.xml</ofd:PublicRes></ofd:CommonData><ofd:Pages>"
        '<ofd:Page ID="2" BaseLoc="Pages/Page_0/Content.xml"/></ofd:Pages></ofd:Document>'
    )
    public_res = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<ofd:Res {ns} BaseLoc="Res"><ofd:Fonts>'
        '<ofd:Font ID="3" FontName="宋体" FamilyName="宋体"/></ofd:Fonts></ofd:Res>'
    )
    content = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<ofd:Page {ns}><ofd:Content><ofd:Layer ID="4">'
        '<ofd:TextObject ID="5" Boundary="20 20 100 10" Font="3" Size="5">'
        f'<ofd:TextCode X="0" Y="5">{text}</ofd:TextCode></ofd:TextObject></ofd:Layer></ofd:Content></ofd:Page>'
    )
    return write_package(
        {
            "OFD.xml": ofd.encode(),
            "Doc_0/Document.xml": document.encode(),
            "Doc_0/PublicRes.xml": public_res.encode(),
            "Doc_0/Pages/Page_0/Content.xml": content.encode("utf-8"),
        }
    )


@dataclass(frozen=True)
class SampleSeal:
    """A test PKI, a maker certificate and a seal whose holder is the PKI's leaf."""

    pki: SamplePki
    maker_key: sm2.PrivateKey
    maker: Certificate
    seal: Seal

    @property
    def key(self) -> sm2.PrivateKey:
        """The holder's signing key."""
        return self.pki.leaf_key

    @property
    def cert(self) -> Certificate:
        """The holder's certificate."""
        return self.pki.leaf


def make_sample_seal(
    now: datetime,
    *,
    days: int = 365,
    cert_list_type: CertListType = CertListType.CERTS,
    coverage: MakerCoverage = MakerCoverage.SEAL_INFO,
    pki: SamplePki | None = None,
) -> SampleSeal:
    """A seal valid from ``now`` for ``days``, made by a maker certified by the test PKI."""
    pki = pki or make_test_pki(now)
    maker_key = sm2.PrivateKey.generate()
    maker = issue_certificate(
        pki.intermediate,
        pki.intermediate_key,
        subject=parse_name("/C=CN/O=Anbao Test/CN=Anbao Test Seal Maker"),
        public_key=maker_key.public_key().to_bytes(),
        now=now,
        days=days * 2,
        profile=Profile.END_ENTITY,
    )
    seal = make_seal(
        maker_key=maker_key,
        maker_cert=maker,
        holder_certs=[pki.leaf],
        name="福州市测试局 公章",
        es_id="35010000000001",
        picture=make_picture(tiny_png(), 40, 40),
        valid_start=now,
        valid_end=now + timedelta(days=days),
        now=now,
        cert_list_type=cert_list_type,
        coverage=coverage,
    )
    return SampleSeal(pki, maker_key, maker, seal)
