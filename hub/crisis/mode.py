"""The crisis switch: one action that turns the hub into its emergency configuration.

Turning crisis mode on, in one transaction:
- sets `CrisisState` (hub/crisis/state.py): a banner on every page, and the escalation clocks
  switch to the crisis profile (stricter targets);
- pins the chosen checklists and tutorials on each role's home page (`CrisisPin`);
- queues the announcement through the outbox (Teams crisis channel and/or an e-mail to
  every active staff member);
- optionally creates the webinar series from the saved template (`CrisisWebinarTemplate`);
- logs who did it and when (`CrisisSwitch`), from the page or the CLI.

The banner is read on every page, so the state is cached per process for a few seconds.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from html import escape

from sqlalchemy import Column, Text, delete, event, select
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Field, Session, SQLModel, col

from hub import outbox
from hub.business_hours import local_day
from hub.cache import BANNER, ProcessCache, changed
from hub.crisis.state import crisis_state, set_crisis
from hub.errors import InvalidInput
from hub.i18n import N_, Message
from hub.models import TEAM, Role, User, UTCDateTime, utcnow
from hub.people import require_role
from kb.models import Article

log = logging.getLogger(__name__)
BANNER_TTL_SECONDS = 5.0
PIN_ROLES = (Role.student.value, Role.teacher.value, Role.referent.value)
MAX_MESSAGE = 500


class CrisisSwitch(SQLModel, table=True):
    """Every switch, on or off: who, when, what was announced."""

    __tablename__ = "crisis_switch"

    id: int | None = Field(default=None, primary_key=True)
    active: bool
    message: str = Field(default="", sa_column=Column(Text, nullable=False))
    actor_id: int | None = Field(default=None, foreign_key="user.id", ondelete="SET NULL")
    actor_label: str = Field(max_length=200)  # the person's name, or "cli:<os user>"
    announced_teams: bool = False
    announced_mail: int = 0  # e-mails queued
    webinars_created: int = 0
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False, index=True)
    )


class CrisisPin(SQLModel, table=True):
    """An article pinned on one role's home page while crisis mode is on."""

    __tablename__ = "crisis_pin"

    id: int | None = Field(default=None, primary_key=True)
    role: str = Field(max_length=20)
    article_id: int = Field(foreign_key="article.id", ondelete="CASCADE")
    position: int = 0


class CrisisWebinarTemplate(SQLModel, table=True):
    """The webinar series to create when the crisis starts (one row, saved in advance)."""

    __tablename__ = "crisis_webinar_template"

    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(max_length=200)
    description: str = Field(default="", sa_column=Column(Text, nullable=False))
    pattern: str = Field(max_length=200)  # e.g. "mar 15:00, mer 10:00, jeu 15:00"
    duration_minutes: int = 60
    capacity: int = 300
    weeks: int = 4
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )


# --- Reading ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Banner:
    message: str
    since: datetime


def _read_banner(session: Session) -> Banner | None:
    state = crisis_state(session)
    return Banner(state.message, state.changed_at) if state and state.active else None


# Every page shows it: cached per process, re-read at most every BANNER_TTL_SECONDS through
# the caller's own session; a failed read keeps the last value (hub/cache.py).
_banner = ProcessCache[Banner | None](
    "crisis banner",
    version=_read_banner,
    check_seconds=BANNER_TTL_SECONDS,
    keep_on_error=True,
    depends_on=[BANNER],
)


def current_banner(session: Session) -> Banner | None:
    """The crisis banner for every page (hub/cache.py: one caller re-reads it when due, the
    others keep the last value; a failed read keeps the last value, or none)."""
    try:
        return _banner.get(session)
    except SQLAlchemyError:
        log.warning("could not read the crisis banner", exc_info=True)
        return None


def cached_banner(url: object) -> Banner | None:
    """The last banner read for this database, without reading it (error pages)."""
    return _banner.peek(url)


