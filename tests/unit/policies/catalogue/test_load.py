"""The control catalogue: complete for the issue's clauses, validated with file:line findings."""

from __future__ import annotations

from pathlib import Path

import pytest

from policies.catalogue.load import load_catalogue
from policies.checks import REGISTRY
from policies.errors import CatalogueInvalid

MLPS = {f"L3-CES1-{n:02d}" for n in (*range(1, 16), 25, 26, 27, 28)}
GBT39786 = {f"GBT39786-8.4-{c}" for c in "abcdefgh"}


def test_builtin_catalogue_covers_every_required_item_in_workbook_order() -> None:
    catalogue = load_catalogue()
    ids = [c.id for c in catalogue.controls()]
    assert set(ids) == MLPS | GBT39786 | {"CSL-21-3"}
    assert len(ids) == len(set(ids))
    assert [s.code for s in catalogue.standards] == [
        "GB/T 22239-2019", "GB/T 39786-2021", "网络安全法 / Cybersecurity Law",
    ]  # fmt: skip
    for control in catalogue.controls():
        assert control.title.zh
        assert control.title.en
        assert control.remediation.zh
        assert control.evidence
        assert control.checks or control.manual


def test_every_check_is_used_by_some_control() -> None:
    used = {c for control in load_catalogue().controls() for c in control.checks}
    assert used == set(REGISTRY)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    return path


GOOD = """standard: X
title: {zh: 甲, en: A}
controls:
  - id: X-1
    section: s
    clause: c
    title: {zh: 甲, en: A}
    requirement: {zh: 甲, en: A}
    checks: [realm.brute_force]
    evidence: [e]
    remediation: {zh: 甲, en: A}
    manual: false
"""


def test_a_valid_file_loads(tmp_path: Path) -> None:
    catalogue = load_catalogue([_write(tmp_path, GOOD)])
    control = catalogue.controls()[0]
    assert control.source.endswith("bad.yaml:4")
    assert control.checks == ("realm.brute_force",)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("[realm.brute_force]", "[realm.nope]"), "bad.yaml:9: unknown check 'realm.nope'"),
        (("    manual: false\n", "    manual: false\n    colour: red\n"),
         "bad.yaml:13: unknown key 'colour'"),
        (("    clause: c\n", ""), "bad.yaml:4: control lacks 'clause'"),
        (("{zh: 甲, en: A}\n    requirement", "{zh: 甲}\n    requirement"),
         "bad.yaml:7: title needs zh and en"),
        (("[realm.brute_force]", "[]"), "bad.yaml:4: a control without automated checks"),
        (("{zh: 甲, en: A}\n    requirement", "{zh: 甲, en: A, b}\n    requirement"),
         "bad.yaml:7: title needs zh and en strings only"),
    ],
)  # fmt: skip
def test_problems_name_file_and_line(tmp_path: Path, edit: tuple[str, str], message: str) -> None:
    with pytest.raises(CatalogueInvalid) as caught:
        load_catalogue([_write(tmp_path, GOOD.replace(*edit))])
    assert any(message in f for f in caught.value.findings), caught.value.findings


def test_duplicate_ids_and_malformed_yaml_are_reported_together(tmp_path: Path) -> None:
    twice = GOOD + GOOD.split("controls:\n", 1)[1]
    (tmp_path / "a.yaml").write_text(twice, encoding="utf-8")
    (tmp_path / "b.yaml").write_text("standard: [unclosed\n", encoding="utf-8")
    with pytest.raises(CatalogueInvalid) as caught:
        load_catalogue([tmp_path])
    text = "\n".join(caught.value.findings)
    assert "a.yaml:13: duplicate id 'X-1' (first at" in text
    assert "b.yaml:2: malformed YAML" in text
