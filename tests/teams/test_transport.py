"""Teams posts through the outbox, delivered by the real msgraph-sdk to a fake Graph server."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from hub import outbox
from hub.models import utcnow
from hub.outbox import Channel, OutboxMessage, OutboxStatus
from hub.settings import Settings
from hub.teams.transport import Pacer, TeamsTransport
from tests.factories import make_department
from tests.teams.conftest import CHANNEL, TEAM
from tests.teams.fake_graph import FakeGraph


class Clock:
    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def queue(db: Session, count: int = 1, recipient: str = outbox.TEAMS_CRISIS) -> list[str]:
    references = []
    for number in range(count):
        message = outbox.enqueue_teams(
            db,
            recipient=recipient,
            subject=f"Nouvelle question n°{number}",
            html=f"<p>Comment partager l&#39;écran ? ({number})</p>",
            text=f"Comment partager l'écran ? ({number})",
            kind="question.new",
            link=f"/questions/{number}",
        )
        assert message is not None
        references.append(message.reference)
    db.commit()
    return references


def deliver(
    engine: Engine, settings: Settings, clock: Callable[[], datetime]
) -> outbox.DeliveryReport:
    transport = TeamsTransport(settings)
    try:
        return outbox.deliver_due(engine, {Channel.teams: transport}, now=clock)
    finally:
        transport.close()


def rows(db: Session) -> list[OutboxMessage]:
    db.rollback()  # end the test session's snapshot: see what the worker committed
    db.expire_all()
    return list(db.exec(select(OutboxMessage).order_by(OutboxMessage.id)))


def only_row(db: Session) -> OutboxMessage:
    [row] = rows(db)
    return row


def statuses(db: Session) -> list[str]:
    return [m.status for m in rows(db)]


def test_posts_arrive_in_the_right_channel_with_body_link_and_reference(
    db: Session, engine: Engine, teams_settings: Settings, fake_graph: FakeGraph
) -> None:
    [reference] = queue(db)
    report = deliver(engine, teams_settings, utcnow)
    assert report.sent == 1, report.errors
    [posted] = fake_graph.posted(TEAM, CHANNEL)
    html = posted["body"]["content"]
    assert "<strong>Nouvelle question n°0</strong>" in html
    assert "Comment partager l&#39;écran ? (0)" in html
    assert 'href="https://hub.college.example/questions/0"' in html
    assert f"réf. {reference}" in html
    row = only_row(db)
    assert row.status == OutboxStatus.sent.value
    assert row.external_id == posted["id"]


def test_department_posts_go_to_its_channel_or_fall_back_to_the_crisis_one(
    db: Session, engine: Engine, teams_settings: Settings, fake_graph: FakeGraph
) -> None:
    fake_graph.add_channel(TEAM, "19:sci@thread.tacv2", "Sciences")
    sciences = make_department(db, "SCI")
    letters = make_department(db, "LET")
    sciences.teams_channel_id = "19:sci@thread.tacv2"
    db.add(sciences)
    db.commit()
    queue(db, 1, outbox.teams_department(sciences.id or 0))
    queue(db, 1, outbox.teams_department(letters.id or 0))
    assert deliver(engine, teams_settings, utcnow).sent == 2
    assert len(fake_graph.posted(TEAM, "19:sci@thread.tacv2")) == 1
    assert len(fake_graph.posted(TEAM, CHANNEL)) == 1


def test_429_and_503_bursts_end_with_every_message_delivered_exactly_once(
    db: Session, engine: Engine, teams_settings: Settings, fake_graph: FakeGraph
) -> None:
    references = queue(db, 5)
    fake_graph.then("POST", "messages", "429:7", "503", "503", "429:3", "503")
    clock = Clock()
    for _ in range(12):
        deliver(engine, teams_settings, clock)
        if statuses(db) == ["sent"] * 5:
            break
        clock.advance(4000)  # past any backoff
    assert statuses(db) == ["sent"] * 5
    posted = [m["body"]["content"] for m in fake_graph.posted(TEAM, CHANNEL)]
    assert len(posted) == 5
    # The SDK's retry handler is off: each failure was one request, retried by the outbox.
    assert sum(1 for method, path in fake_graph.requests if method == "POST") == 10
    for reference in references:
        assert sum(reference in html for html in posted) == 1


def test_429_waits_as_long_as_retry_after_says(
    db: Session, engine: Engine, teams_settings: Settings, fake_graph: FakeGraph
) -> None:
    queue(db)
    fake_graph.then("POST", "messages", "429:120")
    clock = Clock()
    report = deliver(engine, teams_settings, clock)
    assert report.retried == 1
    row = only_row(db)
    assert row.status == "pending"
    assert row.next_attempt_at == clock.now + timedelta(seconds=120)
    assert "429" in (row.last_error or "")
    clock.advance(119)
    assert deliver(engine, teams_settings, clock).sent == 0
    clock.advance(2)
    assert deliver(engine, teams_settings, clock).sent == 1


def test_403_ends_as_a_visible_failure_with_a_reason(
    db: Session, engine: Engine, teams_settings: Settings, fake_graph: FakeGraph
) -> None:
    queue(db)
    fake_graph.then("POST", "messages", "403")
    report = deliver(engine, teams_settings, utcnow)
    assert report.failed == 1
    row = only_row(db)
    assert row.status == OutboxStatus.failed.value
    assert "403" in (row.last_error or "")
    assert "ChannelMessage.Send" in (row.last_error or "")
    assert fake_graph.posted(TEAM, CHANNEL) == []


def test_unknown_channel_fails_permanently_in_plain_words(
    db: Session,
    engine: Engine,
    make_settings: Callable[..., Settings],
    fake_graph: FakeGraph,
    database_url: str,
) -> None:
    from tests.teams.conftest import teams_values

    settings = make_settings(
        database_url=database_url, **teams_values(fake_graph, teams_channel_id="19:gone")
    )
    queue(db)
    assert deliver(engine, settings, utcnow).failed == 1
    row = only_row(db)
    assert "not found (404)" in (row.last_error or "")


def test_ambiguous_failure_then_retry_does_not_duplicate(
    db: Session, engine: Engine, teams_settings: Settings, fake_graph: FakeGraph
) -> None:
    [reference] = queue(db)
    fake_graph.then("POST", "messages", "land-then-drop")
    clock = Clock()
    first = deliver(engine, teams_settings, clock)
    assert first.retried == 1, first
    assert len(fake_graph.posted(TEAM, CHANNEL)) == 1  # it landed, but we got no answer
    clock.advance(4000)
    second = deliver(engine, teams_settings, clock)
    assert second.sent == 1
    assert len(fake_graph.posted(TEAM, CHANNEL)) == 1
    row = only_row(db)
    assert row.external_id == fake_graph.posted(TEAM, CHANNEL)[0]["id"]
    assert reference in fake_graph.posted(TEAM, CHANNEL)[0]["body"]["content"]


def test_worker_restarted_mid_delivery_loses_and_duplicates_nothing(
    db: Session, engine: Engine, teams_settings: Settings, fake_graph: FakeGraph
) -> None:
    """Two rows left `sending` by a worker killed mid-delivery: one had reached Teams, the
    other had not. After the lease, the next worker posts the second once and only marks the
    first."""
    landed_ref, lost_ref = queue(db, 2)
    clock = Clock()
    for row in db.exec(select(OutboxMessage)):
        row.status = OutboxStatus.sending.value
        row.attempts = 1
        row.locked_until = clock.now + outbox.LEASE
        db.add(row)
    db.commit()
    fake_graph.land(TEAM, CHANNEL, f"<p>déjà publié</p><p><em>réf. {landed_ref}</em></p>")
    assert deliver(engine, teams_settings, clock).sent == 0  # lease still running
    clock.advance(outbox.LEASE.total_seconds() + 1)
    report = deliver(engine, teams_settings, clock)
    assert report.sent == 2, report.errors
    posted = [m["body"]["content"] for m in fake_graph.posted(TEAM, CHANNEL)]
    assert len(posted) == 2
    assert sum(landed_ref in html for html in posted) == 1
    assert sum(lost_ref in html for html in posted) == 1
    assert statuses(db) == ["sent", "sent"]


def test_landed_check_that_cannot_read_posts_nothing(
    db: Session, engine: Engine, teams_settings: Settings, fake_graph: FakeGraph
) -> None:
    queue(db)
    fake_graph.then("POST", "messages", "land-then-drop")
    fake_graph.then("GET", "messages", "503")
    clock = Clock()
    deliver(engine, teams_settings, clock)
    clock.advance(4000)
    report = deliver(engine, teams_settings, clock)  # the check fails: nothing is posted
    assert report.retried == 1
    assert len(fake_graph.posted(TEAM, CHANNEL)) == 1
    clock.advance(4000)
    assert deliver(engine, teams_settings, clock).sent == 1
    assert len(fake_graph.posted(TEAM, CHANNEL)) == 1


def test_expired_token_waits_for_a_new_sign_in(
    db: Session, engine: Engine, teams_settings: Settings, fake_graph: FakeGraph
) -> None:
    queue(db)
    fake_graph.token = "another-token"
    report = deliver(engine, teams_settings, utcnow)
    assert report.retried == 1
    row = only_row(db)
    assert row.status == "pending"
    assert "hub teams login" in (row.last_error or "")


def test_pacing_keeps_four_posts_a_second_per_channel() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    pacer = Pacer(clock=lambda: now[0], sleep=sleep)
    for _ in range(8):
        pacer.wait("team/crisis")
    assert now[0] >= 7 * 0.25 - 1e-9  # 8 posts take at least 1.75 s on one channel
    before = now[0]
    pacer.wait("team/other")  # another channel is not held back
    assert now[0] == before
