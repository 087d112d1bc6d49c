"""A seal verification report for people, in their language (the public verify page).

``POST /seals/verify`` answers with the format's report (``crypto.seals.format.report``): each
check has a stable ``name`` and ``status`` and an English ``reason`` built from a small set of
sentences with values in them. A citizen checking a sealed notice reads Chinese, so the
console turns each known sentence into a catalogue msgid with its values (``%(name)s``), shows
times in the province's zone, and keeps any sentence it does not know in English, marked
``lang="en"`` — never hidden, never guessed. The report's verdict is the API's: nothing here
decides validity.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Any

from anbao.console.i18n import Translator

#: Check names of GB/T 38540 §8.3's verification steps as the format names them -> msgid.
CHECK_NAMES = {
    "package": "OFD package",
    "signatures": "Signatures present",
    "structure": "Signature structure",
    "timestamp": "Time-stamp",
    "signing_time": "Signing time",
    "maker_signature": "Seal maker's signature",
    "maker_chain": "Seal maker's certificate chain",
    "maker_revocation": "Seal maker's certificate revocation",
    "picture": "Seal picture",
    "seal_validity": "Seal validity period",
    "signer_listed": "Signer listed in the seal",
    "signer_chain": "Signer's certificate chain",
    "revocation": "Signer's certificate revocation",
    "signature": "Signer's signature",
    "document_hash": "Document hash",
    "references": "Protected files",
    "seal_file": "Seal file",
}
STATUSES = {
    "pass": "Passed",
    "fail": "Failed",
    "indeterminate": "Indeterminate",
    "not_applicable": "Not applicable",
    "valid": "Valid",
    "invalid": "Invalid",
}
KINDS = {"ofd": "OFD document", "seal": "Electronic seal", "detached": "Detached signature"}
FACTS = {
    "seal_name": "Seal name",
    "seal_id": "Seal code",
    "seal_version": "Seal version",
    "seal_valid": "Seal valid",
    "maker": "Seal maker",
    "maker_signature_covers": "Maker's signature covers",
    "signer": "Signer",
    "signer_uscc": "Signer's unified social credit code",
    "stamp": "Stamp",
}
#: The CSS class of each status (colour is never the only sign: the word is shown too).
TONES = {
    "pass": "ok",
    "valid": "ok",
    "fail": "bad",
    "invalid": "bad",
    "indeterminate": "warn",
    "not_applicable": "muted",
}

_ISO = r"\d{4}-\d\d-\d\dT[0-9:.]+(?:Z|[+-]\d\d:\d\d)?"
_T = {"when", "start", "end", "at", "newest"}  # groups holding times
_UID = {"default SM2 ID": "the default SM2 ID"}
#: (pattern of the format's English sentence, msgid with the same named values).
SENTENCES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(f"^{pattern}$"), msgid)
    for pattern, msgid in (
        (
            r"(?P<files>\d+) files, (?P<count>\d+) signatures",
            "%(files)s files, %(count)s signatures",
        ),
        (r"the document is not signed", "The document is not signed."),
        (
            r"SES_Signature v1 \(GM/T 0031\), seal v(?P<v>\d+)",
            "Seal signature of version 1 (GM/T 0031), seal of version %(v)s",
        ),
        (
            r"SES_Signature v4 \(GB/T 38540\), seal v(?P<v>\d+)",
            "Seal signature of version 4 (GB/T 38540), seal of version %(v)s",
        ),
        (r"SESeal v(?P<v>\d+)", "Electronic seal of version %(v)s"),
        (
            r"SM3\(Signature\.xml\) matches dataHash",
            "The SM3 hash of Signature.xml matches the signed hash.",
        ),
        (
            r"SM3\(Signature\.xml\) differs from dataHash(?P<rest>.*)",
            "The SM3 hash of Signature.xml differs from the signed hash: the signature file was changed.",
        ),
        (
            r"SM3 of the document matches dataHash \((?P<name>.*)\)",
            "The SM3 hash of the document matches the signed hash (%(name)s).",
        ),
        (
            r"SM3 of the document differs from dataHash \((?P<name>.*)\)",
            "The SM3 hash of the document differs from the signed hash (%(name)s): the document was changed.",
        ),
        (
            r"the signed document \((?P<name>.*)\) was not given",
            "The signed document (%(name)s) was not given, so its hash was not checked.",
        ),
        (
            r"all (?P<count>\d+) protected files match \(SM3\)",
            "All %(count)s protected files match their SM3 hashes.",
        ),
        (
            r"all (?P<count>\d+) protected files match \(SM3\); not covered: (?P<files>.*)",
            "All %(count)s protected files match their SM3 hashes; not protected: %(files)s",
        ),
        (
            r"(?P<bad>\d+) of (?P<count>\d+) protected files changed or missing: (?P<files>.*)",
            "%(bad)s of %(count)s protected files were changed or are missing: %(files)s",
        ),
        (
            r"(?P<path>\S+) equals the embedded seal",
            "%(path)s is the seal embedded in the signature.",
        ),
        (
            r"(?P<path>\S+) differs from the seal in SignedValue\.dat",
            "%(path)s differs from the seal embedded in the signature.",
        ),
        (r"(?P<path>\S+) is missing", "%(path)s is missing."),
        (
            r"Signature\.xml names no Seal\.esl \(optional\)",
            "The signature names no seal file (optional).",
        ),
        (
            r"no timestamp; the signing time is the signer's claim",
            "No time-stamp: the signing time is what the signer's system claimed.",
        ),
        (
            r"a timestamp is embedded but no timestamp verifier is configured",
            "A time-stamp is embedded but no time-stamp verifier is configured.",
        ),
        (rf"genTime (?P<when>{_ISO})", "Time-stamped at %(when)s"),
        (r"no readable signing time", "No readable signing time."),
        (
            rf"(?P<when>{_ISO}) is after the validation time",
            "%(when)s is after the time of verification.",
        ),
        (rf"(?P<when>{_ISO})", "Signed at %(when)s"),
        (r"no signing time", "No signing time."),
        (
            rf"signed within (?P<start>{_ISO}) \.\. (?P<end>{_ISO})",
            "Signed within the seal's validity, %(start)s to %(end)s.",
        ),
        (
            rf"signed outside (?P<start>{_ISO}) \.\. (?P<end>{_ISO})",
            "Signed outside the seal's validity, %(start)s to %(end)s.",
        ),
        (
            rf"within (?P<start>{_ISO}) \.\. (?P<end>{_ISO}) at (?P<at>{_ISO})",
            "Valid at %(at)s (valid from %(start)s to %(end)s).",
        ),
        (
            rf"outside (?P<start>{_ISO}) \.\. (?P<end>{_ISO}) at (?P<at>{_ISO})",
            "Not valid at %(at)s (valid from %(start)s to %(end)s).",
        ),
        (
            r"listed in the seal's certList \((?P<kind>\w+)\)",
            "The signer's certificate is listed in the seal.",
        ),
        (
            r"the signer certificate is not listed in the seal",
            "The signer's certificate is not listed in the seal.",
        ),
        (r"the signer certificate does not parse", "The signer's certificate cannot be read."),
        (r"the maker certificate does not parse", "The seal maker's certificate cannot be read."),
        (r"unsupported algorithm (?P<alg>.*)", "Unsupported algorithm %(alg)s."),
        (
            r"SM2 signature over TBS_Sign verifies \((?P<uid>.*)\)",
            "The SM2 signature verifies (%(uid)s).",
        ),
        (r"SM2 signature over TBS_Sign does not verify", "The SM2 signature does not verify."),
        (
            r"verified over (?P<cover>\w+) \((?P<uid>.*)\)",
            "The seal maker's SM2 signature verifies (%(uid)s).",
        ),
        (
            r"does not verify under either reading",
            "The seal maker's SM2 signature does not verify.",
        ),
        (
            rf"chains to (?P<anchor>.+) at (?P<when>{_ISO}) \((?P<count>\d+) certificates\)",
            "Chains to the trusted root %(anchor)s at %(when)s (%(count)s certificates).",
        ),
        (r"no trust roots given", "No trusted roots are configured."),
        (r"no validated certificate path", "No validated certificate path."),
        (
            r"the signer certificate is itself a trust anchor",
            "The certificate is itself a trusted root.",
        ),
        (
            rf"(?P<cert>[^;]+) \(serial (?P<serial>[0-9a-f]+)\) not revoked \(CRL of (?P<when>{_ISO})\)",
            "%(cert)s (serial %(serial)s) is not revoked (CRL of %(when)s).",
        ),
        (
            rf"(?P<cert>[^;]+) \(serial (?P<serial>[0-9a-f]+)\) revoked at (?P<when>{_ISO}), before signing",
            "%(cert)s (serial %(serial)s) was revoked at %(when)s, before signing.",
        ),
        (
            rf"(?P<cert>[^;]+) \(serial (?P<serial>[0-9a-f]+)\) revoked at (?P<when>{_ISO}), after signing",
            "%(cert)s (serial %(serial)s) was revoked at %(when)s, after signing.",
        ),
        (
            r"no CRL from the issuer of (?P<cert>[^;]+) \(serial (?P<serial>[0-9a-f]+)\)",
            "No CRL from the issuer of %(cert)s (serial %(serial)s).",
        ),
        (
            rf"no CRL for (?P<cert>[^;]+) \(serial (?P<serial>[0-9a-f]+)\) covers the signing time \(newest (?P<newest>{_ISO})\)",
            "No CRL for %(cert)s (serial %(serial)s) covers the signing time (newest: %(newest)s).",
        ),
        (
            r"(?P<count>\d+) CRL\(s\) naming the issuer refused: signature does not verify",
            "%(count)s CRLs naming the issuer were refused: their signature does not verify.",
        ),
        (
            r"(?P<kind>PNG|JPG|SVG) (?P<width>\d+)x(?P<height>\d+) mm",
            "%(kind)s picture, %(width)s by %(height)s mm",
        ),
        (
            r"Type=(?P<type>.*): only Seal signatures are verified",
            "Type %(type)s: only seal signatures are verified.",
        ),
        (r"signature (?P<id>\S+) \((?P<path>.+)\)", "Signature %(id)s (%(path)s)"),
        (r"signature", "Signature"),
        (r"seal", "Seal"),
        (
            r"page (?P<page>\d+) at (?P<box>.+) mm",
            "Page %(page)s, at %(box)s mm (x y width height)",
        ),
        (rf"(?P<start>{_ISO}) \.\. (?P<end>{_ISO})", "%(start)s to %(end)s"),
        (r"v(?P<v>\d+)", "version %(v)s"),
    )
)


@dataclasses.dataclass(frozen=True, slots=True)
class Text:
    """A sentence for the page; ``lang`` is set when it stayed in the format's English."""

    text: str
    lang: str = ""


