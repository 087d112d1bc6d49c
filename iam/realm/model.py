"""The realm as typed data: what ``deploy/keycloak/*.yaml`` describes and ``anbao iam apply`` sets.

Only what is written here is managed; everything else in the live realm is left alone (and
reported as unmanaged extras for roles, client scopes, flows, identity providers and clients,
which ``--prune`` may delete). Field names are ours (snake_case, units in the name); the mapping
to Keycloak's representation keys lives in :mod:`iam.realm.render`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

REQUIREMENTS = ("REQUIRED", "ALTERNATIVE", "CONDITIONAL", "DISABLED")


@dataclasses.dataclass(frozen=True, slots=True)
class PasswordPolicy:
    """Keycloak password policy; defaults follow GB/T 22239-2019 §8.1.4.1 (complexity, reuse)."""

    length: int = 8
    upper_case: int = 1
    lower_case: int = 1
    digits: int = 1
    special_chars: int = 1
    not_username: bool = True
    not_email: bool = False
    password_history: int = 5


@dataclasses.dataclass(frozen=True, slots=True)
class BruteForce:
    """Lockout after failures (GB/T 22239-2019 §8.1.4.1 b: limit failed login attempts)."""

    enabled: bool = True
    permanent_lockout: bool = False
    failure_factor: int = 5
    wait_increment_seconds: int = 60
    max_failure_wait_seconds: int = 900
    max_delta_time_seconds: int = 43200
    quick_login_check_ms: int = 1000
    minimum_quick_login_wait_seconds: int = 60


@dataclasses.dataclass(frozen=True, slots=True)
class Sessions:
    sso_idle_timeout_seconds: int = 1800
    sso_max_lifespan_seconds: int = 36000
    offline_idle_timeout_seconds: int = 2592000


@dataclasses.dataclass(frozen=True, slots=True)
class Tokens:
    access_token_lifespan_seconds: int = 300
    access_code_lifespan_seconds: int = 60
    login_lifespan_seconds: int = 1800
    user_action_lifespan_seconds: int = 300
    revoke_refresh_token: bool = True
    refresh_token_max_reuse: int = 0


@dataclasses.dataclass(frozen=True, slots=True)
class OtpPolicy:
    """RFC 6238 TOTP parameters offered to authenticator apps."""

    type: str = "totp"
    algorithm: str = "HmacSHA1"
    digits: int = 6
    period_seconds: int = 30


@dataclasses.dataclass(frozen=True, slots=True)
class Events:
    """Login events (with their types) and admin events; details = the changed representation."""

    enabled: bool = True
    types: tuple[str, ...] = ()
    expiration_seconds: int = 15552000
    admin_events: bool = True
    admin_events_details: bool = True


@dataclasses.dataclass(frozen=True, slots=True)
class Login:
    ssl_required: str = "external"
    registration_allowed: bool = False
    login_with_email: bool = True
    reset_password_allowed: bool = False
    remember_me: bool = False
    verify_email: bool = False


@dataclasses.dataclass(frozen=True, slots=True)
class Localization:
    """The languages of Keycloak's pages (login, account, e-mails); none: Keycloak's default.

    The province's people read Chinese first: ``zh-CN`` by default, ``en`` on request.
    """

    locales: tuple[str, ...] = ()
    default_locale: str = ""


@dataclasses.dataclass(frozen=True, slots=True)
class Role:
    name: str
    description: str = ""
    composites: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True, slots=True)
class Mapper:
    """A protocol mapper (client scope or client) or an identity-provider mapper."""

    name: str
    type: str
    config: Mapping[str, str] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True, slots=True)
class ClientScope:
    name: str
    description: str = ""
    protocol: str = "openid-connect"
    include_in_token_scope: bool = True
    #: ``default`` joins the realm's default scopes of new clients, ``optional`` its optional ones.
    realm_default: str = "none"
    mappers: tuple[Mapper, ...] = ()


@dataclasses.dataclass(frozen=True, slots=True)
class Execution:
    """One step of a flow: an authenticator, or a sub-flow with its own steps."""

    requirement: str
    authenticator: str = ""
    subflow: str = ""
    description: str = ""
    config_alias: str = ""
    config: Mapping[str, str] = dataclasses.field(default_factory=dict)
    executions: tuple[Execution, ...] = ()


@dataclasses.dataclass(frozen=True, slots=True)
class Flow:
    alias: str
    description: str = ""
    executions: tuple[Execution, ...] = ()


@dataclasses.dataclass(frozen=True, slots=True)
class IdentityProvider:
    alias: str
    provider: str = "oidc"
    display_name: str = ""
    enabled: bool = True
    trust_email: bool = False
    store_token: bool = False
    link_only: bool = False
    hide_on_login: bool = False
    first_broker_login_flow: str = "first broker login"
    post_broker_login_flow: str = ""
    config: Mapping[str, str] = dataclasses.field(default_factory=dict)
    mappers: tuple[Mapper, ...] = ()

    @property
    def username_prefix(self) -> str:
        """The literal start of the usernames this broker gives on first login ("" if none).

        Keycloak's ``oidc-username-idp-mapper`` builds usernames from a template such as
        ``court.${CLAIM.preferred_username}``; ``${ALIAS}`` stands for the alias. What precedes
        the first other ``${`` is the broker's namespace, lower-cased as Keycloak stores it.
        """
        for mapper in self.mappers:
            if mapper.type == "oidc-username-idp-mapper":
                template = mapper.config.get("template", "").replace("${ALIAS}", self.alias)
                return template.partition("${")[0].lower()
        return ""


@dataclasses.dataclass(frozen=True, slots=True)
class AppPolicy:
    """What every client the file does not declare must hold (onboarded apps above all).

    ``withheld_scopes`` (e.g. ``anbao-api``, whose audience Anbao's API requires) are removed
    from such clients; onboarded apps (``anbao.managed``) also get ``full_scope_allowed``, so
    their tokens carry no realm roles of the signed-in person they were not given.
    """

    full_scope_allowed: bool = False
    withheld_scopes: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True, slots=True)
class Client:
    """A client the realm itself needs (e.g. the broker client in a partner realm).

    Application clients are onboarded through ``POST /iam/apps``, not written here.
    """

    client_id: str
    name: str = ""
    enabled: bool = True
    public: bool = False
    authenticator: str = "client-jwt"
    standard_flow: bool = True
    direct_access_grants: bool = False
    service_accounts: bool = False
    #: Client roles granted to the service account, by client (``realm-management: [view-users]``):
    #: exactly these on each client named (extra grants there are removed on apply).
    service_account_roles: Mapping[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)
    redirect_uris: tuple[str, ...] = ()
    web_origins: tuple[str, ...] = ()
    attributes: Mapping[str, str] = dataclasses.field(default_factory=dict)
    #: Client scopes added to the client's defaults (live extras are kept).
    default_scopes: tuple[str, ...] = ()
    full_scope_allowed: bool = True
    #: ``client-secret`` only; given through a ``${variable}``, never written in the file.
    secret: str = dataclasses.field(default="", repr=False)


@dataclasses.dataclass(frozen=True, slots=True)
class ProfileAttribute:
    """A declared user-profile attribute; ``edit``/``view`` are Keycloak's ``admin``/``user``."""

    name: str
    display_name: str = ""
    view: tuple[str, ...] = ("admin",)
    edit: tuple[str, ...] = ("admin",)
    multivalued: bool = False


@dataclasses.dataclass(frozen=True, slots=True)
class UserProfile:
    unmanaged_attribute_policy: str = ""
    attributes: tuple[ProfileAttribute, ...] = ()


@dataclasses.dataclass(frozen=True, slots=True)
class RealmSpec:
    realm: str
    enabled: bool = True
    display_name: str = ""
    login: Login = Login()
    localization: Localization = Localization()
    password_policy: PasswordPolicy = PasswordPolicy()
    brute_force: BruteForce = BruteForce()
    sessions: Sessions = Sessions()
    tokens: Tokens = Tokens()
    otp_policy: OtpPolicy = OtpPolicy()
    events: Events = Events()
    #: Keycloak's ``acr.loa.map``: acr value -> level of authentication (step-up, RFC 9470).
    acr_loa_map: Mapping[str, int] = dataclasses.field(default_factory=dict)
    browser_flow: str = ""
    direct_grant_flow: str = ""
    roles: tuple[Role, ...] = ()
    client_scopes: tuple[ClientScope, ...] = ()
    flows: tuple[Flow, ...] = ()
    identity_providers: tuple[IdentityProvider, ...] = ()
    clients: tuple[Client, ...] = ()
    user_profile: UserProfile = UserProfile()
    #: ``None``: clients the file does not declare are left alone.
    app_policy: AppPolicy | None = None
