"""The SLA sweep with a fake clock: automatic escalation in business hours, the central
team's own clock, crisis profile, quiet hours, digests, and once-only under concurrency."""

from __future__ import annotations

import threading
from datetime import datetime

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from hub.crisis.state import crisis_active, set_crisis
from hub.questions import answers, asking, escalation
from hub.questions.models import Escalation, Question
from hub.settings import Settings
from tests.questions.conftest import College, local, mails, posts

MONDAY_9 = local(2026, 3, 2, 9, 0)


def asked_at(
    db: Session,
    settings: Settings,
    college: College,
    when: datetime,
    title: str = "Moodle ne charge plus",
) -> Question:
    question = asking.ask(
        db,
        actor=college.teacher,
        title=title,
        body="La page reste blanche.",
        data_dir=settings.data_dir,
        base_url=settings.base_url,
    )
    question.clock_started_at = question.created_at = when
    db.add(question)
    db.commit()
    return question


def levels(db: Session, question: Question) -> list[int]:
    db.commit()  # a new transaction: see what other sessions committed
    db.expire_all()
    return [
        e.level
        for e in db.exec(
            select(Escalation)
            .where(Escalation.question_id == question.id)
            .order_by(Escalation.level)
        ).all()
    ]


def test_first_response_target_in_business_hours(
    db: Session, engine: Engine, settings: Settings, college: College
) -> None:
    question = asked_at(db, settings, college, MONDAY_9)  # target 8 business hours: Mon 17:00
    assert escalation.sweep(engine, local(2026, 3, 2, 16, 59), settings).escalated == []
    report = escalation.sweep(engine, local(2026, 3, 2, 17, 1), settings)
    assert report.escalated == [question.id]
    assert levels(db, question) == [1]
    db.refresh(question)
    assert question.level == 1
    assert len(mails(db, "question.escalated.1")) == 1
    assert [p.recipient for p in posts(db, "question.escalated.1")] == ["crisis"]
    # Later sweeps do not escalate again, nor announce again.
    assert escalation.sweep(engine, local(2026, 3, 2, 17, 20), settings).escalated == []
    assert len(mails(db, "question.escalated.1")) == 1

    # The central team's clock starts at the escalation (Mon 17:01): 8 h -> Tue 16:31.
    assert escalation.sweep(engine, local(2026, 3, 3, 16, 0), settings).central_overdue == []
    assert escalation.sweep(engine, local(2026, 3, 3, 16, 40), settings).central_overdue == [
        question.id
    ]
    assert levels(db, question) == [1, 2]
    assert len(mails(db, "question.escalated.2")) == 1


def test_an_answer_stops_the_clocks(
    db: Session, engine: Engine, settings: Settings, college: College
) -> None:
    answered = asked_at(db, settings, college, MONDAY_9)
    answers.answer(
        db,
        actor=college.referent,
        question_id=answered.id,
        body="Voici la marche à suivre.",
        data_dir=settings.data_dir,
        base_url=settings.base_url,
    )
    db.commit()
    assert escalation.sweep(engine, local(2026, 3, 4, 12, 0), settings).escalated == []
    # A reopened question gets a new first-response clock.
    answers.reopen(db, actor=college.teacher, question_id=answered.id, base_url=settings.base_url)
    db.commit()
    reopened = db.get(Question, answered.id)
    assert reopened is not None
    reopened.clock_started_at = local(2026, 3, 4, 9, 0)
    db.add(reopened)
    db.commit()
    assert escalation.sweep(engine, local(2026, 3, 4, 16, 0), settings).escalated == []
    assert escalation.sweep(engine, local(2026, 3, 4, 17, 10), settings).escalated == [answered.id]


