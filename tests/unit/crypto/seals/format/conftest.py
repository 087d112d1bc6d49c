from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from crypto.pki import RevocationReason, RevokedCertificate, build_crl
from crypto.seals.format import Options, Trust
from crypto.seals.format.testing import SampleSeal, make_sample_seal

NOW = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def sample() -> SampleSeal:
    return make_sample_seal(NOW)


def root_crl(sample: SampleSeal, now: datetime = NOW):
    return build_crl(
        sample.pki.root,
        sample.pki.root_key,
        revoked=(),
        now=now,
        next_update=timedelta(days=30),
        crl_number=1,
    )


def trust_for(
    sample: SampleSeal, *, revoked_at: datetime | None = None, crl_time: datetime = NOW
) -> Trust:
    revoked = ()
    if revoked_at is not None:
        revoked = (
            RevokedCertificate(
                sample.cert.serial_number, revoked_at, RevocationReason.KEY_COMPROMISE
            ),
        )
    crl = sample.pki.crl(revoked=revoked, now=crl_time, next_update=timedelta(days=30))
    return Trust(
        roots=(sample.pki.root,),
        intermediates=(sample.pki.intermediate,),
        crls=(crl, root_crl(sample, crl_time)),
    )


@pytest.fixture(scope="session")
def trust(sample: SampleSeal) -> Trust:
    return trust_for(sample)


@pytest.fixture(scope="session")
def opts(trust: Trust) -> Options:
    return Options(trust=trust, at=NOW + timedelta(days=1))


def statuses(report) -> dict[str, str]:
    """check name -> status of the first signature (plus document-level checks)."""
    out = {c.name: str(c.status) for c in report.checks}
    if report.signatures:
        out |= {c.name: str(c.status) for c in report.signatures[0].checks}
    return out
