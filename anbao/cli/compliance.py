"""``anbao compliance``: run the MLPS 2.0 / GB/T 39786 catalogue, report, waive, sign, verify.

Waivers take four eyes: one officer requests, another approves or rejects, each the user of
their own verified token (``--token``/``ANBAO_TOKEN``), never a typed name.

Exit codes: ``run`` exits 1 when a control fails without an active waiver; ``verify-report``
exits 1 when the signature does not match the report's bytes; 2 is bad input everywhere.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from anbao.cli.identity import authenticate, token_option
from anbao.cli.stores import require, require_audit
from anbao.settings import Settings, SettingsError
from audit.recorder import Recorder
from policies import codec
from policies.errors import PolicyError, ReportSignatureInvalid
from policies.model import Officer, Run, Waiver, WaiverState
from policies.service import ComplianceService

EXIT_FAILED = 1
#: Who runs, waives and signs off (the API's ``OFFICER``; the CLI checks the same token).
OFFICER = ("compliance-officer",)


def _settings(*, first_run: bool = False) -> Settings:
    """The settings; the runs' database must exist, except for a run, which may be the first
    (a run needs the platform's audit trail instead: it is the evidence assessed)."""
    try:
        settings = Settings.load(os.environ)
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from exc
    if first_run:
        require_audit(settings)
    else:
        require("compliance.database_url", settings.compliance.database_url)
    return settings


def _service(settings: Settings, recorder: Recorder | None = None) -> ComplianceService:
    from anbao import compliance_wiring  # noqa: PLC0415 - heavy imports only when used
    from anbao.app import build_audit_store  # noqa: PLC0415
    from audit.integrity_setup import IntegrityConfig, build_integrity  # noqa: PLC0415

    ai = settings.audit_integrity
    integrity = store = None
    if Path(ai.signing_key_file).is_file():
        integrity = build_integrity(
            IntegrityConfig(ai.log_path, ai.signing_key_file, ai.signing_key_password.reveal()),
            dt.datetime.now(dt.UTC).timestamp,
        )
        store = build_audit_store(settings)
    return compliance_wiring.build_service(
        settings, integrity=integrity, audit_store=store, recorder=recorder
    )


@contextlib.contextmanager
def _recorder(settings: Settings) -> Iterator[Recorder]:
    """The audit recorder on the service's spool, as ``anbao siem`` records its acts."""
    from anbao.audit_wiring import spool_config  # noqa: PLC0415
    from audit.spool import Spool  # noqa: PLC0415

    spool = Spool(spool_config(settings))
    recorder = Recorder(spool)
    try:
        yield recorder
    finally:
        recorder.close()
        spool.close()


def _run(service: ComplianceService, run_id: str) -> Run:
    if run_id == "latest":
        runs = service.runs(1)
        if not runs:
            raise click.ClickException("no runs yet: anbao compliance run")
        return runs[0]
    return service.get(run_id)


class _Group(click.Group):
    """Domain errors become one line and exit status 2, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except PolicyError as exc:
            click.echo(f"error: {exc.detail} [{exc.code}]", err=True)
            sys.exit(2)


@click.group(cls=_Group)
def compliance() -> None:
    """MLPS 2.0 (GB/T 22239) and GB/T 39786 checks against the live platform (docs/compliance.md)."""


def _print_run(service: ComplianceService, run: Run) -> None:
    click.echo(f"run {run.id} at {run.started_at.isoformat()}: {run.counts()}")
    for result in run.results:
        mark = "waived" if result.waived else result.status.value
        click.echo(f"  {result.control_id:18} {mark}")
        for check in result.checks:
            if check.status.value in ("fail", "not_applicable"):
                click.echo(f"      {check.check}: {check.status.value} {check.reason}")


def _acting_officer(settings: Settings, token: str | None) -> Officer:
    """The compliance officer behind ``token`` (verified as the API does; see ``identity``),
    with the token's subject: four eyes compares persons, not names."""
    operator = authenticate(settings, token, OFFICER, whole_tree=True)
    return Officer(operator.name, operator.subject)


@compliance.command("run")
@click.option("--json", "as_json", is_flag=True, help="Print the run as JSON.")
@click.option("--token", envvar="ANBAO_TOKEN", default=None,
              help="Your access token: the run is recorded as requested by you (else by nobody).")  # fmt: skip
def run_cmd(as_json: bool, token: str | None) -> None:
    """Run every control now; exit 1 if a control fails without an active waiver."""
    settings = _settings(first_run=True)
    requested_by = _acting_officer(settings, token).name if token else ""
    service = _service(settings)
    run = service.run(trigger="manual", requested_by=requested_by)
    if as_json:
        click.echo(json.dumps(codec.run_dict(run), ensure_ascii=False, indent=2))
    else:
        _print_run(service, run)
    if run.counts()["fail"]:
        sys.exit(EXIT_FAILED)


@compliance.command("report")
@click.argument("run_id", default="latest")
@click.option("--format", "fmt", type=click.Choice(["html", "pdf", "json"]), default="html")
@click.option("-o", "--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
def report_cmd(run_id: str, fmt: str, out: Path) -> None:
    """Write a run's report (the issued, signed PDF once the run is signed off)."""
    from anbao.compliance_wiring import pdf_renderer  # noqa: PLC0415
    from policies.resources import Reports  # noqa: PLC0415

    settings = _settings()
    service = _service(settings)
    data, _ = Reports(service, pdf_renderer(settings)).render(_run(service, run_id), fmt)
    out.write_bytes(data)
    click.echo(f"wrote {out} ({len(data)} bytes)", err=True)


@compliance.command("signoff")
@click.argument("run_id", default="latest")
@token_option
@click.option("--comment", default="", help="Review comment printed in the report.")
@click.option("-o", "--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--sig", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--pub", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option(
    "--seal-sig",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the detached SES_Signature (when a report seal is configured).",
)
def signoff_cmd(
    *,
    run_id: str,
    token: str | None,
    comment: str,
    out: Path,
    sig: Path,
    pub: Path,
    seal_sig: Path | None,
) -> None:
    """Sign off a run: write the issued PDF, its detached SM2 signature and the public key."""
    from anbao.compliance_wiring import pdf_renderer  # noqa: PLC0415
    from policies.resources import Reports  # noqa: PLC0415

    settings = _settings()
    officer = _acting_officer(
        settings, token
    ).name  # the signer is the token's user, never a typed name
    service = _service(settings)
    reports = Reports(service, pdf_renderer(settings))
    run = service.sign_off(_run(service, run_id).id, officer=officer, comment=comment,
                           render=reports.pdf)  # fmt: skip
    issued = service.issued(run.id)
    if issued is None or run.signoff is None:  # just stored: cannot happen
        raise click.ClickException("the signed report was not stored")
    out.write_bytes(issued.content)
    sig.write_bytes(issued.signature)
    pub.write_text(run.signoff.public_key_pem)
    if seal_sig is not None and issued.seal_signature:
        seal_sig.write_bytes(issued.seal_signature)
    click.echo(f"signed {run.id}: sha256 {run.signoff.report_sha256}", err=True)


@compliance.command("waive")
@click.argument("control_id", required=False)
@click.option("--justification", default="", help="Why the risk is accepted (with CONTROL_ID).")
@click.option("--expires", default="", help="Expiry, ISO 8601 with zone (2027-05-31T00:00Z).")
@click.option("--approve", "approve_id", default="", help="Approve another officer's request.")
@click.option("--reject", "reject_id", default="", help="Reject another officer's request.")
@click.option("--reason", default="", help="Why the request is rejected (with --reject).")
@click.option("--list", "list_", is_flag=True, help="List waivers.")
@click.option("--delete", "delete_id", default="", help="Withdraw the waiver with this id.")
@token_option
def waive_cmd(
    *,
    control_id: str | None, justification: str, expires: str, approve_id: str, reject_id: str,
    reason: str, list_: bool, delete_id: str, token: str | None,
) -> None:  # fmt: skip
    """Request a waiver of a failing control until a date; another officer approves or rejects
    it (--approve/--reject ID). Only approved, unexpired waivers count. Each act is recorded
    under the user of --token, so the requester cannot approve their own request."""
    acts = [a for a in (control_id and not list_, approve_id, reject_id, delete_id) if a]
    if len(acts) > 1:
        raise click.UsageError("one of CONTROL_ID, --approve, --reject or --delete at a time")
    settings = _settings()
    if not acts:
        for w in _service(settings).waivers():
            _print_waiver(w)
        return
    officer = _acting_officer(settings, token)
    with _recorder(settings) as recorder:
        service = _service(settings, recorder)
        if delete_id:
            service.delete_waiver(delete_id, officer=officer)
        elif approve_id:
            _print_waiver(service.approve_waiver(approve_id, officer=officer))
        elif reject_id:
            _print_waiver(service.reject_waiver(reject_id, officer=officer, reason=reason))
        else:
            waiver = service.request_waiver(control_id or "", justification=justification,
                                            expires_at=_expiry(expires), officer=officer)  # fmt: skip
            click.echo(waiver.id)


def _expiry(expires: str) -> dt.datetime:
    try:
        return dt.datetime.fromisoformat(expires)
    except ValueError:
        raise click.BadParameter("expected ISO 8601 with a zone", param_hint="--expires") from None


def _print_waiver(w: Waiver) -> None:
    state = w.state.value
    if w.state is WaiverState.APPROVED and not w.active(dt.datetime.now(dt.UTC)):
        state = "expired"
    decided = f" decided_by={w.decided_by}" if w.decided_by else ""
    click.echo(f"{w.id} {w.control_id} {state} until {w.expires_at.isoformat()} "
               f"requested_by={w.requested_by}{decided}: {w.justification}")  # fmt: skip


@compliance.command("history")
@click.option("--limit", default=10, show_default=True)
@click.option("--control", "control_id", default="", help="Trend of one control.")
def history_cmd(limit: int, control_id: str) -> None:
    """Past runs with their counts and what changed since the run before."""
    service = _service(_settings())
    runs = service.runs(limit)
    for run in runs:
        changes = ", ".join(f"{c.control_id} {c.before.value if c.before else '-'}->{c.after.value}"
                            for c in service.diff(run))  # fmt: skip
        click.echo(f"{run.id} {run.started_at.isoformat()} {run.counts()} {changes}")
    if control_id and runs:
        trend = service.trend(runs[0], limit).get(control_id, [])
        click.echo(f"{control_id}: " + " ".join(p.status.value for p in trend))


@compliance.command("verify-report")
@click.argument("report", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--sig", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True)
@click.option("--pub", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True)
def verify_report_cmd(report: Path, sig: Path, pub: Path) -> None:
    """Check the detached SM2 signature over the report's exact bytes: exit 0 valid, 1 not."""
    from policies.signing import verify_report  # noqa: PLC0415

    try:
        verify_report(report.read_bytes(), sig.read_bytes(), pub.read_bytes())
    except ReportSignatureInvalid as exc:
        click.echo(f"invalid: {exc.detail}", err=True)
        sys.exit(EXIT_FAILED)
    click.echo("report signature valid", err=True)
