"""Sessions: one-off creation, edits and moves, cancellation, joining link, hosts,
announcements, and the after-session work (attendance, recording, KB video article).

Only the e-learning team creates, edits, moves and cancels; hosts (and the team) see the
questions, mark attendance and add the recording. A *real change* (time, duration, title,
joining link, cancellation) bumps the session's SEQUENCE and mails every registrant an
updated invite (or a CANCEL); a description-only edit or a capacity change does not.
"""

from __future__ import annotations

import html
import re
import secrets
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func
from sqlmodel import Session, col, select

from hub import outbox
from hub.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from hub.i18n import N_, Message
from hub.models import TEAM, Role, User, id_of, utcnow
from hub.people import get_user_by_email, require_role
from hub.settings import Settings
from webinars import notify
from webinars.invites import LOCAL_TIME
from webinars.models import (
    RegistrationStatus,
    SessionStatus,
    WebinarHost,
    WebinarRegistration,
    WebinarSession,
)
from webinars.registration import promote, registrations

MAX_TITLE = 200
MAX_DESCRIPTION = 5000
MAX_DURATION = 8 * 60
MAX_CAPACITY = 10000
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029\x85]")
_CONTROL_MULTILINE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u2028\u2029\x85]")
URL = re.compile(r"^https?://[^\s<>\"]+$")


@dataclass
class SessionInput:
    title: str
    starts_at: datetime | None  # aware
    duration_minutes: int
    capacity: int
    description: str = ""
    hosts: list[str] = field(default_factory=list)  # e-mail addresses
    join_url: str = ""


def has_control(text: str, *, multiline: bool = False) -> bool:
    return bool((_CONTROL_MULTILINE if multiline else _CONTROL).search(text))


def validate_session_fields(data: SessionInput, *, need_start: bool = True) -> dict[str, str]:
    """Field errors; control characters are refused here, at the boundary, so a title such
    as "x\\r\\nATTENDEE:..." never reaches an invite (or a mail header)."""
    errors: dict[str, str] = {}
    title = data.title.strip()
    if not title or len(title) > MAX_TITLE:
        errors["title"] = N_("Le titre est obligatoire (200 caractères au plus).")
    elif has_control(data.title):
        errors["title"] = N_("Le titre tient sur une ligne, sans caractères de contrôle.")
    if len(data.description) > MAX_DESCRIPTION:
        errors["description"] = N_("La description fait 5000 caractères au plus.")
    elif has_control(data.description, multiline=True):
        errors["description"] = N_("La description contient des caractères de contrôle.")
    if need_start and data.starts_at is None:
        errors["starts_at"] = N_("Date et heure attendues.")
    if not 5 <= data.duration_minutes <= MAX_DURATION:
        errors["duration_minutes"] = N_("Durée entre 5 et 480 minutes.")
    if not 1 <= data.capacity <= MAX_CAPACITY:
        errors["capacity"] = N_("Capacité entre 1 et 10000 places.")
    if data.join_url and (not URL.match(data.join_url) or len(data.join_url) > 1000):
        errors["join_url"] = N_("Lien invalide (http:// ou https://).")
    return errors


def parse_local_datetime(text: str) -> datetime:
    """ "2026-03-31T15:00" (or with a space, seconds allowed), Brussels local time -> aware.
    An explicit offset is accepted and kept."""
    text = text.strip()
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        message = N_("Date et heure attendues (AAAA-MM-JJ HH:MM).")
        raise InvalidInput(message, {"starts_at": message}) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=LOCAL_TIME)
    return parsed


def _new_uid() -> str:
    return f"webinar-{secrets.token_hex(12)}@crisis-hub"


def _resolve_hosts(session: Session, emails: Sequence[str]) -> tuple[list[User], dict[str, str]]:
    hosts: list[User] = []
    for email in dict.fromkeys(e.strip().lower() for e in emails if e.strip()):
        user = get_user_by_email(session, email)
        if user is None or user.role not in (Role.referent, Role.elearning, Role.teacher):
            return [], {"hosts": Message(N_("Animateur inconnu : %(email)s"), email=email[:80])}
        hosts.append(user)
    return hosts, {}


