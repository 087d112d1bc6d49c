"""The demo data (``anbao dev seed``): valid by the platform's own rules, and documented as it is."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from click.testing import CliRunner

from anbao.cli import main
from anbao.demo import data, samples
from crypto.seals.format.ofd import open_document, page_ids
from crypto.seals.format.picture import check_picture, make_picture
from iam.orgs.delegation import PLATFORM_ROLES
from iam.orgs.model import NodeKind, OrgNode, check_placement
from tests.paths import ROOT

FONT = "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"


def test_the_tree_obeys_the_placement_rules_and_every_role_has_a_person() -> None:
    nodes: dict[str, OrgNode] = {}
    for spec in data.NODES:
        parent = nodes[spec.parent] if spec.parent else None
        check_placement(NodeKind(spec.kind), spec.code, parent)
        path = (parent.path if parent else "") + "/" + spec.code
        nodes[spec.key] = OrgNode(spec.key, NodeKind(spec.kind), spec.code, spec.name, path, None)
    assert {p.role for p in data.PEOPLE} == PLATFORM_ROLES
    assert next(p for p in data.PEOPLE if p.role == "org-admin").bound_to == "county"


def test_the_otp_code_is_rfc_6238() -> None:
    # RFC 6238 Appendix B, SHA-1, T = 59: 94287082 (8 digits) -> 287082 in 6 digits.
    assert data.otp_code(59, b"12345678901234567890") == "287082"


def test_the_first_run_page_says_what_the_seed_makes() -> None:
    page = (ROOT / "docs" / "first-run.md").read_text()
    for person in data.PEOPLE:
        assert f"| `{person.username}` | {person.role}" in page
    for node in data.NODES:
        assert node.code in page
    assert data.PASSWORD in page
    assert data.OTP_KEY in page


def test_the_samples_are_a_png_seal_and_ofd_pages() -> None:
    png = samples.seal_png("昆明市五华区数据局", "电子印章演示", FONT)
    info = check_picture(make_picture(png, 40, 40))
    assert info.type == "PNG"
    assert info.pixels == struct.unpack(">II", png[16:24])
    for title, lines in data.SAMPLE_DOCUMENTS.values():
        doc = open_document(samples.text_ofd(title, lines))
        assert len(page_ids(doc)) == 1


def test_production_refuses_the_seed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name, value in {
        "ANBAO_ENVIRONMENT": "production",
        "ANBAO_SERVER_BEHIND_TLS_PROXY": "true",
        "ANBAO_KEYCLOAK_URL": "https://keycloak.invalid",
        "ANBAO_KEYCLOAK_CLIENT_SECRET": "set",
        "ANBAO_KEYCLOAK_ADMIN_CLIENT_SECRET": "set",
        "ANBAO_CONSOLE_CLIENT_SECRET": "console-client",
        "ANBAO_CONSOLE_PUBLIC_URL": "https://anbao.example",
        "ANBAO_DATA_DIR": str(tmp_path),
    }.items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(main, ["dev", "seed"])
    assert result.exit_code == 2
    assert "development only" in result.output
    assert not (tmp_path / "demo").exists()


def test_the_seed_settings_name_the_report_cover_and_its_signing_certificate(
    tmp_path: Path,
) -> None:
    from anbao.demo.seed import SeedReport, _files, demo_files
    from anbao.settings import Settings
    from anbao.wiring.compliance import assessee, build_service

    settings = Settings.load({"ANBAO_DATA_DIR": str(tmp_path)})
    _files(settings, SeedReport())
    config = demo_files(settings).config
    seeded = Settings.load({"ANBAO_DATA_DIR": str(tmp_path), "ANBAO_CONFIG": str(config),
                            "ANBAO_COMPLIANCE_DATABASE_URL": "sqlite://"})  # fmt: skip
    cover = assessee(seeded)
    assert (cover.system_name, cover.organisation, cover.level) == (
        data.REPORT_COVER.system_name, data.REPORT_COVER.organisation, 3)  # fmt: skip
    assert cover.filing_number == data.REPORT_COVER.filing_number
    signer = build_service(seeded).signer
    assert signer is not None
    cert = signer.certificate()
    assert cert is not None
    assert "demo-compliance" in cert.subject
    assert "演示报告签署 CA" in cert.issuer