@dataclasses.dataclass(frozen=True, slots=True)
class CheckView:
    code: str
    name: str
    status: str
    status_text: str
    tone: str
    reason: tuple[Text, ...]
    rule: str


@dataclasses.dataclass(frozen=True, slots=True)
class SignatureView:
    label: Text
    status: str
    status_text: str
    tone: str
    facts: tuple[tuple[str, Text], ...]
    checks: tuple[CheckView, ...]
    leniencies: tuple[Text, ...]


@dataclasses.dataclass(frozen=True, slots=True)
class ReportView:
    kind: str
    status: str
    status_text: str
    tone: str
    verified_at: str
    checks: tuple[CheckView, ...]
    signatures: tuple[SignatureView, ...]

    def failed(self) -> tuple[CheckView, ...]:
        """Every failing check, of the document and of each signature."""
        every = (*self.checks, *(c for s in self.signatures for c in s.checks))
        return tuple(c for c in every if c.status == "fail")


def sentence(text: str, tr: Translator) -> Text:
    """One of the format's sentences in the person's language, else as it came (English)."""
    for pattern, msgid in SENTENCES:
        found = pattern.match(text)
        if found:
            values = {
                k: tr.when(v) if k in _T else tr.t(_UID.get(v, v)) if k == "uid" else v
                for k, v in found.groupdict().items()
            }
            return Text(tr.t(msgid, **values) if values else tr.t(msgid))
    return Text(text, "" if tr.locale == "en" else "en")