def create_session(
    session: Session,
    *,
    actor: User,
    data: SessionInput,
    series_id: int | None = None,
    now: datetime | None = None,
) -> WebinarSession:
    """A one-off session (or one of a series)."""
    require_role(actor, *TEAM)
    errors = validate_session_fields(data)
    hosts, host_errors = _resolve_hosts(session, data.hosts)
    errors.update(host_errors)
    if data.starts_at is not None and data.starts_at <= (now or utcnow()):
        errors["starts_at"] = N_("La séance doit être à venir.")
    if errors:
        raise InvalidInput(N_("Séance invalide."), errors)
    assert data.starts_at is not None
    webinar = WebinarSession(
        series_id=series_id,
        uid=_new_uid(),
        title=unicodedata.normalize("NFC", data.title.strip()),
        description=data.description.replace("\r\n", "\n").strip(),
        starts_at=data.starts_at,
        duration_minutes=data.duration_minutes,
        capacity=data.capacity,
        join_url=data.join_url.strip(),
    )
    session.add(webinar)
    session.flush()
    for host in hosts:
        session.add(WebinarHost(session_id=id_of(webinar), user_id=id_of(host)))
    session.flush()
    return webinar


def get_session(session: Session, webinar_id: int) -> WebinarSession:
    webinar = session.get(WebinarSession, webinar_id)
    if webinar is None:
        raise NotFound(N_("Webinaire introuvable."))
    return webinar


def host_ids(session: Session, webinar_id: int) -> set[int]:
    return set(
        session.exec(select(WebinarHost.user_id).where(WebinarHost.session_id == webinar_id)).all()
    )


def hosts_of(session: Session, webinar_id: int) -> list[User]:
    return list(
        session.exec(
            select(User)
            .join(WebinarHost, col(WebinarHost.user_id) == col(User.id))
            .where(WebinarHost.session_id == webinar_id)
            .order_by(col(User.name))
        ).all()
    )


def can_manage(user: User | None) -> bool:
    return user is not None and user.is_active and user.role is Role.elearning


def can_host(session: Session, user: User | None, webinar_id: int) -> bool:
    """The e-learning team and the session's hosts."""
    if user is None or not user.is_active:
        return False
    return user.role is Role.elearning or (user.id in host_ids(session, webinar_id))


def require_host(session: Session, user: User | None, webinar_id: int) -> User:
    if user is None:
        raise PermissionDenied(N_("Connectez-vous pour continuer."))
    if not can_host(session, user, webinar_id):
        raise PermissionDenied(N_("Réservé aux animateurs de ce webinaire."))
    return user


def list_sessions(
    session: Session,
    *,
    upcoming: bool = True,
    now: datetime | None = None,
    limit: int = 200,
    include_cancelled: bool = True,
) -> list[WebinarSession]:
    now = now or utcnow()
    query = select(WebinarSession)
    if upcoming:
        # still listed while it runs (a session lasts at most 8 hours)
        query = query.where(col(WebinarSession.starts_at) > now - timedelta(minutes=MAX_DURATION))
        query = query.order_by(col(WebinarSession.starts_at), col(WebinarSession.id))
    else:
        query = query.where(col(WebinarSession.starts_at) <= now)
        query = query.order_by(col(WebinarSession.starts_at).desc(), col(WebinarSession.id))
    if not include_cancelled:
        query = query.where(WebinarSession.status == SessionStatus.scheduled.value)
    sessions = list(session.exec(query.limit(limit * 2)).all())
    if upcoming:
        sessions = [
            s for s in sessions if s.starts_at + timedelta(minutes=s.duration_minutes) > now
        ]
    return sessions[:limit]


