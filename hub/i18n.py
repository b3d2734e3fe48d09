"""Languages: French first (the msgids are French), English from a Babel catalog."""

from __future__ import annotations

import gettext
from functools import lru_cache
from io import BytesIO
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

LOCALES = ("fr", "en")  # the first is the default and the language of the source strings
LOCALE_NAMES = {"fr": "Français", "en": "English"}
LOCALES_DIR = Path(__file__).parent / "locales"


@lru_cache(maxsize=len(LOCALES))
def translations(locale: str) -> gettext.NullTranslations:
    """Translations for a locale, compiled in memory from the .po file (no build step)."""
    if locale == LOCALES[0]:
        return gettext.NullTranslations()
    po_path = LOCALES_DIR / locale / "LC_MESSAGES" / "messages.po"
    with po_path.open("rb") as handle:
        catalog = read_po(handle, locale=locale)
    buffer = BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(buffer)


def pick_locale(*choices: str | None) -> str:
    """The first explicit choice that is supported (session, then account); else French.

    The browser's Accept-Language is deliberately ignored: the hub is French by default, and
    many staff machines are set to English without their users reading it comfortably.
    """
    for choice in choices:
        if choice in LOCALES:
            return choice
    return LOCALES[0]


def N_(message: str) -> str:
    """Mark a French message for extraction; it is translated where it is shown."""
    return message


class Message(str):
    """A French message with values in it ("Département inconnu : %(code)s"), which stays
    translatable: it reads as the French text with the values filled in (logs, the CLI, the
    JSON API's `detail`), and `translate` translates the template first, then fills it in.

        raise NotFound(Message(N_("Département inconnu : %(code)s"), code=code))
    """

    template: str
    params: dict[str, object]

    def __new__(cls, template: str, **params: object) -> Message:
        message = super().__new__(cls, template % params)
        message.template, message.params = template, params
        return message


def translate(catalog: gettext.NullTranslations, message: str) -> str:
    """`message` in the catalog's language (a Message: its template, then its values)."""
    if isinstance(message, Message):
        return catalog.gettext(message.template) % message.params
    return catalog.gettext(message)
