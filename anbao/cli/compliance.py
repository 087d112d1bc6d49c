"""``anbao compliance``: run the MLPS 2.0 / GB/T 39786 catalogue, report, waive, sign, verify.

Every command but ``verify-report`` is a compliance officer (or an auditor, reading) using the
platform, so it calls Anbao's API as that person (:mod:`anbao.cli.api`: the ``anbao login``
session, or ``--token``/``ANBAO_TOKEN``). The server checks the role, the whole-tree binding,
the live session and four eyes on waivers (one officer requests, another approves or rejects,
compared by token subject), and records each act under the token's user; the CLI decides
nothing. ``verify-report`` checks a signed report offline and needs no one.

Exit codes: ``run`` exits 1 when a control fails without an active waiver; ``verify-report``
exits 1 when the signature does not match the report's bytes; otherwise 1 is a refusal by the
API, 2 bad usage, 3 the API unavailable.
"""

from __future__ import annotations

import base64
import datetime as dt
import sys
from pathlib import Path
from typing import Any

import click

from anbao.cli.api import ApiClient, api_options, client, print_json, segment
from policies.errors import ReportSignatureInvalid
from policies.model import Waiver, WaiverState
from policies.runs import codec

EXIT_FAILED = 1


@click.group()
def compliance() -> None:
    """MLPS 2.0 (GB/T 22239) and GB/T 39786 checks against the live platform (docs/compliance.md)."""


def _run_id(api: ApiClient, run_id: str) -> str:
    """``latest`` is the newest run the API lists; any other value is a run id."""
    if run_id != "latest":
        return segment(run_id)
    runs = api.call("GET", "/compliance/runs")["runs"]
    if not runs:
        raise click.ClickException("no runs yet: anbao compliance run")
    return segment(str(runs[0]["id"]))


def _print_run(run: dict[str, Any]) -> None:
    click.echo(f"run {run['id']} at {run['started_at']}: {run['counts']}")
    for result in run["results"]:
        mark = "waived" if result["waived"] else result["status"]
        click.echo(f"  {result['control_id']:18} {mark}")
        for check in result["checks"]:
            if check["status"] in ("fail", "not_applicable"):
                click.echo(f"      {check['check']}: {check['status']} {check['reason']}")


@compliance.command("run")
@click.option("--json", "as_json", is_flag=True, help="Print the run as JSON.")
@api_options
def run_cmd(as_json: bool, api_url: str | None, token: str | None) -> None:
    """Run every control now, recorded as requested by you; exit 1 if a control fails
    without an active waiver."""
    with client(api_url, token) as api:
        run = api.call("POST", "/compliance/runs")
    if as_json:
        print_json(run)
    else:
        _print_run(run)
    if run["counts"].get("fail"):
        sys.exit(EXIT_FAILED)


