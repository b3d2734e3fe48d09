"""The e-learning team's dashboard in Chromium: charts really drawn (SVG with bars), and the
main pages of each role checked with axe-core (vendored from the npm registry, 4.14.1,
MPL-2.0, in tests/e2e/vendor/axe-core): no serious or critical violation."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import RESULTS_DIR, NewContext

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

AXE = Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js"
DEMO = {
    "elearning": "Équipe e-learning",
    "student": "Léa Étudiante",
    "teacher": "Marc Enseignant",
    "referent": "Sophie Référente",
}
# The main pages of each role (anonymous visitors included).
PAGES = {
    "anonymous": ["/", "/start", "/exams", "/kb", "/kb/examen-acces-etudiant", "/login"],
    "student": ["/", "/exams"],
    "teacher": ["/", "/kb", "/kb/basculer-cours-distanciel-checklist", "/account/messages"],
    "referent": ["/", "/departments"],
    "elearning": ["/admin", "/dashboard", "/crisis", "/crisis/readiness", "/admin/outbox"],
}


def demo_sign_in(page: Page, role: str) -> None:
    page.goto("/login")
    page.get_by_role("button", name=re.compile(rf"^{re.escape(DEMO[role])}\b")).click()
    page.wait_for_url(re.compile(r".*/$"))


def serious_violations(page: Page) -> list[str]:
    page.add_script_tag(path=str(AXE))
    violations = page.evaluate(
        """async () => {
            const result = await axe.run(document, {resultTypes: ["violations"]});
            return result.violations
              .filter(v => v.impact === "serious" || v.impact === "critical")
              .map(v => `${v.id} (${v.impact}): ${v.help} -> ` +
                        v.nodes.slice(0, 3).map(n => n.target.join(" ")).join(" | "));
        }"""
    )
    return [f"{page.url}: {line}" for line in violations]


@pytest.mark.parametrize("role", list(PAGES))
def test_main_pages_have_no_serious_accessibility_violations(
    new_context: NewContext, role: str
) -> None:
    # axe is injected as a script: only the test context bypasses the hub's CSP for that.
    page = new_context(bypass_csp=True).new_page()
    if role != "anonymous":
        demo_sign_in(page, role)
    problems: list[str] = []
    for path in PAGES[role]:
        response = page.goto(path)
        assert response is not None and response.ok, f"{path}: {response and response.status}"
        problems += serious_violations(page)
    assert problems == [], "\n".join(problems)


def test_dashboard_draws_its_charts(new_context: NewContext) -> None:
    page = new_context().new_page()
    demo_sign_in(page, "elearning")
    page.goto("/dashboard")
    expect(page.get_by_role("heading", level=1)).to_have_text("Tableau de bord")
    charts = page.locator("svg.chart")
    assert charts.count() >= 4
    drawn = page.evaluate(
        "() => [...document.querySelectorAll('svg.chart')]"
        ".filter(svg => svg.querySelectorAll('rect').length > 0"
        " && svg.getBoundingClientRect().width > 100).length"
    )
    assert drawn >= 3, "charts with bars, laid out on the page"
    # Each chart is an image with a name and a text summary for screen readers.
    first = charts.first
    assert first.get_attribute("role") == "img"
    assert first.locator(":scope > title").text_content()
    assert first.locator(":scope > desc").text_content()
    # The numbers are there as a table too, and each table exports as CSV.
    page.get_by_text("Les chiffres (tableau)").first.click()
    expect(page.locator("table").first).to_be_visible()
    with page.expect_download() as download:
        page.get_by_role("link", name="Exporter en CSV").first.click()
    assert download.value.suggested_filename.endswith(".csv")
    RESULTS_DIR.mkdir(exist_ok=True)
    page.screenshot(path=RESULTS_DIR / "dashboard.png", full_page=True)
