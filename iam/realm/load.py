"""Load a realm file into :class:`iam.realm.model.RealmSpec`, with findings that name YAML paths.

Besides shape checks, :func:`baseline_findings` refuses files that weaken the platform's floor
(GB/T 22239-2019 §8.1.4.1 identification and authentication; §8.1.4.3 security audit): a
password shorter than 8 or missing a character class, brute-force detection off, an SSO idle
timeout above 30 minutes, login or admin events off.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TypeVar

from iam.realm.errors import RealmFileInvalid
from iam.realm.model import (
    REQUIREMENTS,
    AppPolicy,
    BruteForce,
    Client,
    ClientScope,
    Events,
    Execution,
    Flow,
    IdentityProvider,
    Localization,
    Login,
    Mapper,
    OtpPolicy,
    PasswordPolicy,
    ProfileAttribute,
    RealmSpec,
    Role,
    Sessions,
    Tokens,
    UserProfile,
)
from iam.realm.source import Finding, Reader, load_yaml, substitute

T = TypeVar("T")
MAX_IDLE_SECONDS = 1800
MIN_PASSWORD_LENGTH = 8


def load_realm_file(path: Path, overrides: Mapping[str, str] | None = None) -> RealmSpec:
    return load_realm_text(path.read_text(encoding="utf-8"), overrides)


def load_realm_text(text: str, overrides: Mapping[str, str] | None = None) -> RealmSpec:
    """Parse, substitute ``${vars}`` (file ``variables`` < ``overrides``), validate; or raise."""
    data, lines = load_yaml(text)
    findings: list[Finding] = []
    root = Reader(data, "", lines, findings)
    variables = root.string_map("variables")
    variables.update(overrides or {})
    resolved = substitute(data if isinstance(data, dict) else {}, variables, "", findings)
    resolved.pop("variables", None)
    findings = [Finding(f.path, lines.get(f.path, 0), f.message) for f in findings]
    reader = Reader(resolved, "", lines, findings)
    reader.sub("variables")
    spec = _realm(reader)
    reader.done()
    findings.extend(baseline_findings(spec, lines))
    if findings:
        raise RealmFileInvalid(findings)
    return spec


def _realm(r: Reader) -> RealmSpec:
    return RealmSpec(
        realm=r.text("realm", required=True),
        enabled=r.flag("enabled", True),
        display_name=r.text("display_name"),
        login=_login(r.sub("login")),
        localization=_localization(r.sub("localization")),
        password_policy=_password(r.sub("password_policy")),
        brute_force=_brute(r.sub("brute_force")),
        sessions=_sessions(r.sub("sessions")),
        tokens=_tokens(r.sub("tokens")),
        otp_policy=_otp(r.sub("otp_policy")),
        events=_events(r.sub("events")),
        acr_loa_map={
            k: _int(r, f"acr_loa_map.{k}", v) for k, v in r.string_map("acr_loa_map").items()
        },
        browser_flow=r.text("browser_flow"),
        direct_grant_flow=r.text("direct_grant_flow"),
        roles=r.each("roles", _role),
        client_scopes=r.each("client_scopes", _scope),
        flows=r.each("flows", _flow),
        identity_providers=r.each("identity_providers", _idp),
        clients=r.each("clients", _client),
        user_profile=_profile(r.sub("user_profile")),
        app_policy=_app_policy(r.sub("onboarded_apps")) if r.has("onboarded_apps") else None,
    )


def _app_policy(r: Reader) -> AppPolicy:
    return _closed(
        r,
        AppPolicy(
            full_scope_allowed=r.flag("full_scope_allowed"),
            withheld_scopes=r.strings("withheld_scopes"),
        ),
    )


def _int(r: Reader, key: str, value: str) -> int:
    if not value.isdigit():
        r.fail("must be a whole number", key)
        return 0
    return int(value)


def _closed(r: Reader, value: T) -> T:
    r.done()
    return value


def _login(r: Reader) -> Login:
    d = Login()
    return _closed(
        r,
        Login(
            ssl_required=r.choice("ssl_required", ("all", "external", "none"), d.ssl_required),
            registration_allowed=r.flag("registration_allowed", d.registration_allowed),
            login_with_email=r.flag("login_with_email", d.login_with_email),
            reset_password_allowed=r.flag("reset_password_allowed", d.reset_password_allowed),
            remember_me=r.flag("remember_me", d.remember_me),
            verify_email=r.flag("verify_email", d.verify_email),
        ),
    )


def _localization(r: Reader) -> Localization:
    locales = r.strings("locales")
    default = r.text("default_locale", locales[0] if locales else "")
    if default and default not in locales:
        r.fail("must be one of locales", "default_locale")
    return _closed(r, Localization(locales, default))


def _password(r: Reader) -> PasswordPolicy:
    d = PasswordPolicy()
    return _closed(
        r,
        PasswordPolicy(
            length=r.integer("length", d.length, minimum=1),
            upper_case=r.integer("upper_case", d.upper_case, minimum=0),
            lower_case=r.integer("lower_case", d.lower_case, minimum=0),
            digits=r.integer("digits", d.digits, minimum=0),
            special_chars=r.integer("special_chars", d.special_chars, minimum=0),
            not_username=r.flag("not_username", d.not_username),
            not_email=r.flag("not_email", d.not_email),
            password_history=r.integer("password_history", d.password_history, minimum=0),
        ),
    )


def _brute(r: Reader) -> BruteForce:
    d = BruteForce()
    return _closed(
        r,
        BruteForce(
            enabled=r.flag("enabled", d.enabled),
            permanent_lockout=r.flag("permanent_lockout", d.permanent_lockout),
            failure_factor=r.integer("failure_factor", d.failure_factor, minimum=1),
            wait_increment_seconds=r.integer(
                "wait_increment_seconds", d.wait_increment_seconds, minimum=0
            ),
            max_failure_wait_seconds=r.integer(
                "max_failure_wait_seconds", d.max_failure_wait_seconds, minimum=0
            ),
            max_delta_time_seconds=r.integer(
                "max_delta_time_seconds", d.max_delta_time_seconds, minimum=0
            ),
            quick_login_check_ms=r.integer(
                "quick_login_check_ms", d.quick_login_check_ms, minimum=0
            ),
            minimum_quick_login_wait_seconds=r.integer(
                "minimum_quick_login_wait_seconds", d.minimum_quick_login_wait_seconds, minimum=0
            ),
        ),
    )


def _sessions(r: Reader) -> Sessions:
    d = Sessions()
    return _closed(
        r,
        Sessions(
            sso_idle_timeout_seconds=r.integer(
                "sso_idle_timeout_seconds", d.sso_idle_timeout_seconds, minimum=60
            ),
            sso_max_lifespan_seconds=r.integer(
                "sso_max_lifespan_seconds", d.sso_max_lifespan_seconds, minimum=60
            ),
            offline_idle_timeout_seconds=r.integer(
                "offline_idle_timeout_seconds", d.offline_idle_timeout_seconds, minimum=60
            ),
        ),
    )


def _tokens(r: Reader) -> Tokens:
    d = Tokens()
    return _closed(
        r,
        Tokens(
            access_token_lifespan_seconds=r.integer(
                "access_token_lifespan_seconds", d.access_token_lifespan_seconds, minimum=10
            ),
            access_code_lifespan_seconds=r.integer(
                "access_code_lifespan_seconds", d.access_code_lifespan_seconds, minimum=10
            ),
            login_lifespan_seconds=r.integer(
                "login_lifespan_seconds", d.login_lifespan_seconds, minimum=60
            ),
            user_action_lifespan_seconds=r.integer(
                "user_action_lifespan_seconds", d.user_action_lifespan_seconds, minimum=60
            ),
            revoke_refresh_token=r.flag("revoke_refresh_token", d.revoke_refresh_token),
            refresh_token_max_reuse=r.integer(
                "refresh_token_max_reuse", d.refresh_token_max_reuse, minimum=0
            ),
        ),
    )


def _otp(r: Reader) -> OtpPolicy:
    d = OtpPolicy()
    return _closed(
        r,
        OtpPolicy(
            type=r.choice("type", ("totp", "hotp"), d.type),
            algorithm=r.choice("algorithm", ("HmacSHA1", "HmacSHA256", "HmacSHA512"), d.algorithm),
            digits=r.integer("digits", d.digits, minimum=6),
            period_seconds=r.integer("period_seconds", d.period_seconds, minimum=15),
        ),
    )


def _events(r: Reader) -> Events:
    d = Events()
    return _closed(
        r,
        Events(
            enabled=r.flag("enabled", d.enabled),
            types=r.strings("types"),
            expiration_seconds=r.integer("expiration_seconds", d.expiration_seconds, minimum=0),
            admin_events=r.flag("admin_events", d.admin_events),
            admin_events_details=r.flag("admin_events_details", d.admin_events_details),
        ),
    )


def _role(r: Reader) -> Role:
    return Role(r.text("name", required=True), r.text("description"), r.strings("composites"))


def _mapper(r: Reader) -> Mapper:
    return Mapper(
        r.text("name", required=True), r.text("type", required=True), r.string_map("config")
    )


def _scope(r: Reader) -> ClientScope:
    return ClientScope(
        name=r.text("name", required=True),
        description=r.text("description"),
        protocol=r.choice("protocol", ("openid-connect", "saml"), "openid-connect"),
        include_in_token_scope=r.flag("include_in_token_scope", True),
        realm_default=r.choice("realm_default", ("default", "optional", "none"), "none"),
        mappers=r.each("mappers", _mapper),
    )


def _execution(r: Reader) -> Execution:
    authenticator, subflow = r.text("authenticator"), r.text("subflow")
    if bool(authenticator) == bool(subflow):
        r.fail("needs exactly one of 'authenticator' or 'subflow'")
    config_alias = r.text("config_alias")
    config = r.string_map("config")
    if config and not config_alias:
        r.fail("a step with config needs a config_alias", "config")
    return Execution(
        requirement=r.choice("requirement", REQUIREMENTS, "REQUIRED"),
        authenticator=authenticator,
        subflow=subflow,
        description=r.text("description"),
        config_alias=config_alias,
        config=config,
        executions=r.each("executions", _execution),
    )


def _flow(r: Reader) -> Flow:
    return Flow(
        r.text("alias", required=True), r.text("description"), r.each("executions", _execution)
    )


def _idp(r: Reader) -> IdentityProvider:
    return IdentityProvider(
        alias=r.text("alias", required=True),
        provider=r.choice("provider", ("oidc", "keycloak-oidc", "saml"), "oidc"),
        display_name=r.text("display_name"),
        enabled=r.flag("enabled", True),
        trust_email=r.flag("trust_email"),
        store_token=r.flag("store_token"),
        link_only=r.flag("link_only"),
        hide_on_login=r.flag("hide_on_login"),
        first_broker_login_flow=r.text("first_broker_login_flow", "first broker login"),
        post_broker_login_flow=r.text("post_broker_login_flow"),
        config=r.string_map("config"),
        mappers=r.each("mappers", _mapper),
    )


def _client(r: Reader) -> Client:
    return Client(
        client_id=r.text("client_id", required=True),
        name=r.text("name"),
        enabled=r.flag("enabled", True),
        public=r.flag("public"),
        authenticator=r.choice(
            "authenticator",
            ("client-jwt", "client-secret-jwt", "client-secret", "client-x509"),
            "client-jwt",
        ),
        standard_flow=r.flag("standard_flow", True),
        direct_access_grants=r.flag("direct_access_grants"),
        service_accounts=r.flag("service_accounts"),
        service_account_roles=_service_account_roles(r),
        redirect_uris=r.strings("redirect_uris"),
        web_origins=r.strings("web_origins"),
        attributes=r.string_map("attributes"),
        default_scopes=r.strings("default_scopes"),
        full_scope_allowed=r.flag("full_scope_allowed", True),
        secret=r.text("secret"),
    )


def _service_account_roles(r: Reader) -> dict[str, tuple[str, ...]]:
    """``{client: [role, ...]}``; only a confidential client with a service account has them."""
    if not r.has("service_account_roles"):
        return {}
    grants = r.sub("service_account_roles")
    out = {str(client): grants.strings(str(client)) for client in grants.names()}
    grants.done()
    if out and (not r.flag("service_accounts") or r.flag("public")):
        r.fail("needs service_accounts: true on a confidential client", "service_account_roles")
    return out


def _profile(r: Reader) -> UserProfile:
    def attribute(a: Reader) -> ProfileAttribute:
        return ProfileAttribute(
            name=a.text("name", required=True),
            display_name=a.text("display_name"),
            view=a.strings("view") or ("admin",),
            edit=a.strings("edit") or ("admin",),
            multivalued=a.flag("multivalued"),
        )

    policy = r.text("unmanaged_attribute_policy")
    if policy not in ("", "ENABLED", "ADMIN_VIEW", "ADMIN_EDIT"):
        r.fail("must be ENABLED, ADMIN_VIEW or ADMIN_EDIT", "unmanaged_attribute_policy")
    return _closed(r, UserProfile(policy, r.each("attributes", attribute)))


def baseline_findings(spec: RealmSpec, lines: Mapping[str, int]) -> list[Finding]:
    """The security floor no realm file may go below (see the module docstring)."""
    out: list[Finding] = []

    def need(ok: bool, path: str, message: str) -> None:
        if not ok:
            out.append(Finding(path, lines.get(path, 0), message))

    p = spec.password_policy
    need(p.length >= MIN_PASSWORD_LENGTH, "password_policy.length", "must be at least 8")
    for name in ("upper_case", "lower_case", "digits", "special_chars"):
        need(getattr(p, name) >= 1, f"password_policy.{name}", "must be at least 1")
    need(p.not_username, "password_policy.not_username", "must be true")
    need(p.password_history >= 1, "password_policy.password_history", "must be at least 1")
    need(spec.brute_force.enabled, "brute_force.enabled", "brute-force detection must stay on")
    need(
        spec.sessions.sso_idle_timeout_seconds <= MAX_IDLE_SECONDS,
        "sessions.sso_idle_timeout_seconds",
        "must be at most 1800 (30 minutes)",
    )
    need(spec.events.enabled, "events.enabled", "login events must stay on")
    need(spec.events.admin_events, "events.admin_events", "admin events must stay on")
    need(spec.events.admin_events_details, "events.admin_events_details", "must stay on")
    if spec.app_policy is not None:
        shared = {s.name for s in spec.client_scopes if s.realm_default != "none"}
        for scope in spec.app_policy.withheld_scopes:
            need(
                scope not in shared,
                "onboarded_apps.withheld_scopes",
                f"{scope} must not be a realm default scope (every new client would get it)",
            )
    names = [role.name for role in spec.roles]
    need(len(names) == len(set(names)), "roles", "role names must be unique")
    return out
