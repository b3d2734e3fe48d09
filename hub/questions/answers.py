"""Working on a question: public answers and internal notes, the asker's follow-ups,
resolved / still stuck (reopens), claim and assign, tags and priority; and what each
reader sees of a question."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import delete, update
from sqlmodel import Session, col, select

from hub.errors import Conflict, InvalidInput, PermissionDenied
from hub.i18n import N_
from hub.models import Role, User, id_of, utcnow
from hub.people import served_department_ids
from hub.questions import attachments, audit, notify
from hub.questions.models import (
    Escalation,
    MessageKind,
    Priority,
    Question,
    QuestionAttachment,
    QuestionEvent,
    QuestionMessage,
    QuestionStatus,
    QuestionTag,
)
from hub.questions.queues import is_staff_for, open_for_staff, open_question, tags_of
from kb import phrasings

MESSAGE_MAX = 10_000
MAX_TAGS = 10
TAG = re.compile(r"^[\w][\w .'+-]{0,39}$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _text(body: str) -> str:
    body = body.replace("\r\n", "\n").strip()
    if not body or len(body) > MESSAGE_MAX:
        raise InvalidInput(
            N_("Message vide ou trop long."),
            {"body": N_("Écrivez un message (10 000 caractères au plus).")},
        )
    if _CONTROL.search(body):
        raise InvalidInput(
            N_("Caractères de contrôle interdits."),
            {"body": N_("Caractères de contrôle interdits.")},
        )
    return body


def askers(session: Session, question: Question) -> list[tuple[str, str, int | None]]:
    """(name, e-mail, user id) of the asker and of every question merged into this one."""
    rows = [question] + list(
        session.exec(select(Question).where(Question.merged_into_id == question.id)).all()
    )
    seen: dict[str, tuple[str, str, int | None]] = {}
    for row in rows:
        key = row.asker_email.lower()
        if key and key not in seen:
            seen[key] = (row.asker_name, row.asker_email, row.asker_id)
    return list(seen.values())


def _touch(question: Question) -> None:
    question.last_activity_at = utcnow()


def answer(
    session: Session,
    *,
    actor: User | None,
    question_id: int,
    body: str,
    internal: bool = False,
    uploads: Sequence[attachments.Upload] = (),
    data_dir: Path,
    base_url: str,
) -> QuestionMessage:
    """A public answer (sent to every asker; stops the running clock) or an internal note
    (staff only, never shown nor sent to the asker)."""
    question = open_for_staff(session, actor=actor, question_id=question_id)
    assert actor is not None
    body = _text(body)
    files = attachments.check_uploads(uploads)
    if question.status == QuestionStatus.merged.value and not internal:
        raise Conflict(N_("Cette question a été fusionnée : répondez à la question principale."))
    now = utcnow()
    message = QuestionMessage(
        question_id=id_of(question),
        kind=(MessageKind.note if internal else MessageKind.answer).value,
        author_id=actor.id,
        author_name=actor.name,
        body=body,
        created_at=now,
    )
    session.add(message)
    session.flush()
    if files:
        attachments.store(
            session,
            question_id=id_of(question),
            message_id=id_of(message),
            files=files,
            actor=actor,
            data_dir=data_dir,
        )
    if internal:
        audit.record(session, id_of(question), actor, "note")
    else:
        if question.first_response_at is None:
            question.first_response_at = now  # the referent's clock stops
        session.execute(  # the central team's clock stops at the first answer after escalation
            update(Escalation)
            .where(
                col(Escalation.question_id) == question.id,
                col(Escalation.answered_at).is_(None),
            )
            .values(answered_at=now)
        )
        if question.status != QuestionStatus.resolved.value:
            question.status = QuestionStatus.answered.value
        if question.assignee_id is None:
            question.assignee_id = actor.id
        audit.record(session, id_of(question), actor, "answered")
        # An answer pointing to articles: the question's words may be theirs too.
        phrasings.propose_from_answer(
            session, body=body, title=question.title, question_id=id_of(question)
        )
        notify.answered(
            session,
            question,
            id_of(message),
            body,
            askers(session, question),
            base_url=base_url,
        )
    _touch(question)
    session.add(question)
    session.flush()
    return message


def reply(
    session: Session, *, actor: User | None, question_id: int, body: str, base_url: str
) -> QuestionMessage:
    """The asker's follow-up: the question waits for the department again."""
    question = open_question(session, actor=actor, question_id=question_id)
    assert actor is not None
    if question.asker_id != actor.id:
        raise PermissionDenied(
            N_("Seule la personne qui a posé la question peut y répondre ainsi.")
        )
    if question.status == QuestionStatus.merged.value:
        raise Conflict(
            N_("Cette question est suivie avec une autre : la réponse vous sera envoyée.")
        )
    body = _text(body)
    message = QuestionMessage(
        question_id=id_of(question),
        kind=MessageKind.reply.value,
        author_id=actor.id,
        author_name=actor.name,
        body=body,
    )
    session.add(message)
    if question.status == QuestionStatus.answered.value:
        question.status = QuestionStatus.open.value
    _touch(question)
    session.add(question)
    audit.record(session, id_of(question), actor, "replied")
    session.flush()
    notify.follow_up(
        session,
        question,
        session.get(User, question.assignee_id) if question.assignee_id else None,
        base_url=base_url,
    )
    return message


