"""A small college with one real object of every kind a route can point at.

Shared by the security tests: the authorization matrix fills path parameters from it, and
the injection tests reuse its people. Everything is made through the hub's own services.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from hub import kind_words
from hub.exams import shortlinks
from hub.exams.timetable import report_problem
from hub.models import ExamSession, Role, User, id_of, utcnow
from hub.outbox import OutboxMessage
from hub.people import assign_referent, get_department
from hub.questions import answers, asking, canned
from hub.questions.attachments import Upload
from hub.settings import Settings
from hub.tokens import create_token
from kb.articles import ArticleInput, save_article
from kb.markdown import checklist_items
from kb.models import PhrasingSource
from kb.phrasings import propose
from kb.synonyms import add_concept, add_synonym
from tests import exam_csv
from tests.factories import make_department, make_user
from tests.questions.conftest import PNG
from webinars import feeds, registration
from webinars import questions as webinar_questions
from webinars.sessions import SessionInput, create_session

PRINCIPALS = ("anonymous", "student", "teacher", "referent_other", "referent", "elearning")
CHECKLIST = "## Avant\n\n- [ ] Vérifier le micro\n- [ ] Ouvrir Moodle\n"


@dataclass
class World:
    """Ids, slugs, codes and secrets of the objects made for the matrix."""

    users: dict[str, User]
    tokens: dict[str, str]  # principal -> API bearer token
    ids: dict[str, object] = field(default_factory=dict)


def build_world(db: Session, settings: Settings) -> World:
    make_department(db, "SCI", "Sciences")
    make_department(db, "LET", "Lettres")
    users = {
        "student": make_user(db, Role.student, departments=["SCI"], name="Sam Étudiant"),
        "teacher": make_user(db, Role.teacher, departments=["SCI"], name="Alice Prof"),
        "referent_other": make_user(db, Role.referent, departments=["LET"], name="Léo Réf LET"),
        "referent": make_user(db, Role.referent, departments=["SCI"], name="Rita Réf SCI"),
        "elearning": make_user(db, Role.elearning, name="Emma E-learning"),
    }
    team, teacher, referent = users["elearning"], users["teacher"], users["referent"]
    data_dir = settings.data_dir

    question = asking.ask(
        db,
        actor=teacher,
        title="Quiz Moodle en panne",
        body="Rien ne s'affiche.",
        uploads=[Upload("capture.png", PNG)],
        data_dir=data_dir,
        base_url=settings.base_url,
    )
    other_question = asking.ask(
        db,
        actor=teacher,
        title="Quiz encore",
        body="Même souci.",
        data_dir=data_dir,
        base_url=settings.base_url,
    )
    answers.answer(
        db,
        actor=referent,
        question_id=id_of(question),
        body="Videz le cache.",
        internal=False,
        data_dir=data_dir,
        base_url=settings.base_url,
    )
    db.commit()
    view = answers.view_question(db, actor=referent, question_id=id_of(question))
    attachment = view.attachments[0].id

    draft, _ = save_article(
        db,
        ArticleInput(
            slug="brouillon-sci",
            title="Brouillon SCI",
            kind="tutorial",
            audience="teacher",
            body="Texte du brouillon.",
            department="SCI",
            status="draft",
        ),
        actor=team,
    )
    checklist, _ = save_article(
        db,
        ArticleInput(
            slug="liste-examen",
            title="Liste avant l'examen",
            kind="checklist",
            audience="teacher",
            body=CHECKLIST,
            status="published",
        ),
        actor=team,
    )
    item_key = checklist_items(CHECKLIST)[0].key
    synonym = add_synonym(db, term="lms", expansion="moodle", actor=team)
    concept = add_concept(db, members="présence\nassiduité", actor=team)
    sci_article, _ = save_article(
        db,
        ArticleInput(
            slug="moodle-sci",
            title="Moodle en sciences",
            kind="guide",
            audience="teacher",
            body="Texte.",
            department="SCI",
            status="published",
        ),
        actor=team,
    )
    proposal = propose(
        db, article=sci_article, text="où est mon cours moodle", source=PhrasingSource.solved
    )
    assert proposal is not None

    webinar = create_session(
        db,
        actor=team,
        data=SessionInput(
            title="Évaluer à distance",
            starts_at=_in_days(3),
            duration_minutes=60,
            capacity=30,
            description="Questions et réponses.",
            join_url="",
        ),
    )
    db.flush()
    registration.register(db, id_of(webinar), actor=teacher, settings=settings)
    webinar_question = webinar_questions.ask(db, id_of(webinar), "Et les quiz ?", actor=teacher)
    feed_token = feeds.regenerate(db, teacher)

    word = kind_words.leave(db, actor=teacher, body="Merci à tous !", share_on_teams=False)
    canned_answer = canned.save_canned(
        db, actor=team, canned_id=None, title="Cache", body="Videz le cache du navigateur."
    )
    token_row, _ = create_token(db, user=teacher, name="to-revoke")
    link = shortlinks.short_link_for(db, "/exams")
    db.commit()
    exam_csv.load(db, [exam_csv.row(starts_at=exam_csv.from_now(days=1))])

    assign_referent(db, department=get_department(db, "SCI"), user=referent, backup=False)
    tokens = {}
    for name, user in users.items():
        _, secret = create_token(db, user=user, name="matrix")
        tokens[name] = secret
    db.commit()

    invite = db.exec(
        select(OutboxMessage)
        .where(OutboxMessage.recipient == teacher.email, OutboxMessage.kind == "webinar.invite")
        .order_by(col(OutboxMessage.id))
    ).first()
    assert invite is not None
    exam = db.exec(select(ExamSession)).first()
    assert exam is not None
    problem = report_problem(
        db,
        exam_id=exam.id or 0,
        name="Léa Étudiante",
        email="lea@etu.college.example",
        student_number="",
        message="Écran noir.",
        address="198.51.100.7",
        base_url=settings.base_url,
    )
    db.commit()
    return World(
        users=users,
        tokens=tokens,
        ids={
            "question_id": question.id,
            "other_question_id": other_question.id,
            "attachment_id": attachment,
            "slug": checklist.slug,
            "draft_slug": draft.slug,
            "item_key": item_key,
            "number": 1,
            "synonym_id": synonym.id,
            "concept_id": concept.id,
            "proposal_id": proposal.id,
            "webinar_id": webinar.id,
            "webinar_question_id": webinar_question.id,
            "token": feed_token,
            "word_id": word.id,
            "canned_id": canned_answer.id,
            "token_id": token_row.id,
            "code": "SCI",
            "department": "SCI",
            "short_code": link.code,
            "kind": "png",
            "message_id": invite.id,
            "exam_id": exam.id,
            "problem_id": problem.id,
            "key": "visits",
            "locale": "fr",
        },
    )


def _in_days(days: int) -> datetime:
    return (utcnow() + timedelta(days=days)).replace(second=0, microsecond=0)


@pytest.fixture
def world(db: Session, settings: Settings) -> World:
    return build_world(db, settings)


def signed_in(client: TestClient, world: World, principal: str) -> None:
    """Sign the principal in through the login form (anonymous: nothing)."""
    from tests.factories import sign_in

    if principal != "anonymous":
        sign_in(client, world.users[principal])
