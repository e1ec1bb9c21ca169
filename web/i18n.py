"""The pages' languages: zh-CN is the source language of every message; English comes from a
gettext catalog (locale/en/LC_MESSAGES/messages.po), compiled in memory at start-up by Babel."""

from __future__ import annotations

import gettext
import io
from functools import cache
from pathlib import Path
from typing import Literal

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

LOCALE = Path(__file__).parent / "locale"
Language = Literal["zh", "en"]
LANGUAGES: tuple[Language, ...] = ("zh", "en")
HTML_LANG = {"zh": "zh-CN", "en": "en"}


@cache
def translations(lang: Language) -> gettext.NullTranslations:
    """The catalog of a language; zh is the messages themselves."""
    if lang == "zh":
        return gettext.NullTranslations()
    with (LOCALE / lang / "LC_MESSAGES" / "messages.po").open("rb") as po:
        catalog = read_po(po, locale=lang)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(buffer)


def choose(requested: str | None, cookie: str | None) -> Language:
    """The language asked for (``?lang=``), else the one chosen before (cookie), else zh-CN:
    the pages speak Chinese first, whatever the browser's own language."""
    for value in (requested, cookie):
        if value == "en":
            return "en"
        if value == "zh":
            return "zh"
    return "zh"
