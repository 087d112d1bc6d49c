from __future__ import annotations

from datetime import timedelta

import pytest
from asn1crypto import x509

from crypto import sm2
from crypto.errors import CertificateError
from crypto.pki import (
    DEFAULT_UID,
    OPENSSL_IMPLICIT_UID,
    MalformedCertificateError,
    PathValidationError,
    Profile,
    Reason,
    RevocationReason,
    RevokedCertificate,
    build_crl,
    issue_certificate,
    make_root_ca,
    parse_name,
    validate_chain,
)
from crypto.pki import validate as validate_module
from crypto.pki.testing import make_test_pki

from .helpers import NOW, resign, shared_pki

LATER = NOW + timedelta(days=1)


def _fails(reason, leaf, intermediates, roots, **kwargs):
    kwargs.setdefault("at", LATER)
    with pytest.raises(PathValidationError) as info:
        validate_chain(leaf, intermediates, roots, **kwargs)
    assert isinstance(info.value, CertificateError)
    assert info.value.reason is reason, info.value.detail
    return info.value


def _leaf_under(ca, ca_key, **kwargs):
    key = sm2.PrivateKey.generate()
    kwargs.setdefault("profile", Profile.END_ENTITY)
    return issue_certificate(
        ca,
        ca_key,
        subject=parse_name("/O=Org/CN=leaf"),
        public_key=key.public_key().to_bytes(),
        now=NOW,
        days=30,
        **kwargs,
    )


def test_valid_chain():
    pki = shared_pki()
    path = validate_chain(pki.leaf, [pki.intermediate], [pki.root], at=LATER)
    assert path.certificates == (pki.leaf, pki.intermediate, pki.root)
    assert path.leaf == pki.leaf
    assert path.anchor == pki.root


def test_valid_chain_with_fresh_crls_and_nonrepudiation():
    pki = shared_pki()
    crl = pki.crl()
    path = validate_chain(
        pki.leaf,
        [pki.intermediate],
        [pki.root],
        at=LATER,
        crls=[crl],
        required_key_usage=("digital_signature", "non_repudiation"),
    )
    assert len(path.certificates) == 3


def test_trust_root_alone_validates():
    pki = shared_pki()
    path = validate_chain(pki.root, [], [pki.root], at=LATER, required_key_usage=())
    assert path.certificates == (pki.root,)


@pytest.mark.parametrize(
    ("at", "reason"),
    [
        (NOW - timedelta(seconds=1), Reason.NOT_YET_VALID),
        (NOW + timedelta(days=365, seconds=1), Reason.EXPIRED),
    ],
)
def test_validity_period(at, reason):
    pki = shared_pki()
    _fails(reason, pki.leaf, [pki.intermediate], [pki.root], at=at)


def test_validity_boundaries_are_inclusive():
    pki = shared_pki()
    validate_chain(pki.leaf, [pki.intermediate], [pki.root], at=NOW)
    validate_chain(pki.leaf, [pki.intermediate], [pki.root], at=NOW + timedelta(days=365))


def test_expired_intermediate():
    pki = shared_pki()
    _fails(Reason.EXPIRED, pki.leaf, [pki.intermediate], [pki.root], at=NOW + timedelta(days=1826))


def test_links_near_the_anchor_are_verified_once_for_many_leaves(monkeypatch):
    """Every new leaf below an intermediate shares its link to the root: that link's signature
    is verified once (cached by the exact DER of both certificates), each leaf's own once."""
    pki = make_test_pki(NOW)  # its own certificates: no other test's links are cached
    checked = []
    real = validate_module.verifies

    def spy(key, signature, data, uids):
        checked.append(signature)
        return real(key, signature, data, uids)

    monkeypatch.setattr(validate_module, "verifies", spy)
    leaves = [_leaf_under(pki.intermediate, pki.intermediate_key) for _ in range(3)]
    for leaf in leaves:
        validate_chain(leaf, [pki.intermediate], [pki.root], at=LATER)
    assert checked.count(pki.intermediate.signature) == 1
    assert [s for s in checked if s != pki.intermediate.signature] == [
        leaf.signature for leaf in leaves
    ]
    validate_module.clear_cache()
    validate_chain(leaves[0], [pki.intermediate], [pki.root], at=LATER)
    assert checked.count(pki.intermediate.signature) == 2


