"""Test helpers: a ready-made three-level SM2 PKI (root → intermediate → seal holder).

Shipped with the package, like ``falcon.testing``, so the platform's own tests and
integrators' tests build realistic chains in one call. Keys are generated fresh by the
SM2 primitive; the clock is the caller's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from crypto import sm2
from crypto.pki._keys import DEFAULT_UID
from crypto.pki.certificate import Certificate, Profile, issue_certificate, make_root_ca
from crypto.pki.crl import CertificateList, RevokedCertificate, build_crl
from crypto.pki.names import parse_name, seal_holder_name

TEST_USCC = "91350100M000100Y43"


@dataclass(frozen=True)
class SamplePki:
    """Keys and certificates of a small PKI, all valid from ``now``."""

    now: datetime
    root_key: sm2.PrivateKey
    root: Certificate
    intermediate_key: sm2.PrivateKey
    intermediate: Certificate
    leaf_key: sm2.PrivateKey
    leaf: Certificate
    uid: bytes

    def crl(
        self,
        *,
        revoked: tuple[RevokedCertificate, ...] = (),
        now: datetime | None = None,
        next_update: timedelta = timedelta(days=7),
        number: int = 1,
    ) -> CertificateList:
        """A CRL from the intermediate (the leaf's issuer)."""
        return build_crl(
            self.intermediate,
            self.intermediate_key,
            revoked=revoked,
            now=now or self.now,
            next_update=next_update,
            crl_number=number,
            uid=self.uid,
        )


def make_test_pki(now: datetime, *, uid: bytes = DEFAULT_UID) -> SamplePki:
    """Root (10 years, pathlen 1) → intermediate (5 years, pathlen 0) → seal holder (1 year)."""
    root_key, inter_key, leaf_key = (sm2.PrivateKey.generate() for _ in range(3))
    root = make_root_ca(
        root_key,
        parse_name("/C=CN/O=Anbao Test/CN=Anbao Test Root"),
        now=now,
        days=3650,
        path_len=1,
        uid=uid,
    )
    intermediate = issue_certificate(
        root,
        root_key,
        subject=parse_name("/C=CN/O=Anbao Test/CN=Anbao Test Seal CA"),
        public_key=inter_key.public_key().to_bytes(),
        now=now,
        days=1825,
        profile=Profile.INTERMEDIATE_CA,
        path_len=0,
        crl_urls=("http://crl.anbao.test/root.crl",),
        uid=uid,
    )
    leaf = issue_certificate(
        intermediate,
        inter_key,
        subject=seal_holder_name("福州市测试局", TEST_USCC, common_name="福州市测试局 电子印章"),
        public_key=leaf_key.public_key().to_bytes(),
        now=now,
        days=365,
        profile=Profile.SEAL_HOLDER,
        crl_urls=("http://crl.anbao.test/seal-ca.crl",),
        uid=uid,
    )
    return SamplePki(now, root_key, root, inter_key, intermediate, leaf_key, leaf, uid)
