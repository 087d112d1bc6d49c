"""Chinese first: the console's message catalogues, locale choice and local formats.

Every visible string is an English msgid looked up in gettext catalogues
(``anbao/console/locales/<locale>/LC_MESSAGES/*.po``: ``console.po`` for the shared frame, one
file per page, read with Babel at start-up: no compiled ``.mo`` to keep in step). zh-CN is the default; English is one click away. The choice
is the person's cookie, else their browser's ``Accept-Language`` when it prefers English, else
zh-CN. Times are shown in the province's zone (``console.timezone``, Asia/Shanghai) with the
zone written next to them; numbers and dates follow the locale (Babel's CLDR data).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from babel import Locale
from babel.dates import format_datetime
from babel.messages.pofile import read_po
from babel.numbers import format_decimal, format_percent

LOCALES = ("zh-CN", "en")
DEFAULT = "zh-CN"
COOKIE = "anbao_lang"
_DIR = Path(__file__).with_name("locales")


def load_catalogues(directory: Path = _DIR) -> dict[str, dict[str, str]]:
    """msgid -> translation, per locale (untranslated entries are left out: the msgid shows)."""
    out: dict[str, dict[str, str]] = {}
    for locale in LOCALES:
        messages: dict[str, str] = {}
        for path in sorted((directory / locale.replace("-", "_") / "LC_MESSAGES").glob("*.po")):
            with path.open("rb") as handle:
                catalogue = read_po(handle, locale=locale.replace("-", "_"))
            messages.update(
                (str(message.id), str(message.string))
                for message in catalogue
                if message.id and isinstance(message.id, str) and message.string
            )
        out[locale] = messages
    return out


def choose(cookie: str | None, accept_language: str | None) -> str:
    """The locale for this request: the person's choice, else English only when the browser
    asks for it before Chinese, else zh-CN."""
    if cookie in LOCALES:
        return str(cookie)
    for item in (accept_language or "").split(","):
        tag = item.split(";")[0].strip().lower()
        if tag.startswith("zh"):
            return "zh-CN"
        if tag.startswith("en"):
            return "en"
    return DEFAULT


class Translator:
    """One request's strings and formats: ``t("Audit search")``, ``when(iso)``, ``number(n)``."""

    def __init__(self, locale: str, messages: Mapping[str, str], zone: str) -> None:
        self.locale = locale
        self._messages = messages
        self._babel = Locale.parse(locale.replace("-", "_"))
        self.zone = zoneinfo.ZoneInfo(zone)

    def t(self, msgid: str, **values: Any) -> str:
        text = self._messages.get(msgid, msgid)
        return text % values if values else text

    def when(self, value: str | float | dt.datetime | None, *, seconds: bool = True) -> str:
        """A moment in the console's zone with the zone shown, e.g. ``2026-12-07 20:15:03 UTC+08:00``."""
        moment = _moment(value)
        if moment is None:
            return "—"
        local = moment.astimezone(self.zone)
        pattern = "yyyy-MM-dd HH:mm:ss" if seconds else "yyyy-MM-dd HH:mm"
        return f"{format_datetime(local, pattern, locale=self._babel)} {_offset(local)}"

    def typed(self, value: str) -> str:
        """A time typed in a ``datetime-local`` control (no offset: the console's zone) as the
        RFC 3339 the API takes: ``2026-12-07T20:15`` -> ``2026-12-07T20:15:00+08:00``; ``""``
        stays ``""``; anything else raises :class:`ValueError`."""
        text = value.strip()
        if not text:
            return ""
        moment = dt.datetime.fromisoformat(text)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=self.zone)
        return moment.isoformat(timespec="seconds")

    def control(self, value: str | float | dt.datetime | None) -> str:
        """The inverse, to refill a ``datetime-local`` control: ``YYYY-MM-DDTHH:MM`` locally."""
        moment = _moment(value)
        return "" if moment is None else moment.astimezone(self.zone).strftime("%Y-%m-%dT%H:%M")

    def number(self, value: float | int) -> str:
        return format_decimal(value, locale=self._babel)

    def percent(self, value: float) -> str:
        return format_percent(value, locale=self._babel, format="#,##0.#%")

    @property
    def lang(self) -> str:
        """The ``lang`` attribute of the page (BCP 47)."""
        return "zh-CN" if self.locale == "zh-CN" else "en"


def _moment(value: str | float | dt.datetime | None) -> dt.datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, int | float):
        moment = dt.datetime.fromtimestamp(value, dt.UTC)
    else:
        try:
            moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _offset(local: dt.datetime) -> str:
    offset = local.utcoffset() or dt.timedelta()
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
