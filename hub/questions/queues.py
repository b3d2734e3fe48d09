"""Who sees which question (department isolation, in one place), the queues and their filters,
referent absences and who answers for a department right now (backup referents)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from sqlalchemy import ColumnElement, func
from sqlmodel import Session, col, select

from hub.business_hours import BRUSSELS
from hub.errors import InvalidInput, NotFound, PermissionDenied
from hub.i18n import N_
from hub.models import (
    SIGNED_IN,
    SUPPORT,
    TEAM,
    Department,
    DepartmentReferent,
    Role,
    User,
    id_of,
    utcnow,
)
from hub.people import get_department, require_role, served_department_ids
from hub.questions.models import (
    OPEN_STATUSES,
    PRIORITY_ORDER,
    Escalation,
    Priority,
    Question,
    QuestionStatus,
    QuestionTag,
    ReferentAbsence,
)
from hub.questions.sla import Profile
from kb.analyzer import analyze

ELEARNING_QUEUE = "elearning"  # the central team's queue, next to department codes
QUEUE_LIMIT = 200
WAITING_CHOICES = (1, 4, 8, 24, 72)  # "waiting more than" filter, in hours
WAITING_BY_TEXT = {str(hours): hours for hours in WAITING_CHOICES}
STATUS_CHOICES = ("active", "open", "answered", "resolved", "merged", "all")


# --- access ------------------------------------------------------------------------------


def is_staff_for(session: Session, actor: User, question: Question) -> bool:
    if actor.role is Role.elearning:
        return True
    if actor.role is Role.referent:
        return question.department_id in served_department_ids(session, actor)
    return False


def open_question(session: Session, *, actor: User | None, question_id: int) -> Question:
    """A question this person may read: their own, or one of a department they serve (the
    e-learning team: all). Anything else is "not found", so ids reveal nothing."""
    actor = require_role(actor, *SIGNED_IN)
    question = session.get(Question, question_id)
    if question is None:
        raise NotFound(N_("Question introuvable."))
    if question.asker_id is not None and question.asker_id == actor.id:
        return question
    if is_staff_for(session, actor, question):
        return question
    raise NotFound(N_("Question introuvable."))


def open_for_staff(session: Session, *, actor: User | None, question_id: int) -> Question:
    """A question this person handles (referent of its department, e-learning team)."""
    question = open_question(session, actor=actor, question_id=question_id)
    assert actor is not None
    if not is_staff_for(session, actor, question):
        raise PermissionDenied(N_("Seuls les référents et l'équipe e-learning peuvent faire cela."))
    return question


def open_queue_department(session: Session, *, actor: User | None, code: str) -> Department:
    """A department queue: its referents (backups included) and the e-learning team."""
    actor = require_role(actor, *SUPPORT)
    department = get_department(session, code)
    if actor.role is Role.elearning or department.id in served_department_ids(session, actor):
        return department
    raise PermissionDenied(N_("Vous ne servez pas ce département."))


# --- absences and backups ----------------------------------------------------------------


def absent_user_ids(session: Session, now: datetime | None = None) -> set[int]:
    now = now or utcnow()
    return set(
        session.exec(
            select(ReferentAbsence.user_id).where(col(ReferentAbsence.absent_until) > now)
        ).all()
    )


def own_absence(session: Session, actor: User) -> ReferentAbsence | None:
    """A referent's own recorded absence (shown on their queue page); None for others."""
    return session.get(ReferentAbsence, actor.id) if actor.role is Role.referent else None


def current_absences(session: Session, now: datetime | None = None) -> dict[int, datetime]:
    """When each referent away right now comes back (user id -> end of the absence)."""
    now = now or utcnow()
    rows = session.exec(
        select(ReferentAbsence).where(col(ReferentAbsence.absent_until) > now)
    ).all()
    return {row.user_id: row.absent_until for row in rows}


