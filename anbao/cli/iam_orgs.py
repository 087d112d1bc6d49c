"""``anbao iam orgs``: the org tree from the command line.

``create``, ``rename``, ``disable``, ``move`` and ``add-person`` are a person acting: they go
through Anbao's API with that person's token (``anbao login`` or ``--token``), under delegated
administration. ``import-nodes`` and ``import-people`` are OPERATOR commands: they write to
Keycloak with the admin credentials of the settings (a province's file is larger than an API
body; the API's ``POST /iam/imports/{kind}`` is the way for an org-admin's file).

Bulk imports validate the whole file first and print the report (row, column, reason); with
``--dry-run`` they stop there. Progress is saved to ``--state`` (default: next to the input) so
an interrupted import resumes where it stopped.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from anbao.cli.api import api_options, client, operator_settings, print_json
from anbao.cli.iam_people import node_id, person_body
from anbao.wiring.keycloak import admins
from iam.errors import IamError
from iam.orgs import synthetic
from iam.orgs.imports import files as imports
from iam.orgs.imports.apply import Importer, ImportState, file_digest
from iam.orgs.keycloak import KeycloakOrgDirectory

OPERATOR = "anbao-cli"
REPORT_LIMIT = 200
T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])


def _directory(ctx: click.Context, workers: int = 8) -> KeycloakOrgDirectory:
    settings = operator_settings(ctx.obj or "")
    admin = admins(settings).rest(pool_size=max(workers, 4), timeout=60.0)
    ctx.call_on_close(admin.close)
    return KeycloakOrgDirectory(admin)


def _echo(value: object) -> None:
    click.echo(json.dumps(value, ensure_ascii=False, indent=2))


@click.group("orgs")
@click.option("--realm", default="", help="Realm (default: keycloak.realm).")
@click.pass_context
def orgs(ctx: click.Context, realm: str) -> None:
    """Org tree: nodes, people (through the API), bulk import (operator), synthetic province."""
    ctx.obj = realm or None


@orgs.command("create")
@click.option("--parent", default="", help="Parent node id or code (none: a province).")
@click.option("--kind", required=True)
@click.option("--code", required=True)
@click.option("--name", required=True)
@api_options
def create_cmd(  # noqa: PLR0917 - click passes options positionally
    parent: str, kind: str, code: str, name: str, api_url: str | None, token: str | None
) -> None:
    """Create a node (under one you administer; a province: platform-admin)."""
    with client(api_url, token) as api:
        body = {"kind": kind, "code": code, "name": name}
        if parent:
            body["parent_id"] = node_id(api, parent)
        print_json(api.call("POST", "/iam/orgs", body=body))


@orgs.command("rename")
@click.argument("node")
@click.argument("name")
@api_options
def rename_cmd(node: str, name: str, api_url: str | None, token: str | None) -> None:
    """Rename a node (id or code)."""
    with client(api_url, token) as api:
        print_json(api.call("PATCH", f"/iam/orgs/{node_id(api, node)}", body={"name": name}))


@orgs.command("disable")
@click.argument("node")
@click.option("--enable", is_flag=True, help="Enable it again.")
@api_options
def disable_cmd(node: str, enable: bool, api_url: str | None, token: str | None) -> None:
    """Disable (or enable) a node: no new members or children."""
    with client(api_url, token) as api:
        body = {"disabled": not enable}
        print_json(api.call("PATCH", f"/iam/orgs/{node_id(api, node)}", body=body))


@orgs.command("move")
@click.argument("node")
@click.argument("new_parent")
@api_options
def move_cmd(node: str, new_parent: str, api_url: str | None, token: str | None) -> None:
    """Move a node under another parent (codes must still fit, GB/T 2260)."""
    with client(api_url, token) as api:
        body = {"parent_id": node_id(api, new_parent)}
        print_json(api.call("POST", f"/iam/orgs/{node_id(api, node)}/move", body=body))


@orgs.command("add-person")
@click.argument("username")
@click.option("--family-name", required=True)
@click.option("--given-name", required=True)
@click.option("--email", default="")
@click.option("--org", "orgs_", multiple=True, required=True, help="Node id or code (repeat).")
@api_options
def add_person_cmd(  # noqa: PLR0917 - click passes options positionally
    username: str,
    family_name: str,
    given_name: str,
    email: str,
    orgs_: tuple[str, ...],
    api_url: str | None,
    token: str | None,
) -> None:
    """Create a person in one or more nodes (the first is the primary), without credentials;
    `anbao iam people invite` creates and invites in one step."""
    with client(api_url, token) as api:
        body = person_body(api, username, family_name, given_name, email, orgs_)
        print_json(api.call("POST", "/iam/people", body=body))


@orgs.command("generate")
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--scale", type=click.FloatRange(0.0001, 1.0), default=1.0, show_default=True)
@click.option("--people", type=int, default=20_000, show_default=True, help="At scale 1.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True)
def generate_cmd(seed: int, scale: float, people: int, out: Path) -> None:
    """Write a synthetic province (nodes.csv, people.csv) of the real shape."""
    out.mkdir(parents=True, exist_ok=True)
    node_rows = synthetic.nodes(seed, scale)
    people_rows = synthetic.people(node_rows, seed, scale, people)
    imports.write_nodes_csv(out / "nodes.csv", node_rows)
    imports.write_people_csv(out / "people.csv", people_rows)
    _echo({"nodes": len(node_rows), "people": len(people_rows), "out": str(out)})


def _report(findings: list[imports.Finding]) -> None:
    for f in findings[:REPORT_LIMIT]:
        click.echo(f"row {f.row}, column {f.column}: {f.reason}", err=True)
    if len(findings) > REPORT_LIMIT:
        click.echo(f"… and {len(findings) - REPORT_LIMIT} more", err=True)


_IMPORT_OPTIONS = [
    click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path)),
    click.option("--dry-run", is_flag=True, help="Validate and report only."),
    click.option("--state", type=click.Path(dir_okay=False, path_type=Path), default=None),
    click.option("--workers", type=click.IntRange(1, 32), default=8, show_default=True),
]


def _import_options(fn: F) -> F:
    for option in reversed(_IMPORT_OPTIONS):
        fn = option(fn)
    return fn


@orgs.command("import-nodes")
@_import_options
@click.pass_context
def import_nodes_cmd(
    ctx: click.Context, file: Path, dry_run: bool, state: Path | None, workers: int
) -> None:
    """OPERATOR: import nodes (kind, code, name, parent_code) from CSV or XLSX.

    Uses the Keycloak admin credentials of the settings."""
    directory = _directory(ctx, workers)
    run_state = ImportState(state or file.with_suffix(".progress.json"), file_digest(file))
    rows, findings = imports.parse_nodes(
        file, lambda c: run_state.node(c) or directory.find_node(c)
    )
    _finish_validation(findings, len(rows), dry_run)
    with click.progressbar(length=len(rows), label="nodes", file=sys.stderr) as bar:
        importer = Importer(directory, run_state, workers=workers, progress=bar.update)
        result = _guard(lambda: importer.nodes(rows))
    _echo(result.__dict__)


@orgs.command("import-people")
@_import_options
@click.option(
    "--nodes-state",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="The node import's state file: its codes need no lookup.",
)
@click.pass_context
def import_people_cmd(  # noqa: PLR0917 - click passes options positionally
    ctx: click.Context,
    file: Path,
    dry_run: bool,
    state: Path | None,
    workers: int,
    nodes_state: Path | None,
) -> None:
    """OPERATOR: import people (username, family_name, given_name, email, org_codes, attr.*).

    Uses the Keycloak admin credentials of the settings. Rows with `invite` = yes get
    credentials after the import (an e-mail where the realm has SMTP, else a one-time
    activation link printed once under "invitations"); others: `anbao iam people resend`."""
    directory = _directory(ctx, workers)
    run_state = ImportState(state or file.with_suffix(".progress.json"), file_digest(file))
    known: dict[str, bool] = {}
    if nodes_state is not None:  # codes the node import already resolved: no lookups
        run_state.nodes.update(json.loads(nodes_state.read_text(encoding="utf-8"))["nodes"])

    def exists(code: str) -> bool:
        if code not in known:
            node = run_state.node(code) or directory.find_node(code)
            if node is not None:
                run_state.record_node(node)  # the importer resolves it from here
            known[code] = node is not None
        return known[code]

    rows, findings = imports.parse_people(file, exists, directory.reserved_username_prefixes())
    _finish_validation(findings, len(rows), dry_run)
    with click.progressbar(length=len(rows), label="people", file=sys.stderr) as bar:
        importer = Importer(directory, run_state, workers=workers, progress=bar.update)
        result = _guard(lambda: importer.people(rows))
    out: dict[str, object] = dict(result.__dict__)
    if any(r.invite for r in rows):
        out["invitations"] = _guard(lambda: _invite(directory, rows))
    _echo(out)


def _invite(directory: KeycloakOrgDirectory, rows: list[Any]) -> list[dict[str, object]]:
    """The operator's invitations of the rows marked ``invite`` (audited on the spool)."""
    from anbao.cli.api import cli_settings, default_api_url  # noqa: PLC0415
    from anbao.wiring.audit import spool_recorder  # noqa: PLC0415
    from anbao.wiring.people import RecorderInvitationAudit  # noqa: PLC0415
    from iam.invitations import AuditActor, InvitationService  # noqa: PLC0415
    from iam.invitations.keycloak import KeycloakAccounts  # noqa: PLC0415
    from iam.orgs.service import OrgService  # noqa: PLC0415

    settings = cli_settings()
    actor = AuditActor("", "operator:anbao iam orgs import-people")
    with spool_recorder(settings) as recorder:
        service = InvitationService(
            OrgService(directory, operator=True),
            KeycloakAccounts(directory.admin),
            RecorderInvitationAudit(lambda: recorder),
            clock=time.time,
        )
        invited = [row.username for row in rows if row.invite]
        return service.invite_imported(
            actor.subject, actor.name, invited, default_api_url(settings)
        )


def _finish_validation(findings: list[imports.Finding], rows: int, dry_run: bool) -> None:
    if findings:
        _report(findings)
        raise click.ClickException(f"{len(findings)} problem(s); nothing was imported")
    if dry_run:
        _echo({"valid_rows": rows, "dry_run": True})
        raise click.exceptions.Exit(0)


def _guard(fn: Callable[[], T]) -> T:
    try:
        return fn()
    except IamError as exc:
        raise click.ClickException(
            f"{exc.code}: {exc.detail} (progress saved; re-run to resume)"
        ) from exc
