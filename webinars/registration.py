"""Registration: seats, the waitlist, automatic promotion, leaving.

The capacity is enforced by the database, not by a count read in Python: a seat is taken
with one conditional UPDATE of the session's counter

    UPDATE webinar_session SET registered_count = registered_count + 1
    WHERE id = :id AND status = 'scheduled' AND registered_count < capacity

and the row count says whether a seat was free. On PostgreSQL the UPDATE locks the
session row, and a concurrent one re-evaluates its WHERE on the committed value (READ
COMMITTED), so two sign-ups can never both take the last seat; on SQLite writers are
serialised by BEGIN IMMEDIATE. Every change of a registration starts with an UPDATE of the
session row, so the changes of one session happen one after another on both databases.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from hub.errors import Conflict, NotFound
from hub.i18n import N_
from hub.models import Role, User, utcnow
from hub.people import require_role
from hub.settings import Settings
from webinars import notify
from webinars.models import (
    RegistrationStatus,
    SessionStatus,
    WebinarRegistration,
    WebinarSession,
)

PARTICIPANT_ROLES = (Role.teacher, Role.referent, Role.elearning)


def _rowcount(result: object) -> int:
    return int(getattr(result, "rowcount", 0))


def take_seat(session: Session, webinar_id: int) -> bool:
    result = session.execute(
        update(WebinarSession)
        .where(
            col(WebinarSession.id) == webinar_id,
            col(WebinarSession.status) == SessionStatus.scheduled.value,
            col(WebinarSession.registered_count) < col(WebinarSession.capacity),
        )
        .values(registered_count=col(WebinarSession.registered_count) + 1)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result) == 1


def release_seat(session: Session, webinar_id: int) -> None:
    session.execute(
        update(WebinarSession)
        .where(col(WebinarSession.id) == webinar_id, col(WebinarSession.registered_count) > 0)
        .values(registered_count=col(WebinarSession.registered_count) - 1)
        .execution_options(synchronize_session=False)
    )


def _lock_session(session: Session, webinar_id: int) -> None:
    """Serialise changes to one session: a no-op UPDATE takes its row lock (PostgreSQL)."""
    session.execute(
        update(WebinarSession)
        .where(col(WebinarSession.id) == webinar_id)
        .values(registered_count=col(WebinarSession.registered_count))
        .execution_options(synchronize_session=False)
    )


def registration_of(session: Session, webinar_id: int, user_id: int) -> WebinarRegistration | None:
    return session.exec(
        select(WebinarRegistration).where(
            WebinarRegistration.session_id == webinar_id,
            WebinarRegistration.user_id == user_id,
        )
    ).first()


def waitlist_position(session: Session, registration: WebinarRegistration) -> int | None:
    """1 for the next person to get a seat; None if not on the waitlist."""
    if registration.status != RegistrationStatus.waitlisted.value:
        return None
    ahead = session.scalar(
        select(func.count())
        .select_from(WebinarRegistration)
        .where(
            WebinarRegistration.session_id == registration.session_id,
            WebinarRegistration.status == RegistrationStatus.waitlisted.value,
            (col(WebinarRegistration.queued_at) < registration.queued_at)
            | (
                (col(WebinarRegistration.queued_at) == registration.queued_at)
                & (col(WebinarRegistration.id) < registration.id)
            ),
        )
    )
    return int(ahead or 0) + 1


def counts(session: Session, webinar_id: int) -> tuple[int, int]:
    """(registered, waitlisted), counted from the registrations."""
    rows = session.execute(
        select(col(WebinarRegistration.status), func.count())
        .where(WebinarRegistration.session_id == webinar_id)
        .group_by(col(WebinarRegistration.status))
    ).all()
    found = {status: int(number) for status, number in rows}
    return (
        found.get(RegistrationStatus.registered.value, 0),
        found.get(RegistrationStatus.waitlisted.value, 0),
    )


def _open_for_registration(session: Session, webinar_id: int, now: datetime) -> WebinarSession:
    webinar = session.get(WebinarSession, webinar_id)
    if webinar is None:
        raise NotFound(N_("Webinaire introuvable."))
    if webinar.status == SessionStatus.cancelled.value:
        raise Conflict(N_("Ce webinaire est annulé."))
    if webinar.starts_at <= now:
        raise Conflict(N_("Ce webinaire a déjà commencé."))
    return webinar


def register(
    session: Session,
    webinar_id: int,
    *,
    actor: User,
    settings: Settings,
    now: datetime | None = None,
) -> WebinarRegistration:
    """A seat if one is free, else a place on the waitlist. Idempotent for someone already
    registered or waitlisted. Sends the invite (or the waitlist mail)."""
    require_role(actor, *PARTICIPANT_ROLES)
    now = now or utcnow()
    webinar = _open_for_registration(session, webinar_id, now)
    existing = registration_of(session, webinar_id, actor.id or 0)
    if existing is not None and existing.status != RegistrationStatus.cancelled.value:
        return existing
    seated = take_seat(session, webinar_id)
    status = RegistrationStatus.registered if seated else RegistrationStatus.waitlisted
    if existing is None:
        registration = WebinarRegistration(
            session_id=webinar_id, user_id=actor.id or 0, status=status.value, queued_at=now
        )
    else:  # coming back after leaving: their calendar saw a CANCEL, so their SEQUENCE grows
        registration = existing
        registration.status = status.value
        registration.queued_at = now
        registration.cancelled_at = None
        registration.personal_sequence += 1
    registration.registered_at = now if seated else None
    session.add(registration)
    session.flush()
    session.refresh(webinar)
    context = notify.mail_context(settings)
    if seated:
        notify.send_invite(session, webinar, actor, registration, context)
    else:
        position = waitlist_position(session, registration)
        notify.send_plain(
            session,
            webinar,
            actor,
            context,
            subject=f"Liste d'attente : {webinar.title}",
            intro=(
                f"Le webinaire est complet : vous êtes n° {position} sur la liste d'attente. "
                "Vous recevrez une invitation dès qu'une place se libère."
            ),
            kind="webinar.waitlisted",
        )
    return registration


def unregister(
    session: Session,
    webinar_id: int,
    *,
    actor: User,
    settings: Settings,
    now: datetime | None = None,
) -> WebinarRegistration:
    """Leave a session (or its waitlist). The leaver gets a CANCEL; the first person on the
    waitlist gets the seat and a REQUEST."""
    require_role(actor, *PARTICIPANT_ROLES)
    now = now or utcnow()
    webinar = session.get(WebinarSession, webinar_id)
    if webinar is None:
        raise NotFound(N_("Webinaire introuvable."))
    _lock_session(session, webinar_id)
    registration = registration_of(session, webinar_id, actor.id or 0)
    if registration is None or registration.status == RegistrationStatus.cancelled.value:
        raise NotFound(N_("Vous n'êtes pas inscrit·e à ce webinaire."))
    session.refresh(registration)
    previous = registration.status
    left = session.execute(
        update(WebinarRegistration)
        .where(
            col(WebinarRegistration.id) == registration.id,
            col(WebinarRegistration.status) == previous,
        )
        .values(
            status=RegistrationStatus.cancelled.value,
            cancelled_at=now,
            personal_sequence=col(WebinarRegistration.personal_sequence)
            + (1 if previous == RegistrationStatus.registered.value else 0),
        )
        .execution_options(synchronize_session=False)
    )
    if _rowcount(left) != 1:  # a concurrent request of the same person got there first
        raise Conflict(N_("Votre inscription vient de changer ; rechargez la page."))
    session.refresh(registration)
    if previous == RegistrationStatus.registered.value:
        release_seat(session, webinar_id)
        session.refresh(webinar)
        context = notify.mail_context(settings)
        if webinar.status == SessionStatus.scheduled.value:
            notify.send_cancel(session, webinar, actor, registration, context, whole_session=False)
            if webinar.starts_at > now:
                promote(session, webinar, context=context, now=now)
    return registration


def promote(
    session: Session,
    webinar: WebinarSession,
    *,
    context: notify.MailContext,
    now: datetime | None = None,
) -> list[WebinarRegistration]:
    """Give free seats to the waitlist, first come first served; each promoted person
    gets a REQUEST."""
    now = now or utcnow()
    webinar_id = webinar.id or 0
    promoted: list[WebinarRegistration] = []
    while True:
        candidate = session.exec(
            select(WebinarRegistration)
            .where(
                WebinarRegistration.session_id == webinar_id,
                WebinarRegistration.status == RegistrationStatus.waitlisted.value,
            )
            .order_by(col(WebinarRegistration.queued_at), col(WebinarRegistration.id))
            .limit(1)
        ).first()
        if candidate is None or not take_seat(session, webinar_id):
            break
        moved = session.execute(
            update(WebinarRegistration)
            .where(
                col(WebinarRegistration.id) == candidate.id,
                col(WebinarRegistration.status) == RegistrationStatus.waitlisted.value,
            )
            .values(status=RegistrationStatus.registered.value, registered_at=now)
            .execution_options(synchronize_session=False)
        )
        if _rowcount(moved) != 1:  # they left meanwhile: give the seat back, try the next
            release_seat(session, webinar_id)
            continue
        session.refresh(candidate)
        user = session.get(User, candidate.user_id)
        session.refresh(webinar)
        if user is not None:
            notify.send_invite(session, webinar, user, candidate, context, promoted=True)
        promoted.append(candidate)
    session.refresh(webinar)
    return promoted


def registrations(
    session: Session, webinar_id: int, status: RegistrationStatus | None = None
) -> list[tuple[WebinarRegistration, User]]:
    query = (
        select(WebinarRegistration, User)
        .join(User, col(User.id) == col(WebinarRegistration.user_id))
        .where(WebinarRegistration.session_id == webinar_id)
        .order_by(col(WebinarRegistration.queued_at), col(WebinarRegistration.id))
    )
    if status is not None:
        query = query.where(WebinarRegistration.status == status.value)
    return [(registration, user) for registration, user in session.exec(query).all()]
