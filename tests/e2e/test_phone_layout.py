"""Pages with tables on a phone (390x844, what QA used): the page itself never scrolls
sideways; a table wider than the screen scrolls inside its own box, a keyboard-reachable
region with a name (axe: scrollable-region-focusable), so its last columns stay readable.

What a user noticed before: on /webinars, the referents' queue, a department's page, the
outbox, the people list and more, the whole page slid sideways and the last columns were
cut off. Also checked here: API token dates on /account are in Brussels time, dd/mm/yyyy.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import NewContext

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

PHONE = {"width": 390, "height": 844}
BRUSSELS = ZoneInfo("Europe/Brussels")
AXE = Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js"
DEMO = {
    "student": "Léa Étudiante",
    "teacher": "Marc Enseignant",
    "referent": "Sophie Référente",
    "elearning": "Équipe e-learning",
}
# Each role's pages that show tables; True when the demo data puts at least one table there
# (so that the check below cannot pass on a page that shows none).
PAGES: dict[str, list[tuple[str, bool]]] = {
    "student": [("/webinars", True), ("/account", False)],
    "teacher": [("/webinars", True), ("/questions", True), ("/account", True)],
    "referent": [
        ("/start", True),  # sends a signed-in referent to /queues
        ("/queues", True),
        ("/queues/SCI", True),
        ("/queues/canned", False),
        ("/departments/SCI", True),
        ("/exams/problems", False),
        ("/webinars", True),
    ],
    "elearning": [
        ("/webinars", True),
        ("/departments/SCI", True),
        ("/admin/outbox", True),
        ("/admin/people", True),
        ("/exams/problems", False),
        ("/crisis/readiness", True),
        ("/crisis", False),
        ("/queues", True),
        ("/queues/elearning", True),
        ("/queues/canned", False),
        ("/kb/synonyms", True),
        ("/kb/gaps", False),
        ("/kb/examen-acces-etudiant/revisions", True),
    ],
}
# Pages whose table is wider than a phone with the demo data (most of them QA's list):
# there, the table's box must really scroll.
WIDE = {
    "/webinars",
    "/account",
    "/start",
    "/queues",
    "/queues/SCI",
    "/departments/SCI",
    "/admin/outbox",
    "/admin/people",
    "/crisis/readiness",
    "/queues/elearning",
    "/kb/examen-acces-etudiant/revisions",
}

LAYOUT = """() => {
    const tables = [...document.querySelectorAll('main table')];
    return {
        pageWidth: document.documentElement.scrollWidth,
        viewport: window.innerWidth,
        tables: tables.map((table) => {
            const box = table.parentElement;
            const style = getComputedStyle(box);
            const labelledBy = (box.getAttribute('aria-labelledby') || '').split(' ')
                .map((id) => document.getElementById(id)).filter(Boolean)
                .map((el) => el.textContent.trim()).join(' ');
            return {
                wrapped: box.classList.contains('table-scroll'),
                role: box.getAttribute('role'),
                name: (box.getAttribute('aria-label') || labelledBy).trim(),
                tabindex: box.getAttribute('tabindex'),
                overflowX: style.overflowX,
                boxRight: Math.round(box.getBoundingClientRect().right),
                boxWidth: box.clientWidth,
                boxScrollWidth: box.scrollWidth,
                tableWidth: Math.floor(table.getBoundingClientRect().width),
            };
        }),
    };
}"""

AXE_SCROLLABLE = """async () => {
    const result = await axe.run(document, {
        runOnly: ["scrollable-region-focusable", "landmark-unique"],
        resultTypes: ["violations"],
    });
    return result.violations.map((v) => `${v.id}: ` +
        v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(" | "));
}"""


def demo_sign_in(page: Page, role: str) -> None:
    page.goto("/login")
    page.get_by_role("button", name=re.compile(rf"^{re.escape(DEMO[role])}\b")).click()
    page.wait_for_url(re.compile(r".*/(queues|exams|kb|admin)?$"))


def layout_problems(page: Page, path: str, needs_table: bool) -> list[str]:
    layout: dict[str, Any] = page.evaluate(LAYOUT)
    problems: list[str] = []
    if layout["pageWidth"] > layout["viewport"]:
        problems.append(
            f"{path}: the page scrolls sideways ({layout['pageWidth']}px in a "
            f"{layout['viewport']}px window)"
        )
    tables = layout["tables"]
    if needs_table and not tables:
        problems.append(f"{path}: no table shown (the demo data should give one)")
    for index, table in enumerate(tables):
        where = f"{path}: table {index + 1}"
        if not table["wrapped"]:
            problems.append(f"{where} is not in a .table-scroll box")
            continue
        if table["role"] != "region" or not table["name"] or table["tabindex"] != "0":
            problems.append(
                f"{where}: its box is not a named, focusable region "
                f"(role={table['role']!r}, name={table['name']!r}, tabindex={table['tabindex']!r})"
            )
        if table["overflowX"] not in {"auto", "scroll"}:
            problems.append(f"{where}: its box does not scroll (overflow-x {table['overflowX']})")
        if table["boxRight"] > layout["viewport"]:
            problems.append(f"{where}: its box ends past the window ({table['boxRight']}px)")
        if table["boxScrollWidth"] < table["tableWidth"]:
            problems.append(f"{where}: its last columns cannot be scrolled to")
    if (
        path in WIDE
        and tables
        and not any(t["boxScrollWidth"] > t["boxWidth"] for t in tables if t["wrapped"])
    ):
        problems.append(f"{path}: no table box scrolls (expected a table wider than a phone)")
    return problems


@pytest.mark.parametrize("role", list(PAGES))
def test_tables_scroll_in_their_box_not_the_page(new_context: NewContext, role: str) -> None:
    # axe is injected as a script: only the test context bypasses the hub's CSP for that.
    page = new_context(viewport=PHONE, bypass_csp=True).new_page()
    demo_sign_in(page, role)
    if role == "teacher":
        # A token of one's own, so that /account shows its table (and its dates).
        page.goto("/account")
        page.get_by_role("button", name="Créer un jeton").click()
        expect(page.locator("#new-token")).to_be_visible()
    problems: list[str] = []
    for path, needs_table in PAGES[role]:
        response = page.goto(path)
        assert response is not None and response.ok, f"{path}: {response and response.status}"
        problems += layout_problems(page, path, needs_table)
        if page.locator("main table").count():
            page.add_script_tag(path=str(AXE))
            problems += [f"{path}: {line}" for line in page.evaluate(AXE_SCROLLABLE)]
    assert problems == [], "\n".join(problems)


def test_exam_import_errors_scroll_in_their_box(new_context: NewContext) -> None:
    """The import's error table (a long reason per line) shows only after a bad file."""
    page = new_context(viewport=PHONE).new_page()
    demo_sign_in(page, "elearning")
    page.goto("/exams/import")
    page.get_by_label("Fichier CSV").set_input_files(
        files=[
            {
                "name": "horaire-avec-un-nom-de-fichier-assez-long-pour-un-telephone.csv",
                "mimeType": "text/csv",
                "buffer": b"course_code,course_name\nPHYS101,Physique\n",
            }
        ]
    )
    page.get_by_role("button", name="Importer", exact=True).click()
    expect(page.get_by_text("Rien n'a été importé.")).to_be_visible()
    assert layout_problems(page, "/exams/import", needs_table=True) == []


