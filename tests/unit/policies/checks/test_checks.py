"""Each check against plain facts: what passes, what fails, and the setting each finding names."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

import pytest

from policies.checks import REGISTRY
from policies.checks.base import Context, NotApplicable
from policies.checks.realm import parse_policy
from policies.ports import (
    AlertFacts,
    CertFacts,
    CrlFacts,
    CryptoFacts,
    SealFacts,
    UserFacts,
)
from policies.testing import T0, dev_settings, good_audit, good_realm, siem

CTX = Context(now=T0 + timedelta(minutes=5))


def _failing(check: str, facts: object, ctx: Context = CTX) -> set[str]:
    return {f.setting for f in REGISTRY[check].run(facts, ctx) if not f.ok}


@pytest.mark.parametrize(
    "policy",
    [
        "length(8) and upperCase(1) and lowerCase(1) and digits(1) and specialChars(1)"
        " and notUsername(undefined) and passwordHistory(5)",
        "digits(1) and length(8) and lowerCase(1) and notUsername and passwordHistory(5)"
        " and specialChars(1) and upperCase(1)",
    ],
)
def test_policy_strings_from_keycloak_and_from_realm_as_code_parse_alike(policy: str) -> None:
    assert parse_policy(policy)["length"] == "8"
    assert "notUsername" in parse_policy(policy)
    assert _failing("realm.password_policy", good_realm(password_policy=policy)) == set()


def test_the_realm_file_settings_pass_every_realm_check() -> None:
    for check in (c for c in REGISTRY if c.startswith("realm.")):
        assert _failing(check, good_realm()) == set(), check


@pytest.mark.parametrize(
    ("check", "change", "setting"),
    [
        ("realm.password_policy", {"password_policy": "length(6)"}, "passwordPolicy.length"),
        ("realm.password_policy", {"password_policy": "length(12)"}, "passwordPolicy.digits"),
        ("realm.brute_force", {"brute_force_protected": False}, "bruteForceProtected"),
        ("realm.brute_force", {"failure_factor": 30}, "failureFactor"),
        ("realm.idle_timeout", {"sso_idle_timeout_seconds": 36000}, "ssoSessionIdleTimeout"),
        ("realm.events", {"admin_events_enabled": False}, "adminEventsEnabled"),
        ("realm.events", {"event_types": ("LOGIN",)}, "enabledEventTypes"),
        ("realm.ssl_required", {"ssl_required": "none"}, "sslRequired"),
    ],
)
def test_a_weakened_setting_fails_and_is_named(
    check: str, change: dict[str, object], setting: str
) -> None:
    assert setting in _failing(check, good_realm(**change))


def test_removing_otp_from_an_admin_role_fails_both_otp_checks() -> None:
    roles = dict(good_realm().role_composites, **{"platform-admin": frozenset()})
    users = (UserFacts("ops-lead", True, frozenset({"platform-admin"}), False, (), T0),)
    weak = good_realm(role_composites=roles, users=users)
    assert _failing("realm.admin_otp", weak) == {"roles.platform-admin.composites"}
    assert _failing("realm.no_admin_without_otp", weak) == {"users.ops-lead.otp"}


def test_an_admin_must_enrol_otp_or_be_made_to() -> None:
    gated = frozenset({"seal-admin", "otp-required"})
    pending = UserFacts("li", True, gated, False, ("CONFIGURE_TOTP",), T0)
    missing = UserFacts("wu", True, gated, False, (), T0)
    disabled = UserFacts("old", False, gated, False, (), T0)
    facts = good_realm(users=(pending, missing, disabled))
    assert _failing("realm.no_admin_without_otp", facts) == {"users.wu.otp"}


def test_a_browser_flow_without_the_role_gate_fails() -> None:
    facts = good_realm(browser_steps=good_realm().browser_steps[1:])
    assert _failing("realm.admin_otp", facts) == {
        "authenticationFlows.anbao browser.conditional-user-role"
    }


def test_default_shared_and_expired_accounts_fail() -> None:
    users = (
        UserFacts("admin", True, frozenset(), False, (), T0),
        UserFacts("duty-desk", True, frozenset(), False, (), T0, shared=True),
        UserFacts("temp", True, frozenset(), False, (), T0, expires_at=T0),
        UserFacts("root", False, frozenset(), False, (), T0),
    )
    facts = good_realm(users=users)
    [default] = REGISTRY["realm.default_accounts"].run(facts, CTX)
    assert default.observed == ["admin"]
    assert _failing("realm.accounts", facts) == {
        "users.attributes.account_type=shared", "users.attributes.account_expires",
    }  # fmt: skip


@pytest.mark.parametrize(("days", "ok"), [(179, False), (180, True)])
def test_retention_is_six_months(days: int, ok: bool) -> None:
    assert (_failing("audit.retention", good_audit(retention_days=days)) == set()) is ok


def test_tamper_evidence_needs_a_recent_passing_verification() -> None:
    assert _failing("audit.tamper_evidence", good_audit()) == set()
    stale = Context(now=T0 + timedelta(hours=25))
    assert _failing("audit.tamper_evidence", good_audit(), stale) == {"audit verify (time)"}
    broken = good_audit(last_verification_ok=False)
    assert _failing("audit.tamper_evidence", broken) == {"audit verify (last)"}


def test_unrecorded_routes_and_missing_fields_fail() -> None:
    facts = good_audit(recorded_routes=("/audit/events",), record_fields=("id", "timestamp"))
    [coverage] = REGISTRY["audit.route_coverage"].run(facts, CTX)
    assert not coverage.ok
    assert "/compliance/runs" in coverage.note
    assert _failing("audit.record_fields", facts) == {"audit.model.AuditEvent fields"}
    assert _failing("audit.sensitive_encrypted", good_audit(sensitive_encryption="")) != set()


def _crypto(**changes: Any) -> CryptoFacts:
    facts = CryptoFacts(
        seals=(SealFacts("s1", "active", "1.2.156.10197.1.501", "SM3"),),
        key_wrapping="SM4-GCM",
        keys_plaintext_at_rest=0,
        ca_certificates=(CertFacts("root", T0 - timedelta(days=1), T0 + timedelta(days=3650)),),
        crls=(CrlFacts("issuing", T0, T0 + timedelta(hours=24)),),
    )
    return dataclasses.replace(facts, **changes)


def test_crypto_checks() -> None:
    for check in ("crypto.seal_algorithms", "crypto.keys_encrypted", "crypto.ca_validity",
                  "crypto.crl_fresh"):  # fmt: skip
        assert _failing(check, _crypto()) == set(), check
    rsa = _crypto(seals=(SealFacts("s2", "active", "1.2.840.113549.1.1.11", "SHA256"),))
    assert _failing("crypto.seal_algorithms", rsa) == {"seals.s2.algorithms"}
    late = Context(now=T0 + timedelta(days=2))
    assert _failing("crypto.crl_fresh", _crypto(), late) == {"CRL issuing.nextUpdate"}
    expiring = _crypto(ca_certificates=(CertFacts("root", T0, T0 + timedelta(days=10)),))
    assert _failing("crypto.ca_validity", expiring) == {"seal CA root.notAfter"}
    with pytest.raises(NotApplicable, match="no seal"):
        REGISTRY["crypto.seal_algorithms"].run(_crypto(seals=()), CTX)


def test_siem_checks() -> None:
    assert _failing("siem.identity_rules", siem()) == set()
    assert _failing("siem.identity_rules", siem(rules=())) == {"siem.rules[identity]"}
    late = AlertFacts("a1", "high", T0 - timedelta(hours=3), None)
    quick = AlertFacts("a2", "high", T0, T0 + timedelta(minutes=10))
    assert _failing("siem.triage_sla", siem(alerts=(quick,))) == set()
    assert _failing("siem.triage_sla", siem(alerts=(quick, late))) == {"siem.triage_sla"}
    with pytest.raises(NotApplicable):
        REGISTRY["siem.triage_sla"].run(siem(alerts_available=False), CTX)


def test_transport_is_judged_in_production_only() -> None:
    with pytest.raises(NotApplicable, match="development"):
        REGISTRY["transport.tls_required"].run(dev_settings(), CTX)
    prod = dev_settings(environment="production")
    assert _failing("transport.keycloak_https", prod) == {"keycloak.url"}
    assert _failing("transport.tls_required", prod) != set()
    good = dev_settings(environment="production", behind_tls_proxy=True,
                        keycloak_url="https://sso.gov.example")  # fmt: skip
    assert _failing("transport.tls_required", good) == set()
    assert _failing("transport.keycloak_https", good) == set()
