"""Crisis mode: the switch (page and CLI) shows a banner everywhere, pins articles on each
role's home page, switches escalation to the crisis profile, queues the announcement, can
create the webinar series from its template, and is logged."""

from __future__ import annotations

from typing import Any

from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from hub.cli import main
from hub.crisis.mode import CrisisSwitch
from hub.crisis.state import crisis_active
from hub.models import Role
from hub.outbox import OutboxMessage
from hub.settings import Settings
from kb.articles import ArticleInput, save_article
from tests import html
from tests.factories import csrf_from, make_department, make_user, sign_in
from webinars.models import WebinarSession


def article(db: Session, slug: str, title: str, audience: str = "everyone") -> None:
    team = make_user(db, Role.elearning)
    save_article(
        db,
        ArticleInput(
            slug=slug,
            title=title,
            kind="checklist",
            audience=audience,
            body="- [ ] première étape\n- [ ] deuxième étape",
            summary=f"Résumé de {title}",
            status="published",
        ),
        actor=team,
    )
    db.commit()


def post(client: TestClient, url: str, data: dict[str, Any], page: str = "/crisis") -> Any:
    token = csrf_from(client.get(page).text)
    return client.post(url, data={**data, "csrf_token": token})


def messages(db: Session) -> list[OutboxMessage]:
    db.rollback()
    return list(db.exec(select(OutboxMessage).order_by(OutboxMessage.id)))  # type: ignore[arg-type]


def test_switching_on_shows_banner_pins_announces_and_logs(db: Session, client: TestClient) -> None:
    make_department(db)
    article(db, "crise-etudiants", "Examens : ce qui change")
    article(db, "crise-enseignants", "Basculer à distance en une heure")
    team = make_user(db, Role.elearning, name="Claire Équipe")
    teacher = make_user(db, Role.teacher)
    make_user(db, Role.student)
    sign_in(client, team)

    response = post(
        client,
        "/crisis/pins",
        {"student": "crise-etudiants", "teacher": "crise-enseignants", "referent": ""},
    )
    assert response.status_code == 303
    assert not crisis_active(db)
    response = post(
        client,
        "/crisis/switch",
        {
            "action": "on",
            "message": "Campus fermé : tous les cours passent à distance dès lundi.",
            "announce_teams": "true",
            "announce_mail": "true",
        },
    )
    assert response.status_code == 303
    db.rollback()
    assert crisis_active(db)

    page = client.get("/crisis")
    assert "Campus fermé : tous les cours passent à distance dès lundi." in html.text(
        page, "#switch"
    )
    assert "Claire Équipe" in html.text(page, "table tbody tr")  # the log says who

    queued = messages(db)
    teams = [m for m in queued if m.channel == "teams"]
    mails = [m for m in queued if m.channel == "email"]
    assert [m.kind for m in teams] == ["crisis.on"]
    assert "Campus fermé" in (teams[0].body_html or "")
    staff = {teacher.email, team.email}
    assert staff <= {m.recipient for m in mails}
    assert all("student" not in m.recipient for m in mails)  # staff only

    [entry] = db.exec(select(CrisisSwitch)).all()
    assert entry.active and entry.actor_id == team.id and entry.announced_mail == len(mails)

    # Every page carries the banner, for everyone, signed in or not.
    client.post("/logout", data={"csrf_token": csrf_from(page.text)})
    for path in ("/", "/kb", "/exams", "/start"):
        assert "Campus fermé" in html.text(client.get(path), ".crisis-banner"), path
    home = client.get("/")
    assert "Examens : ce qui change" in html.text(home, ".pinned")  # the student pin, public
    assert "Basculer à distance en une heure" not in html.text(home)
    sign_in(client, teacher)
    assert "Basculer à distance en une heure" in html.text(client.get("/"), ".pinned")


def test_switching_off_removes_the_banner_and_the_pins(db: Session, client: TestClient) -> None:
    article(db, "crise-etudiants", "Examens : ce qui change")
    team = make_user(db, Role.elearning)
    sign_in(client, team)
    post(client, "/crisis/pins", {"student": "crise-etudiants"})
    post(client, "/crisis/switch", {"action": "on", "message": "Inondation du bâtiment B"})
    assert "Inondation du bâtiment B" in html.text(client.get("/kb"), ".crisis-banner")
    post(client, "/crisis/switch", {"action": "off"})
    db.rollback()
    assert not crisis_active(db)
    assert "Inondation du bâtiment B" not in html.text(client.get("/kb"))
    assert "Examens : ce qui change" not in html.text(client.get("/"))
    log = db.exec(select(CrisisSwitch).order_by(CrisisSwitch.id)).all()  # type: ignore[arg-type]
    assert [e.active for e in log] == [True, False]
    assert [m.kind for m in messages(db)] == []  # both switches without announcement