def my_registrations(
    session: Session, user: User, *, since: datetime | None = None
) -> list[tuple[WebinarSession, WebinarRegistration]]:
    query = (
        select(WebinarSession, WebinarRegistration)
        .join(WebinarRegistration, col(WebinarRegistration.session_id) == col(WebinarSession.id))
        .where(
            WebinarRegistration.user_id == user.id,
            WebinarRegistration.status != RegistrationStatus.cancelled.value,
        )
        .order_by(col(WebinarSession.starts_at))
    )
    if since is not None:
        query = query.where(col(WebinarSession.starts_at) >= since)
    return [(webinar, registration) for webinar, registration in session.exec(query).all()]


def waitlist_count(session: Session, webinar_id: int) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(WebinarRegistration)
            .where(
                WebinarRegistration.session_id == webinar_id,
                WebinarRegistration.status == RegistrationStatus.waitlisted.value,
            )
        )
        or 0
    )


# --- changes --------------------------------------------------------------------------


def _changes(webinar: WebinarSession, data: SessionInput) -> list[str]:
    """Human names of the real changes (those that need a new SEQUENCE and an update)."""
    changes = []
    if data.starts_at is not None and data.starts_at != webinar.starts_at:
        changes.append("horaire")
    if data.duration_minutes != webinar.duration_minutes:
        changes.append("durée")
    if data.title.strip() != webinar.title:
        changes.append("titre")
    if data.join_url.strip() != webinar.join_url:
        changes.append("lien")
    return changes


def notify_registrants(
    session: Session,
    webinar: WebinarSession,
    *,
    what: str,
    settings: Settings,
) -> int:
    context = notify.mail_context(settings)
    sent = 0
    for registration, user in registrations(session, id_of(webinar), RegistrationStatus.registered):
        notify.send_update(session, webinar, user, registration, context, what=what)
        sent += 1
    return sent


def update_session(
    session: Session,
    webinar_id: int,
    data: SessionInput,
    *,
    actor: User,
    settings: Settings,
    now: datetime | None = None,
) -> tuple[WebinarSession, list[str]]:
    """Edit or move a session; returns it and the list of real changes (mailed)."""
    require_role(actor, *TEAM)
    webinar = get_session(session, webinar_id)
    if webinar.status == SessionStatus.cancelled.value:
        raise Conflict(N_("Ce webinaire est annulé."))
    errors = validate_session_fields(data)
    hosts, host_errors = _resolve_hosts(session, data.hosts)
    errors.update(host_errors)
    if (
        data.starts_at is not None
        and data.starts_at != webinar.starts_at
        and data.starts_at <= (now or utcnow())
    ):
        errors["starts_at"] = N_("La séance doit être à venir.")
    session.refresh(webinar)
    if data.capacity < webinar.registered_count:
        errors["capacity"] = N_(
            "Moins de places que d'inscrits : désinscrivez d'abord des participants."
        )
    if errors:
        raise InvalidInput(N_("Séance invalide."), errors)
    changes = _changes(webinar, data)
    capacity_grew = data.capacity > webinar.capacity
    webinar.title = unicodedata.normalize("NFC", data.title.strip())
    webinar.description = data.description.replace("\r\n", "\n").strip()
    if data.starts_at is not None:
        webinar.starts_at = data.starts_at
    webinar.duration_minutes = data.duration_minutes
    webinar.capacity = data.capacity
    webinar.join_url = data.join_url.strip()
    if changes:
        webinar.sequence += 1
    webinar.updated_at = utcnow()
    session.add(webinar)
    session.flush()
    if data.hosts or hosts:
        current = host_ids(session, webinar_id)
        wanted = {id_of(host) for host in hosts}
        for user_id in current - wanted:
            host_row = session.get(WebinarHost, (webinar_id, user_id))
            if host_row is not None:
                session.delete(host_row)
        for user_id in wanted - current:
            session.add(WebinarHost(session_id=webinar_id, user_id=user_id))
        session.flush()
    if changes:
        notify_registrants(session, webinar, what=", ".join(changes), settings=settings)
    if capacity_grew:
        promote(session, webinar, context=notify.mail_context(settings), now=now)
    return webinar, changes


