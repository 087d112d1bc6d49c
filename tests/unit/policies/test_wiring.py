"""Settings of the compliance section, the schedule, and the SQL store's sign-off guard."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from anbao.settings import Settings, SettingsError
from anbao.wiring.compliance import build_service
from policies.catalogue.load import load_catalogue
from policies.errors import AlreadySigned, RunNotFound
from policies.ports import Inspectors, IssuedReport
from policies.runs.service import ComplianceService
from policies.runs.store import SqlRunStore
from policies.testing import Static, good_realm


def test_settings_section_defaults_and_validation() -> None:
    settings = Settings.load({})
    assert settings.compliance.enabled
    assert settings.compliance.schedule_hours == 0
    assert "********" in repr(
        Settings.load({"ANBAO_COMPLIANCE_SEAL_KEY_PASSWORD": "pw"}).compliance
    )
    with pytest.raises(SettingsError, match=r"compliance\.schedule_hours"):
        Settings.load({"ANBAO_COMPLIANCE_SCHEDULE_HOURS": "-1"})
    assert settings.compliance.system_name == "云南省一网通办安全保障平台"
    assert settings.compliance.mlps_level == 3
    with pytest.raises(SettingsError, match=r"compliance\.mlps_level"):
        Settings.load({"ANBAO_COMPLIANCE_MLPS_LEVEL": "6"})


def test_build_service_wires_every_source() -> None:
    settings = Settings.load({"ANBAO_COMPLIANCE_DATABASE_URL": "sqlite://"})
    service = build_service(settings, realm=Static(good_realm()))
    assert service.inspectors.realm is not None
    assert service.inspectors.siem is not None
    assert service.inspectors.crypto is None  # seals.enabled = false
    assert service.signer is None
    run = service.run()
    brute = run.result("L3-CES1-02")
    assert brute is not None
    assert brute.status.value == "pass"


def test_sql_store_refuses_a_second_signoff_and_unknown_runs() -> None:
    store = SqlRunStore(sa.create_engine("sqlite://"))
    service = ComplianceService(load_catalogue(), Inspectors(), store,
                                clock=lambda: datetime(2026, 11, 26, tzinfo=UTC),
                                new_id=lambda: "only")  # fmt: skip
    run = service.run()
    report = IssuedReport(run.id, "application/pdf", b"%PDF", b"sig")
    store.set_signoff(run, report)
    with pytest.raises(AlreadySigned):
        store.set_signoff(run, report)
    ghost = type(run)("ghost", run.started_at, run.finished_at, "api", "", ())
    with pytest.raises(RunNotFound):
        store.set_signoff(ghost, report)
    assert store.issued(run.id) == IssuedReport(run.id, "application/pdf", b"%PDF", b"sig", b"")
