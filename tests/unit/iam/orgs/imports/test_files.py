"""Import files: the validation report, parents-first order, and resume without duplicates."""

from __future__ import annotations

from pathlib import Path

import pytest

from iam.errors import IdentityProviderUnavailable
from iam.orgs import synthetic
from iam.orgs.imports import files as imports
from iam.orgs.imports.apply import Importer, ImportState, file_digest
from iam.orgs.model import NodeKind
from iam.orgs.testing import InMemoryOrgDirectory


def test_synthetic_province_has_the_real_shape_and_is_deterministic() -> None:
    rows = synthetic.nodes(seed=9)
    counts = {k: sum(r.kind is k for r in rows) for k in NodeKind}
    assert counts[NodeKind.PROVINCE] == 1
    assert counts[NodeKind.PREFECTURE] == 16
    assert counts[NodeKind.COUNTY] == 129
    assert counts[NodeKind.TOWNSHIP] == 1400
    assert counts[NodeKind.VILLAGE] == 14000
    assert rows == synthetic.nodes(seed=9)
    assert rows != synthetic.nodes(seed=10)


def test_generated_files_validate_clean(tmp_path: Path) -> None:
    nodes = synthetic.nodes(seed=2, scale=0.01)
    imports.write_nodes_csv(tmp_path / "n.csv", nodes)
    parsed, findings = imports.parse_nodes(tmp_path / "n.csv", lambda code: None)
    assert findings == []
    assert {r.code for r in parsed} == {r.code for r in nodes}


def test_report_names_row_column_and_reason(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(
        "kind,code,name,parent_code\n"
        "village,530102101201,村,530102101\n"  # row 2: child listed before its parent
        "province,530000,省,\n"
        "prefecture,530100,市,530000\n"
        "county,530102,县,530100\n"
        "township,530102101,乡,530102\n"
        "county,530203,错,530100\n"  # row 7
        "county,530104,,530100\n",  # row 8
        encoding="utf-8",
    )
    rows, findings = imports.parse_nodes(path, lambda code: None)
    assert [(f.row, f.column) for f in findings] == [(7, "code"), (8, "name")]
    assert [r.kind for r in rows][:2] == [NodeKind.PROVINCE, NodeKind.PREFECTURE]
    assert rows[-1].code == "530102101201"  # parents first, whatever the file order


def test_missing_columns_are_reported_on_the_header_row(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("username,family_name\nzhang,张\n", encoding="utf-8")
    _, findings = imports.parse_people(path, lambda code: True)
    assert {(f.row, f.column) for f in findings} == {
        (1, "given_name"),
        (1, "email"),
        (1, "org_codes"),
    }


class FlakyDirectory(InMemoryOrgDirectory):
    """Fails once after ``fail_after`` creations, like a crash in the middle of an import."""

    def __init__(self, fail_after: int) -> None:
        super().__init__()
        self.fail_after = fail_after

    def create_node(self, parent, kind, code, name):  # type: ignore[no-untyped-def]
        if self.calls == self.fail_after:
            self.fail_after = -1
            raise IdentityProviderUnavailable("simulated outage")
        return super().create_node(parent, kind, code, name)


def test_interrupted_import_resumes_without_duplicates(tmp_path: Path) -> None:
    rows = synthetic.nodes(seed=4, scale=0.01)
    path = tmp_path / "nodes.csv"
    imports.write_nodes_csv(path, rows)
    parsed, _ = imports.parse_nodes(path, lambda code: None)
    directory = FlakyDirectory(fail_after=40)
    state_file = tmp_path / "state.json"
    importer = Importer(
        directory, ImportState(state_file, file_digest(path)), workers=1, save_every=10
    )
    with pytest.raises(IdentityProviderUnavailable):
        importer.nodes(parsed)
    assert 0 < len(directory.nodes) < len(rows)
    resumed = Importer(directory, ImportState(state_file, file_digest(path)), workers=4)
    result = resumed.nodes(parsed)
    assert len(directory.nodes) == len(rows)
    assert result.created + result.skipped == len(rows)
    assert len({n.code for n in directory.nodes.values()}) == len(rows)


def test_people_under_a_brokers_prefix_are_refused_in_imports(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text(
        "username,family_name,given_name,email,org_codes\n"
        "court.judge,法,官,,530102\n"
        "courtney,张,三,,530102\n",
        encoding="utf-8",
    )
    rows, findings = imports.parse_people(path, lambda code: True, frozenset({"court."}))
    assert [(f.row, f.column) for f in findings] == [(2, "username")]
    assert [r.username for r in rows] == ["courtney"]
