"""Identity checks on the Keycloak realm (GB/T 22239-2019 §8.1.4.1, §8.1.4.2; GB/T 39786 §8.4 a).

Every finding names the realm setting as the admin API spells it (``passwordPolicy``,
``bruteForceProtected``, ``ssoSessionIdleTimeout``…) so the officer can find it in the console.
"""

from __future__ import annotations

import re

from policies.checks.base import Check, Context, finding
from policies.model import Finding
from policies.ports import RealmFacts

ADMIN_ROLES = ("platform-admin", "org-admin", "seal-admin")
MIN_PASSWORD_HISTORY = 3
MIN_LOCKOUT_SECONDS = 300
DEFAULT_ACCOUNT_NAMES = ("admin", "administrator", "root", "keycloak", "guest", "test", "anonymous")
_POLICY_ITEM = re.compile(r"([A-Za-z]+)\(([^)]*)\)")


def parse_policy(policy: str) -> dict[str, str]:
    """Keycloak's policy string ``length(8) and notUsername …`` as a name -> argument map.

    Argument-less terms appear as ``notUsername``, ``notUsername()`` or
    ``notUsername(undefined)`` depending on who wrote them.
    """
    out = {}
    for term in filter(None, (t.strip() for t in (policy or "").split(" and "))):
        match = _POLICY_ITEM.fullmatch(term)
        if match:
            out[match.group(1)] = match.group(2)
        else:
            out[term] = ""
    return out


def _int(value: str | None) -> int:
    try:
        return int(value) if value is not None else 0
    except ValueError:
        return 0


def password_policy(facts: RealmFacts, ctx: Context) -> list[Finding]:
    """L3-CES1-01: complex passwords (length and character classes), not the username, no reuse."""
    items = parse_policy(facts.password_policy)
    min_len = int(ctx.param("password_min_length", 8))
    out = [
        finding(
            "passwordPolicy.length",
            _int(items.get("length")),
            f">= {min_len}",
            _int(items.get("length")) >= min_len,
        )
    ]
    for name in ("upperCase", "lowerCase", "digits", "specialChars"):
        got = _int(items.get(name))
        out.append(finding(f"passwordPolicy.{name}", got, ">= 1", got >= 1))
    out.append(
        finding(
            "passwordPolicy.notUsername", "notUsername" in items, "true", "notUsername" in items
        )
    )
    history = _int(items.get("passwordHistory"))
    out.append(
        finding(
            "passwordPolicy.passwordHistory",
            history,
            f">= {MIN_PASSWORD_HISTORY}",
            history >= MIN_PASSWORD_HISTORY,
        )
    )
    return out  # fmt: skip


def brute_force(facts: RealmFacts, ctx: Context) -> list[Finding]:
    """L3-CES1-02: lock accounts after repeated login failures."""
    max_failures = int(ctx.param("max_login_failures", 10))
    return [
        finding("bruteForceProtected", facts.brute_force_protected, "true",
                facts.brute_force_protected),
        finding("failureFactor", facts.failure_factor, f"1..{max_failures}",
                0 < facts.failure_factor <= max_failures),
        finding("maxFailureWaitSeconds", facts.max_failure_wait_seconds, f">= {MIN_LOCKOUT_SECONDS}",
                facts.permanent_lockout or facts.max_failure_wait_seconds >= MIN_LOCKOUT_SECONDS),
    ]  # fmt: skip


def idle_timeout(facts: RealmFacts, ctx: Context) -> list[Finding]:
    """L3-CES1-02: end idle sessions (house rule: at most 30 minutes)."""
    limit = int(ctx.param("max_idle_seconds", 1800))
    value = facts.sso_idle_timeout_seconds
    return [finding("ssoSessionIdleTimeout", value, f"1..{limit} s", 0 < value <= limit)]


def _otp_flow_steps(facts: RealmFacts) -> tuple[bool, bool]:
    role_gate = any(
        s.authenticator == "conditional-user-role"
        and dict(s.config).get("condUserRole") == facts.otp_marker_role
        and dict(s.config).get("negate", "false") != "true"
        for s in facts.browser_steps
    )
    otp_form = any(
        s.authenticator == "auth-otp-form" and s.requirement == "REQUIRED"
        for s in facts.browser_steps
    )
    return role_gate, otp_form