@compliance.command("report")
@click.argument("run_id", default="latest")
@click.option("--format", "fmt", type=click.Choice(["html", "pdf", "json"]), default="html")
@click.option("-o", "--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@api_options
def report_cmd(run_id: str, fmt: str, out: Path, api_url: str | None, token: str | None) -> None:
    """Write a run's report (the issued, signed PDF once the run is signed off)."""
    with client(api_url, token) as api:
        data = api.raw("GET", f"/compliance/runs/{_run_id(api, run_id)}/report.{fmt}").content
    out.write_bytes(data)
    click.echo(f"wrote {out} ({len(data)} bytes)", err=True)


@compliance.command("signoff")
@click.argument("run_id", default="latest")
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
@api_options
def signoff_cmd(
    *,
    run_id: str,
    comment: str,
    out: Path,
    sig: Path,
    pub: Path,
    seal_sig: Path | None,
    api_url: str | None,
    token: str | None,
) -> None:
    """Sign off a run as yourself: write the issued PDF, its detached SM2 signature and the
    public key (as the API serves them)."""
    with client(api_url, token) as api:
        run = _run_id(api, run_id)
        signed = api.call("POST", f"/compliance/runs/{run}/signoff", body={"comment": comment})
        issued = api.raw("GET", f"/compliance/runs/{run}/report.pdf").content
        signature = api.call("GET", f"/compliance/runs/{run}/signature")
    out.write_bytes(issued)
    sig.write_bytes(base64.b64decode(signature["signature"]))
    pub.write_text(signature["public_key_pem"])
    if seal_sig is not None and signature.get("seal_signature"):
        seal_sig.write_bytes(base64.b64decode(signature["seal_signature"]))
    click.echo(f"signed {signed['id']}: sha256 {signature['report_sha256']}", err=True)


@compliance.command("waive")
@click.argument("control_id", required=False)
@click.option("--justification", default="", help="Why the risk is accepted (with CONTROL_ID).")
@click.option("--expires", default="", help="Expiry, ISO 8601 with zone (2027-05-31T00:00Z).")
@click.option("--approve", "approve_id", default="", help="Approve another officer's request.")
@click.option("--reject", "reject_id", default="", help="Reject another officer's request.")
@click.option("--reason", default="", help="Why the request is rejected (with --reject).")
@click.option("--list", "list_", is_flag=True, help="List waivers.")
@click.option("--delete", "delete_id", default="", help="Withdraw the waiver with this id.")
@api_options
def waive_cmd(
    *,
    control_id: str | None, justification: str, expires: str, approve_id: str, reject_id: str,
    reason: str, list_: bool, delete_id: str, api_url: str | None, token: str | None,
) -> None:  # fmt: skip
    """Request a waiver of a failing control until a date; another officer approves or rejects
    it (--approve/--reject ID). Only approved, unexpired waivers count. Each act is recorded
    by the server under your token's user, so the requester cannot approve their own request."""
    acts = [a for a in (control_id and not list_, approve_id, reject_id, delete_id) if a]
    if len(acts) > 1:
        raise click.UsageError("one of CONTROL_ID, --approve, --reject or --delete at a time")
    if reject_id and not reason.strip():
        raise click.UsageError("--reject needs --reason")
    with client(api_url, token) as api:
        if not acts:
            for w in api.call("GET", "/compliance/waivers")["waivers"]:
                _print_waiver(codec.waiver_from_dict(w))
        elif delete_id:
            api.call("DELETE", f"/compliance/waivers/{segment(delete_id)}")
        elif approve_id:
            path = f"/compliance/waivers/{segment(approve_id)}/approve"
            _print_waiver(codec.waiver_from_dict(api.call("POST", path, body={})))
        elif reject_id:
            path = f"/compliance/waivers/{segment(reject_id)}/reject"
            _print_waiver(codec.waiver_from_dict(api.call("POST", path, body={"reason": reason})))
        else:
            body = {"control_id": control_id, "justification": justification,
                    "expires_at": expires}  # fmt: skip
            click.echo(api.call("POST", "/compliance/waivers", body=body)["id"])


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
@api_options
def history_cmd(limit: int, control_id: str, api_url: str | None, token: str | None) -> None:
    """Past runs with their counts and what changed since the run before."""
    with client(api_url, token) as api:
        listed = api.call("GET", "/compliance/runs")["runs"][: max(limit, 0)]
        runs = [api.call("GET", f"/compliance/runs/{segment(str(r['id']))}") for r in listed]
    for run in runs:
        changes = ", ".join(f"{c['control_id']} {c['before'] or '-'}->{c['after']}"
                            for c in run["changes"])  # fmt: skip
        click.echo(f"{run['id']} {run['started_at']} {run['counts']} {changes}")
    if control_id and runs:
        trend = [r["status"] for run in reversed(runs) for r in run["results"]
                 if r["control_id"] == control_id]  # fmt: skip
        click.echo(f"{control_id}: " + " ".join(trend))


@compliance.command("verify-report")
@click.argument("report", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--sig", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True)
@click.option("--pub", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True)
def verify_report_cmd(report: Path, sig: Path, pub: Path) -> None:
    """Check the detached SM2 signature over the report's exact bytes: exit 0 valid, 1 not."""
    from policies.reports.signing import verify_report  # noqa: PLC0415

    try:
        verify_report(report.read_bytes(), sig.read_bytes(), pub.read_bytes())
    except ReportSignatureInvalid as exc:
        click.echo(f"invalid: {exc.detail}", err=True)
        sys.exit(EXIT_FAILED)
    click.echo("report signature valid", err=True)
