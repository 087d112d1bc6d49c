"""Cryptography checks on the e-seal registry (GB/T 39786-2021 §8.4; GB/T 38540-2020)."""

from __future__ import annotations

from datetime import timedelta

from policies.checks.base import Check, Context, NotApplicable, finding
from policies.model import Finding
from policies.ports import CryptoFacts

SM2_WITH_SM3 = "1.2.156.10197.1.501"
SM3 = "1.2.156.10197.1.401"


def seal_algorithms(facts: CryptoFacts, ctx: Context) -> list[Finding]:
    """§8.4 h) / GB/T 38540: seals are signed with SM2-with-SM3 and hashed with SM3."""
    if not facts.seals:
        raise NotApplicable("no seal has been made yet")
    return [
        finding(f"seals.{s.seal_id}.algorithms", [s.signature_algorithm, s.digest_algorithm],
                f"[{SM2_WITH_SM3}, {SM3}]",
                s.signature_algorithm == SM2_WITH_SM3 and s.digest_algorithm in (SM3, "SM3"))
        for s in facts.seals
    ]  # fmt: skip


def keys_encrypted(facts: CryptoFacts, ctx: Context) -> list[Finding]:
    """§8.4 e) / L3-CES1-28: seal private keys are wrapped with SM4 at rest, none in clear."""
    return [
        finding("seals.kek (key wrapping)", facts.key_wrapping, "SM4-GCM",
                facts.key_wrapping.upper().startswith("SM4")),
        finding("key store: plaintext keys", facts.keys_plaintext_at_rest, "0",
                facts.keys_plaintext_at_rest == 0),
    ]  # fmt: skip


def ca_validity(facts: CryptoFacts, ctx: Context) -> list[Finding]:
    """Seal CA certificates are within validity and not about to expire."""
    if not facts.ca_certificates:
        raise NotApplicable("the seal CA is not set up")
    margin = timedelta(days=int(ctx.param("ca_expiry_margin_days", 30)))
    return [
        finding(f"seal CA {c.name}.notAfter", c.not_after.isoformat(), f"> now + {margin.days} d",
                c.not_before <= ctx.now and c.not_after > ctx.now + margin)
        for c in facts.ca_certificates
    ]  # fmt: skip


def crl_fresh(facts: CryptoFacts, ctx: Context) -> list[Finding]:
    """Revocation information is current (RFC 5280 §5.1.2.5 nextUpdate)."""
    if not facts.crls:
        raise NotApplicable("no CRL has been published yet")
    return [
        finding(f"CRL {c.issuer}.nextUpdate", c.next_update.isoformat() if c.next_update else None,
                "in the future", c.next_update is not None and c.next_update > ctx.now)
        for c in facts.crls
    ]  # fmt: skip


CHECKS = (
    Check("crypto.seal_algorithms", "crypto", "Seals use SM2/SM3", seal_algorithms),
    Check("crypto.keys_encrypted", "crypto", "Seal keys wrapped with SM4", keys_encrypted),
    Check("crypto.ca_validity", "crypto", "Seal CA valid", ca_validity),
    Check("crypto.crl_fresh", "crypto", "CRL fresh", crl_fresh),
)