def admin_otp(facts: RealmFacts, ctx: Context) -> list[Finding]:
    """L3-CES1-04 / GB/T 39786 §8.4 a): administrators sign in with a second, cryptographic factor.

    The realm marks admin roles with the ``otp-required`` composite; the browser flow asks for
    OTP (RFC 6238, HMAC-based) whenever the user holds it.
    """
    marker = facts.otp_marker_role
    out = [
        finding(
            "roles.otp-required",
            marker in facts.role_composites,
            "role exists",
            marker in facts.role_composites,
        )
    ]
    for role in ctx.param("admin_roles", ADMIN_ROLES):
        if role not in facts.role_composites:
            continue
        has = marker in facts.role_composites[role]
        out.append(
            finding(
                f"roles.{role}.composites",
                sorted(facts.role_composites[role]),
                f"includes {marker}",
                has,
            )
        )
    gate, form = _otp_flow_steps(facts)
    out.append(
        finding(
            f"authenticationFlows.{facts.browser_flow}.conditional-user-role",
            gate,
            f"condUserRole={marker}",
            gate,
        )
    )
    out.append(
        finding(f"authenticationFlows.{facts.browser_flow}.auth-otp-form", form, "REQUIRED", form)
    )
    return out  # fmt: skip


def no_admin_without_otp(facts: RealmFacts, ctx: Context) -> list[Finding]:
    """L3-CES1-04: no enabled administrator can sign in without OTP (configured or enforced)."""
    admin_roles = set(ctx.param("admin_roles", ADMIN_ROLES))
    out = []
    for user in facts.users:
        if not user.enabled or not (user.roles & admin_roles):
            continue
        gated = facts.otp_marker_role in user.roles
        enrolled = user.has_otp or "CONFIGURE_TOTP" in user.required_actions
        out.append(
            finding(f"users.{user.username}.otp",
                    {"otp-required": gated, "otp_credential": user.has_otp,
                     "required_actions": list(user.required_actions)},
                    "holds otp-required and has (or must set up) OTP", gated and enrolled)
        )  # fmt: skip
    if not out:
        out.append(finding("users[admin roles]", 0, "every admin has OTP", True, "no admins yet"))
    return out


def events(facts: RealmFacts, ctx: Context) -> list[Finding]:
    """L3-CES1-12: login events and admin events (with representation) are recorded."""
    needed = ctx.param("event_types", ("LOGIN", "LOGIN_ERROR", "LOGOUT", "UPDATE_PASSWORD"))
    missing = sorted(set(needed) - set(facts.event_types))
    return [
        finding("eventsEnabled", facts.events_enabled, "true", facts.events_enabled),
        finding("enabledEventTypes", f"missing {missing}" if missing else "all present",
                f"includes {list(needed)}", not missing),
        finding("adminEventsEnabled", facts.admin_events_enabled, "true",
                facts.admin_events_enabled),
        finding("adminEventsDetailsEnabled", facts.admin_events_details, "true",
                facts.admin_events_details),
    ]  # fmt: skip


def default_accounts(facts: RealmFacts, ctx: Context) -> list[Finding]:
    """L3-CES1-05/-06: no default or bootstrap account (admin, root…) enabled under its default name."""
    names = set(ctx.param("default_account_names", DEFAULT_ACCOUNT_NAMES))
    found = sorted(u.username for u in facts.users if u.enabled and u.username.lower() in names)
    return [finding("users[default names]", found, "none enabled", not found)]


def accounts(facts: RealmFacts, ctx: Context) -> list[Finding]:
    """L3-CES1-07: no shared accounts, no expired account still enabled."""
    shared = sorted(u.username for u in facts.users if u.enabled and u.shared)
    expired = sorted(
        u.username
        for u in facts.users
        if u.enabled and u.expires_at is not None and u.expires_at <= ctx.now
    )
    return [
        finding("users.attributes.account_type=shared", shared, "none enabled", not shared),
        finding("users.attributes.account_expires", expired, "no expired account enabled",
                not expired),
    ]  # fmt: skip


def ssl_required(facts: RealmFacts, ctx: Context) -> list[Finding]:
    """L3-CES1-03 / GB/T 39786 §8.4 d): credentials never cross the network in clear text."""
    return [finding("sslRequired", facts.ssl_required, "external or all",
                    facts.ssl_required in ("external", "all"))]  # fmt: skip


CHECKS = (
    Check("realm.password_policy", "realm", "Password length, classes, history", password_policy),
    Check("realm.brute_force", "realm", "Lockout after login failures", brute_force),
    Check("realm.idle_timeout", "realm", "Idle sessions end", idle_timeout),
    Check("realm.admin_otp", "realm", "OTP required for admin roles", admin_otp),
    Check("realm.no_admin_without_otp", "realm", "No admin without OTP", no_admin_without_otp),
    Check("realm.events", "realm", "Login and admin events on", events),
    Check("realm.default_accounts", "realm", "Default accounts disabled or renamed",
          default_accounts),
    Check("realm.accounts", "realm", "No shared or expired accounts", accounts),
    Check("realm.ssl_required", "realm", "TLS required for logins", ssl_required),
)  # fmt: skip
