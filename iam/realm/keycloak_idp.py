"""Keycloak adapter, continued: identity providers (brokering) and the declarative user profile.

Split from :mod:`iam.realm.keycloak` to keep modules short; mixed into its
:class:`~iam.realm.keycloak.KeycloakRealmAdmin`.
"""

from __future__ import annotations

from typing import Any

from keycloak import KeycloakAdmin


class BrokerAndProfileMixin:
    admin: KeycloakAdmin
    realm: str

    def _profile(self) -> dict[str, Any]:
        up = self.admin.get_realm_users_profile()
        attributes = {
            a["name"]: {
                "displayName": a.get("displayName", ""),
                "permissions": {k: sorted(v) for k, v in (a.get("permissions") or {}).items()},
                "multivalued": a.get("multivalued", False),
            }
            for a in up.get("attributes", [])
        }
        return {
            "attributes": attributes,
            "unmanagedAttributePolicy": up.get("unmanagedAttributePolicy", ""),
        }

    def _idps(self) -> dict[str, dict[str, Any]]:
        out = {}
        for idp in self.admin.get_idps():
            alias = idp["alias"]
            rep = {
                k: idp.get(k, "")
                for k in (
                    "providerId",
                    "displayName",
                    "firstBrokerLoginFlowAlias",
                    "postBrokerLoginFlowAlias",
                )
            }
            rep.update(
                {
                    k: idp.get(k, False)
                    for k in ("enabled", "trustEmail", "storeToken", "linkOnly", "hideOnLogin")
                }
            )
            rep["config"] = idp.get("config") or {}
            rep["mappers"] = mappers_of(self.admin.get_idp_mappers(alias), "identityProviderMapper")
            out[alias] = rep
        return out

    def _create_user_profile(self, *args: Any) -> None:
        self._update_user_profile(*args)

    def _update_user_profile(
        self, name: str, want: dict[str, Any], have: dict[str, Any], after: dict[str, Any]
    ) -> None:
        del name, have, after
        up = self.admin.get_realm_users_profile()
        existing = {a["name"]: a for a in up.get("attributes", [])}
        for attr_name, rep in want["attributes"].items():
            attribute = existing.get(attr_name)
            if attribute is None:
                attribute = {"name": attr_name}
                up.setdefault("attributes", []).append(attribute)
            attribute.update(rep)
        if "unmanagedAttributePolicy" in want:
            up["unmanagedAttributePolicy"] = want["unmanagedAttributePolicy"]
        self.admin.update_realm_users_profile(up)

    def _create_identity_provider(self, name: str, want: dict[str, Any], *_: Any) -> None:
        rep = {k: v for k, v in want.items() if k != "mappers"}
        self.admin.create_idp({"alias": name, **rep})
        for mapper in mapper_reps(want["mappers"], None):
            self.admin.add_mapper_to_idp(name, {**mapper, "identityProviderAlias": name})

    def _update_identity_provider(
        self, name: str, want: dict[str, Any], have: dict[str, Any], after: dict[str, Any]
    ) -> None:
        del want, have
        rep = self.admin.get_idp(name)
        for key, value in after.items():
            if key == "config":
                rep["config"] = {**(rep.get("config") or {}), **value}
            elif key != "mappers":
                rep[key] = value
        if set(after) - {"mappers"}:
            self.admin.update_idp(name, rep)
        if "mappers" in after:
            self._sync_idp_mappers(name, after["mappers"])

    def _sync_idp_mappers(self, alias: str, target: dict[str, Any]) -> None:
        live = {m["name"]: m for m in self.admin.get_idp_mappers(alias)}
        for rep in mapper_reps(target, None):
            rep["identityProviderAlias"] = alias
            current = live.get(rep["name"])
            if current is None:
                self.admin.add_mapper_to_idp(alias, rep)
            else:
                rep["id"] = current["id"]
                rep["config"] = {**current.get("config", {}), **rep["config"]}
                self.admin.update_mapper_in_idp(alias, current["id"], rep)
        path = f"admin/realms/{self.realm}/identity-provider/instances/{alias}/mappers/"
        for name, current in live.items():
            if name not in target:
                self.admin.connection.raw_delete(path + current["id"])

    def _delete_identity_provider(self, name: str, *_: Any) -> None:
        self.admin.delete_idp(name)


def mappers_of(reps: list[dict[str, Any]], type_key: str) -> dict[str, Any]:
    return {
        m["name"]: {type_key: m.get(type_key, ""), "config": dict(m.get("config") or {})}
        for m in reps
    }


def mapper_reps(mappers: dict[str, Any], protocol: str | None) -> list[dict[str, Any]]:
    out = []
    for name, rep in mappers.items():
        item = {"name": name, **rep, "config": dict(rep["config"])}
        if protocol is not None:
            item["protocol"] = protocol
        out.append(item)
    return out
