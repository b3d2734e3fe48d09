"""Pages and JSON API of the webinars, through the real app (both databases)."""

from __future__ import annotations

from datetime import timedelta

import vobject
from fastapi.testclient import TestClient
from icalendar import Calendar
from sqlmodel import Session, select

from hub.models import Role, User, utcnow
from hub.outbox import OutboxMessage
from hub.settings import Settings
from hub.tokens import create_token
from kb.models import Article
from tests import html
from tests.factories import make_user, post_form, sign_in
from tests.webinars.helpers import mails, make_webinar, teachers, team
from webinars.invites import LOCAL_TIME
from webinars.models import WebinarSession
from webinars.registration import counts, register


def _bearer(db: Session, user: User) -> dict[str, str]:
    _, secret = create_token(db, user=user)
    db.commit()
    return {"Authorization": f"Bearer {secret}"}


def test_api_contract(client: TestClient, db: Session) -> None:
    staff = _bearer(db, team(db))
    teacher, other = teachers(db, 2)
    local = (
        (utcnow() + timedelta(days=5))
        .astimezone(LOCAL_TIME)
        .replace(hour=15, minute=0, second=0, microsecond=0, tzinfo=None)
    )
    body = {
        "title": "Moodle : les tests",
        "starts_at": local.isoformat(timespec="minutes"),
        "duration_minutes": 45,
        "capacity": 1,
    }
    created = client.post("/api/webinars", json=body, headers=staff)
    assert created.status_code == 201, created.text
    webinar_id = created.json()["id"]
    assert created.json()["starts_at"].startswith(local.isoformat(timespec="minutes"))
    assert created.json()["description"] == ""

    forbidden = client.post("/api/webinars", json=body, headers=_bearer(db, teacher))
    assert forbidden.status_code == 403 and "detail" in forbidden.json()
    hostile = client.post(
        "/api/webinars", json={**body, "title": "x\r\nATTENDEE:mailto:e@x.org"}, headers=staff
    )
    assert hostile.status_code == 422 and "detail" in hostile.json()
    bad_date = client.post("/api/webinars", json={**body, "starts_at": "demain"}, headers=staff)
    assert bad_date.status_code == 422 and "detail" in bad_date.json()

    listed = client.get("/api/webinars", headers=staff).json()
    assert [item["id"] for item in listed] == [webinar_id]

    first = client.post(f"/api/webinars/{webinar_id}/registrations", headers=_bearer(db, teacher))
    assert first.status_code == 201 and first.json()["status"] == "registered"
    second = client.post(f"/api/webinars/{webinar_id}/registrations", headers=_bearer(db, other))
    assert second.status_code == 202 and second.json()["waitlist_position"] == 1
    detail = client.get(f"/api/webinars/{webinar_id}", headers=staff).json()
    assert (detail["registered"], detail["waitlisted"]) == (1, 1)

    left = client.delete(f"/api/webinars/{webinar_id}/registrations", headers=_bearer(db, teacher))
    assert left.status_code == 200
    detail = client.get(f"/api/webinars/{webinar_id}", headers=staff).json()
    assert (detail["registered"], detail["waitlisted"]) == (1, 0)
    again = client.delete(f"/api/webinars/{webinar_id}/registrations", headers=_bearer(db, teacher))
    assert again.status_code == 404 and "detail" in again.json()
    assert client.get("/api/webinars/999999", headers=staff).status_code == 404
    assert client.get("/api/webinars").status_code == 401


def test_teacher_registers_downloads_asks_and_subscribes(client: TestClient, db: Session) -> None:
    webinar = make_webinar(db, title="Évaluer, « à distance »", capacity=5)
    (teacher,) = teachers(db, 1)
    sign_in(client, teacher)
    listing = client.get("/webinars")
    assert "Évaluer, « à distance »" in html.text(listing, "main tbody")
    page = f"/webinars/{webinar.id}"
    response = post_form(client, f"{page}/register", {}, page=page)
    assert response.status_code == 303
    assert "Vous êtes inscrit·e." in html.text(client.get(page), ".webinar-status")
    db.commit()
    assert counts(db, webinar.id or 0) == (1, 0)

    download = client.get(f"{page}/invite.ics")
    assert download.headers["content-type"].startswith("text/calendar")
    calendar = Calendar.from_ical(download.content)
    assert str(calendar["METHOD"]) == "PUBLISH"
    assert str(calendar.events[0]["UID"]) == webinar.uid

    asked = post_form(client, f"{page}/questions", {"text": "Comment noter un quiz ?"}, page=page)
    assert asked.status_code == 303
    empty = post_form(client, f"{page}/questions", {"text": "   "}, page=page)
    assert empty.status_code == 422
    asked_page = client.get(page)
    assert html.texts(asked_page, ".webinar-questions .question-text") == [
        "Comment noter un quiz ?"
    ]
    vote = str(html.one(asked_page, ".webinar-questions form")["action"])
    assert vote.startswith("/webinars/questions/") and vote.endswith("/vote")
    post_form(client, vote, {}, page=page)
    assert html.text(client.get(page), ".webinar-questions button") == "▲ 1"

    # the subscription feed: shown once, works, regenerating kills the old address
    created = post_form(client, "/webinars/calendar/feed", {}, page="/webinars/calendar")
    feed_url = str(html.one(created, "#feed-url")["value"])
    path = feed_url.split("://", 1)[1].split("/", 1)[1]
    feed = client.get(f"/{path}")
    assert feed.status_code == 200
    parsed = vobject.readOne(feed.text)
    assert parsed.method.value == "PUBLISH"
    assert parsed.vevent.summary.value == "Évaluer, « à distance »"
    post_form(client, "/webinars/calendar/feed", {}, page="/webinars/calendar")
    assert client.get(f"/{path}").status_code == 404
    assert client.get("/calendar/not-a-token.ics").status_code == 404

    left = post_form(client, f"{page}/unregister", {}, page=page)
    assert left.status_code == 303
    db.commit()
    assert counts(db, webinar.id or 0) == (0, 0)
    kinds = [m.kind for m in mails(db, to=teacher.email)]
    assert kinds == ["webinar.invite", "webinar.unregistered"]


