"""GM/T 0031 v1 seals and signatures built by independent tools, one per form of timeInfo.

OpenSSL 3 builds every DER structure (``openssl asn1parse -genconf``: the v1 SESeal, its
maker TBS, TBS_Sign with timeInfo as UTCTime or GeneralizedTime, text or DER-wrapped, or
ofdrw's zone-less ``yyyy-MM-dd HH:mm:ss``) and makes every signature (``openssl pkeyutl
-rawin -digest sm3``, GM/T 0009 default ID); Anbao only supplies the test PKI. ofdrw's own
``SESV1Container`` makes the OFD form (tests/interop/ofdrw ``makeseal1``/``sign1``).

Used live by ``test_v1_interop.py`` and, run as a script, wrote the files of
``tests/vectors/seal/v1/`` (provenance in tests/vectors/README.md)::

    .venv/bin/python -m tests.integration.crypto.seals.format.v1_forms tests/vectors/seal/v1
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from crypto import keys
from crypto.pki import build_crl
from crypto.seals.format.testing import SampleSeal, make_sample_seal, minimal_ofd, tiny_png

D = "distid:1234567812345678"
SIGNED_AT = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
BEIJING_TEXT = "2026-12-01 16:00:00"  # SIGNED_AT in Beijing time, as ofdrw writes it
#: form name -> genconf line of TBS_Sign.timeInfo (all the same instant, SIGNED_AT)
FORMS = {
    "utctime_text": "FORMAT:ASCII,BITSTRING:261201080000Z",
    "gentime_text": "FORMAT:ASCII,BITSTRING:20261201080000Z",
    "utctime_der": "BITWRAP,UTCTIME:261201080000Z",
    "gentime_der": "BITWRAP,GENTIME:20261201080000Z",
    "beijing_text": f"FORMAT:ASCII,BITSTRING:{BEIJING_TEXT}",
}
DOCUMENT = b"GM/T 0031 v1 interop document\n"


def _openssl(*args: str | Path, data: bytes | None = None) -> bytes:
    exe = shutil.which("openssl")
    if exe is None:
        raise RuntimeError("the openssl CLI is required")
    result = subprocess.run(
        [exe, *map(str, args)], input=data, capture_output=True, check=False, timeout=60
    )
    if result.returncode != 0:
        raise RuntimeError(f"openssl {args[0]}: {result.stderr.decode(errors='replace')}")
    return result.stdout


def _genconf(work: Path, sections: str, top: str) -> bytes:
    conf = work / "gen.cnf"
    conf.write_text(f"asn1 = SEQUENCE:{top}\n{sections}", encoding="utf-8")
    out = work / f"{top}.der"
    _openssl("asn1parse", "-genconf", conf, "-noout", "-out", out)
    return out.read_bytes()


def _sign(work: Path, key: Path, data: bytes) -> bytes:
    tbs = work / "tbs.bin"
    tbs.write_bytes(data)
    return _openssl(
        "pkeyutl", "-sign", "-rawin", "-digest", "sm3", "-inkey", key, "-pkeyopt", D, "-in", tbs
    )


@dataclass(frozen=True)
class Material:
    """The PKI the vectors use, with the key files the tools read."""

    sample: SampleSeal
    work: Path

    @property
    def maker_key(self) -> Path:
        """Maker key, PKCS#8 PEM."""
        return self.work / "maker.key"

    @property
    def user_key(self) -> Path:
        """Holder key, PKCS#8 PEM."""
        return self.work / "user.key"


def material(work: Path, pki_now: datetime) -> Material:
    """A test PKI and seal maker made at ``pki_now``, with key and certificate files in ``work``."""
    sample = make_sample_seal(pki_now)
    (work / "maker.key").write_bytes(keys.dump_private_key(sample.maker_key))
    (work / "user.key").write_bytes(keys.dump_private_key(sample.key))
    (work / "maker.pem").write_bytes(sample.maker.pem())
    (work / "user.pem").write_bytes(sample.cert.pem())
    (work / "pic.png").write_bytes(tiny_png(32, 32))
    return Material(sample, work)


def trust_files(m: Material, out: Path, crl_at: datetime) -> None:
    """root.pem, intermediate.pem and crls.pem (both CRLs issued at ``crl_at``, ten years long)."""
    pki = m.sample.pki
    (out / "root.pem").write_bytes(pki.root.pem())
    (out / "intermediate.pem").write_bytes(pki.intermediate.pem())
    crls = (
        pki.crl(now=crl_at, next_update=timedelta(days=3650)),
        build_crl(
            pki.root,
            pki.root_key,
            revoked=(),
            now=crl_at,
            next_update=timedelta(days=3650),
            crl_number=1,
        ),
    )
    (out / "crls.pem").write_bytes(b"".join(c.pem() for c in crls))


