"""Render a :class:`RealmSpec` as the desired state: Keycloak representation fragments by kind.

The state is plain JSON-like data, ``{kind: {name: representation}}``, in the order objects
must be converged (roles before the scopes and flows that name them, flows before the realm
bindings and identity providers that use them). The planner compares it with the live state
read by the adapter, which projects Keycloak's answers onto the same keys.
"""

from __future__ import annotations

import json
from typing import Any

from iam.realm.model import ClientScope, Execution, IdentityProvider, Mapper, RealmSpec

State = dict[str, dict[str, dict[str, Any]]]
KINDS = (
    "role", "client_scope", "flow", "client", "realm", "user_profile", "identity_provider", "app",
)  # fmt: skip
#: Marker on clients this tool manages: ``--prune`` never deletes apps onboarded through the API.
MANAGED_MARKER = "anbao.managed-by"
MANAGED_VALUE = "realm-file"
#: Marker on clients onboarded through the apps API (``iam.apps``): the realm file leaves them be.
#: Defined here, with the realm file's own marker, because the realm decides what it owns.
APP_MARKER = "anbao.managed"

_POLICY_ORDER = (
    ("length", "length"),
    ("upper_case", "upperCase"),
    ("lower_case", "lowerCase"),
    ("digits", "digits"),
    ("special_chars", "specialChars"),
    ("password_history", "passwordHistory"),
)


def password_policy_string(spec: RealmSpec) -> str:
    """Keycloak's policy syntax, in a fixed order so that equal policies compare equal."""
    p = spec.password_policy
    parts = {kc: str(getattr(p, ours)) for ours, kc in _POLICY_ORDER if getattr(p, ours)}
    if p.not_username:
        parts["notUsername"] = ""
    if p.not_email:
        parts["notEmail"] = ""
    return canonical_policy(" and ".join(f"{k}({v})" for k, v in parts.items()))


def canonical_policy(policy: str) -> str:
    """Sort the terms and drop Keycloak's ``(undefined)`` placeholder for argument-less ones."""
    terms = []
    for term in filter(None, (t.strip() for t in (policy or "").split(" and "))):
        name, _, arg = term.partition("(")
        arg = arg.rstrip(")")
        terms.append(f"{name}({'' if arg == 'undefined' else arg})")
    return " and ".join(sorted(terms))


def render(spec: RealmSpec) -> State:
    state: State = {kind: {} for kind in KINDS}
    for role in spec.roles:
        state["role"][role.name] = {
            "description": role.description,
            "composites": sorted(role.composites),
        }
    for scope in spec.client_scopes:
        state["client_scope"][scope.name] = _scope(scope)
    for flow in spec.flows:
        state["flow"][flow.alias] = {
            "description": flow.description,
            "steps": [_step(step) for step in flow.executions],
        }
    for client in spec.clients:
        state["client"][client.client_id] = {
            "name": client.name,
            "enabled": client.enabled,
            "publicClient": client.public,
            "clientAuthenticatorType": client.authenticator,
            "standardFlowEnabled": client.standard_flow,
            "directAccessGrantsEnabled": client.direct_access_grants,
            "serviceAccountsEnabled": client.service_accounts,
            "redirectUris": sorted(client.redirect_uris),
            "webOrigins": sorted(client.web_origins),
            "attributes": {**client.attributes, MANAGED_MARKER: MANAGED_VALUE},
            "defaultClientScopes": sorted(client.default_scopes),
            "fullScopeAllowed": client.full_scope_allowed,
        }
        if client.service_account_roles:
            state["client"][client.client_id]["serviceAccountRoles"] = {
                name: sorted(roles) for name, roles in client.service_account_roles.items()
            }
        if client.secret:
            state["client"][client.client_id]["secret"] = client.secret
    state["realm"][spec.realm] = realm_settings(spec)
    if spec.user_profile.attributes or spec.user_profile.unmanaged_attribute_policy:
        state["user_profile"]["user-profile"] = _profile(spec)
    for idp in spec.identity_providers:
        state["identity_provider"][idp.alias] = _idp(idp)
    return state


def render_apps(spec: RealmSpec, live: State) -> dict[str, dict[str, Any]]:
    """The desired state of the clients the file does not declare, from their live state.

    Apps are onboarded through the API, so the file cannot list them; it states the policy they
    must meet (:class:`~iam.realm.model.AppPolicy`) and ``apply`` converges each live one.
    """
    policy = spec.app_policy
    if policy is None:
        return {}
    out = {}
    for name, have in live.get("app", {}).items():
        kept = [s for s in have["clientScopes"] if s not in policy.withheld_scopes]
        want: dict[str, Any] = {"clientScopes": kept}
        if "fullScopeAllowed" in have:  # onboarded through Anbao (the adapter reads it only then)
            want["fullScopeAllowed"] = policy.full_scope_allowed
        out[name] = want
    return out


