"""Every message the question loop sends, through the outbox, in the caller's transaction.

New question: mail to the department's referents who answer right now (backups when the
main referents are away; the central team when nobody is there) and a post in the
department's Teams channel. Answer: mail to the asker and every asker of merged duplicates.
Escalation: mail to the e-learning team and a post in the crisis channel. Each has a
`dedupe_key`, so a retried transaction or a second sweep never sends it twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from sqlmodel import Session, select

from hub import outbox
from hub.models import Department, User, id_of
from hub.questions.models import Question
from hub.questions.queues import elearning_team, responders_by_department


def question_path(question_id: int) -> str:
    return f"/questions/{question_id}"


def absolute(base_url: str, path: str) -> str:
    """A link for a message leaving the hub: the hub's public address (HUB_BASE_URL, handed
    down by the caller from the app's settings) and the path."""
    return f"{base_url.rstrip('/')}{path}" if base_url else path


def _mail(
    session: Session,
    *,
    to: str,
    user_id: int | None,
    subject: str,
    text: str,
    kind: str,
    link: str,
    key: str,
) -> None:
    outbox.enqueue_mail(
        session,
        to=to,
        user_id=user_id,
        subject=subject,
        text=text,
        kind=kind,
        link=link,
        dedupe_key=key[:200],
    )


def _teams(
    session: Session, *, recipient: str, subject: str, text: str, kind: str, link: str, key: str
) -> None:
    html = "<p>" + "<br>".join(escape(line) for line in text.splitlines()) + "</p>"
    outbox.enqueue_teams(
        session,
        recipient=recipient,
        subject=subject,
        html=html,
        text=text,
        kind=kind,
        link=link,
        dedupe_key=key[:200],
    )


def new_question(session: Session, question: Question, *, base_url: str) -> None:
    qid = id_of(question)
    department = session.get(Department, question.department_id)
    code = department.code if department else "?"
    responders = responders_by_department(session, [question.department_id]).get(
        question.department_id, []
    ) or list(elearning_team(session))
    urgent = "URGENT · " if question.priority == "urgent" else ""
    subject = f"{urgent}[{code}] Nouvelle question : {question.title}"
    link = question_path(qid)
    text = (
        f"{question.asker_name} a posé une question au département {code} :\n\n"
        f"{question.title}\n\n{question.body[:1500]}\n\n"
        f"Répondre : {absolute(base_url, link)}\n"
    )
    for user in responders:
        _mail(
            session,
            to=user.email,
            user_id=user.id,
            subject=subject,
            text=text,
            kind="question.new",
            link=link,
            key=f"question.new:{qid}:{user.id}",
        )
    _teams(
        session,
        recipient=outbox.teams_department(question.department_id),
        subject=subject,
        text=f"{urgent}{question.title}\n{absolute(base_url, link)}",
        kind="question.new",
        link=link,
        key=f"question.new.teams:{qid}",
    )


def answered(
    session: Session,
    question: Question,
    message_id: int,
    body: str,
    askers: Sequence[tuple[str, str, int | None]],
    *,
    base_url: str,
) -> None:
    link = question_path(id_of(question))
    subject = f"Réponse à votre question : {question.title}"
    for name, email, user_id in askers:
        text = (
            f"Bonjour {name},\n\nVotre question « {question.title} » a reçu une réponse :\n\n"
            f"{body}\n\n"
        )
        if user_id is not None:
            text += (
                f"Lire la réponse, répondre ou dire si c'est résolu : {absolute(base_url, link)}\n"
            )
        else:
            text += "Si le problème persiste, répondez à l'adresse de contact de l'examen.\n"
        if not outbox.valid_address(email):
            continue
        _mail(
            session,
            to=email,
            user_id=user_id,
            subject=subject,
            text=text,
            kind="question.answer",
            link=link,
            key=f"question.answer:{message_id}:{email}",
        )


