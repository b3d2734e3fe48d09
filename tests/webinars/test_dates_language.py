"""Webinar dates on the pages follow the viewer's language; mails stay French."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlmodel import Session

from hub.models import utcnow
from hub.settings import Settings
from tests import html
from tests.factories import sign_in
from tests.webinars.helpers import mails, make_webinar, teachers
from webinars import notify
from webinars.invites import LOCAL_TIME
from webinars.registration import register


def _next_tuesday_at_three() -> datetime:
    """A Tuesday 15:00 in Brussels, a few days ahead (UTC, as the services store it)."""
    day = (utcnow() + timedelta(days=3)).astimezone(LOCAL_TIME).date()
    day += timedelta(days=(1 - day.weekday()) % 7)
    local = datetime(day.year, day.month, day.day, 15, 0, tzinfo=LOCAL_TIME)
    return local.astimezone(UTC)


def test_when_in_both_languages() -> None:
    moment = datetime(2026, 11, 24, 15, 0, tzinfo=LOCAL_TIME)
    french = "mardi 24/11/2026 15:00–16:00 (heure de Bruxelles)"
    assert notify.when(moment, 60) == french
    assert notify.when(moment, 60, locale="fr") == french
    assert notify.when(moment, 60, locale="en") == "Tuesday 24/11/2026 15:00–16:00 (Brussels time)"
    assert notify.when(moment, locale="en") == "Tuesday 24/11/2026 15:00 (Brussels time)"
    assert notify.when(moment, 60, locale="xx") == french
    assert notify.when_in("en")(moment, 60) == notify.when(moment, 60, locale="en")


def test_pages_show_dates_in_the_viewers_language(
    client: TestClient, db: Session, settings: Settings
) -> None:
    starts_at = _next_tuesday_at_three()
    webinar = make_webinar(db, title="Moodle : les devoirs", starts_at=starts_at)
    (teacher,) = teachers(db, 1)
    register(db, webinar.id or 0, actor=teacher, settings=settings)
    db.commit()
    day = starts_at.astimezone(LOCAL_TIME).strftime("%d/%m/%Y")
    french = f"mardi {day} 15:00–16:00 (heure de Bruxelles)"
    english = f"Tuesday {day} 15:00–16:00 (Brussels time)"
    page = f"/webinars/{webinar.id}"

    # anonymous, French by default, then English
    assert french in html.text(client.get("/webinars"), "main")
    assert french in html.text(client.get(page), "main")
    client.get("/lang/en")
    for path in ("/webinars", page):
        response = client.get(path)
        assert english in html.text(response, "main")
        text = html.text(response)
        assert "heure de Bruxelles" not in text and "mardi" not in text

    # signed in: the session's language still applies, on the calendar page too
    sign_in(client, teacher)
    client.get("/lang/en")
    for path in ("/webinars", page, "/webinars/calendar"):
        response = client.get(path)
        assert response.status_code == 200
        assert english in html.text(response, "main")
    client.get("/lang/fr")
    for path in ("/webinars", page, "/webinars/calendar"):
        response = client.get(path)
        assert french in html.text(response, "main") and "Brussels time" not in html.text(response)

    # the mails stay French whatever the language of the pages
    (invite,) = mails(db, to=teacher.email, kind="webinar.invite")
    assert french in invite.body_text
