"""Every French string of the UI has an English translation."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[1]
KEYWORDS = {
    "_": None,
    "N_": None,
    "gettext": None,
    "InvalidInput": None,
    "NotFound": None,
    "PermissionDenied": None,
    "Conflict": None,
    "TooManyAttempts": None,
    "NotSignedIn": None,
    "HubError": None,
    "flash": (2,),
}
METHODS = [
    ("hub/**.py", "python"),
    ("kb/**.py", "python"),
    ("webinars/**.py", "python"),
    ("templates/**.html", "jinja2"),
]


def test_every_message_has_an_english_translation() -> None:
    with (ROOT / "hub/locales/en/LC_MESSAGES/messages.po").open("rb") as handle:
        catalog = read_po(handle)
    missing = set()
    checked = 0
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(ROOT),
        METHODS,
        keywords=KEYWORDS,
        options_map={"templates/**.html": {"extensions": "jinja2.ext.i18n"}},
    ):
        msgid = message if isinstance(message, str) else message[0]
        if not msgid:
            continue
        checked += 1
        entry = catalog.get(msgid)
        if entry is None or not entry.string:
            missing.add(msgid)
    assert checked > 50  # the extraction really read the templates and the code
    assert not missing, "run `make i18n` and translate: " + "; ".join(sorted(missing))