def test_team_manages_series_sessions_and_after_session(
    client: TestClient, db: Session, settings: Settings
) -> None:
    staff = team(db)
    host = make_user(db, Role.referent)
    sign_in(client, staff)
    start = (utcnow() + timedelta(days=7)).astimezone(LOCAL_TIME).date()
    created = post_form(
        client,
        "/webinars/series/new",
        {
            "title": "Les rendez-vous du numérique",
            "pattern": "mardi 15:00, mercredi 10:00, jeudi 15:00",
            "starts_on": start.isoformat(),
            "ends_on": (start + timedelta(days=13)).isoformat(),
            "duration_minutes": "60",
            "capacity": "40",
            "hosts": host.email,
        },
        page="/webinars/series/new",
    )
    assert created.status_code == 303, html.text(created.text)
    db.commit()
    sessions = db.exec(select(WebinarSession).order_by(WebinarSession.starts_at)).all()
    assert len(sessions) == 6
    bad = post_form(
        client,
        "/webinars/series/new",
        {"title": "", "pattern": "funday", "starts_on": "x", "ends_on": "", "capacity": "1"},
        page="/webinars/series/new",
    )
    assert bad.status_code == 422 and html.select(bad, "[aria-invalid=true]")

    first = sessions[0]
    (teacher,) = teachers(db, 1)
    register(db, first.id or 0, actor=teacher, settings=settings)
    db.commit()
    page = f"/webinars/{first.id}"
    edit = client.get(f"{page}/edit")
    assert edit.status_code == 200
    moved_to = (first.starts_at + timedelta(hours=2)).astimezone(LOCAL_TIME)
    saved = post_form(
        client,
        f"{page}/edit",
        {
            "title": first.title,
            "description": "",
            "starts_at": moved_to.strftime("%Y-%m-%dT%H:%M"),
            "duration_minutes": "60",
            "capacity": "40",
            "hosts": host.email,
        },
        page=f"{page}/edit",
    )
    assert saved.status_code == 303
    assert [m.kind for m in mails(db, to=teacher.email)] == ["webinar.invite", "webinar.update"]

    join = post_form(
        client, f"{page}/join-url", {"join_url": "https://teams.example/l/meet/1"}, page=page
    )
    assert join.status_code == 303
    assert len(mails(db, to=teacher.email, kind="webinar.update")) == 2

    announced = post_form(client, f"{page}/announce", {"scope": "series"}, page=page)
    assert announced.status_code == 303
    db.commit()
    posts = db.exec(select(OutboxMessage).where(OutboxMessage.channel == "teams")).all()
    assert len(posts) == 1 and posts[0].kind == "webinar.announce"
    assert posts[0].recipient == "crisis" and posts[0].body_text.count("\n- ") == 6

    # after the session: attendance, recording, KB video article
    db.expire_all()
    session_row = db.get(WebinarSession, first.id)
    assert session_row is not None
    session_row.starts_at = utcnow() - timedelta(hours=1)
    db.add(session_row)
    db.commit()
    marked = post_form(client, f"{page}/attendance", {"present": str(teacher.id)}, page=page)
    assert marked.status_code == 303
    recorded = post_form(
        client,
        f"{page}/recording",
        {"recording_url": "https://stream.example/v/42", "transcript": "Bonjour à tous."},
        page=page,
    )
    assert recorded.status_code == 303
    published = post_form(client, f"{page}/publish", {}, page=page)
    assert published.status_code == 303
    db.commit()
    article = db.exec(select(Article)).one()
    assert article.kind.value == "video" and article.video_url == "https://stream.example/v/42"
    assert "Bonjour à tous." in article.body
    assert client.get(published.headers["location"]).status_code == 200

    cancelled = post_form(client, f"/webinars/{sessions[1].id}/cancel", {}, page=page)
    assert cancelled.status_code == 303
    cancelled_page = client.get(f"/webinars/{sessions[1].id}")
    assert "Webinaire annulé." in html.text(cancelled_page, ".banner-cancelled")


def test_teachers_cannot_manage(client: TestClient, db: Session) -> None:
    webinar = make_webinar(db)
    (teacher,) = teachers(db, 1)
    sign_in(client, teacher)
    page = f"/webinars/{webinar.id}"
    assert client.get("/webinars/new").status_code == 403
    assert post_form(client, f"{page}/cancel", {}, page=page).status_code == 403
    assert (
        post_form(
            client, f"{page}/join-url", {"join_url": "https://x.example"}, page=page
        ).status_code
        == 403
    )
    assert "Animation" not in html.text(client.get(page))
