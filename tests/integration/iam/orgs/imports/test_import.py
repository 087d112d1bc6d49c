"""Bulk import through the CLI against the real Keycloak: dry run, report, apply, resume."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from openpyxl import Workbook

from anbao.cli import main
from iam.orgs import synthetic
from iam.orgs.codes import uscc_check_char
from iam.orgs.imports import files as imports
from tests.integration.anbao.serving import serve
from tests.integration.anbao.stack import stack_env
from tests.integration.conftest import Server
from tests.integration.iam.orgs_realm import Realm, create_realm, delete_realm


@pytest.fixture(scope="module")
def realm(keycloak: Server) -> Iterator[Realm]:
    env = keycloak.env
    made = create_realm(
        keycloak.url, env["KEYCLOAK_ADMIN_USERNAME"], env["KEYCLOAK_ADMIN_PASSWORD"]
    )
    yield made
    delete_realm(made)


@pytest.fixture
def run(keycloak: Server, realm: Realm, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("ANBAO_KEYCLOAK_URL", keycloak.url)
    monkeypatch.setenv("ANBAO_KEYCLOAK_ADMIN_USERNAME", keycloak.env["KEYCLOAK_ADMIN_USERNAME"])
    monkeypatch.setenv("ANBAO_KEYCLOAK_ADMIN_PASSWORD", keycloak.env["KEYCLOAK_ADMIN_PASSWORD"])

    def invoke(*args: str) -> tuple[int, str, str]:
        result = CliRunner().invoke(main, ["iam", "orgs", "--realm", realm.name, *args])
        return result.exit_code, result.stdout, result.stderr

    return invoke


def test_import_dry_run_apply_and_resume(run, realm: Realm, tmp_path: Path) -> None:
    nodes = synthetic.nodes(seed=5, scale=0.004)
    people = synthetic.people(nodes, seed=5, scale=0.004, total=20_000)
    imports.write_nodes_csv(tmp_path / "nodes.csv", nodes)
    imports.write_people_csv(tmp_path / "people.csv", people)

    code, out, _ = run("import-nodes", str(tmp_path / "nodes.csv"), "--dry-run")
    assert code == 0, out
    assert json.loads(out) == {"valid_rows": len(nodes), "dry_run": True}
    assert realm.directory.find_node("530000") is None  # a dry run writes nothing

    code, out, _ = run("import-nodes", str(tmp_path / "nodes.csv"), "--workers", "4")
    assert code == 0, out
    assert json.loads(out) == {"created": len(nodes), "skipped": 0}
    village = realm.directory.find_node(nodes[-1].code)
    assert village is not None
    assert village.path.count("/") == 5  # province/prefecture/county/township/village
    assert village.name == nodes[-1].name

    # Resume: forget half the progress, as after a crash; nothing is created twice.
    state_file = tmp_path / "nodes.progress.json"
    state = json.loads(state_file.read_text())
    state["nodes"] = dict(list(state["nodes"].items())[: len(nodes) // 2])
    state_file.write_text(json.dumps(state))
    code, out, _ = run("import-nodes", str(tmp_path / "nodes.csv"))
    assert code == 0, out
    assert json.loads(out) == {"created": 0, "skipped": len(nodes)}

    code, out, _ = run(
        "import-people", str(tmp_path / "people.csv"), "--nodes-state", str(state_file)
    )
    assert code == 0, out
    assert json.loads(out) == {"created": len(people), "skipped": 0}
    person = realm.directory.find_person(people[0].username)
    assert person is not None
    primary = realm.directory.find_node(people[0].org_codes[0])
    assert primary is not None
    assert person.memberships == (primary.id,)
    assert person.org_path == primary.path
    assert person.attributes["title"] == dict(people[0].attributes)["title"]


def test_xlsx_validation_report(run, realm: Realm, tmp_path: Path) -> None:
    body = "11530000MB0000001"
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in [
        ("kind", "code", "name", "parent_code"),
        ("province", "540000", "西藏自治区", ""),
        ("prefecture", "540100", "拉萨市", "540000"),
        ("county", "540202", "错位县", "540100"),  # row 4: wrong prefix
        ("township", "540102001", "某乡", "549999"),  # row 5: unknown parent
        ("hamlet", "540102001001", "某屯", "540102001"),  # row 6: no such kind
        ("prefecture", "540100", "重复", "540000"),  # row 7: duplicate
        ("department", body + "0", "科", "540100"),  # row 8: bad check character
        ("department", body + uscc_check_char(body), "", "540100"),  # row 9: empty name
    ]:
        sheet.append(row)
    path = tmp_path / "nodes.xlsx"
    book.save(path)

    code, _, err = run("import-nodes", str(path), "--dry-run")
    assert code == 1
    assert "row 4, column code: a county code starts with its prefecture's four digits" in err
    assert "row 5, column parent_code: no such node in file or tree" in err
    assert "row 6, column kind:" in err
    assert "row 7, column code: duplicate of row 3" in err
    assert "row 8, column code: the check character of the credit code is wrong" in err
    assert "row 9, column name:" in err
    assert "nothing was imported" in err
    assert realm.directory.find_node("540000") is None


@pytest.fixture
def api_run(keycloak: Server, realm: Realm, tmp_path: Path) -> Iterator[Any]:
    """The org commands act as a person through Anbao's API: a real server, a platform-admin's
    token (no Keycloak admin credentials in the CLI's environment)."""
    env = stack_env(keycloak, realm, tmp_path)
    admin = realm.person([], "platform-admin")
    with serve(tmp_path, env) as (base, _):
        cli_env = {"ANBAO_API_URL": base, "ANBAO_TOKEN": realm.token(admin.username)}

        def invoke(*args: str) -> tuple[int, str, str]:
            result = CliRunner().invoke(main, ["iam", "orgs", *args], env=cli_env)
            return result.exit_code, result.stdout, result.stderr

        yield invoke


def test_cli_node_commands_and_departments(api_run: Any, realm: Realm) -> None:
    run = api_run
    body = "11530102MB0000009"
    dept = body + uscc_check_char(body)
    steps = [
        ("create", "--kind", "province", "--code", "510000", "--name", "四川省"),
        (
            "create",
            "--parent",
            "510000",
            "--kind",
            "prefecture",
            "--code",
            "510100",
            "--name",
            "成都市",
        ),
        (
            "create",
            "--parent",
            "510100",
            "--kind",
            "county",
            "--code",
            "510104",
            "--name",
            "锦江区",
        ),
        (
            "create",
            "--parent",
            "510100",
            "--kind",
            "county",
            "--code",
            "510105",
            "--name",
            "青羊区",
        ),
        ("create", "--parent", "510104", "--kind", "department", "--code", dept, "--name", "科"),
        ("rename", dept, "信息科"),
        ("move", dept, "510105"),
        ("disable", "510105"),
    ]
    for step in steps:
        code, out, err = run(*step)
        assert code == 0, (step, out, err)
    node = realm.directory.find_node(dept)  # a department is found by search, not by path
    assert node is not None
    assert node.name == "信息科"
    assert node.path == f"/510000/510100/510105/{dept}"
    county = realm.directory.find_node("510105")
    assert county is not None
    assert county.disabled
    code, _, err = run(
        "add-person", "late.comer", "--family-name", "迟", "--given-name", "到", "--org", "510105"
    )
    assert code == 1
    assert "[org_conflict]" in err
    code, _, err = run(
        "create", "--parent", "510104", "--kind", "county", "--code", "510106", "--name", "x"
    )
    assert code == 1
    assert "parent_id: a county sits under a prefecture [invalid_org_input]" in err
