"""App onboarding: the registration model and its validation (no framework, no Keycloak).

An app is registered as an OpenID Connect client of the realm. The rules come from the
standards and current best practice rather than from what Keycloak happens to accept:

* redirect URIs are compared exactly (RFC 9700 §2.1, §4.1.3): no wildcards, no fragments
  (RFC 6749 §3.1.2), no user info (RFC 3986 §7.5); ``https`` everywhere except ``http`` on a
  loopback address for native and development apps (RFC 8252 §7.3, §8.3);
* public clients must use PKCE with S256 (RFC 7636 §4.2, RFC 9700 §2.1.1); confidential
  clients get PKCE S256 too, and authenticate with a client secret or ``private_key_jwt``
  (OIDC Core §9, RFC 7523 §2.2) whose JWKS holds public keys only;
* the client id names the app for life and the ``anbao`` prefix is the platform's, for
  client ids and client scopes alike (``anbao-api`` is the audience of Anbao's own API).

Every bad field is reported at once: :class:`~iam.errors.InvalidRequest` carries the list
``(field, reason)`` and becomes a problem document naming them.
"""

from __future__ import annotations

import dataclasses
import enum
import ipaddress
import re
import unicodedata
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from iam.errors import InvalidRequest

CLIENT_ID = re.compile(r"[a-z][a-z0-9-]{2,62}")
ROLE_NAME = re.compile(r"[a-z][a-z0-9_.:-]{0,63}")
SCOPE_NAME = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
#: Keycloak's own clients and the platform's namespace are never registrable.
RESERVED_CLIENT_IDS = frozenset(
    {
        "account",
        "account-console",
        "admin-cli",
        "broker",
        "realm-management",
        "security-admin-console",
    }
)
RESERVED_PREFIX = "anbao"
MAX_REDIRECT_URIS = 20
MAX_URI_LENGTH = 2048
#: Keycloak keeps a client's name and description in 255-character columns (more is its 500).
MAX_TEXT_LENGTH = 255
MAX_ROLES = 50
MAX_SCOPES = 20
_PRIVATE_JWK_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "k", "oth"})


class AppKind(enum.StrEnum):
    CONFIDENTIAL = "confidential"
    PUBLIC = "public"


class ClientAuth(enum.StrEnum):
    """How the app authenticates at the token endpoint (OIDC Core §9)."""

    CLIENT_SECRET = "client_secret"  # noqa: S105 - the method's name, not a secret
    PRIVATE_KEY_JWT = "private_key_jwt"
    NONE = "none"


@dataclasses.dataclass(frozen=True, slots=True)
class AppRegistration:
    """A validated registration request."""

    client_id: str
    name: str
    description: str
    kind: AppKind
    auth: ClientAuth
    redirect_uris: tuple[str, ...]
    scopes: tuple[str, ...]
    roles: tuple[str, ...]
    service_account: bool
    jwks_url: str = ""
    jwks: Mapping[str, Any] | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class AppUpdate:
    """A validated PATCH: ``None`` leaves a field unchanged."""

    name: str | None = None
    description: str | None = None
    enabled: bool | None = None
    redirect_uris: tuple[str, ...] | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class App:
    """A registered app as the API describes it (never with its secret)."""

    client_id: str
    name: str
    description: str
    kind: AppKind
    auth: ClientAuth
    enabled: bool
    redirect_uris: tuple[str, ...]
    service_account: bool
    owner: str
    created_at: int
    scopes: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()
    jwks_url: str = ""

    def as_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["kind"] = self.kind.value
        data["auth"] = self.auth.value
        for key in ("redirect_uris", "scopes", "roles"):
            data[key] = list(data[key])
        return data


@dataclasses.dataclass(frozen=True, slots=True)
class RoleHolder:
    """A person holding one of an app's roles, as the role list shows them."""

    id: str
    username: str

    def as_dict(self) -> dict[str, str]:
        return {"id": self.id, "username": self.username}


@dataclasses.dataclass(frozen=True, slots=True)
class AppRole:
    """One client role of an app and the holders its reader may see."""

    name: str
    holders: tuple[RoleHolder, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "holders": [h.as_dict() for h in self.holders]}


@dataclasses.dataclass(frozen=True, slots=True)
class AppCredentials:
    """What registration and rotation return once: the secret is never shown again."""

    app: App
    issuer: str
    discovery_url: str
    client_secret: str | None = dataclasses.field(default=None, repr=False)

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "app": self.app.as_dict(),
            "client_id": self.app.client_id,
            "issuer": self.issuer,
            "discovery_url": self.discovery_url,
        }
        if self.client_secret is not None:
            data["client_secret"] = self.client_secret
        return data


# -- validation -----------------------------------------------------------------------------

