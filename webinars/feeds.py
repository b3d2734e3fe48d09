"""Personal subscription feeds: /calendar/<token>.ics lists a person's sessions (PUBLISH).

The token is random (256 bits), shown once, stored only as its SHA-256; regenerating it
replaces the previous one (old subscriptions stop working), revoking deletes it."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import delete
from sqlmodel import Session, select

from hub.models import User, id_of, utcnow
from hub.settings import Settings
from hub.tokens import record_use
from webinars import notify
from webinars.invites import Person, publish
from webinars.models import CalendarFeedToken, RegistrationStatus
from webinars.sessions import my_registrations

TOKEN_BYTES = 32
HISTORY = timedelta(days=60)  # past sessions kept in the feed
LAST_USED_RESOLUTION = timedelta(minutes=10)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def feed_path(token: str) -> str:
    return f"/calendar/{token}.ics"


def regenerate(session: Session, user: User) -> str:
    """A new feed address for the user (the old one stops working); returns the token."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    session.execute(delete(CalendarFeedToken).where(CalendarFeedToken.user_id == id_of(user)))  # type: ignore[arg-type]
    session.add(CalendarFeedToken(user_id=id_of(user), token_hash=_hash(token)))
    session.flush()
    return token


def revoke(session: Session, user: User) -> bool:
    result = session.execute(
        delete(CalendarFeedToken).where(CalendarFeedToken.user_id == id_of(user))  # type: ignore[arg-type]
    )
    return bool(getattr(result, "rowcount", 0))


def current(session: Session, user: User) -> CalendarFeedToken | None:
    return session.exec(
        select(CalendarFeedToken).where(CalendarFeedToken.user_id == user.id)
    ).first()


def owner(session: Session, token: str) -> User | None:
    if not token or len(token) > 100:
        return None
    row = session.exec(
        select(CalendarFeedToken).where(CalendarFeedToken.token_hash == _hash(token))
    ).first()
    if row is None:
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.is_active:
        return None
    record_use(session, row, every=LAST_USED_RESOLUTION)
    return user


def feed(session: Session, user: User, *, settings: Settings) -> bytes:
    """The user's registered sessions (and waitlisted ones are left out: no seat yet)."""
    context = notify.mail_context(settings)
    items = [
        (webinar, notify.personal_sequence(webinar, registration))
        for webinar, registration in my_registrations(session, user, since=utcnow() - HISTORY)
        if registration.status == RegistrationStatus.registered.value
    ]
    return publish(
        items,
        organizer=context.organizer,
        attendee=Person(user.email, user.name),
        name="Webinaires",
        link_for={id_of(w): context.link(notify.session_path(w)) for w, _ in items},
    )