def _seal_sections(m: Material, valid_from: datetime, valid_to: datetime) -> str:
    utc = "%y%m%d%H%M%SZ"
    return f"""
[info]
header = SEQUENCE:header
esid = IA5STRING:openssl-v1-0001
property = SEQUENCE:property
picture = SEQUENCE:picture
[header]
id = IA5STRING:ES
version = INTEGER:1
vid = IA5STRING:OPENSSL
[property]
type = INTEGER:1
name = FORMAT:UTF8,UTF8String:OpenSSL 构造 v1 印章
certs = SEQUENCE:certs
created = UTCTIME:{valid_from.strftime(utc)}
start = UTCTIME:{valid_from.strftime(utc)}
end = UTCTIME:{valid_to.strftime(utc)}
[certs]
holder = FORMAT:HEX,OCTETSTRING:{m.sample.cert.der.hex()}
[picture]
type = IA5STRING:PNG
data = FORMAT:HEX,OCTETSTRING:{(m.work / "pic.png").read_bytes().hex()}
width = INTEGER:40
height = INTEGER:40
[makertbs]
info = SEQUENCE:info
cert = FORMAT:HEX,OCTETSTRING:{m.sample.maker.der.hex()}
alg = OID:1.2.156.10197.1.501
"""


def openssl_v1(m: Material, out: Path, valid_from: datetime, valid_to: datetime) -> None:
    """``v1_seal.esl``, ``document.txt`` and one ``v1_<form>.sig`` per timeInfo form."""
    work = m.work
    sections = _seal_sections(m, valid_from, valid_to)
    maker_sig = _sign(work, m.maker_key, _genconf(work, sections, "makertbs"))
    sections += f"""
[signinfo]
cert = FORMAT:HEX,OCTETSTRING:{m.sample.maker.der.hex()}
alg = OID:1.2.156.10197.1.501
sig = FORMAT:HEX,BITSTRING:{maker_sig.hex()}
[seal]
info = SEQUENCE:info
signinfo = SEQUENCE:signinfo
"""
    (out / "v1_seal.esl").write_bytes(_genconf(work, sections, "seal"))
    (out / "document.txt").write_bytes(DOCUMENT)
    digest = _openssl("dgst", "-sm3", "-binary", data=DOCUMENT)
    for form, time_line in FORMS.items():
        tbs_sections = f"""{sections}
[tbs]
version = INTEGER:1
seal = SEQUENCE:seal
time = {time_line}
hash = FORMAT:HEX,BITSTRING:{digest.hex()}
property = IA5STRING:document.txt
cert = FORMAT:HEX,OCTETSTRING:{m.sample.cert.der.hex()}
alg = OID:1.2.156.10197.1.501
"""
        signature = _sign(work, m.user_key, _genconf(work, tbs_sections, "tbs"))
        final = f"{tbs_sections}\n[sig]\ntbs = SEQUENCE:tbs\nvalue = FORMAT:HEX,BITSTRING:{signature.hex()}\n"
        (out / f"v1_{form}.sig").write_bytes(_genconf(work, final, "sig"))


Ofdrw = Callable[..., subprocess.CompletedProcess[str]]


def ofdrw_v1(m: Material, out: Path, ofdrw: Ofdrw) -> Path:
    """``v1_ofdrw.ofd``: a v1 seal made with ofdrw's v1 classes, applied by SESV1Container."""
    work = m.work
    doc = work / "doc.ofd"
    doc.write_bytes(minimal_ofd("GM/T 0031 v1 by ofdrw"))
    esl = work / "ofdrw_v1.esl"
    for args in (
        ("makeseal1", m.maker_key, work / "maker.pem", work / "user.pem", work / "pic.png", esl),
        ("sign1", doc, out / "v1_ofdrw.ofd", esl, m.user_key, work / "user.pem"),
    ):
        result = ofdrw(*args)
        if result.returncode != 0:
            raise RuntimeError(f"ofdrw {args[0]}: {result.stdout}{result.stderr}")
    return out / "v1_ofdrw.ofd"


PKI_AT = datetime(2026, 11, 1, tzinfo=UTC)
CRL_AT = datetime(2026, 12, 2, tzinfo=UTC)
VERIFY_AT = datetime(2027, 1, 1, tzinfo=UTC)


def main(out: Path) -> None:
    """Write the stored vectors: fixed times, so their verdicts never depend on the date."""
    from tests.integration.crypto.seals.format.conftest import ofdrw_runner

    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        m = material(Path(tmp), PKI_AT)
        trust_files(m, out, CRL_AT)
        openssl_v1(m, out, PKI_AT, PKI_AT + timedelta(days=365))
        ofdrw_v1(m, out, ofdrw_runner())
    facts = {
        "signed_at": SIGNED_AT.isoformat(),
        "verify_at": VERIFY_AT.isoformat(),
        "forms": sorted(FORMS),
    }
    (out / "vectors.json").write_text(json.dumps(facts, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