def pinned_articles(session: Session, role: str) -> list[Article]:
    """What the role's home page pins (only while crisis mode is on)."""
    state = crisis_state(session)
    if not (state and state.active):
        return []
    rows = session.scalars(
        select(Article)
        .join(CrisisPin, col(CrisisPin.article_id) == col(Article.id))
        .where(col(CrisisPin.role) == role, col(Article.status) == "published")
        .order_by(col(CrisisPin.position), col(Article.title))
    )
    return list(rows)


def pins_by_role(session: Session) -> dict[str, list[str]]:
    rows = session.execute(
        select(CrisisPin.role, Article.slug)  # type: ignore[call-overload]
        .join(Article, col(Article.id) == col(CrisisPin.article_id))
        .order_by(CrisisPin.role, CrisisPin.position)
    ).all()
    pins: dict[str, list[str]] = {role: [] for role in PIN_ROLES}
    for role, slug in rows:
        pins.setdefault(role, []).append(slug)
    return pins


def history(session: Session, *, actor: User, limit: int = 50) -> list[CrisisSwitch]:
    require_role(actor, *TEAM)
    return list(
        session.scalars(
            select(CrisisSwitch).order_by(col(CrisisSwitch.created_at).desc()).limit(limit)
        )
    )


def webinar_template(session: Session) -> CrisisWebinarTemplate | None:
    return session.scalars(select(CrisisWebinarTemplate).limit(1)).first()


# --- Changing ---------------------------------------------------------------------------


def set_pins(session: Session, pins: dict[str, list[str]], *, actor: User) -> None:
    """Replace the pinned articles: {role: [slug, ...]} (unknown slugs are an error)."""
    require_role(actor, *TEAM)
    errors: dict[str, str] = {}
    resolved: list[CrisisPin] = []
    for role, slugs in pins.items():
        if role not in PIN_ROLES:
            errors[role] = Message(N_("rôle inconnu : %(role)s"), role=role)
            continue
        for position, slug in enumerate(dict.fromkeys(s.strip() for s in slugs if s.strip())):
            article = session.scalars(select(Article).where(col(Article.slug) == slug)).first()
            if article is None:
                errors[f"pins_{role}"] = Message(N_("article introuvable : %(slug)s"), slug=slug)
                continue
            resolved.append(CrisisPin(role=role, article_id=article.id or 0, position=position))
    if errors:
        raise InvalidInput(N_("Articles épinglés invalides."), errors)
    session.execute(delete(CrisisPin))
    session.add_all(resolved)
    session.flush()


def save_webinar_template(
    session: Session,
    *,
    actor: User,
    title: str,
    pattern: str,
    description: str = "",
    duration_minutes: int = 60,
    capacity: int = 300,
    weeks: int = 4,
) -> CrisisWebinarTemplate:
    require_role(actor, *TEAM)
    from webinars.series import parse_pattern

    errors: dict[str, str] = {}
    title = outbox.one_line(title, 200)
    if not title:
        errors["title"] = N_("titre obligatoire")
    try:
        if not parse_pattern(pattern):
            errors["pattern"] = N_("au moins un créneau, p. ex. « mar 15:00, jeu 15:00 »")
    except (InvalidInput, ValueError) as exc:
        errors["pattern"] = str(getattr(exc, "message", exc))
    if not 15 <= duration_minutes <= 480:
        errors["duration_minutes"] = N_("entre 15 et 480 minutes")
    if not 1 <= capacity <= 10000:
        errors["capacity"] = N_("entre 1 et 10 000 places")
    if not 1 <= weeks <= 26:
        errors["weeks"] = N_("entre 1 et 26 semaines")
    if errors:
        raise InvalidInput(N_("modèle de webinaires invalide"), errors)
    template = webinar_template(session) or CrisisWebinarTemplate(title=title, pattern=pattern)
    template.title = title
    template.pattern = pattern.strip()
    template.description = description.strip()
    template.duration_minutes = duration_minutes
    template.capacity = capacity
    template.weeks = weeks
    template.updated_at = utcnow()
    session.add(template)
    session.flush()
    return template


@dataclass
class SwitchResult:
    switch: CrisisSwitch
    mails: int
    webinars: int


def _staff(session: Session) -> list[User]:
    return list(
        session.scalars(
            select(User)
            .where(
                col(User.is_active).is_(True),
                col(User.role).in_([Role.teacher, Role.referent, Role.elearning]),
            )
            .order_by(col(User.id))
        )
    )


