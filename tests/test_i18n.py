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
    "Message": None,
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


def test_messages_with_values_are_translated_where_shown(client, db) -> None:  # type: ignore[no-untyped-def]
    from hub.models import Role
    from tests import html
    from tests.factories import csrf_from, make_department, make_user, sign_in

    make_department(db, "SCI", "Sciences")
    sign_in(client, make_user(db, Role.elearning))
    client.get("/lang/en")
    token = csrf_from(client.get("/admin/people").text)
    taken = client.post(
        "/admin/departments", data={"code": "SCI", "name": "Again", "csrf_token": token}
    )
    assert "The department SCI already exists." in html.text(taken, "main")
    created = client.post(
        "/admin/departments", data={"code": "LAB", "name": "Labo", "csrf_token": token}
    )
    assert created.status_code == 303
    assert "Department created: LAB" in html.text(client.get(created.headers["location"]), ".flash")
    missing = client.get("/departments/NOPE")
    assert missing.status_code == 404
    assert "Unknown department: NOPE" in html.text(missing, "main")
    api = client.get("/departments/NOPE", headers={"accept": "application/json"})
    assert api.json() == {"detail": "Département inconnu : NOPE"}  # the API's detail: French


def test_numbers_are_written_as_the_pages_language_writes_them() -> None:
    """Waiting times in the queues ("1,5 h" in French, "1.5 h" in English) come from Babel,
    not from a hand-made replacement of the decimal point."""
    from hub.web.rendering import decimal

    assert decimal(1.5, locale="fr") == "1,5"
    assert decimal(1.5, locale="en") == "1.5"
    assert decimal(1234.25, digits=2, locale="en") == "1,234.25"


def test_weekday_names_come_from_babel_in_both_languages() -> None:
    from datetime import UTC, datetime

    from webinars.notify import when

    moment = datetime(2026, 3, 31, 13, 0, tzinfo=UTC)  # a Tuesday, 15:00 in Brussels
    assert when(moment, 60) == "mardi 31/03/2026 15:00–16:00 (heure de Bruxelles)"
    assert when(moment, 60, locale="en") == "Tuesday 31/03/2026 15:00–16:00 (Brussels time)"
