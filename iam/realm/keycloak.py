"""Keycloak adapter of realm-as-code: read the live realm as a state, apply planned changes.

Everything goes through python-keycloak's :class:`KeycloakAdmin` (one realm at a time). Live
representations are projected onto the keys :mod:`iam.realm.render` writes so the planner can
compare like with like. Keycloak's own error text is not passed on: a refused change raises
:class:`RealmApplyFailed` naming the object and the HTTP status.
"""

from __future__ import annotations

import json
import logging
from http import HTTPStatus
from typing import Any

from keycloak import KeycloakAdmin
from keycloak.exceptions import KeycloakError, KeycloakGetError

from iam.realm import flows as realm_flows
from iam.realm.errors import RealmApplyFailed
from iam.realm.keycloak_idp import BrokerAndProfileMixin, mapper_reps, mappers_of
from iam.realm.plan import Change
from iam.realm.render import (
    APP_MARKER,
    KINDS,
    MANAGED_MARKER,
    State,
    canonical_policy,
    realm_settings,
)

log = logging.getLogger(__name__)
#: Client fields applied through their own endpoints, not the client representation.
_CLIENT_LINKS = frozenset({"defaultClientScopes", "serviceAccountRoles"})

BUILTIN_SCOPES = frozenset(
    {
        "acr", "address", "basic", "email", "microprofile-jwt", "offline_access", "organization",
        "phone", "profile", "role_list", "roles", "saml_organization", "service_account",
        "web-origins", "AuthnContextClassRef",
    }
)  # fmt: skip