def resolve(session: Session, *, actor: User | None, question_id: int) -> Question:
    """ "Resolved": by the asker, or closed by staff."""
    question = open_question(session, actor=actor, question_id=question_id)
    assert actor is not None
    if question.asker_id != actor.id and not is_staff_for(session, actor, question):
        raise PermissionDenied(N_("Vous ne pouvez pas clore cette question."))
    if question.status == QuestionStatus.merged.value:
        raise Conflict(N_("Cette question est suivie avec une autre."))
    if question.status != QuestionStatus.resolved.value:
        question.status = QuestionStatus.resolved.value
        question.resolved_at = utcnow()
        _touch(question)
        session.add(question)
        audit.record(session, id_of(question), actor, "resolved")
        session.flush()
    return question


def reopen(
    session: Session, *, actor: User | None, question_id: int, body: str = "", base_url: str
) -> Question:
    """ "Still stuck": the asker reopens; the referent's first-response clock starts again."""
    question = open_question(session, actor=actor, question_id=question_id)
    assert actor is not None
    if question.asker_id != actor.id and not is_staff_for(session, actor, question):
        raise PermissionDenied(N_("Vous ne pouvez pas rouvrir cette question."))
    if question.status == QuestionStatus.merged.value:
        raise Conflict(N_("Cette question est suivie avec une autre."))
    if question.status == QuestionStatus.open.value:
        return question
    if body.strip():
        session.add(
            QuestionMessage(
                question_id=id_of(question),
                kind=MessageKind.reply.value,
                author_id=actor.id,
                author_name=actor.name,
                body=_text(body),
            )
        )
    now = utcnow()
    question.status = QuestionStatus.open.value
    question.resolved_at = None
    question.clock_started_at = now
    question.first_response_at = None
    _touch(question)
    session.add(question)
    audit.record(session, id_of(question), actor, "reopened")
    session.flush()
    notify.follow_up(
        session,
        question,
        session.get(User, question.assignee_id) if question.assignee_id else None,
        base_url=base_url,
    )
    return question


def assign(
    session: Session,
    *,
    actor: User | None,
    question_id: int,
    assignee_id: int | None,
    base_url: str,
) -> Question:
    """Claim (assignee = oneself), hand to a colleague serving the department, or release."""
    question = open_for_staff(session, actor=actor, question_id=question_id)
    assert actor is not None
    assignee = None
    if assignee_id is not None:
        assignee = session.get(User, assignee_id)
        if (
            assignee is None
            or not assignee.is_active
            or not is_staff_for(session, assignee, question)
        ):
            raise InvalidInput(
                N_("Cette personne ne sert pas ce département."),
                {"assignee": N_("Choisissez un référent du département ou l'équipe e-learning.")},
            )
    if question.assignee_id == assignee_id:
        return question
    question.assignee_id = assignee_id
    _touch(question)
    session.add(question)
    if assignee is None:
        audit.record(session, id_of(question), actor, "released")
    elif assignee.id == actor.id:
        audit.record(session, id_of(question), actor, "claimed")
    else:
        audit.record(session, id_of(question), actor, "assigned", assignee.name)
        notify.assigned(session, question, assignee, actor, base_url=base_url)
    session.flush()
    return question