def switch(
    session: Session,
    *,
    active: bool,
    actor: User | None,
    actor_label: str = "",
    message: str = "",
    announce_teams: bool = True,
    announce_mail: bool = False,
    create_webinars: bool = False,
    base_url: str = "",
) -> SwitchResult:
    """Turn crisis mode on or off, announce it, log it. `actor` None means the CLI."""
    if actor is not None:
        require_role(actor, *TEAM)
    message = message.strip()
    if active and not message:
        raise InvalidInput(
            N_("un message est obligatoire"), {"message": N_("le bandeau a besoin d'un message")}
        )
    if len(message) > MAX_MESSAGE:
        raise InvalidInput(N_("message trop long"), {"message": N_("500 caractères au plus")})
    set_crisis(session, active=active, message=message, actor=actor)

    subject = (
        f"Mode crise activé : {outbox.one_line(message, 120)}" if active else "Fin du mode crise"
    )
    text = (
        f"{message}\n\nToutes les ressources : {base_url or ''}/"
        if active
        else "Le hub revient à son fonctionnement habituel."
    )
    html = f"<p><strong>{escape(subject)}</strong></p><p>{escape(message)}</p>"
    if announce_teams:
        outbox.enqueue_teams(
            session,
            recipient=outbox.TEAMS_CRISIS,
            subject=subject,
            html=html,
            text=text,
            kind="crisis.on" if active else "crisis.off",
            link="/",
        )
    mails = 0
    if announce_mail:
        for person in _staff(session):
            if outbox.valid_address(person.email):
                outbox.enqueue_user_mail(
                    session, person, subject=subject, text=text, kind="crisis.announce", link="/"
                )
                mails += 1
    webinars = 0
    if active and create_webinars:
        webinars = _create_webinars(session, actor)
    entry = CrisisSwitch(
        active=active,
        message=message,
        actor_id=actor.id if actor else None,
        actor_label=actor.name if actor else (actor_label or "cli"),
        announced_teams=announce_teams,
        announced_mail=mails,
        webinars_created=webinars,
    )
    session.add(entry)
    session.flush()
    # Once committed, this process shows the new banner at once, cached pages included
    # (everything that depends on it); other processes within BANNER_TTL_SECONDS.
    event.listen(session, "after_commit", _banner_changed, once=True)
    return SwitchResult(entry, mails, webinars)


def _banner_changed(_session: Session) -> None:
    changed(BANNER)


def _create_webinars(session: Session, actor: User | None) -> int:
    """The saved series, from today for the template's number of weeks."""
    template = webinar_template(session)
    if template is None:
        raise InvalidInput(
            N_("aucun modèle de webinaires enregistré"),
            {"create_webinars": N_("enregistrez d'abord le modèle de la série")},
        )
    if actor is None:
        raise InvalidInput(
            N_("créer les webinaires demande un membre de l'équipe e-learning"),
            {"create_webinars": N_("indiquez qui organise (hub crisis on --by EMAIL)")},
        )
    from webinars.series import create_series

    today = local_day()
    _, sessions = create_series(
        session,
        actor=actor,
        title=template.title,
        description=template.description,
        pattern=template.pattern,
        starts_on=today,
        ends_on=today + timedelta(days=7 * template.weeks - 1),
        duration_minutes=template.duration_minutes,
        capacity=template.capacity,
    )
    return len(sessions)


def send_test_announcement(session: Session, *, actor: User) -> None:
    """For the readiness check: a Teams post and an e-mail to the actor, marked as a test."""
    require_role(actor, *TEAM)
    subject = "Test d'annonce du hub de crise"
    text = "Message de test : si vous le lisez, les annonces de crise arriveront."
    outbox.enqueue_teams(
        session,
        recipient=outbox.TEAMS_CRISIS,
        subject=subject,
        html=f"<p>{escape(text)}</p>",
        text=text,
        kind="crisis.test",
    )
    outbox.enqueue_user_mail(session, actor, subject=subject, text=text, kind="crisis.test")