def realm_settings(spec: RealmSpec) -> dict[str, Any]:
    b, s, t, o, e, lg = (
        spec.brute_force,
        spec.sessions,
        spec.tokens,
        spec.otp_policy,
        spec.events,
        spec.login,
    )
    out: dict[str, Any] = {
        "enabled": spec.enabled,
        "displayName": spec.display_name,
        "sslRequired": lg.ssl_required,
        "registrationAllowed": lg.registration_allowed,
        "loginWithEmailAllowed": lg.login_with_email,
        "resetPasswordAllowed": lg.reset_password_allowed,
        "rememberMe": lg.remember_me,
        "verifyEmail": lg.verify_email,
        "passwordPolicy": password_policy_string(spec),
        "bruteForceProtected": b.enabled,
        "permanentLockout": b.permanent_lockout,
        "failureFactor": b.failure_factor,
        "waitIncrementSeconds": b.wait_increment_seconds,
        "maxFailureWaitSeconds": b.max_failure_wait_seconds,
        "maxDeltaTimeSeconds": b.max_delta_time_seconds,
        "quickLoginCheckMilliSeconds": b.quick_login_check_ms,
        "minimumQuickLoginWaitSeconds": b.minimum_quick_login_wait_seconds,
        "ssoSessionIdleTimeout": s.sso_idle_timeout_seconds,
        "ssoSessionMaxLifespan": s.sso_max_lifespan_seconds,
        "offlineSessionIdleTimeout": s.offline_idle_timeout_seconds,
        "accessTokenLifespan": t.access_token_lifespan_seconds,
        "accessCodeLifespan": t.access_code_lifespan_seconds,
        "accessCodeLifespanLogin": t.login_lifespan_seconds,
        "accessCodeLifespanUserAction": t.user_action_lifespan_seconds,
        "revokeRefreshToken": t.revoke_refresh_token,
        "refreshTokenMaxReuse": t.refresh_token_max_reuse,
        "otpPolicyType": o.type,
        "otpPolicyAlgorithm": o.algorithm,
        "otpPolicyDigits": o.digits,
        "otpPolicyPeriod": o.period_seconds,
        "eventsEnabled": e.enabled,
        "enabledEventTypes": sorted(e.types),
        "eventsExpiration": e.expiration_seconds,
        "adminEventsEnabled": e.admin_events,
        "adminEventsDetailsEnabled": e.admin_events_details,
    }
    if spec.localization.locales:
        out["internationalizationEnabled"] = True
        out["supportedLocales"] = sorted(spec.localization.locales)
        out["defaultLocale"] = spec.localization.default_locale
    if spec.acr_loa_map:
        out["acr.loa.map"] = dict(sorted(spec.acr_loa_map.items()))
    if spec.browser_flow:
        out["browserFlow"] = spec.browser_flow
    if spec.direct_grant_flow:
        out["directGrantFlow"] = spec.direct_grant_flow
    return out


def _mappers(mappers: tuple[Mapper, ...], type_key: str) -> dict[str, Any]:
    return {m.name: {type_key: m.type, "config": dict(m.config)} for m in mappers}


def _scope(scope: ClientScope) -> dict[str, Any]:
    return {
        "description": scope.description,
        "protocol": scope.protocol,
        "include.in.token.scope": "true" if scope.include_in_token_scope else "false",
        "realm_default": scope.realm_default,
        "mappers": _mappers(scope.mappers, "protocolMapper"),
    }


def _step(step: Execution) -> dict[str, Any]:
    out: dict[str, Any] = {"requirement": step.requirement}
    if step.subflow:
        out["subflow"] = step.subflow
        out["description"] = step.description
        out["steps"] = [_step(child) for child in step.executions]
    else:
        out["authenticator"] = step.authenticator
    if step.config_alias:
        out["config_alias"] = step.config_alias
        out["config"] = dict(step.config)
    return out


def _profile(spec: RealmSpec) -> dict[str, Any]:
    up = spec.user_profile
    attributes = {
        a.name: {
            "displayName": a.display_name or a.name,
            "permissions": {"view": sorted(a.view), "edit": sorted(a.edit)},
            "multivalued": a.multivalued,
        }
        for a in up.attributes
    }
    out: dict[str, Any] = {"attributes": attributes}
    if up.unmanaged_attribute_policy:
        out["unmanagedAttributePolicy"] = up.unmanaged_attribute_policy
    return out


def _idp(idp: IdentityProvider) -> dict[str, Any]:
    return {
        "providerId": idp.provider,
        "displayName": idp.display_name,
        "enabled": idp.enabled,
        "trustEmail": idp.trust_email,
        "storeToken": idp.store_token,
        "linkOnly": idp.link_only,
        "hideOnLogin": idp.hide_on_login,
        "firstBrokerLoginFlowAlias": idp.first_broker_login_flow,
        "postBrokerLoginFlowAlias": idp.post_broker_login_flow,
        "config": dict(idp.config),
        "mappers": _mappers(idp.mappers, "identityProviderMapper"),
    }


def to_json(value: Any) -> str:
    """Stable short text of a value for the printed diff."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False)