def test_a_cached_link_does_not_vouch_for_another_certificate():
    pki = make_test_pki(NOW)
    validate_chain(pki.leaf, [pki.intermediate], [pki.root], at=LATER)

    def rename(tbs):
        tbs["subject"] = parse_name("/CN=Mallory")

    tampered = resign(pki.leaf, pki.leaf_key, rename)  # same issuer, not signed by it
    _fails(Reason.BAD_SIGNATURE, tampered, [pki.intermediate], [pki.root])
    validate_chain(pki.leaf, [pki.intermediate], [pki.root], at=LATER)


def test_wrong_issuer():
    pki, other = shared_pki(), make_test_pki(NOW)
    _fails(Reason.ISSUER_NOT_FOUND, pki.leaf, [other.intermediate], [other.root])
    _fails(Reason.ISSUER_NOT_FOUND, pki.leaf, [], [pki.root])


def test_same_name_other_key_is_bad_signature():
    pki = shared_pki()
    impostor_key = sm2.PrivateKey.generate()
    impostor = issue_certificate(
        pki.root,
        pki.root_key,
        subject=pki.intermediate.subject,
        public_key=impostor_key.public_key().to_bytes(),
        now=NOW,
        days=30,
        profile=Profile.INTERMEDIATE_CA,
    )
    # Same name, different key: the leaf's AKI no longer matches, so no issuer is found.
    _fails(Reason.ISSUER_NOT_FOUND, pki.leaf, [impostor], [pki.root])

    def drop_aki(tbs):
        tbs["extensions"] = [
            e for e in tbs["extensions"] if e["extn_id"].native != "authority_key_identifier"
        ]

    leaf = resign(pki.leaf, pki.intermediate_key, drop_aki)
    _fails(Reason.BAD_SIGNATURE, leaf, [impostor], [pki.root])


def test_tampered_tbs():
    pki = shared_pki()

    def rename(tbs):
        tbs["subject"] = parse_name("/CN=Mallory")

    tampered = resign(pki.leaf, pki.leaf_key, rename)  # signed, but not by the issuer
    _fails(Reason.BAD_SIGNATURE, tampered, [pki.intermediate], [pki.root])
    der = bytearray(pki.leaf.der)
    where = der.find("福州".encode())
    der[where] ^= 0x01
    from crypto.pki import Certificate

    _fails(Reason.BAD_SIGNATURE, Certificate.load(bytes(der)), [pki.intermediate], [pki.root])


def test_unsupported_signature_algorithm():
    pki = shared_pki()

    def sha256(tbs):
        tbs["signature"] = {"algorithm": "sha256_ecdsa"}

    odd = resign(pki.leaf, pki.intermediate_key, sha256)
    _fails(Reason.UNSUPPORTED_ALGORITHM, odd, [pki.intermediate], [pki.root])


def _twins(pki, subject, **presented):
    """A CA that can issue, and a twin (same key and name) as ``presented`` in the chain.

    The builders refuse to sign under a certificate that could never validate, so a bad
    issuer is made by issuing with a good certificate and presenting its bad twin.
    """
    key = sm2.PrivateKey.generate()
    common = {
        "subject": parse_name(subject),
        "public_key": key.public_key().to_bytes(),
        "now": NOW,
        "days": 30,
    }
    good = issue_certificate(pki.root, pki.root_key, profile=Profile.INTERMEDIATE_CA, **common)
    bad = issue_certificate(pki.root, pki.root_key, **common, **presented)
    return key, good, bad


def test_non_ca_intermediate():
    pki = shared_pki()
    key, ca, not_ca = _twins(
        pki,
        "/CN=not a CA",
        profile=Profile.END_ENTITY,
        key_usage=frozenset({"key_cert_sign", "digital_signature"}),
    )
    _fails(Reason.NOT_A_CA, _leaf_under(ca, key), [not_ca], [pki.root])