_REGISTRATION_FIELDS = frozenset(
    {
        "client_id", "name", "description", "type", "auth_method", "redirect_uris", "scopes",
        "roles", "service_account", "jwks_url", "jwks",
    }
)  # fmt: skip
_UPDATE_FIELDS = frozenset({"name", "description", "enabled", "redirect_uris"})


class _Errors:
    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []

    def add(self, field: str, reason: str) -> None:
        self.items.append((field, reason))

    def raise_if_any(self) -> None:
        if self.items:
            raise InvalidRequest(self.items)


def redirect_uri_problem(uri: object) -> str | None:
    """Why ``uri`` may not be a redirect URI, or ``None`` if it may (RFC 9700 §4.1, RFC 8252)."""
    if not isinstance(uri, str) or not uri:
        return "must be a non-empty string"
    if len(uri) > MAX_URI_LENGTH:
        return f"must be at most {MAX_URI_LENGTH} characters"
    if any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in uri):  # noqa: PLR2004
        return "must not contain spaces or control characters"
    if "*" in uri:
        return "wildcards are not allowed; register each URI exactly (RFC 9700 §4.1.3)"
    if "#" in uri:
        return "must not contain a fragment (RFC 6749 §3.1.2)"
    return _url_problem(uri)


def _url_problem(uri: str) -> str | None:
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError:
        return "is not a valid URL"
    del port
    if parts.scheme not in {"https", "http"}:
        return "must be an https URL (http only on a loopback address)"
    if "@" in parts.netloc:
        return "must not contain user information (RFC 3986 §7.5)"
    if not parts.hostname:
        return "must name a host"
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        return "http is allowed only on a loopback address (RFC 8252 §7.3); use https"
    return None


def is_loopback_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _string(data: Mapping[str, Any], key: str, errors: _Errors, *, limit: int) -> str:
    value = data.get(key, "")
    if not isinstance(value, str):
        errors.add(key, "must be a string")
        return ""
    if len(value) > limit:
        errors.add(key, f"must be at most {limit} characters")
    elif any(unicodedata.category(c) == "Cc" for c in value):
        errors.add(key, "must not contain control characters")
    return value.strip()


def _names(
    data: Mapping[str, Any], key: str, pattern: re.Pattern[str], limit: int, errors: _Errors
) -> tuple[str, ...]:
    value = data.get(key, [])
    if not isinstance(value, list):
        errors.add(key, "must be a list of names")
        return ()
    if len(value) > limit:
        errors.add(key, f"at most {limit} entries")
    for i, name in enumerate(value):
        if not isinstance(name, str) or not pattern.fullmatch(name):
            errors.add(f"{key}[{i}]", f"must match {pattern.pattern}")
    return tuple(dict.fromkeys(v for v in value if isinstance(v, str)))


def _scopes(data: Mapping[str, Any], errors: _Errors) -> tuple[str, ...]:
    """The platform's scopes (``anbao-api`` carries the audience Anbao's API requires) are
    never granted to an app: its tokens would open Anbao's admin routes."""
    scopes = _names(data, "scopes", SCOPE_NAME, MAX_SCOPES, errors)
    for i, name in enumerate(scopes):
        if name.lower().startswith(RESERVED_PREFIX):
            errors.add(f"scopes[{i}]", "is reserved for the platform")
    return scopes


def _redirect_uris(data: Mapping[str, Any], errors: _Errors) -> tuple[str, ...]:
    value = data.get("redirect_uris", [])
    if not isinstance(value, list):
        errors.add("redirect_uris", "must be a list of URLs")
        return ()
    if len(value) > MAX_REDIRECT_URIS:
        errors.add("redirect_uris", f"at most {MAX_REDIRECT_URIS} URIs")
    for i, uri in enumerate(value):
        problem = redirect_uri_problem(uri)
        if problem:
            errors.add(f"redirect_uris[{i}]", problem)
    return tuple(dict.fromkeys(v for v in value if isinstance(v, str)))


def _unknown(data: Mapping[str, Any], allowed: frozenset[str], errors: _Errors) -> None:
    for key in sorted(set(data) - allowed):
        errors.add(str(key), "unknown field")


def _client_id(data: Mapping[str, Any], errors: _Errors) -> str:
    value = data.get("client_id")
    if not isinstance(value, str) or not CLIENT_ID.fullmatch(value):
        errors.add("client_id", "required: 3-63 of a-z 0-9 -, starting with a letter")
        return ""
    if value in RESERVED_CLIENT_IDS or value.startswith(RESERVED_PREFIX):
        errors.add("client_id", "is reserved for the platform")
    return value


def _enum(data: Mapping[str, Any], key: str, cls: type[Any], default: Any, errors: _Errors) -> Any:
    value = data.get(key, default.value if default is not None else None)
    try:
        return cls(value)
    except ValueError:
        errors.add(key, "must be one of " + ", ".join(m.value for m in cls))
        return default


