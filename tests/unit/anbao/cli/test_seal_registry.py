"""The operator commands ``anbao seal db|ca|keys`` on a real SQLite registry (``registry``
reads go through the API: tests/integration/anbao/cli/test_api.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from anbao.cli import main
from audit.sql.engine import create_engine
from crypto.keystore import KekError, KekRing, SoftwareKeyStore
from crypto.pki import Certificate, CertificateList
from crypto.seals.registry.sql import SqlWrappedKeys

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


def test_db_and_ca(env: dict[str, str], tmp_path: Path) -> None:
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
