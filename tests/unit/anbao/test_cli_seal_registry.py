"""``anbao seal db|ca|keys|registry`` on a real SQLite registry."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from anbao.cli import main
from crypto.keystore import KekError, KekRing, SoftwareKeyStore
from crypto.pki import Certificate, CertificateList
from crypto.pki.testing import TEST_USCC
from crypto.seal.testing import tiny_png
from crypto.seal_registry.build import RegistryConfig, build_registry
from crypto.seal_registry.model import ORG_ADMIN, Actor, Application, OrgUnit
from crypto.seal_registry.sql import SqlWrappedKeys, create_engine
from crypto.seal_registry.testing import MemoryOrgTree, RecordingAuditTrail
from iam.scope import OrgScope

NOW = datetime(2026, 11, 26, tzinfo=UTC)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        "ANBAO_SEALS_DATABASE_URL": f"sqlite:///{tmp_path / 'r.sqlite3'}",
        "ANBAO_SEALS_KEK": KekRing.generate_entry("k1"),
    }


def run(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["seal", *args], env=env, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_db_ca_and_registry(env: dict[str, str], tmp_path: Path) -> None:
    code, _, err = run(env, "db", "current")
    assert code == 2  # no database: refused, not created
    assert f"no store at {tmp_path / 'r.sqlite3'}" in err
    code, _, err = run(env, "ca", "init")
    assert code == 2
    assert "anbao seal db upgrade" in err
    assert run(env, "db", "upgrade")[0] == 0
    assert run(env, "db", "current")[0] == 0
    code, out, _ = run(env, "ca", "init")
    assert code == 0
    root = Certificate.load(out.encode())
    assert run(env, "ca", "init")[1] == out  # idempotent
    bundle = tmp_path / "ca.pem"
    assert run(env, "ca", "certs", "-o", str(bundle))[0] == 0
    assert bundle.read_text().count("BEGIN CERTIFICATE") == 2
    crl = CertificateList.load(run(env, "ca", "crl")[1].encode())
    assert crl.issuer != root.subject

    config = RegistryConfig(
        database_url=env["ANBAO_SEALS_DATABASE_URL"], kek=env["ANBAO_SEALS_KEK"]
    )
    unit = OrgUnit("n-x", TEST_USCC, "department", "某局", f"/35/{TEST_USCC}")
    registry = build_registry(
        config, RecordingAuditTrail(), lambda: datetime.now(UTC), MemoryOrgTree(unit)
    )
    record = registry.service.apply(
        Actor("oa", "oa", frozenset({ORG_ADMIN}), "/35", scope=OrgScope.everything()),
        Application("", "某局", TEST_USCC, "某局公章", ("h",), "", tiny_png(), 40, 40, 365, "n-x"),
    )
    registry.close()
    code, out, _ = run(env, "registry", "list", "--state", "applied")
    assert code == 0
    assert json.loads(out)["id"] == record.id
    assert run(env, "registry", "list", "--org", "/36")[1] == ""
    assert json.loads(run(env, "registry", "show", record.id)[1])["state"] == "applied"
    assert run(env, "registry", "show", "nope")[0] == 1


def test_kek_rotation(env: dict[str, str]) -> None:
    assert run(env, "db", "upgrade")[0] == 0
    assert run(env, "ca", "init")[0] == 0
    code, new, _ = run(env, "keys", "new-kek", "k2")
    assert code == 0
    assert new.startswith("k2:")
    rotated = {**env, "ANBAO_SEALS_KEK": f"{new.strip()},{env['ANBAO_SEALS_KEK']}"}
    code, out, _ = run(rotated, "keys", "rotate")
    assert json.loads(out) == {"rewrapped": 4, "keys_per_kek": {"k2": 4}}
    repo = SqlWrappedKeys(create_engine(env["ANBAO_SEALS_DATABASE_URL"]))
    key_ids = [k.key_id for k in repo.all()]
    for key_id in key_ids:  # every key unwraps under k2 alone
        SoftwareKeyStore(repo, KekRing.parse(new.strip()), clock=lambda: NOW).signer(key_id)
    old_only = SoftwareKeyStore(repo, KekRing.parse(env["ANBAO_SEALS_KEK"]), clock=lambda: NOW)
    with pytest.raises(KekError, match="k2") as info:
        old_only.signer(key_ids[0])
    assert env["ANBAO_SEALS_KEK"].split(":")[1] not in str(info.value)
