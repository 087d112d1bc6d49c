"""``anbao siem analysts grant|revoke``: an analyst's scope, through Anbao's API (issue 17 §6).

A person acting on the platform, so the command calls ``PUT|DELETE /siem/analysts/{id}`` as the
signed-in person (:mod:`anbao.cli.api`); the server applies the org tree's delegation rules,
asks for a live session (high-risk) and records the attempt. ``--province-wide`` binds the
analyst to the root of the tree: every event, those without an org included.
"""

from __future__ import annotations

import click

from anbao.cli.api import api_options, client, print_json


@click.group("analysts")
def analysts() -> None:
    """Who reads audit events and alerts, and over which part of the org tree."""


@analysts.command("grant")
@click.argument("person_id")
@click.option("--node", "node_id", default=None, help="Bind to this org node's subtree.")
@click.option("--province-wide", is_flag=True, help="Bind to the root: every event.")
@api_options
def grant(
    person_id: str, node_id: str | None, province_wide: bool, api_url: str | None, token: str | None
) -> None:
    """Grant security-analyst to PERSON_ID, bound to --node or --province-wide."""
    if (node_id is None) == (not province_wide):
        raise click.UsageError("give exactly one of --node NODE_ID and --province-wide")
    body: dict[str, object] = {"province_wide": True} if province_wide else {"node_id": node_id}
    with client(api_url, token) as api:
        print_json(api.call("PUT", f"/siem/analysts/{person_id}", body=body))


@analysts.command("revoke")
@click.argument("person_id")
@api_options
def revoke(person_id: str, api_url: str | None, token: str | None) -> None:
    """Revoke security-analyst from PERSON_ID (the binding goes unless another role uses it)."""
    with client(api_url, token) as api:
        print_json(api.call("DELETE", f"/siem/analysts/{person_id}"))
