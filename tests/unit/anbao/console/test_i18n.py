from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from anbao.console import i18n

CONSOLE = Path(i18n.__file__).parent
#: ``t("…")`` in templates (Jinja) and ``t("…")`` / ``.t("…")`` in the console's Python.
_CALL = re.compile(r"""\bt\(\s*(["'])((?:(?!\1).)+)\1""")


def used_msgids() -> set[str]:
    found: set[str] = set()
    for path in (CONSOLE / "templates").glob("*.html"):
        found |= {m.group(2) for m in _CALL.finditer(path.read_text())}
    for path in CONSOLE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "attr", getattr(node.func, "id", "")) == "t"
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                found.add(node.args[0].value)
    # Menu labels and the actions the resume page names are msgids too.
    import anbao.console.routes  # noqa: F401 - every page class, imported
    from anbao.console.web import MENU, Page

    found |= {item.label for item in MENU}
    pages: list[type[Page]] = [Page]
    while pages:
        page = pages.pop()
        found.add(page.action_label)
        pages += page.__subclasses__()
    return found


def test_every_string_the_console_shows_has_a_chinese_translation() -> None:
    catalogues = i18n.load_catalogues()
    missing = sorted(used_msgids() - set(catalogues["zh-CN"]))
    assert not missing, f"add to anbao/console/locales/zh_CN/LC_MESSAGES/*.po: {missing}"


def test_chinese_is_the_default_and_english_is_chosen_only_when_asked() -> None:
    assert i18n.choose(None, None) == "zh-CN"
    assert i18n.choose(None, "en-US,en;q=0.9") == "en"
    assert i18n.choose(None, "zh-CN,zh;q=0.9,en;q=0.8") == "zh-CN"
    assert i18n.choose(None, "fr-FR") == "zh-CN"
    assert i18n.choose("en", "zh-CN") == "en"  # the person's own choice wins
    assert i18n.choose("xx", "en") == "en"  # an unknown cookie is ignored


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("2026-12-07T12:15:03.123456+00:00", "2026-12-07 20:15:03 UTC+08:00"),
        ("2026-01-01T00:00:00Z", "2026-01-01 08:00:00 UTC+08:00"),
        (0, "1970-01-01 08:00:00 UTC+08:00"),
        (None, "—"),
        ("not a time", "—"),
    ],
)
def test_times_are_local_to_the_province_with_the_zone_and_no_microseconds(
    value: object, shown: str
) -> None:
    tr = i18n.Translator("zh-CN", {}, "Asia/Shanghai")
    assert tr.when(value) == shown  # type: ignore[arg-type]


def test_numbers_follow_the_locale() -> None:
    assert i18n.Translator("en", {}, "Asia/Shanghai").number(1234567) == "1,234,567"
    assert i18n.Translator("zh-CN", {}, "Asia/Shanghai").percent(0.925) == "92.5%"


def test_translations_fill_placeholders() -> None:
    welcome = "欢迎\uff0c%(name)s\u3002"  # full-width comma and stop, as Chinese writes them
    tr = i18n.Translator("zh-CN", {"Welcome, %(name)s.": welcome}, "Asia/Shanghai")
    assert tr.t("Welcome, %(name)s.", name="赵析") == welcome % {"name": "赵析"}
    assert tr.t("Untranslated") == "Untranslated"
