"""A teacher signs in (form, demo shortcut, without JavaScript) and reads the home page."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import ConsoleMessage, Page, Request, Response, expect

from tests.e2e.conftest import HubServer, NewContext

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]


def sign_in(page: Page, email: str, password: str) -> None:
    """Fill and submit the real sign-in form, as a person would."""
    page.goto("/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Mot de passe").fill(password)
    page.get_by_role("button", name="Se connecter", exact=True).click()


def expect_home(page: Page, hub_server: HubServer) -> None:
    expect(page).to_have_url(hub_server.base_url + "/")


# First in the file on purpose: Chromium asks for /favicon.ico once per browser, so only the
# session's first page would reveal a missing icon.
def test_pages_load_without_console_errors(page: Page, hub_server: HubServer) -> None:
    problems: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":  # CSP violations are reported here too
            problems.append(f"console error on {page.url}: {message.text}")

    def on_request_failed(request: Request) -> None:
        problems.append(f"request failed: {request.method} {request.url}: {request.failure}")

    def on_response(response: Response) -> None:
        if response.status >= 400:
            problems.append(f"HTTP {response.status}: {response.request.method} {response.url}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(f"uncaught error on {page.url}: {error}"))
    page.on("requestfailed", on_request_failed)
    page.on("response", on_response)

    page.goto("/login", wait_until="networkidle")
    # htmx is loaded and ran (so the script was allowed by the CSP and no error is hidden by
    # a script that simply never executed).
    assert page.evaluate("typeof window.htmx") == "object"
    sign_in(page, hub_server.teacher_email, hub_server.teacher_password)
    expect_home(page, hub_server)
    page.wait_for_load_state("networkidle")
    assert page.evaluate("typeof window.htmx") == "object"

    assert problems == [], "\n".join(problems)


def test_sign_in_teacher_sees_french_home(
    page: Page, hub_server: HubServer, results_dir: Path
) -> None:
    sign_in(page, hub_server.teacher_email, hub_server.teacher_password)

    expect_home(page, hub_server)
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Bonjour {hub_server.teacher_name}")
    expect(page.get_by_text("Espace enseignant")).to_be_visible()
    nav = page.get_by_role("navigation", name="Navigation principale")
    expect(nav.get_by_role("button", name="Se déconnecter")).to_be_visible()
    expect(nav.get_by_role("link", name="Départements")).to_be_visible()
    expect(
        page.get_by_role("link", name="Mon département : Sciences et technologies")
    ).to_be_visible()
    # Styled by Pico and the hub's own sheet: Pico's variables are defined, the skip link is
    # off-screen until focused.
    pico_font = page.evaluate(
        "getComputedStyle(document.documentElement).getPropertyValue('--pico-font-family')"
    )
    assert pico_font.strip(), "Pico CSS is not applied (no --pico-font-family on :root)"
    expect(page.get_by_role("link", name="Aller au contenu")).not_to_be_in_viewport()

    page.screenshot(path=results_dir / "teacher-home.png", full_page=True)


def test_demo_shortcut_signs_in_as_teacher(page: Page, hub_server: HubServer) -> None:
    page.goto("/login")
    expect(page.get_by_role("heading", name="Mode démonstration")).to_be_visible()

    page.get_by_role("button", name=re.compile(r"^Marc Enseignant\b")).click()

    expect_home(page, hub_server)
    expect(page.get_by_role("heading", level=1)).to_have_text("Bonjour Marc Enseignant")
    expect(page.get_by_text("Espace enseignant")).to_be_visible()


def test_switch_language_to_english(page: Page, hub_server: HubServer) -> None:
    sign_in(page, hub_server.teacher_email, hub_server.teacher_password)
    expect(page.locator("html")).to_have_attribute("lang", "fr")

    page.get_by_role("navigation").get_by_role("link", name="English").click()

    expect_home(page, hub_server)
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Hello {hub_server.teacher_name}")
    nav = page.get_by_role("navigation")
    expect(nav.get_by_role("button", name="Sign out")).to_be_visible()
    expect(nav.get_by_role("link", name="Departments")).to_be_visible()
    expect(nav.get_by_role("link", name="Français")).to_be_visible()


def test_sign_in_and_out_without_javascript(new_context: NewContext, hub_server: HubServer) -> None:
    page = new_context(java_script_enabled=False).new_page()

    sign_in(page, hub_server.teacher_email, hub_server.teacher_password)

    expect_home(page, hub_server)
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Bonjour {hub_server.teacher_name}")
    page.get_by_role("button", name="Se déconnecter").click()
    expect(page.get_by_role("status")).to_have_text("Vous êtes déconnecté.")
    expect(page.get_by_role("navigation").get_by_role("link", name="Se connecter")).to_be_visible()
