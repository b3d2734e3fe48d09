"""SMTP and Microsoft Graph down for a while, then back: every queued message is delivered,
and delivered once.

The messages are queued by the real services (questions -> the referents' mails and the
department's Teams post; webinar registrations -> invites), delivered by `deliver_due` with
the real SMTP and Teams transports, to a real SMTP server (aiosmtpd) and a fake Graph server
on 127.0.0.1, both stopped and restarted on the same port. A fake clock stands for the hours
of retries. When Graph comes back, its first post lands but the answer is lost, and the
next one gets a 503: the re-send must find the landed post instead of posting it again.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

import hub.teams.transport
from hub import outbox
from hub.models import Role, utcnow
from hub.outbox import OutboxMessage, OutboxStatus
from hub.questions import asking
from hub.settings import Settings
from hub.transports import configured_transports
from tests.factories import make_user
from tests.smtp_server import SmtpServer
from tests.teams.conftest import CHANNEL, TEAM, teams_values
from tests.teams.fake_graph import FakeGraph, _Handler, _Server
from tests.webinars.helpers import make_webinar, team
from webinars import registration

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("reliability")]

QUESTIONS = 3
REGISTRANTS = 3
OUTAGE_PASSES = 4


class Clock:
    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class RestartableGraph:
    """The fake Graph server, stoppable and restartable on the same port (same state)."""

    def __init__(self, graph: FakeGraph) -> None:
        self.graph = graph
        self.server: _Server | None = None

    def start(self) -> None:
        server = _Server(("127.0.0.1", self.graph.port), _Handler)  # port 0 the first time
        server.graph = self.graph
        self.graph.port = server.server_address[1]
        threading.Thread(target=server.serve_forever, daemon=True, name="fake-graph").start()
        self.server = server

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


@pytest.fixture
def graph() -> Iterator[RestartableGraph]:
    fake = FakeGraph()
    fake.add_channel(TEAM, CHANNEL, "Gestion de crise")
    server = RestartableGraph(fake)
    server.start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def no_pacing_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    """At most 4 posts a second per channel: tested elsewhere; not slept here."""
    monkeypatch.setattr(
        hub.teams.transport, "pacer", hub.teams.transport.Pacer(sleep=lambda _: None)
    )


def delivery_pass(engine: Engine, settings: Settings, clock: Clock) -> outbox.DeliveryReport:
    """What the worker's job does, with the fake clock."""
    transports = configured_transports(settings)
    assert set(transports) == {outbox.Channel.email, outbox.Channel.teams}
    try:
        return outbox.deliver_due(engine, transports, now=clock)
    finally:
        for transport in transports.values():
            transport.close()


def rows(db: Session) -> list[OutboxMessage]:
    db.rollback()  # a fresh snapshot: what the deliveries committed
    db.expire_all()
    return list(db.exec(select(OutboxMessage).order_by(col(OutboxMessage.id))))


def queue_messages(db: Session, settings: Settings) -> None:
    """Questions and webinar registrations, through the services, committed like routes do."""
    team(db)  # the SCI department and an e-learning account
    make_user(db, Role.referent, departments=("SCI",))
    asker = make_user(db, Role.teacher)
    for number in range(QUESTIONS):
        asking.ask(
            db,
            actor=asker,
            title=f"Panne n°{number} : le quiz ne s'ouvre pas",
            body="Les étudiants voient une page blanche.",
            data_dir=settings.data_dir,
            base_url=settings.base_url,
        )
        db.commit()
    webinar = make_webinar(db, title="Évaluer en ligne")
    for _ in range(REGISTRANTS):
        teacher = make_user(db, Role.teacher)
        registration.register(db, webinar.id or 0, actor=teacher, settings=settings)
        db.commit()


def test_every_message_delivered_exactly_once_after_smtp_and_graph_outage(
    db: Session,
    engine: Engine,
    make_settings: Any,
    database_url: str,
    smtp_server: SmtpServer,
    graph: RestartableGraph,
) -> None:
    settings = make_settings(
        database_url=database_url,
        smtp_host="127.0.0.1",
        smtp_port=smtp_server.port,
        smtp_security="none",
        smtp_timeout_seconds=5,
        **teams_values(graph.graph),
    )
    smtp_server.stop()
    graph.stop()

    queue_messages(db, settings)
    queued = rows(db)
    kinds = Counter((m.channel, m.kind) for m in queued)
    assert kinds[("email", "question.new")] == QUESTIONS  # one referent of SCI
    assert kinds[("teams", "question.new")] == QUESTIONS
    assert kinds[("email", "webinar.invite")] == REGISTRANTS
    assert all(m.status == OutboxStatus.pending.value for m in queued)

    # Down: every pass fails, nothing is lost, a retry is scheduled each time.
    clock = Clock()
    for number in range(1, OUTAGE_PASSES + 1):
        report = delivery_pass(engine, settings, clock)
        assert (report.sent, report.failed) == (0, 0), report.errors
        assert report.retried == len(queued)
        for message in rows(db):
            assert message.status == OutboxStatus.pending.value
            assert message.attempts == number
            assert message.next_attempt_at > clock.now and message.last_error
        assert delivery_pass(engine, settings, clock).retried == 0  # not due again yet
        clock.advance(hours=1)
    assert not smtp_server.messages and not graph.graph.posted(TEAM, CHANNEL)

    # Back (the same ports); Graph's first post lands but its answer is lost, then a 503.
    smtp_server.start()
    graph.graph.then("POST", "messages", "land-then-drop", "503")
    graph.start()
    for _ in range(4):
        delivery_pass(engine, settings, clock)
        clock.advance(hours=1)

    final = rows(db)
    assert [m.status for m in final] == [OutboxStatus.sent.value] * len(queued), [
        (m.id, m.status, m.last_error) for m in final
    ]

    mails = {m.reference: m for m in final if m.channel == "email"}
    received = Counter(
        reference
        for message in smtp_server.messages
        for reference in mails
        if reference in str(message["Message-ID"])
    )
    assert len(smtp_server.messages) == len(mails)
    assert received == Counter(dict.fromkeys(mails, 1))
    by_recipient = Counter(str(message["To"]) for message in smtp_server.messages)
    assert by_recipient == Counter(m.recipient for m in mails.values())

    posts = {m.reference for m in final if m.channel == "teams"}
    landed = Counter(
        reference
        for post in graph.graph.posted(TEAM, CHANNEL)
        for reference in posts
        if f"réf. {reference}" in post["body"]["content"]
    )
    assert len(graph.graph.posted(TEAM, CHANNEL)) == len(posts)
    assert not graph.graph.script[("POST", "messages")], "the lost answer and 503 never happened"
    assert any(  # the re-send after the lost answer looked for the landed post first
        method == "GET" and path.endswith("/messages") for method, path in graph.graph.requests
    )
    assert landed == Counter(dict.fromkeys(posts, 1))

    # Later passes find nothing to do.
    clock.advance(days=1)
    report = delivery_pass(engine, settings, clock)
    assert (report.sent, report.retried, report.failed) == (0, 0, 0)
    assert len(smtp_server.messages) == len(mails)