class KeycloakRealmAdmin(BrokerAndProfileMixin):
    """Reads and converges one realm; ``admin`` is authenticated against ``master``."""

    def __init__(self, admin: KeycloakAdmin, realm: str) -> None:
        self.admin = admin
        self.realm = realm

    # -- reading ---------------------------------------------------------------------------

    def exists(self) -> bool:
        """Asks for the one realm (an operator scoped to it may not list all realms)."""
        try:
            self.admin.get_realm(self.realm)
        except KeycloakGetError as exc:
            if exc.response_code == HTTPStatus.NOT_FOUND:
                return False
            raise
        return True

    def create_realm(self) -> None:
        self._call(
            "create",
            "realm",
            self.realm,
            self.admin.create_realm,
            {"realm": self.realm, "enabled": True},
        )

    def read(self, desired: State) -> State:
        self.admin.change_current_realm(self.realm)
        state: State = {kind: {} for kind in KINDS}
        state["role"] = self._roles()
        state["client_scope"] = self._scopes()
        state["flow"] = self._flows(desired.get("flow", {}))
        state["client"] = self._clients()
        state["app"] = self._apps(state["client"])
        state["realm"] = {self.realm: self._realm()}
        if desired.get("user_profile"):
            state["user_profile"] = {"user-profile": self._profile()}
        state["identity_provider"] = self._idps()
        return state

    def _roles(self) -> dict[str, dict[str, Any]]:
        builtin = {"offline_access", "uma_authorization", f"default-roles-{self.realm}"}
        out = {}
        for role in self.admin.get_realm_roles(brief_representation=False):
            name = role["name"]
            composites = []
            if role.get("composite"):
                composites = sorted(
                    r["name"]
                    for r in self.admin.get_composite_realm_roles_of_role(name)
                    if not r.get("clientRole")
                )
            out[name] = {"description": role.get("description", ""), "composites": composites}
            if name in builtin:
                out[name]["_protected"] = True
        return out

    def _scopes(self) -> dict[str, dict[str, Any]]:
        defaults = {s["name"] for s in self.admin.get_default_default_client_scopes()}
        optional = {s["name"] for s in self.admin.get_default_optional_client_scopes()}
        out = {}
        for scope in self.admin.get_client_scopes():
            name = scope["name"]
            attributes = scope.get("attributes") or {}
            out[name] = {
                "description": scope.get("description", ""),
                "protocol": scope.get("protocol", ""),
                "include.in.token.scope": attributes.get("include.in.token.scope", "true"),
                "realm_default": "default"
                if name in defaults
                else "optional"
                if name in optional
                else "none",
                "mappers": mappers_of(scope.get("protocolMappers", []), "protocolMapper"),
                "_id": scope["id"],
            }
            if name in BUILTIN_SCOPES:
                out[name]["_protected"] = True
        return out

    def _flows(self, wanted: dict[str, Any]) -> dict[str, dict[str, Any]]:
        out = {}
        for flow in self.admin.get_authentication_flows():
            alias = flow["alias"]
            rep: dict[str, Any] = {"description": flow.get("description", ""), "_id": flow["id"]}
            if flow.get("builtIn"):
                rep["_protected"] = True
            if alias in wanted:
                rep["steps"] = realm_flows.read_flow(self.admin, alias)
            out[alias] = rep
        return out

    def _clients(self) -> dict[str, dict[str, Any]]:
        out = {}
        for client in self.admin.get_clients():
            attributes = client.get("attributes") or {}
            out[client["clientId"]] = {
                "name": client.get("name", ""),
                "enabled": client.get("enabled", True),
                "publicClient": client.get("publicClient", False),
                "clientAuthenticatorType": client.get("clientAuthenticatorType", ""),
                "standardFlowEnabled": client.get("standardFlowEnabled", False),
                "directAccessGrantsEnabled": client.get("directAccessGrantsEnabled", False),
                "serviceAccountsEnabled": client.get("serviceAccountsEnabled", False),
                "redirectUris": sorted(client.get("redirectUris", [])),
                "webOrigins": sorted(client.get("webOrigins", [])),
                "attributes": attributes,
                "defaultClientScopes": sorted(client.get("defaultClientScopes", [])),
                "fullScopeAllowed": client.get("fullScopeAllowed", True),
                "secret": client.get("secret", ""),
                "_optional": sorted(client.get("optionalClientScopes", [])),
                "_id": client["id"],
                "_protected": MANAGED_MARKER not in attributes,
            }
            if client.get("serviceAccountsEnabled"):
                out[client["clientId"]]["serviceAccountRoles"] = self._account_roles(client["id"])
        return out

    def _account_roles(self, client_id: str) -> dict[str, list[str]]:
        """The service account's direct client-role grants, by client."""
        user = self.admin.get_client_service_account_user(client_id)
        mappings = self.admin.get_all_roles_of_user(user["id"]).get("clientMappings") or {}
        return {
            name: sorted(role["name"] for role in grant.get("mappings", []))
            for name, grant in mappings.items()
        }

    def _apps(self, clients: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """Clients no realm file declares: their scopes, and for apps onboarded through Anbao
        (``anbao.managed``) whether they carry every role of the signed-in user."""
        out = {}
        for name, client in clients.items():
            if not client["_protected"]:
                continue
            rep: dict[str, Any] = {
                "clientScopes": sorted({*client["defaultClientScopes"], *client["_optional"]}),
                "_optional": client["_optional"],
                "_id": client["_id"],
                "_protected": True,
            }
            if client["attributes"].get(APP_MARKER) == "true":
                rep["fullScopeAllowed"] = client["fullScopeAllowed"]
            out[name] = rep
        return out

    def _realm(self) -> dict[str, Any]:
        rep = self.admin.get_realm(self.realm)
        out = dict(rep)
        out["passwordPolicy"] = canonical_policy(rep.get("passwordPolicy", ""))
        out["enabledEventTypes"] = sorted(rep.get("enabledEventTypes") or [])
        out["supportedLocales"] = sorted(rep.get("supportedLocales") or [])
        raw_map = (rep.get("attributes") or {}).get("acr.loa.map")
        out["acr.loa.map"] = json.loads(raw_map) if raw_map else {}
        return out

    # -- writing ---------------------------------------------------------------------------

    def apply(self, change: Change, desired: State, live: State) -> None:
        want = desired.get(change.kind, {}).get(change.name, {})
        have = live.get(change.kind, {}).get(change.name, {})
        after = {f.field: f.after for f in change.fields}
        handler = getattr(self, f"_{change.op}_{change.kind}")
        self._call(change.op, change.kind, change.name, handler, change.name, want, have, after)

    def _call(self, op: str, kind: str, name: str, fn: Any, *args: Any) -> None:
        try:
            fn(*args)
        except KeycloakError as exc:
            log.debug("keycloak refused %s %s %s: %s", op, kind, name, exc)
            raise RealmApplyFailed(
                f"Keycloak refused to {op} {kind} '{name}' (HTTP {exc.response_code})."
            ) from exc

    def _create_role(
        self, name: str, want: dict[str, Any], have: dict[str, Any], after: dict[str, Any]
    ) -> None:
        del have, after
        self.admin.create_realm_role({"name": name, "description": want["description"]})
        if want["composites"]:
            self._set_composites(name, want["composites"], [])

    def _update_role(
        self, name: str, want: dict[str, Any], have: dict[str, Any], after: dict[str, Any]
    ) -> None:
        if "description" in after:
            self.admin.update_realm_role(name, {"name": name, "description": after["description"]})
        if "composites" in after:
            self._set_composites(name, after["composites"], have.get("composites", []))
        del want

    def _set_composites(self, name: str, target: list[str], current: list[str]) -> None:
        add = [self.admin.get_realm_role(r) for r in target if r not in current]
        remove = [self.admin.get_realm_role(r) for r in current if r not in target]
        if add:
            self.admin.add_composite_realm_roles_to_role(name, add)
        if remove:
            self.admin.remove_composite_realm_roles_to_role(name, remove)

    def _delete_role(self, name: str, *_: Any) -> None:
        self.admin.delete_realm_role(name)

    def _create_client_scope(
        self, name: str, want: dict[str, Any], have: dict[str, Any], after: dict[str, Any]
    ) -> None:
        del have, after
        scope_id = self.admin.create_client_scope(
            {
                "name": name,
                "description": want["description"],
                "protocol": want["protocol"],
                "attributes": {"include.in.token.scope": want["include.in.token.scope"]},
                "protocolMappers": mapper_reps(want["mappers"], want["protocol"]),
            }
        )
        self._set_realm_default(scope_id, want["realm_default"], "none")

    def _update_client_scope(
        self, name: str, want: dict[str, Any], have: dict[str, Any], after: dict[str, Any]
    ) -> None:
        scope_id = have["_id"]
        if {"description", "protocol", "include.in.token.scope"} & after.keys():
            self.admin.update_client_scope(
                scope_id,
                {
                    "id": scope_id,
                    "name": name,
                    "description": want["description"],
                    "protocol": want["protocol"],
                    "attributes": {"include.in.token.scope": want["include.in.token.scope"]},
                },
            )
        if "mappers" in after:
            live = {m["name"]: m for m in self.admin.get_mappers_from_client_scope(scope_id)}
            self._sync_mappers(after["mappers"], live, want["protocol"], scope_id)
        if "realm_default" in after:
            self._set_realm_default(
                scope_id, after["realm_default"], have.get("realm_default", "none")
            )

    def _sync_mappers(
        self, target: dict[str, Any], live: dict[str, Any], protocol: str, scope_id: str
    ) -> None:
        for rep in mapper_reps(target, protocol):
            current = live.get(rep["name"])
            if current is None:
                self.admin.add_mapper_to_client_scope(scope_id, rep)
            elif current.get("protocolMapper") != rep["protocolMapper"] or any(
                current.get("config", {}).get(k) != v for k, v in rep["config"].items()
            ):
                rep["id"] = current["id"]
                rep["config"] = {**current.get("config", {}), **rep["config"]}
                self.admin.update_mapper_in_client_scope(scope_id, current["id"], rep)
        for name, current in live.items():
            if name not in target:
                self.admin.delete_mapper_from_client_scope(scope_id, current["id"])

    def _set_realm_default(self, scope_id: str, target: str, current: str) -> None:
        if current == "default":
            self.admin.delete_default_default_client_scope(scope_id)
        elif current == "optional":
            self.admin.delete_default_optional_client_scope(scope_id)
        if target == "default":
            self.admin.add_default_default_client_scope(scope_id)
        elif target == "optional":
            self.admin.add_default_optional_client_scope(scope_id)

    def _delete_client_scope(
        self, name: str, want: dict[str, Any], have: dict[str, Any], after: dict[str, Any]
    ) -> None:
        del name, want, after
        self._set_realm_default(have["_id"], "none", have.get("realm_default", "none"))
        self.admin.delete_client_scope(have["_id"])

    def _create_flow(self, name: str, want: dict[str, Any], *_: Any) -> None:
        realm_flows.create_flow(self.admin, name, want)

    def _update_flow(self, name: str, want: dict[str, Any], *_: Any) -> None:
        realm_flows.rebuild_flow(self.admin, name, want)

    def _delete_flow(
        self, name: str, want: dict[str, Any], have: dict[str, Any], after: dict[str, Any]
    ) -> None:
        del name, want, after
        self.admin.delete_authentication_flow(have["_id"])

    def _create_client(self, name: str, want: dict[str, Any], *_: Any) -> None:
        rep = {k: v for k, v in want.items() if k not in _CLIENT_LINKS}
        client_id = self.admin.create_client(
            {"clientId": name, "protocol": "openid-connect", **rep}
        )
        self._add_default_scopes(client_id, want["defaultClientScopes"], [])
        if "serviceAccountRoles" in want:
            self._grant_account_roles(client_id, want["serviceAccountRoles"], {})

    def _update_client(
        self, name: str, want: dict[str, Any], have: dict[str, Any], after: dict[str, Any]
    ) -> None:
        del want
        rep = {k: v for k, v in after.items() if k not in _CLIENT_LINKS}
        if rep:
            self.admin.update_client(have["_id"], {"clientId": name, **rep})
        if "defaultClientScopes" in after:
            self._add_default_scopes(
                have["_id"], after["defaultClientScopes"], have["defaultClientScopes"]
            )
        if "serviceAccountRoles" in after:
            self._grant_account_roles(
                have["_id"], after["serviceAccountRoles"], have.get("serviceAccountRoles") or {}
            )

    def _grant_account_roles(
        self, client_id: str, target: dict[str, list[str]], current: dict[str, list[str]]
    ) -> None:
        """Exactly ``target``'s roles on each client it names (least privilege: extras go)."""
        user_id = self.admin.get_client_service_account_user(client_id)["id"]
        for owner, roles in target.items():
            owner_id = self.admin.get_client_id(owner)
            if owner_id is None:
                raise RealmApplyFailed(f"No client '{owner}' holds the roles to grant.")
            had = set(current.get(owner, []))
            add = [self.admin.get_client_role(owner_id, r) for r in roles if r not in had]
            drop = [self.admin.get_client_role(owner_id, r) for r in had - set(roles)]
            if add:
                self.admin.assign_client_role(user_id, owner_id, add)
            if drop:
                self.admin.delete_client_roles_of_user(user_id, owner_id, drop)

    def _add_default_scopes(self, client_id: str, target: list[str], current: list[str]) -> None:
        ids = {s["name"]: s["id"] for s in self.admin.get_client_scopes()}
        for scope in target:
            if scope not in current:
                payload = {"realm": self.realm, "client": client_id, "clientScopeId": ids[scope]}
                self.admin.add_client_default_client_scope(client_id, ids[scope], payload)

    def _update_app(
        self, name: str, want: dict[str, Any], have: dict[str, Any], after: dict[str, Any]
    ) -> None:
        """Withhold scopes (default or optional) and, for onboarded apps, the user's roles."""
        del name, want
        client_id = have["_id"]
        if "fullScopeAllowed" in after:
            self.admin.update_client(client_id, {"fullScopeAllowed": after["fullScopeAllowed"]})
        ids = {s["name"]: s["id"] for s in self.admin.get_client_scopes()}
        kept = after.get("clientScopes", have["clientScopes"])
        for scope in set(have["clientScopes"]) - set(kept):
            if scope in have["_optional"]:
                self.admin.delete_client_optional_client_scope(client_id, ids[scope])
            else:
                self.admin.delete_client_default_client_scope(client_id, ids[scope])

    def _delete_client(
        self, name: str, want: dict[str, Any], have: dict[str, Any], after: dict[str, Any]
    ) -> None:
        del name, want, after
        self.admin.delete_client(have["_id"])

    def _create_realm(self, *_: Any) -> None:  # the realm is created before planning
        raise RealmApplyFailed("The realm must exist before its settings are applied.")

    def _update_realm(
        self, name: str, want: dict[str, Any], have: dict[str, Any], after: dict[str, Any]
    ) -> None:
        del want
        payload = {k: v for k, v in after.items() if k != "acr.loa.map"}
        if "acr.loa.map" in after:
            payload["attributes"] = {
                "acr.loa.map": json.dumps(after["acr.loa.map"], separators=(",", ":"))
            }
        if payload:
            self.admin.update_realm(name, payload)
        del have


__all__ = ["KeycloakRealmAdmin", "realm_settings"]