def reason(text: str, tr: Translator) -> tuple[Text, ...]:
    """A reason; a revocation reason joins one sentence per certificate with ``; `` (each is
    translated when every one is known, else the whole reason is read as one sentence)."""
    if "; " in text:
        parts = tuple(sentence(part, tr) for part in text.split("; "))
        if not any(p.lang for p in parts) or tr.locale == "en":
            return parts
    return (sentence(text, tr),)


def _check(item: Mapping[str, Any], tr: Translator) -> CheckView:
    code = str(item.get("name", ""))
    status = str(item.get("status", ""))
    return CheckView(
        code=code,
        name=tr.t(CHECK_NAMES[code]) if code in CHECK_NAMES else code,
        status=status,
        status_text=tr.t(STATUSES.get(status, status)),
        tone=TONES.get(status, ""),
        reason=reason(str(item.get("reason", "")), tr),
        rule=str(item.get("code") or ""),
    )


def _signature(item: Mapping[str, Any], tr: Translator) -> SignatureView:
    status = str(item.get("status", ""))
    facts = dict(item.get("facts") or {})
    return SignatureView(
        label=sentence(str(item.get("label", "")), tr),
        status=status,
        status_text=tr.t(STATUSES.get(status, status)),
        tone=TONES.get(status, ""),
        facts=tuple(
            (tr.t(FACTS[k]) if k in FACTS else k, _fact(k, str(v), tr)) for k, v in facts.items()
        ),
        checks=tuple(_check(c, tr) for c in item.get("checks") or ()),
        leniencies=tuple(Text(str(n), "en") for n in item.get("leniencies") or ()),
    )


#: What the seal maker's signature covers (``MakerCoverage``), for people.
COVERAGE = {
    "seal_info": "The seal information (SES_SealInfo)",
    "seal_info_cert_alg": "The seal information, certificate and algorithm (GM/T 0031 v1)",
}


def _fact(key: str, value: str, tr: Translator) -> Text:
    if key in {"seal_valid", "stamp", "seal_version"}:
        return sentence(value, tr)
    if key == "maker_signature_covers" and value in COVERAGE:
        return Text(tr.t(COVERAGE[value]))
    return Text(value)


def report_view(report: Mapping[str, Any], tr: Translator) -> ReportView:
    """The API's report as the verify page shows it."""
    status = str(report.get("status", ""))
    kind = str(report.get("kind", ""))
    return ReportView(
        kind=tr.t(KINDS[kind]) if kind in KINDS else kind,
        status=status,
        status_text=tr.t(STATUSES.get(status, status)),
        tone=TONES.get(status, ""),
        verified_at=tr.when(report.get("verified_at")),
        checks=tuple(_check(c, tr) for c in report.get("checks") or ()),
        signatures=tuple(_signature(s, tr) for s in report.get("signatures") or ()),
    )
