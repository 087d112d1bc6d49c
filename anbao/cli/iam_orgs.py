"""``anbao iam orgs``: the org tree from the command line (operator, with admin credentials).

Bulk imports validate the whole file first and print the report (row, column, reason); with
``--dry-run`` they stop there. Progress is saved to ``--state`` (default: next to the input) so
an interrupted import resumes where it stopped.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from anbao.settings import Settings, SettingsError
from iam import imports, synthetic
from iam.errors import IamError
from iam.imports_apply import Importer, ImportState, file_digest
from iam.orgs_keycloak import KeycloakOrgDirectory
from iam.orgs_keycloak_admin import KeycloakAdminClient
from iam.orgs_model import PersonDraft
from iam.orgs_service import OrgService

OPERATOR = "anbao-cli"
REPORT_LIMIT = 200
T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])


def _directory(ctx: click.Context, workers: int = 8) -> KeycloakOrgDirectory:
    try:
        settings = Settings.load(os.environ)
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from exc
    kc = settings.keycloak
    password = kc.admin_password.reveal() or os.environ.get("KEYCLOAK_ADMIN_PASSWORD", "")
    admin = KeycloakAdminClient(
        kc.url,
        ctx.obj or kc.realm,
        username=kc.admin_username,
        password=password,
        timeout=60.0,
        pool_size=max(workers, 4),
    )
    ctx.call_on_close(admin.close)
    return KeycloakOrgDirectory(admin)


def _service(ctx: click.Context) -> OrgService:
    return OrgService(_directory(ctx), operator=True)


def _node_id(service: OrgService, code: str) -> str:
    node = service.directory.find_node(code)
    if node is None:
        raise click.ClickException(f"no org node with code {code}")
    return node.id


def _echo(value: object) -> None:
    click.echo(json.dumps(value, ensure_ascii=False, indent=2))


@click.group("orgs")
@click.option("--realm", default="", help="Realm (default: keycloak.realm).")
@click.pass_context
def orgs(ctx: click.Context, realm: str) -> None:
    """Org tree: nodes, people, bulk import, synthetic province."""
    ctx.obj = realm or None


@orgs.command("create")
@click.option("--parent", "parent_code", default="", help="Parent code (none: a province).")
@click.option("--kind", required=True)
@click.option("--code", required=True)
@click.option("--name", required=True)
@click.pass_context
def create_cmd(ctx: click.Context, parent_code: str, kind: str, code: str, name: str) -> None:
    """Create a node."""
    service = _service(ctx)
    parent_id = _node_id(service, parent_code) if parent_code else None
    _run(
        lambda: service.create_node(
            OPERATOR, parent_id=parent_id, kind=kind, code=code, name=name
        ).as_json()
    )


@orgs.command("rename")
@click.argument("code")
@click.argument("name")
@click.pass_context
def rename_cmd(ctx: click.Context, code: str, name: str) -> None:
    """Rename a node."""
    service = _service(ctx)
    _run(
        lambda: service.update_node(
            OPERATOR, _node_id(service, code), name=name, disabled=None
        ).as_json()
    )


@orgs.command("disable")
@click.argument("code")
@click.option("--enable", is_flag=True, help="Enable it again.")
@click.pass_context
def disable_cmd(ctx: click.Context, code: str, enable: bool) -> None:
    """Disable (or enable) a node: no new members or children."""
    service = _service(ctx)
    _run(
        lambda: service.update_node(
            OPERATOR, _node_id(service, code), name=None, disabled=not enable
        ).as_json()
    )


@orgs.command("move")
@click.argument("code")
@click.argument("new_parent_code")
@click.pass_context
def move_cmd(ctx: click.Context, code: str, new_parent_code: str) -> None:
    """Move a node under another parent (codes must still fit, GB/T 2260)."""
    service = _service(ctx)
    _run(
        lambda: service.move_node(
            OPERATOR, _node_id(service, code), _node_id(service, new_parent_code)
        ).as_json()
    )


@orgs.command("add-person")
@click.argument("username")
@click.option("--family-name", required=True)
@click.option("--given-name", required=True)
@click.option("--email", default="")
@click.option("--org", "org_codes", multiple=True, required=True, help="Org code (repeat).")
@click.pass_context
def add_person_cmd(  # noqa: PLR0917 - click passes options positionally
    ctx: click.Context,
    username: str,
    family_name: str,
    given_name: str,
    email: str,
    org_codes: tuple[str, ...],
) -> None:
    """Create a person in one or more nodes (the first is the primary)."""
    service = _service(ctx)
    ids = [_node_id(service, c) for c in org_codes]
    draft = PersonDraft(username, family_name, given_name, email)
    _run(lambda: service.create_person(OPERATOR, draft, ids).as_json())


def _run(fn: Callable[[], object]) -> None:
    try:
        _echo(fn())
    except IamError as exc:
        raise click.ClickException(f"{exc.code}: {exc.detail}") from exc


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
    """Import nodes (kind, code, name, parent_code) from CSV or XLSX."""
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
    """Import people (username, family_name, given_name, email, org_codes, attr.*)."""
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
    _echo(result.__dict__)


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