def test_keyboard_scrolls_a_wide_table(new_context: NewContext) -> None:
    """Tab reaches the table's box; the arrow keys then bring its last columns into view."""
    page = new_context(viewport=PHONE).new_page()
    demo_sign_in(page, "elearning")
    page.goto("/admin/people")
    box = page.get_by_role("region", name="Comptes")
    box.focus()
    expect(box).to_be_focused()
    for _ in range(10):
        page.keyboard.press("ArrowRight")
    assert box.evaluate("(el) => el.scrollLeft") > 0


def test_api_token_dates_are_in_brussels_time(new_context: NewContext) -> None:
    """A new token's creation date reads like every other date of the hub."""
    page = new_context().new_page()
    demo_sign_in(page, "student")
    page.goto("/account")
    page.get_by_role("button", name="Créer un jeton").click()
    expect(page.locator("#new-token")).to_be_visible()
    created = page.evaluate(
        """() => {
            const table = document.querySelector('main table');
            const column = [...table.querySelectorAll('thead th')]
                .findIndex((th) => th.textContent.trim() === 'Créé le');
            return table.querySelector('tbody tr').cells[column].textContent.trim();
        }"""
    )
    # Brussels time, as on every other page (it was UTC, as "2026-11-22 19:50").
    now = datetime.now(BRUSSELS)
    moments = {now - timedelta(minutes=minutes) for minutes in range(3)}
    assert created in {moment.strftime("%d/%m/%Y %H:%M") for moment in moments}
