"""Apps as Keycloak OIDC clients, through the admin REST API (python-keycloak).

Every client created here carries ``anbao.managed = true`` and its owner in client attributes;
clients without the mark are invisible to :class:`KeycloakAppDirectory`, so the onboarding API
cannot reach Keycloak's own clients or the platform's. Each app also gets an audience mapper
naming itself, so its API can verify access tokens with ``audience = client_id``, and that
audience only: ``fullScopeAllowed`` is off and the realm withholds Anbao's ``anbao-api`` scope
(deploy/keycloak/anbao-realm.yaml), so an app cannot collect tokens Anbao's API accepts.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from keycloak import KeycloakAdmin
from keycloak.exceptions import KeycloakError

from iam.admin.failures import Failure, failure
from iam.apps.model import App, AppKind, AppRegistration, AppUpdate, ClientAuth, RoleHolder
from iam.errors import Conflict, IdentityProviderUnavailable, InvalidRequest, NotFound
from iam.realm.render import APP_MARKER

MANAGED = APP_MARKER
OWNER = "anbao.owner"
CREATED_AT = "anbao.created_at"
SCOPES = "anbao.scopes"


@contextlib.contextmanager
def _translated() -> Iterator[None]:
    """Keycloak's exceptions become domain errors carrying no upstream text.

    A 4xx other than Keycloak refusing Anbao's own credentials (401, 403) can only come from
    what the caller sent, so it is the caller's error, never an outage.
    """
    try:
        yield
    except KeycloakError as exc:
        code = getattr(exc, "response_code", None)
        match failure(code if isinstance(code, int) else None):
            case Failure.CONFLICT:
                raise Conflict("Keycloak already has a client with that id.") from exc
            case Failure.NOT_FOUND:
                raise NotFound("Keycloak has no such client.") from exc
            case Failure.INVALID:
                raise InvalidRequest(
                    [("body", f"Keycloak cannot take the request (HTTP {code})")]
                ) from exc
        raise IdentityProviderUnavailable("The Keycloak admin API refused the call.") from exc
    except (OSError, ValueError) as exc:
        raise IdentityProviderUnavailable("The Keycloak admin API is unreachable.") from exc


def client_representation(reg: AppRegistration, *, owner: str, created_at: int) -> dict[str, Any]:
    """The Keycloak ``ClientRepresentation`` of a validated registration."""
    attributes = {
        MANAGED: "true",
        OWNER: owner,
        CREATED_AT: str(created_at),
        SCOPES: " ".join(reg.scopes),
        # RFC 7636 §4.2 / RFC 9700 §2.1.1: PKCE with S256, for every app with a browser flow.
        "pkce.code.challenge.method": "S256",
        "post.logout.redirect.uris": "+",
        "oauth2.device.authorization.grant.enabled": "false",
        "oidc.ciba.grant.enabled": "false",
    }
    authenticator = "client-secret"
    if reg.auth is ClientAuth.PRIVATE_KEY_JWT:
        authenticator = "client-jwt"
        if reg.jwks_url:
            attributes |= {"use.jwks.url": "true", "jwks.url": reg.jwks_url}
        else:
            attributes |= {"use.jwks.string": "true", "jwks.string": json.dumps(reg.jwks)}
    return {
        "clientId": reg.client_id,
        "name": reg.name,
        "description": reg.description,
        "enabled": True,
        "protocol": "openid-connect",
        "publicClient": reg.kind is AppKind.PUBLIC,
        "clientAuthenticatorType": authenticator,
        "standardFlowEnabled": bool(reg.redirect_uris),
        "implicitFlowEnabled": False,
        "directAccessGrantsEnabled": False,
        "serviceAccountsEnabled": reg.service_account,
        "redirectUris": list(reg.redirect_uris),
        "webOrigins": ["+"] if reg.redirect_uris else [],
        "frontchannelLogout": True,
        # The app's tokens carry only roles it was given (its own client roles), never every
        # realm role of the person signing in (a platform-admin's, say).
        "fullScopeAllowed": False,
        "attributes": attributes,
        "protocolMappers": [
            {
                "name": "own-audience",
                "protocol": "openid-connect",
                "protocolMapper": "oidc-audience-mapper",
                "config": {
                    "included.client.audience": reg.client_id,
                    "access.token.claim": "true",
                    "introspection.token.claim": "true",
                },
            }
        ],
    }


def app_from_representation(rep: dict[str, Any], roles: tuple[str, ...] = ()) -> App:
    attributes = rep.get("attributes") or {}
    public = bool(rep.get("publicClient"))
    if public:
        auth = ClientAuth.NONE
    elif rep.get("clientAuthenticatorType") == "client-jwt":
        auth = ClientAuth.PRIVATE_KEY_JWT
    else:
        auth = ClientAuth.CLIENT_SECRET
    created = str(attributes.get(CREATED_AT, "0"))
    return App(
        client_id=str(rep["clientId"]),
        name=str(rep.get("name") or rep["clientId"]),
        description=str(rep.get("description") or ""),
        kind=AppKind.PUBLIC if public else AppKind.CONFIDENTIAL,
        auth=auth,
        enabled=bool(rep.get("enabled", True)),
        redirect_uris=tuple(rep.get("redirectUris") or ()),
        service_account=bool(rep.get("serviceAccountsEnabled")),
        owner=str(attributes.get(OWNER, "")),
        created_at=int(created) if created.isdigit() else 0,
        scopes=tuple(str(attributes.get(SCOPES, "")).split()),
        roles=roles,
        jwks_url=str(attributes.get("jwks.url", "")) if auth is ClientAuth.PRIVATE_KEY_JWT else "",
    )


class KeycloakAppDirectory:
    """:class:`iam.apps.service.AppDirectory` on one realm; admin calls are serialised."""

    def __init__(self, admin_factory: Callable[[], KeycloakAdmin], realm: str) -> None:
        self._factory = admin_factory
        self._admin: KeycloakAdmin | None = None
        self._realm = realm
        self._lock = threading.RLock()

    @property
    def admin(self) -> KeycloakAdmin:
        with self._lock:
            if self._admin is None:
                with _translated():
                    self._admin = self._factory()
            return self._admin

    def _internal_id(self, client_id: str) -> str | None:
        with self._lock, _translated():
            found = self.admin.get_client_id(client_id)
        return str(found) if found else None

    def _managed(self, client_id: str) -> tuple[str, dict[str, Any]] | None:
        internal = self._internal_id(client_id)
        if internal is None:
            return None
        with self._lock, _translated():
            rep: dict[str, Any] = self.admin.get_client(internal)
        if (rep.get("attributes") or {}).get(MANAGED) != "true":
            return None
        return internal, rep

    def scope_names(self) -> frozenset[str]:
        with self._lock, _translated():
            return frozenset(str(s["name"]) for s in self.admin.get_client_scopes())

    def exists(self, client_id: str) -> bool:
        return self._internal_id(client_id) is not None

    def create(self, reg: AppRegistration, *, owner: str, created_at: int) -> str | None:
        rep = client_representation(reg, owner=owner, created_at=created_at)
        with self._lock:
            with _translated():
                internal = str(self.admin.create_client(rep))
            try:
                self._complete(internal, reg)
                secret = None
                if reg.auth is ClientAuth.CLIENT_SECRET:
                    with _translated():
                        secret = self.admin.get_client_secrets(internal).get("value")
            except BaseException:
                with contextlib.suppress(KeycloakError, OSError):
                    self.admin.delete_client(internal)  # no half-registered apps
                raise
        return str(secret) if secret else None

    def delete(self, client_id: str) -> None:
        found = self._managed(client_id)
        if found is not None:
            with self._lock, _translated():
                self.admin.delete_client(found[0])

    def _complete(self, internal: str, reg: AppRegistration) -> None:
        with _translated():
            for role in reg.roles:
                self.admin.create_client_role(internal, {"name": role}, skip_exists=True)
            if reg.scopes:
                ids = {s["name"]: s["id"] for s in self.admin.get_client_scopes()}
                for scope in reg.scopes:
                    payload = {
                        "realm": self._realm,
                        "client": internal,
                        "clientScopeId": ids[scope],
                    }
                    self.admin.add_client_default_client_scope(internal, ids[scope], payload)

    def get(self, client_id: str) -> App | None:
        found = self._managed(client_id)
        if found is None:
            return None
        internal, rep = found
        with self._lock, _translated():
            return app_from_representation(rep, self._role_names(internal))

    def list(self) -> list[App]:
        """Every managed app with its roles (one call per app: the list shows the roles)."""
        with self._lock, _translated():
            clients = self.admin.get_clients()
            return [
                app_from_representation(c, self._role_names(str(c["id"])))
                for c in clients
                if (c.get("attributes") or {}).get(MANAGED) == "true"
            ]

    def _role_names(self, internal: str) -> tuple[str, ...]:
        return tuple(sorted(str(r["name"]) for r in self.admin.get_client_roles(internal)))

    def _role(self, client_id: str, role: str) -> tuple[str, dict[str, Any]]:
        found = self._managed(client_id)
        if found is None:
            raise NotFound(f"No app with client_id {client_id!r}.")
        with self._lock, _translated():
            return found[0], self.admin.get_client_role(found[0], role)

    def role_holders(self, client_id: str, role: str) -> Sequence[RoleHolder]:
        internal, _ = self._role(client_id, role)
        with self._lock, _translated():
            users = self.admin.get_client_role_members(internal, role)
        return sorted(
            (RoleHolder(str(u["id"]), str(u["username"])) for u in users),
            key=lambda h: h.username,
        )

    def held_roles(self, client_id: str, user_id: str) -> frozenset[str]:
        found = self._managed(client_id)
        if found is None:
            raise NotFound(f"No app with client_id {client_id!r}.")
        with self._lock, _translated():
            roles = self.admin.get_client_roles_of_user(user_id, found[0])
        return frozenset(str(r["name"]) for r in roles)

    def grant_role(self, client_id: str, role: str, user_id: str) -> None:
        internal, rep = self._role(client_id, role)
        with self._lock, _translated():
            self.admin.assign_client_role(user_id, internal, [rep])

    def revoke_role(self, client_id: str, role: str, user_id: str) -> None:
        internal, rep = self._role(client_id, role)
        with self._lock, _translated():
            self.admin.delete_client_roles_of_user(user_id, internal, [rep])

    def update(self, client_id: str, update: AppUpdate) -> None:
        found = self._managed(client_id)
        if found is None:
            raise NotFound(f"No app with client_id {client_id!r}.")
        internal, rep = found
        if update.name is not None:
            rep["name"] = update.name
        if update.description is not None:
            rep["description"] = update.description
        if update.enabled is not None:
            rep["enabled"] = update.enabled
        if update.redirect_uris is not None:
            rep["redirectUris"] = list(update.redirect_uris)
            rep["standardFlowEnabled"] = bool(update.redirect_uris)
            rep["webOrigins"] = ["+"] if update.redirect_uris else []
        with self._lock, _translated():
            self.admin.update_client(internal, rep)

    def add_role(self, client_id: str, role: str) -> None:
        found = self._managed(client_id)
        if found is None:
            raise NotFound(f"No app with client_id {client_id!r}.")
        with self._lock, _translated():
            self.admin.create_client_role(found[0], {"name": role}, skip_exists=True)

    def rotate_secret(self, client_id: str) -> str:
        found = self._managed(client_id)
        if found is None:
            raise NotFound(f"No app with client_id {client_id!r}.")
        with self._lock, _translated():
            return str(self.admin.generate_client_secrets(found[0])["value"])