def test_a_message_is_required_and_bad_pins_are_explained(db: Session, client: TestClient) -> None:
    team = make_user(db, Role.elearning)
    sign_in(client, team)
    response = post(client, "/crisis/switch", {"action": "on", "message": "  "})
    assert response.status_code == 422
    assert "le bandeau a besoin d'un message" in html.text(response, "#message-error")
    typed = {"teacher": "article-qui-n-existe-pas", "student": "encore-un-brouillon-tape"}
    response = post(client, "/crisis/pins", typed)
    assert response.status_code == 422
    assert "article introuvable : article-qui-n-existe-pas" in html.text(
        response, "#pins_teacher-error"
    )
    # Nothing typed is lost: both boxes come back as typed, not as last saved.
    pins = html.form_values(response, "form[action='/crisis/pins']")
    assert pins["student"] == "encore-un-brouillon-tape"
    assert pins["teacher"] == "article-qui-n-existe-pas"
    client.get("/lang/en")
    response = post(client, "/crisis/pins", typed)
    assert "article not found: article-qui-n-existe-pas" in html.text(
        response, "#pins_teacher-error"
    )
    assert not crisis_active(db)


def test_only_the_elearning_team_may_switch(db: Session, client: TestClient) -> None:
    make_department(db)
    referent = make_user(db, Role.referent)
    sign_in(client, referent)
    assert client.get("/crisis").status_code == 403
    token = csrf_from(client.get("/").text)
    response = client.post(
        "/crisis/switch", data={"action": "on", "message": "x", "csrf_token": token}
    )
    assert response.status_code == 403
    assert not crisis_active(db)


def test_crisis_switches_escalation_to_the_crisis_profile(
    db: Session, client: TestClient, settings: Settings
) -> None:
    from hub.questions.sla import profile

    normal = profile(db, settings)
    team = make_user(db, Role.elearning)
    sign_in(client, team)
    post(client, "/crisis/switch", {"action": "on", "message": "Grève des transports"})
    db.rollback()
    crisis = profile(db, settings)
    assert crisis.crisis and not normal.crisis
    assert crisis.referent_hours < normal.referent_hours


def test_switch_creates_the_webinar_series_from_the_template(
    db: Session, client: TestClient
) -> None:
    team = make_user(db, Role.elearning)
    sign_in(client, team)
    response = post(
        client,
        "/crisis/switch",
        {"action": "on", "message": "Confinement", "create_webinars": "true"},
    )
    assert response.status_code == 422  # no template yet: said, and nothing switched
    assert "modèle" in html.text(response, "#create_webinars-error")
    assert not crisis_active(db)

    response = post(
        client,
        "/crisis/template",
        {
            "title": "Enseigner à distance : questions-réponses",
            "pattern": "mar 15:00, mer 10:00, jeu 15:00",
            "duration_minutes": "60",
            "capacity": "250",
            "weeks": "2",
        },
    )
    assert response.status_code == 303
    response = post(
        client,
        "/crisis/switch",
        {"action": "on", "message": "Confinement", "create_webinars": "true"},
    )
    assert response.status_code == 303
    db.rollback()
    sessions = db.exec(select(WebinarSession)).all()
    assert 5 <= len(sessions) <= 6  # three a week for two weeks, from today
    assert {s.title for s in sessions} == {"Enseigner à distance : questions-réponses"}
    [entry] = db.exec(select(CrisisSwitch)).all()
    assert entry.webinars_created == len(sessions)


def test_template_errors_keep_what_was_typed(db: Session, client: TestClient) -> None:
    team = make_user(db, Role.elearning)
    sign_in(client, team)
    response = post(
        client,
        "/crisis/template",
        {"title": "Série", "pattern": "n'importe quoi", "duration_minutes": "soixante"},
    )
    assert response.status_code == 422
    assert html.form_values(response, "form[action='/crisis/template']")["pattern"] == (
        "n'importe quoi"
    )
    assert "nombre entier attendu" in html.text(response, "#duration_minutes-error")


def test_cli_switch_on_and_off_is_logged(settings: Settings, db: Session, monkeypatch: Any) -> None:
    for name, value in {
        "HUB_DATABASE_URL": settings.effective_database_url,
        "HUB_ENV": "test",
        "HUB_SECRET_KEY": settings.secret_key,
    }.items():
        monkeypatch.setenv(name, value)
    runner = CliRunner()
    result = runner.invoke(main, ["crisis", "on", "--message", "Tempête : campus fermé"])
    assert result.exit_code == 0, result.output
    assert "crisis mode ON" in result.output
    status = runner.invoke(main, ["crisis", "status"])
    assert "Tempête : campus fermé" in status.output
    result = runner.invoke(main, ["crisis", "off", "--no-teams"])
    assert result.exit_code == 0, result.output
    assert "crisis mode OFF" in runner.invoke(main, ["crisis", "status"]).output
    log = db.exec(select(CrisisSwitch).order_by(CrisisSwitch.id)).all()  # type: ignore[arg-type]
    assert [(e.active, e.actor_label.startswith("cli:")) for e in log] == [
        (True, True),
        (False, True),
    ]
    assert [m.kind for m in messages(db)] == ["crisis.on"]
    missing = runner.invoke(main, ["crisis", "on", "--message", ""])
    assert missing.exit_code != 0 and "message" in missing.output
