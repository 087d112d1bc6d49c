"""``anbao siem lint|rules|convert|replay|test``: work with the Sigma rule pack offline.

* ``lint [PATHS]`` — pySigma's validators plus Anbao's checks (level, ATT&CK and MLPS tags,
  false-positive note), each finding as ``file:line``; exit 1 on any error (CI-friendly).
* ``rules`` — the loaded rules with level and MLPS tags (``--json`` for tools).
* ``convert`` — the Lucene query the scheduled engine sends to Elasticsearch for each base rule.
* ``replay FILE`` — run the streaming engine over audit documents (NDJSON, e.g. from
  ``anbao audit export --format ndjson``) and print each detection as one JSON line.
* ``test`` — replay the built-in attack scenarios and a benign baseline; every scenario must
  raise its detections exactly once and the baseline none (exit 1 otherwise).
* ``scheduled [--once]`` — the scheduled engine against the Elasticsearch audit store of the
  settings, every ``--interval`` seconds, detections into the configured alert service; the
  window end is checkpointed next to the alert database, so a restart resumes without gaps or
  double alerts. Clustered, it is a singleton job on the lease ``siem-scheduled``: run it on
  every node, one runs the engine.

The alerts commands attach to this group (``siem.add_command``).
"""

from __future__ import annotations

import collections
import datetime as dt
import json
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING

import click

from anbao.cli import siem_alerts, siem_analysts
from siem.engines.lint import lint as lint_rules
from siem.engines.loader import BUILTIN_RULES, RuleSet, load_rules
from siem.errors import SiemError
from siem.model import Detection

if TYPE_CHECKING:
    from audit.lease import Lease

_PATHS = click.argument(
    "paths", nargs=-1, type=click.Path(exists=True, path_type=Path), metavar="[PATHS]..."
)


def _paths(paths: tuple[Path, ...]) -> tuple[Path, ...]:
    return paths or (BUILTIN_RULES,)


def _load(paths: tuple[Path, ...]) -> RuleSet:
    try:
        return load_rules(_paths(paths))
    except SiemError as exc:
        raise click.ClickException(f"{exc.detail} (run 'anbao siem lint' for details)") from exc


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@click.group("siem")
def siem() -> None:
    """Detections over the audit trail: Sigma rules, engines and alerts."""


@siem.command("lint")
@_PATHS
@click.option(
    "--attack-data",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Local MITRE ATT&CK enterprise STIX JSON: also check that techniques exist.",
)
def lint(paths: tuple[Path, ...], attack_data: Path | None) -> None:
    """Validate rule files (default: the built-in pack); findings as file:line."""
    findings = lint_rules(_paths(paths), attack_data=attack_data)
    for finding in findings:
        click.echo(str(finding))
    errors = sum(1 for f in findings if f.error)
    if errors:
        click.echo(f"{errors} error(s), {len(findings) - errors} warning(s)", err=True)
        sys.exit(1)
    click.echo(f"ok: no errors ({len(findings)} warning(s))", err=True)


@siem.command("rules")
@_PATHS
@click.option("--json", "as_json", is_flag=True, help="One JSON object per rule.")
def rules(paths: tuple[Path, ...], as_json: bool) -> None:
    """List the rules that raise detections, with level, ATT&CK and MLPS tags."""
    for rule in _load(paths).rules:
        if not rule.generate:
            continue
        if as_json:
            click.echo(
                json.dumps(
                    {
                        "id": rule.id,
                        "name": rule.name,
                        "title": rule.title,
                        "level": rule.level.value,
                        "kind": rule.kind.value,
                        "attack": list(rule.attack),
                        "mlps": list(rule.mlps),
                        "falsepositives": list(rule.falsepositives),
                        "source": str(rule.source),
                    },
                    ensure_ascii=False,
                )
            )
        else:
            mlps = ",".join(t.removeprefix("mlps.").upper() for t in rule.mlps)
            click.echo(f"{rule.level.value:<9} {mlps:<12} {rule.name:<36} {rule.title}")


@siem.command("convert")
@_PATHS
def convert(paths: tuple[Path, ...]) -> None:
    """Print the Elasticsearch (Lucene) query of each base rule, as the scheduled engine runs it."""
    from sigma.correlations import SigmaCorrelationRule  # noqa: PLC0415 - only this command

    from siem.engines.scheduled import lucene_query  # noqa: PLC0415

    ruleset = _load(paths)
    for rule in ruleset.rules:
        sigma = ruleset.sigma[rule.id]
        if isinstance(sigma, SigmaCorrelationRule):
            click.echo(f"{rule.name}: [{rule.kind.value} over {', '.join(rule.group_by)}]")
            continue
        query, recheck = lucene_query(sigma)
        click.echo(f"{rule.name}: {query}{'  [+ re-check]' if recheck else ''}")


def _documents(stream: IO[str]) -> Iterator[dict[str, object]]:
    for number, line in enumerate(stream, 1):
        if not line.strip():
            continue
        try:
            doc = json.loads(line)
        except ValueError as exc:
            raise click.ClickException(f"line {number}: not JSON ({exc})") from exc
        if not isinstance(doc, dict):
            raise click.ClickException(f"line {number}: not a JSON object")
        yield doc


@siem.command("replay")
@click.argument("source", type=click.File("r", encoding="utf-8"))
@click.option(
    "--rules",
    "rule_paths",
    multiple=True,
    type=click.Path(exists=True, path_type=Path),
    help="Rule files or directories (default: the built-in pack).",
)
def replay(source: IO[str], rule_paths: tuple[Path, ...]) -> None:
    """Run the streaming engine over audit documents (NDJSON, '-' for stdin)."""
    from siem.engines.streaming import StreamingEngine  # noqa: PLC0415
    from siem.testing import ListSink  # noqa: PLC0415

    sink = ListSink()
    engine = StreamingEngine(_load(rule_paths), sink, clock=_now)
    for doc in _documents(source):
        engine.observe([doc])
    for detection in sink.detections:
        click.echo(json.dumps(detection.to_dict(), ensure_ascii=False))
    click.echo(f"{engine.events} event(s), {len(sink.detections)} detection(s)", err=True)


