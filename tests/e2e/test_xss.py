"""Stored XSS rendered inert in Chromium, and the security headers on every kind of answer.

A hub of its own (the shared one stays clean for the other journeys): `hub db upgrade`,
`hub demo load`, then payloads written through the hub's services into every user-writable
field we know of (question title/body/answer/tags, article title/summary/Markdown/tags,
webinar title/description/questions, kind words, people's and departments' names, canned
answers, search queries shown on the gaps page), and the pages showing them opened in
Chromium as the e-learning team (who sees everything) and a teacher. No script may run:
`window.__xss` stays undefined and no dialog opens.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Dialog, Page
from sqlmodel import select

from hub import kind_words
from hub.db import make_engine, session_scope
from hub.models import Department, Role, User, id_of, utcnow
from hub.people import create_department, create_user, get_user_by_email
from hub.questions import answers, asking, canned
from hub.settings import load_settings
from kb.articles import ArticleInput, save_article
from tests.hub_server import free_port, hub_env, run_cli, serving
from webinars import questions as webinar_questions
from webinars import registration
from webinars.sessions import SessionInput, create_session

# The invites' sender and links (settings of this test's seeding, not of a served hub).
MAIL_SETTINGS = load_settings(_env_file=None, env="test")

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

SCRIPT = "<script>window.__xss=1</script>"
IMG = '<img src=x onerror="window.__xss=1">'
SVG = '"><svg onload=window.__xss=1>'
ATTR = "' onmouseover='window.__xss=1' x='"
ALL = f"{SCRIPT}{IMG}{SVG}{ATTR}"
MARKDOWN = (
    f"# Titre {SCRIPT}\n\n[clic](javascript:window.__xss=1) "
    "[data](data:text/html,<script>window.__xss=1</script>) "
    f"![img](x){{onerror=window.__xss=1}}\n\n{IMG}\n\n<iframe src=javascript:window.__xss=1>"
    f"</iframe>\n\n- [ ] case {SVG}\n"
)
TEAM_EMAIL = "equipe.elearning@demo.hub.example"
TEACHER_EMAIL = "enseignant@demo.hub.example"


@dataclass(frozen=True)
class XssHub:
    base_url: str
    question_id: int
    webinar_id: int
    slug: str


def _seed(database_url: str, data_dir: Path) -> tuple[int, int]:
    engine = make_engine(database_url)
    try:
        with session_scope(engine) as db:
            team = get_user_by_email(db, TEAM_EMAIL)
            teacher = get_user_by_email(db, TEACHER_EMAIL)
            assert team and teacher
            teacher.name = f"Marc {SCRIPT}{IMG}"
            db.add(teacher)
            department = db.exec(select(Department).where(Department.code == "SCI")).one()
            department.name = f"Sciences {SVG}"
            db.add(department)
            create_department(db, code="XSS", name=f"Dept {ALL}")
            create_user(
                db,
                email="eve@demo.hub.example",
                name=f"Eve {ALL}",
                role=Role.referent,
                departments=["SCI"],
            )
            db.flush()
            question = asking.ask(
                db,
                actor=teacher,
                title=f"Quiz {ALL}",
                body=f"Corps {ALL}",
                data_dir=data_dir,
                base_url="",
            )
            referent = db.exec(select(User).where(User.email == "eve@demo.hub.example")).one()
            answers.answer(
                db,
                actor=referent,
                question_id=id_of(question),
                body=f"Réponse {ALL}\n[lien](javascript:window.__xss=1)",
                data_dir=data_dir,
                base_url="",
            )
            answers.answer(
                db,
                actor=referent,
                question_id=id_of(question),
                body=f"Note {ALL}",
                internal=True,
                data_dir=data_dir,
                base_url="",
            )
            # Question tags are letters and digits only (validated), so no payload there.
            save_article(
                db,
                ArticleInput(
                    slug="xss-article",
                    title=f"Article {ALL}",
                    kind="checklist",
                    audience="teacher",
                    summary=f"Résumé {ALL}",
                    body=MARKDOWN,
                    tags=[f"t{SVG}", f"u{IMG}"],
                    status="published",
                ),
                actor=team,
            )
            webinar = create_session(
                db,
                actor=team,
                data=SessionInput(
                    title=f"Webinaire {SCRIPT}",
                    starts_at=(utcnow() + timedelta(days=2)).replace(second=0, microsecond=0),
                    duration_minutes=60,
                    capacity=30,
                    description=f"Description {ALL}",
                    join_url="",
                ),
            )
            db.flush()
            registration.register(db, id_of(webinar), actor=teacher, settings=MAIL_SETTINGS)
            webinar_questions.ask(db, id_of(webinar), f"Question {ALL}", actor=teacher)
            word = kind_words.leave(db, actor=teacher, body=f"Merci {ALL}", share_on_teams=False)
            kind_words.moderate(db, id_of(word), actor=team, approve=True)
            kind_words.leave(db, actor=teacher, body=f"En attente {ALL}", share_on_teams=False)
            canned.save_canned(
                db, actor=team, canned_id=None, title=f"Modèle {IMG}{SVG}", body=f"Texte {ALL}"
            )
            return id_of(question), id_of(webinar)
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def xss_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[XssHub]:
    root = tmp_path_factory.mktemp("xss-hub")
    data_dir = root / "var"
    data_dir.mkdir()
    port = free_port()
    database_url = f"sqlite:///{data_dir / 'hub.sqlite3'}"
    env = hub_env(database_url, data_dir, demo="1")
    run_cli(env, root, "db", "upgrade")
    run_cli(env, root, "demo", "load")
    question_id, webinar_id = _seed(database_url, data_dir)
    with serving(env, root, port) as server:
        yield XssHub(server.base_url, question_id, webinar_id, "xss-article")


def _signed_in_page(browser: Browser, hub: XssHub, email: str) -> Page:
    context = browser.new_context(base_url=hub.base_url)
    page = context.new_page()
    page.goto("/login")
    page.locator(f"form[action='/login/demo']:has(input[value='{email}']) button").click()
    page.wait_for_load_state()
    return page


def _assert_inert(page: Page, path: str, dialogs: list[str]) -> None:
    response = page.goto(path)
    assert response is not None and response.status < 400, (path, response and response.status)
    page.wait_for_load_state("load")
    page.mouse.move(10, 10)
    for link in page.locator("a[href^='javascript:' i]").all():
        pytest.fail(f"{path}: a javascript: link survived: {link.get_attribute('href')}")
    assert page.evaluate("typeof window.__xss") == "undefined", path
    assert not dialogs, (path, dialogs)


def _recorder(seen: list[str]) -> Callable[[Dialog], None]:
    def record(dialog: Dialog) -> None:
        seen.append(dialog.message)
        dialog.dismiss()

    return record


def test_stored_payloads_never_run(browser: Browser, xss_hub: XssHub) -> None:
    searched = urllib.parse.quote(f"zzq {ALL}")
    team_pages = [
        "/",
        "/kb",
        f"/kb/{xss_hub.slug}",
        f"/kb/{xss_hub.slug}/print",
        f"/kb/{xss_hub.slug}/edit",
        f"/kb/{xss_hub.slug}/revisions",
        f"/kb?q={searched}",
        "/kb/gaps",  # the query above was logged without results
        f"/questions/{xss_hub.question_id}",
        "/queues/SCI",
        "/queues/elearning",
        "/queues/canned",
        "/webinars",
        f"/webinars/{xss_hub.webinar_id}",
        f"/webinars/{xss_hub.webinar_id}/edit",
        "/kind-words",
        "/admin/people",
        "/departments",
        "/departments/XSS",
        "/departments/SCI",
        "/admin/outbox",
        "/dashboard",
        f"/exams?q={searched}",
    ]
    teacher_pages = [
        "/",
        f"/questions/{xss_hub.question_id}",
        "/questions",
        f"/kb/{xss_hub.slug}",
        "/kind-words",
        "/account/messages",
        f"/webinars/{xss_hub.webinar_id}",
    ]
    for email, pages in ((TEAM_EMAIL, team_pages), (TEACHER_EMAIL, teacher_pages)):
        page = _signed_in_page(browser, xss_hub, email)
        dialogs: list[str] = []
        page.on("dialog", _recorder(dialogs))
        for path in pages:
            _assert_inert(page, path, dialogs)
            if path in (f"/questions/{xss_hub.question_id}", f"/kb/{xss_hub.slug}"):
                assert "window.__xss=1" in page.inner_text("main")  # shown, as text
        page.context.close()


def test_security_headers_on_pages_partials_api_and_errors(
    browser: Browser, xss_hub: XssHub
) -> None:
    page = _signed_in_page(browser, xss_hub, TEAM_EMAIL)
    request = page.context.request
    answers_ = {
        "page": request.get("/"),
        "partial": request.get("/kb/suggest?q=quiz", headers={"HX-Request": "true"}),
        "api": request.get("/api/exams"),
        "api error": request.get("/api/me", headers={"Authorization": "Bearer nope"}),
        "404": request.get("/nowhere"),
        "403 csrf": request.post("/logout"),
        "413": request.post("/kb/preview", data="x" * (13 * 1024 * 1024)),
        "static": request.get("/static/hub.css"),
    }
    for name, response in answers_.items():
        headers = response.headers
        csp = headers.get("content-security-policy", "")
        directives = {d.strip().split(" ")[0]: d.strip() for d in csp.split(";") if d.strip()}
        script = directives.get("script-src", directives.get("default-src", ""))
        assert script and "'unsafe-inline'" not in script and "'unsafe-eval'" not in script, (
            name,
            csp,
        )
        assert "frame-ancestors 'none'" in csp or headers.get("x-frame-options") == "DENY", name
        assert headers.get("x-content-type-options") == "nosniff", name
        assert headers.get("referrer-policy"), name
    page.context.close()
