"""The readiness page: every check fails when its part is missing and passes once fixed."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from hub.crisis import readiness
from hub.crisis.mode import save_webinar_template, send_test_announcement
from hub.models import Role, User
from hub.outbox import deliver_due
from hub.people import assign_referent
from hub.settings import Settings
from hub.transports import configured_transports
from kb.importer import import_directory
from kb.models import Article
from tests import html
from tests.exam_csv import from_now, load, row
from tests.factories import make_department, make_user, sign_in
from tests.smtp_server import SmtpServer

CONTENT = Path(__file__).resolve().parents[1] / "kb" / "content"


@pytest.fixture
def team(db: Session) -> User:
    return make_user(db, Role.elearning)


def test_departments_need_a_referent_and_a_backup(db: Session, settings: Settings) -> None:
    check = readiness.departments_staffed
    assert not check(db, settings).ready  # no department at all
    science = make_department(db, "SCI")
    main = make_user(db, Role.referent, departments=["SCI"])
    result = check(db, settings)
    assert not result.ready and "SCI (sans suppléant)" in result.detail
    backup = make_user(db, Role.referent, departments=[])
    assign_referent(db, department=science, user=backup, backup=True)
    db.commit()
    assert check(db, settings).ready
    main.is_active = False  # a referent who left does not count
    db.add(main)
    db.commit()
    assert "SCI (sans référent)" in check(db, settings).detail


def test_smtp_reachable(
    db: Session, make_settings: Any, database_url: str, smtp_server: SmtpServer
) -> None:
    check = readiness.smtp_reachable
    assert not check(db, make_settings(database_url=database_url)).ready
    configured = make_settings(
        database_url=database_url,
        smtp_host="127.0.0.1",
        smtp_port=smtp_server.port,
        smtp_security="none",
    )
    assert check(db, configured).ready
    smtp_server.stop()
    down = check(db, configured)
    assert not down.ready and "injoignable" in down.detail


def test_teams_reachable_reports_what_is_missing(
    db: Session, make_settings: Any, database_url: str
) -> None:
    result = readiness.teams_reachable(db, make_settings(database_url=database_url))
    assert not result.ready and "HUB_TEAMS_TEAM_ID" in result.detail
    webhook = make_settings(
        database_url=database_url, teams_webhook_url="https://workflows.example/hook"
    )
    assert readiness.teams_reachable(db, webhook).ready


def test_exam_timetable_imported(db: Session, settings: Settings) -> None:
    assert not readiness.timetable_imported(db, settings).ready
    make_department(db, "SCI")
    load(db, [row(starts_at=from_now(days=2))])
    result = readiness.timetable_imported(db, settings)
    assert result.ready and "1 examens à venir" in result.detail


def test_starter_articles_reviewed_recently(db: Session, settings: Settings) -> None:
    missing = readiness.starter_articles_reviewed(db, settings)
    assert not missing.ready and "(absent)" in missing.detail
    report = import_directory(db, CONTENT)
    assert not report.errors
    today = date.today()
    db.execute(update(Article).values(verified_on=today))
    db.commit()
    assert readiness.starter_articles_reviewed(db, settings).ready
    old = today - timedelta(days=settings.readiness_review_days + 1)
    db.execute(
        update(Article).where(col(Article.slug) == "referent-escalader").values(verified_on=old)
    )
    db.commit()
    stale = readiness.starter_articles_reviewed(db, settings)
    assert not stale.ready
    assert f"referent-escalader (vérifié {old.isoformat()})" in stale.detail


def test_webinar_template_ready(db: Session, settings: Settings, team: User) -> None:
    assert not readiness.webinar_template_ready(db, settings).ready
    save_webinar_template(db, actor=team, title="Questions-réponses", pattern="mar 15:00")
    db.commit()
    assert readiness.webinar_template_ready(db, settings).ready


def test_test_announcement_delivered(
    db: Session,
    engine: Engine,
    make_settings: Any,
    database_url: str,
    smtp_server: SmtpServer,
    team: User,
) -> None:
    settings = make_settings(
        database_url=database_url,
        smtp_host="127.0.0.1",
        smtp_port=smtp_server.port,
        smtp_security="none",
    )
    assert not readiness.test_announcement_delivered(db, settings).ready
    send_test_announcement(db, actor=team)
    db.commit()
    assert not readiness.test_announcement_delivered(db, settings).ready  # queued, not sent
    deliver_due(engine, configured_transports(settings))
    db.rollback()
    result = readiness.test_announcement_delivered(db, settings)
    assert result.ready and "email" in result.detail
    assert [m["Subject"] for m in smtp_server.messages] == ["Test d'annonce du hub de crise"]


def test_readiness_page(db: Session, client: TestClient, team: User) -> None:
    make_department(db, "SCI")
    sign_in(client, team)
    page = client.get("/crisis/readiness")
    assert page.status_code == 200
    assert len(html.select(page, "tr[data-ready=no]")) == len(readiness.CHECKS)
    assert "Chaque département a un référent et un suppléant" in html.texts(
        page, "table.readiness tbody th"
    )
    # each check links to where to fix it
    assert "/exams/import" in html.links(page, "table.readiness tbody a")


def test_readiness_is_for_the_elearning_team(db: Session, client: TestClient) -> None:
    make_department(db, "SCI")
    sign_in(client, make_user(db, Role.referent))
    assert client.get("/crisis/readiness").status_code == 403