def absence_end(text: str) -> datetime | None:
    """The end of an absence typed as a date ("AAAA-MM-JJ", that day included): 23:59 on that
    day, college time. Empty: no absence (back)."""
    text = text.strip()
    if not text:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(
            N_("Date invalide (AAAA-MM-JJ)."), {"until": N_("Date invalide (AAAA-MM-JJ).")}
        ) from None
    return datetime.combine(day, time(23, 59), BRUSSELS)


def set_absence(
    session: Session, *, actor: User, user: User, until: datetime | None
) -> ReferentAbsence | None:
    """A referent marks themself absent until a date (None: back); the e-learning team may do
    it for any referent. While every main referent of a department is away, its backup
    referents get its questions in their queue and its notifications."""
    require_role(actor, *SUPPORT)
    if actor.role is not Role.elearning and actor.id != user.id:
        raise PermissionDenied(N_("Vous ne pouvez changer que votre propre absence."))
    if user.role is not Role.referent:
        raise InvalidInput(N_("Seul un référent peut être marqué absent."))
    row = session.get(ReferentAbsence, id_of(user))
    if until is None or until <= utcnow():
        if row is not None:
            session.delete(row)
            session.flush()
        return None
    if until - utcnow() > timedelta(days=366):
        raise InvalidInput(N_("Une absence dure un an au plus."), {"until": N_("Date trop loin.")})
    if row is None:
        row = ReferentAbsence(user_id=id_of(user), absent_until=until, set_by_id=actor.id)
    else:
        row.absent_until = until
        row.set_by_id = actor.id
    session.add(row)
    session.flush()
    return row


def responders_by_department(
    session: Session, department_ids: Sequence[int] | None = None, now: datetime | None = None
) -> dict[int, list[User]]:
    """Who answers each department right now: its main referents who are present; if none,
    its backup referents who are present. (Empty: nobody; callers fall back to the central
    team.)"""
    absent = absent_user_ids(session, now)
    query = (
        select(DepartmentReferent.department_id, DepartmentReferent.is_backup, User)
        .join(User, col(User.id) == col(DepartmentReferent.user_id))
        .where(col(User.is_active).is_(True))
    )
    if department_ids is not None:
        query = query.where(col(DepartmentReferent.department_id).in_(list(department_ids)))
    mains: dict[int, list[User]] = {}
    backups: dict[int, list[User]] = {}
    for department_id, is_backup, user in session.exec(query).all():
        if user.id in absent:
            continue
        (backups if is_backup else mains).setdefault(department_id, []).append(user)
    result = {}
    for department_id in set(mains) | set(backups):
        result[department_id] = mains.get(department_id) or backups.get(department_id, [])
    return result


def elearning_team(session: Session) -> Sequence[User]:
    return session.exec(
        select(User)
        .where(User.role == Role.elearning, col(User.is_active).is_(True))
        .order_by(col(User.id))
    ).all()


def combined_department_ids(session: Session, actor: User, now: datetime | None = None) -> set[int]:
    """The departments on a referent's combined queue: those they serve as a main referent,
    and those they back up while every main referent there is away."""
    if actor.role is Role.elearning:
        return served_department_ids(session, actor)
    links = session.exec(
        select(DepartmentReferent.department_id, DepartmentReferent.is_backup).where(
            DepartmentReferent.user_id == actor.id
        )
    ).all()
    ids = {department_id for department_id, is_backup in links if not is_backup}
    backed_up = [department_id for department_id, is_backup in links if is_backup]
    if backed_up:
        responders = responders_by_department(session, backed_up, now)
        ids |= {d for d in backed_up if any(u.id == actor.id for u in responders.get(d, []))}
    return ids


# --- queues --------------------------------------------------------------------------------