def _jwks(value: object, errors: _Errors) -> Mapping[str, Any] | None:
    keys = value.get("keys") if isinstance(value, dict) else None
    if not isinstance(keys, list) or not keys:
        errors.add("jwks", 'must be a JWK Set: {"keys": [...]} with at least one key')
        return None
    for i, key in enumerate(keys):
        if isinstance(key, dict) and _PRIVATE_JWK_MEMBERS & key.keys():
            errors.add(f"jwks.keys[{i}]", "must be a public key: private members are refused")
            return None
    try:
        KeySet.import_key_set({"keys": keys})
    except (JoseError, ValueError, TypeError, KeyError):
        errors.add("jwks", "is not a readable JWK Set (RFC 7517 §5)")
        return None
    return {"keys": keys}


def parse_registration(data: object) -> AppRegistration:
    """Validate a registration request body; raise :class:`InvalidRequest` naming every field."""
    if not isinstance(data, dict):
        raise InvalidRequest([("body", "must be a JSON object")])
    errors = _Errors()
    _unknown(data, _REGISTRATION_FIELDS, errors)
    client_id = _client_id(data, errors)
    name = _string(data, "name", errors, limit=MAX_TEXT_LENGTH) or client_id
    description = _string(data, "description", errors, limit=MAX_TEXT_LENGTH)
    kind = _enum(data, "type", AppKind, None, errors)
    if "type" not in data:
        errors.items[-1:] = [("type", "required: confidential or public")]
    default_auth = ClientAuth.NONE if kind is AppKind.PUBLIC else ClientAuth.CLIENT_SECRET
    auth = _enum(data, "auth_method", ClientAuth, default_auth, errors)
    service_account = data.get("service_account", False)
    if not isinstance(service_account, bool):
        errors.add("service_account", "must be true or false")
        service_account = False
    registration = AppRegistration(
        client_id=client_id,
        name=name,
        description=description,
        kind=kind or AppKind.CONFIDENTIAL,
        auth=auth,
        redirect_uris=_redirect_uris(data, errors),
        scopes=_scopes(data, errors),
        roles=_names(data, "roles", ROLE_NAME, MAX_ROLES, errors),
        service_account=service_account,
        jwks_url=_string(data, "jwks_url", errors, limit=MAX_URI_LENGTH),
        jwks=_jwks(data["jwks"], errors) if "jwks" in data else None,
    )
    if kind is not None:
        _check_kind(registration, errors)
    errors.raise_if_any()
    return registration


def _check_kind(reg: AppRegistration, errors: _Errors) -> None:
    """Public and confidential apps each get the combination the standards allow."""
    if reg.kind is AppKind.PUBLIC:
        if reg.auth is not ClientAuth.NONE:
            errors.add("auth_method", "a public app has no credentials: use none (PKCE S256)")
        if reg.service_account:
            errors.add("service_account", "a public app cannot hold a service account")
        if not reg.redirect_uris:
            errors.add("redirect_uris", "a public app needs at least one redirect URI")
    else:
        if reg.auth is ClientAuth.NONE:
            errors.add("auth_method", "a confidential app uses client_secret or private_key_jwt")
        if not reg.redirect_uris and not reg.service_account:
            errors.add("redirect_uris", "give redirect URIs, or set service_account for M2M use")
    if reg.auth is ClientAuth.PRIVATE_KEY_JWT:
        if bool(reg.jwks_url) == (reg.jwks is not None):
            errors.add("jwks_url", "private_key_jwt needs exactly one of jwks_url or jwks")
        elif reg.jwks_url:
            problem = _url_problem(reg.jwks_url) if "#" not in reg.jwks_url else "no fragment"
            if problem:
                errors.add("jwks_url", problem)
    elif reg.jwks_url or reg.jwks is not None:
        field = "jwks_url" if reg.jwks_url else "jwks"
        errors.add(field, "only used with auth_method private_key_jwt")


def parse_update(data: object) -> AppUpdate:
    """Validate a PATCH body (name, description, enabled, redirect_uris)."""
    if not isinstance(data, dict) or not data:
        raise InvalidRequest([("body", "must be a JSON object with at least one field")])
    errors = _Errors()
    _unknown(data, _UPDATE_FIELDS, errors)
    enabled = data.get("enabled")
    if enabled is not None and not isinstance(enabled, bool):
        errors.add("enabled", "must be true or false")
    update = AppUpdate(
        name=_string(data, "name", errors, limit=MAX_TEXT_LENGTH) if "name" in data else None,
        description=(
            _string(data, "description", errors, limit=MAX_TEXT_LENGTH)
            if "description" in data
            else None
        ),
        enabled=enabled if isinstance(enabled, bool) else None,
        redirect_uris=_redirect_uris(data, errors) if "redirect_uris" in data else None,
    )
    errors.raise_if_any()
    return update
