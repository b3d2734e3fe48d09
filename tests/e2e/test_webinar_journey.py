"""A teacher registers for a webinar, downloads the invite, the e-learning team moves the
session, and the teacher's "my messages" page shows the update (Chromium, real server)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from icalendar import Calendar
from playwright.sync_api import StorageState, expect

from tests.e2e.conftest import HubServer, NewContext

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

SERIES_TITLE = "Les rendez-vous de l'enseignement à distance"  # hub demo load


def test_register_download_move_and_see_the_update(
    new_context: NewContext,
    hub_server: HubServer,
    teacher_storage_state: StorageState,
) -> None:
    teacher = new_context(storage_state=teacher_storage_state, accept_downloads=True).new_page()
    teacher.goto("/")
    teacher.get_by_role("link", name="Webinaires").first.click()
    expect(teacher.get_by_role("heading", level=1)).to_have_text("Webinaires")
    # the last session of the demo series: nobody else in the e2e suite touches it
    teacher.get_by_role("link", name=SERIES_TITLE).last.click()
    session_url = teacher.url
    assert re.search(r"/webinars/\d+$", session_url)

    teacher.get_by_role("button", name="M'inscrire", exact=True).click()
    expect(teacher.get_by_text("Inscription confirmée")).to_be_visible()
    expect(teacher.get_by_text("Vous êtes inscrit·e.")).to_be_visible()

    with teacher.expect_download() as download_info:
        teacher.get_by_role("link", name="Ajouter à mon agenda (.ics)").click()
    downloaded = Calendar.from_ical(open(download_info.value.path(), "rb").read())
    event = downloaded.events[0]
    assert str(event["SUMMARY"]) == SERIES_TITLE
    original_start: datetime = event.start
    uid = str(event["UID"])

    # the e-learning team moves the session one hour later
    team = new_context().new_page()
    session_path = session_url.removeprefix(hub_server.base_url)
    team.goto(f"/login?next={session_path}")
    team.get_by_role("button", name=re.compile(r"^Équipe e-learning\b")).click()
    team.wait_for_url(session_url)
    team.get_by_role("button", name="Modifier ou déplacer").click()
    starts = team.get_by_label("Début (heure de Bruxelles)")
    new_start = original_start + timedelta(hours=1)
    starts.fill(new_start.strftime("%Y-%m-%dT%H:%M"))
    team.get_by_role("button", name="Enregistrer", exact=True).click()
    expect(team.get_by_text("les inscrits reçoivent une mise à jour")).to_be_visible()

    # the teacher's messages: the invite, then the update with the new time
    teacher.goto("/account/messages")
    update_link = teacher.get_by_role("link", name=f"Mise à jour : {SERIES_TITLE}")
    expect(update_link).to_be_visible()
    expect(teacher.get_by_role("link", name=f"Invitation : {SERIES_TITLE}")).to_be_visible()
    update_link.click()
    expect(teacher.get_by_text("Le webinaire a changé (horaire)")).to_be_visible()
    expect(teacher.get_by_text(new_start.strftime("%d/%m/%Y %H:%M"))).to_be_visible()

    # the session page and a fresh download agree: same UID, new time, higher SEQUENCE
    teacher.goto(session_url)
    with teacher.expect_download() as second_info:
        teacher.get_by_role("link", name="Ajouter à mon agenda (.ics)").click()
    moved = Calendar.from_ical(open(second_info.value.path(), "rb").read()).events[0]
    assert str(moved["UID"]) == uid
    assert moved.start == new_start
    assert int(moved["SEQUENCE"]) > int(event["SEQUENCE"])