def merged(session: Session, duplicate: Question, into: Question, *, base_url: str) -> None:
    if duplicate.asker_email and outbox.valid_address(duplicate.asker_email):
        link = question_path(id_of(duplicate))
        _mail(
            session,
            to=duplicate.asker_email,
            user_id=duplicate.asker_id,
            subject=f"Votre question est suivie avec une question semblable : {duplicate.title}",
            text=(
                f"Bonjour {duplicate.asker_name},\n\nVotre question « {duplicate.title} » "
                "ressemble à une question déjà posée : elles sont traitées ensemble et vous "
                "recevrez la réponse par e-mail.\n\n" + absolute(base_url, link) + "\n"
            ),
            kind="question.merged",
            link=link,
            key=f"question.merged:{id_of(duplicate)}:{id_of(into)}",
        )


def assigned(
    session: Session, question: Question, assignee: User, actor: User, *, base_url: str
) -> None:
    link = question_path(id_of(question))
    _mail(
        session,
        to=assignee.email,
        user_id=assignee.id,
        subject=f"Question confiée à vous : {question.title}",
        text=(
            f"{actor.name} vous a confié la question « {question.title} ».\n\n"
            f"{absolute(base_url, link)}\n"
        ),
        kind="question.assigned",
        link=link,
        key=f"question.assigned:{id_of(question)}:{assignee.id}:{question.last_activity_at.isoformat()}",
    )


def follow_up(
    session: Session, question: Question, assignee: User | None, *, base_url: str
) -> None:
    if assignee is None:
        return
    link = question_path(id_of(question))
    _mail(
        session,
        to=assignee.email,
        user_id=assignee.id,
        subject=f"Nouvelle réponse de {question.asker_name} : {question.title}",
        text=(
            f"{question.asker_name} a répondu à la question « {question.title} ».\n\n"
            f"{absolute(base_url, link)}\n"
        ),
        kind="question.follow_up",
        link=link,
        key=f"question.follow_up:{id_of(question)}:{question.last_activity_at.isoformat()}",
    )


def escalated(
    session: Session,
    escalations: Sequence[tuple[Question, str]],
    *,
    level: int,
    key: str,
    base_url: str,
) -> None:
    """One mail per team member and one crisis-channel post for a batch of escalations (a
    sweep that escalates 40 questions sends one message, not 40)."""
    if not escalations:
        return
    codes = dict(session.exec(select(Department.id, Department.code)).all())
    lines = [
        f"- [{codes.get(q.department_id, '?')}] #{q.id} {q.title} — {reason}\n"
        f"  {absolute(base_url, question_path(id_of(q)))}"
        for q, reason in escalations
    ]
    count = len(escalations)
    if level == 1:
        subject = (
            f"Question transmise à l'équipe e-learning : {escalations[0][0].title}"
            if count == 1
            else f"{count} questions transmises à l'équipe e-learning"
        )
    else:
        subject = (
            f"Délai de l'équipe e-learning dépassé : {escalations[0][0].title}"
            if count == 1
            else f"{count} questions attendent l'équipe e-learning au-delà du délai"
        )
    text = subject + "\n\n" + "\n".join(lines) + "\n"
    link = "/queues/elearning" if count > 1 else question_path(id_of(escalations[0][0]))
    for user in elearning_team(session):
        _mail(
            session,
            to=user.email,
            user_id=user.id,
            subject=subject,
            text=text,
            kind=f"question.escalated.{level}",
            link=link,
            key=f"{key}:{user.id}",
        )
    _teams(
        session,
        recipient=outbox.TEAMS_CRISIS,
        subject=subject,
        text=text,
        kind=f"question.escalated.{level}",
        link=link,
        key=f"{key}:teams",
    )


def digest(
    session: Session,
    user: User,
    lines: Sequence[str],
    *,
    total: int,
    key: str,
    link: str,
    base_url: str,
) -> None:
    subject = f"{total} question(s) en attente de réponse"
    text = (
        f"Bonjour {user.name},\n\nCes questions attendent toujours une réponse :\n\n"
        + "\n".join(lines)
        + f"\n\nOuvrir la file : {absolute(base_url, link)}\n"
    )
    _mail(
        session,
        to=user.email,
        user_id=user.id,
        subject=subject,
        text=text,
        kind="question.digest",
        link=link,
        key=key,
    )
