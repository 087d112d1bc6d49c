"""GM/T 0031 v1 signatures made by OpenSSL and ofdrw, one per form of the signing time.

The vectors (tests/vectors/seal/v1, provenance in tests/vectors/README.md) carry timeInfo
as UTCTime or GeneralizedTime, as text or DER, and as ofdrw's zone-less Beijing text; all
name the same instant. Every one is fully valid at the vectors' fixed validation time.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crypto.seals.format import Options, Trust, decode_signature, der, verify_detached, verify_ofd
from crypto.seals.format.trust import load_certificates, load_crls
from tests.paths import TESTS

V1 = TESTS / "vectors" / "seal" / "v1"
FACTS = json.loads((V1 / "vectors.json").read_text(encoding="utf-8"))
SIGNED_AT = datetime.fromisoformat(FACTS["signed_at"])
BEIJING_NOTE = "without a zone, read as UTC+08:00"


@pytest.fixture(scope="module")
def opts() -> Options:
    trust = Trust(
        roots=load_certificates((V1 / "root.pem").read_bytes()),
        intermediates=load_certificates((V1 / "intermediate.pem").read_bytes()),
        crls=load_crls((V1 / "crls.pem").read_bytes()),
    )
    return Options(trust=trust, at=datetime.fromisoformat(FACTS["verify_at"]))


@pytest.mark.parametrize("form", FACTS["forms"])
def test_every_v1_time_form_reads_the_same_instant_and_verifies(form, opts):
    data = (V1 / f"v1_{form}.sig").read_bytes()
    sig = decode_signature(data)
    assert sig.time_info == SIGNED_AT
    report = verify_detached(data, (V1 / "document.txt").read_bytes(), opts)
    assert str(report.status) == "valid", report.to_text()
    lenient = [n for n in report.signatures[0].leniencies if BEIJING_NOTE in n]
    # only ofdrw's zone-less text is a leniency; UTCTime and GeneralizedTime are the standard's
    assert bool(lenient) == (form == "beijing_text"), report.signatures[0].leniencies


def test_ofdrw_v1_container_signature_is_valid_and_its_time_a_leniency(opts):
    report = verify_ofd((V1 / "v1_ofdrw.ofd").read_bytes(), opts)
    assert str(report.status) == "valid", report.to_text()
    (sig,) = report.signatures
    assert sig.facts["seal_version"] == "v1"
    assert sig.facts["stamp"] == "page 1 at 50 50 40 40 mm"  # ofdrw's page object ID is not 1
    assert any(BEIJING_NOTE in n for n in sig.leniencies), sig.leniencies
    assert "leniency: timeInfo: text time" in report.to_text()
    assert any(BEIJING_NOTE in n for n in report.to_json()["signatures"][0]["leniencies"])


_TIMES = st.datetimes(min_value=datetime(1950, 1, 1), max_value=datetime(2049, 12, 31)).map(
    lambda t: t.replace(microsecond=0, tzinfo=UTC)
)


@given(_TIMES)
def test_v1_time_forms_round_trip(when):
    utc, gen = when.strftime("%y%m%d%H%M%SZ").encode(), when.strftime("%Y%m%d%H%M%SZ").encode()
    beijing = (when + timedelta(hours=8)).strftime("%Y-%m-%d %H:%M:%S").encode()
    for raw in (utc, gen, der.tlv(der.UTC_TIME, utc), der.tlv(der.GENERALIZED_TIME, gen), beijing):
        notes: list[str] = []
        assert der.time_text(raw, "timeInfo", notes) == when, raw
        assert bool(notes) == (raw == beijing)