@siem.command("test")
@click.option("--baseline", default=10_000, show_default=True, help="Benign events to add.")
def test(baseline: int) -> None:
    """Replay the built-in attack scenarios and a benign baseline through the streaming engine."""
    from siem.engines.streaming import StreamingEngine  # noqa: PLC0415
    from siem.testing import ListSink, documents, timeline, working_day  # noqa: PLC0415

    ruleset = _load(())
    sink = ListSink()
    engine = StreamingEngine(ruleset, sink, clock=_now)
    scenarios, events = timeline(working_day(_now()), n=baseline)
    engine.observe(documents(events))
    failed = _report(ruleset, scenarios, sink.detections)
    click.echo(f"{len(scenarios)} scenario(s), {len(events)} event(s), {failed} failure(s)")
    if failed:
        sys.exit(1)


def _report(ruleset: RuleSet, scenarios: list, detections: list[Detection]) -> int:  # type: ignore[type-arg]
    names = {r.id: r.name for r in ruleset.rules}
    raised = collections.Counter(names[d.rule_id] for d in detections)
    expected = collections.Counter(name for s in scenarios for name in s.expected)
    failed = 0
    for scenario in scenarios:
        ok = all(raised[n] == expected[n] for n in scenario.expected)
        failed += not ok
        click.echo(f"{'ok  ' if ok else 'FAIL'} {scenario.name}: {', '.join(scenario.expected)}")
    for name, count in sorted((raised - expected).items()):
        failed += 1
        click.echo(f"FAIL unexpected: {name} x{count}")
    return failed


siem_alerts.attach(siem)  # anbao siem alerts … / anbao siem actions …
siem.add_command(siem_analysts.analysts)  # anbao siem analysts grant|revoke


@siem.command("scheduled")
@click.option("--once", is_flag=True, help="One run, then exit.")
@click.option("--interval", default=60.0, show_default=True, help="Seconds between runs.")
@click.option("--lookback", default=900.0, show_default=True, help="First run looks back, s.")
@click.option("--overlap", default=120.0, show_default=True, help="Re-read before the last end, s.")
@click.option("--lag", default=5.0, show_default=True, help="Leave the newest seconds for later.")
def scheduled(once: bool, interval: float, lookback: float, overlap: float, lag: float) -> None:
    """Operator command: the scheduled engine on the Elasticsearch audit store ([audit], [siem])."""
    import time  # noqa: PLC0415

    from anbao.settings import Settings, SettingsError  # noqa: PLC0415
    from anbao.wiring.audit import build_audit_store  # noqa: PLC0415
    from anbao.wiring.siem import ruleset, scheduled_checkpoints  # noqa: PLC0415
    from anbao.wiring.siem_alerts import build_siem_alerts  # noqa: PLC0415
    from anbao.wiring.singleton import job_lease  # noqa: PLC0415
    from audit.stores.elasticsearch import ElasticsearchAuditStore  # noqa: PLC0415
    from siem.engines.elasticsearch import ElasticsearchEventSource  # noqa: PLC0415
    from siem.engines.scheduled import ScheduledEngine  # noqa: PLC0415

    try:
        settings = Settings.load(os.environ)
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from exc
    store = build_audit_store(settings)
    if not isinstance(store, ElasticsearchAuditStore):
        raise click.ClickException("the scheduled engine needs audit.store = elasticsearch")
    built = build_siem_alerts(settings, recorder=None, registry=None, clock=_now)
    checkpoints = scheduled_checkpoints(settings)
    engine = ScheduledEngine(
        ruleset(settings),
        ElasticsearchEventSource(store.client, index=store.pattern),
        built.alerts,
        clock=_now,
        lookback=dt.timedelta(seconds=lookback),
        overlap=dt.timedelta(seconds=overlap),
        lag=dt.timedelta(seconds=lag),
        checkpoints=checkpoints,
        working_hours=settings.siem.working_hours_spec(),
    )

    def run_once() -> None:
        found = engine.run_once()
        click.echo(f"{_now().isoformat()} {len(found)} detection(s)", err=True)

    try:
        if settings.cluster.clustered:
            _singleton(
                run_once, job_lease(settings, "siem-scheduled"), once=once, interval=interval
            )
            return
        while True:
            run_once()
            if once:
                return
            time.sleep(interval)
    except SiemError as exc:
        raise click.ClickException(exc.detail) from exc
    finally:
        built.close()
        store.close()


def _singleton(run_once: Callable[[], None], lease: Lease, *, once: bool, interval: float) -> None:
    """Clustered, every node may run ``anbao siem scheduled``: the holder of the lease
    ``siem-scheduled`` runs the engine (a singleton job: its first run one interval after it takes
    the lease, a fencing check before each), the others wait as standbys (docs/composition-root.md)."""
    import threading  # noqa: PLC0415

    from anbao.wiring.singleton import SingletonJob  # noqa: PLC0415

    if once:
        try:
            if not (lease.try_acquire() and lease.confirm()):
                raise click.ClickException(
                    "another node holds the siem-scheduled lease: the scheduled engine runs there"
                )
            run_once()
        finally:
            lease.release()
        return
    job = SingletonJob("siem-scheduled", run_once, lease, interval)
    job.start()
    try:
        threading.Event().wait()
    finally:
        job.stop()