@dataclass
class QueueFilters:
    status: str = "active"  # active = open or answered
    priority: str = ""
    waiting_hours: int = 0  # only questions waiting longer than this (0: all)
    tag: str = ""
    assigned: str = ""  # "me", "none" or ""
    q: str = ""  # words of the title or text (the French analyzer)

    @classmethod
    def parse(cls, values: dict[str, str]) -> QueueFilters:
        status = values.get("status", "active")
        priority = values.get("priority", "")
        waiting = values.get("waiting", "")
        return cls(
            status=status if status in STATUS_CHOICES else "active",
            priority=priority if priority in Priority.__members__ else "",
            # A choice, not a number: only the offered values' exact text counts.
            waiting_hours=WAITING_BY_TEXT.get(waiting, 0),
            tag=normalise_tag(values.get("tag", "")),
            assigned=values.get("assigned", "") if values.get("assigned") in ("me", "none") else "",
            q=values.get("q", "")[:200],
        )


@dataclass
class QueueRow:
    question: Question
    department_code: str
    tags: list[str] = field(default_factory=list)
    assignee_name: str | None = None
    waited: timedelta = timedelta(0)  # business time since the clock started
    due_at: datetime | None = None  # the running clock's deadline (None: no clock running)
    overdue: bool = False


def normalise_tag(tag: str) -> str:
    return " ".join(tag.strip().lower().split())[:40]


def _conditions(filters: QueueFilters, actor: User, now: datetime) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if filters.status == "active":
        conditions.append(col(Question.status).in_(OPEN_STATUSES))
    elif filters.status != "all":
        conditions.append(col(Question.status) == filters.status)
    if filters.priority:
        conditions.append(col(Question.priority) == filters.priority)
    if filters.waiting_hours:
        conditions.append(
            col(Question.clock_started_at) <= now - timedelta(hours=filters.waiting_hours)
        )
        conditions.append(col(Question.status) == QuestionStatus.open.value)
    if filters.tag:
        tagged = select(QuestionTag.question_id).where(QuestionTag.tag == filters.tag)
        conditions.append(col(Question.id).in_(tagged))
    if filters.assigned == "me":
        conditions.append(col(Question.assignee_id) == actor.id)
    elif filters.assigned == "none":
        conditions.append(col(Question.assignee_id).is_(None))
    for term in analyze(filters.q)[:8]:
        conditions.append(col(Question.search_text).contains(term))
    return conditions


def _rows(
    session: Session,
    questions: Sequence[Question],
    profile: Profile,
    now: datetime,
) -> list[QueueRow]:
    if not questions:
        return []
    ids = [id_of(q) for q in questions]
    codes = dict(session.exec(select(Department.id, Department.code)).all())
    tags: dict[int, list[str]] = {}
    for question_id, tag in session.exec(
        select(QuestionTag.question_id, QuestionTag.tag)
        .where(col(QuestionTag.question_id).in_(ids))
        .order_by(col(QuestionTag.tag))
    ).all():
        tags.setdefault(question_id, []).append(tag)
    assignee_ids = {q.assignee_id for q in questions if q.assignee_id}
    names = (
        dict(session.exec(select(User.id, User.name).where(col(User.id).in_(assignee_ids))).all())
        if assignee_ids
        else {}
    )
    escalated = dict(
        session.exec(
            select(Escalation.question_id, Escalation.created_at).where(
                col(Escalation.question_id).in_(ids),
                Escalation.level == 1,
                col(Escalation.answered_at).is_(None),
            )
        ).all()
    )
    rows = []
    for q in questions:
        row = QueueRow(
            question=q,
            department_code=codes.get(q.department_id, "?"),
            tags=tags.get(id_of(q), []),
            assignee_name=names.get(q.assignee_id) if q.assignee_id else None,
        )
        if q.status == QuestionStatus.open.value:
            row.waited = profile.waited(q.clock_started_at, now)
            if q.id in escalated:
                row.due_at = profile.central_due(escalated[id_of(q)])
            elif q.first_response_at is None and q.level == 0:
                row.due_at = profile.referent_due(q.clock_started_at)
            row.overdue = row.due_at is not None and row.due_at <= now
        rows.append(row)
    return rows


