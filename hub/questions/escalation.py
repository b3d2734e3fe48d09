"""Escalation to the central e-learning team: by hand (with a reason) and by the SLA sweep.

Each level happens once per question: the `question_escalation` table has a unique
(question_id, level) constraint, so concurrent sweeps (several workers, a manual escalation
racing the sweep) create one row, and only the transaction that created it announces it.

The sweep (`sweep`) runs every few minutes:
1. Level 1: open questions still without a first answer whose referent clock (started at
   creation, restarted on reopen) used up the first-response target in business hours.
   One cutoff instant is computed (`Schedule.subtract`), so the query is indexed and its cost
   does not depend on the number of open questions.
2. Level 2: escalated questions the central team has not answered within its own target.
3. Reminders: one digest per referent (and per e-learning team member) per period
   (`HUB_QUESTIONS_DIGEST_HOURS`), never outside business hours (quiet hours).
Escalations found in one pass are announced in one message (no storm after an outage).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from sqlalchemy import exists, func, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from hub.db import session_scope
from hub.errors import Conflict, InvalidInput, PermissionDenied
from hub.i18n import N_
from hub.models import Department, Role, User, id_of, utcnow
from hub.questions import audit, notify
from hub.questions.models import Escalation, Question, QuestionStatus
from hub.questions.queues import elearning_team, open_for_staff, responders_by_department
from hub.questions.sla import Profile, profile
from hub.settings import Settings

BATCH = 500  # escalations per level and pass; the next pass takes the rest
REASON_MAX = 1000
T = TypeVar("T")


def escalate(
    session: Session, *, actor: User | None, question_id: int, reason: str, base_url: str
) -> Escalation:
    """A referent passes a question to the central team, saying why."""
    question = open_for_staff(session, actor=actor, question_id=question_id)
    assert actor is not None
    if actor.role is not Role.referent:
        raise PermissionDenied(N_("Seul un référent transmet une question à l'équipe e-learning."))
    reason = reason.strip()
    if not reason or len(reason) > REASON_MAX:
        raise InvalidInput(
            N_("Indiquez pourquoi."),
            {"reason": N_("Expliquez en quelques mots pourquoi (1000 caractères au plus).")},
        )
    if question.status in (QuestionStatus.merged.value, QuestionStatus.resolved.value):
        raise Conflict(N_("Cette question n'est plus ouverte."))
    row = _insert(session, question, level=1, reason=reason, actor=actor, automatic=False)
    if row is None:
        raise Conflict(N_("Cette question a déjà été transmise à l'équipe e-learning."))
    if question.status == QuestionStatus.answered.value:
        question.status = QuestionStatus.open.value
        session.add(question)
        session.flush()
    notify.escalated(
        session,
        [(question, reason)],
        level=1,
        key=f"question.escalated:{question.id}:1",
        base_url=base_url,
    )
    return row


def _insert(
    session: Session,
    question: Question,
    *,
    level: int,
    reason: str,
    actor: User | None,
    automatic: bool,
    now: datetime | None = None,
) -> Escalation | None:
    """Insert the level's row in a savepoint; None if it exists (the database decides)."""
    row = Escalation(
        question_id=id_of(question),
        level=level,
        reason=reason,
        automatic=automatic,
        actor_id=actor.id if actor else None,
        created_at=now or utcnow(),
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        return None
    if level == 1:
        session.execute(
            update(Question)
            .where(col(Question.id) == question.id, col(Question.level) < 1)
            .values(level=1)
        )
        session.refresh(question)
    audit.record(
        session,
        id_of(question),
        actor,
        "escalated" if level == 1 else "central_overdue",
        reason[:500],
    )
    session.flush()
    return row


# --- the sweep ---------------------------------------------------------------------------


@dataclass
class SweepReport:
    crisis: bool = False
    quiet: bool = False  # outside business hours: nothing done
    escalated: list[int] = field(default_factory=list)  # level 1, automatic
    central_overdue: list[int] = field(default_factory=list)  # level 2
    digests: int = 0


def sweep(bind: Engine | Session, now: datetime | None, settings: Settings) -> SweepReport:
    """One pass; give an engine (one transaction per pass) or a session (the caller commits)."""
    now = now or utcnow()
    if isinstance(bind, Session):
        return _sweep(bind, now, settings)
    with session_scope(bind) as session:
        return _sweep(session, now, settings)


def _sweep(session: Session, now: datetime, settings: Settings) -> SweepReport:
    current = profile(session, settings)
    report = SweepReport(crisis=current.crisis)
    if not current.schedule.is_open(now):
        report.quiet = True
        return report
    _level_one(session, now, current, report, settings.base_url)
    _level_two(session, now, current, report, settings.base_url)
    report.digests = _digests(session, now, current, settings)
    return report


def _hours(value: float) -> str:
    return f"{value:g} h ouvrées"


def _level_one(
    session: Session, now: datetime, current: Profile, report: SweepReport, base_url: str
) -> None:
    cutoff = current.schedule.subtract(now, current.referent_hours)
    due = session.exec(
        select(Question)
        .where(
            Question.status == QuestionStatus.open.value,
            Question.level == 0,
            col(Question.first_response_at).is_(None),
            col(Question.clock_started_at) <= cutoff,
        )
        .order_by(col(Question.clock_started_at), col(Question.id))
        .limit(BATCH)
    ).all()
    reason = f"Pas de première réponse dans le délai ({_hours(current.referent_hours)})"
    announced = []
    for question in due:
        if _insert(session, question, level=1, reason=reason, actor=None, automatic=True, now=now):
            report.escalated.append(id_of(question))
            announced.append((question, reason))
    notify.escalated(
        session,
        announced,
        level=1,
        key=_batch_key("auto:1", report.escalated),
        base_url=base_url,
    )


def _level_two(
    session: Session, now: datetime, current: Profile, report: SweepReport, base_url: str
) -> None:
    cutoff = current.schedule.subtract(now, current.central_hours)
    later = aliased(Escalation)
    second = select(later.id).where(later.question_id == Question.id, later.level == 2)
    due = session.exec(
        select(Question)
        .join(Escalation, col(Escalation.question_id) == col(Question.id))
        .where(
            Escalation.level == 1,
            col(Escalation.answered_at).is_(None),
            col(Escalation.created_at) <= cutoff,
            Question.status == QuestionStatus.open.value,
            ~exists(second),
        )
        .order_by(col(Escalation.created_at), col(Question.id))
        .limit(BATCH)
    ).all()
    reason = f"L'équipe e-learning n'a pas répondu dans le délai ({_hours(current.central_hours)})"
    announced = []
    for question in due:
        if _insert(session, question, level=2, reason=reason, actor=None, automatic=True, now=now):
            report.central_overdue.append(id_of(question))
            announced.append((question, reason))
    notify.escalated(
        session,
        announced,
        level=2,
        key=_batch_key("auto:2", report.central_overdue),
        base_url=base_url,
    )


def _batch_key(prefix: str, ids: list[int]) -> str:
    digest = hashlib.sha256(",".join(map(str, sorted(ids))).encode()).hexdigest()[:24]
    return f"question.escalated.{prefix}:{digest}"


def period_key(now: datetime, current: Profile, hours: int) -> str:
    local = now.astimezone(current.schedule.zone)
    return f"{local:%Y-%m-%d}.{local.hour // hours}"


def _digests(session: Session, now: datetime, current: Profile, settings: Settings) -> int:
    """One reminder per person and period, listing the questions waiting for them for at
    least one business hour (a brand-new question already got its own message)."""
    period = period_key(now, current, settings.questions_digest_hours)
    waiting_since = current.schedule.subtract(now, 1.0)
    codes = dict(session.exec(select(Department.id, Department.code)).all())
    rows = session.exec(
        select(
            Question.department_id,
            Question.level,
            func.count(),
            func.min(Question.clock_started_at),
        )
        .where(
            Question.status == QuestionStatus.open.value,
            col(Question.clock_started_at) <= waiting_since,
        )
        .group_by(col(Question.department_id), col(Question.level))
    ).all()
    per_department: dict[int, tuple[int, datetime]] = {}
    central_total = 0
    central_lines = []
    for department_id, level, count, oldest in rows:
        if level == 0:
            per_department[department_id] = (int(count), oldest)
        else:
            central_total += int(count)
            central_lines.append(f"- [{codes.get(department_id, '?')}] {count} transmise(s)")
    sent = 0
    people: dict[int, User] = {}
    mine: dict[int, list[str]] = defaultdict(list)
    totals: dict[int, int] = defaultdict(int)
    responders = responders_by_department(session, list(per_department), now)
    for department_id, (count, oldest) in sorted(per_department.items()):
        waited = current.waited(oldest, now).total_seconds() / 3600
        line = (
            f"- [{codes.get(department_id, '?')}] {count} question(s), "
            f"la plus ancienne attend depuis {waited:.1f} h ouvrées"
        )
        for user in responders.get(department_id, []):
            people[id_of(user)] = user
            mine[id_of(user)].append(line)
            totals[id_of(user)] += count
    for user_id in sorted(mine):
        notify.digest(
            session,
            people[user_id],
            mine[user_id],
            total=totals[user_id],
            key=f"question.digest:{user_id}:{period}",
            link="/queues",
            base_url=settings.base_url,
        )
        sent += 1
    if central_total:
        for user in elearning_team(session):
            notify.digest(
                session,
                user,
                central_lines,
                total=central_total,
                key=f"question.digest:{user.id}:{period}:central",
                link="/queues/elearning",
                base_url=settings.base_url,
            )
            sent += 1
    session.flush()
    return sent
