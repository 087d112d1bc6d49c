"""The shipper child (``audit.ship_in_subprocess``) builds the audit runtime and its delivery
observers only: no web app, no Keycloak clients, no compliance schedule."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.paths import ROOT

_BUILD = textwrap.dedent(
    """
    import json, sys, threading, time
    from anbao.settings import Settings
    from anbao.wiring.audit import build_audit_store
    from anbao.wiring.delivery import shipping_runtime

    settings = Settings.load({
        "ANBAO_DATA_DIR": sys.argv[1],
        "ANBAO_COMPLIANCE_SCHEDULE_HOURS": "1",
        "ANBAO_SIEM_RESPONSES_ENABLED": "false",
    })
    store = build_audit_store(settings)
    runtime, close = shipping_runtime(settings, store, time.time)
    if True:
        shipper = runtime.shipper
        built = {
            "integrity_leaves": shipper.on_stored is not None,
            "streaming": [type(o).__name__ for o in shipper._observers],
            "modules": sorted(
                m for m in sys.modules
                if m in {"anbao.app", "anbao.wiring.compliance"}
                or m.startswith("anbao.cli")
            ),
            "threads": sorted(t.name for t in threading.enumerate()),
        }
    close()
    print(json.dumps(built))
    """
)


def test_the_child_builds_the_audit_runtime_with_its_observers_and_nothing_else(
    tmp_path: Path,
) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _BUILD, str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    built = json.loads(done.stdout)
    assert built["integrity_leaves"]  # a Merkle leaf for each stored event
    assert built["streaming"] == ["StreamingEngine"]  # detections see each delivery
    assert built["modules"] == []  # not the app, the compliance feature, the CLI
    assert built["threads"] == ["MainThread", "audit-spool"]  # no schedule, no head ticker