def test_missing_key_cert_sign():
    pki = shared_pki()
    key, ca, crl_only = _twins(
        pki, "/CN=CRL-only CA", profile=Profile.INTERMEDIATE_CA, key_usage=frozenset({"crl_sign"})
    )
    _fails(Reason.KEY_USAGE, _leaf_under(ca, key), [crl_only], [pki.root])


def test_path_length_exceeded():
    pki = shared_pki()
    key = sm2.PrivateKey.generate()
    sub = issue_certificate(  # below the intermediate, whose pathLenConstraint is 0
        pki.intermediate,
        pki.intermediate_key,
        subject=parse_name("/CN=sub CA"),
        public_key=key.public_key().to_bytes(),
        now=NOW,
        days=30,
        profile=Profile.INTERMEDIATE_CA,
    )
    _fails(Reason.PATH_LENGTH_EXCEEDED, _leaf_under(sub, key), [sub, pki.intermediate], [pki.root])


def test_root_path_length_applies():
    root_key, inter_key = sm2.PrivateKey.generate(), sm2.PrivateKey.generate()
    root = make_root_ca(root_key, parse_name("/CN=R0"), now=NOW, days=30, path_len=0)
    inter = issue_certificate(
        root,
        root_key,
        subject=parse_name("/CN=I"),
        public_key=inter_key.public_key().to_bytes(),
        now=NOW,
        days=30,
        profile=Profile.INTERMEDIATE_CA,
    )
    _fails(Reason.PATH_LENGTH_EXCEEDED, _leaf_under(inter, inter_key), [inter], [root])
    validate_chain(_leaf_under(root, root_key), [], [root], at=LATER)


def test_leaf_key_usage_required():
    pki = shared_pki()
    _fails(
        Reason.KEY_USAGE,
        pki.leaf,
        [pki.intermediate],
        [pki.root],
        required_key_usage=("key_encipherment",),
    )


def test_unknown_critical_extension():
    pki = shared_pki()

    def add_critical(tbs):
        exts = list(tbs["extensions"])
        exts.append(
            x509.Extension({"extn_id": "1.2.3.4", "critical": True, "extn_value": b"\x05\x00"})
        )
        tbs["extensions"] = exts

    odd = resign(pki.leaf, pki.intermediate_key, add_critical)
    _fails(Reason.UNSUPPORTED_CRITICAL_EXTENSION, odd, [pki.intermediate], [pki.root])


def test_revoked():
    pki = shared_pki()
    entry = RevokedCertificate(pki.leaf.serial_number, NOW, RevocationReason.KEY_COMPROMISE)
    crl = pki.crl(revoked=(entry,))
    err = _fails(Reason.REVOKED, pki.leaf, [pki.intermediate], [pki.root], crls=[crl])
    assert f"{pki.leaf.serial_number:x}" in err.detail
    # Revoked later than the validation time: still valid at that time.
    later = RevokedCertificate(pki.leaf.serial_number, NOW + timedelta(days=2))
    validate_chain(
        pki.leaf,
        [pki.intermediate],
        [pki.root],
        at=LATER,
        crls=[pki.crl(revoked=(later,), now=NOW + timedelta(hours=1))],
    )


def test_crl_freshness():
    pki = shared_pki()
    stale = pki.crl(next_update=timedelta(hours=1))
    _fails(Reason.CRL_EXPIRED, pki.leaf, [pki.intermediate], [pki.root], crls=[stale])
    future = pki.crl(now=NOW + timedelta(days=2))
    _fails(Reason.CRL_NOT_YET_VALID, pki.leaf, [pki.intermediate], [pki.root], crls=[future])


