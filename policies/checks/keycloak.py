"""Keycloak adapter of :class:`policies.ports.RealmInspector`: read-only, through the admin API.

It reads what the realm checks need and nothing else (realm settings, roles and their
composites, the browser flow's executions with their configs, users with effective roles and
whether an OTP credential exists). Keycloak errors become :class:`EvidenceUnavailable` naming the
HTTP status only; Keycloak's own text is not passed on.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from keycloak import KeycloakAdmin
from keycloak.exceptions import KeycloakError

from policies.checks.realm import ADMIN_ROLES
from policies.errors import EvidenceUnavailable
from policies.ports import FlowStep, RealmFacts, UserFacts

OTP_MARKER_ROLE = "otp-required"
MAX_USERS = 10_000


def _ms(value: Any) -> datetime | None:
    return datetime.fromtimestamp(value / 1000, UTC) if isinstance(value, int) else None


def _expiry(attributes: dict[str, list[str]]) -> datetime | None:
    raw = (attributes.get("account_expires") or [""])[0]
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class KeycloakRealmInspector:
    def __init__(
        self,
        admin: KeycloakAdmin,
        realm: str,
        otp_marker_role: str = OTP_MARKER_ROLE,
        admin_roles: tuple[str, ...] = ADMIN_ROLES,
    ) -> None:
        self.admin = admin
        self.realm = realm
        self.marker = otp_marker_role
        #: Credentials are read for these users only (one call per admin, not per user).
        self.privileged = frozenset({*admin_roles, otp_marker_role})

    def inspect(self) -> RealmFacts:
        try:
            return self._inspect()
        except KeycloakError as exc:
            raise EvidenceUnavailable(
                f"Keycloak admin API refused reading realm {self.realm} (HTTP {exc.response_code})"
            ) from exc

    def _inspect(self) -> RealmFacts:
        self.admin.change_current_realm(self.realm)
        rep = self.admin.get_realm(self.realm)
        flow = str(rep.get("browserFlow", "browser"))
        return RealmFacts(
            realm=self.realm,
            password_policy=str(rep.get("passwordPolicy", "")),
            brute_force_protected=bool(rep.get("bruteForceProtected", False)),
            failure_factor=int(rep.get("failureFactor", 0)),
            permanent_lockout=bool(rep.get("permanentLockout", False)),
            max_failure_wait_seconds=int(rep.get("maxFailureWaitSeconds", 0)),
            sso_idle_timeout_seconds=int(rep.get("ssoSessionIdleTimeout", 0)),
            ssl_required=str(rep.get("sslRequired", "")),
            events_enabled=bool(rep.get("eventsEnabled", False)),
            event_types=tuple(rep.get("enabledEventTypes") or ()),
            admin_events_enabled=bool(rep.get("adminEventsEnabled", False)),
            admin_events_details=bool(rep.get("adminEventsDetailsEnabled", False)),
            events_expiration_seconds=int(rep.get("eventsExpiration") or 0),
            otp_marker_role=self.marker,
            role_composites=self._roles(),
            browser_flow=flow,
            browser_steps=self._steps(flow),
            users=self._users(),
            frontend_url=str((rep.get("attributes") or {}).get("frontendUrl", "")),
        )

    def _roles(self) -> dict[str, frozenset[str]]:
        out = {}
        for role in self.admin.get_realm_roles(brief_representation=True):
            name = role["name"]
            composites: frozenset[str] = frozenset()
            if role.get("composite"):
                composites = frozenset(
                    r["name"] for r in self.admin.get_composite_realm_roles_of_role(name)
                )
            out[name] = composites
        return out

    def _steps(self, flow: str) -> tuple[FlowStep, ...]:
        steps = []
        for execution in self.admin.get_authentication_flow_executions(flow):
            config: tuple[tuple[str, str], ...] = ()
            if config_id := execution.get("authenticationConfig"):
                raw = self.admin.get_authenticator_config(config_id).get("config") or {}
                config = tuple(sorted((str(k), str(v)) for k, v in raw.items()))
            steps.append(FlowStep(
                path=str(execution.get("displayName", "")),
                authenticator=str(execution.get("providerId") or ""),
                requirement=str(execution.get("requirement", "")),
                config=config,
            ))  # fmt: skip
        return tuple(steps)

    def _users(self) -> tuple[UserFacts, ...]:
        out = []
        for user in self.admin.get_users({"max": MAX_USERS, "briefRepresentation": False}):
            uid = user["id"]
            roles = frozenset(r["name"] for r in self.admin.get_composite_realm_roles_of_user(uid))
            creds = self.admin.get_credentials(uid) if roles & self.privileged else []
            attributes = user.get("attributes") or {}
            out.append(UserFacts(
                username=user["username"],
                enabled=bool(user.get("enabled", False)),
                roles=roles,
                has_otp=any(c.get("type") == "otp" for c in creds),
                required_actions=tuple(user.get("requiredActions") or ()),
                created_at=_ms(user.get("createdTimestamp")),
                shared=(attributes.get("account_type") or [""])[0] == "shared",
                expires_at=_expiry(attributes),
            ))  # fmt: skip
        return tuple(out)
