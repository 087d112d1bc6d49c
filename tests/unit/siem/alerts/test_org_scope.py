"""An alert's org scope (issue 16 §2.1): the smallest subtree holding all its events."""

from __future__ import annotations

import pytest

from siem.alerts.model import merge, new_alert, visible
from siem.model import common_org
from tests.unit.siem.support import T0, detection


@pytest.mark.parametrize(
    ("paths", "common"),
    [
        (("/a/b/c",), "/a/b/c"),
        (("/a/b/c", "/a/b/d"), "/a/b"),
        (("/a/b", "/a/bc"), "/a"),  # segments, not characters
        (("/a/b", "/x"), ""),
        (("/a/b", ""), ""),
        (("/a/b/../c",), ""),
        (("/a/./b",), ""),
        (("/a//b",), ""),
        (("relative",), ""),
        ((), ""),
    ],
)
def test_common_org(paths: tuple[str, ...], common: str) -> None:
    assert common_org(paths) == common


def test_merge_widens_and_visibility_follows() -> None:
    alert = new_alert(detection(org_path="/a/b/c"), T0)
    assert visible("/a/b", alert)
    assert not visible("/a/b/c/d", alert)
    assert not visible("", alert)
    assert visible("/", alert)
    wider = merge(alert, detection(org_path="/a/b/d"), T0)
    assert wider.org_path == "/a/b"
    assert not visible("/a/b/c", wider)
    unknown = merge(wider, detection(org_path=""), T0)
    assert unknown.org_path == ""
    assert visible("/", unknown)
    assert not visible("/a", unknown)
