"""Asking: a teacher's question (with attachments) into their department's queue, a
student's exam problem as an urgent question, and the KB suggestions shown while typing
(deflection: "this solved it" ends the loop without a question)."""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from hub.business_hours import BRUSSELS
from hub.db import begin_write
from hub.errors import InvalidInput, NotFound
from hub.i18n import N_
from hub.models import TEAM, ExamProblem, ExamSession, Role, User, id_of, utcnow
from hub.people import require_role
from hub.questions import attachments, audit, notify
from hub.questions.models import (
    Priority,
    Question,
    QuestionSuggestion,
    Source,
)
from kb import phrasings
from kb.analyzer import analyze, analyzed
from kb.models import Article, PhrasingSource
from kb.search import Result, search

TITLE_MAX = 200
BODY_MAX = 10_000
SUGGESTIONS = 5
DRAFT_KEY = re.compile(r"^[A-Za-z0-9_-]{16,40}$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
ASKERS = (Role.teacher,)


def new_draft_key() -> str:
    """One per "ask a question" form: ties the suggestions shown to what happened next."""
    return secrets.token_urlsafe(18)


def check_text(title: str, body: str) -> tuple[str, str]:
    title, body = " ".join(title.split()), body.replace("\r\n", "\n").strip()
    errors: dict[str, str] = {}
    if len(title) < 5 or len(title) > TITLE_MAX:
        errors["title"] = N_("Un titre de 5 à 200 caractères, qui résume le problème.")
    if not body or len(body) > BODY_MAX:
        errors["body"] = N_("Décrivez le problème (10 000 caractères au plus).")
    if _CONTROL.search(title) or _CONTROL.search(body):
        errors["body"] = N_("Caractères de contrôle interdits.")
    if errors:
        raise InvalidInput(N_("Formulaire incomplet."), errors)
    return title, body


def ask(
    session: Session,
    *,
    actor: User | None,
    title: str,
    body: str,
    uploads: Sequence[attachments.Upload] = (),
    data_dir: Path,
    draft_key: str | None = None,
    source: Source = Source.web,
    base_url: str,
) -> Question:
    """A teacher's question, in their department's queue; referents are notified."""
    actor = require_role(actor, *ASKERS)
    errors: dict[str, str] = {}
    try:
        title, body = check_text(title, body)
    except InvalidInput as exc:
        errors.update(exc.fields)
    try:
        files = attachments.check_uploads(uploads)
    except InvalidInput as exc:
        errors.update(exc.fields)
        files = []
    if actor.department_id is None:
        errors["title"] = N_("Votre compte n'est rattaché à aucun département.")
    if errors:
        raise InvalidInput(N_("Question incomplète."), errors)
    assert actor.department_id is not None
    now = utcnow()
    question = Question(
        department_id=actor.department_id,
        asker_id=actor.id,
        asker_name=actor.name,
        asker_email=actor.email,
        title=title,
        body=body,
        source=source.value,
        draft_key=draft_key if draft_key and DRAFT_KEY.match(draft_key) else None,
        search_text=analyzed(f"{title} {body}"),
        clock_started_at=now,
        last_activity_at=now,
        created_at=now,
    )
    session.add(question)
    session.flush()
    if files:
        attachments.store(
            session,
            question_id=id_of(question),
            message_id=None,
            files=files,
            actor=actor,
            data_dir=data_dir,
        )
    audit.record(session, id_of(question), actor, "created", f"source: {source.value}")
    notify.new_question(session, question, base_url=base_url)
    session.flush()
    return question


def question_from_exam_problem(
    session: Session, problem: ExamProblem, *, base_url: str
) -> Question:
    """A student's "problem during my exam" report becomes an URGENT question in the exam's
    department queue; the student has no account: answers go to the address they gave."""
    exam = session.get(ExamSession, problem.exam_id)
    if exam is None:
        raise NotFound(N_("Examen introuvable."))
    start = exam.starts_at.astimezone(BRUSSELS).strftime("%d/%m/%Y %H:%M")
    title = f"Examen {exam.course_code} : {problem.message}"
    title = " ".join(title.split())
    if len(title) > 120:
        title = title[:119].rstrip() + "…"
    body = (
        f"{problem.message}\n\n"
        f"Examen : {exam.course_code} · {exam.course_name} · {start}\n"
        f"Étudiant : {problem.name} <{problem.email}>"
        + (f" · matricule {problem.student_number}" if problem.student_number else "")
    )
    now = utcnow()
    question = Question(
        department_id=exam.department_id,
        asker_name=problem.name,
        asker_email=problem.email,
        title=title,
        body=body,
        priority=Priority.urgent.value,
        source=Source.exam.value,
        exam_problem_id=problem.id,
        search_text=analyzed(f"{title} {body}"),
        clock_started_at=now,
        last_activity_at=now,
        created_at=now,
    )
    session.add(question)
    session.flush()
    audit.record(session, id_of(question), None, "created", f"source: exam #{problem.id}")
    notify.new_question(session, question, base_url=base_url)
    session.flush()
    return question


# --- suggestions while typing (deflection) ------------------------------------------------


def suggestion_query(title: str, body: str) -> str:
    """The title, completed by the first words of the text when the title is short: the
    search needs every word to match, so a whole paragraph would find nothing."""
    query = " ".join(title.split())
    if len(analyze(query)) < 3:
        extra = []
        for word in body.split():
            extra.append(word)
            if len(analyze(" ".join(extra))) >= 4:
                break
        query = f"{query} {' '.join(extra)}".strip()
    return query[:200]


@dataclass
class Suggestions:
    draft_key: str
    results: list[Result]
    title: str = ""  # what was typed as the title ("this solved it" proposes it as a phrasing)


def suggest(
    session: Session, *, actor: User | None, title: str, body: str, draft_key: str
) -> Suggestions:
    """KB articles matching what is being typed; each one shown is recorded once per form."""
    actor = require_role(actor, *ASKERS)
    if not DRAFT_KEY.match(draft_key):
        draft_key = new_draft_key()
    query = suggestion_query(title, body)
    results = search(session, query, viewer=actor, limit=SUGGESTIONS).results if query else []
    if results:
        # Asked with GET while typing: the rows must exist at once (a click or "this solved
        # it" names them), so they are written in a write transaction, never by upgrading
        # the search's read.
        begin_write(session)
        known = set(
            session.exec(
                select(QuestionSuggestion.article_id).where(
                    QuestionSuggestion.draft_key == draft_key
                )
            ).all()
        )
        for result in results:
            if result.article.id in known:
                continue
            try:
                with session.begin_nested():
                    session.add(
                        QuestionSuggestion(
                            draft_key=draft_key,
                            article_id=id_of(result.article),
                            user_id=actor.id,
                            department_id=actor.department_id,
                        )
                    )
            except IntegrityError:  # the same form's previous keystroke, concurrently
                pass
        session.flush()
    return Suggestions(draft_key=draft_key, results=results, title=title)


def _suggestion(session: Session, actor: User, draft_key: str, slug: str) -> QuestionSuggestion:
    article = session.exec(select(Article).where(Article.slug == slug)).first()
    if article is None or not DRAFT_KEY.match(draft_key):
        raise NotFound(N_("Suggestion introuvable."))
    row = session.exec(
        select(QuestionSuggestion).where(
            QuestionSuggestion.draft_key == draft_key,
            QuestionSuggestion.article_id == article.id,
        )
    ).first()
    if row is None or row.user_id != actor.id:
        raise NotFound(N_("Suggestion introuvable."))
    return row


def record_click(session: Session, *, actor: User | None, draft_key: str, slug: str) -> None:
    """A suggestion opened (a link in the list): recorded once."""
    actor = require_role(actor, *ASKERS)
    begin_write(session)  # a GET (a link): read and write in one write transaction
    try:
        row = _suggestion(session, actor, draft_key, slug)
    except NotFound:
        return  # the article still opens; only the measurement is lost
    if row.clicked_at is None:
        row.clicked_at = utcnow()
        session.add(row)
        session.flush()


def solved_by_suggestion(
    session: Session, *, actor: User | None, draft_key: str, slug: str, title: str = ""
) -> QuestionSuggestion:
    """ "This solved it": the loop closes without a question (a deflection). The title
    being typed is proposed as a phrasing of the article (once per form)."""
    actor = require_role(actor, *ASKERS)
    row = _suggestion(session, actor, draft_key, slug)
    now = utcnow()
    first = row.solved_at is None
    row.clicked_at = row.clicked_at or now
    row.solved_at = row.solved_at or now
    session.add(row)
    session.flush()
    article = session.get(Article, row.article_id)
    if first and title.strip() and article is not None:
        phrasings.propose(session, article=article, text=title, source=PhrasingSource.solved)
    return row


@dataclass
class DeflectionStats:
    forms_with_suggestions: int
    forms_clicked: int
    solved: int  # forms closed by "this solved it"
    asked: int  # questions asked through the form or the API
    asked_after_suggestions: int

    @property
    def rate(self) -> float | None:
        """Solved by a suggestion / (that + questions asked)."""
        total = self.solved + self.asked
        return self.solved / total if total else None


def deflection_stats(
    session: Session, *, actor: User | None, days: int = 30, now: datetime | None = None
) -> DeflectionStats:
    require_role(actor, *TEAM)
    since = (now or utcnow()) - timedelta(days=days)
    forms = func.count(func.distinct(QuestionSuggestion.draft_key))
    base = select(forms).where(col(QuestionSuggestion.shown_at) >= since)
    shown = session.exec(base).one()
    clicked = session.exec(base.where(col(QuestionSuggestion.clicked_at).is_not(None))).one()
    solved = session.exec(base.where(col(QuestionSuggestion.solved_at).is_not(None))).one()
    asked_query = (
        select(func.count())
        .select_from(Question)
        .where(
            col(Question.created_at) >= since,
            col(Question.source).in_([Source.web.value, Source.api.value]),
        )
    )
    asked = session.exec(asked_query).one()
    after = session.exec(
        asked_query.where(
            col(Question.draft_key).in_(
                select(QuestionSuggestion.draft_key).where(
                    col(QuestionSuggestion.shown_at) >= since
                )
            )
        )
    ).one()
    return DeflectionStats(int(shown), int(clicked), int(solved), int(asked), int(after))