def move_session(
    session: Session,
    webinar_id: int,
    starts_at: datetime,
    *,
    actor: User,
    settings: Settings,
    now: datetime | None = None,
) -> WebinarSession:
    webinar = get_session(session, webinar_id)
    data = SessionInput(
        title=webinar.title,
        description=webinar.description,
        starts_at=starts_at,
        duration_minutes=webinar.duration_minutes,
        capacity=webinar.capacity,
        join_url=webinar.join_url,
    )
    return update_session(session, webinar_id, data, actor=actor, settings=settings, now=now)[0]


def set_join_url(
    session: Session,
    webinar_session_id: int,
    url: str,
    *,
    actor: User,
    settings: Settings,
) -> WebinarSession:
    """The joining link (typed in, or created by the Teams integration). A new link is a
    real change: SEQUENCE + 1 and an updated invite to every registrant."""
    webinar = get_session(session, webinar_session_id)
    require_host(session, actor, webinar_session_id)
    url = url.strip()
    if url and (not URL.match(url) or len(url) > 1000 or has_control(url)):
        message = N_("Lien invalide (http:// ou https://).")
        raise InvalidInput(message, {"join_url": message})
    if webinar.status == SessionStatus.cancelled.value:
        raise Conflict(N_("Ce webinaire est annulé."))
    if url == webinar.join_url:
        return webinar
    webinar.join_url = url
    webinar.sequence += 1
    webinar.updated_at = utcnow()
    session.add(webinar)
    session.flush()
    notify_registrants(session, webinar, what="lien", settings=settings)
    return webinar


def cancel_session(
    session: Session,
    webinar_id: int,
    *,
    actor: User,
    settings: Settings,
) -> WebinarSession:
    """Cancel: SEQUENCE + 1, CANCEL to every registrant, a plain mail to the waitlist."""
    require_role(actor, *TEAM)
    webinar = get_session(session, webinar_id)
    if webinar.status == SessionStatus.cancelled.value:
        return webinar
    webinar.status = SessionStatus.cancelled.value
    webinar.sequence += 1
    webinar.updated_at = utcnow()
    session.add(webinar)
    session.flush()
    context = notify.mail_context(settings)
    for registration, user in registrations(session, webinar_id):
        if registration.status == RegistrationStatus.registered.value:
            notify.send_cancel(session, webinar, user, registration, context, whole_session=True)
        elif registration.status == RegistrationStatus.waitlisted.value:
            notify.send_plain(
                session,
                webinar,
                user,
                context,
                subject=f"Annulé : {webinar.title}",
                intro="Ce webinaire, pour lequel vous étiez sur liste d'attente, est annulé.",
                kind="webinar.cancelled",
            )
    return webinar


# --- announcements (Teams crisis channel) -----------------------------------------------


def announce(
    session: Session,
    webinars: Sequence[WebinarSession],
    *,
    actor: User,
    title: str | None = None,
    settings: Settings,
) -> None:
    """One post in the Teams crisis channel listing the sessions (an explicit action)."""
    require_role(actor, *TEAM)
    active = [w for w in webinars if w.status == SessionStatus.scheduled.value]
    if not active:
        raise InvalidInput(N_("Aucune séance à annoncer."))
    context = notify.mail_context(settings)
    heading = title or active[0].title
    items_text = [
        f"- {w.title} : {notify.when(w.starts_at, w.duration_minutes)} "
        f"{context.link(notify.session_path(w))}"
        for w in active
    ]
    items_html = "".join(
        f'<li><a href="{html.escape(context.link(notify.session_path(w)))}">'
        f"{html.escape(w.title)}</a> : {html.escape(notify.when(w.starts_at, w.duration_minutes))}"
        "</li>"
        for w in active
    )
    link = "/webinars" if len(active) > 1 else notify.session_path(active[0])
    outbox.enqueue_teams(
        session,
        recipient=outbox.TEAMS_CRISIS,
        subject=f"Webinaire : {heading}",
        html=f"<p><strong>Webinaire : {html.escape(heading)}</strong></p>"
        f"<p>Inscriptions ouvertes :</p><ul>{items_html}</ul>",
        text=f"Webinaire : {heading}\nInscriptions ouvertes :\n" + "\n".join(items_text),
        kind="webinar.announce",
        link=link,
    )
    now = utcnow()
    for webinar in active:
        webinar.announced_at = now
        session.add(webinar)
    session.flush()


