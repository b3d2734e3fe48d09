"""Test data for webinars, made through the services the hub itself uses."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from hub.models import Department, Role, User, utcnow
from hub.outbox import OutboxMessage
from tests.factories import make_department, make_user
from webinars.models import WebinarSession
from webinars.sessions import SessionInput, create_session


def team(db: Session) -> User:
    """An e-learning team member (the SCI department, which teachers need, is made too)."""
    if db.exec(select(Department).where(Department.code == "SCI")).first() is None:
        make_department(db)
    user = db.exec(select(User).where(User.role == Role.elearning)).first()
    return user or make_user(db, Role.elearning)


def make_webinar(
    db: Session,
    *,
    title: str = "Évaluer à distance",
    capacity: int = 30,
    starts_in: timedelta = timedelta(days=2),
    starts_at: datetime | None = None,
    duration_minutes: int = 60,
    join_url: str = "",
) -> WebinarSession:
    actor = team(db)
    webinar = create_session(
        db,
        actor=actor,
        data=SessionInput(
            title=title,
            starts_at=starts_at or (utcnow() + starts_in).replace(second=0, microsecond=0),
            duration_minutes=duration_minutes,
            capacity=capacity,
            description="Questions et réponses.",
            join_url=join_url,
        ),
    )
    db.commit()
    return webinar


def teachers(db: Session, count: int) -> list[User]:
    team(db)
    return [make_user(db, Role.teacher) for _ in range(count)]


def mails(db: Session, *, to: str | None = None, kind: str | None = None) -> list[OutboxMessage]:
    db.commit()  # end the test's read transaction: see what the app committed since
    query = select(OutboxMessage).where(OutboxMessage.channel == "email")
    if to is not None:
        query = query.where(OutboxMessage.recipient == to)
    if kind is not None:
        query = query.where(OutboxMessage.kind == kind)
    return list(db.exec(query.order_by(col(OutboxMessage.id))).all())