def possible_assignees(session: Session, question: Question) -> list[User]:
    from hub.models import DepartmentReferent

    users = session.exec(
        select(User)
        .where(
            col(User.is_active).is_(True),
            (col(User.role) == Role.elearning)
            | col(User.id).in_(
                select(DepartmentReferent.user_id).where(
                    DepartmentReferent.department_id == question.department_id
                )
            ),
        )
        .order_by(col(User.role), col(User.name))
    ).all()
    return list(users)


def parse_tags(text: str) -> list[str]:
    tags = []
    for raw in text.split(","):
        tag = " ".join(raw.strip().lower().split())
        if tag and tag not in tags:
            tags.append(tag)
    return tags


def set_tags(
    session: Session, *, actor: User | None, question_id: int, tags: Sequence[str]
) -> list[str]:
    question = open_for_staff(session, actor=actor, question_id=question_id)
    cleaned = parse_tags(",".join(tags))
    if len(cleaned) > MAX_TAGS or any(not TAG.match(tag) for tag in cleaned):
        raise InvalidInput(
            N_("Mots-clés invalides."),
            {"tags": N_("10 mots-clés au plus, lettres et chiffres, 40 caractères chacun.")},
        )
    before = tags_of(session, id_of(question))
    if before == sorted(cleaned):
        return before
    session.execute(delete(QuestionTag).where(col(QuestionTag.question_id) == question.id))
    for tag in cleaned:
        session.add(QuestionTag(question_id=id_of(question), tag=tag))
    audit.record(session, id_of(question), actor, "tagged", ", ".join(sorted(cleaned)))
    session.flush()
    return sorted(cleaned)


def set_priority(
    session: Session, *, actor: User | None, question_id: int, priority: str
) -> Question:
    question = open_for_staff(session, actor=actor, question_id=question_id)
    if priority not in Priority.__members__:
        raise InvalidInput(N_("Priorité inconnue."), {"priority": N_("Priorité inconnue.")})
    if question.priority != priority:
        question.priority = priority
        session.add(question)
        audit.record(session, id_of(question), actor, "priority", priority)
        session.flush()
    return question


# --- what a reader sees ----------------------------------------------------------------------


@dataclass
class QuestionView:
    question: Question
    staff: bool
    messages: list[QuestionMessage]
    attachments: list[QuestionAttachment]
    tags: list[str]
    merged_into: Question | None = None
    # For the asker of a merged duplicate: the public answers of the question followed.
    followed_answers: list[QuestionMessage] = field(default_factory=list)
    events: Sequence[QuestionEvent] = ()
    escalations: Sequence[Escalation] = ()
    duplicates: list[Question] = field(default_factory=list)


def view_question(session: Session, *, actor: User | None, question_id: int) -> QuestionView:
    question = open_question(session, actor=actor, question_id=question_id)
    assert actor is not None
    staff = is_staff_for(session, actor, question)
    query = select(QuestionMessage).where(QuestionMessage.question_id == question.id)
    if not staff:
        query = query.where(QuestionMessage.kind != MessageKind.note.value)
    messages = list(
        session.exec(query.order_by(col(QuestionMessage.created_at), col(QuestionMessage.id))).all()
    )
    view = QuestionView(
        question=question,
        staff=staff,
        messages=messages,
        attachments=attachments.visible_attachments(
            session, question_id=id_of(question), staff=staff
        ),
        tags=tags_of(session, id_of(question)),
    )
    if question.merged_into_id is not None:
        root = session.get(Question, question.merged_into_id)
        view.merged_into = root if root and (staff and is_staff_for(session, actor, root)) else None
        if root is not None:
            view.followed_answers = list(
                session.exec(
                    select(QuestionMessage)
                    .where(
                        QuestionMessage.question_id == root.id,
                        QuestionMessage.kind == MessageKind.answer.value,
                    )
                    .order_by(col(QuestionMessage.created_at))
                ).all()
            )
    if staff:
        view.events = audit.events_of(session, id_of(question))
        view.escalations = session.exec(
            select(Escalation)
            .where(Escalation.question_id == question.id)
            .order_by(col(Escalation.level))
        ).all()
        view.duplicates = list(
            session.exec(select(Question).where(Question.merged_into_id == question.id)).all()
        )
    return view


def staff_can_see_department(session: Session, actor: User, department_id: int) -> bool:
    return actor.role is Role.elearning or department_id in served_department_ids(session, actor)