# --- after the session ------------------------------------------------------------------


def mark_attendance(
    session: Session, webinar_id: int, attended_user_ids: set[int], *, actor: User
) -> int:
    """Registered people present or not (every registrant gets a yes or a no)."""
    require_host(session, actor, webinar_id)
    webinar = get_session(session, webinar_id)
    if webinar.starts_at > utcnow():
        raise Conflict(N_("La présence se note une fois la séance commencée."))
    marked = 0
    for registration, _user in registrations(session, webinar_id, RegistrationStatus.registered):
        registration.attended = registration.user_id in attended_user_ids
        session.add(registration)
        marked += registration.attended
    session.flush()
    return marked


def set_recording(
    session: Session,
    webinar_id: int,
    *,
    recording_url: str,
    transcript: str = "",
    actor: User,
) -> WebinarSession:
    require_host(session, actor, webinar_id)
    webinar = get_session(session, webinar_id)
    recording_url = recording_url.strip()
    errors = {}
    if recording_url and (not URL.match(recording_url) or len(recording_url) > 1000):
        errors["recording_url"] = N_("Lien invalide (http:// ou https://).")
    if len(transcript) > 200_000 or has_control(transcript, multiline=True):
        errors["transcript"] = N_("Transcription trop longue ou caractères de contrôle.")
    if errors:
        raise InvalidInput(N_("Enregistrement invalide."), errors)
    webinar.recording_url = recording_url
    webinar.transcript = transcript.replace("\r\n", "\n").strip()
    webinar.updated_at = utcnow()
    session.add(webinar)
    session.flush()
    return webinar


def _slugify(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text.lower())
    ascii_text = "".join(ch for ch in folded if not unicodedata.combining(ch))
    return re.sub(r"[^a-z0-9]+", "-", ascii_text).strip("-")[:80].strip("-") or "webinaire"


def publish_to_kb(session: Session, webinar_id: int, *, actor: User) -> str:
    """The recording as a published KB video article (teachers' audience); returns its slug.
    Publishing again updates the same article."""
    from kb.articles import ArticleInput, save_article
    from kb.models import Audience, Kind, Status

    require_role(actor, *TEAM)
    webinar = get_session(session, webinar_id)
    if not webinar.recording_url:
        message = N_("Ajoutez d'abord le lien de l'enregistrement.")
        raise InvalidInput(message, {"recording_url": message})
    local = webinar.starts_at.astimezone(LOCAL_TIME)
    slug = webinar.kb_slug or f"webinaire-{local:%Y-%m-%d}-{_slugify(webinar.title)}"[:120]
    body = [webinar.description.strip(), f"[Voir l'enregistrement]({webinar.recording_url})"]
    if webinar.transcript:
        body.append("## Transcription\n\n" + webinar.transcript)
    summary = f"Enregistrement du webinaire du {local:%d/%m/%Y}."
    save_article(
        session,
        ArticleInput(
            slug=slug,
            title=webinar.title,
            kind=Kind.video.value,
            audience=Audience.teacher.value,
            body="\n\n".join(part for part in body if part),
            summary=summary,
            tags=["webinaire"],
            status=Status.published.value,
            video_url=webinar.recording_url,
        ),
        actor=actor,
        note="webinaire",
    )
    webinar.kb_slug = slug
    session.add(webinar)
    session.flush()
    return slug
