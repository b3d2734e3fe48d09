"""The knowledge base in a real browser: search as you type, active search, checklists, print.

The starter pack (kb/content) is imported by the session's server (see conftest.py). Each test
that changes something (checklist ticks) uses its own article, so the order does not matter.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import (
    ConsoleMessage,
    Locator,
    Page,
    Request,
    Response,
    StorageState,
    expect,
)

from tests.e2e.conftest import HubServer, NewContext
from tests.e2e.test_teacher_home import sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

CHECKLIST = "basculer-cours-distanciel-checklist"
CHECKLIST_ITEMS = 12  # "- [ ]" lines in kb/content/basculer-cours-distanciel-checklist.md
DESKTOP = {"width": 1280, "height": 800}
MOBILE = {"width": 390, "height": 844}  # a phone: also honours <meta name="viewport">


def header_search(page: Page) -> Locator:
    return page.get_by_role("navigation", name="Navigation principale").get_by_role(
        "searchbox", name="Chercher un tutoriel"
    )


def page_search(page: Page) -> Locator:
    return page.get_by_role("main").get_by_role("searchbox", name="Rechercher")


def mark_document(page: Page) -> None:
    """Tag the current document: the tag survives htmx swaps, not a full page load."""
    page.evaluate("window.__sameDocument = true")


def expect_same_document(page: Page) -> None:
    assert page.evaluate("window.__sameDocument === true"), "the page was reloaded"


def header_suggestions(page: Page) -> Locator:
    return page.locator("#header-suggestions .suggestions")


def progress_text(page: Page) -> Locator:
    return page.locator("#checklist").get_by_text(re.compile(r"Cochés : \d+ sur \d+"))


def test_teacher_finds_tutorial_with_misspelt_query(page: Page, hub_server: HubServer) -> None:
    sign_in(page, hub_server.teacher_email, hub_server.teacher_password)
    expect(page).to_have_url(hub_server.base_url + "/")

    search = header_search(page)
    search.click()
    search.press_sequentially("enregistrer une capsul vido", delay=30)

    suggestions = header_suggestions(page)
    expect(suggestions).to_be_visible()
    wanted = suggestions.get_by_role("link", name=re.compile(r"^Enregistrer une capsule vidéo"))
    expect(wanted).to_be_visible()
    expect(wanted).to_have_attribute("href", re.compile(r"^/kb/capsule-video-enregistrer\b"))
    wanted.click()

    expect(page).to_have_url(
        re.compile(r"/kb/capsule-video-enregistrer(\?from_search=[0-9a-f]+)?$")
    )
    expect(page.get_by_role("heading", level=1)).to_have_text("Enregistrer une capsule vidéo")


def test_student_searches_exam_access_without_accents(page: Page, hub_server: HubServer) -> None:
    page.goto("/kb")
    mark_document(page)

    page_search(page).press_sequentially("acces examen", delay=30)

    # Active search: htmx swaps #kb-results and pushes the address, without a page load.
    expect(page).to_have_url(re.compile(r"/kb\?(.*&)?q=acces(\+|%20)examen(&|$)"))
    results = page.locator("#kb-results ol.results > li")
    expect(results.first).to_be_visible()
    expect(results.first.get_by_role("link")).to_have_text("Accéder à son examen à distance")
    expect(results.first.get_by_role("link")).to_have_attribute(
        "href", re.compile(r"^/kb/examen-acces-etudiant\b")
    )
    marks = page.locator("#kb-results mark")
    expect(marks.first).to_be_visible()
    highlighted = {text.casefold() for text in marks.all_inner_texts()}
    assert highlighted & {"accéder", "examen", "accès"}, highlighted
    expect_same_document(page)
    expect(page_search(page)).to_have_value("acces examen")

    # The pushed address is a real page too (bookmark, reload, share).
    page.reload()
    expect(page.locator("#kb-results ol.results > li").first.get_by_role("link")).to_have_text(
        "Accéder à son examen à distance"
    )


def test_teacher_ticks_checklist_items(
    new_context: NewContext, teacher_storage_state: StorageState
) -> None:
    page = new_context(storage_state=teacher_storage_state).new_page()
    page.goto(f"/kb/{CHECKLIST}")
    ticks = page.locator("#checklist button.tick")
    expect(ticks).to_have_count(CHECKLIST_ITEMS)
    expect(progress_text(page)).to_have_text(f"Cochés : 0 sur {CHECKLIST_ITEMS}")
    mark_document(page)

    ticks.nth(0).click()
    expect(progress_text(page)).to_have_text(f"Cochés : 1 sur {CHECKLIST_ITEMS}")
    ticks.nth(2).click()
    expect(progress_text(page)).to_have_text(f"Cochés : 2 sur {CHECKLIST_ITEMS}")
    expect_same_document(page)
    pressed = page.locator('#checklist button.tick[aria-pressed="true"]')
    expect(pressed).to_have_count(2)
    expect(page.locator("#checklist progress")).to_have_attribute("value", "2")
    expect(ticks.nth(0)).to_have_attribute("aria-label", re.compile(r"^Décocher : "))

    page.reload()
    expect(progress_text(page)).to_have_text(f"Cochés : 2 sur {CHECKLIST_ITEMS}")
    expect(pressed).to_have_count(2)
    expect(ticks.nth(0)).to_have_attribute("aria-pressed", "true")
    expect(ticks.nth(2)).to_have_attribute("aria-pressed", "true")

    page.get_by_role("button", name="Tout décocher").click()
    expect(page.get_by_role("status")).to_have_text("Check-list remise à zéro.")
    expect(progress_text(page)).to_have_text(f"Cochés : 0 sur {CHECKLIST_ITEMS}")
    expect(pressed).to_have_count(0)


def test_keyboard_focus_stays_in_place_after_a_tick_and_a_vote(
    new_context: NewContext, teacher_storage_state: StorageState
) -> None:
    """htmx replaces the checklist and the feedback box: a keyboard user keeps their place
    (the same tick button; the feedback box once its buttons are gone), so the next Tab goes
    to the next item, not back to the top of the page."""
    page = new_context(storage_state=teacher_storage_state).new_page()
    page.goto(f"/kb/{CHECKLIST}")
    ticks = page.locator("#checklist button.tick")
    ticks.nth(1).focus()
    page.keyboard.press("Space")
    expect(ticks.nth(1)).to_have_attribute("aria-pressed", "true")
    expect(ticks.nth(1)).to_be_focused()
    # htmx wires the new checklist's forms once it has settled (20 ms); a key pressed before
    # that posts the plain form (a whole page load), which no person types fast enough for.
    page.wait_for_function("() => !document.querySelector('.htmx-settling, .htmx-added')")
    page.keyboard.press("Tab")
    expect(ticks.nth(2)).to_be_focused()
    page.keyboard.press("Enter")
    expect(ticks.nth(2)).to_have_attribute("aria-pressed", "true")
    expect(ticks.nth(2)).to_be_focused()

    page.get_by_role("button", name="Oui, merci").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_text("Merci ! Votre avis aide")).to_be_visible()
    expect(page.locator("#feedback")).to_be_focused()
    page.get_by_role("button", name="Tout décocher").click()


def test_search_works_without_javascript(new_context: NewContext, hub_server: HubServer) -> None:
    page = new_context(java_script_enabled=False).new_page()
    page.goto("/kb")

    page_search(page).fill("acces examen")
    page.get_by_role("main").get_by_role("button", name="Rechercher").click()

    expect(page).to_have_url(re.compile(r"/kb\?q=acces(\+|%20)examen&"))
    results = page.locator("#kb-results ol.results > li")
    expect(results.first.get_by_role("link")).to_have_text("Accéder à son examen à distance")
    expect(page_search(page)).to_have_value("acces examen")

    # The header's box is a plain form too: Enter goes to the results page.
    header_search(page).fill("tester ma webcam")
    header_search(page).press("Enter")
    expect(page).to_have_url(re.compile(r"/kb\?q=tester(\+|%20)ma(\+|%20)webcam$"))
    expect(
        page.locator("#kb-results").get_by_role(
            "link", name="Tester et dépanner sa webcam et son micro"
        )
    ).to_be_visible()


def watch_problems(page: Page) -> list[str]:
    """Console errors (CSP violations included), uncaught errors, failed or 4xx/5xx requests."""
    found: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            found.append(f"console error on {page.url}: {message.text}")

    def on_request_failed(request: Request) -> None:
        found.append(f"request failed: {request.method} {request.url}: {request.failure}")

    def on_response(response: Response) -> None:
        if response.status >= 400:
            found.append(f"HTTP {response.status}: {response.request.method} {response.url}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: found.append(f"uncaught error on {page.url}: {error}"))
    page.on("requestfailed", on_request_failed)
    page.on("response", on_response)
    return found


def test_kb_pages_without_console_errors(
    new_context: NewContext, teacher_storage_state: StorageState
) -> None:
    page = new_context(storage_state=teacher_storage_state).new_page()
    problems = watch_problems(page)

    page.goto("/kb", wait_until="networkidle")
    assert page.evaluate("typeof window.htmx") == "object"
    page_search(page).press_sequentially("teams", delay=20)
    expect(page.locator("#kb-results ol.results > li").first).to_be_visible()
    header_search(page).press_sequentially("moodle", delay=20)
    suggestions = header_suggestions(page)
    expect(suggestions).to_be_visible()
    # Keyboard: Tab goes from the box into the list, which stays open; leaving closes it.
    page.keyboard.press("Tab")
    expect(suggestions.get_by_role("link").first).to_be_focused()
    expect(suggestions).to_be_visible()
    page.get_by_role("contentinfo").click()  # elsewhere on the page (the list covers the top)
    expect(suggestions).to_be_hidden()
    header_search(page).focus()
    expect(suggestions).to_be_visible()

    page.goto("/kb/capsule-video-enregistrer", wait_until="networkidle")
    expect(page.get_by_role("heading", level=1)).to_have_text("Enregistrer une capsule vidéo")

    page.goto("/kb/moodle-quiz-examen-checklist", wait_until="networkidle")
    page.locator("#checklist button.tick").first.click()
    expect(progress_text(page)).to_have_text(re.compile(r"^Cochés : 1 sur "))
    page.goto("/kb/moodle-quiz-examen-checklist/print", wait_until="networkidle")

    # Anonymous: the same pages without tick buttons.
    anonymous = new_context().new_page()
    problems += watch_problems(anonymous)
    anonymous.goto("/kb?q=examen", wait_until="networkidle")
    expect(anonymous.locator("#kb-results ol.results > li").first).to_be_visible()
    anonymous.goto("/kb/examen-jour-j-checklist-etudiant", wait_until="networkidle")
    expect(anonymous.locator("#checklist")).to_contain_text("connectez-vous")

    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize("viewport", [DESKTOP, MOBILE], ids=["desktop", "mobile"])
def test_kb_screenshots(
    new_context: NewContext,
    teacher_storage_state: StorageState,
    results_dir: Path,
    viewport: dict[str, int],
) -> None:
    """Screenshots to look at (test-results/kb-*.png); asserts only what a glance would miss."""
    name = "desktop" if viewport is DESKTOP else "mobile"
    phone = {"is_mobile": True, "has_touch": True} if viewport is MOBILE else {}
    page = new_context(viewport=viewport, storage_state=teacher_storage_state, **phone).new_page()

    too_wide: list[str] = []  # checked at the end, so that every screenshot is taken

    def no_horizontal_scroll() -> None:
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > viewport["width"]:
            too_wide.append(f"{page.url} is {width}px wide on a {viewport['width']}px screen")

    page.goto("/kb?q=capsule+video")
    expect(page.locator("#kb-results mark").first).to_be_visible()
    no_horizontal_scroll()
    page.screenshot(path=results_dir / f"kb-results-{name}.png", full_page=True)

    header_search(page).press_sequentially("enregistrer une capsul vido", delay=10)
    suggestions = header_suggestions(page)
    expect(suggestions).to_be_visible()
    expect(suggestions).to_be_in_viewport()
    no_horizontal_scroll()
    page.screenshot(path=results_dir / f"kb-suggestions-{name}.png")

    page.goto("/kb/capsule-video-enregistrer")
    no_horizontal_scroll()
    page.screenshot(path=results_dir / f"kb-article-{name}.png", full_page=True)

    page.goto("/kb/examen-oral-teams-checklist")
    tick = page.locator("#checklist button.tick").nth(1 if viewport is DESKTOP else 2)
    tick.click()  # one more item ticked in each run, by the same teacher
    expect(tick).to_have_attribute("aria-pressed", "true")
    no_horizontal_scroll()
    page.screenshot(path=results_dir / f"kb-checklist-{name}.png", full_page=True)

    page.goto("/kb/examen-oral-teams-checklist/print")
    no_horizontal_scroll()
    page.screenshot(path=results_dir / f"kb-print-{name}.png", full_page=True)

    assert too_wide == [], "\n".join(too_wide)