def test_weekends_holidays_and_quiet_hours(
    db: Session, engine: Engine, make_settings, database_url: str, college: College
) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(database_url=database_url, holidays="2026-03-09")
    friday = asked_at(db, settings, college, local(2026, 3, 6, 15, 0))  # 2.5 h on Friday
    report = escalation.sweep(engine, local(2026, 3, 7, 12, 0), settings)  # Saturday
    assert report.quiet and report.escalated == [] and report.digests == 0
    # Monday is a holiday: still quiet. Tuesday: 5.5 h more -> due 14:00.
    assert escalation.sweep(engine, local(2026, 3, 9, 12, 0), settings).quiet
    assert escalation.sweep(engine, local(2026, 3, 10, 13, 50), settings).escalated == []
    assert escalation.sweep(engine, local(2026, 3, 10, 14, 5), settings).escalated == [friday.id]


def test_crisis_profile_is_stricter(
    db: Session, engine: Engine, settings: Settings, college: College
) -> None:
    question = asked_at(db, settings, college, MONDAY_9)
    assert escalation.sweep(engine, local(2026, 3, 2, 11, 30), settings).escalated == []
    set_crisis(db, active=True, message="Bascule à distance", actor=college.elearning)
    db.commit()
    assert crisis_active(db)
    report = escalation.sweep(engine, local(2026, 3, 2, 11, 30), settings)  # 2 h target
    assert report.crisis and report.escalated == [question.id]


def test_digests_never_storm(
    db: Session, engine: Engine, settings: Settings, college: College
) -> None:
    for n in range(5):
        asked_at(db, settings, college, MONDAY_9, title=f"Question numéro {n}")
    escalation.sweep(engine, local(2026, 3, 2, 10, 0), settings)
    escalation.sweep(engine, local(2026, 3, 2, 10, 5), settings)
    escalation.sweep(engine, local(2026, 3, 2, 11, 55), settings)  # same 4-hour period
    digests = mails(db, "question.digest")
    assert [m.recipient for m in digests] == [college.referent.email]  # one, for five questions
    assert "5 question(s)" in digests[0].subject
    escalation.sweep(engine, local(2026, 3, 2, 12, 5), settings)  # next period
    assert len(mails(db, "question.digest")) == 2
    escalation.sweep(engine, local(2026, 3, 2, 20, 0), settings)  # quiet hours
    assert len(mails(db, "question.digest")) == 2


@pytest.mark.parametrize("workers", [4])
def test_concurrent_sweeps_escalate_once(
    db: Session, engine: Engine, settings: Settings, college: College, workers: int
) -> None:
    questions = [
        asked_at(db, settings, college, MONDAY_9, title=f"Question concurrente {n}")
        for n in range(3)
    ]
    now = local(2026, 3, 2, 17, 15)
    barrier = threading.Barrier(workers)
    reports = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait()
            reports.append(escalation.sweep(engine, now, settings))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    escalated = sorted(qid for report in reports for qid in report.escalated)
    assert escalated == sorted(q.id for q in questions)  # each once, whoever did it
    for question in questions:
        assert levels(db, question) == [1]
    team_mails = mails(db, "question.escalated.1")
    mentioned = [q.id for q in questions for m in team_mails if f"#{q.id} " in m.body_text]
    assert sorted(mentioned) == sorted(q.id for q in questions)  # one notification each
    assert sum(len(p.body_text.split("\n- ")) for p in posts(db, "question.escalated.1")) >= 1
    assert len(mails(db, "question.digest")) <= 1


def test_manual_escalation_racing_the_sweep(
    db: Session, engine: Engine, settings: Settings, college: College
) -> None:
    question = asked_at(db, settings, college, MONDAY_9)
    escalation.escalate(
        db,
        actor=college.referent,
        question_id=question.id,
        reason="Besoin d'un accès administrateur",
        base_url=settings.base_url,
    )
    db.commit()
    assert escalation.sweep(engine, local(2026, 3, 2, 17, 15), settings).escalated == []
    assert levels(db, question) == [1]
    assert len(mails(db, "question.escalated.1")) == 1
