"""The outbox: messages written with the change they announce, delivered once over a real
SMTP server (aiosmtpd on 127.0.0.1), retried through an outage, visible on the pages."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from hub import outbox
from hub.errors import InvalidInput
from hub.models import Role, utcnow
from hub.outbox import OutboxMessage, OutboxStatus, deliver_due
from hub.settings import Settings
from hub.transports import configured_transports, deliver_outbox
from tests import html
from tests.factories import make_department, make_user, sign_in
from tests.smtp_server import SmtpServer

ICS = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nMETHOD:REQUEST\r\n"
    "BEGIN:VEVENT\r\nUID:1@test\r\nDTSTAMP:20261122T100000Z\r\nDTSTART:20261124T140000Z\r\n"
    "SUMMARY:Webinaire Teams\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
)


@pytest.fixture
def smtp_settings(make_settings: Any, database_url: str, smtp_server: SmtpServer) -> Settings:
    return make_settings(
        database_url=database_url,
        smtp_host="127.0.0.1",
        smtp_port=smtp_server.port,
        smtp_security="none",
        smtp_from="Hub de crise <hub@college.example>",
    )


def deliver(engine: Engine, settings: Settings, **kwargs: Any) -> outbox.DeliveryReport:
    transports = configured_transports(settings)
    try:
        return deliver_due(engine, transports, **kwargs)
    finally:
        for transport in transports.values():
            transport.close()


def queue(db: Session, **overrides: Any) -> OutboxMessage:
    values: dict[str, Any] = {
        "to": "prof@college.example",
        "subject": "Votre question a reçu une réponse",
        "text": "Bonjour,\nune réponse vous attend.",
        "kind": "test",
    }
    values.update(overrides)
    message = outbox.enqueue_mail(db, **values)
    assert message is not None
    db.commit()
    return message


def rows(db: Session) -> list[OutboxMessage]:
    db.expire_all()
    return list(db.exec(select(OutboxMessage).order_by(OutboxMessage.id)))  # type: ignore[arg-type]


def test_a_rolled_back_change_sends_nothing(db: Session) -> None:
    outbox.enqueue_mail(db, to="a@college.example", subject="s", text="t", kind="test")
    db.rollback()
    assert rows(db) == []


def test_mail_is_delivered_once_with_its_headers(
    db: Session, engine: Engine, smtp_settings: Settings, smtp_server: SmtpServer
) -> None:
    message = queue(db, html="<p>Bonjour</p>")
    report = deliver(engine, smtp_settings)
    assert (report.sent, report.failed) == (1, 0)
    assert deliver(engine, smtp_settings).sent == 0  # nothing sent twice
    [received] = smtp_server.messages
    assert received["To"] == "prof@college.example"
    assert received["Subject"] == "Votre question a reçu une réponse"
    assert message.reference in received["Message-ID"]
    assert received.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in received.iter_parts()] == [
        "text/plain",
        "text/html",
    ]
    [stored] = rows(db)
    assert stored.status == OutboxStatus.sent
    assert stored.sent_at is not None
    assert stored.external_id == received["Message-ID"]


def test_calendar_part_carries_the_same_method_as_the_body(
    db: Session, engine: Engine, smtp_settings: Settings, smtp_server: SmtpServer
) -> None:
    queue(db, calendar_method="REQUEST", calendar_ics=ICS)
    deliver(engine, smtp_settings)
    [received] = smtp_server.messages
    calendar = [p for p in received.walk() if p.get_content_type() == "text/calendar"]
    assert len(calendar) == 1
    assert calendar[0].get_param("method") == "REQUEST"
    assert "METHOD:REQUEST" in calendar[0].get_content()


def test_subject_cannot_inject_headers(
    db: Session, engine: Engine, smtp_settings: Settings, smtp_server: SmtpServer
) -> None:
    queue(db, subject="Webinaire\r\nBcc: espion@evil.example\r\n\r\ncorps")
    deliver(engine, smtp_settings)
    [received] = smtp_server.messages
    assert received["Bcc"] is None
    assert received["Subject"] == "Webinaire Bcc: espion@evil.example corps"
    [(_, recipients)] = smtp_server.mailbox.envelopes
    assert recipients == ["prof@college.example"]


@pytest.mark.parametrize(
    "address", ["", "pas-une-adresse", "a@b.example\r\nBcc: c@d.example", "a@b.example, c@d.ex"]
)
def test_bad_addresses_are_refused_when_queued(db: Session, address: str) -> None:
    with pytest.raises(InvalidInput):
        outbox.enqueue_mail(db, to=address, subject="s", text="t", kind="test")


def test_outage_then_recovery_delivers_every_message_once(
    db: Session, engine: Engine, smtp_settings: Settings, smtp_server: SmtpServer
) -> None:
    for number in range(3):
        queue(db, subject=f"Message {number}")
    smtp_server.stop()
    now = utcnow()
    report = deliver(engine, smtp_settings, now=lambda: now)
    assert (report.sent, report.retried) == (0, 3)
    pending = rows(db)
    assert {m.status for m in pending} == {OutboxStatus.pending}
    assert all("unreachable" in (m.last_error or "") for m in pending)
    assert all(m.next_attempt_at > now for m in pending)

    smtp_server.start()
    assert deliver(engine, smtp_settings, now=lambda: now).sent == 0  # not due yet
    later = now + timedelta(minutes=5)
    assert deliver(engine, smtp_settings, now=lambda: later).sent == 3
    assert deliver(engine, smtp_settings, now=lambda: later + timedelta(hours=1)).sent == 0
    assert sorted(m["Subject"] for m in smtp_server.messages) == [
        "Message 0",
        "Message 1",
        "Message 2",
    ]


def test_a_refused_recipient_is_a_visible_failure_that_can_be_retried(
    db: Session,
    engine: Engine,
    smtp_settings: Settings,
    smtp_server: SmtpServer,
    client: TestClient,
) -> None:
    smtp_server.mailbox.refuse.add("parti@college.example")
    message = queue(db, to="parti@college.example")
    assert deliver(engine, smtp_settings).failed == 1
    [failed] = rows(db)
    assert failed.status == OutboxStatus.failed
    assert "refused" in (failed.last_error or "")

    team = make_user(db, Role.elearning)
    sign_in(client, team)
    page = client.get("/admin/outbox?status=failed")
    assert "parti@college.example" in html.text(page, "table:not(.counts) tbody")
    detail = client.get(f"/admin/outbox/{message.id}")
    retry = html.one(detail, f"form[action='/admin/outbox/{message.id}/retry']")
    assert html.text(retry, "button") == "Renvoyer"
    csrf = html.form_values(retry)["csrf_token"]
    response = client.post(f"/admin/outbox/{message.id}/retry", data={"csrf_token": csrf})
    assert response.status_code == 303
    smtp_server.mailbox.refuse.clear()
    assert deliver(engine, smtp_settings).sent == 1
    assert [m["To"] for m in smtp_server.messages] == ["parti@college.example"]


def test_concurrent_senders_never_send_a_message_twice(
    db: Session, engine: Engine, smtp_settings: Settings, smtp_server: SmtpServer
) -> None:
    for number in range(20):
        queue(db, subject=f"Rappel {number}")
    barrier = threading.Barrier(3)
    errors: list[BaseException] = []

    def sender() -> None:
        try:
            barrier.wait()
            deliver(engine, smtp_settings)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=sender) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    subjects = sorted(m["Subject"] for m in smtp_server.messages)
    assert subjects == sorted(f"Rappel {n}" for n in range(20))
    assert {m.status for m in rows(db)} == {OutboxStatus.sent}


def test_a_message_abandoned_by_a_dead_sender_is_sent_after_its_lease(
    db: Session, engine: Engine, smtp_settings: Settings, smtp_server: SmtpServer
) -> None:
    message = queue(db)
    claimed = outbox._claim(engine, message.id or 0, utcnow())  # a sender that then died
    assert claimed is not None
    assert deliver(engine, smtp_settings).sent == 0  # still leased
    later = utcnow() + outbox.LEASE + timedelta(seconds=1)
    assert deliver(engine, smtp_settings, now=lambda: later).sent == 1
    assert len(smtp_server.messages) == 1


def test_dedupe_key_queues_a_message_once(db: Session) -> None:
    first = outbox.enqueue_mail(
        db, to="a@college.example", subject="s", text="t", kind="test", dedupe_key="k1"
    )
    second = outbox.enqueue_mail(
        db, to="a@college.example", subject="s", text="t", kind="test", dedupe_key="k1"
    )
    db.commit()
    assert first is not None and second is None
    assert len(rows(db)) == 1


def test_without_smtp_mail_stays_readable_in_the_outbox(
    db: Session, engine: Engine, settings: Settings, client: TestClient
) -> None:
    make_department(db)
    teacher = make_user(db, Role.teacher)
    other = make_user(db, Role.teacher)
    mine = outbox.enqueue_user_mail(
        db,
        teacher,
        subject="Invitation : webinaire",
        text="Vous êtes inscrit.",
        kind="test",
        calendar_method="REQUEST",
        calendar_ics=ICS,
    )
    theirs = outbox.enqueue_user_mail(
        db, other, subject="Pour quelqu'un d'autre", text="x", kind="t"
    )
    db.commit()
    assert mine is not None and theirs is not None
    assert deliver_outbox(engine, settings).sent == 0
    assert {m.status for m in rows(db)} == {OutboxStatus.pending}

    sign_in(client, teacher)
    page = client.get("/account/messages")
    assert "Invitation : webinaire" in html.text(page, ".message-list")
    assert "Pour quelqu" not in html.text(page)
    assert client.get(f"/account/messages/{theirs.id}").status_code == 404
    invite = client.get(f"/account/messages/{mine.id}/invite.ics")
    assert invite.status_code == 200
    assert invite.headers["content-type"].startswith("text/calendar")
    assert "METHOD:REQUEST" in invite.text
    assert client.get("/admin/outbox").status_code == 403


def test_sent_mail_page_lists_and_filters(db: Session, client: TestClient) -> None:
    team = make_user(db, Role.elearning)
    queue(db, subject="Premier")
    outbox.enqueue_teams(
        db,
        recipient=outbox.TEAMS_CRISIS,
        subject="Annonce",
        html="<p>Annonce</p>",
        text="Annonce",
        kind="test",
    )
    db.commit()
    sign_in(client, team)
    page = client.get("/admin/outbox")
    assert page.status_code == 200
    listed = html.text(page, "table:not(.counts) tbody")
    assert "Premier" in listed and "Annonce" in listed
    assert "HUB_SMTP_HOST" in html.text(page, ".notice")  # says why mail is not sent
    only_teams = client.get("/admin/outbox?channel=teams")
    assert "Annonce" in html.text(only_teams, "table:not(.counts) tbody")
    assert "Premier" not in html.text(only_teams)
