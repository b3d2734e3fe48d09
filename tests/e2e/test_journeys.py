"""The four users' journeys end to end in Chromium, plus asking a question with the keyboard only.

One real `hub serve` for the whole session (see conftest.py), shared with the other browser
tests: each journey makes its own data (titles carrying a per-run word) and leaves the hub as
it found it (crisis mode is switched off again at the end of the e-learning team's journey).
A screenshot per journey goes to test-results/journey-*.png.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Locator, Page, StorageState, expect

from tests.e2e.conftest import HubServer, NewContext

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

BRUSSELS = ZoneInfo("Europe/Brussels")
DEMO = {
    "elearning": "Équipe e-learning",
    "student": "Léa Étudiante",
    "teacher": "Marc Enseignant",
    "referent": "Sophie Référente",
}
# A made-up word per run: the queue's word filter and the KB search find this run's data only.
RUN = "zq" + secrets.token_hex(3)


def demo_page(new_context: NewContext, role: str) -> Page:
    """A fresh browser signed in with the demo shortcut of the login page."""
    page = new_context().new_page()
    page.goto("/login")
    page.get_by_role("button", name=re.compile(rf"^{re.escape(DEMO[role])}\b")).click()
    page.wait_for_url(re.compile(r".*/$"))
    return page


def header_search(page: Page) -> Locator:
    return page.get_by_role("navigation", name="Navigation principale").get_by_role(
        "searchbox", name="Chercher un tutoriel"
    )


def flash(page: Page, text: str) -> Locator:
    return page.get_by_role("main").get_by_role("status").filter(has_text=text)


def ask(page: Page, title: str, body: str) -> int:
    """Ask a question through the form; returns its number (from the address)."""
    page.goto("/questions/new")
    page.get_by_label("Titre").fill(title)
    page.get_by_label("Détails").fill(body)
    page.get_by_role("button", name="Envoyer la question").click()
    expect(page).to_have_url(re.compile(r"/questions/\d+$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(title)
    return int(page.url.rsplit("/", 1)[1])


def queue_link(page: Page, title: str) -> Locator:
    return page.locator("#queue-rows").get_by_role("link", name=re.compile(re.escape(title)))


# --- 1. Student -------------------------------------------------------------------------------


def test_student_finds_tonights_exam_by_misspelt_code(
    new_context: NewContext, results_dir: Path
) -> None:
    code, name = "ASTRO407", f"Astronomie nocturne {RUN}"
    # three real hours from now (UTC arithmetic: never a local time skipped by summer time)
    start = (datetime.now(UTC) + timedelta(hours=3)).astimezone(BRUSSELS)
    start = start.replace(second=0, microsecond=0)
    access_url = "https://moodle.college.example/mod/quiz/view.php?id=407"
    timetable = (
        "course_code;course_name;department;starts_at;duration_minutes;platform;access_url;"
        "instructions_slug;contact_email\n"
        f"{code};{name};SCI;{start:%Y-%m-%d %H:%M};90;moodle;{access_url};"
        "examen-acces-etudiant;examens.sci@college.example\n"
    )
    # The e-learning team imports tonight's session on its upload page.
    team = demo_page(new_context, "elearning")
    team.goto("/exams/import")
    team.get_by_label("Fichier CSV").set_input_files(
        {"name": "horaire-ce-soir.csv", "mimeType": "text/csv", "buffer": timetable.encode()}
    )
    team.get_by_role("button", name="Importer", exact=True).click()
    imported = re.compile(r"Import réussi. Créés : [01],")
    expect(flash(team, "Import réussi")).to_contain_text(imported)

    # The student, signed in, looks for it with a typo in the code and no capitals.
    student = demo_page(new_context, "student")
    student.get_by_role("link", name="Examens", exact=True).click()
    expect(student.get_by_role("heading", level=1)).to_have_text("Examens à distance")
    student.get_by_role("searchbox", name="Code ou nom du cours").press_sequentially(
        "astr407", delay=40
    )
    found = student.locator("#exam-results").get_by_role("link", name=re.compile(code))
    expect(found).to_be_visible()
    expect(student).to_have_url(re.compile(r"/exams\?q=astr407$"))  # search-as-you-type
    expect(student.locator("#exam-results")).to_contain_text(f"{start:%d/%m/%Y %H:%M}")
    found.click()

    expect(student.get_by_role("heading", level=1)).to_have_text(f"{code} · {name}")
    expect(student.get_by_text(f"{start:%H:%M} – ")).to_be_visible()
    countdown = student.locator(".countdown")
    expect(countdown).to_contain_text("Commence dans")
    # countdown.js refines the server's minutes into a live "2 h 59 min 58 s"
    expect(countdown).to_contain_text(re.compile(r"\d+ h \d\d min \d\d s"))
    first = countdown.inner_text()
    expect(countdown).not_to_have_text(first)  # it ticks
    access = student.get_by_role("button", name="Accéder à l'examen (Moodle)")
    expect(access).to_have_attribute("href", access_url)
    checklist = student.get_by_role("link", name="Check-list du jour de l'examen")
    expect(checklist).to_have_attribute("href", "/kb/examen-jour-j-checklist-etudiant")
    expect(student.get_by_role("heading", name="Consignes")).to_be_visible()
    student.screenshot(path=results_dir / "journey-student-exam.png", full_page=True)

    checklist.click()
    expect(student.get_by_role("heading", level=1)).to_contain_text("examen")
    expect(student.locator("#checklist button.tick").first).to_be_visible()
    student.go_back()

    # Something goes wrong during the exam: the report reaches the department's referents.
    student.get_by_role("button", name="J'ai un problème pendant mon examen").click()
    expect(student.get_by_role("heading", level=1)).to_have_text(
        "J'ai un problème pendant mon examen"
    )
    report = f"Moodle affiche « session expirée » à la question 3 ({RUN})."
    student.get_by_label("Nom et prénom").fill("Léa Étudiante")
    student.get_by_label("E-mail").fill("etudiant@demo.college.example")
    student.get_by_label("Que se passe-t-il ?").fill(report)
    student.get_by_role("button", name="Envoyer au référent").click()
    sent = student.get_by_role("status").filter(has_text="Signalement enregistré")
    expect(sent).to_contain_text("dans la file du référent de votre département")

    referent = demo_page(new_context, "referent")
    referent.get_by_role("link", name="Problèmes d'examen").click()
    expect(referent.get_by_role("row", name=re.compile(re.escape(report)))).to_contain_text(code)


# --- 2. Teacher -------------------------------------------------------------------------------


def test_teacher_searches_ticks_asks_and_reads_the_answer(
    new_context: NewContext, results_dir: Path
) -> None:
    teacher = demo_page(new_context, "teacher")
    search = header_search(teacher)
    search.click()
    search.press_sequentially("preparer examen en ligne moodel", delay=30)
    wanted = teacher.locator("#header-suggestions").get_by_role(
        "link", name=re.compile(r"^Préparer un examen en ligne avec un test Moodle")
    )
    expect(wanted.first).to_be_visible()
    wanted.first.click()
    expect(teacher).to_have_url(re.compile(r"/kb/moodle-quiz-examen-checklist(\?.*)?$"))

    progress = teacher.locator("#checklist").get_by_text(re.compile(r"Cochés : \d+ sur \d+"))
    before = int(progress.inner_text().split()[2])  # "Cochés : N sur M"
    untouched = teacher.locator('#checklist button.tick[aria-pressed="false"]')
    untouched.first.click()
    expect(progress).to_have_text(re.compile(rf"^Cochés : {before + 1} sur "))
    untouched.first.click()
    expect(progress).to_have_text(re.compile(rf"^Cochés : {before + 2} sur "))
    teacher.reload()
    expect(progress).to_have_text(re.compile(rf"^Cochés : {before + 2} sur "))

    # Not in the tutorial: ask the referent, after looking at the suggestions.
    title = f"Quiz Moodle : accorder un tiers-temps à un étudiant {RUN}"
    teacher.get_by_role("link", name="Mes questions").click()
    teacher.get_by_role("button", name="Poser une question").click()
    teacher.get_by_label("Titre").press_sequentially(title, delay=10)
    expect(teacher.locator("#suggestions").get_by_role("link").first).to_be_visible()
    teacher.get_by_label("Détails").fill(
        "Un étudiant a droit à 30 % de temps en plus ; la check-list ne dit pas où le régler."
    )
    teacher.get_by_role("button", name="Envoyer la question").click()
    expect(teacher).to_have_url(re.compile(r"/questions/\d+$"))
    question_path = teacher.url.removeprefix(teacher.url.split("/questions/")[0])
    expect(teacher.get_by_text("Pas encore de réponse.")).to_be_visible()

    answer = f"Dans le quiz : Dérogations utilisateur, puis limite de temps ({RUN})."
    referent = demo_page(new_context, "referent")
    referent.goto("/queues/SCI")
    queue_link(referent, title).click()
    referent.get_by_label("Votre message").fill(answer)
    referent.get_by_role("button", name="Envoyer", exact=True).click()
    expect(flash(referent, "Réponse envoyée.")).to_be_visible()

    teacher.get_by_role("link", name="Mes questions").click()
    row = teacher.get_by_role("row", name=re.compile(re.escape(title)))
    expect(row).to_contain_text("Répondu")
    row.get_by_role("link").click()
    expect(teacher).to_have_url(re.compile(re.escape(question_path) + "$"))
    expect(teacher.get_by_text(answer)).to_be_visible()
    teacher.screenshot(path=results_dir / "journey-teacher-answer.png", full_page=True)
    teacher.get_by_role("button", name="C'est résolu").click()
    expect(flash(teacher, "Question marquée comme résolue")).to_be_visible()
    teacher.get_by_role("link", name="Mes questions").click()
    expect(teacher.get_by_role("row", name=re.compile(re.escape(title)))).to_contain_text("Résolu")


# --- 3. Referent ------------------------------------------------------------------------------


def test_referent_triages_merges_and_escalates(
    new_context: NewContext,
    teacher_storage_state: StorageState,
    hub_server: HubServer,
    results_dir: Path,
) -> None:
    mark = f"tri{RUN}"  # this journey's questions only (the teacher's journey also asks in SCI)
    # Two teachers of SCI run into the same problem; one of them has another one too.
    helene = new_context(storage_state=teacher_storage_state).new_page()
    marc = demo_page(new_context, "teacher")
    main_title = f"Teams : mes étudiants ne voient pas le devoir {mark}"
    dup_title = f"Devoir Teams invisible pour la classe {mark}"
    esc_title = f"Licence Zoom pour mon jury de TFE {mark}"
    main_id = ask(helene, main_title, f"Le devoir est publié mais invisible ({mark}).")
    dup_id = ask(marc, dup_title, f"Mes étudiants ne trouvent pas le devoir Teams ({mark}).")
    esc_id = ask(marc, esc_title, f"Le jury externe n'a pas de compte du collège ({mark}).")

    referent = demo_page(new_context, "referent")
    referent.get_by_role("link", name="File des questions").click()
    referent.get_by_role("navigation", name="Files").get_by_role("link", name="SCI").click()
    expect(referent).to_have_url(re.compile(r"/queues/SCI$"))
    # Triage: this run's unassigned questions, by filters (htmx, the address follows).
    referent.get_by_label("Rechercher").fill(mark)
    referent.get_by_label("Attribution").select_option(label="Non attribuées")
    expect(referent).to_have_url(re.compile(r"assigned=none"))
    rows = referent.locator("#queue-rows tbody tr")
    expect(rows).to_have_count(3)
    for title in (main_title, dup_title, esc_title):
        expect(queue_link(referent, title)).to_be_visible()
    referent.screenshot(path=results_dir / "journey-referent-queue.png", full_page=True)

    queue_link(referent, main_title).click()
    referent.get_by_role("button", name="Je prends").click()
    expect(flash(referent, "Vous prenez cette question.")).to_be_visible()
    expect(referent.get_by_role("button", name="Je prends")).to_be_disabled()
    referent.goto("/queues/SCI")
    referent.get_by_label("Rechercher").fill(mark)
    referent.get_by_label("Attribution").select_option(label="Les miennes")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Sophie Référente")

    # The duplicate joins the main question.
    referent.goto(f"/questions/{dup_id}")
    referent.get_by_label("Doublon de la question n°").fill(str(main_id))
    referent.get_by_role("button", name="Fusionner").click()
    expect(referent).to_have_url(re.compile(rf"/questions/{main_id}$"))
    expect(flash(referent, "Questions fusionnées")).to_be_visible()
    expect(
        referent.get_by_role("link", name=re.compile(rf"n° {dup_id} · Marc Enseignant"))
    ).to_be_visible()
    answer = f"Le devoir était en brouillon : cliquez sur « Attribuer » ({mark})."
    referent.get_by_label("Votre message").fill(answer)
    referent.get_by_role("button", name="Envoyer", exact=True).click()
    expect(flash(referent, "Réponse envoyée.")).to_be_visible()

    # Both askers get the one answer.
    helene.goto(f"/questions/{main_id}")
    expect(helene.get_by_text(answer)).to_be_visible()
    marc.get_by_role("link", name="Mes questions").click()
    marc.get_by_role("link", name=dup_title).click()
    expect(marc.get_by_text(answer)).to_be_visible()
    marc.goto("/account/messages")
    expect(marc.get_by_role("main")).to_contain_text(dup_title)

    # The other one needs the e-learning team.
    referent.goto(f"/questions/{esc_id}")
    reason = f"Licences Zoom : seule l'équipe e-learning en attribue ({mark})."
    referent.get_by_label("Transmettre à l'équipe e-learning : pourquoi ?").fill(reason)
    referent.get_by_role("button", name="Transmettre").click()
    expect(flash(referent, "Question transmise à l'équipe e-learning.")).to_be_visible()
    expect(referent.get_by_text("Transmise à l'équipe e-learning", exact=True)).to_be_visible()

    team = demo_page(new_context, "elearning")
    team.goto("/queues/elearning")
    escalated = team.locator("#queue-rows tr").filter(
        has=team.get_by_role("link", name=re.compile(re.escape(esc_title)))
    )
    expect(escalated).to_contain_text("transmise")
    expect(queue_link(team, main_title)).to_have_count(0)
    queue_link(team, esc_title).click()
    team.get_by_text("Historique").click()
    expect(team.locator(".audit-trail")).to_contain_text(reason)


# --- 4. E-learning team -----------------------------------------------------------------------


def switch_crisis_off(team: Page) -> None:
    team.goto("/crisis")
    off = team.get_by_role("button", name="Désactiver le mode crise")
    if off.count():
        off.click()
        expect(flash(team, "Mode crise désactivé.")).to_be_visible()


def test_elearning_team_crisis_webinar_and_article(
    new_context: NewContext, results_dir: Path
) -> None:
    team = demo_page(new_context, "elearning")
    visitor = new_context().new_page()
    visitor.goto("/exams")  # an anonymous page the hub may keep ready for the rush
    message = f"Campus fermé : tous les cours passent à distance ({RUN})."
    try:
        team.get_by_role("link", name="Pilotage").click()
        team.goto("/crisis")
        team.get_by_label("Message du bandeau et de l'annonce").fill(message)
        team.get_by_role("button", name="Activer le mode crise").click()
        expect(team.get_by_role("heading", name="Le mode crise est activé")).to_be_visible()
        banner = team.get_by_role("alert").filter(has_text=message)
        expect(banner).to_be_visible()
        for path in ("/", "/kb", "/webinars", "/queues"):
            team.goto(path)
            expect(banner).to_be_visible()
        anonymous = new_context().new_page()
        for path in ("/", "/kb", "/exams", "/start"):
            anonymous.goto(path)
            expect(
                anonymous.get_by_role("alert").filter(has_text=message), f"banner on {path}"
            ).to_be_visible()
        anonymous.screenshot(path=results_dir / "journey-elearning-crisis-anonymous.png")

        # A one-off webinar next week.
        webinar_title = f"Questions-réponses : évaluer à distance {RUN}"
        starts = (datetime.now(BRUSSELS) + timedelta(days=7)).replace(
            hour=14, minute=0, second=0, microsecond=0
        )
        team.get_by_role("navigation", name="Navigation principale").get_by_role(
            "link", name="Webinaires"
        ).click()
        team.get_by_role("button", name="Nouvelle séance").click()
        team.get_by_label("Titre").fill(webinar_title)
        team.get_by_label("Description").fill("Une heure pour vos questions sur les examens.")
        team.get_by_label("Début (heure de Bruxelles)").fill(starts.strftime("%Y-%m-%dT%H:%M"))
        team.get_by_label("Durée (minutes)").fill("60")
        team.get_by_label("Places").fill("80")
        team.get_by_role("button", name="Enregistrer", exact=True).click()
        expect(flash(team, "Séance créée.")).to_be_visible()
        expect(team.get_by_role("heading", level=1)).to_contain_text(webinar_title)
        team.goto("/webinars")
        expect(team.get_by_role("link", name=webinar_title)).to_be_visible()

        # An answered question becomes a tutorial.
        teacher = demo_page(new_context, "teacher")
        title = f"Exporter les notes du quiz vers Excel {RUN}"
        question_id = ask(teacher, title, "Le bouton Télécharger ne propose que ODS.")
        answer = f"Dans Notes, Exporter, choisissez « Fichier Excel » ({RUN})."
        team.goto(f"/questions/{question_id}")
        team.get_by_label("Votre message").fill(answer)
        team.get_by_role("button", name="Envoyer", exact=True).click()
        expect(flash(team, "Réponse envoyée.")).to_be_visible()
        team.get_by_role("button", name="Transformer cette réponse en article").click()
        expect(flash(team, "Brouillon d'article créé")).to_be_visible()
        expect(team).to_have_url(re.compile(r"/kb/[a-z0-9-]+/edit$"))
        slug = team.url.split("/kb/")[1].removesuffix("/edit")
        expect(team.get_by_label("Titre")).to_have_value(title)
        expect(team.get_by_label("Statut")).to_have_value("draft")
        expect(team.get_by_label(re.compile(r"^Texte"))).to_contain_text(answer)
        team.get_by_label("Résumé").fill("Exporter les notes d'un quiz Moodle au format Excel.")
        team.get_by_label("Statut").select_option(label="Publié")
        team.get_by_label("Note de révision").fill("relu, publié")
        team.get_by_role("button", name="Enregistrer", exact=True).click()
        expect(flash(team, "Article enregistré.")).to_be_visible()
        expect(team.get_by_role("heading", level=1)).to_have_text(title)

        # Teachers find it from the header (typo included) and the question links to it.
        search = header_search(teacher)
        search.click()
        search.press_sequentially(f"exporer notes excel {RUN}", delay=20)
        found = teacher.locator("#header-suggestions").get_by_role(
            "link", name=re.compile(re.escape(title))
        )
        expect(found).to_be_visible()
        found.click()
        expect(teacher).to_have_url(re.compile(rf"/kb/{slug}(\?.*)?$"))
        expect(teacher.get_by_text(answer)).to_be_visible()
        team.goto(f"/questions/{question_id}")
        expect(team.get_by_role("link", name=title)).to_have_attribute("href", f"/kb/{slug}")
        team.bring_to_front()  # a page behind another one cannot always be captured
        team.screenshot(path=results_dir / "journey-elearning-question.png", full_page=True)
    finally:
        switch_crisis_off(team)
    visitor = new_context().new_page()
    for path in ("/kb", "/exams"):
        visitor.goto(path)
        expect(visitor.get_by_role("alert").filter(has_text=message)).to_have_count(0)


# --- 5. Keyboard only -------------------------------------------------------------------------

# What has focus, and whether a sighted keyboard user can see it: an outline, or a box-shadow
# layer that is not transparent and not zero-sized (Pico gives every button a transparent
# "0 0 0 0" shadow, which is no indicator). Read once the focus transition is over.
FOCUS_STYLE = """async () => {
    const el = document.activeElement;
    await Promise.all(el.getAnimations().map(a => a.finished.catch(() => null)));
    const style = getComputedStyle(el);
    const outline = style.outlineStyle !== "none" && parseFloat(style.outlineWidth) > 0;
    const layers = [...style.boxShadow.matchAll(/(rgba?\\([^)]*\\))((?:\\s+-?[\\d.]+px)+)/g)];
    const ring = layers.some(([, color, lengths]) => {
        const alpha = color.startsWith("rgba") ? parseFloat(color.split(",")[3]) : 1;
        return alpha > 0 && lengths.trim().split(/\\s+/).some(px => parseFloat(px) !== 0);
    });
    return {
        tag: el.tagName.toLowerCase(),
        name: (el.getAttribute("aria-label") || el.name || el.innerText || "").trim().slice(0, 60),
        focusVisible: el.matches(":focus-visible"),
        visible: outline || ring,
    };
}"""


def tab_until(page: Page, wanted: str, *, backwards: bool = False, limit: int = 60) -> list[dict]:
    """Press Tab (or Shift+Tab) until the focused element's name starts with `wanted`;
    returns what got focus on the way (the last one included)."""
    passed: list[dict] = []
    for _ in range(limit):
        page.keyboard.press("Shift+Tab" if backwards else "Tab")
        focused = page.evaluate(FOCUS_STYLE)
        passed.append(focused)
        if focused["name"].startswith(wanted):
            return passed
    raise AssertionError(f"{wanted!r} never got focus; passed: {[f['name'] for f in passed]}")


@contextmanager
def suggestions_refreshed(page: Page) -> Iterator[None]:
    """Type inside this block; it ends once the suggestions that typing asked for are shown
    (as a person waits for the list to settle before tabbing through it)."""
    with page.expect_response(re.compile(r"/questions/suggest\?")):
        yield
    page.wait_for_load_state("networkidle")


def test_keyboard_only_teacher_asks_a_question(
    new_context: NewContext, teacher_storage_state: StorageState, results_dir: Path
) -> None:
    page = new_context(storage_state=teacher_storage_state).new_page()
    page.goto("/questions")
    page.locator("body").focus()
    passed = tab_until(page, "Poser une question")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/questions/new$"))

    title = f"Micro coupé dans Teams pendant mon cours {RUN}"
    passed += tab_until(page, "title")
    with suggestions_refreshed(page):
        page.keyboard.type(title, delay=5)
    expect(page.locator("#suggestions").get_by_role("link").first).to_be_visible()
    passed += tab_until(page, "body")
    with suggestions_refreshed(page):
        page.keyboard.type("Les étudiants ne m'entendent plus après dix minutes.", delay=2)
    # Back up to correct the title, then forward again, past the suggestions, to send.
    passed += tab_until(page, "title", backwards=True)
    page.keyboard.press("End")
    with suggestions_refreshed(page):
        page.keyboard.type(" (Windows)")
    passed += tab_until(page, "Envoyer la question")
    page.screenshot(path=results_dir / "journey-keyboard-ask.png", full_page=True)
    page.keyboard.press("Enter")

    expect(page).to_have_url(re.compile(r"/questions/\d+$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(title + " (Windows)")
    expect(page.get_by_text("Les étudiants ne m'entendent plus")).to_be_visible()
    hidden = [f for f in passed if not (f["focusVisible"] and f["visible"])]
    assert hidden == [], f"focus not visible on: {hidden}"
    assert {f["tag"] for f in passed} >= {"a", "input", "textarea", "button"}