def test_crl_signed_by_another_key():
    pki, other = shared_pki(), make_test_pki(NOW)
    forged = build_crl(
        other.intermediate,
        other.intermediate_key,
        revoked=[],
        now=NOW,
        next_update=timedelta(days=7),
        crl_number=1,
    )
    # Same issuer name as ours, different key and AKI: not ours, so ignored ...
    validate_chain(pki.leaf, [pki.intermediate], [pki.root], at=LATER, crls=[forged])
    # ... and with require_crl nothing covers the leaf.
    _fails(
        Reason.REVOCATION_UNKNOWN,
        pki.leaf,
        [pki.intermediate],
        [pki.root],
        crls=[forged],
        require_crl=True,
    )
    from asn1crypto import crl as asn1_crl

    from crypto.pki import CertificateList

    ours = asn1_crl.CertificateList.load(pki.crl().der)
    ours["signature"] = forged.signature
    _fails(
        Reason.CRL_BAD_SIGNATURE,
        pki.leaf,
        [pki.intermediate],
        [pki.root],
        crls=[CertificateList.load(ours.dump(force=True))],
    )


def test_require_crl_covers_every_issued_certificate():
    pki = shared_pki()
    _fails(
        Reason.REVOCATION_UNKNOWN,
        pki.leaf,
        [pki.intermediate],
        [pki.root],
        crls=[pki.crl()],
        require_crl=True,
    )
    root_crl = build_crl(
        pki.root, pki.root_key, revoked=[], now=NOW, next_update=timedelta(days=7), crl_number=1
    )
    validate_chain(
        pki.leaf,
        [pki.intermediate],
        [pki.root],
        at=LATER,
        crls=[pki.crl(), root_crl],
        require_crl=True,
    )


def test_crl_issuer_without_crl_sign():
    pki = shared_pki()
    key, ca, no_crl_sign = _twins(
        pki,
        "/CN=no cRLSign",
        profile=Profile.INTERMEDIATE_CA,
        key_usage=frozenset({"key_cert_sign"}),
    )
    leaf = _leaf_under(ca, key)
    crl = build_crl(ca, key, revoked=[], now=NOW, next_update=timedelta(days=7), crl_number=1)
    validate_chain(leaf, [no_crl_sign], [pki.root], at=LATER)
    _fails(Reason.KEY_USAGE, leaf, [no_crl_sign], [pki.root], crls=[crl])


def test_builders_refuse_issuers_that_cannot_validate():
    pki = shared_pki()
    point = sm2.PrivateKey.generate().public_key().to_bytes()
    cases = [
        ("/CN=EE", {"profile": Profile.END_ENTITY}, "not a CA"),
        (
            "/CN=y",
            {"profile": Profile.INTERMEDIATE_CA, "key_usage": frozenset({"crl_sign"})},
            "key_cert_sign",
        ),
    ]
    for subject, presented, message in cases:
        key, _, bad = _twins(pki, subject, **presented)
        with pytest.raises(MalformedCertificateError, match=message) as info:
            issue_certificate(
                bad, key, subject=parse_name("/CN=z"), public_key=point, now=NOW, days=1
            )
        assert info.value.reason is Reason.INVALID_REQUEST
    key, _, bad = _twins(
        pki, "/CN=x", profile=Profile.INTERMEDIATE_CA, key_usage=frozenset({"key_cert_sign"})
    )
    with pytest.raises(MalformedCertificateError, match="crl_sign"):
        build_crl(bad, key, revoked=[], now=NOW, next_update=timedelta(days=1), crl_number=1)


def test_openssl_implicit_id_is_opt_in():
    pki = make_test_pki(NOW, uid=OPENSSL_IMPLICIT_UID)
    _fails(Reason.BAD_SIGNATURE, pki.leaf, [pki.intermediate], [pki.root])
    validate_chain(
        pki.leaf,
        [pki.intermediate],
        [pki.root],
        at=LATER,
        crls=[pki.crl()],
        uids=(DEFAULT_UID, OPENSSL_IMPLICIT_UID),
    )


def test_naive_time_is_refused():
    pki = shared_pki()
    _fails(
        Reason.INVALID_REQUEST,
        pki.leaf,
        [pki.intermediate],
        [pki.root],
        at=NOW.replace(tzinfo=None),
    )


def test_details_name_certificates_not_keys():
    pki = shared_pki()
    err = _fails(
        Reason.EXPIRED, pki.leaf, [pki.intermediate], [pki.root], at=NOW + timedelta(days=400)
    )
    assert "organizationIdentifier=91350100M000100Y43" in err.detail
    assert pki.leaf.public_key_bytes.hex() not in err.detail
