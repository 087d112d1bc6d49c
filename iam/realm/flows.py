"""Authentication flows through the Keycloak admin API: read a flow as a tree, rebuild it.

Keycloak's API lists a flow's executions flat (with ``level`` and ``index``) and creates them
one by one, each appended at the end of its parent. Reading turns the flat list into the same
nested shape :mod:`iam.realm.render` produces; writing rebuilds the whole tree when anything
differs (steps, order, requirements or configs), which is simple and always converges. Keycloak
cannot swap a flow atomically: during a rebuild (well under a second) a login using the flow
can fail, so apply flow changes outside busy hours.
"""

from __future__ import annotations

from typing import Any

from keycloak import KeycloakAdmin


def read_flow(admin: KeycloakAdmin, alias: str) -> list[dict[str, Any]]:
    """The flow's steps, nested, in the shape of ``realm_render._step``."""
    flat = admin.get_authentication_flow_executions(alias)
    root: list[dict[str, Any]] = []
    stack: list[list[dict[str, Any]]] = [root]
    for execution in flat:
        level = int(execution.get("level", 0))
        del stack[level + 1 :]
        step = _step(admin, execution)
        stack[level].append(step)
        if "steps" in step:
            stack.append(step["steps"])
    return root


def _step(admin: KeycloakAdmin, execution: dict[str, Any]) -> dict[str, Any]:
    step: dict[str, Any] = {"requirement": execution.get("requirement", "DISABLED")}
    if execution.get("authenticationFlow"):
        step["subflow"] = execution.get("displayName", "")
        step["description"] = execution.get("description", "")
        step["steps"] = []
    else:
        step["authenticator"] = execution.get("providerId", "")
    config_id = execution.get("authenticationConfig")
    if config_id:
        config = admin.get_authenticator_config(config_id)
        step["config_alias"] = config.get("alias", "")
        step["config"] = dict(config.get("config") or {})
    return step


def create_flow(admin: KeycloakAdmin, alias: str, rep: dict[str, Any]) -> None:
    admin.create_authentication_flow(
        {
            "alias": alias,
            "description": rep.get("description", ""),
            "providerId": "basic-flow",
            "topLevel": True,
            "builtIn": False,
        }
    )
    add_steps(admin, alias, rep.get("steps", []))


def rebuild_flow(admin: KeycloakAdmin, alias: str, rep: dict[str, Any]) -> None:
    """Replace every step of the flow (sub-flows and their configs go with their execution)."""
    flow = next(f for f in admin.get_authentication_flows() if f["alias"] == alias)
    if flow.get("description", "") != rep.get("description", ""):
        admin.update_authentication_flow(
            flow["id"],
            {"alias": alias, "description": rep.get("description", ""), "providerId": "basic-flow"},
        )
    for execution in admin.get_authentication_flow_executions(alias):
        if int(execution.get("level", 0)) == 0:
            admin.delete_authentication_flow_execution(execution["id"])
    add_steps(admin, alias, rep.get("steps", []))


def add_steps(admin: KeycloakAdmin, parent: str, steps: list[dict[str, Any]]) -> None:
    for step in steps:
        if "subflow" in step:
            admin.create_authentication_flow_subflow(
                {
                    "alias": step["subflow"],
                    "type": "basic-flow",
                    "description": step.get("description", ""),
                    "provider": "registration-page-form",
                },
                parent,
            )
        else:
            admin.create_authentication_flow_execution({"provider": step["authenticator"]}, parent)
        execution = _last_child(admin, parent)
        if execution.get("requirement") != step["requirement"]:
            execution["requirement"] = step["requirement"]
            admin.update_authentication_flow_executions(execution, parent)
        if step.get("config_alias"):
            admin.create_execution_config(
                execution["id"], {"alias": step["config_alias"], "config": step.get("config", {})}
            )
        if "subflow" in step:
            add_steps(admin, step["subflow"], step.get("steps", []))


def _last_child(admin: KeycloakAdmin, parent: str) -> dict[str, Any]:
    children = [e for e in admin.get_authentication_flow_executions(parent) if e.get("level") == 0]
    return dict(children[-1])