def _sorted(query_rows: Sequence[Question]) -> list[Question]:
    """Urgent first, then the longest waiting."""
    return sorted(
        query_rows,
        key=lambda q: (
            q.status != QuestionStatus.open.value,
            PRIORITY_ORDER.get(q.priority, 9),
            q.clock_started_at,
        ),
    )


def list_queue(
    session: Session,
    *,
    actor: User | None,
    department_ids: set[int] | None,
    filters: QueueFilters,
    profile: Profile,
    escalated_only: bool = False,
    now: datetime | None = None,
) -> list[QueueRow]:
    """Questions of the given departments (None: all, e-learning team only), filtered."""
    actor = require_role(actor, *SUPPORT)
    now = now or utcnow()
    if department_ids is None:
        require_role(actor, *TEAM)
    else:
        allowed = served_department_ids(session, actor)
        if not department_ids <= allowed:  # the service checks too, not only the routes
            raise PermissionDenied(N_("Vous ne servez pas ce département."))
    query = select(Question).where(*_conditions(filters, actor, now))
    if department_ids is not None:
        if not department_ids:
            return []
        query = query.where(col(Question.department_id).in_(department_ids))
    if escalated_only:
        query = query.where(col(Question.level) >= 1)
    query = query.order_by(col(Question.clock_started_at)).limit(QUEUE_LIMIT * 5)
    questions = _sorted(session.exec(query).all())[:QUEUE_LIMIT]
    return _rows(session, questions, profile, now)


def department_queue(
    session: Session, *, actor: User | None, code: str, filters: QueueFilters, profile: Profile
) -> tuple[Department, list[QueueRow]]:
    department = open_queue_department(session, actor=actor, code=code)
    rows = list_queue(
        session,
        actor=actor,
        department_ids={id_of(department)},
        filters=filters,
        profile=profile,
    )
    return department, rows


def combined_queue(
    session: Session, *, actor: User | None, filters: QueueFilters, profile: Profile
) -> list[QueueRow]:
    actor = require_role(actor, *SUPPORT)
    ids = combined_department_ids(session, actor)
    return list_queue(session, actor=actor, department_ids=ids, filters=filters, profile=profile)


def elearning_queue(
    session: Session, *, actor: User | None, filters: QueueFilters, profile: Profile
) -> list[QueueRow]:
    require_role(actor, *TEAM)
    return list_queue(
        session,
        actor=actor,
        department_ids=None,
        filters=filters,
        profile=profile,
        escalated_only=True,
    )


def my_questions(session: Session, *, actor: User | None) -> Sequence[Question]:
    actor = require_role(actor, *SIGNED_IN)
    return session.exec(
        select(Question)
        .where(Question.asker_id == actor.id)
        .order_by(col(Question.created_at).desc())
        .limit(QUEUE_LIMIT)
    ).all()


def escalated_open_count(session: Session) -> int:
    """Open questions escalated to the e-learning team, every department (its home page)."""
    return session.execute(
        select(func.count(col(Question.id))).where(
            col(Question.status) == QuestionStatus.open.value, col(Question.level) >= 1
        )
    ).scalar_one()


def queue_counts(session: Session, department_ids: set[int]) -> dict[int, int]:
    """Open questions per department (the queue index)."""
    if not department_ids:
        return {}
    rows = session.exec(
        select(Question.department_id, func.count())
        .where(
            col(Question.department_id).in_(department_ids),
            Question.status == QuestionStatus.open.value,
        )
        .group_by(col(Question.department_id))
    ).all()
    return {int(department_id): int(count) for department_id, count in rows}


def tags_of(session: Session, question_id: int) -> list[str]:
    return list(
        session.exec(
            select(QuestionTag.tag)
            .where(QuestionTag.question_id == question_id)
            .order_by(col(QuestionTag.tag))
        ).all()
    )
